//! Durable events. Every call state change (and lead created/updated) is an event row
//! written in the same transaction as the change, together with one delivery (and
//! its job) per webhook target that wants it: the outbox. Nothing is sent from a
//! request handler; the worker delivers (`webhooks::delivery`).

pub mod routes;
pub mod stream;

use crate::store::row::Columns;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;

use crate::auth::api_key::Mode;
use crate::calls::{Call, CallStatus};
use crate::clock::Timestamp;
use crate::ids;
use crate::jobs::{self, Kind};
use crate::store::Tx;

pub const EVENT_TYPES: [&str; 26] = [
    "call.queued",
    "call.ringing",
    "call.in_progress",
    "call.completed",
    "call.failed",
    "call.canceled",
    "call.transferred",
    "voicemail.received",
    "lead.created",
    "lead.updated",
    "dnc.added",
    "dnc.removed",
    "campaign.started",
    "campaign.paused",
    "campaign.resumed",
    "campaign.completed",
    "campaign.canceled",
    "campaign.contacts_expired",
    "contact.skipped",
    "contact.retry_scheduled",
    "contact.completed",
    "contact.failed",
    "contact.exhausted",
    "contact.expired",
    "contact.canceled",
    "webhook.test",
];

/// A durable event, as stored and as the API shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Event {
    pub id: String,
    /// `call.completed`, `lead.created`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub object_type: String,
    pub object_id: String,
    pub business_id: String,
    pub mode: Mode,
    pub data: Value,
    pub created_at: Timestamp,
}

pub const COLUMNS: &str = "id, type, object_type, object_id, business_id, mode, data, created_at";

pub fn from_row(row: &AnyRow) -> sqlx::Result<Event> {
    let r = Columns(row);
    Ok(Event {
        id: r.get("id")?,
        kind: r.get("type")?,
        object_type: r.get("object_type")?,
        object_id: r.get("object_id")?,
        business_id: r.get("business_id")?,
        mode: r.parsed("mode", Mode::parse)?,
        data: r.json("data")?,
        created_at: r.time("created_at")?,
    })
}

/// The webhook body of a call event: the reference's payloads for `call.completed`
/// and `call.failed`, `{event, call_id, status, timestamp}` for the others; plus
/// `metadata` when the call has it.
pub fn call_payload(call: &Call, at: Timestamp) -> Value {
    let event = format!("call.{}", call.status.as_str());
    let mut body = match call.status {
        CallStatus::Completed => json!({
            "event": event,
            "call_id": call.id,
            "status": call.status.as_str(),
            "direction": call.direction,
            "duration": call.duration,
            "recording_url": call.recording_url,
            "summary": call.summary,
            "timestamp": at.to_rfc3339(),
        }),
        CallStatus::Failed => json!({
            "event": event,
            "call_id": call.id,
            "status": call.status.as_str(),
            "direction": call.direction,
            "error": call.ended_reason.map(|r| r.as_str()),
            "timestamp": at.to_rfc3339(),
        }),
        _ => json!({
            "event": event,
            "call_id": call.id,
            "status": call.status.as_str(),
            "timestamp": at.to_rfc3339(),
        }),
    };
    if let Some(metadata) = &call.metadata {
        body["metadata"] = metadata.clone();
    }
    body
}

/// The per-call `webhook_url` target and the event types the call asked for.
pub struct CallTarget<'a> {
    pub call_id: &'a str,
    pub url: Option<&'a str>,
    pub events: &'a [String],
}

pub struct NewEvent<'a> {
    pub kind: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    pub business_id: &'a str,
    pub mode: Mode,
    pub data: Value,
}

