//! `GET /api/v1/analytics`: calls over the last `days`, counted by status and by
//! outcome, and the minutes talked — what an agent (the MCP tool `get_analytics`)
//! or a dashboard asks to know how calling is going. One grouped query, scoped by
//! the caller's tenant and mode.

use std::collections::BTreeMap;

use axum::extract::State;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::auth::extract::{Auth, CallsRead};
use crate::clock::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::http::json::{parse_int, Json, Query};
use crate::store::row::Columns;
use crate::store::sql::Sql;

#[derive(Deserialize)]
pub struct AnalyticsQuery {
    days: Option<String>,
    business_id: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct Analytics {
    /// The window, in days back from now.
    pub days: i64,
    /// The window's start.
    pub since: Timestamp,
    pub calls_total: i64,
    /// Calls by status (queued, ringing, in_progress, completed, failed, canceled).
    pub calls_by_status: BTreeMap<String, i64>,
    /// Completed calls by outcome (resolved, follow_up, voicemail, cut_off, no_conversation).
    pub calls_by_outcome: BTreeMap<String, i64>,
    /// Minutes of the calls that ended (each rounded up to the minute).
    pub minutes: i64,
}

pub async fn analytics(
    State(app): State<AppState>,
    auth: Auth<CallsRead>,
    Query(q): Query<AnalyticsQuery>,
) -> ApiResult<Json<Analytics>> {
    let days = parse_int("days", q.days.as_deref(), 1..=90)?.unwrap_or(30);
    let businesses = match q
        .business_id
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
    {
        Some(b) if auth.tenant.owns(b) => vec![b.to_string()],
        Some(_) => return Err(ApiError::not_found("Business")),
        None => auth.tenant.business_ids.clone(),
    };
    let since = Timestamp(app.clock.now().micros() - days * 86_400_000_000);
    let mut sql = Sql::new(
        "SELECT status, outcome, COUNT(*) AS calls, CAST(COALESCE(SUM((duration + 59) / 60), 0) AS BIGINT) AS minutes FROM calls WHERE 1 = 1",
    );
    sql.push_list(" AND business_id IN (?)", &businesses)
        .push(" AND mode = ?", auth.tenant.mode.as_str())
        .push(" AND created_at >= ?", since.micros())
        .text(" GROUP BY status, outcome");
    let rows = sql.query().fetch_all(app.store.reader()).await?;
    let mut out = Analytics {
        days,
        since,
        calls_total: 0,
        calls_by_status: BTreeMap::new(),
        calls_by_outcome: BTreeMap::new(),
        minutes: 0,
    };
    for row in &rows {
        let r = Columns(row);
        let status: String = r.get("status")?;
        let outcome: Option<String> = r.get("outcome")?;
        let calls: i64 = r.get("calls")?;
        out.calls_total += calls;
        out.minutes += r.get::<i64>("minutes")?;
        *out.calls_by_status.entry(status).or_default() += calls;
        if let Some(outcome) = outcome {
            *out.calls_by_outcome.entry(outcome).or_default() += calls;
        }
    }
    Ok(Json(out))
}
