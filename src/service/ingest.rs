//! Taking one inbound message in: raw bytes -> quarantine, or article in a ticket (new or
//! existing), with its dedupe key, events and acknowledgement, all in one transaction. An IMAP
//! batch shares one transaction ([`ingest_batch`]).
//!
//! The caller acknowledges the message to its source (MTA exit code, Maildir move, IMAP flag)
//! only after this returns `Ok`: whatever the outcome (stored, duplicate, refused,
//! quarantined), the message is then safely in the database.

use std::sync::Mutex;

use serde_json::json;

use super::outbox::{QueuedMail, Thread, mail_context, queue_mail};
use super::{Context, ServiceError};
use crate::channels::mail::{self, ParseError};
use crate::config::{Config, OfferConfig, Role};
use crate::domain::loop_guard::{self, AutoReason};
use crate::domain::recipients::reply_target;
use crate::domain::routing::{InstitutionDomains, SenderDecision, decide_sender, kind_for};
use crate::domain::routing::{route_recipients, route_unparsed};
use crate::domain::sla::TicketChange;
use crate::domain::subject::is_forward;
use crate::domain::threading::{self, Candidate, Candidates, SenderFacts, ThreadDecision};
use crate::domain::token;
use crate::domain::{ArticleId, InstitutionId, QuarantineId, TicketId, finish_times};
use crate::domain::{Channel, Direction, EventKind, ParticipantRole, ReceiptOutcome};
use crate::domain::{
    ContactId, InboundEmail, Mailbox, Priority, Status, TicketRef, ids::find_subject_refs,
};
use crate::domain::{ContactOrigin, dedupe, message};
use crate::notify::Template;
use crate::store::{
    AddressKind, MailboxCounts, MailboxTally, NewArticle, NewContact, NewEvent, NewTicket,
    ReceiptRow, TicketRow, Tx,
};

/// Where a message was read: its channel and, from an IMAP mailbox, its place there.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub channel: Channel,
    pub mark: Option<&'a MailboxMark>,
    /// In a batch taken in under one savepoint ([`take_in_together`]): where the message is
    /// counted, its UID recorded with the batch's at its end rather than by the message.
    counts: Option<&'a Mutex<MailboxCounts>>,
}

impl From<Channel> for Source<'static> {
    fn from(channel: Channel) -> Self {
        Source {
            channel,
            mark: None,
            counts: None,
        }
    }
}

/// A message's place in an IMAP mailbox. The transaction that deals with the message (stores
/// it, quarantines it, or finds it a duplicate) also records its UID as the mailbox's last, so
/// the message is dealt with once whatever happens before the server hears of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxMark {
    /// The mailbox's name in the configuration.
    pub mailbox: String,
    pub uidvalidity: u32,
    pub uid: u32,
}

/// What happened to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// A new ticket was opened; `acknowledged` when an acknowledgement was queued.
    Created {
        ticket: TicketRef,
        article: ArticleId,
        acknowledged: bool,
    },
    /// The message was added to an existing ticket.
    Appended {
        ticket: TicketRef,
        article: ArticleId,
        reopened: bool,
    },
    /// The same message was taken in before; nothing changed.
    Duplicate { ticket: Option<TicketRef> },
    /// The sender is unknown and the offer refuses unknown senders (answered politely unless
    /// the message was automatic).
    Refused { answered: bool },
    /// The message could not be used; it is kept in quarantine with the reason.
    Quarantined { id: QuarantineId, reason: String },
}

impl IngestOutcome {
    /// One word for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            IngestOutcome::Created { .. } => "created",
            IngestOutcome::Appended { .. } => "appended",
            IngestOutcome::Duplicate { .. } => "duplicate",
            IngestOutcome::Refused { .. } => "refused",
            IngestOutcome::Quarantined { .. } => "quarantined",
        }
    }
}

/// A message read off its channel: parsed, or the reason it cannot be (over the size limit,
/// not a message), which sends it to the quarantine.
pub type Read = Result<InboundEmail, String>;

/// Checks the size and parses `raw`, on the blocking pool: parsing a large or hostile message
/// is CPU work that must not hold up the runtime threads other offers' mail runs on.
pub async fn read(ctx: &Context, raw: &[u8]) -> Read {
    let limit = ctx.config.largest_message_bytes();
    if raw.len() > limit {
        return Err(too_large(raw.len(), limit));
    }
    let bytes = raw.to_vec();
    let parse = move || {
        crate::affinity::spread_this_thread();
        mail::parse(&bytes)
    };
    match tokio::task::spawn_blocking(parse).await {
        Ok(parsed) => parsed.map_err(|e| e.to_string()),
        Err(_) => Err(ParseError::ParserFailed.to_string()),
    }
}

/// The offers a message delivered without `--offer` is for, each once, in the order of its
/// recipients: the envelope recipients (`Delivered-To`, `X-Original-To`) when an MTA added
/// them, since this copy is for those alone, else every offer its To and Cc name (one mail to
/// two offers is taken into both). A message that does not parse is routed on the first
/// support address found in its raw bytes, so that it still reaches a quarantine rather than
/// bouncing.
pub fn route<'a>(config: &'a Config, read: &Read, raw: &[u8]) -> Vec<&'a OfferConfig> {
    let offers = config.offer_addresses();
    let codes = match read {
        Ok(email) => {
            let envelope: Vec<&str> = email.delivered_to.iter().map(String::as_str).collect();
            let by_envelope = route_recipients(&envelope, &offers);
            if by_envelope.is_empty() {
                route_recipients(&email.listed_recipients(), &offers)
            } else {
                by_envelope
            }
        }
        Err(_) => route_unparsed(raw, &offers),
    };
    codes
        .iter()
        .filter_map(|code| config.offer(code.as_str()))
        .collect()
}

/// Looks up the receipts [`dedupe::decide`] needs: the one under the Message-ID key, and, when
/// that key is taken, the one under the suffixed key.
pub(super) async fn dedupe(
    tx: &mut Tx,
    email: &InboundEmail,
    digest: &str,
) -> Result<dedupe::Decision, ServiceError> {
    let key = dedupe::key_for(&email.message_id);
    let by_id = tx.receipt(&key).await?;
    let by_suffixed = match &by_id {
        Some(_) => tx.receipt(&dedupe::suffixed_key(&key, digest)).await?,
        None => None,
    };
    let decision = dedupe::decide(&key, digest, seen(&by_id), seen(&by_suffixed));
    if let dedupe::Decision::Record {
        id_reused: true, ..
    } = &decision
    {
        tracing::warn!(tenant = %tx.tenant(), "message id reused with other content, stored as a new message");
    }
    Ok(decision)
}

