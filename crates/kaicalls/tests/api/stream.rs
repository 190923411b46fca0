//! `GET /api/v1/events/stream` through the real binary: resumption with
//! `Last-Event-ID` on both backends, tenant and mode isolation, filters,
//! heartbeats, sessions, shutdown, and what 1,000 open streams cost.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::hardening::servers;
use crate::harness::{bootstrap_db, code, param, Server};

/// One SSE message.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub event: String,
    pub data: Value,
}

/// An open stream, read message by message.
pub struct Stream {
    response: reqwest::Response,
    buffer: String,
    /// Comments seen (`connected`, `heartbeat`).
    pub comments: Vec<String>,
    /// The `id` of the opening message: where the stream starts.
    pub opened_at: Option<String>,
}

impl Stream {
    pub async fn open(server: &Server, key: &str, query: &str, last: Option<&str>) -> Stream {
        let mut request = server
            .request(Method::GET, &format!("/api/v1/events/stream{query}"))
            .bearer_auth(key);
        if let Some(last) = last {
            request = request.header("last-event-id", last);
        }
        Self::from(request.send().await.expect("open the stream")).await
    }

    pub async fn from(response: reqwest::Response) -> Stream {
        assert_eq!(response.status(), 200, "the stream opens");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let mut stream = Stream {
            response,
            buffer: String::new(),
            comments: vec![],
            opened_at: None,
        };
        // The first thing sent is the `connected` comment: from then on the stream
        // has its position.
        while stream.comments.is_empty() {
            assert!(stream.fill(Duration::from_secs(10)).await, "stream opened");
            stream.parse_comments_only();
        }
        stream
    }

    fn parse_comments_only(&mut self) {
        while let Some(end) = self.buffer.find("\n\n") {
            let block: String = self.buffer[..end].to_string();
            let opening =
                |l: &str| l.starts_with(':') || l.starts_with("retry:") || l.starts_with("id:");
            if !block.lines().all(opening) {
                return;
            }
            self.buffer.drain(..end + 2);
            if let Some(id) = block.lines().find_map(|l| l.strip_prefix("id: ")) {
                self.opened_at = Some(id.to_string());
            }
            self.comments.extend(
                block
                    .lines()
                    .filter_map(|l| l.strip_prefix(':'))
                    .map(|c| c.trim().to_string()),
            );
        }
    }

    /// Reads more bytes; false at the end of the stream or after `within`.
    async fn fill(&mut self, within: Duration) -> bool {
        match tokio::time::timeout(within, self.response.chunk()).await {
            Ok(Ok(Some(bytes))) => {
                self.buffer.push_str(&String::from_utf8_lossy(&bytes));
                true
            }
            _ => false,
        }
    }

