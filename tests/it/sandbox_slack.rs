//! The fake Slack behaves as Slack does in every way the bot relies on: Web API answers and
//! errors, trigger expiry, rate limits, recorded calls, signed deliveries whose payloads
//! slack-morphism parses, and Socket Mode hello / envelope / ack.
//!
//! Each test starts its own fake on a free port with a `ManualClock`; none sleeps.

use chrono::{DateTime, Duration as TimeDelta, TimeZone, Utc};
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use scim_rotator::clock::{ManualClock, SharedClock};
use scim_sandbox::slack::identity::{
    APP_ID, APP_TOKEN, BOT_TOKEN, BOT_USER_ID, SIGNING_SECRET, TEAM_ID,
};
use scim_sandbox::slack::{
    EnvelopeKind, FakeSlack, InteractionError, SigningOptions, SlackFault, SocketModeError,
    Transport, ViewOutcome, WaitTimedOut, datepicker_value, plain_text_value,
};
use serde_json::{Value, json};
use sha2::Sha256;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use url::Url;

/// Generous bound for things that happen at once on a loaded CI machine; never slept.
const PATIENCE: Duration = Duration::from_secs(5);

const CHANNEL: &str = "C0SCIM";
const CHANNEL_NAME: &str = "scim-tokens";
const LEAD: &str = "U0LEAD";
const DEV: &str = "U0DEV";

fn new_year() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

struct World {
    slack: FakeSlack,
    clock: ManualClock,
    api: Api,
}

async fn world() -> World {
    let clock = ManualClock::new(new_year());
    let slack = FakeSlack::start(Arc::new(clock.clone()) as SharedClock).await;
    slack.add_channel(CHANNEL, CHANNEL_NAME);
    slack.add_user(LEAD, "lead");
    slack.add_user(DEV, "dev");
    slack.add_usergroup("S0LEADS", "scim-leads", &[LEAD]);
    let api = Api {
        http: reqwest_client(PATIENCE),
        base: slack.api_url(),
    };
    World { slack, clock, api }
}

fn reqwest_client(timeout: Duration) -> reqwest::Client {
    scim_rotator::outbound::client(timeout)
}

/// Calls the fake's Web API the way a bot would.
struct Api {
    http: reqwest::Client,
    base: Url,
}

impl Api {
    fn url(&self, method: &str) -> String {
        format!("{}/{method}", self.base)
    }

    async fn json(&self, method: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.url(method))
            .header("Content-Type", "application/json; charset=utf-8")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    async fn bot(&self, method: &str, body: Value) -> Value {
        let (status, body) = self.json(method, Some(BOT_TOKEN), body).await;
        assert_eq!(status, 200);
        body
    }

    async fn form(&self, method: &str, fields: &[(&str, &str)]) -> Value {
        self.http
            .post(self.url(method))
            .form(fields)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn get(&self, method: &str, query: &[(&str, &str)]) -> Value {
        self.http
            .get(self.url(method))
            .bearer_auth(BOT_TOKEN)
            .query(query)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn post_with_button(&self, action_id: &str) -> String {
        let posted = self
            .bot(
                "chat.postMessage",
                json!({
                    "channel": CHANNEL,
                    "text": "SCIM token for prod expires in 14 days",
                    "blocks": [
                        {"type": "section", "text": {"type": "mrkdwn", "text": "*prod* expires in 14 days"}},
                        {"type": "actions", "block_id": "warning-actions", "elements": [
                            {"type": "button", "action_id": action_id, "value": "rotation:prod",
                             "style": "primary", "text": {"type": "plain_text", "text": "Rotate now"}}
                        ]}
                    ]
                }),
            )
            .await;
        assert_eq!(posted["ok"], true, "{posted}");
        posted["ts"].as_str().unwrap().to_string()
    }

    async fn open_token_modal(&self, trigger_id: &str) -> Value {
        self.bot(
            "views.open",
            json!({"trigger_id": trigger_id, "view": token_modal()}),
        )
        .await
    }
}

fn token_modal() -> Value {
    json!({
        "type": "modal",
        "callback_id": "new-token",
        "private_metadata": "rotation=42",
        "notify_on_close": true,
        "title": {"type": "plain_text", "text": "New SCIM token"},
        "submit": {"type": "plain_text", "text": "Check and save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "input", "block_id": "token", "label": {"type": "plain_text", "text": "Access token"},
             "element": {"type": "plain_text_input", "action_id": "value", "min_length": 20, "max_length": 3000}},
            {"type": "input", "block_id": "expires", "optional": true,
             "label": {"type": "plain_text", "text": "Expires on"},
             "element": {"type": "datepicker", "action_id": "date"}}
        ]
    })
}

// ----- a stand-in bot that records what Slack delivers ------------------------------------

#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: axum::http::HeaderMap,
    body: String,
}

#[derive(Clone, Default)]
struct StubBot {
    received: Arc<Mutex<Vec<Received>>>,
    replies: Arc<Mutex<VecDeque<(u16, String)>>>,
}

impl StubBot {
    async fn start() -> (Url, StubBot) {
        let bot = StubBot::default();
        let state = bot.clone();
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    state.received.lock().unwrap().push(Received {
                        path: uri.path().to_string(),
                        headers,
                        body,
                    });
                    let (status, body) = state
                        .replies
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or((200, String::new()));
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        [("content-type", "application/json")],
                        body,
                    )
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, bot)
    }

    fn reply_next(&self, status: u16, body: Value) {
        self.replies
            .lock()
            .unwrap()
            .push_back((status, body.to_string()));
    }

    fn last(&self) -> Received {
        self.received.lock().unwrap().last().cloned().unwrap()
    }
}

fn header<'a>(received: &'a Received, name: &str) -> &'a str {
    received
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

/// HMAC computed here, independently of the fake's signing module.
fn expected_signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn interactivity_payload(received: &Received) -> Value {
    let (_, payload) = url::form_urlencoded::parse(received.body.as_bytes())
        .find(|(k, _)| k == "payload")
        .expect("interactivity bodies carry one `payload` field");
    serde_json::from_str(&payload).unwrap()
}

// ----- Web API: authentication ------------------------------------------------------------

#[tokio::test]
async fn web_api_checks_the_bearer_token() {
    let w = world().await;
    let body = json!({"channel": CHANNEL, "text": "hi"});

    let (_, missing) = w.api.json("chat.postMessage", None, body.clone()).await;
    assert_eq!(missing, json!({"ok": false, "error": "not_authed"}));
    let (_, wrong) = w
        .api
        .json("chat.postMessage", Some("xoxb-wrong"), body.clone())
        .await;
    assert_eq!(wrong, json!({"ok": false, "error": "invalid_auth"}));
    let (_, app_token) = w
        .api
        .json("chat.postMessage", Some(APP_TOKEN), body.clone())
        .await;
    assert_eq!(app_token["error"], "not_allowed_token_type");
    let (_, bot_on_socket) = w
        .api
        .json("apps.connections.open", Some(BOT_TOKEN), json!({}))
        .await;
    assert_eq!(bot_on_socket["error"], "not_allowed_token_type");

    // A JSON body cannot carry the token; a form body can.
    let (_, in_json) = w
        .api
        .json(
            "chat.postMessage",
            None,
            json!({"token": BOT_TOKEN, "channel": CHANNEL, "text": "hi"}),
        )
        .await;
    assert_eq!(in_json["error"], "not_authed");
    let in_form = w
        .api
        .form(
            "chat.postMessage",
            &[("token", BOT_TOKEN), ("channel", CHANNEL), ("text", "hi")],
        )
        .await;
    assert_eq!(in_form["ok"], true, "{in_form}");
    assert!(w.slack.messages(CHANNEL).len() == 1);
}

