//! scim-rotator side by side with a Bolt for JavaScript app, on 127.0.0.1 only.
//!
//! Run it through `bash bench/side-by-side.sh` (it builds the release binary, installs the
//! Bolt peer in a temporary directory and pins this program to the load-generator core).
//! Each round starts every server afresh against a fresh sandbox (fake Slack, Microsoft and
//! AWS, in this process), interleaved: bot, Bolt, bare responder; HTTP at 1, 10 and 50
//! connections, ack only and answered with an ephemeral; then Socket Mode; then the bot with
//! Microsoft login and Graph hanging. It prints the medians and ratios, and writes every
//! run's figures to `<scratch>/samples.tsv`. Everything it starts is stopped before it exits.

mod loadgen;
mod report;
mod servers;

use loadgen::{Phase, Template, UNIQUE};
use report::Samples;
use scim_rotator::clock::SystemClock;
use scim_rotator::slack::ids;
use scim_sandbox::SandboxWorld;
use scim_sandbox::people::{CHANNEL, MEMBER};
use scim_sandbox::slack::{EnvelopeKind, FakeSlack, identity};
use scim_sandbox::{Fault, Route};
use serde_json::{Value, json};
use servers::{Programs, Side, Transport};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONCURRENCY: [usize; 3] = [1, 10, 50];
const SOCKET_WINDOW: usize = 10;

/// The most signed requests one HTTP phase sends (warm-up included), below the bot's replay
/// guard (`slack::replay::MAX_REMEMBERED`, 65 536 signed requests remembered for the
/// 5-minute signature window; when it is full of live entries the bot refuses with 503, fail
/// closed). Slack delivers a few hundred requests a second at most; a phase at 40 000 a
/// second would otherwise measure that refusal. A phase that spends it ends early and is
/// timed as it ran.
const REPLAY_BUDGET: u64 = 60_000;

struct Options {
    programs: Programs,
    /// `--profile N`: only start the bot (under `SBS_BOT_WRAP`, if set), send it `N` clicks
    /// one after another, and stop it: a fixed amount of work for callgrind or perf.
    profile: Option<u64>,
    /// With `--profile`: the clicks are answered with an ephemeral (`--reply`), else ack only.
    reply: bool,
    rounds: usize,
    warmup: Duration,
    measure: Duration,
}

fn parse_args() -> Options {
    let mut args = std::env::args().skip(1);
    let mut bot = None;
    let mut bolt_dir = None;
    let mut server_cpu = "0".to_owned();
    let mut scratch = None;
    let mut rounds = 3;
    let mut seconds = 2.0;
    let mut profile = None;
    let mut reply = false;
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--bare-responder" => {
                let port = value().parse().expect("--bare-responder PORT");
                servers::bare_responder(port);
                std::process::exit(0);
            }
            "--bot" => bot = Some(PathBuf::from(value())),
            "--bolt-dir" => bolt_dir = Some(PathBuf::from(value())),
            "--server-cpu" => server_cpu = value(),
            "--scratch" => scratch = Some(PathBuf::from(value())),
            "--rounds" => rounds = value().parse().expect("--rounds N"),
            "--profile" => profile = Some(value().parse().expect("--profile CLICKS")),
            "--reply" => reply = true,
            "--seconds" => seconds = value().parse().expect("--seconds S"),
            other => panic!(
                "unknown argument {other}; use --bot PATH --bolt-dir DIR --scratch DIR \
                 [--server-cpu N] [--rounds N] [--seconds S] | --profile CLICKS [--reply]"
            ),
        }
    }
    Options {
        programs: Programs {
            bot: bot.expect("--bot PATH (the release scim-rotator)"),
            bolt_dir: bolt_dir
                .or_else(|| profile.map(|_| PathBuf::new()))
                .expect("--bolt-dir DIR (the Bolt peer, npm ci done)"),
            myself: std::env::current_exe().expect("this program's path"),
            server_cpu,
            scratch: scratch.expect("--scratch DIR"),
        },
        profile,
        reply,
        rounds,
        warmup: Duration::from_millis(500),
        measure: Duration::from_secs_f64(seconds),
    }
}

