//! The status table (`/scim status`) and the App Home tab.

use super::Message;
use super::format::{ago, code, count, inline, on_day, time_left};
use super::kit::{context, divider, header, section};
use super::limits::{MAX_MESSAGE_BLOCKS, MAX_SECTION_TEXT, MAX_VIEW_BLOCKS, and_more, fit_lines};
use crate::rotation::expiry::{Severity, Threshold, days_left};
use crate::rotation::{RotationId, RotationState, TokenRecord};
use chrono::{DateTime, Utc};
use slack_morphism::prelude::*;

/// One connection's line in the status table.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusRow {
    /// The connection's configured name.
    pub connection: String,
    /// Its current token, if one is known.
    pub token: Option<TokenRecord>,
    /// The rotation in flight (or the last one), if any.
    pub rotation: Option<(RotationId, RotationState)>,
    /// Why the bot cannot watch the Entra job, if it cannot (Graph unreachable, job missing).
    pub graph_problem: Option<String>,
}

/// Days left at or under which a row counts as "expiring soon" in the summary: the default
/// first warning threshold.
const SOON_DAYS: i64 = 30;

fn expires_at(row: &StatusRow) -> Option<DateTime<Utc>> {
    row.token.as_ref().and_then(|t| t.expires_at)
}

/// A colour for the row: by severity when within the warning thresholds, green beyond.
fn light(row: &StatusRow, now: DateTime<Utc>) -> &'static str {
    let Some(expires) = expires_at(row) else {
        return "⚪";
    };
    if now >= expires {
        return "🔴";
    }
    let days = days_left(expires, now);
    if days > SOON_DAYS {
        return "🟢";
    }
    match Threshold::Days(u32::try_from(days).unwrap_or(u32::MAX)).severity() {
        Severity::Critical | Severity::Urgent => "🟠",
        Severity::Warning => "🟡",
        Severity::Notice => "🔵",
    }
}

fn row_line(row: &StatusRow, now: DateTime<Utc>) -> String {
    let mut line = format!("{} *{}* — ", light(row, now), inline(&row.connection));
    match &row.token {
        None => line.push_str("no token registered: expiry unknown"),
        Some(token) => {
            line.push_str(&format!("token {}", code(token.display_id())));
            match token.expires_at {
                Some(expires) if now >= expires => line.push_str(&format!(
                    ", *expired* {} ({})",
                    on_day(expires),
                    ago(expires, now)
                )),
                Some(expires) => line.push_str(&format!(
                    ", expires {} (*{}*)",
                    on_day(expires),
                    time_left(expires, now)
                )),
                None => line.push_str(", expiry unknown"),
            }
        }
    }
    if let Some((id, state)) = row.rotation {
        if !state.is_terminal() {
            line.push_str(&format!("\n      ↻ rotation #{id}: {}", state.describe()));
        }
    }
    if let Some(problem) = &row.graph_problem {
        line.push_str(&format!(
            "\n      ⚠️ cannot check Entra: {}",
            super::limits::truncate(&inline(problem), 200)
        ));
    }
    line
}

/// Most urgent first (unknown expiry, then the soonest), so a cut list drops the calmest.
fn sorted(rows: &[StatusRow]) -> Vec<&StatusRow> {
    let mut rows: Vec<&StatusRow> = rows.iter().collect();
    rows.sort_by(|a, b| {
        expires_at(a)
            .cmp(&expires_at(b))
            .then_with(|| a.connection.cmp(&b.connection))
    });
    rows
}

