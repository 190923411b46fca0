//! The tools an agent uses during a call (Vapi's `tool-calls`, the sandbox's script):
//! `lookup_lead`, `update_lead` (status, notes, score), `schedule_callback` (a
//! scheduled outbound call, held to the recipient's calling hours and the do-not-call
//! list), `transfer_to_human` (the first destination whose rule takes the caller now;
//! `call.transferred`), `end_call`. Each runs for the call's own business only, and
//! writes its effect and its timeline entry (`tool.<name>`, arguments and result) in
//! one transaction. A tool's answer is a JSON object: the tool's result, or
//! `{"error": …}` for a refusal the agent can say out loud.

use serde_json::{json, Value};

use crate::agents;
use crate::alerts;
use crate::calls::engine::{emit_status_event, Engine};
use crate::calls::{enrichment, repo, Call, QueuedCall};
use crate::clock::Timestamp;
use crate::compliance::gate;
use crate::events::{self, CallTarget, NewEvent};
use crate::jobs::{self, Kind};
use crate::leads;
use crate::phone::E164;
use crate::store::Tx;
use crate::tenancy;

pub const TOOLS: [&str; 5] = [
    "lookup_lead",
    "update_lead",
    "schedule_callback",
    "transfer_to_human",
    "end_call",
];

/// The furthest ahead a callback can be scheduled.
const MAX_CALLBACK_DAYS: i64 = 30;

/// The tools as Vapi defines them on an assistant: functions served by our
/// provider-events endpoint; `transfer_to_human` is Vapi's `transferCall` without a
/// fixed destination, so Vapi asks us for it (`transfer-destination-request`).
pub fn vapi_definitions(vapi: &crate::voice::vapi::Vapi) -> Value {
    let f = |name: &str, description: &str, properties: Value| {
        json!({
            "type": "function",
            "function": {
                "name": name,
                "description": description,
                "parameters": { "type": "object", "properties": properties },
            },
            "server": vapi.server(),
        })
    };
    json!([
        f("lookup_lead", "Look up what the business knows about the caller (or another number).",
          json!({ "phone": { "type": "string", "description": "E.164; default: the caller" } })),
        f("update_lead", "Record what you learned: the caller's status, notes, score, name or email.",
          json!({ "status": {"type": "string"}, "notes": {"type": "string"}, "score": {"type": "integer"},
                  "name": {"type": "string"}, "email": {"type": "string"} })),
        f("schedule_callback", "Schedule a call back to the caller at a time they choose (ISO 8601).",
          json!({ "at": {"type": "string", "description": "ISO 8601; default: in an hour"},
                  "reason": {"type": "string"}, "phone": {"type": "string"} })),
        {
            "type": "transferCall",
            "function": {
                "name": "transfer_to_human",
                "description": "Hand the caller to a person at the business.",
                "parameters": { "type": "object", "properties": { "reason": { "type": "string" } } },
            },
            "server": vapi.server(),
        },
        f("end_call", "End the call once the caller is done.",
          json!({ "reason": {"type": "string"} })),
    ])
}

/// Runs tool `name` for `call` and records it on the call's timeline; with `job_id`
/// (a scripted step) the job is completed in the same transaction.
pub async fn run(
    engine: &Engine,
    call: &Call,
    name: &str,
    args: &Value,
    job_id: Option<&str>,
) -> anyhow::Result<Value> {
    let now = engine.clock().now();
    let args = if args.is_object() {
        args.clone()
    } else {
        json!({})
    };
    let planned = match name {
        "lookup_lead" => lookup_lead(engine, call, &args).await?,
        "update_lead" => update_lead(engine, call, &args, now).await?,
        "schedule_callback" => schedule_callback(engine, call, &args, now).await?,
        "transfer_to_human" => transfer(engine, call, &args, now).await?,
        "end_call" => Planned::answer(json!({ "ended": true })),
        other => Planned::answer(json!({ "error": format!("Unknown tool '{other}'") })),
    };
    let result = planned.result.clone();
    let (call2, kind, job_id) = (
        call.clone(),
        format!("tool.{name}"),
        job_id.map(str::to_string),
    );
    let note = json!({ "arguments": args, "result": result });
    let clock = engine.clock().clone();
    engine
        .store()
        .write_background(move |tx| {
            Box::pin(async move {
                if let Some(effect) = planned.effect {
                    effect.apply(tx, &call2, now, &clock).await?;
                }
                repo::insert_note(tx, &call2.id, call2.status, &kind, &note, now).await?;
                if let Some(job) = &job_id {
                    jobs::complete(tx, job).await?;
                }
                Ok(())
            })
        })
        .await?;
    crate::wake::call_changed(&call.id);
    if name == "end_call" {
        hang_up_later(engine, call);
    }
    Ok(result)
}

