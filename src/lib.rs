//! scim-rotator: keeps the Entra ID → AWS IAM Identity Center SCIM token from expiring
//! unnoticed, and turns its rotation into a guided, approved, audited Slack conversation.
//!
//! The library holds everything; `main.rs` is a thin CLI over it. See DESIGN.md for the shape.

pub mod app;
pub mod audit;
pub mod aws;
pub mod azure;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod engine;
pub mod http;
pub mod intake;
pub mod metrics;
mod outbound;
pub mod retry;
pub mod rotation;
pub mod sandbox;
pub mod scheduler;
pub mod secret;
pub mod server;
pub mod slack;
pub mod store;
pub mod telemetry;
