//! The scheduler against the fake Slack and Microsoft: expiry warnings once per threshold,
//! across restarts, crashes and overlapping sweeps; the Entra job watch.

use std::sync::Arc;

use crate::support::scheduler::SchedulerEnv;
use chrono::Duration;
use scim_rotator::rotation::Actor;
use scim_rotator::slack::ids;
use scim_sandbox::microsoft::JobStatus;
use scim_sandbox::people::*;
use scim_sandbox::slack::{SlackFault, StoredMessage};
use scim_sandbox::{Fault, Route};

/// The mentions the last warnings carry: the configured lead and the leads' group.
const MENTIONS: [&str; 2] = ["<@U0LEE>", "<!subteam^S0LEADS>"];

fn mentions_approvers(message: &StoredMessage) -> bool {
    MENTIONS.iter().all(|m| message.text.contains(m))
}

/// Walks a token from 40 days before expiry to 3 days after, one sweep a day;
/// `between_sweeps` runs after each day's sweep (a restart, a second sweep, …).
async fn walk(env: &mut SchedulerEnv, mut between_sweeps: impl AsyncFnMut(&mut SchedulerEnv)) {
    let expires = env.now() + Duration::days(40);
    env.register_token("tok-123", expires);
    for _day in 0..=43 {
        env.sweep().await;
        between_sweeps(env).await;
        env.clock.advance(Duration::days(1));
    }
}

/// What a walk must leave in the channel: one message, eight replies in its thread.
fn assert_walk_result(env: &SchedulerEnv) {
    let top = env.top_level();
    assert_eq!(top.len(), 1, "one top-level message per token cycle");
    let first = &top[0];
    let thread = env.slack().thread(CHANNEL, &first.ts);
    // d14, d7, d3, d1, then a critical warning on expiry and on each of the 3 days after.
    assert_eq!(
        thread.len(),
        8,
        "{:#?}",
        thread.iter().map(|m| &m.text).collect::<Vec<_>>()
    );
    let mentioned: Vec<bool> = thread.iter().map(mentions_approvers).collect();
    assert_eq!(
        mentioned,
        [false, false, true, true, true, true, true, true],
        "approvers are mentioned from 3 days left"
    );
    assert!(!mentions_approvers(first), "the 30-day notice stays quiet");
    assert!(
        thread[0].text.contains("expires in 14 days"),
        "{}",
        thread[0].text
    );
    assert!(
        thread[1].text.contains("expires in 7 days"),
        "{}",
        thread[1].text
    );
    assert!(thread[4].text.contains("has expired"), "{}", thread[4].text);
    // The first message follows: updated at each later warning, now critical.
    assert_eq!(first.edits, 8);
    assert!(first.text.contains("expired on"), "{}", first.text);
    assert!(first.text.starts_with("🔴"), "{}", first.text);
    assert!(
        first.history[0].text.starts_with("🔵"),
        "{}",
        first.history[0].text
    );
    assert!(first.has_button(ids::START_ROTATION));
    assert_eq!(env.count_audit("expiry_warning"), 9);
}

#[tokio::test]
async fn a_token_walked_past_expiry_gets_each_warning_once_in_one_thread() {
    let mut env = SchedulerEnv::start().await;
    walk(&mut env, async |_| {}).await;
    assert_walk_result(&env);
    assert_eq!(env.store.verify_audit().unwrap(), Ok(10));
}

