//! The rotation's states and the record the store keeps for each rotation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A rotation's number, as stored (SQLite rowid).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RotationId(pub i64);

impl fmt::Display for RotationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a rotation stands. Stored as its name (text), so the database reads on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RotationState {
    /// Requested; waiting for a team lead to approve or reject it.
    AwaitingApproval,
    /// Approved; waiting for an approver to generate a token in AWS and paste it in the modal.
    AwaitingNewToken,
    /// The token is in memory; AWS's SCIM endpoint and Entra's Test Connection are being asked.
    Checking,
    /// Both checks passed; the token is being saved into the Entra provisioning job.
    Saving,
    /// Saved; the saved credentials are being re-tested and a stopped job restarted.
    Verifying,
    /// The new token works; waiting for an approver to delete the old one in AWS and say so.
    AwaitingOldTokenDeletion,
    /// Done: new token saved and verified, old token deletion confirmed.
    Completed,
    /// An approver turned the request down.
    Rejected,
    /// The requester or an approver called it off.
    Cancelled,
    /// Nobody approved it in time.
    Expired,
    /// A step failed after the token was saved in Entra: a person must look.
    NeedsAttention,
}

impl RotationState {
    pub const ALL: [RotationState; 11] = [
        RotationState::AwaitingApproval,
        RotationState::AwaitingNewToken,
        RotationState::Checking,
        RotationState::Saving,
        RotationState::Verifying,
        RotationState::AwaitingOldTokenDeletion,
        RotationState::Completed,
        RotationState::Rejected,
        RotationState::Cancelled,
        RotationState::Expired,
        RotationState::NeedsAttention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RotationState::AwaitingApproval => "AwaitingApproval",
            RotationState::AwaitingNewToken => "AwaitingNewToken",
            RotationState::Checking => "Checking",
            RotationState::Saving => "Saving",
            RotationState::Verifying => "Verifying",
            RotationState::AwaitingOldTokenDeletion => "AwaitingOldTokenDeletion",
            RotationState::Completed => "Completed",
            RotationState::Rejected => "Rejected",
            RotationState::Cancelled => "Cancelled",
            RotationState::Expired => "Expired",
            RotationState::NeedsAttention => "NeedsAttention",
        }
    }

    /// Words for people (status tables, summaries).
    pub fn describe(self) -> &'static str {
        match self {
            RotationState::AwaitingApproval => "waiting for approval",
            RotationState::AwaitingNewToken => "waiting for the new token",
            RotationState::Checking => "checking the new token",
            RotationState::Saving => "saving the new token in Entra",
            RotationState::Verifying => "verifying the saved token",
            RotationState::AwaitingOldTokenDeletion => "waiting for the old token's deletion",
            RotationState::Completed => "completed",
            RotationState::Rejected => "rejected",
            RotationState::Cancelled => "cancelled",
            RotationState::Expired => "expired without approval",
            RotationState::NeedsAttention => "needs attention",
        }
    }

    /// Terminal states end a rotation; any other state means a rotation is in flight and
    /// blocks a second one on the same connection.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RotationState::Completed
                | RotationState::Rejected
                | RotationState::Cancelled
                | RotationState::Expired
        )
    }

    /// States in which the token exists only in this process's memory: after a restart
    /// there is nothing to continue with.
    pub fn holds_token_in_memory(self) -> bool {
        matches!(
            self,
            RotationState::Checking | RotationState::Saving | RotationState::Verifying
        )
    }
}

impl fmt::Display for RotationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RotationState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RotationState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown rotation state {s:?}"))
    }
}

/// One rotation, as the store keeps it. Never holds the token, only its fingerprint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rotation {
    pub id: RotationId,
    pub connection: String,
    pub state: RotationState,
    /// Bumped on every transition; the store refuses a write whose version is stale.
    pub version: i64,
    pub requested_by: String,
    /// Every team lead who approved so far, in order (more than one under a two-person
    /// rule, `slack.approvals_required = 2`).
    pub approvals: Vec<String>,
    /// The approval that let the rotation move on (the last of `approvals`).
    pub approved_by: Option<String>,
    /// The person who last acted on the rotation: approved, rejected, cancelled, entered the
    /// token, retried or confirmed the deletion. In `Rejected`/`Cancelled` it is who ended it,
    /// which the thread shows ("Rejected by …").
    pub driven_by: Option<String>,
    pub token_entered_by: Option<String>,
    pub deletion_confirmed_by: Option<String>,
    pub deletion_confirmed_at: Option<DateTime<Utc>>,
    /// The token being replaced, as known when the rotation started.
    pub old_token_id: Option<String>,
    pub new_token_id: Option<String>,
    pub new_token_fingerprint: Option<String>,
    pub new_token_created: Option<DateTime<Utc>>,
    pub new_token_expires: Option<DateTime<Utc>>,
    /// Progress of the checks on the last submitted token (for the progress message).
    pub checks: Checks,
    /// The reason of the last failure, shown to people.
    pub last_error: Option<String>,
    /// Slack channel and thread the rotation lives in.
    pub channel: Option<String>,
    pub thread_ts: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When an unapproved request expires.
    pub approval_deadline: DateTime<Utc>,
}

/// Which checks the submitted token has passed so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checks {
    pub aws_ok: bool,
    pub entra_test_ok: bool,
    pub saved: bool,
    pub verified: bool,
    /// Provisioning was quarantined or paused and the bot started it again.
    pub resumed: bool,
}
