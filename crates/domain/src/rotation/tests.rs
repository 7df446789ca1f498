//! Every state × command pair, and the rules about who may act.

use super::*;
use RotationState::*;
use chrono::{DateTime, Duration, TimeZone, Utc};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, 1, 10, 0, 0).unwrap()
}

const REQUESTER: &str = "U_REQUESTER";
const LEAD: &str = "U_LEAD";
const MEMBER: &str = "U_MEMBER";

fn rotation_in(state: RotationState) -> Rotation {
    let requester = Actor::user(REQUESTER, false);
    let mut rotation = decide_start(StartRequest {
        connection: "prod",
        in_flight: None,
        requester: &requester,
        old_token_id: Some("tok-old".to_owned()),
        channel: Some("C1".to_owned()),
        thread_ts: Some("1.0".to_owned()),
        approval_window: Duration::hours(24),
        now: now() - Duration::days(2),
    })
    .unwrap();
    rotation.id = RotationId(7);
    rotation.state = state;
    rotation
}

fn submission() -> Submission {
    Submission {
        fingerprint: "0123456789ab".to_owned(),
        new_token_id: Some("tok-new".to_owned()),
        expires: None,
    }
}

fn every_command() -> Vec<(&'static str, Command)> {
    let failed = |stage| Command::Failed {
        stage,
        reason: "boom".to_owned(),
    };
    vec![
        ("Approve", Command::Approve),
        ("Reject", Command::Reject { reason: None }),
        ("Cancel", Command::Cancel),
        ("SubmitToken", Command::SubmitToken(submission())),
        ("AwsProbePassed", Command::AwsProbePassed),
        ("EntraTestPassed", Command::EntraTestPassed),
        ("Saved", Command::Saved),
        ("Verified", Command::Verified { resumed: true }),
        ("Failed(AwsProbe)", failed(Stage::AwsProbe)),
        ("Failed(EntraTest)", failed(Stage::EntraTest)),
        ("Failed(Save)", failed(Stage::Save)),
        ("Failed(Verify)", failed(Stage::Verify)),
        ("Failed(AfterDeletion)", failed(Stage::AfterDeletion)),
        ("ConfirmOldTokenDeleted", Command::ConfirmOldTokenDeleted),
        ("Retry", Command::Retry),
        ("Recover", Command::Recover),
        ("ApprovalTimeout", Command::ApprovalTimeout),
    ]
}

/// The allowed transitions, written out by hand; every pair not listed must be "already done".
const ALLOWED: &[(RotationState, &str, RotationState)] = &[
    (AwaitingApproval, "Approve", AwaitingNewToken),
    (AwaitingApproval, "Reject", Rejected),
    (AwaitingApproval, "Cancel", Cancelled),
    (AwaitingApproval, "ApprovalTimeout", Expired),
    (AwaitingNewToken, "Cancel", Cancelled),
    (AwaitingNewToken, "SubmitToken", Checking),
    (Checking, "AwsProbePassed", Checking),
    (Checking, "EntraTestPassed", Saving),
    (Checking, "Failed(AwsProbe)", AwaitingNewToken),
    (Checking, "Failed(EntraTest)", AwaitingNewToken),
    (Checking, "Recover", AwaitingNewToken),
    (Saving, "Saved", Verifying),
    (Saving, "Failed(Save)", NeedsAttention),
    (Saving, "Recover", AwaitingNewToken),
    (Verifying, "Verified", AwaitingOldTokenDeletion),
    (Verifying, "Failed(Verify)", NeedsAttention),
    (Verifying, "Recover", AwaitingNewToken),
    (
        AwaitingOldTokenDeletion,
        "ConfirmOldTokenDeleted",
        Completed,
    ),
    (Completed, "Failed(AfterDeletion)", NeedsAttention),
    (NeedsAttention, "Cancel", Cancelled),
    (NeedsAttention, "Retry", AwaitingNewToken),
];