// ----- Web API: messages ------------------------------------------------------------------

#[tokio::test]
async fn post_message_needs_a_known_channel_with_the_bot_in_it() {
    let w = world().await;
    let unknown = w
        .api
        .bot(
            "chat.postMessage",
            json!({"channel": "C0NOPE", "text": "hi"}),
        )
        .await;
    assert_eq!(unknown, json!({"ok": false, "error": "channel_not_found"}));

    w.slack.set_bot_in_channel(CHANNEL, false);
    let outside = w
        .api
        .bot(
            "chat.postMessage",
            json!({"channel": CHANNEL, "text": "hi"}),
        )
        .await;
    assert_eq!(outside["error"], "not_in_channel");

    w.slack.set_bot_in_channel(CHANNEL, true);
    let first = w
        .api
        .bot(
            "chat.postMessage",
            json!({"channel": CHANNEL, "text": "hi"}),
        )
        .await;
    let by_name = w
        .api
        .bot(
            "chat.postMessage",
            json!({"channel": "#scim-tokens", "text": "again"}),
        )
        .await;
    assert_eq!(first["ok"], true);
    assert_eq!(first["channel"], CHANNEL);
    assert_eq!(first["ts"], "1767225600.000100");
    assert_eq!(first["message"]["user"], BOT_USER_ID);
    assert_eq!(first["message"]["text"], "hi");
    assert_eq!(by_name["channel"], CHANNEL, "names resolve to the id");
    assert_eq!(by_name["ts"], "1767225600.000200");

    let empty = w
        .api
        .bot("chat.postMessage", json!({"channel": CHANNEL}))
        .await;
    assert_eq!(empty["error"], "no_text");
}

#[tokio::test]
async fn threads_edits_and_ephemerals_are_kept_as_slack_keeps_them() {
    let w = world().await;
    let parent = w.api.post_with_button("rotate").await;
    let reply = w
        .api
        .bot(
            "chat.postMessage",
            json!({"channel": CHANNEL, "text": "step 1", "thread_ts": parent}),
        )
        .await;
    let reply_ts = reply["ts"].as_str().unwrap();

    let missing = w
        .api
        .bot(
            "chat.update",
            json!({"channel": CHANNEL, "ts": "1.000001", "text": "x"}),
        )
        .await;
    assert_eq!(missing["error"], "message_not_found");
    let updated = w
        .api
        .bot(
            "chat.update",
            json!({"channel": CHANNEL, "ts": reply_ts, "text": "step 1 done"}),
        )
        .await;
    assert_eq!(updated["ok"], true, "{updated}");
    assert_eq!(updated["text"], "step 1 done");

    let thread = w.slack.thread(CHANNEL, &parent);
    assert_eq!(thread.len(), 1);
    assert_eq!(thread[0].thread_ts.as_deref(), Some(parent.as_str()));
    assert_eq!(thread[0].text, "step 1 done");
    assert_eq!(thread[0].edits, 1);
    assert_eq!(thread[0].history[0].text, "step 1");

    // Updating text only keeps the blocks, as Slack documents.
    w.api
        .bot(
            "chat.update",
            json!({"channel": CHANNEL, "ts": parent, "text": "rotating"}),
        )
        .await;
    let parent_now = w.slack.message(CHANNEL, &parent).unwrap();
    assert_eq!(parent_now.blocks[1]["block_id"], "warning-actions");
    assert!(
        parent_now.blocks[0]["block_id"].is_string(),
        "Slack fills in block ids"
    );

    let ephemeral = w
        .api
        .bot(
            "chat.postEphemeral",
            json!({"channel": CHANNEL, "user": DEV, "text": "only team leads can approve"}),
        )
        .await;
    assert!(ephemeral["message_ts"].is_string(), "{ephemeral}");
    let stranger = w
        .api
        .bot(
            "chat.postEphemeral",
            json!({"channel": CHANNEL, "user": "U0NOBODY", "text": "x"}),
        )
        .await;
    assert_eq!(stranger["error"], "user_not_in_channel");
    let shown = w.slack.ephemerals();
    assert_eq!(shown.len(), 1);
    assert_eq!(
        (shown[0].user.as_str(), shown[0].text.as_str()),
        (DEV, "only team leads can approve")
    );
}

#[tokio::test]
async fn message_limits_are_enforced() {
    let w = world().await;
    let blocks: Vec<Value> = (0..51).map(|_| json!({"type": "divider"})).collect();
    let too_many = w
        .api
        .bot(
            "chat.postMessage",
            json!({"channel": CHANNEL, "text": "x", "blocks": blocks}),
        )
        .await;
    assert_eq!(too_many["error"], "invalid_blocks");
    assert_eq!(
        too_many["response_metadata"]["messages"][0],
        "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"
    );

    let long_section = w
        .api
        .bot(
            "chat.postMessage",
            json!({"channel": CHANNEL, "text": "x", "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": "a".repeat(3001)}}
            ]}),
        )
        .await;
    assert_eq!(long_section["error"], "invalid_blocks");

    // chat.postMessage truncates very long text; chat.update refuses it.
    let long_text = "a".repeat(40_001);
    let posted = w
        .api
        .bot(
            "chat.postMessage",
            json!({"channel": CHANNEL, "text": long_text}),
        )
        .await;
    assert_eq!(posted["ok"], true);
    let ts = posted["ts"].as_str().unwrap();
    assert_eq!(w.slack.message(CHANNEL, ts).unwrap().text.len(), 40_000);
    let update = w
        .api
        .bot(
            "chat.update",
            json!({"channel": CHANNEL, "ts": ts, "text": long_text}),
        )
        .await;
    assert_eq!(update["error"], "msg_too_long");
    assert!(
        w.slack.messages(CHANNEL).len() == 1,
        "refused messages are not stored"
    );
}

