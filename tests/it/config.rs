//! The config file: what loads, what each mistake says, and that no secret leaks through `Debug`.
//!
//! Nothing here touches the process environment: `Config::from_toml` takes the lookup as a
//! closure.

use scim_rotator::config::{AzureCredential, Config, ConfigError, SlackMode};
use secrecy::ExposeSecret;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The smallest valid file. Line numbers in the expected messages below refer to it:
/// 1 `[slack]`, 2 bot_token, 3 app_token, 4 channel, 5 approvers, 7 `[[connection]]`,
/// 8 name, 9 scim_url, 10 aws_region, 11 aws_account_id, 14 azure_client_secret.
const MINIMAL: &str = r#"[slack]
bot_token = "env:SLACK_BOT_TOKEN"
app_token = "env:SLACK_APP_TOKEN"
channel = "C0123456789"
approvers = ["U0123456789"]

[[connection]]
name = "prod-org"
scim_url = "https://scim.eu-west-1.amazonaws.com/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111/scim/v2"
aws_region = "eu-west-1"
aws_account_id = "111122223333"
azure_tenant_id = "0b3c5d7e-1f2a-4b6c-8d9e-0a1b2c3d4e5f"
azure_client_id = "6f7e8d9c-0b1a-4c3d-9e8f-7a6b5c4d3e2f"
azure_client_secret = "env:AZURE_CLIENT_SECRET"
"#;

/// A second connection, appended to `MINIMAL` where a test needs two.
const SANDBOX: &str = r#"
[[connection]]
name = "sandbox-org"
scim_url = "https://scim.us-east-1.amazonaws.com/e5f6a7b8/scim/v2"
aws_region = "us-east-1"
aws_account_id = "444455556666"
azure_tenant_id = "0b3c5d7e-1f2a-4b6c-8d9e-0a1b2c3d4e5f"
azure_client_id = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
azure_client_secret = "env:AZURE_CLIENT_SECRET"
"#;

const FILE: &str = "scim-rotator.toml";

/// Distinctive values, so that a leak is found by a plain substring search.
const BOT_TOKEN: &str = "xoxb-bot-token-VALUE-0001";
const APP_TOKEN: &str = "xapp-app-token-VALUE-0002";
const SIGNING_SECRET: &str = "signing-secret-VALUE-0003";
const HEALTH_SECRET: &str = "health-api-key-VALUE-0004";
const AZURE_SECRET: &str = "azure~client.secret_VALUE-0005";

/// A test-only certificate and its PKCS#8 key (see tests/fixtures/README.md), and another.
const CLIENT_CERTIFICATE: &str = include_str!("../fixtures/test-only-client-cert.pem");
const OTHER_CERTIFICATE: &str = include_str!("../fixtures/test-only-other-client-cert.pem");

/// The certificate block and the private key block of a fixture.
fn certificate_blocks(pem: &str) -> (&str, &str) {
    pem.split_at(pem.find("-----BEGIN PRIVATE KEY-----").unwrap())
}

/// Fails if `text` holds any line of either fixture's private key or certificate body.
fn assert_no_pem_in(text: &str) {
    for pem in [CLIENT_CERTIFICATE, OTHER_CERTIFICATE] {
        for line in pem.lines().filter(|line| !line.starts_with("-----")) {
            assert!(!text.contains(line), "PEM line {line:?} in {text}");
        }
    }
}

fn env(name: &str) -> Option<String> {
    let value = match name {
        "SLACK_BOT_TOKEN" => BOT_TOKEN,
        "SLACK_APP_TOKEN" => APP_TOKEN,
        "SLACK_SIGNING_SECRET" => SIGNING_SECRET,
        "AWS_HEALTH_API_KEY" => HEALTH_SECRET,
        "AZURE_CLIENT_SECRET" => AZURE_SECRET,
        _ => return None,
    };
    Some(value.to_owned())
}

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, Path::new(FILE), &env)
}

/// The message of the error `text` gives, checked to be one line.
fn error(text: &str) -> String {
    let message = load(text)
        .expect_err("the config should be refused")
        .to_string();
    assert!(!message.contains('\n'), "not one line: {message:?}");
    message
}

/// `MINIMAL` with `from` replaced by `to` (which must occur).
fn minimal_with(from: &str, to: &str) -> String {
    assert!(MINIMAL.contains(from), "{from:?} is not in MINIMAL");
    MINIMAL.replacen(from, to, 1)
}

// ---- what loads ----

