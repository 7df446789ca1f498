//! Sweep scaling (run with `cargo bench --bench sweep`): how long a sweep takes to decide the
//! warning due for every connection, over 1k, 10k and 100k tokens in 100 and 1,000
//! connections. Each connection's history holds retired tokens (the rows a long-lived
//! database accumulates) and one current token whose expiry falls somewhere in the next 40
//! days, with the warnings it has crossed already claimed (on every other connection the
//! latest is still due). Graph job checks and posting are left out (`Scheduler::decide_warnings`): what is
//! measured is the store reads and the pure decision, the part that grows with the data.
//!
//! A plain harness: the data is built once per size (not measured), the sweep runs 3 times
//! to warm the page cache and prepared statements, then 15 times; the median is reported,
//! with the time per connection, so that linear growth shows as a flat last column.
//! Target (issue 15): ≤ 100 ms at 100k tokens in 1,000 connections.

use chrono::{DateTime, Duration, TimeZone, Utc};
use scim_rotator::audit::NewAuditRecord;
use scim_rotator::aws::ScimProbe;
use scim_rotator::azure::{AzureCredential, GraphClient, GraphSettings};
use scim_rotator::clock::ManualClock;
use scim_rotator::engine::{ConnectionRuntime, Engine};
use scim_rotator::retry::RetryPolicy;
use scim_rotator::rotation::warnings::WarningKind;
use scim_rotator::rotation::{ExpirySource, Policy};
use scim_rotator::scheduler::{Scheduler, SchedulerSettings};
use scim_rotator::slack::api::{Pacing, SlackApi};
use scim_rotator::store::{NewToken, Store};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Instant;
use url::Url;

const WARN_DAYS: [u32; 5] = [30, 14, 7, 3, 1];

fn audit(at: DateTime<Utc>, action: &str, connection: &str) -> NewAuditRecord {
    NewAuditRecord::system(at, action, connection, serde_json::json!({}))
}

fn runtime(name: &str) -> ConnectionRuntime {
    let local = Url::parse("http://127.0.0.1:9/").expect("a URL");
    ConnectionRuntime {
        name: name.to_owned(),
        scim_url: local.clone(),
        aws_region: "eu-west-1".to_owned(),
        graph: GraphClient::new(
            GraphSettings {
                graph_url: local.clone(),
                login_url: local,
                tenant_id: "tenant".to_owned(),
                client_id: "client".to_owned(),
                credential: AzureCredential::ClientSecret(SecretString::from("unused")),
                service_principal_id: None,
                sync_job_id: None,
            },
            RetryPolicy::default(),
        ),
    }
}

/// A database with `tokens` tokens spread over `connections` connections.
fn build(dir: &std::path::Path, connections: usize, tokens: usize, now: DateTime<Utc>) -> Store {
    let store = Store::open(&dir.join("sweep.db")).expect("a database");
    let per_connection = tokens / connections;
    for c in 0..connections {
        let name = format!("org-{c:04}");
        for t in 0..per_connection {
            let current = t + 1 == per_connection;
            // Retired tokens expired long ago; the current one expires within 40 days.
            let expires = if current {
                now + Duration::hours(((c * 37) % (40 * 24)) as i64)
            } else {
                now - Duration::days(365 * (per_connection - t) as i64 / 4)
            };
            let record = store
                .insert_token(
                    &NewToken {
                        connection: name.clone(),
                        token_id: Some(format!("tok-{c}-{t}")),
                        created_at: Some(expires - Duration::days(365)),
                        expires_at: Some(expires),
                        source: ExpirySource::Manual,
                        fingerprint: None,
                    },
                    &audit(now, "token_registered", &name),
                )
                .expect("a token");
            if current {
                // The thresholds the current token has crossed were sent, but on every
                // other connection the latest one is still due.
                let days_left = (expires - now).num_days();
                let mut crossed: Vec<u32> = WARN_DAYS
                    .into_iter()
                    .filter(|d| i64::from(*d) >= days_left)
                    .collect();
                if c % 2 == 1 {
                    crossed.pop();
                }
                for days in crossed {
                    store
                        .claim_warning(
                            &name,
                            record.id,
                            &WarningKind::DaysLeft(days).key(),
                            &audit(now, "expiry_warning", &name),
                        )
                        .expect("a claim");
                }
            }
        }
    }
    store
}

fn main() {
    let now = Utc.with_ymd_and_hms(2027, 3, 1, 9, 0, 0).unwrap();
    let runtime_ = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    println!(
        "{:<34} {:>10} {:>12} {:>16}",
        "sweep decides every warning", "due", "median", "per connection"
    );
    // `cargo bench --bench sweep -- 100000x1000` runs one size (to profile it).
    let only: Option<(usize, usize)> = std::env::args().skip(1).find_map(|arg| {
        let (tokens, connections) = arg.split_once('x')?;
        Some((tokens.parse().ok()?, connections.parse().ok()?))
    });
    let sizes = [
        (1_000, 100),
        (10_000, 100),
        (100_000, 100),
        (1_000, 1_000),
        (10_000, 1_000),
        (100_000, 1_000),
    ];
    for (tokens, connections) in sizes
        .into_iter()
        .filter(|size| only.is_none_or(|only| only == *size))
    {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Arc::new(build(dir.path(), connections, tokens, now));
        let scheduler = runtime_.block_on(async {
            let engine = Engine::new(
                Arc::clone(&store),
                Arc::new(ManualClock::new(now)),
                Policy::default(),
                Duration::hours(24),
                (0..connections)
                    .map(|c| runtime(&format!("org-{c:04}")))
                    .collect(),
                ScimProbe::new(RetryPolicy::default()),
            );
            let api = SlackApi::with_pacing(
                &Url::parse("http://127.0.0.1:9/api").expect("a URL"),
                &SecretString::from("xoxb-unused"),
                Pacing::Unpaced,
            )
            .expect("a Slack client");
            Scheduler::new(
                engine,
                api,
                SchedulerSettings {
                    channel: "C0BENCH".to_owned(),
                    warn_days: WARN_DAYS.to_vec(),
                    approvers: vec!["U0LEAD".to_owned()],
                    approver_groups: vec![],
                    stall_reminder: Duration::hours(24),
                },
            )
        });
        let mut due = 0;
        let mut times = Vec::new();
        let runs = if only.is_some() { 400 } else { 18 };
        for i in 0..runs {
            let started = Instant::now();
            let decided = scheduler.decide_warnings(now).expect("the store answers");
            let took = started.elapsed();
            assert_eq!(decided.len(), connections);
            due = decided.iter().filter(|(_, d)| d.is_some()).count();
            if i >= 3 {
                times.push(took);
            }
        }
        times.sort();
        let median = times[times.len() / 2];
        println!(
            "{:<34} {due:>10} {:>12.2?} {:>16.2?}",
            format!("{tokens} tokens, {connections} connections"),
            median,
            median / connections as u32
        );
    }
}
