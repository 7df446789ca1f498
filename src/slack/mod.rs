//! Slack: what the bot shows ([`render`]) and the ids that tie buttons and modals to the
//! interaction parser ([`ids`]). Transports (Socket Mode, HTTP) and the interaction parser
//! live next to these.

pub mod ids;
pub mod render;