fn seen(row: &Option<ReceiptRow>) -> Option<dedupe::Seen<'_>> {
    row.as_ref().map(|r| dedupe::Seen {
        content_sha256: &r.content_sha256,
        ticket: r.ticket_id,
    })
}

/// The ticket that a copy of this message (same Message-ID, same content) opened in the
/// transaction's offer, if one was taken in there.
pub(super) async fn ticket_of_copy(
    tx: &mut Tx,
    email: &InboundEmail,
    digest: &str,
) -> Result<Option<TicketId>, ServiceError> {
    let key = dedupe::key_for(&email.message_id);
    let by_suffixed = tx.receipt(&dedupe::suffixed_key(&key, digest)).await?;
    let by_id = tx.receipt(&key).await?;
    Ok(dedupe::ticket_of_copy(
        digest,
        seen(&by_id),
        seen(&by_suffixed),
    ))
}

/// Takes one raw message in for `offer`, arrived through a channel (`pipe`, `maildir`...) or
/// a [`Source`] that also names its place in a mailbox.
pub async fn ingest<'a>(
    ctx: &Context,
    offer: &OfferConfig,
    source: impl Into<Source<'a>>,
    raw: &[u8],
) -> Result<IngestOutcome, ServiceError> {
    let read = read(ctx, raw).await;
    ingest_read(ctx, offer, source.into(), raw, &read).await
}

/// [`ingest`] for a message already [`read`] (the pipe reads once, then routes and takes the
/// message into each offer it names): one transaction of its own.
pub async fn ingest_read(
    ctx: &Context,
    offer: &OfferConfig,
    source: Source<'_>,
    raw: &[u8],
    read: &Read,
) -> Result<IngestOutcome, ServiceError> {
    let mut tx = ctx.store.begin(&offer.code).await?;
    let kept = (raw, raw.len() as u64);
    let outcome = take_in_alone(ctx, &mut tx, offer, source, kept, read).await?;
    tx.commit().await?;
    taken_in(ctx, offer, source, read, &outcome).await;
    Ok(outcome)
}

/// The most messages [`ingest_batch`] puts in one transaction. The IMAP worker's batches are
/// already no larger (`batch`, default 100, and 64 MiB: `channels::imap::batches`); this
/// bound holds for any caller, so that a transaction never keeps PostgreSQL's row locks (or
/// SQLite's write lock) for long.
pub const MAX_BATCH_MESSAGES: usize = 100;

/// One message of a mailbox batch: its place in the mailbox and what was fetched of it.
#[derive(Debug)]
pub struct Fetched<'a> {
    pub mark: MailboxMark,
    pub body: Fetch<'a>,
}

