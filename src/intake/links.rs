//! The one-time links, kept in memory only: a restart invalidates every link (the lead asks
//! for a new one with *Enter new token*), and nothing about them reaches the database but
//! their audit records.
//!
//! A link's code is 128 random bits, given out once (in the ephemeral message) and kept here
//! only as its SHA-256. A lookup hashes the presented code and compares it with every entry
//! in constant time, so neither the comparison nor the map's layout tells anything about how
//! close a guess was. The per-page CSRF values and the watch value (which lets the page
//! follow the checks after the link is used) are kept the same way.
//!
//! Pure bookkeeping: the caller passes `now` and the rotation as the store has it.

use crate::rotation::{Rotation, RotationId, RotationState};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use subtle::ConstantTimeEq;

/// Random bytes in a code, a CSRF value and a watch value: 128 bits, beyond guessing.
const RANDOM_BYTES: usize = 16;

/// Most links (live or dead) kept. There is at most one live link per rotation waiting for
/// its token, so this many is only reached by dead ones, which are dropped oldest first.
pub const MAX_LINKS: usize = 256;

/// How long a dead link is remembered, so that it gets "already used" or "expired" (410)
/// instead of "unknown" (404): long enough to cover a lead coming back to the tab later in
/// the day.
const REMEMBER_DEAD: Duration = Duration::hours(24);

/// Pages (each with its own CSRF value) open at once for one link: a lead who reloads or
/// opens the link twice can still submit from the newest few.
const CSRF_PER_LINK: usize = 4;

