//! The tenant-partitioned database: one API over SQLite (default, embedded) and PostgreSQL
//! (production, several daemons).
//!
//! Every operation happens inside a [`Tx`] opened for one offer with [`Store::begin`]: the
//! offer comes first, and every statement binds it as `tenant_id`. On PostgreSQL the
//! transaction also sets `guichet.tenant` (`SET LOCAL`), which the row-level-security
//! policies check, so a statement that forgot its `tenant_id` still cannot cross offers.
//!
//! This module holds SQL and nothing else: no rules, no decisions. Statements that both
//! databases accept are in `sql.rs`; what differs (id allocation, row locking, connection
//! setup) is in `sqlite.rs` and `postgres.rs`, which re-export the shared statements so that
//! each backend module is the complete SQL of its database.
//!
//! This file holds the handle, the transaction and the error; the operations are split by
//! aggregate, each an `impl Tx` block of its own: `contacts.rs` (offers, institutions,
//! contacts), `tickets.rs` (tickets, links, participants), `articles.rs` (raw messages,
//! articles, attachments), `receipts.rs`, `quarantine.rs`, `outbox.rs`, `events.rs`,
//! `bounces.rs` (addresses that bounce), `acks.rs` (acknowledgements sent, for their limit),
//! `mailboxes.rs` (IMAP mailboxes' place and counters) and `reports.rs` (what `guichet report`
//! reads).
//! Rows are in `rows.rs`; how ids and names map to SQL columns is in `columns.rs`.

#![warn(missing_docs)]

mod columns;
mod pending;
mod postgres;
mod rows;
mod sql;
mod sqlite;

use std::path::PathBuf;
use std::time::Duration;

use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

pub use bounces::NewBounce;
pub use contacts::AudienceRow;
pub use mailboxes::{MailboxCounts, MailboxStateRow, MailboxTally};
pub use reports::{ReportTicketRow, StatusEventRow};
pub use rows::*;
pub use sla::{ClockRow, DeadlineRow};

use crate::domain::TenantId;

/// A store failure, classified once, here: [`StoreError::is_transient`] is what callers branch
/// on (retry later, or quarantine / give up). The underlying error stays as the source, so the
/// whole chain can be printed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened, reached, or asked to begin a transaction. Always
    /// transient: whatever the cause (server restarting, file permissions, disk), the message
    /// at hand is not what is wrong, and an MTA must keep it.
    #[error("{what}")]
    Unavailable {
        /// What failed, with what to fix when we know it (a path and its owner, an address).
        what: String,
        /// The driver's error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// A statement (or the commit) failed: transient or not according to the database's code,
    /// see `is_transient_sqlx`.
    #[error("database error in {op}")]
    Query {
        /// The store operation that failed (`insert_article`, `commit`...).
        op: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A migration could not be applied at start; transient only when the database failed
    /// under it, not when the migrations themselves are wrong.
    #[error("migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Whether the failure is the database being away (connection lost, server restarting,
    /// lock conflict, disk full), as opposed to something wrong with what was asked.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unavailable { .. } => true,
            StoreError::Query { source, .. } => is_transient_sqlx(source),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => is_transient_sqlx(e),
            StoreError::Migrate(_) => false,
        }
    }

    /// The error and its causes on one line, each cause once (sqlx repeats a database's
    /// message in its own): for quarantine reasons and log fields. See [`crate::error::chain`].
    pub fn detail(&self) -> String {
        crate::error::chain(self)
    }

    pub(crate) fn query(op: &'static str, source: sqlx::Error) -> StoreError {
        StoreError::Query { op, source }
    }

    /// Connecting or beginning failed: always [`StoreError::Unavailable`].
    pub(crate) fn unavailable(what: impl Into<String>, source: sqlx::Error) -> StoreError {
        StoreError::Unavailable {
            what: what.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// The one place sqlx errors are classified. Driver-level failures are transient when they
/// are about the connection; a database's own error is classified by its backend's code
/// table ([`sqlite::is_transient_code`], [`postgres::is_transient_sqlstate`]).
fn is_transient_sqlx(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed
        // sqlx reports a byte stream that does not follow the protocol (a connection cut in
        // the middle of a message, a confused connection) as Protocol: a new connection cures
        // it. Its data-driven cases (a message over 1 GiB, more than 65535 binds) cannot come
        // from our fixed statements under `max_message_bytes`.
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(d) => {
            if let Some(pg) = d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                postgres::is_transient_sqlstate(pg.code())
            } else if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                d.code().is_some_and(|c| sqlite::is_transient_code(&c))
            } else {
                false
            }
        }
        _ => false,
    }
}

