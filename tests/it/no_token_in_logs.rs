//! No secret reaches a log line, at any level, from our code or the HTTP stack below it.
//!
//! Runs in a process of its own (`support::isolated`): tracing caches per call site whether
//! anyone listens, so a thread-local subscriber set while other tests run can miss lines.

use crate::support::hygiene::Capture;
use chrono::{TimeZone, Utc};
use scim_rotator::azure::GraphClient;
use scim_rotator::clock::ManualClock;
use scim_rotator::demo::wiring::SandboxGraph;
use scim_rotator::retry::RetryPolicy;
use scim_rotator::secret::ScimToken;
use scim_sandbox::{Fault, Route, Sandbox};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn no_secret_appears_in_any_log_line() {
    crate::support::isolated::run("no_token_in_logs::no_secret_appears_in_any_log_line_alone");
}

#[tokio::test]
#[ignore = "installs a log subscriber: run alone by `no_secret_appears_in_any_log_line`"]
async fn no_secret_appears_in_any_log_line_alone() {
    if !crate::support::isolated::inside() {
        return;
    }
    let logs = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let clock = ManualClock::new(Utc.with_ymd_and_hms(2027, 3, 1, 10, 0, 0).unwrap());
    let sandbox = Sandbox::start(Arc::new(clock)).await;
    let client = GraphClient::new(
        sandbox.graph_settings(),
        RetryPolicy {
            request_timeout: Duration::from_secs(2),
            max_total: Duration::from_secs(3),
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
        },
    );
    let base_address = sandbox.scim_url().to_string();
    let token = ScimToken::parse(&"LoggedNever0".repeat(10)).unwrap();
    // Test Connection (refused), then a save that needs a retry.
    let _ = client.validate_credentials(&base_address, &token).await;
    sandbox.microsoft.faults().push(
        Route::PutSecrets,
        Fault::Status {
            code: 502,
            retry_after: None,
            times: 1,
        },
    );
    client
        .save_credentials(&base_address, &token)
        .await
        .unwrap();

    let text = logs.text();
    assert!(text.contains("Graph request"), "debug lines were captured");
    assert!(text.contains(token.fingerprint().as_str()));
    assert!(!text.contains("LoggedNever0"), "{text}");
    let client_secret = sandbox.microsoft.client_secret().unwrap();
    assert!(!text.contains(&client_secret), "{text}");
    assert!(!text.contains("eyJ0eXAi"), "no Graph access token: {text}");
    assert!(!text.contains(&sandbox.current_token.secret), "{text}");
}
