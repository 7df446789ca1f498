//! The bot's messages: posting, threading, editing, ephemerals, and the answers Slack
//! applies on the app's behalf (`response_url`, slash command replies).

use super::{ApiError, Channel, ResponseTarget, Workspace, dm_channel_id};
use crate::slack::identity::{APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID};
use crate::slack::limits::{self, MAX_MESSAGE_TEXT};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// A message the bot posted, as the channel shows it now.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredMessage {
    pub channel: String,
    pub ts: String,
    /// The parent's `ts` for a thread reply; `None` for a top-level message.
    pub thread_ts: Option<String>,
    /// Author: always the bot's user id (the fake has no human-authored messages).
    pub user: String,
    pub text: String,
    /// The blocks as stored (with Slack-generated `block_id`/`action_id` where missing);
    /// `Value::Null` for a text-only message.
    pub blocks: Value,
    /// How many times `chat.update` (or a `response_url` replace) changed it.
    pub edits: usize,
    /// Earlier versions, oldest first (`history.len() == edits`).
    pub history: Vec<MessageVersion>,
    /// `ts` of the last edit (Slack's `edited.ts`).
    pub edited_ts: Option<String>,
}

impl StoredMessage {
    /// Whether the message carries an interactive element (a button) with `action_id`.
    pub fn has_button(&self, action_id: &str) -> bool {
        carries_action(&self.blocks, action_id)
    }
}

fn carries_action(value: &Value, action_id: &str) -> bool {
    match value {
        Value::Object(fields) => {
            fields.get("action_id").and_then(Value::as_str) == Some(action_id)
                || fields.values().any(|v| carries_action(v, action_id))
        }
        Value::Array(items) => items.iter().any(|v| carries_action(v, action_id)),
        _ => false,
    }
}

/// One earlier version of an edited message.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageVersion {
    pub text: String,
    pub blocks: Value,
}

/// A message only one person sees (`chat.postEphemeral`, slash command replies,
/// ephemeral `response_url` posts). Slack keeps no copy: this is what the person saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Ephemeral {
    pub channel: String,
    pub user: String,
    pub thread_ts: Option<String>,
    pub text: String,
    pub blocks: Value,
    /// The `message_ts` Slack answered with; clicks on it carry it as `container.message_ts`.
    pub message_ts: String,
}

impl Workspace {
    // ----- messages ----------------------------------------------------------------------

    /// `chat.postMessage`.
    pub fn post_message(
        &mut self,
        now: DateTime<Utc>,
        channel: &str,
        text: Option<String>,
        blocks: Option<Value>,
        thread_ts: Option<String>,
    ) -> Result<StoredMessage, ApiError> {
        self.post(now, channel, text, blocks, thread_ts, Membership::Required)
    }

    fn post(
        &mut self,
        now: DateTime<Utc>,
        channel: &str,
        text: Option<String>,
        blocks: Option<Value>,
        thread_ts: Option<String>,
        membership: Membership,
    ) -> Result<StoredMessage, ApiError> {
        let channel = self.writable_channel(channel, membership)?;
        let (text, blocks) = content(text, blocks, Truncate::Yes)?;
        let thread_ts = thread_ts.map(|ts| self.thread_parent(&channel, ts));
        let ts = self.next_ts(now);
        let blocks = self.fill_generated_ids(blocks);
        let message = StoredMessage {
            channel,
            ts,
            thread_ts,
            user: BOT_USER_ID.to_string(),
            text,
            blocks,
            edits: 0,
            history: Vec::new(),
            edited_ts: None,
        };
        self.messages.push(message.clone());
        Ok(message)
    }

    /// `chat.update`: text and blocks given replace the current ones; blocks left out are
    /// kept, as Slack documents.
    pub fn update_message(
        &mut self,
        now: DateTime<Utc>,
        channel: &str,
        ts: &str,
        text: Option<String>,
        blocks: Option<Value>,
    ) -> Result<StoredMessage, ApiError> {
        let channel = self
            .channel(channel)
            .ok_or_else(|| ApiError::new("channel_not_found"))?
            .id
            .clone();
        if text.is_none() && blocks.is_none() {
            return Err(ApiError::new("no_text"));
        }
        if text
            .as_deref()
            .is_some_and(|t| limits::chars(t) > MAX_MESSAGE_TEXT)
        {
            return Err(ApiError::new("msg_too_long"));
        }
        if let Some(blocks) = &blocks {
            check_blocks(blocks)?;
        }
        let blocks = blocks.map(|b| self.fill_generated_ids(b));
        let edited_ts = self.next_ts(now);
        let message = self
            .messages
            .iter_mut()
            .find(|m| m.channel == channel && m.ts == ts)
            .ok_or_else(|| ApiError::new("message_not_found"))?;
        message.history.push(MessageVersion {
            text: message.text.clone(),
            blocks: message.blocks.clone(),
        });
        if let Some(text) = text {
            message.text = text;
        }
        if let Some(blocks) = blocks {
            message.blocks = blocks;
        }
        message.edits += 1;
        message.edited_ts = Some(edited_ts);
        Ok(message.clone())
    }