fn main() {
    let options = parse_args();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    if let Some(clicks) = options.profile {
        runtime.block_on(profile(&options, clicks));
        return;
    }
    let samples = runtime.block_on(run(&options));
    let tsv = options.programs.scratch.join("samples.tsv");
    std::fs::write(&tsv, samples.tsv()).expect("samples written");
    println!();
    println!("## Medians over {} interleaved rounds", options.rounds);
    println!();
    println!("{}", samples.table(Side::Bot.name(), Side::Bolt.name()));
    println!("{}", targets(&samples));
}

/// A fresh sandbox with one message carrying the two buttons the load clicks.
async fn world() -> (SandboxWorld, String) {
    let world = SandboxWorld::start(Arc::new(SystemClock), chrono::Duration::days(300)).await;
    let posted: Value = reqwest::Client::new()
        .post(format!("{}/chat.postMessage", world.slack.api_url()))
        .bearer_auth(identity::BOT_TOKEN)
        .json(&json!({
            "channel": CHANNEL,
            "text": "Rotation request",
            "blocks": [{
                "type": "actions",
                "block_id": "bench",
                "elements": [
                    {"type": "button", "action_id": ids::APPROVE, "value": "999999",
                     "text": {"type": "plain_text", "text": "Approve"}},
                    {"type": "button", "action_id": ids::OPEN_CONSOLE,
                     "url": "https://eu-west-1.console.aws.amazon.com/singlesignon/home",
                     "text": {"type": "plain_text", "text": "Open IAM Identity Center"}}
                ]
            }]
        }))
        .send()
        .await
        .expect("the fake Slack answers")
        .json()
        .await
        .expect("a JSON answer");
    let ts = posted["ts"]
        .as_str()
        .unwrap_or_else(|| panic!("chat.postMessage failed: {posted}"))
        .to_owned();
    (world, ts)
}

/// The click a member makes: `approve` on a rotation that does not exist (answered with an
/// ephemeral, as Bolt answers with `REPLY=1`) or the bot's link button "Open IAM Identity
/// Center" (Slack opens the link and sends the click; the bot only acknowledges it).
fn click(slack: &FakeSlack, ts: &str, reply: bool) -> Value {
    let action = if reply {
        ids::APPROVE
    } else {
        ids::OPEN_CONSOLE
    };
    let mut payload = slack
        .block_actions_payload(MEMBER, CHANNEL, ts, action)
        .expect("the button is on the message");
    payload["trigger_id"] = json!(UNIQUE);
    payload
}

fn ephemerals(slack: &FakeSlack) -> usize {
    slack.calls_to("chat.postEphemeral").len()
}

/// Waits until the count of ephemerals stops growing (at most 10 s).
async fn settled_ephemerals(slack: &FakeSlack) -> usize {
    let until = Instant::now() + Duration::from_secs(10);
    let mut last = ephemerals(slack);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = ephemerals(slack);
        if now == last {
            break;
        }
        last = now;
    }
    last
}

async fn run(options: &Options) -> Samples {
    let mut samples = Samples::default();
    let programs = &options.programs;
    for round in 1..=options.rounds {
        eprintln!("round {round}/{}", options.rounds);
        for side in [Side::Bot, Side::Bolt, Side::Bare] {
            for reply in [false, true] {
                if side == Side::Bare && reply {
                    continue;
                }
                http_round(options, side, reply, round, &mut samples).await;
            }
        }
        for side in [Side::Bot, Side::Bolt] {
            for reply in [false, true] {
                socket_round(programs, options, side, reply, round, &mut samples).await;
            }
        }
        slow_remote_round(options, round, &mut samples).await;
    }
    samples
}

/// `--profile`: the bot alone, a fixed number of clicks, then a clean stop (SIGTERM), so a
/// profiler wrapping it (`SBS_BOT_WRAP`) writes its figures.
async fn profile(options: &Options, clicks: u64) {
    let (world, ts) = world().await;
    let label = format!("profile-{clicks}");
    let server = servers::start(
        &options.programs,
        Side::Bot,
        Transport::Http,
        options.reply,
        &world,
        &label,
    )
    .await;
    println!("exec → ready: {:.1} ms", ms(server.ready_after));
    let template = Template::interaction(
        "/slack/interactivity",
        &click(&world.slack, &ts, options.reply),
        identity::SIGNING_SECRET,
    );
    let phase = loadgen::count(server.addr, &template, clicks).await;
    println!(
        "{} clicks acked, {} failed ({}), {:.0}/s",
        phase.ok_total,
        phase.failed,
        phase.first_failure.as_deref().unwrap_or("none"),
        phase.ok_total as f64 / phase.elapsed.as_secs_f64()
    );
    let (_, peak) = server.rss_mb();
    println!("peak RSS: {peak:.1} MB");
    server.stop();
}

