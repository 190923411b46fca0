//! `/api/v1/campaigns`: create (a draft, or started), list and get (with counters),
//! edit (draft, scheduled or paused), the contacts (append, idempotent per key; list
//! with attempts, calls, outcomes and skip reasons) and the actions start, pause,
//! resume, cancel. Scopes `campaigns:read` / `campaigns:write`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveTime;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::runner;
use super::{Campaign, CampaignStatus, CampaignView, Contact, ContactState, NewContact};
use crate::app::AppState;
use crate::auth::extract::{Auth, CampaignsRead, CampaignsWrite};
use crate::auth::KeyPrincipal;
use crate::clock::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::http::json::{parse_int, parse_limit, require, Json, Query};
use crate::phone::E164;
use crate::{agents, leads};

/// The most contacts one request adds.
pub const MAX_CONTACTS_PER_REQUEST: usize = 10_000;
/// The most contacts a campaign holds.
pub const MAX_CONTACTS: i64 = 100_000;
/// The highest `max_concurrency`.
pub const MAX_CONCURRENCY: i64 = 1000;

/// One contact to call.
#[derive(Deserialize, JsonSchema)]
pub struct ContactInput {
    /// The contact's idempotent key: a row sent again with the same key is not added
    /// again (default: its `lead_id`, else its number).
    pub key: Option<String>,
    /// The number (E.164); a lead's number when omitted.
    pub to: Option<String>,
    pub name: Option<String>,
    /// Variables for this contact's call, over the campaign's (`{{name}}` in the
    /// templates).
    pub variables: Option<Value>,
    pub lead_id: Option<String>,
}

/// Leads chosen by what they are.
#[derive(Deserialize, JsonSchema, Default)]
pub struct LeadFilter {
    /// Lead statuses (`new`, `contacted`, …).
    pub status: Option<Vec<String>>,
    pub source: Option<String>,
    pub agent_id: Option<String>,
    pub score_gte: Option<i64>,
    pub score_lte: Option<i64>,
}

/// The daily window of a campaign, in each recipient's local time.
#[derive(Deserialize, JsonSchema)]
pub struct WindowInput {
    /// `HH:MM`, at or after 08:00.
    pub start: Option<String>,
    /// `HH:MM`, at or before 21:00.
    pub end: Option<String>,
    /// Days nobody is called (`sat`, `sun`, …).
    pub quiet_days: Option<Vec<String>>,
}

/// A retry policy; what is omitted keeps its default (or its current value).
#[derive(Deserialize, JsonSchema)]
pub struct RetryInput {
    pub max_attempts: Option<i64>,
    pub retry_on: Option<Vec<String>>,
    pub spacing_minutes: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
pub struct CreateCampaignBody {
    #[schemars(required, with = "String")]
    pub name: Option<String>,
    #[schemars(required, with = "String")]
    pub agent_id: Option<String>,
    /// The caller id: the agent's number (the default; another is refused).
    pub from_number: Option<String>,
    pub context: Option<String>,
    pub first_message: Option<String>,
    pub variables: Option<Value>,
    /// Calls live at once (1 to 1000; default 10).
    pub max_concurrency: Option<i64>,
    /// When it starts dialing once started (ISO 8601; default at once).
    pub starts_at: Option<String>,
    /// When it stops: contacts still pending then end `expired`.
    pub ends_at: Option<String>,
    pub calling_window: Option<WindowInput>,
    pub retry: Option<RetryInput>,
    /// Call only contacts with consent of this basis on record (`express`,
    /// `express_written`, `existing_customer`, `inquiry`).
    pub require_consent: Option<String>,
    /// `leave_message` or `hang_up` on reaching a voicemail (default: the agent's).
    pub voicemail_action: Option<String>,
    /// The message left, with `{{variables}}`.
    pub voicemail_message: Option<String>,
    /// Inline contacts (up to 10,000 with the leads below).
    pub contacts: Option<Vec<ContactInput>>,
    /// Leads by id.
    pub lead_ids: Option<Vec<String>>,
    /// Leads by filter (up to 10,000, newest first).
    pub lead_filter: Option<LeadFilter>,
    /// Start at once (`scheduled` until `starts_at`); default false: a draft.
    pub start: Option<bool>,
}

/// What an edit may change; omitted fields stay.
#[derive(Deserialize, JsonSchema)]
pub struct UpdateCampaignBody {
    /// The campaign's id (or `?id=`).
    pub id: Option<String>,
    pub name: Option<String>,
    pub context: Option<String>,
    pub first_message: Option<String>,
    pub variables: Option<Value>,
    pub max_concurrency: Option<i64>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub calling_window: Option<WindowInput>,
    pub retry: Option<RetryInput>,
    pub require_consent: Option<String>,
    pub voicemail_action: Option<String>,
    pub voicemail_message: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
pub struct AddContactsBody {
    pub contacts: Option<Vec<ContactInput>>,
    pub lead_ids: Option<Vec<String>>,
    pub lead_filter: Option<LeadFilter>,
}

/// What an append did.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct ContactsAdded {
    /// Contacts added (pending, or skipped at once as duplicates or invalid numbers).
    pub added: u64,
    /// Rows whose key the campaign already held: nothing was added for them.
    pub already_present: u64,
    /// Of those added, skipped at once: another key with the same number.
    pub duplicate: u64,
    /// Of those added, skipped at once: not a valid E.164 number.
    pub invalid_number: u64,
    /// Contacts the campaign now holds.
    pub total: i64,
}

#[derive(Serialize, JsonSchema)]
pub struct CampaignList {
    pub campaigns: Vec<CampaignView>,
    pub has_more: bool,
}

/// `GET /api/v1/campaigns`: one campaign with `?id=`, else a page of them.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum CampaignOrList {
    Campaign(Box<CampaignView>),
    List(CampaignList),
}

