//! Socket Mode transport (the default): Slack pushes envelopes over a WebSocket opened with
//! the app-level `xapp-` token; slack-morphism acks each envelope with what the callback
//! returns, and reconnects on its own.
//!
//! The library sends the ack only after the callback returns, and the callbacks return only
//! once the bot has the command committed: the transport rule (verify → parse → persist →
//! ack) holds here as in HTTP mode. Replies and modals go to the bot's queues, after.
//!
//! The library's default error handler answers 400 (no ack → redelivery) and logs raw bodies;
//! ours acks and logs only the error's kind.
//!
//! Every envelope is checked against the workspace and app first
//! ([`super::identity::WorkspaceIdentity`]): one from elsewhere is acked and ignored.
//!
//! Liveness ([`SocketLiveness`]): a connection whose far end stopped answering without
//! closing (a half-open socket) is noticed by missing pongs and replaced. The bot keeps two
//! connections, so while one is being replaced the other, opened before, keeps acking.

use super::bot::SlackBot;
use super::identity::{Origin, WorkspaceIdentity};
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::sync::Arc;

type Client = SlackClient<super::api::Connector>;

async fn bot_of(state: &SlackClientEventsUserState) -> Option<Arc<SlackBot>> {
    state
        .read()
        .await
        .get_user_state::<Arc<SlackBot>>()
        .cloned()
}

/// Whether an envelope with `origin` is for this bot (refusals are logged and counted).
async fn admitted(state: &SlackClientEventsUserState, origin: Origin, kind: &'static str) -> bool {
    let guard = state.read().await;
    match guard.get_user_state::<Arc<WorkspaceIdentity>>() {
        Some(identity) => identity.admit(&origin, kind).is_ok(),
        // Never started without one; refuse rather than trust.
        None => false,
    }
}

/// How a Socket Mode connection that stopped answering is noticed: a ping every
/// `ping_interval_secs`, and the connection is given up (and replaced) once no pong came
/// for more than `ping_interval_secs × failure_threshold` (checked at each ping).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketLiveness {
    pub ping_interval_secs: u64,
    pub failure_threshold: u64,
    /// Delay before the second connection opens (slack-morphism staggers them).
    pub initial_backoff_secs: u64,
}

impl SocketLiveness {
    /// Production: ping every 5 s, give up after 20 s without a pong — noticed at most
    /// 25 s after the far end went silent (Slack's SDKs and the issue ask for ~30 s;
    /// slack-morphism's defaults, 15 s × 5, take ~90 s).
    pub const PRODUCTION: SocketLiveness = SocketLiveness {
        ping_interval_secs: 5,
        failure_threshold: 4,
        initial_backoff_secs: 1,
    };

    /// The longest time from the far end going silent to the connection being given up.
    /// slack-morphism checks at each ping tick whether the whole seconds since the last
    /// pong exceed `interval × threshold`; the last pong came at most just before the
    /// silence, a tick after a ping, so the first tick that gives up is the `n`-th with
    /// `n × interval > interval × threshold + 1`.
    pub fn worst_case_detection(&self) -> std::time::Duration {
        let interval = self.ping_interval_secs.max(1);
        let ticks = (interval * self.failure_threshold + 1) / interval + 1;
        std::time::Duration::from_secs(interval * ticks)
    }

    fn config(&self) -> SlackClientSocketModeConfig {
        SlackClientSocketModeConfig::new()
            .with_ping_interval_in_seconds(self.ping_interval_secs)
            .with_ping_failure_threshold_times(self.failure_threshold)
            .with_initial_backoff_in_seconds(self.initial_backoff_secs)
    }
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<Client>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    if !admitted(&state, Origin::of_interaction(&event), "interaction").await {
        return Ok(SlackInteractionResponse::Empty);
    }
    if let Some(reason) = super::interaction::malformed(&event) {
        // Nobody to answer over a socket: acked (a redelivery would be as malformed), logged.
        tracing::warn!(reason, "ignored a Socket Mode interaction");
        return Ok(SlackInteractionResponse::Empty);
    }
    match bot_of(&state).await {
        Some(bot) => Ok(bot.handle_interaction(event).await),
        None => Ok(SlackInteractionResponse::Empty),
    }
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<Client>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    if !admitted(&state, Origin::of_command(&event), "command").await {
        return Ok(SlackCommandEventResponse::new(SlackMessageContent::new()));
    }
    match bot_of(&state).await {
        Some(bot) => Ok(bot.handle_command(event).await),
        None => Ok(SlackCommandEventResponse::new(SlackMessageContent::new())),
    }
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<Client>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    if !admitted(&state, Origin::of_event(&event), "event").await {
        return Ok(());
    }
    if let Some(bot) = bot_of(&state).await {
        bot.handle_event(event);
    }
    Ok(())
}

