//! `guichet deliver`: one message handed over by an MTA pipe, taken into the offer(s) it is
//! for. The command line maps the result to an exit code (0, 67, 75) and one log line; this
//! module decides which offers take the message and takes it in.

use std::io::Read;

use super::ingest::{self, IngestOutcome};
use super::{Context, ServiceError, sync};
use crate::domain::TenantId;
use crate::domain::message::{MAX_HEADER_BLOCK, header_block};
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

/// A message as the MTA handed it over, read no further than the largest size an offer takes
/// ([`Input::read_from`]): no message is held whole in memory before its size is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The whole message.
    Whole(Vec<u8>),
    /// A message over the limit: its header ([`header_block`]) and its size; the rest was read
    /// and dropped.
    Oversized {
        /// The header block.
        header: Vec<u8>,
        /// The size of the whole message, in bytes.
        size: u64,
    },
}

impl Input {
    /// Reads a message from `reader`, keeping at most `limit` bytes: a larger message keeps
    /// its header only, and the rest is read (the MTA must see it consumed) into nothing.
    pub fn read_from(mut reader: impl Read, limit: usize) -> std::io::Result<Input> {
        let mut raw = Vec::new();
        let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
        (&mut reader).take(cap).read_to_end(&mut raw)?;
        if raw.len() <= limit {
            return Ok(Input::Whole(raw));
        }
        // A header longer than the limit is read to its end all the same, up to the bound
        // `header_block` keeps.
        if header_block(&raw).len() == raw.len() && raw.len() < MAX_HEADER_BLOCK {
            let more = (MAX_HEADER_BLOCK - raw.len()) as u64;
            (&mut reader).take(more).read_to_end(&mut raw)?;
        }
        let rest = std::io::copy(&mut reader, &mut std::io::sink())?;
        Ok(Input::Oversized {
            header: header_block(&raw).to_vec(),
            size: raw.len() as u64 + rest,
        })
    }
}

/// Takes `raw`, a whole message, in for the offers `route` names.
pub async fn deliver(
    ctx: &Context,
    route: Route<'_>,
    raw: &[u8],
) -> Result<Delivered, DeliverError> {
    take_in(ctx, route, raw, None).await
}

/// [`deliver`] for a message read with [`Input::read_from`]: one over the size limit goes to
/// the quarantines of its offers with its header only.
pub async fn deliver_input(
    ctx: &Context,
    route: Route<'_>,
    input: &Input,
) -> Result<Delivered, DeliverError> {
    match input {
        Input::Whole(raw) => take_in(ctx, route, raw, None).await,
        Input::Oversized { header, size } => take_in(ctx, route, header, Some(*size)).await,
    }
}

/// `raw` is the message, or its header when `oversized` gives the size of the whole.
async fn take_in(
    ctx: &Context,
    route: Route<'_>,
    raw: &[u8],
    oversized: Option<u64>,
) -> Result<Delivered, DeliverError> {
    // An oversized message is routed on its header alone, which parses as a message without
    // a body.
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
        let source = crate::domain::Channel::Pipe.into();
        let outcome = match oversized {
            None => ingest::ingest_read(ctx, offer, source, raw, &read).await?,
            Some(size) => ingest::quarantine_oversized(ctx, offer, source, raw, size).await?,
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_is_read_whole_up_to_the_limit_and_header_only_beyond() {
        let message = |body: usize| {
            let mut m = b"Subject: x\r\n\r\n".to_vec();
            m.resize(m.len() + body, b'b');
            m
        };
        let header = b"Subject: x\r\n\r\n".to_vec();
        let at_limit = message(100);
        let limit = at_limit.len();
        let cases = [
            ("under", message(10), Input::Whole(message(10))),
            ("at the limit", at_limit.clone(), Input::Whole(at_limit)),
            (
                "one byte over",
                message(101),
                Input::Oversized {
                    header: header.clone(),
                    size: limit as u64 + 1,
                },
            ),
            (
                "far over: the whole size is counted",
                message(1_000_000),
                Input::Oversized {
                    header,
                    size: limit as u64 - 100 + 1_000_000,
                },
            ),
        ];
        // A header longer than the limit is read to its end.
        let mut long_header = format!("X-Padding: {}\r\n\r\n", "p".repeat(500)).into_bytes();
        let header_len = long_header.len();
        long_header.resize(header_len + 50, b'b');
        let got = Input::read_from(long_header.as_slice(), 100).unwrap();
        assert_eq!(
            got,
            Input::Oversized {
                header: long_header[..header_len].to_vec(),
                size: long_header.len() as u64
            }
        );
        for (case, bytes, want) in cases {
            let got = Input::read_from(bytes.as_slice(), limit).unwrap();
            assert_eq!(got, want, "{case}");
        }
    }
}
