//! Inbound calls: the agent answers its phone. A call to a business's number arrives
//! as Vapi's `assistant-request` (or, with a test key, `POST /api/v1/sandbox/inbound-calls`);
//! [`ring`] matches the caller to a lead (an unknown caller becomes one, source
//! `inbound_call`), decides how the call is taken (business hours: a conversation, or
//! out of hours a message), and records the call `ringing`, `direction: "inbound"`,
//! with its usage row, in one transaction. From there it is any call: the engine's
//! state machine, analysis, recording copy, events and webhooks. During the call the
//! agent's tools run (`tools.rs`); when it ends, [`on_call_ended`] (in the engine's
//! final transaction) keeps a voicemail and raises the staff alerts.
//!
//! - `hours.rs`: business hours, out-of-hours handling, transfer destinations.
//! - `tools.rs`: `lookup_lead`, `update_lead`, `schedule_callback`, `transfer_to_human`,
//!   `end_call`; Vapi's tool definitions.
//! - `sandbox.rs`: the simulated caller and its magic numbers.
//! - `routes.rs`: `/voicemails`, `/sandbox/inbound-calls`.

pub mod hours;
pub mod routes;
pub mod sandbox;
pub mod tools;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::any::AnyRow;

use crate::agents::{self, Agent};
use crate::alerts;
use crate::auth::api_key::Mode;
use crate::calls::engine::Engine;
use crate::calls::{enrichment, repo, Call, CallStatus, EndedReason, QueuedCall};
use crate::clock::Timestamp;
use crate::error::ApiError;
use crate::leads::{self, Lead};
use crate::numbers::PhoneNumber;
use crate::store::row::Columns;
use crate::store::Tx;
use crate::tenancy::{self, Business};
use crate::voice::{render, Role, Scripted};

/// A call arriving at one of our numbers.
pub struct Ring {
    pub number: PhoneNumber,
    /// The caller (E.164).
    pub caller: String,
    /// The provider's id for the conversation: one inbound call per id.
    pub conversation_id: String,
    pub control_url: Option<String>,
    /// `vapi` or `simulator`.
    pub provider: &'static str,
    pub mode: Mode,
    /// Whom the call is metered to: the sandbox key (and its user), else the number
    /// and the business's owner.
    pub key_id: Option<String>,
    pub user_id: Option<String>,
    /// A simulated caller's script, stored with the call (the sandbox).
    pub script: Option<Script>,
}

/// Builds a simulated caller's script for the call as recorded.
pub type Script = Box<dyn FnOnce(&Call) -> Vec<Scripted> + Send>;

/// An answered ring: the call as recorded and what it was answered with.
pub struct Answered {
    pub call: Call,
    pub agent: Agent,
    pub business: Business,
    pub lead: Option<Lead>,
    /// The business was open when the call came in.
    pub open: bool,
}

const DEFAULT_GREETING: &str =
    "Thank you for calling {{business_name}}, this is {{agent_name}}. How can I help you today?";
const MESSAGE_GREETING: &str = "Thank you for calling {{business_name}}. We're closed right now, but I can take a message and someone will call you back. What would you like to tell us?";

/// The greeting variables: the reference's nine plus the agent's name and the caller.
fn greeting_variables(call_vars: &Value, agent: &Agent, caller: &str) -> Value {
    let mut v = call_vars.clone();
    v["agent_name"] = json!(agent.name);
    v["caller_number"] = json!(caller);
    v
}

