//! Stories: one running bot against the sandbox world, told in the verbs of the people in the
//! channel, in the spirit of rust-lang/bors' `run_test(|ctx| …)`.
//!
//! ```ignore
//! story(async |s| {
//!     s.requests_rotation().await;
//!     s.lead().clicks(ids::APPROVE).await;
//!     let new = s.aws_generates_token();
//!     s.lead().submits_token(&new.secret).await;
//!     s.thread().waits_for_button(ids::CONFIRM_DELETED).await;
//! })
//! .await;
//! ```
//!
//! The story's log lines (at trace, the product's) are captured for its thread: tests run on
//! tokio's current-thread runtime, so the bot's tasks log there too. When the story ends the
//! bot is shut down and every output it produced — the log lines, what the bot sent to the
//! fake Slack (Web API calls, answers, Socket Mode frames) and the database files — is searched
//! for every token the story entered or had AWS generate, and for the current token.

use super::app::TestApp;
use super::hygiene::{self, Capture};
use scim_rotator::config::{Config, SlackMode};
use scim_rotator::rotation::{Rotation, RotationState, TokenRecord};
use scim_rotator::slack::ids;
use scim_rotator::slack::socket::SocketLiveness;
use scim_sandbox::aws::GeneratedToken;
use scim_sandbox::people::*;
use scim_sandbox::slack::{
    BotReply, Click, StoredMessage, StoredView, Submission, Transport, plain_text_value,
};
use serde_json::Value;
use std::sync::Mutex;

/// What is logged during a story: everything of the product's, nothing of the fakes' (which
/// handle the token legitimately, as AWS and Microsoft do).
const LOG_FILTER: &str = "trace,scim_sandbox=off";

/// Sends this thread's log lines (the product's, at trace) to `logs` until the guard drops.
pub fn capture_logs(logs: &Capture) -> tracing::subscriber::DefaultGuard {
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(LOG_FILTER))
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    tracing::subscriber::set_default(subscriber)
}

/// A story over HTTP with the sandbox's default configuration.
pub async fn story(body: impl AsyncFnOnce(&Story)) {
    Setting::over(SlackMode::Http).run(body).await
}

/// How the story's bot is set up.
pub struct Setting {
    mode: SlackMode,
    configure: Box<dyn FnOnce(&mut Config)>,
    liveness: SocketLiveness,
}

impl Setting {
    pub fn over(mode: SlackMode) -> Setting {
        Setting {
            mode,
            configure: Box::new(|_| {}),
            liveness: SocketLiveness::PRODUCTION,
        }
    }

    /// The sandbox's configuration changed by `configure` before the bot starts.
    pub fn configured(mut self, configure: impl FnOnce(&mut Config) + 'static) -> Setting {
        self.configure = Box::new(configure);
        self
    }

    /// Socket Mode liveness shortened (production's takes ~25 s to notice a silent socket).
    pub fn socket_liveness(mut self, liveness: SocketLiveness) -> Setting {
        self.liveness = liveness;
        self
    }

    /// Starts the bot, tells the story, shuts the bot down and checks its outputs.
    pub async fn run(self, body: impl AsyncFnOnce(&Story)) {
        let logs = Capture::default();
        let _logging = capture_logs(&logs);

        let app = TestApp::start_configured(self.mode, self.configure, self.liveness).await;
        let transport = match self.mode {
            SlackMode::Http => Transport::from(&app.url),
            SlackMode::Socket => {
                app.slack()
                    .wait_for_socket_connections(1, super::DEADLINE)
                    .await
                    .expect("the bot opens its Socket Mode connection");
                Transport::SocketMode
            }
        };
        let story = Story {
            test: app,
            transport,
            thread: Mutex::new(None),
            secrets: Mutex::new(Vec::new()),
        };
        body(&story).await;
        story.end(&logs).await;
    }
}

/// The running bot, its sandbox world, and what the story has told so far.
pub struct Story {
    test: TestApp,
    transport: Transport,
    /// The ts of the message whose thread the rotation lives in.
    thread: Mutex<Option<String>>,
    /// Every token typed or generated during the story.
    secrets: Mutex<Vec<String>>,
}

impl std::ops::Deref for Story {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.test
    }
}

impl Story {
    async fn end(self, logs: &Capture) {
        let Story {
            test: app, secrets, ..
        } = self;
        let mut secrets = secrets.into_inner().unwrap();
        secrets.push(app.world.cloud.current_token.secret.clone());
        let slack = app.slack().all_bot_output();
        let dir = app.db_dir().to_owned();
        let TestApp { app: running, .. } = app;
        running.shutdown().await;
        let logs = logs.text();
        assert!(
            logs.contains("scim_rotator"),
            "the story's log lines were captured"
        );
        hygiene::assert_absent(
            &secrets,
            &[
                ("the log lines", logs),
                ("what the bot sent to Slack", slack),
                ("the database files", hygiene::database_files(&dir)),
            ],
        );
    }

    /// The way the fake Slack reaches the bot in this story.
    pub fn transport(&self) -> Transport {
        self.transport.clone()
    }

