//! The Graph synchronization client: test, save and re-test the SCIM credentials of the AWS
//! IAM Identity Center enterprise app, and read and start its provisioning job.

use super::error::{
    CODE_VALIDATION_FAILURE, CODE_VALIDATION_UNAVAILABLE, GraphError, GraphErrorBody, LastFailure,
    Service,
};
use super::job::{JobList, SyncJob};
use super::login::TokenProvider;
use super::settings::GraphSettings;
use crate::outbound::{host_label, join, read_body};
use crate::retry::{Failure, Retrier, RetryPolicy, retry_after, transport_cause};
use crate::secret::ScimToken;
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;
use tracing::field::Empty;
use url::Url;

/// Application template id of the AWS IAM Identity Center gallery app (the same in every tenant).
pub const AWS_APP_TEMPLATE_ID: &str = "21ed01d2-ec13-4e9e-86c1-cd546719ebc4";
/// Synchronization job template id of that app; its job ids look like `aWSSingleSignon.<hex>.<guid>`.
pub const AWS_JOB_TEMPLATE_ID: &str = "aWSSingleSignon";

/// Calls Microsoft Graph for one connection. Every call retries per its [`RetryPolicy`].
#[derive(Debug)]
pub struct GraphClient {
    http: reqwest::Client,
    policy: RetryPolicy,
    /// `{graph_url}/v1.0`.
    base: Url,
    service_principal_id: Option<String>,
    sync_job_id: Option<String>,
    tokens: TokenProvider,
    /// The service principal and job ids once found. No lock is held while they are looked
    /// up: callers that find them missing at the same time each look (a few Graph reads), so
    /// a hung Graph or login never makes one caller wait behind another's attempts.
    ids: std::sync::Mutex<Option<(String, String)>>,
}

/// One secret of `PUT …/secrets` and `validateCredentials`. Key names are case-sensitive
/// enum names on Graph's side (`baseAddress` fails with 500).
#[derive(Serialize)]
struct KeyValue<'a> {
    key: &'static str,
    value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ValidateBody<'a> {
    use_saved_credentials: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    credentials: Option<[KeyValue<'a>; 2]>,
}

#[derive(Serialize)]
struct SecretsBody<'a> {
    value: [KeyValue<'a>; 2],
}

/// The AWS SCIM credentials: both keys always travel together, since re-enabling
/// provisioning in AWS changes the tenant URL too.
fn credentials<'a>(base_address: &'a str, token: &'a ScimToken) -> [KeyValue<'a>; 2] {
    [
        KeyValue {
            key: "BaseAddress",
            value: base_address,
        },
        KeyValue {
            key: "SecretToken",
            value: token.expose(),
        },
    ]
}

#[derive(Deserialize)]
struct ServicePrincipalList {
    #[serde(default)]
    value: Vec<ServicePrincipalEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServicePrincipalEntry {
    id: String,
    #[serde(default)]
    display_name: Option<String>,
}

impl GraphClient {
    pub fn new(settings: GraphSettings, policy: RetryPolicy) -> Self {
        let http = crate::http::client(policy.request_timeout);
        GraphClient {
            base: join(&settings.graph_url, &["v1.0"]),
            tokens: TokenProvider::new(http.clone(), &settings),
            http,
            policy,
            service_principal_id: settings.service_principal_id,
            sync_job_id: settings.sync_job_id,
            ids: std::sync::Mutex::new(None),
        }
    }

    /// Entra's Test Connection with a new token: passes only when Entra, calling AWS with
    /// it, got in (204).
    #[tracing::instrument(skip_all, fields(fingerprint = %token.fingerprint(), service_principal_id = Empty, job_id = Empty))]
    pub async fn validate_credentials(
        &self,
        base_address: &str,
        token: &ScimToken,
    ) -> Result<(), GraphError> {
        let body = ValidateBody {
            use_saved_credentials: false,
            credentials: Some(credentials(base_address, token)),
        };
        self.validate(&body).await
    }

    /// Entra's Test Connection with the credentials it has saved (204 passes).
    #[tracing::instrument(skip_all, fields(service_principal_id = Empty, job_id = Empty))]
    pub async fn validate_saved_credentials(&self) -> Result<(), GraphError> {
        let body = ValidateBody {
            use_saved_credentials: true,
            credentials: None,
        };
        self.validate(&body).await
    }

