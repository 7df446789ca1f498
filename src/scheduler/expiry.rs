//! Expiry warnings: find the warning due for a connection's token, claim it, post it.

use super::report::{SweepOutcome, SweepReport};
use super::{Mode, NO_TOKEN_ROW, Scheduler, surely_not_posted};
use crate::audit::NewAuditRecord;
use crate::engine::ConnectionRuntime;
use crate::metrics::MessageKind;
use crate::rotation::TokenRecord;
use crate::rotation::expiry::Threshold;
use crate::rotation::warnings::{DueWarning, Placement, WarningInput, WarningKind, due_warning};
use crate::slack::api::SlackApiError;
use crate::slack::render::{self, ConnectionInfo, Message, format};
use crate::store::{StoreError, WarningRecord};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Everything the decision was made from, kept for posting.
struct Found {
    token: Option<TokenRecord>,
    row: i64,
    /// The cycle's first posted message: (channel, ts).
    thread: Option<(String, String)>,
    due: DueWarning,
    /// The connection's open rotation, if any.
    rotation: Option<crate::rotation::Rotation>,
}

/// The metrics kind of a warning.
fn metric_kind(kind: WarningKind) -> MessageKind {
    match kind {
        WarningKind::DaysLeft(_) => MessageKind::ExpiryThreshold,
        WarningKind::Expired { .. } => MessageKind::ExpiryCritical,
        WarningKind::UnknownExpiry => MessageKind::UnknownExpiry,
    }
}

/// `token tok-123 expires 2027-03-14 (7 days left): warning (reply in thread)`.
fn describe(found: &Found, now: DateTime<Utc>) -> String {
    let subject = match &found.token {
        None => "no token recorded".to_owned(),
        Some(token) => match token.expires_at {
            None => format!("token {} has no known expiry", token.display_id()),
            Some(expires) if now >= expires => format!(
                "token {} expired {} ({})",
                token.display_id(),
                format::plain_day(expires),
                format::time_left(expires, now)
            ),
            Some(expires) => format!(
                "token {} expires {} ({})",
                token.display_id(),
                format::plain_day(expires),
                format::time_left(expires, now)
            ),
        },
    };
    let what = match found.due.kind {
        WarningKind::UnknownExpiry => "ask to register it".to_owned(),
        kind => kind.severity().as_str().to_owned(),
    };
    let mention = if found.due.mention {
        ", mentioning the approvers"
    } else {
        ""
    };
    format!("{subject}: {what} ({}{mention})", found.due.placement)
}

