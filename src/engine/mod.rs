//! The one place that applies commands to rotations.
//!
//! For each command: load the rotation, [`decide`], persist the new state with its audit
//! record in one transaction (the store also checks the version), then hand its effects
//! on. Commands are applied one at a time (a single lock around load → decide → persist),
//! so a double click, a redelivered event or two approvers clicking together change nothing
//! twice: the second sees the state the first left and is told the step is done.
//!
//! # Durable before acknowledged
//! Every public command method returns only once its result is committed: the transports
//! (`slack::bot`, `intake`) await it and only then acknowledge. Effects run after the
//! commit, from persisted state: the presenter re-renders threads from the store, and an
//! effect that must survive a crash (the re-test after deletion) is written to the
//! `pending_effects` outbox in the transition's own transaction and replayed at start-up
//! ([`Engine::recover`]). The one effect that cannot be persisted is the token check: the
//! token exists only in memory, so after a crash [`Engine::recover`] asks for it again.
//!
//! # Public API (for the adapters)
//! - [`Engine::start`]: request a rotation of a connection.
//! - [`Engine::apply`]: a person's command on a rotation (approve, reject, cancel, confirm
//!   deletion, retry).
//! - [`Engine::submit_token`]: **submit a token for rotation R by actor A** (the Slack modal
//!   and the web form both call this); the token goes to the check pipeline, never to the
//!   store. [`Engine::token_entry`] says whether A may enter a token for R now (the "Enter
//!   new token" button asks it before opening a form).
//! - [`Engine::register_token`]: `/scim register`.
//! - [`Engine::record_placement`]: where a step message is shown in Slack (the presenter's
//!   report), applied in the same serial order as transitions.
//! - [`Engine::query`]: the read side ([`Queries`]).
//! - [`Engine::subscribe`] / [`Engine::notices_sent`]: change notices for the presenter.
//!
//! The check pipeline lives in [`checks`]; it reports its results as commands through
//! [`Engine::report`], the same door as everything else.

mod checks;
mod outcome;
mod query;

pub use outcome::{AlreadyDone, CommandOutcome, Recorded, Refusal};
pub use query::{ConnectionStatus, Queries};

