//! Delivering one webhook attempt: sign, POST (no redirects, 15 s), record the attempt
//! and decide what comes next — done, retry on the schedule (with jitter, honouring
//! `Retry-After`), disable the subscription on 410, or give up. The attempt row, the
//! delivery's state and the job's next due time are written in one transaction, so a
//! crash at any point leaves the delivery to be attempted again (at-least-once, with
//! the same `webhook-id`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;

use super::{signing, ssrf};
use crate::auth::api_key::Mode;
use crate::clock::{SharedClock, Timestamp};
use crate::ids;
use crate::jobs::{self, Job};
use crate::store::row::Columns;
use crate::store::Store;

pub const TIMEOUT: Duration = Duration::from_secs(15);
/// A `Retry-After` longer than this is not honoured beyond it.
const MAX_RETRY_AFTER_SECS: f64 = 86_400.0;

pub struct Deliverer {
    store: Store,
    clock: SharedClock,
    /// Only public addresses (live mode).
    guarded: reqwest::Client,
    /// Any address (test mode, or when private webhooks are allowed).
    open: reqwest::Client,
    schedule: Vec<f64>,
    allow_private: bool,
}

/// Parses `KAICALLS_WEBHOOK_RETRY_SCHEDULE`: comma-separated seconds.
pub fn parse_schedule(text: &str) -> anyhow::Result<Vec<f64>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<f64>().ok().filter(|v| *v >= 0.0).ok_or_else(|| {
                anyhow::anyhow!("invalid retry delay {s:?} in KAICALLS_WEBHOOK_RETRY_SCHEDULE")
            })
        })
        .collect()
}

struct Pending {
    id: String,
    event_id: String,
    business_id: String,
    mode: Mode,
    subscription_id: Option<String>,
    url: String,
    webhook_id: String,
    attempts: i64,
}

enum Outcome {
    Status(u16, Option<f64>),
    Error(String),
    /// The SSRF guard refused the target: it cannot succeed on retry.
    Refused(String),
}

