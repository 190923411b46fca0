//! `POST /api/v1/calls`: from a request body to a dialed call.
//!
//! The call is placed with the provider before the API answers, so the 201 carries
//! `conversation_id`, and a refusal is `500 call_failed` with the call recorded as
//! failed. The route runs [`create_call`] as a detached task: a client that hangs up
//! mid-request cannot leave half a call behind.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::engine::{Ending, Engine};
use super::idempotency::{self, Saved};
use super::{enrichment, repo, validate_max_duration, Call, CallStatus, EndedReason};
use crate::auth::KeyPrincipal;
use crate::compliance::gate;
use crate::error::ApiError;
use crate::jobs::{self, Kind};
use crate::phone::E164;
use crate::usage;
use crate::voice::ProviderError;
use crate::{agents, ids, leads, tenancy};

const MAX_CONTEXT_CHARS: usize = 10_000;
const MAX_METADATA_KEYS: usize = 20;
/// How long a dial may take before its guard job declares the call failed.
const DIAL_GUARD_SECS: f64 = 300.0;

pub const WEBHOOK_EVENT_TYPES: [&str; 5] = [
    "call.queued",
    "call.ringing",
    "call.in_progress",
    "call.completed",
    "call.failed",
];

/// The request body. Unknown fields are ignored and `null` equals absent; the
/// reference's aliases (`customer_name`, `first_message`) are separate fields so a
/// client sending both spellings is not refused.
#[derive(Deserialize, Default, schemars::JsonSchema)]
#[schemars(rename = "CreateCall")]
pub struct CreateCallBody {
    #[schemars(required, with = "String")]
    pub agent_id: Option<String>,
    /// The number to call (E.164, e.g. `+15125550100`).
    #[schemars(required, with = "String")]
    pub to: Option<String>,
    pub name: Option<String>,
    pub customer_name: Option<String>,
    pub context: Option<String>,
    #[serde(rename = "firstMessage")]
    pub first_message_camel: Option<String>,
    pub first_message: Option<String>,
    pub lead_id: Option<String>,
    pub webhook_url: Option<String>,
    /// Seconds after which the call is ended (default: the agent's, else 600).
    #[schemars(range(min = 10, max = 3600))]
    #[serde(default, deserialize_with = "crate::http::json::integral")]
    #[schemars(with = "Option<i64>")]
    pub max_duration: Option<i64>,
    pub metadata: Option<Value>,
    pub webhook_events: Option<Vec<String>>,
    /// When to place the call (ISO 8601, at most 90 days ahead). Until then the call
    /// is `queued` with `scheduled_at`; a time in the past places it now.
    pub scheduled_at: Option<String>,
    /// When the call's time falls outside the recipient's calling hours, move it to
    /// their next allowed moment (the answer's `scheduled_at`) instead of refusing
    /// it with `outside_calling_hours`.
    pub respect_calling_hours: Option<bool>,
}

/// The furthest ahead a call may be scheduled.
const MAX_SCHEDULE_DAYS: i64 = 90;

/// A validated request: what a call may be created from.
pub struct NewCall {
    pub agent_id: String,
    pub to: E164,
    pub name: Option<String>,
    pub context: Option<String>,
    pub first_message: Option<String>,
    pub lead_id: Option<String>,
    pub webhook_url: Option<String>,
    pub max_duration: Option<i64>,
    pub metadata: Option<Value>,
    pub webhook_events: Vec<String>,
    pub scheduled_at: Option<crate::clock::Timestamp>,
    pub respect_calling_hours: bool,
}

