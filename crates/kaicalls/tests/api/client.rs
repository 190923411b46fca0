//! The Rust client crate and the CLI's client commands, against the real server.

use std::process::Command;
use std::time::{Duration, Instant};

use kaicalls_client::{webhooks, CreateCall, KaiCalls};
use serde_json::{json, Value};

use crate::harness::{Server, BIN};
use crate::receiver::Receiver;

#[tokio::test]
async fn the_client_pages_through_250_calls_once_each_and_types_its_errors() {
    let server = Server::builder()
        .env("KAICALLS_RATE_LIMIT_CALLS_PER_MIN", "100000")
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let kai = KaiCalls::with_base_url(&boot.test_key, &server.url);
    let mut created = std::collections::HashSet::new();
    for _ in 0..250 {
        let call = kai
            .create_call(&CreateCall::new(&boot.agent_id, "+15005550003"))
            .await
            .unwrap();
        created.insert(call.id);
    }
    let all = kai.all_calls(37).await.unwrap();
    assert_eq!(all.len(), 250);
    let seen: std::collections::HashSet<String> = all.into_iter().map(|c| c.id).collect();
    assert_eq!(seen, created);

    let err = kai
        .create_call(&CreateCall::new(&boot.agent_id, "555-1234"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.status, err.code.as_str(), err.param.as_deref()),
        (400, "invalid_request", Some("to"))
    );
    assert!(err.request_id.is_some_and(|id| id.starts_with("req_")));
    let err = KaiCalls::with_base_url("kc_live_nope", &server.url)
        .list_agents()
        .await
        .unwrap_err();
    assert_eq!((err.status, err.code.as_str()), (401, "unauthorized"));
}

#[tokio::test]
async fn the_client_retries_a_429_after_its_retry_after() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                (
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "1")],
                    axum::Json(json!({"error": {"code": "rate_limited", "message": "slow down"}})),
                )
            } else {
                (
                    axum::http::StatusCode::OK,
                    [("retry-after", "0")],
                    axum::Json(json!({"agents": [{"id": "a1", "name": "Kai"}]})),
                )
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let started = Instant::now();
    let agents = KaiCalls::with_base_url("kc_test_x", &url)
        .list_agents()
        .await
        .unwrap();
    assert_eq!(agents[0]["id"], "a1");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited Retry-After"
    );
}

#[tokio::test]
async fn a_webhook_the_server_signed_verifies_with_the_clients_helper() {
    let server = Server::builder()
        .env("KAICALLS_ALLOW_PRIVATE_WEBHOOKS", "true")
        .start()
        .await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let receiver = Receiver::start().await;
    let kai = KaiCalls::with_base_url(&boot.live_key, &server.url);
    kai.create_call(&CreateCall::new(&boot.agent_id, "+15005550002").webhook_url(&receiver.url))
        .await
        .unwrap();
    let got = receiver
        .wait_until(30, "call.failed", |r| !r.is_empty())
        .await;
    let hook = &got[0];
    let headers = |name: &str| match name {
        "webhook-id" => Some(hook.webhook_id.clone()),
        "webhook-timestamp" => Some(hook.timestamp.to_string()),
        "webhook-signature" => Some(hook.signature.clone()),
        _ => None,
    };
    let now = hook.timestamp + 5;
    assert_eq!(
        webhooks::verify(&hook.body, headers, &boot.webhook_secret, now, 300),
        Ok(())
    );
    let changed = hook.body.replace("failed", "completed");
    assert!(webhooks::verify(&changed, headers, &boot.webhook_secret, now, 300).is_err());
    assert!(webhooks::verify(&hook.body, headers, "whsec_d3Jvbmc=", now, 300).is_err());
    assert!(webhooks::verify(&hook.body, headers, &boot.webhook_secret, now + 600, 300).is_err());
}

