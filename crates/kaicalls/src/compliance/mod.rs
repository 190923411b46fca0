//! Keeping calls inside the law: one pre-dial gate for every outbound call
//! (`gate.rs`), the business-wide do-not-call list, consent records, each business's
//! calling-hours settings, and the record of every refused dial. `zones.rs` knows
//! where a number is and when it may ring there; `routes.rs` is the API
//! (`/dnc`, `/consents`, `/compliance/settings`, `/compliance/refusals`).
//!
//! The list is checked by every key and (later) every campaign before each dial; an
//! opt-out heard on a call puts the number on it in the transaction that finishes
//! the call (`calls::engine`), with a `dnc.added` event.

pub mod gate;
pub mod routes;
pub mod zones;

use chrono::{NaiveTime, Weekday};
use serde::Serialize;
use serde_json::{json, Value};

use crate::auth::api_key::Mode;
use crate::clock::Timestamp;
use crate::events::{self, NewEvent};
use crate::ids;
use crate::store::row::Columns;
use crate::store::sql::Sql;
use crate::store::{Store, Tx};

// ---------------------------------------------------------------- settings

/// A business's calling-hours settings; without a row, the defaults.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Settings {
    pub business_id: String,
    /// The business's own daily window in the recipient's local time (`HH:MM`),
    /// inside the federal 08:00 to 21:00 and any stricter state window.
    pub window_start: String,
    pub window_end: String,
    /// Days nobody is called (`sun`, `sat`, …).
    pub quiet_days: Vec<String>,
    /// Whether single calls (`POST /calls`) are held to calling hours. Campaigns
    /// always are. Turning it off is for non-marketing calls (appointment reminders
    /// a customer asked for) and is recorded with who did it.
    pub enforce_single_calls: bool,
    pub updated_at: Option<Timestamp>,
    pub updated_by: Option<String>,
}

impl Settings {
    pub fn defaults(business_id: &str) -> Settings {
        Settings {
            business_id: business_id.to_string(),
            window_start: "08:00".into(),
            window_end: "21:00".into(),
            quiet_days: vec![],
            enforce_single_calls: true,
            updated_at: None,
            updated_by: None,
        }
    }

    /// The business's window (inside the federal one by construction of the gate).
    pub fn window(&self) -> zones::Window {
        let time = |s: &str, fallback: u32| {
            NaiveTime::parse_from_str(s, "%H:%M")
                .unwrap_or_else(|_| NaiveTime::from_hms_opt(fallback, 0, 0).expect("an hour"))
        };
        zones::Window {
            start: time(&self.window_start, 8),
            end: time(&self.window_end, 21),
            quiet_days: self
                .quiet_days
                .iter()
                .filter_map(|d| parse_day(d))
                .collect(),
        }
    }
}

