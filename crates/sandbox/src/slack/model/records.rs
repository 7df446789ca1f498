//! What the fake records and what it can be told to get wrong.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// One Web API request as the bot sent it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedCall {
    /// `chat.postMessage`, …; `response_url` for posts to a response URL.
    pub method: String,
    /// `GET` or `POST`.
    pub http_method: String,
    /// The parameters as parsed: the JSON body, or form/query fields as strings.
    pub params: Value,
    /// Every byte of the request the bot controls: query string, then body.
    pub raw: String,
    /// The fake's answer (the JSON body, or a text body as a JSON string).
    pub response: Value,
    pub at: DateTime<Utc>,
}

/// What the fake delivered to the bot (as Slack) and what the bot answered.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedDelivery {
    /// `block_actions`, `view_submission`, `view_closed`, `slash_command`,
    /// `event_callback`, `url_verification` or `raw`.
    pub kind: String,
    /// `http` or `socket_mode`.
    pub transport: &'static str,
    /// The body (HTTP) or envelope (Socket Mode) sent.
    pub request: String,
    /// HTTP status, or 200 for a Socket Mode ack; `None` when the bot never answered.
    pub status: Option<u16>,
    /// HTTP response body, or the ack's `payload` as JSON text ("" when none).
    pub reply: String,
    pub at: DateTime<Utc>,
}

/// A failure to inject into the next call of a Web API method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlackFault {
    /// HTTP 200 `{"ok":false,"error":<code>}` (e.g. `channel_not_found`, `ratelimited`).
    Error(String),
    /// HTTP 429 with `Retry-After: <secs>` and `{"ok":false,"error":"ratelimited"}`.
    RateLimited { retry_after_secs: u64 },
    /// No answer at all until the fake shuts down: the bot's own timeout must fire.
    Hang,
    /// Slack does the work at once but answers only after this long (a slow `views.open`).
    Slow(std::time::Duration),
}

impl SlackFault {
    /// `SlackFault::Error` with the given code, e.g. `SlackFault::error("channel_not_found")`.
    pub fn error(code: &str) -> Self {
        SlackFault::Error(code.to_string())
    }
}
