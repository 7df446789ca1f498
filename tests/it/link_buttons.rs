//! A link button (one carrying a `url`): Slack opens the link and still sends the click,
//! expecting a bare acknowledgement. The bot renders one on the step-1 instructions
//! ("Open IAM Identity Center") and answers its click with an empty 200 — no ephemeral, no
//! state change, nothing audited — over HTTP and over Socket Mode alike.

use crate::support::app::TestApp;
use scim_rotator::config::SlackMode;
use scim_rotator::rotation::RotationState;
use scim_rotator::slack::ids;
use scim_sandbox::people::*;
use scim_sandbox::slack::{StoredMessage, Transport};
use serde_json::json;

/// A rotation approved and waiting for its new token; returns its step-1 message.
async fn awaiting_token(app: &TestApp, to: Transport) -> StoredMessage {
    let (_, approval) = app.rotate_by_command(to.clone(), MEMBER).await;
    app.slack()
        .click(to, LEAD, CHANNEL, &approval.ts, ids::APPROVE)
        .await
        .unwrap();
    app.wait_for_button(&approval.ts, ids::OPEN_CONSOLE).await
}

/// The buttons of a message's actions blocks.
fn buttons(message: &StoredMessage) -> Vec<serde_json::Value> {
    let blocks = message.blocks.as_array().cloned().unwrap_or_default();
    blocks
        .iter()
        .filter_map(|block| block["elements"].as_array())
        .flatten()
        .filter(|element| element["type"] == "button")
        .cloned()
        .collect()
}

fn state(app: &TestApp) -> RotationState {
    app.app.engine.store().latest_rotations().unwrap()[0].state
}

/// Clicks the link button, then a button the bot does not know (which it answers with an
/// ephemeral): once that answer is there, any answer to the link click would be too.
async fn link_click_is_only_acknowledged(app: &TestApp, to: Transport) {
    let step1 = awaiting_token(app, to.clone()).await.ts;
    app.app.presented().await;
    let message = app
        .slack()
        .message(CHANNEL, &step1)
        .expect("the step-1 message");
    let link = buttons(&message)
        .into_iter()
        .find(|b| b["action_id"] == ids::OPEN_CONSOLE)
        .expect("the link button");
    assert_eq!(
        link["url"],
        json!("https://eu-west-1.console.aws.amazon.com/singlesignon/home?region=eu-west-1"),
        "{link}"
    );
    assert!(
        link.get("value").is_none(),
        "a link button carries no value"
    );
    let audited = app.audit_actions().len();
    let ephemerals = app.slack().ephemerals().len();

    let click = app
        .slack()
        .click(to.clone(), MEMBER, CHANNEL, &step1, ids::OPEN_CONSOLE)
        .await
        .unwrap();
    assert_eq!(click.reply.status, 200);
    assert_eq!(click.reply.body, "", "a bare acknowledgement");

    app.slack()
        .tamper_next(|click| click["actions"][0]["action_id"] = json!("not_a_button"));
    app.slack()
        .click(to, MEMBER, CHANNEL, &step1, ids::OPEN_CONSOLE)
        .await
        .unwrap();
    app.wait_for_ephemeral(MEMBER, "I do not know the button")
        .await;
    app.app.presented().await;
    assert_eq!(
        app.slack().ephemerals().len(),
        ephemerals + 1,
        "only the unknown button was answered: {:?}",
        app.slack().ephemerals()
    );
    assert_eq!(app.audit_actions().len(), audited, "nothing audited");
    assert_eq!(state(app), RotationState::AwaitingNewToken);
    assert_eq!(
        app.slack().message(CHANNEL, &step1).unwrap().edits,
        message.edits,
        "the step-1 message is not redrawn"
    );
}

#[tokio::test]
async fn a_link_button_click_over_http_is_acked_and_nothing_else() {
    let app = TestApp::start(SlackMode::Http).await;
    link_click_is_only_acknowledged(&app, Transport::Http(app.url.clone())).await;
    app.app.shutdown().await;
}

#[tokio::test]
async fn a_link_button_click_over_socket_mode_is_acked_and_nothing_else() {
    let app = TestApp::start(SlackMode::Socket).await;
    app.slack()
        .wait_for_socket_connections(1, crate::support::DEADLINE)
        .await
        .unwrap();
    link_click_is_only_acknowledged(&app, Transport::SocketMode).await;
    app.app.shutdown().await;
}
