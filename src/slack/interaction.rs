//! Slack interaction payloads turned into typed requests (pure: no I/O).
//!
//! The token typed into the modal is parsed into a [`ScimToken`] here, at the earliest
//! point, and the payload is dropped right after: nothing downstream sees the raw value.

use crate::rotation::RotationId;
use crate::secret::ScimToken;
use crate::slack::block_actions::{self, BlockActions};
use crate::slack::ids;
use chrono::NaiveDate;
use slack_morphism::prelude::*;
use std::collections::HashMap;

/// A button click, with what the bot needs to answer it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Click {
    pub user: String,
    pub action: Button,
    pub trigger_id: String,
    /// Channel and message the button was on (absent for buttons in modals or App Home).
    pub channel: Option<String>,
    pub message_ts: Option<String>,
    /// The thread the message belongs to (the message itself when it is top-level).
    pub thread_ts: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Button {
    StartRotation(String),
    Approve(RotationId),
    Reject(RotationId),
    Cancel(RotationId),
    EnterToken(RotationId),
    ConfirmDeleted(RotationId),
    Retry(RotationId),
}

/// The token modal, submitted.
#[derive(Debug)]
pub struct TokenSubmission {
    pub user: String,
    pub rotation: RotationId,
    pub token: ScimToken,
    pub token_id: Option<String>,
    pub expires: Option<NaiveDate>,
}

/// The register modal, submitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub user: String,
    pub connection: String,
    /// The channel `/scim register` was run in: the answer goes there.
    pub reply_channel: Option<String>,
    pub token_id: String,
    pub created: NaiveDate,
}

#[derive(Debug)]
pub enum Interaction {
    Click(Click),
    SubmitToken(TokenSubmission),
    Register(Registration),
    /// Bad input in a modal: errors by block id, shown inline by Slack.
    InvalidSubmission(HashMap<String, String>),
    /// A click the bot cannot act on (an action id it never rendered, a value that is not
    /// what its button carries): the clicker is told, nothing changes.
    NotUnderstood {
        user: String,
        channel: Option<String>,
        thread_ts: Option<String>,
        what: String,
    },
    /// Something the bot does not act on (a view closed, a link button's click): acked,
    /// nothing answered, nothing changed.
    Ignored(&'static str),
}

/// Why a payload is malformed for this app (HTTP: 400 with this reason; Socket Mode: acked
/// and logged), or `None` when [`parse`] can read it. Checked before anything else.
pub fn malformed(event: &SlackInteractionEvent) -> Option<&'static str> {
    match event {
        SlackInteractionEvent::BlockActions(click) => block_actions::malformed(
            click.user.as_ref().map(|u| u.id.0.as_str()),
            click.actions.as_ref().map_or(0, Vec::len),
        ),
        SlackInteractionEvent::ViewSubmission(submission) => match &submission.view.view {
            SlackView::Home(_) => Some("malformed interaction: a submission from the home tab"),
            SlackView::Modal(modal) => {
                let callback = modal.callback_id.as_ref().map(|c| c.0.as_str());
                match callback {
                    Some(ids::SUBMIT_TOKEN | ids::REGISTER_TOKEN) => None,
                    _ => {
                        Some("malformed interaction: a submission of a modal this app never opened")
                    }
                }
            }
        },
        SlackInteractionEvent::ViewClosed(_) => None,
        _ => Some("malformed interaction: an interaction type this app does not use"),
    }
}

/// An action id or value as it may be repeated back: short and plain, else a placeholder
/// (a click's value could hold anything, a pasted secret included).
fn shown(text: &str) -> String {
    if !text.is_empty()
        && text.len() <= 40
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        format!("`{text}`")
    } else {
        "this one".to_owned()
    }
}

/// Parses one interaction payload.
pub fn parse(event: SlackInteractionEvent) -> Interaction {
    match event {
        SlackInteractionEvent::BlockActions(event) => parse_click(event.into()),
        SlackInteractionEvent::ViewSubmission(event) => parse_submission(event),
        _ => Interaction::Ignored("interaction type not used by this app"),
    }
}

/// Why a click read directly ([`BlockActions::from_json`]) is malformed, as [`malformed`]
/// says of the same click parsed by slack-morphism.
pub fn malformed_click(click: &BlockActions) -> Option<&'static str> {
    block_actions::malformed(
        click.user.as_ref().map(|u| u.id.as_str()),
        click.actions.as_ref().map_or(0, Vec::len),
    )
}

