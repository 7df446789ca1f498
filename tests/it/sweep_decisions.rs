//! `Scheduler::decide_warnings`, the deciding half of a sweep that `benches/sweep.rs`
//! measures: it finds what the sweep would post, and claims, posts and writes nothing.

use crate::support::scheduler::SchedulerEnv;
use chrono::Duration;
use scim_rotator::rotation::warnings::WarningKind;
use scim_sandbox::people::*;

#[tokio::test]
async fn decides_what_the_sweep_posts_and_changes_nothing() {
    let env = SchedulerEnv::start().await;
    env.register_token("tok-1", env.now() + Duration::days(6) + Duration::hours(1));
    let audit_before = env.audit_actions().len();

    let decided = env.scheduler.decide_warnings(env.now()).unwrap();
    assert_eq!(decided.len(), 1);
    let (connection, due) = &decided[0];
    assert_eq!(connection, CONNECTION);
    let due = due
        .as_ref()
        .expect("7 days or fewer left: a warning is due");
    assert_eq!(due.kind, WarningKind::DaysLeft(7));
    assert!(env.messages().is_empty(), "deciding posts nothing");
    assert_eq!(
        env.audit_actions().len(),
        audit_before,
        "and records nothing"
    );
    assert_eq!(
        env.scheduler.decide_warnings(env.now()).unwrap(),
        decided,
        "deciding again decides the same"
    );

    env.sweep().await;
    assert_eq!(env.messages().len(), 1, "the sweep posted what was decided");
    let after = env.scheduler.decide_warnings(env.now()).unwrap();
    assert_eq!(
        after,
        vec![(CONNECTION.to_owned(), None)],
        "nothing more is due"
    );
}
