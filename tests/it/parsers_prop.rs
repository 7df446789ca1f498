//! Property tests over every parser of outside bytes: Slack interactivity, command and event
//! bodies, Socket Mode envelopes (through the running bot: slack-morphism's envelope type
//! is not public), AWS Health bodies and their dates, configuration files.
//! None may panic; through the running bot, garbage gets a 4xx (or an ignoring 2xx) and
//! changes nothing.

use crate::support::app::TestApp;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use scim_rotator::aws::health;
use scim_rotator::config::{Config, SlackMode};
use scim_rotator::slack::approvers::GroupChange;
use scim_rotator::slack::identity::Origin;
use scim_rotator::slack::{interaction, slash};
use scim_sandbox::people::*;
use scim_sandbox::slack::identity::{APP_ID, TEAM_ID};
use scim_sandbox::slack::{EnvelopeKind, SigningOptions};
use serde_json::{Map, Value, json};
use slack_morphism::prelude::*;
use std::path::Path;

/// Words the bot's parsers look for, so that random payloads reach past the first check.
const VOCABULARY: &[&str] = &[
    "block_actions",
    "view_submission",
    "view_closed",
    "shortcut",
    "message",
    "view",
    "modal",
    "home",
    "event_callback",
    "url_verification",
    "app_home_opened",
    "subteam_members_changed",
    "subteam_updated",
    "interactive",
    "slash_commands",
    "events_api",
    "hello",
    "disconnect",
    "approve",
    "reject",
    "cancel",
    "enter_token",
    "confirm_deleted",
    "retry",
    "start_rotation",
    "submit_token",
    "register_token",
    "token",
    "token_id",
    "expires",
    "created",
    "value",
    "1",
    "2",
    "-1",
    "",
    "prod-org",
    "S0LEADS",
    "U0LEE",
    "C0IDENTITY",
    "T0SANDBOX",
    "A0SCIMROT",
    "AWS_IAMIDENTITYCENTER_SCIM_BEARER_TOKEN_EXPIRY_NOTIFICATION",
    "expires on Fri Jan 22 10:00:00 UTC 2027",
    "2027-03-14",
    "03/04/2027",
];

const KEYS: &[&str] = &[
    "type",
    "team",
    "id",
    "user",
    "actions",
    "action_id",
    "block_id",
    "value",
    "container",
    "message_ts",
    "channel_id",
    "channel",
    "message",
    "thread_ts",
    "ts",
    "view",
    "private_metadata",
    "callback_id",
    "state",
    "values",
    "selected_date",
    "trigger_id",
    "api_app_id",
    "enterprise",
    "event",
    "event_id",
    "event_time",
    "team_id",
    "subteam_id",
    "added_users",
    "removed_users",
    "subteam",
    "users",
    "date_delete",
    "detail",
    "eventTypeCode",
    "eventDescription",
    "latestDescription",
    "language",
    "account",
    "region",
    "envelope_id",
    "payload",
    "accepts_response_payload",
    "retry_attempt",
    "challenge",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(VOCABULARY).prop_map(str::to_owned),
        ".{0,16}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-z_]{1,8}",
    ]
}

/// Any JSON value, biased towards the shapes and words Slack and AWS payloads use.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A real click and a real token-modal submission, as Slack sends them.
fn real_payloads() -> Vec<Value> {
    vec![
        json!({
            "type": "block_actions", "user": {"id": LEAD, "name": "lee", "team_id": TEAM_ID},
            "api_app_id": APP_ID, "team": {"id": TEAM_ID, "domain": "x"},
            "container": {"type": "message", "message_ts": "1.000100", "channel_id": CHANNEL, "is_ephemeral": false},
            "trigger_id": "1.2.abc", "channel": {"id": CHANNEL, "name": "identity-ops"},
            "message": {"ts": "1.000100", "thread_ts": "1.000100", "text": "t", "user": "U0SCIMBOT"},
            "actions": [{"type": "button", "action_id": "approve", "block_id": "b", "value": "1",
                         "text": {"type": "plain_text", "text": "Approve"}, "action_ts": "1.1"}]
        }),
        json!({
            "type": "view_submission", "team": {"id": TEAM_ID, "domain": "x"},
            "user": {"id": LEAD, "name": "lee", "team_id": TEAM_ID}, "api_app_id": APP_ID,
            "trigger_id": "1.2.abc",
            "view": {"id": "V1", "type": "modal", "callback_id": "submit_token", "private_metadata": "1|00",
                     "title": {"type": "plain_text", "text": "t"}, "blocks": [],
                     "state": {"values": {"token": {"value": {"type": "plain_text_input", "value": "x".repeat(40)}}}},
                     "hash": "h", "team_id": TEAM_ID, "app_id": APP_ID, "bot_id": "B1"}
        }),
    ]
}

