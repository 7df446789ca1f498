//! `scim-rotator demo --web`: the sandbox and the real bot, as in [`super::run`], with a
//! local web app in front of them, so a person plays every role of the rotation themselves:
//! a Slack-like page drawn from the fake Slack's own state (channel, threads, ephemerals,
//! modals, Home tab), the fake AWS console's access tokens, the fake Entra provisioning
//! page, and a clock that jumps ahead.
//!
//! Every click and modal submission goes through the fake Slack's side of interactivity
//! (signed, to the bot's real HTTP endpoints), exactly as the terminal demo's do. The page's
//! HTML, CSS and JS are compiled into the binary ([`assets`]): nothing is fetched at run
//! time. The server binds loopback by default and ends, with everything it started, on
//! Ctrl-C.

mod api;
mod assets;
mod state;

use super::wiring::WorldConfig;
use crate::app::{RunOptions, RunningApp};
use crate::clock::{Clock, JumpClock, SharedClock};
use crate::config::SlackMode;
use crate::engine::Engine;
use crate::retry::RetryPolicy;
use crate::rotation::Actor;
use crate::scheduler::Scheduler;
use crate::slack::api::Pacing;
use anyhow::Context;
use chrono::Duration;
use scim_sandbox::SandboxWorld;
use scim_sandbox::people::*;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

/// Where `demo --web` listens unless told otherwise: loopback, a port few tools use.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8731";

/// The connection's token was created this long ago (355 days less an hour): it expires in
/// 10 days, and the first warning says so also when the page is opened a while later.
fn token_age() -> Duration {
    Duration::days(super::TOKEN_AGE_DAYS) - Duration::hours(1)
}

/// How long in-flight page requests get to finish at shutdown before they are cut.
const SERVER_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub struct WebOptions {
    /// The web app's address (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// The clock the sandbox's time starts from and runs with (the wall clock, or a test's
    /// manual clock); the page's time control jumps ahead of it.
    pub clock: SharedClock,
    /// Slack's limits for a person watching; unpaced in tests.
    pub slack_pacing: Pacing,
}

/// What the page's handlers act on: the sandbox, the bot's engine and sweep, the clock.
pub(crate) struct Stage {
    pub world: SandboxWorld,
    pub engine: Arc<Engine>,
    pub scheduler: Arc<Scheduler>,
    pub clock: JumpClock,
    /// The bot's `slack.approvers` and `slack.approver_groups`: who the page calls a lead.
    pub approvers: Vec<String>,
    pub approver_groups: Vec<String>,
    /// Where the fake Slack delivers clicks and submissions: the bot's HTTP endpoints.
    pub bot_url: Url,
    /// Bumped when the page changes the AWS or Entra fakes or the clock (the fake Slack
    /// has its own [`scim_sandbox::slack::FakeSlack::changes`]).
    pub changes: watch::Sender<u64>,
    /// Turns `true` at shutdown: open event streams end so the server can stop.
    pub stopping: watch::Receiver<bool>,
    /// Held while a time jump reads the clock and moves it, so that two jumps at once (two
    /// tabs) cannot both add their distance to "N days before expiry".
    pub jumping: std::sync::Mutex<()>,
}

