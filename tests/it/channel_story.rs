//! What the channel tells while a rotation runs, through the whole bot (HTTP transport,
//! presenter, monitor) against the fake Slack: the warning tracks its rotation, the thread
//! keeps a failed attempt's line with the step awaiting action always newest, and a stalled
//! rotation is nudged and still gets the urgent warnings, in its thread.

use crate::support::app::TestApp;
use chrono::Duration;
use scim_rotator::clock::Clock;
use scim_rotator::config::SlackMode;
use scim_rotator::slack::ids;
use scim_sandbox::people::*;
use scim_sandbox::slack::{StoredMessage, ViewOutcome, plain_text_value};

fn has_button(message: &StoredMessage, action_id: &str) -> bool {
    message
        .blocks
        .to_string()
        .contains(&format!("\"action_id\":\"{action_id}\""))
}

/// The monitor's sweep at the app's clock, then the presenter caught up.
async fn sweep(app: &TestApp) -> scim_rotator::scheduler::SweepReport {
    let report = app.app.scheduler.sweep(app.clock.now()).await;
    app.app.presented().await;
    report
}

/// The warning the sweep posted (the token expires in 10 days): its ts.
async fn warning(app: &TestApp) -> String {
    let report = sweep(app).await;
    assert_eq!(report.posted(), 1, "{:?}", report.lines());
    let top: Vec<StoredMessage> = app
        .slack()
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| m.thread_ts.is_none())
        .collect();
    assert_eq!(top.len(), 1);
    top[0].ts.clone()
}

fn root(app: &TestApp, ts: &str) -> StoredMessage {
    app.slack().message(CHANNEL, ts).unwrap()
}

fn thread(app: &TestApp, ts: &str) -> Vec<StoredMessage> {
    app.slack().thread(CHANNEL, ts)
}

async fn click(app: &TestApp, user: &str, ts: &str, action: &str) {
    let click = app
        .slack()
        .click(&app.url, user, CHANNEL, ts, action)
        .await
        .unwrap();
    assert_eq!(click.reply.status, 200);
    app.app.presented().await;
}

/// Starts a rotation from the warning and has the lead approve it: returns step 1's message.
async fn start_and_approve(app: &TestApp, warning: &str) -> StoredMessage {
    click(app, MEMBER, warning, ids::START_ROTATION).await;
    let approval = app.wait_for_button(warning, ids::APPROVE).await;
    click(app, LEAD, &approval.ts, ids::APPROVE).await;
    app.wait_for_button(warning, ids::ENTER_TOKEN).await
}

/// Only the newest message of the thread has buttons.
fn assert_newest_is_the_step(thread: &[StoredMessage], action: &str) {
    let (newest, older) = thread.split_last().unwrap();
    assert!(has_button(newest, action), "newest: {}", newest.text);
    for message in older {
        assert!(
            !message.blocks.to_string().contains("\"type\":\"actions\""),
            "an older message has buttons: {}",
            message.text
        );
    }
}

#[tokio::test]
async fn the_warning_shows_the_rotation_in_progress_and_cancel_restores_it() {
    let app = TestApp::start(SlackMode::Http).await;
    let warning = warning(&app).await;
    assert!(has_button(&root(&app, &warning), ids::START_ROTATION));

    click(&app, MEMBER, &warning, ids::START_ROTATION).await;
    let open = root(&app, &warning);
    assert!(!has_button(&open, ids::START_ROTATION), "{}", open.blocks);
    let blocks = open.blocks.to_string();
    assert!(blocks.contains("Rotation #1"), "{blocks}");
    assert!(
        blocks.contains("https://scim-sandbox.slack.com/archives/C0IDENTITY/p"),
        "links to the rotation's thread: {blocks}"
    );
    assert!(!blocks.contains("Plan the rotation"), "{blocks}");

    let approval = app.wait_for_button(&warning, ids::APPROVE).await;
    click(&app, LEAD, &approval.ts, ids::APPROVE).await;
    let blocks = root(&app, &warning).blocks.to_string();
    assert!(
        blocks.contains("step 1 of 2, driven by <@U0LEE>"),
        "{blocks}"
    );

    let step1 = app.wait_for_button(&warning, ids::ENTER_TOKEN).await;
    click(&app, LEAD, &step1.ts, ids::CANCEL).await;
    let closed = root(&app, &warning);
    assert!(
        has_button(&closed, ids::START_ROTATION),
        "{}",
        closed.blocks
    );
    assert!(!closed.blocks.to_string().contains("in progress"));
    let request = &thread(&app, &warning)[0];
    assert!(
        request
            .blocks
            .to_string()
            .contains("*Cancelled* by <@U0LEE>"),
        "{}",
        request.blocks
    );

    // A second request that nobody approves expires, and the button comes back again.
    click(&app, MEMBER, &warning, ids::START_ROTATION).await;
    assert!(!has_button(&root(&app, &warning), ids::START_ROTATION));
    app.clock.advance(Duration::hours(25));
    app.app.engine.expire_approvals().await.unwrap();
    app.app.presented().await;
    assert!(has_button(&root(&app, &warning), ids::START_ROTATION));
}

