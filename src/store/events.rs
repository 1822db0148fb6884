//! The event log: an append-only journal per ticket.
//!
//! SQL only, like the rest of the store: the decisions are the caller's.

use sqlx::types::Json;

use super::{EventRow, IdTable, NewEvent, Result, Tx};
use crate::domain::{EventId, TicketId};

impl Tx {
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
