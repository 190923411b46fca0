//! The compliance API: `/dnc` (the do-not-call list: add one or import many, remove
//! with a reason, list), `/consents`, `/compliance/settings` (calling hours) and
//! `/compliance/refusals` (every dial the gate refused). Scopes `compliance:read` /
//! `compliance:write`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveTime;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Consent, DncEntry, Refusal, Settings};
use crate::app::AppState;
use crate::auth::extract::{Auth, ComplianceRead, ComplianceWrite};
use crate::clock::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::http::json::{parse_limit, require, Json, Query};
use crate::phone::E164;

/// The most numbers one import takes.
pub const MAX_IMPORT: usize = 10_000;

#[derive(Deserialize)]
pub struct DncQuery {
    business_id: Option<String>,
    phone: Option<String>,
    include_removed: Option<String>,
    after: Option<String>,
    limit: Option<String>,
    reason: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct DncList {
    pub entries: Vec<DncEntry>,
    pub has_more: bool,
}

fn business_of(auth: &crate::auth::KeyPrincipal, requested: Option<&str>) -> ApiResult<String> {
    auth.tenant.resolve_business(requested)
}

fn businesses_for(
    auth: &crate::auth::KeyPrincipal,
    requested: Option<&str>,
) -> ApiResult<Vec<String>> {
    auth.tenant.narrowed_to(requested)
}

fn phone(param: &str, raw: &str) -> ApiResult<String> {
    E164::parse(raw)
        .map(|p| p.to_string())
        .map_err(|m| ApiError::invalid(param, m))
}

/// `GET /api/v1/dnc`: the list, newest first (`include_removed=true` adds the
/// entries taken off, with why).
pub async fn list_dnc(
    State(app): State<AppState>,
    auth: Auth<ComplianceRead>,
    Query(q): Query<DncQuery>,
) -> ApiResult<Json<DncList>> {
    let limit = parse_limit(q.limit.as_deref(), 50, 500)?;
    let business_ids = businesses_for(&auth, q.business_id.as_deref())?;
    let phone = q.phone.as_deref().map(|p| phone("phone", p)).transpose()?;
    let before = q
        .after
        .as_deref()
        .map(|a| {
            Timestamp::parse(a).ok_or_else(|| {
                ApiError::invalid("after", "after must be the created_at of a previous result")
            })
        })
        .transpose()?;
    let include_removed = matches!(q.include_removed.as_deref(), Some("true" | "1"));
    let mut entries = super::list_dnc(
        &app.store,
        &super::DncFilter {
            business_ids: &business_ids,
            phone: phone.as_deref(),
            include_removed,
            before,
            limit,
        },
    )
    .await?;
    let has_more = entries.len() as i64 > limit;
    entries.truncate(limit as usize);
    Ok(Json(DncList { entries, has_more }))
}

/// A number to list, alone or in an import.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum DncNumber {
    Phone(String),
    Entry {
        phone: String,
        reason: Option<String>,
    },
}

