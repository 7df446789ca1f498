//! Slack's side of interactivity: people clicking, submitting modals, running slash
//! commands, and Slack delivering events; and what Slack does with the bot's answers
//! (close or keep a modal, show a command's reply).

use super::FakeSlack;
use super::delivery::{BotReply, JSON, Outgoing, Transport, endpoint};
use super::error::InteractionError;
use super::model::ResponseTarget;
use super::payloads;
use super::signing::SigningOptions;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use url::Url;

/// A button click and the bot's answer.
#[derive(Clone, Debug)]
pub struct Click {
    pub reply: BotReply,
    /// The trigger issued with the click (for `views.open` within [`super::TRIGGER_TTL`]).
    pub trigger_id: String,
    /// The `block_actions` payload sent.
    pub payload: Value,
}

/// A modal submission, the bot's answer and what Slack did with the modal.
#[derive(Clone, Debug)]
pub struct Submission {
    pub reply: BotReply,
    pub outcome: ViewOutcome,
    /// The `view_submission` payload sent.
    pub payload: Value,
}

/// What happened to a submitted modal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViewOutcome {
    /// Empty answer (or no `response_action`): this modal closed.
    Closed,
    /// `response_action: clear`: every modal of the person closed.
    ClearedAll,
    /// `response_action: errors`: shown under the inputs (keyed by `block_id`); still open.
    Errors(BTreeMap<String, String>),
    /// `response_action: update`: same modal, new content.
    Updated,
    /// `response_action: push`: a new modal (its id) on top.
    Pushed(String),
    /// An answer Slack cannot use (non-2xx, not JSON, errors naming no input, an invalid
    /// view): the person sees an error and the modal stays as it was.
    Rejected(String),
}

/// A slash command and the bot's answer.
#[derive(Clone, Debug)]
pub struct SlashCommand {
    pub reply: BotReply,
    pub trigger_id: String,
    /// The form fields sent.
    pub fields: Vec<(String, String)>,
    /// Why Slack could not show the bot's direct answer (e.g. `invalid_blocks`), if so.
    pub reply_error: Option<String>,
}

/// A `url_verification` handshake.
#[derive(Clone, Debug)]
pub struct UrlVerification {
    pub reply: BotReply,
    pub challenge: String,
    /// Whether the bot answered with the challenge (as text or `{"challenge":…}`).
    pub echoed: bool,
}

impl FakeSlack {
    /// `user` clicks the button `action_id` in the message `message_ts` of `channel` (a
    /// stored message, or an ephemeral message shown to `user`). Fails if there is no such
    /// button: a person cannot click what is not there.
    pub async fn click(
        &self,
        to: impl Into<Transport>,
        user: &str,
        channel: &str,
        message_ts: &str,
        action_id: &str,
    ) -> Result<Click, InteractionError> {
        let built = {
            let now = self.shared.now();
            let mut ws = self.shared.workspace();
            payloads::block_actions_on_message(
                &mut ws,
                now,
                &self.shared.base_url,
                user,
                channel,
                message_ts,
                action_id,
            )?
        };
        let reply = self
            .deliver(
                to.into(),
                "block_actions",
                Outgoing::Interactive(&built.payload),
            )
            .await?;
        Ok(Click {
            reply,
            trigger_id: built.trigger_id,
            payload: built.payload,
        })
    }

    /// The `block_actions` payload Slack would deliver when `user` clicks `action_id` on a
    /// stored message, built but not sent: a load generator signs and sends copies itself
    /// (each with its own `trigger_id`, so that no two requests are the same).
    pub fn block_actions_payload(
        &self,
        user: &str,
        channel: &str,
        message_ts: &str,
        action_id: &str,
    ) -> Result<Value, InteractionError> {
        let now = self.shared.now();
        let mut ws = self.shared.workspace();
        payloads::block_actions_on_message(
            &mut ws,
            now,
            &self.shared.base_url,
            user,
            channel,
            message_ts,
            action_id,
        )
        .map(|built| built.payload)
    }

    /// `user` clicks a button in one of their views: an open modal or their Home tab.
    pub async fn click_in_view(
        &self,
        to: impl Into<Transport>,
        user: &str,
        view_id: &str,
        action_id: &str,
    ) -> Result<Click, InteractionError> {
        let built = {
            let now = self.shared.now();
            let mut ws = self.shared.workspace();
            payloads::block_actions_in_view(&mut ws, now, user, view_id, action_id)?
        };
        let reply = self
            .deliver(
                to.into(),
                "block_actions",
                Outgoing::Interactive(&built.payload),
            )
            .await?;
        Ok(Click {
            reply,
            trigger_id: built.trigger_id,
            payload: built.payload,
        })
    }

