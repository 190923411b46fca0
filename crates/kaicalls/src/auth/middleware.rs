//! The authentication layer: resolves credentials once per request, applies the
//! per-key rate limit, refuses cross-site cookie requests, and writes the usage row of
//! every key-authenticated request after its handler has answered.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api_key::PresentedKey;
use super::key_cache::CachedKey;
use super::{sessions, AuthOutcome, KeyPrincipal, SessionPrincipal, Tenant};
use crate::app::AppState;
use crate::error::ApiError;
use crate::http::rate_limit::Class;
use crate::usage::{self, UsageCallId, UsageRecorded};
use crate::{keys, tenancy};

/// How stale `last_used_at` may get before a request refreshes it: one write a minute
/// per key instead of one per request.
const LAST_USED_GRANULARITY_MICROS: i64 = 60_000_000;

pub async fn authenticate(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let outcome = match resolve(&app, req.headers(), req.uri().path()).await {
        Ok(outcome) => outcome,
        Err(err) => return err.into_response(),
    };
    // A browser's unsafe request from another site is refused whatever it carries (a
    // session cookie, or nothing: a forged sign-in or sign-up). Only an API key,
    // which no other site can make a browser send, passes.
    if !matches!(outcome, AuthOutcome::Key(_))
        && is_unsafe(req.method())
        && !cookieless(req.uri().path())
        && is_cross_site(req.headers(), &app.public_url)
    {
        return ApiError::Forbidden("Cross-site request refused".into()).into_response();
    }
    let key = match &outcome {
        AuthOutcome::Key(key) => Some(key.clone()),
        _ => None,
    };
    req.extensions_mut().insert(outcome);
    let Some(key) = key else {
        return next.run(req).await;
    };

    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let decision = app
        .limiter
        .check(&key.key_id, Class::of(&method, &path), app.clock.now())
        .await;
    let mut response = if decision.allowed {
        next.run(req).await
    } else {
        ApiError::RateLimited {
            message: format!(
                "Too many requests: limit is {} per minute for this key",
                decision.limit
            ),
            retry_after_secs: decision.retry_after_secs,
        }
        .into_response()
    };
    decision.write_headers(response.headers_mut());

    if response.extensions().get::<UsageRecorded>().is_none() {
        let call_id = response
            .extensions()
            .get::<UsageCallId>()
            .map(|c| c.0.clone());
        let entry = usage::Entry {
            endpoint: usage::endpoint_of(&path),
            method: method.as_str(),
            status_code: response.status().as_u16(),
            call_id: call_id.as_deref(),
            cost_cents: 0,
        };
        if let Err(err) = usage::record(&app.store, &key, &entry, app.clock.now()).await {
            tracing::error!(error = %err, "recording usage failed");
        }
    }
    response
}

/// Endpoints that never read a cookie (their credentials are in the request), so a
/// cross-site post cannot ride on a session: OAuth's token endpoints and `/api/mcp`.
fn cookieless(path: &str) -> bool {
    path == crate::mcp::http::PATH || crate::oauth::routes::COOKIELESS.contains(&path)
}

async fn resolve(app: &AppState, headers: &HeaderMap, path: &str) -> Result<AuthOutcome, ApiError> {
    if let Some(raw) = presented_key(headers) {
        let raw = match raw {
            Ok(raw) => raw,
            Err(why) => return Ok(AuthOutcome::Rejected(why)),
        };
        // OAuth access tokens are bound to the MCP resource: nothing else takes them.
        if raw.starts_with(crate::oauth::ACCESS_PREFIX) {
            if path != crate::mcp::http::PATH {
                return Ok(AuthOutcome::Rejected(
                    "OAuth access tokens are accepted only by the MCP endpoint /api/mcp: use an API key",
                ));
            }
            return Ok(
                match crate::oauth::resolve_access(&app.store, raw, app.clock.now()).await? {
                    Ok(principal) => AuthOutcome::Key(principal),
                    Err(why) => AuthOutcome::Rejected(why),
                },
            );
        }
        return resolve_key(app, raw).await;
    }
    if let Some(token) = sessions::cookie_token(headers) {
        let now = app.clock.now();
        return Ok(match sessions::find_user(&app.store, &token, now).await? {
            Some((session_id, user_id)) => {
                let business_ids = tenancy::business_ids_of_user(&app.store, &user_id).await?;
                AuthOutcome::Session(Arc::new(SessionPrincipal {
                    session_id,
                    tenant: Tenant {
                        user_id,
                        business_ids,
                        mode: super::api_key::Mode::Live,
                    },
                }))
            }
            None => AuthOutcome::Rejected("Session expired or invalid: log in again"),
        });
    }
    Ok(AuthOutcome::Anonymous)
}

