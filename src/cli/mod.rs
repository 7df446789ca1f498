//! The command line: `run`, `demo`, `check-config`, `sweep`, `tokens …`, `audit …`.
//! Parsing is clap's; each subcommand lives in its own module and returns an [`Exit`].

mod audit;
mod check;
mod check_slack_app;
mod store_view;
mod sweep;
mod tokens;

use crate::telemetry::{self, LogFormat};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "scim-rotator",
    version,
    about = "Keeps the Entra ID → AWS IAM Identity Center SCIM token from expiring unnoticed, and rotates it through a guided, approved, audited Slack conversation."
)]
pub struct Cli {
    /// The configuration file (see config.example.toml).
    #[arg(
        long,
        global = true,
        default_value = "scim-rotator.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
    /// More log output: -v for debug, -vv for trace (RUST_LOG, when set, wins).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value = "human")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bot: Slack transport, expiry monitor, HTTP endpoints.
    Run,
    /// Play a whole rotation against local fakes of Slack, Entra and AWS (no account needed).
    Demo(DemoArgs),
    /// Check the configuration file, then the connections it names (Slack, Graph, AWS SCIM).
    CheckConfig,
    /// Run one expiry sweep now (or as if at --at) and post what it finds.
    Sweep(SweepArgs),
    /// Show or register the SCIM tokens the bot knows about.
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
    /// Export or verify the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Wait for Enter between steps.
    #[arg(long)]
    pub step: bool,
    /// Print the raw Block Kit and API calls too.
    #[arg(long, conflicts_with = "web")]
    pub json: bool,
    /// Enter the token through the bot's one-time web form instead of the Slack modal, and
    /// print the link and the page as a person sees it.
    #[arg(long, conflicts_with = "web")]
    pub web_form: bool,
    /// Play it yourself in a browser: a local web app with the channel, the AWS console and
    /// the Entra provisioning page, until Ctrl-C.
    #[arg(long, conflicts_with = "step")]
    pub web: bool,
    /// Where the web app listens (loopback by default; port 0 picks a free one).
    #[arg(long, value_name = "ADDR", requires = "web", default_value = crate::demo::web::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
}

#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// Sweep as if it were this time (RFC 3339, or YYYY-MM-DD for midnight UTC), e.g. to
    /// preview the warning schedule. Default: now.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// Print what would be posted; change nothing (the database is opened read-only and
    /// Slack is not called; Microsoft Graph is read, as a sweep reads it).
    #[arg(long)]
    pub dry_run: bool,
}

/// How a subcommand ended.
#[derive(Debug)]
pub enum Exit {
    Ok,
    /// Bad input (config, arguments): one line, exit code 2.
    Usage(String),
    /// The command ran and found a problem (e.g. a broken audit chain): exit code 1.
    Failed(String),
}

impl Exit {
    fn code(&self) -> ExitCode {
        match self {
            Exit::Ok => ExitCode::SUCCESS,
            Exit::Failed(_) => ExitCode::from(1),
            Exit::Usage(_) => ExitCode::from(2),
        }
    }
}

/// The binary's entry point.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo prints a story on stdout; the bot's own info lines would interleave with it.
    let quiet = matches!(cli.command, Command::Demo(_)) && cli.verbose == 0;
    telemetry::init(cli.verbose, cli.log_format, quiet);
    log_panics();
    let exit = match run(cli) {
        Ok(exit) => exit,
        Err(error) => Exit::Failed(format!("{error:#}")),
    };
    match &exit {
        Exit::Ok => {}
        Exit::Usage(message) | Exit::Failed(message) => eprintln!("error: {message}"),
    }
    exit.code()
}

fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Tokens(command) => tokens::run(&cli.config, command),
        Command::Audit(command) => audit::run(&cli.config, command),
        Command::Run => {
            let config = match load_config(&cli.config) {
                Ok(config) => config,
                Err(exit) => return Ok(exit),
            };
            runtime()?.block_on(run_bot(config))
        }
        Command::CheckConfig => {
            let config = match load_config(&cli.config) {
                Ok(config) => config,
                Err(exit) => return Ok(exit),
            };
            runtime()?.block_on(check::run(&cli.config, &config))
        }
        Command::Sweep(args) => {
            let config = match load_config(&cli.config) {
                Ok(config) => config,
                Err(exit) => return Ok(exit),
            };
            runtime()?.block_on(sweep::run(&config, &args))
        }
        Command::Demo(args) => runtime()?.block_on(demo(args)),
    }
}

/// Loads the configuration; a problem is one line and exit code 2.
fn load_config(path: &std::path::Path) -> Result<crate::config::Config, Exit> {
    crate::config::Config::load(path).map_err(|error| Exit::Usage(error.to_string()))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

async fn run_bot(config: crate::config::Config) -> anyhow::Result<Exit> {
    let options = crate::app::RunOptions {
        clock: std::sync::Arc::new(crate::clock::SystemClock),
        retry: crate::retry::RetryPolicy::default(),
        run_scheduler: true,
        slack_pacing: crate::slack::api::Pacing::SlackLimits,
        socket_liveness: crate::slack::socket::SocketLiveness::PRODUCTION,
    };
    let app = crate::app::RunningApp::start(&config, options).await?;
    crate::app::shutdown_signal().await;
    tracing::info!("shutting down");
    app.shutdown().await;
    Ok(Exit::Ok)
}

/// Parses a date given on the command line: `YYYY-MM-DD` (midnight UTC) or RFC 3339.
pub fn parse_date(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|day| day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
        .map_err(|_| {
            format!("{text:?} is not a date: use YYYY-MM-DD or RFC 3339 (2027-01-31T09:00:00Z)")
        })
}

async fn demo(args: DemoArgs) -> anyhow::Result<Exit> {
    if args.web {
        let options = crate::demo::web::WebOptions {
            listen: args.listen,
            clock: std::sync::Arc::new(crate::clock::SystemClock),
            slack_pacing: crate::slack::api::Pacing::SlackLimits,
        };
        let mut out = std::io::stdout();
        return match crate::demo::web::run(options, &mut out).await {
            Ok(()) => Ok(Exit::Ok),
            Err(error) => Ok(Exit::Failed(format!("demo --web failed: {error:#}"))),
        };
    }
    let options = crate::demo::DemoOptions {
        step: args.step,
        json: args.json,
        // Whole minutes: the story's times read like a person's.
        start: chrono::DurationRound::duration_trunc(
            chrono::Utc::now(),
            chrono::Duration::minutes(1),
        )
        .unwrap_or_else(|_| chrono::Utc::now()),
        slack_pacing: crate::slack::api::Pacing::SlackLimits,
        web_form: args.web_form,
    };
    let mut out = std::io::stdout().lock();
    let mut input = std::io::stdin().lock();
    match crate::demo::run(options, &mut out, &mut input).await {
        Ok(()) => Ok(Exit::Ok),
        Err(error) => Ok(Exit::Failed(format!("demo failed: {error:#}"))),
    }
}

/// A panic in a task (a request handler, the presenter) ends that task, not the bot; it must
/// still be seen. Logged through tracing, so it reaches the same place (and format) as the
/// rest. Our code never panics with a secret in its message.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        tracing::error!(%location, %message, "panic");
    }));
}
