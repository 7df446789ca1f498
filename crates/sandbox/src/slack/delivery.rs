//! Getting a payload to the bot the way Slack does: a signed HTTP POST to the bot's Request
//! URLs, or an envelope over Socket Mode; and recording what the bot answered.

use super::FakeSlack;
use super::error::InteractionError;
use super::identity::SIGNING_SECRET;
use super::model::RecordedDelivery;
use super::signing::{self, SignatureMode, SigningOptions};
use super::socket_mode::EnvelopeKind;
use serde_json::{Map, Value, json};
use std::time::Duration;
use url::Url;

/// How long Slack waits for an app to answer an HTTP delivery or ack an envelope before it
/// shows the person an error (and, for events, schedules a retry).
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(3);
/// The `User-Agent` Slack's deliveries carry.
const SLACK_USER_AGENT: &str = "Slackbot 1.0 (+https://api.slack.com/robots)";
/// A secret that is not the bot's, for deliberately bad signatures.
const FORGER_SECRET: &str = "not-the-signing-secret";
/// Content type of interactivity payloads and slash commands.
const FORM: &str = "application/x-www-form-urlencoded";
/// Content type of Events API deliveries.
pub(super) const JSON: &str = "application/json";

/// How the fake reaches the bot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// HTTP mode: signed POSTs to `<url>/slack/interactivity`, `/slack/commands`, `/slack/events`.
    Http(Url),
    /// Socket Mode: envelopes over the bot's WebSocket connection(s).
    SocketMode,
}

impl From<&Url> for Transport {
    fn from(url: &Url) -> Self {
        Transport::Http(url.clone())
    }
}

impl From<Url> for Transport {
    fn from(url: Url) -> Self {
        Transport::Http(url)
    }
}

/// The bot's answer: the HTTP status and body, or for Socket Mode 200 and the ack's
/// `payload` as JSON text ("" for a bare ack).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotReply {
    pub status: u16,
    pub body: String,
}

