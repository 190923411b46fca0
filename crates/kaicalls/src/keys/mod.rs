//! API keys: creation (secret shown once), listing and revocation, on dashboard-session
//! auth only; and the lookup the auth middleware does on every request.

pub mod routes;

use sqlx::any::AnyRow;

use crate::auth::api_key::{self, Mode};
use crate::auth::scope::Scopes;
use crate::clock::Timestamp;
use crate::ids;
use crate::store::row::Columns;
use crate::store::{Store, Tx};

#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub id: String,
    pub user_id: String,
    pub business_id: Option<String>,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub scopes: Scopes,
    pub mode: Mode,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl KeyRecord {
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

pub struct NewKeySpec<'a> {
    pub user_id: &'a str,
    pub business_id: Option<&'a str>,
    pub name: &'a str,
    pub scopes: Scopes,
    pub mode: Mode,
    pub expires_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, user_id, business_id, name, prefix, key_hash, scopes, mode, created_at, last_used_at, expires_at, revoked_at";

fn from_row(row: &AnyRow) -> sqlx::Result<KeyRecord> {
    let r = Columns(row);
    Ok(KeyRecord {
        id: r.get("id")?,
        user_id: r.get("user_id")?,
        business_id: r.get("business_id")?,
        name: r.get("name")?,
        prefix: r.get("prefix")?,
        key_hash: r.get("key_hash")?,
        scopes: r.parsed("scopes", Scopes::from_json)?,
        mode: r.parsed("mode", Mode::parse)?,
        created_at: r.time("created_at")?,
        last_used_at: r.time_opt("last_used_at")?,
        expires_at: r.time_opt("expires_at")?,
        revoked_at: r.time_opt("revoked_at")?,
    })
}

/// Creates a key and returns it with its secret, which is not stored anywhere.
pub async fn insert(
    tx: &mut Tx,
    spec: NewKeySpec<'_>,
    now: Timestamp,
) -> sqlx::Result<(KeyRecord, String)> {
    let generated = api_key::generate(spec.mode);
    let record = KeyRecord {
        id: ids::new_id(),
        user_id: spec.user_id.to_string(),
        business_id: spec.business_id.map(str::to_string),
        name: spec.name.to_string(),
        prefix: generated.prefix,
        key_hash: generated.hash,
        scopes: spec.scopes,
        mode: spec.mode,
        created_at: now,
        last_used_at: None,
        expires_at: spec.expires_at,
        revoked_at: None,
    };
    sqlx::query(&format!(
        "INSERT INTO api_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, NULL)"
    ))
    .bind(&record.id)
    .bind(&record.user_id)
    .bind(&record.business_id)
    .bind(&record.name)
    .bind(&record.prefix)
    .bind(&record.key_hash)
    .bind(record.scopes.to_json())
    .bind(record.mode.as_str())
    .bind(now.micros())
    .bind(record.expires_at.map(Timestamp::micros))
    .execute(&mut **tx)
    .await?;
    Ok((record, generated.secret))
}

pub async fn find_by_hash(store: &Store, hash: &str) -> sqlx::Result<Option<KeyRecord>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1"
    ))
    .bind(hash)
    .fetch_optional(store.reader())
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn list_for_user(store: &Store, user_id: &str) -> sqlx::Result<Vec<KeyRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(user_id)
    .fetch_all(store.reader())
    .await?;
    rows.iter().map(from_row).collect::<sqlx::Result<_>>()
}

/// Revokes the user's key; false when the user has no such key (or it was revoked).
pub async fn revoke(store: &Store, user_id: &str, id: &str, now: Timestamp) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
    )
    .bind(now.micros())
    .bind(id)
    .bind(user_id)
    .execute(&store.pool)
    .await?;
    // Refused from the next request on: cached keys are stale (`auth::key_cache`).
    crate::wake::keys_changed();
    Ok(done.rows_affected() == 1)
}

pub async fn exists_for_user(store: &Store, user_id: &str, id: &str) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .fetch_one(store.reader())
        .await?;
    Ok(n > 0)
}

pub async fn touch_last_used(store: &Store, id: &str, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
        .bind(now.micros())
        .bind(id)
        .execute(&store.pool)
        .await?;
    Ok(())
}