/// A real payload with one field (top level, in its first action, or in its view) replaced.
fn mutated_payload() -> impl Strategy<Value = Value> {
    (
        0..2usize,
        prop::sample::select(vec![
            "",
            "actions/0",
            "view",
            "view/state/values/token/value",
            "container",
            "user",
            "team",
        ]),
        key(),
        json_value(),
    )
        .prop_map(|(which, at, key, value)| {
            let mut payload = real_payloads().swap_remove(which);
            let pointer = if at.is_empty() {
                String::new()
            } else {
                format!("/{at}")
            };
            if let Some(Value::Object(object)) = payload.pointer_mut(&pointer) {
                object.insert(key, value);
            }
            payload
        })
}

fn parse_interaction(value: Value) {
    let _ = Origin::of_interaction_json(&value);
    if let Ok(event) = serde_json::from_value::<SlackInteractionEvent>(value) {
        let _ = interaction::malformed(&event);
        let _ = Origin::of_interaction(&event);
        let _ = interaction::parse(event);
    }
}

proptest! {
    #![proptest_config(RunnerConfig { cases: 256, ..RunnerConfig::default() })]

    #[test]
    fn interactivity_payloads_never_panic(value in json_value(), mutated in mutated_payload()) {
        parse_interaction(value);
        parse_interaction(mutated);
    }

    #[test]
    fn interactivity_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        #[derive(serde::Deserialize)]
        struct Form { payload: String }
        if let Ok(form) = serde_urlencoded::from_bytes::<Form>(&body) {
            if let Ok(value) = serde_json::from_str::<Value>(&form.payload) {
                parse_interaction(value);
            }
        }
    }

    #[test]
    fn command_bodies_and_texts_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..256),
        text in ".{0,64}",
        fields in prop::collection::vec((key(), word()), 0..12),
    ) {
        if let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) {
            let _ = Origin::of_command_form(&pairs);
        }
        let _ = serde_urlencoded::from_bytes::<SlackCommandEvent>(&body);
        let _ = Origin::of_command_form(&fields);
        let _ = slash::parse(&text);
        for word in ["rotate", "register", "audit", "status", "help"] {
            let _ = slash::parse(&format!("{word} {text}"));
        }
    }

    #[test]
    fn event_bodies_never_panic(value in json_value(), inner in json_value()) {
        let _ = Origin::of_event_json(&value);
        let _ = GroupChange::from_event(&value);
        let _ = GroupChange::from_event(&inner);
        if let Ok(SlackPushEvent::EventCallback(callback)) = serde_json::from_value::<SlackPushEvent>(value) {
            let _ = Origin::of_event(&callback);
        }
        let wrapped = json!({"type": "event_callback", "team_id": TEAM_ID, "api_app_id": APP_ID,
                             "event_id": "Ev1", "event_time": 1, "event": inner});
        let _ = serde_json::from_value::<SlackPushEvent>(wrapped);
    }

    #[test]
    fn aws_health_bodies_and_dates_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..512),
        value in json_value(),
        text in "[A-Za-z0-9 :/,.+-]{0,80}",
        any_text in ".{0,80}",
    ) {
        let _ = health::parse_event(&body);
        let _ = health::parse_event(value.to_string().as_bytes());
        let _ = health::parse_event(
            json!({"detail": {"eventTypeCode": health::SCIM_TOKEN_EXPIRY_EVENT, "eventDescription": [{"latestDescription": text}]}})
                .to_string()
                .as_bytes(),
        );
        for description in [&text, &any_text] {
            let sentence = format!("The SCIM access token ... expires in 89 days on {description}.");
            for candidate in [description.as_str(), sentence.as_str()] {
                match health::expiry_in(candidate) {
                    health::ExpiryText::Found(found) => prop_assert!(candidate.contains(&found.text)),
                    health::ExpiryText::Ambiguous(text) => prop_assert!(candidate.contains(&text)),
                    health::ExpiryText::NoDate => {}
                }
            }
        }
    }

    #[test]
    fn config_files_never_panic(text in ".{0,400}", at in any::<prop::sample::Index>(), insert in ".{0,40}") {
        let env = |_: &str| Some("value".to_owned());
        let path = Path::new("scim-rotator.toml");
        let _ = Config::from_toml(&text, path, &env);
        let example = include_str!("../../config.example.toml");
        let cut = at.index(example.len());
        let cut = (0..=cut).rev().find(|i| example.is_char_boundary(*i)).unwrap_or(0);
        let _ = Config::from_toml(&example[..cut], path, &env);
        let _ = Config::from_toml(&format!("{}{insert}{}", &example[..cut], &example[cut..]), path, &env);
    }
}

