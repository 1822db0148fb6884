//! `guichet inspect`: what guichet sees in one message and what it would do with it, without
//! storing anything. An operator asks it why a mail opened a ticket, or did not thread.
//!
//! It runs the same steps as `ingest` (read, route, loop guard, dedupe, bounce, sender,
//! threading) through the same helpers, inside one transaction that is always rolled back:
//! it never writes, so an unknown sender is described ("a new contact would be created"),
//! not created. What it reports is [`Inspection`], whose JSON shape the README documents.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ingest::{self, SenderContact};
use super::{Context, ServiceError};
use crate::channels::mail::ParseError;
use crate::config::OfferConfig;
use crate::domain::loop_guard::{self, AutoReason};
use crate::domain::routing::{SenderDecision, UnknownSenderPolicy, kind_for};
use crate::domain::threading::{self, Candidates, Relation, ThreadDecision, Via};
use crate::domain::{ContactId, InboundEmail, Mailbox, MessageId, TicketId, TicketKind};
use crate::domain::{bounce, dedupe};
use crate::store::Tx;

/// What guichet sees in a message and would decide for it: `guichet inspect --json` prints
/// this. The field names are a stable interface (README, "guichet inspect"): scripts read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inspection {
    /// The headers as parsed; `None` when the message does not parse.
    pub headers: Option<Headers>,
    /// Who wrote the message, for the loop guard.
    pub classification: Classification,
    /// The rule that called it machine mail (or our own), in words; `None` for a person's mail.
    pub rule: Option<String>,
    /// What the writer added, quotes and signature removed; `None` when it does not parse.
    pub new_text: Option<String>,
    /// The offer the message goes to (`--offer`, else the first its recipients name); `None`
    /// when no offer has any of its addresses.
    pub offer: Option<String>,
    /// The kind of ticket it would open there; `None` without an offer or a parsed message.
    pub kind: Option<TicketKind>,
    /// Where the message would go.
    pub threading: Threading,
}

/// The headers guichet reads, as it reads them (addresses lower-cased, ids without brackets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Headers {
    pub from: Option<String>,
    pub sender: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub reply_to: Vec<String>,
    /// `Delivered-To` and `X-Original-To`: the envelope recipients, which route first.
    pub delivered_to: Vec<String>,
    pub subject: String,
    pub message_id: String,
    /// The message had no Message-ID: this one was derived from its content.
    pub message_id_generated: bool,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub date: Option<DateTime<Utc>>,
    /// The loop guard's headers that the message carries, by lower-case header name.
    pub auto: std::collections::BTreeMap<&'static str, String>,
}

/// Who wrote a message, as far as the loop guard tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Classification {
    /// A person: answered, may open and reopen tickets.
    Human,
    /// Machine mail that is not a bounce: an out-of-office, a list, a receipt. Stored, never
    /// answered.
    AutoReply,
    /// A mail system's delivery failure report.
    Bounce,
    /// Our own mail come back (our Message-ID, an `X-Loop` naming us, or sent from one of our
    /// support addresses).
    OwnEcho,
    /// The message does not parse: it would go to the quarantine.
    Unparsed,
}

/// The threading decision and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Threading {
    pub decision: Decision,
    /// The existing ticket the decision is about: the one joined, duplicated, or linked to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// How that ticket was found: `token`, `header`, `subject-tag`, `bounce`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<&'static str>,
    /// The decision in a sentence, for a person.
    pub reason: String,
}

/// What taking the message in would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Open a ticket.
    New,
    /// Open a ticket linked to an existing one (possibly related, or a follow-up).
    NewLinked,
    /// Add it to an existing ticket.
    Append,
    /// Add it to a finished ticket and put that back in progress.
    Reopen,
    /// Nothing: the same message was taken in before.
    Duplicate,
    /// Nothing but a polite answer: the offer refuses unknown senders.
    Refused,
    /// Keep it in the quarantine, with the reason.
    Quarantine,
    /// None: no offer has any of its recipients (`deliver` exits 67, the MTA bounces it).
    NoOffer,
}

