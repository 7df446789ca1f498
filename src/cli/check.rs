//! `check-config`: the file parses (already, when we get here); then each remote system the
//! configuration names is asked whether it knows us, with a ✓ or ✗ line each and the fix.

use super::Exit;
use crate::azure::GraphClient;
use crate::config::{Config, SlackMode};
use crate::retry::RetryPolicy;
use crate::slack::api::SlackApi;
use std::path::Path;
use std::time::Duration;

/// What to do when the bot cannot sign in to Entra or read the provisioning job.
const ENTRA_FIX: &str = "check azure_tenant_id, azure_client_id and the credential; grant Application.ReadWrite.OwnedBy \
     (bot app as owner of the AWS enterprise app) or Synchronization.ReadWrite.All";

/// Checks should answer quickly: a short timeout per request and a small total budget
/// (a throttled or failing call is still retried within it).
fn check_policy() -> RetryPolicy {
    RetryPolicy {
        request_timeout: Duration::from_secs(10),
        max_total: Duration::from_secs(15),
        ..RetryPolicy::default()
    }
}

struct Report {
    failures: usize,
}

impl Report {
    fn ok(&mut self, what: &str) {
        println!("✓ {what}");
    }
    fn fail(&mut self, what: &str, fix: &str) {
        self.failures += 1;
        println!("✗ {what}\n    fix: {fix}");
    }
}

pub async fn run(path: &Path, config: &Config) -> anyhow::Result<Exit> {
    let mut report = Report { failures: 0 };
    report.ok(&format!(
        "{} parses: {} connection(s), Slack {} mode, channel {}",
        path.display(),
        config.connections.len(),
        config.slack.mode,
        config.slack.channel
    ));

    let api = SlackApi::new(&config.slack.api_url, &config.slack.bot_token)?;
    match api.auth_test().await {
        Ok(me) => report.ok(&format!("Slack bot token works: bot user {} in workspace {}", me.user_id, me.team)),
        Err(error) if error.code().is_some() => report.fail(
            &format!("Slack bot token: {error}"),
            "set slack.bot_token to the app's Bot User OAuth Token (xoxb-…), from OAuth & Permissions",
        ),
        Err(error) => report.fail(
            &format!("Slack: {error}"),
            "check slack.api_url and that this host can reach Slack over HTTPS (proxy, firewall)",
        ),
    }
    for line in super::check_slack_app::checks(config, &api).await {
        match line {
            Ok(text) => report.ok(&text),
            Err((text, fix)) => report.fail(&text, &fix),
        }
    }
    let channel = &config.slack.channel;
    match api.channel_info(channel).await {
        Ok(info) if info.is_member => report.ok(&format!(
            "Slack channel {channel} is reachable (#{}) and the bot is a member",
            info.name.unwrap_or_default()
        )),
        Ok(info) => report.fail(
            &format!("Slack channel {channel} (#{}): the bot is not a member", info.name.unwrap_or_default()),
            "invite the bot to the channel: /invite @scim-rotator",
        ),
        Err(error) if error.code() == Some("missing_scope") => report.fail(
            &format!("Slack channel {channel}: {error}"),
            "add the channels:read and groups:read bot scopes (see manifest.yaml) and reinstall the app",
        ),
        Err(error) => report.fail(
            &format!("Slack channel {channel}: {error}"),
            "use the channel's id (C…, from the channel's details) and invite the bot: /invite @scim-rotator",
        ),
    }
    for group in &config.slack.approver_groups {
        match api.usergroup_members(group).await {
            Ok(members) => report.ok(&format!(
                "Slack approver group {group}: {} member(s)",
                members.len()
            )),
            Err(error) => report.fail(
                &format!("Slack approver group {group}: {error}"),
                "check the group id (S…) and that the app has the usergroups:read scope",
            ),
        }
    }
    if config.slack.mode == SlackMode::Socket && config.slack.app_token.is_none() {
        report.fail(
            "Socket Mode needs slack.app_token",
            "create an app-level token (xapp-…) with connections:write",
        );
    }

    if config.intake.web_form {
        check_public_url(config, &mut report).await;
    }

    let probe = crate::http::client(Duration::from_secs(10));
    for connection in &config.connections {
        let name = &connection.name;
        let graph = GraphClient::new(crate::app::graph_settings(connection), check_policy());
        match graph.discover().await {
            Ok((sp, job)) => report.ok(&format!(
                "[{name}] Entra: service principal {sp}, provisioning job {job}"
            )),
            Err(error) => report.fail(&format!("[{name}] Entra: {error}"), ENTRA_FIX),
        }
        match graph.get_job().await {
            Ok(job) => match job.credential_problem() {
                None => report.ok(&format!(
                    "[{name}] Entra: signed in and read the provisioning job (status {})",
                    job.status.as_str()
                )),
                Some(problem) => report.fail(
                    &format!(
                        "[{name}] Entra provisioning job is failing to authenticate: {problem}"
                    ),
                    "rotate the token now: /scim rotate in Slack",
                ),
            },
            Err(error) => report.fail(
                &format!("[{name}] reading the provisioning job: {error}"),
                ENTRA_FIX,
            ),
        }
        // Without a token, a live SCIM endpoint answers 401: that proves the URL is right.
        let url = format!(
            "{}/ServiceProviderConfig",
            connection.scim_url.as_str().trim_end_matches('/')
        );
        match probe.get(&url).send().await {
            Ok(response) if response.status().as_u16() == 401 || response.status().is_success() => {
                report.ok(&format!("[{name}] AWS SCIM endpoint answers at {}", connection.scim_url))
            }
            Ok(response) => report.fail(
                &format!("[{name}] AWS SCIM endpoint answered HTTP {}", response.status().as_u16()),
                "copy the SCIM endpoint from IAM Identity Center → Settings → Identity source → Automatic provisioning",
            ),
            Err(_) => report.fail(
                &format!("[{name}] AWS SCIM endpoint {} cannot be reached", connection.scim_url),
                "check scim_url and that this host can reach scim.<region>.amazonaws.com over HTTPS",
            ),
        }
    }
    if report.failures == 0 {
        println!("All checks passed.");
        Ok(Exit::Ok)
    } else {
        Ok(Exit::Failed(format!("{} check(s) failed", report.failures)))
    }
}

