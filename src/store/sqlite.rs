//! SQLite: one file in the data directory, WAL, a small pool. Writers are serialised by
//! SQLite itself; transactions start with `BEGIN IMMEDIATE` so a reader never has to upgrade
//! to a writer mid-transaction (the classic SQLITE_BUSY deadlock). Ids are `MAX(id) + 1` per
//! offer, safe under that single writer.

use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::sql::outbox_columns;
pub use super::sql::*;
use super::{IdTable, Options, Result, StoreError};

// How long a writer waits for another one before SQLITE_BUSY: longer than any of our
// transactions, short enough for `deliver` to answer its MTA in time.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether an SQLite result code means "try again later" rather than "this statement is
/// wrong for this data". sqlx gives the extended code as a decimal string; its low byte is the
/// primary code (SQLITE_BUSY_SNAPSHOT = 517 = BUSY | 2 << 8), so every extended form follows
/// its primary.
pub(super) fn is_transient_code(code: &str) -> bool {
    const BUSY: i64 = 5; // another connection holds the write lock past busy_timeout
    const LOCKED: i64 = 6; // a conflict inside this process (shared cache)
    const READONLY: i64 = 8; // the file or its directory lost write permission
    const IOERR: i64 = 10; // the disk or filesystem failed
    const FULL: i64 = 13; // disk full
    const CANTOPEN: i64 = 14; // journal or WAL file cannot be opened (permissions, fd limit)
    // READONLY and CANTOPEN are the operator's to fix (a chown, a remount); until then every
    // message would fail the same way, so none of them may be quarantined for it.
    code.trim()
        .parse::<i64>()
        .is_ok_and(|c| matches!(c & 0xff, BUSY | LOCKED | READONLY | IOERR | FULL | CANTOPEN))
}

pub(super) async fn connect(path: &Path, cfg: &Options) -> Result<SqlitePool> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| {
        let what = format!("cannot create the database directory {}", dir.display());
        io_unavailable(what, e)
    })?;
    check_writable(path, dir)?;
    let options = SqliteConnectOptions::from_str("sqlite://")
        .map_err(|e| StoreError::unavailable("sqlite: bad options", e))?
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a commit is on disk before `deliver` exits 0 or a file moves to cur/. With
        // NORMAL, WAL mode may lose the last commits on power loss: acknowledged mail.
        .synchronous(SqliteSynchronous::Full)
        // Each message of a batch is taken in under a savepoint, whose undo pages SQLite
        // keeps in a statement journal: a temporary file by default, created, written and
        // deleted for every message (issue 7's profile: pwrite, unlink and inode eviction were
        // a fifth of the database thread's time). In memory it costs a few pages; it is only
        // ever needed to roll back inside the open transaction, never after a crash.
        .pragma("temp_store", "memory")
        .busy_timeout(BUSY_TIMEOUT);
    SqlitePoolOptions::new()
        .max_connections(cfg.max_connections.max(1))
        .acquire_timeout(cfg.connect_timeout)
        .connect_with(options)
        .await
        .map_err(|e| StoreError::unavailable(format!("sqlite {}: cannot open", path.display()), e))
}

/// SQLite opens a file it cannot write read-only without a word, and fails later with
/// "attempt to write a readonly database"; in WAL mode it also creates `-wal` and `-shm` next
/// to the file. Checking both up front lets the error name the file or directory, its owner
/// and who we run as: what the operator has to fix.
fn check_writable(path: &Path, dir: &Path) -> Result<()> {
    let with_suffix = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    // The WAL files too: left by a command run as root, they make every write fail although
    // the database file itself is ours.
    for (what, file) in [
        ("the database file", path.to_owned()),
        ("the database's WAL file", with_suffix("-wal")),
        ("the database's shared-memory file", with_suffix("-shm")),
    ] {
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&file)
        {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) if is_denied(&e) => return Err(not_writable(what, &file, e)),
            Err(e) => {
                let what = format!("sqlite {}: cannot open", file.display());
                return Err(io_unavailable(what, e));
            }
        }
    }
    let probe = dir.join(format!(".guichet-write-check-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            // A probe left behind is harmless; it is named after our pid.
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) if is_denied(&e) => Err(not_writable("the database directory", dir, e)),
        Err(e) => {
            let what = format!("cannot write in the database directory {}", dir.display());
            Err(io_unavailable(what, e))
        }
    }
}

fn is_denied(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem
    )
}