/// A garbage request for one of the bot's endpoints.
#[derive(Clone, Debug)]
enum Garbage {
    Interaction(Value),
    Command(Vec<(String, String)>),
    Event(Value),
    Raw(&'static str, Vec<u8>),
    AwsHealth(Vec<u8>),
}

/// Half the JSON payloads name the bot's own workspace and app, to reach past the identity
/// check into the parsers behind it.
fn as_ours(mut value: Value, ours: bool, event: bool) -> Value {
    if let (true, Value::Object(object)) = (ours, &mut value) {
        object.insert("api_app_id".into(), json!(APP_ID));
        if event {
            object.insert("team_id".into(), json!(TEAM_ID));
        } else {
            object.insert("team".into(), json!({"id": TEAM_ID}));
        }
    }
    value
}

fn garbage() -> impl Strategy<Value = Garbage> {
    prop_oneof![
        (prop_oneof![json_value(), mutated_payload()], any::<bool>())
            .prop_map(|(v, ours)| Garbage::Interaction(as_ours(v, ours, false))),
        (prop::collection::vec((key(), word()), 0..10), any::<bool>()).prop_map(|(mut f, ours)| {
            if ours {
                f.push(("team_id".into(), TEAM_ID.into()));
                f.push(("api_app_id".into(), APP_ID.into()));
            }
            Garbage::Command(f)
        }),
        (json_value(), any::<bool>()).prop_map(|(v, ours)| Garbage::Event(as_ours(v, ours, true))),
        (
            prop::sample::select(vec![
                "slack/interactivity",
                "slack/commands",
                "slack/events"
            ]),
            prop::collection::vec(any::<u8>(), 0..200)
        )
            .prop_map(|(path, body)| Garbage::Raw(path, body)),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            json_value().prop_map(|v| v.to_string().into_bytes()),
        ]
        .prop_map(Garbage::AwsHealth),
    ]
}

/// What the bot holds that garbage must not change.
fn state(app: &TestApp) -> (usize, usize, String, usize) {
    let store = app.app.engine.store();
    (
        store.latest_rotations().unwrap().len(),
        store.audit_records(&Default::default()).unwrap().len(),
        format!("{:?}", store.current_token(CONNECTION).unwrap()),
        app.slack().calls_to("chat.postMessage").len(),
    )
}

const API_KEY: &str = "eventbridge-api-key-for-the-property-test";

