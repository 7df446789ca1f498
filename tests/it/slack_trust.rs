//! Requests that are correctly signed but must still change nothing: from another
//! workspace, enterprise or app; replayed within the signature window; with the wrong
//! content type. Driven by the fake Slack over HTTP and Socket Mode.

use crate::support::app::TestApp;
use crate::support::story::{Setting, story};
use scim_rotator::config::SlackMode;
use scim_rotator::rotation::RotationState;
use scim_rotator::slack::ids;
use scim_sandbox::people::*;
use scim_sandbox::slack::{SigningOptions, Transport};
use serde_json::{Value, json};

/// The latest rotation of each connection (id, state), newest first.
fn rotations(app: &TestApp) -> Vec<(i64, RotationState)> {
    app.app
        .engine
        .store()
        .latest_rotations()
        .unwrap()
        .into_iter()
        .map(|r| (r.id.0, r.state))
        .collect()
}

/// A member asks for a rotation from the warning; returns the warning's ts (the thread)
/// and the approval request's.
async fn requested(app: &TestApp, to: impl Into<Transport>) -> (String, String) {
    let warning = app.post_warning().await;
    app.slack()
        .click(to, MEMBER, CHANNEL, &warning, ids::START_ROTATION)
        .await
        .unwrap();
    let approval = app.wait_for_button(&warning, ids::APPROVE).await.ts;
    (warning, approval)
}

type Forgery = (&'static str, &'static str, fn(&mut Value));

/// Each way a signed click can claim to come from elsewhere, with the metric it counts in.
const FORGED_CLICKS: [Forgery; 3] = [
    ("another workspace", "other_team", |p| {
        p["team"]["id"] = json!("T0ELSEWHERE")
    }),
    ("another enterprise", "other_enterprise", |p| {
        p["enterprise"] = json!({"id": "E0ELSEWHERE", "name": "Other"})
    }),
    ("another app", "other_app", |p| {
        p["api_app_id"] = json!("A0ELSEWHERE")
    }),
];

