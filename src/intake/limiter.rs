//! Rate limit on unknown link codes, per client address, in bounded memory.
//!
//! Codes are 128 random bits, so guessing is hopeless anyway; the limit keeps a scanner from
//! filling logs and the audit log. An address that presented too many unknown codes within a
//! window gets 429 instead of 404 for unknown codes until the window ends. A known code is
//! always served: behind a TLS proxy every browser shares the proxy's address, and a scanner
//! must not lock the leads out of their links (the code itself is the credential; telling a
//! hit from a miss helps no one who cannot guess 128 bits).
//!
//! IPv6 addresses count per /64 (one host usually holds the whole prefix). At most
//! [`MAX_ADDRESSES`] addresses are tracked; past that the least recently seen is forgotten.

use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::net::IpAddr;

/// Unknown codes an address may present per window: a person mistyping a link a few times
/// stays well under it.
pub const UNKNOWN_PER_WINDOW: u32 = 10;

/// The window: a minute.
pub const WINDOW: Duration = Duration::minutes(1);

/// Addresses tracked at once; at a few dozen bytes each, well under a megabyte.
pub const MAX_ADDRESSES: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    V4(u32),
    V6Prefix(u64),
}

fn key(address: IpAddr) -> Key {
    match address {
        IpAddr::V4(v4) => Key::V4(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Key::V4(u32::from(v4)),
            None => Key::V6Prefix((u128::from(v6) >> 64) as u64),
        },
    }
}

struct Entry {
    window_start: DateTime<Utc>,
    unknown: u32,
    last_seen: DateTime<Utc>,
}

#[derive(Default)]
pub struct Limiter {
    entries: HashMap<Key, Entry>,
}

impl Limiter {
    /// Whether `address` is refused now (too many unknown codes in its current window).
    pub fn blocked(&self, address: IpAddr, now: DateTime<Utc>) -> bool {
        self.entries.get(&key(address)).is_some_and(|entry| {
            now < entry.window_start + WINDOW && entry.unknown >= UNKNOWN_PER_WINDOW
        })
    }

    /// Counts an unknown code from `address`.
    pub fn record_unknown(&mut self, address: IpAddr, now: DateTime<Utc>) {
        let key = key(address);
        if !self.entries.contains_key(&key) && self.entries.len() >= MAX_ADDRESSES {
            self.entries
                .retain(|_, entry| now < entry.window_start + WINDOW);
            if self.entries.len() >= MAX_ADDRESSES
                && let Some(oldest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, entry)| entry.last_seen)
                    .map(|(key, _)| *key)
            {
                self.entries.remove(&oldest);
            }
        }
        let entry = self.entries.entry(key).or_insert(Entry {
            window_start: now,
            unknown: 0,
            last_seen: now,
        });
        if now >= entry.window_start + WINDOW {
            entry.window_start = now;
            entry.unknown = 0;
        }
        entry.unknown = entry.unknown.saturating_add(1);
        entry.last_seen = now;
    }

    /// Addresses tracked now.
    pub fn tracked(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 2, 1, 9, 0, 0).unwrap()
    }

    #[test]
    fn an_address_is_blocked_after_too_many_unknown_codes_until_the_window_ends() {
        let mut limiter = Limiter::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..UNKNOWN_PER_WINDOW {
            assert!(!limiter.blocked(a, now()));
            limiter.record_unknown(a, now());
        }
        assert!(limiter.blocked(a, now()));
        assert!(
            !limiter.blocked(b, now()),
            "another address is not affected"
        );
        assert!(
            !limiter.blocked(a, now() + WINDOW),
            "the next window starts afresh"
        );
        limiter.record_unknown(a, now() + WINDOW);
        assert!(!limiter.blocked(a, now() + WINDOW));
    }

    #[test]
    fn ipv6_counts_per_64_prefix() {
        let mut limiter = Limiter::default();
        for host in 0..UNKNOWN_PER_WINDOW {
            let address: IpAddr = format!("2001:db8::{host:x}").parse().unwrap();
            limiter.record_unknown(address, now());
        }
        assert!(limiter.blocked("2001:db8::ffff".parse().unwrap(), now()));
        assert!(!limiter.blocked("2001:db8:0:1::1".parse().unwrap(), now()));
    }

    #[test]
    fn memory_stays_bounded_under_many_addresses() {
        let mut limiter = Limiter::default();
        for n in 0..(MAX_ADDRESSES as u32 * 2) {
            let address = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            limiter.record_unknown(address, now());
        }
        assert_eq!(limiter.tracked(), MAX_ADDRESSES);
    }
}
