//! Staff alerts: a business's staff hear about what its phone brought in. Per business,
//! settings name the recipients (emails, a webhook URL) and the events they want:
//! `new_lead` (an unknown caller), `callback_requested` (`schedule_callback` during a
//! call), `follow_up` (an inbound call whose outcome is `follow_up`), `voicemail`.
//!
//! An alert is raised in the transaction of what caused it (the call's final one, or
//! the tool's), as one `staff_alerts` row per recipient with a `StaffAlert` job (I/O
//! lane), so a crash loses none. The job sends it — email over SMTP (`lettre`; host,
//! port, credentials, TLS by configuration), webhook as a Standard Webhooks-signed
//! POST with the business's secret, public addresses only in live mode — and records
//! the outcome on the row: `delivered`, or after `MAX_ATTEMPTS` `failed` with the
//! last error.

pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;

use crate::auth::api_key::Mode;
use crate::clock::Timestamp;
use crate::jobs::{self, Job, Kind};
use crate::store::row::Columns;
use crate::store::{Store, Tx};
use crate::webhooks::{signing, ssrf};

/// What staff can be alerted about.
pub const EVENTS: [&str; 4] = ["new_lead", "callback_requested", "follow_up", "voicemail"];
/// Sends before an alert is `failed`.
pub const MAX_ATTEMPTS: i64 = 5;
const TIMEOUT: Duration = Duration::from_secs(15);
const NOT_CONFIGURED: &str = "email is not configured on this server";

/// A business's alert settings (`GET /api/v1/staff-alerts/settings`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AlertSettings {
    pub business_id: String,
    /// Alerts are sent at all.
    pub enabled: bool,
    /// Staff addresses that get an email per alert.
    pub emails: Vec<String>,
    /// A URL that gets a signed POST per alert (`webhook-id`, `webhook-timestamp`,
    /// `webhook-signature` with the business's webhook secret).
    pub webhook_url: Option<String>,
    /// Which events alert: of `new_lead`, `callback_requested`, `follow_up`, `voicemail`.
    pub events: Vec<String>,
    /// `null` until first saved.
    pub updated_at: Option<Timestamp>,
}

impl AlertSettings {
    /// What a business has before it saves any: nobody to tell, every event chosen.
    pub fn default_for(business_id: &str) -> AlertSettings {
        AlertSettings {
            business_id: business_id.to_string(),
            enabled: true,
            emails: vec![],
            webhook_url: None,
            events: EVENTS.iter().map(|e| e.to_string()).collect(),
            updated_at: None,
        }
    }
}

fn settings_row(row: &AnyRow) -> sqlx::Result<AlertSettings> {
    let r = Columns(row);
    Ok(AlertSettings {
        business_id: r.get("business_id")?,
        enabled: r.get::<i64>("enabled")? != 0,
        emails: r.json("emails")?,
        webhook_url: r.get("webhook_url")?,
        events: r.json("events")?,
        updated_at: Some(r.time("updated_at")?),
    })
}

const SETTINGS: &str =
    "SELECT business_id, enabled, emails, webhook_url, events, updated_at FROM staff_alert_settings WHERE business_id = $1";

pub async fn settings(
    conn: &mut sqlx::AnyConnection,
    business_id: &str,
) -> sqlx::Result<AlertSettings> {
    let row = sqlx::query(SETTINGS)
        .bind(business_id)
        .fetch_optional(conn)
        .await?;
    match row {
        Some(row) => settings_row(&row),
        None => Ok(AlertSettings::default_for(business_id)),
    }
}

