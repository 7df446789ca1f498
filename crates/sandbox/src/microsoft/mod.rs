//! A model of Microsoft login and Graph's synchronization API for one Entra tenant.
//!
//! The tenant has one app registration (the bot: a client id, a client secret, an accepted
//! federated assertion and/or an uploaded certificate, a grantable permission) and AWS IAM
//! Identity Center enterprise apps, each a service principal with one `aWSSingleSignon`
//! provisioning job and saved secrets. Login issues access tokens that Graph checks on every
//! call. Entra's side of Test Connection and of provisioning runs asks the [`FakeAws`] model
//! directly, standing in for Entra calling AWS.
//!
//! Where real behaviour is unknown the model picks one and says so: see `start` (refused
//! unless paused or quarantined), `GET secrets` (every value masked) and `assertion` (the
//! AADSTS codes of some certificate assertion failures).

mod assertion;
mod graph;
mod job;
mod login;

use super::aws::{FakeAws, ScimVerdict};
use super::fault::{self, Faults, Recorded, RequestLog, lock};
use super::random;
use super::server::Server;
use assertion::UploadedCertificate;
use axum::Router;
use chrono::{DateTime, Utc};
pub use graph::AWS_APP_TEMPLATE_ID;
use job::Job;
pub use job::{AWS_JOB_TEMPLATE_ID, JobStatus};
use scim_domain::clock::SharedClock;
use scim_domain::secret::{Fingerprint, fingerprint_of};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use url::Url;

/// Display name of the enterprise app created with the fake.
const DEFAULT_APP_NAME: &str = "AWS IAM Identity Center";

/// The fake Microsoft side (login and Graph, on two ports). Cheap to clone; the servers stop
/// when the last clone is dropped.
#[derive(Clone)]
pub struct FakeMicrosoft {
    shared: Arc<Shared>,
    login: Arc<Server>,
    graph: Arc<Server>,
}

pub(super) struct Shared {
    clock: SharedClock,
    aws: FakeAws,
    state: Mutex<State>,
    faults: Faults,
    log: RequestLog,
}

struct State {
    tenant_id: String,
    client_id: String,
    client_secret: Option<String>,
    federated_assertion: Option<String>,
    /// The certificate uploaded to the app registration, if any.
    client_certificate: Option<UploadedCertificate>,
    /// Logins that presented a certificate assertion and were given a token.
    certificate_logins: usize,
    /// Login's origin, the start of the audience a certificate assertion must name.
    login_origin: String,
    /// Whether the bot's app holds a permission that allows the synchronization API.
    permission_granted: bool,
    /// Whether Entra can reach AWS at all (a network problem between the two).
    aws_reachable: bool,
    /// `{graph origin}/.default`, the only scope login accepts.
    scope: String,
    /// Access tokens issued, with their expiry.
    issued: HashMap<String, DateTime<Utc>>,
    /// AWS IAM Identity Center enterprise apps; the first is the primary one.
    apps: Vec<AwsApp>,
}

struct AwsApp {
    service_principal_id: String,
    app_id: String,
    display_name: String,
    /// Saved secrets in insertion order (key names are case-sensitive).
    secrets: Vec<(String, String)>,
    job: Job,
}

impl AwsApp {
    fn new(display_name: &str) -> Self {
        AwsApp {
            service_principal_id: random::uuid(),
            app_id: random::uuid(),
            display_name: display_name.to_owned(),
            secrets: Vec::new(),
            job: Job::new(format!(
                "{}.{}.{}",
                job::AWS_JOB_TEMPLATE_ID,
                random::hex_string(32),
                random::uuid()
            )),
        }
    }

    fn secret(&self, key: &str) -> Option<&str> {
        self.secrets
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn upsert(&mut self, key: &str, value: &str) {
        match self.secrets.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value.to_owned(),
            None => self.secrets.push((key.to_owned(), value.to_owned())),
        }
    }
}

impl Shared {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// What AWS answers Entra for `base_address` + `secret`, given Entra's connectivity.
    fn verdict(&self, aws_reachable: bool, base_address: &str, secret: &str) -> ScimVerdict {
        if aws_reachable {
            self.aws.verdict(base_address, secret)
        } else {
            ScimVerdict::Unreachable
        }
    }
}

impl State {
    fn primary(&mut self) -> &mut AwsApp {
        self.apps
            .first_mut()
            .expect("the fake always has its primary AWS app")
    }
}

