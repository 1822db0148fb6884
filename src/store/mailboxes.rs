//! IMAP mailboxes: where each one stands (UIDVALIDITY, last stored UID, last acknowledged UID)
//! and what came through it (counters for metrics).
//!
//! SQL only, like the rest of the store: whether a UIDVALIDITY change starts a mailbox over,
//! and which counter a message adds to, are the caller's decisions.

use chrono::{DateTime, Utc};

use super::{Result, Tx};

/// Where a mailbox stands, as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MailboxStateRow {
    /// The mailbox's name in the configuration.
    pub mailbox: String,
    /// The UIDVALIDITY the UIDs below belong to.
    pub uidvalidity: i64,
    /// The highest UID whose message is stored (0: none yet).
    pub last_uid: i64,
    /// The highest UID acknowledged to the server (flagged or moved).
    pub acked_uid: i64,
    /// Messages stored: a new ticket, a reply, a refused sender.
    pub ingested: i64,
    /// Messages taken in before, through this mailbox or another way.
    pub duplicates: i64,
    /// Messages quarantined.
    pub quarantined: i64,
    /// Machine-written messages, stored and never answered.
    pub loop_suppressed: i64,
    /// `idle` or `polling` at the last sync.
    pub mode: Option<String>,
    /// When the mailbox was last drained.
    pub last_sync_at: Option<DateTime<Utc>>,
}

/// Which counter of [`MailboxStateRow`] a message adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxTally {
    /// [`MailboxStateRow::ingested`].
    Ingested,
    /// [`MailboxStateRow::duplicates`].
    Duplicate,
    /// [`MailboxStateRow::quarantined`].
    Quarantined,
    /// [`MailboxStateRow::loop_suppressed`].
    LoopSuppressed,
}

impl MailboxTally {
    /// The increments of the four counters, in column order.
    pub(super) fn increments(self) -> [i64; 4] {
        match self {
            MailboxTally::Ingested => [1, 0, 0, 0],
            MailboxTally::Duplicate => [0, 1, 0, 0],
            MailboxTally::Quarantined => [0, 0, 1, 0],
            MailboxTally::LoopSuppressed => [0, 0, 0, 1],
        }
    }
}

/// Messages by the counter of [`MailboxStateRow`] each adds to: the [`MailboxTally`]s of a
/// batch summed, so that the batch records them with its last UID in one statement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailboxCounts([i64; 4]);

impl MailboxCounts {
    /// One more message, counted under `tally`.
    pub fn add(&mut self, tally: MailboxTally) {
        for (count, more) in self.0.iter_mut().zip(tally.increments()) {
            *count += more;
        }
    }
}

impl From<MailboxTally> for MailboxCounts {
    fn from(tally: MailboxTally) -> Self {
        MailboxCounts(tally.increments())
    }
}

impl Tx {
    /// The mailbox's state, `None` before its first connection.
    pub async fn mailbox_state(&mut self, mailbox: &str) -> Result<Option<MailboxStateRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "mailbox_state", |c| sqlx::query_as(
            sql::SELECT_MAILBOX_STATE
        )
        .bind(t)
        .bind(mailbox)
        .fetch_optional(c)
        .await?))
    }

    /// Starts the mailbox (over) at `uidvalidity` with nothing stored nor acknowledged; the
    /// counters are kept.
    pub async fn start_mailbox(
        &mut self,
        mailbox: &str,
        uidvalidity: u32,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "start_mailbox", |c| sqlx::query(sql::START_MAILBOX)
            .bind(t)
            .bind(mailbox)
            .bind(i64::from(uidvalidity))
            .bind(now)
            .execute(c)
            .await?);
        Ok(())
    }

    /// Records that the messages up to `uid` are dealt with, in the transaction that stores
    /// them, and counts them (one message's [`MailboxTally`], or a batch's [`MailboxCounts`]).
    /// The last UID never goes back. Returns false when the mailbox is not at `uidvalidity`
    /// (it was started over meanwhile): the caller rolls back.
    pub async fn advance_mailbox(
        &mut self,
        mailbox: &str,
        (uidvalidity, uid): (u32, u32),
        counts: impl Into<MailboxCounts>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let t = self.tenant.as_str();
        let MailboxCounts([ingested, duplicates, quarantined, loop_suppressed]) = counts.into();
        let done: Option<i32> = fetch!(
            self,
            "advance_mailbox",
            query_scalar_with,
            sql::ADVANCE_MAILBOX,
            [
                t,
                mailbox,
                i64::from(uidvalidity),
                i64::from(uid),
                ingested,
                duplicates,
                quarantined,
                loop_suppressed,
                now,
            ],
            fetch_optional
        );
        Ok(done.is_some())
    }

    /// Records that every message up to `uid` is acknowledged to the server.
    pub async fn ack_mailbox(
        &mut self,
        mailbox: &str,
        (uidvalidity, uid): (u32, u32),
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "ack_mailbox", |c| sqlx::query(sql::ACK_MAILBOX)
            .bind(t)
            .bind(mailbox)
            .bind(i64::from(uidvalidity))
            .bind(i64::from(uid))
            .bind(now)
            .execute(c)
            .await?);
        Ok(())
    }

    /// Records a drained mailbox: when, and whether it waits with IDLE or polls.
    pub async fn mark_mailbox_synced(
        &mut self,
        mailbox: &str,
        mode: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "mark_mailbox_synced", |c| sqlx::query(
            sql::MARK_MAILBOX_SYNCED
        )
        .bind(t)
        .bind(mailbox)
        .bind(mode)
        .bind(now)
        .execute(c)
        .await?);
        Ok(())
    }

    /// Takes or renews the lease of `mailbox` for `holder` until `until`; `Err` carries who
    /// holds it instead (see `mailbox_leases`, migration 0008).
    pub async fn claim_mailbox(
        &mut self,
        mailbox: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<std::result::Result<(), String>> {
        let t = self.tenant.as_str().to_owned();
        let granted: Option<String> = on!(self, "claim_mailbox", |c| sqlx::query_scalar(
            sql::CLAIM_MAILBOX
        )
        .bind(&t)
        .bind(mailbox)
        .bind(holder)
        .bind(now)
        .bind(until)
        .fetch_optional(c)
        .await?);
        if granted.is_some() {
            return Ok(Ok(()));
        }
        let other: Option<String> = on!(self, "claim_mailbox", |c| sqlx::query_scalar(
            sql::SELECT_MAILBOX_HOLDER
        )
        .bind(&t)
        .bind(mailbox)
        .fetch_optional(c)
        .await?);
        Ok(Err(other.unwrap_or_default()))
    }

    /// Gives the lease of `mailbox` back, if `holder` has it.
    pub async fn release_mailbox(&mut self, mailbox: &str, holder: &str) -> Result<()> {
        let t = self.tenant.as_str().to_owned();
        exec!(self, "release_mailbox", |c| sqlx::query(
            sql::RELEASE_MAILBOX
        )
        .bind(&t)
        .bind(mailbox)
        .bind(holder)
        .execute(c)
        .await?);
        Ok(())
    }
}
