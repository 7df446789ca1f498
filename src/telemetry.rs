//! Logging: `tracing` with an `EnvFilter` (default `info`), human-readable on a terminal,
//! JSON lines with `--log-format json`, always on stderr (stdout carries command output).
//!
//! Third-party crates are capped at `info` whatever `RUST_LOG` says: at `debug`/`trace`
//! slack-morphism logs raw Socket Mode frames and HTTP bodies, and the HTTP stacks log
//! headers — any of which may carry the SCIM token or a bearer token.

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Crates whose verbose logs may contain request bodies or headers.
pub const CAPPED_TARGETS: &[&str] = &[
    "slack_morphism",
    "hyper",
    "hyper_util",
    "hyper_rustls",
    "h2",
    "reqwest",
    "rustls",
    "tungstenite",
    "tokio_tungstenite",
    "axum",
    "tower",
    "tower_http",
    "rusqlite",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// The filter: `RUST_LOG` (or `info`, raised by `-v` to `debug`, `-vv` to `trace` for this
/// crate). [`CAPPED_TARGETS`] are held at `info` separately, by [`below_the_cap`], because an
/// `EnvFilter` lets a more specific directive (`slack_morphism::hyper_tokio=trace`) or a span
/// directive (`[run_checks]=trace`) override any cap written into it.
pub fn filter(rust_log: Option<&str>, verbosity: u8) -> EnvFilter {
    let base = match (rust_log, verbosity) {
        (Some(spec), _) if !spec.trim().is_empty() => spec.to_owned(),
        (_, 0) => "info".to_owned(),
        (_, 1) => "info,scim_rotator=debug".to_owned(),
        _ => "info,scim_rotator=trace".to_owned(),
    };
    EnvFilter::builder().parse_lossy(base)
}

/// Whether an event or span of `metadata` may be recorded at all: anything from a capped
/// crate above `info` is dropped, whatever the `EnvFilter` says.
pub fn below_the_cap(metadata: &Metadata<'_>) -> bool {
    *metadata.level() <= Level::INFO || !is_capped(metadata.target())
}

fn is_capped(target: &str) -> bool {
    CAPPED_TARGETS.iter().any(|capped| {
        target == *capped
            || (target.starts_with(capped) && target[capped.len()..].starts_with("::"))
    })
}

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
/// `quiet`: only warnings and errors unless `RUST_LOG` says otherwise.
pub fn init(verbosity: u8, format: LogFormat, quiet: bool) {
    let rust_log = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| quiet.then(|| "warn".to_owned()));
    install(
        filter(rust_log.as_deref(), verbosity),
        format,
        std::io::stderr,
    );
}

/// Installs a subscriber writing to `writer` (tests capture logs this way): `filter` and the
/// cap both apply.
pub fn install<W>(filter: EnvFilter, format: LogFormat, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let capped = filter.and(filter_fn(below_the_cap));
    let result = match format {
        LogFormat::Human => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_filter(capped),
            )
            .try_init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(writer)
                    .with_filter(capped),
            )
            .try_init(),
    };
    // Err: a subscriber is already installed (tests); keep that one.
    drop(result);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;
    use tracing::metadata::Kind;

    fn metadata(target: &'static str, level: Level) -> Metadata<'static> {
        static CALLSITE: tracing::callsite::DefaultCallsite =
            tracing::callsite::DefaultCallsite::new(&META);
        static META: Metadata<'static> = tracing::metadata!(
            name: "test",
            target: "test",
            level: Level::TRACE,
            fields: &[],
            callsite: &CALLSITE,
            kind: Kind::EVENT,
        );
        Metadata::new(
            "test",
            target,
            level,
            None,
            None,
            None,
            tracing::field::FieldSet::new(&[], tracing::callsite::Identifier(&CALLSITE)),
            Kind::EVENT,
        )
    }

    #[test]
    fn third_party_crates_stay_at_info_whatever_rust_log_says() {
        assert!(!below_the_cap(&metadata(
            "slack_morphism::hyper_tokio::socket_mode",
            Level::TRACE
        )));
        assert!(!below_the_cap(&metadata("reqwest::connect", Level::DEBUG)));
        assert!(!below_the_cap(&metadata("hyper", Level::TRACE)));
        assert!(below_the_cap(&metadata(
            "slack_morphism::listener",
            Level::INFO
        )));
        assert!(below_the_cap(&metadata(
            "scim_rotator::engine",
            Level::TRACE
        )));
        assert!(
            below_the_cap(&metadata("hyperactive", Level::TRACE)),
            "only whole crate names are capped"
        );
    }
}
