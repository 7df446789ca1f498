//! Block Kit limits, enforced the way Slack enforces them: a message or view that breaks one
//! is refused as a whole, with `response_metadata.messages` lines of the form
//! `[ERROR] <what> [json-pointer:<where>]`.
//!
//! Only the rules a renderer can plausibly break are modelled (sizes, counts, lengths, ids,
//! known types); Slack checks more (URLs, emoji, option shapes).

use serde_json::Value;
use std::collections::HashSet;

/// Blocks in one message (`chat.postMessage`, `chat.update`, `chat.postEphemeral`).
pub const MAX_MESSAGE_BLOCKS: usize = 50;
/// Blocks in one modal or Home tab view.
pub const MAX_VIEW_BLOCKS: usize = 100;
/// Characters in a message's top-level `text`: `chat.postMessage` truncates beyond it,
/// `chat.update` and `chat.postEphemeral` answer `msg_too_long`.
pub const MAX_MESSAGE_TEXT: usize = 40_000;
/// Characters in a section block's `text`.
pub const MAX_SECTION_TEXT: usize = 3_000;
/// Entries in a section block's `fields`.
pub const MAX_SECTION_FIELDS: usize = 10;
/// Characters in one section field.
pub const MAX_SECTION_FIELD_TEXT: usize = 2_000;
/// Characters in a header block's text.
pub const MAX_HEADER_TEXT: usize = 150;
/// Characters in a button's label.
pub const MAX_BUTTON_TEXT: usize = 75;
/// Characters in a button's `value` (returned to the app on click).
pub const MAX_BUTTON_VALUE: usize = 2_000;
/// Characters in an `action_id`, `block_id`, `callback_id` or `external_id`.
pub const MAX_ID: usize = 255;
/// Elements in an actions block.
pub const MAX_ACTIONS_ELEMENTS: usize = 25;
/// Elements in a context block.
pub const MAX_CONTEXT_ELEMENTS: usize = 10;
/// Characters in a modal's `title`, `submit` and `close` labels.
pub const MAX_VIEW_LABEL: usize = 24;
/// Characters in a view's `private_metadata`.
pub const MAX_PRIVATE_METADATA: usize = 3_000;
/// Characters in an input block's `label`.
pub const MAX_INPUT_LABEL: usize = 2_000;
/// Largest `max_length` a `plain_text_input` may declare.
pub const MAX_PLAIN_TEXT_INPUT_LENGTH: u64 = 3_000;

/// Block types Slack accepts in messages and views.
const BLOCK_TYPES: &[&str] = &[
    "actions",
    "context",
    "divider",
    "file",
    "header",
    "image",
    "input",
    "markdown",
    "rich_text",
    "section",
    "table",
    "video",
];

/// Interactive and input element types. `password` is deliberately absent: Block Kit has
/// no masked input, and Slack refuses the type.
const ELEMENT_TYPES: &[&str] = &[
    "button",
    "channels_select",
    "checkboxes",
    "conversations_select",
    "datepicker",
    "datetimepicker",
    "email_text_input",
    "external_select",
    "file_input",
    "image",
    "multi_channels_select",
    "multi_conversations_select",
    "multi_external_select",
    "multi_static_select",
    "multi_users_select",
    "number_input",
    "overflow",
    "plain_text_input",
    "radio_buttons",
    "rich_text_input",
    "static_select",
    "timepicker",
    "url_text_input",
    "users_select",
    "workflow_button",
];

/// Where the blocks live, which decides the block count limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    Message,
    Modal,
    Home,
}

/// Validation problems, already formatted as Slack formats them.
pub type Problems = Vec<String>;

/// Checks a message's `blocks` array (`pointer` is where it sits in the request, `/blocks`).
pub fn check_message_blocks(blocks: &Value) -> Result<(), Problems> {
    let mut problems = Problems::new();
    check_blocks(blocks, "/blocks", Surface::Message, &mut problems);
    into_result(problems)
}

