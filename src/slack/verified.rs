//! The axum extractor for a request Slack signed: a handler that takes a [`Verified`] reads
//! a body that passed, in this order, the body limit (413), Slack's v0 signature and its
//! 300 s window (401), the replay guard (401, or 503 when it is full) and the declared
//! content type (415). Every refusal is counted (`scim_rotator_refused_total`) and answered
//! with a one-line reason, never the body. The workspace/app identity is checked by the
//! handler once it has read the payload (it says where the request is from).
//!
//! The fast path: the body is read once into `Bytes`; the headers are moved out of the
//! request, not copied; the Slack endpoints are shared (`Arc`), not cloned per request.

use crate::server::{AppState, SlackEndpoints};
use crate::slack::inbound::{self, Refusal};
use crate::slack::signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::marker::PhantomData;
use std::sync::Arc;

/// What a Slack endpoint's body is declared as.
pub trait SlackBody {
    const CONTENT_TYPE: &'static str;
}

/// Interactivity payloads and slash commands: `application/x-www-form-urlencoded`.
pub struct Form;

/// Events API deliveries: `application/json`.
pub struct Json;

impl SlackBody for Form {
    const CONTENT_TYPE: &'static str = inbound::FORM;
}

impl SlackBody for Json {
    const CONTENT_TYPE: &'static str = inbound::JSON;
}

/// A request Slack signed, seen once, of the declared content type.
pub struct Verified<K> {
    pub slack: Arc<SlackEndpoints>,
    pub headers: HeaderMap,
    pub body: Bytes,
    kind: PhantomData<K>,
}

impl<K: SlackBody> FromRequest<AppState> for Verified<K> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let Some(slack) = state.slack.as_ref() else {
            return Err((StatusCode::NOT_FOUND, "not found").into_response());
        };
        let (mut parts, body) = request.into_parts();
        let headers = std::mem::take(&mut parts.headers);
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|rejection| {
                let reason = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    "too_large"
                } else {
                    "unreadable_body"
                };
                state
                    .metrics
                    .refused(reason, "a Slack request whose body could not be read");
                rejection.into_response()
            })?;
        check(state, slack, &headers, &body, K::CONTENT_TYPE)
            .map_err(IntoResponse::into_response)?;
        Ok(Verified {
            slack: Arc::clone(slack),
            headers,
            body,
            kind: PhantomData,
        })
    }
}

/// The signature (401), then the replay guard (401), then the content type (415).
fn check(
    state: &AppState,
    slack: &SlackEndpoints,
    headers: &HeaderMap,
    body: &[u8],
    content_type: &'static str,
) -> Result<(), Refusal> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = state.clock.now();
    if let Err(error) = signature::verify(
        &slack.signing_secret,
        header(SIGNATURE_HEADER),
        header(TIMESTAMP_HEADER),
        body,
        now,
    ) {
        state.metrics.refused("bad_signature", &error.to_string());
        return Err((
            StatusCode::UNAUTHORIZED,
            format!("invalid request signature: {error}"),
        ));
    }
    let timestamp = header(TIMESTAMP_HEADER)
        .and_then(|t| t.trim().parse::<i64>().ok())
        .unwrap_or_default();
    slack
        .guard
        .first_use(timestamp, header(SIGNATURE_HEADER).unwrap_or_default(), now)?;
    inbound::require_content_type(headers, content_type, &state.metrics)
}
