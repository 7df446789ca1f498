use super::*;
use crate::audit::{ChainBreak, NewAuditRecord};
use crate::rotation::{Actor, ExpirySource, RotationState, StartRequest, decide_start};
use chrono::{Duration, TimeZone};
use serde_json::json;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 5, 4, 12, minute, 0).unwrap()
}

fn record(action: &str, minute: u32) -> NewAuditRecord {
    NewAuditRecord {
        at: at(minute),
        actor: "U1".to_owned(),
        action: action.to_owned(),
        connection: Some("prod".to_owned()),
        rotation_id: None,
        details: json!({ "n": minute }),
    }
}

fn new_rotation(connection: &str) -> crate::rotation::Rotation {
    decide_start(StartRequest {
        connection,
        in_flight: None,
        requester: &Actor::user("U1", false),
        old_token_id: Some("old".to_owned()),
        channel: None,
        thread_ts: None,
        approval_window: Duration::hours(24),
        now: at(0),
    })
    .unwrap()
}

#[test]
fn migrations_apply_to_an_empty_database_and_reopen_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::MIGRATIONS.len());
    store.append_audit(&record("first", 1)).unwrap();
    drop(store);
    let reopened = Store::open(&path).unwrap();
    assert_eq!(reopened.schema_version().unwrap(), schema::MIGRATIONS.len());
    assert_eq!(reopened.verify_audit().unwrap(), Ok(1));
}

#[test]
fn a_database_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    drop(Store::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::TooNew { found: 99, .. })
    ));
}

#[test]
fn the_audit_chain_links_every_record() {
    let store = Store::open_in_memory().unwrap();
    let first = store.append_audit(&record("a", 1)).unwrap();
    let second = store.append_audit(&record("b", 2)).unwrap();
    assert_eq!((first.seq, second.seq), (1, 2));
    assert_eq!(second.expected_hash(&first.hash), second.hash);
    assert_eq!(store.verify_audit().unwrap(), Ok(2));
    let last = store
        .audit_records(&AuditFilter {
            last: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(last, vec![second]);
}

#[test]
fn the_database_refuses_to_edit_the_audit_log() {
    let store = Store::open_in_memory().unwrap();
    store.append_audit(&record("a", 1)).unwrap();
    let conn = store.lock();
    let error = conn
        .execute("UPDATE audit_log SET actor = 'x'", [])
        .unwrap_err();
    assert!(error.to_string().contains("append-only"));
    assert!(conn.execute("DELETE FROM audit_log", []).is_err());
}

#[test]
fn losing_the_newest_record_is_detected() {
    let store = Store::open_in_memory().unwrap();
    store.append_audit(&record("a", 1)).unwrap();
    store.append_audit(&record("b", 2)).unwrap();
    {
        let conn = store.lock();
        conn.execute_batch(
            "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 2;",
        )
        .unwrap();
    }
    assert_eq!(
        store.verify_audit().unwrap(),
        Err(ChainBreak::Truncated { expected_last: 2 })
    );
}

#[test]
fn one_rotation_in_flight_per_connection_is_enforced_by_the_database() {
    let store = Store::open_in_memory().unwrap();
    let first = store
        .insert_rotation(&new_rotation("prod"), &record("requested", 1))
        .unwrap();
    assert_eq!(first.id.0, 1);
    let second = store.insert_rotation(&new_rotation("prod"), &record("requested", 2));
    assert!(matches!(second, Err(StoreError::InFlight(c)) if c == "prod"));
    store
        .insert_rotation(&new_rotation("other"), &record("requested", 3))
        .unwrap();
    // The refused insert left no audit record behind.
    assert_eq!(store.verify_audit().unwrap(), Ok(2));
    let audit = store.audit_records(&AuditFilter::default()).unwrap();
    assert_eq!(audit[0].rotation_id, Some(1));
}

#[test]
fn a_stale_version_is_refused_and_writes_nothing() {
    let store = Store::open_in_memory().unwrap();
    let stored = store
        .insert_rotation(&new_rotation("prod"), &record("requested", 1))
        .unwrap();
    let mut next = stored.clone();
    next.state = RotationState::AwaitingNewToken;
    next.version = 2;
    store
        .update_rotation(&next, 1, &record("approved", 2), None)
        .unwrap();
    let again = store.update_rotation(&next, 1, &record("approved", 3), None);
    assert!(matches!(again, Err(StoreError::Conflict(1))));
    assert_eq!(store.get_rotation(stored.id).unwrap().unwrap(), next);
    assert_eq!(store.verify_audit().unwrap(), Ok(2));
}

#[test]
fn completing_a_rotation_replaces_the_current_token() {
    let store = Store::open_in_memory().unwrap();
    let old = NewToken {
        connection: "prod".to_owned(),
        token_id: Some("old".to_owned()),
        created_at: Some(at(0) - Duration::days(350)),
        expires_at: Some(at(0) + Duration::days(15)),
        source: ExpirySource::Manual,
        fingerprint: None,
    };
    store
        .insert_token(&old, &record("token_registered", 0))
        .unwrap();
    let stored = store
        .insert_rotation(&new_rotation("prod"), &record("requested", 1))
        .unwrap();
    let mut done = stored.clone();
    done.state = RotationState::Completed;
    done.version = 2;
    let new = NewToken {
        token_id: Some("new".to_owned()),
        created_at: Some(at(5)),
        expires_at: Some(at(5) + Duration::days(365)),
        source: ExpirySource::Rotation,
        fingerprint: Some("0123456789ab".to_owned()),
        ..old.clone()
    };
    store
        .update_rotation(&done, 1, &record("completed", 5), Some(&new))
        .unwrap();
    let current = store.current_token("prod").unwrap().unwrap();
    assert_eq!(current.token_id.as_deref(), Some("new"));
    assert_eq!(current.expires_at, Some(at(5) + Duration::days(365)));
    let all = store.list_tokens(true).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].retired_at, Some(at(5)));
    assert_eq!(store.in_flight_rotation("prod").unwrap(), None);
}

