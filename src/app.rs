//! Wiring: configuration in, a running bot out. `run` uses it with the system clock; the
//! end-to-end tests and the demo start it with a manual clock on port 0.

use crate::aws::ScimProbe;
use crate::aws::health::AwsInstance;
use crate::azure::{GraphClient, GraphSettings};
use crate::clock::SharedClock;
use crate::config::{self, Config, SlackMode};
use crate::engine::{ConnectionRuntime, Engine};
use crate::metrics::Metrics;
use crate::retry::RetryPolicy;
use crate::rotation::Policy;
use crate::scheduler::{Scheduler, SchedulerSettings};
use crate::server::{self, AppState, HealthEndpoint, SlackEndpoints};
use crate::slack::api::{Pacing, SlackApi};
use crate::slack::approvers::{ApproverDirectory, REFRESH_EVERY};
use crate::slack::bot::SlackBot;
use crate::slack::identity::WorkspaceIdentity;
use crate::slack::inbound::InboundGuard;
use crate::slack::presenter::Presenter;
use crate::slack::socket::{SocketLiveness, SocketMode};
use crate::store::Store;
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::task::AbortOnDropHandle;

/// How long shutdown waits for in-flight HTTP requests (Slack acks within 3 s anyway).
const SERVER_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long shutdown waits for running token checks before leaving them: long enough for a
/// healthy check to finish its current call, short enough that a check stuck on an
/// unanswering service does not hold the exit (a check left behind asks for the token again
/// after the next start: it was only in memory).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Maps a configured connection to what the Graph client needs.
pub fn graph_settings(connection: &config::ConnectionConfig) -> GraphSettings {
    GraphSettings {
        graph_url: connection.graph_url.clone(),
        login_url: connection.login_url.clone(),
        tenant_id: connection.azure_tenant_id.clone(),
        client_id: connection.azure_client_id.clone(),
        credential: connection.azure_credential.clone(),
        service_principal_id: connection.service_principal_id.clone(),
        sync_job_id: connection.sync_job_id.clone(),
    }
}

/// Options the configuration file does not hold.
#[derive(Clone)]
pub struct RunOptions {
    pub clock: SharedClock,
    pub retry: RetryPolicy,
    /// Start the periodic sweep (at once, then every `schedule.check_interval`). Tests that
    /// move a manual clock turn it off and call [`Scheduler::sweep`] themselves.
    pub run_scheduler: bool,
    /// How Slack calls are paced: Slack's limits in production; unpaced against the fake
    /// Slack in tests, where the wait would only slow the suite.
    pub slack_pacing: Pacing,
}

/// Builds the connections the engine acts on from the configuration; their Graph calls are
/// counted in `metrics`.
pub fn connection_runtimes(
    config: &Config,
    retry: RetryPolicy,
    metrics: &Arc<Metrics>,
) -> Vec<ConnectionRuntime> {
    config
        .connections
        .iter()
        .map(|c| ConnectionRuntime {
            name: c.name.clone(),
            scim_url: c.scim_url.clone(),
            aws_region: c.aws_region.clone(),
            graph: GraphClient::new(graph_settings(c), retry).with_metrics(Arc::clone(metrics)),
        })
        .collect()
}

/// What the scheduler needs from the configuration.
pub fn scheduler_settings(config: &Config) -> SchedulerSettings {
    SchedulerSettings {
        channel: config.slack.channel.clone(),
        warn_days: config.schedule.warn_days.clone(),
        approvers: config.slack.approvers.clone(),
        approver_groups: config.slack.approver_groups.clone(),
        stall_reminder: chrono::Duration::from_std(config.schedule.stall_reminder)
            .unwrap_or(chrono::Duration::MAX),
    }
}

/// Each connection's AWS account and region, to match AWS Health events to it.
pub fn aws_instances(config: &Config) -> Vec<AwsInstance> {
    config
        .connections
        .iter()
        .map(|c| AwsInstance {
            connection: c.name.clone(),
            account_id: c.aws_account_id.clone(),
            region: c.aws_region.clone(),
        })
        .collect()
}