#[tokio::test]
async fn form_bodies_carry_json_arguments_as_strings() {
    let w = world().await;
    let blocks = json!([{"type": "section", "text": {"type": "plain_text", "text": "hello"}}]);
    let posted = w
        .api
        .form(
            "chat.postMessage",
            &[
                ("token", BOT_TOKEN),
                ("channel", CHANNEL),
                ("text", "fallback"),
                ("blocks", &blocks.to_string()),
            ],
        )
        .await;
    assert_eq!(posted["ok"], true, "{posted}");
    let stored = &w.slack.messages(CHANNEL)[0];
    assert_eq!(stored.blocks[0]["text"]["text"], "hello");
    let broken = w
        .api
        .form(
            "chat.postMessage",
            &[("token", BOT_TOKEN), ("channel", CHANNEL), ("blocks", "[{")],
        )
        .await;
    assert_eq!(broken["error"], "invalid_blocks_format");
}

// ----- Web API: views ---------------------------------------------------------------------

#[tokio::test]
async fn views_open_needs_a_trigger_used_once_within_three_seconds() {
    let w = world().await;
    let trigger = w.slack.issue_trigger(LEAD);
    w.clock.advance(TimeDelta::milliseconds(2_900));
    let opened = w.api.open_token_modal(&trigger).await;
    assert_eq!(opened["ok"], true, "{opened}");
    let view_id = opened["view"]["id"].as_str().unwrap();
    assert!(view_id.starts_with('V'));
    assert_eq!(opened["view"]["team_id"], TEAM_ID);
    assert_eq!(opened["view"]["private_metadata"], "rotation=42");
    let open = w.slack.open_views(LEAD);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].callback_id(), "new-token");

    let again = w.api.open_token_modal(&trigger).await;
    assert_eq!(again["error"], "exchanged_trigger_id");

    let late = w.slack.issue_trigger(LEAD);
    w.clock.advance(TimeDelta::seconds(4));
    let expired = w.api.open_token_modal(&late).await;
    assert_eq!(expired["error"], "expired_trigger_id");

    let made_up = w.api.open_token_modal("1.2.abc").await;
    assert_eq!(made_up["error"], "invalid_trigger_id");
}

#[tokio::test]
async fn views_open_validates_the_modal() {
    let w = world().await;
    let mut long_title = token_modal();
    long_title["title"]["text"] = json!("A".repeat(25));
    let mut big_metadata = token_modal();
    big_metadata["private_metadata"] = json!("m".repeat(3001));
    let mut too_many_blocks = token_modal();
    too_many_blocks["blocks"] = json!(vec![json!({"type": "divider"}); 101]);
    let mut home = token_modal();
    home["type"] = json!("home");

    for view in [long_title, big_metadata, too_many_blocks, home] {
        let trigger = w.slack.issue_trigger(LEAD);
        let refused = w
            .api
            .bot("views.open", json!({"trigger_id": trigger, "view": view}))
            .await;
        assert_eq!(refused["error"], "invalid_arguments", "{refused}");
        assert!(refused["response_metadata"]["messages"][0].is_string());
        // A refused view does not use up the trigger.
        let opened = w.api.open_token_modal(&trigger).await;
        assert_eq!(opened["ok"], true);
    }
}

#[tokio::test]
async fn home_tab_is_one_view_per_user_and_travels_with_app_home_opened() {
    let w = world().await;
    let home = json!({"type": "home", "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "prod: 200 days left"}}
    ]});
    let first = w
        .api
        .bot("views.publish", json!({"user_id": LEAD, "view": home}))
        .await;
    let second = w
        .api
        .bot("views.publish", json!({"user_id": LEAD, "view": home}))
        .await;
    assert_eq!(first["view"]["id"], second["view"]["id"]);
    assert_ne!(first["view"]["hash"], second["view"]["hash"]);
    let stale = w
        .api
        .bot(
            "views.publish",
            json!({"user_id": LEAD, "view": home, "hash": first["view"]["hash"]}),
        )
        .await;
    assert_eq!(stale["error"], "hash_conflict");

    let event = w.slack.app_home_opened(LEAD);
    assert_eq!(event["view"]["id"], first["view"]["id"]);
    let callback = w.slack.event_callback(event);
    let parsed: SlackPushEvent = serde_json::from_value(callback).unwrap();
    let SlackPushEvent::EventCallback(callback) = parsed else {
        panic!("an event_callback")
    };
    assert!(matches!(
        callback.event,
        SlackEventCallbackBody::AppHomeOpened(SlackAppHomeOpenedEvent { ref user, .. }) if user.0 == LEAD
    ));
}

// ----- Web API: lookups -------------------------------------------------------------------

#[tokio::test]
async fn lookups_describe_the_workspace() {
    let w = world().await;
    let auth = w.api.get("auth.test", &[]).await;
    assert_eq!(auth["user_id"], BOT_USER_ID);
    assert_eq!(auth["team_id"], TEAM_ID);
    assert!(auth["bot_id"].is_string() && auth["url"].is_string() && auth["team"].is_string());

    let leads = w
        .api
        .get("usergroups.users.list", &[("usergroup", "S0LEADS")])
        .await;
    assert_eq!(leads, json!({"ok": true, "users": [LEAD]}));
    let nope = w
        .api
        .get("usergroups.users.list", &[("usergroup", "S0NOPE")])
        .await;
    assert_eq!(nope["error"], "no_such_subteam");

    let info = w
        .api
        .get("conversations.info", &[("channel", CHANNEL)])
        .await;
    assert_eq!(info["channel"]["name"], CHANNEL_NAME);
    assert_eq!(info["channel"]["is_member"], true);
    let gone = w
        .api
        .get("conversations.info", &[("channel", "C0GONE")])
        .await;
    assert_eq!(gone["error"], "channel_not_found");
}

// ----- faults and the call record ---------------------------------------------------------

#[tokio::test]
async fn injected_faults_apply_once_each() {
    let w = world().await;
    w.slack.rate_limit_next("chat.postMessage", 7);
    w.slack
        .fail_next("chat.postMessage", SlackFault::error("channel_not_found"));
    let body = json!({"channel": CHANNEL, "text": "hi"});

    let response = w
        .api
        .http
        .post(w.api.url("chat.postMessage"))
        .bearer_auth(BOT_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"ok": false, "error": "ratelimited"})
    );
    let failed = w.api.bot("chat.postMessage", body.clone()).await;
    assert_eq!(failed["error"], "channel_not_found");
    let fine = w.api.bot("chat.postMessage", body.clone()).await;
    assert_eq!(fine["ok"], true);
    assert_eq!(
        w.slack.messages(CHANNEL).len(),
        1,
        "faulted calls change nothing"
    );
    assert_eq!(w.slack.calls_to("chat.postMessage").len(), 3);
}

#[tokio::test]
async fn a_hanging_call_runs_into_the_callers_timeout() {
    let w = world().await;
    w.slack.hang_next("chat.update");
    let impatient = reqwest_client(Duration::from_millis(200));
    let result = impatient
        .post(w.api.url("chat.update"))
        .bearer_auth(BOT_TOKEN)
        .json(&json!({"channel": CHANNEL, "ts": "1.1", "text": "x"}))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    let next = w
        .api
        .bot(
            "chat.update",
            json!({"channel": CHANNEL, "ts": "1.1", "text": "x"}),
        )
        .await;
    assert_eq!(next["error"], "message_not_found");
}

