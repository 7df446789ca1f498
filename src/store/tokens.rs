//! The tokens table: what we know of each connection's AWS SCIM token (never the token).

use super::{Result, Store, StoreError, audit, parse_opt_ts, ts};
use crate::audit::NewAuditRecord;
use crate::rotation::{ExpirySource, TokenRecord};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

/// A token to record as a connection's current one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewToken {
    pub connection: String,
    pub token_id: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub source: ExpirySource,
    pub fingerprint: Option<String>,
}

macro_rules! select {
    () => {
        "SELECT id, connection, token_id, created_at, expires_at, source, fingerprint, retired_at FROM tokens"
    };
}

fn read_token(row: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    let source: String = row.get(5)?;
    Ok(TokenRecord {
        id: row.get(0)?,
        connection: row.get(1)?,
        token_id: row.get(2)?,
        created_at: parse_opt_ts(row.get(3)?)?,
        expires_at: parse_opt_ts(row.get(4)?)?,
        source: source.parse().map_err(|e: String| {
            rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, e.into())
        })?,
        fingerprint: row.get(6)?,
        retired_at: parse_opt_ts(row.get(7)?)?,
    })
}

/// Retires the connection's current token (if any) and records `token` as current, inside
/// the caller's transaction.
pub(super) fn replace_current(
    conn: &Connection,
    token: &NewToken,
    now: DateTime<Utc>,
) -> rusqlite::Result<TokenRecord> {
    conn.prepare_cached(
        "UPDATE tokens SET retired_at = ?2 WHERE connection = ?1 AND retired_at IS NULL",
    )?
    .execute(params![token.connection, ts(now)])?;
    conn.prepare_cached("INSERT INTO tokens (connection, token_id, created_at, expires_at, source, fingerprint, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
            .execute(params![
            token.connection,
            token.token_id,
            token.created_at.map(ts),
            token.expires_at.map(ts),
            token.source.as_str(),
            token.fingerprint,
            ts(now)
        ],
    )?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached(concat!(select!(), " WHERE id = ?1"))?
        .query_row([id], read_token)
}

impl Store {
    /// Records `token` as the connection's current token (the previous one is kept, retired),
    /// with its audit record, in one transaction.
    pub fn insert_token(
        &self,
        token: &NewToken,
        audit_record: &NewAuditRecord,
    ) -> Result<TokenRecord> {
        let mut conn = self.lock();
        let tx = super::write_transaction(&mut conn)?;
        let stored = replace_current(&tx, token, audit_record.at)?;
        audit::append(&tx, audit_record)?;
        tx.commit()?;
        Ok(stored)
    }

    /// Records a token a person registered (its console id and creation date) as the
    /// connection's current one, audited as `token_registered` by `actor` with `via` (how it
    /// was registered) added to the details.
    #[expect(
        clippy::too_many_arguments,
        reason = "each is a distinct fact of the registration"
    )]
    pub fn register_token(
        &self,
        connection: &str,
        token_id: &str,
        created: DateTime<Utc>,
        expires: DateTime<Utc>,
        actor: &str,
        at: DateTime<Utc>,
        via: serde_json::Value,
    ) -> Result<TokenRecord> {
        let token = NewToken {
            connection: connection.to_owned(),
            token_id: Some(token_id.to_owned()),
            created_at: Some(created),
            expires_at: Some(expires),
            source: ExpirySource::Manual,
            fingerprint: None,
        };
        let mut details =
            serde_json::json!({ "token_id": token_id, "created": created, "expires": expires });
        if let (Some(details), Some(via)) = (details.as_object_mut(), via.as_object()) {
            details.extend(via.clone());
        }
        let record = NewAuditRecord {
            at,
            actor: actor.to_owned(),
            action: "token_registered".to_owned(),
            connection: Some(connection.to_owned()),
            rotation_id: None,
            details,
        };
        self.insert_token(&token, &record)
    }

    /// The connection's current token, if one is recorded.
    pub fn current_token(&self, connection: &str) -> Result<Option<TokenRecord>> {
        let conn = self.lock();
        Ok(conn
            .prepare_cached(concat!(
                select!(),
                " WHERE connection = ?1 AND retired_at IS NULL"
            ))?
            .query_row([connection], read_token)
            .optional()?)
    }

    /// Every current token (and the retired ones when asked), by connection then age.
    pub fn list_tokens(&self, include_retired: bool) -> Result<Vec<TokenRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(concat!(
            select!(),
            " WHERE ?1 OR retired_at IS NULL ORDER BY connection, id"
        ))?;
        let tokens = stmt
            .query_map([include_retired], read_token)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(tokens)
    }

    /// Corrects the expiry date of a connection's current token (e.g. from an AWS Health
    /// event), with its audit record, in one transaction. `token_row` is the token the
    /// correction was decided for: if a rotation replaced it meanwhile, nothing is written
    /// and [`StoreError::NoToken`] says so (the date was about the old token).
    pub fn set_token_expiry(
        &self,
        connection: &str,
        token_row: i64,
        expires_at: DateTime<Utc>,
        source: ExpirySource,
        audit_record: &NewAuditRecord,
    ) -> Result<TokenRecord> {
        let mut conn = self.lock();
        let tx = super::write_transaction(&mut conn)?;
        let changed = tx
            .prepare_cached(
                "UPDATE tokens SET expires_at = ?3, source = ?4
             WHERE connection = ?1 AND id = ?2 AND retired_at IS NULL",
            )?
            .execute(params![
                connection,
                token_row,
                ts(expires_at),
                source.as_str()
            ])?;
        if changed == 0 {
            return Err(StoreError::NoToken(connection.to_owned()));
        }
        audit::append(&tx, audit_record)?;
        let token = tx
            .prepare_cached(concat!(
                select!(),
                " WHERE connection = ?1 AND retired_at IS NULL"
            ))?
            .query_row([connection], read_token)?;
        tx.commit()?;
        Ok(token)
    }
}