pub fn parse_day(day: &str) -> Option<Weekday> {
    Some(match day.trim().to_ascii_lowercase().get(..3)? {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

pub async fn settings(store: &Store, business_id: &str) -> anyhow::Result<Settings> {
    let row = sqlx::query(
        "SELECT business_id, window_start, window_end, quiet_days, enforce_single_calls, updated_at, updated_by
         FROM compliance_settings WHERE business_id = $1",
    )
    .bind(business_id)
    .fetch_optional(store.reader())
    .await?;
    match row {
        Some(row) => Ok(settings_from(&Columns(&row), business_id, "updated_at")?),
        None => Ok(Settings::defaults(business_id)),
    }
}

/// The settings in a row (the defaults when its `window_start` is null: a LEFT JOIN
/// that found none); `updated_at` names the column holding their update time.
fn settings_from(r: &Columns, business_id: &str, updated_at: &str) -> sqlx::Result<Settings> {
    let Some(window_start) = r.get::<Option<String>>("window_start")? else {
        return Ok(Settings::defaults(business_id));
    };
    Ok(Settings {
        business_id: business_id.to_string(),
        window_start,
        window_end: r.get("window_end")?,
        quiet_days: r.json("quiet_days")?,
        enforce_single_calls: r.get::<i64>("enforce_single_calls")? != 0,
        updated_at: r.time_opt(updated_at)?,
        updated_by: r.get("updated_by")?,
    })
}

pub async fn save_settings(store: &Store, s: &Settings) -> sqlx::Result<()> {
    let mut tx = store.pool.begin().await?;
    sqlx::query("DELETE FROM compliance_settings WHERE business_id = $1")
        .bind(&s.business_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO compliance_settings (business_id, window_start, window_end, quiet_days, enforce_single_calls, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&s.business_id)
    .bind(&s.window_start)
    .bind(&s.window_end)
    .bind(serde_json::to_string(&s.quiet_days).unwrap_or_else(|_| "[]".into()))
    .bind(i64::from(s.enforce_single_calls))
    .bind(s.updated_at.map(Timestamp::micros))
    .bind(&s.updated_by)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

// --------------------------------------------------------------- the list

/// One number on a business's do-not-call list.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DncEntry {
    pub id: String,
    pub business_id: String,
    pub phone: String,
    /// `api`, `import`, `dashboard` or `call` (an opt-out heard on `call_id`).
    pub source: String,
    pub reason: Option<String>,
    pub call_id: Option<String>,
    pub created_at: Timestamp,
    /// Set when the number was taken off the list, with why.
    pub removed_at: Option<Timestamp>,
    pub removed_reason: Option<String>,
}

const DNC_COLUMNS: &str =
    "id, business_id, phone, source, reason, call_id, created_at, removed_at, removed_reason";

fn dnc_from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<DncEntry> {
    let r = Columns(row);
    Ok(DncEntry {
        id: r.get("id")?,
        business_id: r.get("business_id")?,
        phone: r.get("phone")?,
        source: r.get("source")?,
        reason: r.get("reason")?,
        call_id: r.get("call_id")?,
        created_at: r.time("created_at")?,
        removed_at: r.time_opt("removed_at")?,
        removed_reason: r.get("removed_reason")?,
    })
}

/// The entry in force for `phone`, if the number is listed.
pub async fn dnc_entry(
    conn: &mut sqlx::AnyConnection,
    business_id: &str,
    phone: &str,
) -> sqlx::Result<Option<DncEntry>> {
    let row = sqlx::query(&format!(
        "SELECT {DNC_COLUMNS} FROM dnc_entries WHERE business_id = $1 AND phone = $2 AND removed_at IS NULL"
    ))
    .bind(business_id)
    .bind(phone)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(dnc_from_row).transpose()
}

/// What the gate reads for every dial, in one round trip: the number's entry in
/// force (if listed) and the business's settings.
pub async fn gate_inputs(
    store: &Store,
    business_id: &str,
    phone: &str,
) -> anyhow::Result<(Option<DncEntry>, Settings)> {
    let row = sqlx::query(
        "SELECT d.id, d.business_id, d.phone, d.source, d.reason, d.call_id, d.created_at, d.removed_at, d.removed_reason,
                s.window_start, s.window_end, s.quiet_days, s.enforce_single_calls, s.updated_at AS settings_updated_at, s.updated_by
         FROM (SELECT 1 AS one) o
         LEFT JOIN dnc_entries d ON d.business_id = $1 AND d.phone = $2 AND d.removed_at IS NULL
         LEFT JOIN compliance_settings s ON s.business_id = $3",
    )
    .bind(business_id)
    .bind(phone)
    .bind(business_id)
    .fetch_one(store.reader())
    .await?;
    let r = Columns(&row);
    let entry = match r.get::<Option<String>>("id")? {
        Some(_) => Some(dnc_from_row(&row)?),
        None => None,
    };
    Ok((
        entry,
        settings_from(&r, business_id, "settings_updated_at")?,
    ))
}

pub struct NewDnc<'a> {
    pub business_id: &'a str,
    pub phone: &'a str,
    pub source: &'a str,
    pub reason: Option<&'a str>,
    pub call_id: Option<&'a str>,
}

/// Lists a number in `tx` with its `dnc.added` event; a number already listed keeps
/// its entry (`false`).
pub async fn add_dnc(
    tx: &mut Tx,
    new: &NewDnc<'_>,
    mode: Mode,
    now: Timestamp,
) -> anyhow::Result<(DncEntry, bool)> {
    if let Some(existing) = dnc_entry(tx, new.business_id, new.phone).await? {
        return Ok((existing, false));
    }
    let entry = DncEntry {
        id: ids::new_id(),
        business_id: new.business_id.to_string(),
        phone: new.phone.to_string(),
        source: new.source.to_string(),
        reason: new.reason.map(str::to_string),
        call_id: new.call_id.map(str::to_string),
        created_at: now,
        removed_at: None,
        removed_reason: None,
    };
    sqlx::query(&format!(
        "INSERT INTO dnc_entries ({DNC_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)"
    ))
    .bind(&entry.id)
    .bind(&entry.business_id)
    .bind(&entry.phone)
    .bind(&entry.source)
    .bind(&entry.reason)
    .bind(&entry.call_id)
    .bind(now.micros())
    .execute(&mut **tx)
    .await?;
    dnc_event(tx, "dnc.added", &entry, mode, now).await?;
    Ok((entry, true))
}

/// Takes a number off the list, keeping the entry with why.
pub async fn remove_dnc(
    tx: &mut Tx,
    business_id: &str,
    phone: &str,
    reason: &str,
    mode: Mode,
    now: Timestamp,
) -> anyhow::Result<Option<DncEntry>> {
    let Some(mut entry) = dnc_entry(tx, business_id, phone).await? else {
        return Ok(None);
    };
    sqlx::query("UPDATE dnc_entries SET removed_at = $1, removed_reason = $2 WHERE id = $3")
        .bind(now.micros())
        .bind(reason)
        .bind(&entry.id)
        .execute(&mut **tx)
        .await?;
    entry.removed_at = Some(now);
    entry.removed_reason = Some(reason.to_string());
    dnc_event(tx, "dnc.removed", &entry, mode, now).await?;
    Ok(Some(entry))
}

async fn dnc_event(
    tx: &mut Tx,
    kind: &str,
    entry: &DncEntry,
    mode: Mode,
    now: Timestamp,
) -> anyhow::Result<()> {
    events::emit(
        tx,
        NewEvent {
            kind,
            object_type: "dnc",
            object_id: &entry.id,
            business_id: &entry.business_id,
            mode,
            data: json!({
                "event": kind,
                "phone": entry.phone,
                "source": entry.source,
                "reason": entry.removed_reason.as_ref().or(entry.reason.as_ref()),
                "call_id": entry.call_id,
                "timestamp": now.to_rfc3339(),
            }),
        },
        None,
        now,
    )
    .await?;
    Ok(())
}

pub struct DncFilter<'a> {
    pub business_ids: &'a [String],
    pub phone: Option<&'a str>,
    pub include_removed: bool,
    pub before: Option<Timestamp>,
    pub limit: i64,
}

pub async fn list_dnc(store: &Store, f: &DncFilter<'_>) -> sqlx::Result<Vec<DncEntry>> {
    let mut sql = Sql::new(format!("SELECT {DNC_COLUMNS} FROM dnc_entries WHERE 1 = 1"));
    sql.push_list(" AND business_id IN (?)", f.business_ids);
    if let Some(phone) = f.phone {
        sql.push(" AND phone = ?", phone.to_string());
    }
    if !f.include_removed {
        sql.text(" AND removed_at IS NULL");
    }
    if let Some(before) = f.before {
        sql.push(" AND created_at < ?", before.micros());
    }
    sql.text(" ORDER BY created_at DESC, id DESC")
        .push(" LIMIT ?", f.limit + 1);
    let rows = sql.query().fetch_all(store.reader()).await?;
    rows.iter().map(dnc_from_row).collect()
}

// ---------------------------------------------------------------- consent

pub const BASES: [&str; 4] = ["express", "express_written", "existing_customer", "inquiry"];

/// A record that a person agreed to be called, and on what basis.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Consent {
    pub id: String,
    pub business_id: String,
    pub lead_id: Option<String>,
    pub phone: Option<String>,
    /// `express`, `express_written`, `existing_customer` or `inquiry`.
    pub basis: String,
    /// Where it was given: a web form's URL, "signed intake form", a call id.
    pub source: String,
    pub granted_at: Timestamp,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub revoked_reason: Option<String>,
}

const CONSENT_COLUMNS: &str =
    "id, business_id, lead_id, phone, basis, source, granted_at, created_at, revoked_at, revoked_reason";

fn consent_from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<Consent> {
    let r = Columns(row);
    Ok(Consent {
        id: r.get("id")?,
        business_id: r.get("business_id")?,
        lead_id: r.get("lead_id")?,
        phone: r.get("phone")?,
        basis: r.get("basis")?,
        source: r.get("source")?,
        granted_at: r.time("granted_at")?,
        created_at: r.time("created_at")?,
        revoked_at: r.time_opt("revoked_at")?,
        revoked_reason: r.get("revoked_reason")?,
    })
}

pub async fn insert_consent(store: &Store, c: &Consent) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO consents ({CONSENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL)"
    ))
    .bind(&c.id)
    .bind(&c.business_id)
    .bind(&c.lead_id)
    .bind(&c.phone)
    .bind(&c.basis)
    .bind(&c.source)
    .bind(c.granted_at.micros())
    .bind(c.created_at.micros())
    .execute(&store.pool)
    .await?;
    Ok(())
}

