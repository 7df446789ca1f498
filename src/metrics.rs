//! Metrics for `GET /metrics`, through `prometheus-client` (OpenMetrics text).
//!
//! One [`Metrics`] per running bot, built in `app.rs` and handed to what counts: the Slack
//! client (`slack::api`, which passes it on to the reply queues and the scheduler), the Graph
//! clients (`azure::client`) and the HTTP server (refusals). There is no process-wide
//! instance. Label sets are typed ([`MessageKind`], `slack::outbox::ReplyOutcome`,
//! [`RotationState`]); every kind of message and every reply outcome is listed from the
//! start (at 0), so that `rate()` and alert rules see each series at once. Gauges that the
//! database already knows (days until each token expires, rotations by state) are read from
//! it at scrape time ([`Gauges`], [`Metrics::render`]) rather than mirrored, so they cannot
//! drift.

use crate::rotation::RotationState;
use crate::slack::outbox::ReplyOutcome;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Mutex;

/// The content type of the OpenMetrics text format, which Prometheus reads.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The kinds of message the scheduler posts.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum MessageKind {
    /// A warning at one of `schedule.warn_days`.
    ExpiryThreshold,
    /// The token expired.
    ExpiryCritical,
    /// No expiry date is known for the connection's token.
    UnknownExpiry,
    /// The Entra provisioning job cannot authenticate to AWS.
    Quarantine,
    /// It can again.
    ProvisioningRecovered,
    /// Graph could not be read for several sweeps in a row.
    GraphUnreachable,
}

impl MessageKind {
    pub const ALL: [MessageKind; 6] = [
        MessageKind::ExpiryThreshold,
        MessageKind::ExpiryCritical,
        MessageKind::UnknownExpiry,
        MessageKind::Quarantine,
        MessageKind::ProvisioningRecovered,
        MessageKind::GraphUnreachable,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::ExpiryThreshold => "expiry_threshold",
            MessageKind::ExpiryCritical => "expiry_critical",
            MessageKind::UnknownExpiry => "unknown_expiry",
            MessageKind::Quarantine => "quarantine",
            MessageKind::ProvisioningRecovered => "provisioning_recovered",
            MessageKind::GraphUnreachable => "graph_unreachable",
        }
    }
}

impl EncodeLabelValue for MessageKind {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(self.as_str())
    }
}

impl EncodeLabelValue for ReplyOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(self.label())
    }
}

/// A rotation state as a label value (the domain crate knows nothing of metrics, so the
/// encoding is on this wrapper).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct StateValue(RotationState);

