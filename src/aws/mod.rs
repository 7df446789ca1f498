//! AWS IAM Identity Center: the SCIM probe that checks a token before Entra sees it, and
//! links to the console pages where people manage tokens (there is no API for them).

mod console;
mod probe;

pub use console::console_url;
pub use probe::{ProbeError, ScimProbe};
