//! What we know about a connection's AWS SCIM access token (never the token itself).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a token's expiry date came from, most trusted last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpirySource {
    /// A person registered it, before the bot recorded how (`tokens add` or `/scim register`).
    Manual,
    /// A person registered it with `scim-rotator tokens add`.
    Cli,
    /// A person registered it with `/scim register` in Slack.
    SlashCommand,
    /// Learned from a rotation: creation + 365 days, or the date the approver chose.
    Rotation,
    /// Corrected by an AWS Health expiry notification.
    AwsHealth,
}

impl ExpirySource {
    /// Whether a person registered it (by whatever means).
    pub fn is_registered_by_a_person(self) -> bool {
        matches!(
            self,
            ExpirySource::Manual | ExpirySource::Cli | ExpirySource::SlashCommand
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExpirySource::Manual => "manual",
            ExpirySource::Cli => "cli",
            ExpirySource::SlashCommand => "slash_command",
            ExpirySource::Rotation => "rotation",
            ExpirySource::AwsHealth => "aws_health",
        }
    }
}

impl fmt::Display for ExpirySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExpirySource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "manual" => Ok(ExpirySource::Manual),
            "cli" => Ok(ExpirySource::Cli),
            "slash_command" => Ok(ExpirySource::SlashCommand),
            "rotation" => Ok(ExpirySource::Rotation),
            "aws_health" => Ok(ExpirySource::AwsHealth),
            other => Err(format!("unknown expiry source {other:?}")),
        }
    }
}

/// A connection's token as the store records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Store row id.
    pub id: i64,
    pub connection: String,
    /// The id the AWS console shows; `None` when nobody told us.
    pub token_id: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// `None`: unknown (warned about once, shown as "unknown").
    pub expires_at: Option<DateTime<Utc>>,
    pub source: ExpirySource,
    /// First 12 hex characters of the token's SHA-256, when the bot saw the token.
    pub fingerprint: Option<String>,
    /// Set when the token was replaced by a rotation (the old token's deletion was confirmed).
    pub retired_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// How people refer to the token: its console id, or a placeholder.
    pub fn display_id(&self) -> &str {
        self.token_id.as_deref().unwrap_or("(id not recorded)")
    }
}

/// Whether `id` can be an AWS token id as a person would copy it from the console: one word
/// (no white space, no control character) of at most 200 bytes. The id is shown in messages,
/// pages and the audit, so nothing else is let through.
pub fn plausible_token_id(id: &str) -> bool {
    id.len() <= 200 && !id.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod id_tests {
    use super::plausible_token_id;

    #[test]
    fn a_token_id_is_one_printable_word() {
        assert!(plausible_token_id("9e5a1c9f-2a3b-4c5d-8e9f-0a1b2c3d4e5f"));
        for bad in [
            "two words",
            "tab\there",
            "nul\u{0}",
            "bell\u{7}",
            "line\nbreak",
        ] {
            assert!(!plausible_token_id(bad), "{bad:?}");
        }
        assert!(plausible_token_id(&"a".repeat(200)));
        assert!(!plausible_token_id(&"a".repeat(201)));
    }
}
