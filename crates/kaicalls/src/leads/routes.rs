//! `/api/v1/leads`: list (with filters) and get under leads:read; create and update
//! under leads:write.

use axum::extract::State;
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Filter, Lead, LeadList};
use crate::app::AppState;
use crate::auth::api_key::Mode;
use crate::auth::extract::{Auth, LeadsRead, LeadsWrite};
use crate::auth::Tenant;
use crate::clock::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, NewEvent};
use crate::http::json::{parse_int, parse_limit, parse_time, Json, Query};
use crate::phone::E164;
use crate::store::Tx;

#[derive(Deserialize)]
pub struct LeadQuery {
    id: Option<String>,
    status: Option<String>,
    source: Option<String>,
    agent_id: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    created_after: Option<String>,
    created_before: Option<String>,
    updated_after: Option<String>,
    updated_before: Option<String>,
    score_gte: Option<String>,
    score_lte: Option<String>,
    limit: Option<String>,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

pub async fn list_or_get(
    State(app): State<AppState>,
    auth: Auth<LeadsRead>,
    Query(q): Query<LeadQuery>,
) -> ApiResult<Json<LeadOrList>> {
    if let Some(id) = q.id.as_deref() {
        let lead = super::get(&app.store, &auth.tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("Lead"))?;
        return Ok(Json(LeadOrList::Lead(Box::new(lead))));
    }
    let filter = Filter {
        statuses: q
            .status
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect(),
        limit: parse_limit(q.limit.as_deref(), 50, 100)?,
        created_after: parse_time("created_after", q.created_after.as_deref())?,
        created_before: parse_time("created_before", q.created_before.as_deref())?,
        updated_after: parse_time("updated_after", q.updated_after.as_deref())?,
        updated_before: parse_time("updated_before", q.updated_before.as_deref())?,
        score_gte: parse_int("score_gte", q.score_gte.as_deref(), 0..=100)?,
        score_lte: parse_int("score_lte", q.score_lte.as_deref(), 0..=100)?,
        source: non_empty(q.source),
        agent_id: non_empty(q.agent_id),
        phone: non_empty(q.phone),
        email: non_empty(q.email).map(|e| e.to_ascii_lowercase()),
    };
    let mut leads = super::list(&app.store, &auth.tenant, &filter).await?;
    let has_more = leads.len() as i64 > filter.limit;
    leads.truncate(filter.limit as usize);
    Ok(Json(LeadOrList::List(LeadList { leads, has_more })))
}

/// `GET /api/v1/leads`: one lead with `?id=`, else a page of them.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum LeadOrList {
    Lead(Box<Lead>),
    List(LeadList),
}

/// The writable fields; `null` means "leave as is". camelCase spellings are accepted
/// because one published client sends update bodies without renaming keys.
#[derive(Deserialize, Default, JsonSchema)]
pub struct LeadFields {
    id: Option<String>,
    #[serde(alias = "businessId")]
    business_id: Option<String>,
    #[serde(alias = "agentId")]
    agent_id: Option<String>,
    name: Option<String>,
    #[serde(alias = "firstName")]
    first_name: Option<String>,
    #[serde(alias = "lastName")]
    last_name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    status: Option<String>,
    source: Option<String>,
    #[schemars(range(min = 0, max = 100))]
    #[serde(default, deserialize_with = "crate::http::json::integral")]
    #[schemars(with = "Option<i64>")]
    score: Option<i64>,
    notes: Option<String>,
    metadata: Option<Value>,
}

