//! Socket Mode: the WebSocket end of `apps.connections.open`.
//!
//! A client connects to the URL `apps.connections.open` returned (each ticket once), gets
//! `hello`, then receives envelopes `{"envelope_id","type","payload",
//! "accepts_response_payload","retry_attempt","retry_reason"}` and answers each with
//! `{"envelope_id", "payload"?}`. Like Slack, the fake spreads envelopes over the app's
//! live connections (slack-morphism opens two by default) and can ask clients to
//! reconnect (`disconnect` / `refresh_requested`).

use super::DELIVERY_TIMEOUT;
use super::identity::APP_ID;
use super::{FakeSlack, Shared};
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// Host name reported in `debug_info` (Slack reports the applink host serving the socket).
const DEBUG_HOST: &str = "applink-sandbox";
/// Seconds until Slack would refresh the connection, reported in `hello`'s `debug_info`
/// (Slack's connections last a few hours; the fake never refreshes by itself).
const APPROXIMATE_CONNECTION_TIME_SECS: u64 = 18_060;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/link/", get(handle_upgrade))
        .with_state(shared)
}

/// What an envelope carries, by Socket Mode's `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvelopeKind {
    /// Interactivity payloads (`block_actions`, `view_submission`, …).
    Interactive,
    /// A slash command, its form fields as a JSON object.
    SlashCommands,
    /// An Events API `event_callback`.
    EventsApi,
}

impl EnvelopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvelopeKind::Interactive => "interactive",
            EnvelopeKind::SlashCommands => "slash_commands",
            EnvelopeKind::EventsApi => "events_api",
        }
    }
}

/// One Socket Mode envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub envelope_id: String,
    pub kind: EnvelopeKind,
    pub payload: Value,
    /// Whether the ack may carry a response (`response_action`, a command reply): true for
    /// interactivity and slash commands, false for events, as Slack sends them.
    pub accepts_response_payload: bool,
    pub retry_attempt: u32,
    pub retry_reason: String,
}

impl Envelope {
    /// The frame as sent on the wire.
    pub fn to_json(&self) -> Value {
        json!({
            "envelope_id": self.envelope_id,
            "type": self.kind.as_str(),
            "payload": self.payload,
            "accepts_response_payload": self.accepts_response_payload,
            "retry_attempt": self.retry_attempt,
            "retry_reason": self.retry_reason,
        })
    }

    /// The same envelope redelivered (`retry_attempt` counts redeliveries; the id stays).
    pub fn retried(mut self, attempt: u32, reason: &str) -> Self {
        self.retry_attempt = attempt;
        self.retry_reason = reason.to_string();
        self
    }
}

/// An acknowledgement from the app.
#[derive(Clone, Debug, PartialEq)]
pub struct Ack {
    pub envelope_id: String,
    pub payload: Option<Value>,
    /// Which connection it came on (connections are numbered from 1 in opening order).
    pub connection: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SocketModeError {
    #[error("no Socket Mode connection was open within {0:?}")]
    NoConnection(Duration),
    #[error("envelope {envelope_id} was not acknowledged within {waited:?}")]
    NoAck {
        envelope_id: String,
        waited: Duration,
    },
}

/// The connections, the envelopes in flight and what came back.
pub(super) struct Hub {
    state: Mutex<HubState>,
    /// Number of live connections that take new envelopes.
    live: watch::Sender<usize>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            state: Mutex::new(HubState::default()),
            live: watch::channel(0).0,
        }
    }
}

#[derive(Default)]
struct HubState {
    next_connection: u64,
    connections: BTreeMap<u64, Connection>,
    /// Round-robin position over live connections.
    turn: usize,
    pending: HashMap<String, oneshot::Sender<Ack>>,
    sent: Vec<Envelope>,
    acks: Vec<Ack>,
    /// Every text frame the clients sent, verbatim.
    frames: Vec<String>,
}

struct Connection {
    outbox: mpsc::UnboundedSender<Message>,
    /// Told to reconnect (`disconnect`): gets no new envelopes.
    draining: bool,
    /// Set by [`FakeSlack::silence_socket_connection`]: the connection stays open but the
    /// fake neither reads nor writes on it again (no pongs, no envelopes, no close).
    silence: watch::Sender<bool>,
}

