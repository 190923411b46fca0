//! Dashboard sessions: `POST /api/v1/auth/login` checks an argon2id password and sets
//! an HttpOnly, SameSite=Lax cookie holding a random token (stored only as a hash);
//! `POST /api/v1/auth/logout` deletes it. Failed logins are throttled per email and
//! per client address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::extract::SessionAuth;
use super::password;
use crate::app::AppState;
use crate::clock::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::http::json::Json;
use crate::ids;
use crate::store::Store;
use crate::tenancy;

pub const COOKIE: &str = "kc_session";
const SESSION_SECS: i64 = 7 * 24 * 3600;

pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

/// The session and user behind a cookie token, if it is valid now.
pub async fn find_user(
    store: &Store,
    token: &str,
    now: Timestamp,
) -> sqlx::Result<Option<(String, String)>> {
    use sqlx::Row;
    let row =
        sqlx::query("SELECT id, user_id FROM sessions WHERE token_hash = $1 AND expires_at > $2")
            .bind(ids::sha256_hex(token))
            .bind(now.micros())
            .fetch_optional(store.reader())
            .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

async fn create(
    store: &Store,
    user_id: &str,
    user_agent: Option<&str>,
    now: Timestamp,
) -> sqlx::Result<String> {
    let token = ids::random_base62(43);
    sqlx::query(
        "INSERT INTO sessions (id, user_id, token_hash, created_at, expires_at, user_agent) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ids::new_id())
    .bind(user_id)
    .bind(ids::sha256_hex(&token))
    .bind(now.micros())
    .bind(now.micros() + SESSION_SECS * 1_000_000)
    .bind(user_agent)
    .execute(&store.pool)
    .await?;
    Ok(token)
}

/// Opens a session for `user_id`: the `Set-Cookie` value that carries it.
pub async fn open(
    app: &AppState,
    user_id: &str,
    user_agent: Option<&str>,
    now: Timestamp,
) -> sqlx::Result<String> {
    let token = create(&app.store, user_id, user_agent, now).await?;
    Ok(format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_SECS}{}",
        if app.secure_cookies() { "; Secure" } else { "" }
    ))
}

/// The `Set-Cookie` value that ends the session in the browser.
pub const CLEAR_COOKIE: &str = "kc_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0";

/// The client's address, when the server runs with connect info (absent in
/// in-process tests).
pub struct ClientIp(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip().to_string())
                .unwrap_or_default(),
        ))
    }
}

#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "Login")]
pub struct LoginBody {
    #[schemars(required, with = "String")]
    email: Option<String>,
    #[schemars(required, with = "String")]
    password: Option<String>,
}

/// `POST /api/v1/auth/login`: who is signed in (the session is the cookie).
#[derive(Serialize, JsonSchema)]
pub struct LoggedIn {
    pub user_id: String,
    pub email: String,
    pub business_ids: Vec<String>,
}

pub async fn login(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<LoginBody>,
) -> ApiResult<Response> {
    let (logged_in, cookie) = log_in(
        &app,
        &ip,
        super::account::user_agent(&headers),
        body.email,
        body.password,
    )
    .await?;
    let mut response = Json(logged_in).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(anyhow::Error::from)?,
    );
    Ok(response)
}

/// Checks the password (throttled per email and address) and opens a session: who
/// signed in, and the `Set-Cookie` value.
pub async fn log_in(
    app: &AppState,
    ip: &str,
    user_agent: Option<&str>,
    email: Option<String>,
    password: Option<String>,
) -> ApiResult<(LoggedIn, String)> {
    let body = LoginBody { email, password };
    let email = body
        .email
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("email", "email is required"))?;
    let password = body
        .password
        .ok_or_else(|| ApiError::invalid("password", "password is required"))?;
    let email = tenancy::normalize_email(&email);
    let now = app.clock.now();
    app.login_throttle.check(&email, ip, now)?;

    let user = tenancy::find_user_by_email(&app.store, &email).await?;
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::dummy_hash().to_string());
    let ok = tokio::task::spawn_blocking(move || password::verify(&password, &stored))
        .await
        .map_err(anyhow::Error::from)?;
    let user = match (ok, user) {
        (true, Some(user)) => user,
        _ => {
            app.login_throttle.record_failure(&email, ip, now);
            return Err(ApiError::unauthorized("Invalid email or password"));
        }
    };
    app.login_throttle.record_success(&email);
    let cookie = open(app, &user.id, user_agent, now).await?;
    let business_ids = tenancy::business_ids_of_user(&app.store, &user.id).await?;
    Ok((
        LoggedIn {
            user_id: user.id,
            email: user.email,
            business_ids,
        },
        cookie,
    ))
}

