//! Keeps each rotation's thread in step with its state: one message per step, posted when
//! the step appears and updated in place (`chat.update`) as it completes.
//!
//! It runs as one task reading the engine's notices, so posts for a rotation never race,
//! and it renders from the database through the engine's read side (not from the notice), so
//! a missed notice is repaired by the next one. A message whose rendering did not change is
//! not sent again. Where a message was posted is reported back to the engine
//! ([`Engine::record_placement`]), the one writer of a rotation's Slack placement.

use super::api::SlackApi;
use super::approvers::ApproverDirectory;
use super::render::{self, Approvers, ConnectionInfo, Message};
use crate::engine::{Engine, Notice};
use crate::rotation::{Rotation, RotationId, RotationState};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

/// How often messages that Slack did not take (rate limits, an outage) are tried again: a
/// step without its buttons would leave the rotation stuck.
const RETRY_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// The steps of a rotation thread, in the order they appear.
pub const STEPS: [&str; 5] = ["approval", "new_token", "checks", "delete_old", "summary"];

pub struct Presenter {
    engine: Arc<Engine>,
    api: SlackApi,
    approvers: Arc<ApproverDirectory>,
    channel: String,
    allow_self_approval: bool,
    /// What each step message last showed, to skip updates that change nothing.
    shown: HashMap<(RotationId, &'static str), String>,
    /// The `seq` of the last notice fully presented (see [`Presenter::progress`]).
    progress: watch::Sender<u64>,
    /// Rotations whose messages could not all be shown: retried every [`RETRY_EVERY`].
    failed: HashSet<RotationId>,
    /// Every notice numbered up to this was handled; `pending` holds those handled above it.
    watermark: u64,
    pending: std::collections::BTreeSet<u64>,
}

impl Presenter {
    pub fn new(
        engine: Arc<Engine>,
        api: SlackApi,
        approvers: Arc<ApproverDirectory>,
        channel: String,
        allow_self_approval: bool,
    ) -> Self {
        Presenter {
            engine,
            api,
            approvers,
            channel,
            allow_self_approval,
            shown: HashMap::new(),
            progress: watch::Sender::new(0),
            failed: HashSet::new(),
            watermark: 0,
            pending: std::collections::BTreeSet::new(),
        }
    }

    /// Follows how far the presenter got: the `seq` of the last notice whose messages are
    /// posted. Waiting for it to reach `engine.notices_sent()` means the threads are current.
    pub fn progress(&self) -> watch::Receiver<u64> {
        self.progress.subscribe()
    }