#[derive(Serialize, JsonSchema)]
pub struct ContactList {
    pub contacts: Vec<Contact>,
    pub has_more: bool,
    /// The cursor for the next page (`after`).
    pub next_after: Option<i64>,
}

/// The answer to a create: the campaign, and what its contacts came to.
#[derive(Serialize, JsonSchema)]
pub struct CampaignCreated {
    #[serde(flatten)]
    pub campaign: CampaignView,
    pub contacts_added: ContactsAdded,
}

#[derive(Deserialize)]
pub struct CampaignQuery {
    id: Option<String>,
    business_id: Option<String>,
    status: Option<String>,
    state: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

fn trimmed(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn time_param(param: &str, v: Option<String>) -> ApiResult<Option<Timestamp>> {
    trimmed(v)
        .map(|t| {
            Timestamp::parse(&t).ok_or_else(|| {
                ApiError::invalid(param, format!("{param} must be an ISO 8601 time"))
            })
        })
        .transpose()
}

fn bounded(param: &str, v: Option<String>, max: usize) -> ApiResult<Option<String>> {
    let v = trimmed(v);
    if v.as_ref().is_some_and(|s| s.chars().count() > max) {
        return Err(ApiError::invalid(
            param,
            format!("{param} must be at most {max} characters"),
        ));
    }
    Ok(v)
}

fn object(param: &str, v: Option<Value>) -> ApiResult<Option<Value>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => runner::contact_variables(Some(v))
            .map(Some)
            .map_err(|m| ApiError::invalid(param, m)),
    }
}