/// Checks a view object as sent to `views.open`/`push`/`update`/`publish`.
pub fn check_view(view: &Value, surface: Surface) -> Result<(), Problems> {
    let mut problems = Problems::new();
    let expected = match surface {
        Surface::Home => "home",
        Surface::Modal | Surface::Message => "modal",
    };
    if view.get("type").and_then(Value::as_str) != Some(expected) {
        problems.push(problem(
            &format!("must be `{expected}`"),
            "/view/type".to_string(),
        ));
    }
    if surface == Surface::Modal {
        match view.get("title") {
            Some(title) => check_text(
                title,
                "/view/title",
                TextKind::PlainOnly,
                MAX_VIEW_LABEL,
                &mut problems,
            ),
            None => problems.push(problem("missing required field: title", "/view".into())),
        }
        for label in ["submit", "close"] {
            if let Some(text) = view.get(label).filter(|v| !v.is_null()) {
                check_text(
                    text,
                    &format!("/view/{label}"),
                    TextKind::PlainOnly,
                    MAX_VIEW_LABEL,
                    &mut problems,
                );
            }
        }
        let has_input = view
            .get("blocks")
            .and_then(Value::as_array)
            .is_some_and(|blocks| blocks.iter().any(|b| block_type(b) == Some("input")));
        if has_input && view.get("submit").is_none_or(Value::is_null) {
            problems.push(problem(
                "submit is required when an input block is within the blocks array",
                "/view/submit".into(),
            ));
        }
    }
    check_max_chars(
        view,
        "private_metadata",
        MAX_PRIVATE_METADATA,
        "/view",
        &mut problems,
    );
    check_max_chars(view, "callback_id", MAX_ID, "/view", &mut problems);
    check_max_chars(view, "external_id", MAX_ID, "/view", &mut problems);
    match view.get("blocks") {
        Some(blocks) => check_blocks(blocks, "/view/blocks", surface, &mut problems),
        None => problems.push(problem("missing required field: blocks", "/view".into())),
    }
    into_result(problems)
}

/// Counts characters the way a person reads them, not bytes.
pub fn chars(text: &str) -> usize {
    text.chars().count()
}

fn into_result(problems: Problems) -> Result<(), Problems> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn problem(what: &str, pointer: String) -> String {
    format!("[ERROR] {what} [json-pointer:{pointer}]")
}

fn too_long(max: usize) -> String {
    format!("must be less than {} characters", max + 1)
}

fn block_type(block: &Value) -> Option<&str> {
    block.get("type").and_then(Value::as_str)
}

fn check_blocks(blocks: &Value, pointer: &str, surface: Surface, problems: &mut Problems) {
    let Some(blocks) = blocks.as_array() else {
        problems.push(problem("must be an array", pointer.to_string()));
        return;
    };
    let max = match surface {
        Surface::Message => MAX_MESSAGE_BLOCKS,
        Surface::Modal | Surface::Home => MAX_VIEW_BLOCKS,
    };
    if blocks.len() > max {
        problems.push(problem(
            &format!("no more than {max} items allowed"),
            pointer.to_string(),
        ));
    }
    let mut block_ids = HashSet::new();
    for (index, block) in blocks.iter().enumerate() {
        let at = format!("{pointer}/{index}");
        if let Some(id) = block.get("block_id").and_then(Value::as_str) {
            if chars(id) > MAX_ID {
                problems.push(problem(&too_long(MAX_ID), format!("{at}/block_id")));
            }
            if !block_ids.insert(id.to_string()) {
                problems.push(problem(
                    &format!("duplicate block_id `{id}`"),
                    format!("{at}/block_id"),
                ));
            }
        }
        check_block(block, &at, problems);
    }
}

