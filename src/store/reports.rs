//! What `guichet report` reads: the tickets that can count in a period, their status changes
//! before its end, and (once the SLA tables exist) the period's SLA figures.
//!
//! SQL only, like the rest of the store: which ticket counts where is `domain::report`'s
//! decision. The statements are the same on both databases (`$n` placeholders, no vendor
//! function; time columns compare as instants on PostgreSQL and as uniformly written
//! RFC 3339 text on SQLite, as the outbox's `next_attempt_at <= $2` does), so they live here
//! rather than in each backend's module.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use sqlx::types::Json;

use super::{Result, Tx};
use crate::domain::report::SlaFigures;
use crate::domain::{EventKind, Priority, TicketId, TicketKind};

/// A ticket as the report reads it: [`crate::domain::report::TicketFacts`]' columns, the
/// institution by name.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ReportTicketRow {
    /// Row id inside the offer.
    pub id: TicketId,
    /// Its kind now.
    pub kind: TicketKind,
    /// Its priority now.
    pub priority: Priority,
    /// The requester's institution's display name, if it had one.
    pub institution: Option<String>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// First reply to the contacts.
    pub first_response_at: Option<DateTime<Utc>>,
    /// Latest resolution.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Latest closing.
    pub closed_at: Option<DateTime<Utc>>,
}

/// A `status_changed` or `reopened` event: its data's `to` is the status the ticket went to.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct StatusEventRow {
    /// The ticket.
    pub ticket_id: TicketId,
    /// When.
    pub at: DateTime<Utc>,
    /// `status_changed` or `reopened`.
    pub kind: EventKind,
    /// The event's details (`{"from": ..., "to": ...}`).
    pub data: Json<serde_json::Value>,
}

/// Tickets opened before the end (`$3`) that can count in the period starting at `$2`: all
/// but those closed for good before it, unless first answered in it (an answer after the
/// closing is rare, and still a first response of the period).
const REPORT_TICKETS: &str = "SELECT t.id, t.kind, t.priority, i.name AS institution,
         t.created_at, t.first_response_at, t.resolved_at, t.closed_at
     FROM tickets t
     LEFT JOIN institutions i ON i.tenant_id = t.tenant_id AND i.id = t.institution_id
     WHERE t.tenant_id = $1 AND t.created_at < $3
         AND (t.closed_at IS NULL OR t.closed_at >= $2 OR t.first_response_at >= $2)
     ORDER BY t.id";

/// Status changes before the end (`$2`) of the tickets whose status there the columns cannot
/// tell: opened before it and not finished (closed, else resolved) before it. In the log's
/// order.
const STATUS_EVENTS_BEFORE: &str = "SELECT e.ticket_id, e.at, e.kind, e.data
     FROM events e
     JOIN tickets t ON t.tenant_id = e.tenant_id AND t.id = e.ticket_id
     WHERE e.tenant_id = $1 AND e.kind IN ('status_changed', 'reopened') AND e.at < $2
         AND t.created_at < $2
         AND (COALESCE(t.closed_at, t.resolved_at) IS NULL OR COALESCE(t.closed_at, t.resolved_at) >= $2)
     ORDER BY e.id";

impl Tx {
    /// The offer's tickets that can count in the period `[from, to)`, by id.
    pub async fn report_tickets(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ReportTicketRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "report_tickets", |c| sqlx::query_as(
            REPORT_TICKETS
        )
        .bind(t)
        .bind(from)
        .bind(to)
        .fetch_all(c)
        .await?))
    }

    /// The status changes before `end` of the tickets whose status at `end` only the event
    /// log knows (see `STATUS_EVENTS_BEFORE`), in order of appending.
    pub async fn status_events_before(
        &mut self,
        end: DateTime<Utc>,
    ) -> Result<Vec<StatusEventRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "status_events_before", |c| sqlx::query_as(
            STATUS_EVENTS_BEFORE
        )
        .bind(t)
        .bind(end)
        .fetch_all(c)
        .await?))
    }

    /// SLA compliance per target and breaches by level over `[from, to)`: filled by the SLA
    /// tables (issue 9 items 3-4). Until they exist there is nothing to read, and the report
    /// shows empty SLA sections rather than invented figures.
    pub async fn report_sla(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<SlaFigures> {
        let _ = (from, to);
        Ok(SlaFigures::default())
    }
}
