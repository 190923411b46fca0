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
    pub login_throttle: Arc<LoginThrottle>,
    pub links: RecordingLinks,
    pub recordings: RecordingStore,
    /// The server's own origin, e.g. `http://127.0.0.1:8080` (recording URLs, CSRF).
    pub public_url: Arc<str>,
}

impl AppState {
    /// True when cookies must carry `Secure` (the server is reached over HTTPS).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}