impl Hub {
    fn state(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish_live(&self, state: &HubState) {
        let live = state.connections.values().filter(|c| !c.draining).count();
        self.live.send_replace(live);
    }

    /// Registers a new connection; returns its number, the live count including it, and
    /// the signal that silences it.
    fn register(
        &self,
        outbox: mpsc::UnboundedSender<Message>,
    ) -> (u64, usize, watch::Receiver<bool>) {
        let mut state = self.state();
        state.next_connection += 1;
        let id = state.next_connection;
        let (silence, silenced) = watch::channel(false);
        state.connections.insert(
            id,
            Connection {
                outbox,
                draining: false,
                silence,
            },
        );
        self.publish_live(&state);
        (id, *self.live.borrow(), silenced)
    }

    /// Silences the oldest live connection; returns its number.
    fn silence_oldest(&self) -> Option<u64> {
        let mut state = self.state();
        let (id, connection) = state.connections.iter_mut().find(|(_, c)| !c.draining)?;
        connection.draining = true;
        connection.silence.send_replace(true);
        let id = *id;
        self.publish_live(&state);
        Some(id)
    }

    fn unregister(&self, id: u64) {
        let mut state = self.state();
        state.connections.remove(&id);
        self.publish_live(&state);
    }

    fn on_frame(&self, connection: u64, text: &str) {
        let mut state = self.state();
        state.frames.push(text.to_string());
        let Ok(frame) = serde_json::from_str::<Value>(text) else {
            return;
        };
        let Some(envelope_id) = frame["envelope_id"].as_str() else {
            return;
        };
        let ack = Ack {
            envelope_id: envelope_id.to_string(),
            payload: frame.get("payload").filter(|p| !p.is_null()).cloned(),
            connection,
        };
        state.acks.push(ack.clone());
        if let Some(waiter) = state.pending.remove(envelope_id) {
            let _ = waiter.send(ack);
        }
    }

    /// Sends on the next live connection in turn; `false` when there is none.
    fn dispatch(&self, envelope: &Envelope, waiter: oneshot::Sender<Ack>) -> bool {
        let mut state = self.state();
        let live: Vec<u64> = state
            .connections
            .iter()
            .filter(|(_, c)| !c.draining)
            .map(|(id, _)| *id)
            .collect();
        if live.is_empty() {
            return false;
        }
        let id = live[state.turn % live.len()];
        state.turn = state.turn.wrapping_add(1);
        let frame = Message::text(envelope.to_json().to_string());
        if state.connections[&id].outbox.send(frame).is_err() {
            // Its task has ended and will unregister it; stop offering it meanwhile.
            state.connections.remove(&id);
            self.publish_live(&state);
            return false;
        }
        state.sent.push(envelope.clone());
        state.pending.insert(envelope.envelope_id.clone(), waiter);
        true
    }

    pub(super) fn received_frames(&self) -> Vec<String> {
        self.state().frames.clone()
    }

    fn broadcast(&self, message: &Message, drain: bool) -> usize {
        let mut state = self.state();
        let mut reached = 0;
        for connection in state.connections.values_mut().filter(|c| !c.draining) {
            if connection.outbox.send(message.clone()).is_ok() {
                reached += 1;
            }
            connection.draining |= drain;
        }
        self.publish_live(&state);
        reached
    }
}

/// Accepts the WebSocket upgrade for a valid, unused ticket.
async fn handle_upgrade(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    mut request: Request,
) -> Response {
    let headers = request.headers();
    let is_upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(key) = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|_| is_upgrade)
    else {
        return (StatusCode::BAD_REQUEST, "expected a WebSocket upgrade").into_response();
    };
    let ticket = query.get("ticket").map(String::as_str).unwrap_or_default();
    if !shared.workspace().redeem_socket_ticket(ticket) {
        return (StatusCode::UNAUTHORIZED, "invalid or used ticket").into_response();
    }
    let accept = derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            let socket =
                WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
            serve_connection(shared, socket).await;
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "Upgrade")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(Body::empty())
        .expect("static headers make a valid response")
}

async fn serve_connection<S>(shared: Arc<Shared>, socket: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (outbox, mut queue) = mpsc::unbounded_channel();
    let (id, live, mut silenced) = shared.sockets.register(outbox);
    shared.touch();
    let (mut sink, mut stream) = socket.split();
    let hello = json!({
        "type": "hello",
        "num_connections": live,
        "debug_info": {
            "host": DEBUG_HOST,
            "build_number": 1,
            "approximate_connection_time": APPROXIMATE_CONNECTION_TIME_SECS,
        },
        "connection_info": { "app_id": APP_ID },
    });
    let mut shutdown = shared.shutdown.clone();
    if sink.send(Message::text(hello.to_string())).await.is_ok() {
        loop {
            tokio::select! {
                outgoing = queue.recv() => {
                    let Some(message) = outgoing else { break };
                    let closing = message.is_close();
                    if sink.send(message).await.is_err() || closing {
                        break;
                    }
                }
                incoming = stream.next() => match incoming {
                    Some(Ok(Message::Text(text))) => {
                        shared.sockets.on_frame(id, text.as_str());
                        shared.touch();
                    }
                    // tungstenite answers pings itself; other frames carry nothing for us.
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
                () = stopped(&mut shutdown) => break,
                () = async { let _ = silenced.wait_for(|silent| *silent).await; } => {
                    // A half-open socket: hold it without reading (so no pongs) or writing
                    // until the fake stops; whatever the client sends is never seen.
                    stopped(&mut shutdown).await;
                    break;
                }
            }
        }
    }
    shared.sockets.unregister(id);
    shared.touch();
}

/// Resolves once the fake shuts down.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopped| *stopped).await;
}

impl FakeSlack {
    /// Live Socket Mode connections that take envelopes (not those told to reconnect).
    pub fn socket_connections(&self) -> usize {
        *self.shared.sockets.live.borrow()
    }

