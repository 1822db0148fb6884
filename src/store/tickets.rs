//! Tickets: creation (numbers per kind), a change of kind (the former refs kept), lookups by
//! ref (current or former) and by Message-ID, status, priority, assignee and times, links
//! between tickets (in this offer and across offers), participants.
//!
//! SQL only, like the rest of the store: the decisions are the caller's.

use chrono::{DateTime, Utc};

use super::{
    IdTable, LinkRow, NewTicket, OfferLinkRow, ParticipantRow, Result, StoreError, TicketRow, Tx,
    TxInner, postgres, sqlite,
};
use crate::domain::{
    ContactId, FinishTimes, LinkRelation, ParticipantRole, Priority, Status, TenantId, TicketId,
    TicketKind, TicketRef,
};

impl Tx {
    /// Creates a ticket with the next number of its kind in this offer.
    pub async fn create_ticket(&mut self, new: &NewTicket<'_>) -> Result<TicketRow> {
        let t = self.tenant.as_str().to_owned();
        let kind = new.kind.as_str();
        let id = self.next_id(IdTable::Tickets).await?;
        defer!(self, "create_ticket", sql::BUMP_TICKET_NUMBER, [&t, kind]);
        Ok(fetch!(
            self,
            "create_ticket",
            query_as_with,
            sql::INSERT_TICKET,
            [
                &t,
                id,
                kind,
                new.title,
                Status::New.as_str(),
                new.priority.as_str(),
                new.requester.map(|r| r.0),
                new.institution_id,
                new.now,
            ],
            fetch_one
        ))
    }

    /// Gives the ticket the next number of `kind` (a reclassification) and keeps the ref it
    /// leaves in `ticket_former_refs`, where [`Tx::ticket_by_ref`] still finds it. Returns the
    /// ticket as it now is. The caller has read it under a lock ([`Tx::ticket_for_update`]) and
    /// decided the change is one.
    pub async fn change_ticket_kind(
        &mut self,
        ticket: &TicketRow,
        kind: TicketKind,
        now: DateTime<Utc>,
    ) -> Result<TicketRow> {
        let t = self.tenant.as_str().to_owned();
        let number: i64 = on!(self, "change_ticket_kind", |c| {
            sqlx::query_scalar(sql::NEXT_TICKET_NUMBER)
                .bind(&t)
                .bind(kind.as_str())
                .fetch_one(c)
                .await?
        });
        exec!(self, "change_ticket_kind", |c| {
            sqlx::query(sql::INSERT_FORMER_REF)
                .bind(&t)
                .bind(ticket.kind.as_str())
                .bind(ticket.number)
                .bind(ticket.id.0)
                .bind(now)
                .execute(c)
                .await?
        });
        exec!(self, "change_ticket_kind", |c| {
            sqlx::query(sql::UPDATE_TICKET_KIND)
                .bind(&t)
                .bind(ticket.id.0)
                .bind(kind.as_str())
                .bind(number)
                .bind(now)
                .execute(c)
                .await?
        });
        let row = self.ticket(ticket.id).await?;
        row.ok_or_else(|| StoreError::query("change_ticket_kind", sqlx::Error::RowNotFound))
    }

