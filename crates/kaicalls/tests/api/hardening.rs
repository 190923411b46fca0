//! Issue 8's defects, each as it was found from outside: through the real binary,
//! on SQLite and (when CI provides one) PostgreSQL.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::account::fresh_postgres_database;
use crate::harness::{bootstrap_db, code, param, Server};

/// The servers a backend-dependent defect is checked on: SQLite, and PostgreSQL when
/// `KAICALLS_TEST_POSTGRES_URL` is set (CI requires it: see `harness::postgres_url`).
pub async fn servers(builder: impl Fn() -> crate::harness::Builder) -> Vec<(&'static str, Server)> {
    let mut servers = vec![("sqlite", builder().start().await)];
    if let Some(admin) = crate::harness::postgres_url("the PostgreSQL half of this test") {
        let url = fresh_postgres_database(&admin).await;
        servers.push(("postgres", builder().database(&url).start().await));
    }
    servers
}

fn host(server: &Server) -> String {
    server.url.trim_start_matches("http://").to_string()
}

#[tokio::test]
async fn control_characters_are_400_naming_the_field_on_both_backends() {
    for (backend, server) in servers(Server::builder).await {
        let boot = bootstrap_db(&server.db_url, "nul@tenant.test", "NUL Law");
        let key = &boot.live_key;
        let (status, err) = server
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "a\u{0}@x.test", "password": "x"})),
            )
            .await;
        assert_eq!(
            (status.as_u16(), param(&err)),
            (400, "email"),
            "{backend}: {err}"
        );
        assert_eq!(code(&err), "invalid_request");

        let agent = &boot.agent_id;
        let cases: [(&str, Value, &str); 6] = [
            (
                "/api/v1/calls",
                json!({"agent_id": agent, "to": "+15125551234", "name": "J\u{0}hn"}),
                "name",
            ),
            (
                "/api/v1/calls",
                json!({"agent_id": agent, "to": "+15125551234", "context": "a\u{0}b"}),
                "context",
            ),
            (
                "/api/v1/leads",
                json!({"name": "Lead\u{0}", "phone": "+15125557001"}),
                "name",
            ),
            ("/api/v1/agents", json!({"name": "Agent\u{1b}[31m"}), "name"),
            (
                "/api/v1/webhooks",
                json!({"url": "https://example.com/h", "description": "x\u{0}"}),
                "description",
            ),
            (
                "/api/v1/leads",
                json!({"name": "ok", "metadata": {"crm": "\u{0}"}}),
                "metadata",
            ),
        ];
        for (path, body, field) in cases {
            let (status, err) = server.post(key, path, body.clone()).await;
            assert_eq!(
                (status.as_u16(), param(&err)),
                (400, field),
                "{backend} {path} {body}: {err}"
            );
        }
        for path in [
            "/api/v1/calls?id=%00",
            "/api/v1/leads?status=new%00",
            "/api/v1/calls?id=a%0Ab",
        ] {
            let (status, err) = server.get(key, path).await;
            assert_eq!(status, 400, "{backend} {path}: {err}");
            assert_eq!(code(&err), "invalid_request");
        }
        // Line breaks and tabs are text, not control: a context may have paragraphs.
        let (status, call) = server
            .post(key, "/api/v1/calls", json!({"agent_id": agent, "to": "+15125551234", "context": "Line one.\nLine two.\tDone."}))
            .await;
        assert_eq!(status, 201, "{backend}: {call}");
    }
}

