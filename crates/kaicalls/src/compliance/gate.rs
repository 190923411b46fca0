//! The pre-dial gate: every outbound call passes it before anything is dialed,
//! fail-closed (an error reading the list refuses the call). In order:
//!
//! 1. the do-not-call list — `403 dnc_blocked`;
//! 2. a state's frequency cap (Florida, Maryland: 3 calls per 24 h to a number) —
//!    `409 frequency_cap`;
//! 3. calling hours in the recipient's local time — `403 outside_calling_hours`,
//!    with the next allowed moment. Zones: the lead's stored zone
//!    (`metadata.timezone`) and the number's (`zones::of_number`), every candidate
//!    held to the window; a number without geography falls back to the lead's zone,
//!    else the business's. Single calls are held to it unless the business turned
//!    that off for non-marketing calls (recorded on the decision).
//!
//! Sandbox numbers — the simulator's `+1500555…` and every NANP `NXX-555-XXXX`
//! (the exchange reserved for fiction and directory services; it reaches no
//! subscriber) — are checked against the list like any number, and their hours are
//! decided and recorded, but not enforced: no person can be woken by them.
//!
//! Each refusal is recorded (`dial_refusals`) with its reason and the decision; each
//! allowed call carries its decision (`calls.compliance`).

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::Value;

use super::zones::{self, Window};
use crate::auth::api_key::Mode;
use crate::clock::Timestamp;
use crate::error::ApiError;
use crate::leads::Lead;
use crate::store::Store;
use crate::tenancy::Business;

/// Who is dialing: a single call (`POST /calls`) or a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Single,
    Campaign,
}

/// What the gate decided about the calling hours of one dial.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// The zones the recipient may be in; the window must hold in each.
    pub zones: Vec<String>,
    /// Where the zones came from: `number`, `lead`, `lead+number` or `business`.
    pub zone_source: &'static str,
    /// The US state of the number's area code.
    pub state: Option<String>,
    /// The rules that made the window: `federal`, the state's, `business`, `campaign`.
    pub rules: Vec<String>,
    /// `HH:MM-HH:MM`, local.
    pub window: String,
    /// The recipient's local time at the decision (the first zone's).
    pub local_time: String,
    pub allowed: bool,
    /// Whether the hours were enforced (false: a sandbox number, or the business
    /// turned enforcement off for single calls).
    pub enforced: bool,
    pub sandbox: bool,
    pub next_allowed_at: Option<Timestamp>,
}

/// Why the gate said no.
#[derive(Debug)]
pub struct Refused {
    /// `dnc`, `frequency_cap`, `outside_calling_hours`.
    pub reason: &'static str,
    pub error: ApiError,
    pub decision: Option<Decision>,
    /// When the rule stops refusing: the next allowed moment of the calling hours, or
    /// when the oldest call counted by the frequency cap leaves its 24 hours.
    pub retry_at: Option<Timestamp>,
}

impl Refused {
    /// Records the refusal (`dial_refusals`) with its reason and decision.
    pub async fn record(
        &self,
        store: &Store,
        call: (&str, Mode, &str),
        key_id: Option<&str>,
        now: Timestamp,
    ) -> sqlx::Result<()> {
        let (business_id, mode, phone) = call;
        let refusal = super::Refusal {
            id: crate::ids::new_id(),
            business_id: business_id.to_string(),
            mode,
            phone: phone.to_string(),
            reason: self.reason.to_string(),
            message: self.error.to_string(),
            decision: self
                .decision
                .as_ref()
                .and_then(|d| serde_json::to_value(d).ok()),
            created_at: now,
        };
        super::record_refusal(store, &refusal, key_id).await
    }
}

pub fn is_sandbox(e164: &str) -> bool {
    let digits = e164.trim_start_matches('+');
    digits.starts_with("1500555")
        || (digits.len() == 11 && digits.starts_with('1') && &digits[4..7] == "555")
}

fn refused(status: StatusCode, code: &'static str, message: String) -> ApiError {
    ApiError::Refused {
        status,
        code,
        message,
        param: Some("to".into()),
    }
}

pub struct Subject<'a> {
    pub business: &'a Business,
    pub lead: Option<&'a Lead>,
    pub to: &'a str,
    pub mode: Mode,
    pub purpose: Purpose,
    /// A campaign's own daily window, narrowing the business's.
    pub window: Option<&'a Window>,
    /// The call being dialed, when it is already recorded (a scheduled call, a
    /// campaign's): not counted against the frequency cap it is checked for.
    pub call_id: Option<&'a str>,
}

