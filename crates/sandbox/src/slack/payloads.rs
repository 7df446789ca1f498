//! The payloads Slack sends to apps, built from the workspace model: a person can only
//! click a button that is in a message they can see, and only type into inputs of a modal
//! the bot opened for them. Field sets follow Slack's documented payloads (and parse with
//! slack-morphism 2.31.1's `SlackInteractionEvent`, `SlackCommandEvent`, `SlackPushEvent`).

use super::error::InteractionError;
use super::identity::{APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, VERIFICATION_TOKEN};
use super::model::{ViewKind, Workspace, dm_channel_id, format_ts};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};
use url::Url;

/// A `plain_text_input`'s state, for [`super::FakeSlack::submit_view`].
pub fn plain_text_value(text: &str) -> Value {
    json!({ "type": "plain_text_input", "value": text })
}

/// A `datepicker`'s state (`YYYY-MM-DD`), for [`super::FakeSlack::submit_view`].
pub fn datepicker_value(date: &str) -> Value {
    json!({ "type": "datepicker", "selected_date": date })
}

/// A payload and the `trigger_id` issued with it.
pub(super) struct Built {
    pub payload: Value,
    pub trigger_id: String,
}

fn team() -> Value {
    json!({ "id": TEAM_ID, "domain": TEAM_DOMAIN })
}

fn user(ws: &Workspace, id: &str) -> Result<Value, InteractionError> {
    let user = ws
        .user(id)
        .ok_or_else(|| InteractionError::UnknownUser(id.to_string()))?;
    Ok(json!({
        "id": user.id,
        "username": user.name,
        "name": user.name,
        "team_id": TEAM_ID,
    }))
}

fn response_url(base: &Url, kind: &str, key: &str) -> String {
    base.join(&format!("hooks/{kind}/{key}"))
        .expect("hook paths are valid relative URLs")
        .to_string()
}

/// The button with `action_id` in `blocks`, and its block's id.
fn find_button(blocks: &Value, action_id: &str) -> Option<(String, Value)> {
    for block in blocks.as_array()? {
        let elements = block["elements"].as_array().into_iter().flatten();
        for element in elements.chain(block.get("accessory")) {
            if element["type"] == "button" && element["action_id"] == action_id {
                let block_id = block["block_id"].as_str().unwrap_or_default().to_string();
                return Some((block_id, element.clone()));
            }
        }
    }
    None
}

fn button_action(now: DateTime<Utc>, block_id: &str, button: &Value) -> Value {
    let mut action = json!({
        "type": "button",
        "action_id": button["action_id"],
        "block_id": block_id,
        "text": button["text"],
        "action_ts": format_ts(now.timestamp_micros()),
    });
    for optional in ["value", "style"] {
        if let Some(value) = button.get(optional) {
            action[optional] = value.clone();
        }
    }
    action
}

/// `block_actions` for a button in a channel message (or in an ephemeral message shown to
/// this user, which Slack sends without `message` and with `is_ephemeral: true`).
pub(super) fn block_actions_on_message(
    ws: &mut Workspace,
    now: DateTime<Utc>,
    base: &Url,
    user_id: &str,
    channel: &str,
    message_ts: &str,
    action_id: &str,
) -> Result<Built, InteractionError> {
    let user = user(ws, user_id)?;
    let channel = ws
        .channel(channel)
        .cloned()
        .ok_or_else(|| InteractionError::UnknownChannel(channel.to_string()))?;
    let not_found = || InteractionError::MessageNotFound {
        channel: channel.id.clone(),
        ts: message_ts.to_string(),
    };
    let (blocks, message, thread_ts, is_ephemeral) =
        if let Some(stored) = ws.message(&channel.id, message_ts) {
            let shown = ws.message_json(stored);
            (
                stored.blocks.clone(),
                Some(shown),
                stored.thread_ts.clone(),
                false,
            )
        } else {
            let ephemeral = ws
                .ephemeral(&channel.id, user_id, message_ts)
                .ok_or_else(not_found)?;
            (
                ephemeral.blocks.clone(),
                None,
                ephemeral.thread_ts.clone(),
                true,
            )
        };
    let (block_id, button) =
        find_button(&blocks, action_id).ok_or_else(|| InteractionError::ActionNotFound {
            action_id: action_id.to_string(),
        })?;
    let trigger_id = ws.issue_trigger(now, user_id);
    let hook = ws.issue_response_url(now, &channel.id, user_id, Some(message_ts), is_ephemeral);
    let mut container = json!({
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel.id,
        "is_ephemeral": is_ephemeral,
    });
    if let Some(thread_ts) = thread_ts {
        container["thread_ts"] = json!(thread_ts);
    }
    let mut payload = json!({
        "type": "block_actions",
        "user": user,
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id,
        "team": team(),
        "enterprise": null,
        "is_enterprise_install": false,
        "channel": { "id": channel.id, "name": channel.name },
        "state": { "values": {} },
        "response_url": response_url(base, "actions", &hook),
        "actions": [button_action(now, &block_id, &button)],
    });
    if let Some(message) = message {
        payload["message"] = message;
    }
    Ok(Built {
        payload,
        trigger_id,
    })
}

