//! The Entra job watch: each sweep reads every connection's provisioning job. A job that
//! cannot authenticate to AWS (quarantined, or its last run failed on credentials) is a
//! critical alert, once per quarantine series, and a reply when it works again. Graph
//! being unreachable is shown in `/scim status` at once and, after
//! [`GRAPH_FAILURES_BEFORE_ALERT`] sweeps in a row, told to the channel once.
//!
//! State lives in `Store::scheduler_state` (keys in `store::keys`), changed with
//! compare-and-set so that two sweeps overlapping post each alert once:
//! - `quarantine:{connection}`: the series alerted on ([`SeriesRecord`], JSON);
//! - `graph_failures:{connection}`: failed reads in a row ([`FailureRecord`], JSON);
//! - `graph_problem:{connection}`: the last Graph error, shown by `/scim status`.

use super::report::{SweepOutcome, SweepReport};
use super::{GRAPH_FAILURES_BEFORE_ALERT, Mode, Scheduler, surely_not_posted};
use crate::audit::NewAuditRecord;
use crate::azure::{GraphError, JobStatus, SyncJob};
use crate::engine::ConnectionRuntime;
use crate::metrics::MessageKind;
use crate::slack::render;
use crate::store::{StoreError, keys};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The quarantine series the channel was alerted about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct SeriesRecord {
    /// Entra's `quarantine.seriesBegan`, when it gave one (a job failing on credentials
    /// without being quarantined yet has none).
    pub series_began: Option<DateTime<Utc>>,
    /// When the failure began, as far as known: the series start, else first seen.
    pub since: DateTime<Utc>,
    pub error_code: Option<String>,
    /// The alert message, once posted; the recovery replies in its thread.
    pub channel: Option<String>,
    pub ts: Option<String>,
}

/// Consecutive sweeps that could not read the job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct FailureRecord {
    pub count: u32,
    pub since: DateTime<Utc>,
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("a record of strings and dates serializes")
}

/// Reads a JSON state value; an unreadable one (written by another version) counts as absent.
fn read<T: for<'de> Deserialize<'de>>(raw: Option<&str>) -> Option<T> {
    raw.and_then(|raw| serde_json::from_str(raw).ok())
}

/// What a job says about its credentials.
enum JobHealth {
    /// Failing on credentials: the error code and when Entra says the series began.
    Failing {
        error_code: Option<String>,
        series_began: Option<DateTime<Utc>>,
        since_hint: Option<DateTime<Utc>>,
    },
    /// Running fine.
    Working,
    /// Not failing on credentials, but not running either (paused, never run, …): neither
    /// an alert nor a recovery.
    Idle(JobStatus),
}

fn health_of(job: &SyncJob) -> JobHealth {
    if job.credential_problem().is_some() {
        let quarantine = job.quarantine.as_ref();
        let last = job.last_execution.as_ref();
        return JobHealth::Failing {
            error_code: quarantine
                .and_then(|q| q.error_code.clone())
                .or_else(|| last.and_then(|e| e.error_code.clone())),
            series_began: quarantine.and_then(|q| q.series_began),
            since_hint: quarantine
                .and_then(|q| q.current_began)
                .or_else(|| last.and_then(|e| e.time_ended)),
        };
    }
    match job.status {
        JobStatus::Active => JobHealth::Working,
        ref other => JobHealth::Idle(other.clone()),
    }
}

