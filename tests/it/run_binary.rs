//! `scim-rotator run` as an operator starts it: against the sandbox in HTTP mode, it serves
//! health, readiness, metrics and signed Slack requests, and stops cleanly on SIGTERM.

use chrono::Duration;
use scim_rotator::clock::ManualClock;
use scim_rotator::config::SlackMode;
use scim_sandbox::SandboxWorld;
use scim_sandbox::people::*;
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn run_serves_slack_and_stops_gracefully_on_sigterm() {
    // The bot runs on the system clock: the fake Slack must sign with real time too.
    let clock = ManualClock::new(chrono::Utc::now());
    let world = SandboxWorld::start(Arc::new(clock), Duration::days(300)).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = world.cloud.microsoft.client_secret().unwrap();
    let path =
        crate::support::config_file::write_config(&world, dir.path(), &secret, SlackMode::Http);

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_scim-rotator"))
        .args(["run", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    let addr = tokio::time::timeout(crate::support::DEADLINE, async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            log.push_str(&line);
            log.push('\n');
            if let Some(rest) = line.split("addr=").nth(1) {
                return rest.split_whitespace().next().unwrap().to_owned();
            }
        }
        panic!("the bot exited before listening:\n{log}")
    })
    .await
    .expect("the bot listens within the deadline");
    let base = url::Url::parse(&format!("http://{addr}")).unwrap();

    let http = reqwest::Client::new();
    let health = http
        .get(base.join("healthz").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = http.get(base.join("readyz").unwrap()).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = http
        .get(base.join("metrics").unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("# TYPE"), "{metrics}");

    let status = world
        .slack
        .slash_command(&base, MEMBER, CHANNEL, "/scim", "status")
        .await
        .unwrap();
    assert_eq!(status.reply.status, 200);
    assert!(
        status.reply.body.contains(CONNECTION),
        "{}",
        status.reply.body
    );

    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = tokio::time::timeout(crate::support::DEADLINE, child.wait())
        .await
        .expect("it stops within the deadline")
        .unwrap();
    while let Ok(Some(line)) = stderr.next_line().await {
        log.push_str(&line);
        log.push('\n');
    }
    assert!(exit.success(), "exit {exit:?}:\n{log}");
    assert!(log.contains("shutting down"), "{log}");
    assert!(!log.contains(" ERROR "), "{log}");
}