/// The edits both create and update accept, applied to `c`.
#[allow(clippy::too_many_arguments)]
fn apply_settings(
    c: &mut Campaign,
    context: Option<String>,
    first_message: Option<String>,
    variables: Option<Value>,
    max_concurrency: Option<i64>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    window: Option<WindowInput>,
    retry: Option<RetryInput>,
    require_consent: Option<String>,
    voicemail_action: Option<String>,
    voicemail_message: Option<String>,
    now: Timestamp,
) -> ApiResult<()> {
    if let Some(v) = bounded("context", context, 10_000)? {
        c.context = Some(v);
    }
    if let Some(v) = bounded("first_message", first_message, 1000)? {
        c.first_message = Some(v);
    }
    if let Some(v) = object("variables", variables)? {
        c.variables = v;
    }
    if let Some(n) = max_concurrency {
        if !(1..=MAX_CONCURRENCY).contains(&n) {
            return Err(ApiError::invalid(
                "max_concurrency",
                format!("max_concurrency must be between 1 and {MAX_CONCURRENCY}"),
            ));
        }
        c.max_concurrency = n;
    }
    if let Some(t) = time_param("starts_at", starts_at)? {
        c.starts_at = Some(t);
    }
    if let Some(t) = time_param("ends_at", ends_at)? {
        c.ends_at = Some(t);
    }
    if let Some(end) = c.ends_at {
        let start = c.starts_at.unwrap_or(now);
        if end <= start.max(now) {
            return Err(ApiError::invalid(
                "ends_at",
                "ends_at must be after starts_at and in the future",
            ));
        }
    }
    if let Some(w) = window {
        let hhmm = |param: &str, v: Option<String>, current: &str| -> ApiResult<String> {
            let v = trimmed(v).unwrap_or_else(|| current.to_string());
            NaiveTime::parse_from_str(&v, "%H:%M")
                .map(|t| t.format("%H:%M").to_string())
                .map_err(|_| ApiError::invalid(param, format!("{param} must be HH:MM")))
        };
        let start = hhmm("calling_window.start", w.start, &c.window_start)?;
        let end = hhmm("calling_window.end", w.end, &c.window_end)?;
        if start >= end {
            return Err(ApiError::invalid(
                "calling_window",
                "calling_window.start must be before calling_window.end",
            ));
        }
        c.window_start = start;
        c.window_end = end;
        if let Some(days) = w.quiet_days {
            let mut parsed = Vec::new();
            for day in &days {
                if crate::compliance::parse_day(day).is_none() {
                    return Err(ApiError::invalid(
                        "calling_window.quiet_days",
                        format!("'{day}' is not a day (mon, tue, …)"),
                    ));
                }
                parsed.push(day.trim().to_ascii_lowercase()[..3].to_string());
            }
            c.quiet_days = parsed;
        }
    }
    if let Some(r) = retry {
        if let Some(n) = r.max_attempts {
            if !(1..=10).contains(&n) {
                return Err(ApiError::invalid(
                    "retry.max_attempts",
                    "retry.max_attempts must be between 1 and 10",
                ));
            }
            c.retry.max_attempts = n;
        }
        if let Some(on) = r.retry_on {
            if let Some(bad) = on.iter().find(|o| !super::RETRYABLE.contains(&o.as_str())) {
                return Err(ApiError::invalid(
                    "retry.retry_on",
                    format!("'{bad}' cannot be retried (no_answer, busy, voicemail)"),
                ));
            }
            c.retry.retry_on = on;
        }
        if let Some(m) = r.spacing_minutes {
            if !(1..=10_080).contains(&m) {
                return Err(ApiError::invalid(
                    "retry.spacing_minutes",
                    "retry.spacing_minutes must be between 1 and 10080",
                ));
            }
            c.retry.spacing_minutes = m;
        }
    }
    if let Some(basis) = trimmed(require_consent) {
        if !crate::compliance::BASES.contains(&basis.as_str()) {
            return Err(ApiError::invalid(
                "require_consent",
                format!(
                    "require_consent must be one of {}",
                    crate::compliance::BASES.join(", ")
                ),
            ));
        }
        c.require_consent = Some(basis);
    }
    if let Some(action) = trimmed(voicemail_action) {
        if !["leave_message", "hang_up"].contains(&action.as_str()) {
            return Err(ApiError::invalid(
                "voicemail_action",
                "voicemail_action must be leave_message or hang_up",
            ));
        }
        c.voicemail_action = Some(action);
    }
    if let Some(m) = bounded("voicemail_message", voicemail_message, 1000)? {
        c.voicemail_message = Some(m);
    }
    Ok(())
}

