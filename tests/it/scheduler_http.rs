//! The scheduler's HTTP endpoints on the running bot: AWS Health events as an EventBridge API
//! destination sends them, and `/metrics` as Prometheus scrapes it.

use crate::support::app::TestApp;
use crate::support::story::{Setting, story};
use chrono::{TimeZone, Utc};
use scim_rotator::config::{AwsHealthConfig, SlackMode};
use scim_rotator::rotation::ExpirySource;
use scim_sandbox::people::*;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The shared secret configured as `[aws_health] secret`.
const API_KEY: &str = "eventbridge-api-key-0123456789";

/// The bot with `[aws_health]` configured.
fn health_events() -> Setting {
    Setting::over(SlackMode::Http).configured(|config| {
        config.aws_health = Some(AwsHealthConfig {
            secret: SecretString::from(API_KEY),
        });
    })
}

/// An EventBridge AWS Health event for the sandbox's account and region.
fn event(type_code: &str, description: &str, account: &str) -> Value {
    json!({
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "AWS Health Event",
        "source": "aws.health",
        "account": account,
        "time": "2027-02-01T09:00:00Z",
        "region": scim_sandbox::SANDBOX_REGION,
        "resources": [],
        "detail": {
            "eventArn": format!("arn:aws:health:eu-west-1::event/IAMIDENTITYCENTER/{type_code}/{type_code}_1"),
            "service": "IAMIDENTITYCENTER",
            "eventTypeCode": type_code,
            "eventTypeCategory": "accountNotification",
            "eventDescription": [{ "language": "en_US", "latestDescription": description }]
        }
    })
}

fn expiry_event(description: &str) -> Value {
    event(
        scim_rotator::aws::health::SCIM_TOKEN_EXPIRY_EVENT,
        description,
        AWS_ACCOUNT,
    )
}

