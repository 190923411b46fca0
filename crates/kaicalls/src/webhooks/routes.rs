//! `/api/v1/webhooks` (subscriptions, as the published clients manage them) and
//! `/api/v1/webhooks/secret` (the business secret that signs per-call webhooks).

use axum::extract::State;
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Subscription, WebhookView};
use crate::app::AppState;
use crate::auth::extract::{Auth, WebhooksRead, WebhooksWrite};
use crate::calls::create::validate_webhook_url;
use crate::clock::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, NewEvent, EVENT_TYPES};
use crate::http::json::{require, Json, Query};
use crate::http::Success;
use crate::{ids, tenancy};

#[derive(Deserialize)]
pub struct ListQuery {
    business_id: Option<String>,
    id: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    auth: Auth<WebhooksRead>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<WebhookList>> {
    let business = q.business_id.as_deref().filter(|b| !b.is_empty());
    let mut subs = super::list(&app.store, &auth.tenant, business).await?;
    if let Some(id) = q.id.as_deref() {
        subs.retain(|s| s.id == id);
    }
    let webhooks = subs.iter().map(|s| s.view(false)).collect();
    Ok(Json(WebhookList {
        webhooks,
        events: EVENT_TYPES.to_vec(),
    }))
}

#[derive(Serialize, JsonSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
    /// Every event type a subscription can ask for.
    pub events: Vec<&'static str>,
}

/// `POST /api/v1/webhooks/test`.
#[derive(Serialize, JsonSchema)]
pub struct TestSent {
    pub success: bool,
    pub event_id: String,
    pub delivery_id: String,
}

/// A subscription's new secret.
#[derive(Serialize, JsonSchema)]
pub struct RotatedSecret {
    pub id: String,
    pub webhook_secret: String,
}

/// The secret that signs a business's per-call webhooks.
#[derive(Serialize, JsonSchema)]
pub struct BusinessSecret {
    pub business_id: String,
    pub webhook_secret: String,
    /// After a rotation: until when the previous secret also signs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<Timestamp>,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "WebhookFields")]
pub struct UpsertBody {
    id: Option<String>,
    business_id: Option<String>,
    webhook_url: Option<String>,
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    is_active: Option<bool>,
}

fn validate_events(events: Vec<String>) -> ApiResult<Vec<String>> {
    if events.is_empty() {
        return Err(ApiError::invalid("events", "events must not be empty"));
    }
    if let Some(bad) = events
        .iter()
        .find(|e| *e != "*" && !EVENT_TYPES.contains(&e.as_str()))
    {
        return Err(ApiError::invalid(
            "events",
            format!("Unknown event type '{bad}'"),
        ));
    }
    Ok(events)
}

/// Creates a subscription (201, with its secret shown this once) or, with `id`,
/// updates the fields sent (200).
pub async fn upsert(
    State(app): State<AppState>,
    auth: Auth<WebhooksWrite>,
    Json(body): Json<UpsertBody>,
) -> ApiResult<(StatusCode, Json<WebhookView>)> {
    let url = body.webhook_url.or(body.url).map(|u| u.trim().to_string());
    if let Some(url) = &url {
        validate_webhook_url(url)?;
        app.check_webhook_target(auth.tenant.mode, "webhook_url", url)?;
    }
    let events = body.events.map(validate_events).transpose()?;
    let now = app.clock.now();
    let (sub, is_new) = match body.id.as_deref().filter(|i| !i.is_empty()) {
        Some(id) => {
            let mut sub = super::get(&app.store, &auth.tenant, id)
                .await?
                .ok_or_else(|| ApiError::not_found("Webhook"))?;
            if let Some(url) = url {
                sub.url = url;
            }
            if let Some(events) = events {
                sub.events = events;
            }
            if let Some(d) = body.description {
                sub.description = Some(d);
            }
            if let Some(active) = body.is_active {
                sub.is_active = active;
                if active {
                    sub.disabled_reason = None;
                }
            }
            sub.updated_at = now;
            (sub, false)
        }
        None => {
            let url =
                url.ok_or_else(|| ApiError::invalid("webhook_url", "webhook_url is required"))?;
            let sub = Subscription {
                id: ids::new_id(),
                business_id: auth.tenant.resolve_business(body.business_id.as_deref())?,
                mode: auth.tenant.mode,
                url,
                events: events
                    .unwrap_or_else(|| vec!["call.completed".into(), "call.failed".into()]),
                description: body.description,
                is_active: body.is_active.unwrap_or(true),
                secret: ids::new_webhook_secret(),
                disabled_reason: None,
                created_at: now,
                updated_at: now,
            };
            (sub, true)
        }
    };
    let mut tx = app.store.begin().await?;
    super::save(&mut tx, &sub, is_new).await?;
    tx.commit().await?;
    let status = if is_new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(sub.view(is_new))))
}

