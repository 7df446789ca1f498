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
