//! Wake on change: whoever waits for the database to change (the worker for new jobs,
//! `GET /calls?id=&wait=` for a call's next status) sleeps on a notification here
//! instead of polling, with a slow poll left only as the fallback.
//!
//! In one process, the code that makes the change signals it: `calls::repo::
//! commit_changed` after the commit of a call's change (its waiters read through the
//! reader connections, which see only what is committed), `jobs::enqueue` inside the
//! enqueueing transaction — on SQLite every write goes through the one writer
//! connection, so a woken claimer (whose claim is a write) runs after that
//! transaction has committed. On PostgreSQL the database signals too: triggers
//! (migration 5) `NOTIFY` at commit, and [`listen`] turns every instance's
//! notifications into the same local signals, so a job enqueued or a call changed by
//! one server wakes the others.
//!
//! API keys are cached (`auth::key_cache`) under an epoch that every key change
//! bumps: here when this instance revokes one, through `LISTEN` when another does.
//! While the `LISTEN` connection is down the cache is not trusted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use tokio::sync::Notify;

/// The PostgreSQL channels (the triggers of migration 5 use these names).
pub const JOBS_CHANNEL: &str = "kaicalls_jobs";
pub const CALLS_CHANNEL: &str = "kaicalls_calls";
pub const KEYS_CHANNEL: &str = "kaicalls_keys";
pub const EVENTS_CHANNEL: &str = "kaicalls_events";

/// Bumped whenever an API key changes (here, or on another instance): cached keys
/// read before the bump are stale.
static KEYS_EPOCH: AtomicU64 = AtomicU64::new(0);

/// Whether this process depends on a `LISTEN` connection for other instances'
/// changes, and whether that connection is up.
static LISTENER: AtomicU8 = AtomicU8::new(NO_LISTENER);
const NO_LISTENER: u8 = 0;
const LISTENING: u8 = 1;
const NOT_LISTENING: u8 = 2;

/// An API key changed (revoked, expired, re-scoped): every cached key is stale.
pub fn keys_changed() {
    KEYS_EPOCH.fetch_add(1, Ordering::SeqCst);
}

pub fn keys_epoch() -> u64 {
    KEYS_EPOCH.load(Ordering::SeqCst)
}

/// True when every change another instance makes reaches this one: no other
/// instance to hear from (SQLite), or the `LISTEN` connection is up. A cache must not
/// be trusted otherwise.
pub fn hears_every_change() -> bool {
    LISTENER.load(Ordering::SeqCst) != NOT_LISTENING
}

/// The worker's two lanes (`jobs::worker`), woken separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobLane {
    Calls = 0,
    Io = 1,
}

#[derive(Default)]
struct Signals {
    jobs: [Notify; 2],
    /// Waiters per call id; entries whose last waiter left are pruned as they are met.
    calls: Mutex<HashMap<String, Weak<Notify>>>,
    /// The event stream's reader (`events::stream`): one waiter, woken with a permit
    /// so a commit while it reads is not missed.
    events: Notify,
}

static SIGNALS: LazyLock<Signals> = LazyLock::new(Signals::default);

/// A job of `lane` was enqueued in this process. On PostgreSQL the commit's
/// `NOTIFY` wakes the lane (here and on every instance), so this does nothing there:
/// a wake before the commit would only find nothing to claim.
pub fn job_enqueued(lane: JobLane) {
    if LISTENER.load(Ordering::SeqCst) == NO_LISTENER {
        jobs_changed(lane);
    }
}

/// New jobs of `lane` may be due: wakes the lane.
pub fn jobs_changed(lane: JobLane) {
    SIGNALS.jobs[lane as usize].notify_waiters();
}

/// Resolves at the next [`jobs_changed`] of `lane` after it was armed.
pub fn jobs(lane: JobLane) -> tokio::sync::futures::Notified<'static> {
    SIGNALS.jobs[lane as usize].notified()
}

fn all_jobs_changed() {
    jobs_changed(JobLane::Calls);
    jobs_changed(JobLane::Io);
}