#[derive(Deserialize)]
pub struct IdQuery {
    id: Option<String>,
}

pub async fn delete(
    State(app): State<AppState>,
    auth: Auth<WebhooksWrite>,
    Query(q): Query<IdQuery>,
) -> ApiResult<Json<Success>> {
    let id = require("id", q.id.as_deref())?;
    let sub = super::get(&app.store, &auth.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Webhook"))?;
    super::delete(&app.store, &sub.id).await?;
    Ok(Json(Success::TRUE))
}

#[derive(Deserialize, JsonSchema)]
pub struct IdBody {
    #[schemars(required, with = "String")]
    id: Option<String>,
}

/// `POST /api/v1/webhooks/test {id}`: a signed `webhook.test` to that subscription.
pub async fn test(
    State(app): State<AppState>,
    auth: Auth<WebhooksWrite>,
    Json(body): Json<IdBody>,
) -> ApiResult<Json<TestSent>> {
    let id = require("id", body.id.as_deref())?;
    let sub = super::get(&app.store, &auth.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Webhook"))?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    // Written directly (not through `emit`) so only this subscription receives it.
    let event = events::emit(
        &mut tx,
        NewEvent {
            kind: "webhook.test",
            object_type: "webhook",
            object_id: &sub.id,
            business_id: &sub.business_id,
            mode: sub.mode,
            data: json!({"event": "webhook.test", "webhook_id": sub.id, "timestamp": now.to_rfc3339()}),
        },
        None,
        now,
    )
    .await?;
    let delivery =
        events::enqueue_delivery(&mut tx, &event, None, Some(&sub.id), &sub.url, now).await?;
    tx.commit().await?;
    crate::wake::events_committed();
    Ok(Json(TestSent {
        success: true,
        event_id: event.id,
        delivery_id: delivery,
    }))
}

pub async fn rotate_secret(
    State(app): State<AppState>,
    auth: Auth<WebhooksWrite>,
    Json(body): Json<IdBody>,
) -> ApiResult<Json<RotatedSecret>> {
    let id = require("id", body.id.as_deref())?;
    let mut sub = super::get(&app.store, &auth.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Webhook"))?;
    sub.secret = ids::new_webhook_secret();
    sub.updated_at = app.clock.now();
    let mut tx = app.store.begin().await?;
    super::save(&mut tx, &sub, false).await?;
    tx.commit().await?;
    Ok(Json(RotatedSecret {
        id: sub.id,
        webhook_secret: sub.secret,
    }))
}

#[derive(Deserialize)]
pub struct BusinessQuery {
    business_id: Option<String>,
}

/// `GET /api/v1/webhooks/secret`: the secret that signs per-call webhooks.
pub async fn business_secret(
    State(app): State<AppState>,
    auth: Auth<WebhooksRead>,
    Query(q): Query<BusinessQuery>,
) -> ApiResult<Json<BusinessSecret>> {
    let business_id = auth.tenant.resolve_business(q.business_id.as_deref())?;
    let business = tenancy::business(&app.store, &business_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Business"))?;
    Ok(Json(BusinessSecret {
        business_id: business.id,
        webhook_secret: business.webhook_secret,
        previous_secret_expires_at: None,
    }))
}

/// `POST /api/v1/webhooks/secret/rotate`: a new secret; the old one signs too for 24 h.
pub async fn rotate_business_secret(
    State(app): State<AppState>,
    auth: Auth<WebhooksWrite>,
    Query(q): Query<BusinessQuery>,
) -> ApiResult<Json<BusinessSecret>> {
    let business_id = auth.tenant.resolve_business(q.business_id.as_deref())?;
    let now = app.clock.now();
    let secret = super::rotate_business_secret(&app.store, &business_id, now).await?;
    Ok(Json(BusinessSecret {
        business_id,
        webhook_secret: secret,
        previous_secret_expires_at: Some(Timestamp(now.micros() + super::SECRET_OVERLAP_MICROS)),
    }))
}