/// The key from `Authorization: Bearer …` or `X-KaiCalls-API-Key`, if either is sent.
pub(crate) fn presented_key(headers: &HeaderMap) -> Option<Result<&str, &'static str>> {
    // An empty X-KaiCalls-API-Key is no key at all: it does not hide a Bearer token.
    if let Some(value) = headers
        .get("x-kaicalls-api-key")
        .filter(|v| !v.as_bytes().trim_ascii().is_empty())
    {
        return Some(
            value
                .to_str()
                .map(str::trim)
                .map_err(|_| "Malformed API key"),
        );
    }
    let value = headers.get(header::AUTHORIZATION)?;
    let Ok(value) = value.to_str() else {
        return Some(Err("Malformed Authorization header"));
    };
    let mut parts = value.trim().splitn(2, ' ');
    match (parts.next(), parts.next()) {
        (Some(scheme), Some(token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Some(Ok(token.trim()))
        }
        _ => Some(Err("Authorization header must be 'Bearer <API key>'")),
    }
}

async fn resolve_key(app: &AppState, raw: &str) -> Result<AuthOutcome, ApiError> {
    let Some(presented) = PresentedKey::parse(raw) else {
        return Ok(AuthOutcome::Rejected(
            "Malformed API key: expected kc_live_… or kc_test_…",
        ));
    };
    let cached = match app.key_cache.get(&presented.hash) {
        Some(cached) => cached,
        None => {
            let epoch = crate::wake::keys_epoch();
            let Some(record) = keys::find_by_hash(&app.store, &presented.hash).await? else {
                return Ok(AuthOutcome::Rejected("Invalid API key"));
            };
            let memberships = tenancy::business_ids_of_user(&app.store, &record.user_id).await?;
            let cached = CachedKey {
                record,
                memberships,
            };
            app.key_cache.put(&presented.hash, cached.clone(), epoch);
            cached
        }
    };
    let CachedKey {
        record,
        memberships,
    } = cached;
    if !presented.matches(&record.key_hash) || record.mode != presented.mode {
        return Ok(AuthOutcome::Rejected("Invalid API key"));
    }
    let now = app.clock.now();
    if record.revoked_at.is_some() {
        return Ok(AuthOutcome::Rejected("This API key has been revoked"));
    }
    if record.expires_at.is_some_and(|at| at <= now) {
        return Ok(AuthOutcome::Rejected("This API key has expired"));
    }
    let business_ids = match &record.business_id {
        Some(b) => memberships.into_iter().filter(|m| m == b).collect(),
        None => memberships,
    };
    if record
        .last_used_at
        .is_none_or(|t| now.micros() - t.micros() > LAST_USED_GRANULARITY_MICROS)
    {
        keys::touch_last_used(&app.store, &record.id, now).await?;
        app.key_cache.touched(&presented.hash, now);
    }
    Ok(AuthOutcome::Key(Arc::new(KeyPrincipal {
        key_id: record.id,
        key_business_id: record.business_id,
        scopes: record.scopes,
        tenant: Tenant {
            user_id: record.user_id,
            business_ids,
            mode: record.mode,
        },
    })))
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A cookie-authenticated write from another site: `Sec-Fetch-Site: cross-site`, or an
/// `Origin` that is neither our public URL nor the `Host` the request was sent to.
fn is_cross_site(headers: &HeaderMap, public_url: &str) -> bool {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if origin.eq_ignore_ascii_case(public_url.trim_end_matches('/')) {
        return false;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let same_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|h| !host.is_empty() && h.eq_ignore_ascii_case(host));
    !same_host
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn cross_site_detection() {
        let public = "http://127.0.0.1:8080";
        assert!(!is_cross_site(&headers(&[]), public));
        assert!(!is_cross_site(
            &headers(&[("origin", "http://127.0.0.1:8080")]),
            public
        ));
        assert!(!is_cross_site(
            &headers(&[
                ("origin", "http://localhost:9000"),
                ("host", "localhost:9000")
            ]),
            public
        ));
        assert!(is_cross_site(
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "127.0.0.1:8080")
            ]),
            public
        ));
        assert!(is_cross_site(
            &headers(&[("sec-fetch-site", "cross-site")]),
            public
        ));
    }

    #[test]
    fn key_headers() {
        let h = headers(&[("authorization", "Bearer kc_live_abc")]);
        assert_eq!(presented_key(&h), Some(Ok("kc_live_abc")));
        let h = headers(&[("x-kaicalls-api-key", "kc_test_abc")]);
        assert_eq!(presented_key(&h), Some(Ok("kc_test_abc")));
        let h = headers(&[("authorization", "Basic dXNlcjpwYXNz")]);
        assert!(matches!(presented_key(&h), Some(Err(_))));
        assert_eq!(presented_key(&headers(&[])), None);
    }
}
