//! One error type, one JSON envelope: `{"error": {"code", "message", "param"?}}`.
//!
//! 4xx errors are built by typed constructors and say what the client did wrong.
//! Anything else becomes `Internal`, is logged with its cause by the HTTP layer and is
//! answered as a bare 500 that leaks nothing.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    InvalidRequest {
        message: String,
        param: Option<String>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Idempotency(String),
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// A compliance rule refused the call before anything was dialed (`dnc_blocked`,
    /// `outside_calling_hours`, `frequency_cap`, …): the code names the rule.
    #[error("{message}")]
    Refused {
        status: StatusCode,
        code: &'static str,
        message: String,
        param: Option<String>,
    },
    /// The voice provider refused to place the call (the call is recorded as failed).
    #[error("{0}")]
    CallFailed(String),
    #[error(transparent)]
    Internal(anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        ApiError::InvalidRequest {
            message: message.into(),
            param: Some(param.to_string()),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::InvalidRequest {
            message: message.into(),
            param: None,
        }
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(format!("{what} not found"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::Unauthorized(message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest { .. } | ApiError::Idempotency(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Refused { status, .. } => *status,
            ApiError::CallFailed(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest { .. } => "invalid_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Idempotency(_) => "idempotency_error",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Refused { code, .. } => code,
            ApiError::CallFailed(_) => "call_failed",
            ApiError::Internal(_) => "internal_error",
        }
    }

    fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => "An unexpected error occurred".to_string(),
            other => other.to_string(),
        }
    }
}

/// The one place a store error becomes an answer: a unique violation is the
/// client's conflict (two requests racing to create the same number, say), anything
/// else is ours.
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match unique_violation(&err) {
            Some(what) => ApiError::Conflict(format!("This {what} already exists")),
            None => ApiError::Internal(err.into()),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        // An answer decided inside a grouped transaction comes back as it was.
        let err = match err.downcast::<ApiError>() {
            Ok(api) => return api,
            Err(other) => other,
        };
        match err.downcast::<sqlx::Error>() {
            Ok(sqlx) => sqlx.into(),
            Err(other) => ApiError::Internal(other),
        }
    }
}

/// What a unique violation was about, in words ("phone number"), if it was one.
fn unique_violation(err: &sqlx::Error) -> Option<String> {
    if !crate::store::is_unique_violation(err) {
        return None;
    }
    let db = err.as_database_error()?;
    // SQLite: "UNIQUE constraint failed: phone_numbers.phone_number";
    // PostgreSQL names the constraint: "phone_numbers_phone_number_key".
    let message = db.message();
    let column = match message.strip_prefix("UNIQUE constraint failed: ") {
        Some(cols) => cols.split(", ").last().unwrap_or(cols).rsplit('.').next(),
        None => db.constraint().map(|c| {
            c.trim_end_matches("_key")
                .trim_end_matches("_idx")
                .rsplit_once("s_")
                .map_or(c, |(_, col)| col)
        }),
    };
    Some(
        column
            .filter(|c| !c.is_empty())
            .map_or("resource".to_string(), |c| c.replace('_', " ")),
    )
}

/// The message a panic carried (`panic!("…")` gives a `&str` or a `String`).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Carried in the response extensions of a 500 so the logging middleware can print the
/// cause that the body hides.
#[derive(Clone)]
pub struct InternalCause(pub std::sync::Arc<String>);

impl ApiError {
    /// The JSON body of this error: `{"error": {"code", "message", "param"?}}`.
    pub fn envelope(&self) -> serde_json::Value {
        let param = match self {
            ApiError::InvalidRequest { param, .. } | ApiError::Refused { param, .. } => {
                param.clone()
            }
            _ => None,
        };
        let body = ErrorEnvelope {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.public_message(),
                param,
            },
        };
        serde_json::to_value(body).unwrap_or_default()
    }
}

/// Every error answer: `{"error": {"code", "message", "param"?}}`.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorEnvelope {
    pub error: ErrorDetail,
}

#[derive(Serialize, JsonSchema)]
pub struct ErrorDetail {
    /// `invalid_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `conflict`, `payload_too_large`, `request_timeout`,
    /// `unsupported_media_type`, `idempotency_error`, `rate_limited`, `call_failed`
    /// or `internal_error`.
    pub code: String,
    pub message: String,
    /// The parameter or body field at fault, for `invalid_request`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.envelope())).into_response();
        match &self {
            ApiError::RateLimited {
                retry_after_secs, ..
            } => {
                response.headers_mut().insert(
                    "retry-after",
                    HeaderValue::from(retry_after_secs.max(&1).to_owned()),
                );
            }
            ApiError::Internal(cause) => {
                response
                    .extensions_mut()
                    .insert(InternalCause(std::sync::Arc::new(format!("{cause:#}"))));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grouped transaction's work returns `anyhow`; the answer it decided (and a
    /// store error's meaning) come back out of it unchanged.
    #[test]
    fn answers_survive_a_trip_through_anyhow() {
        let api: ApiError = anyhow::Error::from(ApiError::not_found("Lead")).into();
        assert_eq!(api.status(), StatusCode::NOT_FOUND);
        assert_eq!(api.envelope()["error"]["code"], "not_found");
        let store: ApiError = anyhow::Error::from(sqlx::Error::RowNotFound).into();
        assert_eq!(
            store.status(),
            ApiError::from(sqlx::Error::RowNotFound).status()
        );
        let other: ApiError = anyhow::anyhow!("boom").into();
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
