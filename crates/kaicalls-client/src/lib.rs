//! A client for the KaiCalls API.
//!
//! ```no_run
//! # async fn run() -> Result<(), kaicalls_client::Error> {
//! use kaicalls_client::{CreateCall, KaiCalls};
//! let kai = KaiCalls::new("kc_live_xxx");
//! let call = kai
//!     .create_call(&CreateCall::new("uuid-abc123", "+15125551234").name("John Smith"))
//!     .await?;
//! let done = kai.wait_call(&call.id, std::time::Duration::from_secs(600)).await?;
//! println!("{}", done.summary.unwrap_or_default());
//! # Ok(()) }
//! ```
//!
//! Retries 429 and 5xx answers (honouring `Retry-After`) with exponential backoff,
//! sends an `Idempotency-Key` with every call creation so a retry never places two
//! calls, and verifies signed webhooks (`webhooks::verify`).

pub mod events;
pub mod webhooks;

pub use events::{EventStream, StreamEvent};

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const DEFAULT_BASE_URL: &str = "https://www.kaicalls.com";

/// An API error: the server's envelope, or a transport failure (`status` 0).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} ({status}): {message}")]
pub struct Error {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// The offending parameter of a 400.
    pub param: Option<String>,
    /// The server's `Request-Id`, for support.
    pub request_id: Option<String>,
}

impl Error {
    /// The error an unsuccessful answer's body (our envelope, or anything) says.
    fn from_envelope(status: u16, request_id: Option<String>, text: &str) -> Error {
        let json: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let err = &json["error"];
        Error {
            status,
            code: err["code"]
                .as_str()
                .map_or_else(|| format!("http_{status}"), str::to_string),
            message: err["message"].as_str().unwrap_or(text).to_string(),
            param: err["param"].as_str().map(str::to_string),
            request_id,
        }
    }

