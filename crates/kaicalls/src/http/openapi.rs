//! The OpenAPI 3.1 document, derived from the code: every request body and response
//! is a Rust type (`#[derive(JsonSchema)]`, the same type the handler deserializes or
//! serializes), and the table of operations below names those types. The table holds
//! the operations `http::api_routes` serves (a test probes the router to keep the two
//! equal); the integration suite validates every answer it receives against this
//! document. Served at `/api/v1/openapi.json`, rendered as HTML at `/docs`, and
//! committed as `openapi.json` (a test fails when the file drifts; regenerate with
//! `kaicalls openapi > openapi.json`).
//!
//! Response objects are closed (`additionalProperties: false`): a field the server
//! sends is a documented field. Request bodies are open: clients written for other
//! versions may send fields we ignore.

use std::sync::OnceLock;

use axum::response::{Html, IntoResponse, Response};
use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::limits;
use super::{Health, Success};
use crate::agents::routes::{AgentFields, AgentOrList};
use crate::agents::Agent;
use crate::auth::account::{PasswordBody, SessionList, SignedUp, SignupBody};
use crate::auth::sessions::{LoggedIn, LoginBody};
use crate::calls::analytics::Analytics;
use crate::calls::create::CreateCallBody;
use crate::calls::routes::{CallOrList, TranscriptList};
use crate::calls::{CallDetail, CallSummary};
use crate::campaigns::routes::{
    AddContactsBody, CampaignCreated, CampaignOrList, ContactList, ContactsAdded,
    CreateCampaignBody, UpdateCampaignBody,
};
use crate::campaigns::CampaignView;
use crate::compliance::routes::{
    AddDncBody, ConsentBody, ConsentList, DncAdded, DncList, RefusalList, SettingsBody,
};
use crate::compliance::{Consent, DncEntry, Settings};
use crate::error::ErrorEnvelope;
use crate::events::routes::{DeliveryList, EventList, ReplayBody, Replayed};
use crate::keys::routes::{CreateKey, KeyList, NewKey};
use crate::leads::routes::{LeadFields, LeadOrList};
use crate::leads::Lead;
use crate::numbers::routes::{AssignBody, NumberList, ReleasedNumber};
use crate::numbers::PhoneNumber;
use crate::recordings::routes::Recording;
use crate::usage::routes::{Balance, UsageList};
use crate::webhooks::routes::{
    BusinessSecret, IdBody, RotatedSecret, TestSent, UpsertBody, WebhookList,
};
use crate::webhooks::WebhookView;

