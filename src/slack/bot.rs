//! What the bot does with each Slack request, whichever transport brought it.
//!
//! The transport rule, visible in every handler below: **verify → parse → persist → ack**.
//! The transport has verified the request (signature, or the Socket Mode connection) and
//! parsed it; the handler has the command committed by the engine (its transition and audit
//! record, in one SQLite transaction of a few milliseconds) and only then returns what goes
//! in the acknowledgement. Nothing else happens before the ack: no Slack call, no Graph
//! call. Replies to the person (ephemeral answers), modals (`views.open`, within the
//! trigger's 3 s) and Home tabs go to the bounded, ordered queues of [`super::outbox`],
//! drained by one worker per lane; nothing is spawned per request. Step messages are the
//! presenter's, rendered from the database, so no acknowledged change depends on a reply.

use super::api::SlackApi;
use super::approvers::ApproverDirectory;
use super::binding::{self, ModalSeal};
use super::block_actions::BlockActions;
use super::interaction::{self, Button, Click, Interaction, Registration, TokenSubmission};
use super::outbox::{self, Lane, LaneReceiver, ReplyOutcome, ReplyStats};
use super::render::{self, ConnectionInfo, StatusRow};
use super::slash::{self, SlashCommand};
use crate::engine::{CommandOutcome, Engine, EngineError, Refusal};
use crate::rotation::{
    Actor, Command, RotationId, SubmissionProblem, TOKEN_LIFETIME_DAYS, check_creation_day,
    check_submission, creation_day_start,
};
use crate::store::AuditFilter;
use chrono::Duration;
use slack_morphism::prelude::*;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, Weak};

/// How many Events API event ids are remembered to drop Slack's redeliveries; retries come
/// within minutes, and far fewer than this many events arrive meanwhile.
const SEEN_EVENTS: usize = 1024;

/// How many audit records `/scim audit` shows.
const AUDIT_RECORDS_SHOWN: usize = 10;

/// A reply for one person, sent after the ack in the order queued.
enum Reply {
    Ephemeral {
        channel: String,
        user: String,
        thread: Option<String>,
        text: String,
    },
    /// Publish `user`'s Home tab, rendered when its turn comes.
    Home { user: String },
}

/// A modal to open with a click's `trigger_id`, after the ack and within the trigger's life.
struct ViewRequest {
    trigger_id: String,
    view: SlackView,
    user: String,
    channel: String,
    thread: Option<String>,
    /// What to tell the person when the modal cannot be opened.
    retry_hint: &'static str,
}

pub struct SlackBot {
    pub engine: Arc<Engine>,
    pub api: SlackApi,
    pub approvers: Arc<ApproverDirectory>,
    /// The channel warnings and rotations are posted in.
    pub channel: String,
    seen_events: Mutex<(HashSet<String>, VecDeque<String>)>,
    replies: Lane<Reply>,
    views: Lane<ViewRequest>,
    stats: Arc<ReplyStats>,
    /// The web form (`[intake] web_form`), set once at start.
    intake: std::sync::OnceLock<Arc<crate::intake::Intake>>,
    /// Seals modal metadata to the user and request it was opened for (`binding`).
    seal: ModalSeal,
}

impl SlackBot {
    /// The bot, with its two reply workers running (they stop when the bot is dropped).
    pub fn new(
        engine: Arc<Engine>,
        api: SlackApi,
        approvers: Arc<ApproverDirectory>,
        channel: String,
    ) -> Arc<Self> {
        let stats = Arc::new(ReplyStats::new(Arc::clone(api.metrics())));
        let (replies, reply_queue) = outbox::lane(
            outbox::REPLY_QUEUE,
            outbox::REPLY_STALE_AFTER,
            Arc::clone(&stats),
        );
        // Views are checked against their trigger's life by the worker itself, which then
        // tells the person; the lane's own limit only catches the absurd.
        let (views, view_queue) = outbox::lane(
            outbox::VIEW_QUEUE,
            outbox::REPLY_STALE_AFTER,
            Arc::clone(&stats),
        );
        let bot = Arc::new(SlackBot {
            engine,
            api,
            approvers,
            channel,
            seen_events: Mutex::new((HashSet::new(), VecDeque::new())),
            replies,
            views,
            stats,
            intake: std::sync::OnceLock::new(),
            seal: ModalSeal::random(),
        });
        tokio::spawn(send_replies(Arc::downgrade(&bot), reply_queue));
        tokio::spawn(open_views(Arc::downgrade(&bot), view_queue));
        bot
    }

