//! What makes a campaign call its list: the tick and the end of each call.
//!
//! **The tick** (`Kind::CampaignTick`, one job per campaign, a calls-lane job): while
//! the campaign runs it takes the contacts due now, in order, as many as the free
//! slots allow — the campaign's `max_concurrency`, the business's cap less the slots
//! kept for single calls, the key's cap — and puts each through the consent
//! requirement and the pre-dial gate (`compliance::gate`, as a campaign: hours always
//! enforced, the campaign's window too). An allowed contact gets its call recorded
//! `queued` with a `Dial` job due now (the same dial as a scheduled call:
//! `calls::create::dial_scheduled`, which runs the gate once more), its state
//! `dialing` and its attempt counted — in one transaction, so a crash dials nobody
//! twice and loses nobody. A refused one is `skipped` with its reason (do-not-call,
//! no consent) or re-queued for the rule's next allowed moment (calling hours,
//! frequency cap). The tick then schedules itself: at once while due contacts wait
//! for slots that are free, in a second while calls are live (a call's end also
//! brings it forward), else at the next contact's time; the campaign completes when
//! nobody is pending or dialing. Pending contacts at `ends_at` end `expired`.
//!
//! **A call's end** ([`on_call_ended`], inside the transaction that ends the call):
//! `no_answer`, `busy` and (when the policy says so) `voicemail` go back to `pending`
//! after the policy's spacing, unless the attempt budget is spent (`exhausted`) or
//! the campaign ends first (`expired`); any other end is `completed` or `failed`.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{Campaign, CampaignStatus, Contact, ContactState};
use crate::calls::engine::Engine;
use crate::calls::{enrichment, repo, Call, CallStatus, EndedReason};
use crate::clock::Timestamp;
use crate::compliance::gate;
use crate::jobs::{self, Job, Kind};
use crate::store::Tx;
use crate::{agents, leads, tenancy};

/// The concurrency caps every campaign is held to besides its own.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Live calls of one business (single and campaign calls together).
    pub business: i64,
    /// Of those, slots campaigns leave free for single calls.
    pub reserved_for_single_calls: i64,
    /// Live campaign calls started by one key.
    pub key: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            business: 1000,
            reserved_for_single_calls: 50,
            key: 500,
        }
    }
}

/// How often a running campaign with live calls looks for free slots.
const TICK_WHILE_LIVE_SECS: f64 = 1.0;
/// The most contacts one tick looks at.
const MAX_PER_TICK: i64 = 1000;

/// Enqueues the campaign's tick, due at `at`.
pub async fn enqueue_tick(
    tx: &mut Tx,
    campaign_id: &str,
    at: Timestamp,
    now: Timestamp,
) -> sqlx::Result<()> {
    jobs::enqueue(tx, Kind::CampaignTick, campaign_id, &json!({}), at, now).await?;
    Ok(())
}

/// Brings a waiting tick forward to now (a call ended, contacts were added).
pub async fn wake_tick(tx: &mut Tx, campaign_id: &str, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE jobs SET due_at = $1 WHERE kind = 'campaign_tick' AND subject_id = $2 AND due_at > $1
         AND dead_at IS NULL AND (locked_until IS NULL OR locked_until < $1)",
    )
    .bind(now.micros())
    .bind(campaign_id)
    .execute(&mut **tx)
    .await?;
    crate::wake::job_enqueued(crate::wake::JobLane::Calls);
    Ok(())
}

/// What the tick decided for one contact.
enum Step {
    Dial(Box<Call>),
    Skip {
        reason: &'static str,
        detail: String,
    },
    Requeue {
        at: Timestamp,
        detail: String,
    },
    Expire,
}