/// Who may call an operation.
#[derive(Clone, Copy)]
pub enum Access {
    /// No credentials.
    Public,
    /// Any valid API key.
    AnyKey,
    /// An API key holding this scope.
    Scope(&'static str),
    /// A dashboard session cookie.
    Session,
    /// An API key holding this scope, or a dashboard session.
    ScopeOrSession(&'static str),
    /// Vapi's shared secret.
    ProviderSecret,
}

/// A query parameter: name, type, required, description. The type is `string`,
/// `date-time` (an ISO 8601 string), `integer:MIN..MAX` or `enum:a|b|c`.
pub type Param = (&'static str, &'static str, bool, &'static str);

/// The schema of a body: a `$ref` to the type's component (added to the generator).
pub type SchemaFn = fn(&mut Generators) -> Value;

pub struct Op {
    pub method: &'static str,
    /// Under `/api/v1`.
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    pub query: &'static [Param],
    /// The request body's type, if it takes one.
    pub body: Option<SchemaFn>,
    /// Each success status with its response type.
    pub ok: &'static [(u16, SchemaFn)],
    /// Error statuses particular to the operation; those every operation of its kind
    /// can answer (see `error_statuses`) are added.
    pub errors: &'static [u16],
}

/// Responses are generated under the serialize contract and closed; requests under
/// the deserialize contract (aliases, optional fields) and left open.
pub struct Generators {
    responses: SchemaGenerator,
    requests: SchemaGenerator,
}

impl Generators {
    fn new() -> Generators {
        let settings = |contract| {
            SchemaSettings::draft2020_12().with(|s| {
                s.definitions_path = "/components/schemas".into();
                s.contract = contract;
            })
        };
        Generators {
            responses: SchemaGenerator::new(settings(Contract::Serialize)),
            requests: SchemaGenerator::new(settings(Contract::Deserialize)),
        }
    }
}

/// A response type.
fn r<T: JsonSchema>(g: &mut Generators) -> Value {
    g.responses.subschema_for::<T>().to_value()
}

/// A request body type.
fn q<T: JsonSchema>(g: &mut Generators) -> Value {
    g.requests.subschema_for::<T>().to_value()
}

/// An SSE stream whose messages' `data` is an event (`events::stream`); the content
/// type is `text/event-stream` (see `content`).
fn event_stream(g: &mut Generators) -> Value {
    r::<crate::events::Event>(g)
}

/// Any JSON object (this document; Vapi's messages, which are Vapi's to define).
fn any_object(_: &mut Generators) -> Value {
    json!({ "type": "object" })
}

const ID: Param = (
    "id",
    "string",
    false,
    "The object's id: get one instead of listing",
);
const LIMIT: Param = (
    "limit",
    "integer:1..100",
    false,
    "Results per page (default 50)",
);

pub const OPS: &[Op] = &[
    Op { method: "get", path: "/health", summary: "Service health", access: Access::Public, query: &[], body: None, ok: &[(200, r::<Health>), (503, r::<Health>)], errors: &[] },
    Op { method: "get", path: "/openapi.json", summary: "This document", access: Access::Public, query: &[], body: None, ok: &[(200, any_object)], errors: &[] },
    Op { method: "post", path: "/auth/login", summary: "Log in to the dashboard (sets the session cookie)", access: Access::Public, query: &[], body: Some(q::<LoginBody>), ok: &[(200, r::<LoggedIn>)], errors: &[401, 429] },
    Op { method: "post", path: "/auth/logout", summary: "Log out", access: Access::Session, query: &[], body: None, ok: &[(200, r::<Success>)], errors: &[] },
    Op { method: "post", path: "/signup", summary: "Create an account: user, business, agent Kai with a number, a test key (shown once); signs in", access: Access::Public, query: &[], body: Some(q::<SignupBody>), ok: &[(201, r::<SignedUp>)], errors: &[403, 409, 429] },
    Op { method: "get", path: "/auth/sessions", summary: "Your signed-in sessions", access: Access::Session, query: &[], body: None, ok: &[(200, r::<SessionList>)], errors: &[] },
    Op { method: "delete", path: "/auth/sessions", summary: "End a session", access: Access::Session, query: &[("id", "string", true, "The session's id")], body: None, ok: &[(200, r::<Success>)], errors: &[400, 404] },
    Op { method: "post", path: "/auth/password", summary: "Change your password (ends your other sessions)", access: Access::Session, query: &[], body: Some(q::<PasswordBody>), ok: &[(200, r::<Success>)], errors: &[400] },
    Op { method: "get", path: "/keys", summary: "List your API keys", access: Access::Session, query: &[], body: None, ok: &[(200, r::<KeyList>)], errors: &[] },
    Op { method: "post", path: "/keys", summary: "Create an API key (the key is shown once)", access: Access::Session, query: &[], body: Some(q::<CreateKey>), ok: &[(201, r::<NewKey>)], errors: &[400, 404] },
    Op { method: "delete", path: "/keys", summary: "Revoke an API key", access: Access::Session, query: &[("id", "string", true, "The key's id")], body: None, ok: &[(200, r::<Success>)], errors: &[400, 404] },
    Op { method: "get", path: "/agents", summary: "List agents, or get one with ?id=", access: Access::Scope("agents:read"), query: &[ID], body: None, ok: &[(200, r::<AgentOrList>)], errors: &[404] },
    Op { method: "post", path: "/agents", summary: "Create an agent", access: Access::Scope("agents:write"), query: &[], body: Some(q::<AgentFields>), ok: &[(201, r::<Agent>)], errors: &[400, 404] },
    Op { method: "patch", path: "/agents", summary: "Update an agent (id in the body)", access: Access::Scope("agents:write"), query: &[], body: Some(q::<AgentFields>), ok: &[(200, r::<Agent>)], errors: &[400, 404] },
    Op { method: "get", path: "/numbers", summary: "List phone numbers", access: Access::Scope("numbers:read"), query: &[("business_id", "string", false, "Only this business"), ("phone_number", "string", false, "Only this number (E.164)")], body: None, ok: &[(200, r::<NumberList>)], errors: &[404] },
    Op { method: "get", path: "/phone-numbers", summary: "List phone numbers (same as /numbers)", access: Access::Scope("numbers:read"), query: &[("business_id", "string", false, "Only this business"), ("phone_number", "string", false, "Only this number (E.164)")], body: None, ok: &[(200, r::<NumberList>)], errors: &[404] },
    Op { method: "post", path: "/phone-numbers", summary: "Register or reassign a phone number", access: Access::Scope("numbers:write"), query: &[], body: Some(q::<AssignBody>), ok: &[(201, r::<PhoneNumber>), (200, r::<PhoneNumber>)], errors: &[400, 404, 409] },
    Op { method: "delete", path: "/phone-numbers", summary: "Release a phone number", access: Access::Scope("numbers:write"), query: &[("phone_number", "string", true, "The number (E.164)")], body: None, ok: &[(200, r::<ReleasedNumber>)], errors: &[400, 404] },
    Op { method: "get", path: "/leads", summary: "List leads with filters, or get one with ?id=", access: Access::Scope("leads:read"), query: &[ID, ("status", "string", false, "Comma-separated statuses"), ("source", "string", false, "Lead source"), ("agent_id", "string", false, "Agent"), ("phone", "string", false, "E.164 phone"), ("email", "string", false, "Email"), ("created_after", "date-time", false, "ISO 8601"), ("created_before", "date-time", false, "ISO 8601"), ("updated_after", "date-time", false, "ISO 8601"), ("updated_before", "date-time", false, "ISO 8601"), ("score_gte", "integer:0..100", false, "Minimum score"), ("score_lte", "integer:0..100", false, "Maximum score"), LIMIT], body: None, ok: &[(200, r::<LeadOrList>)], errors: &[400, 404] },
    Op { method: "post", path: "/leads", summary: "Create a lead", access: Access::Scope("leads:write"), query: &[], body: Some(q::<LeadFields>), ok: &[(201, r::<Lead>)], errors: &[400, 404] },
    Op { method: "patch", path: "/leads", summary: "Update a lead (id in the body)", access: Access::Scope("leads:write"), query: &[], body: Some(q::<LeadFields>), ok: &[(200, r::<Lead>)], errors: &[400, 404] },
    Op { method: "get", path: "/calls", summary: "List calls (newest first), or get one with ?id= (and wait up to ?wait= seconds for it to finish)", access: Access::Scope("calls:read"), query: &[ID, ("wait", "integer:0..60", false, "With id: seconds (≤ 60) to wait for a terminal status"), ("limit", "integer:1..100", false, "Max results per page (default 50)"), ("agent_id", "string", false, "Filter by agent"), ("campaign_id", "string", false, "Only the calls this campaign placed"), ("status", "enum:queued|ringing|in_progress|completed|failed|canceled", false, "Filter by call status"), ("direction", "enum:inbound|outbound", false, "Only inbound (answered) or outbound (placed) calls"), ("after", "string", false, "Cursor: the created_at of the last result"), ("created_after", "date-time", false, "Only calls created at or after this instant (ISO 8601)"), ("created_before", "date-time", false, "Only calls created before this instant (ISO 8601)")], body: None, ok: &[(200, r::<CallOrList>)], errors: &[400, 404] },
    Op { method: "post", path: "/calls", summary: "Make an outbound call (Idempotency-Key supported)", access: Access::Scope("calls:write"), query: &[], body: Some(q::<CreateCallBody>), ok: &[(201, r::<CallSummary>)], errors: &[400, 404, 409, 429, 500] },
    Op { method: "post", path: "/calls/end", summary: "Hang up or cancel a call", access: Access::Scope("calls:write"), query: &[("id", "string", true, "The call's id")], body: None, ok: &[(200, r::<CallDetail>)], errors: &[400, 404] },
    Op { method: "get", path: "/recordings", summary: "A fresh signed link to a call's recording", access: Access::Scope("calls:read"), query: &[("call_id", "string", true, "The call's id")], body: None, ok: &[(200, r::<Recording>)], errors: &[400, 404] },
    Op { method: "get", path: "/transcripts", summary: "Completed calls' transcripts", access: Access::Scope("calls:read"), query: &[LIMIT, ("agent_id", "string", false, "Filter by agent"), ("after", "date-time", false, "Cursor: the created_at of the last result"), ("days", "integer:1..3650", false, "Only the last N days")], body: None, ok: &[(200, r::<TranscriptList>)], errors: &[400] },
    Op { method: "get", path: "/webhooks", summary: "List webhook subscriptions", access: Access::Scope("webhooks:read"), query: &[("business_id", "string", false, "Only this business"), ID], body: None, ok: &[(200, r::<WebhookList>)], errors: &[] },
    Op { method: "post", path: "/webhooks", summary: "Create (secret shown once) or update (id) a subscription", access: Access::Scope("webhooks:write"), query: &[], body: Some(q::<UpsertBody>), ok: &[(201, r::<WebhookView>), (200, r::<WebhookView>)], errors: &[400, 404] },
    Op { method: "delete", path: "/webhooks", summary: "Delete a subscription", access: Access::Scope("webhooks:write"), query: &[("id", "string", true, "The subscription's id")], body: None, ok: &[(200, r::<Success>)], errors: &[400, 404] },
    Op { method: "post", path: "/webhooks/test", summary: "Send a signed webhook.test", access: Access::Scope("webhooks:write"), query: &[], body: Some(q::<IdBody>), ok: &[(200, r::<TestSent>)], errors: &[400, 404] },
    Op { method: "post", path: "/webhooks/rotate-secret", summary: "Rotate a subscription's secret", access: Access::Scope("webhooks:write"), query: &[], body: Some(q::<IdBody>), ok: &[(200, r::<RotatedSecret>)], errors: &[400, 404] },
    Op { method: "get", path: "/webhooks/secret", summary: "The business secret that signs per-call webhooks", access: Access::Scope("webhooks:read"), query: &[("business_id", "string", false, "Which business")], body: None, ok: &[(200, r::<BusinessSecret>)], errors: &[400, 404] },
    Op { method: "post", path: "/webhooks/secret/rotate", summary: "Rotate the business secret (the old one signs for 24 h)", access: Access::Scope("webhooks:write"), query: &[("business_id", "string", false, "Which business")], body: None, ok: &[(200, r::<BusinessSecret>)], errors: &[400, 404] },
    Op { method: "get", path: "/events", summary: "Durable events", access: Access::Scope("events:read"), query: &[("business_id", "string", false, "Business"), ("event_id", "string", false, "Event"), ("event_type", "string", false, "Type"), ("object_type", "string", false, "call, lead, webhook"), ("object_id", "string", false, "Object"), ("from", "date-time", false, "ISO 8601"), ("to", "date-time", false, "ISO 8601"), LIMIT], body: None, ok: &[(200, r::<EventList>)], errors: &[400, 404] },
    Op { method: "get", path: "/events/stream", summary: "Live events as Server-Sent Events (resumable with Last-Event-ID)", access: Access::ScopeOrSession("events:read"), query: &[("business_id", "string", false, "Only this business"), ("event_type", "string", false, "Comma-separated event types"), ("call_id", "string", false, "Only this call's events"), ("mode", "enum:live|test", false, "Sessions only: which mode's events (default live)")], body: None, ok: &[(200, event_stream)], errors: &[400, 404] },
    Op { method: "post", path: "/events/replay", summary: "Deliver events again (same webhook-id)", access: Access::Scope("events:replay"), query: &[], body: Some(q::<ReplayBody>), ok: &[(200, r::<Replayed>)], errors: &[400, 404] },
    Op { method: "get", path: "/event-deliveries", summary: "Webhook deliveries with every attempt", access: Access::Scope("events:read"), query: &[("business_id", "string", false, "Business"), ("event_id", "string", false, "Event"), ("webhook_id", "string", false, "Subscription id or webhook-id"), ("call_id", "string", false, "Call"), ("status", "enum:succeeded|failed|pending", false, "succeeded, failed or pending"), LIMIT], body: None, ok: &[(200, r::<DeliveryList>)], errors: &[400, 404] },
    Op { method: "post", path: "/providers/vapi/events", summary: "Vapi server messages: assistant-request (a call to one of your numbers: answered with its agent), tool-calls, transfer-destination-request, status-update, end-of-call-report", access: Access::ProviderSecret, query: &[], body: Some(any_object), ok: &[(200, any_object)], errors: &[404] },
    Op { method: "get", path: "/analytics", summary: "Calls over the last days by status and outcome, and minutes", access: Access::Scope("calls:read"), query: &[("days", "integer:1..90", false, "The window in days (default 30)"), ("business_id", "string", false, "Only this business")], body: None, ok: &[(200, r::<Analytics>)], errors: &[400, 404] },
    Op { method: "get", path: "/dnc", summary: "The do-not-call list", access: Access::Scope("compliance:read"), query: &[("business_id", "string", false, "Only this business"), ("phone", "string", false, "Only this number (E.164)"), ("include_removed", "enum:true|false", false, "Also entries taken off the list"), ("after", "date-time", false, "Cursor: the created_at of the last result"), ("limit", "integer:1..500", false, "Max results (default 50)")], body: None, ok: &[(200, r::<DncList>)], errors: &[400, 404] },
    Op { method: "post", path: "/dnc", summary: "Put a number (phone) or up to 10,000 (numbers) on the do-not-call list", access: Access::Scope("compliance:write"), query: &[], body: Some(q::<AddDncBody>), ok: &[(201, r::<DncAdded>), (200, r::<DncAdded>)], errors: &[400, 404] },
    Op { method: "delete", path: "/dnc", summary: "Take a number off the do-not-call list, with the reason", access: Access::Scope("compliance:write"), query: &[("phone", "string", true, "The number (E.164)"), ("reason", "string", true, "Why it may be called again"), ("business_id", "string", false, "Which business")], body: None, ok: &[(200, r::<DncEntry>)], errors: &[400, 404] },
    Op { method: "get", path: "/consents", summary: "Consent records", access: Access::Scope("compliance:read"), query: &[("business_id", "string", false, "Only this business"), ("phone", "string", false, "Only this number"), ("lead_id", "string", false, "Only this lead"), ("limit", "integer:1..500", false, "Max results (default 50)")], body: None, ok: &[(200, r::<ConsentList>)], errors: &[400, 404] },
    Op { method: "post", path: "/consents", summary: "Record a consent to be called", access: Access::Scope("compliance:write"), query: &[], body: Some(q::<ConsentBody>), ok: &[(201, r::<Consent>)], errors: &[400, 404] },
    Op { method: "delete", path: "/consents", summary: "Revoke a consent, with the reason", access: Access::Scope("compliance:write"), query: &[("id", "string", true, "The consent's id"), ("reason", "string", true, "Why it was revoked")], body: None, ok: &[(200, r::<Consent>)], errors: &[400, 404] },
    Op { method: "get", path: "/compliance/settings", summary: "A business's calling hours", access: Access::Scope("compliance:read"), query: &[("business_id", "string", false, "Which business")], body: None, ok: &[(200, r::<Settings>)], errors: &[400, 404] },
    Op { method: "patch", path: "/compliance/settings", summary: "Narrow the calling window, set quiet days, hold single calls to calling hours or not", access: Access::Scope("compliance:write"), query: &[], body: Some(q::<SettingsBody>), ok: &[(200, r::<Settings>)], errors: &[400, 404] },
    Op { method: "get", path: "/compliance/refusals", summary: "Dials the pre-dial gate refused, with the reason", access: Access::Scope("compliance:read"), query: &[("business_id", "string", false, "Only this business"), ("limit", "integer:1..500", false, "Max results (default 50)")], body: None, ok: &[(200, r::<RefusalList>)], errors: &[400, 404] },
    Op { method: "get", path: "/campaigns", summary: "List campaigns, or get one with ?id= (with its counters by contact state, outcome and skip reason)", access: Access::Scope("campaigns:read"), query: &[ID, ("business_id", "string", false, "Only this business"), ("status", "enum:draft|scheduled|running|paused|completed|canceled", false, "Only this status"), ("after", "date-time", false, "Cursor: the created_at of the last result"), ("limit", "integer:1..100", false, "Max results (default 20)")], body: None, ok: &[(200, r::<CampaignOrList>)], errors: &[400, 404] },
    Op { method: "post", path: "/campaigns", summary: "Create a campaign (a draft, or started with start: true) with up to 10,000 contacts", access: Access::Scope("campaigns:write"), query: &[], body: Some(q::<CreateCampaignBody>), ok: &[(201, r::<CampaignCreated>)], errors: &[400, 404, 409] },
    Op { method: "patch", path: "/campaigns", summary: "Edit a draft, scheduled or paused campaign (id in the query or the body)", access: Access::Scope("campaigns:write"), query: &[("id", "string", false, "The campaign's id (or in the body)")], body: Some(q::<UpdateCampaignBody>), ok: &[(200, r::<CampaignView>)], errors: &[400, 404, 409] },
    Op { method: "get", path: "/campaigns/contacts", summary: "A campaign's contacts, with attempts, calls, outcomes and skip reasons", access: Access::Scope("campaigns:read"), query: &[("id", "string", true, "The campaign's id"), ("state", "enum:pending|dialing|completed|failed|skipped|exhausted|expired|canceled", false, "Only this state"), ("after", "integer:0..9223372036854775807", false, "Cursor: next_after of the previous page"), ("limit", "integer:1..1000", false, "Max results (default 100)")], body: None, ok: &[(200, r::<ContactList>)], errors: &[400, 404] },
    Op { method: "post", path: "/campaigns/contacts", summary: "Append up to 10,000 contacts; a key already present adds nothing", access: Access::Scope("campaigns:write"), query: &[("id", "string", true, "The campaign's id")], body: Some(q::<AddContactsBody>), ok: &[(200, r::<ContactsAdded>)], errors: &[400, 404, 409] },
    Op { method: "post", path: "/campaigns/start", summary: "Start a draft (scheduled until its starts_at)", access: Access::Scope("campaigns:write"), query: &[("id", "string", true, "The campaign's id")], body: None, ok: &[(200, r::<CampaignView>)], errors: &[400, 404, 409] },
    Op { method: "post", path: "/campaigns/pause", summary: "Pause: no new dials; calls in progress finish", access: Access::Scope("campaigns:write"), query: &[("id", "string", true, "The campaign's id")], body: None, ok: &[(200, r::<CampaignView>)], errors: &[400, 404, 409] },
    Op { method: "post", path: "/campaigns/resume", summary: "Resume a paused campaign where it stopped", access: Access::Scope("campaigns:write"), query: &[("id", "string", true, "The campaign's id")], body: None, ok: &[(200, r::<CampaignView>)], errors: &[400, 404, 409] },
    Op { method: "post", path: "/campaigns/cancel", summary: "Cancel: pending contacts end canceled; calls in progress finish", access: Access::Scope("campaigns:write"), query: &[("id", "string", true, "The campaign's id")], body: None, ok: &[(200, r::<CampaignView>)], errors: &[400, 404, 409] },
    Op { method: "get", path: "/balance", summary: "Subscription and minutes per business", access: Access::AnyKey, query: &[], body: None, ok: &[(200, r::<Balance>)], errors: &[] },
    Op { method: "get", path: "/voicemails", summary: "Voicemails callers left (newest first): caller, lead, what they said, summary, a signed recording link", access: Access::Scope("calls:read"), query: &[("business_id", "string", false, "Only this business"), ("after", "date-time", false, "Cursor: the created_at of the last result"), ("limit", "integer:1..100", false, "Max results (default 50)")], body: None, ok: &[(200, r::<crate::inbound::routes::VoicemailList>)], errors: &[400, 404] },
    Op { method: "post", path: "/sandbox/inbound-calls", summary: "Ring one of your numbers as a simulated caller (test keys): the agent answers and a scripted conversation plays; magic callers pick the branch", access: Access::Scope("calls:write"), query: &[], body: Some(q::<crate::inbound::routes::RingBody>), ok: &[(201, r::<CallSummary>)], errors: &[400, 403, 404, 409] },
    Op { method: "get", path: "/staff-alerts/settings", summary: "Who on the staff is alerted (emails, a webhook) and about what", access: Access::Scope("agents:read"), query: &[("business_id", "string", false, "Which business")], body: None, ok: &[(200, r::<crate::alerts::AlertSettings>)], errors: &[400, 404] },
    Op { method: "patch", path: "/staff-alerts/settings", summary: "Set the staff alert recipients and events (new_lead, callback_requested, follow_up, voicemail)", access: Access::Scope("agents:write"), query: &[("dry_run", "enum:true|false", false, "Check and answer the settings as they would be, without saving")], body: Some(q::<crate::alerts::routes::SettingsBody>), ok: &[(200, r::<crate::alerts::AlertSettings>)], errors: &[400, 404] },
    Op { method: "get", path: "/staff-alerts", summary: "Staff alerts sent (newest first), each with its recipient and delivery outcome", access: Access::Scope("calls:read"), query: &[("business_id", "string", false, "Only this business"), ("call_id", "string", false, "Only the alerts this call raised"), ("after", "date-time", false, "Cursor: the created_at of the last result"), ("limit", "integer:1..100", false, "Max results (default 50)")], body: None, ok: &[(200, r::<crate::alerts::routes::AlertList>)], errors: &[400, 404] },
    Op { method: "get", path: "/usage", summary: "API usage log", access: Access::AnyKey, query: &[("start", "date-time", false, "ISO 8601 start"), ("end", "date-time", false, "ISO 8601 end"), ("limit", "integer:1..500", false, "Max results (default 100)")], body: None, ok: &[(200, r::<UsageList>)], errors: &[400] },
];

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "invalid_request (names the parameter in `param`): a missing, malformed or too long value, or a control character; idempotency_error: an Idempotency-Key reused with another body",
        401 => "unauthorized: no credentials, or they are not valid",
        403 => "forbidden: the key lacks the scope; on POST /calls also a compliance rule's refusal, named by its code: dnc_blocked (the number is on the do-not-call list) or outside_calling_hours (the message gives the next allowed moment)",
        404 => "not_found: no such object among yours",
        408 => "request_timeout: the body did not arrive in time",
        409 => "conflict: it already exists, or a request with this Idempotency-Key is still in progress; on POST /calls frequency_cap: the state allows no more calls to this number today",
        413 => "payload_too_large: the body is over 1 MiB",
        415 => "unsupported_media_type: send Content-Type: application/json",
        429 => "rate_limited (Retry-After says when to retry)",
        500 => "internal_error (or call_failed: the provider refused the call)",
        503 => "degraded: the database does not answer",
        _ => "error",
    }
}

fn is_mutating(op: &Op) -> bool {
    matches!(op.method, "post" | "patch" | "put" | "delete")
}

/// Whether the generic `Idempotency-Key` layer (or, for `POST /calls`, the call's
/// own) honours the header on this operation.
fn takes_idempotency_key(op: &Op) -> bool {
    let path = format!("/api/v1{}", op.path);
    is_mutating(op) && (!super::idempotency::EXEMPT.contains(&path.as_str()) || op.path == "/calls")
}

/// Every status an operation can answer with an error: its own, plus those of the
/// layers in front of every handler.
fn error_statuses(op: &Op) -> Vec<u16> {
    // The edge refuses bad strings in any query or body; anything can fail inside.
    let mut statuses = vec![400, 500];
    statuses.extend(op.errors);
    match op.access {
        Access::Public => {}
        Access::Scope(_) | Access::ScopeOrSession(_) => statuses.extend([401, 403, 429]),
        Access::AnyKey => statuses.extend([401, 429]),
        // A cookie write from another site is refused with 403.
        Access::Session => statuses.extend([401, 403]),
        Access::ProviderSecret => statuses.push(401),
    }
    if op.body.is_some() {
        statuses.extend([408, 413, 415]);
    }
    if takes_idempotency_key(op) {
        statuses.push(409);
    }
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// Every answer carries a `Request-Id` (quote it to support).
fn response_headers() -> Value {
    json!({ "Request-Id": { "$ref": "#/components/headers/RequestId" } })
}

fn operation(op: &Op, g: &mut Generators) -> Value {
    let mut params: Vec<Value> = op
        .query
        .iter()
        .map(|(name, ty, required, desc)| {
            let mut schema = param_schema(name, ty);
            if *required {
                schema["minLength"] = json!(1);
            }
            json!({"name": name, "in": "query", "required": required, "description": desc, "schema": schema})
        })
        .collect();
    if takes_idempotency_key(op) {
        params.push(json!({
            "name": "Idempotency-Key", "in": "header", "required": false,
            "schema": { "type": "string", "minLength": 1, "maxLength": 255 },
            "description": "Replays the first answer to the same key and body for 24 hours; the same key with another body is 400 idempotency_error, and one still in progress 409",
        }));
    }
    let mut responses = Map::new();
    for (status, schema) in op.ok {
        let content = if std::ptr::fn_addr_eq(*schema, event_stream as SchemaFn) {
            json!({ "text/event-stream": {
                "schema": { "type": "string" },
                "x-kaicalls-message-data": schema(g),
            } })
        } else {
            json_content(schema(g))
        };
        responses.insert(
            status.to_string(),
            json!({"description": reason(*status), "headers": response_headers(), "content": content}),
        );
    }
    let error = r::<ErrorEnvelope>(g);
    for status in error_statuses(op) {
        responses.insert(
            status.to_string(),
            json!({"description": reason(status), "headers": response_headers(), "content": json_content(error.clone())}),
        );
    }
    let (security, scope_note) = match op.access {
        Access::Public => (json!([]), String::from("No credentials needed.")),
        Access::AnyKey => (
            json!([{"bearer": []}, {"apiKeyHeader": []}]),
            String::from("Any valid API key."),
        ),
        Access::Scope(scope) => (
            json!([{"bearer": []}, {"apiKeyHeader": []}]),
            format!("Requires the `{scope}` scope."),
        ),
        Access::Session => (
            json!([{"session": []}]),
            String::from("Dashboard session only (API keys are refused)."),
        ),
        Access::ScopeOrSession(scope) => (
            json!([{"bearer": []}, {"apiKeyHeader": []}, {"session": []}]),
            format!("Requires the `{scope}` scope, or a dashboard session."),
        ),
        Access::ProviderSecret => (
            json!([{"vapiSecret": []}]),
            String::from("Vapi's shared secret."),
        ),
    };
    let mut out = json!({
        "summary": op.summary,
        "description": scope_note,
        "operationId": operation_id(op),
        "parameters": params,
        "responses": responses,
        "security": security,
    });
    if let Access::Scope(scope) | Access::ScopeOrSession(scope) = op.access {
        out["x-kaicalls-scope"] = json!(scope);
    }
    if let Some(body) = op.body {
        out["requestBody"] = json!({"required": true, "content": json_content(body(g))});
    }
    out
}

/// What `http::limits` lets through in a body string (tab, line feed and carriage
/// return are text; other C0 controls and DEL are not) and in a query parameter
/// (no control character at all).
const BODY_TEXT: &str = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$";
const QUERY_TEXT: &str = "^[^\\x00-\\x1f\\x7f]*$";

/// The schema of a query parameter from its table type (see `Param`).
fn param_schema(name: &str, ty: &str) -> Value {
    if let Some(range) = ty.strip_prefix("integer:") {
        let (min, max) = range.split_once("..").expect("integer:MIN..MAX");
        let bound = |b: &str| b.parse::<i64>().expect("an integer bound");
        return json!({ "type": "integer", "minimum": bound(min), "maximum": bound(max) });
    }
    if let Some(values) = ty.strip_prefix("enum:") {
        return json!({ "type": "string", "enum": values.split('|').collect::<Vec<_>>() });
    }
    let mut schema =
        json!({ "type": "string", "maxLength": limits::max_chars(name), "pattern": QUERY_TEXT });
    match ty {
        "date-time" => schema["format"] = json!("date-time"),
        "string" => {}
        other => panic!("unknown parameter type {other}"),
    }
    schema
}

fn operation_id(op: &Op) -> String {
    format!("{}{}", op.method, op.path.replace(['/', '-', '.'], "_"))
}

/// Response objects are closed: `additionalProperties: false` on every object schema
/// with properties (an open map, like `metadata`, has none and stays open).
fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

fn is_string(ty: Option<&Value>) -> bool {
    match ty {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    }
}

/// Request strings carry what `http::limits` enforces: the maximum of their field
/// (items of a list that of the list), and no control characters.
fn limit_strings(schema: &mut Value, field: Option<&str>) {
    let Value::Object(map) = schema else {
        return;
    };
    if is_string(map.get("type")) {
        let max = field.map_or(limits::DEFAULT_MAX_CHARS, limits::max_chars);
        map.insert("maxLength".into(), json!(max));
        map.insert("pattern".into(), json!(BODY_TEXT));
    }
    if let Some(Value::Object(props)) = map.get_mut("properties") {
        for (name, prop) in props.iter_mut() {
            limit_strings(prop, Some(name));
        }
    }
    if let Some(items) = map.get_mut("items") {
        limit_strings(items, field);
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(options)) = map.get_mut(combinator) {
            options.iter_mut().for_each(|o| limit_strings(o, field));
        }
    }
}

/// The whole document.
pub fn document() -> Value {
    let mut g = Generators::new();
    let mut paths = Map::new();
    for op in OPS {
        let entry = paths
            .entry(format!("/api/v1{}", op.path))
            .or_insert_with(|| json!({}));
        entry[op.method] = operation(op, &mut g);
    }
    let mut schemas = Map::new();
    for (name, mut schema) in g.responses.take_definitions(true) {
        close_objects(&mut schema);
        schemas.insert(name, schema);
    }
    for (name, mut schema) in g.requests.take_definitions(true) {
        limit_strings(&mut schema, None);
        assert!(
            schemas.insert(name.clone(), schema).is_none(),
            "{name} names both a request and a response type"
        );
    }
    schemas.sort_keys();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "KaiCalls API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Give your AI agent a phone: place outbound AI phone calls and get back what happened.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "headers": {
                "RequestId": { "description": "This request's id (quote it to support)", "required": true, "schema": { "type": "string" } },
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer kc_live_… or kc_test_…"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-KaiCalls-API-Key"},
                "session": {"type": "apiKey", "in": "cookie", "name": "kc_session"},
                "vapiSecret": {"type": "apiKey", "in": "header", "name": "X-Vapi-Secret"},
            },
        },
    })
}

