//! The audit trail: append-only records chained by SHA-256, so that an edited, deleted or
//! reordered row is detectable (`scim-rotator audit verify`).
//!
//! `hash = SHA-256(prev_hash ‖ canonical record)`, where the canonical record is the JSON of
//! the record's fields (everything but the hash) with sorted keys and RFC 3339 UTC times in
//! microseconds. The first record chains from [`GENESIS`].

use crate::rotation::Actor;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first record: 64 zeros, a value no SHA-256 output is known to take.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An audit record about to be written (the store assigns the sequence number and hash).
#[derive(Clone, Debug, PartialEq)]
pub struct NewAuditRecord {
    pub at: DateTime<Utc>,
    /// A Slack user id, or `system`.
    pub actor: String,
    pub action: String,
    pub connection: Option<String>,
    pub rotation_id: Option<i64>,
    pub details: serde_json::Value,
}

impl NewAuditRecord {
    /// A record of what the bot did by itself (a sweep, a check, an AWS Health event) about
    /// `connection`; [`NewAuditRecord::for_rotation`] ties it to one rotation.
    pub fn system(
        at: DateTime<Utc>,
        action: &str,
        connection: &str,
        details: serde_json::Value,
    ) -> Self {
        NewAuditRecord {
            at,
            actor: Actor::System.audit_name().to_owned(),
            action: action.to_owned(),
            connection: Some(connection.to_owned()),
            rotation_id: None,
            details,
        }
    }

    /// The same record, about rotation `id`.
    pub fn for_rotation(self, id: i64) -> Self {
        NewAuditRecord {
            rotation_id: Some(id),
            ..self
        }
    }
}

/// A stored audit record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub connection: Option<String>,
    pub rotation_id: Option<i64>,
    pub details: serde_json::Value,
    pub hash: String,
}

/// Times are hashed at microsecond precision, the precision they are stored at.
pub fn canonical_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The bytes that are hashed for a record (everything but its hash).
pub fn canonical_bytes(
    seq: i64,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    connection: Option<&str>,
    rotation_id: Option<i64>,
    details: &serde_json::Value,
) -> Vec<u8> {
    // serde_json's Value keeps object keys sorted (BTreeMap), so this is canonical.
    let value = serde_json::json!({
        "seq": seq,
        "at": canonical_time(at),
        "actor": actor,
        "action": action,
        "connection": connection,
        "rotation_id": rotation_id,
        "details": details,
    });
    serde_json::to_vec(&value).expect("a JSON value always serializes")
}

/// `SHA-256(prev_hash ‖ canonical record)` as lowercase hex.
pub fn chain_hash(prev_hash: &str, canonical: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(canonical);
    hex::encode(hasher.finalize())
}

impl AuditRecord {
    /// The hash this record should carry when it follows a record hashed `prev_hash`.
    pub fn expected_hash(&self, prev_hash: &str) -> String {
        chain_hash(
            prev_hash,
            &canonical_bytes(
                self.seq,
                self.at,
                &self.actor,
                &self.action,
                self.connection.as_deref(),
                self.rotation_id,
                &self.details,
            ),
        )
    }
}

/// Where the chain first breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error(
        "audit record {seq}: expected sequence number {expected} (a record was deleted or reordered)"
    )]
    Gap { seq: i64, expected: i64 },
    #[error(
        "audit record {seq}: hash does not match its content (the record or one before it was edited)"
    )]
    Hash { seq: i64 },
    #[error(
        "audit record {expected_last}: the log should end there (records were removed or added at its end)"
    )]
    Truncated { expected_last: i64 },
}

impl ChainBreak {
    /// The first sequence number at which the log is no longer intact.
    pub fn seq(&self) -> i64 {
        match self {
            ChainBreak::Gap { seq, expected } => (*seq).min(*expected),
            ChainBreak::Hash { seq } => *seq,
            ChainBreak::Truncated { expected_last } => *expected_last,
        }
    }
}

/// Checks a whole log in sequence order; `Ok(count)` when intact.
pub fn verify_chain<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
) -> Result<usize, ChainBreak> {
    let mut prev = GENESIS.to_owned();
    let mut count = 0usize;
    for (index, record) in records.into_iter().enumerate() {
        let expected = index as i64 + 1;
        if record.seq != expected {
            return Err(ChainBreak::Gap {
                seq: record.seq,
                expected,
            });
        }
        if record.expected_hash(&prev) != record.hash {
            return Err(ChainBreak::Hash { seq: record.seq });
        }
        prev = record.hash.clone();
        count += 1;
    }
    Ok(count)
}