/// What every store operation returns.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What [`Store::connect`] needs, in the store's own terms: the wiring (`app::store_options`)
/// translates the configuration into it, so the store knows nothing of `config`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Which database to open.
    pub database: Database,
    /// Pool size (at least 1 is used).
    pub max_connections: u32,
    /// How long to wait for the database, at connection and for a pooled connection, before
    /// giving up with [`StoreError::Unavailable`] (transient).
    pub connect_timeout: Duration,
}

impl Options {
    /// The wait [`Store::connect_postgres`] allows.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
}

/// Which database, and where.
#[derive(Clone)]
pub enum Database {
    /// A SQLite file (created when missing, with its folders).
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A PostgreSQL URL, and the password when it is kept out of the URL (so the URL can be
    /// printed).
    Postgres {
        /// The connection URL, without a password when `password` is set.
        url: String,
        /// The password, when the configuration keeps it apart; `None` to use the URL's, if any.
        password: Option<String>,
    },
}

// By hand: the password must never reach a log line.
impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite { path } => f.debug_struct("Sqlite").field("path", path).finish(),
            Database::Postgres { url, password } => f
                .debug_struct("Postgres")
                .field("url", url)
                .field("password", &password.as_ref().map(|_| "<redacted>"))
                .finish(),
        }
    }
}

/// Which database a [`Store`] runs on (logged at start; tests branch on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

enum TxInner {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A transaction scoped to one offer. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    tenant: TenantId,
    inner: TxInner,
    /// SQLite: the next id of each table ([`IdTable`] order), once read in this transaction.
    /// `BEGIN IMMEDIATE` holds the database's one write lock until the transaction ends, so
    /// no one else can insert meanwhile and the ids that follow the first `MAX(id) + 1` are
    /// counted here: one statement less per row (each costs a round trip to sqlx's SQLite
    /// thread, most of an insert's time). A rollback to a savepoint leaves a gap, no clash.
    next_ids: [Option<i64>; ID_TABLES],
    /// SQLite: writes held back until the next statement that returns something (see
    /// `pending.rs`); always empty on PostgreSQL.
    held: pending::Pending,
    /// Told once the transaction commits (the escalator, when a deadline was written).
    wake_on_commit: Option<std::sync::Arc<tokio::sync::Notify>>,
    /// How many times [`Tx::rollback_to`] was asked for (see [`Tx::rollbacks`]).
    rollbacks: u32,
    /// SQLite: receipts read ahead for a batch ([`Tx::read_receipts_ahead`]), `None` for a
    /// key known to have none. A key this transaction writes, and every key after a rollback
    /// to a savepoint, is read from the database again.
    known_receipts: std::collections::HashMap<String, Option<ReceiptRow>>,
    /// SQLite: contacts read ahead by address for a batch ([`Tx::read_contacts_ahead`]),
    /// `None` for an address known to have none; forgotten at the first write to a contact
    /// or its addresses, and at a rollback to a savepoint.
    known_contacts: std::collections::HashMap<(&'static str, String), Option<ContactRow>>,
}

/// Runs `$body` with `$conn` bound to the transaction's connection and `sql` naming the
/// backend's SQL module, once per backend: the same Rust drives both databases. A sqlx error
/// inside `$body` (its `?`) becomes a [`StoreError::Query`] naming `$op`.
macro_rules! on {
    ($tx:expr, $op:literal, |$conn:ident| $body:expr) => {{
        $crate::store::send_held(&mut $tx.held, &mut $tx.inner).await?;
        match &mut $tx.inner {
            $crate::store::TxInner::Sqlite(t) => {
                #[allow(
                    unused_imports,
                    reason = "statements that need no backend SQL leave it unused"
                )]
                use $crate::store::sqlite as sql;
                let $conn = &mut **t;
                async { Ok::<_, sqlx::Error>($body) }
                    .await
                    .map_err(|e| $crate::store::StoreError::query($op, e))?
            }
            $crate::store::TxInner::Postgres(t) => {
                #[allow(
                    unused_imports,
                    reason = "statements that need no backend SQL leave it unused"
                )]
                use $crate::store::postgres as sql;
                let $conn = &mut **t;
                async { Ok::<_, sqlx::Error>($body) }
                    .await
                    .map_err(|e| $crate::store::StoreError::query($op, e))?
            }
        }
    }};
}