fn record_phase(samples: &mut Samples, row: &str, side: Side, phase: &Phase) {
    samples.add(&format!("{row}: per s"), side.name(), phase.per_sec());
    samples.add(
        &format!("{row}: p50 ms"),
        side.name(),
        phase.percentile_ms(0.50),
    );
    samples.add(
        &format!("{row}: p99 ms"),
        side.name(),
        phase.percentile_ms(0.99),
    );
    if phase.failed > 0 {
        eprintln!(
            "  {row} {}: {} failed ({})",
            side.name(),
            phase.failed,
            phase.first_failure.as_deref().unwrap_or("?")
        );
    }
}

async fn http_round(
    options: &Options,
    side: Side,
    reply: bool,
    round: usize,
    samples: &mut Samples,
) {
    let (world, ts) = world().await;
    let mode = if reply { "ephemeral" } else { "ack" };
    let label = format!("r{round}-{}-http-{mode}", side.name().replace(' ', "_"));
    let programs = &options.programs;
    let world_ref = &world;
    let start = |c: usize| {
        let label = format!("{label}-c{c}");
        async move { servers::start(programs, side, Transport::Http, reply, world_ref, &label).await }
    };
    let mut server = start(CONCURRENCY[0]).await;
    let path = match side {
        Side::Bot => "/slack/interactivity",
        _ => "/slack/events",
    };
    let template = Template::interaction(
        path,
        &click(&world.slack, &ts, reply),
        identity::SIGNING_SECRET,
    );
    if !reply {
        samples.add("exec → ready ms", side.name(), ms(server.ready_after));
        tokio::time::sleep(Duration::from_secs(1)).await;
        samples.add("RSS idle MB", side.name(), server.rss_mb().0);
    }
    let before = ephemerals(&world.slack);
    let calls_before = world.slack.calls().len();
    let mut clicks = 0;
    // Only the bot has a replay guard; the others run every phase its full length.
    let budget = if side == Side::Bot {
        REPLAY_BUDGET
    } else {
        u64::MAX
    };
    for c in CONCURRENCY {
        // Each level against a fresh process: its replay guard remembers at most
        // REPLAY_BUDGET signed requests per 5 minutes and then refuses (503) by design.
        if c != CONCURRENCY[0] {
            server.stop();
            server = start(c).await;
        }
        let (cpu_before, started) = (server.cpu_seconds(), Instant::now());
        let phase = loadgen::run(
            server.addr,
            &template,
            c,
            options.warmup,
            options.measure,
            budget,
        )
        .await;
        let busy = (server.cpu_seconds() - cpu_before) / started.elapsed().as_secs_f64();
        samples.add(
            &format!("HTTP {mode} c={c}: server CPU %"),
            side.name(),
            busy * 100.0,
        );
        clicks += phase.ok_total;
        let row = format!("HTTP {mode} c={c}");
        record_phase(samples, &row, side, &phase);
        eprintln!(
            "  {label} c={c}: {:.0}/s p50 {:.2} ms p99 {:.2} ms",
            phase.per_sec(),
            phase.percentile_ms(0.5),
            phase.percentile_ms(0.99)
        );
    }
    if side != Side::Bare {
        let (_, peak) = server.rss_mb();
        samples.add(
            &format!("RSS peak MB, HTTP {mode} (after c=50)"),
            side.name(),
            peak,
        );
        if reply {
            let answered = settled_ephemerals(&world.slack).await - before;
            samples.add(
                "ephemerals sent per acked click",
                side.name(),
                answered as f64 / clicks.max(1) as f64,
            );
        } else {
            let calls = world.slack.calls().len() - calls_before;
            samples.add(
                "Slack calls per ack-only click",
                side.name(),
                calls as f64 / clicks.max(1) as f64,
            );
        }
        let counts = world.slack.connections();
        samples.add(
            &format!("Slack connections opened, HTTP {mode}"),
            side.name(),
            counts.accepted() as f64,
        );
        samples.add(
            &format!("Slack connections most open at once, HTTP {mode}"),
            side.name(),
            counts.peak() as f64,
        );
    }
    server.stop();
}

