//! What people and the bot itself ask of a rotation.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Who asks. A Slack user carries whether they are an approver (a configured user id or a
/// member of a configured user group): the Slack layer resolves groups, the domain decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    User { id: String, is_approver: bool },
    System,
}

impl Actor {
    pub fn user(id: impl Into<String>, is_approver: bool) -> Self {
        Actor::User {
            id: id.into(),
            is_approver,
        }
    }

    /// As written in the audit log: the Slack user id, or `system`.
    pub fn audit_name(&self) -> &str {
        match self {
            Actor::User { id, .. } => id,
            Actor::System => "system",
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            Actor::User { id, .. } => Some(id),
            Actor::System => None,
        }
    }

    pub fn is_approver(&self) -> bool {
        matches!(
            self,
            Actor::User {
                is_approver: true,
                ..
            }
        )
    }
}

/// The settings that shape who may do what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// When false (the default), whoever requested a rotation cannot approve it.
    pub allow_self_approval: bool,
    /// How many different approvers a rotation needs: 1 (the default) or 2 (a two-person
    /// rule). A rotation moves on with the last of them.
    pub approvals_required: u8,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allow_self_approval: false,
            approvals_required: 1,
        }
    }
}

/// The step of the checks that produced a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// `GET {scim_url}/ServiceProviderConfig` with the new token.
    AwsProbe,
    /// Entra's `validateCredentials` with the new token (Test Connection).
    EntraTest,
    /// `PUT …/synchronization/secrets`.
    Save,
    /// `validateCredentials` with the saved credentials, then reading (and starting) the job.
    Verify,
    /// Re-test of the saved credentials after the old token's deletion was confirmed.
    AfterDeletion,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::AwsProbe => "aws_probe",
            Stage::EntraTest => "entra_test",
            Stage::Save => "save",
            Stage::Verify => "verify",
            Stage::AfterDeletion => "after_deletion",
        }
    }
}

/// What a submitted token brings besides its value (which never enters the domain).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    /// First 12 hex characters of the token's SHA-256.
    pub fingerprint: String,
    /// The id the AWS console shows for the new token, when the approver typed it.
    pub new_token_id: Option<String>,
    /// The new token's expiry, when the approver chose one (default: submission + 365 days).
    pub expires: Option<DateTime<Utc>>,
}

/// A command to an existing rotation. Starting one is [`super::decide_start`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Approve,
    Reject {
        reason: Option<String>,
    },
    Cancel,
    SubmitToken(Submission),
    /// From the check pipeline (system only) …
    AwsProbePassed,
    EntraTestPassed,
    Saved,
    Verified {
        resumed: bool,
    },
    Failed {
        stage: Stage,
        reason: String,
    },
    ConfirmOldTokenDeleted,
    /// After a failure past saving, start over with a new token.
    Retry,
    /// On start-up: the token of a rotation in `Checking`/`Saving`/`Verifying` was lost.
    Recover,
    /// The approval window closed.
    ApprovalTimeout,
}

impl Command {
    /// The name written in the audit log when this command changes a rotation.
    pub fn audit_action(&self) -> &'static str {
        match self {
            Command::Approve => "approved",
            Command::Reject { .. } => "rejected",
            Command::Cancel => "cancelled",
            Command::SubmitToken(_) => "token_submitted",
            Command::AwsProbePassed => "aws_probe_passed",
            Command::EntraTestPassed => "entra_test_passed",
            Command::Saved => "token_saved",
            Command::Verified { .. } => "saved_token_verified",
            Command::Failed { .. } => "check_failed",
            Command::ConfirmOldTokenDeleted => "old_token_deletion_confirmed",
            Command::Retry => "retry_requested",
            Command::Recover => "recovered_after_restart",
            Command::ApprovalTimeout => "approval_expired",
        }
    }

    /// Commands that only the bot itself sends.
    pub fn is_system_only(&self) -> bool {
        matches!(
            self,
            Command::AwsProbePassed
                | Command::EntraTestPassed
                | Command::Saved
                | Command::Verified { .. }
                | Command::Failed { .. }
                | Command::Recover
                | Command::ApprovalTimeout
        )
    }
}
