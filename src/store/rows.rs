//! Rows read from and written to the store: plain structs, decoded the same way from both
//! databases. Name columns (status, kind, role, relation...) decode into their domain
//! types, checked (`columns.rs`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;
use sqlx::types::Json;

use crate::domain::{
    ArticleId, Channel, ContactId, ContactOrigin, Direction, EventId, EventKind, FinishTimes,
    InstitutionId, LinkRelation, OutboxId, OutboxState, ParticipantRole, Priority, QuarantineId,
    ReceiptOutcome, Status, TicketId, TicketKind, TicketRef,
};

/// An offer as synchronised from the configuration at start (one row per tenant).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct OfferRow {
    /// Display name, as in templates.
    pub name: String,
    /// Key of the institution that hosts the offer.
    pub provider: String,
    /// Language of the offer's outgoing mail (`fr`, `en`).
    pub locale: String,
    /// The address contacts write to and acknowledgements come from.
    pub support_address: String,
    /// When the configuration was last synchronised into this row.
    pub updated_at: DateTime<Utc>,
}

/// An institution of the offer's configuration, whose contacts it knows by mail domain.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct InstitutionRow {
    /// Row id inside the offer.
    pub id: InstitutionId,
    /// The institution's key in the configuration, unique in the offer.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Space-separated lower-case domains.
    pub domains: String,
}

impl InstitutionRow {
    /// The mail domains, one per entry.
    pub fn domain_list(&self) -> Vec<String> {
        self.domains.split_whitespace().map(str::to_owned).collect()
    }
}

/// A person known to the offer, by one or more addresses (kept in `contact_addresses`).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ContactRow {
    /// Row id inside the offer.
    pub id: ContactId,
    /// Display name; `None` when neither the configuration nor a `From` header gave one.
    pub name: Option<String>,
    /// The contact's institution; `None` when it belongs to none the offer knows.
    pub institution_id: Option<InstitutionId>,
    /// Whether the operator listed the contact or a message created it.
    pub origin: ContactOrigin,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
}

/// A contact to create with [`Tx::create_contact`](super::Tx::create_contact).
pub struct NewContact<'a> {
    /// Display name, if one is known.
    pub name: Option<&'a str>,
    /// The institution its domain belongs to, if any.
    pub institution_id: Option<InstitutionId>,
    /// Configuration or inbound sender.
    pub origin: ContactOrigin,
    /// Creation time.
    pub now: DateTime<Utc>,
}

/// A ticket as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct TicketRow {
    /// Row id inside the offer.
    pub id: TicketId,
    /// The kind, which with `number` makes the public ref.
    pub kind: TicketKind,
    /// Number inside the offer and kind, from 1.
    pub number: i64,
    /// The opening message's subject, trimmed; `(no subject)` when it had none.
    pub title: String,
    /// Current status.
    pub status: Status,
    /// Current priority.
    pub priority: Priority,
    /// The contact who opened it, if known.
    pub requester_id: Option<ContactId>,
    /// The requester's institution, at opening; `None` if it had none.
    pub institution_id: Option<InstitutionId>,
    /// The agent it is assigned to; `None` until `guichet ticket assign`.
    pub assignee_id: Option<ContactId>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// Last change: status, priority, assignee, or a new article.
    pub updated_at: DateTime<Utc>,
    /// First reply to the contacts; `None` until then, never moved after.
    pub first_response_at: Option<DateTime<Utc>>,
    /// See [`FinishTimes::resolved_at`].
    pub resolved_at: Option<DateTime<Utc>>,
    /// See [`FinishTimes::closed_at`].
    pub closed_at: Option<DateTime<Utc>>,
}

impl TicketRow {
    /// The public ref (`I-000042`).
    pub fn reference(&self) -> TicketRef {
        TicketRef {
            kind: self.kind,
            number: self.number,
        }
    }

    /// When the ticket was resolved and closed, if it was.
    pub fn finish_times(&self) -> FinishTimes {
        FinishTimes {
            resolved_at: self.resolved_at,
            closed_at: self.closed_at,
        }
    }