/// Runs one tick of a campaign.
pub async fn tick(engine: &Arc<Engine>, job: &Job) -> anyhow::Result<()> {
    let store = engine.store();
    let now = engine.clock().now();
    let job_id = job.id.clone();
    let Some(mut campaign) = super::get_by_id(store.reader(), &job.subject_id).await? else {
        return jobs::finish(store, &job.id).await;
    };
    match campaign.status {
        CampaignStatus::Running => {}
        CampaignStatus::Scheduled if campaign.starts_at.is_none_or(|t| t <= now) => {
            let mut running = campaign.clone();
            running.status = CampaignStatus::Running;
            running.started_at = Some(now);
            running.updated_at = now;
            let saved = running.clone();
            let started = store
                .write_background(move |tx| {
                    Box::pin(async move {
                        let ok = super::save(tx, &saved, CampaignStatus::Scheduled).await?;
                        if ok {
                            super::campaign_event(tx, "campaign.started", &saved, json!({}), now)
                                .await?;
                        }
                        Ok(ok)
                    })
                })
                .await?;
            if !started {
                return Ok(()); // changed meanwhile: the job runs again and sees it
            }
            campaign = running;
        }
        // Scheduled for later (its tick is due then), paused, finished: nothing to do.
        _ => return jobs::finish(store, &job.id).await,
    }

    // The end instant: whoever is still pending expires; live calls finish.
    if campaign.ends_at.is_some_and(|end| end <= now) {
        let c = campaign.clone();
        store
            .write_background(move |tx| {
                Box::pin(async move {
                    let expired = super::end_pending(tx, &c.id, ContactState::Expired, now).await?;
                    if expired > 0 {
                        super::campaign_event(
                            tx,
                            "campaign.contacts_expired",
                            &c,
                            json!({ "expired": expired }),
                            now,
                        )
                        .await?;
                    }
                    jobs::complete(tx, &job_id).await?;
                    finish_or_continue(tx, &c, false, now).await
                })
            })
            .await?;
        return Ok(());
    }

    let slots = free_slots(engine, &campaign, now).await?;
    let mut steps: Vec<(Contact, Step)> = Vec::new();
    if slots > 0 {
        let due = super::due_contacts(store, &campaign.id, now, MAX_PER_TICK).await?;
        let business = tenancy::business(store, &campaign.business_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("campaign {} has no business", campaign.id))?;
        let agent = agents::get_by_id(store, &campaign.agent_id).await?;
        let mut dials = 0;
        for contact in due {
            if dials >= slots {
                break;
            }
            let step = match &agent {
                Some(agent) => decide(engine, &campaign, &business, agent, &contact, now).await?,
                None => Step::Skip {
                    reason: "agent_deleted",
                    detail: "The campaign's agent no longer exists".into(),
                },
            };
            if matches!(step, Step::Dial(_)) {
                dials += 1;
            }
            steps.push((contact, step));
        }
    }

    let c = campaign.clone();
    store
        .write_background(move |tx| {
            Box::pin(async move {
                // The campaign row first: it serializes the ticks of one campaign across
                // instances, and a pause since the reads above stops these dials.
                let running = sqlx::query(
                    "UPDATE campaigns SET updated_at = updated_at WHERE id = $1 AND status = 'running'",
                )
                .bind(&c.id)
                .execute(&mut **tx)
                .await?
                .rows_affected()
                    == 1;
                jobs::complete(tx, &job_id).await?;
                if !running {
                    return Ok(());
                }
                let dialing: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM campaign_contacts WHERE campaign_id = $1 AND state = 'dialing'",
                )
                .bind(&c.id)
                .fetch_one(&mut **tx)
                .await?;
                let mut room = c.max_concurrency - dialing;
                let progressed = steps.iter().any(|(_, s)| matches!(s, Step::Dial(_)));
                for (contact, step) in steps {
                    apply(tx, &c, contact, step, &mut room, now).await?;
                }
                finish_or_continue(tx, &c, progressed, now).await
            })
        })
        .await?;
    Ok(())
}

/// Calls the campaign may start now.
async fn free_slots(engine: &Arc<Engine>, c: &Campaign, now: Timestamp) -> anyhow::Result<i64> {
    let limits = engine.campaign_limits();
    let row = sqlx::query(
        "SELECT
            (SELECT COUNT(*) FROM campaign_contacts WHERE campaign_id = $1 AND state = 'dialing') AS own,
            (SELECT COUNT(*) FROM calls WHERE business_id = $2 AND mode = $3 AND status IN ('queued', 'ringing', 'in_progress')
                AND (scheduled_at IS NULL OR scheduled_at <= $4)) AS business,
            (SELECT COUNT(*) FROM calls WHERE key_id = $5 AND campaign_id IS NOT NULL AND status IN ('queued', 'ringing', 'in_progress')
                AND (scheduled_at IS NULL OR scheduled_at <= $4)) AS by_key",
    )
    .bind(&c.id)
    .bind(&c.business_id)
    .bind(c.mode.as_str())
    .bind(now.micros())
    .bind(&c.key_id)
    .fetch_one(engine.store().reader())
    .await?;
    let r = crate::store::row::Columns(&row);
    let (own, business, by_key): (i64, i64, i64) =
        (r.get("own")?, r.get("business")?, r.get("by_key")?);
    Ok((c.max_concurrency - own)
        .min(limits.business - limits.reserved_for_single_calls - business)
        .min(limits.key - by_key)
        .max(0))
}

