//! What came of a command, as data: the adapters (Slack, the web form) word it for people
//! (`slack::render::outcome` holds the English).

use crate::rotation::{
    Denial, RegistrationProblem, Rotation, RotationId, RotationState, SubmissionProblem,
};
use chrono::{DateTime, Utc};

/// The result of a command, for the person who sent it.
#[derive(Clone, Debug, PartialEq)]
pub enum CommandOutcome {
    /// The rotation changed (and was persisted): its thread shows it.
    Changed(Box<Rotation>),
    /// Something other than a rotation was recorded.
    Recorded(Recorded),
    /// Nothing to do: the step was already taken (a double click, a stale button).
    AlreadyDone(AlreadyDone),
    /// Not allowed, or bad input: nothing changed (the refusal may be audited).
    Refused(Refusal),
}

/// Something recorded that is not a rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// `/scim register`: the connection's current token.
    TokenRegistered {
        connection: String,
        token_id: String,
        expires: DateTime<Utc>,
    },
}

/// Why nothing needed doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlreadyDone {
    /// The step was taken: the rotation is now in this state (`rotation::decide`).
    Step(RotationState),
    /// Another command changed the rotation at the same moment; its thread shows which.
    ChangedConcurrently,
}

/// Why a command was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No configured connection has this name; `known` lists those that do.
    NoSuchConnection { name: String, known: Vec<String> },
    /// No rotation has this id.
    NoSuchRotation(RotationId),
    /// The rotation's connection was removed from the configuration since it started.
    ConnectionGone,
    /// A rotation of the connection is already open.
    InFlight { connection: String },
    /// A token submission's details (never the token itself) are wrong.
    Submission(SubmissionProblem),
    /// A token registration is not allowed or its date is wrong.
    Registration(RegistrationProblem),
    /// A token submission arrived without a token (it must come through a form).
    TokenRequired,
    /// The domain's rule said no (`rotation::decide`).
    Rule(Denial),
}
