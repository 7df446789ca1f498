//! Keeps each rotation's thread in step with its story: one message per entry of
//! [`history::entries`] (read from the rotation's audit records), posted when the entry
//! appears and updated in place (`chat.update`) as it completes — so a failed attempt keeps
//! its line and the step awaiting action is always the newest message. The warning the
//! rotation started from tracks it too: "in progress" while it is open, *Start rotation*
//! again when it is called off, "rotated" once it completes.
//!
//! It runs as one task reading the engine's notices, so posts for a rotation never race,
//! and it renders from the database through the engine's read side (not from the notice), so
//! a missed notice is repaired by the next one. A message whose rendering did not change is
//! not sent again. Where a message was posted is reported back to the engine
//! ([`Engine::record_placement`]), the one writer of a rotation's Slack placement.

use super::api::SlackApi;
use super::approvers::ApproverDirectory;
use super::render::{self, Approvers, ConnectionInfo, Message, Thread};
use crate::engine::{Engine, Notice};
use crate::rotation::expiry::Threshold;
use crate::rotation::history::{self, Entry};
use crate::rotation::warnings::{EXPIRED_KEY_PREFIX, UNKNOWN_EXPIRY_KEY};
use crate::rotation::{Rotation, RotationId, RotationState};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

/// How often messages that Slack did not take (rate limits, an outage) are tried again: a
/// step without its buttons would leave the rotation stuck.
const RETRY_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// The key under which the warning a rotation started from is remembered in `shown`.
const ROOT: &str = "root";

