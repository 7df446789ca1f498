//! What the bot does with each Slack request, whichever transport brought it.
//!
//! Every handler returns what must go in the acknowledgement and does nothing slow before
//! it: the engine's work is a local SQLite transaction, and the one Slack call allowed first
//! is `views.open` with the fresh `trigger_id`. Replies to the clicker (ephemeral messages)
//! and every message update run after the ack, in spawned tasks.

use super::api::SlackApi;
use super::approvers::ApproverDirectory;
use super::binding::{self, ModalSeal};
use super::interaction::{self, Button, Click, Interaction, Registration, TokenSubmission};
use super::render::{self, ConnectionInfo, StatusRow};
use super::slash::{self, SlashCommand};
use crate::engine::{Engine, Outcome};
use crate::rotation::{
    Actor, Command, RotationState, SubmissionProblem, TOKEN_LIFETIME_DAYS, check_submission,
};
use crate::store::AuditFilter;
use chrono::Duration;
use slack_morphism::prelude::*;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

/// How many Events API event ids are remembered to drop Slack's redeliveries; retries come
/// within minutes, and far fewer than this many events arrive meanwhile.
const SEEN_EVENTS: usize = 1024;

/// How many audit records `/scim audit` shows.
const AUDIT_RECORDS_SHOWN: usize = 10;

pub struct SlackBot {
    pub engine: Arc<Engine>,
    pub api: SlackApi,
    pub approvers: Arc<ApproverDirectory>,
    /// The channel warnings and rotations are posted in.
    pub channel: String,
    pub allow_self_approval: bool,
    seen_events: Mutex<(HashSet<String>, VecDeque<String>)>,
    /// Seals modal metadata to the user and request it was opened for (`binding`).
    seal: ModalSeal,
}

impl SlackBot {
    pub fn new(
        engine: Arc<Engine>,
        api: SlackApi,
        approvers: Arc<ApproverDirectory>,
        channel: String,
        allow_self_approval: bool,
    ) -> Arc<Self> {
        Arc::new(SlackBot {
            engine,
            api,
            approvers,
            channel,
            allow_self_approval,
            seen_events: Mutex::new((HashSet::new(), VecDeque::new())),
            seal: ModalSeal::random(),
        })
    }

    fn actor(&self, user: &str) -> Actor {
        Actor::user(user, self.approvers.is_approver(user))
    }

    /// Handles an interaction; the result is the acknowledgement's content.
    pub async fn handle_interaction(
        self: &Arc<Self>,
        mut event: SlackInteractionEvent,
    ) -> SlackInteractionResponse {
        if let SlackInteractionEvent::ViewSubmission(submission) = &mut event {
            if let Some(refusal) = self.unsealed(submission) {
                return refusal;
            }
        }
        match interaction::parse(event) {
            Interaction::Click(click) => {
                if let Some(refusal) = self.foreign_click(&click) {
                    self.reply_later(click.channel, click.user, click.thread_ts, refusal);
                    return SlackInteractionResponse::Empty;
                }
                if let Button::EnterToken(_) = click.action {
                    self.open_token_modal(click).await;
                } else {
                    let bot = Arc::clone(self);
                    tokio::spawn(async move { bot.handle_click(click).await });
                }
                SlackInteractionResponse::Empty
            }
            Interaction::SubmitToken(submission) => {
                if let Some(errors) = self.submission_errors(&submission) {
                    return errors;
                }
                let bot = Arc::clone(self);
                tokio::spawn(async move { bot.handle_token(submission).await });
                SlackInteractionResponse::Empty
            }
            Interaction::Register(registration) => {
                let today = self.engine.now().date_naive();
                if registration.created > today {
                    return view_errors([(
                        super::ids::CREATED_BLOCK,
                        "The creation date cannot be in the future.",
                    )]);
                }
                let bot = Arc::clone(self);
                tokio::spawn(async move { bot.handle_registration(registration).await });
                SlackInteractionResponse::Empty
            }
            Interaction::InvalidSubmission(errors) => SlackInteractionResponse::ViewSubmission(
                SlackViewSubmissionResponse::Errors(SlackViewSubmissionErrorsResponse::new(errors)),
            ),
            Interaction::NotUnderstood {
                user,
                channel,
                thread_ts,
                what,
            } => {
                tracing::info!("a click the bot cannot act on was answered");
                self.reply_later(channel, user, thread_ts, what);
                SlackInteractionResponse::Empty
            }
            Interaction::Ignored(why) => {
                tracing::debug!(why, "interaction ignored");
                SlackInteractionResponse::Empty
            }
        }
    }

