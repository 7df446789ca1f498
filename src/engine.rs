//! The one place that applies commands to rotations.
//!
//! For each command: load the rotation, [`decide`], persist the new state with its audit
//! record in one transaction (the store also checks the version), then run the effects.
//! Commands are applied one at a time (a single lock around load → decide → persist), so a
//! double click, a redelivered event or two approvers clicking together change nothing
//! twice: the second sees the state the first left and is told the step is done.
//!
//! The token lives only in the check task spawned by [`Engine::submit_token`]: it is moved
//! in, used for the AWS probe and the two Entra calls, and dropped (zeroized) when the task
//! ends. A restart loses it, and [`Engine::recover`] asks for it again.

use crate::audit::NewAuditRecord;
use crate::aws::ScimProbe;
use crate::azure::{GraphClient, JobStatus};
use crate::clock::SharedClock;
use crate::rotation::{
    Actor, Command, Decision, Effect, ExpirySource, Policy, Rotation, RotationId, RotationState,
    Stage, StartRequest, Submission, decide, decide_start,
};
use crate::secret::ScimToken;
use crate::store::{NewToken, Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use futures_util::future::BoxFuture;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Mutex, broadcast};
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use url::Url;

/// How many change notices may wait for a slow subscriber before it misses some (it then
/// re-reads the state from the store, so missing one is harmless).
const NOTICE_CAPACITY: usize = 256;

/// What the engine needs to know about one connection.
pub struct ConnectionRuntime {
    pub name: String,
    /// The AWS SCIM endpoint, also Entra's `BaseAddress`.
    pub scim_url: Url,
    pub aws_region: String,
    pub graph: GraphClient,
}

/// The result of a command, for the person who sent it.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The rotation changed (and was persisted).
    Changed(Box<Rotation>),
    /// Something other than a rotation was recorded; the text confirms it to the sender.
    Recorded(String),
    /// Nothing to do: the step was already taken. The text tells the clicker.
    AlreadyDone(String),
    /// Not allowed, or bad input: nothing changed. The text tells the sender why.
    Refused(String),
}

/// Announces that a rotation changed, so the Slack layer can re-render its messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The rotation that changed; `None` when a write was attempted but changed nothing
    /// (its sequence number was reserved before the write and must still be delivered).
    pub rotation: Option<RotationId>,
    pub action: String,
    /// 1 for the first notice, then counting up: lets a subscriber say how far it got.
    pub seq: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Engine {
    store: Arc<Store>,
    clock: SharedClock,
    policy: Policy,
    approval_window: Duration,
    connections: HashMap<String, Arc<ConnectionRuntime>>,
    scim: ScimProbe,
    /// Serializes load → decide → persist.
    apply_lock: Mutex<()>,
    notices: broadcast::Sender<Notice>,
    notices_sent: std::sync::atomic::AtomicU64,
    tasks: TaskTracker,
}

impl Engine {
    pub fn new(
        store: Arc<Store>,
        clock: SharedClock,
        policy: Policy,
        approval_window: Duration,
        connections: Vec<ConnectionRuntime>,
        scim: ScimProbe,
    ) -> Arc<Engine> {
        let (notices, _) = broadcast::channel(NOTICE_CAPACITY);
        Arc::new(Engine {
            store,
            clock,
            policy,
            approval_window,
            connections: connections
                .into_iter()
                .map(|c| (c.name.clone(), Arc::new(c)))
                .collect(),
            scim,
            apply_lock: Mutex::new(()),
            notices,
            notices_sent: std::sync::atomic::AtomicU64::new(0),
            tasks: TaskTracker::new(),
        })
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn connection(&self, name: &str) -> Option<&Arc<ConnectionRuntime>> {
        self.connections.get(name)
    }

    /// Connection names, sorted.
    pub fn connection_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.connections.keys().cloned().collect();
        names.sort();
        names
    }

