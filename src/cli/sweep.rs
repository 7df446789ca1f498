//! `sweep [--at RFC3339] [--dry-run]`: one sweep of the scheduler, now or as if at a given
//! time. For real, it posts and records exactly as the running bot would (the store's
//! claims keep it from repeating what the bot already sent). With `--dry-run` it opens the
//! database read-only, posts nothing, and prints one line per message it would post —
//! a way to preview the warning schedule (`--at` a date ahead).

use super::{Exit, SweepArgs, parse_date};
use crate::app::{connection_runtimes, scheduler_settings};
use crate::aws::ScimProbe;
use crate::clock::ManualClock;
use crate::config::Config;
use crate::engine::Engine;
use crate::retry::RetryPolicy;
use crate::rotation::Policy;
use crate::scheduler::Scheduler;
use crate::slack::api::SlackApi;
use crate::store::Store;
use anyhow::Context;
use chrono::Utc;
use std::io::Write;
use std::sync::Arc;

pub async fn run(config: &Config, args: &SweepArgs) -> anyhow::Result<Exit> {
    let now = match args.at.as_deref().map(parse_date).transpose() {
        Ok(at) => at.unwrap_or_else(Utc::now),
        Err(message) => return Ok(Exit::Usage(format!("--at: {message}"))),
    };
    if !args.dry_run && now > Utc::now() + chrono::Duration::minutes(1) {
        // Posting next month's warnings today would tell the channel the wrong time left and
        // use up those thresholds before they are real.
        return Ok(Exit::Usage(
            "--at: a time in the future only previews; add --dry-run".to_owned(),
        ));
    }
    let path = &config.store.path;
    let store = if args.dry_run {
        if path.exists() {
            Store::open_read_only(path)
                .with_context(|| format!("opening the database {} read-only", path.display()))?
        } else {
            // Nothing recorded yet: preview as the first sweep would see it.
            Store::open_in_memory()?
        }
    } else {
        Store::open(path).with_context(|| format!("opening the database {}", path.display()))?
    };
    let retry = RetryPolicy::default();
    let approval_window = chrono::Duration::from_std(config.slack.approval_timeout)
        .unwrap_or(chrono::Duration::hours(24));
    // Warnings are decided as of `now` (`--at`); unapproved requests expire only by the real
    // clock, so a preview of next month never expires today's pending approvals.
    let clock: crate::clock::SharedClock = if args.dry_run {
        Arc::new(ManualClock::new(now))
    } else {
        Arc::new(crate::clock::SystemClock)
    };
    // Counted for the sweep's own sake: nothing serves them from this one-off process.
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let engine = Engine::new(
        Arc::new(store),
        clock,
        Policy {
            allow_self_approval: config.slack.allow_self_approval,
            approvals_required: config.slack.approvals_required,
        },
        approval_window,
        connection_runtimes(config, retry, &metrics),
        ScimProbe::new(retry),
    );
    let api = SlackApi::new(&config.slack.api_url, &config.slack.bot_token)
        .context("loading root certificates")?
        .with_metrics(metrics);
    let scheduler = Scheduler::new(engine, api, scheduler_settings(config));
    let report = if args.dry_run {
        scheduler.preview(now).await
    } else {
        scheduler.sweep(now).await
    };
    let mut out = std::io::stdout().lock();
    for line in report.lines() {
        writeln!(out, "{line}")?;
    }
    Ok(match report.failed() {
        0 => Exit::Ok,
        n => Exit::Failed(format!(
            "{n} thing(s) the sweep should have done failed; see above"
        )),
    })
}