/// A transaction that may have written events committed in this process. On
/// PostgreSQL the commit's `NOTIFY` wakes the reader (here and on every instance).
pub fn events_committed() {
    if LISTENER.load(Ordering::SeqCst) == NO_LISTENER {
        SIGNALS.events.notify_one();
    }
}

/// Resolves at the next commit of events after the previous one was taken.
pub fn events() -> tokio::sync::futures::Notified<'static> {
    SIGNALS.events.notified()
}

/// The call `id` changed: wakes whoever watches it.
pub fn call_changed(id: &str) {
    let watcher = SIGNALS
        .calls
        .lock()
        .unwrap()
        .get(id)
        .and_then(Weak::upgrade);
    if let Some(notify) = watcher {
        notify.notify_waiters();
    }
}

/// Every watched call may have changed (after a lost `LISTEN` connection).
fn all_calls_changed() {
    let watchers: Vec<Arc<Notify>> = SIGNALS
        .calls
        .lock()
        .unwrap()
        .values()
        .filter_map(Weak::upgrade)
        .collect();
    for notify in watchers {
        notify.notify_waiters();
    }
}

/// A watch on one call, held while waiting for it to change. Cheap while idle: an
/// entry in a map and a parked task.
pub struct CallWatch {
    notify: Arc<Notify>,
}

pub fn watch_call(id: &str) -> CallWatch {
    let mut calls = SIGNALS.calls.lock().unwrap();
    let notify = match calls.get(id).and_then(Weak::upgrade) {
        Some(notify) => notify,
        None => {
            calls.retain(|_, w| w.strong_count() > 0);
            let notify = Arc::new(Notify::new());
            calls.insert(id.to_string(), Arc::downgrade(&notify));
            notify
        }
    };
    CallWatch { notify }
}

impl CallWatch {
    /// Resolves at the next change of the call after it was created; create it before
    /// reading the call so a change between the read and the wait is not missed.
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

/// Turns PostgreSQL notifications (from any instance) into local signals, for as long
/// as the process runs; reconnects when the connection drops, and then wakes every
/// waiter, since notifications may have been missed meanwhile.
pub fn listen(url: String) {
    LISTENER.store(NOT_LISTENING, Ordering::SeqCst);
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match listen_once(&url).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(err) => {
                    tracing::warn!(error = %err, "lost the database notification connection; reconnecting");
                }
            }
            LISTENER.store(NOT_LISTENING, Ordering::SeqCst);
            keys_changed();
            all_jobs_changed();
            all_calls_changed();
            SIGNALS.events.notify_one();
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    });
}

async fn listen_once(url: &str) -> sqlx::Result<()> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener
        .listen_all([JOBS_CHANNEL, CALLS_CHANNEL, KEYS_CHANNEL, EVENTS_CHANNEL])
        .await?;
    // Listening from here: anything before may have been missed.
    keys_changed();
    LISTENER.store(LISTENING, Ordering::SeqCst);
    all_jobs_changed();
    all_calls_changed();
    SIGNALS.events.notify_one();
    loop {
        let note = listener.recv().await?;
        match note.channel() {
            // The payload is the new job's kind.
            JOBS_CHANNEL => match crate::jobs::Kind::parse(note.payload()) {
                Some(kind) => jobs_changed(kind.lane()),
                None => all_jobs_changed(),
            },
            KEYS_CHANNEL => keys_changed(),
            EVENTS_CHANNEL => SIGNALS.events.notify_one(),
            _ => call_changed(note.payload()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_watch_wakes_on_its_call_only_and_leaves_no_entry_behind() {
        let watch = watch_call("call-a");
        {
            let changed = watch.changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            call_changed("call-b");
            assert!(
                tokio::time::timeout(Duration::from_millis(50), changed.as_mut())
                    .await
                    .is_err(),
                "another call's change woke the watch"
            );
            call_changed("call-a");
            tokio::time::timeout(Duration::from_secs(1), changed)
                .await
                .expect("its own change wakes the watch");
        }
        drop(watch);
        let _other = watch_call("call-c");
        assert!(!SIGNALS.calls.lock().unwrap().contains_key("call-a"));
    }
}
