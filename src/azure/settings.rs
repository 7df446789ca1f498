//! What the Graph client needs to know about one connection.

use super::certificate::ClientCertificate;
use secrecy::SecretString;
use std::path::PathBuf;
use url::Url;

/// How the bot's app registration proves itself to Microsoft login.
#[derive(Clone, Debug)]
pub enum AzureCredential {
    /// A client secret of the app registration.
    ClientSecret(SecretString),
    /// A file holding a JWT accepted by one of the app's federated credentials (workload
    /// identity, as on Kubernetes). Read again at every login: the platform rotates it.
    FederatedTokenFile(PathBuf),
    /// A certificate uploaded to the app registration, with its private key: each login
    /// sends a client assertion signed with the key.
    ClientCertificate(ClientCertificate),
}

/// Where Graph and login are, who the bot is, and (optionally) which provisioning job to use.
#[derive(Clone, Debug)]
pub struct GraphSettings {
    /// Graph's origin, such as `https://graph.microsoft.com`; calls go to `{graph_url}/v1.0`.
    pub graph_url: Url,
    /// The login origin, such as `https://login.microsoftonline.com`.
    pub login_url: Url,
    pub tenant_id: String,
    /// The bot's app registration (application/client id).
    pub client_id: String,
    pub credential: AzureCredential,
    /// The AWS IAM Identity Center enterprise app's service principal; discovered when absent.
    pub service_principal_id: Option<String>,
    /// Its provisioning job; discovered when absent.
    pub sync_job_id: Option<String>,
}