fn trimmed(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl CreateCallBody {
    pub fn validate(self) -> Result<NewCall, ApiError> {
        let agent_id = trimmed(self.agent_id)
            .ok_or_else(|| ApiError::invalid("agent_id", "agent_id is required"))?;
        let to = trimmed(self.to).ok_or_else(|| ApiError::invalid("to", "to is required"))?;
        let to = E164::parse(&to).map_err(|m| ApiError::invalid("to", m))?;
        let name = trimmed(self.name.or(self.customer_name));
        if name.as_ref().is_some_and(|n| n.chars().count() > 200) {
            return Err(ApiError::invalid(
                "name",
                "name must be at most 200 characters",
            ));
        }
        let context = trimmed(self.context);
        if context
            .as_ref()
            .is_some_and(|c| c.chars().count() > MAX_CONTEXT_CHARS)
        {
            return Err(ApiError::invalid(
                "context",
                format!("context must be at most {MAX_CONTEXT_CHARS} characters"),
            ));
        }
        let first_message = trimmed(self.first_message_camel.or(self.first_message));
        if first_message
            .as_ref()
            .is_some_and(|m| m.chars().count() > 1000)
        {
            return Err(ApiError::invalid(
                "firstMessage",
                "firstMessage must be at most 1000 characters",
            ));
        }
        let max_duration = self.max_duration.map(validate_max_duration).transpose()?;
        let webhook_url = trimmed(self.webhook_url)
            .map(|u| validate_webhook_url(&u).map(|_| u))
            .transpose()?;
        let metadata = self.metadata.map(validate_metadata).transpose()?;
        let webhook_events = match self.webhook_events {
            None => vec!["call.completed".to_string(), "call.failed".to_string()],
            Some(events) if events.is_empty() => {
                return Err(ApiError::invalid(
                    "webhook_events",
                    "webhook_events must name at least one event (omit it for call.completed and call.failed)",
                ));
            }
            Some(events) => {
                if let Some(bad) = events
                    .iter()
                    .find(|e| !WEBHOOK_EVENT_TYPES.contains(&e.as_str()))
                {
                    return Err(ApiError::invalid(
                        "webhook_events",
                        format!("Unknown webhook event '{bad}'"),
                    ));
                }
                events
            }
        };
        let scheduled_at = trimmed(self.scheduled_at)
            .map(|t| {
                crate::clock::Timestamp::parse(&t).ok_or_else(|| {
                    ApiError::invalid("scheduled_at", "scheduled_at must be an ISO 8601 time")
                })
            })
            .transpose()?;
        Ok(NewCall {
            scheduled_at,
            respect_calling_hours: self.respect_calling_hours.unwrap_or(false),
            agent_id,
            to,
            name,
            context,
            first_message,
            lead_id: trimmed(self.lead_id),
            webhook_url,
            max_duration,
            metadata,
            webhook_events,
        })
    }
}

pub fn validate_webhook_url(url: &str) -> Result<(), ApiError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    match host {
        Some(h) if !h.is_empty() && url.len() <= 2048 && !url.contains(char::is_whitespace) => {
            Ok(())
        }
        _ => Err(ApiError::invalid(
            "webhook_url",
            "webhook_url must be an absolute http(s) URL",
        )),
    }
}

/// A flat object of at most 20 keys whose values are strings, numbers or booleans.
fn validate_metadata(value: Value) -> Result<Value, ApiError> {
    let Value::Object(map) = &value else {
        return Err(ApiError::invalid("metadata", "metadata must be an object"));
    };
    if map.len() > MAX_METADATA_KEYS {
        return Err(ApiError::invalid(
            "metadata",
            format!("metadata may have at most {MAX_METADATA_KEYS} keys"),
        ));
    }
    for (k, v) in map {
        let flat = matches!(
            v,
            Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null
        );
        if k.len() > 40 || !flat || v.as_str().is_some_and(|s| s.len() > 500) {
            return Err(ApiError::invalid(
                "metadata",
                format!("metadata['{k}'] must be a string (≤ 500 chars), number or boolean under a key of ≤ 40 chars"),
            ));
        }
    }
    Ok(value)
}

/// A failed creation: the error to answer, and the call it recorded (if any) so the
/// usage row can link to it.
pub struct CreateFailure {
    pub error: ApiError,
    pub call_id: Option<String>,
}

impl From<ApiError> for CreateFailure {
    fn from(error: ApiError) -> Self {
        CreateFailure {
            error,
            call_id: None,
        }
    }
}

impl From<sqlx::Error> for CreateFailure {
    fn from(err: sqlx::Error) -> Self {
        ApiError::from(err).into()
    }
}

impl From<anyhow::Error> for CreateFailure {
    fn from(err: anyhow::Error) -> Self {
        ApiError::from(err).into()
    }
}

