//! The fake Slack builds a click's payload without delivering it: what the side-by-side
//! benchmark's load generator signs and sends.

use scim_rotator::clock::ManualClock;
use scim_sandbox::slack::FakeSlack;
use scim_sandbox::slack::identity::BOT_TOKEN;
use serde_json::{Value, json};
use std::sync::Arc;

const CHANNEL: &str = "C0SCIM";
const USER: &str = "U0DEV";

async fn fake() -> FakeSlack {
    let clock = ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap());
    let slack = FakeSlack::start(Arc::new(clock)).await;
    slack.add_channel(CHANNEL, "scim-tokens");
    slack.add_user(USER, "dev");
    slack
}

async fn post(client: &reqwest::Client, slack: &FakeSlack, body: Value) -> Value {
    client
        .post(format!("{}/chat.postMessage", slack.api_url()))
        .bearer_auth(BOT_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_click_payload_is_built_from_the_stored_message_without_being_sent() {
    let slack = fake().await;
    let posted = post(
        &reqwest::Client::new(),
        &slack,
        json!({
            "channel": CHANNEL,
            "text": "Rotation request",
            "blocks": [{"type": "actions", "block_id": "b", "elements": [
                {"type": "button", "action_id": "approve", "value": "7",
                 "text": {"type": "plain_text", "text": "Approve"}}
            ]}]
        }),
    )
    .await;
    let ts = posted["ts"].as_str().unwrap();
    let calls = slack.calls().len();

    let payload = slack
        .block_actions_payload(USER, CHANNEL, ts, "approve")
        .unwrap();
    assert_eq!(payload["type"], "block_actions");
    assert_eq!(payload["user"]["id"], USER);
    assert_eq!(payload["container"]["message_ts"], ts);
    assert_eq!(payload["actions"][0]["action_id"], "approve");
    assert_eq!(payload["actions"][0]["value"], "7");
    assert_eq!(
        slack.calls().len(),
        calls,
        "nothing was delivered or called"
    );
    assert!(slack.deliveries().is_empty());

    assert!(
        slack
            .block_actions_payload(USER, CHANNEL, ts, "no_such_button")
            .is_err(),
        "a button that is not on the message cannot be clicked"
    );
}
