//! What the page draws, read from the fakes' own state: the Slack workspace as one person
//! sees it, the AWS console's token list and the Entra provisioning page. Never a secret:
//! a modal's submitted `state` (which holds what was typed, the token included) is left
//! out, and tokens are listed by id.

use super::Stage;
use chrono::{DateTime, Utc};
use scim_sandbox::aws::{MAX_LIVE_TOKENS, TokenInfo};
use scim_sandbox::microsoft::JobStatus;
use scim_sandbox::people::*;
use scim_sandbox::slack::{Ephemeral, StoredMessage, StoredView, UserGroup};
use serde_json::{Value, json};

/// A person's role as the bot's configuration gives it (`slack.approvers`, or membership of
/// one of `slack.approver_groups`).
fn role(stage: &Stage, groups: &[UserGroup], user: &str) -> String {
    if stage.approvers.iter().any(|a| a == user) {
        return "team lead".to_owned();
    }
    groups
        .iter()
        .find(|g| stage.approver_groups.contains(&g.id) && g.members.iter().any(|m| m == user))
        .map_or_else(
            || "member".to_owned(),
            |g| format!("team lead (via @{})", g.handle),
        )
}

/// The Slack side as `user` sees it: the channel and its threads, `user`'s own ephemerals,
/// `user`'s open modals (bottom first) and Home tab.
pub fn slack(stage: &Stage, user: &str) -> Value {
    let slack = &stage.world.slack;
    let now = stage.clock_now();
    let channel = slack.channel(CHANNEL);
    let usergroups = slack.usergroups();
    let people: Vec<Value> = slack
        .users()
        .into_iter()
        .map(|u| json!({ "id": u.id, "name": u.name, "role": role(stage, &usergroups, &u.id) }))
        .collect();
    let groups: Vec<Value> = usergroups
        .iter()
        .map(|g| json!({ "id": g.id, "handle": g.handle }))
        .collect();
    let messages: Vec<Value> = slack.messages(CHANNEL).iter().map(message).collect();
    let ephemerals: Vec<Value> = slack
        .ephemerals()
        .iter()
        .filter(|e| e.user == user)
        .map(ephemeral)
        .collect();
    let modals: Vec<Value> = slack.open_views(user).iter().map(view).collect();
    let home = slack.home_view(user).as_ref().map(view);
    json!({
        "now": now.to_rfc3339(),
        "now_epoch": now.timestamp(),
        "channel": {
            "id": CHANNEL,
            "name": channel.map_or_else(|| CHANNEL_NAME.to_owned(), |c| c.name),
        },
        "bot": "scim-rotator",
        "people": people,
        "groups": groups,
        "messages": messages,
        "ephemerals": ephemerals,
        "modals": modals,
        "home": home,
    })
}

fn message(m: &StoredMessage) -> Value {
    json!({
        "ts": m.ts,
        "thread_ts": m.thread_ts,
        "text": m.text,
        "blocks": m.blocks,
        "edited": m.edits > 0,
    })
}

fn ephemeral(e: &Ephemeral) -> Value {
    json!({
        "ts": e.message_ts,
        "thread_ts": e.thread_ts,
        "text": e.text,
        "blocks": e.blocks,
        "ephemeral": true,
    })
}

/// A view without its `state`: what was typed stays in the browser.
fn view(v: &StoredView) -> Value {
    let mut shown = json!({ "id": v.id });
    for key in [
        "type",
        "title",
        "blocks",
        "submit",
        "close",
        "hash",
        "callback_id",
    ] {
        if let Some(value) = v.view.get(key) {
            shown[key] = value.clone();
        }
    }
    shown
}

/// The IAM Identity Center console's *Access tokens* list for the sandbox's directory.
pub fn aws(stage: &Stage) -> Value {
    let cloud = &stage.world.cloud;
    let now = stage.clock_now();
    let tokens: Vec<Value> = cloud
        .aws
        .tokens(&cloud.aws_tenant)
        .into_iter()
        .filter(|t| t.deleted.is_none())
        .map(|t| token(&t, now))
        .collect();
    json!({
        "region": scim_sandbox::SANDBOX_REGION,
        "account": AWS_ACCOUNT,
        "scim_endpoint": cloud.scim_url().as_str(),
        "max_tokens": MAX_LIVE_TOKENS,
        "tokens": tokens,
    })
}

fn token(t: &TokenInfo, now: DateTime<Utc>) -> Value {
    json!({
        "id": t.id,
        "created": t.created.to_rfc3339(),
        "expires": t.expires.to_rfc3339(),
        "expired": t.expires <= now,
    })
}

/// The Entra admin center's provisioning page of the AWS IAM Identity Center app.
pub fn entra(stage: &Stage) -> Value {
    let microsoft = &stage.world.cloud.microsoft;
    let job = microsoft.job_json();
    let status = microsoft.job_status();
    let health = match &status {
        JobStatus::Active => "healthy",
        JobStatus::Quarantine => "quarantined",
        JobStatus::Paused => "paused",
        JobStatus::NotRun | JobStatus::NotConfigured => "not running",
        JobStatus::Other(_) => "unknown",
    };
    json!({
        "app": "AWS IAM Identity Center",
        "tenant_url": microsoft.saved_base_address(),
        "secret_token_saved": microsoft.secret_token_saved(),
        "job_id": microsoft.job_id(),
        "status": job["status"]["code"],
        "health": health,
        "quarantine": job["status"]["quarantine"],
        "last_execution": job["status"]["lastExecution"],
        "steady_state": job["status"]["steadyStateLastAchievedTime"],
        "interval": job["schedule"]["interval"],
    })
}

/// The demo's time: now, and the bot's record of the token in use.
pub fn time(stage: &Stage) -> Value {
    let now = stage.clock_now();
    let current = stage
        .engine
        .store()
        .current_token(CONNECTION)
        .ok()
        .flatten();
    let expires = current.as_ref().and_then(|t| t.expires_at);
    json!({
        "now": now.to_rfc3339(),
        "connection": CONNECTION,
        "token_id": current.and_then(|t| t.token_id),
        "expires": expires.map(|e| e.to_rfc3339()),
        "days_left": expires.map(|e| (e - now).num_hours().div_euclid(24)),
        "ahead_hours": stage.clock.offset().num_hours(),
    })
}
