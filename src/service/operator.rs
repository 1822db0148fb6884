//! What an operator does from a shell: list and show tickets, reply, add notes, assign, change
//! status, priority and kind, and look after the quarantine. Each change is one transaction with
//! its event; a reply is also an article and a queued mail.

use serde::Serialize;
use serde_json::json;

use super::ingest::{IngestOutcome, ingest};
use super::notices::{self, Event};
use super::{Context, ServiceError};
use crate::config::{OfferConfig, Role};
use crate::domain::finish_times;
use crate::domain::sla::TicketChange;
use crate::domain::{
    Channel, Direction, EventKind, OutboxId, OutboxState, ParticipantRole, QuarantineId,
};
use crate::domain::{Priority, Status, TicketKind, TicketRef};
use crate::store::{
    AddressKind, ArticleRow, AttachmentRow, EventRow, LinkRow, NewArticle, NewEvent, OfferLinkRow,
    OutboxRow, ParticipantRow, QuarantineRow, TicketRow, Tx,
};

/// Everything about one ticket, in order.
#[derive(Debug, Serialize)]
pub struct TicketView {
    pub offer: String,
    #[serde(rename = "ref")]
    pub reference: String,
    pub ticket: TicketRow,
    /// The refs it had before its kind changed, oldest first; they still find it.
    pub former_refs: Vec<String>,
    pub participants: Vec<ParticipantRow>,
    pub articles: Vec<ArticleRow>,
    pub attachments: Vec<AttachmentRow>,
    pub links: Vec<LinkRow>,
    /// Tickets of other offers opened from the same message.
    pub offer_links: Vec<OfferLinkRow>,
    pub events: Vec<EventRow>,
    pub outbox: Vec<OutboxRow>,
    /// Each service-level clock: its state, due time and business time left.
    pub sla: Vec<super::sla::ClockView>,
}

/// Who does an operator action: recorded in events as `cli:<name>`.
pub struct Operator(pub String);

impl Operator {
    fn actor(&self) -> String {
        format!("cli:{}", self.0)
    }
}

pub async fn list_tickets(
    ctx: &Context,
    offer: &OfferConfig,
    status: Option<Status>,
) -> Result<Vec<TicketRow>, ServiceError> {
    let mut tx = ctx.store.begin(&offer.code).await?;
    let rows = tx.list_tickets(status).await?;
    tx.rollback().await?;
    Ok(rows)
}

async fn find(
    tx: &mut Tx,
    offer: &OfferConfig,
    reference: &str,
) -> Result<TicketRow, ServiceError> {
    let r = TicketRef::parse(reference).ok_or_else(|| {
        ServiceError::Refused(format!("{reference:?} is not a ticket ref (like I-000042)"))
    })?;
    tx.ticket_by_ref(r)
        .await?
        .ok_or_else(|| ServiceError::Refused(format!("offer {}: no ticket {r}", offer.code)))
}

/// [`find`], then the ticket read again under a lock ([`Tx::ticket_for_update`]): for the
/// commands whose change depends on the ticket's current status.
async fn find_for_update(
    tx: &mut Tx,
    offer: &OfferConfig,
    reference: &str,
) -> Result<TicketRow, ServiceError> {
    let id = find(tx, offer, reference).await?.id;
    tx.ticket_for_update(id).await?.ok_or_else(|| {
        ServiceError::Refused(format!("offer {}: ticket {reference} vanished", offer.code))
    })
}

pub async fn show(
    ctx: &Context,
    offer: &OfferConfig,
    reference: &str,
) -> Result<TicketView, ServiceError> {
    let mut tx = ctx.store.begin(&offer.code).await?;
    let ticket = find(&mut tx, offer, reference).await?;
    let id = ticket.id;
    let view = TicketView {
        offer: offer.code.to_string(),
        reference: ticket.reference().to_string(),
        former_refs: tx
            .former_refs(id)
            .await?
            .iter()
            .map(TicketRef::to_string)
            .collect(),
        participants: tx.participants(id).await?,
        articles: tx.articles(id).await?,
        attachments: tx.attachments(id).await?,
        links: tx.ticket_links(id).await?,
        offer_links: tx.other_offer_links(id).await?,
        events: tx.events(id).await?,
        outbox: tx.list_outbox(Some(id)).await?,
        sla: super::sla::clocks(ctx, &mut tx, offer, &ticket).await?,
        ticket,
    };
    tx.rollback().await?;
    Ok(view)
}