use crate::audit::NewAuditRecord;
use crate::aws::ScimProbe;
use crate::azure::GraphClient;
use crate::clock::SharedClock;
use crate::rotation::{
    Actor, Command, Decision, Effect, ExpirySource, Policy, Rotation, RotationId, RotationState,
    StartRequest, Submission, check_registration, decide, decide_start,
};
use crate::secret::ScimToken;
use crate::store::{NewToken, Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Mutex, broadcast, mpsc};
use tokio_util::task::TaskTracker;
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
    /// Work for the check pipeline ([`checks::run`] reads it).
    jobs: mpsc::Sender<checks::Queued>,
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
        let (jobs, queued) = mpsc::channel(checks::QUEUE);
        let tasks = TaskTracker::new();
        let engine = Arc::new(Engine {
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
            tasks: tasks.clone(),
            jobs,
        });
        tokio::spawn(checks::run(Arc::downgrade(&engine), queued, tasks));
        engine
    }

    /// The read side: status, audit, rotations and their messages.
    pub fn query(&self) -> Queries {
        Queries::new(Arc::clone(&self.store))
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
    #[tracing::instrument(skip_all, fields(connection = %connection, actor = actor.audit_name()))]
    pub async fn start(
        &self,
        connection: &str,
        actor: &Actor,
        channel: Option<String>,
        thread_ts: Option<String>,
    ) -> Result<CommandOutcome, EngineError> {
        if !self.connections.contains_key(connection) {
            return Ok(CommandOutcome::Refused(self.no_such_connection(connection)));
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
            Err(reason) => return Ok(CommandOutcome::Refused(Refusal::Rule(reason))),
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
                return Ok(CommandOutcome::Refused(Refusal::InFlight {
                    connection: connection.to_owned(),
                }));
            }
            Err(e) => {
                self.send_notice(seq, None, "unchanged");
                return Err(e.into());
            }
        };
        tracing::info!(rotation = %stored.id, "rotation requested");
        self.send_notice(seq, Some(stored.id), "rotation_requested");
        Ok(CommandOutcome::Changed(Box::new(stored)))
    }

    /// Applies `command` from `actor` to rotation `id`.
    #[tracing::instrument(skip_all, fields(rotation = %id, command = command.audit_action(), actor = actor.audit_name()))]
    pub async fn apply(
        &self,
        id: RotationId,
        command: Command,
        actor: &Actor,
    ) -> Result<CommandOutcome, EngineError> {
        if matches!(command, Command::SubmitToken(_)) {
            // A submission without its token could never be checked.
            return Ok(CommandOutcome::Refused(Refusal::TokenRequired));
        }
        self.apply_inner(id, command, actor, None).await
    }

    /// Submits `token` for rotation `id` on behalf of `actor`: committed (the rotation moves
    /// to `Checking`, audited with the token's fingerprint) before this returns; the token
    /// itself goes to the check pipeline, never to the store. Any adapter that takes a token
    /// (the Slack modal, the web form) calls this, and acknowledges only after it returns.
    #[tracing::instrument(skip_all, fields(rotation = %id, fingerprint = %token.fingerprint(), actor = actor.audit_name()))]
    pub async fn submit_token(
        &self,
        id: RotationId,
        token: ScimToken,
        new_token_id: Option<String>,
        expires: Option<DateTime<Utc>>,
        actor: &Actor,
    ) -> Result<CommandOutcome, EngineError> {
        let command = Command::SubmitToken(Submission {
            fingerprint: token.fingerprint().as_str().to_owned(),
            new_token_id,
            expires,
        });
        self.apply_inner(id, command, actor, Some(token)).await
    }

    /// Whether `actor` may enter a token for rotation `id` now: the same rule a submission
    /// meets (`decide` on an empty submission), asked before a form is opened. `Ok(rotation)`
    /// when they may.
    pub fn token_entry(
        &self,
        id: RotationId,
        actor: &Actor,
    ) -> Result<Result<Rotation, CommandOutcome>, EngineError> {
        let Some(rotation) = self.store.get_rotation(id)? else {
            return Ok(Err(CommandOutcome::Refused(Refusal::NoSuchRotation(id))));
        };
        if !self.connections.contains_key(&rotation.connection) {
            return Ok(Err(CommandOutcome::Refused(Refusal::ConnectionGone)));
        }
        let probe = Command::SubmitToken(Submission {
            fingerprint: String::new(),
            new_token_id: None,
            expires: None,
        });
        Ok(
            match decide(&rotation, &probe, actor, self.policy, self.now()) {
                Decision::Transition(_) => Ok(rotation),
                Decision::AlreadyDone(state) => {
                    Err(CommandOutcome::AlreadyDone(AlreadyDone::Step(state)))
                }
                Decision::Refused(reason) => Err(CommandOutcome::Refused(Refusal::Rule(reason))),
            },
        )
    }

    async fn apply_inner(
        &self,
        id: RotationId,
        command: Command,
        actor: &Actor,
        token: Option<ScimToken>,
    ) -> Result<CommandOutcome, EngineError> {
        let serial = self.apply_lock.lock().await;
        let Some(rotation) = self.store.get_rotation(id)? else {
            return Ok(CommandOutcome::Refused(Refusal::NoSuchRotation(id)));
        };
        let now = self.now();
        let transition = match decide(&rotation, &command, actor, self.policy, now) {
            Decision::AlreadyDone(state) => {
                tracing::debug!(%state, "already done");
                return Ok(CommandOutcome::AlreadyDone(AlreadyDone::Step(state)));
            }
            Decision::Refused(reason) => {
                tracing::info!(state = %rotation.state, reason = reason.code(), "refused");
                self.store.append_audit(&NewAuditRecord {
                    at: now,
                    actor: actor.audit_name().to_owned(),
                    action: "refused".to_owned(),
                    connection: Some(rotation.connection.clone()),
                    rotation_id: Some(id.0),
                    details: json!({ "command": command.audit_action(), "state": rotation.state.as_str(), "reason": reason.code() }),
                })?;
                return Ok(CommandOutcome::Refused(Refusal::Rule(reason)));
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
        // Effects that can survive a crash go to the outbox in the same transaction.
        let durable: Vec<&str> = transition
            .effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::RetestSavedCredentials => Some(checks::RETEST_EFFECT),
                Effect::RunChecks => None,
            })
            .collect();
        let seq = self.reserve_notice();
        match self.store.apply_transition(
            &next,
            rotation.version,
            &record,
            new_token.as_ref(),
            &durable,
        ) {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                self.send_notice(seq, None, "unchanged");
                return Ok(CommandOutcome::AlreadyDone(
                    AlreadyDone::ChangedConcurrently,
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
            let job = match effect {
                Effect::RunChecks => match token.take() {
                    Some(token) => checks::Job::Token {
                        rotation: id,
                        token,
                    },
                    None => {
                        tracing::error!("checks requested without a token");
                        continue;
                    }
                },
                Effect::RetestSavedCredentials => checks::Job::Retest { rotation: id },
            };
            self.queue_check(job).await;
        }
        Ok(CommandOutcome::Changed(Box::new(next)))
    }

    /// Hands a job to the check pipeline (waiting if its short queue is full).
    async fn queue_check(&self, job: checks::Job) {
        if self.jobs.send((job, self.tasks.token())).await.is_err() {
            tracing::error!("the check pipeline has stopped");
        }
    }

    /// Applies a result reported by the bot itself (the check pipeline, the sweep, the
    /// start-up recovery); `true` when the rotation changed.
    async fn report(&self, id: RotationId, command: Command) -> bool {
        match self.apply_inner(id, command, &Actor::System, None).await {
            Ok(CommandOutcome::Changed(_)) => true,
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

    /// The re-test after deletion is over: removes it from the outbox, with the audit record
    /// of its success when `passed_for` names the connection (one transaction).
    async fn finish_retest(&self, id: RotationId, passed_for: Option<&str>) {
        let _serial = self.apply_lock.lock().await;
        let record = passed_for.map(|connection| {
            NewAuditRecord::system(
                self.now(),
                "post_deletion_check_passed",
                connection,
                json!({}),
            )
            .for_rotation(id.0)
        });
        let seq = self.reserve_notice();
        match self
            .store
            .finish_effect(id, checks::RETEST_EFFECT, record.as_ref())
        {
            Ok(true) if record.is_some() => {
                self.send_notice(seq, Some(id), "post_deletion_check_passed")
            }
            Ok(_) => self.send_notice(seq, None, "unchanged"),
            Err(error) => {
                self.send_notice(seq, None, "unchanged");
                tracing::error!(error = %error, "could not record the post-deletion check");
            }
        }
    }

    /// Records where step `step` of rotation `id` is shown in Slack (`starts_thread`: the
    /// message is the rotation's thread parent). Applied in the same serial order as the
    /// transitions, so a transition never overwrites the placement with a stale copy.
    pub async fn record_placement(
        &self,
        id: RotationId,
        step: &str,
        channel: &str,
        ts: &str,
        starts_thread: bool,
    ) -> Result<(), EngineError> {
        let _serial = self.apply_lock.lock().await;
        self.store
            .set_placement(id, step, channel, ts, starts_thread)?;
        Ok(())
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

    fn no_such_connection(&self, name: &str) -> Refusal {
        Refusal::NoSuchConnection {
            name: name.to_owned(),
            known: self.connection_names(),
        }
    }

    /// Registers the token a connection uses now, created at `created` (from `/scim
    /// register`): only approvers may, since the date drives every warning.
    pub async fn register_token(
        &self,
        connection: &str,
        token_id: &str,
        created: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<CommandOutcome, EngineError> {
        if !self.connections.contains_key(connection) {
            return Ok(CommandOutcome::Refused(self.no_such_connection(connection)));
        }
        let now = self.now();
        let registered = match check_registration(actor, created, now) {
            Ok(registered) => registered,
            Err(problem) => return Ok(CommandOutcome::Refused(Refusal::Registration(problem))),
        };
        let _serial = self.apply_lock.lock().await;
        self.store.register_token(
            connection,
            token_id,
            registered.created,
            registered.expires,
            actor.audit_name(),
            now,
            json!({ "via": "slack" }),
        )?;
        Ok(CommandOutcome::Recorded(Recorded::TokenRegistered {
            connection: connection.to_owned(),
            token_id: token_id.to_owned(),
            expires: registered.expires,
        }))
    }

    /// On start-up: rotations whose token was only in memory go back to waiting for it, and
    /// effects committed before a crash but not finished are run again.
    pub async fn recover(&self) -> Result<usize, EngineError> {
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
        for (rotation, effect) in self.store.pending_effects()? {
            if effect == checks::RETEST_EFFECT {
                tracing::info!(%rotation, "re-testing the saved credentials (interrupted by a restart)");
                self.queue_check(checks::Job::Retest { rotation }).await;
            } else {
                tracing::warn!(%rotation, effect, "unknown pending effect left alone");
            }
        }
        Ok(recovered)
    }

    /// Expires requests nobody approved in time.
    pub async fn expire_approvals(&self) -> Result<usize, EngineError> {
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
