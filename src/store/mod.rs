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
use crate::domain::{ContactId, Priority, Status, TenantId, TicketId, TicketRef};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refused the connection: retry later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A statement failed (constraint, bad data, bug): retrying the same thing will not help.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Whether the failure is the database being away (connection, pool, I/O), as opposed to
    /// something wrong with what was asked.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Query(e) => {
                matches!(
                    e,
                    sqlx::Error::Io(_)
                        | sqlx::Error::Tls(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::WorkerCrashed
                ) || e
                    .as_database_error()
                    .and_then(|d| d.code())
                    // SQLite BUSY/LOCKED, PostgreSQL serialization failure and deadlock.
                    .is_some_and(|c| matches!(c.as_ref(), "5" | "6" | "40001" | "40P01"))
            }
            StoreError::Migrate(_) => false,
        }
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
/// backend's SQL module, once per backend: the same Rust drives both databases.
macro_rules! on {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match &mut $tx.inner {
            TxInner::Sqlite(t) => {
                #[allow(
                    unused_imports,
                    reason = "statements that need no backend SQL leave it unused"
                )]
                use self::sqlite as sql;
                let $conn = &mut **t;
                $body
            }
            TxInner::Postgres(t) => {
                #[allow(
                    unused_imports,
                    reason = "statements that need no backend SQL leave it unused"
                )]
                use self::postgres as sql;
                let $conn = &mut **t;
                $body
            }
        }
    };
}

/// [`on!`] for statements whose result is not needed (the two backends' results differ).
macro_rules! exec {
    ($tx:expr, |$conn:ident| $body:expr) => {
        on!($tx, |$conn| {
            $body;
        })
    };
}

