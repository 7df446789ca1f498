//! The one-time web form (`[intake]`): the token entered in a browser instead of Slack.
//!
//! The whole rotation runs in headless Chromium (`support::browser`); the refusals and the
//! headers are checked over plain HTTP, each time proving that nothing changed.

use crate::support::DEADLINE;
use crate::support::app::TestApp;
use crate::support::browser::Browser;
use crate::support::story::Setting;
use scim_rotator::config::SlackMode;
use scim_rotator::demo::wiring::enable_web_form;
use scim_rotator::rotation::{Rotation, RotationState};
use scim_rotator::slack::ids;
use scim_sandbox::people::*;

/// The bot with `[intake] web_form = true` and the modal as `slack_modal` says.
fn start(slack_modal: bool) -> Setting {
    Setting::over(SlackMode::Http).configured(move |config| {
        enable_web_form(config, slack_modal).unwrap();
    })
}

/// A rotation approved by the lead; returns the thread's ts and the step-1 message's ts.
async fn approved(app: &TestApp) -> (String, String) {
    let (_, approval) = app.rotate_by_command(&app.url, MEMBER).await;
    app.slack()
        .click(&app.url, LEAD, CHANNEL, &approval.ts, ids::APPROVE)
        .await
        .unwrap();
    let step1 = app.wait_for_button(&approval.ts, ids::ENTER_TOKEN).await;
    (approval.ts, step1.ts)
}

/// The lead clicks *Enter new token*; returns the link from the ephemeral answer (the
/// `n`-th such answer, counting from 1).
async fn ask_for_link(app: &TestApp, step1: &str, n: usize) -> String {
    app.slack()
        .click(&app.url, LEAD, CHANNEL, step1, ids::ENTER_TOKEN)
        .await
        .unwrap();
    let text = app
        .slack()
        .wait_until(DEADLINE, move |slack| {
            let links: Vec<String> = slack
                .ephemerals()
                .into_iter()
                .filter(|e| e.user == LEAD && e.text.contains("/intake/"))
                .map(|e| e.text)
                .collect();
            links.get(n - 1).cloned()
        })
        .await
        .expect("the lead gets an ephemeral message with the link");
    let start = text.find("<http").expect("a link in the message") + 1;
    let end = start + text[start..].find('|').unwrap();
    text[start..end].to_owned()
}

fn rotation(app: &TestApp) -> Rotation {
    app.app.engine.store().latest_rotations().unwrap()[0].clone()
}

