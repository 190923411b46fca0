//! Automatic context enrichment (the reference's table): the variables a call carries
//! to the provider, computed at dial time and stored on the call as `variables`.

use chrono::Timelike;
use serde_json::{json, Value};

use crate::clock::Timestamp;
use crate::leads::{first_word, Lead};
use crate::tenancy::Business;

/// "morning" (05:00–11:59), "afternoon" (12:00–16:59) or "evening", in the business's
/// time zone (UTC when the zone is unknown).
pub fn time_of_day(now: Timestamp, timezone: &str) -> &'static str {
    let utc = now.to_datetime();
    let hour = match timezone.parse::<chrono_tz::Tz>() {
        Ok(tz) => utc.with_timezone(&tz).hour(),
        Err(_) => utc.hour(),
    };
    match hour {
        5..=11 => "morning",
        12..=16 => "afternoon",
        _ => "evening",
    }
}

/// All nine variables, `null` where nothing is known (no lead, no name).
pub fn variables(
    name_param: Option<&str>,
    lead: Option<&Lead>,
    business: &Business,
    now: Timestamp,
) -> Value {
    let name = first_word(name_param).or_else(|| lead.and_then(Lead::display_first_name));
    let days = lead.map(|l| (now.micros() - l.created_at.micros()).max(0) / 86_400_000_000);
    json!({
        "name": name,
        "lead_score": lead.and_then(|l| l.score),
        "lead_status": lead.map(|l| l.status.clone()),
        "interaction_count": lead.map(|l| l.interaction_count).unwrap_or(0),
        "days_since_first_contact": days,
        "lead_source": lead.and_then(|l| l.source.clone()),
        "business_name": business.name,
        "business_phone": business.phone,
        "time_of_day": time_of_day(now, &business.timezone),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn business(tz: &str) -> Business {
        Business {
            id: "b".into(),
            name: "Smith Law".into(),
            phone: Some("+15125550100".into()),
            timezone: tz.into(),
            subscription_status: "active".into(),
            included_minutes: 1000,
            webhook_secret: "whsec_x".into(),
            created_at: Timestamp(0),
        }
    }

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    #[test]
    fn time_of_day_uses_the_business_zone() {
        // 15:00 UTC is 09:00 in Chicago (CST), 15:00 in London, 00:00 in Tokyo.
        let now = at("2026-01-15T15:00:00Z");
        assert_eq!(time_of_day(now, "America/Chicago"), "morning");
        assert_eq!(time_of_day(now, "Europe/London"), "afternoon");
        assert_eq!(time_of_day(now, "Asia/Tokyo"), "evening");
        assert_eq!(time_of_day(now, "Not/AZone"), "afternoon");
    }

    #[test]
    fn lead_variables() {
        let now = at("2026-02-15T20:00:00Z");
        let lead = Lead {
            id: "l".into(),
            business_id: "b".into(),
            agent_id: None,
            name: Some("John Smith".into()),
            first_name: None,
            last_name: None,
            phone: Some("+15125559876".into()),
            email: None,
            status: "qualified".into(),
            source: Some("referral".into()),
            score: Some(87),
            notes: None,
            metadata: json!({}),
            interaction_count: 3,
            created_at: at("2026-02-05T21:00:00Z"),
            updated_at: now,
        };
        let v = variables(None, Some(&lead), &business("America/Chicago"), now);
        assert_eq!(
            v,
            json!({
                "name": "John", "lead_score": 87, "lead_status": "qualified",
                "interaction_count": 3, "days_since_first_contact": 9,
                "lead_source": "referral", "business_name": "Smith Law",
                "business_phone": "+15125550100", "time_of_day": "afternoon"
            })
        );
        // The name parameter wins over the CRM's.
        let v = variables(Some("Johnny B"), Some(&lead), &business("UTC"), now);
        assert_eq!(v["name"], "Johnny");
        assert_eq!(v["time_of_day"], "evening");
    }

    #[test]
    fn without_a_lead_only_business_and_name_are_known() {
        let v = variables(
            Some("Ann"),
            None,
            &business("UTC"),
            at("2026-02-15T08:00:00Z"),
        );
        assert_eq!(v["name"], "Ann");
        assert_eq!(v["lead_score"], Value::Null);
        assert_eq!(v["interaction_count"], 0);
        assert_eq!(v["time_of_day"], "morning");
        assert_eq!(v.as_object().unwrap().len(), 9);
    }
}