/// Validates, enriches, records and dials a call; writes the usage row of the request
/// in the transaction that makes the call visible as created.
///
/// With an `Idempotency-Key` (already claimed by the caller), the response is saved
/// in the same transaction as the outcome.
pub async fn create_call(
    engine: Arc<Engine>,
    key: Arc<KeyPrincipal>,
    body: CreateCallBody,
    idempotency_key: Option<String>,
) -> Result<Call, CreateFailure> {
    let input = body.validate()?;
    let store = engine.store();
    let tenant = &key.tenant;
    let agent = agents::get(store, tenant, &input.agent_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Agent"))?;
    let from = agent.phone_number.clone().ok_or_else(|| {
        ApiError::invalid(
            "agent_id",
            "This agent has no phone number: assign one with POST /api/v1/phone-numbers",
        )
    })?;
    let lead = match &input.lead_id {
        Some(id) => Some(
            leads::get(store, tenant, id)
                .await?
                .ok_or_else(|| ApiError::not_found("Lead"))?,
        ),
        None => leads::find_by_phone(store, &agent.business_id, input.to.as_str()).await?,
    };
    let business = tenancy::business(store, &agent.business_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("agent {} has no business", agent.id))?;

    let now = engine.clock().now();
    // The pre-dial gate: nothing is recorded or dialed past a refusal but the refusal.
    let subject = gate::Subject {
        business: &business,
        lead: lead.as_ref(),
        to: input.to.as_str(),
        mode: tenant.mode,
        purpose: gate::Purpose::Single,
        window: None,
        call_id: None,
    };
    if input
        .scheduled_at
        .is_some_and(|t| t.micros() > now.micros() + MAX_SCHEDULE_DAYS * 86_400_000_000)
    {
        return Err(ApiError::invalid(
            "scheduled_at",
            format!("scheduled_at is at most {MAX_SCHEDULE_DAYS} days ahead"),
        )
        .into());
    }
    // When the call is to be placed: its scheduled time, or now.
    let mut dial_at = input.scheduled_at.filter(|t| *t > now);
    let mut checked = gate::check(store, &subject, dial_at.unwrap_or(now)).await;
    if let Err(refused) = &checked {
        let next = refused.decision.as_ref().and_then(|d| d.next_allowed_at);
        if let (true, "outside_calling_hours", Some(next)) =
            (input.respect_calling_hours, refused.reason, next)
        {
            dial_at = Some(next);
            checked = gate::check(store, &subject, next).await;
        }
    }
    let decision = match checked {
        Ok(decision) => decision,
        Err(refused) => {
            if let ApiError::Internal(_) = refused.error {
                return Err(refused.error.into());
            }
            let call = (business.id.as_str(), tenant.mode, input.to.as_str());
            refused.record(store, call, Some(&key.key_id), now).await?;
            return Err(refused.error.into());
        }
    };
    let provider = engine.provider_for(tenant.mode);
    let call = Call::queued(super::QueuedCall {
        id: ids::new_id(),
        business_id: agent.business_id.clone(),
        agent_id: agent.id.clone(),
        agent_name: Some(agent.name.clone()),
        lead_id: lead.as_ref().map(|l| l.id.clone()),
        key_id: Some(key.key_id.clone()),
        mode: tenant.mode,
        to: input.to.to_string(),
        from: Some(from),
        name: input.name.clone(),
        context: input.context.clone(),
        first_message: input.first_message.or_else(|| agent.first_message.clone()),
        max_duration: input
            .max_duration
            .or(agent.max_duration)
            .unwrap_or(super::DEFAULT_MAX_DURATION),
        webhook_url: input.webhook_url,
        webhook_events: input.webhook_events,
        metadata: input.metadata,
        variables: enrichment::variables(input.name.as_deref(), lead.as_ref(), &business, now),
        provider: provider.name().to_string(),
        compliance: serde_json::to_value(&decision).ok(),
        scheduled_at: dial_at,
        created_at: now,
        campaign_id: None,
    });

    if let Some(at) = dial_at {
        return schedule(
            &engine,
            &key,
            call,
            at,
            input.respect_calling_hours,
            idempotency_key,
        )
        .await;
    }

    // 1. Record the call, queued, with a guard that fails it should the dial below
    //    never finish (the process dies mid-dial).
    let recorded = call.clone();
    let lead_id = lead.as_ref().map(|l| l.id.clone());
    let (key_id, idem) = (key.key_id.clone(), idempotency_key.clone());
    store
        .write(move |tx| {
            Box::pin(async move {
                repo::insert(tx, &recorded).await?;
                super::engine::emit_status_event(tx, &recorded, now).await?;
                if let Some(lead_id) = &lead_id {
                    leads::increment_interactions(tx, lead_id, now).await?;
                }
                let guard_due = now.plus_secs_f64(DIAL_GUARD_SECS);
                jobs::enqueue(
                    tx,
                    Kind::DialGuard,
                    &recorded.id,
                    &json!({}),
                    guard_due,
                    now,
                )
                .await?;
                if let Some(idem) = &idem {
                    idempotency::attach_call(tx, &key_id, idem, &recorded.id).await?;
                }
                Ok(())
            })
        })
        .await?;
    crate::fault::point("after-call-recorded");

    dial_and_record(&engine, Some(&key), &agent, call, idempotency_key).await
}

/// A call for later: recorded `queued` with `scheduled_at`, its `Dial` job due then,
/// and the request answered (usage row, saved answer) in the same transaction.
async fn schedule(
    engine: &Arc<Engine>,
    key: &Arc<KeyPrincipal>,
    call: Call,
    at: crate::clock::Timestamp,
    respect_calling_hours: bool,
    idempotency_key: Option<String>,
) -> Result<Call, CreateFailure> {
    let now = engine.clock().now();
    let recorded = call.clone();
    let key = key.clone();
    engine
        .store()
        .write(move |tx| {
            Box::pin(async move {
                repo::insert(tx, &recorded).await?;
                super::engine::emit_status_event(tx, &recorded, now).await?;
                if let Some(lead_id) = &recorded.lead_id {
                    leads::increment_interactions(tx, lead_id, now).await?;
                }
                let payload = json!({ "respect_calling_hours": respect_calling_hours });
                jobs::enqueue(tx, Kind::Dial, &recorded.id, &payload, at, now).await?;
                if let Some(idem) = &idempotency_key {
                    idempotency::attach_call(tx, &key.key_id, idem, &recorded.id).await?;
                }
                record_created(tx, &key, &recorded, idempotency_key.as_deref(), now).await?;
                Ok(())
            })
        })
        .await?;
    Ok(call)
}

/// The `Dial` job of a scheduled call or a campaign's, at its time: the gate again
/// (the list or the hours may have changed: a listed number is canceled, a closed
/// hour or a full frequency cap moves the call to the rule's next allowed moment if
/// it asked so, else cancels it), then the dial, with the guard that fails a dial
/// cut short, exactly as an immediate call. A campaign's call is held to the
/// campaign's window and voicemail choice, and canceled with its campaign.
pub async fn dial_scheduled(
    engine: &Arc<Engine>,
    job: &jobs::Job,
    call: Call,
) -> anyhow::Result<()> {
    let store = engine.store();
    let now = engine.clock().now();
    let job_id = job.id.clone();
    let respect = job.payload["respect_calling_hours"]
        .as_bool()
        .unwrap_or(false);
    let campaign = match job.payload["campaign_id"].as_str() {
        Some(id) => crate::campaigns::get_by_id(store.reader(), id).await?,
        None => None,
    };
    let cancel = |why: &'static str, message: String| {
        let mut canceled = call.clone();
        canceled.status = CallStatus::Canceled;
        canceled.provider_ended_reason = Some(why.to_string());
        canceled.error = Some(message);
        canceled.ended_at = Some(now);
        canceled.updated_at = now;
        canceled
    };
    let save_canceled = |canceled: Call| {
        let (engine2, current, job_id) = (engine.clone(), call.clone(), job_id.clone());
        let call_id = call.id.clone();
        async move {
            store
                .write_background(move |tx| {
                    Box::pin(async move {
                        engine2
                            .save_transition(tx, &current, &canceled, now)
                            .await?;
                        jobs::complete(tx, &job_id).await?;
                        Ok(())
                    })
                })
                .await?;
            crate::wake::call_changed(&call_id);
            anyhow::Ok(())
        }
    };
    if campaign
        .as_ref()
        .is_some_and(|c| c.status == crate::campaigns::CampaignStatus::Canceled)
    {
        let canceled = cancel(
            "campaign_canceled",
            "Its campaign was canceled before it was dialed".into(),
        );
        return save_canceled(canceled).await;
    }
    let business = tenancy::business(store, &call.business_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("call {} has no business", call.id))?;
    let lead = match &call.lead_id {
        Some(id) => leads::get_by_id(store, id).await?,
        None => None,
    };
    let window = campaign.as_ref().map(|c| c.window());
    let subject = gate::Subject {
        business: &business,
        lead: lead.as_ref(),
        to: &call.to,
        mode: call.mode,
        purpose: match campaign {
            Some(_) => gate::Purpose::Campaign,
            None => gate::Purpose::Single,
        },
        window: window.as_ref(),
        call_id: Some(&call.id),
    };
    match gate::check(store, &subject, now).await {
        Ok(_) => {}
        Err(refused) if matches!(refused.error, ApiError::Internal(_)) => {
            return Err(anyhow::anyhow!("{}", refused.error));
        }
        Err(refused) => {
            let dialed = (call.business_id.as_str(), call.mode, call.to.as_str());
            refused
                .record(store, dialed, call.key_id.as_deref(), now)
                .await?;
            let movable = matches!(refused.reason, "outside_calling_hours" | "frequency_cap");
            if let (true, true, Some(next)) = (respect, movable, refused.retry_at) {
                if campaign
                    .as_ref()
                    .and_then(|c| c.ends_at)
                    .is_some_and(|end| next >= end)
                {
                    let canceled = cancel(
                        "expired",
                        format!("{}; its campaign ends first", refused.error),
                    );
                    return save_canceled(canceled).await;
                }
                let (call_id, payload) = (call.id.clone(), job.payload.clone());
                return store
                    .write_background(move |tx| {
                        Box::pin(async move {
                            repo::set_scheduled_at(tx, &call_id, next, now).await?;
                            jobs::enqueue(tx, Kind::Dial, &call_id, &payload, next, now).await?;
                            jobs::complete(tx, &job_id).await?;
                            Ok(())
                        })
                    })
                    .await;
            }
            return save_canceled(cancel(refused.reason, refused.error.to_string())).await;
        }
    }
    let mut agent = agents::get_by_id(store, &call.agent_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("call {} has no agent", call.id))?;
    if let Some(c) = &campaign {
        if let Some(action) = &c.voicemail_action {
            agent.voicemail_action = action.clone();
        }
        if c.voicemail_message.is_some() {
            agent.voicemail_message = c.voicemail_message.clone();
        }
    }
    // The guard first, and the job done with it: from here a crash fails the call
    // (dial-interrupted) instead of dialing it twice.
    let call_id = call.id.clone();
    store
        .write_background(move |tx| {
            Box::pin(async move {
                let guard_due = now.plus_secs_f64(DIAL_GUARD_SECS);
                jobs::enqueue(tx, Kind::DialGuard, &call_id, &json!({}), guard_due, now).await?;
                jobs::complete(tx, &job_id).await?;
                Ok(())
            })
        })
        .await?;
    match dial_and_record(engine, None, &agent, call, None).await {
        Ok(_) => Ok(()),
        // A refusal is recorded on the call (failed): the job is done either way.
        Err(failure) if matches!(failure.error, ApiError::CallFailed(_)) => Ok(()),
        Err(failure) => Err(anyhow::anyhow!("{}", failure.error)),
    }
}

