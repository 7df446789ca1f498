//! Whose requests the bot answers: the one workspace (`team_id`, and `enterprise_id` on an
//! Enterprise Grid) and the one Slack app (`api_app_id`) it was installed as.
//!
//! A correctly signed request proves only that it came from *a* Slack app sharing the
//! signing secret, or that someone holds that secret; a payload from another workspace or
//! app must still change nothing. The identity is learned at start-up from `auth.test`
//! (team, enterprise) and `bots.info` (the bot's app), unless `slack.app_id` is configured.
//! Every interaction, slash command and event is checked by [`WorkspaceIdentity::check`]
//! before it is parsed further: over HTTP a refusal is a 403 with the reason, over Socket
//! Mode the envelope is acked and ignored; both are counted in
//! `scim_rotator_requests_refused_total{reason}` (`other_team`, `other_enterprise`,
//! `other_app`).
//!
//! Over Socket Mode the connection itself is opened with this app's `xapp-` token, so the
//! app is known; slack-morphism's models keep `team.id` / `team_id` (checked) and, for
//! clicks and events, `api_app_id` (checked), but not `enterprise`.

use super::api::{SlackApi, SlackApiError};
use crate::metrics::Metrics;
use serde_json::{Value, json};
use slack_morphism::prelude::*;

/// The workspace and app the bot belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkspaceIdentity {
    pub team_id: String,
    /// Present on an Enterprise Grid install; `None` means a payload naming an enterprise
    /// comes from elsewhere.
    pub enterprise_id: Option<String>,
    pub app_id: String,
}

/// Where a request says it comes from. `None` fields were absent from the payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub team_id: Option<String>,
    pub enterprise_id: Option<String>,
    pub api_app_id: Option<String>,
    /// Whether the transport's payloads always carry `api_app_id` (HTTP: Slack sends it
    /// with every interaction, command and event), so its absence is itself suspicious.
    pub app_id_required: bool,
}

/// Why a request was refused. The text goes to the 403 body and the log; it names the ids
/// (not secrets) so that an operator can tell a misrouted app from an attack.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityRefusal {
    #[error("request names no workspace (team_id)")]
    NoTeam,
    #[error("request is from workspace {0}, not this bot's workspace")]
    OtherTeam(String),
    #[error("request is from enterprise {0}, not this bot's enterprise")]
    OtherEnterprise(String),
    #[error("request names no app (api_app_id)")]
    NoApp,
    #[error("request is for app {0}, not this bot's app")]
    OtherApp(String),
}

impl IdentityRefusal {
    /// The metrics label.
    pub fn reason(&self) -> &'static str {
        match self {
            IdentityRefusal::NoTeam | IdentityRefusal::OtherTeam(_) => "other_team",
            IdentityRefusal::OtherEnterprise(_) => "other_enterprise",
            IdentityRefusal::NoApp | IdentityRefusal::OtherApp(_) => "other_app",
        }
    }
}

/// Slack ids are short upper-case alphanumerics; anything else is shown as `(unreadable)`
/// so that a refusal never echoes arbitrary bytes into a log line.
pub(crate) fn shown(id: &str) -> String {
    if !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        id.to_owned()
    } else {
        "(unreadable)".to_owned()
    }
}

impl WorkspaceIdentity {
    /// Whether a request from `origin` is for this bot.
    pub fn check(&self, origin: &Origin) -> Result<(), IdentityRefusal> {
        match origin.team_id.as_deref() {
            None => return Err(IdentityRefusal::NoTeam),
            Some(team) if team != self.team_id => {
                return Err(IdentityRefusal::OtherTeam(shown(team)));
            }
            Some(_) => {}
        }
        if let Some(enterprise) = origin.enterprise_id.as_deref() {
            if self.enterprise_id.as_deref() != Some(enterprise) {
                return Err(IdentityRefusal::OtherEnterprise(shown(enterprise)));
            }
        }
        match origin.api_app_id.as_deref() {
            None if origin.app_id_required => Err(IdentityRefusal::NoApp),
            Some(app) if app != self.app_id => Err(IdentityRefusal::OtherApp(shown(app))),
            _ => Ok(()),
        }
    }