    /// The refs the ticket had before its kind changed, oldest first.
    pub async fn former_refs(&mut self, id: TicketId) -> Result<Vec<TicketRef>> {
        let t = self.tenant.as_str();
        let rows: Vec<(TicketKind, i64)> = on!(self, "former_refs", |c| sqlx::query_as(
            sql::SELECT_FORMER_REFS
        )
        .bind(t)
        .bind(id.0)
        .fetch_all(c)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(kind, number)| TicketRef { kind, number })
            .collect())
    }

    /// One ticket of the offer, if it exists.
    pub async fn ticket(&mut self, id: TicketId) -> Result<Option<TicketRow>> {
        let t = self.tenant.as_str();
        Ok(fetch!(
            self,
            "ticket",
            query_as_with,
            sql::SELECT_TICKET,
            [t, id.0],
            fetch_optional
        ))
    }

    /// [`Tx::ticket`] for a change that depends on what is read (a status and its times): on
    /// PostgreSQL the row stays locked until the transaction ends, so a concurrent change
    /// waits and then reads this one's result.
    pub async fn ticket_for_update(&mut self, id: TicketId) -> Result<Option<TicketRow>> {
        let t = self.tenant.as_str();
        Ok(fetch!(
            self,
            "ticket_for_update",
            query_as_with,
            sql::SELECT_TICKET_FOR_UPDATE,
            [t, id.0],
            fetch_optional
        ))
    }

    /// [`Tx::ticket_for_update`] of a ticket this transaction read already, as `known`, and
    /// has not changed since: on SQLite that row as it is (the transaction has held the
    /// database's one write lock since it began, `BEGIN IMMEDIATE`, so nobody else can have
    /// changed it: a round trip spared), on PostgreSQL read again and locked.
    pub async fn ticket_for_update_as_read(
        &mut self,
        id: TicketId,
        known: Option<TicketRow>,
    ) -> Result<Option<TicketRow>> {
        match (&self.inner, known) {
            (TxInner::Sqlite(_), Some(row)) if row.id == id => Ok(Some(row)),
            _ => self.ticket_for_update(id).await,
        }
    }

    /// The offer's ticket with this ref, or that had it before a change of kind, if any.
    pub async fn ticket_by_ref(&mut self, r: TicketRef) -> Result<Option<TicketRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "ticket_by_ref", |c| {
            sqlx::query_as(sql::SELECT_TICKET_BY_REF)
                .bind(t)
                .bind(r.kind.as_str())
                .bind(r.number)
                .fetch_optional(c)
                .await?
        }))
    }

    /// The ticket of the first of `message_ids` (in the given order) that this offer stored,
    /// inbound or outbound. One statement for the whole list, however long: a References
    /// header must not hold the write transaction for one round trip per id.
    pub async fn ticket_by_message_ids(
        &mut self,
        message_ids: &[&str],
    ) -> Result<Option<TicketRow>> {
        if message_ids.is_empty() {
            return Ok(None);
        }
        let t = self.tenant.as_str();
        // The ticket's row in the same statement as its id: one round trip.
        let found = match &mut self.inner {
            TxInner::Sqlite(c) => {
                // SQLite takes the list as a JSON array (json_each), not as many binds; after
                // the writes held back, which it must see (an article of this transaction).
                let ids = serde_json::Value::from(message_ids.to_vec()).to_string();
                let statement = sqlite::SELECT_TICKET_BY_MESSAGE_IDS;
                fetch_held!(
                    self.held,
                    c,
                    query_as_with,
                    statement,
                    [t, ids],
                    fetch_optional
                )
            }
            TxInner::Postgres(c) => {
                sqlx::query_as(postgres::SELECT_TICKET_BY_MESSAGE_IDS)
                    .bind(t)
                    .bind(message_ids)
                    .fetch_optional(&mut **c)
                    .await
            }
        };
        found.map_err(|e| StoreError::query("ticket_by_message_ids", e))
    }

    /// [`Tx::ticket_by_message_ids`] and, for the ticket found, [`Tx::standing`] of
    /// `contact`: on SQLite in one statement (a reply's two reads, one round trip to sqlx's
    /// worker thread: issue 7's drain).
    pub async fn ticket_by_message_ids_with_standing(
        &mut self,
        message_ids: &[&str],
        contact: ContactId,
        role: &str,
    ) -> Result<Option<(TicketRow, (bool, bool))>> {
        let TxInner::Sqlite(c) = &mut self.inner else {
            let Some(row) = self.ticket_by_message_ids(message_ids).await? else {
                return Ok(None);
            };
            let standing = self.standing(row.id, contact, role).await?;
            return Ok(Some((row, standing)));
        };
        if message_ids.is_empty() {
            return Ok(None);
        }
        let t = self.tenant.as_str();
        let ids = serde_json::Value::from(message_ids.to_vec()).to_string();
        let statement = sqlite::SELECT_TICKET_BY_MESSAGE_IDS_WITH_STANDING;
        let found: Option<TicketWithStanding> = fetch_held!(
            self.held,
            c,
            query_as_with,
            statement,
            [t, ids, contact.0, role],
            fetch_optional
        )
        .map_err(|e| StoreError::query("ticket_by_message_ids_with_standing", e))?;
        Ok(found.map(|f| (f.ticket, (f.participant, f.agent))))
    }

    /// The offer's tickets (only those in `status` when given), in creation order.
    pub async fn list_tickets(&mut self, status: Option<Status>) -> Result<Vec<TicketRow>> {
        let t = self.tenant.as_str();
        let status = status.map(Status::as_str);
        Ok(on!(self, "list_tickets", |c| sqlx::query_as(
            sql::LIST_TICKETS
        )
        .bind(t)
        .bind(status)
        .fetch_all(c)
        .await?))
    }

    /// Writes a status and the finish times that go with it (the caller has them from
    /// [`crate::domain::finish_times`]).
    pub async fn set_status(
        &mut self,
        id: TicketId,
        status: Status,
        times: FinishTimes,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        defer!(
            self,
            "set_status",
            sql::UPDATE_TICKET_STATUS,
            [
                t,
                id.0,
                status.as_str(),
                now,
                times.resolved_at,
                times.closed_at,
            ]
        );
        Ok(())
    }

    /// Writes a new priority and stamps `updated_at`.
    pub async fn set_priority(
        &mut self,
        id: TicketId,
        priority: Priority,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "set_priority", |c| {
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

    /// Writes the assignee (`None` unassigns) and stamps `updated_at`.
    pub async fn set_assignee(
        &mut self,
        id: TicketId,
        assignee: Option<ContactId>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "set_assignee", |c| {
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
        exec!(self, "mark_first_response", |c| sqlx::query(
            sql::UPDATE_TICKET_FIRST_RESPONSE
        )
        .bind(t)
        .bind(id.0)
        .bind(now)
        .execute(c)
        .await?);
        Ok(())
    }

    /// Stamps `updated_at` (a new article, with no other change to the row).
    pub async fn touch_ticket(&mut self, id: TicketId, now: DateTime<Utc>) -> Result<()> {
        let t = self.tenant.as_str();
        defer!(self, "touch_ticket", sql::TOUCH_TICKET, [t, id.0, now]);
        Ok(())
    }

    /// Records one side of a link between two tickets of this offer (the caller writes the other
    /// side). A second link between the same tickets is a no-op.
    pub async fn link_tickets(
        &mut self,
        ticket: TicketId,
        other: TicketId,
        relation: LinkRelation,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        defer!(
            self,
            "link_tickets",
            sql::INSERT_TICKET_LINK,
            [t, ticket.0, other.0, relation.as_str(), now]
        );
        Ok(())
    }

    /// The ticket's links inside the offer, by other ticket id.
    pub async fn ticket_links(&mut self, ticket: TicketId) -> Result<Vec<LinkRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "ticket_links", |c| sqlx::query_as(
            sql::SELECT_TICKET_LINKS
        )
        .bind(t)
        .bind(ticket.0)
        .fetch_all(c)
        .await?))
    }

    /// Links `ticket` to the ticket `other_ref` of the offer `other` (one mail sent to both
    /// offers). Each offer records its own side. A second identical call is a no-op.
    pub async fn link_other_offer(
        &mut self,
        ticket: TicketId,
        other: &TenantId,
        other_ref: TicketRef,
        relation: LinkRelation,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        let other_ref = other_ref.to_string();
        exec!(self, "link_other_offer", |c| {
            sqlx::query(sql::INSERT_OFFER_LINK)
                .bind(t)
                .bind(ticket.0)
                .bind(other.as_str())
                .bind(&other_ref)
                .bind(relation.as_str())
                .bind(now)
                .execute(c)
                .await?
        });
        Ok(())
    }

    /// The ticket's links to tickets of other offers, by offer and ref.
    pub async fn other_offer_links(&mut self, ticket: TicketId) -> Result<Vec<OfferLinkRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "other_offer_links", |c| sqlx::query_as(
            sql::SELECT_OFFER_LINKS
        )
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
        role: ParticipantRole,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        defer!(
            self,
            "add_participant",
            sql::INSERT_PARTICIPANT,
            [t, ticket.0, contact.0, role.as_str()]
        );
        Ok(())
    }

    /// Whether `contact` is a participant of `ticket`, and whether it has `role` on the offer
    /// (an agent's): in one round trip what [`Tx::participants`] and [`Tx::contact_roles`]
    /// would tell.
    pub async fn standing(
        &mut self,
        ticket: TicketId,
        contact: ContactId,
        role: &str,
    ) -> Result<(bool, bool)> {
        let t = self.tenant.as_str();
        Ok(fetch!(
            self,
            "standing",
            query_as_with,
            sql::SELECT_STANDING,
            [t, ticket.0, contact.0, role],
            fetch_one
        ))
    }

    /// The ticket's participants, by contact id, with each one's name and first address.
    pub async fn participants(&mut self, ticket: TicketId) -> Result<Vec<ParticipantRow>> {
        let t = self.tenant.as_str();
        Ok(fetch!(
            self,
            "participants",
            query_as_with,
            sql::SELECT_PARTICIPANTS,
            [t, ticket.0],
            fetch_all
        ))
    }
}

/// A ticket with a sender's standing in it ([`Tx::ticket_by_message_ids_with_standing`]).
#[derive(sqlx::FromRow)]
struct TicketWithStanding {
    #[sqlx(flatten)]
    ticket: TicketRow,
    participant: bool,
    agent: bool,
}
