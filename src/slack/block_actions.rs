//! A `block_actions` payload (a click) read for what the bot uses, and nothing else.
//!
//! slack-morphism's `SlackInteractionEvent` is an internally tagged enum: serde reads the
//! whole payload into a buffer first (`Content`), then again into the struct, and the
//! `message` a button was on is read with all its blocks — another tagged enum per block.
//! A click needs none of that: who clicked, which button, where. [`BlockActions`] is read
//! straight from the payload's bytes (`serde_json::from_slice`), skipping everything else
//! without allocating. Over Socket Mode slack-morphism has already parsed the event, and
//! it is converted ([`From`]) so that one parser (`interaction::parse_click`) reads both.
//!
//! The fields slack-morphism requires are required here too (a payload without them is
//! not a click and goes the slow way, which refuses it exactly as before).

use serde::Deserialize;
use slack_morphism::prelude::*;

/// What the bot reads of a click.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct BlockActions {
    pub team: Id,
    pub user: Option<User>,
    pub api_app_id: String,
    pub container: Container,
    pub trigger_id: String,
    pub channel: Option<Id>,
    /// The message the button was on: only its thread (its blocks are skipped).
    pub message: Option<Message>,
    pub actions: Option<Vec<Action>>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Id {
    pub id: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct User {
    pub id: String,
}

/// Where the button was: a message (its `ts` and channel), a message attachment or a view.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Container {
    #[serde(rename = "type")]
    pub kind: String,
    pub message_ts: Option<String>,
    pub channel_id: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Message {
    /// Required, as slack-morphism requires it (a message without one is not a click).
    pub ts: String,
    pub thread_ts: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Action {
    #[serde(rename = "type")]
    pub kind: String,
    pub action_id: String,
    pub value: Option<String>,
}

impl BlockActions {
    /// Reads a click from a payload's JSON; `None` when it is not one this reader takes
    /// (then slack-morphism's full parse decides, and refuses it as before).
    pub fn from_json(payload: &[u8]) -> Option<BlockActions> {
        let click: BlockActions = serde_json::from_slice(payload).ok()?;
        let container_ok = match click.container.kind.as_str() {
            "message" | "message_attachment" => click.container.message_ts.is_some(),
            "view" => true,
            _ => false,
        };
        container_ok.then_some(click)
    }

    /// Whether the container is a message (then `message_ts` and `channel_id` say which).
    pub fn on_message(&self) -> bool {
        self.container.kind == "message"
    }
}

/// Why a click is malformed for this app (HTTP: 400 with this reason), or `None`.
pub fn malformed(user: Option<&str>, actions: usize) -> Option<&'static str> {
    if user.is_none_or(|u| u.trim().is_empty()) {
        Some("malformed interaction: a click without a user")
    } else if actions == 0 {
        Some("malformed interaction: a click without an action")
    } else {
        None
    }
}

impl From<SlackInteractionBlockActionsEvent> for BlockActions {
    fn from(event: SlackInteractionBlockActionsEvent) -> Self {
        let container = match event.container {
            SlackInteractionActionContainer::Message(m) => Container {
                kind: "message".to_owned(),
                message_ts: Some(m.message_ts.0),
                channel_id: m.channel_id.map(|c| c.0),
            },
            SlackInteractionActionContainer::MessageAttachment(m) => Container {
                kind: "message_attachment".to_owned(),
                message_ts: Some(m.message_ts.0),
                channel_id: m.channel_id.map(|c| c.0),
            },
            SlackInteractionActionContainer::View(_) => Container {
                kind: "view".to_owned(),
                message_ts: None,
                channel_id: None,
            },
        };
        BlockActions {
            team: Id {
                id: event.team.id.0,
            },
            user: event.user.map(|u| User { id: u.id.0 }),
            api_app_id: event.api_app_id.0,
            container,
            trigger_id: event.trigger_id.0,
            channel: event.channel.map(|c| Id { id: c.id.0 }),
            message: event.message.map(|m| Message {
                ts: m.origin.ts.0,
                thread_ts: m.origin.thread_ts.map(|t| t.0),
            }),
            actions: event.actions.map(|actions| {
                actions
                    .into_iter()
                    .map(|a| Action {
                        kind: a.action_type.0,
                        action_id: a.action_id.0,
                        value: a.value,
                    })
                    .collect()
            }),
        }
    }
}

/// A click on *Approve* as Slack sends it (the tests of both read paths start from it).
#[cfg(test)]
pub(crate) fn sample_click() -> serde_json::Value {
    serde_json::json!({
        "type": "block_actions",
        "user": {"id": "U1", "username": "u", "name": "u", "team_id": "T1"},
        "api_app_id": "A1", "token": "t",
        "container": {"type": "message", "message_ts": "1.000200", "channel_id": "C1", "is_ephemeral": false},
        "trigger_id": "1.2.abc", "team": {"id": "T1", "domain": "x"},
        "enterprise": null, "is_enterprise_install": false,
        "channel": {"id": "C1", "name": "identity-ops"},
        "state": {"values": {}}, "response_url": "https://hooks.slack.com/actions/T1/1/x",
        "message": {"type": "message", "ts": "1.000200", "thread_ts": "1.000100", "text": "t",
                    "user": "U0BOT", "blocks": [{"type": "actions", "block_id": "b", "elements": [
                        {"type": "button", "action_id": "approve", "value": "7",
                         "text": {"type": "plain_text", "text": "Approve"}}]}]},
        "actions": [{"type": "button", "action_id": "approve", "block_id": "b", "value": "7",
                     "text": {"type": "plain_text", "text": "Approve"}, "action_ts": "1.3"}]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_direct_read_and_slack_morphisms_agree() {
        let payload = sample_click();
        let direct = BlockActions::from_json(payload.to_string().as_bytes()).expect("a click");
        let SlackInteractionEvent::BlockActions(event) =
            serde_json::from_value::<SlackInteractionEvent>(payload).unwrap()
        else {
            panic!("block_actions")
        };
        assert_eq!(direct, BlockActions::from(event));
        assert_eq!(
            direct.message.as_ref().unwrap().thread_ts.as_deref(),
            Some("1.000100")
        );
        assert_eq!(
            direct.actions.as_ref().unwrap()[0].value.as_deref(),
            Some("7")
        );
    }

    #[test]
    fn what_slack_morphism_refuses_is_not_read_directly() {
        for (pointer, value) in [
            ("/team", json!(null)),
            ("/api_app_id", json!(5)),
            ("/trigger_id", json!(null)),
            ("/container", json!({"type": "somewhere"})),
            ("/container", json!({"type": "message"})),
            ("/actions/0/action_id", json!(null)),
            ("/actions/0/type", json!(null)),
            ("/user/id", json!(null)),
        ] {
            let mut payload = sample_click();
            *payload.pointer_mut(pointer).unwrap() = value;
            assert!(
                serde_json::from_value::<SlackInteractionEvent>(payload.clone()).is_err(),
                "slack-morphism accepts {pointer}"
            );
            assert!(
                BlockActions::from_json(payload.to_string().as_bytes()).is_none(),
                "{pointer}"
            );
        }
    }

    #[test]
    fn a_click_without_a_user_or_action_is_malformed() {
        assert!(malformed(None, 1).is_some());
        assert!(malformed(Some(" "), 1).is_some());
        assert!(malformed(Some("U1"), 0).is_some());
        assert_eq!(malformed(Some("U1"), 1), None);
    }
}
