//! Approver groups follow Slack's `subteam_members_changed` / `subteam_updated` events at
//! once; the periodic re-read stays as the fallback for a lost event.

use crate::support::app::TestApp;
use scim_rotator::config::SlackMode;
use scim_rotator::rotation::RotationState;
use scim_rotator::slack::ids;
use scim_sandbox::people::*;
use scim_sandbox::slack::Transport;
use std::time::{Duration, Instant};

/// How soon after the event a removed member must be refused (the bound).
const APPLIED_WITHIN: Duration = Duration::from_secs(5);

fn state(app: &TestApp) -> RotationState {
    app.app.engine.store().latest_rotations().unwrap()[0].state
}

async fn approval_request(app: &TestApp, to: impl Into<Transport>) -> (String, String) {
    let warning = app.post_warning().await;
    app.slack()
        .click(to, MEMBER, CHANNEL, &warning, ids::START_ROTATION)
        .await
        .unwrap();
    let approval = app.wait_for_button(&warning, ids::APPROVE).await.ts;
    (warning, approval)
}

#[tokio::test]
async fn a_member_removed_from_the_approver_group_is_refused_within_5_seconds_of_the_event() {
    let app = TestApp::start(SlackMode::Http).await;
    let (_, approval) = approval_request(&app, &app.url).await;
    assert!(app.app.bot.approvers.is_approver(GROUP_LEAD));

    let reads = app.slack().calls_to("usergroups.users.list").len();
    let event = app
        .slack()
        .set_usergroup_members(LEADS_GROUP, &[])
        .expect("the group exists");
    let sent = Instant::now();
    let reply = app.slack().event(&app.url, &event, None).await.unwrap();
    assert_eq!(reply.status, 200);
    app.slack()
        .click(&app.url, GROUP_LEAD, CHANNEL, &approval, ids::APPROVE)
        .await
        .unwrap();
    app.wait_for_ephemeral(GROUP_LEAD, "Only a team lead").await;
    assert!(
        sent.elapsed() < APPLIED_WITHIN,
        "refused {:?} after the event",
        sent.elapsed()
    );
    assert_eq!(state(&app), RotationState::AwaitingApproval);
    assert_eq!(
        app.slack().calls_to("usergroups.users.list").len(),
        reads,
        "the event itself was applied, not a re-read"
    );
    app.app.shutdown().await;
}

#[tokio::test]
async fn an_added_member_may_approve_at_once_and_a_disabled_group_counts_for_nothing() {
    let app = TestApp::start(SlackMode::Socket).await;
    app.slack()
        .wait_for_socket_connections(1, crate::support::DEADLINE)
        .await
        .unwrap();
    assert!(!app.app.bot.approvers.is_approver(OTHER_MEMBER));
    let added = app
        .slack()
        .set_usergroup_members(LEADS_GROUP, &[GROUP_LEAD, OTHER_MEMBER])
        .unwrap();
    app.slack().send_event(added).await.unwrap();
    assert!(app.app.bot.approvers.is_approver(OTHER_MEMBER));

    // `subteam_updated` carries the whole group: a group emptied this way is applied too.
    app.slack().set_usergroup_members(LEADS_GROUP, &[]).unwrap();
    let updated = app.slack().usergroup_updated_event(LEADS_GROUP).unwrap();
    app.slack().send_event(updated).await.unwrap();
    assert!(!app.app.bot.approvers.is_approver(GROUP_LEAD));
    assert!(!app.app.bot.approvers.is_approver(OTHER_MEMBER));
    assert!(
        app.app.bot.approvers.is_approver(LEAD),
        "configured user ids are untouched"
    );
    app.app.shutdown().await;
}

#[tokio::test]
async fn when_the_event_is_lost_the_periodic_re_read_still_applies_the_change() {
    let app = TestApp::start(SlackMode::Http).await;
    let (thread, approval) = approval_request(&app, &app.url).await;
    // The admin removes the lead, but Slack's event never arrives.
    let _lost = app.slack().set_usergroup_members(LEADS_GROUP, &[]).unwrap();
    assert!(
        app.app.bot.approvers.is_approver(GROUP_LEAD),
        "nothing told the bot yet"
    );
    app.app.bot.approvers.refresh().await.unwrap();
    app.slack()
        .click(&app.url, GROUP_LEAD, CHANNEL, &approval, ids::APPROVE)
        .await
        .unwrap();
    app.wait_for_ephemeral(GROUP_LEAD, "Only a team lead").await;
    // A configured lead still approves.
    app.slack()
        .click(&app.url, LEAD, CHANNEL, &approval, ids::APPROVE)
        .await
        .unwrap();
    app.wait_for_button(&thread, ids::ENTER_TOKEN).await;
    app.app.shutdown().await;
}
