//! `GET /api/v1/events`, `GET /api/v1/event-deliveries` (every attempt) and
//! `POST /api/v1/events/replay`.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Row;

use super::{enqueue_delivery, from_row, Event, COLUMNS};
use crate::app::AppState;
use crate::auth::extract::{Auth, EventsRead, EventsReplay};
use crate::auth::Tenant;
use crate::clock::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::http::json::{parse_limit, parse_time, Json, Query};
use crate::store::{placeholders, Store};

/// SQL arguments, bound in order.
enum Arg {
    Text(String),
    Int(i64),
}

/// `WHERE` for the tenant's businesses (optionally one) and mode, numbering from $1.
fn tenant_clause(
    tenant: &Tenant,
    business: Option<&str>,
    table: &str,
    args: &mut Vec<Arg>,
) -> ApiResult<String> {
    if let Some(b) = business {
        if !tenant.owns(b) {
            return Err(ApiError::not_found("Business"));
        }
    }
    let ids: Vec<String> = match business {
        Some(b) => vec![b.to_string()],
        None => tenant.business_ids.clone(),
    };
    let start = args.len() + 1;
    let clause = format!(
        "{table}.business_id IN ({}) AND {table}.mode = ${}",
        placeholders(start, ids.len()),
        start + ids.len()
    );
    args.extend(ids.into_iter().map(Arg::Text));
    args.push(Arg::Text(tenant.mode.as_str().to_string()));
    Ok(clause)
}

fn push(sql: &mut String, args: &mut Vec<Arg>, clause: &str, arg: Arg) {
    args.push(arg);
    sql.push_str(&clause.replace('?', &format!("${}", args.len())));
}

async fn fetch(store: &Store, sql: &str, args: Vec<Arg>) -> sqlx::Result<Vec<sqlx::any::AnyRow>> {
    let mut query = sqlx::query(sql);
    for arg in args {
        query = match arg {
            Arg::Text(s) => query.bind(s),
            Arg::Int(i) => query.bind(i),
        };
    }
    query.fetch_all(&store.pool).await
}

#[derive(Deserialize, Default)]
pub struct EventsQuery {
    business_id: Option<String>,
    event_id: Option<String>,
    event_type: Option<String>,
    object_type: Option<String>,
    object_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
}

async fn find_events(
    store: &Store,
    tenant: &Tenant,
    q: &EventsQuery,
    limit: i64,
) -> ApiResult<Vec<Event>> {
    if tenant.business_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut args = vec![];
    let clause = tenant_clause(
        tenant,
        q.business_id.as_deref().filter(|b| !b.is_empty()),
        "events",
        &mut args,
    )?;
    let mut sql = format!("SELECT {COLUMNS} FROM events WHERE {clause}");
    let texts = [
        (" AND events.id = ?", &q.event_id),
        (" AND events.type = ?", &q.event_type),
        (" AND events.object_type = ?", &q.object_type),
        (" AND events.object_id = ?", &q.object_id),
    ];
    for (c, v) in texts {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            push(&mut sql, &mut args, c, Arg::Text(v.to_string()));
        }
    }
    if let Some(t) = parse_time("from", q.from.as_deref())? {
        push(
            &mut sql,
            &mut args,
            " AND events.created_at >= ?",
            Arg::Int(t.micros()),
        );
    }
    if let Some(t) = parse_time("to", q.to.as_deref())? {
        push(
            &mut sql,
            &mut args,
            " AND events.created_at <= ?",
            Arg::Int(t.micros()),
        );
    }
    push(
        &mut sql,
        &mut args,
        " ORDER BY events.created_at DESC, events.id DESC LIMIT ?",
        Arg::Int(limit),
    );
    Ok(fetch(store, &sql, args)
        .await?
        .iter()
        .map(from_row)
        .collect())
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth<EventsRead>,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Json<Value>> {
    let limit = parse_limit(q.limit.as_deref(), 50, 100)?;
    let mut events = find_events(&app.store, &auth.tenant, &q, limit + 1).await?;
    let has_more = events.len() as i64 > limit;
    events.truncate(limit as usize);
    let events: Vec<Value> = events.iter().map(Event::to_json).collect();
    Ok(Json(json!({ "events": events, "has_more": has_more })))
}

#[derive(Deserialize)]
pub struct DeliveriesQuery {
    business_id: Option<String>,
    event_id: Option<String>,
    webhook_id: Option<String>,
    call_id: Option<String>,
    status: Option<String>,
    limit: Option<String>,
}

