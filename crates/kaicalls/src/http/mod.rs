//! The HTTP layer: routes, the middleware stack and the envelope for failures that
//! never reach a handler (unknown route, wrong method, body too large).

pub mod json;
pub mod rate_limit;

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use crate::app::AppState;
use crate::auth::{middleware::authenticate, sessions};
use crate::error::{ApiError, InternalCause};
use crate::{agents, calls, events, keys, leads, numbers, recordings, usage, webhooks};

pub const BODY_LIMIT: usize = 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/health", get(health))
        .route("/auth/login", post(sessions::login))
        .route("/auth/logout", post(sessions::logout))
        .route(
            "/keys",
            get(keys::routes::list)
                .post(keys::routes::create)
                .delete(keys::routes::revoke),
        )
        .route(
            "/agents",
            get(agents::routes::list_or_get)
                .post(agents::routes::create)
                .patch(agents::routes::update),
        )
        .route("/numbers", get(numbers::routes::list))
        .route(
            "/phone-numbers",
            get(numbers::routes::list)
                .post(numbers::routes::assign)
                .delete(numbers::routes::release),
        )
        .route(
            "/leads",
            get(leads::routes::list_or_get)
                .post(leads::routes::create)
                .patch(leads::routes::update),
        )
        .route(
            "/calls",
            get(calls::routes::list_or_get).post(calls::routes::create),
        )
        .route("/calls/end", post(calls::routes::end))
        .route(
            "/webhooks",
            get(webhooks::routes::list)
                .post(webhooks::routes::upsert)
                .delete(webhooks::routes::delete),
        )
        .route("/webhooks/test", post(webhooks::routes::test))
        .route(
            "/webhooks/rotate-secret",
            post(webhooks::routes::rotate_secret),
        )
        .route("/webhooks/secret", get(webhooks::routes::business_secret))
        .route(
            "/webhooks/secret/rotate",
            post(webhooks::routes::rotate_business_secret),
        )
        .route("/events", get(events::routes::list))
        .route("/events/replay", post(events::routes::replay))
        .route("/event-deliveries", get(events::routes::deliveries))
        .route(
            "/providers/vapi/events",
            post(calls::provider_events::vapi_events),
        )
        .route("/recordings", get(recordings::routes::info))
        .route("/transcripts", get(calls::routes::transcripts))
        .route("/balance", get(usage::routes::balance))
        .route("/usage", get(usage::routes::list_usage));

    Router::new()
        .nest("/api/v1", api)
        .route("/recordings/{file}", get(recordings::routes::audio))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(request_id_and_log))
        .with_state(state)
}

async fn health(State(app): State<AppState>) -> Response {
    let db = sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(&app.store.pool)
        .await
        .is_ok();
    let body = json!({
        "status": if db { "ok" } else { "degraded" },
        "database": if db { "ok" } else { "unreachable" },
        "version": env!("CARGO_PKG_VERSION"),
    });
    let status = if db {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
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
    let request_id = format!("req_{}", crate::ids::random_base62(20));
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let mut response = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", v);
    }
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(%request_id, %method, %path, status, ms, cause = %cause, "request failed");
    } else {
        tracing::info!(%request_id, %method, %path, status, ms, "request");
    }
    response
}