impl Scheduler {
    /// Reads `connection`'s provisioning job and acts on what it shows.
    pub(super) async fn watch_job(
        &self,
        connection: &ConnectionRuntime,
        now: DateTime<Utc>,
        mode: Mode,
        report: &mut SweepReport,
    ) {
        let name = connection.name.as_str();
        let result = match connection.graph.get_job().await {
            Ok(job) => self
                .graph_answered(name, now, mode, report)
                .map(|()| Some(job)),
            Err(error) => {
                tracing::warn!(connection = name, error = %error, "cannot read the provisioning job");
                self.graph_failed(connection, &error, now, mode, report)
                    .await
                    .map(|()| None)
            }
        };
        let job = match result {
            Ok(job) => job,
            Err(error) => {
                tracing::error!(connection = name, error = %error, "cannot record the job watch");
                report.push(
                    name,
                    "provisioning job watch",
                    SweepOutcome::Failed(format!("cannot use the store: {error}")),
                );
                return;
            }
        };
        if let Some(job) = job {
            if let Err(error) = self.job_seen(connection, &job, now, mode, report).await {
                tracing::error!(connection = name, error = %error, "cannot record the job watch");
                report.push(
                    name,
                    "provisioning job watch",
                    SweepOutcome::Failed(format!("cannot use the store: {error}")),
                );
            }
        }
    }

    /// Graph answered: a failure streak ends, and `/scim status` stops showing a problem.
    fn graph_answered(
        &self,
        name: &str,
        now: DateTime<Utc>,
        mode: Mode,
        report: &mut SweepReport,
    ) -> Result<(), StoreError> {
        let store = self.engine.store();
        let key = keys::graph_failures(name);
        let raw = store.scheduler_state(&key)?;
        let Some(raw) = raw else {
            if mode == Mode::Live && store.scheduler_state(&keys::graph_problem(name))?.is_some() {
                store.clear_scheduler_state(&keys::graph_problem(name))?;
            }
            return Ok(());
        };
        let streak: Option<FailureRecord> = read(Some(&raw));
        let count = streak.as_ref().map_or(0, |s| s.count);
        report.push(
            name,
            format!("Microsoft Graph answers again after {count} failed sweep(s)"),
            SweepOutcome::Noted,
        );
        if mode == Mode::DryRun {
            return Ok(());
        }
        let audit = (count >= GRAPH_FAILURES_BEFORE_ALERT).then(|| {
            NewAuditRecord::system(
                now,
                "graph_reachable_again",
                name,
                json!({ "failed_sweeps": count, "since": streak.map(|s| s.since) }),
            )
        });
        store.compare_and_set_scheduler_state(&key, Some(&raw), None, audit.as_ref())?;
        store.clear_scheduler_state(&keys::graph_problem(name))?;
        tracing::info!(connection = name, "Microsoft Graph answers again");
        Ok(())
    }

    /// Graph did not answer: count the streak, show the problem in `/scim status`, and tell
    /// the channel when the streak reaches [`GRAPH_FAILURES_BEFORE_ALERT`].
    async fn graph_failed(
        &self,
        connection: &ConnectionRuntime,
        error: &GraphError,
        now: DateTime<Utc>,
        mode: Mode,
        report: &mut SweepReport,
    ) -> Result<(), StoreError> {
        let name = connection.name.as_str();
        let store = self.engine.store();
        let key = keys::graph_failures(name);
        let raw = store.scheduler_state(&key)?;
        let previous: Option<FailureRecord> = read(raw.as_deref());
        let next = FailureRecord {
            count: previous.as_ref().map_or(0, |p| p.count).saturating_add(1),
            since: previous.as_ref().map_or(now, |p| p.since),
        };
        let alert = next.count == GRAPH_FAILURES_BEFORE_ALERT;
        let noted = format!(
            "cannot read the provisioning job ({} of {GRAPH_FAILURES_BEFORE_ALERT} failed sweeps before a warning): {error}",
            next.count
        );
        let what = "I cannot reach Microsoft Graph: warning (new message)";
        if mode == Mode::DryRun {
            report.push(name, noted, SweepOutcome::Noted);
            if alert {
                report.push(name, what, SweepOutcome::WouldPost);
            }
            return Ok(());
        }
        store.set_scheduler_state(&keys::graph_problem(name), &error.to_string())?;
        let audit = alert.then(|| NewAuditRecord::system(now, "graph_unreachable_alert", name, json!({ "failed_sweeps": next.count, "since": next.since, "error": error.to_string(), "kind": error.kind() })));
        let counted = store.compare_and_set_scheduler_state(
            &key,
            raw.as_deref(),
            Some(&to_json(&next)),
            audit.as_ref(),
        )?;
        report.push(name, noted, SweepOutcome::Noted);
        if !alert {
            return Ok(());
        }
        if !counted {
            report.push(name, what, SweepOutcome::AlreadyClaimed);
            return Ok(());
        }
        let info = Scheduler::connection_info(connection);
        let message = render::graph_unreachable(&info, &error.to_string(), Some(next.since), now);
        let outcome = match self
            .api
            .post_message(&self.settings.channel, None, message.text, message.blocks)
            .await
        {
            Ok(_) => {
                self.api
                    .metrics()
                    .warning_sent(MessageKind::GraphUnreachable);
                SweepOutcome::Posted
            }
            Err(post_error) => {
                // The streak goes on; the warning is not repeated (it is a warning, and the
                // status command keeps showing the problem).
                tracing::warn!(connection = name, error = %post_error, "cannot post the Graph warning");
                SweepOutcome::Failed(post_error.to_string())
            }
        };
        report.push(name, what, outcome);
        Ok(())
    }

