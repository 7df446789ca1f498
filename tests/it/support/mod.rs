//! Shared test harness: the engine wired to the sandbox fakes, with a manual clock and a
//! fresh database in a temporary directory.

pub mod app;
pub mod binary;
pub mod browser;
pub mod config_file;
pub mod hygiene;
pub mod isolated;
pub mod scheduler;
pub mod story;

use chrono::{DateTime, Duration, TimeZone, Utc};
use scim_rotator::audit::NewAuditRecord;
use scim_rotator::aws::ScimProbe;
use scim_rotator::azure::GraphClient;
use scim_rotator::clock::ManualClock;
use scim_rotator::demo::wiring::SandboxGraph;
use scim_rotator::engine::{CommandOutcome, ConnectionRuntime, Engine};
use scim_rotator::retry::RetryPolicy;
use scim_rotator::rotation::{Actor, ExpirySource, Policy, Rotation, RotationId, RotationState};
use scim_rotator::store::{NewToken, Store};
use scim_sandbox::Sandbox;
use std::path::PathBuf;
use std::sync::Arc;

pub const CONNECTION: &str = "prod";
pub const REQUESTER: &str = "U_MEMBER";
pub const LEAD: &str = "U_LEAD";
pub const OTHER_LEAD: &str = "U_LEAD2";

/// How long a test waits for background work before failing (never slept: polled).
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);

pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 2, 1, 9, 0, 0).unwrap()
}

/// Retries fast enough for tests; `Retry-After: 1` still fits in the budget, and a fake that
/// is merely slow on a loaded two-core CI machine is far from the request timeout.
pub fn test_retry() -> RetryPolicy {
    RetryPolicy {
        request_timeout: std::time::Duration::from_secs(2),
        max_total: std::time::Duration::from_secs(3),
        base_delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(40),
    }
}

/// The engine against the fakes. Like a [`story`], it keeps the log lines of its thread (at
/// trace) and, when the test ends without failing, searches them and the database files for
/// every token it generated or was given.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub clock: ManualClock,
    pub sandbox: Sandbox,
    pub store: Arc<Store>,
    pub engine: Arc<Engine>,
    logs: hygiene::Capture,
    secrets: std::sync::Mutex<Vec<String>>,
    /// The log capture for this thread; none inside an isolated test, whose global
    /// subscriber must see every line.
    _logging: Option<tracing::subscriber::DefaultGuard>,
}

impl TestEnv {
    pub async fn start() -> TestEnv {
        Self::start_with(test_retry()).await
    }

