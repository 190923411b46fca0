//! Agents, phone numbers and leads: the configuration and CRM a call draws on.

use reqwest::Method;
use serde_json::json;

use crate::harness::{code, param, Server};

#[tokio::test]
async fn agents_are_created_and_updated_under_agents_write() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.live_key;

    let (status, agent) = server
        .post(
            key,
            "/api/v1/agents",
            json!({"business_id": boot.business_id, "name": "Intake", "system_prompt": "Be brief.",
                   "first_message": "Hello from intake", "voice": {"provider": "11labs", "voiceId": "rachel"},
                   "model": {"provider": "openai", "model": "gpt-4o"}, "metadata": {"team": "intake"},
                   "max_duration": 300}),
        )
        .await;
    assert_eq!(status, 201, "{agent}");
    assert_eq!(agent["name"], "Intake");
    assert_eq!(agent["voice"]["voiceId"], "rachel");
    assert_eq!(agent["phone_number"], serde_json::Value::Null);
    let id = agent["id"].as_str().unwrap();

    let (status, updated) = server
        .call(
            Method::PATCH,
            "/api/v1/agents",
            Some(key),
            Some(json!({"id": id, "vapi_assistant_id": "vapi-asst-789", "first_message": "Hi!"})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["vapi_assistant_id"], "vapi-asst-789");
    assert_eq!(updated["first_message"], "Hi!");
    assert_eq!(
        updated["system_prompt"], "Be brief.",
        "untouched fields keep their values"
    );
    let (_, fetched) = server.get(key, &format!("/api/v1/agents?id={id}")).await;
    assert_eq!(fetched, updated);

    let (status, err) = server
        .call(
            Method::PATCH,
            "/api/v1/agents",
            Some(key),
            Some(json!({"id": "missing"})),
        )
        .await;
    assert_eq!((status.as_u16(), code(&err)), (404, "not_found"));
    let (status, err) = server
        .post(key, "/api/v1/agents", json!({"name": ""}))
        .await;
    assert_eq!((status.as_u16(), param(&err)), (400, "name"));

    // Without agents:write: 403.
    let session = server.login("owner@smithlaw.test").await;
    let (_, reader) = server
        .with_session(
            &session,
            Method::POST,
            "/api/v1/keys",
            Some(json!({"scopes": ["agents:read"]})),
        )
        .await;
    let (status, err) = server
        .post(
            reader["key"].as_str().unwrap(),
            "/api/v1/agents",
            json!({"name": "X"}),
        )
        .await;
    assert_eq!((status.as_u16(), code(&err)), (403, "forbidden"));
}

