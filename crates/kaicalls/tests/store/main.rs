//! The store suite: the same checks against SQLite (always) and PostgreSQL (when
//! `KAICALLS_TEST_POSTGRES_URL` is set; CI sets it), each on a fresh database.

use std::collections::HashSet;

mod campaigns;

#[path = "../common/env.rs"]
mod env;

use kaicalls::agents::{self, Agent};
use kaicalls::auth::api_key::{Mode, PresentedKey};
use kaicalls::auth::scope::{Scope, Scopes};
use kaicalls::auth::{KeyPrincipal, Tenant};
use kaicalls::calls::repo::{self, ListFilter};
use kaicalls::calls::{Call, CallStatus};
use kaicalls::clock::{Clock, SystemClock, Timestamp};
use kaicalls::jobs::{self, Kind};
use kaicalls::keys::{self, NewKeySpec};
use kaicalls::leads::{self, Filter, Lead};
use kaicalls::store::Store;
use kaicalls::{tenancy, usage};
use serde_json::json;

/// A fresh SQLite file, and a fresh PostgreSQL database when one is configured.
async fn backends() -> Vec<(&'static str, Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("store.db").display());
    let mut out = vec![("sqlite", Store::connect(&sqlite).await.unwrap(), Some(dir))];
    if let Some(admin) = env::postgres_url("the store suite on PostgreSQL") {
        let url = fresh_postgres(&admin).await;
        out.push(("postgres", Store::connect(&url).await.unwrap(), None));
    }
    out
}

async fn fresh_postgres(admin_url: &str) -> String {
    use sqlx::{Connection, Executor};
    let name = format!("kc_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin_url).await.unwrap();
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
    format!("{base}/{name}")
}

struct Fixture {
    tenant: Tenant,
    agent: Agent,
    key: KeyPrincipal,
}

/// A user with one business and one agent.
async fn fixture(store: &Store, clock: &SystemClock, email: &str) -> Fixture {
    let now = clock.now();
    let mut tx = store.begin().await.unwrap();
    let user = tenancy::insert_user(&mut tx, email, "hash", now)
        .await
        .unwrap();
    let business = tenancy::insert_business(
        &mut tx,
        &user,
        &tenancy::NewBusiness {
            name: "Biz",
            phone: None,
            timezone: "UTC",
        },
        now,
    )
    .await
    .unwrap();
    let agent = Agent::new(&business.id, "Kai", now);
    agents::save(&mut tx, &agent, true).await.unwrap();
    tx.commit().await.unwrap();
    let tenant = Tenant {
        user_id: user,
        business_ids: vec![business.id],
        mode: Mode::Live,
    };
    Fixture {
        key: KeyPrincipal {
            key_id: "key".into(),
            key_business_id: None,
            scopes: Scopes::new(vec![Scope::All]),
            tenant: tenant.clone(),
        },
        tenant,
        agent,
    }
}

fn new_call(f: &Fixture, mode: Mode, created_at: Timestamp) -> Call {
    Call::queued(kaicalls::calls::QueuedCall {
        id: uuid::Uuid::new_v4().to_string(),
        business_id: f.agent.business_id.clone(),
        agent_id: f.agent.id.clone(),
        agent_name: None,
        lead_id: None,
        key_id: None,
        mode,
        to: "+15125551234".into(),
        from: None,
        name: None,
        context: None,
        first_message: None,
        max_duration: 600,
        webhook_url: None,
        webhook_events: vec![],
        metadata: None,
        variables: json!({}),
        provider: "simulator".into(),
        compliance: None,
        scheduled_at: None,
        created_at,
        campaign_id: None,
    })
}

async fn insert_call(store: &Store, call: &Call) {
    let mut tx = store.begin().await.unwrap();
    repo::insert(&mut tx, call).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn migrations_are_idempotent_and_safe_to_race() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("race.db").display());
    let mut urls = vec![url];
    if let Some(admin) = env::postgres_url("the migration race on PostgreSQL") {
        urls.push(fresh_postgres(&admin).await);
    }
    for url in urls {
        let racers: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { Store::connect(&url).await.map(|_| ()) })
            })
            .collect();
        for r in racers {
            r.await.unwrap().unwrap_or_else(|e| panic!("{url}: {e:#}"));
        }
        Store::connect(&url).await.unwrap();
    }
}

