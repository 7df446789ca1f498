//! A model of AWS IAM Identity Center's SCIM endpoint and its access tokens.
//!
//! Each identity-store tenant holds at most two live access tokens, valid 365 days from
//! creation, generated and deleted only "in the console" (the methods here). The HTTP side
//! serves `GET /{tenant}/scim/v2/ServiceProviderConfig`, the bot's probe.

use super::fault::{self, Faults, Injected, Recorded, RequestLog, Route, lock};
use super::random;
use super::server::Server;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, Utc};
use scim_domain::clock::SharedClock;
use scim_domain::secret::{Fingerprint, fingerprint_of};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use url::Url;

/// How long an AWS SCIM access token is valid.
pub const TOKEN_LIFETIME_DAYS: i64 = 365;
/// Most live (not deleted) tokens a directory holds.
pub const MAX_LIVE_TOKENS: usize = 2;

/// The fake AWS side. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeAws {
    shared: Arc<Shared>,
    server: Arc<Server>,
}

struct Shared {
    clock: SharedClock,
    state: Mutex<HashMap<String, Tenant>>,
    faults: Faults,
    log: RequestLog,
}

struct Tenant {
    region: String,
    tokens: Vec<StoredToken>,
}

struct StoredToken {
    id: String,
    /// SHA-256 of the secret: the model compares, it never needs the value back.
    digest: [u8; 32],
    created: DateTime<Utc>,
    deleted: Option<DateTime<Utc>>,
}

/// A token as the console shows it once, at creation.
#[derive(Clone)]
pub struct GeneratedToken {
    pub id: String,
    /// The secret to paste into Entra (or the bot's modal).
    pub secret: String,
    pub created: DateTime<Utc>,
}

impl GeneratedToken {
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint_of(&self.secret)
    }
}

impl fmt::Debug for GeneratedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedToken")
            .field("id", &self.id)
            .field("fingerprint", &self.fingerprint())
            .field("created", &self.created)
            .finish()
    }
}

/// A token as the console lists it (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: String,
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    pub deleted: Option<DateTime<Utc>>,
}

/// Why a console action failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FakeError {
    #[error("no identity store tenant {0}")]
    UnknownTenant(String),
    #[error("no access token {0}")]
    UnknownToken(String),
    /// The console's refusal when two tokens exist.
    #[error(
        "An IAM Identity Center directory supports up to two access tokens at a time. To generate a new access token, delete an expired or unused one."
    )]
    TooManyTokens,
}

/// What AWS would answer Entra's Test Connection with a base address and a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScimVerdict {
    Accepted,
    /// AWS answers 401 (bad, deleted or expired token, or unknown tenant).
    Rejected,
    /// The base address is not this fake's SCIM endpoint.
    Unreachable,
}