    /// Presents every rotation that is not finished (at start-up: a notice may have been lost
    /// in a crash), then follows the engine's notices until it shuts down.
    pub async fn run(mut self, mut notices: tokio::sync::broadcast::Receiver<Notice>) {
        let reached = self.engine.notices_sent();
        self.present_recent().await;
        self.skip_to(reached);
        let mut retry = tokio::time::interval(RETRY_EVERY);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                received = notices.recv() => match received {
                    Ok(notice) => {
                        if let Some(rotation) = notice.rotation {
                            self.present(rotation).await;
                        }
                        self.handled(notice.seq);
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "presenter fell behind; re-presenting recent rotations");
                        let reached = self.engine.notices_sent();
                        self.present_recent().await;
                        self.skip_to(reached);
                    }
                    Err(RecvError::Closed) => return,
                },
                _ = retry.tick(), if !self.failed.is_empty() => {
                    let failed: Vec<RotationId> = self.failed.iter().copied().collect();
                    for id in failed {
                        self.present(id).await;
                    }
                }
            }
        }
    }

    /// Notices can arrive out of order (numbers are taken before the write, sent after it):
    /// progress only moves past numbers all handled.
    fn handled(&mut self, seq: u64) {
        if seq > self.watermark {
            self.pending.insert(seq);
        }
        while self.pending.remove(&(self.watermark + 1)) {
            self.watermark += 1;
        }
        self.progress.send_replace(self.watermark);
    }

    /// Everything up to `seq` is shown (after re-presenting from the store).
    fn skip_to(&mut self, seq: u64) {
        self.watermark = self.watermark.max(seq);
        let watermark = self.watermark;
        self.pending.retain(|s| *s > watermark);
        self.handled(watermark);
    }

    /// Presents every rotation that is open or changed in the last day: at start-up (a
    /// notice may have been lost in a crash, a finished rotation's last update with it) and
    /// after falling behind.
    async fn present_recent(&mut self) {
        let since = self.engine.now() - chrono::Duration::days(1);
        let ids = match self.engine.query().open_or_changed_since(since) {
            Ok(ids) => ids,
            Err(error) => {
                tracing::error!(error = %error, "cannot list rotations to present");
                return;
            }
        };
        for id in ids {
            self.present(id).await;
        }
    }

    /// Posts or updates every visible step message of rotation `id`.
    pub async fn present(&mut self, id: RotationId) {
        let rotation = match self.engine.query().rotation(id) {
            Ok(Some(rotation)) => rotation,
            Ok(None) => return,
            Err(error) => return tracing::error!(error = %error, "cannot read rotation"),
        };
        for (step, message) in self.render(&rotation) {
            if let Err(error) = self.show(&rotation, step, message).await {
                tracing::warn!(rotation = %id, step, error = %error, "cannot show a rotation step; will retry");
                self.failed.insert(id);
                return;
            }
        }
        if rotation.state == RotationState::Completed {
            if let Err(error) = self.resolve_root(&rotation).await {
                tracing::warn!(rotation = %id, error = %error, "cannot mark the warning as resolved; will retry");
                self.failed.insert(id);
                return;
            }
        }
        self.failed.remove(&id);
    }

    fn render(&self, r: &Rotation) -> Vec<(&'static str, Message)> {
        let Some(connection) = self.engine.connection(&r.connection) else {
            return Vec::new();
        };
        let conn = ConnectionInfo {
            name: &connection.name,
            aws_region: &connection.aws_region,
        };
        let now = self.engine.now();
        let users = self.approvers.users();
        let approvers = Approvers {
            users: &users,
            groups: self.approvers.groups(),
            allow_self_approval: self.allow_self_approval,
        };
        let old = self.engine.query().old_token(r).ok().flatten();
        let mut steps = vec![("approval", render::approval_step(r, &conn, &approvers, now))];
        if r.approved_by.is_some() {
            steps.push((
                "new_token",
                render::new_token_step(r, &conn, old.as_ref(), now),
            ));
        }
        if r.new_token_fingerprint.is_some() {
            steps.push(("checks", render::checks_step(r, now)));
        }
        if r.checks.verified {
            steps.push(("delete_old", render::delete_old_step(r, &conn, now)));
        }
        if r.state == RotationState::Completed {
            steps.push(("summary", render::completion_summary(r, now)));
        }
        steps
    }

    /// A rotation started from a warning or alert lives in that message's thread: once it is
    /// complete, the message itself says so and loses its Start rotation button.
    async fn resolve_root(&mut self, r: &Rotation) -> Result<(), String> {
        let (Some(channel), Some(root)) = (r.channel.clone(), r.thread_ts.clone()) else {
            return Ok(());
        };
        let own = self
            .engine
            .query()
            .step_message(r.id, "approval")
            .map_err(|e| e.to_string())?;
        if own.is_some_and(|(_, ts)| ts == root) {
            return Ok(()); // the thread starts with our own request (/scim rotate): nothing to resolve
        }
        let key = (r.id, "root");
        if self.shown.contains_key(&key) {
            return Ok(());
        }
        let message = render::warning_resolved(r, self.engine.now());
        self.api
            .update_message(&channel, &root, message.text, message.blocks)
            .await
            .map_err(|e| e.to_string())?;
        self.shown.insert(key, String::new());
        Ok(())
    }

    async fn show(
        &mut self,
        r: &Rotation,
        step: &'static str,
        message: Message,
    ) -> Result<(), String> {
        let fingerprint = serde_json::to_string(&message).map_err(|e| e.to_string())?;
        let key = (r.id, step);
        let query = self.engine.query();
        match query.step_message(r.id, step).map_err(|e| e.to_string())? {
            Some((channel, ts)) => {
                if self.shown.get(&key) == Some(&fingerprint) {
                    return Ok(());
                }
                self.api
                    .update_message(&channel, &ts, message.text, message.blocks)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            None => {
                let channel = r.channel.clone().unwrap_or_else(|| self.channel.clone());
                let thread = query
                    .rotation(r.id)
                    .ok()
                    .flatten()
                    .and_then(|fresh| fresh.thread_ts);
                let ts = self
                    .api
                    .post_message(&channel, thread.as_deref(), message.text, message.blocks)
                    .await
                    .map_err(|e| e.to_string())?;
                // The placement is the engine's to write, in its serial order; the first
                // step message starts the thread the others reply in.
                self.engine
                    .record_placement(r.id, step, &channel, &ts, thread.is_none())
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        self.shown.insert(key, fingerprint);
        Ok(())
    }
}
