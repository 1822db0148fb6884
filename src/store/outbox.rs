//! The outbox: outgoing mail queued with the change that caused it, claimed by workers
//! under a lease, marked sent or failed.
//!
//! SQL only, like the rest of the store: the decisions are the caller's.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::sql::outbox_columns;
use super::{IdTable, NewOutbox, OutboxRow, Result, Tx};
use crate::domain::{OutboxId, OutboxState, TicketId};

/// Both databases accept these as written.
///
/// The notification with this coalescing key that nobody has tried to send yet (not claimed,
/// no attempt): the one a new notification may be merged into.
const SELECT_MERGEABLE: &str = concat!(
    "SELECT ",
    outbox_columns!(),
    " FROM outbox WHERE tenant_id = $1 AND coalesce_key = $2 AND status = 'pending'
       AND attempts = 0 AND claimed_until IS NULL
     ORDER BY id DESC LIMIT 1"
);
/// Rewrites a row found by [`SELECT_MERGEABLE`], on the same conditions: a worker that
/// claimed it meanwhile wins, and the caller queues a new row instead.
const MERGE_OUTBOX: &str = "UPDATE outbox SET template = $3, context = $4
     WHERE tenant_id = $1 AND id = $2 AND status = 'pending' AND attempts = 0
       AND claimed_until IS NULL";
const INSERT_DELIVERY: &str =
    "INSERT INTO mail_deliveries (tenant_id, address, ticket_id, outbox_id, queued_at)
     VALUES ($1, $2, $3, $4, $5)";
const COUNT_DELIVERIES_TO: &str = "SELECT COUNT(*) FROM mail_deliveries
     WHERE tenant_id = $1 AND address = $2 AND queued_at > $3";
const COUNT_DELIVERIES_ABOUT: &str = "SELECT COUNT(*) FROM mail_deliveries
     WHERE tenant_id = $1 AND ticket_id = $2 AND queued_at > $3";

impl Tx {
    /// Queues an outgoing message, `pending` and due at `o.due_at`; returns its id. Call it in the
    /// transaction of the change that causes it, so both commit together.
    pub async fn enqueue_outbox(&mut self, o: &NewOutbox<'_>) -> Result<OutboxId> {
        let id = self.next_id(IdTable::Outbox).await?;
        let t = self.tenant.as_str();
        exec!(self, "enqueue_outbox", |c| {
            sqlx::query(sql::INSERT_OUTBOX)
                .bind(t)
                .bind(id)
                .bind(o.ticket.map(|x| x.0))
                .bind(o.template)
                .bind(o.locale)
                .bind(Json(o.context))
                .bind(o.from_address)
                .bind(o.recipients)
                .bind(o.message_id)
                .bind(o.in_reply_to)
                .bind(o.references)
                .bind(o.auto_submitted)
                .bind(o.now)
                .bind(o.due_at)
                .bind(o.coalesce_key)
                .execute(c)
                .await?
        });
        Ok(OutboxId(id))
    }

    /// Claims up to `limit` due messages for `lease`, in the name of `instance` (other workers
    /// skip them meanwhile; [`Tx::release_claims_of`] gives them back after a crash). Commit
    /// right after, send, then record the outcome in a new transaction.
    pub async fn claim_outbox(
        &mut self,
        instance: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> Result<Vec<OutboxRow>> {
        let t = self.tenant.as_str();
        let until = now + lease;
        Ok(on!(self, "claim_outbox", |c| {
            sqlx::query_as(sql::CLAIM_OUTBOX)
                .bind(t)
                .bind(now)
                .bind(until)
                .bind(limit)
                .bind(instance)
                .fetch_all(c)
                .await?
        }))
    }

    /// Releases the claims `instance` still holds (it restarted: whatever it was sending was
    /// cut short). Returns how many rows are due again. Only for an instance's own id, at its
    /// start: another process of the same instance would lose its claims.
    pub async fn release_claims_of(&mut self, instance: &str) -> Result<u64> {
        let t = self.tenant.as_str();
        Ok(on!(self, "release_claims_of", |c| {
            sqlx::query(sql::RELEASE_CLAIMS_OF)
                .bind(t)
                .bind(instance)
                .execute(c)
                .await?
                .rows_affected()
        }))
    }

    /// Records that the transport accepted the message (`sent_ref` says where it went), and
    /// releases its claim.
    pub async fn outbox_sent(
        &mut self,
        id: OutboxId,
        sent_ref: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "outbox_sent", |c| sqlx::query(
            sql::UPDATE_OUTBOX_SENT
        )
        .bind(t)
        .bind(id)
        .bind(sent_ref)
        .bind(now)
        .execute(c)
        .await?);
        Ok(())
    }

