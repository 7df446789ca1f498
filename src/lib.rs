//! scim-rotator: keeps the Entra ID → AWS IAM Identity Center SCIM token from expiring
//! unnoticed, and turns its rotation into a guided, approved, audited Slack conversation.
//!
//! The product: this library and a thin CLI over it (`main.rs`). The domain is its own crate
//! (`crates/domain`, no I/O), re-exported below; the fakes of the remote systems are another
//! (`crates/sandbox`), which only `demo` names. ARCHITECTURE.md, at the repository root, maps
//! it all: what each crate and module owns, the path of a click and of a sweep, and the
//! invariants.

// The domain lives in its own crate (crates/domain); it is re-exported so that the product names
// it as one of its own modules.
pub use scim_domain::{audit, clock, rotation, secret};

pub mod app;
pub mod aws;
pub mod azure;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
pub mod intake;
pub mod metrics;
pub mod outbound;
pub mod retry;
pub mod scheduler;
mod server;
pub mod slack;
pub mod store;
pub mod telemetry;