/// The contacts a request names, resolved and checked: each row keyed, invalid
/// numbers and numbers already present under another key marked to be skipped.
async fn resolve_contacts(
    app: &AppState,
    auth: &KeyPrincipal,
    campaign: &Campaign,
    contacts: Option<Vec<ContactInput>>,
    lead_ids: Option<Vec<String>>,
    lead_filter: Option<LeadFilter>,
) -> ApiResult<Vec<NewContact>> {
    let mut rows: Vec<(ContactInput, Option<leads::Lead>)> = Vec::new();
    let mut count = 0usize;
    let too_many = || {
        ApiError::invalid(
            "contacts",
            format!("at most {MAX_CONTACTS_PER_REQUEST} contacts per request"),
        )
    };
    for row in contacts.unwrap_or_default() {
        count += 1;
        if count > MAX_CONTACTS_PER_REQUEST {
            return Err(too_many());
        }
        let lead = match trimmed(row.lead_id.clone()) {
            Some(id) => Some(
                leads::get(&app.store, &auth.tenant, &id)
                    .await?
                    .filter(|l| l.business_id == campaign.business_id)
                    .ok_or_else(|| ApiError::not_found("Lead"))?,
            ),
            None => None,
        };
        rows.push((row, lead));
    }
    let lead_row = |lead: leads::Lead| ContactInput {
        key: None,
        to: None,
        name: None,
        variables: None,
        lead_id: Some(lead.id.clone()),
    };
    for id in lead_ids.unwrap_or_default() {
        count += 1;
        if count > MAX_CONTACTS_PER_REQUEST {
            return Err(too_many());
        }
        let lead = leads::get(&app.store, &auth.tenant, id.trim())
            .await?
            .filter(|l| l.business_id == campaign.business_id)
            .ok_or_else(|| ApiError::not_found("Lead"))?;
        rows.push((lead_row(lead.clone()), Some(lead)));
    }
    if let Some(f) = lead_filter {
        let room = MAX_CONTACTS_PER_REQUEST.saturating_sub(count) as i64;
        let filter = leads::Filter {
            statuses: f.status.unwrap_or_default(),
            source: trimmed(f.source),
            agent_id: trimmed(f.agent_id),
            phone: None,
            email: None,
            created_after: None,
            created_before: None,
            updated_after: None,
            updated_before: None,
            score_gte: f.score_gte,
            score_lte: f.score_lte,
            limit: room.max(0),
        };
        let business_tenant = crate::auth::Tenant {
            user_id: auth.tenant.user_id.clone(),
            business_ids: vec![campaign.business_id.clone()],
            mode: auth.tenant.mode,
        };
        if room > 0 {
            let mut found = leads::list(&app.store, &business_tenant, &filter).await?;
            found.truncate(room as usize);
            for lead in found {
                rows.push((lead_row(lead.clone()), Some(lead)));
            }
        }
    }

    let (_, mut phones, _) = super::known(&app.store, &campaign.id).await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut keys = std::collections::HashSet::new();
    for (i, (row, lead)) in rows.into_iter().enumerate() {
        let param = format!("contacts[{i}]");
        let raw_to = trimmed(row.to).or_else(|| lead.as_ref().and_then(|l| l.phone.clone()));
        let parsed = raw_to.as_deref().map(E164::parse);
        let name =
            bounded("name", row.name, 200)?.or_else(|| lead.as_ref().and_then(|l| l.name.clone()));
        let variables = runner::contact_variables(row.variables)
            .map_err(|m| ApiError::invalid(&format!("{param}.variables"), m))?;
        let phone = match &parsed {
            Some(Ok(p)) => p.to_string(),
            _ => raw_to
                .clone()
                .unwrap_or_default()
                .chars()
                .take(40)
                .collect(),
        };
        let key = bounded("key", row.key, 200)?
            .or_else(|| lead.as_ref().map(|l| l.id.clone()))
            .unwrap_or_else(|| phone.clone());
        if key.is_empty() {
            return Err(ApiError::invalid(
                &format!("{param}.to"),
                "a contact needs a number (to) or a lead with one",
            ));
        }
        if !keys.insert(key.clone()) {
            continue; // the same key twice in one request: once
        }
        let (skip_reason, detail) = match &parsed {
            None | Some(Err(_)) => (
                Some("invalid_number"),
                Some(format!(
                    "'{}' is not a valid E.164 number",
                    raw_to.unwrap_or_default()
                )),
            ),
            Some(Ok(_)) if !phones.insert(phone.clone()) => (
                Some("duplicate"),
                Some(format!(
                    "{phone} is already in this campaign under another key"
                )),
            ),
            Some(Ok(_)) => (None, None),
        };
        out.push(NewContact {
            key,
            phone,
            name,
            lead_id: lead.map(|l| l.id),
            variables,
            skip_reason,
            detail,
        });
    }
    Ok(out)
}

