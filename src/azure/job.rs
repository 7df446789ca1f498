//! The Entra provisioning (synchronization) job, as far as token health is concerned.

use chrono::{DateTime, Datelike, Utc};
use serde::Deserialize;
use std::fmt;

/// `status.code` of a synchronization job.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Credentials were never saved.
    NotConfigured,
    /// Configured but never started.
    NotRun,
    /// Running on its schedule.
    Active,
    /// Stopped by an administrator.
    Paused,
    /// Stopped by Entra after repeated failures (such as a rejected token); retried at
    /// 6 h, 12 h, 24 h, then daily, and disabled after four weeks.
    Quarantine,
    /// A code this bot does not know.
    Other(String),
}

impl JobStatus {
    pub fn parse(code: &str) -> Self {
        match code {
            "NotConfigured" => JobStatus::NotConfigured,
            "NotRun" => JobStatus::NotRun,
            "Active" => JobStatus::Active,
            "Paused" => JobStatus::Paused,
            "Quarantine" => JobStatus::Quarantine,
            other => JobStatus::Other(other.to_owned()),
        }
    }

    /// The code as Graph writes it.
    pub fn as_str(&self) -> &str {
        match self {
            JobStatus::NotConfigured => "NotConfigured",
            JobStatus::NotRun => "NotRun",
            JobStatus::Active => "Active",
            JobStatus::Paused => "Paused",
            JobStatus::Quarantine => "Quarantine",
            JobStatus::Other(code) => code,
        }
    }

    /// Whether `start` applies: Microsoft asks to start a job only when it is paused or
    /// quarantined (starting a running job repeatedly can stop the service).
    pub fn can_start(&self) -> bool {
        matches!(self, JobStatus::Paused | JobStatus::Quarantine)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `status.quarantine` of a quarantined job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quarantine {
    /// Such as `EncounteredQuarantineException`.
    pub reason: String,
    /// When this run of quarantines began.
    pub series_began: Option<DateTime<Utc>>,
    /// When the current quarantine began.
    pub current_began: Option<DateTime<Utc>>,
    /// `quarantine.error.code`, when given.
    pub error_code: Option<String>,
}

/// `status.lastExecution`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastExecution {
    /// `Succeeded`, `Failed` or `EntryLevelErrors`.
    pub state: String,
    pub error_code: Option<String>,
    /// Entra's own words, for logs; never branched on.
    pub error_message: Option<String>,
    pub time_ended: Option<DateTime<Utc>>,
}

/// A provisioning job, reduced to what tells whether its credentials work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncJob {
    pub id: String,
    pub status: JobStatus,
    pub quarantine: Option<Quarantine>,
    pub last_execution: Option<LastExecution>,
}

impl SyncJob {
    /// A short operator text when the job shows a credential problem: it is quarantined,
    /// or its last run failed with an error code about credentials. `None` when healthy.
    pub fn credential_problem(&self) -> Option<String> {
        if self.status == JobStatus::Quarantine {
            let mut text = "provisioning is quarantined".to_owned();
            if let Some(q) = &self.quarantine {
                if let Some(began) = q.series_began {
                    text.push_str(&format!(" since {}", began.format("%Y-%m-%d %H:%M UTC")));
                }
                let code = q.error_code.as_deref().or(self
                    .last_execution
                    .as_ref()
                    .and_then(|e| e.error_code.as_deref()));
                match code {
                    Some(code) => text.push_str(&format!(" ({}: {code})", q.reason)),
                    None => text.push_str(&format!(" ({})", q.reason)),
                }
            }
            return Some(text);
        }
        let code = self.last_execution.as_ref()?.error_code.as_deref()?;
        code.contains("Credential")
            .then(|| format!("the last provisioning run failed with {code}"))
    }

    /// Reads a job from Graph's JSON.
    pub(crate) fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice::<wire::Job>(body).map(SyncJob::from)
    }
}

/// Graph's `GET …/jobs` answer.
#[derive(Deserialize)]
pub(crate) struct JobList {
    #[serde(default)]
    pub value: Vec<JobListEntry>,
}

/// The fields of a listed job that discovery needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobListEntry {
    pub id: String,
    #[serde(default)]
    pub template_id: Option<String>,
}

