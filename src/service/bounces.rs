//! Bounces in: a bounce that reports on one of our outbound mails becomes an internal note on
//! that mail's ticket, and the recipients it says failed for good get no mail from the offer
//! for `mail.bounce_suppress_days`.
//!
//! Called by ingest inside its transaction, once the loop guard has called the message machine
//! mail; what the bounce says is read by the pure `domain::bounce`. A bounce that names none of
//! our messages is left to ingest, which treats it as any machine mail.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::ingest::IngestOutcome;
use super::{Context, ServiceError};
use crate::domain::bounce::{self, BounceReport, Severity};
use crate::domain::loop_guard::AutoReason;
use crate::domain::token;
use crate::domain::{ArticleId, Channel, Direction, EventKind, InboundEmail, Mailbox, MessageId};
use crate::store::{NewArticle, NewBounce, NewEvent, TicketRow, Tx};

/// The longest address recorded: RFC 5321 section 4.5.3.1.3 limits a path to 256 octets,
/// brackets included. Anything longer in a bounce is not an address we sent to.
const MAX_ADDRESS_LEN: usize = 254;

/// Who the note is from: the mail system, not a contact.
pub(super) const AUTHOR: &str = "mail system";

/// A bounce noted in a ticket.
#[derive(Debug)]
pub struct Noted {
    /// The ticket of the outbound mail the bounce reports on.
    pub ticket: TicketRow,
    /// The internal note.
    pub article: ArticleId,
}

impl Noted {
    /// What ingest reports: an article added to the ticket, which a bounce never reopens.
    pub fn outcome(&self) -> IngestOutcome {
        IngestOutcome::Appended {
            ticket: self.ticket.reference(),
            article: self.article,
            reopened: false,
        }
    }
}

/// The ticket of the mail of ours a bounce reports on: by the returned message's id, else
/// the bounce's own parents (ids we signed only), else by the reply token of the returned
/// message's `Reply-To` issued to a recipient the bounce reports ([`by_returned_token`]).
pub(super) async fn reported_ticket(
    ctx: &Context,
    tx: &mut Tx,
    email: &InboundEmail,
    report: &BounceReport,
) -> Result<Option<TicketRow>, ServiceError> {
    let ours: Vec<&str> = report
        .original_message_id
        .iter()
        .chain(email.parent_ids())
        .filter(|id| ctx.our_ids().is_ours(id))
        .map(MessageId::as_str)
        .collect();
    if let Some(row) = tx.ticket_by_message_ids(&ours).await? {
        return Ok(Some(row));
    }
    by_returned_token(ctx, tx, report).await
}

/// The ticket named by the reply token in the returned message's addresses (the plus-address
/// of our `Reply-To` on one of the offer's support addresses), when it verifies for one of
/// the recipients the bounce reports: the token is bound to its recipient, so a bounce of our
/// mail whose Message-ID did not come back (rewritten by a relay, cut from a short notice) is
/// still matched, and a token pasted into someone else's bounce is not.
async fn by_returned_token(
    ctx: &Context,
    tx: &mut Tx,
    report: &BounceReport,
) -> Result<Option<TicketRow>, ServiceError> {
    let (Some(key), Some(offer)) = (ctx.token_key(), ctx.config.offer(tx.tenant().as_str())) else {
        return Ok(None);
    };
    let returned: Vec<&str> = report
        .original_addresses
        .iter()
        .map(String::as_str)
        .collect();
    let Some(token) = token::find(&returned, &offer.support_addresses) else {
        return Ok(None);
    };
    let reported = report
        .recipients
        .iter()
        .find_map(|r| key.verify(&token, &offer.code, &r.address));
    match reported {
        Some(ticket) => Ok(tx.ticket(ticket).await?),
        None => {
            tracing::info!(tenant = %offer.code, reason = "issued to none of the recipients it reports", "returned reply token ignored");
            Ok(None)
        }
    }
}

