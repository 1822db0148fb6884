//! Addresses that bounce: the latest bounce reported for each address of an offer, and until
//! when no mail goes to it.
//!
//! SQL only, like the rest of the store: which bounce suppresses an address, and for how long,
//! is the caller's decision (`service::bounces`).

use chrono::{DateTime, Utc};

use super::{Result, Tx};
use crate::domain::TicketId;

/// Both databases accept these as written (`$n` placeholders, `ON CONFLICT`, and times bound
/// as chrono values: TEXT on SQLite, TIMESTAMPTZ on PostgreSQL).
const UPSERT_BOUNCE: &str = "INSERT INTO bouncing_addresses \
     (tenant_id, address, severity, status, ticket_id, bounced_at, suppressed_until) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (tenant_id, address) DO UPDATE SET severity = excluded.severity, \
     status = excluded.status, ticket_id = excluded.ticket_id, \
     bounced_at = excluded.bounced_at, \
     suppressed_until = CASE WHEN excluded.suppressed_until > bouncing_addresses.suppressed_until \
     THEN excluded.suppressed_until ELSE bouncing_addresses.suppressed_until END";

const SELECT_SUPPRESSED: &str = "SELECT suppressed_until FROM bouncing_addresses \
     WHERE tenant_id = $1 AND address = $2 AND suppressed_until > $3";

/// One bounce to record for an address.
#[derive(Debug, Clone)]
pub struct NewBounce<'a> {
    /// Lower-cased `local@domain`, at most 254 characters (RFC 5321's path limit).
    pub address: &'a str,
    /// `permanent` or `transient`.
    pub severity: &'a str,
    /// The RFC 3463 status, when the bounce gave one.
    pub status: Option<&'a str>,
    /// The ticket the bounce was noted in.
    pub ticket: Option<TicketId>,
    /// When the bounce was taken in.
    pub now: DateTime<Utc>,
    /// No mail to the address before this; `now` for a bounce that suppresses nothing. An
    /// earlier bounce's later date is kept.
    pub suppressed_until: DateTime<Utc>,
}

impl Tx {
    /// Records a bounce for its address (the latest one wins, the longest suppression stays).
    pub async fn record_bounce(&mut self, b: &NewBounce<'_>) -> Result<()> {
        let t = self.tenant.as_str();
        exec!(self, "record_bounce", |c| {
            sqlx::query(UPSERT_BOUNCE)
                .bind(t)
                .bind(b.address)
                .bind(b.severity)
                .bind(b.status)
                .bind(b.ticket.map(|x| x.0))
                .bind(b.now)
                .bind(b.suppressed_until)
                .execute(c)
                .await?
        });
        Ok(())
    }

    /// Until when `address` (lower-cased) gets no mail, when that is after `now`.
    pub async fn suppressed_until(
        &mut self,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let t = self.tenant.as_str();
        Ok(fetch!(
            self,
            "suppressed_until",
            query_scalar_with,
            SELECT_SUPPRESSED,
            [t, address, now],
            fetch_optional
        ))
    }
}
