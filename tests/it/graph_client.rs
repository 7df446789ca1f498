//! The Graph client against the sandbox: real HTTP to the login and Graph fakes, whose
//! model asks the AWS fake whether a token is valid.

use chrono::{Duration as Days, TimeZone, Utc};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use scim_rotator::azure::{
    AzureCredential, ClientCertificate, GraphClient, GraphError, GraphSettings, JobStatus, Service,
};
use scim_rotator::clock::ManualClock;
use scim_rotator::demo::wiring::SandboxGraph;
use scim_rotator::retry::RetryPolicy;
use scim_rotator::secret::ScimToken;
use scim_sandbox::microsoft::JobStatus as FakeJobStatus;
use scim_sandbox::{Fault, Route, Sandbox};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Loopback answers in milliseconds: short waits keep every test well under a second
/// (except those that honour a one-second `Retry-After`).
fn policy() -> RetryPolicy {
    RetryPolicy {
        request_timeout: Duration::from_secs(2),
        max_total: Duration::from_secs(3),
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
    }
}

struct World {
    clock: ManualClock,
    sandbox: Sandbox,
}

impl World {
    async fn new() -> World {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2027, 3, 1, 10, 0, 0).unwrap());
        let sandbox = Sandbox::start(Arc::new(clock.clone())).await;
        World { clock, sandbox }
    }

    fn client(&self) -> GraphClient {
        self.client_with(self.sandbox.graph_settings(), policy())
    }

    fn client_with(&self, settings: GraphSettings, policy: RetryPolicy) -> GraphClient {
        GraphClient::new(settings, policy)
    }

    fn base_address(&self) -> String {
        self.sandbox.scim_url().to_string()
    }

    /// A second token generated in the AWS console: what an approver pastes.
    fn new_token(&self) -> ScimToken {
        let generated = self
            .sandbox
            .aws
            .generate_token(&self.sandbox.aws_tenant)
            .unwrap();
        ScimToken::parse(&generated.secret).unwrap()
    }

    fn count(&self, method: &str, path_suffix: &str) -> usize {
        self.sandbox.microsoft.count(method, path_suffix)
    }

    fn logins(&self) -> usize {
        self.count("POST", "/oauth2/v2.0/token")
    }
}

fn a_wrong_token() -> ScimToken {
    ScimToken::parse(&"NotTheRealToken0".repeat(8)).unwrap()
}

#[tokio::test]
async fn discovery_finds_the_service_principal_and_job_once() {
    let world = World::new().await;
    let client = world.client();
    let ms = &world.sandbox.microsoft;
    let expected = (ms.service_principal_id(), ms.job_id());
    assert!(expected.1.starts_with("aWSSingleSignon."));
    assert_eq!(client.discover().await.unwrap(), expected);
    assert_eq!(client.discover().await.unwrap(), expected);
    client.get_job().await.unwrap();
    assert_eq!(world.count("GET", "/v1.0/servicePrincipals"), 1);
    assert_eq!(world.count("GET", "/synchronization/jobs"), 1);
}

#[tokio::test]
async fn configured_ids_are_used_without_discovery() {
    let world = World::new().await;
    let ms = &world.sandbox.microsoft;
    let settings = GraphSettings {
        service_principal_id: Some(ms.service_principal_id()),
        sync_job_id: Some(ms.job_id()),
        ..world.sandbox.graph_settings()
    };
    let job = world
        .client_with(settings, policy())
        .get_job()
        .await
        .unwrap();
    assert_eq!(job.id, ms.job_id());
    assert_eq!(world.count("GET", "/v1.0/servicePrincipals"), 0);
    assert_eq!(world.count("GET", "/synchronization/jobs"), 0);
}

#[tokio::test]
async fn several_aws_apps_ask_for_a_configured_service_principal() {
    let world = World::new().await;
    let (second_sp, _) = world.sandbox.microsoft.add_aws_app("AWS staging");
    let err = world.client().discover().await.unwrap_err();
    let GraphError::SeveralServicePrincipals { apps } = &err else {
        panic!("expected several apps, got {err:?}");
    };
    assert_eq!(apps.len(), 2);
    assert!(err.to_string().contains(&second_sp));
    assert!(
        err.to_string()
            .ends_with("set service_principal_id in the connection's config")
    );
}