#[derive(Deserialize, JsonSchema)]
pub struct AddDncBody {
    /// One number (E.164) …
    phone: Option<String>,
    reason: Option<String>,
    /// … or up to 10,000 at once (an import): numbers, or `{phone, reason}`.
    numbers: Option<Vec<DncNumber>>,
    business_id: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct InvalidNumber {
    pub index: usize,
    pub phone: String,
    pub error: String,
}

#[derive(Serialize, JsonSchema)]
pub struct DncAdded {
    /// Numbers newly listed.
    pub added: usize,
    /// Numbers that were on the list already (their entries are kept).
    pub already_listed: usize,
    /// Numbers of an import that are not valid E.164 (nothing else is refused).
    pub invalid: Vec<InvalidNumber>,
    /// The entries of the numbers sent (for imports, the first 100).
    pub entries: Vec<DncEntry>,
}

/// `POST /api/v1/dnc`: list one number (`phone`) or import many (`numbers`).
pub async fn add_dnc(
    State(app): State<AppState>,
    auth: Auth<ComplianceWrite>,
    Json(body): Json<AddDncBody>,
) -> ApiResult<Response> {
    let business_id = business_of(&auth, body.business_id.as_deref())?;
    let (rows, source): (Vec<(String, Option<String>)>, &'static str) =
        match (body.phone, body.numbers) {
            (Some(p), None) => (vec![(phone("phone", &p)?, body.reason.clone())], "api"),
            (None, Some(numbers)) => {
                if numbers.len() > MAX_IMPORT {
                    return Err(ApiError::invalid(
                        "numbers",
                        format!("An import takes at most {MAX_IMPORT} numbers"),
                    ));
                }
                let rows = numbers
                    .into_iter()
                    .map(|n| match n {
                        DncNumber::Phone(p) => (p, body.reason.clone()),
                        DncNumber::Entry { phone, reason } => {
                            (phone, reason.or_else(|| body.reason.clone()))
                        }
                    })
                    .collect();
                (rows, "import")
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "numbers",
                    "Send phone or numbers, not both",
                ))
            }
            (None, None) => {
                return Err(ApiError::invalid(
                    "phone",
                    "phone (or numbers, for an import) is required",
                ))
            }
        };
    let mut invalid = Vec::new();
    let mut valid = Vec::new();
    for (index, (raw, reason)) in rows.into_iter().enumerate() {
        match E164::parse(&raw) {
            Ok(p) => valid.push((p.to_string(), reason)),
            Err(error) if source == "api" => return Err(ApiError::invalid("phone", error)),
            Err(error) => invalid.push(InvalidNumber {
                index,
                phone: raw,
                error,
            }),
        }
    }
    let mode = auth.tenant.mode;
    let now = app.clock.now();
    let (added, already, entries) = app
        .store
        .write(move |tx| {
            Box::pin(async move {
                let (mut added, mut already, mut entries) = (0, 0, Vec::new());
                for (phone, reason) in &valid {
                    let new = super::NewDnc {
                        business_id: &business_id,
                        phone,
                        source,
                        reason: reason.as_deref(),
                        call_id: None,
                    };
                    let (entry, fresh) = super::add_dnc(tx, &new, mode, now).await?;
                    if fresh {
                        added += 1;
                    } else {
                        already += 1;
                    }
                    if entries.len() < 100 {
                        entries.push(entry);
                    }
                }
                Ok((added, already, entries))
            })
        })
        .await?;
    let status = if added > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(DncAdded {
            added,
            already_listed: already,
            invalid,
            entries,
        }),
    )
        .into_response())
}

/// `DELETE /api/v1/dnc?phone=&reason=`: takes a number off the list; the entry is
/// kept with the reason.
pub async fn remove_dnc(
    State(app): State<AppState>,
    auth: Auth<ComplianceWrite>,
    Query(q): Query<DncQuery>,
) -> ApiResult<Json<DncEntry>> {
    let business_id = business_of(&auth, q.business_id.as_deref())?;
    let phone = phone("phone", require("phone", q.phone.as_deref())?)?;
    let reason = require("reason", q.reason.as_deref())?.to_string();
    let (mode, now) = (auth.tenant.mode, app.clock.now());
    let removed = app
        .store
        .write(move |tx| {
            Box::pin(async move {
                super::remove_dnc(tx, &business_id, &phone, &reason, mode, now).await
            })
        })
        .await?;
    removed
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Do-not-call entry"))
}