impl FakeMicrosoft {
    /// Starts login and Graph with a fresh tenant, app registration (client secret, permission
    /// granted) and one AWS IAM Identity Center app whose job is not configured yet.
    pub async fn start(clock: SharedClock, aws: FakeAws) -> FakeMicrosoft {
        let shared = Arc::new(Shared {
            log: RequestLog::new(clock.clone()),
            clock,
            aws,
            state: Mutex::new(State {
                tenant_id: random::uuid(),
                client_id: random::uuid(),
                client_secret: Some(format!(
                    "{}~{}",
                    random::alphanumeric(3),
                    random::alphanumeric(36)
                )),
                federated_assertion: None,
                client_certificate: None,
                certificate_logins: 0,
                login_origin: String::new(),
                permission_granted: true,
                aws_reachable: true,
                scope: String::new(),
                issued: HashMap::new(),
                apps: vec![AwsApp::new(DEFAULT_APP_NAME)],
            }),
            faults: Faults::default(),
        });
        let with_log = |router: Router<Arc<Shared>>| {
            router
                .layer(axum::middleware::from_fn_with_state(
                    shared.log.clone(),
                    RequestLog::record,
                ))
                .with_state(shared.clone())
        };
        let graph = Server::start(with_log(graph::router())).await;
        let login = Server::start(with_log(login::router())).await;
        {
            let mut state = lock(&shared.state);
            state.scope = format!("{}/.default", graph.url().origin().ascii_serialization());
            state.login_origin = login.url().origin().ascii_serialization();
        }
        FakeMicrosoft {
            shared,
            login: Arc::new(login),
            graph: Arc::new(graph),
        }
    }

    /// The login origin (`login_url` in settings).
    pub fn login_url(&self) -> Url {
        self.login.url()
    }

    /// The Graph origin (`graph_url` in settings); Graph answers under `/v1.0`.
    pub fn graph_url(&self) -> Url {
        self.graph.url()
    }

    pub fn tenant_id(&self) -> String {
        lock(&self.shared.state).tenant_id.clone()
    }

    /// The bot's app registration.
    pub fn client_id(&self) -> String {
        lock(&self.shared.state).client_id.clone()
    }

    /// The app registration's client secret (`None` once removed).
    pub fn client_secret(&self) -> Option<String> {
        lock(&self.shared.state).client_secret.clone()
    }

    /// Replaces (or removes) the app registration's client secret.
    pub fn set_client_secret(&self, secret: Option<&str>) {
        lock(&self.shared.state).client_secret = secret.map(str::to_owned);
    }

    /// The client assertion the app's federated credential accepts (`None`: no federated
    /// credential).
    pub fn set_federated_assertion(&self, assertion: Option<&str>) {
        lock(&self.shared.state).federated_assertion = assertion.map(str::to_owned);
    }

    /// Uploads a certificate to the app registration (*Certificates & secrets*), replacing
    /// any other; `None` removes it. Login then accepts client assertions that name it by
    /// thumbprint and verify with its public key.
    ///
    /// # Panics
    ///
    /// When `certificate_der` is not an X.509 certificate with an RSA key.
    pub fn set_client_certificate(&self, certificate_der: Option<&[u8]>) {
        let uploaded = certificate_der.map(|der| {
            UploadedCertificate::from_der(der).expect("an X.509 certificate with an RSA key")
        });
        lock(&self.shared.state).client_certificate = uploaded;
    }

    /// How many access tokens login issued for a verified certificate assertion.
    pub fn certificate_logins(&self) -> usize {
        lock(&self.shared.state).certificate_logins
    }

    /// Grants or withdraws the bot's Graph permission (withdrawn: every call gets 403
    /// `Authorization_RequestDenied`).
    pub fn set_permission_granted(&self, granted: bool) {
        lock(&self.shared.state).permission_granted = granted;
    }

    /// Cuts (or restores) Entra's connection to AWS: Test Connection then fails with
    /// `CredentialValidationUnavailable` and runs quarantine the job.
    pub fn set_aws_reachable(&self, reachable: bool) {
        lock(&self.shared.state).aws_reachable = reachable;
    }

    /// Revokes every access token issued so far (Graph answers 401 until a new login).
    pub fn revoke_access_tokens(&self) {
        lock(&self.shared.state).issued.clear();
    }

    /// How many access tokens login has issued.
    pub fn issued_access_tokens(&self) -> usize {
        lock(&self.shared.state).issued.len()
    }

    /// The primary AWS app's service principal id.
    pub fn service_principal_id(&self) -> String {
        lock(&self.shared.state)
            .primary()
            .service_principal_id
            .clone()
    }

    /// The primary AWS app's provisioning job id.
    pub fn job_id(&self) -> String {
        lock(&self.shared.state).primary().job.id.clone()
    }

    /// Adds another AWS IAM Identity Center app (another AWS organisation); returns its
    /// (service principal id, job id).
    pub fn add_aws_app(&self, display_name: &str) -> (String, String) {
        let app = AwsApp::new(display_name);
        let ids = (app.service_principal_id.clone(), app.job.id.clone());
        lock(&self.shared.state).apps.push(app);
        ids
    }

