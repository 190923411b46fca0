//! Webhooks: subscriptions (each with its own secret), the business secret that signs
//! per-call `webhook_url` deliveries (rotated with a 24 h overlap), Standard Webhooks
//! signing, the SSRF guard, and the delivery worker.

pub mod delivery;
pub mod routes;
pub mod signing;
pub mod ssrf;

use schemars::JsonSchema;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::auth::api_key::Mode;
use crate::auth::Tenant;
use crate::clock::Timestamp;
use crate::ids;
use crate::store::row::Columns;
use crate::store::sql::Sql;
use crate::store::{Store, Tx};

/// How long a rotated-out business secret keeps signing.
pub const SECRET_OVERLAP_MICROS: i64 = 24 * 3600 * 1_000_000;

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub business_id: String,
    pub mode: Mode,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub is_active: bool,
    pub secret: String,
    pub disabled_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub fn mask(secret: &str) -> String {
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("whsec_****{tail}")
}

impl Subscription {
    /// The API's view: the secret masked (`reveal` adds it in full, at creation).
    pub fn view(&self, reveal: bool) -> WebhookView {
        WebhookView {
            id: self.id.clone(),
            business_id: self.business_id.clone(),
            url: self.url.clone(),
            events: self.events.clone(),
            description: self.description.clone(),
            is_active: self.is_active,
            disabled_reason: self.disabled_reason.clone(),
            mode: self.mode,
            webhook_secret_masked: mask(&self.secret),
            webhook_secret: reveal.then(|| self.secret.clone()),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A webhook subscription as the API shows it.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Webhook")]
pub struct WebhookView {
    pub id: String,
    pub business_id: String,
    pub url: String,
    /// Event types delivered (`*` for all).
    pub events: Vec<String>,
    pub description: Option<String>,
    pub is_active: bool,
    /// Why delivery stopped (a receiver answered 410), if it did.
    pub disabled_reason: Option<String>,
    pub mode: Mode,
    pub webhook_secret_masked: String,
    /// The signing secret, shown once: in the creation response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, business_id, mode, url, events, description, is_active, secret, disabled_reason, created_at, updated_at";

fn from_row(row: &AnyRow) -> sqlx::Result<Subscription> {
    let r = Columns(row);
    Ok(Subscription {
        id: r.get("id")?,
        business_id: r.get("business_id")?,
        mode: r.parsed("mode", Mode::parse)?,
        url: r.get("url")?,
        events: r.json("events")?,
        description: r.get("description")?,
        is_active: r.flag("is_active")?,
        secret: r.get("secret")?,
        disabled_reason: r.get("disabled_reason")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

/// The tenant's subscriptions (in its mode), optionally of one business.
pub async fn list(
    store: &Store,
    tenant: &Tenant,
    business_id: Option<&str>,
) -> sqlx::Result<Vec<Subscription>> {
    let mut sql = Sql::new(format!("SELECT {COLUMNS} FROM webhook_subscriptions"));
    sql.push(" WHERE mode = ?", tenant.mode.as_str())
        .push_list(" AND business_id IN (?)", &tenant.business_ids)
        .push_opt(" AND business_id = ?", business_id)
        .text(" ORDER BY created_at, id");
    let rows = sql.query().fetch_all(store.reader()).await?;
    rows.iter().map(from_row).collect::<sqlx::Result<_>>()
}

pub async fn get(store: &Store, tenant: &Tenant, id: &str) -> sqlx::Result<Option<Subscription>> {
    Ok(list(store, tenant, None)
        .await?
        .into_iter()
        .find(|s| s.id == id))
}

pub async fn get_by_id(store: &Store, id: &str) -> sqlx::Result<Option<Subscription>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM webhook_subscriptions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(store.reader())
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn save(tx: &mut Tx, sub: &Subscription, is_new: bool) -> sqlx::Result<()> {
    let sql = if is_new {
        format!("INSERT INTO webhook_subscriptions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
    } else {
        "UPDATE webhook_subscriptions SET business_id = $2, mode = $3, url = $4, events = $5, description = $6,
            is_active = $7, secret = $8, disabled_reason = $9, created_at = $10, updated_at = $11 WHERE id = $1"
            .to_string()
    };
    sqlx::query(&sql)
        .bind(&sub.id)
        .bind(&sub.business_id)
        .bind(sub.mode.as_str())
        .bind(&sub.url)
        .bind(serde_json::to_string(&sub.events).unwrap_or_else(|_| "[]".into()))
        .bind(&sub.description)
        .bind(sub.is_active as i64)
        .bind(&sub.secret)
        .bind(&sub.disabled_reason)
        .bind(sub.created_at.micros())
        .bind(sub.updated_at.micros())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn delete(store: &Store, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM webhook_subscriptions WHERE id = $1")
        .bind(id)
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// Marks a subscription disabled (a 410 from its endpoint).
pub async fn disable(tx: &mut Tx, id: &str, reason: &str, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query("UPDATE webhook_subscriptions SET is_active = 0, disabled_reason = $1, updated_at = $2 WHERE id = $3")
        .bind(reason)
        .bind(now.micros())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The business secrets that sign now: the current one, and the previous one during
/// its overlap.
pub async fn business_secrets(
    store: &Store,
    business_id: &str,
    now: Timestamp,
) -> sqlx::Result<Vec<String>> {
    let row = sqlx::query(
        "SELECT webhook_secret, previous_webhook_secret, previous_secret_expires_at FROM businesses WHERE id = $1",
    )
    .bind(business_id)
    .fetch_optional(store.reader())
    .await?;
    let Some(row) = row else { return Ok(vec![]) };
    let mut secrets = vec![row.get::<String, _>(0)];
    if let (Some(prev), Some(until)) = (
        row.get::<Option<String>, _>(1),
        row.get::<Option<i64>, _>(2),
    ) {
        if until > now.micros() {
            secrets.push(prev);
        }
    }
    Ok(secrets)
}

/// Replaces the business secret; the old one keeps signing for 24 hours.
pub async fn rotate_business_secret(
    store: &Store,
    business_id: &str,
    now: Timestamp,
) -> sqlx::Result<String> {
    let secret = ids::new_webhook_secret();
    sqlx::query(
        "UPDATE businesses SET previous_webhook_secret = webhook_secret, previous_secret_expires_at = $1, webhook_secret = $2 WHERE id = $3",
    )
    .bind(now.micros() + SECRET_OVERLAP_MICROS)
    .bind(&secret)
    .bind(business_id)
    .execute(&store.pool)
    .await?;
    Ok(secret)
}
