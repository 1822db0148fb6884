//! Inbound receipts: the dedupe keys of the messages taken in.
//!
//! SQL only, like the rest of the store: the decisions are the caller's.

use super::{ReceiptRow, Result, Tx};

impl Tx {
    /// The receipt of a dedupe key, if a message with that key was already taken in.
    pub async fn receipt(&mut self, key: &str) -> Result<Option<ReceiptRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "receipt", |c| sqlx::query_as(
            sql::SELECT_RECEIPT
        )
        .bind(t)
        .bind(key)
        .fetch_optional(c)
        .await?))
    }

    /// Records a dedupe key. Returns false when the key was already there (someone else took
    /// the same message in meanwhile): the caller rolls back.
    pub async fn insert_receipt(&mut self, r: &ReceiptRow) -> Result<bool> {
        let t = self.tenant.as_str();
        let done = on!(self, "insert_receipt", |c| {
            sqlx::query(sql::INSERT_RECEIPT)
                .bind(t)
                .bind(&r.dedupe_key)
                .bind(r.channel.as_str())
                .bind(r.outcome.as_str())
                .bind(&r.content_sha256)
                .bind(r.ticket_id)
                .bind(r.article_id)
                .bind(r.received_at)
                .execute(c)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }
}
