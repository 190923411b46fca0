//! The calls API: create, list, get (with long-poll `wait`), recordings, transcripts.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::create::{create_call, resume_call, CreateCallBody};
use super::idempotency::{self, Claim, Saved};
use super::repo::{self, ListFilter};
use super::{Call, CallDetail, CallList, CallStatus};
use crate::app::AppState;
use crate::auth::extract::{Auth, CallsRead, CallsWrite};
use crate::auth::Tenant;
use crate::clock::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::http::json::{parse_int, parse_limit, parse_time, require, Json, JsonWithBytes, Query};
use crate::usage::{UsageCallId, UsageRecorded};
use crate::voice::Turn;

/// `POST /api/v1/calls`.
pub async fn create(
    State(app): State<AppState>,
    auth: Auth<CallsWrite>,
    headers: HeaderMap,
    JsonWithBytes(body, raw): JsonWithBytes<CreateCallBody>,
) -> ApiResult<Response> {
    if let Some(url) = &body.webhook_url {
        app.check_webhook_target(auth.tenant.mode, "webhook_url", url.trim())?;
    }
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let key = v.to_str().unwrap_or("").trim().to_string();
            idempotency::validate_key(&key)?;
            let hash = crate::ids::sha256_hex(&String::from_utf8_lossy(&raw));
            let now = app.clock.now();
            let lease = app.idempotency_lease_secs;
            match idempotency::claim(&app.store, &auth.key_id, &key, &hash, now, lease).await? {
                Claim::New => Some((key, None)),
                Claim::Replay(saved) => return Ok(replay(saved)),
                Claim::Resume(call_id) => Some((key, Some(call_id))),
            }
        }
    };
    crate::fault::point("after-idempotency-claim");
    // Detached: if the client disconnects, the task still finishes the call it began.
    let (engine, key) = (app.engine.clone(), auth.0.clone());
    let task = match idempotency_key.clone() {
        Some((idem, Some(call_id))) => tokio::spawn(resume_call(engine, key, call_id, idem)),
        other => tokio::spawn(create_call(engine, key, body, other.map(|(idem, _)| idem))),
    };
    let idempotency_key = idempotency_key.map(|(idem, _)| idem);
    let outcome = task
        .await
        .map_err(|join| anyhow::anyhow!("call creation task failed: {join}"))?;
    match outcome {
        Ok(call) => {
            let mut response = (StatusCode::CREATED, Json(call.summary())).into_response();
            response.extensions_mut().insert(UsageRecorded);
            Ok(response)
        }
        Err(failure) => {
            if let Some(key) = &idempotency_key {
                remember_failure(&app, &auth.key_id, key, &failure.error).await;
            }
            let mut response = failure.error.into_response();
            if let Some(id) = failure.call_id {
                response.extensions_mut().insert(UsageCallId(id));
            }
            Ok(response)
        }
    }
}

/// A failed request's outcome is saved like a success (a retry gets the same
/// answer), except unexpected errors, which free the key for a retry. `call_failed`
/// was already saved with the failed call.
async fn remember_failure(app: &AppState, key_id: &str, key: &str, error: &ApiError) {
    let result = match error {
        ApiError::CallFailed(_) => Ok(()),
        ApiError::Internal(_) => idempotency::release(&app.store, key_id, key).await,
        other => {
            async {
                let mut tx = app.store.begin().await?;
                let saved = Saved {
                    status: other.status().as_u16(),
                    body: other.envelope().to_string(),
                };
                idempotency::save(&mut tx, key_id, key, &saved).await?;
                tx.commit().await
            }
            .await
        }
    };
    if let Err(err) = result {
        tracing::error!(error = %err, "saving an idempotent failure failed");
    }
}

fn replay(saved: Saved) -> Response {
    let call_id = serde_json::from_str::<Value>(&saved.body)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_string));
    let mut response = idempotency::replay(saved);
    if let Some(id) = call_id {
        response.extensions_mut().insert(UsageCallId(id));
    }
    response
}

/// `GET /api/v1/calls`: one call with `?id=`, else a page of them.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum CallOrList {
    Call(Box<CallDetail>),
    List(CallList),
}

#[derive(Deserialize)]
pub struct CallsQuery {
    id: Option<String>,
    wait: Option<String>,
    limit: Option<String>,
    agent_id: Option<String>,
    campaign_id: Option<String>,
    status: Option<String>,
    direction: Option<String>,
    after: Option<String>,
    created_after: Option<String>,
    created_before: Option<String>,
}

const MAX_WAIT_SECS: i64 = 60;
const WAIT_POLL: Duration = Duration::from_secs(5);

