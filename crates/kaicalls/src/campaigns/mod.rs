//! Campaigns: a list of contacts an agent calls, each inside the rules.
//!
//! - `mod.rs`: the types and their SQL — a campaign (agent, templates, concurrency,
//!   start and end, its daily window, the retry policy, a consent requirement) and
//!   its contacts (one per `contact_key`, so a resent row is never added twice; each
//!   with its state, attempts, calls, outcome and skip reason).
//! - `runner.rs`: the campaign's tick job (who is dialed now, through the pre-dial
//!   gate, within the concurrency caps) and what a finished call does to its contact
//!   (retries by outcome, exhausted, expired).
//! - `routes.rs`: `/api/v1/campaigns` and its actions.
//!
//! States: `draft → scheduled → running ⇄ paused → completed | canceled`; contacts:
//! `pending → dialing → completed | failed | exhausted`, or `pending → skipped |
//! expired | canceled`, a retried contact going back to `pending`.

pub mod routes;
pub mod runner;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::any::AnyRow;

use crate::auth::api_key::Mode;
use crate::auth::Tenant;
use crate::clock::Timestamp;
use crate::compliance::zones::Window;
use crate::events::{self, NewEvent};
use crate::store::row::Columns;
use crate::store::sql::{Arg, Sql};
use crate::store::{group, Store, Tx};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    Draft,
    Scheduled,
    Running,
    Paused,
    Completed,
    Canceled,
}

