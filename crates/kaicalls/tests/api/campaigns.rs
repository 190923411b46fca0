//! Campaigns through the real binary, in real time on the simulator: a campaign
//! calls its list within `max_concurrency` (checked from the call records), pause
//! stops new dials within a second while live calls finish, resume goes on where it
//! stopped, cancel ends the pending contacts; appending the same keys adds nothing,
//! duplicates and invalid numbers are skipped with their reason; a kill -9 while it
//! runs dials no contact twice and loses none; scopes and the edit rules hold.
//! (The rules over time zones, retries and the frequency cap run on an injected
//! clock in the store suite: `tests/store/campaigns.rs`.)

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{code, Server};

/// Polls `probe` every 300 ms (the key's rate limit allows it) until it answers.
async fn eventually<T, F, Fut>(secs: u64, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(why) if Instant::now() > deadline => panic!("{what}: {why}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

/// Sandbox numbers (NXX 555): their hours are recorded, not enforced, so these tests
/// do not depend on the time of day.
fn numbers(n: usize, offset: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"to": format!("+1512555{:04}", 2000 + offset + i), "name": format!("Contact {i}")}))
        .collect()
}

async fn campaign(server: &Server, key: &str, id: &str) -> Value {
    let (status, c) = server.get(key, &format!("/api/v1/campaigns?id={id}")).await;
    assert_eq!(status, 200, "{c}");
    c
}

async fn all_contacts(server: &Server, key: &str, id: &str) -> Vec<Value> {
    let mut out = vec![];
    let mut after = String::new();
    loop {
        let (status, page) = server
            .get(
                key,
                &format!("/api/v1/campaigns/contacts?id={id}&limit=50{after}"),
            )
            .await;
        assert_eq!(status, 200, "{page}");
        out.extend(page["contacts"].as_array().unwrap().iter().cloned());
        if page["has_more"] != true {
            return out;
        }
        after = format!("&after={}", page["next_after"]);
    }
}

async fn campaign_calls(server: &Server, key: &str, id: &str) -> Vec<Value> {
    let mut out: Vec<Value> = vec![];
    let mut after = String::new();
    loop {
        let (status, page) = server
            .get(
                key,
                &format!("/api/v1/calls?campaign_id={id}&limit=100{after}"),
            )
            .await;
        assert_eq!(status, 200, "{page}");
        let calls = page["calls"].as_array().unwrap();
        out.extend(calls.iter().cloned());
        if page["has_more"] != true {
            return out;
        }
        after = format!(
            "&after={}",
            calls.last().unwrap()["created_at"].as_str().unwrap()
        );
    }
}

fn micros(t: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap())
        .unwrap()
        .timestamp_micros()
}

/// The most calls live at once, from their created and ended instants.
fn peak_concurrency(calls: &[Value]) -> i32 {
    let mut edges: Vec<(i64, i32)> = vec![];
    for c in calls {
        edges.push((micros(&c["created_at"]), 1));
        if !c["ended_at"].is_null() {
            edges.push((micros(&c["ended_at"]), -1));
        }
    }
    edges.sort();
    let (mut live, mut peak) = (0, 0);
    for (_, d) in edges {
        live += d;
        peak = peak.max(live);
    }
    peak
}

