//! Access tokens for Graph from the Microsoft identity platform (client credentials grant),
//! cached until shortly before they expire.
//!
//! Single flight, no lock across the network: concurrent callers share one in-flight login
//! *attempt* (a shared future); the state's mutex is held only to look at the cache or the
//! attempt, never across a request, a retry or a sleep. Each caller runs its own retries
//! within its own budget, so a hung login costs every caller at most its own bounded wait:
//! a caller that joins an attempt already under way waits only for what is left of it. A
//! login that does not answer within the request timeout is not tried again: the caller is
//! told at once that Microsoft login is not answering.

use super::error::{GraphError, LastFailure, LoginErrorBody, Service};
use super::settings::{AzureCredential, GraphSettings};
use crate::outbound::{host_label, join, read_body};
use crate::retry::{Failure, Retrier, retry_after, transport_cause};
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;
use url::Url;

/// Renew a cached token this long before it expires. A call that begins with a nearly
/// expired token could see it refused halfway through its retries; tokens live 60–90
/// minutes, so giving up five of them costs one extra login an hour.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// `client_assertion_type` for a JWT client assertion (RFC 7523), used with federated tokens
/// and certificates.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Fetches and caches Graph access tokens for one app registration.
pub(crate) struct TokenProvider {
    login: Arc<Login>,
    state: Mutex<LoginState>,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("client_id", &self.login.client_id)
            .finish_non_exhaustive()
    }
}

/// How to log in (one attempt at a time).
struct Login {
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    credential: AzureCredential,
    scope: String,
}

#[derive(Default)]
struct LoginState {
    cached: Option<Cached>,
    /// The attempt under way, shared by every caller that needs a token meanwhile.
    attempt: Option<InFlight>,
    /// Numbers the attempts, so a caller only clears the one it waited for.
    started: u64,
}

struct InFlight {
    number: u64,
    future: Shared<BoxFuture<'static, Attempt>>,
}

/// What one login attempt came to.
#[derive(Clone)]
enum Attempt {
    Token(SecretString, Duration),
    /// Final: retrying cannot help (a refusal, an unreadable answer, no credential).
    Final(GraphError),
    /// May be retried (by each caller, within its own budget).
    Failed(Failure, LastFailure),
}

struct Cached {
    token: SecretString,
    refresh_at: Instant,
}

/// What the app presents at login, read fresh for each login.
enum Proof {
    Secret(SecretString),
    Assertion(SecretString),
}

/// The token endpoint's success body. `expires_in` is a number on v2.0 (a string on v1.0).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: SecretString,
    #[serde(default)]
    expires_in: serde_json::Value,
}