/// Adds the contacts (each key once) in one transaction; a running campaign's tick is
/// brought forward.
async fn add(
    app: &AppState,
    campaign: &Campaign,
    contacts: Vec<NewContact>,
) -> ApiResult<ContactsAdded> {
    let (keys, _, next_seq) = super::known(&app.store, &campaign.id).await?;
    let now = app.clock.now();
    let sent = contacts.len() as u64;
    let fresh: Vec<NewContact> = contacts
        .into_iter()
        .filter(|c| !keys.contains(&c.key))
        .collect();
    let mut result = ContactsAdded {
        already_present: sent - fresh.len() as u64,
        ..Default::default()
    };
    if keys.len() as i64 + fresh.len() as i64 > MAX_CONTACTS {
        return Err(ApiError::invalid(
            "contacts",
            format!("a campaign holds at most {MAX_CONTACTS} contacts"),
        ));
    }
    for c in &fresh {
        match c.skip_reason {
            Some("duplicate") => result.duplicate += 1,
            Some("invalid_number") => result.invalid_number += 1,
            _ => {}
        }
        if let (Some(reason), Some(detail)) = (c.skip_reason, &c.detail) {
            let refusal = crate::compliance::Refusal {
                id: crate::ids::new_id(),
                business_id: campaign.business_id.clone(),
                mode: campaign.mode,
                phone: c.phone.clone(),
                reason: reason.to_string(),
                message: detail.clone(),
                decision: None,
                created_at: now,
            };
            crate::compliance::record_refusal(&app.store, &refusal, Some(&campaign.key_id)).await?;
        }
    }
    let c = campaign.clone();
    let fresh_count = fresh.len() as u64;
    let added = app
        .store
        .write(move |tx| {
            Box::pin(async move {
                let added = super::add_contacts(tx, &c, &fresh, next_seq, now).await?;
                if c.status == CampaignStatus::Running {
                    runner::wake_tick(tx, &c.id, now).await?;
                }
                Ok(added)
            })
        })
        .await?;
    // Rows a concurrent append added first are present, not added.
    result.already_present += fresh_count - added;
    result.added = added;
    result.total = (keys.len() as u64 + added) as i64;
    Ok(result)
}