    fn transport(err: impl std::fmt::Display) -> Error {
        Error {
            status: 0,
            code: "connection_error".into(),
            message: err.to_string(),
            param: None,
            request_id: None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// A call as the API returns it; fields this crate does not name are in `extra`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Call {
    pub id: String,
    #[serde(default)]
    pub conversation_id: Option<String>,
    pub status: String,
    #[serde(default)]
    pub duration: Option<i64>,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub agent_name: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub recording_url: Option<String>,
    #[serde(default)]
    pub ended_reason: Option<String>,
    pub created_at: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Call {
    /// Completed, failed or canceled.
    pub fn is_finished(&self) -> bool {
        !matches!(self.status.as_str(), "queued" | "ringing" | "in_progress")
    }
}

/// `POST /api/v1/calls`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateCall {
    pub agent_id: String,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<i64>,
}

impl CreateCall {
    pub fn new(agent_id: impl Into<String>, to: impl Into<String>) -> CreateCall {
        CreateCall {
            agent_id: agent_id.into(),
            to: to.into(),
            ..Default::default()
        }
    }
    pub fn name(mut self, v: impl Into<String>) -> Self {
        self.name = Some(v.into());
        self
    }
    pub fn context(mut self, v: impl Into<String>) -> Self {
        self.context = Some(v.into());
        self
    }
    pub fn first_message(mut self, v: impl Into<String>) -> Self {
        self.first_message = Some(v.into());
        self
    }
    pub fn lead_id(mut self, v: impl Into<String>) -> Self {
        self.lead_id = Some(v.into());
        self
    }
    pub fn webhook_url(mut self, v: impl Into<String>) -> Self {
        self.webhook_url = Some(v.into());
        self
    }
    pub fn max_duration(mut self, secs: i64) -> Self {
        self.max_duration = Some(secs);
        self
    }
}

/// One page of calls.
#[derive(Debug, Clone, Deserialize)]
pub struct CallPage {
    pub calls: Vec<Call>,
    pub has_more: bool,
}

#[derive(Clone)]
pub struct KaiCalls {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    /// Retries of a 429, 5xx or connection failure.
    pub max_retries: u32,
}

impl KaiCalls {
    /// A client for `KAICALLS_BASE_URL`, else the public API.
    pub fn new(api_key: impl Into<String>) -> KaiCalls {
        let base = std::env::var("KAICALLS_BASE_URL").unwrap_or_else(|_| DEFAULT_BASE_URL.into());
        KaiCalls::with_base_url(api_key, &base)
    }

    pub fn with_base_url(api_key: impl Into<String>, base_url: &str) -> KaiCalls {
        KaiCalls {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(90))
                .build()
                .unwrap_or_default(),
            base_url: base_url
                .trim_end_matches('/')
                .trim_end_matches("/api/v1")
                .to_string(),
            api_key: api_key.into(),
            max_retries: 2,
        }
    }

    /// Any request: `path` under the origin (e.g. `/api/v1/balance`).
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Value> {
        let mut attempt = 0;
        loop {
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.base_url))
                .bearer_auth(&self.api_key)
                .query(query);
            if let Some(body) = body {
                req = req.json(body);
            }
            if let Some(key) = idempotency_key {
                req = req.header("Idempotency-Key", key);
            }
            let outcome = req.send().await;
            let retry_after = match &outcome {
                Ok(resp) if resp.status().as_u16() == 429 || resp.status().is_server_error() => {
                    Some(
                        resp.headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<f64>().ok()),
                    )
                }
                Err(_) => Some(None),
                _ => None,
            };
            if let (Some(wait), true) = (retry_after, attempt < self.max_retries) {
                let backoff = 0.5 * 2f64.powi(attempt as i32);
                let secs = wait.map_or(backoff, |w| w.max(0.0)).min(60.0);
                tokio::time::sleep(Duration::from_secs_f64(secs)).await;
                attempt += 1;
                continue;
            }
            let resp = outcome.map_err(Error::transport)?;
            let status = resp.status().as_u16();
            let request_id = resp
                .headers()
                .get("request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let text = resp.text().await.map_err(Error::transport)?;
            if (200..300).contains(&status) {
                return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
            }
            return Err(Error::from_envelope(status, request_id, &text));
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(v: Value) -> Result<T> {
        serde_json::from_value(v).map_err(|e| Error {
            status: 0,
            code: "unexpected_response".into(),
            message: e.to_string(),
            param: None,
            request_id: None,
        })
    }

    /// Places a call (with a fresh Idempotency-Key, so retries are safe).
    pub async fn create_call(&self, call: &CreateCall) -> Result<Call> {
        let body = serde_json::to_value(call).map_err(Error::transport)?;
        let key = uuid::Uuid::new_v4().to_string();
        let v = self
            .request(
                reqwest::Method::POST,
                "/api/v1/calls",
                &[],
                Some(&body),
                Some(&key),
            )
            .await?;
        Self::parse(v)
    }

    pub async fn get_call(&self, id: &str) -> Result<Call> {
        let v = self
            .request(
                reqwest::Method::GET,
                "/api/v1/calls",
                &[("id", id.to_string())],
                None,
                None,
            )
            .await?;
        Self::parse(v)
    }

    /// One page, newest first; `after` is the previous page's last `created_at`.
    pub async fn list_calls(&self, limit: u32, after: Option<&str>) -> Result<CallPage> {
        let mut query = vec![("limit", limit.to_string())];
        if let Some(after) = after {
            query.push(("after", after.to_string()));
        }
        let v = self
            .request(reqwest::Method::GET, "/api/v1/calls", &query, None, None)
            .await?;
        Self::parse(v)
    }

    /// Every call, page by page, each exactly once.
    pub async fn all_calls(&self, page_size: u32) -> Result<Vec<Call>> {
        let mut out: Vec<Call> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.list_calls(page_size, after.as_deref()).await?;
            after = page.calls.last().map(|c| c.created_at.clone());
            out.extend(page.calls);
            if !page.has_more || after.is_none() {
                return Ok(out);
            }
        }
    }

    /// Hangs up (or cancels) a call.
    pub async fn end_call(&self, id: &str) -> Result<Call> {
        let v = self
            .request(
                reqwest::Method::POST,
                "/api/v1/calls/end",
                &[("id", id.to_string())],
                None,
                None,
            )
            .await?;
        Self::parse(v)
    }

    /// Waits until the call is finished (long-polling), or `timeout` passes.
    pub async fn wait_call(&self, id: &str, timeout: Duration) -> Result<Call> {
        self.wait_call_with(id, timeout, |_| {}).await
    }