#[test]
fn every_state_and_command_pair_is_decided() {
    let lead = Actor::user(LEAD, true);
    let mut checked = 0;
    for state in RotationState::ALL {
        for (name, command) in every_command() {
            let actor = if command.is_system_only() {
                Actor::System
            } else {
                lead.clone()
            };
            let rotation = rotation_in(state);
            let decision = decide(&rotation, &command, &actor, Policy::default(), now());
            let expected = ALLOWED
                .iter()
                .find(|(s, c, _)| *s == state && *c == name)
                .map(|(_, _, next)| *next);
            match (expected, decision) {
                (Some(next), Decision::Transition(t)) => {
                    assert_eq!(t.rotation.state, next, "{state} × {name}");
                    assert_eq!(
                        t.rotation.version,
                        rotation.version + 1,
                        "{state} × {name} bumps the version"
                    );
                    assert_eq!(t.action, command.audit_action());
                }
                (None, Decision::AlreadyDone(now_in)) => {
                    assert_eq!(now_in, state, "{state} × {name}");
                }
                (expected, other) => {
                    panic!("{state} × {name}: expected {expected:?}, got {other:?}")
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 11 * 17);
}

#[test]
fn a_user_cannot_send_what_only_the_bot_reports() {
    let rotation = rotation_in(Checking);
    let decision = decide(
        &rotation,
        &Command::EntraTestPassed,
        &Actor::user(LEAD, true),
        Policy::default(),
        now(),
    );
    assert_eq!(decision, Decision::Refused(Denial::SystemOnly));
}

#[test]
fn non_approver_cannot_approve() {
    let decision = decide(
        &rotation_in(AwaitingApproval),
        &Command::Approve,
        &Actor::user(MEMBER, false),
        Policy::default(),
        now(),
    );
    assert_eq!(
        decision,
        Decision::Refused(Denial::NotApprover(Act::Approve))
    );
}

#[test]
fn requester_cannot_approve_their_own_rotation_by_default() {
    let requester_as_lead = Actor::user(REQUESTER, true);
    let rotation = rotation_in(AwaitingApproval);
    let refused = decide(
        &rotation,
        &Command::Approve,
        &requester_as_lead,
        Policy::default(),
        now(),
    );
    assert_eq!(refused, Decision::Refused(Denial::OwnRequest));

    let allowed = decide(
        &rotation,
        &Command::Approve,
        &requester_as_lead,
        Policy {
            allow_self_approval: true,
            ..Policy::default()
        },
        now(),
    );
    let Decision::Transition(t) = allowed else {
        panic!("self-approval allowed by policy")
    };
    assert_eq!(t.rotation.approved_by.as_deref(), Some(REQUESTER));
}

#[test]
fn only_approvers_drive_the_steps() {
    let member = Actor::user(MEMBER, false);
    for (state, command) in [
        (AwaitingNewToken, Command::SubmitToken(submission())),
        (AwaitingOldTokenDeletion, Command::ConfirmOldTokenDeleted),
        (NeedsAttention, Command::Retry),
        (AwaitingApproval, Command::Reject { reason: None }),
        (AwaitingNewToken, Command::Cancel),
    ] {
        let decision = decide(
            &rotation_in(state),
            &command,
            &member,
            Policy::default(),
            now(),
        );
        assert!(
            matches!(decision, Decision::Refused(_)),
            "{state} × {command:?}: {decision:?}"
        );
    }
}

#[test]
fn requester_may_cancel_before_approval_only() {
    let requester = Actor::user(REQUESTER, false);
    let before = decide(
        &rotation_in(AwaitingApproval),
        &Command::Cancel,
        &requester,
        Policy::default(),
        now(),
    );
    assert!(matches!(before, Decision::Transition(t) if t.rotation.state == Cancelled));
    let after = decide(
        &rotation_in(AwaitingNewToken),
        &Command::Cancel,
        &requester,
        Policy::default(),
        now(),
    );
    assert!(matches!(after, Decision::Refused(_)));
}

#[test]
fn a_second_rotation_cannot_start_while_one_is_in_flight() {
    let existing = rotation_in(AwaitingNewToken);
    let member = Actor::user(MEMBER, false);
    let result = decide_start(StartRequest {
        connection: "prod",
        in_flight: Some(&existing),
        requester: &member,
        old_token_id: None,
        channel: None,
        thread_ts: None,
        approval_window: Duration::hours(24),
        now: now(),
    });
    assert_eq!(
        result.unwrap_err(),
        Denial::InFlight {
            connection: "prod".to_owned(),
            id: RotationId(7),
            state: AwaitingNewToken
        }
    );
}

#[test]
fn submitted_token_expires_a_year_later_unless_a_date_is_given() {
    let lead = Actor::user(LEAD, true);
    let Decision::Transition(t) = decide(
        &rotation_in(AwaitingNewToken),
        &Command::SubmitToken(submission()),
        &lead,
        Policy::default(),
        now(),
    ) else {
        panic!()
    };
    assert_eq!(
        t.rotation.new_token_expires,
        Some(now() + Duration::days(365))
    );
    assert_eq!(t.effects, vec![Effect::RunChecks]);

    let chosen = now() + Duration::days(200);
    let with_date = Command::SubmitToken(Submission {
        expires: Some(chosen),
        ..submission()
    });
    let Decision::Transition(t) = decide(
        &rotation_in(AwaitingNewToken),
        &with_date,
        &lead,
        Policy::default(),
        now(),
    ) else {
        panic!()
    };
    assert_eq!(t.rotation.new_token_expires, Some(chosen));

    let past = Command::SubmitToken(Submission {
        expires: Some(now() - Duration::days(1)),
        ..submission()
    });
    assert!(matches!(
        decide(
            &rotation_in(AwaitingNewToken),
            &past,
            &lead,
            Policy::default(),
            now()
        ),
        Decision::Refused(_)
    ));
}

#[test]
fn the_old_token_id_is_not_accepted_as_the_new_one() {
    let same = Command::SubmitToken(Submission {
        new_token_id: Some("tok-old".to_owned()),
        ..submission()
    });
    let decision = decide(
        &rotation_in(AwaitingNewToken),
        &same,
        &Actor::user(LEAD, true),
        Policy::default(),
        now(),
    );
    assert_eq!(
        decision,
        Decision::Refused(Denial::Submission(SubmissionProblem::OldTokenId))
    );
}

#[test]
fn confirming_deletion_records_who_and_replaces_the_token() {
    let lead = Actor::user(LEAD, true);
    let Decision::Transition(t) = decide(
        &rotation_in(AwaitingOldTokenDeletion),
        &Command::ConfirmOldTokenDeleted,
        &lead,
        Policy::default(),
        now(),
    ) else {
        panic!()
    };
    assert_eq!(t.rotation.deletion_confirmed_by.as_deref(), Some(LEAD));
    assert_eq!(t.rotation.deletion_confirmed_at, Some(now()));
    assert!(t.replaces_token);
    assert_eq!(t.effects, vec![Effect::RetestSavedCredentials]);
    assert_eq!(t.details["old_token_id"], "tok-old");
}

#[test]
fn approval_does_not_time_out_early() {
    let mut rotation = rotation_in(AwaitingApproval);
    rotation.approval_deadline = now() + Duration::minutes(1);
    let decision = decide(
        &rotation,
        &Command::ApprovalTimeout,
        &Actor::System,
        Policy::default(),
        now(),
    );
    assert!(matches!(decision, Decision::AlreadyDone(_)));
}

#[test]
fn recovery_asks_for_the_token_again() {
    let Decision::Transition(t) = decide(
        &rotation_in(Saving),
        &Command::Recover,
        &Actor::System,
        Policy::default(),
        now(),
    ) else {
        panic!()
    };
    assert_eq!(t.rotation.state, AwaitingNewToken);
    assert!(t.rotation.last_error.unwrap().contains("enter it again"));
    assert_eq!(t.details["from_state"], "Saving");
}

#[test]
fn whoever_rejects_or_cancels_is_recorded() {
    let lead = Actor::user(LEAD, true);
    for (state, command, actor, who) in [
        (
            AwaitingApproval,
            Command::Reject { reason: None },
            lead.clone(),
            LEAD,
        ),
        (
            AwaitingApproval,
            Command::Cancel,
            Actor::user(REQUESTER, false),
            REQUESTER,
        ),
        (NeedsAttention, Command::Cancel, lead.clone(), LEAD),
    ] {
        let Decision::Transition(t) = decide(
            &rotation_in(state),
            &command,
            &actor,
            Policy::default(),
            now(),
        ) else {
            panic!("{state} × {command:?} applies")
        };
        assert_eq!(
            t.rotation.driven_by.as_deref(),
            Some(who),
            "{state} × {command:?}"
        );
    }
}

/// The two-person rule: who approves, in which order, under which policy, and where the
/// rotation stands after each approval (or why it is refused).
#[test]
fn approvals_required_table() {
    const OTHER: &str = "U_OTHER_LEAD";
    struct Case {
        required: u8,
        allow_self: bool,
        approvers: &'static [&'static str],
        /// After each approval: the state, or the refusal.
        expect: &'static [Result<RotationState, Denial>],
    }
    let cases = [
        Case {
            required: 1,
            allow_self: false,
            approvers: &[LEAD],
            expect: &[Ok(AwaitingNewToken)],
        },
        Case {
            required: 2,
            allow_self: false,
            approvers: &[LEAD, OTHER],
            expect: &[Ok(AwaitingApproval), Ok(AwaitingNewToken)],
        },
        Case {
            required: 2,
            allow_self: false,
            approvers: &[LEAD, LEAD],
            expect: &[
                Ok(AwaitingApproval),
                Err(Denial::ApprovedAlready {
                    approvals: 1,
                    required: 2,
                }),
            ],
        },
        Case {
            required: 2,
            allow_self: false,
            approvers: &[REQUESTER, LEAD],
            expect: &[Err(Denial::OwnRequest), Ok(AwaitingApproval)],
        },
        Case {
            required: 2,
            allow_self: true,
            approvers: &[REQUESTER, LEAD],
            expect: &[Ok(AwaitingApproval), Ok(AwaitingNewToken)],
        },
        Case {
            required: 2,
            allow_self: false,
            approvers: &[MEMBER, LEAD],
            expect: &[Err(Denial::NotApprover(Act::Approve)), Ok(AwaitingApproval)],
        },
        Case {
            // 0 (Policy built by hand) counts as 1.
            required: 0,
            allow_self: false,
            approvers: &[LEAD],
            expect: &[Ok(AwaitingNewToken)],
        },
    ];
    for (index, case) in cases.iter().enumerate() {
        let policy = Policy {
            allow_self_approval: case.allow_self,
            approvals_required: case.required,
        };
        let mut rotation = rotation_in(AwaitingApproval);
        for (who, expected) in case.approvers.iter().zip(case.expect) {
            let actor = Actor::user(*who, *who != MEMBER);
            match (
                decide(&rotation, &Command::Approve, &actor, policy, now()),
                expected,
            ) {
                (Decision::Transition(t), Ok(state)) => {
                    assert_eq!(t.rotation.state, *state, "case {index}, {who}");
                    assert_eq!(t.rotation.approvals.last().map(String::as_str), Some(*who));
                    let done = *state == AwaitingNewToken;
                    assert_eq!(t.action, if done { "approved" } else { "approval_added" });
                    assert_eq!(t.rotation.approved_by.is_some(), done, "case {index}");
                    rotation = t.rotation;
                }
                (Decision::Refused(denial), Err(expected)) => {
                    assert_eq!(denial, *expected, "case {index}, {who}");
                }
                (other, expected) => {
                    panic!("case {index}, {who}: {other:?}, expected {expected:?}")
                }
            }
        }
    }
}
