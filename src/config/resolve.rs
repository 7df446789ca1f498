//! From the file's shape to a validated [`Config`]: defaults, secrets, and every check that
//! serde's types cannot express. Each check reports the line of the value it refuses.

use super::duration::parse_duration;
use super::error::{Location, line_at, one_line};
use super::raw::{RawConfig, RawConnection, RawIntake, RawSchedule, RawServer, RawSlack, RawStore};
use super::{
    AwsHealthConfig, AzureCredential, Config, ConfigError, ConnectionConfig,
    DEFAULT_APPROVAL_TIMEOUT, DEFAULT_CHECK_INTERVAL, DEFAULT_GRAPH_URL, DEFAULT_LISTEN,
    DEFAULT_LOGIN_URL, DEFAULT_SLACK_API_URL, DEFAULT_STORE_PATH, DEFAULT_WARN_DAYS, MAX_WARN_DAYS,
    ScheduleConfig, ServerConfig, SlackConfig, SlackMode, StoreConfig,
};
use super::{DEFAULT_LINK_LIFETIME, IntakeConfig, MAX_LINK_LIFETIME, is_loopback};
use crate::azure::ClientCertificate;
use secrecy::SecretString;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;
use url::Url;

/// Holds what every check needs to report and resolve: the text (for line numbers), the file
/// name (for messages), its directory (for `file:` paths) and the environment lookup.
pub(super) struct Resolver<'a> {
    text: &'a str,
    file: &'a Path,
    base_dir: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Resolver<'a> {
    pub(super) fn new(
        text: &'a str,
        file: &'a Path,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> Self {
        Resolver {
            text,
            file,
            base_dir: file.parent().unwrap_or(Path::new("")),
            env,
        }
    }

    pub(super) fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let slack = self.slack(raw.slack)?;
        let server = self.server(raw.server)?;
        let store = self.store(raw.store);
        let schedule = self.schedule(raw.schedule)?;
        let aws_health = raw
            .aws_health
            .map(|health| {
                Ok::<_, ConfigError>(AwsHealthConfig {
                    secret: self.secret("aws_health.secret", &health.secret)?,
                })
            })
            .transpose()?;
        let intake = self.intake(raw.intake)?;
        let connections = self.connections(raw.connections)?;
        Ok(Config {
            slack,
            server,
            store,
            schedule,
            aws_health,
            intake,
            connections,
        })
    }

    fn slack(&self, raw: Spanned<RawSlack>) -> Result<SlackConfig, ConfigError> {
        let table = raw.span();
        let raw = raw.into_inner();
        let mode = raw
            .mode
            .as_ref()
            .map_or(SlackMode::default(), |m| *m.get_ref());
        // A missing mode secret is reported at the mode's line if it was written, else at [slack].
        let mode_at = raw.mode.as_ref().map_or(table.clone(), Spanned::span);

        let bot_token = self.secret("slack.bot_token", &raw.bot_token)?;
        let app_token = self.optional_secret("slack.app_token", raw.app_token.as_ref())?;
        let signing_secret =
            self.optional_secret("slack.signing_secret", raw.signing_secret.as_ref())?;
        match mode {
            SlackMode::Socket if app_token.is_none() => {
                return Err(ConfigError::MissingModeSecret {
                    location: self.at(mode_at),
                    key: "slack.app_token",
                    mode,
                    why: "Socket Mode connects with the app-level token, xapp-…",
                });
            }
            SlackMode::Http if signing_secret.is_none() => {
                return Err(ConfigError::MissingModeSecret {
                    location: self.at(mode_at),
                    key: "slack.signing_secret",
                    mode,
                    why: "it verifies that requests come from Slack",
                });
            }
            _ => {}
        }

        let channel = self.word("slack.channel", &raw.channel)?;
        if channel.starts_with('#') {
            return Err(self.invalid(
                &raw.channel,
                "slack.channel",
                format!(
                    "'{}' is a channel name; give the channel id (C…), shown at the bottom of the channel's details",
                    one_line(&channel)
                ),
            ));
        }

        let approvers = self.ids("slack.approvers", &raw.approvers, "user id (U…)")?;
        let approver_groups = self.ids(
            "slack.approver_groups",
            &raw.approver_groups,
            "user group id (S…)",
        )?;
        if approvers.is_empty() && approver_groups.is_empty() {
            return Err(ConfigError::NoApprovers {
                location: self.at(table),
            });
        }

        let app_id = match &raw.app_id {
            None => None,
            Some(value) => {
                let id = self.word("slack.app_id", value)?;
                if !id.starts_with('A') || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(self.invalid(
                        value,
                        "slack.app_id",
                        format!(
                            "'{}' is not a Slack app id (A…, shown on the app's Basic Information page)",
                            one_line(&id)
                        ),
                    ));
                }
                Some(id)
            }
        };

        Ok(SlackConfig {
            app_id,
            mode,
            bot_token,
            app_token,
            signing_secret,
            channel,
            api_url: self.url_or("slack.api_url", raw.api_url.as_ref(), DEFAULT_SLACK_API_URL)?,
            approvers,
            approver_groups,
            allow_self_approval: raw.allow_self_approval,
            approval_timeout: self.duration(
                "slack.approval_timeout",
                raw.approval_timeout.as_ref(),
                DEFAULT_APPROVAL_TIMEOUT,
            )?,
        })
    }

    fn server(&self, raw: RawServer) -> Result<ServerConfig, ConfigError> {
        let listen = match raw.listen {
            None => DEFAULT_LISTEN,
            Some(value) => value.get_ref().trim().parse().map_err(|_| {
                self.invalid(
                    &value,
                    "server.listen",
                    format!(
                        "'{}' is not an address and port, as in \"0.0.0.0:8080\" or \"[::]:8080\"",
                        one_line(value.get_ref())
                    ),
                )
            })?,
        };
        Ok(ServerConfig { listen })
    }

    fn store(&self, raw: RawStore) -> StoreConfig {
        StoreConfig {
            path: raw
                .path
                .map_or_else(|| PathBuf::from(DEFAULT_STORE_PATH), Spanned::into_inner),
        }
    }

    fn schedule(&self, raw: RawSchedule) -> Result<ScheduleConfig, ConfigError> {
        let check_interval = self.duration(
            "schedule.check_interval",
            raw.check_interval.as_ref(),
            DEFAULT_CHECK_INTERVAL,
        )?;
        let warn_days = match raw.warn_days {
            None => DEFAULT_WARN_DAYS.to_vec(),
            Some(list) => self.warn_days(&list)?,
        };
        Ok(ScheduleConfig {
            check_interval,
            warn_days,
        })
    }

    fn warn_days(&self, list: &Spanned<Vec<Spanned<i64>>>) -> Result<Vec<u32>, ConfigError> {
        const KEY: &str = "schedule.warn_days";
        if list.get_ref().is_empty() {
            return Err(self.invalid(
                list,
                KEY,
                "is empty: list the days before expiry at which to warn, as in [30, 14, 7, 3, 1]"
                    .to_owned(),
            ));
        }
        let mut days = Vec::with_capacity(list.get_ref().len());
        for day in list.get_ref() {
            let value = *day.get_ref();
            match u32::try_from(value) {
                Ok(d @ 1..=MAX_WARN_DAYS) => days.push(d),
                _ if value < 1 => {
                    return Err(self.invalid(
                        day,
                        KEY,
                        format!("{value} is not a positive number of days: each entry must be at least 1"),
                    ));
                }
                _ => {
                    return Err(self.invalid(
                        day,
                        KEY,
                        format!(
                            "{value} days is more than a token lives: each entry must be at most {MAX_WARN_DAYS}"
                        ),
                    ));
                }
            }
        }
        days.sort_unstable_by(|a, b| b.cmp(a));
        days.dedup();
        Ok(days)
    }

    /// `[intake]`: the web form needs a `public_url` a browser can use safely (https, or
    /// http on loopback for tests and the demo), and turning the modal off needs the form on.
    fn intake(&self, raw: Option<Spanned<RawIntake>>) -> Result<IntakeConfig, ConfigError> {
        let Some(raw) = raw else {
            return Ok(IntakeConfig::default());
        };
        let table = raw.span();
        let raw = raw.into_inner();
        let slack_modal = raw.slack_modal.unwrap_or(true);
        if !raw.web_form && !slack_modal {
            return Err(ConfigError::Invalid {
                location: self.at(table),
                key: "intake.slack_modal".to_owned(),
                message: "is false but web_form is false too: leads would have nowhere to enter the new token; set web_form = true or keep the modal".to_owned(),
            });
        }
        let public_url = match &raw.public_url {
            Some(written) => {
                let url = self.url("intake.public_url", written)?;
                if url.scheme() != "https" && !is_loopback(&url) {
                    return Err(self.invalid(
                        written,
                        "intake.public_url",
                        format!(
                            "'{}' is plain http: the page carries the token, so it must be served over https (http only on localhost/127.0.0.1 for tests)",
                            one_line(url.as_str())
                        ),
                    ));
                }
                if url.query().is_some() || url.fragment().is_some() {
                    return Err(self.invalid(
                        written,
                        "intake.public_url",
                        "must not have a query or a fragment: links are {public_url}/intake/{code}"
                            .to_owned(),
                    ));
                }
                Some(url)
            }
            None if raw.web_form => {
                return Err(ConfigError::Invalid {
                    location: self.at(table),
                    key: "intake.public_url".to_owned(),
                    message: "missing: web_form = true needs the address at which a lead's browser reaches [server] listen, as in \"https://scim-rotator.internal.example.com\"".to_owned(),
                });
            }
            None => None,
        };
        let link_lifetime = self.duration(
            "intake.link_lifetime",
            raw.link_lifetime.as_ref(),
            DEFAULT_LINK_LIFETIME,
        )?;
        if let Some(written) = &raw.link_lifetime
            && link_lifetime > MAX_LINK_LIFETIME
        {
            return Err(self.invalid(
                written,
                "intake.link_lifetime",
                format!(
                    "'{}' is longer than an hour: a link is a one-time credential, ask for a new one instead",
                    one_line(written.get_ref())
                ),
            ));
        }
        Ok(IntakeConfig {
            web_form: raw.web_form,
            slack_modal,
            public_url,
            link_lifetime,
        })
    }

    fn connections(
        &self,
        raw: Vec<Spanned<RawConnection>>,
    ) -> Result<Vec<ConnectionConfig>, ConfigError> {
        if raw.is_empty() {
            return Err(ConfigError::NoConnections {
                file: self.file.to_owned(),
            });
        }
        // name → line of the [[connection]] that first used it.
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut connections = Vec::with_capacity(raw.len());
        for (index, table) in raw.into_iter().enumerate() {
            let table_line = line_at(self.text, table.span().start);
            let name_at = table.get_ref().name.span();
            let connection = self.connection(index, table)?;
            if let Some(&first_line) = seen.get(&connection.name) {
                return Err(ConfigError::DuplicateConnection {
                    location: self.at(name_at),
                    key: format!("connection[{index}].name"),
                    name: one_line(&connection.name),
                    first_line,
                });
            }
            seen.insert(connection.name.clone(), table_line);
            connections.push(connection);
        }
        Ok(connections)
    }

    fn connection(
        &self,
        index: usize,
        table: Spanned<RawConnection>,
    ) -> Result<ConnectionConfig, ConfigError> {
        let table_at = table.span();
        let raw = table.into_inner();
        let key = |field: &str| format!("connection[{index}].{field}");

        let name = self.word(&key("name"), &raw.name)?;
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(self.invalid(
                &raw.name,
                &key("name"),
                format!(
                    "'{}' must be one word of letters, digits, '-', '_' or '.': it is typed in `/scim rotate <name>`",
                    one_line(&name)
                ),
            ));
        }

        let scim_url = self.url(&key("scim_url"), &raw.scim_url)?;

        let aws_region = self.word(&key("aws_region"), &raw.aws_region)?;
        if !aws_region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(self.invalid(
                &raw.aws_region,
                &key("aws_region"),
                format!(
                    "'{}' is not an AWS region code, as in \"eu-west-1\"",
                    one_line(&aws_region)
                ),
            ));
        }
        // The AWS endpoint names its region; a mismatch is a copy-paste from another instance.
        if let Some(url_region) = scim_url
            .host_str()
            .and_then(|host| host.strip_prefix("scim."))
            .and_then(|rest| rest.strip_suffix(".amazonaws.com"))
            && url_region != aws_region
        {
            return Err(self.invalid(
                &raw.aws_region,
                &key("aws_region"),
                format!(
                    "is '{aws_region}' but scim_url is in '{}': both must name the region of the IAM Identity Center instance",
                    one_line(url_region)
                ),
            ));
        }

        let aws_account_id = raw.aws_account_id.get_ref().trim().to_owned();
        if aws_account_id.len() != 12 || !aws_account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.invalid(
                &raw.aws_account_id,
                &key("aws_account_id"),
                format!(
                    "'{}' is not an AWS account id: it must be exactly 12 digits, as in \"123456789012\"",
                    one_line(&aws_account_id)
                ),
            ));
        }

        let azure_credential = self.azure_credential(&raw, table_at, &key)?;

        Ok(ConnectionConfig {
            aws_region,
            aws_account_id,
            azure_tenant_id: self.word(&key("azure_tenant_id"), &raw.azure_tenant_id)?,
            azure_client_id: self.word(&key("azure_client_id"), &raw.azure_client_id)?,
            azure_credential,
            service_principal_id: raw
                .service_principal_id
                .as_ref()
                .map(|id| self.word(&key("service_principal_id"), id))
                .transpose()?,
            sync_job_id: raw
                .sync_job_id
                .as_ref()
                .map(|id| self.word(&key("sync_job_id"), id))
                .transpose()?,
            graph_url: self.url_or(&key("graph_url"), raw.graph_url.as_ref(), DEFAULT_GRAPH_URL)?,
            login_url: self.url_or(&key("login_url"), raw.login_url.as_ref(), DEFAULT_LOGIN_URL)?,
            name,
            scim_url,
        })
    }

    /// Exactly one of the three ways the bot's app proves itself. When several are given, the
    /// one written last is blamed, naming the first.
    fn azure_credential(
        &self,
        raw: &RawConnection,
        table_at: Range<usize>,
        key: &dyn Fn(&str) -> String,
    ) -> Result<AzureCredential, ConfigError> {
        const SECRET: &str = "azure_client_secret";
        const CERTIFICATE: &str = "azure_client_certificate";
        const TOKEN_FILE: &str = "azure_federated_token_file";
        let mut given: Vec<(&str, &Spanned<String>)> = [
            (SECRET, raw.azure_client_secret.as_ref()),
            (CERTIFICATE, raw.azure_client_certificate.as_ref()),
            (TOKEN_FILE, raw.azure_federated_token_file.as_ref()),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect();
        given.sort_by_key(|(_, value)| value.span().start);
        match given[..] {
            [] => Err(ConfigError::Invalid {
                location: self.at(table_at),
                key: key(SECRET),
                message: format!(
                    "missing: give one of {SECRET} (env:NAME or file:PATH), {CERTIFICATE} (file:PATH of a PEM certificate and its private key) or {TOKEN_FILE}, for the bot's Microsoft Graph token"
                ),
            }),
            [(SECRET, value)] => Ok(AzureCredential::ClientSecret(
                self.secret(&key(SECRET), value)?,
            )),
            [(CERTIFICATE, value)] => Ok(AzureCredential::ClientCertificate(
                self.client_certificate(&key(CERTIFICATE), value)?,
            )),
            // TOKEN_FILE, the only name left.
            [(_, value)] => Ok(AzureCredential::FederatedTokenFile(
                self.token_file_path(&key(TOKEN_FILE), value)?,
            )),
            [(first, _), (second, value), ..] => Err(self.invalid(
                value,
                &key(second),
                format!(
                    "give only one of {SECRET}, {CERTIFICATE} and {TOKEN_FILE}: {first} is given too"
                ),
            )),
        }
    }

    /// `azure_client_certificate`: a secret holding PEM text, parsed and checked here so that a
    /// bad file stops the bot at start rather than at its first login. Messages never quote it.
    fn client_certificate(
        &self,
        key: &str,
        raw: &Spanned<String>,
    ) -> Result<ClientCertificate, ConfigError> {
        let pem = self.secret(key, raw)?;
        ClientCertificate::from_pem(&pem).map_err(|err| self.invalid(raw, key, err.to_string()))
    }

    /// Resolves a secret written as `env:NAME`, `file:PATH` or literally.
    fn secret(&self, key: &str, raw: &Spanned<String>) -> Result<SecretString, ConfigError> {
        let written = raw.get_ref();
        let value = if let Some(var) = written.strip_prefix("env:") {
            let var = var.trim();
            if var.is_empty() {
                return Err(self.invalid(
                    raw,
                    key,
                    "'env:' needs a variable name, as in env:SLACK_BOT_TOKEN".to_owned(),
                ));
            }
            match (self.env)(var) {
                Some(value) if value.is_empty() => {
                    return Err(self.invalid(
                        raw,
                        key,
                        format!("environment variable {} is empty", one_line(var)),
                    ));
                }
                Some(value) => value,
                None => {
                    return Err(ConfigError::MissingEnvVar {
                        location: self.at(raw.span()),
                        key: key.to_owned(),
                        var: one_line(var),
                    });
                }
            }
        } else if let Some(path) = written.strip_prefix("file:") {
            let path = self.base_dir.join(path.trim());
            let contents =
                std::fs::read_to_string(&path).map_err(|reason| ConfigError::SecretFile {
                    location: self.at(raw.span()),
                    key: key.to_owned(),
                    path: path.clone(),
                    reason,
                })?;
            let value = contents.trim_end_matches(['\n', '\r']);
            if value.is_empty() {
                return Err(self.invalid(
                    raw,
                    key,
                    format!(
                        "secret file {} is empty",
                        one_line(&path.display().to_string())
                    ),
                ));
            }
            value.to_owned()
        } else {
            if written.is_empty() {
                return Err(self.invalid(
                    raw,
                    key,
                    "is empty: give env:NAME or file:PATH".to_owned(),
                ));
            }
            tracing::warn!(
                file = %self.file.display(),
                key,
                "secret written literally in the config file; prefer env:NAME or file:PATH"
            );
            written.clone()
        };
        Ok(SecretString::from(value))
    }

    fn optional_secret(
        &self,
        key: &str,
        raw: Option<&Spanned<String>>,
    ) -> Result<Option<SecretString>, ConfigError> {
        raw.map(|raw| self.secret(key, raw)).transpose()
    }

    /// `azure_federated_token_file`: a plain path, resolved against the config file's
    /// directory. It is not read here: the platform writes and rotates it while the bot runs.
    fn token_file_path(&self, key: &str, raw: &Spanned<String>) -> Result<PathBuf, ConfigError> {
        let written = raw.get_ref().trim();
        if written.is_empty() {
            return Err(self.invalid(raw, key, "is empty: give the token file's path".to_owned()));
        }
        if written.starts_with("env:") || written.starts_with("file:") {
            return Err(self.invalid(
                raw,
                key,
                "is a path, not a secret: write it without 'env:' or 'file:'".to_owned(),
            ));
        }
        Ok(self.base_dir.join(written))
    }

    /// `raw` as a URL, or `default` when absent.
    fn url_or(
        &self,
        key: &str,
        raw: Option<&Spanned<String>>,
        default: &str,
    ) -> Result<Url, ConfigError> {
        match raw {
            Some(raw) => self.url(key, raw),
            None => Ok(Url::parse(default).expect("default URLs are valid")),
        }
    }

    /// Only absolute http(s) URLs without credentials pass: the bot sends bearer tokens to
    /// them, and a password in a URL would show in every `Debug` of the config.
    fn url(&self, key: &str, raw: &Spanned<String>) -> Result<Url, ConfigError> {
        let written = raw.get_ref().trim();
        let bad = |value: String, reason: &str| ConfigError::BadUrl {
            location: self.at(raw.span()),
            key: key.to_owned(),
            value: one_line(&value),
            reason: reason.to_owned(),
        };
        let url = Url::parse(written).map_err(|e| bad(written.to_owned(), &e.to_string()))?;
        if url.password().is_some() || !url.username().is_empty() {
            let mut shown = url.clone();
            let _ = shown.set_username("");
            let _ = shown.set_password(None);
            return Err(bad(
                shown.to_string(),
                "remove the user name and password: credentials belong in secrets, not in URLs",
            ));
        }
        if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
            return Err(bad(
                written.to_owned(),
                "must be an https:// URL (or http:// for a local test server)",
            ));
        }
        Ok(url)
    }

    fn duration(
        &self,
        key: &str,
        raw: Option<&Spanned<String>>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        let Some(raw) = raw else {
            return Ok(default);
        };
        parse_duration(raw.get_ref()).map_err(|reason| {
            self.invalid(
                raw,
                key,
                format!("invalid duration '{}': {reason}", one_line(raw.get_ref())),
            )
        })
    }

    /// A non-empty value without inner whitespace (ids, names), trimmed.
    fn word(&self, key: &str, raw: &Spanned<String>) -> Result<String, ConfigError> {
        let value = raw.get_ref().trim();
        if value.is_empty() {
            return Err(self.invalid(raw, key, "is empty".to_owned()));
        }
        if value.chars().any(char::is_whitespace) {
            return Err(self.invalid(
                raw,
                key,
                format!("'{}' contains whitespace", one_line(value)),
            ));
        }
        Ok(value.to_owned())
    }

    /// Slack ids, each a word and not a display name (`@alice`, `#team`).
    fn ids(
        &self,
        key: &str,
        raw: &[Spanned<String>],
        what: &str,
    ) -> Result<Vec<String>, ConfigError> {
        raw.iter()
            .map(|item| {
                let id = self.word(key, item)?;
                if id.starts_with(['@', '#']) {
                    return Err(self.invalid(
                        item,
                        key,
                        format!("'{}' is a name; give the Slack {what}", one_line(&id)),
                    ));
                }
                Ok(id)
            })
            .collect()
    }

    fn at(&self, span: Range<usize>) -> Location {
        Location::of_span(self.file, self.text, span)
    }

    fn invalid<T>(&self, at: &Spanned<T>, key: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            location: self.at(at.span()),
            key: key.to_owned(),
            message,
        }
    }
}
