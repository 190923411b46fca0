//! The worker: claims due jobs and runs them. Two lanes, so a slow webhook receiver
//! never delays a call's progress: the call lane runs one call's jobs in due order
//! (different calls concurrently); the webhook lane runs one object's deliveries to
//! one target in order (others concurrently). `Worker::run_once` is one step of both, public so tests can drive it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::{bury, claim, claim_strays, next_due, retry_later, Job, Kind, Permanent};
use crate::calls::engine::Engine;
use crate::clock::Timestamp;
use crate::recordings::Copier;
use crate::webhooks::delivery::Deliverer;

const BATCH: i64 = 64;
const IDLE_POLL: Duration = Duration::from_millis(200);
const CALL_KINDS: [Kind; 4] = [
    Kind::ProviderEvent,
    Kind::MaxDuration,
    Kind::DialGuard,
    Kind::Reconcile,
];
/// The I/O lane: webhook deliveries and recording copies, which wait on the network.
const WEBHOOK_KINDS: [Kind; 2] = [Kind::WebhookDelivery, Kind::CopyRecording];

/// A job's lease; a job of an unknown kind gets the claim's default (see `claim_where`).
fn lease_secs(job: &Job) -> i64 {
    job.kind.map_or(10, Kind::lease_secs)
}

pub struct Worker {
    pub engine: Arc<Engine>,
    pub deliverer: Arc<Deliverer>,
    pub copier: Arc<Copier>,
}

impl Worker {
    /// Claims and runs what is due in both lanes; returns how many jobs ran.
    pub async fn run_once(self: &Arc<Self>) -> anyhow::Result<usize> {
        let (calls, hooks) = tokio::join!(self.call_lane(), self.webhook_lane());
        Ok(calls? + hooks?)
    }

    async fn call_lane(self: &Arc<Self>) -> anyhow::Result<usize> {
        let ran = self.lane(&CALL_KINDS, |job| job.subject_id.clone()).await?;
        let now = self.engine.clock().now();
        let strays = claim_strays(self.engine.store(), now, BATCH).await?;
        let stray_count = strays.len();
        for job in strays {
            self.run_job(job).await;
        }
        Ok(ran + stray_count)
    }

    async fn webhook_lane(self: &Arc<Self>) -> anyhow::Result<usize> {
        self.lane(&WEBHOOK_KINDS, |job| {
            job.payload["order"]
                .as_str()
                .map_or_else(|| job.id.clone(), str::to_string)
        })
        .await
    }

    /// Claims a batch of due jobs of `kinds` and runs them: jobs sharing a key one
    /// after another in due order, different keys concurrently.
    async fn lane(
        self: &Arc<Self>,
        kinds: &[Kind],
        key: impl Fn(&Job) -> String,
    ) -> anyhow::Result<usize> {
        let now = self.engine.clock().now();
        let jobs = claim(self.engine.store(), now, BATCH, kinds).await?;
        let count = jobs.len();
        let mut groups: BTreeMap<String, Vec<Job>> = BTreeMap::new();
        for job in jobs {
            groups.entry(key(&job)).or_default().push(job);
        }
        let mut set = JoinSet::new();
        for (_, jobs) in groups {
            let worker = self.clone();
            set.spawn(async move {
                for job in jobs {
                    worker.run_job(job).await;
                }
            });
        }
        while set.join_next().await.is_some() {}
        Ok(count)
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

    /// Runs both lanes until the process ends, each sleeping until its next job is
    /// due.
    pub async fn run(self: Arc<Self>) {
        let calls = tokio::spawn(self.clone().lane_loop(false));
        let hooks = tokio::spawn(self.lane_loop(true));
        let _ = tokio::join!(calls, hooks);
    }

    async fn lane_loop(self: Arc<Self>, webhooks: bool) {
        let kinds: &[Kind] = if webhooks {
            &WEBHOOK_KINDS
        } else {
            &CALL_KINDS
        };
        loop {
            let ran = if webhooks {
                self.webhook_lane().await
            } else {
                self.call_lane().await
            };
            let ran = ran.unwrap_or_else(|err| {
                tracing::error!(error = %format!("{err:#}"), "worker step failed");
                0
            });
            if ran > 0 {
                continue;
            }
            let wait = match next_due(self.engine.store(), kinds).await {
                Ok(Some(due)) => {
                    let micros = (due.micros() - self.engine.clock().now().micros()).max(2_000);
                    Duration::from_micros(micros as u64).min(IDLE_POLL)
                }
                _ => IDLE_POLL,
            };
            tokio::time::sleep(wait).await;
        }
    }
}