#[test]
fn defaults_are_applied() {
    let config = load(MINIMAL).unwrap();

    assert_eq!(config.slack.mode, SlackMode::Socket);
    assert_eq!(config.slack.api_url.as_str(), "https://slack.com/api");
    assert!(config.slack.approver_groups.is_empty());
    assert!(!config.slack.allow_self_approval);
    assert_eq!(
        config.slack.approval_timeout,
        Duration::from_secs(24 * 3600)
    );
    assert!(config.slack.signing_secret.is_none());
    assert_eq!(config.server.listen, "0.0.0.0:8080".parse().unwrap());
    assert_eq!(config.store.path, Path::new("scim-rotator.db"));
    assert_eq!(config.schedule.check_interval, Duration::from_secs(3600));
    assert_eq!(config.schedule.warn_days, [30, 14, 7, 3, 1]);
    assert!(config.aws_health.is_none());

    let connection = &config.connections[0];
    assert_eq!(
        connection.graph_url.as_str(),
        "https://graph.microsoft.com/"
    );
    assert_eq!(
        connection.login_url.as_str(),
        "https://login.microsoftonline.com/"
    );
    assert_eq!(connection.service_principal_id, None);
    assert_eq!(connection.sync_job_id, None);
}

#[test]
fn values_are_read_and_secrets_resolved_from_the_environment() {
    let config = load(MINIMAL).unwrap();

    assert_eq!(config.slack.bot_token.expose_secret(), BOT_TOKEN);
    assert_eq!(
        config.slack.app_token.as_ref().unwrap().expose_secret(),
        APP_TOKEN
    );
    assert_eq!(config.slack.channel, "C0123456789");
    assert_eq!(config.slack.approvers, ["U0123456789"]);
    let connection = &config.connections[0];
    assert_eq!(connection.name, "prod-org");
    assert_eq!(
        connection.scim_url.as_str(),
        "https://scim.eu-west-1.amazonaws.com/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111/scim/v2"
    );
    assert_eq!(connection.aws_region, "eu-west-1");
    assert_eq!(connection.aws_account_id, "111122223333");
    match &connection.azure_credential {
        AzureCredential::ClientSecret(secret) => assert_eq!(secret.expose_secret(), AZURE_SECRET),
        other => panic!("expected a client secret, got {other:?}"),
    }
}

#[test]
fn connections_are_found_by_name() {
    let config = load(&format!("{MINIMAL}{SANDBOX}")).unwrap();

    assert_eq!(config.connections.len(), 2);
    assert_eq!(
        config.connection("sandbox-org").unwrap().aws_region,
        "us-east-1"
    );
    assert_eq!(
        config.connection("prod-org").unwrap().aws_region,
        "eu-west-1"
    );
    assert!(config.connection("Prod-Org").is_none());
}

#[test]
fn warn_days_are_sorted_descending_and_deduplicated() {
    let config = load(&format!(
        "{MINIMAL}\n[schedule]\nwarn_days = [1, 7, 30, 7, 90, 1, 14]\n"
    ))
    .unwrap();

    assert_eq!(config.schedule.warn_days, [90, 30, 14, 7, 1]);
}

#[test]
fn durations_combine_units() {
    let config = load(&format!(
        "{MINIMAL}\n[schedule]\ncheck_interval = \"1h30m\"\n"
    ))
    .unwrap();

    assert_eq!(config.schedule.check_interval, Duration::from_secs(5400));
}

#[test]
fn file_secret_is_read_relative_to_the_config_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    std::fs::write(dir.path().join("secrets/bot"), format!("{BOT_TOKEN}\n")).unwrap();
    std::fs::write(dir.path().join("secrets/app"), format!("{APP_TOKEN}\r\n")).unwrap();
    std::fs::write(dir.path().join("azure"), AZURE_SECRET).unwrap();
    let text = MINIMAL
        .replace("env:SLACK_BOT_TOKEN", "file:secrets/bot")
        .replace("env:SLACK_APP_TOKEN", "file:secrets/app")
        .replace("env:AZURE_CLIENT_SECRET", "file:azure");
    let path = dir.path().join("scim-rotator.toml");
    std::fs::write(&path, text).unwrap();

    // `load` reads the real environment, which this file's secrets do not need.
    let config = Config::load(&path).unwrap();

    assert_eq!(config.slack.bot_token.expose_secret(), BOT_TOKEN);
    assert_eq!(
        config.slack.app_token.as_ref().unwrap().expose_secret(),
        APP_TOKEN
    );
    match &config.connections[0].azure_credential {
        AzureCredential::ClientSecret(secret) => assert_eq!(secret.expose_secret(), AZURE_SECRET),
        other => panic!("expected a client secret, got {other:?}"),
    }
}

