//! The calls' SQL. Reads through the API are tenant-scoped (`Tenant`); the engine's
//! reads are by id, inside the transaction that changes the call.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{Call, CallEvent, CallStatus, EndedReason};
use crate::auth::api_key::Mode;
use crate::auth::Tenant;
use crate::clock::Timestamp;
use crate::ids;
use crate::store::row::Columns;
use crate::store::sql::Sql;
use crate::store::{Store, Tx};

const COLUMNS: &str = "c.id, c.business_id, c.agent_id, ag.name AS agent_name, c.lead_id, c.key_id, c.mode, c.status, c.direction,
    c.to_number, c.from_number, c.name, c.context, c.first_message, c.max_duration, c.webhook_url, c.webhook_events,
    c.metadata, c.variables, c.provider, c.conversation_id, c.ended_reason, c.provider_ended_reason, c.error,
    c.duration, c.summary, c.transcript, c.recording_source, c.recording_url, c.quality_dimensions, c.cost_cents,
    c.scheduled_at, c.started_at, c.ended_at, c.created_at, c.updated_at, c.provider_control_url, c.recording_key, c.outcome, c.opt_out, c.compliance, c.answered_by, c.voicemail_left, c.campaign_id, c.handling, c.lead_created, c.transfer_destination";

const FROM: &str = "FROM calls c LEFT JOIN agents ag ON ag.id = c.agent_id";

fn from_row(row: &AnyRow) -> sqlx::Result<Call> {
    let r = Columns(row);
    Ok(Call {
        id: r.get("id")?,
        business_id: r.get("business_id")?,
        agent_id: r.get("agent_id")?,
        agent_name: r.get("agent_name")?,
        lead_id: r.get("lead_id")?,
        key_id: r.get("key_id")?,
        mode: r.parsed("mode", Mode::parse)?,
        status: r.parsed("status", CallStatus::parse)?,
        direction: r.get("direction")?,
        to: r.get("to_number")?,
        from: r.get("from_number")?,
        name: r.get("name")?,
        context: r.get("context")?,
        first_message: r.get("first_message")?,
        max_duration: r.get("max_duration")?,
        webhook_url: r.get("webhook_url")?,
        webhook_events: r.json("webhook_events")?,
        metadata: r.json_opt("metadata")?,
        variables: r.json("variables")?,
        provider: r.get("provider")?,
        conversation_id: r.get("conversation_id")?,
        ended_reason: r.parsed_opt("ended_reason", EndedReason::parse)?,
        provider_ended_reason: r.get("provider_ended_reason")?,
        error: r.get("error")?,
        duration: r.get("duration")?,
        summary: r.get("summary")?,
        transcript: r.json_opt("transcript")?,
        recording_source: r.get("recording_source")?,
        recording_url: r.get("recording_url")?,
        quality_dimensions: r.json_opt("quality_dimensions")?,
        cost_cents: r.get("cost_cents")?,
        scheduled_at: r.time_opt("scheduled_at")?,
        started_at: r.time_opt("started_at")?,
        ended_at: r.time_opt("ended_at")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        control_url: r.get("provider_control_url")?,
        recording_key: r.get("recording_key")?,
        outcome: r.get("outcome")?,
        opt_out: r.get::<i64>("opt_out")? != 0,
        compliance: r.json_opt("compliance")?,
        answered_by: r.get("answered_by")?,
        voicemail_left: r.get::<i64>("voicemail_left")? != 0,
        campaign_id: r.get("campaign_id")?,
        handling: r.get("handling")?,
        lead_created: r.get::<i64>("lead_created")? != 0,
        transfer_destination: r.get("transfer_destination")?,
    })
}

fn to_json_text<T: serde::Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref().and_then(|v| serde_json::to_string(v).ok())
}