#[tokio::test]
async fn a_campaign_runs_within_its_concurrency_pauses_resumes_and_cancels() {
    // Simulated calls of 2-24 s.
    let server = Server::builder()
        .env("KAICALLS_SIM_SPEED", "10")
        .start()
        .await;
    let boot = server.bootstrap("campaigns@example.com");
    let key = &boot.test_key;
    let (status, created) = server
        .post(
            key,
            "/api/v1/campaigns",
            json!({
                "name": "Intake follow-ups",
                "agent_id": boot.agent_id,
                "context": "Follow up on {{name}}'s intake form for {{firm}}",
                "variables": {"firm": "Smith Law"},
                "max_concurrency": 4,
                "contacts": numbers(30, 0),
                "start": true,
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["status"], "running");
    assert_eq!(created["contacts_added"]["added"], 30);
    assert_eq!(created["counts"]["total"], 30);

    // It dials, never more than 4 at once.
    eventually(20, "some contacts completed", || async {
        let c = campaign(&server, key, &id).await;
        (c["counts"]["completed"].as_i64().unwrap() >= 3)
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    })
    .await;
    let (status, paused) = server
        .post(key, &format!("/api/v1/campaigns/pause?id={id}"), json!({}))
        .await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["status"], "paused");
    let paused_at = Instant::now();
    assert_eq!(campaign(&server, key, &id).await["status"], "paused");
    // Within a second no new dial starts; the calls in progress finish.
    tokio::time::sleep(Duration::from_millis(1000).saturating_sub(paused_at.elapsed())).await;
    let placed = campaign_calls(&server, key, &id).await.len();
    eventually(40, "the live calls finished", || async {
        let c = campaign(&server, key, &id).await;
        (c["counts"]["dialing"] == 0)
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_pause = campaign_calls(&server, key, &id).await;
    assert_eq!(
        after_pause.len(),
        placed,
        "no call was placed after the pause"
    );
    let c = campaign(&server, key, &id).await;
    let pending_when_paused = c["counts"]["pending"].as_i64().unwrap();
    assert!(pending_when_paused > 0, "{c}");
    // A paused campaign may be edited; a running one may not.
    let (status, edited) = server
        .call(
            Method::PATCH,
            &format!("/api/v1/campaigns?id={id}"),
            Some(key),
            Some(json!({"max_concurrency": 3, "name": "Intake follow-ups (slower)"})),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["max_concurrency"], 3);

    // Resume: it goes on where it stopped (no contact dialed twice).
    let (status, resumed) = server
        .post(key, &format!("/api/v1/campaigns/resume?id={id}"), json!({}))
        .await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["status"], "running");
    let (status, refused) = server
        .call(
            Method::PATCH,
            &format!("/api/v1/campaigns?id={id}"),
            Some(key),
            Some(json!({"max_concurrency": 5})),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    eventually(20, "more calls after the resume", || async {
        let n = campaign_calls(&server, key, &id).await.len();
        (n > placed + 2)
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    })
    .await;

    // Cancel: the pending contacts end canceled, live calls finish.
    let (status, canceled) = server
        .post(key, &format!("/api/v1/campaigns/cancel?id={id}"), json!({}))
        .await;
    assert_eq!(status, 200, "{canceled}");
    assert_eq!(canceled["status"], "canceled");
    assert!(
        canceled["counts"]["canceled"].as_i64().unwrap() > 0,
        "{canceled}"
    );
    assert_eq!(canceled["counts"]["pending"], 0);
    let done = eventually(40, "the last calls finished", || async {
        let c = campaign(&server, key, &id).await;
        (c["counts"]["dialing"] == 0)
            .then_some(c)
            .ok_or_else(|| "not yet".to_string())
    })
    .await;
    let (status, again) = server
        .post(key, &format!("/api/v1/campaigns/resume?id={id}"), json!({}))
        .await;
    assert_eq!(status, 409, "{again}");

    // From the records: never more than 4 live; one call per contact; counters equal
    // the contacts' states.
    let calls = campaign_calls(&server, key, &id).await;
    assert!(
        peak_concurrency(&calls) <= 4,
        "peak {}",
        peak_concurrency(&calls)
    );
    let contacts = all_contacts(&server, key, &id).await;
    assert_eq!(contacts.len(), 30);
    let mut by_state = std::collections::BTreeMap::<String, i64>::new();
    for c in &contacts {
        *by_state
            .entry(c["state"].as_str().unwrap().into())
            .or_default() += 1;
        assert!(c["call_ids"].as_array().unwrap().len() <= 1, "{c}");
    }
    for (state, n) in &by_state {
        assert_eq!(done["counts"][state], *n, "{state}: {done}");
    }
    // Every call dialed ended its contact completed or failed; a call recorded but not
    // yet dialed when the campaign was canceled is canceled, and so is its contact.
    let dialed = calls.iter().filter(|c| c["status"] != "canceled").count() as i64;
    assert_eq!(
        dialed,
        by_state.get("completed").copied().unwrap_or(0)
            + by_state.get("failed").copied().unwrap_or(0)
    );
    for call in calls.iter().filter(|c| c["status"] == "canceled") {
        let contact = contacts
            .iter()
            .find(|k| k["call_ids"][0] == call["id"])
            .unwrap_or_else(|| panic!("the contact of {call}"));
        assert_eq!(contact["state"], "canceled", "{contact}");
        assert!(call["conversation_id"].is_null(), "{call}");
    }
    // The variables reached the call.
    let (_, detail) = server
        .get(
            key,
            &format!("/api/v1/calls?id={}", calls[0]["id"].as_str().unwrap()),
        )
        .await;
    assert!(
        detail["context"]
            .as_str()
            .unwrap()
            .contains("for Smith Law"),
        "{detail}"
    );
    assert_eq!(detail["campaign_id"], id.as_str());
    // The events tell the story.
    let (_, events) = server.get(key, "/api/v1/events?limit=100").await;
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default())
        .collect();
    for kind in [
        "campaign.started",
        "campaign.paused",
        "campaign.resumed",
        "campaign.canceled",
        "contact.completed",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
}

#[tokio::test]
async fn contacts_are_added_once_per_key_and_bad_rows_are_skipped_with_their_reason() {
    let server = Server::start().await;
    let boot = server.bootstrap("append@example.com");
    let key = &boot.test_key;
    let (status, lead) = server
        .post(
            key,
            "/api/v1/leads",
            json!({"name": "Ann Lee", "phone": "+15125550177"}),
        )
        .await;
    assert_eq!(status, 201, "{lead}");
    let rows = json!([
        {"key": "crm-1", "to": "+15125550171", "name": "One"},
        {"key": "crm-2", "to": "+15125550172", "variables": {"appointment": "Tuesday 2pm"}},
        {"key": "crm-3", "to": "+15125550173"},
    ]);
    let (status, created) = server
        .post(
            key,
            "/api/v1/campaigns",
            json!({"name": "Reminders", "agent_id": boot.agent_id, "contacts": rows}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "draft");
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/v1/campaigns/contacts?id={id}");
    // The same rows again: nothing added.
    let (status, again) = server.post(key, &path, json!({"contacts": rows})).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["added"], 0);
    assert_eq!(again["already_present"], 3);
    assert_eq!(again["total"], 3);
    // A new key with a number already present, an invalid number, a lead by id (its
    // number and name), and a row repeated within the request.
    let (status, more) = server
        .post(
            key,
            &path,
            json!({
                "contacts": [
                    {"key": "crm-4", "to": "+15125550171"},
                    {"key": "crm-5", "to": "555-0199"},
                    {"key": "crm-6", "to": "+15125550176"},
                    {"key": "crm-6", "to": "+15125550176"},
                ],
                "lead_ids": [lead["id"]],
            }),
        )
        .await;
    assert_eq!(status, 200, "{more}");
    assert_eq!(more["added"], 4, "{more}");
    assert_eq!(more["duplicate"], 1);
    assert_eq!(more["invalid_number"], 1);
    assert_eq!(more["total"], 7);
    let (_, same) = server
        .post(key, &path, json!({"lead_ids": [lead["id"]]}))
        .await;
    assert_eq!(same["added"], 0, "a lead is keyed by its id");

    let contacts = all_contacts(&server, key, id).await;
    let by_key = |k: &str| {
        contacts
            .iter()
            .find(|c| c["key"] == k)
            .unwrap_or_else(|| panic!("{k} in {contacts:?}"))
            .clone()
    };
    assert_eq!(by_key("crm-4")["state"], "skipped");
    assert_eq!(by_key("crm-4")["skip_reason"], "duplicate");
    assert_eq!(by_key("crm-5")["skip_reason"], "invalid_number");
    assert_eq!(by_key("crm-2")["variables"]["appointment"], "Tuesday 2pm");
    let from_lead = by_key(lead["id"].as_str().unwrap());
    assert_eq!(from_lead["to"], "+15125550177");
    assert_eq!(from_lead["name"], "Ann Lee");
    assert_eq!(from_lead["lead_id"], lead["id"]);
    let c = campaign(&server, key, id).await;
    assert_eq!(c["skip_reasons"]["duplicate"], 1);
    assert_eq!(c["skip_reasons"]["invalid_number"], 1);
    assert_eq!(c["counts"]["pending"], 5);
    // The refusals are on record with their reasons.
    let (_, refusals) = server.get(key, "/api/v1/compliance/refusals").await;
    let reasons: Vec<&str> = refusals["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"duplicate") && reasons.contains(&"invalid_number"));

    // Leads by filter: the status picks them, each keyed by its id, with its number.
    for (phone, status) in [
        ("+15125550181", "new"),
        ("+15125550182", "new"),
        ("+15125550183", "qualified"),
    ] {
        let (code, lead) = server
            .post(
                key,
                "/api/v1/leads",
                json!({"phone": phone, "status": status}),
            )
            .await;
        assert_eq!(code, 201, "{lead}");
    }
    let (status, by_filter) = server
        .post(
            key,
            "/api/v1/campaigns",
            json!({"name": "New leads", "agent_id": boot.agent_id, "lead_filter": {"status": ["new"]}}),
        )
        .await;
    assert_eq!(status, 201, "{by_filter}");
    // Ann Lee (above) is `new` too; the qualified lead is left out.
    assert_eq!(by_filter["contacts_added"]["added"], 3, "{by_filter}");
    let picked: Vec<String> = all_contacts(&server, key, by_filter["id"].as_str().unwrap())
        .await
        .iter()
        .map(|c| c["to"].as_str().unwrap().to_string())
        .collect();
    assert!(
        picked.contains(&"+15125550181".to_string())
            && picked.contains(&"+15125550182".to_string())
            && !picked.contains(&"+15125550183".to_string()),
        "{picked:?}"
    );

    // Validation names the parameter; a key without campaigns:write is refused.
    for (body, param) in [
        (json!({"agent_id": boot.agent_id}), "name"),
        (
            json!({"name": "x", "agent_id": boot.agent_id, "max_concurrency": 0}),
            "max_concurrency",
        ),
        (
            json!({"name": "x", "agent_id": boot.agent_id, "retry": {"retry_on": ["hangup"]}}),
            "retry.retry_on",
        ),
        (
            json!({"name": "x", "agent_id": boot.agent_id, "require_consent": "verbal"}),
            "require_consent",
        ),
        (
            json!({"name": "x", "agent_id": boot.agent_id, "calling_window": {"start": "22:00", "end": "09:00"}}),
            "calling_window",
        ),
        (
            json!({"name": "x", "agent_id": boot.agent_id, "ends_at": "2020-01-01T00:00:00Z"}),
            "ends_at",
        ),
    ] {
        let (status, err) = server.post(key, "/api/v1/campaigns", body).await;
        assert_eq!(status, 400, "{err}");
        assert_eq!(err["error"]["param"], param, "{err}");
    }
    let (status, err) = server
        .post(
            key,
            "/api/v1/campaigns",
            json!({"name": "x", "agent_id": "no-such-agent"}),
        )
        .await;
    assert_eq!((status.as_u16(), code(&err)), (404, "not_found"));
    let session = server.login("append@example.com").await;
    let (status, read_only) = server
        .with_session(
            &session,
            Method::POST,
            "/api/v1/keys",
            Some(json!({"name": "reader", "mode": "test", "scopes": ["campaigns:read"]})),
        )
        .await;
    assert_eq!(status, 201, "{read_only}");
    let reader = read_only["key"].as_str().unwrap();
    let (status, _) = server
        .post(
            reader,
            &format!("/api/v1/campaigns/start?id={id}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = server
        .get(reader, &format!("/api/v1/campaigns?id={id}"))
        .await;
    assert_eq!(status, 200);
    // The live key sees the test-mode campaign as nothing.
    let (status, _) = server
        .get(&boot.live_key, &format!("/api/v1/campaigns?id={id}"))
        .await;
    assert_eq!(status, 404);
    let (_, list) = server.get(key, "/api/v1/campaigns").await;
    let listed: Vec<&str> = list["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 2, "newest first: {listed:?}");
    assert_eq!(listed[1], id);
}

#[tokio::test]
async fn a_kill_9_while_a_campaign_runs_dials_no_contact_twice_and_loses_none() {
    let mut server = Server::builder()
        .env("KAICALLS_SIM_SPEED", "20")
        .start()
        .await;
    let boot = server.bootstrap("kill@example.com");
    let key = boot.test_key.clone();
    let (status, created) = server
        .post(
            &key,
            "/api/v1/campaigns",
            json!({
                "name": "Crash",
                "agent_id": boot.agent_id,
                "max_concurrency": 8,
                "contacts": numbers(60, 100),
                "start": true,
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    eventually(30, "a third of the list dialed", || async {
        let n = campaign_calls(&server, &key, &id).await.len();
        (n >= 20).then_some(()).ok_or_else(|| "not yet".to_string())
    })
    .await;
    server.kill_and_restart().await;
    let done = eventually(120, "the campaign completed after the restart", || async {
        let c = campaign(&server, &key, &id).await;
        (c["status"] == "completed")
            .then_some(c)
            .ok_or_else(|| "not yet".to_string())
    })
    .await;
    let contacts = all_contacts(&server, &key, &id).await;
    assert_eq!(contacts.len(), 60, "no contact lost");
    let calls = campaign_calls(&server, &key, &id).await;
    let mut per_number = std::collections::HashMap::<String, usize>::new();
    for call in &calls {
        *per_number
            .entry(call["to"].as_str().unwrap().into())
            .or_default() += 1;
    }
    for c in &contacts {
        let to = c["to"].as_str().unwrap();
        assert_eq!(
            per_number.get(to).copied(),
            Some(1),
            "{to}: dialed once: {c}"
        );
        assert!(
            ["completed", "failed"].contains(&c["state"].as_str().unwrap()),
            "{c}"
        );
    }
    assert_eq!(
        done["counts"]["completed"].as_i64().unwrap() + done["counts"]["failed"].as_i64().unwrap(),
        60
    );
    assert!(peak_concurrency(&calls) <= 8);
}
