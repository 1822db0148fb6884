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

mod id_columns;
mod postgres;
mod rows;
mod sql;
mod sqlite;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

pub use rows::*;

use crate::config::{Dsn, StorageConfig};
use crate::domain::{
    ArticleId, Channel, ContactId, EventId, FinishTimes, InstitutionId, LinkRelation, OutboxId,
    OutboxState, ParticipantRole, Priority, QuarantineId, Status, TenantId, TicketId, TicketRef,
};

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
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// A statement (or the commit) failed: transient or not according to the database's code,
    /// see [`is_transient_sqlx`].
    #[error("database error in {op}")]
    Query {
        /// The store operation that failed (`insert_article`, `commit`...).
        op: &'static str,
        #[source]
        source: sqlx::Error,
    },
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
    /// message in its own): for quarantine reasons and log fields.
    pub fn detail(&self) -> String {
        let mut out = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(e) = cause {
            let text = e.to_string();
            if !out.ends_with(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            cause = e.source();
        }
        out
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

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
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
}

/// Runs `$body` with `$conn` bound to the transaction's connection and `sql` naming the
/// backend's SQL module, once per backend: the same Rust drives both databases. A sqlx error
/// inside `$body` (its `?`) becomes a [`StoreError::Query`] naming `$op`.
macro_rules! on {
    ($tx:expr, $op:literal, |$conn:ident| $body:expr) => {
        match &mut $tx.inner {
            TxInner::Sqlite(t) => {
                #[allow(
                    unused_imports,
                    reason = "statements that need no backend SQL leave it unused"
                )]
                use self::sqlite as sql;
                let $conn = &mut **t;
                async { Ok::<_, sqlx::Error>($body) }
                    .await
                    .map_err(|e| StoreError::query($op, e))?
            }
            TxInner::Postgres(t) => {
                #[allow(
                    unused_imports,
                    reason = "statements that need no backend SQL leave it unused"
                )]
                use self::postgres as sql;
                let $conn = &mut **t;
                async { Ok::<_, sqlx::Error>($body) }
                    .await
                    .map_err(|e| StoreError::query($op, e))?
            }
        }
    };
}

/// [`on!`] for statements whose result is not needed (the two backends' results differ).
macro_rules! exec {
    ($tx:expr, $op:literal, |$conn:ident| $body:expr) => {
        on!($tx, $op, |$conn| {
            $body;
        })
    };
}

impl Store {
    /// Opens the pool. SQLite paths are relative to `data_dir`, whose parent folders are made.
    pub async fn connect(cfg: &StorageConfig, data_dir: &Path) -> Result<Store> {
        let pool = match &cfg.dsn {
            Dsn::Sqlite(path) => Pool::Sqlite(sqlite::connect(&data_dir.join(path), cfg).await?),
            Dsn::Postgres(url) => Pool::Postgres(postgres::connect(url, cfg).await?),
        };
        Ok(Store { pool })
    }