/// A live call's hang-up through the provider (Vapi's control URL); its end-of-call
/// report then ends the call. The simulator's script ends its own calls.
fn hang_up_later(engine: &Engine, call: &Call) {
    let Some(vapi) = engine.vapi_shared().filter(|_| call.provider == "vapi") else {
        return;
    };
    let req = crate::calls::engine::dial_request(call);
    let conv = call.conversation_id.clone().unwrap_or_default();
    // Best effort: the assistant ends the call itself too, and reconciliation asks
    // Vapi about a call whose report never comes.
    tokio::spawn(async move {
        if let Err(err) = crate::voice::VoiceProvider::hang_up(vapi.as_ref(), &req, &conv, 0).await
        {
            tracing::warn!(call = %req.call_id, error = %err, "end_call: hanging up failed");
        }
    });
}

/// What a tool decided: its answer, and the change it makes (written with its
/// timeline entry).
struct Planned {
    result: Value,
    effect: Option<Effect>,
}

impl Planned {
    fn answer(result: Value) -> Planned {
        Planned {
            result,
            effect: None,
        }
    }
}

enum Effect {
    Lead(Box<leads::Lead>, crate::auth::api_key::Mode),
    /// The callback, the alert's subject and body, the owner it is metered to.
    Callback(Box<Call>, (String, String), String),
    Transfer {
        destination: String,
        name: Option<String>,
        reason: String,
    },
}

impl Effect {
    async fn apply(
        self,
        tx: &mut Tx,
        call: &Call,
        now: Timestamp,
        clock: &crate::clock::SharedClock,
    ) -> anyhow::Result<()> {
        match self {
            Effect::Lead(lead, mode) => {
                leads::save(tx, &lead, false).await?;
                leads::routes::emit(tx, &lead, "lead.updated", mode, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            }
            Effect::Callback(callback, (subject, body), user_id) => {
                repo::insert(tx, &callback).await?;
                emit_status_event(tx, &callback, now).await?;
                if let Some(lead) = &callback.lead_id {
                    leads::increment_interactions(tx, lead, now).await?;
                }
                let at = callback.scheduled_at.unwrap_or(now);
                let payload = json!({ "respect_calling_hours": true });
                jobs::enqueue(tx, Kind::Dial, &callback.id, &payload, at, now).await?;
                let key = callback
                    .key_id
                    .clone()
                    .unwrap_or_else(|| format!("call:{}", call.id));
                let row = crate::usage::CallRow {
                    key_id: &key,
                    user_id: &user_id,
                    business_id: &callback.business_id,
                    mode: callback.mode,
                    endpoint: crate::usage::INBOUND_ENDPOINT,
                    call_id: &callback.id,
                };
                crate::usage::record_call_row(tx, &row, now).await?;
                let alert = alerts::Raise {
                    business_id: &callback.business_id,
                    mode: callback.mode,
                    call_id: Some(&call.id),
                    event: "callback_requested",
                    subject,
                    body,
                };
                alerts::raise(tx, alert, clock).await?;
            }
            Effect::Transfer {
                destination,
                name,
                reason,
            } => {
                sqlx::query("UPDATE calls SET transfer_destination = $1 WHERE id = $2")
                    .bind(&destination)
                    .bind(&call.id)
                    .execute(&mut **tx)
                    .await?;
                let mut data = events::call_payload(call, now);
                data["event"] = json!("call.transferred");
                data["transfer_destination"] = json!(destination);
                data["transfer_name"] = json!(name);
                data["transfer_reason"] = json!(reason);
                events::emit(
                    tx,
                    NewEvent {
                        kind: "call.transferred",
                        object_type: "call",
                        object_id: &call.id,
                        business_id: &call.business_id,
                        mode: call.mode,
                        data,
                    },
                    Some(CallTarget {
                        call_id: &call.id,
                        url: call.webhook_url.as_deref(),
                        events: &call.webhook_events,
                    }),
                    now,
                )
                .await?;
                let note = json!({ "destination": destination, "name": name, "reason": reason });
                repo::insert_note(tx, &call.id, call.status, "call.transferred", &note, now)
                    .await?;
            }
        }
        Ok(())
    }
}

fn lead_view(lead: &leads::Lead) -> Value {
    json!({
        "id": lead.id,
        "name": lead.name,
        "phone": lead.phone,
        "email": lead.email,
        "status": lead.status,
        "score": lead.score,
        "notes": lead.notes,
        "source": lead.source,
        "interaction_count": lead.interaction_count,
    })
}

fn phone_arg(args: &Value, call: &Call) -> Result<String, Value> {
    match args["phone"]
        .as_str()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        None => Ok(call.customer_number().to_string()),
        Some(p) => E164::parse(p)
            .map(|p| p.to_string())
            .map_err(|m| json!({ "error": format!("phone: {m}") })),
    }
}

