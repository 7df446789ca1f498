//! Every input gets an answer and only the right one acts: a button acts only on the
//! rotation whose message it is on, a modal only for the request it was opened for, and a
//! click the bot cannot read is told so (ephemeral) or refused with a reason (400).

use crate::support::story::{Setting, Story, story};
use scim_rotator::config::SlackMode;
use scim_rotator::rotation::{RotationId, RotationState};
use scim_rotator::slack::{binding, ids};
use scim_sandbox::people::*;
use scim_sandbox::slack::{ViewOutcome, plain_text_value};
use serde_json::json;

/// A second connection, so that two rotations can be open at once.
const STAGING: &str = "staging-org";

fn two_connections() -> Setting {
    Setting::over(SlackMode::Http).configured(|config| {
        let mut staging = config.connections[0].clone();
        staging.name = STAGING.to_owned();
        config.connections.push(staging);
    })
}

fn rotation_state(s: &Story, id: i64) -> RotationState {
    s.app
        .engine
        .store()
        .get_rotation(RotationId(id))
        .unwrap()
        .unwrap()
        .state
}

fn audit_len(s: &Story) -> usize {
    s.audit().len()
}

/// Rotation #1 (prod-org, from the warning) and #2 (staging, by command), both waiting for
/// approval; returns the approval message of #1.
async fn two_requests(s: &Story) -> String {
    let approval = s.requests_rotation().await.ts;
    let reply = s.member().runs(&format!("rotate {STAGING}")).await;
    assert!(reply.contains("requested"), "{reply}");
    // The presenter has posted #2's approval request (its own thread) once it caught up.
    s.app.presented().await;
    let second = s
        .app
        .engine
        .store()
        .get_rotation(RotationId(2))
        .unwrap()
        .expect("rotation #2");
    assert_eq!(second.connection, STAGING);
    assert!(second.thread_ts.is_some());
    s.app.presented().await;
    approval
}

#[tokio::test]
async fn a_button_carrying_another_rotations_id_changes_nothing() {
    two_connections()
        .run(async |app| {
            let approval = two_requests(app).await;
            let before = audit_len(app);
            // Approve in #1's message, its value changed to #2.
            app.slack()
                .tamper_next(|click| click["actions"][0]["value"] = json!("2"));
            app.lead().clicks_on(&approval, ids::APPROVE).await;
            app.lead().is_told("belongs to another rotation").await;
            app.app.presented().await;
            assert_eq!(rotation_state(app, 2), RotationState::AwaitingApproval);
            assert_eq!(rotation_state(app, 1), RotationState::AwaitingApproval);
            assert_eq!(audit_len(app), before, "nothing is recorded as done");

            // The real button still works on its own rotation.
            app.lead().clicks_on(&approval, ids::APPROVE).await;
            app.thread().waits_for_button(ids::ENTER_TOKEN).await;
            assert_eq!(rotation_state(app, 1), RotationState::AwaitingNewToken);
            assert_eq!(rotation_state(app, 2), RotationState::AwaitingApproval);
        })
        .await;
}

#[tokio::test]
async fn an_unknown_action_id_gets_an_ephemeral_and_malformed_clicks_a_400() {
    story(async |app| {
        let warning = app.posts_warning().await;
        let before = audit_len(app);
        app.slack()
            .tamper_next(|click| click["actions"][0]["action_id"] = json!("launch_missiles"));
        let click = app
            .slack()
            .click(&app.url, MEMBER, CHANNEL, &warning, ids::START_ROTATION)
            .await
            .unwrap();
        assert_eq!(click.reply.status, 200);
        let told = app
            .wait_for_ephemeral(MEMBER, "I do not know the button")
            .await;
        assert!(told.contains("`launch_missiles`"), "{told}");

        // A value the button never carries: told, not echoed when it is not a plain word.
        app.slack()
            .tamper_next(|click| click["actions"][0]["value"] = json!("prod-org\nxoxb-secret!"));
        app.slack()
            .click(&app.url, MEMBER, CHANNEL, &warning, ids::START_ROTATION)
            .await
            .unwrap();
        app.slack()
            .wait_until(crate::support::DEADLINE, |s| {
                s.ephemerals()
                    .into_iter()
                    .find(|e| e.user == MEMBER && e.text.contains("no such connection"))
            })
            .await
            .expect("the clicker is told");
        assert!(!app.slack().all_bot_output().contains("xoxb-secret"));

        for (forge, reason) in [
            (
                Box::new(|c: &mut serde_json::Value| {
                    c.as_object_mut().unwrap().remove("user");
                }) as Box<dyn FnOnce(&mut serde_json::Value) + Send>,
                "without a user",
            ),
            (
                Box::new(|c: &mut serde_json::Value| c["actions"] = json!([])),
                "without an action",
            ),
            (
                Box::new(|c: &mut serde_json::Value| c["type"] = json!("shortcut")),
                "",
            ),
        ] {
            app.slack().tamper_next(forge);
            let click = app
                .slack()
                .click(&app.url, MEMBER, CHANNEL, &warning, ids::START_ROTATION)
                .await
                .unwrap();
            assert_eq!(click.reply.status, 400, "{reason}: {}", click.reply.body);
            assert!(click.reply.body.contains(reason), "{}", click.reply.body);
            assert!(click.reply.body.starts_with("malformed interaction"));
        }
        app.app.presented().await;
        assert!(app.rotations().is_empty(), "no rotation was started");
        assert_eq!(audit_len(app), before);
    })
    .await;
}

