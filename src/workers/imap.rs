//! The ingestor of one IMAP mailbox: a supervised loop that connects, selects the folder,
//! takes in every message above the last stored UID, acknowledges them to the server once
//! stored, then waits (IDLE, or polling when the server has no IDLE) and starts again. On any
//! failure it drops the connection, backs off (capped, jittered) and reconnects.
//!
//! Exactly once: each message's UID is recorded as the mailbox's last in the transaction that
//! stores it (`service::ingest`; a fetched batch shares one transaction), and the server hears
//! of it (flag or move) only after that commit, a thousand UIDs at a time during a backlog
//! ([`ACK_EVERY`]). A crash before the commit fetches the message again; after the commit and
//! before the acknowledgement, the next connection acknowledges what was stored and not yet
//! acknowledged. A new UIDVALIDITY starts the mailbox over, and Message-ID dedupe turns the
//! re-read into duplicates.
//!
//! One instance at a time reads a mailbox: several instances sharing a PostgreSQL database
//! and a configuration each ask for the mailbox's lease (`mailbox_leases`), the holder renews
//! it while it reads, gives it back when it stops, and another takes over when it runs out.
//! Exactly-once does not rest on the lease; it spares duplicate work and competing moves.
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

/// During a drain, the server hears of the stored messages this many UIDs at a time, and of
/// the rest once the folder is drained (or the worker stops). Acknowledging costs the server
/// an index write and us a commit, about as much as storing ten messages: once per batch it
/// was a tenth of a backlog's time. Stored and not yet acknowledged is a state the worker
/// already recovers from (the next connection acknowledges it), so waiting changes nothing
/// for exactly-once, only how soon a mail client shows the messages read.
const ACK_EVERY: u32 = 1_000;

/// The longest wait between two attempts after a permanent failure (a wrong password, a
/// missing folder): an operator's fix is picked up within five minutes, and the server is not
/// hammered meanwhile.
const PERMANENT_RETRY_CAP: Duration = Duration::from_secs(300);

