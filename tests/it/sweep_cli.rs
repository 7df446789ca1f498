//! `scim-rotator sweep` as an operator runs it, against the sandbox's fakes: for real it
//! posts and records; with `--dry-run` it prints what it would post and leaves the database
//! byte for byte as it was.

use chrono::Duration;
use scim_rotator::clock::ManualClock;
use scim_rotator::demo::wiring::WorldConfig;
use scim_sandbox::SandboxWorld;
use scim_sandbox::people::*;
use scim_sandbox::slack::identity;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

struct Operator {
    world: SandboxWorld,
    dir: tempfile::TempDir,
}

impl Operator {
    /// The sandbox, and a configuration file pointing the binary at it (secrets in files).
    async fn start() -> Operator {
        let clock = ManualClock::new(crate::support::start_time());
        let world = SandboxWorld::start(Arc::new(clock), Duration::days(300)).await;
        let dir = tempfile::tempdir().unwrap();
        let config = world.config(
            &dir.path().join("bot.db"),
            scim_rotator::config::SlackMode::Http,
        );
        let connection = &config.connections[0];
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("bot_token", identity::BOT_TOKEN);
        write("signing_secret", identity::SIGNING_SECRET);
        write(
            "azure_secret",
            &world.cloud.microsoft.client_secret().unwrap(),
        );
        write(
            "scim-rotator.toml",
            &format!(
                r#"[slack]
mode = "http"
bot_token = "file:bot_token"
signing_secret = "file:signing_secret"
channel = "{CHANNEL}"
api_url = "{api_url}"
approvers = ["{LEAD}"]
approver_groups = ["{LEADS_GROUP}"]

[store]
path = {store:?}

[schedule]
warn_days = [30, 14, 7, 3, 1]

[[connection]]
name = "{CONNECTION}"
scim_url = "{scim_url}"
aws_region = "{region}"
aws_account_id = "{AWS_ACCOUNT}"
azure_tenant_id = "{tenant}"
azure_client_id = "{client}"
azure_client_secret = "file:azure_secret"
graph_url = "{graph}"
login_url = "{login}"
"#,
                api_url = world.slack.api_url(),
                store = config.store.path.display().to_string(),
                scim_url = connection.scim_url,
                region = connection.aws_region,
                tenant = connection.azure_tenant_id,
                client = connection.azure_client_id,
                graph = connection.graph_url,
                login = connection.login_url,
            ),
        );
        Operator { world, dir }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("bot.db")
    }

    /// Runs the binary (off the runtime's threads: the fakes it calls live on them).
    async fn run(&self, args: &[&str]) -> Output {
        let dir = self.dir.path().to_owned();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_scim-rotator"))
                .arg("--config")
                .arg(dir.join("scim-rotator.toml"))
                .args(&args)
                .current_dir(&dir)
                .env_remove("RUST_LOG")
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    }

    async fn ok(&self, args: &[&str]) -> Vec<String> {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// Every file of the directory holding the database (`-wal`/`-shm` included) and its bytes.
fn snapshot(db: &Path) -> Vec<(String, Vec<u8>)> {
    let dir = db.parent().unwrap();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with("bot.db"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_prints_the_schedule_and_leaves_the_store_byte_for_byte_unchanged() {
    let op = Operator::start().await;
    op.ok(&[
        "tokens",
        "add",
        "--connection",
        CONNECTION,
        "--token-id",
        "tok-123",
        "--created",
        "2024-03-14",
    ])
    .await;
    // The bot already sent the 30-day notice.
    let real = op.ok(&["sweep", "--at", "2025-02-12T09:00:00Z"]).await;
    assert_eq!(
        real[0],
        "posted: [prod-org] token tok-123 expires 2025-03-14 (29 days left): notice (new message)"
    );
    let before = snapshot(&op.db());
    let calls = op.world.slack.calls().len();

    let preview = op
        .ok(&["sweep", "--dry-run", "--at", "2025-03-07T09:00:00Z"])
        .await;
    assert_eq!(
        preview,
        [
            "would post: [prod-org] token tok-123 expires 2025-03-14 (6 days left): warning (reply in thread)",
            "dry run as of 2025-03-07 09:00 UTC: 1 message(s) would be posted; nothing was changed",
        ]
    );
    let expired = op
        .ok(&["sweep", "--dry-run", "--at", "2025-03-16T09:00:00Z"])
        .await;
    assert_eq!(
        expired[0],
        "would post: [prod-org] token tok-123 expired 2025-03-14 (expired 2 days ago): critical (reply in thread, mentioning the approvers)"
    );
    assert_eq!(snapshot(&op.db()), before, "the store is unchanged");
    assert_eq!(op.world.slack.calls().len(), calls, "Slack was not called");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_sweep_records_what_it_sent_so_running_it_again_sends_nothing() {
    let op = Operator::start().await;
    op.ok(&[
        "tokens",
        "add",
        "--connection",
        CONNECTION,
        "--token-id",
        "tok-9",
        "--created",
        "2024-03-14",
    ])
    .await;
    let at = ["sweep", "--at", "2025-03-08T09:00:00Z"];
    let first = op.ok(&at).await;
    assert_eq!(
        first[0],
        "posted: [prod-org] token tok-9 expires 2025-03-14 (5 days left): warning (new message)"
    );
    let second = op.ok(&at).await;
    assert_eq!(
        second,
        [
            "sweep as of 2025-03-08 09:00 UTC: 0 message(s) posted, 0 failure(s), 0 unapproved request(s) expired"
        ]
    );
    assert_eq!(op.world.slack.messages(CHANNEL).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_at_without_dry_run_is_refused() {
    let op = Operator::start().await;
    let output = op.run(&["sweep", "--at", "2999-01-01T00:00:00Z"]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("add --dry-run"), "{stderr}");
    assert!(op.world.slack.calls().is_empty(), "nothing was posted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_before_anything_was_recorded_creates_no_database() {
    let op = Operator::start().await;
    let preview = op.ok(&["sweep", "--dry-run"]).await;
    assert_eq!(
        preview[0],
        "would post: [prod-org] no token recorded: ask to register it (new message)"
    );
    assert!(!op.db().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_at_is_one_line_and_exit_code_2() {
    let op = Operator::start().await;
    let output = op.run(&["sweep", "--at", "next tuesday"]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: --at: "), "{stderr}");
}