    /// When the ticket was finished (closed, else resolved), if it is.
    pub fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.closed_at.or(self.resolved_at)
    }
}

/// A ticket to create with [`Tx::create_ticket`](super::Tx::create_ticket); it starts `new`.
pub struct NewTicket<'a> {
    /// The kind, which picks the numbering.
    pub kind: TicketKind,
    /// The title (see [`TicketRow::title`]).
    pub title: &'a str,
    /// The starting priority.
    pub priority: Priority,
    /// Who opened it, if a contact.
    pub requester: Option<ContactId>,
    /// The requester's institution, if any.
    pub institution_id: Option<InstitutionId>,
    /// Opening time.
    pub now: DateTime<Utc>,
}

/// A link from a ticket to another ticket of the same offer.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct LinkRow {
    /// The other ticket.
    pub other_id: TicketId,
    /// How the other ticket relates to this one.
    pub relation: LinkRelation,
    /// When the link was made.
    pub created_at: DateTime<Utc>,
}

/// A link from a ticket to a ticket of another offer, as this offer recorded it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct OfferLinkRow {
    /// The other offer's code.
    pub other_tenant: String,
    /// The other ticket's ref in its offer (`I-000042`).
    pub other_ref: String,
    /// How the other ticket relates to this one.
    pub relation: LinkRelation,
    /// When the link was made.
    pub created_at: DateTime<Utc>,
}

/// A contact taking part in a ticket, with its name and address joined in.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct ParticipantRow {
    /// The contact.
    pub contact_id: ContactId,
    /// Its part in the ticket.
    pub role: ParticipantRole,
    /// The contact's display name, if known.
    pub name: Option<String>,
    /// The contact's first email address, if any.
    pub email: Option<String>,
}

/// An article to add with [`Tx::insert_article`](super::Tx::insert_article).
pub struct NewArticle<'a> {
    /// The ticket it belongs to.
    pub ticket: TicketId,
    /// How it came in or was written.
    pub channel: Channel,
    /// In, out, or an internal note.
    pub direction: Direction,
    /// The contact who wrote it; `None` for an operator on the command line.
    pub author: Option<ContactId>,
    /// The operator's name for command-line articles.
    pub author_label: Option<&'a str>,
    /// Its Message-ID without brackets, if it has one.
    pub message_id: Option<&'a str>,
    /// The `In-Reply-To` id without brackets.
    pub in_reply_to: Option<&'a str>,
    /// Space-separated, oldest first.
    pub references: Option<&'a str>,
    /// The subject as received or sent.
    pub subject: Option<&'a str>,
    /// The text body.
    pub body_text: &'a str,
    /// What the writer added to the text body (quotes and signature removed); `None` when
    /// that is the whole body (articles written here).
    pub new_text: Option<&'a str>,
    /// The HTML body, sanitised.
    pub body_html: Option<&'a str>,
    /// Key of the raw message in `raw_messages`; `None` for articles written here.
    pub raw_sha256: Option<&'a str>,
    /// Why the loop guard kept guichet from answering; `None` for a message written by a person.
    pub auto_reason: Option<&'a str>,
    /// When it was stored.
    pub now: DateTime<Utc>,
}

