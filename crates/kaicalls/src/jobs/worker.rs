//! The worker: claims due jobs and runs them, continuously, in two lanes, so a slow
//! webhook receiver never delays a call's progress: the call lane (provider events,
//! timers: one call's jobs in due order, calls concurrently) and the I/O lane
//! (webhook deliveries and recording copies: one object's deliveries to one target in
//! order, others concurrently).
//!
//! Each lane is a pipeline, not a batch: it keeps up to `Limits::jobs` jobs running
//! and claims more as new ones are enqueued (`wake`) or its holding runs low, so one
//! slow job never holds back the jobs claimed with it. A lane also caps the jobs
//! running for one target (a webhook receiver's origin) and for one tenant: a claim
//! leaves alone the targets and tenants already holding a cap's worth here, and a
//! claimed job waits in `pending` until its target and tenant are under their caps
//! and its key has nothing running — so no receiver, however slow or dead, holds
//! back anyone else's webhooks. Stopping gives the pending jobs back
//! (`jobs::release`).
//! `Worker::run_once` is one round of both lanes, public so tests can drive it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{
    bury, claim, claim_strays, next_due, release, retry_later, Exclude, Job, Kind, Permanent,
};
use crate::calls::engine::Engine;
use crate::clock::Timestamp;
use crate::recordings::Copier;
use crate::webhooks::delivery::Deliverer;

/// The fallback poll, for changes no signal reports (another process on SQLite).
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How long a lane woken by an enqueue waits for the rest of the burst before it
/// claims.
const COALESCE: Duration = Duration::from_millis(5);
const CALL_KINDS: [Kind; 6] = [
    Kind::ProviderEvent,
    Kind::MaxDuration,
    Kind::DialGuard,
    Kind::Reconcile,
    Kind::Dial,
    Kind::CampaignTick,
];
/// The I/O lane: webhook deliveries and recording copies, which wait on the network.
const WEBHOOK_KINDS: [Kind; 3] = [Kind::WebhookDelivery, Kind::CopyRecording, Kind::StaffAlert];

/// A job's lease; a job of an unknown kind gets the claim's default (see `claim_where`).
fn lease_secs(job: &Job) -> i64 {
    job.kind.map_or(10, Kind::lease_secs)
}

/// How many jobs a lane runs at once, and how many of those may talk to one target or
/// work for one tenant.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub jobs: usize,
    pub per_target: usize,
    pub per_tenant: usize,
}

impl Limits {
    pub const CALLS: Limits = Limits {
        jobs: 64,
        per_target: 64,
        per_tenant: 64,
    };
    /// Deliveries wait on the network, not the CPU: many at once, a bounded share of
    /// them for any one receiver or business.
    pub const WEBHOOKS: Limits = Limits {
        jobs: 256,
        per_target: 32,
        per_tenant: 64,
    };
}

pub struct Worker {
    pub engine: Arc<Engine>,
    pub deliverer: Arc<Deliverer>,
    pub copier: Arc<Copier>,
    pub call_limits: Limits,
    pub webhook_limits: Limits,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LaneKind {
    Calls,
    Webhooks,
}

/// A job that finished, as its lane's bookkeeping knows it.
struct Done {
    order_key: String,
    target: Option<String>,
    tenant: Option<String>,
}

/// One lane's jobs: those running, and those claimed but waiting (in due order) for
/// their key's previous job or for room under their target's or tenant's cap. Owned
/// by the lane's loop; jobs report back through `running`.
struct Lane {
    kind: LaneKind,
    limits: Limits,
    pending: VecDeque<Job>,
    /// Keys with a job running here.
    keys: HashSet<String>,
    /// Jobs running and pending, per target and per tenant.
    targets: HashMap<String, Load>,
    tenants: HashMap<String, Load>,
    running: JoinSet<Done>,
}

#[derive(Default, Clone, Copy)]
struct Load {
    running: usize,
    pending: usize,
}

impl Lane {
    fn new(kind: LaneKind, limits: Limits) -> Lane {
        Lane {
            kind,
            limits,
            pending: VecDeque::new(),
            keys: HashSet::new(),
            targets: HashMap::new(),
            tenants: HashMap::new(),
            running: JoinSet::new(),
        }
    }

    fn lane(&self) -> crate::wake::JobLane {
        match self.kind {
            LaneKind::Calls => crate::wake::JobLane::Calls,
            LaneKind::Webhooks => crate::wake::JobLane::Io,
        }
    }

    fn kinds(&self) -> &'static [Kind] {
        match self.kind {
            LaneKind::Calls => &CALL_KINDS,
            LaneKind::Webhooks => &WEBHOOK_KINDS,
        }
    }

