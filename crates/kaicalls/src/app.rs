//! The application state shared by every request handler and the worker.

use std::sync::Arc;

use crate::auth::sessions::LoginThrottle;
use crate::calls::engine::Engine;
use crate::clock::SharedClock;
use crate::http::rate_limit::RateLimiter;
use crate::recordings::links::RecordingLinks;
use crate::recordings::RecordingStore;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub clock: SharedClock,
    pub engine: Arc<Engine>,
    pub limiter: Arc<RateLimiter>,
    /// Resolved API keys (`auth::key_cache`).
    pub key_cache: Arc<crate::auth::key_cache::KeyCache>,
    pub login_throttle: Arc<LoginThrottle>,
    pub links: RecordingLinks,
    pub recordings: RecordingStore,
    /// The server's own origin, e.g. `http://127.0.0.1:8080` (recording URLs, CSRF).
    pub public_url: Arc<str>,
    /// `KAICALLS_ALLOW_PRIVATE_WEBHOOKS`: live-mode webhooks may target private
    /// addresses (local development).
    pub allow_private_webhooks: bool,
    /// How long an `Idempotency-Key` claim is held by its request
    /// (`calls::idempotency`).
    pub idempotency_lease_secs: f64,
    /// `/api/mcp`'s hosts and origins, and OAuth token lifetimes.
    pub mcp: Arc<crate::mcp::http::Settings>,
    /// The live event stream's reader, shared by every open stream.
    pub events: Arc<crate::events::stream::Hub>,
}

impl AppState {
    /// Refuses, at the moment it is given, a live-mode webhook URL whose host is a
    /// private, loopback, link-local or otherwise non-public IP literal.
    pub fn check_webhook_target(
        &self,
        mode: crate::auth::api_key::Mode,
        param: &str,
        url: &str,
    ) -> Result<(), crate::error::ApiError> {
        if mode != crate::auth::api_key::Mode::Live || self.allow_private_webhooks {
            return Ok(());
        }
        match crate::webhooks::ssrf::refused_literal(url) {
            Some(why) => Err(crate::error::ApiError::invalid(
                param,
                format!("{param} must reach a public address: {why}"),
            )),
            None => Ok(()),
        }
    }

    /// True when cookies must carry `Secure` (the server is reached over HTTPS).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}