#[tokio::test]
async fn every_byte_the_bot_sends_is_recorded() {
    let w = world().await;
    let body =
        json!({"channel": CHANNEL, "text": "see the modal", "metadata": {"x": "marker-123"}});
    w.api.bot("chat.postMessage", body.clone()).await;
    w.api
        .get("conversations.info", &[("channel", CHANNEL)])
        .await;

    let calls = w.slack.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].method, "chat.postMessage");
    assert_eq!(calls[0].params, body, "the parsed body, verbatim");
    assert_eq!(calls[0].response["ok"], true);
    assert_eq!(calls[0].at, new_year());
    assert_eq!(calls[1].http_method, "GET");
    assert_eq!(calls[1].params, json!({"channel": CHANNEL}));
    assert!(w.slack.all_bot_output().contains("marker-123"));
    assert!(!w.slack.all_bot_output().contains("never-sent"));
}

// ----- slack-morphism as the bot's client -------------------------------------------------

fn morphism_client(api_url: &Url) -> Arc<SlackHyperClient> {
    scim_rotator::outbound::install_crypto_provider();
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Arc::new(SlackClient::new(
        SlackClientHyperConnector::with_connector(connector).with_slack_api_url(api_url.as_str()),
    ))
}

fn token(value: &str) -> SlackApiToken {
    SlackApiToken::new(SlackApiTokenValue::new(value.to_string()))
}

#[tokio::test]
async fn slack_morphism_parses_every_answer() {
    let w = world().await;
    let client = morphism_client(&w.slack.api_url());
    let bot_token = token(BOT_TOKEN);
    let session = client.open_session(&bot_token);

    let auth = session.auth_test().await.unwrap();
    assert_eq!(auth.user_id.0, BOT_USER_ID);

    let blocks: Vec<SlackBlock> = serde_json::from_value(json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": "prod expires soon"}},
        {"type": "actions", "elements": [{"type": "button", "action_id": "rotate",
            "text": {"type": "plain_text", "text": "Rotate"}}]}
    ]))
    .unwrap();
    let posted = session
        .chat_post_message(&SlackApiChatPostMessageRequest::new(
            CHANNEL.into(),
            SlackMessageContent::new()
                .with_text("prod expires soon".into())
                .with_blocks(blocks.clone()),
        ))
        .await
        .unwrap();
    assert_eq!(posted.channel.0, CHANNEL);
    session
        .chat_update(&SlackApiChatUpdateRequest::new(
            CHANNEL.into(),
            SlackMessageContent::new().with_text("rotating".into()),
            posted.ts.clone(),
        ))
        .await
        .unwrap();
    session
        .chat_post_ephemeral(&SlackApiChatPostEphemeralRequest::new(
            CHANNEL.into(),
            DEV.into(),
            SlackMessageContent::new().with_text("leads only".into()),
        ))
        .await
        .unwrap();
    let info = session
        .conversations_info(&SlackApiConversationsInfoRequest::new(CHANNEL.into()))
        .await
        .unwrap();
    assert_eq!(info.channel.name.as_deref(), Some(CHANNEL_NAME));
    let leads = session
        .usergroups_users_list(&SlackApiUserGroupsUsersListRequest::new("S0LEADS".into()))
        .await
        .unwrap();
    assert_eq!(leads.users, vec![SlackUserId::new(LEAD.into())]);

    let modal: SlackView = serde_json::from_value(token_modal()).unwrap();
    let trigger = w.slack.issue_trigger(LEAD);
    let opened = session
        .views_open(&SlackApiViewsOpenRequest::new(trigger.into(), modal))
        .await
        .unwrap();
    assert!(opened.view.state_params.id.0.starts_with('V'));
    let home: SlackView = serde_json::from_value(json!({"type": "home", "blocks": []})).unwrap();
    session
        .views_publish(&SlackApiViewsPublishRequest::new(LEAD.into(), home))
        .await
        .unwrap();

    let error = session
        .usergroups_users_list(&SlackApiUserGroupsUsersListRequest::new("S0NOPE".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, SlackClientError::ApiError(ref e) if e.code == "no_such_subteam"),
        "{error:?}"
    );
    w.slack.rate_limit_next("chat.postMessage", 3);
    let limited = session
        .chat_post_message(&SlackApiChatPostMessageRequest::new(
            CHANNEL.into(),
            SlackMessageContent::new().with_text("x".into()),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(limited, SlackClientError::RateLimitError(ref e) if e.retry_after == Some(Duration::from_secs(3))),
        "{limited:?}"
    );

    let app_token = token(APP_TOKEN);
    let socket = client
        .open_session(&app_token)
        .apps_connections_open(&SlackApiAppsConnectionOpenRequest::new())
        .await
        .unwrap();
    assert!(socket.url.0.as_str().starts_with("ws://127.0.0.1:"));
}

// ----- interactivity over HTTP ------------------------------------------------------------

#[tokio::test]
async fn a_click_is_a_signed_block_actions_payload_slack_morphism_parses() {
    let w = world().await;
    let (bot_url, bot) = StubBot::start().await;
    let ts = w.api.post_with_button("rotate").await;
    w.clock.advance(TimeDelta::seconds(10));

    let click = w
        .slack
        .click(&bot_url, LEAD, CHANNEL, &ts, "rotate")
        .await
        .unwrap();
    assert_eq!(click.reply.status, 200);

    let received = bot.last();
    assert_eq!(received.path, "/slack/interactivity");
    assert_eq!(
        header(&received, "content-type"),
        "application/x-www-form-urlencoded"
    );
    let timestamp = header(&received, "x-slack-request-timestamp");
    assert_eq!(timestamp, (new_year().timestamp() + 10).to_string());
    assert_eq!(
        header(&received, "x-slack-signature"),
        expected_signature(SIGNING_SECRET, timestamp, &received.body)
    );
    let payload = interactivity_payload(&received);
    assert_eq!(payload["trigger_id"], click.trigger_id.as_str());
    assert_eq!(payload["message"]["ts"], ts.as_str());
    assert_eq!(payload["actions"][0]["value"], "rotation:prod");
    assert_eq!(payload["actions"][0]["block_id"], "warning-actions");

    let event: SlackInteractionEvent = serde_json::from_value(payload).unwrap();
    let SlackInteractionEvent::BlockActions(actions) = event else {
        panic!("block_actions")
    };
    assert_eq!(actions.user.unwrap().id.0, LEAD);
    assert_eq!(actions.channel.unwrap().id.0, CHANNEL);
    let SlackInteractionActionContainer::Message(container) = actions.container else {
        panic!("a message container")
    };
    assert_eq!(container.message_ts.0, ts);
    assert_eq!(actions.message.unwrap().origin.ts.0, ts);
    let action = &actions.actions.unwrap()[0];
    assert_eq!(action.action_id.0, "rotate");
    assert!(actions.response_url.is_some());

    // slack-morphism's verifier checks the timestamp against the wall clock, so it accepts
    // the fake's signature once the injected clock shows the real time.
    w.clock.set(Utc::now());
    w.slack
        .click(&bot_url, LEAD, CHANNEL, &ts, "rotate")
        .await
        .unwrap();
    let received = bot.last();
    SlackEventSignatureVerifier::new(&SlackSigningSecret::new(SIGNING_SECRET.into()))
        .verify(
            header(&received, "x-slack-signature"),
            &received.body,
            header(&received, "x-slack-request-timestamp"),
        )
        .unwrap();
}