/// Graph's JSON shapes, every field optional: a missing field must not hide the rest.
mod wire {
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Job {
        pub id: String,
        #[serde(default)]
        pub status: Option<Status>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Status {
        pub code: Option<String>,
        pub quarantine: Option<Quarantine>,
        pub last_execution: Option<Execution>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Quarantine {
        pub reason: Option<String>,
        pub series_began: Option<String>,
        pub current_began: Option<String>,
        pub error: Option<Error>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Execution {
        pub state: Option<String>,
        pub time_ended: Option<String>,
        pub error: Option<Error>,
    }

    #[derive(Deserialize)]
    pub struct Error {
        pub code: Option<String>,
        pub message: Option<String>,
    }
}

impl From<wire::Job> for SyncJob {
    fn from(job: wire::Job) -> Self {
        let (code, quarantine, execution) = match job.status {
            Some(s) => (s.code, s.quarantine, s.last_execution),
            None => (None, None, None),
        };
        SyncJob {
            id: job.id,
            status: JobStatus::parse(code.as_deref().unwrap_or_default()),
            quarantine: quarantine.map(|q| Quarantine {
                reason: q.reason.unwrap_or_default(),
                series_began: time(q.series_began),
                current_began: time(q.current_began),
                error_code: q.error.and_then(|e| e.code).filter(|c| !c.is_empty()),
            }),
            last_execution: execution.map(|e| {
                let (error_code, error_message) = match e.error {
                    Some(err) => (err.code.filter(|c| !c.is_empty()), err.message),
                    None => (None, None),
                };
                LastExecution {
                    state: e.state.unwrap_or_default(),
                    error_code,
                    error_message,
                    time_ended: time(e.time_ended),
                }
            }),
        }
    }
}

/// A Graph timestamp; `0001-01-01T00:00:00Z` (Graph's "never") and unreadable values are `None`.
fn time(text: Option<String>) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(text?.trim()).ok()?;
    (parsed.year() > 1).then(|| parsed.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const QUARANTINED: &str = r#"{
        "id": "aWSSingleSignon.0f1e2d3c4b5a69788796a5b4c3d2e1f0.3f8e2c1a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
        "templateId": "aWSSingleSignon",
        "schedule": {"expiration": null, "interval": "PT40M", "state": "Active"},
        "status": {
            "code": "Quarantine",
            "countSuccessiveCompleteFailures": 3,
            "escrowsPruned": false,
            "lastExecution": {
                "activityIdentifier": "a1",
                "countEntitled": 0,
                "state": "Failed",
                "timeBegan": "2027-03-01T09:59:58.1234567Z",
                "timeEnded": "2027-03-01T10:00:00Z",
                "error": {
                    "code": "SystemForCrossDomainIdentityManagementCredentialValidationFailure",
                    "message": "The credentials were rejected.",
                    "tenantActionable": true
                }
            },
            "quarantine": {
                "currentBegan": "2027-03-01T10:00:00Z",
                "nextAttempt": "2027-03-01T16:00:00Z",
                "reason": "EncounteredQuarantineException",
                "seriesBegan": "2027-02-28T10:00:00Z",
                "seriesCount": 2,
                "error": null
            },
            "steadyStateFirstAchievedTime": "0001-01-01T00:00:00Z",
            "steadyStateLastAchievedTime": "0001-01-01T00:00:00Z"
        }
    }"#;

    #[test]
    fn a_quarantined_job_is_read_and_explained() {
        let job = SyncJob::from_json(QUARANTINED.as_bytes()).unwrap();
        assert_eq!(job.status, JobStatus::Quarantine);
        let q = job.quarantine.as_ref().unwrap();
        assert_eq!(q.reason, "EncounteredQuarantineException");
        assert_eq!(
            q.series_began,
            Some(Utc.with_ymd_and_hms(2027, 2, 28, 10, 0, 0).unwrap())
        );
        assert_eq!(q.error_code, None);
        let last = job.last_execution.as_ref().unwrap();
        assert_eq!(last.state, "Failed");
        assert_eq!(
            job.credential_problem().unwrap(),
            "provisioning is quarantined since 2027-02-28 10:00 UTC (EncounteredQuarantineException: SystemForCrossDomainIdentityManagementCredentialValidationFailure)"
        );
    }

    #[test]
    fn a_credential_error_on_an_active_job_is_a_problem() {
        let job = SyncJob {
            id: "j".to_owned(),
            status: JobStatus::Active,
            quarantine: None,
            last_execution: Some(LastExecution {
                state: "Failed".to_owned(),
                error_code: Some("CredentialValidationUnavailable".to_owned()),
                error_message: None,
                time_ended: None,
            }),
        };
        assert_eq!(
            job.credential_problem().unwrap(),
            "the last provisioning run failed with CredentialValidationUnavailable"
        );
    }

    #[test]
    fn a_healthy_job_has_no_problem() {
        let body = br#"{"id":"j","status":{"code":"Active","lastExecution":{"state":"Succeeded","error":null,"timeEnded":"0001-01-01T00:00:00Z"},"quarantine":null}}"#;
        let job = SyncJob::from_json(body).unwrap();
        assert_eq!(job.status, JobStatus::Active);
        assert_eq!(job.last_execution.as_ref().unwrap().time_ended, None);
        assert_eq!(job.credential_problem(), None);
    }

    #[test]
    fn unknown_status_codes_are_kept() {
        let job = SyncJob::from_json(br#"{"id":"j","status":{"code":"Disabled"}}"#).unwrap();
        assert_eq!(job.status, JobStatus::Other("Disabled".to_owned()));
    }
}
