//! The HTTP layer: routes, the middleware stack and the envelope for failures that
//! never reach a handler (unknown route, wrong method, body too large).

pub mod idempotency;
pub mod json;
pub mod limits;
pub mod local;
pub mod openapi;
pub mod protocol_errors;
pub mod rate_limit;
pub mod serve;

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use schemars::JsonSchema;
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;

use crate::app::AppState;
use crate::auth::{account, middleware::authenticate, sessions};
use crate::error::{ApiError, InternalCause};
use crate::{
    agents, calls, campaigns, compliance, events, keys, leads, numbers, recordings, usage, webhooks,
};

pub const BODY_LIMIT: usize = 1024 * 1024;

/// Every route under `/api/v1`, with its handlers. The OpenAPI document
/// (`openapi.rs`) describes exactly these; a test holds the two together.
pub fn api_routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/health", get(health)),
        ("/openapi.json", get(openapi::serve_json)),
        ("/auth/login", post(sessions::login)),
        ("/auth/logout", post(sessions::logout)),
        ("/signup", post(account::signup)),
        (
            "/auth/sessions",
            get(account::list_sessions).delete(account::revoke_session),
        ),
        ("/auth/password", post(account::password)),
        (
            "/keys",
            get(keys::routes::list)
                .post(keys::routes::create)
                .delete(keys::routes::revoke),
        ),
        (
            "/agents",
            get(agents::routes::list_or_get)
                .post(agents::routes::create)
                .patch(agents::routes::update),
        ),
        ("/numbers", get(numbers::routes::list)),
        (
            "/phone-numbers",
            get(numbers::routes::list)
                .post(numbers::routes::assign)
                .delete(numbers::routes::release),
        ),
        (
            "/leads",
            get(leads::routes::list_or_get)
                .post(leads::routes::create)
                .patch(leads::routes::update),
        ),
        (
            "/calls",
            get(calls::routes::list_or_get).post(calls::routes::create),
        ),
        ("/calls/end", post(calls::routes::end)),
        (
            "/webhooks",
            get(webhooks::routes::list)
                .post(webhooks::routes::upsert)
                .delete(webhooks::routes::delete),
        ),
        ("/webhooks/test", post(webhooks::routes::test)),
        (
            "/webhooks/rotate-secret",
            post(webhooks::routes::rotate_secret),
        ),
        ("/webhooks/secret", get(webhooks::routes::business_secret)),
        (
            "/webhooks/secret/rotate",
            post(webhooks::routes::rotate_business_secret),
        ),
        ("/events", get(events::routes::list)),
        ("/events/stream", get(events::stream::stream)),
        ("/events/replay", post(events::routes::replay)),
        ("/event-deliveries", get(events::routes::deliveries)),
        (
            "/providers/vapi/events",
            post(calls::provider_events::vapi_events),
        ),
        ("/recordings", get(recordings::routes::info)),
        ("/transcripts", get(calls::routes::transcripts)),
        ("/analytics", get(calls::analytics::analytics)),
        (
            "/dnc",
            get(compliance::routes::list_dnc)
                .post(compliance::routes::add_dnc)
                .delete(compliance::routes::remove_dnc),
        ),
        (
            "/consents",
            get(compliance::routes::list_consents)
                .post(compliance::routes::add_consent)
                .delete(compliance::routes::revoke_consent),
        ),
        (
            "/compliance/settings",
            get(compliance::routes::get_settings).patch(compliance::routes::update_settings),
        ),
        ("/compliance/refusals", get(compliance::routes::refusals)),
        (
            "/campaigns",
            get(campaigns::routes::list_or_get)
                .post(campaigns::routes::create)
                .patch(campaigns::routes::update),
        ),
        (
            "/campaigns/contacts",
            get(campaigns::routes::contacts).post(campaigns::routes::add_contacts),
        ),
        ("/campaigns/start", post(campaigns::routes::start)),
        ("/campaigns/pause", post(campaigns::routes::pause)),
        ("/campaigns/resume", post(campaigns::routes::resume)),
        ("/campaigns/cancel", post(campaigns::routes::cancel)),
        ("/voicemails", get(crate::inbound::routes::list)),
        ("/sandbox/inbound-calls", post(crate::inbound::routes::ring)),
        (
            "/staff-alerts/settings",
            get(crate::alerts::routes::get_settings).patch(crate::alerts::routes::update_settings),
        ),
        ("/staff-alerts", get(crate::alerts::routes::list)),
        ("/balance", get(usage::routes::balance)),
        ("/usage", get(usage::routes::list_usage)),
    ]
}

pub fn router(state: AppState) -> Router {
    let api = api_routes()
        .into_iter()
        .fold(Router::new(), |api, (path, route)| api.route(path, route));

    let mcp = crate::mcp::http::service(&state);
    let mcp_state = state.clone();
    Router::new()
        .nest("/api/v1", api)
        .route(
            crate::mcp::http::PATH,
            axum::routing::any(move |req: Request| {
                crate::mcp::http::endpoint(mcp.clone(), mcp_state.clone(), req)
            }),
        )
        .merge(crate::oauth::routes::routes())
        .route("/recordings/{file}", get(recordings::routes::audio))
        .route("/docs", get(openapi::serve_docs))
        .merge(crate::dashboard::routes(state.clone()))
        .merge(ops_routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::layer,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(request_id_and_log))
        .with_state(state)
}