#[test]
fn federated_token_file_is_resolved_against_the_config_directory_and_not_read() {
    let text = minimal_with(
        r#"azure_client_secret = "env:AZURE_CLIENT_SECRET""#,
        r#"azure_federated_token_file = "tokens/azure-identity-token""#,
    );

    let config =
        Config::from_toml(&text, Path::new("/etc/scim-rotator/config.toml"), &env).unwrap();

    match &config.connections[0].azure_credential {
        AzureCredential::FederatedTokenFile(path) => assert_eq!(
            path,
            Path::new("/etc/scim-rotator/tokens/azure-identity-token")
        ),
        other => panic!("expected a token file, got {other:?}"),
    }
}

#[test]
fn client_certificate_is_read_from_a_pem_file_or_the_environment_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("certs")).unwrap();
    std::fs::write(dir.path().join("certs/bot.pem"), CLIENT_CERTIFICATE).unwrap();
    let from_file = minimal_with(
        r#"azure_client_secret = "env:AZURE_CLIENT_SECRET""#,
        r#"azure_client_certificate = "file:certs/bot.pem""#,
    );
    // Not written: `file:` paths are resolved against the directory of the name given.
    let path = dir.path().join("scim-rotator.toml");
    let from_env = minimal_with(
        r#"azure_client_secret = "env:AZURE_CLIENT_SECRET""#,
        r#"azure_client_certificate = "env:AZURE_CLIENT_CERTIFICATE""#,
    );
    let env_with_pem = |name: &str| {
        (name == "AZURE_CLIENT_CERTIFICATE")
            .then(|| CLIENT_CERTIFICATE.to_owned())
            .or_else(|| env(name))
    };

    for config in [
        Config::from_toml(&from_file, &path, &env).unwrap(),
        Config::from_toml(&from_env, Path::new(FILE), &env_with_pem).unwrap(),
    ] {
        match &config.connections[0].azure_credential {
            // `openssl x509 -noout -fingerprint -sha1` of the fixture.
            AzureCredential::ClientCertificate(certificate) => assert_eq!(
                certificate.thumbprint(),
                "5C4E083D3128CF2D9FA341B49DB85CA2A7CC8D50"
            ),
            other => panic!("expected a certificate, got {other:?}"),
        }
        let printed = format!("{config:?}");
        assert_no_pem_in(&printed);
        assert_no_pem_in(&format!("{config:#?}"));
        assert!(
            printed.contains(
                "ClientCertificate(ClientCertificate { thumbprint: \"5C4E083D3128CF2D9FA341B49DB85CA2A7CC8D50\", private_key: \"[REDACTED]\" })"
            ),
            "{printed}"
        );
    }
}

#[test]
fn example_config_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let named: Vec<&str> = text
        .split("\"env:")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    assert!(!named.is_empty());
    let example_env = |name: &str| named.contains(&name).then(|| format!("value-of-{name}"));

    let config = Config::from_toml(&text, &path, &example_env).unwrap();

    assert_eq!(config.slack.mode, SlackMode::Socket);
    assert_eq!(
        config.slack.bot_token.expose_secret(),
        "value-of-SLACK_BOT_TOKEN"
    );
    assert!(config.aws_health.is_some());
    let names: Vec<&str> = config.connections.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["prod-org", "sandbox-org"]);
    assert!(matches!(
        config.connections[0].azure_credential,
        AzureCredential::ClientSecret(_)
    ));
    assert!(matches!(
        config.connections[1].azure_credential,
        AzureCredential::FederatedTokenFile(_)
    ));
}

#[test]
fn example_config_documents_every_key() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml"))
            .unwrap();
    // Ask the parser which keys each table accepts, by offering it one it does not.
    let probes = [
        "probe = 1\n".to_owned(),
        minimal_with("[slack]\n", "[slack]\nprobe = 1\n"),
        format!("{MINIMAL}[server]\nprobe = 1\n"),
        format!("{MINIMAL}[store]\nprobe = 1\n"),
        format!("{MINIMAL}[schedule]\nprobe = 1\n"),
        format!("{MINIMAL}[aws_health]\nprobe = 1\n"),
        format!("{MINIMAL}[intake]\nprobe = 1\n"),
        format!("{MINIMAL}probe = 1\n"),
    ];
    for probe in probes {
        let Err(ConfigError::UnknownKey {
            key,
            section,
            expected,
            ..
        }) = load(&probe)
        else {
            panic!("no unknown-key error for {probe:?}");
        };
        assert_eq!(key, "probe");
        let keys: Vec<&str> = expected.split('\'').skip(1).step_by(2).collect();
        assert!(!keys.is_empty(), "{expected}");
        for key in keys {
            let documented = if section == "the top-level table" {
                format!("[{key}]")
            } else {
                format!("{key} = ")
            };
            assert!(
                text.contains(&documented),
                "{key} of {section} is missing from config.example.toml"
            );
        }
    }
}