/// An article as stored, with its author's name joined in.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct ArticleRow {
    /// Row id inside the offer.
    pub id: ArticleId,
    /// The ticket it belongs to.
    pub ticket_id: TicketId,
    /// How it came in or was written.
    pub channel: Channel,
    /// In, out, or an internal note.
    pub direction: Direction,
    /// The contact who wrote it; `None` for an operator on the command line.
    pub author_contact_id: Option<ContactId>,
    /// The operator's name for command-line articles.
    pub author_label: Option<String>,
    /// The author contact's display name, if it has one.
    pub author_name: Option<String>,
    /// Its Message-ID without brackets, if it has one.
    pub message_id: Option<String>,
    /// The `In-Reply-To` id without brackets.
    pub in_reply_to: Option<String>,
    /// The `References` ids, space-separated, oldest first.
    pub references_ids: Option<String>,
    /// The subject as received or sent.
    pub subject: Option<String>,
    /// The text body.
    pub body_text: String,
    /// What the writer added to the text body (quotes and signature removed); `None` for
    /// articles written here and those stored before it was kept.
    pub new_text: Option<String>,
    /// The HTML body, sanitised (as received for articles stored before sanitising).
    pub body_html: Option<String>,
    /// Key of the raw message in `raw_messages`; `None` for articles written here.
    pub raw_sha256: Option<String>,
    /// Why the loop guard kept guichet from answering; `None` for a message written by a person.
    pub auto_reason: Option<String>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// Where an attachment appears; its bytes are stored once per offer, keyed by digest.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct AttachmentRow {
    /// The article it belongs to.
    pub article_id: ArticleId,
    /// Its place among the article's attachments, from 0.
    pub position: i64,
    /// The file name the sender gave, if any (untrusted).
    pub filename: Option<String>,
    /// The MIME type the sender declared.
    pub content_type: String,
    /// Hex SHA-256 of the content, its key in `attachment_blobs`.
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// Its Content-ID, which the HTML body's `cid:` URLs name (an inline image).
    pub content_id: Option<String>,
    /// Why opening it is dangerous (see `domain::attachment`), `None` when nothing was found.
    pub danger: Option<String>,
}

/// The dedupe receipt of a message taken in: seeing its key again makes the delivery a no-op.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ReceiptRow {
    /// `mid:<message-id>` (see [`crate::domain::dedupe`]).
    pub dedupe_key: String,
    /// How the message came in.
    pub channel: Channel,
    /// Whether it became an article or was refused.
    pub outcome: ReceiptOutcome,
    /// Digest of the message's content, to tell a re-delivery from a reused Message-ID.
    pub content_sha256: String,
    /// The ticket it went to; `None` when refused.
    pub ticket_id: Option<TicketId>,
    /// The article it became; `None` when refused.
    pub article_id: Option<ArticleId>,
    /// When it was taken in.
    pub received_at: DateTime<Utc>,
}

/// A message that could not be taken in, kept with its raw bytes (not loaded into this row).
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct QuarantineRow {
    /// Its number inside the offer.
    pub id: QuarantineId,
    /// How the message came in.
    pub channel: Channel,
    /// Why it was quarantined, for the operator.
    pub reason: String,
    /// Size of the raw message in bytes.
    pub size: i64,
    /// Only the header was kept, the message being over the size limit: it cannot be replayed.
    pub header_only: bool,
    /// When it was quarantined.
    pub received_at: DateTime<Utc>,
    /// The latest replay's time and outcome ([`QuarantineRow::replays`] has them all).
    pub replayed_at: Option<DateTime<Utc>>,
    /// The latest replay's outcome; `None` if never replayed.
    pub replay_outcome: Option<String>,
    /// Every replay, oldest first.
    #[sqlx(skip)]
    pub replays: Vec<ReplayRow>,
}

/// One replay of a quarantined message.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct ReplayRow {
    /// The quarantined message replayed.
    #[serde(skip)]
    pub quarantine_id: QuarantineId,
    /// 1 for the first replay, then 2...
    pub seq: i64,
    /// When it was replayed.
    pub replayed_at: DateTime<Utc>,
    /// What the replay did, for the operator.
    pub outcome: String,
}