fn not_writable(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    let us = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let us = us.map_or_else(|| "this process".to_owned(), user_label);
    let detail = if e.kind() == ErrorKind::ReadOnlyFilesystem {
        "it is on a read-only filesystem".to_owned()
    } else {
        match std::fs::metadata(path) {
            Ok(m) => format!(
                "it belongs to {} with mode {:o}",
                user_label(m.uid()),
                m.mode() & 0o7777
            ),
            Err(_) => "its owner cannot be read".to_owned(),
        }
    };
    io_unavailable(
        format!(
            "sqlite: {what} {} is not writable by {us}: {detail} (chown it to the user guichet runs as)",
            path.display()
        ),
        e,
    )
}

/// `uid 998 (guichet)`, or `uid 998` when /etc/passwd does not name it.
fn user_label(uid: u32) -> String {
    let name = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                let id = fields.nth(1)?;
                (id.parse() == Ok(uid)).then(|| name.to_owned())
            })
        });
    match name {
        Some(name) => format!("uid {uid} ({name})"),
        None => format!("uid {uid}"),
    }
}

fn io_unavailable(what: String, e: std::io::Error) -> StoreError {
    StoreError::Unavailable {
        what,
        source: Some(Box::new(e)),
    }
}

pub(super) async fn begin(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| StoreError::unavailable("sqlite: cannot begin a transaction", e))
}

