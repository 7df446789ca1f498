//! The Web API over HTTP: `/api/<method>` and the `response_url` hooks.
//!
//! Requests are read the way Slack reads them: JSON bodies (token only in the
//! `Authorization` header), form bodies or query strings (token in the header or a `token`
//! field); JSON-valued arguments (`blocks`, `view`) may be objects or JSON-encoded strings.
//! Every answer is HTTP 200 `{"ok":true,…}` / `{"ok":false,"error":…}`, except the injected
//! rate limit (HTTP 429 with `Retry-After`).

use super::Shared;
use super::identity::{
    APP_ID, APP_TOKEN, BOT_ID, BOT_NAME, BOT_TOKEN, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, TEAM_NAME,
};
use super::model::{ApiError, RecordedCall, SlackFault};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The method that takes the app-level token, and only from the `Authorization` header.
const APP_TOKEN_METHOD: &str = "apps.connections.open";

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/{method}", any(handle_method))
        .route(
            "/hooks/{kind}/{team}/{seq}/{secret}",
            post(handle_response_url),
        )
        .with_state(shared)
}

/// Which credential a request carried.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Bot,
    App,
}

/// A parsed request: parameters, whether they came as JSON, and warnings Slack would add.
struct Params {
    values: Map<String, Value>,
    is_json: bool,
    warnings: Vec<&'static str>,
}

async fn handle_method(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    http_method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = shared.now();
    let raw = raw_request(&uri, &body);
    let parsed = parse_params(&http_method, &uri, &headers, &body);
    let recorded_params = parsed
        .as_ref()
        .map(|p| Value::Object(p.values.clone()))
        .unwrap_or(Value::Null);
    let record = |response: &Value| RecordedCall {
        method: method.clone(),
        http_method: http_method.to_string(),
        params: recorded_params.clone(),
        raw: raw.clone(),
        response: response.clone(),
        at: now,
    };

    let fault = shared.workspace().take_fault(&method);
    let slow = match &fault {
        Some(SlackFault::Slow(after)) => Some(*after),
        _ => None,
    };
    match fault {
        Some(SlackFault::Hang) => {
            shared.record_call(record(&Value::Null));
            let mut shutdown = shared.shutdown.clone();
            let _ = shutdown.wait_for(|stopped| *stopped).await;
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        Some(SlackFault::RateLimited { retry_after_secs }) => {
            let body = json!({"ok": false, "error": "ratelimited"});
            shared.record_call(record(&body));
            let mut response = json_response(StatusCode::TOO_MANY_REQUESTS, &body);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return response;
        }
        Some(SlackFault::Error(error)) => {
            let body = json!({"ok": false, "error": error});
            shared.record_call(record(&body));
            return json_response(StatusCode::OK, &body);
        }
        Some(SlackFault::Slow(_)) | None => {}
    }

    let result = parsed.and_then(|params| {
        let kind = authenticate(&method, &headers, &params)?;
        let expected = if method == APP_TOKEN_METHOD {
            TokenKind::App
        } else {
            TokenKind::Bot
        };
        if kind != expected {
            return Err(ApiError::new("not_allowed_token_type"));
        }
        let fields = dispatch(&shared, &method, &params)?;
        Ok((fields, params.warnings))
    });
    let body = match result {
        Ok((fields, warnings)) => {
            let mut body = Map::new();
            body.insert("ok".into(), json!(true));
            body.extend(fields);
            if !warnings.is_empty() {
                body.insert("warning".into(), json!(warnings.join(",")));
                body.insert("response_metadata".into(), json!({ "warnings": warnings }));
            }
            Value::Object(body)
        }
        Err(error) => error_body(&error),
    };
    shared.record_call(record(&body));
    if let Some(after) = slow {
        tokio::time::sleep(after).await;
    }
    let mut response = json_response(StatusCode::OK, &body);
    if method != APP_TOKEN_METHOD {
        // Slack lists the token's scopes on every answer.
        let scopes = shared.workspace().scopes.as_ref().map_or_else(
            || ALL_BOT_SCOPES.join(","),
            |s| s.iter().cloned().collect::<Vec<_>>().join(","),
        );
        if let Ok(value) = HeaderValue::from_str(&scopes) {
            response.headers_mut().insert("x-oauth-scopes", value);
        }
    }
    response
}

/// The scopes a token has when the test granted no particular set ("every scope").
const ALL_BOT_SCOPES: [&str; 8] = [
    "channels:read",
    "chat:write",
    "commands",
    "groups:read",
    "im:write",
    "usergroups:read",
    "users:read",
    "team:read",
];

fn error_body(error: &ApiError) -> Value {
    let mut body = json!({"ok": false, "error": error.error});
    if !error.messages.is_empty() {
        body["response_metadata"] = json!({ "messages": error.messages });
    }
    body
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// Query string, then body: every byte of the request the bot chose (headers aside).
fn raw_request(uri: &Uri, body: &[u8]) -> String {
    let mut raw = uri.query().unwrap_or_default().to_string();
    if !raw.is_empty() && !body.is_empty() {
        raw.push('\n');
    }
    raw.push_str(&String::from_utf8_lossy(body));
    raw
}

fn parse_params(
    http_method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Params, ApiError> {
    let mut params = Params {
        values: Map::new(),
        is_json: false,
        warnings: Vec::new(),
    };
    if let Some(query) = uri.query() {
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            params.values.insert(key.into_owned(), json!(value));
        }
    }
    if *http_method != Method::POST || body.is_empty() {
        return Ok(params);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
            return Err(ApiError::new("invalid_json"));
        };
        if !content_type.contains("charset") {
            params.warnings.push("missing_charset");
        }
        params.is_json = true;
        params.values.extend(object);
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        for (key, value) in url::form_urlencoded::parse(body) {
            params.values.insert(key.into_owned(), json!(value));
        }
    } else {
        return Err(ApiError::new("invalid_post_type"));
    }
    Ok(params)
}

fn authenticate(method: &str, headers: &HeaderMap, params: &Params) -> Result<TokenKind, ApiError> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    // JSON bodies cannot carry the token, and the app-level token is only read from the header.
    let from_params = (!params.is_json && method != APP_TOKEN_METHOD)
        .then(|| params.values.get("token").and_then(Value::as_str))
        .flatten();
    match from_header.or(from_params) {
        None | Some("") => Err(ApiError::new("not_authed")),
        Some(BOT_TOKEN) => Ok(TokenKind::Bot),
        Some(APP_TOKEN) => Ok(TokenKind::App),
        Some(_) => Err(ApiError::new("invalid_auth")),
    }
}