/// `GET /api/v1/calls` (list) and `GET /api/v1/calls?id=` (detail, optionally waiting
/// up to `wait` seconds for the call to finish).
pub async fn list_or_get(
    State(app): State<AppState>,
    auth: Auth<CallsRead>,
    Query(q): Query<CallsQuery>,
) -> ApiResult<Response> {
    // Checked with or without an id: a bad value is refused, not ignored.
    let wait = parse_int("wait", q.wait.as_deref(), 0..=MAX_WAIT_SECS)?.unwrap_or(0);
    if let Some(id) = q.id.as_deref() {
        let call = get_waiting(&app, &auth.tenant, id, Duration::from_secs(wait as u64)).await?;
        let events = repo::events(&app.store, &call.id).await?;
        let mut response = Json(CallOrList::Call(Box::new(call.detail(&events)))).into_response();
        response.extensions_mut().insert(UsageCallId(call.id));
        return Ok(response);
    }
    let limit = parse_limit(q.limit.as_deref(), 50, 100)?;
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(CallStatus::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "status",
                "status must be one of queued, ringing, in_progress, completed, failed, canceled",
            )
        })?),
    };
    let before = match q.after.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(a) => Some(Timestamp::parse(a).ok_or_else(|| {
            ApiError::invalid("after", "after must be the created_at of a previous result")
        })?),
    };
    let created_before = parse_time("created_before", q.created_before.as_deref())?;
    let direction = match q
        .direction
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(d @ ("inbound" | "outbound")) => Some(d.to_string()),
        Some(_) => {
            return Err(ApiError::invalid(
                "direction",
                "direction must be inbound or outbound",
            ))
        }
    };
    let filter = ListFilter {
        agent_id: q.agent_id.filter(|a| !a.is_empty()),
        campaign_id: q.campaign_id.filter(|c| !c.is_empty()),
        status,
        direction,
        // The page cursor and the range's end, whichever comes first.
        before: match (before, created_before) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
        since: parse_time("created_after", q.created_after.as_deref())?,
        limit,
        transcripts: false,
    };
    let mut calls = repo::list(&app.store, &auth.tenant, &filter).await?;
    let has_more = calls.len() as i64 > limit;
    calls.truncate(limit as usize);
    let calls = calls.iter().map(Call::summary).collect();
    Ok(Json(CallOrList::List(CallList { calls, has_more })).into_response())
}

/// The call, once it has ended or `wait` has passed: woken by its changes
/// (`wake::watch_call`), re-read at least every `WAIT_POLL` as the fallback. An idle
/// waiter is a parked task and a map entry.
async fn get_waiting(app: &AppState, tenant: &Tenant, id: &str, wait: Duration) -> ApiResult<Call> {
    let read = || async {
        repo::get(&app.store, tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("Call"))
    };
    if wait.is_zero() {
        return read().await;
    }
    let deadline = tokio::time::Instant::now() + wait;
    let watch = crate::wake::watch_call(id);
    loop {
        // Armed before the read, so a change between the two is not missed.
        let changed = watch.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let call = read().await?;
        let now = tokio::time::Instant::now();
        if call.status.is_terminal() || now >= deadline {
            return Ok(call);
        }
        let _ = tokio::time::timeout(WAIT_POLL.min(deadline - now), changed).await;
    }
}

#[derive(Deserialize)]
pub struct EndQuery {
    id: Option<String>,
}

/// `POST /api/v1/calls/end?id=`: hang up or cancel; a finished call is unchanged.
pub async fn end(
    State(app): State<AppState>,
    auth: Auth<CallsWrite>,
    Query(q): Query<EndQuery>,
) -> ApiResult<Response> {
    let id = require("id", q.id.as_deref())?;
    let call = repo::get(&app.store, &auth.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Call"))?;
    let engine = app.engine.clone();
    // Detached, like creation: a disconnecting client cannot cut the change in half.
    let call = tokio::spawn(async move { engine.end_call(call).await })
        .await
        .map_err(anyhow::Error::from)??;
    let events = repo::events(&app.store, &call.id).await?;
    let mut response = Json(call.detail(&events)).into_response();
    response.extensions_mut().insert(UsageCallId(call.id));
    Ok(response)
}

#[derive(Deserialize)]
pub struct TranscriptsQuery {
    limit: Option<String>,
    agent_id: Option<String>,
    after: Option<String>,
    days: Option<String>,
}

/// A completed call's transcript.
#[derive(Serialize, JsonSchema)]
pub struct Transcript {
    pub call_id: String,
    pub conversation_id: Option<String>,
    pub agent_id: String,
    pub agent_name: Option<String>,
    pub status: CallStatus,
    pub duration: Option<i64>,
    pub summary: Option<String>,
    pub transcript: Vec<Turn>,
    pub created_at: Timestamp,
}

#[derive(Serialize, JsonSchema)]
pub struct TranscriptList {
    pub transcripts: Vec<Transcript>,
    pub has_more: bool,
}

/// `GET /api/v1/transcripts`: completed calls' transcripts, newest first.
pub async fn transcripts(
    State(app): State<AppState>,
    auth: Auth<CallsRead>,
    Query(q): Query<TranscriptsQuery>,
) -> ApiResult<Json<TranscriptList>> {
    let limit = parse_limit(q.limit.as_deref(), 50, 100)?;
    let since = parse_int("days", q.days.as_deref(), 1..=3650)?
        .map(|days| Timestamp(app.clock.now().micros() - days * 86_400_000_000));
    let before = parse_time("after", q.after.as_deref())?;
    let filter = ListFilter {
        agent_id: q.agent_id.filter(|a| !a.is_empty()),
        campaign_id: None,
        status: Some(CallStatus::Completed),
        direction: None,
        before,
        since,
        limit,
        transcripts: true,
    };
    let mut calls = repo::list(&app.store, &auth.tenant, &filter).await?;
    let has_more = calls.len() as i64 > limit;
    calls.truncate(limit as usize);
    let transcripts = calls
        .into_iter()
        .map(|c| Transcript {
            call_id: c.id,
            conversation_id: c.conversation_id,
            agent_id: c.agent_id,
            agent_name: c.agent_name,
            status: c.status,
            duration: c.duration,
            summary: c.summary,
            transcript: c.transcript.unwrap_or_default(),
            created_at: c.created_at,
        })
        .collect();
    Ok(Json(TranscriptList {
        transcripts,
        has_more,
    }))
}
