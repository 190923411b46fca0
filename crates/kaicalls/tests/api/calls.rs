//! Call lifecycle: the simulator's outcomes, rate limits, paging, modes, restarts.

use std::collections::HashSet;

use futures_like::join_all;
use serde_json::{json, Value};

use crate::harness::{code, Server};

/// Runs futures concurrently (a tiny stand-in for `futures::join_all` on tokio tasks).
mod futures_like {
    pub async fn join_all<F>(futures: Vec<F>) -> Vec<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            out.push(h.await.expect("task"));
        }
        out
    }
}

#[tokio::test]
async fn every_magic_number_ends_as_specified() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.live_key;
    let place = |to: &str, extra: Value| {
        let mut body = json!({"agent_id": boot.agent_id, "to": to});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        server.post(key, "/api/v1/calls", body)
    };

    let cases = [
        ("+15005550001", "failed", "no_answer"),
        ("+15005550002", "failed", "busy"),
        ("+15005550003", "failed", "invalid_number"),
        ("+15005550004", "completed", "voicemail"),
    ];
    for (to, status, reason) in cases {
        let (code_, created) = place(to, json!({})).await;
        assert_eq!(code_, 201, "{created}");
        let call = server
            .wait_terminal(key, created["id"].as_str().unwrap())
            .await;
        assert_eq!(call["status"], status, "{to}: {call}");
        assert_eq!(call["ended_reason"], reason, "{to}");
        if status == "failed" {
            assert_eq!(call["error"], reason);
            assert_eq!(call["duration"], Value::Null);
            assert_eq!(call["cost_cents"], 0);
        } else {
            assert!(call["summary"].as_str().unwrap().contains("voicemail"));
            assert_eq!(call["transcript"].as_array().unwrap().len(), 1);
        }
    }

    // Refused at dial: 500 call_failed, and the call is recorded as failed.
    let (status, err) = place("+15005550005", json!({})).await;
    assert_eq!((status.as_u16(), code(&err)), (500, "call_failed"));
    let (_, list) = server
        .get(key, "/api/v1/calls?status=failed&limit=100")
        .await;
    let refused = list["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["to"] == "+15005550005")
        .expect("refused call recorded");
    assert_eq!(refused["ended_reason"], "provider_error");

    // Never hangs up: the engine ends it at max_duration.
    let (_, created) = place("+15005550006", json!({"max_duration": 10})).await;
    let call = server
        .wait_terminal(key, created["id"].as_str().unwrap())
        .await;
    assert_eq!(call["status"], "completed");
    assert_eq!(call["ended_reason"], "max_duration");
    assert_eq!(call["duration"], 10);
    assert_eq!(call["cost_cents"], 5);
    // The agent's default applies when the call gives none.
    let (_, created) = place("+15005550006", json!({})).await;
    let call = server
        .wait_terminal(key, created["id"].as_str().unwrap())
        .await;
    assert_eq!(
        (call["duration"].as_i64(), call["max_duration"].as_i64()),
        (Some(600), Some(600))
    );
}

#[tokio::test]
async fn sixty_first_call_in_a_minute_is_rate_limited() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let body = json!({"agent_id": boot.agent_id, "to": "+15125551234"});
    for i in 0..60 {
        let (status, created) = server
            .post(&boot.test_key, "/api/v1/calls", body.clone())
            .await;
        assert_eq!(status, 201, "call {i}: {created}");
    }
    let resp = server
        .request(reqwest::Method::POST, "/api/v1/calls")
        .bearer_auth(&boot.test_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert!(resp.headers()["ratelimit-policy"]
        .to_str()
        .unwrap()
        .contains("q=60"));
    assert!(resp.headers()["ratelimit"]
        .to_str()
        .unwrap()
        .contains("r=0"));
    assert_eq!(code(&resp.json().await.unwrap()), "rate_limited");
    // Another key has its own budget, and reads are limited separately.
    let (status, _) = server.post(&boot.live_key, "/api/v1/calls", body).await;
    assert_eq!(status, 201);
    assert_eq!(server.get(&boot.test_key, "/api/v1/calls").await.0, 200);
}

