//! Durable jobs: rows in the same database as the data they act on, due at a time,
//! claimed with a lease so that several server processes never run one job at once,
//! and picked up again after a crash (an expired lease is claimable).
//!
//! A job is written in the transaction of the change that needs it (the outbox), and
//! deleted in the transaction of the work it does, so its effect happens once.

pub mod worker;

use serde_json::Value;
use sqlx::Row;

use crate::clock::Timestamp;
use crate::ids;
use crate::store::group;
use crate::store::sql::Arg;
use crate::store::{Dialect, Store, Tx};

impl Kind {
    /// How long a claimed job is reserved for its worker before others may take it:
    /// the longest a job waits after its worker died. Call steps take milliseconds; a
    /// webhook attempt up to its 15 s timeout.
    pub fn lease_secs(self) -> i64 {
        match self {
            Kind::WebhookDelivery
            | Kind::Reconcile
            | Kind::Dial
            | Kind::CampaignTick
            | Kind::StaffAlert => 30,
            Kind::CopyRecording => 180,
            Kind::ProviderEvent | Kind::MaxDuration | Kind::DialGuard => 10,
        }
    }

    /// The worker lane that runs it: I/O (webhooks, recording copies, which wait on
    /// the network) or calls.
    pub fn lane(self) -> crate::wake::JobLane {
        match self {
            Kind::WebhookDelivery | Kind::CopyRecording | Kind::StaffAlert => {
                crate::wake::JobLane::Io
            }
            Kind::ProviderEvent
            | Kind::MaxDuration
            | Kind::DialGuard
            | Kind::Reconcile
            | Kind::Dial
            | Kind::CampaignTick => crate::wake::JobLane::Calls,
        }
    }

    /// Failed runs after which a job is dead: kept with its last error, never claimed
    /// again (`kaicalls admin dead-jobs` lists them). Webhook retries and recording
    /// copies keep their own schedules; this bounds a job that keeps erroring.
    pub fn max_attempts(self) -> i64 {
        match self {
            Kind::Reconcile | Kind::WebhookDelivery | Kind::StaffAlert => 20,
            Kind::ProviderEvent
            | Kind::MaxDuration
            | Kind::DialGuard
            | Kind::CopyRecording
            | Kind::Dial
            | Kind::CampaignTick => 10,
        }
    }
}

/// An error a job cannot recover from by running again (a malformed payload, a
/// refused address): the job goes dead at once.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Permanent(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Deliver a provider event (a simulator script step) to the call engine.
    ProviderEvent,
    /// End a call still live at its `max_duration`.
    MaxDuration,
    /// Fail a call whose dial never completed (the process died mid-dial).
    DialGuard,
    /// Attempt one webhook delivery (rescheduled on failure).
    WebhookDelivery,
    /// Ask the provider where a call stands (its events may have been lost).
    Reconcile,
    /// Copy a finished call's recording into our storage.
    CopyRecording,
    /// Place a scheduled call at its time (`calls::create::dial_scheduled`).
    Dial,
    /// Dial a running campaign's due contacts (`campaigns::runner::tick`).
    CampaignTick,
    /// Send one staff alert (`alerts::deliver`).
    StaffAlert,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ProviderEvent => "provider_event",
            Kind::MaxDuration => "max_duration",
            Kind::DialGuard => "dial_guard",
            Kind::WebhookDelivery => "webhook_delivery",
            Kind::Reconcile => "reconcile",
            Kind::CopyRecording => "copy_recording",
            Kind::Dial => "dial",
            Kind::CampaignTick => "campaign_tick",
            Kind::StaffAlert => "staff_alert",
        }
    }

    pub const ALL: [Kind; 9] = [
        Kind::ProviderEvent,
        Kind::MaxDuration,
        Kind::DialGuard,
        Kind::WebhookDelivery,
        Kind::Reconcile,
        Kind::CopyRecording,
        Kind::Dial,
        Kind::CampaignTick,
        Kind::StaffAlert,
    ];

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: Option<Kind>,
    pub raw_kind: String,
    pub subject_id: String,
    pub payload: Value,
    pub attempts: i64,
    /// Why the stored payload could not be read, if it could not.
    pub payload_error: Option<String>,
    /// The end of the lease this claim holds (microseconds): also the claim's token,
    /// since a later claim of the job always sets a later end.
    pub locked_until: i64,
    /// Jobs sharing this key run one after another, in due order (see [`Keys`]).
    pub order_key: String,
    /// When it was due (microseconds).
    pub due_at: i64,
    pub target: Option<String>,
    pub tenant: Option<String>,
}

