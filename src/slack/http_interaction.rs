//! An interactivity request over HTTP, read the short way.
//!
//! The body is `payload=<JSON>`. The slow way (issue 10's) decoded the form into a lossy
//! `String`, parsed it into a `serde_json::Value` (every block of the message the button
//! was on included), read the origin from that, then converted the `Value` into
//! slack-morphism's internally tagged `SlackInteractionEvent` (serde buffers it once more).
//! The short way: the `payload` field is percent-decoded into bytes ([`form::field`]); one
//! pass reads its `type` and origin ([`Head`]), skipping the rest without allocating; a
//! click is read straight into [`BlockActions`]; other interactions (modal submissions,
//! closed views) straight into `SlackInteractionEvent`.
//!
//! Whenever the short way cannot read a payload it hands it to the slow way, unchanged, so
//! every refusal (400 with its reason, 403 for another workspace) is what it was.

use crate::metrics::Metrics;
use crate::slack::block_actions::BlockActions;
use crate::slack::form;
use crate::slack::identity::Origin;
use crate::slack::inbound::{InboundGuard, Refusal};
use crate::slack::interaction;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use slack_morphism::prelude::*;

/// An interaction read, admitted and checked: what the bot is handed. (Built once per
/// request and moved into the handler: a click's 240 bytes are not worth an allocation.)
#[allow(clippy::large_enum_variant)]
pub enum Incoming {
    Click(BlockActions),
    /// A modal submission or a closed view (boxed: slack-morphism's event is ~2 KB).
    Other(Box<SlackInteractionEvent>),
}

/// What one pass reads of any payload: its type, and what says where it is from (the
/// fields `Origin::of_interaction_json` looks at; the rest is skipped).
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: Option<Value>,
    team: Option<Value>,
    team_id: Option<Value>,
    user: Option<Value>,
    enterprise: Option<Value>,
    enterprise_id: Option<Value>,
    api_app_id: Option<Value>,
}

impl Head {
    fn origin(self) -> (Option<Value>, Origin) {
        let mut fields = serde_json::Map::new();
        for (name, value) in [
            ("team", self.team),
            ("team_id", self.team_id),
            ("user", self.user),
            ("enterprise", self.enterprise),
            ("enterprise_id", self.enterprise_id),
            ("api_app_id", self.api_app_id),
        ] {
            if let Some(value) = value {
                fields.insert(name.to_owned(), value);
            }
        }
        (
            self.kind,
            Origin::of_interaction_json(&Value::Object(fields)),
        )
    }
}

fn malformed(metrics: &Metrics, counted: &str, answer: &str) -> Refusal {
    metrics.refused("malformed", counted);
    (StatusCode::BAD_REQUEST, answer.to_owned())
}

/// The interaction in `body`, or the refusal (counted) to answer with.
pub fn read(body: &[u8], guard: &InboundGuard, metrics: &Metrics) -> Result<Incoming, Refusal> {
    let Ok(payload) = form::field(body, "payload") else {
        return Err(malformed(
            metrics,
            "an interaction without a payload field",
            "malformed interaction: expected a form field 'payload'",
        ));
    };
    let incoming = match serde_json::from_slice::<Head>(&payload) {
        Ok(head) => {
            let (kind, origin) = head.origin();
            guard.admit(&origin, "interaction")?;
            let click = (kind.as_ref().and_then(Value::as_str) == Some("block_actions"))
                .then(|| BlockActions::from_json(&payload))
                .flatten();
            match click {
                Some(click) => Incoming::Click(click),
                None => match serde_json::from_slice::<SlackInteractionEvent>(&payload) {
                    Ok(event) => Incoming::Other(Box::new(event)),
                    Err(_) => Incoming::Other(Box::new(slow(&payload, None, metrics)?)),
                },
            }
        }
        Err(_) => Incoming::Other(Box::new(slow(&payload, Some(guard), metrics)?)),
    };
    let problem = match &incoming {
        Incoming::Click(click) => interaction::malformed_click(click),
        Incoming::Other(event) => interaction::malformed(event),
    };
    match problem {
        Some(reason) => {
            metrics.refused("malformed", reason);
            Err((StatusCode::BAD_REQUEST, reason.to_owned()))
        }
        None => Ok(incoming),
    }
}

