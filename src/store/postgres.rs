//! PostgreSQL: a pool for production and for several daemons sharing the work. Each
//! transaction sets `guichet.tenant` locally, which the row-level-security policies of every
//! table check; ids come from sequences; outbox claims skip rows another daemon has locked.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{Connection, PgPool, Postgres, Transaction};

pub use super::sql::*;
use super::sql::{outbox_columns, ticket_columns};
use super::{IdTable, Options, Result, StoreError};
use crate::domain::TenantId;

/// Whether a SQLSTATE means "the database is away or busy, try again later", as opposed to
/// "this statement is wrong for this data". Everything not listed is permanent.
pub(super) fn is_transient_sqlstate(code: &str) -> bool {
    // 08: connection exceptions. 53: insufficient resources (disk full, out of memory, too
    // many connections). 57P: operator intervention - 57P01 admin_shutdown (a restart, a
    // failover, pg_terminate_backend), 57P02 crash_shutdown, 57P03 cannot_connect_now (still
    // starting), 57P04 database_dropped, 57P05 idle_session_timeout. (57014 query_canceled is
    // not included: a statement timeout would recur with the same message.)
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || matches!(
            code,
            // serialization_failure, deadlock_detected: the transaction lost a race.
            "40001" | "40P01"
            // read_only_sql_transaction: connected to a replica, e.g. just after a failover.
            | "25006"
        )
}

pub(super) async fn connect(url: &str, password: Option<&str>, cfg: &Options) -> Result<PgPool> {
    let mut options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::unavailable("postgres: the storage dsn is not a valid URL", e))?;
    if let Some(password) = password {
        options = options.password(password);
    }
    options = options.application_name("guichet");
    let server = match options.get_socket() {
        Some(dir) => format!("socket {}", dir.display()),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    // One direct connection first: a pool retries a refused connection until its acquire
    // timeout and then says only "pool timed out". This says what went wrong, at once.
    let probe = tokio::time::timeout(cfg.connect_timeout, PgConnection::connect_with(&options));
    match probe.await {
        Ok(Ok(conn)) => {
            // Closing is courtesy; a failure here changes nothing.
            let _ = conn.close().await;
        }
        Ok(Err(e)) => return Err(StoreError::unavailable(connect_failure(&server, &e), e)),
        Err(_) => {
            return Err(StoreError::Unavailable {
                what: format!(
                    "postgres {server}: no answer within {:?} (connect_timeout_secs)",
                    cfg.connect_timeout
                ),
                source: None,
            });
        }
    }
    Ok(PgPoolOptions::new()
        .max_connections(cfg.max_connections.max(1))
        .acquire_timeout(cfg.connect_timeout)
        .connect_lazy_with(options))
}

/// What to tell the operator about a failed connection to `server`.
fn connect_failure(server: &str, e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                format!("connection refused to {server} (postgres)")
            }
            std::io::ErrorKind::NotFound => {
                format!("postgres {server}: no such host or socket")
            }
            _ => format!("cannot connect to postgres {server}"),
        },
        sqlx::Error::Database(d) => match d.code().as_deref() {
            Some("28P01") | Some("28000") => {
                format!(
                    "postgres {server}: authentication failed (check the user and password_file)"
                )
            }
            Some("3D000") => format!("postgres {server}: the database does not exist"),
            _ => format!("postgres {server} refused the connection"),
        },
        _ => format!("cannot connect to postgres {server}"),
    }
}

pub(super) async fn begin(
    pool: &PgPool,
    tenant: &TenantId,
) -> Result<Transaction<'static, Postgres>> {
    let unavailable = |e| StoreError::unavailable("postgres: cannot begin a transaction", e);
    let mut tx = pool.begin().await.map_err(unavailable)?;
    // set_config(..., true) is SET LOCAL: it ends with the transaction, so a pooled
    // connection never carries one offer's setting into another's transaction. It is part of
    // beginning: its failure is the connection's, never the message's.
    sqlx::query("SELECT set_config('guichet.tenant', $1, true)")
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    Ok(tx)
}

pub fn next_id(table: IdTable) -> &'static str {
    match table {
        IdTable::Institutions => "SELECT nextval('institutions_id_seq')",
        IdTable::Contacts => "SELECT nextval('contacts_id_seq')",
        IdTable::Tickets => "SELECT nextval('tickets_id_seq')",
        IdTable::Articles => "SELECT nextval('articles_id_seq')",
        IdTable::Quarantine => "SELECT nextval('quarantine_id_seq')",
        IdTable::Outbox => "SELECT nextval('outbox_id_seq')",
        IdTable::Events => "SELECT nextval('events_id_seq')",
    }
}

// Long values: keys and indexes hold `guichet_key(value)` (the SHA-256 of the text, see
// migrations/postgres/0002) so a value of any length fits a B-tree; lookups compare the key,
// for the index, and the value, to be exact.

pub const SELECT_CONTACT_BY_ADDRESS: &str =
    "SELECT c.id, c.name, c.institution_id, c.origin, c.created_at
     FROM contact_addresses a JOIN contacts c ON c.tenant_id = a.tenant_id AND c.id = a.contact_id
     WHERE a.tenant_id = $1 AND a.kind = $2 AND a.address_sha256 = guichet_key($3)
       AND a.address = $3";
