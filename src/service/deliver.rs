//! `guichet deliver`: one message handed over by an MTA pipe, taken into the offer(s) it is
//! for. The command line maps the result to an exit code (0, 67, 75) and one log line; this
//! module decides which offers take the message and takes it in.

use super::ingest::{self, IngestOutcome};
use super::{Context, ServiceError, sync};
use crate::domain::TenantId;

/// What became of a delivered message, per offer that took it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// One entry per offer the message was taken into, in routing order.
    pub outcomes: Vec<(TenantId, IngestOutcome)>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// `--offer` names no configured offer.
    #[error("unknown offer {code:?} (configured: {known})")]
    UnknownOffer { code: String, known: String },
    /// No offer has any of the message's recipients (the MTA should bounce: EX_NOUSER).
    #[error("no configured offer has any of this message's recipient addresses")]
    NoOffer,
    /// The message could not be stored; the MTA must keep it and retry (EX_TEMPFAIL).
    #[error("message not stored, try again later")]
    Service(#[source] ServiceError),
}

impl From<ServiceError> for DeliverError {
    fn from(e: ServiceError) -> Self {
        DeliverError::Service(e)
    }
}

/// Takes `raw` in for the offer `code`, or, without one, for every offer it is addressed to.
pub async fn deliver(
    ctx: &Context,
    code: Option<&str>,
    raw: &[u8],
) -> Result<Delivered, DeliverError> {
    let read = ingest::read(ctx, raw).await;
    let offers = match code {
        Some(code) => vec![
            ctx.config
                .offer(code)
                .ok_or_else(|| unknown_offer(ctx, code))?,
        ],
        None => ingest::route(&ctx.config, &read, raw),
    };
    if offers.is_empty() {
        return Err(DeliverError::NoOffer);
    }
    let mut outcomes = Vec::with_capacity(offers.len());
    for offer in offers {
        sync::ensure_offer(ctx, offer)
            .await
            .map_err(|e| DeliverError::Service(e.into()))?;
        let outcome = ingest::ingest_read(ctx, offer, "pipe", raw, &read).await?;
        outcomes.push((offer.code.clone(), outcome));
    }
    Ok(Delivered { outcomes })
}

fn unknown_offer(ctx: &Context, code: &str) -> DeliverError {
    let known: Vec<&str> = ctx.config.offers.iter().map(|o| o.code.as_str()).collect();
    DeliverError::UnknownOffer {
        code: code.to_owned(),
        known: if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        },
    }
}