#[tokio::test]
async fn a_new_valid_token_passes_test_connection_without_saving() {
    let world = World::new().await;
    let saved_before = world.sandbox.microsoft.saved_token_fingerprint();
    world
        .client()
        .validate_credentials(&world.base_address(), &world.new_token())
        .await
        .unwrap();
    assert_eq!(world.count("POST", "/validateCredentials"), 1);
    assert_eq!(world.count("PUT", "/synchronization/secrets"), 0);
    assert_eq!(
        world.sandbox.microsoft.saved_token_fingerprint(),
        saved_before
    );
}

#[tokio::test]
async fn a_rejected_token_fails_test_connection_by_error_code() {
    let world = World::new().await;
    let err = world
        .client()
        .validate_credentials(&world.base_address(), &a_wrong_token())
        .await
        .unwrap_err();
    let GraphError::TestConnectionFailed {
        request_id: Some(request_id),
    } = &err
    else {
        panic!("expected a failed Test Connection with a request id, got {err:?}");
    };
    assert_eq!(
        err.to_string(),
        format!("Entra's Test Connection failed: AWS rejected the token (request-id {request_id})")
    );
    assert_eq!(world.count("POST", "/validateCredentials"), 1);
}

#[tokio::test]
async fn an_unreachable_scim_endpoint_is_reported() {
    let world = World::new().await;
    let err = world
        .client()
        .validate_credentials("https://scim.invalid/tenant/scim/v2", &world.new_token())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::TargetUnreachable { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("Entra could not reach the AWS SCIM endpoint")
    );
}

