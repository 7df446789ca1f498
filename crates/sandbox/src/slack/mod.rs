//! A model of Slack for the bot's tests and the `demo` command.
//!
//! [`FakeSlack`] plays both sides Slack plays:
//! - **The Web API the bot calls** (`chat.postMessage`, `views.open`, …) on
//!   `http://127.0.0.1:PORT/api/<method>`: bearer tokens checked, JSON or form bodies, the
//!   answers and error codes Slack gives, Block Kit limits enforced, and every request
//!   recorded byte for byte ([`FakeSlack::calls`]) so a test can prove a secret never left.
//! - **The people using Slack**: a click on a button that is really in a stored message, a
//!   modal submission built from the view the bot really opened, a slash command, an
//!   Events API delivery — signed as Slack signs them and posted to the bot over HTTP, or
//!   sent as Socket Mode envelopes over the WebSocket that `apps.connections.open` hands
//!   out ([`Transport`]).
//!
//! Time comes from the injected clock: message `ts`, trigger expiry and request signatures
//! all follow it, so a test that moves a `ManualClock` moves Slack with it.
//!
//! ```no_run
//! # async fn example() {
//! use scim_domain::clock::{ManualClock, SharedClock};
//! use scim_sandbox::slack::FakeSlack;
//! use std::sync::Arc;
//!
//! let clock = ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap());
//! let slack = FakeSlack::start(Arc::new(clock.clone()) as SharedClock).await;
//! slack.add_channel("C0SCIM", "scim-tokens");
//! slack.add_user("U0LEAD", "lead");
//! // configure the bot with slack.api_url(), identity::BOT_TOKEN, identity::SIGNING_SECRET …
//! # }
//! ```

mod connections;
mod delivery;
mod error;
pub mod identity;
mod interactivity;
pub mod limits;
mod model;
mod payloads;
pub mod signing;
mod socket_mode;
mod web_api;

pub use connections::ConnectionCounts;
pub use delivery::{BotReply, CapturedRequest, DELIVERY_TIMEOUT, Transport};
pub use error::{InteractionError, WaitTimedOut};
pub use interactivity::{Click, SlashCommand, Submission, UrlVerification, ViewOutcome};
pub use model::{
    Channel, Ephemeral, MessageVersion, RESPONSE_URL_MAX_USES, RESPONSE_URL_TTL, RecordedCall,
    RecordedDelivery, SlackFault, StoredMessage, StoredView, TRIGGER_TTL, User, UserGroup,
    ViewKind,
};
pub use payloads::{datepicker_value, plain_text_value};
pub use signing::{SignatureMode, SigningOptions};
pub use socket_mode::{Ack, Envelope, EnvelopeKind, SocketModeError};

use chrono::{DateTime, Utc};
use model::Workspace;
use scim_domain::clock::SharedClock;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use url::Url;

/// A running fake Slack. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeSlack {
    shared: Arc<Shared>,
    _server: Arc<ServerGuard>,
}

/// State shared by the HTTP handlers, the WebSocket connections and the client side.
struct Shared {
    clock: SharedClock,
    /// `http://127.0.0.1:PORT/`.
    base_url: Url,
    workspace: Mutex<Workspace>,
    sockets: socket_mode::Hub,
    /// Turns `true` when the fake stops: hanging calls and WebSocket connections end.
    shutdown: watch::Receiver<bool>,
    /// Client for deliveries to the bot, with Slack's response deadline.
    http: reqwest::Client,
    /// Bumped whenever the bot does something visible (a call, an answer, a frame), so
    /// [`FakeSlack::wait_until`] re-checks exactly then instead of polling.
    activity: watch::Sender<u64>,
    /// A change applied to the next payload delivered ([`FakeSlack::tamper_next`]).
    tamper: Mutex<Option<Tamper>>,
    /// The last signed HTTP request sent to the bot, byte for byte, as an attacker on the
    /// path would capture it ([`FakeSlack::replay_last_request`]).
    last_signed: Mutex<Option<delivery::CapturedRequest>>,
    /// The TCP connections the bot holds to this fake, counted as they are accepted.
    connections: Arc<ConnectionCounts>,
}

