//! What can go wrong talking to Microsoft login and Graph, in words an operator can act on.
//!
//! Graph errors are classified by the `error.code` of the body (and the status), never by
//! `error.message`, whose wording Microsoft changes. No variant holds a token or a body.

use crate::retry::{Attempts, Failure, Seconds, transport_cause};
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// `validateCredentials`: the target (AWS) answered 401 to Entra's Test Connection.
pub const CODE_VALIDATION_FAILURE: &str =
    "SystemForCrossDomainIdentityManagementCredentialValidationFailure";
/// `validateCredentials`: Entra could not reach the target.
pub const CODE_VALIDATION_UNAVAILABLE: &str = "CredentialValidationUnavailable";

/// Which Microsoft endpoint answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// The token endpoint of the Microsoft identity platform.
    Login,
    /// Microsoft Graph.
    Graph,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Login => "Microsoft login",
            Service::Graph => "Microsoft Graph",
        })
    }
}

/// Why a call to Microsoft login or Graph failed. The texts are shown to operators; where
/// Graph gave a `request-id`, it is included (Microsoft support asks for it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Login refused the app registration's credentials, or Graph refused the access token.
    #[error(
        "{service} refused the bot's app registration credentials ({code}{}){}",
        Hint(code),
        RequestId(request_id)
    )]
    NotAuthenticated {
        service: Service,
        /// `AADSTS…` from login, the Graph error code from Graph.
        code: String,
        request_id: Option<String>,
    },
    /// 403 from Graph.
    #[error(
        "the bot's app registration lacks permission: grant Application.ReadWrite.OwnedBy (and make the app an owner of the AWS IAM Identity Center enterprise app) or Synchronization.ReadWrite.All ({code}){}",
        RequestId(request_id)
    )]
    PermissionDenied {
        code: String,
        request_id: Option<String>,
    },
    /// `validateCredentials`: AWS answered Entra's test with 401.
    #[error(
        "Entra's Test Connection failed: AWS rejected the token{}",
        RequestId(request_id)
    )]
    TestConnectionFailed { request_id: Option<String> },
    /// `validateCredentials`: Entra could not reach the SCIM endpoint.
    #[error(
        "Entra could not reach the AWS SCIM endpoint: check the SCIM endpoint URL (Tenant URL){}",
        RequestId(request_id)
    )]
    TargetUnreachable { request_id: Option<String> },
    /// 404 from Graph.
    #[error("Microsoft Graph found no {what}{}", RequestId(request_id))]
    NotFound {
        /// The object asked for, with its id.
        what: String,
        request_id: Option<String>,
    },
    /// 429 until the retry budget was spent.
    #[error(
        "{service} kept throttling the bot (HTTP 429) through {}: try again in a few minutes{}",
        Attempts(*attempts),
        RequestId(request_id)
    )]
    Throttled {
        service: Service,
        attempts: u32,
        request_id: Option<String>,
    },
    /// 5xx until the retry budget was spent.
    #[error(
        "{service} kept failing (last answer HTTP {status}{}) through {}{}",
        Code(code),
        Attempts(*attempts),
        RequestId(request_id)
    )]
    Unavailable {
        service: Service,
        status: u16,
        code: Option<String>,
        attempts: u32,
        request_id: Option<String>,
    },
    /// No answer within the request timeout, until the retry budget was spent.
    #[error("{}", NotAnswering(*service, *timeout, *attempts))]
    Timeout {
        service: Service,
        timeout: Duration,
        attempts: u32,
    },
    /// The connection could not be made, until the retry budget was spent.
    #[error("cannot reach {service} at {host} ({cause}, {})", Attempts(*attempts))]
    Unreachable {
        service: Service,
        host: String,
        cause: String,
        attempts: u32,
    },
    /// Any other refusal (a 4xx not covered above).
    #[error(
        "{service} refused the request (HTTP {status}{}){}",
        Code(code),
        RequestId(request_id)
    )]
    Rejected {
        service: Service,
        status: u16,
        code: Option<String>,
        request_id: Option<String>,
    },
    /// A success status other than the one the API documents, or a body that cannot be read.
    #[error("{service} gave an answer the bot does not understand: {detail}")]
    UnexpectedAnswer { service: Service, detail: String },
    /// Several AWS IAM Identity Center apps in the tenant: discovery cannot choose.
    #[error(
        "this tenant has several AWS IAM Identity Center enterprise apps ({}): set service_principal_id in the connection's config",
        apps.join(", ")
    )]
    SeveralServicePrincipals {
        /// `displayName (id)` of each.
        apps: Vec<String>,
    },
    /// No AWS IAM Identity Center app visible to the bot.
    #[error(
        "found no AWS IAM Identity Center enterprise app in this tenant: make the bot's app registration an owner of it, or set service_principal_id"
    )]
    NoServicePrincipal,
    /// The app has no (single) provisioning job.
    #[error(
        "found no AWS IAM Identity Center provisioning job on service principal {service_principal_id}{}: set sync_job_id in the connection's config",
        if job_ids.is_empty() { String::new() } else { format!(" (jobs: {})", job_ids.join(", ")) }
    )]
    NoSyncJob {
        service_principal_id: String,
        job_ids: Vec<String>,
    },
    /// The federated token file (workload identity) could not be read.
    #[error("cannot read the federated token file {}: {cause}", path.display())]
    CredentialFile { path: PathBuf, cause: String },
    /// The client assertion could not be signed with the certificate's private key.
    #[error("cannot sign the client assertion with azure_client_certificate's private key")]
    AssertionSigning,
}