async fn record(
    tx: &mut Tx,
    ticket: &TicketRow,
    who: &Operator,
    kind: EventKind,
    data: serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ServiceError> {
    let actor = who.actor();
    let event = NewEvent {
        ticket: Some(ticket.id),
        actor: &actor,
        kind,
        data: &data,
        now,
    };
    tx.insert_event(&event).await?;
    Ok(())
}

/// `ticket` read again after this transaction changed it: a notice shows it as it is now.
async fn current(
    tx: &mut Tx,
    offer: &OfferConfig,
    ticket: &TicketRow,
) -> Result<TicketRow, ServiceError> {
    tx.ticket(ticket.id).await?.ok_or_else(|| {
        ServiceError::Refused(format!(
            "offer {}: ticket {} vanished",
            offer.code,
            ticket.reference()
        ))
    })
}

/// An article an operator writes from the shell (`out` for a reply, `internal` for a note).
fn operator_article<'a>(
    ticket: &TicketRow,
    who: &'a Operator,
    direction: Direction,
    body: &'a str,
    now: chrono::DateTime<chrono::Utc>,
) -> NewArticle<'a> {
    NewArticle {
        ticket: ticket.id,
        channel: Channel::Cli,
        direction,
        author: None,
        author_label: Some(&who.0),
        message_id: None,
        in_reply_to: None,
        references: None,
        subject: None,
        body_text: body,
        new_text: None,
        body_html: None,
        raw_sha256: None,
        auto_reason: None,
        now,
    }
}

/// An agent's answer: an outbound article, and a mail to the requester and each participant
/// entitled to the ticket ([`notices`]: a participant of another institution hears nothing).
/// Refused when nobody can be mailed, so that an answer never goes nowhere unnoticed.
pub async fn reply(
    ctx: &Context,
    offer: &OfferConfig,
    reference: &str,
    who: &Operator,
    body: &str,
) -> Result<TicketRef, ServiceError> {
    reply_with_files(ctx, offer, reference, who, body, &[]).await
}

/// [`reply`] with `files` attached: stored as the article's attachments, and sent with each
/// mail of the reply. Refused, with nothing queued, when they weigh more than
/// `mail.max_attachment_bytes` together.
pub async fn reply_with_files(
    ctx: &Context,
    offer: &OfferConfig,
    reference: &str,
    who: &Operator,
    body: &str,
    files: &[crate::domain::Attachment],
) -> Result<TicketRef, ServiceError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(ServiceError::Refused("a reply needs a text".into()));
    }
    super::attachments::within_limit(
        files.iter().map(|f| f.data.len() as u64),
        ctx.config.mail.max_attachment_bytes,
    )?;
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin(&offer.code).await?;
    let ticket = find(&mut tx, offer, reference).await?;
    let event = Event::AgentReply { body, files };
    let queued = notices::notify(ctx, &mut tx, offer, &ticket, &event, None).await?;
    // The article keeps the requester's copy's id (the first): every copy's id is an outbox
    // row's, and replies to any of them thread by it.
    let Some((_, message_id)) = queued.mails.first() else {
        return Err(ServiceError::Refused(format!(
            "{}: nobody entitled to this ticket has an address to mail (our own support \
             addresses and bouncing ones do not count)",
            ticket.reference()
        )));
    };
    let article = tx
        .insert_article(&NewArticle {
            message_id: Some(message_id.as_str()),
            in_reply_to: queued.in_reply_to.as_deref(),
            ..operator_article(&ticket, who, Direction::Out, body, now)
        })
        .await?;
    super::attachments::store(&mut tx, article, files).await?;
    tx.mark_first_response(ticket.id, now).await?;
    record(
        &mut tx,
        &ticket,
        who,
        EventKind::Replied,
        json!({ "article": article, "recipients": queued.mails.len(), "attachments": files.len() }),
        now,
    )
    .await?;
    let answered = TicketChange::AgentAnswered;
    super::sla::on_ticket(ctx, &mut tx, offer, &ticket, answered, &who.actor()).await?;
    tx.commit().await?;
    Ok(ticket.reference())
}

