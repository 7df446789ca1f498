//! `GET/POST /intake/{code}` and `GET /intake/{code}/progress` on the bot's HTTP server.
//!
//! Every answer carries the hardening headers ([`harden`]). Refusals are plain pages that
//! say what happened and what to do, with 404 (unknown), 410 (expired, used, superseded,
//! rotation moved on), 403 (CSRF or origin mismatch), 429 (too many unknown codes) or 400
//! (a malformed body, a token in the URL); none of them changes any state. Nothing here logs
//! a body or a code: links are named by [`super::links::Link::label`].

use super::links::{Dead, random_value};
use super::page::{self, FormErrors, FormPage};
use super::{Intake, limiter};
use crate::engine::CommandOutcome;
use crate::rotation::{Actor, Rotation, SubmissionProblem, TOKEN_LIFETIME_DAYS, check_submission};
use crate::secret::ScimToken;
use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{Duration, NaiveDate};
use secrecy::{ExposeSecret, SecretString};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// Largest form body: a token is at most 3000 characters (percent-encoding may triple
/// that), plus the CSRF value, an id and a date.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The cookie that lets the page of a used link follow the checks.
const WATCH_COOKIE: &str = "intake_watch";

/// How long after a submission its page may follow the checks: they take seconds, or a
/// minute with retries; an hour covers a lead who comes back to the tab.
const WATCH_FOR: Duration = Duration::hours(1);

/// What every page tells a lead who needs another link.
const ASK_AGAIN: &str =
    "Ask for a new link with \u{201c}Enter new token\u{201d} in the rotation's Slack thread.";

pub fn routes(intake: Arc<Intake>) -> Router {
    Router::new()
        .route("/intake/{code}", get(show).post(submit))
        .route("/intake/{code}/progress", get(progress))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(intake)
}

type Client = Option<Extension<ConnectInfo<SocketAddr>>>;

fn address(client: &Client) -> IpAddr {
    client
        .as_ref()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.0.ip())
}

/// The headers every answer gets. `nonce` allows the page's own inline style and script.
fn harden(intake: &Intake, nonce: Option<&str>, mut response: Response) -> Response {
    let csp = match nonce {
        Some(nonce) => format!(
            "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
        None => "default-src 'none'; frame-ancestors 'none'; base-uri 'none'".to_owned(),
    };
    let headers = response.headers_mut();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_SECURITY_POLICY, &csp);
    set(header::CACHE_CONTROL, "no-store");
    set(header::PRAGMA, "no-cache");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    if intake.https() {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    response
}

fn html(intake: &Intake, status: StatusCode, nonce: &str, body: String) -> Response {
    let response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    harden(intake, Some(nonce), response)
}

fn refusal(
    intake: &Intake,
    status: StatusCode,
    title: &str,
    text: &str,
    what_now: &str,
) -> Response {
    let nonce = random_value();
    let body = page::refusal_page(&nonce, title, text, what_now);
    html(intake, status, &nonce, body)
}

fn too_many(intake: &Intake) -> Response {
    let mut response = refusal(
        intake,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many unknown links",
        "This address asked for too many links that do not exist.",
        "Wait a minute, then open the link from Slack again.",
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(limiter::WINDOW.num_seconds() as u64),
    );
    response
}

/// An unknown code: 404, counted against the address; 429 once the address has presented too
/// many in the window (a known code is never refused for its address: see `limiter`).
fn unknown(intake: &Intake, client: IpAddr) -> Response {
    if intake.limiter().blocked(client, intake.now()) {
        return too_many(intake);
    }
    intake.limiter().record_unknown(client, intake.now());
    intake.audit_refusal("unknown", None, None, "unknown", Some(client));
    refusal(
        intake,
        StatusCode::NOT_FOUND,
        "Unknown link",
        "This link is not known to the bot: it may be mistyped, or the bot restarted since it was issued (links are kept in memory only).",
        ASK_AGAIN,
    )
}

fn unavailable(intake: &Intake, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %error, "web form: cannot read the store");
    refusal(
        intake,
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again in a moment",
        "The bot cannot read its database right now; nothing was sent anywhere.",
        "Reload the page in a moment.",
    )
}

