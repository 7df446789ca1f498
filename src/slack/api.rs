//! The Slack Web API calls the bot makes, over slack-morphism's client.
//!
//! Two things differ from slack-morphism's defaults: the base URL is `slack.api_url` and may
//! be plain `http://` (GovSlack proxies, local fakes), so the connector allows http; and its
//! errors are turned into [`SlackApiError`], which keeps the method and Slack's error code
//! but drops response bodies (slack-morphism's own error texts include them).
//!
//! Every Web API call of the process goes through one [`SlackApi`] (clones share it), so
//! the bounds hold whatever arrives:
//! - at most [`pool::MAX_CONNECTIONS`] TCP connections to Slack at any moment, in use or
//!   idle (the connector itself refuses to open more: [`pool::LimitedConnector`]);
//! - every call bounded in time ([`CALL_TIMEOUT`]);
//! - Slack's per-method tiers applied by slack-morphism's throttler, which needs the team
//!   id on the token: [`SlackApi::learn_team`] takes it from `auth.test` at start-up;
//!   `Retry-After` of a 429 honoured ([`RATE_LIMIT_RETRIES`] times).
//!
//! Callers do not spawn per request: replies to people go through the ordered, bounded
//! queues of [`super::outbox`].

use super::pool::{self, LimitedConnector};
use crate::metrics::Metrics;
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How many times a call answered with HTTP 429 is retried (after `Retry-After`).
const RATE_LIMIT_RETRIES: usize = 3;

pub type Connector = SlackClientHyperConnector<hyper_rustls::HttpsConnector<LimitedConnector>>;