pub async fn logout(
    State(app): State<AppState>,
    SessionAuth(session): SessionAuth,
) -> ApiResult<Response> {
    sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(&session.session_id)
        .execute(&app.store.pool)
        .await?;
    let mut response = (StatusCode::OK, Json(crate::http::Success::TRUE)).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static(CLEAR_COOKIE));
    Ok(response)
}

/// Failed-login counters per email and per client address over a sliding window.
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Vec<i64>>>,
}

const WINDOW_MICROS: i64 = 15 * 60 * 1_000_000;
const MAX_PER_EMAIL: usize = 5;
const MAX_PER_IP: usize = 20;
const MAX_SIGNUPS_PER_IP: usize = 5;
const SIGNUP_WINDOW_MICROS: i64 = 3600 * 1_000_000;

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            failures: Mutex::new(HashMap::new()),
        }
    }
}

impl LoginThrottle {
    pub fn check(&self, email: &str, ip: &str, now: Timestamp) -> ApiResult<()> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for (bucket, max) in [
            (format!("e:{email}"), MAX_PER_EMAIL),
            (format!("i:{ip}"), MAX_PER_IP),
        ] {
            let Some(times) = map.get_mut(&bucket) else {
                continue;
            };
            times.retain(|t| *t > now.micros() - WINDOW_MICROS);
            if times.len() >= max {
                let retry = (times[0] + WINDOW_MICROS - now.micros()).max(0) / 1_000_000 + 1;
                return Err(ApiError::RateLimited {
                    message: "Too many failed logins: try again later".into(),
                    retry_after_secs: retry as u64,
                });
            }
        }
        Ok(())
    }

    pub fn record_failure(&self, email: &str, ip: &str, now: Timestamp) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.clear();
        }
        for bucket in [format!("e:{email}"), format!("i:{ip}")] {
            map.entry(bucket).or_default().push(now.micros());
        }
    }

    /// Sign-ups per client address: at most [`MAX_SIGNUPS_PER_IP`] an hour (the
    /// published product's limit).
    pub fn check_signup(&self, ip: &str, now: Timestamp) -> ApiResult<()> {
        self.check_hourly("s", ip, MAX_SIGNUPS_PER_IP, now)
            .map_err(|retry_after_secs| ApiError::RateLimited {
                message: "Too many sign-ups from this address: try again later".into(),
                retry_after_secs,
            })
    }

    /// Whether `ip` is under `max` of `kind` in the last hour; `Err` holds the
    /// seconds until it is.
    pub fn check_hourly(
        &self,
        kind: &str,
        ip: &str,
        max: usize,
        now: Timestamp,
    ) -> Result<(), u64> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(times) = map.get_mut(&format!("{kind}:{ip}")) {
            times.retain(|t| *t > now.micros() - SIGNUP_WINDOW_MICROS);
            if times.len() >= max {
                let retry = (times[0] + SIGNUP_WINDOW_MICROS - now.micros()).max(0) / 1_000_000 + 1;
                return Err(retry as u64);
            }
        }
        Ok(())
    }

    /// Counts one `kind` for `ip` ([`LoginThrottle::check_hourly`]).
    pub fn record_hourly(&self, kind: &str, ip: &str, now: Timestamp) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(format!("{kind}:{ip}"))
            .or_default()
            .push(now.micros());
    }

    pub fn record_signup(&self, ip: &str, now: Timestamp) {
        self.record_hourly("s", ip, now);
    }

    pub fn record_success(&self, email: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&format!("e:{email}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixth_failure_for_an_email_is_throttled() {
        let throttle = LoginThrottle::default();
        let now = Timestamp(1_000_000_000_000);
        for _ in 0..MAX_PER_EMAIL {
            assert!(throttle.check("a@x", "1.1.1.1", now).is_ok());
            throttle.record_failure("a@x", "1.1.1.1", now);
        }
        assert!(throttle.check("a@x", "2.2.2.2", now).is_err());
        assert!(throttle.check("b@x", "1.1.1.1", now).is_ok());
        let later = Timestamp(now.0 + WINDOW_MICROS + 1);
        assert!(throttle.check("a@x", "1.1.1.1", later).is_ok());
    }

    #[test]
    fn cookie_parsing() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; kc_session=tok; b=2"),
        );
        assert_eq!(cookie_token(&h), Some("tok".to_string()));
    }
}