#[test]
fn a_warning_is_claimed_once() {
    let store = Store::open_in_memory().unwrap();
    assert!(
        store
            .claim_warning("prod", 1, "d30", &record("warned", 1))
            .unwrap()
    );
    assert!(
        !store
            .claim_warning("prod", 1, "d30", &record("warned", 2))
            .unwrap()
    );
    assert!(
        store
            .claim_warning("prod", 1, "d14", &record("warned", 3))
            .unwrap()
    );
    assert_eq!(store.verify_audit().unwrap(), Ok(2));
    store
        .set_warning_message("prod", 1, "d30", "C1", "111.222")
        .unwrap();
    let sent = store.sent_warnings("prod", 1).unwrap();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].ts.as_deref(), Some("111.222"));
}

#[test]
fn only_an_unposted_claim_can_be_released() {
    let store = Store::open_in_memory().unwrap();
    store
        .claim_warning("prod", 1, "d30", &record("warned", 1))
        .unwrap();
    store
        .claim_warning("prod", 1, "d14", &record("warned", 2))
        .unwrap();
    store
        .set_warning_message("prod", 1, "d14", "C1", "1.2")
        .unwrap();
    assert!(
        !store
            .release_warning("prod", 1, "d14", &record("released", 3))
            .unwrap(),
        "a posted warning stays claimed"
    );
    assert!(
        store
            .release_warning("prod", 1, "d30", &record("released", 4))
            .unwrap()
    );
    assert!(
        store
            .claim_warning("prod", 1, "d30", &record("warned", 5))
            .unwrap(),
        "released: the next sweep may send it"
    );
    assert_eq!(store.verify_audit().unwrap(), Ok(4));
}

#[test]
fn scheduler_state_changes_only_from_the_expected_value() {
    let store = Store::open_in_memory().unwrap();
    let audit = record("alert", 1);
    assert!(
        store
            .compare_and_set_scheduler_state("k", None, Some("a"), Some(&audit))
            .unwrap()
    );
    assert!(
        !store
            .compare_and_set_scheduler_state("k", None, Some("b"), Some(&audit))
            .unwrap(),
        "a second writer expecting nothing loses"
    );
    assert!(
        !store
            .compare_and_set_scheduler_state("k", Some("x"), None, None)
            .unwrap()
    );
    assert_eq!(store.scheduler_state("k").unwrap().as_deref(), Some("a"));
    assert!(
        store
            .compare_and_set_scheduler_state("k", Some("a"), None, None)
            .unwrap()
    );
    assert_eq!(store.scheduler_state("k").unwrap(), None);
    assert_eq!(
        store.verify_audit().unwrap(),
        Ok(1),
        "only the winner audits"
    );
    store.set_scheduler_state("j", "1").unwrap();
    store.clear_scheduler_state("j").unwrap();
    store.clear_scheduler_state("j").unwrap();
    assert_eq!(store.scheduler_state("j").unwrap(), None);
}

#[test]
fn rotations_are_counted_by_state() {
    let store = Store::open_in_memory().unwrap();
    assert_eq!(store.rotation_counts().unwrap(), []);
    store
        .insert_rotation(&new_rotation("prod"), &record("requested", 1))
        .unwrap();
    store
        .insert_rotation(&new_rotation("test"), &record("requested", 2))
        .unwrap();
    assert_eq!(
        store.rotation_counts().unwrap(),
        [(RotationState::AwaitingApproval, 2)]
    );
}

