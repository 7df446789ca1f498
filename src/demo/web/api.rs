//! The web app's HTTP side: the page and its assets, the state it draws (JSON), an event
//! stream that says when to redraw, and the actions a person takes — each one done the way
//! the real system would have it done: Slack clicks and submissions through the fake
//! Slack's signed deliveries to the bot, console actions on the AWS and Entra models.
//!
//! Bad input gets a 4xx with a reason (`{"error": "…"}`) the page shows; nothing changes.
//! Request bodies are never logged: a modal submission carries the token.

use super::{Stage, assets, state};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::Duration;
use scim_sandbox::people::*;
use scim_sandbox::slack::{InteractionError, ViewOutcome, datepicker_value, plain_text_value};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;

type Shared = State<Arc<Stage>>;

/// The largest request the page sends: a modal with a 3000-character token and some fields.
const MAX_BODY: usize = 64 * 1024;
/// The farthest one jump may move the clock: past a token's whole life is never needed.
const MAX_JUMP_DAYS: i64 = 400;

pub fn router(stage: Arc<Stage>) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/app.css", get(assets::css))
        .route("/app.js", get(assets::js))
        .route("/blockkit.js", get(assets::blockkit))
        .route("/api/slack", get(get_slack))
        .route("/api/aws", get(get_aws))
        .route("/api/entra", get(get_entra))
        .route("/api/time", get(get_time))
        .route("/api/events", get(events))
        .route("/api/slack/click", post(click))
        .route("/api/slack/submit", post(submit))
        .route("/api/slack/close", post(close))
        .route("/api/slack/command", post(command))
        .route("/api/slack/home", post(home))
        .route("/api/aws/tokens", post(generate_token))
        .route("/api/aws/tokens/{id}", delete(delete_token))
        .route("/api/entra/test", post(test_connection))
        .route("/api/entra/cycle", post(provisioning_cycle))
        .route("/api/time/jump", post(jump))
        .route("/api/time/sweep", post(sweep))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(same_machine_only))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(stage)
}

/// A refusal the page shows as it is.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn bad(reason: impl Into<String>) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, reason.into())
}

impl From<InteractionError> for Refusal {
    fn from(error: InteractionError) -> Self {
        let status = match error {
            InteractionError::NoResponse(_)
            | InteractionError::Http(_)
            | InteractionError::SocketMode(_) => StatusCode::BAD_GATEWAY,
            _ => StatusCode::CONFLICT,
        };
        // The fake's interaction errors name users, messages and inputs, never values.
        Refusal(status, error.to_string())
    }
}

/// Only this machine's browser, on this page, may act: the `Host` must be an address or
/// `localhost` (a web site that rebinds its own name to 127.0.0.1 is refused), and every
/// request that changes something must be JSON, which another site's page cannot send
/// without the browser asking first (and this server never allows it).
async fn same_machine_only(request: Request, next: axum::middleware::Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !host_is_local(host) {
        return Refusal(
            StatusCode::FORBIDDEN,
            "open the page by its address (http://127.0.0.1:PORT/)".into(),
        )
        .into_response();
    }
    if request.method() != axum::http::Method::GET {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|t| t.starts_with("application/json"));
        if !json {
            return Refusal(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "actions are sent as application/json".into(),
            )
            .into_response();
        }
    }
    let api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    if api {
        // Answers are the sandbox's state of the moment, and one holds a new token's secret:
        // no cache keeps them.
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
    }
    response
}

/// `127.0.0.1:8731`, `[::1]:8731`, `localhost:8731` (or any IP literal, for an address given
/// with `--listen`); not a domain name.
fn host_is_local(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

/// A JSON request body. A malformed one is refused with where and what kind of mistake it
/// is, never with its content (serde's messages quote values, and a modal's values hold the
/// token).
struct Body<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Refusal;

    async fn from_request(request: Request, state: &S) -> Result<Self, Refusal> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| Refusal(e.status(), "the request body could not be read".into()))?;
        serde_json::from_slice(&bytes).map(Body).map_err(|e| {
            let kind = match e.classify() {
                serde_json::error::Category::Data => "JSON with unexpected or missing fields",
                serde_json::error::Category::Syntax => "not JSON",
                serde_json::error::Category::Eof => "cut short",
                serde_json::error::Category::Io => "unreadable",
            };
            bad(format!(
                "the request body is {kind} (line {}, column {})",
                e.line(),
                e.column()
            ))
        })
    }
}