/// Posts `body` to `/aws/health-events` with `key` as `x-api-key`; (status, body).
async fn post(app: &TestApp, key: Option<&str>, body: &str) -> (u16, String) {
    let client = scim_rotator::outbound::client(std::time::Duration::from_secs(5));
    let mut request = client
        .post(app.url.join("/aws/health-events").unwrap())
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn post_json(app: &TestApp, body: &Value) -> (u16, Value) {
    let (status, text) = post(app, Some(API_KEY), &body.to_string()).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// [`post_json`], checking that the token record is as it was.
async fn post_changing_nothing(app: &TestApp, body: &Value) -> (u16, Value) {
    let before = current_token(app);
    let answer = post_json(app, body).await;
    assert_eq!(current_token(app), before, "the token record changed");
    answer
}

fn current_token(app: &TestApp) -> scim_rotator::rotation::TokenRecord {
    app.app
        .engine
        .store()
        .current_token(CONNECTION)
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn an_expiry_event_with_a_date_corrects_the_token_and_warns_at_once() {
    health_events()
        .run(async |app| {
            let registered = current_token(app).expires_at.unwrap();
            let (status, answer) = post_json(
        app,
        &expiry_event(
            "Your SCIM access token for AWS IAM Identity Center expires on February 8, 2027. \
             Generate a new token before then.",
        ),
    )
    .await;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["result"], "processed");
            assert_eq!(answer["connections"][0]["result"], "recorded");
            assert_eq!(answer["connections"][0]["connection"], CONNECTION);

            let token = current_token(app);
            let announced = Utc.with_ymd_and_hms(2027, 2, 8, 0, 0, 0).unwrap();
            assert_eq!(token.expires_at, Some(announced));
            assert_eq!(token.source, ExpirySource::AwsHealth);
            let corrected = app
                .audit_record("token_expiry_corrected")
                .expect("the correction is audited");
            assert_eq!(corrected.details["details"]["previous"], json!(registered));
            assert_eq!(corrected.details["details"]["date"], "February 8, 2027");

            // 6 days and 15 hours left: the 7-day threshold is crossed, and the warning goes out.
            let warning = app
                .slack()
                .wait_until(crate::support::DEADLINE, |slack| {
                    slack
                        .messages(CHANNEL)
                        .into_iter()
                        .find(|m| m.text.contains("expires in 6 days"))
                })
                .await
                .expect("a warning for the new date");
            assert!(warning.thread_ts.is_none());

            // AWS repeats the notice: nothing changes, nothing more is posted.
            let posts_before = app.slack().calls_to("chat.postMessage").len();
            let (status, again) = post_json(
                app,
                &expiry_event("Your SCIM access token expires on 2027-02-08."),
            )
            .await;
            assert_eq!(status, 200);
            assert_eq!(again["connections"][0]["result"], "unchanged");
            assert_eq!(current_token(app).expires_at, Some(announced));
            assert_eq!(app.slack().calls_to("chat.postMessage").len(), posts_before);
        })
        .await;
}

#[tokio::test]
async fn an_expiry_event_without_a_date_changes_nothing() {
    health_events()
        .run(async |app| {
            let (status, answer) = post_changing_nothing(
                app,
                &expiry_event("Your SCIM access token will expire soon. Rotate it."),
            )
            .await;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["connections"][0]["result"], "no_date");
        })
        .await;
}

#[tokio::test]
async fn other_event_types_are_accepted_and_ignored() {
    health_events()
        .run(async |app| {
            let (status, answer) = post_changing_nothing(
                app,
                &event(
                    "AWS_EC2_INSTANCE_STORE_DRIVE_PERFORMANCE_DEGRADED",
                    "expires on February 8, 2027",
                    AWS_ACCOUNT,
                ),
            )
            .await;
            assert_eq!(status, 202, "{answer}");
            assert_eq!(answer["result"], "ignored");
        })
        .await;
}

#[tokio::test]
async fn an_event_for_an_unknown_account_is_ignored() {
    health_events()
        .run(async |app| {
            let (status, answer) = post_changing_nothing(
                app,
                &event(
                    scim_rotator::aws::health::SCIM_TOKEN_EXPIRY_EVENT,
                    "expires on February 8, 2027",
                    "999999999999",
                ),
            )
            .await;
            assert_eq!(status, 202, "{answer}");
            assert_eq!(answer["result"], "ignored");
            assert!(
                answer["reason"].as_str().unwrap().contains("999999999999"),
                "{answer}"
            );
        })
        .await;
}

#[tokio::test]
async fn a_missing_or_wrong_api_key_is_refused_before_the_body_is_read() {
    health_events()
        .run(async |app| {
            let before = current_token(app);
            let body = expiry_event("expires on February 8, 2027").to_string();
            for key in [
                None,
                Some("wrong"),
                Some(""),
                Some(&API_KEY[..API_KEY.len() - 1]),
            ] {
                let (status, text) = post(app, key, &body).await;
                assert_eq!(status, 401, "{key:?}");
                assert_eq!(text, "missing or wrong x-api-key");
            }
            // Even a malformed body gets 401, not 400: nothing is read without the key.
            assert_eq!(post(app, Some("wrong"), "{").await.0, 401);
            assert_eq!(current_token(app), before);
        })
        .await;
}

#[tokio::test]
async fn malformed_json_gets_400_with_a_short_reason() {
    health_events()
        .run(async |app| {
            let (status, text) = post(app, Some(API_KEY), "{\"detail\": {").await;
            assert_eq!(status, 400);
            assert_eq!(text, "malformed JSON at line 1, column 12");
            let (status, text) = post(app, Some(API_KEY), "{\"source\": \"aws.health\"}").await;
            assert_eq!(status, 400);
            assert_eq!(text, "not an EventBridge event: no detail object");
            let (status, _) = post(app, Some(API_KEY), "").await;
            assert_eq!(status, 400);
        })
        .await;
}

#[tokio::test]
async fn without_an_aws_health_secret_the_endpoint_is_not_found() {
    story(async |app| {
        let (status, text) = post(app, Some(API_KEY), "{}").await;
        assert_eq!(status, 404);
        assert!(text.contains("[aws_health]"), "{text}");
    })
    .await;
}

/// `name{label="value",…} value` lines of the exposition, by name and labels.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            (series.to_owned(), value.parse().expect("a numeric value"))
        })
        .collect()
}