impl Decision {
    /// The decision's name, as the JSON writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::New => "new",
            Decision::NewLinked => "new-linked",
            Decision::Append => "append",
            Decision::Reopen => "reopen",
            Decision::Duplicate => "duplicate",
            Decision::Refused => "refused",
            Decision::Quarantine => "quarantine",
            Decision::NoOffer => "no-offer",
        }
    }
}

impl Classification {
    /// The classification's name, as the JSON writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Human => "human",
            Classification::AutoReply => "auto-reply",
            Classification::Bounce => "bounce",
            Classification::OwnEcho => "own-echo",
            Classification::Unparsed => "unparsed",
        }
    }
}

/// The contact id the facts of a sender not yet known are looked up with. Row ids start at 1
/// on both backends, so no participant or role has it: the facts are those of the contact
/// `ingest` would create (no participant, no role).
const NOT_YET_CREATED: ContactId = ContactId(0);

/// What guichet sees in `raw` and would decide for it in `offer` (else the offer its
/// recipients name), reading the store and writing nothing.
pub async fn inspect(
    ctx: &Context,
    offer: Option<&OfferConfig>,
    raw: &[u8],
) -> Result<Inspection, ServiceError> {
    let read = ingest::read(ctx, raw).await;
    let offer = offer.or_else(|| ingest::route(&ctx.config, &read, raw).into_iter().next());
    let code = offer.map(|o| o.code.to_string());
    let email = match &read {
        Ok(email) => email,
        Err(reason) => {
            return Ok(Inspection {
                headers: None,
                classification: Classification::Unparsed,
                rule: None,
                new_text: None,
                offer: code,
                kind: None,
                threading: plain(Decision::Quarantine, reason.clone()),
            });
        }
    };
    // Without an offer, X-Loop is compared with every offer's addresses.
    let every: Vec<String>;
    let ours = match offer {
        Some(o) => &o.support_addresses,
        None => {
            every = ctx
                .config
                .offers
                .iter()
                .flat_map(|o| o.support_addresses.clone())
                .collect();
            &every
        }
    };
    let auto = loop_guard::classify(email, ctx.our_ids(), ours);
    let from_us = author(email).is_some_and(|m| ctx.own_addresses().contains(&m.address));
    let is_bounce = auto.is_some() && bounce::extract(email).is_some();
    let rule = match &auto {
        Some(reason) => Some(reason.describe()),
        None => from_us.then(|| "From is one of our own support addresses".to_owned()),
    };
    let threading = match offer {
        Some(offer) => thread(ctx, offer, email, auto.as_ref()).await?,
        None => plain(
            Decision::NoOffer,
            "no configured offer has any of this message's recipient addresses".to_owned(),
        ),
    };
    Ok(Inspection {
        headers: Some(headers(email)),
        classification: classify(auto.as_ref(), is_bounce, from_us),
        rule,
        new_text: Some(email.new_text.clone()),
        offer: code,
        kind: offer.map(|o| kind_of(o, email)),
        threading,
    })
}

/// The classification from the loop guard's reason, whether a mail system wrote it as a
/// failure report, and whether it comes from one of our own addresses.
fn classify(auto: Option<&AutoReason>, is_bounce: bool, from_us: bool) -> Classification {
    match auto {
        _ if from_us => Classification::OwnEcho,
        Some(AutoReason::OurOwnMessage | AutoReason::XLoop) => Classification::OwnEcho,
        Some(_) if is_bounce => Classification::Bounce,
        Some(_) => Classification::AutoReply,
        None => Classification::Human,
    }
}

/// The sender as ingest takes it: From, else Sender.
fn author(email: &InboundEmail) -> Option<&Mailbox> {
    email.from.as_ref().or(email.sender.as_ref())
}

/// The kind of the ticket the message would open in `offer`, as `ingest` chooses it.
fn kind_of(offer: &OfferConfig, email: &InboundEmail) -> TicketKind {
    let envelope: Vec<&str> = email.delivered_to.iter().map(String::as_str).collect();
    kind_for(
        &envelope,
        &email.listed_recipients(),
        &offer.support_addresses,
        &offer.kinds,
    )
}