#[derive(Deserialize)]
pub struct ConsentQuery {
    id: Option<String>,
    business_id: Option<String>,
    phone: Option<String>,
    lead_id: Option<String>,
    limit: Option<String>,
    reason: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct ConsentList {
    pub consents: Vec<Consent>,
    pub has_more: bool,
}

/// `GET /api/v1/consents`.
pub async fn list_consents(
    State(app): State<AppState>,
    auth: Auth<ComplianceRead>,
    Query(q): Query<ConsentQuery>,
) -> ApiResult<Json<ConsentList>> {
    let limit = parse_limit(q.limit.as_deref(), 50, 500)?;
    let business_ids = businesses_for(&auth, q.business_id.as_deref())?;
    let phone = q.phone.as_deref().map(|p| phone("phone", p)).transpose()?;
    let mut consents = super::list_consents(
        &app.store,
        &super::ConsentFilter {
            business_ids: &business_ids,
            phone: phone.as_deref(),
            lead_id: q.lead_id.as_deref().filter(|l| !l.is_empty()),
            limit,
        },
    )
    .await?;
    let has_more = consents.len() as i64 > limit;
    consents.truncate(limit as usize);
    Ok(Json(ConsentList { consents, has_more }))
}

#[derive(Deserialize, JsonSchema)]
pub struct ConsentBody {
    /// The number the consent covers (E.164); or `lead_id` (its phone is used too).
    phone: Option<String>,
    lead_id: Option<String>,
    /// `express`, `express_written`, `existing_customer` or `inquiry`.
    basis: Option<String>,
    /// Where it was given: a form's URL, "signed intake form", a call id.
    source: Option<String>,
    /// When it was given (default: now).
    granted_at: Option<String>,
    business_id: Option<String>,
}

/// `POST /api/v1/consents`: records a consent.
pub async fn add_consent(
    State(app): State<AppState>,
    auth: Auth<ComplianceWrite>,
    Json(body): Json<ConsentBody>,
) -> ApiResult<Response> {
    // What belongs to whom first: another tenant's lead or business is not found.
    let lead = match body.lead_id.as_deref().filter(|l| !l.is_empty()) {
        Some(id) => Some(
            crate::leads::get(&app.store, &auth.tenant, id)
                .await?
                .ok_or_else(|| ApiError::not_found("Lead"))?,
        ),
        None => None,
    };
    let business_id = match &lead {
        Some(lead) => lead.business_id.clone(),
        None => business_of(&auth, body.business_id.as_deref())?,
    };
    let basis = require("basis", body.basis.as_deref())?.to_string();
    if !super::BASES.contains(&basis.as_str()) {
        return Err(ApiError::invalid(
            "basis",
            format!("basis must be one of {}", super::BASES.join(", ")),
        ));
    }
    let source = require("source", body.source.as_deref())?.to_string();
    let now = app.clock.now();
    let granted_at = match body.granted_at.as_deref() {
        None => now,
        Some(t) => Timestamp::parse(t).ok_or_else(|| {
            ApiError::invalid("granted_at", "granted_at must be an ISO 8601 time")
        })?,
    };
    let phone = match (body.phone.as_deref(), &lead) {
        (Some(p), _) => Some(phone("phone", p)?),
        (None, Some(lead)) => lead.phone.clone(),
        (None, None) => return Err(ApiError::invalid("phone", "phone or lead_id is required")),
    };
    let consent = Consent {
        id: crate::ids::new_id(),
        business_id,
        lead_id: lead.map(|l| l.id),
        phone,
        basis,
        source,
        granted_at,
        created_at: now,
        revoked_at: None,
        revoked_reason: None,
    };
    super::insert_consent(&app.store, &consent).await?;
    Ok((StatusCode::CREATED, Json(consent)).into_response())
}

/// `DELETE /api/v1/consents?id=&reason=`: revokes a consent (kept, with the reason).
pub async fn revoke_consent(
    State(app): State<AppState>,
    auth: Auth<ComplianceWrite>,
    Query(q): Query<ConsentQuery>,
) -> ApiResult<Json<Consent>> {
    let id = require("id", q.id.as_deref())?;
    let found = super::consent(&app.store, &auth.tenant.business_ids, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Consent"))?;
    let reason = require("reason", q.reason.as_deref())?;
    super::revoke_consent(&app.store, &found.id, reason, app.clock.now()).await?;
    super::consent(&app.store, &auth.tenant.business_ids, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Consent"))
}

#[derive(Deserialize)]
pub struct BusinessQuery {
    business_id: Option<String>,
    limit: Option<String>,
}

/// `GET /api/v1/compliance/settings`.
pub async fn get_settings(
    State(app): State<AppState>,
    auth: Auth<ComplianceRead>,
    Query(q): Query<BusinessQuery>,
) -> ApiResult<Json<Settings>> {
    let business_id = business_of(&auth, q.business_id.as_deref())?;
    Ok(Json(super::settings(&app.store, &business_id).await?))
}

#[derive(Deserialize, JsonSchema)]
pub struct SettingsBody {
    business_id: Option<String>,
    /// `HH:MM`, local to the recipient, at or after 08:00.
    window_start: Option<String>,
    /// `HH:MM`, at or before 21:00.
    window_end: Option<String>,
    /// Days nobody is called: `mon` … `sun`.
    quiet_days: Option<Vec<String>>,
    /// `false` lets single calls (non-marketing: reminders, callbacks asked for)
    /// through outside calling hours; campaigns are always held to them.
    enforce_single_calls: Option<bool>,
}

/// `PATCH /api/v1/compliance/settings`: a narrower window, quiet days, and whether
/// single calls are held to calling hours.
pub async fn update_settings(
    State(app): State<AppState>,
    auth: Auth<ComplianceWrite>,
    Json(body): Json<SettingsBody>,
) -> ApiResult<Json<Settings>> {
    let business_id = business_of(&auth, body.business_id.as_deref())?;
    let mut settings = super::settings(&app.store, &business_id).await?;
    let hhmm = |param: &str, v: &str| {
        NaiveTime::parse_from_str(v, "%H:%M")
            .map(|t| t.format("%H:%M").to_string())
            .map_err(|_| ApiError::invalid(param, format!("{param} must be HH:MM")))
    };
    if let Some(start) = body.window_start.as_deref() {
        settings.window_start = hhmm("window_start", start)?;
    }
    if let Some(end) = body.window_end.as_deref() {
        settings.window_end = hhmm("window_end", end)?;
    }
    if settings.window_start.as_str() < "08:00" {
        return Err(ApiError::invalid(
            "window_start",
            "Calls start at 08:00 at the earliest (47 CFR 64.1200)",
        ));
    }
    if settings.window_end.as_str() > "21:00" {
        return Err(ApiError::invalid(
            "window_end",
            "Calls end at 21:00 at the latest (47 CFR 64.1200)",
        ));
    }
    if settings.window_start >= settings.window_end {
        return Err(ApiError::invalid(
            "window_end",
            "window_end must be after window_start",
        ));
    }
    if let Some(days) = body.quiet_days {
        let mut parsed = Vec::new();
        for day in days {
            let Some(d) = super::parse_day(&day) else {
                return Err(ApiError::invalid(
                    "quiet_days",
                    format!("Unknown day: {day}"),
                ));
            };
            let name = d.to_string().to_ascii_lowercase();
            if !parsed.contains(&name) {
                parsed.push(name);
            }
        }
        settings.quiet_days = parsed;
    }
    if let Some(enforce) = body.enforce_single_calls {
        settings.enforce_single_calls = enforce;
    }
    settings.updated_at = Some(app.clock.now());
    settings.updated_by = Some(auth.key_id.clone());
    super::save_settings(&app.store, &settings).await?;
    Ok(Json(settings))
}

#[derive(Serialize, JsonSchema)]
pub struct RefusalList {
    pub refusals: Vec<Refusal>,
}

/// `GET /api/v1/compliance/refusals`: dials the gate refused, newest first.
pub async fn refusals(
    State(app): State<AppState>,
    auth: Auth<ComplianceRead>,
    Query(q): Query<BusinessQuery>,
) -> ApiResult<Json<RefusalList>> {
    let limit = parse_limit(q.limit.as_deref(), 50, 500)?;
    let business_ids = businesses_for(&auth, q.business_id.as_deref())?;
    let refusals = super::list_refusals(&app.store, &business_ids, auth.tenant.mode, limit).await?;
    Ok(Json(RefusalList { refusals }))
}