#[tokio::test]
async fn racing_creates_of_one_number_are_409_not_500_on_both_backends() {
    for (backend, server) in servers(Server::builder).await {
        let boot = bootstrap_db(&server.db_url, "race@tenant.test", "Race Law");
        let mut statuses = vec![];
        for round in 0..3 {
            let number = format!("+1512555710{round}");
            let mut racers = tokio::task::JoinSet::new();
            for _ in 0..20 {
                let request = server
                    .request(Method::POST, "/api/v1/phone-numbers")
                    .bearer_auth(&boot.live_key)
                    .json(&json!({"phone_number": number}));
                racers.spawn(async move {
                    let resp = request.send().await.expect("request");
                    (
                        resp.status(),
                        resp.json::<Value>().await.unwrap_or(Value::Null),
                    )
                });
            }
            for (status, body) in racers.join_all().await {
                if status == 409 {
                    assert_eq!(code(&body), "conflict", "{body}");
                }
                statuses.push((status.as_u16(), body));
            }
        }
        // POST /phone-numbers assigns: the first creates (201), a later one sees the
        // number and updates it (200), one that loses the race to the insert is 409.
        let created = statuses.iter().filter(|(s, _)| *s == 201).count();
        let others: Vec<_> = statuses
            .iter()
            .filter(|(s, _)| ![200, 201, 409].contains(s))
            .collect();
        assert_eq!(created, 3, "{backend}: one number created per round");
        assert!(
            others.is_empty(),
            "{backend}: only 200, 201 and 409, saw {others:?}"
        );
    }
}

#[tokio::test]
async fn a_live_webhook_url_with_a_private_ip_literal_is_refused_at_create() {
    let server = Server::start().await;
    let boot = server.bootstrap("ssrf@tenant.test");
    let live = &boot.live_key;
    for url in [
        "http://127.0.0.1:9/x",
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest",
        "http://100.64.0.1/x",
        "http://[::1]/x",
        "http://[fd00::1]/x",
        "http://[::ffff:192.168.0.1]/x",
    ] {
        let (status, err) = server
            .post(
                live,
                "/api/v1/calls",
                json!({"agent_id": boot.agent_id, "to": "+15125551234", "webhook_url": url}),
            )
            .await;
        assert_eq!(
            (status.as_u16(), code(&err), param(&err)),
            (400, "invalid_request", "webhook_url"),
            "{url}: {err}"
        );
        let (status, err) = server
            .post(
                live,
                "/api/v1/webhooks",
                json!({"url": url, "events": ["call.completed"]}),
            )
            .await;
        assert_eq!(
            (status.as_u16(), param(&err)),
            (400, "webhook_url"),
            "subscription {url}: {err}"
        );
    }
    // Test-mode calls may use local receivers.
    let (status, body) = server
        .post(&boot.test_key, "/api/v1/calls", json!({"agent_id": boot.agent_id, "to": "+15125551234", "webhook_url": "http://127.0.0.1:9/x"}))
        .await;
    assert_eq!(status, 201, "{body}");

    // A name that resolves to a private address passes at create and is refused by
    // the resolver: the delivery fails at once, not after the whole retry schedule.
    let (status, call) = server
        .post(live, "/api/v1/calls", json!({"agent_id": boot.agent_id, "to": "+15125551234", "webhook_url": "http://localhost:9/hook"}))
        .await;
    assert_eq!(status, 201, "{call}");
    let id = call["id"].as_str().unwrap();
    server.wait_terminal(live, id).await;
    let delivery = server
        .delivery_until(live, id, 30, |d| d["status"] == "failed")
        .await;
    assert_eq!(delivery["attempt_count"], 1, "{delivery}");
    let error = delivery["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("refused") && error.contains("public address"),
        "{delivery}"
    );
}

#[tokio::test]
async fn boolean_settings_take_1_and_yes_and_on() {
    for value in ["1", "yes", "on", "TRUE"] {
        let server = Server::builder()
            .env("KAICALLS_ALLOW_PRIVATE_WEBHOOKS", value)
            .start()
            .await;
        let boot = server.bootstrap("bool@tenant.test");
        let (status, body) = server
            .post(&boot.live_key, "/api/v1/calls", json!({"agent_id": boot.agent_id, "to": "+15125551234", "webhook_url": "http://127.0.0.1:9/x"}))
            .await;
        assert_eq!(
            status, 201,
            "KAICALLS_ALLOW_PRIVATE_WEBHOOKS={value}: {body}"
        );
    }
    let server = Server::builder()
        .env("KAICALLS_ALLOW_PRIVATE_WEBHOOKS", "0")
        .start()
        .await;
    let boot = server.bootstrap("bool@tenant.test");
    let (status, _) = server
        .post(&boot.live_key, "/api/v1/calls", json!({"agent_id": boot.agent_id, "to": "+15125551234", "webhook_url": "http://127.0.0.1:9/x"}))
        .await;
    assert_eq!(status, 400, "0 means off");
}

