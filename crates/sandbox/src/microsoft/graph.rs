//! The fake Graph: service principals and the synchronization API of their jobs.

use super::job::Job;
use super::job::{JobStatus, RUN_ERROR_REJECTED, RUN_ERROR_UNREACHABLE};
use super::{AwsApp, Shared, State};
use crate::aws::ScimVerdict;
use crate::fault::{Injected, Route, lock};
use crate::random;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, MutexGuard};

/// Application template id of the AWS IAM Identity Center gallery app (the same in every tenant).
pub const AWS_APP_TEMPLATE_ID: &str = "21ed01d2-ec13-4e9e-86c1-cd546719ebc4";
/// `validateCredentials` codes: the target answered 401, or could not be reached (the same
/// codes a failed run records).
const CODE_VALIDATION_FAILURE: &str = RUN_ERROR_REJECTED;
const CODE_VALIDATION_UNAVAILABLE: &str = RUN_ERROR_UNREACHABLE;

/// Secret keys Graph knows (a subset of its enum). Names are case-sensitive: any other key,
/// such as `baseAddress`, makes Graph answer 500.
const KNOWN_SECRET_KEYS: &[&str] = &[
    "BaseAddress",
    "SecretToken",
    "SyncNotificationSettings",
    "SyncAll",
    "SkipOutOfScopeDeletions",
    "NotificationEmail",
];

type S = AxumState<Arc<Shared>>;

pub(super) fn router() -> Router<Arc<Shared>> {
    let jobs = "/v1.0/servicePrincipals/{sp}/synchronization/jobs";
    Router::new()
        .route("/v1.0/servicePrincipals", get(list_service_principals))
        .route(jobs, get(list_jobs))
        .route(&format!("{jobs}/{{job}}"), get(get_job))
        .route(
            &format!("{jobs}/{{job}}/validateCredentials"),
            post(validate_credentials),
        )
        .route(&format!("{jobs}/{{job}}/start"), post(start_job))
        .route(
            "/v1.0/servicePrincipals/{sp}/synchronization/secrets",
            get(get_secrets).put(put_secrets),
        )
        .fallback(|| async {
            graph_error(
                400,
                "BadRequest",
                "Resource not found for the segment.",
                None,
            )
        })
}

/// A Graph error answer; handlers return it with `?`.
struct GraphErr {
    status: u16,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl GraphErr {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        GraphErr {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl IntoResponse for GraphErr {
    fn into_response(self) -> Response {
        graph_error(self.status, self.code, &self.message, self.retry_after)
    }
}

type Answer = Result<Response, GraphErr>;

/// An error as Graph sends it, with a fresh `request-id` in the body and the header. The
/// `date` is the wall clock's, like the real service's diagnostics; the model's clock only
/// drives token and job state.
fn graph_error(status: u16, code: &str, message: &str, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let request_id = random::uuid();
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": request_id,
                "client-request-id": request_id,
            }
        }
    });
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        "request-id",
        HeaderValue::from_str(&request_id).expect("a UUID is a valid header value"),
    );
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The error code Graph uses for an injected status.
fn fault_code(status: u16) -> &'static str {
    match status {
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        500..=599 => "UnknownError",
        _ => "BadRequest",
    }
}

impl Shared {
    /// What every Graph call goes through, in order: an injected fault, the access token,
    /// the permission. Returns the locked state for the handler.
    async fn gate(
        &self,
        route: Route,
        headers: &HeaderMap,
    ) -> Result<MutexGuard<'_, State>, GraphErr> {
        match self.faults.take(route) {
            Some(Injected::Hang) => std::future::pending().await,
            Some(Injected::Status { code, retry_after }) => {
                return Err(GraphErr {
                    retry_after,
                    ..GraphErr::new(code, fault_code(code), "Injected fault.")
                });
            }
            None => {}
        }
        let now = self.now();
        let state = lock(&self.state);
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let valid = bearer
            .and_then(|token| state.issued.get(token))
            .is_some_and(|expires| now < *expires);
        if !valid {
            let message = if bearer.is_none() {
                "Access token is empty."
            } else {
                "Lifetime validation failed, the token is expired."
            };
            return Err(GraphErr::new(401, "InvalidAuthenticationToken", message));
        }
        if !state.permission_granted {
            return Err(GraphErr::new(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ));
        }
        Ok(state)
    }
}

fn app_index(state: &State, sp: &str) -> Result<usize, GraphErr> {
    state
        .apps
        .iter()
        .position(|a| a.service_principal_id == sp)
        .ok_or_else(|| {
            GraphErr::new(
                404,
                "Request_ResourceNotFound",
                format!("Resource '{sp}' does not exist or one of its queried reference-property objects are not present."),
            )
        })
}

fn job_of<'a>(state: &'a mut State, sp: &str, job: &str) -> Result<(usize, &'a mut Job), GraphErr> {
    let index = app_index(state, sp)?;
    let found = &mut state.apps[index].job;
    if found.id != job {
        return Err(GraphErr::new(
            404,
            "NotFound",
            "The synchronization job was not found.",
        ));
    }
    Ok((index, found))
}

fn parse_json(body: &[u8]) -> Result<Value, GraphErr> {
    serde_json::from_slice(body)
        .map_err(|_| GraphErr::new(400, "BadRequest", "The request body is not valid JSON."))
}

fn sp_json(app: &AwsApp) -> Value {
    json!({
        "id": app.service_principal_id,
        "appId": app.app_id,
        "displayName": app.display_name,
    })
}

