//! Per-key rate limits (SPEC §8): a sliding-window counter per key and request class,
//! held in process. 429 answers carry `Retry-After`, `RateLimit-Policy` and
//! `RateLimit` (draft-ietf-httpapi-ratelimit-headers).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderValue, Method};

use crate::clock::Timestamp;

const WINDOW_MICROS: i64 = 60_000_000;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub calls_per_min: u32,
    pub reads_per_min: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// POST /api/v1/calls.
    Calls,
    /// Every GET (and HEAD).
    Reads,
    /// Other writes: the reference sets no limit, so they share the reads quota in a
    /// bucket of their own.
    Writes,
}

impl Class {
    pub fn of(method: &Method, path: &str) -> Class {
        if method == Method::POST && path.trim_end_matches('/') == "/api/v1/calls" {
            Class::Calls
        } else if method == Method::GET || method == Method::HEAD {
            Class::Reads
        } else {
            Class::Writes
        }
    }

    fn name(self) -> &'static str {
        match self {
            Class::Calls => "calls",
            Class::Reads => "reads",
            Class::Writes => "writes",
        }
    }
}

/// What a check decided, with the numbers for the headers.
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until a request would be allowed again (0 when allowed now).
    pub retry_after_secs: u64,
    /// Seconds until the window has fully replenished.
    pub reset_secs: u64,
    class: Class,
}

impl Decision {
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        let policy = format!("\"{}\";q={};w=60", self.class.name(), self.limit);
        let state = format!(
            "\"{}\";r={};t={}",
            self.class.name(),
            self.remaining,
            self.reset_secs
        );
        if let Ok(v) = HeaderValue::from_str(&policy) {
            headers.insert("ratelimit-policy", v);
        }
        if let Ok(v) = HeaderValue::from_str(&state) {
            headers.insert("ratelimit", v);
        }
    }
}

/// Sliding window: the times of the requests admitted in the last minute.
pub struct RateLimiter {
    limits: Limits,
    windows: Mutex<HashMap<(String, Class), std::collections::VecDeque<i64>>>,
}

impl RateLimiter {
    pub fn new(limits: Limits) -> Self {
        RateLimiter {
            limits,
            windows: Mutex::new(HashMap::new()),
        }
    }

    pub fn check(&self, key_id: &str, class: Class, now: Timestamp) -> Decision {
        let limit = match class {
            Class::Calls => self.limits.calls_per_min,
            Class::Reads | Class::Writes => self.limits.reads_per_min,
        };
        let now = now.micros();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, w| w.back().is_some_and(|t| *t > now - WINDOW_MICROS));
        }
        let window = windows.entry((key_id.to_string(), class)).or_default();
        while window.front().is_some_and(|t| *t <= now - WINDOW_MICROS) {
            window.pop_front();
        }
        let secs_until = |t: i64| ((t + WINDOW_MICROS - now).max(0) as u64).div_ceil(1_000_000);
        let allowed = (window.len() as u32) < limit;
        if allowed {
            window.push_back(now);
        }
        let oldest = window.front().copied().unwrap_or(now);
        let newest = window.back().copied().unwrap_or(now);
        Decision {
            allowed,
            limit,
            remaining: limit.saturating_sub(window.len() as u32),
            retry_after_secs: if allowed {
                0
            } else {
                secs_until(oldest).max(1)
            },
            reset_secs: secs_until(newest),
            class,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixty_first_call_in_a_minute_is_refused_until_the_window_slides() {
        let limiter = RateLimiter::new(Limits {
            calls_per_min: 60,
            reads_per_min: 300,
        });
        let start = Timestamp(1_000_000_000_000);
        for i in 0..60 {
            assert!(
                limiter
                    .check("k", Class::Calls, Timestamp(start.0 + i * 1000))
                    .allowed
            );
        }
        let refused = limiter.check("k", Class::Calls, Timestamp(start.0 + 500_000));
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.retry_after_secs, 60);
        // Another key and another class are unaffected.
        assert!(limiter.check("other", Class::Calls, start).allowed);
        assert!(limiter.check("k", Class::Reads, start).allowed);
        // A minute after the first request, one slot is free again.
        assert!(
            limiter
                .check("k", Class::Calls, Timestamp(start.0 + 60_000_001))
                .allowed
        );
    }

    #[test]
    fn classes() {
        assert_eq!(Class::of(&Method::POST, "/api/v1/calls"), Class::Calls);
        assert_eq!(Class::of(&Method::GET, "/api/v1/calls"), Class::Reads);
        assert_eq!(Class::of(&Method::POST, "/api/v1/calls/end"), Class::Writes);
    }
}