pub const UPSERT_CONTACT_ADDRESS: &str =
    "INSERT INTO contact_addresses (tenant_id, kind, address, contact_id)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id, kind, address_sha256) DO UPDATE SET contact_id = excluded.contact_id";
pub const SELECT_RECEIPT: &str =
    "SELECT dedupe_key, channel, outcome, content_sha256, ticket_id, article_id, received_at
     FROM inbound_receipts
     WHERE tenant_id = $1 AND dedupe_key_sha256 = guichet_key($2) AND dedupe_key = $2";

/// [`super::sql::SELECT_TICKET`] locking the row until the transaction ends: a status change
/// reads the ticket's times, decides the new ones and writes them, and a concurrent change
/// must wait rather than be decided on a stale row.
pub const SELECT_TICKET_FOR_UPDATE: &str = concat!(
    "SELECT ",
    ticket_columns!(),
    " FROM tickets WHERE tenant_id = $1 AND id = $2 FOR UPDATE"
);

/// The ticket of the first Message-ID of the array `$2`, in its order, that the offer stored:
/// inbound articles first, then our own outbound mail. One statement: each id probes the
/// message-id indexes.
/// Returns the ticket's row, as [`super::sql::SELECT_TICKET`] reads it.
pub const SELECT_TICKET_BY_MESSAGE_IDS: &str = concat!(
    "SELECT ",
    ticket_columns!(),
    " FROM tickets WHERE tenant_id = $1 AND id = (
     SELECT f.ticket_id FROM unnest($2::text[]) WITH ORDINALITY AS ids(mid, pos)
     JOIN LATERAL (
         SELECT 0 AS src, a.id AS row_id, a.ticket_id FROM articles a
         WHERE a.tenant_id = $1 AND guichet_key(a.message_id) = guichet_key(ids.mid)
           AND a.message_id = ids.mid
         UNION ALL
         SELECT 1, o.id, o.ticket_id FROM outbox o
         WHERE o.tenant_id = $1 AND guichet_key(o.message_id) = guichet_key(ids.mid)
           AND o.message_id = ids.mid AND o.ticket_id IS NOT NULL
     ) f ON true
     ORDER BY ids.pos, f.src, f.row_id LIMIT 1)"
);

/// Claims due outbox rows for the instance `$5`; rows another daemon is claiming are
/// skipped, not waited for. The pick is a materialized CTE: as an `IN (subquery)`, PostgreSQL
/// may run the subquery again while updating, and with SKIP LOCKED a second run returns other
/// rows, so more than `$4` rows were claimed.
pub const CLAIM_OUTBOX: &str = concat!(
    "WITH picked AS MATERIALIZED (
         SELECT id AS picked_id FROM outbox
         WHERE tenant_id = $1 AND status = 'pending' AND next_attempt_at <= $2
           AND (claimed_until IS NULL OR claimed_until <= $2)
         ORDER BY id LIMIT $4
         FOR UPDATE SKIP LOCKED)
     UPDATE outbox SET claimed_until = $3, claimed_by = $5, attempts = attempts + 1
     FROM picked WHERE outbox.tenant_id = $1 AND outbox.id = picked.picked_id
     RETURNING ",
    outbox_columns!()
);

#[cfg(test)]
mod tests {
    use super::is_transient_sqlstate;

    #[test]
    fn sqlstates_are_classified_by_class_and_code() {
        let cases = [
            ("08000", true),  // connection_exception
            ("08003", true),  // connection_does_not_exist
            ("08006", true),  // connection_failure
            ("08001", true),  // sqlclient_unable_to_establish_sqlconnection
            ("08P01", true),  // protocol_violation
            ("53000", true),  // insufficient_resources
            ("53100", true),  // disk_full
            ("53200", true),  // out_of_memory
            ("53300", true),  // too_many_connections
            ("57P01", true),  // admin_shutdown: restart, failover, pg_terminate_backend
            ("57P02", true),  // crash_shutdown
            ("57P03", true),  // cannot_connect_now
            ("57P04", true),  // database_dropped
            ("57P05", true),  // idle_session_timeout
            ("40001", true),  // serialization_failure
            ("40P01", true),  // deadlock_detected
            ("25006", true),  // read_only_sql_transaction (a replica after failover)
            ("57014", false), // query_canceled: a timeout would recur
            ("40002", false), // transaction_integrity_constraint_violation
            ("25P02", false), // in_failed_sql_transaction: our bug
            ("23505", false), // unique_violation
            ("22001", false), // string_data_right_truncation
            ("22021", false), // character_not_in_repertoire (a NUL)
            ("54000", false), // program_limit_exceeded (index row too big)
            ("42501", false), // insufficient_privilege (row-level security)
            ("42P01", false), // undefined_table
            ("XX000", false), // internal_error
            ("", false),
        ];
        for (code, transient) in cases {
            assert_eq!(is_transient_sqlstate(code), transient, "SQLSTATE {code:?}");
        }
    }
}