    async fn validate(&self, body: &ValidateBody<'_>) -> Result<(), GraphError> {
        let (sp, job) = self.ids().await?;
        let url = join(
            &self.base,
            &[
                "servicePrincipals",
                &sp,
                "synchronization",
                "jobs",
                &job,
                "validateCredentials",
            ],
        );
        let body = to_body(body);
        self.call(Method::POST, url, Some(&body), 204, job_what(&sp, &job))
            .await
            .map(drop)
    }

    /// Saves the credentials on the enterprise app (`PUT …/synchronization/secrets`, 204).
    #[tracing::instrument(skip_all, fields(fingerprint = %token.fingerprint(), service_principal_id = Empty, job_id = Empty))]
    pub async fn save_credentials(
        &self,
        base_address: &str,
        token: &ScimToken,
    ) -> Result<(), GraphError> {
        let (sp, _) = self.ids().await?;
        let url = join(
            &self.base,
            &["servicePrincipals", &sp, "synchronization", "secrets"],
        );
        let body = to_body(&SecretsBody {
            value: credentials(base_address, token),
        });
        self.call(Method::PUT, url, Some(&body), 204, sp_what(&sp))
            .await
            .map(drop)
    }

    /// Reads the provisioning job.
    #[tracing::instrument(skip_all, fields(service_principal_id = Empty, job_id = Empty))]
    pub async fn get_job(&self) -> Result<SyncJob, GraphError> {
        let (sp, job) = self.ids().await?;
        let url = join(
            &self.base,
            &["servicePrincipals", &sp, "synchronization", "jobs", &job],
        );
        let body = self
            .call(Method::GET, url, None, 200, job_what(&sp, &job))
            .await?;
        SyncJob::from_json(&body).map_err(|err| unreadable("job", &err))
    }

    /// Starts the provisioning job. Microsoft asks to call this only on a paused or
    /// quarantined job (see [`super::JobStatus::can_start`]); a quarantine is cleared.
    #[tracing::instrument(skip_all, fields(service_principal_id = Empty, job_id = Empty))]
    pub async fn start_job(&self) -> Result<(), GraphError> {
        let (sp, job) = self.ids().await?;
        let url = join(
            &self.base,
            &[
                "servicePrincipals",
                &sp,
                "synchronization",
                "jobs",
                &job,
                "start",
            ],
        );
        self.call(Method::POST, url, None, 204, job_what(&sp, &job))
            .await
            .map(drop)
    }

    /// (service principal id, job id): the configured ones, else found once and remembered.
    /// The service principal is the tenant's only AWS IAM Identity Center app; the job is its
    /// `aWSSingleSignon` job, or its only job.
    #[tracing::instrument(skip_all, fields(graph = %host_label(&self.base)))]
    pub async fn discover(&self) -> Result<(String, String), GraphError> {
        let known = self.ids.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(ids) = known {
            return Ok(ids);
        }
        let found = self.find_ids().await?;
        *self.ids.lock().unwrap_or_else(|e| e.into_inner()) = Some(found.clone());
        Ok(found)
    }

    /// [`Self::discover`], recording the ids on the caller's span.
    async fn ids(&self) -> Result<(String, String), GraphError> {
        let (sp, job) = self.discover().await?;
        let span = tracing::Span::current();
        span.record("service_principal_id", sp.as_str());
        span.record("job_id", job.as_str());
        Ok((sp, job))
    }

    async fn find_ids(&self) -> Result<(String, String), GraphError> {
        let sp = match &self.service_principal_id {
            Some(id) => id.clone(),
            None => self.find_service_principal().await?,
        };
        let job = match &self.sync_job_id {
            Some(id) => id.clone(),
            None => self.find_job(&sp).await?,
        };
        if self.service_principal_id.is_none() || self.sync_job_id.is_none() {
            tracing::info!(service_principal_id = %sp, job_id = %job, "found the provisioning job");
        }
        Ok((sp, job))
    }

