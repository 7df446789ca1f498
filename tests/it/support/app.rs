//! The whole bot (`RunningApp`) against the sandbox world: fake Slack, AWS and Microsoft.

use chrono::Duration;
use scim_rotator::app::{RunOptions, RunningApp};
use scim_rotator::clock::{Clock, ManualClock};
use scim_rotator::config::SlackMode;
use scim_rotator::demo::wiring::WorldConfig;
use scim_rotator::slack::render::{self, ConnectionInfo};
use scim_rotator::slack::socket::SocketLiveness;
use scim_sandbox::slack::{FakeSlack, StoredMessage, StoredView};
use scim_sandbox::{SandboxWorld, people::*};
use std::sync::Arc;
use url::Url;

pub struct TestApp {
    pub clock: ManualClock,
    pub world: SandboxWorld,
    pub app: RunningApp,
    /// Holds the database's temporary directory for as long as the app runs.
    _dir: tempfile::TempDir,
    pub url: Url,
}

impl TestApp {
    pub async fn start(mode: SlackMode) -> TestApp {
        TestApp::start_with(mode, |_| {}).await
    }

    /// [`TestApp::start`] with the sandbox's configuration changed by `configure` first.
    pub async fn start_with(
        mode: SlackMode,
        configure: impl FnOnce(&mut scim_rotator::config::Config),
    ) -> TestApp {
        TestApp::start_configured(mode, configure, SocketLiveness::PRODUCTION).await
    }

    /// [`TestApp::start_with`] with Socket Mode liveness as given.
    pub async fn start_configured(
        mode: SlackMode,
        configure: impl FnOnce(&mut scim_rotator::config::Config),
        socket_liveness: SocketLiveness,
    ) -> TestApp {
        let clock = ManualClock::new(super::start_time());
        // The current token is 355 days old: it expires in 10 days.
        let world = SandboxWorld::start(Arc::new(clock.clone()), Duration::days(355)).await;
        let dir = tempfile::tempdir().unwrap();
        let mut config = world.config(&dir.path().join("bot.db"), mode);
        configure(&mut config);
        let app = RunningApp::start_with_socket_liveness(
            &config,
            RunOptions {
                clock: Arc::new(clock.clone()),
                retry: super::test_retry(),
                run_scheduler: false,
                slack_pacing: scim_rotator::slack::api::Pacing::Unpaced,
            },
            socket_liveness,
        )
        .await
        .unwrap();
        let url = Url::parse(&format!("http://{}", app.addr)).unwrap();
        let test = TestApp {
            clock,
            world,
            app,
            _dir: dir,
            url,
        };
        test.register_current_token().await;
        test
    }

    /// The directory holding the database files (`bot.db`, `-wal`, `-shm`).
    pub fn db_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn slack(&self) -> &FakeSlack {
        &self.world.slack
    }

    async fn register_current_token(&self) {
        let current = &self.world.cloud.current_token;
        let lead = scim_rotator::rotation::Actor::user(LEAD, true);
        self.app
            .engine
            .register_token(CONNECTION, &current.id, current.created, &lead)
            .await
            .unwrap();
    }

    /// Posts the expiry warning as the scheduler does; returns its ts.
    pub async fn post_warning(&self) -> String {
        let token = self
            .app
            .engine
            .store()
            .current_token(CONNECTION)
            .unwrap()
            .unwrap();
        let now = self.clock.now();
        let threshold = scim_rotator::rotation::expiry::threshold_reached(
            token.expires_at.unwrap(),
            now,
            &[30, 14, 7, 3, 1],
        )
        .unwrap();
        let conn = ConnectionInfo {
            name: CONNECTION,
            aws_region: scim_sandbox::SANDBOX_REGION,
        };
        let message = render::expiry_warning(&conn, &token, threshold, now, None);
        self.app
            .bot
            .api
            .post_message(CHANNEL, None, message.text, message.blocks)
            .await
            .unwrap()
    }

    /// `user` runs `/scim rotate <connection>` over `to`; returns the reply body and the
    /// approval request the bot then posts at the top of the channel.
    pub async fn rotate_by_command(
        &self,
        to: impl Into<scim_sandbox::slack::Transport>,
        user: &str,
    ) -> (String, StoredMessage) {
        let reply = self
            .slack()
            .slash_command(to, user, CHANNEL, "/scim", &format!("rotate {CONNECTION}"))
            .await
            .unwrap()
            .reply
            .body;
        let approval = self
            .slack()
            .wait_until(super::DEADLINE, |slack| {
                slack.messages(CHANNEL).into_iter().find(|m| {
                    m.thread_ts.is_none() && m.has_button(scim_rotator::slack::ids::APPROVE)
                })
            })
            .await
            .expect("the approval request starts a thread in the channel");
        (reply, approval)
    }

    /// Waits until the thread under `parent` has a message with a button `action_id`.
    pub async fn wait_for_button(&self, parent: &str, action_id: &str) -> StoredMessage {
        self.slack()
            .wait_until(super::DEADLINE, |slack| {
                slack
                    .thread(CHANNEL, parent)
                    .into_iter()
                    .chain(slack.message(CHANNEL, parent))
                    .find(|m| m.has_button(action_id))
            })
            .await
            .unwrap_or_else(|_| {
                panic!("no message with a {action_id} button in the thread of {parent}")
            })
    }

    /// Waits until `user` has a modal open (the bot opens it right after the ack); the
    /// newest one.
    pub async fn wait_for_modal(&self, user: &str) -> StoredView {
        wait_for_modal(self.slack(), user).await
    }

    /// Waits until `user` got an ephemeral message containing `text`.
    pub async fn wait_for_ephemeral(&self, user: &str, text: &str) -> String {
        let (who, needle) = (user.to_owned(), text.to_owned());
        self.slack()
            .wait_until(super::DEADLINE, move |slack| {
                slack
                    .ephemerals()
                    .into_iter()
                    .find(|e| e.user == who && e.text.contains(&needle))
                    .map(|e| e.text)
            })
            .await
            .unwrap_or_else(|_| panic!("{user} got no ephemeral message saying {text:?}"))
    }

    /// The first audit record of `action`.
    pub fn audit_record(&self, action: &str) -> Option<scim_rotator::audit::AuditRecord> {
        self.app
            .engine
            .store()
            .audit_records(&Default::default())
            .unwrap()
            .into_iter()
            .find(|r| r.action == action)
    }

    pub fn audit_actions(&self) -> Vec<(String, String)> {
        self.app
            .engine
            .store()
            .audit_records(&Default::default())
            .unwrap()
            .into_iter()
            .map(|r| (r.actor, r.action))
            .collect()
    }
}

/// Waits until `user` has a modal open in `slack`; the newest one.
pub async fn wait_for_modal(slack: &FakeSlack, user: &str) -> StoredView {
    let who = user.to_owned();
    slack
        .wait_until(super::DEADLINE, move |slack| slack.open_views(&who).pop())
        .await
        .unwrap_or_else(|_| panic!("no modal opened for {user}"))
}
