//! Metrics for `GET /metrics`, in the Prometheus text exposition format (version 0.0.4).
//!
//! Counters live in one process-wide [`Metrics`] ([`global`]), bumped where the thing
//! happens: Slack calls in `slack::api`, Graph calls in `azure::client`, sweeps and
//! warnings in the scheduler. Gauges that the database already knows (days until each
//! token expires, rotations by state) are read from it at scrape time ([`Gauges`]) rather
//! than mirrored, so they cannot drift. The renderer is hand-written: the format is a few
//! lines of text, not worth a dependency.

use crate::rotation::RotationState;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The content type Prometheus expects for the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The kinds of message the monitor posts, always listed (at 0 until the first), so that
/// `rate()` and alert rules see every series from the start.
pub const WARNING_KINDS: [&str; 6] = [
    "expiry_threshold",
    "expiry_critical",
    "unknown_expiry",
    "quarantine",
    "provisioning_recovered",
    "graph_unreachable",
];

/// Counters since the process started.
pub struct Metrics {
    sweeps: AtomicU64,
    /// By kind (see [`WARNING_KINDS`]).
    warnings: Mutex<BTreeMap<&'static str, u64>>,
    graph_calls: AtomicU64,
    /// By error kind.
    graph_errors: Mutex<BTreeMap<&'static str, u64>>,
    /// By Web API method.
    slack_calls: Mutex<BTreeMap<&'static str, u64>>,
    /// By (method, error kind).
    slack_errors: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// Replies to people (ephemerals, modals, Home tabs) by outcome (see [`REPLY_OUTCOMES`]).
    slack_replies: Mutex<BTreeMap<&'static str, u64>>,
    /// Replies queued and not yet taken by their worker.
    replies_waiting: AtomicU64,
    /// Requests refused before they were read (bad signature, malformed, too large), by reason.
    refused: Mutex<BTreeMap<&'static str, u64>>,
}

/// What becomes of a reply to a person, always listed.
pub const REPLY_OUTCOMES: [&str; 4] = ["sent", "failed", "dropped_stale", "dropped_queue_full"];

static GLOBAL: Metrics = Metrics::new();

/// The process's metrics.
pub fn global() -> &'static Metrics {
    &GLOBAL
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    *map.entry(key).or_insert(0) += 1;
}

