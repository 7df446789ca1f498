//! Bounded effects after the ack: a burst of clicks keeps the bot's connections to Slack
//! capped and every reply accounted for; a slow `views.open` does not delay the ack; a
//! hung Microsoft login costs a token check only its own attempt.

use crate::support::app::TestApp;
use crate::support::binary::{BinaryWorld, Bot, sample};
use crate::support::story::story;
use scim_rotator::config::SlackMode;
use scim_rotator::rotation::RotationState;
use scim_rotator::slack::{ids, pool};
use scim_sandbox::people::*;
use scim_sandbox::{Fault, Route};
use std::time::{Duration, Instant};

/// Clicks in the burst, and how many are in flight at once.
const CLICKS: usize = 2_000;
const CONCURRENCY: usize = 50;

/// Outbound connections allowed at any moment (the bound; the client's own cap is
/// [`pool::MAX_CONNECTIONS`]).
const MAX_OUTBOUND: usize = 16;

/// A generous ceiling for the debug binary's peak memory through the burst (the release
/// binary's figure is in BENCHMARKS.md); unbounded fan-out went far past it.
const MAX_RSS_KIB: u64 = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_clicks_keeps_connections_capped_and_every_reply_accounted() {
    let w = BinaryWorld::start().await;
    let bot = Bot::start(&w.config).await;
    w.rotate(&bot).await;
    let id = w.latest().id;
    let approval = w.step_message(id, "approval").await;
    w.click(&bot, LEAD, &approval, ids::APPROVE).await;
    let step = w.step_message(id, "new_token").await;
    w.world.slack.connections().reset_peak();
    let accepted_before = w.world.slack.connections().accepted();
    // Replies sent before the burst (the approval's, the App Home's) are not the burst's: the
    // accounting below counts what changed since this baseline, once the queue is idle.
    let before = replies_idle(&w, &bot).await;

    // A member hammers "Enter new token": each click is refused with an ephemeral answer.
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..CONCURRENCY {
        let slack = w.world.slack.clone();
        let base = bot.base.clone();
        let step = step.clone();
        workers.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in (worker..CLICKS).step_by(CONCURRENCY) {
                let click = slack
                    .click(&base, MEMBER, CHANNEL, &step, ids::ENTER_TOKEN)
                    .await
                    .unwrap();
                statuses.push(click.reply.status);
            }
            statuses
        }));
    }
    let mut acks = 0;
    for worker in workers {
        for status in worker.await.unwrap() {
            assert_eq!(status, 200, "every click is acknowledged");
            acks += 1;
        }
    }
    assert_eq!(acks, CLICKS);
    let burst = started.elapsed();

    // Every reply is accounted for: sent, counted as dropped, or still waiting in the bounded
    // queue (Slack's tier for ephemerals is 100 a minute: most of a burst cannot be sent,
    // and the rest go stale within the minute).
    let deadline = Instant::now() + crate::support::DEADLINE;
    let (sent, dropped, waiting) = loop {
        let now = Replies::read(&bot).await;
        assert_eq!(now.failed, before.failed, "no reply failed");
        let (sent, dropped) = (now.sent - before.sent, now.dropped - before.dropped);
        let waiting = now.waiting;
        // The one reply in the worker's hands (being sent) is neither waiting nor counted yet.
        if sent + dropped + waiting + 1 >= CLICKS as u64 {
            break (sent, dropped, waiting);
        }
        assert!(
            Instant::now() < deadline,
            "replies unaccounted: {sent} sent, {dropped} dropped, {waiting} waiting of {CLICKS}"
        );
        w.world
            .slack
            .wait_until(Duration::from_millis(50), |_| None::<()>)
            .await
            .ok();
    };
    let accounted = sent + dropped + waiting;
    assert!(
        accounted <= CLICKS as u64,
        "{accounted} replies accounted for {CLICKS} clicks: more than were asked for"
    );
    let in_hand = CLICKS as u64 - accounted;
    assert!(in_hand <= 1, "{in_hand} replies unaccounted");
    assert!(waiting <= 256, "the queue is bounded: {waiting} waiting");
    let shown = w
        .world
        .slack
        .ephemerals()
        .into_iter()
        .filter(|e| e.user == MEMBER && e.text.contains("Only a team lead"))
        .count();
    // Replies keep going out meanwhile: what the member saw lies between the count of sent
    // replies before and after (plus the one being sent).
    let sent_after = Replies::read(&bot).await.sent - before.sent;
    assert!(
        shown as u64 >= sent && shown as u64 <= sent_after + 1,
        "each reply sent is one the member saw ({shown} shown, {sent}..{sent_after} sent)"
    );

    let connections = w.world.slack.connections();
    let peak = connections.peak();
    assert!(
        peak <= pool::MAX_CONNECTIONS,
        "at most {} connections to Slack at once, saw {peak}",
        pool::MAX_CONNECTIONS
    );
    const { assert!(pool::MAX_CONNECTIONS <= MAX_OUTBOUND) };
    let opened = connections.accepted() - accepted_before;
    assert!(
        opened <= MAX_OUTBOUND,
        "keep-alive connections are reused: {opened} opened for {CLICKS} replies"
    );
    let rss = bot.peak_rss_kib();
    assert!(rss <= MAX_RSS_KIB, "peak RSS {rss} KiB");
    eprintln!(
        "burst: {CLICKS} clicks at c={CONCURRENCY} in {burst:?}; {sent} replies sent, {dropped} dropped, {waiting} waiting; \
         peak {peak} connections ({opened} opened); peak RSS {rss} KiB"
    );
    bot.kill_soon().await;
}