impl TokenProvider {
    pub fn new(http: reqwest::Client, settings: &GraphSettings) -> Self {
        TokenProvider {
            login: Arc::new(Login {
                http,
                token_url: join(
                    &settings.login_url,
                    &[&settings.tenant_id, "oauth2", "v2.0", "token"],
                ),
                client_id: settings.client_id.clone(),
                credential: settings.credential.clone(),
                scope: scope_for(&settings.graph_url),
            }),
            state: Mutex::new(LoginState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LoginState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A usable access token: the cached one, or a new one. Concurrent callers share one
    /// login attempt; each retries on its own, within `retrier`'s budget.
    pub async fn token(&self, retrier: &Retrier) -> Result<SecretString, GraphError> {
        let mut retrier = retrier.sharing_budget();
        loop {
            let (number, attempt) = {
                let mut state = self.state();
                if let Some(cached) = state
                    .cached
                    .as_ref()
                    .filter(|c| Instant::now() < c.refresh_at)
                {
                    return Ok(cached.token.clone());
                }
                match &state.attempt {
                    Some(in_flight) => (in_flight.number, in_flight.future.clone()),
                    None => {
                        state.started += 1;
                        let number = state.started;
                        let future = Arc::clone(&self.login).attempt().boxed().shared();
                        state.attempt = Some(InFlight {
                            number,
                            future: future.clone(),
                        });
                        (number, future)
                    }
                }
            };
            retrier.begin_attempt();
            let result = attempt.await;
            {
                let mut state = self.state();
                if state.attempt.as_ref().is_some_and(|a| a.number == number) {
                    state.attempt = None;
                    if let Attempt::Token(token, lifetime) = &result {
                        state.cached = Some(Cached {
                            token: token.clone(),
                            refresh_at: Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN),
                        });
                    }
                }
            }
            let (failure, last) = match result {
                Attempt::Token(token, _) => return Ok(token),
                Attempt::Final(error) => return Err(error),
                Attempt::Failed(failure, last) => (failure, last),
            };
            // A login that does not answer would cost another full timeout per retry, and
            // the person waiting is better told now.
            if failure == Failure::Timeout || !retrier.wait_to_retry(failure).await {
                return Err(last.into_error(
                    Service::Login,
                    retrier.attempts(),
                    retrier.request_timeout(),
                    host_label(&self.login.token_url),
                ));
            }
        }
    }

    /// Forgets `stale` after Graph refused it, unless another call has already replaced it.
    pub async fn forget(&self, stale: &SecretString) {
        let mut state = self.state();
        if state
            .cached
            .as_ref()
            .is_some_and(|c| c.token.expose_secret() == stale.expose_secret())
        {
            state.cached = None;
        }
    }
}

impl Login {
    async fn proof(&self) -> Result<Proof, GraphError> {
        match &self.credential {
            AzureCredential::ClientSecret(secret) => Ok(Proof::Secret(secret.clone())),
            AzureCredential::FederatedTokenFile(path) => {
                let unreadable = |cause: String| GraphError::CredentialFile {
                    path: path.clone(),
                    cause,
                };
                // A small file, read off the async threads (tokio's `fs` feature is not enabled).
                let owned = path.clone();
                let text = tokio::task::spawn_blocking(move || std::fs::read_to_string(owned))
                    .await
                    .map_err(|_| unreadable("the read was interrupted".to_owned()))?
                    .map_err(|err| unreadable(err.kind().to_string()))?;
                let text = SecretString::from(text);
                let assertion = text.expose_secret().trim();
                if assertion.is_empty() {
                    return Err(unreadable("the file is empty".to_owned()));
                }
                Ok(Proof::Assertion(SecretString::from(assertion)))
            }
            // Signed with the system's time, not the injected clock: Microsoft checks `nbf`
            // and `exp` against its own.
            AzureCredential::ClientCertificate(certificate) => certificate
                .assertion(self.token_url.as_str(), &self.client_id, SystemTime::now())
                .map(Proof::Assertion)
                .map_err(|_| GraphError::AssertionSigning),
        }
    }

    /// One login attempt (no retries: each caller decides for itself).
    #[tracing::instrument(skip_all, fields(client_id = %self.client_id))]
    async fn attempt(self: Arc<Self>) -> Attempt {
        let proof = match self.proof().await {
            Ok(proof) => proof,
            Err(error) => return Attempt::Final(error),
        };
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            ("grant_type", "client_credentials"),
            ("scope", self.scope.as_str()),
        ];
        match &proof {
            Proof::Secret(secret) => form.push(("client_secret", secret.expose_secret())),
            Proof::Assertion(assertion) => {
                form.push(("client_assertion_type", JWT_BEARER));
                form.push(("client_assertion", assertion.expose_secret()));
            }
        }
        match self.send(&form).await {
            Err(err) => {
                let (failure, last) = LastFailure::from_transport(&err);
                Attempt::Failed(failure, last)
            }
            Ok(reply) if reply.status == 200 => match parse_answer(&reply.body) {
                Ok((token, lifetime)) => Attempt::Token(token, lifetime),
                Err(error) => Attempt::Final(error),
            },
            Ok(reply) => {
                let parsed = LoginErrorBody::parse(&reply.body);
                let failure = Failure::Status {
                    status: reply.status,
                    retry_after: reply.retry_after,
                };
                if !failure.is_retryable() {
                    return Attempt::Final(GraphError::NotAuthenticated {
                        service: Service::Login,
                        code: parsed
                            .code
                            .unwrap_or_else(|| format!("HTTP {}", reply.status)),
                        request_id: parsed.correlation_id,
                    });
                }
                Attempt::Failed(
                    failure,
                    LastFailure::Answer {
                        status: reply.status,
                        code: parsed.code,
                        request_id: parsed.correlation_id,
                    },
                )
            }
        }
    }

    /// One attempt: the form posted, and the whole answer.
    async fn send(&self, form: &[(&str, &str)]) -> Result<LoginReply, reqwest::Error> {
        let sent = Instant::now();
        let log = |status: Option<u16>, error: Option<&reqwest::Error>| {
            tracing::debug!(
                method = "POST",
                path = self.token_url.path(),
                status,
                error = error.map(transport_cause),
                elapsed_ms = sent.elapsed().as_millis() as u64,
                "login request"
            );
        };
        let response = self
            .http
            .post(self.token_url.clone())
            .form(form)
            .send()
            .await
            .inspect_err(|err| log(None, Some(err)))?;
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let body = read_body(response).await;
        log(Some(status), body.as_ref().err());
        Ok(LoginReply {
            status,
            body: body?,
            retry_after,
        })
    }
}

/// The token endpoint's answer, read whole.
struct LoginReply {
    status: u16,
    body: Vec<u8>,
    retry_after: Option<Duration>,
}

/// `{graph origin}/.default`: all the application permissions granted on that Graph.
fn scope_for(graph_url: &Url) -> String {
    format!("{}/.default", graph_url.origin().ascii_serialization())
}

fn parse_answer(body: &[u8]) -> Result<(SecretString, Duration), GraphError> {
    let answer: TokenAnswer =
        serde_json::from_slice(body).map_err(|err| GraphError::UnexpectedAnswer {
            service: Service::Login,
            detail: format!("unreadable token answer ({})", err.classify_name()),
        })?;
    let seconds = match &answer.expires_in {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    };
    // Without a lifetime the token is used for this call only.
    let lifetime = Duration::from_secs(seconds.unwrap_or(0));
    Ok((answer.access_token, lifetime))
}

/// The name of a JSON error's category, never its text (which may quote the input).
trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "missing or mistyped field",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_is_the_graph_origin_with_default() {
        let url = Url::parse("https://graph.microsoft.com/").unwrap();
        assert_eq!(scope_for(&url), "https://graph.microsoft.com/.default");
        let url = Url::parse("https://microsoftgraph.chinacloudapi.cn/v1.0").unwrap();
        assert_eq!(
            scope_for(&url),
            "https://microsoftgraph.chinacloudapi.cn/.default"
        );
        let url = Url::parse("http://127.0.0.1:4567").unwrap();
        assert_eq!(scope_for(&url), "http://127.0.0.1:4567/.default");
    }

    #[test]
    fn token_answer_lifetime_may_be_a_number_or_a_string() {
        let (_, lifetime) =
            parse_answer(br#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ.x.y"}"#)
                .unwrap();
        assert_eq!(lifetime, Duration::from_secs(3599));
        let (_, lifetime) =
            parse_answer(br#"{"expires_in":"3600","access_token":"eyJ.x.y"}"#).unwrap();
        assert_eq!(lifetime, Duration::from_secs(3600));
    }

    #[test]
    fn an_unreadable_answer_does_not_quote_it() {
        let err = parse_answer(br#"{"access_token": 12, "secret":"eyJ.SECRET"}"#).unwrap_err();
        assert!(!err.to_string().contains("SECRET"));
    }
}
