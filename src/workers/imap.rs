//! The ingestor of one IMAP mailbox: a supervised loop that connects, selects the folder,
//! takes in every message above the last stored UID, acknowledges them to the server once
//! stored, then waits (IDLE, or polling when the server has no IDLE) and starts again. On any
//! failure it drops the connection, backs off (capped, jittered) and reconnects.
//!
//! Exactly once: each message's UID is recorded as the mailbox's last in the transaction that
//! stores it (`service::ingest`; a fetched batch shares one transaction), and the server hears
//! of it (flag or move) only after that commit. A crash before the commit fetches the message again; after the commit and before
//! the acknowledgement, the next connection acknowledges what was stored and not yet
//! acknowledged. A new UIDVALIDITY starts the mailbox over, and Message-ID dedupe turns the
//! re-read into duplicates.
//!
//! Logging: a failure is logged when the mailbox's state changes (connected -> failing, one
//! failure -> another), not at each retry, so a wrong password gives one line, not one a
//! minute.

use std::time::Duration;

use crate::channels::imap::{self, Body, Connection, Fetched, ImapError, Listed, Woke};
use crate::config::{MailboxConfig, OfferConfig};
use crate::service::ingest::{self, MailboxMark};
use crate::service::{Context, ServiceError};
use crate::shutdown::Shutdown;

/// The longest wait between two attempts after a permanent failure (a wrong password, a
/// missing folder): an operator's fix is picked up within five minutes, and the server is not
/// hammered meanwhile.
const PERMANENT_RETRY_CAP: Duration = Duration::from_secs(300);

pub struct MailboxIngestor {
    pub ctx: Context,
    pub offer: OfferConfig,
    pub mailbox: MailboxConfig,
    pub shutdown: Shutdown,
}

/// Why a session ended early.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Imap(#[from] ImapError),
    #[error("store: {}", .0.detail())]
    Store(#[from] ServiceError),
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        Failure::Store(e.into())
    }
}

impl Failure {
    fn is_permanent(&self) -> bool {
        match self {
            Failure::Imap(e) => !e.is_transient(),
            Failure::Store(e) => !e.is_transient(),
        }
    }
}

/// Where the mailbox stands, as this session knows it.
#[derive(Debug, Clone, Copy)]
struct Place {
    uidvalidity: u32,
    /// The highest UID stored.
    last: u32,
    /// The highest UID acknowledged to the server.
    acked: u32,
}

impl MailboxIngestor {
    pub async fn run(self) {
        let mut failures = 0u32;
        let mut logged: Option<String> = None;
        loop {
            let result = self.session(&mut failures, &mut logged).await;
            let failure = match result {
                Ok(()) => return,
                Err(f) => f,
            };
            failures += 1;
            let text = failure.to_string();
            if logged.as_deref() != Some(text.as_str()) {
                // Logged once per change of state; the retries in between are silent.
                if failure.is_permanent() {
                    tracing::error!(tenant = %self.offer.code, mailbox = %self.mailbox.name, error = %text, "mailbox failing, retrying slowly until the configuration or the server changes");
                } else {
                    tracing::warn!(tenant = %self.offer.code, mailbox = %self.mailbox.name, error = %text, "mailbox connection lost, reconnecting with backoff");
                }
                logged = Some(text);
            } else {
                tracing::debug!(tenant = %self.offer.code, mailbox = %self.mailbox.name, failures, "mailbox still failing");
            }
            let wait = if failure.is_permanent() {
                super::backoff(failures).min(PERMANENT_RETRY_CAP)
            } else {
                super::backoff(failures)
            };
            if self.pause(wait).await {
                return;
            }
        }
    }

    /// Waits, or returns true as soon as shutdown is asked for.
    async fn pause(&self, wait: Duration) -> bool {
        tokio::select! {
            _ = self.shutdown.cancelled() => true,
            _ = tokio::time::sleep(wait) => false,
        }
    }