    /// Opens a submitted modal's sealed metadata; a tampered or stale one is answered inside
    /// the modal, on its first input, and goes no further.
    fn unsealed(
        &self,
        submission: &mut SlackInteractionViewSubmissionEvent,
    ) -> Option<SlackInteractionResponse> {
        let block = match &submission.view.view {
            SlackView::Modal(modal) => match modal.callback_id.as_ref().map(|c| c.0.as_str()) {
                Some(super::ids::SUBMIT_TOKEN) => super::ids::TOKEN_BLOCK,
                Some(super::ids::REGISTER_TOKEN) => super::ids::TOKEN_ID_BLOCK,
                _ => return None,
            },
            SlackView::Home(_) => return None,
        };
        if self.seal.open_submission(submission) {
            return None;
        }
        tracing::warn!("refused a modal submission whose metadata does not match what was opened");
        Some(view_errors([(block, binding::STALE_MODAL)]))
    }

    /// Why a rotation button may not act: it is not on one of that rotation's messages.
    fn foreign_click(&self, click: &Click) -> Option<String> {
        let rotation = match &click.action {
            Button::StartRotation(_) => return None,
            Button::Approve(id)
            | Button::Reject(id)
            | Button::Cancel(id)
            | Button::EnterToken(id)
            | Button::ConfirmDeleted(id)
            | Button::Retry(id) => *id,
        };
        match binding::click_belongs(
            self.engine.store(),
            rotation,
            click.channel.as_deref(),
            click.message_ts.as_deref(),
        ) {
            Ok(true) => None,
            Ok(false) => {
                tracing::warn!(
                    rotation = rotation.0,
                    "refused a click on another rotation's message"
                );
                Some(binding::FOREIGN_BUTTON.to_owned())
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot read rotation messages");
                Some("Something went wrong on the bot's side; it has been logged.".to_owned())
            }
        }
    }

    /// Bad input in the token modal that only the rotation record can reveal, answered inside
    /// the modal (one local read) rather than after it closed.
    fn submission_errors(&self, submission: &TokenSubmission) -> Option<SlackInteractionResponse> {
        let rotation = self
            .engine
            .store()
            .get_rotation(submission.rotation)
            .ok()
            .flatten()?;
        let expires = self.chosen_expiry(submission.expires);
        let problem = check_submission(
            &rotation,
            submission.token_id.as_deref(),
            expires,
            self.engine.now(),
        )
        .err()?;
        let block = match problem {
            SubmissionProblem::ExpiryNotInFuture => super::ids::EXPIRES_BLOCK,
            SubmissionProblem::OldTokenId => super::ids::TOKEN_ID_BLOCK,
        };
        Some(view_errors([(block, problem.to_string().as_str())]))
    }