async fn lookup_lead(engine: &Engine, call: &Call, args: &Value) -> anyhow::Result<Planned> {
    let phone = match phone_arg(args, call) {
        Ok(p) => p,
        Err(e) => return Ok(Planned::answer(e)),
    };
    let lead = leads::find_by_phone(engine.store(), &call.business_id, &phone).await?;
    Ok(Planned::answer(match lead {
        Some(lead) => json!({ "found": true, "lead": lead_view(&lead) }),
        None => json!({ "found": false, "phone": phone }),
    }))
}

async fn update_lead(
    engine: &Engine,
    call: &Call,
    args: &Value,
    now: Timestamp,
) -> anyhow::Result<Planned> {
    let Some(lead_id) = &call.lead_id else {
        return Ok(Planned::answer(json!({ "error": "This call has no lead" })));
    };
    let Some(mut lead) = leads::get_by_id(engine.store(), lead_id)
        .await?
        .filter(|l| l.business_id == call.business_id)
    else {
        return Ok(Planned::answer(
            json!({ "error": "The lead no longer exists" }),
        ));
    };
    let mut fields = serde_json::Map::new();
    for key in ["status", "notes", "score", "name", "email"] {
        if let Some(v) = args.get(key).filter(|v| !v.is_null()) {
            fields.insert(key.to_string(), v.clone());
        }
    }
    if fields.is_empty() {
        return Ok(Planned::answer(
            json!({ "error": "Nothing to update: give status, notes, score, name or email" }),
        ));
    }
    let parsed: Result<leads::routes::LeadFields, _> =
        serde_json::from_value(Value::Object(fields));
    let applied = parsed
        .map_err(|e| e.to_string())
        .and_then(|f| f.apply(&mut lead).map_err(|e| e.to_string()));
    if let Err(message) = applied {
        return Ok(Planned::answer(json!({ "error": message })));
    }
    lead.updated_at = now;
    Ok(Planned {
        result: json!({ "updated": true, "lead": lead_view(&lead) }),
        effect: Some(Effect::Lead(Box::new(lead), call.mode)),
    })
}