/// A failed Slack call, without any request or response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackApiError {
    #[error("Slack {method} answered {code}")]
    Api { method: &'static str, code: String },
    #[error("Slack {method} is rate limited (retry after {retry_after:?})")]
    RateLimited {
        method: &'static str,
        retry_after: Option<Duration>,
    },
    #[error("Slack {method} failed with HTTP {status}")]
    Http { method: &'static str, status: u16 },
    #[error("Slack {method} answered something unreadable, or the connection broke mid-call")]
    Transport { method: &'static str },
    /// Nothing was sent: the connection to Slack could not be made.
    #[error("Slack {method} could not be reached (no connection)")]
    Unreachable { method: &'static str },
    /// No answer in time: the call may or may not have taken effect.
    #[error("Slack {method} did not answer within {} s", .after.as_secs())]
    Timeout {
        method: &'static str,
        after: Duration,
    },
}

impl SlackApiError {
    fn from_client(method: &'static str, error: SlackClientError) -> Self {
        // Log the kind only: the error's Display/Debug carry the response body.
        match error {
            SlackClientError::ApiError(e) => SlackApiError::Api {
                method,
                code: e.code,
            },
            SlackClientError::RateLimitError(e) => SlackApiError::RateLimited {
                method,
                retry_after: e.retry_after,
            },
            SlackClientError::HttpError(e) => SlackApiError::Http {
                method,
                status: e.status_code.as_u16(),
            },
            SlackClientError::HttpProtocolError(e) if is_connect_failure(e.cause.as_deref()) => {
                SlackApiError::Unreachable { method }
            }
            _ => SlackApiError::Transport { method },
        }
    }

    /// Whether the call surely had no effect (Slack said no, or nothing reached it): a
    /// claimed warning can then be given back. A broken connection or a timeout may have
    /// posted, so those keep it.
    pub fn surely_not_applied(&self) -> bool {
        !matches!(
            self,
            SlackApiError::Transport { .. } | SlackApiError::Timeout { .. }
        )
    }

    /// A short name for the kind of failure (metrics labels): Slack's error code,
    /// `rate_limited`, `http_<status>` or `transport`.
    pub fn kind(&self) -> String {
        match self {
            SlackApiError::Api { code, .. } => code
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect(),
            SlackApiError::RateLimited { .. } => "rate_limited".to_owned(),
            SlackApiError::Http { status, .. } => format!("http_{status}"),
            SlackApiError::Transport { .. } => "transport".to_owned(),
            SlackApiError::Unreachable { .. } => "unreachable".to_owned(),
            SlackApiError::Timeout { .. } => "timeout".to_owned(),
        }
    }

    /// Slack's error code (`channel_not_found`, `invalid_auth`, …) when it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            SlackApiError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Whether a transport error's cause chain says the connection was never made.
fn is_connect_failure(cause: Option<&(dyn std::error::Error + Send + Sync + 'static)>) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> =
        cause.map(|c| c as &(dyn std::error::Error + 'static));
    while let Some(error) = next {
        if let Some(client) = error.downcast_ref::<hyper_util::client::legacy::Error>() {
            if client.is_connect() {
                return true;
            }
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound
            ) {
                return true;
            }
        }
        next = error.source();
    }
    false
}

/// Longest a Slack call may take, throttling and 429 retries included; past it the call is
/// abandoned (and may or may not have taken effect), so a stuck connection cannot stop the
/// scheduler or the presenter for good.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The bot's Slack Web API client.
#[derive(Clone)]
pub struct SlackApi {
    client: Arc<SlackClient<Connector>>,
    token: Arc<SlackApiTokenValue>,
    /// The workspace's id, once `auth.test` told it: slack-morphism applies its per-method
    /// tier limits only to tokens that carry it.
    team_id: Arc<OnceLock<String>>,
    /// The connector's cap, shared with the client (for [`SlackApi::idle_connections`]).
    connections: LimitedConnector,
    /// Where its calls are counted; the reply queues and the scheduler count there too.
    metrics: Arc<Metrics>,
}

/// A channel as `conversations.info` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelInfo {
    pub name: Option<String>,
    pub is_member: bool,
}

/// Who the bot is, from `auth.test`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotIdentity {
    pub user_id: String,
    pub team: String,
    pub team_id: String,
}

/// Whether the client paces its own calls to Slack's published limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pacing {
    /// Slack's limits (e.g. one `chat.postMessage` a second), and 429s retried after
    /// `Retry-After`: what the bot uses against Slack.
    SlackLimits,
    /// Neither: for a local fake that does not limit, where tests post many messages in
    /// a few milliseconds of real time.
    Unpaced,
}

impl SlackApi {
    /// A client for `api_url` (e.g. `https://slack.com/api`) authenticated with `bot_token`.
    /// Fails only when the system's root certificates cannot be loaded.
    pub fn new(api_url: &url::Url, bot_token: &SecretString) -> std::io::Result<Self> {
        SlackApi::with_pacing(api_url, bot_token, Pacing::SlackLimits)
    }

    /// [`SlackApi::new`] with the given pacing.
    pub fn with_pacing(
        api_url: &url::Url,
        bot_token: &SecretString,
        pacing: Pacing,
    ) -> std::io::Result<Self> {
        let connections = LimitedConnector::new(pool::MAX_CONNECTIONS);
        let https_or_http = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::outbound::tls_config()?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connections.clone());
        let connector = SlackClientHyperConnector::with_connector(https_or_http)
            .with_slack_api_url(api_url.as_str().trim_end_matches('/'));
        let connector = match pacing {
            Pacing::SlackLimits => connector.with_rate_control(
                SlackApiRateControlConfig::new().with_max_retries(RATE_LIMIT_RETRIES),
            ),
            Pacing::Unpaced => connector,
        };
        Ok(SlackApi {
            client: Arc::new(SlackClient::new(connector)),
            token: Arc::new(SlackApiTokenValue(bot_token.expose_secret().to_owned())),
            team_id: Arc::new(OnceLock::new()),
            connections,
            metrics: Arc::new(Metrics::new()),
        })
    }

    /// The same client, counting its calls (and, through it, replies and sweeps) in
    /// `metrics`, the running bot's.
    pub fn with_metrics(self, metrics: Arc<Metrics>) -> Self {
        SlackApi { metrics, ..self }
    }

    /// Where this client's calls are counted.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Runs one call with [`CALL_TIMEOUT`]: slack-morphism's error becomes a
    /// [`SlackApiError`], and the call (with its error kind) is counted in the metrics.
    async fn bounded<T>(
        &self,
        method: &'static str,
        call: impl std::future::Future<Output = Result<T, SlackClientError>>,
    ) -> Result<T, SlackApiError> {
        let result = match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(result) => result.map_err(|e| SlackApiError::from_client(method, e)),
            Err(_) => Err(SlackApiError::Timeout {
                method,
                after: CALL_TIMEOUT,
            }),
        };
        self.metrics
            .slack_call(method, result.as_ref().err().map(SlackApiError::kind));
        result
    }

    /// Asks `auth.test` which workspace the token belongs to and remembers it, so that
    /// Slack's per-method rate tiers are applied to every later call.
    pub async fn learn_team(&self) -> Result<BotIdentity, SlackApiError> {
        let identity = self.auth_test().await?;
        let _ = self.team_id.set(identity.team_id.clone());
        Ok(identity)
    }

    /// How many more connections to Slack could be opened now (of [`pool::MAX_CONNECTIONS`]).
    pub fn connections_available(&self) -> usize {
        self.connections.available()
    }

    pub fn client(&self) -> &Arc<SlackClient<Connector>> {
        &self.client
    }

    /// Posts a message (in `thread_ts`'s thread when given); returns its `ts`.
    pub async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: String,
        blocks: Vec<SlackBlock>,
    ) -> Result<String, SlackApiError> {
        let token = self.token();
        let request = SlackApiChatPostMessageRequest::new(
            channel.into(),
            SlackMessageContent::new()
                .with_text(text)
                .with_blocks(blocks),
        )
        .opt_thread_ts(thread_ts.map(Into::into));
        let response = self
            .bounded(
                "chat.postMessage",
                self.client.open_session(&token).chat_post_message(&request),
            )
            .await?;
        Ok(response.ts.0)
    }

    /// Replaces a message's content.
    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: String,
        blocks: Vec<SlackBlock>,
    ) -> Result<(), SlackApiError> {
        let token = self.token();
        let request = SlackApiChatUpdateRequest::new(
            channel.into(),
            SlackMessageContent::new()
                .with_text(text)
                .with_blocks(blocks),
            ts.into(),
        );
        self.bounded(
            "chat.update",
            self.client.open_session(&token).chat_update(&request),
        )
        .await?;
        Ok(())
    }

    /// The link that opens a message (a reply: its thread), from `chat.getPermalink`.
    pub async fn permalink(&self, channel: &str, ts: &str) -> Result<String, SlackApiError> {
        let token = self.token();
        let request = SlackApiChatGetPermalinkRequest::new(channel.into(), ts.into());
        let response = self
            .bounded(
                "chat.getPermalink",
                self.client
                    .open_session(&token)
                    .chat_get_permalink(&request),
            )
            .await?;
        Ok(response.permalink.to_string())
    }

    /// A message only `user` sees.
    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        thread_ts: Option<&str>,
        text: String,
    ) -> Result<(), SlackApiError> {
        let token = self.token();
        let request = SlackApiChatPostEphemeralRequest::new(
            channel.into(),
            user.into(),
            SlackMessageContent::new().with_text(text),
        )
        .opt_thread_ts(thread_ts.map(Into::into));
        self.bounded(
            "chat.postEphemeral",
            self.client
                .open_session(&token)
                .chat_post_ephemeral(&request),
        )
        .await?;
        Ok(())
    }

    /// Opens a modal for the user whose click produced `trigger_id` (valid 3 s, once).
    pub async fn open_view(&self, trigger_id: &str, view: SlackView) -> Result<(), SlackApiError> {
        let token = self.token();
        let request = SlackApiViewsOpenRequest::new(trigger_id.into(), view);
        self.bounded(
            "views.open",
            self.client.open_session(&token).views_open(&request),
        )
        .await?;
        Ok(())
    }

    /// Publishes `user`'s App Home tab.
    pub async fn publish_home(&self, user: &str, view: SlackView) -> Result<(), SlackApiError> {
        let token = self.token();
        let request = SlackApiViewsPublishRequest::new(user.into(), view);
        self.bounded(
            "views.publish",
            self.client.open_session(&token).views_publish(&request),
        )
        .await?;
        Ok(())
    }

    /// Members of a user group.
    pub async fn usergroup_members(&self, group: &str) -> Result<Vec<String>, SlackApiError> {
        let token = self.token();
        let request = SlackApiUserGroupsUsersListRequest::new(group.into());
        let response = self
            .bounded(
                "usergroups.users.list",
                self.client
                    .open_session(&token)
                    .usergroups_users_list(&request),
            )
            .await?;
        Ok(response.users.into_iter().map(|u| u.0).collect())
    }

    /// Who the bot token belongs to (`check-config`).
    pub async fn auth_test(&self) -> Result<BotIdentity, SlackApiError> {
        let token = self.token();
        let response = self
            .bounded("auth.test", self.client.open_session(&token).auth_test())
            .await?;
        Ok(BotIdentity {
            user_id: response.user_id.0,
            team: response.team,
            team_id: response.team_id.0,
        })
    }

    /// A Web API method answered as raw JSON (for the few fields slack-morphism's models
    /// drop, such as `auth.test`'s `enterprise_id`; see [`super::identity`]). Bounded and
    /// counted like every other call.
    pub async fn call_json(
        &self,
        method: &'static str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, SlackApiError> {
        let token = self.token();
        self.bounded(
            method,
            self.client
                .open_session(&token)
                .http_session_api
                .http_post(method, &params, None),
        )
        .await
    }

    /// What the bot knows of `channel` (`check-config`): its name, and whether the bot is a
    /// member (it must be, to post). Needs the `channels:read` (or, for a private channel,
    /// `groups:read`) scope.
    pub async fn channel_info(&self, channel: &str) -> Result<ChannelInfo, SlackApiError> {
        let token = self.token();
        let request = SlackApiConversationsInfoRequest::new(channel.into());
        let response = self
            .bounded(
                "conversations.info",
                self.client
                    .open_session(&token)
                    .conversations_info(&request),
            )
            .await?;
        Ok(ChannelInfo {
            name: response.channel.name,
            is_member: response.channel.flags.is_member.unwrap_or(false),
        })
    }

    /// The bot token, with the team id once known.
    fn token(&self) -> SlackApiToken {
        let token = SlackApiToken::new((*self.token).clone());
        match self.team_id.get() {
            Some(team) => token.with_team_id(team.clone().into()),
            None => token,
        }
    }
}
