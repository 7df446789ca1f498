//! How the bot retries calls to Microsoft and AWS: one policy, shared by every client.
//!
//! The decision ([`RetryPolicy::decide`]) is a pure function so it can be tested without a
//! server; [`Retrier`] adds the clock, the attempt count and the waiting.

use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::error::Error as _;
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;

/// Longest wait for one answer. Healthy Graph and SCIM calls answer in well under a second,
/// but `validateCredentials` makes Entra call AWS before it answers, which can take several
/// seconds; 20 s leaves room for that while a stuck call still fails within a person's patience.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest time spent on one call, retries included. An approver is watching the step
/// message: after a minute, telling them what failed helps more than trying longer, and a
/// minute still covers the few-second `Retry-After` Graph usually asks for when throttling.
pub const DEFAULT_MAX_TOTAL: Duration = Duration::from_secs(60);
/// First backoff step. A one-off 502 from a gateway then costs about half a second, and a
/// struggling service is not hammered.
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(500);
/// Largest backoff step. Doubling from 500 ms reaches 8 s at the fifth retry; past that,
/// longer waits would leave room for only one or two more attempts within the budget.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(8);

/// How long to wait for an answer, how long to keep trying, and how to space the attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Timeout of one request, from connecting to the end of the response body.
    pub request_timeout: Duration,
    /// No new attempt starts (and no wait is begun) that would end after this much time since
    /// the first attempt began. An attempt already in flight may still take `request_timeout`.
    pub max_total: Duration,
    /// First backoff step; each further step doubles it.
    pub base_delay: Duration,
    /// Cap on a backoff step.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_total: DEFAULT_MAX_TOTAL,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
        }
    }
}

/// What went wrong with one attempt, as far as retrying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with a status that is not the expected one.
    Status {
        status: u16,
        /// The `Retry-After` header, when it held a number of seconds.
        retry_after: Option<Duration>,
    },
    /// No (complete) answer within the request timeout.
    Timeout,
    /// The connection could not be made or broke before an answer.
    Connect,
}

impl Failure {
    /// Classifies a transport error from reqwest.
    pub fn from_transport(err: &reqwest::Error) -> Failure {
        if err.is_timeout() {
            Failure::Timeout
        } else {
            Failure::Connect
        }
    }

    /// Whether another attempt could succeed: throttling, server errors and transport
    /// failures. Other 4xx say the request itself is wrong, so repeating it cannot help.
    pub fn is_retryable(self) -> bool {
        match self {
            Failure::Status { status, .. } => status == 429 || (500..600).contains(&status),
            Failure::Timeout | Failure::Connect => true,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// Stop: the failure is final, or the budget is spent. `attempts` were made in all.
    GiveUp { attempts: u32 },
}

impl RetryPolicy {
    /// Decides what follows a failure, given how many attempts were made (the failed one
    /// included), the time since the first began, and `jitter`, a sample from `[0, 1]`.
    ///
    /// - 429 and 503 with `Retry-After` wait that long (at least `base_delay`: Graph asks
    ///   never to retry at once), or give up when the wait would end past the budget;
    /// - other 5xx, 429/503 without `Retry-After`, timeouts and connection errors back off
    ///   exponentially from `base_delay`, capped at `max_delay`, with full jitter;
    /// - any other status is final.
    pub fn decide(
        &self,
        failure: Failure,
        attempts: u32,
        elapsed: Duration,
        jitter: f64,
    ) -> RetryDecision {
        if !failure.is_retryable() {
            return RetryDecision::GiveUp { attempts };
        }
        let delay = match failure {
            Failure::Status {
                status: 429 | 503,
                retry_after: Some(asked),
            } => asked.max(self.base_delay),
            _ => self.backoff(attempts).mul_f64(jitter.clamp(0.0, 1.0)),
        };
        if elapsed.saturating_add(delay) >= self.max_total {
            RetryDecision::GiveUp { attempts }
        } else {
            RetryDecision::RetryAfter(delay)
        }
    }

    /// The backoff ceiling after `attempts` attempts: `base_delay · 2^(attempts-1)`, capped.
    fn backoff(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(16);
        self.base_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

/// The attempts of one call: counts them, keeps the budget's clock, and waits between them.
#[derive(Debug)]
pub struct Retrier {
    policy: RetryPolicy,
    started: Instant,
    attempts: u32,
}

impl Retrier {
    /// Starts the budget's clock now.
    pub fn new(policy: &RetryPolicy) -> Self {
        Retrier {
            policy: *policy,
            started: Instant::now(),
            attempts: 0,
        }
    }

    /// A retrier for a sub-call (such as fetching a login token for a Graph call) that
    /// counts its own attempts but spends the same budget.
    pub fn sharing_budget(&self) -> Self {
        Retrier {
            policy: self.policy,
            started: self.started,
            attempts: 0,
        }
    }

    /// Records that an attempt begins and returns its number (from 1).
    pub fn begin_attempt(&mut self) -> u32 {
        self.attempts += 1;
        self.attempts
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The request timeout, for error texts.
    pub fn request_timeout(&self) -> Duration {
        self.policy.request_timeout
    }

    /// After a failed attempt: waits and returns `true` when another attempt should follow,
    /// returns `false` at once when the caller should give up.
    pub async fn wait_to_retry(&self, failure: Failure) -> bool {
        let jitter = rand::random::<f64>();
        let decision = self
            .policy
            .decide(failure, self.attempts, self.started.elapsed(), jitter);
        match decision {
            RetryDecision::RetryAfter(delay) => {
                tracing::debug!(
                    ?failure,
                    attempts = self.attempts,
                    delay_ms = delay.as_millis() as u64,
                    "retrying"
                );
                tokio::time::sleep(delay).await;
                true
            }
            RetryDecision::GiveUp { .. } => false,
        }
    }
}

/// The `Retry-After` header as a number of seconds. The HTTP-date form is ignored (neither
/// Graph nor AWS sends it), which falls back to backoff.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A short, safe description of a transport error for people ("connection refused"): the
/// innermost I/O error kind, never the request (whose URL or headers could carry secrets).
pub fn transport_cause(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".to_owned();
    }
    let mut source = err.source();
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return io.kind().to_string();
        }
        source = inner.source();
    }
    if err.is_connect() {
        "connection failed".to_owned()
    } else {
        "connection broken".to_owned()
    }
}

/// A duration as people read it in an error text: `20 s`, `0.3 s`.
pub struct Seconds(pub Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis % 1000 == 0 {
            write!(f, "{} s", millis / 1000)
        } else {
            write!(f, "{:.1} s", self.0.as_secs_f64())
        }
    }
}

/// A count of attempts as people read it: `1 attempt`, `3 attempts`.
pub struct Attempts(pub u32);

impl fmt::Display for Attempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 attempt"),
            n => write!(f, "{n} attempts"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_attempt_is_singular() {
        assert_eq!(Attempts(1).to_string(), "1 attempt");
        assert_eq!(Attempts(3).to_string(), "3 attempts");
    }

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
    }