// ---- secrets stay secret ----

#[test]
fn debug_of_a_loaded_config_shows_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file_secret = "slack-app-token-FROM-FILE-0006";
    std::fs::write(dir.path().join("app-token"), file_secret).unwrap();
    let text = format!(
        "{}{SANDBOX}\n[aws_health]\nsecret = \"env:AWS_HEALTH_API_KEY\"\n",
        MINIMAL
            .replace("env:SLACK_APP_TOKEN", "file:app-token")
            .replace(
                "approvers =",
                "signing_secret = \"env:SLACK_SIGNING_SECRET\"\napprovers ="
            )
    );

    let config = Config::from_toml(&text, &dir.path().join("c.toml"), &env).unwrap();
    let printed = format!("{config:?}");
    let pretty = format!("{config:#?}");

    for secret in [
        BOT_TOKEN,
        APP_TOKEN,
        SIGNING_SECRET,
        HEALTH_SECRET,
        AZURE_SECRET,
        file_secret,
    ] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
        assert!(!pretty.contains(secret), "{secret} in {pretty}");
    }
    // The print is a real one: it shows the non-secret values and the redaction markers.
    assert!(printed.contains("C0123456789") && printed.contains("sandbox-org"));
    assert_eq!(printed.matches("REDACTED").count(), 6, "{printed}");
}

#[test]
fn literal_secret_is_accepted_with_a_warning_naming_only_the_key() {
    let literal = "xoxb-literal-in-the-file-0007";
    let text = minimal_with("env:SLACK_BOT_TOKEN", literal);
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();

    let config = tracing::subscriber::with_default(subscriber, || load(&text)).unwrap();

    assert_eq!(config.slack.bot_token.expose_secret(), literal);
    let logs = logs.text();
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("slack.bot_token"), "{logs}");
    assert!(!logs.contains(literal), "{logs}");
}

/// Log output kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn parser_errors_at_a_secret_key_do_not_quote_the_value() {
    let message = error(&minimal_with(
        r#"bot_token = "env:SLACK_BOT_TOKEN""#,
        "bot_token = 918273645546372819",
    ));

    assert_eq!(
        message,
        "scim-rotator.toml:2: slack.bot_token: must be a string: env:NAME, file:PATH, or the secret itself"
    );
}

// ---- each mistake, and what it says ----

#[test]
fn missing_config_file_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scim-rotator.toml");

    let err = Config::load(&path).unwrap_err();

    let ConfigError::Read { reason, .. } = &err else {
        panic!("expected a read error, got {err:?}");
    };
    assert_eq!(reason.kind(), std::io::ErrorKind::NotFound);
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "{}: cannot read the config file: ",
            path.display()
        )),
        "{message}"
    );
}

#[test]
fn invalid_toml_names_the_line() {
    let message = error(&minimal_with(
        r#"channel = "C0123456789""#,
        "channel = C0123456789",
    ));

    assert!(
        message.starts_with("scim-rotator.toml:4: invalid TOML: "),
        "{message}"
    );
}

#[test]
fn duplicate_key_is_named() {
    let message = error(&minimal_with(
        "channel =",
        "approvers = [\"U0123456789\"]\nchannel =",
    ));

    assert_eq!(
        message,
        "scim-rotator.toml:6: invalid TOML: duplicate key 'approvers'"
    );
}

#[test]
fn missing_slack_table_is_not_blamed_on_the_first_table() {
    // The document's own span starts at offset 0, like the [server] header here.
    let text = format!(
        "[server]\nlisten = \"0.0.0.0:8080\"\n{}",
        &MINIMAL[MINIMAL.find("[[connection]]").unwrap()..]
    );

    assert_eq!(
        error(&text),
        "scim-rotator.toml: missing key 'slack' in the top-level table"
    );
}

#[test]
fn unknown_key_names_the_file_line_section_and_expected_keys() {
    let message = error(&minimal_with("channel =", "chanel ="));

    assert_eq!(
        message,
        "scim-rotator.toml:4: unknown key 'chanel' in [slack] (expected one of 'mode', 'bot_token', \
         'app_token', 'signing_secret', 'channel', 'api_url', 'approvers', 'approver_groups', \
         'allow_self_approval', 'approval_timeout', 'app_id')"
    );
}