/// The bot's reply counters (`scim_rotator_slack_replies_total` and the queue's length).
struct Replies {
    sent: u64,
    dropped: u64,
    failed: u64,
    waiting: u64,
}

impl Replies {
    async fn read(bot: &Bot) -> Replies {
        let metrics = bot.metrics().await;
        let outcome = |name: &str| {
            sample(
                &metrics,
                &format!("scim_rotator_slack_replies_total{{outcome=\"{name}\"}}"),
            )
        };
        Replies {
            sent: outcome("sent"),
            dropped: outcome("dropped_queue_full") + outcome("dropped_stale"),
            failed: outcome("failed"),
            waiting: sample(&metrics, "scim_rotator_slack_replies_waiting"),
        }
    }

    fn total(&self) -> u64 {
        self.sent + self.dropped + self.failed
    }
}

/// The counters once nothing waits and two readings agree (the reply in the worker's hands,
/// if any, has been counted): the baseline a burst is measured from.
async fn replies_idle(w: &BinaryWorld, bot: &Bot) -> Replies {
    let deadline = Instant::now() + crate::support::DEADLINE;
    let mut last = Replies::read(bot).await;
    loop {
        w.world
            .slack
            .wait_until(Duration::from_millis(50), |_| None::<()>)
            .await
            .ok();
        let now = Replies::read(bot).await;
        if now.waiting == 0 && last.waiting == 0 && now.total() == last.total() {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "the reply queue never went idle before the burst"
        );
        last = now;
    }
}

#[tokio::test]
async fn a_slow_views_open_does_not_delay_the_ack() {
    story(async |s| {
        s.rotate_by_command(MEMBER).await;
        s.lead().clicks(ids::APPROVE).await;
        let step = s.thread().waits_for_button(ids::ENTER_TOKEN).await;
        s.slack().slow_next("views.open", Duration::from_secs(4));

        let started = Instant::now();
        let click = s
            .slack()
            .click(&s.url, LEAD, CHANNEL, &step.ts, ids::ENTER_TOKEN)
            .await
            .unwrap();
        let ack = started.elapsed();
        eprintln!("Enter new token acked in {ack:?} with views.open taking 4 s");
        assert_eq!(click.reply.status, 200);
        assert!(
            ack < Duration::from_secs(3),
            "acked in {ack:?}, within Slack's 3 s although views.open takes 4 s"
        );
        // The modal still opens, with the click's trigger, after the ack.
        let modal = s.lead().sees_modal().await;
        assert_eq!(modal.callback_id(), ids::SUBMIT_TOKEN);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the modal was opened before views.open answered"
        );
    })
    .await;
}

