//! Logging: `tracing` with an `EnvFilter` (default `info`), human-readable on a terminal,
//! JSON lines with `--log-format json`, always on stderr (stdout carries command output).
//!
//! Third-party crates are capped at `info` whatever `RUST_LOG` says: at `debug`/`trace`
//! slack-morphism logs raw Socket Mode frames and HTTP bodies, and the HTTP stacks log
//! headers — any of which may carry the SCIM token or a bearer token.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

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
/// crate), with [`CAPPED_TARGETS`] held at `info`.
pub fn filter(rust_log: Option<&str>, verbosity: u8) -> EnvFilter {
    let base = match (rust_log, verbosity) {
        (Some(spec), _) if !spec.trim().is_empty() => spec.to_owned(),
        (_, 0) => "info".to_owned(),
        (_, 1) => "info,scim_rotator=debug".to_owned(),
        _ => "info,scim_rotator=trace".to_owned(),
    };
    let mut filter = EnvFilter::builder().parse_lossy(base);
    for target in CAPPED_TARGETS {
        if let Ok(directive) = format!("{target}=info").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(verbosity: u8, format: LogFormat) {
    let rust_log = std::env::var("RUST_LOG").ok();
    install(
        filter(rust_log.as_deref(), verbosity),
        format,
        std::io::stderr,
    );
}

/// Installs a subscriber writing to `writer` (tests capture logs this way).
pub fn install<W>(filter: EnvFilter, format: LogFormat, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = match format {
        LogFormat::Human => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    // Err: a subscriber is already installed (tests); keep that one.
    drop(result);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn third_party_crates_stay_at_info_even_at_trace() {
        let text = filter(Some("trace"), 0).to_string();
        assert!(text.contains("slack_morphism=info"), "{text}");
        assert!(text.contains("reqwest=info"), "{text}");
        assert!(text.contains("trace"), "{text}");
    }
}