#[test]
fn unknown_key_in_a_connection_names_the_array_of_tables() {
    let message = error(&format!(
        "{MINIMAL}{}",
        SANDBOX.replace("aws_region", "region")
    ));

    assert!(
        message.starts_with(
            "scim-rotator.toml:19: unknown key 'region' in [[connection]] (expected one of 'name', "
        ),
        "{message}"
    );
}

#[test]
fn single_bracket_connection_table_says_to_use_double_brackets() {
    let message = error(&MINIMAL.replace("[[connection]]", "[connection]"));

    assert_eq!(
        message,
        "scim-rotator.toml:7: connection: must be an array of tables: write [[connection]] \
         (double brackets), once per connection"
    );
}

#[test]
fn missing_key_names_the_section() {
    let message = error(&minimal_with("aws_region = \"eu-west-1\"\n", ""));

    assert_eq!(
        message,
        "scim-rotator.toml:7: missing key 'aws_region' in [[connection]]"
    );
}

#[test]
fn missing_env_var_names_the_variable_and_the_key() {
    let message = error(&minimal_with(
        "env:SLACK_BOT_TOKEN",
        "env:SLACK_BOT_TOKEN_PROD",
    ));

    assert_eq!(
        message,
        "scim-rotator.toml:2: slack.bot_token: environment variable SLACK_BOT_TOKEN_PROD is not set"
    );
}

#[test]
fn unreadable_secret_file_names_the_path_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("scim-rotator.toml");
    let text = minimal_with("env:AZURE_CLIENT_SECRET", "file:secrets/azure");

    let message = Config::from_toml(&text, &config_path, &env)
        .unwrap_err()
        .to_string();

    let expected = format!(
        "{}:14: connection[0].azure_client_secret: cannot read secret file {}: ",
        config_path.display(),
        dir.path().join("secrets/azure").display()
    );
    assert!(message.starts_with(&expected), "{message}");
    assert!(!message.contains('\n'));
}

#[test]
fn bad_url_names_the_key_and_the_value() {
    let relative = error(&minimal_with(
        "https://scim.eu-west-1.amazonaws.com/",
        "scim.eu-west-1.amazonaws.com/",
    ));
    let not_http = error(&format!(
        "{MINIMAL}graph_url = \"ftp://graph.microsoft.com\"\n"
    ));
    let with_password = error(&minimal_with(
        "channel =",
        "api_url = \"https://bot:hunter2@slack.example/api\"\nchannel =",
    ));

    assert_eq!(
        relative,
        "scim-rotator.toml:9: connection[0].scim_url: invalid URL \
         'scim.eu-west-1.amazonaws.com/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111/scim/v2': \
         relative URL without a base"
    );
    assert_eq!(
        not_http,
        "scim-rotator.toml:15: connection[0].graph_url: invalid URL 'ftp://graph.microsoft.com': \
         must be an https:// URL (or http:// for a local test server)"
    );
    assert_eq!(
        with_password,
        "scim-rotator.toml:4: slack.api_url: invalid URL 'https://slack.example/api': \
         remove the user name and password: credentials belong in secrets, not in URLs"
    );
}