/// `block_actions` for a button in one of the user's views (an open modal or their Home tab).
pub(super) fn block_actions_in_view(
    ws: &mut Workspace,
    now: DateTime<Utc>,
    user_id: &str,
    view_id: &str,
    action_id: &str,
) -> Result<Built, InteractionError> {
    let user = user(ws, user_id)?;
    let view = ws
        .view(view_id)
        .filter(|v| v.user == user_id && v.open)
        .cloned()
        .ok_or_else(|| InteractionError::ViewNotOpen(view_id.to_string()))?;
    let (block_id, button) = find_button(&view.view["blocks"], action_id).ok_or_else(|| {
        InteractionError::ActionNotFound {
            action_id: action_id.to_string(),
        }
    })?;
    let trigger_id = ws.issue_trigger(now, user_id);
    let payload = json!({
        "type": "block_actions",
        "user": user,
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": { "type": "view", "view_id": view.id },
        "trigger_id": trigger_id,
        "team": team(),
        "enterprise": null,
        "is_enterprise_install": false,
        "view": view.view,
        "state": view.view["state"],
        "actions": [button_action(now, &block_id, &button)],
    });
    Ok(Built {
        payload,
        trigger_id,
    })
}

/// `view_submission` for an open modal, with the values the person typed. Applies what
/// Slack's client checks before it submits: required inputs filled, length bounds, dates.
pub(super) fn view_submission(
    ws: &mut Workspace,
    now: DateTime<Utc>,
    user_id: &str,
    view_id: &str,
    values: &[(&str, &str, Value)],
) -> Result<Built, InteractionError> {
    let user = user(ws, user_id)?;
    let view = ws
        .view(view_id)
        .filter(|v| v.user == user_id && v.open && v.kind == ViewKind::Modal)
        .cloned()
        .ok_or_else(|| InteractionError::ViewNotOpen(view_id.to_string()))?;
    let inputs: Vec<&Value> = view
        .blocks()
        .iter()
        .filter(|b| b["type"] == "input")
        .collect();
    let mut state = Map::new();
    for (block_id, action_id, value) in values {
        let element = inputs
            .iter()
            .find(|b| b["block_id"] == *block_id && b["element"]["action_id"] == *action_id)
            .map(|b| &b["element"])
            .ok_or_else(|| InteractionError::InputNotFound {
                block_id: block_id.to_string(),
                action_id: action_id.to_string(),
            })?;
        check_input(block_id, element, value)?;
        state
            .entry(block_id.to_string())
            .or_insert_with(|| json!({}))[action_id] = value.clone();
    }
    for input in &inputs {
        let block_id = input["block_id"].as_str().unwrap_or_default();
        let action_id = input["element"]["action_id"].as_str().unwrap_or_default();
        let given = state
            .get(block_id)
            .and_then(|actions| actions.get(action_id))
            .is_some_and(has_value);
        // An input left as the modal showed it submits its initial value, as in Slack.
        let initial = if given {
            None
        } else {
            initial_state(&input["element"])
        };
        if let Some(initial) = initial {
            state
                .entry(block_id.to_string())
                .or_insert_with(|| json!({}))[action_id] = initial;
            continue;
        }
        if !given && input["optional"] != true {
            return Err(InteractionError::RequiredInputMissing(block_id.to_string()));
        }
        if !given {
            state
                .entry(block_id.to_string())
                .or_insert_with(|| json!({}))[action_id] = empty_state(&input["element"]);
        }
    }
    let state = Value::Object(state);
    ws.set_view_state(view_id, state.clone());
    let mut shown = view.view.clone();
    shown["state"] = json!({ "values": state });
    let trigger_id = ws.issue_trigger(now, user_id);
    let payload = json!({
        "type": "view_submission",
        "team": team(),
        "user": user,
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": shown,
        "response_urls": [],
        "is_enterprise_install": false,
        "enterprise": null,
    });
    Ok(Built {
        payload,
        trigger_id,
    })
}

fn has_value(state: &Value) -> bool {
    ["value", "selected_date", "selected_option", "selected_time"]
        .iter()
        .any(|key| match state.get(*key) {
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Null) | None => false,
            Some(_) => true,
        })
}

/// The state Slack reports for an input left empty.
fn empty_state(element: &Value) -> Value {
    let kind = element["type"].as_str().unwrap_or_default();
    let field = match kind {
        "plain_text_input" | "email_text_input" | "url_text_input" | "number_input" => "value",
        "datepicker" => "selected_date",
        "timepicker" => "selected_time",
        "static_select" | "external_select" | "radio_buttons" => "selected_option",
        _ => return json!({ "type": kind }),
    };
    json!({ "type": kind, field: null })
}

