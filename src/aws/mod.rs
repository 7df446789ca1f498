//! AWS IAM Identity Center: the SCIM probe that checks a token before Entra sees it, and the
//! AWS Health events that announce a token's expiry. (The console link people manage tokens
//! at, there being no API for them, is spelled by the renderer: `slack::render::console_url`.)

pub mod health;
mod probe;

pub use probe::{ProbeError, ScimProbe};
