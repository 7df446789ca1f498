//! The scheduler: a sweep every `schedule.check_interval` (and once at start-up) that warns
//! about expiring tokens and watches each connection's Entra provisioning job, and the
//! handling of AWS Health expiry events that correct a token's date.
//!
//! What to post is decided purely ([`crate::rotation::warnings`]); this module does the
//! I/O around it: read the store, **claim** each warning or alert in the store, then post it
//! with the existing renderers. Claiming before posting makes every message at most once —
//! a restart, a crash between claim and post, or two sweeps overlapping (the bot's and a
//! `scim-rotator sweep` run beside it) never post the same thing twice. When Slack answers
//! that it did not post (an error code, a refusal), the claim is given back so that the
//! next sweep tries again; when the answer is lost (a timeout), it is kept.
//!
//! A sweep is a plain `async fn` taking the time ([`Scheduler::sweep`]), so tests call it
//! with a manual clock; [`Scheduler::run`] only ticks. [`Scheduler::preview`] is the same
//! sweep reading only: it writes nothing and posts nothing, and says what it would post.

mod expiry;
mod health;
mod jobs;
mod report;
mod stall;

pub use health::HealthOutcome;
pub use report::{SweepEvent, SweepOutcome, SweepReport};

use crate::engine::Engine;
use crate::slack::api::{SlackApi, SlackApiError};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::MissedTickBehavior;
use tracing::Instrument;

/// How often rotation requests nobody approved in time are expired, between sweeps: a
/// sweep may be hours apart, an approval window ends to the minute.
pub const APPROVAL_CHECK_EVERY: Duration = Duration::from_secs(60);

/// After this many sweeps in a row that could not read a connection's provisioning job,
/// the channel is told once: one failure is often a blip, three (three hours by default)
/// is an outage someone must look at.
pub const GRAPH_FAILURES_BEFORE_ALERT: u32 = 3;

/// `sent_warnings.token_row` for a connection with no token recorded at all: SQLite row
/// ids start at 1, so 0 is never a real token's.
pub const NO_TOKEN_ROW: i64 = 0;

/// What the scheduler needs from the configuration.
#[derive(Clone, Debug)]
pub struct SchedulerSettings {
    /// The channel warnings and alerts are posted in.
    pub channel: String,
    /// `schedule.warn_days`.
    pub warn_days: Vec<u32>,
    /// Approver user ids, mentioned in the last warnings.
    pub approvers: Vec<String>,
    /// Approver user-group ids (`S…`), mentioned as `<!subteam^ID>`.
    pub approver_groups: Vec<String>,
    /// `schedule.stall_reminder`: how long a rotation may wait for a person before its
    /// thread gets a reminder.
    pub stall_reminder: chrono::Duration,
}

/// Whether a sweep acts or only looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Claim, post, record.
    Live,
    /// Read only: say what would be posted.
    DryRun,
}

