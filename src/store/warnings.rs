//! Warnings already sent (so that none is sent twice) and small pieces of monitor state.

use super::{Result, Store, audit, parse_ts, ts};
use crate::audit::NewAuditRecord;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

/// One warning sent about a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WarningRecord {
    pub connection: String,
    pub token_row: i64,
    pub threshold: String,
    pub sent_at: DateTime<Utc>,
    pub channel: Option<String>,
    pub ts: Option<String>,
}

impl Store {
    /// Claims the right to send the warning `(connection, token_row, threshold)`, with its
    /// audit record, in one transaction. `false`: it was claimed before (by an earlier sweep,
    /// a sweep running beside this one, or before a restart) and must not be sent again.
    pub fn claim_warning(
        &self,
        connection: &str,
        token_row: i64,
        threshold: &str,
        audit_record: &NewAuditRecord,
    ) -> Result<bool> {
        let mut conn = self.lock();
        let tx = super::write_transaction(&mut conn)?;
        let inserted = tx.prepare_cached("INSERT INTO sent_warnings (connection, token_row, threshold, sent_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING")?
            .execute(params![connection, token_row, threshold, ts(audit_record.at)],
        )?;
        if inserted == 1 {
            audit::append(&tx, audit_record)?;
        }
        tx.commit()?;
        Ok(inserted == 1)
    }

    /// Forgets the warnings `thresholds` of one token (sent or not), with their audit record,
    /// in one transaction: after its expiry date moved later they are due again. If the
    /// cycle's first message is among them, the next warning starts a new message.
    pub fn forget_warnings(
        &self,
        connection: &str,
        token_row: i64,
        thresholds: &[String],
        audit_record: &NewAuditRecord,
    ) -> Result<usize> {
        if thresholds.is_empty() {
            return Ok(0);
        }
        let mut conn = self.lock();
        let tx = super::write_transaction(&mut conn)?;
        let mut forgotten = 0;
        for threshold in thresholds {
            forgotten += tx.prepare_cached("DELETE FROM sent_warnings WHERE connection = ?1 AND token_row = ?2 AND threshold = ?3")?
            .execute(params![connection, token_row, threshold],
            )?;
        }
        audit::append(&tx, audit_record)?;
        tx.commit()?;
        Ok(forgotten)
    }

    /// Records the Slack message that carried a claimed warning.
    pub fn set_warning_message(
        &self,
        connection: &str,
        token_row: i64,
        threshold: &str,
        channel: &str,
        message_ts: &str,
    ) -> Result<()> {
        let conn = self.lock();
        conn.prepare_cached("UPDATE sent_warnings SET channel = ?4, ts = ?5 WHERE connection = ?1 AND token_row = ?2 AND threshold = ?3")?
            .execute(params![connection, token_row, threshold, channel, message_ts],
        )?;
        Ok(())
    }

    /// Gives back a claim whose message was never posted (Slack refused it), so the next
    /// sweep tries again. A claim whose message is recorded is kept. `true`: released.
    pub fn release_warning(
        &self,
        connection: &str,
        token_row: i64,
        threshold: &str,
        audit_record: &NewAuditRecord,
    ) -> Result<bool> {
        let mut conn = self.lock();
        let tx = super::write_transaction(&mut conn)?;
        let deleted = tx
            .prepare_cached(
                "DELETE FROM sent_warnings
             WHERE connection = ?1 AND token_row = ?2 AND threshold = ?3 AND ts IS NULL",
            )?
            .execute(params![connection, token_row, threshold])?;
        if deleted == 1 {
            audit::append(&tx, audit_record)?;
        }
        tx.commit()?;
        Ok(deleted == 1)
    }

    /// Warnings sent about one token, oldest first.
    pub fn sent_warnings(&self, connection: &str, token_row: i64) -> Result<Vec<WarningRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT connection, token_row, threshold, sent_at, channel, ts FROM sent_warnings
             WHERE connection = ?1 AND token_row = ?2 ORDER BY sent_at, rowid",
        )?;
        let rows = stmt
            .query_map(params![connection, token_row], |row| {
                Ok(WarningRecord {
                    connection: row.get(0)?,
                    token_row: row.get(1)?,
                    threshold: row.get(2)?,
                    sent_at: parse_ts(&row.get::<_, String>(3)?)?,
                    channel: row.get(4)?,
                    ts: row.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// A piece of monitor state (see [`Store::compare_and_set_monitor_state`]).
    pub fn monitor_state(&self, key: &str) -> Result<Option<String>> {
        let conn = self.lock();
        Ok(conn
            .prepare_cached("SELECT value FROM monitor_state WHERE key = ?1")?
            .query_row([key], |row| row.get(0))
            .optional()?)
    }

    /// Sets a piece of monitor state, whatever it was.
    pub fn set_monitor_state(&self, key: &str, value: &str) -> Result<()> {
        let conn = self.lock();
        conn.prepare_cached(
            "INSERT INTO monitor_state (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )?
        .execute(params![key, value])?;
        Ok(())
    }

    /// Removes a piece of monitor state (absent already is fine).
    pub fn clear_monitor_state(&self, key: &str) -> Result<()> {
        let conn = self.lock();
        conn.prepare_cached("DELETE FROM monitor_state WHERE key = ?1")?
            .execute([key])?;
        Ok(())
    }

    /// Changes `key` from `expected` to `new` (`None`: absent) only if it still holds
    /// `expected`, with `audit_record` when given, in one transaction. `false`: someone else
    /// (a sweep running beside this one) changed it first, and nothing was written — which is
    /// how an alert tied to that change is posted once.
    pub fn compare_and_set_monitor_state(
        &self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
        audit_record: Option<&NewAuditRecord>,
    ) -> Result<bool> {
        let mut conn = self.lock();
        let tx = super::write_transaction(&mut conn)?;
        let current: Option<String> = tx
            .prepare_cached("SELECT value FROM monitor_state WHERE key = ?1")?
            .query_row([key], |row| row.get(0))
            .optional()?;
        if current.as_deref() != expected {
            return Ok(false);
        }
        match new {
            Some(value) => tx
                .prepare_cached(
                    "INSERT INTO monitor_state (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![key, value])?,
            None => tx
                .prepare_cached("DELETE FROM monitor_state WHERE key = ?1")?
                .execute([key])?,
        };
        if let Some(record) = audit_record {
            audit::append(&tx, record)?;
        }
        tx.commit()?;
        Ok(true)
    }
}