impl Scheduler {
    /// Posts the warning due for `connection`'s token now, if one is (see the module docs of
    /// [`crate::rotation::warnings`]).
    pub(super) async fn warn_expiry(
        &self,
        connection: &ConnectionRuntime,
        now: DateTime<Utc>,
        mode: Mode,
        report: &mut SweepReport,
    ) {
        let name = connection.name.as_str();
        let found = match self.find_due(name, now) {
            Ok(Some(found)) => found,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(connection = name, error = %error, "cannot read what to warn about");
                report.push(
                    name,
                    "expiry check",
                    SweepOutcome::Failed(format!("cannot read the store: {error}")),
                );
                return;
            }
        };
        let what = describe(&found, now);
        if mode == Mode::DryRun {
            report.push(name, what, SweepOutcome::WouldPost);
            return;
        }
        let outcome = self.send(connection, &found, now).await;
        report.push(name, what, outcome);
    }

    /// The warning a sweep at `now` would find due for each connection's token (`None`: none
    /// due), reading only: the deciding half of [`Scheduler::sweep`], without the claims, the
    /// posts and the provisioning-job checks. `benches/sweep.rs` measures it.
    pub fn decide_warnings(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, Option<DueWarning>)>, StoreError> {
        self.engine
            .connection_names()
            .into_iter()
            .map(|name| {
                let due = self.find_due(&name, now)?.map(|found| found.due);
                Ok((name, due))
            })
            .collect()
    }

    fn find_due(&self, connection: &str, now: DateTime<Utc>) -> Result<Option<Found>, StoreError> {
        let store = self.engine.store();
        let token = store.current_token(connection)?;
        let row = token.as_ref().map_or(NO_TOKEN_ROW, |t| t.id);
        let sent = store.sent_warnings(connection, row)?;
        let thread = thread_of(&sent);
        let keys: Vec<String> = sent.into_iter().map(|w| w.threshold).collect();
        let open = store.in_flight_rotation(connection)?;
        let rotation_open = open.is_some();
        let token_replaced = open
            .as_ref()
            .is_some_and(|r| r.state == crate::rotation::RotationState::AwaitingOldTokenDeletion);
        let due = due_warning(&WarningInput {
            token: token.as_ref(),
            sent: &keys,
            thread_exists: thread.is_some(),
            rotation_open,
            token_replaced,
            now,
            warn_days: &self.settings.warn_days,
        });
        Ok(due.map(|due| Found {
            token,
            row,
            thread,
            due,
            rotation: open,
        }))
    }

    /// Claims the warning, posts it, records its message. The claim is given back when Slack
    /// says it did not post.
    async fn send(
        &self,
        connection: &ConnectionRuntime,
        found: &Found,
        now: DateTime<Utc>,
    ) -> SweepOutcome {
        let store = self.engine.store();
        let name = connection.name.as_str();
        let due = &found.due;
        let audit = |action: &str, extra: serde_json::Value| {
            NewAuditRecord::system(
                now,
                action,
                name,
                json!({
                    "warning": due.key,
                    "severity": due.kind.severity().as_str(),
                    "placement": due.placement.to_string(),
                    "mention": due.mention,
                    "token_id": found.token.as_ref().and_then(|t| t.token_id.clone()),
                    "expires": found.token.as_ref().and_then(|t| t.expires_at),
                    "details": extra,
                }),
            )
        };
        match store.claim_warning(
            name,
            found.row,
            &due.key,
            &audit("expiry_warning", json!({})),
        ) {
            Ok(true) => {}
            Ok(false) => return SweepOutcome::AlreadyClaimed,
            Err(error) => {
                return SweepOutcome::Failed(format!("cannot claim the warning: {error}"));
            }
        }
        let info = Scheduler::connection_info(connection);
        let posted = match (&found.rotation, &found.thread) {
            (Some(rotation), _) if due.placement == Placement::RotationThread => {
                self.post_in_rotation_thread(&info, found, rotation, now)
                    .await
            }
            (_, None) => self.post_new(&info, found, now).await.map(Some),
            (_, Some((channel, root))) => self
                .post_in_thread(&info, found, channel, root, now)
                .await
                .map(Some),
        };
        match posted {
            Ok(message) => {
                self.api.metrics().warning_sent(metric_kind(due.kind));
                // A reply in a rotation's thread is not the warning cycle's message: the
                // cycle's next warning still goes where the cycle lives.
                if let Some((channel, ts)) = message {
                    if let Err(error) =
                        store.set_warning_message(name, found.row, &due.key, &channel, &ts)
                    {
                        tracing::error!(connection = name, error = %error, "posted a warning but cannot record its message");
                    }
                }
                tracing::info!(connection = name, warning = %due.key, "expiry warning posted");
                SweepOutcome::Posted
            }
            Err(error) => {
                let release = surely_not_posted(&error);
                tracing::warn!(connection = name, warning = %due.key, error = %error, release, "cannot post an expiry warning");
                let record = audit(
                    "expiry_warning_failed",
                    json!({ "error": error.to_string(), "will_retry": release }),
                );
                let recorded = if release {
                    store
                        .release_warning(name, found.row, &due.key, &record)
                        .map(drop)
                } else {
                    store.append_audit(&record).map(drop)
                };
                if let Err(store_error) = recorded {
                    tracing::error!(connection = name, error = %store_error, "cannot record a failed warning");
                }
                let retry = if release {
                    "the next sweep tries again"
                } else {
                    "Slack may have posted it, so it is not sent again"
                };
                SweepOutcome::Failed(format!("{error} ({retry})"))
            }
        }
    }

    /// The cycle's first message, plus a mention of the approvers in its thread when the
    /// first warning is already urgent. Returns the first message's (channel, ts).
    async fn post_new(
        &self,
        info: &ConnectionInfo<'_>,
        found: &Found,
        now: DateTime<Utc>,
    ) -> Result<(String, String), SlackApiError> {
        let channel = &self.settings.channel;
        let message = match (found.due.kind.threshold(), &found.token) {
            (Some(threshold), Some(token)) => {
                render::expiry_warning(info, token, threshold, now, None)
            }
            _ => render::unknown_expiry_warning(info, found.token.as_ref(), None),
        };
        let ts = self
            .api
            .post_message(channel, None, message.text, message.blocks)
            .await?;
        if found.due.mention {
            if let Some(reply) = self.reply(info, found, now) {
                if let Err(error) = self
                    .api
                    .post_message(channel, Some(&ts), reply.text, reply.blocks)
                    .await
                {
                    tracing::warn!(error = %error, "posted a warning but not its mention of the approvers");
                }
            }
        }
        Ok((channel.clone(), ts))
    }

    /// A reply in the cycle's thread, then the first message updated to the new severity
    /// and days left. Returns the reply's (channel, ts).
    async fn post_in_thread(
        &self,
        info: &ConnectionInfo<'_>,
        found: &Found,
        channel: &str,
        root: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, String), SlackApiError> {
        let reply = self
            .reply(info, found, now)
            .unwrap_or_else(|| render::unknown_expiry_warning(info, found.token.as_ref(), None));
        let ts = match self
            .api
            .post_message(channel, Some(root), reply.text, reply.blocks)
            .await
        {
            Ok(ts) => ts,
            Err(SlackApiError::Api { code, .. }) => {
                // Slack refused the reply itself (the first warning deleted, its channel
                // archived, …): the warning must still reach people, as a new message.
                tracing::warn!(%code, "cannot reply in the warning's thread; posting a new message");
                return self.post_new(info, found, now).await;
            }
            Err(error) => return Err(error),
        };
        if let (Some(threshold), Some(token)) = (found.due.kind.threshold(), &found.token) {
            let top = render::expiry_warning(info, token, threshold, now, None);
            if let Err(error) = self
                .api
                .update_message(channel, root, top.text, top.blocks)
                .await
            {
                tracing::warn!(error = %error, "posted a warning reply but cannot update the first warning");
            }
        }
        Ok((channel.to_owned(), ts))
    }

    /// An urgent or critical warning while a rotation is open: a reply in the rotation's
    /// thread mentioning the approvers, and — when the rotation lives in this cycle's
    /// warning thread — that warning updated to the new severity, still showing the
    /// rotation in progress. Returns the message to record as the cycle's, when the
    /// warning had to go where the cycle lives instead.
    async fn post_in_rotation_thread(
        &self,
        info: &ConnectionInfo<'_>,
        found: &Found,
        rotation: &crate::rotation::Rotation,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, String)>, SlackApiError> {
        let channel = rotation
            .channel
            .clone()
            .unwrap_or_else(|| self.settings.channel.clone());
        let Some(root) = rotation.thread_ts.clone() else {
            // The rotation's thread is not posted yet (Slack was down): the cycle's own
            // thread, or a new message, still reaches people.
            return match &found.thread {
                Some((channel, root)) => self
                    .post_in_thread(info, found, channel, root, now)
                    .await
                    .map(Some),
                None => self.post_new(info, found, now).await.map(Some),
            };
        };
        let reply = self
            .reply(info, found, now)
            .unwrap_or_else(|| render::unknown_expiry_warning(info, found.token.as_ref(), None));
        self.api
            .post_message(&channel, Some(&root), reply.text, reply.blocks)
            .await?;
        let (Some(threshold), Some(token)) = (found.due.kind.threshold(), &found.token) else {
            return Ok(None);
        };
        if found.thread.as_ref() == Some(&(channel.clone(), root.clone())) {
            let link = match self
                .engine
                .store()
                .rotation_message(rotation.id, "approval")
            {
                Ok(Some((channel, ts))) => self.api.permalink(&channel, &ts).await.ok(),
                _ => None,
            };
            let line = render::in_progress_line(rotation, link.as_deref());
            let top = render::expiry_warning(info, token, threshold, now, Some(&line));
            if let Err(error) = self
                .api
                .update_message(&channel, &root, top.text, top.blocks)
                .await
            {
                tracing::warn!(error = %error, "posted a warning reply but cannot update the first warning");
            }
        }
        Ok(None)
    }

    /// The thread reply for a warning with a known threshold, mentioning the approvers when
    /// the warning says to.
    fn reply(
        &self,
        info: &ConnectionInfo<'_>,
        found: &Found,
        now: DateTime<Utc>,
    ) -> Option<Message> {
        let threshold: Threshold = found.due.kind.threshold()?;
        let token = found.token.as_ref()?;
        let (users, groups): (&[String], &[String]) = if found.due.mention {
            (&self.settings.approvers, &self.settings.approver_groups)
        } else {
            (&[], &[])
        };
        let rotation = found
            .rotation
            .as_ref()
            .filter(|_| found.due.placement == Placement::RotationThread);
        Some(render::threshold_reply(
            info, token, threshold, now, users, groups, rotation,
        ))
    }
}

