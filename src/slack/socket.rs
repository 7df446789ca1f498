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

use super::bot::SlackBot;
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

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<Client>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
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
    pub async fn start(bot: Arc<SlackBot>, app_token: &SecretString) -> Result<SocketMode, String> {
        let client = Arc::clone(bot.api.client());
        let environment = Arc::new(
            SlackClientEventsListenerEnvironment::new(client)
                .with_error_handler(on_error)
                .with_user_state(bot),
        );
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_interaction_events(on_interaction)
            .with_command_events(on_command)
            .with_push_events(on_push);
        let listener = SlackClientSocketModeListener::new(
            &SlackClientSocketModeConfig::new(),
            environment,
            callbacks,
        );
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
