//! The bot through its HTTP transport, driven by the fake Slack exactly as Slack drives it:
//! signed requests, real payloads, Web API calls recorded.

use crate::support::story::{Story, story};
use scim_rotator::rotation::RotationState;
use scim_rotator::slack::ids;
use scim_sandbox::people::*;
use scim_sandbox::slack::{SigningOptions, ViewOutcome, plain_text_value};

#[tokio::test]
async fn a_full_rotation_from_the_warning_button_to_the_summary() {
    story(async |s| {
        s.requests_rotation().await;
        s.lead().clicks(ids::APPROVE).await;
        let step1 = s.thread().waits_for_button(ids::ENTER_TOKEN).await;
        assert!(
            step1.text.contains("Generate") || step1.blocks.to_string().contains("Generate"),
            "{}",
            step1.text
        );
        let old = s.world.cloud.current_token.clone();
        let new = s.aws_generates_token();

        let modal = s.lead().opens_token_modal().await;
        assert_eq!(modal.callback_id(), ids::SUBMIT_TOKEN);
        let submitted = s
            .lead()
            .submits(
                &modal.id,
                &[
                    (ids::TOKEN_BLOCK, ids::VALUE, plain_text_value(&new.secret)),
                    (ids::TOKEN_ID_BLOCK, ids::VALUE, plain_text_value(&new.id)),
                ],
            )
            .await;
        assert_eq!(
            submitted.outcome,
            ViewOutcome::Closed,
            "the modal closes at once"
        );

        let step2 = s.thread().waits_for_button(ids::CONFIRM_DELETED).await;
        assert!(
            step2.blocks.to_string().contains(&old.id),
            "step 2 names the old token"
        );
        assert_eq!(
            s.world.cloud.microsoft.saved_token_fingerprint(),
            Some(new.fingerprint())
        );

        s.aws_deletes_old_token();
        s.lead().clicks(ids::CONFIRM_DELETED).await;
        let summary = s.thread().waits_for_line("complete").await;
        assert!(summary.blocks.to_string().contains(LEAD));
        assert_eq!(s.state(), RotationState::Completed);
        s.app.presented().await;
        let warning = s.thread().root();
        assert!(
            !warning.blocks.to_string().contains(ids::START_ROTATION),
            "the warning no longer asks for a rotation"
        );
        assert!(warning.text.contains("rotated"), "{}", warning.text);

        let confirmed: Vec<_> = s
            .audit()
            .into_iter()
            .filter(|(_, action)| action == "old_token_deletion_confirmed")
            .collect();
        assert_eq!(
            confirmed,
            [(LEAD.to_owned(), "old_token_deletion_confirmed".to_owned())]
        );
        let current = s.current_token();
        assert_eq!(current.token_id.as_deref(), Some(new.id.as_str()));
    })
    .await;
}

#[tokio::test]
async fn a_non_approver_click_gets_an_explanation_and_changes_nothing() {
    story(async |s| {
        s.requests_rotation().await;
        let before = s.audit().len();
        s.other_member().clicks(ids::APPROVE).await;
        s.other_member().is_told("Only a team lead").await;
        assert_eq!(s.state(), RotationState::AwaitingApproval);
        let after = s.audit();
        assert_eq!(after.len(), before + 1, "only the refusal is recorded");
        assert_eq!(
            after.last().unwrap(),
            &(OTHER_MEMBER.to_owned(), "refused".to_owned())
        );
    })
    .await;
}

#[tokio::test]
async fn the_requester_cannot_approve_their_own_rotation() {
    story(async |s| {
        s.posts_warning().await;
        s.lead().clicks(ids::START_ROTATION).await;
        s.lead().clicks(ids::APPROVE).await;
        s.lead().is_told("another team lead").await;
        assert_eq!(s.state(), RotationState::AwaitingApproval);
        // A lead from the approver group can.
        s.group_lead().clicks(ids::APPROVE).await;
        s.thread().waits_for_button(ids::ENTER_TOKEN).await;
    })
    .await;
}

#[tokio::test]
async fn a_double_click_and_a_retried_event_change_nothing_twice() {
    story(async |s| {
        let approval = s.requests_rotation().await;
        let lead = s.lead();
        let (first, second) = tokio::join!(
            lead.clicks_on(&approval.ts, ids::APPROVE),
            lead.clicks_on(&approval.ts, ids::APPROVE),
        );
        assert_eq!((first.reply.status, second.reply.status), (200, 200));
        s.lead().is_told("This step is done").await;
        assert_eq!(s.audited("approved"), 1);

        let event = s.slack().event_callback(s.slack().app_home_opened(LEAD));
        s.slack().event(&s.url, &event, None).await.unwrap();
        s.slack()
            .event(&s.url, &event, Some((1, "http_timeout")))
            .await
            .unwrap();
        s.slack()
            .wait_until(crate::support::DEADLINE, |slack| slack.home_view(LEAD))
            .await
            .expect("the home tab is published");
        assert_eq!(
            s.slack().calls_to("views.publish").len(),
            1,
            "the redelivered event was dropped"
        );
    })
    .await;
}