impl CampaignStatus {
    pub const ALL: [CampaignStatus; 6] = [
        CampaignStatus::Draft,
        CampaignStatus::Scheduled,
        CampaignStatus::Running,
        CampaignStatus::Paused,
        CampaignStatus::Completed,
        CampaignStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Draft => "draft",
            CampaignStatus::Scheduled => "scheduled",
            CampaignStatus::Running => "running",
            CampaignStatus::Paused => "paused",
            CampaignStatus::Completed => "completed",
            CampaignStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<CampaignStatus> {
        CampaignStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        matches!(self, CampaignStatus::Completed | CampaignStatus::Canceled)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactState {
    Pending,
    Dialing,
    Completed,
    Failed,
    Skipped,
    Exhausted,
    Expired,
    Canceled,
}

impl ContactState {
    pub const ALL: [ContactState; 8] = [
        ContactState::Pending,
        ContactState::Dialing,
        ContactState::Completed,
        ContactState::Failed,
        ContactState::Skipped,
        ContactState::Exhausted,
        ContactState::Expired,
        ContactState::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ContactState::Pending => "pending",
            ContactState::Dialing => "dialing",
            ContactState::Completed => "completed",
            ContactState::Failed => "failed",
            ContactState::Skipped => "skipped",
            ContactState::Exhausted => "exhausted",
            ContactState::Expired => "expired",
            ContactState::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<ContactState> {
        ContactState::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Outcomes a retry policy may retry.
pub const RETRYABLE: [&str; 3] = ["no_answer", "busy", "voicemail"];

/// When and how often an unanswered contact is called again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RetryPolicy {
    /// Attempts per contact in all, the first included: one budget across every rule
    /// (1 to 10; default 3).
    pub max_attempts: i64,
    /// The outcomes retried: `no_answer`, `busy`, `voicemail` (default the first two).
    pub retry_on: Vec<String>,
    /// Minutes from the end of one attempt to the next (1 to 10080; default 60). The
    /// next attempt is still held to the calling window and the frequency cap.
    pub spacing_minutes: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            retry_on: vec!["no_answer".into(), "busy".into()],
            spacing_minutes: 60,
        }
    }
}

/// A campaign as stored.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Campaign {
    pub id: String,
    pub business_id: String,
    pub mode: Mode,
    /// The key (or dashboard session) that created it: its calls count against
    /// that key's concurrency, their usage rows are its.
    #[serde(skip)]
    pub key_id: String,
    #[serde(skip)]
    pub user_id: String,
    pub name: String,
    pub agent_id: String,
    pub status: CampaignStatus,
    /// The context each call carries, with `{{variables}}` filled per contact.
    pub context: Option<String>,
    /// The greeting, with `{{variables}}` (default: the agent's).
    pub first_message: Option<String>,
    /// Variables every contact's call gets (a contact's own win).
    pub variables: Value,
    /// Calls of this campaign live at once (also capped per business and per key).
    pub max_concurrency: i64,
    pub starts_at: Option<Timestamp>,
    /// When the campaign stops: contacts still pending then end `expired`.
    pub ends_at: Option<Timestamp>,
    /// The campaign's daily window in each recipient's local time (`HH:MM`), inside
    /// the law's and the business's.
    pub window_start: String,
    pub window_end: String,
    /// Days this campaign calls nobody (`sat`, `sun`, …).
    pub quiet_days: Vec<String>,
    pub retry: RetryPolicy,
    /// Only contacts with a consent record of this basis (or stronger:
    /// `express_written` satisfies `express`) are called; the others are skipped
    /// `no_consent`.
    pub require_consent: Option<String>,
    /// `leave_message` or `hang_up` on reaching a voicemail (default: the agent's).
    pub voicemail_action: Option<String>,
    pub voicemail_message: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub started_at: Option<Timestamp>,
    /// When it completed or was canceled.
    pub finished_at: Option<Timestamp>,
}

impl Campaign {
    /// The campaign's own window (narrowing the law's and the business's at the gate).
    pub fn window(&self) -> Window {
        crate::compliance::Settings {
            window_start: self.window_start.clone(),
            window_end: self.window_end.clone(),
            quiet_days: self.quiet_days.clone(),
            ..crate::compliance::Settings::defaults(&self.business_id)
        }
        .window()
    }
}

/// Contacts by state, and calls by outcome.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Counts {
    pub total: i64,
    pub pending: i64,
    pub dialing: i64,
    pub completed: i64,
    pub failed: i64,
    pub skipped: i64,
    pub exhausted: i64,
    pub expired: i64,
    pub canceled: i64,
}

/// A campaign with its progress (`GET /campaigns?id=`, and every action's answer).
#[derive(Debug, Serialize, JsonSchema)]
pub struct CampaignView {
    #[serde(flatten)]
    pub campaign: Campaign,
    pub counts: Counts,
    /// Contacts by the outcome of their last call (`resolved`, `no_answer`, …).
    pub outcomes: BTreeMap<String, i64>,
    /// Skipped contacts by reason (`dnc`, `no_consent`, `duplicate`, `invalid_number`,
    /// `outside_calling_hours`).
    pub skip_reasons: BTreeMap<String, i64>,
}

/// One contact of a campaign.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Contact {
    pub id: String,
    pub campaign_id: String,
    /// The contact's idempotent key: a row sent again with it is not added again.
    pub key: String,
    /// The number (E.164; as sent when it was not valid).
    pub to: String,
    pub name: Option<String>,
    pub lead_id: Option<String>,
    pub variables: Value,
    pub state: ContactState,
    pub attempts: i64,
    /// When it is next dialed, while pending.
    pub next_attempt_at: Option<Timestamp>,
    /// Every call placed to it, oldest first.
    pub call_ids: Vec<String>,
    /// The outcome of its last call: the analyzer's (`resolved`, `follow_up`, …) or
    /// how it ended (`no_answer`, `busy`, `voicemail`, `failed`).
    pub outcome: Option<String>,
    /// Why it was skipped: `dnc`, `no_consent`, `duplicate`, `invalid_number`,
    /// `outside_calling_hours`.
    pub skip_reason: Option<String>,
    /// What the last decision about it said (a refusal's message, a retry's reason).
    pub detail: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Its place in the campaign, in the order added (the contacts listing's `after`).
    #[serde(rename = "position")]
    pub seq: i64,
    #[serde(skip)]
    pub call_id: Option<String>,
}

const COLUMNS: &str = "id, business_id, mode, key_id, user_id, name, agent_id, status, context, first_message, variables, \
    max_concurrency, starts_at, ends_at, window_start, window_end, quiet_days, retry, require_consent, \
    voicemail_action, voicemail_message, created_at, updated_at, started_at, finished_at";

fn from_row(row: &AnyRow) -> sqlx::Result<Campaign> {
    let r = Columns(row);
    Ok(Campaign {
        id: r.get("id")?,
        business_id: r.get("business_id")?,
        mode: r.parsed("mode", Mode::parse)?,
        key_id: r.get("key_id")?,
        user_id: r.get("user_id")?,
        name: r.get("name")?,
        agent_id: r.get("agent_id")?,
        status: r.parsed("status", CampaignStatus::parse)?,
        context: r.get("context")?,
        first_message: r.get("first_message")?,
        variables: r.json("variables")?,
        max_concurrency: r.get("max_concurrency")?,
        starts_at: r.time_opt("starts_at")?,
        ends_at: r.time_opt("ends_at")?,
        window_start: r.get("window_start")?,
        window_end: r.get("window_end")?,
        quiet_days: r.json("quiet_days")?,
        retry: r.json("retry")?,
        require_consent: r.get("require_consent")?,
        voicemail_action: r.get("voicemail_action")?,
        voicemail_message: r.get("voicemail_message")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        started_at: r.time_opt("started_at")?,
        finished_at: r.time_opt("finished_at")?,
    })
}

fn json_text<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

pub async fn insert(tx: &mut Tx, c: &Campaign) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO campaigns ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)"
    ))
    .bind(&c.id)
    .bind(&c.business_id)
    .bind(c.mode.as_str())
    .bind(&c.key_id)
    .bind(&c.user_id)
    .bind(&c.name)
    .bind(&c.agent_id)
    .bind(c.status.as_str())
    .bind(&c.context)
    .bind(&c.first_message)
    .bind(c.variables.to_string())
    .bind(c.max_concurrency)
    .bind(c.starts_at.map(Timestamp::micros))
    .bind(c.ends_at.map(Timestamp::micros))
    .bind(&c.window_start)
    .bind(&c.window_end)
    .bind(json_text(&c.quiet_days))
    .bind(json_text(&c.retry))
    .bind(&c.require_consent)
    .bind(&c.voicemail_action)
    .bind(&c.voicemail_message)
    .bind(c.created_at.micros())
    .bind(c.updated_at.micros())
    .bind(c.started_at.map(Timestamp::micros))
    .bind(c.finished_at.map(Timestamp::micros))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Saves what an edit or a state change may alter, if the status is still `from`
