//! Phone numbers: registered to a business, optionally assigned to an agent (the caller
//! id of its outbound calls). Served as `/api/v1/numbers` (the reference) and
//! `/api/v1/phone-numbers` (the published clients, with assign and release).

pub mod routes;

use schemars::JsonSchema;
use serde::Serialize;
use sqlx::any::AnyRow;

use crate::auth::Tenant;
use crate::clock::Timestamp;
use crate::store::row::Columns;
use crate::store::sql::Sql;
use crate::store::{Store, Tx};

/// A phone number, as stored and as the API shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PhoneNumber {
    pub id: String,
    pub business_id: String,
    pub agent_id: Option<String>,
    pub phone_number: String,
    pub vapi_phone_number_id: Option<String>,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "id, business_id, agent_id, phone_number, vapi_phone_number_id, created_at";

fn from_row(row: &AnyRow) -> sqlx::Result<PhoneNumber> {
    let r = Columns(row);
    Ok(PhoneNumber {
        id: r.get("id")?,
        business_id: r.get("business_id")?,
        agent_id: r.get("agent_id")?,
        phone_number: r.get("phone_number")?,
        vapi_phone_number_id: r.get("vapi_phone_number_id")?,
        created_at: r.time("created_at")?,
    })
}

/// The tenant's numbers, optionally narrowed to one business or one number.
pub async fn list(
    store: &Store,
    tenant: &Tenant,
    business_id: Option<&str>,
    phone_number: Option<&str>,
) -> sqlx::Result<Vec<PhoneNumber>> {
    let mut sql = Sql::new(format!("SELECT {COLUMNS} FROM phone_numbers"));
    sql.push_list(" WHERE business_id IN (?)", &tenant.business_ids)
        .push_opt(" AND business_id = ?", business_id)
        .push_opt(" AND phone_number = ?", phone_number)
        .text(" ORDER BY created_at, id");
    let rows = sql.query().fetch_all(store.reader()).await?;
    rows.iter().map(from_row).collect()
}

/// The number wherever it is registered (numbers are unique across tenants).
pub async fn find_any(store: &Store, phone_number: &str) -> sqlx::Result<Option<PhoneNumber>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM phone_numbers WHERE phone_number = $1"
    ))
    .bind(phone_number)
    .fetch_optional(store.reader())
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The number Vapi knows by this id.
pub async fn find_by_vapi_id(store: &Store, vapi_id: &str) -> sqlx::Result<Option<PhoneNumber>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM phone_numbers WHERE vapi_phone_number_id = $1 ORDER BY created_at, id LIMIT 1"
    ))
    .bind(vapi_id)
    .fetch_optional(store.reader())
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn insert(tx: &mut Tx, number: &PhoneNumber) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO phone_numbers ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(&number.id)
    .bind(&number.business_id)
    .bind(&number.agent_id)
    .bind(&number.phone_number)
    .bind(&number.vapi_phone_number_id)
    .bind(number.created_at.micros())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn update_assignment(tx: &mut Tx, number: &PhoneNumber) -> sqlx::Result<()> {
    sqlx::query("UPDATE phone_numbers SET agent_id = $1, vapi_phone_number_id = $2 WHERE id = $3")
        .bind(&number.agent_id)
        .bind(&number.vapi_phone_number_id)
        .bind(&number.id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn delete(store: &Store, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM phone_numbers WHERE id = $1")
        .bind(id)
        .execute(&store.pool)
        .await?;
    Ok(())
}
