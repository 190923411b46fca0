//! A dashboard user's account: `POST /api/v1/signup` (a user, a business with agent
//! "Kai", its number and a test key, signed in at once), the sessions a user holds
//! (`GET`/`DELETE /api/v1/auth/sessions`) and `POST /api/v1/auth/password`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::api_key::Mode;
use super::extract::SessionAuth;
use super::password;
use super::sessions::{self, ClientIp};
use crate::admin::{self, BootstrapInput};
use crate::app::AppState;
use crate::clock::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::http::json::{Json, Query};
use crate::phone::E164;
use crate::store::row::Columns;
use crate::tenancy;

#[derive(Deserialize, JsonSchema, Default)]
#[schemars(rename = "Signup")]
pub struct SignupBody {
    #[schemars(required, with = "String")]
    pub email: Option<String>,
    /// The dashboard password, at least 8 characters. Without one (the published
    /// clients' sign-up), one is generated and answered once, and a live key is made
    /// too.
    pub password: Option<String>,
    #[schemars(required, with = "String")]
    pub business_name: Option<String>,
    /// The business's own number, E.164.
    pub business_phone: Option<String>,
    /// IANA time zone (default America/New_York).
    pub timezone: Option<String>,
    /// The published clients' name for the business's own number (used when
    /// `business_phone` is absent).
    pub phone_forward_to: Option<String>,
    /// Accepted from the published clients; not used.
    pub business_type: Option<String>,
    /// Accepted from the published clients; not used.
    pub website: Option<String>,
    /// Accepted from the published clients; every plan starts the same.
    pub plan_id: Option<String>,
}

/// `POST /api/v1/signup`: the new account (the session is the cookie). Its keys, and
/// a generated password, are shown here once.
#[derive(Serialize, JsonSchema)]
pub struct SignedUp {
    pub user_id: String,
    pub email: String,
    pub business_id: String,
    pub agent_id: String,
    /// The agent's number.
    pub phone_number: String,
    /// The key to use: the live key when the sign-up made one (no password given),
    /// else the test key.
    pub api_key: String,
    pub test_key: String,
    /// The dashboard password, when the sign-up generated it (none was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// What a valid sign-up asks for.
pub struct Signup {
    pub email: String,
    pub password: Option<String>,
    pub business: String,
    pub phone: Option<String>,
    pub timezone: String,
}

/// Validates a sign-up; the first bad field is named.
pub fn check_signup(body: &SignupBody) -> ApiResult<Signup> {
    let email = body
        .email
        .as_deref()
        .map(tenancy::normalize_email)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| ApiError::invalid("email", "email is required"))?;
    let valid_email = email
        .split_once('@')
        .is_some_and(|(user, host)| !user.is_empty() && host.contains('.') && !host.ends_with('.'));
    if !valid_email {
        return Err(ApiError::invalid("email", "email must be an email address"));
    }
    let password = body.password.clone().filter(|p| !p.is_empty());
    if password
        .as_ref()
        .is_some_and(|p| p.chars().count() < password::MIN_LEN)
    {
        return Err(ApiError::invalid(
            "password",
            format!("password must be at least {} characters", password::MIN_LEN),
        ));
    }
    let business = body
        .business_name
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .ok_or_else(|| ApiError::invalid("business_name", "business_name is required"))?
        .to_string();
    let (phone_param, phone) = match (&body.business_phone, &body.phone_forward_to) {
        (Some(p), _) if !p.trim().is_empty() => ("business_phone", Some(p.trim())),
        (_, Some(p)) if !p.trim().is_empty() => ("phone_forward_to", Some(p.trim())),
        _ => ("business_phone", None),
    };
    let phone = match phone {
        Some(p) => Some(
            E164::parse(p)
                .map_err(|m| ApiError::invalid(phone_param, m))?
                .to_string(),
        ),
        None => None,
    };
    let timezone = body
        .timezone
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or("America/New_York")
        .to_string();
    if timezone.parse::<chrono_tz::Tz>().is_err() {
        return Err(ApiError::invalid(
            "timezone",
            format!("Unknown IANA time zone '{timezone}' (e.g. America/Chicago)"),
        ));
    }
    Ok(Signup {
        email,
        password,
        business,
        phone,
        timezone,
    })
}

/// Creates the account and a session for it; answers the account and the cookie.
pub async fn sign_up(
    app: &AppState,
    ip: &str,
    user_agent: Option<&str>,
    body: &SignupBody,
) -> ApiResult<(SignedUp, String)> {
    let Signup {
        email,
        password,
        business,
        phone,
        timezone,
    } = check_signup(body)?;
    // Without a password of the user's, one is made (and shown once) with a live key.
    let (password, generated, modes) = match password {
        Some(p) => (p, false, vec![Mode::Test]),
        None => (
            crate::ids::random_base62(20),
            true,
            vec![Mode::Live, Mode::Test],
        ),
    };
    let now = app.clock.now();
    app.login_throttle.check_signup(ip, now)?;
    if tenancy::find_user_by_email(&app.store, &email)
        .await?
        .is_some()
    {
        return Err(ApiError::Conflict(
            "An account with this email already exists: sign in instead".into(),
        ));
    }
    app.login_throttle.record_signup(ip, now);
    let input = BootstrapInput {
        email: &email,
        password: &password,
        business: &business,
        business_phone: phone.as_deref(),
        timezone: &timezone,
    };
    let (out, mut keys) = match admin::set_up(&app.store, now, &input, &modes).await {
        Ok(made) => made,
        // Two sign-ups of one email at once: the second finds the first's user.
        Err(_)
            if tenancy::find_user_by_email(&app.store, &email)
                .await?
                .is_some() =>
        {
            return Err(ApiError::Conflict(
                "An account with this email already exists: sign in instead".into(),
            ))
        }
        Err(err) => return Err(err.into()),
    };
    let cookie = sessions::open(app, &out.user_id, user_agent, now).await?;
    let test_key = keys.pop().expect("a test key");
    let api_key = keys.pop().unwrap_or_else(|| test_key.clone());
    Ok((
        SignedUp {
            user_id: out.user_id,
            email,
            business_id: out.business_id,
            agent_id: out.agent_id,
            phone_number: out.phone_number,
            api_key,
            test_key,
            password: generated.then_some(password),
        },
        cookie,
    ))
}

