//! Inbound HTTP, the server: Slack's endpoints (mode `http`), AWS Health events, metrics,
//! health and readiness. (Outbound clients are `crate::outbound`'s.)
//!
//! Each Slack request follows the transport rule: **verify** (signature over the raw body,
//! 300 s window, replay guard, content type: the [`Verified`] extractor) before anything else, **parse** it to a typed request, have the bot
//! **persist** what it changes (`SlackBot::handle_*` returns once the engine committed it),
//! and only then **ack** with the bot's answer. Refusals (bad signature, malformed, too
//! large) are counted per reason and logged as a summary at most every 10 s per reason.
//! AWS Health events are authenticated by the shared `x-api-key` before they are read.
//! Nothing here logs a request body: a modal submission carries the token.

use crate::aws::health::{self, AwsInstance, SCIM_TOKEN_EXPIRY_EVENT};
use crate::clock::SharedClock;
use crate::metrics::{self, Gauges, Metrics};
use crate::rotation::expiry::days_left;
use crate::scheduler::Scheduler;
use crate::slack::bot::SlackBot;
use crate::slack::http_interaction::{self, Incoming};
use crate::slack::identity::Origin;
use crate::slack::inbound::{self, InboundGuard, require_content_type};
use crate::slack::verified::{Form, Json, Verified};
use crate::store::Store;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sha2::{Digest, Sha256};
use slack_morphism::prelude::*;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Largest request body accepted; Slack's payloads are a few KiB, a modal at most ~100 KiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the HTTP endpoints need.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub clock: SharedClock,
    /// Present in `http` mode: the Slack endpoints are served. (Shared: axum clones the
    /// state for every request.)
    pub slack: Option<Arc<SlackEndpoints>>,
    /// Present when `[aws_health]` is configured; otherwise `POST /aws/health-events`
    /// answers 404.
    pub aws_health: Option<Arc<HealthEndpoint>>,
    /// The configured connections' names (for the per-connection metrics).
    pub connections: Arc<Vec<String>>,
    /// The bot's metrics: served at `/metrics`; refused requests are counted (and logged at
    /// most every 10 s per reason, so a flood of forged requests cannot flood the log).
    pub metrics: Arc<Metrics>,
}

/// What `POST /aws/health-events` needs.
#[derive(Clone)]
pub struct HealthEndpoint {
    /// Expected in the `x-api-key` header (`[aws_health] secret`).
    pub secret: SecretString,
    /// Each connection's AWS account and region, to match events to connections.
    pub instances: Arc<Vec<AwsInstance>>,
    pub scheduler: Arc<Scheduler>,
}

/// The header an EventBridge API destination with API-key authorization sends the key in.
pub const API_KEY_HEADER: &str = "x-api-key";

#[derive(Clone)]
pub struct SlackEndpoints {
    pub bot: Arc<SlackBot>,
    pub signing_secret: SecretString,
    /// Replay guard and workspace/app identity (`crate::slack::inbound`).
    pub guard: Arc<InboundGuard>,
}

pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/aws/health-events", post(aws_health_event));
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