async fn schedule_callback(
    engine: &Engine,
    call: &Call,
    args: &Value,
    now: Timestamp,
) -> anyhow::Result<Planned> {
    let store = engine.store();
    let phone = match phone_arg(args, call) {
        Ok(p) => p,
        Err(e) => return Ok(Planned::answer(e)),
    };
    let asked = match args["at"].as_str().map(str::trim).filter(|s| !s.is_empty()) {
        None => now.plus_secs_f64(3600.0),
        Some(text) => match Timestamp::parse(text) {
            Some(t) => t,
            None => {
                return Ok(Planned::answer(
                    json!({ "error": "at must be an ISO 8601 time such as 2026-12-05T15:00:00Z" }),
                ))
            }
        },
    };
    if asked.micros() > now.micros() + MAX_CALLBACK_DAYS * 86_400_000_000 {
        return Ok(Planned::answer(
            json!({ "error": format!("A callback can be at most {MAX_CALLBACK_DAYS} days ahead") }),
        ));
    }
    let asked = if asked < now { now } else { asked };
    let Some(agent) = agents::get_by_id(store, &call.agent_id).await? else {
        return Ok(Planned::answer(
            json!({ "error": "The agent no longer exists" }),
        ));
    };
    let Some(business) = tenancy::business(store, &call.business_id).await? else {
        return Ok(Planned::answer(
            json!({ "error": "The business no longer exists" }),
        ));
    };
    let lead = leads::find_by_phone(store, &business.id, &phone).await?;
    // Held to the recipient's calling hours whatever the business's setting for single
    // calls: the gate as for a campaign (hours always enforced, the list, the caps).
    let subject = gate::Subject {
        business: &business,
        lead: lead.as_ref(),
        to: &phone,
        mode: call.mode,
        purpose: gate::Purpose::Campaign,
        window: None,
        call_id: None,
    };
    let mut at = asked;
    let mut checked = gate::check(store, &subject, at).await;
    for _ in 0..3 {
        let Err(refused) = &checked else { break };
        let next = refused
            .retry_at
            .or_else(|| refused.decision.as_ref().and_then(|d| d.next_allowed_at));
        match (refused.reason, next) {
            ("outside_calling_hours" | "frequency_cap", Some(next)) if next > at => {
                at = next;
                checked = gate::check(store, &subject, at).await;
            }
            _ => break,
        }
    }
    let decision = match checked {
        Ok(d) => d,
        Err(refused) => {
            if let crate::error::ApiError::Internal(err) = refused.error {
                return Err(err);
            }
            let reason = match refused.reason {
                "dnc" => "This number is on the do-not-call list",
                "frequency_cap" => "This number has been called too often lately",
                _ => "No time inside the recipient's calling hours could be found",
            };
            return Ok(Planned::answer(
                json!({ "scheduled": false, "reason": refused.reason, "error": reason }),
            ));
        }
    };
    let reason = args["reason"]
        .as_str()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let context = Some(match reason {
        Some(r) => format!("Calling back as asked on an earlier call: {r}"),
        None => "Calling back as asked on an earlier call".to_string(),
    });
    let callback = Call::queued(QueuedCall {
        id: crate::ids::new_id(),
        business_id: business.id.clone(),
        agent_id: agent.id.clone(),
        agent_name: Some(agent.name.clone()),
        lead_id: lead.as_ref().map(|l| l.id.clone()),
        key_id: call.key_id.clone(),
        mode: call.mode,
        to: phone.clone(),
        from: Some(call.to.clone())
            .filter(|_| call.is_inbound())
            .or_else(|| agent.phone_number.clone()),
        name: lead.as_ref().and_then(|l| l.name.clone()),
        context,
        first_message: agent.first_message.clone(),
        max_duration: agent
            .max_duration
            .unwrap_or(crate::calls::DEFAULT_MAX_DURATION),
        webhook_url: None,
        webhook_events: vec![],
        metadata: Some(json!({ "callback_for": call.id })),
        variables: enrichment::variables(None, lead.as_ref(), &business, now),
        provider: engine.provider_for(call.mode).name().to_string(),
        compliance: serde_json::to_value(&decision).ok(),
        scheduled_at: Some(at),
        created_at: now,
        campaign_id: None,
    });
    let mut conn = store.reader().acquire().await?;
    let user_id = tenancy::owner_of(&mut conn, &business.id)
        .await?
        .unwrap_or_default();
    drop(conn);
    let who = match &callback.name {
        Some(n) => format!("{n} ({phone})"),
        None => phone.clone(),
    };
    let alert = (
        format!("Callback requested: {who}"),
        format!(
            "{who} asked to be called back{}. The agent scheduled the call for {}.\nCall: {}\nCallback: {}",
            reason.map(|r| format!(" ({r})")).unwrap_or_default(),
            at.to_rfc3339(),
            call.id,
            callback.id
        ),
    );
    let result = json!({
        "scheduled": true,
        "call_id": callback.id,
        "scheduled_at": at,
        "requested_at": asked,
        "moved_into_calling_hours": at != asked,
    });
    Ok(Planned {
        result,
        effect: Some(Effect::Callback(Box::new(callback), alert, user_id)),
    })
}