    /// `user` fills the inputs of their open modal `view_id` with `values`
    /// (`(block_id, action_id, state)`, see [`super::plain_text_value`] and
    /// [`super::datepicker_value`]) and presses submit. Slack's client-side checks apply
    /// (required inputs, lengths); then the bot's answer decides the modal's fate.
    pub async fn submit_view(
        &self,
        to: impl Into<Transport>,
        user: &str,
        view_id: &str,
        values: &[(&str, &str, Value)],
    ) -> Result<Submission, InteractionError> {
        let built = {
            let now = self.shared.now();
            let mut ws = self.shared.workspace();
            payloads::view_submission(&mut ws, now, user, view_id, values)?
        };
        let reply = self
            .deliver(
                to.into(),
                "view_submission",
                Outgoing::Interactive(&built.payload),
            )
            .await?;
        let outcome = self.apply_view_answer(user, view_id, &reply);
        Ok(Submission {
            reply,
            outcome,
            payload: built.payload,
        })
    }

    /// `user` dismisses their modal. The bot hears of it (`view_closed`) only if the view
    /// asked for `notify_on_close`; then its answer is returned.
    pub async fn close_view(
        &self,
        to: impl Into<Transport>,
        user: &str,
        view_id: &str,
    ) -> Result<Option<BotReply>, InteractionError> {
        let payload = {
            let mut ws = self.shared.workspace();
            let payload = payloads::view_closed(&ws, user, view_id)?;
            ws.close_view(user, view_id);
            payload
        };
        if payload["view"]["notify_on_close"] != true {
            return Ok(None);
        }
        self.deliver(to.into(), "view_closed", Outgoing::Interactive(&payload))
            .await
            .map(Some)
    }

    /// `user` types `/command text` in `channel`. A direct answer from the bot is shown as
    /// Slack shows it: to the person only, or in the channel with `response_type: in_channel`.
    pub async fn slash_command(
        &self,
        to: impl Into<Transport>,
        user: &str,
        channel: &str,
        command: &str,
        text: &str,
    ) -> Result<SlashCommand, InteractionError> {
        let (fields, trigger_id) = {
            let now = self.shared.now();
            let mut ws = self.shared.workspace();
            payloads::slash_command(
                &mut ws,
                now,
                &self.shared.base_url,
                user,
                channel,
                command,
                text,
            )?
        };
        let reply = self
            .deliver(to.into(), "slash_command", Outgoing::Command(&fields))
            .await?;
        let channel_id = fields
            .iter()
            .find(|(k, _)| k == "channel_id")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let reply_error = self.show_command_reply(&channel_id, user, &reply);
        Ok(SlashCommand {
            reply,
            trigger_id,
            fields,
            reply_error,
        })
    }

    /// Wraps an event (e.g. [`FakeSlack::app_home_opened`]) in an `event_callback` with a
    /// fresh `event_id`. Deliver it with [`FakeSlack::event`]; redeliver the same value to
    /// model a retry.
    pub fn event_callback(&self, event: Value) -> Value {
        let now = self.shared.now();
        payloads::event_callback(&mut self.shared.workspace(), now, event)
    }

    /// The `app_home_opened` event for `user` (with their Home view once published).
    pub fn app_home_opened(&self, user: &str) -> Value {
        let now = self.shared.now();
        payloads::app_home_opened(&self.shared.workspace(), now, user)
    }

    /// Delivers an Events API `event_callback`; `retry` = `(attempt, reason)` as Slack's
    /// redeliveries carry (`X-Slack-Retry-Num`/`-Reason`, or `retry_attempt`/`retry_reason`).
    pub async fn event(
        &self,
        to: impl Into<Transport>,
        event_callback: &Value,
        retry: Option<(u32, &str)>,
    ) -> Result<BotReply, InteractionError> {
        self.deliver(
            to.into(),
            "event_callback",
            Outgoing::Event {
                callback: event_callback,
                retry,
            },
        )
        .await
    }

