//! `/api/v1/staff-alerts/settings` (GET agents:read, PATCH agents:write) and
//! `/api/v1/staff-alerts` (the alerts sent, with their outcome; calls:read).

use axum::extract::State;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AlertSettings, StaffAlert, ALERT_COLUMNS, EVENTS};
use crate::app::AppState;
use crate::auth::extract::{AgentsRead, AgentsWrite, Auth, CallsRead};
use crate::clock::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::http::json::{parse_limit, parse_time, Json, Query};
use crate::store::sql::Sql;

#[derive(Deserialize)]
pub struct BusinessQuery {
    business_id: Option<String>,
}

/// `GET /api/v1/staff-alerts/settings`: who is told what.
pub async fn get_settings(
    State(app): State<AppState>,
    auth: Auth<AgentsRead>,
    Query(q): Query<BusinessQuery>,
) -> ApiResult<Json<AlertSettings>> {
    let business_id = auth.tenant.resolve_business(q.business_id.as_deref())?;
    let mut conn = app.store.reader().acquire().await?;
    Ok(Json(super::settings(&mut conn, &business_id).await?))
}

#[derive(Deserialize, JsonSchema)]
pub struct SettingsBody {
    business_id: Option<String>,
    enabled: Option<bool>,
    /// Staff email addresses (replaces the list; at most 20).
    emails: Option<Vec<String>>,
    /// An https URL that gets a signed POST per alert; `""` removes it.
    webhook_url: Option<String>,
    /// Of `new_lead`, `callback_requested`, `follow_up`, `voicemail` (replaces the list).
    events: Option<Vec<String>>,
}

#[derive(Deserialize)]
pub struct DryRunQuery {
    dry_run: Option<String>,
}

/// `PATCH /api/v1/staff-alerts/settings`: recipients and the events that alert
/// (`?dry_run=true`: checked and answered, not saved).
pub async fn update_settings(
    State(app): State<AppState>,
    auth: Auth<AgentsWrite>,
    Query(q): Query<DryRunQuery>,
    Json(body): Json<SettingsBody>,
) -> ApiResult<Json<AlertSettings>> {
    let dry_run = match q.dry_run.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "dry_run",
                "dry_run must be true or false",
            ))
        }
    };
    let business_id = auth.tenant.resolve_business(body.business_id.as_deref())?;
    let mut conn = app.store.reader().acquire().await?;
    let mut settings = super::settings(&mut conn, &business_id).await?;
    drop(conn);
    if let Some(enabled) = body.enabled {
        settings.enabled = enabled;
    }
    if let Some(emails) = body.emails {
        if emails.len() > 20 {
            return Err(ApiError::invalid("emails", "at most 20 email addresses"));
        }
        let mut clean = vec![];
        for email in emails {
            let email = email.trim().to_ascii_lowercase();
            if email.parse::<lettre::Address>().is_err() || email.len() > 254 {
                return Err(ApiError::invalid(
                    "emails",
                    format!("'{email}' is not an email address"),
                ));
            }
            if !clean.contains(&email) {
                clean.push(email);
            }
        }
        settings.emails = clean;
    }
    if let Some(url) = body.webhook_url {
        let url = url.trim().to_string();
        if url.is_empty() {
            settings.webhook_url = None;
        } else {
            crate::calls::create::validate_webhook_url(&url)?;
            app.check_webhook_target(auth.tenant.mode, "webhook_url", &url)?;
            settings.webhook_url = Some(url);
        }
    }
    if let Some(events) = body.events {
        let mut clean: Vec<String> = vec![];
        for event in events {
            let event = event.trim().to_ascii_lowercase();
            if !EVENTS.contains(&event.as_str()) {
                return Err(ApiError::invalid(
                    "events",
                    format!("'{event}' is not an alert event: use new_lead, callback_requested, follow_up or voicemail"),
                ));
            }
            if !clean.contains(&event) {
                clean.push(event);
            }
        }
        settings.events = clean;
    }
    if dry_run {
        return Ok(Json(settings));
    }
    let now = app.clock.now();
    settings.updated_at = Some(now);
    let saved = settings.clone();
    app.store
        .write(move |tx| Box::pin(async move { Ok(super::save_settings(tx, &saved, now).await?) }))
        .await?;
    Ok(Json(settings))
}

#[derive(Deserialize)]
pub struct AlertsQuery {
    business_id: Option<String>,
    call_id: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

/// A page of alerts, newest first.
#[derive(Serialize, JsonSchema)]
pub struct AlertList {
    pub alerts: Vec<StaffAlert>,
    pub has_more: bool,
}

/// `GET /api/v1/staff-alerts`: every alert raised, to whom, and how its delivery went.
pub async fn list(
    State(app): State<AppState>,
    auth: Auth<CallsRead>,
    Query(q): Query<AlertsQuery>,
) -> ApiResult<Json<AlertList>> {
    let limit = parse_limit(q.limit.as_deref(), 50, 100)?;
    let before = parse_time("after", q.after.as_deref())?;
    let business_ids = auth.tenant.narrowed_to(q.business_id.as_deref())?;
    let mut sql = Sql::new(format!("SELECT {ALERT_COLUMNS} FROM staff_alerts"));
    sql.push(" WHERE mode = ?", auth.tenant.mode.as_str())
        .push_list(" AND business_id IN (?)", &business_ids)
        .push_opt(
            " AND call_id = ?",
            q.call_id.as_deref().filter(|c| !c.is_empty()),
        )
        .push_opt(" AND created_at < ?", before.map(Timestamp::micros))
        .push(" ORDER BY created_at DESC, id DESC LIMIT ?", limit + 1);
    let rows = sql.query().fetch_all(app.store.reader()).await?;
    let mut alerts = rows
        .iter()
        .map(super::alert_row)
        .collect::<sqlx::Result<Vec<_>>>()?;
    let has_more = alerts.len() as i64 > limit;
    alerts.truncate(limit as usize);
    Ok(Json(AlertList { alerts, has_more }))
}
