//! Acknowledgements sent, per address: what the per-sender rate limit counts.
//!
//! SQL only, like the rest of the store: the limit is the caller's (`service::acks`).

use chrono::{DateTime, Utc};

use super::{Result, Tx};

/// Both databases accept these as written.
const INSERT_ACK: &str =
    "INSERT INTO acknowledgements (tenant_id, address, sent_at) VALUES ($1, $2, $3)";
const COUNT_ACKS: &str = "SELECT COUNT(*) FROM acknowledgements \
     WHERE tenant_id = $1 AND address = $2 AND sent_at > $3";

impl Tx {
    /// Records an acknowledgement queued for `address` (lower-cased, at most 254 characters).
    pub async fn record_ack(&mut self, address: &str, now: DateTime<Utc>) -> Result<()> {
        let t = self.tenant.as_str();
        defer!(self, "record_ack", INSERT_ACK, [t, address, now]);
        Ok(())
    }

    /// Acknowledgements recorded for `address` after `since`.
    pub async fn acks_since(&mut self, address: &str, since: DateTime<Utc>) -> Result<u64> {
        let t = self.tenant.as_str();
        let n: i64 = fetch!(
            self,
            "acks_since",
            query_scalar_with,
            COUNT_ACKS,
            [t, address, since],
            fetch_one
        );
        Ok(u64::try_from(n).unwrap_or_default())
    }
}
