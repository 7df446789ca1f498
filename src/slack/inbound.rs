//! What every request from outside passes before the bot reads it: the declared content
//! type (415 otherwise), the replay guard (after the signature), and the workspace/app
//! identity. The HTTP handlers in `crate::server` call these in that order; the Socket Mode
//! callbacks use the identity alone (the socket is the app's own, nothing is signed).

use super::identity::{IdentityRefusal, Origin, WorkspaceIdentity};
use super::replay::{ReplayGuard, ReplayRefusal};
use axum::http::{HeaderMap, StatusCode, header};
use chrono::{DateTime, Utc};

/// A refusal: the status and the one-line reason sent as the body (`IntoResponse`).
pub type Refusal = (StatusCode, String);

/// Slack's interactivity payloads and slash commands.
pub const FORM: &str = "application/x-www-form-urlencoded";
/// Slack's Events API deliveries and EventBridge's API destinations.
pub const JSON: &str = "application/json";

/// The checks shared by the Slack endpoints.
pub struct InboundGuard {
    pub identity: WorkspaceIdentity,
    pub replay: ReplayGuard,
}

impl InboundGuard {
    pub fn new(identity: WorkspaceIdentity) -> Self {
        InboundGuard {
            identity,
            replay: ReplayGuard::default(),
        }
    }

    /// After the signature was verified: refuses a second use of the same signed request.
    pub fn first_use(
        &self,
        timestamp: i64,
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        self.replay
            .first_use(timestamp, signature, now)
            .map_err(|refusal| {
                let (reason, status) = match refusal {
                    ReplayRefusal::Replayed => ("replay", StatusCode::UNAUTHORIZED),
                    ReplayRefusal::Full => ("replay_guard_full", StatusCode::SERVICE_UNAVAILABLE),
                };
                crate::metrics::refusals().refused(reason, &refusal.to_string());
                (status, refusal.to_string())
            })
    }

    /// Refuses a request from another workspace, enterprise or app with a 403.
    pub fn admit(&self, origin: &Origin, kind: &'static str) -> Result<(), Refusal> {
        self.identity
            .admit(origin, kind)
            .map_err(|refusal: IdentityRefusal| (StatusCode::FORBIDDEN, refusal.to_string()))
    }
}

/// Whether the request declares `expected` as its media type (parameters such as
/// `charset` allowed, case-insensitive as RFC 9110 says); 415 with the expected type if not.
pub fn require_content_type(headers: &HeaderMap, expected: &str) -> Result<(), Refusal> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or_default().trim());
    match declared {
        Some(media) if media.eq_ignore_ascii_case(expected) => Ok(()),
        _ => Err({
            crate::metrics::refusals().refused("unsupported_media_type", expected);
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported content type: send Content-Type: {expected}"),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(content_type: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn only_the_declared_media_type_passes() {
        assert!(require_content_type(&with(Some(JSON)), JSON).is_ok());
        assert!(require_content_type(&with(Some("Application/JSON; charset=utf-8")), JSON).is_ok());
        assert!(require_content_type(&with(Some(FORM)), FORM).is_ok());
        for wrong in [
            Some("text/plain"),
            Some("application/jsonp"),
            Some(""),
            None,
        ] {
            let refused = require_content_type(&with(wrong), JSON).unwrap_err();
            assert_eq!(refused.0, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{wrong:?}");
        }
    }
}
