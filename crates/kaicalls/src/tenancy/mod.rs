//! Users, businesses and memberships: who owns what. Every tenant-scoped query in the
//! other domains filters on the business ids resolved here for the caller.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::clock::Timestamp;
use crate::ids;
use crate::store::row::Columns;
use crate::store::sql::Sql;
use crate::store::{Store, Tx};

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub struct Business {
    pub id: String,
    pub name: String,
    pub phone: Option<String>,
    pub timezone: String,
    pub subscription_status: String,
    pub included_minutes: i64,
    pub webhook_secret: String,
    pub created_at: Timestamp,
}

pub struct NewBusiness<'a> {
    pub name: &'a str,
    pub phone: Option<&'a str>,
    pub timezone: &'a str,
}

/// Minutes included in a new business's plan.
pub const DEFAULT_INCLUDED_MINUTES: i64 = 1000;

pub fn normalize_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

pub async fn find_user_by_email(store: &Store, email: &str) -> sqlx::Result<Option<User>> {
    let row = sqlx::query("SELECT id, email, password_hash FROM users WHERE email = $1")
        .bind(normalize_email(email))
        .fetch_optional(store.reader())
        .await?;
    Ok(row.map(|r| User {
        id: r.get(0),
        email: r.get(1),
        password_hash: r.get(2),
    }))
}

pub async fn insert_user(
    tx: &mut Tx,
    email: &str,
    password_hash: &str,
    now: Timestamp,
) -> sqlx::Result<String> {
    let id = ids::new_id();
    sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(normalize_email(email))
        .bind(password_hash)
        .bind(now.micros())
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

pub async fn count_users(store: &Store) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(store.reader())
        .await
}

/// Creates a business owned by `user_id`.
pub async fn insert_business(
    tx: &mut Tx,
    user_id: &str,
    new: &NewBusiness<'_>,
    now: Timestamp,
) -> sqlx::Result<Business> {
    let business = Business {
        id: ids::new_id(),
        name: new.name.to_string(),
        phone: new.phone.map(str::to_string),
        timezone: new.timezone.to_string(),
        subscription_status: "active".into(),
        included_minutes: DEFAULT_INCLUDED_MINUTES,
        webhook_secret: ids::new_webhook_secret(),
        created_at: now,
    };
    sqlx::query(
        "INSERT INTO businesses (id, name, phone, timezone, subscription_status, included_minutes, webhook_secret, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&business.id)
    .bind(&business.name)
    .bind(&business.phone)
    .bind(&business.timezone)
    .bind(&business.subscription_status)
    .bind(business.included_minutes)
    .bind(&business.webhook_secret)
    .bind(now.micros())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO memberships (user_id, business_id, role, created_at) VALUES ($1, $2, 'owner', $3)",
    )
    .bind(user_id)
    .bind(&business.id)
    .bind(now.micros())
    .execute(&mut **tx)
    .await?;
    Ok(business)
}

/// The ids of every business the user is a member of, oldest first.
pub async fn business_ids_of_user(store: &Store, user_id: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT business_id FROM memberships WHERE user_id = $1 ORDER BY created_at, business_id",
    )
    .bind(user_id)
    .fetch_all(store.reader())
    .await
}

const BUSINESS_COLUMNS: &str =
    "id, name, phone, timezone, subscription_status, included_minutes, webhook_secret, created_at";

fn business_from_row(row: &AnyRow) -> sqlx::Result<Business> {
    let r = Columns(row);
    Ok(Business {
        id: r.get("id")?,
        name: r.get("name")?,
        phone: r.get("phone")?,
        timezone: r.get("timezone")?,
        subscription_status: r.get("subscription_status")?,
        included_minutes: r.get("included_minutes")?,
        webhook_secret: r.get("webhook_secret")?,
        created_at: r.time("created_at")?,
    })
}

pub async fn businesses(store: &Store, ids: &[String]) -> sqlx::Result<Vec<Business>> {
    let mut sql = Sql::new(format!("SELECT {BUSINESS_COLUMNS} FROM businesses"));
    sql.push_list(" WHERE id IN (?)", ids)
        .text(" ORDER BY created_at, id");
    let rows = sql.query().fetch_all(store.reader()).await?;
    rows.iter().map(business_from_row).collect()
}

pub async fn business(store: &Store, id: &str) -> sqlx::Result<Option<Business>> {
    Ok(businesses(store, &[id.to_string()]).await?.pop())
}

/// The business's first owner: whom its inbound calls are metered to.
pub async fn owner_of(
    conn: &mut sqlx::AnyConnection,
    business_id: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT user_id FROM memberships WHERE business_id = $1 ORDER BY CASE WHEN role = 'owner' THEN 0 ELSE 1 END, created_at, user_id LIMIT 1",
    )
    .bind(business_id)
    .fetch_optional(conn)
    .await
}