pub async fn deliveries(
    State(app): State<AppState>,
    auth: Auth<EventsRead>,
    Query(q): Query<DeliveriesQuery>,
) -> ApiResult<Json<Value>> {
    let limit = parse_limit(q.limit.as_deref(), 50, 100)?;
    if auth.tenant.business_ids.is_empty() {
        return Ok(Json(json!({ "deliveries": [], "has_more": false })));
    }
    let mut args = vec![];
    let clause = tenant_clause(
        &auth.tenant,
        q.business_id.as_deref().filter(|b| !b.is_empty()),
        "d",
        &mut args,
    )?;
    let mut sql = format!(
        "SELECT d.id, d.event_id, e.type, d.webhook_id, d.subscription_id, d.call_id, d.url, d.status, d.attempts,
                d.last_status_code, d.last_error, d.next_attempt_at, d.created_at
         FROM deliveries d JOIN events e ON e.id = d.event_id WHERE {clause}"
    );
    if let Some(v) = q.event_id.as_deref().filter(|v| !v.is_empty()) {
        push(
            &mut sql,
            &mut args,
            " AND d.event_id = ?",
            Arg::Text(v.into()),
        );
    }
    if let Some(v) = q.call_id.as_deref().filter(|v| !v.is_empty()) {
        push(
            &mut sql,
            &mut args,
            " AND d.call_id = ?",
            Arg::Text(v.into()),
        );
    }
    if let Some(v) = q.webhook_id.as_deref().filter(|v| !v.is_empty()) {
        // A subscription's id, or a message's `webhook-id`.
        args.push(Arg::Text(v.into()));
        let n = args.len();
        sql.push_str(&format!(
            " AND (d.subscription_id = ${n} OR d.webhook_id = ${n})"
        ));
    }
    if let Some(v) = q.status.as_deref().filter(|v| !v.is_empty()) {
        if !["succeeded", "failed", "pending"].contains(&v) {
            return Err(ApiError::invalid(
                "status",
                "status must be succeeded, failed or pending",
            ));
        }
        push(
            &mut sql,
            &mut args,
            " AND d.status = ?",
            Arg::Text(v.into()),
        );
    }
    push(
        &mut sql,
        &mut args,
        " ORDER BY d.created_at DESC, d.id DESC LIMIT ?",
        Arg::Int(limit + 1),
    );
    let rows = fetch(&app.store, &sql, args).await?;
    let has_more = rows.len() as i64 > limit;
    let mut out = Vec::new();
    for r in rows.iter().take(limit as usize) {
        let id: String = r.get(0);
        let attempts = sqlx::query(
            "SELECT attempt, status_code, error, latency_ms, created_at FROM delivery_attempts
             WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(&id)
        .fetch_all(&app.store.pool)
        .await?
        .iter()
        .map(|a| {
            json!({
                "attempt": a.get::<i64, _>(0),
                "status_code": a.get::<Option<i64>, _>(1),
                "error": a.get::<Option<String>, _>(2),
                "latency_ms": a.get::<i64, _>(3),
                "created_at": Timestamp(a.get(4)).to_rfc3339(),
            })
        })
        .collect::<Vec<_>>();
        out.push(json!({
            "id": id,
            "event_id": r.get::<String, _>(1),
            "event_type": r.get::<String, _>(2),
            "webhook_id": r.get::<String, _>(3),
            "subscription_id": r.get::<Option<String>, _>(4),
            "call_id": r.get::<Option<String>, _>(5),
            "url": r.get::<String, _>(6),
            "status": r.get::<String, _>(7),
            "attempt_count": r.get::<i64, _>(8),
            "last_status_code": r.get::<Option<i64>, _>(9),
            "last_error": r.get::<Option<String>, _>(10),
            "next_attempt_at": r.get::<Option<i64>, _>(11).map(|t| Timestamp(t).to_rfc3339()),
            "created_at": Timestamp(r.get(12)).to_rfc3339(),
            "attempts": attempts,
        }));
    }
    Ok(Json(json!({ "deliveries": out, "has_more": has_more })))
}

#[derive(Deserialize)]
pub struct ReplayFilter {
    event_type: Option<String>,
    object_id: Option<String>,
}

#[derive(Deserialize)]
pub struct ReplayBody {
    business_id: Option<String>,
    event_id: Option<String>,
    event_ids: Option<Vec<String>>,
    filter: Option<ReplayFilter>,
}

const MAX_REPLAY: i64 = 1000;

/// Delivers events again to every target they went to, with the same `webhook-id`.
pub async fn replay(
    State(app): State<AppState>,
    auth: Auth<EventsReplay>,
    Json(body): Json<ReplayBody>,
) -> ApiResult<Json<Value>> {
    let mut ids: Vec<String> = body.event_ids.unwrap_or_default();
    ids.extend(body.event_id);
    let mut events = Vec::new();
    if !ids.is_empty() {
        for id in ids.iter().take(MAX_REPLAY as usize) {
            let q = EventsQuery {
                business_id: body.business_id.clone(),
                event_id: Some(id.clone()),
                ..Default::default()
            };
            let found = find_events(&app.store, &auth.tenant, &q, 1).await?;
            if found.is_empty() {
                return Err(ApiError::NotFound(format!("Event {id} not found")));
            }
            events.extend(found);
        }
    } else if let Some(filter) = body.filter {
        let q = EventsQuery {
            business_id: body.business_id.clone(),
            event_type: filter.event_type,
            object_id: filter.object_id,
            ..Default::default()
        };
        events = find_events(&app.store, &auth.tenant, &q, MAX_REPLAY).await?;
    } else {
        return Err(ApiError::invalid(
            "event_id",
            "give event_id, event_ids or filter",
        ));
    }

    let now = app.clock.now();
    let mut targets = Vec::new();
    for event in &events {
        let rows = sqlx::query(
            "SELECT DISTINCT call_id, subscription_id, url FROM deliveries WHERE event_id = $1",
        )
        .bind(&event.id)
        .fetch_all(&app.store.pool)
        .await?;
        for r in rows {
            targets.push((
                event.clone(),
                r.get::<Option<String>, _>(0),
                r.get::<Option<String>, _>(1),
                r.get::<String, _>(2),
            ));
        }
    }
    let mut tx = app.store.begin().await?;
    for (event, call_id, sub_id, url) in &targets {
        enqueue_delivery(
            &mut tx,
            event,
            call_id.as_deref(),
            sub_id.as_deref(),
            url,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(json!({
        "replayed": events.len(),
        "deliveries": targets.len(),
        "event_ids": events.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
    })))
}
