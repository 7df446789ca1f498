//! What the Graph client needs to know about one connection.

use super::certificate::ClientCertificate;
use secrecy::SecretString;
use std::path::PathBuf;
use url::Url;

/// How the bot's app registration proves itself to Microsoft login, as configured
/// (`config::ConnectionConfig::azure_credential`) and as used at each login.
#[derive(Clone, Debug)]
pub enum AzureCredential {
    /// A client secret (`azure_client_secret`).
    ClientSecret(SecretString),
    /// A file holding a federated identity token, sent as a client assertion
    /// (`azure_federated_token_file`; workload identity federation as AKS or GitHub OIDC provide
    /// it). The file is re-read for every Graph token because the platform rotates it; the path
    /// is resolved against the config file's directory.
    FederatedTokenFile(PathBuf),
    /// A PEM certificate and its RSA private key (`azure_client_certificate`, a secret: the
    /// PEM text is read from `file:PATH` or `env:NAME`), parsed and checked at load; each login
    /// sends a client assertion signed with the key. Its `Debug` shows only the thumbprint.
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