    /// Like `wait_call`, calling `progress` with each state seen.
    pub async fn wait_call_with(
        &self,
        id: &str,
        timeout: Duration,
        mut progress: impl FnMut(&Call),
    ) -> Result<Call> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let wait = left.as_secs().clamp(0, 5);
            let v = self
                .request(
                    reqwest::Method::GET,
                    "/api/v1/calls",
                    &[("id", id.to_string()), ("wait", wait.to_string())],
                    None,
                    None,
                )
                .await?;
            let call: Call = Self::parse(v)?;
            progress(&call);
            if call.is_finished() || left.is_zero() {
                return Ok(call);
            }
        }
    }

    pub async fn list_agents(&self) -> Result<Vec<Value>> {
        let v = self.get("/api/v1/agents", &[]).await?;
        Ok(v["agents"].as_array().cloned().unwrap_or_default())
    }

    // The rest of the API, as JSON values: the same resources as the Python and
    // TypeScript SDKs.

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value> {
        self.request(reqwest::Method::GET, path, query, None, None)
            .await
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> Result<Value> {
        // Creates carry an Idempotency-Key, so a retry never makes two.
        let key = (method == reqwest::Method::POST).then(|| uuid::Uuid::new_v4().to_string());
        self.request(method, path, &[], Some(body), key.as_deref())
            .await
    }

    async fn delete(&self, path: &str, query: &[(&str, String)]) -> Result<Value> {
        self.request(reqwest::Method::DELETE, path, query, None, None)
            .await
    }

    pub async fn get_agent(&self, id: &str) -> Result<Value> {
        self.get("/api/v1/agents", &[("id", id.into())]).await
    }
    pub async fn create_agent(&self, fields: &Value) -> Result<Value> {
        self.send(reqwest::Method::POST, "/api/v1/agents", fields)
            .await
    }
    /// `fields` must carry the agent's `id`.
    pub async fn update_agent(&self, fields: &Value) -> Result<Value> {
        self.send(reqwest::Method::PATCH, "/api/v1/agents", fields)
            .await
    }

    /// Leads matching `filters` (status, source, phone, score_gte, limit, …).
    pub async fn list_leads(&self, filters: &[(&str, String)]) -> Result<Value> {
        self.get("/api/v1/leads", filters).await
    }
    pub async fn get_lead(&self, id: &str) -> Result<Value> {
        self.get("/api/v1/leads", &[("id", id.into())]).await
    }
    pub async fn create_lead(&self, fields: &Value) -> Result<Value> {
        self.send(reqwest::Method::POST, "/api/v1/leads", fields)
            .await
    }
    /// `fields` must carry the lead's `id`.
    pub async fn update_lead(&self, fields: &Value) -> Result<Value> {
        self.send(reqwest::Method::PATCH, "/api/v1/leads", fields)
            .await
    }

    /// Campaigns, newest first (`status`, `limit`, `after`, `business_id`).
    pub async fn list_campaigns(&self, filters: &[(&str, String)]) -> Result<Value> {
        self.get("/api/v1/campaigns", filters).await
    }
    /// One campaign with its counters.
    pub async fn get_campaign(&self, id: &str) -> Result<Value> {
        self.get("/api/v1/campaigns", &[("id", id.into())]).await
    }
    /// Creates a campaign (a draft unless `start` is true) with its contacts.
    pub async fn create_campaign(&self, fields: &Value) -> Result<Value> {
        self.send(reqwest::Method::POST, "/api/v1/campaigns", fields)
            .await
    }
    /// `start`, `pause`, `resume` or `cancel`.
    pub async fn campaign_action(&self, id: &str, action: &str) -> Result<Value> {
        let path = format!("/api/v1/campaigns/{action}?id={}", urlencode(id));
        self.send(
            reqwest::Method::POST,
            &path,
            &Value::Object(Default::default()),
        )
        .await
    }
    /// Rings one of your numbers as a simulated caller (test keys): the agent answers
    /// and the scripted conversation plays (`POST /api/v1/sandbox/inbound-calls`).
    pub async fn sandbox_ring(&self, to: &str, from: &str) -> Result<Call> {
        let body = serde_json::json!({ "to": to, "from": from });
        let value = self
            .send(
                reqwest::Method::POST,
                "/api/v1/sandbox/inbound-calls",
                &body,
            )
            .await?;
        Self::parse(value)
    }
    /// Voicemails callers left, newest first (`business_id`, `after`, `limit`).
    pub async fn list_voicemails(&self, filters: &[(&str, String)]) -> Result<Value> {
        self.get("/api/v1/voicemails", filters).await
    }
    /// The staff alert settings of a business (`business_id` when the key has several).
    pub async fn staff_alert_settings(&self, filters: &[(&str, String)]) -> Result<Value> {
        self.get("/api/v1/staff-alerts/settings", filters).await
    }
    /// Changes the staff alert settings (`emails`, `webhook_url`, `events`, `enabled`).
    pub async fn update_staff_alert_settings(&self, fields: &Value) -> Result<Value> {
        self.send(
            reqwest::Method::PATCH,
            "/api/v1/staff-alerts/settings",
            fields,
        )
        .await
    }
    /// A campaign's contacts (`state`, `after`, `limit`).
    pub async fn campaign_contacts(&self, id: &str, filters: &[(&str, String)]) -> Result<Value> {
        let mut query = vec![("id", id.to_string())];
        query.extend(filters.iter().map(|(k, v)| (*k, v.clone())));
        self.get("/api/v1/campaigns/contacts", &query).await
    }

    pub async fn list_phone_numbers(&self) -> Result<Value> {
        self.get("/api/v1/phone-numbers", &[]).await
    }
    /// Registers or reassigns a number (`phone_number`, `agent_id`, …).
    pub async fn assign_phone_number(&self, fields: &Value) -> Result<Value> {
        self.send(reqwest::Method::POST, "/api/v1/phone-numbers", fields)
            .await
    }
    pub async fn release_phone_number(&self, phone_number: &str) -> Result<Value> {
        self.delete(
            "/api/v1/phone-numbers",
            &[("phone_number", phone_number.into())],
        )
        .await
    }

    /// A fresh signed link to a call's recording.
    pub async fn get_recording(&self, call_id: &str) -> Result<Value> {
        self.get("/api/v1/recordings", &[("call_id", call_id.into())])
            .await
    }
    pub async fn list_transcripts(&self, filters: &[(&str, String)]) -> Result<Value> {
        self.get("/api/v1/transcripts", filters).await
    }

    pub async fn list_webhooks(&self) -> Result<Value> {
        self.get("/api/v1/webhooks", &[]).await
    }
    /// Creates (`webhook_url`, `events`) or, with `id`, updates a subscription.
    pub async fn create_webhook(&self, fields: &Value) -> Result<Value> {
        self.send(reqwest::Method::POST, "/api/v1/webhooks", fields)
            .await
    }
    pub async fn delete_webhook(&self, id: &str) -> Result<Value> {
        self.delete("/api/v1/webhooks", &[("id", id.into())]).await
    }
    pub async fn test_webhook(&self, id: &str) -> Result<Value> {
        let body = serde_json::json!({ "id": id });
        self.send(reqwest::Method::POST, "/api/v1/webhooks/test", &body)
            .await
    }
    pub async fn rotate_webhook_secret(&self, id: &str) -> Result<Value> {
        let body = serde_json::json!({ "id": id });
        self.send(
            reqwest::Method::POST,
            "/api/v1/webhooks/rotate-secret",
            &body,
        )
        .await
    }
    /// The business secret that signs per-call webhooks.
    pub async fn webhook_secret(&self) -> Result<Value> {
        self.get("/api/v1/webhooks/secret", &[]).await
    }

    pub async fn list_events(&self, filters: &[(&str, String)]) -> Result<Value> {
        self.get("/api/v1/events", filters).await
    }
    pub async fn list_deliveries(&self, filters: &[(&str, String)]) -> Result<Value> {
        self.get("/api/v1/event-deliveries", filters).await
    }
    pub async fn replay_events(&self, body: &Value) -> Result<Value> {
        self.send(reqwest::Method::POST, "/api/v1/events/replay", body)
            .await
    }

    pub async fn balance(&self) -> Result<Value> {
        self.get("/api/v1/balance", &[]).await
    }
    pub async fn usage(&self, filters: &[(&str, String)]) -> Result<Value> {
        self.get("/api/v1/usage", filters).await
    }
    pub async fn health(&self) -> Result<Value> {
        self.get("/api/v1/health", &[]).await
    }
    pub async fn openapi(&self) -> Result<Value> {
        self.get("/api/v1/openapi.json", &[]).await
    }
}

/// `id` for a query string: ids are ours, but a typo must not break the URL.
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
