//! The audit log table: append within the caller's transaction, read, verify.

use super::{Result, Store, StoreError, parse_ts, ts};
use crate::audit::{
    AuditRecord, ChainBreak, GENESIS, NewAuditRecord, canonical_bytes, chain_hash, verify_chain,
};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

/// Which records to read.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub connection: Option<String>,
    pub since: Option<DateTime<Utc>>,
    /// Only the newest `n` (still returned oldest first).
    pub last: Option<usize>,
}

/// Appends `record` inside the caller's transaction, chaining it to the head.
pub(super) fn append(conn: &Connection, record: &NewAuditRecord) -> rusqlite::Result<AuditRecord> {
    let head: Option<(i64, String)> = conn
        .prepare_cached("SELECT last_seq, last_hash FROM audit_head WHERE id = 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let (prev_seq, prev_hash) = head.unwrap_or((0, GENESIS.to_owned()));
    let seq = prev_seq + 1;
    let at = parse_ts(&ts(record.at))?; // stored precision, so the hash verifies later
    let hash = chain_hash(
        &prev_hash,
        &canonical_bytes(
            seq,
            at,
            &record.actor,
            &record.action,
            record.connection.as_deref(),
            record.rotation_id,
            &record.details,
        ),
    );
    conn.prepare_cached(
        "INSERT INTO audit_log (seq, at, actor, action, connection, rotation_id, details, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        seq,
        ts(at),
        record.actor,
        record.action,
        record.connection,
        record.rotation_id,
        record.details.to_string(),
        hash
    ])?;
    conn.prepare_cached("INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq, last_hash = excluded.last_hash")?
            .execute(params![seq, hash],
    )?;
    Ok(AuditRecord {
        seq,
        at,
        actor: record.actor.clone(),
        action: record.action.clone(),
        connection: record.connection.clone(),
        rotation_id: record.rotation_id,
        details: record.details.clone(),
        hash,
    })
}

fn read_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    let details: String = row.get(6)?;
    Ok(AuditRecord {
        seq: row.get(0)?,
        at: parse_ts(&row.get::<_, String>(1)?)?,
        actor: row.get(2)?,
        action: row.get(3)?,
        connection: row.get(4)?,
        rotation_id: row.get(5)?,
        details: serde_json::from_str(&details).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e))
        })?,
        hash: row.get(7)?,
    })
}

macro_rules! select {
    () => {
        "SELECT seq, at, actor, action, connection, rotation_id, details, hash FROM audit_log"
    };
}

impl Store {
    /// Appends one record on its own (events that change nothing else: warnings, refusals).
    pub fn append_audit(&self, record: &NewAuditRecord) -> Result<AuditRecord> {
        let mut conn = self.lock();
        let tx = super::write_transaction(&mut conn)?;
        let stored = append(&tx, record)?;
        tx.commit()?;
        Ok(stored)
    }

    /// Records matching `filter`, oldest first.
    pub fn audit_records(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(concat!(
            select!(),
            " WHERE (?1 IS NULL OR connection = ?1) AND (?2 IS NULL OR at >= ?2)
             ORDER BY seq DESC LIMIT ?3"
        ))?;
        let limit = filter.last.map_or(-1, |n| n as i64);
        let mut records = stmt
            .query_map(
                params![filter.connection, filter.since.map(ts), limit],
                read_record,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        records.reverse();
        Ok(records)
    }

    /// Checks the whole chain and its head. `Ok(Ok(n))`: intact with n records.
    /// Rows are read raw, so a row whose content no longer even parses is reported as a
    /// broken hash at its sequence number rather than as a read error.
    pub fn verify_audit(&self) -> Result<Result<usize, ChainBreak>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(concat!(select!(), " ORDER BY seq"))?;
        let mut rows = stmt.query([])?;
        let mut records = Vec::new();
        while let Some(row) = rows.next()? {
            match read_record(row) {
                Ok(record) => records.push(record),
                Err(_) => {
                    let seq: i64 = row.get(0)?;
                    let expected = records.len() as i64 + 1;
                    // An unreadable row: first check the order, then call it edited.
                    return Ok(Err(if seq != expected {
                        ChainBreak::Gap { seq, expected }
                    } else {
                        ChainBreak::Hash { seq }
                    }));
                }
            }
        }
        if let Err(broken) = verify_chain(&records) {
            return Ok(Err(broken));
        }
        let head: Option<(i64, String)> = conn
            .prepare_cached("SELECT last_seq, last_hash FROM audit_head WHERE id = 1")?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let last = records.last().map(|r| (r.seq, r.hash.clone()));
        match (head, last) {
            (None, None) => Ok(Ok(0)),
            (Some(head), Some(last)) if head == last => Ok(Ok(records.len())),
            (Some((head_seq, _)), _) => Ok(Err(ChainBreak::Truncated {
                expected_last: head_seq,
            })),
            (None, Some(_)) => Err(StoreError::Corrupt(
                "audit records exist but the chain head is missing".to_owned(),
            )),
        }
    }
}