    pub fn member(&self) -> Person<'_> {
        self.person(MEMBER)
    }

    pub fn other_member(&self) -> Person<'_> {
        self.person(OTHER_MEMBER)
    }

    /// The lead named in the configuration.
    pub fn lead(&self) -> Person<'_> {
        self.person(LEAD)
    }

    /// A lead through the approver user group.
    pub fn group_lead(&self) -> Person<'_> {
        self.person(GROUP_LEAD)
    }

    pub fn person(&self, user: &'static str) -> Person<'_> {
        Person { story: self, user }
    }

    /// The thread the rotation lives in (the warning's, or the request's when started by
    /// command).
    pub fn thread(&self) -> Thread<'_> {
        let ts = self
            .thread
            .lock()
            .unwrap()
            .clone()
            .expect("the story has a thread: a warning or a request was posted");
        Thread { story: self, ts }
    }

    fn set_thread(&self, ts: &str) {
        *self.thread.lock().unwrap() = Some(ts.to_owned());
    }

    fn remember(&self, secret: &str) {
        if hygiene::searchable(secret) {
            self.secrets.lock().unwrap().push(secret.trim().to_owned());
        }
    }

    /// The expiry warning, posted as the monitor does; its ts (and the story's thread).
    pub async fn posts_warning(&self) -> String {
        let ts = self.test.post_warning().await;
        self.set_thread(&ts);
        ts
    }

    /// The monitor's sweep at the story's clock, then the channel caught up.
    pub async fn sweeps(&self) -> scim_rotator::scheduler::SweepReport {
        use scim_rotator::clock::Clock;
        let report = self.app.scheduler.sweep(self.clock.now()).await;
        self.app.presented().await;
        report
    }

    /// The sweep posts the expiry warning (the first of the story): its ts, and the story's
    /// thread.
    pub async fn monitor_warns(&self) -> String {
        let report = self.sweeps().await;
        assert_eq!(report.posted(), 1, "{:?}", report.lines());
        let top: Vec<StoredMessage> = self
            .slack()
            .messages(CHANNEL)
            .into_iter()
            .filter(|m| m.thread_ts.is_none())
            .collect();
        assert_eq!(top.len(), 1, "one warning at the top of the channel");
        self.set_thread(&top[0].ts);
        top[0].ts.clone()
    }

    /// The warning, and the member's click on its *Start rotation*: the request waits for
    /// approval in the warning's thread. Returns the approval request.
    pub async fn requests_rotation(&self) -> StoredMessage {
        self.posts_warning().await;
        self.member().clicks(ids::START_ROTATION).await;
        self.thread().waits_for_button(ids::APPROVE).await
    }

    /// `user` runs `/scim rotate`; the approval request starts the story's thread. Returns
    /// the command's reply and the request.
    pub async fn rotate_by_command(&self, user: &str) -> (String, StoredMessage) {
        let (reply, approval) = self.test.rotate_by_command(self.transport(), user).await;
        self.set_thread(&approval.ts);
        (reply, approval)
    }

    /// A rotation requested and approved by the lead: step 1, asking for the new token.
    pub async fn approved_rotation(&self) -> StoredMessage {
        self.requests_rotation().await;
        self.lead().clicks(ids::APPROVE).await;
        self.thread().waits_for_button(ids::ENTER_TOKEN).await
    }

    /// A new token generated in the fake AWS console (searched for at the end).
    pub fn aws_generates_token(&self) -> GeneratedToken {
        let token = self
            .world
            .cloud
            .aws
            .generate_token(&self.world.cloud.aws_tenant)
            .unwrap();
        self.remember(&token.secret);
        token
    }

    /// The lead deletes the token the story began with in the AWS console.
    pub fn aws_deletes_old_token(&self) {
        let old = &self.world.cloud.current_token;
        self.world
            .cloud
            .aws
            .delete_token(&self.world.cloud.aws_tenant, &old.id)
            .unwrap();
    }

    /// The latest rotation of each connection.
    pub fn rotations(&self) -> Vec<Rotation> {
        self.app.engine.store().latest_rotations().unwrap()
    }

    /// The newest rotation.
    pub fn rotation(&self) -> Rotation {
        self.rotations()
            .into_iter()
            .max_by_key(|r| r.id)
            .expect("a rotation exists")
    }

    /// The token the bot holds as current for the connection.
    pub fn current_token(&self) -> TokenRecord {
        self.app
            .engine
            .store()
            .current_token(CONNECTION)
            .unwrap()
            .expect("a current token")
    }

    /// Every envelope the fake sent over Socket Mode was acknowledged.
    pub fn assert_every_envelope_acked(&self) {
        let acked: Vec<String> = self
            .slack()
            .acks()
            .into_iter()
            .map(|a| a.envelope_id)
            .collect();
        for envelope in self.slack().envelopes_sent() {
            assert!(
                acked.contains(&envelope.envelope_id),
                "envelope {} was acknowledged",
                envelope.envelope_id
            );
        }
    }

    pub fn state(&self) -> RotationState {
        self.rotation().state
    }

    /// The audit trail: (actor, action), oldest first.
    pub fn audit(&self) -> Vec<(String, String)> {
        self.test.audit_actions()
    }

    /// How many audit records of `action` there are.
    pub fn audited(&self, action: &str) -> usize {
        self.audit().iter().filter(|(_, a)| a == action).count()
    }
}

