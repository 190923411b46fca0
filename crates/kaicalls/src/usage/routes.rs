//! `GET /api/v1/usage` and `GET /api/v1/balance`: any valid key.

use axum::extract::State;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::app::AppState;
use crate::auth::extract::AnyKey;
use crate::clock::Timestamp;
use crate::error::ApiResult;
use crate::http::json::{parse_limit, parse_time, Json, Query};
use crate::store::sql::Sql;
use crate::tenancy;

#[derive(Deserialize)]
pub struct UsageQuery {
    start: Option<String>,
    end: Option<String>,
    limit: Option<String>,
}

pub async fn list_usage(
    State(app): State<AppState>,
    AnyKey(key): AnyKey,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<UsageList>> {
    let limit = parse_limit(q.limit.as_deref(), 100, 500)?;
    let start = parse_time("start", q.start.as_deref())?;
    let end = parse_time("end", q.end.as_deref())?;

    let mut sql = Sql::new(
        "SELECT id, endpoint, method, status_code, call_id, cost_cents, created_at FROM usage_log",
    );
    sql.push(" WHERE user_id = ?", &key.tenant.user_id)
        .push(" AND mode = ?", key.tenant.mode.as_str())
        .push_opt(" AND business_id = ?", key.key_business_id.as_ref())
        .push_opt(" AND created_at >= ?", start.map(Timestamp::micros))
        .push_opt(" AND created_at <= ?", end.map(Timestamp::micros))
        .push(" ORDER BY created_at DESC, id DESC LIMIT ?", limit + 1);
    let rows = sql.query().fetch_all(app.store.reader()).await?;
    let has_more = rows.len() as i64 > limit;
    let usage = rows
        .iter()
        .take(limit as usize)
        .map(|r| UsageRow {
            id: r.get(0),
            endpoint: r.get(1),
            method: r.get(2),
            status_code: r.get(3),
            call_id: r.get(4),
            cost_cents: r.get(5),
            created_at: Timestamp(r.get(6)),
        })
        .collect();
    Ok(Json(UsageList { usage, has_more }))
}

/// One API request, as metered.
#[derive(Serialize, JsonSchema)]
pub struct UsageRow {
    pub id: String,
    pub endpoint: String,
    pub method: String,
    pub status_code: i64,
    pub call_id: Option<String>,
    pub cost_cents: i64,
    pub created_at: Timestamp,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Usage")]
pub struct UsageList {
    pub usage: Vec<UsageRow>,
    pub has_more: bool,
}

/// A business's subscription and minutes.
#[derive(Serialize, JsonSchema)]
pub struct BusinessBalance {
    pub business_id: String,
    pub business_name: String,
    /// Live minutes of completed calls (each call rounded up to the minute).
    pub minutes_used: i64,
    pub included_minutes: i64,
    pub phone_numbers: i64,
    pub subscription_status: String,
}

#[derive(Serialize, JsonSchema)]
pub struct Balance {
    pub businesses: Vec<BusinessBalance>,
}

pub async fn balance(State(app): State<AppState>, AnyKey(key): AnyKey) -> ApiResult<Json<Balance>> {
    let mut out = Vec::new();
    for business in tenancy::businesses(&app.store, &key.tenant.business_ids).await? {
        // Live minutes only: test calls are free and never count.
        let minutes_used: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM((duration + 59) / 60), 0) AS BIGINT) FROM calls
             WHERE business_id = $1 AND mode = 'live' AND status = 'completed' AND duration IS NOT NULL",
        )
        .bind(&business.id)
        .fetch_one(app.store.reader())
        .await?;
        let phone_numbers: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM phone_numbers WHERE business_id = $1")
                .bind(&business.id)
                .fetch_one(app.store.reader())
                .await?;
        out.push(BusinessBalance {
            business_id: business.id,
            business_name: business.name,
            minutes_used,
            included_minutes: business.included_minutes,
            phone_numbers,
            subscription_status: business.subscription_status,
        });
    }
    Ok(Json(Balance { businesses: out }))
}
