//! `scim-rotator check-config` with a real configuration file, against the sandbox: every
//! remote check passes, and a broken credential is named with its fix.

use crate::support::config_file::write_config;
use chrono::Duration;
use scim_rotator::clock::ManualClock;
use scim_rotator::config::SlackMode;
use scim_sandbox::SandboxWorld;
use std::path::Path;
use std::sync::Arc;

fn manifest_scopes() -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("manifest.yaml"))
        .unwrap();
    let manifest: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    manifest["oauth_config"]["scopes"]["bot"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn check_config_says_which_scope_is_missing() {
    let clock = ManualClock::new(crate::support::start_time());
    let world = SandboxWorld::start(Arc::new(clock), Duration::days(10)).await;
    world
        .slack
        .grant_scopes(&["chat:write", "commands", "usergroups:read", "users:read"]);
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &world,
        dir.path(),
        &world.cloud.microsoft.client_secret().unwrap(),
        SlackMode::Socket,
    );
    let output = check_config(&path).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("missing_scope") && stdout.contains("channels:read"),
        "{stdout}"
    );
}

#[tokio::test]
async fn check_config_names_a_missing_scope_and_the_group_events_to_subscribe() {
    let clock = ManualClock::new(crate::support::start_time());
    let world = SandboxWorld::start(Arc::new(clock), Duration::days(10)).await;
    let without_groups: Vec<String> = manifest_scopes()
        .into_iter()
        .filter(|s| s != "usergroups:read")
        .collect();
    world.slack.grant_scopes(
        &without_groups
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &world,
        dir.path(),
        &world.cloud.microsoft.client_secret().unwrap(),
        SlackMode::Socket,
    );
    let output = check_config(&path).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("✗ Slack bot token is missing scope(s): usergroups:read"),
        "{stdout}"
    );
    assert!(stdout.contains("subteam_members_changed"), "{stdout}");

    // The manifest subscribes to the events check-config names.
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("manifest.yaml"))
        .unwrap();
    let manifest: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    let events = &manifest["settings"]["event_subscriptions"]["bot_events"];
    for event in [
        "subteam_members_changed",
        "subteam_updated",
        "app_home_opened",
    ] {
        assert!(
            events.as_array().unwrap().iter().any(|e| e == event),
            "{event}"
        );
    }
}

async fn check_config(path: &Path) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_scim-rotator"))
        .args(["check-config", "--config"])
        .arg(path)
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn check_config_passes_against_the_sandbox() {
    let clock = ManualClock::new(crate::support::start_time());
    let world = SandboxWorld::start(Arc::new(clock), Duration::days(10)).await;
    // The bot token has exactly the scopes manifest.yaml asks for.
    world.slack.grant_scopes(
        &manifest_scopes()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let dir = tempfile::tempdir().unwrap();
    let secret = world.cloud.microsoft.client_secret().unwrap();
    let path = write_config(&world, dir.path(), &secret, SlackMode::Socket);
    let output = check_config(&path).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "✓ Slack bot token works",
        "✓ Slack bot token has every scope manifest.yaml asks for",
        "✓ Slack requests are accepted only from workspace T0SANDBOX for app A0SCIMROT",
        "subscribes to subteam_members_changed and subteam_updated",
        "✓ Slack channel",
        "✓ Slack approver group",
        "✓ [prod-org] Entra: service principal",
        "✓ [prod-org] Entra: signed in and read the provisioning job (status Active)",
        "✓ [prod-org] AWS SCIM endpoint answers",
        "All checks passed.",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    assert!(!stdout.contains(&secret), "no secret is printed");
}

#[tokio::test]
async fn check_config_names_a_wrong_client_secret_and_its_fix() {
    let clock = ManualClock::new(crate::support::start_time());
    let world = SandboxWorld::start(Arc::new(clock), Duration::days(10)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &world,
        dir.path(),
        "not-the-client-secret",
        SlackMode::Socket,
    );
    let output = check_config(&path).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("✗ [prod-org] Entra:"), "{stdout}");
    assert!(stdout.contains("fix:"), "{stdout}");
    assert!(
        stdout.contains("✓ Slack bot token works"),
        "the other checks still ran: {stdout}"
    );
    assert!(!stdout.contains("not-the-client-secret"));
}

#[tokio::test]
async fn check_config_proves_public_url_reaches_the_listener() {
    use crate::support::config_file::write_config_with;
    let clock = ManualClock::new(crate::support::start_time());
    let world = SandboxWorld::start(Arc::new(clock), Duration::days(10)).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = world.cloud.microsoft.client_secret().unwrap();
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    };
    let (listen, elsewhere) = (free(), free());
    let intake = |public: std::net::SocketAddr| {
        format!(
            "[server]\nlisten = \"{listen}\"\n\n[intake]\nweb_form = true\nslack_modal = false\npublic_url = \"http://{public}\"\n"
        )
    };
    let config = |public| {
        let text = std::fs::read_to_string(write_config_with(
            &world,
            dir.path(),
            &secret,
            SlackMode::Socket,
            &intake(public),
        ))
        .unwrap();
        // One [server] table: the one written with the intake.
        let text = text.replacen("[server]\nlisten = \"127.0.0.1:0\"\n", "", 1);
        let path = dir.path().join("scim-rotator.toml");
        std::fs::write(&path, text).unwrap();
        path
    };

    let output = check_config(&config(listen)).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("✓ intake.public_url reaches [server] listen"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // A public_url that leads somewhere else (nothing listens there).
    let output = check_config(&config(elsewhere)).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("✗ intake.public_url") && stdout.contains("fix:"),
        "{stdout}"
    );
}