    /// Acts on a job Graph returned: alert on a new failure series, reply when it recovers.
    async fn job_seen(
        &self,
        connection: &ConnectionRuntime,
        job: &SyncJob,
        now: DateTime<Utc>,
        mode: Mode,
        report: &mut SweepReport,
    ) -> Result<(), StoreError> {
        let name = connection.name.as_str();
        let store = self.engine.store();
        let key = keys::quarantine(name);
        let raw = store.scheduler_state(&key)?;
        let stored: Option<SeriesRecord> = read(raw.as_deref());
        match (health_of(job), stored) {
            (
                JobHealth::Failing {
                    error_code,
                    series_began,
                    since_hint,
                },
                stored,
            ) => {
                let new_series = match &stored {
                    None => true,
                    // Entra says a new series began: it recovered between two sweeps.
                    Some(s) => {
                        matches!((s.series_began, series_began), (Some(a), Some(b)) if a != b)
                    }
                };
                if !new_series {
                    if let Some(mut record) =
                        stored.filter(|s| s.series_began.is_none() && series_began.is_some())
                    {
                        // The failure we alerted on is now a quarantine: remember its series.
                        if mode == Mode::Live {
                            record.series_began = series_began;
                            store.compare_and_set_scheduler_state(
                                &key,
                                raw.as_deref(),
                                Some(&to_json(&record)),
                                None,
                            )?;
                        }
                    }
                    report.push(
                        name,
                        "provisioning still failing (already alerted)",
                        SweepOutcome::Noted,
                    );
                    return Ok(());
                }
                let record = SeriesRecord {
                    series_began,
                    since: series_began.or(since_hint).unwrap_or(now).min(now),
                    error_code,
                    channel: None,
                    ts: None,
                };
                self.alert_quarantine(connection, raw.as_deref(), record, now, mode, report)
                    .await
            }
            (JobHealth::Working, Some(stored)) => {
                self.announce_recovery(
                    connection,
                    raw.as_deref().unwrap_or_default(),
                    stored,
                    now,
                    mode,
                    report,
                )
                .await
            }
            (JobHealth::Idle(status), Some(_)) => {
                report.push(
                    name,
                    format!("provisioning job is {status}: no longer failing on credentials, not running either"),
                    SweepOutcome::Noted,
                );
                Ok(())
            }
            (JobHealth::Working | JobHealth::Idle(_), None) => Ok(()),
        }
    }