    /// Records a failed attempt: retried at `retry_at`, or given up on when `None`.
    pub async fn outbox_failed(
        &mut self,
        id: OutboxId,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        let status = if retry_at.is_some() {
            OutboxState::Pending
        } else {
            OutboxState::Failed
        };
        exec!(self, "outbox_failed", |c| {
            sqlx::query(sql::UPDATE_OUTBOX_FAILED)
                .bind(t)
                .bind(id)
                .bind(error)
                .bind(status.as_str())
                .bind(retry_at)
                .execute(c)
                .await?
        });
        Ok(())
    }

    /// Makes a row that was not sent due at `now` for one more attempt (an operator's retry,
    /// of a dead letter too). False when the offer has no such row, or it was sent.
    pub async fn retry_outbox(&mut self, id: OutboxId, now: DateTime<Utc>) -> Result<bool> {
        let t = self.tenant.as_str();
        let done = on!(self, "retry_outbox", |c| sqlx::query(sql::RETRY_OUTBOX)
            .bind(t)
            .bind(id)
            .bind(now)
            .execute(c)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Gives up on a pending row (an operator's drop), `reason` kept as its last error. False
    /// when the offer has no such pending row. A daemon sending it at this very moment may
    /// still mark it sent.
    pub async fn drop_outbox(&mut self, id: OutboxId, reason: &str) -> Result<bool> {
        let t = self.tenant.as_str();
        let done = on!(self, "drop_outbox", |c| sqlx::query(sql::DROP_OUTBOX)
            .bind(t)
            .bind(id)
            .bind(reason)
            .execute(c)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// The notification queued under `key` that nobody has tried to send yet, if any: the
    /// one a new notification with the same key may be merged into.
    pub async fn mergeable_outbox(&mut self, key: &str) -> Result<Option<OutboxRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "mergeable_outbox", |c| sqlx::query_as(
            SELECT_MERGEABLE
        )
        .bind(t)
        .bind(key)
        .fetch_optional(c)
        .await?))
    }

    /// Replaces the template and context of a row found by [`Tx::mergeable_outbox`]. False
    /// when a worker claimed it in between: it is being sent as it was.
    pub async fn merge_outbox(
        &mut self,
        id: OutboxId,
        template: &str,
        context: &serde_json::Value,
    ) -> Result<bool> {
        let t = self.tenant.as_str();
        let done = on!(self, "merge_outbox", |c| sqlx::query(MERGE_OUTBOX)
            .bind(t)
            .bind(id)
            .bind(template)
            .bind(Json(context))
            .execute(c)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Records one mail queued for `address` (lower-cased) by row `outbox`: what the rate
    /// limits count.
    pub async fn record_delivery(
        &mut self,
        address: &str,
        ticket: Option<TicketId>,
        outbox: OutboxId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "record_delivery", |c| {
            sqlx::query(INSERT_DELIVERY)
                .bind(t)
                .bind(address)
                .bind(ticket.map(|x| x.0))
                .bind(outbox)
                .bind(now)
                .execute(c)
                .await?
        });
        Ok(())
    }

    /// Mails queued for `address` (lower-cased) after `since`.
    pub async fn deliveries_to(&mut self, address: &str, since: DateTime<Utc>) -> Result<u64> {
        let t = self.tenant.as_str();
        let n: i64 = on!(self, "deliveries_to", |c| {
            sqlx::query_scalar(COUNT_DELIVERIES_TO)
                .bind(t)
                .bind(address)
                .bind(since)
                .fetch_one(c)
                .await?
        });
        Ok(u64::try_from(n).unwrap_or_default())
    }

    /// Mails (one per recipient) queued about `ticket` after `since`.
    pub async fn deliveries_about(
        &mut self,
        ticket: TicketId,
        since: DateTime<Utc>,
    ) -> Result<u64> {
        let t = self.tenant.as_str();
        let n: i64 = on!(self, "deliveries_about", |c| {
            sqlx::query_scalar(COUNT_DELIVERIES_ABOUT)
                .bind(t)
                .bind(ticket.0)
                .bind(since)
                .fetch_one(c)
                .await?
        });
        Ok(u64::try_from(n).unwrap_or_default())
    }

    /// The outgoing message we sent under `message_id` in this offer, if any: whom a reply
    /// to it may come from.
    pub async fn outbox_by_message_id(&mut self, message_id: &str) -> Result<Option<OutboxRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "outbox_by_message_id", |c| sqlx::query_as(
            sql::SELECT_OUTBOX_BY_MESSAGE_ID
        )
        .bind(t)
        .bind(message_id)
        .fetch_optional(c)
        .await?))
    }

    /// The offer's outgoing messages (only `ticket`'s when given), in queueing order.
    pub async fn list_outbox(&mut self, ticket: Option<TicketId>) -> Result<Vec<OutboxRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "list_outbox", |c| sqlx::query_as(
            sql::LIST_OUTBOX
        )
        .bind(t)
        .bind(ticket.map(|x| x.0))
        .fetch_all(c)
        .await?))
    }
}
