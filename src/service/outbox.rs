//! The outbox: mail is queued as a row in the same transaction as the change it reports,
//! then sent by [`send_due`] (rendered from its template, handed to a [`Sender`], marked
//! sent). A pass that runs twice, or in two daemons at once, sends each row once: rows are
//! claimed for a lease before sending.
//!
//! No storms (issue 8 item 6, rules in [`crate::domain::throttle`]): [`queue_mail`] merges a
//! notification into the one still waiting for the same people about the same ticket, holds
//! back what the rate limits refuse (recorded on the ticket as a `mail_suppressed` event, and
//! logged), and skips addresses that bounce. A merged row becomes a `coalesced` mail that
//! keeps its Message-ID; [`send_due`] renders each event it tells with its own template.

use chrono::Duration;
use serde_json::json;

use super::{Context, ServiceError};
use crate::channels::outbound::{OutboundAttachment, OutboundMail};
use crate::channels::{SendError, Sender};
use crate::config::OfferConfig;
use crate::domain::bounce::{Severity, enhanced_status};
use crate::domain::recipients::{outbound_recipients, trim_references};
use crate::domain::subject::strip_reply_prefixes;
use crate::domain::throttle::{self, Class, Limited, Policy, Recent};
use crate::domain::token::{self, TokenKey};
use crate::domain::{
    Channel, Direction, EventKind, InboundEmail, Mailbox, MessageId, TicketId, ids::subject_tag,
};
use crate::notify::{Notifier, Template};
use crate::store::{
    NewArticle, NewBounce, NewEvent, NewOutbox, OutboxRow, StoreError, TicketRow, Tx,
};

/// How long a claimed row is left to its sender before another may try it.
const CLAIM_LEASE: Duration = Duration::minutes(5);
/// Rows claimed per offer and pass.
const BATCH: i64 = 50;

/// The JSON every template receives (see `notify` for the contract).
pub fn mail_context(
    offer: &OfferConfig,
    ticket: Option<&TicketRow>,
    recipient: &Mailbox,
    original_subject: &str,
    body: Option<&str>,
) -> serde_json::Value {
    let tag = ticket.map(|t| subject_tag(&offer.code, t.reference()));
    let mut ctx = json!({
        "offer": {
            "code": offer.code.as_str(),
            "name": offer.name,
            "support_address": offer.support_addresses.first(),
        },
        "recipient": { "name": recipient.name, "address": recipient.address },
        "original_subject": strip_reply_prefixes(original_subject, tag.as_deref()),
    });
    if let Some(t) = ticket {
        ctx["ticket"] = json!({
            "ref": t.reference().to_string(),
            "tag": tag,
            "title": t.title,
            "status": t.status.as_str(),
            "priority": t.priority.as_str(),
        });
    }
    if let Some(body) = body {
        ctx["body"] = json!(body);
    }
    ctx
}

/// The message a mail answers, so that ours threads under it.
pub struct Thread<'a> {
    /// Its Message-ID: our In-Reply-To.
    pub parent: &'a str,
    /// Its own References, oldest first: ours are these plus `parent`.
    pub references: Vec<&'a str>,
}

impl<'a> Thread<'a> {
    pub fn of(email: &'a InboundEmail) -> Self {
        let references = email.references.iter().map(MessageId::as_str).collect();
        Self {
            parent: email.message_id.as_str(),
            references,
        }
    }
}

/// One mail to queue.
pub struct QueuedMail<'a> {
    pub ticket: Option<&'a TicketRow>,
    pub template: Template,
    pub to: &'a [Mailbox],
    /// The message this answers, if any.
    pub answering: Option<Thread<'a>>,
    pub auto_submitted: Option<&'a str>,
    pub context: &'a serde_json::Value,
    /// The recipient's own language (`fr`, `en`), when known; else the offer's.
    pub locale: Option<&'a str>,
}

