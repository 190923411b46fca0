//! Events and signed webhooks: payloads, signatures, subscriptions, retries, replay.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{code, eventually, Server};
use crate::receiver::{Answer, Receiver};

fn keys_of(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn per_call_webhooks_carry_the_reference_payloads_signed_with_the_bootstrap_secret() {
    let server = Server::builder()
        .env("KAICALLS_ALLOW_PRIVATE_WEBHOOKS", "true")
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let receiver = Receiver::start().await;
    let call = |to: &str, extra: Value| {
        let mut body = json!({"agent_id": boot.agent_id, "to": to, "webhook_url": receiver.url});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        server.post(&boot.live_key, "/api/v1/calls", body)
    };
    let (_, ok) = call("+15125551234", json!({})).await;
    let (_, failed) = call("+15005550001", json!({})).await;
    let got = receiver
        .wait_until(60, "both webhooks", |r| r.len() >= 2)
        .await;

    let completed = got.iter().find(|r| r.event() == "call.completed").unwrap();
    assert_eq!(
        keys_of(&completed.json),
        set(&[
            "event",
            "call_id",
            "status",
            "duration",
            "recording_url",
            "summary",
            "timestamp",
            // Beyond the reference (issue 13): inbound or outbound.
            "direction"
        ])
    );
    assert_eq!(completed.json["direction"], "outbound");
    assert_eq!(completed.json["call_id"], ok["id"]);
    assert_eq!(completed.json["status"], "completed");
    let detail = server
        .get(
            &boot.live_key,
            &format!("/api/v1/calls?id={}", ok["id"].as_str().unwrap()),
        )
        .await
        .1;
    assert_eq!(completed.json["duration"], detail["duration"]);
    assert_eq!(completed.json["summary"], detail["summary"]);
    assert_eq!(completed.json["recording_url"], detail["recording_url"]);
    assert!(
        completed.verifies_with(&boot.webhook_secret),
        "signed with the bootstrap secret"
    );
    assert!(!completed.verifies_with("whsec_c29tZXRoaW5nIGVsc2U="));

    let failure = got.iter().find(|r| r.event() == "call.failed").unwrap();
    assert_eq!(
        keys_of(&failure.json),
        set(&[
            "event",
            "call_id",
            "status",
            "error",
            "timestamp",
            "direction"
        ])
    );
    assert_eq!(failure.json["call_id"], failed["id"]);
    assert_eq!(failure.json["status"], "failed");
    assert_eq!(failure.json["error"], "no_answer");
    assert!(failure.verifies_with(&boot.webhook_secret));
    assert_ne!(failure.webhook_id, completed.webhook_id);
    assert_eq!(got.len(), 2, "only completed/failed by default");

    // Opt-in event types and metadata, echoed.
    let (_, meta) = call(
        "+15125551234",
        json!({"metadata": {"crm_id": "42"}, "webhook_events": ["call.ringing", "call.completed"]}),
    )
    .await;
    let got = receiver
        .wait_until(60, "the metadata call's webhooks", |r| {
            r.iter().filter(|x| x.json["call_id"] == meta["id"]).count() >= 2
        })
        .await;
    let mine: Vec<_> = got
        .iter()
        .filter(|x| x.json["call_id"] == meta["id"])
        .collect();
    assert_eq!(mine[0].event(), "call.ringing");
    assert_eq!(mine[1].event(), "call.completed");
    for r in mine {
        assert_eq!(r.json["metadata"], json!({"crm_id": "42"}));
    }

    // Rotation: the new secret signs, and the old one still does for 24 h.
    let (_, secret) = server.get(&boot.live_key, "/api/v1/webhooks/secret").await;
    assert_eq!(secret["webhook_secret"], boot.webhook_secret.as_str());
    let (status, rotated) = server
        .post(&boot.live_key, "/api/v1/webhooks/secret/rotate", json!({}))
        .await;
    assert_eq!(status, 200);
    let new_secret = rotated["webhook_secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, boot.webhook_secret);
    let before = receiver.received().len();
    call("+15005550002", json!({})).await;
    let got = receiver
        .wait_until(60, "a webhook after rotation", |r| r.len() > before)
        .await;
    let last = got.last().unwrap();
    assert!(last.verifies_with(&new_secret));
    assert!(last.verifies_with(&boot.webhook_secret));
}

#[tokio::test]
async fn live_webhooks_to_private_addresses_are_refused_but_test_mode_may_use_them() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let receiver = Receiver::start().await;
    let body =
        json!({"agent_id": boot.agent_id, "to": "+15005550003", "webhook_url": receiver.url});
    let (status, refused) = server
        .post(&boot.live_key, "/api/v1/calls", body.clone())
        .await;
    assert_eq!(
        status, 400,
        "a private IP literal is refused at create: {refused}"
    );
    assert_eq!(refused["error"]["param"], "webhook_url");
    let (_, test) = server.post(&boot.test_key, "/api/v1/calls", body).await;
    receiver
        .wait_until(30, "the test-mode webhook", |r| {
            r.iter().any(|x| x.json["call_id"] == test["id"])
        })
        .await;
    let has_attempt = |d: &Value| d["attempts"].as_array().is_some_and(|a| !a.is_empty());

    // A name that resolves to a private address is refused by the resolver the
    // connection uses, not just by a look at the URL.
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let (_, named) = server
        .post(
            &boot.live_key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15005550003", "webhook_url": by_name}),
        )
        .await;
    let delivery = server
        .delivery_until(
            &boot.live_key,
            named["id"].as_str().unwrap(),
            30,
            has_attempt,
        )
        .await;
    let error = delivery["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("no public address"), "{error}");
    assert!(receiver
        .received()
        .iter()
        .all(|r| r.json["call_id"] != named["id"]));
}

#[tokio::test]
async fn subscriptions_get_only_their_event_types_signed_with_their_own_secret() {
    let server = Server::builder()
        .env("KAICALLS_ALLOW_PRIVATE_WEBHOOKS", "true")
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.live_key;
    let receiver = Receiver::start().await;

    let (status, sub) = server
        .post(
            key,
            "/api/v1/webhooks",
            json!({"webhook_url": receiver.url, "events": ["call.completed"], "description": "CRM"}),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    let secret = sub["webhook_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let (_, list) = server.get(key, "/api/v1/webhooks").await;
    let listed = &list["webhooks"][0];
    assert_eq!(listed["url"], receiver.url.as_str());
    assert_eq!(listed["events"], json!(["call.completed"]));
    assert_eq!(listed["is_active"], true);
    assert!(
        listed.get("webhook_secret").is_none(),
        "the secret is shown once"
    );
    assert_ne!(listed["webhook_secret_masked"], secret.as_str());
    assert!(list["events"]
        .as_array()
        .unwrap()
        .contains(&json!("call.completed")));

    let (_, ok) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15125551234"}),
        )
        .await;
    let (_, bad) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15005550002"}),
        )
        .await;
    let got = receiver
        .wait_until(60, "call.completed", |r| !r.is_empty())
        .await;
    assert_eq!(got[0].event(), "call.completed");
    assert_eq!(got[0].json["call_id"], ok["id"]);
    assert!(got[0].verifies_with(&secret));
    assert!(!got[0].verifies_with(&boot.webhook_secret));
    server.wait_terminal(key, bad["id"].as_str().unwrap()).await;
    let (_, deliveries) = server
        .get(
            key,
            &format!(
                "/api/v1/event-deliveries?webhook_id={}",
                sub["id"].as_str().unwrap()
            ),
        )
        .await;
    let types: Vec<&str> = deliveries["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["call.completed"],
        "no call.failed for this subscription"
    );

    // A signed webhook.test.
    let (status, _) = server
        .post(key, "/api/v1/webhooks/test", json!({"id": sub["id"]}))
        .await;
    assert_eq!(status, 200);
    let got = receiver
        .wait_until(30, "webhook.test", |r| {
            r.iter().any(|x| x.event() == "webhook.test")
        })
        .await;
    let test = got.iter().find(|x| x.event() == "webhook.test").unwrap();
    assert!(test.verifies_with(&secret));

    // Rotate, upsert, delete.
    let (_, rotated) = server
        .post(
            key,
            "/api/v1/webhooks/rotate-secret",
            json!({"id": sub["id"]}),
        )
        .await;
    let new_secret = rotated["webhook_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let (status, updated) = server
        .post(
            key,
            "/api/v1/webhooks",
            json!({"id": sub["id"], "events": ["call.completed", "call.failed"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["id"], sub["id"]);
    assert_eq!(updated["url"], receiver.url.as_str());
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/v1/webhooks?id={}", sub["id"].as_str().unwrap()),
            Some(key),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, list) = server.get(key, "/api/v1/webhooks").await;
    assert_eq!(list["webhooks"], json!([]));
    let (status, err) = server
        .post(key, "/api/v1/webhooks", json!({"webhook_url": "nope"}))
        .await;
    assert_eq!((status.as_u16(), code(&err)), (400, "invalid_request"));
}

#[tokio::test]
async fn a_failing_receiver_gets_the_event_on_the_fourth_attempt_and_again_on_replay() {
    let server = Server::builder()
        .env("KAICALLS_ALLOW_PRIVATE_WEBHOOKS", "true")
        .env("KAICALLS_WEBHOOK_RETRY_SCHEDULE", "0.2,0.2,0.2,0.2")
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.live_key;
    let receiver = Receiver::start().await;
    receiver.plan(&[500, 502, 503]);
    let (_, call) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15125551234", "webhook_url": receiver.url}),
        )
        .await;
    let got = receiver
        .wait_until(60, "four attempts", |r| r.len() >= 4)
        .await;
    assert_eq!(
        got.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 502, 503, 200]
    );
    let id = &got[0].webhook_id;
    assert!(
        got.iter().all(|r| &r.webhook_id == id),
        "same webhook-id on every attempt"
    );
    assert!(got.iter().all(|r| r.body == got[0].body));
    assert!(got.iter().all(|r| r.verifies_with(&boot.webhook_secret)));

    let call_id = call["id"].as_str().unwrap();
    let path = format!("/api/v1/event-deliveries?call_id={call_id}");
    let delivery = server
        .delivery_until(key, call_id, 10, |d| d["status"] == "succeeded")
        .await;
    let codes: Vec<i64> = delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 502, 503, 200]);
    assert_eq!(delivery["attempts"][3]["attempt"], 4);
    assert!(delivery["attempts"][0]["latency_ms"].is_i64());
    let (_, filtered) = server.get(key, &format!("{path}&status=failed")).await;
    assert_eq!(filtered["deliveries"], json!([]));

    // Replay: delivered again with the same webhook-id.
    let event_id = delivery["event_id"].as_str().unwrap();
    let (status, replayed) = server
        .post(key, "/api/v1/events/replay", json!({"event_id": event_id}))
        .await;
    assert_eq!(status, 200, "{replayed}");
    let got = receiver
        .wait_until(30, "the replay", |r| r.len() >= 5)
        .await;
    assert_eq!(&got[4].webhook_id, id);
    assert_eq!(got[4].body, got[0].body);

    // The events API shows the call's timeline as events.
    let (_, events) = server
        .get(key, &format!("/api/v1/events?object_id={call_id}"))
        .await;
    let types: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "call.completed",
            "call.in_progress",
            "call.ringing",
            "call.queued"
        ]
    );
    assert_eq!(events["events"][0]["object_type"], "call");
    assert_eq!(events["events"][0]["mode"], "live");
}

