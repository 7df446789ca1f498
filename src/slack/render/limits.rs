//! Slack's Block Kit limits, and the means to stay within them.
//!
//! Slack refuses a whole message or view when one field is over a limit (`invalid_blocks`),
//! so a long error text or a long list must never cost the message. Renderers stay within
//! the limits by construction: every text goes through [`truncate`] (via the builders in
//! `kit`), every list through [`fit_lines`]/[`cap_blocks`]. [`check_message`] and
//! [`check_view`] verify a result independently, from its JSON, for the tests.
//!
//! Lengths are counted in characters (Unicode scalar values), as Slack documents them.

use super::Message;
use serde_json::Value;
use slack_morphism::prelude::SlackView;

/// Blocks in one message (chat.postMessage / chat.update).
pub const MAX_MESSAGE_BLOCKS: usize = 50;
/// Blocks in a modal or the Home tab.
pub const MAX_VIEW_BLOCKS: usize = 100;
/// Text of a section block, and of any text object (context elements included).
pub const MAX_SECTION_TEXT: usize = 3000;
/// One field of a section block.
pub const MAX_FIELD_TEXT: usize = 2000;
/// Fields in one section block.
pub const MAX_FIELDS: usize = 10;
/// Elements in one context block.
pub const MAX_CONTEXT_ELEMENTS: usize = 10;
/// Elements in one actions block.
pub const MAX_ACTIONS_ELEMENTS: usize = 25;
/// Text of a header block.
pub const MAX_HEADER_TEXT: usize = 150;
/// Text on a button.
pub const MAX_BUTTON_TEXT: usize = 75;
/// A button's `value`.
pub const MAX_BUTTON_VALUE: usize = 2000;
/// `action_id`, `block_id`, `callback_id`.
pub const MAX_ID: usize = 255;
/// A modal's title, submit and close texts.
pub const MAX_MODAL_TEXT: usize = 24;
/// A view's `private_metadata`.
pub const MAX_PRIVATE_METADATA: usize = 3000;
/// An input block's label and hint.
pub const MAX_INPUT_LABEL: usize = 2000;
/// An input element's placeholder.
pub const MAX_PLACEHOLDER: usize = 150;
/// `max_length` of a plain_text_input (Slack rejects more).
pub const MAX_INPUT_LENGTH: usize = 3000;
/// A confirm dialog's title.
pub const MAX_CONFIRM_TITLE: usize = 100;
/// A confirm dialog's text.
pub const MAX_CONFIRM_TEXT: usize = 300;
/// A confirm dialog's confirm and deny buttons.
pub const MAX_CONFIRM_BUTTON: usize = 30;
/// A message's top-level `text` (the notification fallback). Slack truncates at 40,000 but
/// advises 4,000 at most; a notification never needs more.
pub const MAX_FALLBACK_TEXT: usize = 4000;

/// What a cut text ends with.
pub const ELLIPSIS: &str = "…";

/// Shortens `text` to at most `max` characters, ending it with "…" when cut.
///
/// Slack markup is never cut in half: a cut that would fall inside `<…>` (a mention, a date,
/// a link) or an `&…;` escape moves back to before it, so Slack never shows broken syntax.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let keep = max - ELLIPSIS.chars().count();
    // Byte offset of the `keep`-th character.
    let mut cut = text
        .char_indices()
        .nth(keep)
        .map_or(text.len(), |(index, _)| index);
    let head = &text[..cut];
    // An unclosed `<` or `&` in the kept part means the cut falls inside markup.
    if let Some(open) = head.rfind('<') {
        if !head[open..].contains('>') {
            cut = open;
        }
    }
    let head = &text[..cut];
    if let Some(amp) = head.rfind('&') {
        if !head[amp..].contains(';') && head.len() - amp <= 5 {
            cut = amp;
        }
    }
    let mut out = text[..cut].trim_end().to_owned();
    out.push_str(ELLIPSIS);
    out
}