pub fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| &ua[..ua.len().min(200)])
}

pub async fn signup(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<SignupBody>,
) -> ApiResult<Response> {
    let (account, cookie) = sign_up(&app, &ip, user_agent(&headers), &body).await?;
    let mut response = (StatusCode::CREATED, Json(account)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(anyhow::Error::from)?,
    );
    Ok(response)
}

/// One signed-in browser.
#[derive(Serialize, JsonSchema)]
pub struct SessionView {
    pub id: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub user_agent: Option<String>,
    /// The session this request came with.
    pub current: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

pub async fn sessions_of(
    app: &AppState,
    user_id: &str,
    current: &str,
) -> ApiResult<Vec<SessionView>> {
    let rows = sqlx::query(
        "SELECT id, created_at, expires_at, user_agent FROM sessions
         WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC",
    )
    .bind(user_id)
    .bind(app.clock.now().micros())
    .fetch_all(app.store.reader())
    .await?;
    rows.iter()
        .map(|row| {
            let r = Columns(row);
            let id: String = r.get("id")?;
            Ok(SessionView {
                current: id == current,
                id,
                created_at: r.time("created_at")?,
                expires_at: r.time("expires_at")?,
                user_agent: r.get("user_agent")?,
            })
        })
        .collect::<sqlx::Result<_>>()
        .map_err(Into::into)
}

pub async fn list_sessions(
    State(app): State<AppState>,
    SessionAuth(session): SessionAuth,
) -> ApiResult<Json<SessionList>> {
    let sessions = sessions_of(&app, &session.tenant.user_id, &session.session_id).await?;
    Ok(Json(SessionList { sessions }))
}

#[derive(Deserialize)]
pub struct IdQuery {
    id: Option<String>,
}

/// Ends one of the user's sessions (another browser, or this one).
pub async fn end_session(app: &AppState, user_id: &str, id: &str) -> ApiResult<()> {
    let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&app.store.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("Session"));
    }
    Ok(())
}

pub async fn revoke_session(
    State(app): State<AppState>,
    SessionAuth(session): SessionAuth,
    Query(q): Query<IdQuery>,
) -> ApiResult<Json<crate::http::Success>> {
    let id =
        q.id.filter(|i| !i.is_empty())
            .ok_or_else(|| ApiError::invalid("id", "id is required"))?;
    end_session(&app, &session.tenant.user_id, &id).await?;
    Ok(Json(crate::http::Success::TRUE))
}

#[derive(Deserialize, JsonSchema, Default)]
#[schemars(rename = "PasswordChange")]
pub struct PasswordBody {
    #[schemars(required, with = "String")]
    pub current_password: Option<String>,
    /// At least 8 characters.
    #[schemars(required, with = "String")]
    pub new_password: Option<String>,
}

/// Checks the current password, stores the new one, and ends every other session.
pub async fn change_password(
    app: &AppState,
    user_id: &str,
    session_id: &str,
    body: &PasswordBody,
) -> ApiResult<()> {
    let current = body
        .current_password
        .clone()
        .ok_or_else(|| ApiError::invalid("current_password", "current_password is required"))?;
    let new = body
        .new_password
        .clone()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::invalid("new_password", "new_password is required"))?;
    if new.chars().count() < password::MIN_LEN {
        return Err(ApiError::invalid(
            "new_password",
            format!(
                "new_password must be at least {} characters",
                password::MIN_LEN
            ),
        ));
    }
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(app.store.reader())
        .await?;
    let ok = tokio::task::spawn_blocking(move || password::verify(&current, &stored))
        .await
        .map_err(anyhow::Error::from)?;
    if !ok {
        return Err(ApiError::invalid(
            "current_password",
            "current_password is not your password",
        ));
    }
    let hash = tokio::task::spawn_blocking(move || password::hash(&new))
        .await
        .map_err(anyhow::Error::from)??;
    let mut tx = app.store.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(&hash)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
        .bind(user_id)
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn password(
    State(app): State<AppState>,
    SessionAuth(session): SessionAuth,
    Json(body): Json<PasswordBody>,
) -> ApiResult<Json<crate::http::Success>> {
    change_password(&app, &session.tenant.user_id, &session.session_id, &body).await?;
    Ok(Json(crate::http::Success::TRUE))
}