    fn status(status: u16, retry_after: Option<u64>) -> Failure {
        Failure::Status {
            status,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn throttling_waits_as_long_as_asked() {
        let decision = policy().decide(status(429, Some(7)), 1, Duration::ZERO, 0.0);
        assert_eq!(decision, RetryDecision::RetryAfter(Duration::from_secs(7)));
        let decision = policy().decide(status(503, Some(2)), 1, Duration::ZERO, 0.0);
        assert_eq!(decision, RetryDecision::RetryAfter(Duration::from_secs(2)));
    }

    #[test]
    fn retry_after_zero_still_waits_the_base_delay() {
        let decision = policy().decide(status(429, Some(0)), 1, Duration::ZERO, 0.0);
        assert_eq!(decision, RetryDecision::RetryAfter(DEFAULT_BASE_DELAY));
    }

    #[test]
    fn a_wait_past_the_budget_gives_up_at_once() {
        let decision = policy().decide(status(429, Some(120)), 1, Duration::ZERO, 0.0);
        assert_eq!(decision, RetryDecision::GiveUp { attempts: 1 });
        let decision = policy().decide(status(429, Some(5)), 4, Duration::from_secs(56), 0.0);
        assert_eq!(decision, RetryDecision::GiveUp { attempts: 4 });
    }

    #[test]
    fn client_errors_are_never_retried() {
        for code in [400, 401, 403, 404, 409, 422] {
            let decision = policy().decide(status(code, Some(1)), 1, Duration::ZERO, 0.5);
            assert_eq!(decision, RetryDecision::GiveUp { attempts: 1 }, "{code}");
        }
    }

    #[test]
    fn server_errors_and_transport_failures_back_off_exponentially_with_a_cap() {
        let p = policy();
        for failure in [status(500, None), Failure::Timeout, Failure::Connect] {
            let full = |attempts| p.decide(failure, attempts, Duration::ZERO, 1.0);
            assert_eq!(
                full(1),
                RetryDecision::RetryAfter(Duration::from_millis(500))
            );
            assert_eq!(full(2), RetryDecision::RetryAfter(Duration::from_secs(1)));
            assert_eq!(full(5), RetryDecision::RetryAfter(Duration::from_secs(8)));
            assert_eq!(full(40), RetryDecision::RetryAfter(Duration::from_secs(8)));
        }
    }

    #[test]
    fn full_jitter_scales_the_whole_step() {
        let decision = policy().decide(status(502, None), 3, Duration::ZERO, 0.25);
        assert_eq!(
            decision,
            RetryDecision::RetryAfter(Duration::from_millis(500))
        );
        let decision = policy().decide(status(502, None), 3, Duration::ZERO, 0.0);
        assert_eq!(decision, RetryDecision::RetryAfter(Duration::ZERO));
    }

    #[test]
    fn throttling_without_retry_after_backs_off() {
        let decision = policy().decide(status(429, None), 2, Duration::ZERO, 1.0);
        assert_eq!(decision, RetryDecision::RetryAfter(Duration::from_secs(1)));
    }

    #[test]
    fn a_spent_budget_stops_backoff() {
        let decision = policy().decide(Failure::Timeout, 3, Duration::from_secs(60), 0.0);
        assert_eq!(decision, RetryDecision::GiveUp { attempts: 3 });
    }

    #[test]
    fn retry_after_is_read_as_seconds_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, " 3 ".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn seconds_read_naturally() {
        assert_eq!(Seconds(Duration::from_secs(20)).to_string(), "20 s");
        assert_eq!(Seconds(Duration::from_millis(300)).to_string(), "0.3 s");
    }
}
