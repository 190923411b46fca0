//! API keys resolved from memory: a key-authenticated request costs no database read
//! while its key is cached.
//!
//! An entry holds the key's row and its user's memberships as read at one key epoch
//! (`wake::keys_epoch`). Revoking a key bumps the epoch here at once; another
//! instance's revocation bumps it through PostgreSQL `LISTEN` within milliseconds,
//! and while that connection is down nothing cached is trusted
//! (`wake::hears_every_change`). Entries also expire after `TTL`, which bounds how
//! long a membership change takes to be seen. Revocation and expiry are checked on
//! the entry at every request, and the presented key is still compared with the
//! stored hash in constant time (`auth::middleware::resolve_key`). Unknown keys are
//! never cached.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::clock::Timestamp;
use crate::keys::KeyRecord;

const TTL: Duration = Duration::from_secs(10);
const MAX_ENTRIES: usize = 100_000;

#[derive(Clone)]
pub struct CachedKey {
    pub record: KeyRecord,
    /// The businesses of the key's user, as read with the record.
    pub memberships: Vec<String>,
}

struct Entry {
    key: CachedKey,
    epoch: u64,
    loaded: Instant,
}

#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl KeyCache {
    /// The key whose SHA-256 is `hash`, if cached and still current.
    pub fn get(&self, hash: &str) -> Option<CachedKey> {
        if !crate::wake::hears_every_change() {
            return None;
        }
        let epoch = crate::wake::keys_epoch();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(hash)?;
        (entry.epoch == epoch && entry.loaded.elapsed() < TTL).then(|| entry.key.clone())
    }

    /// Caches what was read at `epoch` (taken before the read, so a change during it
    /// leaves the entry stale rather than wrong).
    pub fn put(&self, hash: &str, key: CachedKey, epoch: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            let current = crate::wake::keys_epoch();
            entries.retain(|_, e| e.epoch == current && e.loaded.elapsed() < TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            hash.to_string(),
            Entry {
                key,
                epoch,
                loaded: Instant::now(),
            },
        );
    }

    /// Records that the key's `last_used_at` was just written.
    pub fn touched(&self, hash: &str, now: Timestamp) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = entries.get_mut(hash) {
            entry.key.record.last_used_at = Some(now);
        }
    }
}