/// The slow way, as before: lossy text, a `Value`, the origin (unless already admitted:
/// `guard` is `None`), then slack-morphism's event.
fn slow(
    payload: &[u8],
    guard: Option<&InboundGuard>,
    metrics: &Metrics,
) -> Result<SlackInteractionEvent, Refusal> {
    let text = String::from_utf8_lossy(payload);
    let Ok(value) = serde_json::from_str::<Value>(&text) else {
        return Err(malformed(
            metrics,
            "an interaction payload that is not JSON",
            "malformed interaction: payload is not JSON",
        ));
    };
    if let Some(guard) = guard {
        guard.admit(&Origin::of_interaction_json(&value), "interaction")?;
    }
    serde_json::from_value(value).map_err(|_| {
        malformed(
            metrics,
            "a payload that is not a Slack interaction",
            "malformed interaction: payload is not a Slack interaction",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::block_actions::sample_click;
    use crate::slack::identity::WorkspaceIdentity;
    use crate::slack::interaction::{self, Interaction};
    use proptest::prelude::*;
    use serde_json::json;
    use std::sync::Arc;

    fn guard() -> InboundGuard {
        InboundGuard::new(
            WorkspaceIdentity {
                team_id: "T1".to_owned(),
                enterprise_id: None,
                app_id: "A1".to_owned(),
            },
            Arc::new(Metrics::new()),
        )
    }

    /// Issue 10's way, as it was: the form into a lossy `String`, a `Value`, the origin,
    /// slack-morphism's event, the malformed check; then what the bot would be handed.
    fn old_way(body: &[u8], guard: &InboundGuard, metrics: &Metrics) -> Result<String, Refusal> {
        #[derive(Deserialize)]
        struct InteractionForm {
            payload: String,
        }
        let bad = |reason: &str| (StatusCode::BAD_REQUEST, reason.to_owned());
        let form = serde_urlencoded::from_bytes::<InteractionForm>(body)
            .map_err(|_| bad("malformed interaction: expected a form field 'payload'"))?;
        let value = serde_json::from_str::<Value>(&form.payload)
            .map_err(|_| bad("malformed interaction: payload is not JSON"))?;
        guard.admit(&Origin::of_interaction_json(&value), "interaction")?;
        let event: SlackInteractionEvent = serde_json::from_value(value)
            .map_err(|_| bad("malformed interaction: payload is not a Slack interaction"))?;
        if let Some(reason) = interaction::malformed(&event) {
            return Err(bad(reason));
        }
        let _ = metrics;
        Ok(described(interaction::parse(event)))
    }

    fn new_way(body: &[u8], guard: &InboundGuard, metrics: &Metrics) -> Result<String, Refusal> {
        read(body, guard, metrics).map(|incoming| {
            described(match incoming {
                Incoming::Click(click) => interaction::parse_click(click),
                Incoming::Other(event) => interaction::parse(*event),
            })
        })
    }

    fn described(interaction: Interaction) -> String {
        format!("{interaction:?}")
    }

    fn form(payload: &str) -> Vec<u8> {
        serde_urlencoded::to_string([("payload", payload)])
            .unwrap()
            .into_bytes()
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            prop_oneof![
                Just("".to_owned()),
                Just("T1".to_owned()),
                Just("A1".to_owned()),
                Just("message".to_owned()),
                Just("block_actions".to_owned()),
                Just("view_closed".to_owned()),
                "[a-z_]{0,8}",
            ]
            .prop_map(Value::from),
            Just(json!({})),
            Just(json!([])),
            Just(json!({"id": "T1"})),
            Just(json!([{"type": "button", "action_id": "x"}])),
        ]
    }

    proptest! {
        /// For a real click with any one field replaced or removed, the short way gives the
        /// answer the old way gave: the same refusal, or the same interaction for the bot.
        #[test]
        fn the_short_way_answers_as_the_old_way(
            pointer in prop::sample::select(vec![
                "/type", "/team", "/team/id", "/api_app_id", "/user", "/user/id",
                "/container", "/container/type", "/container/message_ts", "/trigger_id",
                "/channel", "/channel/id", "/message", "/message/thread_ts", "/actions",
                "/actions/0", "/actions/0/action_id", "/actions/0/value", "/actions/0/type",
                "/enterprise", "/team_id",
            ]),
            value in prop::option::of(leaf()),
        ) {
            let mut payload = sample_click();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            let target = if parent.is_empty() { Some(&mut payload) } else { payload.pointer_mut(parent) };
            match (target, value) {
                (Some(Value::Object(object)), Some(value)) => { object.insert(key.to_owned(), value); }
                (Some(Value::Object(object)), None) => { object.remove(key); }
                (Some(Value::Array(array)), Some(value)) => { array[0] = value; }
                (Some(Value::Array(array)), None) => { array.clear(); }
                _ => {}
            }
            let body = form(&payload.to_string());
            let (guard, metrics) = (guard(), Metrics::new());
            prop_assert_eq!(new_way(&body, &guard, &metrics), old_way(&body, &guard, &metrics));
        }

        /// Any bytes at all: the same answer both ways.
        #[test]
        fn any_body_is_answered_as_before(body in prop::collection::vec(any::<u8>(), 0..200)) {
            let (guard, metrics) = (guard(), Metrics::new());
            prop_assert_eq!(new_way(&body, &guard, &metrics), old_way(&body, &guard, &metrics));
        }
    }

    #[test]
    fn a_modal_closed_and_a_click_go_their_ways() {
        let (guard, metrics) = (guard(), Metrics::new());
        let body = form(&sample_click().to_string());
        assert!(matches!(
            read(&body, &guard, &metrics),
            Ok(Incoming::Click(_))
        ));
        let closed = json!({"type": "view_closed", "team": {"id": "T1"}, "api_app_id": "A1",
            "user": {"id": "U1"}, "view": {"id": "V1", "type": "modal",
            "title": {"type": "plain_text", "text": "t"}, "blocks": []}, "is_cleared": false});
        let body = form(&closed.to_string());
        assert_eq!(
            new_way(&body, &guard, &metrics),
            old_way(&body, &guard, &metrics)
        );
        let foreign = form(&sample_click().to_string().replace("\"T1\"", "\"T2\""));
        assert_eq!(
            read(&foreign, &guard, &metrics).err().map(|r| r.0),
            Some(StatusCode::FORBIDDEN)
        );
    }
}
