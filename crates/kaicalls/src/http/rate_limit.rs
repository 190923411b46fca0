//! Per-key rate limits (SPEC §8): a sliding window per key and request class — at
//! most `limit` requests admitted in any 60 s. Held in process by default; with
//! `KAICALLS_REDIS_URL`, held in Redis and shared by every instance (one Lua script
//! per check, atomic: `SLIDING_WINDOW`), so N instances admit what one would. If
//! Redis does not answer, the instance falls back to its own window (logged) rather
//! than refusing every request. 429 answers carry `Retry-After`, `RateLimit-Policy`
//! and `RateLimit` (draft-ietf-httpapi-ratelimit-headers).

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
    /// With `KAICALLS_REDIS_URL`: the connection and the script (hashed once).
    redis: Option<(redis::aio::ConnectionManager, redis::Script)>,
}

/// The window in Redis: a sorted set of admitted requests' times per key and class.
/// KEYS[1] the set; ARGV: now (µs), window (µs), limit, a unique member. Returns
/// {admitted 0|1, requests in the window, oldest, newest}.
const SLIDING_WINDOW: &str = r#"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local admitted = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  count = count + 1
  admitted = 1
end
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2] or ARGV[1]
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2] or ARGV[1]
return {admitted, count, tostring(oldest), tostring(newest)}
"#;

impl RateLimiter {
    pub fn new(limits: Limits) -> Self {
        RateLimiter {
            limits,
            windows: Mutex::new(HashMap::new()),
            redis: None,
        }
    }

    /// Shares the windows through Redis at `url` (connects now, reconnects itself).
    pub async fn with_redis(mut self, url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("invalid KAICALLS_REDIS_URL: {e}"))?;
        let manager = redis::aio::ConnectionManager::new(client)
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to Redis: {e}"))?;
        self.redis = Some((manager, redis::Script::new(SLIDING_WINDOW)));
        Ok(self)
    }

    fn limit(&self, class: Class) -> u32 {
        match class {
            Class::Calls => self.limits.calls_per_min,
            Class::Reads | Class::Writes => self.limits.reads_per_min,
        }
    }

    pub async fn check(&self, key_id: &str, class: Class, now: Timestamp) -> Decision {
        if let Some((redis, script)) = &self.redis {
            match self
                .check_redis(redis.clone(), script, key_id, class, now)
                .await
            {
                Ok(decision) => return decision,
                Err(err) => {
                    tracing::error!(error = %err, "rate limit: Redis did not answer; using this instance's window");
                }
            }
        }
        self.check_local(key_id, class, now)
    }

    async fn check_redis(
        &self,
        mut redis: redis::aio::ConnectionManager,
        script: &redis::Script,
        key_id: &str,
        class: Class,
        now: Timestamp,
    ) -> redis::RedisResult<Decision> {
        let limit = self.limit(class);
        let now = now.micros();
        let member = format!("{now}-{}", crate::ids::random_base62(8));
        let (admitted, count, oldest, newest): (i64, i64, String, String) = script
            .key(format!("kaicalls:ratelimit:{}:{key_id}", class.name()))
            .arg(now)
            .arg(WINDOW_MICROS)
            .arg(limit)
            .arg(member)
            .invoke_async(&mut redis)
            .await?;
        let micros = |s: &str| s.parse::<f64>().map_or(now, |v| v as i64);
        Ok(decide(
            class,
            limit,
            now,
            admitted == 1,
            count as usize,
            micros(&oldest),
            micros(&newest),
        ))
    }

    /// The in-process window.
    pub fn check_local(&self, key_id: &str, class: Class, now: Timestamp) -> Decision {
        let limit = self.limit(class);
        let now = now.micros();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, w| w.back().is_some_and(|t| *t > now - WINDOW_MICROS));
        }
        let window = windows.entry((key_id.to_string(), class)).or_default();
        while window.front().is_some_and(|t| *t <= now - WINDOW_MICROS) {
            window.pop_front();
        }
        let allowed = (window.len() as u32) < limit;
        if allowed {
            window.push_back(now);
        }
        let oldest = window.front().copied().unwrap_or(now);
        let newest = window.back().copied().unwrap_or(now);
        decide(class, limit, now, allowed, window.len(), oldest, newest)
    }
}

/// The decision and its headers' numbers, from the window after the check: `count`
/// requests in it, the oldest and newest at these times (µs).
fn decide(
    class: Class,
    limit: u32,
    now: i64,
    allowed: bool,
    count: usize,
    oldest: i64,
    newest: i64,
) -> Decision {
    let secs_until = |t: i64| ((t + WINDOW_MICROS - now).max(0) as u64).div_ceil(1_000_000);
    Decision {
        allowed,
        limit,
        remaining: limit.saturating_sub(count as u32),
        retry_after_secs: if allowed {
            0
        } else {
            secs_until(oldest).max(1)
        },
        reset_secs: secs_until(newest),
        class,
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
                    .check_local("k", Class::Calls, Timestamp(start.0 + i * 1000))
                    .allowed
            );
        }
        let refused = limiter.check_local("k", Class::Calls, Timestamp(start.0 + 500_000));
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.retry_after_secs, 60);
        // Another key and another class are unaffected.
        assert!(limiter.check_local("other", Class::Calls, start).allowed);
        assert!(limiter.check_local("k", Class::Reads, start).allowed);
        // A minute after the first request, one slot is free again.
        assert!(
            limiter
                .check_local("k", Class::Calls, Timestamp(start.0 + 60_000_001))
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