    /// Jobs this lane holds: running and pending. It claims up to twice its limit, so
    /// a finished job's successor is usually already here.
    fn held(&self) -> usize {
        self.running.len() + self.pending.len()
    }

    fn room_to_claim(&self) -> usize {
        (2 * self.limits.jobs).saturating_sub(self.held())
    }

    /// Targets and tenants holding a cap's worth here are left alone by the claim.
    fn exclude(&self) -> Exclude {
        let full = |loads: &HashMap<String, Load>, cap: usize| {
            loads
                .iter()
                .filter(|(_, l)| l.running + l.pending >= cap)
                .map(|(k, _)| k.clone())
                .collect()
        };
        Exclude {
            targets: full(&self.targets, self.limits.per_target),
            tenants: full(&self.tenants, self.limits.per_tenant),
        }
    }

    /// Claims what is due (leaving alone the targets and tenants at their cap) and
    /// starts what may start; returns how many jobs it claimed and whether that
    /// filled the room it asked for (then more may be due).
    async fn fill(&mut self, worker: &Arc<Worker>) -> anyhow::Result<(usize, bool)> {
        let room = self.room_to_claim();
        if room == 0 {
            return Ok((0, false));
        }
        let store = worker.engine.store();
        let now = worker.engine.clock().now();
        let mut jobs = claim(store, now, room as i64, self.kinds(), &self.exclude()).await?;
        if self.kind == LaneKind::Calls {
            jobs.extend(claim_strays(store, now, room as i64).await?);
        }
        let claimed = jobs.len();
        let full = claimed >= room;
        for job in jobs {
            for (loads, key) in [
                (&mut self.targets, &job.target),
                (&mut self.tenants, &job.tenant),
            ] {
                if let Some(key) = key {
                    loads.entry(key.clone()).or_default().pending += 1;
                }
            }
            self.pending.push_back(job);
        }
        self.start_ready(worker);
        Ok((claimed, full))
    }

    /// Starts pending jobs, in due order, while the lane has room: each once its key
    /// has nothing running and its target and tenant are under their caps.
    fn start_ready(&mut self, worker: &Arc<Worker>) {
        let mut i = 0;
        while i < self.pending.len() && self.running.len() < self.limits.jobs {
            let job = &self.pending[i];
            let under = |loads: &HashMap<String, Load>, key: &Option<String>, cap: usize| {
                key.as_ref()
                    .is_none_or(|k| loads.get(k).is_none_or(|l| l.running < cap))
            };
            let ready = !self.keys.contains(&job.order_key)
                && under(&self.targets, &job.target, self.limits.per_target)
                && under(&self.tenants, &job.tenant, self.limits.per_tenant);
            if !ready {
                i += 1;
                continue;
            }
            let job = self.pending.remove(i).expect("index checked");
            self.start(worker, job);
        }
    }

    fn start(&mut self, worker: &Arc<Worker>, job: Job) {
        for (loads, key) in [
            (&mut self.targets, &job.target),
            (&mut self.tenants, &job.tenant),
        ] {
            if let Some(load) = key.as_ref().and_then(|k| loads.get_mut(k)) {
                load.pending -= 1;
                load.running += 1;
            }
        }
        self.keys.insert(job.order_key.clone());
        let worker = worker.clone();
        self.running.spawn(async move {
            let done = Done {
                order_key: job.order_key.clone(),
                target: job.target.clone(),
                tenant: job.tenant.clone(),
            };
            worker.run_job(job).await;
            done
        });
    }

    /// Books a finished job and starts what it made room for.
    fn finished(&mut self, worker: &Arc<Worker>, done: Done) {
        for (loads, key) in [
            (&mut self.targets, &done.target),
            (&mut self.tenants, &done.tenant),
        ] {
            if let Some(key) = key {
                if let Some(load) = loads.get_mut(key) {
                    load.running -= 1;
                    if load.running + load.pending == 0 {
                        loads.remove(key);
                    }
                }
            }
        }
        self.keys.remove(&done.order_key);
        self.start_ready(worker);
    }

    /// Waits for one running job to finish and books it; `false` when none runs.
    async fn join_one(&mut self, worker: &Arc<Worker>) -> bool {
        match self.running.join_next().await {
            Some(Ok(done)) => {
                self.finished(worker, done);
                true
            }
            // `run_job` catches a job's panic itself; a join error here is the
            // runtime shutting down.
            Some(Err(err)) => {
                tracing::error!(error = %err, "a worker task ended abnormally");
                true
            }
            None => false,
        }
    }

