//! The fake Slack channel as a person reads it: each message as text with its buttons,
//! thread replies indented under their parent, ephemeral replies marked as such.

use crate::slack::render::transcript;
use scim_sandbox::slack::{Ephemeral, FakeSlack, StoredMessage};
use slack_morphism::prelude::*;
use std::collections::HashMap;

/// Display names of the workspace's people (`U…` → `lee`), for readable mentions.
pub struct Names(pub HashMap<String, String>);

impl Names {
    fn humanize(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (id, name) in &self.0 {
            out = out.replace(&format!("@{id}"), &format!("@{name}"));
        }
        out
    }
}

/// A message's blocks as text (its fallback text when it has no blocks).
pub fn message_text(blocks: &serde_json::Value, fallback: &str, names: &Names) -> String {
    let parsed: Option<Vec<SlackBlock>> = serde_json::from_value(blocks.clone())
        .ok()
        .filter(|b: &Vec<SlackBlock>| !b.is_empty());
    let text = match parsed {
        Some(blocks) => transcript::to_text(&blocks),
        None => transcript::mrkdwn(fallback),
    };
    names.humanize(&text)
}

/// A modal's text, as the fake stored it.
pub fn view_text(view: &serde_json::Value, names: &Names) -> String {
    match serde_json::from_value::<SlackView>(view.clone()) {
        Ok(view) => names.humanize(&transcript::view_to_text(&view)),
        Err(_) => "(a modal)".to_owned(),
    }
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|line| format!("{prefix}{line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One message in the channel, framed: `┃` for top level, `  ┆` for a thread reply.
pub fn framed(message: &StoredMessage, names: &Names) -> String {
    let body = message_text(&message.blocks, &message.text, names);
    let edited = if message.edits > 0 { " (edited)" } else { "" };
    match message.thread_ts {
        None => format!("┃ scim-rotator{edited}\n{}", indent(&body, "┃ ")),
        Some(_) => format!(
            "  ┆ ↳ scim-rotator, in the thread{edited}\n{}",
            indent(&body, "  ┆ ")
        ),
    }
}

/// An ephemeral reply: only its recipient sees it.
pub fn framed_ephemeral(ephemeral: &Ephemeral, names: &Names) -> String {
    let who = names
        .0
        .get(&ephemeral.user)
        .cloned()
        .unwrap_or_else(|| ephemeral.user.clone());
    let body = message_text(&ephemeral.blocks, &ephemeral.text, names);
    format!("  👁 only visible to {who}:\n{}", indent(&body, "  👁 "))
}

/// The whole channel: top-level messages in order, each followed by its thread.
pub fn whole_channel(slack: &FakeSlack, channel: &str, names: &Names) -> String {
    let messages = slack.messages(channel);
    let mut out = Vec::new();
    for top in messages.iter().filter(|m| m.thread_ts.is_none()) {
        out.push(framed(top, names));
        for reply in messages
            .iter()
            .filter(|m| m.thread_ts.as_deref() == Some(top.ts.as_str()))
        {
            out.push(framed(reply, names));
        }
    }
    out.join("\n\n")
}
