//! Links between the tickets one message opened in several offers (a mail sent to two offers'
//! addresses becomes a ticket in each, linked to each other).

use super::Context;
use crate::config::OfferConfig;
use crate::domain::{InboundEmail, TicketRef};

/// Links `ticket`, just opened in `offer` from `email`, with the tickets the same message
/// opened in the other offers it names. (Storage comes with the hardening migration.)
pub async fn link_across_offers(
    _ctx: &Context,
    _offer: &OfferConfig,
    _ticket: TicketRef,
    _email: &InboundEmail,
) {
}