pub struct Presenter {
    engine: Arc<Engine>,
    api: SlackApi,
    approvers: Arc<ApproverDirectory>,
    channel: String,
    allow_self_approval: bool,
    approvals_required: u8,
    /// What each step message last showed, to skip updates that change nothing.
    shown: HashMap<(RotationId, String), String>,
    /// Links to each rotation's thread (`chat.getPermalink` of its first message).
    links: HashMap<RotationId, String>,
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
        approvals_required: u8,
    ) -> Self {
        Presenter {
            engine,
            api,
            approvers,
            channel,
            allow_self_approval,
            approvals_required,
            shown: HashMap::new(),
            links: HashMap::new(),
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

    /// Posts or updates every message of rotation `id`'s thread, then the warning it
    /// started from.
    pub async fn present(&mut self, id: RotationId) {
        let query = self.engine.query();
        let (rotation, records) = match (query.rotation(id), query.story(id)) {
            (Ok(Some(rotation)), Ok(records)) => (rotation, records),
            (Ok(None), _) => return,
            (Err(error), _) | (_, Err(error)) => {
                return tracing::error!(error = %error, "cannot read rotation");
            }
        };
        let entries = history::entries(&records);
        for (entry, message) in self.render(&rotation, &entries) {
            let slot = entry.slot();
            if let Err(error) = self.show(&rotation, slot.clone(), message).await {
                tracing::warn!(rotation = %id, slot, error = %error, "cannot show a rotation step; will retry");
                self.failed.insert(id);
                return;
            }
        }
        if let Err(error) = self.present_root(&rotation).await {
            tracing::warn!(rotation = %id, error = %error, "cannot update the warning the rotation started from; will retry");
            self.failed.insert(id);
            return;
        }
        self.failed.remove(&id);
    }

    fn render<'e>(&self, r: &Rotation, entries: &'e [Entry]) -> Vec<(&'e Entry, Message)> {
        let Some(connection) = self.engine.connection(&r.connection) else {
            return Vec::new();
        };
        let users = self.approvers.users();
        let old = self.engine.query().old_token(r).ok().flatten();
        let thread = Thread {
            rotation: r,
            entries,
            conn: ConnectionInfo {
                name: &connection.name,
                aws_region: &connection.aws_region,
            },
            approvers: Approvers {
                users: &users,
                groups: self.approvers.groups(),
                allow_self_approval: self.allow_self_approval,
                required: self.approvals_required,
            },
            requester_is_approver: self.approvers.is_approver(&r.requested_by),
            old: old.as_ref(),
        };
        entries
            .iter()
            .enumerate()
            .map(|(index, entry)| (entry, render::thread_message(&thread, index)))
            .collect()
    }

    /// A rotation started from a warning or alert lives in that message's thread, and the
    /// message tracks it: an expiry warning shows the rotation in progress instead of its
    /// *Start rotation* button while it is open, and gets the button back when it is
    /// rejected, cancelled or expires; any message it started from says "rotated" once it
    /// completes.
    async fn present_root(&mut self, r: &Rotation) -> Result<(), String> {
        let (Some(channel), Some(root)) = (r.channel.clone(), r.thread_ts.clone()) else {
            return Ok(());
        };
        let own = self
            .engine
            .query()
            .step_message(r.id, "approval")
            .map_err(|e| e.to_string())?;
        if own.as_ref().is_some_and(|(_, ts)| *ts == root) {
            return Ok(()); // the thread starts with our own request (/scim rotate): nothing to track
        }
        let message = if r.state == RotationState::Completed {
            render::warning_resolved(r, self.engine.now())
        } else {
            let link = match own {
                Some((channel, ts)) if !r.state.is_terminal() => {
                    self.link(r.id, &channel, &ts).await
                }
                _ => None,
            };
            match self.warning_at_root(r, &channel, &root, link.as_deref())? {
                Some(message) => message,
                None => return Ok(()), // an alert, or a warning about an older token
            }
        };
        let fingerprint = serde_json::to_string(&message).map_err(|e| e.to_string())?;
        let key = (r.id, ROOT.to_owned());
        if self.shown.get(&key) == Some(&fingerprint) {
            return Ok(());
        }
        self.api
            .update_message(&channel, &root, message.text, message.blocks)
            .await
            .map_err(|e| e.to_string())?;
        self.shown.insert(key, fingerprint);
        Ok(())
    }

    /// The expiry warning at `(channel, root)` as it should read now for rotation `r`;
    /// `None` when that message is not a warning about the connection's current token.
    fn warning_at_root(
        &self,
        r: &Rotation,
        channel: &str,
        root: &str,
        link: Option<&str>,
    ) -> Result<Option<Message>, String> {
        let query = self.engine.query();
        let Some(warning) = query
            .warning_at_message(channel, root)
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        let token = query
            .current_token(&r.connection)
            .map_err(|e| e.to_string())?;
        if token
            .as_ref()
            .map_or(crate::scheduler::NO_TOKEN_ROW, |t| t.id)
            != warning.token_row
        {
            return Ok(None);
        }
        let Some(connection) = self.engine.connection(&r.connection) else {
            return Ok(None);
        };
        let info = ConnectionInfo {
            name: &connection.name,
            aws_region: &connection.aws_region,
        };
        let in_progress = (!r.state.is_terminal()).then(|| render::in_progress_line(r, link));
        // The latest warning of the cycle says how loud the message is now, and it is told as
        // of when that warning was sent: adding the rotation's line does not recount the days
        // (a 10-day notice edited five minutes later still says 10 days).
        let sent = query
            .sent_warnings(&r.connection, warning.token_row)
            .map_err(|e| e.to_string())?;
        let latest = sent
            .iter()
            .rev()
            .find_map(|w| threshold_of(&w.threshold).map(|t| (t, w.sent_at)));
        Ok(Some(match (latest, &token) {
            (Some((threshold, sent_at)), Some(token)) => {
                render::expiry_warning(&info, token, threshold, sent_at, in_progress.as_deref())
            }
            _ => render::unknown_expiry_warning(&info, token.as_ref(), in_progress.as_deref()),
        }))
    }

    /// The link to rotation `id`'s thread, asked of Slack once.
    async fn link(&mut self, id: RotationId, channel: &str, ts: &str) -> Option<String> {
        if let Some(link) = self.links.get(&id) {
            return Some(link.clone());
        }
        match self.api.permalink(channel, ts).await {
            Ok(link) => {
                self.links.insert(id, link.clone());
                Some(link)
            }
            Err(error) => {
                tracing::warn!(rotation = %id, error = %error, "cannot get the thread's link");
                None
            }
        }
    }

    async fn show(&mut self, r: &Rotation, step: String, message: Message) -> Result<(), String> {
        let fingerprint = serde_json::to_string(&message).map_err(|e| e.to_string())?;
        let key = (r.id, step.clone());
        let query = self.engine.query();
        match query.step_message(r.id, &step).map_err(|e| e.to_string())? {
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
                    .record_placement(r.id, &step, &channel, &ts, thread.is_none())
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        self.shown.insert(key, fingerprint);
        Ok(())
    }
}

/// The threshold a sent warning's key stands for; `None` for an unknown expiry (and for
/// keys that are not expiry warnings).
fn threshold_of(key: &str) -> Option<Threshold> {
    if key.starts_with(EXPIRED_KEY_PREFIX) {
        return Some(Threshold::Expired);
    }
    if key == UNKNOWN_EXPIRY_KEY {
        return None;
    }
    key.strip_prefix('d')?.parse().ok().map(Threshold::Days)
}
