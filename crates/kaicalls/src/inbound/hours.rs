//! The agent's inbound rules: business hours, what happens out of hours, and where a
//! caller is transferred (destinations with their rules).

use chrono::{Datelike, NaiveTime, Timelike};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::ApiError;

pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// When the business answers: local opening and closing times on some days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BusinessHours {
    /// IANA time zone (`null`: the business's).
    pub timezone: Option<String>,
    /// The days open, of `mon` … `sun`.
    pub days: Vec<String>,
    /// Local opening time, `HH:MM`.
    pub open: String,
    /// Local closing time, `HH:MM`.
    pub close: String,
}

/// Business hours as an agent's `business_hours` sets them.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursInput {
    /// IANA time zone (default: the business's).
    #[serde(default)]
    pub timezone: Option<String>,
    /// The days open, of `mon` … `sun` (default: `mon`–`fri`); `[]`: no hours, always
    /// open.
    #[serde(default = "weekdays")]
    pub days: Vec<String>,
    /// Local opening time, `HH:MM` (default `09:00`).
    #[serde(default = "nine")]
    pub open: String,
    /// Local closing time, `HH:MM` (default `17:00`), after `open`.
    #[serde(default = "five")]
    pub close: String,
}

impl BusinessHoursInput {
    /// The hours, or `None` (always open) for `"days": []`.
    pub fn validate(self) -> Result<Option<BusinessHours>, ApiError> {
        if self.days.is_empty() {
            return Ok(None);
        }
        BusinessHours {
            timezone: self.timezone,
            days: self.days,
            open: self.open,
            close: self.close,
        }
        .validate()
        .map(Some)
    }
}

fn weekdays() -> Vec<String> {
    DAYS[..5].iter().map(|d| d.to_string()).collect()
}
fn nine() -> String {
    "09:00".into()
}
fn five() -> String {
    "17:00".into()
}

fn time(param: &str, s: &str) -> Result<NaiveTime, ApiError> {
    NaiveTime::parse_from_str(s, "%H:%M")
        .map_err(|_| ApiError::invalid(param, format!("{param} must be a time as HH:MM")))
}

impl BusinessHours {
    /// Checks the fields (days known, times well formed, open before close, zone known).
    pub fn validate(mut self) -> Result<BusinessHours, ApiError> {
        let param = "business_hours";
        for day in &mut self.days {
            *day = day.trim().to_ascii_lowercase();
            if !DAYS.contains(&day.as_str()) {
                return Err(ApiError::invalid(
                    param,
                    "business_hours.days are of mon, tue, wed, thu, fri, sat, sun",
                ));
            }
        }
        self.days.sort_by_key(|d| DAYS.iter().position(|x| x == d));
        self.days.dedup();
        let (open, close) = (
            time("business_hours.open", &self.open)?,
            time("business_hours.close", &self.close)?,
        );
        if open >= close {
            return Err(ApiError::invalid(
                param,
                "business_hours.open must be before business_hours.close",
            ));
        }
        if let Some(tz) = &self.timezone {
            if tz.parse::<chrono_tz::Tz>().is_err() {
                return Err(ApiError::invalid(
                    param,
                    "business_hours.timezone must be an IANA time zone such as America/Chicago",
                ));
            }
        }
        Ok(self)
    }

    /// Whether the business is open at `now` (in the hours' zone, else `fallback_tz`).
    pub fn is_open(&self, now: Timestamp, fallback_tz: &str) -> bool {
        let zone = self.timezone.as_deref().unwrap_or(fallback_tz);
        let tz: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::UTC);
        let local = now.to_datetime().with_timezone(&tz);
        let day = DAYS[local.weekday().num_days_from_monday() as usize];
        let (Ok(open), Ok(close)) = (time("", &self.open), time("", &self.close)) else {
            return true;
        };
        let t =
            NaiveTime::from_hms_opt(local.hour(), local.minute(), local.second()).unwrap_or(open);
        self.days.iter().any(|d| d == day) && t >= open && t < close
    }
}

/// Out of hours: `take_message` (the default: the call becomes a voicemail) or
/// `transfer` (to a destination that takes calls then).
pub const AFTER_HOURS: [&str; 2] = ["take_message", "transfer"];