impl BotReply {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A signed request exactly as it went over the wire ([`FakeSlack::last_signed_request`]).
#[derive(Clone, Debug)]
pub struct CapturedRequest {
    url: Url,
    body: Vec<u8>,
    content_type: String,
    timestamp: String,
    signature: Option<String>,
}

/// What to deliver, before the transport decides its shape.
pub(super) enum Outgoing<'a> {
    Interactive(&'a Value),
    Command(&'a [(String, String)]),
    Event {
        callback: &'a Value,
        retry: Option<(u32, &'a str)>,
    },
}

pub(super) fn endpoint(bot: &Url, path: &str) -> Url {
    let path = path.trim_start_matches('/');
    Url::parse(&format!("{}/{path}", bot.as_str().trim_end_matches('/')))
        .expect("a base URL with a path appended is a URL")
}

fn form(fields: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

impl FakeSlack {
    /// Changes the next payload this fake delivers (click, submission, command or event)
    /// with `change` before it is signed and sent: a forged request from someone who holds
    /// the signing secret, or another workspace's or app's genuine payload. A slash
    /// command's fields are given as a JSON object of strings.
    pub fn tamper_next(&self, change: impl FnOnce(&mut Value) + Send + 'static) {
        *self.shared.tamper.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(change));
    }

    pub(super) async fn deliver(
        &self,
        to: Transport,
        kind: &str,
        outgoing: Outgoing<'_>,
    ) -> Result<BotReply, InteractionError> {
        let tamper = self
            .shared
            .tamper
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(change) = tamper else {
            return self.deliver_exact(to, kind, outgoing).await;
        };
        match outgoing {
            Outgoing::Interactive(payload) => {
                let mut payload = payload.clone();
                change(&mut payload);
                self.deliver_exact(to, kind, Outgoing::Interactive(&payload))
                    .await
            }
            Outgoing::Command(fields) => {
                let mut object: Value = fields
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect::<Map<String, Value>>()
                    .into();
                change(&mut object);
                let fields: Vec<(String, String)> = object
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| {
                        let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                        (k.clone(), text)
                    })
                    .collect();
                self.deliver_exact(to, kind, Outgoing::Command(&fields))
                    .await
            }
            Outgoing::Event { callback, retry } => {
                let mut callback = callback.clone();
                change(&mut callback);
                self.deliver_exact(
                    to,
                    kind,
                    Outgoing::Event {
                        callback: &callback,
                        retry,
                    },
                )
                .await
            }
        }
    }

    async fn deliver_exact(
        &self,
        to: Transport,
        kind: &str,
        outgoing: Outgoing<'_>,
    ) -> Result<BotReply, InteractionError> {
        match to {
            Transport::Http(bot) => {
                let (path, body, content_type, retry) = match outgoing {
                    Outgoing::Interactive(payload) => (
                        "slack/interactivity",
                        form(&[("payload".to_string(), payload.to_string())]),
                        FORM,
                        None,
                    ),
                    Outgoing::Command(fields) => ("slack/commands", form(fields), FORM, None),
                    Outgoing::Event { callback, retry } => {
                        ("slack/events", callback.to_string(), JSON, retry)
                    }
                };
                let options = SigningOptions {
                    retry: retry.map(|(attempt, reason)| (attempt, reason.to_string())),
                    ..SigningOptions::valid()
                };
                self.post_signed(
                    kind,
                    &endpoint(&bot, path),
                    body.into_bytes(),
                    content_type,
                    &options,
                )
                .await
            }
            Transport::SocketMode => {
                let (envelope_kind, payload, retry) = match outgoing {
                    Outgoing::Interactive(payload) => {
                        (EnvelopeKind::Interactive, payload.clone(), None)
                    }
                    Outgoing::Command(fields) => {
                        let object: Map<String, Value> =
                            fields.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                        (EnvelopeKind::SlashCommands, Value::Object(object), None)
                    }
                    Outgoing::Event { callback, retry } => {
                        (EnvelopeKind::EventsApi, callback.clone(), retry)
                    }
                };
                let mut envelope = self.envelope(envelope_kind, payload);
                if let Some((attempt, reason)) = retry {
                    envelope = envelope.retried(attempt, reason);
                }
                let request = envelope.to_json().to_string();
                let result = self.send_and_await_ack(envelope, DELIVERY_TIMEOUT).await;
                let reply = result.as_ref().ok().map(|ack| BotReply {
                    status: 200,
                    body: ack
                        .payload
                        .as_ref()
                        .map(Value::to_string)
                        .unwrap_or_default(),
                });
                self.record_delivery(kind, "socket_mode", request, reply.as_ref());
                result?;
                Ok(reply.expect("a reply exists when the ack arrived"))
            }
        }
    }

    pub(super) async fn post_signed(
        &self,
        kind: &str,
        url: &Url,
        body: Vec<u8>,
        content_type: &str,
        options: &SigningOptions,
    ) -> Result<BotReply, InteractionError> {
        let timestamp = self.shared.now().timestamp() + options.timestamp_offset_secs;
        let signature = match &options.signature {
            SignatureMode::Valid => Some(signing::signature(SIGNING_SECRET, timestamp, &body)),
            SignatureMode::WrongSecret => Some(signing::signature(FORGER_SECRET, timestamp, &body)),
            SignatureMode::OtherBody(other) => {
                Some(signing::signature(SIGNING_SECRET, timestamp, other))
            }
            SignatureMode::Missing => None,
        };
        let mut request = self
            .shared
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(reqwest::header::USER_AGENT, SLACK_USER_AGENT)
            .header(signing::TIMESTAMP_HEADER, timestamp.to_string());
        if let Some(signature) = &signature {
            request = request.header(signing::SIGNATURE_HEADER, signature);
        }
        if let Some((attempt, reason)) = &options.retry {
            request = request
                .header("X-Slack-Retry-Num", attempt.to_string())
                .header("X-Slack-Retry-Reason", reason.as_str());
        }
        let sent = String::from_utf8_lossy(&body).into_owned();
        *self
            .shared
            .last_signed
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(CapturedRequest {
            url: url.clone(),
            body: body.clone(),
            content_type: content_type.to_owned(),
            timestamp: timestamp.to_string(),
            signature: signature.clone(),
        });
        self.send_signed(kind, request.body(body), sent).await
    }

    /// The last signed HTTP request sent to the bot, as someone on the path captures it.
    pub fn last_signed_request(&self) -> Option<CapturedRequest> {
        self.shared
            .last_signed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends a captured request again, byte for byte with the same signature and timestamp
    /// (a replay), now.
    pub async fn replay(&self, captured: &CapturedRequest) -> Result<BotReply, InteractionError> {
        let captured = captured.clone();
        let mut request = self
            .shared
            .http
            .post(captured.url.clone())
            .header(reqwest::header::CONTENT_TYPE, &captured.content_type)
            .header(reqwest::header::USER_AGENT, SLACK_USER_AGENT)
            .header(signing::TIMESTAMP_HEADER, &captured.timestamp);
        if let Some(signature) = &captured.signature {
            request = request.header(signing::SIGNATURE_HEADER, signature);
        }
        let sent = String::from_utf8_lossy(&captured.body).into_owned();
        self.send_signed("replay", request.body(captured.body), sent)
            .await
    }

    async fn send_signed(
        &self,
        kind: &str,
        request: reqwest::RequestBuilder,
        sent: String,
    ) -> Result<BotReply, InteractionError> {
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                response.text().await.map(|body| BotReply { status, body })
            }
            Err(error) => Err(error),
        };
        match outcome {
            Ok(reply) => {
                self.record_delivery(kind, "http", sent, Some(&reply));
                Ok(reply)
            }
            Err(error) => {
                self.record_delivery(kind, "http", sent, None);
                if error.is_timeout() {
                    Err(InteractionError::NoResponse(DELIVERY_TIMEOUT))
                } else {
                    Err(InteractionError::Http(error.to_string()))
                }
            }
        }
    }

    fn record_delivery(
        &self,
        kind: &str,
        transport: &'static str,
        request: String,
        reply: Option<&BotReply>,
    ) {
        let at = self.shared.now();
        self.shared.workspace().deliveries.push(RecordedDelivery {
            kind: kind.to_string(),
            transport,
            request,
            status: reply.map(|r| r.status),
            reply: reply.map(|r| r.body.clone()).unwrap_or_default(),
            at,
        });
        self.shared.touch();
    }
}
