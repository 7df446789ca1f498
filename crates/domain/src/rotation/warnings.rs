//! Which expiry warning, if any, is due for a token: the decision the sweep acts on.
//!
//! Pure: from what is known of the token, the warnings already sent about it, whether a
//! rotation is open, the time and the configured thresholds, it says what to post and under
//! which key the store records it. The key is what makes a warning "once": the sweep claims
//! it in the store before posting, so a restart, a crash or a second sweep running beside
//! the first never posts the same key twice.
//!
//! A token's *cycle* is its life from the first warning to its replacement. The first
//! warning of a cycle is a new channel message; every later one updates that message and
//! replies in its thread, so the channel sees one message per token per year.

use super::expiry::{Severity, Threshold, threshold_reached};
use super::token::TokenRecord;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::fmt;

/// At this many days left or fewer (and once expired) the warning mentions the approvers:
/// early warnings stay quiet, the last ones must reach a person who can act today.
pub const MENTION_AT_DAYS: u32 = 3;

/// Key of the one warning about a token whose expiry is unknown.
pub const UNKNOWN_EXPIRY_KEY: &str = "unknown";

/// Prefix of the daily critical warnings' keys, `expired:YYYY-MM-DD`.
pub const EXPIRED_KEY_PREFIX: &str = "expired:";

/// What a warning is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WarningKind {
    /// A threshold of `warn_days` was crossed: so many days or fewer are left.
    DaysLeft(u32),
    /// The token has expired. One per day, `day` being the first day of the 24 hours it
    /// covers (the expiry day, the day after, …), so the repeats come 24 hours apart.
    Expired { day: NaiveDate },
    /// Nobody knows when the token expires (or no token is recorded at all).
    UnknownExpiry,
}

impl WarningKind {
    /// The threshold the renderers take; `None` for an unknown expiry.
    pub fn threshold(self) -> Option<Threshold> {
        match self {
            WarningKind::DaysLeft(days) => Some(Threshold::Days(days)),
            WarningKind::Expired { .. } => Some(Threshold::Expired),
            WarningKind::UnknownExpiry => None,
        }
    }

    /// How loud it is; an unknown expiry is a notice (it is not known to be near).
    pub fn severity(self) -> Severity {
        self.threshold()
            .map_or(Severity::Notice, Threshold::severity)
    }

    /// The key the store records it under, once per token: `d30` … `d1` (as
    /// [`Threshold::key`]), `expired:YYYY-MM-DD`, `unknown`.
    pub fn key(self) -> String {
        match self {
            WarningKind::DaysLeft(days) => Threshold::Days(days).key(),
            WarningKind::Expired { day } => format!("{EXPIRED_KEY_PREFIX}{day}"),
            WarningKind::UnknownExpiry => UNKNOWN_EXPIRY_KEY.to_owned(),
        }
    }
}

/// Where the warning goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The first warning of the cycle: a new message in the channel.
    NewMessage,
    /// A later one: update the cycle's first message and reply in its thread.
    InThread,
    /// An urgent or critical one while a rotation is open: a reply in the rotation's
    /// thread, where the people who can act are looking.
    RotationThread,
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Placement::NewMessage => "new message",
            Placement::InThread => "reply in thread",
            Placement::RotationThread => "reply in the rotation's thread",
        })
    }
}

/// A warning to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueWarning {
    pub kind: WarningKind,
    /// The key to claim in the store (see [`WarningKind::key`]).
    pub key: String,
    pub placement: Placement,
    /// Whether the approvers (users and groups) are mentioned.
    pub mention: bool,
}

/// What the decision needs to know.
#[derive(Clone, Copy, Debug)]
pub struct WarningInput<'a> {
    /// The connection's current token; `None` when none is recorded.
    pub token: Option<&'a TokenRecord>,
    /// Keys of the warnings already claimed for this token.
    pub sent: &'a [String],
    /// Whether a warning of this cycle was posted and its message is known: later warnings
    /// then go in its thread.
    pub thread_exists: bool,
    /// Whether a rotation of the connection is in flight: only urgent and critical warnings
    /// go out, into its thread.
    pub rotation_open: bool,
    /// Whether that rotation already put a verified new token into Entra (it waits only for
    /// the old token's deletion): the token warned about is no longer in use, so nothing,
    /// not even its expiry, is worth a warning.
    pub token_replaced: bool,
    pub now: DateTime<Utc>,
    /// The configured thresholds, in days (any order).
    pub warn_days: &'a [u32],
}

