//! The file's shape, as serde reads it: every table refuses unknown keys, and every value that
//! is checked afterwards keeps its span so that the check can name the line.
//!
//! Nothing here is trusted yet; `resolve` turns it into [`super::Config`].

use super::SlackMode;
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

/// Keys whose values are secrets. A parser error at one of them is reported without serde's
/// text, which may quote the value (`invalid type: integer 1234`).
pub(super) const SECRET_KEYS: [&str; 6] = [
    "bot_token",
    "app_token",
    "signing_secret",
    "secret",
    "azure_client_secret",
    "azure_client_certificate",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub slack: Spanned<RawSlack>,
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub schedule: RawSchedule,
    pub aws_health: Option<RawAwsHealth>,
    pub intake: Option<Spanned<RawIntake>>,
    #[serde(default, rename = "connection")]
    pub connections: Vec<Spanned<RawConnection>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSlack {
    pub mode: Option<Spanned<SlackMode>>,
    pub bot_token: Spanned<String>,
    pub app_token: Option<Spanned<String>>,
    pub signing_secret: Option<Spanned<String>>,
    pub channel: Spanned<String>,
    pub api_url: Option<Spanned<String>>,
    #[serde(default)]
    pub approvers: Vec<Spanned<String>>,
    #[serde(default)]
    pub approver_groups: Vec<Spanned<String>>,
    #[serde(default)]
    pub allow_self_approval: bool,
    pub approval_timeout: Option<Spanned<String>>,
    pub app_id: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub listen: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub path: Option<Spanned<PathBuf>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    pub check_interval: Option<Spanned<String>>,
    /// Signed, so that `-3` reaches our own message instead of serde's `expected u32`.
    pub warn_days: Option<Spanned<Vec<Spanned<i64>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAwsHealth {
    pub secret: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIntake {
    #[serde(default)]
    pub web_form: bool,
    pub slack_modal: Option<bool>,
    pub public_url: Option<Spanned<String>>,
    pub link_lifetime: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConnection {
    pub name: Spanned<String>,
    pub scim_url: Spanned<String>,
    pub aws_region: Spanned<String>,
    pub aws_account_id: Spanned<String>,
    pub azure_tenant_id: Spanned<String>,
    pub azure_client_id: Spanned<String>,
    pub azure_client_secret: Option<Spanned<String>>,
    pub azure_client_certificate: Option<Spanned<String>>,
    pub azure_federated_token_file: Option<Spanned<String>>,
    pub service_principal_id: Option<Spanned<String>>,
    pub sync_job_id: Option<Spanned<String>>,
    pub graph_url: Option<Spanned<String>>,
    pub login_url: Option<Spanned<String>>,
}