/// Finishes the call a request with this `Idempotency-Key` began before its process
/// died: dials it if it never was, and answers with it as it now stands.
pub async fn resume_call(
    engine: Arc<Engine>,
    key: Arc<KeyPrincipal>,
    call_id: String,
    idempotency_key: String,
) -> Result<Call, CreateFailure> {
    let store = engine.store();
    let call = repo::get(store, &key.tenant, &call_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("idempotency claim names call {call_id}, which is gone"))?;
    if call.status == CallStatus::Queued && call.conversation_id.is_none() {
        let agent = agents::get(store, &key.tenant, &call.agent_id)
            .await?
            .ok_or_else(|| ApiError::not_found("Agent"))?;
        return dial_and_record(&engine, Some(&key), &agent, call, Some(idempotency_key)).await;
    }
    let mut tx = store.begin().await?;
    record_created(
        &mut tx,
        &key,
        &call,
        Some(&idempotency_key),
        engine.clock().now(),
    )
    .await?;
    tx.commit().await?;
    Ok(call)
}

/// The answer to a creation that placed `call`: the request's usage row and, with an
/// `Idempotency-Key`, the saved 201 — in the transaction that makes it so.
async fn record_created(
    tx: &mut crate::store::Tx,
    key: &KeyPrincipal,
    call: &Call,
    idempotency_key: Option<&str>,
    now: crate::clock::Timestamp,
) -> sqlx::Result<()> {
    let entry = usage::Entry {
        endpoint: "/v1/calls".into(),
        method: "POST",
        status_code: 201,
        call_id: Some(&call.id),
        cost_cents: 0,
    };
    usage::record_in(tx, key, &entry, now).await?;
    if let Some(idem) = idempotency_key {
        let saved = Saved {
            status: 201,
            body: serde_json::to_string(&call.summary())
                .map_err(|e| sqlx::Error::Encode(e.into()))?,
        };
        idempotency::save(tx, &key.key_id, idem, &saved).await?;
    }
    Ok(())
}