/// [`on!`] for statements whose result is not needed (the two backends' results differ).
macro_rules! exec {
    ($tx:expr, $op:literal, |$conn:ident| $body:expr) => {
        on!($tx, $op, |$conn| {
            $body;
        })
    };
}

/// A write whose result nobody needs: on SQLite held back (see `pending.rs`) and sent with
/// the next statement that returns something, on PostgreSQL sent at once. `$stmt` is read
/// with `sql` naming the backend's module, as in [`on!`]; `$arg`s bind its `$1`, `$2`... in
/// order.
macro_rules! defer {
    ($tx:expr, $op:literal, $stmt:expr, [$($arg:expr),* $(,)?]) => {
        match &mut $tx.inner {
            $crate::store::TxInner::Sqlite(_) => {
                #[allow(unused_imports, reason = "a statement of the module's own")]
                use $crate::store::sqlite as sql;
                let held = &mut $tx.held;
                held.push($stmt);
                $( held.bind($arg); )*
            }
            $crate::store::TxInner::Postgres(t) => {
                #[allow(unused_imports, reason = "a statement of the module's own")]
                use $crate::store::postgres as sql;
                sqlx::query($stmt)
                    $( .bind($arg) )*
                    .execute(&mut **t)
                    .await
                    .map_err(|e| $crate::store::StoreError::query($op, e))?;
            }
        }
    };
}

/// SQLite's half of [`fetch!`], for the statements only SQLite has: the writes held back in
/// `$held`, then `$stmt` with its `$arg`s, as one query on the transaction's connection `$conn`
/// (one round trip to sqlx's worker thread); a sqlx error as it comes.
macro_rules! fetch_held {
    ($held:expr, $conn:expr, $make:ident, $stmt:expr, [$($arg:expr),* $(,)?], $method:ident) => {{
        let held = &mut $held;
        held.push($stmt);
        $( held.bind($arg); )*
        match held.take() {
            Ok((text, args)) => {
                sqlx::$make(sqlx::AssertSqlSafe(text), args)
                    .$method(&mut **$conn)
                    .await
            }
            Err(e) => Err(e),
        }
    }};
}

/// A statement that returns something, made by sqlx's `$make` (`query_as_with`,
/// `query_scalar_with`) and run with `$method` (`fetch_optional`...): on SQLite sent in one
/// round trip after the writes held back before it, which it sees. `$stmt` and `$arg`s as in
/// [`defer!`].
macro_rules! fetch {
    ($tx:expr, $op:literal, $make:ident, $stmt:expr, [$($arg:expr),* $(,)?], $method:ident) => {{
        let done = match &mut $tx.inner {
            $crate::store::TxInner::Sqlite(t) => {
                #[allow(unused_imports, reason = "a statement of the module's own")]
                use $crate::store::sqlite as sql;
                fetch_held!($tx.held, t, $make, $stmt, [$($arg),*], $method)
            }
            $crate::store::TxInner::Postgres(t) => {
                #[allow(unused_imports, reason = "a statement of the module's own")]
                use $crate::store::postgres as sql;
                let mut args = sqlx::postgres::PgArguments::default();
                let bound: std::result::Result<(), sqlx::error::BoxDynError> = (|| {
                    $( sqlx::Arguments::add(&mut args, $arg)?; )*
                    Ok(())
                })();
                match bound {
                    Ok(()) => sqlx::$make($stmt, args).$method(&mut **t).await,
                    Err(e) => Err(sqlx::Error::Encode(e)),
                }
            }
        };
        done.map_err(|e| $crate::store::StoreError::query($op, e))?
    }};
}