#[test]
fn empty_approver_lists_are_rejected() {
    let neither = minimal_with(r#"approvers = ["U0123456789"]"#, "");
    let both_empty = minimal_with(
        r#"approvers = ["U0123456789"]"#,
        "approvers = []\napprover_groups = []",
    );
    let only_groups = minimal_with(
        r#"approvers = ["U0123456789"]"#,
        r#"approver_groups = ["S0123456789"]"#,
    );

    let expected = "scim-rotator.toml:1: slack.approvers: no approvers: list Slack user ids in \
                    slack.approvers and/or user group ids in slack.approver_groups, or nobody \
                    could approve a rotation";
    assert_eq!(error(&neither), expected);
    assert_eq!(error(&both_empty), expected);
    assert_eq!(
        load(&only_groups).unwrap().slack.approver_groups,
        ["S0123456789"]
    );
}

#[test]
fn duplicate_connection_names_are_rejected() {
    let message = error(&format!(
        "{MINIMAL}{}",
        SANDBOX.replace("sandbox-org", "prod-org")
    ));

    assert_eq!(
        message,
        "scim-rotator.toml:17: connection[1].name: duplicate connection name 'prod-org' \
         (already used by the [[connection]] on line 7)"
    );
}

#[test]
fn warn_days_must_be_positive() {
    let with_days = |days: &str| format!("{MINIMAL}\n[schedule]\nwarn_days = {days}\n");

    assert_eq!(
        error(&with_days("[30, 0, 7]")),
        "scim-rotator.toml:17: schedule.warn_days: 0 is not a positive number of days: \
         each entry must be at least 1"
    );
    assert_eq!(
        error(&with_days("[-3]")),
        "scim-rotator.toml:17: schedule.warn_days: -3 is not a positive number of days: \
         each entry must be at least 1"
    );
    assert_eq!(
        error(&with_days("[]")),
        "scim-rotator.toml:17: schedule.warn_days: is empty: list the days before expiry at \
         which to warn, as in [30, 14, 7, 3, 1]"
    );
    assert_eq!(
        error(&with_days("[400]")),
        "scim-rotator.toml:17: schedule.warn_days: 400 days is more than a token lives: \
         each entry must be at most 365"
    );
}

#[test]
fn socket_mode_requires_app_token() {
    let message = error(&minimal_with("app_token = \"env:SLACK_APP_TOKEN\"\n", ""));

    assert_eq!(
        message,
        "scim-rotator.toml:1: slack.app_token: required when slack.mode is 'socket' \
         (Socket Mode connects with the app-level token, xapp-…)"
    );
}

#[test]
fn http_mode_requires_signing_secret() {
    let message = error(&minimal_with(
        "app_token = \"env:SLACK_APP_TOKEN\"\n",
        "mode = \"http\"\n",
    ));

    assert_eq!(
        message,
        "scim-rotator.toml:3: slack.signing_secret: required when slack.mode is 'http' \
         (it verifies that requests come from Slack)"
    );
}

#[test]
fn unknown_slack_mode_lists_the_choices() {
    let message = error(&minimal_with(
        "[slack]\n",
        "[slack]\nmode = \"websocket\"\n",
    ));

    assert_eq!(
        message,
        "scim-rotator.toml:2: slack.mode: unknown variant 'websocket', expected 'socket' or 'http'"
    );
}

#[test]
fn aws_account_id_must_be_12_digits() {
    for bad in ["11112222333", "1111-2222-3333", "11112222333a"] {
        let message = error(&minimal_with("111122223333", bad));

        assert_eq!(
            message,
            format!(
                "scim-rotator.toml:11: connection[0].aws_account_id: '{bad}' is not an AWS \
                 account id: it must be exactly 12 digits, as in \"123456789012\""
            )
        );
    }
}

#[test]
fn aws_region_must_match_the_scim_url() {
    let message = error(&minimal_with(
        r#"aws_region = "eu-west-1""#,
        r#"aws_region = "eu-central-1""#,
    ));

    assert_eq!(
        message,
        "scim-rotator.toml:10: connection[0].aws_region: is 'eu-central-1' but scim_url is in \
         'eu-west-1': both must name the region of the IAM Identity Center instance"
    );
}

#[test]
fn at_least_one_connection_is_required() {
    let text = &MINIMAL[..MINIMAL.find("[[connection]]").unwrap()];

    assert_eq!(
        error(text),
        "scim-rotator.toml: no [[connection]] table: add one per Entra ID → AWS IAM Identity \
         Center provisioning to look after"
    );
}

#[test]
fn azure_credential_needs_exactly_one_of_secret_certificate_and_token_file() {
    let neither = minimal_with("azure_client_secret = \"env:AZURE_CLIENT_SECRET\"\n", "");
    let secret_and_file = format!("{MINIMAL}azure_federated_token_file = \"/var/run/token\"\n");
    let secret_and_certificate =
        format!("{MINIMAL}azure_client_certificate = \"env:AZURE_CLIENT_CERTIFICATE\"\n");
    // Written first, the certificate is the one the later secret collides with.
    let certificate_then_secret = minimal_with(
        "azure_client_secret = ",
        "azure_client_certificate = \"file:bot.pem\"\nazure_client_secret = ",
    );
    let all_three =
        format!("{secret_and_certificate}azure_federated_token_file = \"/var/run/token\"\n");

    assert_eq!(
        error(&neither),
        "scim-rotator.toml:7: connection[0].azure_client_secret: missing: give one of \
         azure_client_secret (env:NAME or file:PATH), azure_client_certificate (file:PATH of a \
         PEM certificate and its private key) or azure_federated_token_file, for the bot's \
         Microsoft Graph token"
    );
    assert_eq!(
        error(&secret_and_file),
        "scim-rotator.toml:15: connection[0].azure_federated_token_file: give only one of \
         azure_client_secret, azure_client_certificate and azure_federated_token_file: \
         azure_client_secret is given too"
    );
    assert_eq!(
        error(&secret_and_certificate),
        "scim-rotator.toml:15: connection[0].azure_client_certificate: give only one of \
         azure_client_secret, azure_client_certificate and azure_federated_token_file: \
         azure_client_secret is given too"
    );
    assert_eq!(
        error(&certificate_then_secret),
        "scim-rotator.toml:15: connection[0].azure_client_secret: give only one of \
         azure_client_secret, azure_client_certificate and azure_federated_token_file: \
         azure_client_certificate is given too"
    );
    assert_eq!(
        error(&all_three),
        "scim-rotator.toml:15: connection[0].azure_client_certificate: give only one of \
         azure_client_secret, azure_client_certificate and azure_federated_token_file: \
         azure_client_secret is given too"
    );
}

#[test]
fn a_bad_certificate_is_refused_by_key_without_quoting_the_pem() {
    let (cert, key) = certificate_blocks(CLIENT_CERTIFICATE);
    let (_, other_key) = certificate_blocks(OTHER_CERTIFICATE);
    let cases = [
        (
            key.to_owned(),
            "holds no certificate (-----BEGIN CERTIFICATE-----): give file:PATH of a PEM file \
             with the certificate and its private key, or env:NAME holding that text",
        ),
        (
            cert.to_owned(),
            "holds no private key (-----BEGIN PRIVATE KEY-----, PKCS#8): append the \
             certificate's RSA private key to the file",
        ),
        (
            format!("{cert}{other_key}"),
            "holds a private key that does not belong to its certificate (the first \
             CERTIFICATE block must be the app's certificate)",
        ),
        (
            format!("{cert}{}", key.replace("MII", "AAA")),
            "holds a private key that does not parse as an RSA PKCS#8 key (InvalidEncoding)",
        ),
    ];
    for (pem, expected) in cases {
        let text = minimal_with(
            "azure_client_secret = \"env:AZURE_CLIENT_SECRET\"",
            "azure_client_certificate = \"env:AZURE_CLIENT_CERTIFICATE\"",
        );
        let err = Config::from_toml(&text, Path::new(FILE), &|name: &str| {
            (name == "AZURE_CLIENT_CERTIFICATE")
                .then(|| pem.clone())
                .or_else(|| env(name))
        })
        .unwrap_err();
        let message = err.to_string();
        assert_eq!(
            message,
            format!("scim-rotator.toml:14: connection[0].azure_client_certificate: {expected}")
        );
        assert_no_pem_in(&message);
        assert_no_pem_in(&format!("{err:?}"));
    }

    // A path without `file:` is taken as the PEM text itself, and refused as such.
    let message = error(&minimal_with(
        "azure_client_secret = \"env:AZURE_CLIENT_SECRET\"",
        "azure_client_certificate = \"/etc/scim-rotator/bot.pem\"",
    ));
    assert!(
        message.starts_with(
            "scim-rotator.toml:14: connection[0].azure_client_certificate: holds no certificate"
        ),
        "{message}"
    );
    // And a value of the wrong type is not quoted either.
    let message = error(&minimal_with(
        "azure_client_secret = \"env:AZURE_CLIENT_SECRET\"",
        "azure_client_certificate = 918273645546372819",
    ));
    assert_eq!(
        message,
        "scim-rotator.toml:14: connection[0].azure_client_certificate: must be a string: \
         env:NAME, file:PATH, or the secret itself"
    );
}

#[test]
fn durations_reject_zero_and_garbage() {
    let zero = error(&format!("{MINIMAL}\n[schedule]\ncheck_interval = \"0m\"\n"));
    let garbage = error(&minimal_with(
        "[slack]\n",
        "[slack]\napproval_timeout = \"one day\"\n",
    ));

    assert_eq!(
        zero,
        "scim-rotator.toml:17: schedule.check_interval: invalid duration '0m': must be longer \
         than zero"
    );
    assert_eq!(
        garbage,
        "scim-rotator.toml:2: slack.approval_timeout: invalid duration 'one day': expected a \
         number at 'one day': write a number and a unit (s, m, h, d), as in \"90s\", \"30m\", \
         \"1h\", \"2d\" or \"1h30m\""
    );
}

#[test]
fn channel_and_approvers_must_be_ids_not_names() {
    let channel = error(&minimal_with("C0123456789", "#platform-team"));
    let approver = error(&minimal_with("U0123456789", "@alice"));

    assert!(
        channel
            .starts_with("scim-rotator.toml:4: slack.channel: '#platform-team' is a channel name"),
        "{channel}"
    );
    assert_eq!(
        approver,
        "scim-rotator.toml:5: slack.approvers: '@alice' is a name; give the Slack user id (U…)"
    );
}

#[test]
fn connection_names_are_one_word() {
    let message = error(&minimal_with(
        r#"name = "prod-org""#,
        r#"name = "prod org""#,
    ));

    assert_eq!(
        message,
        "scim-rotator.toml:8: connection[0].name: 'prod org' contains whitespace"
    );
}

#[test]
fn bad_listen_address_names_the_value() {
    let message = error(&format!("{MINIMAL}\n[server]\nlisten = \"localhost\"\n"));

    assert_eq!(
        message,
        "scim-rotator.toml:17: server.listen: 'localhost' is not an address and port, as in \
         \"0.0.0.0:8080\" or \"[::]:8080\""
    );
}

#[test]
fn messages_stay_on_one_line_whatever_the_value() {
    let message = error(&minimal_with(
        r#"aws_account_id = "111122223333""#,
        r#"aws_account_id = "1111\n2222""#,
    ));

    assert!(message.contains(r"'1111\n2222'"), "{message}");
}

#[test]
fn every_connection_error_is_indexed() {
    // Errors in the second connection say connection[1], so the reader knows which table.
    let message = error(&format!(
        "{MINIMAL}{}",
        SANDBOX.replace("444455556666", "4444")
    ));

    assert!(
        message.starts_with("scim-rotator.toml:20: connection[1].aws_account_id: "),
        "{message}"
    );
}

#[test]
fn literal_empty_and_env_empty_secrets_are_refused() {
    let literal_empty = error(&minimal_with("\"env:SLACK_BOT_TOKEN\"", "\"\""));
    let env_empty = Config::from_toml(MINIMAL, Path::new(FILE), &|name: &str| {
        Some(if name == "SLACK_APP_TOKEN" {
            String::new()
        } else {
            "x".to_owned()
        })
    })
    .unwrap_err()
    .to_string();

    assert_eq!(
        literal_empty,
        "scim-rotator.toml:2: slack.bot_token: is empty: give env:NAME or file:PATH"
    );
    assert_eq!(
        env_empty,
        "scim-rotator.toml:3: slack.app_token: environment variable SLACK_APP_TOKEN is empty"
    );
}

// ---- [intake] ----

#[test]
fn without_intake_the_modal_is_the_only_way_in() {
    let config = load(MINIMAL).unwrap();
    assert!(!config.intake.web_form);
    assert!(config.intake.slack_modal);
    assert_eq!(config.intake.link_lifetime, Duration::from_secs(600));
}

#[test]
fn the_web_form_loads_with_its_public_url_and_lifetime() {
    let text = format!(
        "{MINIMAL}\n[intake]\nweb_form = true\nslack_modal = false\npublic_url = \"https://scim-rotator.internal.example.com\"\nlink_lifetime = \"5m\"\n"
    );
    let config = load(&text).unwrap();
    assert!(config.intake.web_form && !config.intake.slack_modal);
    assert_eq!(
        config.intake.public_url.unwrap().as_str(),
        "https://scim-rotator.internal.example.com/"
    );
    assert_eq!(config.intake.link_lifetime, Duration::from_secs(300));
    // http is fine on loopback (tests, the demo).
    let local =
        format!("{MINIMAL}\n[intake]\nweb_form = true\npublic_url = \"http://127.0.0.1:8080\"\n");
    assert!(load(&local).unwrap().intake.slack_modal);
}

#[test]
fn intake_mistakes_are_named_with_their_line() {
    let intake = |body: &str| format!("{MINIMAL}\n[intake]\n{body}");
    // MINIMAL has 14 lines; its blank line is 15, [intake] 16, the first key 17.
    assert_eq!(
        error(&intake("web_form = true\n")),
        "scim-rotator.toml:16: intake.public_url: missing: web_form = true needs the address at which a lead's browser reaches [server] listen, as in \"https://scim-rotator.internal.example.com\""
    );
    assert_eq!(
        error(&intake(
            "web_form = true\npublic_url = \"http://bot.example.com\"\n"
        )),
        "scim-rotator.toml:18: intake.public_url: 'http://bot.example.com/' is plain http: the page carries the token, so it must be served over https (http only on localhost/127.0.0.1 for tests)"
    );
    assert_eq!(
        error(&intake("slack_modal = false\n")),
        "scim-rotator.toml:16: intake.slack_modal: is false but web_form is false too: leads would have nowhere to enter the new token; set web_form = true or keep the modal"
    );
    let long = error(&intake(
        "web_form = true\npublic_url = \"https://bot.example.com\"\nlink_lifetime = \"2h\"\n",
    ));
    assert!(
        long.starts_with("scim-rotator.toml:19: intake.link_lifetime: '2h' is longer than an hour"),
        "{long}"
    );
    let query = error(&intake(
        "web_form = true\npublic_url = \"https://bot.example.com/?a=b\"\n",
    ));
    assert!(query.contains("must not have a query"), "{query}");
}
