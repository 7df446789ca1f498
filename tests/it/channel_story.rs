//! What the channel tells while a rotation runs, through the whole bot (HTTP transport,
//! presenter, monitor) against the fake Slack: the warning tracks its rotation, the thread
//! keeps a failed attempt's line with the step awaiting action always newest, and a stalled
//! rotation is nudged and still gets the urgent warnings, in its thread.

use crate::support::story::{Setting, Story, story};
use chrono::Duration;
use scim_rotator::clock::Clock;
use scim_rotator::config::SlackMode;
use scim_rotator::slack::ids;
use scim_sandbox::people::*;
use scim_sandbox::slack::{StoredMessage, ViewOutcome};

/// Only the newest message of the thread has buttons.
fn assert_newest_is_the_step(thread: &[StoredMessage], action: &str) {
    let (newest, older) = thread.split_last().unwrap();
    assert!(newest.has_button(action), "newest: {}", newest.text);
    for message in older {
        assert!(
            !message.blocks.to_string().contains("\"type\":\"actions\""),
            "an older message has buttons: {}",
            message.text
        );
    }
}

/// The lead enters `secret` through the newest step's button; the modal closes.
async fn enters(s: &Story, secret: &str) {
    let submitted = s.lead().submits_token(secret).await;
    assert_eq!(submitted.outcome, ViewOutcome::Closed);
}

#[tokio::test]
async fn the_warning_shows_the_rotation_in_progress_and_cancel_restores_it() {
    story(async |s| {
        s.monitor_warns().await;
        assert!(s.thread().root().has_button(ids::START_ROTATION));

        s.member().clicks(ids::START_ROTATION).await;
        let open = s.thread().root();
        assert!(!open.has_button(ids::START_ROTATION), "{}", open.blocks);
        let blocks = open.blocks.to_string();
        assert!(blocks.contains("Rotation #1"), "{blocks}");
        assert!(
            blocks.contains("https://scim-sandbox.slack.com/archives/C0IDENTITY/p"),
            "links to the rotation's thread: {blocks}"
        );
        assert!(!blocks.contains("Plan the rotation"), "{blocks}");

        s.lead().clicks(ids::APPROVE).await;
        let blocks = s.thread().root().blocks.to_string();
        assert!(
            blocks.contains("step 1 of 2, driven by <@U0LEE>"),
            "{blocks}"
        );

        s.thread().waits_for_button(ids::ENTER_TOKEN).await;
        s.lead().clicks(ids::CANCEL).await;
        let closed = s.thread().root();
        assert!(closed.has_button(ids::START_ROTATION), "{}", closed.blocks);
        assert!(!closed.blocks.to_string().contains("in progress"));
        let request = &s.thread().replies()[0];
        assert!(
            request
                .blocks
                .to_string()
                .contains("*Cancelled* by <@U0LEE>"),
            "{}",
            request.blocks
        );

        // A second request that nobody approves expires, and the button comes back again.
        s.member().clicks(ids::START_ROTATION).await;
        assert!(!s.thread().root().has_button(ids::START_ROTATION));
        s.clock.advance(Duration::hours(25));
        s.app.engine.expire_approvals().await.unwrap();
        s.app.presented().await;
        assert!(s.thread().root().has_button(ids::START_ROTATION));
    })
    .await;
}