/// An internal note: visible to agents only, never mailed.
pub async fn note(
    ctx: &Context,
    offer: &OfferConfig,
    reference: &str,
    who: &Operator,
    body: &str,
) -> Result<TicketRef, ServiceError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(ServiceError::Refused("a note needs a text".into()));
    }
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin(&offer.code).await?;
    let ticket = find(&mut tx, offer, reference).await?;
    let article = tx
        .insert_article(&operator_article(
            &ticket,
            who,
            Direction::Internal,
            body,
            now,
        ))
        .await?;
    tx.touch_ticket(ticket.id, now).await?;
    record(
        &mut tx,
        &ticket,
        who,
        EventKind::Noted,
        json!({ "article": article }),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ticket.reference())
}

/// Assigns to the agent with this email address (an agent of the offer). A new ticket moves
/// to `assigned`.
pub async fn assign(
    ctx: &Context,
    offer: &OfferConfig,
    reference: &str,
    who: &Operator,
    agent: &str,
) -> Result<TicketRef, ServiceError> {
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin(&offer.code).await?;
    let ticket = find_for_update(&mut tx, offer, reference).await?;
    let contact = tx
        .contact_by_address(AddressKind::Email, agent)
        .await?
        .ok_or_else(|| {
            ServiceError::Refused(format!(
                "offer {}: no contact with address {agent}",
                offer.code
            ))
        })?;
    let roles = tx.contact_roles(contact.id).await?;
    if !roles.iter().any(|r| r == Role::Agent.as_str()) {
        return Err(ServiceError::Refused(format!(
            "offer {}: {agent} is not an agent of this offer",
            offer.code
        )));
    }
    tx.set_assignee(ticket.id, Some(contact.id), now).await?;
    tx.add_participant(ticket.id, contact.id, ParticipantRole::Agent)
        .await?;
    let mut data = json!({ "assignee": contact.id, "previous": ticket.assignee_id });
    if ticket.status == Status::New {
        let times = finish_times(Status::Assigned, ticket.finish_times(), now);
        tx.set_status(ticket.id, Status::Assigned, times, now)
            .await?;
        data["status"] = json!({ "from": "new", "to": "assigned" });
    }
    record(&mut tx, &ticket, who, EventKind::Assigned, data, now).await?;
    let assigned = current(&mut tx, offer, &ticket).await?;
    if assigned.status != ticket.status {
        let change = TicketChange::Status(ticket.status, assigned.status);
        super::sla::on_ticket(ctx, &mut tx, offer, &assigned, change, &who.actor()).await?;
    }
    let change = TicketChange::Assigned;
    super::sla::on_ticket(ctx, &mut tx, offer, &assigned, change, &who.actor()).await?;
    notices::notify(ctx, &mut tx, offer, &assigned, &Event::Assigned, None).await?;
    tx.commit().await?;
    Ok(ticket.reference())
}

pub async fn set_status(
    ctx: &Context,
    offer: &OfferConfig,
    reference: &str,
    who: &Operator,
    to: Status,
) -> Result<TicketRef, ServiceError> {
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin(&offer.code).await?;
    let ticket = find_for_update(&mut tx, offer, reference).await?;
    let to = ticket
        .status
        .transition(to)
        .map_err(|e| ServiceError::Refused(format!("{}: {e}", ticket.reference())))?;
    let times = finish_times(to, ticket.finish_times(), now);
    tx.set_status(ticket.id, to, times, now).await?;
    record(
        &mut tx,
        &ticket,
        who,
        EventKind::StatusChanged,
        json!({ "from": ticket.status, "to": to }),
        now,
    )
    .await?;
    let changed = current(&mut tx, offer, &ticket).await?;
    let change = TicketChange::Status(ticket.status, to);
    super::sla::on_ticket(ctx, &mut tx, offer, &changed, change, &who.actor()).await?;
    // Issue 8: the requester and participants hear of the end of the work (how to reopen,
    // or that it is closed), not of each step before it.
    if matches!(to, Status::Resolved | Status::Closed) {
        let event = Event::StatusChanged {
            from: ticket.status,
            to,
        };
        notices::notify(ctx, &mut tx, offer, &changed, &event, None).await?;
    }
    tx.commit().await?;
    Ok(ticket.reference())
}

