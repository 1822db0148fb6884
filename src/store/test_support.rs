//! Hooks for tests that must do what the store never does: open a transaction with no offer,
//! try to rewrite the event log, count rows across offers. Compiled only with the
//! `test-support` feature (the crate's own dev-dependency turns it on for `cargo test`), so no
//! production build carries them.

use super::{IdTable, Pool, Result, Store, StoreError, Tx, TxInner, sqlite};
use crate::domain::{EventId, TenantId};

/// An update of the append-only event log, which both databases refuse (a trigger).
const TAMPER_EVENT: &str = "UPDATE events SET kind = 'tampered' WHERE tenant_id = $1 AND id = $2";

/// `SELECT count(*)` over a whole table, with no tenant filter: what isolation tests count.
fn count_all(table: IdTable) -> &'static str {
    match table {
        IdTable::Institutions => "SELECT count(*) FROM institutions",
        IdTable::Contacts => "SELECT count(*) FROM contacts",
        IdTable::Tickets => "SELECT count(*) FROM tickets",
        IdTable::Articles => "SELECT count(*) FROM articles",
        IdTable::Quarantine => "SELECT count(*) FROM quarantine",
        IdTable::Outbox => "SELECT count(*) FROM outbox",
        IdTable::Events => "SELECT count(*) FROM events",
    }
}

impl Store {
    /// Opens a PostgreSQL transaction with no offer set, to show what row-level security
    /// lets such a transaction do (nothing). Only for tests of that guarantee.
    pub async fn begin_without_tenant_for_tests(&self, pretend: &TenantId) -> Result<Tx> {
        let inner = match &self.pool {
            Pool::Sqlite(p) => TxInner::Sqlite(sqlite::begin(p).await?),
            Pool::Postgres(p) => TxInner::Postgres(
                p.begin()
                    .await
                    .map_err(|e| StoreError::unavailable("postgres: cannot begin", e))?,
            ),
        };
        Ok(Tx::new(pretend, inner))
    }
}

impl Tx {
    /// Tries to update an event (tests show the log refuses it).
    pub async fn tamper_event_for_tests(&mut self, id: EventId) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "tamper_event_for_tests", |c| sqlx::query(
            TAMPER_EVENT
        )
        .bind(t)
        .bind(id)
        .execute(c)
        .await?);
        Ok(())
    }

    /// Counts the rows of `table` this transaction can see (tests of tenant isolation).
    pub async fn count_visible_for_tests(&mut self, table: IdTable) -> Result<i64> {
        Ok(on!(self, "count_visible_for_tests", |c| {
            sqlx::query_scalar(count_all(table)).fetch_one(c).await?
        }))
    }
}