/// Someone in the channel.
#[derive(Clone, Copy)]
pub struct Person<'s> {
    story: &'s Story,
    user: &'static str,
}

impl Person<'_> {
    /// Clicks `action` on the newest message of the channel carrying it (waiting for it to
    /// show); the click is acknowledged and the bot's channel caught up.
    pub async fn clicks(&self, action: &str) -> Click {
        let ts = self
            .story
            .slack()
            .wait_until(super::DEADLINE, |slack| {
                slack.newest_with_button(CHANNEL, action).map(|m| m.ts)
            })
            .await
            .unwrap_or_else(|_| panic!("no message with a {action} button for {}", self.user));
        self.clicks_on(&ts, action).await
    }

    /// Clicks `action` on the message `ts`; acknowledged, and the channel caught up.
    pub async fn clicks_on(&self, ts: &str, action: &str) -> Click {
        let click = self
            .story
            .slack()
            .click(self.story.transport(), self.user, CHANNEL, ts, action)
            .await
            .unwrap();
        assert_eq!(click.reply.status, 200, "{action} is acknowledged");
        self.story.app.presented().await;
        click
    }

    /// Clicks *Enter new token* on the newest step asking for it; the modal that opens.
    pub async fn opens_token_modal(&self) -> StoredView {
        self.clicks(ids::ENTER_TOKEN).await;
        self.sees_modal().await
    }

    /// The newest modal this person has open (waiting for it).
    pub async fn sees_modal(&self) -> StoredView {
        self.story.wait_for_modal(self.user).await
    }

    /// Opens the token modal and submits `secret` in it.
    pub async fn submits_token(&self, secret: &str) -> Submission {
        let modal = self.opens_token_modal().await;
        self.submits_token_in(&modal.id, secret).await
    }

    /// Submits `secret` alone in the token modal `view`, already open.
    pub async fn submits_token_in(&self, view: &str, secret: &str) -> Submission {
        self.submits(
            view,
            &[(ids::TOKEN_BLOCK, ids::VALUE, plain_text_value(secret))],
        )
        .await
    }

    /// Submits the modal `view` with `values`; whatever is typed into the token field is
    /// searched for at the end.
    pub async fn submits(&self, view: &str, values: &[(&str, &str, Value)]) -> Submission {
        for (block, _, value) in values {
            if *block == ids::TOKEN_BLOCK
                && let Some(typed) = value["value"].as_str()
            {
                self.story.remember(typed);
            }
        }
        self.story
            .slack()
            .submit_view(self.story.transport(), self.user, view, values)
            .await
            .unwrap()
    }

    /// Runs `/scim <text>` in the channel; the reply's body.
    pub async fn runs(&self, text: &str) -> String {
        self.runs_in(CHANNEL, text).await
    }

    /// Runs `/scim <text>` in `channel`; the reply's body.
    pub async fn runs_in(&self, channel: &str, text: &str) -> String {
        let reply = self.sends_command(channel, text).await;
        assert_eq!(reply.status, 200, "/scim {text} is acknowledged");
        reply.body
    }

    /// Sends `/scim <text>` in `channel`, whatever the answer.
    pub async fn sends_command(&self, channel: &str, text: &str) -> BotReply {
        self.story
            .slack()
            .slash_command(self.story.transport(), self.user, channel, "/scim", text)
            .await
            .unwrap()
            .reply
    }

    /// Waits until this person is shown an ephemeral message containing `text`.
    pub async fn is_told(&self, text: &str) -> String {
        self.story.wait_for_ephemeral(self.user, text).await
    }
}

/// The thread a rotation lives in.
pub struct Thread<'s> {
    story: &'s Story,
    ts: String,
}

impl Thread<'_> {
    /// The message heading the thread, as it is now.
    pub fn root(&self) -> StoredMessage {
        self.story.slack().message(CHANNEL, &self.ts).unwrap()
    }

    /// The replies, oldest first.
    pub fn replies(&self) -> Vec<StoredMessage> {
        self.story.slack().thread(CHANNEL, &self.ts)
    }

    /// Waits until a reply (or the head) carries a button `action`.
    pub async fn waits_for_button(&self, action: &str) -> StoredMessage {
        self.story.wait_for_button(&self.ts, action).await
    }

    /// Waits until a reply says `text` (in its text or blocks).
    pub async fn waits_for_line(&self, text: &str) -> StoredMessage {
        let ts = self.ts.clone();
        self.story
            .slack()
            .wait_until(super::DEADLINE, |slack| {
                slack
                    .thread(CHANNEL, &ts)
                    .into_iter()
                    .find(|m| m.text.contains(text) || m.blocks.to_string().contains(text))
            })
            .await
            .unwrap_or_else(|_| panic!("no line saying {text:?} in the thread of {ts}"))
    }
}
