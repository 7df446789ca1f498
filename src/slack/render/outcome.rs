//! The words for what came of a person's command ([`CommandOutcome`]): the ephemeral reply to the
//! clicker, the answer to a slash command.

use crate::engine::{AlreadyDone, CommandOutcome, Recorded, Refusal};
use crate::rotation::{Act, Denial, RotationState};

/// What to tell the sender, or `None` when the rotation's thread already shows it.
pub fn outcome_reply(outcome: &CommandOutcome) -> Option<String> {
    match outcome {
        CommandOutcome::Changed(_) => None,
        CommandOutcome::Recorded(recorded) => Some(recorded_text(recorded)),
        CommandOutcome::AlreadyDone(done) => Some(already_done_text(done)),
        CommandOutcome::Refused(refusal) => Some(refusal_text(refusal)),
    }
}

pub fn recorded_text(recorded: &Recorded) -> String {
    match recorded {
        Recorded::TokenRegistered {
            connection,
            token_id,
            expires,
        } => format!(
            "Registered token {token_id} for {connection}: it expires on {}.",
            expires.format("%Y-%m-%d")
        ),
    }
}

pub fn already_done_text(done: &AlreadyDone) -> String {
    match done {
        AlreadyDone::Step(state) => step_done(*state),
        AlreadyDone::ChangedConcurrently => {
            "This rotation was changed at the same moment; look at its thread for where it stands."
                .to_owned()
        }
    }
}

pub fn refusal_text(refusal: &Refusal) -> String {
    match refusal {
        Refusal::NoSuchConnection { name, known } => no_such_connection(name, known),
        Refusal::NoSuchRotation(id) => format!("There is no rotation #{id}."),
        Refusal::ConnectionGone => {
            "This rotation's connection is no longer in the bot's configuration.".to_owned()
        }
        Refusal::InFlight { connection } => {
            format!("A rotation of {connection} is already in progress.")
        }
        Refusal::Submission(problem) => problem.to_string(),
        Refusal::Registration(problem) => problem.to_string(),
        Refusal::TokenRequired => "Enter the token through the modal.".to_owned(),
        Refusal::Rule(denial) => denial_text(denial),
    }
}

/// A click on a step that was taken already: where the rotation stands now.
fn step_done(state: RotationState) -> String {
    if state.is_terminal() {
        format!("This rotation is already {}.", state.describe())
    } else {
        format!(
            "This step is done: the rotation is now {}.",
            state.describe()
        )
    }
}

/// Why the rules said no ([`Denial`]), for the sender.
pub fn denial_text(denial: &Denial) -> String {
    match denial {
        Denial::SystemOnly => "Only the bot itself reports check results.".to_owned(),
        Denial::PersonOnly => "The bot cannot act for a person here.".to_owned(),
        Denial::NotApprover(act) => {
            let what = match act {
                Act::Approve => "approve a rotation",
                Act::Reject => {
                    return "Only a team lead (an approver) can reject a rotation. If you \
                            requested it, cancel it instead."
                        .to_owned();
                }
                Act::EnterToken => "enter the new token",
                Act::ConfirmDeletion => "confirm the old token's deletion",
                Act::Restart => "restart this rotation",
            };
            format!("Only a team lead (an approver) can {what}.")
        }
        Denial::OwnRequest => {
            "You requested this rotation, so another team lead has to approve it.".to_owned()
        }
        Denial::ApprovedAlready {
            approvals,
            required,
        } => format!(
            "You approved already: {approvals} of {required} approvals. Another team lead has to \
             approve too."
        ),
        Denial::MayNotCancel => {
            "Only the requester (before approval) or a team lead can cancel this rotation."
                .to_owned()
        }
        Denial::Submission(problem) => problem.to_string(),
        Denial::InFlight {
            connection,
            id,
            state,
        } => format!(
            "A rotation of {connection} is already in progress (#{id}, {}). Follow it in its \
             thread.",
            state.describe()
        ),
    }
}