fn check_block(block: &Value, at: &str, problems: &mut Problems) {
    let Some(kind) = block_type(block) else {
        problems.push(problem("missing required field: type", at.to_string()));
        return;
    };
    if !BLOCK_TYPES.contains(&kind) {
        problems.push(problem(
            &format!("unsupported type: {kind}"),
            format!("{at}/type"),
        ));
        return;
    }
    match kind {
        "section" => {
            let text = block.get("text");
            let fields = block.get("fields").and_then(Value::as_array);
            if text.is_none() && fields.is_none() {
                problems.push(problem(
                    "must provide either text or fields",
                    at.to_string(),
                ));
            }
            if let Some(text) = text {
                check_text(
                    text,
                    &format!("{at}/text"),
                    TextKind::Any,
                    MAX_SECTION_TEXT,
                    problems,
                );
            }
            if let Some(fields) = fields {
                if fields.len() > MAX_SECTION_FIELDS {
                    problems.push(problem(
                        &format!("no more than {MAX_SECTION_FIELDS} items allowed"),
                        format!("{at}/fields"),
                    ));
                }
                for (i, field) in fields.iter().enumerate() {
                    check_text(
                        field,
                        &format!("{at}/fields/{i}"),
                        TextKind::Any,
                        MAX_SECTION_FIELD_TEXT,
                        problems,
                    );
                }
            }
            if let Some(accessory) = block.get("accessory") {
                check_element(accessory, &format!("{at}/accessory"), problems);
            }
        }
        "header" => match block.get("text") {
            Some(text) => check_text(
                text,
                &format!("{at}/text"),
                TextKind::PlainOnly,
                MAX_HEADER_TEXT,
                problems,
            ),
            None => problems.push(problem("missing required field: text", at.to_string())),
        },
        "actions" => {
            let Some(elements) = block.get("elements").and_then(Value::as_array) else {
                problems.push(problem("missing required field: elements", at.to_string()));
                return;
            };
            if elements.is_empty() || elements.len() > MAX_ACTIONS_ELEMENTS {
                problems.push(problem(
                    &format!("must have between 1 and {MAX_ACTIONS_ELEMENTS} items"),
                    format!("{at}/elements"),
                ));
            }
            let mut action_ids = HashSet::new();
            for (i, element) in elements.iter().enumerate() {
                let element_at = format!("{at}/elements/{i}");
                let action_id = element.get("action_id").and_then(Value::as_str);
                if let Some(id) = action_id.filter(|id| !action_ids.insert(id.to_string())) {
                    problems.push(problem(
                        &format!("duplicate action_id `{id}`"),
                        format!("{element_at}/action_id"),
                    ));
                }
                check_element(element, &element_at, problems);
            }
        }
        "context" => {
            let Some(elements) = block.get("elements").and_then(Value::as_array) else {
                problems.push(problem("missing required field: elements", at.to_string()));
                return;
            };
            if elements.is_empty() || elements.len() > MAX_CONTEXT_ELEMENTS {
                problems.push(problem(
                    &format!("must have between 1 and {MAX_CONTEXT_ELEMENTS} items"),
                    format!("{at}/elements"),
                ));
            }
            for (i, element) in elements.iter().enumerate() {
                let element_at = format!("{at}/elements/{i}");
                if element.get("type").and_then(Value::as_str) != Some("image") {
                    check_text(
                        element,
                        &element_at,
                        TextKind::Any,
                        MAX_SECTION_TEXT,
                        problems,
                    );
                }
            }
        }
        "input" => {
            match block.get("label") {
                Some(label) => check_text(
                    label,
                    &format!("{at}/label"),
                    TextKind::PlainOnly,
                    MAX_INPUT_LABEL,
                    problems,
                ),
                None => problems.push(problem("missing required field: label", at.to_string())),
            }
            match block.get("element") {
                Some(element) => check_element(element, &format!("{at}/element"), problems),
                None => problems.push(problem("missing required field: element", at.to_string())),
            }
        }
        _ => {}
    }
}