// After the macros, which they use.
mod acks;
mod articles;
mod bounces;
mod contacts;
mod events;
mod mailboxes;
mod outbox;
mod quarantine;
mod receipts;
mod reports;
mod sla;
#[cfg(feature = "test-support")]
mod test_support;
mod tickets;

impl Store {
    /// Opens the pool. A SQLite file's parent folders are made.
    pub async fn connect(options: &Options) -> Result<Store> {
        let pool = match &options.database {
            Database::Sqlite { path } => Pool::Sqlite(sqlite::connect(path, options).await?),
            Database::Postgres { url, password } => {
                Pool::Postgres(postgres::connect(url, password.as_deref(), options).await?)
            }
        };
        Ok(Store { pool })
    }

    /// Connects to a PostgreSQL URL as is (tests, tools).
    pub async fn connect_postgres(url: &str, max_connections: u32) -> Result<Store> {
        let options = Options {
            database: Database::Postgres {
                url: url.to_owned(),
                password: None,
            },
            max_connections,
            connect_timeout: Options::DEFAULT_CONNECT_TIMEOUT,
        };
        Store::connect(&options).await
    }

    /// Which database the pool is on.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the migrations of this backend that have not run yet.
    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(p) => sqlx::migrate!("migrations/sqlite")
                .run(p)
                .await
                .map_err(StoreError::Migrate)?,
            Pool::Postgres(p) => sqlx::migrate!("migrations/postgres")
                .run(p)
                .await
                .map_err(StoreError::Migrate)?,
        }
        Ok(())
    }

    /// Opens a transaction for one offer.
    pub async fn begin(&self, tenant: &TenantId) -> Result<Tx> {
        let inner = match &self.pool {
            Pool::Sqlite(p) => TxInner::Sqlite(sqlite::begin(p).await?),
            Pool::Postgres(p) => TxInner::Postgres(postgres::begin(p, tenant).await?),
        };
        Ok(Tx::new(tenant, inner))
    }

    /// Opens a transaction for one offer that only reads: on SQLite it takes no write lock
    /// (`BEGIN DEFERRED`; WAL gives it a snapshot while the writer goes on), so a long scan
    /// holds no one up. Writing in it may fail at once with `SQLITE_BUSY`: use [`Store::begin`]
    /// for that. On PostgreSQL, the same as [`Store::begin`].
    pub async fn begin_read(&self, tenant: &TenantId) -> Result<Tx> {
        let inner = match &self.pool {
            Pool::Sqlite(p) => TxInner::Sqlite(sqlite::begin_read(p).await?),
            Pool::Postgres(p) => TxInner::Postgres(postgres::begin(p, tenant).await?),
        };
        Ok(Tx::new(tenant, inner))
    }

    /// Closes the pool, waiting for connections in use to come back (at shutdown).
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

impl Tx {
    fn new(tenant: &TenantId, inner: TxInner) -> Tx {
        Tx {
            tenant: tenant.clone(),
            inner,
            next_ids: Default::default(),
            held: Default::default(),
            wake_on_commit: None,
            rollbacks: 0,
            known_receipts: std::collections::HashMap::new(),
            known_contacts: std::collections::HashMap::new(),
        }
    }

    /// The offer the transaction is scoped to.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Commits everything done in the transaction, at once.
    pub async fn commit(mut self) -> Result<()> {
        self.send_held().await?;
        let wake = self.wake_on_commit.take();
        let done = match self.inner {
            TxInner::Sqlite(t) => t.commit().await,
            TxInner::Postgres(t) => t.commit().await,
        };
        done.map_err(|e| StoreError::query("commit", e))?;
        if let Some(wake) = wake {
            wake.notify_one();
        }
        Ok(())
    }

    /// Has `wake` told once this transaction commits: what it wrote is then visible to
    /// whoever waits on it (the escalator re-reading its earliest deadline).
    pub fn wake_on_commit(&mut self, wake: &std::sync::Arc<tokio::sync::Notify>) {
        self.wake_on_commit = Some(wake.clone());
    }

