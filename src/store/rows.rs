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

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct OfferRow {
    pub name: String,
    pub provider: String,
    pub locale: String,
    pub support_address: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct InstitutionRow {
    pub id: InstitutionId,
    pub key: String,
    pub name: String,
    /// Space-separated lower-case domains.
    pub domains: String,
}

impl InstitutionRow {
    pub fn domain_list(&self) -> Vec<String> {
        self.domains.split_whitespace().map(str::to_owned).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ContactRow {
    pub id: i64,
    pub name: Option<String>,
    pub institution_id: Option<InstitutionId>,
    pub origin: ContactOrigin,
    pub created_at: DateTime<Utc>,
}

impl ContactRow {
    pub fn contact_id(&self) -> ContactId {
        ContactId(self.id)
    }
}

pub struct NewContact<'a> {
    pub name: Option<&'a str>,
    pub institution_id: Option<InstitutionId>,
    pub origin: ContactOrigin,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct TicketRow {
    pub id: i64,
    pub kind: TicketKind,
    pub number: i64,
    pub title: String,
    pub status: Status,
    pub priority: Priority,
    pub requester_id: Option<ContactId>,
    pub institution_id: Option<InstitutionId>,
    pub assignee_id: Option<ContactId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl TicketRow {
    pub fn ticket_id(&self) -> TicketId {
        TicketId(self.id)
    }

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

pub struct NewTicket<'a> {
    pub kind: TicketKind,
    pub title: &'a str,
    pub priority: Priority,
    pub requester: Option<ContactId>,
    pub institution_id: Option<InstitutionId>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct LinkRow {
    pub other_id: TicketId,
    pub relation: LinkRelation,
    pub created_at: DateTime<Utc>,
}

/// A link from a ticket to a ticket of another offer, as this offer recorded it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct OfferLinkRow {
    /// The other offer's code.
    pub other_tenant: String,
    /// The other ticket's ref in its offer (`I-000042`).
    pub other_ref: String,
    pub relation: LinkRelation,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct ParticipantRow {
    pub contact_id: ContactId,
    pub role: ParticipantRole,
    pub name: Option<String>,
    /// The contact's first email address, if any.
    pub email: Option<String>,
}

pub struct NewArticle<'a> {
    pub ticket: TicketId,
    pub channel: Channel,
    pub direction: Direction,
    pub author: Option<ContactId>,
    pub author_label: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub in_reply_to: Option<&'a str>,
    /// Space-separated, oldest first.
    pub references: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub body_text: &'a str,
    pub body_html: Option<&'a str>,
    pub raw_sha256: Option<&'a str>,
    pub auto_reason: Option<&'a str>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct ArticleRow {
    pub id: ArticleId,
    pub ticket_id: TicketId,
    pub channel: Channel,
    pub direction: Direction,
    pub author_contact_id: Option<i64>,
    pub author_label: Option<String>,
    pub author_name: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references_ids: Option<String>,
    pub subject: Option<String>,
    pub body_text: String,
    pub body_html: Option<String>,
    pub raw_sha256: Option<String>,
    pub auto_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct AttachmentRow {
    pub article_id: ArticleId,
    pub position: i64,
    pub filename: Option<String>,
    pub content_type: String,
    pub sha256: String,
    pub size: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ReceiptRow {
    pub dedupe_key: String,
    pub channel: Channel,
    pub outcome: ReceiptOutcome,
    /// Digest of the message's content, to tell a re-delivery from a reused Message-ID.
    pub content_sha256: String,
    pub ticket_id: Option<TicketId>,
    pub article_id: Option<ArticleId>,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct QuarantineRow {
    pub id: QuarantineId,
    pub channel: Channel,
    pub reason: String,
    pub size: i64,
    pub received_at: DateTime<Utc>,
    /// The latest replay's time and outcome ([`QuarantineRow::replays`] has them all).
    pub replayed_at: Option<DateTime<Utc>>,
    pub replay_outcome: Option<String>,
    /// Every replay, oldest first.
    #[sqlx(skip)]
    pub replays: Vec<ReplayRow>,
}

/// One replay of a quarantined message.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct ReplayRow {
    #[serde(skip)]
    pub quarantine_id: QuarantineId,
    /// 1 for the first replay, then 2...
    pub seq: i64,
    pub replayed_at: DateTime<Utc>,
    pub outcome: String,
}

pub struct NewOutbox<'a> {
    pub ticket: Option<TicketId>,
    pub template: &'a str,
    pub locale: &'a str,
    pub context: &'a serde_json::Value,
    pub from_address: &'a str,
    /// JSON array of `{"name": …, "address": …}`.
    pub recipients: &'a str,
    pub message_id: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub references: Option<&'a str>,
    pub auto_submitted: Option<&'a str>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct OutboxRow {
    pub id: OutboxId,
    pub ticket_id: Option<TicketId>,
    pub template: String,
    pub locale: String,
    pub context: Json<serde_json::Value>,
    pub from_address: String,
    pub recipients: String,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references_ids: Option<String>,
    pub auto_submitted: Option<String>,
    pub status: OutboxState,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub sent_ref: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub struct NewEvent<'a> {
    pub ticket: Option<TicketId>,
    /// `system`, `cli:<user>`, a contact's address...
    pub actor: &'a str,
    pub kind: EventKind,
    pub data: &'a serde_json::Value,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct EventRow {
    pub id: EventId,
    pub ticket_id: Option<TicketId>,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub kind: EventKind,
    pub data: Json<serde_json::Value>,
}