impl Deliverer {
    pub fn new(
        store: Store,
        clock: SharedClock,
        schedule: Vec<f64>,
        allow_private: bool,
    ) -> anyhow::Result<Deliverer> {
        let builder = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(TIMEOUT)
                .user_agent(concat!("KaiCalls-Webhooks/", env!("CARGO_PKG_VERSION")))
        };
        Ok(Deliverer {
            guarded: builder()
                .dns_resolver(Arc::new(ssrf::PublicOnlyResolver))
                .build()?,
            open: builder().build()?,
            store,
            clock,
            schedule,
            allow_private,
        })
    }

    async fn load(&self, id: &str) -> sqlx::Result<Option<Pending>> {
        let row = sqlx::query(
            "SELECT id, event_id, business_id, mode, subscription_id, url, webhook_id, attempts
             FROM deliveries WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .fetch_optional(self.store.reader())
        .await?;
        row.map(|row| {
            let r = Columns(&row);
            Ok(Pending {
                id: r.get("id")?,
                event_id: r.get("event_id")?,
                business_id: r.get("business_id")?,
                mode: r.parsed("mode", Mode::parse)?,
                subscription_id: r.get("subscription_id")?,
                url: r.get("url")?,
                webhook_id: r.get("webhook_id")?,
                attempts: r.get("attempts")?,
            })
        })
        .transpose()
    }

    /// Runs one delivery job.
    pub async fn run(&self, job: &Job) -> anyhow::Result<()> {
        let Some(delivery) = self.load(&job.subject_id).await? else {
            let mut tx = self.store.begin().await?;
            jobs::complete(&mut tx, &job.id).await?;
            tx.commit().await?;
            return Ok(());
        };
        let body: String = sqlx::query_scalar("SELECT data FROM events WHERE id = $1")
            .bind(&delivery.event_id)
            .fetch_one(self.store.reader())
            .await?;
        let now = self.clock.now();
        let secrets = match &delivery.subscription_id {
            Some(sub_id) => match super::get_by_id(&self.store, sub_id).await? {
                Some(sub) if sub.is_active => vec![sub.secret],
                _ => {
                    return self
                        .give_up(job, &delivery, "subscription deleted or disabled")
                        .await
                }
            },
            None => super::business_secrets(&self.store, &delivery.business_id, now).await?,
        };

        let started = Instant::now();
        let outcome = self.send(&delivery, &secrets, &body, now).await;
        let latency_ms = started.elapsed().as_millis() as i64;
        self.record(job, &delivery, outcome, latency_ms).await
    }

    async fn send(&self, d: &Pending, secrets: &[String], body: &str, now: Timestamp) -> Outcome {
        let guarded = d.mode == Mode::Live && !self.allow_private;
        if guarded {
            if let Some(why) = ssrf::refused_literal(&d.url) {
                return Outcome::Refused(format!("refused: {why}"));
            }
        }
        let client = if guarded { &self.guarded } else { &self.open };
        let timestamp = now.micros() / 1_000_000;
        let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let result = client
            .post(&d.url)
            .header("content-type", "application/json")
            .header("webhook-id", &d.webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signing::signature_header(&secret_refs, &d.webhook_id, timestamp, body),
            )
            .body(body.to_string())
            .send()
            .await;
        match result {
            Ok(resp) => {
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok());
                Outcome::Status(resp.status().as_u16(), retry_after)
            }
            Err(err) => match refusal(&err) {
                Some(why) => Outcome::Refused(format!("refused: {why}")),
                None => Outcome::Error(describe(&err)),
            },
        }
    }

    async fn record(
        &self,
        job: &Job,
        d: &Pending,
        outcome: Outcome,
        latency_ms: i64,
    ) -> anyhow::Result<()> {
        let now = self.clock.now();
        let attempt = d.attempts + 1;
        let (status_code, error, retry_after) = match &outcome {
            Outcome::Status(code, retry_after) => (Some(*code as i64), None, *retry_after),
            Outcome::Error(e) | Outcome::Refused(e) => (None, Some(e.clone()), None),
        };
        let refused = matches!(outcome, Outcome::Refused(_));
        let succeeded = status_code.is_some_and(|c| (200..300).contains(&c));
        let outcome_label = match (&outcome, succeeded) {
            (_, true) => "succeeded",
            (Outcome::Status(..), false) => "failed_status",
            (Outcome::Error(_), _) => "failed_connection",
            (Outcome::Refused(_), _) => "refused",
        };
        metrics::counter!("kaicalls_webhook_attempts_total", "outcome" => outcome_label)
            .increment(1);
        metrics::histogram!("kaicalls_webhook_attempt_duration_seconds")
            .record(latency_ms as f64 / 1000.0);
        let gone = status_code == Some(410) && d.subscription_id.is_some();
        let next_at = if succeeded || gone || refused {
            None
        } else {
            self.schedule.get(attempt as usize - 1).map(|delay| {
                let jittered = delay * rand::thread_rng().gen_range(0.8..=1.2);
                let wait = retry_after
                    .map(|r| r.min(MAX_RETRY_AFTER_SECS))
                    .map_or(jittered, |r| jittered.max(r));
                now.plus_secs_f64(wait)
            })
        };
        let status = match (succeeded, next_at) {
            (true, _) => "succeeded",
            (false, Some(_)) => "pending",
            (false, None) => "failed",
        };
        let error = error.or_else(|| {
            (!succeeded).then(|| format!("endpoint answered HTTP {}", status_code.unwrap_or(0)))
        });

        // Group-committed with the other attempts finishing at this moment.
        let (delivery_id, subscription_id, job_id) =
            (d.id.clone(), d.subscription_id.clone(), job.id.clone());
        let recorded_error = error.clone();
        self.store
            .write_background(move |tx| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO delivery_attempts (id, delivery_id, attempt, status_code, error, latency_ms, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(ids::new_id())
                    .bind(&delivery_id)
                    .bind(attempt)
                    .bind(status_code)
                    .bind(&recorded_error)
                    .bind(latency_ms)
                    .bind(now.micros())
                    .execute(&mut **tx)
                    .await?;
                    sqlx::query(
                        "UPDATE deliveries SET status = $1, attempts = $2, last_status_code = $3, last_error = $4,
                            next_attempt_at = $5, updated_at = $6 WHERE id = $7",
                    )
                    .bind(status)
                    .bind(attempt)
                    .bind(status_code)
                    .bind(&recorded_error)
                    .bind(next_at.map(Timestamp::micros))
                    .bind(now.micros())
                    .bind(&delivery_id)
                    .execute(&mut **tx)
                    .await?;
                    if gone {
                        if let Some(sub) = &subscription_id {
                            super::disable(tx, sub, "endpoint answered 410 Gone", now).await?;
                        }
                    }
                    match next_at {
                        Some(at) => jobs::reschedule(tx, &job_id, at).await?,
                        None => jobs::complete(tx, &job_id).await?,
                    }
                    Ok(())
                })
            })
            .await?;
        if !succeeded {
            tracing::info!(delivery = %d.id, attempt, status, error = error.as_deref().unwrap_or(""), "webhook attempt failed");
        }
        Ok(())
    }

    async fn give_up(&self, job: &Job, d: &Pending, why: &str) -> anyhow::Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        sqlx::query("UPDATE deliveries SET status = 'failed', last_error = $1, next_attempt_at = NULL, updated_at = $2 WHERE id = $3")
            .bind(why)
            .bind(now.micros())
            .bind(&d.id)
            .execute(&mut *tx)
            .await?;
        jobs::complete(&mut tx, &job.id).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The SSRF guard's refusal, if that is what stopped the request.
fn refusal(err: &reqwest::Error) -> Option<String> {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<ssrf::Refused>() {
            return Some(refused.0.clone());
        }
        source = s.source();
    }
    None
}

/// A short, secret-free description of a transport error.
fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_redirect() {
        "redirect refused"
    } else {
        "request failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn schedules_parse() {
        assert_eq!(
            super::parse_schedule("5,300, 1800").unwrap(),
            vec![5.0, 300.0, 1800.0]
        );
        assert_eq!(super::parse_schedule("0.2,0.5").unwrap(), vec![0.2, 0.5]);
        assert!(super::parse_schedule("5,soon").is_err());
    }
}
