//! `check-config`'s checks of the Slack app itself: the bot token's scopes (read from the
//! `X-OAuth-Scopes` header Slack puts on every Web API answer), the app id the bot will
//! accept requests for, and the event subscriptions approver groups rely on.

use crate::config::Config;
use crate::slack::api::SlackApi;
use crate::slack::identity::WorkspaceIdentity;
use secrecy::ExposeSecret;
use std::time::Duration;

/// The bot scopes the bot uses, each with what needs it (manifest.yaml asks for these).
pub const REQUIRED_BOT_SCOPES: [(&str, &str); 6] = [
    ("chat:write", "warnings and rotation steps"),
    ("commands", "the /scim command"),
    (
        "usergroups:read",
        "approver groups, and their subteam_members_changed / subteam_updated events",
    ),
    ("users:read", "bots.info: which app the bot is"),
    ("channels:read", "checking the bot is in a public channel"),
    ("groups:read", "checking the bot is in a private channel"),
];

/// The events approver groups need to apply a change at once.
pub const GROUP_EVENTS: [&str; 2] = ["subteam_members_changed", "subteam_updated"];

/// One line of the report: `Ok(text)` or `Err((text, fix))`.
pub type Line = Result<String, (String, String)>;

/// The scopes the bot token was granted, as Slack reports them; `None` when the answer
/// carried no `X-OAuth-Scopes` header (a proxy may drop it).
async fn granted_scopes(config: &Config) -> Option<Vec<String>> {
    let base = config.slack.api_url.as_str().trim_end_matches('/');
    let url = url::Url::parse(&format!("{base}/auth.test")).ok()?;
    let response = crate::http::client(Duration::from_secs(10))
        .post(url)
        .bearer_auth(config.slack.bot_token.expose_secret())
        .send()
        .await
        .ok()?;
    let header = response.headers().get("x-oauth-scopes")?.to_str().ok()?;
    Some(
        header
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

/// Every check of this module, in report order.
pub async fn checks(config: &Config, api: &SlackApi) -> Vec<Line> {
    let mut lines = Vec::new();
    match granted_scopes(config).await {
        Some(granted) => {
            let missing: Vec<String> = REQUIRED_BOT_SCOPES
                .iter()
                .filter(|(scope, _)| !granted.iter().any(|g| g == scope))
                .map(|(scope, why)| format!("{scope} ({why})"))
                .collect();
            if missing.is_empty() {
                lines.push(Ok("Slack bot token has every scope manifest.yaml asks for".to_owned()));
            } else {
                lines.push(Err((
                    format!("Slack bot token is missing scope(s): {}", missing.join(", ")),
                    "add them under OAuth & Permissions → Bot Token Scopes (see manifest.yaml) and reinstall the app".to_owned(),
                )));
            }
        }
        None => lines.push(Ok(
            "Slack did not list the bot token's scopes (no X-OAuth-Scopes header); each call below checks its own"
                .to_owned(),
        )),
    }
    match WorkspaceIdentity::learn(api, None).await {
        Ok(identity) => match config.slack.app_id.as_deref() {
            Some(configured) if configured != identity.app_id => lines.push(Err((
                format!(
                    "slack.app_id {configured} is not the bot token's app ({}): every request would be refused",
                    identity.app_id
                ),
                "set slack.app_id to the app id on the app's Basic Information page, or remove it".to_owned(),
            ))),
            _ => lines.push(Ok(format!(
                "Slack requests are accepted only from workspace {} for app {}",
                identity.team_id, identity.app_id
            ))),
        },
        Err(error) => lines.push(Err((
            format!("Slack: cannot tell which workspace and app this bot is: {error}"),
            "the bot needs auth.test and bots.info (users:read scope), or set slack.app_id".to_owned(),
        ))),
    }
    if !config.slack.approver_groups.is_empty() {
        // A bot token cannot read its app's event subscriptions; say what to look for.
        lines.push(Ok(format!(
            "approver groups change at once only if the app subscribes to {} (manifest.yaml → Event Subscriptions); otherwise within {} min",
            GROUP_EVENTS.join(" and "),
            crate::slack::approvers::REFRESH_EVERY.as_secs() / 60
        )));
    }
    lines
}