/// Reads until the server closes the connection; returns what it sent, or None if
/// it was still open after `secs`.
async fn read_until_closed(stream: &mut TcpStream, secs: u64) -> Option<String> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&seen).into_owned()),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn slow_headers_and_bodies_time_out_and_connections_are_capped() {
    let server = Server::builder()
        .env("KAICALLS_HEADER_TIMEOUT_SECS", "1")
        .env("KAICALLS_BODY_TIMEOUT_SECS", "1")
        .env("KAICALLS_MAX_CONNECTIONS", "3")
        .start()
        .await;
    let boot = server.bootstrap("slow@tenant.test");

    // Slowloris: a request line and nothing more is cut off (hyper answers 408,
    // rewritten into our envelope).
    let mut slow = TcpStream::connect(host(&server)).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let answer = read_until_closed(&mut slow, 5)
        .await
        .expect("a connection that never finishes its headers is closed");
    if !answer.is_empty() {
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("\"request_timeout\""), "{answer}");
    }

    // A body that never arrives: 408 in the envelope.
    let mut stream = TcpStream::connect(host(&server)).await.unwrap();
    let head = format!(
        "POST /api/v1/leads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":",
        boot.live_key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream, 5)
        .await
        .expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");

    // The cap: with 3 connections held open, a 4th waits until one goes away.
    let mut held = vec![];
    for _ in 0..3 {
        let mut s = TcpStream::connect(host(&server)).await.unwrap();
        s.write_all(b"GET /api/v1/health HTTP/1.1\r\n")
            .await
            .unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let url = format!("{}/api/v1/health", server.url);
    assert!(
        quick.get(&url).send().await.is_err(),
        "the 4th connection waits"
    );
    // The held ones time out (1 s), and the server takes new connections again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn every_stored_string_has_a_maximum() {
    let server = Server::start().await;
    let boot = server.bootstrap("long@tenant.test");
    let key = &boot.live_key;
    let mb = "x".repeat(1_000_000);
    let cases = [
        ("/api/v1/leads", json!({"name": "ok", "notes": mb}), "notes"),
        ("/api/v1/leads", json!({"name": mb}), "name"),
        (
            "/api/v1/agents",
            json!({"name": "A", "system_prompt": mb}),
            "system_prompt",
        ),
        (
            "/api/v1/webhooks",
            json!({"url": "https://example.com/h", "description": mb}),
            "description",
        ),
        (
            "/api/v1/leads",
            json!({"name": "ok", "notes": "x".repeat(10_001)}),
            "notes",
        ),
        (
            "/api/v1/leads",
            json!({"name": "ok", "source": "x".repeat(501)}),
            "source",
        ),
    ];
    for (path, body, field) in cases {
        let (status, err) = server.post(key, path, body).await;
        assert_eq!(
            (status.as_u16(), param(&err)),
            (400, field),
            "{path}: {err}"
        );
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("at most"),
            "{err}"
        );
    }
    let (status, body) = server
        .post(
            key,
            "/api/v1/leads",
            json!({"name": "ok", "notes": "x".repeat(10_000)}),
        )
        .await;
    assert_eq!(status, 201, "at the maximum is allowed: {body}");
}