#[tokio::test]
async fn phone_numbers_are_assigned_and_released() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let other = server.bootstrap("other@tenant.test");
    let key = &boot.live_key;
    let (_, agent) = server
        .post(key, "/api/v1/agents", json!({"name": "Second"}))
        .await;

    let (status, number) = server
        .post(
            key,
            "/api/v1/phone-numbers",
            json!({"phone_number": "+15125550199", "agent_id": agent["id"], "vapi_phone_number_id": "vapi-pn-1"}),
        )
        .await;
    assert_eq!(status, 201, "{number}");
    assert_eq!(number["business_id"], boot.business_id.as_str());
    assert_eq!(number["vapi_phone_number_id"], "vapi-pn-1");
    let (_, fetched) = server
        .get(
            key,
            &format!("/api/v1/agents?id={}", agent["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(fetched["phone_number"], "+15125550199");

    // /numbers and /phone-numbers list the same set; filters apply.
    let (_, a) = server.get(key, "/api/v1/numbers").await;
    let (_, b) = server.get(key, "/api/v1/phone-numbers").await;
    assert_eq!(a["numbers"], b["numbers"]);
    assert_eq!(a["numbers"].as_array().unwrap().len(), 2);
    let (_, one) = server
        .get(key, "/api/v1/phone-numbers?phone_number=%2B15125550199")
        .await;
    assert_eq!(one["numbers"].as_array().unwrap().len(), 1);
    assert_eq!(one["number"]["id"], number["id"]);

    // Another tenant cannot take or release it.
    let (status, err) = server
        .post(
            &other.live_key,
            "/api/v1/phone-numbers",
            json!({"phone_number": "+15125550199"}),
        )
        .await;
    assert_eq!((status.as_u16(), code(&err)), (409, "conflict"));
    let (status, _) = server
        .call(
            Method::DELETE,
            "/api/v1/phone-numbers?phone_number=%2B15125550199",
            Some(&other.live_key),
            None,
        )
        .await;
    assert_eq!(status, 404);

    let (status, err) = server
        .post(
            key,
            "/api/v1/phone-numbers",
            json!({"phone_number": "12345"}),
        )
        .await;
    assert_eq!((status.as_u16(), param(&err)), (400, "phone_number"));

    let (status, body) = server
        .call(
            Method::DELETE,
            "/api/v1/phone-numbers?phone_number=%2B15125550199",
            Some(key),
            None,
        )
        .await;
    assert_eq!((status.as_u16(), &body["success"]), (200, &json!(true)));
    let (_, fetched) = server
        .get(
            key,
            &format!("/api/v1/agents?id={}", agent["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(fetched["phone_number"], serde_json::Value::Null);
}

#[tokio::test]
async fn leads_are_filtered_and_enrich_calls_by_number() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.live_key;

    let mk = |name: &str, phone: &str, status: &str, source: &str, score: i64| json!({"name": name, "phone": phone, "status": status, "source": source, "score": score, "email": format!("{}@x.test", name.to_lowercase())});
    let mut ids = vec![];
    for body in [
        mk("Ann", "+15125550301", "new", "web", 40),
        mk("Bob", "+15125550302", "contacted", "referral", 70),
        mk("Cid", "+15125550303", "qualified", "referral", 95),
    ] {
        let (status, lead) = server.post(key, "/api/v1/leads", body).await;
        assert_eq!(status, 201, "{lead}");
        assert_eq!(lead["interaction_count"], 0);
        ids.push(lead["id"].as_str().unwrap().to_string());
    }
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["leads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, all) = server.get(key, "/api/v1/leads").await;
    assert_eq!(names(&all), ["Cid", "Bob", "Ann"]);
    let (_, some) = server
        .get(key, "/api/v1/leads?status=new%2Ccontacted")
        .await;
    assert_eq!(names(&some), ["Bob", "Ann"]);
    let (_, some) = server
        .get(key, "/api/v1/leads?source=referral&score_gte=80")
        .await;
    assert_eq!(names(&some), ["Cid"]);
    let (_, some) = server.get(key, "/api/v1/leads?phone=%2B15125550301").await;
    assert_eq!(names(&some), ["Ann"]);
    let (_, page) = server.get(key, "/api/v1/leads?limit=2").await;
    assert_eq!((names(&page).len(), &page["has_more"]), (2, &json!(true)));
    let (status, err) = server.get(key, "/api/v1/leads?score_gte=high").await;
    assert_eq!((status.as_u16(), param(&err)), (400, "score_gte"));

    let (status, updated) = server
        .call(
            Method::PATCH,
            "/api/v1/leads",
            Some(key),
            Some(json!({"id": ids[0], "status": "qualified", "score": 88})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (updated["status"].as_str(), updated["score"].as_i64()),
        (Some("qualified"), Some(88))
    );
    assert_eq!(updated["name"], "Ann");

    // A call to Ann's number is enriched from her lead without a lead_id.
    let (_, call) = server
        .post(
            &boot.test_key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15125550301"}),
        )
        .await;
    let call = server
        .wait_terminal(&boot.test_key, call["id"].as_str().unwrap())
        .await;
    assert_eq!(call["lead_id"], ids[0].as_str());
    assert_eq!(call["variables"]["name"], "Ann");
    assert_eq!(call["variables"]["lead_score"], 88);
    assert_eq!(call["variables"]["lead_status"], "qualified");
    let (_, lead) = server
        .get(key, &format!("/api/v1/leads?id={}", ids[0]))
        .await;
    assert_eq!(lead["interaction_count"], 1);

    // Lead changes are durable events.
    let (_, events) = server
        .get(key, &format!("/api/v1/events?object_id={}", ids[0]))
        .await;
    let types: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["lead.updated", "lead.created"]);

    // Scopes: leads need leads:read / leads:write.
    let session = server.login("owner@smithlaw.test").await;
    let (_, plain) = server
        .with_session(&session, Method::POST, "/api/v1/keys", Some(json!({})))
        .await;
    let (status, _) = server
        .get(plain["key"].as_str().unwrap(), "/api/v1/leads")
        .await;
    assert_eq!(status, 403);
}