fn summary(rows: &[StatusRow], now: DateTime<Utc>) -> String {
    let expired = rows
        .iter()
        .filter(|r| expires_at(r).is_some_and(|e| now >= e))
        .count();
    let soon = rows
        .iter()
        .filter(|r| expires_at(r).is_some_and(|e| now < e && days_left(e, now) <= SOON_DAYS))
        .count();
    let unknown = rows.iter().filter(|r| expires_at(r).is_none()).count();
    let rotating = rows
        .iter()
        .filter(|r| r.rotation.is_some_and(|(_, s)| !s.is_terminal()))
        .count();
    let unwatched = rows.iter().filter(|r| r.graph_problem.is_some()).count();
    let mut parts = Vec::new();
    for (n, words) in [
        (expired, "expired"),
        (soon, "expiring within 30 days"),
        (unknown, "with unknown expiry"),
        (rotating, "being rotated"),
        (unwatched, "that I cannot check in Entra"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {words}"));
        }
    }
    let total = count(rows.len() as i64, "connection", "connections");
    if parts.is_empty() {
        format!("{total}, all fine.")
    } else {
        format!("{total}: {}.", parts.join(", "))
    }
}

/// The status table within `max_blocks` blocks: a summary line, then the connections most
/// urgent first, several per block, and "… and N more" when they do not all fit.
fn status_table(rows: &[StatusRow], now: DateTime<Utc>, max_blocks: usize) -> Vec<SlackBlock> {
    if rows.is_empty() {
        return vec![section(
            "No connections are configured. Add a `[[connection]]` to the configuration.",
        )];
    }
    let lines: Vec<String> = sorted(rows).into_iter().map(|r| row_line(r, now)).collect();
    // One block for the summary, one kept for "… and N more".
    let (chunks, dropped) = fit_lines(
        &lines,
        MAX_SECTION_TEXT,
        max_blocks.saturating_sub(2).max(1),
    );
    let mut blocks = vec![context(&summary(rows, now))];
    blocks.extend(chunks.iter().map(|chunk| section(chunk)));
    if dropped > 0 {
        blocks.push(context(&format!(
            "{}, which expire later.",
            and_more(dropped, "connection", "connections")
        )));
    }
    blocks
}

/// The status table for a message: every connection's token, expiry, days left (or
/// "unknown") and rotation in progress, within a message's block limit.
pub fn status_blocks(rows: &[StatusRow], now: DateTime<Utc>) -> Vec<SlackBlock> {
    // Leaves room for the message's header.
    status_table(rows, now, MAX_MESSAGE_BLOCKS - 1)
}

/// `/scim status`: the status table under a header.
pub fn status_message(rows: &[StatusRow], now: DateTime<Utc>) -> Message {
    let mut blocks = vec![header("SCIM tokens")];
    blocks.extend(status_blocks(rows, now));
    Message::new(format!("SCIM tokens: {}", summary(rows, now)), blocks)
}

/// How the bot works, for the App Home tab.
const HOW_THIS_BOT_WORKS: &str = "*How this bot works*\n\
    • Entra ID provisions users and groups into AWS IAM Identity Center with an access token \
    that AWS issues for one year. When it expires, provisioning stops quietly.\n\
    • I know each token's expiry and warn in the channel before it comes (30, 14, 7, 3 and \
    1 days by default), louder as it nears. I also watch Entra's provisioning job.\n\
    • Anyone can start a rotation; a team lead approves it. I then guide them in the \
    warning's thread: generate a new token in AWS, paste it in a private window (I check it \
    with AWS, test and save it in Entra), then delete the old token in AWS.\n\
    • Every step is recorded in a tamper-evident audit trail.";

/// The App Home tab: how the bot works, then the status table.
pub fn home_view(rows: &[StatusRow], now: DateTime<Utc>) -> SlackView {
    let mut blocks = vec![
        header("SCIM token rotation"),
        section(HOW_THIS_BOT_WORKS),
        divider(),
        header("Connections"),
    ];
    // Leaves room for the commands footer (divider + context).
    let budget = MAX_VIEW_BLOCKS - blocks.len() - 2;
    blocks.extend(status_table(rows, now, budget));
    blocks.push(divider());
    blocks.push(context(
        "Commands: `/scim status` · `/scim rotate &lt;connection&gt;` · \
         `/scim register &lt;connection&gt;` · `/scim audit [connection]` · `/scim help`",
    ));
    SlackView::Home(SlackHomeView::new(blocks))
}