    /// The next event message, or `None` if none comes within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, None, String::new());
                for line in block.lines() {
                    if let Some(c) = line.strip_prefix(':') {
                        self.comments.push(c.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                if let (Some(id), Some(event)) = (id, event) {
                    let data: Value = serde_json::from_str(&data).expect("data is JSON");
                    assert_eq!(data["id"], id, "the message id is the event's id");
                    assert_eq!(data["type"], event, "the message event is the event's type");
                    return Some(Message { id, event, data });
                }
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() || !self.fill(left).await {
                return None;
            }
        }
    }

    /// Messages until `done` says the list is complete (or the test fails after 30 s).
    pub async fn until(&mut self, mut done: impl FnMut(&[Message]) -> bool) -> Vec<Message> {
        let mut out = vec![];
        while !done(&out) {
            let message = self
                .next(Duration::from_secs(30))
                .await
                .unwrap_or_else(|| panic!("the stream went quiet after {out:?}"));
            out.push(message);
        }
        out
    }
}

async fn place_call(server: &Server, key: &str, agent: &str, to: &str) -> String {
    let (status, call) = server
        .post(
            key,
            "/api/v1/calls",
            json!({"agent_id": agent, "to": to, "name": "Stream Test"}),
        )
        .await;
    assert_eq!(status, 201, "{call}");
    call["id"].as_str().unwrap().to_string()
}

fn terminal(messages: &[Message], calls: &[String]) -> bool {
    calls.iter().all(|c| {
        messages.iter().any(|m| {
            m.data["object_id"] == c.as_str()
                && matches!(m.event.as_str(), "call.completed" | "call.failed")
        })
    })
}

/// Every event of the tenant's test mode, from the durable log.
async fn logged_ids(server: &Server, key: &str) -> BTreeSet<String> {
    let (status, body) = server.get(key, "/api/v1/events?limit=100").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["has_more"], false);
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// A client that drops the stream after event N and reconnects with
/// `Last-Event-ID: N` gets every later event exactly once: together the two
/// connections show each logged event once, on SQLite and on PostgreSQL — while
/// calls keep changing between and during the connections.
#[tokio::test]
async fn a_reconnect_with_last_event_id_gets_every_later_event_exactly_once() {
    for (backend, server) in servers(Server::builder).await {
        let boot = bootstrap_db(&server.db_url, "stream@tenant.test", "Stream Law");
        let key = &boot.test_key;
        let mut first = Stream::open(&server, key, "", None).await;
        let mut calls = vec![];
        for to in ["+15125551234", "+15005550002", "+15125551235"] {
            calls.push(place_call(&server, key, &boot.agent_id, to).await);
        }
        let seen = first.until(|m| m.len() >= 4).await;
        drop(first);
        // More happens while nobody listens.
        for to in ["+15125551236", "+15005550001"] {
            calls.push(place_call(&server, key, &boot.agent_id, to).await);
        }
        let last = seen.last().unwrap().id.clone();
        let mut second = Stream::open(&server, key, "", Some(&last)).await;
        let later = second
            .until(|m| terminal(&[seen.as_slice(), m].concat(), &calls))
            .await;
        // Nothing more comes for this tenant once everything ended.
        assert!(
            second.next(Duration::from_millis(1500)).await.is_none(),
            "{backend}: an event after every call ended"
        );
        let all: Vec<&Message> = seen.iter().chain(later.iter()).collect();
        let ids: Vec<&str> = all.iter().map(|m| m.id.as_str()).collect();
        let unique: HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "{backend}: an event came twice: {ids:?}"
        );
        let logged = logged_ids(&server, key).await;
        let streamed: BTreeSet<String> = ids.iter().map(|s| s.to_string()).collect();
        assert_eq!(streamed, logged, "{backend}: streamed vs logged events");
        // Per call, the statuses come in the order they happened.
        for call in &calls {
            let kinds: Vec<&str> = all
                .iter()
                .filter(|m| m.data["object_id"] == call.as_str())
                .map(|m| m.event.as_str())
                .collect();
            assert_eq!(kinds.first(), Some(&"call.queued"), "{backend}: {kinds:?}");
            assert!(
                matches!(kinds.last(), Some(&"call.completed" | &"call.failed")),
                "{backend}: {kinds:?}"
            );
        }
        // A resumed stream that missed nothing new gets nothing.
        let last = later.last().unwrap().id.clone();
        let mut third = Stream::open(&server, key, "", Some(&last)).await;
        assert!(third.next(Duration::from_millis(800)).await.is_none());
    }
}

