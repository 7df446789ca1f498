//! Blocks back to plain text, as a person reads them in Slack: for the terminal demo (which
//! prints the channel) and for snapshot tests that read like the conversation.
//!
//! Mentions become `@U…`, dates their UTC fallback, links `label (url)`; buttons show as
//! `[ Approve ]`, inputs as `<Token: ____>`. Emphasis marks (`*bold*`) are kept: they read
//! well as they are.

use slack_morphism::prelude::*;

/// The text of blocks, one block after another.
pub fn to_text(blocks: &[SlackBlock]) -> String {
    blocks.iter().map(block_text).collect::<Vec<_>>().join("\n")
}

/// The text of a modal (title, blocks, buttons) or of the Home tab.
pub fn view_to_text(view: &SlackView) -> String {
    match view {
        SlackView::Modal(modal) => {
            let mut out = format!("┌─ {} ─┐\n", plain_only(&modal.title));
            out.push_str(&to_text(&modal.blocks));
            let mut buttons = Vec::new();
            if let Some(close) = &modal.close {
                buttons.push(format!("[ {} ]", plain_only(close)));
            }
            if let Some(submit) = &modal.submit {
                buttons.push(format!("[ {} ]", plain_only(submit)));
            }
            if !buttons.is_empty() {
                out.push('\n');
                out.push_str(&buttons.join("  "));
            }
            out
        }
        SlackView::Home(home) => format!("═══ App Home ═══\n{}", to_text(&home.blocks)),
    }
}

fn block_text(block: &SlackBlock) -> String {
    match block {
        SlackBlock::Header(header) => format!("# {}", plain_only(&header.text)),
        SlackBlock::Section(section) => {
            let mut parts = Vec::new();
            if let Some(text) = &section.text {
                parts.push(text_of(text));
            }
            if let Some(fields) = &section.fields {
                for field in fields {
                    parts.push(format!("  • {}", text_of(field).replace('\n', ": ")));
                }
            }
            if let Some(SlackSectionBlockElement::Button(button)) = &section.accessory {
                parts.push(button_text(button));
            }
            parts.join("\n")
        }
        SlackBlock::Divider(_) => "────────────────────────────────".to_owned(),
        SlackBlock::Context(context) => context
            .elements
            .iter()
            .map(|element| match element {
                SlackContextBlockElement::Plain(text) => format!("  {}", text.text),
                SlackContextBlockElement::MarkDown(text) => format!("  {}", mrkdwn(&text.text)),
                SlackContextBlockElement::Image(image) => format!("  [image: {}]", image.alt_text),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        SlackBlock::Actions(actions) => actions
            .elements
            .iter()
            .map(|element| match element {
                SlackActionBlockElement::Button(button) => button_text(button),
                _ => "[ … ]".to_owned(),
            })
            .collect::<Vec<_>>()
            .join("  "),
        SlackBlock::Input(input) => {
            let mut label = plain_only(&input.label);
            if input.optional == Some(true) {
                // As Slack shows it.
                label.push_str(" (optional)");
            }
            let value = match &input.element {
                SlackInputBlockElement::PlainTextInput(element) => element
                    .initial_value
                    .clone()
                    .unwrap_or_else(|| "____".to_owned()),
                SlackInputBlockElement::DatePicker(element) => element
                    .initial_date
                    .clone()
                    .unwrap_or_else(|| "YYYY-MM-DD".to_owned()),
                _ => "____".to_owned(),
            };
            let mut out = format!("<{label}: {value}>");
            if let Some(hint) = &input.hint {
                out.push_str(&format!("\n  ({})", plain_only(hint)));
            }
            out
        }
        _ => "[a block this transcript does not show]".to_owned(),
    }
}

fn button_text(button: &SlackBlockButtonElement) -> String {
    let mut out = format!("[ {} ]", plain_only(&button.text));
    if let Some(confirm) = &button.confirm {
        out.push_str(&format!(
            " (asks first: \"{}\" {} [ {} ] [ {} ])",
            plain_only(&confirm.title),
            text_of(&confirm.text),
            plain_only(&confirm.confirm),
            plain_only(&confirm.deny)
        ));
    }
    out
}

fn plain_only(text: &SlackBlockPlainTextOnly) -> String {
    match SlackBlockText::from(text.clone()) {
        SlackBlockText::Plain(plain) => plain.text,
        SlackBlockText::MarkDown(md) => mrkdwn(&md.text),
    }
}

fn text_of(text: &SlackBlockText) -> String {
    match text {
        SlackBlockText::Plain(plain) => plain.text.clone(),
        SlackBlockText::MarkDown(md) => mrkdwn(&md.text),
    }
}

/// Slack mrkdwn to what a reader sees: `<…>` markup resolved, escapes undone.
pub fn mrkdwn(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        out.push_str(&markup(&after[..close]));
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// One `<…>` token: a mention, a date, a link.
fn markup(inner: &str) -> String {
    let (target, label) = match inner.split_once('|') {
        Some((target, label)) => (target, Some(label)),
        None => (inner, None),
    };
    if let Some(id) = target.strip_prefix('@') {
        return format!("@{}", label.unwrap_or(id));
    }
    if let Some(group) = target.strip_prefix("!subteam^") {
        return label.map_or_else(|| format!("@{group}"), str::to_owned);
    }
    if target.starts_with("!date^") {
        return label.unwrap_or("(a date)").to_owned();
    }
    if let Some(special) = target.strip_prefix('!') {
        return format!("@{special}");
    }
    if let Some(channel) = target.strip_prefix('#') {
        return format!("#{}", label.unwrap_or(channel));
    }
    match label {
        Some(label) => format!("{label} ({target})"),
        None => target.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_reads_as_a_person_sees_it() {
        assert_eq!(
            mrkdwn(
                "<@U1> and <!subteam^S1> at <!date^1^{date}|2027-01-01 09:00 UTC>: <https://x.example|the console> &lt;b&gt; &amp;"
            ),
            "@U1 and @S1 at 2027-01-01 09:00 UTC: the console (https://x.example) <b> &"
        );
    }
}
