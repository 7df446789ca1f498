//! HTTP: Slack's endpoints (mode `http`), health and readiness.
//!
//! Each Slack request is verified (signature over the raw body, 300 s window) before
//! anything else, parsed, handed to the bot, and answered with the bot's acknowledgement.
//! Nothing here logs a request body: a modal submission carries the token.

use crate::clock::SharedClock;
use crate::slack::bot::SlackBot;
use crate::slack::signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::store::Store;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secrecy::SecretString;
use slack_morphism::prelude::*;
use std::sync::Arc;

/// Largest request body accepted; Slack's payloads are a few KiB, a modal at most ~100 KiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the HTTP endpoints need.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub clock: SharedClock,
    /// Present in `http` mode: the Slack endpoints are served.
    pub slack: Option<SlackEndpoints>,
}

#[derive(Clone)]
pub struct SlackEndpoints {
    pub bot: Arc<SlackBot>,
    pub signing_secret: SecretString,
}

pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if state.slack.is_some() {
        router = router
            .route("/slack/events", post(slack_events))
            .route("/slack/interactivity", post(slack_interactivity))
            .route("/slack/commands", post(slack_commands));
    }
    router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.schema_version() {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(error) => {
            tracing::error!(error = %error, "store not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// Refusals with a short reason, never the body.
fn refuse(status: StatusCode, reason: &str) -> Response {
    (status, reason.to_owned()).into_response()
}

fn verified<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<&'a SlackEndpoints, (StatusCode, String)> {
    let Some(slack) = state.slack.as_ref() else {
        return Err((StatusCode::NOT_FOUND, "not found".to_owned()));
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match signature::verify(
        &slack.signing_secret,
        header(SIGNATURE_HEADER),
        header(TIMESTAMP_HEADER),
        body,
        state.clock.now(),
    ) {
        Ok(()) => Ok(slack),
        Err(error) => {
            tracing::warn!(reason = %error, bytes = body.len(), "refused a Slack request");
            Err((
                StatusCode::UNAUTHORIZED,
                format!("invalid request signature: {error}"),
            ))
        }
    }
}

async fn slack_events(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let slack = match verified(&state, &headers, &body) {
        Ok(slack) => slack,
        Err(refusal) => return refusal.into_response(),
    };
    let event: SlackPushEvent = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "malformed event: not a Slack Events API payload",
            );
        }
    };
    match event {
        SlackPushEvent::UrlVerification(verification) => {
            axum::Json(serde_json::json!({ "challenge": verification.challenge })).into_response()
        }
        SlackPushEvent::EventCallback(callback) => {
            if let Some(retry) = headers
                .get("x-slack-retry-num")
                .and_then(|v| v.to_str().ok())
            {
                tracing::debug!(retry, event_id = %callback.event_id.0, "event redelivered by Slack");
            }
            slack.bot.handle_event(callback);
            StatusCode::OK.into_response()
        }
        SlackPushEvent::AppRateLimited(_) => {
            tracing::warn!("Slack says this app's events are rate limited");
            StatusCode::OK.into_response()
        }
    }
}

#[derive(serde::Deserialize)]
struct InteractionForm {
    payload: String,
}

async fn slack_interactivity(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let slack = match verified(&state, &headers, &body) {
        Ok(slack) => slack,
        Err(refusal) => return refusal.into_response(),
    };
    let Ok(form) = serde_urlencoded::from_bytes::<InteractionForm>(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "malformed interaction: expected a form field 'payload'",
        );
    };
    let event: SlackInteractionEvent = match serde_json::from_str(&form.payload) {
        Ok(event) => event,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "malformed interaction: payload is not a Slack interaction",
            );
        }
    };
    drop(form);
    match slack.bot.handle_interaction(event).await {
        SlackInteractionResponse::Empty => StatusCode::OK.into_response(),
        SlackInteractionResponse::ViewSubmission(response) => axum::Json(response).into_response(),
        SlackInteractionResponse::BlockSuggestion(response) => axum::Json(response).into_response(),
    }
}

async fn slack_commands(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let slack = match verified(&state, &headers, &body) {
        Ok(slack) => slack,
        Err(refusal) => return refusal.into_response(),
    };
    let event: SlackCommandEvent = match serde_urlencoded::from_bytes(&body) {
        Ok(event) => event,
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "malformed slash command form"),
    };
    let reply = slack.bot.handle_command(event).await;
    if reply.content.text.is_none() && reply.content.blocks.is_none() {
        return StatusCode::OK.into_response();
    }
    axum::Json(reply).into_response()
}
