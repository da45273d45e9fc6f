//! Remembers which caller a token belongs to for a moment, so a busy
//! publisher does not cost one database query per request. Revocation in
//! this process takes effect at once; on other replicas within the TTL.

use super::Caller;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Long enough to absorb request bursts, short enough that a key revoked
/// through another replica stops working almost at once.
const TTL: Duration = Duration::from_secs(2);
/// Beyond this many tokens the cache starts over rather than grow.
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct CallerCache {
    /// By token hash: never the token itself.
    entries: Mutex<HashMap<String, (Caller, Instant)>>,
}

impl CallerCache {
    pub fn get(&self, token_hash: &str) -> Option<Caller> {
        let entries = self.entries.lock().expect("caller cache lock");
        entries
            .get(token_hash)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(caller, _)| caller.clone())
    }

    pub fn put(&self, token_hash: String, caller: Caller) {
        let mut entries = self.entries.lock().expect("caller cache lock");
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(token_hash, (caller, Instant::now()));
    }

    /// Drops every cached token of a revoked key.
    pub fn forget_key(&self, key_id: &str) {
        let mut entries = self.entries.lock().expect("caller cache lock");
        entries.retain(|_, (caller, _)| caller.key_id != key_id);
    }
}