/// Where a caller of `agent_id` (of `business_id`) with `reason` goes now: the
/// agent's first destination whose rule takes them, else the business's own phone
/// (when the agent names none at all).
pub async fn destination_for(
    engine: &Engine,
    agent_id: &str,
    business_id: &str,
    reason: &str,
    now: Timestamp,
) -> anyhow::Result<Option<(String, Option<String>)>> {
    let store = engine.store();
    let Some(agent) = agents::get_by_id(store, agent_id).await? else {
        return Ok(None);
    };
    let Some(business) = tenancy::business(store, business_id).await? else {
        return Ok(None);
    };
    let open = agent
        .business_hours
        .as_ref()
        .is_none_or(|h| h.is_open(now, &business.timezone));
    if agent.transfer_destinations.is_empty() {
        return Ok(business
            .phone
            .filter(|_| open)
            .map(|p| (p, Some(business.name))));
    }
    Ok(
        super::hours::pick(&agent.transfer_destinations, reason, open)
            .map(|d| (d.number.clone(), d.name.clone())),
    )
}

/// A short summary for the human who takes the call.
pub fn handoff_summary(call: &Call, reason: &str) -> String {
    let who = match &call.name {
        Some(n) => format!("{n} ({})", call.customer_number()),
        None => call.customer_number().to_string(),
    };
    let kind = if call.lead_created {
        "a new caller"
    } else {
        "a known lead"
    };
    if reason.is_empty() {
        format!("Transferring {who}, {kind}.")
    } else {
        format!("Transferring {who}, {kind}: {reason}")
    }
}

async fn transfer(
    engine: &Engine,
    call: &Call,
    args: &Value,
    now: Timestamp,
) -> anyhow::Result<Planned> {
    let reason = args["reason"].as_str().unwrap_or("").trim().to_string();
    match destination_for(engine, &call.agent_id, &call.business_id, &reason, now).await? {
        None => Ok(Planned::answer(json!({
            "transferred": false,
            "error": "Nobody can take the call right now: offer to take a message",
        }))),
        Some((destination, name)) => Ok(Planned {
            result: json!({
                "transferred": true,
                "destination": destination,
                "name": name,
                "summary": handoff_summary(call, &reason),
            }),
            effect: Some(Effect::Transfer {
                destination,
                name,
                reason,
            }),
        }),
    }
}

/// Vapi's `transfer-destination-request`: the destination and what to tell the
/// human, recorded as the transfer.
pub async fn transfer_destination(
    engine: &Engine,
    call: &Call,
    reason: &str,
) -> anyhow::Result<Value> {
    let result = run(
        engine,
        call,
        "transfer_to_human",
        &json!({ "reason": reason }),
        None,
    )
    .await?;
    Ok(match result["destination"].as_str() {
        Some(number) => json!({
            "destination": {
                "type": "number",
                "number": number,
                "message": "Please hold while I connect you.",
                "transferPlan": {
                    "mode": "warm-transfer-say-message",
                    "message": result["summary"],
                },
            },
        }),
        None => json!({ "error": result["error"] }),
    })
}
