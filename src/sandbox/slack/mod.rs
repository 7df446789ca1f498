//! A model of Slack for the bot's tests and the `demo` command.

pub mod identity;
pub mod limits;
pub mod signing;
