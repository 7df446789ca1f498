//! Stall reminders: a rotation that waits too long for a person gets a reply in its thread
//! mentioning whoever must act (the pure rule: [`crate::rotation::warnings::due_reminder`]).
//! Claimed in the store before posting, like the warnings, so a restart or a second sweep
//! never reminds twice.

use super::report::{SweepOutcome, SweepReport};
use super::{Mode, NO_TOKEN_ROW, Scheduler, surely_not_posted};
use crate::audit::NewAuditRecord;
use crate::engine::ConnectionRuntime;
use crate::rotation::warnings::{Audience, due_reminder};
use crate::slack::render;
use chrono::{DateTime, Utc};
use serde_json::json;

impl Scheduler {
    /// Reminds the people a stalled rotation of `connection` waits for, if a reminder is due.
    pub(super) async fn remind_stalled(
        &self,
        connection: &ConnectionRuntime,
        now: DateTime<Utc>,
        mode: Mode,
        report: &mut SweepReport,
    ) {
        let name = connection.name.as_str();
        let store = self.engine.store();
        let found = store.in_flight_rotation(name).and_then(|rotation| {
            let row = store.current_token(name)?.map_or(NO_TOKEN_ROW, |t| t.id);
            let sent: Vec<String> = store
                .sent_warnings(name, row)?
                .into_iter()
                .map(|w| w.threshold)
                .collect();
            Ok(rotation.map(|r| (r, row, sent)))
        });
        let (rotation, row, sent) = match found {
            Ok(Some(found)) => found,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(connection = name, error = %error, "cannot read what to remind about");
                report.push(
                    name,
                    "stall reminder",
                    SweepOutcome::Failed(error.to_string()),
                );
                return;
            }
        };
        let Some(due) = due_reminder(&rotation, &sent, now, self.settings.stall_reminder) else {
            return;
        };
        let (Some(channel), Some(thread)) = (rotation.channel.clone(), rotation.thread_ts.clone())
        else {
            return; // its thread is not posted yet: the presenter retries that first
        };
        let (users, groups) = match &due.audience {
            Audience::Lead(lead) => (vec![lead.clone()], Vec::new()),
            Audience::Approvers => {
                let mut users = self.settings.approvers.clone();
                if let Some(lead) = rotation
                    .driven_by
                    .as_ref()
                    .or(rotation.approved_by.as_ref())
                {
                    if !users.contains(lead) {
                        users.insert(0, lead.clone());
                    }
                }
                (users, self.settings.approver_groups.clone())
            }
        };
        let what = format!(
            "rotation #{} {} since {}: reminder {}",
            rotation.id,
            rotation.state.describe(),
            due.since.format("%Y-%m-%d %H:%M UTC"),
            due.number
        );
        if mode == Mode::DryRun {
            report.push(name, what, SweepOutcome::WouldPost);
            return;
        }
        let audit = |action: &str, extra: serde_json::Value| {
            NewAuditRecord::system(
                now,
                action,
                name,
                json!({
                    "reminder": due.key,
                    "number": due.number,
                    "state": rotation.state.as_str(),
                    "waiting_since": due.since,
                    "mentions": users.len() + groups.len(),
                    "details": extra,
                }),
            )
            .for_rotation(rotation.id.0)
        };
        match store.claim_warning(name, row, &due.key, &audit("stall_reminder", json!({}))) {
            Ok(true) => {}
            Ok(false) => return report.push(name, what, SweepOutcome::AlreadyClaimed),
            Err(error) => {
                return report.push(
                    name,
                    what,
                    SweepOutcome::Failed(format!("cannot claim the reminder: {error}")),
                );
            }
        }
        let message = render::stall_reminder(&rotation, due.number, &users, &groups, now);
        match self
            .api
            .post_message(&channel, Some(&thread), message.text, message.blocks)
            .await
        {
            Ok(_) => {
                tracing::info!(connection = name, rotation = %rotation.id, number = due.number, "stall reminder posted");
                report.push(name, what, SweepOutcome::Posted);
            }
            Err(error) => {
                let release = surely_not_posted(&error);
                tracing::warn!(connection = name, error = %error, release, "cannot post a stall reminder");
                let record = audit(
                    "stall_reminder_failed",
                    json!({ "error": error.to_string(), "will_retry": release }),
                );
                let recorded = if release {
                    store
                        .release_warning(name, row, &due.key, &record)
                        .map(drop)
                } else {
                    store.append_audit(&record).map(drop)
                };
                if let Err(store_error) = recorded {
                    tracing::error!(connection = name, error = %store_error, "cannot record a failed reminder");
                }
                report.push(name, what, SweepOutcome::Failed(error.to_string()));
            }
        }
    }
}
