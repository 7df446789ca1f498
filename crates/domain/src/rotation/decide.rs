//! The rules: given a rotation, a command and who sends it, what happens next.
//! Pure: no clock reads, no I/O; the engine supplies `now` and persists the result.

use super::command::{Actor, Command, Policy, Stage, Submission};
use super::state::{Checks, Rotation, RotationId, RotationState};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

/// A token is valid for one year from its creation (AWS IAM Identity Center's rule).
pub const TOKEN_LIFETIME_DAYS: i64 = 365;

/// What a command does to a rotation.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Persist `rotation` (with its audit record) and then run `effects`.
    Transition(Box<Transition>),
    /// The step was already taken (double click, redelivered event, stale button): nothing
    /// changes and nothing is audited; the rotation is now in this state.
    AlreadyDone(RotationState),
    /// Not allowed for this actor: nothing changes (the refusal is audited).
    Refused(Denial),
}

/// Why the rules refuse a command. Data, not words: the adapters word it for the sender
/// (`slack::render::outcome`) and the audit records its [`Denial::code`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    /// A person sent what only the bot reports (a check result).
    SystemOnly,
    /// The bot itself sent what only a person may (approve, start a rotation, …).
    PersonOnly,
    /// Only a team lead (an approver) may do this.
    NotApprover(Act),
    /// The requester may not approve their own rotation (`allow_self_approval` is off).
    OwnRequest,
    /// This approver approved already, and more approvals are needed.
    ApprovedAlready { approvals: usize, required: usize },
    /// Cancelling is for the requester before approval, or a team lead.
    MayNotCancel,
    /// The token submission's details (never the token itself) are wrong.
    Submission(SubmissionProblem),
    /// A rotation of the connection is open already.
    InFlight {
        connection: String,
        id: RotationId,
        state: RotationState,
    },
}

/// What only an approver may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    Approve,
    Reject,
    EnterToken,
    ConfirmDeletion,
    Restart,
}

impl Denial {
    /// A stable name for the audit trail and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Denial::SystemOnly => "system_only",
            Denial::PersonOnly => "person_only",
            Denial::NotApprover(_) => "not_approver",
            Denial::OwnRequest => "own_request",
            Denial::ApprovedAlready { .. } => "approved_already",
            Denial::MayNotCancel => "may_not_cancel",
            Denial::Submission(SubmissionProblem::ExpiryNotInFuture) => "expiry_not_in_future",
            Denial::Submission(SubmissionProblem::OldTokenId) => "old_token_id",
            Denial::InFlight { .. } => "in_flight",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub rotation: Rotation,
    /// Audit action name.
    pub action: &'static str,
    /// Audit details (never secrets).
    pub details: serde_json::Value,
    /// The connection's current token becomes the rotation's new token (in the same
    /// transaction as the state change).
    pub replaces_token: bool,
    pub effects: Vec<Effect>,
}

/// Work to do after the transition is committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// With the token held in memory: AWS probe, Entra test, save, verify.
    RunChecks,
    /// Re-test the saved credentials, so that deleting the wrong token shows at once.
    RetestSavedCredentials,
}

/// Starts a rotation of `connection`, unless one is already in flight.
pub struct StartRequest<'a> {
    pub connection: &'a str,
    pub in_flight: Option<&'a Rotation>,
    pub requester: &'a Actor,
    pub old_token_id: Option<String>,
    pub channel: Option<String>,
    pub thread_ts: Option<String>,
    pub approval_window: Duration,
    pub now: DateTime<Utc>,
}

/// The new rotation (its id is assigned by the store), or why none can start.
pub fn decide_start(req: StartRequest<'_>) -> Result<Rotation, Denial> {
    if let Some(existing) = req.in_flight {
        return Err(Denial::InFlight {
            connection: req.connection.to_owned(),
            id: existing.id,
            state: existing.state,
        });
    }
    let Some(requester) = req.requester.user_id() else {
        return Err(Denial::PersonOnly);
    };
    Ok(Rotation {
        id: RotationId(0),
        connection: req.connection.to_owned(),
        state: RotationState::AwaitingApproval,
        version: 1,
        requested_by: requester.to_owned(),
        approvals: Vec::new(),
        approved_by: None,
        driven_by: None,
        token_entered_by: None,
        deletion_confirmed_by: None,
        deletion_confirmed_at: None,
        old_token_id: req.old_token_id,
        new_token_id: None,
        new_token_fingerprint: None,
        new_token_created: None,
        new_token_expires: None,
        checks: Checks::default(),
        last_error: None,
        channel: req.channel,
        thread_ts: req.thread_ts,
        created_at: req.now,
        updated_at: req.now,
        approval_deadline: req.now + req.approval_window,
    })
}