/// Parses one click (read directly over HTTP, converted from slack-morphism's event over
/// Socket Mode).
pub fn parse_click(event: BlockActions) -> Interaction {
    let on_message = event.on_message();
    let Some(user) = event.user.map(|u| u.id) else {
        return Interaction::Ignored("click without a user");
    };
    let Some(action) = event.actions.unwrap_or_default().into_iter().next() else {
        return Interaction::Ignored("click without an action");
    };
    if ids::LINKS.contains(&action.action_id.as_str()) {
        // Slack opened the link; the click only needs its acknowledgement.
        return Interaction::Ignored("a link button");
    }
    let value = action.value.unwrap_or_default();
    let rotation = || {
        value
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(RotationId)
    };
    let button = match action.action_id.as_str() {
        ids::START_ROTATION if !value.trim().is_empty() => {
            Some(Button::StartRotation(value.trim().to_owned()))
        }
        ids::APPROVE => rotation().map(Button::Approve),
        ids::REJECT => rotation().map(Button::Reject),
        ids::CANCEL => rotation().map(Button::Cancel),
        ids::ENTER_TOKEN => rotation().map(Button::EnterToken),
        ids::CONFIRM_DELETED => rotation().map(Button::ConfirmDeleted),
        ids::RETRY => rotation().map(Button::Retry),
        _ => None,
    };
    let (channel, message_ts) = if on_message {
        (event.container.channel_id, event.container.message_ts)
    } else {
        (None, None)
    };
    let channel = channel.or_else(|| event.channel.map(|c| c.id));
    let thread_ts = event
        .message
        .and_then(|m| m.thread_ts)
        .or_else(|| message_ts.clone());
    let Some(button) = button else {
        let known = ids::ALL.contains(&action.action_id.as_str());
        let what = if known {
            format!(
                "The button {} carried a value I cannot read, so nothing was changed.",
                shown(&action.action_id)
            )
        } else {
            format!(
                "I do not know the button {}, so nothing was changed. Use the buttons in the rotation's latest messages.",
                shown(&action.action_id)
            )
        };
        return Interaction::NotUnderstood {
            user,
            channel,
            thread_ts,
            what,
        };
    };
    Interaction::Click(Click {
        user,
        action: button,
        trigger_id: event.trigger_id,
        channel,
        message_ts,
        thread_ts,
    })
}

fn parse_submission(event: SlackInteractionViewSubmissionEvent) -> Interaction {
    let user = event.user.id.0;
    let (callback_id, metadata) = match &event.view.view {
        SlackView::Modal(modal) => (
            modal
                .callback_id
                .as_ref()
                .map(|c| c.0.clone())
                .unwrap_or_default(),
            modal.private_metadata.clone().unwrap_or_default(),
        ),
        SlackView::Home(_) => return Interaction::Ignored("submission from the home tab"),
    };
    let values = event
        .view
        .state_params
        .state
        .map(|s| s.values)
        .unwrap_or_default();
    let field = |block: &str| -> Option<&SlackViewStateValue> {
        values
            .get(&SlackBlockId(block.to_owned()))
            .and_then(|actions| actions.get(&SlackActionId(ids::VALUE.to_owned())))
    };
    let text = |block: &str| {
        field(block)
            .and_then(|v| v.value.as_deref())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let date = |block: &str| {
        field(block)
            .and_then(|v| v.selected_date.as_deref())
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    };

    match callback_id.as_str() {
        ids::SUBMIT_TOKEN => {
            let Ok(rotation) = metadata.trim().parse::<i64>().map(RotationId) else {
                return Interaction::Ignored("token modal without its rotation");
            };
            let raw = field(ids::TOKEN_BLOCK)
                .and_then(|v| v.value.as_deref())
                .unwrap_or("");
            let mut errors = HashMap::new();
            let token = match ScimToken::parse(raw) {
                Ok(token) => Some(token),
                Err(reason) => {
                    errors.insert(ids::TOKEN_BLOCK.to_owned(), reason.to_string());
                    None
                }
            };
            let token_id = text(ids::TOKEN_ID_BLOCK).map(str::to_owned);
            if token_id
                .as_deref()
                .is_some_and(|id| !crate::rotation::plausible_token_id(id))
            {
                errors.insert(
                    ids::TOKEN_ID_BLOCK.to_owned(),
                    "A token id is one word, as the AWS console shows it.".to_owned(),
                );
            }
            match token {
                Some(token) if errors.is_empty() => Interaction::SubmitToken(TokenSubmission {
                    user,
                    rotation,
                    token,
                    token_id,
                    expires: date(ids::EXPIRES_BLOCK),
                }),
                _ => Interaction::InvalidSubmission(errors),
            }
        }
        ids::REGISTER_TOKEN => {
            let mut errors = HashMap::new();
            let token_id = text(ids::TOKEN_ID_BLOCK).map(str::to_owned);
            if token_id.is_none() {
                errors.insert(
                    ids::TOKEN_ID_BLOCK.to_owned(),
                    "Enter the token id the AWS console shows.".to_owned(),
                );
            }
            let created = date(ids::CREATED_BLOCK);
            if created.is_none() {
                errors.insert(
                    ids::CREATED_BLOCK.to_owned(),
                    "Pick the date the token was created.".to_owned(),
                );
            }
            match (token_id, created) {
                (Some(token_id), Some(created)) if errors.is_empty() => {
                    let mut words = metadata.split_whitespace();
                    Interaction::Register(Registration {
                        user,
                        connection: words.next().unwrap_or_default().to_owned(),
                        reply_channel: words.next().map(str::to_owned),
                        token_id,
                        created,
                    })
                }
                _ => Interaction::InvalidSubmission(errors),
            }
        }
        _ => Interaction::Ignored("unknown modal"),
    }
}