#[tokio::test]
async fn people_cannot_click_what_is_not_there() {
    let w = world().await;
    let (bot_url, _bot) = StubBot::start().await;
    let ts = w.api.post_with_button("rotate").await;
    let cases = [
        (LEAD, CHANNEL, ts.as_str(), "approve"),
        (LEAD, CHANNEL, "1767225600.999999", "rotate"),
        ("U0NOBODY", CHANNEL, ts.as_str(), "rotate"),
        (LEAD, "C0NOPE", ts.as_str(), "rotate"),
    ];
    for (user, channel, ts, action) in cases {
        let error = w
            .slack
            .click(&bot_url, user, channel, ts, action)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                InteractionError::ActionNotFound { .. }
                    | InteractionError::MessageNotFound { .. }
                    | InteractionError::UnknownUser(_)
                    | InteractionError::UnknownChannel(_)
            ),
            "{error}"
        );
    }
    assert!(w.slack.deliveries().is_empty(), "nothing was delivered");
}

#[tokio::test]
async fn a_trigger_from_a_click_expires_after_three_seconds() {
    let w = world().await;
    let (bot_url, _bot) = StubBot::start().await;
    let ts = w.api.post_with_button("rotate").await;
    let click = w
        .slack
        .click(&bot_url, LEAD, CHANNEL, &ts, "rotate")
        .await
        .unwrap();
    w.clock.advance(TimeDelta::seconds(4));
    let late = w.api.open_token_modal(&click.trigger_id).await;
    assert_eq!(late["error"], "expired_trigger_id");
}

async fn open_modal_for(w: &World, bot_url: &Url) -> String {
    let ts = w.api.post_with_button("rotate").await;
    let click = w
        .slack
        .click(bot_url, LEAD, CHANNEL, &ts, "rotate")
        .await
        .unwrap();
    let opened = w.api.open_token_modal(&click.trigger_id).await;
    opened["view"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_modal_stays_open_on_errors_and_closes_on_an_empty_answer() {
    let w = world().await;
    let (bot_url, bot) = StubBot::start().await;
    let view_id = open_modal_for(&w, &bot_url).await;
    let secret = "scim-token-that-must-never-leak-0123456789";
    let values = [
        ("token", "value", plain_text_value(secret)),
        ("expires", "date", datepicker_value("2027-12-01")),
    ];

    bot.reply_next(
        200,
        json!({"response_action": "errors", "errors": {"token": "AWS refused this token."}}),
    );
    let refused = w
        .slack
        .submit_view(&bot_url, LEAD, &view_id, &values)
        .await
        .unwrap();
    assert_eq!(
        refused.outcome,
        ViewOutcome::Errors([("token".into(), "AWS refused this token.".into())].into())
    );
    assert_eq!(w.slack.open_views(LEAD).len(), 1);

    let event: SlackInteractionEvent = serde_json::from_value(refused.payload.clone()).unwrap();
    let SlackInteractionEvent::ViewSubmission(submission) = event else {
        panic!("view_submission")
    };
    assert_eq!(submission.user.id.0, LEAD);
    assert_eq!(submission.view.state_params.id.0, view_id);
    let values = submission.view.state_params.state.unwrap().values;
    let token = &values[&"token".into()][&"value".into()];
    assert_eq!(token.value.as_deref(), Some(secret));
    assert_eq!(
        values[&"expires".into()][&"date".into()]
            .selected_date
            .as_deref(),
        Some("2027-12-01")
    );
    let SlackView::Modal(modal) = submission.view.view else {
        panic!("a modal")
    };
    assert_eq!(modal.private_metadata.as_deref(), Some("rotation=42"));
    assert_eq!(
        interactivity_payload(&bot.last())["view"]["callback_id"],
        "new-token"
    );

    let accepted = w
        .slack
        .submit_view(
            &bot_url,
            LEAD,
            &view_id,
            &[("token", "value", plain_text_value(secret))],
        )
        .await
        .unwrap();
    assert_eq!(accepted.outcome, ViewOutcome::Closed);
    assert!(w.slack.open_views(LEAD).is_empty());
    let closed_again = w
        .slack
        .submit_view(&bot_url, LEAD, &view_id, &[])
        .await
        .unwrap_err();
    assert!(matches!(closed_again, InteractionError::ViewNotOpen(_)));
}

#[tokio::test]
async fn slacks_client_checks_the_inputs_before_submitting() {
    let w = world().await;
    let (bot_url, _bot) = StubBot::start().await;
    let view_id = open_modal_for(&w, &bot_url).await;
    let attempts: [&[(&str, &str, Value)]; 5] = [
        &[],
        &[("token", "value", plain_text_value(""))],
        &[("token", "value", plain_text_value("short"))],
        &[("token", "value", datepicker_value("2027-12-01"))],
        &[("nope", "value", plain_text_value("x"))],
    ];
    for values in attempts {
        let error = w
            .slack
            .submit_view(&bot_url, LEAD, &view_id, values)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                InteractionError::RequiredInputMissing(_)
                    | InteractionError::InvalidInput { .. }
                    | InteractionError::InputTypeMismatch { .. }
                    | InteractionError::InputNotFound { .. }
            ),
            "{error}"
        );
    }
    let other_user = w
        .slack
        .submit_view(&bot_url, DEV, &view_id, &[])
        .await
        .unwrap_err();
    assert!(matches!(other_user, InteractionError::ViewNotOpen(_)));
}

#[tokio::test]
async fn errors_for_inputs_that_do_not_exist_are_rejected_by_slack() {
    let w = world().await;
    let (bot_url, bot) = StubBot::start().await;
    let view_id = open_modal_for(&w, &bot_url).await;
    bot.reply_next(
        200,
        json!({"response_action": "errors", "errors": {"tokn": "typo"}}),
    );
    let submitted = w
        .slack
        .submit_view(
            &bot_url,
            LEAD,
            &view_id,
            &[("token", "value", plain_text_value("a".repeat(30).as_str()))],
        )
        .await
        .unwrap();
    assert!(matches!(submitted.outcome, ViewOutcome::Rejected(_)));
    assert_eq!(w.slack.open_views(LEAD).len(), 1);
}

