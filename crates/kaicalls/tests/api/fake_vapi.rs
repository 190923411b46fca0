//! A local server speaking Vapi's API (`POST /call`, `GET /call/{id}`, the monitor
//! control URL) and able to send Vapi's server messages, as Vapi documents them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Json;
use serde_json::{json, Value};

#[derive(Default)]
pub struct Inner {
    /// Every `POST /call`: (Authorization header, body).
    pub dials: Vec<(String, Value)>,
    /// What `GET /call/{id}` answers.
    pub calls: HashMap<String, Value>,
    /// Bodies posted to control URLs, by call id.
    pub controls: Vec<(String, Value)>,
    pub refuse_next: bool,
    /// Audio served at `/recordings/{name}`.
    pub recordings: HashMap<String, Vec<u8>>,
}

#[derive(Clone)]
pub struct FakeVapi {
    pub url: String,
    pub inner: Arc<Mutex<Inner>>,
}

async fn create_call(
    State(state): State<(Arc<Mutex<Inner>>, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    let (inner, url) = state;
    let mut inner = inner.lock().unwrap();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    inner.dials.push((auth, body));
    if std::mem::take(&mut inner.refuse_next) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"message": "phoneNumberId is invalid"})),
        );
    }
    let id = format!("vapi-call-{}", inner.dials.len());
    let call = json!({"id": id, "status": "queued", "monitor": {"controlUrl": format!("{url}/control/{id}")}});
    inner.calls.insert(id, call.clone());
    (StatusCode::CREATED, Json(call))
}

async fn get_call(
    State(state): State<(Arc<Mutex<Inner>>, String)>,
    Path(id): Path<String>,
) -> impl IntoResponse {
    match state.0.lock().unwrap().calls.get(&id) {
        Some(call) => (StatusCode::OK, Json(call.clone())),
        None => (StatusCode::NOT_FOUND, Json(json!({"message": "not found"}))),
    }
}

async fn recording(
    State(state): State<(Arc<Mutex<Inner>>, String)>,
    Path(name): Path<String>,
) -> axum::response::Response {
    match state.0.lock().unwrap().recordings.get(&name) {
        Some(bytes) => ([("content-type", "audio/wav")], bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn control(
    State(state): State<(Arc<Mutex<Inner>>, String)>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> StatusCode {
    state.0.lock().unwrap().controls.push((id, body));
    StatusCode::OK
}

impl FakeVapi {
    pub async fn start() -> FakeVapi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .route("/call", post(create_call))
            .route("/call/{id}", get(get_call))
            .route("/control/{id}", post(control))
            .route("/recordings/{name}", get(recording))
            .with_state((inner.clone(), url.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeVapi { url, inner }
    }

    pub fn last_dial(&self) -> (String, Value) {
        self.inner
            .lock()
            .unwrap()
            .dials
            .last()
            .cloned()
            .expect("a dial")
    }

    /// Sets what `GET /call/{id}` answers from now on.
    pub fn set_call(&self, id: &str, call: Value) {
        self.inner
            .lock()
            .unwrap()
            .calls
            .insert(id.to_string(), call);
    }

    /// Serves `bytes` as a recording; returns its URL.
    pub fn host_recording(&self, name: &str, bytes: Vec<u8>) -> String {
        self.inner
            .lock()
            .unwrap()
            .recordings
            .insert(name.to_string(), bytes);
        format!("{}/recordings/{name}", self.url)
    }

    pub fn drop_recording(&self, name: &str) {
        self.inner.lock().unwrap().recordings.remove(name);
    }

    pub fn controls(&self) -> Vec<(String, Value)> {
        self.inner.lock().unwrap().controls.clone()
    }
}

/// A status-update server message for Vapi call `id`.
pub fn status_update(id: &str, status: &str, ended_reason: Option<&str>) -> Value {
    let mut m = json!({"type": "status-update", "status": status, "call": {"id": id}, "timestamp": 1771165800000i64});
    if let Some(r) = ended_reason {
        m["endedReason"] = json!(r);
    }
    m
}

/// An end-of-call-report for Vapi call `id`, lasting 127 s.
pub fn end_of_call_report(id: &str, ended_reason: &str) -> Value {
    json!({
        "type": "end-of-call-report",
        "endedReason": ended_reason,
        "call": {"id": id},
        "startedAt": "2026-02-15T14:30:00.000Z",
        "endedAt": "2026-02-15T14:32:07.000Z",
        "cost": 0.42,
        "artifact": {
            "transcript": "AI: Hey John, this is Kai from Smith Law.\nUser: Hi Kai.",
            "messages": [
                {"role": "system", "message": "You are Kai", "secondsFromStart": 0},
                {"role": "bot", "message": "Hey John, this is Kai from Smith Law — do you have a minute?", "secondsFromStart": 0.4},
                {"role": "user", "message": "Sure, what is this about?", "secondsFromStart": 4.2},
                {"role": "bot", "message": "Following up on your car accident case. I understand it has been hard; can you confirm Thursday works?", "secondsFromStart": 7.9},
                {"role": "user", "message": "Yes, Thursday works, thanks.", "secondsFromStart": 15.0}
            ],
            "recordingUrl": "RECORDING_URL"
        },
        "analysis": {"summary": "John confirmed Thursday for his car accident case.", "successEvaluation": "true"}
    })
}

/// Posts a server message to KaiCalls as Vapi would.
pub async fn send(server_url: &str, secret: Option<&str>, message: Value) -> StatusCode {
    let mut req = reqwest::Client::new()
        .post(format!("{server_url}/api/v1/providers/vapi/events"))
        .json(&json!({ "message": message }));
    if let Some(secret) = secret {
        req = req.header("x-vapi-secret", secret);
    }
    req.send().await.unwrap().status()
}

/// Posts a server message as Vapi would and reads KaiCalls' answer (the messages
/// that expect one: `assistant-request`, `tool-calls`, `transfer-destination-request`).
pub async fn exchange(
    server_url: &str,
    secret: Option<&str>,
    message: Value,
) -> (reqwest::StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{server_url}/api/v1/providers/vapi/events"))
        .json(&json!({ "message": message }));
    if let Some(secret) = secret {
        req = req.header("x-vapi-secret", secret);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}
