//! SQLite: one file in the data directory, WAL, a small pool. Writers are serialised by
//! SQLite itself; transactions start with `BEGIN IMMEDIATE` so a reader never has to upgrade
//! to a writer mid-transaction (the classic SQLITE_BUSY deadlock). Ids are `MAX(id) + 1` per
//! offer, safe under that single writer.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::sql::outbox_columns;
pub use super::sql::*;
use super::{IdTable, Result, StoreError, unavailable};
use crate::config::StorageConfig;

// How long a writer waits for another one before SQLITE_BUSY: longer than any of our
// transactions, short enough for `deliver` to answer its MTA in time.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) async fn connect(path: &Path, cfg: &StorageConfig) -> Result<SqlitePool> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot create database directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    let options = SqliteConnectOptions::from_str("sqlite://")
        .map_err(StoreError::Query)?
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a commit is on disk before `deliver` exits 0 or a file moves to cur/. With
        // NORMAL, WAL mode may lose the last commits on power loss: acknowledged mail.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(BUSY_TIMEOUT);
    SqlitePoolOptions::new()
        .max_connections(cfg.max_connections.max(1))
        .acquire_timeout(cfg.connect_timeout)
        .connect_with(options)
        .await
        .map_err(|e| StoreError::Unavailable(format!("sqlite {}: {e}", path.display())))
}

pub(super) async fn begin(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(unavailable)
}

pub fn next_id(table: IdTable) -> &'static str {
    match table {
        IdTable::Institutions => {
            "SELECT COALESCE(MAX(id), 0) + 1 FROM institutions WHERE tenant_id = $1"
        }
        IdTable::Contacts => "SELECT COALESCE(MAX(id), 0) + 1 FROM contacts WHERE tenant_id = $1",
        IdTable::Tickets => "SELECT COALESCE(MAX(id), 0) + 1 FROM tickets WHERE tenant_id = $1",
        IdTable::Articles => "SELECT COALESCE(MAX(id), 0) + 1 FROM articles WHERE tenant_id = $1",
        IdTable::Quarantine => {
            "SELECT COALESCE(MAX(id), 0) + 1 FROM quarantine WHERE tenant_id = $1"
        }
        IdTable::Outbox => "SELECT COALESCE(MAX(id), 0) + 1 FROM outbox WHERE tenant_id = $1",
        IdTable::Events => "SELECT COALESCE(MAX(id), 0) + 1 FROM events WHERE tenant_id = $1",
    }
}

/// Claims due outbox rows. SQLite has one writer at a time, so the claim is atomic as is.
pub const CLAIM_OUTBOX: &str = concat!(
    "UPDATE outbox SET claimed_until = $3, attempts = attempts + 1
     WHERE tenant_id = $1 AND id IN (
         SELECT id FROM outbox
         WHERE tenant_id = $1 AND status = 'pending' AND next_attempt_at <= $2
           AND (claimed_until IS NULL OR claimed_until <= $2)
         ORDER BY id LIMIT $4)
     RETURNING ",
    outbox_columns!()
);