    /// The handshake Slack makes when the Events API Request URL is saved.
    pub async fn url_verification(
        &self,
        bot_url: &Url,
    ) -> Result<UrlVerification, InteractionError> {
        let (payload, challenge) = payloads::url_verification(&mut self.shared.workspace());
        let reply = self
            .post_signed(
                "url_verification",
                &endpoint(bot_url, "slack/events"),
                payload.to_string().into_bytes(),
                JSON,
                &SigningOptions::valid(),
            )
            .await?;
        let echoed = reply.is_success()
            && (reply.body.trim() == challenge
                || reply
                    .json()
                    .is_some_and(|j| j["challenge"] == challenge.as_str()));
        Ok(UrlVerification {
            reply,
            challenge,
            echoed,
        })
    }

    /// A hand-made request to `<bot_url>/<path>` with any body, signed per `options`
    /// (negative tests: bad signature, stale timestamp, tampered body).
    pub async fn signed_request(
        &self,
        bot_url: &Url,
        path: &str,
        body: impl Into<Vec<u8>>,
        content_type: &str,
        options: &SigningOptions,
    ) -> Result<BotReply, InteractionError> {
        self.post_signed(
            "raw",
            &endpoint(bot_url, path),
            body.into(),
            content_type,
            options,
        )
        .await
    }

    /// What Slack does with the answer to a `view_submission`.
    fn apply_view_answer(&self, user: &str, view_id: &str, reply: &BotReply) -> ViewOutcome {
        if !reply.is_success() {
            return ViewOutcome::Rejected(format!("the bot answered HTTP {}", reply.status));
        }
        let now = self.shared.now();
        let mut ws = self.shared.workspace();
        let body = reply.body.trim();
        if body.is_empty() {
            ws.close_view(user, view_id);
            return ViewOutcome::Closed;
        }
        let Ok(answer) = serde_json::from_str::<Value>(body) else {
            return ViewOutcome::Rejected("the answer is not JSON".into());
        };
        let refused = |e: super::model::ApiError| {
            ViewOutcome::Rejected(format!("{}: {}", e.error, e.messages.join("; ")))
        };
        match answer["response_action"].as_str() {
            None => {
                ws.close_view(user, view_id);
                ViewOutcome::Closed
            }
            Some("clear") => {
                ws.close_all_views(user);
                ViewOutcome::ClearedAll
            }
            Some("errors") => {
                let inputs: Vec<String> = ws
                    .view(view_id)
                    .map(|v| {
                        v.blocks()
                            .iter()
                            .filter(|b| b["type"] == "input")
                            .filter_map(|b| b["block_id"].as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                let Some(errors) = answer["errors"].as_object() else {
                    return ViewOutcome::Rejected("`errors` is not an object".into());
                };
                let mut shown = BTreeMap::new();
                for (block_id, message) in errors {
                    if !inputs.contains(block_id) {
                        return ViewOutcome::Rejected(format!(
                            "`errors` names `{block_id}`, which is not an input block"
                        ));
                    }
                    let Some(message) = message.as_str() else {
                        return ViewOutcome::Rejected(format!(
                            "error for `{block_id}` is not text"
                        ));
                    };
                    shown.insert(block_id.clone(), message.to_string());
                }
                ViewOutcome::Errors(shown)
            }
            Some("update") => ws
                .update_view(now, Some(view_id), None, None, answer["view"].clone())
                .map_or_else(refused, |_| ViewOutcome::Updated),
            Some("push") => ws
                .push_view(now, user, answer["view"].clone())
                .map_or_else(refused, |view| ViewOutcome::Pushed(view.id)),
            Some(other) => ViewOutcome::Rejected(format!("unknown response_action `{other}`")),
        }
    }

    /// Shows a slash command's direct answer (HTTP body or ack payload) as Slack would;
    /// returns why it could not, if it could not.
    fn show_command_reply(&self, channel: &str, user: &str, reply: &BotReply) -> Option<String> {
        let body = reply.body.trim();
        if !reply.is_success() || body.is_empty() {
            return None;
        }
        let answer = match serde_json::from_str::<Value>(body) {
            Ok(answer @ Value::Object(_)) => answer,
            _ => json!({ "text": body }),
        };
        let now = self.shared.now();
        let target = ResponseTarget::command(channel, user, now);
        self.shared
            .workspace()
            .respond(now, &target, &answer)
            .err()
            .map(|e| e.error)
    }
}
