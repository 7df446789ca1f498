//! A rotation's story, as its thread tells it: the entries (one Slack message each) read
//! from the rotation's audit records, oldest first.
//!
//! The rotation record keeps only where things stand now (the last token's checks, the
//! last error). The thread must also keep what happened before — a token AWS rejected, a
//! check that failed after saving — so it is built from the audit trail, which already
//! records every step with who and when. Pure: records in, entries out.

use super::command::Stage;
use crate::audit::AuditRecord;
use chrono::{DateTime, Utc};

/// One token entered in the modal, and what the checks made of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first token entered in this rotation, 2 for the next, …
    pub number: usize,
    pub entered_by: String,
    pub entered_at: DateTime<Utc>,
    pub fingerprint: Option<String>,
    pub token_id: Option<String>,
    /// AWS probe, Entra test, saved, verified: which passed.
    pub passed: [bool; 4],
    /// Entra's job had stopped and the bot started it again.
    pub resumed: bool,
    pub outcome: AttemptOutcome,
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The checks are still running.
    Running,
    /// All checks passed: Entra uses this token.
    Passed { at: DateTime<Utc> },
    /// A check failed (AWS or Entra before saving: the token was not saved; later: a person
    /// must look).
    Failed {
        at: DateTime<Utc>,
        stage: Stage,
        reason: String,
    },
    /// The bot restarted during the checks; the token was only in memory.
    Lost { at: DateTime<Utc> },
}

/// One message of the thread, in the order they are posted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// The request, with its approval — who and when — (or how it ended before approval).
    Request {
        approved: Option<(String, DateTime<Utc>)>,
    },
    /// Step 1 (generate and enter a token): its instructions until a token is entered,
    /// then the first attempt's line.
    FirstAttempt(Option<Attempt>),
    /// Every later token entered: one line each.
    Attempt(Attempt),
    /// Step 2 (delete the old token), asked after an attempt passed: the first time
    /// (`number` 1), or again after a failed re-test sent the rotation back.
    DeleteOld {
        number: usize,
        confirmed: Option<(String, DateTime<Utc>)>,
    },
    /// The re-test after the deletion failed: the saved credentials stopped working.
    AfterDeletionFailed { at: DateTime<Utc>, reason: String },
    /// The rotation completed (`number` 2 after a re-test failure sent it back): who did
    /// what.
    Summary { number: usize },
}

impl Entry {
    /// The key the store keeps this entry's Slack message under (unique per rotation, and
    /// the same for the same entry every time the story is read).
    pub fn slot(&self) -> String {
        match self {
            Entry::Request { .. } => "approval".to_owned(),
            Entry::FirstAttempt(_) => "new_token".to_owned(),
            Entry::Attempt(attempt) => format!("attempt:{}", attempt.number),
            Entry::DeleteOld { number: 1, .. } => "delete_old".to_owned(),
            Entry::DeleteOld { number, .. } => format!("delete_old:{number}"),
            Entry::AfterDeletionFailed { at, .. } => {
                format!("after_deletion:{}", at.timestamp_micros())
            }
            Entry::Summary { number: 1 } => "summary".to_owned(),
            Entry::Summary { number } => format!("summary:{number}"),
        }
    }
}

fn text(record: &AuditRecord, key: &str) -> Option<String> {
    record.details.get(key)?.as_str().map(str::to_owned)
}

fn stage(name: &str) -> Option<Stage> {
    [
        Stage::AwsProbe,
        Stage::EntraTest,
        Stage::Save,
        Stage::Verify,
        Stage::AfterDeletion,
    ]
    .into_iter()
    .find(|s| s.as_str() == name)
}

/// The attempt at `index` of `entries`, while its checks run.
fn running(entries: &mut [Entry], index: Option<usize>) -> Option<&mut Attempt> {
    match entries.get_mut(index?)? {
        Entry::FirstAttempt(Some(a)) | Entry::Attempt(a)
            if a.outcome == AttemptOutcome::Running =>
        {
            Some(a)
        }
        _ => None,
    }
}