/// Writes the event and a delivery for each target that wants it, in `tx`.
pub async fn emit(
    tx: &mut Tx,
    new: NewEvent<'_>,
    call: Option<CallTarget<'_>>,
    now: Timestamp,
) -> anyhow::Result<Event> {
    let event = Event {
        id: format!("evt_{}", uuid::Uuid::new_v4().simple()),
        kind: new.kind.to_string(),
        object_type: new.object_type.to_string(),
        object_id: new.object_id.to_string(),
        business_id: new.business_id.to_string(),
        mode: new.mode,
        data: new.data,
        created_at: now,
    };
    sqlx::query(&format!(
        "INSERT INTO events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&event.id)
    .bind(&event.kind)
    .bind(&event.object_type)
    .bind(&event.object_id)
    .bind(&event.business_id)
    .bind(event.mode.as_str())
    .bind(event.data.to_string())
    .bind(now.micros())
    .execute(&mut **tx)
    .await?;

    let call_id = call.as_ref().map(|c| c.call_id);
    if let Some(target) = &call {
        if let Some(url) = target.url {
            if target.events.iter().any(|e| e == &event.kind) {
                enqueue_delivery(tx, &event, call_id, None, url, now).await?;
            }
        }
    }
    for (sub_id, url) in subscribers(tx, &event).await? {
        enqueue_delivery(tx, &event, call_id, Some(&sub_id), &url, now).await?;
    }
    Ok(event)
}

/// Active subscriptions of the event's business and mode that want its type.
/// (`webhook.test` goes only to the subscription being tested; its caller adds it.)
async fn subscribers(tx: &mut Tx, event: &Event) -> sqlx::Result<Vec<(String, String)>> {
    if event.kind == "webhook.test" {
        return Ok(vec![]);
    }
    let rows = sqlx::query(
        "SELECT id, url, events FROM webhook_subscriptions WHERE business_id = $1 AND mode = $2 AND is_active = 1",
    )
    .bind(&event.business_id)
    .bind(event.mode.as_str())
    .fetch_all(&mut **tx)
    .await?;
    let mut out = Vec::new();
    for row in &rows {
        let r = Columns(row);
        let types: Vec<String> = r.json("events")?;
        if types.iter().any(|t| t == &event.kind || t == "*") {
            out.push((r.get("id")?, r.get("url")?));
        }
    }
    Ok(out)
}

/// The `webhook-id` of an event for one target: stable across retries and replays.
pub fn webhook_id(event_id: &str, subscription_id: Option<&str>) -> String {
    let target = subscription_id.unwrap_or("call");
    let digest = hex::encode(Sha256::digest(format!("{event_id}:{target}").as_bytes()));
    format!("msg_{}", &digest[..32])
}

/// A new delivery of `event` to `url`, due now.
pub async fn enqueue_delivery(
    tx: &mut Tx,
    event: &Event,
    call_id: Option<&str>,
    subscription_id: Option<&str>,
    url: &str,
    now: Timestamp,
) -> anyhow::Result<String> {
    let id = ids::new_id();
    sqlx::query(
        "INSERT INTO deliveries (id, event_id, business_id, mode, call_id, subscription_id, url, webhook_id, status,
            attempts, last_status_code, last_error, next_attempt_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, NULL, NULL, $9, $9, $9)",
    )
    .bind(&id)
    .bind(&event.id)
    .bind(&event.business_id)
    .bind(event.mode.as_str())
    .bind(call_id)
    .bind(subscription_id)
    .bind(url)
    .bind(webhook_id(&event.id, subscription_id))
    .bind(now.micros())
    .execute(&mut **tx)
    .await?;
    // Deliveries of one object's events to one target go out in order (the worker
    // runs jobs sharing an order key one after another); the worker caps how many
    // run at once per receiver (the URL's origin) and per business.
    let order = format!("{}:{}", event.object_id, subscription_id.unwrap_or(url));
    let target =
        url::Url::parse(url).map_or_else(|_| url.to_string(), |u| u.origin().ascii_serialization());
    let keys = jobs::Keys {
        order: Some(&order),
        target: Some(&target),
        tenant: Some(&event.business_id),
    };
    jobs::enqueue_keyed(tx, Kind::WebhookDelivery, &id, &json!({}), now, now, keys).await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn webhook_ids_are_stable_per_event_and_target() {
        let a = super::webhook_id("evt_1", None);
        assert_eq!(a, super::webhook_id("evt_1", None));
        assert_ne!(a, super::webhook_id("evt_1", Some("sub")));
        assert_ne!(a, super::webhook_id("evt_2", None));
        assert!(a.starts_with("msg_"));
    }
}