/// `GET /metrics`: the counters, and the gauges read from the store now.
async fn metrics_text(State(state): State<AppState>) -> Response {
    let now = state.clock.now();
    let read = || -> Result<Gauges, crate::store::StoreError> {
        let mut days_until_expiry = Vec::new();
        for name in state.connections.iter() {
            let days = state
                .store
                .current_token(name)?
                .and_then(|token| token.expires_at)
                .map(|expires| days_left(expires, now));
            days_until_expiry.push((name.clone(), days));
        }
        Ok(Gauges {
            days_until_expiry,
            rotations: state.store.rotation_counts()?,
        })
    };
    match read() {
        Ok(gauges) => (
            [(axum::http::header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
            state.metrics.render(&gauges),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(error = %error, "cannot read the store for metrics");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// Whether the `x-api-key` header holds the shared secret. Both sides are hashed first, so
/// the comparison takes the same time whatever the header holds, its length included.
fn api_key_matches(secret: &SecretString, given: Option<&axum::http::HeaderValue>) -> bool {
    let Some(given) = given else {
        return false;
    };
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(secret.expose_secret().as_bytes());
    given.ct_eq(&expected).into()
}

/// `POST /aws/health-events`: an EventBridge event, as an API destination sends it.
/// 401 without the right key, 415 unless it is sent as JSON, 400 for a body that is not an event, 202 for events the bot
/// does not handle (other types, unknown accounts), 200 with what was done otherwise, and
/// 503 when the database cannot record it (EventBridge retries).
async fn aws_health_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(endpoint) = state.aws_health.as_ref() else {
        return refuse(
            StatusCode::NOT_FOUND,
            "AWS Health events are not configured on this bot ([aws_health] secret)",
        );
    };
    if !api_key_matches(&endpoint.secret, headers.get(API_KEY_HEADER)) {
        state.metrics.refused(
            "bad_api_key",
            "an AWS Health event without the right x-api-key",
        );
        return refuse(StatusCode::UNAUTHORIZED, "missing or wrong x-api-key");
    }
    if let Err(refusal) = require_content_type(&headers, inbound::JSON, &state.metrics) {
        return refusal.into_response();
    }
    let event = match health::parse_event(&body) {
        Ok(event) => event,
        Err(error) => return refuse(StatusCode::BAD_REQUEST, &error.to_string()),
    };
    let ignored = |reason: String| {
        tracing::info!(event_id = ?event.id, %reason, "AWS Health event ignored");
        (
            StatusCode::ACCEPTED,
            axum::Json(json!({ "result": "ignored", "reason": reason })),
        )
            .into_response()
    };
    if event.event_type_code != SCIM_TOKEN_EXPIRY_EVENT {
        return ignored(format!(
            "event type {} is not handled",
            event.event_type_code
        ));
    }
    let matched = health::matching(&event, &endpoint.instances);
    if matched.is_empty() {
        tracing::warn!(account = ?event.account, region = ?event.region, "an AWS Health SCIM token event matches no configured connection");
        return ignored(format!(
            "no connection is configured for account {} in region {}",
            event.account.as_deref().unwrap_or("(none)"),
            event.region.as_deref().unwrap_or("(none)")
        ));
    }
    let now = state.clock.now();
    let mut results = Vec::new();
    for instance in matched {
        match endpoint
            .scheduler
            .record_health_event(&instance.connection, &event, now)
            .await
        {
            Ok(outcome) => {
                if outcome.changed() {
                    // Warn now if the new date crossed a threshold; the answer does not wait
                    // for Slack (an API destination gives up after 5 seconds).
                    endpoint.scheduler.check_expiry_soon(&instance.connection);
                }
                results.push(outcome.to_json());
            }
            Err(error) => {
                tracing::error!(connection = %instance.connection, error = %error, "cannot record an AWS Health event");
                return refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "cannot record the event now; try again",
                );
            }
        }
    }
    axum::Json(json!({ "result": "processed", "connections": results })).into_response()
}

/// Refusals with a short reason, never the body.
fn refuse(status: StatusCode, reason: &str) -> Response {
    (status, reason.to_owned()).into_response()
}

async fn slack_events(
    State(state): State<AppState>,
    Verified {
        slack,
        headers,
        body,
        ..
    }: Verified<Json>,
) -> Response {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        state
            .metrics
            .refused("malformed", "an event that is not JSON");
        return refuse(StatusCode::BAD_REQUEST, "malformed event: not JSON");
    };
    if value["type"] != "url_verification" {
        if let Err(refusal) = slack.guard.admit(&Origin::of_event_json(&value), "event") {
            return refusal.into_response();
        }
    }
    let event: SlackPushEvent = match serde_json::from_value(value) {
        Ok(event) => event,
        Err(_) => {
            state
                .metrics
                .refused("malformed", "not a Slack Events API payload");
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

async fn slack_interactivity(
    State(state): State<AppState>,
    Verified { slack, body, .. }: Verified<Form>,
) -> Response {
    let incoming = match http_interaction::read(&body, &slack.guard, &state.metrics) {
        Ok(incoming) => incoming,
        Err(refusal) => return refusal.into_response(),
    };
    drop(body);
    // Verified and parsed; the bot persists whatever the interaction changes, then acks.
    let answer = match incoming {
        Incoming::Click(click) => slack.bot.handle_click(click).await,
        Incoming::Other(event) => slack.bot.handle_interaction(*event).await,
    };
    match answer {
        SlackInteractionResponse::Empty => StatusCode::OK.into_response(),
        SlackInteractionResponse::ViewSubmission(response) => axum::Json(response).into_response(),
        SlackInteractionResponse::BlockSuggestion(response) => axum::Json(response).into_response(),
    }
}

async fn slack_commands(
    State(state): State<AppState>,
    Verified { slack, body, .. }: Verified<Form>,
) -> Response {
    let Ok(fields) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        state
            .metrics
            .refused("malformed", "a slash command form that does not parse");
        return refuse(StatusCode::BAD_REQUEST, "malformed slash command form");
    };
    if let Err(refusal) = slack
        .guard
        .admit(&Origin::of_command_form(&fields), "command")
    {
        return refusal.into_response();
    }
    drop(fields);
    let event: SlackCommandEvent = match serde_urlencoded::from_bytes(&body) {
        Ok(event) => event,
        Err(_) => {
            state
                .metrics
                .refused("malformed", "a slash command form that does not parse");
            return refuse(StatusCode::BAD_REQUEST, "malformed slash command form");
        }
    };
    let reply = slack.bot.handle_command(event).await;
    if reply.content.text.is_none() && reply.content.blocks.is_none() {
        return StatusCode::OK.into_response();
    }
    axum::Json(reply).into_response()
}