/// `/healthz`, `/readyz`, `/metrics`: for load balancers and scrapers, on every role.
fn ops_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(crate::telemetry::healthz))
        .route("/readyz", get(crate::telemetry::readyz))
        .route("/metrics", get(crate::telemetry::metrics))
}

/// A worker instance's router: the operations endpoints only.
pub fn ops_router(state: AppState) -> Router {
    ops_routes()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(request_id_and_log))
        .with_state(state)
}

/// `{"success": true}`: the answer of deletions, revocations and logouts.
#[derive(Serialize, JsonSchema)]
pub struct Success {
    pub success: bool,
}

impl Success {
    pub const TRUE: Success = Success { success: true };
}

/// `GET /api/v1/health`.
#[derive(Serialize, JsonSchema)]
pub struct Health {
    /// `ok`, or `degraded` (answered with 503) when the database does not answer.
    pub status: &'static str,
    /// `ok` or `unreachable`.
    pub database: &'static str,
    pub version: &'static str,
}

async fn health(State(app): State<AppState>) -> Response {
    crate::fault::panic_point("panic-in-request");
    let db = sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(app.store.reader())
        .await
        .is_ok();
    let body = Health {
        status: if db { "ok" } else { "degraded" },
        database: if db { "ok" } else { "unreachable" },
        version: env!("CARGO_PKG_VERSION"),
    };
    let status = if db {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// A panic in a handler: the `internal_error` envelope, its message logged (by the
/// logging middleware, with the request's id), never sent.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = crate::error::panic_message(panic.as_ref());
    ApiError::Internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("No route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}

/// Gives every response a `Request-Id` and logs one line per request. A 500's cause is
/// logged here, never sent to the client. Bodies are never logged (they hold keys).
async fn request_id_and_log(req: Request, next: Next) -> Response {
    let request_id = crate::ids::request_id();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    // The route, not the path (ids in paths would make a series per object).
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let started = Instant::now();
    let mut response = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", v);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed().as_secs_f64();
    let ms = elapsed * 1000.0;
    let method_label = method.to_string();
    metrics::counter!("kaicalls_http_requests_total", "method" => method_label.clone(),
        "route" => route.clone(), "status" => status.to_string())
    .increment(1);
    metrics::histogram!("kaicalls_http_request_duration_seconds", "method" => method_label,
        "route" => route)
    .record(elapsed);
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(%request_id, %method, %path, status, ms, cause = %cause, "request failed");
    } else {
        tracing::info!(%request_id, %method, %path, status, ms, "request");
    }
    response
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;
    use crate::auth::sessions::LoginThrottle;
    use crate::calls::engine::Engine;
    use crate::clock::{SharedClock, SystemClock};
    use crate::http::rate_limit::{Limits, RateLimiter};
    use crate::recordings::links::RecordingLinks;
    use crate::recordings::RecordingStore;
    use crate::store::Store;
    use crate::voice::simulator::Simulator;

    async fn state() -> AppState {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let clock: SharedClock = Arc::new(SystemClock::default());
        let links = RecordingLinks::new("key", "http://test", 60);
        let engine = Engine::new(
            store.clone(),
            clock.clone(),
            Arc::new(Simulator::new(10.0)),
            links.clone(),
        );
        let dir = std::env::temp_dir().join(format!("kc-routes-{}", uuid::Uuid::new_v4()));
        AppState {
            store: store.clone(),
            clock,
            engine: Arc::new(engine),
            limiter: Arc::new(RateLimiter::new(Limits {
                calls_per_min: 60,
                reads_per_min: 300,
            })),
            key_cache: Arc::default(),
            login_throttle: Arc::new(LoginThrottle::default()),
            links,
            recordings: RecordingStore::local(dir).unwrap(),
            public_url: "http://test".into(),
            allow_private_webhooks: false,
            idempotency_lease_secs: crate::calls::idempotency::DEFAULT_LEASE_SECS,
            mcp: Arc::new(crate::mcp::http::Settings::new(
                "http://test",
                None,
                None,
                3600,
            )),
            events: crate::events::stream::Hub::new(store.clone(), Duration::from_secs(15)),
        }
    }

    /// The OpenAPI document describes exactly the operations the router serves: a
    /// route added, removed or given another method without documenting it fails.
    #[tokio::test]
    async fn documented_operations_are_exactly_the_routed_ones() {
        let app = router(state().await);
        let routed: BTreeSet<&str> = api_routes().iter().map(|(path, _)| *path).collect();
        let documented: BTreeSet<&str> = openapi::OPS.iter().map(|op| op.path).collect();
        assert_eq!(routed, documented, "paths routed vs documented");
        for path in routed {
            for method in ["GET", "POST", "PATCH", "DELETE", "PUT"] {
                let request = Request::builder()
                    .method(method)
                    .uri(format!("/api/v1{path}"))
                    .body(Body::empty())
                    .unwrap();
                let status = app.clone().oneshot(request).await.unwrap().status();
                let is_routed = status != StatusCode::METHOD_NOT_ALLOWED;
                let is_documented = openapi::OPS
                    .iter()
                    .any(|op| op.path == path && op.method.eq_ignore_ascii_case(method));
                assert_eq!(is_routed, is_documented, "{method} /api/v1{path}");
            }
        }
    }
}