    /// Checks and, on refusal, logs it and counts it in `metrics`.
    pub fn admit(
        &self,
        origin: &Origin,
        kind: &'static str,
        metrics: &Metrics,
    ) -> Result<(), IdentityRefusal> {
        self.check(origin).inspect_err(|refusal| {
            metrics.refused(refusal.reason(), &format!("{kind}: {refusal}"));
        })
    }

    /// Asks Slack who the bot token belongs to (`auth.test`: team, enterprise, bot id) and
    /// which app that bot is (`bots.info`), unless `configured_app` already says.
    pub async fn learn(
        api: &SlackApi,
        configured_app: Option<&str>,
    ) -> Result<WorkspaceIdentity, SlackApiError> {
        let me = api.call_json("auth.test", json!({})).await?;
        let text = |value: &Value| value.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        let team_id = text(&me["team_id"]).ok_or(SlackApiError::Transport {
            method: "auth.test",
        })?;
        let enterprise_id = text(&me["enterprise_id"]);
        let app_id = match configured_app {
            Some(app) => app.to_owned(),
            None => {
                let bot = text(&me["bot_id"]).ok_or(SlackApiError::Api {
                    method: "auth.test",
                    code: "not_a_bot_token".to_owned(),
                })?;
                let info = api.call_json("bots.info", json!({ "bot": bot })).await?;
                text(&info["bot"]["app_id"]).ok_or(SlackApiError::Transport {
                    method: "bots.info",
                })?
            }
        };
        Ok(WorkspaceIdentity {
            team_id,
            enterprise_id,
            app_id,
        })
    }
}

fn string_at(value: &Value, pointers: &[&str]) -> Option<String> {
    pointers.iter().find_map(|pointer| {
        value
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    })
}

impl Origin {
    /// An interactivity payload (`block_actions`, `view_submission`, …) as Slack sends it
    /// over HTTP: `team.id`, `enterprise.id` (or `null`), `api_app_id`.
    pub fn of_interaction_json(payload: &Value) -> Origin {
        Origin {
            team_id: string_at(payload, &["/team/id", "/team_id", "/user/team_id"]),
            enterprise_id: string_at(payload, &["/enterprise/id", "/enterprise_id"]),
            api_app_id: string_at(payload, &["/api_app_id"]),
            app_id_required: true,
        }
    }

    /// A slash command's form fields as Slack sends them over HTTP.
    pub fn of_command_form(fields: &[(String, String)]) -> Origin {
        let field = |name: &str| {
            fields
                .iter()
                .find(|(key, value)| key == name && !value.is_empty())
                .map(|(_, value)| value.clone())
        };
        Origin {
            team_id: field("team_id"),
            enterprise_id: field("enterprise_id"),
            api_app_id: field("api_app_id"),
            app_id_required: true,
        }
    }

    /// An Events API `event_callback` as Slack sends it over HTTP.
    pub fn of_event_json(callback: &Value) -> Origin {
        Origin {
            team_id: string_at(callback, &["/team_id"]),
            enterprise_id: string_at(callback, &["/enterprise_id", "/context_enterprise_id"]),
            api_app_id: string_at(callback, &["/api_app_id"]),
            app_id_required: true,
        }
    }

    /// An interaction as slack-morphism parsed it (Socket Mode).
    pub fn of_interaction(event: &SlackInteractionEvent) -> Origin {
        let (team, app) = match event {
            SlackInteractionEvent::BlockActions(e) => (&e.team, Some(&e.api_app_id)),
            SlackInteractionEvent::BlockSuggestion(e) => (&e.team, Some(&e.api_app_id)),
            SlackInteractionEvent::DialogSubmission(e) => (&e.team, None),
            SlackInteractionEvent::MessageAction(e) => (&e.team, None),
            SlackInteractionEvent::Shortcut(e) => (&e.team, None),
            SlackInteractionEvent::ViewSubmission(e) => (&e.team, None),
            SlackInteractionEvent::ViewClosed(e) => (&e.team, None),
        };
        Origin {
            team_id: Some(team.id.0.clone()),
            enterprise_id: None,
            api_app_id: app.map(|a| a.0.clone()),
            app_id_required: false,
        }
    }

