//! `/api/v1/keys`: list, create and revoke, on a dashboard session only.

use axum::extract::State;
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{KeyRecord, NewKeySpec};
use crate::app::AppState;
use crate::auth::api_key::Mode;
use crate::auth::extract::SessionAuth;
use crate::auth::scope::{Scope, Scopes};
use crate::clock::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::http::json::{require, Json, Query};
use crate::http::Success;

/// An API key as listed (never the key itself).
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Key")]
pub struct KeyView {
    pub id: String,
    /// The key's first 12 characters, e.g. `kc_live_abc1`.
    pub prefix: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub business_id: Option<String>,
    pub mode: Mode,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub is_active: bool,
}

impl KeyView {
    fn new(key: &KeyRecord, now: Timestamp) -> KeyView {
        KeyView {
            id: key.id.clone(),
            prefix: key.prefix.clone(),
            name: key.name.clone(),
            scopes: key.scopes.to_strings(),
            business_id: key.business_id.clone(),
            mode: key.mode,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
            is_active: key.is_active(now),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
}

/// A new key: the listing's fields and, this once, the key.
#[derive(Serialize, JsonSchema)]
pub struct NewKey {
    #[serde(flatten)]
    pub record: KeyView,
    /// The full key. Store it now: it is never shown again.
    pub key: String,
}

pub async fn list(
    State(app): State<AppState>,
    SessionAuth(session): SessionAuth,
) -> ApiResult<Json<KeyList>> {
    let now = app.clock.now();
    let keys = super::list_for_user(&app.store, &session.tenant.user_id).await?;
    let keys = keys.iter().map(|k| KeyView::new(k, now)).collect();
    Ok(Json(KeyList { keys }))
}

#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "NewKeyRequest")]
pub struct CreateKey {
    name: Option<String>,
    business_id: Option<String>,
    scopes: Option<Vec<String>>,
    mode: Option<String>,
    expires_at: Option<String>,
}

pub async fn create(
    State(app): State<AppState>,
    SessionAuth(session): SessionAuth,
    Json(body): Json<CreateKey>,
) -> ApiResult<(StatusCode, Json<NewKey>)> {
    let now = app.clock.now();
    let name = body
        .name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Untitled Key".to_string());
    if name.chars().count() > 200 {
        return Err(ApiError::invalid(
            "name",
            "name must be at most 200 characters",
        ));
    }
    let scopes = match body.scopes {
        None => Scopes::new(Scope::DEFAULTS.to_vec()),
        Some(list) if list.is_empty() => {
            return Err(ApiError::invalid("scopes", "scopes must not be empty"))
        }
        Some(list) => Scopes::parse_list(&list)
            .map_err(|bad| ApiError::invalid("scopes", format!("Unknown scope '{bad}'")))?,
    };
    let mode = match body.mode.as_deref() {
        None => Mode::Live,
        Some(m) => Mode::parse(m)
            .ok_or_else(|| ApiError::invalid("mode", "mode must be 'live' or 'test'"))?,
    };
    let expires_at = match body.expires_at.as_deref() {
        None => None,
        Some(text) => {
            let at = Timestamp::parse(text).ok_or_else(|| {
                ApiError::invalid("expires_at", "expires_at must be an ISO 8601 timestamp")
            })?;
            if at <= now {
                return Err(ApiError::invalid(
                    "expires_at",
                    "expires_at must be in the future",
                ));
            }
            Some(at)
        }
    };
    if let Some(b) = &body.business_id {
        if !session.tenant.owns(b) {
            return Err(ApiError::not_found("Business"));
        }
    }
    let mut tx = app.store.begin().await?;
    let (record, secret) = super::insert(
        &mut tx,
        NewKeySpec {
            user_id: &session.tenant.user_id,
            business_id: body.business_id.as_deref(),
            name: &name,
            scopes,
            mode,
            expires_at,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    let record = KeyView::new(&record, now);
    Ok((
        StatusCode::CREATED,
        Json(NewKey {
            record,
            key: secret,
        }),
    ))
}

#[derive(Deserialize)]
pub struct KeyId {
    id: Option<String>,
}

pub async fn revoke(
    State(app): State<AppState>,
    SessionAuth(session): SessionAuth,
    Query(q): Query<KeyId>,
) -> ApiResult<Json<Success>> {
    let id = require("id", q.id.as_deref())?;
    let user = &session.tenant.user_id;
    if !super::revoke(&app.store, user, id, app.clock.now()).await?
        && !super::exists_for_user(&app.store, user, id).await?
    {
        return Err(ApiError::not_found("API key"));
    }
    Ok(Json(Success::TRUE))
}
