//! `GET /api/v1/events/stream`: the durable event log as Server-Sent Events, live.
//!
//! Every SSE message is one event (`id:` its event id, `event:` its type, `data:` the
//! event as `/events` shows it). A client that reconnects with `Last-Event-ID` gets
//! every later event of its tenant exactly once, in commit order, then the live ones.
//!
//! Commit order is what makes resumption exact. Events carry a [`Position`]: on
//! SQLite the `rowid` (one writer connection commits one transaction at a time, so
//! rowids grow in commit order); on PostgreSQL the writing transaction's id and a
//! sequence (migration 7), read only below the reading snapshot's `xmin` — every
//! transaction there has finished, so what a read returns is a prefix of the history
//! that no later commit can extend before its end. Reading "after position P" twice
//! therefore never skips and never repeats.
//!
//! One reader per process (the [`Hub`]'s pump, started by the first stream) reads new
//! events after each commit (`wake::events`, or a 1 s fallback) and broadcasts them;
//! each stream filters them for its tenant, mode, types and call. A stream first
//! catches up from the database (its `Last-Event-ID`, or the head when it connects),
//! then takes the broadcast, skipping what it already sent; a stream that falls
//! behind the broadcast catches up from the database again. An idle stream is a
//! parked future and a broadcast receiver: about nothing. A stream ends when its key
//! is revoked or expires (within a second) or its session ends (within a heartbeat
//! interval).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sqlx::any::AnyRow;
use tokio::sync::{broadcast, watch, OnceCell};

use super::{from_row, Event, COLUMNS, EVENT_TYPES};
use crate::app::AppState;
use crate::auth::api_key::Mode;
use crate::auth::extract::{EventsRead, KeyOrSession};
use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::http::json::Query;
use crate::store::row::Columns;
use crate::store::sql::Sql;
use crate::store::{Dialect, Store};

/// Where an event sits in commit order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    tx: i64,
    seq: i64,
}

/// An event with its position, as the pump broadcasts it.
#[derive(Debug)]
pub struct Positioned {
    pub at: Position,
    pub event: Event,
}

/// Rows read per query, by the pump and by a stream catching up.
const PAGE: i64 = 500;
/// How long the pump sleeps without a commit signal before it looks anyway (commits
/// of another instance on SQLite cannot happen; a lost signal can).
const FALLBACK_POLL: Duration = Duration::from_secs(1);
/// Events the broadcast holds for streams that read slower than events arrive;
/// beyond it a stream catches up from the database.
const BROADCAST: usize = 4096;

fn position_columns(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "0 AS stream_tx, events.rowid AS stream_seq",
        Dialect::Postgres => "events.tx AS stream_tx, events.seq AS stream_seq",
    }
}

/// `AND` the events after `at` that no later commit can precede.
fn push_after(sql: &mut Sql, dialect: Dialect, at: Position) {
    match dialect {
        Dialect::Sqlite => {
            sql.push(" AND events.rowid > ?", at.seq);
        }
        Dialect::Postgres => {
            sql.push(" AND (events.tx > ?", at.tx)
                .push(" OR (events.tx = ?", at.tx)
                .push(" AND events.seq > ?))", at.seq)
                .text(" AND events.tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint");
        }
    }
}

fn order(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => " ORDER BY events.rowid",
        Dialect::Postgres => " ORDER BY events.tx, events.seq",
    }
}

fn positioned(row: &AnyRow) -> sqlx::Result<Positioned> {
    Ok(Positioned {
        at: position(row)?,
        event: from_row(row)?,
    })
}

/// The position of the last event every later read will see after.
async fn head(store: &Store) -> sqlx::Result<Position> {
    let sql = match store.dialect {
        Dialect::Sqlite => {
            "SELECT 0 AS stream_tx, events.rowid AS stream_seq FROM events
             ORDER BY events.rowid DESC LIMIT 1"
        }
        Dialect::Postgres => {
            "SELECT events.tx AS stream_tx, events.seq AS stream_seq FROM events
             WHERE events.tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
             ORDER BY events.tx DESC, events.seq DESC LIMIT 1"
        }
    };
    match sqlx::query(sql).fetch_optional(store.reader()).await? {
        Some(row) => position(&row),
        None => Ok(Position::default()),
    }
}

fn position(row: &AnyRow) -> sqlx::Result<Position> {
    let r = Columns(row);
    Ok(Position {
        tx: r.get("stream_tx")?,
        seq: r.get("stream_seq")?,
    })
}

