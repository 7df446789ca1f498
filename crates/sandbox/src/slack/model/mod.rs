//! The fake workspace: channels, people, user groups, the bot's messages, modals and Home
//! tabs, the short-lived ids Slack hands out (trigger ids, response URLs, Socket Mode
//! tickets), and the rules Slack applies to them. No I/O: the Web API and the interaction
//! client translate HTTP to and from these operations, so the rules live in one place.

mod messages;
mod records;
mod views;

pub use messages::{Ephemeral, MessageVersion, StoredMessage};
pub use records::{RecordedCall, RecordedDelivery, SlackFault};
pub use views::{StoredView, TRIGGER_TTL, ViewKind};

use views::Trigger;

use super::identity::TEAM_ID;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// How long a `response_url` accepts posts after its interaction.
pub const RESPONSE_URL_TTL: Duration = Duration::minutes(30);
/// How many times one `response_url` accepts a post.
pub const RESPONSE_URL_MAX_USES: u32 = 5;
/// Microseconds between two message timestamps issued within the same clock instant:
/// keeps `ts` strictly increasing and unique while the injected clock stands still, and
/// makes the first message at a whole second read like Slack's `1767225600.000100`.
const TS_STEP_MICROS: i64 = 100;
/// A Web API error: the `error` code and, for validation errors, Slack's
/// `response_metadata.messages` lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub error: String,
    pub messages: Vec<String>,
}

impl ApiError {
    pub fn new(error: &str) -> Self {
        ApiError {
            error: error.to_string(),
            messages: Vec::new(),
        }
    }

    pub fn with_messages(error: &str, messages: Vec<String>) -> Self {
        ApiError {
            error: error.to_string(),
            messages,
        }
    }
}

/// A channel (or the DM between the bot and a person).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    pub id: String,
    pub name: String,
    /// Whether the bot has been invited; posting needs it.
    pub bot_is_member: bool,
    /// For a DM: the person on the other side.
    pub dm_user: Option<String>,
    /// Creation time in Unix seconds (`conversations.info` reports it).
    pub created: i64,
}

/// A person in the workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub name: String,
}

/// A user group (`S…`), known to people by its `@handle`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserGroup {
    pub id: String,
    pub handle: String,
    pub members: Vec<String>,
}

/// Where a `response_url` (or a slash command's direct answer) posts to.
#[derive(Clone, Debug)]
pub struct ResponseTarget {
    pub channel: String,
    pub user: String,
    /// The message the interaction came from (`replace_original`/`delete_original`).
    pub message_ts: Option<String>,
    pub is_ephemeral: bool,
    issued_at: DateTime<Utc>,
    uses: u32,
}

impl ResponseTarget {
    /// The answer to a slash command: shown in its channel to the person who ran it.
    pub fn command(channel: &str, user: &str, now: DateTime<Utc>) -> Self {
        ResponseTarget {
            channel: channel.to_string(),
            user: user.to_string(),
            message_ts: None,
            is_ephemeral: false,
            issued_at: now,
            uses: 0,
        }
    }
}

/// The whole workspace. Lives behind one mutex in [`super::FakeSlack`].
#[derive(Default)]
pub struct Workspace {
    /// The bot token's scopes; `None`: every scope (the default).
    pub(crate) scopes: Option<std::collections::BTreeSet<String>>,
    channels: BTreeMap<String, Channel>,
    users: BTreeMap<String, User>,
    usergroups: BTreeMap<String, UserGroup>,
    messages: Vec<StoredMessage>,
    ephemerals: Vec<Ephemeral>,
    views: Vec<StoredView>,
    /// Open modals per user, bottom first.
    stacks: HashMap<String, Vec<String>>,
    triggers: HashMap<String, Trigger>,
    response_urls: HashMap<String, ResponseTarget>,
    socket_tickets: HashMap<String, bool>,
    pub(super) calls: Vec<RecordedCall>,
    pub(super) deliveries: Vec<RecordedDelivery>,
    faults: HashMap<String, VecDeque<SlackFault>>,
    last_ts_micros: i64,
    seq: u64,
}

impl Workspace {
    // ----- setup -------------------------------------------------------------------------

    pub fn add_channel(&mut self, id: &str, name: &str, now: DateTime<Utc>) {
        self.channels.insert(
            id.to_string(),
            Channel {
                id: id.to_string(),
                name: name.trim_start_matches('#').to_string(),
                bot_is_member: true,
                dm_user: None,
                created: now.timestamp(),
            },
        );
    }

