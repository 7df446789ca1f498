//! Embedded migrations, applied in order at open. `PRAGMA user_version` holds how many
//! have been applied, so re-opening an up-to-date database changes nothing.

/// Each entry is one migration; never edit a released one, append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: tokens, rotations, sent warnings, the audit log.
    r#"
CREATE TABLE tokens (
    id            INTEGER PRIMARY KEY,
    connection    TEXT NOT NULL,
    token_id      TEXT,
    created_at    TEXT,
    expires_at    TEXT,
    source        TEXT NOT NULL CHECK (source IN ('manual', 'rotation', 'aws_health')),
    fingerprint   TEXT CHECK (fingerprint IS NULL OR length(fingerprint) = 12),
    recorded_at   TEXT NOT NULL,
    retired_at    TEXT
);
-- At most one current (not retired) token per connection.
CREATE UNIQUE INDEX tokens_one_current ON tokens (connection) WHERE retired_at IS NULL;

CREATE TABLE rotations (
    id                     INTEGER PRIMARY KEY,
    connection             TEXT NOT NULL,
    state                  TEXT NOT NULL,
    version                INTEGER NOT NULL,
    requested_by           TEXT NOT NULL,
    approved_by            TEXT,
    driven_by              TEXT,
    token_entered_by       TEXT,
    deletion_confirmed_by  TEXT,
    deletion_confirmed_at  TEXT,
    old_token_id           TEXT,
    new_token_id           TEXT,
    new_token_fingerprint  TEXT,
    new_token_created      TEXT,
    new_token_expires      TEXT,
    checks                 TEXT NOT NULL,
    last_error             TEXT,
    channel                TEXT,
    thread_ts              TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    approval_deadline      TEXT NOT NULL
);
-- One rotation in flight per connection, enforced by the database itself.
CREATE UNIQUE INDEX rotations_one_in_flight ON rotations (connection)
    WHERE state NOT IN ('Completed', 'Rejected', 'Cancelled', 'Expired');

-- Slack messages that belong to a rotation (one per step), so steps are updated in place.
CREATE TABLE rotation_messages (
    rotation_id  INTEGER NOT NULL REFERENCES rotations (id),
    step         TEXT NOT NULL,
    channel      TEXT NOT NULL,
    ts           TEXT NOT NULL,
    PRIMARY KEY (rotation_id, step)
);

-- Warnings already sent, so none is sent twice (per token record and threshold).
CREATE TABLE sent_warnings (
    connection   TEXT NOT NULL,
    token_row    INTEGER NOT NULL,
    threshold    TEXT NOT NULL,
    sent_at      TEXT NOT NULL,
    channel      TEXT,
    ts           TEXT,
    PRIMARY KEY (connection, token_row, threshold)
);

-- Small pieces of monitor state (Graph failure counts, quarantine series seen).
CREATE TABLE monitor_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    connection   TEXT,
    rotation_id  INTEGER,
    details      TEXT NOT NULL,
    hash         TEXT NOT NULL
);
-- The chain's head, written in the same transaction as each record, so that losing the
-- last records (which a chain alone cannot show) is caught too.
CREATE TABLE audit_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq  INTEGER NOT NULL,
    last_hash TEXT NOT NULL
);
-- Append-only: the application never updates or deletes audit rows, and the database
-- refuses it too. (Someone editing the file can drop these; `audit verify` still sees it.)
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#,
    // 2: effects of committed transitions still to run (an outbox), so that a crash after
    // the commit cannot lose them: written in the transition's transaction, removed when the
    // effect's result is recorded.
    r#"
CREATE TABLE pending_effects (
    rotation_id  INTEGER NOT NULL REFERENCES rotations (id),
    effect       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (rotation_id, effect)
);
"#,
];
