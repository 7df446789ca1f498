//! Tests that install a process-wide log subscriber run in a process of their own.
//!
//! tracing caches per call site whether anyone listens, and a global subscriber would capture
//! every other test's lines too; so such a test is an `#[ignore]`d body that a plain test
//! re-runs alone in a child process of this same test binary.

use std::process::Command;

/// Set in the child process, so the body knows it runs alone.
const CHILD_ENV: &str = "SCIM_ROTATOR_ISOLATED_TEST";

/// True inside the child process started by [`run`]: the body may install global state.
pub fn inside() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// Runs the ignored test `path` (e.g. `secret_hygiene::body`) alone in a child process and
/// fails with its output when it fails.
pub fn run(path: &str) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(exe)
        .args([
            path,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{path} failed in its own process:\n{stdout}\n{stderr}"
    );
}