impl EncodeLabelValue for StateValue {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(self.0.as_str())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: MessageKind,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodErrorLabel {
    method: &'static str,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: ReplyOutcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabel {
    connection: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: StateValue,
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

/// The bot's metrics: counters since it started, and the gauges of the last scrape.
pub struct Metrics {
    registry: Registry,
    sweeps: Counter,
    warnings: Family<KindLabel, Counter>,
    graph_calls: Counter,
    graph_errors: Family<ErrorLabel, Counter>,
    slack_calls: Family<MethodLabel, Counter>,
    slack_errors: Family<MethodErrorLabel, Counter>,
    slack_replies: Family<OutcomeLabel, Counter>,
    replies_waiting: Gauge,
    refused: Family<ReasonLabel, Counter>,
    refusal_log: RefusalLog,
    days_until_expiry: Family<ConnectionLabel, Gauge>,
    expiry_known: Family<ConnectionLabel, Gauge>,
    rotations: Family<StateLabel, Gauge>,
    /// Held while a scrape sets the gauges and encodes, so two scrapes cannot mix theirs.
    scrape: Mutex<()>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("scim_rotator");
        let metrics = Metrics {
            sweeps: Counter::default(),
            warnings: Family::default(),
            graph_calls: Counter::default(),
            graph_errors: Family::default(),
            slack_calls: Family::default(),
            slack_errors: Family::default(),
            slack_replies: Family::default(),
            replies_waiting: Gauge::default(),
            refused: Family::default(),
            refusal_log: RefusalLog::default(),
            days_until_expiry: Family::default(),
            expiry_known: Family::default(),
            rotations: Family::default(),
            scrape: Mutex::new(()),
            registry: Registry::default(),
        };
        registry.register(
            "token_days_until_expiry",
            "Whole days until the connection's current SCIM token expires (negative once expired); absent when unknown",
            metrics.days_until_expiry.clone(),
        );
        registry.register(
            "token_expiry_known",
            "1 when the connection's token expiry is known, 0 when it is not",
            metrics.expiry_known.clone(),
        );
        registry.register(
            "rotations",
            "Rotations in each state",
            metrics.rotations.clone(),
        );
        registry.register(
            "sweeps",
            "Sweeps run (expiry warnings and Entra job health)",
            metrics.sweeps.clone(),
        );
        registry.register(
            "warnings_sent",
            "Messages the scheduler posted, by kind",
            metrics.warnings.clone(),
        );
        registry.register(
            "graph_calls",
            "Microsoft Graph calls (each with its retries)",
            metrics.graph_calls.clone(),
        );
        registry.register(
            "graph_errors",
            "Microsoft Graph calls that failed, by kind",
            metrics.graph_errors.clone(),
        );
        registry.register(
            "slack_calls",
            "Slack Web API calls, by method",
            metrics.slack_calls.clone(),
        );
        registry.register(
            "slack_errors",
            "Slack Web API calls that failed, by method and kind (Slack's error code, rate_limited, http_<status> or transport)",
            metrics.slack_errors.clone(),
        );
        registry.register(
            "slack_replies",
            "Replies to people (ephemeral answers, modals, Home tabs), by outcome: sent, failed, or dropped because stale or because the queue was full",
            metrics.slack_replies.clone(),
        );
        registry.register(
            "slack_replies_waiting",
            "Replies to people queued and not yet sent or dropped (bounded by the queues' capacity)",
            metrics.replies_waiting.clone(),
        );
        registry.register(
            "requests_refused",
            "Requests refused before they were handled, by reason (HTTP requests, and Socket Mode envelopes from another workspace or app)",
            metrics.refused.clone(),
        );
        // Every kind and outcome listed from the start, at 0.
        for kind in MessageKind::ALL {
            drop(metrics.warnings.get_or_create(&KindLabel { kind }));
        }
        for outcome in ReplyOutcome::ALL {
            drop(
                metrics
                    .slack_replies
                    .get_or_create(&OutcomeLabel { outcome }),
            );
        }
        Metrics {
            registry,
            ..metrics
        }
    }