/// Records the inbound call (or finds the one already recorded for this
/// conversation: a provider's retry answers the same call).
pub async fn ring(engine: &Engine, ring: Ring) -> Result<Answered, ApiError> {
    let store = engine.store();
    if let Some(call) = repo::get_by_conversation(store, &ring.conversation_id).await? {
        if call.is_inbound() && call.business_id == ring.number.business_id {
            return answered(engine, call).await;
        }
        return Err(ApiError::Conflict(
            "This conversation is already another call's".into(),
        ));
    }
    let agent_id = ring.number.agent_id.clone().ok_or_else(|| {
        ApiError::invalid(
            "to",
            "This number has no agent to answer it: assign one with POST /api/v1/phone-numbers",
        )
    })?;
    let agent = agents::get_by_id(store, &agent_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Agent"))?;
    let business = tenancy::business(store, &agent.business_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("agent {} has no business", agent.id))?;
    let now = engine.clock().now();
    let known = leads::find_by_phone(store, &business.id, &ring.caller).await?;
    let lead_created = known.is_none();
    let lead = known.unwrap_or_else(|| {
        let mut lead = Lead::new(&business.id, now);
        lead.phone = Some(ring.caller.clone());
        lead.source = Some("inbound_call".into());
        lead.agent_id = Some(agent.id.clone());
        lead
    });
    let open = agent
        .business_hours
        .as_ref()
        .is_none_or(|h| h.is_open(now, &business.timezone));
    let handling = if !open && agent.after_hours_action == "take_message" {
        "message"
    } else {
        "conversation"
    };
    let variables = enrichment::variables(None, Some(&lead), &business, now);
    let template = match handling {
        "message" => MESSAGE_GREETING,
        _ => agent
            .inbound_greeting
            .as_deref()
            .unwrap_or(DEFAULT_GREETING),
    };
    let greeting = render(
        template,
        &greeting_variables(&variables, &agent, &ring.caller),
    );
    let mut call = Call::queued(QueuedCall {
        id: crate::ids::new_id(),
        business_id: business.id.clone(),
        agent_id: agent.id.clone(),
        agent_name: Some(agent.name.clone()),
        lead_id: Some(lead.id.clone()),
        key_id: ring.key_id.clone(),
        mode: ring.mode,
        to: ring.number.phone_number.clone(),
        from: Some(ring.caller.clone()),
        name: lead.name.clone(),
        context: None,
        first_message: Some(greeting),
        max_duration: agent
            .max_duration
            .unwrap_or(crate::calls::DEFAULT_MAX_DURATION),
        webhook_url: None,
        webhook_events: vec![],
        metadata: None,
        variables,
        provider: ring.provider.to_string(),
        compliance: None,
        scheduled_at: None,
        created_at: now,
        campaign_id: None,
    });
    call.direction = "inbound".into();
    call.status = CallStatus::Ringing;
    call.conversation_id = Some(ring.conversation_id.clone());
    call.control_url = ring.control_url.clone();
    call.handling = Some(handling.to_string());
    call.lead_created = lead_created;

    let mut conn = store.reader().acquire().await?;
    let user_id = match &ring.user_id {
        Some(u) => u.clone(),
        None => tenancy::owner_of(&mut conn, &business.id)
            .await?
            .unwrap_or_default(),
    };
    drop(conn);
    let key_id = ring
        .key_id
        .clone()
        .unwrap_or_else(|| format!("number:{}", ring.number.id));
    let scale = engine.provider_for(ring.mode).time_scale();
    let steps: Vec<(Value, Timestamp)> = ring
        .script
        .map(|script| script(&call))
        .unwrap_or_default()
        .into_iter()
        .map(|s| {
            (
                json!({ "event": s.event }),
                now.plus_secs_f64(s.after_secs / scale),
            )
        })
        .collect();
    let (recorded, new_lead) = (call.clone(), lead.clone());
    let vapi = ring.provider == "vapi";
    let written = store
        .write(move |tx| {
            Box::pin(async move {
                if lead_created {
                    leads::save(tx, &new_lead, true).await?;
                    leads::routes::emit(tx, &new_lead, "lead.created", recorded.mode, now)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                } else {
                    leads::increment_interactions(tx, &new_lead.id, now).await?;
                }
                repo::insert(tx, &recorded).await?;
                crate::calls::engine::emit_status_event(tx, &recorded, now).await?;
                let row = crate::usage::CallRow {
                    key_id: &key_id,
                    user_id: &user_id,
                    business_id: &recorded.business_id,
                    mode: recorded.mode,
                    endpoint: crate::usage::INBOUND_ENDPOINT,
                    call_id: &recorded.id,
                };
                crate::usage::record_call_row(tx, &row, now).await?;
                if !steps.is_empty() {
                    let steps: Vec<_> = steps.iter().map(|(p, due)| (p, *due)).collect();
                    crate::jobs::enqueue_all(
                        tx,
                        crate::jobs::Kind::ProviderEvent,
                        &recorded.id,
                        &steps,
                        now,
                    )
                    .await?;
                }
                if vapi {
                    // Vapi's messages can be lost: ask it after the call should be over.
                    let due = now.plus_secs_f64(recorded.max_duration as f64 + 60.0);
                    crate::jobs::enqueue(
                        tx,
                        crate::jobs::Kind::Reconcile,
                        &recorded.id,
                        &json!({}),
                        due,
                        now,
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .await;
    if let Err(err) = written {
        // The same conversation, recorded at this moment by another request.
        if let Some(call) = repo::get_by_conversation(store, &ring.conversation_id).await? {
            return answered(engine, call).await;
        }
        return Err(err.into());
    }
    crate::wake::call_changed(&call.id);
    Ok(Answered {
        call,
        agent,
        business,
        lead: Some(lead),
        open,
    })
}

/// The answer for a call already recorded.
async fn answered(engine: &Engine, call: Call) -> Result<Answered, ApiError> {
    let store = engine.store();
    let agent = agents::get_by_id(store, &call.agent_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Agent"))?;
    let business = tenancy::business(store, &call.business_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Business"))?;
    let lead = match &call.lead_id {
        Some(id) => leads::get_by_id(store, id).await?,
        None => None,
    };
    let open = call.handling.as_deref() != Some("message");
    Ok(Answered {
        call,
        agent,
        business,
        lead,
        open,
    })
}

/// Vapi's answer to `assistant-request`: the number's agent's assistant, with the
/// greeting, the CRM variables, our server (secret included) and the messages we
/// want; with a model configured on the agent, also its inbound prompt and our tools.
pub fn vapi_answer(vapi: &crate::voice::vapi::Vapi, a: &Answered) -> Value {
    let call = &a.call;
    let mut variables = greeting_variables(&call.variables, &a.agent, call.customer_number());
    variables["kaicalls_call_id"] = json!(call.id);
    variables["business_open"] = json!(a.open);
    variables["handling"] = json!(call.handling);
    variables["lead_id"] = json!(call.lead_id);
    let mut overrides = json!({
        "firstMessage": call.first_message,
        "variableValues": variables,
        "maxDurationSeconds": call.max_duration,
        "server": vapi.server(),
        "serverMessages": ["status-update", "end-of-call-report", "tool-calls", "transfer-destination-request"],
        "metadata": { "kaicalls_call_id": call.id },
        "monitorPlan": { "controlEnabled": true },
    });
    let prompt = a
        .agent
        .inbound_prompt
        .clone()
        .or_else(|| a.agent.system_prompt.clone());
    if let (Some(provider), Some(model)) = (
        a.agent.model["provider"].as_str(),
        a.agent.model["model"].as_str(),
    ) {
        let mut m = json!({
            "provider": provider,
            "model": model,
            "tools": tools::vapi_definitions(vapi),
        });
        if let Some(prompt) = prompt {
            m["messages"] = json!([{ "role": "system", "content": prompt }]);
        }
        overrides["model"] = m;
    }
    json!({
        "assistantId": a.agent.vapi_assistant_id,
        "assistantOverrides": overrides,
    })
}

/// A voicemail, as the API shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Voicemail {
    pub id: String,
    pub business_id: String,
    pub call_id: String,
    pub lead_id: Option<String>,
    /// Who called (E.164).
    pub caller: String,
    /// What the caller said.
    pub transcript: String,
    pub summary: Option<String>,
    /// Seconds.
    pub duration: Option<i64>,
    /// A signed, expiring link to the call's recording (WAV).
    pub recording_url: Option<String>,
    pub mode: Mode,
    pub created_at: Timestamp,
}

pub const VOICEMAIL_COLUMNS: &str = "v.id, v.business_id, v.mode, v.call_id, v.lead_id, v.caller, v.transcript, v.summary, v.duration, v.created_at, c.recording_source";

pub fn voicemail_row(
    row: &AnyRow,
    links: &crate::recordings::links::RecordingLinks,
    now: Timestamp,
) -> sqlx::Result<Voicemail> {
    let r = Columns(row);
    let call_id: String = r.get("call_id")?;
    let recording: Option<String> = r.get("recording_source")?;
    Ok(Voicemail {
        id: r.get("id")?,
        business_id: r.get("business_id")?,
        lead_id: r.get("lead_id")?,
        caller: r.get("caller")?,
        transcript: r.get("transcript")?,
        summary: r.get("summary")?,
        duration: r.get("duration")?,
        recording_url: recording.map(|_| links.sign(&call_id, now).0),
        mode: r.parsed("mode", Mode::parse)?,
        created_at: r.time("created_at")?,
        call_id,
    })
}

/// Words of a caller who wants to leave a message.
const MESSAGE_PHRASES: [&str; 5] = [
    "leave a message",
    "take a message",
    "leave a voicemail",
    "pass on a message",
    "leave my number",
];

/// Whether a finished inbound call is a voicemail: the caller spoke, and the call was
/// taken as a message (out of hours) or the caller asked to leave one; a transferred
/// call is not.
pub fn is_voicemail(call: &Call) -> bool {
    let turns = call.transcript.as_deref().unwrap_or_default();
    let said: Vec<String> = turns
        .iter()
        .filter(|t| t.role == Role::Customer)
        .map(|t| t.text.to_lowercase())
        .collect();
    !said.is_empty()
        && call.ended_reason != Some(EndedReason::Transferred)
        && (call.handling.as_deref() == Some("message")
            || said
                .iter()
                .any(|s| MESSAGE_PHRASES.iter().any(|p| s.contains(p))))
}

/// Everything the caller said, one line.
fn customer_words(call: &Call) -> String {
    call.transcript
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|t| t.role == Role::Customer)
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What an inbound voicemail or transfer was, for its summary (`None`: the
/// analyzer's summary stands).
pub fn summary_of(call: &Call) -> Option<String> {
    if !call.is_inbound() {
        return None;
    }
    let said = |n: usize| {
        let text = customer_words(call);
        let short: String = text.chars().take(n).collect();
        if short.len() < text.len() {
            format!("{short}…")
        } else {
            short
        }
    };
    if call.ended_reason == Some(EndedReason::Transferred) {
        let to = call.transfer_destination.as_deref().unwrap_or("a person");
        return Some(format!(
            "{} asked for a person and was transferred to {to}: \"{}\"",
            who(call),
            said(160)
        ));
    }
    if is_voicemail(call) {
        return Some(format!("{} left a message: \"{}\"", who(call), said(240)));
    }
    None
}

fn who(call: &Call) -> String {
    match &call.name {
        Some(n) => format!("{n} ({})", call.customer_number()),
        None => call.customer_number().to_string(),
    }
}

/// In the transaction that ends an inbound call: its voicemail (`voicemail.received`)
/// and the staff alerts it raises (new lead, follow-up, voicemail).
pub async fn on_call_ended(
    tx: &mut Tx,
    call: &Call,
    now: Timestamp,
    clock: &crate::clock::SharedClock,
) -> anyhow::Result<()> {
    if !call.is_inbound()
        || call.status != CallStatus::Completed && call.status != CallStatus::Failed
    {
        return Ok(());
    }
    let summary = call.summary.clone().unwrap_or_default();
    let raise = |event: &'static str, subject: String, body: String| alerts::Raise {
        business_id: &call.business_id,
        mode: call.mode,
        call_id: Some(&call.id),
        event,
        subject,
        body,
    };
    if call.lead_created {
        let body = format!(
            "{} called {} for the first time and is now a lead.\n\nSummary: {summary}\nCall: {}",
            who(call),
            call.to,
            call.id
        );
        let alert = raise("new_lead", format!("New lead: {}", who(call)), body);
        alerts::raise(tx, alert, clock).await?;
    }
    if call.outcome.as_deref() == Some("follow_up") {
        let body = format!(
            "{} needs a follow-up.\n\nSummary: {summary}\nCall: {}",
            who(call),
            call.id
        );
        let alert = raise("follow_up", format!("Follow up with {}", who(call)), body);
        alerts::raise(tx, alert, clock).await?;
    }
    if is_voicemail(call) {
        let transcript = customer_words(call);
        let id = crate::ids::new_id();
        let inserted = sqlx::query(
            "INSERT INTO voicemails (id, business_id, mode, call_id, lead_id, caller, transcript, summary, duration, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (call_id) DO NOTHING",
        )
        .bind(&id)
        .bind(&call.business_id)
        .bind(call.mode.as_str())
        .bind(&call.id)
        .bind(&call.lead_id)
        .bind(call.customer_number())
        .bind(&transcript)
        .bind(&call.summary)
        .bind(call.duration)
        .bind(now.micros())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            crate::events::emit(
                tx,
                crate::events::NewEvent {
                    kind: "voicemail.received",
                    object_type: "voicemail",
                    object_id: &id,
                    business_id: &call.business_id,
                    mode: call.mode,
                    data: json!({
                        "event": "voicemail.received",
                        "voicemail_id": id,
                        "call_id": call.id,
                        "lead_id": call.lead_id,
                        "caller": call.customer_number(),
                        "transcript": transcript,
                        "summary": call.summary,
                        "timestamp": now.to_rfc3339(),
                    }),
                },
                None,
                now,
            )
            .await?;
            let body = format!(
                "{} left a message:\n\n\"{transcript}\"\n\nSummary: {summary}\nCall: {}",
                who(call),
                call.id
            );
            let alert = raise("voicemail", format!("Voicemail from {}", who(call)), body);
            alerts::raise(tx, alert, clock).await?;
        }
    }
    Ok(())
}