/// Where the cycle's thread lives: its first warning whose message is known. A first
/// warning whose post was lost leaves no thread, and the next warning starts one.
fn thread_of(sent: &[WarningRecord]) -> Option<(String, String)> {
    sent.iter()
        .find_map(|w| Some((w.channel.clone()?, w.ts.clone()?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotation::ExpirySource;
    use chrono::{Duration, TimeZone};

    fn found(
        kind: WarningKind,
        placement: Placement,
        mention: bool,
        expires: Option<DateTime<Utc>>,
    ) -> Found {
        Found {
            token: Some(TokenRecord {
                id: 3,
                connection: "prod-org".to_owned(),
                token_id: Some("tok-123".to_owned()),
                created_at: None,
                expires_at: expires,
                source: ExpirySource::Manual,
                fingerprint: None,
                retired_at: None,
            }),
            row: 3,
            thread: None,
            due: DueWarning {
                kind,
                key: kind.key(),
                placement,
                mention,
            },
            rotation: None,
        }
    }

    #[test]
    fn descriptions_say_what_would_be_posted_and_where() {
        let expires = Utc.with_ymd_and_hms(2027, 3, 14, 9, 0, 0).unwrap();
        let now = expires - Duration::days(7);
        assert_eq!(
            describe(
                &found(
                    WarningKind::DaysLeft(7),
                    Placement::InThread,
                    false,
                    Some(expires)
                ),
                now
            ),
            "token tok-123 expires 2027-03-14 (7 days left): warning (reply in thread)"
        );
        assert_eq!(
            describe(
                &found(
                    WarningKind::Expired {
                        day: expires.date_naive() + Duration::days(2)
                    },
                    Placement::InThread,
                    true,
                    Some(expires)
                ),
                expires + Duration::days(2)
            ),
            "token tok-123 expired 2027-03-14 (expired 2 days ago): critical (reply in thread, mentioning the approvers)"
        );
        assert_eq!(
            describe(
                &found(
                    WarningKind::UnknownExpiry,
                    Placement::NewMessage,
                    false,
                    None
                ),
                now
            ),
            "token tok-123 has no known expiry: ask to register it (new message)"
        );
    }

    #[test]
    fn the_thread_is_the_first_warning_whose_message_is_known() {
        let record = |threshold: &str, ts: Option<&str>| WarningRecord {
            connection: "prod".to_owned(),
            token_row: 1,
            threshold: threshold.to_owned(),
            sent_at: Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
            channel: ts.map(|_| "C1".to_owned()),
            ts: ts.map(str::to_owned),
        };
        assert_eq!(thread_of(&[]), None);
        assert_eq!(thread_of(&[record("d30", None)]), None);
        assert_eq!(
            thread_of(&[
                record("d30", None),
                record("d14", Some("2.0")),
                record("d7", Some("3.0"))
            ]),
            Some(("C1".to_owned(), "2.0".to_owned()))
        );
    }
}