async fn list_service_principals(
    AxumState(shared): S,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Answer {
    let state = shared.gate(Route::ListServicePrincipals, &headers).await?;
    let template = match query.get("$filter") {
        None => None,
        Some(filter) => Some(
            filter
                .trim()
                .strip_prefix("applicationTemplateId eq '")
                .and_then(|rest| rest.strip_suffix('\''))
                .ok_or_else(|| {
                    GraphErr::new(400, "Request_UnsupportedQuery", "Unsupported query.")
                })?,
        ),
    };
    // Every app in the model is an AWS IAM Identity Center app.
    let value: Vec<Value> = if template.is_none_or(|t| t == AWS_APP_TEMPLATE_ID) {
        state.apps.iter().map(sp_json).collect()
    } else {
        Vec::new()
    };
    Ok(Json(json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals(id,appId,displayName)",
        "value": value,
    }))
    .into_response())
}

async fn list_jobs(AxumState(shared): S, Path(sp): Path<String>, headers: HeaderMap) -> Answer {
    let state = shared.gate(Route::ListJobs, &headers).await?;
    let index = app_index(&state, &sp)?;
    Ok(Json(json!({ "value": [state.apps[index].job.to_json()] })).into_response())
}

async fn get_job(
    AxumState(shared): S,
    Path((sp, job)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    let mut state = shared.gate(Route::GetJob, &headers).await?;
    let (_, job) = job_of(&mut state, &sp, &job)?;
    Ok(Json(job.to_json()).into_response())
}

/// Reads `[{"key","value"}…]`, refusing unknown (or wrongly cased) keys with 500 as Graph does.
fn key_values(items: Option<&Value>) -> Result<Vec<(String, String)>, GraphErr> {
    let items = items
        .and_then(Value::as_array)
        .ok_or_else(|| GraphErr::new(400, "BadRequest", "The credentials are missing."))?;
    items
        .iter()
        .map(|item| {
            let key = item.get("key").and_then(Value::as_str).unwrap_or_default();
            let value = item
                .get("value")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if KNOWN_SECRET_KEYS.contains(&key) {
                Ok((key.to_owned(), value.to_owned()))
            } else {
                Err(GraphErr::new(
                    500,
                    "InternalServerError",
                    "An internal server error occurred.",
                ))
            }
        })
        .collect()
}

fn find<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

async fn validate_credentials(
    AxumState(shared): S,
    Path((sp, job)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let (reachable, credentials) = {
        let mut state = shared.gate(Route::ValidateCredentials, &headers).await?;
        let (index, _) = job_of(&mut state, &sp, &job)?;
        let body = parse_json(&body)?;
        let credentials = if body.get("useSavedCredentials").and_then(Value::as_bool) == Some(true)
        {
            state.apps[index].secrets.clone()
        } else {
            key_values(body.get("credentials"))?
        };
        (state.aws_reachable, credentials)
    };
    let (Some(base), Some(secret)) = (
        find(&credentials, "BaseAddress"),
        find(&credentials, "SecretToken"),
    ) else {
        return Err(GraphErr::new(
            400,
            "BadRequest",
            "BaseAddress and SecretToken are required.",
        ));
    };
    match shared.verdict(reachable, base, secret) {
        ScimVerdict::Accepted => Ok(StatusCode::NO_CONTENT.into_response()),
        ScimVerdict::Rejected => Err(GraphErr::new(
            400,
            CODE_VALIDATION_FAILURE,
            "The target application rejected the credentials (HTTP 401).",
        )),
        ScimVerdict::Unreachable => Err(GraphErr::new(
            400,
            CODE_VALIDATION_UNAVAILABLE,
            "Could not connect to the target application.",
        )),
    }
}

async fn put_secrets(
    AxumState(shared): S,
    Path(sp): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let mut state = shared.gate(Route::PutSecrets, &headers).await?;
    let index = app_index(&state, &sp)?;
    let pairs = key_values(parse_json(&body)?.get("value"))?;
    // Upserts only the keys sent (inferred from the Terraform azuread provider).
    let app = &mut state.apps[index];
    for (key, value) in &pairs {
        app.upsert(key, value);
    }
    if app.job.status == JobStatus::NotConfigured
        && app.secret("BaseAddress").is_some()
        && app.secret("SecretToken").is_some()
    {
        app.job.status = JobStatus::NotRun;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_secrets(AxumState(shared): S, Path(sp): Path<String>, headers: HeaderMap) -> Answer {
    let state = shared.gate(Route::GetSecrets, &headers).await?;
    let index = app_index(&state, &sp)?;
    // Values come back masked; the model masks every value, BaseAddress included.
    let value: Vec<Value> = state.apps[index]
        .secrets
        .iter()
        .map(|(key, _)| json!({"key": key, "value": "*"}))
        .collect();
    Ok(Json(json!({ "value": value })).into_response())
}

async fn start_job(
    AxumState(shared): S,
    Path((sp, job)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    let index = {
        let mut state = shared.gate(Route::StartJob, &headers).await?;
        let (index, found) = job_of(&mut state, &sp, &job)?;
        // Microsoft documents start for paused or quarantined jobs only; the model refuses
        // the others so that a client starting a running job is caught in tests (what real
        // Graph answers then is not documented).
        if !matches!(found.status, JobStatus::Paused | JobStatus::Quarantine) {
            return Err(GraphErr::new(
                400,
                "BadRequest",
                "Start the job only when it is paused or in quarantine.",
            ));
        }
        found.status = JobStatus::Active;
        found.quarantine = None;
        index
    };
    shared.run_cycle(index);
    Ok(StatusCode::NO_CONTENT.into_response())
}
