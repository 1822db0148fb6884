//! Quarantine: messages that could not be taken in, kept with their reason, and their replays.
//!
//! SQL only, like the rest of the store: the decisions are the caller's.

use chrono::{DateTime, Utc};

use super::{IdTable, QuarantineRow, ReplayRow, Result, Tx, sha256_hex};
use crate::domain::{Channel, QuarantineId};

impl Tx {
    /// Quarantines a message with its reason; returns its number. The same bytes are quarantined
    /// once: a second time only updates the reason and returns the first number.
    pub async fn insert_quarantine(
        &mut self,
        channel: Channel,
        reason: &str,
        data: &[u8],
        now: DateTime<Utc>,
    ) -> Result<QuarantineId> {
        self.insert_quarantine_header(channel, reason, data, None, now)
            .await
    }

    /// [`Tx::insert_quarantine`] for a message of which only `header` is kept: `whole_size` is
    /// the size of the message. `None` means `header` is the whole message.
    pub async fn insert_quarantine_header(
        &mut self,
        channel: Channel,
        reason: &str,
        header: &[u8],
        whole_size: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<QuarantineId> {
        let data = header;
        let id = self.next_id(IdTable::Quarantine).await?;
        let t = self.tenant.as_str();
        let sha = sha256_hex(data);
        let header_only = whole_size.is_some();
        let size = whole_size.map_or(data.len() as i64, |s| i64::try_from(s).unwrap_or(i64::MAX));
        let id: QuarantineId = on!(self, "insert_quarantine", |c| {
            sqlx::query_scalar(sql::INSERT_QUARANTINE)
                .bind(t)
                .bind(id)
                .bind(channel.as_str())
                .bind(reason)
                .bind(&sha)
                .bind(size)
                .bind(data)
                .bind(now)
                .bind(header_only)
                .fetch_one(c)
                .await?
        });
        Ok(id)
    }

    /// The offer's quarantined messages, each with its replays.
    pub async fn list_quarantine(&mut self) -> Result<Vec<QuarantineRow>> {
        let t = self.tenant.as_str();
        let mut rows: Vec<QuarantineRow> = on!(self, "list_quarantine", |c| sqlx::query_as(
            sql::LIST_QUARANTINE
        )
        .bind(t)
        .fetch_all(c)
        .await?);
        let t = self.tenant.as_str();
        let replays: Vec<ReplayRow> = on!(self, "list_quarantine", |c| sqlx::query_as(
            sql::LIST_QUARANTINE_REPLAYS
        )
        .bind(t)
        .fetch_all(c)
        .await?);
        for replay in replays {
            if let Some(row) = rows.iter_mut().find(|r| r.id == replay.quarantine_id) {
                row.replays.push(replay);
            }
        }
        Ok(rows)
    }

    /// The raw bytes of a quarantined message, for a replay; `None` if the number is unknown.
    pub async fn quarantine_data(&mut self, id: QuarantineId) -> Result<Option<Vec<u8>>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "quarantine_data", |c| sqlx::query_scalar(
            sql::SELECT_QUARANTINE_DATA
        )
        .bind(t)
        .bind(id)
        .fetch_optional(c)
        .await?))
    }

    /// Whether only the header of a quarantined message was kept; `None` if the number is
    /// unknown.
    pub async fn quarantine_header_only(&mut self, id: QuarantineId) -> Result<Option<bool>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "quarantine_header_only", |c| sqlx::query_scalar(
            sql::SELECT_QUARANTINE_HEADER_ONLY
        )
        .bind(t)
        .bind(id)
        .fetch_optional(c)
        .await?))
    }

    /// Records a replay's outcome: appended to the entry's replays, and its latest.
    pub async fn mark_quarantine_replayed(
        &mut self,
        id: QuarantineId,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "mark_quarantine_replayed", |c| {
            sqlx::query(sql::INSERT_QUARANTINE_REPLAY)
                .bind(t)
                .bind(id)
                .bind(outcome)
                .bind(now)
                .execute(&mut *c)
                .await?;
            sqlx::query(sql::UPDATE_QUARANTINE_REPLAYED)
                .bind(t)
                .bind(id)
                .bind(outcome)
                .bind(now)
                .execute(&mut *c)
                .await?
        });
        Ok(())
    }
}