impl Stage {
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    pub fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// A running web demo.
pub struct WebDemo {
    url: Url,
    stage: Arc<Stage>,
    app: RunningApp,
    server: JoinHandle<()>,
    stop: watch::Sender<bool>,
    /// The bot's database lives here; removed when the demo ends.
    _dir: tempfile::TempDir,
}

impl WebDemo {
    /// Starts the sandbox, the bot and the web app; the channel already shows the expiry
    /// warning a rotation starts from (the token the connection uses expires in 10 days).
    pub async fn start(options: WebOptions) -> anyhow::Result<WebDemo> {
        // Bind first: a port in use is the likeliest failure, and it should cost nothing.
        let listener = TcpListener::bind(options.listen).await.with_context(|| {
            format!(
                "listening on {} (choose another with --listen 127.0.0.1:PORT)",
                options.listen
            )
        })?;
        let addr = listener.local_addr()?;
        let dir = tempfile::tempdir()
            .context("creating a temporary directory for the demo's database")?;
        let clock = JumpClock::new(options.clock);
        let shared: SharedClock = Arc::new(clock.clone());
        let world = SandboxWorld::start(shared.clone(), token_age()).await;
        let config = world.config(&dir.path().join("scim-rotator.db"), SlackMode::Http);
        let app = RunningApp::start(
            &config,
            RunOptions {
                clock: shared,
                retry: RetryPolicy::default(),
                run_scheduler: false,
                slack_pacing: options.slack_pacing,
            },
        )
        .await
        .context("starting the bot")?;

        if let Err(error) = first_page(&app, &world, &clock).await {
            // Stop the bot's server and tasks before the error leaves (and the directory
            // with its database goes).
            app.shutdown().await;
            return Err(error);
        }

        let (stop, stopping) = watch::channel(false);
        let stage = Arc::new(Stage {
            bot_url: Url::parse(&format!("http://{}", app.addr))
                .context("the bot's address as a URL")?,
            approvers: config.slack.approvers.clone(),
            approver_groups: config.slack.approver_groups.clone(),
            world,
            engine: Arc::clone(&app.engine),
            scheduler: Arc::clone(&app.scheduler),
            clock,
            changes: watch::channel(0).0,
            stopping: stopping.clone(),
            jumping: std::sync::Mutex::new(()),
        });
        let router = api::router(Arc::clone(&stage));
        let mut until_stopped = stopping;
        let server = tokio::spawn(async move {
            let stopped = async move {
                let _ = until_stopped.wait_for(|stop| *stop).await;
            };
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(%error, "the demo's web server stopped");
            }
        });
        Ok(WebDemo {
            url: Url::parse(&format!("http://{addr}/")).context("the page's address as a URL")?,
            stage,
            app,
            server,
            stop,
            _dir: dir,
        })
    }

    /// The page's address, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The sandbox behind the page (tests read and arrange it).
    pub fn world(&self) -> &SandboxWorld {
        &self.stage.world
    }

    /// The demo's clock.
    pub fn clock(&self) -> &JumpClock {
        &self.stage.clock
    }

    /// The bot the page talks to.
    pub fn app(&self) -> &RunningApp {
        &self.app
    }

    /// Stops the web app (open pages' event streams end), then the bot, then the sandbox;
    /// the temporary database goes with the demo.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let mut server = self.server;
        if tokio::time::timeout(SERVER_DRAIN_TIMEOUT, &mut server)
            .await
            .is_err()
        {
            server.abort();
        }
        self.app.shutdown().await;
    }
}

/// The story's first page: the token in use is registered, and a sweep warns.
async fn first_page(
    app: &RunningApp,
    world: &SandboxWorld,
    clock: &JumpClock,
) -> anyhow::Result<()> {
    let current = world.cloud.current_token.clone();
    app.engine
        .register_token(
            CONNECTION,
            &current.id,
            current.created,
            &Actor::user(LEAD, true),
        )
        .await
        .context("registering the connection's current token")?;
    app.scheduler.sweep(clock.now()).await;
    tokio::time::timeout(super::STEP_DEADLINE, app.presented())
        .await
        .context("the bot did not post its expiry warning")?;
    Ok(())
}

/// `scim-rotator demo --web`: starts, prints the page's address, runs until Ctrl-C or
/// SIGTERM, then stops everything it started.
pub async fn run(options: WebOptions, out: &mut dyn Write) -> anyhow::Result<()> {
    let listen = options.listen;
    // Ctrl-C during the few seconds of start-up stops it too: dropping the start drops the
    // temporary directory with the database in it.
    let demo = tokio::select! {
        demo = WebDemo::start(options) => demo?,
        () = crate::app::shutdown_signal() => {
            writeln!(out, "stopped before the demo was ready")?;
            return Ok(());
        }
    };
    if !listen.ip().is_loopback() {
        writeln!(
            out,
            "warning: listening on {listen}, which is not loopback: anyone who reaches it can act as the demo's team"
        )?;
    }
    writeln!(
        out,
        "scim-rotator demo --web: the real bot against local fakes of Slack, Microsoft Entra and\n\
         AWS IAM Identity Center, all on 127.0.0.1. No account, no network.\n\n\
         Open {} in a browser. Press Ctrl-C to stop (nothing is left behind).",
        demo.url()
    )?;
    out.flush()?;
    crate::app::shutdown_signal().await;
    writeln!(out, "stopping…")?;
    demo.shutdown().await;
    Ok(())
}