#[tokio::test]
async fn modals_can_be_updated_pushed_dismissed_and_cleared() {
    let w = world().await;
    let (bot_url, bot) = StubBot::start().await;
    let view_id = open_modal_for(&w, &bot_url).await;
    let hash = w.slack.view(&view_id).unwrap().hash().to_string();

    let mut checking = token_modal();
    checking["title"]["text"] = json!("Checking…");
    let updated = w
        .api
        .bot(
            "views.update",
            json!({"view_id": view_id, "hash": hash, "view": checking}),
        )
        .await;
    assert_eq!(updated["ok"], true, "{updated}");
    assert_eq!(updated["view"]["id"], view_id.as_str());
    let stale = w
        .api
        .bot(
            "views.update",
            json!({"view_id": view_id, "hash": hash, "view": token_modal()}),
        )
        .await;
    assert_eq!(stale["error"], "hash_conflict");
    let unknown = w
        .api
        .bot(
            "views.update",
            json!({"view_id": "V0NOPE", "view": token_modal()}),
        )
        .await;
    assert_eq!(unknown["error"], "not_found");

    let confirm = json!({
        "type": "modal", "notify_on_close": true,
        "title": {"type": "plain_text", "text": "Confirm"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Sure?"}}]
    });
    bot.reply_next(200, json!({"response_action": "push", "view": confirm}));
    let token = [("token", "value", plain_text_value(&"t".repeat(30)))];
    let pushed = w
        .slack
        .submit_view(&bot_url, LEAD, &view_id, &token)
        .await
        .unwrap();
    let ViewOutcome::Pushed(top) = pushed.outcome else {
        panic!("pushed, not {:?}", pushed.outcome)
    };
    assert_eq!(w.slack.open_views(LEAD).len(), 2);
    assert_eq!(
        w.slack.view(&top).unwrap().view["previous_view_id"],
        view_id.as_str()
    );

    let closed = w.slack.close_view(&bot_url, LEAD, &top).await.unwrap();
    assert!(closed.is_some(), "notify_on_close tells the bot");
    let event: SlackInteractionEvent =
        serde_json::from_value(interactivity_payload(&bot.last())).unwrap();
    assert!(matches!(event, SlackInteractionEvent::ViewClosed(_)));
    assert_eq!(w.slack.open_views(LEAD).len(), 1);

    bot.reply_next(200, json!({"response_action": "clear"}));
    let cleared = w
        .slack
        .submit_view(&bot_url, LEAD, &view_id, &token)
        .await
        .unwrap();
    assert_eq!(cleared.outcome, ViewOutcome::ClearedAll);
    assert!(w.slack.open_views(LEAD).is_empty());
}

#[tokio::test]
async fn buttons_in_ephemerals_and_home_tabs_can_be_clicked_by_who_sees_them() {
    let w = world().await;
    let (bot_url, _bot) = StubBot::start().await;
    let button = json!([{"type": "actions", "elements": [
        {"type": "button", "action_id": "rotate", "text": {"type": "plain_text", "text": "Rotate"}}
    ]}]);
    let ephemeral = w
        .api
        .bot(
            "chat.postEphemeral",
            json!({"channel": CHANNEL, "user": DEV, "text": "Rotate?", "blocks": button}),
        )
        .await;
    let ts = ephemeral["message_ts"].as_str().unwrap();
    let click = w
        .slack
        .click(&bot_url, DEV, CHANNEL, ts, "rotate")
        .await
        .unwrap();
    assert_eq!(click.payload["container"]["is_ephemeral"], true);
    assert!(
        click.payload.get("message").is_none(),
        "Slack keeps no copy of ephemerals"
    );
    let parsed: SlackInteractionEvent = serde_json::from_value(click.payload).unwrap();
    assert!(matches!(parsed, SlackInteractionEvent::BlockActions(_)));
    let not_theirs = w
        .slack
        .click(&bot_url, LEAD, CHANNEL, ts, "rotate")
        .await
        .unwrap_err();
    assert!(matches!(
        not_theirs,
        InteractionError::MessageNotFound { .. }
    ));

    let home = w
        .api
        .bot(
            "views.publish",
            json!({"user_id": LEAD, "view": {"type": "home", "blocks": button}}),
        )
        .await;
    let home_id = home["view"]["id"].as_str().unwrap();
    let click = w
        .slack
        .click_in_view(&bot_url, LEAD, home_id, "rotate")
        .await
        .unwrap();
    assert_eq!(click.payload["container"]["type"], "view");
    let parsed: SlackInteractionEvent = serde_json::from_value(click.payload).unwrap();
    let SlackInteractionEvent::BlockActions(actions) = parsed else {
        panic!("block_actions")
    };
    assert!(matches!(actions.view, Some(SlackView::Home(_))));
}

#[tokio::test]
async fn wait_until_wakes_up_when_the_bot_acts() {
    let w = world().await;
    let slack = w.slack.clone();
    let waiter = tokio::spawn(async move {
        slack
            .wait_until(PATIENCE, |s| {
                s.messages(CHANNEL).first().map(|m| m.text.clone())
            })
            .await
    });
    w.api
        .bot(
            "chat.postMessage",
            json!({"channel": CHANNEL, "text": "done"}),
        )
        .await;
    assert_eq!(waiter.await.unwrap().unwrap(), "done");

    let quick = Duration::from_millis(50);
    let nothing = w
        .slack
        .wait_until(quick, |s| s.messages("C0OTHER").first().cloned())
        .await;
    assert_eq!(nothing.unwrap_err(), WaitTimedOut(quick));
}

#[tokio::test]
async fn a_slash_command_is_signed_form_fields_and_its_answer_is_shown_to_the_user() {
    let w = world().await;
    let (bot_url, bot) = StubBot::start().await;
    bot.reply_next(200, json!({"text": "prod: 200 days left"}));
    let command = w
        .slack
        .slash_command(&bot_url, DEV, CHANNEL, "/scim", "status")
        .await
        .unwrap();
    assert_eq!(command.reply_error, None);

    let received = bot.last();
    assert_eq!(received.path, "/slack/commands");
    assert_eq!(
        header(&received, "x-slack-signature"),
        expected_signature(
            SIGNING_SECRET,
            header(&received, "x-slack-request-timestamp"),
            &received.body
        )
    );
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(received.body.as_bytes())
        .into_owned()
        .collect();
    let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    for name in [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "response_url",
        "trigger_id",
    ] {
        assert!(names.contains(&name), "missing {name}");
    }
    let event: SlackCommandEvent = serde_urlencoded::from_str(&received.body).unwrap();
    assert_eq!(event.command.0, "/scim");
    assert_eq!(event.text.as_deref(), Some("status"));
    assert_eq!(event.trigger_id.0, command.trigger_id);

    let shown = w.slack.ephemerals();
    assert_eq!(shown.len(), 1);
    assert_eq!(
        (shown[0].user.as_str(), shown[0].text.as_str()),
        (DEV, "prod: 200 days left")
    );
}

#[tokio::test]
async fn response_urls_reach_the_person_and_replace_the_original() {
    let w = world().await;
    let (bot_url, _bot) = StubBot::start().await;
    let ts = w.api.post_with_button("rotate").await;
    let click = w
        .slack
        .click(&bot_url, LEAD, CHANNEL, &ts, "rotate")
        .await
        .unwrap();
    let response_url = click.payload["response_url"].as_str().unwrap();
    let http = reqwest_client(PATIENCE);
    let ephemeral = http
        .post(response_url)
        .json(&json!({"text": "Only you can see this"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ephemeral.text().await.unwrap(), "ok");
    let replace = http
        .post(response_url)
        .json(&json!({"replace_original": true, "text": "Rotation requested"}))
        .send()
        .await
        .unwrap();
    assert_eq!(replace.status().as_u16(), 200);
    assert_eq!(w.slack.ephemerals()[0].text, "Only you can see this");
    assert_eq!(
        w.slack.message(CHANNEL, &ts).unwrap().text,
        "Rotation requested"
    );
    assert_eq!(w.slack.calls_to("response_url").len(), 2);
}

#[tokio::test]
async fn events_are_signed_json_and_retries_say_so() {
    let w = world().await;
    let (bot_url, bot) = StubBot::start().await;
    let callback = w.slack.event_callback(w.slack.app_home_opened(LEAD));
    w.slack.event(&bot_url, &callback, None).await.unwrap();
    let first = bot.last();
    w.slack
        .event(&bot_url, &callback, Some((1, "http_timeout")))
        .await
        .unwrap();
    let retry = bot.last();

    assert_eq!(first.path, "/slack/events");
    assert_eq!(header(&first, "content-type"), "application/json");
    assert_eq!(header(&first, "x-slack-retry-num"), "");
    assert_eq!(header(&retry, "x-slack-retry-num"), "1");
    assert_eq!(header(&retry, "x-slack-retry-reason"), "http_timeout");
    let first_body: Value = serde_json::from_str(&first.body).unwrap();
    let retry_body: Value = serde_json::from_str(&retry.body).unwrap();
    assert_eq!(
        first_body["event_id"], retry_body["event_id"],
        "a retry is the same event"
    );
    let parsed: SlackPushEvent = serde_json::from_str(&retry.body).unwrap();
    assert!(matches!(parsed, SlackPushEvent::EventCallback(_)));
}

#[tokio::test]
async fn url_verification_expects_the_challenge_back() {
    let w = world().await;
    let (bot_url, bot) = StubBot::start().await;
    bot.reply_next(200, json!({"challenge": "something else"}));
    let wrong = w.slack.url_verification(&bot_url).await.unwrap();
    assert!(!wrong.echoed);
    let challenge: Value = serde_json::from_str(&bot.last().body).unwrap();
    assert_eq!(challenge["type"], "url_verification");
    let parsed: SlackPushEvent = serde_json::from_value(challenge).unwrap();
    assert!(matches!(parsed, SlackPushEvent::UrlVerification(_)));
}

#[tokio::test]
async fn hand_made_requests_can_be_forged_stale_or_unsigned() {
    let w = world().await;
    let (bot_url, bot) = StubBot::start().await;
    let body = "payload=%7B%7D";
    let now = new_year().timestamp().to_string();
    let good = expected_signature(SIGNING_SECRET, &now, body);

    let cases = [
        (SigningOptions::valid(), now.clone(), Some(good.clone())),
        (SigningOptions::bad_signature(), now.clone(), None),
        (
            SigningOptions::stale(),
            (new_year().timestamp() - 301).to_string(),
            None,
        ),
    ];
    for (options, timestamp, signature) in cases {
        w.slack
            .signed_request(
                &bot_url,
                "slack/interactivity",
                body,
                "application/x-www-form-urlencoded",
                &options,
            )
            .await
            .unwrap();
        let received = bot.last();
        assert_eq!(received.body, body);
        assert_eq!(header(&received, "x-slack-request-timestamp"), timestamp);
        let sent = header(&received, "x-slack-signature");
        match signature {
            Some(expected) => assert_eq!(sent, expected),
            None => {
                assert!(sent.starts_with("v0="));
                assert_ne!(sent, good);
            }
        }
    }
    w.slack
        .signed_request(
            &bot_url,
            "slack/interactivity",
            body,
            "application/x-www-form-urlencoded",
            &SigningOptions::unsigned(),
        )
        .await
        .unwrap();
    assert_eq!(header(&bot.last(), "x-slack-signature"), "");
}

#[test]
fn signing_matches_slacks_published_example() {
    let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    assert_eq!(
        expected_signature("8f742231b10e8888abcd99yyyzzz85a5", "1531420618", body),
        expected
    );
    assert_eq!(
        scim_sandbox::slack::signing::signature(
            "8f742231b10e8888abcd99yyyzzz85a5",
            1531420618,
            body.as_bytes()
        ),
        expected
    );
}

// ----- Socket Mode ------------------------------------------------------------------------

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(w: &World) -> (Socket, Value) {
    let (_, opened) = w
        .api
        .json("apps.connections.open", Some(APP_TOKEN), json!({}))
        .await;
    let url = opened["url"].as_str().unwrap();
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let hello = next_json(&mut socket).await;
    (socket, hello)
}

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(text) = frame {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

#[tokio::test]
async fn socket_mode_says_hello_delivers_envelopes_and_takes_acks() {
    let w = world().await;
    let (mut socket, hello) = connect(&w).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["num_connections"], 1);
    assert_eq!(hello["connection_info"]["app_id"], APP_ID);
    assert!(
        hello["debug_info"]["host"].is_string(),
        "slack-morphism needs it"
    );

    let ts = w.api.post_with_button("rotate").await;
    let slack = w.slack.clone();
    let click = tokio::spawn(async move {
        slack
            .click(Transport::SocketMode, LEAD, CHANNEL, &ts, "rotate")
            .await
    });
    let envelope = next_json(&mut socket).await;
    assert_eq!(envelope["type"], "interactive");
    assert_eq!(envelope["accepts_response_payload"], true);
    assert_eq!(envelope["retry_attempt"], 0);
    assert_eq!(envelope["payload"]["type"], "block_actions");
    let payload: SlackInteractionEvent =
        serde_json::from_value(envelope["payload"].clone()).unwrap();
    assert!(matches!(payload, SlackInteractionEvent::BlockActions(_)));
    socket
        .send(Message::text(
            json!({"envelope_id": envelope["envelope_id"]}).to_string(),
        ))
        .await
        .unwrap();
    let click = click.await.unwrap().unwrap();
    assert_eq!(click.reply.status, 200);
    assert_eq!(click.reply.body, "");

    // An ack may carry a payload (here: a slash command's reply).
    let slack = w.slack.clone();
    let fields = json!({"command": "/scim", "text": "help"});
    let sent = tokio::spawn(async move { slack.send_slash_command(fields).await });
    let envelope = next_json(&mut socket).await;
    assert_eq!(envelope["type"], "slash_commands");
    socket
        .send(Message::text(
            json!({"envelope_id": envelope["envelope_id"], "payload": {"text": "usage"}})
                .to_string(),
        ))
        .await
        .unwrap();
    let ack = sent.await.unwrap().unwrap();
    assert_eq!(ack.envelope_id, envelope["envelope_id"].as_str().unwrap());
    assert_eq!(ack.payload, Some(json!({"text": "usage"})));
    assert_eq!(w.slack.acks().len(), 2);
}

#[tokio::test]
async fn socket_mode_tickets_work_once() {
    let w = world().await;
    let (_, opened) = w
        .api
        .json("apps.connections.open", Some(APP_TOKEN), json!({}))
        .await;
    let url = opened["url"].as_str().unwrap();
    let _first = tokio_tungstenite::connect_async(url).await.unwrap();
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
}

#[tokio::test]
async fn socket_mode_answers_pings_and_can_drop_connections() {
    let w = world().await;
    let (mut socket, _) = connect(&w).await;
    socket
        .send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(PATIENCE, socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(pong, Message::Pong(b"are you there".to_vec().into()));

    assert_eq!(w.slack.close_socket_connections(), 1);
    let closed = tokio::time::timeout(PATIENCE, socket.next()).await.unwrap();
    assert!(matches!(closed, Some(Ok(Message::Close(_))) | None));
    w.slack
        .wait_until(PATIENCE, |s| (s.socket_connections() == 0).then_some(()))
        .await
        .unwrap();
}

#[tokio::test]
async fn socket_mode_waits_for_acks_only_until_the_deadline() {
    let w = world().await;
    let (_socket, _) = connect(&w).await;
    let envelope = w
        .slack
        .envelope(EnvelopeKind::EventsApi, w.slack.event_callback(json!({})));
    assert!(!envelope.accepts_response_payload);
    let result = w
        .slack
        .send_and_await_ack(envelope.clone(), Duration::from_millis(100))
        .await;
    assert_eq!(
        result,
        Err(SocketModeError::NoAck {
            envelope_id: envelope.envelope_id,
            waited: Duration::from_millis(100)
        })
    );
}

#[tokio::test]
async fn socket_mode_spreads_envelopes_and_can_ask_for_a_refresh() {
    let w = world().await;
    let (mut first, _) = connect(&w).await;
    let (mut second, hello) = connect(&w).await;
    assert_eq!(hello["num_connections"], 2);

    for _ in 0..2 {
        let slack = w.slack.clone();
        tokio::spawn(async move { slack.send_event(json!({"type": "event_callback"})).await });
    }
    let a = next_json(&mut first).await;
    let b = next_json(&mut second).await;
    assert_ne!(
        a["envelope_id"], b["envelope_id"],
        "one envelope per connection"
    );

    assert_eq!(w.slack.request_socket_refresh(), 2);
    for socket in [&mut first, &mut second] {
        let disconnect = next_json(socket).await;
        assert_eq!(disconnect["type"], "disconnect");
        assert_eq!(disconnect["reason"], "refresh_requested");
        assert!(
            disconnect["debug_info"]["host"].is_string(),
            "slack-morphism needs it"
        );
    }
    assert_eq!(w.slack.socket_connections(), 0);
    let (_third, hello) = connect(&w).await;
    assert_eq!(hello["num_connections"], 1);
}

// ----- slack-morphism's Socket Mode listener against the fake -----------------------------

#[derive(Clone)]
struct Seen(tokio::sync::mpsc::UnboundedSender<String>);

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    let kind = match &event {
        SlackInteractionEvent::BlockActions(_) => "block_actions",
        SlackInteractionEvent::ViewSubmission(_) => "view_submission",
        _ => "other",
    };
    let state = state.read().await;
    let _ = state.get_user_state::<Seen>().unwrap().0.send(kind.into());
    Ok(SlackInteractionResponse::Empty)
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let state = state.read().await;
    let _ = state
        .get_user_state::<Seen>()
        .unwrap()
        .0
        .send(format!("command {}", event.text.unwrap_or_default()));
    Ok(SlackCommandEventResponse::new(
        SlackMessageContent::new().with_text("on it".into()),
    ))
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let state = state.read().await;
    let kind = match event.event {
        SlackEventCallbackBody::AppHomeOpened(_) => "app_home_opened",
        _ => "other event",
    };
    let _ = state.get_user_state::<Seen>().unwrap().0.send(kind.into());
    Ok(())
}

/// Reports anything slack-morphism could not handle (a frame it failed to parse, a failed
/// connection) to the test, which expects none.
fn error_handler(
    error: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> axum::http::StatusCode {
    if let Ok(state) = state.try_read() {
        let _ = state
            .get_user_state::<Seen>()
            .unwrap()
            .0
            .send(format!("error: {error}"));
    }
    axum::http::StatusCode::OK
}

async fn next_seen(seen: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(PATIENCE, seen.recv())
        .await
        .expect("the listener reports within PATIENCE")
        .unwrap()
}

#[tokio::test]
async fn slack_morphism_socket_mode_listener_works_against_the_fake() {
    let w = world().await;
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let client = morphism_client(&w.slack.api_url());
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(client)
            .with_error_handler(error_handler)
            .with_user_state(Seen(seen_tx)),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_interaction_events(on_interaction)
        .with_command_events(on_command)
        .with_push_events(on_push);
    // slack-morphism staggers its connections by `initial_backoff_in_seconds` (5 s by default).
    let config = SlackClientSocketModeConfig::new().with_initial_backoff_in_seconds(0);
    let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
    listener.listen_for(&token(APP_TOKEN)).await.unwrap();
    listener.start().await;
    w.slack
        .wait_for_socket_connections(2, PATIENCE)
        .await
        .unwrap();

    let ts = w.api.post_with_button("rotate").await;
    let click = w
        .slack
        .click(Transport::SocketMode, LEAD, CHANNEL, &ts, "rotate")
        .await
        .unwrap();
    assert_eq!(click.reply.body, "", "a bare ack");
    assert_eq!(next_seen(&mut seen).await, "block_actions");

    let command = w
        .slack
        .slash_command(Transport::SocketMode, DEV, CHANNEL, "/scim", "status")
        .await
        .unwrap();
    assert_eq!(next_seen(&mut seen).await, "command status");
    assert_eq!(command.reply.json().unwrap()["text"], "on it");
    assert_eq!(w.slack.ephemerals()[0].text, "on it");

    let event = w.slack.event_callback(w.slack.app_home_opened(LEAD));
    w.slack
        .event(Transport::SocketMode, &event, None)
        .await
        .unwrap();
    assert_eq!(next_seen(&mut seen).await, "app_home_opened");

    // Asked to refresh, slack-morphism reconnects both connections.
    assert_eq!(w.slack.request_socket_refresh(), 2);
    w.slack
        .wait_for_socket_connections(2, PATIENCE)
        .await
        .unwrap();
    let event = w.slack.event_callback(w.slack.app_home_opened(DEV));
    w.slack
        .event(Transport::SocketMode, &event, None)
        .await
        .unwrap();
    assert_eq!(next_seen(&mut seen).await, "app_home_opened");
    listener.shutdown().await;
}