pub async fn save_settings(tx: &mut Tx, s: &AlertSettings, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO staff_alert_settings (business_id, enabled, emails, webhook_url, events, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (business_id) DO UPDATE SET enabled = $2, emails = $3, webhook_url = $4, events = $5, updated_at = $6",
    )
    .bind(&s.business_id)
    .bind(i64::from(s.enabled))
    .bind(serde_json::to_string(&s.emails).unwrap_or_else(|_| "[]".into()))
    .bind(&s.webhook_url)
    .bind(serde_json::to_string(&s.events).unwrap_or_else(|_| "[]".into()))
    .bind(now.micros())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One alert to one recipient, with its delivery outcome.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StaffAlert {
    pub id: String,
    pub business_id: String,
    /// The call that raised it.
    pub call_id: Option<String>,
    /// `new_lead`, `callback_requested`, `follow_up` or `voicemail`.
    pub event: String,
    /// `email` or `webhook`.
    pub channel: String,
    /// The address or URL.
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    /// The last failure, if any.
    pub error: Option<String>,
    pub mode: Mode,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

pub const ALERT_COLUMNS: &str = "id, business_id, mode, call_id, event, channel, recipient, subject, body, status, attempts, error, created_at, delivered_at";

pub fn alert_row(row: &AnyRow) -> sqlx::Result<StaffAlert> {
    let r = Columns(row);
    Ok(StaffAlert {
        id: r.get("id")?,
        business_id: r.get("business_id")?,
        call_id: r.get("call_id")?,
        event: r.get("event")?,
        channel: r.get("channel")?,
        recipient: r.get("recipient")?,
        subject: r.get("subject")?,
        body: r.get("body")?,
        status: r.get("status")?,
        attempts: r.get("attempts")?,
        error: r.get("error")?,
        mode: r.parsed("mode", Mode::parse)?,
        created_at: r.time("created_at")?,
        delivered_at: r.time_opt("delivered_at")?,
    })
}

/// What happened, for the staff.
pub struct Raise<'a> {
    pub business_id: &'a str,
    pub mode: Mode,
    pub call_id: Option<&'a str>,
    pub event: &'static str,
    pub subject: String,
    pub body: String,
}

/// Records the alert for each recipient the business's settings name for this event,
/// each with its delivery job, in `tx`. Each row takes its own instant of `clock`
/// (strictly increasing), so the list's `created_at` cursor never splits a group.
/// Returns how many.
pub async fn raise(
    tx: &mut Tx,
    alert: Raise<'_>,
    clock: &crate::clock::SharedClock,
) -> anyhow::Result<usize> {
    let s = settings(tx, alert.business_id).await?;
    if !s.enabled || !s.events.iter().any(|e| e == alert.event) {
        return Ok(0);
    }
    let targets = s
        .emails
        .iter()
        .map(|e| ("email", e.as_str()))
        .chain(s.webhook_url.as_deref().map(|u| ("webhook", u)));
    let mut n = 0;
    for (channel, recipient) in targets {
        let now = clock.now();
        let id = crate::ids::new_id();
        sqlx::query(&format!(
            "INSERT INTO staff_alerts ({ALERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, NULL, $10, NULL)"
        ))
        .bind(&id)
        .bind(alert.business_id)
        .bind(alert.mode.as_str())
        .bind(alert.call_id)
        .bind(alert.event)
        .bind(channel)
        .bind(recipient)
        .bind(&alert.subject)
        .bind(&alert.body)
        .bind(now.micros())
        .execute(&mut **tx)
        .await?;
        let keys = jobs::Keys {
            tenant: Some(alert.business_id),
            ..Default::default()
        };
        jobs::enqueue_keyed(tx, Kind::StaffAlert, &id, &json!({}), now, now, keys).await?;
        n += 1;
    }
    Ok(n)
}

/// How email leaves: `KAICALLS_SMTP_*`.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `starttls` (required), `tls` (implicit, port 465) or `none` (a local relay).
    pub tls: String,
    pub from: String,
}

/// Sends alerts.
pub struct Notifier {
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
    guarded: reqwest::Client,
    open: reqwest::Client,
    allow_private: bool,
}