    /// One connection, from login to the first failure or to shutdown (`Ok`).
    async fn session(
        &self,
        failures: &mut u32,
        logged: &mut Option<String>,
    ) -> Result<(), Failure> {
        let config = &self.mailbox;
        let mut conn = Connection::open(config).await?;
        let selected = conn.select(config).await?;
        let mut place = self.place(selected.uidvalidity).await?;
        if logged.take().is_some() {
            tracing::info!(tenant = %self.offer.code, mailbox = %config.name, "mailbox connected again");
        } else {
            tracing::info!(tenant = %self.offer.code, mailbox = %config.name, idle = conn.idle, uidvalidity = place.uidvalidity, last_uid = place.last, "mailbox connected");
        }
        *failures = 0;
        // Stored before a crash or a lost connection, and not yet acknowledged.
        let stored = place.last;
        self.acknowledge(&mut conn, &mut place, stored).await?;
        loop {
            self.drain(&mut conn, &mut place).await?;
            let mode = if conn.idle { "idle" } else { "polling" };
            let mut tx = self.ctx.store.begin(&self.offer.code).await?;
            tx.mark_mailbox_synced(&config.name, mode, self.ctx.clock.now())
                .await?;
            tx.commit().await?;
            if self.shutdown.is_cancelled() {
                conn.logout().await;
                return Ok(());
            }
            let (next, woke) = conn
                .wait((config.idle_renew, config.poll), &self.shutdown)
                .await?;
            conn = next;
            if woke == Woke::Shutdown {
                conn.logout().await;
                return Ok(());
            }
        }
    }

    /// The stored place of the mailbox at `uidvalidity`; a new mailbox, or one whose
    /// UIDVALIDITY changed, starts at UID 0.
    async fn place(&self, uidvalidity: u32) -> Result<Place, Failure> {
        let name = &self.mailbox.name;
        let now = self.ctx.clock.now();
        let mut tx = self.ctx.store.begin(&self.offer.code).await?;
        let stored = tx.mailbox_state(name).await?;
        let place = match stored {
            Some(row) if row.uidvalidity == i64::from(uidvalidity) => Place {
                uidvalidity,
                last: u32::try_from(row.last_uid).unwrap_or(0),
                acked: u32::try_from(row.acked_uid).unwrap_or(0),
            },
            other => {
                if let Some(row) = other {
                    tracing::warn!(tenant = %self.offer.code, mailbox = %name, from = row.uidvalidity, to = uidvalidity, "mailbox uidvalidity changed, reading it again (messages already taken in count as duplicates)");
                }
                tx.start_mailbox(name, uidvalidity, now).await?;
                Place {
                    uidvalidity,
                    last: 0,
                    acked: 0,
                }
            }
        };
        tx.commit().await?;
        Ok(place)
    }

    /// Takes in everything above the last stored UID, batch by batch (one transaction each),
    /// acknowledging each batch once committed. Stops between batches when shutdown is asked
    /// for, never inside a transaction.
    async fn drain(&self, conn: &mut Connection, place: &mut Place) -> Result<(), Failure> {
        let limit = self.ctx.config.daemon.max_message_bytes;
        loop {
            let listed: Vec<Listed> = conn.list_after(place.last).await?;
            if listed.is_empty() {
                return Ok(());
            }
            for batch in imap::batches(&listed, self.mailbox.batch) {
                let fetched = conn.fetch(batch, limit).await?;
                if let Some(uid) = self.store(place, &fetched).await? {
                    self.acknowledge(conn, place, uid).await?;
                }
                if self.shutdown.is_cancelled() {
                    return Ok(());
                }
            }
        }
    }

    /// Takes a fetched batch in, in one transaction ([`ingest::ingest_batch`]), and returns
    /// the highest UID stored. Nothing is acknowledged before this returns: a failure leaves
    /// the whole batch to be read again.
    async fn store(&self, place: &mut Place, fetched: &[Fetched]) -> Result<Option<u32>, Failure> {
        let batch: Vec<ingest::Fetched<'_>> = fetched
            .iter()
            .map(|message| ingest::Fetched {
                mark: MailboxMark {
                    mailbox: self.mailbox.name.clone(),
                    uidvalidity: place.uidvalidity,
                    uid: message.uid,
                },
                body: match &message.body {
                    Body::Whole(raw) => ingest::Fetch::Whole(raw),
                    Body::Oversized { header, size } => ingest::Fetch::Oversized {
                        header,
                        size: *size,
                    },
                },
            })
            .collect();
        ingest::ingest_batch(&self.ctx, &self.offer, &batch).await?;
        let stored = fetched.iter().map(|m| m.uid).max();
        if let Some(uid) = stored {
            place.last = place.last.max(uid);
        }
        Ok(stored)
    }

    /// Acknowledges the stored messages up to `upto` to the server, then records it.
    async fn acknowledge(
        &self,
        conn: &mut Connection,
        place: &mut Place,
        upto: u32,
    ) -> Result<(), Failure> {
        if upto <= place.acked {
            return Ok(());
        }
        conn.acknowledge(&self.mailbox.after, (place.acked + 1, upto))
            .await?;
        let mut tx = self.ctx.store.begin(&self.offer.code).await?;
        tx.ack_mailbox(
            &self.mailbox.name,
            (place.uidvalidity, upto),
            self.ctx.clock.now(),
        )
        .await?;
        tx.commit().await?;
        place.acked = upto;
        Ok(())
    }
}