/// (optimistic concurrency); returns whether it was saved.
pub async fn save(tx: &mut Tx, c: &Campaign, from: CampaignStatus) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE campaigns SET name = $1, status = $2, context = $3, first_message = $4, variables = $5,
            max_concurrency = $6, starts_at = $7, ends_at = $8, window_start = $9, window_end = $10,
            quiet_days = $11, retry = $12, require_consent = $13, voicemail_action = $14,
            voicemail_message = $15, updated_at = $16, started_at = $17, finished_at = $18
         WHERE id = $19 AND status = $20",
    )
    .bind(&c.name)
    .bind(c.status.as_str())
    .bind(&c.context)
    .bind(&c.first_message)
    .bind(c.variables.to_string())
    .bind(c.max_concurrency)
    .bind(c.starts_at.map(Timestamp::micros))
    .bind(c.ends_at.map(Timestamp::micros))
    .bind(&c.window_start)
    .bind(&c.window_end)
    .bind(json_text(&c.quiet_days))
    .bind(json_text(&c.retry))
    .bind(&c.require_consent)
    .bind(&c.voicemail_action)
    .bind(&c.voicemail_message)
    .bind(c.updated_at.micros())
    .bind(c.started_at.map(Timestamp::micros))
    .bind(c.finished_at.map(Timestamp::micros))
    .bind(&c.id)
    .bind(from.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A campaign the tenant may see.
pub async fn get(store: &Store, tenant: &Tenant, id: &str) -> sqlx::Result<Option<Campaign>> {
    let mut sql = Sql::new(format!("SELECT {COLUMNS} FROM campaigns WHERE id = "));
    sql.push("?", id.to_string())
        .push(" AND mode = ?", tenant.mode.as_str())
        .push_list(" AND business_id IN (?)", &tenant.business_ids);
    let row = sql.query().fetch_optional(store.reader()).await?;
    row.as_ref().map(from_row).transpose()
}

/// A campaign by id, for the runner (no tenant: it acts for the campaign's own).
pub async fn get_by_id<'e, E>(executor: E, id: &str) -> sqlx::Result<Option<Campaign>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM campaigns WHERE id = $1"))
        .bind(id)
        .fetch_optional(executor)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub struct ListFilter<'a> {
    pub business_ids: &'a [String],
    pub mode: Mode,
    pub status: Option<CampaignStatus>,
    pub before: Option<Timestamp>,
    pub limit: i64,
}