    pub fn set_bot_membership(&mut self, channel: &str, member: bool) -> bool {
        match self.channels.get_mut(channel) {
            Some(channel) => {
                channel.bot_is_member = member;
                true
            }
            None => false,
        }
    }

    pub fn add_user(&mut self, id: &str, name: &str) {
        self.users.insert(
            id.to_string(),
            User {
                id: id.to_string(),
                name: name.to_string(),
            },
        );
    }

    pub fn add_usergroup(&mut self, id: &str, handle: &str, members: &[&str]) {
        self.usergroups.insert(
            id.to_string(),
            UserGroup {
                id: id.to_string(),
                handle: handle.trim_start_matches('@').to_string(),
                members: members.iter().map(|m| m.to_string()).collect(),
            },
        );
    }

    /// Sets a group's members as an admin would; returns the `subteam_members_changed`
    /// event Slack then sends (the inner event), or `None` for an unknown group.
    pub fn set_usergroup_members(
        &mut self,
        now: DateTime<Utc>,
        id: &str,
        members: &[&str],
    ) -> Option<Value> {
        let group = self.usergroups.get_mut(id)?;
        let new: Vec<String> = members.iter().map(|m| m.to_string()).collect();
        let added: Vec<&String> = new.iter().filter(|m| !group.members.contains(m)).collect();
        let removed: Vec<&String> = group.members.iter().filter(|m| !new.contains(m)).collect();
        let event = json!({
            "type": "subteam_members_changed",
            "subteam_id": id,
            "team_id": TEAM_ID,
            "date_previous_update": now.timestamp() - 60,
            "date_update": now.timestamp(),
            "added_users": added,
            "added_users_count": added.len().to_string(),
            "removed_users": removed,
            "removed_users_count": removed.len().to_string(),
        });
        group.members = new;
        Some(event)
    }

    /// The `subteam_updated` event for a group as it is now (`users` included, as Slack
    /// sends it for groups of any size it lists), or `None` for an unknown group.
    pub fn usergroup_updated(&self, now: DateTime<Utc>, id: &str) -> Option<Value> {
        let group = self.usergroups.get(id)?;
        Some(json!({
            "type": "subteam_updated",
            "subteam": {
                "id": group.id,
                "team_id": TEAM_ID,
                "is_usergroup": true,
                "name": group.handle,
                "handle": group.handle,
                "is_external": false,
                "date_create": now.timestamp() - 86_400,
                "date_update": now.timestamp(),
                "date_delete": 0,
                "users": group.members,
                "user_count": group.members.len().to_string(),
            }
        }))
    }

    // ----- reads -------------------------------------------------------------------------

    pub fn users(&self) -> Vec<User> {
        self.users.values().cloned().collect()
    }

    pub fn usergroups(&self) -> Vec<UserGroup> {
        self.usergroups.values().cloned().collect()
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.get(id)
    }

    /// A channel by id, by name (with or without `#`), or the DM with a person by user id.
    pub fn channel(&self, reference: &str) -> Option<&Channel> {
        if let Some(channel) = self.channels.get(reference) {
            return Some(channel);
        }
        if self.users.contains_key(reference) {
            return self.channels.get(&dm_channel_id(reference));
        }
        let name = reference.trim_start_matches('#');
        self.channels.values().find(|c| c.name == name)
    }

    pub fn messages(&self, channel: &str) -> Vec<StoredMessage> {
        let Some(id) = self.channel(channel).map(|c| c.id.clone()) else {
            return Vec::new();
        };
        self.messages
            .iter()
            .filter(|m| m.channel == id)
            .cloned()
            .collect()
    }

    pub fn message(&self, channel: &str, ts: &str) -> Option<&StoredMessage> {
        let id = &self.channel(channel)?.id;
        self.messages
            .iter()
            .find(|m| &m.channel == id && m.ts == ts)
    }

    /// `chat.getPermalink`: the message's link as Slack forms it
    /// (`https://{domain}.slack.com/archives/{channel}/p{ts without the dot}`, plus
    /// `?thread_ts=…&cid=…` for a thread reply, which opens the thread).
    pub fn permalink(&self, channel: &str, ts: &str) -> Result<String, ApiError> {
        let Some(found) = self.channel(channel) else {
            return Err(ApiError::new("channel_not_found"));
        };
        let Some(message) = self.message(channel, ts) else {
            return Err(ApiError::new("message_not_found"));
        };
        let mut link = format!(
            "https://{}.slack.com/archives/{}/p{}",
            super::identity::TEAM_DOMAIN,
            found.id,
            message.ts.replace('.', "")
        );
        if let Some(parent) = &message.thread_ts {
            link.push_str(&format!("?thread_ts={parent}&cid={}", found.id));
        }
        Ok(link)
    }

