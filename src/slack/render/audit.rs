//! `/scim audit [connection]`: the latest audit records, one compact line each.

use super::Message;
use super::format::{code, count, inline, user, when};
use super::kit::{context, header, section};
use super::limits::{MAX_MESSAGE_BLOCKS, MAX_SECTION_TEXT, fit_lines, truncate};
use crate::audit::AuditRecord;
use serde_json::Value;

/// How many records `/scim audit` asks the store for: a rotation writes about ten, so this
/// shows the last rotation or two, which is what people ask about.
pub const DEFAULT_AUDIT_RECORDS: usize = 20;

/// Longest value of one detail shown in a line.
const MAX_DETAIL_VALUE: usize = 80;
/// Longest detail summary in a line.
const MAX_DETAILS: usize = 300;

/// `old_token_deletion_confirmed` → "old token deletion confirmed".
fn action_words(action: &str) -> String {
    action.replace('_', " ")
}

/// `{"stage": "save", "reason": "…"}` → "reason: …, stage: save" (null values left out).
fn details_summary(details: &Value) -> String {
    let text = match details {
        Value::Object(map) => map
            .iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(key, value)| {
                let value = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                format!(
                    "{}: {}",
                    inline(&key.replace('_', " ")),
                    truncate(&inline(&value), MAX_DETAIL_VALUE)
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null => String::new(),
        other => truncate(&inline(&other.to_string()), MAX_DETAIL_VALUE),
    };
    truncate(&text, MAX_DETAILS)
}

fn record_line(record: &AuditRecord) -> String {
    let mut line = format!(
        "{} {} · {} · *{}*",
        code(&format!("#{}", record.seq)),
        when(record.at),
        user(&record.actor),
        inline(&action_words(&record.action))
    );
    if let Some(connection) = &record.connection {
        line.push_str(&format!(" · {}", inline(connection)));
    }
    if let Some(rotation) = record.rotation_id {
        line.push_str(&format!(" · rotation #{rotation}"));
    }
    let details = details_summary(&record.details);
    if !details.is_empty() {
        line.push_str(&format!(" — {details}"));
    }
    line
}

/// The given audit records (the caller fetches the last [`DEFAULT_AUDIT_RECORDS`] or so),
/// oldest first, restricted to `connection` when given. When they do not all fit, the
/// newest are kept and the number left out is said.
///
/// Meant as the ephemeral answer to `/scim audit`: it mentions every actor, which in a
/// channel message would notify them all.
pub fn audit_list(records: &[AuditRecord], connection: Option<&str>) -> Message {
    let mut shown: Vec<&AuditRecord> = records
        .iter()
        .filter(|r| connection.is_none_or(|c| r.connection.as_deref() == Some(c)))
        .collect();
    shown.sort_by_key(|r| r.seq);
    let title = match connection {
        Some(c) => format!("Audit trail for {c}"),
        None => "Audit trail".to_owned(),
    };
    let footer = "The full trail: `scim-rotator audit export`. Check that nobody changed it: \
                  `scim-rotator audit verify`.";
    if shown.is_empty() {
        let (text, none) = match connection {
            Some(c) => (
                format!("No audit records for {} yet.", inline(c)),
                format!("No audit records for *{}* yet.", inline(c)),
            ),
            None => (
                "No audit records yet.".to_owned(),
                "No audit records yet.".to_owned(),
            ),
        };
        return Message::new(text, vec![header(&title), section(&none), context(footer)]);
    }
    // Newest first into the budget, so that a cut drops the oldest; then back in order.
    let newest_first: Vec<String> = shown.iter().rev().map(|r| record_line(r)).collect();
    // Header, intro and footer take three blocks.
    let (chunks, dropped) = fit_lines(&newest_first, MAX_SECTION_TEXT, MAX_MESSAGE_BLOCKS - 3);
    let sections = chunks.iter().rev().map(|chunk| {
        let lines: Vec<&str> = chunk.lines().rev().collect();
        section(&lines.join("\n"))
    });
    let intro = if dropped > 0 {
        format!(
            "The last {} (oldest first); {} left out.",
            count((shown.len() - dropped) as i64, "record", "records"),
            count(dropped as i64, "older record", "older records")
        )
    } else {
        format!(
            "The last {}, oldest first.",
            count(shown.len() as i64, "record", "records")
        )
    };
    let mut blocks = vec![header(&title), context(&intro)];
    blocks.extend(sections);
    blocks.push(context(footer));
    Message::new(
        format!(
            "{title}: {}.",
            count(shown.len() as i64, "record", "records")
        ),
        blocks,
    )
}
