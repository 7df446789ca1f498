//! Approver groups follow Slack's `subteam_members_changed` / `subteam_updated` events at
//! once; the periodic re-read stays as the fallback for a lost event.

use crate::support::story::{Setting, story};
use scim_rotator::config::SlackMode;
use scim_rotator::rotation::RotationState;
use scim_rotator::slack::ids;
use scim_sandbox::people::*;
use std::time::{Duration, Instant};

/// How soon after the event a removed member must be refused (the bound).
const APPLIED_WITHIN: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_member_removed_from_the_approver_group_is_refused_within_5_seconds_of_the_event() {
    story(async |s| {
        s.requests_rotation().await;
        assert!(s.app.bot.approvers.is_approver(GROUP_LEAD));

        let reads = s.slack().calls_to("usergroups.users.list").len();
        let event = s
            .slack()
            .set_usergroup_members(LEADS_GROUP, &[])
            .expect("the group exists");
        let sent = Instant::now();
        let reply = s.slack().event(&s.url, &event, None).await.unwrap();
        assert_eq!(reply.status, 200);
        s.group_lead().clicks(ids::APPROVE).await;
        s.group_lead().is_told("Only a team lead").await;
        assert!(
            sent.elapsed() < APPLIED_WITHIN,
            "refused {:?} after the event",
            sent.elapsed()
        );
        assert_eq!(s.state(), RotationState::AwaitingApproval);
        assert_eq!(
            s.slack().calls_to("usergroups.users.list").len(),
            reads,
            "the event itself was applied, not a re-read"
        );
    })
    .await;
}

#[tokio::test]
async fn an_added_member_may_approve_at_once_and_a_disabled_group_counts_for_nothing() {
    Setting::over(SlackMode::Socket)
        .run(async |s| {
            let approvers = &s.app.bot.approvers;
            assert!(!approvers.is_approver(OTHER_MEMBER));
            let added = s
                .slack()
                .set_usergroup_members(LEADS_GROUP, &[GROUP_LEAD, OTHER_MEMBER])
                .unwrap();
            s.slack().send_event(added).await.unwrap();
            assert!(approvers.is_approver(OTHER_MEMBER));

            // `subteam_updated` carries the whole group: a group emptied this way is applied too.
            s.slack().set_usergroup_members(LEADS_GROUP, &[]).unwrap();
            let updated = s.slack().usergroup_updated_event(LEADS_GROUP).unwrap();
            s.slack().send_event(updated).await.unwrap();
            assert!(!approvers.is_approver(GROUP_LEAD));
            assert!(!approvers.is_approver(OTHER_MEMBER));
            assert!(
                approvers.is_approver(LEAD),
                "configured user ids are untouched"
            );
        })
        .await;
}

#[tokio::test]
async fn when_the_event_is_lost_the_periodic_re_read_still_applies_the_change() {
    story(async |s| {
        s.requests_rotation().await;
        // The admin removes the lead, but Slack's event never arrives.
        let _lost = s.slack().set_usergroup_members(LEADS_GROUP, &[]).unwrap();
        assert!(
            s.app.bot.approvers.is_approver(GROUP_LEAD),
            "nothing told the bot yet"
        );
        s.app.bot.approvers.refresh().await.unwrap();
        s.group_lead().clicks(ids::APPROVE).await;
        s.group_lead().is_told("Only a team lead").await;
        // A configured lead still approves.
        s.lead().clicks(ids::APPROVE).await;
        s.thread().waits_for_button(ids::ENTER_TOKEN).await;
    })
    .await;
}
