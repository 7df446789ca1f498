//! Snapshots of every message and view in each meaningful state — the JSON Slack receives
//! and the transcript a person reads — and the limits every one of them stays within.
//!
//! Rotations are driven through the real `decide`, so every record shown is one the domain
//! can produce.

use super::limits::{MAX_MESSAGE_BLOCKS, MAX_VIEW_BLOCKS, check_message, check_view};
use super::transcript::{to_text, view_to_text};
use super::*;
use crate::audit::AuditRecord;
use crate::rotation::expiry::Threshold;
use crate::rotation::{
    Actor, Command, Decision, ExpirySource, Policy, Rotation, RotationId, RotationState, Stage,
    StartRequest, Submission, TokenRecord, decide, decide_start,
};
use crate::slack::ids;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::json;
use slack_morphism::prelude::SlackView;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const REQUESTER: &str = "U01REQUEST";
const LEAD: &str = "U02LEAD";
const OTHER_LEAD: &str = "U03LEAD";
const OLD_ID: &str = "3f1c9a52-7d4e-4b8a-9c21-5e6f7a8b9c0d";
const NEW_ID: &str = "b7e24c10-93aa-4f5e-8d1b-2a3c4d5e6f70";
const FINGERPRINT: &str = "9f86d081884c";

/// When the rotation was requested: Monday 1 March 2027, 09:00 UTC.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, 1, 9, 0, 0).unwrap()
}

fn at(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

fn conn() -> ConnectionInfo<'static> {
    ConnectionInfo {
        name: "prod",
        aws_region: "eu-west-1",
    }
}

fn approvers_users() -> Vec<String> {
    vec![LEAD.to_owned(), OTHER_LEAD.to_owned()]
}

fn approvers_groups() -> Vec<String> {
    vec!["S04LEADS".to_owned()]
}

fn token(expires: Option<DateTime<Utc>>, source: ExpirySource) -> TokenRecord {
    TokenRecord {
        id: 1,
        connection: "prod".to_owned(),
        token_id: Some(OLD_ID.to_owned()),
        created_at: expires.map(|e| e - Duration::days(365)),
        expires_at: expires,
        source,
        fingerprint: None,
        retired_at: None,
    }
}

fn lead() -> Actor {
    Actor::user(LEAD, true)
}

fn other_lead() -> Actor {
    Actor::user(OTHER_LEAD, true)
}

fn step(r: &Rotation, command: Command, actor: &Actor, minutes: i64) -> Rotation {
    match decide(r, &command, actor, Policy::default(), at(minutes)) {
        Decision::Transition(t) => t.rotation,
        other => panic!("{command:?} in {}: {other:?}", r.state),
    }
}

fn requested() -> Rotation {
    let mut r = decide_start(StartRequest {
        connection: "prod",
        in_flight: None,
        requester: &Actor::user(REQUESTER, false),
        old_token_id: Some(OLD_ID.to_owned()),
        channel: Some("C0CHANNEL".to_owned()),
        thread_ts: Some("1803891600.000100".to_owned()),
        approval_window: Duration::hours(24),
        now: t0(),
    })
    .unwrap();
    r.id = RotationId(7);
    r
}

fn approved() -> Rotation {
    step(&requested(), Command::Approve, &lead(), 10)
}

fn submitted() -> Rotation {
    step(
        &approved(),
        Command::SubmitToken(Submission {
            fingerprint: FINGERPRINT.to_owned(),
            new_token_id: Some(NEW_ID.to_owned()),
            expires: Some(at(20) + Duration::days(365)),
        }),
        &lead(),
        20,
    )
}

fn aws_ok() -> Rotation {
    step(&submitted(), Command::AwsProbePassed, &Actor::System, 20)
}

fn saving() -> Rotation {
    step(&aws_ok(), Command::EntraTestPassed, &Actor::System, 21)
}

fn verifying() -> Rotation {
    step(&saving(), Command::Saved, &Actor::System, 21)
}

fn awaiting_deletion(resumed: bool) -> Rotation {
    step(
        &verifying(),
        Command::Verified { resumed },
        &Actor::System,
        21,
    )
}

fn completed() -> Rotation {
    step(
        &awaiting_deletion(true),
        Command::ConfirmOldTokenDeleted,
        &other_lead(),
        35,
    )
}

fn failed(r: &Rotation, stage: Stage, reason: &str, minutes: i64) -> Rotation {
    step(
        r,
        Command::Failed {
            stage,
            reason: reason.to_owned(),
        },
        &Actor::System,
        minutes,
    )
}

fn now() -> DateTime<Utc> {
    at(45)
}

// ---------------------------------------------------------------------------------------------
// Snapshot helpers
// ---------------------------------------------------------------------------------------------

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings
}