async fn not_found() -> Refusal {
    Refusal(StatusCode::NOT_FOUND, "no such page".into())
}

/// The person acting: one of the workspace's people.
fn person(stage: &Stage, id: &str) -> Result<String, Refusal> {
    if stage.world.slack.users().iter().any(|u| u.id == id) {
        Ok(id.to_owned())
    } else {
        Err(bad(format!("{id:?} is not a person in this workspace")))
    }
}

#[derive(Deserialize)]
struct As {
    #[serde(rename = "as")]
    user: String,
}

async fn get_slack(State(stage): Shared, Query(who): Query<As>) -> Result<Json<Value>, Refusal> {
    let user = person(&stage, &who.user)?;
    Ok(Json(state::slack(&stage, &user)))
}

async fn get_aws(State(stage): Shared) -> Json<Value> {
    Json(state::aws(&stage))
}

async fn get_entra(State(stage): Shared) -> Json<Value> {
    Json(state::entra(&stage))
}

async fn get_time(State(stage): Shared) -> Json<Value> {
    Json(state::time(&stage))
}

/// `change` whenever the fake Slack sees the bot do something or the page changed a fake;
/// the page then fetches what it draws. Ends when the demo stops.
async fn events(
    State(stage): Shared,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let slack = stage.world.slack.changes();
    let ours = stage.changes.subscribe();
    let stopping = stage.stopping.clone();
    let stream = futures_util::stream::unfold(
        (slack, ours, stopping, true),
        |(mut slack, mut ours, mut stopping, first)| async move {
            if *stopping.borrow() {
                return None;
            }
            if !first {
                tokio::select! {
                    changed = slack.changed() => changed.ok()?,
                    changed = ours.changed() => changed.ok()?,
                    _ = stopping.changed() => return None,
                }
            }
            // Not empty: browsers drop an event whose data is empty.
            let event = Event::default().event("change").data("changed");
            Some((Ok(event), (slack, ours, stopping, false)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[derive(Deserialize)]
struct ClickRequest {
    #[serde(rename = "as")]
    user: String,
    action_id: String,
    /// A button in a message (or an ephemeral) of the channel …
    ts: Option<String>,
    /// … or in a view (an open modal or the Home tab).
    view_id: Option<String>,
}

/// A person clicks a button (after confirming its dialog, if it has one).
async fn click(
    State(stage): Shared,
    Body(request): Body<ClickRequest>,
) -> Result<Json<Value>, Refusal> {
    let user = person(&stage, &request.user)?;
    let slack = &stage.world.slack;
    let click = match (&request.ts, &request.view_id) {
        (Some(ts), None) => {
            slack
                .click(&stage.bot_url, &user, CHANNEL, ts, &request.action_id)
                .await?
        }
        (None, Some(view)) => {
            slack
                .click_in_view(&stage.bot_url, &user, view, &request.action_id)
                .await?
        }
        _ => {
            return Err(bad(
                "name the message (ts) or the view (view_id) clicked in",
            ));
        }
    };
    stage.changed();
    Ok(Json(json!({ "status": click.reply.status })))
}

#[derive(Deserialize)]
struct Input {
    block_id: String,
    action_id: String,
    /// `plain_text_input` or `datepicker`.
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

#[derive(Deserialize)]
struct SubmitRequest {
    #[serde(rename = "as")]
    user: String,
    view_id: String,
    values: Vec<Input>,
}

/// A person submits a modal. Slack's own checks (required inputs, lengths) and the bot's
/// answer (`errors` under the inputs) come back for the page to show inline.
async fn submit(
    State(stage): Shared,
    Body(request): Body<SubmitRequest>,
) -> Result<Json<Value>, Refusal> {
    let user = person(&stage, &request.user)?;
    let mut values = Vec::with_capacity(request.values.len());
    for input in &request.values {
        let state = match input.kind.as_str() {
            "plain_text_input" => plain_text_value(&input.value),
            "datepicker" => datepicker_value(&input.value),
            other => {
                return Err(bad(format!(
                    "inputs of type {other:?} are not in the bot's modals"
                )));
            }
        };
        values.push((input.block_id.as_str(), input.action_id.as_str(), state));
    }
    let submitted = stage
        .world
        .slack
        .submit_view(&stage.bot_url, &user, &request.view_id, &values)
        .await;
    stage.changed();
    let answer = match submitted {
        Ok(submission) => match submission.outcome {
            ViewOutcome::Closed | ViewOutcome::ClearedAll => json!({ "outcome": "closed" }),
            ViewOutcome::Updated | ViewOutcome::Pushed(_) => json!({ "outcome": "updated" }),
            ViewOutcome::Errors(errors) => json!({ "outcome": "errors", "errors": errors }),
            ViewOutcome::Rejected(reason) => {
                json!({ "outcome": "rejected", "error": format!("Slack could not use the bot's answer: {reason}") })
            }
        },
        // What Slack's client checks before sending: shown under the input, as Slack does.
        Err(InteractionError::RequiredInputMissing(block)) => {
            json!({ "outcome": "errors", "errors": { block: "Please complete this required field." } })
        }
        Err(InteractionError::InvalidInput { block_id, reason }) => {
            json!({ "outcome": "errors", "errors": { block_id: format!("This field needs {reason}.") } })
        }
        Err(other) => return Err(other.into()),
    };
    Ok(Json(answer))
}

#[derive(Deserialize)]
struct CloseRequest {
    #[serde(rename = "as")]
    user: String,
    view_id: String,
}

/// A person dismisses their modal (Cancel or ×).
async fn close(
    State(stage): Shared,
    Body(request): Body<CloseRequest>,
) -> Result<Json<Value>, Refusal> {
    let user = person(&stage, &request.user)?;
    stage
        .world
        .slack
        .close_view(&stage.bot_url, &user, &request.view_id)
        .await?;
    stage.changed();
    Ok(Json(json!({ "outcome": "closed" })))
}

#[derive(Deserialize)]
struct CommandRequest {
    #[serde(rename = "as")]
    user: String,
    /// What follows `/scim`.
    text: String,
}

/// A person runs `/scim …` in the channel.
async fn command(
    State(stage): Shared,
    Body(request): Body<CommandRequest>,
) -> Result<Json<Value>, Refusal> {
    let user = person(&stage, &request.user)?;
    let ran = stage
        .world
        .slack
        .slash_command(&stage.bot_url, &user, CHANNEL, "/scim", request.text.trim())
        .await?;
    stage.changed();
    Ok(Json(
        json!({ "status": ran.reply.status, "reply_error": ran.reply_error }),
    ))
}

/// A person opens the app's Home tab: Slack sends `app_home_opened`.
async fn home(State(stage): Shared, Body(who): Body<As>) -> Result<Json<Value>, Refusal> {
    let user = person(&stage, &who.user)?;
    let slack = &stage.world.slack;
    let event = slack.event_callback(slack.app_home_opened(&user));
    let reply = slack.event(&stage.bot_url, &event, None).await?;
    stage.changed();
    Ok(Json(json!({ "status": reply.status })))
}

/// *Generate token*: the one time the secret is shown.
async fn generate_token(State(stage): Shared) -> Result<Json<Value>, Refusal> {
    let cloud = &stage.world.cloud;
    let token = cloud
        .aws
        .generate_token(&cloud.aws_tenant)
        .map_err(|e| Refusal(StatusCode::CONFLICT, e.to_string()))?;
    stage.changed();
    Ok(Json(json!({
        "id": token.id,
        "secret": token.secret,
        "created": token.created.to_rfc3339(),
        "expires": (token.created + Duration::days(scim_sandbox::aws::TOKEN_LIFETIME_DAYS)).to_rfc3339(),
    })))
}

async fn delete_token(State(stage): Shared, Path(id): Path<String>) -> Result<StatusCode, Refusal> {
    let cloud = &stage.world.cloud;
    cloud
        .aws
        .delete_token(&cloud.aws_tenant, &id)
        .map_err(|e| Refusal(StatusCode::NOT_FOUND, e.to_string()))?;
    stage.changed();
    Ok(StatusCode::NO_CONTENT)
}

/// The portal's *Test Connection* with what is saved.
async fn test_connection(State(stage): Shared) -> Json<Value> {
    Json(match stage.world.cloud.microsoft.test_saved_credentials() {
        Ok(()) => {
            json!({ "ok": true, "message": "The supplied credentials are authorized to enable provisioning." })
        }
        Err(reason) => json!({ "ok": false, "message": reason }),
    })
}

/// One provisioning cycle now, as Entra's scheduler runs every 40 minutes.
async fn provisioning_cycle(State(stage): Shared) -> Json<Value> {
    stage.world.cloud.microsoft.run_provisioning_cycle();
    stage.changed();
    Json(state::entra(&stage))
}

#[derive(Deserialize)]
struct JumpRequest {
    /// Move to this many days before the token in use expires …
    days_before_expiry: Option<i64>,
    /// … or this many hours ahead.
    hours: Option<i64>,
}

/// Moves the clock forward. Entra's provisioning ran in the meantime (one cycle is run, as
/// its 40-minute schedule would have); the bot's sweep runs when asked ([`sweep`]).
async fn jump(
    State(stage): Shared,
    Body(request): Body<JumpRequest>,
) -> Result<Json<Value>, Refusal> {
    // No await below: the guard is a plain mutex held across reading and moving the clock.
    let _jumping = stage
        .jumping
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let now = stage.clock_now();
    let by = match (request.days_before_expiry, request.hours) {
        (Some(days), None) => {
            if !(0..=365).contains(&days) {
                return Err(bad("days before expiry must be between 0 and 365"));
            }
            let expires = stage
                .engine
                .store()
                .current_token(CONNECTION)
                .ok()
                .flatten()
                .and_then(|t| t.expires_at)
                .ok_or_else(|| {
                    Refusal(
                        StatusCode::CONFLICT,
                        "the bot knows no expiry date for the token in use".into(),
                    )
                })?;
            // A minute early: the wall clock runs on while the person reads, and "3 days
            // before expiry" should read as 3 days left, not 2 days and 23:59 hours.
            let target = expires - Duration::days(days) - Duration::minutes(1);
            if target <= now {
                return Err(Refusal(
                    StatusCode::CONFLICT,
                    format!(
                        "it is already less than {days} days before expiry: time only moves forward"
                    ),
                ));
            }
            target - now
        }
        (None, Some(hours)) if (1..=MAX_JUMP_DAYS * 24).contains(&hours) => Duration::hours(hours),
        (None, Some(_)) => {
            return Err(bad(format!(
                "hours must be between 1 and {}",
                MAX_JUMP_DAYS * 24
            )));
        }
        _ => return Err(bad("give days_before_expiry or hours")),
    };
    if by > Duration::days(MAX_JUMP_DAYS) {
        return Err(bad(format!("one jump moves at most {MAX_JUMP_DAYS} days")));
    }
    stage.clock.jump(by);
    stage.world.cloud.microsoft.run_provisioning_cycle();
    stage.changed();
    Ok(Json(state::time(&stage)))
}

/// The bot's expiry sweep, now (it runs every `check_interval` in production).
async fn sweep(State(stage): Shared) -> Json<Value> {
    let report = stage.scheduler.sweep(stage.clock_now()).await;
    stage.changed();
    Json(json!({ "lines": report.lines() }))
}

/// The page's files, with their types.
pub(super) fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            // Another site must not frame the page and steer a visitor's clicks.
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
        ],
        body,
    )
        .into_response()
}