/// After a token's expiry date moved, the warnings already claimed for it that are not due
/// under the new date (`d14` when 40 days are left now, `expired:…` before expiry): giving
/// them back lets each be sent again when it is really due. `unknown` is kept.
pub fn not_due_under(sent: &[String], expires: DateTime<Utc>, now: DateTime<Utc>) -> Vec<String> {
    sent.iter()
        .filter(|key| {
            if let Some(days) = key.strip_prefix('d').and_then(|n| n.parse::<i64>().ok()) {
                expires - now > chrono::Duration::days(days)
            } else {
                key.starts_with("expired:") && now < expires
            }
        })
        .cloned()
        .collect()
}

/// The warning due now, if any. At most one is ever due: the most urgent threshold reached
/// (thresholds skipped while the bot was down, or by a late registration, are not sent
/// after the fact), today's critical repeat once expired, or the unknown-expiry notice.
pub fn due_warning(input: &WarningInput<'_>) -> Option<DueWarning> {
    let kind = match input.token.and_then(|t| t.expires_at) {
        None => WarningKind::UnknownExpiry,
        Some(expires) => match threshold_reached(expires, input.now, input.warn_days)? {
            Threshold::Days(days) => WarningKind::DaysLeft(days),
            Threshold::Expired => WarningKind::Expired {
                day: expired_day(expires, input.now),
            },
        },
    };
    if input.token_replaced {
        return None;
    }
    if input.rotation_open && kind.severity() < Severity::Urgent {
        // The rotation's own thread is where people look now, and its stall reminders
        // nudge them; an early warning helps nobody. Nothing is recorded, so if the
        // rotation is called off the warning still comes.
        return None;
    }
    let key = kind.key();
    if input.sent.contains(&key) {
        return None;
    }
    let mention = match kind {
        WarningKind::DaysLeft(days) => days <= MENTION_AT_DAYS,
        WarningKind::Expired { .. } => true,
        WarningKind::UnknownExpiry => false,
    };
    let placement = if input.rotation_open {
        Placement::RotationThread
    } else if input.thread_exists {
        Placement::InThread
    } else {
        Placement::NewMessage
    };
    Some(DueWarning {
        kind,
        key,
        placement,
        mention: mention || input.rotation_open,
    })
}

/// Reminders about one stall (the same rotation version) stop after this many: the first
/// nudges whoever must act, the next ones all approvers; beyond that the expiry warnings,
/// which come into the rotation's thread once urgent, carry on.
pub const MAX_STALL_REMINDERS: u32 = 3;

/// Prefix of stall reminders' keys, `stall:<rotation>:<version>:<n>`: claimed in the same
/// table as the warnings, so that a restart or a second sweep never reminds twice.
pub const STALL_KEY_PREFIX: &str = "stall:";

/// Whom a stall reminder mentions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Every approver (users and groups): nobody has taken the rotation on yet, or the
    /// one who did has not answered a reminder.
    Approvers,
    /// The team lead who approved (and drives) the rotation.
    Lead(String),
}

/// A stall reminder to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueReminder {
    /// 1 for the first reminder of this stall, 2 for the next, …
    pub number: u32,
    /// The key to claim (see [`STALL_KEY_PREFIX`]).
    pub key: String,
    pub audience: Audience,
    /// Since when the rotation waits (its last change).
    pub since: DateTime<Utc>,
}

/// The stall reminder due now for `rotation`, if any: one after every `stall_after`
/// without progress, at most [`MAX_STALL_REMINDERS`]; a reminder missed (the bot was down)
/// is not sent late — the next one is. Only states that wait for a person stall; the bot's
/// own checks do not.
pub fn due_reminder(
    rotation: &super::Rotation,
    sent: &[String],
    now: DateTime<Utc>,
    stall_after: Duration,
) -> Option<DueReminder> {
    use super::RotationState::*;
    if !matches!(
        rotation.state,
        AwaitingApproval | AwaitingNewToken | AwaitingOldTokenDeletion | NeedsAttention
    ) || stall_after <= Duration::zero()
    {
        return None;
    }
    let waited = now - rotation.updated_at;
    let periods = waited.num_seconds() / stall_after.num_seconds().max(1);
    let number = u32::try_from(periods).ok()?.min(MAX_STALL_REMINDERS);
    if number == 0 {
        return None;
    }
    let key = format!(
        "{STALL_KEY_PREFIX}{}:{}:{number}",
        rotation.id, rotation.version
    );
    if sent.contains(&key) {
        return None;
    }
    let lead = rotation
        .driven_by
        .clone()
        .or_else(|| rotation.approved_by.clone());
    let audience = match (rotation.state, lead) {
        (AwaitingApproval, _) | (_, None) => Audience::Approvers,
        (_, Some(lead)) if number == 1 => Audience::Lead(lead),
        _ => Audience::Approvers,
    };
    Some(DueReminder {
        number,
        key,
        audience,
        since: rotation.updated_at,
    })
}