    /// Change notices from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// Waits (bounded) for running check tasks to finish, e.g. on shutdown.
    pub async fn drain(&self, within: std::time::Duration) -> bool {
        self.tasks.close();
        let finished = tokio::time::timeout(within, self.tasks.wait())
            .await
            .is_ok();
        self.tasks.reopen();
        finished
    }

    /// Starts a rotation of `connection`, requested by `actor`, living in `thread_ts` of
    /// `channel` when given (the warning's thread).
    #[tracing::instrument(skip_all, fields(connection, actor = actor.audit_name()))]
    pub async fn start(
        &self,
        connection: &str,
        actor: &Actor,
        channel: Option<String>,
        thread_ts: Option<String>,
    ) -> Result<Outcome, EngineError> {
        if !self.connections.contains_key(connection) {
            let known = self.connection_names().join(", ");
            return Ok(Outcome::Refused(no_such_connection(connection, &known)));
        }
        let _serial = self.apply_lock.lock().await;
        let now = self.now();
        let in_flight = self.store.in_flight_rotation(connection)?;
        let old_token = self.store.current_token(connection)?;
        let request = StartRequest {
            connection,
            in_flight: in_flight.as_ref(),
            requester: actor,
            old_token_id: old_token.and_then(|t| t.token_id),
            channel,
            thread_ts,
            approval_window: self.approval_window,
            now,
        };
        let rotation = match decide_start(request) {
            Ok(rotation) => rotation,
            Err(reason) => return Ok(Outcome::Refused(reason)),
        };
        let record = NewAuditRecord {
            at: now,
            actor: actor.audit_name().to_owned(),
            action: "rotation_requested".to_owned(),
            connection: Some(connection.to_owned()),
            rotation_id: None,
            details: json!({ "old_token_id": rotation.old_token_id, "approval_deadline": rotation.approval_deadline }),
        };
        // The notice's number is taken before the write, so that whoever sees the change in
        // the store can wait for its notice to be presented (`RunningApp::presented`).
        let seq = self.reserve_notice();
        let stored = match self.store.insert_rotation(&rotation, &record) {
            Ok(stored) => stored,
            Err(StoreError::InFlight(_)) => {
                self.send_notice(seq, None, "unchanged");
                return Ok(Outcome::Refused(format!(
                    "A rotation of {connection} is already in progress."
                )));
            }
            Err(e) => {
                self.send_notice(seq, None, "unchanged");
                return Err(e.into());
            }
        };
        tracing::info!(rotation = %stored.id, "rotation requested");
        self.send_notice(seq, Some(stored.id), "rotation_requested");
        Ok(Outcome::Changed(Box::new(stored)))
    }

    /// Applies `command` from `actor` to rotation `id`.
    #[tracing::instrument(skip_all, fields(rotation = %id, command = command.audit_action(), actor = actor.audit_name()))]
    pub async fn apply(
        self: &Arc<Self>,
        id: RotationId,
        command: Command,
        actor: &Actor,
    ) -> Result<Outcome, EngineError> {
        if matches!(command, Command::SubmitToken(_)) {
            // A submission without its token could never be checked.
            return Ok(Outcome::Refused(
                "Enter the token through the modal.".to_owned(),
            ));
        }
        self.apply_inner(id, command, actor, None).await
    }

    /// Applies a token submission: the token goes to a check task, never to the store.
    #[tracing::instrument(skip_all, fields(rotation = %id, fingerprint = %token.fingerprint(), actor = actor.audit_name()))]
    pub async fn submit_token(
        self: &Arc<Self>,
        id: RotationId,
        token: ScimToken,
        new_token_id: Option<String>,
        expires: Option<DateTime<Utc>>,
        actor: &Actor,
    ) -> Result<Outcome, EngineError> {
        let command = Command::SubmitToken(Submission {
            fingerprint: token.fingerprint().as_str().to_owned(),
            new_token_id,
            expires,
        });
        self.apply_inner(id, command, actor, Some(token)).await
    }