/// Where a caller can be handed to a human, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TransferDestination {
    /// E.164.
    pub number: String,
    /// Who answers there ("Front desk").
    pub name: Option<String>,
    /// Only for callers whose reason mentions one of these words (any reason when empty).
    pub reasons: Vec<String>,
    /// `always` or `business_hours` (only while open).
    pub when: String,
}

/// A transfer destination as an agent's `transfer_destinations` sets it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferDestinationInput {
    /// E.164.
    pub number: String,
    /// Who answers there ("Front desk").
    #[serde(default)]
    pub name: Option<String>,
    /// Only for callers whose reason mentions one of these words (any reason when empty).
    #[serde(default)]
    pub reasons: Vec<String>,
    /// `always` (the default) or `business_hours` (only while open).
    #[serde(default = "always")]
    pub when: String,
}

impl TransferDestinationInput {
    pub fn validate(self) -> Result<TransferDestination, ApiError> {
        TransferDestination {
            number: self.number,
            name: self.name,
            reasons: self.reasons,
            when: self.when,
        }
        .validate()
    }
}

fn always() -> String {
    "always".into()
}

impl TransferDestination {
    pub fn validate(mut self) -> Result<TransferDestination, ApiError> {
        let param = "transfer_destinations";
        self.number = crate::phone::E164::parse(&self.number)
            .map_err(|_| {
                ApiError::invalid(
                    param,
                    "transfer_destinations[].number must be an E.164 number",
                )
            })?
            .to_string();
        self.when = self.when.trim().to_ascii_lowercase();
        if self.when != "always" && self.when != "business_hours" {
            return Err(ApiError::invalid(
                param,
                "transfer_destinations[].when must be always or business_hours",
            ));
        }
        self.reasons = self
            .reasons
            .iter()
            .map(|r| r.trim().to_lowercase())
            .filter(|r| !r.is_empty())
            .collect();
        if self.reasons.len() > 20 || self.name.as_ref().is_some_and(|n| n.len() > 200) {
            return Err(ApiError::invalid(
                param,
                "a transfer destination has at most 20 reasons and a name of at most 200 characters",
            ));
        }
        Ok(self)
    }

    /// Whether this destination takes a caller with `reason` now.
    pub fn takes(&self, reason: &str, open: bool) -> bool {
        let reason = reason.to_lowercase();
        (self.when == "always" || open)
            && (self.reasons.is_empty() || self.reasons.iter().any(|r| reason.contains(r)))
    }
}

/// The first destination that takes a caller with `reason` now.
pub fn pick<'a>(
    destinations: &'a [TransferDestination],
    reason: &str,
    open: bool,
) -> Option<&'a TransferDestination> {
    destinations.iter().find(|d| d.takes(reason, open))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_in_the_zone() {
        let hours = BusinessHours {
            timezone: Some("America/Chicago".into()),
            days: weekdays(),
            open: "09:00".into(),
            close: "17:00".into(),
        }
        .validate()
        .unwrap();
        // Tuesday 15:00 UTC = 09:00 CST: open; 23:30 UTC = 17:30 CST: closed.
        assert!(hours.is_open(Timestamp::parse("2026-12-01T15:00:00Z").unwrap(), "UTC"));
        assert!(!hours.is_open(Timestamp::parse("2026-12-01T23:30:00Z").unwrap(), "UTC"));
        // Saturday noon CST: closed.
        assert!(!hours.is_open(Timestamp::parse("2026-12-05T18:00:00Z").unwrap(), "UTC"));
        let bad = BusinessHours {
            open: "18:00".into(),
            ..hours.clone()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn destinations_by_rule() {
        let d = |n: &str, reasons: &[&str], when: &str| TransferDestination {
            number: n.into(),
            name: None,
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            when: when.into(),
        };
        let list = vec![
            d("+15125550101", &["billing"], "business_hours"),
            d("+15125550102", &[], "business_hours"),
            d("+15125550103", &[], "always"),
        ];
        assert_eq!(
            pick(&list, "A billing question", true).unwrap().number,
            "+15125550101"
        );
        assert_eq!(
            pick(&list, "An injury", true).unwrap().number,
            "+15125550102"
        );
        assert_eq!(
            pick(&list, "A billing question", false).unwrap().number,
            "+15125550103"
        );
        assert!(pick(&list[..2], "x", false).is_none());
    }
}