#[tokio::test]
async fn metrics_are_served_in_the_prometheus_text_format() {
    story(async |app| {
        // One sweep: the 14-day warning is posted, Graph is read.
        app.app
            .scheduler
            .sweep(scim_rotator::clock::Clock::now(&app.clock))
            .await;
        let client = scim_rotator::outbound::client(std::time::Duration::from_secs(5));
        let response = client
            .get(app.url.join("/metrics").unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        let text = response.text().await.unwrap();
        assert!(
            text.ends_with("# EOF\n"),
            "OpenMetrics ends with # EOF:\n{text}"
        );
        for line in text.lines().filter(|l| l.starts_with('#') && *l != "# EOF") {
            assert!(
                line.starts_with("# HELP scim_rotator_")
                    || line.starts_with("# TYPE scim_rotator_"),
                "{line}"
            );
        }
        let samples = samples(&text);
        let get = |series: &str| {
            *samples
                .get(series)
                .unwrap_or_else(|| panic!("{series} missing from:\n{text}"))
        };
        assert_eq!(
            get(r#"scim_rotator_token_days_until_expiry{connection="prod-org"}"#),
            10.0
        );
        assert_eq!(
            get(r#"scim_rotator_token_expiry_known{connection="prod-org"}"#),
            1.0
        );
        assert_eq!(
            get(r#"scim_rotator_rotations{state="AwaitingApproval"}"#),
            0.0
        );
        // The counters are this app's own (there is no process-wide instance).
        assert!(get("scim_rotator_sweeps_total") >= 1.0);
        assert!(get(r#"scim_rotator_warnings_sent_total{kind="expiry_threshold"}"#) >= 1.0);
        assert!(get("scim_rotator_graph_calls_total") >= 1.0);
        assert!(get(r#"scim_rotator_slack_calls_total{method="chat.postMessage"}"#) >= 1.0);
    })
    .await;
}

#[tokio::test]
async fn a_later_date_from_aws_rearms_the_warnings_not_yet_due() {
    health_events()
        .run(async |app| {
            // The registered date says 10 days left: the 14-day warning goes out.
            let first = app
                .app
                .scheduler
                .sweep(scim_rotator::clock::Clock::now(&app.clock))
                .await;
            assert_eq!(first.posted(), 1, "{:?}", first.lines());

            // AWS knows better: the token expires at the end of April.
            let (status, answer) = post_json(
                app,
                &expiry_event("Your SCIM access token expires on April 30, 2027."),
            )
            .await;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["connections"][0]["result"], "recorded");
            let rearmed = app
                .audit_record("expiry_warnings_rearmed")
                .expect("the re-arming is audited");
            assert_eq!(rearmed.details["details"]["thresholds"], json!(["d14"]));

            // 28 days before the real date, the 30-day warning is posted as a new message.
            app.clock
                .set(Utc.with_ymd_and_hms(2027, 4, 1, 9, 0, 0).unwrap());
            let later = app
                .app
                .scheduler
                .sweep(scim_rotator::clock::Clock::now(&app.clock))
                .await;
            assert_eq!(later.posted(), 1, "{:?}", later.lines());
            let tops: Vec<_> = app
                .slack()
                .messages(CHANNEL)
                .into_iter()
                .filter(|m| m.thread_ts.is_none())
                .collect();
            let newest = &tops.last().unwrap().text;
            assert!(newest.contains("expires in 28 days"), "{newest}");
            assert_eq!(tops.len(), 2, "the corrected date starts a new cycle");
        })
        .await;
}

/// AWS's one published expiry notice, with its masked date filled in.
fn published_notice(date: &str) -> String {
    format!(
        "The SCIM access token used to automatically provision users and groups from your IdP to IAM Identity Center expires in 89 days on {date}."
    )
}

#[tokio::test]
async fn the_published_aws_notice_sets_the_expiry_with_or_without_a_weekday() {
    health_events()
        .run(async |app| {
            for (date, expected) in [
                (
                    "Sat May 01 09:00:00 UTC 2027",
                    Utc.with_ymd_and_hms(2027, 5, 1, 9, 0, 0).unwrap(),
                ),
                (
                    "May 02 09:00:00 GMT 2027",
                    Utc.with_ymd_and_hms(2027, 5, 2, 9, 0, 0).unwrap(),
                ),
            ] {
                let (status, answer) = post_json(app, &expiry_event(&published_notice(date))).await;
                assert_eq!(status, 200, "{answer}");
                assert_eq!(answer["connections"][0]["result"], "recorded", "{date}");
                let token = current_token(app);
                assert_eq!(token.expires_at, Some(expected), "{date}");
                assert_eq!(token.source, ExpirySource::AwsHealth);
            }
            // The notice as published (date masked) and a local-time zone are not guessed at.
            let before = current_token(app);
            for masked in ["xxx xx:xx:xx UTC yyyy", "May 03 09:00:00 PST 2027"] {
                let (status, answer) =
                    post_json(app, &expiry_event(&published_notice(masked))).await;
                assert_eq!(status, 200, "{answer}");
                assert_ne!(answer["connections"][0]["result"], "recorded", "{masked}");
                assert_eq!(current_token(app), before, "{masked}");
            }
        })
        .await;
}

#[tokio::test]
async fn an_event_not_sent_as_json_is_refused_with_415_and_changes_nothing() {
    health_events()
        .run(async |app| {
            let before = current_token(app);
            let body = expiry_event("Your SCIM access token expires on 2027-02-08.").to_string();
            let client = scim_rotator::outbound::client(std::time::Duration::from_secs(5));
            for content_type in [
                Some("text/plain"),
                Some("application/x-www-form-urlencoded"),
                None,
            ] {
                let mut request = client
                    .post(app.url.join("/aws/health-events").unwrap())
                    .header("x-api-key", API_KEY)
                    .body(body.clone());
                if let Some(content_type) = content_type {
                    request = request.header("content-type", content_type);
                }
                let response = request.send().await.unwrap();
                assert_eq!(response.status().as_u16(), 415, "{content_type:?}");
                assert!(
                    response.text().await.unwrap().contains("application/json"),
                    "the answer says what to send"
                );
                assert_eq!(current_token(app), before, "{content_type:?}");
            }
            // EventBridge's own header (with a charset) is accepted.
            let response = client
                .post(app.url.join("/aws/health-events").unwrap())
                .header("x-api-key", API_KEY)
                .header("content-type", "application/json; charset=utf-8")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 200);
        })
        .await;
}

#[tokio::test]
async fn an_expiry_event_warns_at_once_while_a_sweep_waits_on_a_hung_microsoft() {
    health_events()
        .run(async |app| {
            let microsoft = &app.world.cloud.microsoft;
            for _ in 0..20 {
                microsoft
                    .faults()
                    .push(scim_sandbox::Route::Login, scim_sandbox::Fault::Hang);
            }
            // The sweep reads the Entra job, logs in first, and hangs there.
            let scheduler = std::sync::Arc::clone(&app.app.scheduler);
            let now = app.app.engine.now();
            let sweep = tokio::spawn(async move { scheduler.sweep(now).await });
            let deadline = tokio::time::Instant::now() + crate::support::DEADLINE;
            while !microsoft
                .requests()
                .iter()
                .any(|r| r.path.ends_with("/oauth2/v2.0/token"))
            {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the sweep never logged in"
                );
                tokio::task::yield_now().await;
            }

            let (status, answer) = post_json(
                app,
                &expiry_event("Your SCIM access token expires on 2027-02-08."),
            )
            .await;
            assert_eq!(status, 200, "{answer}");
            app.slack()
                .wait_until(crate::support::DEADLINE, |slack| {
                    slack
                        .messages(CHANNEL)
                        .into_iter()
                        .find(|m| m.text.contains("expires in 6 days"))
                })
                .await
                .expect("a warning for the new date");
            assert!(
                !sweep.is_finished(),
                "the warning waited for the sweep stuck on Microsoft"
            );
            sweep.abort();
        })
        .await;
}