    /// Until `stop` turns true: keeps the lane busy, claiming when it holds less
    /// than its limit or a job is enqueued (`wake`), sleeping while nothing is due
    /// until a job finishes, one is enqueued, or the next one falls due. Then drains
    /// (see [`Lane::drain`]).
    async fn run(mut self, worker: Arc<Worker>, mut stop: watch::Receiver<bool>) {
        let mut claim_now = true;
        while !*stop.borrow() {
            // Armed before the claim, so an enqueue during it is not missed.
            let enqueued = crate::wake::jobs(self.lane());
            tokio::pin!(enqueued);
            enqueued.as_mut().enable();
            let (claimed, full) = if claim_now {
                self.fill(&worker).await.unwrap_or_else(|err| {
                    tracing::error!(error = %format!("{err:#}"), "worker step failed");
                    (0, false)
                })
            } else {
                (0, false)
            };
            if full && self.room_to_claim() > 0 {
                continue;
            }
            // Everything due is claimed. With nothing claimed, sleep until the next
            // due job (at most the fallback poll); otherwise the jobs' ends wake the
            // loop.
            let idle = if claimed == 0 && claim_now {
                Some(self.idle_wait(&worker).await)
            } else {
                None
            };
            let woke = tokio::select! {
                true = self.join_one(&worker), if !self.running.is_empty() => Wake::Finished,
                _ = &mut enqueued => Wake::Enqueued,
                _ = tokio::time::sleep(idle.unwrap_or(IDLE_POLL)) => Wake::Timer,
                changed = stop.changed() => if changed.is_err() { break } else { Wake::Stop },
            };
            // A finished job claims again only once the lane holds less than its
            // limit: one claim per many finished jobs under load. Enqueues come in
            // bursts (a call writes several jobs): one claim takes a burst.
            claim_now = match woke {
                Wake::Finished => self.held() < self.limits.jobs,
                Wake::Enqueued => {
                    tokio::time::sleep(COALESCE).await;
                    true
                }
                Wake::Timer | Wake::Stop => true,
            };
        }
        self.drain(&worker).await;
    }

    /// Stopping: claims nothing more, gives back the pending jobs, and lets the
    /// running ones finish (each is bounded: a webhook attempt by its timeout). A job
    /// cut off by the process's end keeps its lease until it expires, then runs again
    /// elsewhere.
    async fn drain(&mut self, worker: &Arc<Worker>) {
        let pending: Vec<Job> = self.pending.drain(..).collect();
        if let Err(err) = release(worker.engine.store(), &pending).await {
            tracing::error!(error = %err, "could not give back pending jobs; their leases will expire");
        }
        while self.running.join_next().await.is_some() {}
    }

    /// How long to sleep when nothing claimable is due: until the next due job, at
    /// most the fallback poll. A due job the claim left alone (its target or tenant at
    /// its cap) waits for a running job to finish, not for a timer.
    async fn idle_wait(&self, worker: &Arc<Worker>) -> Duration {
        let now = worker.engine.clock().now().micros();
        match next_due(worker.engine.store(), self.kinds()).await {
            Ok(Some(due)) if due.micros() > now => {
                Duration::from_micros((due.micros() - now) as u64).min(IDLE_POLL)
            }
            _ => IDLE_POLL,
        }
    }
}

/// What ended a lane's wait.
enum Wake {
    Finished,
    Enqueued,
    Timer,
    Stop,
}

impl Worker {
    pub fn new(engine: Arc<Engine>, deliverer: Arc<Deliverer>, copier: Arc<Copier>) -> Worker {
        Worker {
            engine,
            deliverer,
            copier,
            call_limits: Limits::CALLS,
            webhook_limits: Limits::WEBHOOKS,
        }
    }

    /// One round of both lanes: claims what is due (within the limits) and runs it,
    /// including the jobs of a key claimed behind its running one; returns how many
    /// jobs ran.
    pub async fn run_once(self: &Arc<Self>) -> anyhow::Result<usize> {
        let round = |kind, limits| async move {
            let mut lane = Lane::new(kind, limits);
            let (claimed, _) = lane.fill(self).await?;
            while lane.join_one(self).await {}
            anyhow::Ok(claimed)
        };
        let (calls, hooks) = tokio::join!(
            round(LaneKind::Calls, self.call_limits),
            round(LaneKind::Webhooks, self.webhook_limits)
        );
        Ok(calls? + hooks?)
    }