    /// What an administrator does in the portal: saves the credentials on the primary app
    /// and starts provisioning (status `Active`, then one cycle).
    pub fn configure(&self, base_address: &str, secret_token: &str) {
        {
            let mut state = lock(&self.shared.state);
            let app = state.primary();
            app.upsert("BaseAddress", base_address);
            app.upsert("SecretToken", secret_token);
            app.job.status = JobStatus::Active;
        }
        self.run_provisioning_cycle();
    }

    /// The fingerprint of the primary app's saved `SecretToken` (never the value).
    pub fn saved_token_fingerprint(&self) -> Option<Fingerprint> {
        lock(&self.shared.state)
            .primary()
            .secret("SecretToken")
            .map(fingerprint_of)
    }

    /// The primary app's saved `BaseAddress`.
    pub fn saved_base_address(&self) -> Option<String> {
        lock(&self.shared.state)
            .primary()
            .secret("BaseAddress")
            .map(str::to_owned)
    }

    /// Whether the primary app has a `SecretToken` saved (the portal shows it masked).
    pub fn secret_token_saved(&self) -> bool {
        lock(&self.shared.state)
            .primary()
            .secret("SecretToken")
            .is_some()
    }

    /// The primary job as Graph's `GET …/jobs/{id}` returns it (status, quarantine, last
    /// run), for pages that show the job's health.
    pub fn job_json(&self) -> serde_json::Value {
        lock(&self.shared.state).primary().job.to_json()
    }

    /// The portal's *Test Connection* with the saved credentials: `Ok` when AWS accepts
    /// them, otherwise the portal's reason. Changes nothing.
    pub fn test_saved_credentials(&self) -> Result<(), &'static str> {
        let (reachable, credentials) = {
            let mut state = lock(&self.shared.state);
            let reachable = state.aws_reachable;
            let app = state.primary();
            let credentials = app
                .secret("BaseAddress")
                .zip(app.secret("SecretToken"))
                .map(|(b, s)| (b.to_owned(), s.to_owned()));
            (reachable, credentials)
        };
        let Some((base, secret)) = credentials else {
            return Err("No credentials are saved: enter the Tenant URL and Secret Token.");
        };
        match self.shared.verdict(reachable, &base, &secret) {
            ScimVerdict::Accepted => Ok(()),
            ScimVerdict::Rejected => Err(
                "The supplied credentials are not authorized: AWS answered HTTP 401 (the token is wrong, deleted or expired).",
            ),
            ScimVerdict::Unreachable => Err("Could not connect to the Tenant URL."),
        }
    }

    /// The primary job's status.
    pub fn job_status(&self) -> JobStatus {
        lock(&self.shared.state).primary().job.status.clone()
    }

    /// Sets the primary job's status as an administrator (or Entra) would; any status but
    /// `Quarantine` clears the quarantine, and `Quarantine` is [`Self::quarantine_now`].
    pub fn set_job_status(&self, status: JobStatus) {
        if status == JobStatus::Quarantine {
            return self.quarantine_now();
        }
        let mut state = lock(&self.shared.state);
        let job = &mut state.primary().job;
        job.status = status;
        job.quarantine = None;
    }

    /// Quarantines the primary job now, as after a run whose credentials AWS rejected.
    pub fn quarantine_now(&self) {
        let now = self.shared.now();
        lock(&self.shared.state)
            .primary()
            .job
            .quarantine(job::RUN_ERROR_REJECTED, now);
    }

    /// Runs one provisioning cycle of the primary job, as Entra's scheduler would: with the
    /// saved token valid in AWS the job becomes (or stays) `Active` and its quarantine ends;
    /// otherwise it is quarantined. Paused, not-run and unconfigured jobs do not run.
    /// Returns the resulting status.
    pub fn run_provisioning_cycle(&self) -> JobStatus {
        self.shared.run_cycle(0)
    }

    /// Faults to inject on login and Graph.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Every request received by login and Graph, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.log.all()
    }

    /// How many requests with `method` had a path ending with `path_suffix`.
    pub fn count(&self, method: &str, path_suffix: &str) -> usize {
        fault::count(&self.requests(), method, path_suffix)
    }
}

impl Shared {
    /// Runs one cycle of the job of app `index`; returns its status.
    fn run_cycle(&self, index: usize) -> JobStatus {
        let now = self.now();
        let (reachable, credentials) = {
            let state = lock(&self.state);
            let app = &state.apps[index];
            let credentials = app
                .secret("BaseAddress")
                .zip(app.secret("SecretToken"))
                .map(|(b, s)| (b.to_owned(), s.to_owned()));
            (state.aws_reachable, credentials)
        };
        // Ask the AWS model without holding our lock.
        let verdict = credentials.map(|(base, secret)| self.verdict(reachable, &base, &secret));
        let mut state = lock(&self.state);
        let job = &mut state.apps[index].job;
        job.run_cycle(verdict, now);
        job.status.clone()
    }
}
