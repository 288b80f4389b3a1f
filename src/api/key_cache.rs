//! A short-lived cache of API key lookups. Every TCP request needs its key checked; going to
//! SQLite each time costs a blocking-pool hop and, under write load, a cold page cache. Only
//! keys that were found are cached, so a key made by `otpd key create` works at once (a miss
//! always asks the database); a revoked key keeps working for at most [`TTL`].

use crate::store::{Readers, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const TTL: Duration = Duration::from_secs(2);
/// Entries kept at most; the cache is emptied when full (keys are few in practice).
const CAPACITY: usize = 10_000;

/// An active key's app and secret hash, and when they were read.
struct Entry {
    appid: String,
    secret_hash: Vec<u8>,
    read_at: Instant,
}

#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl KeyCache {
    /// The app and secret hash of an active key.
    pub async fn lookup(
        &self,
        readers: &Readers,
        key: &str,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let now = Instant::now();
        if let Ok(entries) = self.entries.lock()
            && let Some(e) = entries.get(key)
            && now.duration_since(e.read_at) < TTL
        {
            return Ok(Some((e.appid.clone(), e.secret_hash.clone())));
        }
        let found = readers.active_api_key(key.to_string()).await?;
        if let Ok(mut entries) = self.entries.lock() {
            match &found {
                Some((appid, hash)) => {
                    if entries.len() >= CAPACITY {
                        entries.clear();
                    }
                    let entry = Entry {
                        appid: appid.clone(),
                        secret_hash: hash.clone(),
                        read_at: now,
                    };
                    entries.insert(key.to_string(), entry);
                }
                None => {
                    entries.remove(key);
                }
            }
        }
        Ok(found)
    }
}
