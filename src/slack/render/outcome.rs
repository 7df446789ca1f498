//! The words for what came of a person's command ([`Outcome`]): the ephemeral reply to the
//! clicker, the answer to a slash command.

use crate::engine::{AlreadyDone, Outcome, Recorded, Refusal};

/// What to tell the sender, or `None` when the rotation's thread already shows it.
pub fn outcome_reply(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Changed(_) => None,
        Outcome::Recorded(recorded) => Some(recorded_text(recorded)),
        Outcome::AlreadyDone(done) => Some(already_done_text(done)),
        Outcome::Refused(refusal) => Some(refusal_text(refusal)),
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
        AlreadyDone::Step(text) => text.clone(),
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
        Refusal::Rule(text) => text.clone(),
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
    use crate::rotation::{RegistrationProblem, RotationId};

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
            outcome_reply(&Outcome::AlreadyDone(AlreadyDone::ChangedConcurrently)).unwrap(),
            "This rotation was changed at the same moment; look at its thread for where it stands."
        );
    }
}