/// A fresh random value, URL-safe (hex).
pub fn random_value() -> String {
    let mut bytes = [0u8; RANDOM_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn digest(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.ct_eq(b).into()
}

/// Why a link cannot be used (any more).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dead {
    /// Past its lifetime.
    Expired,
    /// A token was submitted through it.
    Used,
    /// A newer link was issued for the same rotation.
    Superseded,
    /// The rotation is no longer waiting for this token (it moved on, or the token was
    /// entered another way); holds what it is now.
    RotationMovedOn(RotationState),
    /// The rotation no longer exists.
    RotationGone,
}

impl Dead {
    /// The reason as the audit log records it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Dead::Expired => "expired",
            Dead::Used => "used",
            Dead::Superseded => "superseded",
            Dead::RotationMovedOn(_) => "rotation_moved_on",
            Dead::RotationGone => "rotation_gone",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Status {
    Live,
    /// A submission through it is with the engine right now: a second one must wait for
    /// the answer, which decides between `Used` and `Live` again.
    Submitting,
    Used,
    Superseded,
}

/// What is known about one link; the code itself is not kept.
#[derive(Clone, Debug)]
pub struct Link {
    hash: [u8; 32],
    pub rotation: RotationId,
    /// The rotation's version when the link was issued: any change to the rotation since
    /// (a token entered through the modal, a failed check, a cancel) kills the link.
    pub rotation_version: i64,
    /// The Slack user id of the lead it was issued to.
    pub lead: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    status: Status,
    csrf: VecDeque<[u8; 32]>,
    watch: Option<[u8; 32]>,
    /// After use: how long the page may follow the checks.
    watch_until: Option<DateTime<Utc>>,
}

impl Link {
    /// A short, harmless name for logs and the audit log: the first 12 hex characters of
    /// the code's SHA-256 (the code itself is a credential).
    pub fn label(&self) -> String {
        hex::encode(&self.hash[..6])
    }

    /// `Ok` when a token may be submitted through this link now, given the rotation as the
    /// store has it.
    pub fn usable(&self, rotation: Option<&Rotation>, now: DateTime<Utc>) -> Result<(), Dead> {
        match self.status {
            Status::Used => return Err(Dead::Used),
            Status::Superseded => return Err(Dead::Superseded),
            Status::Live | Status::Submitting => {}
        }
        if now >= self.expires_at {
            return Err(Dead::Expired);
        }
        let Some(rotation) = rotation else {
            return Err(Dead::RotationGone);
        };
        if rotation.state != RotationState::AwaitingNewToken
            || rotation.version != self.rotation_version
        {
            return Err(Dead::RotationMovedOn(rotation.state));
        }
        Ok(())
    }

    /// Whether a submission through this link is being handled right now.
    pub fn submitting(&self) -> bool {
        self.status == Status::Submitting
    }
}

/// The links issued since start.
#[derive(Default)]
pub struct Links {
    links: Vec<Link>,
}

impl Links {
    /// Issues a link to `lead` for `rotation`, valid for `lifetime`; every other link of that
    /// rotation is superseded. Returns the code, which is not kept.
    pub fn issue(
        &mut self,
        rotation: &Rotation,
        lead: &str,
        lifetime: Duration,
        now: DateTime<Utc>,
    ) -> (String, Link) {
        for link in self.links.iter_mut().filter(|l| l.rotation == rotation.id) {
            if matches!(link.status, Status::Live) {
                link.status = Status::Superseded;
            }
        }
        self.prune(now);
        let code = random_value();
        let link = Link {
            hash: digest(&code),
            rotation: rotation.id,
            rotation_version: rotation.version,
            lead: lead.to_owned(),
            issued_at: now,
            expires_at: now + lifetime,
            status: Status::Live,
            csrf: VecDeque::new(),
            watch: None,
            watch_until: None,
        };
        self.links.push(link.clone());
        (code, link)
    }

    /// Drops dead links older than [`REMEMBER_DEAD`], then the oldest ones while over
    /// [`MAX_LINKS`] (leaving room for one more).
    fn prune(&mut self, now: DateTime<Utc>) {
        self.links.retain(|l| l.issued_at + REMEMBER_DEAD > now);
        while self.links.len() >= MAX_LINKS {
            let oldest_dead = self
                .links
                .iter()
                .position(|l| !matches!(l.status, Status::Live | Status::Submitting));
            self.links.remove(oldest_dead.unwrap_or(0));
        }
    }

    /// How many links are remembered (live or dead).
    pub fn len(&self) -> usize {
        self.links.len()
    }

    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// The link with this code, compared in constant time with every entry.
    fn position(&self, code: &str) -> Option<usize> {
        let wanted = digest(code);
        let mut found = None;
        for (index, link) in self.links.iter().enumerate() {
            // No early exit: every entry is compared.
            if same(&link.hash, &wanted) {
                found = Some(index);
            }
        }
        found
    }

    pub fn find(&self, code: &str) -> Option<&Link> {
        self.position(code).map(|i| &self.links[i])
    }

    /// A fresh CSRF value for a page of the link with `code`.
    pub fn new_csrf(&mut self, code: &str) -> Option<String> {
        let index = self.position(code)?;
        let link = &mut self.links[index];
        let value = random_value();
        link.csrf.push_back(digest(&value));
        while link.csrf.len() > CSRF_PER_LINK {
            link.csrf.pop_front();
        }
        Some(value)
    }

    /// Whether `value` is the CSRF value of one of the link's recent pages.
    pub fn csrf_matches(&self, code: &str, value: &str) -> bool {
        let Some(link) = self.find(code) else {
            return false;
        };
        let given = digest(value);
        link.csrf
            .iter()
            .fold(false, |found, expected| found | same(expected, &given))
    }

    /// Claims the link for a submission, if it is usable now (see [`Link::usable`]).
    pub fn begin_submission(
        &mut self,
        code: &str,
        rotation: Option<&Rotation>,
        now: DateTime<Utc>,
    ) -> Result<Link, Option<Dead>> {
        let index = self.position(code).ok_or(None)?;
        let link = &mut self.links[index];
        if link.status == Status::Submitting {
            // The other submission decides; this one is as good as a reuse.
            return Err(Some(Dead::Used));
        }
        link.usable(rotation, now).map_err(Some)?;
        link.status = Status::Submitting;
        Ok(link.clone())
    }

    /// The engine refused the submission (nothing changed): the link is usable again.
    pub fn abandon_submission(&mut self, code: &str) {
        if let Some(index) = self.position(code)
            && self.links[index].status == Status::Submitting
        {
            self.links[index].status = Status::Live;
        }
    }

    /// The engine took the token: the link is used up. Returns the watch value with which
    /// the page may follow the checks until `watch_until`.
    pub fn finish_submission(&mut self, code: &str, watch_until: DateTime<Utc>) -> Option<String> {
        let index = self.position(code)?;
        let link = &mut self.links[index];
        link.status = Status::Used;
        link.csrf.clear();
        let watch = random_value();
        link.watch = Some(digest(&watch));
        link.watch_until = Some(watch_until);
        Some(watch)
    }

    /// The rotation the page of a used link may follow, when `watch` is its watch value and
    /// the time to watch has not run out.
    pub fn watched(&self, code: &str, watch: &str, now: DateTime<Utc>) -> Option<RotationId> {
        let link = self.find(code)?;
        let expected = link.watch.as_ref()?;
        let until = link.watch_until?;
        (same(expected, &digest(watch)) && now < until).then_some(link.rotation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotation::Checks;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 2, 1, 9, 0, 0).unwrap()
    }

    fn rotation(id: i64, state: RotationState, version: i64) -> Rotation {
        Rotation {
            id: RotationId(id),
            connection: "prod".to_owned(),
            state,
            version,
            requested_by: "U1".to_owned(),
            approved_by: Some("U2".to_owned()),
            driven_by: None,
            token_entered_by: None,
            deletion_confirmed_by: None,
            deletion_confirmed_at: None,
            old_token_id: Some("old".to_owned()),
            new_token_id: None,
            new_token_fingerprint: None,
            new_token_created: None,
            new_token_expires: None,
            checks: Checks::default(),
            last_error: None,
            channel: None,
            thread_ts: None,
            created_at: now(),
            updated_at: now(),
            approval_deadline: now(),
        }
    }

    #[test]
    fn a_code_is_128_random_bits_and_is_not_kept() {
        let mut links = Links::default();
        let r = rotation(1, RotationState::AwaitingNewToken, 2);
        let (code, link) = links.issue(&r, "U2", Duration::minutes(10), now());
        assert_eq!(code.len(), 32);
        assert!(code.bytes().all(|b| b.is_ascii_hexdigit()));
        let (other, _) = links.issue(&r, "U2", Duration::minutes(10), now());
        assert_ne!(code, other);
        assert!(!format!("{link:?}").contains(&code));
        assert!(!link.label().is_empty() && !code.contains(&link.label()));
    }

    #[test]
    fn a_link_dies_on_expiry_on_use_on_a_newer_link_and_when_the_rotation_moves_on() {
        let mut links = Links::default();
        let r = rotation(1, RotationState::AwaitingNewToken, 2);
        let ten = Duration::minutes(10);
        let (code, _) = links.issue(&r, "U2", ten, now());
        let link = links.find(&code).unwrap();
        assert_eq!(link.usable(Some(&r), now()), Ok(()));
        assert_eq!(
            link.usable(Some(&r), now() + ten),
            Err(Dead::Expired),
            "dead at the end of its lifetime"
        );
        let moved = rotation(1, RotationState::Checking, 3);
        assert_eq!(
            link.usable(Some(&moved), now()),
            Err(Dead::RotationMovedOn(RotationState::Checking))
        );
        let changed = rotation(1, RotationState::AwaitingNewToken, 5);
        assert!(
            link.usable(Some(&changed), now()).is_err(),
            "back in AwaitingNewToken after a failed check is a different wait"
        );
        assert_eq!(link.usable(None, now()), Err(Dead::RotationGone));

        let (newer, _) = links.issue(&r, "U3", ten, now());
        assert_eq!(
            links.find(&code).unwrap().usable(Some(&r), now()),
            Err(Dead::Superseded)
        );
        assert!(links.begin_submission(&newer, Some(&r), now()).is_ok());
        assert_eq!(
            links.begin_submission(&newer, Some(&r), now()).unwrap_err(),
            Some(Dead::Used),
            "a second submission while the first is with the engine is refused"
        );
        links.abandon_submission(&newer);
        assert!(links.begin_submission(&newer, Some(&r), now()).is_ok());
        let watch = links.finish_submission(&newer, now() + ten).unwrap();
        assert_eq!(
            links.begin_submission(&newer, Some(&r), now()).unwrap_err(),
            Some(Dead::Used)
        );
        assert_eq!(links.watched(&newer, &watch, now()), Some(RotationId(1)));
        assert_eq!(links.watched(&newer, "nope", now()), None);
        assert_eq!(links.watched(&newer, &watch, now() + ten), None);
        assert_eq!(links.watched(&code, &watch, now()), None);
        assert_eq!(
            links
                .begin_submission("unknown", Some(&r), now())
                .unwrap_err(),
            None
        );
    }

    #[test]
    fn csrf_values_belong_to_their_link_and_only_the_newest_few_count() {
        let mut links = Links::default();
        let a = rotation(1, RotationState::AwaitingNewToken, 2);
        let b = rotation(2, RotationState::AwaitingNewToken, 2);
        let (code_a, _) = links.issue(&a, "U2", Duration::minutes(10), now());
        let (code_b, _) = links.issue(&b, "U2", Duration::minutes(10), now());
        let first = links.new_csrf(&code_a).unwrap();
        assert!(links.csrf_matches(&code_a, &first));
        assert!(!links.csrf_matches(&code_b, &first));
        assert!(!links.csrf_matches(&code_a, ""));
        for _ in 0..CSRF_PER_LINK {
            links.new_csrf(&code_a).unwrap();
        }
        assert!(!links.csrf_matches(&code_a, &first), "too old");
        assert_eq!(links.new_csrf("unknown"), None);
    }

    #[test]
    fn memory_is_bounded_and_dead_links_go_first() {
        let mut links = Links::default();
        let live = rotation(0, RotationState::AwaitingNewToken, 1);
        let (kept, _) = links.issue(&live, "U2", Duration::minutes(10), now());
        for id in 1..(MAX_LINKS as i64 * 3) {
            let r = rotation(id, RotationState::AwaitingNewToken, 1);
            let (code, _) = links.issue(&r, "U2", Duration::minutes(10), now());
            links.begin_submission(&code, Some(&r), now()).unwrap();
            links.finish_submission(&code, now());
        }
        assert!(links.len() <= MAX_LINKS);
        assert!(links.find(&kept).is_some(), "the live link survives");
        links.issue(
            &live,
            "U2",
            Duration::minutes(10),
            now() + Duration::days(2),
        );
        assert_eq!(links.len(), 1, "a day later only the new link is left");
    }
}
