//! The rotation domain: states, commands, who may do what, expiry thresholds and which
//! expiry warning is due.
//! No I/O here: everything is a pure function of its inputs, tested without fakes.

mod command;
mod decide;
pub mod expiry;
pub mod history;
mod registration;
mod state;
mod token;
pub mod warnings;

pub use command::{Actor, Command, Policy, Stage, Submission};
pub use decide::{
    Act, Decision, Denial, Effect, StartRequest, SubmissionProblem, TOKEN_LIFETIME_DAYS,
    Transition, check_submission, decide, decide_start,
};
pub use registration::{
    Registered, RegistrationProblem, check_creation_day, check_registration, creation_day_start,
};
pub use state::{Checks, Rotation, RotationId, RotationState};
pub use token::{ExpirySource, TokenRecord, plausible_token_id};

#[cfg(test)]
mod tests;
