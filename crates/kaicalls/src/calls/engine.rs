//! The call engine: the one place where a call changes state. Provider events (from
//! the simulator's durable script, or a real provider), engine timers (max_duration)
//! and dial failures all arrive here and go through the same forward-only state
//! machine. Each change is written in one transaction with its timeline entry, the
//! timers it starts or stops, and the call's cost on its usage row.

use std::sync::Arc;

use anyhow::Context;
use serde_json::json;

use super::{repo, Call, CallStatus, EndedReason};
use crate::auth::api_key::Mode;
use crate::clock::{SharedClock, Timestamp};
use crate::events::{self, CallTarget, NewEvent};
use crate::jobs::{self, Job, Kind};
use crate::recordings::links::RecordingLinks;
use crate::store::{Store, Tx};
use crate::usage;
use crate::voice::analyzer::{self, Hints};
use crate::voice::chat_analyzer::ChatAnalyzer;
use crate::voice::simulator::Simulator;
use crate::voice::vapi::Vapi;
use crate::voice::{DialRequest, EndReport, ProviderEvent, Role, VoiceProvider};

pub struct Engine {
    store: Store,
    clock: SharedClock,
    simulator: Arc<Simulator>,
    links: RecordingLinks,
    /// Live calls go through Vapi when it is configured.
    vapi: Option<Arc<Vapi>>,
    /// A language-model analyzer, when configured; the built-in one otherwise.
    chat: Option<Arc<ChatAnalyzer>>,
    /// How long after a call should have ended (or after Vapi said it ended) the
    /// engine asks Vapi, in case its messages were lost.
    reconcile_grace_secs: f64,
    /// The concurrency caps campaigns are held to besides their own.
    campaign_limits: crate::campaigns::runner::Limits,
    /// Staff alerts' sender.
    alerts: Arc<crate::alerts::Notifier>,
}

/// How a call ends: the reason and whatever the provider reported.
pub struct Ending {
    pub reason: EndedReason,
    pub raw_reason: String,
    pub duration_secs: Option<i64>,
    pub report: Option<EndReport>,
    pub error_message: Option<String>,
}

impl Engine {
    pub fn new(
        store: Store,
        clock: SharedClock,
        simulator: Arc<Simulator>,
        links: RecordingLinks,
    ) -> Engine {
        Engine {
            store,
            clock,
            simulator,
            links,
            vapi: None,
            chat: None,
            reconcile_grace_secs: 60.0,
            campaign_limits: Default::default(),
            alerts: Arc::new(
                crate::alerts::Notifier::new(None, false)
                    .expect("an HTTP client without TLS roots"),
            ),
        }
    }

    /// Caps campaigns per business (less the slots kept for single calls) and per key.
    pub fn with_campaign_limits(mut self, limits: crate::campaigns::runner::Limits) -> Engine {
        self.campaign_limits = limits;
        self
    }

    pub fn campaign_limits(&self) -> crate::campaigns::runner::Limits {
        self.campaign_limits
    }

    /// Analyzes finished calls with a chat-completions model.
    pub fn with_chat_analyzer(mut self, chat: Arc<ChatAnalyzer>) -> Engine {
        self.chat = Some(chat);
        self
    }

    /// Places live calls through Vapi.
    pub fn with_vapi(mut self, vapi: Arc<Vapi>, reconcile_grace_secs: f64) -> Engine {
        self.vapi = Some(vapi);
        self.reconcile_grace_secs = reconcile_grace_secs;
        self
    }

    pub fn vapi(&self) -> Option<&Vapi> {
        self.vapi.as_deref()
    }

    pub fn vapi_shared(&self) -> Option<Arc<Vapi>> {
        self.vapi.clone()
    }

    /// Sends staff alerts (`alerts::Notifier`: SMTP and webhooks).
    pub fn with_alerts(mut self, notifier: Arc<crate::alerts::Notifier>) -> Engine {
        self.alerts = notifier;
        self
    }

