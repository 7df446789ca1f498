//! The engine against the local fakes of AWS SCIM, Microsoft login and Graph.

use crate::support::*;
use scim_rotator::engine::{AlreadyDone, CommandOutcome};
use scim_rotator::rotation::{Command, RotationState};
use scim_rotator::slack::render;
use scim_sandbox::{Fault, Route};

#[tokio::test]
async fn happy_path_rotates_the_token_end_to_end() {
    let env = TestEnv::start().await;
    let old = env.sandbox.current_token.clone();
    let rotation = env.approved_rotation().await;
    assert_eq!(rotation.old_token_id.as_deref(), Some(old.id.as_str()));

    let new = env.generate_token();
    let submitted = env.submit(rotation.id, &new.secret, Some(&new.id)).await;
    assert!(
        matches!(submitted, CommandOutcome::Changed(ref r) if r.state == RotationState::Checking)
    );
    let checked = env
        .wait_for(rotation.id, RotationState::AwaitingOldTokenDeletion)
        .await;
    assert!(
        checked.checks.aws_ok
            && checked.checks.entra_test_ok
            && checked.checks.saved
            && checked.checks.verified
    );
    assert!(
        !checked.checks.resumed,
        "the job was active: nothing to resume"
    );
    assert_eq!(
        env.sandbox.microsoft.saved_token_fingerprint(),
        Some(new.fingerprint())
    );

    // The lead deletes the old token in the console and confirms.
    env.sandbox
        .aws
        .delete_token(&env.sandbox.aws_tenant, &old.id)
        .unwrap();
    let done = env
        .engine
        .apply(rotation.id, Command::ConfirmOldTokenDeleted, &lead())
        .await
        .unwrap();
    assert!(matches!(done, CommandOutcome::Changed(ref r) if r.state == RotationState::Completed));
    assert!(env.engine.drain(DEADLINE).await);

    let current = env.store.current_token(CONNECTION).unwrap().unwrap();
    assert_eq!(current.token_id.as_deref(), Some(new.id.as_str()));
    assert_eq!(
        current.expires_at,
        Some(env.clock_now() + chrono::Duration::days(365))
    );
    assert_eq!(
        current.fingerprint,
        Some(new.fingerprint().as_str().to_owned())
    );
    assert_eq!(
        env.audit_actions(),
        [
            "token_registered",
            "rotation_requested",
            "approved",
            "token_submitted",
            "aws_probe_passed",
            "entra_test_passed",
            "token_saved",
            "saved_token_verified",
            "old_token_deletion_confirmed",
            "post_deletion_check_passed",
        ]
    );
    let confirmed = env
        .store
        .audit_records(&Default::default())
        .unwrap()
        .into_iter()
        .find(|r| r.action == "old_token_deletion_confirmed")
        .unwrap();
    assert_eq!(confirmed.actor, LEAD);
    assert_eq!(confirmed.details["old_token_id"], old.id.as_str());
    assert_eq!(env.store.verify_audit().unwrap(), Ok(10));
}

#[tokio::test]
async fn aws_401_returns_the_rotation_for_a_new_token_without_calling_entra() {
    let env = TestEnv::start().await;
    let rotation = env.approved_rotation().await;
    env.submit(rotation.id, "this-is-not-a-real-token-0123456789", None)
        .await;
    let back = env
        .wait_for(rotation.id, RotationState::AwaitingNewToken)
        .await;
    assert_eq!(
        back.last_error.as_deref(),
        Some("AWS rejected this token (or the SCIM endpoint's tenant id is wrong)")
    );
    assert_eq!(
        env.sandbox.microsoft.count("POST", "/validateCredentials"),
        0
    );
    assert_eq!(env.sandbox.microsoft.count("PUT", "/secrets"), 0);
}

#[tokio::test]
async fn entra_validation_failure_never_saves_the_token() {
    let env = TestEnv::start().await;
    let rotation = env.approved_rotation().await;
    env.sandbox.microsoft.set_aws_reachable(false);
    env.submits_new_token(rotation.id).await;
    let back = env
        .wait_for(rotation.id, RotationState::AwaitingNewToken)
        .await;
    assert!(back.checks.aws_ok);
    assert!(
        back.last_error
            .unwrap()
            .contains("could not reach the AWS SCIM endpoint")
    );
    assert_eq!(
        env.sandbox.microsoft.count("POST", "/validateCredentials"),
        1
    );
    assert_eq!(
        env.sandbox.microsoft.count("PUT", "/secrets"),
        0,
        "no PUT after a failed test"
    );
    assert_eq!(
        env.sandbox.microsoft.saved_token_fingerprint(),
        Some(env.sandbox.current_token.fingerprint())
    );
}