/// A transaction that only reads ([`super::Store::begin_read`]): no write lock.
pub(super) async fn begin_read(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>> {
    pool.begin_with("BEGIN DEFERRED")
        .await
        .map_err(|e| StoreError::unavailable("sqlite: cannot begin a transaction", e))
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

pub const SELECT_CONTACT_BY_ADDRESS: &str =
    "SELECT c.id, c.name, c.institution_id, c.origin, c.created_at
     FROM contact_addresses a JOIN contacts c ON c.tenant_id = a.tenant_id AND c.id = a.contact_id
     WHERE a.tenant_id = $1 AND a.kind = $2 AND a.address = $3";
/// The contacts of the addresses (of one kind) in a JSON array, each with its address
/// (`Tx::read_contacts_ahead`).
pub const SELECT_CONTACTS_BY_ADDRESSES: &str =
    "SELECT a.address, c.id, c.name, c.institution_id, c.origin, c.created_at
     FROM contact_addresses a JOIN contacts c ON c.tenant_id = a.tenant_id AND c.id = a.contact_id
     WHERE a.tenant_id = $1 AND a.kind = $2 AND a.address IN (SELECT value FROM json_each($3))";
pub const UPSERT_CONTACT_ADDRESS: &str =
    "INSERT INTO contact_addresses (tenant_id, kind, address, contact_id)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id, kind, address) DO UPDATE SET contact_id = excluded.contact_id";
pub const SELECT_RECEIPT: &str =
    "SELECT dedupe_key, channel, outcome, content_sha256, ticket_id, article_id, received_at
     FROM inbound_receipts WHERE tenant_id = $1 AND dedupe_key = $2";
/// The receipts of the keys in a JSON array (`Tx::read_receipts_ahead`).
pub const SELECT_RECEIPTS: &str =
    "SELECT dedupe_key, channel, outcome, content_sha256, ticket_id, article_id, received_at
     FROM inbound_receipts
     WHERE tenant_id = $1 AND dedupe_key IN (SELECT value FROM json_each($2))";

/// Transactions begin `IMMEDIATE` (one writer at a time): what a transaction reads is
/// current until it ends, so reading for update needs no lock of its own.
pub const SELECT_TICKET_FOR_UPDATE: &str = SELECT_TICKET;

/// The ticket of the first Message-ID of the JSON array `$2`, in its order, that the offer
/// stored: inbound articles first, then our own outbound mail. `json_each` walks the array and
/// each id probes the `(tenant_id, message_id)` indexes, in one statement. `CROSS JOIN` makes
/// SQLite keep the ids as the outer loop: with a plain JOIN its planner scans every article of
/// the offer and probes the ids for each (checked with EXPLAIN QUERY PLAN: ingest slowed down
/// as the offer grew).
macro_rules! ticket_id_by_message_ids {
    () => {
        "SELECT ticket_id FROM (
         SELECT ids.key AS pos, 0 AS src, a.id AS row_id, a.ticket_id
         FROM json_each($2) AS ids
         CROSS JOIN articles a ON a.tenant_id = $1 AND a.message_id = ids.value
         UNION ALL
         SELECT ids.key, 1, o.id, o.ticket_id
         FROM json_each($2) AS ids
         CROSS JOIN outbox o ON o.tenant_id = $1 AND o.message_id = ids.value
         WHERE o.ticket_id IS NOT NULL)
     ORDER BY pos, src, row_id LIMIT 1"
    };
}
/// That ticket's row, as [`super::sql::SELECT_TICKET`] reads it, in the same statement.
pub const SELECT_TICKET_BY_MESSAGE_IDS: &str = concat!(
    "SELECT ",
    ticket_columns!(),
    " FROM tickets WHERE tenant_id = $1 AND id = (",
    ticket_id_by_message_ids!(),
    ")"
);
/// [`SELECT_TICKET_BY_MESSAGE_IDS`] with the sender's standing in that ticket, as
/// [`super::sql::SELECT_STANDING`] tells it (`$3` the contact, `$4` the agent role).
pub const SELECT_TICKET_BY_MESSAGE_IDS_WITH_STANDING: &str = concat!(
    "SELECT ",
    ticket_columns!(),
    ", EXISTS (SELECT 1 FROM participants p
               WHERE p.tenant_id = $1 AND p.ticket_id = t.id AND p.contact_id = $3) AS participant,
       EXISTS (SELECT 1 FROM contact_roles r
               WHERE r.tenant_id = $1 AND r.contact_id = $3 AND r.role = $4) AS agent
     FROM tickets t WHERE t.tenant_id = $1 AND t.id = (",
    ticket_id_by_message_ids!(),
    ")"
);

/// Claims due outbox rows for the instance `$5`. SQLite has one writer at a time, so the
/// claim is atomic as is.
pub const CLAIM_OUTBOX: &str = concat!(
    "UPDATE outbox SET claimed_until = $3, claimed_by = $5, attempts = attempts + 1
     WHERE tenant_id = $1 AND id IN (
         SELECT id FROM outbox
         WHERE tenant_id = $1 AND status = 'pending' AND next_attempt_at <= $2
           AND (claimed_until IS NULL OR claimed_until <= $2)
         ORDER BY id LIMIT $4)
     RETURNING ",
    outbox_columns!()
);

#[cfg(test)]
mod tests {
    use super::is_transient_code;

    /// The Message-ID lookup probes the indexes once per id, whatever the offer's size: a
    /// plan that scans the offer's articles would make every reply cost O(articles).
    #[tokio::test]
    async fn message_id_lookup_probes_the_index_per_id() {
        use sqlx::Connection as _;
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::migrate!("migrations/sqlite")
            .run(&mut conn)
            .await
            .unwrap();
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {}",
            super::SELECT_TICKET_BY_MESSAGE_IDS
        )))
        .bind("SMSU")
        .bind(r#"["a@x", "b@x"]"#)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let details: Vec<&str> = plan.iter().map(|(_, _, _, d)| d.as_str()).collect();
        for table in ["articles_by_message_id", "outbox_by_message_id"] {
            assert!(
                details
                    .iter()
                    .any(|d| d.contains(table) && d.contains("message_id=?")),
                "{table} not probed by id: {details:#?}"
            );
        }
        assert!(
            !details
                .iter()
                .any(|d| d.starts_with("SCAN a") || d.starts_with("SCAN o")),
            "{details:#?}"
        );
    }

    #[test]
    fn result_codes_are_classified_by_their_primary_code() {
        let cases = [
            ("5", true),     // SQLITE_BUSY
            ("261", true),   // SQLITE_BUSY_RECOVERY
            ("517", true),   // SQLITE_BUSY_SNAPSHOT
            ("773", true),   // SQLITE_BUSY_TIMEOUT
            ("6", true),     // SQLITE_LOCKED
            ("262", true),   // SQLITE_LOCKED_SHAREDCACHE
            ("8", true),     // SQLITE_READONLY
            ("1032", true),  // SQLITE_READONLY_DBMOVED
            ("10", true),    // SQLITE_IOERR
            ("266", true),   // SQLITE_IOERR_READ
            ("778", true),   // SQLITE_IOERR_WRITE
            ("1034", true),  // SQLITE_IOERR_FSYNC
            ("3338", true),  // SQLITE_IOERR_ACCESS
            ("13", true),    // SQLITE_FULL
            ("14", true),    // SQLITE_CANTOPEN
            ("1", false),    // SQLITE_ERROR (syntax, missing table)
            ("7", false),    // SQLITE_NOMEM: may come from the message itself
            ("11", false),   // SQLITE_CORRUPT
            ("18", false),   // SQLITE_TOOBIG
            ("19", false),   // SQLITE_CONSTRAINT
            ("1555", false), // SQLITE_CONSTRAINT_PRIMARYKEY
            ("2067", false), // SQLITE_CONSTRAINT_UNIQUE
            ("20", false),   // SQLITE_MISMATCH
            ("", false),
            ("busy", false),
        ];
        for (code, transient) in cases {
            assert_eq!(is_transient_code(code), transient, "code {code:?}");
        }
    }
}
