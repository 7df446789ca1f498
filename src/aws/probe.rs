//! The AWS SCIM probe: does AWS accept this token at this SCIM endpoint?
//!
//! `GET {scim_url}/ServiceProviderConfig` is the cheapest authenticated SCIM call: it reads
//! nothing from the identity store and changes nothing.

use crate::outbound::{host_label, join, read_body};
use crate::retry::{
    Attempts, Failure, Retrier, RetryPolicy, Seconds, retry_after, transport_cause,
};
use crate::secret::ScimToken;
use reqwest::header::ACCEPT;
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

/// Longest `detail` from an AWS error body kept in an error text: one sentence, enough to
/// tell people what AWS said without pasting a whole body into Slack.
const MAX_DETAIL_CHARS: usize = 160;

/// Why AWS did not accept a token at a SCIM endpoint. The texts are shown to the approver.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// 401 `UnauthorizedException`: a wrong, deleted or expired token, or a wrong tenant id
    /// in the SCIM endpoint URL; AWS does not say which.
    #[error("AWS rejected this token (or the SCIM endpoint's tenant id is wrong)")]
    Unauthorized,
    /// 403 `AccessDeniedException`.
    #[error(
        "AWS denied access to the SCIM endpoint (HTTP 403){}: check that automatic provisioning is still enabled in IAM Identity Center",
        Detail(detail)
    )]
    AccessDenied { detail: Option<String> },
    /// 429 `ThrottlingException` until the retry budget was spent.
    #[error(
        "AWS is throttling the SCIM endpoint (HTTP 429, {}): try again in a few minutes", Attempts(*attempts)
    )]
    Throttled { attempts: u32 },
    /// 5xx until the retry budget was spent.
    #[error(
        "the AWS SCIM endpoint is failing (HTTP {status}, {}){}",
        Attempts(*attempts),
        Detail(detail)
    )]
    Failing {
        status: u16,
        attempts: u32,
        detail: Option<String>,
    },
    /// No answer within the request timeout, on every attempt.
    #[error(
        "the AWS SCIM endpoint did not answer within {} ({})",
        Seconds(*timeout),
        Attempts(*attempts)
    )]
    Timeout { timeout: Duration, attempts: u32 },
    /// The connection could not be made.
    #[error("cannot reach {host} ({cause}, {}): check the SCIM endpoint URL", Attempts(*attempts))]
    Unreachable {
        host: String,
        cause: String,
        attempts: u32,
    },
    /// Any other answer, such as 404 for a URL that is not a SCIM endpoint.
    #[error(
        "the AWS SCIM endpoint answered HTTP {status}{}: check the SCIM endpoint URL",
        Detail(detail)
    )]
    Unexpected { status: u16, detail: Option<String> },
}

/// Checks SCIM tokens against AWS, with retries.
#[derive(Clone, Debug)]
pub struct ScimProbe {
    http: reqwest::Client,
    policy: RetryPolicy,
}

impl ScimProbe {
    pub fn new(policy: RetryPolicy) -> Self {
        ScimProbe {
            http: crate::http::client(policy.request_timeout),
            policy,
        }
    }

    /// `GET {scim_url}/ServiceProviderConfig` with the token; passes on 200.
    #[tracing::instrument(skip_all, fields(host = %host_label(scim_url), fingerprint = %token.fingerprint()))]
    pub async fn check(&self, scim_url: &Url, token: &ScimToken) -> Result<(), ProbeError> {
        let url = join(scim_url, &["ServiceProviderConfig"]);
        let mut retrier = Retrier::new(&self.policy);
        let mut last_detail = None;
        let mut last_cause = String::new();
        loop {
            retrier.begin_attempt();
            let sent = Instant::now();
            let result = self
                .http
                .get(url.clone())
                .bearer_auth(token.expose())
                .header(ACCEPT, "application/scim+json, application/json")
                .send()
                .await;
            let failure = match result {
                Err(err) => {
                    last_cause = transport_cause(&err);
                    tracing::debug!(method = "GET", path = url.path(), error = %last_cause,
                        elapsed_ms = sent.elapsed().as_millis() as u64, "AWS SCIM request failed");
                    Failure::from_transport(&err)
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    tracing::debug!(
                        method = "GET",
                        path = url.path(),
                        status,
                        elapsed_ms = sent.elapsed().as_millis() as u64,
                        "AWS SCIM request"
                    );
                    if status == 200 {
                        // The status is the answer; the configuration itself is not needed.
                        return Ok(());
                    }
                    let wait = retry_after(response.headers());
                    let body = match read_body(response).await {
                        Ok(body) => body,
                        Err(err) => {
                            // The body broke off; the status alone still decides.
                            tracing::debug!(error = %transport_cause(&err), "AWS SCIM answer cut short");
                            Vec::new()
                        }
                    };
                    let detail = short_detail(&body, token);
                    match status {
                        401 => return Err(ProbeError::Unauthorized),
                        403 => return Err(ProbeError::AccessDenied { detail }),
                        _ => {}
                    }
                    let failure = Failure::Status {
                        status,
                        retry_after: wait,
                    };
                    if !failure.is_retryable() {
                        return Err(ProbeError::Unexpected { status, detail });
                    }
                    last_detail = detail;
                    failure
                }
            };
            if !retrier.wait_to_retry(failure).await {
                let attempts = retrier.attempts();
                return Err(match failure {
                    Failure::Status { status: 429, .. } => ProbeError::Throttled { attempts },
                    Failure::Status { status, .. } => ProbeError::Failing {
                        status,
                        attempts,
                        detail: last_detail,
                    },
                    Failure::Timeout => ProbeError::Timeout {
                        timeout: retrier.request_timeout(),
                        attempts,
                    },
                    Failure::Connect => ProbeError::Unreachable {
                        host: host_label(scim_url),
                        cause: last_cause,
                        attempts,
                    },
                });
            }
        }
    }
}

/// The `detail` (RFC 7644) or `message` of an AWS error body, cut to one short line, and
/// dropped if it somehow contains the token.
fn short_detail(body: &[u8], token: &ScimToken) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = value
        .get("detail")
        .or_else(|| value.get("message"))
        .or_else(|| value.get("Message"))?
        .as_str()?;
    let line = text.lines().next()?.trim();
    if line.is_empty() || line.contains(token.expose()) {
        return None;
    }
    let mut short: String = line.chars().take(MAX_DETAIL_CHARS).collect();
    if line.chars().count() > MAX_DETAIL_CHARS {
        short.push('…');
    }
    Some(short)
}

/// Formats an optional detail as `: detail`.
struct Detail<'a>(&'a Option<String>);

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(detail) => write!(f, ": {detail}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_is_read_from_a_scim_error_body_and_kept_short() {
        let token = ScimToken::parse("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789").unwrap();
        let body = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"403","detail":"Access denied.\nmore"}"#;
        assert_eq!(
            short_detail(body, &token).as_deref(),
            Some("Access denied.")
        );
        let long = format!(r#"{{"detail":"{}"}}"#, "x".repeat(500));
        let detail = short_detail(long.as_bytes(), &token).unwrap();
        assert_eq!(detail.chars().count(), MAX_DETAIL_CHARS + 1);
        assert_eq!(short_detail(b"<html>", &token), None);
    }

    #[test]
    fn a_detail_echoing_the_token_is_dropped() {
        let raw = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
        let token = ScimToken::parse(raw).unwrap();
        let body = format!(r#"{{"detail":"bad token {raw}"}}"#);
        assert_eq!(short_detail(body.as_bytes(), &token), None);
    }
}