#[tokio::test]
async fn paging_with_after_returns_each_of_120_calls_exactly_once() {
    let server = Server::builder()
        .env("KAICALLS_RATE_LIMIT_CALLS_PER_MIN", "1000")
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let server = std::sync::Arc::new(server);
    let creations: Vec<_> = (0..120)
        .map(|i| {
            let server = server.clone();
            let body = json!({"agent_id": boot.agent_id, "to": format!("+1512555{:04}", 2000 + i)});
            let key = boot.live_key.clone();
            async move { server.post(&key, "/api/v1/calls", body).await }
        })
        .collect();
    let mut created = HashSet::new();
    for (status, call) in join_all(creations).await {
        assert_eq!(status, 201, "{call}");
        created.insert(call["id"].as_str().unwrap().to_string());
    }
    assert_eq!(created.len(), 120);

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            None => "/api/v1/calls?limit=7".to_string(),
            Some(a) => format!("/api/v1/calls?limit=7&after={}", urlencode(a)),
        };
        let (status, page) = server.get(&boot.live_key, &path).await;
        assert_eq!(status, 200, "{page}");
        let calls = page["calls"].as_array().unwrap();
        assert!(calls.len() <= 7);
        for c in calls {
            for field in [
                "id",
                "conversation_id",
                "status",
                "duration",
                "agent_id",
                "agent_name",
                "created_at",
            ] {
                assert!(c.as_object().unwrap().contains_key(field), "{field}");
            }
            seen.push(c["id"].as_str().unwrap().to_string());
        }
        if page["has_more"] == false {
            break;
        }
        after = Some(
            calls.last().unwrap()["created_at"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(seen.len(), 120, "each call once");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), created);
    // Newest first, and the default page is 50.
    let (_, first) = server.get(&boot.live_key, "/api/v1/calls").await;
    assert_eq!(first["calls"].as_array().unwrap().len(), 50);
    assert_eq!(first["calls"][0]["id"].as_str().unwrap(), seen[0]);
    // Filters.
    let (_, by_agent) = server
        .get(
            &boot.live_key,
            &format!("/api/v1/calls?agent_id={}&limit=100", boot.agent_id),
        )
        .await;
    assert_eq!(by_agent["calls"].as_array().unwrap().len(), 100);
    let (_, none) = server
        .get(&boot.live_key, "/api/v1/calls?agent_id=other")
        .await;
    assert_eq!(none["calls"], json!([]));
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A").replace('+', "%2B")
}

#[tokio::test]
async fn test_and_live_modes_never_see_each_other_and_balance_counts_live_minutes() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let body = json!({"agent_id": boot.agent_id, "to": "+15125551234"});

    let (_, live) = server
        .post(&boot.live_key, "/api/v1/calls", body.clone())
        .await;
    let (_, test) = server
        .post(&boot.test_key, "/api/v1/calls", body.clone())
        .await;
    let live_id = live["id"].as_str().unwrap();
    let test_id = test["id"].as_str().unwrap();
    let live_call = server.wait_terminal(&boot.live_key, live_id).await;
    let test_call = server.wait_terminal(&boot.test_key, test_id).await;
    assert_eq!(live_call["mode"], "live");
    assert_eq!(test_call["mode"], "test");
    assert_eq!(test_call["cost_cents"], 0);
    let duration = live_call["duration"].as_i64().unwrap();
    let minutes = (duration + 59) / 60;
    assert_eq!(live_call["cost_cents"], minutes * 5);

    let (status, _) = server
        .get(&boot.test_key, &format!("/api/v1/calls?id={live_id}"))
        .await;
    assert_eq!(status, 404);
    let (status, _) = server
        .get(&boot.live_key, &format!("/api/v1/calls?id={test_id}"))
        .await;
    assert_eq!(status, 404);
    let (_, live_list) = server.get(&boot.live_key, "/api/v1/calls").await;
    let (_, test_list) = server.get(&boot.test_key, "/api/v1/calls").await;
    assert_eq!(live_list["calls"].as_array().unwrap().len(), 1);
    assert_eq!(live_list["calls"][0]["id"], live_id);
    assert_eq!(test_list["calls"].as_array().unwrap().len(), 1);
    assert_eq!(test_list["calls"][0]["id"], test_id);

    // Balance: live minutes only, whichever key asks.
    for key in [&boot.live_key, &boot.test_key] {
        let (_, balance) = server.get(key, "/api/v1/balance").await;
        assert_eq!(balance["businesses"][0]["minutes_used"], minutes);
    }

    // Usage: the POST row carries the call and, once known, its cost; modes are apart.
    let (_, usage) = server.get(&boot.live_key, "/api/v1/usage").await;
    let post = usage["usage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["method"] == "POST")
        .unwrap()
        .clone();
    assert_eq!(post["endpoint"], "/v1/calls");
    assert_eq!(post["status_code"], 201);
    assert_eq!(post["call_id"], live_id);
    assert_eq!(post["cost_cents"], minutes * 5);
    let (_, test_usage) = server.get(&boot.test_key, "/api/v1/usage").await;
    for row in test_usage["usage"].as_array().unwrap() {
        assert_ne!(row["call_id"], live_id);
        assert_eq!(row["cost_cents"], 0);
    }
    assert!(test_usage["usage"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["call_id"] == test_id && r["method"] == "POST"));
}