/// What the bot asks Slack before it answers anyone, the three round trips at once: the
/// team (for Slack's per-method tiers; a failure only warns), the workspace and app whose
/// requests it answers (a failure stops the start), and the approver groups' members (a
/// failure warns: configured user ids still work).
async fn learn_slack(
    api: SlackApi,
    configured_app: Option<String>,
    approvers: Arc<ApproverDirectory>,
) -> Result<WorkspaceIdentity, crate::slack::api::SlackApiError> {
    let (team, identity, groups) = tokio::join!(
        api.learn_team(),
        WorkspaceIdentity::learn(&api, configured_app.as_deref()),
        approvers.refresh(),
    );
    match team {
        Ok(team) => tracing::info!(team = %team.team_id, "Slack workspace identified"),
        Err(error) => {
            tracing::warn!(error = %error, "cannot identify the Slack workspace yet; calls are paced without Slack's tiers")
        }
    }
    if let Err(error) = groups {
        tracing::warn!(error = %error, "cannot read approver groups yet; configured user ids still work");
    }
    identity
}

/// A started bot.
pub struct RunningApp {
    pub engine: Arc<Engine>,
    pub bot: Arc<SlackBot>,
    pub scheduler: Arc<Scheduler>,
    pub addr: SocketAddr,
    presented: tokio::sync::watch::Receiver<u64>,
    socket: Option<SocketMode>,
    tasks: Vec<JoinHandle<()>>,
    server: JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl RunningApp {
    /// Starts everything `config` describes.
    pub async fn start(config: &Config, options: RunOptions) -> anyhow::Result<RunningApp> {
        RunningApp::start_with_socket_liveness(config, options, SocketLiveness::PRODUCTION).await
    }

    /// [`RunningApp::start`] with how a silent Socket Mode connection is noticed
    /// ([`SocketLiveness::PRODUCTION`] in `start`; tests shorten it to see a replacement in
    /// seconds).
    pub async fn start_with_socket_liveness(
        config: &Config,
        options: RunOptions,
        socket_liveness: SocketLiveness,
    ) -> anyhow::Result<RunningApp> {
        // One set of metrics for the whole bot, served at /metrics.
        let metrics = Arc::new(Metrics::new());
        // Slack first: its round trips (who this bot is, its approver groups) run while the
        // database opens and migrates on a blocking thread, instead of one after the other.
        let api = SlackApi::with_pacing(
            &config.slack.api_url,
            &config.slack.bot_token,
            options.slack_pacing,
        )
        .context("loading root certificates")?
        .with_metrics(Arc::clone(&metrics));
        let approvers = Arc::new(ApproverDirectory::new(
            &config.slack.approvers,
            &config.slack.approver_groups,
            api.clone(),
        ));
        let slack_learned = AbortOnDropHandle::new(tokio::spawn(learn_slack(
            api.clone(),
            config.slack.app_id.clone(),
            Arc::clone(&approvers),
        )));
        let path = config.store.path.clone();
        let store = tokio::task::spawn_blocking(move || Store::open(&path))
            .await
            .context("opening the database")?
            .with_context(|| format!("opening the database {}", config.store.path.display()))?;
        let store = Arc::new(store);
        let connections = connection_runtimes(config, options.retry, &metrics);
        let approval_window = chrono::Duration::from_std(config.slack.approval_timeout)
            .unwrap_or(chrono::Duration::hours(24));
        let engine = Engine::new(
            Arc::clone(&store),
            Arc::clone(&options.clock),
            Policy {
                allow_self_approval: config.slack.allow_self_approval,
                approvals_required: config.slack.approvals_required,
            },
            approval_window,
            connections,
            ScimProbe::new(options.retry),
        );
        let recovered = engine.recover().await?;
        if recovered > 0 {
            tracing::warn!(
                recovered,
                "rotations interrupted by a restart will ask for their token again"
            );
        }
        // Whose requests to answer: refuse to start rather than answer every workspace.
        let identity = Arc::new(
            slack_learned
                .await
                .context("learning the Slack workspace")?
                .context(
                    "asking Slack which workspace and app this bot is (auth.test, bots.info)",
                )?,
        );
        tracing::info!(team = %identity.team_id, app = %identity.app_id, "Slack workspace and app");
        let mut web_form = None;
        let bot = SlackBot::new(
            Arc::clone(&engine),
            api.clone(),
            Arc::clone(&approvers),
            config.slack.channel.clone(),
        );
        if let Some(intake) = crate::intake::Intake::from_config(
            &config.intake,
            Arc::clone(&engine),
            Arc::clone(&approvers),
        ) {
            bot.set_intake(Arc::clone(&intake));
            web_form = Some(intake);
        }
        let presenter = Presenter::new(
            Arc::clone(&engine),
            api.clone(),
            Arc::clone(&approvers),
            config.slack.channel.clone(),
            config.slack.allow_self_approval,
            config.slack.approvals_required,
        );
        let scheduler =
            Scheduler::new(Arc::clone(&engine), api.clone(), scheduler_settings(config));
        let presented = presenter.progress();
        let mut tasks = vec![
            tokio::spawn(presenter.run(engine.subscribe())),
            tokio::spawn(Arc::clone(&approvers).refresh_forever(REFRESH_EVERY)),
        ];
        if options.run_scheduler {
            tasks.push(tokio::spawn(
                Arc::clone(&scheduler).run(config.schedule.check_interval),
            ));
        }

        let slack = match config.slack.mode {
            SlackMode::Http => Some(Arc::new(SlackEndpoints {
                bot: Arc::clone(&bot),
                signing_secret: config
                    .slack
                    .signing_secret
                    .clone()
                    .context("slack.signing_secret is required in http mode")?,
                guard: Arc::new(InboundGuard::new((*identity).clone(), Arc::clone(&metrics))),
            })),
            SlackMode::Socket => None,
        };
        let router = server::router(AppState {
            store: Arc::clone(&store),
            clock: Arc::clone(&options.clock),
            slack,
            aws_health: config.aws_health.as_ref().map(|health| {
                Arc::new(HealthEndpoint {
                    secret: health.secret.clone(),
                    instances: Arc::new(aws_instances(config)),
                    scheduler: Arc::clone(&scheduler),
                })
            }),
            connections: Arc::new(engine.connection_names()),
            metrics: Arc::clone(&metrics),
        });
        let router = match web_form {
            Some(intake) => router.merge(crate::intake::routes(intake)),
            None => router,
        };
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("listening on {}", config.server.listen))?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let server = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            // With the peer's address: the web form rate-limits unknown links per client.
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(error) = axum::serve(listener, service)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %error, "HTTP server failed");
            }
        });
        tracing::info!(%addr, mode = %config.slack.mode, "listening");

        let socket = match config.slack.mode {
            SlackMode::Socket => {
                let app_token = config
                    .slack
                    .app_token
                    .clone()
                    .context("slack.app_token is required in socket mode")?;
                Some(
                    SocketMode::start(
                        Arc::clone(&bot),
                        &app_token,
                        Arc::clone(&identity),
                        socket_liveness,
                    )
                    .await
                    .map_err(anyhow::Error::msg)?,
                )
            }
            SlackMode::Http => None,
        };
        Ok(RunningApp {
            engine,
            bot,
            scheduler,
            addr,
            presented,
            socket,
            tasks,
            server,
            stop,
        })
    }

    /// Waits until every rotation change so far is shown in Slack (the presenter caught up).
    pub async fn presented(&self) {
        let target = self.engine.notices_sent();
        let mut progress = self.presented.clone();
        let _ = progress.wait_for(|reached| *reached >= target).await;
    }

    /// Stops taking requests, lets running checks finish (bounded), and stops.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Some(socket) = &self.socket {
            socket.shutdown().await;
        }
        // Graceful shutdown waits for open connections; an idle keep-alive client would hold
        // it for ever, so in-flight requests get a bounded time to finish.
        let mut server = self.server;
        if tokio::time::timeout(SERVER_DRAIN_TIMEOUT, &mut server)
            .await
            .is_err()
        {
            server.abort();
        }
        if !self.engine.drain(DRAIN_TIMEOUT).await {
            tracing::warn!(
                "token checks still running at shutdown; they will ask for the token again"
            );
        }
        for task in self.tasks {
            task.abort();
        }
    }
}

/// Resolves when SIGTERM or Ctrl-C arrives.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