    pub fn ephemerals(&self) -> Vec<Ephemeral> {
        self.ephemerals.clone()
    }

    pub fn ephemeral(&self, channel: &str, user: &str, ts: &str) -> Option<&Ephemeral> {
        let id = &self.channel(channel)?.id;
        self.ephemerals
            .iter()
            .find(|e| &e.channel == id && e.user == user && e.message_ts == ts)
    }

    pub fn view(&self, id: &str) -> Option<&StoredView> {
        self.views.iter().find(|v| v.id == id)
    }

    /// The user's open modals, bottom of the stack first.
    pub fn open_views(&self, user: &str) -> Vec<StoredView> {
        self.stacks
            .get(user)
            .into_iter()
            .flatten()
            .filter_map(|id| self.view(id).cloned())
            .collect()
    }

    pub fn home_view(&self, user: &str) -> Option<StoredView> {
        self.views
            .iter()
            .find(|v| v.kind == ViewKind::Home && v.user == user)
            .cloned()
    }

    /// Every view ever opened or published, in creation order.
    pub fn views(&self) -> Vec<StoredView> {
        self.views.clone()
    }

    pub fn usergroup_members(&self, id: &str) -> Result<Vec<String>, ApiError> {
        self.usergroups
            .get(id)
            .map(|g| g.members.clone())
            .ok_or_else(|| ApiError::new("no_such_subteam"))
    }

    /// `conversations.info`'s `channel` object.
    pub fn channel_info(&self, channel: &str) -> Result<Value, ApiError> {
        let channel = self
            .channel(channel)
            .ok_or_else(|| ApiError::new("channel_not_found"))?;
        let is_im = channel.dm_user.is_some();
        let mut info = json!({
            "id": channel.id,
            "created": channel.created,
            "is_channel": !is_im,
            "is_group": false,
            "is_im": is_im,
            "is_mpim": false,
            "is_private": false,
            "is_archived": false,
            "is_general": false,
            "is_shared": false,
            "is_org_shared": false,
            "is_member": channel.bot_is_member,
            "context_team_id": TEAM_ID,
        });
        if is_im {
            info["user"] = json!(channel.dm_user);
        } else {
            info["name"] = json!(channel.name);
            info["name_normalized"] = json!(channel.name);
        }
        Ok(info)
    }

    // ----- response URLs and Socket Mode tickets -----------------------------------------

    /// Registers a `response_url` target and returns its path key.
    pub fn issue_response_url(
        &mut self,
        now: DateTime<Utc>,
        channel: &str,
        user: &str,
        message_ts: Option<&str>,
        is_ephemeral: bool,
    ) -> String {
        let seq = self.next_seq();
        let key = format!(
            "{TEAM_ID}/{seq}/{}",
            digest_hex(&format!("response:{seq}"), 24)
        );
        self.response_urls.insert(
            key.clone(),
            ResponseTarget {
                channel: channel.to_string(),
                user: user.to_string(),
                message_ts: message_ts.map(String::from),
                is_ephemeral,
                issued_at: now,
                uses: 0,
            },
        );
        key
    }

