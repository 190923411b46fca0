//! `GET /api/v1/usage` and `GET /api/v1/balance`: any valid key.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};
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
) -> ApiResult<Json<Value>> {
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
    let rows = sql.query().fetch_all(&app.store.pool).await?;
    let has_more = rows.len() as i64 > limit;
    let usage: Vec<Value> = rows
        .iter()
        .take(limit as usize)
        .map(|r| {
            json!({
                "id": r.get::<String, _>(0),
                "endpoint": r.get::<String, _>(1),
                "method": r.get::<String, _>(2),
                "status_code": r.get::<i64, _>(3),
                "call_id": r.get::<Option<String>, _>(4),
                "cost_cents": r.get::<i64, _>(5),
                "created_at": Timestamp(r.get(6)).to_rfc3339(),
            })
        })
        .collect();
    Ok(Json(json!({ "usage": usage, "has_more": has_more })))
}

pub async fn balance(State(app): State<AppState>, AnyKey(key): AnyKey) -> ApiResult<Json<Value>> {
    let mut out = Vec::new();
    for business in tenancy::businesses(&app.store, &key.tenant.business_ids).await? {
        // Live minutes only: test calls are free and never count.
        let minutes_used: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM((duration + 59) / 60), 0) AS BIGINT) FROM calls
             WHERE business_id = $1 AND mode = 'live' AND status = 'completed' AND duration IS NOT NULL",
        )
        .bind(&business.id)
        .fetch_one(&app.store.pool)
        .await?;
        let phone_numbers: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM phone_numbers WHERE business_id = $1")
                .bind(&business.id)
                .fetch_one(&app.store.pool)
                .await?;
        out.push(json!({
            "business_id": business.id,
            "business_name": business.name,
            "minutes_used": minutes_used,
            "included_minutes": business.included_minutes,
            "phone_numbers": phone_numbers,
            "subscription_status": business.subscription_status,
        }));
    }
    Ok(Json(json!({ "businesses": out })))
}