/// The page for a link that cannot be used, after auditing why.
fn dead(
    intake: &Intake,
    dead: &Dead,
    link: &super::links::Link,
    rotation: Option<&Rotation>,
    client: IpAddr,
) -> Response {
    intake.audit_refusal(
        &link.lead,
        rotation,
        Some(&link.label()),
        dead.as_str(),
        Some(client),
    );
    let (title, text) = match dead {
        Dead::Expired => (
            "This link has expired",
            format!(
                "It was valid until {} UTC.",
                link.expires_at.format("%Y-%m-%d %H:%M")
            ),
        ),
        Dead::Used => (
            "This link was already used",
            "A token was already submitted through it; the Slack thread shows how its checks went."
                .to_owned(),
        ),
        Dead::Superseded => (
            "A newer link replaced this one",
            "A newer link was issued for this rotation, so this one no longer works; use the newest link."
                .to_owned(),
        ),
        Dead::RotationMovedOn(state) => (
            "This link no longer applies",
            format!(
                "Rotation #{} is no longer waiting for this token: it is {}.",
                link.rotation,
                state.describe()
            ),
        ),
        Dead::RotationGone => (
            "This link no longer applies",
            format!("Rotation #{} does not exist any more.", link.rotation),
        ),
    };
    let status = match dead {
        Dead::RotationGone => StatusCode::NOT_FOUND,
        _ => StatusCode::GONE,
    };
    refusal(intake, status, title, &text, ASK_AGAIN)
}

fn watch_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == WATCH_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// What the form needs from the connection and the rotation.
struct Shown<'a> {
    rotation: &'a Rotation,
    link_expires: chrono::DateTime<chrono::Utc>,
    token_id: &'a str,
    expires: &'a str,
    errors: &'a FormErrors,
}

fn form(intake: &Intake, code: &str, status: StatusCode, shown: Shown) -> Response {
    let Some(csrf) = intake.links().new_csrf(code) else {
        return unknown(intake, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    };
    let nonce = random_value();
    let rotation = shown.rotation;
    let region = intake
        .engine
        .connection(&rotation.connection)
        .map(|c| c.aws_region.clone())
        .unwrap_or_default();
    let console = crate::slack::render::console_url(&region);
    let today = intake.now().date_naive();
    let body = page::form_page(&FormPage {
        nonce: &nonce,
        csrf: &csrf,
        rotation: rotation.id,
        connection: &rotation.connection,
        aws_region: &region,
        console_url: &console,
        old_token_id: rotation.old_token_id.as_deref(),
        link_expires: shown.link_expires,
        token_id: shown.token_id,
        expires: shown.expires,
        default_expiry: today + Duration::days(TOKEN_LIFETIME_DAYS),
        min_expiry: today + Duration::days(1),
        errors: shown.errors,
    });
    html(intake, status, &nonce, body)
}

/// `GET /intake/{code}`: the form, or (after the submission, with the watch cookie) the
/// checks' progress, or a refusal.
/// A request whose address carries a query string: the form never makes one, and a token
/// there would already sit in browser history and proxy logs. Refused without reading it.
fn query_refused(intake: &Intake, query: Option<&str>) -> Option<Response> {
    query?;
    tracing::warn!("refused a web form request with a query string (not logged)");
    Some(refusal(
        intake,
        StatusCode::BAD_REQUEST,
        "Never put the token in a URL",
        "Addresses end up in browser history, proxies and logs, so the bot ignores this request. Enter the token in the form instead.",
        "Open the link from Slack as it is, and paste the token into the form. If a token was in the address, treat it as exposed: generate a new one.",
    ))
}

async fn show(
    State(intake): State<Arc<Intake>>,
    Path(code): Path<String>,
    RawQuery(query): RawQuery,
    client: Client,
    headers: HeaderMap,
) -> Response {
    let client = address(&client);
    let now = intake.now();
    if let Some(refused) = query_refused(&intake, query.as_deref()) {
        return refused;
    }
    let Some(link) = intake.links().find(&code).cloned() else {
        return unknown(&intake, client);
    };
    let rotation = match intake.rotation(link.rotation) {
        Ok(rotation) => rotation,
        Err(error) => return unavailable(&intake, &error),
    };
    if let Some(watch) = watch_cookie(&headers)
        && intake.links().watched(&code, &watch, now).is_some()
        && let Some(rotation) = &rotation
    {
        let nonce = random_value();
        let body = page::progress_page(
            &nonce,
            &rotation.connection,
            rotation.id,
            &intake.progress(rotation),
        );
        return html(&intake, StatusCode::OK, &nonce, body);
    }
    if let Err(why) = link.usable(rotation.as_ref(), now) {
        return dead(&intake, &why, &link, rotation.as_ref(), client);
    }
    let Some(rotation) = rotation else {
        return dead(&intake, &Dead::RotationGone, &link, None, client);
    };
    form(
        &intake,
        &code,
        StatusCode::OK,
        Shown {
            rotation: &rotation,
            link_expires: link.expires_at,
            token_id: "",
            expires: "",
            errors: &FormErrors::default(),
        },
    )
}

/// The form's fields. The token is a secret from the moment it is read.
#[derive(serde::Deserialize)]
struct Fields {
    #[serde(default)]
    csrf: String,
    token: Option<SecretString>,
    #[serde(default)]
    token_id: String,
    #[serde(default)]
    expires: String,
}

/// Whether the browser says the submission comes from the form's own origin, as far as it
/// says anything: `Sec-Fetch-Site` must be `same-origin` (or `none`: typed by the person), and
/// `Origin` must be `public_url`'s. Browsers send `Origin: null` from a page with
/// `Referrer-Policy: no-referrer`, which this one has, so `null` says nothing. The CSRF value
/// is the check that always applies.
fn same_origin(intake: &Intake, headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .map(|v: &HeaderValue| v.to_str().unwrap_or("?"))
    };
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site"))
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match text(header::ORIGIN) {
        None | Some("null") => true,
        Some(origin) => url::Url::parse(origin)
            .is_ok_and(|origin| origin.origin() == intake.public_url.origin()),
    }
}

