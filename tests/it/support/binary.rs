//! The real `scim-rotator run` against the sandbox world: started, killed, measured.

use super::hygiene::{self, Capture};
use chrono::Duration;
use scim_rotator::clock::ManualClock;
use scim_rotator::config::SlackMode;
use scim_rotator::rotation::{Rotation, RotationId};
use scim_rotator::slack::ids;
use scim_rotator::store::Store;
use scim_sandbox::SandboxWorld;
use scim_sandbox::people::*;
use scim_sandbox::slack::plain_text_value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use url::Url;

/// A sandbox world and a configuration file for the binary, with its database beside it.
pub struct BinaryWorld {
    pub world: SandboxWorld,
    pub config: PathBuf,
    pub db: PathBuf,
    /// The stderr of every bot started by [`BinaryWorld::bot`], searched by
    /// [`BinaryWorld::assert_secrets_kept`].
    pub stderr: Capture,
    /// Every token generated or typed in this world.
    secrets: std::sync::Mutex<Vec<String>>,
    _dir: tempfile::TempDir,
}

impl BinaryWorld {
    pub async fn start() -> BinaryWorld {
        // The bot runs on the system clock: the fake Slack must sign with real time too.
        let clock = ManualClock::new(chrono::Utc::now());
        let world = SandboxWorld::start(Arc::new(clock), Duration::days(300)).await;
        let dir = tempfile::tempdir().unwrap();
        let secret = world.cloud.microsoft.client_secret().unwrap();
        let config = super::config_file::write_config(&world, dir.path(), &secret, SlackMode::Http);
        BinaryWorld {
            world,
            config,
            db: dir.path().join("bot.db"),
            stderr: Capture::default(),
            secrets: Default::default(),
            _dir: dir,
        }
    }

    /// Starts `scim-rotator run` logging at trace, its stderr kept in [`BinaryWorld::stderr`].
    pub async fn bot(&self) -> Bot {
        Bot::start_logging(
            &[env!("CARGO_BIN_EXE_scim-rotator")],
            &self.config,
            "trace",
            Some(self.stderr.clone()),
        )
        .await
    }

    /// Fails when any token generated or typed in this world appears in the bots' stderr,
    /// in what they sent to Slack or in the database files. Call it with no bot running.
    pub fn assert_secrets_kept(&self) {
        let mut secrets = self.secrets.lock().unwrap().clone();
        secrets.push(self.world.cloud.current_token.secret.clone());
        let stderr = self.stderr.text();
        assert!(stderr.contains("scim_rotator"), "the bots' stderr was kept");
        hygiene::assert_absent(
            &secrets,
            &[
                ("the bots' stderr", stderr),
                (
                    "what the bots sent to Slack",
                    self.world.slack.all_bot_output(),
                ),
                (
                    "the database files",
                    hygiene::database_files(self.db.parent().unwrap()),
                ),
            ],
        );
    }

    /// Waits (polling the database, bounded) until `action` has been audited for `id`.
    pub async fn wait_for_audit(&self, id: RotationId, action: &str) {
        let deadline = tokio::time::Instant::now() + super::DEADLINE;
        while self.count(Some(id), action) == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{action} was never recorded for rotation {id}"
            );
            self.world
                .slack
                .wait_until(std::time::Duration::from_millis(50), |_| None::<()>)
                .await
                .ok();
        }
    }
}

impl BinaryWorld {
    pub fn store(&self) -> Store {
        Store::open_read_only(&self.db).unwrap()
    }

    pub fn rotation(&self, id: RotationId) -> Rotation {
        self.store().get_rotation(id).unwrap().unwrap()
    }

    /// How many audit records of `action` name rotation `id` (`None`: any).
    pub fn count(&self, id: Option<RotationId>, action: &str) -> usize {
        self.store()
            .audit_records(&Default::default())
            .unwrap()
            .into_iter()
            .filter(|r| r.action == action && (id.is_none() || r.rotation_id == id.map(|i| i.0)))
            .count()
    }

    pub fn latest(&self) -> Rotation {
        self.store()
            .latest_rotations()
            .unwrap()
            .into_iter()
            .max_by_key(|r| r.id)
            .unwrap()
    }

    /// Waits until the bot shows step `step` of rotation `id`; its message ts.
    pub async fn step_message(&self, id: RotationId, step: &str) -> String {
        let deadline = tokio::time::Instant::now() + super::DEADLINE;
        loop {
            if let Some((_, ts)) = self.store().rotation_message(id, step).unwrap() {
                let shown = self.world.slack.message(CHANNEL, &ts).is_some();
                if shown {
                    return ts;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "step {step} of rotation {id} was never shown"
            );
            self.world
                .slack
                .wait_until(std::time::Duration::from_millis(100), |_| None::<()>)
                .await
                .ok();
        }
    }

    /// Waits (polling the database, bounded) until `check` holds for rotation `id`.
    pub async fn wait_for(&self, id: RotationId, what: &str, check: impl Fn(&Rotation) -> bool) {
        let deadline = tokio::time::Instant::now() + super::DEADLINE;
        loop {
            let rotation = self.rotation(id);
            if check(&rotation) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "rotation {id} never became {what}: {:?}",
                rotation.state
            );
            self.world
                .slack
                .wait_until(std::time::Duration::from_millis(50), |_| None::<()>)
                .await
                .ok();
        }
    }