async fn owned(app: &AppState, auth: &KeyPrincipal, id: Option<&str>) -> ApiResult<Campaign> {
    let id = require("id", id)?;
    super::get(&app.store, &auth.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Campaign"))
}

/// `POST /api/v1/campaigns`.
pub async fn create(
    State(app): State<AppState>,
    auth: Auth<CampaignsWrite>,
    Json(body): Json<CreateCampaignBody>,
) -> ApiResult<(StatusCode, Json<CampaignCreated>)> {
    let name = bounded("name", body.name, 200)?
        .ok_or_else(|| ApiError::invalid("name", "name is required"))?;
    let agent_id = trimmed(body.agent_id)
        .ok_or_else(|| ApiError::invalid("agent_id", "agent_id is required"))?;
    let agent = agents::get(&app.store, &auth.tenant, &agent_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Agent"))?;
    let Some(number) = agent.phone_number.clone() else {
        return Err(ApiError::invalid(
            "agent_id",
            "This agent has no phone number: assign one with POST /api/v1/phone-numbers",
        ));
    };
    if let Some(from) = trimmed(body.from_number) {
        let from = E164::parse(&from).map_err(|m| ApiError::invalid("from_number", m))?;
        if from.as_str() != number {
            return Err(ApiError::invalid(
                "from_number",
                format!("from_number must be the agent's number ({number})"),
            ));
        }
    }
    let now = app.clock.now();
    let mut campaign = Campaign {
        id: crate::ids::new_id(),
        business_id: agent.business_id.clone(),
        mode: auth.tenant.mode,
        key_id: auth.key_id.clone(),
        user_id: auth.tenant.user_id.clone(),
        name,
        agent_id: agent.id.clone(),
        status: CampaignStatus::Draft,
        context: None,
        first_message: None,
        variables: json!({}),
        max_concurrency: 10,
        starts_at: None,
        ends_at: None,
        window_start: "08:00".into(),
        window_end: "21:00".into(),
        quiet_days: vec![],
        retry: super::RetryPolicy::default(),
        require_consent: None,
        voicemail_action: None,
        voicemail_message: None,
        created_at: now,
        updated_at: now,
        started_at: None,
        finished_at: None,
    };
    apply_settings(
        &mut campaign,
        body.context,
        body.first_message,
        body.variables,
        body.max_concurrency,
        body.starts_at,
        body.ends_at,
        body.calling_window,
        body.retry,
        body.require_consent,
        body.voicemail_action,
        body.voicemail_message,
        now,
    )?;
    let contacts = resolve_contacts(
        &app,
        &auth,
        &campaign,
        body.contacts,
        body.lead_ids,
        body.lead_filter,
    )
    .await?;
    let saved = campaign.clone();
    app.store
        .write(move |tx| {
            Box::pin(async move {
                super::insert(tx, &saved).await?;
                Ok(())
            })
        })
        .await?;
    let contacts_added = add(&app, &campaign, contacts).await?;
    if body.start.unwrap_or(false) {
        campaign = start_now(&app, campaign).await?;
    }
    let view = super::view(&app.store, campaign).await?;
    Ok((
        StatusCode::CREATED,
        Json(CampaignCreated {
            campaign: view,
            contacts_added,
        }),
    ))
}

/// `GET /api/v1/campaigns`: one with `?id=`, else a page (newest first).
pub async fn list_or_get(
    State(app): State<AppState>,
    auth: Auth<CampaignsRead>,
    Query(q): Query<CampaignQuery>,
) -> ApiResult<Json<CampaignOrList>> {
    if q.id.is_some() {
        let campaign = owned(&app, &auth, q.id.as_deref()).await?;
        let view = super::view(&app.store, campaign).await?;
        return Ok(Json(CampaignOrList::Campaign(Box::new(view))));
    }
    let limit = parse_limit(q.limit.as_deref(), 20, 100)?;
    let business_ids = match trimmed(q.business_id) {
        Some(b) if auth.tenant.owns(&b) => vec![b],
        Some(_) => return Err(ApiError::not_found("Business")),
        None => auth.tenant.business_ids.clone(),
    };
    let status = trimmed(q.status)
        .map(|s| {
            CampaignStatus::parse(&s).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    "status must be draft, scheduled, running, paused, completed or canceled",
                )
            })
        })
        .transpose()?;
    let before = time_param("after", q.after)?;
    let mut campaigns = super::list(
        &app.store,
        &super::ListFilter {
            business_ids: &business_ids,
            mode: auth.tenant.mode,
            status,
            before,
            limit,
        },
    )
    .await?;
    let has_more = campaigns.len() as i64 > limit;
    campaigns.truncate(limit as usize);
    let mut views = Vec::with_capacity(campaigns.len());
    for c in campaigns {
        views.push(super::view(&app.store, c).await?);
    }
    Ok(Json(CampaignOrList::List(CampaignList {
        campaigns: views,
        has_more,
    })))
}

/// `PATCH /api/v1/campaigns?id=`: while draft, scheduled or paused.
pub async fn update(
    State(app): State<AppState>,
    auth: Auth<CampaignsWrite>,
    Query(q): Query<CampaignQuery>,
    Json(body): Json<UpdateCampaignBody>,
) -> ApiResult<Json<CampaignView>> {
    let id = q.id.or(body.id);
    let current = owned(&app, &auth, id.as_deref()).await?;
    if !matches!(
        current.status,
        CampaignStatus::Draft | CampaignStatus::Scheduled | CampaignStatus::Paused
    ) {
        return Err(ApiError::Conflict(format!(
            "A {} campaign cannot be edited: pause it first",
            current.status.as_str()
        )));
    }
    let now = app.clock.now();
    let mut next = current.clone();
    if let Some(name) = bounded("name", body.name, 200)? {
        next.name = name;
    }
    apply_settings(
        &mut next,
        body.context,
        body.first_message,
        body.variables,
        body.max_concurrency,
        body.starts_at,
        body.ends_at,
        body.calling_window,
        body.retry,
        body.require_consent,
        body.voicemail_action,
        body.voicemail_message,
        now,
    )?;
    next.updated_at = now;
    let saved = next.clone();
    let ok = app
        .store
        .write(move |tx| {
            Box::pin(async move {
                let ok = super::save(tx, &saved, current.status).await?;
                // A scheduled campaign's start may have moved: its tick follows.
                if ok && saved.status == CampaignStatus::Scheduled {
                    runner::enqueue_tick(tx, &saved.id, saved.starts_at.unwrap_or(now), now)
                        .await?;
                }
                Ok(ok)
            })
        })
        .await?;
    if !ok {
        return Err(ApiError::Conflict(
            "The campaign changed meanwhile: read it and try again".into(),
        ));
    }
    Ok(Json(super::view(&app.store, next).await?))
}

