//! `guichet deliver`: one message handed over by an MTA pipe, taken into the offer(s) it is
//! for. The command line maps the result to an exit code (0, 67, 75) and one log line; this
//! module decides which offers take the message and takes it in.

use super::ingest::{self, IngestOutcome};
use super::{Context, ServiceError, sync};
use crate::domain::TenantId;
use crate::domain::routing::route_recipients;

/// Which offers a delivered message is for, as the MTA says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `--offer CODE`: this offer alone.
    Offer(&'a str),
    /// `--recipient ADDR`, the envelope recipient: the offer with that support address alone,
    /// whatever the headers say (the recipe's way: routing never has to guess).
    Recipient(&'a str),
    /// Neither: the envelope headers, else every offer To and Cc name ([`ingest::route`]).
    Headers,
}

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
    /// `--recipient` is no offer's support address (the MTA should bounce: EX_NOUSER).
    #[error("{address} is no support address of any offer (offers[].support_addresses)")]
    UnknownRecipient { address: String },
    /// The message could not be stored; the MTA must keep it and retry (EX_TEMPFAIL).
    #[error("message not stored, try again later")]
    Service(#[source] ServiceError),
}

impl From<ServiceError> for DeliverError {
    fn from(e: ServiceError) -> Self {
        DeliverError::Service(e)
    }
}

/// Takes `raw` in for the offers `route` names.
pub async fn deliver(
    ctx: &Context,
    route: Route<'_>,
    raw: &[u8],
) -> Result<Delivered, DeliverError> {
    let read = ingest::read(ctx, raw).await;
    let offers = match route {
        Route::Offer(code) => vec![
            ctx.config
                .offer(code)
                .ok_or_else(|| unknown_offer(ctx, code))?,
        ],
        Route::Recipient(address) => {
            let code = route_recipients(&[address], &ctx.config.offer_addresses())
                .into_iter()
                .next()
                .ok_or_else(|| DeliverError::UnknownRecipient {
                    address: address.to_owned(),
                })?;
            ctx.config.offer(code.as_str()).into_iter().collect()
        }
        Route::Headers => ingest::route(&ctx.config, &read, raw),
    };
    if offers.is_empty() {
        return Err(DeliverError::NoOffer);
    }
    let mut outcomes = Vec::with_capacity(offers.len());
    for offer in offers {
        sync::ensure_offer(ctx, offer)
            .await
            .map_err(|e| DeliverError::Service(e.into()))?;
        let outcome =
            ingest::ingest_read(ctx, offer, crate::domain::Channel::Pipe.into(), raw, &read)
                .await?;
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