#[tokio::test]
async fn a_hung_login_fails_a_token_check_within_one_attempt() {
    story(async |s| {
        let microsoft = &s.world.cloud.microsoft;
        for _ in 0..20 {
            microsoft.faults().push(Route::Login, Fault::Hang);
        }
        // The sweep logs in first (as at start-up) and hangs there.
        let scheduler = std::sync::Arc::clone(&s.app.scheduler);
        let now = s.app.engine.now();
        let sweep = tokio::spawn(async move { scheduler.sweep(now).await });

        s.rotate_by_command(MEMBER).await;
        s.lead().clicks(ids::APPROVE).await;
        let modal = s.lead().opens_token_modal().await;
        let new = s.aws_generates_token();
        let submitted_at = Instant::now();
        s.lead().submits_token_in(&modal.id, &new.secret).await;

        let failure = s
            .thread()
            .waits_for_line("Microsoft login is not answering")
            .await
            .blocks
            .to_string();
        let took = submitted_at.elapsed();
        let attempt = crate::support::test_retry().request_timeout;
        assert!(
            took < attempt + Duration::from_millis(1500),
            "the failure shows within one attempt ({attempt:?}), took {took:?}"
        );
        assert!(failure.contains("(1 attempt)"), "{failure}");
        assert_eq!(s.state(), RotationState::AwaitingNewToken);
        sweep.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn sigterm_exits_promptly_while_a_check_waits_for_a_hung_login() {
    let w = BinaryWorld::start().await;
    for _ in 0..20 {
        w.world
            .cloud
            .microsoft
            .faults()
            .push(Route::Login, Fault::Hang);
    }
    let bot = Bot::start(&w.config).await;
    w.rotate(&bot).await;
    let id = w.latest().id;
    let approval = w.step_message(id, "approval").await;
    w.click(&bot, LEAD, &approval, ids::APPROVE).await;
    let step = w.step_message(id, "new_token").await;
    let new = w.generate_token();
    w.submit_token(&bot, &step, &new.secret).await;
    assert_eq!(w.rotation(id).state, RotationState::Checking);

    let (took, clean) = bot.terminate().await;
    assert!(clean, "a clean exit");
    assert!(
        took < Duration::from_secs(10),
        "SIGTERM took {took:?}: a check stuck on login must not hold the exit"
    );
}

/// The acceptance measurement (BENCHMARKS.md), not a timed test: signed clicks at c=50 for
/// `BURST_SECONDS` (15) against `SCIM_ROTATOR_BURST_BIN` (a release build) pinned to one
/// core, reporting peak connections, peak RSS and non-2xx acks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: SCIM_ROTATOR_BURST_BIN=target/release/scim-rotator cargo test --test it burst_measurement -- --ignored --nocapture"]
async fn burst_measurement() {
    let bin = std::env::var("SCIM_ROTATOR_BURST_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_scim-rotator").to_owned());
    let seconds: u64 = std::env::var("BURST_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let w = BinaryWorld::start().await;
    let bot = Bot::start_program(&["taskset", "-c", "0", &bin], &w.config).await;
    w.rotate(&bot).await;
    let id = w.latest().id;
    let approval = w.step_message(id, "approval").await;
    w.click(&bot, LEAD, &approval, ids::APPROVE).await;
    let step = w.step_message(id, "new_token").await;
    let rss_before = bot.peak_rss_kib();
    w.world.slack.connections().reset_peak();

    let until = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let slack = w.world.slack.clone();
        let base = bot.base.clone();
        let step = step.clone();
        workers.push(tokio::spawn(async move {
            let (mut ok, mut other) = (0u64, 0u64);
            while Instant::now() < until {
                match slack
                    .click(&base, MEMBER, CHANNEL, &step, ids::ENTER_TOKEN)
                    .await
                {
                    Ok(click) if (200..300).contains(&click.reply.status) => ok += 1,
                    _ => other += 1,
                }
            }
            (ok, other)
        }));
    }
    let (mut ok, mut other) = (0, 0);
    for worker in workers {
        let (o, n) = worker.await.unwrap();
        ok += o;
        other += n;
    }
    let metrics = bot.metrics().await;
    let outcome = |name: &str| {
        sample(
            &metrics,
            &format!("scim_rotator_slack_replies_total{{outcome=\"{name}\"}}"),
        )
    };
    eprintln!(
        "burst {seconds} s at c={CONCURRENCY}: {ok} acks 2xx, {other} not; {:.0} clicks/s; \
         peak {} connections to Slack ({} opened); peak RSS {} KiB (before the burst {rss_before} KiB); \
         replies: {} sent, {} dropped stale, {} dropped queue full, {} waiting",
        ok as f64 / seconds as f64,
        w.world.slack.connections().peak(),
        w.world.slack.connections().accepted(),
        bot.peak_rss_kib(),
        outcome("sent"),
        outcome("dropped_stale"),
        outcome("dropped_queue_full"),
        sample(&metrics, "scim_rotator_slack_replies_waiting"),
    );
    assert_eq!(other, 0, "every click acknowledged with 2xx");
    assert!(w.world.slack.connections().peak() <= MAX_OUTBOUND);
    bot.kill_soon().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slack_client_never_holds_more_connections_than_its_cap() {
    let app = TestApp::start(SlackMode::Http).await;
    /// Calls made at once, each answered slowly so that they overlap.
    const CALLS: usize = 40;
    for _ in 0..CALLS {
        app.slack()
            .slow_next("chat.postEphemeral", Duration::from_millis(150));
    }
    app.slack().connections().reset_peak();
    let api = app.app.bot.api.clone();
    let calls: Vec<_> = (0..CALLS)
        .map(|n| {
            let api = api.clone();
            tokio::spawn(async move {
                api.post_ephemeral(CHANNEL, MEMBER, None, format!("reply {n}"))
                    .await
            })
        })
        .collect();
    for call in calls {
        call.await
            .unwrap()
            .expect("every call gets through, in turn");
    }
    let peak = app.slack().connections().peak();
    assert!(
        peak <= pool::MAX_CONNECTIONS,
        "{CALLS} concurrent calls held {peak} connections (cap {})",
        pool::MAX_CONNECTIONS
    );
    assert_eq!(
        app.slack()
            .ephemerals()
            .iter()
            .filter(|e| e.text.starts_with("reply "))
            .count(),
        CALLS
    );
}