/// `window` envelopes in flight at once on the fake's Socket Mode server, for the phase.
async fn socket_load(
    slack: &FakeSlack,
    payload: &Value,
    window: usize,
    options: &Options,
) -> Phase {
    let start = Instant::now();
    let counted_from = start + options.warmup;
    let until = counted_from + options.measure;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..window {
        let slack = slack.clone();
        let payload = payload.clone();
        tasks.spawn(async move {
            let mut phase = Phase::default();
            while Instant::now() < until {
                let envelope = slack.envelope(EnvelopeKind::Interactive, payload.clone());
                let sent = Instant::now();
                let acked = slack
                    .send_and_await_ack(envelope, Duration::from_secs(3))
                    .await;
                let counted = sent >= counted_from && Instant::now() <= until;
                match acked {
                    Ok(_) => {
                        phase.ok_total += 1;
                        if counted {
                            phase.ok += 1;
                            phase.latencies_us.push(
                                u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX),
                            );
                        }
                    }
                    Err(error) => {
                        phase.failed += 1;
                        phase.first_failure.get_or_insert(error.to_string());
                    }
                }
            }
            phase
        });
    }
    let mut phase = Phase::default();
    while let Some(part) = tasks.join_next().await {
        let part = part.expect("a socket worker does not panic");
        phase.ok += part.ok;
        phase.ok_total += part.ok_total;
        phase.failed += part.failed;
        phase.latencies_us.extend(part.latencies_us);
        if phase.first_failure.is_none() {
            phase.first_failure = part.first_failure;
        }
    }
    phase.elapsed = options.measure;
    phase.latencies_us.sort_unstable();
    phase
}

async fn socket_round(
    programs: &Programs,
    options: &Options,
    side: Side,
    reply: bool,
    round: usize,
    samples: &mut Samples,
) {
    let (world, ts) = world().await;
    let mode = if reply { "ephemeral" } else { "ack" };
    let label = format!("r{round}-{}-socket-{mode}", side.name().replace(' ', "_"));
    let server = servers::start(programs, side, Transport::SocketMode, reply, &world, &label).await;
    let mut payload = click(&world.slack, &ts, reply);
    payload["trigger_id"] = json!(format!("{}.socket", ts));
    let before = ephemerals(&world.slack);
    let (cpu_before, started) = (server.cpu_seconds(), Instant::now());
    let phase = socket_load(&world.slack, &payload, SOCKET_WINDOW, options).await;
    let busy = (server.cpu_seconds() - cpu_before) / started.elapsed().as_secs_f64();
    let row = format!("Socket Mode {mode}, window {SOCKET_WINDOW}");
    record_phase(samples, &row, side, &phase);
    samples.add(&format!("{row}: server CPU %"), side.name(), busy * 100.0);
    eprintln!(
        "  {label}: {:.0}/s p99 {:.2} ms",
        phase.per_sec(),
        phase.percentile_ms(0.99)
    );
    if reply {
        let answered = settled_ephemerals(&world.slack).await - before;
        samples.add(
            "Socket Mode ephemerals per acked click",
            side.name(),
            answered as f64 / phase.ok_total.max(1) as f64,
        );
    }
    samples.add(
        &format!("RSS peak MB, Socket Mode {mode}"),
        side.name(),
        server.rss_mb().1,
    );
    server.stop();
}