/// Notes `email`, machine mail for the loop guard (`reason`), in the ticket of the outbound
/// mail it reports on, and records its failed recipients; `None` (nothing written) when it is
/// not a bounce or names none of our messages.
///
/// The outbound mail is found by the returned message's Message-ID, else by the bounce's own
/// In-Reply-To/References; only ids we generated count, so a bounce of someone else's mail
/// that happens to quote a stored id of theirs never lands in a ticket. Failing those, by the
/// reply token the returned headers carry, verified for a recipient the bounce reports.
pub async fn note(
    ctx: &Context,
    tx: &mut Tx,
    channel: Channel,
    email: &InboundEmail,
    raw_sha256: &str,
    reason: Option<&AutoReason>,
) -> Result<Option<Noted>, ServiceError> {
    // Only machine mail can be a bounce: a person's mail quoting one is theirs.
    let Some(reason) = reason else {
        return Ok(None);
    };
    let Some(report) = bounce::extract(email) else {
        return Ok(None);
    };
    let (config, now) = (&ctx.config, ctx.clock.now());
    let Some(ticket) = reported_ticket(ctx, tx, email, &report).await? else {
        return Ok(None);
    };
    let automatic = reason.describe();
    let body = note_text(&report, &email.text_body);
    let article = tx
        .insert_article(&NewArticle {
            ticket: ticket.id,
            channel,
            direction: Direction::Internal,
            author: None,
            author_label: Some(AUTHOR),
            message_id: Some(email.message_id.as_str()),
            in_reply_to: email.in_reply_to.first().map(MessageId::as_str),
            references: None,
            subject: Some(&email.subject),
            body_text: &body,
            new_text: None,
            body_html: None,
            raw_sha256: Some(raw_sha256),
            auto_reason: Some(&automatic),
            now,
        })
        .await?;
    super::attachments::store(tx, article, &email.attachments).await?;
    tx.touch_ticket(ticket.id, now).await?;
    let permanent = report
        .recipients
        .iter()
        .filter(|r| r.severity == Severity::Permanent)
        .count();
    for r in report
        .recipients
        .iter()
        .filter(|r| r.address.len() <= MAX_ADDRESS_LEN)
    {
        let suppressed_until = match r.severity {
            Severity::Permanent => now + config.mail.bounce_suppress,
            Severity::Transient => now,
        };
        tx.record_bounce(&NewBounce {
            address: &r.address,
            severity: r.severity.as_str(),
            status: r.status.as_deref(),
            ticket: Some(ticket.id),
            now,
            suppressed_until,
        })
        .await?;
    }
    let data = json!({
        "article": article,
        "channel": channel,
        "automatic": automatic,
        "bounce": { "recipients": report.recipients.len(), "permanent": permanent },
    });
    tx.insert_event(&NewEvent {
        ticket: Some(ticket.id),
        actor: "mail:system",
        kind: EventKind::ArticleAdded,
        data: &data,
        now,
    })
    .await?;
    tracing::info!(
        tenant = %tx.tenant(),
        ticket = %ticket.reference(),
        recipients = report.recipients.len(),
        permanent,
        "bounce noted"
    );
    Ok(Some(Noted { ticket, article }))
}

/// The recipients of `to` that may get mail at `now`: those no hard bounce suppresses.
pub async fn deliverable(
    tx: &mut Tx,
    to: Vec<Mailbox>,
    now: DateTime<Utc>,
) -> Result<Vec<Mailbox>, ServiceError> {
    let mut out = Vec::with_capacity(to.len());
    for m in to {
        if tx.suppressed_until(&m.address, now).await?.is_none() {
            out.push(m);
        }
    }
    Ok(out)
}

/// The note's text: one line per failed recipient, then the bounce as the mail system wrote it.
fn note_text(report: &BounceReport, bounce_text: &str) -> String {
    let mut text = String::from("Delivery failed (bounce):\n");
    for r in &report.recipients {
        text.push_str(&format!(
            "- {}: {}{}\n",
            r.address,
            r.severity.as_str(),
            r.status
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default()
        ));
    }
    if report.recipients.is_empty() {
        text.push_str("- no recipient named\n");
    }
    text.push('\n');
    text.push_str(bounce_text);
    text
}
