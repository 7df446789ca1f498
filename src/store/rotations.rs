//! The rotations table and the Slack messages that belong to each rotation.

use super::{Result, Store, StoreError, audit, parse_opt_ts, parse_ts, tokens, ts};
use crate::audit::NewAuditRecord;
use crate::rotation::{Rotation, RotationId, RotationState};
use rusqlite::{OptionalExtension, params};

use super::tokens::NewToken;

macro_rules! columns {
    () => {
        "id, connection, state, version, requested_by, approved_by, driven_by, token_entered_by,
    deletion_confirmed_by, deletion_confirmed_at, old_token_id, new_token_id, new_token_fingerprint,
    new_token_created, new_token_expires, checks, last_error, channel, thread_ts, created_at, updated_at,
    approval_deadline"
    };
}

fn conversion(
    index: usize,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, e.into())
}

fn read_rotation(row: &rusqlite::Row<'_>) -> rusqlite::Result<Rotation> {
    let state: String = row.get(2)?;
    let checks: String = row.get(15)?;
    Ok(Rotation {
        id: RotationId(row.get(0)?),
        connection: row.get(1)?,
        state: state.parse().map_err(|e: String| conversion(2, e))?,
        version: row.get(3)?,
        requested_by: row.get(4)?,
        approved_by: row.get(5)?,
        driven_by: row.get(6)?,
        token_entered_by: row.get(7)?,
        deletion_confirmed_by: row.get(8)?,
        deletion_confirmed_at: parse_opt_ts(row.get(9)?)?,
        old_token_id: row.get(10)?,
        new_token_id: row.get(11)?,
        new_token_fingerprint: row.get(12)?,
        new_token_created: parse_opt_ts(row.get(13)?)?,
        new_token_expires: parse_opt_ts(row.get(14)?)?,
        checks: serde_json::from_str(&checks).map_err(|e| conversion(15, e))?,
        last_error: row.get(16)?,
        channel: row.get(17)?,
        thread_ts: row.get(18)?,
        created_at: parse_ts(&row.get::<_, String>(19)?)?,
        updated_at: parse_ts(&row.get::<_, String>(20)?)?,
        approval_deadline: parse_ts(&row.get::<_, String>(21)?)?,
    })
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _) if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

