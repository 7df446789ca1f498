//! Typed configuration, read from a TOML file and the process environment.
//!
//! Every key is documented in `config.example.toml` at the repository root. The file is read
//! once, at start, into [`Config`]; after that nothing re-reads the file or the environment.
//!
//! Secrets (`slack.bot_token`, `slack.app_token`, `slack.signing_secret`, `aws_health.secret`,
//! `connection.azure_client_secret`, `connection.azure_client_certificate`) are written as
//! `env:NAME` (read from the environment) or `file:PATH` (read from a file, relative to the
//! config file's directory, trailing newline removed). A secret written literally is accepted
//! with a warning that names the key. Secrets are held as [`SecretString`], whose `Debug` prints
//! `[REDACTED]` (a client certificate's, only its thumbprint), so `{:?}` of a whole `Config` is
//! safe to log.
//!
//! Errors are [`ConfigError`]s, one line each, naming the file, the line (when the TOML parser
//! gives a position), the key and what is wrong.

mod duration;
mod error;
mod raw;
mod resolve;

pub use error::{ConfigError, Location};

use crate::azure::ClientCertificate;
use secrecy::SecretString;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// Slack Web API base, the public one. Overridden to point the bot at the sandbox's fake Slack.
pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api";
/// Microsoft Graph in the global cloud. National clouds have their own host
/// (`https://graph.microsoft.us`, `https://microsoftgraph.chinacloudapi.cn`).
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";
/// The Entra ID token endpoint host in the global cloud; national clouds have their own
/// (`https://login.microsoftonline.us`, `https://login.chinacloudapi.cn`).
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
/// All interfaces, port 8080: the bot runs in a container whose port is mapped by the platform,
/// and 8080 needs no privilege.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 8080);
/// A file in the working directory: the embedded SQLite store needs no setup to start.
pub const DEFAULT_STORE_PATH: &str = "scim-rotator.db";
/// An hour: expiry thresholds are days apart, so hourly sweeps post each warning on the right day
/// while costing one Graph call per connection per hour.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(3_600);
/// A month, two weeks, a week, three days and a day before expiry: early enough to plan, then
/// closer together as the date nears (the product's escalation ladder, see DESIGN.md).
pub const DEFAULT_WARN_DAYS: [u32; 5] = [30, 14, 7, 3, 1];
/// A day: long enough for a lead in another time zone to answer, short enough that a stale
/// request does not linger; the next warning asks again.
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(24 * 3_600);
/// Largest `warn_days` entry: a token lives 365 days, so a larger threshold would already have
/// passed when the token was created.
pub const MAX_WARN_DAYS: u32 = 365;

/// The whole configuration, validated: once this exists, every value in it is usable.
#[derive(Debug, Clone)]
pub struct Config {
    pub slack: SlackConfig,
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub schedule: ScheduleConfig,
    /// Present when AWS Health expiry events are forwarded to `POST /aws/health-events`.
    pub aws_health: Option<AwsHealthConfig>,
    /// `[intake]`: how leads enter the new token (the Slack modal, the web form, or both).
    pub intake: IntakeConfig,
    /// At least one; names are unique.
    pub connections: Vec<ConnectionConfig>,
}

impl Config {
    /// Reads the file at `path` and, for `env:` secrets, the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|reason| ConfigError::Read {
            file: path.to_owned(),
            reason,
        })?;
        Config::from_toml(&text, path, &|name| std::env::var(name).ok())
    }

    /// Parses `text` as if read from `path` (used in messages, and as the base of relative
    /// `file:` paths), looking `env:` secrets up with `env`. Tests pass their own `env` instead
    /// of changing the process environment.
    pub fn from_toml(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let raw: raw::RawConfig =
            toml::from_str(text).map_err(|error| error::from_toml_error(&error, text, path))?;
        resolve::Resolver::new(text, path, env).config(raw)
    }

    /// The connection named `name` (as typed in `/scim rotate <name>`).
    pub fn connection(&self, name: &str) -> Option<&ConnectionConfig> {
        self.connections.iter().find(|c| c.name == name)
    }
}

/// How Slack reaches the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlackMode {
    /// The bot opens a WebSocket to Slack (needs `app_token`); no public endpoint required.
    #[default]
    Socket,
    /// Slack posts to the bot's public HTTPS endpoints (needs `signing_secret`).
    Http,
}

impl SlackMode {
    /// The value as written in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            SlackMode::Socket => "socket",
            SlackMode::Http => "http",
        }
    }
}