/// What the worker's fair scheduling knows of a job without reading its payload.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keys<'a> {
    /// Jobs sharing it run one after another (default: the subject, e.g. the call).
    pub order: Option<&'a str>,
    /// The receiver the job talks to (a webhook URL's origin): capped per target.
    pub target: Option<&'a str>,
    /// The business it works for: capped per tenant.
    pub tenant: Option<&'a str>,
}

/// A new job, due at `due_at`; it runs one after another with its subject's other
/// jobs.
pub async fn enqueue(
    tx: &mut Tx,
    kind: Kind,
    subject_id: &str,
    payload: &Value,
    due_at: Timestamp,
    now: Timestamp,
) -> sqlx::Result<String> {
    enqueue_keyed(tx, kind, subject_id, payload, due_at, now, Keys::default()).await
}

/// [`enqueue`] with the scheduling keys spelled out.
pub async fn enqueue_keyed(
    tx: &mut Tx,
    kind: Kind,
    subject_id: &str,
    payload: &Value,
    due_at: Timestamp,
    now: Timestamp,
    keys: Keys<'_>,
) -> sqlx::Result<String> {
    let mut ids = insert(tx, kind, subject_id, &[(payload, due_at)], now, keys).await?;
    Ok(ids.remove(0))
}

/// Several jobs of one kind and subject, each `(payload, due_at)`, in one statement;
/// they run one after another in due order.
pub async fn enqueue_all(
    tx: &mut Tx,
    kind: Kind,
    subject_id: &str,
    jobs: &[(&Value, Timestamp)],
    now: Timestamp,
) -> sqlx::Result<Vec<String>> {
    insert(tx, kind, subject_id, jobs, now, Keys::default()).await
}

const INSERT_HEAD: &str =
    "INSERT INTO jobs (id, kind, subject_id, payload, due_at, locked_until, attempts, \
    last_error, created_at, order_key, target, tenant)";
const INSERT_COLUMNS: usize = 12;

/// Inserts the jobs in one statement and wakes their lane; returns their ids.
async fn insert(
    tx: &mut Tx,
    kind: Kind,
    subject_id: &str,
    jobs: &[(&Value, Timestamp)],
    now: Timestamp,
    keys: Keys<'_>,
) -> sqlx::Result<Vec<String>> {
    if jobs.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<String> = jobs.iter().map(|_| ids::new_id()).collect();
    let rows = ids.iter().zip(jobs).map(|(id, (payload, due_at))| {
        // In INSERT_HEAD's order.
        vec![
            id.into(),
            kind.as_str().into(),
            subject_id.into(),
            payload.to_string().into(),
            due_at.micros().into(),
            Arg::NullInt,
            Arg::Int(0),
            Arg::Null,
            now.micros().into(),
            keys.order.unwrap_or(subject_id).into(),
            keys.target.into(),
            keys.tenant.into(),
        ]
    });
    group::statement(INSERT_HEAD, INSERT_COLUMNS, rows)
        .query()
        .execute(&mut **tx)
        .await?;
    crate::wake::job_enqueued(kind.lane());
    Ok(ids)
}

/// What a claim leaves alone: the targets and tenants the claimer holds enough of.
#[derive(Debug, Default)]
pub struct Exclude {
    pub targets: Vec<String>,
    pub tenants: Vec<String>,
}

