//! Slack: the ids that tie buttons and modals to the interaction parser ([`ids`]).
//! Rendering, the `/scim` command and the transports live next to it.

pub mod ids;