/// The threading decision, looked up in a transaction that is rolled back whatever happens.
async fn thread(
    ctx: &Context,
    offer: &OfferConfig,
    email: &InboundEmail,
    auto: Option<&AutoReason>,
) -> Result<Threading, ServiceError> {
    let mut tx = ctx.store.begin(&offer.code).await?;
    let decided = match tx.offer().await {
        Ok(written) => decide(ctx, &mut tx, offer, email, auto)
            .await
            .map(|t| with_unwritten_note(t, written.is_some())),
        Err(e) => Err(e.into()),
    };
    tx.rollback().await?;
    decided
}

/// Until the offer's configuration is in the store (`deliver`, the daemon or `guichet
/// migrate` write it), its contacts and institutions are unknown there, and the decision says
/// it: inspect does not write them.
fn with_unwritten_note(mut threading: Threading, written: bool) -> Threading {
    if !written {
        threading.reason.push_str(
            " (the offer is not in the store yet: its configured contacts and institutions are \
             not known here; `guichet migrate` writes them)",
        );
    }
    threading
}

/// `ingest_parsed`'s steps, in its order, reading only.
async fn decide(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    email: &InboundEmail,
    auto: Option<&AutoReason>,
) -> Result<Threading, ServiceError> {
    let digest = email.content_digest();
    if let dedupe::Decision::Duplicate { ticket } = ingest::dedupe(tx, email, &digest).await? {
        let reference = reference(tx, ticket).await?;
        let reason = match &reference {
            Some(r) => format!("duplicate of {r}: the same message was taken in before"),
            None => {
                "duplicate: the same message was taken in before (it opened no ticket)".to_owned()
            }
        };
        return Ok(Threading {
            decision: Decision::Duplicate,
            ticket: reference,
            via: None,
            reason,
        });
    }
    if let Some(ticket) = bounced_ticket(ctx, tx, email, auto).await? {
        return Ok(Threading {
            decision: Decision::Append,
            ticket: Some(ticket),
            via: Some("bounce"),
            reason: "a bounce of one of our mails: an internal note in that mail's ticket, its \
                     failed recipients suppressed"
                .to_owned(),
        });
    }
    let Some(sender) = author(email) else {
        return Ok(plain(
            Decision::Quarantine,
            ParseError::NoSender.to_string(),
        ));
    };
    if ctx.own_addresses().contains(&sender.address) {
        return Ok(plain(
            Decision::Quarantine,
            ingest::FROM_OURSELVES.to_owned(),
        ));
    }
    let (contact, newcomer) = match ingest::known_sender(tx, sender).await? {
        Some(contact) => (contact, None),
        None => match ingest::unknown_sender(tx, offer, sender).await? {
            SenderDecision::Refuse => return Ok(refused(offer, auto.is_some())),
            SenderDecision::Known(id) => (
                SenderContact {
                    id,
                    institution: None,
                    configured: false,
                },
                None,
            ),
            SenderDecision::Create { institution } => (
                SenderContact {
                    id: NOT_YET_CREATED,
                    institution,
                    configured: false,
                },
                Some(institution.is_some()),
            ),
        },
    };
    let answers_ours = email.parent_ids().iter().any(|m| ctx.our_ids().is_ours(m));
    let automatic = auto.is_some();
    let candidates = ingest::find_candidates(
        ctx,
        tx,
        offer,
        email,
        (&contact, &sender.address),
        (automatic, answers_ours),
    )
    .await?;
    let now = ctx.clock.now();
    let decision = threading::decide(&candidates, now, offer.reopen_window, automatic);
    let mut threading = explain(tx, &decision, &candidates).await?;
    if let Some(in_institution) = newcomer {
        threading.reason.push_str(if in_institution {
            "; the sender is unknown: a new contact would be created in the institution of its \
             domain"
        } else {
            "; the sender is unknown: a new contact would be created"
        });
    }
    Ok(threading)
}

