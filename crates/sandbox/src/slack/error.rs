//! Why an interaction could not happen (the person could not do that in Slack) or got no
//! answer from the bot.

use super::socket_mode::SocketModeError;
use std::time::Duration;

/// Why an interaction could not happen or got no answer.
#[derive(Debug, thiserror::Error)]
pub enum InteractionError {
    #[error("there is no user {0} in the workspace")]
    UnknownUser(String),
    #[error("there is no channel {0} in the workspace")]
    UnknownChannel(String),
    #[error("there is no message {ts} in {channel} that this person can see")]
    MessageNotFound { channel: String, ts: String },
    #[error("there is no button with action_id `{action_id}` to click")]
    ActionNotFound { action_id: String },
    #[error("view {0} is not open for this person")]
    ViewNotOpen(String),
    #[error("the view has no input {block_id}/{action_id}")]
    InputNotFound { block_id: String, action_id: String },
    #[error("input {block_id} is a {expected}, not a {given}")]
    InputTypeMismatch {
        block_id: String,
        expected: String,
        given: String,
    },
    #[error("input {0} is required: Slack would not submit the view")]
    RequiredInputMissing(String),
    #[error("input {block_id} needs {reason}: Slack would not submit the view")]
    InvalidInput { block_id: String, reason: String },
    #[error("the bot did not answer within {0:?}")]
    NoResponse(Duration),
    #[error("the request to the bot failed: {0}")]
    Http(String),
    #[error(transparent)]
    SocketMode(#[from] SocketModeError),
}

/// [`super::FakeSlack::wait_until`] ran out of time.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the fake Slack did not reach the expected state within {0:?}")]
pub struct WaitTimedOut(pub Duration);
