//! The model of one Entra provisioning job: its status, quarantine and last run.

use crate::aws::ScimVerdict;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

/// Quarantine reason Entra gives when a run fails on credentials.
pub(super) const QUARANTINE_REASON: &str = "EncounteredQuarantineException";
/// Last-run error code when AWS rejected the saved token.
pub(super) const RUN_ERROR_REJECTED: &str =
    "SystemForCrossDomainIdentityManagementCredentialValidationFailure";
/// Last-run error code when Entra could not reach AWS (or no credentials are saved).
pub(super) const RUN_ERROR_UNREACHABLE: &str = "CredentialValidationUnavailable";
/// Graph's "never" for timestamps.
const NEVER: &str = "0001-01-01T00:00:00Z";

/// Synchronization job template id of the AWS IAM Identity Center gallery app, as Graph names
/// it (job ids look like `aWSSingleSignon.<hex>.<guid>`).
pub const AWS_JOB_TEMPLATE_ID: &str = "aWSSingleSignon";

/// A job's `status.code`, as Graph documents it. The fake's own vocabulary, not the bot's: a
/// misreading in the bot's client cannot hide in the fake too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobStatus {
    /// Credentials were never saved.
    NotConfigured,
    /// Configured but never started.
    NotRun,
    /// Running on its schedule.
    Active,
    /// Stopped by an administrator.
    Paused,
    /// Stopped by Entra after repeated failures.
    Quarantine,
    /// Any other code Graph may send.
    Other(String),
}

/// A provisioning job of the AWS IAM Identity Center app.
pub(super) struct Job {
    pub id: String,
    pub status: JobStatus,
    pub quarantine: Option<QuarantineState>,
    pub last_execution: Option<Execution>,
    pub steady_state_last: Option<DateTime<Utc>>,
}

pub(super) struct QuarantineState {
    pub series_began: DateTime<Utc>,
    pub current_began: DateTime<Utc>,
    pub next_attempt: DateTime<Utc>,
    pub series_count: u32,
}

pub(super) struct Execution {
    /// `Succeeded` or `Failed`.
    pub state: &'static str,
    pub began: DateTime<Utc>,
    pub ended: DateTime<Utc>,
    /// (code, message) of a failed run.
    pub error: Option<(&'static str, &'static str)>,
}

impl Job {
    /// A job as created with the enterprise app: no credentials yet.
    pub fn new(id: String) -> Self {
        Job {
            id,
            status: JobStatus::NotConfigured,
            quarantine: None,
            last_execution: None,
            steady_state_last: None,
        }
    }

    /// One provisioning cycle, as Entra's scheduler runs it on an active or quarantined job;
    /// `verdict` is what AWS answers to the saved credentials (`None`: none saved). Other
    /// states do not run.
    pub fn run_cycle(&mut self, verdict: Option<ScimVerdict>, now: DateTime<Utc>) {
        if !matches!(self.status, JobStatus::Active | JobStatus::Quarantine) {
            return;
        }
        match verdict {
            Some(ScimVerdict::Accepted) => {
                self.status = JobStatus::Active;
                self.quarantine = None;
                self.steady_state_last = Some(now);
                self.last_execution = Some(Execution {
                    state: "Succeeded",
                    began: now,
                    ended: now,
                    error: None,
                });
            }
            Some(ScimVerdict::Rejected) => self.quarantine(RUN_ERROR_REJECTED, now),
            Some(ScimVerdict::Unreachable) | None => self.quarantine(RUN_ERROR_UNREACHABLE, now),
        }
    }

    /// Puts the job in quarantine after a run failed with `code`, continuing a series of
    /// quarantines if one is under way. Entra retries at 6 h, 12 h, 24 h, then daily.
    pub fn quarantine(&mut self, code: &'static str, now: DateTime<Utc>) {
        let (series_began, series_count) = match &self.quarantine {
            Some(q) => (q.series_began, q.series_count + 1),
            None => (now, 1),
        };
        let wait_hours = match series_count {
            1 => 6,
            2 => 12,
            _ => 24,
        };
        self.status = JobStatus::Quarantine;
        self.quarantine = Some(QuarantineState {
            series_began,
            current_began: now,
            next_attempt: now + Duration::hours(wait_hours),
            series_count,
        });
        self.last_execution = Some(Execution {
            state: "Failed",
            began: now,
            ended: now,
            error: Some((code, run_error_message(code))),
        });
    }

    /// `status.code` as Graph writes it.
    fn code(&self) -> String {
        match &self.status {
            JobStatus::NotConfigured => "NotConfigured".to_owned(),
            JobStatus::NotRun => "NotRun".to_owned(),
            JobStatus::Active => "Active".to_owned(),
            JobStatus::Paused => "Paused".to_owned(),
            JobStatus::Quarantine => "Quarantine".to_owned(),
            JobStatus::Other(code) => code.clone(),
        }
    }

    /// The job as `GET …/jobs/{id}` returns it.
    pub fn to_json(&self) -> Value {
        let quarantine = self.quarantine.as_ref().map(|q| {
            json!({
                "currentBegan": q.current_began.to_rfc3339(),
                "nextAttempt": q.next_attempt.to_rfc3339(),
                "reason": QUARANTINE_REASON,
                "seriesBegan": q.series_began.to_rfc3339(),
                "seriesCount": q.series_count,
                "error": null,
            })
        });
        let last = self.last_execution.as_ref().map(|e| {
            json!({
                "activityIdentifier": null,
                "countEntitled": 0,
                "countEntitledForProvisioning": 0,
                "countEscrowed": 0,
                "countEscrowedRaw": 0,
                "countExported": 0,
                "countExports": 0,
                "countImported": 0,
                "countImportedDeltas": 0,
                "countImportedReferenceDeltas": 0,
                "state": e.state,
                "timeBegan": e.began.to_rfc3339(),
                "timeEnded": e.ended.to_rfc3339(),
                "error": e.error.map(|(code, message)| json!({
                    "code": code,
                    "message": message,
                    "tenantActionable": true,
                })),
            })
        });
        let steady = self
            .steady_state_last
            .map_or(NEVER.to_owned(), |t| t.to_rfc3339());
        json!({
            "id": self.id,
            "templateId": AWS_JOB_TEMPLATE_ID,
            "schedule": {"expiration": null, "interval": "PT40M", "state": "Active"},
            "status": {
                "code": self.code(),
                "countSuccessiveCompleteFailures": if self.quarantine.is_some() { 1 } else { 0 },
                "escrowsPruned": false,
                "lastExecution": last,
                "lastSuccessfulExecution": null,
                "lastSuccessfulExecutionWithExports": null,
                "progress": [],
                "quarantine": quarantine,
                "steadyStateFirstAchievedTime": steady,
                "steadyStateLastAchievedTime": steady,
                "synchronizedEntryCountByType": [],
                "troubleshootingUrl": null,
            },
            "synchronizationJobSettings": [],
        })
    }
}

fn run_error_message(code: &str) -> &'static str {
    if code == RUN_ERROR_REJECTED {
        "The target application rejected the provided credentials (HTTP 401)."
    } else {
        "Could not connect to the target application."
    }
}
