//! Leads: the CRM that call enrichment reads (score, status, source, history).

pub mod routes;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use sqlx::any::AnyRow;

use crate::auth::Tenant;
use crate::clock::Timestamp;
use crate::store::row::Columns;
use crate::store::sql::Sql;
use crate::store::{Store, Tx};

/// A lead, as stored and as the API shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Lead {
    pub id: String,
    pub business_id: String,
    pub agent_id: Option<String>,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub status: String,
    pub source: Option<String>,
    pub score: Option<i64>,
    pub notes: Option<String>,
    pub metadata: Value,
    pub interaction_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Lead {
    /// A new lead (status `new`) with nothing else set.
    pub fn new(business_id: &str, now: Timestamp) -> Lead {
        Lead {
            id: crate::ids::new_id(),
            business_id: business_id.to_string(),
            agent_id: None,
            name: None,
            first_name: None,
            last_name: None,
            phone: None,
            email: None,
            status: "new".into(),
            source: None,
            score: None,
            notes: None,
            metadata: Value::Object(Default::default()),
            interaction_count: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// The name a call greets: the explicit first name, else the first word of `name`.
    pub fn display_first_name(&self) -> Option<String> {
        self.first_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| first_word(self.name.as_deref()))
    }
}

pub fn first_word(name: Option<&str>) -> Option<String> {
    name.and_then(|n| n.split_whitespace().next())
        .map(str::to_string)
}

const COLUMNS: &str = "id, business_id, agent_id, name, first_name, last_name, phone, email, status, source, score, notes, metadata, interaction_count, created_at, updated_at";

fn from_row(row: &AnyRow) -> sqlx::Result<Lead> {
    let r = Columns(row);
    Ok(Lead {
        id: r.get("id")?,
        business_id: r.get("business_id")?,
        agent_id: r.get("agent_id")?,
        name: r.get("name")?,
        first_name: r.get("first_name")?,
        last_name: r.get("last_name")?,
        phone: r.get("phone")?,
        email: r.get("email")?,
        status: r.get("status")?,
        source: r.get("source")?,
        score: r.get("score")?,
        notes: r.get("notes")?,
        metadata: r.json("metadata")?,
        interaction_count: r.get("interaction_count")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

/// Filters of `GET /api/v1/leads`; every one optional, combined with AND.
#[derive(Default)]
pub struct Filter {
    pub statuses: Vec<String>,
    pub source: Option<String>,
    pub agent_id: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub created_after: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    pub updated_after: Option<Timestamp>,
    pub updated_before: Option<Timestamp>,
    pub score_gte: Option<i64>,
    pub score_lte: Option<i64>,
    pub limit: i64,
}

/// Newest first; returns up to `limit + 1` rows so the caller can tell `has_more`.
pub async fn list(store: &Store, tenant: &Tenant, filter: &Filter) -> sqlx::Result<Vec<Lead>> {
    let mut sql = Sql::new(format!("SELECT {COLUMNS} FROM leads"));
    sql.push_list(" WHERE business_id IN (?)", &tenant.business_ids);
    if !filter.statuses.is_empty() {
        sql.push_list(" AND status IN (?)", &filter.statuses);
    }
    sql.push_opt(" AND source = ?", filter.source.as_ref())
        .push_opt(" AND agent_id = ?", filter.agent_id.as_ref())
        .push_opt(" AND phone = ?", filter.phone.as_ref())
        .push_opt(" AND email = ?", filter.email.as_ref())
        .push_opt(
            " AND created_at > ?",
            filter.created_after.map(Timestamp::micros),
        )
        .push_opt(
            " AND created_at < ?",
            filter.created_before.map(Timestamp::micros),
        )
        .push_opt(
            " AND updated_at > ?",
            filter.updated_after.map(Timestamp::micros),
        )
        .push_opt(
            " AND updated_at < ?",
            filter.updated_before.map(Timestamp::micros),
        )
        .push_opt(" AND score >= ?", filter.score_gte)
        .push_opt(" AND score <= ?", filter.score_lte)
        .push(
            " ORDER BY created_at DESC, id DESC LIMIT ?",
            filter.limit + 1,
        );
    let rows = sql.query().fetch_all(store.reader()).await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(store: &Store, tenant: &Tenant, id: &str) -> sqlx::Result<Option<Lead>> {
    let mut sql = Sql::new(format!("SELECT {COLUMNS} FROM leads"));
    sql.push(" WHERE id = ?", id)
        .push_list(" AND business_id IN (?)", &tenant.business_ids);
    let row = sql.query().fetch_optional(store.reader()).await?;
    row.as_ref().map(from_row).transpose()
}

/// A lead by id alone, for the engine's jobs (whose call already passed tenancy).
pub async fn get_by_id(store: &Store, id: &str) -> sqlx::Result<Option<Lead>> {
    let mut sql = Sql::new(format!("SELECT {COLUMNS} FROM leads"));
    sql.push(" WHERE id = ?", id);
    let row = sql.query().fetch_optional(store.reader()).await?;
    row.as_ref().map(from_row).transpose()
}

/// The business's most recently updated lead with this phone number.
pub async fn find_by_phone(
    store: &Store,
    business_id: &str,
    phone: &str,
) -> sqlx::Result<Option<Lead>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM leads WHERE business_id = $1 AND phone = $2 ORDER BY updated_at DESC, id DESC LIMIT 1"
    ))
    .bind(business_id)
    .bind(phone)
    .fetch_optional(store.reader())
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn save(tx: &mut Tx, lead: &Lead, is_new: bool) -> sqlx::Result<()> {
    let sql = if is_new {
        format!("INSERT INTO leads ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)")
    } else {
        "UPDATE leads SET business_id = $2, agent_id = $3, name = $4, first_name = $5, last_name = $6, phone = $7,
            email = $8, status = $9, source = $10, score = $11, notes = $12, metadata = $13,
            interaction_count = $14, created_at = $15, updated_at = $16
         WHERE id = $1"
            .to_string()
    };
    sqlx::query(&sql)
        .bind(&lead.id)
        .bind(&lead.business_id)
        .bind(&lead.agent_id)
        .bind(&lead.name)
        .bind(&lead.first_name)
        .bind(&lead.last_name)
        .bind(&lead.phone)
        .bind(&lead.email)
        .bind(&lead.status)
        .bind(&lead.source)
        .bind(lead.score)
        .bind(&lead.notes)
        .bind(lead.metadata.to_string())
        .bind(lead.interaction_count)
        .bind(lead.created_at.micros())
        .bind(lead.updated_at.micros())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Counts one more call with the lead.
pub async fn increment_interactions(tx: &mut Tx, id: &str, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE leads SET interaction_count = interaction_count + 1, updated_at = $1 WHERE id = $2",
    )
    .bind(now.micros())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A page of leads.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LeadList {
    pub leads: Vec<Lead>,
    pub has_more: bool,
}
