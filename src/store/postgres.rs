//! PostgreSQL: a pool for production and for several daemons sharing the work. Each
//! transaction sets `guichet.tenant` locally, which the row-level-security policies of every
//! table check; ids come from sequences; outbox claims skip rows another daemon has locked.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use super::sql::outbox_columns;
pub use super::sql::*;
use super::{IdTable, Result, StoreError, unavailable};
use crate::config::StorageConfig;
use crate::domain::TenantId;

pub(super) async fn connect(url: &str, cfg: &StorageConfig) -> Result<PgPool> {
    let mut options = PgConnectOptions::from_str(url).map_err(StoreError::Query)?;
    if let Some(password) = &cfg.password {
        options = options.password(password.expose());
    }
    options = options.application_name("guichet");
    PgPoolOptions::new()
        .max_connections(cfg.max_connections.max(1))
        .acquire_timeout(cfg.connect_timeout)
        .connect_with(options)
        .await
        .map_err(|e| StoreError::Unavailable(format!("postgres: {e}")))
}

pub(super) async fn begin(
    pool: &PgPool,
    tenant: &TenantId,
) -> Result<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await.map_err(unavailable)?;
    // set_config(..., true) is SET LOCAL: it ends with the transaction, so a pooled
    // connection never carries one offer's setting into another's transaction.
    sqlx::query("SELECT set_config('guichet.tenant', $1, true)")
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
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

/// Claims due outbox rows; rows another daemon is claiming are skipped, not waited for.
pub const CLAIM_OUTBOX: &str = concat!(
    "UPDATE outbox SET claimed_until = $3, attempts = attempts + 1
     WHERE tenant_id = $1 AND id IN (
         SELECT id FROM outbox
         WHERE tenant_id = $1 AND status = 'pending' AND next_attempt_at <= $2
           AND (claimed_until IS NULL OR claimed_until <= $2)
         ORDER BY id LIMIT $4
         FOR UPDATE SKIP LOCKED)
     RETURNING ",
    outbox_columns!()
);