/// Queues a mail in the caller's transaction; returns our Message-ID for it, or `None` when
/// no recipient is left once our own addresses, the addresses a hard bounce suppresses and
/// the recipients a rate limit holds back are taken out (nothing is queued then; each one held
/// back is recorded). A notification merged into one still waiting returns that one's
/// Message-ID.
pub async fn queue_mail(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    mail: QueuedMail<'_>,
) -> Result<Option<MessageId>, ServiceError> {
    let now = ctx.clock.now();
    let to = outbound_recipients(mail.to, ctx.own_addresses());
    let to = super::bounces::deliverable(tx, to, now).await?;
    if to.is_empty() {
        return Ok(None);
    }
    let policy = &ctx.config.mail.throttle;
    let class = class_of(mail.template);
    if let Some(merged) = merge_into_waiting(tx, policy, class, &mail, &to, now).await? {
        return Ok(Some(merged));
    }
    let to = admitted(tx, policy, class, &mail, to, now).await?;
    if to.is_empty() {
        return Ok(None);
    }
    let coalesce_key = coalescing_key(policy, class, mail.ticket, &to);
    let message_id = ctx.new_message_id();
    let (in_reply_to, references) = match mail.answering {
        Some(Thread {
            parent,
            mut references,
        }) => {
            references.push(parent);
            let references = trim_references(&references);
            (Some(parent.to_owned()), Some(references.join(" ")))
        }
        None => (None, None),
    };
    let recipients: Vec<serde_json::Value> = to
        .iter()
        .map(|m| json!({ "name": m.name, "address": m.address }))
        .collect();
    let recipients = serde_json::Value::Array(recipients).to_string();
    let from = offer
        .support_addresses
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    let row = NewOutbox {
        ticket: mail.ticket.map(|t| t.id),
        template: mail.template.name(),
        locale: mail.locale.unwrap_or(&offer.locale),
        context: mail.context,
        from_address: from,
        recipients: &recipients,
        message_id: message_id.as_str(),
        in_reply_to: in_reply_to.as_deref(),
        references: references.as_deref(),
        auto_submitted: mail.auto_submitted,
        now,
        due_at: throttle::due_at(policy, class, now),
        coalesce_key: coalesce_key.as_deref(),
    };
    let id = tx.enqueue_outbox(&row).await?;
    let ticket = mail.ticket.map(|t| t.id);
    for m in &to {
        tx.record_delivery(&m.address.to_ascii_lowercase(), ticket, id, now)
            .await?;
    }
    Ok(Some(message_id))
}

/// How the brakes against storms treat a mail of `template`.
fn class_of(template: Template) -> Class {
    match template {
        Template::TicketCreated | Template::SenderRefused => Class::Acknowledgement,
        Template::AgentReply => Class::Personal,
        Template::SlaWarning | Template::SlaBreach | Template::Escalated => Class::Alert,
        _ => Class::Notification,
    }
}

/// The key under which a notification about `ticket` to `to` waits for the next ones; `None`
/// for mail that is never merged (or about no ticket).
fn coalescing_key(
    policy: &Policy,
    class: Class,
    ticket: Option<&TicketRow>,
    to: &[Mailbox],
) -> Option<String> {
    let ticket = ticket.filter(|_| throttle::coalesces(policy, class))?;
    Some(throttle::coalesce_key(
        ticket.id.0,
        to.iter().map(|m| m.address.as_str()),
    ))
}

