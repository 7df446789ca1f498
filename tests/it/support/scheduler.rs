//! The scheduler against the sandbox world, swept by hand with a manual clock.
//! A "restart" opens the same database file again with a new engine and scheduler, as a new
//! process would.

use chrono::{DateTime, Duration, Utc};
use scim_rotator::app::{connection_runtimes, scheduler_settings};
use scim_rotator::audit::NewAuditRecord;
use scim_rotator::aws::ScimProbe;
use scim_rotator::clock::{Clock, ManualClock};
use scim_rotator::config::{Config, SlackMode};
use scim_rotator::demo::wiring::WorldConfig;
use scim_rotator::engine::Engine;
use scim_rotator::rotation::{ExpirySource, Policy};
use scim_rotator::scheduler::{Scheduler, SweepReport};
use scim_rotator::slack::api::{Pacing, SlackApi};
use scim_rotator::store::{NewToken, Store};
use scim_sandbox::SandboxWorld;
use scim_sandbox::people::*;
use scim_sandbox::slack::{FakeSlack, StoredMessage, identity};
use secrecy::SecretString;
use std::sync::Arc;

pub struct SchedulerEnv {
    pub clock: ManualClock,
    pub world: SandboxWorld,
    /// Holds the database's temporary directory for as long as the test runs.
    _dir: tempfile::TempDir,
    pub config: Config,
    /// The current "process": its store, engine and scheduler.
    pub store: Arc<Store>,
    pub engine: Arc<Engine>,
    pub scheduler: Arc<Scheduler>,
}

impl SchedulerEnv {
    pub async fn start() -> SchedulerEnv {
        let clock = ManualClock::new(super::start_time());
        let world = SandboxWorld::start(Arc::new(clock.clone()), Duration::days(300)).await;
        let dir = tempfile::tempdir().unwrap();
        let config = world.config(&dir.path().join("bot.db"), SlackMode::Http);
        let (store, engine, scheduler) = process(&config, &clock);
        SchedulerEnv {
            clock,
            world,
            _dir: dir,
            config,
            store,
            engine,
            scheduler,
        }
    }

    pub fn slack(&self) -> &FakeSlack {
        &self.world.slack
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The bot stops and starts again on the same database.
    pub fn restart(&mut self) {
        let (store, engine, scheduler) = process(&self.config, &self.clock);
        self.store = store;
        self.engine = engine;
        self.scheduler = scheduler;
    }

    /// A second bot process on the same database, running beside this one.
    pub fn other_process(&self) -> Arc<Scheduler> {
        process(&self.config, &self.clock).2
    }

    /// Records the connection's token as expiring at `expires` (as `tokens add` would).
    pub fn register_token(&self, token_id: &str, expires: DateTime<Utc>) -> i64 {
        self.store
            .insert_token(
                &NewToken {
                    connection: CONNECTION.to_owned(),
                    token_id: Some(token_id.to_owned()),
                    created_at: Some(expires - Duration::days(365)),
                    expires_at: Some(expires),
                    source: ExpirySource::Manual,
                    fingerprint: None,
                },
                &NewAuditRecord::system(
                    self.now(),
                    "token_registered",
                    CONNECTION,
                    serde_json::json!({}),
                ),
            )
            .unwrap()
            .id
    }

    pub async fn sweep(&self) -> SweepReport {
        self.scheduler.sweep(self.now()).await
    }

    /// The bot's messages in the channel, in posting order, threads included.
    pub fn messages(&self) -> Vec<StoredMessage> {
        self.slack().messages(CHANNEL)
    }

    pub fn top_level(&self) -> Vec<StoredMessage> {
        self.messages()
            .into_iter()
            .filter(|m| m.thread_ts.is_none())
            .collect()
    }

    pub fn audit_actions(&self) -> Vec<String> {
        self.store
            .audit_records(&Default::default())
            .unwrap()
            .into_iter()
            .map(|r| r.action)
            .collect()
    }

    pub fn count_audit(&self, action: &str) -> usize {
        self.audit_actions().iter().filter(|a| *a == action).count()
    }
}

/// A "process": its own database connection, engine (with Graph clients) and scheduler.
fn process(config: &Config, clock: &ManualClock) -> (Arc<Store>, Arc<Engine>, Arc<Scheduler>) {
    let store = Arc::new(Store::open(&config.store.path).unwrap());
    let engine = Engine::new(
        Arc::clone(&store),
        Arc::new(clock.clone()),
        Policy::default(),
        Duration::hours(24),
        connection_runtimes(
            config,
            super::test_retry(),
            &Arc::new(scim_rotator::metrics::Metrics::new()),
        ),
        ScimProbe::new(super::test_retry()),
    );
    // The fake Slack does not limit: pacing would only make the walks slow.
    let api = SlackApi::with_pacing(
        &config.slack.api_url,
        &SecretString::from(identity::BOT_TOKEN),
        Pacing::Unpaced,
    )
    .unwrap();
    let scheduler = Scheduler::new(Arc::clone(&engine), api, scheduler_settings(config));
    (store, engine, scheduler)
}

/// The rows `/scim status` shows, read as the running bot reads them.
pub fn status_rows(env: &SchedulerEnv) -> Vec<scim_rotator::slack::render::StatusRow> {
    let api = SlackApi::new(
        &env.config.slack.api_url,
        &SecretString::from(identity::BOT_TOKEN),
    )
    .unwrap();
    let approvers = Arc::new(scim_rotator::slack::approvers::ApproverDirectory::new(
        &env.config.slack.approvers,
        &env.config.slack.approver_groups,
        api.clone(),
    ));
    let bot = scim_rotator::slack::bot::SlackBot::new(
        Arc::clone(&env.engine),
        api,
        approvers,
        CHANNEL.to_owned(),
    );
    bot.status_rows().unwrap()
}