/// Snapshots the message's JSON and its transcript, after checking Slack's limits.
fn snap(name: &str, message: &Message) {
    let problems = check_message(message);
    assert!(problems.is_empty(), "{name}: {problems:#?}");
    settings().bind(|| {
        insta::assert_json_snapshot!(format!("{name}.json"), message);
        insta::assert_snapshot!(
            format!("{name}.txt"),
            format!(
                "(notification) {}\n\n{}",
                message.text,
                to_text(&message.blocks)
            )
        );
    });
}

/// Snapshots a view's JSON and its transcript, after checking Slack's limits.
fn snap_view(name: &str, view: &SlackView) {
    let problems = check_view(view);
    assert!(problems.is_empty(), "{name}: {problems:#?}");
    settings().bind(|| {
        insta::assert_json_snapshot!(format!("{name}.json"), view);
        insta::assert_snapshot!(format!("{name}.txt"), view_to_text(view));
    });
}

fn has_buttons(message: &Message) -> bool {
    message
        .blocks
        .iter()
        .any(|b| matches!(b, slack_morphism::prelude::SlackBlock::Actions(_)))
}

fn action_ids(message: &Message) -> Vec<String> {
    let json = serde_json::to_value(&message.blocks).unwrap();
    let mut ids = Vec::new();
    for block in json.as_array().unwrap() {
        if let Some(elements) = block.get("elements").and_then(|e| e.as_array()) {
            for element in elements {
                if let Some(id) = element.get("action_id").and_then(|v| v.as_str()) {
                    ids.push(id.to_owned());
                }
            }
        }
    }
    ids
}

// ---------------------------------------------------------------------------------------------
// 1–2. Expiry warnings and threshold replies
// ---------------------------------------------------------------------------------------------

#[test]
fn warning_per_severity() {
    let n = t0();
    for (name, threshold, left, source) in [
        (
            "warning_notice_30_days",
            Threshold::Days(30),
            Duration::days(29) + Duration::hours(5),
            ExpirySource::Rotation,
        ),
        (
            "warning_warning_7_days",
            Threshold::Days(7),
            Duration::days(6) + Duration::hours(20),
            ExpirySource::Manual,
        ),
        (
            "warning_urgent_3_days",
            Threshold::Days(3),
            Duration::days(2) + Duration::hours(3),
            ExpirySource::AwsHealth,
        ),
        (
            "warning_urgent_1_day",
            Threshold::Days(1),
            Duration::hours(7),
            ExpirySource::Rotation,
        ),
        (
            "warning_critical_expired",
            Threshold::Expired,
            -Duration::hours(30),
            ExpirySource::Rotation,
        ),
    ] {
        let message = expiry_warning(&conn(), &token(Some(n + left), source), threshold, n, None);
        assert_eq!(action_ids(&message), [ids::START_ROTATION], "{name}");
        snap(name, &message);
    }
}

#[test]
fn unknown_expiry_warnings() {
    snap(
        "warning_unknown_no_token",
        &unknown_expiry_warning(&conn(), None, None),
    );
    let registered = token(None, ExpirySource::Manual);
    snap(
        "warning_unknown_registered_without_date",
        &unknown_expiry_warning(&conn(), Some(&registered), None),
    );
    // A warning for a token without a date is the unknown-expiry warning.
    assert_eq!(
        expiry_warning(&conn(), &registered, Threshold::Days(7), t0(), None),
        unknown_expiry_warning(&conn(), Some(&registered), None)
    );
}

