//! The AWS SCIM probe against the AWS fake: real HTTP on loopback, a model of the tokens.

use chrono::{Duration as Days, TimeZone, Utc};
use scim_rotator::aws::{ProbeError, ScimProbe};
use scim_rotator::clock::ManualClock;
use scim_rotator::retry::RetryPolicy;
use scim_rotator::secret::ScimToken;
use scim_sandbox::aws::{FakeAws, FakeError, GeneratedToken};
use scim_sandbox::{Fault, Route};
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

/// Loopback answers in milliseconds: short waits keep every test well under a second
/// (except the one that honours a one-second `Retry-After`).
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
    aws: FakeAws,
    tenant: String,
    token: GeneratedToken,
}

impl World {
    async fn new() -> World {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2027, 3, 1, 10, 0, 0).unwrap());
        let aws = FakeAws::start(Arc::new(clock.clone())).await;
        let tenant = aws.add_tenant("eu-west-1");
        let token = aws.generate_token(&tenant).unwrap();
        World {
            clock,
            aws,
            tenant,
            token,
        }
    }

    fn scim_url(&self) -> Url {
        self.aws.scim_url(&self.tenant)
    }

    fn token(&self) -> ScimToken {
        ScimToken::parse(&self.token.secret).unwrap()
    }

    async fn probe(&self, policy: RetryPolicy) -> Result<(), ProbeError> {
        ScimProbe::new(policy)
            .check(&self.scim_url(), &self.token())
            .await
    }

    fn probes_sent(&self) -> usize {
        self.aws.count("GET", "/scim/v2/ServiceProviderConfig")
    }
}

#[tokio::test]
async fn a_valid_token_passes() {
    let world = World::new().await;
    world.probe(policy()).await.unwrap();
    assert_eq!(world.probes_sent(), 1);
    let sent = &world.aws.requests()[0];
    assert_eq!(
        sent.path,
        format!("/{}/scim/v2/ServiceProviderConfig", world.tenant)
    );
}

#[tokio::test]
async fn a_rejected_token_is_explained_without_retrying() {
    let world = World::new().await;
    let other = ScimToken::parse(&"Wrong0Token1".repeat(10)).unwrap();
    let err = ScimProbe::new(policy())
        .check(&world.scim_url(), &other)
        .await
        .unwrap_err();
    assert_eq!(err, ProbeError::Unauthorized);
    assert_eq!(
        err.to_string(),
        "AWS rejected this token (or the SCIM endpoint's tenant id is wrong)"
    );
    assert_eq!(world.probes_sent(), 1);
}

#[tokio::test]
async fn an_unknown_tenant_looks_like_a_rejected_token() {
    let world = World::new().await;
    let wrong_tenant = world.aws.scim_url("not-a-tenant");
    let err = ScimProbe::new(policy())
        .check(&wrong_tenant, &world.token())
        .await
        .unwrap_err();
    assert_eq!(err, ProbeError::Unauthorized);
}

#[tokio::test]
async fn deleted_and_expired_tokens_are_rejected() {
    let world = World::new().await;
    world
        .aws
        .delete_token(&world.tenant, &world.token.id)
        .unwrap();
    assert_eq!(world.probe(policy()).await, Err(ProbeError::Unauthorized));

    let fresh = world.aws.generate_token(&world.tenant).unwrap();
    let fresh_token = ScimToken::parse(&fresh.secret).unwrap();
    let probe = ScimProbe::new(policy());
    world.clock.advance(Days::days(364));
    probe.check(&world.scim_url(), &fresh_token).await.unwrap();
    world.clock.advance(Days::days(1));
    assert_eq!(
        probe.check(&world.scim_url(), &fresh_token).await,
        Err(ProbeError::Unauthorized)
    );
}