/// Up to [`PAGE`] events after `at`, in commit order; with a filter, only its events.
async fn read_after(
    store: &Store,
    at: Position,
    filter: Option<&Filter>,
) -> sqlx::Result<Vec<Positioned>> {
    let mut sql = Sql::new(format!(
        "SELECT {COLUMNS}, {} FROM events WHERE 1 = 1",
        position_columns(store.dialect)
    ));
    if let Some(filter) = filter {
        filter.push_sql(&mut sql);
    }
    push_after(&mut sql, store.dialect, at);
    sql.text(order(store.dialect)).push(" LIMIT ?", PAGE);
    sql.query()
        .fetch_all(store.reader())
        .await?
        .iter()
        .map(positioned)
        .collect()
}

/// The process's one reader of new events, shared by every open stream.
pub struct Hub {
    store: Store,
    sender: broadcast::Sender<Arc<Positioned>>,
    started: OnceCell<()>,
    closing: watch::Sender<bool>,
    heartbeat: Duration,
}

impl Hub {
    pub fn new(store: Store, heartbeat: Duration) -> Arc<Hub> {
        Arc::new(Hub {
            store,
            sender: broadcast::channel(BROADCAST).0,
            started: OnceCell::new(),
            closing: watch::channel(false).0,
            heartbeat,
        })
    }

    /// Ends every open stream (the server is shutting down) and stops the pump.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// A receiver of every event the pump reads from now on. The pump starts with the
    /// first subscriber, at the head read before this returns: whatever a subscriber
    /// then reads from the database and whatever the pump broadcasts leave no gap.
    async fn subscribe(self: &Arc<Self>) -> sqlx::Result<broadcast::Receiver<Arc<Positioned>>> {
        let receiver = self.sender.subscribe();
        self.started
            .get_or_try_init(|| async {
                let start = head(&self.store).await?;
                tokio::spawn(self.clone().pump(start));
                Ok::<(), sqlx::Error>(())
            })
            .await?;
        Ok(receiver)
    }