/// Joins whole lines with `\n` into chunks of at most `max_chars` characters each, and at
/// most `max_chunks` chunks. Lines that do not fit are dropped from the end and counted:
/// the caller says "… and N more". A single line longer than `max_chars` is truncated.
pub fn fit_lines(lines: &[String], max_chars: usize, max_chunks: usize) -> (Vec<String>, usize) {
    if max_chunks == 0 || max_chars == 0 {
        return (Vec::new(), lines.len());
    }
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_len = 0usize;
    for (index, line) in lines.iter().enumerate() {
        let line = truncate(line, max_chars);
        let len = line.chars().count();
        let needed = if current.is_empty() { len } else { len + 1 };
        if current_len + needed > max_chars {
            if chunks.len() + 1 >= max_chunks {
                chunks.push(std::mem::take(&mut current));
                return (chunks, lines.len() - index);
            }
            chunks.push(std::mem::take(&mut current));
            current_len = 0;
        }
        if !current.is_empty() {
            current.push('\n');
            current_len += 1;
        }
        current.push_str(&line);
        current_len += len;
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    (chunks, 0)
}

/// "… and 3 more connections" — the tail of a cut list.
pub fn and_more(count: usize, singular: &str, plural: &str) -> String {
    let noun = if count == 1 { singular } else { plural };
    format!("{ELLIPSIS} and {count} more {noun}")
}

/// A last line of defence: keeps at most `max` blocks, the last of which says how many were
/// left out. Renderers cut their lists before this ever has to act.
pub fn cap_blocks(
    mut blocks: Vec<slack_morphism::prelude::SlackBlock>,
    max: usize,
) -> Vec<slack_morphism::prelude::SlackBlock> {
    if blocks.len() <= max {
        return blocks;
    }
    let dropped = blocks.len() - (max - 1);
    blocks.truncate(max - 1);
    blocks.push(super::kit::context(&and_more(
        dropped,
        "part (not shown)",
        "parts (not shown)",
    )));
    blocks
}

/// Every limit `message` breaks, described; empty when Slack would accept it.
pub fn check_message(message: &Message) -> Vec<String> {
    let mut problems = Vec::new();
    if message.text.trim().is_empty() {
        problems.push("message text (notification fallback) is empty".to_owned());
    }
    over(
        &mut problems,
        "message text",
        &message.text,
        MAX_FALLBACK_TEXT,
    );
    let blocks = serde_json::to_value(&message.blocks).expect("blocks serialize");
    check_blocks(&mut problems, &blocks, MAX_MESSAGE_BLOCKS);
    problems
}

/// Every limit `view` (a modal or the Home tab) breaks, described; empty when Slack would
/// accept it.
pub fn check_view(view: &SlackView) -> Vec<String> {
    let mut problems = Vec::new();
    let value = serde_json::to_value(view).expect("views serialize");
    if let Some(text) = value.pointer("/title/text").and_then(Value::as_str) {
        over(&mut problems, "modal title", text, MAX_MODAL_TEXT);
    }
    for key in ["submit", "close"] {
        if let Some(text) = value
            .get(key)
            .and_then(|v| v.get("text"))
            .and_then(Value::as_str)
        {
            over(&mut problems, key, text, MAX_MODAL_TEXT);
        }
    }
    if let Some(text) = value.get("private_metadata").and_then(Value::as_str) {
        over(
            &mut problems,
            "private_metadata",
            text,
            MAX_PRIVATE_METADATA,
        );
    }
    if let Some(text) = value.get("callback_id").and_then(Value::as_str) {
        over(&mut problems, "callback_id", text, MAX_ID);
    }
    check_blocks(
        &mut problems,
        value.get("blocks").unwrap_or(&Value::Null),
        MAX_VIEW_BLOCKS,
    );
    problems
}

fn over(problems: &mut Vec<String>, what: &str, text: &str, max: usize) {
    let len = text.chars().count();
    if len > max {
        problems.push(format!("{what}: {len} characters, limit {max}"));
    }
}

fn text_object(problems: &mut Vec<String>, what: &str, value: Option<&Value>, max: usize) {
    let Some(value) = value else { return };
    let text = value.get("text").and_then(Value::as_str).unwrap_or("");
    if text.is_empty() {
        problems.push(format!("{what}: empty text"));
    }
    over(problems, what, text, max);
}

fn check_blocks(problems: &mut Vec<String>, blocks: &Value, max_blocks: usize) {
    let blocks = blocks.as_array().cloned().unwrap_or_default();
    if blocks.len() > max_blocks {
        problems.push(format!("{} blocks, limit {max_blocks}", blocks.len()));
    }
    for (index, block) in blocks.iter().enumerate() {
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("?");
        let at = format!("block {index} ({kind})");
        if let Some(id) = block.get("block_id").and_then(Value::as_str) {
            over(problems, &format!("{at} block_id"), id, MAX_ID);
        }
        match kind {
            "header" => text_object(problems, &at, block.get("text"), MAX_HEADER_TEXT),
            "section" => {
                text_object(problems, &at, block.get("text"), MAX_SECTION_TEXT);
                let fields = block
                    .get("fields")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if fields.len() > MAX_FIELDS {
                    problems.push(format!("{at}: {} fields, limit {MAX_FIELDS}", fields.len()));
                }
                for field in &fields {
                    text_object(
                        problems,
                        &format!("{at} field"),
                        Some(field),
                        MAX_FIELD_TEXT,
                    );
                }
                if block.get("text").is_none() && fields.is_empty() {
                    problems.push(format!("{at}: neither text nor fields"));
                }
                if let Some(accessory) = block.get("accessory") {
                    check_element(problems, &at, accessory);
                }
            }
            "context" => {
                let elements = block
                    .get("elements")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if elements.is_empty() || elements.len() > MAX_CONTEXT_ELEMENTS {
                    problems.push(format!("{at}: {} elements", elements.len()));
                }
                for element in &elements {
                    text_object(problems, &at, Some(element), MAX_SECTION_TEXT);
                }
            }
            "actions" => {
                let elements = block
                    .get("elements")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if elements.is_empty() || elements.len() > MAX_ACTIONS_ELEMENTS {
                    problems.push(format!("{at}: {} elements", elements.len()));
                }
                for element in &elements {
                    check_element(problems, &at, element);
                }
            }
            "input" => {
                text_object(
                    problems,
                    &format!("{at} label"),
                    block.get("label"),
                    MAX_INPUT_LABEL,
                );
                text_object(
                    problems,
                    &format!("{at} hint"),
                    block.get("hint"),
                    MAX_INPUT_LABEL,
                );
                if let Some(element) = block.get("element") {
                    check_element(problems, &at, element);
                }
            }
            "divider" => {}
            other => problems.push(format!("{at}: unexpected block type {other}")),
        }
    }
}

fn check_element(problems: &mut Vec<String>, at: &str, element: &Value) {
    let kind = element.get("type").and_then(Value::as_str).unwrap_or("?");
    let at = format!("{at} {kind}");
    if let Some(id) = element.get("action_id").and_then(Value::as_str) {
        over(problems, &format!("{at} action_id"), id, MAX_ID);
    }
    text_object(
        problems,
        &format!("{at} placeholder"),
        element.get("placeholder"),
        MAX_PLACEHOLDER,
    );
    match kind {
        "button" => {
            text_object(problems, &at, element.get("text"), MAX_BUTTON_TEXT);
            if let Some(value) = element.get("value").and_then(Value::as_str) {
                over(problems, &format!("{at} value"), value, MAX_BUTTON_VALUE);
            }
            if let Some(confirm) = element.get("confirm") {
                let at = format!("{at} confirm");
                text_object(problems, &at, confirm.get("title"), MAX_CONFIRM_TITLE);
                text_object(problems, &at, confirm.get("text"), MAX_CONFIRM_TEXT);
                text_object(problems, &at, confirm.get("confirm"), MAX_CONFIRM_BUTTON);
                text_object(problems, &at, confirm.get("deny"), MAX_CONFIRM_BUTTON);
            }
        }
        "plain_text_input" => {
            if let Some(max) = element.get("max_length").and_then(Value::as_u64) {
                if max as usize > MAX_INPUT_LENGTH {
                    problems.push(format!("{at}: max_length {max}, limit {MAX_INPUT_LENGTH}"));
                }
            }
        }
        "datepicker" => {
            if let Some(date) = element.get("initial_date").and_then(Value::as_str) {
                if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
                    problems.push(format!("{at}: initial_date {date:?} is not YYYY-MM-DD"));
                }
            }
        }
        other => problems.push(format!("{at}: unexpected element type {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched() {
        assert_eq!(truncate("hello", 5), "hello");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis_within_the_limit() {
        let cut = truncate("hello world", 8);
        assert_eq!(cut, "hello w…");
        assert_eq!(cut.chars().count(), 8);
    }

    #[test]
    fn cutting_counts_characters_not_bytes() {
        let cut = truncate("ééééé", 4);
        assert_eq!(cut, "ééé…");
    }

    #[test]
    fn markup_is_never_cut_in_half() {
        let text = "approved by <@U012345678> at <!date^1700000000^{date}|2023-11-14>";
        for max in 1..text.len() {
            let cut = truncate(text, max);
            assert!(cut.chars().count() <= max, "{max}: {cut}");
            let opens = cut.matches('<').count();
            let closes = cut.matches('>').count();
            assert_eq!(opens, closes, "{max}: {cut}");
        }
        assert_eq!(truncate("a &amp; b", 5), "a…");
    }

    #[test]
    fn lines_are_packed_and_the_rest_counted() {
        let lines: Vec<String> = (0..10).map(|i| format!("line {i}")).collect();
        let (chunks, dropped) = fit_lines(&lines, 20, 100);
        assert_eq!(dropped, 0);
        assert_eq!(chunks.join("\n"), lines.join("\n"));
        assert!(chunks.iter().all(|c| c.chars().count() <= 20));

        let (chunks, dropped) = fit_lines(&lines, 20, 2);
        assert_eq!(chunks.len(), 2);
        assert_eq!(dropped, 10 - chunks.join("\n").lines().count());

        assert_eq!(fit_lines(&lines, 20, 0), (Vec::new(), 10));
    }

    #[test]
    fn too_many_blocks_end_with_a_count() {
        let blocks = (0..60).map(|_| super::super::kit::divider()).collect();
        let capped = cap_blocks(blocks, MAX_MESSAGE_BLOCKS);
        assert_eq!(capped.len(), MAX_MESSAGE_BLOCKS);
        let text = super::super::transcript::to_text(&capped);
        assert!(text.contains("and 11 more parts"), "{text}");
    }
}
