//! Replay protection for signed HTTP requests: a request with a valid signature is accepted
//! at most once while its timestamp is inside the signature window.
//!
//! The signature check alone refuses a captured request only once its timestamp is more
//! than [`MAX_CLOCK_SKEW_SECS`] old; within those five minutes it could be sent again (a
//! *Start rotation* replayed after the rotation was cancelled started a new one). Slack
//! never sends the same signed request twice: its retries are signed afresh with a new
//! timestamp (and events are de-duplicated by `event_id` as well).
//!
//! Memory is bounded: an entry is kept until its timestamp leaves the window, and at most
//! [`MAX_REMEMBERED`] entries are held. Only requests with a valid signature are
//! remembered, so filling the table takes Slack's own traffic (or the signing secret);
//! when it is full of live entries the guard refuses rather than forget (fail closed).

use super::signature::MAX_CLOCK_SKEW_SECS;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// How many accepted requests are remembered at once: 65 536 × ~80 bytes ≈ 5 MiB, and over
/// 200 requests per second sustained for five minutes, far above what one workspace's
/// Slack sends a bot.
pub const MAX_REMEMBERED: usize = 65_536;

/// Why a signed request is not accepted again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayRefusal {
    #[error("this signed request was already accepted (replay)")]
    Replayed,
    #[error("too many signed requests in the last five minutes; try again shortly")]
    Full,
}

type Key = [u8; 32];

#[derive(Default)]
struct Seen {
    keys: HashSet<Key>,
    /// Insertion order with each entry's end of window (unix seconds).
    order: VecDeque<(i64, Key)>,
}

/// Remembers the signed requests accepted within the window.
pub struct ReplayGuard {
    seen: Mutex<Seen>,
    capacity: usize,
}

impl Default for ReplayGuard {
    fn default() -> Self {
        ReplayGuard::with_capacity(MAX_REMEMBERED)
    }
}

impl ReplayGuard {
    pub fn with_capacity(capacity: usize) -> Self {
        ReplayGuard {
            seen: Mutex::new(Seen::default()),
            capacity,
        }
    }

    /// Records the request signed `signature` at `timestamp` (already verified) as accepted
    /// at `now`; refuses it when it was accepted before.
    pub fn first_use(
        &self,
        timestamp: i64,
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ReplayRefusal> {
        let key: Key = Sha256::new()
            .chain_update(timestamp.to_be_bytes())
            .chain_update(signature.trim().as_bytes())
            .finalize()
            .into();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let now = now.timestamp();
        // Forget what has left the window: those would be refused as stale anyway.
        while let Some(&(until, old)) = seen.order.front() {
            if until >= now {
                break;
            }
            seen.order.pop_front();
            seen.keys.remove(&old);
        }
        if seen.keys.contains(&key) {
            return Err(ReplayRefusal::Replayed);
        }
        if seen.keys.len() >= self.capacity {
            return Err(ReplayRefusal::Full);
        }
        seen.keys.insert(key);
        seen.order
            .push_back((timestamp.saturating_add(MAX_CLOCK_SKEW_SECS), key));
        Ok(())
    }

    /// How many requests are remembered now.
    pub fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    #[test]
    fn a_signed_request_is_accepted_once_within_the_window() {
        let guard = ReplayGuard::default();
        assert_eq!(guard.first_use(1000, "v0=aa", at(1000)), Ok(()));
        assert_eq!(
            guard.first_use(1000, "v0=aa", at(1200)),
            Err(ReplayRefusal::Replayed)
        );
        assert_eq!(guard.first_use(1000, "v0=bb", at(1200)), Ok(()));
        assert_eq!(guard.first_use(1001, "v0=aa", at(1200)), Ok(()));
    }

    #[test]
    fn memory_is_bounded_and_expired_entries_are_forgotten() {
        let guard = ReplayGuard::with_capacity(3);
        for n in 0..3 {
            guard.first_use(1000, &format!("v0={n}"), at(1000)).unwrap();
        }
        assert_eq!(
            guard.first_use(1000, "v0=3", at(1000)),
            Err(ReplayRefusal::Full),
            "a full table refuses rather than forgets"
        );
        // Once the window of those three has passed, they are dropped.
        assert_eq!(guard.first_use(1400, "v0=3", at(1301)), Ok(()));
        assert_eq!(guard.len(), 1);
    }
}