    /// Deletes a message (a `response_url` post with `delete_original`).
    pub fn delete_message(&mut self, channel: &str, ts: &str) -> bool {
        let before = self.messages.len();
        self.messages
            .retain(|m| !(m.channel == channel && m.ts == ts));
        before != self.messages.len()
    }

    /// `chat.postEphemeral`.
    pub fn post_ephemeral(
        &mut self,
        now: DateTime<Utc>,
        channel: &str,
        user: &str,
        text: Option<String>,
        blocks: Option<Value>,
        thread_ts: Option<String>,
    ) -> Result<Ephemeral, ApiError> {
        self.ephemeral_post(
            now,
            channel,
            user,
            text,
            blocks,
            thread_ts,
            Membership::Required,
        )
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors chat.postEphemeral's arguments"
    )]
    fn ephemeral_post(
        &mut self,
        now: DateTime<Utc>,
        channel: &str,
        user: &str,
        text: Option<String>,
        blocks: Option<Value>,
        thread_ts: Option<String>,
        membership: Membership,
    ) -> Result<Ephemeral, ApiError> {
        let channel = self.writable_channel(channel, membership)?;
        if !self.users.contains_key(user) {
            return Err(ApiError::new("user_not_in_channel"));
        }
        let (text, blocks) = content(text, blocks, Truncate::No)?;
        let blocks = self.fill_generated_ids(blocks);
        let ephemeral = Ephemeral {
            channel,
            user: user.to_string(),
            thread_ts,
            text,
            blocks,
            message_ts: self.next_ts(now),
        };
        self.ephemerals.push(ephemeral.clone());
        Ok(ephemeral)
    }

    /// Replaces an ephemeral message in place (`response_url` with `replace_original`).
    pub fn replace_ephemeral(
        &mut self,
        channel: &str,
        user: &str,
        ts: &str,
        text: String,
        blocks: Value,
    ) -> bool {
        let blocks = self.fill_generated_ids(blocks);
        match self
            .ephemerals
            .iter_mut()
            .find(|e| e.channel == channel && e.user == user && e.message_ts == ts)
        {
            Some(ephemeral) => {
                ephemeral.text = text;
                ephemeral.blocks = blocks;
                true
            }
            None => false,
        }
    }

    /// A message as Slack shows it in payloads and API answers.
    pub fn message_json(&self, message: &StoredMessage) -> Value {
        let mut json = json!({
            "type": "message",
            "user": message.user,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "ts": message.ts,
            "text": message.text,
        });
        if !message.blocks.is_null() {
            json["blocks"] = message.blocks.clone();
        }
        if let Some(edited) = &message.edited_ts {
            json["edited"] = json!({"user": BOT_USER_ID, "ts": edited});
        }
        if let Some(parent) = &message.thread_ts {
            json["thread_ts"] = json!(parent);
            json["parent_user_id"] = json!(self.message_author(&message.channel, parent));
        } else {
            let replies: Vec<&StoredMessage> = self
                .messages
                .iter()
                .filter(|m| {
                    m.channel == message.channel && m.thread_ts.as_ref() == Some(&message.ts)
                })
                .collect();
            if let Some(latest) = replies.last() {
                json["thread_ts"] = json!(message.ts);
                json["reply_count"] = json!(replies.len());
                json["reply_users_count"] = json!(1);
                json["latest_reply"] = json!(latest.ts);
                json["reply_users"] = json!([BOT_USER_ID]);
                json["is_locked"] = json!(false);
                json["subscribed"] = json!(false);
            }
        }
        json
    }

    fn message_author(&self, channel: &str, ts: &str) -> Option<String> {
        self.messages
            .iter()
            .find(|m| m.channel == channel && m.ts == ts)
            .map(|m| m.user.clone())
    }

    /// Applies an app's answer through a `response_url` or to a slash command: replace or
    /// delete the original message, post in the channel (`response_type: in_channel`) or,
    /// by default, show it to the person only. Slack posts these on the app's behalf, so
    /// the bot need not be in the channel.
    pub fn respond(
        &mut self,
        now: DateTime<Utc>,
        target: &ResponseTarget,
        body: &Value,
    ) -> Result<(), ApiError> {
        let text = body["text"].as_str().map(String::from);
        let blocks = match &body["blocks"] {
            Value::String(encoded) => Some(
                serde_json::from_str(encoded)
                    .map_err(|_| ApiError::new("invalid_blocks_format"))?,
            ),
            Value::Null => None,
            blocks => Some(blocks.clone()),
        };
        let thread_ts = body["thread_ts"].as_str().map(String::from);
        let flag = |key: &str| body[key] == true || body[key] == "true";
        match (
            &target.message_ts,
            flag("delete_original"),
            flag("replace_original"),
        ) {
            (Some(ts), true, _) => {
                if target.is_ephemeral {
                    self.ephemerals.retain(|e| {
                        !(e.channel == target.channel
                            && e.user == target.user
                            && &e.message_ts == ts)
                    });
                } else {
                    self.delete_message(&target.channel, ts);
                }
                Ok(())
            }
            (Some(ts), false, true) if target.is_ephemeral => {
                let (text, blocks) = content(text, blocks, Truncate::No)?;
                self.replace_ephemeral(&target.channel, &target.user, ts, text, blocks);
                Ok(())
            }
            (Some(ts), false, true) => self
                .update_message(now, &target.channel, ts, text, blocks)
                .map(drop),
            _ if body["response_type"] == "in_channel" => self
                .post(
                    now,
                    &target.channel,
                    text,
                    blocks,
                    thread_ts,
                    Membership::NotRequired,
                )
                .map(drop),
            _ => self
                .ephemeral_post(
                    now,
                    &target.channel,
                    &target.user,
                    text,
                    blocks,
                    thread_ts,
                    Membership::NotRequired,
                )
                .map(drop),
        }
    }

    /// The channel id the bot may post to, creating the DM on first use of a user id.
    fn writable_channel(
        &mut self,
        reference: &str,
        membership: Membership,
    ) -> Result<String, ApiError> {
        if self.users.contains_key(reference) && !self.channels.contains_key(reference) {
            let id = dm_channel_id(reference);
            self.channels.entry(id.clone()).or_insert_with(|| Channel {
                id: id.clone(),
                name: reference.to_string(),
                bot_is_member: true,
                dm_user: Some(reference.to_string()),
                created: 0,
            });
            return Ok(id);
        }
        let channel = self
            .channel(reference)
            .ok_or_else(|| ApiError::new("channel_not_found"))?;
        if membership == Membership::Required && !channel.bot_is_member {
            return Err(ApiError::new("not_in_channel"));
        }
        Ok(channel.id.clone())
    }

    /// Slack threads a reply to a reply under the original parent.
    fn thread_parent(&self, channel: &str, ts: String) -> String {
        self.messages
            .iter()
            .find(|m| m.channel == channel && m.ts == ts)
            .and_then(|m| m.thread_ts.clone())
            .unwrap_or(ts)
    }
}