    async fn pump(self: Arc<Self>, mut at: Position) {
        let mut closing = self.closing.subscribe();
        loop {
            match read_after(&self.store, at, None).await {
                Ok(page) => {
                    let full = page.len() as i64 == PAGE;
                    for item in page {
                        at = item.at;
                        // No receiver is fine: nobody is listening right now.
                        let _ = self.sender.send(Arc::new(item));
                    }
                    if full {
                        continue;
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "event stream: reading new events failed; retrying");
                }
            }
            tokio::select! {
                () = crate::wake::events() => {}
                () = tokio::time::sleep(FALLBACK_POLL) => {}
                _ = closing.wait_for(|closed| *closed) => return,
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct StreamQuery {
    business_id: Option<String>,
    /// Comma-separated event types.
    event_type: Option<String>,
    call_id: Option<String>,
    /// Sessions only: `live` (default) or `test`.
    mode: Option<String>,
}

/// What one stream shows: its tenant's businesses and mode, and the filters asked for.
#[derive(Debug, Clone)]
struct Filter {
    business_ids: Vec<String>,
    mode: Mode,
    types: Vec<String>,
    call_id: Option<String>,
}

impl Filter {
    fn new(tenant: &Tenant, q: &StreamQuery) -> ApiResult<Filter> {
        let business_ids = match q.business_id.as_deref().filter(|b| !b.is_empty()) {
            Some(b) if tenant.owns(b) => vec![b.to_string()],
            Some(_) => return Err(ApiError::not_found("Business")),
            None => tenant.business_ids.clone(),
        };
        let types: Vec<String> = q
            .event_type
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        if let Some(bad) = types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
            return Err(ApiError::invalid(
                "event_type",
                format!(
                    "Unknown event type '{bad}'; known types: {}",
                    EVENT_TYPES.join(", ")
                ),
            ));
        }
        Ok(Filter {
            business_ids,
            mode: tenant.mode,
            types,
            call_id: q.call_id.clone().filter(|c| !c.is_empty()),
        })
    }

    fn push_sql(&self, sql: &mut Sql) {
        sql.push_list(" AND events.business_id IN (?)", &self.business_ids)
            .push(" AND events.mode = ?", self.mode.as_str());
        if !self.types.is_empty() {
            sql.push_list(" AND events.type IN (?)", &self.types);
        }
        if let Some(call_id) = &self.call_id {
            sql.push(
                " AND events.object_type = 'call' AND events.object_id = ?",
                call_id,
            );
        }
    }

    fn wants(&self, event: &Event) -> bool {
        self.business_ids.contains(&event.business_id)
            && event.mode == self.mode
            && (self.types.is_empty() || self.types.contains(&event.kind))
            && self
                .call_id
                .as_ref()
                .is_none_or(|c| event.object_type == "call" && &event.object_id == c)
    }
}

/// The position of the event a reconnecting client saw last, if it is the tenant's.
async fn position_of(store: &Store, filter: &Filter, event_id: &str) -> ApiResult<Position> {
    let mut sql = Sql::new(format!(
        "SELECT {} FROM events WHERE 1 = 1",
        position_columns(store.dialect)
    ));
    sql.push(" AND events.id = ?", event_id)
        .push_list(" AND events.business_id IN (?)", &filter.business_ids)
        .push(" AND events.mode = ?", filter.mode.as_str());
    match sql.query().fetch_optional(store.reader()).await? {
        Some(row) => Ok(position(&row)?),
        None => Err(ApiError::invalid(
            "Last-Event-ID",
            format!(
                "No event '{event_id}' among yours: reconnect without Last-Event-ID to start from now"
            ),
        )),
    }
}

/// What the stream was opened with, checked again while it stays open: a revoked
/// or expired key ends its streams within a second, a signed-out session within a
/// heartbeat interval.
enum Credential {
    Key { id: String, epoch: u64 },
    Session { id: String },
}

/// How often a key's streams look at the key epoch (an atomic load).
const KEY_CHECK: Duration = Duration::from_secs(1);

impl Credential {
    /// Whether the credential still holds; `due_full` forces a database check.
    async fn holds(&mut self, store: &Store, now: crate::clock::Timestamp, due_full: bool) -> bool {
        match self {
            Credential::Key { id, epoch } => {
                let current = crate::wake::keys_epoch();
                if current == *epoch && !due_full {
                    return true;
                }
                *epoch = current;
                let row = sqlx::query(
                    "SELECT 1 FROM api_keys WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
                )
                .bind(id.as_str())
                .bind(now.micros())
                .fetch_optional(store.reader())
                .await;
                // A database that does not answer ends nothing: the next check asks again.
                !matches!(row, Ok(None))
            }
            Credential::Session { id } => {
                if !due_full {
                    return true;
                }
                let row = sqlx::query("SELECT 1 FROM sessions WHERE id = $1 AND expires_at > $2")
                    .bind(id.as_str())
                    .bind(now.micros())
                    .fetch_optional(store.reader())
                    .await;
                !matches!(row, Ok(None))
            }
        }
    }
}

/// The latest event this stream would have shown at or before `at` (by creation
/// time, which an index serves; an event committed out of that order may then come
/// again after a resume, never go missing).
async fn last_shown_before(
    store: &Store,
    filter: &Filter,
    at: Position,
) -> sqlx::Result<Option<String>> {
    let mut sql = Sql::new("SELECT events.id FROM events WHERE 1 = 1");
    filter.push_sql(&mut sql);
    match store.dialect {
        Dialect::Sqlite => {
            sql.push(" AND events.rowid <= ?", at.seq);
        }
        Dialect::Postgres => {
            sql.push(" AND (events.tx < ?", at.tx)
                .push(" OR (events.tx = ?", at.tx)
                .push(" AND events.seq <= ?))", at.seq);
        }
    }
    sql.text(" ORDER BY events.created_at DESC LIMIT 1");
    sql.query()
        .fetch_optional(store.reader())
        .await?
        .map(|row| Columns(&row).get("id"))
        .transpose()
}

/// One stream's progress: what it has sent up to, and what it holds to send.
struct Cursor {
    credential: Credential,
    clock: crate::clock::SharedClock,
    /// When the credential is next checked, and when next against the database.
    next_check: tokio::time::Instant,
    next_full_check: tokio::time::Instant,
    hub: Arc<Hub>,
    filter: Filter,
    at: Position,
    /// Catch up from the database before taking the broadcast again.
    behind: bool,
    ready: VecDeque<Arc<Positioned>>,
    receiver: broadcast::Receiver<Arc<Positioned>>,
    closing: watch::Receiver<bool>,
}

impl Cursor {
    /// The next event to send; `None` when the server shuts down. A database error
    /// while catching up ends the stream: the client reconnects with its last id.
    async fn next(&mut self) -> Option<Arc<Positioned>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            if self.behind {
                let page = match read_after(&self.hub.store, self.at, Some(&self.filter)).await {
                    Ok(page) => page,
                    Err(err) => {
                        tracing::warn!(error = %err, "event stream: catching up failed; ending the stream");
                        return None;
                    }
                };
                self.behind = page.len() as i64 == PAGE;
                if let Some(last) = page.last() {
                    self.at = last.at;
                }
                self.ready.extend(page.into_iter().map(Arc::new));
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep_until(self.next_check) => {
                    let now = tokio::time::Instant::now();
                    let full = now >= self.next_full_check;
                    if !self.credential.holds(&self.hub.store, self.clock.now(), full).await {
                        return None;
                    }
                    self.next_check = now + KEY_CHECK;
                    if full {
                        self.next_full_check = now + self.hub.heartbeat;
                    }
                }
                received = self.receiver.recv() => match received {
                    Ok(item) => {
                        if item.at > self.at {
                            self.at = item.at;
                            if self.filter.wants(&item.event) {
                                return Some(item);
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => self.behind = true,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                () = closed(&mut self.closing) => return None,
            }
        }
    }
}

/// Resolves when the hub closes (the guard `wait_for` answers stays in here).
async fn closed(closing: &mut watch::Receiver<bool>) {
    let _ = closing.wait_for(|closed| *closed).await;
}

fn last_event_id(headers: &HeaderMap) -> ApiResult<Option<String>> {
    match headers.get("last-event-id") {
        None => Ok(None),
        Some(value) => {
            let id = value
                .to_str()
                .map_err(|_| ApiError::invalid("Last-Event-ID", "Last-Event-ID must be text"))?
                .trim();
            Ok((!id.is_empty()).then(|| id.to_string()))
        }
    }
}

/// `GET /api/v1/events/stream`.
pub async fn stream(
    State(app): State<AppState>,
    caller: KeyOrSession<EventsRead>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> ApiResult<Response> {
    let mut tenant = caller.tenant().clone();
    match (
        q.mode.as_deref().filter(|m| !m.is_empty()),
        caller.is_session(),
    ) {
        (None, _) => {}
        (Some(mode), true) => {
            tenant.mode = Mode::parse(mode)
                .ok_or_else(|| ApiError::invalid("mode", "mode must be live or test"))?;
        }
        (Some(mode), false) if Mode::parse(mode) == Some(tenant.mode) => {}
        (Some(_), false) => {
            return Err(ApiError::invalid(
                "mode",
                format!(
                    "A kc_{0}_ key streams {0}-mode events only",
                    tenant.mode.as_str()
                ),
            ))
        }
    }
    let filter = Filter::new(&tenant, &q)?;
    let hub = app.events.clone();
    let receiver = hub.subscribe().await?;
    let resumed = last_event_id(&headers)?;
    let (at, start_id) = match resumed {
        Some(id) => (position_of(&app.store, &filter, &id).await?, Some(id)),
        None => {
            let at = head(&app.store).await?;
            (at, last_shown_before(&app.store, &filter, at).await?)
        }
    };
    let credential = match &caller {
        KeyOrSession::Key(key) => Credential::Key {
            id: key.key_id.clone(),
            epoch: crate::wake::keys_epoch(),
        },
        KeyOrSession::Session(session) => Credential::Session {
            id: session.session_id.clone(),
        },
    };
    let now = tokio::time::Instant::now();
    let cursor = Cursor {
        credential,
        clock: app.clock.clone(),
        next_check: now + KEY_CHECK,
        next_full_check: now + hub.heartbeat,
        closing: hub.closing.subscribe(),
        hub: hub.clone(),
        filter,
        at,
        behind: true,
        ready: VecDeque::new(),
        receiver,
    };
    let events = futures_util::stream::unfold(cursor, |mut cursor| async move {
        let item = cursor.next().await?;
        let data = serde_json::to_string(&item.event).expect("an event serializes");
        let message = SseEvent::default()
            .id(item.event.id.clone())
            .event(item.event.kind.clone())
            .data(data);
        Some((Ok::<_, Infallible>(message), cursor))
    });
    // The opening message carries, as its `id`, the stream's starting point (the
    // last event of this stream at or before it): a client that loses the connection
    // before the first event resumes from there with `Last-Event-ID` and misses
    // nothing. (Browsers' EventSource takes an id from a message without data.)
    let opened = futures_util::stream::once(async move {
        let mut opening = SseEvent::default().retry(Duration::from_secs(2));
        if let Some(id) = start_id {
            opening = opening.id(id);
        }
        Ok::<_, Infallible>(opening.comment("connected"))
    });
    use futures_util::StreamExt;
    Ok(Sse::new(opened.chain(events))
        .keep_alive(KeepAlive::new().interval(hub.heartbeat).text("heartbeat"))
        .into_response())
}