#[tokio::test]
async fn saving_replaces_the_token_and_the_saved_test_tracks_aws() {
    let world = World::new().await;
    let client = world.client();
    let generated = world
        .sandbox
        .aws
        .generate_token(&world.sandbox.aws_tenant)
        .unwrap();
    let token = ScimToken::parse(&generated.secret).unwrap();
    client
        .save_credentials(&world.base_address(), &token)
        .await
        .unwrap();
    let ms = &world.sandbox.microsoft;
    assert_eq!(
        ms.saved_token_fingerprint().as_ref(),
        Some(token.fingerprint())
    );
    assert_eq!(ms.saved_base_address(), Some(world.base_address()));
    client.validate_saved_credentials().await.unwrap();

    // Deleting the token now in use (the wrong one) is caught by the re-test.
    world
        .sandbox
        .aws
        .delete_token(&world.sandbox.aws_tenant, &generated.id)
        .unwrap();
    let err = client.validate_saved_credentials().await.unwrap_err();
    assert!(
        matches!(err, GraphError::TestConnectionFailed { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_quarantined_job_is_started_and_becomes_active() {
    let world = World::new().await;
    let client = world.client();
    let ms = &world.sandbox.microsoft;
    assert_eq!(client.get_job().await.unwrap().status, JobStatus::Active);

    // A year on, the saved token has expired and the next cycle quarantines the job.
    world.clock.advance(Days::days(366));
    assert_eq!(ms.run_provisioning_cycle(), FakeJobStatus::Quarantine);
    let job = client.get_job().await.unwrap();
    assert_eq!(job.status, JobStatus::Quarantine);
    assert_eq!(
        job.quarantine.as_ref().unwrap().reason,
        "EncounteredQuarantineException"
    );
    let problem = job.credential_problem().unwrap();
    assert!(
        problem.starts_with("provisioning is quarantined since 2028-03-01 10:00 UTC"),
        "{problem}"
    );

    client
        .save_credentials(&world.base_address(), &world.new_token())
        .await
        .unwrap();
    client.validate_saved_credentials().await.unwrap();
    assert!(job.status.can_start());
    client.start_job().await.unwrap();

    let job = client.get_job().await.unwrap();
    assert_eq!(job.status, JobStatus::Active);
    assert_eq!(job.quarantine, None);
    assert_eq!(job.last_execution.as_ref().unwrap().state, "Succeeded");
    assert_eq!(job.credential_problem(), None);
    assert_eq!(world.count("POST", "/start"), 1);
}

#[tokio::test]
async fn the_fake_refuses_to_start_a_running_job() {
    let world = World::new().await;
    let err = world.client().start_job().await.unwrap_err();
    assert!(
        matches!(err, GraphError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(world.sandbox.microsoft.job_status(), FakeJobStatus::Active);
}

#[tokio::test]
async fn the_access_token_is_cached_across_calls() {
    let world = World::new().await;
    let client = world.client();
    client.get_job().await.unwrap();
    client.validate_saved_credentials().await.unwrap();
    client.get_job().await.unwrap();
    assert_eq!(world.logins(), 1);
}

#[tokio::test]
async fn an_expired_access_token_is_replaced_by_a_new_login() {
    let world = World::new().await;
    let client = world.client();
    client.get_job().await.unwrap();
    // The fake's clock moves past the token's hour while the client's cache still trusts it.
    world.clock.advance(Days::hours(2));
    client.get_job().await.unwrap();
    assert_eq!(world.logins(), 2);
    assert_eq!(
        world.count(
            "GET",
            &format!("/jobs/{}", world.sandbox.microsoft.job_id())
        ),
        3
    );
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_clearly() {
    let world = World::new().await;
    let settings = GraphSettings {
        credential: AzureCredential::ClientSecret(SecretString::from("not-the-secret")),
        ..world.sandbox.graph_settings()
    };
    let err = world
        .client_with(settings, policy())
        .get_job()
        .await
        .unwrap_err();
    let GraphError::NotAuthenticated { service, code, .. } = &err else {
        panic!("expected a refused login, got {err:?}");
    };
    assert_eq!((*service, code.as_str()), (Service::Login, "AADSTS7000215"));
    assert!(
        err.to_string().starts_with(
            "Microsoft login refused the bot's app registration credentials (AADSTS7000215"
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("not-the-secret"));
    assert_eq!(world.logins(), 1);
    assert_eq!(world.count("GET", "/v1.0/servicePrincipals"), 0);
}

#[tokio::test]
async fn a_federated_token_file_is_read_again_at_each_login() {
    let world = World::new().await;
    let ms = &world.sandbox.microsoft;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "eyJhbGciOiJSUzI1NiJ9.first.sig\n").unwrap();
    ms.set_federated_assertion(Some("eyJhbGciOiJSUzI1NiJ9.first.sig"));
    let settings = GraphSettings {
        credential: AzureCredential::FederatedTokenFile(file.path().to_owned()),
        ..world.sandbox.graph_settings()
    };
    let client = world.client_with(settings, policy());
    client.get_job().await.unwrap();

    // The platform rotates the file; the old access token is revoked.
    std::fs::write(file.path(), "eyJhbGciOiJSUzI1NiJ9.second.sig").unwrap();
    ms.set_federated_assertion(Some("eyJhbGciOiJSUzI1NiJ9.second.sig"));
    ms.revoke_access_tokens();
    client.get_job().await.unwrap();
    assert_eq!(world.logins(), 2);

    let missing = GraphSettings {
        credential: AzureCredential::FederatedTokenFile("/nonexistent/token".into()),
        ..world.sandbox.graph_settings()
    };
    let err = world
        .client_with(missing, policy())
        .get_job()
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::CredentialFile { .. }), "{err:?}");
}

/// A test-only certificate and its PKCS#8 key (see tests/fixtures/README.md), and another.
const CLIENT_CERTIFICATE: &str = include_str!("../fixtures/test-only-client-cert.pem");
const OTHER_CERTIFICATE: &str = include_str!("../fixtures/test-only-other-client-cert.pem");

fn certificate(pem: &str) -> ClientCertificate {
    ClientCertificate::from_pem(&SecretString::from(pem)).unwrap()
}

/// The certificate of `pem` as DER, what uploading it to the app registration gives Entra.
fn certificate_der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

/// Fails if `text` holds any line of either fixture's key or certificate.
fn assert_no_pem_in(text: &str) {
    for pem in [CLIENT_CERTIFICATE, OTHER_CERTIFICATE] {
        for line in pem.lines().filter(|line| !line.starts_with("-----")) {
            assert!(!text.contains(line), "PEM line {line:?} in {text}");
        }
    }
}

#[tokio::test]
async fn a_client_certificate_signs_the_login() {
    let world = World::new().await;
    let ms = &world.sandbox.microsoft;
    let settings = GraphSettings {
        credential: AzureCredential::ClientCertificate(certificate(CLIENT_CERTIFICATE)),
        ..world.sandbox.graph_settings()
    };
    ms.set_client_certificate(Some(&certificate_der(CLIENT_CERTIFICATE)));
    // No secret to fall back on: only the certificate can sign in.
    ms.set_client_secret(None);
    let client = world.client_with(settings, policy());

    let job = client.get_job().await.unwrap();

    assert_eq!(job.id, ms.job_id());
    assert_eq!(ms.certificate_logins(), 1);
    assert_eq!(world.logins(), 1);
    // A new login signs a new assertion.
    ms.revoke_access_tokens();
    client.get_job().await.unwrap();
    assert_eq!(ms.certificate_logins(), 2);
    assert_no_pem_in(&format!("{client:?}"));
}

#[tokio::test]
async fn a_certificate_the_app_does_not_have_is_refused_clearly() {
    let world = World::new().await;
    let ms = &world.sandbox.microsoft;
    let settings = GraphSettings {
        credential: AzureCredential::ClientCertificate(certificate(OTHER_CERTIFICATE)),
        ..world.sandbox.graph_settings()
    };
    let client = world.client_with(settings, policy());

    // Before any certificate is uploaded, and with another one uploaded.
    let none_uploaded = client.get_job().await.unwrap_err();
    ms.set_client_certificate(Some(&certificate_der(CLIENT_CERTIFICATE)));
    let other_uploaded = client.get_job().await.unwrap_err();

    for err in [&none_uploaded, &other_uploaded] {
        let GraphError::NotAuthenticated { service, code, .. } = err else {
            panic!("expected a refused login, got {err:?}");
        };
        assert_eq!((*service, code.as_str()), (Service::Login, "AADSTS700027"));
        assert!(
            err.to_string().starts_with(
                "Microsoft login refused the bot's app registration credentials (AADSTS700027: \
                 the certificate was not accepted: upload it (its public part) to the app \
                 registration under Certificates & secrets, or check azure_client_certificate)"
            ),
            "{err}"
        );
        assert_no_pem_in(&err.to_string());
        assert_no_pem_in(&format!("{err:?}"));
    }
    assert_no_pem_in(&format!("{client:?}"));
    assert_eq!(ms.certificate_logins(), 0);
    assert_eq!(world.logins(), 2);
    assert_eq!(world.count("GET", "/v1.0/servicePrincipals"), 0);
}

#[tokio::test]
async fn a_missing_permission_says_what_to_grant() {
    let world = World::new().await;
    world.sandbox.microsoft.set_permission_granted(false);
    let err = world.client().discover().await.unwrap_err();
    assert!(
        matches!(err, GraphError::PermissionDenied { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("the bot's app registration lacks permission: grant Application.ReadWrite.OwnedBy (and make the app an owner of the AWS IAM Identity Center enterprise app) or Synchronization.ReadWrite.All (Authorization_RequestDenied) (request-id "),
        "{text}"
    );
    assert_eq!(world.count("GET", "/v1.0/servicePrincipals"), 1);
}

#[tokio::test]
async fn throttling_is_waited_out_as_graph_asks() {
    let world = World::new().await;
    world.sandbox.microsoft.faults().push(
        Route::ValidateCredentials,
        Fault::Status {
            code: 429,
            retry_after: Some(1),
            times: 1,
        },
    );
    let started = Instant::now();
    world
        .client()
        .validate_credentials(&world.base_address(), &world.new_token())
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(world.count("POST", "/validateCredentials"), 2);
}

#[tokio::test]
async fn a_login_outage_is_retried() {
    let world = World::new().await;
    world.sandbox.microsoft.faults().push(
        Route::Login,
        Fault::Status {
            code: 503,
            retry_after: None,
            times: 2,
        },
    );
    world.client().get_job().await.unwrap();
    assert_eq!(world.logins(), 3);
}

#[tokio::test]
async fn persistent_server_errors_give_up_and_save_nothing() {
    let world = World::new().await;
    let ms = &world.sandbox.microsoft;
    let saved_before = ms.saved_token_fingerprint();
    ms.faults().push(
        Route::PutSecrets,
        Fault::Status {
            code: 500,
            retry_after: None,
            times: usize::MAX,
        },
    );
    let client = world.client_with(
        world.sandbox.graph_settings(),
        RetryPolicy {
            max_total: Duration::from_millis(300),
            ..policy()
        },
    );
    let started = Instant::now();
    let err = client
        .save_credentials(&world.base_address(), &world.new_token())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    let GraphError::Unavailable {
        service: Service::Graph,
        status: 500,
        attempts,
        ..
    } = err
    else {
        panic!("expected an unavailable Graph, got {err:?}");
    };
    assert!(attempts >= 2, "{attempts}");
    assert_eq!(
        world.count("PUT", "/synchronization/secrets"),
        attempts as usize
    );
    assert!(
        err.to_string().starts_with(&format!(
            "Microsoft Graph kept failing (last answer HTTP 500 UnknownError) through {attempts} attempts (request-id "
        )),
        "{err}"
    );
    assert_eq!(ms.saved_token_fingerprint(), saved_before);
}

#[tokio::test]
async fn a_hung_graph_call_hits_the_request_timeout() {
    let world = World::new().await;
    for _ in 0..3 {
        world
            .sandbox
            .microsoft
            .faults()
            .push(Route::GetJob, Fault::Hang);
    }
    let client = world.client_with(
        world.sandbox.graph_settings(),
        RetryPolicy {
            request_timeout: Duration::from_millis(300),
            max_total: Duration::from_millis(500),
            ..policy()
        },
    );
    client.discover().await.unwrap();
    let started = Instant::now();
    let err = client.get_job().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(
            err,
            GraphError::Timeout {
                service: Service::Graph,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("Microsoft Graph did not answer within 0.3 s"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unknown_job_is_named() {
    let world = World::new().await;
    let settings = GraphSettings {
        service_principal_id: Some(world.sandbox.microsoft.service_principal_id()),
        sync_job_id: Some("aWSSingleSignon.0000.gone".to_owned()),
        ..world.sandbox.graph_settings()
    };
    let err = world
        .client_with(settings, policy())
        .get_job()
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("Microsoft Graph found no synchronization job aWSSingleSignon.0000.gone on service principal"),
        "{err}"
    );
}

#[tokio::test]
async fn the_token_appears_in_no_error_text() {
    let world = World::new().await;
    let raw = "SecretValue+/".repeat(12);
    let token = ScimToken::parse(&raw).unwrap();
    let client = world.client_with(
        world.sandbox.graph_settings(),
        RetryPolicy {
            max_total: Duration::from_millis(100),
            ..policy()
        },
    );
    let mut errors = vec![
        client
            .validate_credentials(&world.base_address(), &token)
            .await
            .unwrap_err(),
    ];
    let ms = &world.sandbox.microsoft;
    for route in [Route::ValidateCredentials, Route::PutSecrets] {
        ms.faults().push(
            route,
            Fault::Status {
                code: 503,
                retry_after: None,
                times: usize::MAX,
            },
        );
    }
    errors.push(
        client
            .validate_credentials(&world.base_address(), &token)
            .await
            .unwrap_err(),
    );
    errors.push(
        client
            .save_credentials(&world.base_address(), &token)
            .await
            .unwrap_err(),
    );
    ms.faults().clear();
    ms.set_permission_granted(false);
    errors.push(
        client
            .save_credentials(&world.base_address(), &token)
            .await
            .unwrap_err(),
    );
    for err in &errors {
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(&raw), "{text}");
            assert!(!text.contains("SecretValue"), "{text}");
        }
    }
    assert!(!format!("{client:?}").contains(&world.sandbox.microsoft.client_secret().unwrap()));
}

#[tokio::test]
async fn the_fake_graph_refuses_wrongly_cased_secret_keys() {
    let world = World::new().await;
    let ms = &world.sandbox.microsoft;
    let http = scim_rotator::outbound::client(Duration::from_secs(5));
    let login = ms
        .login_url()
        .join(&format!("{}/oauth2/v2.0/token", ms.tenant_id()))
        .unwrap();
    let scope = format!("{}/.default", ms.graph_url().origin().ascii_serialization());
    let answer: serde_json::Value = http
        .post(login)
        .form(&[
            ("client_id", ms.client_id()),
            ("client_secret", ms.client_secret().unwrap()),
            ("grant_type", "client_credentials".to_owned()),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = answer["access_token"].as_str().unwrap();
    let secrets = ms
        .graph_url()
        .join(&format!(
            "v1.0/servicePrincipals/{}/synchronization/secrets",
            ms.service_principal_id()
        ))
        .unwrap();
    let put = |key: &'static str| {
        http.put(secrets.clone())
            .bearer_auth(access_token)
            .json(&serde_json::json!({"value": [{"key": key, "value": "https://x"}]}))
            .send()
    };
    assert_eq!(put("baseAddress").await.unwrap().status(), 500);
    assert_eq!(put("BaseAddress").await.unwrap().status(), 204);
    let listed: serde_json::Value = http
        .get(secrets.clone())
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["value"],
        serde_json::json!([{"key": "BaseAddress", "value": "*"}, {"key": "SecretToken", "value": "*"}])
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_login() {
    let world = World::new().await;
    let client = world.client();
    let calls = (0..10).map(|_| client.get_job());
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    assert_eq!(world.logins(), 1, "one login for ten callers");
}

#[tokio::test]
async fn a_hung_login_is_not_answering_after_one_attempt() {
    let world = World::new().await;
    for _ in 0..5 {
        world
            .sandbox
            .microsoft
            .faults()
            .push(Route::Login, Fault::Hang);
    }
    let started = Instant::now();
    let error = world.client().get_job().await.unwrap_err().to_string();
    let took = started.elapsed();
    assert!(
        error.starts_with("Microsoft login is not answering: no answer within 2 s (1 attempt)"),
        "{error}"
    );
    assert_eq!(
        world.logins(),
        1,
        "a login that does not answer is not tried again"
    );
    assert!(took < policy().request_timeout * 2, "took {took:?}");
}

#[tokio::test]
async fn a_caller_joining_a_hung_login_waits_only_for_what_is_left_of_it() {
    let world = World::new().await;
    for _ in 0..5 {
        world
            .sandbox
            .microsoft
            .faults()
            .push(Route::Login, Fault::Hang);
    }
    let client = world.client();
    let first = async {
        let started = Instant::now();
        let result = client.get_job().await;
        (result.is_err(), started.elapsed())
    };
    let second = async {
        // Joins once the first caller's login is under way (as the fake sees it).
        let deadline = Instant::now() + Duration::from_secs(5);
        while world.logins() == 0 {
            assert!(Instant::now() < deadline, "the first login never started");
            tokio::task::yield_now().await;
        }
        let joined = Instant::now();
        let result = client.get_job().await;
        (result.is_err(), joined.elapsed())
    };
    let ((first_failed, first_took), (second_failed, second_waited)) = tokio::join!(first, second);
    assert!(first_failed && second_failed);
    assert_eq!(
        world.logins(),
        1,
        "the second caller joined the first's attempt"
    );
    assert!(
        second_waited <= first_took,
        "the second waited {second_waited:?}, no longer than the attempt it joined ({first_took:?})"
    );
}