/// Another tenant's events never appear, a live key sees no test events, another
/// tenant's event id is no position to resume from, and the filters hold.
#[tokio::test]
async fn streams_show_their_tenant_mode_and_filters_only() {
    let server = Server::start().await;
    let a = server.bootstrap("a@stream.test");
    let b = bootstrap_db(&server.db_url, "b@stream.test", "Other Firm");
    let mut b_test = Stream::open(&server, &b.test_key, "", None).await;
    let mut a_live = Stream::open(&server, &a.live_key, "", None).await;
    let mut a_completed = Stream::open(
        &server,
        &a.test_key,
        "?event_type=call.completed,lead.created",
        None,
    )
    .await;
    let first = place_call(&server, &a.test_key, &a.agent_id, "+15125551234").await;
    let mut a_call = Stream::open(&server, &a.test_key, &format!("?call_id={first}"), None).await;
    let second = place_call(&server, &a.test_key, &a.agent_id, "+15125551299").await;

    let completed = a_completed
        .until(|m| m.iter().filter(|m| m.event == "call.completed").count() == 2)
        .await;
    assert!(completed.iter().all(|m| m.event == "call.completed"));
    let mine = a_call
        .until(|m| m.iter().any(|m| m.event == "call.completed"))
        .await;
    assert!(
        mine.iter().all(|m| m.data["object_id"] == first.as_str()),
        "{mine:?}"
    );
    assert!(!mine.iter().any(|m| m.data["object_id"] == second.as_str()));

    // A lead is configuration, its event is of the key's mode: A's live stream
    // gets it; B's stream never sees anything of A's.
    let (status, _) = server
        .post(
            &a.live_key,
            "/api/v1/leads",
            json!({"name": "Live Lead", "phone": "+15125550111"}),
        )
        .await;
    assert_eq!(status, 201);
    let live = a_live.until(|m| !m.is_empty()).await;
    assert_eq!(live[0].event, "lead.created");
    assert_eq!(live[0].data["mode"], "live");
    assert!(a_live.next(Duration::from_millis(500)).await.is_none());
    assert!(
        b_test.next(Duration::from_millis(500)).await.is_none(),
        "tenant B saw an event of A"
    );

    // B cannot resume from A's event, nor ask for A's business.
    let resp = server
        .request(Method::GET, "/api/v1/events/stream")
        .bearer_auth(&b.test_key)
        .header("last-event-id", &completed[0].id)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(code(&body), "invalid_request");
    assert_eq!(param(&body), "Last-Event-ID");
    let (status, body) = server
        .get(
            &b.test_key,
            &format!("/api/v1/events/stream?business_id={}", a.business_id),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = server
        .get(
            &a.test_key,
            "/api/v1/events/stream?event_type=call.exploded",
        )
        .await;
    assert_eq!(
        (status, param(&body)),
        (StatusCode::BAD_REQUEST, "event_type")
    );
    let (status, body) = server
        .get(&a.test_key, "/api/v1/events/stream?mode=live")
        .await;
    assert_eq!((status, param(&body)), (StatusCode::BAD_REQUEST, "mode"));
}

/// Credentials: no key is 401, a key without `events:read` 403; a dashboard session
/// streams its live or (with `mode=test`) test events.
#[tokio::test]
async fn sessions_stream_and_keys_need_events_read() {
    let server = Server::start().await;
    let boot = server.bootstrap("session@stream.test");
    let (status, _) = server
        .call(Method::GET, "/api/v1/events/stream", None, None)
        .await;
    assert_eq!(status, 401);
    let session = server.login("session@stream.test").await;
    let (status, made) = server
        .with_session(
            &session,
            Method::POST,
            "/api/v1/keys",
            Some(json!({"name": "calls only", "scopes": ["calls:read"], "mode": "test"})),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let (status, body) = server
        .get(made["key"].as_str().unwrap(), "/api/v1/events/stream")
        .await;
    assert_eq!(status, 403, "{body}");

    let response = server
        .request(Method::GET, "/api/v1/events/stream?mode=test")
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    let mut stream = Stream::from(response).await;
    let call = place_call(&server, &boot.test_key, &boot.agent_id, "+15125551234").await;
    let got = stream.until(|m| !m.is_empty()).await;
    assert_eq!(got[0].data["object_id"], call.as_str());
    assert_eq!(got[0].data["mode"], "test");
}

/// An idle stream gets heartbeats; a shutdown ends open streams instead of holding
/// the server for its drain deadline.
#[tokio::test]
async fn idle_streams_get_heartbeats_and_end_at_shutdown() {
    let mut server = Server::builder()
        .env("KAICALLS_EVENTS_HEARTBEAT_SECS", "0.3")
        .start()
        .await;
    let boot = server.bootstrap("beat@stream.test");
    let mut stream = Stream::open(&server, &boot.test_key, "", None).await;
    assert!(stream.next(Duration::from_millis(1200)).await.is_none());
    let beats = stream.comments.iter().filter(|c| *c == "heartbeat").count();
    assert!(beats >= 2, "heartbeats in 1.2 s: {:?}", stream.comments);
    let started = std::time::Instant::now();
    let status = server.terminate(8);
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown waited {:?} for the open stream",
        started.elapsed()
    );
    assert!(stream.next(Duration::from_secs(2)).await.is_none());
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// 1,000 open streams cost the server under 50 MB, and one event reaches all of them.
#[tokio::test]
async fn a_thousand_open_streams_cost_under_50_mb() {
    const STREAMS: usize = 1000;
    let server = Server::builder()
        .env("KAICALLS_RATE_LIMIT_READS_PER_MIN", "100000")
        .start()
        .await;
    let boot = server.bootstrap("many@stream.test");
    let addr = server.url.trim_start_matches("http://").to_string();
    // Warm the server (pools, the stream's reader) with one stream first.
    let warm = Stream::open(&server, &boot.test_key, "", None).await;
    let before = rss_kib(server.pid());
    let request = format!(
        "GET /api/v1/events/stream?event_type=lead.created HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\r\n",
        boot.test_key
    );
    let mut sockets = Vec::with_capacity(STREAMS);
    for _ in 0..STREAMS {
        let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
        socket.write_all(request.as_bytes()).await.unwrap();
        sockets.push(socket);
    }
    // Each has its answer and the `connected` comment.
    for socket in &mut sockets {
        read_until(socket, ": connected").await;
    }
    let after = rss_kib(server.pid());
    let grown_mb = after.saturating_sub(before) as f64 / 1024.0;
    println!("{STREAMS} open streams: server RSS {before} KiB -> {after} KiB (+{grown_mb:.1} MB)");
    assert!(grown_mb < 50.0, "{STREAMS} streams cost {grown_mb:.1} MB");

    let (status, lead) = server
        .post(
            &boot.test_key,
            "/api/v1/leads",
            json!({"name": "For All", "phone": "+15125550112"}),
        )
        .await;
    assert_eq!(status, 201, "{lead}");
    let lead_id = lead["id"].as_str().unwrap().to_string();
    let mut readers = tokio::task::JoinSet::new();
    for mut socket in sockets {
        let lead_id = lead_id.clone();
        readers.spawn(async move { read_until(&mut socket, &lead_id).await });
    }
    let mut reached = 0;
    while let Some(done) = readers.join_next().await {
        done.unwrap();
        reached += 1;
    }
    assert_eq!(reached, STREAMS);
    drop(warm);
}

/// Reads from `socket` until `needle` has appeared (fails after 30 s).
async fn read_until(socket: &mut tokio::net::TcpStream, needle: &str) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&seen).contains(needle) {
        let n = tokio::time::timeout_at(deadline, socket.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no '{needle}' in: {}", String::from_utf8_lossy(&seen)))
            .unwrap();
        assert!(n > 0, "the stream closed before '{needle}'");
        seen.extend_from_slice(&buf[..n]);
    }
}

/// A TCP proxy to `upstream` that cuts its first connection once the server has
/// sent `cut_after` event messages (messages with data) through it; it keeps every connection's request
/// head (to see what a reconnecting client sent).
async fn cutting_proxy(
    upstream: String,
    cut_after: usize,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let (mut client, _) = listener.accept().await.unwrap();
            let mut server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
            let cut = first.then_some(cut_after);
            first = false;
            let heads = seen.clone();
            tokio::spawn(async move {
                let (mut client_read, mut client_write) = client.split();
                let (mut server_read, mut server_write) = server.split();
                let up = async {
                    let mut buf = [0u8; 4096];
                    let mut head = Vec::new();
                    loop {
                        let n = client_read.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        if head.len() < 8192 {
                            head.extend_from_slice(&buf[..n]);
                            heads
                                .lock()
                                .unwrap()
                                .push(String::from_utf8_lossy(&head).to_string());
                        }
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                };
                // Forwards the server's bytes; on the first connection, only up to
                // the start of message `cut_after + 1`, then closes.
                let down = async {
                    let mut buf = [0u8; 4096];
                    let mut all: Vec<u8> = Vec::new();
                    loop {
                        let n = server_read.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        let written = all.len();
                        all.extend_from_slice(&buf[..n]);
                        // Where each event message (one with data) starts.
                        let mut starts: Vec<usize> = vec![];
                        let mut begin = 0;
                        while let Some(end) = all[begin..].windows(2).position(|w| w == b"\n\n") {
                            let message = &all[begin..begin + end];
                            if message.windows(6).any(|w| w == b"data: ") {
                                starts.push(begin);
                            }
                            begin += end + 2;
                        }
                        match cut.and_then(|c| starts.get(c)) {
                            Some(&end) => {
                                let _ = client_write.write_all(&all[written.min(end)..end]).await;
                                return;
                            }
                            None => {
                                if client_write.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                };
                // Either direction ending ends the connection.
                tokio::select! { () = up => {}, () = down => {} }
            });
        }
    });
    (url, heads)
}

/// The Rust client's stream resumes by itself after a cut connection: the events
/// of a call come once each, and the second connection carried `Last-Event-ID`.
#[tokio::test]
async fn the_rust_client_resumes_across_a_cut_connection() {
    let server = Server::start().await;
    let boot = server.bootstrap("client@stream.test");
    let (status, lead) = server
        .post(
            &boot.test_key,
            "/api/v1/leads",
            json!({"name": "Start", "phone": "+15125550113"}),
        )
        .await;
    assert_eq!(status, 201, "{lead}");
    let (_, events) = server
        .get(&boot.test_key, "/api/v1/events?event_type=lead.created")
        .await;
    let start = events["events"][0]["id"].as_str().unwrap().to_string();
    let call = place_call(&server, &boot.test_key, &boot.agent_id, "+15125551234").await;
    server.wait_terminal(&boot.test_key, &call).await;

    let upstream = server.url.trim_start_matches("http://").to_string();
    let (proxy, heads) = cutting_proxy(upstream, 2).await;
    let kai = kaicalls_client::KaiCalls::with_base_url(&boot.test_key, &proxy);
    let mut stream = kai.stream_events().after(&start);
    let mut got = vec![];
    while !got
        .iter()
        .any(|e: &kaicalls_client::StreamEvent| e.kind == "call.completed")
    {
        let event = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("the stream went quiet")
            .unwrap()
            .expect("an event");
        got.push(event);
    }
    let ids: Vec<&str> = got.iter().map(|e| e.id.as_str()).collect();
    let (_, logged) = server
        .get(&boot.test_key, &format!("/api/v1/events?object_id={call}"))
        .await;
    let mut expected: Vec<&str> = logged["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    expected.reverse();
    assert_eq!(ids, expected, "every event of the call once, in order");
    assert_eq!(stream.last_event_id(), Some(*ids.last().unwrap()));
    let heads = heads.lock().unwrap().clone();
    let resumed = format!("last-event-id: {}", ids[1]);
    assert!(
        heads
            .iter()
            .any(|h| h.to_ascii_lowercase().contains(&resumed)),
        "no reconnect with {resumed}: {heads:?}"
    );

    // Errors retrying cannot change come back typed, without a reconnect loop.
    let mut bad = kai.stream_events().event_types(&["call.exploded"]);
    let err = tokio::time::timeout(Duration::from_secs(5), bad.next())
        .await
        .expect("answered at once")
        .unwrap_err();
    assert_eq!((err.status, err.code.as_str()), (400, "invalid_request"));
    assert_eq!(err.param.as_deref(), Some("event_type"));
}

/// `kaicalls events listen --forward-to URL` prints each event and POSTs its
/// webhook payload to the URL, signed with the business webhook secret.
#[tokio::test]
async fn the_cli_listens_and_forwards_signed_events() {
    let server = Server::start().await;
    let boot = server.bootstrap("cli@stream.test");
    let receiver = crate::receiver::Receiver::start().await;
    let mut child = tokio::process::Command::new(crate::harness::BIN)
        .args([
            "events",
            "listen",
            "--forward-to",
            &receiver.url,
            "--events",
            "call.queued,call.completed",
        ])
        .env("KAICALLS_API_KEY", &boot.test_key)
        .env("KAICALLS_BASE_URL", &server.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap());
    let mut ready = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncBufReadExt::read_line(&mut stderr, &mut ready),
    )
    .await
    .expect("the CLI says it is ready")
    .unwrap();
    assert!(ready.contains("Forwarding events to"), "{ready}");
    // The stream is open once the server has answered it: give it that moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let call = place_call(&server, &boot.test_key, &boot.agent_id, "+15125551234").await;
    let got = receiver
        .wait_until(30, "the forwarded call.completed", |r| {
            r.iter().any(|r| r.event() == "call.completed")
        })
        .await;
    let kinds: Vec<&str> = got.iter().map(|r| r.event()).collect();
    assert_eq!(kinds, ["call.queued", "call.completed"]);
    assert!(got.iter().all(|r| r.json["call_id"] == call.as_str()));
    assert!(
        got.iter().all(|r| r.verifies_with(&boot.webhook_secret)),
        "signed with the business secret"
    );
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("--> call.queued"), "{printed}");
    assert!(printed.contains("<-- [200] POST"), "{printed}");
}

/// A stream ends when its key is revoked (within a second or two) or its session is
/// signed out (within a heartbeat interval): an open stream is no way around 401.
#[tokio::test]
async fn a_revoked_key_or_ended_session_ends_its_streams() {
    let server = Server::builder()
        .env("KAICALLS_EVENTS_HEARTBEAT_SECS", "0.5")
        .start()
        .await;
    server.bootstrap("revoke@stream.test");
    let session = server.login("revoke@stream.test").await;
    let (status, made) = server
        .with_session(
            &session,
            Method::POST,
            "/api/v1/keys",
            Some(json!({"name": "streamer", "scopes": ["events:read"], "mode": "test"})),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let key = made["key"].as_str().unwrap();
    let mut by_key = Stream::open(&server, key, "", None).await;
    let response = server
        .request(Method::GET, "/api/v1/events/stream")
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    let mut by_session = Stream::from(response).await;

    let (status, _) = server
        .with_session(
            &session,
            Method::DELETE,
            &format!("/api/v1/keys?id={}", made["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let started = std::time::Instant::now();
    assert!(by_key.next(Duration::from_secs(10)).await.is_none());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the revoked key's stream lasted {:?}",
        started.elapsed()
    );

    let (status, _) = server
        .with_session(&session, Method::POST, "/api/v1/auth/logout", None)
        .await;
    assert_eq!(status, 200);
    let started = std::time::Instant::now();
    assert!(by_session.next(Duration::from_secs(10)).await.is_none());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the signed-out session's stream lasted {:?}",
        started.elapsed()
    );
}

/// The opening message names the stream's starting point (the tenant's last event
/// before it): a client that loses the connection before its first event resumes
/// from there and misses nothing — the Rust client does so by itself.
#[tokio::test]
async fn the_opening_message_names_the_starting_point() {
    let server = Server::start().await;
    let boot = server.bootstrap("opening@stream.test");
    let fresh = Stream::open(&server, &boot.test_key, "", None).await;
    assert_eq!(
        fresh.opened_at, None,
        "a tenant without events has no starting event"
    );
    drop(fresh);
    let key = boot.test_key.clone();
    let lead = |name: &'static str| {
        let server = &server;
        let key = key.clone();
        async move {
            let (status, lead) = server
                .post(
                    &key,
                    "/api/v1/leads",
                    json!({"name": name, "phone": "+15125550120"}),
                )
                .await;
            assert_eq!(status, 201, "{lead}");
            lead["id"].as_str().unwrap().to_string()
        }
    };
    lead("Zero").await;
    let (_, events) = server.get(&boot.test_key, "/api/v1/events").await;
    let zero = events["events"][0]["id"].as_str().unwrap().to_string();
    let opened = Stream::open(&server, &boot.test_key, "", None).await;
    assert_eq!(opened.opened_at.as_deref(), Some(zero.as_str()));
    drop(opened);

    // The Rust client, cut off before its first event, resumes from the opening id.
    let upstream = server.url.trim_start_matches("http://").to_string();
    let (proxy, heads) = cutting_proxy(upstream, 0).await;
    let kai = kaicalls_client::KaiCalls::with_base_url(&boot.test_key, &proxy);
    let reader = tokio::spawn(async move {
        let mut stream = kai.stream_events().event_types(&["lead.created"]);
        let mut got = vec![];
        while got.len() < 2 {
            let event = stream.next().await.unwrap().expect("an event");
            got.push(event.object_id);
        }
        got
    });
    crate::harness::eventually(10, "the stream's first connection", || {
        let heads = heads.clone();
        async move {
            if heads.lock().unwrap().is_empty() {
                Err("none".to_string())
            } else {
                Ok(())
            }
        }
    })
    .await;
    // Let its answer (the opening message) through before anything happens.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let one = lead("One").await;
    let two = lead("Two").await;
    let got = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("both leads arrive")
        .unwrap();
    assert_eq!(got, [one, two]);
    let heads = heads.lock().unwrap().clone();
    let resumed = format!("last-event-id: {zero}");
    assert!(
        heads
            .iter()
            .any(|h| h.to_ascii_lowercase().contains(&resumed)),
        "no resume from the opening id: {heads:?}"
    );
}
