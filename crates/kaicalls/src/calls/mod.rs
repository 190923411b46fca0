//! Calls: creation (validation, enrichment, dialing), the state machine every provider
//! feeds, and the API that reads them.
//!
//! - `status.rs`: statuses, forward-only transitions and normalized ended reasons.
//! - `create.rs`: `POST /api/v1/calls`, from request body to a dialed call.
//! - `enrichment.rs`: the CRM variables a call carries to the provider.
//! - `idempotency.rs`: saved responses for `Idempotency-Key`.
//! - `provider_events.rs`: Vapi's server messages, fed into the engine.
//! - `engine.rs`: applies provider events and engine timers to calls.
//! - `repo.rs`: the calls' SQL.
//! - `routes.rs`: the HTTP handlers.

pub mod create;
pub mod engine;
pub mod enrichment;
pub mod idempotency;
pub mod provider_events;
pub mod repo;
pub mod routes;
pub mod status;

use serde_json::{json, Value};

use crate::auth::api_key::Mode;
use crate::clock::Timestamp;
use crate::error::ApiError;
use crate::voice::analyzer::QualityDimensions;
use crate::voice::Turn;
pub use status::{CallStatus, EndedReason};

pub const DEFAULT_MAX_DURATION: i64 = 600;

pub fn validate_max_duration(secs: i64) -> Result<i64, ApiError> {
    if (10..=3600).contains(&secs) {
        Ok(secs)
    } else {
        Err(ApiError::invalid(
            "max_duration",
            "max_duration must be between 10 and 3600 seconds",
        ))
    }
}

/// A call as stored.
#[derive(Debug, Clone)]
pub struct Call {
    pub id: String,
    pub business_id: String,
    pub agent_id: String,
    pub agent_name: Option<String>,
    pub lead_id: Option<String>,
    pub key_id: Option<String>,
    pub mode: Mode,
    pub status: CallStatus,
    pub direction: String,
    pub to: String,
    pub from: Option<String>,
    pub name: Option<String>,
    pub context: Option<String>,
    pub first_message: Option<String>,
    pub max_duration: i64,
    pub webhook_url: Option<String>,
    pub webhook_events: Vec<String>,
    pub metadata: Option<Value>,
    pub variables: Value,
    pub provider: String,
    pub conversation_id: Option<String>,
    /// Where the provider takes live-call commands (Vapi's `monitor.controlUrl`).
    pub control_url: Option<String>,
    pub ended_reason: Option<EndedReason>,
    pub provider_ended_reason: Option<String>,
    pub error: Option<String>,
    pub duration: Option<i64>,
    pub summary: Option<String>,
    pub transcript: Option<Vec<Turn>>,
    /// Where the recording comes from: the provider's URL, or the simulator.
    pub recording_source: Option<String>,
    /// The provider's recording (copied into our storage when the call ends).
    pub recording_url: Option<String>,
    /// Where our stored copy lives, once copied.
    pub recording_key: Option<String>,
    pub quality_dimensions: Option<QualityDimensions>,
    /// The analyzer's verdict: resolved, follow_up, voicemail, cut_off, no_conversation.
    pub outcome: Option<String>,
    pub cost_cents: Option<i64>,
    pub scheduled_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One entry of a call's timeline.
#[derive(Debug, Clone)]
pub struct CallEvent {
    pub status: CallStatus,
    pub created_at: Timestamp,
}

impl Call {
    /// The detail view (`GET /api/v1/calls?id=`): the reference's fields and SPEC §5's
    /// additions.
    pub fn detail_json(&self, events: &[CallEvent]) -> Value {
        let mut v = self.summary_json();
        let extra = json!({
            "from": self.from,
            "context": self.context,
            "first_message": self.first_message,
            "max_duration": self.max_duration,
            "webhook_url": self.webhook_url,
            "transcript": self.transcript.clone().unwrap_or_default(),
            "variables": self.variables,
            "events": events.iter().map(|e| json!({
                "type": format!("call.{}", e.status.as_str()),
                "status": e.status.as_str(),
                "created_at": e.created_at.to_rfc3339(),
            })).collect::<Vec<_>>(),
        });
        if let (Value::Object(base), Value::Object(extra)) = (&mut v, extra) {
            base.extend(extra);
        }
        v
    }

    /// The fields shown in lists and in the creation response.
    pub fn summary_json(&self) -> Value {
        json!({
            "id": self.id,
            "conversation_id": self.conversation_id,
            "status": self.status.as_str(),
            "direction": self.direction,
            "duration": self.duration,
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "business_id": self.business_id,
            "lead_id": self.lead_id,
            "to": self.to,
            "name": self.name,
            "summary": self.summary,
            "recording_url": self.recording_url,
            "quality_dimensions": self.quality_dimensions,
            "outcome": self.outcome,
            "ended_reason": self.ended_reason.map(EndedReason::as_str),
            "provider_ended_reason": self.provider_ended_reason,
            "error": self.error,
            "metadata": self.metadata,
            "cost_cents": self.cost_cents,
            "mode": self.mode.as_str(),
            "scheduled_at": self.scheduled_at.map(Timestamp::to_rfc3339),
            "started_at": self.started_at.map(Timestamp::to_rfc3339),
            "ended_at": self.ended_at.map(Timestamp::to_rfc3339),
            "created_at": self.created_at.to_rfc3339(),
        })
    }
}
