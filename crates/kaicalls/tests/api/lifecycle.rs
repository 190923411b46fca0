//! Ending calls, long-polling, and nothing lost when clients or servers die.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{bootstrap_db, Server};
use crate::receiver::Receiver;

async fn wait_status(server: &Server, key: &str, id: &str, want: &str) {
    server
        .call_until(key, id, 30, |c| c["status"] == want)
        .await;
}

#[tokio::test]
async fn ending_queued_ringing_live_and_finished_calls() {
    let server = Server::builder()
        .env("KAICALLS_SIM_SPEED", "2")
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let key = &boot.live_key;
    let server = &server;
    let place = |to: &str| {
        server.post(
            key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": to}),
        )
    };
    let end = |id: String| async move {
        server
            .post(key, &format!("/api/v1/calls/end?id={id}"), json!({}))
            .await
    };

    // Queued (rings after 0.5 s at this speed): canceled.
    let (_, queued) = place("+15125551234").await;
    let (status, ended) = end(queued["id"].as_str().unwrap().into()).await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["status"], "canceled");

    // Ringing: hung up, ended_by_api.
    let (_, ringing) = place("+15005550001").await;
    let id = ringing["id"].as_str().unwrap().to_string();
    wait_status(server, key, &id, "ringing").await;
    let (_, ended) = end(id.clone()).await;
    assert_eq!(
        (ended["status"].as_str(), ended["ended_reason"].as_str()),
        (Some("completed"), Some("ended_by_api"))
    );

    // In progress: hung up with the time talked so far and a transcript.
    let (_, live) = place("+15005550006").await;
    let id = live["id"].as_str().unwrap().to_string();
    wait_status(server, key, &id, "in_progress").await;
    // Long-poll on a call that will not finish: answers after `wait` with its state.
    let started = std::time::Instant::now();
    let (_, polled) = server
        .get(key, &format!("/api/v1/calls?id={id}&wait=1"))
        .await;
    assert_eq!(polled["status"], "in_progress");
    assert!(started.elapsed() >= Duration::from_millis(950));
    let (_, ended) = end(id.clone()).await;
    assert_eq!(ended["ended_reason"], "ended_by_api");
    assert!(ended["duration"].as_i64().unwrap() >= 1);
    assert!(!ended["transcript"].as_array().unwrap().is_empty());
    // The call stays ended: its max_duration timer is gone.
    let (_, again) = server.get(key, &format!("/api/v1/calls?id={id}")).await;
    assert_eq!(again["ended_reason"], "ended_by_api");

    // Finished: 200, unchanged.
    let (_, ended_again) = end(id.clone()).await;
    assert_eq!(ended_again, again);
    let (status, _) = end("missing".into()).await;
    assert_eq!(status, 404);

    // Long-poll answers as soon as the call is terminal.
    let (_, quick) = place("+15005550003").await;
    let started = std::time::Instant::now();
    let (_, polled) = server
        .get(
            key,
            &format!("/api/v1/calls?id={}&wait=30", quick["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(polled["status"], "failed");
    assert!(started.elapsed() < Duration::from_secs(10));
    let (status, _) = server
        .get(key, &format!("/api/v1/calls?id={id}&wait=61"))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn clients_that_disconnect_mid_request_leave_no_half_done_calls() {
    let server = Server::builder()
        .env("KAICALLS_ALLOW_PRIVATE_WEBHOOKS", "true")
        .env("KAICALLS_RATE_LIMIT_CALLS_PER_MIN", "100000")
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let receiver = Receiver::start().await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(3))
        .build()
        .unwrap();
    let mut cut = 0;
    for i in 0..200 {
        let result = impatient
            .post(format!("{}/api/v1/calls", server.url))
            .bearer_auth(&boot.live_key)
            .json(&json!({"agent_id": boot.agent_id, "to": format!("+1512555{:04}", 3000 + i), "webhook_url": receiver.url}))
            .send()
            .await;
        if result.is_err() {
            cut += 1;
        }
    }
    eprintln!("{cut} of 200 requests were cut off by the client");

    // Every call that exists reaches a terminal state and delivers its webhook.
    let mut ids = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/api/v1/calls?limit=100&after={}", a.replace(':', "%3A")),
            None => "/api/v1/calls?limit=100".into(),
        };
        let (_, page) = server.get(&boot.live_key, &path).await;
        let calls = page["calls"].as_array().unwrap();
        ids.extend(calls.iter().map(|c| c["id"].as_str().unwrap().to_string()));
        if page["has_more"] == false {
            break;
        }
        after = calls
            .last()
            .map(|c| c["created_at"].as_str().unwrap().to_string());
    }
    assert!(!ids.is_empty());
    for id in &ids {
        let call = server.wait_terminal(&boot.live_key, id).await;
        assert_eq!(call["status"], "completed", "{call}");
        assert!(
            call["conversation_id"].is_string(),
            "every recorded call was dialed"
        );
    }
    receiver
        .wait_until(120, "a webhook per call", |r| {
            let got: HashSet<String> = r
                .iter()
                .filter_map(|x| x.json["call_id"].as_str().map(String::from))
                .collect();
            ids.iter().all(|id| got.contains(id))
        })
        .await;
}