/// The bot with Microsoft login and Graph never answering (its start-up sweep waits on
/// them) while clicks answered with an ephemeral keep coming at c=10.
async fn slow_remote_round(options: &Options, round: usize, samples: &mut Samples) {
    let (world, ts) = world().await;
    for route in [
        Route::Login,
        Route::ListServicePrincipals,
        Route::ListJobs,
        Route::GetJob,
    ] {
        for _ in 0..1000 {
            world.cloud.microsoft.faults().push(route, Fault::Hang);
        }
    }
    let label = format!("r{round}-scim-rotator-slow-remote");
    let server = servers::start(
        &options.programs,
        Side::Bot,
        Transport::Http,
        true,
        &world,
        &label,
    )
    .await;
    let template = Template::interaction(
        "/slack/interactivity",
        &click(&world.slack, &ts, true),
        identity::SIGNING_SECRET,
    );
    let before = ephemerals(&world.slack);
    let phase = loadgen::run(
        server.addr,
        &template,
        10,
        options.warmup,
        options.measure,
        REPLAY_BUDGET,
    )
    .await;
    record_phase(
        samples,
        "HTTP ephemeral c=10, login + Graph hanging",
        Side::Bot,
        &phase,
    );
    let answered = settled_ephemerals(&world.slack).await - before;
    samples.add(
        "ephemerals per acked click, login + Graph hanging",
        Side::Bot.name(),
        answered as f64 / phase.ok_total.max(1) as f64,
    );
    samples.add(
        "RSS peak MB, login + Graph hanging",
        Side::Bot.name(),
        server.rss_mb().1,
    );
    eprintln!(
        "  {label}: {:.0}/s p99 {:.2} ms",
        phase.per_sec(),
        phase.percentile_ms(0.99)
    );
    server.stop();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The targets, each against this run's medians.
fn targets(s: &Samples) -> String {
    let bot = Side::Bot.name();
    let bolt = Side::Bolt.name();
    let bare = Side::Bare.name();
    let m = |row: &str, side: &str| s.median(row, side).unwrap_or(f64::NAN);
    let ratio = |row: &str| m(row, bot) / m(row, bolt);
    let mut lines = vec![
        "| target | measured | met |".to_owned(),
        "|---|---|---|".to_owned(),
    ];
    let mut line = |name: &str, measured: String, met: bool| {
        lines.push(format!(
            "| {name} | {measured} | {} |",
            if met { "yes" } else { "NO" }
        ));
    };
    let r = ratio("HTTP ephemeral c=10: per s");
    line(
        "ephemeral clicks c=10 ≥ 10× Bolt (REPLY=1)",
        format!("{r:.2}×"),
        r >= 10.0,
    );
    let p99 = m("HTTP ephemeral c=10: p99 ms", bot);
    line(
        "ephemeral clicks c=10 p99 ≤ 2 ms",
        format!("{p99:.2} ms"),
        p99 <= 2.0,
    );
    let r = ratio("HTTP ack c=10: per s");
    let ceiling = m("HTTP ack c=10: per s", bot) / m("HTTP ack c=10: per s", bare);
    line(
        "ack only c=10 ≥ 10× Bolt",
        format!(
            "{r:.2}× ({:.0}% of the bare-responder ceiling)",
            ceiling * 100.0
        ),
        r >= 10.0,
    );
    for mode in ["ack", "ephemeral"] {
        let r = ratio(&format!(
            "Socket Mode {mode}, window {SOCKET_WINDOW}: per s"
        ));
        line(
            &format!("Socket Mode {mode} ≥ 3× Bolt"),
            format!("{r:.2}×"),
            r >= 3.0,
        );
    }
    let peak_bot = m("RSS peak MB, HTTP ack (after c=50)", bot)
        .max(m("RSS peak MB, HTTP ephemeral (after c=50)", bot));
    let peak_bolt = m("RSS peak MB, HTTP ack (after c=50)", bolt)
        .max(m("RSS peak MB, HTTP ephemeral (after c=50)", bolt));
    line(
        "peak RSS under c=50 ≤ 0.2× Bolt and ≤ 30 MB",
        format!(
            "{peak_bot:.1} MB = {:.2}× Bolt's {peak_bolt:.1} MB",
            peak_bot / peak_bolt
        ),
        peak_bot <= 30.0 && peak_bot / peak_bolt <= 0.2,
    );
    let ready = m("exec → ready ms", bot);
    line(
        "exec → /readyz ≤ 30 ms",
        format!("{ready:.1} ms"),
        ready <= 30.0,
    );
    lines.join("\n") + "\n"
}