/// `GET /api/v1/campaigns/contacts?id=`: in the order they were added.
pub async fn contacts(
    State(app): State<AppState>,
    auth: Auth<CampaignsRead>,
    Query(q): Query<CampaignQuery>,
) -> ApiResult<Json<ContactList>> {
    let campaign = owned(&app, &auth, q.id.as_deref()).await?;
    let limit = parse_limit(q.limit.as_deref(), 100, 1000)?;
    let state = trimmed(q.state)
        .map(|s| {
            ContactState::parse(&s).ok_or_else(|| {
                ApiError::invalid(
                    "state",
                    "state must be pending, dialing, completed, failed, skipped, exhausted, expired or canceled",
                )
            })
        })
        .transpose()?;
    let after = parse_int("after", q.after.as_deref(), 0..=i64::MAX)?;
    let mut contacts = super::list_contacts(
        &app.store,
        &super::ContactFilter {
            campaign_id: &campaign.id,
            state,
            after_seq: after,
            limit,
        },
    )
    .await?;
    let has_more = contacts.len() as i64 > limit;
    contacts.truncate(limit as usize);
    let next_after = has_more.then(|| contacts.last().map(|c| c.seq)).flatten();
    Ok(Json(ContactList {
        contacts,
        has_more,
        next_after,
    }))
}

/// `POST /api/v1/campaigns/contacts?id=`: append contacts; a key already present adds
/// nothing.
pub async fn add_contacts(
    State(app): State<AppState>,
    auth: Auth<CampaignsWrite>,
    Query(q): Query<CampaignQuery>,
    Json(body): Json<AddContactsBody>,
) -> ApiResult<Json<ContactsAdded>> {
    let campaign = owned(&app, &auth, q.id.as_deref()).await?;
    if campaign.status.is_finished() {
        return Err(ApiError::Conflict(format!(
            "A {} campaign takes no more contacts",
            campaign.status.as_str()
        )));
    }
    let contacts = resolve_contacts(
        &app,
        &auth,
        &campaign,
        body.contacts,
        body.lead_ids,
        body.lead_filter,
    )
    .await?;
    Ok(Json(add(&app, &campaign, contacts).await?))
}

/// Starts (or resumes) a campaign: `running` with its tick due now, or `scheduled`
/// with it due at `starts_at`.
async fn start_now(app: &AppState, campaign: Campaign) -> ApiResult<Campaign> {
    let now = app.clock.now();
    let from = campaign.status;
    let mut next = campaign.clone();
    let later = campaign.starts_at.filter(|t| *t > now);
    next.status = if later.is_some() {
        CampaignStatus::Scheduled
    } else {
        CampaignStatus::Running
    };
    if next.status == CampaignStatus::Running && next.started_at.is_none() {
        next.started_at = Some(now);
    }
    next.updated_at = now;
    let saved = next.clone();
    let ok = app
        .store
        .write(move |tx| {
            Box::pin(async move {
                if !super::save(tx, &saved, from).await? {
                    return Ok(false);
                }
                let kind = match (from, saved.status) {
                    (CampaignStatus::Paused, _) => Some("campaign.resumed"),
                    (_, CampaignStatus::Running) => Some("campaign.started"),
                    _ => None,
                };
                if let Some(kind) = kind {
                    super::campaign_event(tx, kind, &saved, json!({}), now).await?;
                }
                runner::enqueue_tick(tx, &saved.id, later.unwrap_or(now), now).await?;
                Ok(true)
            })
        })
        .await?;
    if !ok {
        return Err(ApiError::Conflict(
            "The campaign changed meanwhile: read it and try again".into(),
        ));
    }
    Ok(next)
}

