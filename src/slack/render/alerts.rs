//! Alerts from the Entra side: the provisioning job in quarantine (the token stopped
//! working), its recovery, and the bot losing access to Microsoft Graph.

use super::format::{code, duration, escape, inline, quote, when};
use super::kit::{Style, actions, button, context, fields, header, section};
use super::{ConnectionInfo, Message};
use crate::slack::ids;
use chrono::{DateTime, Duration, Utc};

/// Entra disables a provisioning job that stays in quarantine this long.
const QUARANTINE_DISABLES_AFTER_DAYS: i64 = 28;

/// Critical, top-level: Entra's provisioning job is quarantined because it cannot
/// authenticate to AWS. `error_code` is Entra's (e.g. `SCIMTokenExpired`); `since` is when the
/// quarantine began, when Graph said.
pub fn quarantine_alert(
    conn: &ConnectionInfo,
    error_code: Option<&str>,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Message {
    let name = inline(conn.name);
    let failing_since = match since {
        Some(since) => format!(
            "{} ({} ago)",
            when(since),
            duration((now - since).max(Duration::zero()))
        ),
        None => "unknown".to_owned(),
    };
    let gives_up = match since {
        Some(since) => format!(
            "around {}, Entra disables the provisioning job if it is still failing.",
            when(since + Duration::days(QUARANTINE_DISABLES_AFTER_DAYS))
        ),
        None => "Entra disables the provisioning job after four weeks of failing.".to_owned(),
    };
    let blocks = vec![
        header(&format!(
            "🔴 Provisioning into AWS is failing for {}",
            conn.name
        )),
        section(&format!(
            "*Critical:* provisioning into AWS is failing: Entra cannot authenticate — the SCIM \
             token has probably expired or been deleted. Entra has put the provisioning job of \
             *{name}* in quarantine, so new users, leavers and group changes made in Entra are \
             not reaching AWS IAM Identity Center."
        )),
        fields(&[
            format!("*Connection*\n{name} ({})", inline(conn.aws_region)),
            format!(
                "*Entra error code*\n{}",
                error_code.map_or_else(|| "not given".to_owned(), code)
            ),
            format!("*Failing since*\n{failing_since}"),
            format!("*If nothing is done*\n{gives_up}"),
        ]),
        section(
            "*What to do:* rotate the token now. Once the new token is saved in Entra, I restart \
             the provisioning job and check that it works.",
        ),
        actions(vec![button(
            "Start rotation",
            ids::START_ROTATION,
            conn.name,
            Style::Primary,
        )]),
        context(
            "Anyone in this channel can start a rotation. A team lead approves it, and I guide \
             them step by step in this message's thread.",
        ),
    ];
    let text = format!(
        "🔴 Provisioning into AWS is failing for {}: Entra cannot authenticate, the SCIM token has probably expired or been deleted. Rotate it now.",
        escape(conn.name)
    );
    Message::new(text, blocks)
}

/// Entra's provisioning job works again (out of quarantine). `since` is when it began to
/// fail, if known; `now` is when the recovery was seen.
pub fn provisioning_recovered(
    conn: &ConnectionInfo,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Message {
    let name = inline(conn.name);
    let outage = match since {
        Some(since) => format!(
            " It had been failing for {}, since {}.",
            duration((now - since).max(Duration::zero())),
            when(since)
        ),
        None => String::new(),
    };
    let blocks = vec![
        section(&format!(
            "✅ *Provisioning into AWS works again for {name}*: Entra's provisioning job is out \
             of quarantine (seen {}).{outage}",
            when(now)
        )),
        context(
            "If people added or changed in Entra meanwhile are still missing in AWS, check the \
             provisioning logs of the enterprise application in Entra.",
        ),
    ];
    let text = format!(
        "✅ Provisioning into AWS works again for {}.",
        escape(conn.name)
    );
    Message::new(text, blocks)
}

/// A warning: the bot cannot reach Microsoft Graph for this connection, so it cannot watch
/// the provisioning job (nor save a new token). `last_error` is shown quoted and escaped.
pub fn graph_unreachable(
    conn: &ConnectionInfo,
    last_error: &str,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Message {
    let name = inline(conn.name);
    let since_words = match since {
        Some(since) => format!(
            " since {} ({} ago)",
            when(since),
            duration((now - since).max(Duration::zero()))
        ),
        None => String::new(),
    };
    let blocks = vec![
        section(&format!(
            "⚠️ *I cannot reach Microsoft Graph for {name}*{since_words}.\nSo I cannot see \
             whether Entra's provisioning into AWS works, and a rotation could not save the new \
             token in Entra. Token expiry warnings still go out."
        )),
        section(&format!("*Last error:*\n{}", quote(last_error))),
        section(
            "*What to check:* the app registration the bot signs in with (`azure_client_id` in \
             the configuration) — has its client secret expired, and does it still have its \
             Microsoft Graph permissions with admin consent?",
        ),
        context(&format!("Last attempt {}.", when(now))),
    ];
    let text = format!(
        "⚠️ I cannot reach Microsoft Graph for {}: I cannot check whether provisioning into AWS works.",
        escape(conn.name)
    );
    Message::new(text, blocks)
}