/// What is wrong with a token submission's details (never with the token itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmissionProblem {
    #[error("The new token's expiry date must be in the future.")]
    ExpiryNotInFuture,
    #[error(
        "That is the old token's id. Enter the id of the token you just generated, or leave it empty."
    )]
    OldTokenId,
}

/// Checks a submission's token id and expiry against the rotation: the rule `decide` applies,
/// also used to answer inside the modal before it closes.
pub fn check_submission(
    rotation: &Rotation,
    new_token_id: Option<&str>,
    expires: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), SubmissionProblem> {
    if expires.is_some_and(|expires| expires <= now) {
        return Err(SubmissionProblem::ExpiryNotInFuture);
    }
    if new_token_id.is_some() && new_token_id == rotation.old_token_id.as_deref() {
        return Err(SubmissionProblem::OldTokenId);
    }
    Ok(())
}

/// The states in which a command applies. Outside them it is stale ("already done").
fn applies_in(command: &Command, state: RotationState) -> bool {
    use RotationState::*;
    match command {
        Command::Approve | Command::Reject { .. } | Command::ApprovalTimeout => {
            state == AwaitingApproval
        }
        Command::Cancel => matches!(state, AwaitingApproval | AwaitingNewToken | NeedsAttention),
        Command::SubmitToken(_) => state == AwaitingNewToken,
        Command::AwsProbePassed | Command::EntraTestPassed => state == Checking,
        Command::Saved => state == Saving,
        Command::Verified { .. } => state == Verifying,
        Command::Failed { stage, .. } => match stage {
            Stage::AwsProbe | Stage::EntraTest => state == Checking,
            Stage::Save => state == Saving,
            Stage::Verify => state == Verifying,
            Stage::AfterDeletion => state == Completed,
        },
        Command::ConfirmOldTokenDeleted => state == AwaitingOldTokenDeletion,
        Command::Retry => state == NeedsAttention,
        Command::Recover => state.holds_token_in_memory(),
    }
}

/// Whether `actor` may send `command` to `rotation` (already known to apply).
fn permission(
    rotation: &Rotation,
    command: &Command,
    actor: &Actor,
    policy: Policy,
) -> Result<(), Denial> {
    if command.is_system_only() {
        return match actor {
            Actor::System => Ok(()),
            Actor::User { .. } => Err(Denial::SystemOnly),
        };
    }
    let Actor::User { id, is_approver } = actor else {
        return Err(Denial::PersonOnly);
    };
    let is_requester = *id == rotation.requested_by;
    let lead_only = |act| {
        if *is_approver {
            Ok(())
        } else {
            Err(Denial::NotApprover(act))
        }
    };
    match command {
        Command::Approve => {
            lead_only(Act::Approve)?;
            if is_requester && !policy.allow_self_approval {
                Err(Denial::OwnRequest)
            } else if rotation.approvals.contains(id) {
                Err(Denial::ApprovedAlready {
                    approvals: rotation.approvals.len(),
                    required: usize::from(policy.approvals_required.max(1)),
                })
            } else {
                Ok(())
            }
        }
        Command::Reject { .. } => lead_only(Act::Reject),
        Command::Cancel
            if !(*is_approver
                || (is_requester && rotation.state == RotationState::AwaitingApproval)) =>
        {
            Err(Denial::MayNotCancel)
        }
        Command::SubmitToken(_) => lead_only(Act::EnterToken),
        Command::ConfirmOldTokenDeleted => lead_only(Act::ConfirmDeletion),
        Command::Retry => lead_only(Act::Restart),
        _ => Ok(()),
    }
}

