//! The API called in process: the dashboard's pages and the MCP server's tools send
//! their requests through the router of [`api_routes`](super::api_routes) — the same
//! handlers, extractors, validation and tenancy as over HTTP — without the network
//! layers, as a principal they have already authenticated. So neither can see or do
//! more than the API lets that principal.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;

use crate::app::AppState;
use crate::auth::AuthOutcome;
use crate::http::rate_limit::Class;

/// The `/api/v1` routes with their state, no network layers.
#[derive(Clone)]
pub struct LocalApi(Router);

impl LocalApi {
    pub fn new(state: AppState) -> LocalApi {
        let api = super::api_routes()
            .into_iter()
            .fold(Router::new(), |api, (path, route)| api.route(path, route));
        // `Idempotency-Key` holds in process too (an MCP tool's idempotency_key).
        let idempotent =
            axum::middleware::from_fn_with_state(state.clone(), super::idempotency::layer);
        LocalApi(
            Router::new()
                .nest("/api/v1", api)
                .layer(idempotent)
                .with_state(state),
        )
    }

    /// `method /api/v1{path}` as `outcome`. Calls cost money: placing one is held to
    /// the per-minute limit of the principal's key (its own bucket), as over HTTP;
    /// other requests are not limited here (the outer request already was).
    pub async fn send(
        &self,
        app: &AppState,
        outcome: AuthOutcome,
        request: LocalRequest<'_>,
    ) -> Answer {
        let uri = format!("/api/v1{}", request.path);
        if let AuthOutcome::Key(key) = &outcome {
            let class = Class::of(&request.method, uri.split('?').next().unwrap_or(""));
            if class == Class::Calls {
                let decision = app.limiter.check(&key.key_id, class, app.clock.now()).await;
                if !decision.allowed {
                    return Answer {
                        status: StatusCode::TOO_MANY_REQUESTS,
                        body: serde_json::json!({"error": {"code": "rate_limited", "message": format!(
                            "Too many calls: the limit is {} per minute; try again in {} s",
                            decision.limit, decision.retry_after_secs
                        )}}),
                        replayed: false,
                    };
                }
            }
        }
        let mut builder = Request::builder().method(request.method).uri(uri);
        if let Some(key) = request.idempotency_key {
            builder = builder.header("idempotency-key", key);
        }
        let body = match request.body {
            Some(body) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        let mut http_request = builder.body(body).expect("a well-formed request");
        http_request.extensions_mut().insert(outcome);
        let response = match self.0.clone().oneshot(http_request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        let replayed = response
            .headers()
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true");
        let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
            .await
            .unwrap_or_default();
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            replayed,
        }
    }
}

/// One request to the API: `path` is under `/api/v1` and holds the query.
pub struct LocalRequest<'a> {
    pub method: Method,
    pub path: &'a str,
    pub body: Option<Value>,
    pub idempotency_key: Option<&'a str>,
}

impl<'a> LocalRequest<'a> {
    pub fn new(method: Method, path: &'a str, body: Option<Value>) -> LocalRequest<'a> {
        LocalRequest {
            method,
            path,
            body,
            idempotency_key: None,
        }
    }
}

/// An answer of the API: its status and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    /// The answer is a saved one, replayed for a repeated `Idempotency-Key`.
    pub replayed: bool,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// The error envelope's message (or the status, if there is none).
    pub fn message(&self) -> String {
        self.body["error"]["message"]
            .as_str()
            .map_or_else(|| self.status.to_string(), str::to_string)
    }
}
