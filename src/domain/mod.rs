//! The pure core of guichet: identifiers, the ticket model, inbound messages as values,
//! and every decision taken on them (routing, dedupe, loop guard, threading, subjects).
//!
//! Nothing in here performs IO, reads the clock or knows about tokio or sqlx: callers pass
//! values and `now`, and get decisions back. That is what lets the rules be tested by the
//! hundred in milliseconds, and what keeps the store and the adapters free of rules.

#![warn(missing_docs)]

pub mod attachment;
pub mod audience;
pub mod bounce;
pub mod calendar;
pub mod dedupe;
pub mod ids;
pub mod language;
pub mod loop_guard;
pub mod message;
pub mod recipients;
pub mod reply;
pub mod report;
pub mod routing;
pub mod schedule;
pub mod sla;
pub mod subject;
pub mod threading;
pub mod throttle;
pub mod ticket;
pub mod token;
pub mod vocab;

pub use ids::{
    ArticleId, ContactId, EventId, InstitutionId, MessageId, OutboxId, QuarantineId, TenantId,
    TicketId, TicketRef,
};
pub use message::{Attachment, AutoHeaders, InboundEmail, Mailbox};
pub use ticket::{FinishTimes, Priority, Status, TicketKind, TransitionError, finish_times};
pub use vocab::{
    Channel, ContactOrigin, Direction, EventKind, LinkRelation, OutboxState, ParticipantRole,
    ReceiptOutcome,
};
