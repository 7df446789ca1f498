//! Expiry warnings: the top-level message when a token crosses a threshold, the threaded
//! reply for each later threshold, and the message for a token whose expiry is unknown.

use super::format::{
    ago, code, escape, group, in_time, inline, link, plain_day, source, time_left, user, when,
};
use super::kit::{Style, actions, button, context, fields, header, section};
use super::{ConnectionInfo, Message};
use crate::rotation::TokenRecord;
use crate::rotation::expiry::{Severity, Threshold};
use crate::slack::ids;
use chrono::{DateTime, Utc};
use slack_morphism::prelude::SlackBlock;

/// How loud each severity is: emoji, label and what to do.
fn tone(severity: Severity) -> (&'static str, &'static str, &'static str) {
    match severity {
        Severity::Notice => (
            "🔵",
            "Notice",
            "Plan the rotation in the coming days: it takes a few minutes, and a team lead has to approve it.",
        ),
        Severity::Warning => (
            "🟡",
            "Warning",
            "Rotate it this week: it takes a few minutes, and a team lead has to approve it.",
        ),
        Severity::Urgent => (
            "🟠",
            "Urgent",
            "Rotate it today: when it expires, provisioning into AWS stops.",
        ),
        Severity::Critical => (
            "🔴",
            "Critical",
            "Provisioning into AWS stops when the token expires, so it has stopped: new users, \
             leavers and group changes made in Entra no longer reach AWS IAM Identity Center. \
             Rotate it now.",
        ),
    }
}

/// What the button and the thread are for, under every warning.
const HOW_IT_WORKS: &str = "Anyone in this channel can start a rotation. A team lead approves it, \
     and I guide them step by step in this message's thread.";

fn is_expired(threshold: Threshold, expires: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    threshold == Threshold::Expired || now >= expires
}

/// The end of a warning: the *Start rotation* button, or — while a rotation is open — the
/// line saying which rotation is under way ([`super::in_progress_line`]) in its place.
fn start_or_progress(
    conn: &ConnectionInfo,
    style: Style,
    in_progress: Option<&str>,
) -> Vec<SlackBlock> {
    match in_progress {
        Some(line) => vec![section(line)],
        None => vec![
            actions(vec![button(
                "Start rotation",
                ids::START_ROTATION,
                conn.name,
                style,
            )]),
            context(HOW_IT_WORKS),
        ],
    }
}

/// The top-level warning for a token that crossed `threshold` (a number of days left, or
/// expiry). A token without an expiry date gets [`unknown_expiry_warning`] instead. While a
/// rotation is open, `in_progress` replaces the advice and the button.
pub fn expiry_warning(
    conn: &ConnectionInfo,
    token: &TokenRecord,
    threshold: Threshold,
    now: DateTime<Utc>,
    in_progress: Option<&str>,
) -> Message {
    let Some(expires) = token.expires_at else {
        return unknown_expiry_warning(conn, Some(token), in_progress);
    };
    let expired = is_expired(threshold, expires, now);
    let severity = if expired {
        Severity::Critical
    } else {
        threshold.severity()
    };
    let (emoji, label, advice) = tone(severity);
    let name = inline(conn.name);

    let (headline, what) = if expired {
        (
            format!("{emoji} SCIM token for {} has expired", conn.name),
            format!("expired {}", when(expires)),
        )
    } else {
        (
            format!(
                "{emoji} SCIM token for {} expires {}",
                conn.name,
                in_time(expires, now)
            ),
            format!("expires {}", when(expires)),
        )
    };
    let advice = if in_progress.is_some() {
        String::new()
    } else {
        format!("\n{advice}")
    };
    let mut blocks = vec![
        header(&headline),
        section(&format!(
            "*{label}:* the access token that Entra ID uses to provision users and groups into \
             AWS IAM Identity Center (connection *{name}*) {what}.{advice}"
        )),
    ];
    if in_progress.is_none() {
        // While a rotation runs, its thread has the details; the warning stays short.
        blocks.push(fields(&[
            format!("*Connection*\n{name} ({})", inline(conn.aws_region)),
            format!("*Token id*\n{}", code(token.display_id())),
            format!(
                "*{}*\n{}",
                if expired { "Expired" } else { "Expires" },
                when(expires)
            ),
            if expired {
                format!("*Status*\nexpired {}", ago(expires, now))
            } else {
                format!("*Time left*\n{}", time_left(expires, now))
            },
            format!("*Where the date comes from*\n{}", source(token.source)),
        ]));
    }
    blocks.extend(start_or_progress(conn, Style::Primary, in_progress));
    let text = if in_progress.is_some() {
        format!(
            "{emoji} The SCIM token for {} {} ({}): a rotation is in progress.",
            escape(conn.name),
            if expired { "expired" } else { "expires" },
            plain_day(expires)
        )
    } else if expired {
        format!(
            "{emoji} The SCIM token for {} expired on {}: provisioning into AWS has stopped. Rotate it now.",
            escape(conn.name),
            plain_day(expires)
        )
    } else {
        format!(
            "{emoji} The SCIM token for {} expires {} ({}). Press Start rotation to replace it.",
            escape(conn.name),
            in_time(expires, now),
            plain_day(expires)
        )
    };
    Message::new(text, blocks)
}

