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

pub mod analytics;
pub mod create;
pub mod engine;
pub mod enrichment;
pub mod idempotency;
pub mod provider_events;
pub mod repo;
pub mod routes;
pub mod status;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

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
    /// The customer asked not to be called again (the number went on the list).
    pub opt_out: bool,
    /// `human`, `machine` (voicemail) or `unknown`, once the call has ended.
    pub answered_by: Option<String>,
    pub voicemail_left: bool,
    /// The pre-dial gate's calling-hours decision (`compliance::gate::Decision`).
    pub compliance: Option<Value>,
    pub cost_cents: Option<i64>,
    pub scheduled_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The campaign that placed it, if one did.
    pub campaign_id: Option<String>,
    /// How an inbound call was taken: `conversation`, or `message` (out of hours: the
    /// caller leaves a voicemail).
    pub handling: Option<String>,
    /// The inbound call created its lead (an unknown caller).
    pub lead_created: bool,
    /// Where the call was handed to a human (E.164), once transferred.
    pub transfer_destination: Option<String>,
}

/// What the creator of a call decides (an API request, a campaign); everything the
/// provider and the analysis fill in later starts empty ([`Call::queued`]).
pub struct QueuedCall {
    pub id: String,
    pub business_id: String,
    pub agent_id: String,
    pub agent_name: Option<String>,
    pub lead_id: Option<String>,
    pub key_id: Option<String>,
    pub mode: Mode,
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
    pub compliance: Option<Value>,
    pub scheduled_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub campaign_id: Option<String>,
}

impl Call {
    /// A new outbound call, `queued`, not yet dialed.
    pub fn queued(q: QueuedCall) -> Call {
        Call {
            id: q.id,
            business_id: q.business_id,
            agent_id: q.agent_id,
            agent_name: q.agent_name,
            lead_id: q.lead_id,
            key_id: q.key_id,
            mode: q.mode,
            status: CallStatus::Queued,
            direction: "outbound".into(),
            to: q.to,
            from: q.from,
            name: q.name,
            context: q.context,
            first_message: q.first_message,
            max_duration: q.max_duration,
            webhook_url: q.webhook_url,
            webhook_events: q.webhook_events,
            metadata: q.metadata,
            variables: q.variables,
            provider: q.provider,
            conversation_id: None,
            control_url: None,
            ended_reason: None,
            provider_ended_reason: None,
            error: None,
            duration: None,
            summary: None,
            transcript: None,
            recording_source: None,
            recording_url: None,
            recording_key: None,
            quality_dimensions: None,
            outcome: None,
            opt_out: false,
            answered_by: None,
            voicemail_left: false,
            compliance: q.compliance,
            cost_cents: None,
            scheduled_at: q.scheduled_at,
            started_at: None,
            ended_at: None,
            created_at: q.created_at,
            updated_at: q.created_at,
            campaign_id: q.campaign_id,
            handling: None,
            lead_created: false,
            transfer_destination: None,
        }
    }

    /// The other party's number: whom we called, or who called us.
    pub fn customer_number(&self) -> &str {
        match (self.direction.as_str(), &self.from) {
            ("inbound", Some(from)) => from,
            _ => &self.to,
        }
    }

    pub fn is_inbound(&self) -> bool {
        self.direction == "inbound"
    }
}

/// One entry of a call's timeline.
#[derive(Debug, Clone)]
pub struct CallEvent {
    pub status: CallStatus,
    /// `None` for a status change; else what happened (`tool.lookup_lead`, `call.transferred`).
    pub kind: Option<String>,
    pub data: Option<Value>,
    pub created_at: Timestamp,
}