pub struct Scheduler {
    engine: Arc<Engine>,
    api: SlackApi,
    settings: SchedulerSettings,
    /// One warning pass (expiry and stall) at a time in this process; other processes are
    /// kept apart by the store's claims.
    warnings: tokio::sync::Mutex<()>,
    /// One read of the Entra jobs at a time. Apart from `warnings`, so that an expiry check
    /// queued by an AWS Health event never waits behind Graph's retries.
    jobs: tokio::sync::Mutex<()>,
    /// Connections with an event-triggered check queued ([`Scheduler::check_expiry_soon`]):
    /// at most one waits per connection, however many events arrive.
    queued_checks: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Scheduler {
    pub fn new(engine: Arc<Engine>, api: SlackApi, settings: SchedulerSettings) -> Arc<Scheduler> {
        Arc::new(Scheduler {
            engine,
            api,
            settings,
            warnings: tokio::sync::Mutex::new(()),
            jobs: tokio::sync::Mutex::new(()),
            queued_checks: std::sync::Mutex::new(std::collections::HashSet::new()),
        })
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// One sweep as if at `now`: expire unapproved requests, then for each connection warn
    /// about its token's expiry and check its provisioning job.
    #[tracing::instrument(skip_all, fields(%now))]
    pub async fn sweep(&self, now: DateTime<Utc>) -> SweepReport {
        self.api.metrics().sweep_ran();
        let mut report = SweepReport::new(now, false);
        match self.engine.expire_approvals().await {
            Ok(expired) => report.approvals_expired = expired,
            Err(error) => {
                tracing::error!(error = %error, "cannot expire unapproved rotations");
                report.push(
                    "",
                    "expire unapproved rotation requests",
                    SweepOutcome::Failed(error.to_string()),
                );
            }
        }
        self.each_connection(now, Mode::Live, &mut report).await;
        tracing::info!(
            posted = report.posted(),
            failed = report.failed(),
            "sweep done"
        );
        report
    }

    /// The sweep [`Self::sweep`] would run at `now`, reading only: nothing is written to the
    /// store and nothing is posted (Graph is read, as a sweep reads it).
    pub async fn preview(&self, now: DateTime<Utc>) -> SweepReport {
        let mut report = SweepReport::new(now, true);
        self.each_connection(now, Mode::DryRun, &mut report).await;
        report
    }

    async fn each_connection(&self, now: DateTime<Utc>, mode: Mode, report: &mut SweepReport) {
        for name in self.engine.connection_names() {
            let Some(connection) = self.engine.connection(&name).cloned() else {
                continue;
            };
            {
                let _warnings = self.warnings.lock().await;
                self.warn_expiry(&connection, now, mode, report).await;
                self.remind_stalled(&connection, now, mode, report).await;
            }
            let _jobs = self.jobs.lock().await;
            self.watch_job(&connection, now, mode, report).await;
        }
    }

    /// Warns about one connection's token now if a warning is due (after its date
    /// changed, e.g. by an AWS Health event), without waiting for the next sweep.
    pub async fn check_expiry(&self, connection: &str, now: DateTime<Utc>) -> SweepReport {
        let _warnings = self.warnings.lock().await;
        let mut report = SweepReport::new(now, false);
        if let Some(connection) = self.engine.connection(connection).cloned() {
            self.warn_expiry(&connection, now, Mode::Live, &mut report)
                .await;
        }
        report
    }

    /// Queues [`Scheduler::check_expiry`] for `connection` without waiting for it (an AWS
    /// Health event is answered before Slack is called). A check already queued for the
    /// connection covers this one too, since it reads the stored date when it runs: events
    /// arriving faster than checks finish never pile up tasks.
    pub fn check_expiry_soon(self: &Arc<Self>, connection: &str) {
        let queued = self
            .queued_checks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(connection.to_owned());
        if !queued {
            return;
        }
        let scheduler = Arc::clone(self);
        let connection = connection.to_owned();
        // The check runs in a span of its own, under the one the event was handled in.
        let span = tracing::info_span!("queued_expiry_check", connection = %connection);
        tokio::spawn(
            async move {
                scheduler
                    .queued_checks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&connection);
                let now = scheduler.engine.now();
                scheduler.check_expiry(&connection, now).await;
            }
            .instrument(span),
        );
    }

    /// Sweeps now and every `every`, and expires unapproved requests every
    /// [`APPROVAL_CHECK_EVERY`], until the task is dropped. A sweep that overruns delays the
    /// next one rather than bunching them.
    pub async fn run(self: Arc<Self>, every: Duration) {
        let mut sweeps = tokio::time::interval(every);
        sweeps.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut approvals = tokio::time::interval(APPROVAL_CHECK_EVERY);
        approvals.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = sweeps.tick() => {
                    self.sweep(self.engine.now()).await;
                }
                _ = approvals.tick() => {
                    if let Err(error) = self.engine.expire_approvals().await {
                        tracing::error!(error = %error, "cannot expire unapproved rotations");
                    }
                }
            }
        }
    }

    fn connection_info<'a>(
        connection: &'a crate::engine::ConnectionRuntime,
    ) -> crate::slack::render::ConnectionInfo<'a> {
        crate::slack::render::ConnectionInfo {
            name: &connection.name,
            aws_region: &connection.aws_region,
        }
    }
}

/// Whether Slack said it did not post (so the claim can be given back and the post tried
/// again): an error code, a rate limit or an HTTP error. A transport failure may have
/// posted without our hearing the answer, so it keeps the claim.
fn surely_not_posted(error: &SlackApiError) -> bool {
    error.surely_not_applied()
}
