//! Benchmarks of the hot paths (run with `cargo bench`): deciding a command, persisting a
//! transition with its audit record, rendering a step message, verifying the audit chain.
//! A plain harness (no extra crates): each case runs for a fixed number of iterations after
//! a warm-up and reports the mean time per operation. Results live in BENCHMARKS.md.

use chrono::{Duration, TimeZone, Utc};
use scim_rotator::audit::NewAuditRecord;
use scim_rotator::rotation::{
    Actor, Command, Decision, Policy, RotationState, StartRequest, decide, decide_start,
};
use scim_rotator::slack::render::{self, Approvers, ConnectionInfo};
use scim_rotator::store::Store;
use std::hint::black_box;
use std::time::Instant;

fn measure(name: &str, iterations: u32, mut op: impl FnMut(u32)) {
    for i in 0..iterations.min(100) {
        op(i);
    }
    let started = Instant::now();
    for i in 0..iterations {
        op(i);
    }
    let per_op = started.elapsed() / iterations;
    println!("{name:<48} {iterations:>8} iterations  {per_op:>12.2?} per op");
}

fn main() {
    let now = Utc.with_ymd_and_hms(2027, 3, 1, 9, 0, 0).unwrap();
    let requester = Actor::user("U_MEMBER", false);
    let lead = Actor::user("U_LEAD", true);
    let rotation = decide_start(StartRequest {
        connection: "prod",
        in_flight: None,
        requester: &requester,
        old_token_id: Some("tok-old".to_owned()),
        channel: Some("C1".to_owned()),
        thread_ts: Some("1.0".to_owned()),
        approval_window: Duration::hours(24),
        now,
    })
    .unwrap();

    measure("decide(approve)", 1_000_000, |_| {
        black_box(decide(
            black_box(&rotation),
            &Command::Approve,
            &lead,
            Policy::default(),
            now,
        ));
    });

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.db")).unwrap();
    let audit = |action: &str| NewAuditRecord {
        at: now,
        actor: "U_LEAD".to_owned(),
        action: action.to_owned(),
        connection: Some("prod".to_owned()),
        rotation_id: None,
        details: serde_json::json!({ "n": 1 }),
    };
    let mut stored = store
        .insert_rotation(&rotation, &audit("rotation_requested"))
        .unwrap();
    measure("store: transition + audit record (WAL file)", 5_000, |i| {
        let mut next = stored.clone();
        next.version += 1;
        next.state = if i % 2 == 0 {
            RotationState::AwaitingNewToken
        } else {
            RotationState::AwaitingApproval
        };
        store
            .update_rotation(&next, stored.version, &audit("approved"), None)
            .unwrap();
        stored = next;
    });

    let conn = ConnectionInfo {
        name: "prod",
        aws_region: "eu-west-1",
    };
    let users = vec!["U_LEAD".to_owned()];
    let approvers = Approvers {
        users: &users,
        groups: &[],
        allow_self_approval: false,
        required: 1,
    };
    let Decision::Transition(approved) =
        decide(&rotation, &Command::Approve, &lead, Policy::default(), now)
    else {
        unreachable!()
    };
    let entries = scim_rotator::rotation::history::entries(&[]);
    let thread = render::Thread {
        rotation: &approved.rotation,
        entries: &entries,
        conn,
        approvers,
        requester_is_approver: false,
        old: None,
    };
    measure("render the request message + JSON", 100_000, |_| {
        let message = render::thread_message(&thread, 0);
        black_box(serde_json::to_vec(&message).unwrap());
    });

    let records = store.audit_records(&Default::default()).unwrap().len();
    measure(&format!("audit verify ({records} records)"), 20, |_| {
        black_box(store.verify_audit().unwrap().unwrap());
    });
}