#[tokio::test]
async fn keys_are_found_by_hash_revoked_and_touched() {
    for (backend, store, _dir) in backends().await {
        let clock = SystemClock::default();
        let f = fixture(&store, &clock, "keys@x.test").await;
        let mut tx = store.begin().await.unwrap();
        let (record, secret) = keys::insert(
            &mut tx,
            NewKeySpec {
                user_id: &f.tenant.user_id,
                business_id: None,
                name: "K",
                scopes: Scopes::new(Scope::DEFAULTS.to_vec()),
                mode: Mode::Test,
                expires_at: None,
            },
            clock.now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let presented = PresentedKey::parse(&secret).unwrap();
        let found = keys::find_by_hash(&store, &presented.hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, record.id, "{backend}");
        assert_eq!(found.mode, Mode::Test);
        assert_eq!(found.scopes, record.scopes);
        assert!(!secret.contains(&found.key_hash), "only the hash is stored");

        keys::touch_last_used(&store, &record.id, clock.now())
            .await
            .unwrap();
        let listed = keys::list_for_user(&store, &f.tenant.user_id)
            .await
            .unwrap();
        assert!(listed[0].last_used_at.is_some(), "{backend}");

        assert!(
            !keys::revoke(&store, "someone-else", &record.id, clock.now())
                .await
                .unwrap()
        );
        assert!(
            keys::revoke(&store, &f.tenant.user_id, &record.id, clock.now())
                .await
                .unwrap()
        );
        let found = keys::find_by_hash(&store, &presented.hash)
            .await
            .unwrap()
            .unwrap();
        assert!(!found.is_active(clock.now()), "{backend}");
    }
}

#[tokio::test]
async fn queries_are_scoped_to_the_tenant_and_mode() {
    for (backend, store, _dir) in backends().await {
        let clock = SystemClock::default();
        let a = fixture(&store, &clock, "a@x.test").await;
        let b = fixture(&store, &clock, "b@x.test").await;
        assert!(agents::get(&store, &a.tenant, &a.agent.id)
            .await
            .unwrap()
            .is_some());
        assert!(
            agents::get(&store, &b.tenant, &a.agent.id)
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
        assert_eq!(agents::list(&store, &b.tenant).await.unwrap().len(), 1);

        let live = new_call(&a, Mode::Live, clock.now());
        insert_call(&store, &live).await;
        assert!(repo::get(&store, &a.tenant, &live.id)
            .await
            .unwrap()
            .is_some());
        assert!(
            repo::get(&store, &b.tenant, &live.id)
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
        let test_tenant = Tenant {
            mode: Mode::Test,
            ..a.tenant.clone()
        };
        assert!(
            repo::get(&store, &test_tenant, &live.id)
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn call_pages_return_every_call_once_and_state_saves_are_guarded() {
    for (backend, store, _dir) in backends().await {
        let clock = SystemClock::default();
        let f = fixture(&store, &clock, "p@x.test").await;
        let mut ids = HashSet::new();
        for _ in 0..45 {
            let call = new_call(&f, Mode::Live, clock.now());
            ids.insert(call.id.clone());
            insert_call(&store, &call).await;
        }
        let mut seen = vec![];
        let mut before = None;
        loop {
            let filter = ListFilter {
                agent_id: None,
                campaign_id: None,
                status: None,
                direction: None,
                before,
                since: None,
                limit: 10,
                transcripts: false,
            };
            let mut page = repo::list(&store, &f.tenant, &filter).await.unwrap();
            let more = page.len() > 10;
            page.truncate(10);
            assert!(page.windows(2).all(|w| w[0].created_at > w[1].created_at));
            seen.extend(page.iter().map(|c| c.id.clone()));
            if !more {
                break;
            }
            before = page.last().map(|c| c.created_at);
        }
        assert_eq!(seen.len(), 45, "{backend}");
        assert_eq!(seen.into_iter().collect::<HashSet<_>>(), ids);

        // Optimistic guard: a save computed from a stale status is refused.
        let call = new_call(&f, Mode::Live, clock.now());
        insert_call(&store, &call).await;
        let mut ringing = call.clone();
        ringing.status = CallStatus::Ringing;
        let mut tx = store.begin().await.unwrap();
        assert!(repo::save_state(&mut tx, &ringing, CallStatus::Queued)
            .await
            .unwrap());
        assert!(
            !repo::save_state(&mut tx, &ringing, CallStatus::Queued)
                .await
                .unwrap(),
            "{backend}"
        );
        tx.commit().await.unwrap();
        let stored = repo::get(&store, &f.tenant, &call.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.status, CallStatus::Ringing);
    }
}

#[tokio::test]
async fn jobs_are_claimed_once_per_lease_and_again_after_it_expires() {
    for (backend, store, _dir) in backends().await {
        let clock = SystemClock::default();
        let now = clock.now();
        let mut tx = store.begin().await.unwrap();
        for i in 0..20 {
            jobs::enqueue(
                &mut tx,
                Kind::ProviderEvent,
                &format!("call-{i}"),
                &json!({"i": i}),
                now,
                now,
            )
            .await
            .unwrap();
        }
        let later = Timestamp(now.micros() + 3_600_000_000);
        jobs::enqueue(&mut tx, Kind::MaxDuration, "future", &json!({}), later, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        // Concurrent claimers never get the same job.
        let claimers: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    jobs::claim(&store, now, 8, &[Kind::ProviderEvent], &Default::default())
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut claimed = vec![];
        for c in claimers {
            claimed.extend(c.await.unwrap().into_iter().map(|j| j.id));
        }
        let unique: HashSet<_> = claimed.iter().cloned().collect();
        assert_eq!(claimed.len(), 20, "{backend}: every due job claimed");
        assert_eq!(unique.len(), 20, "{backend}: no job claimed twice");

        // Leased jobs are not claimable; after the lease expires they are again.
        assert!(
            jobs::claim(&store, now, 50, &[Kind::ProviderEvent], &Default::default())
                .await
                .unwrap()
                .is_empty()
        );
        let after_lease =
            Timestamp(now.micros() + (Kind::ProviderEvent.lease_secs() + 1) * 1_000_000);
        let again = jobs::claim(
            &store,
            after_lease,
            50,
            &[Kind::ProviderEvent],
            &Default::default(),
        )
        .await
        .unwrap();
        assert_eq!(again.len(), 20, "{backend}");
        assert!(again.iter().all(|j| j.attempts == 2));

        let mut tx = store.begin().await.unwrap();
        for job in &again {
            jobs::complete(&mut tx, &job.id).await.unwrap();
        }
        tx.commit().await.unwrap();
        let next = jobs::next_due(&store, &[Kind::ProviderEvent, Kind::MaxDuration])
            .await
            .unwrap();
        assert_eq!(next, Some(later), "{backend}: only the future job is left");
        assert!(jobs::claim(
            &store,
            later,
            50,
            &[Kind::ProviderEvent],
            &Default::default()
        )
        .await
        .unwrap()
        .is_empty());
        assert_eq!(
            jobs::claim(&store, later, 50, &[Kind::MaxDuration], &Default::default())
                .await
                .unwrap()
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn usage_rows_record_and_take_the_call_cost() {
    for (backend, store, _dir) in backends().await {
        let clock = SystemClock::default();
        let f = fixture(&store, &clock, "u@x.test").await;
        let entry = usage::Entry {
            endpoint: "/v1/calls".into(),
            method: "POST",
            status_code: 201,
            call_id: Some("call-1"),
            cost_cents: 0,
        };
        let mut tx = store.begin().await.unwrap();
        usage::record_in(&mut tx, &f.key, &entry, clock.now())
            .await
            .unwrap();
        usage::set_call_cost(&mut tx, "call-1", 15).await.unwrap();
        tx.commit().await.unwrap();
        let cost: i64 =
            sqlx::query_scalar("SELECT cost_cents FROM usage_log WHERE call_id = 'call-1'")
                .fetch_one(&store.pool)
                .await
                .unwrap();
        assert_eq!(cost, 15, "{backend}");
    }
}

#[tokio::test]
async fn lead_filters_match_on_both_backends() {
    for (backend, store, _dir) in backends().await {
        let clock = SystemClock::default();
        let f = fixture(&store, &clock, "l@x.test").await;
        for (name, status, score) in [("A", "new", 10), ("B", "contacted", 50), ("C", "new", 90)] {
            let now = clock.now();
            let lead = Lead {
                id: uuid::Uuid::new_v4().to_string(),
                business_id: f.agent.business_id.clone(),
                agent_id: None,
                name: Some(name.into()),
                first_name: None,
                last_name: None,
                phone: Some(format!("+1512555010{}", score / 10)),
                email: None,
                status: status.into(),
                source: Some("web".into()),
                score: Some(score),
                notes: None,
                metadata: json!({}),
                interaction_count: 0,
                created_at: now,
                updated_at: now,
            };
            let mut tx = store.begin().await.unwrap();
            leads::save(&mut tx, &lead, true).await.unwrap();
            tx.commit().await.unwrap();
        }
        let names = |v: Vec<Lead>| v.into_iter().map(|l| l.name.unwrap()).collect::<Vec<_>>();
        let filter = Filter {
            statuses: vec!["new".into()],
            score_gte: Some(50),
            limit: 10,
            ..Filter::default()
        };
        assert_eq!(
            names(leads::list(&store, &f.tenant, &filter).await.unwrap()),
            ["C"],
            "{backend}"
        );
        let filter = Filter {
            statuses: vec!["new".into(), "contacted".into()],
            score_lte: Some(50),
            limit: 10,
            ..Filter::default()
        };
        assert_eq!(
            names(leads::list(&store, &f.tenant, &filter).await.unwrap()),
            ["B", "A"],
            "{backend}"
        );
        let found = leads::find_by_phone(&store, &f.agent.business_id, "+15125550109")
            .await
            .unwrap();
        assert_eq!(found.and_then(|l| l.name).as_deref(), Some("C"));
    }
}

#[tokio::test]
async fn the_worker_step_drives_a_call_to_the_end_on_an_injected_clock() {
    use kaicalls::calls::create::{create_call, CreateCallBody};
    use kaicalls::calls::engine::Engine;
    use kaicalls::clock::{ManualClock, SharedClock};
    use kaicalls::jobs::worker::Worker;
    use kaicalls::numbers::{self, PhoneNumber};
    use kaicalls::voice::simulator::Simulator;
    use kaicalls::webhooks::delivery::Deliverer;
    use std::sync::Arc;

    for (backend, store, _dir) in backends().await {
        let system = SystemClock::default();
        let f = fixture(&store, &system, "w@x.test").await;
        let mut tx = store.begin().await.unwrap();
        let number = PhoneNumber {
            id: uuid::Uuid::new_v4().to_string(),
            business_id: f.agent.business_id.clone(),
            agent_id: Some(f.agent.id.clone()),
            phone_number: format!("+1512555{:04}", rand_suffix()),
            vapi_phone_number_id: None,
            created_at: system.now(),
        };
        numbers::insert(&mut tx, &number).await.unwrap();
        tx.commit().await.unwrap();

        let manual = Arc::new(ManualClock::new(system.now()));
        let clock: SharedClock = manual.clone();
        let links = kaicalls::recordings::links::RecordingLinks::new("key", "http://test", 60);
        let engine = Arc::new(Engine::new(
            store.clone(),
            clock.clone(),
            Arc::new(Simulator::new(10.0)),
            links,
        ));
        let deliverer = Deliverer::new(store.clone(), clock.clone(), vec![1.0], true).unwrap();
        let storage = kaicalls::recordings::RecordingStore::local(_dir.as_ref().map_or_else(
            || std::env::temp_dir().join(format!("kc-rec-{}", uuid::Uuid::new_v4())),
            |d| d.path().join("recordings"),
        ))
        .unwrap();
        let worker = Arc::new(Worker::new(
            engine.clone(),
            Arc::new(deliverer),
            Arc::new(kaicalls::recordings::Copier::new(store.clone(), storage).unwrap()),
        ));
        let body: CreateCallBody = serde_json::from_value(
            json!({"agent_id": f.agent.id, "to": "+15125551234", "name": "Ann"}),
        )
        .unwrap();
        let call = create_call(engine.clone(), Arc::new(f.key.clone()), body, None)
            .await
            .unwrap_or_else(|e| panic!("{backend}: {:?}", e.error));
        assert_eq!(call.status, CallStatus::Queued);

        // Nothing is due until simulated time passes.
        assert_eq!(worker.run_once().await.unwrap(), 0, "{backend}");
        let status = |id: String| {
            let store = store.clone();
            let tenant = f.tenant.clone();
            async move { repo::get(&store, &tenant, &id).await.unwrap().unwrap() }
        };
        manual.advance_secs(1); // ringing at 0.1 s, answered at 0.6 s
        assert_eq!(worker.run_once().await.unwrap(), 2, "{backend}");
        assert_eq!(status(call.id.clone()).await.status, CallStatus::InProgress);
        manual.advance_secs(30); // the longest conversation ends by 24.6 s
        worker.run_once().await.unwrap();
        let done = status(call.id.clone()).await;
        assert_eq!(done.status, CallStatus::Completed, "{backend}");
        assert_eq!(done.duration, Some(Simulator::talk_secs("+15125551234")));
        assert!(done.summary.is_some() && done.quality_dimensions.is_some());
        // The recording is copied into storage by the next step (the I/O lane).
        assert_eq!(done.recording_key, None);
        assert_eq!(
            worker.run_once().await.unwrap(),
            1,
            "{backend}: the copy job"
        );
        let stored = status(call.id.clone()).await;
        assert_eq!(stored.recording_key, Some(format!("{}.wav", call.id)));
        // Its max_duration timer went with it.
        manual.advance_secs(3600);
        assert_eq!(
            worker.run_once().await.unwrap(),
            0,
            "{backend}: no timers left"
        );

        // Late and duplicate provider events change nothing.
        use kaicalls::voice::ProviderEvent;
        let now = clock.now();
        assert!(engine
            .apply_event(&done, ProviderEvent::Ringing, now)
            .await
            .is_none());
        assert!(engine
            .apply_event(&done, ProviderEvent::Answered, now)
            .await
            .is_none());
        let ended = ProviderEvent::Ended {
            raw_reason: "customer-busy".into(),
            duration_secs: None,
            report: None,
        };
        assert!(engine.apply_event(&done, ended, now).await.is_none());
        let mut answered = done.clone();
        answered.status = CallStatus::InProgress;
        assert!(
            engine
                .apply_event(&answered, ProviderEvent::Ringing, now)
                .await
                .is_none(),
            "no going back"
        );
        assert!(
            engine
                .apply_event(&answered, ProviderEvent::Answered, now)
                .await
                .is_none(),
            "duplicate"
        );
    }
}

fn rand_suffix() -> u32 {
    (uuid::Uuid::new_v4().as_u128() % 10_000) as u32
}

#[tokio::test]
async fn an_idempotency_key_in_flight_is_a_conflict() {
    use kaicalls::calls::idempotency::{self, Claim, Saved};
    use kaicalls::error::ApiError;
    for (backend, store, _dir) in backends().await {
        let now = SystemClock::default().now();
        assert!(matches!(
            idempotency::claim(&store, "k", "key-1", "h1", now, 30.0).await,
            Ok(Claim::New)
        ));
        assert!(
            matches!(
                idempotency::claim(&store, "k", "key-1", "h1", now, 30.0).await,
                Err(ApiError::Conflict(_))
            ),
            "{backend}: in flight"
        );
        assert!(matches!(
            idempotency::claim(&store, "k", "key-1", "h2", now, 30.0).await,
            Err(ApiError::Idempotency(_))
        ));
        let mut tx = store.begin().await.unwrap();
        idempotency::save(
            &mut tx,
            "k",
            "key-1",
            &Saved {
                status: 201,
                body: "{}".into(),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert!(matches!(
            idempotency::claim(&store, "k", "key-1", "h1", now, 30.0).await,
            Ok(Claim::Replay(Saved { status: 201, .. }))
        ));
        // Keys are per API key, and expire after 24 hours.
        assert!(matches!(
            idempotency::claim(&store, "other", "key-1", "h9", now, 30.0).await,
            Ok(Claim::New)
        ));
        let tomorrow = Timestamp(now.micros() + 25 * 3600 * 1_000_000);
        assert!(matches!(
            idempotency::claim(&store, "k", "key-1", "h2", tomorrow, 30.0).await,
            Ok(Claim::New)
        ));
    }
}

#[tokio::test]
async fn each_job_is_leased_for_its_own_kind() {
    for (backend, store, _dir) in backends().await {
        let now = SystemClock::default().now();
        let mut tx = store.begin().await.unwrap();
        jobs::enqueue(&mut tx, Kind::WebhookDelivery, "d1", &json!({}), now, now)
            .await
            .unwrap();
        jobs::enqueue(&mut tx, Kind::CopyRecording, "c1", &json!({}), now, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let lane = [Kind::WebhookDelivery, Kind::CopyRecording];
        assert_eq!(
            jobs::claim(&store, now, 10, &lane, &Default::default())
                .await
                .unwrap()
                .len(),
            2
        );
        // A webhook attempt held by a dead worker is retried after its own 30 s lease,
        // not the recording copy's longer one.
        let later = Timestamp(now.micros() + (Kind::WebhookDelivery.lease_secs() + 1) * 1_000_000);
        let again = jobs::claim(&store, later, 10, &lane, &Default::default())
            .await
            .unwrap();
        let kinds: Vec<_> = again.iter().map(|j| j.kind).collect();
        assert_eq!(kinds, vec![Some(Kind::WebhookDelivery)], "{backend}");
    }
}

/// Concurrent rows of one INSERT are committed in shared statements, each sender
/// answered only once its row is in; a bad row (a duplicate key) fails alone.
#[tokio::test]
async fn grouped_inserts_commit_in_batches_and_a_bad_row_fails_alone() {
    use kaicalls::store::sql::Arg;
    use sqlx::Executor;
    const HEAD: &str = "INSERT INTO group_test (id, n)";
    for (name, store, _dir) in backends().await {
        store
            .pool
            .execute("CREATE TABLE group_test (id TEXT PRIMARY KEY, n BIGINT NOT NULL)")
            .await
            .unwrap();
        let mut inserts: Vec<_> = (0..400i64).map(|n| (format!("row-{n}"), n)).collect();
        inserts.push(("row-7".to_string(), 7_000));
        let tasks: Vec<_> = inserts
            .into_iter()
            .map(|(id, n)| {
                let store = store.clone();
                tokio::spawn(async move {
                    let result = store
                        .insert_grouped(HEAD, 2, vec![Arg::Text(id.clone()), Arg::Int(n)])
                        .await;
                    // Answered means committed: the row is readable at once.
                    if result.is_ok() {
                        let found: i64 =
                            sqlx::query_scalar("SELECT COUNT(*) FROM group_test WHERE id = $1")
                                .bind(&id)
                                .fetch_one(store.reader())
                                .await
                                .unwrap();
                        assert_eq!(found, 1, "{id}");
                    }
                    result
                })
            })
            .collect();
        let mut failed = vec![];
        for task in tasks {
            if let Err(err) = task.await.unwrap() {
                failed.push(err);
            }
        }
        assert_eq!(failed.len(), 1, "{name}: exactly the duplicate fails");
        assert!(
            kaicalls::store::is_unique_violation(&failed[0]),
            "{name}: {:?}",
            failed[0]
        );
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM group_test")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(rows, 400, "{name}");
        let batches = store.grouped_batches(HEAD);
        assert!(
            (1..200).contains(&batches),
            "{name}: 401 rows took {batches} statements"
        );
    }
}

/// SQLite reads go to their own connections: a writer holding an open transaction
/// does not hold them up, and they see exactly what is committed.
#[tokio::test]
async fn sqlite_reads_do_not_wait_for_the_writer() {
    use sqlx::Executor;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("readers.db").display());
    let store = Store::connect(&url).await.unwrap();
    store
        .pool
        .execute("CREATE TABLE reader_test (id TEXT PRIMARY KEY)")
        .await
        .unwrap();
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM reader_test")
            .fetch_one(store.reader())
            .await
            .unwrap()
    };
    let mut tx = store.begin().await.unwrap();
    sqlx::query("INSERT INTO reader_test (id) VALUES ('a')")
        .execute(&mut *tx)
        .await
        .unwrap();
    let seen = tokio::time::timeout(std::time::Duration::from_secs(2), count())
        .await
        .expect("a read waited for the open write transaction");
    assert_eq!(seen, 0, "an uncommitted row is not visible");
    tx.commit().await.unwrap();
    assert_eq!(
        count().await,
        1,
        "a committed row is visible to the next read"
    );
    let refused = sqlx::query("INSERT INTO reader_test (id) VALUES ('b')")
        .execute(store.reader())
        .await;
    assert!(refused.is_err(), "reader connections are read-only");
}

/// Concurrent transactions handed to `Store::write` are committed together, each
/// caller answered with its own result once its writes are readable; one that fails
/// is undone alone (its first row too), and one that panics loses only its batch,
/// not the writer.
#[tokio::test]
async fn grouped_transactions_commit_together_and_a_failed_one_is_undone_alone() {
    use sqlx::Executor;
    for (name, store, _dir) in backends().await {
        store
            .pool
            .execute("CREATE TABLE write_test (id TEXT PRIMARY KEY, n BIGINT NOT NULL)")
            .await
            .unwrap();
        let before = store.write_batches();
        let tasks: Vec<_> = (0..300i64)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move {
                    let result = store
                        .write(move |tx| {
                            Box::pin(async move {
                                let insert = "INSERT INTO write_test (id, n) VALUES ($1, $2)";
                                for id in [format!("a-{n}"), format!("b-{n}")] {
                                    sqlx::query(insert)
                                        .bind(&id)
                                        .bind(n)
                                        .execute(&mut **tx)
                                        .await?;
                                }
                                if n == 13 {
                                    // A duplicate key: this transaction fails after
                                    // two good rows.
                                    sqlx::query(insert)
                                        .bind("a-12")
                                        .bind(n)
                                        .execute(&mut **tx)
                                        .await?;
                                }
                                Ok(n * 10)
                            })
                        })
                        .await;
                    if let Ok(value) = &result {
                        assert_eq!(*value, n * 10, "each caller gets its own result");
                        let found: i64 =
                            sqlx::query_scalar("SELECT COUNT(*) FROM write_test WHERE n = $1")
                                .bind(n)
                                .fetch_one(store.reader())
                                .await
                                .unwrap();
                        assert_eq!(found, 2, "answered means committed ({n})");
                    }
                    (n, result.is_ok())
                })
            })
            .collect();
        let mut failed = vec![];
        for task in tasks {
            let (n, ok) = task.await.unwrap();
            if !ok {
                failed.push(n);
            }
        }
        assert_eq!(
            failed,
            vec![13],
            "{name}: exactly the failing transaction fails"
        );
        let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM write_test WHERE n = 13")
            .fetch_all(&store.pool)
            .await
            .unwrap();
        assert!(
            rows.is_empty(),
            "{name}: the failed transaction left {rows:?}"
        );
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM write_test")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(total, 598, "{name}");
        let batches = store.write_batches() - before;
        assert!(
            (1..300).contains(&batches),
            "{name}: 300 transactions took {batches} commits"
        );

        let panicked = store
            .write::<(), _>(|_tx| Box::pin(async move { panic!("a bug in a grouped transaction") }))
            .await;
        assert!(panicked.is_err(), "{name}: a panicking work is an error");
        let after = store
            .write(|tx| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO write_test (id, n) VALUES ('after', 1)")
                        .execute(&mut **tx)
                        .await?;
                    Ok(())
                })
            })
            .await;
        assert!(
            after.is_ok(),
            "{name}: the writer outlives a panic: {after:?}"
        );
    }
}