#[tokio::test]
async fn a_signed_click_from_another_workspace_enterprise_or_app_is_refused_and_changes_nothing() {
    story(async |app| {
        let (thread, approval) = requested(app, &app.url).await;
        let before = (rotations(app), app.audit_actions());
        for (origin, reason, forge) in FORGED_CLICKS {
            let counted = app.app.bot.metrics().refused_so_far(reason);
            app.slack().tamper_next(forge);
            let click = app
                .slack()
                .click(&app.url, LEAD, CHANNEL, &approval, ids::APPROVE)
                .await
                .unwrap();
            assert_eq!(click.reply.status, 403, "{origin}: {}", click.reply.body);
            assert!(click.reply.body.contains("not this bot's"), "{origin}");
            assert!(
                app.app.bot.metrics().refused_so_far(reason) > counted,
                "{origin} is counted as {reason}"
            );
            assert_eq!((rotations(app), app.audit_actions()), before, "{origin}");
        }
        // The same click, untampered, approves: the refusals above were about the origin.
        let genuine = app
            .slack()
            .click(&app.url, LEAD, CHANNEL, &approval, ids::APPROVE)
            .await
            .unwrap();
        assert_eq!(genuine.reply.status, 200, "{}", genuine.reply.body);
        app.wait_for_button(&thread, ids::ENTER_TOKEN).await;
        assert_eq!(rotations(app)[0].1, RotationState::AwaitingNewToken);
        let metrics_text = reqwest::get(app.url.join("metrics").unwrap())
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics_text.contains("scim_rotator_requests_refused_total{reason=\"other_team\"}"),
            "{metrics_text}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_command_or_event_from_another_workspace_or_app_is_refused() {
    story(async |app| {
        for (field, elsewhere) in [("team_id", "T0ELSEWHERE"), ("api_app_id", "A0ELSEWHERE")] {
            app.slack()
                .tamper_next(move |fields| fields[field] = json!(elsewhere));
            let command = app
                .member()
                .sends_command(CHANNEL, &format!("rotate {CONNECTION}"))
                .await;
            assert_eq!(command.status, 403, "{field}: {}", command.body);
        }
        assert!(rotations(app).is_empty(), "no rotation was started");

        let event = app
            .slack()
            .event_callback(app.slack().app_home_opened(LEAD));
        app.slack()
            .tamper_next(|callback| callback["team_id"] = json!("T0ELSEWHERE"));
        let reply = app.slack().event(&app.url, &event, None).await.unwrap();
        assert_eq!(reply.status, 403, "{}", reply.body);
        app.slack()
            .tamper_next(|callback| callback["api_app_id"] = json!("A0ELSEWHERE"));
        let again = app
            .slack()
            .event_callback(app.slack().app_home_opened(LEAD));
        let reply = app.slack().event(&app.url, &again, None).await.unwrap();
        assert_eq!(reply.status, 403, "{}", reply.body);
        // A genuine one is served, so nothing else kept the home tab from being published.
        let genuine = app
            .slack()
            .event_callback(app.slack().app_home_opened(LEAD));
        assert_eq!(
            app.slack()
                .event(&app.url, &genuine, None)
                .await
                .unwrap()
                .status,
            200
        );
        app.slack()
            .wait_until(crate::support::DEADLINE, |s| s.home_view(LEAD))
            .await
            .unwrap();
        assert_eq!(app.slack().calls_to("views.publish").len(), 1);
    })
    .await;
}

#[tokio::test]
async fn over_socket_mode_another_workspaces_envelopes_are_acked_and_ignored() {
    Setting::over(SlackMode::Socket)
        .run(async |app| {
            app.slack()
                .wait_for_socket_connections(1, crate::support::DEADLINE)
                .await
                .unwrap();
            let (_, approval) = requested(app, Transport::SocketMode).await;
            let before = (rotations(app), app.audit_actions());
            for (origin, _, forge) in FORGED_CLICKS {
                if origin == "another enterprise" {
                    // slack-morphism's models drop `enterprise`; the socket is the app's own.
                    continue;
                }
                let counted = app
                    .app
                    .bot
                    .metrics()
                    .refused_so_far(if origin == "another app" {
                        "other_app"
                    } else {
                        "other_team"
                    });
                app.slack().tamper_next(forge);
                let click = app
                    .slack()
                    .click(
                        Transport::SocketMode,
                        LEAD,
                        CHANNEL,
                        &approval,
                        ids::APPROVE,
                    )
                    .await
                    .expect("the envelope is acknowledged");
                assert_eq!(click.reply.body, "", "{origin}: a bare ack");
                assert_eq!((rotations(app), app.audit_actions()), before, "{origin}");
                assert!(
                    app.app
                        .bot
                        .metrics()
                        .refused_so_far(if origin == "another app" {
                            "other_app"
                        } else {
                            "other_team"
                        })
                        > counted
                );
            }
            app.slack()
                .tamper_next(|fields| fields["team_id"] = json!("T0ELSEWHERE"));
            app.slack()
                .slash_command(
                    Transport::SocketMode,
                    MEMBER,
                    CHANNEL,
                    "/scim",
                    &format!("rotate {CONNECTION}"),
                )
                .await
                .expect("acknowledged");
            assert_eq!((rotations(app), app.audit_actions()), before);
        })
        .await;
}

#[tokio::test]
async fn a_captured_start_rotation_replayed_after_a_cancel_starts_nothing() {
    story(async |app| {
        let warning = app.post_warning().await;
        let start = app
            .slack()
            .click(&app.url, MEMBER, CHANNEL, &warning, ids::START_ROTATION)
            .await
            .unwrap();
        assert_eq!(start.reply.status, 200);
        let captured = app.slack().last_signed_request().unwrap();
        let approval = app.wait_for_button(&warning, ids::CANCEL).await;
        app.slack()
            .click(&app.url, MEMBER, CHANNEL, &approval.ts, ids::CANCEL)
            .await
            .unwrap();
        app.slack()
            .wait_until(crate::support::DEADLINE, |_| {
                (rotations(app)[0].1 == RotationState::Cancelled).then_some(())
            })
            .await
            .unwrap();
        app.app.presented().await;
        let before = (rotations(app), app.audit_actions());
        let refused = app.app.bot.metrics().refused_so_far("replay");

        // Seconds later, well inside the 300 s window, the captured start is sent again.
        app.clock.advance(chrono::Duration::seconds(20));
        let replayed = app.slack().replay(&captured).await.unwrap();
        assert_eq!(replayed.status, 401, "{}", replayed.body);
        assert!(replayed.body.contains("replay"), "{}", replayed.body);
        assert!(app.app.bot.metrics().refused_so_far("replay") > refused);
        app.app.presented().await;
        assert_eq!((rotations(app), app.audit_actions()), before);

        // A fresh click (new signature) still works: the guard refuses copies, not buttons.
        let again = app
            .slack()
            .click(&app.url, MEMBER, CHANNEL, &warning, ids::START_ROTATION)
            .await
            .unwrap();
        assert_eq!(again.reply.status, 200);
        app.slack()
            .wait_until(crate::support::DEADLINE, |_| {
                (rotations(app)[0].0 > before.0[0].0).then_some(())
            })
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_slack_endpoints_refuse_other_content_types_with_415() {
    story(async |app| {
        let payload = json!({"type": "block_actions"}).to_string();
        for (path, body, wrong) in [
            (
                "slack/interactivity",
                format!("payload={payload}"),
                "application/json",
            ),
            (
                "slack/commands",
                "command=%2Fscim&text=status".to_owned(),
                "text/plain",
            ),
            ("slack/events", payload.clone(), "text/plain"),
            (
                "slack/events",
                payload.clone(),
                "application/x-www-form-urlencoded",
            ),
        ] {
            // A second, identical signed request would be a replay: each goes a second later.
            app.clock.advance(chrono::Duration::seconds(1));
            let reply = app
                .slack()
                .signed_request(&app.url, path, body, wrong, &SigningOptions::valid())
                .await
                .unwrap();
            assert_eq!(reply.status, 415, "{path} as {wrong}: {}", reply.body);
            assert!(reply.body.contains("Content-Type"), "{}", reply.body);
        }
        // An unsigned request is still refused for its signature first.
        let unsigned = app
            .slack()
            .signed_request(
                &app.url,
                "slack/events",
                payload,
                "text/plain",
                &SigningOptions::unsigned(),
            )
            .await
            .unwrap();
        assert_eq!(unsigned.status, 401);
        assert!(rotations(app).is_empty());
    })
    .await;
}