/// `[intake] public_url`: https unless the host is loopback (the load already refused
/// anything else), and it must reach this bot's `[server] listen`. When the bot is not
/// running, a temporary listener there answers `/healthz` with a random value that must come
/// back through `public_url` (so a proxy in between is checked too); when the bot runs (the
/// address is taken), its own `/healthz` must answer.
async fn check_public_url(config: &Config, report: &mut Report) {
    let Some(url) = &config.intake.public_url else {
        return;
    };
    let fix = "set intake.public_url to the address at which a lead's browser reaches [server] listen (through your TLS proxy)";
    if url.scheme() == "https" {
        report.ok(&format!("intake.public_url {url} is https"));
    } else {
        report.ok(&format!(
            "intake.public_url {url} is plain http on a loopback host: fine for a test, not for leads' browsers"
        ));
    }
    let healthz = format!("{}/healthz", url.as_str().trim_end_matches('/'));
    let client = crate::http::client(Duration::from_secs(10));
    let expected = crate::intake::links::random_value();
    let (answer, served) = match tokio::net::TcpListener::bind(config.server.listen).await {
        Ok(listener) => {
            let body = expected.clone();
            let router = axum::Router::new().route(
                "/healthz",
                axum::routing::get(move || {
                    let body = body.clone();
                    async move { body }
                }),
            );
            let server = tokio::spawn(async move {
                let _ = axum::serve(listener, router).await;
            });
            let answer = client.get(&healthz).send().await;
            let answer = match answer {
                Ok(response) => Ok(response.text().await.unwrap_or_default()),
                Err(error) => Err(error),
            };
            server.abort();
            (answer, true)
        }
        Err(_) => {
            let answer = match client.get(&healthz).send().await {
                Ok(response) => Ok(response.text().await.unwrap_or_default()),
                Err(error) => Err(error),
            };
            (answer, false)
        }
    };
    match answer {
        Ok(body) if served && body == expected => report.ok(&format!(
            "intake.public_url reaches [server] listen {} (checked with a temporary listener)",
            config.server.listen
        )),
        Ok(body) if !served && body.trim() == "ok" => report.ok(&format!(
            "the bot answers at intake.public_url ({} is in use: the bot runs)",
            config.server.listen
        )),
        Ok(_) => report.fail(
            &format!(
                "intake.public_url {url} answers, but not from this bot's [server] listen {}",
                config.server.listen
            ),
            fix,
        ),
        Err(_) => report.fail(
            &format!("intake.public_url {url} cannot be reached from here"),
            fix,
        ),
    }
}
