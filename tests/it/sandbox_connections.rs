//! The fake Slack counts the TCP connections clients open to it (what the side-by-side
//! benchmark reports as outbound Slack connections), and builds a click's payload without
//! delivering it (what the benchmark's load generator signs and sends).

use scim_rotator::clock::ManualClock;
use scim_rotator::sandbox::slack::identity::BOT_TOKEN;
use scim_rotator::sandbox::slack::{ConnectionCounts, FakeSlack};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Polls until `check` holds, for at most 5 s (closing is seen when the server reads EOF).
async fn eventually(
    slack: &FakeSlack,
    check: impl Fn(ConnectionCounts) -> bool,
) -> ConnectionCounts {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let counts = slack.connection_counts();
        if check(counts) || Instant::now() > until {
            return counts;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn keep_alive_calls_share_a_connection_and_closed_ones_are_counted_closed() {
    let slack = fake().await;
    assert_eq!(slack.connection_counts(), ConnectionCounts::default());
    let message = json!({"channel": CHANNEL, "text": "hello"});

    let first = reqwest::Client::new();
    for _ in 0..3 {
        assert_eq!(post(&first, &slack, message.clone()).await["ok"], true);
    }
    assert_eq!(
        slack.connection_counts(),
        ConnectionCounts {
            accepted: 1,
            open: 1,
            peak_open: 1
        },
        "three calls on one keep-alive connection"
    );

    let second = reqwest::Client::new();
    assert_eq!(post(&second, &slack, message).await["ok"], true);
    let both = slack.connection_counts();
    assert_eq!((both.accepted, both.open, both.peak_open), (2, 2, 2));

    drop(first);
    drop(second);
    let closed = eventually(&slack, |c| c.open == 0).await;
    assert_eq!(
        closed,
        ConnectionCounts {
            accepted: 2,
            open: 0,
            peak_open: 2
        }
    );
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