#[tokio::test]
async fn the_smaller_defects() {
    let server = Server::start().await;
    let a = server.bootstrap("a@tenant.test");
    let b = bootstrap_db(&server.db_url, "b@tenant.test", "Other Firm");

    // An empty X-KaiCalls-API-Key does not hide a valid Bearer token.
    let resp = server
        .request(Method::GET, "/api/v1/agents")
        .bearer_auth(&a.live_key)
        .header("x-kaicalls-api-key", "")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Another tenant's agent cannot be referenced.
    let (status, err) = server
        .post(
            &b.live_key,
            "/api/v1/leads",
            json!({"name": "X", "agent_id": a.agent_id}),
        )
        .await;
    assert_eq!((status.as_u16(), code(&err)), (404, "not_found"), "{err}");
    let (_, lead) = server
        .post(
            &b.live_key,
            "/api/v1/leads",
            json!({"name": "X", "agent_id": b.agent_id}),
        )
        .await;
    let (status, _) = server
        .call(
            Method::PATCH,
            "/api/v1/leads",
            Some(&b.live_key),
            Some(json!({"id": lead["id"], "agent_id": a.agent_id})),
        )
        .await;
    assert_eq!(status, 404);

    // webhook_events: [] is refused, not silently "no webhook".
    let (status, err) = server
        .post(&a.live_key, "/api/v1/calls", json!({"agent_id": a.agent_id, "to": "+15125551234", "webhook_url": "https://example.com/h", "webhook_events": []}))
        .await;
    assert_eq!((status.as_u16(), param(&err)), (400, "webhook_events"));

    // Trailing bytes after the JSON body.
    let resp = server
        .request(Method::POST, "/api/v1/leads")
        .bearer_auth(&a.live_key)
        .header("content-type", "application/json")
        .body(r#"{"name": "Trailing"}xyz"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(code(&err), "invalid_request");

    // Logging out with an API key is explained as what it is.
    let (status, err) = server
        .post(&a.live_key, "/api/v1/auth/logout", json!({}))
        .await;
    assert_eq!(status, 401);
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains("Key management") && message.contains("/api/v1/auth/logout"),
        "{message}"
    );
}

#[tokio::test]
async fn vapi_events_check_the_secret_before_reading_the_body() {
    let server = Server::builder()
        .env("KAICALLS_VAPI_API_KEY", "vapi-test-key")
        .env("KAICALLS_VAPI_BASE_URL", "http://127.0.0.1:9")
        .env("KAICALLS_VAPI_WEBHOOK_SECRET", "the-secret")
        .start()
        .await;
    let resp = server
        .request(Method::POST, "/api/v1/providers/vapi/events")
        .header("content-type", "application/json")
        .header("x-vapi-secret", "forged")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        401,
        "a forged secret is refused before parsing"
    );
    let resp = server
        .request(Method::POST, "/api/v1/providers/vapi/events")
        .header("content-type", "application/json")
        .header("x-vapi-secret", "the-secret")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "with the secret, a bad body is a 400");
}

/// kill -9 between an idempotent request's claim and its commit, then a retry with the
/// same key: exactly one call, and the retry's answer is that call — whether the
/// process died before recording the call or after recording it, before the dial.
#[tokio::test]
async fn an_idempotency_key_has_one_outcome_across_a_crash() {
    for fault in ["after-idempotency-claim", "after-call-recorded"] {
        let mut server = Server::builder()
            .env("KAICALLS_FAULT", fault)
            .env("KAICALLS_IDEMPOTENCY_LEASE_SECS", "1")
            .start()
            .await;
        let boot = server.bootstrap("crash@tenant.test");
        let key = boot.live_key.clone();
        let body = json!({"agent_id": boot.agent_id, "to": "+15125551234", "name": "Crash Test"});
        let post = |server: &Server| {
            server
                .request(Method::POST, "/api/v1/calls")
                .bearer_auth(&key)
                .header("idempotency-key", "order-crash-1")
                .json(&body)
                .send()
        };
        assert!(
            post(&server).await.is_err(),
            "{fault}: the process died mid-request"
        );
        server
            .restart_with(|env| env.retain(|(k, _)| k != "KAICALLS_FAULT"))
            .await;

        // Within the lease the first request might still be running: 409.
        let resp = post(&server).await.unwrap();
        let status = resp.status();
        let early: Value = resp.json().await.unwrap();
        assert!(
            status == 409 || status == 201,
            "{fault}: in progress or already taken over: {early}"
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let resp = post(&server).await.unwrap();
        assert_eq!(resp.status(), 201, "{fault}");
        let answered: Value = resp.json().await.unwrap();
        let id = answered["id"].as_str().unwrap().to_string();
        let again: Value = post(&server).await.unwrap().json().await.unwrap();
        assert_eq!(
            again["id"],
            id.as_str(),
            "{fault}: the same key answers the same call"
        );

        let (_, list) = server.get(&key, "/api/v1/calls?limit=100").await;
        let calls = list["calls"].as_array().unwrap();
        assert_eq!(calls.len(), 1, "{fault}: exactly one call: {list}");
        assert_eq!(calls[0]["id"], id.as_str());
        let done = server.wait_terminal(&key, &id).await;
        assert_eq!(
            done["status"], "completed",
            "{fault}: the call was dialed and finished: {done}"
        );
    }
}

async fn sqlite(server: &Server) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    sqlx::SqliteConnection::connect(&server.db_url)
        .await
        .expect("open the server's SQLite file")
}

