//! The event log: an append-only journal per ticket.
//!
//! SQL only, like the rest of the store: the decisions are the caller's.

use sqlx::types::Json;

use super::{EventRow, IdTable, NewEvent, Result, Tx};
use crate::domain::{EventId, TicketId};

impl Tx {
    /// Appends an entry to the event log; returns its id. Entries are never updated or deleted.
    pub async fn insert_event(&mut self, e: &NewEvent<'_>) -> Result<EventId> {
        let id = self.next_id(IdTable::Events).await?;
        let t = self.tenant.as_str();
        defer!(
            self,
            "insert_event",
            sql::INSERT_EVENT,
            [
                t,
                id,
                e.ticket.map(|x| x.0),
                e.now,
                e.actor,
                e.kind.as_str(),
                Json(e.data),
            ]
        );
        Ok(EventId(id))
    }

    /// The ticket's event log, in order of appending.
    pub async fn events(&mut self, ticket: TicketId) -> Result<Vec<EventRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "events", |c| sqlx::query_as(sql::SELECT_EVENTS)
            .bind(t)
            .bind(ticket.0)
            .fetch_all(c)
            .await?))
    }
}
