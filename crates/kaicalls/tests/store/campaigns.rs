//! Issue 12's campaign acceptance on an injected clock: 1,000 contacts from Honolulu
//! to New York (Florida and Maryland among them) run by the real worker step
//! (`Worker::run_once`) on a `ManualClock` that jumps to the next due job, against
//! the simulator's geographic magic numbers (`+1 NPA NXX 000d`). What it checks is
//! read back from the call records and the contacts, and the calling hours are
//! checked with zones written here by hand, not with the gate's own tables.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use kaicalls::calls::engine::Engine;
use kaicalls::campaigns::{self, runner, Campaign, CampaignStatus, ContactState, NewContact};
use kaicalls::clock::{Clock, ManualClock, SharedClock, SystemClock, Timestamp};
use kaicalls::compliance;
use kaicalls::jobs::worker::Worker;
use kaicalls::numbers::{self, PhoneNumber};
use kaicalls::store::Store;
use kaicalls::voice::simulator::Simulator;
use kaicalls::webhooks::delivery::Deliverer;
use serde_json::json;

use super::{backends, fixture, Fixture};

/// Area code → (zone, local window end hour, state with a 3-per-24-h cap).
fn area(npa: &str) -> (Tz, u32, bool) {
    use chrono_tz::America;
    match npa {
        "808" => (chrono_tz::Pacific::Honolulu, 21, false),
        "907" => (America::Anchorage, 21, false),
        "213" => (America::Los_Angeles, 21, false),
        "303" => (America::Denver, 21, false),
        "312" => (America::Chicago, 21, false),
        "212" => (America::New_York, 21, false),
        "305" => (America::New_York, 20, true), // Florida
        "410" => (America::New_York, 20, true), // Maryland
        other => panic!("no zone for {other}"),
    }
}
const AREAS: [&str; 8] = ["808", "907", "213", "303", "312", "212", "305", "410"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    NoAnswer,
    Busy,
    Voicemail,
    OptOut,
    Dnc,
    NoConsent,
    Normal,
}

fn contact(i: usize) -> (String, Kind) {
    let npa = AREAS[i % AREAS.len()];
    let nxx = 201 + i / AREAS.len();
    let kind = match (i / AREAS.len()) % 10 {
        0 => Kind::NoAnswer,
        1 => Kind::Busy,
        2 => Kind::Voicemail,
        3 => Kind::OptOut,
        4 => Kind::Dnc,
        5 => Kind::NoConsent,
        _ => Kind::Normal,
    };
    let line = match kind {
        Kind::NoAnswer => "0001",
        Kind::Busy => "0002",
        Kind::Voicemail => "0004",
        Kind::OptOut => "0007",
        Kind::Dnc => "1234",
        Kind::NoConsent => "2345",
        Kind::Normal => "3456",
    };
    (format!("+1{npa}{nxx}{line}"), kind)
}

struct Rig {
    store: Store,
    clock: Arc<ManualClock>,
    worker: Arc<Worker>,
    f: Fixture,
    _recordings: tempfile::TempDir,
}