/// An outgoing message to queue with [`Tx::enqueue_outbox`](super::Tx::enqueue_outbox); it starts `pending`, due at `due_at`.
pub struct NewOutbox<'a> {
    /// The ticket it is about; `None` when it is about none (a refusal).
    pub ticket: Option<TicketId>,
    /// The template folder to render it from.
    pub template: &'a str,
    /// The language to render it in.
    pub locale: &'a str,
    /// The values the template receives.
    pub context: &'a serde_json::Value,
    /// The `From` address (the offer's support address).
    pub from_address: &'a str,
    /// JSON array of `{"name": …, "address": …}`.
    pub recipients: &'a str,
    /// Its Message-ID without brackets, fixed at queueing so a retry sends the same id.
    pub message_id: &'a str,
    /// The `In-Reply-To` id without brackets.
    pub in_reply_to: Option<&'a str>,
    /// The `References` ids, space-separated, oldest first.
    pub references: Option<&'a str>,
    /// The `Auto-Submitted` value (`auto-replied`...); `None` for a message written by a person.
    pub auto_submitted: Option<&'a str>,
    /// Queueing time.
    pub now: DateTime<Utc>,
    /// The first attempt's time: `now`, or later for a notification that waits for the next
    /// ones to merge with (`domain::throttle`).
    pub due_at: DateTime<Utc>,
    /// Names the ticket and recipients of a notification that later ones may be merged into
    /// while it waits; `None` for mail never merged.
    pub coalesce_key: Option<&'a str>,
}

/// An outgoing message as queued, with its delivery state.
#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct OutboxRow {
    /// Row id inside the offer.
    pub id: OutboxId,
    /// The ticket it is about; `None` when it is about none (a refusal).
    pub ticket_id: Option<TicketId>,
    /// The template folder to render it from.
    pub template: String,
    /// The language to render it in.
    pub locale: String,
    /// The values the template receives.
    pub context: Json<serde_json::Value>,
    /// The `From` address.
    pub from_address: String,
    /// JSON array of `{"name": …, "address": …}`.
    pub recipients: String,
    /// Its Message-ID without brackets, the same on every attempt.
    pub message_id: String,
    /// The `In-Reply-To` id without brackets.
    pub in_reply_to: Option<String>,
    /// The `References` ids, space-separated, oldest first.
    pub references_ids: Option<String>,
    /// The `Auto-Submitted` value; `None` for a message written by a person.
    pub auto_submitted: Option<String>,
    /// Where it stands.
    pub status: OutboxState,
    /// Attempts so far; a claim counts as one.
    pub attempts: i64,
    /// When a worker may next claim it.
    pub next_attempt_at: DateTime<Utc>,
    /// The last failed attempt's error; cleared once sent.
    pub last_error: Option<String>,
    /// When the transport accepted it; `None` until then.
    pub sent_at: Option<DateTime<Utc>>,
    /// Where it went (file path, SMTP queue id); `None` until sent.
    pub sent_ref: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

impl OutboxRow {
    /// Whether `address` is one of its recipients (case-insensitively). A row whose recipients
    /// do not parse was sent to no one we can name.
    pub fn sent_to(&self, address: &str) -> bool {
        serde_json::from_str::<Vec<serde_json::Value>>(&self.recipients)
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r["address"].as_str())
            .any(|a| a.trim().eq_ignore_ascii_case(address.trim()))
    }
}

/// An entry to append to the offer's event log with [`Tx::insert_event`](super::Tx::insert_event).
pub struct NewEvent<'a> {
    /// The ticket it is about; `None` for a refused sender.
    pub ticket: Option<TicketId>,
    /// `system`, `cli:<user>`, a contact's address...
    pub actor: &'a str,
    /// What happened.
    pub kind: EventKind,
    /// Details, as JSON (never bodies).
    pub data: &'a serde_json::Value,
    /// When it happened.
    pub now: DateTime<Utc>,
}

/// An entry of the offer's append-only event log: who changed what, when.
#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct EventRow {
    /// Row id inside the offer, in order of appending.
    pub id: EventId,
    /// The ticket it is about; `None` for a refused sender.
    pub ticket_id: Option<TicketId>,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it: `system`, `cli:<user>`, `mail:<address>`...
    pub actor: String,
    /// What happened.
    pub kind: EventKind,
    /// Details, as JSON.
    pub data: Json<serde_json::Value>,
}