pub async fn insert(tx: &mut Tx, call: &Call) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO calls (id, business_id, agent_id, lead_id, key_id, mode, status, direction, to_number, from_number,
            name, context, first_message, max_duration, webhook_url, webhook_events, metadata, variables, provider,
            conversation_id, recording_source, scheduled_at, created_at, updated_at, compliance, campaign_id,
            handling, lead_created, provider_control_url)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)",
    )
    .bind(&call.id)
    .bind(&call.business_id)
    .bind(&call.agent_id)
    .bind(&call.lead_id)
    .bind(&call.key_id)
    .bind(call.mode.as_str())
    .bind(call.status.as_str())
    .bind(&call.direction)
    .bind(&call.to)
    .bind(&call.from)
    .bind(&call.name)
    .bind(&call.context)
    .bind(&call.first_message)
    .bind(call.max_duration)
    .bind(&call.webhook_url)
    .bind(serde_json::to_string(&call.webhook_events).unwrap_or_else(|_| "[]".into()))
    .bind(to_json_text(&call.metadata))
    .bind(call.variables.to_string())
    .bind(&call.provider)
    .bind(&call.conversation_id)
    .bind(&call.recording_source)
    .bind(call.scheduled_at.map(Timestamp::micros))
    .bind(call.created_at.micros())
    .bind(call.updated_at.micros())
    .bind(call.compliance.as_ref().map(Value::to_string))
    .bind(&call.campaign_id)
    .bind(&call.handling)
    .bind(i64::from(call.lead_created))
    .bind(&call.control_url)
    .execute(&mut **tx)
    .await?;
    insert_event(tx, &call.id, call.status, call.created_at).await
}