/// Newest first; up to `limit + 1` rows so the caller can tell `has_more`.
pub async fn list(store: &Store, f: &ListFilter<'_>) -> sqlx::Result<Vec<Campaign>> {
    let mut sql = Sql::new(format!("SELECT {COLUMNS} FROM campaigns WHERE mode = "));
    sql.push("?", f.mode.as_str())
        .push_list(" AND business_id IN (?)", f.business_ids);
    if let Some(status) = f.status {
        sql.push(" AND status = ?", status.as_str());
    }
    if let Some(before) = f.before {
        sql.push(" AND created_at < ?", before.micros());
    }
    sql.text(" ORDER BY created_at DESC, id DESC")
        .push(" LIMIT ?", f.limit + 1);
    let rows = sql.query().fetch_all(store.reader()).await?;
    rows.iter().map(from_row).collect()
}

/// Counters by contact state, outcome and skip reason.
pub async fn counts(
    store: &Store,
    campaign_id: &str,
) -> sqlx::Result<(Counts, BTreeMap<String, i64>, BTreeMap<String, i64>)> {
    let rows = sqlx::query(
        "SELECT state, outcome, skip_reason, COUNT(*) AS n FROM campaign_contacts WHERE campaign_id = $1
         GROUP BY state, outcome, skip_reason",
    )
    .bind(campaign_id)
    .fetch_all(store.reader())
    .await?;
    let mut counts = Counts::default();
    let (mut outcomes, mut reasons) = (BTreeMap::new(), BTreeMap::new());
    for row in &rows {
        let r = Columns(row);
        let n: i64 = r.get("n")?;
        let state = r.parsed("state", ContactState::parse)?;
        counts.total += n;
        *match state {
            ContactState::Pending => &mut counts.pending,
            ContactState::Dialing => &mut counts.dialing,
            ContactState::Completed => &mut counts.completed,
            ContactState::Failed => &mut counts.failed,
            ContactState::Skipped => &mut counts.skipped,
            ContactState::Exhausted => &mut counts.exhausted,
            ContactState::Expired => &mut counts.expired,
            ContactState::Canceled => &mut counts.canceled,
        } += n;
        if let Some(outcome) = r.get::<Option<String>>("outcome")? {
            *outcomes.entry(outcome).or_insert(0) += n;
        }
        if let Some(reason) = r.get::<Option<String>>("skip_reason")? {
            *reasons.entry(reason).or_insert(0) += n;
        }
    }
    Ok((counts, outcomes, reasons))
}

pub async fn view(store: &Store, campaign: Campaign) -> sqlx::Result<CampaignView> {
    let (counts, outcomes, skip_reasons) = self::counts(store, &campaign.id).await?;
    Ok(CampaignView {
        campaign,
        counts,
        outcomes,
        skip_reasons,
    })
}

// ---------------------------------------------------------------- contacts

const CONTACT_COLUMNS: &str =
    "id, campaign_id, business_id, contact_key, seq, phone, name, lead_id, variables, state, \
    attempts, next_at, call_id, call_ids, outcome, skip_reason, detail, created_at, updated_at";
const CONTACT_COLUMN_COUNT: usize = 19;

fn contact_from_row(row: &AnyRow) -> sqlx::Result<Contact> {
    let r = Columns(row);
    let state = r.parsed("state", ContactState::parse)?;
    Ok(Contact {
        id: r.get("id")?,
        campaign_id: r.get("campaign_id")?,
        key: r.get("contact_key")?,
        to: r.get("phone")?,
        name: r.get("name")?,
        lead_id: r.get("lead_id")?,
        variables: r.json("variables")?,
        next_attempt_at: (state == ContactState::Pending)
            .then(|| r.time("next_at"))
            .transpose()?,
        state,
        attempts: r.get("attempts")?,
        call_ids: r.json("call_ids")?,
        outcome: r.get("outcome")?,
        skip_reason: r.get("skip_reason")?,
        detail: r.get("detail")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        seq: r.get("seq")?,
        call_id: r.get("call_id")?,
    })
}

