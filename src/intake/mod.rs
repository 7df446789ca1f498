//! The token's way around Slack: a one-time, masked web form served by the bot (`[intake]`).
//!
//! When a lead clicks *Enter new token* and `web_form` is on, the bot answers them with an
//! ephemeral message holding `{public_url}/intake/{code}`: a link bound to that lead and that
//! rotation, valid for `link_lifetime`, good for one submission ([`links`]). The page
//! ([`page`]) shows the rotation and a form whose token field is a password input; it posts
//! back to the same path with a per-page CSRF value. A submission goes through the engine's
//! [`Engine::submit_token`], the very call the modal makes, so the same checks run; the page
//! then follows them ([`routes`]) until the outcome the thread shows.
//!
//! Links live in memory only: a restart invalidates them (ask for a new one). Issue, use and
//! every refusal are audited. The token is parsed into a [`crate::secret::ScimToken`] the
//! moment the body is read and goes nowhere but the engine.

pub mod limiter;
pub mod links;
pub mod page;
mod routes;

pub use routes::routes;

use crate::audit::NewAuditRecord;
use crate::config::IntakeConfig;
use crate::engine::Engine;
use crate::rotation::{Rotation, RotationId, RotationState};
use crate::slack::approvers::ApproverDirectory;
use crate::slack::render::transcript;
use crate::store::StoreError;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::sync::{Arc, Mutex};
use url::Url;

/// What the bot says when it issued a link: the address to give the lead, and until when.
#[derive(Clone, Debug)]
pub struct IssuedLink {
    pub url: Url,
    pub expires_at: DateTime<Utc>,
}

/// The web form's state and what it needs from the rest of the bot.
pub struct Intake {
    engine: Arc<Engine>,
    approvers: Arc<ApproverDirectory>,
    public_url: Url,
    lifetime: Duration,
    slack_modal: bool,
    links: Mutex<links::Links>,
    limiter: Mutex<limiter::Limiter>,
}

impl Intake {
    /// `None` unless `config.web_form` is on.
    pub fn from_config(
        config: &IntakeConfig,
        engine: Arc<Engine>,
        approvers: Arc<ApproverDirectory>,
    ) -> Option<Arc<Intake>> {
        if !config.web_form {
            return None;
        }
        let public_url = config.public_url.clone()?;
        Some(Arc::new(Intake {
            engine,
            approvers,
            public_url,
            lifetime: Duration::from_std(config.link_lifetime).unwrap_or(Duration::minutes(10)),
            slack_modal: config.slack_modal,
            links: Mutex::new(links::Links::default()),
            limiter: Mutex::new(limiter::Limiter::default()),
        }))
    }

    /// Whether the Slack modal is offered too.
    pub fn slack_modal(&self) -> bool {
        self.slack_modal
    }

    fn now(&self) -> DateTime<Utc> {
        self.engine.now()
    }

    fn links(&self) -> std::sync::MutexGuard<'_, links::Links> {
        self.links.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, limiter::Limiter> {
        self.limiter.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the form is served over https (then HSTS is sent).
    fn https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// The path a browser sees for `code` (under `public_url`'s own path, if any).
    fn page_path(&self, code: &str) -> String {
        format!(
            "{}/intake/{code}",
            self.public_url.path().trim_end_matches('/')
        )
    }

    /// Issues a link for `rotation` to `lead` (an approver who clicked *Enter new token*),
    /// superseding any earlier link of that rotation. Audited before it is handed out.
    pub fn issue(&self, rotation: &Rotation, lead: &str) -> Result<IssuedLink, StoreError> {
        let now = self.now();
        let (code, link) = self.links().issue(rotation, lead, self.lifetime, now);
        let recorded = self.audit(
            lead,
            "intake_link_issued",
            Some(rotation),
            json!({ "link": link.label(), "to": lead, "expires_at": link.expires_at }),
        );
        if let Err(error) = recorded {
            // Not handed out, so it must not work either.
            self.links().finish_submission(&code, now);
            return Err(error);
        }
        tracing::info!(rotation = %rotation.id, link = %link.label(), "web form link issued");
        let mut url = self.public_url.clone();
        url.set_path(&self.page_path(&code));
        Ok(IssuedLink {
            url,
            expires_at: link.expires_at,
        })
    }

    fn audit(
        &self,
        actor: &str,
        action: &str,
        rotation: Option<&Rotation>,
        details: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.engine
            .store()
            .append_audit(&NewAuditRecord {
                at: self.now(),
                actor: actor.to_owned(),
                action: action.to_owned(),
                connection: rotation.map(|r| r.connection.clone()),
                rotation_id: rotation.map(|r| r.id.0),
                details,
            })
            .map(|_| ())
    }

    /// Records a refusal; a failure to record it is logged (the refusal stands either way).
    fn audit_refusal(
        &self,
        actor: &str,
        rotation: Option<&Rotation>,
        link: Option<&str>,
        reason: &str,
        client: Option<std::net::IpAddr>,
    ) {
        tracing::info!(
            rotation = ?rotation.map(|r| r.id.0),
            link,
            reason,
            "web form request refused"
        );
        let details = json!({
            "link": link,
            "reason": reason,
            "client": client.map(|c| c.to_string()),
        });
        if let Err(error) = self.audit(actor, "intake_link_refused", rotation, details) {
            tracing::error!(error = %error, "cannot record a web form refusal");
        }
    }

    fn rotation(&self, id: RotationId) -> Result<Option<Rotation>, StoreError> {
        self.engine.store().get_rotation(id)
    }

    /// How the checks on `rotation`'s token stand, in the thread's own words.
    fn progress(&self, rotation: &Rotation) -> page::Progress {
        let now = self.now();
        let message = crate::slack::render::checks_step(rotation, now);
        let text = plain(&transcript::to_text(&message.blocks));
        let (outcome, next) = match rotation.state {
            RotationState::Checking | RotationState::Saving | RotationState::Verifying => (
                "working",
                "Checking… this page updates itself.".to_owned(),
            ),
            RotationState::AwaitingOldTokenDeletion => (
                "succeeded",
                format!(
                    "Done here. Next, step 2 in the Slack thread: delete the old token{} in IAM Identity Center, then confirm it there.",
                    rotation
                        .old_token_id
                        .as_deref()
                        .map(|id| format!(" {id}"))
                        .unwrap_or_default()
                ),
            ),
            RotationState::Completed => ("succeeded", "The rotation is complete.".to_owned()),
            RotationState::AwaitingNewToken => (
                "failed",
                "This link is used up. To enter a token again, ask for a new link with *Enter new token* in the Slack thread."
                    .replace('*', ""),
            ),
            RotationState::NeedsAttention => (
                "failed",
                "See the Slack thread: a team lead can retry with a new token or cancel there."
                    .to_owned(),
            ),
            other => (
                "stopped",
                format!("The rotation is {}.", other.describe()),
            ),
        };
        page::Progress {
            outcome,
            text,
            next,
        }
    }
}

/// Slack mrkdwn as plain page text: emphasis, code and quote marks dropped, and the thread's
/// "step 1 above" said from the page's point of view.
fn plain(text: &str) -> String {
    text.replace(['*', '`'], "")
        .lines()
        .map(|line| line.strip_prefix("> ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("in step 1 above", "in step 1 of the Slack thread")
}