#[tokio::test]
async fn throttling_is_waited_out_as_aws_asks() {
    let world = World::new().await;
    world.aws.faults().push(
        Route::ScimServiceProviderConfig,
        Fault::Status {
            code: 429,
            retry_after: Some(1),
            times: 1,
        },
    );
    let started = Instant::now();
    world.probe(policy()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(world.probes_sent(), 2);
}

#[tokio::test]
async fn persistent_server_errors_give_up_within_the_budget() {
    let world = World::new().await;
    world.aws.faults().push(
        Route::ScimServiceProviderConfig,
        Fault::Status {
            code: 500,
            retry_after: None,
            times: usize::MAX,
        },
    );
    let started = Instant::now();
    let err = world
        .probe(RetryPolicy {
            max_total: Duration::from_millis(300),
            ..policy()
        })
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    let ProbeError::Failing {
        status: 500,
        attempts,
        ..
    } = err
    else {
        panic!("expected a failing endpoint, got {err:?}");
    };
    assert!(attempts >= 2, "{attempts}");
    assert_eq!(world.probes_sent(), attempts as usize);
    assert!(
        err.to_string().starts_with(&format!(
            "the AWS SCIM endpoint is failing (HTTP 500, {attempts} attempts)"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_hung_endpoint_hits_the_request_timeout() {
    let world = World::new().await;
    for _ in 0..3 {
        world
            .aws
            .faults()
            .push(Route::ScimServiceProviderConfig, Fault::Hang);
    }
    let started = Instant::now();
    let err = world
        .probe(RetryPolicy {
            request_timeout: Duration::from_millis(300),
            max_total: Duration::from_millis(500),
            ..policy()
        })
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(err, ProbeError::Timeout { timeout, .. } if timeout == Duration::from_millis(300)),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("the AWS SCIM endpoint did not answer within 0.3 s"),
        "{err}"
    );
}

#[tokio::test]
async fn one_hang_is_retried_and_then_passes() {
    let world = World::new().await;
    world
        .aws
        .faults()
        .push(Route::ScimServiceProviderConfig, Fault::Hang);
    world
        .probe(RetryPolicy {
            request_timeout: Duration::from_millis(300),
            ..policy()
        })
        .await
        .unwrap();
    assert_eq!(world.probes_sent(), 2);
}

#[tokio::test]
async fn access_denied_is_explained() {
    let world = World::new().await;
    world.aws.faults().push(
        Route::ScimServiceProviderConfig,
        Fault::Status {
            code: 403,
            retry_after: None,
            times: 1,
        },
    );
    let err = world.probe(policy()).await.unwrap_err();
    assert!(matches!(err, ProbeError::AccessDenied { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("AWS denied access to the SCIM endpoint (HTTP 403)"),
        "{err}"
    );
    assert_eq!(world.probes_sent(), 1);
}

#[tokio::test]
async fn an_unreachable_host_is_named() {
    let world = World::new().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let url = Url::parse(&format!("http://{closed}/tenant/scim/v2")).unwrap();
    let err = ScimProbe::new(RetryPolicy {
        max_total: Duration::from_millis(200),
        ..policy()
    })
    .check(&url, &world.token())
    .await
    .unwrap_err();
    let ProbeError::Unreachable { host, cause, .. } = &err else {
        panic!("expected unreachable, got {err:?}");
    };
    assert_eq!(host, &closed.to_string());
    assert_eq!(cause, "connection refused");
    assert!(
        err.to_string()
            .starts_with(&format!("cannot reach {closed}"))
    );
}

#[tokio::test]
async fn the_token_appears_in_no_error_text() {
    let world = World::new().await;
    let secret = world.token.secret.clone();
    let mut errors = Vec::new();
    world.aws.faults().push(
        Route::ScimServiceProviderConfig,
        Fault::Status {
            code: 403,
            retry_after: None,
            times: 1,
        },
    );
    errors.push(world.probe(policy()).await.unwrap_err());
    world.aws.faults().push(
        Route::ScimServiceProviderConfig,
        Fault::Status {
            code: 503,
            retry_after: None,
            times: usize::MAX,
        },
    );
    errors.push(
        world
            .probe(RetryPolicy {
                max_total: Duration::from_millis(100),
                ..policy()
            })
            .await
            .unwrap_err(),
    );
    world.aws.faults().clear();
    world
        .aws
        .delete_token(&world.tenant, &world.token.id)
        .unwrap();
    errors.push(world.probe(policy()).await.unwrap_err());
    for err in &errors {
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(&secret), "{text}");
            assert!(!text.contains(&secret[..24]), "{text}");
        }
    }
    assert!(!format!("{:?}", world.token).contains(&secret));
}

#[tokio::test]
async fn a_directory_holds_at_most_two_live_tokens() {
    let world = World::new().await;
    let second = world.aws.generate_token(&world.tenant).unwrap();
    let refused = world.aws.generate_token(&world.tenant).unwrap_err();
    assert_eq!(refused, FakeError::TooManyTokens);
    assert!(refused.to_string().contains("up to two access tokens"));

    world
        .aws
        .delete_token(&world.tenant, &world.token.id)
        .unwrap();
    let third = world.aws.generate_token(&world.tenant).unwrap();
    let listed = world.aws.tokens(&world.tenant);
    let ids: Vec<&str> = listed.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, [&world.token.id, &second.id, &third.id]);
    assert!(listed[0].deleted.is_some());
    assert_eq!(listed[1].expires, second.created + Days::days(365));
    assert!(second.secret.len() >= 100 && second.secret != third.secret);
}