/// "There is no connection named …", repeating the name only when it is safe to echo.
pub fn no_such_connection(name: &str, known: &[String]) -> String {
    let known = known.join(", ");
    if crate::secret::safe_to_echo(name) {
        format!("There is no connection named \"{name}\". Known connections: {known}.")
    } else {
        format!("There is no such connection. Known connections: {known}.")
    }
}

/// The reply when the bot failed on its side (the cause is logged, not shown).
pub const BOT_FAULT: &str =
    "Something went wrong on the bot's side; it has been logged. Try again in a moment.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotation::{RegistrationProblem, RotationId, SubmissionProblem};

    /// The domain says why (data); these are the words the sender reads. Each is pinned, since
    /// people and runbooks quote them.
    #[test]
    fn each_denial_of_the_rules_is_worded_for_the_sender() {
        let cases = [
            (
                Denial::SystemOnly,
                "Only the bot itself reports check results.",
            ),
            (Denial::PersonOnly, "The bot cannot act for a person here."),
            (
                Denial::NotApprover(Act::Approve),
                "Only a team lead (an approver) can approve a rotation.",
            ),
            (
                Denial::NotApprover(Act::Reject),
                "Only a team lead (an approver) can reject a rotation. If you requested it, \
                 cancel it instead.",
            ),
            (
                Denial::NotApprover(Act::EnterToken),
                "Only a team lead (an approver) can enter the new token.",
            ),
            (
                Denial::NotApprover(Act::ConfirmDeletion),
                "Only a team lead (an approver) can confirm the old token's deletion.",
            ),
            (
                Denial::NotApprover(Act::Restart),
                "Only a team lead (an approver) can restart this rotation.",
            ),
            (
                Denial::OwnRequest,
                "You requested this rotation, so another team lead has to approve it.",
            ),
            (
                Denial::ApprovedAlready {
                    approvals: 1,
                    required: 2,
                },
                "You approved already: 1 of 2 approvals. Another team lead has to approve too.",
            ),
            (
                Denial::MayNotCancel,
                "Only the requester (before approval) or a team lead can cancel this rotation.",
            ),
            (
                Denial::Submission(SubmissionProblem::OldTokenId),
                "That is the old token's id. Enter the id of the token you just generated, or \
                 leave it empty.",
            ),
            (
                Denial::InFlight {
                    connection: "prod".to_owned(),
                    id: RotationId(7),
                    state: RotationState::AwaitingNewToken,
                },
                "A rotation of prod is already in progress (#7, waiting for the new token). \
                 Follow it in its thread.",
            ),
        ];
        for (denial, words) in cases {
            assert_eq!(
                refusal_text(&Refusal::Rule(denial.clone())),
                words,
                "{denial:?}"
            );
        }
        assert_eq!(
            already_done_text(&AlreadyDone::Step(RotationState::Completed)),
            "This rotation is already completed."
        );
        assert_eq!(
            already_done_text(&AlreadyDone::Step(RotationState::AwaitingNewToken)),
            "This step is done: the rotation is now waiting for the new token."
        );
    }

    #[test]
    fn refusals_are_worded_for_the_sender() {
        let known = vec!["prod".to_owned(), "staging".to_owned()];
        assert_eq!(
            refusal_text(&Refusal::NoSuchConnection {
                name: "prdo".to_owned(),
                known: known.clone()
            }),
            "There is no connection named \"prdo\". Known connections: prod, staging."
        );
        let pasted = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl";
        let text = refusal_text(&Refusal::NoSuchConnection {
            name: pasted.to_owned(),
            known,
        });
        assert!(!text.contains(pasted), "{text}");
        assert_eq!(
            refusal_text(&Refusal::NoSuchRotation(RotationId(7))),
            "There is no rotation #7."
        );
        assert_eq!(
            refusal_text(&Refusal::Registration(RegistrationProblem::NotApprover)),
            "Only a team lead (an approver) can register a token."
        );
        assert_eq!(
            outcome_reply(&CommandOutcome::AlreadyDone(
                AlreadyDone::ChangedConcurrently
            ))
            .unwrap(),
            "This rotation was changed at the same moment; look at its thread for where it stands."
        );
    }
}