/// Runs the gate for one dial at `now`.
pub async fn check(
    store: &Store,
    subject: &Subject<'_>,
    now: Timestamp,
) -> Result<Decision, Refused> {
    let business_id = &subject.business.id;
    let internal = |err: anyhow::Error| Refused {
        reason: "error",
        error: ApiError::Internal(err.context("compliance gate")),
        decision: None,
        retry_at: None,
    };
    // 1. The list (and the settings step 3 needs, in the same read).
    let (listed, settings) = super::gate_inputs(store, business_id, subject.to)
        .await
        .map_err(internal)?;
    if let Some(entry) = listed {
        return Err(Refused {
            reason: "dnc",
            error: refused(
                StatusCode::FORBIDDEN,
                "dnc_blocked",
                format!(
                    "{} is on this business's do-not-call list (since {}, source {}): it is never dialed",
                    subject.to,
                    entry.created_at.to_rfc3339(),
                    entry.source
                ),
            ),
            decision: None,
            retry_at: None,
        });
    }
    let place = zones::of_number(subject.to);
    let sandbox = is_sandbox(subject.to);
    // 2. The state's frequency cap.
    if let Some(cap) = place
        .state
        .and_then(zones::state_frequency_cap)
        .filter(|_| !sandbox)
    {
        const DAY: i64 = 24 * 3600 * 1_000_000;
        let since = now.micros() - DAY;
        let row = sqlx::query(
            "SELECT COUNT(*) AS placed, MIN(created_at) AS oldest FROM calls WHERE business_id = $1 AND mode = $2 AND to_number = $3 AND created_at >= $4 AND status <> 'canceled' AND id <> $5",
        )
        .bind(business_id)
        .bind(subject.mode.as_str())
        .bind(subject.to)
        .bind(since)
        .bind(subject.call_id.unwrap_or(""))
        .fetch_one(store.reader())
        .await
        .map_err(|e| internal(e.into()))?;
        let r = crate::store::row::Columns(&row);
        let placed: i64 = r.get("placed").map_err(|e| internal(e.into()))?;
        let oldest: Option<i64> = r.get("oldest").map_err(|e| internal(e.into()))?;
        if placed >= i64::from(cap) {
            return Err(Refused {
                reason: "frequency_cap",
                error: refused(
                    StatusCode::CONFLICT,
                    "frequency_cap",
                    format!(
                        "{} ({}) may be called at most {cap} times in 24 hours; it has been called {placed} times",
                        subject.to,
                        place.state.unwrap_or("")
                    ),
                ),
                decision: None,
                retry_at: oldest.map(|t| Timestamp(t + DAY + 1)),
            });
        }
    }
    // 3. Calling hours.
    let lead_zone: Option<Tz> = subject
        .lead
        .and_then(|l| l.metadata.get("timezone"))
        .and_then(Value::as_str)
        .and_then(|z| z.parse().ok());
    let (mut candidates, zone_source): (Vec<Tz>, &'static str) =
        match (lead_zone, place.zones.is_empty()) {
            (Some(lead), false) if !place.zones.contains(&lead) => {
                let mut all = vec![lead];
                all.extend(place.zones.iter().copied());
                (all, "lead+number")
            }
            (_, false) => (place.zones.clone(), "number"),
            (Some(lead), true) => (vec![lead], "lead"),
            (None, true) => {
                let zone = subject
                    .business
                    .timezone
                    .parse()
                    .unwrap_or(chrono_tz::America::Chicago);
                (vec![zone], "business")
            }
        };
    candidates.dedup();
    let (mut window, mut rules) = zones::legal_window(place.state);
    let own = settings.window();
    if own != Window::federal() {
        window = window.narrowed(&own);
        rules.push("business".into());
    }
    if let Some(campaign) = subject.window.filter(|w| **w != Window::federal()) {
        window = window.narrowed(campaign);
        rules.push("campaign".into());
    }
    let at: DateTime<Utc> = now.to_datetime();
    let allowed = zones::allowed(&candidates, &window, at);
    let enforced =
        !sandbox && (subject.purpose == Purpose::Campaign || settings.enforce_single_calls);
    let next = if allowed {
        None
    } else {
        zones::next_allowed(&candidates, &window, at).map(|t| Timestamp(t.timestamp_micros()))
    };
    let decision = Decision {
        zones: candidates.iter().map(|z| z.name().to_string()).collect(),
        zone_source,
        state: place.state.map(str::to_string),
        rules,
        window: window.label(),
        local_time: candidates
            .first()
            .map(|z| at.with_timezone(z).format("%Y-%m-%dT%H:%M%:z").to_string())
            .unwrap_or_default(),
        allowed,
        enforced,
        sandbox,
        next_allowed_at: next,
    };
    if !allowed && enforced {
        let when = match next {
            Some(t) => format!("the next allowed moment is {}", t.to_rfc3339()),
            None => "its zones share no allowed moment".to_string(),
        };
        return Err(Refused {
            reason: "outside_calling_hours",
            error: refused(
                StatusCode::FORBIDDEN,
                "outside_calling_hours",
                format!(
                    "{} is outside calling hours: it is {} there ({}), calls are allowed {} ({}); {when}",
                    subject.to,
                    decision.local_time,
                    decision.zones.join(", "),
                    decision.window,
                    decision.rules.join(" + "),
                ),
            ),
            decision: Some(decision),
            retry_at: next,
        });
    }
    Ok(decision)
}

#[cfg(test)]
mod tests {
    use super::is_sandbox;

    #[test]
    fn sandbox_numbers() {
        assert!(is_sandbox("+15005550007"));
        assert!(is_sandbox("+13055550123"));
        assert!(is_sandbox("+14155551234"));
        assert!(!is_sandbox("+13052001234"));
        assert!(!is_sandbox("+442079460958"));
    }
}