/// Consent, then the gate; for an allowed contact, its call.
async fn decide(
    engine: &Arc<Engine>,
    campaign: &Campaign,
    business: &tenancy::Business,
    agent: &agents::Agent,
    contact: &Contact,
    now: Timestamp,
) -> anyhow::Result<Step> {
    let store = engine.store();
    let lead = match &contact.lead_id {
        Some(id) => leads::get_by_id(store, id).await?,
        None => leads::find_by_phone(store, &campaign.business_id, &contact.to).await?,
    };
    let refusal = |reason: &str, message: String| crate::compliance::Refusal {
        id: crate::ids::new_id(),
        business_id: campaign.business_id.clone(),
        mode: campaign.mode,
        phone: contact.to.clone(),
        reason: reason.to_string(),
        message,
        decision: None,
        created_at: now,
    };
    if let Some(basis) = &campaign.require_consent {
        let lead_id = lead.as_ref().map(|l| l.id.as_str());
        if !crate::compliance::has_consent(
            store,
            &campaign.business_id,
            &contact.to,
            lead_id,
            basis,
        )
        .await?
        {
            let detail = format!("No {basis} consent is on record for {}", contact.to);
            let r = refusal("no_consent", detail.clone());
            crate::compliance::record_refusal(store, &r, Some(&campaign.key_id)).await?;
            return Ok(Step::Skip {
                reason: "no_consent",
                detail,
            });
        }
    }
    let window = campaign.window();
    let subject = gate::Subject {
        business,
        lead: lead.as_ref(),
        to: &contact.to,
        mode: campaign.mode,
        purpose: gate::Purpose::Campaign,
        window: Some(&window),
        call_id: None,
    };
    let decision = match gate::check(store, &subject, now).await {
        Ok(decision) => decision,
        Err(refused) if matches!(refused.error, crate::error::ApiError::Internal(_)) => {
            return Err(anyhow::anyhow!("{}", refused.error));
        }
        Err(refused) => {
            let dialed = (
                campaign.business_id.as_str(),
                campaign.mode,
                contact.to.as_str(),
            );
            refused
                .record(store, dialed, Some(&campaign.key_id), now)
                .await?;
            let detail = refused.error.to_string();
            return Ok(match (refused.reason, refused.retry_at) {
                ("outside_calling_hours" | "frequency_cap", Some(at)) => {
                    if campaign.ends_at.is_some_and(|end| at >= end) {
                        Step::Expire
                    } else {
                        Step::Requeue { at, detail }
                    }
                }
                (reason, _) => Step::Skip { reason, detail },
            });
        }
    };
    Ok(Step::Dial(Box::new(campaign_call(
        engine, campaign, business, agent, contact, lead, decision, now,
    ))))
}

/// The call a campaign places to a contact: the agent, the templates filled with the
/// contact's variables over the campaign's over the CRM's.
#[allow(clippy::too_many_arguments)]
fn campaign_call(
    engine: &Arc<Engine>,
    campaign: &Campaign,
    business: &tenancy::Business,
    agent: &agents::Agent,
    contact: &Contact,
    lead: Option<leads::Lead>,
    decision: gate::Decision,
    now: Timestamp,
) -> Call {
    let mut variables =
        enrichment::variables(contact.name.as_deref(), lead.as_ref(), business, now);
    for extra in [&campaign.variables, &contact.variables] {
        if let (Some(vars), Some(extra)) = (variables.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                vars.insert(k.clone(), v.clone());
            }
        }
    }
    let render = |t: &String| crate::voice::render(t, &variables);
    // Its own instant: `created_at` orders the calls list and is unique.
    let created = engine.clock().now();
    Call::queued(crate::calls::QueuedCall {
        id: crate::ids::new_id(),
        business_id: campaign.business_id.clone(),
        agent_id: agent.id.clone(),
        agent_name: Some(agent.name.clone()),
        lead_id: lead.as_ref().map(|l| l.id.clone()),
        key_id: Some(campaign.key_id.clone()),
        mode: campaign.mode,
        to: contact.to.clone(),
        from: agent.phone_number.clone(),
        name: contact.name.clone(),
        context: campaign.context.as_ref().map(render),
        first_message: campaign
            .first_message
            .as_ref()
            .or(agent.first_message.as_ref())
            .map(render),
        max_duration: agent
            .max_duration
            .unwrap_or(crate::calls::DEFAULT_MAX_DURATION),
        webhook_url: None,
        webhook_events: vec!["call.completed".into(), "call.failed".into()],
        metadata: None,
        variables: variables.clone(),
        provider: engine.provider_for(campaign.mode).name().to_string(),
        compliance: serde_json::to_value(&decision).ok(),
        scheduled_at: None,
        created_at: created,
        campaign_id: Some(campaign.id.clone()),
    })
}