/// A string argument (form values are strings already; JSON numbers and booleans are
/// accepted as Slack accepts them).
fn string(params: &Params, key: &str) -> Option<String> {
    match params.values.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A JSON argument given as an object/array or as a JSON-encoded string.
fn json_arg(params: &Params, key: &str, invalid: &str) -> Result<Option<Value>, ApiError> {
    match params.values.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(encoded)) if encoded.is_empty() => Ok(None),
        Some(Value::String(encoded)) => serde_json::from_str(encoded)
            .map(Some)
            .map_err(|_| ApiError::new(invalid)),
        Some(value) => Ok(Some(value.clone())),
    }
}

fn required(value: Option<String>, error: &str) -> Result<String, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::new(error))
}

/// The bot scopes a method needs (any one of them), as Slack's method docs list them.
fn required_scope(method: &str, params: &Params) -> Option<&'static [&'static str]> {
    let private = string(params, "channel").is_some_and(|c| c.starts_with('G'));
    Some(match method {
        "chat.postMessage" | "chat.update" | "chat.postEphemeral" => &["chat:write"],
        "usergroups.users.list" => &["usergroups:read"],
        "bots.info" => &["users:read"],
        "conversations.info" if private => &["groups:read"],
        "conversations.info" => &["channels:read"],
        _ => return None,
    })
}