fn copy<K: Ord + Clone>(map: &Mutex<BTreeMap<K, u64>>) -> BTreeMap<K, u64> {
    map.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

impl Metrics {
    pub const fn new() -> Self {
        Metrics {
            sweeps: AtomicU64::new(0),
            warnings: Mutex::new(BTreeMap::new()),
            graph_calls: AtomicU64::new(0),
            graph_errors: Mutex::new(BTreeMap::new()),
            slack_calls: Mutex::new(BTreeMap::new()),
            slack_errors: Mutex::new(BTreeMap::new()),
            slack_replies: Mutex::new(BTreeMap::new()),
            replies_waiting: AtomicU64::new(0),
            refused: Mutex::new(BTreeMap::new()),
        }
    }

    /// A reply to a person ended as `outcome` (one of [`REPLY_OUTCOMES`]).
    pub fn slack_reply(&self, outcome: &'static str) {
        bump(&self.slack_replies, outcome);
    }

    /// A reply was queued (`true`) or taken from its queue (`false`).
    pub fn reply_waiting(&self, queued: bool) {
        if queued {
            self.replies_waiting.fetch_add(1, Ordering::Relaxed);
        } else {
            self.replies_waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// A request was refused for `reason` (a short fixed label, e.g. `bad_signature`).
    pub fn request_refused(&self, reason: &'static str) {
        bump(&self.refused, reason);
    }

    /// Requests refused so far for `reason`.
    pub fn refused(&self, reason: &str) -> u64 {
        copy(&self.refused).get(reason).copied().unwrap_or(0)
    }

    pub fn sweep_ran(&self) {
        self.sweeps.fetch_add(1, Ordering::Relaxed);
    }

    /// A message of `kind` (one of [`WARNING_KINDS`]) was posted.
    pub fn warning_sent(&self, kind: &'static str) {
        bump(&self.warnings, kind);
    }

    /// One Graph call (with its retries) ended; `error` is its error kind when it failed.
    pub fn graph_call(&self, error: Option<&'static str>) {
        self.graph_calls.fetch_add(1, Ordering::Relaxed);
        if let Some(kind) = error {
            bump(&self.graph_errors, kind);
        }
    }

    /// One Slack Web API call ended; `error` is its error kind when it failed.
    pub fn slack_call(&self, method: &'static str, error: Option<String>) {
        bump(&self.slack_calls, method);
        if let Some(kind) = error {
            bump(&self.slack_errors, (method, kind));
        }
    }

    pub fn sweeps(&self) -> u64 {
        self.sweeps.load(Ordering::Relaxed)
    }

    /// Messages of `kind` posted so far.
    pub fn warnings(&self, kind: &str) -> u64 {
        copy(&self.warnings).get(kind).copied().unwrap_or(0)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// What the database says at scrape time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gauges {
    /// Each configured connection with the whole days until its token expires (negative
    /// once expired; `None` when unknown, which leaves the series out).
    pub days_until_expiry: Vec<(String, Option<i64>)>,
    /// Rotations in each state.
    pub rotations: Vec<(RotationState, i64)>,
}

/// The whole exposition: `metrics`' counters and `gauges`.
pub fn render(metrics: &Metrics, gauges: &Gauges) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "scim_rotator_token_days_until_expiry",
        "gauge",
        "Whole days until the connection's current SCIM token expires (negative once expired); absent when unknown.",
    );
    for (connection, days) in &gauges.days_until_expiry {
        if let Some(days) = days {
            sample(
                &mut out,
                "scim_rotator_token_days_until_expiry",
                &[("connection", connection)],
                *days,
            );
        }
    }
    family(
        &mut out,
        "scim_rotator_token_expiry_known",
        "gauge",
        "1 when the connection's token expiry is known, 0 when it is not.",
    );
    for (connection, days) in &gauges.days_until_expiry {
        sample(
            &mut out,
            "scim_rotator_token_expiry_known",
            &[("connection", connection)],
            u64::from(days.is_some()),
        );
    }
    family(
        &mut out,
        "scim_rotator_rotations",
        "gauge",
        "Rotations in each state.",
    );
    let counts: BTreeMap<&str, i64> = gauges
        .rotations
        .iter()
        .map(|(state, n)| (state.as_str(), *n))
        .collect();
    for state in RotationState::ALL {
        let n = counts.get(state.as_str()).copied().unwrap_or(0);
        sample(
            &mut out,
            "scim_rotator_rotations",
            &[("state", state.as_str())],
            n,
        );
    }
    family(
        &mut out,
        "scim_rotator_sweeps_total",
        "counter",
        "Sweeps run (expiry warnings and Entra job health).",
    );
    sample(&mut out, "scim_rotator_sweeps_total", &[], metrics.sweeps());
    family(
        &mut out,
        "scim_rotator_warnings_sent_total",
        "counter",
        "Messages the monitor posted, by kind.",
    );
    let warnings = copy(&metrics.warnings);
    for kind in WARNING_KINDS {
        let n = warnings.get(kind).copied().unwrap_or(0);
        sample(
            &mut out,
            "scim_rotator_warnings_sent_total",
            &[("kind", kind)],
            n,
        );
    }
    family(
        &mut out,
        "scim_rotator_graph_calls_total",
        "counter",
        "Microsoft Graph calls (each with its retries).",
    );
    sample(
        &mut out,
        "scim_rotator_graph_calls_total",
        &[],
        metrics.graph_calls.load(Ordering::Relaxed),
    );
    family(
        &mut out,
        "scim_rotator_graph_errors_total",
        "counter",
        "Microsoft Graph calls that failed, by kind.",
    );
    for (kind, n) in copy(&metrics.graph_errors) {
        sample(
            &mut out,
            "scim_rotator_graph_errors_total",
            &[("kind", kind)],
            n,
        );
    }
    family(
        &mut out,
        "scim_rotator_slack_calls_total",
        "counter",
        "Slack Web API calls, by method.",
    );
    for (method, n) in copy(&metrics.slack_calls) {
        sample(
            &mut out,
            "scim_rotator_slack_calls_total",
            &[("method", method)],
            n,
        );
    }
    family(
        &mut out,
        "scim_rotator_slack_errors_total",
        "counter",
        "Slack Web API calls that failed, by method and kind (Slack's error code, rate_limited, http_<status> or transport).",
    );
    for ((method, kind), n) in copy(&metrics.slack_errors) {
        sample(
            &mut out,
            "scim_rotator_slack_errors_total",
            &[("method", method), ("kind", &kind)],
            n,
        );
    }
    family(
        &mut out,
        "scim_rotator_slack_replies_total",
        "counter",
        "Replies to people (ephemeral answers, modals, Home tabs), by outcome: sent, failed, or dropped because stale or because the queue was full.",
    );
    let replies = copy(&metrics.slack_replies);
    for outcome in REPLY_OUTCOMES {
        let n = replies.get(outcome).copied().unwrap_or(0);
        sample(
            &mut out,
            "scim_rotator_slack_replies_total",
            &[("outcome", outcome)],
            n,
        );
    }
    family(
        &mut out,
        "scim_rotator_slack_replies_waiting",
        "gauge",
        "Replies to people queued and not yet sent or dropped (bounded by the queues' capacity).",
    );
    sample(
        &mut out,
        "scim_rotator_slack_replies_waiting",
        &[],
        metrics.replies_waiting.load(Ordering::Relaxed),
    );
    family(
        &mut out,
        "scim_rotator_requests_refused_total",
        "counter",
        "Requests refused before they were handled, by reason (HTTP requests, and Socket Mode envelopes from another workspace or app).",
    );
    for (reason, n) in copy(&metrics.refused) {
        sample(
            &mut out,
            "scim_rotator_requests_refused_total",
            &[("reason", reason)],
            n,
        );
    }
    out
}

/// The process's refusal log, for refusals outside the HTTP layer's own (Socket Mode
/// envelopes from another workspace or app, replays): counted in the same metric.
pub fn refusals() -> &'static RefusalLog {
    static LOG: std::sync::OnceLock<RefusalLog> = std::sync::OnceLock::new();
    LOG.get_or_init(RefusalLog::new)
}

/// How often a flood of refusals is summarised in the log, per reason.
pub const REFUSAL_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Logs refusals quietly: the first of each reason at once, then at most one summary line
/// per reason every [`REFUSAL_LOG_EVERY`] with how many were refused meanwhile. A flood of
/// forged requests then costs a few log lines, not one per request.
#[derive(Default)]
pub struct RefusalLog {
    /// Per reason: when it was last logged, and how many were refused since.
    seen: Mutex<BTreeMap<&'static str, (std::time::Instant, u64)>>,
}

impl RefusalLog {
    pub fn new() -> Self {
        RefusalLog::default()
    }

    /// Counts a refusal for `reason` (also in the metrics) and logs it when due. `detail`
    /// is a short, body-free description.
    pub fn refused(&self, reason: &'static str, detail: &str) {
        global().request_refused(reason);
        let due = self.due(reason, std::time::Instant::now());
        if let Some(count) = due {
            tracing::warn!(
                reason,
                detail,
                refused = count,
                "refused requests (logged at most once every 10 s per reason)"
            );
        }
    }

    /// Whether a refusal for `reason` at `now` is to be logged, and with how many refusals
    /// (this one included) since the last line.
    fn due(&self, reason: &'static str, now: std::time::Instant) -> Option<u64> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match seen.get_mut(reason) {
            None => {
                seen.insert(reason, (now, 0));
                Some(1)
            }
            Some((last, since)) => {
                *since += 1;
                if now.duration_since(*last) >= REFUSAL_LOG_EVERY {
                    let count = *since;
                    *last = now;
                    *since = 0;
                    Some(count)
                } else {
                    None
                }
            }
        }
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (index, (label, value)) in labels.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let _ = write!(out, "{label}=\"{}\"", escape_label(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label value as the format requires: backslash, double quote and line feed escaped.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A HELP text: backslash and line feed escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One parsed sample: name, labels, value.
    type Sample = (String, BTreeMap<String, String>, f64);

    /// A strict reader of the text format, enough to check what [`render`] writes: every
    /// sample belongs to a family announced by `# TYPE`, labels are quoted and escaped.
    fn parse(text: &str) -> Vec<Sample> {
        let mut typed = std::collections::HashSet::new();
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE has a kind");
                assert!(["counter", "gauge"].contains(&kind), "{line}");
                typed.insert(name.to_owned());
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
            let (series, value) = line.rsplit_once(' ').expect("a value");
            let value: f64 = value.parse().expect("a number");
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect("closing brace");
                    (name.to_owned(), parse_labels(body))
                }
            };
            assert!(typed.contains(&name), "{name} has no TYPE line");
            samples.push((name, labels, value));
        }
        samples
    }

    fn parse_labels(body: &str) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::new();
        let mut chars = body.chars().peekable();
        while chars.peek().is_some() {
            let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
            assert_eq!(chars.next(), Some('"'));
            let mut value = String::new();
            loop {
                match chars.next().expect("closing quote") {
                    '\\' => match chars.next() {
                        Some('n') => value.push('\n'),
                        Some(c) => value.push(c),
                        None => panic!("dangling escape"),
                    },
                    '"' => break,
                    c => value.push(c),
                }
            }
            labels.insert(name, value);
            if chars.peek() == Some(&',') {
                chars.next();
            }
        }
        labels
    }

    /// The value of the sample `name` with exactly `labels`.
    fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        samples
            .iter()
            .find(|(n, l, _)| n == name && *l == wanted)
            .map(|(_, _, v)| *v)
    }

    #[test]
    fn the_exposition_parses_and_holds_every_series() {
        let metrics = Metrics::new();
        metrics.sweep_ran();
        metrics.sweep_ran();
        metrics.warning_sent("expiry_threshold");
        metrics.graph_call(None);
        metrics.graph_call(Some("timeout"));
        metrics.slack_call("chat.postMessage", None);
        metrics.slack_call("chat.postMessage", Some("channel_not_found".to_owned()));
        let gauges = Gauges {
            days_until_expiry: vec![
                ("prod".to_owned(), Some(12)),
                ("old".to_owned(), Some(-3)),
                ("new".to_owned(), None),
            ],
            rotations: vec![(RotationState::Completed, 4)],
        };
        let samples = parse(&render(&metrics, &gauges));
        let v = |name, labels: &[(&str, &str)]| value(&samples, name, labels);
        assert_eq!(
            v(
                "scim_rotator_token_days_until_expiry",
                &[("connection", "prod")]
            ),
            Some(12.0)
        );
        assert_eq!(
            v(
                "scim_rotator_token_days_until_expiry",
                &[("connection", "old")]
            ),
            Some(-3.0)
        );
        assert_eq!(
            v(
                "scim_rotator_token_days_until_expiry",
                &[("connection", "new")]
            ),
            None
        );
        assert_eq!(
            v("scim_rotator_token_expiry_known", &[("connection", "new")]),
            Some(0.0)
        );
        assert_eq!(
            v("scim_rotator_rotations", &[("state", "Completed")]),
            Some(4.0)
        );
        assert_eq!(
            v("scim_rotator_rotations", &[("state", "AwaitingApproval")]),
            Some(0.0)
        );
        assert_eq!(v("scim_rotator_sweeps_total", &[]), Some(2.0));
        assert_eq!(
            v(
                "scim_rotator_warnings_sent_total",
                &[("kind", "expiry_threshold")]
            ),
            Some(1.0)
        );
        assert_eq!(
            v(
                "scim_rotator_warnings_sent_total",
                &[("kind", "quarantine")]
            ),
            Some(0.0)
        );
        assert_eq!(v("scim_rotator_graph_calls_total", &[]), Some(2.0));
        assert_eq!(
            v("scim_rotator_graph_errors_total", &[("kind", "timeout")]),
            Some(1.0)
        );
        assert_eq!(
            v(
                "scim_rotator_slack_calls_total",
                &[("method", "chat.postMessage")]
            ),
            Some(2.0)
        );
        assert_eq!(
            v(
                "scim_rotator_slack_errors_total",
                &[
                    ("method", "chat.postMessage"),
                    ("kind", "channel_not_found")
                ]
            ),
            Some(1.0)
        );
    }

    #[test]
    fn a_flood_of_refusals_is_logged_once_per_reason_per_ten_seconds() {
        let log = RefusalLog::new();
        let start = std::time::Instant::now();
        assert_eq!(log.due("bad_signature", start), Some(1));
        for ms in 1..10_000 {
            let at = start + std::time::Duration::from_millis(ms);
            assert_eq!(log.due("bad_signature", at), None, "at {ms} ms");
        }
        assert_eq!(
            log.due("malformed", start),
            Some(1),
            "each reason on its own"
        );
        let later = start + REFUSAL_LOG_EVERY;
        assert_eq!(
            log.due("bad_signature", later),
            Some(10_000),
            "the summary counts every refusal since the last line"
        );
        assert_eq!(log.due("bad_signature", later), None);
    }

    #[test]
    fn label_values_are_escaped() {
        let gauges = Gauges {
            days_until_expiry: vec![("we\"ird\\name\nx".to_owned(), Some(1))],
            rotations: vec![],
        };
        let text = render(&Metrics::new(), &gauges);
        assert!(text.contains(r#"connection="we\"ird\\name\nx""#), "{text}");
        let samples = parse(&text);
        assert_eq!(
            value(
                &samples,
                "scim_rotator_token_days_until_expiry",
                &[("connection", "we\"ird\\name\nx")]
            ),
            Some(1.0)
        );
    }
}