impl Store {
    /// Inserts a new rotation and its audit record (which gets the new id) in one
    /// transaction. A second rotation in flight for the connection is refused by the
    /// database: [`StoreError::InFlight`].
    pub fn insert_rotation(
        &self,
        rotation: &Rotation,
        audit_record: &NewAuditRecord,
    ) -> Result<Rotation> {
        let mut conn = self.lock();
        let tx = super::write_transaction(&mut conn)?;
        let inserted = tx.prepare_cached("INSERT INTO rotations (connection, state, version, requested_by, approved_by, driven_by,
                token_entered_by, deletion_confirmed_by, deletion_confirmed_at, old_token_id, new_token_id,
                new_token_fingerprint, new_token_created, new_token_expires, checks, last_error, channel,
                thread_ts, created_at, updated_at, approval_deadline)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)")?
            .execute(params![
                rotation.connection,
                rotation.state.as_str(),
                rotation.version,
                rotation.requested_by,
                rotation.approved_by,
                rotation.driven_by,
                rotation.token_entered_by,
                rotation.deletion_confirmed_by,
                rotation.deletion_confirmed_at.map(ts),
                rotation.old_token_id,
                rotation.new_token_id,
                rotation.new_token_fingerprint,
                rotation.new_token_created.map(ts),
                rotation.new_token_expires.map(ts),
                serde_json::to_string(&rotation.checks).expect("checks serialize"),
                rotation.last_error,
                rotation.channel,
                rotation.thread_ts,
                ts(rotation.created_at),
                ts(rotation.updated_at),
                ts(rotation.approval_deadline),
            ],
        );
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::InFlight(rotation.connection.clone()));
            }
            other => other?,
        };
        let id = tx.last_insert_rowid();
        let mut record = audit_record.clone();
        record.rotation_id = Some(id);
        audit::append(&tx, &record)?;
        let stored = tx
            .prepare_cached(concat!(
                "SELECT ",
                columns!(),
                " FROM rotations WHERE id = ?1"
            ))?
            .query_row([id], read_rotation)?;
        tx.commit()?;
        Ok(stored)
    }

    /// Writes a transition: the rotation (only if its stored version is still
    /// `expected_version`), its audit record and, when the rotation completed, the
    /// connection's new current token — all in one transaction. Where the rotation is shown
    /// in Slack (`channel`, `thread_ts`) is not written here: it is set when the rotation is
    /// created and then only by [`Store::set_placement`] (one writer per column).
    pub fn update_rotation(
        &self,
        rotation: &Rotation,
        expected_version: i64,
        audit_record: &NewAuditRecord,
        new_token: Option<&NewToken>,
    ) -> Result<()> {
        self.apply_transition(rotation, expected_version, audit_record, new_token, &[])
    }

    /// [`Store::update_rotation`], and in the same transaction the effects still to run
    /// after it (`pending_effects`, an outbox): a crash after the commit cannot lose them.
    pub fn apply_transition(
        &self,
        rotation: &Rotation,
        expected_version: i64,
        audit_record: &NewAuditRecord,
        new_token: Option<&NewToken>,
        effects: &[&str],
    ) -> Result<()> {
        let mut conn = self.lock();
        let tx = super::write_transaction(&mut conn)?;
        let changed = tx
            .prepare_cached(
                "UPDATE rotations SET state = ?3, version = ?4, approved_by = ?5, driven_by = ?6,
                token_entered_by = ?7, deletion_confirmed_by = ?8, deletion_confirmed_at = ?9,
                new_token_id = ?10, new_token_fingerprint = ?11, new_token_created = ?12,
                new_token_expires = ?13, checks = ?14, last_error = ?15, updated_at = ?16
             WHERE id = ?1 AND version = ?2",
            )?
            .execute(params![
                rotation.id.0,
                expected_version,
                rotation.state.as_str(),
                rotation.version,
                rotation.approved_by,
                rotation.driven_by,
                rotation.token_entered_by,
                rotation.deletion_confirmed_by,
                rotation.deletion_confirmed_at.map(ts),
                rotation.new_token_id,
                rotation.new_token_fingerprint,
                rotation.new_token_created.map(ts),
                rotation.new_token_expires.map(ts),
                serde_json::to_string(&rotation.checks).expect("checks serialize"),
                rotation.last_error,
                ts(rotation.updated_at),
            ]);
        let changed = match changed {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::InFlight(rotation.connection.clone()));
            }
            other => other?,
        };
        if changed == 0 {
            return Err(StoreError::Conflict(rotation.id.0));
        }
        audit::append(&tx, audit_record)?;
        if let Some(token) = new_token {
            tokens::replace_current(&tx, token, audit_record.at)?;
        }
        for effect in effects {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO pending_effects (rotation_id, effect, created_at)
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(params![rotation.id.0, effect, ts(audit_record.at)])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Effects committed with a transition and not finished yet, oldest first.
    pub fn pending_effects(&self) -> Result<Vec<(RotationId, String)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT rotation_id, effect FROM pending_effects ORDER BY created_at, rotation_id",
        )?;
        let rows = stmt
            .query_map([], |row| Ok((RotationId(row.get(0)?), row.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Marks an effect done, with the audit record of its result, in one transaction.
    /// `false` when it was not pending (already finished).
    pub fn finish_effect(
        &self,
        id: RotationId,
        effect: &str,
        audit_record: Option<&NewAuditRecord>,
    ) -> Result<bool> {
        let mut conn = self.lock();
        let tx = super::write_transaction(&mut conn)?;
        let removed = tx
            .prepare_cached("DELETE FROM pending_effects WHERE rotation_id = ?1 AND effect = ?2")?
            .execute(params![id.0, effect])?;
        if removed > 0 {
            if let Some(record) = audit_record {
                audit::append(&tx, record)?;
            }
        }
        tx.commit()?;
        Ok(removed > 0)
    }

    /// Records where a step of a rotation is shown in Slack and, for the message that
    /// starts the rotation's thread, the thread itself, in one transaction. Only the
    /// engine calls it, under its serial order, so placement never races a transition.
    pub fn set_placement(
        &self,
        id: RotationId,
        step: &str,
        channel: &str,
        ts: &str,
        starts_thread: bool,
    ) -> Result<()> {
        let mut conn = self.lock();
        let tx = super::write_transaction(&mut conn)?;
        tx.prepare_cached(
            "INSERT INTO rotation_messages (rotation_id, step, channel, ts) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (rotation_id, step) DO UPDATE SET channel = excluded.channel, ts = excluded.ts",
        )?
        .execute(params![id.0, step, channel, ts])?;
        if starts_thread {
            tx.prepare_cached(
                "UPDATE rotations SET channel = ?2, thread_ts = ?3 WHERE id = ?1 AND thread_ts IS NULL",
            )?
            .execute(params![id.0, channel, ts])?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn get_rotation(&self, id: RotationId) -> Result<Option<Rotation>> {
        let conn = self.lock();
        Ok(conn
            .prepare_cached(concat!(
                "SELECT ",
                columns!(),
                " FROM rotations WHERE id = ?1"
            ))?
            .query_row([id.0], read_rotation)
            .optional()?)
    }

    /// The connection's rotation that is not finished, if any.
    pub fn in_flight_rotation(&self, connection: &str) -> Result<Option<Rotation>> {
        let conn = self.lock();
        Ok(conn.prepare_cached(concat!("SELECT ", columns!(), " FROM rotations
                     WHERE connection = ?1 AND state NOT IN ('Completed', 'Rejected', 'Cancelled', 'Expired')"))?
            .query_row([connection],
                read_rotation,
            )
            .optional()?)
    }

    /// Rotations in any of `states`, oldest first.
    pub fn rotations_in_states(&self, states: &[RotationState]) -> Result<Vec<Rotation>> {
        let conn = self.lock();
        let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let list = serde_json::to_string(&names).expect("names serialize");
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            columns!(),
            " FROM rotations WHERE state IN (SELECT value FROM json_each(?1)) ORDER BY id"
        ))?;
        let rotations = stmt
            .query_map([list], read_rotation)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rotations)
    }

    /// Rotations changed at or after `since`, oldest first.
    pub fn rotations_updated_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Rotation>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            columns!(),
            " FROM rotations WHERE updated_at >= ?1 ORDER BY id"
        ))?;
        let rotations = stmt
            .query_map([ts(since)], read_rotation)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rotations)
    }

    /// The latest rotation of each connection (for status tables), newest first.
    pub fn latest_rotations(&self) -> Result<Vec<Rotation>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            columns!(),
            " FROM rotations WHERE id IN (SELECT max(id) FROM rotations GROUP BY connection)
             ORDER BY id DESC"
        ))?;
        let rotations = stmt
            .query_map([], read_rotation)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rotations)
    }

    /// How many rotations are in each state (states without any are left out).
    pub fn rotation_counts(&self) -> Result<Vec<(RotationState, i64)>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT state, count(*) FROM rotations GROUP BY state")?;
        let counts = stmt
            .query_map([], |row| {
                let state: String = row.get(0)?;
                Ok((
                    state.parse().map_err(|e: String| conversion(0, e))?,
                    row.get(1)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(counts)
    }

    /// The Slack message (channel, ts) that shows one step of a rotation.
    pub fn rotation_message(&self, id: RotationId, step: &str) -> Result<Option<(String, String)>> {
        let conn = self.lock();
        Ok(conn
            .prepare_cached(
                "SELECT channel, ts FROM rotation_messages WHERE rotation_id = ?1 AND step = ?2",
            )?
            .query_row(params![id.0, step], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?)
    }
}
