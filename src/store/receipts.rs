//! Inbound receipts: the dedupe keys of the messages taken in.
//!
//! SQL only, like the rest of the store: the decisions are the caller's.

use super::{ReceiptRow, Result, Tx};

impl Tx {
    /// The receipt of a dedupe key, if a message with that key was already taken in.
    pub async fn receipt(&mut self, key: &str) -> Result<Option<ReceiptRow>> {
        let t = self.tenant.as_str();
        Ok(fetch!(
            self,
            "receipt",
            query_as_with,
            sql::SELECT_RECEIPT,
            [t, key],
            fetch_optional
        ))
    }

    /// Records a dedupe key. Returns false when the key was already there (someone else took
    /// the same message in meanwhile): the caller rolls back.
    pub async fn insert_receipt(&mut self, r: &ReceiptRow) -> Result<bool> {
        let t = self.tenant.as_str();
        let done: Option<i32> = fetch!(
            self,
            "insert_receipt",
            query_scalar_with,
            sql::INSERT_RECEIPT,
            [
                t,
                &r.dedupe_key,
                r.channel.as_str(),
                r.outcome.as_str(),
                &r.content_sha256,
                r.ticket_id,
                r.article_id,
                r.received_at,
            ],
            fetch_optional
        );
        Ok(done.is_some())
    }
}
