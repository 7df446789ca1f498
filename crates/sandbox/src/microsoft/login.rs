//! The fake token endpoint: `POST /{tenant}/oauth2/v2.0/token`, client credentials grant,
//! with a client secret, a federated token or a certificate assertion.

use super::{Shared, assertion};
use crate::fault::{Injected, Route, lock};
use crate::random;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use chrono::Duration;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// Lifetime of an issued access token, as Entra usually grants (60 minutes, minus a second).
const ACCESS_TOKEN_SECONDS: i64 = 3599;
/// `client_assertion_type` for a JWT client assertion.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .fallback(|| async { login_error(404, "invalid_request", 900561, "No such endpoint.") })
}

async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    match shared.faults.take(Route::Login) {
        Some(Injected::Hang) => std::future::pending().await,
        Some(Injected::Status { code, retry_after }) => {
            let mut response =
                login_error(code, "temporarily_unavailable", 50196, "Injected fault.");
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            return response;
        }
        None => {}
    }
    let field = |name: &str| form.get(name).map(String::as_str);
    let now = shared.now();
    let mut state = lock(&shared.state);
    if tenant != state.tenant_id {
        return login_error(400, "invalid_request", 90002, "Tenant not found.");
    }
    if field("grant_type") != Some("client_credentials") {
        return login_error(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    if field("client_id") != Some(state.client_id.as_str()) {
        return login_error(
            400,
            "unauthorized_client",
            700016,
            "Application was not found in the directory.",
        );
    }
    let mut by_certificate = false;
    match (
        field("client_secret"),
        field("client_assertion_type"),
        field("client_assertion"),
    ) {
        (Some(secret), _, _) => {
            if state.client_secret.as_deref() != Some(secret) {
                return login_error(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided.",
                );
            }
        }
        (None, Some(JWT_BEARER), Some(jwt)) if assertion::names_certificate(jwt) => {
            let audience = format!("{}/{tenant}/oauth2/v2.0/token", state.login_origin);
            let uploaded = state.client_certificate.as_slice();
            if let Err(refusal) = assertion::verify(jwt, uploaded, &audience, &state.client_id) {
                return login_error(401, "invalid_client", refusal.aadsts, &refusal.description);
            }
            by_certificate = true;
        }
        (None, Some(JWT_BEARER), Some(assertion)) => {
            if state.federated_assertion.as_deref() != Some(assertion) {
                return login_error(
                    401,
                    "invalid_client",
                    700213,
                    "No matching federated identity record found for presented assertion.",
                );
            }
        }
        _ => {
            return login_error(
                400,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
        }
    }
    if field("scope") != Some(state.scope.as_str()) {
        return login_error(
            400,
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid.",
        );
    }
    if by_certificate {
        state.certificate_logins += 1;
    }
    let access_token = random::access_token();
    state.issued.insert(
        access_token.clone(),
        now + Duration::seconds(ACCESS_TOKEN_SECONDS),
    );
    Json(json!({
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_SECONDS,
        "ext_expires_in": ACCESS_TOKEN_SECONDS,
        "access_token": access_token,
    }))
    .into_response()
}

/// An error as the Microsoft identity platform sends it. Timestamps are the wall clock's,
/// like the real service's diagnostics; the model's clock only drives token lifetimes.
fn login_error(status: u16, error: &str, aadsts: u32, description: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let trace_id = random::uuid();
    let correlation_id = random::uuid();
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{aadsts}: {description} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {now}"
        ),
        "error_codes": [aadsts],
        "timestamp": now,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={aadsts}"),
    });
    (status, Json(body)).into_response()
}
