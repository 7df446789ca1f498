//! scim-rotator's domain: what a rotation is and may do, with no I/O at all.
//!
//! - [`rotation`]: the states, the commands, the decisions (`decide*`), warnings and the
//!   history a thread is built from;
//! - [`audit`]: the append-only, hash-chained audit record;
//! - [`clock`]: time as the bot and its sandbox see it (injected, so tests control it);
//! - [`secret`]: the SCIM token, which never prints, and its fingerprint.
//!
//! The crate's dependencies are the rule made visible: chrono, serde, sha2, secrecy and no
//! runtime, network, database or file crate. ARCHITECTURE.md, at the repository root, maps the
//! rest of the workspace.

pub mod audit;
pub mod clock;
pub mod rotation;
pub mod secret;