    /// Uses a `response_url` once; `Err` is the text body Slack answers with.
    pub fn use_response_url(
        &mut self,
        now: DateTime<Utc>,
        key: &str,
    ) -> Result<ResponseTarget, &'static str> {
        let target = self.response_urls.get_mut(key).ok_or("no_active_hooks")?;
        if now - target.issued_at > RESPONSE_URL_TTL {
            return Err("expired_url");
        }
        if target.uses >= RESPONSE_URL_MAX_USES {
            return Err("used_url");
        }
        target.uses += 1;
        Ok(target.clone())
    }

    /// A single-use ticket for the Socket Mode WebSocket URL.
    pub fn issue_socket_ticket(&mut self) -> String {
        let seq = self.next_seq();
        let ticket = digest_hex(&format!("ticket:{seq}"), 32);
        self.socket_tickets.insert(ticket.clone(), false);
        ticket
    }

    /// Redeems a ticket; `false` when unknown or already used.
    pub fn redeem_socket_ticket(&mut self, ticket: &str) -> bool {
        match self.socket_tickets.get_mut(ticket) {
            Some(used) if !*used => {
                *used = true;
                true
            }
            _ => false,
        }
    }

    // ----- faults ------------------------------------------------------------------------

    pub fn push_fault(&mut self, method: &str, fault: SlackFault) {
        self.faults
            .entry(method.to_string())
            .or_default()
            .push_back(fault);
    }

    pub fn take_fault(&mut self, method: &str) -> Option<SlackFault> {
        self.faults.get_mut(method)?.pop_front()
    }

    // ----- ids ---------------------------------------------------------------------------

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A Slack-shaped id: the type letter and upper-case hex (`V0000002A`).
    pub fn new_id(&mut self, prefix: char) -> String {
        format!("{prefix}{:08X}", self.next_seq())
    }

    /// A UUID-shaped id (Socket Mode `envelope_id`).
    pub fn new_uuid(&mut self) -> String {
        let hex = digest_hex(&format!("uuid:{}", self.next_seq()), 32);
        format!(
            "{}-{}-4{}-a{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[13..16],
            &hex[17..20],
            &hex[20..32]
        )
    }

    /// A message timestamp: `seconds.micros` from the clock, strictly increasing.
    pub fn next_ts(&mut self, now: DateTime<Utc>) -> String {
        let micros = now
            .timestamp_micros()
            .max(self.last_ts_micros)
            .saturating_add(TS_STEP_MICROS);
        self.last_ts_micros = micros;
        format_ts(micros)
    }

    /// Gives every block a `block_id` and every interactive element an `action_id`, as
    /// Slack does for those the app left out.
    fn fill_generated_ids(&mut self, mut blocks: Value) -> Value {
        let Some(list) = blocks.as_array_mut() else {
            return blocks;
        };
        for block in list.iter_mut() {
            let Some(object) = block.as_object_mut() else {
                continue;
            };
            if !object.contains_key("block_id") {
                let seq = self.next_seq();
                object.insert(
                    "block_id".into(),
                    json!(digest_base62(&format!("block:{seq}"), 5)),
                );
            }
            let mut elements: Vec<&mut Value> = Vec::new();
            for (key, value) in object.iter_mut() {
                match (key.as_str(), value) {
                    ("elements", Value::Array(items)) => elements.extend(items.iter_mut()),
                    ("accessory" | "element", value) => elements.push(value),
                    _ => {}
                }
            }
            for element in elements {
                let needs_id = element
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t != "image" && t != "plain_text" && t != "mrkdwn")
                    && element.get("action_id").is_none();
                if let Some(element) = element.as_object_mut().filter(|_| needs_id) {
                    let seq = self.next_seq();
                    element.insert(
                        "action_id".into(),
                        json!(digest_base62(&format!("action:{seq}"), 5)),
                    );
                }
            }
        }
        blocks
    }
}

/// The DM channel between the bot and a person: `D` and the user id's tail.
pub fn dm_channel_id(user: &str) -> String {
    format!("D{}", user.trim_start_matches(['U', 'W']))
}

/// `seconds.micros`, six digits after the dot, as Slack writes `ts`.
pub fn format_ts(micros: i64) -> String {
    format!(
        "{}.{:06}",
        micros.div_euclid(1_000_000),
        micros.rem_euclid(1_000_000)
    )
}

fn digest_hex(seed: &str, len: usize) -> String {
    let hex = hex::encode(Sha256::digest(seed.as_bytes()));
    hex[..len.min(hex.len())].to_string()
}

fn digest_base62(seed: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    Sha256::digest(seed.as_bytes())
        .iter()
        .take(len)
        .map(|byte| ALPHABET[usize::from(*byte) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn new_year() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn timestamps_increase_while_the_clock_stands_still() {
        let mut ws = Workspace::default();
        assert_eq!(ws.next_ts(new_year()), "1767225600.000100");
        assert_eq!(ws.next_ts(new_year()), "1767225600.000200");
        assert_eq!(
            ws.next_ts(new_year() + Duration::seconds(1)),
            "1767225601.000100"
        );
    }

    #[test]
    fn generated_ids_fill_only_what_is_missing() {
        let mut ws = Workspace::default();
        let blocks = ws.fill_generated_ids(json!([
            {"type": "actions", "block_id": "mine", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Go"}}
            ]},
            {"type": "divider"}
        ]));
        assert_eq!(blocks[0]["block_id"], "mine");
        assert_eq!(
            blocks[0]["elements"][0]["action_id"]
                .as_str()
                .unwrap()
                .len(),
            5
        );
        assert_eq!(blocks[1]["block_id"].as_str().unwrap().len(), 5);
    }
}
