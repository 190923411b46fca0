//! A real webhook receiver on 127.0.0.1: records every request and answers from a
//! plan (e.g. fail three times, then succeed).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Received {
    pub webhook_id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: String,
    pub json: Value,
    pub at: Instant,
    /// What the receiver answered.
    pub answered: u16,
}

impl Received {
    pub fn event(&self) -> &str {
        self.json["event"].as_str().unwrap_or("")
    }

    pub fn verifies_with(&self, secret: &str) -> bool {
        kaicalls::webhooks::signing::verify(
            secret,
            &self.webhook_id,
            self.timestamp,
            &self.body,
            &self.signature,
        )
    }
}

/// One planned answer: a status and optional extra headers.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    plan: VecDeque<Answer>,
    /// Answer for requests once the plan is used up (default 200).
    otherwise: Option<Answer>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut inner = inner.lock().unwrap();
    let answer = inner
        .plan
        .pop_front()
        .or_else(|| inner.otherwise.clone())
        .unwrap_or(Answer {
            status: 200,
            headers: vec![],
        });
    let text = String::from_utf8_lossy(&body).to_string();
    inner.received.push(Received {
        webhook_id: header("webhook-id"),
        timestamp: header("webhook-timestamp").parse().unwrap_or(0),
        signature: header("webhook-signature"),
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        body: text,
        at: Instant::now(),
        answered: answer.status,
    });
    let mut response = StatusCode::from_u16(answer.status).unwrap().into_response();
    for (k, v) in answer.headers {
        response.headers_mut().insert(k, v.parse().unwrap());
    }
    response
}

impl Receiver {
    pub async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, inner }
    }

    /// Answers the next requests with these statuses, in order.
    pub fn plan(&self, statuses: &[u16]) {
        let mut inner = self.inner.lock().unwrap();
        inner.plan.extend(statuses.iter().map(|s| Answer {
            status: *s,
            headers: vec![],
        }));
    }

    pub fn plan_answer(&self, answer: Answer) {
        self.inner.lock().unwrap().plan.push_back(answer);
    }

    /// Answers every request (after the plan) with this status.
    pub fn otherwise(&self, status: u16) {
        self.inner.lock().unwrap().otherwise = Some(Answer {
            status,
            headers: vec![],
        });
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits (deadline `secs`) until `pred` holds on what was received.
    pub async fn wait_until(
        &self,
        secs: u64,
        what: &str,
        pred: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.received();
            if pred(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; received: {:?}",
                got.iter()
                    .map(|r| (r.event().to_string(), r.answered))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
