//! The worker loop: claims due jobs and hands them to the call engine. `run_once` is
//! one step, public so tests can drive it.

use std::sync::Arc;
use std::time::Duration;

use crate::calls::engine::Engine;
use crate::clock::Timestamp;

use super::{claim, next_due, retry_later};

const BATCH: i64 = 32;
const IDLE_POLL: Duration = Duration::from_millis(200);

/// Claims and runs every job due now; returns how many ran.
pub async fn run_once(engine: &Engine) -> anyhow::Result<usize> {
    let now = engine.clock().now();
    let jobs = claim(engine.store(), now, BATCH).await?;
    for job in &jobs {
        if let Err(err) = engine.run_job(job).await {
            // Back off exponentially (1 s, 2 s, 4 s … capped at 5 min).
            let delay = 1i64 << job.attempts.clamp(0, 8);
            let retry_at = Timestamp(engine.clock().now().micros() + delay.min(300) * 1_000_000);
            tracing::warn!(job = %job.id, kind = %job.raw_kind, attempts = job.attempts, error = %format!("{err:#}"), "job failed; will retry");
            retry_later(engine.store(), &job.id, &format!("{err:#}"), retry_at).await?;
        }
    }
    Ok(jobs.len())
}

/// Runs jobs until the process ends, sleeping until the next is due.
pub async fn run(engine: Arc<Engine>) {
    loop {
        let ran = match run_once(&engine).await {
            Ok(n) => n,
            Err(err) => {
                tracing::error!(error = %format!("{err:#}"), "worker step failed");
                0
            }
        };
        if ran > 0 {
            continue;
        }
        let wait = match next_due(engine.store()).await {
            Ok(Some(due)) => {
                let micros = (due.micros() - engine.clock().now().micros()).max(2_000);
                Duration::from_micros(micros as u64).min(IDLE_POLL)
            }
            _ => IDLE_POLL,
        };
        tokio::time::sleep(wait).await;
    }
}