/// Writes one step of the tick.
async fn apply(
    tx: &mut Tx,
    campaign: &Campaign,
    contact: Contact,
    step: Step,
    room: &mut i64,
    now: Timestamp,
) -> anyhow::Result<()> {
    let mut next = contact.clone();
    next.updated_at = now;
    let (event, next_at) = match step {
        Step::Dial(call) => {
            if *room <= 0 {
                return Ok(()); // another instance's tick took the slot: next time
            }
            next.state = ContactState::Dialing;
            next.attempts += 1;
            next.call_id = Some(call.id.clone());
            next.call_ids.push(call.id.clone());
            next.detail = None;
            if !super::save_contact(tx, &next, ContactState::Pending, now).await? {
                return Ok(());
            }
            *room -= 1;
            repo::insert(tx, &call).await?;
            crate::calls::engine::emit_status_event(tx, &call, now).await?;
            if let Some(lead_id) = &call.lead_id {
                leads::increment_interactions(tx, lead_id, now).await?;
            }
            let payload = json!({ "respect_calling_hours": true, "campaign_id": campaign.id });
            jobs::enqueue(tx, Kind::Dial, &call.id, &payload, now, now).await?;
            crate::usage::record_campaign_call(tx, campaign, &call.id, now).await?;
            (None, now)
        }
        Step::Skip { reason, detail } => {
            next.state = ContactState::Skipped;
            next.skip_reason = Some(reason.to_string());
            next.detail = Some(detail);
            (Some("contact.skipped"), now)
        }
        Step::Requeue { at, detail } => {
            next.detail = Some(detail);
            next.next_attempt_at = Some(at);
            (None, at)
        }
        Step::Expire => {
            next.state = ContactState::Expired;
            (Some("contact.expired"), now)
        }
    };
    if next.state != ContactState::Dialing
        && !super::save_contact(tx, &next, ContactState::Pending, next_at).await?
    {
        return Ok(());
    }
    if let Some(kind) = event {
        super::contact_event(tx, kind, campaign, &next, now).await?;
    }
    Ok(())
}

/// After a tick or at the end instant: completes a campaign nobody is left in, else
/// schedules its next tick.
async fn finish_or_continue(
    tx: &mut Tx,
    c: &Campaign,
    progressed: bool,
    now: Timestamp,
) -> anyhow::Result<()> {
    let row = sqlx::query(
        "SELECT
            (SELECT COUNT(*) FROM campaign_contacts WHERE campaign_id = $1 AND state = 'dialing') AS dialing,
            (SELECT COUNT(*) FROM campaign_contacts WHERE campaign_id = $1 AND state = 'pending' AND next_at <= $2) AS due,
            (SELECT MIN(next_at) FROM campaign_contacts WHERE campaign_id = $1 AND state = 'pending') AS next_at",
    )
    .bind(&c.id)
    .bind(now.micros())
    .fetch_one(&mut **tx)
    .await?;
    let r = crate::store::row::Columns(&row);
    let (dialing, due): (i64, i64) = (r.get("dialing")?, r.get("due")?);
    let next_at: Option<i64> = r.get("next_at")?;
    if dialing == 0 && next_at.is_none() {
        let mut done = c.clone();
        done.status = CampaignStatus::Completed;
        done.finished_at = Some(now);
        done.updated_at = now;
        if super::save(tx, &done, CampaignStatus::Running).await? {
            super::campaign_event(tx, "campaign.completed", &done, json!({}), now).await?;
        }
        return Ok(());
    }
    let live_check = now.plus_secs_f64(TICK_WHILE_LIVE_SECS);
    let at = if progressed && due > 0 && dialing < c.max_concurrency {
        // More are due and this tick found room: go on at once.
        now
    } else if dialing > 0 {
        live_check
    } else {
        Timestamp(next_at.unwrap_or(live_check.micros()))
    };
    // The end instant wakes it too (once: past it, live calls are waited for).
    let at = match c.ends_at {
        Some(end) if end > now && end < at => end,
        _ => at,
    };
    enqueue_tick(tx, &c.id, at, now).await?;
    Ok(())
}

