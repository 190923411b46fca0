//! `GET /api/v1/events`, `GET /api/v1/event-deliveries` (every attempt) and
//! `POST /api/v1/events/replay`.

use axum::extract::State;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{enqueue_delivery, from_row, Event, COLUMNS};
use crate::app::AppState;
use crate::auth::extract::{Auth, EventsRead, EventsReplay};
use crate::auth::Tenant;
use crate::clock::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::http::json::{parse_limit, parse_time, Json, Query};
use crate::store::sql::Sql;
use crate::store::Store;

/// Scopes `sql` to the tenant's businesses (or the one asked for, if the tenant owns
/// it) and mode.
fn scope(sql: &mut Sql, tenant: &Tenant, business: Option<&str>, table: &str) -> ApiResult<()> {
    let ids = match business.filter(|b| !b.is_empty()) {
        Some(b) if tenant.owns(b) => vec![b.to_string()],
        Some(_) => return Err(ApiError::not_found("Business")),
        None => tenant.business_ids.clone(),
    };
    sql.push_list(&format!(" WHERE {table}.business_id IN (?)"), &ids)
        .push(&format!(" AND {table}.mode = ?"), tenant.mode.as_str());
    Ok(())
}

fn non_empty(v: &Option<String>) -> Option<&String> {
    v.as_ref().filter(|v| !v.is_empty())
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
    let mut sql = Sql::new(format!("SELECT {COLUMNS} FROM events"));
    scope(&mut sql, tenant, q.business_id.as_deref(), "events")?;
    sql.push_opt(" AND events.id = ?", non_empty(&q.event_id))
        .push_opt(" AND events.type = ?", non_empty(&q.event_type))
        .push_opt(" AND events.object_type = ?", non_empty(&q.object_type))
        .push_opt(" AND events.object_id = ?", non_empty(&q.object_id))
        .push_opt(
            " AND events.created_at >= ?",
            parse_time("from", q.from.as_deref())?.map(Timestamp::micros),
        )
        .push_opt(
            " AND events.created_at <= ?",
            parse_time("to", q.to.as_deref())?.map(Timestamp::micros),
        )
        .push(
            " ORDER BY events.created_at DESC, events.id DESC LIMIT ?",
            limit,
        );
    Ok(sql
        .query()
        .fetch_all(store.reader())
        .await?
        .iter()
        .map(from_row)
        .collect::<sqlx::Result<_>>()?)
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth<EventsRead>,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Json<EventList>> {
    let limit = parse_limit(q.limit.as_deref(), 50, 100)?;
    let mut events = find_events(&app.store, &auth.tenant, &q, limit + 1).await?;
    let has_more = events.len() as i64 > limit;
    events.truncate(limit as usize);
    Ok(Json(EventList { events, has_more }))
}

#[derive(Serialize, JsonSchema)]
pub struct EventList {
    pub events: Vec<Event>,
    pub has_more: bool,
}

/// One webhook delivery of one event to one target, with every attempt.
#[derive(Serialize, JsonSchema)]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    /// The message's `webhook-id` header (the same on every attempt and replay).
    pub webhook_id: String,
    pub subscription_id: Option<String>,
    pub call_id: Option<String>,
    pub url: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub attempt_count: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub attempts: Vec<Attempt>,
}

#[derive(Serialize, JsonSchema)]
pub struct Attempt {
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub created_at: Timestamp,
}

#[derive(Serialize, JsonSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<Delivery>,
    pub has_more: bool,
}

/// `POST /api/v1/events/replay`.
#[derive(Serialize, JsonSchema)]
pub struct Replayed {
    /// Events replayed.
    pub replayed: usize,
    /// Deliveries queued (one per target each event went to).
    pub deliveries: usize,
    pub event_ids: Vec<String>,
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
) -> ApiResult<Json<DeliveryList>> {
    let limit = parse_limit(q.limit.as_deref(), 50, 100)?;
    let mut sql = Sql::new(
        "SELECT d.id, d.event_id, e.type, d.webhook_id, d.subscription_id, d.call_id, d.url, d.status, d.attempts,
                d.last_status_code, d.last_error, d.next_attempt_at, d.created_at
         FROM deliveries d JOIN events e ON e.id = d.event_id",
    );
    scope(&mut sql, &auth.tenant, q.business_id.as_deref(), "d")?;
    sql.push_opt(" AND d.event_id = ?", non_empty(&q.event_id))
        .push_opt(" AND d.call_id = ?", non_empty(&q.call_id));
    if let Some(v) = non_empty(&q.webhook_id) {
        // A subscription's id, or a message's `webhook-id`.
        sql.push(" AND (d.subscription_id = ?", v)
            .push(" OR d.webhook_id = ?)", v);
    }
    if let Some(v) = non_empty(&q.status) {
        if !["succeeded", "failed", "pending"].contains(&v.as_str()) {
            return Err(ApiError::invalid(
                "status",
                "status must be succeeded, failed or pending",
            ));
        }
        sql.push(" AND d.status = ?", v);
    }
    sql.push(" ORDER BY d.created_at DESC, d.id DESC LIMIT ?", limit + 1);
    let rows = sql.query().fetch_all(app.store.reader()).await?;
    let has_more = rows.len() as i64 > limit;
    let mut out = Vec::new();
    for r in rows.iter().take(limit as usize) {
        let id: String = r.get(0);
        let attempts = sqlx::query(
            "SELECT attempt, status_code, error, latency_ms, created_at FROM delivery_attempts
             WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(&id)
        .fetch_all(app.store.reader())
        .await?
        .iter()
        .map(|a| Attempt {
            attempt: a.get(0),
            status_code: a.get(1),
            error: a.get(2),
            latency_ms: a.get(3),
            created_at: Timestamp(a.get(4)),
        })
        .collect();
        out.push(Delivery {
            id,
            event_id: r.get(1),
            event_type: r.get(2),
            webhook_id: r.get(3),
            subscription_id: r.get(4),
            call_id: r.get(5),
            url: r.get(6),
            status: r.get(7),
            attempt_count: r.get(8),
            last_status_code: r.get(9),
            last_error: r.get(10),
            next_attempt_at: r.get::<Option<i64>, _>(11).map(Timestamp),
            created_at: Timestamp(r.get(12)),
            attempts,
        });
    }
    Ok(Json(DeliveryList {
        deliveries: out,
        has_more,
    }))
}

#[derive(Deserialize, JsonSchema)]
pub struct ReplayFilter {
    event_type: Option<String>,
    object_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "Replay")]
pub struct ReplayBody {
    business_id: Option<String>,
    event_id: Option<String>,
    event_ids: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::http::json::object")]
    filter: Option<ReplayFilter>,
}

const MAX_REPLAY: i64 = 1000;

/// Delivers events again to every target they went to, with the same `webhook-id`.
pub async fn replay(
    State(app): State<AppState>,
    auth: Auth<EventsReplay>,
    Json(body): Json<ReplayBody>,
) -> ApiResult<Json<Replayed>> {
    let mut ids: Vec<String> = body.event_ids.unwrap_or_default();
    ids.extend(body.event_id);
    if ids.iter().any(|id| id.trim().is_empty()) {
        return Err(ApiError::invalid("event_id", "event ids must not be empty"));
    }
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
        .fetch_all(app.store.reader())
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
    Ok(Json(Replayed {
        replayed: events.len(),
        deliveries: targets.len(),
        event_ids: events.iter().map(|e| e.id.clone()).collect(),
    }))
}
