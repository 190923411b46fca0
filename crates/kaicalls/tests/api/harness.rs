//! Test harness: the real `kaicalls` binary, started on port 0 against its own
//! database, driven over real HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_kaicalls");
pub const PASSWORD: &str = "correct-horse-battery";

#[derive(Debug, Clone, Deserialize)]
#[allow(dead_code)]
pub struct Boot {
    pub user_id: String,
    pub business_id: String,
    pub agent_id: String,
    pub phone_number_id: String,
    pub phone_number: String,
    pub live_key: String,
    pub test_key: String,
    pub webhook_secret: String,
}

pub struct Server {
    child: Child,
    pub url: String,
    pub db_url: String,
    env: Vec<(String, String)>,
    pub http: reqwest::Client,
    _dir: Arc<tempfile::TempDir>,
}

#[path = "../common/env.rs"]
mod env;
pub use env::{postgres_url, required_env};

pub struct Builder {
    env: Vec<(String, String)>,
    db_url: Option<String>,
}

impl Builder {
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn database(mut self, url: &str) -> Self {
        self.db_url = Some(url.into());
        self
    }

    pub async fn start(self) -> Server {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let db_url = self
            .db_url
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("kaicalls.db").display()));
        let child = spawn(&db_url, &dir.path().join("recordings"), &self.env);
        let (child, url) = wait_listening(child);
        Server {
            child,
            url,
            db_url,
            env: self.env,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            _dir: dir,
        }
    }
}

fn spawn(db_url: &str, recordings: &std::path::Path, env: &[(String, String)]) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("KAICALLS_DATABASE_URL", db_url)
        .env("KAICALLS_RECORDINGS_DIR", recordings)
        .env("KAICALLS_SIM_SPEED", "1000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn kaicalls serve")
}

/// Reads the server's stdout until it prints its address.
fn wait_listening(mut child: Child) -> (Child, String) {
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("KaiCalls listening on ") {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server did not print its address within 30 s");
    (child, url)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn bootstrap_db(db_url: &str, email: &str, business: &str) -> Boot {
    let out = Command::new(BIN)
        .args([
            "admin",
            "bootstrap",
            "--email",
            email,
            "--password",
            PASSWORD,
            "--business",
            business,
            "--business-phone",
            "+15125550100",
            "--timezone",
            "America/Chicago",
            "--json",
        ])
        .env("KAICALLS_DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run admin bootstrap");
    assert!(
        out.status.success(),
        "bootstrap failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("bootstrap prints one JSON object")
}

impl Server {
    pub fn builder() -> Builder {
        Builder {
            env: vec![],
            db_url: None,
        }
    }

    pub async fn start() -> Server {
        Self::builder().start().await
    }

    /// Creates a tenant with `admin bootstrap` against this server's database.
    pub fn bootstrap(&self, email: &str) -> Boot {
        bootstrap_db(&self.db_url, email, "Smith Law")
    }

    /// SIGKILL (if it is still running), then start again on the same database
    /// with the environment changed by `change`.
    pub async fn restart_with(&mut self, change: impl FnOnce(&mut Vec<(String, String)>)) {
        change(&mut self.env);
        self.kill_and_restart().await;
    }

    /// SIGKILL, then start again on the same database.
    pub async fn kill_and_restart(&mut self) {
        let _ = self.child.kill(); // it may have died already (a fault point)
        self.child.wait().expect("wait");
        let recordings = self._dir.path().join("recordings");
        let (child, url) = wait_listening(spawn(&self.db_url, &recordings, &self.env));
        self.child = child;
        self.url = url;
    }

    /// SIGTERM, then waits (at most `secs`) for the process to exit on its own.
    pub fn terminate(&mut self, secs: u64) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not exit within {secs} s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server process's id (to read its memory use).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{}", self.url, path))
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.request(method.clone(), path);
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        assert!(
            resp.headers().contains_key("request-id"),
            "every response carries Request-Id"
        );
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        crate::contract::check(&method, path, status, &headers, &text);
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    pub async fn get(&self, key: &str, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    /// Polls a call until `pred` holds for it (deadline `secs`).
    pub async fn call_until(
        &self,
        key: &str,
        id: &str,
        secs: u64,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let pred = &pred;
        eventually(secs, "the call's state", move || async move {
            let (_, call) = self.get(key, &format!("/api/v1/calls?id={id}")).await;
            if pred(&call) {
                Ok(call)
            } else {
                Err(call.to_string())
            }
        })
        .await
    }

    /// Polls a call's first webhook delivery until `pred` holds for it.
    pub async fn delivery_until(
        &self,
        key: &str,
        call_id: &str,
        secs: u64,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let pred = &pred;
        eventually(secs, "the call's webhook delivery", move || async move {
            let path = format!("/api/v1/event-deliveries?call_id={call_id}");
            let (_, deliveries) = self.get(key, &path).await;
            let delivery = &deliveries["deliveries"][0];
            if pred(delivery) {
                Ok(delivery.clone())
            } else {
                Err(deliveries.to_string())
            }
        })
        .await
    }

    /// Polls a call until it is terminal (deadline 60 s).
    pub async fn wait_terminal(&self, key: &str, id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (status, call) = self
                .get(key, &format!("/api/v1/calls?id={id}&wait=5"))
                .await;
            assert_eq!(status, 200, "{call}");
            if ["completed", "failed", "canceled"].contains(&call["status"].as_str().unwrap()) {
                return call;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "call {id} never finished: {call}"
            );
        }
    }

    /// Logs in and returns a client holding the session cookie.
    pub async fn login(&self, email: &str) -> Session {
        let resp = self
            .request(Method::POST, "/api/v1/auth/login")
            .json(&serde_json::json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let cookie = resp
            .headers()
            .get("set-cookie")
            .expect("login sets a cookie")
            .to_str()
            .unwrap()
            .to_string();
        Session {
            cookie: cookie.split(';').next().unwrap().to_string(),
            set_cookie: cookie,
        }
    }

    pub async fn with_session(
        &self,
        session: &Session,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .request(method.clone(), path)
            .header("cookie", &session.cookie)
            .header("origin", &self.url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        crate::contract::check(&method, path, status, &headers, &text);
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// Polls `probe` every 50 ms until it answers `Ok`; after `secs` the test fails with
/// `what` and the last `Err` (a description of what was seen instead).
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) => assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; last seen: {last}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub struct Session {
    pub cookie: String,
    pub set_cookie: String,
}

/// The error envelope's code, asserting the envelope's shape.
pub fn code(body: &Value) -> &str {
    let err = &body["error"];
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "envelope: {body}"
    );
    err["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

pub fn param(body: &Value) -> &str {
    body["error"]["param"].as_str().unwrap_or("")
}
