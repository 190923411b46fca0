//! `Idempotency-Key` on every mutating request (POST, PATCH, PUT, DELETE), in one
//! layer, as Stripe does: the first request's answer is saved and replayed to a retry
//! with the same key, method, path and body; the same key with another request is
//! `400 idempotency_error`, one still running `409 conflict`; a 5xx frees the key so
//! the retry runs. Keys are scoped to the API key (or the dashboard user).
//!
//! `POST /api/v1/calls` keeps its own, stronger handling (`calls::idempotency`: the
//! saved answer commits with the call, and a retry after a crash finishes that call);
//! here the answer is saved right after the handler's own commit.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::auth::AuthOutcome;
use crate::calls::idempotency::{self, Claim, Saved};
use crate::error::ApiError;

/// Mutating routes this layer leaves alone: calls (their own idempotency); key
/// creation, whose answer holds the one plaintext copy of a key we store only hashed;
/// and those that are not a client's resource (signing in and out, the provider's
/// messages).
pub const EXEMPT: [&str; 5] = [
    "/api/v1/calls",
    "/api/v1/keys",
    "/api/v1/auth/login",
    "/api/v1/auth/logout",
    "/api/v1/providers/vapi/events",
];

/// Saved answers larger than this are not kept (none of ours come near it).
const MAX_SAVED_BYTES: usize = 1024 * 1024;

pub async fn layer(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let mutating = matches!(
        *req.method(),
        Method::POST | Method::PATCH | Method::PUT | Method::DELETE
    );
    if !mutating || EXEMPT.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let Some(header) = req.headers().get("idempotency-key") else {
        return next.run(req).await;
    };
    let scope = match req.extensions().get::<AuthOutcome>() {
        Some(AuthOutcome::Key(key)) => key.key_id.clone(),
        Some(AuthOutcome::Session(session)) => format!("user:{}", session.tenant.user_id),
        // Unauthenticated: the handler refuses it; nothing to remember.
        _ => return next.run(req).await,
    };
    let key = header.to_str().unwrap_or("").trim().to_string();
    if let Err(err) = idempotency::validate_key(&key) {
        return err.into_response();
    }
    let (parts, body) = req.into_parts();
    let deadline = parts
        .extensions
        .get::<crate::http::serve::BodyTimeout>()
        .map_or(std::time::Duration::from_secs(30), |t| t.0);
    let bytes = match tokio::time::timeout(
        deadline,
        axum::body::to_bytes(body, crate::http::BODY_LIMIT),
    )
    .await
    {
        Err(_) => {
            return ApiError::RequestTimeout("The request body did not arrive in time".into())
                .into_response()
        }
        Ok(Err(_)) => {
            return ApiError::PayloadTooLarge("Request body is larger than 1 MiB".into())
                .into_response()
        }
        Ok(Ok(bytes)) => bytes,
    };
    let fingerprint = crate::ids::sha256_hex(&format!(
        "{} {}?{}\n{}",
        parts.method,
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        String::from_utf8_lossy(&bytes)
    ));
    let now = app.clock.now();
    match idempotency::claim(
        &app.store,
        &scope,
        &key,
        &fingerprint,
        now,
        app.idempotency_lease_secs,
    )
    .await
    {
        Err(err) => return err.into_response(),
        Ok(Claim::Replay(saved)) => return idempotency::replay(saved),
        // No call is ever attached to these claims: a taken-over one starts afresh.
        Ok(Claim::New | Claim::Resume(_)) => {}
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_SAVED_BYTES).await {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(error = %err, "reading a response to save it failed");
            let _ = idempotency::release(&app.store, &scope, &key).await;
            return ApiError::Internal(anyhow::anyhow!("response too large to save"))
                .into_response();
        }
    };
    let remembered = if parts.status.is_server_error() {
        idempotency::release(&app.store, &scope, &key).await
    } else {
        let saved = Saved {
            status: parts.status.as_u16(),
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        async {
            let mut tx = app.store.begin().await?;
            idempotency::save(&mut tx, &scope, &key, &saved).await?;
            tx.commit().await
        }
        .await
    };
    if let Err(err) = remembered {
        tracing::error!(error = %err, "saving an idempotent response failed");
    }
    Response::from_parts(parts, Body::from(body))
}