/// Every file of the directory with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().to_string_lossy().into_owned(),
                std::fs::read(entry.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_read_only_store_reads_and_changes_no_file() {
    let top = tempfile::tempdir().unwrap();
    // Characters that mean something in a URI must not confuse the read-only open.
    let dir = top.path().join("a b#c?d%20");
    std::fs::create_dir(&dir).unwrap();
    let path = dir.join("store.db");
    let store = Store::open(&path).unwrap();
    store
        .claim_warning("prod", 1, "d30", &record("warned", 1))
        .unwrap();
    drop(store);
    let before = snapshot(&dir);
    let read_only = Store::open_read_only(&path).unwrap();
    assert_eq!(read_only.sent_warnings("prod", 1).unwrap().len(), 1);
    assert!(
        read_only
            .claim_warning("prod", 1, "d14", &record("warned", 2))
            .is_err(),
        "writes are refused"
    );
    drop(read_only);
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn a_read_only_store_sees_what_an_open_writer_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let writer = Store::open(&path).unwrap();
    writer
        .claim_warning("prod", 1, "d30", &record("warned", 1))
        .unwrap();
    let reader = Store::open_read_only(&path).unwrap();
    writer
        .claim_warning("prod", 1, "d14", &record("warned", 2))
        .unwrap();
    assert_eq!(reader.sent_warnings("prod", 1).unwrap().len(), 2);
}

#[test]
fn a_read_only_open_never_creates_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    assert!(matches!(
        Store::open_read_only(&path),
        Err(StoreError::Open { .. })
    ));
    assert!(!path.exists());
}

#[test]
fn an_expiry_correction_applies_only_to_the_token_it_was_decided_for() {
    let store = Store::open_in_memory().unwrap();
    let token = |id: &str| NewToken {
        connection: "prod".to_owned(),
        token_id: Some(id.to_owned()),
        created_at: None,
        expires_at: Some(at(1)),
        source: ExpirySource::Manual,
        fingerprint: None,
    };
    let old = store
        .insert_token(&token("old"), &record("token_registered", 1))
        .unwrap();
    let corrected = store
        .set_token_expiry(
            "prod",
            old.id,
            at(30),
            ExpirySource::AwsHealth,
            &record("token_expiry_corrected", 2),
        )
        .unwrap();
    assert_eq!(corrected.expires_at, Some(at(30)));
    assert_eq!(corrected.source, ExpirySource::AwsHealth);
    // A rotation replaced the token meanwhile: the correction was about the old one.
    store
        .insert_token(&token("new"), &record("token_registered", 3))
        .unwrap();
    assert!(matches!(
        store.set_token_expiry(
            "prod",
            old.id,
            at(40),
            ExpirySource::AwsHealth,
            &record("token_expiry_corrected", 4)
        ),
        Err(StoreError::NoToken(_))
    ));
    assert_eq!(
        store.current_token("prod").unwrap().unwrap().expires_at,
        Some(at(1))
    );
    assert_eq!(
        store.verify_audit().unwrap(),
        Ok(3),
        "nothing audited for it"
    );
}

#[test]
fn a_registered_token_remembers_how_it_was_registered() {
    let store = Store::open_in_memory().unwrap();
    for (via, expected) in [
        ("cli", ExpirySource::Cli),
        ("slack", ExpirySource::SlashCommand),
    ] {
        let token = store
            .register_token(
                "prod",
                &format!("tok-{via}"),
                at(0),
                at(0) + Duration::days(365),
                "U1",
                at(1),
                json!({ "via": via }),
            )
            .unwrap();
        assert_eq!(token.source, expected);
        assert_eq!(
            store.current_token("prod").unwrap().unwrap().source,
            expected
        );
    }
    // A later date from AWS Health replaces the origin, and the column with it.
    let current = store.current_token("prod").unwrap().unwrap();
    let corrected = store
        .set_token_expiry(
            "prod",
            current.id,
            at(0) + Duration::days(300),
            ExpirySource::AwsHealth,
            &record("expiry_corrected", 2),
        )
        .unwrap();
    assert_eq!(corrected.source, ExpirySource::AwsHealth);
}

#[test]
fn a_rotations_approvals_and_audit_story_are_kept() {
    let store = Store::open_in_memory().unwrap();
    let mut rotation = new_rotation("prod");
    rotation.approvals = vec!["U2".to_owned()];
    let stored = store
        .insert_rotation(&rotation, &record("rotation_requested", 0))
        .unwrap();
    assert_eq!(stored.approvals, ["U2"]);
    let mut next = stored.clone();
    next.version += 1;
    next.approvals.push("U3".to_owned());
    let mut approved = record("approved", 1);
    approved.rotation_id = Some(stored.id.0);
    store
        .update_rotation(&next, stored.version, &approved, None)
        .unwrap();
    assert_eq!(
        store.get_rotation(stored.id).unwrap().unwrap().approvals,
        ["U2", "U3"]
    );
    store.append_audit(&record("unrelated", 2)).unwrap();
    let story: Vec<String> = store
        .rotation_audit(stored.id.0)
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(story, ["rotation_requested", "approved"]);
}
