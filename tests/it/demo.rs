//! The demo's code path, start to end, against the sandbox: it succeeds, and its transcript
//! (with the sandbox's random ids masked) is what a newcomer reads.

use chrono::{TimeZone, Utc};
use scim_rotator::demo::{DemoOptions, run};
use scim_rotator::slack::api::Pacing;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_plays_a_whole_rotation() {
    let mut out = Vec::new();
    let mut input = std::io::Cursor::new(Vec::new());
    let options = DemoOptions {
        step: false,
        json: false,
        start: Utc.with_ymd_and_hms(2027, 3, 1, 9, 0, 0).unwrap(),
        slack_pacing: Pacing::Unpaced,
        web_form: false,
    };
    let result = run(options, &mut out, &mut input).await;
    let transcript = String::from_utf8(out).unwrap();
    if let Err(error) = result {
        panic!("the demo failed: {error:#}\n{transcript}");
    }
    insta::assert_snapshot!(mask_random_ids(&transcript));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_plays_the_web_form_path() {
    let mut out = Vec::new();
    let mut input = std::io::Cursor::new(Vec::new());
    let options = DemoOptions {
        step: false,
        json: false,
        start: Utc.with_ymd_and_hms(2027, 3, 1, 9, 0, 0).unwrap(),
        slack_pacing: Pacing::Unpaced,
        web_form: true,
    };
    let result = run(options, &mut out, &mut input).await;
    let transcript = String::from_utf8(out).unwrap();
    if let Err(error) = result {
        panic!("the demo failed: {error:#}\n{transcript}");
    }
    for expected in [
        "The link: http://127.0.0.1:",
        "only visible to lee",
        "│ # New SCIM token for prod-org",
        "│ [ •••••••••••••••••••••••• ]",
        "│ [ Check and save the token ]",
        "│ ✗ The checks stopped",
        "│ ✓ The new token works",
        "without the page's cookie: HTTP 410",
        "intake_link_issued",
        "intake_link_used",
        "audit verify: intact",
    ] {
        assert!(
            transcript.contains(expected),
            "{expected:?} missing:\n{transcript}"
        );
    }
    assert!(
        !transcript.contains("┌─"),
        "no modal is drawn when the form is the only way in"
    );
}

/// The sandbox names tokens and tenants with random UUIDs, and fingerprints follow from
/// random secrets: number each distinct one in order of appearance, so the snapshot still
/// shows which mentions are the same token.
fn mask_random_ids(text: &str) -> String {
    let mut out = text.to_owned();
    for (pattern, label) in [
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "uuid",
        ),
        (r"\b[0-9a-f]{12}\b", "fingerprint"),
    ] {
        let regex = regex_lite::Regex::new(pattern).unwrap();
        let mut seen: Vec<String> = Vec::new();
        for found in regex.find_iter(text) {
            if !seen.iter().any(|s| s == found.as_str()) {
                seen.push(found.as_str().to_owned());
            }
        }
        for (n, value) in seen.iter().enumerate() {
            out = out.replace(value.as_str(), &format!("<{label}-{}>", n + 1));
        }
    }
    out
}

/// `scim-rotator demo` as a newcomer runs it: exit 0, every step shown, and no file left in
/// the working directory or the temporary directory.
#[test]
fn the_demo_command_succeeds_and_leaves_no_files_behind() {
    let cwd = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_scim-rotator"))
        .arg("demo")
        .current_dir(cwd.path())
        .env("TMPDIR", tmp.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for step in [
        "warns the channel",
        "clicks Start rotation",
        "is told why not",
        "approves",
        "with a typo",
        "correctly",
        "confirms",
        "audit verify: intact",
    ] {
        assert!(stdout.contains(step), "missing {step:?}:\n{stdout}");
    }
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "files left in the working directory"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "files left in the temporary directory"
    );
    assert!(
        output.stderr.is_empty(),
        "a quiet run: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
