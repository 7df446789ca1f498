//! Slack: what the bot shows ([`render`]), the ids that tie buttons and modals to the
//! interaction parser ([`ids`]), and the `/scim` command ([`slash`]).
//! Transports (Socket Mode, HTTP) and the interaction parser live next to these.

pub mod ids;
pub mod render;
pub mod slash;