/// Merges `mail` into the notification still waiting for the same people about the same
/// ticket, when there is one and it has room; returns that row's Message-ID. `None` when the
/// mail is to be queued on its own (a worker may have claimed the row meanwhile: it goes as
/// it was, and this one after it).
async fn merge_into_waiting(
    tx: &mut Tx,
    policy: &Policy,
    class: Class,
    mail: &QueuedMail<'_>,
    to: &[Mailbox],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<MessageId>, ServiceError> {
    let Some(key) = coalescing_key(policy, class, mail.ticket, to) else {
        return Ok(None);
    };
    let Some(row) = tx.mergeable_outbox(&key).await? else {
        return Ok(None);
    };
    if !throttle::merges(policy, class, Some(events_told(&row))) {
        return Ok(None);
    }
    let context = merged_context(&row, mail.template, mail.context, now);
    if !tx
        .merge_outbox(row.id, Template::Coalesced.name(), &context)
        .await?
    {
        return Ok(None);
    }
    tracing::debug!(tenant = %tx.tenant(), outbox = row.id.0, template = %mail.template, "notification merged into a waiting mail");
    Ok(MessageId::new(&row.message_id))
}

/// How many events a queued mail tells: those of a coalesced one, else one.
fn events_told(row: &OutboxRow) -> usize {
    if row.template == Template::Coalesced.name() {
        row.context.0["events"].as_array().map_or(1, Vec::len)
    } else {
        1
    }
}

/// The context of `row` once `template` with `context` joins it: the newest event's own
/// context (the ticket as it is now) plus `events`, each event's template, time and context,
/// oldest first. Rendered by [`coalesced_context`] when sent.
fn merged_context(
    row: &OutboxRow,
    template: Template,
    context: &serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    let event = |template: &str, at: chrono::DateTime<chrono::Utc>, context: &serde_json::Value| json!({ "template": template, "at": at.to_rfc3339(), "context": context });
    let mut events = match row.context.0["events"].as_array() {
        Some(events) if row.template == Template::Coalesced.name() => events.clone(),
        _ => vec![event(&row.template, row.created_at, &row.context.0)],
    };
    events.push(event(template.name(), now, context));
    let mut merged = context.clone();
    merged["events"] = serde_json::Value::Array(events);
    merged
}

/// The recipients the rate limits let `mail` go to. Each one held back is recorded on the
/// ticket ([`record_suppressed`]), never dropped silently.
async fn admitted(
    tx: &mut Tx,
    policy: &Policy,
    class: Class,
    mail: &QueuedMail<'_>,
    to: Vec<Mailbox>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Mailbox>, ServiceError> {
    if class == Class::Personal {
        return Ok(to);
    }
    let mut about_ticket = match mail.ticket {
        Some(t) => Some(
            tx.deliveries_about(t.id, policy.per_ticket.since(now))
                .await?,
        ),
        None => None,
    };
    let mut kept = Vec::with_capacity(to.len());
    for m in to {
        let address = m.address.to_ascii_lowercase();
        let to_recipient = tx
            .deliveries_to(&address, policy.per_recipient.since(now))
            .await?;
        let recent = Recent {
            to_recipient,
            about_ticket,
        };
        match throttle::admit(policy, class, recent) {
            Ok(()) => {
                about_ticket = about_ticket.map(|n| n + 1);
                kept.push(m);
            }
            Err(limited) => record_suppressed(tx, policy, mail, &address, limited, now).await?,
        }
    }
    Ok(kept)
}

/// A mail a rate limit held back, as an event of its ticket (`guichet ticket show` lists it;
/// of no ticket for a refusal) and a warning in the log (without the address).
async fn record_suppressed(
    tx: &mut Tx,
    policy: &Policy,
    mail: &QueuedMail<'_>,
    address: &str,
    limited: Limited,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let limit = match limited {
        Limited::Recipient => policy.per_recipient,
        Limited::Ticket => policy.per_ticket,
    };
    let ticket = mail.ticket.map(|t| t.id);
    tracing::warn!(tenant = %tx.tenant(), ticket = ticket.map(|t| t.0), template = %mail.template, limit = limited.as_str(), "mail rate limit reached, mail not sent");
    let data = json!({
        "mail": mail.template.name(),
        "to": address,
        "limit": limited.as_str(),
        "at_most": limit.count,
        "window_minutes": limit.window.num_minutes(),
    });
    tx.insert_event(&NewEvent {
        ticket,
        actor: "mail:system",
        kind: EventKind::MailSuppressed,
        data: &data,
        now,
    })
    .await?;
    Ok(())
}

/// Counts of one pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

/// Sends what is due for one offer through `sender`. Store errors end the pass (the caller
/// retries later, and logs them); send errors are recorded on their row and logged here.
pub async fn send_due(
    ctx: &Context,
    notifier: &Notifier,
    sender: &dyn Sender,
    offer: &OfferConfig,
) -> Result<PassReport, StoreError> {
    let notifier = notifier.for_offer(offer.code.as_str());
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin(&offer.code).await?;
    let mut rows = tx
        .claim_outbox(&ctx.instance, now, CLAIM_LEASE, BATCH)
        .await?;
    tx.commit().await?;
    rows.sort_by_key(|r| r.id);
    let mut report = PassReport::default();
    for row in rows {
        let now = ctx.clock.now();
        let files = super::attachments::of_row(ctx, &offer.code, &row).await?;
        let mail =
            files.and_then(|files| render(notifier, offer, &row, files, ctx.token_key(), now));
        let result = match mail {
            Ok(mail) => sender.send(&mail).await,
            Err(e) => Err(e),
        };
        let mut tx = ctx.store.begin(&offer.code).await?;
        match result {
            Ok(sent) => {
                tx.outbox_sent(row.id, &sent.reference, now).await?;
                tracing::info!(tenant = %offer.code, outbox = row.id.0, template = %row.template, "mail sent");
                report.sent += 1;
            }
            Err(e) => {
                // Retried with backoff while the mail is younger than `mail.retry_for_hours`;
                // after that it is a dead letter (status `failed`, shown by `outbox list`).
                let retry_at = e
                    .is_transient()
                    .then(|| now + retry_delay(row.id.0, row.attempts, e.retry_after()))
                    .filter(|at| *at <= row.created_at + ctx.config.mail.retry_for);
                tx.outbox_failed(row.id, &e.to_string(), retry_at).await?;
                // Handled here (recorded on the row), so logged here and not returned.
                tracing::warn!(tenant = %offer.code, outbox = row.id.0, error = %format!("{e:#}"), retry = retry_at.is_some(), "mail not sent");
                if retry_at.is_some() {
                    report.retried += 1;
                } else {
                    given_up(ctx, &mut tx, &row, &e, now).await?;
                    report.failed += 1;
                }
            }
        }
        tx.commit().await?;
    }
    Ok(report)
}

/// A mail given up on (refused for good, or out of attempts) is not dropped silently: an
/// internal note on its ticket says to whom it was not delivered and why. When the server
/// refused its recipient for good (no such mailbox), that recipient is marked bouncing as a
/// bounce would ([`super::bounces`]), and gets no mail for `mail.bounce_suppress_days`; only
/// for a mail to one recipient, since a refusal of one of several does not say which.
async fn given_up(
    ctx: &Context,
    tx: &mut Tx,
    row: &OutboxRow,
    error: &SendError,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let recipients = recipients_of(row).unwrap_or_default();
    let reason = error.to_string();
    let marked = match recipients.as_slice() {
        [only] if error.is_recipient_refused() => {
            tx.record_bounce(&NewBounce {
                address: &only.address,
                severity: Severity::Permanent.as_str(),
                status: enhanced_status(&reason),
                ticket: row.ticket_id,
                now,
                suppressed_until: now + ctx.config.mail.bounce_suppress,
            })
            .await?;
            true
        }
        _ => false,
    };
    let Some(ticket) = row.ticket_id else {
        return Ok(());
    };
    let to: Vec<&str> = recipients.iter().map(|m| m.address.as_str()).collect();
    let mut body = format!(
        "Mail not delivered to {}: {reason}\n(notification {}, outbox {}, Message-ID <{}>)",
        to.join(", "),
        row.template,
        row.id.0,
        row.message_id
    );
    if marked {
        body.push_str("\nThe address gets no more mail until the bounce suppression ends.");
    }
    let article = tx
        .insert_article(&NewArticle {
            ticket,
            channel: Channel::Outbox,
            direction: Direction::Internal,
            author: None,
            author_label: Some(super::bounces::AUTHOR),
            message_id: None,
            in_reply_to: None,
            references: None,
            subject: None,
            body_text: &body,
            new_text: None,
            body_html: None,
            raw_sha256: None,
            auto_reason: None,
            now,
        })
        .await?;
    tx.touch_ticket(ticket, now).await?;
    let data = json!({
        "article": article,
        "channel": Channel::Outbox,
        "undelivered": { "outbox": row.id.0, "recipient_refused": marked },
    });
    tx.insert_event(&NewEvent {
        ticket: Some(ticket),
        actor: "mail:system",
        kind: EventKind::ArticleAdded,
        data: &data,
        now,
    })
    .await?;
    Ok(())
}

/// The recipients stored on a row (a JSON array of `{name, address}`).
pub fn recipients_of(row: &OutboxRow) -> Result<Vec<Mailbox>, serde_json::Error> {
    let values: Vec<serde_json::Value> = serde_json::from_str(&row.recipients)?;
    Ok(values
        .iter()
        .filter_map(|v| {
            v["address"]
                .as_str()
                .map(|a| Mailbox::new(v["name"].as_str(), a))
        })
        .collect())
}

/// Gives back the outbox rows this daemon claimed before it stopped (a crash leaves them
/// claimed until their lease ends). Run once at start, before the first pass.
pub async fn release_own_claims(ctx: &Context, offer: &OfferConfig) -> Result<u64, StoreError> {
    let mut tx = ctx.store.begin(&offer.code).await?;
    let released = tx.release_claims_of(&ctx.instance).await?;
    tx.commit().await?;
    Ok(released)
}

/// The wait before the next attempt of row `id`: the [`backoff`] and up to a quarter more
/// ([`jitter`]), or longer when the channel asked for a later time (an SMTP server's "try
/// again in").
fn retry_delay(id: i64, attempts: i64, asked: Option<std::time::Duration>) -> Duration {
    let asked = asked
        .and_then(|d| Duration::from_std(d).ok())
        .unwrap_or(Duration::zero());
    let wait = backoff(attempts);
    (wait + wait * jitter(id, attempts) / 100).max(asked)
}

/// 0 to 25 (per cent), spread over rows and attempts: the mails that failed together (a
/// relay down) do not all come back at the same second. Derived from the row's id and the
/// attempt rather than drawn, so that it needs no random source and a test can say what it
/// is.
fn jitter(id: i64, attempts: i64) -> i32 {
    // SplitMix64's finaliser: neighbouring ids land far apart.
    let mut x = (id as u64) ^ ((attempts as u64) << 32);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x % 26) as i32
}

/// 1, 2, 4... minutes, capped at 8 hours.
pub fn backoff(attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 10) - 1;
    Duration::minutes(1i64 << exp).min(Duration::hours(8))
}

