//! Who the fake workspace and the bot installed in it are: fixed ids and credentials, so a
//! test or the demo can configure the bot under test without asking the fake first.
//!
//! The ids follow Slack's shapes (a type letter, then upper-case alphanumerics) because the
//! bot may log or parse them; the credentials have Slack's prefixes (`xoxb-`, `xapp-`)
//! because clients route on them. None of them is a real credential.

/// Workspace ("team") id: `T…`.
pub const TEAM_ID: &str = "T0SANDBOX";
/// Workspace subdomain, as in `https://scim-sandbox.slack.com/`.
pub const TEAM_DOMAIN: &str = "scim-sandbox";
/// Workspace display name, returned by `auth.test` as `team`.
pub const TEAM_NAME: &str = "SCIM Sandbox";
/// The bot's user id (`U…`): the `user` of every message the bot posts.
pub const BOT_USER_ID: &str = "U0SCIMBOT";
/// The bot's bot id (`B…`), distinct from its user id as in Slack.
pub const BOT_ID: &str = "B0SCIMBOT";
/// The bot user's name, returned by `auth.test` as `user`.
pub const BOT_NAME: &str = "scim-rotator";
/// The Slack app id (`A…`): `api_app_id` in every payload, `app_id` in Socket Mode `hello`.
pub const APP_ID: &str = "A0SCIMROT";
/// Bot token (`xoxb-`): every Web API method except `apps.connections.open` wants it.
pub const BOT_TOKEN: &str = "xoxb-0000000000-sandbox-bot-token";
/// App-level token (`xapp-`) with `connections:write`: only `apps.connections.open` takes it.
pub const APP_TOKEN: &str = "xapp-1-A0SCIMROT-0000000000-sandbox-app-token";
/// Secret the fake signs HTTP deliveries with; configure the bot's `signing_secret` with it.
pub const SIGNING_SECRET: &str = "sandbox-signing-secret-0123456789";
/// The deprecated verification token Slack still puts in payloads as `token`.
pub const VERIFICATION_TOKEN: &str = "sandboxverificationtoken";