pub async fn consent(
    store: &Store,
    business_ids: &[String],
    id: &str,
) -> sqlx::Result<Option<Consent>> {
    let mut sql = Sql::new(format!(
        "SELECT {CONSENT_COLUMNS} FROM consents WHERE id = "
    ));
    sql.push("?", id.to_string())
        .push_list(" AND business_id IN (?)", business_ids);
    let row = sql.query().fetch_optional(store.reader()).await?;
    row.as_ref().map(consent_from_row).transpose()
}

/// Whether a consent of `basis` (or one that implies it: `express_written` covers
/// `express`) is in force for this number or lead.
pub async fn has_consent(
    store: &Store,
    business_id: &str,
    phone: &str,
    lead_id: Option<&str>,
    basis: &str,
) -> sqlx::Result<bool> {
    let bases: &[&str] = match basis {
        "express" => &["express", "express_written"],
        other => &[other],
    };
    let mut sql = Sql::new("SELECT COUNT(*) FROM consents WHERE business_id = ");
    sql.push("?", business_id.to_string())
        .text(" AND revoked_at IS NULL")
        .push_list(
            " AND basis IN (?)",
            &bases.iter().map(|b| b.to_string()).collect::<Vec<_>>(),
        )
        .push(" AND (phone = ?", phone.to_string())
        .push(" OR lead_id = ?)", lead_id.unwrap_or("").to_string());
    let row = sql.query().fetch_one(store.reader()).await?;
    Ok(sqlx::Row::try_get::<i64, _>(&row, 0)? > 0)
}