    /// Waits until the button `action` in the message `ts` can be clicked, then clicks it.
    pub async fn click(&self, bot: &Bot, user: &str, ts: &str, action: &str) {
        self.world
            .slack
            .wait_until(super::DEADLINE, |slack| {
                slack.message(CHANNEL, ts).filter(|m| m.has_button(action))
            })
            .await
            .unwrap_or_else(|_| panic!("no {action} button on {ts}"));
        let click = self
            .world
            .slack
            .click(&bot.base, user, CHANNEL, ts, action)
            .await
            .unwrap();
        assert_eq!(click.reply.status, 200, "{action} is acknowledged");
    }

    /// A new token generated in the fake AWS console (at most two exist at once).
    pub fn generate_token(&self) -> scim_sandbox::aws::GeneratedToken {
        let token = self
            .world
            .cloud
            .aws
            .generate_token(&self.world.cloud.aws_tenant)
            .unwrap();
        self.secrets.lock().unwrap().push(token.secret.clone());
        token
    }

    /// Deletes every AWS token but `keep`, as the lead does in the console.
    pub fn delete_tokens_but(&self, keep: &str) {
        let aws = &self.world.cloud.aws;
        let tenant = &self.world.cloud.aws_tenant;
        for token in aws.tokens(tenant) {
            if token.id != keep && token.deleted.is_none() {
                aws.delete_token(tenant, &token.id).unwrap();
            }
        }
    }

    /// Opens the token modal from the step message and submits `secret`.
    pub async fn submit_token(&self, bot: &Bot, step: &str, secret: &str) {
        if hygiene::searchable(secret) {
            self.secrets.lock().unwrap().push(secret.trim().to_owned());
        }
        self.click(bot, LEAD, step, ids::ENTER_TOKEN).await;
        let modal = super::app::wait_for_modal(&self.world.slack, LEAD).await;
        let submitted = self
            .world
            .slack
            .submit_view(
                &bot.base,
                LEAD,
                &modal.id,
                &[(ids::TOKEN_BLOCK, ids::VALUE, plain_text_value(secret))],
            )
            .await
            .unwrap();
        assert_eq!(
            submitted.reply.status, 200,
            "the submission is acknowledged"
        );
    }

    pub async fn rotate(&self, bot: &Bot) {
        let reply = self
            .world
            .slack
            .slash_command(
                &bot.base,
                MEMBER,
                CHANNEL,
                "/scim",
                &format!("rotate {CONNECTION}"),
            )
            .await
            .unwrap();
        assert_eq!(reply.reply.status, 200);
    }
}

/// One running `scim-rotator run`.
pub struct Bot {
    pub child: Child,
    pub base: Url,
    /// Reads the bot's stderr until it closes.
    stderr: tokio::task::JoinHandle<()>,
}

impl Bot {
    /// Starts the bot and waits until it listens.
    pub async fn start(config: &Path) -> Bot {
        Bot::start_program(&[env!("CARGO_BIN_EXE_scim-rotator")], config).await
    }

    /// [`Bot::start`] with another command line before `run --config FILE` (e.g. a release
    /// build under `taskset -c 0`).
    pub async fn start_program(program: &[&str], config: &Path) -> Bot {
        Bot::start_logging(program, config, "info", None).await
    }

    /// [`Bot::start_program`] with `RUST_LOG` set to `log`, its stderr kept in `keep`.
    pub async fn start_logging(
        program: &[&str],
        config: &Path,
        log: &str,
        keep: Option<Capture>,
    ) -> Bot {
        let mut child = tokio::process::Command::new(program[0])
            .args(&program[1..])
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", log)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = tokio::time::timeout(super::DEADLINE, async {
            let mut log = String::new();
            while let Some(line) = stderr.next_line().await.unwrap() {
                if let Some(keep) = &keep {
                    keep.push_line(&line);
                }
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
        // Keep reading, so the bot never blocks on a full pipe.
        let stderr = tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                if let Some(keep) = &keep {
                    keep.push_line(&line);
                }
            }
        });
        Bot {
            child,
            base: Url::parse(&format!("http://{addr}")).unwrap(),
            stderr,
        }
    }

    /// SIGKILL after a random pause of 0–3 ms: anywhere from "the ack just left" to "the
    /// work after it is under way".
    pub async fn kill_soon(mut self) {
        let pause = rand::random_range(0..=3_000u64);
        tokio::time::sleep(std::time::Duration::from_micros(pause)).await;
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
        self.stderr_read().await;
    }

    /// Waits until the (exited) bot's stderr has been read to its end.
    async fn stderr_read(self) {
        tokio::time::timeout(super::DEADLINE, self.stderr)
            .await
            .expect("the stderr of an exited bot closes")
            .unwrap();
    }

    /// SIGTERM, then waits for the exit; how long it took, and whether it exited cleanly.
    pub async fn terminate(mut self) -> (std::time::Duration, bool) {
        let pid = self.child.id().expect("the bot is running").to_string();
        let started = std::time::Instant::now();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(std::time::Duration::from_secs(40), self.child.wait())
            .await
            .expect("the bot exits after SIGTERM")
            .unwrap();
        let took = started.elapsed();
        self.stderr_read().await;
        (took, status.success())
    }

    /// The most memory the process has held (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        peak_rss_kib(self.child.id().expect("the bot is running"))
    }

    /// `GET /metrics`, as text.
    pub async fn metrics(&self) -> String {
        reqwest::get(self.base.join("metrics").unwrap())
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// The most memory process `pid` has held (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("/proc/PID/status has VmHWM")
}

/// The value of one sample in a Prometheus exposition (`name{labels}` exactly), or 0.
pub fn sample(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map_or(0, |value| value as u64)
}