/// The body may hold the token: wipe its buffer when nothing else shares it, on every path.
fn wipe(body: Bytes) {
    if let Ok(mut buffer) = body.try_into_mut() {
        zeroize::Zeroize::zeroize(buffer.as_mut());
    }
}

/// `POST /intake/{code}`: a submission.
async fn submit(
    State(intake): State<Arc<Intake>>,
    Path(code): Path<String>,
    RawQuery(query): RawQuery,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client = address(&client);
    let now = intake.now();
    if let Some(refused) = query_refused(&intake, query.as_deref()) {
        wipe(body);
        return refused;
    }
    let parsed = serde_urlencoded::from_bytes::<Fields>(&body);
    wipe(body);
    let Some(link) = intake.links().find(&code).cloned() else {
        return unknown(&intake, client);
    };
    let rotation = match intake.rotation(link.rotation) {
        Ok(rotation) => rotation,
        Err(error) => return unavailable(&intake, &error),
    };
    if let Err(why) = link.usable(rotation.as_ref(), now) {
        return dead(&intake, &why, &link, rotation.as_ref(), client);
    }
    let Some(rotation) = rotation else {
        return dead(&intake, &Dead::RotationGone, &link, None, client);
    };
    let Ok(fields) = parsed else {
        intake.audit_refusal(
            &link.lead,
            Some(&rotation),
            Some(&link.label()),
            "malformed_form",
            Some(client),
        );
        return refusal(
            &intake,
            StatusCode::BAD_REQUEST,
            "This submission could not be read",
            "The form's fields were not in the expected format; nothing was sent anywhere.",
            "Go back, reload the page and submit the form again.",
        );
    };
    if !same_origin(&intake, &headers) || !intake.links().csrf_matches(&code, &fields.csrf) {
        intake.audit_refusal(
            &link.lead,
            Some(&rotation),
            Some(&link.label()),
            "csrf_mismatch",
            Some(client),
        );
        return refusal(
            &intake,
            StatusCode::FORBIDDEN,
            "This form is out of date",
            "The submission did not come from the current page of this link, so the bot ignored it; nothing was sent anywhere.",
            "Reload the page and submit the form again.",
        );
    }

    // The same input rules as the modal; problems are shown next to their field.
    let mut errors = FormErrors::default();
    let token = match fields
        .token
        .as_ref()
        .map(|t| ScimToken::parse(t.expose_secret()))
    {
        Some(Ok(token)) => Some(token),
        Some(Err(reason)) => {
            errors.token = Some(reason.to_string());
            None
        }
        None => {
            errors.token = Some(crate::secret::TokenInputError::Empty.to_string());
            None
        }
    };
    drop(fields.token);
    let token_id = fields.token_id.trim();
    if !crate::rotation::plausible_token_id(token_id) {
        errors.token_id = Some("A token id is one word, as the AWS console shows it.".to_owned());
    }
    let token_id = (!token_id.is_empty()).then(|| token_id.to_owned());
    let default_day = now.date_naive() + Duration::days(TOKEN_LIFETIME_DAYS);
    let expires = match fields.expires.trim() {
        "" => None,
        day => match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
            // The default day means "a year from now", to the minute, as in the modal.
            Ok(day) if day == default_day => None,
            Ok(day) => Some(day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()),
            Err(_) => {
                errors.expires = Some("Enter the date as YYYY-MM-DD.".to_owned());
                None
            }
        },
    };
    if errors.token_id.is_none() && errors.expires.is_none() {
        match check_submission(&rotation, token_id.as_deref(), expires, now) {
            Ok(()) => {}
            Err(problem @ SubmissionProblem::ExpiryNotInFuture) => {
                errors.expires = Some(problem.to_string());
            }
            Err(problem @ SubmissionProblem::OldTokenId) => {
                errors.token_id = Some(problem.to_string());
            }
        }
    }
    let show_again = |errors: &FormErrors, status| {
        form(
            &intake,
            &code,
            status,
            Shown {
                rotation: &rotation,
                link_expires: link.expires_at,
                token_id: token_id.as_deref().unwrap_or(""),
                // A date is 10 characters; anything longer (a misplaced paste) is not echoed.
                expires: Some(fields.expires.trim())
                    .filter(|day| day.len() <= 10)
                    .unwrap_or(""),
                errors,
            },
        )
    };
    let Some(token) = token.filter(|_| errors.is_empty()) else {
        return show_again(&errors, StatusCode::UNPROCESSABLE_ENTITY);
    };

    // One submission per link: claim it, then hand the token to the engine as the modal does.
    let link = match intake.links().begin_submission(&code, Some(&rotation), now) {
        Ok(link) => link,
        Err(Some(why)) => return dead(&intake, &why, &link, Some(&rotation), client),
        Err(None) => return unknown(&intake, client),
    };
    let actor = Actor::user(link.lead.clone(), intake.approvers.is_approver(&link.lead));
    let fingerprint = token.fingerprint().as_str().to_owned();
    let result = intake
        .engine
        .submit_token(rotation.id, token, token_id.clone(), expires, &actor)
        .await;
    match result {
        Ok(CommandOutcome::Changed(_)) => {
            let watch = intake.links().finish_submission(&code, now + WATCH_FOR);
            if let Err(error) = intake.audit(
                &link.lead,
                "intake_link_used",
                Some(&rotation),
                serde_json::json!({ "link": link.label(), "fingerprint": fingerprint, "client": client.to_string() }),
            ) {
                tracing::error!(error = %error, "cannot record a web form submission");
            }
            let path = intake.page_path(&code);
            let secure = if intake.https() { "; Secure" } else { "" };
            let cookie = format!(
                "{WATCH_COOKIE}={}; Path={path}; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
                watch.unwrap_or_default(),
                WATCH_FOR.num_seconds()
            );
            let mut response = (StatusCode::SEE_OTHER, "").into_response();
            let headers = response.headers_mut();
            if let (Ok(location), Ok(cookie)) =
                (HeaderValue::from_str(&path), HeaderValue::from_str(&cookie))
            {
                headers.insert(header::LOCATION, location);
                headers.insert(header::SET_COOKIE, cookie);
            }
            harden(&intake, None, response)
        }
        Ok(outcome) => {
            intake.links().abandon_submission(&code);
            let text = crate::slack::render::outcome_reply(&outcome)
                .unwrap_or_else(|| crate::slack::render::BOT_FAULT.to_owned());
            let errors = FormErrors {
                general: Some(text),
                ..FormErrors::default()
            };
            show_again(&errors, StatusCode::CONFLICT)
        }
        Err(error) => {
            intake.links().abandon_submission(&code);
            unavailable(&intake, &error)
        }
    }
}

