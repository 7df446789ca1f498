//! The rule for registering the token a connection uses now (`/scim register`, the CLI's
//! `tokens add` keeps its own explicit dates): who may, and which creation dates are valid.

use super::command::Actor;
use super::decide::TOKEN_LIFETIME_DAYS;
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Why a registration is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationProblem {
    #[error("Only a team lead (an approver) can register a token.")]
    NotApprover,
    #[error("The creation date cannot be in the future.")]
    CreatedInFuture,
}

/// A token created at `created`: when it expires, or why it cannot be registered. The date
/// drives every warning, so only approvers may set it.
pub fn check_registration(
    actor: &Actor,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Registered, RegistrationProblem> {
    if !actor.is_approver() {
        return Err(RegistrationProblem::NotApprover);
    }
    check_created(created, now)
}

/// The date part of the rule for a day picked in a form (midnight UTC), answered inside
/// the modal before it closes.
pub fn check_creation_day(
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Registered, RegistrationProblem> {
    check_created(creation_day_start(day), now)
}

/// A picked creation day as a time: that day at midnight UTC.
pub fn creation_day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

fn check_created(
    created: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Registered, RegistrationProblem> {
    if created > now {
        return Err(RegistrationProblem::CreatedInFuture);
    }
    Ok(Registered {
        created,
        expires: created + Duration::days(TOKEN_LIFETIME_DAYS),
    })
}

/// A valid registration's dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registered {
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-06-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn today_and_earlier_register_a_year_of_life() {
        let lead = Actor::user("U1", true);
        let today = now().date_naive();
        let registered = check_creation_day(today, now()).unwrap();
        assert_eq!(registered.expires - registered.created, Duration::days(365));
        assert!(check_registration(&lead, now() - Duration::days(30), now()).is_ok());
    }

    #[test]
    fn tomorrow_and_non_approvers_are_refused() {
        let lead = Actor::user("U1", true);
        let member = Actor::user("U2", false);
        let tomorrow = now().date_naive() + Duration::days(1);
        assert_eq!(
            check_creation_day(tomorrow, now()),
            Err(RegistrationProblem::CreatedInFuture)
        );
        assert_eq!(
            check_registration(&lead, now() + Duration::seconds(1), now()),
            Err(RegistrationProblem::CreatedInFuture)
        );
        assert_eq!(
            check_registration(&member, now(), now()),
            Err(RegistrationProblem::NotApprover)
        );
    }
}