/// Approves a rotation and opens the token modal for the lead; returns the modal's id.
async fn token_modal(s: &Story) -> String {
    s.approved_rotation().await;
    let modal = s.lead().opens_token_modal().await;
    assert_eq!(modal.callback_id(), ids::SUBMIT_TOKEN);
    assert!(
        !modal
            .private_metadata()
            .contains(&s.world.cloud.current_token.secret),
        "the metadata never holds a token"
    );
    modal.id
}

#[tokio::test]
async fn a_token_modal_with_tampered_metadata_is_answered_inline_and_changes_nothing() {
    story(async |app| {
        let modal = token_modal(app).await;
        let new = app.aws_generates_token();
        let before = audit_len(app);
        for (what, forge) in [
            (
                "another rotation id",
                Box::new(|s: &mut serde_json::Value| s["view"]["private_metadata"] = json!("2"))
                    as Box<dyn FnOnce(&mut serde_json::Value) + Send>,
            ),
            (
                "unreadable metadata",
                Box::new(|s: &mut serde_json::Value| s["view"]["private_metadata"] = json!("#1 ✂")),
            ),
            (
                "submitted as another lead",
                Box::new(|s: &mut serde_json::Value| s["user"]["id"] = json!(GROUP_LEAD)),
            ),
        ] {
            app.slack().tamper_next(forge);
            let submitted = app.lead().submits_token_in(&modal, &new.secret).await;
            let ViewOutcome::Errors(errors) = &submitted.outcome else {
                panic!("{what}: the modal stays open with an error: {submitted:?}");
            };
            assert_eq!(
                errors.get(ids::TOKEN_BLOCK).map(String::as_str),
                Some(binding::STALE_MODAL),
                "{what}"
            );
            assert!(!submitted.reply.body.contains(&new.secret));
        }
        app.app.presented().await;
        assert_eq!(rotation_state(app, 1), RotationState::AwaitingNewToken);
        assert_eq!(audit_len(app), before, "nothing recorded");
        assert_ne!(
            app.world.cloud.microsoft.saved_token_fingerprint(),
            Some(new.fingerprint()),
            "the token was not saved"
        );
        // The untampered submission goes through.
        let submitted = app.lead().submits_token_in(&modal, &new.secret).await;
        assert_eq!(submitted.outcome, ViewOutcome::Closed);
    })
    .await;
}

#[tokio::test]
async fn a_register_modal_with_tampered_metadata_is_answered_inline() {
    story(async |app| {
        app.lead().runs(&format!("register {CONNECTION}")).await;
        let modal = app.lead().sees_modal().await;
        assert_eq!(modal.callback_id(), ids::REGISTER_TOKEN);
        let before = app.app.engine.store().current_token(CONNECTION).unwrap();
        app.slack().tamper_next(|s| {
            s["view"]["private_metadata"] = json!(format!("{STAGING} {CHANNEL}"));
        });
        let submitted = app
            .slack()
            .submit_view(
                &app.url,
                LEAD,
                &modal.id,
                &[
                    (ids::TOKEN_ID_BLOCK, ids::VALUE, plain_text_value("tok-new")),
                    (
                        ids::CREATED_BLOCK,
                        ids::VALUE,
                        scim_sandbox::slack::datepicker_value("2027-01-15"),
                    ),
                ],
            )
            .await
            .unwrap();
        let ViewOutcome::Errors(errors) = &submitted.outcome else {
            panic!("{submitted:?}");
        };
        assert_eq!(
            errors.get(ids::TOKEN_ID_BLOCK).map(String::as_str),
            Some(binding::STALE_MODAL)
        );
        assert_eq!(
            app.app.engine.store().current_token(CONNECTION).unwrap(),
            before
        );
    })
    .await;
}