/// `'a', 'b'`: kinds are our own constants, never user input.
fn kind_list(kinds: &[Kind]) -> String {
    kinds
        .iter()
        .map(|k| format!("'{}'", k.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Claims up to `limit` due jobs of the given kinds, each for its kind's lease, in due
/// order. On PostgreSQL, `SKIP LOCKED` lets concurrent claimers pass each other;
/// SQLite has a single writer, so the UPDATE is atomic as it is.
pub async fn claim(
    store: &Store,
    now: Timestamp,
    limit: i64,
    kinds: &[Kind],
    exclude: &Exclude,
) -> sqlx::Result<Vec<Job>> {
    claim_where(
        store,
        now,
        limit,
        kinds,
        &format!("kind IN ({})", kind_list(kinds)),
        exclude,
    )
    .await
}

/// Claims due jobs of a kind this version does not know (written by a newer one, or
/// by hand), so that they go dead where they can be seen instead of waiting forever.
pub async fn claim_strays(store: &Store, now: Timestamp, limit: i64) -> sqlx::Result<Vec<Job>> {
    let known = kind_list(&Kind::ALL);
    claim_where(
        store,
        now,
        limit,
        &Kind::ALL,
        &format!("kind NOT IN ({known})"),
        &Exclude::default(),
    )
    .await
}

async fn claim_where(
    store: &Store,
    now: Timestamp,
    limit: i64,
    kinds: &[Kind],
    kind_filter: &str,
    exclude: &Exclude,
) -> sqlx::Result<Vec<Job>> {
    // Kinds and leases are our own constants, never user input.
    let lease = kinds
        .iter()
        .map(|k| format!(" WHEN '{}' THEN {}", k.as_str(), k.lease_secs() * 1_000_000))
        .collect::<String>();
    // The exclusions are bound: placeholders $3 onwards.
    let mut excluded = String::new();
    let mut binds: Vec<&str> = Vec::new();
    for (column, values) in [("target", &exclude.targets), ("tenant", &exclude.tenants)] {
        if values.is_empty() {
            continue;
        }
        let first = binds.len() + 3;
        let list = (first..first + values.len())
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        excluded.push_str(&format!(
            " AND ({column} IS NULL OR {column} NOT IN ({list}))"
        ));
        binds.extend(values.iter().map(String::as_str));
    }
    let lock = match store.dialect {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET locked_until = $1 + CASE kind{lease} ELSE 10000000 END, attempts = attempts + 1
         WHERE id IN (SELECT id FROM jobs WHERE due_at <= $1 AND dead_at IS NULL AND (locked_until IS NULL OR locked_until < $1)
                      AND {kind_filter}{excluded} ORDER BY due_at LIMIT $2{lock})
         RETURNING id, kind, subject_id, payload, attempts, due_at, locked_until, order_key, target, tenant"
    );
    let mut query = sqlx::query(&sql).bind(now.micros()).bind(limit);
    for value in binds {
        query = query.bind(value);
    }
    let rows = query.fetch_all(&store.pool).await?;
    let mut jobs: Vec<Job> = rows
        .iter()
        .map(|r| {
            let raw_kind: String = r.get(1);
            let (payload, payload_error) = match serde_json::from_str(&r.get::<String, _>(3)) {
                Ok(payload) => (payload, None),
                Err(e) => (Value::Null, Some(format!("malformed payload: {e}"))),
            };
            let subject_id: String = r.get(2);
            // Rows from before migration 5 have no keys: their deliveries kept the
            // order key in the payload, everything else ran in its subject's order.
            let order_key = r
                .get::<Option<String>, _>(7)
                .or_else(|| payload["order"].as_str().map(str::to_string))
                .unwrap_or_else(|| subject_id.clone());
            Job {
                id: r.get(0),
                kind: Kind::parse(&raw_kind),
                raw_kind,
                subject_id,
                payload,
                attempts: r.get(4),
                payload_error,
                locked_until: r.get(6),
                order_key,
                due_at: r.get(5),
                target: r.get(8),
                tenant: r.get(9),
            }
        })
        .collect();
    jobs.sort_by_key(|job| job.due_at);
    Ok(jobs)
}

/// Extends the lease of a job this claim still holds (its lease is `held`) to
/// `until`; `None` when the claim was lost: the lease ran out and another worker
/// claimed the job, or it is finished or dead. Renewed before a job runs (it may
/// have waited behind others of its group) and while it runs, so the lease covers
/// the work it guards.
pub async fn renew(
    store: &Store,
    id: &str,
    held: i64,
    until: Timestamp,
) -> sqlx::Result<Option<i64>> {
    let until = until.micros().max(held);
    let done = sqlx::query(
        "UPDATE jobs SET locked_until = $1 WHERE id = $2 AND locked_until = $3 AND dead_at IS NULL",
    )
    .bind(until)
    .bind(id)
    .bind(held)
    .execute(&store.pool)
    .await?;
    Ok((done.rows_affected() == 1).then_some(until))
}

/// Gives claimed jobs back unrun (a stopping worker's pending ones): claimable again
/// at once, the claim not counted as an attempt. Only claims still held are released.
pub async fn release(store: &Store, jobs: &[Job]) -> sqlx::Result<()> {
    // One statement per lease end (a claim gives every job of a kind the same one).
    let mut by_lease: std::collections::BTreeMap<i64, Vec<&str>> = Default::default();
    for job in jobs {
        by_lease.entry(job.locked_until).or_default().push(&job.id);
    }
    for (held, ids) in by_lease {
        let list = (2..ids.len() + 2)
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE jobs SET locked_until = NULL, attempts = attempts - 1 WHERE locked_until = $1 AND id IN ({list})"
        );
        let mut query = sqlx::query(&sql).bind(held);
        for id in ids {
            query = query.bind(id);
        }
        query.execute(&store.pool).await?;
    }
    Ok(())
}

/// Removes a finished job, inside the transaction of the work it did.
pub async fn complete(tx: &mut Tx, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM jobs WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Removes a finished job on its own (work whose effects are idempotent).
pub async fn finish(store: &Store, id: &str) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM jobs WHERE id = $1")
        .bind(id)
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// Removes a call's pending timers once it has ended (one statement).
pub async fn cancel_for_subject(tx: &mut Tx, subject_id: &str, kinds: &[Kind]) -> sqlx::Result<()> {
    if kinds.is_empty() {
        return Ok(());
    }
    // Kinds are our own constants, never user input.
    sqlx::query(&format!(
        "DELETE FROM jobs WHERE subject_id = $1 AND kind IN ({})",
        kind_list(kinds)
    ))
    .bind(subject_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Releases a failed job to run again at `retry_at`.
pub async fn retry_later(
    store: &Store,
    id: &str,
    error: &str,
    retry_at: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE jobs SET locked_until = NULL, due_at = $1, last_error = $2 WHERE id = $3")
        .bind(retry_at.micros())
        .bind(error)
        .bind(id)
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// Keeps a job that cannot succeed, dead: never claimed again, visible with its error.
pub async fn bury(store: &Store, id: &str, error: &str, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query("UPDATE jobs SET locked_until = NULL, dead_at = $1, last_error = $2 WHERE id = $3")
        .bind(now.micros())
        .bind(error)
        .bind(id)
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// A dead job, as `kaicalls admin dead-jobs` shows it.
#[derive(Debug, serde::Serialize)]
pub struct DeadJob {
    pub id: String,
    pub kind: String,
    pub subject_id: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub dead_at: String,
}

pub async fn dead(store: &Store) -> sqlx::Result<Vec<DeadJob>> {
    let rows = sqlx::query(
        "SELECT id, kind, subject_id, attempts, last_error, dead_at FROM jobs
         WHERE dead_at IS NOT NULL ORDER BY dead_at",
    )
    .fetch_all(store.reader())
    .await?;
    Ok(rows
        .iter()
        .map(|r| DeadJob {
            id: r.get(0),
            kind: r.get(1),
            subject_id: r.get(2),
            attempts: r.get(3),
            last_error: r.get(4),
            dead_at: Timestamp(r.get(5)).to_rfc3339(),
        })
        .collect())
}

/// Moves a job to run again at `due_at`, inside the transaction of its attempt.
pub async fn reschedule(tx: &mut Tx, id: &str, due_at: Timestamp) -> sqlx::Result<()> {
    sqlx::query("UPDATE jobs SET due_at = $1, locked_until = NULL WHERE id = $2")
        .bind(due_at.micros())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// When the next job of these kinds can be claimed (its due time, or its lease's
/// end), if any.
pub async fn next_due(store: &Store, kinds: &[Kind]) -> sqlx::Result<Option<Timestamp>> {
    let sql = format!(
        "SELECT MIN(CASE WHEN locked_until IS NOT NULL AND locked_until > due_at THEN locked_until ELSE due_at END)
         FROM jobs WHERE dead_at IS NULL AND kind IN ({})",
        kind_list(kinds)
    );
    let due: Option<i64> = sqlx::query_scalar(&sql).fetch_one(store.reader()).await?;
    Ok(due.map(Timestamp))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SEC: i64 = 1_000_000;

    /// A lease renewed while the work runs keeps other claimers out past its first
    /// end; a claim whose lease ran out and was taken over cannot renew, so its
    /// worker knows not to run the job.
    #[tokio::test]
    async fn a_renewed_lease_covers_the_work_and_a_lost_one_cannot_be_renewed() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let t0 = Timestamp(1_000 * SEC);
        let mut tx = store.begin().await.unwrap();
        let id = enqueue(&mut tx, Kind::ProviderEvent, "call-1", &json!({}), t0, t0)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let kinds = [Kind::ProviderEvent];
        let lease = Kind::ProviderEvent.lease_secs() * SEC;

        let first = claim(&store, t0, 10, &kinds, &Exclude::default())
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(
            (first.id.as_str(), first.locked_until),
            (id.as_str(), t0.micros() + lease)
        );
        // Renewed shortly before it would run out: nobody else may claim it after
        // the first lease's end.
        let almost = Timestamp(t0.micros() + lease - SEC);
        let held = renew(
            &store,
            &id,
            first.locked_until,
            Timestamp(almost.micros() + lease),
        )
        .await
        .unwrap()
        .expect("the claim still holds");
        let after_first_end = Timestamp(t0.micros() + lease + SEC);
        assert!(
            claim(&store, after_first_end, 10, &kinds, &Exclude::default())
                .await
                .unwrap()
                .is_empty()
        );

        // Not renewed again: once it runs out, another worker takes the job, and the
        // first claim can no longer renew (its token is stale).
        let later = Timestamp(held + SEC);
        let second = claim(&store, later, 10, &kinds, &Exclude::default())
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(second.id, id);
        assert!(second.locked_until > held);
        assert_eq!(
            renew(&store, &id, held, Timestamp(later.micros() + lease))
                .await
                .unwrap(),
            None
        );
        assert!(renew(
            &store,
            &id,
            second.locked_until,
            Timestamp(later.micros() + lease)
        )
        .await
        .unwrap()
        .is_some());
    }
}
