//! Links between the tickets one message opened in several offers (a mail sent to two offers'
//! addresses becomes a ticket in each, linked to each other).
//!
//! Each offer's rows stay in its own partition: a link is written in its offer's own
//! transaction and names the other offer's code and ticket ref, never its rows. Whichever copy
//! is taken in second finds the first one's ticket and writes both links (one transaction per
//! offer, one after the other: SQLite has one writer). A failure here is logged and leaves the
//! tickets unlinked, never the message untaken.

use super::ingest::ticket_of_copy;
use super::{Context, ServiceError};
use crate::config::OfferConfig;
use crate::domain::LinkRelation;
use crate::domain::routing::route_recipients;
use crate::domain::{InboundEmail, TenantId, TicketRef};

/// Links `ticket`, just opened in `offer` from `email`, with the tickets the same message
/// opened in the other offers its To and Cc name.
pub async fn link_across_offers(
    ctx: &Context,
    offer: &OfferConfig,
    ticket: TicketRef,
    email: &InboundEmail,
) {
    let offers = ctx.config.offer_addresses();
    let others: Vec<TenantId> = route_recipients(&email.listed_recipients(), &offers)
        .into_iter()
        .filter(|other| *other != offer.code)
        .collect();
    if others.is_empty() {
        return;
    }
    // Hashed only when another offer is named: most mail is for one offer.
    let digest = email.content_digest();
    for other in others {
        // Handled here (the message is taken in either way), so logged here, with its causes.
        if let Err(e) = link_pair(ctx, (&offer.code, ticket), &other, email, &digest).await {
            let e = anyhow::Error::from(e);
            tracing::warn!(tenant = %offer.code, ticket = %ticket, other = %other, error = %format!("{e:#}"), "tickets of one message not linked across offers");
        }
    }
}

/// Finds the ticket a copy of this message (same Message-ID *and* content: a reused id must not
/// link unrelated tickets) opened in the other offer and, if there is one, links both ways.
async fn link_pair(
    ctx: &Context,
    (here, ticket): (&TenantId, TicketRef),
    there: &TenantId,
    email: &InboundEmail,
    digest: &str,
) -> Result<(), ServiceError> {
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin(there).await?;
    let theirs = match ticket_of_copy(&mut tx, email, digest).await? {
        Some(id) => tx.ticket(id).await?,
        None => None,
    };
    let Some(theirs) = theirs else {
        // Not taken in there (yet): that copy links both when it comes.
        tx.rollback().await?;
        return Ok(());
    };
    tx.link_other_offer(theirs.id, here, ticket, LinkRelation::SameMessage, now)
        .await?;
    tx.commit().await?;
    let mut tx = ctx.store.begin(here).await?;
    let Some(ours) = tx.ticket_by_ref(ticket).await? else {
        tx.rollback().await?;
        return Ok(());
    };
    tx.link_other_offer(
        ours.id,
        there,
        theirs.reference(),
        LinkRelation::SameMessage,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