    /// A slash command as slack-morphism parsed it (Socket Mode).
    pub fn of_command(event: &SlackCommandEvent) -> Origin {
        Origin {
            team_id: Some(event.team_id.0.clone()),
            ..Origin::default()
        }
    }

    /// An event as slack-morphism parsed it (Socket Mode).
    pub fn of_event(event: &SlackPushEventCallback) -> Origin {
        Origin {
            team_id: Some(event.team_id.0.clone()),
            enterprise_id: None,
            api_app_id: Some(event.api_app_id.0.clone()),
            app_id_required: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours() -> WorkspaceIdentity {
        WorkspaceIdentity {
            team_id: "T1".into(),
            enterprise_id: None,
            app_id: "A1".into(),
        }
    }

    fn origin(team: Option<&str>, enterprise: Option<&str>, app: Option<&str>) -> Origin {
        Origin {
            team_id: team.map(Into::into),
            enterprise_id: enterprise.map(Into::into),
            api_app_id: app.map(Into::into),
            app_id_required: true,
        }
    }

    #[test]
    fn only_the_bots_workspace_enterprise_and_app_pass() {
        let us = ours();
        assert_eq!(us.check(&origin(Some("T1"), None, Some("A1"))), Ok(()));
        assert_eq!(
            us.check(&origin(Some("T2"), None, Some("A1"))),
            Err(IdentityRefusal::OtherTeam("T2".into()))
        );
        assert_eq!(
            us.check(&origin(None, None, Some("A1"))),
            Err(IdentityRefusal::NoTeam)
        );
        assert_eq!(
            us.check(&origin(Some("T1"), Some("E9"), Some("A1"))),
            Err(IdentityRefusal::OtherEnterprise("E9".into()))
        );
        assert_eq!(
            us.check(&origin(Some("T1"), None, Some("A2"))),
            Err(IdentityRefusal::OtherApp("A2".into()))
        );
        assert_eq!(
            us.check(&origin(Some("T1"), None, None)),
            Err(IdentityRefusal::NoApp)
        );
        let grid = WorkspaceIdentity {
            enterprise_id: Some("E1".into()),
            ..ours()
        };
        assert_eq!(
            grid.check(&origin(Some("T1"), Some("E1"), Some("A1"))),
            Ok(())
        );
        assert!(
            grid.check(&origin(Some("T1"), Some("E2"), Some("A1")))
                .is_err()
        );
    }

    #[test]
    fn refusals_never_echo_odd_bytes() {
        let refusal = ours()
            .check(&origin(Some("T2\n<script>"), None, Some("A1")))
            .unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "request is from workspace (unreadable), not this bot's workspace"
        );
    }

    #[test]
    fn origins_are_read_from_slacks_http_payloads() {
        let click = json!({"team": {"id": "T1"}, "enterprise": null, "api_app_id": "A1"});
        assert_eq!(
            Origin::of_interaction_json(&click),
            origin(Some("T1"), None, Some("A1"))
        );
        let fields = vec![
            ("team_id".to_owned(), "T1".to_owned()),
            ("enterprise_id".to_owned(), "".to_owned()),
            ("api_app_id".to_owned(), "A1".to_owned()),
        ];
        assert_eq!(
            Origin::of_command_form(&fields),
            origin(Some("T1"), None, Some("A1"))
        );
        let event = json!({"team_id": "T1", "api_app_id": "A1", "context_enterprise_id": "E1"});
        assert_eq!(
            Origin::of_event_json(&event),
            origin(Some("T1"), Some("E1"), Some("A1"))
        );
    }
}
