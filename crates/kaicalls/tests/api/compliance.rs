//! The pre-dial gate and the compliance API through the real binary: the
//! do-not-call list (one number, an import, removal with a reason), opt-out heard on
//! a call, calling hours in the recipient's local time (and the business turning
//! them off for single calls), a state's frequency cap, consent records, and every
//! refusal recorded with its reason.

use chrono::Utc;
use kaicalls::compliance::zones;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{code, param, Server};

async fn call(server: &Server, key: &str, agent: &str, to: &str) -> (StatusCode, Value) {
    server
        .post(key, "/api/v1/calls", json!({"agent_id": agent, "to": to}))
        .await
}

/// A (non-sandbox) number whose recipient is outside calling hours right now, and
/// one inside them; at least one of New York, Honolulu, Guam and London is closed
/// at any hour, and one is open.
fn closed_and_open_numbers() -> (&'static str, &'static str) {
    let candidates = [
        "+12122001234",
        "+18082001234",
        "+16713001234",
        "+442079460958",
    ];
    let now = Utc::now();
    let state = |to: &str| {
        let place = zones::of_number(to);
        let (window, _) = zones::legal_window(place.state);
        // Two minutes from either edge, so the server decides as we did.
        let edge = [-2, 0, 2].iter().any(|m| {
            let at = now + chrono::Duration::minutes(*m);
            zones::allowed(&place.zones, &window, at) != zones::allowed(&place.zones, &window, now)
        });
        (zones::allowed(&place.zones, &window, now), edge)
    };
    let closed = candidates
        .iter()
        .find(|to| state(to) == (false, false))
        .expect("one candidate is closed now");
    let open = candidates
        .iter()
        .find(|to| state(to) == (true, false))
        .expect("one candidate is open now");
    (closed, open)
}

