//! The whole sandbox as the bot sees it: AWS, Microsoft and Slack fakes with a team in a
//! channel, and the configuration that points the real bot at them. The end-to-end tests and
//! `scim-rotator demo` both start from here, so there is one model of each remote system.

use super::Sandbox;
use super::slack::{FakeSlack, identity};
use crate::clock::SharedClock;
use crate::config::{
    AzureCredential, Config, ConnectionConfig, IntakeConfig, ScheduleConfig, ServerConfig,
    SlackConfig, SlackMode, StoreConfig,
};
use secrecy::SecretString;
use std::path::Path;
use std::time::Duration;

/// The people and places of the sandbox workspace.
pub mod people {
    /// The channel warnings and rotations go to.
    pub const CHANNEL: &str = "C0IDENTITY";
    pub const CHANNEL_NAME: &str = "identity-ops";
    /// A team lead named in `slack.approvers`.
    pub const LEAD: &str = "U0LEE";
    /// A second team lead, member of the approver group only.
    pub const GROUP_LEAD: &str = "U0GRACE";
    /// The approver group.
    pub const LEADS_GROUP: &str = "S0LEADS";
    /// Team members who are not approvers.
    pub const MEMBER: &str = "U0DANA";
    pub const OTHER_MEMBER: &str = "U0SAM";
    /// The connection's name in the configuration.
    pub const CONNECTION: &str = "prod-org";
    /// The AWS account the connection's identity store belongs to.
    pub const AWS_ACCOUNT: &str = "123456789012";
}

use people::*;

pub struct SandboxWorld {
    pub clock: SharedClock,
    pub cloud: Sandbox,
    pub slack: FakeSlack,
}

impl SandboxWorld {
    /// Starts every fake. The connection's current AWS token was created `token_age` ago.
    pub async fn start(clock: SharedClock, token_age: chrono::Duration) -> SandboxWorld {
        let cloud = Sandbox::start_with_token_age(clock.clone(), token_age).await;
        let slack = FakeSlack::start(clock.clone()).await;
        slack.add_channel(CHANNEL, CHANNEL_NAME);
        slack.add_user(LEAD, "lee");
        slack.add_user(GROUP_LEAD, "grace");
        slack.add_user(MEMBER, "dana");
        slack.add_user(OTHER_MEMBER, "sam");
        slack.add_usergroup(LEADS_GROUP, "identity-leads", &[GROUP_LEAD]);
        SandboxWorld {
            clock,
            cloud,
            slack,
        }
    }

    /// Writes a real configuration file for this world into `dir` (the database beside it,
    /// `listen` as `[server] listen`, `extra` TOML tables after `[store]`), with the secrets in
    /// files next to it as an operator would keep them; returns the file's path. Used by the
    /// tests that run the real binary and by the benchmark harness.
    pub fn write_config_file(
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

    /// A configuration pointing the real bot at the fakes, with its database at `store`.
    pub fn config(&self, store: &Path, mode: SlackMode) -> Config {
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
                stall_reminder: crate::config::DEFAULT_STALL_REMINDER,
            },
            aws_health: None,
            intake: IntakeConfig::default(),
            connections: vec![ConnectionConfig {
                name: CONNECTION.to_owned(),
                scim_url: self.cloud.scim_url(),
                aws_region: super::SANDBOX_REGION.to_owned(),
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