/// The first day of the 24-hour period since expiry that `now` falls in.
fn expired_day(expires: DateTime<Utc>, now: DateTime<Utc>) -> NaiveDate {
    let periods = (now - expires).num_days().max(0);
    (expires + Duration::days(periods)).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotation::ExpirySource;
    use chrono::TimeZone;

    const WARN: [u32; 5] = [30, 14, 7, 3, 1];

    fn expires() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 14, 9, 0, 0).unwrap()
    }

    fn token(expires_at: Option<DateTime<Utc>>) -> TokenRecord {
        TokenRecord {
            id: 1,
            connection: "prod".to_owned(),
            token_id: Some("tok-1".to_owned()),
            created_at: None,
            expires_at,
            source: ExpirySource::Manual,
            fingerprint: None,
            retired_at: None,
        }
    }

    fn due(token: Option<&TokenRecord>, sent: &[String], now: DateTime<Utc>) -> Option<DueWarning> {
        due_warning(&WarningInput {
            token,
            sent,
            thread_exists: !sent.is_empty(),
            rotation_open: false,
            token_replaced: false,
            now,
            warn_days: &WARN,
        })
    }

    /// Runs one check a day (at `hour`) from 40 days before expiry to `after` days after,
    /// recording each due warning as sent; returns them in order.
    fn walk(hour: i64, after: i64) -> Vec<DueWarning> {
        let token = token(Some(expires()));
        let mut sent = Vec::new();
        let mut warnings = Vec::new();
        for day in -40..=after {
            let now = expires() + Duration::days(day) + Duration::hours(hour);
            if let Some(warning) = due(Some(&token), &sent, now) {
                sent.push(warning.key.clone());
                warnings.push(warning);
            }
        }
        warnings
    }

    #[test]
    fn a_daily_walk_warns_once_per_threshold_then_daily_once_expired() {
        let keys: Vec<String> = walk(0, 3).into_iter().map(|w| w.key).collect();
        assert_eq!(
            keys,
            [
                "d30",
                "d14",
                "d7",
                "d3",
                "d1",
                "expired:2027-03-14",
                "expired:2027-03-15",
                "expired:2027-03-16",
                "expired:2027-03-17",
            ]
        );
    }

    #[test]
    fn only_the_first_warning_of_a_cycle_is_a_new_message() {
        let placements: Vec<Placement> = walk(0, 3).into_iter().map(|w| w.placement).collect();
        assert_eq!(placements[0], Placement::NewMessage);
        assert!(placements[1..].iter().all(|p| *p == Placement::InThread));
    }

    #[test]
    fn approvers_are_mentioned_from_three_days_left() {
        let mentions: Vec<(String, bool)> =
            walk(0, 1).into_iter().map(|w| (w.key, w.mention)).collect();
        assert_eq!(
            mentions,
            [
                ("d30".to_owned(), false),
                ("d14".to_owned(), false),
                ("d7".to_owned(), false),
                ("d3".to_owned(), true),
                ("d1".to_owned(), true),
                ("expired:2027-03-14".to_owned(), true),
                ("expired:2027-03-15".to_owned(), true),
            ]
        );
    }

    #[test]
    fn hourly_checks_send_the_same_warnings_as_daily_ones() {
        let token = token(Some(expires()));
        let mut sent = Vec::new();
        let start = expires() - Duration::days(40);
        for hour in 0..(43 * 24) {
            if let Some(w) = due(Some(&token), &sent, start + Duration::hours(hour)) {
                sent.push(w.key);
            }
        }
        assert_eq!(
            sent,
            [
                "d30",
                "d14",
                "d7",
                "d3",
                "d1",
                "expired:2027-03-14",
                "expired:2027-03-15",
                "expired:2027-03-16",
            ]
        );
    }

    #[test]
    fn critical_repeats_come_24_hours_apart_whatever_the_expiry_time() {
        let token = token(Some(expires()));
        // 23 hours after expiry: still the first day's warning.
        let sent = vec!["expired:2027-03-14".to_owned()];
        assert_eq!(
            due(Some(&token), &sent, expires() + Duration::hours(23)),
            None
        );
        let next = due(Some(&token), &sent, expires() + Duration::hours(24)).unwrap();
        assert_eq!(next.key, "expired:2027-03-15");
    }

    #[test]
    fn a_threshold_exactly_reached_is_due() {
        let token = token(Some(expires()));
        let at_30 = due(Some(&token), &[], expires() - Duration::days(30)).unwrap();
        assert_eq!(at_30.kind, WarningKind::DaysLeft(30));
        assert_eq!(
            due(
                Some(&token),
                &[],
                expires() - Duration::days(30) - Duration::seconds(1)
            ),
            None
        );
    }

    #[test]
    fn skipped_thresholds_are_not_sent_late() {
        // Registered with 10 days left: only the 14-day warning, then the 7-day one.
        let token = token(Some(expires()));
        let first = due(Some(&token), &[], expires() - Duration::days(10)).unwrap();
        assert_eq!(first.key, "d14");
        assert_eq!(first.placement, Placement::NewMessage);
        let sent = vec![first.key];
        assert_eq!(
            due(Some(&token), &sent, expires() - Duration::days(8)),
            None
        );
        assert_eq!(
            due(Some(&token), &sent, expires() - Duration::days(7))
                .unwrap()
                .key,
            "d7"
        );
    }

    #[test]
    fn a_token_already_expired_when_first_seen_gets_a_new_critical_message() {
        let token = token(Some(expires()));
        let warning = due(Some(&token), &[], expires() + Duration::days(5)).unwrap();
        assert_eq!(
            warning.kind,
            WarningKind::Expired {
                day: NaiveDate::from_ymd_opt(2027, 3, 19).unwrap()
            }
        );
        assert_eq!(warning.placement, Placement::NewMessage);
        assert!(warning.mention);
    }

    #[test]
    fn a_later_expiry_gives_back_the_warnings_not_yet_due() {
        let now = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let sent: Vec<String> = [
            "d30",
            "d14",
            "d7",
            "d3",
            "d1",
            "expired:2026-12-31",
            "unknown",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        // Corrected to 20 days from now: d30 stays sent, the rest come again when due.
        let given_back = not_due_under(&sent, now + chrono::Duration::days(20), now);
        assert_eq!(given_back, ["d14", "d7", "d3", "d1", "expired:2026-12-31"]);
        // Still expired under the new date: nothing is given back.
        assert!(not_due_under(&sent[..6], now - chrono::Duration::days(1), now).is_empty());
    }

    #[test]
    fn a_replaced_token_is_not_warned_about_even_when_expired() {
        let token = TokenRecord {
            id: 1,
            connection: "prod".to_owned(),
            token_id: Some("old".to_owned()),
            created_at: None,
            expires_at: Some(Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()),
            source: crate::rotation::ExpirySource::Manual,
            fingerprint: None,
            retired_at: None,
        };
        let input = WarningInput {
            token: Some(&token),
            sent: &[],
            thread_exists: false,
            rotation_open: true,
            token_replaced: true,
            now: Utc.with_ymd_and_hms(2027, 1, 2, 0, 0, 0).unwrap(),
            warn_days: &[30, 14, 7, 3, 1],
        };
        assert_eq!(due_warning(&input), None);
        let still_in_use = WarningInput {
            token_replaced: false,
            ..input
        };
        assert!(
            due_warning(&still_in_use).is_some(),
            "expired and still in use: critical"
        );
    }

    #[test]
    fn an_open_rotation_holds_back_early_warnings_and_takes_urgent_ones_into_its_thread() {
        let token = token(Some(expires()));
        let input = |now, open| WarningInput {
            token: Some(&token),
            sent: &[],
            thread_exists: true,
            rotation_open: open,
            token_replaced: false,
            now,
            warn_days: &WARN,
        };
        for (days, in_rotation) in [(30, false), (14, false), (7, false), (3, true), (1, true)] {
            let now = expires() - Duration::days(days);
            let open = due_warning(&input(now, true));
            if in_rotation {
                let open = open.unwrap();
                assert_eq!(
                    open.placement,
                    Placement::RotationThread,
                    "{days} days left"
                );
                assert!(
                    open.mention,
                    "{days} days left: the approvers are mentioned"
                );
            } else {
                assert_eq!(open, None, "{days} days left");
            }
            let closed = due_warning(&input(now, false)).unwrap();
            assert_eq!(closed.placement, Placement::InThread);
        }
        let expired = due_warning(&input(expires(), true)).unwrap();
        assert_eq!(expired.kind.severity(), Severity::Critical);
        assert_eq!(expired.placement, Placement::RotationThread);
        assert!(expired.mention);
    }

    #[test]
    fn an_unknown_expiry_is_warned_about_once() {
        let unknown = token(None);
        let now = expires();
        let first = due(Some(&unknown), &[], now).unwrap();
        assert_eq!(first.kind, WarningKind::UnknownExpiry);
        assert_eq!(first.key, "unknown");
        assert!(!first.mention);
        assert_eq!(
            due(Some(&unknown), &[first.key], now + Duration::days(200)),
            None
        );
        // No token recorded at all counts as unknown too.
        assert_eq!(
            due(None, &[], now).unwrap().kind,
            WarningKind::UnknownExpiry
        );
    }

    #[test]
    fn a_known_date_after_an_unknown_one_continues_the_same_thread() {
        let known = token(Some(expires()));
        let sent = vec!["unknown".to_owned()];
        let next = due(Some(&known), &sent, expires() - Duration::days(20)).unwrap();
        assert_eq!(next.key, "d30");
        assert_eq!(next.placement, Placement::InThread);
    }

    #[test]
    fn a_date_moved_later_does_not_repeat_a_threshold_already_sent() {
        // d7 was sent, then AWS Health said the token lives 30 more days.
        let moved = token(Some(expires() + Duration::days(30)));
        let sent = vec!["d30".to_owned(), "d14".to_owned(), "d7".to_owned()];
        let new_expiry = expires() + Duration::days(30);
        assert_eq!(
            due(Some(&moved), &sent, new_expiry - Duration::days(6)),
            None,
            "d7 again would be a repeat"
        );
        assert_eq!(
            due(Some(&moved), &sent, new_expiry - Duration::days(3))
                .unwrap()
                .key,
            "d3"
        );
    }

    #[test]
    fn unsorted_or_custom_thresholds_work() {
        let token = token(Some(expires()));
        let input = WarningInput {
            token: Some(&token),
            sent: &[],
            thread_exists: false,
            rotation_open: false,
            token_replaced: false,
            now: expires() - Duration::days(50),
            warn_days: &[10, 60],
        };
        assert_eq!(due_warning(&input).unwrap().key, "d60");
    }

    #[test]
    fn every_threshold_set_warns_each_threshold_once_in_order() {
        let candidates = [60, 30, 14, 7, 3, 1];
        let token = token(Some(expires()));
        for mask in 1u32..(1 << candidates.len()) {
            let warn: Vec<u32> = (0..candidates.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| candidates[i])
                .collect();
            let mut sent: Vec<String> = Vec::new();
            let start = expires() - Duration::days(70);
            for hour in (0..(72 * 24)).step_by(5) {
                let input = WarningInput {
                    token: Some(&token),
                    sent: &sent,
                    thread_exists: !sent.is_empty(),
                    rotation_open: false,
                    token_replaced: false,
                    now: start + Duration::hours(hour),
                    warn_days: &warn,
                };
                if let Some(w) = due_warning(&input) {
                    assert_eq!(
                        w.placement == Placement::NewMessage,
                        sent.is_empty(),
                        "{warn:?}"
                    );
                    sent.push(w.key);
                }
            }
            let mut expected: Vec<String> = warn.iter().map(|d| format!("d{d}")).collect();
            expected.extend(
                ["2027-03-14", "2027-03-15"].map(|day| format!("{EXPIRED_KEY_PREFIX}{day}")),
            );
            assert_eq!(sent, expected, "{warn:?}");
        }
    }

    #[test]
    fn a_warning_silenced_by_a_rotation_comes_when_the_rotation_is_called_off() {
        let token = token(Some(expires()));
        let now = expires() - Duration::days(10);
        let input = |open| WarningInput {
            token: Some(&token),
            sent: &[],
            thread_exists: false,
            rotation_open: open,
            token_replaced: false,
            now,
            warn_days: &WARN,
        };
        assert_eq!(due_warning(&input(true)), None);
        assert_eq!(due_warning(&input(false)).unwrap().key, "d14");
    }
}