/// A call as the API shows it in lists and in the creation response.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Call")]
pub struct CallSummary {
    pub id: String,
    /// The provider's id for the conversation, once dialed.
    pub conversation_id: Option<String>,
    pub status: CallStatus,
    /// `outbound` (calls KaiCalls places) or `inbound` (calls its agents answer).
    pub direction: String,
    /// Seconds, once ended.
    pub duration: Option<i64>,
    pub agent_id: String,
    pub agent_name: Option<String>,
    pub business_id: String,
    pub lead_id: Option<String>,
    /// The number called (E.164): the customer's on an outbound call, ours on an
    /// inbound one.
    pub to: String,
    /// The number calling (E.164): ours on an outbound call, the caller's on an
    /// inbound one.
    pub from: Option<String>,
    pub name: Option<String>,
    pub summary: Option<String>,
    /// A signed, expiring link to the recording.
    pub recording_url: Option<String>,
    pub quality_dimensions: Option<QualityDimensions>,
    /// `resolved`, `follow_up`, `voicemail`, `cut_off` or `no_conversation`.
    pub outcome: Option<String>,
    /// The customer asked not to be called again: the number is on the business's
    /// do-not-call list from the end of this call.
    pub opt_out: bool,
    /// Who picked up, once the call has ended: `human`, `machine` (a voicemail) or
    /// `unknown` (nobody spoke).
    pub answered_by: Option<String>,
    /// The agent left a message on voicemail.
    pub voicemail_left: bool,
    /// The campaign that placed the call (`/api/v1/campaigns`), if one did.
    pub campaign_id: Option<String>,
    /// Where the call was handed to a human (E.164), when it ended `transferred`.
    pub transfer_destination: Option<String>,
    pub ended_reason: Option<EndedReason>,
    /// The provider's own code, kept beside `ended_reason`.
    pub provider_ended_reason: Option<String>,
    pub error: Option<String>,
    pub metadata: Option<Value>,
    pub cost_cents: Option<i64>,
    pub mode: Mode,
    pub scheduled_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// One call in full (`GET /api/v1/calls?id=`, `POST /api/v1/calls/end`): the summary's
/// fields, SPEC §5's additions, the transcript and the status timeline.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CallDetail {
    #[serde(flatten)]
    pub call: CallSummary,
    pub context: Option<String>,
    pub first_message: Option<String>,
    /// Seconds after which the call is ended.
    pub max_duration: i64,
    pub webhook_url: Option<String>,
    pub transcript: Vec<Turn>,
    /// The enrichment variables the agent received.
    pub variables: Value,
    /// What the pre-dial gate decided about calling hours: the recipient's candidate
    /// zones and where they came from, the state, the rules and window applied, the
    /// local time, and whether the hours were enforced.
    pub compliance: Option<Value>,
    pub events: Vec<TimelineEntry>,
}

/// An entry of a call's timeline: a status change, or what happened during the call.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TimelineEntry {
    /// `call.<status>` for a status change; `tool.<name>` for a tool the agent used
    /// (`tool.lookup_lead`, `tool.schedule_callback`, …); `call.transferred`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The call's status at that moment.
    pub status: CallStatus,
    /// For a tool: its arguments and result; for a transfer: the destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    pub created_at: Timestamp,
}

/// A page of calls, newest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CallList {
    pub calls: Vec<CallSummary>,
    pub has_more: bool,
}

impl Call {
    /// The detail view (`GET /api/v1/calls?id=`).
    pub fn detail(&self, events: &[CallEvent]) -> CallDetail {
        CallDetail {
            call: self.summary(),
            context: self.context.clone(),
            first_message: self.first_message.clone(),
            max_duration: self.max_duration,
            webhook_url: self.webhook_url.clone(),
            transcript: self.transcript.clone().unwrap_or_default(),
            variables: self.variables.clone(),
            compliance: self.compliance.clone(),
            events: events
                .iter()
                .map(|e| TimelineEntry {
                    kind: e
                        .kind
                        .clone()
                        .unwrap_or_else(|| format!("call.{}", e.status.as_str())),
                    status: e.status,
                    data: e.data.clone(),
                    created_at: e.created_at,
                })
                .collect(),
        }
    }

    /// The fields shown in lists and in the creation response.
    pub fn summary(&self) -> CallSummary {
        CallSummary {
            id: self.id.clone(),
            conversation_id: self.conversation_id.clone(),
            status: self.status,
            direction: self.direction.clone(),
            duration: self.duration,
            agent_id: self.agent_id.clone(),
            agent_name: self.agent_name.clone(),
            business_id: self.business_id.clone(),
            lead_id: self.lead_id.clone(),
            to: self.to.clone(),
            from: self.from.clone(),
            name: self.name.clone(),
            summary: self.summary.clone(),
            recording_url: self.recording_url.clone(),
            quality_dimensions: self.quality_dimensions.clone(),
            outcome: self.outcome.clone(),
            opt_out: self.opt_out,
            answered_by: self.answered_by.clone(),
            voicemail_left: self.voicemail_left,
            campaign_id: self.campaign_id.clone(),
            transfer_destination: self.transfer_destination.clone(),
            ended_reason: self.ended_reason,
            provider_ended_reason: self.provider_ended_reason.clone(),
            error: self.error.clone(),
            metadata: self.metadata.clone(),
            cost_cents: self.cost_cents,
            mode: self.mode,
            scheduled_at: self.scheduled_at,
            started_at: self.started_at,
            ended_at: self.ended_at,
            created_at: self.created_at,
        }
    }
}