pub async fn insert_event(
    tx: &mut Tx,
    call_id: &str,
    status: CallStatus,
    at: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO call_events (id, call_id, status, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(ids::new_id())
    .bind(call_id)
    .bind(status.as_str())
    .bind(at.micros())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A timeline entry beyond a status change (a tool the agent used, a transfer).
pub async fn insert_note(
    tx: &mut Tx,
    call_id: &str,
    status: CallStatus,
    kind: &str,
    data: &Value,
    at: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO call_events (id, call_id, status, created_at, kind, data) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ids::new_id())
    .bind(call_id)
    .bind(status.as_str())
    .bind(at.micros())
    .bind(kind)
    .bind(data.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes every mutable column of `call`, but only if the stored status is still
/// `expected`: the optimistic guard that keeps concurrent workers from both moving
/// one call. Returns false when another writer got there first. Commit with
/// [`commit_changed`], which wakes the call's waiters once the change is visible.
pub async fn save_state(tx: &mut Tx, call: &Call, expected: CallStatus) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE calls SET status = $1, conversation_id = $2, ended_reason = $3, provider_ended_reason = $4,
            error = $5, duration = $6, summary = $7, transcript = $8, recording_url = $9,
            quality_dimensions = $10, cost_cents = $11, started_at = $12, ended_at = $13, updated_at = $14,
            provider_control_url = $17, recording_key = $18, recording_source = $19, outcome = $20, opt_out = $21,
            answered_by = $22, voicemail_left = $23, transfer_destination = COALESCE($24, transfer_destination)
         WHERE id = $15 AND status = $16",
    )
    .bind(call.status.as_str())
    .bind(&call.conversation_id)
    .bind(call.ended_reason.map(|r| r.as_str().to_string()))
    .bind(&call.provider_ended_reason)
    .bind(&call.error)
    .bind(call.duration)
    .bind(&call.summary)
    .bind(to_json_text(&call.transcript))
    .bind(&call.recording_url)
    .bind(to_json_text(&call.quality_dimensions))
    .bind(call.cost_cents)
    .bind(call.started_at.map(Timestamp::micros))
    .bind(call.ended_at.map(Timestamp::micros))
    .bind(call.updated_at.micros())
    .bind(&call.id)
    .bind(expected.as_str())
    .bind(&call.control_url)
    .bind(&call.recording_key)
    .bind(&call.recording_source)
    .bind(&call.outcome)
    .bind(i64::from(call.opt_out))
    .bind(&call.answered_by)
    .bind(i64::from(call.voicemail_left))
    .bind(&call.transfer_destination)
    .execute(&mut **tx)
    .await?;
    let saved = done.rows_affected() == 1;
    if saved {
        metrics::counter!("kaicalls_call_transitions_total", "status" => call.status.as_str())
            .increment(1);
    }
    Ok(saved)
}

/// Moves a waiting call's time (a scheduled call held to calling hours).
pub async fn set_scheduled_at(
    tx: &mut Tx,
    call_id: &str,
    at: Timestamp,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE calls SET scheduled_at = $1, updated_at = $2 WHERE id = $3 AND status = 'queued'",
    )
    .bind(at.micros())
    .bind(now.micros())
    .bind(call_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Commits a transaction that changed call `call_id`, then wakes whoever waits for
/// that call (`wake::call_changed`): after the commit, so the readers they use see it.
pub async fn commit_changed(tx: Tx, call_id: &str) -> sqlx::Result<()> {
    tx.commit().await?;
    crate::wake::call_changed(call_id);
    Ok(())
}

/// The call by id, unscoped: for the engine, which acts on behalf of no tenant.
pub async fn get_by_id(conn: &mut AnyConnection, id: &str) -> sqlx::Result<Option<Call>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} {FROM} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The call, if the tenant may see it (its business, its mode).
pub async fn get(store: &Store, tenant: &Tenant, id: &str) -> sqlx::Result<Option<Call>> {
    let mut sql = Sql::new(format!("SELECT {COLUMNS} {FROM}"));
    sql.push(" WHERE c.id = ?", id)
        .push(" AND c.mode = ?", tenant.mode.as_str())
        .push_list(" AND c.business_id IN (?)", &tenant.business_ids);
    let row = sql.query().fetch_optional(store.reader()).await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn events(store: &Store, call_id: &str) -> sqlx::Result<Vec<CallEvent>> {
    let rows = sqlx::query(
        "SELECT status, created_at, kind, data FROM call_events WHERE call_id = $1 ORDER BY created_at, id",
    )
    .bind(call_id)
    .fetch_all(store.reader())
    .await?;
    rows.iter()
        .map(|row| {
            let r = Columns(row);
            Ok(CallEvent {
                status: r.parsed("status", CallStatus::parse)?,
                created_at: r.time("created_at")?,
                kind: r.get("kind")?,
                data: r.json_opt("data")?,
            })
        })
        .collect()
}

pub struct ListFilter {
    pub agent_id: Option<String>,
    /// Only the calls this campaign placed.
    pub campaign_id: Option<String>,
    pub status: Option<CallStatus>,
    /// `inbound` or `outbound`.
    pub direction: Option<String>,
    /// Only calls created strictly before this instant (the `after` cursor).
    pub before: Option<Timestamp>,
    /// Only calls created at or after this instant (transcripts' `days`).
    pub since: Option<Timestamp>,
    pub limit: i64,
    /// Read each call's transcript too (the listing leaves it out: it is the largest
    /// column and the one most costly to parse).
    pub transcripts: bool,
}

/// Newest first, up to `limit + 1` rows (the extra one tells `has_more`). `created_at`
/// is unique, so the cursor never skips or repeats a call.
pub async fn list(store: &Store, tenant: &Tenant, filter: &ListFilter) -> sqlx::Result<Vec<Call>> {
    let columns = if filter.transcripts {
        COLUMNS.to_string()
    } else {
        COLUMNS.replace("c.transcript,", "NULL AS transcript,")
    };
    let mut sql = Sql::new(format!("SELECT {columns} {FROM}"));
    sql.push(" WHERE c.mode = ?", tenant.mode.as_str())
        .push_list(" AND c.business_id IN (?)", &tenant.business_ids)
        .push_opt(" AND c.agent_id = ?", filter.agent_id.as_ref())
        .push_opt(" AND c.campaign_id = ?", filter.campaign_id.as_ref())
        .push_opt(" AND c.status = ?", filter.status.map(CallStatus::as_str))
        .push_opt(" AND c.direction = ?", filter.direction.as_ref())
        .push_opt(
            " AND c.created_at < ?",
            filter.before.map(Timestamp::micros),
        )
        .push_opt(
            " AND c.created_at >= ?",
            filter.since.map(Timestamp::micros),
        )
        .push(
            " ORDER BY c.created_at DESC, c.id DESC LIMIT ?",
            filter.limit + 1,
        );
    let rows = sql.query().fetch_all(store.reader()).await?;
    rows.iter().map(from_row).collect::<sqlx::Result<_>>()
}

/// The call a provider knows by its conversation id.
pub async fn get_by_conversation(
    store: &Store,
    conversation_id: &str,
) -> sqlx::Result<Option<Call>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} {FROM} WHERE c.conversation_id = $1"
    ))
    .bind(conversation_id)
    .fetch_optional(store.reader())
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Records where the stored copy of a call's recording lives.
pub async fn set_recording_key(store: &Store, call_id: &str, key: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE calls SET recording_key = $1 WHERE id = $2")
        .bind(key)
        .bind(call_id)
        .execute(&store.pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The listing's column list is the full one with the transcript left out.
    #[test]
    fn the_listing_can_leave_the_transcript_out() {
        assert_eq!(super::COLUMNS.matches("c.transcript,").count(), 1);
    }
}