fn cli(server: &Server, key: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("KAICALLS_API_KEY", key)
        .env("KAICALLS_BASE_URL", &server.url)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn the_cli_places_follows_lists_and_ends_calls() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let agent = boot.agent_id.clone();
    // The server is another process: blocking this test's thread on the CLI is fine.
    let run = |args: &[&str]| cli(&server, &boot.test_key, args);

    let (code, out, _) = run(&[
        "call",
        "+15125551234",
        "--agent",
        &agent,
        "--name",
        "John Smith",
        "--wait",
        "--json",
    ]);
    assert_eq!(code, 0);
    let call: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(call["status"], "completed");
    assert!(call["summary"].as_str().is_some_and(|s| !s.is_empty()));
    let id = call["id"].as_str().unwrap().to_string();

    let (code, out, _) = run(&["calls", "list", "--json"]);
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    let (code, out, _) = run(&["calls", "get", &id]);
    assert_eq!(code, 0);
    assert!(out.contains("completed") && out.contains("summary"));
    let (code, out, _) = run(&["agents", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains(&agent) && out.contains("Kai"));

    // A call that fails exits 3; one that never ends is ended.
    let (code, _, err) = run(&["call", "+15005550001", "--agent", &agent, "--wait"]);
    assert_eq!(code, 3, "{err}");
    let (code, out, _) = run(&["call", "+15005550006", "--agent", &agent, "--json"]);
    assert_eq!(code, 0);
    let live: Value = serde_json::from_str(&out).unwrap();
    let (code, out, _) = run(&["calls", "end", live["id"].as_str().unwrap(), "--json"]);
    assert_eq!(code, 0);
    let ended: Value = serde_json::from_str(&out).unwrap();
    assert!(["canceled", "completed"].contains(&ended["status"].as_str().unwrap()));

    // Errors exit 1 and say why.
    let (code, _, err) = run(&["call", "555-1234", "--agent", &agent]);
    assert_eq!(code, 1);
    assert!(
        err.contains("invalid_request") && err.contains("param: to"),
        "{err}"
    );
    let out = Command::new(BIN)
        .args(["calls", "list"])
        .env("KAICALLS_API_KEY", "kc_live_wrong")
        .env("KAICALLS_BASE_URL", &server.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unauthorized"));
}

#[tokio::test]
async fn the_client_covers_the_rest_of_the_api() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let kai = KaiCalls::with_base_url(&boot.live_key, &server.url);
    let lead = kai
        .create_lead(&json!({"name": "Ann Lee", "phone": "+15125550301", "score": 70}))
        .await
        .unwrap();
    let id = lead["id"].as_str().unwrap();
    let updated = kai
        .update_lead(&json!({"id": id, "status": "qualified"}))
        .await
        .unwrap();
    assert_eq!(updated["status"], "qualified");
    assert_eq!(kai.get_lead(id).await.unwrap()["name"], "Ann Lee");
    let leads = kai
        .list_leads(&[("status", "qualified".into())])
        .await
        .unwrap();
    assert_eq!(leads["leads"][0]["id"], id);

    let agent = kai.create_agent(&json!({"name": "Intake"})).await.unwrap();
    let agent_id = agent["id"].as_str().unwrap();
    kai.update_agent(&json!({"id": agent_id, "vapi_assistant_id": "asst"}))
        .await
        .unwrap();
    assert_eq!(
        kai.get_agent(agent_id).await.unwrap()["vapi_assistant_id"],
        "asst"
    );
    kai.assign_phone_number(&json!({"phone_number": "+15125550777", "agent_id": agent_id}))
        .await
        .unwrap();
    assert_eq!(
        kai.list_phone_numbers().await.unwrap()["numbers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    kai.release_phone_number("+15125550777").await.unwrap();

    let sub = kai
        .create_webhook(
            &json!({"webhook_url": "https://example.com/hook", "events": ["call.completed"]}),
        )
        .await
        .unwrap();
    let sub_id = sub["id"].as_str().unwrap();
    assert!(sub["webhook_secret"]
        .as_str()
        .unwrap()
        .starts_with("whsec_"));
    assert!(kai.rotate_webhook_secret(sub_id).await.unwrap()["webhook_secret"].is_string());
    assert_eq!(
        kai.list_webhooks().await.unwrap()["webhooks"][0]["id"],
        sub_id
    );
    kai.delete_webhook(sub_id).await.unwrap();
    assert_eq!(
        kai.webhook_secret().await.unwrap()["webhook_secret"],
        boot.webhook_secret.as_str()
    );

    let events = kai.list_events(&[("object_id", id.into())]).await.unwrap();
    assert_eq!(
        events["events"].as_array().unwrap().len(),
        2,
        "lead.created and lead.updated"
    );
    assert!(kai.list_deliveries(&[]).await.unwrap()["deliveries"].is_array());
    assert_eq!(
        kai.balance().await.unwrap()["businesses"][0]["business_id"],
        boot.business_id.as_str()
    );
    assert!(kai.usage(&[("limit", "5".into())]).await.unwrap()["usage"].is_array());
    assert_eq!(kai.health().await.unwrap()["status"], "ok");
    assert_eq!(kai.openapi().await.unwrap()["openapi"], "3.1.0");
    let err = kai.get_recording("missing").await.unwrap_err();
    assert_eq!((err.status, err.code.as_str()), (404, "not_found"));
    assert!(kai.list_transcripts(&[]).await.unwrap()["transcripts"].is_array());
}

#[tokio::test]
async fn the_cli_creates_lists_shows_pauses_resumes_and_cancels_campaigns() {
    let server = Server::builder()
        .env("KAICALLS_SIM_SPEED", "5")
        .start()
        .await;
    let boot = server.bootstrap("cli-campaigns@example.com");
    let key = &boot.test_key;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("contacts.csv");
    std::fs::write(
        &csv,
        "to,name,appointment\n+15125554001,Ann,Tuesday 2pm\n+15125554002,Bob,Wednesday 9am\nnot-a-number,Cy,\n",
    )
    .unwrap();
    let (code, out, err) = cli(
        &server,
        key,
        &[
            "campaigns",
            "create",
            "--name",
            "Reminders",
            "--agent",
            &boot.agent_id,
            "--contacts",
            csv.to_str().unwrap(),
            "--context",
            "Confirm {{name}}'s appointment on {{appointment}}",
            "--max-concurrency",
            "1",
            "--start",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["status"], "running");
    assert_eq!(created["contacts_added"]["added"], 3);
    assert_eq!(created["contacts_added"]["invalid_number"], 1);

    let (code, out, _) = cli(&server, key, &["campaigns", "pause", &id]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("paused") && out.contains("Reminders"), "{out}");
    let (code, out, _) = cli(&server, key, &["campaigns", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains(&id) && out.contains("paused"), "{out}");
    let (code, out, _) = cli(&server, key, &["campaigns", "get", &id]);
    assert_eq!(code, 0);
    assert!(out.contains("invalid_number 1"), "{out}");
    let (code, out, _) = cli(&server, key, &["campaigns", "resume", &id, "--json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["status"],
        "running"
    );
    // The variables from the CSV reach the call.
    let mut calls = serde_json::Value::Null;
    for _ in 0..50 {
        (_, calls) = server
            .get(key, &format!("/api/v1/calls?campaign_id={id}"))
            .await;
        if !calls["calls"][0].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let first = calls["calls"][0]["id"].as_str().expect("one call placed");
    let (_, detail) = server.get(key, &format!("/api/v1/calls?id={first}")).await;
    assert!(
        detail["context"]
            .as_str()
            .unwrap()
            .contains("appointment on"),
        "{detail}"
    );
    let (code, out, _) = cli(&server, key, &["campaigns", "cancel", &id]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("canceled"), "{out}");
    // Canceling twice is a clear error, exit 1.
    let (code, _, err) = cli(&server, key, &["campaigns", "cancel", &id]);
    assert_eq!(code, 1);
    assert!(err.contains("conflict (409)"), "{err}");
}

#[tokio::test]
async fn the_cli_rings_the_sandbox_and_lists_voicemails() {
    let server = Server::start().await;
    let boot = server.bootstrap("owner@smithlaw.test");
    let run = |args: &[&str]| cli(&server, &boot.test_key, args);
    let (code, out, err) = run(&[
        "sandbox",
        "ring",
        "--to",
        &boot.phone_number,
        "--from",
        "+15005550102",
        "--wait",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let call: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["status"], "completed");
    assert_eq!(call["from"], "+15005550102");
    let (code, out, err) = run(&["voicemails", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("+15005550102") && out.contains("car accident"),
        "{out}"
    );
    // A live key is refused, with the server's reason.
    let (code, _, err) = cli(
        &server,
        &boot.live_key,
        &[
            "sandbox",
            "ring",
            "--to",
            &boot.phone_number,
            "--from",
            "+15005550100",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("test key"), "{err}");
}