#[tokio::test]
async fn a_wrong_token_keeps_its_line_and_the_step_awaiting_action_is_always_newest() {
    let app = TestApp::start(SlackMode::Http).await;
    let warning = warning(&app).await;
    let step1 = start_and_approve(&app, &warning).await;
    assert_newest_is_the_step(&thread(&app, &warning), ids::ENTER_TOKEN);

    let new = app
        .world
        .cloud
        .aws
        .generate_token(&app.world.cloud.aws_tenant)
        .unwrap();
    let enter = async |ts: &str, secret: &str| {
        click(&app, LEAD, ts, ids::ENTER_TOKEN).await;
        let modal = app.wait_for_modal(LEAD).await;
        let submitted = app
            .slack()
            .submit_view(
                &app.url,
                LEAD,
                &modal.id,
                &[(ids::TOKEN_BLOCK, ids::VALUE, plain_text_value(secret))],
            )
            .await
            .unwrap();
        assert_eq!(submitted.outcome, ViewOutcome::Closed);
    };
    let typo = format!("{}x", new.secret);
    enter(&step1.ts, &typo).await;
    let failed = app
        .slack()
        .wait_until(crate::support::DEADLINE, |slack| {
            slack
                .thread(CHANNEL, &warning)
                .into_iter()
                .find(|m| m.blocks.to_string().contains("AWS rejected"))
        })
        .await
        .unwrap();
    app.app.presented().await;
    let now = thread(&app, &warning);
    assert_newest_is_the_step(&now, ids::ENTER_TOKEN);
    assert_eq!(
        now.last().unwrap().ts,
        failed.ts,
        "the failure line carries the button"
    );

    enter(&failed.ts, &new.secret).await;
    let step2 = app.wait_for_button(&warning, ids::CONFIRM_DELETED).await;
    app.app.presented().await;
    let now = thread(&app, &warning);
    assert_newest_is_the_step(&now, ids::CONFIRM_DELETED);
    assert_eq!(now.last().unwrap().ts, step2.ts);
    let failed_now = app.slack().message(CHANNEL, &failed.ts).unwrap();
    assert!(
        failed_now.blocks.to_string().contains("AWS rejected"),
        "the failed attempt keeps its line: {}",
        failed_now.blocks
    );
    assert!(
        root(&app, &warning)
            .blocks
            .to_string()
            .contains("step 2 of 2")
    );

    let old = app.world.cloud.current_token.clone();
    app.world
        .cloud
        .aws
        .delete_token(&app.world.cloud.aws_tenant, &old.id)
        .unwrap();
    click(&app, LEAD, &step2.ts, ids::CONFIRM_DELETED).await;
    app.slack()
        .wait_until(crate::support::DEADLINE, |slack| {
            slack
                .thread(CHANNEL, &warning)
                .into_iter()
                .find(|m| m.text.contains("is complete"))
        })
        .await
        .unwrap();
    app.app.presented().await;
    let done = thread(&app, &warning);
    let all: String = done.iter().map(|m| m.blocks.to_string()).collect();
    assert!(
        all.contains("AWS rejected"),
        "the failure is still in the thread"
    );
    assert_eq!(
        all.matches(new.fingerprint().as_str()).count(),
        1,
        "one fingerprint, in the step that took the token"
    );
    assert!(root(&app, &warning).text.contains("rotated"));
}