/// The ticket's clocks take the budgets of its new priority or kind.
async fn retarget(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    ticket: &TicketRow,
    who: &Operator,
) -> Result<(), ServiceError> {
    let budgets = offer.sla.budgets(ticket.kind, ticket.priority);
    let change = TicketChange::Retargeted(budgets);
    super::sla::on_ticket(ctx, tx, offer, ticket, change, &who.actor()).await
}

pub async fn set_priority(
    ctx: &Context,
    offer: &OfferConfig,
    reference: &str,
    who: &Operator,
    to: Priority,
) -> Result<TicketRef, ServiceError> {
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin(&offer.code).await?;
    let ticket = find(&mut tx, offer, reference).await?;
    if ticket.priority == to {
        return Err(ServiceError::Refused(format!(
            "{}: priority is already {to}",
            ticket.reference()
        )));
    }
    tx.set_priority(ticket.id, to, now).await?;
    record(
        &mut tx,
        &ticket,
        who,
        EventKind::PriorityChanged,
        json!({ "from": ticket.priority, "to": to }),
        now,
    )
    .await?;
    let reference = ticket.reference();
    retarget(
        ctx,
        &mut tx,
        offer,
        &TicketRow {
            priority: to,
            ..ticket
        },
        who,
    )
    .await?;
    tx.commit().await?;
    Ok(reference)
}

/// Changes the ticket's kind (`guichet ticket kind I-000042 request`): it takes the next ref
/// of the new kind, and its old ref still finds it (`ticket show`, a reply's subject tag).
/// Returns the ref it had and the one it has now.
pub async fn set_kind(
    ctx: &Context,
    offer: &OfferConfig,
    reference: &str,
    who: &Operator,
    to: TicketKind,
) -> Result<(TicketRef, TicketRef), ServiceError> {
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin(&offer.code).await?;
    let ticket = find_for_update(&mut tx, offer, reference).await?;
    if ticket.kind == to {
        return Err(ServiceError::Refused(format!(
            "{}: kind is already {to}",
            ticket.reference()
        )));
    }
    let changed = tx.change_ticket_kind(&ticket, to, now).await?;
    let data = json!({
        "from": ticket.kind,
        "to": to,
        "old_ref": ticket.reference().to_string(),
        "new_ref": changed.reference().to_string(),
    });
    record(&mut tx, &changed, who, EventKind::Reclassified, data, now).await?;
    retarget(ctx, &mut tx, offer, &changed, who).await?;
    tx.commit().await?;
    Ok((ticket.reference(), changed.reference()))
}

pub async fn list_quarantine(
    ctx: &Context,
    offer: &OfferConfig,
) -> Result<Vec<QuarantineRow>, ServiceError> {
    let mut tx = ctx.store.begin(&offer.code).await?;
    let rows = tx.list_quarantine().await?;
    tx.rollback().await?;
    Ok(rows)
}

/// The quarantined message's bytes, exactly as received.
pub async fn quarantined_message(
    ctx: &Context,
    offer: &OfferConfig,
    id: QuarantineId,
) -> Result<Vec<u8>, ServiceError> {
    let mut tx = ctx.store.begin(&offer.code).await?;
    let data = tx.quarantine_data(id).await?;
    tx.rollback().await?;
    data.ok_or_else(|| {
        ServiceError::Refused(format!("offer {}: no quarantined message {id}", offer.code))
    })
}

