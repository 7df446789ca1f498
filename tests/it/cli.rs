//! The binary as an operator uses it: exit codes, one-line errors, tokens and audit commands.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("scim-rotator.toml"),
            format!(
                "[store]\npath = {:?}\n\n[[connection]]\nname = \"prod\"\n\n[[connection]]\nname = \"sandbox\"\n",
                dir.path().join("bot.db").display().to_string()
            ),
        )
        .unwrap();
        Workspace { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("scim-rotator.toml")
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("bot.db")
    }

    fn run(&self, args: &[&str]) -> Output {
        run_in(
            self.dir.path(),
            &[&["--config", self.config().to_str().unwrap()], args].concat(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn add_tokens(&self) {
        self.ok(&[
            "tokens",
            "add",
            "--connection",
            "prod",
            "--token-id",
            "tok-a",
            "--created",
            "2026-01-10",
        ]);
        self.ok(&[
            "tokens",
            "add",
            "--connection",
            "sandbox",
            "--token-id",
            "tok-b",
            "--created",
            "2026-03-01",
            "--expires",
            "2027-02-01",
        ]);
        self.ok(&[
            "tokens",
            "add",
            "--connection",
            "prod",
            "--token-id",
            "tok-c",
            "--created",
            "2026-06-01",
        ]);
    }

    /// Runs SQL against the database file directly, as someone tampering with it would.
    fn tamper(&self, sql: &str) {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        conn.execute_batch(&format!(
            "DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete; {sql}"
        ))
        .unwrap();
    }
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scim-rotator"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_missing_config_file_is_one_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_in(dir.path(), &["--config", "nope.toml", "tokens", "list"]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with("error: nope.toml: cannot read the configuration file"),
        "{text}"
    );
}

#[test]
fn a_malformed_config_file_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[store]\npath = \"x.db\"\n[slack\n",
    )
    .unwrap();
    let output = run_in(dir.path(), &["--config", "bad.toml", "audit", "verify"]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("error: bad.toml:3:"), "{text}");
}

#[test]
fn tokens_add_then_list_round_trips() {
    let ws = Workspace::new();
    let added = ws.ok(&[
        "tokens",
        "add",
        "--connection",
        "prod",
        "--token-id",
        "tok-a",
        "--created",
        "2026-01-10",
    ]);
    assert!(
        added.contains("Recorded token tok-a for prod: expires 2027-01-10"),
        "{added}"
    );
    let listed = ws.ok(&["tokens", "list"]);
    let row = listed.lines().find(|l| l.starts_with("prod")).unwrap();
    assert!(
        row.contains("tok-a")
            && row.contains("2026-01-10")
            && row.contains("2027-01-10")
            && row.contains("cli")
            && row.contains("current"),
        "{row}"
    );

    ws.ok(&[
        "tokens",
        "add",
        "--connection",
        "prod",
        "--token-id",
        "tok-c",
        "--created",
        "2026-06-01",
    ]);
    let current = ws.ok(&["tokens", "list"]);
    assert!(
        current.contains("tok-c") && !current.contains("tok-a"),
        "{current}"
    );
    let all = ws.ok(&["tokens", "list", "--all"]);
    assert!(all.contains("tok-a") && all.contains("replaced"), "{all}");
}

#[test]
fn tokens_add_refuses_bad_input_and_changes_nothing() {
    let ws = Workspace::new();
    for (args, expected) in [
        (
            vec![
                "--connection",
                "staging",
                "--token-id",
                "t",
                "--created",
                "2026-01-01",
            ],
            "no connection named \"staging\"",
        ),
        (
            vec![
                "--connection",
                "prod",
                "--token-id",
                "t",
                "--created",
                "last tuesday",
            ],
            "--created: \"last tuesday\" is not a date",
        ),
        (
            vec![
                "--connection",
                "prod",
                "--token-id",
                "t",
                "--created",
                "2026-01-01",
                "--expires",
                "2025-01-01",
            ],
            "--expires: must be after --created",
        ),
        (
            vec![
                "--connection",
                "prod",
                "--token-id",
                " ",
                "--created",
                "2026-01-01",
            ],
            "--token-id: must not be empty",
        ),
    ] {
        let output = ws.run(&[&["tokens", "add"][..], &args].concat());
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    assert!(ws.ok(&["tokens", "list"]).contains("No tokens recorded"));
}

#[test]
fn audit_export_emits_json_lines() {
    let ws = Workspace::new();
    ws.add_tokens();
    let out = ws.ok(&["audit", "export", "--format", "jsonl"]);
    let records: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["seq"], 1);
    assert_eq!(records[0]["action"], "token_registered");
    assert_eq!(records[1]["details"]["token_id"], "tok-b");
    let filtered = ws.ok(&["audit", "export", "--connection", "sandbox"]);
    assert_eq!(filtered.lines().count(), 1);
}

#[test]
fn audit_export_emits_rfc_4180_csv() {
    let ws = Workspace::new();
    ws.add_tokens();
    let out = ws.ok(&["audit", "export", "--format", "csv"]);
    assert!(out.contains("\r\n"), "RFC 4180 lines end in CRLF");
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "seq",
            "at",
            "actor",
            "action",
            "connection",
            "rotation_id",
            "details",
            "hash"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    // The details column is JSON with quotes and commas, quoted as RFC 4180 requires.
    let details: serde_json::Value = serde_json::from_str(&rows[2][6]).unwrap();
    assert_eq!(details["token_id"], "tok-c");
    assert!(
        out.contains("\"{\"\""),
        "embedded quotes are doubled: {out}"
    );
}

#[test]
fn audit_verify_passes_on_an_intact_log() {
    let ws = Workspace::new();
    ws.add_tokens();
    assert!(ws.ok(&["audit", "verify"]).contains("intact: 3 records"));
}

#[test]
fn audit_verify_catches_an_edited_row() {
    let ws = Workspace::new();
    ws.add_tokens();
    ws.tamper("UPDATE audit_log SET actor = 'U_SOMEONE_ELSE' WHERE seq = 2;");
    let output = ws.run(&["audit", "verify"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("at record 2"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn audit_verify_catches_a_deleted_row() {
    let ws = Workspace::new();
    ws.add_tokens();
    ws.tamper("DELETE FROM audit_log WHERE seq = 2;");
    let output = ws.run(&["audit", "verify"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("at record 2"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn audit_verify_catches_a_swapped_pair() {
    let ws = Workspace::new();
    ws.add_tokens();
    ws.tamper(
        "UPDATE audit_log SET seq = 100 WHERE seq = 2;
         UPDATE audit_log SET seq = 2 WHERE seq = 3;
         UPDATE audit_log SET seq = 3 WHERE seq = 100;",
    );
    let output = ws.run(&["audit", "verify"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("at record 2"),
        "{}",
        stderr(&output)
    );
}