    async fn find_service_principal(&self) -> Result<String, GraphError> {
        let mut url = join(&self.base, &["servicePrincipals"]);
        // Spaces as %20, not `+`: OData reads a literal `+` in $filter as a plus sign.
        url.set_query(Some(&format!(
            "$filter=applicationTemplateId%20eq%20'{AWS_APP_TEMPLATE_ID}'&$select=id,appId,displayName"
        )));
        let body = self
            .call(Method::GET, url, None, 200, "service principals".to_owned())
            .await?;
        let list: ServicePrincipalList =
            serde_json::from_slice(&body).map_err(|err| unreadable("service principals", &err))?;
        match list.value.as_slice() {
            [] => Err(GraphError::NoServicePrincipal),
            [only] => Ok(only.id.clone()),
            several => Err(GraphError::SeveralServicePrincipals {
                apps: several
                    .iter()
                    .map(|sp| match &sp.display_name {
                        Some(name) => format!("{name} ({})", sp.id),
                        None => sp.id.clone(),
                    })
                    .collect(),
            }),
        }
    }

    async fn find_job(&self, sp: &str) -> Result<String, GraphError> {
        let url = join(
            &self.base,
            &["servicePrincipals", sp, "synchronization", "jobs"],
        );
        let body = self.call(Method::GET, url, None, 200, sp_what(sp)).await?;
        let list: JobList =
            serde_json::from_slice(&body).map_err(|err| unreadable("job list", &err))?;
        let aws: Vec<&str> = list
            .value
            .iter()
            .filter(|job| job.template_id.as_deref() == Some(AWS_JOB_TEMPLATE_ID))
            .map(|job| job.id.as_str())
            .collect();
        let all: Vec<&str> = list.value.iter().map(|job| job.id.as_str()).collect();
        match (aws.as_slice(), all.as_slice()) {
            ([id], _) | ([], [id]) => Ok((*id).to_owned()),
            _ => Err(GraphError::NoSyncJob {
                service_principal_id: sp.to_owned(),
                job_ids: all.iter().map(|id| (*id).to_owned()).collect(),
            }),
        }
    }

    /// Sends one Graph request until it gets `expect` or gives up, and returns the body;
    /// counted in the metrics, with its error kind when it fails.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&SecretSlice<u8>>,
        expect: u16,
        what: String,
    ) -> Result<Vec<u8>, GraphError> {
        let result = self
            .call_with_retries(method, url, body, expect, what)
            .await;
        crate::metrics::global().graph_call(result.as_ref().err().map(GraphError::kind));
        result
    }

    /// [`Self::call`] without the counting. A 401 is answered once by logging in again (the
    /// cached token may have been revoked).
    async fn call_with_retries(
        &self,
        method: Method,
        url: Url,
        body: Option<&SecretSlice<u8>>,
        expect: u16,
        what: String,
    ) -> Result<Vec<u8>, GraphError> {
        let mut retrier = Retrier::new(&self.policy);
        let mut logged_in_again = false;
        loop {
            let token = self.tokens.token(&retrier).await?;
            retrier.begin_attempt();
            let (failure, last) = match self.send(&method, &url, body, &token).await {
                Err(err) => LastFailure::from_transport(&err),
                Ok(reply) => match judge(reply, expect, &what, !logged_in_again) {
                    Outcome::Done(answer) => return Ok(answer),
                    Outcome::Final(err) => return Err(err),
                    Outcome::LoginAgain => {
                        tracing::debug!("Graph refused the access token; logging in again");
                        self.tokens.forget(&token).await;
                        logged_in_again = true;
                        continue;
                    }
                    Outcome::Retry(failure, last) => (failure, last),
                },
            };
            if !retrier.wait_to_retry(failure).await {
                return Err(self.gave_up(last, &retrier));
            }
        }
    }