#[tokio::test]
async fn a_wrong_token_keeps_its_line_and_the_step_awaiting_action_is_always_newest() {
    story(async |s| {
        s.monitor_warns().await;
        s.member().clicks(ids::START_ROTATION).await;
        s.lead().clicks(ids::APPROVE).await;
        s.thread().waits_for_button(ids::ENTER_TOKEN).await;
        assert_newest_is_the_step(&s.thread().replies(), ids::ENTER_TOKEN);

        let new = s.aws_generates_token();
        let typo = format!("{}x", new.secret);
        enters(s, &typo).await;
        let failed = s.thread().waits_for_line("AWS rejected").await;
        s.app.presented().await;
        let now = s.thread().replies();
        assert_newest_is_the_step(&now, ids::ENTER_TOKEN);
        assert_eq!(
            now.last().unwrap().ts,
            failed.ts,
            "the failure line carries the button"
        );

        enters(s, &new.secret).await;
        let step2 = s.thread().waits_for_button(ids::CONFIRM_DELETED).await;
        s.app.presented().await;
        let now = s.thread().replies();
        assert_newest_is_the_step(&now, ids::CONFIRM_DELETED);
        assert_eq!(now.last().unwrap().ts, step2.ts);
        let failed_now = s.slack().message(CHANNEL, &failed.ts).unwrap();
        assert!(
            failed_now.blocks.to_string().contains("AWS rejected"),
            "the failed attempt keeps its line: {}",
            failed_now.blocks
        );
        assert!(s.thread().root().blocks.to_string().contains("step 2 of 2"));

        s.aws_deletes_old_token();
        s.lead().clicks_on(&step2.ts, ids::CONFIRM_DELETED).await;
        s.thread().waits_for_line("is complete").await;
        s.app.presented().await;
        let done = s.thread().replies();
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
        assert!(s.thread().root().text.contains("rotated"));
    })
    .await;
}

#[tokio::test]
async fn a_stalled_rotation_is_reminded_and_urgent_warnings_land_in_its_thread() {
    story(async |s| {
        let expires = s
            .app
            .engine
            .store()
            .current_token(CONNECTION)
            .unwrap()
            .unwrap()
            .expires_at
            .unwrap();
        s.monitor_warns().await; // 10 days left: the 14-day notice
        s.clock.set(expires - Duration::days(7));
        assert_eq!(s.sweeps().await.posted(), 1, "the 7-day warning");
        s.clock.set(expires - Duration::days(5));
        s.member().clicks(ids::START_ROTATION).await;
        s.lead().clicks(ids::APPROVE).await;
        s.thread().waits_for_button(ids::ENTER_TOKEN).await;
        let before = s.thread().replies().len();

        // Left alone: a sweep every 6 hours until the day the token expires, each run twice (a
        // second sweep beside the first, or a restart, must not post anything again).
        while s.clock.now() < expires - Duration::hours(6) {
            s.clock.advance(Duration::hours(6));
            s.sweeps().await;
            assert_eq!(
                s.sweeps().await.posted(),
                0,
                "the same sweep twice posts once"
            );
        }
        let replies: Vec<StoredMessage> = s.thread().replies().split_off(before);

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
        let top = s.thread().root();
        assert!(!top.has_button(ids::START_ROTATION));
        assert!(
            top.text.starts_with("🟠"),
            "the warning is urgent now: {}",
            top.text
        );
        assert!(top.blocks.to_string().contains("Rotation #1"));
    })
    .await;
}

#[tokio::test]
async fn a_two_person_rule_waits_for_a_second_different_lead() {
    Setting::over(SlackMode::Http)
        .configured(|config| config.slack.approvals_required = 2)
        .run(async |s| {
            s.monitor_warns().await;
            s.member().clicks(ids::START_ROTATION).await;
            let approval_ts = s.thread().waits_for_button(ids::APPROVE).await.ts;
            s.lead().clicks_on(&approval_ts, ids::APPROVE).await;
            let request = s.slack().message(CHANNEL, &approval_ts).unwrap();
            let blocks = request.blocks.to_string();
            assert!(blocks.contains("1 of 2 approvals"), "{blocks}");
            assert!(
                request.has_button(ids::APPROVE),
                "still waiting for a second lead"
            );
            assert_eq!(s.thread().replies().len(), 1, "no step 1 yet");

            s.lead().clicks_on(&approval_ts, ids::APPROVE).await;
            s.lead().is_told("You approved already").await;

            s.group_lead().clicks_on(&approval_ts, ids::APPROVE).await;
            s.thread().waits_for_button(ids::ENTER_TOKEN).await;
            let head = s.slack().message(CHANNEL, &approval_ts).unwrap();
            assert!(
                head.blocks
                    .to_string()
                    .contains("approved by <@U0LEE> and <@U0GRACE>"),
                "{}",
                head.blocks
            );
        })
        .await;
}