impl fmt::Display for SlackMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[slack]`: the Slack app, the channel the bot talks in, and who may approve.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    pub mode: SlackMode,
    /// Bot user OAuth token (`xoxb-…`), for every Web API call.
    pub bot_token: SecretString,
    /// App-level token (`xapp-…`) with `connections:write`; present whenever `mode` is
    /// [`SlackMode::Socket`].
    pub app_token: Option<SecretString>,
    /// Signing secret that verifies Slack's requests; present whenever `mode` is
    /// [`SlackMode::Http`].
    pub signing_secret: Option<SecretString>,
    /// Id of the channel warnings and rotations are posted in (`C…`).
    pub channel: String,
    pub api_url: Url,
    /// Slack user ids (`U…`/`W…`) allowed to approve and drive rotations.
    pub approvers: Vec<String>,
    /// Slack user group ids (`S…`) whose members may approve and drive rotations.
    /// `approvers` and `approver_groups` are never both empty.
    pub approver_groups: Vec<String>,
    /// Whether an approver may approve a rotation they requested themselves.
    pub allow_self_approval: bool,
    /// How long a rotation request waits for approval before it expires.
    pub approval_timeout: Duration,
    /// The Slack app's id (`A…`); requests for another app are refused. `None`: asked of
    /// Slack at start (`bots.info` for the bot token's bot).
    pub app_id: Option<String>,
}

/// `[server]`: the HTTP listener (Slack endpoints in HTTP mode, health, metrics, AWS Health).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
}

/// `[store]`: where state and the audit trail are kept.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// SQLite database file, as written (a relative path is relative to the working directory).
    pub path: PathBuf,
}

/// `[schedule]`: when the bot looks at expiry dates and warns.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// Time between sweeps.
    pub check_interval: Duration,
    /// Days before expiry at which to warn: non-empty, each in `1..=MAX_WARN_DAYS`, sorted
    /// descending, without duplicates.
    pub warn_days: Vec<u32>,
}

/// Ten minutes: time to open the AWS console, generate a token and paste it, short enough
/// that a link forgotten in a Slack history is dead by the time anyone else reads it.
pub const DEFAULT_LINK_LIFETIME: Duration = Duration::from_secs(600);
/// Longest `intake.link_lifetime` accepted: a link is a bearer credential for one token
/// submission, so it should not outlive the sitting in which it was asked for.
pub const MAX_LINK_LIFETIME: Duration = Duration::from_secs(3_600);

/// `[intake]`: where a lead enters the new token. Without the table: the Slack modal only.
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    /// Offer the one-time web form (a link in an ephemeral message).
    pub web_form: bool,
    /// Keep the Slack modal too; always true when `web_form` is false.
    pub slack_modal: bool,
    /// How a lead's browser reaches `[server] listen` (https unless the host is loopback);
    /// present whenever `web_form` is true. Links are `{public_url}/intake/{code}`.
    pub public_url: Option<Url>,
    /// How long a link stays usable.
    pub link_lifetime: Duration,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        IntakeConfig {
            web_form: false,
            slack_modal: true,
            public_url: None,
            link_lifetime: DEFAULT_LINK_LIFETIME,
        }
    }
}

/// Whether `url`'s host is this machine (`localhost`, 127.0.0.0/8, `::1`): the only hosts a
/// page holding the token may be served from over plain http.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `[aws_health]`: the shared secret EventBridge sends in the `x-api-key` header of
/// `POST /aws/health-events`.
#[derive(Debug, Clone)]
pub struct AwsHealthConfig {
    pub secret: SecretString,
}

/// `[[connection]]`: one Entra ID provisioning job into one AWS IAM Identity Center instance.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Short unique name, one word, as typed in `/scim rotate <name>`.
    pub name: String,
    /// The SCIM endpoint AWS shows (`https://scim.<region>.amazonaws.com/<id>/scim/v2`); it is
    /// also the `BaseAddress` saved in Entra, so it is kept exactly as written.
    pub scim_url: Url,
    pub aws_region: String,
    /// 12 digits.
    pub aws_account_id: String,
    pub azure_tenant_id: String,
    /// Application (client) id of the bot's own Entra app registration.
    pub azure_client_id: String,
    pub azure_credential: AzureCredential,
    /// Object id of the AWS IAM Identity Center enterprise application; discovered when absent.
    pub service_principal_id: Option<String>,
    /// Its synchronization job id (`aWSSingleSignon.…`); discovered when absent.
    pub sync_job_id: Option<String>,
    pub graph_url: Url,
    pub login_url: Url,
}

/// How the bot's Entra app proves itself when it asks for a Graph token.
#[derive(Debug, Clone)]
pub enum AzureCredential {
    /// A client secret (`azure_client_secret`).
    ClientSecret(SecretString),
    /// A file holding a federated identity token, sent as a client assertion
    /// (`azure_federated_token_file`; workload identity federation as AKS or GitHub OIDC provide
    /// it). The file is re-read for every Graph token because the platform rotates it; the path
    /// is resolved against the config file's directory.
    FederatedTokenFile(PathBuf),
    /// A PEM certificate and its RSA private key (`azure_client_certificate`, a secret: the
    /// PEM text is read from `file:PATH` or `env:NAME`), parsed and checked at load; each login
    /// sends a client assertion signed with the key. Its `Debug` shows only the thumbprint.
    ClientCertificate(ClientCertificate),
}