fn unavailable(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(_) | sqlx::Error::Configuration(_) => StoreError::Query(e),
        other => StoreError::Unavailable(other.to_string()),
    }
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
            Pool::Sqlite(p) => sqlx::migrate!("migrations/sqlite").run(p).await?,
            Pool::Postgres(p) => sqlx::migrate!("migrations/postgres").run(p).await?,
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
            Pool::Postgres(p) => TxInner::Postgres(p.begin().await.map_err(unavailable)?),
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
        match self.inner {
            TxInner::Sqlite(t) => t.commit().await?,
            TxInner::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(t) => t.rollback().await?,
            TxInner::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }

    async fn next_id(&mut self, table: IdTable) -> Result<i64> {
        // SQLite counts within the offer (MAX + 1), PostgreSQL draws from a sequence.
        let id: i64 = match &mut self.inner {
            TxInner::Sqlite(t) => {
                sqlx::query_scalar(sqlite::next_id(table))
                    .bind(self.tenant.as_str())
                    .fetch_one(&mut **t)
                    .await?
            }
            TxInner::Postgres(t) => {
                sqlx::query_scalar(postgres::next_id(table))
                    .fetch_one(&mut **t)
                    .await?
            }
        };
        Ok(id)
    }

    // ----- offers, institutions, contacts (synchronised from the configuration) -----

    pub async fn upsert_offer(&mut self, o: &OfferRow) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, |c| {
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
        Ok(on!(self, |c| sqlx::query_as(sql::SELECT_OFFER)
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
    ) -> Result<i64> {
        let t = self.tenant.as_str().to_owned();
        let domains = domains.join(" ");
        let existing: Option<i64> = on!(self, |c| {
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
        exec!(self, |c| {
            sqlx::query(sql::UPSERT_INSTITUTION)
                .bind(&t)
                .bind(id)
                .bind(key)
                .bind(name)
                .bind(&domains)
                .execute(c)
                .await?
        });
        Ok(id)
    }

    pub async fn institutions(&mut self) -> Result<Vec<InstitutionRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, |c| sqlx::query_as(sql::SELECT_INSTITUTIONS)
            .bind(t)
            .fetch_all(c)
            .await?))
    }

    pub async fn institution(&mut self, id: i64) -> Result<Option<InstitutionRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, |c| {
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
        Ok(on!(self, |c| {
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
        Ok(on!(self, |c| {
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
        exec!(self, |c| {
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
        institution_id: Option<i64>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, |c| {
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
        exec!(self, |c| {
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
        let added = on!(self, |c| {
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
        Ok(on!(self, |c| {
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
        exec!(self, |c| {
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
        Ok(on!(self, |c| {
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
        let number: i64 = on!(self, |c| {
            sqlx::query_scalar(sql::NEXT_TICKET_NUMBER)
                .bind(&t)
                .bind(kind)
                .fetch_one(c)
                .await?
        });
        let id = self.next_id(IdTable::Tickets).await?;
        exec!(self, |c| {
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
        row.ok_or_else(|| StoreError::Query(sqlx::Error::RowNotFound))
    }

    pub async fn ticket(&mut self, id: TicketId) -> Result<Option<TicketRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, |c| sqlx::query_as(sql::SELECT_TICKET)
            .bind(t)
            .bind(id.0)
            .fetch_optional(c)
            .await?))
    }

    pub async fn ticket_by_ref(&mut self, r: TicketRef) -> Result<Option<TicketRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, |c| {
            sqlx::query_as(sql::SELECT_TICKET_BY_REF)
                .bind(t)
                .bind(r.kind.as_str())
                .bind(r.number)
                .fetch_optional(c)
                .await?
        }))
    }

    /// The ticket of the first of `message_ids` (in the given order) that this offer stored,
    /// inbound or outbound.
    pub async fn ticket_by_message_ids(
        &mut self,
        message_ids: &[&str],
    ) -> Result<Option<TicketRow>> {
        let t = self.tenant.as_str().to_owned();
        for mid in message_ids {
            let found: Option<i64> = on!(self, |c| {
                sqlx::query_scalar(sql::SELECT_TICKET_ID_BY_MESSAGE_ID)
                    .bind(&t)
                    .bind(*mid)
                    .fetch_optional(c)
                    .await?
            });
            if let Some(id) = found {
                return self.ticket(TicketId(id)).await;
            }
        }
        Ok(None)
    }

    pub async fn list_tickets(&mut self, status: Option<Status>) -> Result<Vec<TicketRow>> {
        let t = self.tenant.as_str();
        let status = status.map(Status::as_str);
        Ok(on!(self, |c| sqlx::query_as(sql::LIST_TICKETS)
            .bind(t)
            .bind(status)
            .fetch_all(c)
            .await?))
    }

    /// Sets the status and the matching timestamps (resolved, closed; cleared on reopening).
    pub async fn set_status(
        &mut self,
        id: TicketId,
        status: Status,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, |c| {
            sqlx::query(sql::UPDATE_TICKET_STATUS)
                .bind(t)
                .bind(id.0)
                .bind(status.as_str())
                .bind(now)
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
        exec!(self, |c| {
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
        exec!(self, |c| {
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
        exec!(self, |c| sqlx::query(sql::UPDATE_TICKET_FIRST_RESPONSE)
            .bind(t)
            .bind(id.0)
            .bind(now)
            .execute(c)
            .await?);
        Ok(())
    }

    pub async fn touch_ticket(&mut self, id: TicketId, now: DateTime<Utc>) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, |c| sqlx::query(sql::TOUCH_TICKET)
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
        relation: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, |c| {
            sqlx::query(sql::INSERT_TICKET_LINK)
                .bind(t)
                .bind(ticket.0)
                .bind(other.0)
                .bind(relation)
                .bind(now)
                .execute(c)
                .await?
        });
        Ok(())
    }

    pub async fn ticket_links(&mut self, ticket: TicketId) -> Result<Vec<LinkRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, |c| sqlx::query_as(sql::SELECT_TICKET_LINKS)
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
        role: &str,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, |c| {
            sqlx::query(sql::INSERT_PARTICIPANT)
                .bind(t)
                .bind(ticket.0)
                .bind(contact.0)
                .bind(role)
                .execute(c)
                .await?
        });
        Ok(())
    }

    pub async fn participants(&mut self, ticket: TicketId) -> Result<Vec<ParticipantRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, |c| sqlx::query_as(sql::SELECT_PARTICIPANTS)
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
        exec!(self, |c| {
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
        Ok(on!(self, |c| sqlx::query_scalar(sql::SELECT_RAW_MESSAGE)
            .bind(t)
            .bind(sha256)
            .fetch_optional(c)
            .await?))
    }

    pub async fn insert_article(&mut self, a: &NewArticle<'_>) -> Result<i64> {
        let id = self.next_id(IdTable::Articles).await?;
        let t = self.tenant.as_str();
        exec!(self, |c| {
            sqlx::query(sql::INSERT_ARTICLE)
                .bind(t)
                .bind(id)
                .bind(a.ticket.0)
                .bind(a.channel)
                .bind(a.direction)
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
        Ok(id)
    }

    pub async fn articles(&mut self, ticket: TicketId) -> Result<Vec<ArticleRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, |c| sqlx::query_as(sql::SELECT_ARTICLES)
            .bind(t)
            .bind(ticket.0)
            .fetch_all(c)
            .await?))
    }

    /// Stores an attachment's bytes once per offer and records where it appears.
    pub async fn add_attachment(
        &mut self,
        article: i64,
        position: i64,
        filename: Option<&str>,
        content_type: &str,
        data: &[u8],
    ) -> Result<String> {
        let sha = sha256_hex(data);
        let t = self.tenant.as_str().to_owned();
        let size = data.len() as i64;
        exec!(self, |c| {
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
        Ok(on!(self, |c| sqlx::query_as(sql::SELECT_ATTACHMENTS)
            .bind(t)
            .bind(ticket.0)
            .fetch_all(c)
            .await?))
    }

    // ----- inbound receipts (dedupe) -----

    pub async fn receipt(&mut self, key: &str) -> Result<Option<ReceiptRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, |c| sqlx::query_as(sql::SELECT_RECEIPT)
            .bind(t)
            .bind(key)
            .fetch_optional(c)
            .await?))
    }

    /// Records a dedupe key. Returns false when the key was already there (someone else took
    /// the same message in meanwhile): the caller rolls back.
    pub async fn insert_receipt(&mut self, r: &ReceiptRow) -> Result<bool> {
        let t = self.tenant.as_str();
        let done = on!(self, |c| {
            sqlx::query(sql::INSERT_RECEIPT)
                .bind(t)
                .bind(&r.dedupe_key)
                .bind(&r.channel)
                .bind(&r.outcome)
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
        channel: &str,
        reason: &str,
        data: &[u8],
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let id = self.next_id(IdTable::Quarantine).await?;
        let t = self.tenant.as_str();
        let sha = sha256_hex(data);
        let size = data.len() as i64;
        let id: i64 = on!(self, |c| {
            sqlx::query_scalar(sql::INSERT_QUARANTINE)
                .bind(t)
                .bind(id)
                .bind(channel)
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

    pub async fn list_quarantine(&mut self) -> Result<Vec<QuarantineRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, |c| sqlx::query_as(sql::LIST_QUARANTINE)
            .bind(t)
            .fetch_all(c)
            .await?))
    }

    pub async fn quarantine_data(&mut self, id: i64) -> Result<Option<Vec<u8>>> {
        let t = self.tenant.as_str();
        Ok(on!(self, |c| sqlx::query_scalar(
            sql::SELECT_QUARANTINE_DATA
        )
        .bind(t)
        .bind(id)
        .fetch_optional(c)
        .await?))
    }

    pub async fn mark_quarantine_replayed(
        &mut self,
        id: i64,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, |c| sqlx::query(sql::UPDATE_QUARANTINE_REPLAYED)
            .bind(t)
            .bind(id)
            .bind(outcome)
            .bind(now)
            .execute(c)
            .await?);
        Ok(())
    }

    // ----- outbox -----

    pub async fn enqueue_outbox(&mut self, o: &NewOutbox<'_>) -> Result<i64> {
        let id = self.next_id(IdTable::Outbox).await?;
        let t = self.tenant.as_str();
        exec!(self, |c| {
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
        Ok(id)
    }

    /// Claims up to `limit` due messages for `lease` (other workers skip them meanwhile).
    /// Commit right after, send, then record the outcome in a new transaction.
    pub async fn claim_outbox(
        &mut self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> Result<Vec<OutboxRow>> {
        let t = self.tenant.as_str();
        let until = now + lease;
        Ok(on!(self, |c| {
            sqlx::query_as(sql::CLAIM_OUTBOX)
                .bind(t)
                .bind(now)
                .bind(until)
                .bind(limit)
                .fetch_all(c)
                .await?
        }))
    }

    pub async fn outbox_sent(&mut self, id: i64, sent_ref: &str, now: DateTime<Utc>) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, |c| sqlx::query(sql::UPDATE_OUTBOX_SENT)
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
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        let status = if retry_at.is_some() {
            "pending"
        } else {
            "failed"
        };
        exec!(self, |c| {
            sqlx::query(sql::UPDATE_OUTBOX_FAILED)
                .bind(t)
                .bind(id)
                .bind(error)
                .bind(status)
                .bind(retry_at)
                .execute(c)
                .await?
        });
        Ok(())
    }

    pub async fn list_outbox(&mut self, ticket: Option<TicketId>) -> Result<Vec<OutboxRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, |c| sqlx::query_as(sql::LIST_OUTBOX)
            .bind(t)
            .bind(ticket.map(|x| x.0))
            .fetch_all(c)
            .await?))
    }

    // ----- event log -----

    pub async fn insert_event(&mut self, e: &NewEvent<'_>) -> Result<i64> {
        let id = self.next_id(IdTable::Events).await?;
        let t = self.tenant.as_str();
        exec!(self, |c| {
            sqlx::query(sql::INSERT_EVENT)
                .bind(t)
                .bind(id)
                .bind(e.ticket.map(|x| x.0))
                .bind(e.now)
                .bind(e.actor)
                .bind(e.kind)
                .bind(Json(e.data))
                .execute(c)
                .await?
        });
        Ok(id)
    }

    pub async fn events(&mut self, ticket: TicketId) -> Result<Vec<EventRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, |c| sqlx::query_as(sql::SELECT_EVENTS)
            .bind(t)
            .bind(ticket.0)
            .fetch_all(c)
            .await?))
    }

    /// Tries to update an event (tests show the log refuses it).
    #[doc(hidden)]
    pub async fn tamper_event_for_tests(&mut self, id: i64) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, |c| sqlx::query(sql::TAMPER_EVENT)
            .bind(t)
            .bind(id)
            .execute(c)
            .await?);
        Ok(())
    }

    /// Counts the rows of `table` this transaction can see (tests of tenant isolation).
    #[doc(hidden)]
    pub async fn count_visible_for_tests(&mut self, table: IdTable) -> Result<i64> {
        Ok(on!(self, |c| sqlx::query_scalar(sql::count_all(table))
            .fetch_one(c)
            .await?))
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
