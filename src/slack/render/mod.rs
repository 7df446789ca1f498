//! Everything the bot shows in Slack, as Block Kit: pure functions from the domain's records
//! to messages and views. No I/O and no clock: `now` is always a parameter, so the same
//! input renders the same blocks (snapshot tests rely on it).
//!
//! Written for a team lead who has never read our docs: plain words, what to do next, and
//! who did what and when. Every renderer stays within Slack's limits ([`limits`]), and
//! [`transcript`] turns the blocks back into text for the terminal demo and the tests.
//!
//! The rotation thread is one message per step, re-rendered from the current [`Rotation`]
//! on every transition and updated in place (`chat.update`): a step's buttons disappear
//! once it is done and its message then says who did it and when.
//!
//! [`Rotation`]: crate::rotation::Rotation

mod alerts;
mod audit;
pub(crate) mod format;
mod intake;
pub(crate) mod kit;
pub mod limits;
mod modal;
mod outcome;
mod rotation;
mod status;
pub mod transcript;
mod warning;

#[cfg(test)]
mod tests;

pub use alerts::{graph_unreachable, provisioning_recovered, quarantine_alert};
pub use audit::{DEFAULT_AUDIT_RECORDS, audit_list};
pub use intake::web_form_link;
pub use modal::{register_modal, token_modal};
pub use outcome::{
    BOT_FAULT, already_done_text, no_such_connection, outcome_reply, recorded_text, refusal_text,
};
pub use rotation::{
    approval_step, checks_step, completion_summary, delete_old_step, new_token_step,
};
pub use status::{StatusRow, home_view, status_blocks, status_message};
pub use warning::{expiry_warning, threshold_reply, unknown_expiry_warning, warning_resolved};

use serde::Serialize;
use slack_morphism::prelude::SlackBlock;

/// A message to post or update: blocks, and the plain text Slack shows in notifications and
/// in clients that cannot show blocks.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Message {
    /// Notification fallback; never empty.
    pub text: String,
    pub blocks: Vec<SlackBlock>,
}

impl Message {
    /// A message within Slack's limits: at most [`limits::MAX_MESSAGE_BLOCKS`] blocks and a
    /// non-empty fallback text of at most [`limits::MAX_FALLBACK_TEXT`] characters.
    pub(crate) fn new(text: impl Into<String>, blocks: Vec<SlackBlock>) -> Self {
        let text = text.into();
        let text = if text.trim().is_empty() {
            "A message from the SCIM token bot".to_owned()
        } else {
            limits::truncate(&text, limits::MAX_FALLBACK_TEXT)
        };
        Message {
            text,
            blocks: limits::cap_blocks(blocks, limits::MAX_MESSAGE_BLOCKS),
        }
    }
}

/// The connection facts a message needs (from the configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionInfo<'a> {
    /// The connection's configured name (`[[connection]] name`).
    pub name: &'a str,
    /// The AWS region of its IAM Identity Center instance, e.g. `eu-west-1`.
    pub aws_region: &'a str,
}

impl ConnectionInfo<'_> {
    /// The IAM Identity Center console for this connection's region.
    pub fn console_url(&self) -> String {
        console_url(self.aws_region)
    }
}

/// The IAM Identity Center console in `region`. (`crate::aws::console_url` says the same;
/// this one keeps the renderer free of the AWS module.) Characters that cannot be in a
/// region name are dropped, so a bad configuration cannot break the link's markup.
pub fn console_url(region: &str) -> String {
    let region: String = region
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    format!("https://{region}.console.aws.amazon.com/singlesignon/home?region={region}")
}

/// Who may approve rotations (from `[slack] approvers`, `approver_groups`,
/// `allow_self_approval`), so a request can say whom it waits for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Approvers<'a> {
    /// Slack user ids.
    pub users: &'a [String],
    /// Slack user-group ids (`S…`).
    pub groups: &'a [String],
    /// Whether the requester may approve their own request.
    pub allow_self_approval: bool,
}