fn cached() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(document)
}

pub async fn serve_json() -> Response {
    axum::Json(cached().clone()).into_response()
}

/// The component a `$ref` names (`#/components/schemas/Call` → `Call`).
fn ref_name(schema: &Value) -> String {
    schema["$ref"]
        .as_str()
        .and_then(|r| r.rsplit('/').next())
        .unwrap_or("object")
        .to_string()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `/docs`: the document as a self-contained page (no scripts, works offline).
pub async fn serve_docs() -> Html<String> {
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>KaiCalls API</title><style>\
         body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
         h2{margin-top:2.2rem;font-family:ui-monospace,monospace;font-size:1.05rem}\
         .m{display:inline-block;min-width:4.2rem;font-weight:700}table{border-collapse:collapse;margin:.4rem 0}\
         td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;font-size:.9rem}code{background:#f4f4f4;padding:0 .2rem}\
         </style></head><body><h1>KaiCalls API</h1><p>Send <code>Authorization: Bearer kc_live_…</code>. \
         Errors: <code>{\"error\": {\"code\", \"message\", \"param\"}}</code>. Machine-readable: \
         <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p>",
    );
    let mut g = Generators::new();
    for op in OPS {
        html.push_str(&format!(
            "<h2><span class=\"m\">{}</span> /api/v1{}</h2><p>{}. {}</p>",
            op.method.to_uppercase(),
            op.path,
            escape(op.summary),
            escape(operation(op, &mut g)["description"].as_str().unwrap_or("")),
        ));
        if !op.query.is_empty() {
            html.push_str("<table><tr><th>Parameter</th><th>Type</th><th>Description</th></tr>");
            for (name, ty, required, desc) in op.query {
                let req = if *required { " (required)" } else { "" };
                html.push_str(&format!(
                    "<tr><td><code>{name}</code>{req}</td><td>{ty}</td><td>{}</td></tr>",
                    escape(desc)
                ));
            }
            html.push_str("</table>");
        }
        if let Some(body) = op.body {
            let name = ref_name(&body(&mut g));
            html.push_str(&format!("<p>Body: <code>{name}</code></p>"));
        }
        for (status, schema) in op.ok {
            let name = ref_name(&schema(&mut g));
            html.push_str(&format!(
                "<p>Answers {status} with <code>{name}</code>.</p>"
            ));
        }
    }
    html.push_str("</body></html>");
    Html(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed `openapi.json` is the document the server serves.
    #[test]
    fn the_committed_document_is_current() {
        let committed = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json"));
        let committed: Value = serde_json::from_str(committed).expect("openapi.json is JSON");
        assert!(
            committed == document(),
            "openapi.json is out of date: run `cargo run -q -- openapi > openapi.json`"
        );
    }

    #[test]
    fn every_schema_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        for piece in text.split("#/components/schemas/").skip(1) {
            let name: String = piece
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(
                doc["components"]["schemas"].get(&name).is_some(),
                "missing schema {name}"
            );
        }
    }
}