/// `GET /intake/{code}/progress`: the checks as JSON, for the page of a used link (its watch
/// cookie authorizes it).
async fn progress(
    State(intake): State<Arc<Intake>>,
    Path(code): Path<String>,
    client: Client,
    headers: HeaderMap,
) -> Response {
    let client = address(&client);
    let now = intake.now();
    let json = |status: StatusCode, value: serde_json::Value| {
        harden(&intake, None, (status, axum::Json(value)).into_response())
    };
    if intake.links().find(&code).is_none() {
        if intake.limiter().blocked(client, now) {
            return json(
                StatusCode::TOO_MANY_REQUESTS,
                serde_json::json!({ "error": "too many unknown links; wait a minute" }),
            );
        }
        intake.limiter().record_unknown(client, now);
        intake.audit_refusal("unknown", None, None, "unknown", Some(client));
        return json(
            StatusCode::NOT_FOUND,
            serde_json::json!({ "error": "unknown link" }),
        );
    }
    let watched =
        watch_cookie(&headers).and_then(|watch| intake.links().watched(&code, &watch, now));
    let Some(id) = watched else {
        return json(
            StatusCode::FORBIDDEN,
            serde_json::json!({ "error": "only the page that submitted the token can follow its checks" }),
        );
    };
    match intake.rotation(id) {
        Ok(Some(rotation)) => json(
            StatusCode::OK,
            serde_json::to_value(intake.progress(&rotation)).unwrap_or_default(),
        ),
        Ok(None) => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({ "error": "the rotation is gone" }),
        ),
        Err(error) => {
            tracing::error!(error = %error, "web form: cannot read the store");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "error": "database unavailable; try again" }),
            )
        }
    }
}
