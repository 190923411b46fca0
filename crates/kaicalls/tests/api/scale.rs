//! Issue 9's guarantees under load, through the real binary: fair webhook delivery,
//! waiting woken by change.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::AsyncReadExt;

use crate::hardening::servers;
use crate::harness::{bootstrap_db, Server};
use crate::receiver::Receiver;

/// A webhook receiver that accepts connections, reads what is sent and never answers.
/// Counts the connections open at once (each holds one delivery).
struct Hanging {
    url: String,
    open: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl Hanging {
    async fn start() -> Hanging {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let open = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (o, m) = (open.clone(), most.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let now = o.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                let o = o.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Hanging { url, open, most }
    }
}

/// Creates `n` leads for `key`, `concurrency` requests at a time; returns each lead's
/// id with the instant its 201 arrived.
async fn create_leads(
    server: &Server,
    key: &str,
    n: usize,
    concurrency: usize,
) -> Vec<(String, Instant)> {
    let created: Arc<std::sync::Mutex<Vec<(String, Instant)>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (url, key) = (server.url.clone(), key.to_string());
        let (created, next) = (created.clone(), next.clone());
        tasks.spawn(async move {
            let http = reqwest::Client::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return;
                }
                let response = http
                    .post(format!("{url}/api/v1/leads"))
                    .bearer_auth(&key)
                    .json(
                        &json!({"name": format!("Lead {i}"), "phone": format!("+1512555{:04}", i)}),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                let body: serde_json::Value = response.json().await.unwrap();
                let id = body["id"].as_str().unwrap().to_string();
                created.lock().unwrap().push((id, Instant::now()));
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let created = created.lock().unwrap().clone();
    created
}

/// One tenant's receiver never answers (every attempt waits out the 15 s timeout);
/// another tenant's 200 webhooks each arrive within 2 s of the request that caused
/// them, and the hanging receiver never holds more deliveries than its cap.
#[tokio::test]
async fn a_hanging_receiver_does_not_delay_another_tenants_webhooks() {
    let builder = || {
        Server::builder()
            .env("KAICALLS_RATE_LIMIT_READS_PER_MIN", "100000")
            .env("KAICALLS_WEBHOOK_RETRY_SCHEDULE", "1,1,1,1,1,1,1,1")
            .env("KAICALLS_WEBHOOK_TARGET_CONCURRENCY", "8")
    };
    for (backend, server) in servers(builder).await {
        let slow = bootstrap_db(&server.db_url, "slow@tenant.test", "Slow Law");
        let fast = bootstrap_db(&server.db_url, "fast@tenant.test", "Fast Clinic");
        let hanging = Hanging::start().await;
        let receiver = Receiver::start().await;
        for (boot, url) in [(&slow, &hanging.url), (&fast, &receiver.url)] {
            // Test keys: their webhooks may go to this loopback receiver.
            let (status, sub) = server
                .post(
                    &boot.test_key,
                    "/api/v1/webhooks",
                    json!({"webhook_url": url, "events": ["lead.created"]}),
                )
                .await;
            assert_eq!(status, 201, "{backend}: {sub}");
        }

        // The slow tenant's 100 webhooks: 8 hang at its receiver, the rest wait.
        create_leads(&server, &slow.test_key, 100, 8).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while hanging.open.load(Ordering::SeqCst) < 8 {
            assert!(
                Instant::now() < deadline,
                "{backend}: the slow tenant's deliveries never reached its receiver"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // The fast tenant's 200, 16 requests at a time, to a receiver that answers
        // at once.
        let created = create_leads(&server, &fast.test_key, 200, 16).await;
        let got = receiver
            .wait_until(30, "200 lead.created webhooks", |r| r.len() >= 200)
            .await;
        let mut late = Vec::new();
        for (id, at) in &created {
            let arrived = got
                .iter()
                .find(|r| r.body.contains(id.as_str()))
                .unwrap_or_else(|| panic!("{backend}: no webhook for lead {id}"));
            late.push(arrived.at.saturating_duration_since(*at));
        }
        late.sort();
        let worst = *late.last().unwrap();
        assert!(
            worst < Duration::from_secs(2),
            "{backend}: the fast tenant's slowest webhook took {worst:?} (median {:?})",
            late[late.len() / 2]
        );
        assert!(
            hanging.open.load(Ordering::SeqCst) >= 1,
            "{backend}: the slow receiver was still being tried"
        );
        let most = hanging.most.load(Ordering::SeqCst);
        assert!(
            most <= 8,
            "{backend}: the hanging receiver held {most} deliveries at once (cap 8)"
        );
        eprintln!(
            "{backend}: fast tenant's webhooks: median {:?}, slowest {worst:?}; hanging receiver held at most {most}",
            late[late.len() / 2]
        );
    }
}

/// Jobs still holding a lease, read from the server's database.
async fn leased_jobs(db_url: &str) -> i64 {
    let store = kaicalls::store::Store::connect(db_url).await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE locked_until IS NOT NULL")
        .fetch_one(&store.pool)
        .await
        .unwrap()
}

/// SIGTERM while calls are being created: every request that got an answer got a
/// 2xx (none a 5xx), the process exits on its own leaving no job leased, and after a
/// restart every accepted call finishes and its webhook arrives.
#[tokio::test]
async fn sigterm_under_load_answers_no_5xx_leaves_no_lease_and_loses_nothing() {
    let builder = || {
        Server::builder()
            .env("KAICALLS_ALLOW_PRIVATE_WEBHOOKS", "true")
            .env("KAICALLS_RATE_LIMIT_CALLS_PER_MIN", "100000")
            .env("KAICALLS_RATE_LIMIT_READS_PER_MIN", "100000")
    };
    for (backend, mut server) in servers(builder).await {
        let boot = bootstrap_db(&server.db_url, "term@tenant.test", "Term Law");
        let receiver = Receiver::start().await;
        let accepted: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let answered = Arc::new(std::sync::Mutex::new(Vec::<u16>::new()));
        let mut load = tokio::task::JoinSet::new();
        let until = Instant::now() + Duration::from_secs(3);
        for _ in 0..8 {
            let (url, key, agent, hook) = (
                server.url.clone(),
                boot.live_key.clone(),
                boot.agent_id.clone(),
                receiver.url.clone(),
            );
            let (accepted, answered) = (accepted.clone(), answered.clone());
            load.spawn(async move {
                let http = reqwest::Client::new();
                while Instant::now() < until {
                    let sent = http
                        .post(format!("{url}/api/v1/calls"))
                        .bearer_auth(&key)
                        .json(
                            &json!({"agent_id": agent, "to": "+15125551234", "webhook_url": hook}),
                        )
                        .send()
                        .await;
                    let Ok(response) = sent else {
                        // Refused once the server stopped accepting: not an answer.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    let status = response.status().as_u16();
                    answered.lock().unwrap().push(status);
                    if status == 201 {
                        if let Ok(body) = response.json::<serde_json::Value>().await {
                            accepted
                                .lock()
                                .unwrap()
                                .push(body["id"].as_str().unwrap().to_string());
                        }
                    }
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let exit = server.terminate(60);
        assert!(exit.success(), "{backend}: SIGTERM exit status {exit:?}");
        while let Some(done) = load.join_next().await {
            done.unwrap();
        }
        let answered = answered.lock().unwrap().clone();
        assert!(
            answered.iter().all(|s| *s < 500),
            "{backend}: a request was answered 5xx: {:?}",
            answered.iter().filter(|s| **s >= 500).collect::<Vec<_>>()
        );
        let accepted = accepted.lock().unwrap().clone();
        assert!(
            accepted.len() >= 8,
            "{backend}: only {} calls before SIGTERM",
            accepted.len()
        );
        assert_eq!(
            leased_jobs(&server.db_url).await,
            0,
            "{backend}: a job was left leased"
        );

        server.kill_and_restart().await; // it has exited: this starts it again
        for id in &accepted {
            let call = server.wait_terminal(&boot.live_key, id).await;
            assert_eq!(call["status"], "completed", "{backend}: {call}");
        }
        receiver
            .wait_until(60, "a webhook for every accepted call", |got| {
                accepted.iter().all(|id| {
                    got.iter()
                        .any(|r| r.event() == "call.completed" && r.json["call_id"] == id.as_str())
                })
            })
            .await;
        eprintln!(
            "{backend}: {} answered before and during SIGTERM, {} calls accepted, all completed after restart",
            answered.len(),
            accepted.len()
        );
    }
}

/// The operations endpoints: liveness without the database, readiness with it, and
/// Prometheus metrics naming routes (not paths), webhook attempts and job lag.
#[tokio::test]
async fn healthz_readyz_and_metrics() {
    let server = Server::builder()
        .env("KAICALLS_ALLOW_PRIVATE_WEBHOOKS", "true")
        .start()
        .await;
    let boot = server.bootstrap("ops@tenant.test");
    let receiver = Receiver::start().await;
    let (_, call) = server
        .post(
            &boot.live_key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15125551234", "webhook_url": receiver.url}),
        )
        .await;
    let id = call["id"].as_str().unwrap();
    server.wait_terminal(&boot.live_key, id).await;
    receiver
        .wait_until(30, "call.completed", |r| !r.is_empty())
        .await;

    for (path, want) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let response = server
            .http
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], want, "{path}");
    }
    let response = server
        .http
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    for needle in [
        r#"kaicalls_http_requests_total{method="POST",route="/api/v1/calls",status="201"} 1"#,
        r#"kaicalls_http_request_duration_seconds_bucket{method="GET",route="/api/v1/calls",le="#,
        r#"kaicalls_webhook_attempts_total{outcome="succeeded"} 1"#,
        r#"kaicalls_job_lag_seconds_bucket{kind="provider_event",le="#,
        r#"kaicalls_call_transitions_total{status="completed"} 1"#,
        r#"kaicalls_jobs_total{kind="webhook_delivery",outcome="done"} 1"#,
        r#"kaicalls_webhook_backlog 0"#,
        r#"kaicalls_db_pool_connections{state="idle",pool="writer"}"#,
        r#"kaicalls_db_pool_connections{state="busy",pool="reader"}"#,
    ] {
        assert!(text.contains(needle), "metrics lack {needle}:\n{text}");
    }
    assert!(!text.contains(id), "a call id became a label");
}

/// `--role api` serves the API and runs no jobs; `--role worker` runs them and serves
/// only the operations endpoints: a call created through one is finished by the other.
#[tokio::test]
async fn api_and_worker_roles_split_the_work() {
    let api = Server::builder().env("KAICALLS_ROLE", "api").start().await;
    let boot = api.bootstrap("roles@tenant.test");
    let (status, call) = api
        .post(
            &boot.live_key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15125551234"}),
        )
        .await;
    assert_eq!(status, 201, "{call}");
    let id = call["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, still) = api
        .get(&boot.live_key, &format!("/api/v1/calls?id={id}"))
        .await;
    assert_eq!(still["status"], "queued", "an api-only instance ran a job");

    let worker = Server::builder()
        .env("KAICALLS_ROLE", "worker")
        .database(&api.db_url)
        .start()
        .await;
    let health = worker
        .http
        .get(format!("{}/healthz", worker.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let response = worker
        .http
        .get(format!("{}/api/v1/calls", worker.url))
        .bearer_auth(&boot.live_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404, "a worker serves no API");
    let done = api.wait_terminal(&boot.live_key, id).await;
    assert_eq!(done["status"], "completed");
}

/// Two instances on one PostgreSQL and one Redis: one key's 120 `POST /calls`, spread
/// over both within a minute, yield exactly its 60; a key revoked through one
/// instance is refused by the other within 1 s (and by the first at once).
#[tokio::test]
async fn two_instances_share_one_rate_limit_and_hear_each_others_revocations() {
    let Some(admin) = crate::harness::postgres_url("two instances on one PostgreSQL") else {
        return;
    };
    let Some(redis) = crate::harness::required_env(
        "KAICALLS_TEST_REDIS_URL",
        "two instances sharing rate limits through Redis",
    ) else {
        return;
    };
    let db = crate::account::fresh_postgres_database(&admin).await;
    let builder = || {
        Server::builder()
            .database(&db)
            .env("KAICALLS_REDIS_URL", &redis)
    };
    let a = builder().start().await;
    let b = builder().start().await;
    let boot = bootstrap_db(&db, "pair@tenant.test", "Pair Law");

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..120 {
        let url = if i % 2 == 0 {
            a.url.clone()
        } else {
            b.url.clone()
        };
        let (key, agent) = (boot.live_key.clone(), boot.agent_id.clone());
        tasks.spawn(async move {
            reqwest::Client::new()
                .post(format!("{url}/api/v1/calls"))
                .bearer_auth(&key)
                .json(&json!({"agent_id": agent, "to": "+15125551234"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let started = Instant::now();
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.unwrap());
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    let accepted = statuses.iter().filter(|s| **s == 201).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((accepted, limited), (60, 60), "statuses: {statuses:?}");

    let session = a.login("pair@tenant.test").await;
    let (status, created) = a
        .with_session(
            &session,
            reqwest::Method::POST,
            "/api/v1/keys",
            Some(json!({"name": "Shared"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    // Cached on both instances.
    assert_eq!(a.get(&key, "/api/v1/agents").await.0, 200);
    assert_eq!(b.get(&key, "/api/v1/agents").await.0, 200);
    let (status, _) = a
        .with_session(
            &session,
            reqwest::Method::DELETE,
            &format!("/api/v1/keys?id={id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let revoked = Instant::now();
    assert_eq!(
        a.get(&key, "/api/v1/agents").await.0,
        401,
        "the revoking instance"
    );
    loop {
        if b.get(&key, "/api/v1/agents").await.0 == 401 {
            break;
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(1),
            "the other instance still accepts the revoked key after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "revocation reached the other instance in {:?}",
        revoked.elapsed()
    );
}

/// kill -9 under read load: every request that was answered has its usage row.
#[tokio::test]
async fn every_answered_request_has_its_usage_row_across_kill_9() {
    let builder = || Server::builder().env("KAICALLS_RATE_LIMIT_READS_PER_MIN", "1000000");
    for (backend, mut server) in servers(builder).await {
        let boot = bootstrap_db(&server.db_url, "usage@tenant.test", "Usage Law");
        let answered = Arc::new(AtomicUsize::new(0));
        let mut load = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (url, key, answered) =
                (server.url.clone(), boot.live_key.clone(), answered.clone());
            load.spawn(async move {
                let http = reqwest::Client::new();
                loop {
                    let sent = http
                        .get(format!("{url}/api/v1/agents"))
                        .bearer_auth(&key)
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status() == 200 => {
                            answered.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(response) => panic!("answered {}", response.status()),
                        Err(_) => return, // the server is gone
                    }
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
        server.kill_and_restart().await;
        while let Some(done) = load.join_next().await {
            done.unwrap();
        }
        let answered = answered.load(Ordering::SeqCst) as i64;
        let store = kaicalls::store::Store::connect(&server.db_url)
            .await
            .unwrap();
        let rows: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM usage_log u JOIN api_keys k ON k.id = u.key_id
             WHERE k.key_hash = $1 AND u.endpoint LIKE '%agents%'",
        )
        .bind(kaicalls::ids::sha256_hex(&boot.live_key))
        .fetch_one(&store.pool)
        .await
        .unwrap();
        assert!(
            answered > 20,
            "{backend}: only {answered} requests answered"
        );
        assert!(
            rows >= answered,
            "{backend}: {answered} answered requests, {rows} usage rows"
        );
        eprintln!("{backend}: {answered} answered before kill -9, {rows} usage rows");
    }
}

/// `GET /calls?id=&wait=` returns when the call ends, woken by the change (the
/// waiter's fallback re-read is 5 s away): in one process, and on PostgreSQL across
/// instances — the call placed through an api-only instance, run by another
/// instance's worker (woken by NOTIFY), waited for on the first.
#[tokio::test]
async fn a_waiter_is_woken_by_the_change_also_from_another_instance() {
    let waited = |server: &Server, key: String, agent: String| {
        let (url, http) = (server.url.clone(), server.http.clone());
        async move {
            let created: serde_json::Value = http
                .post(format!("{url}/api/v1/calls"))
                .bearer_auth(&key)
                .json(&json!({"agent_id": agent, "to": "+15125551234"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let id = created["id"].as_str().unwrap();
            let started = Instant::now();
            let call: serde_json::Value = http
                .get(format!("{url}/api/v1/calls?id={id}&wait=30"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (
                call["status"].as_str().unwrap().to_string(),
                started.elapsed(),
            )
        }
    };

    // A call that lasts a few hundred milliseconds, so the waiter is there first.
    let slower = || Server::builder().env("KAICALLS_SIM_SPEED", "100");
    let one = slower().start().await;
    let boot = one.bootstrap("wait@tenant.test");
    let (status, took) = waited(&one, boot.live_key.clone(), boot.agent_id.clone()).await;
    assert_eq!(status, "completed");
    assert!(
        took < Duration::from_secs(3),
        "sqlite: the waiter took {took:?}"
    );

    let Some(admin) = crate::harness::postgres_url("waiting across instances") else {
        return;
    };
    let db = crate::account::fresh_postgres_database(&admin).await;
    let _worker = Server::builder().database(&db).start().await;
    let api = Server::builder()
        .database(&db)
        .env("KAICALLS_ROLE", "api")
        .start()
        .await;
    let boot = bootstrap_db(&db, "wait@pg.test", "Wait Law");
    let (status, took) = waited(&api, boot.live_key.clone(), boot.agent_id.clone()).await;
    assert_eq!(status, "completed");
    assert!(
        took < Duration::from_secs(3),
        "postgres: the waiter took {took:?}"
    );
    eprintln!("postgres: the call ended and its waiter on the other instance answered in {took:?}");
}