#[tokio::test]
async fn the_do_not_call_list_blocks_every_dial_and_keeps_its_history() {
    let server = Server::start().await;
    let boot = server.bootstrap("dnc@example.com");
    let key = &boot.test_key;
    let to = "+15125550142";
    let (status, added) = server
        .post(
            key,
            "/api/v1/dnc",
            json!({"phone": to, "reason": "asked by email"}),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["added"], 1);
    assert_eq!(added["entries"][0]["source"], "api");

    let (status, refused) = call(&server, key, &boot.agent_id, to).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(code(&refused), "dnc_blocked");
    assert_eq!(param(&refused), "to");
    // The live key is refused too: the list is the business's.
    let (status, _) = call(&server, &boot.live_key, &boot.agent_id, to).await;
    assert_eq!(status, 403);
    let (_, refusals) = server.get(key, "/api/v1/compliance/refusals").await;
    assert_eq!(refusals["refusals"][0]["reason"], "dnc");
    assert_eq!(refusals["refusals"][0]["phone"], to);
    let (_, calls) = server.get(key, "/api/v1/calls?limit=100").await;
    assert!(
        calls["calls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["to"] != to),
        "nothing dialed"
    );

    // An import: new, already listed, and invalid numbers counted apart.
    let numbers =
        json!(["+15125550143", to, {"phone": "+15125550144", "reason": "court order"}, "12345"]);
    let (status, imported) = server
        .post(key, "/api/v1/dnc", json!({"numbers": numbers}))
        .await;
    assert_eq!(status, 201, "{imported}");
    assert_eq!(
        (
            imported["added"].as_i64(),
            imported["already_listed"].as_i64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(imported["invalid"][0]["index"], 3);
    let (status, again) = server
        .post(key, "/api/v1/dnc", json!({"numbers": numbers}))
        .await;
    assert_eq!(
        (status, again["added"].as_i64()),
        (StatusCode::OK, Some(0)),
        "importing twice adds none"
    );
    let (_, listed) = server.get(key, "/api/v1/dnc").await;
    assert_eq!(listed["entries"].as_array().unwrap().len(), 3);

    // Taken off with a reason: dialable again, the entry kept.
    let (status, body) = server
        .call(
            Method::DELETE,
            "/api/v1/dnc?phone=%2B15125550142",
            Some(key),
            None,
        )
        .await;
    assert_eq!((status, param(&body)), (StatusCode::BAD_REQUEST, "reason"));
    let (status, removed) = server
        .call(
            Method::DELETE,
            "/api/v1/dnc?phone=%2B15125550142&reason=consent%20renewed",
            Some(key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{removed}");
    assert_eq!(removed["removed_reason"], "consent renewed");
    let (status, placed) = call(&server, key, &boot.agent_id, to).await;
    assert_eq!(status, 201, "{placed}");
    let (_, history) = server
        .get(key, "/api/v1/dnc?phone=%2B15125550142&include_removed=true")
        .await;
    assert_eq!(history["entries"][0]["removed_reason"], "consent renewed");

    // Each listing is an event.
    let (_, events) = server.get(key, "/api/v1/events?event_type=dnc.added").await;
    assert_eq!(events["events"].as_array().unwrap().len(), 3, "{events}");
}

#[tokio::test]
async fn an_opt_out_heard_on_a_call_lists_the_number_at_once() {
    let server = Server::start().await;
    let boot = server.bootstrap("optout@example.com");
    let key = &boot.test_key;
    let (status, placed) = call(&server, key, &boot.agent_id, "+15005550007").await;
    assert_eq!(status, 201, "{placed}");
    let done = server
        .wait_terminal(key, placed["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["opt_out"], true, "{done}");
    let (_, listed) = server.get(key, "/api/v1/dnc?phone=%2B15005550007").await;
    let entry = &listed["entries"][0];
    assert_eq!(entry["source"], "call");
    assert_eq!(entry["call_id"], placed["id"]);
    let (status, refused) = call(&server, key, &boot.agent_id, "+15005550007").await;
    assert_eq!(
        (status, code(&refused)),
        (StatusCode::FORBIDDEN, "dnc_blocked")
    );
    // An ordinary call does not opt out.
    let (_, other) = call(&server, key, &boot.agent_id, "+15125550150").await;
    let other = server
        .wait_terminal(key, other["id"].as_str().unwrap())
        .await;
    assert_eq!(other["opt_out"], false);
}

#[tokio::test]
async fn calling_hours_are_the_recipients_and_the_business_may_lift_them_for_single_calls() {
    let server = Server::start().await;
    let boot = server.bootstrap("hours@example.com");
    let key = &boot.live_key;
    let (closed, open) = closed_and_open_numbers();

    let (status, refused) = call(&server, key, &boot.agent_id, closed).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(code(&refused), "outside_calling_hours");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("next allowed moment"),
        "{refused}"
    );
    let (_, refusals) = server.get(key, "/api/v1/compliance/refusals").await;
    let decision = &refusals["refusals"][0]["decision"];
    assert_eq!(decision["allowed"], false);
    assert_eq!(decision["enforced"], true);
    assert!(decision["next_allowed_at"].is_string(), "{decision}");

    let (status, placed) = call(&server, key, &boot.agent_id, open).await;
    assert_eq!(status, 201, "{placed}");
    let (_, detail) = server
        .get(
            key,
            &format!("/api/v1/calls?id={}", placed["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(detail["compliance"]["allowed"], true);
    assert_eq!(detail["compliance"]["zone_source"], "number");

    // A sandbox number (NXX 555) is decided, not held.
    let (status, sandbox) = call(&server, key, &boot.agent_id, "+12125550123").await;
    assert_eq!(status, 201, "{sandbox}");

    // Windows stay inside 08:00–21:00.
    let (status, body) = server
        .call(
            Method::PATCH,
            "/api/v1/compliance/settings",
            Some(key),
            Some(json!({"window_start": "07:00"})),
        )
        .await;
    assert_eq!(
        (status, param(&body)),
        (StatusCode::BAD_REQUEST, "window_start")
    );
    // Lifted for single (non-marketing) calls: placed, and the decision says so.
    let (status, settings) = server
        .call(
            Method::PATCH,
            "/api/v1/compliance/settings",
            Some(key),
            Some(json!({"enforce_single_calls": false})),
        )
        .await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["enforce_single_calls"], false);
    assert!(
        settings["updated_by"].is_string(),
        "who lifted it is recorded"
    );
    let (status, placed) = call(&server, key, &boot.agent_id, closed).await;
    assert_eq!(status, 201, "{placed}");
    let (_, detail) = server
        .get(
            key,
            &format!("/api/v1/calls?id={}", placed["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(detail["compliance"]["allowed"], false);
    assert_eq!(detail["compliance"]["enforced"], false);
}

#[tokio::test]
async fn florida_allows_three_calls_a_day_to_a_number() {
    let server = Server::start().await;
    let boot = server.bootstrap("florida@example.com");
    let key = &boot.test_key;
    // Hours are not what this test is about.
    let (status, _) = server
        .call(
            Method::PATCH,
            "/api/v1/compliance/settings",
            Some(key),
            Some(json!({"enforce_single_calls": false})),
        )
        .await;
    assert_eq!(status, 200);
    let to = "+13052001234";
    for _ in 0..3 {
        let (status, body) = call(&server, key, &boot.agent_id, to).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, refused) = call(&server, key, &boot.agent_id, to).await;
    assert_eq!(
        (status, code(&refused)),
        (StatusCode::CONFLICT, "frequency_cap")
    );
    // Texas has no such cap.
    for _ in 0..4 {
        let (status, _) = call(&server, key, &boot.agent_id, "+15122001234").await;
        assert_eq!(status, 201);
    }
}

#[tokio::test]
async fn consents_are_recorded_listed_and_revoked_with_a_reason() {
    let server = Server::start().await;
    let boot = server.bootstrap("consent@example.com");
    let key = &boot.test_key;
    let (status, bad) = server
        .post(
            key,
            "/api/v1/consents",
            json!({"phone": "+15125550160", "basis": "vibes", "source": "form"}),
        )
        .await;
    assert_eq!((status, param(&bad)), (StatusCode::BAD_REQUEST, "basis"));
    let (status, consent) = server
        .post(
            key,
            "/api/v1/consents",
            json!({"phone": "+15125550160", "basis": "express_written", "source": "https://example.com/intake", "granted_at": "2026-11-01T10:00:00Z"}),
        )
        .await;
    assert_eq!(status, 201, "{consent}");
    assert_eq!(consent["granted_at"], "2026-11-01T10:00:00.000000Z");
    let (_, listed) = server
        .get(key, "/api/v1/consents?phone=%2B15125550160")
        .await;
    assert_eq!(listed["consents"][0]["id"], consent["id"]);
    let id = consent["id"].as_str().unwrap();
    let (status, revoked) = server
        .call(
            Method::DELETE,
            &format!("/api/v1/consents?id={id}&reason=withdrawn"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["revoked_reason"], "withdrawn");
    assert!(revoked["revoked_at"].is_string());
    // Another tenant's consent is not found.
    let other = server.bootstrap("consent-b@example.com");
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/v1/consents?id={id}&reason=x"),
            Some(&other.test_key),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

fn in_secs(secs: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339()
}

#[tokio::test]
async fn a_scheduled_call_waits_queued_and_is_placed_at_its_time() {
    let server = Server::start().await;
    let boot = server.bootstrap("scheduled@example.com");
    let key = &boot.test_key;
    let (status, placed) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15125550170", "scheduled_at": in_secs(2)}),
        )
        .await;
    assert_eq!(status, 201, "{placed}");
    assert_eq!(placed["status"], "queued");
    assert!(placed["scheduled_at"].is_string());
    assert!(placed["conversation_id"].is_null(), "not dialed yet");
    let id = placed["id"].as_str().unwrap();
    let (_, waiting) = server.get(key, &format!("/api/v1/calls?id={id}")).await;
    assert_eq!(waiting["status"], "queued");
    let done = server.wait_terminal(key, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(done["conversation_id"].is_string());

    // Too far ahead, or not a time.
    for (value, what) in [
        (in_secs(91 * 86_400), "far"),
        ("next tuesday".to_string(), "bad"),
    ] {
        let (status, body) = server
            .post(
                key,
                "/api/v1/calls",
                json!({"agent_id": boot.agent_id, "to": "+15125550171", "scheduled_at": value}),
            )
            .await;
        assert_eq!(
            (status, param(&body)),
            (StatusCode::BAD_REQUEST, "scheduled_at"),
            "{what}: {body}"
        );
    }

    // Canceled while it waits: never dialed.
    let (_, later) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15125550172", "scheduled_at": in_secs(3600)}),
        )
        .await;
    let later_id = later["id"].as_str().unwrap();
    let (status, ended) = server
        .call(
            Method::POST,
            &format!("/api/v1/calls/end?id={later_id}"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(ended["status"], "canceled");
    assert!(ended["conversation_id"].is_null());
}

#[tokio::test]
async fn a_call_outside_calling_hours_may_ask_to_wait_for_them() {
    let server = Server::start().await;
    let boot = server.bootstrap("respect@example.com");
    let key = &boot.live_key;
    let (closed, _) = closed_and_open_numbers();
    let (status, moved) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": closed, "respect_calling_hours": true}),
        )
        .await;
    assert_eq!(status, 201, "{moved}");
    assert_eq!(moved["status"], "queued");
    let at = chrono::DateTime::parse_from_rfc3339(moved["scheduled_at"].as_str().unwrap()).unwrap();
    assert!(at > Utc::now(), "moved to the next allowed moment");
    let place = zones::of_number(closed);
    let (window, _) = zones::legal_window(place.state);
    assert!(
        zones::allowed(&place.zones, &window, at.with_timezone(&Utc)),
        "{at} is inside the window"
    );
}

#[tokio::test]
async fn a_scheduled_call_to_a_number_listed_meanwhile_is_canceled_not_dialed() {
    let server = Server::start().await;
    let boot = server.bootstrap("listed-later@example.com");
    let key = &boot.test_key;
    let to = "+15125550173";
    let (_, placed) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": to, "scheduled_at": in_secs(2)}),
        )
        .await;
    let (status, _) = server.post(key, "/api/v1/dnc", json!({"phone": to})).await;
    assert_eq!(status, 201);
    let done = server
        .wait_terminal(key, placed["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "canceled", "{done}");
    assert!(
        done["error"].as_str().unwrap().contains("do-not-call"),
        "{done}"
    );
    assert!(done["conversation_id"].is_null(), "never dialed");
    let (_, refusals) = server.get(key, "/api/v1/compliance/refusals").await;
    assert_eq!(refusals["refusals"][0]["reason"], "dnc");
}