/// Whether posting needs the bot in the channel (its own posts) or not (posts Slack makes
/// on its behalf: slash command replies, `response_url`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Membership {
    Required,
    NotRequired,
}

/// Whether `chat.postMessage`'s silent truncation applies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Truncate {
    Yes,
    No,
}

/// Validates message content: some text or blocks, text length, block limits.
fn content(
    text: Option<String>,
    blocks: Option<Value>,
    truncate: Truncate,
) -> Result<(String, Value), ApiError> {
    let has_blocks = blocks
        .as_ref()
        .and_then(Value::as_array)
        .is_some_and(|b| !b.is_empty());
    let text = text.unwrap_or_default();
    if text.is_empty() && !has_blocks {
        return Err(ApiError::new("no_text"));
    }
    let text = if limits::chars(&text) > MAX_MESSAGE_TEXT {
        match truncate {
            Truncate::Yes => text.chars().take(MAX_MESSAGE_TEXT).collect(),
            Truncate::No => return Err(ApiError::new("msg_too_long")),
        }
    } else {
        text
    };
    let blocks = blocks.unwrap_or(Value::Null);
    if !blocks.is_null() {
        check_blocks(&blocks)?;
    }
    Ok((text, blocks))
}

fn check_blocks(blocks: &Value) -> Result<(), ApiError> {
    if !blocks.is_array() {
        return Err(ApiError::new("invalid_blocks_format"));
    }
    limits::check_message_blocks(blocks)
        .map_err(|problems| ApiError::with_messages("invalid_blocks", problems))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn new_year() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn replies_to_a_reply_thread_under_the_parent() {
        let mut ws = Workspace::default();
        ws.add_channel("C1", "scim", new_year());
        let parent = ws
            .post_message(new_year(), "C1", Some("parent".into()), None, None)
            .unwrap();
        let reply = ws
            .post_message(
                new_year(),
                "#scim",
                Some("reply".into()),
                None,
                Some(parent.ts.clone()),
            )
            .unwrap();
        let nested = ws
            .post_message(
                new_year(),
                "C1",
                Some("nested".into()),
                None,
                Some(reply.ts),
            )
            .unwrap();
        assert_eq!(nested.thread_ts, Some(parent.ts));
    }

    #[test]
    fn a_button_is_found_by_its_exact_action_id_in_any_block() {
        let mut ws = Workspace::default();
        ws.add_channel("C1", "scim", new_year());
        let blocks = json!([
            {"type": "section", "text": {"type": "mrkdwn", "text": "approve_later"},
             "accessory": {"type": "button", "action_id": "open_link",
                           "text": {"type": "plain_text", "text": "Open"}}},
            {"type": "actions", "elements": [
                {"type": "button", "action_id": "approve",
                 "text": {"type": "plain_text", "text": "Approve"}}]}
        ]);
        let message = ws
            .post_message(new_year(), "C1", Some("request".into()), Some(blocks), None)
            .unwrap();
        assert!(message.has_button("approve"));
        assert!(message.has_button("open_link"), "an accessory counts");
        assert!(!message.has_button("approve_later"), "text is not a button");
        assert!(!message.has_button("appro"), "a prefix is not the id");
    }
}