/// A contact to add: valid, or skipped from the start (`duplicate`, `invalid_number`).
pub struct NewContact {
    pub key: String,
    pub phone: String,
    pub name: Option<String>,
    pub lead_id: Option<String>,
    pub variables: Value,
    pub skip_reason: Option<&'static str>,
    pub detail: Option<String>,
}

/// Adds contacts, each at most once per key (`ON CONFLICT DO NOTHING`); returns how
/// many were added.
pub async fn add_contacts(
    tx: &mut Tx,
    campaign: &Campaign,
    contacts: &[NewContact],
    first_seq: i64,
    now: Timestamp,
) -> sqlx::Result<u64> {
    let mut added = 0;
    for (chunk_no, chunk) in contacts.chunks(500).enumerate() {
        let rows = chunk.iter().enumerate().map(|(i, c)| {
            let state = if c.skip_reason.is_some() {
                ContactState::Skipped
            } else {
                ContactState::Pending
            };
            let row: Vec<Arg> = vec![
                crate::ids::new_id().into(),
                campaign.id.as_str().into(),
                campaign.business_id.as_str().into(),
                c.key.as_str().into(),
                (first_seq + (chunk_no * 500 + i) as i64).into(),
                c.phone.as_str().into(),
                c.name.as_deref().into(),
                c.lead_id.as_deref().into(),
                c.variables.to_string().into(),
                state.as_str().into(),
                Arg::Int(0),
                now.micros().into(),
                Arg::Null,
                "[]".into(),
                Arg::Null,
                c.skip_reason.into(),
                c.detail.as_deref().into(),
                now.micros().into(),
                now.micros().into(),
            ];
            row
        });
        let head = format!("INSERT INTO campaign_contacts ({CONTACT_COLUMNS})");
        let mut sql = group::statement(&head, CONTACT_COLUMN_COUNT, rows);
        sql.text(" ON CONFLICT (campaign_id, contact_key) DO NOTHING");
        added += sql.query().execute(&mut **tx).await?.rows_affected();
    }
    Ok(added)
}

/// The keys and numbers a campaign holds, and its next sequence number.
pub async fn known(
    store: &Store,
    campaign_id: &str,
) -> sqlx::Result<(
    std::collections::HashSet<String>,
    std::collections::HashSet<String>,
    i64,
)> {
    let rows =
        sqlx::query("SELECT contact_key, phone, seq FROM campaign_contacts WHERE campaign_id = $1")
            .bind(campaign_id)
            .fetch_all(store.reader())
            .await?;
    let (mut keys, mut phones, mut next) = (
        std::collections::HashSet::new(),
        std::collections::HashSet::new(),
        0,
    );
    for row in &rows {
        let r = Columns(row);
        keys.insert(r.get::<String>("contact_key")?);
        phones.insert(r.get::<String>("phone")?);
        next = next.max(r.get::<i64>("seq")? + 1);
    }
    Ok((keys, phones, next))
}

pub struct ContactFilter<'a> {
    pub campaign_id: &'a str,
    pub state: Option<ContactState>,
    /// Contacts after this sequence number (the cursor).
    pub after_seq: Option<i64>,
    pub limit: i64,
}

/// In the order they were added; up to `limit + 1`.
pub async fn list_contacts(store: &Store, f: &ContactFilter<'_>) -> sqlx::Result<Vec<Contact>> {
    let mut sql = Sql::new(format!(
        "SELECT {CONTACT_COLUMNS} FROM campaign_contacts WHERE campaign_id = "
    ));
    sql.push("?", f.campaign_id.to_string());
    if let Some(state) = f.state {
        sql.push(" AND state = ?", state.as_str());
    }
    if let Some(after) = f.after_seq {
        sql.push(" AND seq > ?", after);
    }
    sql.text(" ORDER BY seq").push(" LIMIT ?", f.limit + 1);
    let rows = sql.query().fetch_all(store.reader()).await?;
    rows.iter().map(contact_from_row).collect()
}