/// Decides what `command` from `actor` does to `rotation` at `now`.
pub fn decide(
    rotation: &Rotation,
    command: &Command,
    actor: &Actor,
    policy: Policy,
    now: DateTime<Utc>,
) -> Decision {
    if !applies_in(command, rotation.state) {
        return Decision::AlreadyDone(rotation.state);
    }
    if let Err(reason) = permission(rotation, command, actor, policy) {
        return Decision::Refused(reason);
    }
    let mut next = rotation.clone();
    next.version += 1;
    next.updated_at = now;
    let mut details = json!({});
    let mut effects = Vec::new();
    let mut replaces_token = false;
    let who = actor.user_id().map(str::to_owned);

    match command {
        Command::Approve => {
            next.approvals.extend(who.clone());
            let required = usize::from(policy.approvals_required.max(1));
            details = json!({ "approvals": next.approvals.len(), "required": required });
            if next.approvals.len() < required {
                // Not yet: the request waits for the next approver, and says so.
                return Decision::Transition(Box::new(Transition {
                    rotation: next,
                    action: "approval_added",
                    details,
                    replaces_token: false,
                    effects: Vec::new(),
                }));
            }
            next.state = RotationState::AwaitingNewToken;
            next.approved_by = who.clone();
            next.driven_by = who;
        }
        Command::Reject { reason } => {
            next.state = RotationState::Rejected;
            next.driven_by = who;
            details = json!({ "reason": reason });
        }
        Command::Cancel => {
            details = json!({ "from_state": rotation.state.as_str() });
            next.state = RotationState::Cancelled;
            next.driven_by = who;
        }
        Command::SubmitToken(Submission {
            fingerprint,
            new_token_id,
            expires,
        }) => {
            if let Err(problem) = check_submission(rotation, new_token_id.as_deref(), *expires, now)
            {
                return Decision::Refused(Denial::Submission(problem));
            }
            next.state = RotationState::Checking;
            next.token_entered_by = who.clone();
            next.driven_by = who;
            next.new_token_id = new_token_id.clone();
            next.new_token_fingerprint = Some(fingerprint.clone());
            next.new_token_created = Some(now);
            next.new_token_expires =
                Some(expires.unwrap_or(now + Duration::days(TOKEN_LIFETIME_DAYS)));
            next.checks = Checks::default();
            next.last_error = None;
            details = json!({
                "fingerprint": fingerprint,
                "new_token_id": new_token_id,
                "expires": next.new_token_expires,
            });
            effects.push(Effect::RunChecks);
        }
        Command::AwsProbePassed => next.checks.aws_ok = true,
        Command::EntraTestPassed => {
            next.checks.entra_test_ok = true;
            next.state = RotationState::Saving;
        }
        Command::Saved => {
            next.checks.saved = true;
            next.state = RotationState::Verifying;
        }
        Command::Verified { resumed } => {
            next.checks.verified = true;
            next.checks.resumed = *resumed;
            next.state = RotationState::AwaitingOldTokenDeletion;
            details = json!({ "provisioning_resumed": resumed });
        }
        Command::Failed { stage, reason } => {
            next.last_error = Some(reason.clone());
            next.state = match stage {
                Stage::AwsProbe | Stage::EntraTest => RotationState::AwaitingNewToken,
                Stage::Save | Stage::Verify | Stage::AfterDeletion => RotationState::NeedsAttention,
            };
            details = json!({ "stage": stage.as_str(), "reason": reason });
        }
        Command::ConfirmOldTokenDeleted => {
            next.state = RotationState::Completed;
            next.deletion_confirmed_by = who.clone();
            next.deletion_confirmed_at = Some(now);
            next.driven_by = who;
            replaces_token = true;
            details = json!({
                "old_token_id": rotation.old_token_id,
                "new_token_id": rotation.new_token_id,
                "new_token_expires": rotation.new_token_expires,
            });
            effects.push(Effect::RetestSavedCredentials);
        }
        Command::Retry => {
            next.state = RotationState::AwaitingNewToken;
            next.driven_by = who;
            next.checks = Checks::default();
        }
        Command::Recover => {
            next.state = RotationState::AwaitingNewToken;
            next.checks = Checks::default();
            next.last_error = Some(
                "The bot restarted while it was checking the new token. The token was only in memory, \
                 so please enter it again (saving the same token twice is harmless)."
                    .to_owned(),
            );
            details = json!({ "from_state": rotation.state.as_str(), "why": "the token was held only in memory" });
        }
        Command::ApprovalTimeout => {
            if now < rotation.approval_deadline {
                // The window is still open: nothing to do yet (only the bot sends this).
                return Decision::AlreadyDone(rotation.state);
            }
            next.state = RotationState::Expired;
            details = json!({ "deadline": rotation.approval_deadline });
        }
    }
    Decision::Transition(Box::new(Transition {
        rotation: next,
        action: command.audit_action(),
        details,
        replaces_token,
        effects,
    }))
}