fn refusals(app: &TestApp) -> Vec<String> {
    app.app
        .engine
        .store()
        .audit_records(&Default::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "intake_link_refused")
        .map(|r| r.details["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// What a refusal must leave alone: the rotation, Slack, AWS and Entra.
struct Untouched {
    rotation: Rotation,
    slack_calls: usize,
    aws: usize,
    graph: usize,
}

impl Untouched {
    fn now(app: &TestApp) -> Untouched {
        Untouched {
            rotation: rotation(app),
            slack_calls: app.slack().calls().len(),
            aws: app.world.cloud.aws.requests().len(),
            graph: app.world.cloud.microsoft.requests().len(),
        }
    }

    fn still(&self, app: &TestApp, what: &str) {
        assert_eq!(rotation(app), self.rotation, "{what} changed the rotation");
        assert_eq!(
            app.slack().calls().len(),
            self.slack_calls,
            "{what} made Slack calls"
        );
        assert_eq!(
            app.world.cloud.aws.requests().len(),
            self.aws,
            "{what} reached AWS"
        );
        assert_eq!(
            app.world.cloud.microsoft.requests().len(),
            self.graph,
            "{what} reached Entra"
        );
    }
}

fn http() -> reqwest::Client {
    scim_rotator::outbound::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Opens the form over HTTP; returns the CSRF value in it.
async fn csrf_of(link: &str) -> String {
    let page = http().get(link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

async fn post(link: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = http().post(link).form(form).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_whole_rotation_through_the_form_in_a_browser_leaves_the_token_nowhere() {
    crate::support::isolated::run(
        "web_form::a_whole_rotation_through_the_form_in_a_browser_leaves_the_token_nowhere_alone",
    );
}

#[tokio::test]
#[ignore = "installs a log subscriber: run alone by its namesake without _alone"]
async fn a_whole_rotation_through_the_form_in_a_browser_leaves_the_token_nowhere_alone() {
    if !crate::support::isolated::inside() {
        return;
    }
    let logs = crate::support::hygiene::capture_all_logs();
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::start_with(SlackMode::Http, |config| {
        enable_web_form(config, false).unwrap();
    })
    .await;
    let (thread, step1) = approved(&app).await;
    let old = app.world.cloud.current_token.clone();

    // Form only: no modal opens, the lead gets the link.
    let link = ask_for_link(&app, &step1, 1).await;
    assert!(
        app.slack().open_views(LEAD).is_empty(),
        "no modal with slack_modal = false"
    );
    let code = link.rsplit('/').next().unwrap();
    assert_eq!(code.len(), 32, "128 random bits, hex: {link}");

    browser.open(&link).await;
    let page = browser.wait_for_text("New SCIM token for").await;
    for shown in [
        CONNECTION,
        old.id.as_str(),
        "IAM Identity Center",
        "Rotation #1",
    ] {
        assert!(page.contains(shown), "the page shows {shown}:\n{page}");
    }
    assert_eq!(
        browser
            .attribute_of("Access token", "type")
            .await
            .as_deref(),
        Some("password")
    );
    assert_eq!(
        browser
            .attribute_of("Access token", "autocomplete")
            .await
            .as_deref(),
        Some("off")
    );
    browser.screenshot("web-form-1-opened").await;

    // A malformed token is shown again inline; nothing is sent anywhere.
    let aws_before = app.world.cloud.aws.requests().len();
    browser.fill("Access token", "short").await;
    browser.click("Check and save the token").await;
    browser
        .wait_for_text("too short to be an access token")
        .await;
    assert_eq!(app.world.cloud.aws.requests().len(), aws_before);
    assert_eq!(rotation(&app).state, RotationState::AwaitingNewToken);
    browser.screenshot("web-form-2-inline-error").await;

    // A token AWS does not know: the checks fail, and the page says so without a reload.
    let typo = "tYpOtOkEn-0000000000000000000000000000000000000000";
    browser.fill("Access token", typo).await;
    browser.click("Check and save the token").await;
    browser.wait_for_text("ask for a new link").await;
    let failed = browser.text().await;
    assert!(failed.contains("The checks stopped"), "{failed}");
    assert_eq!(rotation(&app).state, RotationState::AwaitingNewToken);
    browser.screenshot("web-form-3-wrong-token").await;

    // Retry: a new link, the right token, and the page follows the checks to the end.
    let second = ask_for_link(&app, &step1, 2).await;
    assert_ne!(second, link);
    let new = app
        .world
        .cloud
        .aws
        .generate_token(&app.world.cloud.aws_tenant)
        .unwrap();
    browser.open(&second).await;
    browser.fill("Access token", &new.secret).await;
    browser.fill("Token id", &new.id).await;
    browser.click("Check and save the token").await;
    let done = browser.wait_for_text("The new token works").await;
    assert!(done.contains("saved credentials verified"), "{done}");
    assert!(done.contains("step 2 in the Slack thread"), "{done}");
    browser.screenshot("web-form-4-success").await;
    assert_eq!(
        app.world.cloud.microsoft.saved_token_fingerprint(),
        Some(new.fingerprint())
    );

    // Used: another browser (no watch cookie) gets "already used"; this one sees progress.
    browser.forget_cookies().await;
    browser.open(&second).await;
    browser.wait_for_text("This link was already used").await;
    assert!(browser.text().await.contains("Enter new token"));
    browser.screenshot("web-form-5-reused").await;

    // Step 2 in Slack, as always.
    let step2 = app.wait_for_button(&thread, ids::CONFIRM_DELETED).await;
    app.world
        .cloud
        .aws
        .delete_token(&app.world.cloud.aws_tenant, &old.id)
        .unwrap();
    app.slack()
        .click(&app.url, LEAD, CHANNEL, &step2.ts, ids::CONFIRM_DELETED)
        .await
        .unwrap();
    app.slack()
        .wait_until(DEADLINE, |slack| {
            slack
                .thread(CHANNEL, &thread)
                .into_iter()
                .find(|m| m.text.to_lowercase().contains("complete"))
        })
        .await
        .expect("a completion summary in the thread");
    assert_eq!(rotation(&app).state, RotationState::Completed);
    assert!(app.app.engine.drain(DEADLINE).await);
    drop(browser);

    let actions: Vec<String> = app.audit_actions().into_iter().map(|(_, a)| a).collect();
    for action in [
        "intake_link_issued",
        "intake_link_used",
        "intake_link_refused",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action} audited");
    }

    // The token is nowhere: Slack's traffic both ways, the database files, the logs.
    let mut slack_traffic = app.slack().all_bot_output();
    for delivery in app.slack().deliveries() {
        slack_traffic.push_str(&delivery.request);
    }
    let log_text = logs.text();
    assert!(
        log_text.contains("web form link issued"),
        "logs were captured"
    );
    let mut files = Vec::new();
    for entry in std::fs::read_dir(app.db_dir()).unwrap() {
        let path = entry.unwrap().path();
        files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
    }
    assert!(
        files.iter().any(|(name, _)| name.ends_with("-wal")),
        "the WAL is searched too: {:?}",
        files.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for secret in [typo, new.secret.as_str()] {
        assert!(!slack_traffic.contains(secret), "token in Slack's traffic");
        assert!(!log_text.contains(secret), "token in the logs");
        for (name, bytes) in &files {
            assert!(!contains(bytes, secret.as_bytes()), "token in {name}");
        }
    }
}

#[tokio::test]
async fn the_page_passes_the_header_check_and_holds_no_external_asset() {
    start(false)
        .run(async |app| {
            let (_, step1) = approved(app).await;
            let link = ask_for_link(app, &step1, 1).await;
            let response = http().get(&link).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let headers = response.headers().clone();
            let html = response.text().await.unwrap();
            let header = |name: &str| {
                headers
                    .get(name)
                    .unwrap_or_else(|| panic!("no {name} header"))
                    .to_str()
                    .unwrap()
                    .to_owned()
            };
            let csp = header("content-security-policy");
            let nonce_at = html.find("<style nonce=\"").unwrap() + 14;
            let nonce = &html[nonce_at..nonce_at + html[nonce_at..].find('"').unwrap()];
            assert_eq!(
                csp,
                format!(
                    "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
                )
            );
            assert_eq!(header("cache-control"), "no-store");
            assert_eq!(header("referrer-policy"), "no-referrer");
            assert_eq!(header("x-frame-options"), "DENY");
            assert_eq!(header("x-content-type-options"), "nosniff");
            assert!(
                headers.get("strict-transport-security").is_none(),
                "no HSTS over plain http"
            );

            // No asset from anywhere: no src attribute, no stylesheet link; the one external URL is
            // the AWS console link the lead needs, opened without a referrer.
            assert!(!html.contains(" src="), "{html}");
            assert!(!html.contains("<link"), "{html}");
            assert!(!html.contains("@import") && !html.contains("url("));
            let urls: Vec<&str> = html
                .match_indices("http")
                .map(|(at, _)| {
                    let rest = &html[at..];
                    &rest[..rest.find(['"', ' ', '<']).unwrap_or(rest.len())]
                })
                .collect();
            assert_eq!(
                urls,
                [
                    scim_rotator::slack::render::console_url(scim_sandbox::SANDBOX_REGION)
                        .replace('&', "&amp;")
                ],
                "the only URL is the console link"
            );
            assert!(html.contains("rel=\"noopener noreferrer\""));
            let nonces = html.matches(&format!("nonce=\"{nonce}\"")).count();
            assert_eq!(
                nonces,
                html.matches("<style").count() + html.matches("<script").count(),
                "every inline style and script carries the nonce"
            );

            // Refusals carry the same headers.
            let refused = http()
                .get(
                    app.url
                        .join(&format!("/intake/{}", "0".repeat(32)))
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), 404);
            for name in [
                "content-security-policy",
                "cache-control",
                "x-frame-options",
                "referrer-policy",
            ] {
                assert!(
                    refused.headers().get(name).is_some(),
                    "refusal without {name}"
                );
            }
        })
        .await;
}

#[tokio::test]
async fn over_https_the_page_sends_hsts() {
    Setting::over(SlackMode::Http)
        .configured(|config| {
            enable_web_form(config, true).unwrap();
            let listen = config.server.listen;
            config.intake.public_url = Some(format!("https://{listen}").parse().unwrap());
        })
        .run(async |app| {
            let (_, step1) = approved(app).await;
            let link = ask_for_link(app, &step1, 1).await;
            assert!(link.starts_with("https://"), "{link}");
            // The TLS proxy in front of the bot is left out: plain http to the same port.
            let plain = link.replacen("https://", "http://", 1);
            let response = http().get(&plain).send().await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(
                response.headers()["strict-transport-security"],
                "max-age=31536000"
            );
        })
        .await;
}

#[tokio::test]
async fn with_the_modal_kept_the_lead_gets_both() {
    start(true)
        .run(async |app| {
            let (_, step1) = approved(app).await;
            let link = ask_for_link(app, &step1, 1).await;
            assert!(link.starts_with(app.url.as_str().trim_end_matches('/')));
            app.wait_for_modal(LEAD).await;
            assert_eq!(
                app.slack().open_views(LEAD).len(),
                1,
                "the modal opened too"
            );
            app.wait_for_ephemeral(LEAD, "Slack window that just opened")
                .await;
        })
        .await;
}

#[tokio::test]
async fn form_only_refuses_a_token_submitted_through_a_modal() {
    // A modal opened before the switch to form only (or forged) does not take the token.
    start(false)
        .run(async |app| {
            let (_, step1) = approved(app).await;
            let _ = ask_for_link(app, &step1, 1).await;
            let before = Untouched::now(app);
            let view = scim_rotator::slack::render::token_modal(
                &before.rotation,
                &scim_rotator::slack::render::ConnectionInfo {
                    name: CONNECTION,
                    aws_region: scim_sandbox::SANDBOX_REGION,
                },
                chrono::NaiveDate::from_ymd_opt(2028, 1, 1).unwrap(),
            );
            let trigger = app.slack().issue_trigger(LEAD);
            app.app.bot.api.open_view(&trigger, view).await.unwrap();
            let modal = app.slack().open_views(LEAD).pop().unwrap();
            let new = app.aws_generates_token();
            let submitted = app.lead().submits_token_in(&modal.id, &new.secret).await;
            assert!(
                format!("{:?}", submitted.outcome).contains("web form"),
                "{:?}",
                submitted.outcome
            );
            assert_eq!(rotation(app), before.rotation);
            assert_eq!(app.world.cloud.aws.requests().len(), before.aws);
        })
        .await;
}

#[tokio::test]
async fn a_used_link_is_refused_and_a_second_submission_changes_nothing() {
    start(false)
        .run(async |app| {
            let (thread, step1) = approved(app).await;
            let link = ask_for_link(app, &step1, 1).await;
            let new = app.aws_generates_token();
            let csrf = csrf_of(&link).await;
            let (status, _) = post(
                &link,
                &[
                    ("csrf", &csrf),
                    ("token", &new.secret),
                    ("token_id", &new.id),
                ],
            )
            .await;
            assert_eq!(status, 303, "accepted, then the page follows the checks");
            app.wait_for_button(&thread, ids::CONFIRM_DELETED).await;
            app.app.presented().await;

            let before = Untouched::now(app);
            let (status, body) = post(&link, &[("csrf", &csrf), ("token", &new.secret)]).await;
            assert_eq!(status, 410);
            assert!(
                body.contains("already used") && body.contains("Enter new token"),
                "{body}"
            );
            let page = http().get(&link).send().await.unwrap();
            assert_eq!(page.status(), 410);
            before.still(app, "a reused link");
            assert_eq!(refusals(app), ["used", "used"]);
        })
        .await;
}

#[tokio::test]
async fn an_expired_link_is_refused_in_the_browser_and_changes_nothing() {
    start(false)
        .run(async |app| {
            let (_, step1) = approved(app).await;
            let link = ask_for_link(app, &step1, 1).await;
            let csrf = csrf_of(&link).await;
            app.clock.advance(chrono::Duration::minutes(10));

            let before = Untouched::now(app);
            let (status, body) = post(&link, &[("csrf", &csrf), ("token", &"x".repeat(40))]).await;
            assert_eq!(status, 410);
            assert!(body.contains("This link has expired"), "{body}");
            before.still(app, "an expired link");

            if let Some(browser) = Browser::launch().await {
                browser.open(&link).await;
                let text = browser.wait_for_text("This link has expired").await;
                assert!(text.contains("Enter new token"), "{text}");
                browser.screenshot("web-form-expired").await;
            }
            before.still(app, "an expired link");
            assert!(refusals(app).iter().all(|r| r == "expired"));
        })
        .await;
}

#[tokio::test]
async fn a_newer_link_ends_the_older_one() {
    start(false)
        .run(async |app| {
            let (_, step1) = approved(app).await;
            let first = ask_for_link(app, &step1, 1).await;
            let csrf = csrf_of(&first).await;
            let second = ask_for_link(app, &step1, 2).await;
            assert_ne!(first, second);

            let before = Untouched::now(app);
            let (status, body) = post(&first, &[("csrf", &csrf), ("token", &"x".repeat(40))]).await;
            assert_eq!(status, 410);
            assert!(body.contains("A newer link replaced this one"), "{body}");
            before.still(app, "a superseded link");
            assert_eq!(refusals(app), ["superseded"]);
            csrf_of(&second).await;
        })
        .await;
}

#[tokio::test]
async fn a_link_does_not_work_for_another_rotation() {
    start(false)
        .run(async |app| {
            let (_, step1) = approved(app).await;
            let link = ask_for_link(app, &step1, 1).await;
            let csrf = csrf_of(&link).await;
            // The rotation is cancelled and a new one approved: the old link must not feed it.
            app.slack()
                .click(&app.url, LEAD, CHANNEL, &step1, ids::CANCEL)
                .await
                .unwrap();
            app.slack()
                .wait_until(DEADLINE, |_| {
                    (rotation(app).state == RotationState::Cancelled).then_some(())
                })
                .await
                .unwrap();
            approved(app).await;
            let second = rotation(app);
            assert_eq!(second.state, RotationState::AwaitingNewToken);
            assert_ne!(second.id.0, 1);

            let before = Untouched::now(app);
            let new = app.aws_generates_token();
            let (status, body) = post(&link, &[("csrf", &csrf), ("token", &new.secret)]).await;
            assert_eq!(status, 410);
            assert!(body.contains("Rotation #1 is no longer waiting"), "{body}");
            assert!(body.contains("cancelled"), "{body}");
            before.still(app, "a link for another rotation");
            assert_eq!(refusals(app), ["rotation_moved_on"]);
        })
        .await;
}

#[tokio::test]
async fn a_csrf_mismatch_is_refused_with_403_and_changes_nothing() {
    start(false)
        .run(async |app| {
            let (_, step1) = approved(app).await;
            let link = ask_for_link(app, &step1, 1).await;
            let csrf = csrf_of(&link).await;
            let new = app.aws_generates_token();
            let before = Untouched::now(app);
            for bad in ["", "0123456789abcdef0123456789abcdef"] {
                let (status, body) = post(&link, &[("csrf", bad), ("token", &new.secret)]).await;
                assert_eq!(status, 403, "{body}");
                assert!(body.contains("This form is out of date"), "{body}");
            }
            // The right value from another site's page: the Origin gives it away.
            let response = http()
                .post(&link)
                .header("origin", "https://attacker.example")
                .form(&[("csrf", csrf.as_str()), ("token", new.secret.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 403);
            before.still(app, "a CSRF mismatch");
            assert_eq!(refusals(app), ["csrf_mismatch"; 3]);

            // The link still works from its own page.
            let (status, _) = post(&link, &[("csrf", &csrf), ("token", &new.secret)]).await;
            assert_eq!(status, 303);
        })
        .await;
}

#[tokio::test]
async fn bad_input_is_answered_inline_and_sends_nothing() {
    start(false)
        .run(async |app| {
            let (_, step1) = approved(app).await;
            let link = ask_for_link(app, &step1, 1).await;
            let old = app.world.cloud.current_token.id.clone();
            let long = "x".repeat(40);
            let cases: [(&[(&str, &str)], &str); 6] = [
                (&[("token", "")], "the field is empty"),
                (
                    &[("token", "abc def ghi jkl mno pqr stu")],
                    "cannot contain spaces",
                ),
                (
                    &[("token", &long), ("token_id", &old)],
                    "That is the old token&#39;s id",
                ),
                (
                    &[("token", &long), ("expires", "2020-01-01")],
                    "must be in the future",
                ),
                (&[("token", &long), ("expires", "next year")], "YYYY-MM-DD"),
                (
                    &[
                        ("token", "short"),
                        ("expires", "pasted-token-in-the-date-field-0000"),
                    ],
                    "YYYY-MM-DD",
                ),
            ];
            let before = Untouched::now(app);
            for (fields, error) in cases {
                let csrf = csrf_of(&link).await;
                let mut form = vec![("csrf", csrf.as_str())];
                form.extend_from_slice(fields);
                let (status, body) = post(&link, &form).await;
                assert_eq!(status, 422, "{fields:?}");
                assert!(body.contains(error), "{fields:?}: {body}");
                assert!(!body.contains(&long), "the token is not echoed");
                assert!(
                    !body.contains("pasted-token"),
                    "a long date field is not echoed"
                );
            }
            // A body that is not a form at all.
            let response = http()
                .post(&link)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("token=%zz&&=")
                .send()
                .await
                .unwrap();
            assert!(response.status().is_client_error());
            before.still(app, "bad input");
        })
        .await;
}

#[tokio::test]
async fn the_token_is_never_taken_from_a_url() {
    start(false)
        .run(async |app| {
            let (_, step1) = approved(app).await;
            let link = ask_for_link(app, &step1, 1).await;
            let before = Untouched::now(app);
            let secret = "tOkEnInTheUrl-000000000000000000000000000";
            let response = http()
                .get(format!("{link}?token={secret}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400);
            let body = response.text().await.unwrap();
            assert!(body.contains("Never put the token in a URL"), "{body}");
            assert!(!body.contains(secret));
            let (status, _) = post(&format!("{link}?token={secret}"), &[("csrf", "x")]).await;
            assert_eq!(status, 400);
            before.still(app, "a token in the URL");
        })
        .await;
}

#[tokio::test]
async fn unknown_codes_are_rate_limited_per_address() {
    start(false)
        .run(async |app| {
            let (_, step1) = approved(app).await;
            let link = ask_for_link(app, &step1, 1).await;
            let before = Untouched::now(app);
            for n in 0..scim_rotator::intake::limiter::UNKNOWN_PER_WINDOW {
                let guess = format!("{}/intake/{n:032x}", app.url.as_str().trim_end_matches('/'));
                let response = http().get(&guess).send().await.unwrap();
                assert_eq!(response.status(), 404);
                let body = response.text().await.unwrap();
                assert!(body.contains("Unknown link") && body.contains("Enter new token"));
            }
            // The next guess from this address is refused outright, and not audited.
            let guess = format!(
                "{}/intake/{:032x}",
                app.url.as_str().trim_end_matches('/'),
                99
            );
            let blocked = http().get(&guess).send().await.unwrap();
            assert_eq!(blocked.status(), 429);
            assert_eq!(blocked.headers()["retry-after"], "60");
            before.still(app, "guessing");
            assert_eq!(
                refusals(app).len(),
                scim_rotator::intake::limiter::UNKNOWN_PER_WINDOW as usize
            );
            // The real link still opens from the same address: behind a proxy every lead shares
            // it, and a scanner must not lock them out.
            let page = http().get(&link).send().await.unwrap();
            assert_eq!(
                page.status(),
                200,
                "a known link is never refused for its address"
            );

            app.clock.advance(chrono::Duration::minutes(1));
            let guess = http().get(&guess).send().await.unwrap();
            assert_eq!(guess.status(), 404, "the next window starts afresh");
        })
        .await;
}
