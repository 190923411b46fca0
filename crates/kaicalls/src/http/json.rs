//! Request-body and query extractors whose failures use our error envelope.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ApiError;
use crate::http::limits;

/// How long a body may take to arrive when the server set no other deadline.
const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// JSON body in, JSON body out. Rejections: 415 without a JSON content type, 413 over
/// the body limit, 400 for malformed JSON or a wrongly typed field (naming it).
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_bytes(req, state).await?;
        parse_body(&bytes).map(Json)
    }
}

/// A JSON body together with its exact bytes (for request fingerprints).
pub struct JsonWithBytes<T>(pub T, pub Bytes);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonWithBytes<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_bytes(req, state).await?;
        parse_body(&bytes).map(|v| JsonWithBytes(v, bytes))
    }
}

/// A JSON body's bytes, unparsed (for bodies that are not ours to hold to our
/// limits, such as a provider's messages); the same 415/413 rejections.
pub struct JsonBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        json_bytes(req, state).await.map(JsonBytes)
    }
}

async fn json_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let is_json = is_json_content_type(req.headers());
    let deadline = req
        .extensions()
        .get::<crate::http::serve::BodyTimeout>()
        .map_or(DEFAULT_BODY_TIMEOUT, |t| t.0);
    let read = tokio::time::timeout(deadline, Bytes::from_request(req, state));
    let bytes = read.await.map_err(|_| {
        ApiError::RequestTimeout(format!(
            "The request body did not arrive within {} s",
            deadline.as_secs_f64()
        ))
    })?;
    let bytes = bytes.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(inner)
            if inner.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::PayloadTooLarge("Request body is larger than 1 MiB".into())
        }
        other => ApiError::bad_request(format!("Could not read request body: {other}")),
    })?;
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(
            "Request body must be JSON: send 'Content-Type: application/json'".into(),
        ));
    }
    Ok(bytes)
}

pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        bytes
    };
    // The whole body must be one JSON value: `{…}xyz` is refused, not truncated.
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|inner| ApiError::bad_request(format!("Invalid JSON body: {inner}")))?;
    // Every body of the API is an object. (serde also reads a struct from an array of
    // all its fields in order, whose strings the limits, keyed by field, would miss.)
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "Invalid JSON body: expected a JSON object",
        ));
    }
    limits::check_strings(&value)?;
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." {
            ApiError::bad_request(format!("Invalid JSON body: {inner}"))
        } else {
            let param = path.split(['.', '[']).next().unwrap_or(&path).to_string();
            ApiError::invalid(&param, format!("Invalid value for '{path}': {inner}"))
        }
    })
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Query string in. Fields are best declared as `Option<String>` and parsed by the
/// handler with the helpers below, so a bad value is reported with its parameter name.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        limits::check_query(query)?;
        serde_urlencoded::from_str(query)
            .map(Query)
            .map_err(|e| ApiError::bad_request(format!("Invalid query string: {e}")))
    }
}

/// Parses an optional `limit` within `1..=max`, defaulting to `default`.
pub fn parse_limit(value: Option<&str>, default: i64, max: i64) -> Result<i64, ApiError> {
    Ok(parse_int("limit", value, 1..=max)?.unwrap_or(default))
}

/// An optional integer query parameter within `range`. Sent, it must be one: an
/// empty value (`?limit=`) is refused like any other non-integer.
pub fn parse_int(
    param: &str,
    value: Option<&str>,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<i64>, ApiError> {
    let Some(v) = value else { return Ok(None) };
    match v.trim().parse::<i64>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(ApiError::invalid(
            param,
            format!(
                "{param} must be an integer from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// An optional nested object of a body, read only from a JSON object: serde's
/// derive would also fill a struct from an array of its fields by position.
/// `#[serde(default, deserialize_with = "crate::http::json::object")]`.
pub fn object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde::Deserialize;
    match Option::<serde_json::Value>::deserialize(d)? {
        None => Ok(None),
        Some(value @ serde_json::Value::Object(_)) => serde_json::from_value(value)
            .map(Some)
            .map_err(serde::de::Error::custom),
        Some(_) => Err(serde::de::Error::custom("expected a JSON object")),
    }
}

/// An optional integer body field that also takes an integral number written as a
/// float (`50.0`), which JSON Schema counts as an integer:
/// `#[serde(default, deserialize_with = "crate::http::json::integral")]`.
pub fn integral<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::Deserialize;
    let Some(number) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    if let Some(n) = number.as_i64() {
        return Ok(Some(n));
    }
    match number.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        _ => Err(serde::de::Error::custom(format!(
            "invalid value: {number}, expected an integer"
        ))),
    }
}

/// Parses an optional ISO 8601 timestamp parameter.
pub fn parse_time(
    param: &str,
    value: Option<&str>,
) -> Result<Option<crate::clock::Timestamp>, ApiError> {
    match value.map(str::trim) {
        None => Ok(None),
        Some(v) => crate::clock::Timestamp::parse(v).map(Some).ok_or_else(|| {
            ApiError::invalid(param, format!("{param} must be an ISO 8601 timestamp"))
        }),
    }
}

/// A required, non-empty `id`-like query parameter.
pub fn require<'a>(param: &str, value: Option<&'a str>) -> Result<&'a str, ApiError> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid(param, format!("{param} is required")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        max_duration: Option<i64>,
    }

    #[test]
    fn type_errors_name_the_field() {
        let err = parse_body::<Body>(br#"{"max_duration": "long"}"#).unwrap_err();
        match err {
            ApiError::InvalidRequest { param, .. } => {
                assert_eq!(param.as_deref(), Some("max_duration"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_body::<Body>(b"{not json"),
            Err(ApiError::InvalidRequest { param: None, .. })
        ));
        assert!(parse_body::<Body>(b"").is_ok());
        for not_an_object in [&b"[600]"[..], b"null", b"\"x\"", b"1"] {
            assert!(matches!(
                parse_body::<Body>(not_an_object),
                Err(ApiError::InvalidRequest { param: None, .. })
            ));
        }
    }

    #[test]
    fn limits() {
        assert_eq!(parse_limit(None, 50, 100).unwrap(), 50);
        assert_eq!(parse_limit(Some("100"), 50, 100).unwrap(), 100);
        assert!(parse_limit(Some("0"), 50, 100).is_err());
        assert!(parse_limit(Some("101"), 50, 100).is_err());
        assert!(parse_limit(Some("ten"), 50, 100).is_err());
        assert!(parse_limit(Some(""), 50, 100).is_err());
        assert!(parse_time("from", Some("")).is_err());
    }
}
