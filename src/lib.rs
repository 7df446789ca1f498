//! scim-rotator: keeps the Entra ID → AWS IAM Identity Center SCIM token from expiring
//! unnoticed, and turns its rotation into a guided, approved, audited Slack conversation.
//!
//! The library holds everything; `main.rs` is a thin CLI over it. See DESIGN.md for the shape.

pub mod audit;
pub mod cli;
pub mod clock;
pub mod http;
pub mod rotation;
pub mod sandbox;
pub mod secret;
pub mod store;
pub mod telemetry;