/// The thread's entries from the rotation's audit records (oldest first; records of other
/// rotations are ignored by the caller's query, refusals and the like here).
pub fn entries(records: &[AuditRecord]) -> Vec<Entry> {
    let mut entries = vec![Entry::Request { approved: None }];
    let mut attempts = 0usize;
    let mut completions = 0usize;
    // Index in `entries` of the attempt the checks report on.
    let mut current: Option<usize> = None;
    for record in records {
        match record.action.as_str() {
            "approved" if !entries.iter().any(|e| matches!(e, Entry::FirstAttempt(_))) => {
                entries[0] = Entry::Request {
                    approved: Some((record.actor.clone(), record.at)),
                };
                entries.push(Entry::FirstAttempt(None));
            }
            "token_submitted" => {
                attempts += 1;
                let attempt = Attempt {
                    number: attempts,
                    entered_by: record.actor.clone(),
                    entered_at: record.at,
                    fingerprint: text(record, "fingerprint"),
                    token_id: text(record, "new_token_id"),
                    passed: [false; 4],
                    resumed: false,
                    outcome: AttemptOutcome::Running,
                };
                let first = entries
                    .iter()
                    .position(|e| matches!(e, Entry::FirstAttempt(None)));
                match first {
                    Some(index) if attempts == 1 => {
                        entries[index] = Entry::FirstAttempt(Some(attempt));
                        current = Some(index);
                    }
                    _ => {
                        entries.push(Entry::Attempt(attempt));
                        current = Some(entries.len() - 1);
                    }
                }
            }
            "aws_probe_passed" | "entra_test_passed" | "token_saved" => {
                let index = match record.action.as_str() {
                    "aws_probe_passed" => 0,
                    "entra_test_passed" => 1,
                    _ => 2,
                };
                if let Some(attempt) = running(&mut entries, current) {
                    attempt.passed[index] = true;
                }
            }
            "saved_token_verified" => {
                let passed = running(&mut entries, current).map(|attempt| {
                    attempt.passed[3] = true;
                    attempt.resumed = record
                        .details
                        .get("provisioning_resumed")
                        .and_then(serde_json::Value::as_bool)
                        .unwrap_or(false);
                    attempt.outcome = AttemptOutcome::Passed { at: record.at };
                });
                if passed.is_some() {
                    let number = 1 + entries
                        .iter()
                        .filter(|e| matches!(e, Entry::DeleteOld { .. }))
                        .count();
                    entries.push(Entry::DeleteOld {
                        number,
                        confirmed: None,
                    });
                }
            }
            "check_failed" => {
                let stage = text(record, "stage").as_deref().and_then(stage);
                let reason = text(record, "reason").unwrap_or_default();
                if stage == Some(Stage::AfterDeletion) {
                    entries.push(Entry::AfterDeletionFailed {
                        at: record.at,
                        reason,
                    });
                } else if let Some(attempt) = running(&mut entries, current) {
                    attempt.outcome = AttemptOutcome::Failed {
                        at: record.at,
                        stage: stage.unwrap_or(Stage::AwsProbe),
                        reason,
                    };
                }
            }
            "recovered_after_restart" => {
                if let Some(attempt) = running(&mut entries, current) {
                    attempt.outcome = AttemptOutcome::Lost { at: record.at };
                }
            }
            "old_token_deletion_confirmed" => {
                let pending = entries.iter_mut().rev().find_map(|e| match e {
                    Entry::DeleteOld { confirmed, .. } if confirmed.is_none() => Some(confirmed),
                    _ => None,
                });
                if let Some(confirmed) = pending {
                    *confirmed = Some((record.actor.clone(), record.at));
                }
                completions += 1;
                entries.push(Entry::Summary {
                    number: completions,
                });
            }
            _ => {}
        }
    }
    entries
}

/// The attempts of a story, oldest first.
pub fn attempts(entries: &[Entry]) -> Vec<&Attempt> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::FirstAttempt(Some(a)) | Entry::Attempt(a) => Some(a),
            _ => None,
        })
        .collect()
}