/// The reply in the warning's thread when a later threshold is crossed — or, while a
/// rotation is open (`rotation`), in the rotation's thread. `mention_users` (Slack user ids)
/// and `mention_groups` (user-group ids) are notified; the caller passes them only when few
/// days are left (3 or fewer), so early warnings stay quiet.
pub fn threshold_reply(
    conn: &ConnectionInfo,
    token: &TokenRecord,
    threshold: Threshold,
    now: DateTime<Utc>,
    mention_users: &[String],
    mention_groups: &[String],
    rotation: Option<&crate::rotation::Rotation>,
) -> Message {
    let mentions: Vec<String> = mention_users
        .iter()
        .map(|id| user(id))
        .chain(mention_groups.iter().filter_map(|id| group(id)))
        .collect();
    let mentions = if mentions.is_empty() {
        String::new()
    } else {
        format!("{} ", mentions.join(" "))
    };
    let name = inline(conn.name);
    let Some(expires) = token.expires_at else {
        let text = format!(
            "{mentions}I still don't know when the SCIM token for *{name}* expires: register it with `/scim register {name}`."
        );
        return Message::new(text.clone(), vec![section(&text)]);
    };
    let expired = is_expired(threshold, expires, now);
    let severity = if expired {
        Severity::Critical
    } else {
        threshold.severity()
    };
    let (emoji, label, advice) = tone(severity);
    let status = if expired {
        format!("has expired ({})", when(expires))
    } else {
        format!("now expires {} ({})", in_time(expires, now), when(expires))
    };
    let body = match rotation {
        None => format!(
            "{mentions}{emoji} *{label}:* the SCIM token for *{name}* {status}.\n{advice}\n\
             Press *Start rotation* at the top of this thread."
        ),
        Some(r) => format!(
            "{mentions}{emoji} *{label}:* the SCIM token for *{name}* {status}, and rotation \
             #{} is {}: its step is above.",
            r.id,
            r.state.describe()
        ),
    };
    let plain_status = if expired {
        format!("has expired ({})", plain_day(expires))
    } else {
        format!("expires {} ({})", in_time(expires, now), plain_day(expires))
    };
    let text = format!(
        "{mentions}{emoji} The SCIM token for {} {plain_status}.",
        escape(conn.name)
    );
    Message::new(text, vec![section(&body)])
}

/// The warning for a connection whose token expiry nobody knows (no token registered, or
/// one registered without a date): ask for it, and offer a rotation, which also sets it.
pub fn unknown_expiry_warning(
    conn: &ConnectionInfo,
    token: Option<&TokenRecord>,
    in_progress: Option<&str>,
) -> Message {
    let name = inline(conn.name);
    let on_record = match token.and_then(|t| t.token_id.as_deref()) {
        Some(id) => format!(
            "The token on record is {}, without an expiry date.",
            code(id)
        ),
        None => "No token is on record for this connection.".to_owned(),
    };
    let console = link(
        &conn.console_url(),
        &format!("IAM Identity Center ({})", conn.aws_region),
    );
    let mut blocks = vec![
        header(&format!(
            "⚪ When does the SCIM token for {} expire?",
            conn.name
        )),
        section(&format!(
            "I don't know when this token expires: register it with `/scim register {name}`.\n\
             Until then I cannot warn before it expires, and when it expires, provisioning \
             into AWS stops. {on_record}"
        )),
        section(&format!(
            "*To register it:* open {console} → *Settings* → *Identity source* → *Actions* → \
             *Manage provisioning* → *Access tokens*, and note the id and creation date of \
             the token in use. Then run `/scim register {name}` and enter them.\n\
             *Or rotate it now:* a rotation replaces the token and records the new one's expiry."
        )),
    ];
    blocks.extend(start_or_progress(conn, Style::Plain, in_progress));
    let text = format!(
        "I don't know when the SCIM token for {} expires: register it with /scim register {}.",
        escape(conn.name),
        escape(conn.name)
    );
    Message::new(text, blocks)
}

/// What a warning (or alert) becomes once a rotation started from it completed: no button,
/// the outcome in one line (who did what is in the thread's summary).
pub fn warning_resolved(r: &crate::rotation::Rotation, now: DateTime<Utc>) -> Message {
    let new = r.new_token_id.as_deref().map_or_else(
        || "a new token".to_owned(),
        |id| format!("token {}", code(id)),
    );
    let expires = r
        .new_token_expires
        .map(|at| format!(", which expires {} ({})", when(at), time_left(at, now)))
        .unwrap_or_default();
    let finished = r
        .deletion_confirmed_at
        .map(|at| format!(" {}", when(at)))
        .unwrap_or_default();
    let text = format!("✅ SCIM token for {} rotated", r.connection);
    Message::new(
        text.clone(),
        vec![
            header(&text),
            section(&format!(
                "Rotation #{} finished{finished}: Entra now uses {new}{expires}. I will warn \
                 here again before it expires.",
                r.id
            )),
        ],
    )
}
