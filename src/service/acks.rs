//! The per-sender limit on acknowledgements (`mail.ack_limit` per
//! `mail.ack_limit_window_minutes`): the last brake on a loop with an autoresponder the loop
//! guard did not recognise. The rule is `domain::loop_guard::AckLimit`; this counts and records.
//! And the language an acknowledgement goes in: the sender's own.

use chrono::{DateTime, Utc};

use super::ServiceError;
use crate::config::Config;
use crate::domain::{ContactId, InboundEmail};
use crate::store::Tx;

/// RFC 5321 section 4.5.3.1.3: a path is at most 256 octets, brackets included. A longer
/// address cannot be delivered to, so it gets no acknowledgement.
const MAX_ADDRESS_LEN: usize = 254;

/// Whether `address` may get one more acknowledgement at `now`; when it may, the
/// acknowledgement is recorded (in the caller's transaction) as sent.
pub async fn take_slot(
    config: &Config,
    tx: &mut Tx,
    address: &str,
    now: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    if address.len() > MAX_ADDRESS_LEN {
        return Ok(false);
    }
    let limit = config.mail.ack_limit;
    let sent = tx.acks_since(address, limit.since(now)).await?;
    if !limit.allows(sent) {
        tracing::warn!(tenant = %tx.tenant(), sent, "acknowledgement rate limit reached, not acknowledged");
        return Ok(false);
    }
    tx.record_ack(address, now).await?;
    Ok(true)
}

/// The language `email` declares ([`InboundEmail::language`]) becomes its sender's (their
/// `contact`'s) when they have none yet: one set in the configuration, or learnt from an
/// earlier mail, is kept. Their acknowledgement, and the mail they get later, go in it. A
/// mail that declares nothing costs no statement.
pub async fn learn_locale(
    tx: &mut Tx,
    contact: ContactId,
    email: &InboundEmail,
) -> Result<(), ServiceError> {
    if let Some(language) = email.language {
        tx.set_contact_locale(contact, Some(language), true).await?;
    }
    Ok(())
}