/// A row that cannot become a message: retrying will not change it.
fn permanent(reason: String) -> SendError {
    SendError::permanent(format!("cannot build message: {reason}"))
}

fn render(
    notifier: &Notifier,
    offer: &OfferConfig,
    row: &OutboxRow,
    attachments: Vec<OutboundAttachment>,
    key: Option<&TokenKey>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<OutboundMail, SendError> {
    let template = Template::from_name(&row.template)
        .ok_or_else(|| permanent(format!("unknown template {:?}", row.template)))?;
    let context = match template {
        Template::Coalesced => {
            std::borrow::Cow::Owned(coalesced_context(notifier, &row.locale, &row.context.0)?)
        }
        _ => std::borrow::Cow::Borrowed(&row.context.0),
    };
    let rendered = notifier
        .render(template, &row.locale, &context)
        .map_err(|e| permanent(e.to_string()))?;
    let to = recipients_of(row).map_err(|e| permanent(format!("bad recipients: {e}")))?;
    let ids = |s: &Option<String>| -> Vec<MessageId> {
        s.as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(MessageId::new)
            .collect()
    };
    let message_id = MessageId::new(&row.message_id)
        .ok_or_else(|| permanent(format!("bad message id {:?}", row.message_id)))?;
    let reply_to = reply_to(key, offer, row.ticket_id, &to);
    Ok(OutboundMail {
        from: Mailbox::new(Some(&offer.name), &row.from_address),
        to,
        subject: rendered.subject,
        text: rendered.text,
        html: Some(rendered.html),
        message_id,
        in_reply_to: ids(&row.in_reply_to).into_iter().next(),
        references: ids(&row.references_ids),
        reply_to,
        auto_submitted: row.auto_submitted.clone(),
        date: now,
        attachments,
    })
}

/// What the `coalesced` template receives for a row's `stored` context ([`merged_context`]):
/// each event as its own template's subject (without the subject tag, which the mail's own
/// subject carries: `Demande résolue : Panne`, `Re: Panne`) and its text when it has one, and their `count`.
fn coalesced_context(
    notifier: &Notifier,
    locale: &str,
    stored: &serde_json::Value,
) -> Result<serde_json::Value, SendError> {
    let events = stored["events"]
        .as_array()
        .ok_or_else(|| permanent("coalesced mail without events".to_owned()))?;
    let mut told = Vec::with_capacity(events.len());
    for event in events {
        let name = event["template"].as_str().unwrap_or_default();
        let template = Template::from_name(name)
            .ok_or_else(|| permanent(format!("unknown template {name:?} in coalesced mail")))?;
        let context = &event["context"];
        let subject = notifier
            .render(template, locale, context)
            .map_err(|e| permanent(e.to_string()))?
            .subject;
        let tag = context["ticket"]["tag"].as_str().unwrap_or_default();
        let summary = match tag {
            "" => subject.clone(),
            tag => subject.replacen(tag, "", 1),
        };
        let summary = summary.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = ["new_text", "body"]
            .iter()
            .find_map(|k| context.get(*k).filter(|v| v.is_string()))
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        told.push(json!({ "summary": summary, "text": text }));
    }
    let mut context = stored.clone();
    context["count"] = json!(told.len());
    context["events"] = serde_json::Value::Array(told);
    Ok(context)
}

/// The `Reply-To` of mail about `ticket`: the offer's first support address with the reply
/// token of the first recipient (the one the mail answers or is addressed to first). Signed
/// when the row is sent rather than stored with it, so the row needs nothing more than its
/// ticket and recipients, and a replaced key signs from the next attempt on.
fn reply_to(
    key: Option<&TokenKey>,
    offer: &OfferConfig,
    ticket: Option<TicketId>,
    to: &[Mailbox],
) -> Option<Mailbox> {
    let (key, ticket, first) = (key?, ticket?, to.first()?);
    let support = offer.support_addresses.first()?;
    let token = key.sign(&offer.code, ticket, &first.address);
    Some(Mailbox::new(
        Some(&offer.name),
        &token::reply_address(support, &token),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(template: Template, context: serde_json::Value) -> OutboxRow {
        let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH + Duration::days(20_000);
        OutboxRow {
            id: crate::domain::OutboxId(1),
            ticket_id: Some(TicketId(1)),
            template: template.name().to_owned(),
            locale: "fr".to_owned(),
            context: sqlx::types::Json(context),
            from_address: "support@x.example".to_owned(),
            recipients: "[]".to_owned(),
            message_id: "m1.guichet@x.example".to_owned(),
            in_reply_to: None,
            references_ids: None,
            auto_submitted: Some("auto-generated".to_owned()),
            status: crate::domain::OutboxState::Pending,
            attempts: 0,
            next_attempt_at: at + Duration::minutes(2),
            last_error: None,
            sent_at: None,
            sent_ref: None,
            created_at: at,
        }
    }

    #[test]
    fn merged_events_stay_in_order_under_the_newest_ticket_state() {
        let first = Template::Assigned.sample_context();
        let mut second = Template::RequesterReply.sample_context();
        second["ticket"]["status"] = json!("in_progress");
        let mut row = waiting(Template::Assigned, first.clone());
        let now = row.created_at + Duration::seconds(30);
        assert_eq!(events_told(&row), 1);
        row.context.0 = merged_context(&row, Template::RequesterReply, &second, now);
        row.template = Template::Coalesced.name().to_owned();
        let third = Template::StatusChanged.sample_context();
        row.context.0 = merged_context(&row, Template::StatusChanged, &third, now);
        assert_eq!(events_told(&row), 3);
        let events = row.context.0["events"].as_array().unwrap();
        let names: Vec<&str> = events
            .iter()
            .filter_map(|e| e["template"].as_str())
            .collect();
        assert_eq!(names, ["assigned", "requester_reply", "status_changed"]);
        assert_eq!(
            events[0]["context"], first,
            "each event keeps its own context"
        );
        assert_eq!(events[1]["context"], second);
        assert_eq!(
            row.context.0["ticket"], third["ticket"],
            "the ticket as it is now"
        );
    }

    #[test]
    fn a_coalesced_mail_tells_each_event_by_its_own_subject_and_text() {
        let notifier = Notifier::new(None).unwrap();
        let mut row = waiting(Template::Assigned, Template::Assigned.sample_context());
        let reply = Template::RequesterReply.sample_context();
        row.context.0 = merged_context(&row, Template::RequesterReply, &reply, row.created_at);
        let ctx = coalesced_context(&notifier, "fr", &row.context.0).unwrap();
        assert_eq!(ctx["count"], json!(2));
        assert_eq!(
            ctx["events"],
            json!([
                { "summary": "Demande qui vous est attribuée : Les SMS ne partent plus", "text": null },
                { "summary": "Re: Les SMS ne partent plus", "text": reply["new_text"] },
            ])
        );
        let rendered = notifier.render(Template::Coalesced, "fr", &ctx).unwrap();
        assert_eq!(
            rendered.subject,
            "[SMSU I-000042] 2 changements : Les SMS ne partent plus"
        );
        // A row that says it is coalesced but tells nothing is not sent, and not retried.
        let err = coalesced_context(&notifier, "fr", &json!({})).unwrap_err();
        assert!(!err.is_transient(), "{err}");
    }

    #[test]
    fn a_later_time_asked_by_the_channel_wins_over_the_backoff() {
        let min = std::time::Duration::from_secs(60);
        // (attempts, asked, at least, at most: minutes)
        let table = [
            (1, None, 1.0, 1.25),
            (3, None, 4.0, 5.0),
            (3, Some(min), 4.0, 5.0),
            (3, Some(min * 30), 30.0, 30.0),
            (12, Some(min * 900), 900.0, 900.0),
        ];
        for id in 1..50 {
            for (attempts, asked, least, most) in table {
                let wait = retry_delay(id, attempts, asked).num_seconds() as f64 / 60.0;
                assert!(
                    (least..=most).contains(&wait),
                    "row {id}, attempt {attempts}, {asked:?}: {wait} min"
                );
            }
        }
    }

    #[test]
    fn jitter_spreads_rows_that_failed_together() {
        let spread: std::collections::BTreeSet<i32> = (1..=100).map(|id| jitter(id, 1)).collect();
        assert!(spread.iter().all(|j| (0..=25).contains(j)), "{spread:?}");
        assert!(
            spread.len() > 15,
            "100 rows over at least 16 values: {spread:?}"
        );
        assert_ne!(jitter(7, 1), jitter(7, 2), "another attempt, another wait");
    }

    #[test]
    fn backoff_doubles_then_caps() {
        let table = [
            (0, 1),
            (1, 1),
            (2, 2),
            (3, 4),
            (6, 32),
            (10, 480),
            (40, 480),
        ];
        for (attempts, minutes) in table {
            assert_eq!(backoff(attempts), Duration::minutes(minutes), "{attempts}");
        }
    }
}