impl LeadFields {
    pub(crate) fn apply(self, lead: &mut Lead) -> ApiResult<()> {
        if let Some(phone) = self.phone {
            let phone = E164::parse(&phone).map_err(|m| ApiError::invalid("phone", m))?;
            lead.phone = Some(phone.to_string());
        }
        if let Some(email) = self.email {
            let email = email.trim().to_ascii_lowercase();
            if !email.is_empty() && !email.contains('@') {
                return Err(ApiError::invalid("email", "email is not a valid address"));
            }
            lead.email = Some(email).filter(|e| !e.is_empty());
        }
        if let Some(status) = self.status {
            let status = status.trim().to_ascii_lowercase();
            if status.is_empty() || status.len() > 50 {
                return Err(ApiError::invalid(
                    "status",
                    "status must be 1 to 50 characters",
                ));
            }
            lead.status = status;
        }
        if let Some(score) = self.score {
            if !(0..=100).contains(&score) {
                return Err(ApiError::invalid(
                    "score",
                    "score must be between 0 and 100",
                ));
            }
            lead.score = Some(score);
        }
        match self.metadata {
            Some(v @ Value::Object(_)) => lead.metadata = v,
            Some(_) => return Err(ApiError::invalid("metadata", "metadata must be an object")),
            None => {}
        }
        let texts = [
            (&mut lead.agent_id, self.agent_id),
            (&mut lead.name, self.name),
            (&mut lead.first_name, self.first_name),
            (&mut lead.last_name, self.last_name),
            (&mut lead.source, self.source),
            (&mut lead.notes, self.notes),
        ];
        for (field, value) in texts {
            if let Some(v) = value {
                *field = Some(v).filter(|v| !v.is_empty());
            }
        }
        Ok(())
    }
}

/// The durable `lead.*` event, written with the change. Leads are shared
/// configuration, so the event goes out in the mode of the key that made the change.
/// Saves the lead (a new one, or over the stored one) with its `lead.created` /
/// `lead.updated` event, group-committed ([`crate::store::Store::write`]).
async fn write_and_emit(
    app: &AppState,
    lead: Lead,
    new: bool,
    mode: Mode,
    now: Timestamp,
) -> ApiResult<Lead> {
    let kind = if new { "lead.created" } else { "lead.updated" };
    Ok(app
        .store
        .write(move |tx| {
            Box::pin(async move {
                super::save(tx, &lead, new).await?;
                emit(tx, &lead, kind, mode, now).await?;
                Ok(lead)
            })
        })
        .await?)
}

pub(crate) async fn emit(
    tx: &mut Tx,
    lead: &Lead,
    kind: &str,
    mode: Mode,
    now: Timestamp,
) -> ApiResult<()> {
    events::emit(
        tx,
        NewEvent {
            kind,
            object_type: "lead",
            object_id: &lead.id,
            business_id: &lead.business_id,
            mode,
            data: json!({
                "event": kind,
                "lead_id": lead.id,
                "status": lead.status,
                "score": lead.score,
                "timestamp": now.to_rfc3339(),
            }),
        },
        None,
        now,
    )
    .await?;
    Ok(())
}

/// A lead's agent must be one the caller can see, of the lead's own business.
async fn check_agent(app: &AppState, tenant: &Tenant, lead: &Lead) -> ApiResult<()> {
    let Some(agent_id) = &lead.agent_id else {
        return Ok(());
    };
    match crate::agents::get(&app.store, tenant, agent_id).await? {
        Some(agent) if agent.business_id == lead.business_id => Ok(()),
        _ => Err(ApiError::not_found("Agent")),
    }
}

pub async fn create(
    State(app): State<AppState>,
    auth: Auth<LeadsWrite>,
    Json(mut body): Json<LeadFields>,
) -> ApiResult<(StatusCode, Json<Lead>)> {
    let business_id = auth.tenant.resolve_business(body.business_id.as_deref())?;
    body.id = None;
    let now = app.clock.now();
    let mut lead = Lead::new(&business_id, now);
    body.apply(&mut lead)?;
    check_agent(&app, &auth.tenant, &lead).await?;
    let lead = write_and_emit(&app, lead, true, auth.tenant.mode, now).await?;
    Ok((StatusCode::CREATED, Json(lead)))
}

pub async fn update(
    State(app): State<AppState>,
    auth: Auth<LeadsWrite>,
    Json(body): Json<LeadFields>,
) -> ApiResult<Json<Lead>> {
    let id = non_empty(body.id.clone()).ok_or_else(|| ApiError::invalid("id", "id is required"))?;
    let mut lead = super::get(&app.store, &auth.tenant, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Lead"))?;
    if body
        .business_id
        .as_deref()
        .is_some_and(|b| b != lead.business_id)
    {
        return Err(ApiError::invalid(
            "business_id",
            "a lead cannot move to another business",
        ));
    }
    body.apply(&mut lead)?;
    check_agent(&app, &auth.tenant, &lead).await?;
    let now = app.clock.now();
    lead.updated_at = now;
    let lead = write_and_emit(&app, lead, false, auth.tenant.mode, now).await?;
    Ok(Json(lead))
}