    pub async fn start_with(retry: RetryPolicy) -> TestEnv {
        let logs = hygiene::Capture::default();
        let logging = (!isolated::inside()).then(|| story::capture_logs(&logs));
        let clock = ManualClock::new(start_time());
        let sandbox = Sandbox::start(Arc::new(clock.clone())).await;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("bot.db")).unwrap());
        let engine = engine_for(&sandbox, &store, &clock, retry);
        let env = TestEnv {
            dir,
            clock,
            sandbox,
            store,
            engine,
            logs,
            secrets: Default::default(),
            _logging: logging,
        };
        env.register_current_token();
        env
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("bot.db")
    }

    /// A second engine on the same database and fakes: the bot after a restart.
    pub fn restarted(&self) -> Arc<Engine> {
        engine_for(&self.sandbox, &self.store, &self.clock, test_retry())
    }

    /// Another process on the same database file: its own connection and its own engine lock,
    /// so only the database (transactions, the version check) keeps the two apart.
    pub fn second_process(&self) -> Arc<Engine> {
        let store = Arc::new(Store::open(&self.db_path()).unwrap());
        engine_for(&self.sandbox, &store, &self.clock, test_retry())
    }

    fn register_current_token(&self) {
        let current = &self.sandbox.current_token;
        self.store
            .insert_token(
                &NewToken {
                    connection: CONNECTION.to_owned(),
                    token_id: Some(current.id.clone()),
                    created_at: Some(current.created),
                    expires_at: Some(current.created + Duration::days(365)),
                    source: ExpirySource::Manual,
                    fingerprint: None,
                },
                &NewAuditRecord::system(
                    self.clock_now(),
                    "token_registered",
                    CONNECTION,
                    serde_json::json!({}),
                ),
            )
            .unwrap();
    }

    pub fn clock_now(&self) -> DateTime<Utc> {
        use scim_rotator::clock::Clock;
        self.clock.now()
    }

    /// Starts a rotation (as the member) and approves it (as the lead).
    pub async fn approved_rotation(&self) -> Rotation {
        let started = self
            .engine
            .start(CONNECTION, &member(), None, None)
            .await
            .unwrap();
        let CommandOutcome::Changed(rotation) = started else {
            panic!("start: {started:?}")
        };
        let approved = self
            .engine
            .apply(
                rotation.id,
                scim_rotator::rotation::Command::Approve,
                &lead(),
            )
            .await
            .unwrap();
        let CommandOutcome::Changed(rotation) = approved else {
            panic!("approve: {approved:?}")
        };
        *rotation
    }

    /// Generates a new token in the fake AWS, as the lead does in the console.
    pub fn generate_token(&self) -> scim_sandbox::aws::GeneratedToken {
        let token = self
            .sandbox
            .aws
            .generate_token(&self.sandbox.aws_tenant)
            .unwrap();
        self.secrets.lock().unwrap().push(token.secret.clone());
        token
    }

    pub async fn submit(
        &self,
        id: RotationId,
        secret: &str,
        token_id: Option<&str>,
    ) -> CommandOutcome {
        if hygiene::searchable(secret) {
            self.secrets.lock().unwrap().push(secret.trim().to_owned());
        }
        let token = scim_rotator::secret::ScimToken::parse(secret).unwrap();
        self.engine
            .submit_token(id, token, token_id.map(str::to_owned), None, &lead())
            .await
            .unwrap()
    }

    /// Generates a new token in the fake AWS and submits it (without its id) to rotation `id`.
    pub async fn submits_new_token(&self, id: RotationId) -> scim_sandbox::aws::GeneratedToken {
        let new = self.generate_token();
        self.submit(id, &new.secret, None).await;
        new
    }

    /// Waits (polling, with a deadline) until the rotation reaches `state`.
    pub async fn wait_for(&self, id: RotationId, state: RotationState) -> Rotation {
        wait_for_state(&self.store, id, state).await
    }

    pub fn audit_actions(&self) -> Vec<String> {
        self.store
            .audit_records(&Default::default())
            .unwrap()
            .into_iter()
            .map(|r| r.action)
            .collect()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if std::thread::panicking() || self._logging.is_none() {
            return;
        }
        let mut secrets = self.secrets.lock().unwrap().clone();
        secrets.push(self.sandbox.current_token.secret.clone());
        hygiene::assert_absent(
            &secrets,
            &[
                ("the log lines", self.logs.text()),
                (
                    "the database files",
                    hygiene::database_files(self.dir.path()),
                ),
            ],
        );
    }
}

pub async fn wait_for_state(store: &Store, id: RotationId, state: RotationState) -> Rotation {
    let started = std::time::Instant::now();
    loop {
        let rotation = store.get_rotation(id).unwrap().unwrap();
        if rotation.state == state {
            return rotation;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "rotation {id} did not reach {state}; it is {} ({:?})",
            rotation.state,
            rotation.last_error
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

fn engine_for(
    sandbox: &Sandbox,
    store: &Arc<Store>,
    clock: &ManualClock,
    retry: RetryPolicy,
) -> Arc<Engine> {
    Engine::new(
        Arc::clone(store),
        Arc::new(clock.clone()),
        Policy::default(),
        Duration::hours(24),
        vec![ConnectionRuntime {
            name: CONNECTION.to_owned(),
            scim_url: sandbox.scim_url(),
            aws_region: scim_sandbox::SANDBOX_REGION.to_owned(),
            graph: GraphClient::new(sandbox.graph_settings(), retry),
        }],
        ScimProbe::new(retry),
    )
}

pub fn member() -> Actor {
    Actor::user(REQUESTER, false)
}

pub fn lead() -> Actor {
    Actor::user(LEAD, true)
}

pub fn other_lead() -> Actor {
    Actor::user(OTHER_LEAD, true)
}
