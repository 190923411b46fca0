//! Time is injected: everything that needs "now" asks a [`Clock`], so timers, retries
//! and `time_of_day` can be tested deterministically.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Microseconds since the Unix epoch. Stored as BIGINT in both databases, so ordering
/// and comparisons are plain integer comparisons on every backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn micros(self) -> i64 {
        self.0
    }

    pub fn plus_secs_f64(self, secs: f64) -> Timestamp {
        Timestamp(self.0 + (secs * 1_000_000.0).round() as i64)
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_micros(self.0).single().unwrap_or_default()
    }

    /// RFC 3339 in UTC with microseconds: sub-second precision makes `created_at` usable
    /// as a pagination cursor even when many rows share a second.
    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    /// Accepts RFC 3339 timestamps and plain dates (`2026-02-15`, midnight UTC).
    pub fn parse(input: &str) -> Option<Timestamp> {
        let input = input.trim();
        if let Ok(dt) = DateTime::parse_from_rfc3339(input) {
            return Some(Timestamp(dt.with_timezone(&Utc).timestamp_micros()));
        }
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(input, "%Y-%m-%dT%H:%M:%S%.f") {
            return Some(Timestamp(dt.and_utc().timestamp_micros()));
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(input, "%Y-%m-%d") {
            return Some(Timestamp(
                d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros(),
            ));
        }
        None
    }
}

pub trait Clock: Send + Sync + 'static {
    /// The current time. Successive calls on one clock never return the same value, so
    /// two rows created by one process never share a `created_at`.
    fn now(&self) -> Timestamp;
}

pub type SharedClock = Arc<dyn Clock>;

/// Wall-clock time, made strictly increasing per process.
#[derive(Default)]
pub struct SystemClock {
    last: AtomicI64,
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let wall = Utc::now().timestamp_micros();
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let next = wall.max(prev + 1);
            match self
                .last
                .compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Timestamp(next),
                Err(actual) => prev = actual,
            }
        }
    }
}

/// A clock that only moves when told to; for tests.
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            now: AtomicI64::new(start.0),
        }
    }

    pub fn advance_secs(&self, secs: i64) {
        self.now.fetch_add(secs * 1_000_000, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.now.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

/// On the wire a timestamp is an RFC 3339 string in UTC with microseconds.
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl schemars::JsonSchema for Timestamp {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "date-time" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_strictly_increasing() {
        let clock = SystemClock::default();
        let mut prev = clock.now();
        for _ in 0..10_000 {
            let next = clock.now();
            assert!(next > prev);
            prev = next;
        }
    }

    #[test]
    fn rfc3339_round_trips_with_microseconds() {
        let ts = Timestamp(1_771_165_800_123_456);
        let text = ts.to_rfc3339();
        assert_eq!(text, "2026-02-15T14:30:00.123456Z");
        assert_eq!(Timestamp::parse(&text), Some(ts));
        assert_eq!(
            Timestamp::parse("2026-02-15"),
            Some(Timestamp(1_771_113_600_000_000))
        );
        assert_eq!(Timestamp::parse("yesterday"), None);
    }
}