/// What was fetched of a message (see `channels::imap::Body`).
#[derive(Debug, Clone, Copy)]
pub enum Fetch<'a> {
    /// The whole message.
    Whole(&'a [u8]),
    /// A message over the size limit: its header only, and its size.
    Oversized { header: &'a [u8], size: u64 },
}

/// Takes a batch of messages read from one mailbox in with as few commits as possible: one
/// transaction for up to [`MAX_BATCH_MESSAGES`]. First all of them under one savepoint
/// ([`take_in_together`]); when one of them has to undo its own work (the store refuses it,
/// another transaction took it in first), the batch again with a savepoint per message
/// ([`take_in_apart`]), where that message is rolled back alone and quarantined (or counted a
/// duplicate) in the same transaction. A transient error ends the whole batch with nothing
/// committed (the caller acknowledges nothing, and the batch is read again). Every message's
/// UID is recorded in the transaction that deals with it, as with [`ingest`].
///
/// The commit (one disk flush) is most of the cost of a message on its own (issue 7, item 2:
/// half the time): sharing it is what makes a backlog drain at the speed of the parser.
/// Returns the outcomes in the batch's order, once committed; the caller acknowledges the
/// messages to the server only then.
pub async fn ingest_batch(
    ctx: &Context,
    offer: &OfferConfig,
    batch: &[Fetched<'_>],
) -> Result<Vec<IngestOutcome>, ServiceError> {
    let parsed = parse_batch(ctx, batch).await;
    ingest_parsed_batch(ctx, offer, batch, parsed).await
}

/// [`ingest_batch`] of a batch parsed already ([`parse_batch`]): the IMAP worker parses the
/// next batch while this one is stored.
pub async fn ingest_parsed_batch(
    ctx: &Context,
    offer: &OfferConfig,
    batch: &[Fetched<'_>],
    parsed: Parsed,
) -> Result<Vec<IngestOutcome>, ServiceError> {
    let mut outcomes = Vec::with_capacity(batch.len());
    // Parsed before the transaction begins: the transaction lasts only as long as the writes.
    let all = with_bodies(ctx, offer, batch, parsed);
    for (chunk, reads) in batch
        .chunks(MAX_BATCH_MESSAGES)
        .zip(all.chunks(MAX_BATCH_MESSAGES))
    {
        let done = match take_in_together(ctx, offer, chunk, reads).await? {
            Some(done) => done,
            None => take_in_apart(ctx, offer, chunk, reads).await?,
        };
        for ((fetched, (_, read)), outcome) in chunk.iter().zip(reads).zip(&done) {
            taken_in(ctx, offer, imap_source(fetched), read, outcome).await;
        }
        outcomes.extend(done);
    }
    Ok(outcomes)
}

/// Where a message of a mailbox batch was read.
fn imap_source<'a>(fetched: &'a Fetched<'_>) -> Source<'a> {
    Source {
        channel: Channel::Imap,
        mark: Some(&fetched.mark),
        counts: None,
    }
}

/// The batch in one transaction under one savepoint, [`MESSAGE`], shared by all its messages:
/// the way nearly every batch goes. Each message's receipt is held back with its writes
/// ([`Tx::hold_receipt`]) and the messages are counted here, their UIDs recorded at the end
/// with the highest ([`batch_mark`]), in one statement: on SQLite a round trip to sqlx's worker thread less
/// a message, the hand-offs between threads being most of the drain's time (issue 7, `perf`
/// of the bench). A message that rolls back to [`MESSAGE`] (the store refused it, its sender
/// cannot be used, another transaction took it in first) undoes the messages before it too,
/// and a held receipt that fails does so with a later message's statement: then the
/// transaction is dropped, nothing is committed, and `None` tells the caller to take the batch
/// in with a savepoint per message ([`take_in_apart`]), which sorts out whose failure it was.
async fn take_in_together(
    ctx: &Context,
    offer: &OfferConfig,
    chunk: &[Fetched<'_>],
    reads: &[((&[u8], u64), Read)],
) -> Result<Option<Vec<IngestOutcome>>, ServiceError> {
    let Some(last) = batch_mark(chunk) else {
        return Ok(None);
    };
    let mut tx = ctx.store.begin(&offer.code).await?;
    // Every message's dedupe receipt in one statement rather than one each (SQLite).
    let keys: Vec<String> = reads
        .iter()
        .filter_map(|(_, read)| read.as_ref().ok())
        .map(|email| dedupe::key_for(&email.message_id))
        .collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    tx.read_receipts_ahead(&keys).await?;
    // And every sender's contact.
    let mut senders: Vec<&str> = reads
        .iter()
        .filter_map(|(_, read)| read.as_ref().ok())
        .filter_map(|email| email.from.as_ref().or(email.sender.as_ref()))
        .map(|sender| sender.address.as_str())
        .collect();
    senders.sort_unstable();
    senders.dedup();
    tx.read_contacts_ahead(AddressKind::Email, &senders).await?;
    let counts = Mutex::new(MailboxCounts::default());
    let mut done = Vec::with_capacity(chunk.len());
    tx.savepoint(MESSAGE).await?;
    for (fetched, (kept, read)) in chunk.iter().zip(reads) {
        let source = Source {
            counts: Some(&counts),
            ..imap_source(fetched)
        };
        let outcome = take_in(ctx, &mut tx, offer, source, *kept, read).await;
        if tx.rollbacks() > 0 {
            tracing::debug!(tenant = %offer.code, mailbox = %last.mailbox, uid = fetched.mark.uid, "a message of the batch rolled back, taking the batch in message by message");
            return Ok(None);
        }
        match outcome {
            Ok(outcome) => done.push(outcome),
            // A receipt held back failed with this message's first statement, or a failure
            // not caught above: the batch again, message by message, sorts out whose it was.
            Err(e) if !e.is_transient() => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    let place = (last.uidvalidity, last.uid);
    match tx
        .advance_mailbox(&last.mailbox, place, counted(&counts), ctx.clock.now())
        .await
    {
        Ok(true) => {}
        Ok(false) => return Err(moved_on(last)),
        Err(e) if !e.is_transient() => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    tx.release(MESSAGE).await?;
    tx.commit().await?;
    Ok(Some(done))
}

/// The counts of a batch so far.
fn counted(counts: &Mutex<MailboxCounts>) -> MailboxCounts {
    *counts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The place that records the whole batch: its highest UID, when all its messages come from
/// the same mailbox at the same UIDVALIDITY (as the IMAP worker fetches them). The order of
/// the messages does not matter: the mailbox's last UID never goes back
/// ([`Tx::advance_mailbox`]), and every message of the batch commits with it or none does.
fn batch_mark<'a>(chunk: &'a [Fetched<'_>]) -> Option<&'a MailboxMark> {
    let first = &chunk.first()?.mark;
    let same_place = chunk
        .iter()
        .all(|f| f.mark.mailbox == first.mailbox && f.mark.uidvalidity == first.uidvalidity);
    let highest = chunk.iter().map(|f| &f.mark).max_by_key(|m| m.uid)?;
    same_place.then_some(highest)
}

/// The batch in one transaction, each message in a savepoint of its own: a message that rolls
/// back undoes only itself.
async fn take_in_apart(
    ctx: &Context,
    offer: &OfferConfig,
    chunk: &[Fetched<'_>],
    reads: &[((&[u8], u64), Read)],
) -> Result<Vec<IngestOutcome>, ServiceError> {
    let mut tx = ctx.store.begin(&offer.code).await?;
    let mut done = Vec::with_capacity(chunk.len());
    tx.savepoint(MESSAGE).await?;
    for (n, (fetched, (kept, read))) in chunk.iter().zip(reads).enumerate() {
        if n > 0 {
            tx.release_and_savepoint(MESSAGE).await?;
        }
        done.push(take_in(ctx, &mut tx, offer, imap_source(fetched), *kept, read).await?);
    }
    tx.release(MESSAGE).await?;
    tx.commit().await?;
    Ok(done)
}

/// What the parser made of each message of a batch, in the batch's order ([`parse_batch`]):
/// `None` for a message it was not given (over the largest size any offer takes, or fetched
/// as its header only) or that it lost.
pub struct Parsed(Vec<Option<Read>>);

/// Parses the messages of a batch, in a few tasks on the blocking pool, one per CPU the
/// process may use (all of them, also when its other threads are kept on one:
/// [`crate::affinity`]), each taking a share of the batch in turn: a task per message would
/// start as many threads as the batch has messages, which then take turns on the cores
/// (measured: a tenth of a backlog's time).
pub async fn parse_batch(ctx: &Context, batch: &[Fetched<'_>]) -> Parsed {
    let limit = ctx.config.largest_message_bytes();
    let whole: Vec<(usize, Vec<u8>)> = batch
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match f.body {
            Fetch::Whole(raw) if raw.len() <= limit => Some((i, raw.to_vec())),
            _ => None,
        })
        .collect();
    let tasks = crate::affinity::parallelism();
    let share = whole.len().div_ceil(tasks).max(1);
    let mut shares = Vec::new();
    let mut rest = whole.into_iter();
    loop {
        let part: Vec<(usize, Vec<u8>)> = rest.by_ref().take(share).collect();
        if part.is_empty() {
            break;
        }
        shares.push(tokio::task::spawn_blocking(move || {
            // On every CPU, beside the one the database conversation keeps.
            crate::affinity::spread_this_thread();
            part.into_iter()
                .map(|(i, raw)| (i, mail::parse(&raw).map_err(|e| e.to_string())))
                .collect::<Vec<_>>()
        }));
    }
    let mut parsed: Vec<Option<Read>> = batch.iter().map(|_| None).collect();
    for share in futures_util::future::join_all(shares).await {
        // `parse` catches a parser's panic itself, message by message; a task lost all the
        // same leaves its messages unread, quarantined with the reason below.
        let Ok(share) = share else { continue };
        for (i, read) in share {
            if let Some(slot) = parsed.get_mut(i) {
                *slot = Some(read);
            }
        }
    }
    Parsed(parsed)
}

/// The bytes of each fetched message with the size of the whole, and what [`read`] makes of
/// them ([`parse_batch`]); an oversized message has its header, and its reason to be
/// quarantined.
fn with_bodies<'a>(
    ctx: &Context,
    offer: &OfferConfig,
    batch: &[Fetched<'a>],
    Parsed(parsed): Parsed,
) -> Vec<((&'a [u8], u64), Read)> {
    let limit = ctx.config.largest_message_bytes();
    batch
        .iter()
        .zip(parsed.into_iter().chain(std::iter::repeat_with(|| None)))
        .map(|(f, read)| match f.body {
            Fetch::Whole(raw) => {
                let read = match read {
                    Some(read) => read,
                    None if raw.len() > limit => Err(too_large(raw.len(), limit)),
                    None => Err(ParseError::ParserFailed.to_string()),
                };
                ((raw, raw.len() as u64), read)
            }
            Fetch::Oversized { header, size } => ((header, size), Err(oversized(offer, size))),
        })
        .collect()
}

/// Why a message over the largest size any offer takes is not parsed.
fn too_large(size: usize, limit: usize) -> String {
    format!("message of {size} bytes is over the limit of {limit} bytes")
}

/// The name of the savepoint each message is taken in under.
const MESSAGE: &str = "message";

/// [`take_in`] as the one message of its transaction, in a savepoint all the same: the paths
/// that keep nothing of the message roll back to it.
async fn take_in_alone(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    source: Source<'_>,
    kept: (&[u8], u64),
    read: &Read,
) -> Result<IngestOutcome, ServiceError> {
    tx.savepoint(MESSAGE).await?;
    let outcome = take_in(ctx, tx, offer, source, kept, read).await?;
    tx.release(MESSAGE).await?;
    Ok(outcome)
}

/// Deals with one message inside `tx`, in the savepoint [`MESSAGE`] the caller opened for it
/// and releases after: stores it, finds it a duplicate, or quarantines it (it does not parse, or
/// the database refuses it: retrying cannot help, and must not block the messages behind it).
/// A transient error is returned and leaves the transaction to be dropped.
async fn take_in(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    source: Source<'_>,
    (raw, size): (&[u8], u64),
    read: &Read,
) -> Result<IngestOutcome, ServiceError> {
    let outcome = if size > offer.max_message_bytes as u64 {
        // Over this offer's limit: its header and size only. A message that is all header
        // (nothing past the empty line) is kept whole, and so can be replayed.
        let header = message::header_block(raw);
        let whole_size = (size > header.len() as u64).then_some(size);
        let reason = oversized(offer, size);
        quarantine(ctx, tx, source, &reason, (header, whole_size)).await?
    } else {
        match read {
            Err(reason) => quarantine(ctx, tx, source, reason, (raw, None)).await?,
            Ok(email) => match ingest_parsed(ctx, tx, offer, source, raw, email).await {
                Ok(outcome) => outcome,
                // The database is there but refuses this message (a value it cannot hold, a
                // rule it enforces).
                Err(e) if !e.is_transient() => {
                    tx.rollback_to(MESSAGE).await?;
                    let reason = format!("cannot be stored: {}", e.detail());
                    quarantine(ctx, tx, source, &reason, (raw, None)).await?
                }
                Err(e) => return Err(e),
            },
        }
    };
    Ok(outcome)
}

/// What follows a message's commit: its log line and, for a new ticket, the links to the
/// tickets the same mail opened in other offers (their own transactions).
async fn taken_in(
    ctx: &Context,
    offer: &OfferConfig,
    source: Source<'_>,
    read: &Read,
    outcome: &IngestOutcome,
) {
    let channel = source.channel;
    let (mailbox, uid) = (
        source.mark.map(|m| m.mailbox.as_str()),
        source.mark.map(|m| m.uid),
    );
    match outcome {
        IngestOutcome::Quarantined { id, reason } => {
            tracing::warn!(tenant = %offer.code, %channel, mailbox, uid, quarantine = id.0, reason, "message quarantined");
        }
        _ => {
            let ticket = match outcome {
                IngestOutcome::Created { ticket, .. } | IngestOutcome::Appended { ticket, .. } => {
                    Some(ticket.to_string())
                }
                _ => None,
            };
            tracing::info!(tenant = %offer.code, %channel, mailbox, uid, outcome = outcome.label(), ticket, "message taken in");
        }
    }
    if let (IngestOutcome::Created { ticket, .. }, Ok(email)) = (outcome, read) {
        super::links::link_across_offers(ctx, offer, *ticket, email).await;
    }
}

/// Quarantines a message too large to take in, read no further than its header: the header
/// and the size are kept, not the body.
pub async fn quarantine_oversized(
    ctx: &Context,
    offer: &OfferConfig,
    source: Source<'_>,
    header: &[u8],
    size: u64,
) -> Result<IngestOutcome, ServiceError> {
    let read = Err(oversized(offer, size));
    let mut tx = ctx.store.begin(&offer.code).await?;
    let outcome = take_in_alone(ctx, &mut tx, offer, source, (header, size), &read).await?;
    tx.commit().await?;
    taken_in(ctx, offer, source, &read, &outcome).await;
    Ok(outcome)
}

/// Why a message over the offer's size limit is quarantined.
fn oversized(offer: &OfferConfig, size: u64) -> String {
    let limit = offer.max_message_bytes;
    format!("message of {size} bytes is over the limit of {limit} bytes (only its header is kept)")
}

/// Keeps what is `kept` of the message in quarantine with the reason (the whole of it, or its
/// header when the message, of the size given, was too large), and records its place in its
/// mailbox.
async fn quarantine(
    ctx: &Context,
    tx: &mut Tx,
    source: Source<'_>,
    reason: &str,
    (kept, whole_size): (&[u8], Option<u64>),
) -> Result<IngestOutcome, ServiceError> {
    let now = ctx.clock.now();
    let id = tx
        .insert_quarantine_header(source.channel, reason, kept, whole_size, now)
        .await?;
    mark(tx, source, MailboxTally::Quarantined, now).await?;
    Ok(IngestOutcome::Quarantined {
        id,
        reason: reason.to_owned(),
    })
}

/// Takes a parsed message in, inside `tx` and the savepoint [`MESSAGE`] the caller of
/// [`take_in`] opened: a path that keeps nothing rolls back to it.
async fn ingest_parsed(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    source: Source<'_>,
    raw: &[u8],
    email: &InboundEmail,
) -> Result<IngestOutcome, ServiceError> {
    let channel = source.channel;
    let now = ctx.clock.now();
    let digest = email.content_digest();
    let key = match dedupe(tx, email, &digest).await? {
        dedupe::Decision::Record { key, .. } => key,
        dedupe::Decision::Duplicate { ticket } => {
            mark(tx, source, MailboxTally::Duplicate, now).await?;
            return Ok(IngestOutcome::Duplicate {
                ticket: ticket_ref_of(tx, ticket).await?,
            });
        }
    };
    let raw_sha = tx.put_raw_message(raw, now).await?;
    let auto = loop_guard::classify(email, ctx.our_ids(), &offer.support_addresses);

    // A bounce of one of our mails is a note in that mail's ticket (issue 7 item 6).
    let bounce = super::bounces::note(ctx, tx, channel, email, &raw_sha, auto.as_ref());
    if let Some(noted) = bounce.await? {
        let (ticket, article) = (Some(noted.ticket.id), Some(noted.article));
        let receipt = receipt(
            &key,
            channel,
            ReceiptOutcome::Article,
            &digest,
            ticket,
            article,
            now,
        );
        let tally = MailboxTally::LoopSuppressed;
        return finish(tx, (source, tally), &receipt, noted.outcome()).await;
    }
    // `parse` guarantees a sender, except to machine mail; the fallback keeps this total.
    let Some(sender) = email.from.as_ref().or(email.sender.as_ref()) else {
        tx.rollback_to(MESSAGE).await?;
        let reason = ParseError::NoSender.to_string();
        return quarantine(ctx, tx, source, &reason, (raw, None)).await;
    };
    // Our own addresses are never people: such a message is our own mail coming back (a loop)
    // or a forgery, and taking it in would make us a contact, a participant, a recipient.
    if ctx.own_addresses().contains(&sender.address) {
        tx.rollback_to(MESSAGE).await?;
        return quarantine(ctx, tx, source, FROM_OURSELVES, (raw, None)).await;
    }
    let contact = match resolve_sender(tx, offer, sender, now).await? {
        Some(contact) => contact,
        None => {
            let answered = refuse(ctx, tx, offer, email, sender, auto.as_ref()).await?;
            let receipt = receipt(
                &key,
                channel,
                ReceiptOutcome::Refused,
                &digest,
                None,
                None,
                now,
            );
            let tally = tally_of(auto.as_ref());
            return finish(
                tx,
                (source, tally),
                &receipt,
                IngestOutcome::Refused { answered },
            )
            .await;
        }
    };

    // Machine mail answering one of our own messages (a bounce, an out-of-office) may thread
    // by header whoever sent it.
    let answers_ours = email.parent_ids().iter().any(|m| ctx.our_ids().is_ours(m));
    let (candidates, looked) = find_candidates_read(
        ctx,
        tx,
        offer,
        email,
        (&contact, &sender.address),
        (auto.is_some(), answers_ours),
    )
    .await?;
    let decision = threading::decide(&candidates, now, offer.reopen_window, auto.is_some());
    let auto_reason = auto.as_ref().map(AutoReason::describe);
    let (ticket, reopened, created) = match decision {
        ThreadDecision::Append { ticket, reopen, .. } => {
            let known = looked.rows.into_iter().find(|r| r.id == ticket);
            let Some(row) = tx.ticket_for_update_as_read(ticket, known).await? else {
                return Err(ServiceError::Refused(format!(
                    "ticket {ticket} vanished during ingest"
                )));
            };
            if reopen {
                let times = finish_times(Status::InProgress, row.finish_times(), now);
                tx.set_status(row.id, Status::InProgress, times, now)
                    .await?;
                let data =
                    json!({ "from": row.status.as_str(), "to": "in_progress", "reason": "reply" });
                event(tx, Some(&row), sender, EventKind::Reopened, &data, now).await?;
                let change = TicketChange::Status(row.status, Status::InProgress);
                let reopened = TicketRow {
                    status: Status::InProgress,
                    ..row
                };
                super::sla::on_ticket(ctx, tx, offer, &reopened, change, &actor(sender)).await?;
                (reopened, reopen, false)
            } else {
                (row, reopen, false)
            }
        }
        ThreadDecision::New { related } => {
            let row = open_ticket(tx, offer, email, contact.id, contact.institution, now).await?;
            if let Some((old, relation)) = related {
                let (here, there) = relation.names();
                tx.link_tickets(row.id, old, here, now).await?;
                tx.link_tickets(old, row.id, there, now).await?;
            }
            (row, false, true)
        }
    };
    // Machine mail (a bounce, an out-of-office) is kept in the ticket but its sender never
    // joins it: it may have threaded by header without being entitled.
    if created || auto.is_none() {
        tx.add_participant(
            ticket.id,
            contact.id,
            if created {
                ParticipantRole::Requester
            } else {
                ParticipantRole::Cc
            },
        )
        .await?;
    }
    if auto.is_none() {
        add_copied_participants(tx, ctx, &ticket, email, sender).await?;
    }

    let references = join_ids(&email.references);
    let in_reply_to = email.in_reply_to.first().map(|m| m.as_str());
    let article = tx
        .insert_article(&NewArticle {
            ticket: ticket.id,
            channel,
            direction: Direction::In,
            author: Some(contact.id),
            author_label: None,
            message_id: Some(email.message_id.as_str()),
            in_reply_to,
            references: references.as_deref(),
            subject: Some(&email.subject),
            body_text: &email.text_body,
            new_text: Some(&email.new_text),
            body_html: email.html_body.as_deref(),
            raw_sha256: Some(&raw_sha),
            auto_reason: auto_reason.as_deref(),
            now,
        })
        .await?;
    super::attachments::store(tx, article, &email.attachments).await?;
    if !created {
        tx.touch_ticket(ticket.id, now).await?;
    }
    let data = json!({ "article": article, "channel": channel, "automatic": auto_reason });
    event(
        tx,
        Some(&ticket),
        sender,
        if created {
            EventKind::Created
        } else {
            EventKind::ArticleAdded
        },
        &data,
        now,
    )
    .await?;

    let ticket = if created {
        let opened = TicketChange::Opened;
        super::sla::on_ticket(ctx, tx, offer, &ticket, opened, &actor(sender)).await?;
        ticket
    } else if auto.is_some() {
        ticket
    } else {
        let author = (contact.id, looked.sender_agent);
        answered(ctx, tx, offer, ticket, author, sender, now).await?
    };

    // Machine mail says nothing of its sender's language.
    if auto.is_none() {
        super::acks::learn_locale(tx, contact.id, email).await?;
    }
    let mut acknowledged = false;
    if created
        && auto.is_none()
        && let Some(to) = reply_target(sender, &email.reply_to, ctx.own_addresses())
        && super::acks::take_slot(&ctx.config, tx, &to.address, now).await?
    {
        let context = mail_context(offer, Some(&ticket), &to, &email.subject, None);
        let locale = tx.contact_locale(contact.id).await?;
        let queued = queue_mail(
            ctx,
            tx,
            offer,
            QueuedMail {
                ticket: Some(&ticket),
                template: Template::TicketCreated,
                to: &[to],
                answering: Some(Thread::of(email)),
                auto_submitted: Some("auto-replied"),
                context: &context,
                locale: locale.as_deref(),
            },
        )
        .await?;
        acknowledged = queued.is_some();
    }
    let author = (contact.id, contact.institution);
    let automatic = auto.is_some();
    super::notices::inbound(ctx, tx, offer, &ticket, email, author, created, automatic).await?;
    let outcome = if created {
        IngestOutcome::Created {
            ticket: ticket.reference(),
            article,
            acknowledged,
        }
    } else {
        IngestOutcome::Appended {
            ticket: ticket.reference(),
            article,
            reopened,
        }
    };
    let receipt = receipt(
        &key,
        channel,
        ReceiptOutcome::Article,
        &digest,
        Some(ticket.id),
        Some(article),
        now,
    );
    finish(tx, (source, tally_of(auto.as_ref())), &receipt, outcome).await
}

/// Why mail from one of our own support addresses is quarantined.
pub(super) const FROM_OURSELVES: &str =
    "sent from one of our own support addresses (a mail loop or a forgery)";

/// Records the dedupe key (and the mailbox mark); if another transaction recorded the same key
/// first, rolls back to the message's savepoint and reports a duplicate.
async fn finish(
    tx: &mut Tx,
    (source, tally): (Source<'_>, MailboxTally),
    receipt: &ReceiptRow,
    outcome: IngestOutcome,
) -> Result<IngestOutcome, ServiceError> {
    let Some(m) = source.mark else {
        if !tx.insert_receipt(receipt).await? {
            tx.rollback_to(MESSAGE).await?;
            return Ok(IngestOutcome::Duplicate { ticket: None });
        }
        return Ok(outcome);
    };
    if source.counts.is_some() {
        // In a batch under one savepoint: the receipt waits with the writes, and the mark
        // with the batch's end.
        if !tx.hold_receipt(receipt).await? {
            tx.rollback_to(MESSAGE).await?;
            mark(tx, source, MailboxTally::Duplicate, receipt.received_at).await?;
            return Ok(IngestOutcome::Duplicate { ticket: None });
        }
        mark(tx, source, tally, receipt.received_at).await?;
        return Ok(outcome);
    }
    let place = (m.uidvalidity, m.uid);
    match tx
        .insert_receipt_and_advance(receipt, &m.mailbox, place, tally)
        .await?
    {
        (true, true) => Ok(outcome),
        (false, _) => {
            // Taken in meanwhile: what this message did is undone, its place recorded.
            tx.rollback_to(MESSAGE).await?;
            mark(tx, source, MailboxTally::Duplicate, receipt.received_at).await?;
            Ok(IngestOutcome::Duplicate { ticket: None })
        }
        (true, false) => Err(moved_on(m)),
    }
}

/// The mailbox was started over (a new UIDVALIDITY) while its message was being taken in:
/// transient, the message is read again.
fn moved_on(m: &MailboxMark) -> ServiceError {
    ServiceError::Retry(format!(
        "mailbox {} is no longer at uidvalidity {}",
        m.mailbox, m.uidvalidity
    ))
}

/// Machine mail is counted apart: stored, never answered.
fn tally_of(auto: Option<&AutoReason>) -> MailboxTally {
    if auto.is_some() {
        MailboxTally::LoopSuppressed
    } else {
        MailboxTally::Ingested
    }
}

/// Records the message's place in its mailbox, in the transaction that deals with it. Fails
/// (transient) when the mailbox was started over meanwhile: the message is read again.
async fn mark(
    tx: &mut Tx,
    source: Source<'_>,
    tally: MailboxTally,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ServiceError> {
    let Some(m) = source.mark else {
        return Ok(());
    };
    if let Some(counts) = source.counts {
        // A poisoned lock still holds the counts: a panic elsewhere changes nothing here.
        counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .add(tally);
        return Ok(());
    }
    if tx
        .advance_mailbox(&m.mailbox, (m.uidvalidity, m.uid), tally, now)
        .await?
    {
        Ok(())
    } else {
        Err(moved_on(m))
    }
}

fn receipt(
    key: &str,
    channel: Channel,
    outcome: ReceiptOutcome,
    digest: &str,
    ticket_id: Option<TicketId>,
    article_id: Option<ArticleId>,
    now: chrono::DateTime<chrono::Utc>,
) -> ReceiptRow {
    ReceiptRow {
        dedupe_key: key.to_owned(),
        channel,
        outcome,
        content_sha256: digest.to_owned(),
        ticket_id,
        article_id,
        received_at: now,
    }
}

async fn ticket_ref_of(
    tx: &mut Tx,
    id: Option<TicketId>,
) -> Result<Option<TicketRef>, ServiceError> {
    let Some(id) = id else { return Ok(None) };
    Ok(tx.ticket(id).await?.map(|r| r.reference()))
}

/// The sender as this offer knows it.
pub(super) struct SenderContact {
    pub(super) id: ContactId,
    pub(super) institution: Option<InstitutionId>,
    /// The contact comes from the configuration (see [`SenderFacts::configured`]).
    pub(super) configured: bool,
}

/// The sender's contact and institution in this offer, created when the policy allows;
/// `None` when the offer refuses this sender.
async fn resolve_sender(
    tx: &mut Tx,
    offer: &OfferConfig,
    sender: &Mailbox,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<SenderContact>, ServiceError> {
    if let Some(known) = known_sender(tx, sender).await? {
        return Ok(Some(known));
    }
    match unknown_sender(tx, offer, sender).await? {
        SenderDecision::Known(id) => Ok(Some(SenderContact {
            id,
            institution: None,
            configured: false,
        })),
        SenderDecision::Refuse => Ok(None),
        SenderDecision::Create { institution } => {
            let new = NewContact {
                name: sender.name.as_deref(),
                institution_id: institution,
                origin: ContactOrigin::Inbound,
                now,
            };
            let id = tx.create_contact(&new).await?;
            if !tx
                .add_contact_address_if_absent(id, AddressKind::Email, &sender.address)
                .await?
            {
                // Another transaction created this sender meanwhile (PostgreSQL: two first
                // mails at once). Theirs is the contact; ours stays without an address.
                if let Some(c) = tx
                    .contact_by_address(AddressKind::Email, &sender.address)
                    .await?
                {
                    return Ok(Some(SenderContact {
                        id: c.id,
                        institution: c.institution_id,
                        configured: c.origin == ContactOrigin::Config,
                    }));
                }
            }
            tx.set_contact_roles(id, &[Role::Requester.as_str()])
                .await?;
            Ok(Some(SenderContact {
                id,
                institution,
                configured: false,
            }))
        }
    }
}

/// The offer's contact for `sender`'s address, if it has one.
pub(super) async fn known_sender(
    tx: &mut Tx,
    sender: &Mailbox,
) -> Result<Option<SenderContact>, ServiceError> {
    let known = tx
        .contact_by_address(AddressKind::Email, &sender.address)
        .await?;
    Ok(known.map(|c| SenderContact {
        id: c.id,
        institution: c.institution_id,
        configured: c.origin == ContactOrigin::Config,
    }))
}

/// What the offer's unknown-sender policy does with a sender it has no contact for: reads
/// only, so `guichet inspect` can say it without creating anyone.
pub(super) async fn unknown_sender(
    tx: &mut Tx,
    offer: &OfferConfig,
    sender: &Mailbox,
) -> Result<SenderDecision, ServiceError> {
    let rows = tx.institutions().await?;
    let domains: Vec<Vec<String>> = rows.iter().map(|r| r.domain_list()).collect();
    let institutions: Vec<InstitutionDomains<'_>> = rows
        .iter()
        .zip(&domains)
        .map(|(r, d)| InstitutionDomains {
            id: r.id,
            domains: d,
        })
        .collect();
    Ok(decide_sender(
        None,
        sender.domain(),
        offer.unknown_sender,
        &institutions,
    ))
}

/// Queues the polite refusal (never to an automatic message). Returns whether one was queued.
async fn refuse(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    email: &InboundEmail,
    sender: &Mailbox,
    auto: Option<&AutoReason>,
) -> Result<bool, ServiceError> {
    let now = ctx.clock.now();
    let data = json!({ "automatic": auto.map(AutoReason::describe) });
    event(tx, None, sender, EventKind::SenderRefused, &data, now).await?;
    if auto.is_some() {
        return Ok(false);
    }
    let Some(to) = reply_target(sender, &email.reply_to, ctx.own_addresses()) else {
        return Ok(false);
    };
    let context = mail_context(offer, None, &to, &email.subject, None);
    let mail = QueuedMail {
        ticket: None,
        template: Template::SenderRefused,
        to: &[to],
        answering: Some(Thread::of(email)),
        auto_submitted: Some("auto-replied"),
        context: &context,
        // No contact to ask: the language the mail declares, if any.
        locale: email.language,
    };
    Ok(queue_mail(ctx, tx, offer, mail).await?.is_some())
}

pub(super) async fn find_candidates(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    email: &InboundEmail,
    sender: (&SenderContact, &str),
    flags: (bool, bool),
) -> Result<Candidates, ServiceError> {
    let (candidates, _) = find_candidates_read(ctx, tx, offer, email, sender, flags).await?;
    Ok(candidates)
}

/// What [`find_candidates_read`] read on the way, which taking the message in uses again
/// rather than read it a second time (each read a round trip to the database).
#[derive(Default)]
struct Looked {
    /// The rows of the tickets found by header or tag, as this transaction read them.
    rows: Vec<TicketRow>,
    /// Whether the sender is an agent of the offer, when an entitlement was decided.
    sender_agent: Option<bool>,
}

/// [`find_candidates`], with what it read.
async fn find_candidates_read(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    email: &InboundEmail,
    (sender, from): (&SenderContact, &str),
    (automatic, answers_ours): (bool, bool),
) -> Result<(Candidates, Looked), ServiceError> {
    let mut looked = Looked::default();
    let by_token = by_token(ctx, tx, offer, email, from).await?;
    let parents: Vec<&str> = email.parent_ids().iter().map(|m| m.as_str()).collect();
    let agent = Role::Agent.as_str();
    let by_header = match tx
        .ticket_by_message_ids_with_standing(&parents, sender.id, agent)
        .await?
    {
        Some((row, standing)) => {
            let facts = facts_of(&row, sender, standing);
            looked.sender_agent = Some(facts.agent);
            let may = threading::may_thread_by_header(facts, automatic, answers_ours);
            let found = candidate(&row, may);
            looked.rows.push(row);
            Some(found)
        }
        None => None,
    };
    let mut by_subject_tag = None;
    for r in find_subject_refs(&email.subject, &offer.code) {
        if let Some(row) = tx.ticket_by_ref(r).await? {
            let facts = sender_facts(tx, &row, sender).await?;
            looked.sender_agent = Some(facts.agent);
            let may = threading::may_thread_by_tag(facts, is_forward(&email.subject));
            by_subject_tag = Some(candidate(&row, may));
            looked.rows.push(row);
            break;
        }
    }
    let candidates = Candidates {
        by_token,
        by_header,
        by_subject_tag,
    };
    Ok((candidates, looked))
}

/// The ticket a reply token issued to `from` names (envelope recipients first, then To and
/// Cc), else the ticket of one of our Message-IDs it answers that was sent to `from` itself:
/// either is entitlement enough, since only that address was given it. Only with a key (our
/// ids are forgeable without one). A token that does not verify is treated as absent, and
/// logged without the address or the token.
async fn by_token(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    email: &InboundEmail,
    from: &str,
) -> Result<Option<Candidate>, ServiceError> {
    let Some(key) = ctx.token_key() else {
        return Ok(None);
    };
    let mut recipients: Vec<&str> = email.delivered_to.iter().map(String::as_str).collect();
    recipients.extend(email.listed_recipients());
    if let Some(token) = token::find(&recipients, &offer.support_addresses) {
        match key.verify(&token, &offer.code, from) {
            Some(id) => match tx.ticket(id).await? {
                Some(row) => return Ok(Some(candidate(&row, true))),
                None => {
                    tracing::warn!(tenant = %offer.code, reason = "names no ticket of this offer", "reply token ignored")
                }
            },
            None => {
                let elsewhere =
                    ctx.config.offers.iter().any(|o| {
                        o.code != offer.code && key.verify(&token, &o.code, from).is_some()
                    });
                let reason = if elsewhere {
                    "another offer's token"
                } else {
                    "does not verify for this sender (altered, or sent to someone else)"
                };
                tracing::info!(tenant = %offer.code, reason, "reply token ignored");
            }
        }
    }
    for id in email.parent_ids() {
        if !ctx.our_ids().is_ours(id) {
            continue;
        }
        let Some(sent) = tx.outbox_by_message_id(id.as_str()).await? else {
            continue;
        };
        if let Some(ticket) = sent.ticket_id.filter(|_| sent.sent_to(from))
            && let Some(row) = tx.ticket(ticket).await?
        {
            return Ok(Some(candidate(&row, true)));
        }
    }
    Ok(None)
}

/// Fetches what [`threading::entitled`] decides on.
async fn sender_facts(
    tx: &mut Tx,
    ticket: &TicketRow,
    sender: &SenderContact,
) -> Result<SenderFacts, ServiceError> {
    let standing = tx
        .standing(ticket.id, sender.id, Role::Agent.as_str())
        .await?;
    Ok(facts_of(ticket, sender, standing))
}

/// What [`threading::entitled`] decides on, from the sender's standing in `ticket`
/// (participant, agent of the offer).
fn facts_of(
    ticket: &TicketRow,
    sender: &SenderContact,
    (participant, agent): (bool, bool),
) -> SenderFacts {
    SenderFacts {
        participant,
        agent,
        same_institution: threading::same_institution(sender.institution, ticket.institution_id),
        configured: sender.configured,
    }
}

fn candidate(row: &TicketRow, sender_entitled: bool) -> Candidate {
    Candidate {
        ticket: row.id,
        status: row.status,
        finished_at: row.finished_at(),
        sender_entitled,
    }
}

/// Opens the ticket, of the kind the address the message was sent to names
/// ([`kind_for`]: plus-suffix or address, the envelope first, else the offer's default).
async fn open_ticket(
    tx: &mut Tx,
    offer: &OfferConfig,
    email: &InboundEmail,
    requester: ContactId,
    institution_id: Option<InstitutionId>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<TicketRow, ServiceError> {
    let subject = email.subject.trim();
    let title = if subject.is_empty() {
        "(no subject)"
    } else {
        subject
    };
    let envelope: Vec<&str> = email.delivered_to.iter().map(String::as_str).collect();
    let kind = kind_for(
        &envelope,
        &email.listed_recipients(),
        &offer.support_addresses,
        &offer.kinds,
    );
    let new = NewTicket {
        kind,
        title,
        priority: Priority::Normal,
        requester: Some(requester),
        institution_id,
        now,
    };
    Ok(tx.create_ticket(&new).await?)
}

async fn event(
    tx: &mut Tx,
    ticket: Option<&TicketRow>,
    sender: &Mailbox,
    kind: EventKind,
    data: &serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ServiceError> {
    let actor = actor(sender);
    let new = NewEvent {
        ticket: ticket.map(|t| t.id),
        actor: &actor,
        kind,
        data,
        now,
    };
    tx.insert_event(&new).await?;
    Ok(())
}

/// What a person's message into an existing ticket does to it: an agent's is an answer (the
/// first response, the update clock); the requester's side answering while the ticket waits
/// for them puts it back in progress, and its clocks run again. Returns the ticket as it now is.
async fn answered(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    ticket: TicketRow,
    (author, agent): (ContactId, Option<bool>),
    sender: &Mailbox,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<TicketRow, ServiceError> {
    let agent = match agent {
        Some(agent) => agent,
        None => tx
            .contact_roles(author)
            .await?
            .iter()
            .any(|r| r == Role::Agent.as_str()),
    };
    if agent {
        tx.mark_first_response(ticket.id, now).await?;
        let change = TicketChange::AgentAnswered;
        super::sla::on_ticket(ctx, tx, offer, &ticket, change, &actor(sender)).await?;
        return Ok(ticket);
    }
    if ticket.status != Status::WaitingCustomer {
        return Ok(ticket);
    }
    let times = finish_times(Status::InProgress, ticket.finish_times(), now);
    tx.set_status(ticket.id, Status::InProgress, times, now)
        .await?;
    let data = json!({ "from": ticket.status, "to": Status::InProgress, "reason": "reply" });
    event(
        tx,
        Some(&ticket),
        sender,
        EventKind::StatusChanged,
        &data,
        now,
    )
    .await?;
    let change = TicketChange::Status(ticket.status, Status::InProgress);
    let ticket = TicketRow {
        status: Status::InProgress,
        ..ticket
    };
    super::sla::on_ticket(ctx, tx, offer, &ticket, change, &actor(sender)).await?;
    Ok(ticket)
}

/// Who a message's events name: `mail:<sender>`.
fn actor(sender: &Mailbox) -> String {
    format!("mail:{}", sender.address)
}

fn join_ids(ids: &[crate::domain::MessageId]) -> Option<String> {
    (!ids.is_empty()).then(|| ids.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(" "))
}

/// Makes participants of `ticket` the addresses a person's message was copied to (To and Cc,
/// [`threading::copied_addresses`]) that are contacts of the offer entitled to it
/// ([`threading::entitled`], as if each had written): a configured colleague or an agent
/// copied on a request hears of its answers. A stranger copied gains nothing (a sender cannot
/// let anyone into a ticket by naming them) and no contact is created from a copy. Only
/// called for mail a person wrote: machine mail brings no one in.
async fn add_copied_participants(
    tx: &mut Tx,
    ctx: &Context,
    ticket: &TicketRow,
    email: &InboundEmail,
    sender: &Mailbox,
) -> Result<(), ServiceError> {
    let copied =
        threading::copied_addresses(&email.to, &email.cc, &sender.address, ctx.own_addresses());
    for address in copied {
        let Some(c) = tx.contact_by_address(AddressKind::Email, &address).await? else {
            continue;
        };
        let contact = SenderContact {
            id: c.id,
            institution: c.institution_id,
            configured: c.origin == ContactOrigin::Config,
        };
        let facts = sender_facts(tx, ticket, &contact).await?;
        if !facts.participant && threading::entitled(facts) {
            tx.add_participant(ticket.id, contact.id, ParticipantRole::Cc)
                .await?;
        }
    }
    Ok(())
}