    /// One attempt: the request, and the whole answer.
    async fn send(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&SecretSlice<u8>>,
        token: &SecretString,
    ) -> Result<Reply, reqwest::Error> {
        let sent = Instant::now();
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(token.expose_secret())
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.expose_secret().to_vec());
        }
        let log = |status: Option<u16>, error: Option<&reqwest::Error>| {
            tracing::debug!(
                method = %method,
                path = url.path(),
                status,
                error = error.map(transport_cause),
                elapsed_ms = sent.elapsed().as_millis() as u64,
                "Graph request"
            );
        };
        let response = request
            .send()
            .await
            .inspect_err(|err| log(None, Some(err)))?;
        let status = response.status().as_u16();
        let request_id = request_id_header(response.headers());
        let wait = retry_after(response.headers());
        let body = read_body(response).await;
        log(Some(status), body.as_ref().err());
        Ok(Reply {
            status,
            body: body?,
            request_id,
            retry_after: wait,
        })
    }

    fn gave_up(&self, last: LastFailure, retrier: &Retrier) -> GraphError {
        last.into_error(
            Service::Graph,
            retrier.attempts(),
            retrier.request_timeout(),
            host_label(&self.base),
        )
    }
}

/// A Graph answer, read whole.
struct Reply {
    status: u16,
    body: Vec<u8>,
    /// The `request-id` header.
    request_id: Option<String>,
    retry_after: Option<Duration>,
}

/// What one answer means for the call.
#[derive(Debug)]
enum Outcome {
    /// The expected status: here is the body.
    Done(Vec<u8>),
    /// Stop with this error.
    Final(GraphError),
    /// 401: forget the access token and try once more with a new one.
    LoginAgain,
    /// Worth another attempt, if the budget allows.
    Retry(Failure, LastFailure),
}

/// Judges one answer to a call expecting `expect`; `what` names the object for a 404.
/// Pure: the policy of [`GraphClient::call`] without the network.
fn judge(reply: Reply, expect: u16, what: &str, may_login_again: bool) -> Outcome {
    let Reply {
        status,
        body,
        request_id: header_request_id,
        retry_after,
    } = reply;
    if status == expect {
        return Outcome::Done(body);
    }
    let parsed = GraphErrorBody::parse(&body);
    let request_id = parsed.request_id.or(header_request_id);
    let code = parsed.code;
    // Test Connection results are final whatever status they come with (it is undocumented).
    match code.as_deref() {
        Some(CODE_VALIDATION_FAILURE) => {
            return Outcome::Final(GraphError::TestConnectionFailed { request_id });
        }
        Some(CODE_VALIDATION_UNAVAILABLE) => {
            return Outcome::Final(GraphError::TargetUnreachable { request_id });
        }
        _ => {}
    }
    let code_or = |fallback: &str| code.clone().unwrap_or_else(|| fallback.to_owned());
    let error = match status {
        401 if may_login_again => return Outcome::LoginAgain,
        401 => GraphError::NotAuthenticated {
            service: Service::Graph,
            code: code_or("HTTP 401"),
            request_id,
        },
        403 => GraphError::PermissionDenied {
            code: code_or("HTTP 403"),
            request_id,
        },
        404 => GraphError::NotFound {
            what: what.to_owned(),
            request_id,
        },
        200..=299 => GraphError::UnexpectedAnswer {
            service: Service::Graph,
            detail: format!("HTTP {status} where {expect} was expected"),
        },
        _ => {
            let failure = Failure::Status {
                status,
                retry_after,
            };
            if failure.is_retryable() {
                let last = LastFailure::Answer {
                    status,
                    code,
                    request_id,
                };
                return Outcome::Retry(failure, last);
            }
            GraphError::Rejected {
                service: Service::Graph,
                status,
                code,
                request_id,
            }
        }
    };
    Outcome::Final(error)
}

