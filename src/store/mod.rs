//! SQLite persistence. Every SQL statement of the program lives in this module; the rest of
//! the code calls its functions. The functions are synchronous: each is a few short
//! statements on a local file, far below the cost of a Slack or Graph call, and WAL lets
//! readers proceed during a write. A shared Postgres for several replicas can replace this
//! module later without touching its callers.

mod audit;
pub mod keys;
mod message_owner;
mod rotations;
mod schema;
mod tokens;
mod warnings;

pub use audit::AuditFilter;
pub use tokens::NewToken;
pub use warnings::WarningRecord;

use crate::audit::canonical_time;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How long a writer waits for another process's write to finish (e.g. `tokens add` while
/// the bot runs) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept parsed: more than the store's distinct statements, so none is
/// ever parsed twice.
const STATEMENT_CACHE: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database migration {number} failed: {source}")]
    Migration {
        number: usize,
        source: rusqlite::Error,
    },
    #[error(
        "the database was written by a newer scim-rotator (schema {found}, this build knows {known})"
    )]
    TooNew { found: usize, known: usize },
    /// Another writer changed the rotation first (optimistic concurrency).
    #[error("rotation {0} was changed concurrently")]
    Conflict(i64),
    /// The database's one-rotation-per-connection rule refused a second one.
    #[error("a rotation of {0} is already in progress")]
    InFlight(String),
    #[error("no token is recorded for connection {0}")]
    NoToken(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The database. Cheap to share behind an `Arc`; one connection, serialized by a mutex.
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if missing) the database at `path`, with WAL and foreign keys on,
    /// and applies pending migrations.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        Store::prepare(conn)
    }

    /// Opens an existing database for reading only, writing nothing at all: not the
    /// database, not its `-wal`/`-shm` files (`sweep --dry-run` promises an unchanged store).
    ///
    /// When a `-wal` file exists, a bot has the database open (or stopped without closing it),
    /// and the read goes through it (`mode=ro`). Otherwise SQLite would create `-wal` and
    /// `-shm` files just to read, so the file is opened `immutable`: SQLite then takes no locks
    /// and reads the file as it is. A bot starting to write at that very moment could make
    /// such a read fail or see a half-written page; a preview can be run again, so that is
    /// accepted. Migrations are not applied: a database that needs them is refused.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let open_error = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let absolute = std::fs::canonicalize(path).map_err(|e| {
            open_error(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(e.to_string()),
            ))
        })?;
        let mut wal = absolute.clone().into_os_string();
        wal.push("-wal");
        let query = if Path::new(&wal).exists() {
            "mode=ro"
        } else {
            "mode=ro&immutable=1"
        };
        let mut uri = url::Url::from_file_path(&absolute)
            .map_err(|()| open_error(rusqlite::Error::InvalidPath(absolute.clone())))?;
        uri.set_query(Some(query));
        let conn = Connection::open_with_flags(
            uri.as_str(),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_error)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let applied = user_version(&conn)?;
        let known = schema::MIGRATIONS.len();
        if applied > known {
            return Err(StoreError::TooNew {
                found: applied,
                known,
            });
        }
        if applied < known {
            return Err(StoreError::Corrupt(format!(
                "the database is at schema {applied} and this build needs {known}: run the bot                  (or any command that writes) once to upgrade it, then read it"
            )));
        }
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    /// A private in-memory database (tests, `sweep --dry-run` previews).
    pub fn open_in_memory() -> Result<Store> {
        Store::prepare(Connection::open_in_memory()?)
    }

    fn prepare(conn: Connection) -> Result<Store> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Every statement goes through `prepare_cached`: parsed once, then reused.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        migrate(&conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half-written state behind (every write
        // is a transaction), so the connection is still good.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The schema version (number of applied migrations).
    pub fn schema_version(&self) -> Result<usize> {
        Ok(user_version(&self.lock())?)
    }
}

fn user_version(conn: &Connection) -> rusqlite::Result<usize> {
    conn.pragma_query_value(None, "user_version", |row| row.get::<_, i64>(0))
        .map(|v| v as usize)
}

fn migrate(conn: &Connection) -> Result<()> {
    let applied = user_version(conn)?;
    let known = schema::MIGRATIONS.len();
    if applied > known {
        return Err(StoreError::TooNew {
            found: applied,
            known,
        });
    }
    if applied == known {
        return Ok(());
    }
    // Every pending migration in one transaction: one commit (a commit's fsyncs cost a few
    // ms; a fresh database made one per migration) and a failure leaves the database as it
    // was, at `applied`.
    let failed = |number: usize| move |source| StoreError::Migration { number, source };
    let tx = conn.unchecked_transaction().map_err(failed(applied + 1))?;
    for (index, sql) in schema::MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(sql).map_err(failed(index + 1))?;
    }
    tx.pragma_update(None, "user_version", known as i64)
        .map_err(failed(known))?;
    tx.commit().map_err(failed(known))
}

/// A write transaction that takes SQLite's write lock at once (`BEGIN IMMEDIATE`). Each of
/// ours reads before it writes (the audit head, a version); a deferred transaction would fail
/// with `SQLITE_BUSY_SNAPSHOT` when another process (`tokens add`, `sweep`) wrote in between,
/// where an immediate one waits for the lock (up to the busy timeout) and reads fresh data.
fn write_transaction(conn: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

fn ts(at: DateTime<Utc>) -> String {
    canonical_time(at)
}

fn parse_ts(text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
}

fn parse_opt_ts(text: Option<String>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    text.as_deref().map(parse_ts).transpose()
}

#[cfg(test)]
mod tests;