/// How long a mailbox's lease lasts (see `mailbox_leases`): another instance takes a mailbox
/// over at most this long after its holder died.
const LEASE: Duration = Duration::from_secs(60);
/// How often the holder renews its lease: two renewals may fail before it runs out.
const LEASE_RENEW: Duration = Duration::from_secs(20);
/// How often an instance standing by asks for the lease: a mailbox given back (its holder
/// stopped) is taken over within this.
const LEASE_RETRY: Duration = Duration::from_secs(5);

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
    /// Another instance holds the mailbox's lease now (ours ran out).
    #[error("mailbox taken over by instance {0}")]
    LeaseLost(String),
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
            Failure::LeaseLost(_) => false,
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
            if !self.hold().await {
                return;
            }
            // The session runs as long as the lease is ours: losing it drops the session
            // wherever it is, which is safe (nothing is acknowledged before its commit).
            let result = tokio::select! {
                r = self.session(&mut failures, &mut logged) => r,
                r = self.keep_lease() => r,
            };
            let failure = match result {
                Ok(()) => {
                    self.give_lease_back().await;
                    return;
                }
                Err(Failure::LeaseLost(holder)) => {
                    tracing::warn!(tenant = %self.offer.code, mailbox = %self.mailbox.name, holder, "mailbox taken over by another instance, standing by");
                    continue;
                }
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

    /// Waits until this instance holds the mailbox's lease (true), or shutdown (false). Logs
    /// once when another instance holds it, and once when it is ours.
    async fn hold(&self) -> bool {
        let mut waiting_for: Option<String> = None;
        loop {
            match self.claim().await {
                Ok(Ok(())) => {
                    if waiting_for.is_some() {
                        tracing::info!(tenant = %self.offer.code, mailbox = %self.mailbox.name, "mailbox lease taken, reading it");
                    }
                    return true;
                }
                Ok(Err(holder)) => {
                    if waiting_for.as_deref() != Some(holder.as_str()) {
                        tracing::info!(tenant = %self.offer.code, mailbox = %self.mailbox.name, holder, "mailbox read by another instance, standing by");
                    }
                    waiting_for = Some(holder);
                }
                Err(e) => {
                    let text = format!("store: {}", e.detail());
                    if waiting_for.as_deref() != Some(text.as_str()) {
                        tracing::warn!(tenant = %self.offer.code, mailbox = %self.mailbox.name, error = %text, "mailbox lease cannot be asked for, retrying");
                    }
                    waiting_for = Some(text);
                }
            }
            if self.pause(LEASE_RETRY).await {
                return false;
            }
        }
    }

    /// Renews the lease every [`LEASE_RENEW`]; returns only when it cannot (lost, or the
    /// store fails).
    async fn keep_lease(&self) -> Result<(), Failure> {
        loop {
            tokio::time::sleep(LEASE_RENEW).await;
            if let Err(holder) = self.claim().await? {
                return Err(Failure::LeaseLost(holder));
            }
        }
    }

    /// Takes or renews the lease for [`LEASE`]; `Ok(Err(holder))` when another has it.
    async fn claim(&self) -> Result<Result<(), String>, ServiceError> {
        let now = self.ctx.clock.now();
        let until = now + chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::MAX);
        let mut tx = self.ctx.store.begin(&self.offer.code).await?;
        let claimed = tx
            .claim_mailbox(&self.mailbox.name, &self.ctx.instance, now, until)
            .await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// At shutdown: another instance may take the mailbox at once rather than at the end of
    /// the lease. A failure only delays that.
    async fn give_lease_back(&self) {
        let given = async {
            let mut tx = self.ctx.store.begin(&self.offer.code).await?;
            tx.release_mailbox(&self.mailbox.name, &self.ctx.instance)
                .await?;
            tx.commit().await
        };
        if let Err(e) = given.await {
            tracing::debug!(tenant = %self.offer.code, mailbox = %self.mailbox.name, error = %e, "mailbox lease not given back, it runs out");
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
            tracing::debug!(tenant = %self.offer.code, mailbox = %config.name, last_uid = place.last, "mailbox drained, waiting");
            if self.shutdown.is_cancelled() {
                conn.logout().await;
                return Ok(());
            }
            let (next, woke) = conn
                .wait((config.idle_renew, config.poll), &self.shutdown)
                .await?;
            conn = next;
            tracing::debug!(tenant = %self.offer.code, mailbox = %config.name, ?woke, "mailbox woke");
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
    /// acknowledging what was committed. Stops between batches when shutdown is asked for,
    /// never inside a transaction.
    ///
    /// The server's, the parser's and the database's work overlap (issue 7's backlog figure):
    /// while a batch is stored, the connection acknowledges what earlier batches stored (when
    /// [`ACK_EVERY`] UIDs are due), fetches the next batch and the parser reads it, on the
    /// CPUs the database conversation leaves ([`crate::affinity`]). What is fetched ahead is
    /// only read: dropped on a failure or at shutdown, it is listed and fetched again next
    /// time.
    /// What is acknowledged was committed before: the acknowledgement goes out only after the
    /// batch that stored it returned.
    async fn drain(&self, conn: &mut Connection, place: &mut Place) -> Result<(), Failure> {
        let limit = self.offer.max_message_bytes;
        // Stored and due to be acknowledged, with the next fetch.
        let mut due: Option<u32> = None;
        loop {
            let listed: Vec<Listed> = conn.list_after(place.last).await?;
            if listed.is_empty() {
                return self.acknowledge(conn, place, place.last).await;
            }
            let mut batches = imap::batches(&listed, self.mailbox.batch).into_iter();
            let Some(first) = batches.next() else {
                continue;
            };
            let mut fetched = conn.fetch(first, limit).await?;
            let mut parsed = self.parse(place.uidvalidity, &fetched).await;
            loop {
                let next = batches.next();
                let (uidvalidity, from) = (place.uidvalidity, place.acked + 1);
                let (stored, (acked, ahead)) =
                    tokio::join!(self.store(uidvalidity, &fetched, parsed), async {
                        let acked = match due.take() {
                            Some(upto) => Some(self.tell(conn, (from, upto)).await.map(|()| upto)),
                            None => None,
                        };
                        let ahead = match next {
                            Some(batch) => Some(match conn.fetch(batch, limit).await {
                                Ok(ahead) => {
                                    let parsed = self.parse(uidvalidity, &ahead).await;
                                    Ok((ahead, parsed))
                                }
                                Err(e) => Err(e),
                            }),
                            None => None,
                        };
                        (acked, ahead)
                    });
                if let Ok(uid) = &stored {
                    place.last = place.last.max(*uid);
                }
                if let Some(acked) = acked {
                    self.record_ack(place, acked?).await?;
                }
                stored?;
                if self.shutdown.is_cancelled() {
                    return self.acknowledge(conn, place, place.last).await;
                }
                if place.last - place.acked >= ACK_EVERY {
                    due = Some(place.last);
                }
                match ahead {
                    Some(ahead) => (fetched, parsed) = ahead?,
                    None => break,
                }
            }
        }
    }

    /// The fetched messages as ingest takes them, each with its place in the mailbox.
    fn batch<'a>(&self, uidvalidity: u32, fetched: &'a [Fetched]) -> Vec<ingest::Fetched<'a>> {
        fetched
            .iter()
            .map(|message| ingest::Fetched {
                mark: MailboxMark {
                    mailbox: self.mailbox.name.clone(),
                    uidvalidity,
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
            .collect()
    }

    /// Parses a fetched batch ([`ingest::parse_batch`]).
    async fn parse(&self, uidvalidity: u32, fetched: &[Fetched]) -> ingest::Parsed {
        ingest::parse_batch(&self.ctx, &self.batch(uidvalidity, fetched)).await
    }

    /// Takes a fetched and parsed batch in, in one transaction
    /// ([`ingest::ingest_parsed_batch`]); returns the highest UID stored (0 for an empty
    /// batch). Nothing is acknowledged before this returns: a failure leaves the whole batch
    /// to be read again.
    async fn store(
        &self,
        uidvalidity: u32,
        fetched: &[Fetched],
        parsed: ingest::Parsed,
    ) -> Result<u32, Failure> {
        let batch = self.batch(uidvalidity, fetched);
        ingest::ingest_parsed_batch(&self.ctx, &self.offer, &batch, parsed).await?;
        Ok(fetched.iter().map(|m| m.uid).max().unwrap_or_default())
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
        self.tell(conn, (place.acked + 1, upto)).await?;
        self.record_ack(place, upto).await
    }

    /// Acknowledges the stored messages `first..=last` to the server (flag or move).
    async fn tell(&self, conn: &mut Connection, uids: (u32, u32)) -> Result<(), Failure> {
        Ok(conn.acknowledge(&self.mailbox.after, uids).await?)
    }

    /// Records that the server was told of every message up to `upto`.
    async fn record_ack(&self, place: &mut Place, upto: u32) -> Result<(), Failure> {
        let mut tx = self.ctx.store.begin(&self.offer.code).await?;
        tx.ack_mailbox(
            &self.mailbox.name,
            (place.uidvalidity, upto),
            self.ctx.clock.now(),
        )
        .await?;
        tx.commit().await?;
        place.acked = place.acked.max(upto);
        Ok(())
    }
}