    /// Undoes everything done in the transaction; dropping it does the same, without
    /// reporting an error.
    pub async fn rollback(self) -> Result<()> {
        let done = match self.inner {
            TxInner::Sqlite(t) => t.rollback().await,
            TxInner::Postgres(t) => t.rollback().await,
        };
        done.map_err(|e| StoreError::query("rollback", e))
    }

    /// Opens a savepoint named `name` inside the transaction: what follows can be undone
    /// alone ([`Tx::rollback_to`]) while what came before stays. Several messages share one
    /// transaction this way, each in a savepoint of its own. The same SQL works on both
    /// backends; on PostgreSQL, rolling back to a savepoint is also the one way to go on
    /// after a statement failed inside the transaction.
    pub async fn savepoint(&mut self, name: &'static str) -> Result<()> {
        self.control("savepoint", format!("SAVEPOINT {name}")).await
    }

    /// Runs a statement without arguments or result (savepoints): on SQLite held back with
    /// the writes, in their order.
    async fn control(&mut self, op: &'static str, sql: String) -> Result<()> {
        match &mut self.inner {
            TxInner::Sqlite(_) => self.held.push(&sql),
            TxInner::Postgres(t) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut **t)
                    .await
                    .map_err(|e| StoreError::query(op, e))?;
            }
        }
        Ok(())
    }

    async fn send_held(&mut self) -> Result<()> {
        send_held(&mut self.held, &mut self.inner).await
    }

    /// Keeps what was done since the savepoint `name` as part of the transaction and forgets
    /// the savepoint (nothing is committed before [`Tx::commit`]).
    pub async fn release(&mut self, name: &'static str) -> Result<()> {
        self.control("release_savepoint", format!("RELEASE SAVEPOINT {name}"))
            .await
    }

    /// [`Tx::release`] then [`Tx::savepoint`] again, in one round trip to the database: the
    /// step from one message of a batch to the next (on SQLite, a statement's round trip to
    /// sqlx's worker thread costs more than SQLite's own work on it; there both wait for the
    /// next statement that returns something).
    pub async fn release_and_savepoint(&mut self, name: &'static str) -> Result<()> {
        let sql = format!("RELEASE SAVEPOINT {name}; SAVEPOINT {name}");
        self.control("release_and_savepoint", sql).await
    }

    /// Undoes what was done since the savepoint `name`; the savepoint stays open (release it
    /// with [`Tx::release`]).
    pub async fn rollback_to(&mut self, name: &'static str) -> Result<()> {
        self.rollbacks += 1;
        self.known_receipts.clear();
        self.known_contacts.clear();
        let sql = format!("ROLLBACK TO SAVEPOINT {name}");
        self.control("rollback_to_savepoint", sql).await
    }

    /// How many times [`Tx::rollback_to`] was asked for in this transaction: several units of
    /// work sharing one savepoint (an IMAP batch) learn that one of them undid the others'
    /// work too.
    pub fn rollbacks(&self) -> u32 {
        self.rollbacks
    }

    async fn next_id(&mut self, table: IdTable) -> Result<i64> {
        // SQLite counts within the offer (MAX + 1, then on: see `next_ids`), PostgreSQL draws
        // from a sequence.
        let id: i64 = match &mut self.inner {
            TxInner::Sqlite(t) => {
                if let Some(id) = self.next_ids[table as usize] {
                    self.next_ids[table as usize] = Some(id + 1);
                    return Ok(id);
                }
                // After the held writes, in the same round trip.
                self.held.push(sqlite::next_id(table));
                self.held.bind(self.tenant.as_str());
                let id = match self.held.take() {
                    Ok((sql, args)) => {
                        sqlx::query_scalar_with(sqlx::AssertSqlSafe(sql), args)
                            .fetch_one(&mut **t)
                            .await
                    }
                    Err(e) => Err(e),
                };
                if let Ok(id) = id {
                    self.next_ids[table as usize] = Some(id + 1);
                }
                id
            }
            TxInner::Postgres(t) => {
                sqlx::query_scalar(postgres::next_id(table))
                    .fetch_one(&mut **t)
                    .await
            }
        }
        .map_err(|e| StoreError::query("next_id", e))?;
        Ok(id)
    }
}