pub async fn revoke_consent(
    store: &Store,
    id: &str,
    reason: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE consents SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL")
        .bind(now.micros())
        .bind(reason)
        .bind(id)
        .execute(&store.pool)
        .await?;
    Ok(())
}

pub struct ConsentFilter<'a> {
    pub business_ids: &'a [String],
    pub phone: Option<&'a str>,
    pub lead_id: Option<&'a str>,
    pub limit: i64,
}

pub async fn list_consents(store: &Store, f: &ConsentFilter<'_>) -> sqlx::Result<Vec<Consent>> {
    let mut sql = Sql::new(format!(
        "SELECT {CONSENT_COLUMNS} FROM consents WHERE 1 = 1"
    ));
    sql.push_list(" AND business_id IN (?)", f.business_ids);
    if let Some(phone) = f.phone {
        sql.push(" AND phone = ?", phone.to_string());
    }
    if let Some(lead) = f.lead_id {
        sql.push(" AND lead_id = ?", lead.to_string());
    }
    sql.text(" ORDER BY created_at DESC, id DESC")
        .push(" LIMIT ?", f.limit + 1);
    let rows = sql.query().fetch_all(store.reader()).await?;
    rows.iter().map(consent_from_row).collect()
}

// ---------------------------------------------------------------- refusals

/// A dial the gate refused, with its reason and the decision behind it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Refusal {
    pub id: String,
    pub business_id: String,
    pub mode: Mode,
    pub phone: String,
    /// `dnc`, `outside_calling_hours`, `frequency_cap`, `no_consent`, `duplicate`
    /// or `invalid_number`.
    pub reason: String,
    pub message: String,
    /// The calling-hours decision (zones, state, window, local time), when made.
    pub decision: Option<Value>,
    pub created_at: Timestamp,
}

pub async fn record_refusal(
    store: &Store,
    refusal: &Refusal,
    key_id: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO dial_refusals (id, business_id, mode, phone, reason, message, decision, key_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&refusal.id)
    .bind(&refusal.business_id)
    .bind(refusal.mode.as_str())
    .bind(&refusal.phone)
    .bind(&refusal.reason)
    .bind(&refusal.message)
    .bind(refusal.decision.as_ref().map(Value::to_string))
    .bind(key_id)
    .bind(refusal.created_at.micros())
    .execute(&store.pool)
    .await?;
    Ok(())
}

pub async fn list_refusals(
    store: &Store,
    business_ids: &[String],
    mode: Mode,
    limit: i64,
) -> anyhow::Result<Vec<Refusal>> {
    let mut sql = Sql::new(
        "SELECT id, business_id, mode, phone, reason, message, decision, created_at FROM dial_refusals WHERE 1 = 1",
    );
    sql.push_list(" AND business_id IN (?)", business_ids)
        .push(" AND mode = ?", mode.as_str())
        .text(" ORDER BY created_at DESC, id DESC")
        .push(" LIMIT ?", limit);
    let rows = sql.query().fetch_all(store.reader()).await?;
    rows.iter()
        .map(|row| {
            let r = Columns(row);
            Ok(Refusal {
                id: r.get("id")?,
                business_id: r.get("business_id")?,
                mode: r.parsed("mode", Mode::parse)?,
                phone: r.get("phone")?,
                reason: r.get("reason")?,
                message: r.get("message")?,
                decision: r.json_opt("decision")?,
                created_at: r.time("created_at")?,
            })
        })
        .collect()
}