fn dispatch(
    shared: &Shared,
    method: &str,
    params: &Params,
) -> Result<Map<String, Value>, ApiError> {
    let now = shared.now();
    let mut ws = shared.workspace();
    if let (Some(granted), Some(needed)) = (&ws.scopes, required_scope(method, params)) {
        if !needed.iter().any(|scope| granted.contains(*scope)) {
            return Err(ApiError::new("missing_scope"));
        }
    }
    let fields = match method {
        "auth.test" => json!({
            "url": format!("https://{TEAM_DOMAIN}.slack.com/"),
            "team": TEAM_NAME,
            "user": BOT_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": false,
        }),
        "bots.info" => {
            let bot = required(string(params, "bot"), "bot_not_found")?;
            if bot != BOT_ID {
                return Err(ApiError::new("bot_not_found"));
            }
            json!({
                "bot": {
                    "id": BOT_ID,
                    "deleted": false,
                    "name": BOT_NAME,
                    "updated": now.timestamp(),
                    "app_id": APP_ID,
                    "user_id": BOT_USER_ID,
                }
            })
        }
        "chat.postMessage" => {
            let channel = required(string(params, "channel"), "channel_not_found")?;
            let blocks = json_arg(params, "blocks", "invalid_blocks_format")?;
            let message = ws.post_message(
                now,
                &channel,
                string(params, "text"),
                blocks,
                string(params, "thread_ts").filter(|t| !t.is_empty()),
            )?;
            json!({
                "channel": message.channel,
                "ts": message.ts,
                "message": ws.message_json(&message),
            })
        }
        "chat.update" => {
            let channel = required(string(params, "channel"), "channel_not_found")?;
            let ts = required(string(params, "ts"), "message_not_found")?;
            let blocks = json_arg(params, "blocks", "invalid_blocks_format")?;
            let message = ws.update_message(now, &channel, &ts, string(params, "text"), blocks)?;
            let mut shown = ws.message_json(&message);
            if let Some(object) = shown.as_object_mut() {
                object.remove("ts");
            }
            json!({
                "channel": message.channel,
                "ts": message.ts,
                "text": message.text,
                "message": shown,
            })
        }
        "chat.getPermalink" => {
            let channel = required(string(params, "channel"), "channel_not_found")?;
            let ts = required(string(params, "message_ts"), "message_not_found")?;
            let permalink = ws.permalink(&channel, &ts)?;
            json!({ "channel": channel, "permalink": permalink })
        }
        "chat.postEphemeral" => {
            let channel = required(string(params, "channel"), "channel_not_found")?;
            let user = required(string(params, "user"), "user_not_in_channel")?;
            let blocks = json_arg(params, "blocks", "invalid_blocks_format")?;
            let ephemeral = ws.post_ephemeral(
                now,
                &channel,
                &user,
                string(params, "text"),
                blocks,
                string(params, "thread_ts").filter(|t| !t.is_empty()),
            )?;
            json!({ "message_ts": ephemeral.message_ts })
        }
        "views.open" | "views.push" => {
            let view = json_arg(params, "view", "invalid_arguments")?
                .ok_or_else(|| ApiError::new("invalid_arguments"))?;
            let trigger =
                string(params, "trigger_id").or_else(|| string(params, "interactivity_pointer"));
            let trigger = required(trigger, "invalid_trigger_id")?;
            let stored = ws.open_view(now, &trigger, view, method == "views.push")?;
            json!({ "view": stored.view })
        }
        "views.update" => {
            let view = json_arg(params, "view", "invalid_arguments")?
                .ok_or_else(|| ApiError::new("invalid_arguments"))?;
            let view_id = string(params, "view_id").filter(|v| !v.is_empty());
            let external_id = string(params, "external_id").filter(|v| !v.is_empty());
            if view_id.is_none() && external_id.is_none() {
                return Err(ApiError::new("invalid_arguments"));
            }
            let stored = ws.update_view(
                now,
                view_id.as_deref(),
                external_id.as_deref(),
                string(params, "hash").filter(|h| !h.is_empty()).as_deref(),
                view,
            )?;
            json!({ "view": stored.view })
        }
        "views.publish" => {
            let user = required(string(params, "user_id"), "invalid_arguments")?;
            let view = json_arg(params, "view", "invalid_arguments")?
                .ok_or_else(|| ApiError::new("invalid_arguments"))?;
            let hash = string(params, "hash").filter(|h| !h.is_empty());
            let stored = ws.publish_home(now, &user, hash.as_deref(), view)?;
            json!({ "view": stored.view })
        }
        "usergroups.users.list" => {
            let group = required(string(params, "usergroup"), "no_such_subteam")?;
            json!({ "users": ws.usergroup_members(&group)? })
        }
        "conversations.info" => {
            let channel = required(string(params, "channel"), "channel_not_found")?;
            json!({ "channel": ws.channel_info(&channel)? })
        }
        "apps.connections.open" => {
            let ticket = ws.issue_socket_ticket();
            let mut url = shared.base_url.clone();
            url.set_scheme("ws")
                .expect("http and ws are both special schemes");
            url.set_path("/link/");
            url.query_pairs_mut()
                .append_pair("ticket", &ticket)
                .append_pair("app_id", APP_ID);
            json!({ "url": url.as_str() })
        }
        _ => return Err(ApiError::new("unknown_method")),
    };
    match fields {
        Value::Object(map) => Ok(map),
        _ => Ok(Map::new()),
    }
}

/// A post to a `response_url`: recorded like a Web API call (method `response_url`), then
/// applied to the model. Slack answers these with short text bodies.
async fn handle_response_url(
    State(shared): State<Arc<Shared>>,
    Path((kind, team, seq, secret)): Path<(String, String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = shared.now();
    let parsed = parse_params(&Method::POST, &uri, &headers, &body);
    let params = parsed
        .as_ref()
        .map(|p| Value::Object(p.values.clone()))
        .unwrap_or(Value::Null);
    let key = format!("{team}/{seq}/{secret}");
    let outcome = {
        let mut ws = shared.workspace();
        match (kind.as_str(), ws.use_response_url(now, &key)) {
            ("actions" | "commands", Ok(target)) => match &parsed {
                Ok(parsed) if parsed.is_json => ws
                    .respond(now, &target, &params)
                    .map_err(|e| (StatusCode::BAD_REQUEST, e.error)),
                _ => Err((StatusCode::BAD_REQUEST, "invalid_payload".to_string())),
            },
            (_, Err(text)) => Err((StatusCode::NOT_FOUND, text.to_string())),
            _ => Err((StatusCode::NOT_FOUND, "no_active_hooks".to_string())),
        }
    };
    let (status, text) = match outcome {
        Ok(()) => (StatusCode::OK, "ok".to_string()),
        Err(failure) => failure,
    };
    shared.record_call(RecordedCall {
        method: "response_url".into(),
        http_method: "POST".into(),
        params,
        raw: raw_request(&uri, &body),
        response: json!(text),
        at: now,
    });
    (status, [(header::CONTENT_TYPE, "text/html")], text).into_response()
}