/// What a campaign may be told to do, and from which states.
#[derive(Clone, Copy)]
enum Action {
    Start,
    Pause,
    Resume,
    Cancel,
}

impl Action {
    fn allowed_from(self, status: CampaignStatus) -> bool {
        use CampaignStatus::*;
        match self {
            Action::Start => status == Draft,
            Action::Pause => matches!(status, Running | Scheduled),
            Action::Resume => status == Paused,
            Action::Cancel => !status.is_finished(),
        }
    }

    fn refused(self) -> &'static str {
        match self {
            Action::Start => "started (only a draft is)",
            Action::Pause => "paused (only a running or scheduled one is)",
            Action::Resume => "resumed (only a paused one is)",
            Action::Cancel => "canceled",
        }
    }
}

/// Runs `action` on the campaign `?id=` names.
async fn act(
    app: AppState,
    auth: &KeyPrincipal,
    q: CampaignQuery,
    action: Action,
) -> ApiResult<Json<CampaignView>> {
    let campaign = owned(&app, auth, q.id.as_deref()).await?;
    if !action.allowed_from(campaign.status) {
        return Err(ApiError::Conflict(format!(
            "A {} campaign cannot be {}",
            campaign.status.as_str(),
            action.refused()
        )));
    }
    let next = match action {
        Action::Start | Action::Resume => start_now(&app, campaign).await?,
        Action::Pause => {
            transition(&app, campaign, CampaignStatus::Paused, "campaign.paused").await?
        }
        Action::Cancel => {
            transition(
                &app,
                campaign,
                CampaignStatus::Canceled,
                "campaign.canceled",
            )
            .await?
        }
    };
    Ok(Json(super::view(&app.store, next).await?))
}

/// `POST /api/v1/campaigns/start?id=`: a draft starts (or is scheduled).
pub async fn start(
    State(app): State<AppState>,
    auth: Auth<CampaignsWrite>,
    Query(q): Query<CampaignQuery>,
) -> ApiResult<Json<CampaignView>> {
    act(app, &auth, q, Action::Start).await
}

/// `POST /api/v1/campaigns/pause?id=`: no new dials from now; live calls finish.
pub async fn pause(
    State(app): State<AppState>,
    auth: Auth<CampaignsWrite>,
    Query(q): Query<CampaignQuery>,
) -> ApiResult<Json<CampaignView>> {
    act(app, &auth, q, Action::Pause).await
}

/// `POST /api/v1/campaigns/resume?id=`: a paused campaign goes on where it stopped.
pub async fn resume(
    State(app): State<AppState>,
    auth: Auth<CampaignsWrite>,
    Query(q): Query<CampaignQuery>,
) -> ApiResult<Json<CampaignView>> {
    act(app, &auth, q, Action::Resume).await
}

/// `POST /api/v1/campaigns/cancel?id=`: pending contacts end `canceled`, calls not
/// yet dialed are canceled, live calls finish.
pub async fn cancel(
    State(app): State<AppState>,
    auth: Auth<CampaignsWrite>,
    Query(q): Query<CampaignQuery>,
) -> ApiResult<Json<CampaignView>> {
    act(app, &auth, q, Action::Cancel).await
}

async fn transition(
    app: &AppState,
    campaign: Campaign,
    to: CampaignStatus,
    event: &'static str,
) -> ApiResult<Campaign> {
    let now = app.clock.now();
    let from = campaign.status;
    let mut next = campaign;
    next.status = to;
    next.updated_at = now;
    if to == CampaignStatus::Canceled {
        next.finished_at = Some(now);
    }
    let saved = next.clone();
    let ok = app
        .store
        .write(move |tx| {
            Box::pin(async move {
                if !super::save(tx, &saved, from).await? {
                    return Ok(false);
                }
                let mut extra = json!({});
                if to == CampaignStatus::Canceled {
                    let n = super::end_pending(tx, &saved.id, ContactState::Canceled, now).await?;
                    extra = json!({ "canceled_contacts": n });
                }
                super::campaign_event(tx, event, &saved, extra, now).await?;
                Ok(true)
            })
        })
        .await?;
    if !ok {
        return Err(ApiError::Conflict(
            "The campaign changed meanwhile: read it and try again".into(),
        ));
    }
    Ok(next)
}