    /// A reply to a person ended as `outcome`.
    pub fn slack_reply(&self, outcome: ReplyOutcome) {
        self.slack_replies
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    /// A reply was queued (`true`) or taken from its queue (`false`).
    pub fn reply_waiting(&self, queued: bool) {
        if queued {
            self.replies_waiting.inc();
        } else {
            self.replies_waiting.dec();
        }
    }

    /// A request was refused for `reason` (a short fixed label, e.g. `bad_signature`):
    /// counted, and logged when due ([`RefusalLog`]). `detail` is a short, body-free
    /// description.
    pub fn refused(&self, reason: &'static str, detail: &str) {
        self.refused.get_or_create(&ReasonLabel { reason }).inc();
        self.refusal_log.refused(reason, detail);
    }

    /// Requests refused for `reason` so far.
    pub fn refused_so_far(&self, reason: &'static str) -> u64 {
        self.refused.get_or_create(&ReasonLabel { reason }).get()
    }

    pub fn sweep_ran(&self) {
        self.sweeps.inc();
    }

    /// A message of `kind` was posted.
    pub fn warning_sent(&self, kind: MessageKind) {
        self.warnings.get_or_create(&KindLabel { kind }).inc();
    }

    /// One Graph call (with its retries) ended; `error` is its error kind when it failed.
    pub fn graph_call(&self, error: Option<&'static str>) {
        self.graph_calls.inc();
        if let Some(kind) = error {
            self.graph_errors.get_or_create(&ErrorLabel { kind }).inc();
        }
    }

    /// One Slack Web API call ended; `error` is its error kind when it failed.
    pub fn slack_call(&self, method: &'static str, error: Option<String>) {
        self.slack_calls
            .get_or_create(&MethodLabel { method })
            .inc();
        if let Some(kind) = error {
            self.slack_errors
                .get_or_create(&MethodErrorLabel { method, kind })
                .inc();
        }
    }

    /// The whole exposition: the counters, and `gauges` as read from the store now.
    pub fn render(&self, gauges: &Gauges) -> String {
        let _scrape = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        self.days_until_expiry.clear();
        self.expiry_known.clear();
        self.rotations.clear();
        for (connection, days) in &gauges.days_until_expiry {
            let label = ConnectionLabel {
                connection: connection.clone(),
            };
            if let Some(days) = days {
                self.days_until_expiry.get_or_create(&label).set(*days);
            }
            self.expiry_known
                .get_or_create(&label)
                .set(i64::from(days.is_some()));
        }
        let counts: HashMap<RotationState, i64> = gauges.rotations.iter().copied().collect();
        for state in RotationState::ALL {
            let n = counts.get(&state).copied().unwrap_or(0);
            self.rotations
                .get_or_create(&StateLabel {
                    state: StateValue(state),
                })
                .set(n);
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
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
    /// Logs a refusal for `reason` when due ([`Metrics::refused`] counts it). `detail` is
    /// a short, body-free description.
    fn refused(&self, reason: &'static str, detail: &str) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_holds_every_series_under_its_documented_name() {
        let metrics = Metrics::new();
        metrics.sweep_ran();
        metrics.sweep_ran();
        metrics.warning_sent(MessageKind::ExpiryThreshold);
        metrics.graph_call(None);
        metrics.graph_call(Some("timeout"));
        metrics.slack_call("chat.postMessage", None);
        metrics.slack_call("chat.postMessage", Some("channel_not_found".to_owned()));
        metrics.slack_reply(ReplyOutcome::Stale);
        metrics.reply_waiting(true);
        metrics.refused("bad_signature", "test");
        let gauges = Gauges {
            days_until_expiry: vec![
                ("prod".to_owned(), Some(12)),
                ("old".to_owned(), Some(-3)),
                ("new".to_owned(), None),
            ],
            rotations: vec![(RotationState::Completed, 4)],
        };
        let text = metrics.render(&gauges);
        for line in [
            r#"scim_rotator_token_days_until_expiry{connection="prod"} 12"#,
            r#"scim_rotator_token_days_until_expiry{connection="old"} -3"#,
            r#"scim_rotator_token_expiry_known{connection="new"} 0"#,
            r#"scim_rotator_token_expiry_known{connection="prod"} 1"#,
            r#"scim_rotator_rotations{state="Completed"} 4"#,
            r#"scim_rotator_rotations{state="AwaitingApproval"} 0"#,
            "scim_rotator_sweeps_total 2",
            r#"scim_rotator_warnings_sent_total{kind="expiry_threshold"} 1"#,
            r#"scim_rotator_warnings_sent_total{kind="quarantine"} 0"#,
            "scim_rotator_graph_calls_total 2",
            r#"scim_rotator_graph_errors_total{kind="timeout"} 1"#,
            r#"scim_rotator_slack_calls_total{method="chat.postMessage"} 2"#,
            r#"scim_rotator_slack_errors_total{method="chat.postMessage",kind="channel_not_found"} 1"#,
            r#"scim_rotator_slack_replies_total{outcome="dropped_stale"} 1"#,
            r#"scim_rotator_slack_replies_total{outcome="sent"} 0"#,
            "scim_rotator_slack_replies_waiting 1",
            r#"scim_rotator_requests_refused_total{reason="bad_signature"} 1"#,
            "# TYPE scim_rotator_sweeps counter",
            "# TYPE scim_rotator_rotations gauge",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
        assert!(
            !text.contains(r#"scim_rotator_token_days_until_expiry{connection="new"}"#),
            "an unknown expiry has no days series:\n{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn each_scrape_shows_the_store_as_it_is_now() {
        let metrics = Metrics::new();
        let first = Gauges {
            days_until_expiry: vec![("gone".to_owned(), Some(5))],
            rotations: vec![],
        };
        assert!(metrics.render(&first).contains(r#"connection="gone""#));
        let text = metrics.render(&Gauges::default());
        assert!(!text.contains(r#"connection="gone""#), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        let gauges = Gauges {
            days_until_expiry: vec![("we\"ird\\name\nx".to_owned(), Some(1))],
            rotations: vec![],
        };
        let text = Metrics::new().render(&gauges);
        assert!(text.contains(r#"connection="we\"ird\\name\nx""#), "{text}");
    }

    #[test]
    fn a_flood_of_refusals_is_logged_once_per_reason_per_ten_seconds() {
        let log = RefusalLog::default();
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
}