fn dead_jobs(server: &Server) -> Vec<Value> {
    let out = std::process::Command::new(crate::harness::BIN)
        .args(["admin", "dead-jobs"])
        .env("KAICALLS_DATABASE_URL", &server.db_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run admin dead-jobs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// A job that cannot succeed goes dead at once (kept, listed), instead of being
/// retried every 5 minutes forever.
#[tokio::test]
async fn jobs_that_cannot_succeed_go_dead_and_are_listed() {
    let server = Server::start().await;
    let mut db = sqlite(&server).await;
    for (id, kind, payload) in [
        ("job-unknown-kind", "exploding_kind", "{}"),
        ("job-bad-payload", "provider_event", "{not json"),
    ] {
        sqlx::query(
            "INSERT INTO jobs (id, kind, subject_id, payload, due_at, locked_until, attempts, last_error, created_at)
             VALUES ($1, $2, 'nothing', $3, 0, NULL, 0, NULL, 0)",
        )
        .bind(id)
        .bind(kind)
        .bind(payload)
        .execute(&mut db)
        .await
        .unwrap();
    }
    let dead = crate::harness::eventually(20, "both jobs dead", || async {
        let dead = dead_jobs(&server);
        if dead.len() == 2 {
            Ok(dead)
        } else {
            Err(format!("{dead:?}"))
        }
    })
    .await;
    let by_id = |id: &str| dead.iter().find(|j| j["id"] == id).unwrap().clone();
    assert!(by_id("job-unknown-kind")["last_error"]
        .as_str()
        .unwrap()
        .contains("unknown job kind"));
    assert!(by_id("job-bad-payload")["last_error"]
        .as_str()
        .unwrap()
        .contains("malformed payload"));
    assert_eq!(
        by_id("job-bad-payload")["attempts"],
        1,
        "dead at the first failure"
    );
}

/// A panic inside a job is caught and counted as a failed attempt; a panic in a
/// handler answers the internal_error envelope. The server keeps serving.
#[tokio::test]
async fn panics_are_caught_in_jobs_and_in_handlers() {
    let server = Server::builder()
        .env("KAICALLS_FAULT", "panic-in-job")
        .start()
        .await;
    let boot = server.bootstrap("panic@tenant.test");
    let (status, call) = server
        .post(
            &boot.test_key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15125551234"}),
        )
        .await;
    assert_eq!(status, 201, "{call}");
    let error = crate::harness::eventually(20, "a job's recorded panic", || async {
        let mut db = sqlite(&server).await;
        let error: Option<String> = sqlx::query_scalar(
            "SELECT last_error FROM jobs WHERE last_error LIKE '%panicked%' LIMIT 1",
        )
        .fetch_optional(&mut db)
        .await
        .unwrap()
        .flatten();
        error.ok_or_else(|| "no job has failed yet".to_string())
    })
    .await;
    assert!(error.contains("KAICALLS_FAULT=panic-in-job"), "{error}");
    let (status, _) = server.get(&boot.test_key, "/api/v1/agents").await;
    assert_eq!(status, 200, "the server still serves");

    let server = Server::builder()
        .env("KAICALLS_FAULT", "panic-in-request")
        .start()
        .await;
    let boot = server.bootstrap("panic@tenant.test");
    let (status, err) = server.call(Method::GET, "/api/v1/health", None, None).await;
    assert_eq!(
        (status.as_u16(), code(&err)),
        (500, "internal_error"),
        "{err}"
    );
    assert!(
        !err.to_string().contains("KAICALLS_FAULT"),
        "the cause is not sent: {err}"
    );
    let (status, _) = server.get(&boot.live_key, "/api/v1/agents").await;
    assert_eq!(status, 200, "the server still serves");
}

/// Idempotency-Key is honoured on every mutating endpoint, not only POST /calls: the
/// TypeScript SDK retries any POST after a network error or a 5xx.
#[tokio::test]
async fn every_mutating_endpoint_honours_idempotency_keys() {
    let server = Server::start().await;
    let boot = server.bootstrap("idem@tenant.test");
    let key = &boot.live_key;
    let send = |method: Method, path: &str, idem: &str, body: Value| {
        server
            .request(method, path)
            .bearer_auth(key)
            .header("idempotency-key", idem)
            .json(&body)
            .send()
    };

    // leads.create twice: one lead, the same answer, marked as replayed.
    let body = json!({"name": "Once Only", "phone": "+15125557777"});
    let first = send(Method::POST, "/api/v1/leads", "lead-1", body.clone())
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = send(Method::POST, "/api/v1/leads", "lead-1", body.clone())
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    let (_, leads) = server.get(key, "/api/v1/leads?phone=%2B15125557777").await;
    assert_eq!(leads["leads"].as_array().unwrap().len(), 1, "{leads}");

    // The same key with another body, or on another endpoint: 400.
    let other = send(
        Method::POST,
        "/api/v1/leads",
        "lead-1",
        json!({"name": "Else"}),
    )
    .await
    .unwrap();
    assert_eq!(other.status(), 400);
    let err: Value = other.json().await.unwrap();
    assert_eq!(code(&err), "idempotency_error");
    let elsewhere = send(Method::POST, "/api/v1/agents", "lead-1", body.clone())
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 400);

    // webhooks.create and webhooks.test: one subscription, one test event.
    let sub = json!({"url": "https://example.com/hook", "events": ["webhook.test"]});
    let a: Value = send(Method::POST, "/api/v1/webhooks", "sub-1", sub.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b: Value = send(Method::POST, "/api/v1/webhooks", "sub-1", sub)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a["id"], b["id"], "{a} {b}");
    let (_, subs) = server.get(key, "/api/v1/webhooks").await;
    assert_eq!(subs["webhooks"].as_array().unwrap().len(), 1, "{subs}");
    for _ in 0..2 {
        let resp = send(
            Method::POST,
            "/api/v1/webhooks/test",
            "test-1",
            json!({"id": a["id"]}),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let (_, events) = server
        .get(key, "/api/v1/events?event_type=webhook.test")
        .await;
    assert_eq!(
        events["events"].as_array().unwrap().len(),
        1,
        "one test event: {events}"
    );

    // A refusal is remembered like a success; without a key nothing is remembered.
    let bad = json!({"name": "x", "score": 101});
    for _ in 0..2 {
        let resp = send(Method::POST, "/api/v1/leads", "bad-1", bad.clone())
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
    }
    let patch = json!({"id": first["id"], "notes": "patched"});
    let resp = send(Method::PATCH, "/api/v1/leads", "patch-1", patch.clone())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = send(Method::PATCH, "/api/v1/leads", "patch-1", patch)
        .await
        .unwrap();
    assert_eq!(resp.headers()["idempotent-replayed"], "true");
}

/// A stored value this version does not know is an error (500, cause logged), never
/// silently read as a default (an unknown mode as `test`, an unknown status as
/// `failed`).
#[tokio::test]
async fn an_unknown_stored_value_is_an_error_not_a_default() {
    let server = Server::start().await;
    let boot = server.bootstrap("stored@tenant.test");
    let (_, call) = server
        .post(
            &boot.test_key,
            "/api/v1/calls",
            json!({"agent_id": boot.agent_id, "to": "+15005550006"}),
        )
        .await;
    let id = call["id"].as_str().unwrap();
    let mut db = sqlite(&server).await;
    sqlx::query("UPDATE calls SET status = 'teleported' WHERE id = $1")
        .bind(id)
        .execute(&mut db)
        .await
        .unwrap();
    let (status, err) = server
        .get(&boot.test_key, &format!("/api/v1/calls?id={id}"))
        .await;
    assert_eq!(
        (status.as_u16(), code(&err)),
        (500, "internal_error"),
        "{err}"
    );
    assert!(
        !err.to_string().contains("teleported"),
        "the cause stays in the log: {err}"
    );

    // The same for a stored JSON column that does not parse, an unknown ended
    // reason, and an unknown scope on a key: each is an error, not null, not dropped.
    let (_, lead) = server
        .post(&boot.live_key, "/api/v1/leads", json!({"name": "Corrupt"}))
        .await;
    // A key not used yet, so not yet in the key cache: its row is read at its first
    // request (a key in use is re-read within the cache's TTL).
    let session = server.login("stored@tenant.test").await;
    let (_, fresh) = server
        .with_session(
            &session,
            Method::POST,
            "/api/v1/keys",
            Some(json!({"name": "Fresh"})),
        )
        .await;
    let fresh = fresh["key"].as_str().unwrap().to_string();
    let corruptions = [
        (
            "UPDATE leads SET metadata = 'not json' WHERE id = $1",
            lead["id"].as_str().unwrap().to_string(),
            format!("/api/v1/leads?id={}", lead["id"].as_str().unwrap()),
            boot.live_key.clone(),
        ),
        (
            "UPDATE calls SET status = 'completed', ended_reason = 'abducted' WHERE id = $1",
            id.to_string(),
            format!("/api/v1/calls?id={id}"),
            boot.test_key.clone(),
        ),
        (
            "UPDATE api_keys SET scopes = '[\"agents:read\", \"agents:fly\"]' WHERE key_hash = $1",
            kaicalls::ids::sha256_hex(&fresh),
            "/api/v1/agents".to_string(),
            fresh.clone(),
        ),
    ];
    for (update, bind, path, key) in corruptions {
        sqlx::query(update)
            .bind(&bind)
            .execute(&mut db)
            .await
            .unwrap();
        let (status, err) = server.get(&key, &path).await;
        assert_eq!(
            (status.as_u16(), code(&err)),
            (500, "internal_error"),
            "{update}: {err}"
        );
    }
}

/// Requests hyper refuses before any handler runs (a raw 0xFF in the target, a NUL
/// or an obs-fold in a header, an oversized header block) are answered like every
/// other error: our envelope, a `Request-Id`, and the connection closed.
#[tokio::test]
async fn protocol_errors_are_answered_in_the_envelope_with_a_request_id() {
    let server = Server::start().await;
    let mut huge = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 512 * 1024));
    huge.extend_from_slice(b"\r\n\r\n");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "0xFF in the target",
            b"GET /api/v1/health\xff HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            "400",
        ),
        (
            "NUL in a header",
            b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n".to_vec(),
            "400",
        ),
        (
            "obs-fold",
            b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n".to_vec(),
            "400",
        ),
        (
            "no version",
            b"GET /api/v1/health HTTP/9.9\r\nHost: x\r\n\r\n".to_vec(),
            "400",
        ),
        ("headers too large", huge, "431"),
    ];
    for (what, request, status) in cases {
        let mut stream = TcpStream::connect(host(&server)).await.unwrap();
        // The server may answer and close before it has read all of a huge request.
        let _ = stream.write_all(&request).await;
        let answer = read_until_closed(&mut stream, 5)
            .await
            .unwrap_or_else(|| panic!("{what}: answered and closed"));
        let (head, body) = answer
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("{what}: {answer:?}"));
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status}")),
            "{what}: {head}"
        );
        let head = head.to_ascii_lowercase();
        assert!(head.contains("\r\nrequest-id: req_"), "{what}: {head}");
        assert!(
            head.contains("\r\ncontent-type: application/json"),
            "{what}: {head}"
        );
        let body: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: {e}: {body:?}"));
        assert_eq!(code(&body), "invalid_request", "{what}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    // An ordinary request on the same server is unaffected.
    let resp = reqwest::get(format!("{}/api/v1/health", server.url))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// What schemathesis found against the derived document, each through the binary.
#[tokio::test]
async fn the_defects_schemathesis_found() {
    let server = Server::builder()
        .env("KAICALLS_VAPI_API_KEY", "vapi-test-key")
        .env("KAICALLS_VAPI_BASE_URL", "http://127.0.0.1:9")
        .env("KAICALLS_VAPI_WEBHOOK_SECRET", "vapi-secret")
        .start()
        .await;
    let boot = server.bootstrap("schemathesis@tenant.test");
    let key = &boot.live_key;

    // An empty event id named nothing; it replayed the tenant's newest event.
    for body in [json!({"event_id": ""}), json!({"event_ids": [""]})] {
        let (status, err) = server.post(key, "/api/v1/events/replay", body).await;
        assert_eq!((status.as_u16(), param(&err)), (400, "event_id"), "{err}");
    }
    // A body that is a JSON array is not read as a struct by position.
    for (path, body) in [
        ("/api/v1/events/replay", json!({"filter": [null, null]})),
        ("/api/v1/events/replay", json!([null, null, null, {}])),
        (
            "/api/v1/auth/login",
            json!(["schemathesis@tenant.test", crate::harness::PASSWORD]),
        ),
    ] {
        let (status, err) = server.post(key, path, body.clone()).await;
        assert_eq!(
            (status.as_u16(), code(&err)),
            (400, "invalid_request"),
            "{path} {body}: {err}"
        );
    }
    // Vapi's messages are objects.
    for body in ["[null,null]", "[]", "\"x\""] {
        let resp = server
            .request(Method::POST, "/api/v1/providers/vapi/events")
            .header("x-vapi-secret", "vapi-secret")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{body}");
    }
    // `wait` is checked with or without an id; an integer parameter sent empty is
    // not absent.
    for path in [
        "/api/v1/calls?wait=AAA",
        "/api/v1/calls?wait=-5",
        "/api/v1/calls?limit=",
        "/api/v1/transcripts?days=",
        "/api/v1/usage?limit=",
        "/api/v1/leads?created_after=",
    ] {
        let (status, err) = server.get(key, path).await;
        assert_eq!(
            (status.as_u16(), code(&err)),
            (400, "invalid_request"),
            "{path}: {err}"
        );
    }
    // An integral float is an integer (as JSON Schema counts it); 50.5 is not.
    let (status, lead) = server
        .post(key, "/api/v1/leads", json!({"name": "F", "score": 50.0}))
        .await;
    assert_eq!(
        (status.as_u16(), &lead["score"]),
        (201, &json!(50)),
        "{lead}"
    );
    let (status, err) = server
        .post(key, "/api/v1/leads", json!({"name": "F", "score": 50.5}))
        .await;
    assert_eq!((status.as_u16(), param(&err)), (400, "score"), "{err}");
    let (status, agent) = server
        .post(
            key,
            "/api/v1/agents",
            json!({"name": "V", "max_duration": 120.0}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), &agent["max_duration"]),
        (201, &json!(120)),
        "{agent}"
    );
}