impl GraphError {
    /// A short, stable name for the kind of failure (metrics labels, logs).
    pub fn kind(&self) -> &'static str {
        match self {
            GraphError::NotAuthenticated {
                service: Service::Login,
                ..
            } => "login_refused",
            GraphError::NotAuthenticated { .. } => "not_authenticated",
            GraphError::PermissionDenied { .. } => "permission_denied",
            GraphError::TestConnectionFailed { .. } => "test_connection_failed",
            GraphError::TargetUnreachable { .. } => "target_unreachable",
            GraphError::NotFound { .. } => "not_found",
            GraphError::Throttled { .. } => "throttled",
            GraphError::Unavailable { .. } => "unavailable",
            GraphError::Timeout { .. } => "timeout",
            GraphError::Unreachable { .. } => "unreachable",
            GraphError::Rejected { .. } => "rejected",
            GraphError::UnexpectedAnswer { .. } => "unexpected_answer",
            GraphError::SeveralServicePrincipals { .. } => "several_service_principals",
            GraphError::NoServicePrincipal => "no_service_principal",
            GraphError::NoSyncJob { .. } => "no_sync_job",
            GraphError::CredentialFile { .. } => "credential_file",
            GraphError::AssertionSigning => "assertion_signing",
        }
    }
}

/// "Microsoft login is not answering: no answer within 20 s (1 attempt)"; Graph keeps its
/// plain wording.
struct NotAnswering(Service, Duration, u32);

impl fmt::Display for NotAnswering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let NotAnswering(service, timeout, attempts) = *self;
        match service {
            Service::Login => write!(
                f,
                "Microsoft login is not answering: no answer within {} ({})",
                Seconds(timeout),
                Attempts(attempts)
            ),
            Service::Graph => write!(
                f,
                "{service} did not answer within {} ({})",
                Seconds(timeout),
                Attempts(attempts)
            ),
        }
    }
}

/// The last failed attempt of a call, kept to explain why the call gave up.
#[derive(Clone, Debug)]
pub(crate) enum LastFailure {
    /// An answer with an unwanted, retryable status.
    Answer {
        status: u16,
        code: Option<String>,
        request_id: Option<String>,
    },
    Timeout,
    Transport {
        cause: String,
    },
}

impl LastFailure {
    /// A transport error, as the retry policy and the final error text see it.
    pub fn from_transport(err: &reqwest::Error) -> (Failure, LastFailure) {
        let failure = Failure::from_transport(err);
        let last = match failure {
            Failure::Timeout => LastFailure::Timeout,
            _ => LastFailure::Transport {
                cause: transport_cause(err),
            },
        };
        (failure, last)
    }

    /// The error for a call that stopped retrying after `attempts` attempts.
    pub fn into_error(
        self,
        service: Service,
        attempts: u32,
        timeout: Duration,
        host: String,
    ) -> GraphError {
        match self {
            LastFailure::Answer {
                status: 429,
                request_id,
                ..
            } => GraphError::Throttled {
                service,
                attempts,
                request_id,
            },
            LastFailure::Answer {
                status,
                code,
                request_id,
            } => GraphError::Unavailable {
                service,
                status,
                code,
                attempts,
                request_id,
            },
            LastFailure::Timeout => GraphError::Timeout {
                service,
                timeout,
                attempts,
            },
            LastFailure::Transport { cause } => GraphError::Unreachable {
                service,
                host,
                cause,
                attempts,
            },
        }
    }
}

/// An error code or request id as it may be shown to people: letters, digits and `-_.:`,
/// at most 100 characters. Anything else (an echoed request, a token) is dropped: these
/// fields end up in Slack messages and the audit log.
fn identifier(text: String) -> Option<String> {
    /// Longer than any Graph error code or request id.
    const MAX_IDENTIFIER: usize = 100;
    let plausible = !text.is_empty()
        && text.len() <= MAX_IDENTIFIER
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    plausible.then_some(text)
}

/// Graph's error body: `{"error":{"code","message","innerError":{"request-id",…}}}`.
#[derive(Debug, Default)]
pub(crate) struct GraphErrorBody {
    pub code: Option<String>,
    pub request_id: Option<String>,
}