/// Steps 2 and 3 of a creation: dial the recorded, queued call and record what came
/// of it, with the request's usage row and (with a key) its saved answer.
async fn dial_and_record(
    engine: &Arc<Engine>,
    key: Option<&Arc<KeyPrincipal>>,
    agent: &agents::Agent,
    call: Call,
    idempotency_key: Option<String>,
) -> Result<Call, CreateFailure> {
    let store = engine.store();
    let provider = engine.provider_for(call.mode);
    // 2. Dial.
    let mut request = super::engine::dial_request(&call);
    request.system_prompt = agent
        .outbound_prompt
        .clone()
        .or_else(|| agent.system_prompt.clone());
    request.model = agent.model.clone();
    request.vapi_assistant_id = agent.vapi_assistant_id.clone();
    request.vapi_phone_number_id = agent.vapi_phone_number_id.clone();
    request.leave_voicemail = agent.voicemail_action != "hang_up";
    request.voicemail_message = agent
        .voicemail_message
        .as_deref()
        .map(|m| crate::voice::render(m, &call.variables));
    let dialed = provider.dial(&request).await;

    // 3. Record the outcome.
    let now = engine.clock().now();
    let (engine, key) = (engine.clone(), key.cloned());
    match dialed {
        Ok(dialed) => {
            let mut placed = call.clone();
            placed.conversation_id = Some(dialed.conversation_id);
            placed.control_url = dialed.control_url;
            let script = dialed.script;
            let saved = placed.clone();
            store
                .write(move |tx| {
                    Box::pin(async move {
                        if !repo::save_state(tx, &saved, CallStatus::Queued).await? {
                            anyhow::bail!("call {} changed while dialing", saved.id);
                        }
                        jobs::cancel_for_subject(tx, &saved.id, &[Kind::DialGuard]).await?;
                        engine.schedule_script(tx, &saved, &script, now).await?;
                        engine.schedule_reconcile(tx, &saved, now).await?;
                        // A request's own answer; a scheduled dial answered long ago.
                        if let Some(key) = &key {
                            record_created(tx, key, &saved, idempotency_key.as_deref(), now)
                                .await?;
                        }
                        Ok(())
                    })
                })
                .await?;
            crate::wake::call_changed(&call.id);
            Ok(placed)
        }
        Err(err) => {
            let message = match &err {
                ProviderError::Refused(m) => m.clone(),
                ProviderError::Other(e) => {
                    tracing::error!(call = %call.id, error = %format!("{e:#}"), "dial failed");
                    "The voice provider failed to place the call".to_string()
                }
            };
            let failed = engine
                .finish(
                    &call,
                    Ending {
                        reason: EndedReason::ProviderError,
                        raw_reason: "dial-refused".into(),
                        duration_secs: None,
                        report: None,
                        error_message: Some(message.clone()),
                    },
                    now,
                )
                .await;
            let error =
                ApiError::CallFailed(format!("{message} (call {} recorded as failed)", call.id));
            let saved = idempotency_key.map(|idem| {
                let answer = Saved {
                    status: error.status().as_u16(),
                    body: error.envelope().to_string(),
                };
                (idem, answer)
            });
            let current = call.clone();
            store
                .write(move |tx| {
                    Box::pin(async move {
                        engine.save_transition(tx, &current, &failed, now).await?;
                        if let (Some((idem, answer)), Some(key)) = (&saved, &key) {
                            idempotency::save(tx, &key.key_id, idem, answer).await?;
                        }
                        Ok(())
                    })
                })
                .await?;
            crate::wake::call_changed(&call.id);
            Err(CreateFailure {
                error,
                call_id: Some(call.id),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Result<NewCall, ApiError> {
        serde_json::from_value::<CreateCallBody>(v)
            .unwrap()
            .validate()
    }

    fn param_of(r: Result<NewCall, ApiError>) -> String {
        match r {
            Err(ApiError::InvalidRequest { param, .. }) => param.unwrap_or_default(),
            Err(other) => panic!("unexpected {other:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn aliases_and_nulls() {
        let c = body(json!({
            "agent_id": "a", "to": "+15125551234", "customer_name": "Ann",
            "first_message": "Hello", "context": null, "unknown": 1
        }))
        .unwrap();
        assert_eq!(c.name.as_deref(), Some("Ann"));
        assert_eq!(c.first_message.as_deref(), Some("Hello"));
        assert_eq!(c.context, None);
        assert_eq!(c.webhook_events, vec!["call.completed", "call.failed"]);
        let c = body(json!({"agent_id": "a", "to": "+15125551234", "firstMessage": "Hi", "first_message": "Other"})).unwrap();
        assert_eq!(c.first_message.as_deref(), Some("Hi"));
    }

    #[test]
    fn each_bad_parameter_is_named() {
        assert_eq!(param_of(body(json!({"to": "+15125551234"}))), "agent_id");
        assert_eq!(param_of(body(json!({"agent_id": "a"}))), "to");
        assert_eq!(
            param_of(body(json!({"agent_id": "a", "to": "5125551234"}))),
            "to"
        );
        for d in [9, 3601, 0, -5] {
            assert_eq!(
                param_of(body(
                    json!({"agent_id": "a", "to": "+15125551234", "max_duration": d})
                )),
                "max_duration"
            );
        }
        assert_eq!(
            param_of(body(
                json!({"agent_id": "a", "to": "+15125551234", "context": "x".repeat(10_001)})
            )),
            "context"
        );
        assert_eq!(
            param_of(body(
                json!({"agent_id": "a", "to": "+15125551234", "webhook_url": "ftp://x"})
            )),
            "webhook_url"
        );
        let many: serde_json::Map<String, Value> =
            (0..21).map(|i| (format!("k{i}"), json!(i))).collect();
        assert_eq!(
            param_of(body(
                json!({"agent_id": "a", "to": "+15125551234", "metadata": many})
            )),
            "metadata"
        );
        assert_eq!(
            param_of(body(
                json!({"agent_id": "a", "to": "+15125551234", "metadata": {"nested": {"a": 1}}})
            )),
            "metadata"
        );
        assert_eq!(
            param_of(body(
                json!({"agent_id": "a", "to": "+15125551234", "webhook_events": ["call.exploded"]})
            )),
            "webhook_events"
        );
        assert!(body(json!({"agent_id": "a", "to": "+15125551234", "max_duration": 10})).is_ok());
        assert!(body(json!({"agent_id": "a", "to": "+15125551234", "max_duration": 3600})).is_ok());
    }
}