#[tokio::test]
async fn usage_logs_each_request_with_its_status() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.test_key;
    let start = chrono::Utc::now().to_rfc3339();
    server.get(key, "/api/v1/agents").await;
    server
        .post(key, "/api/v1/calls", json!({"to": "+15125551234"}))
        .await;
    server.get(key, "/api/v1/calls?id=missing").await;
    server.get(key, "/api/v1/nowhere").await;
    let (_, usage) = server
        .get(
            key,
            &format!("/api/v1/usage?start={}", start.replace('+', "%2B")),
        )
        .await;
    let rows: Vec<(String, String, i64)> = usage["usage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["endpoint"].as_str().unwrap().to_string(),
                r["method"].as_str().unwrap().to_string(),
                r["status_code"].as_i64().unwrap(),
            )
        })
        .collect();
    let expect = |e: &str, m: &str, s: i64| (e.to_string(), m.to_string(), s);
    assert_eq!(
        rows,
        [
            expect("/v1/nowhere", "GET", 404),
            expect("/v1/calls", "GET", 404),
            expect("/v1/calls", "POST", 400),
            expect("/v1/agents", "GET", 200),
        ]
    );
    // `end` bounds the other side; `limit` pages.
    let (_, none) = server
        .get(key, "/api/v1/usage?end=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(none["usage"], json!([]));
    let (_, one) = server.get(key, "/api/v1/usage?limit=1").await;
    assert_eq!(one["usage"].as_array().unwrap().len(), 1);
    assert_eq!(one["has_more"], true);
}

#[tokio::test]
async fn a_call_in_flight_when_the_server_dies_finishes_after_restart() {
    let mut server = Server::builder()
        .env("KAICALLS_SIM_SPEED", "20")
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    // A number whose conversation lasts long enough to be caught mid-call.
    let to = (1000..9999)
        .map(|i| format!("+1512555{i:04}"))
        .find(|n| (60..=100).contains(&kaicalls::voice::simulator::Simulator::talk_secs(n)))
        .unwrap();
    let talk = kaicalls::voice::simulator::Simulator::talk_secs(&to);
    let (status, created) = server
        .post(
            &boot.live_key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": to}),
        )
        .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap().to_string();
    server
        .call_until(&boot.live_key, &id, 20, |c| c["status"] == "in_progress")
        .await;
    server.kill_and_restart().await;
    let call = server.wait_terminal(&boot.live_key, &id).await;
    assert_eq!(call["status"], "completed");
    assert_eq!(call["ended_reason"], "customer_hangup");
    assert_eq!(call["duration"], talk);
    let statuses: Vec<&str> = call["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["queued", "ringing", "in_progress", "completed"]);
}

/// `created_after` / `created_before` bound the list (and combine with the cursor);
/// a value that is not a time is refused naming the parameter.
#[tokio::test]
async fn calls_list_by_creation_time_range() {
    let server = Server::start().await;
    let boot = server.bootstrap("range@smithlaw.test");
    let key = &boot.test_key;
    let mut made = vec![];
    for _ in 0..3 {
        let (status, call) = server
            .post(
                key,
                "/api/v1/calls",
                json!({"agent_id": boot.agent_id, "to": "+15005550003"}),
            )
            .await;
        assert_eq!(status, 201, "{call}");
        made.push(call);
    }
    let at = |i: usize| made[i]["created_at"].as_str().unwrap().to_string();
    let ids = |body: &Value| -> Vec<String> {
        body["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let enc = |t: String| t.replace('+', "%2B").replace(':', "%3A");
    let (_, later) = server
        .get(key, &format!("/api/v1/calls?created_after={}", enc(at(1))))
        .await;
    assert_eq!(
        ids(&later),
        [
            made[2]["id"].as_str().unwrap(),
            made[1]["id"].as_str().unwrap()
        ]
    );
    let (_, earlier) = server
        .get(key, &format!("/api/v1/calls?created_before={}", enc(at(1))))
        .await;
    assert_eq!(ids(&earlier), [made[0]["id"].as_str().unwrap()]);
    let (_, between) = server
        .get(
            key,
            &format!(
                "/api/v1/calls?created_after={}&created_before={}",
                enc(at(0)),
                enc(at(2))
            ),
        )
        .await;
    assert_eq!(ids(&between).len(), 2);
    let (status, err) = server
        .get(key, "/api/v1/calls?created_after=yesterday")
        .await;
    assert_eq!(
        (status.as_u16(), crate::harness::param(&err)),
        (400, "created_after")
    );
}