    pub fn alerts(&self) -> &crate::alerts::Notifier {
        &self.alerts
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The provider that places calls in `mode`. Test keys always use the simulator;
    /// live calls use Vapi when it is configured.
    pub fn provider_for(&self, mode: Mode) -> &dyn VoiceProvider {
        match (mode, &self.vapi) {
            (Mode::Live, Some(vapi)) => vapi.as_ref(),
            _ => self.simulator.as_ref(),
        }
    }

    /// The provider that placed an existing call.
    fn provider_of(&self, call: &Call) -> &dyn VoiceProvider {
        match (call.provider.as_str(), &self.vapi) {
            ("vapi", Some(vapi)) => vapi.as_ref(),
            _ => self.simulator.as_ref(),
        }
    }

    /// Runs one durable job; the job row is deleted in the same transaction as its
    /// effect, which is group-committed with the other jobs finishing at that moment
    /// ([`Store::write`]). An error leaves the job to be retried.
    pub async fn run_job(self: &Arc<Self>, job: &Job) -> anyhow::Result<()> {
        // A reader sees every committed change, the job's own enqueue included; the
        // save below is guarded on the status read here.
        if job.kind == Some(Kind::CampaignTick) {
            return crate::campaigns::runner::tick(self, job).await;
        }
        if job.kind == Some(Kind::StaffAlert) {
            let now = self.clock.now();
            return crate::alerts::deliver(&self.store, &self.alerts, job, now).await;
        }
        let mut conn = self.store.reader().acquire().await?;
        let call = repo::get_by_id(&mut conn, &job.subject_id).await?;
        drop(conn);
        let Some(call) = call else {
            return self.discard(job, "call no longer exists").await;
        };
        if job.kind == Some(Kind::Dial) {
            if call.status == CallStatus::Queued && call.conversation_id.is_none() {
                return super::create::dial_scheduled(self, job, call).await;
            }
            return self
                .discard(job, "the scheduled call is no longer waiting")
                .await;
        }
        let now = self.clock.now();
        let (next, ask_again) = match job.kind {
            Some(Kind::ProviderEvent) => {
                let event: ProviderEvent = serde_json::from_value(job.payload["event"].clone())
                    .context("malformed provider event payload")?;
                if let ProviderEvent::Tool { name, arguments } = &event {
                    // A scripted caller's tool call (the sandbox's inbound calls).
                    if !call.status.is_terminal() {
                        crate::inbound::tools::run(self, &call, name, arguments, Some(&job.id))
                            .await?;
                        return Ok(());
                    }
                    return self.discard(job, "the call already ended").await;
                }
                (self.apply_event(&call, event, now).await, false)
            }
            Some(Kind::MaxDuration) if call.status == CallStatus::InProgress => {
                (Some(self.end_at_max_duration(&call, now).await?), false)
            }
            Some(Kind::DialGuard)
                if call.status == CallStatus::Queued && call.conversation_id.is_none() =>
            {
                let ending = Ending {
                    reason: EndedReason::ProviderError,
                    raw_reason: "dial-interrupted".into(),
                    duration_secs: None,
                    report: None,
                    error_message: Some("The dial did not complete".into()),
                };
                (Some(self.finish(&call, ending, now).await), false)
            }
            Some(Kind::Reconcile) if !call.status.is_terminal() => {
                self.reconcile(&call, now).await?
            }
            Some(_) => (None, false),
            None => {
                return Err(jobs::Permanent(format!("unknown job kind '{}'", job.raw_kind)).into())
            }
        };
        let engine = self.clone();
        let job_id = job.id.clone();
        let call_id = call.id.clone();
        self.store
            .write_background(move |tx| {
                Box::pin(async move {
                    if let Some(next) = &next {
                        if !engine.save_transition(tx, &call, next, now).await? {
                            anyhow::bail!("call {} changed concurrently", call.id);
                        }
                    }
                    if ask_again {
                        let due = now.plus_secs_f64(engine.reconcile_grace_secs.max(1.0));
                        jobs::enqueue(tx, Kind::Reconcile, &call.id, &json!({}), due, now).await?;
                    }
                    jobs::complete(tx, &job_id).await?;
                    Ok(())
                })
            })
            .await?;
        crate::wake::call_changed(&call_id);
        Ok(())
    }

    /// Hangs up a call at its `max_duration`.
    async fn end_at_max_duration(&self, call: &Call, now: Timestamp) -> anyhow::Result<Call> {
        let duration = call.max_duration;
        let conversation = call.conversation_id.as_deref().unwrap_or("");
        let report = self
            .provider_of(call)
            .hang_up(&dial_request(call), conversation, duration)
            .await
            .map_err(|e| anyhow::anyhow!("hang up failed: {e}"))?;
        let ending = Ending {
            reason: EndedReason::MaxDuration,
            raw_reason: "exceeded-max-duration".into(),
            duration_secs: Some(duration),
            report,
            error_message: None,
        };
        Ok(self.finish(call, ending, now).await)
    }

    /// Asks the provider where a call stands. Returns the call's next state, if any,
    /// and whether to ask again later (the call is not over yet, as far as we know).
    async fn reconcile(&self, call: &Call, now: Timestamp) -> anyhow::Result<(Option<Call>, bool)> {
        let conversation = call.conversation_id.as_deref().unwrap_or("");
        let polled = self
            .provider_of(call)
            .poll(conversation)
            .await
            .map_err(|e| anyhow::anyhow!("reconciling with the provider failed: {e}"))?;
        let next = match polled {
            Some(event) => self.apply_event(call, event, now).await,
            None => None,
        };
        let ask_again = next.as_ref().is_none_or(|n| !n.status.is_terminal());
        Ok((next, ask_again))
    }

    async fn discard(&self, job: &Job, why: &str) -> anyhow::Result<()> {
        tracing::warn!(job = %job.id, kind = %job.raw_kind, "discarding job: {why}");
        let mut tx = self.store.begin().await?;
        jobs::complete(&mut tx, &job.id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The call after a provider event, or `None` when the event is late or a
    /// duplicate (it would move the call backwards or out of a terminal status).
    pub async fn apply_event(
        &self,
        call: &Call,
        event: ProviderEvent,
        now: Timestamp,
    ) -> Option<Call> {
        match event {
            ProviderEvent::Tool { .. } => None,
            ProviderEvent::Ringing => transition(call, CallStatus::Ringing, now),
            ProviderEvent::Answered => {
                transition(call, CallStatus::InProgress, now).map(|mut c| {
                    c.started_at = Some(now);
                    c
                })
            }
            ProviderEvent::Ended {
                raw_reason,
                duration_secs,
                report,
            } => {
                let reason = EndedReason::from_provider_code(&raw_reason);
                if !call.status.can_become(reason.final_status()) {
                    return None;
                }
                Some(
                    self.finish(
                        call,
                        Ending {
                            reason,
                            raw_reason,
                            duration_secs,
                            report,
                            error_message: None,
                        },
                        now,
                    )
                    .await,
                )
            }
        }
    }

    /// The call in its final state: outcome, transcript, analysis and cost.
    pub async fn finish(&self, call: &Call, ending: Ending, now: Timestamp) -> Call {
        let mut next = call.clone();
        let status = ending.reason.final_status();
        next.status = status;
        next.ended_reason = Some(ending.reason);
        next.provider_ended_reason = Some(ending.raw_reason);
        next.ended_at = Some(now);
        next.updated_at = now;
        if status == CallStatus::Failed {
            next.error = Some(
                ending
                    .error_message
                    .unwrap_or_else(|| ending.reason.as_str().to_string()),
            );
            next.cost_cents = Some(0);
            // Keep whatever the provider did report (a failure mid-call has a transcript).
            if let Some(report) = ending.report.filter(|r| !r.transcript.is_empty()) {
                next.duration = ending.duration_secs;
                next.transcript = Some(report.transcript);
                next.recording_source = report.recording_url;
                next.recording_url = next
                    .recording_source
                    .as_ref()
                    .map(|_| self.links.sign(&call.id, now).0);
            }
            return next;
        }
        let scale = self.provider_of(call).time_scale();
        let duration = ending.duration_secs.unwrap_or_else(|| {
            let wall = call.started_at.map_or(0, |s| now.micros() - s.micros());
            ((wall as f64 / 1_000_000.0) * scale).round() as i64
        });
        let duration = duration.clamp(0, call.max_duration);
        let report = ending.report.unwrap_or(EndReport {
            transcript: vec![],
            recording_url: None,
            summary: None,
        });
        let mut analysis = analyzer::analyze(
            &report.transcript,
            &Hints {
                name: call.name.as_deref(),
                context: call.context.as_deref(),
                ended_reason: ending.reason.as_str(),
                duration_secs: duration,
            },
        );
        if let Some(chat) = self.chat.as_ref().filter(|_| !report.transcript.is_empty()) {
            let reason = ending.reason.as_str();
            match chat
                .analyze(&report.transcript, call.context.as_deref(), reason)
                .await
            {
                Ok(better) => analysis = better,
                Err(err) => {
                    tracing::warn!(call = %call.id, error = %format!("{err:#}"), "chat analyzer failed; using the built-in analysis")
                }
            }
        }
        next.duration = Some(duration);
        next.summary = Some(report.summary.clone().unwrap_or(analysis.summary));
        next.quality_dimensions = Some(analysis.quality);
        next.outcome = Some(analysis.outcome);
        next.opt_out = analysis.opt_out;
        let machine = ending.reason == EndedReason::Voicemail;
        next.voicemail_left = machine && report.transcript.iter().any(|t| t.role == Role::Agent);
        next.answered_by = Some(
            if machine {
                "machine"
            } else if report.transcript.iter().any(|t| t.role == Role::Customer) {
                "human"
            } else {
                "unknown"
            }
            .to_string(),
        );
        next.transcript = Some(report.transcript);
        if report.summary.is_none() {
            // An inbound voicemail or transfer says what it was, not how a call went.
            if let Some(summary) = crate::inbound::summary_of(&next) {
                next.summary = Some(summary);
            }
        }
        // Our signed link; the copy job brings the audio into our storage.
        next.recording_source = report.recording_url;
        next.recording_url = next
            .recording_source
            .as_ref()
            .map(|_| self.links.sign(&call.id, now).0);
        next.cost_cents = Some(match call.mode {
            Mode::Live => usage::call_cost_cents(duration),
            Mode::Test => 0,
        });
        next
    }

    /// Writes `next` over `current` (guarded on the status it was computed from) with
    /// its side effects. False when another writer moved the call first.
    pub async fn save_transition(
        &self,
        tx: &mut Tx,
        current: &Call,
        next: &Call,
        now: Timestamp,
    ) -> anyhow::Result<bool> {
        if !repo::save_state(tx, next, current.status).await? {
            return Ok(false);
        }
        if next.status != current.status {
            repo::insert_event(tx, &next.id, next.status, now).await?;
            emit_status_event(tx, next, now).await?;
        }
        if next.status == CallStatus::InProgress && current.status != CallStatus::InProgress {
            // max_duration is the engine's to enforce, whatever the provider does.
            let provider = self.provider_of(next);
            // A real provider enforces the limit too and then reports the call; give
            // it that chance before hanging up ourselves.
            let grace = if provider.name() == "simulator" {
                0.0
            } else {
                15.0
            };
            let due = now.plus_secs_f64(next.max_duration as f64 / provider.time_scale() + grace);
            jobs::enqueue(tx, Kind::MaxDuration, &next.id, &json!({}), due, now).await?;
        }
        if next.status.is_terminal() {
            jobs::cancel_for_subject(
                tx,
                &next.id,
                &[
                    Kind::ProviderEvent,
                    Kind::MaxDuration,
                    Kind::DialGuard,
                    Kind::Reconcile,
                    Kind::Dial,
                ],
            )
            .await?;
            usage::set_call_cost(tx, &next.id, next.cost_cents.unwrap_or(0)).await?;
            if next.opt_out && !current.opt_out {
                // The customer asked for no more calls: listed as the call ends, with
                // its `dnc.added` event, in the same transaction (on an inbound call,
                // the caller's number).
                let new = crate::compliance::NewDnc {
                    business_id: &next.business_id,
                    phone: next.customer_number(),
                    source: "call",
                    reason: Some("The customer asked not to be called again"),
                    call_id: Some(&next.id),
                };
                crate::compliance::add_dnc(tx, &new, next.mode, now).await?;
            }
            if next.recording_source.is_some() {
                jobs::enqueue(tx, Kind::CopyRecording, &next.id, &json!({}), now, now).await?;
            }
            crate::campaigns::runner::on_call_ended(tx, next, now).await?;
            crate::inbound::on_call_ended(tx, next, now, &self.clock).await?;
        }
        Ok(true)
    }

    /// Ends a call on request (`POST /api/v1/calls/end`): a queued call is canceled,
    /// a live one is hung up (`ended_by_api`), a finished one is returned unchanged.
    pub async fn end_call(&self, mut call: Call) -> anyhow::Result<Call> {
        for _ in 0..5 {
            if call.status.is_terminal() {
                return Ok(call);
            }
            let now = self.clock.now();
            let next = match call.status {
                CallStatus::Queued => {
                    let mut next = call.clone();
                    next.status = CallStatus::Canceled;
                    next.ended_at = Some(now);
                    next.updated_at = now;
                    next.cost_cents = Some(0);
                    next
                }
                _ => {
                    let provider = self.provider_of(&call);
                    let elapsed = call.started_at.map_or(0, |s| {
                        ((now.micros() - s.micros()) as f64 / 1_000_000.0 * provider.time_scale())
                            as i64
                    });
                    let report = match (&call.conversation_id, call.status) {
                        (Some(conv), CallStatus::InProgress) => provider
                            .hang_up(&dial_request(&call), conv, elapsed)
                            .await
                            .map_err(|e| anyhow::anyhow!("hang up failed: {e}"))?,
                        _ => None,
                    };
                    self.finish(
                        &call,
                        Ending {
                            reason: EndedReason::EndedByApi,
                            raw_reason: "ended-by-api".into(),
                            duration_secs: Some(elapsed),
                            report,
                            error_message: None,
                        },
                        now,
                    )
                    .await
                }
            };
            let mut tx = self.store.begin().await?;
            if self.save_transition(&mut tx, &call, &next, now).await? {
                repo::commit_changed(tx, &call.id).await?;
                return Ok(next);
            }
            drop(tx);
            // Another writer moved the call first: look again.
            let mut conn = self.store.pool.acquire().await?;
            call = repo::get_by_id(&mut conn, &call.id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("call vanished"))?;
        }
        anyhow::bail!("call {} kept changing while being ended", call.id)
    }

    /// For providers whose events can be lost, a check after the call should have
    /// ended.
    pub async fn schedule_reconcile(
        &self,
        tx: &mut Tx,
        call: &Call,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        if self.provider_of(call).name() == "vapi" {
            let due = now.plus_secs_f64(call.max_duration as f64 + self.reconcile_grace_secs);
            jobs::enqueue(tx, Kind::Reconcile, &call.id, &json!({}), due, now).await?;
        }
        Ok(())
    }

    /// Applies an event a provider sent (a Vapi server message), retrying when
    /// another writer moves the call at the same moment. Late and duplicate events
    /// change nothing.
    pub async fn ingest(
        &self,
        call_id: &str,
        event: Option<ProviderEvent>,
        ended_hint: bool,
    ) -> anyhow::Result<()> {
        for _ in 0..5 {
            let mut conn = self.store.pool.acquire().await?;
            let Some(call) = repo::get_by_id(&mut conn, call_id).await? else {
                return Ok(());
            };
            drop(conn);
            let now = self.clock.now();
            let next = match event.clone() {
                Some(e) => self.apply_event(&call, e, now).await,
                None => None,
            };
            let mut tx = self.store.begin().await?;
            if ended_hint && !call.status.is_terminal() {
                // The provider says the call ended; its report should follow. If it
                // does not, reconciliation asks for it.
                let due = now.plus_secs_f64(self.reconcile_grace_secs);
                jobs::enqueue(&mut tx, Kind::Reconcile, &call.id, &json!({}), due, now).await?;
            }
            if let Some(next) = &next {
                if !self.save_transition(&mut tx, &call, next, now).await? {
                    continue;
                }
            }
            repo::commit_changed(tx, &call.id).await?;
            return Ok(());
        }
        anyhow::bail!("call {call_id} kept changing while applying a provider event")
    }

    /// Stores a provider's script as durable jobs, due in wall-clock time (one
    /// statement for all its steps).
    pub async fn schedule_script(
        &self,
        tx: &mut Tx,
        call: &Call,
        script: &[crate::voice::Scripted],
        now: Timestamp,
    ) -> anyhow::Result<()> {
        let scale = self.provider_of(call).time_scale();
        let steps: Vec<_> = script
            .iter()
            .map(|step| {
                let due = now.plus_secs_f64(step.after_secs / scale);
                (json!({ "event": step.event }), due)
            })
            .collect();
        let steps: Vec<_> = steps.iter().map(|(payload, due)| (payload, *due)).collect();
        jobs::enqueue_all(tx, Kind::ProviderEvent, &call.id, &steps, now).await?;
        Ok(())
    }
}

/// The durable `call.<status>` event of a call's current status, with its deliveries.
pub async fn emit_status_event(tx: &mut Tx, call: &Call, now: Timestamp) -> anyhow::Result<()> {
    let kind = format!("call.{}", call.status.as_str());
    events::emit(
        tx,
        NewEvent {
            kind: &kind,
            object_type: "call",
            object_id: &call.id,
            business_id: &call.business_id,
            mode: call.mode,
            data: events::call_payload(call, now),
        },
        Some(CallTarget {
            call_id: &call.id,
            url: call.webhook_url.as_deref(),
            events: &call.webhook_events,
        }),
        now,
    )
    .await?;
    Ok(())
}

fn transition(call: &Call, status: CallStatus, now: Timestamp) -> Option<Call> {
    if !call.status.can_become(status) {
        return None;
    }
    let mut next = call.clone();
    next.status = status;
    next.updated_at = now;
    Some(next)
}

/// What the provider needs to act on an existing call.
pub fn dial_request(call: &Call) -> DialRequest {
    DialRequest {
        call_id: call.id.clone(),
        to: call.to.clone(),
        from: call.from.clone().unwrap_or_default(),
        agent_name: call.agent_name.clone().unwrap_or_else(|| "Kai".into()),
        vapi_assistant_id: None,
        vapi_phone_number_id: None,
        control_url: call.control_url.clone(),
        system_prompt: None,
        model: serde_json::Value::Null,
        first_message: call.first_message.clone(),
        name: call.name.clone(),
        context: call.context.clone(),
        variables: call.variables.clone(),
        max_duration: call.max_duration,
        leave_voicemail: true,
        voicemail_message: None,
    }
}