impl FakeAws {
    /// Starts the fake's server on a loopback port.
    pub async fn start(clock: SharedClock) -> FakeAws {
        let shared = Arc::new(Shared {
            log: RequestLog::new(clock.clone()),
            clock,
            state: Mutex::default(),
            faults: Faults::default(),
        });
        let router = Router::new()
            .route(
                "/{tenant}/scim/v2/ServiceProviderConfig",
                get(service_provider_config),
            )
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(
                shared.log.clone(),
                RequestLog::record,
            ))
            .with_state(shared.clone());
        let server = Arc::new(Server::start(router).await);
        FakeAws { shared, server }
    }

    /// Creates an identity store with automatic provisioning enabled; returns its tenant id.
    pub fn add_tenant(&self, region: &str) -> String {
        let tenant_id = format!("{}-{}", random::alphanumeric(11), random::uuid());
        lock(&self.shared.state).insert(
            tenant_id.clone(),
            Tenant {
                region: region.to_owned(),
                tokens: Vec::new(),
            },
        );
        tenant_id
    }

    /// The region a tenant was created in.
    pub fn region(&self, tenant: &str) -> Option<String> {
        lock(&self.shared.state)
            .get(tenant)
            .map(|t| t.region.clone())
    }

    /// "Generate token" in the console, now.
    pub fn generate_token(&self, tenant: &str) -> Result<GeneratedToken, FakeError> {
        self.generate_token_created_at(tenant, self.shared.clock.now())
    }

    /// "Generate token", as if it had been done at `created` (to set up aging tokens).
    pub fn generate_token_created_at(
        &self,
        tenant: &str,
        created: DateTime<Utc>,
    ) -> Result<GeneratedToken, FakeError> {
        let mut state = lock(&self.shared.state);
        let entry = state
            .get_mut(tenant)
            .ok_or_else(|| FakeError::UnknownTenant(tenant.to_owned()))?;
        if entry.tokens.iter().filter(|t| t.deleted.is_none()).count() >= MAX_LIVE_TOKENS {
            return Err(FakeError::TooManyTokens);
        }
        let token = GeneratedToken {
            id: random::uuid(),
            secret: random::scim_token(),
            created,
        };
        entry.tokens.push(StoredToken {
            id: token.id.clone(),
            digest: digest(&token.secret),
            created,
            deleted: None,
        });
        Ok(token)
    }

    /// "Delete" in the console.
    pub fn delete_token(&self, tenant: &str, token_id: &str) -> Result<(), FakeError> {
        let now = self.shared.clock.now();
        let mut state = lock(&self.shared.state);
        let entry = state
            .get_mut(tenant)
            .ok_or_else(|| FakeError::UnknownTenant(tenant.to_owned()))?;
        let token = entry
            .tokens
            .iter_mut()
            .find(|t| t.id == token_id && t.deleted.is_none())
            .ok_or_else(|| FakeError::UnknownToken(token_id.to_owned()))?;
        token.deleted = Some(now);
        Ok(())
    }

    /// Every token of a tenant ever generated, deleted ones included (empty for an unknown tenant).
    pub fn tokens(&self, tenant: &str) -> Vec<TokenInfo> {
        lock(&self.shared.state)
            .get(tenant)
            .map(|entry| {
                entry
                    .tokens
                    .iter()
                    .map(|t| TokenInfo {
                        id: t.id.clone(),
                        created: t.created,
                        expires: expiry(t.created),
                        deleted: t.deleted,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `http://127.0.0.1:PORT/{tenant}/scim/v2`, the tenant's SCIM endpoint (Entra's `BaseAddress`).
    pub fn scim_url(&self, tenant: &str) -> Url {
        let mut url = self.server.url();
        url.set_path(&format!("/{tenant}/scim/v2"));
        url
    }

    /// Whether AWS accepts `secret` for `tenant` at `now`: it exists, is not deleted, and
    /// `now` is before its creation + 365 days.
    pub fn is_valid(&self, tenant: &str, secret: &str, now: DateTime<Utc>) -> bool {
        self.shared.is_valid(tenant, secret, now)
    }

    /// Faults to inject on the SCIM endpoint.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.log.all()
    }

    /// How many requests with `method` had a path ending with `path_suffix`.
    pub fn count(&self, method: &str, path_suffix: &str) -> usize {
        fault::count(&self.requests(), method, path_suffix)
    }

    /// What this AWS would answer Entra calling `base_address` with `secret` now. Models
    /// Entra's side of Test Connection and provisioning runs (no HTTP request, no log entry).
    pub(crate) fn verdict(&self, base_address: &str, secret: &str) -> ScimVerdict {
        let Ok(url) = Url::parse(base_address.trim()) else {
            return ScimVerdict::Unreachable;
        };
        let ours = self.server.url();
        if url.origin() != ours.origin() {
            return ScimVerdict::Unreachable;
        }
        let segments: Vec<&str> = url
            .path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).collect())
            .unwrap_or_default();
        match segments.as_slice() {
            [tenant, "scim", "v2"] => {
                if self.is_valid(tenant, secret, self.shared.clock.now()) {
                    ScimVerdict::Accepted
                } else {
                    ScimVerdict::Rejected
                }
            }
            _ => ScimVerdict::Unreachable,
        }
    }
}

impl Shared {
    fn is_valid(&self, tenant: &str, secret: &str, now: DateTime<Utc>) -> bool {
        let wanted = digest(secret);
        lock(&self.state).get(tenant).is_some_and(|entry| {
            entry
                .tokens
                .iter()
                .any(|t| t.digest == wanted && t.deleted.is_none() && now < expiry(t.created))
        })
    }
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn expiry(created: DateTime<Utc>) -> DateTime<Utc> {
    created + Duration::days(TOKEN_LIFETIME_DAYS)
}

async fn service_provider_config(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    match shared.faults.take(Route::ScimServiceProviderConfig) {
        Some(Injected::Hang) => std::future::pending().await,
        Some(Injected::Status { code, retry_after }) => {
            return scim_error(code, retry_after, "Injected fault.");
        }
        None => {}
    }
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match secret {
        Some(secret) if shared.is_valid(&tenant, secret, shared.clock.now()) => (
            [(header::CONTENT_TYPE, "application/scim+json")],
            axum::Json(service_provider_config_body()),
        )
            .into_response(),
        _ => scim_error(401, None, "Unauthorized"),
    }
}

async fn not_found() -> Response {
    scim_error(404, None, "Resource not found.")
}

/// An error as AWS's SCIM endpoint presumably sends it (RFC 7644 error body; the
/// `x-amzn-ErrorType` header names the exception).
fn scim_error(code: u16, retry_after: Option<u64>, detail: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let error_type = match code {
        401 => "UnauthorizedException",
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        429 => "ThrottlingException",
        _ => "InternalServerException",
    };
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": code.to_string(),
        "detail": detail,
    });
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert("x-amzn-ErrorType", HeaderValue::from_static(error_type));
    headers.insert(
        "x-amzn-RequestId",
        HeaderValue::from_str(&random::uuid()).expect("a UUID is a valid header value"),
    );
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn service_provider_config_body() -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://docs.aws.amazon.com/singlesignon/latest/userguide/provision-automatically.html",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 1, "maxPayloadSize": 1048576},
        "filter": {"supported": true, "maxResults": 50},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication scheme using the OAuth Bearer Token Standard",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true
        }]
    })
}
