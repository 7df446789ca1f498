//! Expiry thresholds: when a token's remaining life crosses one of `warn_days`, the channel
//! is warned once for that threshold; past expiry, a critical alert.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The most urgent warning point a token has reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Threshold {
    /// `n` days or fewer remain.
    Days(u32),
    /// The token has expired.
    Expired,
}

impl Threshold {
    /// As stored in the sent-warnings table.
    pub fn key(self) -> String {
        match self {
            Threshold::Days(n) => format!("d{n}"),
            Threshold::Expired => "expired".to_owned(),
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Threshold::Expired => Severity::Critical,
            Threshold::Days(n) if n <= 3 => Severity::Urgent,
            Threshold::Days(n) if n <= 7 => Severity::Warning,
            Threshold::Days(_) => Severity::Notice,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Days(1) => f.write_str("1 day"),
            Threshold::Days(n) => write!(f, "{n} days"),
            Threshold::Expired => f.write_str("expired"),
        }
    }
}

/// How loud a warning is; rendering picks emoji and wording from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    Notice,
    Warning,
    Urgent,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::Urgent => "urgent",
            Severity::Critical => "critical",
        }
    }
}

/// Whole days left before `expires` (negative once expired), counted as a person would:
/// 9 days and 23 hours is "9 days".
pub fn days_left(expires: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    /// Seconds in a day.
    const DAY: i64 = 86_400;
    // Floor, not truncation: two hours after expiry is day -1, not 0, so an alert on
    // "days left < 0" fires at expiry.
    (expires - now).num_seconds().div_euclid(DAY)
}

/// The most urgent threshold reached at `now`, if any. `warn_days` need not be sorted.
pub fn threshold_reached(
    expires: DateTime<Utc>,
    now: DateTime<Utc>,
    warn_days: &[u32],
) -> Option<Threshold> {
    if now >= expires {
        return Some(Threshold::Expired);
    }
    let remaining = expires - now;
    warn_days
        .iter()
        .copied()
        .filter(|&d| remaining <= chrono::Duration::days(i64::from(d)))
        .min()
        .map(Threshold::Days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, day, 9, 0, 0).unwrap()
    }

    #[test]
    fn no_threshold_before_the_first() {
        let expires = at(31) + Duration::days(30);
        assert_eq!(threshold_reached(expires, at(1), &[30, 14, 7]), None);
    }

    #[test]
    fn the_most_urgent_reached_threshold_wins() {
        let expires = at(20);
        let warn = [1, 30, 7, 14, 3];
        assert_eq!(
            threshold_reached(expires, at(20) - Duration::days(30), &warn),
            Some(Threshold::Days(30))
        );
        assert_eq!(
            threshold_reached(expires, at(10), &warn),
            Some(Threshold::Days(14))
        );
        assert_eq!(
            threshold_reached(expires, at(17), &warn),
            Some(Threshold::Days(3))
        );
        assert_eq!(
            threshold_reached(expires, at(19) + Duration::hours(1), &warn),
            Some(Threshold::Days(1))
        );
        assert_eq!(
            threshold_reached(expires, at(20), &warn),
            Some(Threshold::Expired)
        );
    }

    #[test]
    fn severity_rises_as_expiry_nears() {
        assert_eq!(Threshold::Days(30).severity(), Severity::Notice);
        assert_eq!(Threshold::Days(7).severity(), Severity::Warning);
        assert_eq!(Threshold::Days(3).severity(), Severity::Urgent);
        assert_eq!(Threshold::Expired.severity(), Severity::Critical);
    }

    #[test]
    fn days_left_counts_whole_days() {
        assert_eq!(days_left(at(11), at(1) + Duration::hours(1)), 9);
        assert_eq!(days_left(at(1), at(3)), -2);
        assert_eq!(
            days_left(at(1), at(1) + Duration::hours(2)),
            -1,
            "expired is negative at once"
        );
    }
}
