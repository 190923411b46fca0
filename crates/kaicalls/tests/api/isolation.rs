//! The tenant-isolation sweep: every operation of the committed `openapi.json`, sent
//! by tenant B carrying tenant A's ids wherever an id can go (query parameters and
//! body fields), is refused with 404 or answers without a trace of A; afterwards
//! A's objects are exactly as they were.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{bootstrap_db, Server};

/// What a snapshot of tenant A holds, read with A's own key and session.
async fn snapshot(server: &Server, key: &str, session: &crate::harness::Session) -> Value {
    let mut out = serde_json::Map::new();
    for path in [
        "/api/v1/agents",
        "/api/v1/leads",
        "/api/v1/calls?limit=100",
        "/api/v1/webhooks",
        "/api/v1/webhooks/secret",
        "/api/v1/numbers",
        "/api/v1/events?limit=100",
        "/api/v1/campaigns",
    ] {
        let (status, body) = server.get(key, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        out.insert(path.into(), body);
    }
    let (_, keys) = server
        .with_session(session, Method::GET, "/api/v1/keys", None)
        .await;
    out.insert("/api/v1/keys".into(), keys);
    Value::Object(out)
}

/// Fields that change by themselves (a live call moves on, keys are used).
fn settle(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for k in [
                    "status",
                    "updated_at",
                    "last_used_at",
                    "duration",
                    "started_at",
                    "ringing_at",
                ] {
                    map.remove(k);
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

#[tokio::test]
async fn every_documented_operation_refuses_another_tenants_ids() {
    let server = Server::start().await;
    let a = server.bootstrap("a@isolation.test");
    let b = bootstrap_db(&server.db_url, "b@isolation.test", "Other Firm");
    let a_session = server.login("a@isolation.test").await;
    let b_session = server.login("b@isolation.test").await;

    // A's objects: a lead, a live call that never hangs up, a subscription, a key.
    let (_, lead) = server
        .post(
            &a.live_key,
            "/api/v1/leads",
            json!({"name": "A's lead", "phone": "+15125550142"}),
        )
        .await;
    let (status, call) = server
        .post(
            &a.live_key,
            "/api/v1/calls",
            json!({"agent_id": a.agent_id, "to": "+15005550006"}),
        )
        .await;
    assert_eq!(status, 201, "{call}");
    let (_, sub) = server
        .post(
            &a.live_key,
            "/api/v1/webhooks",
            json!({"url": "https://example.com/a", "events": ["call.completed"]}),
        )
        .await;
    let (_, keys) = server
        .with_session(&a_session, Method::GET, "/api/v1/keys", None)
        .await;
    let a_key_id = keys["keys"][0]["id"].as_str().unwrap().to_string();
    let (status, campaign) = server
        .post(
            &a.live_key,
            "/api/v1/campaigns",
            json!({"name": "A's campaign", "agent_id": a.agent_id, "contacts": [{"to": "+15125550143"}]}),
        )
        .await;
    assert_eq!(status, 201, "{campaign}");
    let a_campaign = campaign["id"].as_str().unwrap().to_string();
    let (_, events) = server.get(&a.live_key, "/api/v1/events?limit=1").await;
    let a_event = events["events"][0]["id"].as_str().unwrap().to_string();
    let ids: BTreeMap<&str, String> = [
        ("business_id", a.business_id.clone()),
        ("agent_id", a.agent_id.clone()),
        ("lead_id", lead["id"].as_str().unwrap().to_string()),
        ("call_id", call["id"].as_str().unwrap().to_string()),
        ("event_id", a_event.clone()),
        ("webhook_id", sub["id"].as_str().unwrap().to_string()),
        ("object_id", call["id"].as_str().unwrap().to_string()),
        ("phone_number", a.phone_number.clone()),
        ("campaign_id", a_campaign.clone()),
    ]
    .into_iter()
    .collect();
    // The object each path's `id` names.
    let id_for = |path: &str| -> String {
        match path {
            "/api/v1/agents" => a.agent_id.clone(),
            "/api/v1/leads" => ids["lead_id"].clone(),
            "/api/v1/calls" | "/api/v1/calls/end" => ids["call_id"].clone(),
            "/api/v1/keys" => a_key_id.clone(),
            p if p.starts_with("/api/v1/campaigns") => a_campaign.clone(),
            p if p.starts_with("/api/v1/webhooks") => ids["webhook_id"].clone(),
            _ => ids["call_id"].clone(),
        }
    };
    // Let A's call finish (it ends at max_duration), so A changes only if B changes it.
    let id = call["id"].as_str().unwrap();
    server.wait_terminal(&a.live_key, id).await;
    let before = settle(snapshot(&server, &a.live_key, &a_session).await);
    let a_ids: Vec<String> = ids
        .values()
        .cloned()
        .chain([a_key_id.clone(), a_campaign.clone()])
        .collect();

    let doc: Value = serde_json::from_str(include_str!("../../../../openapi.json")).unwrap();
    let mut swept = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        // Not tenant-scoped: no ids go in (signing in, the provider's messages, docs).
        if [
            "/api/v1/health",
            "/api/v1/openapi.json",
            "/api/v1/auth/login",
            "/api/v1/auth/logout",
            "/api/v1/signup",
            "/api/v1/auth/password",
            "/api/v1/providers/vapi/events",
            // A stream never ends: its isolation is `stream::streams_show_their_tenant_…`.
            "/api/v1/events/stream",
        ]
        .contains(&path.as_str())
        {
            continue;
        }
        for (method, op) in ops.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let documented: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter_map(|p| p["name"].as_str()).collect())
                .unwrap_or_default();
            let mut query: Vec<(String, String)> = documented
                .iter()
                .filter_map(|name| match *name {
                    "id" => Some((name.to_string(), id_for(path))),
                    n => ids.get(n).map(|v| (n.to_string(), v.clone())),
                })
                .collect();
            // A lookup (one agent, lead or call by `id`, a recording, a business's
            // secret) or a change
            // must be 404; a list filtered by another tenant's id may answer 404 or an
            // empty page — either way nothing of A's.
            let lookups = [
                "/api/v1/agents",
                "/api/v1/leads",
                "/api/v1/calls",
                "/api/v1/recordings",
                "/api/v1/webhooks/secret",
                "/api/v1/campaigns",
                "/api/v1/campaigns/contacts",
            ];
            let targeted = method != Method::GET || lookups.contains(&path.as_str());
            let mut body = json!({
                "id": id_for(path),
                "event_ids": [a_event],
                "name": "taken over",
                "phone": "+15125550199",
                "to": "+15125551234",
                "url": "https://example.com/b",
            });
            for (k, v) in &ids {
                body[*k] = json!(v);
            }
            let with_body = method == Method::POST || method == Method::PATCH;
            if method == Method::DELETE && query.is_empty() {
                query.push(("id".into(), id_for(path)));
            }
            let mut req = server.request(method.clone(), path).query(&query);
            req = if path == "/api/v1/keys" || path.starts_with("/api/v1/auth/") {
                req.header("cookie", &b_session.cookie)
                    .header("origin", &server.url)
            } else {
                req.bearer_auth(&b.live_key)
            };
            if with_body {
                req = req.json(&body);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            let what = format!("{method} {path}?{query:?}");
            assert!(status < 500, "{what}: {status} {text}");
            let leaked: Vec<&String> = a_ids
                .iter()
                .filter(|id| text.contains(id.as_str()))
                .collect();
            assert!(leaked.is_empty(), "{what} leaked {leaked:?}: {text}");
            if targeted {
                assert_eq!(status, 404, "{what}: {text}");
            } else {
                assert!(
                    status == 404 || (200..300).contains(&status),
                    "{what}: {status} {text}"
                );
            }
            swept += 1;
        }
    }
    assert!(swept >= 25, "swept {swept} operations");
    let after = settle(snapshot(&server, &a.live_key, &a_session).await);
    for (path, was) in before.as_object().unwrap() {
        assert_eq!(was, &after[path], "tenant A is unchanged: {path}");
    }
}