#[test]
fn garbage_through_the_running_bot_gets_an_answer_and_changes_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(TestApp::start_with(SlackMode::Http, |config| {
        config.aws_health = Some(scim_rotator::config::AwsHealthConfig {
            secret: secrecy::SecretString::from(API_KEY),
        });
    }));
    let before = state(&app);
    let client = scim_rotator::outbound::client(std::time::Duration::from_secs(5));
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 96,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let result = runner.run(&garbage(), |garbage| {
        let (status, body) = runtime.block_on(async {
            let form = |fields: &[(String, String)]| {
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(fields)
                    .finish()
            };
            let (path, body, content_type) = match &garbage {
                Garbage::Interaction(payload) => (
                    "slack/interactivity",
                    form(&[("payload".to_owned(), payload.to_string())]).into_bytes(),
                    "application/x-www-form-urlencoded",
                ),
                Garbage::Command(fields) => (
                    "slack/commands",
                    form(fields).into_bytes(),
                    "application/x-www-form-urlencoded",
                ),
                Garbage::Event(callback) => (
                    "slack/events",
                    callback.to_string().into_bytes(),
                    "application/json",
                ),
                Garbage::Raw(path, body) => (*path, body.clone(), "application/json"),
                Garbage::AwsHealth(body) => {
                    let response = client
                        .post(app.url.join("aws/health-events").unwrap())
                        .header("x-api-key", API_KEY)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("the bot answers");
                    let status = response.status().as_u16();
                    return (status, response.text().await.unwrap_or_default());
                }
            };
            let reply = app
                .slack()
                .signed_request(&app.url, path, body, content_type, &SigningOptions::valid())
                .await
                .expect("the bot answers");
            (reply.status, reply.body)
        });
        if status >= 500 {
            return Err(TestCaseError::fail(format!(
                "{status} {body} for {garbage:?}"
            )));
        }
        if (400..500).contains(&status) && body.trim().is_empty() {
            return Err(TestCaseError::fail(format!(
                "a bare {status} for {garbage:?}"
            )));
        }
        runtime.block_on(app.app.presented());
        let now = state(&app);
        if now != before {
            return Err(TestCaseError::fail(format!(
                "state changed by {garbage:?}: {before:?} → {now:?}"
            )));
        }
        Ok(())
    });
    runtime.block_on(app.app.shutdown());
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// A garbage Socket Mode frame: an envelope of a known type with any payload, or any text.
#[derive(Clone, Debug)]
enum Frame {
    Envelope(EnvelopeKind, Value),
    Text(String),
}

#[test]
fn garbage_socket_mode_envelopes_change_nothing_and_the_socket_keeps_serving() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(TestApp::start(SlackMode::Socket));
    runtime
        .block_on(
            app.slack()
                .wait_for_socket_connections(1, crate::support::DEADLINE),
        )
        .unwrap();
    let before = state(&app);
    let frames = prop_oneof![
        (
            prop::sample::select(vec![
                EnvelopeKind::Interactive,
                EnvelopeKind::SlashCommands,
                EnvelopeKind::EventsApi
            ]),
            prop_oneof![json_value(), mutated_payload()],
        )
            .prop_map(|(kind, payload)| Frame::Envelope(kind, payload)),
        prop_oneof![
            ".{0,64}".prop_map(|t: String| t),
            json_value().prop_map(|v| v.to_string()),
        ]
        .prop_map(Frame::Text),
    ];
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 64,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let result = runner.run(&frames, |frame| {
        runtime.block_on(async {
            match &frame {
                Frame::Envelope(kind, payload) => {
                    let envelope = app.slack().envelope(*kind, payload.clone());
                    // An envelope slack-morphism cannot read is not acked (Slack redelivers
                    // it, and it fails the same way): only a bounded wait here.
                    let _ = app
                        .slack()
                        .send_and_await_ack(envelope, std::time::Duration::from_millis(500))
                        .await;
                }
                Frame::Text(text) => {
                    app.slack().send_raw_socket_frame(text);
                }
            }
            app.app.presented().await;
        });
        let now = state(&app);
        if now != before {
            return Err(TestCaseError::fail(format!(
                "state changed by {frame:?}: {before:?} → {now:?}"
            )));
        }
        Ok(())
    });
    // After all that, the socket still serves a real command.
    let reply = runtime
        .block_on(app.slack().slash_command(
            scim_sandbox::slack::Transport::SocketMode,
            MEMBER,
            CHANNEL,
            "/scim",
            "help",
        ))
        .expect("the socket still answers");
    assert!(reply.reply.body.contains("rotate"), "{}", reply.reply.body);
    runtime.block_on(app.app.shutdown());
    if let Err(error) = result {
        panic!("{error}");
    }
}