#[tokio::test]
async fn a_restart_after_any_sweep_repeats_nothing() {
    let mut env = SchedulerEnv::start().await;
    walk(&mut env, async |env| {
        env.restart();
        // The restarted bot sweeps at once, at the same time of day.
        let again = env.sweep().await;
        assert_eq!(again.posted(), 0, "{:?}", again.lines());
    })
    .await;
    assert_walk_result(&env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_sweeps_post_each_warning_once() {
    let env = SchedulerEnv::start().await;
    let other = env.other_process();
    // Each round is a new token (a new warning cycle) swept by two processes at once, on two
    // threads, so that their reads and claims interleave.
    const ROUNDS: usize = 100;
    for round in 0..ROUNDS {
        env.register_token(&format!("tok-{round}"), env.now() + Duration::days(10));
        let now = env.now();
        let (mine, theirs) = (Arc::clone(&env.scheduler), Arc::clone(&other));
        let first = tokio::spawn(async move { mine.sweep(now).await.posted() });
        let second = tokio::spawn(async move { theirs.sweep(now).await.posted() });
        let posted = first.await.unwrap() + second.await.unwrap();
        assert_eq!(posted, 1, "round {round}: one warning posted");
    }
    assert_eq!(env.top_level().len(), ROUNDS);
    assert_eq!(env.count_audit("expiry_warning"), ROUNDS);
}

#[tokio::test]
async fn a_crash_between_claim_and_post_never_posts_that_warning_again() {
    let mut env = SchedulerEnv::start().await;
    env.register_token("tok-123", env.now() + Duration::days(14));
    // The post of the 14-day warning never gets an answer; the process dies meanwhile.
    env.slack().hang_next("chat.postMessage");
    let sweep = env.sweep();
    let posting = env.slack().wait_until(crate::support::DEADLINE, |slack| {
        (!slack.calls_to("chat.postMessage").is_empty()).then_some(())
    });
    tokio::select! {
        report = sweep => panic!("the sweep ended: {:?}", report.lines()),
        seen = posting => seen.unwrap(),
    }
    env.restart();
    let after = env.sweep().await;
    assert_eq!(after.posted(), 0, "{:?}", after.lines());
    assert_eq!(env.slack().calls_to("chat.postMessage").len(), 1);

    // The next threshold starts a thread of its own: the first message was never seen.
    env.clock.advance(Duration::days(7));
    env.sweep().await;
    let top = env.top_level();
    assert_eq!(top.len(), 1);
    assert!(top[0].text.contains("expires in 7 days"), "{}", top[0].text);
}

#[tokio::test]
async fn a_warning_slack_refused_is_sent_by_the_next_sweep() {
    let env = SchedulerEnv::start().await;
    env.register_token("tok-123", env.now() + Duration::days(30));
    env.slack()
        .fail_next("chat.postMessage", SlackFault::error("channel_not_found"));
    let first = env.sweep().await;
    assert_eq!(first.failed(), 1, "{:?}", first.lines());
    assert!(env.top_level().is_empty());
    env.clock.advance(Duration::hours(1));
    let second = env.sweep().await;
    assert_eq!(second.posted(), 1, "{:?}", second.lines());
    assert_eq!(env.top_level().len(), 1);
    assert_eq!(
        env.audit_actions()[1..],
        ["expiry_warning", "expiry_warning_failed", "expiry_warning"]
    );
}

#[tokio::test]
async fn a_warning_whose_thread_is_gone_is_posted_as_a_new_message() {
    let env = SchedulerEnv::start().await;
    env.register_token("tok-123", env.now() + Duration::days(14));
    env.sweep().await;
    // Someone deleted the first warning: Slack refuses replies in its thread.
    env.slack()
        .fail_next("chat.postMessage", SlackFault::error("thread_not_found"));
    env.clock.advance(Duration::days(7));
    let report = env.sweep().await;
    assert_eq!(report.posted(), 1, "{:?}", report.lines());
    let top = env.top_level();
    assert_eq!(top.len(), 2);
    assert!(top[1].text.contains("expires in 7 days"), "{}", top[1].text);
}

#[tokio::test]
async fn an_open_rotation_holds_back_early_warnings_but_not_urgent_ones() {
    let env = SchedulerEnv::start().await;
    let expires = env.now() + Duration::days(7);
    env.register_token("tok-123", expires);
    let started = env
        .engine
        .start(CONNECTION, &Actor::user(MEMBER, false), None, None)
        .await
        .unwrap();
    let scim_rotator::engine::CommandOutcome::Changed(rotation) = started else {
        panic!("{started:?}")
    };
    env.engine
        .apply(
            rotation.id,
            scim_rotator::rotation::Command::Approve,
            &Actor::user(LEAD, true),
        )
        .await
        .unwrap();
    assert_eq!(env.sweep().await.posted(), 0, "7 days left, rotation open");

    // This rotation has no thread (nothing presents it here): the urgent warning still
    // reaches people, as the cycle's message, mentioning the approvers.
    env.clock.set(expires - Duration::hours(20));
    let urgent = env.sweep().await;
    assert_eq!(urgent.posted(), 1, "{:?}", urgent.lines());
    let top = env.top_level();
    assert_eq!(top.len(), 1);
    assert!(
        top[0].text.contains("expires in less than a day"),
        "{}",
        top[0].text
    );
    let thread = env.slack().thread(CHANNEL, &top[0].ts);
    assert_eq!(thread.len(), 1, "the approvers are mentioned under it");
    assert!(mentions_approvers(&thread[0]), "{}", thread[0].text);

    env.clock.set(expires + Duration::hours(1));
    let critical = env.sweep().await;
    assert_eq!(critical.posted(), 1, "{:?}", critical.lines());
    let top = env.top_level();
    assert_eq!(top.len(), 1, "the critical one follows in the same thread");
    let thread = env.slack().thread(CHANNEL, &top[0].ts);
    assert_eq!(thread.len(), 2);
    assert!(mentions_approvers(&thread[1]), "{}", thread[1].text);
}

#[tokio::test]
async fn an_unknown_expiry_is_warned_about_once_and_shown_as_unknown() {
    let env = SchedulerEnv::start().await;
    let first = env.sweep().await;
    assert_eq!(
        first.lines()[0],
        "posted: [prod-org] no token recorded: ask to register it (new message)"
    );
    env.clock.advance(Duration::days(30));
    assert_eq!(env.sweep().await.posted(), 0);
    let top = env.top_level();
    assert_eq!(top.len(), 1);
    assert!(
        top[0]
            .text
            .contains("I don't know when the SCIM token for prod-org expires")
    );
    assert!(top[0].has_button(ids::START_ROTATION));

    let rows = crate::support::scheduler::status_rows(&env);
    let status = scim_rotator::slack::render::status_message(&rows, env.now());
    assert!(
        status.text.contains("1 with unknown expiry"),
        "{}",
        status.text
    );
}

#[tokio::test]
async fn a_preview_says_what_a_sweep_would_post_and_changes_nothing() {
    let env = SchedulerEnv::start().await;
    let expires = env.now() + Duration::days(40);
    env.register_token("tok-123", expires);
    env.sweep().await; // nothing due yet
    let calls = env.slack().calls().len();
    let audit = env.audit_actions().len();
    let report = env.scheduler.preview(expires - Duration::days(7)).await;
    assert_eq!(
        report.lines(),
        [
            "would post: [prod-org] token tok-123 expires 2027-03-13 (7 days left): warning (new message)",
            "dry run as of 2027-03-06 09:00 UTC: 1 message(s) would be posted; nothing was changed",
        ]
    );
    assert_eq!(env.slack().calls().len(), calls, "Slack was not called");
    assert_eq!(env.audit_actions().len(), audit, "nothing recorded");
    assert_eq!(env.sweep().await.posted(), 0, "and nothing was claimed");
}

#[tokio::test]
async fn a_quarantine_is_alerted_once_per_series_and_its_recovery_once() {
    let env = SchedulerEnv::start().await;
    env.register_token("tok-123", env.now() + Duration::days(200));
    assert_eq!(env.sweep().await.posted(), 0, "a healthy job says nothing");

    env.world.cloud.microsoft.quarantine_now();
    let alerted = env.sweep().await;
    assert_eq!(alerted.posted(), 1, "{:?}", alerted.lines());
    let alert = env.top_level().pop().unwrap();
    assert!(
        alert
            .text
            .contains("Provisioning into AWS is failing for prod-org")
    );
    let blocks = alert.blocks.to_string();
    assert!(blocks.contains("Entra cannot authenticate"), "{blocks}");
    assert!(
        blocks.contains("SystemForCrossDomainIdentityManagementCredentialValidationFailure"),
        "the Entra error code is shown"
    );
    assert!(alert.has_button(ids::START_ROTATION));

    // Entra retries and fails again: the same series, nothing new.
    env.clock.advance(Duration::hours(6));
    env.world.cloud.microsoft.quarantine_now();
    let still = env.sweep().await;
    assert_eq!(still.posted(), 0, "{:?}", still.lines());
    // A second process sweeping meanwhile does not alert either.
    assert_eq!(env.other_process().sweep(env.now()).await.posted(), 0);

    // The job stays Active without a successful run: still failing.
    env.world.cloud.microsoft.set_job_status(JobStatus::Active);
    assert_eq!(env.sweep().await.posted(), 0);
    // Entra's next run gets in (the token was fine all along: someone fixed it in AWS).
    env.clock.advance(Duration::hours(1));
    assert_eq!(
        env.world.cloud.microsoft.run_provisioning_cycle(),
        JobStatus::Active
    );
    let recovered = env.sweep().await;
    assert_eq!(recovered.posted(), 1, "{:?}", recovered.lines());
    let thread = env.slack().thread(CHANNEL, &alert.ts);
    assert_eq!(thread.len(), 1);
    assert!(
        thread[0]
            .text
            .contains("Provisioning into AWS works again for prod-org")
    );
    assert_eq!(env.sweep().await.posted(), 0);

    // A new series is a new alert.
    env.world.cloud.microsoft.quarantine_now();
    assert_eq!(env.sweep().await.posted(), 1);
    assert_eq!(env.top_level().len(), 2);
    assert_eq!(env.count_audit("quarantine_alert"), 2);
    assert_eq!(env.count_audit("provisioning_recovered"), 1);
}

#[tokio::test]
async fn graph_failures_show_in_status_at_once_and_warn_the_channel_after_three_sweeps() {
    let env = SchedulerEnv::start().await;
    env.register_token("tok-123", env.now() + Duration::days(200));
    env.sweep().await; // discovery done, Graph fine
    env.world.cloud.microsoft.faults().push(
        Route::GetJob,
        Fault::Status {
            code: 403,
            retry_after: None,
            times: usize::MAX,
        },
    );
    let problem = |env: &SchedulerEnv| {
        env.store
            .scheduler_state(&scim_rotator::store::keys::graph_problem(CONNECTION))
            .unwrap()
    };
    for sweep in 1..=2 {
        let report = env.sweep().await;
        assert_eq!(report.posted(), 0, "sweep {sweep}: {:?}", report.lines());
        assert!(problem(&env).unwrap().contains("lacks permission"));
        env.clock.advance(Duration::hours(1));
    }
    let rows = crate::support::scheduler::status_rows(&env);
    let status = scim_rotator::slack::render::status_message(&rows, env.now());
    assert!(
        status.text.contains("1 that I cannot check in Entra"),
        "{}",
        status.text
    );

    let third = env.sweep().await;
    assert_eq!(third.posted(), 1, "{:?}", third.lines());
    let warning = env.top_level().pop().unwrap();
    assert!(
        warning
            .text
            .contains("I cannot reach Microsoft Graph for prod-org")
    );
    env.clock.advance(Duration::hours(1));
    assert_eq!(env.sweep().await.posted(), 0, "said once");

    env.world.cloud.microsoft.faults().clear();
    env.clock.advance(Duration::hours(1));
    let back = env.sweep().await;
    assert_eq!(back.posted(), 0);
    assert_eq!(
        problem(&env),
        None,
        "/scim status no longer shows a problem"
    );
    assert_eq!(env.count_audit("graph_unreachable_alert"), 1);
    assert_eq!(env.count_audit("graph_reachable_again"), 1);
}