/// The contact a campaign call was placed to, read in the call's final transaction.
pub async fn contact_of_call(tx: &mut Tx, call_id: &str) -> sqlx::Result<Option<Contact>> {
    let row = sqlx::query(&format!(
        "SELECT {CONTACT_COLUMNS} FROM campaign_contacts WHERE call_id = $1"
    ))
    .bind(call_id)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(contact_from_row).transpose()
}

/// Pending contacts due at `now`, in due order then the order they were added.
pub async fn due_contacts(
    store: &Store,
    campaign_id: &str,
    now: Timestamp,
    limit: i64,
) -> sqlx::Result<Vec<Contact>> {
    let rows = sqlx::query(&format!(
        "SELECT {CONTACT_COLUMNS} FROM campaign_contacts WHERE campaign_id = $1 AND state = 'pending' AND next_at <= $2
         ORDER BY next_at, seq LIMIT $3"
    ))
    .bind(campaign_id)
    .bind(now.micros())
    .bind(limit)
    .fetch_all(store.reader())
    .await?;
    rows.iter().map(contact_from_row).collect()
}

/// Moves a contact from `from` to `to` (with the fields of `c`); false if it was no
/// longer in `from`.
pub async fn save_contact(
    tx: &mut Tx,
    c: &Contact,
    from: ContactState,
    next_at: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE campaign_contacts SET state = $1, attempts = $2, next_at = $3, call_id = $4, call_ids = $5,
            outcome = $6, skip_reason = $7, detail = $8, updated_at = $9
         WHERE id = $10 AND state = $11",
    )
    .bind(c.state.as_str())
    .bind(c.attempts)
    .bind(next_at.micros())
    .bind(&c.call_id)
    .bind(json_text(&c.call_ids))
    .bind(&c.outcome)
    .bind(c.skip_reason.as_deref())
    .bind(c.detail.as_deref())
    .bind(c.updated_at.micros())
    .bind(&c.id)
    .bind(from.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every contact still `pending` as `to` (a cancel, the end instant); returns how
/// many.
pub async fn end_pending(
    tx: &mut Tx,
    campaign_id: &str,
    to: ContactState,
    now: Timestamp,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE campaign_contacts SET state = $1, updated_at = $2 WHERE campaign_id = $3 AND state = 'pending'",
    )
    .bind(to.as_str())
    .bind(now.micros())
    .bind(campaign_id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// A `campaign.*` event, with the campaign and `extra` fields.
pub async fn campaign_event(
    tx: &mut Tx,
    kind: &str,
    campaign: &Campaign,
    extra: Value,
    now: Timestamp,
) -> anyhow::Result<()> {
    let mut data = json!({
        "event": kind,
        "campaign_id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "timestamp": now.to_rfc3339(),
    });
    if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    events::emit(
        tx,
        NewEvent {
            kind,
            object_type: "campaign",
            object_id: &campaign.id,
            business_id: &campaign.business_id,
            mode: campaign.mode,
            data,
        },
        None,
        now,
    )
    .await?;
    Ok(())
}

/// A `contact.*` event.
pub async fn contact_event(
    tx: &mut Tx,
    kind: &str,
    campaign: &Campaign,
    contact: &Contact,
    now: Timestamp,
) -> anyhow::Result<()> {
    events::emit(
        tx,
        NewEvent {
            kind,
            object_type: "campaign_contact",
            object_id: &contact.id,
            business_id: &campaign.business_id,
            mode: campaign.mode,
            data: json!({
                "event": kind,
                "campaign_id": campaign.id,
                "contact_id": contact.id,
                "key": contact.key,
                "to": contact.to,
                "state": contact.state,
                "attempts": contact.attempts,
                "call_id": contact.call_id,
                "outcome": contact.outcome,
                "skip_reason": contact.skip_reason,
                "next_attempt_at": contact.next_attempt_at,
                "timestamp": now.to_rfc3339(),
            }),
        },
        None,
        now,
    )
    .await?;
    Ok(())
}