#[tokio::test]
async fn retry_after_is_honoured_redirects_are_not_followed_and_410_disables() {
    let server = Server::builder()
        .env("KAICALLS_ALLOW_PRIVATE_WEBHOOKS", "true")
        .env("KAICALLS_WEBHOOK_RETRY_SCHEDULE", "0.05,0.05,0.05")
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.live_key;
    let receiver = Receiver::start().await;
    receiver.plan_answer(Answer {
        status: 429,
        headers: vec![("retry-after", "2".into())],
    });
    receiver.plan_answer(Answer {
        status: 302,
        headers: vec![("location", format!("{}/elsewhere", server.url))],
    });
    server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15005550003", "webhook_url": receiver.url}),
        )
        .await;
    let got = receiver
        .wait_until(30, "three attempts", |r| r.len() >= 3)
        .await;
    assert_eq!(
        got.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [429, 302, 200]
    );
    let waited = got[1].at - got[0].at;
    assert!(
        waited.as_secs_f64() >= 1.9,
        "Retry-After: 2 honoured, waited {waited:?}"
    );

    // A subscription whose endpoint answers 410 is disabled.
    let gone = Receiver::start().await;
    gone.otherwise(410);
    let (_, sub) = server
        .post(
            key,
            "/api/v1/webhooks",
            json!({"webhook_url": gone.url, "events": ["call.failed"]}),
        )
        .await;
    server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15005550003"}),
        )
        .await;
    gone.wait_until(30, "the 410", |r| !r.is_empty()).await;
    eventually(10, "the subscription to be disabled", || async {
        let (_, list) = server.get(key, "/api/v1/webhooks").await;
        let listed = list["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"] == sub["id"])
            .unwrap()
            .clone();
        if listed["is_active"] == false {
            Ok(())
        } else {
            Err(listed.to_string())
        }
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(gone.received().len(), 1, "no retries after 410");
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_response() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let body = json!({"agent_id": boot.agent_id, "to": "+15125551234", "name": "John"});
    let send = |key: &'static str, body: &Value| {
        server
            .request(Method::POST, "/api/v1/calls")
            .bearer_auth(&boot.test_key)
            .header("idempotency-key", key)
            .json(body)
            .send()
    };
    let first = send("order-1", &body).await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let second = send("order-1", &body).await.unwrap();
    assert_eq!(second.status(), 201);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    let (_, list) = server.get(&boot.test_key, "/api/v1/calls").await;
    assert_eq!(list["calls"].as_array().unwrap().len(), 1, "one call");

    let other = json!({"agent_id": boot.agent_id, "to": "+15125559999"});
    let resp = send("order-1", &other).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(code(&resp.json().await.unwrap()), "idempotency_error");
    // Another key is another request.
    let resp = send("order-2", &other).await.unwrap();
    assert_eq!(resp.status(), 201);
    // A failed request's answer is replayed too.
    let refused = json!({"agent_id": boot.agent_id, "to": "+15005550005"});
    let a = send("order-3", &refused).await.unwrap();
    let b = send("order-3", &refused).await.unwrap();
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (500, 500));
    assert_eq!(b.headers()["idempotent-replayed"], "true");
    assert_eq!(a.text().await.unwrap(), b.text().await.unwrap());
}