#[tokio::test]
async fn throttling_with_retry_after_is_waited_out() {
    let env = TestEnv::start().await;
    let rotation = env.approved_rotation().await;
    env.sandbox.microsoft.faults().push(
        Route::ValidateCredentials,
        Fault::Status {
            code: 429,
            retry_after: Some(1),
            times: 1,
        },
    );
    let new = env.generate_token();
    let began = std::time::Instant::now();
    env.submit(rotation.id, &new.secret, None).await;
    env.wait_for(rotation.id, RotationState::AwaitingOldTokenDeletion)
        .await;
    assert!(
        began.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After was honoured"
    );
    // One 429, one success for the new token, one for the saved credentials.
    assert_eq!(
        env.sandbox.microsoft.count("POST", "/validateCredentials"),
        3
    );
}

#[tokio::test]
async fn repeated_server_errors_give_up_within_the_retry_budget() {
    let env = TestEnv::start().await;
    let rotation = env.approved_rotation().await;
    env.sandbox.microsoft.faults().push(
        Route::ValidateCredentials,
        Fault::Status {
            code: 500,
            retry_after: None,
            times: usize::MAX,
        },
    );
    env.submits_new_token(rotation.id).await;
    let back = env
        .wait_for(rotation.id, RotationState::AwaitingNewToken)
        .await;
    let reason = back.last_error.unwrap();
    assert!(
        reason.contains("attempt"),
        "says how often it tried: {reason}"
    );
    assert!(reason.contains("500"), "names the status: {reason}");
    assert!(env.sandbox.microsoft.count("POST", "/validateCredentials") > 1);
    assert_eq!(env.sandbox.microsoft.count("PUT", "/secrets"), 0);
}

#[tokio::test]
async fn a_hung_endpoint_hits_the_request_timeout() {
    let env = TestEnv::start_with(scim_rotator::retry::RetryPolicy {
        request_timeout: std::time::Duration::from_millis(300),
        ..test_retry()
    })
    .await;
    let rotation = env.approved_rotation().await;
    for _ in 0..10 {
        env.sandbox
            .aws
            .faults()
            .push(Route::ScimServiceProviderConfig, Fault::Hang);
    }
    env.submits_new_token(rotation.id).await;
    let back = env
        .wait_for(rotation.id, RotationState::AwaitingNewToken)
        .await;
    let reason = back.last_error.unwrap();
    assert!(reason.contains("did not answer"), "{reason}");
}

#[tokio::test]
async fn a_failed_save_needs_attention() {
    let env = TestEnv::start().await;
    let rotation = env.approved_rotation().await;
    env.sandbox.microsoft.faults().push(
        Route::PutSecrets,
        Fault::Status {
            code: 400,
            retry_after: None,
            times: 1,
        },
    );
    env.submits_new_token(rotation.id).await;
    let failed = env
        .wait_for(rotation.id, RotationState::NeedsAttention)
        .await;
    assert!(failed.checks.entra_test_ok && !failed.checks.saved);
    assert!(failed.last_error.is_some());
    // An approver can start over with a new token.
    let retried = env
        .engine
        .apply(rotation.id, Command::Retry, &lead())
        .await
        .unwrap();
    assert!(
        matches!(retried, CommandOutcome::Changed(ref r) if r.state == RotationState::AwaitingNewToken)
    );
}

#[tokio::test]
async fn a_quarantined_job_is_started_once() {
    let env = TestEnv::start().await;
    // The old token expired in the model's eyes: Entra quarantines the job.
    env.sandbox.microsoft.quarantine_now();
    let rotation = env.approved_rotation().await;
    env.submits_new_token(rotation.id).await;
    let verified = env
        .wait_for(rotation.id, RotationState::AwaitingOldTokenDeletion)
        .await;
    assert!(verified.checks.resumed);
    assert_eq!(env.sandbox.microsoft.count("POST", "/start"), 1);
    assert_eq!(
        env.sandbox.microsoft.job_status(),
        scim_sandbox::microsoft::JobStatus::Active
    );
}