/// Takes a quarantined message in again (after a fix or a raised limit). The entry stays, with
/// the outcome of each replay. A replay that fails again keeps the same entry: the quarantine
/// holds one entry per content (same bytes, same entry), so its reason is updated in place and
/// the outcome reads "quarantined again as" that same id.
pub async fn replay_quarantine(
    ctx: &Context,
    offer: &OfferConfig,
    id: QuarantineId,
) -> Result<IngestOutcome, ServiceError> {
    let mut tx = ctx.store.begin(&offer.code).await?;
    let header_only = tx.quarantine_header_only(id).await?;
    tx.rollback().await?;
    if header_only == Some(true) {
        return Err(ServiceError::Refused(format!(
            "offer {}: quarantined message {id} was over the size limit and only its header \
             was kept: it cannot be taken in (ask its sender to send it again, smaller)",
            offer.code
        )));
    }
    let data = quarantined_message(ctx, offer, id).await?;
    let outcome = ingest(ctx, offer, Channel::Replay, &data).await?;
    let label = match &outcome {
        IngestOutcome::Created { ticket, .. } | IngestOutcome::Appended { ticket, .. } => {
            format!("{} {ticket}", outcome.label())
        }
        IngestOutcome::Quarantined { id, .. } => format!("quarantined again as {id}"),
        other => other.label().to_owned(),
    };
    let mut tx = ctx.store.begin(&offer.code).await?;
    tx.mark_quarantine_replayed(id, &label, ctx.clock.now())
        .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// The offer's outgoing mail, oldest first, only the rows in `state` when given.
pub async fn list_outbox(
    ctx: &Context,
    offer: &OfferConfig,
    state: Option<OutboxState>,
) -> Result<Vec<OutboxRow>, ServiceError> {
    let mut tx = ctx.store.begin(&offer.code).await?;
    let rows = tx.list_outbox(None).await?;
    tx.rollback().await?;
    Ok(rows
        .into_iter()
        .filter(|r| state.is_none_or(|s| r.status == s))
        .collect())
}

/// One outgoing mail of the offer.
pub async fn outbox_row(
    ctx: &Context,
    offer: &OfferConfig,
    id: OutboxId,
) -> Result<OutboxRow, ServiceError> {
    let mut tx = ctx.store.begin(&offer.code).await?;
    let row = outbox_row_in(&mut tx, offer, id).await;
    tx.rollback().await?;
    row
}

/// One more attempt of a mail not sent, due now: a pending one sooner than its backoff, a
/// dead letter once more (it becomes one again if this attempt fails: it is past its
/// `mail.retry_for_hours`). Recorded in the event log, on its ticket when it has one.
pub async fn retry_outbox(
    ctx: &Context,
    offer: &OfferConfig,
    id: OutboxId,
    who: &Operator,
) -> Result<(), ServiceError> {
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin(&offer.code).await?;
    let row = outbox_row_in(&mut tx, offer, id).await?;
    if !tx.retry_outbox(id, now).await? {
        return Err(ServiceError::Refused(format!(
            "offer {}: mail {id} was sent already",
            offer.code
        )));
    }
    record_outbox(&mut tx, &row, who, EventKind::OutboxRetried, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Gives up on a queued mail (status `failed`, "dropped by NAME" as its last error).
pub async fn drop_outbox(
    ctx: &Context,
    offer: &OfferConfig,
    id: OutboxId,
    who: &Operator,
) -> Result<(), ServiceError> {
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin(&offer.code).await?;
    let row = outbox_row_in(&mut tx, offer, id).await?;
    let reason = format!("dropped by {}", who.0);
    if !tx.drop_outbox(id, &reason).await? {
        return Err(ServiceError::Refused(format!(
            "offer {}: mail {id} is not waiting to be sent (it is {})",
            offer.code, row.status
        )));
    }
    record_outbox(&mut tx, &row, who, EventKind::OutboxDropped, now).await?;
    tx.commit().await?;
    Ok(())
}

async fn outbox_row_in(
    tx: &mut Tx,
    offer: &OfferConfig,
    id: OutboxId,
) -> Result<OutboxRow, ServiceError> {
    tx.list_outbox(None)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| no_outbox_row(offer, id))
}

fn no_outbox_row(offer: &OfferConfig, id: OutboxId) -> ServiceError {
    ServiceError::Refused(format!("offer {}: no outgoing mail {id}", offer.code))
}

async fn record_outbox(
    tx: &mut Tx,
    row: &OutboxRow,
    who: &Operator,
    kind: EventKind,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ServiceError> {
    let actor = who.actor();
    let data = serde_json::json!({ "outbox": row.id, "template": row.template });
    tx.insert_event(&NewEvent {
        ticket: row.ticket_id,
        actor: &actor,
        kind,
        data: &data,
        now,
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeDelta, TimeZone, Utc};

    use super::*;
    use crate::clock::ManualClock;
    use crate::notify::Template;
    use crate::store::Store;

    /// A service context over a fresh SQLite store with offer SMSU, on a manual clock.
    async fn context(dir: &std::path::Path) -> (Context, Arc<ManualClock>) {
        let config = crate::config::for_unit_tests(dir, "");
        let store = Store::connect(&crate::app::store_options(&config))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let start = Utc.with_ymd_and_hms(2025, 3, 4, 9, 0, 0).unwrap();
        let clock = Arc::new(ManualClock::new(start));
        let ctx = Context::new(store, Arc::new(config), clock.clone());
        crate::service::sync::sync_all(&ctx).await.unwrap();
        (ctx, clock)
    }

    #[tokio::test]
    async fn reply_answers_the_last_human_message_not_an_auto_reply() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, clock) = context(dir.path()).await;
        let offer = ctx.config.offer("SMSU").unwrap().clone();
        let human = "From: Jeanne <jeanne@univ-rennes.example>\r\n\
                     To: support-smsu@esup-portail.example\r\n\
                     Subject: Envoi SMS en panne\r\nMessage-ID: <human@univ-rennes.example>\r\n\
                     References: <older@univ-rennes.example>\r\n\r\nLes SMS ne partent plus.\r\n";
        ingest(&ctx, &offer, Channel::Pipe, human.as_bytes())
            .await
            .unwrap();
        let mut tx = ctx.store.begin(&offer.code).await.unwrap();
        let ticket = tx.list_tickets(None).await.unwrap().remove(0);
        let ack = tx.list_outbox(Some(ticket.id)).await.unwrap().remove(0);
        tx.rollback().await.unwrap();

        // Her out-of-office answers our acknowledgement, and lands in the ticket.
        clock.advance(TimeDelta::minutes(1));
        let auto_reply = format!(
            "From: Jeanne <jeanne@univ-rennes.example>\r\n\
             To: support-smsu@esup-portail.example\r\nAuto-Submitted: auto-replied\r\n\
             Subject: Absente : [SMSU {r}] Envoi SMS en panne\r\n\
             Message-ID: <ooo@univ-rennes.example>\r\nIn-Reply-To: <{ack}>\r\n\
             References: <{ack}>\r\n\r\nJe suis absente.\r\n",
            r = ticket.reference(),
            ack = ack.message_id
        );
        let outcome = ingest(&ctx, &offer, Channel::Pipe, auto_reply.as_bytes())
            .await
            .unwrap();
        assert!(
            matches!(outcome, IngestOutcome::Appended { .. }),
            "{outcome:?}"
        );

        clock.advance(TimeDelta::minutes(1));
        let who = Operator("paul".into());
        reply(
            &ctx,
            &offer,
            &ticket.reference().to_string(),
            &who,
            "C'est réparé.",
        )
        .await
        .unwrap();
        let mut tx = ctx.store.begin(&offer.code).await.unwrap();
        let outbox = tx.list_outbox(Some(ticket.id)).await.unwrap();
        let articles = tx.articles(ticket.id).await.unwrap();
        tx.rollback().await.unwrap();
        let sent = outbox
            .iter()
            .find(|row| row.template == Template::AgentReply.name())
            .unwrap();
        assert_eq!(
            sent.in_reply_to.as_deref(),
            Some("human@univ-rennes.example")
        );
        assert_eq!(
            sent.references_ids.as_deref(),
            Some("older@univ-rennes.example human@univ-rennes.example")
        );
        assert_eq!(sent.context.0["original_subject"], "Envoi SMS en panne");
        let answer = articles
            .iter()
            .find(|a| a.direction == Direction::Out)
            .unwrap();
        assert_eq!(
            answer.in_reply_to.as_deref(),
            Some("human@univ-rennes.example")
        );
    }
}
