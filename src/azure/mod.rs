//! Microsoft Entra ID: Graph access tokens and the provisioning (synchronization) API.
//!
//! Written on reqwest rather than `azure_identity`, which cannot target an `http://` login
//! (our local fake) and would add a second HTTP stack.

mod certificate;
mod client;
mod error;
mod job;
mod login;
mod settings;

pub use certificate::{CertificateError, ClientCertificate};
pub use client::{AWS_APP_TEMPLATE_ID, AWS_JOB_TEMPLATE_ID, GraphClient};
pub use error::{CODE_VALIDATION_FAILURE, CODE_VALIDATION_UNAVAILABLE, GraphError, Service};
pub use job::{JobStatus, LastExecution, Quarantine, SyncJob};
pub use settings::{AzureCredential, GraphSettings};