    /// What became of the replies so far (sent, failed, dropped).
    /// The bot's metrics (its Slack client's).
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        self.api.metrics()
    }

    pub fn reply_stats(&self) -> &ReplyStats {
        &self.stats
    }

    /// Offers the web form's link on *Enter new token* (and opens the modal only when
    /// `[intake] slack_modal` is on). Set once; later calls change nothing.
    pub fn set_intake(&self, intake: Arc<crate::intake::Intake>) {
        let _ = self.intake.set(intake);
    }

    fn actor(&self, user: &str) -> Actor {
        Actor::user(user, self.approvers.is_approver(user))
    }

    /// Handles an interaction; the result is the acknowledgement's content, returned only
    /// once whatever the interaction changes is committed.
    pub async fn handle_interaction(
        &self,
        mut event: SlackInteractionEvent,
    ) -> SlackInteractionResponse {
        if let SlackInteractionEvent::ViewSubmission(submission) = &mut event {
            if let Some(refusal) = self.unsealed(submission) {
                return refusal;
            }
        }
        self.handle(interaction::parse(event)).await
    }

    /// Handles a click read straight from an HTTP payload (`crate::slack::http_interaction`),
    /// as [`SlackBot::handle_interaction`] handles the same click parsed by slack-morphism.
    pub async fn handle_click(&self, click: BlockActions) -> SlackInteractionResponse {
        self.handle(interaction::parse_click(click)).await
    }

    async fn handle(&self, interaction: Interaction) -> SlackInteractionResponse {
        match interaction {
            Interaction::Click(click) => {
                if let Some(refusal) = self.foreign_click(&click) {
                    self.ephemeral(click.channel, click.user, click.thread_ts, refusal);
                    return SlackInteractionResponse::Empty;
                }
                self.command_click(click).await;
                SlackInteractionResponse::Empty
            }
            Interaction::SubmitToken(submission) => {
                if self.form_only() {
                    return view_errors([(super::ids::TOKEN_BLOCK, FORM_ONLY)]);
                }
                if let Some(errors) = self.submission_errors(&submission) {
                    return errors;
                }
                self.command_token(submission).await;
                SlackInteractionResponse::Empty
            }
            Interaction::Register(registration) => {
                if let Err(problem) = check_creation_day(registration.created, self.engine.now()) {
                    return view_errors([(
                        super::ids::CREATED_BLOCK,
                        problem.to_string().as_str(),
                    )]);
                }
                self.command_register(registration).await;
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
                self.ephemeral(channel, user, thread_ts, what);
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
                Some(super::ids::SUBMIT_TOKEN) if self.form_only() => {
                    return Some(view_errors([(super::ids::TOKEN_BLOCK, FORM_ONLY)]));
                }
                Some(super::ids::SUBMIT_TOKEN) => super::ids::TOKEN_BLOCK,
                Some(super::ids::REGISTER_TOKEN) => super::ids::TOKEN_ID_BLOCK,
                _ => return None,
            },
            SlackView::Home(_) => return None,
        };
        if self.seal.open_submission(submission) {
            return None;
        }
        self.api.metrics().refused(
            "stale_modal",
            "a modal submission whose metadata does not match what was opened",
        );
        Some(view_errors([(block, binding::STALE_MODAL)]))
    }

    /// Whether tokens are taken only through the web form (`[intake] slack_modal = false`).
    fn form_only(&self) -> bool {
        self.intake
            .get()
            .is_some_and(|intake| !intake.slack_modal())
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
                self.api.metrics().refused(
                    "foreign_button",
                    "a rotation button outside that rotation's messages",
                );
                Some(binding::FOREIGN_BUTTON.to_owned())
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot read rotation messages");
                Some(render::BOT_FAULT.to_owned())
            }
        }
    }

    /// Bad input in the token modal that only the rotation record can reveal, answered inside
    /// the modal (one local read) rather than after it closed.
    fn submission_errors(&self, submission: &TokenSubmission) -> Option<SlackInteractionResponse> {
        let rotation = self
            .engine
            .query()
            .rotation(submission.rotation)
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

    /// A click: the command is committed before this returns; the answer is queued.
    async fn command_click(&self, click: Click) {
        let actor = self.actor(&click.user);
        let id = match &click.action {
            Button::StartRotation(_) => None,
            Button::Approve(id)
            | Button::Reject(id)
            | Button::Cancel(id)
            | Button::EnterToken(id)
            | Button::ConfirmDeleted(id)
            | Button::Retry(id) => Some(*id),
        };
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
            Button::EnterToken(_) => {
                return self.request_token_modal(click, &actor);
            }
            Button::Approve(_) => self.command(id, Command::Approve, &actor).await,
            Button::Reject(_) => {
                self.command(id, Command::Reject { reason: None }, &actor)
                    .await
            }
            Button::Cancel(_) => self.command(id, Command::Cancel, &actor).await,
            Button::ConfirmDeleted(_) => {
                self.command(id, Command::ConfirmOldTokenDeleted, &actor)
                    .await
            }
            Button::Retry(_) => self.command(id, Command::Retry, &actor).await,
        };
        self.tell(click.channel, click.user, click.thread_ts, result);
    }

    async fn command(
        &self,
        id: Option<RotationId>,
        command: Command,
        actor: &Actor,
    ) -> Result<CommandOutcome, EngineError> {
        let id = id.expect("every rotation button names its rotation");
        self.engine.apply(id, command, actor).await
    }

    /// "Enter new token": the domain's rule for entering a token is checked now (one local
    /// read); the modal is opened after the ack by the view worker, within the trigger's 3 s.
    fn request_token_modal(&self, click: Click, actor: &Actor) {
        let Button::EnterToken(id) = click.action else {
            return;
        };
        let channel = click
            .channel
            .clone()
            .unwrap_or_else(|| self.channel.clone());
        let rotation = match self.engine.token_entry(id, actor) {
            Ok(Ok(rotation)) => rotation,
            Ok(Err(outcome)) => {
                return self.tell(click.channel, click.user, click.thread_ts, Ok(outcome));
            }
            Err(error) => {
                return self.tell(click.channel, click.user, click.thread_ts, Err(error));
            }
        };
        let Some(connection) = self.engine.connection(&rotation.connection) else {
            let gone = CommandOutcome::Refused(Refusal::ConnectionGone);
            return self.tell(click.channel, click.user, click.thread_ts, Ok(gone));
        };
        let info = ConnectionInfo {
            name: &connection.name,
            aws_region: &connection.aws_region,
        };
        let default_expiry = self.engine.now().date_naive() + Duration::days(TOKEN_LIFETIME_DAYS);
        let mut view = render::token_modal(&rotation, &info, default_expiry);
        self.seal.seal_view(&mut view, &click.user);
        let intake = self.intake.get();
        let modal = intake.is_none_or(|intake| intake.slack_modal());
        if modal {
            self.views.push(ViewRequest {
                trigger_id: click.trigger_id,
                view,
                user: click.user.clone(),
                channel: channel.clone(),
                thread: click.thread_ts.clone(),
                retry_hint: "Slack did not open the form in time. Click *Enter new token* again.",
            });
        }
        if let Some(intake) = intake {
            let text = match intake.issue(&rotation, &click.user) {
                Ok(link) => render::web_form_link(link.url.as_str(), link.expires_at, modal),
                Err(error) => {
                    tracing::error!(error = %error, "cannot issue a web form link");
                    "I could not make a web form link; it has been logged. Click *Enter new token* again.".to_owned()
                }
            };
            self.ephemeral(Some(channel), click.user, click.thread_ts, text);
        }
    }

    /// The token modal: the rotation moves to `Checking` (committed) before this returns;
    /// the token goes to the engine's check pipeline.
    async fn command_token(&self, submission: TokenSubmission) {
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
        self.tell(channel, user, thread, result);
    }

    async fn command_register(&self, registration: Registration) {
        let Registration {
            user,
            connection,
            reply_channel,
            token_id,
            created,
        } = registration;
        let actor = self.actor(&user);
        let result = self
            .engine
            .register_token(&connection, &token_id, creation_day_start(created), &actor)
            .await;
        // Answer where the command was run (the configured channel for older modals).
        let channel = reply_channel.unwrap_or_else(|| self.channel.clone());
        self.tell(Some(channel), user, None, result);
    }

    fn thread_of(&self, rotation: RotationId) -> (Option<String>, Option<String>) {
        match self.engine.query().rotation(rotation) {
            Ok(Some(r)) => (r.channel.or(Some(self.channel.clone())), r.thread_ts),
            _ => (Some(self.channel.clone()), None),
        }
    }

    /// Queues the answer to the sender, unless the thread already shows it.
    fn tell(
        &self,
        channel: Option<String>,
        user: String,
        thread: Option<String>,
        result: Result<CommandOutcome, EngineError>,
    ) {
        let text = match result {
            Ok(outcome) => match render::outcome_reply(&outcome) {
                Some(text) => text,
                None => return,
            },
            Err(error) => {
                tracing::error!(error = %error, "command failed");
                render::BOT_FAULT.to_owned()
            }
        };
        self.ephemeral(channel, user, thread, text);
    }

    fn ephemeral(
        &self,
        channel: Option<String>,
        user: String,
        thread: Option<String>,
        text: String,
    ) {
        self.replies.push(Reply::Ephemeral {
            channel: channel.unwrap_or_else(|| self.channel.clone()),
            user,
            thread,
            text,
        });
    }

    /// Handles `/scim …`; the result is the acknowledgement's content.
    pub async fn handle_command(&self, event: SlackCommandEvent) -> SlackCommandEventResponse {
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
                    let known = self.engine.connection_names();
                    return ephemeral_reply(render::no_such_connection(name, &known), vec![]);
                }
                let filter = AuditFilter {
                    connection: connection.clone(),
                    since: None,
                    last: Some(AUDIT_RECORDS_SHOWN),
                };
                match self.engine.query().audit(&filter) {
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
                    Ok(CommandOutcome::Changed(rotation)) => ephemeral_reply(
                        format!(
                            "Rotation #{} of {} requested in <#{}>: a team lead will be asked to approve it there.",
                            rotation.id, rotation.connection, self.channel
                        ),
                        vec![],
                    ),
                    Ok(outcome) => {
                        ephemeral_reply(render::outcome_reply(&outcome).unwrap_or_default(), vec![])
                    }
                    Err(error) => {
                        tracing::error!(error = %error, "cannot start a rotation");
                        ephemeral_reply(render::BOT_FAULT.to_owned(), vec![])
                    }
                }
            }
            SlashCommand::Register(connection) => {
                if self.engine.connection(&connection).is_none() {
                    let known = self.engine.connection_names();
                    return ephemeral_reply(
                        render::no_such_connection(&connection, &known),
                        vec![],
                    );
                }
                if !self.approvers.is_approver(&user) {
                    let refusal =
                        Refusal::Registration(crate::rotation::RegistrationProblem::NotApprover);
                    return ephemeral_reply(render::refusal_text(&refusal), vec![]);
                }
                let mut view =
                    render::register_modal(&connection, &event.channel_id.0, now.date_naive());
                self.seal.seal_view(&mut view, &user);
                self.views.push(ViewRequest {
                    trigger_id: event.trigger_id.0,
                    view,
                    user,
                    channel: event.channel_id.0,
                    thread: None,
                    retry_hint: "Slack did not open the form in time. Run the command again.",
                });
                SlackCommandEventResponse::new(SlackMessageContent::new())
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

    /// Handles a pushed event (after de-duplication): it changes nothing, so it is only
    /// queued; the Home tab is rendered and published after the ack.
    pub fn handle_event(&self, event: SlackPushEventCallback) {
        if !self.first_delivery(&event.event_id.0) {
            tracing::debug!(event_id = %event.event_id.0, "redelivered event dropped");
            return;
        }
        match event.event {
            SlackEventCallbackBody::AppHomeOpened(opened) => {
                self.replies.push(Reply::Home {
                    user: opened.user.0,
                });
            }
            // Approver groups changed: applied before the ack (see `approvers`).
            SlackEventCallbackBody::Unknown(body) => {
                if let Some(change) = super::approvers::GroupChange::from_event(&body) {
                    self.approvers.apply_event(&change);
                }
            }
            _ => {}
        }
    }

    async fn publish_home(&self, user: &str) -> bool {
        let rows = match self.status_rows() {
            Ok(rows) => rows,
            Err(_) => return false,
        };
        let view = render::home_view(&rows, self.engine.now());
        match self.api.publish_home(user, view).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(error = %error, "cannot publish the home tab");
                false
            }
        }
    }

    /// One row per configured connection: its current token and latest rotation.
    pub fn status_rows(&self) -> Result<Vec<StatusRow>, String> {
        match self.engine.query().status(&self.engine.connection_names()) {
            Ok(rows) => Ok(rows
                .into_iter()
                .map(|row| StatusRow {
                    connection: row.connection,
                    token: row.token,
                    rotation: row.rotation,
                    graph_problem: row.graph_problem,
                })
                .collect()),
            Err(error) => {
                tracing::error!(error = %error, "cannot read the status");
                Err("I cannot read the status right now; it has been logged.".to_owned())
            }
        }
    }
}