impl Notifier {
    pub fn new(smtp: Option<SmtpConfig>, allow_private: bool) -> anyhow::Result<Notifier> {
        let smtp = match smtp {
            None => None,
            Some(c) => {
                let mut builder = match c.tls.as_str() {
                    "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
                    "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host)?,
                    "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host)?,
                    other => anyhow::bail!(
                        "KAICALLS_SMTP_TLS must be starttls, tls or none, not '{other}'"
                    ),
                }
                .port(c.port)
                .timeout(Some(TIMEOUT));
                if let (Some(user), Some(pass)) = (c.username, c.password) {
                    builder = builder.credentials(Credentials::new(user, pass));
                }
                let from: Mailbox = c
                    .from
                    .parse()
                    .map_err(|e| anyhow::anyhow!("KAICALLS_SMTP_FROM is not an address: {e}"))?;
                Some((builder.build(), from))
            }
        };
        let builder = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(TIMEOUT)
                .user_agent(concat!("KaiCalls-Alerts/", env!("CARGO_PKG_VERSION")))
        };
        Ok(Notifier {
            smtp,
            guarded: builder()
                .dns_resolver(Arc::new(ssrf::PublicOnlyResolver))
                .build()?,
            open: builder().build()?,
            allow_private,
        })
    }

    async fn email(&self, alert: &StaffAlert) -> Result<(), String> {
        let Some((transport, from)) = &self.smtp else {
            return Err(format!("{NOT_CONFIGURED} (KAICALLS_SMTP_HOST)"));
        };
        let to: Mailbox = alert
            .recipient
            .parse()
            .map_err(|e| format!("not an address: {e}"))?;
        let message = lettre::Message::builder()
            .from(from.clone())
            .to(to)
            .subject(&alert.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(alert.body.clone())
            .map_err(|e| e.to_string())?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("SMTP: {e}"))
    }

    async fn webhook(&self, store: &Store, alert: &StaffAlert) -> Result<(), String> {
        let guarded = alert.mode == Mode::Live && !self.allow_private;
        if guarded {
            if let Some(why) = ssrf::refused_literal(&alert.recipient) {
                return Err(format!("refused: {why}"));
            }
        }
        let business = crate::tenancy::business(store, &alert.business_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the business no longer exists")?;
        let body = json!({
            "type": format!("staff_alert.{}", alert.event),
            "alert_id": alert.id,
            "business_id": alert.business_id,
            "call_id": alert.call_id,
            "event": alert.event,
            "subject": alert.subject,
            "body": alert.body,
            "mode": alert.mode,
            "created_at": alert.created_at,
        })
        .to_string();
        let msg_id = format!("alert_{}", alert.id);
        let timestamp = chrono::Utc::now().timestamp();
        let client = if guarded { &self.guarded } else { &self.open };
        let resp = client
            .post(&alert.recipient)
            .header("content-type", "application/json")
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signing::signature_header(&[&business.webhook_secret], &msg_id, timestamp, &body),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{e}"))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {}", resp.status()))
        }
    }
}

/// The `StaffAlert` job: one send, its outcome on the alert row, in the transaction
/// that finishes (or reschedules) the job.
pub async fn deliver(
    store: &Store,
    notifier: &Notifier,
    job: &Job,
    now: Timestamp,
) -> anyhow::Result<()> {
    let row = sqlx::query(&format!(
        "SELECT {ALERT_COLUMNS} FROM staff_alerts WHERE id = $1"
    ))
    .bind(&job.subject_id)
    .fetch_optional(store.reader())
    .await?;
    let alert = match row.as_ref().map(alert_row).transpose()? {
        Some(a) if a.status == "pending" => a,
        _ => {
            let mut tx = store.begin().await?;
            jobs::complete(&mut tx, &job.id).await?;
            tx.commit().await?;
            return Ok(());
        }
    };
    let sent = match alert.channel.as_str() {
        "email" => notifier.email(&alert).await,
        _ => notifier.webhook(store, &alert).await,
    };
    let attempts = alert.attempts + 1;
    let mut tx = store.begin().await?;
    match &sent {
        Ok(()) => {
            sqlx::query("UPDATE staff_alerts SET status = 'delivered', attempts = $1, error = NULL, delivered_at = $2 WHERE id = $3")
                .bind(attempts)
                .bind(now.micros())
                .bind(&alert.id)
                .execute(&mut *tx)
                .await?;
            jobs::complete(&mut tx, &job.id).await?;
        }
        Err(error) => {
            // Retrying cannot help an address we refuse or a channel not configured.
            let last = attempts >= MAX_ATTEMPTS
                || error.starts_with("refused")
                || error.starts_with(NOT_CONFIGURED);
            tracing::warn!(alert = %alert.id, channel = %alert.channel, %error, "staff alert not delivered");
            sqlx::query(
                "UPDATE staff_alerts SET status = $1, attempts = $2, error = $3 WHERE id = $4",
            )
            .bind(if last { "failed" } else { "pending" })
            .bind(attempts)
            .bind(error)
            .bind(&alert.id)
            .execute(&mut *tx)
            .await?;
            if last {
                jobs::complete(&mut tx, &job.id).await?;
            } else {
                // 5 s, 30 s, 2 min, 10 min.
                let wait = [5.0, 30.0, 120.0, 600.0][(attempts as usize - 1).min(3)];
                jobs::reschedule(&mut tx, &job.id, now.plus_secs_f64(wait)).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}
