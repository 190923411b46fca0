//! The worker: claims due jobs and runs them. Two lanes, so a slow webhook receiver
//! never delays a call's progress: the call lane runs one call's jobs in due order
//! (different calls concurrently); the webhook lane runs one object's deliveries to
//! one target in order (others concurrently). `Worker::run_once` is one step of both, public so tests can drive it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::{claim, next_due, retry_later, Job, Kind};
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
        self.lane(&CALL_KINDS, |job| job.subject_id.clone()).await
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

    async fn run_job(&self, job: Job) {
        let result = match job.kind {
            Some(Kind::WebhookDelivery) => self.deliverer.run(&job).await,
            Some(Kind::CopyRecording) => self.copier.run(&job).await,
            _ => self.engine.run_job(&job).await,
        };
        if let Err(err) = result {
            // Back off exponentially (1 s, 2 s, 4 s … capped at 5 min).
            let delay = (1i64 << job.attempts.clamp(0, 9)).min(300);
            let retry_at = Timestamp(self.engine.clock().now().micros() + delay * 1_000_000);
            tracing::warn!(job = %job.id, kind = %job.raw_kind, attempts = job.attempts, error = %format!("{err:#}"), "job failed; will retry");
            if let Err(e) =
                retry_later(self.engine.store(), &job.id, &format!("{err:#}"), retry_at).await
            {
                tracing::error!(job = %job.id, error = %e, "could not reschedule job");
            }
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
