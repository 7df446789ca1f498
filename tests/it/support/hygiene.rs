//! Secret hygiene, checked after every story: no token the story entered may appear in any
//! output it produced (log lines at trace, stderr, what the bot sent to Slack, the database
//! files). Shared by the in-process [`super::story`] and the real binary's
//! [`super::binary::BinaryWorld`].

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A log (or stderr) sink kept in memory, searchable at the end.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    pub fn push_line(&self, line: &str) {
        let mut buffer = self.0.lock().unwrap();
        buffer.extend_from_slice(line.as_bytes());
        buffer.push(b'\n');
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Installs the product's own log subscriber for the whole process, at `RUST_LOG=trace` as an
/// operator debugging the bot would set it, writing JSON lines into the returned capture.
/// Only for a test body running alone in its process ([`super::isolated`]).
pub fn capture_all_logs() -> Capture {
    assert!(
        super::isolated::inside(),
        "a global subscriber in a shared process"
    );
    let logs = Capture::default();
    scim_rotator::telemetry::install(
        scim_rotator::telemetry::filter(Some("trace"), 0),
        scim_rotator::telemetry::LogFormat::Json,
        logs.clone(),
    );
    logs
}

/// Every file of the database (`bot.db`, `-wal`, `-shm`, journals) in `dir`, as text.
pub fn database_files(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("bot.db") {
            text.push_str(&String::from_utf8_lossy(
                &std::fs::read(entry.path()).unwrap(),
            ));
        }
    }
    text
}

/// Whether a value typed into the token field is worth searching for: a blank or a short word
/// may stand anywhere for other reasons; anything token-like may not.
pub fn searchable(secret: &str) -> bool {
    let secret = secret.trim();
    secret.len() >= 12 && !secret.contains(char::is_whitespace)
}

/// Fails, naming the output (never printing the token), when any secret appears in any output.
pub fn assert_absent(secrets: &[String], outputs: &[(&str, String)]) {
    for (what, output) in outputs {
        for (n, secret) in secrets.iter().enumerate() {
            assert!(
                !output.contains(secret.as_str()),
                "token #{n} entered or generated in this test ({} characters) appears in {what}",
                secret.len()
            );
        }
    }
}