fn check_element(element: &Value, at: &str, problems: &mut Problems) {
    let Some(kind) = element.get("type").and_then(Value::as_str) else {
        problems.push(problem("missing required field: type", at.to_string()));
        return;
    };
    if !ELEMENT_TYPES.contains(&kind) {
        problems.push(problem(
            &format!("unsupported type: {kind}"),
            format!("{at}/type"),
        ));
        return;
    }
    check_max_chars(element, "action_id", MAX_ID, at, problems);
    match kind {
        "button" => {
            match element.get("text") {
                Some(text) => check_text(
                    text,
                    &format!("{at}/text"),
                    TextKind::PlainOnly,
                    MAX_BUTTON_TEXT,
                    problems,
                ),
                None => problems.push(problem("missing required field: text", at.to_string())),
            }
            check_max_chars(element, "value", MAX_BUTTON_VALUE, at, problems);
            let style = element.get("style").and_then(Value::as_str);
            if style.is_some_and(|style| style != "primary" && style != "danger") {
                problems.push(problem(
                    "must be one of primary, danger",
                    format!("{at}/style"),
                ));
            }
        }
        "plain_text_input" => {
            for field in ["max_length", "min_length"] {
                let length = element.get(field).and_then(Value::as_u64);
                if length.is_some_and(|n| n > MAX_PLAIN_TEXT_INPUT_LENGTH) {
                    problems.push(problem(
                        &format!("must be at most {MAX_PLAIN_TEXT_INPUT_LENGTH}"),
                        format!("{at}/{field}"),
                    ));
                }
            }
        }
        _ => {}
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TextKind {
    PlainOnly,
    Any,
}

fn check_text(text: &Value, at: &str, kind: TextKind, max: usize, problems: &mut Problems) {
    let text_type = text.get("type").and_then(Value::as_str);
    let allowed = match kind {
        TextKind::PlainOnly => matches!(text_type, Some("plain_text")),
        TextKind::Any => matches!(text_type, Some("plain_text" | "mrkdwn")),
    };
    if !allowed {
        let expected = match kind {
            TextKind::PlainOnly => "must be plain_text",
            TextKind::Any => "must be plain_text or mrkdwn",
        };
        problems.push(problem(expected, format!("{at}/type")));
    }
    match text.get("text").and_then(Value::as_str) {
        Some("") => problems.push(problem(
            "must be more than 0 characters",
            format!("{at}/text"),
        )),
        Some(content) if chars(content) > max => {
            problems.push(problem(&too_long(max), format!("{at}/text")))
        }
        Some(_) => {}
        None => problems.push(problem("missing required field: text", at.to_string())),
    }
}

fn check_max_chars(object: &Value, field: &str, max: usize, at: &str, problems: &mut Problems) {
    let value = object.get(field).and_then(Value::as_str);
    if value.is_some_and(|value| chars(value) > max) {
        problems.push(problem(&too_long(max), format!("{at}/{field}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn section(text: &str) -> Value {
        json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    }

    #[test]
    fn fifty_blocks_pass_and_fifty_one_fail() {
        let fifty: Vec<Value> = (0..50).map(|_| json!({"type": "divider"})).collect();
        assert!(check_message_blocks(&Value::Array(fifty.clone())).is_ok());
        let mut fifty_one = fifty;
        fifty_one.push(json!({"type": "divider"}));
        let problems = check_message_blocks(&Value::Array(fifty_one)).unwrap_err();
        assert_eq!(
            problems,
            ["[ERROR] no more than 50 items allowed [json-pointer:/blocks]"]
        );
    }

    #[test]
    fn section_text_is_limited_to_3000_characters_not_bytes() {
        assert!(check_message_blocks(&json!([section(&"é".repeat(3000))])).is_ok());
        let problems = check_message_blocks(&json!([section(&"a".repeat(3001))])).unwrap_err();
        assert_eq!(
            problems,
            ["[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
        );
    }

    #[test]
    fn password_elements_do_not_exist() {
        let view = json!({
            "type": "modal",
            "title": {"type": "plain_text", "text": "Token"},
            "submit": {"type": "plain_text", "text": "Save"},
            "blocks": [{"type": "input", "label": {"type": "plain_text", "text": "Token"},
                        "element": {"type": "password", "action_id": "token"}}]
        });
        let problems = check_view(&view, Surface::Modal).unwrap_err();
        assert_eq!(
            problems,
            ["[ERROR] unsupported type: password [json-pointer:/view/blocks/0/element/type]"]
        );
    }

    #[test]
    fn modal_needs_a_short_title_and_a_submit_for_inputs() {
        let view = json!({
            "type": "modal",
            "title": {"type": "plain_text", "text": "A title far longer than allowed"},
            "blocks": [{"type": "input", "label": {"type": "plain_text", "text": "Token"},
                        "element": {"type": "plain_text_input", "action_id": "token"}}]
        });
        let problems = check_view(&view, Surface::Modal).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("/view/title/text"));
        assert!(problems[1].contains("/view/submit"));
    }

    #[test]
    fn duplicate_block_ids_are_refused() {
        let blocks = json!([
            {"type": "divider", "block_id": "a"},
            {"type": "divider", "block_id": "a"}
        ]);
        assert!(check_message_blocks(&blocks).is_err());
    }
}