/// SQLite: sends the writes held back, if any, in one round trip. Every statement that
/// returns something through [`on!`], and the commit, comes after them. (Over the two fields,
/// not the [`Tx`]: the statements borrow its tenant meanwhile.)
async fn send_held(held: &mut pending::Pending, inner: &mut TxInner) -> Result<()> {
    if held.is_empty() {
        return Ok(());
    }
    let held = held.take();
    if let TxInner::Sqlite(t) = inner {
        let (sql, args) = held.map_err(|e| StoreError::query(pending::HELD_BACK, e))?;
        sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
            .execute(&mut **t)
            .await
            .map_err(|e| StoreError::query(pending::HELD_BACK, e))?;
    }
    Ok(())
}

/// How many [`IdTable`]s there are.
const ID_TABLES: usize = 7;

/// Tables whose rows get a per-table id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTable {
    /// `institutions`.
    Institutions,
    /// `contacts`.
    Contacts,
    /// `tickets`.
    Tickets,
    /// `articles`.
    Articles,
    /// `quarantine`.
    Quarantine,
    /// `outbox`.
    Outbox,
    /// `events`.
    Events,
}

const _: () = assert!(
    IdTable::Events as usize + 1 == ID_TABLES,
    "one slot per table"
);

/// Which kind of address a contact is known by (`contact_addresses.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// A mail address, stored lower-case.
    Email,
    /// A Matrix user id.
    Matrix,
}

impl AddressKind {
    /// The name stored in `contact_addresses.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressKind::Email => "email",
            AddressKind::Matrix => "matrix",
        }
    }
}

/// Lower-case hex SHA-256 of `data`: the key of raw messages, attachments and quarantined
/// messages.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_errors_are_transient_when_about_the_connection() {
        let io = || std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let cases = [
            (sqlx::Error::Io(io()), true),
            (sqlx::Error::Tls("handshake".into()), true),
            (sqlx::Error::PoolTimedOut, true),
            (sqlx::Error::PoolClosed, true),
            (sqlx::Error::WorkerCrashed, true),
            (sqlx::Error::BeginFailed, true),
            (sqlx::Error::Protocol("unexpected eof".into()), true),
            (sqlx::Error::RowNotFound, false),
            (sqlx::Error::ColumnNotFound("x".into()), false),
            (sqlx::Error::Decode("bad".into()), false),
            (sqlx::Error::Encode("bad".into()), false),
            (sqlx::Error::Configuration("bad url".into()), false),
        ];
        for (e, transient) in cases {
            let text = e.to_string();
            assert_eq!(
                StoreError::query("op", e).is_transient(),
                transient,
                "{text}"
            );
        }
    }

    #[test]
    fn failing_to_connect_or_begin_is_always_transient() {
        let e = StoreError::unavailable("cannot begin", sqlx::Error::RowNotFound);
        assert!(e.is_transient());
    }

    #[tokio::test]
    async fn a_busy_sqlite_database_is_transient_and_a_constraint_is_not() {
        use sqlx::Connection;
        use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("busy.db"))
            .create_if_missing(true)
            .busy_timeout(Duration::ZERO);
        let mut holder = SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::query("CREATE TABLE t (k INTEGER PRIMARY KEY)")
            .execute(&mut holder)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut holder)
            .await
            .unwrap();
        let dup = sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut holder)
            .await
            .unwrap_err();
        assert!(!StoreError::query("insert", dup).is_transient());

        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut holder)
            .await
            .unwrap();
        let mut other = SqliteConnection::connect_with(&options).await.unwrap();
        let busy = sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .unwrap_err();
        let code = busy.as_database_error().and_then(|d| d.code()).unwrap();
        assert_eq!(code.parse::<i64>().unwrap() & 0xff, 5, "SQLITE_BUSY");
        assert!(StoreError::query("begin", busy).is_transient());
    }

    #[test]
    fn detail_names_the_operation_and_each_cause_once() {
        let e = StoreError::query("insert_article", sqlx::Error::RowNotFound);
        assert_eq!(
            e.detail(),
            "database error in insert_article: no rows returned by a query that expected to \
             return at least one row"
        );
    }
}