    /// Runs one job. A failure is retried with backoff until the kind's maximum; a
    /// permanent one (malformed payload, `jobs::Permanent`) and a job past its
    /// maximum go dead. A panic is caught, logged and counted as a failed attempt.
    async fn run_job(self: &Arc<Self>, job: Job) {
        // The job may have waited behind others of its group: unless most of its
        // lease is still ahead (then nobody else can have claimed it), make sure the
        // claim still holds and that the lease covers the run from now.
        let lease_micros = lease_secs(&job) * 1_000_000;
        let ahead = job.locked_until - self.engine.clock().now().micros();
        let lease = if ahead > lease_micros / 2 {
            job.locked_until
        } else if let Some(renewed) = self.renew(&job, job.locked_until).await {
            renewed
        } else {
            tracing::warn!(job = %job.id, kind = %job.raw_kind, "lease lost before the job ran; another worker has it");
            return;
        };
        let kind = job.kind.map_or("unknown", Kind::as_str);
        let lag = (self.engine.clock().now().micros() - job.due_at).max(0);
        metrics::histogram!("kaicalls_job_lag_seconds", "kind" => kind).record(lag as f64 / 1e6);
        let result = match &job.payload_error {
            Some(why) => Err(anyhow::Error::new(Permanent(why.clone()))),
            None => {
                let worker = self.clone();
                let running = job.clone();
                let heartbeat = tokio::spawn(self.clone().keep_leased(job.clone(), lease));
                let result = tokio::spawn(async move { worker.dispatch(&running).await })
                    .await
                    .unwrap_or_else(|join| {
                        let why = match join.try_into_panic() {
                            Ok(panic) => crate::error::panic_message(panic.as_ref()),
                            Err(join) => join.to_string(),
                        };
                        Err(anyhow::anyhow!("job panicked: {why}"))
                    });
                heartbeat.abort();
                result
            }
        };
        let outcome = if result.is_ok() { "done" } else { "failed" };
        metrics::counter!("kaicalls_jobs_total", "kind" => kind, "outcome" => outcome).increment(1);
        let Err(err) = result else { return };
        let store = self.engine.store();
        let now = self.engine.clock().now();
        let error = format!("{err:#}");
        let max = job.kind.map_or(1, Kind::max_attempts);
        if err.downcast_ref::<Permanent>().is_some() || job.attempts >= max {
            tracing::error!(job = %job.id, kind = %job.raw_kind, attempts = job.attempts, %error, "job failed for good; kept as dead");
            if let Err(e) = bury(store, &job.id, &error, now).await {
                tracing::error!(job = %job.id, error = %e, "could not bury job");
            }
            return;
        }
        // Back off exponentially (1 s, 2 s, 4 s … capped at 5 min).
        let delay = (1i64 << job.attempts.clamp(0, 9)).min(300);
        let retry_at = Timestamp(now.micros() + delay * 1_000_000);
        tracing::warn!(job = %job.id, kind = %job.raw_kind, attempts = job.attempts, %error, "job failed; will retry");
        if let Err(e) = retry_later(store, &job.id, &error, retry_at).await {
            tracing::error!(job = %job.id, error = %e, "could not reschedule job");
        }
    }

    /// Extends the claim's lease to a full lease from now; `None` if it was lost.
    async fn renew(&self, job: &Job, held: i64) -> Option<i64> {
        let lease = lease_secs(job);
        let until = Timestamp(self.engine.clock().now().micros() + lease * 1_000_000);
        match super::renew(self.engine.store(), &job.id, held, until).await {
            Ok(renewed) => renewed,
            Err(err) => {
                tracing::error!(job = %job.id, error = %err, "could not renew a job's lease");
                None
            }
        }
    }

    /// While a job runs, renews its lease every third of it.
    async fn keep_leased(self: Arc<Self>, job: Job, mut held: i64) {
        let lease = lease_secs(&job);
        let every = Duration::from_secs((lease / 3).max(1) as u64);
        loop {
            tokio::time::sleep(every).await;
            match self.renew(&job, held).await {
                Some(renewed) => held = renewed,
                None => {
                    tracing::warn!(job = %job.id, kind = %job.raw_kind, "lost a running job's lease");
                    return;
                }
            }
        }
    }

    async fn dispatch(&self, job: &Job) -> anyhow::Result<()> {
        crate::fault::panic_point("panic-in-job");
        match job.kind {
            Some(Kind::WebhookDelivery) => self.deliverer.run(job).await,
            Some(Kind::CopyRecording) => self.copier.run(job).await,
            Some(_) => self.engine.run_job(job).await,
            None => Err(Permanent(format!("unknown job kind '{}'", job.raw_kind)).into()),
        }
    }

    /// Runs both lanes until `stop` turns true, then drains them: returns once no
    /// job of this worker runs or waits.
    pub async fn run(self: Arc<Self>, stop: watch::Receiver<bool>) {
        let calls = Lane::new(LaneKind::Calls, self.call_limits).run(self.clone(), stop.clone());
        let hooks = Lane::new(LaneKind::Webhooks, self.webhook_limits).run(self, stop);
        let _ = tokio::join!(tokio::spawn(calls), tokio::spawn(hooks));
    }
}