    /// The expiry the modal's date picker means: `None` for the default (a year from now, to
    /// the minute), else that day at midnight UTC.
    fn chosen_expiry(
        &self,
        day: Option<chrono::NaiveDate>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let default_day = self.engine.now().date_naive() + Duration::days(TOKEN_LIFETIME_DAYS);
        day.filter(|day| *day != default_day)
            .map(|day| day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
    }

    /// Opens the token modal for an approver, first thing (the trigger id lasts 3 s).
    async fn open_token_modal(self: &Arc<Self>, click: Click) {
        let Button::EnterToken(id) = click.action else {
            return;
        };
        let refusal = match self.engine.store().get_rotation(id) {
            Ok(Some(rotation)) if rotation.state != RotationState::AwaitingNewToken => {
                Some(format!(
                    "This step is done: the rotation is now {}.",
                    rotation.state.describe()
                ))
            }
            Ok(Some(_)) if !self.approvers.is_approver(&click.user) => {
                Some("Only a team lead (an approver) can enter the new token.".to_owned())
            }
            Ok(Some(rotation)) => {
                let Some(connection) = self.engine.connection(&rotation.connection) else {
                    let text =
                        "This rotation's connection is no longer in the bot's configuration."
                            .to_owned();
                    self.reply_later(click.channel, click.user, click.thread_ts, text);
                    return;
                };
                let info = ConnectionInfo {
                    name: &connection.name,
                    aws_region: &connection.aws_region,
                };
                let default_expiry =
                    self.engine.now().date_naive() + Duration::days(TOKEN_LIFETIME_DAYS);
                let mut view = render::token_modal(&rotation, &info, default_expiry);
                self.seal.seal_view(&mut view, &click.user);
                match self.api.open_view(&click.trigger_id, view).await {
                    Ok(()) => None,
                    Err(error) => {
                        tracing::warn!(error = %error, "cannot open the token modal");
                        Some(
                            "Slack did not open the form in time. Click *Enter new token* again."
                                .to_owned(),
                        )
                    }
                }
            }
            Ok(None) => Some(format!("There is no rotation #{id}.")),
            Err(error) => {
                tracing::error!(error = %error, "cannot read rotation");
                Some("Something went wrong on the bot's side; it has been logged.".to_owned())
            }
        };
        if let Some(text) = refusal {
            self.reply_later(click.channel, click.user, click.thread_ts, text);
        }
    }

    async fn handle_click(self: Arc<Self>, click: Click) {
        let actor = self.actor(&click.user);
        let result = match click.action {
            Button::StartRotation(connection) => {
                self.engine
                    .start(
                        &connection,
                        &actor,
                        click.channel.clone().or(Some(self.channel.clone())),
                        click.thread_ts.clone(),
                    )
                    .await
            }
            Button::Approve(id) => self.engine.apply(id, Command::Approve, &actor).await,
            Button::Reject(id) => {
                self.engine
                    .apply(id, Command::Reject { reason: None }, &actor)
                    .await
            }
            Button::Cancel(id) => self.engine.apply(id, Command::Cancel, &actor).await,
            Button::ConfirmDeleted(id) => {
                self.engine
                    .apply(id, Command::ConfirmOldTokenDeleted, &actor)
                    .await
            }
            Button::Retry(id) => self.engine.apply(id, Command::Retry, &actor).await,
            Button::EnterToken(_) => return,
        };
        self.tell(click.channel, &click.user, click.thread_ts, result)
            .await;
    }

    async fn handle_token(self: Arc<Self>, submission: TokenSubmission) {
        let TokenSubmission {
            user,
            rotation,
            token,
            token_id,
            expires,
        } = submission;
        let actor = self.actor(&user);
        let expires = self.chosen_expiry(expires);
        let (channel, thread) = self.thread_of(rotation);
        let result = self
            .engine
            .submit_token(rotation, token, token_id, expires, &actor)
            .await;
        self.tell(channel, &user, thread, result).await;
    }

    async fn handle_registration(self: Arc<Self>, registration: Registration) {
        let Registration {
            user,
            connection,
            reply_channel,
            token_id,
            created,
        } = registration;
        let actor = self.actor(&user);
        let created = created
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc();
        let result = self
            .engine
            .register_token(&connection, &token_id, created, &actor)
            .await;
        // Answer where the command was run (the configured channel for older modals).
        let channel = reply_channel.unwrap_or_else(|| self.channel.clone());
        self.tell(Some(channel), &user, None, result).await;
    }

    fn thread_of(&self, rotation: crate::rotation::RotationId) -> (Option<String>, Option<String>) {
        match self.engine.store().get_rotation(rotation) {
            Ok(Some(r)) => (r.channel.or(Some(self.channel.clone())), r.thread_ts),
            _ => (Some(self.channel.clone()), None),
        }
    }

    /// Tells the sender what came of their request, unless the thread already shows it.
    async fn tell(
        &self,
        channel: Option<String>,
        user: &str,
        thread: Option<String>,
        result: Result<Outcome, crate::engine::EngineError>,
    ) {
        let text = match result {
            Ok(Outcome::Changed(_)) => return,
            Ok(Outcome::Recorded(text) | Outcome::AlreadyDone(text) | Outcome::Refused(text)) => {
                text
            }
            Err(error) => {
                tracing::error!(error = %error, "command failed");
                "Something went wrong on the bot's side; it has been logged. Try again in a moment."
                    .to_owned()
            }
        };
        self.ephemeral(channel, user, thread, text).await;
    }

    async fn ephemeral(
        &self,
        channel: Option<String>,
        user: &str,
        thread: Option<String>,
        text: String,
    ) {
        let channel = channel.unwrap_or_else(|| self.channel.clone());
        if let Err(error) = self
            .api
            .post_ephemeral(&channel, user, thread.as_deref(), text)
            .await
        {
            tracing::warn!(error = %error, "cannot send an ephemeral reply");
        }
    }

    fn reply_later(
        self: &Arc<Self>,
        channel: Option<String>,
        user: String,
        thread: Option<String>,
        text: String,
    ) {
        let bot = Arc::clone(self);
        tokio::spawn(async move { bot.ephemeral(channel, &user, thread, text).await });
    }

    /// Handles `/scim …`; the result is the acknowledgement's content.
    pub async fn handle_command(
        self: &Arc<Self>,
        event: SlackCommandEvent,
    ) -> SlackCommandEventResponse {
        let user = event.user_id.0.clone();
        let text = event.text.clone().unwrap_or_default();
        let command = match slash::parse(&text) {
            Ok(command) => command,
            Err(problem) => {
                let help = slash::help();
                let mut blocks = vec![render_section(&problem)];
                blocks.extend(help.blocks);
                return ephemeral_reply(format!("{problem}\n{}", help.text), blocks);
            }
        };
        let now = self.engine.now();
        match command {
            SlashCommand::Help => message_reply(slash::help()),
            SlashCommand::Status => match self.status_rows() {
                Ok(rows) => message_reply(render::status_message(&rows, now)),
                Err(text) => ephemeral_reply(text, vec![]),
            },
            SlashCommand::Audit(connection) => {
                if let Some(name) = connection
                    .as_deref()
                    .filter(|name| self.engine.connection(name).is_none())
                {
                    let known = self.engine.connection_names().join(", ");
                    return ephemeral_reply(
                        crate::engine::no_such_connection(name, &known),
                        vec![],
                    );
                }
                let filter = AuditFilter {
                    connection: connection.clone(),
                    since: None,
                    last: Some(AUDIT_RECORDS_SHOWN),
                };
                match self.engine.store().audit_records(&filter) {
                    Ok(records) => {
                        message_reply(render::audit_list(&records, connection.as_deref()))
                    }
                    Err(error) => {
                        tracing::error!(error = %error, "cannot read the audit log");
                        ephemeral_reply(
                            "I cannot read the audit log right now; it has been logged.".to_owned(),
                            vec![],
                        )
                    }
                }
            }
            SlashCommand::Rotate(connection) => {
                let actor = self.actor(&user);
                match self
                    .engine
                    .start(&connection, &actor, Some(self.channel.clone()), None)
                    .await
                {
                    Ok(Outcome::Changed(rotation)) => ephemeral_reply(
                        format!(
                            "Rotation #{} of {} requested in <#{}>: a team lead will be asked to approve it there.",
                            rotation.id, rotation.connection, self.channel
                        ),
                        vec![],
                    ),
                    Ok(
                        Outcome::Recorded(text)
                        | Outcome::AlreadyDone(text)
                        | Outcome::Refused(text),
                    ) => ephemeral_reply(text, vec![]),
                    Err(error) => {
                        tracing::error!(error = %error, "cannot start a rotation");
                        ephemeral_reply(
                            "Something went wrong on the bot's side; it has been logged."
                                .to_owned(),
                            vec![],
                        )
                    }
                }
            }
            SlashCommand::Register(connection) => {
                if self.engine.connection(&connection).is_none() {
                    let known = self.engine.connection_names().join(", ");
                    return ephemeral_reply(
                        crate::engine::no_such_connection(&connection, &known),
                        vec![],
                    );
                }
                if !self.approvers.is_approver(&user) {
                    return ephemeral_reply(
                        "Only a team lead (an approver) can register a token.".to_owned(),
                        vec![],
                    );
                }
                let mut view =
                    render::register_modal(&connection, &event.channel_id.0, now.date_naive());
                self.seal.seal_view(&mut view, &user);
                match self.api.open_view(&event.trigger_id.0, view).await {
                    Ok(()) => SlackCommandEventResponse::new(SlackMessageContent::new()),
                    Err(error) => {
                        tracing::warn!(error = %error, "cannot open the register modal");
                        ephemeral_reply(
                            "Slack did not open the form in time. Run the command again."
                                .to_owned(),
                            vec![],
                        )
                    }
                }
            }
        }
    }

    /// Events API / Socket Mode events. `false` when `event_id` was seen before (a retry).
    pub fn first_delivery(&self, event_id: &str) -> bool {
        let mut seen = self.seen_events.lock().unwrap_or_else(|e| e.into_inner());
        let (set, order) = &mut *seen;
        if !set.insert(event_id.to_owned()) {
            return false;
        }
        order.push_back(event_id.to_owned());
        if order.len() > SEEN_EVENTS {
            if let Some(oldest) = order.pop_front() {
                set.remove(&oldest);
            }
        }
        true
    }

    /// Handles a pushed event (after de-duplication); work runs after the ack.
    pub fn handle_event(self: &Arc<Self>, event: SlackPushEventCallback) {
        if !self.first_delivery(&event.event_id.0) {
            tracing::debug!(event_id = %event.event_id.0, "redelivered event dropped");
            return;
        }
        match event.event {
            SlackEventCallbackBody::AppHomeOpened(opened) => {
                let bot = Arc::clone(self);
                tokio::spawn(async move { bot.publish_home(&opened.user.0).await });
            }
            // Approver groups changed: applied before the ack (see `approvers`).
            SlackEventCallbackBody::Unknown(body) => {
                if let Some(change) = super::approvers::GroupChange::from_event(&body) {
                    let approvers = Arc::clone(&self.approvers);
                    if approvers.apply(&change) {
                        tokio::spawn(async move { approvers.apply_event(change).await });
                    }
                }
            }
            _ => {}
        }
    }

    async fn publish_home(&self, user: &str) {
        let rows = match self.status_rows() {
            Ok(rows) => rows,
            Err(_) => return,
        };
        let view = render::home_view(&rows, self.engine.now());
        if let Err(error) = self.api.publish_home(user, view).await {
            tracing::warn!(error = %error, "cannot publish the home tab");
        }
    }

    /// One row per configured connection: its current token and latest rotation.
    pub fn status_rows(&self) -> Result<Vec<StatusRow>, String> {
        let store = self.engine.store();
        let read = || -> Result<Vec<StatusRow>, crate::store::StoreError> {
            let latest = store.latest_rotations()?;
            let mut rows = Vec::new();
            for name in self.engine.connection_names() {
                let rotation = latest
                    .iter()
                    .find(|r| r.connection == name)
                    .map(|r| (r.id, r.state));
                rows.push(StatusRow {
                    token: store.current_token(&name)?,
                    graph_problem: store.monitor_state(&format!("graph_problem:{name}"))?,
                    connection: name,
                    rotation,
                });
            }
            Ok(rows)
        };
        read().map_err(|error| {
            tracing::error!(error = %error, "cannot read the status");
            "I cannot read the status right now; it has been logged.".to_owned()
        })
    }
}

fn render_section(text: &str) -> SlackBlock {
    SlackSectionBlock::new().with_text(md!("{}", text)).into()
}

fn view_errors<const N: usize>(errors: [(&str, &str); N]) -> SlackInteractionResponse {
    SlackInteractionResponse::ViewSubmission(SlackViewSubmissionResponse::Errors(
        SlackViewSubmissionErrorsResponse::new(
            errors
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        ),
    ))
}

fn ephemeral_reply(text: String, blocks: Vec<SlackBlock>) -> SlackCommandEventResponse {
    let mut content = SlackMessageContent::new().with_text(text);
    if !blocks.is_empty() {
        content = content.with_blocks(blocks);
    }
    SlackCommandEventResponse::new(content).with_response_type(SlackMessageResponseType::Ephemeral)
}

fn message_reply(message: render::Message) -> SlackCommandEventResponse {
    ephemeral_reply(message.text, message.blocks)
}