async fn rig(store: Store, email: &str, start: Timestamp) -> Rig {
    let system = SystemClock::default();
    let f = fixture(&store, &system, email).await;
    let mut tx = store.begin().await.unwrap();
    numbers::insert(
        &mut tx,
        &PhoneNumber {
            id: uuid::Uuid::new_v4().to_string(),
            business_id: f.agent.business_id.clone(),
            agent_id: Some(f.agent.id.clone()),
            phone_number: "+15125550100".into(),
            vapi_phone_number_id: None,
            created_at: system.now(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let shared: SharedClock = clock.clone();
    let links = kaicalls::recordings::links::RecordingLinks::new("key", "http://test", 60);
    let engine = Arc::new(Engine::new(
        store.clone(),
        shared.clone(),
        Arc::new(Simulator::new(1.0)),
        links,
    ));
    let deliverer = Deliverer::new(store.clone(), shared, vec![1.0], true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let storage = kaicalls::recordings::RecordingStore::local(dir.path().to_path_buf()).unwrap();
    let worker = Arc::new(Worker::new(
        engine,
        Arc::new(deliverer),
        Arc::new(kaicalls::recordings::Copier::new(store.clone(), storage).unwrap()),
    ));
    Rig {
        store,
        clock,
        worker,
        f,
        _recordings: dir,
    }
}

fn new_campaign(f: &Fixture, name: &str, now: Timestamp, ends_at: Timestamp) -> Campaign {
    Campaign {
        id: uuid::Uuid::new_v4().to_string(),
        business_id: f.agent.business_id.clone(),
        mode: f.tenant.mode,
        key_id: f.key.key_id.clone(),
        user_id: f.tenant.user_id.clone(),
        name: name.into(),
        agent_id: f.agent.id.clone(),
        status: CampaignStatus::Running,
        context: Some("Follow up on {{name}}'s intake form".into()),
        first_message: None,
        variables: json!({"firm": "Smith Law"}),
        max_concurrency: 25,
        starts_at: None,
        ends_at: Some(ends_at),
        window_start: "08:00".into(),
        window_end: "21:00".into(),
        quiet_days: vec![],
        retry: campaigns::RetryPolicy {
            max_attempts: 4,
            retry_on: vec!["no_answer".into(), "busy".into(), "voicemail".into()],
            spacing_minutes: 30,
        },
        require_consent: Some("express".into()),
        voicemail_action: None,
        voicemail_message: None,
        created_at: now,
        updated_at: now,
        started_at: Some(now),
        finished_at: None,
    }
}

/// Records the campaign with its contacts, running, its tick due now.
async fn launch(rig: &Rig, campaign: &Campaign, phones: &[String]) {
    let now = rig.clock.now();
    let rows: Vec<NewContact> = phones
        .iter()
        .enumerate()
        .map(|(i, p)| NewContact {
            key: format!("row-{i}"),
            phone: p.clone(),
            name: Some(format!("Contact {i}")),
            lead_id: None,
            variables: json!({"row": i}),
            skip_reason: None,
            detail: None,
        })
        .collect();
    let mut tx = rig.store.begin().await.unwrap();
    campaigns::insert(&mut tx, campaign).await.unwrap();
    let added = campaigns::add_contacts(&mut tx, campaign, &rows, 0, now)
        .await
        .unwrap();
    assert_eq!(added as usize, phones.len());
    // Sent again with the same keys: nothing added.
    let again = campaigns::add_contacts(&mut tx, campaign, &rows, phones.len() as i64, now)
        .await
        .unwrap();
    assert_eq!(again, 0, "the same keys add no contact");
    runner::enqueue_tick(&mut tx, &campaign.id, now, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Runs the worker, jumping the clock to the next due job whenever nothing is due,
/// until the campaign has finished.
async fn run_to_end(rig: &Rig, campaign_id: &str, backend: &str) {
    run_within(rig, campaign_id, backend, 200_000).await
}

/// [`run_to_end`] in at most `rounds` worker steps.
async fn run_within(rig: &Rig, campaign_id: &str, backend: &str, rounds: usize) {
    for round in 0..rounds {
        let ran = rig.worker.run_once().await.unwrap();
        if std::env::var("KC_DEBUG").is_ok() && round % 500 == 0 {
            let jobs: Vec<(String, i64, i64)> = sqlx::query_as(
                "SELECT kind, COUNT(*), MIN(due_at) FROM jobs WHERE dead_at IS NULL GROUP BY kind",
            )
            .fetch_all(rig.store.reader())
            .await
            .unwrap();
            let (counts, _, _) = campaigns::counts(&rig.store, campaign_id).await.unwrap();
            eprintln!(
                "round {round} ran {ran} at {} jobs {jobs:?} counts {counts:?}",
                rig.clock.now().to_rfc3339()
            );
        }
        let c = campaigns::get_by_id(rig.store.reader(), campaign_id)
            .await
            .unwrap()
            .unwrap();
        if c.status == CampaignStatus::Completed {
            return;
        }
        if ran == 0 {
            let next: Option<i64> =
                sqlx::query_scalar("SELECT MIN(due_at) FROM jobs WHERE dead_at IS NULL")
                    .fetch_one(rig.store.reader())
                    .await
                    .unwrap();
            let Some(next) = next else {
                let dead: Vec<(String, Option<String>)> =
                    sqlx::query_as("SELECT kind, last_error FROM jobs WHERE dead_at IS NOT NULL")
                        .fetch_all(rig.store.reader())
                        .await
                        .unwrap();
                panic!("{backend}: nothing due, campaign {c:?}, dead jobs {dead:?}");
            };
            let ahead = next - rig.clock.now().micros();
            rig.clock.advance_secs((ahead / 1_000_000).max(0) + 1);
        }
    }
    panic!("{backend}: the campaign did not finish");
}

struct CallRow {
    to: String,
    status: String,
    dialed: bool,
    created_at: i64,
    scheduled_at: Option<i64>,
    ended_at: Option<i64>,
}

async fn campaign_calls(store: &Store, campaign_id: &str) -> Vec<CallRow> {
    let rows = sqlx::query(
        "SELECT to_number, status, conversation_id, created_at, scheduled_at, ended_at FROM calls WHERE campaign_id = $1",
    )
    .bind(campaign_id)
    .fetch_all(store.reader())
    .await
    .unwrap();
    use sqlx::Row;
    rows.iter()
        .map(|r| CallRow {
            to: r.get(0),
            status: r.get(1),
            dialed: r.get::<Option<String>, _>(2).is_some(),
            created_at: r.get(3),
            scheduled_at: r.get(4),
            ended_at: r.get(5),
        })
        .collect()
}

#[tokio::test]
async fn a_thousand_contact_campaign_stays_inside_the_rules_on_an_injected_clock() {
    // Monday 7 December 2026, 06:00 UTC: 01:00 in New York, 20:00 (Sunday) in Honolulu.
    let start = Timestamp(
        Utc.with_ymd_and_hms(2026, 12, 7, 6, 0, 0)
            .unwrap()
            .timestamp_micros(),
    );
    for (backend, store, _dir) in backends().await {
        let rig = rig(store, &format!("campaign-{backend}@x.test"), start).await;
        let f = &rig.f;
        let business = f.agent.business_id.clone();
        let now = rig.clock.now();
        let all: Vec<(String, Kind)> = (0..1000).map(contact).collect();
        let phones: Vec<String> = all.iter().map(|(p, _)| p.clone()).collect();
        let kind_of: HashMap<String, Kind> = all.iter().cloned().collect();

        // The list and the consents, before the campaign starts.
        let mut tx = rig.store.begin().await.unwrap();
        for (phone, kind) in &all {
            if *kind == Kind::Dnc {
                let new = compliance::NewDnc {
                    business_id: &business,
                    phone,
                    source: "import",
                    reason: Some("asked by letter"),
                    call_id: None,
                };
                compliance::add_dnc(&mut tx, &new, f.tenant.mode, now)
                    .await
                    .unwrap();
            }
        }
        tx.commit().await.unwrap();
        for (phone, kind) in &all {
            if *kind != Kind::NoConsent {
                let consent = compliance::Consent {
                    id: uuid::Uuid::new_v4().to_string(),
                    business_id: business.clone(),
                    lead_id: None,
                    phone: Some(phone.clone()),
                    basis: "express_written".into(),
                    source: "intake form".into(),
                    granted_at: now,
                    created_at: now,
                    revoked_at: None,
                    revoked_reason: None,
                };
                compliance::insert_consent(&rig.store, &consent)
                    .await
                    .unwrap();
            }
        }

        let ends = Timestamp(start.micros() + 5 * 86_400_000_000);
        let campaign = new_campaign(f, "December follow-ups", now, ends);
        launch(&rig, &campaign, &phones).await;
        let wall = std::time::Instant::now();
        run_to_end(&rig, &campaign.id, backend).await;
        eprintln!(
            "{backend}: 1,000 contacts ran to the end in {:.1} s",
            wall.elapsed().as_secs_f64()
        );

        let calls = campaign_calls(&rig.store, &campaign.id).await;
        let mut by_number: BTreeMap<&str, Vec<&CallRow>> = BTreeMap::new();
        for call in &calls {
            by_number.entry(call.to.as_str()).or_default().push(call);
        }

        // 1. Every dial inside the recipient's hours (Florida, Maryland: 08:00-20:00).
        let mut dialed = 0;
        for call in calls.iter().filter(|c| c.dialed) {
            dialed += 1;
            let at = call
                .scheduled_at
                .unwrap_or(call.created_at)
                .max(call.created_at);
            let (zone, end_hour, _) = area(&call.to[2..5]);
            let local = Utc.timestamp_micros(at).unwrap().with_timezone(&zone);
            assert!(
                (8..end_hour).contains(&local.hour()),
                "{backend}: {} dialed at {local}",
                call.to
            );
        }
        assert!(dialed > 700, "{backend}: {dialed} dials");

        // 2. At most 3 calls in any 24 hours to a Florida or Maryland number.
        for (to, list) in &by_number {
            if !area(&to[2..5]).2 {
                continue;
            }
            let mut times: Vec<i64> = list
                .iter()
                .filter(|c| c.status != "canceled")
                .map(|c| c.created_at)
                .collect();
            times.sort();
            for w in times.windows(4) {
                assert!(
                    w[3] - w[0] >= 86_400_000_000,
                    "{backend}: {to} called 4 times within 24 h"
                );
            }
        }

        // 3. Each contact as its kind says.
        let contacts = campaigns::list_contacts(
            &rig.store,
            &campaigns::ContactFilter {
                campaign_id: &campaign.id,
                state: None,
                after_seq: None,
                limit: 5000,
            },
        )
        .await
        .unwrap();
        assert_eq!(contacts.len(), 1000);
        let mut tally: BTreeMap<&str, i64> = BTreeMap::new();
        let mut capped_retries = 0;
        for c in &contacts {
            *tally.entry(c.state.as_str()).or_default() += 1;
            let placed = by_number.get(c.to.as_str()).map_or(0, Vec::len);
            let kind = kind_of[&c.to];
            let what = format!("{backend}: {kind:?} {} {c:?}", c.to);
            assert_eq!(c.call_ids.len(), placed, "{what}");
            match kind {
                Kind::Dnc => {
                    assert_eq!(c.state, ContactState::Skipped, "{what}");
                    assert_eq!(c.skip_reason.as_deref(), Some("dnc"), "{what}");
                    assert_eq!(placed, 0, "{what}");
                }
                Kind::NoConsent => {
                    assert_eq!(c.state, ContactState::Skipped, "{what}");
                    assert_eq!(c.skip_reason.as_deref(), Some("no_consent"), "{what}");
                    assert_eq!(placed, 0, "{what}");
                }
                Kind::NoAnswer | Kind::Busy | Kind::Voicemail => {
                    assert_eq!(c.state, ContactState::Exhausted, "{what}");
                    assert_eq!(c.attempts, 4, "{what}");
                    assert_eq!(placed, 4, "{what}");
                    let mut times: Vec<i64> = by_number[c.to.as_str()]
                        .iter()
                        .map(|c| c.created_at)
                        .collect();
                    times.sort();
                    for pair in times.windows(2) {
                        assert!(pair[1] - pair[0] >= 30 * 60_000_000, "{what}: spacing");
                    }
                    if area(&c.to[2..5]).2 && times[3] - times[0] >= 86_400_000_000 {
                        capped_retries += 1;
                    }
                }
                Kind::OptOut | Kind::Normal => {
                    assert_eq!(c.state, ContactState::Completed, "{what}");
                    assert_eq!(c.attempts, 1, "{what}");
                    assert_eq!(placed, 1, "{what}");
                }
            }
        }
        assert!(
            capped_retries > 0,
            "{backend}: some Florida/Maryland fourth attempt waited for the 24-hour cap"
        );

        // 4. Counters equal the per-contact states.
        let (counts, outcomes, reasons) =
            campaigns::counts(&rig.store, &campaign.id).await.unwrap();
        let counted = json!(counts);
        for (state, n) in &tally {
            assert_eq!(counted[*state], *n, "{backend}: {state} {counted}");
        }
        assert_eq!(counts.total, 1000);
        assert_eq!(counts.pending + counts.dialing, 0);
        assert_eq!(reasons["dnc"] + reasons["no_consent"], counts.skipped);
        assert!(outcomes.contains_key("no_answer") && outcomes.contains_key("busy"));

        // 5. max_concurrency, from the call records: never more than 25 live at once.
        let mut edges: Vec<(i64, i32)> = Vec::new();
        for call in &calls {
            edges.push((call.created_at, 1));
            edges.push((call.ended_at.expect("every call ended"), -1));
        }
        edges.sort();
        let (mut live, mut peak) = (0, 0);
        for (_, d) in edges {
            live += d;
            peak = peak.max(live);
        }
        assert!(peak <= 25, "{backend}: {peak} calls at once");
        assert_eq!(peak, 25, "{backend}: the campaign used its concurrency");

        // 6. The opt-outs are on the list; a second campaign skips them, never dialing.
        let opted: Vec<String> = all
            .iter()
            .filter(|(_, k)| *k == Kind::OptOut)
            .map(|(p, _)| p.clone())
            .collect();
        for phone in &opted {
            let mut conn = rig.store.reader().acquire().await.unwrap();
            let entry = compliance::dnc_entry(&mut conn, &business, phone)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{backend}: {phone} opted out but is not listed"));
            assert_eq!(entry.source, "call");
        }
        let now = rig.clock.now();
        let mut second = new_campaign(f, "January", now, Timestamp(now.micros() + 86_400_000_000));
        second.require_consent = None;
        launch(&rig, &second, &opted).await;
        run_to_end(&rig, &second.id, backend).await;
        assert!(
            campaign_calls(&rig.store, &second.id).await.is_empty(),
            "{backend}: an opted-out number was dialed again"
        );
        let (counts, _, reasons) = campaigns::counts(&rig.store, &second.id).await.unwrap();
        assert_eq!(counts.skipped, opted.len() as i64);
        assert_eq!(reasons["dnc"], opted.len() as i64);
    }
}

#[tokio::test]
async fn at_its_end_instant_pending_contacts_expire_and_live_calls_finish() {
    // 06:00 UTC: 20:00 in Honolulu (open until 21:00), 01:00 in New York (closed).
    let start = Timestamp(
        Utc.with_ymd_and_hms(2026, 12, 7, 6, 0, 0)
            .unwrap()
            .timestamp_micros(),
    );
    for (backend, store, _dir) in backends().await {
        let rig = rig(store, &format!("expiry-{backend}@x.test"), start).await;
        let now = rig.clock.now();
        // Ends in 5 minutes: the first call never hangs up (the engine ends it at its
        // 600 s max_duration), the second waits for a slot, New York for 08:00.
        let mut campaign =
            new_campaign(&rig.f, "Short", now, Timestamp(now.micros() + 300_000_000));
        campaign.max_concurrency = 1;
        campaign.require_consent = None;
        let phones = ["+18082000006", "+18082001111", "+12122001111"].map(String::from);
        launch(&rig, &campaign, &phones).await;
        // Waiting out a live call past the end takes a step a second, not a busy loop.
        run_within(&rig, &campaign.id, backend, 5_000).await;
        let contacts = campaigns::list_contacts(
            &rig.store,
            &campaigns::ContactFilter {
                campaign_id: &campaign.id,
                state: None,
                after_seq: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
        let states: Vec<(&str, ContactState)> =
            contacts.iter().map(|c| (c.to.as_str(), c.state)).collect();
        assert_eq!(
            states,
            vec![
                ("+18082000006", ContactState::Completed),
                ("+18082001111", ContactState::Expired),
                ("+12122001111", ContactState::Expired),
            ],
            "{backend}"
        );
        assert_eq!(
            campaign_calls(&rig.store, &campaign.id).await.len(),
            1,
            "{backend}"
        );
    }
}