/// The reply worker: ephemerals and Home tabs, one at a time, in order.
async fn send_replies(bot: Weak<SlackBot>, mut queue: LaneReceiver<Reply>) {
    while let Some((reply, _waited)) = queue.next().await {
        let Some(bot) = bot.upgrade() else {
            return;
        };
        let sent = match reply {
            Reply::Ephemeral {
                channel,
                user,
                thread,
                text,
            } => match bot
                .api
                .post_ephemeral(&channel, &user, thread.as_deref(), text)
                .await
            {
                Ok(()) => true,
                Err(error) => {
                    tracing::warn!(error = %error, "cannot send an ephemeral reply");
                    false
                }
            },
            Reply::Home { user } => bot.publish_home(&user).await,
        };
        bot.stats.record(if sent {
            ReplyOutcome::Sent
        } else {
            ReplyOutcome::Failed
        });
    }
}

/// The view worker: opens modals in order, each only while its trigger still lives; when
/// one cannot be opened the person is told so.
async fn open_views(bot: Weak<SlackBot>, mut queue: LaneReceiver<ViewRequest>) {
    while let Some((request, waited)) = queue.next().await {
        let Some(bot) = bot.upgrade() else {
            return;
        };
        let ViewRequest {
            trigger_id,
            view,
            user,
            channel,
            thread,
            retry_hint,
        } = request;
        let outcome = if waited > outbox::VIEW_STALE_AFTER {
            tracing::warn!(
                waited_ms = waited.as_millis() as u64,
                "a modal waited past its trigger's life"
            );
            ReplyOutcome::Stale
        } else {
            match bot.api.open_view(&trigger_id, view).await {
                Ok(()) => ReplyOutcome::Sent,
                Err(error) => {
                    tracing::warn!(error = %error, "cannot open a modal");
                    ReplyOutcome::Failed
                }
            }
        };
        bot.stats.record(outcome);
        if outcome != ReplyOutcome::Sent {
            bot.ephemeral(Some(channel), user, thread, retry_hint.to_owned());
        }
    }
}

fn render_section(text: &str) -> SlackBlock {
    SlackSectionBlock::new().with_text(md!("{}", text)).into()
}

/// What a token modal is told when the bot takes tokens only through its web form.
const FORM_ONLY: &str =
    "This bot takes the token only through its web form: click *Enter new token* for a link.";

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