/// How a finished call counts for its contact: the outcome shown, and the retry rule
/// it falls under, if any.
fn attempt_outcome(call: &Call) -> (String, Option<&'static str>) {
    let machine = call.answered_by.as_deref() == Some("machine");
    match call.ended_reason {
        Some(EndedReason::NoAnswer) => ("no_answer".into(), Some("no_answer")),
        Some(EndedReason::Busy) => ("busy".into(), Some("busy")),
        Some(EndedReason::Voicemail) => ("voicemail".into(), Some("voicemail")),
        _ if machine => ("voicemail".into(), Some("voicemail")),
        _ => {
            let fallback = match call.status {
                CallStatus::Completed => "completed".to_string(),
                _ => call
                    .ended_reason
                    .map_or("failed".to_string(), |r| r.as_str().to_string()),
            };
            (call.outcome.clone().unwrap_or(fallback), None)
        }
    }
}

/// A campaign call ended: its contact moves on, in the call's final transaction.
pub async fn on_call_ended(tx: &mut Tx, call: &Call, now: Timestamp) -> anyhow::Result<()> {
    let Some(campaign_id) = &call.campaign_id else {
        return Ok(());
    };
    let Some(contact) = super::contact_of_call(tx, &call.id).await? else {
        return Ok(());
    };
    if contact.state != ContactState::Dialing {
        return Ok(());
    }
    let Some(campaign) = super::get_by_id(&mut **tx, campaign_id).await? else {
        return Ok(());
    };
    let mut next = contact.clone();
    next.updated_at = now;
    let mut next_at = now;
    if call.status == CallStatus::Canceled {
        // Never dialed: refused at its dial, the campaign canceled, or ended by the API.
        let why = call.provider_ended_reason.as_deref().unwrap_or("canceled");
        next.detail = call.error.clone();
        next.state = match why {
            "dnc" | "outside_calling_hours" | "frequency_cap" => {
                next.skip_reason = Some(why.into());
                ContactState::Skipped
            }
            "expired" => ContactState::Expired,
            _ => ContactState::Canceled,
        };
    } else {
        let (outcome, rule) = attempt_outcome(call);
        next.outcome = Some(outcome);
        let retried = rule.filter(|r| campaign.retry.retry_on.iter().any(|o| o == r));
        next.state = match retried {
            _ if campaign.status == CampaignStatus::Canceled => match call.status {
                CallStatus::Completed => ContactState::Completed,
                _ => ContactState::Failed,
            },
            Some(rule) if contact.attempts >= campaign.retry.max_attempts => {
                next.detail = Some(format!(
                    "{rule} on attempt {} of {}: no attempts left",
                    contact.attempts, campaign.retry.max_attempts
                ));
                ContactState::Exhausted
            }
            Some(rule) => {
                let at = now.plus_secs_f64(campaign.retry.spacing_minutes as f64 * 60.0);
                if campaign.ends_at.is_some_and(|end| at >= end) {
                    ContactState::Expired
                } else {
                    next_at = at;
                    next.next_attempt_at = Some(at);
                    next.detail = Some(format!(
                        "{rule} on attempt {} of {}: retried from {}",
                        contact.attempts,
                        campaign.retry.max_attempts,
                        at.to_rfc3339()
                    ));
                    ContactState::Pending
                }
            }
            None => match call.status {
                CallStatus::Completed => ContactState::Completed,
                _ => ContactState::Failed,
            },
        };
    }
    if !super::save_contact(tx, &next, ContactState::Dialing, next_at).await? {
        return Ok(());
    }
    let kind = match next.state {
        ContactState::Pending => "contact.retry_scheduled",
        ContactState::Completed => "contact.completed",
        ContactState::Failed => "contact.failed",
        ContactState::Exhausted => "contact.exhausted",
        ContactState::Expired => "contact.expired",
        ContactState::Skipped => "contact.skipped",
        ContactState::Canceled | ContactState::Dialing => "contact.canceled",
    };
    super::contact_event(tx, kind, &campaign, &next, now).await?;
    if matches!(
        campaign.status,
        CampaignStatus::Running | CampaignStatus::Scheduled
    ) {
        wake_tick(tx, &campaign.id, now).await?;
    }
    Ok(())
}

/// A contact's variables as sent: an object, or nothing.
pub fn contact_variables(v: Option<Value>) -> Result<Value, &'static str> {
    match v {
        None | Some(Value::Null) => Ok(json!({})),
        Some(Value::Object(map)) if map.len() <= 50 => Ok(Value::Object(map)),
        Some(Value::Object(_)) => Err("variables may have at most 50 keys"),
        Some(_) => Err("variables must be an object"),
    }
}