/// Graph's `request-id` response header (the same id as in an error body's `innerError`).
fn request_id_header(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("request-id")?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// A request body holding a token, wiped from memory when dropped.
fn to_body<T: Serialize>(body: &T) -> SecretSlice<u8> {
    SecretSlice::from(
        serde_json::to_vec(body).expect("a struct of strings and bools always serializes"),
    )
}

fn job_what(sp: &str, job: &str) -> String {
    format!(
        "synchronization job {job} on service principal {sp}: check service_principal_id and sync_job_id"
    )
}

fn sp_what(sp: &str) -> String {
    format!("service principal {sp}: check service_principal_id")
}

fn unreadable(what: &str, err: &serde_json::Error) -> GraphError {
    GraphError::UnexpectedAnswer {
        service: Service::Graph,
        detail: format!(
            "unreadable {what} (line {}, column {})",
            err.line(),
            err.column()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.as_bytes().to_vec(),
            request_id: Some("from-header".to_owned()),
            retry_after: None,
        }
    }

    fn graph_body(code: &str) -> String {
        format!(
            r#"{{"error":{{"code":"{code}","message":"m","innerError":{{"request-id":"from-body"}}}}}}"#
        )
    }

    #[test]
    fn test_connection_codes_are_final_whatever_the_status() {
        for status in [400, 409, 500] {
            let outcome = judge(
                reply(status, &graph_body(CODE_VALIDATION_FAILURE)),
                204,
                "job",
                true,
            );
            assert!(
                matches!(&outcome, Outcome::Final(GraphError::TestConnectionFailed { request_id: Some(id) }) if id == "from-body"),
                "{status}: {outcome:?}"
            );
        }
        let outcome = judge(
            reply(400, &graph_body(CODE_VALIDATION_UNAVAILABLE)),
            204,
            "job",
            true,
        );
        assert!(matches!(
            outcome,
            Outcome::Final(GraphError::TargetUnreachable { .. })
        ));
    }

    #[test]
    fn a_401_logs_in_again_once() {
        let body = graph_body("InvalidAuthenticationToken");
        assert!(matches!(
            judge(reply(401, &body), 200, "job", true),
            Outcome::LoginAgain
        ));
        assert!(matches!(
            judge(reply(401, &body), 200, "job", false),
            Outcome::Final(GraphError::NotAuthenticated {
                service: Service::Graph,
                ..
            })
        ));
    }

    #[test]
    fn server_errors_are_retried_and_client_errors_are_not() {
        assert!(matches!(
            judge(reply(503, "<html>"), 200, "job", true),
            Outcome::Retry(..)
        ));
        assert!(matches!(
            judge(reply(429, ""), 200, "job", true),
            Outcome::Retry(..)
        ));
        let outcome = judge(reply(409, &graph_body("Conflict")), 200, "job", true);
        assert!(matches!(
            outcome,
            Outcome::Final(GraphError::Rejected { status: 409, .. })
        ));
    }

    #[test]
    fn the_body_request_id_wins_over_the_header() {
        let Outcome::Final(err) = judge(reply(404, &graph_body("NotFound")), 200, "job j", true)
        else {
            panic!()
        };
        assert_eq!(
            err.to_string(),
            "Microsoft Graph found no job j (request-id from-body)"
        );
        let Outcome::Final(err) = judge(reply(404, ""), 200, "job j", true) else {
            panic!()
        };
        assert_eq!(
            err.to_string(),
            "Microsoft Graph found no job j (request-id from-header)"
        );
    }

    #[test]
    fn a_success_other_than_the_documented_one_is_not_trusted() {
        assert!(matches!(
            judge(reply(204, ""), 204, "job", true),
            Outcome::Done(_)
        ));
        assert!(matches!(
            judge(reply(200, "{}"), 204, "job", true),
            Outcome::Final(GraphError::UnexpectedAnswer { .. })
        ));
    }

    #[test]
    fn bodies_use_graphs_exact_key_names() {
        let token = ScimToken::parse("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789").unwrap();
        let body = to_body(&ValidateBody {
            use_saved_credentials: false,
            credentials: Some(credentials("https://scim.example/t/scim/v2", &token)),
        });
        assert_eq!(
            std::str::from_utf8(body.expose_secret()).unwrap(),
            r#"{"useSavedCredentials":false,"credentials":[{"key":"BaseAddress","value":"https://scim.example/t/scim/v2"},{"key":"SecretToken","value":"AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"}]}"#
        );
        let saved = to_body(&ValidateBody {
            use_saved_credentials: true,
            credentials: None,
        });
        assert_eq!(
            std::str::from_utf8(saved.expose_secret()).unwrap(),
            r#"{"useSavedCredentials":true}"#
        );
        let secrets = to_body(&SecretsBody {
            value: credentials("https://b", &token),
        });
        assert!(
            std::str::from_utf8(secrets.expose_secret())
                .unwrap()
                .starts_with(
                    r#"{"value":[{"key":"BaseAddress","value":"https://b"},{"key":"SecretToken""#
                )
        );
    }
}