impl GraphErrorBody {
    /// Reads what we use from an error body; anything unreadable yields empty fields.
    pub fn parse(body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Outer {
            error: Inner,
        }
        #[derive(Deserialize)]
        struct Inner {
            code: Option<String>,
            #[serde(rename = "innerError", alias = "innererror")]
            inner_error: Option<InnerError>,
        }
        #[derive(Deserialize)]
        struct InnerError {
            #[serde(rename = "request-id")]
            request_id: Option<String>,
        }
        match serde_json::from_slice::<Outer>(body) {
            Ok(outer) => GraphErrorBody {
                code: outer.error.code.and_then(identifier),
                request_id: outer
                    .error
                    .inner_error
                    .and_then(|i| i.request_id)
                    .and_then(identifier),
            },
            Err(_) => GraphErrorBody::default(),
        }
    }
}

/// The login endpoint's error body: `{"error","error_description","error_codes":[…],"correlation_id",…}`.
#[derive(Debug, Default)]
pub(crate) struct LoginErrorBody {
    /// `AADSTS<n>` from `error_codes`, else the OAuth `error` string.
    pub code: Option<String>,
    pub correlation_id: Option<String>,
}

impl LoginErrorBody {
    pub fn parse(body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Raw {
            error: Option<String>,
            #[serde(default)]
            error_codes: Vec<u64>,
            correlation_id: Option<String>,
        }
        match serde_json::from_slice::<Raw>(body) {
            Ok(raw) => LoginErrorBody {
                code: raw
                    .error_codes
                    .first()
                    .map(|n| format!("AADSTS{n}"))
                    .or(raw.error.and_then(identifier)),
                correlation_id: raw.correlation_id.and_then(identifier),
            },
            Err(_) => LoginErrorBody::default(),
        }
    }
}

/// What a well-known `AADSTS` code means, for the operator who must fix it.
fn login_hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "AADSTS7000215" => "invalid client secret: use the secret's value, not its id",
        "AADSTS7000222" => "the client secret has expired",
        "AADSTS700016" => "no such application in this tenant: check azure_client_id",
        "AADSTS90002" | "AADSTS900023" => "no such tenant: check azure_tenant_id",
        "AADSTS700211" | "AADSTS700212" | "AADSTS700213" => {
            "the federated token was not accepted: check the app's federated credential"
        }
        "AADSTS700024" => {
            "the client assertion is outside its valid time range: check the system clock, or that the federated token file is fresh"
        }
        "AADSTS700027" => {
            "the certificate was not accepted: upload it (its public part) to the app registration under Certificates & secrets, or check azure_client_certificate"
        }
        "AADSTS700021" => "the client assertion's issuer is not azure_client_id",
        "AADSTS7000218" => "neither a client secret nor a client assertion was sent",
        "AADSTS70011" | "AADSTS1002012" => "invalid scope: check graph_url",
        _ => return None,
    })
}

/// Formats the hint for a login code as `: hint`.
struct Hint<'a>(&'a str);

impl fmt::Display for Hint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match login_hint(self.0) {
            Some(hint) => write!(f, ": {hint}"),
            None => Ok(()),
        }
    }
}

/// Formats an optional request id as ` (request-id …)`.
struct RequestId<'a>(&'a Option<String>);

impl fmt::Display for RequestId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, " (request-id {id})"),
            None => Ok(()),
        }
    }
}

/// Formats an optional error code as ` code`.
struct Code<'a>(&'a Option<String>);

impl fmt::Display for Code<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(code) => write!(f, " {code}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_error_body_yields_code_and_request_id() {
        let body = br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2027-03-01T10:00:00","request-id":"3f1c","client-request-id":"3f1c"}}}"#;
        let parsed = GraphErrorBody::parse(body);
        assert_eq!(parsed.code.as_deref(), Some("Authorization_RequestDenied"));
        assert_eq!(parsed.request_id.as_deref(), Some("3f1c"));
        let nothing = GraphErrorBody::parse(b"<html>Bad gateway</html>");
        assert!(nothing.code.is_none() && nothing.request_id.is_none());
    }

    #[test]
    fn login_error_body_yields_the_aadsts_code() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215],"trace_id":"t","correlation_id":"c-1"}"#;
        let parsed = LoginErrorBody::parse(body);
        assert_eq!(parsed.code.as_deref(), Some("AADSTS7000215"));
        assert_eq!(parsed.correlation_id.as_deref(), Some("c-1"));
    }

    #[test]
    fn texts_read_well() {
        let err = GraphError::NotAuthenticated {
            service: Service::Login,
            code: "AADSTS7000215".to_owned(),
            request_id: Some("c-1".to_owned()),
        };
        assert_eq!(
            err.to_string(),
            "Microsoft login refused the bot's app registration credentials (AADSTS7000215: invalid client secret: use the secret's value, not its id) (request-id c-1)"
        );
        let err = GraphError::Unavailable {
            service: Service::Graph,
            status: 503,
            code: Some("ServiceUnavailable".to_owned()),
            attempts: 4,
            request_id: None,
        };
        assert_eq!(
            err.to_string(),
            "Microsoft Graph kept failing (last answer HTTP 503 ServiceUnavailable) through 4 attempts"
        );
    }
}