fn check_input(block_id: &str, element: &Value, value: &Value) -> Result<(), InteractionError> {
    let expected = element["type"].as_str().unwrap_or_default();
    let given = value["type"].as_str().unwrap_or_default();
    if expected != given {
        return Err(InteractionError::InputTypeMismatch {
            block_id: block_id.to_string(),
            expected: expected.to_string(),
            given: given.to_string(),
        });
    }
    let invalid = |reason: String| InteractionError::InvalidInput {
        block_id: block_id.to_string(),
        reason,
    };
    match expected {
        "plain_text_input" => {
            let length = value["value"].as_str().map_or(0, |v| v.chars().count());
            if let Some(max) = element["max_length"]
                .as_u64()
                .filter(|max| length as u64 > *max)
            {
                return Err(invalid(format!("at most {max} characters")));
            }
            if let Some(min) = element["min_length"]
                .as_u64()
                .filter(|min| (length as u64) < *min)
            {
                return Err(invalid(format!("at least {min} characters")));
            }
        }
        "datepicker" => {
            let date = value["selected_date"].as_str();
            if let Some(date) = date.filter(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()) {
                return Err(invalid(format!("`{date}` is not a YYYY-MM-DD date")));
            }
        }
        _ => {}
    }
    Ok(())
}

/// A slash command's form fields, in the order Slack sends them.
pub(super) fn slash_command(
    ws: &mut Workspace,
    now: DateTime<Utc>,
    base: &Url,
    user_id: &str,
    channel: &str,
    command: &str,
    text: &str,
) -> Result<(Vec<(String, String)>, String), InteractionError> {
    let user = ws
        .user(user_id)
        .cloned()
        .ok_or_else(|| InteractionError::UnknownUser(user_id.to_string()))?;
    let channel = ws
        .channel(channel)
        .cloned()
        .ok_or_else(|| InteractionError::UnknownChannel(channel.to_string()))?;
    let trigger_id = ws.issue_trigger(now, user_id);
    let hook = ws.issue_response_url(now, &channel.id, user_id, None, false);
    let fields = [
        ("token", VERIFICATION_TOKEN.to_string()),
        ("team_id", TEAM_ID.to_string()),
        ("team_domain", TEAM_DOMAIN.to_string()),
        ("channel_id", channel.id),
        ("channel_name", channel.name),
        ("user_id", user.id),
        ("user_name", user.name),
        ("command", command.to_string()),
        ("text", text.to_string()),
        ("api_app_id", APP_ID.to_string()),
        ("is_enterprise_install", "false".to_string()),
        ("response_url", response_url(base, "commands", &hook)),
        ("trigger_id", trigger_id.clone()),
    ];
    Ok((
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        trigger_id,
    ))
}

/// Wraps an event in the Events API's `event_callback` envelope, with a fresh `event_id`.
pub(super) fn event_callback(ws: &mut Workspace, now: DateTime<Utc>, event: Value) -> Value {
    let event_id = format!("Ev{:08X}", ws.next_seq());
    json!({
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "context_team_id": TEAM_ID,
        "context_enterprise_id": null,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": now.timestamp(),
        "authorizations": [{
            "enterprise_id": null,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "is_bot": true,
            "is_enterprise_install": false,
        }],
        "is_ext_shared_channel": false,
        "event_context": format!("4-{}", event_id.to_lowercase()),
    })
}

/// The `app_home_opened` event (the inner event, for [`event_callback`]).
pub(super) fn app_home_opened(ws: &Workspace, now: DateTime<Utc>, user: &str) -> Value {
    let mut event = json!({
        "type": "app_home_opened",
        "user": user,
        "channel": dm_channel_id(user),
        "tab": "home",
        "event_ts": format_ts(now.timestamp_micros()),
    });
    if let Some(home) = ws.home_view(user) {
        event["view"] = home.view;
    }
    event
}

/// The `url_verification` challenge Slack sends when a Request URL is saved.
pub(super) fn url_verification(ws: &mut Workspace) -> (Value, String) {
    let challenge = format!("challenge-{}", ws.new_uuid());
    (
        json!({
            "token": VERIFICATION_TOKEN,
            "challenge": challenge,
            "type": "url_verification",
        }),
        challenge,
    )
}

/// `view_closed`, sent when a person dismisses a modal opened with `notify_on_close`.
pub(super) fn view_closed(
    ws: &Workspace,
    user_id: &str,
    view_id: &str,
) -> Result<Value, InteractionError> {
    let user = user(ws, user_id)?;
    let view = ws
        .view(view_id)
        .filter(|v| v.user == user_id && v.open && v.kind == ViewKind::Modal)
        .ok_or_else(|| InteractionError::ViewNotOpen(view_id.to_string()))?;
    Ok(json!({
        "type": "view_closed",
        "team": team(),
        "user": user,
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "view": view.view,
        "is_cleared": false,
        "is_enterprise_install": false,
        "enterprise": null,
    }))
}

/// The state an untouched input submits: its initial value, if it shows one.
fn initial_state(element: &Value) -> Option<Value> {
    let kind = element["type"].as_str()?;
    match kind {
        "datepicker" => element["initial_date"]
            .as_str()
            .map(|d| json!({ "type": kind, "selected_date": d })),
        "plain_text_input" => element["initial_value"]
            .as_str()
            .map(|v| json!({ "type": kind, "value": v })),
        _ => None,
    }
}