    /// Connects to a PostgreSQL URL as is (tests, tools).
    pub async fn connect_postgres(url: &str, max_connections: u32) -> Result<Store> {
        let cfg = StorageConfig {
            dsn: Dsn::Postgres(url.to_owned()),
            password: None,
            max_connections,
            connect_timeout: Duration::from_secs(5),
        };
        Ok(Store {
            pool: Pool::Postgres(postgres::connect(url, &cfg).await?),
        })
    }

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
        Ok(Tx {
            tenant: tenant.clone(),
            inner,
        })
    }

    /// Opens a PostgreSQL transaction with no offer set, to show what row-level security
    /// lets such a transaction do (nothing). Only for tests of that guarantee.
    #[doc(hidden)]
    pub async fn begin_without_tenant_for_tests(&self, pretend: &TenantId) -> Result<Tx> {
        let inner = match &self.pool {
            Pool::Sqlite(p) => TxInner::Sqlite(sqlite::begin(p).await?),
            Pool::Postgres(p) => TxInner::Postgres(
                p.begin()
                    .await
                    .map_err(|e| StoreError::unavailable("postgres: cannot begin", e))?,
            ),
        };
        Ok(Tx {
            tenant: pretend.clone(),
            inner,
        })
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

impl Tx {
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    pub async fn commit(self) -> Result<()> {
        let done = match self.inner {
            TxInner::Sqlite(t) => t.commit().await,
            TxInner::Postgres(t) => t.commit().await,
        };
        done.map_err(|e| StoreError::query("commit", e))
    }

    pub async fn rollback(self) -> Result<()> {
        let done = match self.inner {
            TxInner::Sqlite(t) => t.rollback().await,
            TxInner::Postgres(t) => t.rollback().await,
        };
        done.map_err(|e| StoreError::query("rollback", e))
    }

    async fn next_id(&mut self, table: IdTable) -> Result<i64> {
        // SQLite counts within the offer (MAX + 1), PostgreSQL draws from a sequence.
        let id: i64 = match &mut self.inner {
            TxInner::Sqlite(t) => {
                sqlx::query_scalar(sqlite::next_id(table))
                    .bind(self.tenant.as_str())
                    .fetch_one(&mut **t)
                    .await
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

    // ----- offers, institutions, contacts (synchronised from the configuration) -----

    pub async fn upsert_offer(&mut self, o: &OfferRow) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "upsert_offer", |c| {
            sqlx::query(sql::UPSERT_OFFER)
                .bind(t)
                .bind(&o.name)
                .bind(&o.provider)
                .bind(&o.locale)
                .bind(&o.support_address)
                .bind(o.updated_at)
                .execute(c)
                .await?
        });
        Ok(())
    }

    pub async fn offer(&mut self) -> Result<Option<OfferRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "offer", |c| sqlx::query_as(sql::SELECT_OFFER)
            .bind(t)
            .fetch_optional(c)
            .await?))
    }

    /// Inserts or updates an institution by key; returns its id.
    pub async fn upsert_institution(
        &mut self,
        key: &str,
        name: &str,
        domains: &[String],
    ) -> Result<InstitutionId> {
        let t = self.tenant.as_str().to_owned();
        let domains = domains.join(" ");
        let existing: Option<i64> = on!(self, "upsert_institution", |c| {
            sqlx::query_scalar(sql::SELECT_INSTITUTION_ID)
                .bind(&t)
                .bind(key)
                .fetch_optional(c)
                .await?
        });
        let id = match existing {
            Some(id) => id,
            None => self.next_id(IdTable::Institutions).await?,
        };
        exec!(self, "upsert_institution", |c| {
            sqlx::query(sql::UPSERT_INSTITUTION)
                .bind(&t)
                .bind(id)
                .bind(key)
                .bind(name)
                .bind(&domains)
                .execute(c)
                .await?
        });
        Ok(InstitutionId(id))
    }

    pub async fn institutions(&mut self) -> Result<Vec<InstitutionRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "institutions", |c| sqlx::query_as(
            sql::SELECT_INSTITUTIONS
        )
        .bind(t)
        .fetch_all(c)
        .await?))
    }

    pub async fn institution(&mut self, id: InstitutionId) -> Result<Option<InstitutionRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "institution", |c| {
            sqlx::query_as(sql::SELECT_INSTITUTION)
                .bind(t)
                .bind(id)
                .fetch_optional(c)
                .await?
        }))
    }

    pub async fn contact_by_address(
        &mut self,
        kind: AddressKind,
        address: &str,
    ) -> Result<Option<ContactRow>> {
        let t = self.tenant.as_str();
        let address = address.to_ascii_lowercase();
        Ok(on!(self, "contact_by_address", |c| {
            sqlx::query_as(sql::SELECT_CONTACT_BY_ADDRESS)
                .bind(t)
                .bind(kind.as_str())
                .bind(&address)
                .fetch_optional(c)
                .await?
        }))
    }

    pub async fn contact(&mut self, id: ContactId) -> Result<Option<ContactRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "contact", |c| {
            sqlx::query_as(sql::SELECT_CONTACT)
                .bind(t)
                .bind(id.0)
                .fetch_optional(c)
                .await?
        }))
    }

    pub async fn create_contact(&mut self, new: &NewContact<'_>) -> Result<ContactId> {
        let id = self.next_id(IdTable::Contacts).await?;
        let t = self.tenant.as_str();
        exec!(self, "create_contact", |c| {
            sqlx::query(sql::INSERT_CONTACT)
                .bind(t)
                .bind(id)
                .bind(new.name)
                .bind(new.institution_id)
                .bind(new.origin)
                .bind(new.now)
                .execute(c)
                .await?
        });
        Ok(ContactId(id))
    }

    pub async fn update_contact(
        &mut self,
        id: ContactId,
        name: Option<&str>,
        institution_id: Option<InstitutionId>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "update_contact", |c| {
            sqlx::query(sql::UPDATE_CONTACT)
                .bind(t)
                .bind(id.0)
                .bind(name)
                .bind(institution_id)
                .execute(c)
                .await?
        });
        Ok(())
    }

    /// Gives `address` to `contact` (moving it from another contact if it had it).
    pub async fn set_contact_address(
        &mut self,
        contact: ContactId,
        kind: AddressKind,
        address: &str,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        let address = address.to_ascii_lowercase();
        exec!(self, "set_contact_address", |c| {
            sqlx::query(sql::UPSERT_CONTACT_ADDRESS)
                .bind(t)
                .bind(kind.as_str())
                .bind(&address)
                .bind(contact.0)
                .execute(c)
                .await?
        });
        Ok(())
    }

    /// Gives `address` to `contact` unless another contact has it; returns whether it did.
    pub async fn add_contact_address_if_absent(
        &mut self,
        contact: ContactId,
        kind: AddressKind,
        address: &str,
    ) -> Result<bool> {
        let t = self.tenant.as_str();
        let address = address.to_ascii_lowercase();
        let added = on!(self, "add_contact_address_if_absent", |c| {
            sqlx::query(sql::INSERT_CONTACT_ADDRESS_IF_ABSENT)
                .bind(t)
                .bind(kind.as_str())
                .bind(&address)
                .bind(contact.0)
                .execute(c)
                .await?
                .rows_affected()
        });
        Ok(added == 1)
    }

    pub async fn contact_emails(&mut self, contact: ContactId) -> Result<Vec<String>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "contact_emails", |c| {
            sqlx::query_scalar(sql::SELECT_CONTACT_EMAILS)
                .bind(t)
                .bind(contact.0)
                .fetch_all(c)
                .await?
        }))
    }

    /// Replaces the contact's roles on this offer.
    pub async fn set_contact_roles(&mut self, contact: ContactId, roles: &[&str]) -> Result<()> {
        let t = self.tenant.as_str().to_owned();
        exec!(self, "set_contact_roles", |c| {
            sqlx::query(sql::DELETE_CONTACT_ROLES)
                .bind(&t)
                .bind(contact.0)
                .execute(&mut *c)
                .await?;
            for role in roles {
                sqlx::query(sql::INSERT_CONTACT_ROLE)
                    .bind(&t)
                    .bind(contact.0)
                    .bind(*role)
                    .execute(&mut *c)
                    .await?;
            }
        });
        Ok(())
    }

    pub async fn contact_roles(&mut self, contact: ContactId) -> Result<Vec<String>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "contact_roles", |c| {
            sqlx::query_scalar(sql::SELECT_CONTACT_ROLES)
                .bind(t)
                .bind(contact.0)
                .fetch_all(c)
                .await?
        }))
    }

    // ----- tickets -----

    /// Creates a ticket with the next number of its kind in this offer.
    pub async fn create_ticket(&mut self, new: &NewTicket<'_>) -> Result<TicketRow> {
        let t = self.tenant.as_str().to_owned();
        let kind = new.kind.as_str();
        let number: i64 = on!(self, "create_ticket", |c| {
            sqlx::query_scalar(sql::NEXT_TICKET_NUMBER)
                .bind(&t)
                .bind(kind)
                .fetch_one(c)
                .await?
        });
        let id = self.next_id(IdTable::Tickets).await?;
        exec!(self, "create_ticket", |c| {
            sqlx::query(sql::INSERT_TICKET)
                .bind(&t)
                .bind(id)
                .bind(kind)
                .bind(number)
                .bind(new.title)
                .bind(Status::New.as_str())
                .bind(new.priority.as_str())
                .bind(new.requester.map(|r| r.0))
                .bind(new.institution_id)
                .bind(new.now)
                .execute(c)
                .await?
        });
        let row = self.ticket(TicketId(id)).await?;
        row.ok_or_else(|| StoreError::query("create_ticket", sqlx::Error::RowNotFound))
    }

    pub async fn ticket(&mut self, id: TicketId) -> Result<Option<TicketRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "ticket", |c| sqlx::query_as(sql::SELECT_TICKET)
            .bind(t)
            .bind(id.0)
            .fetch_optional(c)
            .await?))
    }

    pub async fn ticket_by_ref(&mut self, r: TicketRef) -> Result<Option<TicketRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "ticket_by_ref", |c| {
            sqlx::query_as(sql::SELECT_TICKET_BY_REF)
                .bind(t)
                .bind(r.kind.as_str())
                .bind(r.number)
                .fetch_optional(c)
                .await?
        }))
    }

    /// The ticket of the first of `message_ids` (in the given order) that this offer stored,
    /// inbound or outbound. One statement for the whole list, however long: a References
    /// header must not hold the write transaction for one round trip per id.
    pub async fn ticket_by_message_ids(
        &mut self,
        message_ids: &[&str],
    ) -> Result<Option<TicketRow>> {
        if message_ids.is_empty() {
            return Ok(None);
        }
        let t = self.tenant.as_str();
        let found: Option<i64> = match &mut self.inner {
            TxInner::Sqlite(c) => {
                // SQLite takes the list as a JSON array (json_each), not as many binds.
                let ids = serde_json::Value::from(message_ids.to_vec()).to_string();
                sqlx::query_scalar(sqlite::SELECT_TICKET_ID_BY_MESSAGE_IDS)
                    .bind(t)
                    .bind(ids)
                    .fetch_optional(&mut **c)
                    .await
            }
            TxInner::Postgres(c) => {
                sqlx::query_scalar(postgres::SELECT_TICKET_ID_BY_MESSAGE_IDS)
                    .bind(t)
                    .bind(message_ids)
                    .fetch_optional(&mut **c)
                    .await
            }
        }
        .map_err(|e| StoreError::query("ticket_by_message_ids", e))?;
        match found {
            Some(id) => self.ticket(TicketId(id)).await,
            None => Ok(None),
        }
    }

    pub async fn list_tickets(&mut self, status: Option<Status>) -> Result<Vec<TicketRow>> {
        let t = self.tenant.as_str();
        let status = status.map(Status::as_str);
        Ok(on!(self, "list_tickets", |c| sqlx::query_as(
            sql::LIST_TICKETS
        )
        .bind(t)
        .bind(status)
        .fetch_all(c)
        .await?))
    }

    /// Sets the status and the matching timestamps (resolved, closed; cleared on reopening).
    /// Writes a status and the finish times that go with it (the caller has them from
    /// [`crate::domain::finish_times`]).
    pub async fn set_status(
        &mut self,
        id: TicketId,
        status: Status,
        times: FinishTimes,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "set_status", |c| {
            sqlx::query(sql::UPDATE_TICKET_STATUS)
                .bind(t)
                .bind(id.0)
                .bind(status.as_str())
                .bind(now)
                .bind(times.resolved_at)
                .bind(times.closed_at)
                .execute(c)
                .await?
        });
        Ok(())
    }

    pub async fn set_priority(
        &mut self,
        id: TicketId,
        priority: Priority,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "set_priority", |c| {
            sqlx::query(sql::UPDATE_TICKET_PRIORITY)
                .bind(t)
                .bind(id.0)
                .bind(priority.as_str())
                .bind(now)
                .execute(c)
                .await?
        });
        Ok(())
    }

    pub async fn set_assignee(
        &mut self,
        id: TicketId,
        assignee: Option<ContactId>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "set_assignee", |c| {
            sqlx::query(sql::UPDATE_TICKET_ASSIGNEE)
                .bind(t)
                .bind(id.0)
                .bind(assignee.map(|a| a.0))
                .bind(now)
                .execute(c)
                .await?
        });
        Ok(())
    }

    /// Records the first agent response time, once.
    pub async fn mark_first_response(&mut self, id: TicketId, now: DateTime<Utc>) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "mark_first_response", |c| sqlx::query(
            sql::UPDATE_TICKET_FIRST_RESPONSE
        )
        .bind(t)
        .bind(id.0)
        .bind(now)
        .execute(c)
        .await?);
        Ok(())
    }

    pub async fn touch_ticket(&mut self, id: TicketId, now: DateTime<Utc>) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "touch_ticket", |c| sqlx::query(sql::TOUCH_TICKET)
            .bind(t)
            .bind(id.0)
            .bind(now)
            .execute(c)
            .await?);
        Ok(())
    }

    pub async fn link_tickets(
        &mut self,
        ticket: TicketId,
        other: TicketId,
        relation: LinkRelation,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "link_tickets", |c| {
            sqlx::query(sql::INSERT_TICKET_LINK)
                .bind(t)
                .bind(ticket.0)
                .bind(other.0)
                .bind(relation.as_str())
                .bind(now)
                .execute(c)
                .await?
        });
        Ok(())
    }

    pub async fn ticket_links(&mut self, ticket: TicketId) -> Result<Vec<LinkRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "ticket_links", |c| sqlx::query_as(
            sql::SELECT_TICKET_LINKS
        )
        .bind(t)
        .bind(ticket.0)
        .fetch_all(c)
        .await?))
    }

    /// Links `ticket` to the ticket `other_ref` of the offer `other` (one mail sent to both
    /// offers). Each offer records its own side. A second identical call is a no-op.
    pub async fn link_other_offer(
        &mut self,
        ticket: TicketId,
        other: &TenantId,
        other_ref: TicketRef,
        relation: LinkRelation,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        let other_ref = other_ref.to_string();
        exec!(self, "link_other_offer", |c| {
            sqlx::query(sql::INSERT_OFFER_LINK)
                .bind(t)
                .bind(ticket.0)
                .bind(other.as_str())
                .bind(&other_ref)
                .bind(relation.as_str())
                .bind(now)
                .execute(c)
                .await?
        });
        Ok(())
    }

    pub async fn other_offer_links(&mut self, ticket: TicketId) -> Result<Vec<OfferLinkRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "other_offer_links", |c| sqlx::query_as(
            sql::SELECT_OFFER_LINKS
        )
        .bind(t)
        .bind(ticket.0)
        .fetch_all(c)
        .await?))
    }

    /// Adds a participant; an existing one keeps its role.
    pub async fn add_participant(
        &mut self,
        ticket: TicketId,
        contact: ContactId,
        role: ParticipantRole,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "add_participant", |c| {
            sqlx::query(sql::INSERT_PARTICIPANT)
                .bind(t)
                .bind(ticket.0)
                .bind(contact.0)
                .bind(role.as_str())
                .execute(c)
                .await?
        });
        Ok(())
    }

    pub async fn participants(&mut self, ticket: TicketId) -> Result<Vec<ParticipantRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "participants", |c| sqlx::query_as(
            sql::SELECT_PARTICIPANTS
        )
        .bind(t)
        .bind(ticket.0)
        .fetch_all(c)
        .await?))
    }

    // ----- raw messages, articles, attachments -----

    /// Stores raw bytes under their SHA-256 (once per offer); returns the hex digest.
    pub async fn put_raw_message(&mut self, data: &[u8], now: DateTime<Utc>) -> Result<String> {
        let sha = sha256_hex(data);
        let t = self.tenant.as_str();
        let size = data.len() as i64;
        exec!(self, "put_raw_message", |c| {
            sqlx::query(sql::INSERT_RAW_MESSAGE)
                .bind(t)
                .bind(&sha)
                .bind(size)
                .bind(data)
                .bind(now)
                .execute(c)
                .await?
        });
        Ok(sha)
    }

    pub async fn raw_message(&mut self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "raw_message", |c| sqlx::query_scalar(
            sql::SELECT_RAW_MESSAGE
        )
        .bind(t)
        .bind(sha256)
        .fetch_optional(c)
        .await?))
    }

    pub async fn insert_article(&mut self, a: &NewArticle<'_>) -> Result<ArticleId> {
        let id = self.next_id(IdTable::Articles).await?;
        let t = self.tenant.as_str();
        exec!(self, "insert_article", |c| {
            sqlx::query(sql::INSERT_ARTICLE)
                .bind(t)
                .bind(id)
                .bind(a.ticket.0)
                .bind(a.channel.as_str())
                .bind(a.direction.as_str())
                .bind(a.author.map(|x| x.0))
                .bind(a.author_label)
                .bind(a.message_id)
                .bind(a.in_reply_to)
                .bind(a.references)
                .bind(a.subject)
                .bind(a.body_text)
                .bind(a.body_html)
                .bind(a.raw_sha256)
                .bind(a.auto_reason)
                .bind(a.now)
                .execute(c)
                .await?
        });
        Ok(ArticleId(id))
    }

    pub async fn articles(&mut self, ticket: TicketId) -> Result<Vec<ArticleRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "articles", |c| sqlx::query_as(
            sql::SELECT_ARTICLES
        )
        .bind(t)
        .bind(ticket.0)
        .fetch_all(c)
        .await?))
    }

    /// Stores an attachment's bytes once per offer and records where it appears.
    pub async fn add_attachment(
        &mut self,
        article: ArticleId,
        position: i64,
        filename: Option<&str>,
        content_type: &str,
        data: &[u8],
    ) -> Result<String> {
        let sha = sha256_hex(data);
        let t = self.tenant.as_str().to_owned();
        let size = data.len() as i64;
        exec!(self, "add_attachment", |c| {
            sqlx::query(sql::INSERT_ATTACHMENT_BLOB)
                .bind(&t)
                .bind(&sha)
                .bind(size)
                .bind(data)
                .execute(&mut *c)
                .await?;
            sqlx::query(sql::INSERT_ARTICLE_ATTACHMENT)
                .bind(&t)
                .bind(article)
                .bind(position)
                .bind(filename)
                .bind(content_type)
                .bind(&sha)
                .execute(&mut *c)
                .await?
        });
        Ok(sha)
    }

    pub async fn attachments(&mut self, ticket: TicketId) -> Result<Vec<AttachmentRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "attachments", |c| sqlx::query_as(
            sql::SELECT_ATTACHMENTS
        )
        .bind(t)
        .bind(ticket.0)
        .fetch_all(c)
        .await?))
    }

    // ----- inbound receipts (dedupe) -----

    pub async fn receipt(&mut self, key: &str) -> Result<Option<ReceiptRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "receipt", |c| sqlx::query_as(
            sql::SELECT_RECEIPT
        )
        .bind(t)
        .bind(key)
        .fetch_optional(c)
        .await?))
    }

    /// Records a dedupe key. Returns false when the key was already there (someone else took
    /// the same message in meanwhile): the caller rolls back.
    pub async fn insert_receipt(&mut self, r: &ReceiptRow) -> Result<bool> {
        let t = self.tenant.as_str();
        let done = on!(self, "insert_receipt", |c| {
            sqlx::query(sql::INSERT_RECEIPT)
                .bind(t)
                .bind(&r.dedupe_key)
                .bind(r.channel.as_str())
                .bind(r.outcome.as_str())
                .bind(&r.content_sha256)
                .bind(r.ticket_id)
                .bind(r.article_id)
                .bind(r.received_at)
                .execute(c)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }

    // ----- quarantine -----

    pub async fn insert_quarantine(
        &mut self,
        channel: Channel,
        reason: &str,
        data: &[u8],
        now: DateTime<Utc>,
    ) -> Result<QuarantineId> {
        let id = self.next_id(IdTable::Quarantine).await?;
        let t = self.tenant.as_str();
        let sha = sha256_hex(data);
        let size = data.len() as i64;
        let id: QuarantineId = on!(self, "insert_quarantine", |c| {
            sqlx::query_scalar(sql::INSERT_QUARANTINE)
                .bind(t)
                .bind(id)
                .bind(channel.as_str())
                .bind(reason)
                .bind(&sha)
                .bind(size)
                .bind(data)
                .bind(now)
                .fetch_one(c)
                .await?
        });
        Ok(id)
    }

    /// The offer's quarantined messages, each with its replays.
    pub async fn list_quarantine(&mut self) -> Result<Vec<QuarantineRow>> {
        let t = self.tenant.as_str();
        let mut rows: Vec<QuarantineRow> = on!(self, "list_quarantine", |c| sqlx::query_as(
            sql::LIST_QUARANTINE
        )
        .bind(t)
        .fetch_all(c)
        .await?);
        let t = self.tenant.as_str();
        let replays: Vec<ReplayRow> = on!(self, "list_quarantine", |c| sqlx::query_as(
            sql::LIST_QUARANTINE_REPLAYS
        )
        .bind(t)
        .fetch_all(c)
        .await?);
        for replay in replays {
            if let Some(row) = rows.iter_mut().find(|r| r.id == replay.quarantine_id) {
                row.replays.push(replay);
            }
        }
        Ok(rows)
    }

    pub async fn quarantine_data(&mut self, id: QuarantineId) -> Result<Option<Vec<u8>>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "quarantine_data", |c| sqlx::query_scalar(
            sql::SELECT_QUARANTINE_DATA
        )
        .bind(t)
        .bind(id)
        .fetch_optional(c)
        .await?))
    }

    /// Records a replay's outcome: appended to the entry's replays, and its latest.
    pub async fn mark_quarantine_replayed(
        &mut self,
        id: QuarantineId,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "mark_quarantine_replayed", |c| {
            sqlx::query(sql::INSERT_QUARANTINE_REPLAY)
                .bind(t)
                .bind(id)
                .bind(outcome)
                .bind(now)
                .execute(&mut *c)
                .await?;
            sqlx::query(sql::UPDATE_QUARANTINE_REPLAYED)
                .bind(t)
                .bind(id)
                .bind(outcome)
                .bind(now)
                .execute(&mut *c)
                .await?
        });
        Ok(())
    }

    // ----- outbox -----

    pub async fn enqueue_outbox(&mut self, o: &NewOutbox<'_>) -> Result<OutboxId> {
        let id = self.next_id(IdTable::Outbox).await?;
        let t = self.tenant.as_str();
        exec!(self, "enqueue_outbox", |c| {
            sqlx::query(sql::INSERT_OUTBOX)
                .bind(t)
                .bind(id)
                .bind(o.ticket.map(|x| x.0))
                .bind(o.template)
                .bind(o.locale)
                .bind(Json(o.context))
                .bind(o.from_address)
                .bind(o.recipients)
                .bind(o.message_id)
                .bind(o.in_reply_to)
                .bind(o.references)
                .bind(o.auto_submitted)
                .bind(o.now)
                .execute(c)
                .await?
        });
        Ok(OutboxId(id))
    }

    /// Claims up to `limit` due messages for `lease`, in the name of `instance` (other workers
    /// skip them meanwhile; [`Tx::release_claims_of`] gives them back after a crash). Commit
    /// right after, send, then record the outcome in a new transaction.
    pub async fn claim_outbox(
        &mut self,
        instance: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> Result<Vec<OutboxRow>> {
        let t = self.tenant.as_str();
        let until = now + lease;
        Ok(on!(self, "claim_outbox", |c| {
            sqlx::query_as(sql::CLAIM_OUTBOX)
                .bind(t)
                .bind(now)
                .bind(until)
                .bind(limit)
                .bind(instance)
                .fetch_all(c)
                .await?
        }))
    }

    /// Releases the claims `instance` still holds (it restarted: whatever it was sending was
    /// cut short). Returns how many rows are due again. Only for an instance's own id, at its
    /// start: another process of the same instance would lose its claims.
    pub async fn release_claims_of(&mut self, instance: &str) -> Result<u64> {
        let t = self.tenant.as_str();
        Ok(on!(self, "release_claims_of", |c| {
            sqlx::query(sql::RELEASE_CLAIMS_OF)
                .bind(t)
                .bind(instance)
                .execute(c)
                .await?
                .rows_affected()
        }))
    }

    pub async fn outbox_sent(
        &mut self,
        id: OutboxId,
        sent_ref: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "outbox_sent", |c| sqlx::query(
            sql::UPDATE_OUTBOX_SENT
        )
        .bind(t)
        .bind(id)
        .bind(sent_ref)
        .bind(now)
        .execute(c)
        .await?);
        Ok(())
    }

    /// Records a failed attempt: retried at `retry_at`, or given up on when `None`.
    pub async fn outbox_failed(
        &mut self,
        id: OutboxId,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        let status = if retry_at.is_some() {
            OutboxState::Pending
        } else {
            OutboxState::Failed
        };
        exec!(self, "outbox_failed", |c| {
            sqlx::query(sql::UPDATE_OUTBOX_FAILED)
                .bind(t)
                .bind(id)
                .bind(error)
                .bind(status.as_str())
                .bind(retry_at)
                .execute(c)
                .await?
        });
        Ok(())
    }

    pub async fn list_outbox(&mut self, ticket: Option<TicketId>) -> Result<Vec<OutboxRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "list_outbox", |c| sqlx::query_as(
            sql::LIST_OUTBOX
        )
        .bind(t)
        .bind(ticket.map(|x| x.0))
        .fetch_all(c)
        .await?))
    }

    // ----- event log -----

    pub async fn insert_event(&mut self, e: &NewEvent<'_>) -> Result<EventId> {
        let id = self.next_id(IdTable::Events).await?;
        let t = self.tenant.as_str();
        exec!(self, "insert_event", |c| {
            sqlx::query(sql::INSERT_EVENT)
                .bind(t)
                .bind(id)
                .bind(e.ticket.map(|x| x.0))
                .bind(e.now)
                .bind(e.actor)
                .bind(e.kind.as_str())
                .bind(Json(e.data))
                .execute(c)
                .await?
        });
        Ok(EventId(id))
    }

    pub async fn events(&mut self, ticket: TicketId) -> Result<Vec<EventRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "events", |c| sqlx::query_as(sql::SELECT_EVENTS)
            .bind(t)
            .bind(ticket.0)
            .fetch_all(c)
            .await?))
    }

    /// Tries to update an event (tests show the log refuses it).
    #[doc(hidden)]
    pub async fn tamper_event_for_tests(&mut self, id: EventId) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "tamper_event_for_tests", |c| sqlx::query(
            sql::TAMPER_EVENT
        )
        .bind(t)
        .bind(id)
        .execute(c)
        .await?);
        Ok(())
    }

    /// Counts the rows of `table` this transaction can see (tests of tenant isolation).
    #[doc(hidden)]
    pub async fn count_visible_for_tests(&mut self, table: IdTable) -> Result<i64> {
        Ok(on!(self, "count_visible_for_tests", |c| {
            sqlx::query_scalar(sql::count_all(table))
                .fetch_one(c)
                .await?
        }))
    }
}

/// Tables whose rows get a per-table id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTable {
    Institutions,
    Contacts,
    Tickets,
    Articles,
    Quarantine,
    Outbox,
    Events,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    Email,
    Matrix,
}

impl AddressKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressKind::Email => "email",
            AddressKind::Matrix => "matrix",
        }
    }
}

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
