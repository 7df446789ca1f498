//! Block builders that keep every text within Slack's limits (see `limits`).
//!
//! Renderers build blocks only through these functions, so no renderer can forget a limit.

use super::limits::{
    MAX_ACTIONS_ELEMENTS, MAX_BUTTON_TEXT, MAX_BUTTON_VALUE, MAX_CONFIRM_BUTTON, MAX_CONFIRM_TEXT,
    MAX_CONFIRM_TITLE, MAX_FIELD_TEXT, MAX_FIELDS, MAX_HEADER_TEXT, MAX_INPUT_LABEL,
    MAX_PLACEHOLDER, MAX_SECTION_TEXT, truncate,
};
use slack_morphism::prelude::*;

/// A header block (plain text, 150 characters at most).
pub fn header(text: &str) -> SlackBlock {
    SlackHeaderBlock::new(plain(text, MAX_HEADER_TEXT)).into()
}

/// A section of mrkdwn text (3000 characters at most).
pub fn section(mrkdwn: &str) -> SlackBlock {
    SlackSectionBlock::new()
        .with_text(md(mrkdwn, MAX_SECTION_TEXT))
        .into()
}

/// A section of mrkdwn fields, shown in two columns (10 fields of 2000 characters at most;
/// extra fields are dropped, so callers pass at most ten).
pub fn fields(items: &[String]) -> SlackBlock {
    SlackSectionBlock::new()
        .with_fields(
            items
                .iter()
                .take(MAX_FIELDS)
                .map(|item| md(item, MAX_FIELD_TEXT))
                .collect(),
        )
        .into()
}

/// A context block: one line of small grey mrkdwn text.
pub fn context(mrkdwn: &str) -> SlackBlock {
    SlackContextBlock::new(vec![
        SlackBlockMarkDownText::new(truncate(mrkdwn, MAX_SECTION_TEXT)).into(),
    ])
    .into()
}

/// A divider line.
pub fn divider() -> SlackBlock {
    SlackDividerBlock::new().into()
}

/// An actions block of buttons (25 at most).
pub fn actions(buttons: Vec<SlackBlockButtonElement>) -> SlackBlock {
    SlackActionsBlock::new(
        buttons
            .into_iter()
            .take(MAX_ACTIONS_ELEMENTS)
            .map(Into::into)
            .collect(),
    )
    .into()
}

/// How a button looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Green: the step's expected next move.
    Primary,
    /// Red: turns something down.
    Danger,
    /// Grey.
    Plain,
}

/// A button with an action id (see `ids`) and a value.
pub fn button(label: &str, action_id: &str, value: &str, style: Style) -> SlackBlockButtonElement {
    let button = SlackBlockButtonElement::new(plain(label, MAX_BUTTON_TEXT))
        .with_action_id(SlackActionId(action_id.to_owned()))
        .with_value(truncate(value, MAX_BUTTON_VALUE));
    match style {
        Style::Primary => button.with_style(SlackBlockButtonStyle::Primary),
        Style::Danger => button.with_style(SlackBlockButtonStyle::Danger),
        Style::Plain => button,
    }
}

/// A link button: Slack opens `url` in the browser and sends the click with `action_id`
/// (one of `ids::LINKS`), which the bot only acknowledges. `None` when `url` is not an
/// address Slack would accept.
pub fn link_button(label: &str, action_id: &str, url: &str) -> Option<SlackBlockButtonElement> {
    let url = url::Url::parse(url).ok()?;
    Some(
        SlackBlockButtonElement::new(plain(label, MAX_BUTTON_TEXT))
            .with_action_id(SlackActionId(action_id.to_owned()))
            .with_url(url),
    )
}

/// A confirm dialog for a button: Slack shows it before the click is sent.
pub fn confirm(title: &str, mrkdwn: &str, yes: &str, no: &str) -> SlackBlockConfirmItem {
    SlackBlockConfirmItem::new(
        plain(title, MAX_CONFIRM_TITLE),
        md(mrkdwn, MAX_CONFIRM_TEXT),
        plain(yes, MAX_CONFIRM_BUTTON),
        plain(no, MAX_CONFIRM_BUTTON),
    )
}

/// An input block around `element`, with a label, an optional hint and whether it may be
/// left empty.
pub fn input(
    block_id: &str,
    label: &str,
    element: SlackInputBlockElement,
    hint: Option<&str>,
    optional: bool,
) -> SlackBlock {
    let mut block = SlackInputBlock::new(plain(label, MAX_INPUT_LABEL), element)
        .with_block_id(SlackBlockId(block_id.to_owned()))
        .with_optional(optional);
    if let Some(hint) = hint {
        block = block.with_hint(plain(hint, MAX_INPUT_LABEL));
    }
    block.into()
}

/// A placeholder for an input element (150 characters at most).
pub fn placeholder(text: &str) -> SlackBlockPlainTextOnly {
    plain(text, MAX_PLACEHOLDER)
}

/// Plain text cut to `max` characters.
pub fn plain(text: &str, max: usize) -> SlackBlockPlainTextOnly {
    SlackBlockPlainText::new(truncate(text, max)).into()
}

fn md(text: &str, max: usize) -> SlackBlockText {
    SlackBlockMarkDownText::new(truncate(text, max)).into()
}