#[tokio::test]
async fn bad_signatures_stale_timestamps_and_huge_bodies_are_refused() {
    story(async |app| {
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
        assert!(app.rotations().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_malformed_payload_gets_400_with_a_reason() {
    story(async |app| {
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
    })
    .await;
}

#[tokio::test]
async fn the_token_modal_answers_bad_input_inline() {
    story(async |app| {
        app.approved_rotation().await;
        let modal = app.lead().opens_token_modal().await;

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
        let new = app.aws_generates_token();
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
            let submitted = app.lead().submits(&modal.id, &values).await;
            let ViewOutcome::Errors(errors) = submitted.outcome else {
                panic!("expected inline errors, got {:?}", submitted.outcome)
            };
            assert!(errors[block].contains(expected), "{errors:?}");
        }
        assert_eq!(
            app.state(),
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
    })
    .await;
}

#[tokio::test]
async fn a_non_approver_cannot_open_the_token_modal() {
    story(async |app| {
        app.approved_rotation().await;
        app.member().clicks(ids::ENTER_TOKEN).await;
        app.member().is_told("Only a team lead").await;
        assert!(app.slack().open_views(MEMBER).is_empty());
    })
    .await;
}

#[tokio::test]
async fn url_verification_is_answered() {
    story(async |app| {
        let verification = app.slack().url_verification(&app.url).await.unwrap();
        assert!(verification.echoed, "{:?}", verification.reply);
    })
    .await;
}

#[tokio::test]
async fn slash_commands_answer_and_start_rotations() {
    story(async |app| {
        let help = app.member().runs("help").await;
        assert!(help.contains("rotate"), "{}", help);
        let unknown = app.member().runs("frobnicate").await;
        assert!(
            unknown.contains("frobnicate") && unknown.contains("status"),
            "{}",
            unknown
        );
        let status = app.member().runs("status").await;
        assert!(
            status.contains(CONNECTION) && status.contains(&app.world.cloud.current_token.id),
            "{}",
            status
        );
        let status: serde_json::Value = serde_json::from_str(&status).unwrap();
        assert_eq!(status["response_type"], "ephemeral");

        let (reply, top) = app.rotate_by_command(MEMBER).await;
        assert!(reply.contains("requested"), "{reply}");
        assert_eq!(app.state(), RotationState::AwaitingApproval);
        let again = app.member().runs(&format!("rotate {CONNECTION}")).await;
        assert!(again.contains("already in progress"), "{again}");
        assert!(!top.ts.is_empty());

        let audit = app.member().runs("audit").await;
        assert!(
            audit.contains("rotation_requested") || audit.contains("requested"),
            "{}",
            audit
        );
    })
    .await;
}

#[tokio::test]
async fn a_lead_registers_a_token_through_the_modal() {
    story(async |app| {
        // The lead runs the command from another channel: the answer comes back there.
        app.slack().add_channel("C0ELSEWHERE", "random");
        let member = app.member().runs(&format!("register {CONNECTION}")).await;
        assert!(member.contains("Only a team lead"), "{member}");
        assert!(app.slack().open_views(MEMBER).is_empty());

        app.lead()
            .runs_in("C0ELSEWHERE", &format!("register {CONNECTION}"))
            .await;
        let modal = app.lead().sees_modal().await;
        assert_eq!(modal.callback_id(), ids::REGISTER_TOKEN);
        let future = register(app, &modal.id, "2099-01-01").await;
        assert!(
            matches!(future.outcome, ViewOutcome::Errors(ref e) if e.contains_key(ids::CREATED_BLOCK)),
            "{:?}",
            future.outcome
        );

        let submitted = register(app, &modal.id, "2026-06-01").await;
        assert_eq!(submitted.outcome, ViewOutcome::Closed);
        app.wait_for_ephemeral(LEAD, "Registered token tok-registered")
            .await;
        let current = app.current_token();
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
    })
    .await;
}

/// The lead submits the register modal with a token id and a creation date.
async fn register(app: &Story, modal: &str, created: &str) -> scim_sandbox::slack::Submission {
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