#[tokio::test]
async fn a_stalled_rotation_is_reminded_and_urgent_warnings_land_in_its_thread() {
    let app = TestApp::start(SlackMode::Http).await;
    let expires = app
        .app
        .engine
        .store()
        .current_token(CONNECTION)
        .unwrap()
        .unwrap()
        .expires_at
        .unwrap();
    let warning = warning(&app).await; // 10 days left: the 14-day notice
    app.clock.set(expires - Duration::days(7));
    assert_eq!(sweep(&app).await.posted(), 1, "the 7-day warning");
    app.clock.set(expires - Duration::days(5));
    start_and_approve(&app, &warning).await;
    let before = thread(&app, &warning).len();

    // Left alone: a sweep every 6 hours until the day the token expires, each run twice (a
    // second sweep beside the first, or a restart, must not post anything again).
    while app.clock.now() < expires - Duration::hours(6) {
        app.clock.advance(Duration::hours(6));
        sweep(&app).await;
        assert_eq!(
            sweep(&app).await.posted(),
            0,
            "the same sweep twice posts once"
        );
    }
    let replies: Vec<StoredMessage> = thread(&app, &warning).split_off(before);
    let texts: Vec<&str> = replies.iter().map(|m| m.text.as_str()).collect();
    let reminders: Vec<&str> = texts
        .iter()
        .copied()
        .filter(|t| t.contains("has been waiting"))
        .collect();
    assert_eq!(reminders.len(), 3, "{texts:#?}");
    let reminder_blocks: Vec<String> = replies
        .iter()
        .filter(|m| m.text.contains("has been waiting"))
        .map(|m| m.blocks.to_string())
        .collect();
    assert!(
        reminder_blocks[0].contains("<@U0LEE>"),
        "the approving lead first"
    );
    assert!(
        !reminder_blocks[0].contains("<!subteam^S0LEADS>"),
        "{}",
        reminder_blocks[0]
    );
    for later in &reminder_blocks[1..] {
        assert!(
            later.contains("<!subteam^S0LEADS>"),
            "then all approvers: {later}"
        );
    }
    let urgent: Vec<&str> = texts.iter().copied().filter(|t| t.contains("🟠")).collect();
    assert_eq!(urgent.len(), 2, "the 3-day and 1-day warnings: {texts:#?}");
    assert!(urgent[0].contains("expires in 3 days"), "{}", urgent[0]);
    assert!(urgent[1].contains("expires in 1 day"), "{}", urgent[1]);
    for text in &urgent {
        assert!(
            text.contains("<@U0LEE>") && text.contains("<!subteam^S0LEADS>"),
            "mentions the approvers: {text}"
        );
    }
    let top = root(&app, &warning);
    assert!(!has_button(&top, ids::START_ROTATION));
    assert!(
        top.text.starts_with("🟠"),
        "the warning is urgent now: {}",
        top.text
    );
    assert!(top.blocks.to_string().contains("Rotation #1"));
}

#[tokio::test]
async fn a_two_person_rule_waits_for_a_second_different_lead() {
    let app = TestApp::start_with(SlackMode::Http, |config| {
        config.slack.approvals_required = 2;
    })
    .await;
    let warning = warning(&app).await;
    click(&app, MEMBER, &warning, ids::START_ROTATION).await;
    let approval = app.wait_for_button(&warning, ids::APPROVE).await;
    click(&app, LEAD, &approval.ts, ids::APPROVE).await;
    let request = app.slack().message(CHANNEL, &approval.ts).unwrap();
    let blocks = request.blocks.to_string();
    assert!(blocks.contains("1 of 2 approvals"), "{blocks}");
    assert!(
        has_button(&request, ids::APPROVE),
        "still waiting for a second lead"
    );
    assert_eq!(thread(&app, &warning).len(), 1, "no step 1 yet");

    click(&app, LEAD, &approval.ts, ids::APPROVE).await;
    app.wait_for_ephemeral(LEAD, "You approved already").await;

    click(&app, GROUP_LEAD, &approval.ts, ids::APPROVE).await;
    app.wait_for_button(&warning, ids::ENTER_TOKEN).await;
    let head = app.slack().message(CHANNEL, &approval.ts).unwrap();
    assert!(
        head.blocks
            .to_string()
            .contains("approved by <@U0LEE> and <@U0GRACE>"),
        "{}",
        head.blocks
    );
}