/// Acks whatever failed (a redelivery would fail the same way) and logs without the body.
fn on_error(
    error: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<Client>,
    _state: SlackClientEventsUserState,
) -> HttpStatusCode {
    let kind = match error.downcast_ref::<SlackClientError>() {
        Some(SlackClientError::ProtocolError(_)) => "unreadable payload",
        Some(SlackClientError::SocketModeProtocolError(_)) => "socket mode protocol error",
        Some(SlackClientError::HttpError(_) | SlackClientError::HttpProtocolError(_)) => {
            "HTTP error"
        }
        Some(SlackClientError::RateLimitError(_)) => "rate limited",
        Some(SlackClientError::ApiError(e)) => return log_api(&e.code),
        Some(_) => "client error",
        None => "handler error",
    };
    tracing::warn!(
        kind,
        "Socket Mode envelope failed; acknowledged so that Slack does not redeliver it"
    );
    HttpStatusCode::OK
}

fn log_api(code: &str) -> HttpStatusCode {
    tracing::warn!(
        code,
        "Slack API error while handling a Socket Mode envelope"
    );
    HttpStatusCode::OK
}

/// A running Socket Mode listener.
pub struct SocketMode {
    listener: SlackClientSocketModeListener<super::api::Connector>,
}

impl SocketMode {
    /// Connects with the app-level token and starts delivering envelopes to `bot`.
    pub async fn start(
        bot: Arc<SlackBot>,
        app_token: &SecretString,
        identity: Arc<WorkspaceIdentity>,
        liveness: SocketLiveness,
    ) -> Result<SocketMode, String> {
        let client = Arc::clone(bot.api.client());
        let environment = Arc::new(
            SlackClientEventsListenerEnvironment::new(client)
                .with_error_handler(on_error)
                .with_user_state(bot)
                .with_user_state(identity),
        );
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_interaction_events(on_interaction)
            .with_command_events(on_command)
            .with_push_events(on_push);
        let listener =
            SlackClientSocketModeListener::new(&liveness.config(), environment, callbacks);
        let token = SlackApiToken::new(SlackApiTokenValue(app_token.expose_secret().to_owned()));
        listener.listen_for(&token).await.map_err(|e| match e {
            SlackClientError::ApiError(api) => {
                format!("Slack refused the app-level token: {}", api.code)
            }
            _ => "cannot open a Socket Mode connection to Slack".to_owned(),
        })?;
        listener.start().await;
        Ok(SocketMode { listener })
    }

    pub async fn shutdown(&self) {
        self.listener.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_liveness_notices_a_silent_socket_within_30_seconds() {
        let liveness = SocketLiveness::PRODUCTION;
        assert_eq!(
            liveness.worst_case_detection(),
            std::time::Duration::from_secs(25)
        );
        let fast = SocketLiveness {
            ping_interval_secs: 1,
            failure_threshold: 2,
            initial_backoff_secs: 0,
        };
        assert_eq!(
            fast.worst_case_detection(),
            std::time::Duration::from_secs(4)
        );
        let config = liveness.config();
        assert_eq!(config.ping_interval_in_seconds, 5);
        assert_eq!(config.ping_failure_threshold_times, 4);
        assert!(
            config.max_connections_count >= 2,
            "a second connection serves while one is replaced"
        );
    }
}