#[tokio::test]
async fn a_restart_while_saving_asks_for_the_token_again() {
    let env = TestEnv::start().await;
    let rotation = env.approved_rotation().await;
    env.sandbox
        .microsoft
        .faults()
        .push(Route::PutSecrets, Fault::Hang);
    env.submits_new_token(rotation.id).await;
    env.wait_for(rotation.id, RotationState::Saving).await;

    // The process dies here; a new one starts on the same database.
    let restarted = env.restarted();
    assert_eq!(restarted.recover().await.unwrap(), 1);
    let back = env
        .wait_for(rotation.id, RotationState::AwaitingNewToken)
        .await;
    assert!(back.last_error.unwrap().contains("enter it again"));
    let recovered = env
        .store
        .audit_records(&Default::default())
        .unwrap()
        .into_iter()
        .find(|r| r.action == "recovered_after_restart")
        .unwrap();
    assert_eq!(recovered.actor, "system");
    assert_eq!(recovered.details["from_state"], "Saving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_approvals_make_one_transition_and_one_audit_record() {
    let env = TestEnv::start().await;
    let other_process = env.second_process();
    // Enough rounds that the two processes interleave between load and write many times.
    const ROUNDS: usize = 100;
    for round in 0..ROUNDS {
        let CommandOutcome::Changed(rotation) = env
            .engine
            .start(CONNECTION, &member(), None, None)
            .await
            .unwrap()
        else {
            panic!("round {round}: start")
        };
        // Same process (the engine's lock) and another process (only the database) at once.
        let (here, there, again) = (
            env.engine.clone(),
            other_process.clone(),
            env.engine.clone(),
        );
        let id = rotation.id;
        let outcomes = [
            tokio::spawn(async move { here.apply(id, Command::Approve, &lead()).await }),
            tokio::spawn(async move { there.apply(id, Command::Approve, &other_lead()).await }),
            tokio::spawn(async move { again.apply(id, Command::Approve, &other_lead()).await }),
        ];
        let mut changed = 0;
        for outcome in outcomes {
            match outcome.await.unwrap().unwrap() {
                CommandOutcome::Changed(_) => changed += 1,
                CommandOutcome::AlreadyDone(_) => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(changed, 1, "round {round}: exactly one approval wins");
        env.engine
            .apply(id, Command::Cancel, &lead())
            .await
            .unwrap();
    }
    let approvals = env
        .audit_actions()
        .iter()
        .filter(|a| *a == "approved")
        .count();
    assert_eq!(approvals, ROUNDS, "one audit record per approval that won");
    assert_eq!(env.store.verify_audit().unwrap(), Ok(1 + ROUNDS * 3));
}

#[tokio::test]
async fn a_double_click_changes_nothing_twice() {
    let env = TestEnv::start().await;
    let rotation = env.approved_rotation().await;
    let again = env
        .engine
        .apply(rotation.id, Command::Approve, &lead())
        .await
        .unwrap();
    assert_eq!(
        again,
        CommandOutcome::AlreadyDone(AlreadyDone::Step(RotationState::AwaitingNewToken))
    );
    assert_eq!(
        render::outcome_reply(&again).unwrap(),
        "This step is done: the rotation is now waiting for the new token."
    );
    let started_again = env
        .engine
        .start(CONNECTION, &member(), None, None)
        .await
        .unwrap();
    let CommandOutcome::Refused(refusal) = started_again else {
        panic!("a second rotation is refused: {started_again:?}")
    };
    assert!(render::refusal_text(&refusal).contains("already in progress"));
    assert_eq!(env.audit_actions().len(), 3);
}

#[tokio::test]
async fn deleting_the_wrong_token_is_caught_at_once() {
    let env = TestEnv::start().await;
    let rotation = env.approved_rotation().await;
    let new = env.generate_token();
    env.submit(rotation.id, &new.secret, Some(&new.id)).await;
    env.wait_for(rotation.id, RotationState::AwaitingOldTokenDeletion)
        .await;
    // The lead deletes the NEW token by mistake.
    env.sandbox
        .aws
        .delete_token(&env.sandbox.aws_tenant, &new.id)
        .unwrap();
    env.engine
        .apply(rotation.id, Command::ConfirmOldTokenDeleted, &lead())
        .await
        .unwrap();
    let broken = env
        .wait_for(rotation.id, RotationState::NeedsAttention)
        .await;
    assert!(
        broken
            .last_error
            .unwrap()
            .contains("may have been the new one")
    );
}
