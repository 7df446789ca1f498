//! What a sweep did (or, in a dry run, would do), one line per event.

use chrono::{DateTime, Utc};
use std::fmt;

/// What came of one thing the sweep found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SweepOutcome {
    /// Posted to Slack.
    Posted,
    /// Dry run: would have been posted.
    WouldPost,
    /// Another sweep (or an earlier run) claimed it first: not posted again.
    AlreadyClaimed,
    /// Something worth knowing that posts nothing (a Graph failure not yet alerted on, …).
    Noted,
    /// It should have been posted or recorded, and was not; the text says why.
    Failed(String),
}

/// One line of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepEvent {
    /// The connection, or empty for the sweep as a whole.
    pub connection: String,
    /// What it is about, e.g. `token tok-1 expires 2027-03-14 (7 days left): warning (reply in thread)`.
    pub what: String,
    pub outcome: SweepOutcome,
}

impl fmt::Display for SweepEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match &self.outcome {
            SweepOutcome::Posted => "posted",
            SweepOutcome::WouldPost => "would post",
            SweepOutcome::AlreadyClaimed => "already sent",
            SweepOutcome::Noted => "note",
            SweepOutcome::Failed(_) => "failed",
        };
        write!(f, "{verb}: ")?;
        if !self.connection.is_empty() {
            write!(f, "[{}] ", self.connection)?;
        }
        f.write_str(&self.what)?;
        if let SweepOutcome::Failed(reason) = &self.outcome {
            write!(f, ": {reason}")?;
        }
        Ok(())
    }
}

/// Everything one sweep found, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepReport {
    /// The time the sweep ran as.
    pub at: DateTime<Utc>,
    pub dry_run: bool,
    pub events: Vec<SweepEvent>,
    /// Rotation requests expired for want of approval.
    pub approvals_expired: usize,
}

impl SweepReport {
    pub fn new(at: DateTime<Utc>, dry_run: bool) -> Self {
        SweepReport {
            at,
            dry_run,
            events: Vec::new(),
            approvals_expired: 0,
        }
    }

    pub(super) fn push(
        &mut self,
        connection: &str,
        what: impl Into<String>,
        outcome: SweepOutcome,
    ) {
        self.events.push(SweepEvent {
            connection: connection.to_owned(),
            what: what.into(),
            outcome,
        });
    }

    /// Messages posted (or, in a dry run, that would be).
    pub fn posted(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e.outcome, SweepOutcome::Posted | SweepOutcome::WouldPost))
            .count()
    }

    pub fn failed(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e.outcome, SweepOutcome::Failed(_)))
            .count()
    }

    /// One line per event, then a summary line.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.events.iter().map(ToString::to_string).collect();
        let at = self.at.format("%Y-%m-%d %H:%M UTC");
        lines.push(if self.dry_run {
            format!(
                "dry run as of {at}: {} message(s) would be posted; nothing was changed",
                self.posted()
            )
        } else {
            format!(
                "sweep as of {at}: {} message(s) posted, {} failure(s), {} unapproved request(s) expired",
                self.posted(),
                self.failed(),
                self.approvals_expired
            )
        });
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn lines_name_the_connection_and_the_outcome() {
        let mut report = SweepReport::new(Utc.with_ymd_and_hms(2027, 3, 7, 9, 0, 0).unwrap(), true);
        report.push(
            "prod-org",
            "token tok-123 expires 2027-03-14 (7 days left): warning (reply in thread)",
            SweepOutcome::WouldPost,
        );
        report.push(
            "prod-org",
            "provisioning job",
            SweepOutcome::Failed("timeout".to_owned()),
        );
        assert_eq!(
            report.lines(),
            [
                "would post: [prod-org] token tok-123 expires 2027-03-14 (7 days left): warning (reply in thread)",
                "failed: [prod-org] provisioning job: timeout",
                "dry run as of 2027-03-07 09:00 UTC: 1 message(s) would be posted; nothing was changed",
            ]
        );
    }
}