    async fn alert_quarantine(
        &self,
        connection: &ConnectionRuntime,
        expected: Option<&str>,
        record: SeriesRecord,
        now: DateTime<Utc>,
        mode: Mode,
        report: &mut SweepReport,
    ) -> Result<(), StoreError> {
        let name = connection.name.as_str();
        let what = format!(
            "provisioning into AWS is failing: Entra cannot authenticate ({}): critical alert (new message)",
            record.error_code.as_deref().unwrap_or("no error code")
        );
        if mode == Mode::DryRun {
            report.push(name, what, SweepOutcome::WouldPost);
            return Ok(());
        }
        let store = self.engine.store();
        let key = keys::quarantine(name);
        let claimed = to_json(&record);
        let audit = NewAuditRecord::system(
            now,
            "quarantine_alert",
            name,
            json!({ "error_code": record.error_code, "series_began": record.series_began, "since": record.since }),
        );
        if !store.compare_and_set_scheduler_state(&key, expected, Some(&claimed), Some(&audit))? {
            report.push(name, what, SweepOutcome::AlreadyClaimed);
            return Ok(());
        }
        let info = Scheduler::connection_info(connection);
        let message =
            render::quarantine_alert(&info, record.error_code.as_deref(), Some(record.since), now);
        let channel = &self.settings.channel;
        match self
            .api
            .post_message(channel, None, message.text, message.blocks)
            .await
        {
            Ok(ts) => {
                self.api.metrics().warning_sent(MessageKind::Quarantine);
                let posted = SeriesRecord {
                    channel: Some(channel.clone()),
                    ts: Some(ts),
                    ..record
                };
                store.compare_and_set_scheduler_state(
                    &key,
                    Some(&claimed),
                    Some(&to_json(&posted)),
                    None,
                )?;
                tracing::warn!(
                    connection = name,
                    "provisioning is failing on credentials: alert posted"
                );
                report.push(name, what, SweepOutcome::Posted);
            }
            Err(error) => {
                let release = surely_not_posted(&error);
                tracing::warn!(connection = name, error = %error, release, "cannot post the quarantine alert");
                if release {
                    // Give the claim back: the next sweep finds a new series and alerts.
                    store.compare_and_set_scheduler_state(&key, Some(&claimed), expected, None)?;
                }
                report.push(name, what, SweepOutcome::Failed(error.to_string()));
            }
        }
        Ok(())
    }

    async fn announce_recovery(
        &self,
        connection: &ConnectionRuntime,
        expected: &str,
        stored: SeriesRecord,
        now: DateTime<Utc>,
        mode: Mode,
        report: &mut SweepReport,
    ) -> Result<(), StoreError> {
        let name = connection.name.as_str();
        let thread = stored.channel.clone().zip(stored.ts.clone());
        let what = format!(
            "provisioning into AWS works again ({})",
            if thread.is_some() {
                "reply in thread"
            } else {
                "new message"
            }
        );
        if mode == Mode::DryRun {
            report.push(name, what, SweepOutcome::WouldPost);
            return Ok(());
        }
        let store = self.engine.store();
        let audit = NewAuditRecord::system(
            now,
            "provisioning_recovered",
            name,
            json!({ "since": stored.since, "error_code": stored.error_code }),
        );
        let key = keys::quarantine(name);
        if !store.compare_and_set_scheduler_state(&key, Some(expected), None, Some(&audit))? {
            report.push(name, what, SweepOutcome::AlreadyClaimed);
            return Ok(());
        }
        let info = Scheduler::connection_info(connection);
        let message = render::provisioning_recovered(&info, Some(stored.since), now);
        let (channel, thread_ts) = match &thread {
            Some((channel, ts)) => (channel.as_str(), Some(ts.as_str())),
            None => (self.settings.channel.as_str(), None),
        };
        match self
            .api
            .post_message(channel, thread_ts, message.text, message.blocks)
            .await
        {
            Ok(_) => {
                self.api
                    .metrics()
                    .warning_sent(MessageKind::ProvisioningRecovered);
                tracing::info!(connection = name, "provisioning works again");
                report.push(name, what, SweepOutcome::Posted);
            }
            Err(error) => {
                tracing::warn!(connection = name, error = %error, "cannot post the recovery");
                if surely_not_posted(&error) {
                    store.compare_and_set_scheduler_state(&key, None, Some(expected), None)?;
                }
                report.push(name, what, SweepOutcome::Failed(error.to_string()));
            }
        }
        Ok(())
    }
}
