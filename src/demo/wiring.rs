//! The product pointed at the sandbox: the configuration an operator would write for the
//! sandbox's Slack workspace, Entra tenant and AWS identity store. It lives here, not in the
//! sandbox, because the configuration file is the product's interface: the fakes model the
//! remote systems and know nothing of the bot. Used by `demo`, the tests and the benchmarks.

use crate::azure::{AzureCredential, GraphSettings};
use crate::config::{
    Config, ConnectionConfig, DEFAULT_STALL_REMINDER, IntakeConfig, ScheduleConfig, ServerConfig,
    SlackConfig, SlackMode, StoreConfig,
};
use scim_sandbox::people::*;
use scim_sandbox::slack::identity;
use scim_sandbox::{SANDBOX_REGION, Sandbox, SandboxWorld};
use secrecy::SecretString;
use std::path::Path;
use std::time::Duration;

/// The bot's configuration for a [`SandboxWorld`].
pub trait WorldConfig {
    /// Writes a real configuration file for this world into `dir` (the database beside it,
    /// `listen` as `[server] listen`, `extra` TOML tables after `[store]`), with the secrets in
    /// files next to it as an operator would keep them; returns the file's path. Used by the
    /// tests that run the real binary and by the benchmark harness.
    fn write_config_file(
        &self,
        dir: &Path,
        client_secret: &str,
        mode: SlackMode,
        listen: std::net::SocketAddr,
        extra: &str,
    ) -> std::io::Result<std::path::PathBuf>;

    /// A configuration pointing the real bot at the fakes, with its database at `store`.
    fn config(&self, store: &Path, mode: SlackMode) -> Config;
}

impl WorldConfig for SandboxWorld {
    fn write_config_file(
        &self,
        dir: &Path,
        client_secret: &str,
        mode: SlackMode,
        listen: std::net::SocketAddr,
        extra: &str,
    ) -> std::io::Result<std::path::PathBuf> {
        let config = self.config(&dir.join("bot.db"), mode);
        let connection = &config.connections[0];
        for (name, value) in [
            ("bot_token", identity::BOT_TOKEN),
            ("app_token", identity::APP_TOKEN),
            ("signing_secret", identity::SIGNING_SECRET),
            ("client_secret", client_secret),
        ] {
            std::fs::write(dir.join(name), format!("{value}\n"))?;
        }
        let text = format!(
            r#"[slack]
mode = "{mode}"
bot_token = "file:bot_token"
app_token = "file:app_token"
signing_secret = "file:signing_secret"
channel = "{channel}"
api_url = "{api_url}"
approvers = ["{lead}"]
approver_groups = ["{group}"]

[server]
listen = "{listen}"

[store]
path = "{db}"
{extra}

[[connection]]
name = "{name}"
scim_url = "{scim_url}"
aws_region = "{region}"
aws_account_id = "{account}"
azure_tenant_id = "{tenant}"
azure_client_id = "{client}"
azure_client_secret = "file:client_secret"
graph_url = "{graph_url}"
login_url = "{login_url}"
"#,
            channel = config.slack.channel,
            api_url = config.slack.api_url,
            lead = config.slack.approvers[0],
            group = config.slack.approver_groups[0],
            db = dir.join("bot.db").display(),
            name = connection.name,
            scim_url = connection.scim_url,
            region = connection.aws_region,
            account = connection.aws_account_id,
            tenant = connection.azure_tenant_id,
            client = connection.azure_client_id,
            graph_url = connection.graph_url,
            login_url = connection.login_url,
        );
        let path = dir.join("scim-rotator.toml");
        std::fs::write(&path, text)?;
        Ok(path)
    }

    fn config(&self, store: &Path, mode: SlackMode) -> Config {
        Config {
            slack: SlackConfig {
                // Learned from the fake's auth.test and bots.info, as in production.
                app_id: None,
                mode,
                bot_token: SecretString::from(identity::BOT_TOKEN),
                app_token: Some(SecretString::from(identity::APP_TOKEN)),
                signing_secret: Some(SecretString::from(identity::SIGNING_SECRET)),
                channel: CHANNEL.to_owned(),
                api_url: self.slack.api_url(),
                approvers: vec![LEAD.to_owned()],
                approver_groups: vec![LEADS_GROUP.to_owned()],
                allow_self_approval: false,
                approvals_required: 1,
                approval_timeout: Duration::from_secs(24 * 3600),
            },
            server: ServerConfig {
                listen: "127.0.0.1:0".parse().expect("a loopback address parses"),
            },
            store: StoreConfig {
                path: store.to_owned(),
            },
            schedule: ScheduleConfig {
                check_interval: Duration::from_secs(3600),
                warn_days: vec![30, 14, 7, 3, 1],
                stall_reminder: DEFAULT_STALL_REMINDER,
            },
            aws_health: None,
            intake: IntakeConfig::default(),
            connections: vec![ConnectionConfig {
                name: CONNECTION.to_owned(),
                scim_url: self.cloud.scim_url(),
                aws_region: SANDBOX_REGION.to_owned(),
                aws_account_id: AWS_ACCOUNT.to_owned(),
                azure_tenant_id: self.cloud.microsoft.tenant_id(),
                azure_client_id: self.cloud.microsoft.client_id(),
                azure_credential: AzureCredential::ClientSecret(SecretString::from(
                    self.cloud
                        .microsoft
                        .client_secret()
                        .expect("the sandbox's app registration has a client secret"),
                )),
                service_principal_id: None,
                sync_job_id: None,
                graph_url: self.cloud.microsoft.graph_url(),
                login_url: self.cloud.microsoft.login_url(),
            }],
        }
    }
}

/// Graph settings for a [`Sandbox`]'s Microsoft tenant.
pub trait SandboxGraph {
    /// Settings reaching the fake Microsoft with the app registration's client secret; the
    /// service principal and job are left to discovery.
    fn graph_settings(&self) -> GraphSettings;
}

impl SandboxGraph for Sandbox {
    fn graph_settings(&self) -> GraphSettings {
        GraphSettings {
            graph_url: self.microsoft.graph_url(),
            login_url: self.microsoft.login_url(),
            tenant_id: self.microsoft.tenant_id(),
            client_id: self.microsoft.client_id(),
            credential: AzureCredential::ClientSecret(SecretString::from(
                self.microsoft
                    .client_secret()
                    .expect("the sandbox's app registration has a client secret"),
            )),
            service_principal_id: None,
            sync_job_id: None,
        }
    }
}

/// Turns the web form on in `config` (the modal too when `slack_modal`): the bot listens on a
/// free loopback port chosen now, and `public_url` is that address, since the link must name
/// the port before the bot binds it.
pub fn enable_web_form(config: &mut Config, slack_modal: bool) -> std::io::Result<()> {
    let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    config.server.listen = listen;
    config.intake = IntakeConfig {
        web_form: true,
        slack_modal,
        public_url: Some(
            url::Url::parse(&format!("http://{listen}")).expect("a loopback URL parses"),
        ),
        ..IntakeConfig::default()
    };
    Ok(())
}
