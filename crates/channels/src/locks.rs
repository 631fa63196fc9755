//! In-process locks by key: changes to one post's, channel's or comment's counters are
//! decided one at a time, so they are exact without retries under contention.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// Keys whose locks are remembered before the map is swept of unused ones.
const REMEMBERED_MAX: usize = 4_096;

/// One async lock per key, forgotten when nobody holds or waits for it.
#[derive(Debug, Default)]
pub(crate) struct KeyedLocks(Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>);

impl KeyedLocks {
    /// Waits for the lock of `key`.
    pub(crate) async fn lock(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(lock) = map.get(key).and_then(Weak::upgrade) {
                lock
            } else {
                if map.len() >= REMEMBERED_MAX {
                    map.retain(|_, lock| lock.strong_count() > 0);
                }
                let lock = Arc::new(tokio::sync::Mutex::new(()));
                map.insert(key.to_owned(), Arc::downgrade(&lock));
                lock
            }
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_per_key_and_other_keys_are_free() {
        let locks = Arc::new(KeyedLocks::default());
        let held = locks.lock("a").await;
        let other = tokio::time::timeout(std::time::Duration::from_secs(5), locks.lock("b")).await;
        assert!(other.is_ok(), "another key is free");
        let waiting = {
            let locks = locks.clone();
            tokio::spawn(async move { drop(locks.lock("a").await) })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(held);
        // The waiting task only takes and drops the lock; a panic or timeout there is the failure under test.
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
    }
}