/// Checks that every call was dialed once (one conversation, one timeline entry per
/// status) and delivered its webhook, with repeats only as retries of one webhook-id.
fn assert_once_each(calls: &[Value], received: &[crate::receiver::Received]) {
    for call in calls {
        let statuses: Vec<&str> = call["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["status"].as_str().unwrap())
            .collect();
        let unique: HashSet<&&str> = statuses.iter().collect();
        assert_eq!(unique.len(), statuses.len(), "a status twice: {statuses:?}");
        assert_eq!(statuses.first(), Some(&"queued"));
    }
    let mut ids_per_call: HashMap<String, HashSet<String>> = HashMap::new();
    for r in received {
        if let Some(call) = r.json["call_id"].as_str() {
            ids_per_call
                .entry(call.to_string())
                .or_default()
                .insert(r.webhook_id.clone());
        }
    }
    for call in calls {
        let id = call["id"].as_str().unwrap();
        let webhook_ids = ids_per_call
            .get(id)
            .unwrap_or_else(|| panic!("no webhook for {id}"));
        assert_eq!(webhook_ids.len(), 1, "one event, one webhook-id");
    }
}

#[tokio::test]
async fn kill_9_while_calls_ring_and_webhooks_are_pending_loses_nothing() {
    let mut server = Server::builder()
        .env("KAICALLS_SIM_SPEED", "50")
        .env("KAICALLS_ALLOW_PRIVATE_WEBHOOKS", "true")
        .env(
            "KAICALLS_WEBHOOK_RETRY_SCHEDULE",
            "0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3",
        )
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let receiver = Receiver::start().await;
    receiver.plan(&[503; 3]);
    let mut ids = vec![];
    for i in 0..20 {
        let to = if i % 5 == 0 {
            "+15005550002".to_string()
        } else {
            format!("+1512555{:04}", 4000 + i)
        };
        let (status, call) = server
            .post(
                &boot.live_key,
                "/api/v1/calls",
                json!({"agent_id": boot.agent_id, "to": to, "webhook_url": receiver.url}),
            )
            .await;
        assert_eq!(status, 201);
        ids.push(call["id"].as_str().unwrap().to_string());
    }
    // Let some webhooks fail and some calls get going, then kill the server mid-flight.
    receiver
        .wait_until(30, "the first failed attempts", |r| r.len() >= 3)
        .await;
    server.kill_and_restart().await;

    let mut calls = vec![];
    for id in &ids {
        calls.push(server.wait_terminal(&boot.live_key, id).await);
    }
    let received = receiver
        .wait_until(120, "a webhook per call after the restart", |r| {
            let ok: HashSet<&str> = r
                .iter()
                .filter(|x| x.answered == 200)
                .filter_map(|x| x.json["call_id"].as_str())
                .collect();
            ids.iter().all(|id| ok.contains(id.as_str()))
        })
        .await;
    assert_once_each(&calls, &received);
}

#[tokio::test]
async fn two_servers_on_one_postgres_complete_500_calls_each_dialed_once() {
    let Some(admin) = crate::harness::postgres_url("the two-server test") else {
        return;
    };
    let url = crate::account::fresh_postgres_database(&admin).await;
    let env = |b: crate::harness::Builder| {
        b.database(&url)
            .env("KAICALLS_ALLOW_PRIVATE_WEBHOOKS", "true")
            .env("KAICALLS_RATE_LIMIT_CALLS_PER_MIN", "100000")
            .env("KAICALLS_SIM_SPEED", "200")
    };
    let a = env(Server::builder()).start().await;
    let b = env(Server::builder()).start().await;
    let boot = bootstrap_db(&url, "pg@tenant.test", "PG Law");
    let receiver = Receiver::start().await;
    let servers = std::sync::Arc::new([a, b]);
    let mut tasks = vec![];
    for worker in 0..10 {
        let servers = servers.clone();
        let boot = boot.clone();
        let url = receiver.url.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = vec![];
            for i in 0..50 {
                let n = worker * 50 + i;
                let server = &servers[n % 2];
                let (status, call) = server
                    .post(&boot.live_key, "/api/v1/calls", json!({"agent_id": boot.agent_id, "to": format!("+1512555{:04}", 5000 + n), "webhook_url": url}))
                    .await;
                assert_eq!(status, 201, "{call}");
                ids.push(call["id"].as_str().unwrap().to_string());
            }
            ids
        }));
    }
    let mut ids = vec![];
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    assert_eq!(ids.len(), 500);
    let mut calls = vec![];
    for (i, id) in ids.iter().enumerate() {
        calls.push(servers[i % 2].wait_terminal(&boot.live_key, id).await);
    }
    assert!(calls.iter().all(|c| c["status"] == "completed"));
    let received = receiver
        .wait_until(180, "500 webhooks", |r| {
            let got: HashSet<&str> = r
                .iter()
                .filter_map(|x| x.json["call_id"].as_str())
                .collect();
            got.len() >= 500
        })
        .await;
    assert_once_each(&calls, &received);
}