/// The ticket of the outbound mail a bounce reports on, as `bounces::note` finds it.
async fn bounced_ticket(
    ctx: &Context,
    tx: &mut Tx,
    email: &InboundEmail,
    auto: Option<&AutoReason>,
) -> Result<Option<String>, ServiceError> {
    if auto.is_none() {
        return Ok(None);
    }
    let Some(report) = bounce::extract(email) else {
        return Ok(None);
    };
    let row = super::bounces::reported_ticket(ctx, tx, email, &report).await?;
    Ok(row.map(|r| r.reference().to_string()))
}

/// What `threading::decide` decided, with the ticket's ref and the reason in words.
async fn explain(
    tx: &mut Tx,
    decision: &ThreadDecision,
    candidates: &Candidates,
) -> Result<Threading, ServiceError> {
    Ok(match decision {
        ThreadDecision::Append {
            ticket,
            via,
            reopen,
        } => {
            let found = match via {
                Via::Token => "a reply token issued to the sender names it",
                Via::Header => "In-Reply-To/References name one of its messages",
                Via::SubjectTag => "the subject carries its tag",
            };
            let (decision, then) = if *reopen {
                (
                    Decision::Reopen,
                    ", and it is reopened (finished within the reopen window)",
                )
            } else {
                (Decision::Append, "")
            };
            let reference = reference(tx, Some(*ticket)).await?;
            Threading {
                decision,
                reason: format!(
                    "joins {}: {found} and the sender may write into it{then}",
                    reference.as_deref().unwrap_or("its ticket")
                ),
                ticket: reference,
                via: Some(via_name(*via)),
            }
        }
        ThreadDecision::New { related: None } => plain(
            Decision::New,
            "new ticket: the message names no ticket of this offer".to_owned(),
        ),
        ThreadDecision::New {
            related: Some((ticket, relation)),
        } => {
            let reference = reference(tx, Some(*ticket)).await?;
            let shown = reference.as_deref().unwrap_or("a ticket").to_owned();
            let via = if candidates
                .by_header
                .as_ref()
                .is_some_and(|c| c.ticket == *ticket)
            {
                Via::Header
            } else {
                Via::SubjectTag
            };
            let reason = match relation {
                Relation::PossiblyRelated => format!(
                    "new ticket, linked as possibly related to {shown}: the message names it \
                     but its sender is not entitled to it (not a participant, an agent of the \
                     offer, or a configured contact of its institution)"
                ),
                Relation::FollowsUp => format!(
                    "new ticket, following up {shown}: that ticket was finished longer ago \
                     than the offer's reopen window"
                ),
            };
            Threading {
                decision: Decision::NewLinked,
                ticket: reference,
                via: Some(via_name(via)),
                reason,
            }
        }
    })
}

/// How the ticket was found, as the JSON writes it: one line per rule of [`Via`].
fn via_name(via: Via) -> &'static str {
    match via {
        Via::Token => "token",
        Via::Header => "header",
        Via::SubjectTag => "subject-tag",
    }
}

/// An unknown sender the offer's policy refuses.
fn refused(offer: &OfferConfig, automatic: bool) -> Threading {
    let why = match offer.unknown_sender {
        UnknownSenderPolicy::CreateInInstitution => {
            "no institution has its domain, and the offer takes unknown senders of an \
             institution only"
        }
        UnknownSenderPolicy::Refuse | UnknownSenderPolicy::CreateUnaffiliated => {
            "the offer takes no unknown senders"
        }
    };
    let answer = if automatic {
        "not answered (machine mail)"
    } else {
        "answered with a polite refusal"
    };
    plain(
        Decision::Refused,
        format!("the sender is unknown and {why}: no ticket, {answer}"),
    )
}

fn plain(decision: Decision, reason: String) -> Threading {
    Threading {
        decision,
        ticket: None,
        via: None,
        reason,
    }
}

async fn reference(tx: &mut Tx, id: Option<TicketId>) -> Result<Option<String>, ServiceError> {
    let Some(id) = id else { return Ok(None) };
    Ok(tx.ticket(id).await?.map(|row| row.reference().to_string()))
}

