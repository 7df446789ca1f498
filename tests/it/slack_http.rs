//! The bot through its HTTP transport, driven by the fake Slack exactly as Slack drives it:
//! signed requests, real payloads, Web API calls recorded.

use crate::support::app::TestApp;
use scim_rotator::config::SlackMode;
use scim_rotator::rotation::RotationState;
use scim_rotator::slack::ids;
use scim_sandbox::people::*;
use scim_sandbox::slack::{SigningOptions, ViewOutcome, plain_text_value};

/// Starts a rotation from the warning's button (as `requester`) and returns the thread ts.
async fn start_from_warning(app: &TestApp, requester: &str) -> String {
    let warning = app.post_warning().await;
    let click = app
        .slack()
        .click(&app.url, requester, CHANNEL, &warning, ids::START_ROTATION)
        .await
        .unwrap();
    assert_eq!(click.reply.status, 200);
    app.wait_for_button(&warning, ids::APPROVE).await;
    warning
}

fn rotation_state(app: &TestApp) -> RotationState {
    app.app.engine.store().latest_rotations().unwrap()[0].state
}

#[tokio::test]
async fn a_full_rotation_from_the_warning_button_to_the_summary() {
    let app = TestApp::start(SlackMode::Http).await;
    let thread = start_from_warning(&app, MEMBER).await;
    let approval = app.wait_for_button(&thread, ids::APPROVE).await;
    app.slack()
        .click(&app.url, LEAD, CHANNEL, &approval.ts, ids::APPROVE)
        .await
        .unwrap();

    let step1 = app.wait_for_button(&thread, ids::ENTER_TOKEN).await;
    assert!(
        step1.text.contains("Generate") || step1.blocks.to_string().contains("Generate"),
        "{}",
        step1.text
    );
    let old = app.world.cloud.current_token.clone();
    let new = app
        .world
        .cloud
        .aws
        .generate_token(&app.world.cloud.aws_tenant)
        .unwrap();

    let click = app
        .slack()
        .click(&app.url, LEAD, CHANNEL, &step1.ts, ids::ENTER_TOKEN)
        .await
        .unwrap();
    assert_eq!(click.reply.status, 200);
    let modal = app.wait_for_modal(LEAD).await;
    assert_eq!(modal.callback_id(), ids::SUBMIT_TOKEN);
    let submitted = app
        .slack()
        .submit_view(
            &app.url,
            LEAD,
            &modal.id,
            &[
                (ids::TOKEN_BLOCK, ids::VALUE, plain_text_value(&new.secret)),
                (ids::TOKEN_ID_BLOCK, ids::VALUE, plain_text_value(&new.id)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        submitted.outcome,
        ViewOutcome::Closed,
        "the modal closes at once"
    );

    let step2 = app.wait_for_button(&thread, ids::CONFIRM_DELETED).await;
    assert!(
        step2.blocks.to_string().contains(&old.id),
        "step 2 names the old token"
    );
    assert_eq!(
        app.world.cloud.microsoft.saved_token_fingerprint(),
        Some(new.fingerprint())
    );

    app.world
        .cloud
        .aws
        .delete_token(&app.world.cloud.aws_tenant, &old.id)
        .unwrap();
    app.slack()
        .click(&app.url, LEAD, CHANNEL, &step2.ts, ids::CONFIRM_DELETED)
        .await
        .unwrap();
    let summary = app
        .slack()
        .wait_until(crate::support::DEADLINE, |slack| {
            slack
                .thread(CHANNEL, &thread)
                .into_iter()
                .find(|m| m.text.to_lowercase().contains("complete"))
        })
        .await
        .expect("a completion summary in the thread");
    assert!(summary.blocks.to_string().contains(LEAD));
    assert_eq!(rotation_state(&app), RotationState::Completed);
    app.app.presented().await;
    let warning = app.slack().message(CHANNEL, &thread).unwrap();
    assert!(
        !warning.blocks.to_string().contains(ids::START_ROTATION),
        "the warning no longer asks for a rotation"
    );
    assert!(warning.text.contains("rotated"), "{}", warning.text);

    let confirmed: Vec<_> = app
        .audit_actions()
        .into_iter()
        .filter(|(_, action)| action == "old_token_deletion_confirmed")
        .collect();
    assert_eq!(
        confirmed,
        [(LEAD.to_owned(), "old_token_deletion_confirmed".to_owned())]
    );
    let current = app
        .app
        .engine
        .store()
        .current_token(CONNECTION)
        .unwrap()
        .unwrap();
    assert_eq!(current.token_id.as_deref(), Some(new.id.as_str()));
    assert!(
        !app.slack().all_bot_output().contains(&new.secret),
        "the token never reaches Slack"
    );
}

#[tokio::test]
async fn a_non_approver_click_gets_an_explanation_and_changes_nothing() {
    let app = TestApp::start(SlackMode::Http).await;
    let thread = start_from_warning(&app, MEMBER).await;
    let approval = app.wait_for_button(&thread, ids::APPROVE).await;
    let before = app.audit_actions().len();
    app.slack()
        .click(&app.url, OTHER_MEMBER, CHANNEL, &approval.ts, ids::APPROVE)
        .await
        .unwrap();
    app.wait_for_ephemeral(OTHER_MEMBER, "Only a team lead")
        .await;
    assert_eq!(rotation_state(&app), RotationState::AwaitingApproval);
    let after = app.audit_actions();
    assert_eq!(after.len(), before + 1, "only the refusal is recorded");
    assert_eq!(
        after.last().unwrap(),
        &(OTHER_MEMBER.to_owned(), "refused".to_owned())
    );
}

#[tokio::test]
async fn the_requester_cannot_approve_their_own_rotation() {
    let app = TestApp::start(SlackMode::Http).await;
    let thread = start_from_warning(&app, LEAD).await;
    let approval = app.wait_for_button(&thread, ids::APPROVE).await;
    app.slack()
        .click(&app.url, LEAD, CHANNEL, &approval.ts, ids::APPROVE)
        .await
        .unwrap();
    app.wait_for_ephemeral(LEAD, "another team lead").await;
    assert_eq!(rotation_state(&app), RotationState::AwaitingApproval);
    // A lead from the approver group can.
    app.slack()
        .click(&app.url, GROUP_LEAD, CHANNEL, &approval.ts, ids::APPROVE)
        .await
        .unwrap();
    app.wait_for_button(&thread, ids::ENTER_TOKEN).await;
}

#[tokio::test]
async fn a_double_click_and_a_retried_event_change_nothing_twice() {
    let app = TestApp::start(SlackMode::Http).await;
    let thread = start_from_warning(&app, MEMBER).await;
    let approval = app.wait_for_button(&thread, ids::APPROVE).await;
    let (first, second) = tokio::join!(
        app.slack()
            .click(&app.url, LEAD, CHANNEL, &approval.ts, ids::APPROVE),
        app.slack()
            .click(&app.url, LEAD, CHANNEL, &approval.ts, ids::APPROVE),
    );
    assert_eq!(
        (first.unwrap().reply.status, second.unwrap().reply.status),
        (200, 200)
    );
    app.wait_for_ephemeral(LEAD, "This step is done").await;
    let approvals = app
        .audit_actions()
        .into_iter()
        .filter(|(_, a)| a == "approved")
        .count();
    assert_eq!(approvals, 1);

    let event = app
        .slack()
        .event_callback(app.slack().app_home_opened(LEAD));
    app.slack().event(&app.url, &event, None).await.unwrap();
    app.slack()
        .event(&app.url, &event, Some((1, "http_timeout")))
        .await
        .unwrap();
    app.slack()
        .wait_until(crate::support::DEADLINE, |slack| slack.home_view(LEAD))
        .await
        .expect("the home tab is published");
    assert_eq!(
        app.slack().calls_to("views.publish").len(),
        1,
        "the redelivered event was dropped"
    );
}

#[tokio::test]
async fn bad_signatures_stale_timestamps_and_huge_bodies_are_refused() {
    let app = TestApp::start(SlackMode::Http).await;
    let body = "command=%2Fscim&text=status&user_id=U0DANA";
    for (options, expected) in [
        (SigningOptions::bad_signature(), 401),
        (SigningOptions::stale(), 401),
        (SigningOptions::unsigned(), 401),
    ] {
        let reply = app
            .slack()
            .signed_request(
                &app.url,
                "/slack/commands",
                body,
                "application/x-www-form-urlencoded",
                &options,
            )
            .await
            .unwrap();
        assert_eq!(reply.status, expected, "{options:?}: {}", reply.body);
        assert!(
            !reply.body.contains("U0DANA"),
            "the refusal does not echo the body"
        );
    }
    let huge = vec![b'x'; 2 * 1024 * 1024];
    let reply = app
        .slack()
        .signed_request(
            &app.url,
            "/slack/interactivity",
            huge,
            "application/x-www-form-urlencoded",
            &SigningOptions::valid(),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 413);
    assert!(app.slack().calls_to("chat.postEphemeral").is_empty());
    assert!(
        app.app
            .engine
            .store()
            .latest_rotations()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_malformed_payload_gets_400_with_a_reason() {
    let app = TestApp::start(SlackMode::Http).await;
    let reply = app
        .slack()
        .signed_request(
            &app.url,
            "/slack/interactivity",
            "payload=%7Bnot-json",
            "application/x-www-form-urlencoded",
            &SigningOptions::valid(),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 400);
    assert!(
        reply.body.contains("malformed interaction"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn the_token_modal_answers_bad_input_inline() {
    let app = TestApp::start(SlackMode::Http).await;
    let thread = start_from_warning(&app, MEMBER).await;
    let approval = app.wait_for_button(&thread, ids::APPROVE).await;
    app.slack()
        .click(&app.url, LEAD, CHANNEL, &approval.ts, ids::APPROVE)
        .await
        .unwrap();
    let step1 = app.wait_for_button(&thread, ids::ENTER_TOKEN).await;
    app.slack()
        .click(&app.url, LEAD, CHANNEL, &step1.ts, ids::ENTER_TOKEN)
        .await
        .unwrap();
    let modal = app.wait_for_modal(LEAD).await;

    for (value, expected) in [
        ("abc def ghi jkl mno pqr stu", "cannot contain spaces"),
        ("too-short-token", "too short"),
        ("   ", "empty"),
    ] {
        let submitted = app
            .slack()
            .submit_view(
                &app.url,
                LEAD,
                &modal.id,
                &[(ids::TOKEN_BLOCK, ids::VALUE, plain_text_value(value))],
            )
            .await;
        let Ok(submitted) = submitted else {
            // Slack itself refuses some inputs before they reach the bot (a blank required field).
            continue;
        };
        let ViewOutcome::Errors(errors) = submitted.outcome else {
            panic!(
                "{value:?}: expected inline errors, got {:?}",
                submitted.outcome
            )
        };
        assert!(
            errors[ids::TOKEN_BLOCK].contains(expected),
            "{value:?}: {errors:?}"
        );
    }
    // Mistakes only the rotation record reveals are answered inline too.
    let new = app
        .world
        .cloud
        .aws
        .generate_token(&app.world.cloud.aws_tenant)
        .unwrap();
    let old_id = app.world.cloud.current_token.id.clone();
    for (values, block, expected) in [
        (
            vec![
                (ids::TOKEN_BLOCK, ids::VALUE, plain_text_value(&new.secret)),
                (
                    ids::EXPIRES_BLOCK,
                    ids::VALUE,
                    scim_sandbox::slack::datepicker_value("2020-01-01"),
                ),
            ],
            ids::EXPIRES_BLOCK,
            "in the future",
        ),
        (
            vec![
                (ids::TOKEN_BLOCK, ids::VALUE, plain_text_value(&new.secret)),
                (ids::TOKEN_ID_BLOCK, ids::VALUE, plain_text_value(&old_id)),
            ],
            ids::TOKEN_ID_BLOCK,
            "old token's id",
        ),
    ] {
        let submitted = app
            .slack()
            .submit_view(&app.url, LEAD, &modal.id, &values)
            .await
            .unwrap();
        let ViewOutcome::Errors(errors) = submitted.outcome else {
            panic!("expected inline errors, got {:?}", submitted.outcome)
        };
        assert!(errors[block].contains(expected), "{errors:?}");
    }
    assert_eq!(
        rotation_state(&app),
        RotationState::AwaitingNewToken,
        "bad input changes nothing"
    );
    assert!(
        app.slack()
            .open_views(LEAD)
            .iter()
            .any(|v| v.id == modal.id),
        "the modal stays open"
    );
}

#[tokio::test]
async fn a_non_approver_cannot_open_the_token_modal() {
    let app = TestApp::start(SlackMode::Http).await;
    let thread = start_from_warning(&app, MEMBER).await;
    let approval = app.wait_for_button(&thread, ids::APPROVE).await;
    app.slack()
        .click(&app.url, LEAD, CHANNEL, &approval.ts, ids::APPROVE)
        .await
        .unwrap();
    let step1 = app.wait_for_button(&thread, ids::ENTER_TOKEN).await;
    app.slack()
        .click(&app.url, MEMBER, CHANNEL, &step1.ts, ids::ENTER_TOKEN)
        .await
        .unwrap();
    app.wait_for_ephemeral(MEMBER, "Only a team lead").await;
    assert!(app.slack().open_views(MEMBER).is_empty());
}

#[tokio::test]
async fn url_verification_is_answered() {
    let app = TestApp::start(SlackMode::Http).await;
    let verification = app.slack().url_verification(&app.url).await.unwrap();
    assert!(verification.echoed, "{:?}", verification.reply);
}

#[tokio::test]
async fn slash_commands_answer_and_start_rotations() {
    let app = TestApp::start(SlackMode::Http).await;
    let help = app
        .slack()
        .slash_command(&app.url, MEMBER, CHANNEL, "/scim", "help")
        .await
        .unwrap();
    assert!(help.reply.body.contains("rotate"), "{}", help.reply.body);
    let unknown = app
        .slack()
        .slash_command(&app.url, MEMBER, CHANNEL, "/scim", "frobnicate")
        .await
        .unwrap();
    assert!(
        unknown.reply.body.contains("frobnicate") && unknown.reply.body.contains("status"),
        "{}",
        unknown.reply.body
    );
    let status = app
        .slack()
        .slash_command(&app.url, MEMBER, CHANNEL, "/scim", "status")
        .await
        .unwrap();
    assert!(
        status.reply.body.contains(CONNECTION)
            && status
                .reply
                .body
                .contains(&app.world.cloud.current_token.id),
        "{}",
        status.reply.body
    );
    assert_eq!(status.reply.json().unwrap()["response_type"], "ephemeral");

    let (reply, top) = app.rotate_by_command(&app.url, MEMBER).await;
    assert!(reply.contains("requested"), "{reply}");
    assert_eq!(rotation_state(&app), RotationState::AwaitingApproval);
    let again = app
        .slack()
        .slash_command(
            &app.url,
            MEMBER,
            CHANNEL,
            "/scim",
            &format!("rotate {CONNECTION}"),
        )
        .await
        .unwrap();
    assert!(
        again.reply.body.contains("already in progress"),
        "{}",
        again.reply.body
    );
    assert!(!top.ts.is_empty());

    let audit = app
        .slack()
        .slash_command(&app.url, MEMBER, CHANNEL, "/scim", "audit")
        .await
        .unwrap();
    assert!(
        audit.reply.body.contains("rotation_requested") || audit.reply.body.contains("requested"),
        "{}",
        audit.reply.body
    );
}

#[tokio::test]
async fn a_lead_registers_a_token_through_the_modal() {
    let app = TestApp::start(SlackMode::Http).await;
    // The lead runs the command from another channel: the answer comes back there.
    app.slack().add_channel("C0ELSEWHERE", "random");
    let member = app
        .slack()
        .slash_command(
            &app.url,
            MEMBER,
            CHANNEL,
            "/scim",
            &format!("register {CONNECTION}"),
        )
        .await
        .unwrap();
    assert!(
        member.reply.body.contains("Only a team lead"),
        "{}",
        member.reply.body
    );
    assert!(app.slack().open_views(MEMBER).is_empty());

    app.slack()
        .slash_command(
            &app.url,
            LEAD,
            "C0ELSEWHERE",
            "/scim",
            &format!("register {CONNECTION}"),
        )
        .await
        .unwrap();
    let modal = app.wait_for_modal(LEAD).await;
    assert_eq!(modal.callback_id(), ids::REGISTER_TOKEN);
    let future = register(&app, &modal.id, "2099-01-01").await;
    assert!(
        matches!(future.outcome, ViewOutcome::Errors(ref e) if e.contains_key(ids::CREATED_BLOCK)),
        "{:?}",
        future.outcome
    );

    let submitted = register(&app, &modal.id, "2026-06-01").await;
    assert_eq!(submitted.outcome, ViewOutcome::Closed);
    app.wait_for_ephemeral(LEAD, "Registered token tok-registered")
        .await;
    let current = app
        .app
        .engine
        .store()
        .current_token(CONNECTION)
        .unwrap()
        .unwrap();
    assert_eq!(current.token_id.as_deref(), Some("tok-registered"));
    assert_eq!(
        current.expires_at.unwrap().format("%Y-%m-%d").to_string(),
        "2027-06-01"
    );
    let confirmation = app
        .slack()
        .ephemerals()
        .into_iter()
        .find(|e| e.user == LEAD && e.text.contains("Registered token"))
        .unwrap();
    assert_eq!(confirmation.channel, "C0ELSEWHERE");
}

/// The lead submits the register modal with a token id and a creation date.
async fn register(app: &TestApp, modal: &str, created: &str) -> scim_sandbox::slack::Submission {
    app.slack()
        .submit_view(
            &app.url,
            LEAD,
            modal,
            &[
                (
                    ids::TOKEN_ID_BLOCK,
                    ids::VALUE,
                    plain_text_value("tok-registered"),
                ),
                (
                    ids::CREATED_BLOCK,
                    ids::VALUE,
                    scim_sandbox::slack::datepicker_value(created),
                ),
            ],
        )
        .await
        .unwrap()
}