    /// Waits until at least `count` connections are live, or `deadline` passes.
    pub async fn wait_for_socket_connections(
        &self,
        count: usize,
        deadline: Duration,
    ) -> Result<(), SocketModeError> {
        let mut live = self.shared.sockets.live.subscribe();
        match tokio::time::timeout(deadline, live.wait_for(|n| *n >= count)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(SocketModeError::NoConnection(deadline)),
        }
    }

    /// A new envelope with a fresh id, as Slack would send it (first attempt).
    pub fn envelope(&self, kind: EnvelopeKind, payload: Value) -> Envelope {
        Envelope {
            envelope_id: self.shared.workspace().new_uuid(),
            kind,
            payload,
            accepts_response_payload: kind != EnvelopeKind::EventsApi,
            retry_attempt: 0,
            retry_reason: String::new(),
        }
    }

    /// Sends `envelope` on a live connection (waiting for one if none is open yet) and
    /// waits for its ack; both within `deadline`. Slack would redeliver an envelope left
    /// unacknowledged; here the test decides, by sending [`Envelope::retried`].
    pub async fn send_and_await_ack(
        &self,
        envelope: Envelope,
        deadline: Duration,
    ) -> Result<Ack, SocketModeError> {
        let hub = &self.shared.sockets;
        let until = Instant::now() + deadline;
        let mut live = hub.live.subscribe();
        let waiter = loop {
            if tokio::time::timeout_at(until, live.wait_for(|n| *n > 0))
                .await
                .is_err()
            {
                return Err(SocketModeError::NoConnection(deadline));
            }
            let (waiter_tx, waiter_rx) = oneshot::channel();
            if hub.dispatch(&envelope, waiter_tx) {
                break waiter_rx;
            }
            // The connection went away between the check and the send: wait for another.
        };
        match tokio::time::timeout_at(until, waiter).await {
            Ok(Ok(ack)) => Ok(ack),
            _ => {
                hub.state().pending.remove(&envelope.envelope_id);
                Err(SocketModeError::NoAck {
                    envelope_id: envelope.envelope_id,
                    waited: deadline,
                })
            }
        }
    }

    /// Sends an interactivity payload and waits for the ack (Slack's 3 s).
    pub async fn send_interactive(&self, payload: Value) -> Result<Ack, SocketModeError> {
        let envelope = self.envelope(EnvelopeKind::Interactive, payload);
        self.send_and_await_ack(envelope, DELIVERY_TIMEOUT).await
    }

    /// Sends a slash command (its fields as a JSON object) and waits for the ack.
    pub async fn send_slash_command(&self, fields: Value) -> Result<Ack, SocketModeError> {
        let envelope = self.envelope(EnvelopeKind::SlashCommands, fields);
        self.send_and_await_ack(envelope, DELIVERY_TIMEOUT).await
    }

    /// Sends an Events API `event_callback` and waits for the ack.
    pub async fn send_event(&self, event_callback: Value) -> Result<Ack, SocketModeError> {
        let envelope = self.envelope(EnvelopeKind::EventsApi, event_callback);
        self.send_and_await_ack(envelope, DELIVERY_TIMEOUT).await
    }

    /// Every envelope sent, in order.
    pub fn envelopes_sent(&self) -> Vec<Envelope> {
        self.shared.sockets.state().sent.clone()
    }

    /// Every ack received (including late ones and acks of unknown envelopes).
    pub fn acks(&self) -> Vec<Ack> {
        self.shared.sockets.state().acks.clone()
    }

    /// Asks every live connection to reconnect, as Slack does before maintenance:
    /// `{"type":"disconnect","reason":"refresh_requested"}`. Those connections get no new
    /// envelopes; they close when the client closes them. Returns how many were asked.
    pub fn request_socket_refresh(&self) -> usize {
        let frame = json!({
            "type": "disconnect",
            "reason": "refresh_requested",
            "debug_info": { "host": DEBUG_HOST },
        });
        self.shared
            .sockets
            .broadcast(&Message::text(frame.to_string()), true)
    }

    /// The fault of a connection that stops answering without closing (a half-open socket:
    /// a NAT or load balancer dropped it silently): the oldest live connection gets no more
    /// envelopes, answers no pings and never closes. Envelopes go to the other connections,
    /// as Slack redelivers unacknowledged ones elsewhere. Returns its number.
    pub fn silence_socket_connection(&self) -> Option<u64> {
        let silenced = self.shared.sockets.silence_oldest();
        self.shared.touch();
        silenced
    }

    /// Sends `text` as one frame on every live connection, as is: for tests of what the
    /// client does with frames that are not envelopes. Returns how many were reached.
    pub fn send_raw_socket_frame(&self, text: &str) -> usize {
        self.shared
            .sockets
            .broadcast(&Message::text(text.to_owned()), false)
    }

    /// How many Socket Mode connections were ever opened (numbers go 1, 2, …).
    pub fn socket_connections_opened(&self) -> u64 {
        self.shared.sockets.state().next_connection
    }

    /// Closes every live connection with a close frame, as a network drop would end them.
    pub fn close_socket_connections(&self) -> usize {
        self.shared.sockets.broadcast(&Message::Close(None), true)
    }
}