fn headers(email: &InboundEmail) -> Headers {
    let shown = |m: &Mailbox| match &m.name {
        Some(name) => format!("{name} <{}>", m.address),
        None => m.address.clone(),
    };
    let list = |ms: &[Mailbox]| ms.iter().map(shown).collect();
    let ids = |ids: &[MessageId]| ids.iter().map(|m| m.as_str().to_owned()).collect();
    Headers {
        from: email.from.as_ref().map(shown),
        sender: email.sender.as_ref().map(shown),
        to: list(&email.to),
        cc: list(&email.cc),
        reply_to: list(&email.reply_to),
        delivered_to: email.delivered_to.clone(),
        subject: email.subject.clone(),
        message_id: email.message_id.as_str().to_owned(),
        message_id_generated: email.message_id_generated,
        in_reply_to: ids(&email.in_reply_to),
        references: ids(&email.references),
        date: email.date,
        auto: auto_headers(email),
    }
}

/// The loop guard's headers the message carries, by header name.
fn auto_headers(email: &InboundEmail) -> std::collections::BTreeMap<&'static str, String> {
    let a = &email.auto;
    let single = [
        ("auto-submitted", &a.auto_submitted),
        ("precedence", &a.precedence),
        ("x-auto-response-suppress", &a.x_auto_response_suppress),
        ("x-autoreply", &a.x_autoreply),
        ("x-autorespond", &a.x_autorespond),
        ("list-id", &a.list_id),
        ("x-failed-recipients", &a.x_failed_recipients),
        ("return-path", &a.return_path),
        ("from (unusable)", &a.unusable_from),
    ];
    let mut out: std::collections::BTreeMap<&'static str, String> = single
        .into_iter()
        .filter_map(|(name, v)| v.clone().map(|v| (name, v)))
        .collect();
    if !a.x_loop.is_empty() {
        out.insert("x-loop", a.x_loop.join(", "));
    }
    if a.is_report {
        out.insert("content-type", "a report (multipart/report)".to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_loop_guard_and_the_bounce_reader() {
        let submitted = AutoReason::AutoSubmitted("auto-replied".into());
        // (loop guard's reason, a bounce report, from one of our addresses, classification)
        let table = [
            (None, false, false, Classification::Human),
            (
                Some(submitted.clone()),
                false,
                false,
                Classification::AutoReply,
            ),
            (
                Some(AutoReason::DeliveryReport),
                true,
                false,
                Classification::Bounce,
            ),
            (
                Some(AutoReason::NullReturnPath),
                true,
                false,
                Classification::Bounce,
            ),
            (
                Some(AutoReason::OurOwnMessage),
                false,
                false,
                Classification::OwnEcho,
            ),
            (
                Some(AutoReason::XLoop),
                false,
                false,
                Classification::OwnEcho,
            ),
            (None, false, true, Classification::OwnEcho),
            (Some(submitted), false, true, Classification::OwnEcho),
        ];
        for (auto, is_bounce, from_us, expected) in table {
            assert_eq!(
                classify(auto.as_ref(), is_bounce, from_us),
                expected,
                "{auto:?} bounce={is_bounce} from_us={from_us}"
            );
        }
    }

    #[test]
    fn names_in_json_are_the_documented_ones() {
        for (c, name) in [
            (Classification::Human, "human"),
            (Classification::AutoReply, "auto-reply"),
            (Classification::Bounce, "bounce"),
            (Classification::OwnEcho, "own-echo"),
            (Classification::Unparsed, "unparsed"),
        ] {
            assert_eq!(serde_json::to_value(c).unwrap(), name);
            assert_eq!(c.as_str(), name);
        }
        for d in [
            Decision::New,
            Decision::NewLinked,
            Decision::Append,
            Decision::Reopen,
            Decision::Duplicate,
            Decision::Refused,
            Decision::Quarantine,
            Decision::NoOffer,
        ] {
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
    }
}
