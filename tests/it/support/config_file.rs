//! A real configuration file for the sandbox world, secrets in files beside it.

use scim_rotator::config::SlackMode;
use scim_rotator::sandbox::SandboxWorld;
use scim_rotator::sandbox::slack::identity;
use std::path::Path;

/// Writes a configuration file for `world`, its secrets in files next to it.
pub fn write_config(
    world: &SandboxWorld,
    dir: &Path,
    client_secret: &str,
    mode: SlackMode,
) -> std::path::PathBuf {
    write_config_with(world, dir, client_secret, mode, "")
}

/// [`write_config`] with `extra` TOML (whole tables) appended before the connections.
pub fn write_config_with(
    world: &SandboxWorld,
    dir: &Path,
    client_secret: &str,
    mode: SlackMode,
    extra: &str,
) -> std::path::PathBuf {
    let config = world.config(&dir.join("bot.db"), mode);
    let connection = &config.connections[0];
    for (name, value) in [
        ("bot_token", identity::BOT_TOKEN),
        ("app_token", identity::APP_TOKEN),
        ("signing_secret", identity::SIGNING_SECRET),
        ("client_secret", client_secret),
    ] {
        std::fs::write(dir.join(name), format!("{value}\n")).unwrap();
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
listen = "127.0.0.1:0"

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
        mode = mode,
        extra = extra,
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
    std::fs::write(&path, text).unwrap();
    path
}