/// Changes a payload (for a slash command: its fields as a JSON object of strings).
pub type Tamper = Box<dyn FnOnce(&mut serde_json::Value) + Send>;

impl Shared {
    fn workspace(&self) -> MutexGuard<'_, Workspace> {
        // A test that panicked while holding the lock leaves consistent-enough state for
        // the assertions that follow; don't turn one failure into many.
        self.workspace.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn touch(&self) {
        self.activity.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn record_call(&self, call: RecordedCall) {
        self.workspace().calls.push(call);
        self.touch();
    }
}

struct ServerGuard {
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.task.abort();
    }
}

impl FakeSlack {
    /// Starts on `127.0.0.1` on a free port.
    pub async fn start(clock: SharedClock) -> FakeSlack {
        FakeSlack::start_at(SocketAddr::from(([127, 0, 0, 1], 0)), clock)
            .await
            .expect("binding a free port on 127.0.0.1 succeeds")
    }

    /// Starts on a given address (the demo uses a fixed port so people can point tools at it).
    pub async fn start_at(addr: SocketAddr, clock: SharedClock) -> std::io::Result<FakeSlack> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let base_url =
            Url::parse(&format!("http://{local}/")).expect("a socket address makes a valid URL");
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            clock,
            base_url,
            workspace: Mutex::new(Workspace::default()),
            sockets: socket_mode::Hub::default(),
            shutdown: shutdown_rx,
            http: delivery_client(DELIVERY_TIMEOUT),
            activity: watch::channel(0).0,
            tamper: Mutex::new(None),
            last_signed: Mutex::new(None),
            connections: Arc::new(ConnectionCounts::default()),
        });
        let app = web_api::router(shared.clone()).merge(socket_mode::router(shared.clone()));
        let listener = connections::CountingListener {
            inner: listener,
            counts: Arc::clone(&shared.connections),
        };
        let task = tokio::spawn(async move {
            // Only ends when aborted or on an accept error, which the tests would notice.
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeSlack {
            shared,
            _server: Arc::new(ServerGuard {
                shutdown: shutdown_tx,
                task,
            }),
        })
    }

    /// Base URL of the Web API, `http://127.0.0.1:PORT/api` (no trailing slash: clients
    /// append `/<method>`). Configure the bot's `[slack] api_url` with it.
    pub fn api_url(&self) -> Url {
        self.shared
            .base_url
            .join("api")
            .expect("`api` is a valid relative URL")
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn base_url(&self) -> Url {
        self.shared.base_url.clone()
    }

    /// The TCP connections made to this fake (Web API and Socket Mode alike), as its side
    /// sees them: accepted so far, open now, most open at once.
    pub fn connections(&self) -> &ConnectionCounts {
        &self.shared.connections
    }

    /// The clock the fake reads (the one it was started with).
    pub fn clock(&self) -> SharedClock {
        self.shared.clock.clone()
    }

    // ----- workspace setup ---------------------------------------------------------------

    /// Adds a public channel with the bot already invited.
    pub fn add_channel(&self, id: &str, name: &str) {
        let now = self.shared.now();
        self.shared.workspace().add_channel(id, name, now);
    }

    /// Invites the bot to, or removes it from, a channel (`not_in_channel` when posting).
    /// Returns `false` when there is no such channel.
    pub fn set_bot_in_channel(&self, channel: &str, member: bool) -> bool {
        self.shared.workspace().set_bot_membership(channel, member)
    }

    /// Adds a person; only known people can click, submit or run commands.
    /// Grants the bot token only `scopes`: methods that need another answer `missing_scope`,
    /// as Slack does. By default every scope is granted.
    pub fn grant_scopes(&self, scopes: &[&str]) {
        self.shared.workspace().scopes = Some(scopes.iter().map(|s| (*s).to_owned()).collect());
    }

    pub fn add_user(&self, id: &str, name: &str) {
        self.shared.workspace().add_user(id, name);
    }

    /// Adds (or replaces) a user group `id` (`S…`) known as `@handle`.
    pub fn add_usergroup(&self, id: &str, handle: &str, members: &[&str]) {
        self.shared.workspace().add_usergroup(id, handle, members);
    }

    /// An admin changes a group's members: the group changes at once (what
    /// `usergroups.users.list` answers) and the returned `event_callback` with
    /// `subteam_members_changed` is what Slack delivers — send it with [`FakeSlack::event`]
    /// (or not, to model a lost event).
    pub fn set_usergroup_members(&self, id: &str, members: &[&str]) -> Option<serde_json::Value> {
        let now = self.shared.now();
        let event = self
            .shared
            .workspace()
            .set_usergroup_members(now, id, members)?;
        Some(self.event_callback(event))
    }

    /// The `event_callback` with `subteam_updated` for a group as it is now.
    pub fn usergroup_updated_event(&self, id: &str) -> Option<serde_json::Value> {
        let now = self.shared.now();
        let event = self.shared.workspace().usergroup_updated(now, id)?;
        Some(self.event_callback(event))
    }

    // ----- what Slack holds --------------------------------------------------------------

    /// The bot's messages in a channel (id or name), in posting order, threads included.
    pub fn messages(&self, channel: &str) -> Vec<StoredMessage> {
        self.shared.workspace().messages(channel)
    }

    /// The newest message in `channel` (top level or in a thread) with a button `action_id`.
    pub fn newest_with_button(&self, channel: &str, action_id: &str) -> Option<StoredMessage> {
        self.messages(channel)
            .into_iter()
            .rev()
            .find(|m| m.has_button(action_id))
    }

    /// One message by channel and `ts`.
    pub fn message(&self, channel: &str, ts: &str) -> Option<StoredMessage> {
        self.shared.workspace().message(channel, ts).cloned()
    }

    /// The replies in the thread under `parent_ts`, oldest first.
    pub fn thread(&self, channel: &str, parent_ts: &str) -> Vec<StoredMessage> {
        self.messages(channel)
            .into_iter()
            .filter(|m| m.thread_ts.as_deref() == Some(parent_ts))
            .collect()
    }

    /// Every ephemeral message shown to anyone, oldest first.
    pub fn ephemerals(&self) -> Vec<Ephemeral> {
        self.shared.workspace().ephemerals()
    }

    /// The modals the user has open, bottom of the stack first.
    pub fn open_views(&self, user: &str) -> Vec<StoredView> {
        self.shared.workspace().open_views(user)
    }

    /// The user's Home tab, once the bot has published one.
    pub fn home_view(&self, user: &str) -> Option<StoredView> {
        self.shared.workspace().home_view(user)
    }

    /// A view (modal or Home tab) by id, open or closed.
    pub fn view(&self, id: &str) -> Option<StoredView> {
        self.shared.workspace().view(id).cloned()
    }

    /// Every view ever opened or published.
    pub fn views(&self) -> Vec<StoredView> {
        self.shared.workspace().views()
    }

    /// The people of the workspace, by id.
    pub fn users(&self) -> Vec<User> {
        self.shared.workspace().users()
    }

    /// The workspace's user groups, by id.
    pub fn usergroups(&self) -> Vec<UserGroup> {
        self.shared.workspace().usergroups()
    }

    /// A channel by id or name.
    pub fn channel(&self, reference: &str) -> Option<Channel> {
        self.shared.workspace().channel(reference).cloned()
    }

    /// Changes whenever the bot does something visible (see [`FakeSlack::wait_until`]):
    /// for a page that redraws when the bot posts, edits or opens a view.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.shared.activity.subscribe()
    }

    /// Every Web API request the bot made (and every `response_url` post), in order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.workspace().calls.clone()
    }

    /// The recorded calls of one method.
    pub fn calls_to(&self, method: &str) -> Vec<RecordedCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// Every delivery to the bot (HTTP or Socket Mode) and the bot's answer.
    pub fn deliveries(&self) -> Vec<RecordedDelivery> {
        self.shared.workspace().deliveries.clone()
    }

    /// Everything the bot ever sent to Slack, concatenated: Web API requests and
    /// `response_url` posts (query and body), answers to deliveries, Socket Mode acks and
    /// any other frame. Search it to prove a secret never reached Slack.
    pub fn all_bot_output(&self) -> String {
        let mut out = String::new();
        {
            let workspace = self.shared.workspace();
            for call in &workspace.calls {
                out.push_str(&call.raw);
                out.push('\n');
            }
            for delivery in &workspace.deliveries {
                out.push_str(&delivery.reply);
                out.push('\n');
            }
        }
        for frame in self.shared.sockets.received_frames() {
            out.push_str(&frame);
            out.push('\n');
        }
        out
    }

    /// Waits until `check` finds what it looks for, re-checking after everything the bot
    /// does (Web API calls, answers, Socket Mode frames): tests await the bot's background
    /// work this way, without sleeping.
    ///
    /// ```no_run
    /// # async fn example(slack: scim_sandbox::slack::FakeSlack) {
    /// # use std::time::Duration;
    /// let edited = slack
    ///     .wait_until(Duration::from_secs(5), |s| {
    ///         s.messages("C0SCIM").into_iter().find(|m| m.edits > 0)
    ///     })
    ///     .await
    ///     .unwrap();
    /// # }
    /// ```
    pub async fn wait_until<T>(
        &self,
        deadline: Duration,
        mut check: impl FnMut(&FakeSlack) -> Option<T>,
    ) -> Result<T, WaitTimedOut> {
        let until = Instant::now() + deadline;
        let mut activity = self.shared.activity.subscribe();
        loop {
            // Mark the current state seen *before* checking, so nothing slips in between.
            activity.borrow_and_update();
            if let Some(found) = check(self) {
                return Ok(found);
            }
            match tokio::time::timeout_at(until, activity.changed()).await {
                Ok(Ok(())) => {}
                _ => return Err(WaitTimedOut(deadline)),
            }
        }
    }

    /// Issues a `trigger_id` for `user` now, as an interaction would (for tests that call
    /// `views.open` themselves).
    pub fn issue_trigger(&self, user: &str) -> String {
        let now = self.shared.now();
        self.shared.workspace().issue_trigger(now, user)
    }

    // ----- fault injection ---------------------------------------------------------------

    /// Makes the next call of `method` fail as described (queued: several faults apply to
    /// the next calls in turn). The call is still recorded; the model is not changed.
    pub fn fail_next(&self, method: &str, fault: SlackFault) {
        self.shared.workspace().push_fault(method, fault);
    }

    /// The next call of `method` gets HTTP 429 with `Retry-After: retry_after_secs`.
    pub fn rate_limit_next(&self, method: &str, retry_after_secs: u64) {
        self.fail_next(method, SlackFault::RateLimited { retry_after_secs });
    }

    /// The next call of `method` takes effect at once but is answered only after `after`.
    pub fn slow_next(&self, method: &str, after: Duration) {
        self.fail_next(method, SlackFault::Slow(after));
    }

    /// The next call of `method` never gets an answer (until the fake is dropped).
    pub fn hang_next(&self, method: &str) {
        self.fail_next(method, SlackFault::Hang);
    }
}

/// The client the fake Slack delivers signed requests and Socket Mode's peers with: plain HTTP
/// to loopback, with a timeout, following no redirect (as Slack does not).
fn delivery_client(timeout: std::time::Duration) -> reqwest::Client {
    // reqwest's TLS stack is compiled in (the product needs it) and wants a rustls crypto
    // provider before a client is built, even one that only speaks plain HTTP. Err means one is
    // installed already, which serves just as well.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client with only a timeout always builds")
}