    async fn apply_inner(
        self: &Arc<Self>,
        id: RotationId,
        command: Command,
        actor: &Actor,
        token: Option<ScimToken>,
    ) -> Result<Outcome, EngineError> {
        let serial = self.apply_lock.lock().await;
        let Some(rotation) = self.store.get_rotation(id)? else {
            return Ok(Outcome::Refused(format!("There is no rotation #{id}.")));
        };
        let now = self.now();
        let transition = match decide(&rotation, &command, actor, self.policy, now) {
            Decision::AlreadyDone(text) => {
                tracing::debug!(state = %rotation.state, "already done");
                return Ok(Outcome::AlreadyDone(text));
            }
            Decision::Refused(reason) => {
                tracing::info!(state = %rotation.state, %reason, "refused");
                self.store.append_audit(&NewAuditRecord {
                    at: now,
                    actor: actor.audit_name().to_owned(),
                    action: "refused".to_owned(),
                    connection: Some(rotation.connection.clone()),
                    rotation_id: Some(id.0),
                    details: json!({ "command": command.audit_action(), "state": rotation.state.as_str(), "reason": reason }),
                })?;
                return Ok(Outcome::Refused(reason));
            }
            Decision::Transition(transition) => transition,
        };
        let next = transition.rotation;
        let record = NewAuditRecord {
            at: now,
            actor: actor.audit_name().to_owned(),
            action: transition.action.to_owned(),
            connection: Some(next.connection.clone()),
            rotation_id: Some(id.0),
            details: transition.details,
        };
        let new_token = transition.replaces_token.then(|| NewToken {
            connection: next.connection.clone(),
            token_id: next.new_token_id.clone(),
            created_at: next.new_token_created,
            expires_at: next.new_token_expires,
            source: ExpirySource::Rotation,
            fingerprint: next.new_token_fingerprint.clone(),
        });
        let seq = self.reserve_notice();
        match self
            .store
            .update_rotation(&next, rotation.version, &record, new_token.as_ref())
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                self.send_notice(seq, None, "unchanged");
                return Ok(Outcome::AlreadyDone(
                    "This rotation was changed at the same moment; look at its thread for where it stands.".to_owned(),
                ));
            }
            Err(e) => {
                self.send_notice(seq, None, "unchanged");
                return Err(e.into());
            }
        }
        drop(serial);
        tracing::info!(from = %rotation.state, to = %next.state, "rotation changed");
        self.send_notice(seq, Some(id), transition.action);

        let mut token = token;
        for effect in transition.effects {
            match effect {
                Effect::RunChecks => match token.take() {
                    Some(token) => {
                        let engine = Arc::clone(self);
                        self.tasks.spawn(engine.run_checks(id, token));
                    }
                    None => tracing::error!("checks requested without a token"),
                },
                Effect::RetestSavedCredentials => {
                    let engine = Arc::clone(self);
                    self.tasks.spawn(engine.retest_after_deletion(id));
                }
            }
        }
        Ok(Outcome::Changed(Box::new(next)))
    }

    /// Applies a result reported by the bot itself; `true` when the rotation changed.
    async fn report(self: &Arc<Self>, id: RotationId, command: Command) -> bool {
        match self.apply_inner(id, command, &Actor::System, None).await {
            Ok(Outcome::Changed(_)) => true,
            Ok(other) => {
                tracing::info!(rotation = %id, ?other, "check result no longer applies; stopping");
                false
            }
            Err(error) => {
                tracing::error!(rotation = %id, error = %error, "could not record a check result");
                false
            }
        }
    }

    async fn fail(self: &Arc<Self>, id: RotationId, stage: Stage, reason: String) {
        // A refused token is the checks doing their job, not a fault of the bot: info.
        tracing::info!(rotation = %id, stage = stage.as_str(), %reason, "check failed");
        self.report(id, Command::Failed { stage, reason }).await;
    }

    /// a. AWS probe, b. Entra test, c. save, d. verify (and restart a stopped job). Stops at
    /// the first failure; the token is dropped when this returns.
    ///
    /// Boxed: the check task applies commands, and applying a command may spawn a check
    /// task; a named future type breaks that cycle for the compiler.
    fn run_checks(self: Arc<Self>, id: RotationId, token: ScimToken) -> BoxFuture<'static, ()> {
        let span =
            tracing::info_span!("run_checks", rotation = %id, fingerprint = %token.fingerprint());
        Box::pin(self.checks(id, token).instrument(span))
    }

    async fn checks(self: Arc<Self>, id: RotationId, token: ScimToken) {
        let Some(connection) = self.connection_of(id) else {
            return;
        };
        let base_address = connection
            .scim_url
            .as_str()
            .trim_end_matches('/')
            .to_owned();

        if let Err(error) = self.scim.check(&connection.scim_url, &token).await {
            return self.fail(id, Stage::AwsProbe, error.to_string()).await;
        }
        if !self.report(id, Command::AwsProbePassed).await {
            return;
        }
        if let Err(error) = connection
            .graph
            .validate_credentials(&base_address, &token)
            .await
        {
            return self.fail(id, Stage::EntraTest, error.to_string()).await;
        }
        if !self.report(id, Command::EntraTestPassed).await {
            return;
        }
        if let Err(error) = connection
            .graph
            .save_credentials(&base_address, &token)
            .await
        {
            return self.fail(id, Stage::Save, error.to_string()).await;
        }
        drop(token);
        if !self.report(id, Command::Saved).await {
            return;
        }
        match self.verify_saved(&connection).await {
            Ok(resumed) => {
                self.report(id, Command::Verified { resumed }).await;
            }
            Err(reason) => self.fail(id, Stage::Verify, reason).await,
        }
    }

    /// Re-tests the saved credentials and, when the job is quarantined or paused, starts it.
    /// `Ok(true)`: provisioning was resumed.
    async fn verify_saved(&self, connection: &ConnectionRuntime) -> Result<bool, String> {
        connection
            .graph
            .validate_saved_credentials()
            .await
            .map_err(|e| {
                format!(
                    "The token was saved, but Entra's test of the saved credentials failed: {e}"
                )
            })?;
        let job = connection.graph.get_job().await.map_err(|e| {
            format!("The token was saved and tested, but reading the provisioning job failed: {e}")
        })?;
        if matches!(job.status, JobStatus::Quarantine | JobStatus::Paused) {
            connection.graph.start_job().await.map_err(|e| {
                format!("The token was saved and tested, but restarting provisioning failed: {e}")
            })?;
            return Ok(true);
        }
        Ok(false)
    }

    /// After the old token's deletion was confirmed: the saved credentials must still work,
    /// or the wrong token was deleted.
    fn retest_after_deletion(self: Arc<Self>, id: RotationId) -> BoxFuture<'static, ()> {
        let span = tracing::info_span!("retest_after_deletion", rotation = %id);
        Box::pin(self.retest(id).instrument(span))
    }

    async fn retest(self: Arc<Self>, id: RotationId) {
        let Some(connection) = self.connection_of(id) else {
            return;
        };
        match connection.graph.validate_saved_credentials().await {
            Ok(()) => {
                let recorded = self.store.append_audit(&NewAuditRecord {
                    at: self.now(),
                    actor: "system".to_owned(),
                    action: "post_deletion_check_passed".to_owned(),
                    connection: Some(connection.name.clone()),
                    rotation_id: Some(id.0),
                    details: json!({}),
                });
                if let Err(error) = recorded {
                    tracing::error!(error = %error, "could not record the post-deletion check");
                }
                let seq = self.reserve_notice();
                self.send_notice(seq, Some(id), "post_deletion_check_passed");
            }
            Err(error) => {
                let reason = format!(
                    "After the old token's deletion, Entra can no longer authenticate to AWS ({error}). \
                     The token that was deleted may have been the new one: generate a new token and enter it."
                );
                self.fail(id, Stage::AfterDeletion, reason).await;
            }
        }
    }

    fn connection_of(&self, id: RotationId) -> Option<Arc<ConnectionRuntime>> {
        let rotation = match self.store.get_rotation(id) {
            Ok(Some(rotation)) => rotation,
            Ok(None) => return None,
            Err(error) => {
                tracing::error!(error = %error, "cannot read rotation");
                return None;
            }
        };
        let connection = self.connections.get(&rotation.connection).cloned();
        if connection.is_none() {
            tracing::error!(connection = %rotation.connection, "rotation of a connection that is no longer configured");
        }
        connection
    }

    /// Registers the token a connection uses now (from `/scim register`): only approvers may,
    /// since the date drives every warning.
    pub async fn register_token(
        &self,
        connection: &str,
        token_id: &str,
        created: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<Outcome, EngineError> {
        if !actor.is_approver() {
            return Ok(Outcome::Refused(
                "Only a team lead (an approver) can register a token.".to_owned(),
            ));
        }
        if !self.connections.contains_key(connection) {
            return Ok(Outcome::Refused(no_such_connection(
                connection,
                &self.connection_names().join(", "),
            )));
        }
        let now = self.now();
        if created > now {
            return Ok(Outcome::Refused(
                "The creation date cannot be in the future.".to_owned(),
            ));
        }
        let expires = created + Duration::days(crate::rotation::TOKEN_LIFETIME_DAYS);
        let _serial = self.apply_lock.lock().await;
        self.store.register_token(
            connection,
            token_id,
            created,
            expires,
            actor.audit_name(),
            now,
            json!({ "via": "slack" }),
        )?;
        Ok(Outcome::Recorded(format!(
            "Registered token {token_id} for {connection}: it expires on {}.",
            expires.format("%Y-%m-%d")
        )))
    }

    /// On start-up: rotations whose token was only in memory go back to waiting for it.
    pub async fn recover(self: &Arc<Self>) -> Result<usize, EngineError> {
        let stranded = self.store.rotations_in_states(&[
            RotationState::Checking,
            RotationState::Saving,
            RotationState::Verifying,
        ])?;
        let mut recovered = 0;
        for rotation in stranded {
            if self.report(rotation.id, Command::Recover).await {
                recovered += 1;
            }
        }
        Ok(recovered)
    }

    /// Expires requests nobody approved in time.
    pub async fn expire_approvals(self: &Arc<Self>) -> Result<usize, EngineError> {
        let waiting = self
            .store
            .rotations_in_states(&[RotationState::AwaitingApproval])?;
        let now = self.now();
        let mut expired = 0;
        for rotation in waiting.into_iter().filter(|r| r.approval_deadline <= now) {
            if self.report(rotation.id, Command::ApprovalTimeout).await {
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// Takes the next notice number. Every number taken must be sent ([`Engine::send_notice`]).
    fn reserve_notice(&self) -> u64 {
        self.notices_sent
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1
    }

    fn send_notice(&self, seq: u64, rotation: Option<RotationId>, action: &str) {
        // No subscriber (tests, CLI) is fine.
        let _ = self.notices.send(Notice {
            rotation,
            action: action.to_owned(),
            seq,
        });
    }

    /// How many notice numbers were taken so far (the `seq` of the latest): every change
    /// committed so far has a notice numbered at most this.
    pub fn notices_sent(&self) -> u64 {
        self.notices_sent.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// "There is no connection named …", repeating the name only when it is safe to echo.
pub fn no_such_connection(name: &str, known: &str) -> String {
    if crate::secret::safe_to_echo(name) {
        format!("There is no connection named \"{name}\". Known connections: {known}.")
    } else {
        format!("There is no such connection. Known connections: {known}.")
    }
}
