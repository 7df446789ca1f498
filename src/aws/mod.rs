//! AWS IAM Identity Center: the SCIM probe that checks a token before Entra sees it, links
//! to the console pages where people manage tokens (there is no API for them), and the AWS
//! Health events that announce a token's expiry.

mod console;
pub mod health;
mod probe;

pub use console::console_url;
pub use probe::{ProbeError, ScimProbe};
