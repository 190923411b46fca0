//! The reference's own examples, body for body, and every field it documents.

use serde_json::{json, Value};

use crate::harness::{Boot, Server};

fn assert_rfc3339(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    assert!(chrono_like(s), "not an RFC 3339 UTC timestamp: {s}");
}

fn chrono_like(s: &str) -> bool {
    s.len() >= 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T'
}

/// The reference's create response fields.
fn assert_created(call: &Value, agent_id: &str, to: &str, name: Option<&str>) {
    assert!(call["id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(call["conversation_id"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert_eq!(call["status"], "queued");
    assert_eq!(call["agent_id"], agent_id);
    assert_eq!(call["to"], to);
    assert_eq!(call["name"], name.map_or(Value::Null, |n| json!(n)));
    assert_rfc3339(&call["created_at"]);
}

/// The reference's call detail fields, on a completed call.
fn assert_completed_detail(call: &Value, boot: &Boot) {
    assert_eq!(call["status"], "completed");
    assert_eq!(call["direction"], "outbound");
    let duration = call["duration"].as_i64().expect("duration is an integer");
    assert!((20..=240).contains(&duration), "duration {duration}");
    assert_eq!(call["agent_id"], boot.agent_id.as_str());
    assert_eq!(call["agent_name"], "Kai");
    assert_eq!(call["business_id"], boot.business_id.as_str());
    assert!(call.as_object().unwrap().contains_key("lead_id"));
    assert!(call["summary"].as_str().is_some_and(|s| s.len() > 20));
    assert!(call["recording_url"]
        .as_str()
        .is_some_and(|u| u.starts_with("http://")));
    for dim in [
        "professionalism",
        "empathy",
        "information_gathering",
        "resolution",
    ] {
        let v = call["quality_dimensions"][dim].as_i64().expect(dim);
        assert!((0..=100).contains(&v), "{dim} = {v}");
    }
    assert_rfc3339(&call["created_at"]);
    assert_eq!(call["ended_reason"], "customer_hangup");
    assert!(call["transcript"].as_array().is_some_and(|t| t.len() >= 4));
    assert_eq!(call["variables"].as_object().unwrap().len(), 9);
}

#[tokio::test]
async fn quick_start_call_completes_with_every_documented_field() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.live_key;

    // Quick start, step 2: the body exactly as documented.
    let (status, created) = server
        .post(
            key,
            "/api/v1/calls",
            json!({
                "agent_id": boot.agent_id,
                "to": "+15125551234",
                "name": "John Smith",
                "context": "Confirm appointment for tomorrow at 2pm"
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_created(&created, &boot.agent_id, "+15125551234", Some("John Smith"));

    // Step 3: check the result.
    let id = created["id"].as_str().unwrap();
    let call = server.wait_terminal(key, id).await;
    assert_completed_detail(&call, &boot);
    assert_eq!(call["id"], created["id"]);
    assert_eq!(call["conversation_id"], created["conversation_id"]);
    assert_eq!(call["created_at"], created["created_at"]);
    let transcript = call["transcript"].as_array().unwrap();
    assert_eq!(transcript[0]["role"], "agent");
    assert!(transcript.iter().any(|t| t["text"]
        .as_str()
        .unwrap()
        .contains("Confirm appointment for tomorrow at 2pm")));
    assert!(call["summary"].as_str().unwrap().contains("John Smith"));

    // The timeline records every transition, in order.
    let events: Vec<&str> = call["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["queued", "ringing", "in_progress", "completed"]);

    // The recording is playable without the API key.
    let audio = server
        .http
        .get(call["recording_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(audio.status(), 200);
    assert_eq!(audio.headers()["content-type"], "audio/wav");
    assert_eq!(&audio.bytes().await.unwrap()[..4], b"RIFF");
}

#[tokio::test]
async fn minimal_and_full_examples() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.live_key;

    // Minimal example.
    let (status, minimal) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15125559876"}),
        )
        .await;
    assert_eq!(status, 201, "{minimal}");
    assert_created(&minimal, &boot.agent_id, "+15125559876", None);

    // Full example: a lead in the CRM, firstMessage overriding the greeting.
    let (status, lead) = server
        .post(
            key,
            "/api/v1/leads",
            json!({"name": "John Smith", "phone": "+15125559876", "status": "qualified",
                   "source": "referral", "score": 87}),
        )
        .await;
    assert_eq!(status, 201, "{lead}");
    let first_message = "Hey John, this is Kai from Smith Law — do you have a minute?";
    let (status, full) = server
        .post(
            key,
            "/api/v1/calls",
            json!({
                "agent_id": boot.agent_id,
                "to": "+15125559876",
                "name": "John Smith",
                "lead_id": lead["id"],
                "context": "Following up on car accident case",
                "firstMessage": first_message
            }),
        )
        .await;
    assert_eq!(status, 201, "{full}");
    assert_created(&full, &boot.agent_id, "+15125559876", Some("John Smith"));

    let call = server
        .wait_terminal(key, full["id"].as_str().unwrap())
        .await;
    assert_completed_detail(&call, &boot);
    assert_eq!(call["lead_id"], lead["id"]);
    assert_eq!(call["transcript"][0]["text"], first_message);
    // Enrichment from the CRM (the minimal call came before the lead existed).
    let vars = &call["variables"];
    assert_eq!(vars["name"], "John");
    assert_eq!(vars["lead_score"], 87);
    assert_eq!(vars["lead_status"], "qualified");
    assert_eq!(vars["lead_source"], "referral");
    assert_eq!(vars["interaction_count"], 0);
    assert_eq!(vars["days_since_first_contact"], 0);
    assert_eq!(vars["business_name"], "Smith Law");
    assert_eq!(vars["business_phone"], "+15125550100");
    assert!(["morning", "afternoon", "evening"].contains(&vars["time_of_day"].as_str().unwrap()));
    let (_, lead) = server
        .get(
            key,
            &format!("/api/v1/leads?id={}", lead["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(lead["interaction_count"], 1);
}

#[tokio::test]
async fn agents_numbers_balance_and_usage_have_the_reference_fields() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.live_key;

    let (status, agents) = server.get(key, "/api/v1/agents").await;
    assert_eq!(status, 200);
    let agent = &agents["agents"][0];
    assert_eq!(agent["id"], boot.agent_id.as_str());
    assert_eq!(agent["name"], "Kai");
    assert_eq!(agent["business_id"], boot.business_id.as_str());
    assert_rfc3339(&agent["created_at"]);

    let (status, detail) = server
        .get(key, &format!("/api/v1/agents?id={}", boot.agent_id))
        .await;
    assert_eq!(status, 200);
    assert!(detail
        .as_object()
        .unwrap()
        .contains_key("vapi_assistant_id"));
    assert_eq!(detail["phone_number"], boot.phone_number.as_str());

    let (status, numbers) = server.get(key, "/api/v1/numbers").await;
    assert_eq!(status, 200);
    let number = &numbers["numbers"][0];
    assert_eq!(number["id"], boot.phone_number_id.as_str());
    assert_eq!(number["phone_number"], boot.phone_number.as_str());
    assert_eq!(number["agent_id"], boot.agent_id.as_str());
    assert_eq!(number["business_id"], boot.business_id.as_str());
    assert_rfc3339(&number["created_at"]);

    let (status, balance) = server.get(key, "/api/v1/balance").await;
    assert_eq!(status, 200);
    let b = &balance["businesses"][0];
    assert_eq!(b["business_id"], boot.business_id.as_str());
    assert_eq!(b["minutes_used"], 0);
    assert_eq!(b["phone_numbers"], 1);
    assert_eq!(b["subscription_status"], "active");

    let (status, usage) = server.get(key, "/api/v1/usage").await;
    assert_eq!(status, 200);
    assert_eq!(usage["has_more"], false);
    let rows = usage["usage"].as_array().unwrap();
    // Newest first: balance, numbers, agents?id, agents.
    let seen: Vec<(&str, &str, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["endpoint"].as_str().unwrap(),
                r["method"].as_str().unwrap(),
                r["status_code"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("/v1/balance", "GET", 200),
            ("/v1/numbers", "GET", 200),
            ("/v1/agents", "GET", 200),
            ("/v1/agents", "GET", 200)
        ]
    );
    for r in rows {
        assert!(r["id"].is_string());
        assert!(r.as_object().unwrap().contains_key("call_id"));
        assert_eq!(r["cost_cents"], 0);
        assert_rfc3339(&r["created_at"]);
    }
}
