//! `/api/v1/numbers` and `/api/v1/phone-numbers`.

use axum::extract::State;
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::PhoneNumber;
use crate::app::AppState;
use crate::auth::extract::{Auth, NumbersRead, NumbersWrite};
use crate::error::{ApiError, ApiResult};
use crate::http::json::{Json, Query};
use crate::phone::E164;
use crate::{agents, ids};

#[derive(Deserialize)]
pub struct NumbersQuery {
    business_id: Option<String>,
    phone_number: Option<String>,
    id: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct NumberList {
    pub numbers: Vec<PhoneNumber>,
    /// With `?phone_number=`: that number, or null when it is not yours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<Option<PhoneNumber>>,
}

/// `DELETE /api/v1/phone-numbers`.
#[derive(Serialize, JsonSchema)]
pub struct ReleasedNumber {
    pub success: bool,
    pub phone_number: String,
}

/// `GET /api/v1/numbers` and `GET /api/v1/phone-numbers`.
pub async fn list(
    State(app): State<AppState>,
    auth: Auth<NumbersRead>,
    Query(q): Query<NumbersQuery>,
) -> ApiResult<Json<NumberList>> {
    let phone = q
        .phone_number
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let business = q.business_id.as_deref().filter(|b| !b.is_empty());
    if let Some(b) = business {
        // Another tenant's business is not there to filter by.
        auth.tenant.resolve_business(Some(b))?;
    }
    let mut numbers = super::list(&app.store, &auth.tenant, business, phone).await?;
    if let Some(id) = q.id.as_deref() {
        numbers.retain(|n| n.id == id);
    }
    let number = phone.map(|_| numbers.first().cloned());
    Ok(Json(NumberList { numbers, number }))
}

#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "AssignNumber")]
pub struct AssignBody {
    /// E.164.
    #[schemars(required, with = "String")]
    phone_number: Option<String>,
    business_id: Option<String>,
    agent_id: Option<String>,
    vapi_phone_number_id: Option<String>,
}

/// `POST /api/v1/phone-numbers`: registers a number (201) or reassigns one the caller
/// already has (200).
pub async fn assign(
    State(app): State<AppState>,
    auth: Auth<NumbersWrite>,
    Json(body): Json<AssignBody>,
) -> ApiResult<(StatusCode, Json<PhoneNumber>)> {
    let raw = body
        .phone_number
        .as_deref()
        .ok_or_else(|| ApiError::invalid("phone_number", "phone_number is required"))?;
    let phone = E164::parse(raw).map_err(|m| ApiError::invalid("phone_number", m))?;
    let agent = match body.agent_id.as_deref().filter(|a| !a.is_empty()) {
        Some(id) => Some(
            agents::get(&app.store, &auth.tenant, id)
                .await?
                .ok_or_else(|| ApiError::not_found("Agent"))?,
        ),
        None => None,
    };
    let business_id = match (&body.business_id, &agent) {
        (None, Some(agent)) => agent.business_id.clone(),
        (requested, _) => auth.tenant.resolve_business(requested.as_deref())?,
    };
    if let Some(agent) = &agent {
        if agent.business_id != business_id {
            return Err(ApiError::invalid(
                "agent_id",
                "the agent belongs to another business",
            ));
        }
    }
    let existing = super::find_any(&app.store, phone.as_str()).await?;
    // No pool queries while `tx` is open: SQLite runs on a single connection.
    let mut tx = app.store.begin().await?;
    let (status, number) = match existing {
        Some(existing) if existing.business_id == business_id => {
            let number = PhoneNumber {
                agent_id: agent.as_ref().map(|a| a.id.clone()),
                vapi_phone_number_id: body
                    .vapi_phone_number_id
                    .or(existing.vapi_phone_number_id.clone()),
                ..existing
            };
            super::update_assignment(&mut tx, &number).await?;
            (StatusCode::OK, number)
        }
        Some(_) => {
            return Err(ApiError::Conflict(format!(
                "{phone} is already registered to another business"
            )))
        }
        None => {
            let number = PhoneNumber {
                id: ids::new_id(),
                business_id,
                agent_id: agent.as_ref().map(|a| a.id.clone()),
                phone_number: phone.to_string(),
                vapi_phone_number_id: body.vapi_phone_number_id,
                created_at: app.clock.now(),
            };
            super::insert(&mut tx, &number).await?;
            (StatusCode::CREATED, number)
        }
    };
    tx.commit().await?;
    Ok((status, Json(number)))
}

/// `DELETE /api/v1/phone-numbers?phone_number=` (or `?id=`): releases the number.
pub async fn release(
    State(app): State<AppState>,
    auth: Auth<NumbersWrite>,
    Query(q): Query<NumbersQuery>,
) -> ApiResult<Json<ReleasedNumber>> {
    let phone = q
        .phone_number
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    if phone.is_none() && q.id.is_none() {
        return Err(ApiError::invalid(
            "phone_number",
            "phone_number is required",
        ));
    }
    let mut numbers = super::list(&app.store, &auth.tenant, None, phone).await?;
    if let Some(id) = q.id.as_deref() {
        numbers.retain(|n| n.id == id);
    }
    let number = numbers
        .first()
        .ok_or_else(|| ApiError::not_found("Phone number"))?;
    super::delete(&app.store, &number.id).await?;
    Ok(Json(ReleasedNumber {
        success: true,
        phone_number: number.phone_number.clone(),
    }))
}