#[test]
fn threshold_replies() {
    let n = t0();
    let users = vec![LEAD.to_owned()];
    let groups = approvers_groups();
    snap(
        "threshold_reply_warning_7_days",
        &threshold_reply(
            &conn(),
            &token(
                Some(n + Duration::days(6) + Duration::hours(2)),
                ExpirySource::Rotation,
            ),
            Threshold::Days(7),
            n,
            &[],
            &[],
            None,
        ),
    );
    let urgent = threshold_reply(
        &conn(),
        &token(
            Some(n + Duration::days(2) + Duration::hours(2)),
            ExpirySource::Rotation,
        ),
        Threshold::Days(3),
        n,
        &users,
        &groups,
        None,
    );
    assert!(urgent.text.starts_with("<@U02LEAD> <!subteam^S04LEADS>"));
    snap("threshold_reply_urgent_with_mentions", &urgent);
    snap(
        "threshold_reply_expired",
        &threshold_reply(
            &conn(),
            &token(Some(n - Duration::hours(1)), ExpirySource::Rotation),
            Threshold::Expired,
            n,
            &users,
            &groups,
            None,
        ),
    );
    let story = approved_story();
    snap(
        "threshold_reply_in_rotation_thread",
        &threshold_reply(
            &conn(),
            &token(Some(n + Duration::days(1)), ExpirySource::Rotation),
            Threshold::Days(1),
            n,
            &users,
            &groups,
            Some(&story.r),
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Entra alerts
// ---------------------------------------------------------------------------------------------

#[test]
fn entra_alerts() {
    let n = t0();
    snap(
        "quarantine_alert",
        &quarantine_alert(
            &conn(),
            Some("SCIMTokenExpired"),
            Some(n - Duration::hours(6)),
            n,
        ),
    );
    snap(
        "quarantine_alert_without_details",
        &quarantine_alert(&conn(), None, None, n),
    );
    snap(
        "provisioning_recovered",
        &provisioning_recovered(&conn(), Some(n - Duration::hours(6)), n),
    );
    snap(
        "graph_unreachable",
        &graph_unreachable(
            &conn(),
            "AADSTS7000222: The provided client secret keys for app '5e0c…' are expired.",
            Some(n - Duration::hours(3)),
            n,
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// 4. The rotation thread
// ---------------------------------------------------------------------------------------------

/// A rotation driven through the real `decide`, with the audit records the engine writes
/// for each transition: what the presenter renders the thread from.
#[derive(Clone)]
struct Story {
    r: Rotation,
    records: Vec<AuditRecord>,
}

impl Story {
    fn requested() -> Story {
        let mut story = Story {
            r: requested(),
            records: Vec::new(),
        };
        story.note(REQUESTER, "rotation_requested", json!({}), 0);
        story
    }

    fn note(&mut self, actor: &str, action: &str, details: serde_json::Value, minutes: i64) {
        self.records.push(AuditRecord {
            seq: self.records.len() as i64 + 1,
            at: at(minutes),
            actor: actor.to_owned(),
            action: action.to_owned(),
            connection: Some("prod".to_owned()),
            rotation_id: Some(self.r.id.0),
            details,
            hash: String::new(),
        });
    }

    fn then(mut self, command: Command, actor: &Actor, minutes: i64) -> Story {
        match decide(&self.r, &command, actor, Policy::default(), at(minutes)) {
            Decision::Transition(t) => {
                self.note(actor.audit_name(), t.action, t.details, minutes);
                self.r = t.rotation;
            }
            other => panic!("{command:?} in {}: {other:?}", self.r.state),
        }
        self
    }

    fn submit(self, fingerprint: &str, minutes: i64) -> Story {
        self.then(
            Command::SubmitToken(Submission {
                fingerprint: fingerprint.to_owned(),
                new_token_id: Some(NEW_ID.to_owned()),
                expires: Some(at(minutes) + Duration::days(365)),
            }),
            &lead(),
            minutes,
        )
    }

    fn system(self, command: Command, minutes: i64) -> Story {
        self.then(command, &Actor::System, minutes)
    }

    fn fail(self, stage: Stage, reason: &str, minutes: i64) -> Story {
        self.system(
            Command::Failed {
                stage,
                reason: reason.to_owned(),
            },
            minutes,
        )
    }

    fn checks_pass(self, minutes: i64) -> Story {
        self.system(Command::AwsProbePassed, minutes)
            .system(Command::EntraTestPassed, minutes)
            .system(Command::Saved, minutes)
            .system(Command::Verified { resumed: false }, minutes)
    }

    fn entries(&self) -> Vec<crate::rotation::history::Entry> {
        crate::rotation::history::entries(&self.records)
    }

    fn thread_with(&self, approvers: Approvers<'_>, requester_is_approver: bool) -> Vec<Message> {
        let entries = self.entries();
        let old = token(Some(t0() + Duration::days(5)), ExpirySource::Rotation);
        let thread = Thread {
            rotation: &self.r,
            entries: &entries,
            conn: conn(),
            approvers,
            requester_is_approver,
            old: Some(&old),
        };
        (0..entries.len())
            .map(|index| thread_message(&thread, index))
            .collect()
    }

    fn thread(&self) -> Vec<Message> {
        let users = approvers_users();
        let groups = approvers_groups();
        self.thread_with(
            Approvers {
                users: &users,
                groups: &groups,
                allow_self_approval: false,
                required: 1,
            },
            false,
        )
    }
}

fn approved_story() -> Story {
    Story::requested().then(Command::Approve, &lead(), 10)
}

const AWS_REJECTED: &str = "AWS rejected this token (HTTP 401 Unauthorized): it is not a valid access token for this identity store.";

/// The thread as a person reads it, every message within Slack's limits.
fn transcript(messages: &[Message]) -> String {
    messages
        .iter()
        .map(|m| {
            let problems = check_message(m);
            assert!(problems.is_empty(), "{problems:#?}");
            to_text(&m.blocks)
        })
        .collect::<Vec<_>>()
        .join("\n────\n")
}

fn snap_thread(name: &str, story: &Story) {
    settings().bind(|| insta::assert_snapshot!(format!("{name}.txt"), transcript(&story.thread())));
}

/// Only the newest message carries buttons.
fn assert_buttons_only_on_the_newest(messages: &[Message]) {
    for message in &messages[..messages.len() - 1] {
        assert!(
            !has_buttons(message),
            "an older message has buttons: {}",
            message.text
        );
    }
}

#[test]
fn a_whole_rotation_with_one_failed_attempt_step_by_step() {
    let requested = Story::requested();
    let thread = requested.thread();
    assert_eq!(
        action_ids(&thread[0]),
        [ids::APPROVE, ids::REJECT, ids::CANCEL]
    );
    snap("thread_1_requested", &thread[0]);

    let approved = approved_story();
    let thread = approved.thread();
    assert_eq!(thread.len(), 2);
    assert_eq!(
        action_ids(&thread[1]),
        [ids::ENTER_TOKEN, ids::OPEN_CONSOLE, ids::CANCEL]
    );
    assert_buttons_only_on_the_newest(&thread);
    snap("thread_2_step1", &thread[1]);
    snap_thread("story_2_approved", &approved);

    let checking = approved.clone().submit("aaaaaaaaaaaa", 20);
    assert!(!has_buttons(checking.thread().last().unwrap()));
    snap_thread("story_3_checking", &checking);

    let rejected = checking.fail(Stage::AwsProbe, AWS_REJECTED, 20);
    let thread = rejected.thread();
    assert_eq!(thread.len(), 2, "the failure is the attempt's own line");
    assert_eq!(action_ids(&thread[1]), [ids::ENTER_TOKEN, ids::CANCEL]);
    let text = transcript(&thread);
    assert_eq!(
        text.matches("AWS rejected this token").count(),
        1,
        "the reason once"
    );
    assert!(!text.contains("Generate token"), "step 1 is not repeated");
    snap("thread_4_rejected", &thread[1]);

    let second = rejected.submit(FINGERPRINT, 25).checks_pass(26);
    let thread = second.thread();
    assert_eq!(thread.len(), 4);
    assert!(
        to_text(&thread[1].blocks).contains("AWS rejected this token"),
        "the failed attempt keeps its line"
    );
    assert_eq!(action_ids(&thread[3]), [ids::CONFIRM_DELETED]);
    assert_buttons_only_on_the_newest(&thread);
    snap("thread_5_delete_old", &thread[3]);
    snap_thread("story_5_verified", &second);

    let done = second.then(Command::ConfirmOldTokenDeleted, &other_lead(), 35);
    let thread = done.thread();
    assert_eq!(thread.len(), 5);
    assert!(thread.iter().all(|m| !has_buttons(m)));
    let text = transcript(&thread);
    assert_eq!(
        text.matches(FINGERPRINT).count(),
        1,
        "one fingerprint per token entered"
    );
    assert_eq!(text.matches("Any team lead").count(), 0);
    snap("thread_6_summary", &thread[4]);
    snap_thread("story_6_completed", &done);
}

#[test]
fn a_failure_after_saving_asks_for_a_retry_then_for_the_token() {
    let attention = approved_story()
        .submit(FINGERPRINT, 20)
        .system(Command::AwsProbePassed, 20)
        .system(Command::EntraTestPassed, 21)
        .fail(
            Stage::Save,
            "Entra answered 503 Service Unavailable while saving the token.",
            22,
        );
    let thread = attention.thread();
    assert_eq!(
        action_ids(thread.last().unwrap()),
        [ids::RETRY, ids::CANCEL]
    );
    snap_thread("story_save_failed", &attention);
    let retried = attention.then(Command::Retry, &lead(), 25);
    let thread = retried.thread();
    assert_eq!(
        action_ids(thread.last().unwrap()),
        [ids::ENTER_TOKEN, ids::CANCEL]
    );
    assert!(to_text(&thread.last().unwrap().blocks).contains("503 Service Unavailable"));
}

#[test]
fn a_deletion_that_broke_it_and_a_restart_stay_in_the_thread() {
    let broke = approved_story()
        .submit(FINGERPRINT, 20)
        .checks_pass(21)
        .then(Command::ConfirmOldTokenDeleted, &lead(), 35)
        .fail(
            Stage::AfterDeletion,
            "Entra Test Connection failed: SCIM endpoint answered 401 Unauthorized.",
            36,
        );
    let thread = broke.thread();
    assert_eq!(
        action_ids(thread.last().unwrap()),
        [ids::RETRY, ids::CANCEL]
    );
    assert_buttons_only_on_the_newest(&thread);
    snap_thread("story_deletion_broke_it", &broke);

    let mut restarted = approved_story()
        .submit(FINGERPRINT, 20)
        .system(Command::AwsProbePassed, 20)
        .system(Command::EntraTestPassed, 21);
    restarted = restarted.system(Command::Recover, 23);
    let thread = restarted.thread();
    assert_eq!(
        action_ids(thread.last().unwrap()),
        [ids::ENTER_TOKEN, ids::CANCEL]
    );
    snap_thread("story_restarted", &restarted);
}

#[test]
fn ended_rotations_say_how_and_by_whom() {
    for (name, story) in [
        (
            "story_rejected",
            Story::requested().then(Command::Reject { reason: None }, &lead(), 5),
        ),
        (
            "story_cancelled_by_requester",
            Story::requested().then(Command::Cancel, &Actor::user(REQUESTER, false), 3),
        ),
        (
            "story_expired",
            Story::requested().then(Command::ApprovalTimeout, &Actor::System, 24 * 60),
        ),
        (
            "story_cancelled_after_approval",
            approved_story().then(Command::Cancel, &lead(), 15),
        ),
        (
            "story_cancelled_after_a_failure",
            approved_story()
                .submit(FINGERPRINT, 20)
                .fail(Stage::AwsProbe, AWS_REJECTED, 20)
                .then(Command::Cancel, &other_lead(), 30),
        ),
    ] {
        let thread = story.thread();
        assert!(thread.iter().all(|m| !has_buttons(m)), "{name}");
        let head = to_text(&thread[0].blocks);
        assert!(
            !head.contains("✓ approved") || name.contains("after"),
            "{name}: {head}"
        );
        snap_thread(name, &story);
    }
}

#[test]
fn the_approval_line_names_who_can_approve_and_self_approval_only_for_a_lead() {
    let story = Story::requested();
    let users = approvers_users();
    let text = |approvers: Approvers<'_>, lead: bool| {
        to_text(&story.thread_with(approvers, lead)[0].blocks)
    };
    let plain = text(
        Approvers {
            users: &users,
            groups: &[],
            allow_self_approval: false,
            required: 1,
        },
        false,
    );
    assert!(
        plain.contains("Who can approve: @U02LEAD or @U03LEAD."),
        "{plain}"
    );
    assert!(
        !plain.contains("requested it, so"),
        "a member's request says nothing of self-approval"
    );
    let lead_asks = text(
        Approvers {
            users: &users,
            groups: &[],
            allow_self_approval: false,
            required: 1,
        },
        true,
    );
    assert!(
        lead_asks.contains("so another team lead has to approve"),
        "{lead_asks}"
    );
    let may = text(
        Approvers {
            users: &users,
            groups: &[],
            allow_self_approval: true,
            required: 1,
        },
        true,
    );
    assert!(may.contains("may approve their own request"), "{may}");
    let nobody = text(Approvers::default(), false);
    assert!(nobody.contains("Any team lead (a configured approver) can approve."));
}

#[test]
fn a_two_person_rule_shows_how_many_approvals_are_in() {
    let two = Policy {
        approvals_required: 2,
        ..Policy::default()
    };
    let mut story = Story::requested();
    let Decision::Transition(t) = decide(&story.r, &Command::Approve, &lead(), two, at(5)) else {
        panic!("the first approval counts")
    };
    story.note(LEAD, t.action, t.details, 5);
    story.r = t.rotation;
    let users = approvers_users();
    let approvers = Approvers {
        users: &users,
        groups: &[],
        allow_self_approval: false,
        required: 2,
    };
    let pending = &story.thread_with(approvers, false)[0];
    let text = to_text(&pending.blocks);
    assert!(text.contains("1 of 2 approvals"), "{text}");
    assert!(
        text.contains("Who can approve: @U03LEAD."),
        "who is left: {text}"
    );
    assert_eq!(
        action_ids(pending),
        [ids::APPROVE, ids::REJECT, ids::CANCEL]
    );
    snap("thread_1_of_2_approvals", pending);

    let Decision::Transition(t) = decide(&story.r, &Command::Approve, &other_lead(), two, at(8))
    else {
        panic!("the second approval moves it on")
    };
    story.note(OTHER_LEAD, t.action, t.details, 8);
    story.r = t.rotation;
    let head = to_text(&story.thread_with(approvers, false)[0].blocks);
    assert!(head.contains("approved by @U02LEAD and @U03LEAD"), "{head}");
}

#[test]
fn a_stall_reminder_names_who_must_act() {
    let story = approved_story();
    let reminder = stall_reminder(
        &story.r,
        1,
        &[LEAD.to_owned()],
        &[],
        at(10) + Duration::days(1),
    );
    snap("stall_reminder_first", &reminder);
    let second = stall_reminder(
        &story.r,
        2,
        &approvers_users(),
        &approvers_groups(),
        at(10) + Duration::days(2),
    );
    assert!(
        serde_json::to_string(&second.blocks)
            .unwrap()
            .contains("<!subteam^S04LEADS>")
    );
    snap("stall_reminder_second", &second);
}

#[test]
fn the_warning_tracks_the_rotation() {
    let old = token(Some(t0() + Duration::days(10)), ExpirySource::Manual);
    let story = approved_story();
    let line = in_progress_line(&story.r, Some("https://example.slack.com/archives/C1/p1"));
    assert!(line.contains("step 1 of 2, driven by <@U02LEAD>"), "{line}");
    let open = expiry_warning(&conn(), &old, Threshold::Days(14), t0(), Some(&line));
    assert!(!action_ids(&open).contains(&ids::START_ROTATION.to_owned()));
    snap("warning_rotation_in_progress", &open);
    let closed = expiry_warning(&conn(), &old, Threshold::Days(14), t0(), None);
    assert_eq!(action_ids(&closed), [ids::START_ROTATION]);
}

#[test]
fn warning_once_rotated() {
    let resolved = super::warning_resolved(&completed(), now());
    assert!(
        !has_buttons(&resolved),
        "a rotated warning asks for nothing"
    );
    snap("warning_resolved", &resolved);
}

// ---------------------------------------------------------------------------------------------
// 5. Modals
// ---------------------------------------------------------------------------------------------

#[test]
fn modals() {
    let expiry = NaiveDate::from_ymd_opt(2028, 2, 29).unwrap();
    let view = token_modal(&approved(), &conn(), expiry);
    let SlackView::Modal(modal) = &view else {
        panic!("a modal")
    };
    assert_eq!(modal.private_metadata.as_deref(), Some("7"));
    assert_eq!(
        modal.callback_id.as_ref().map(|c| c.0.as_str()),
        Some(ids::SUBMIT_TOKEN)
    );
    let json = serde_json::to_value(&view).unwrap();
    let token_input = json["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["block_id"] == ids::TOKEN_BLOCK)
        .unwrap();
    assert_eq!(token_input["element"]["action_id"], ids::VALUE);
    assert_eq!(token_input["element"]["multiline"], false);
    assert_eq!(token_input["element"]["max_length"], 3000);
    assert!(token_input["element"].get("initial_value").is_none());
    snap_view("token_modal", &view);

    let view = register_modal(
        "prod",
        "C0TEAM",
        NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
    );
    let SlackView::Modal(modal) = &view else {
        panic!("a modal")
    };
    assert_eq!(modal.private_metadata.as_deref(), Some("prod C0TEAM"));
    snap_view("register_modal", &view);
}

// ---------------------------------------------------------------------------------------------
// 6–7. Status, Home, audit
// ---------------------------------------------------------------------------------------------

fn status_rows() -> Vec<StatusRow> {
    let n = t0();
    let with = |name: &str, expires: Option<DateTime<Utc>>| {
        let mut token = token(expires, ExpirySource::Rotation);
        token.connection = name.to_owned();
        token
    };
    vec![
        StatusRow {
            connection: "prod".to_owned(),
            token: Some(with("prod", Some(n + Duration::days(6)))),
            rotation: Some((RotationId(7), RotationState::AwaitingApproval)),
            graph_problem: None,
        },
        StatusRow {
            connection: "staging".to_owned(),
            token: Some(with("staging", Some(n + Duration::days(200)))),
            rotation: Some((RotationId(3), RotationState::Completed)),
            graph_problem: None,
        },
        StatusRow {
            connection: "sandbox".to_owned(),
            token: None,
            rotation: None,
            graph_problem: Some("Microsoft Graph answered 401: client secret expired".to_owned()),
        },
        StatusRow {
            connection: "legacy".to_owned(),
            token: Some(with("legacy", Some(n - Duration::days(2)))),
            rotation: None,
            graph_problem: None,
        },
    ]
}

#[test]
fn status_and_home() {
    snap("status", &status_message(&status_rows(), t0()));
    snap("status_empty", &status_message(&[], t0()));
    snap_view("home", &home_view(&status_rows(), t0()));
}

#[test]
fn five_hundred_connections_stay_within_the_block_limits() {
    let n = t0();
    let rows: Vec<StatusRow> = (0..500)
        .map(|i| StatusRow {
            connection: format!("connection-with-a-rather-long-name-{i:03}"),
            token: Some(TokenRecord {
                connection: format!("connection-{i}"),
                ..token(Some(n + Duration::days(i)), ExpirySource::Rotation)
            }),
            rotation: (i % 7 == 0).then_some((RotationId(i), RotationState::AwaitingNewToken)),
            graph_problem: Some(format!(
                "Graph answered 500 for connection {i}: {}",
                "x".repeat(300)
            )),
        })
        .collect();
    let message = status_message(&rows, n);
    assert!(message.blocks.len() <= MAX_MESSAGE_BLOCKS);
    assert_eq!(check_message(&message), Vec::<String>::new());
    let text = to_text(&message.blocks);
    let (listed, more) = listed_and_more(&text);
    assert!(more > 0, "500 long rows cannot all fit in one message");
    assert_eq!(listed + more, 500, "every connection is listed or counted");
    // The most urgent come first: the expired one is listed.
    assert!(text.contains("connection-with-a-rather-long-name-000"));

    let home = home_view(&rows, n);
    let SlackView::Home(view) = &home else {
        panic!("home")
    };
    assert!(view.blocks.len() <= MAX_VIEW_BLOCKS);
    assert_eq!(check_view(&home), Vec::<String>::new());
    let (listed, more) = listed_and_more(&view_to_text(&home));
    assert_eq!(listed + more, 500, "every connection is listed or counted");

    // Twice as many still fit the Home tab's budget, cut and counted.
    let thousand: Vec<StatusRow> = rows.iter().chain(rows.iter()).cloned().collect();
    let home = home_view(&thousand, n);
    assert_eq!(check_view(&home), Vec::<String>::new());
    let (listed, more) = listed_and_more(&view_to_text(&home));
    assert!(more > 0);
    assert_eq!(listed + more, 1000);
}

/// Rows listed in a status transcript, and the N of "… and N more connections".
fn listed_and_more(text: &str) -> (usize, usize) {
    let listed = text.matches("connection-with-a-rather-long-name-").count();
    let more = text
        .split("… and ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .map_or(0, |n| n.parse().unwrap());
    (listed, more)
}

fn audit_records() -> Vec<AuditRecord> {
    let record = |seq: i64, minutes: i64, actor: &str, action: &str, details| AuditRecord {
        seq,
        at: at(minutes),
        actor: actor.to_owned(),
        action: action.to_owned(),
        connection: Some(if seq == 4 { "staging" } else { "prod" }.to_owned()),
        rotation_id: (seq != 1).then_some(7),
        details,
        hash: format!("{seq:064}"),
    };
    vec![
        record(
            1,
            -60,
            "system",
            "expiry_warning_sent",
            json!({"threshold": "d7"}),
        ),
        record(2, 0, REQUESTER, "rotation_requested", json!({})),
        record(3, 10, LEAD, "approved", json!({})),
        record(4, 12, OTHER_LEAD, "approved", json!({})),
        record(
            5,
            20,
            LEAD,
            "token_submitted",
            json!({"fingerprint": FINGERPRINT, "new_token_id": NEW_ID, "expires": "2028-02-29T09:20:00Z"}),
        ),
        record(
            6,
            22,
            "system",
            "check_failed",
            json!({"stage": "save", "reason": "Entra answered 503 <Service Unavailable>"}),
        ),
        record(
            7,
            35,
            OTHER_LEAD,
            "old_token_deletion_confirmed",
            json!({"old_token_id": OLD_ID, "new_token_id": NEW_ID, "new_token_expires": null}),
        ),
    ]
}

#[test]
fn audit_lists() {
    snap("audit_all", &audit_list(&audit_records(), None));
    let prod = audit_list(&audit_records(), Some("prod"));
    assert!(!to_text(&prod.blocks).contains("#4"));
    snap("audit_prod", &prod);
    snap("audit_empty", &audit_list(&[], Some("prod")));
}

#[test]
fn a_long_audit_trail_keeps_the_newest() {
    let records: Vec<AuditRecord> = (1..=400)
        .map(|seq| AuditRecord {
            seq,
            at: at(seq),
            actor: LEAD.to_owned(),
            action: "approved".to_owned(),
            connection: Some("prod".to_owned()),
            rotation_id: Some(seq),
            details: json!({
                "reason": "y".repeat(100),
                "stage": "s".repeat(100),
                "old_token_id": OLD_ID,
                "new_token_id": NEW_ID,
            }),
            hash: String::new(),
        })
        .collect();
    let message = audit_list(&records, None);
    assert_eq!(check_message(&message), Vec::<String>::new());
    let text = to_text(&message.blocks);
    assert!(text.contains("`#400`"), "the newest is kept");
    assert!(!text.contains("`#1` "), "the oldest is dropped");
    assert!(text.contains("older records left out"));
}

// ---------------------------------------------------------------------------------------------
// 8. Help
// ---------------------------------------------------------------------------------------------

#[test]
fn help_messages() {
    use crate::slack::slash::{help, help_after_error, parse};
    snap("help", &help());
    snap(
        "help_after_error",
        &help_after_error(&parse("rotate").unwrap_err()),
    );
}

// ---------------------------------------------------------------------------------------------
// 9. Limits, against hostile input
// ---------------------------------------------------------------------------------------------

/// Every mrkdwn text in some JSON (plain texts are never parsed for mentions or links).
fn mrkdwn_texts(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::Object(map) => {
            let mut texts: Vec<String> = map.values().flat_map(mrkdwn_texts).collect();
            if map.get("type").and_then(|t| t.as_str()) == Some("mrkdwn") {
                texts.extend(map.get("text").and_then(|t| t.as_str()).map(str::to_owned));
            }
            texts
        }
        serde_json::Value::Array(items) => items.iter().flat_map(mrkdwn_texts).collect(),
        _ => Vec::new(),
    }
}

/// Every renderer, fed the longest and most hostile values we can think of.
#[test]
fn no_rendered_message_exceeds_the_limits() {
    let long_name = format!("<!channel>{}", "n".repeat(3000));
    let conn = ConnectionInfo {
        name: &long_name,
        aws_region: "eu-west-1\">|<x",
    };
    let long_error = format!("<!here> {}", "error & <trouble> ".repeat(2000));
    let many: Vec<String> = (0..300).map(|i| format!("U{i:08}")).collect();
    let n = t0();
    let mut token = token(Some(n + Duration::days(2)), ExpirySource::Manual);
    token.token_id = Some("`".repeat(5000));

    let mut rotation = failed(&saving(), Stage::Save, &long_error, 22);
    rotation.connection = long_name.clone();
    rotation.old_token_id = Some("o".repeat(5000));
    rotation.new_token_id = Some("n".repeat(5000));
    let approvers = Approvers {
        users: &many,
        groups: &many,
        allow_self_approval: false,
        required: 1,
    };
    let mut story = approved_story()
        .submit(FINGERPRINT, 20)
        .fail(Stage::AwsProbe, &long_error, 20)
        .submit(FINGERPRINT, 25)
        .checks_pass(26)
        .then(Command::ConfirmOldTokenDeleted, &lead(), 30)
        .fail(Stage::AfterDeletion, &long_error, 31);
    story.r.connection = long_name.clone();
    story.r.old_token_id = Some("o".repeat(5000));
    story.r.new_token_id = Some("n".repeat(5000));
    let entries = story.entries();
    let thread = Thread {
        rotation: &story.r,
        entries: &entries,
        conn,
        approvers,
        requester_is_approver: true,
        old: Some(&token),
    };
    let mut awaiting = story.clone();
    awaiting.r.state = RotationState::AwaitingOldTokenDeletion;
    let awaiting_entries = awaiting.entries();
    let awaiting_thread = Thread {
        rotation: &awaiting.r,
        entries: &awaiting_entries[..4],
        ..thread
    };
    let requested = requested();
    let request_thread = Thread {
        rotation: &requested,
        entries: &entries[..1],
        ..thread
    };

    let messages = vec![
        expiry_warning(&conn, &token, Threshold::Days(3), n, None),
        expiry_warning(&conn, &token, Threshold::Expired, n, None),
        expiry_warning(
            &conn,
            &token,
            Threshold::Expired,
            n,
            Some(&in_progress_line(&rotation, Some(&long_error))),
        ),
        unknown_expiry_warning(&conn, Some(&token), None),
        threshold_reply(&conn, &token, Threshold::Days(1), n, &many, &many, None),
        threshold_reply(
            &conn,
            &token,
            Threshold::Days(1),
            n,
            &many,
            &many,
            Some(&rotation),
        ),
        stall_reminder(&rotation, 3, &many, &many, n),
        quarantine_alert(&conn, Some(&long_error), Some(n), n),
        provisioning_recovered(&conn, Some(n), n),
        graph_unreachable(&conn, &long_error, Some(n), n),
        thread_message(&request_thread, 0),
        audit_list(
            &[AuditRecord {
                seq: 1,
                at: n,
                actor: long_name.clone(),
                action: long_name.clone(),
                connection: Some(long_name.clone()),
                rotation_id: Some(1),
                details: json!({ "reason": long_error }),
                hash: String::new(),
            }],
            None,
        ),
        crate::slack::slash::help_after_error(&long_error),
    ];
    let mut messages = messages;
    messages.extend((0..entries.len()).map(|index| thread_message(&thread, index)));
    messages.extend((0..4).map(|index| thread_message(&awaiting_thread, index)));
    for (index, message) in messages.iter().enumerate() {
        assert_eq!(
            check_message(message),
            Vec::<String>::new(),
            "message {index}"
        );
        let json = serde_json::to_value(&message.blocks).unwrap();
        for text in std::iter::once(message.text.clone()).chain(mrkdwn_texts(&json)) {
            assert!(
                !text.contains("<!channel>") && !text.contains("<!here>"),
                "message {index} pings the channel: {text}"
            );
        }
    }
    for view in [
        token_modal(
            &rotation,
            &conn,
            NaiveDate::from_ymd_opt(2028, 3, 1).unwrap(),
        ),
        register_modal(
            &long_name,
            "C0TEAM",
            NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
        ),
    ] {
        assert_eq!(check_view(&view), Vec::<String>::new());
    }
}

#[test]
fn a_message_never_has_an_empty_fallback() {
    assert!(!Message::new("  ", vec![]).text.trim().is_empty());
}
