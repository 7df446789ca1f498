//! Slack: what the bot shows ([`render`]), the ids that tie buttons and modals to the
//! interaction parser ([`ids`], [`interaction`]), the `/scim` command ([`slash`]), the Web
//! API client ([`api`]), request signing ([`signature`]) and the extractor that checks it
//! ([`verified`]), the handlers shared by both transports ([`bot`]), Socket Mode
//! ([`socket`]; HTTP mode is in `crate::server`, its interactivity payloads read by
//! [`http_interaction`]), and the task that keeps rotation threads up to date
//! ([`presenter`]).

pub mod api;
pub mod approvers;
pub mod binding;
pub mod block_actions;
pub mod bot;
pub mod form;
pub mod http_interaction;
pub mod identity;
pub mod ids;
pub mod inbound;
pub mod interaction;
pub mod outbox;
pub mod pool;
pub mod presenter;
pub mod render;
pub mod replay;
pub mod signature;
pub mod slash;
pub mod socket;
pub mod verified;
