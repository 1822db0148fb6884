//! Notifications about a ticket: the one place that turns what happened to a ticket (it was
//! opened, someone wrote, an agent answered, it was resolved or closed, it was assigned) into
//! queued mails, in the caller's transaction.
//!
//! Who hears of it is [`audience::recipients`]' choice, over the people [`Tx::audience`] loads
//! (the offer's agents and governance contacts, the ticket's participants): nobody else is
//! ever mailed. Each recipient gets a mail of their own: their own Message-ID, reply token and
//! greeting, in their own language when it is known (`contacts.locale`, from the
//! configuration or their own mail), else in the offer's (`offers[].locale`).
//!
//! Threading: a notice about a message threads under that message (the new ticket, the
//! requester's reply); an agent's reply under the requester's last message, as a mail client
//! would; a status change or an assignment under the ticket's latest message written by a
//! person, in or out. The same chain for everyone, rather than the last message each
//! recipient saw: the outbox does not record that per person, and References carry the
//! whole chain anyway.
//!
//! Must not: decide who is entitled (`domain::audience` does), send (the outbox worker
//! does), change the ticket (the caller did, in the same transaction).

use serde_json::json;

use super::outbox::{QueuedMail, Thread, mail_context, queue_mail};
use super::{Context, ServiceError};
use crate::config::OfferConfig;
use crate::domain::audience::{self, Notice, Person, TicketFacts};
use crate::domain::{
    Attachment, ContactId, Direction, InboundEmail, InstitutionId, Mailbox, MessageId,
    ParticipantRole, Status,
};
use crate::notify::Template;
use crate::store::{ArticleRow, AudienceRow, TicketRow, Tx};

/// Lines of a new ticket's text the agents' notice shows: enough to triage, the rest is in
/// the ticket (the template says "beginning of the request").
const NEW_TICKET_LINES: usize = 15;
/// Characters of a new ticket's text the notice shows at most (one long line, pasted logs).
const NEW_TICKET_CHARS: usize = 1500;

/// What happened to a ticket, with what its notice shows.
#[derive(Debug)]
pub enum Event<'a> {
    /// `email` opened the ticket: the agents hear of it (besides the requester's
    /// acknowledgement, which ingest sends). `author` is the template's `author` object.
    NewTicket {
        email: &'a InboundEmail,
        author: serde_json::Value,
    },
    /// The requester or a participant wrote `email` into the ticket: the assignee, or the
    /// agents when nobody is assigned.
    RequesterReply {
        email: &'a InboundEmail,
        author: serde_json::Value,
    },
    /// An agent answered with `body` and `files`: the requester and the entitled
    /// participants.
    AgentReply {
        body: &'a str,
        files: &'a [Attachment],
    },
    /// The ticket went from `from` to `to` (resolved or closed): the requester and the
    /// entitled participants.
    StatusChanged { from: Status, to: Status },
    /// The ticket was assigned to its current assignee: that agent.
    Assigned,
    /// A service-level rung fired (`notice` is [`Notice::SlaWarning`], [`Notice::SlaBreach`]
    /// or [`Notice::Escalated`]): the assignee or the agents, or the people the escalation
    /// level names (`named`). `sla` is the template's `sla` object.
    Sla {
        notice: Notice,
        sla: serde_json::Value,
        named: Vec<ContactId>,
    },
}

impl Event<'_> {
    fn notice(&self) -> Notice {
        match self {
            Event::NewTicket { .. } => Notice::NewTicket,
            Event::RequesterReply { .. } => Notice::RequesterReply,
            Event::AgentReply { .. } => Notice::AgentReply,
            Event::StatusChanged { .. } => Notice::StatusChanged,
            Event::Assigned => Notice::Assigned,
            Event::Sla { notice, .. } => *notice,
        }
    }

    fn template(&self) -> Template {
        match self {
            Event::NewTicket { .. } => Template::NewTicket,
            Event::RequesterReply { .. } => Template::RequesterReply,
            Event::AgentReply { .. } => Template::AgentReply,
            Event::StatusChanged { .. } => Template::StatusChanged,
            Event::Assigned => Template::Assigned,
            Event::Sla { notice, .. } => match notice {
                Notice::SlaWarning => Template::SlaWarning,
                Notice::SlaBreach => Template::SlaBreach,
                _ => Template::Escalated,
            },
        }
    }

    /// The contacts an escalation level names.
    fn named(&self) -> &[ContactId] {
        match self {
            Event::Sla { named, .. } => named,
            _ => &[],
        }
    }

    /// `Auto-Submitted` of its mails: an agent's reply is a person's mail (out-of-office
    /// answers to it are welcome); the rest is generated.
    fn auto_submitted(&self) -> Option<&'static str> {
        match self {
            Event::AgentReply { .. } => None,
            _ => Some("auto-generated"),
        }
    }
}

/// What [`notify`] queued.
#[derive(Debug, Default)]
pub struct Queued {
    /// One mail per recipient, in the order chosen (the requester first, then by contact).
    pub mails: Vec<(ContactId, MessageId)>,
    /// The Message-ID the mails answer (their In-Reply-To), if any.
    pub in_reply_to: Option<String>,
}

/// Queues the notice of `event` on `ticket` (as it is after the change) to each person
/// entitled to it, but `actor` (who caused it, when a contact). Nothing queued is not an
/// error: nobody may be entitled, reachable, or other than the actor.
pub async fn notify(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    ticket: &TicketRow,
    event: &Event<'_>,
    actor: Option<ContactId>,
) -> Result<Queued, ServiceError> {
    let audience = audience_of(ctx, tx, ticket, (event.notice(), event.named()), actor).await?;
    queue_notices(ctx, tx, offer, ticket, event, &audience).await
}

/// The people who may hear of a ticket ([`Tx::audience`]), the requester first, and those of
/// them [`audience::recipients`] chose for the notice.
struct Audience {
    rows: Vec<AudienceRow>,
    chosen: Vec<ContactId>,
}

/// Who hears of `notice` on `ticket`: the first half of [`notify`], which a caller can run
/// before it builds the event, when building it costs reads ([`inbound`]).
async fn audience_of(
    ctx: &Context,
    tx: &mut Tx,
    ticket: &TicketRow,
    (notice, named): (Notice, &[ContactId]),
    actor: Option<ContactId>,
) -> Result<Audience, ServiceError> {
    let mut rows = tx.audience(ticket.id, ctx.clock.now()).await?;
    // Stable: the requester first, so that a caller keeping one Message-ID keeps theirs.
    rows.sort_by_key(|r| r.participant != Some(ParticipantRole::Requester));
    let people: Vec<Person> = rows.iter().map(|r| person(ctx, r)).collect();
    let facts = TicketFacts {
        institution: ticket.institution_id,
        assignee: ticket.assignee_id,
        actor,
    };
    let chosen = audience::recipients(notice, &facts, &people, named);
    Ok(Audience { rows, chosen })
}

/// Queues `event`'s mail to each person of the audience chosen: the second half of
/// [`notify`].
async fn queue_notices(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    ticket: &TicketRow,
    event: &Event<'_>,
    Audience { rows, chosen }: &Audience,
) -> Result<Queued, ServiceError> {
    if chosen.is_empty() {
        return Ok(Queued::default());
    }
    let articles = match event {
        Event::NewTicket { .. } | Event::RequesterReply { .. } => Vec::new(),
        _ => tx.articles(ticket.id).await?,
    };
    let (parent, subject) = answered(event, ticket, &articles);
    let mut queued = Queued {
        in_reply_to: parent.as_ref().map(|(id, _)| id.to_owned()),
        ..Queued::default()
    };
    for row in rows.iter().filter(|r| chosen.contains(&r.contact_id)) {
        // Reachable means an address: the rule listed nobody without one.
        let Some(address) = row.email.as_deref() else {
            continue;
        };
        let to = Mailbox::new(row.name.as_deref(), address);
        let context = context(offer, ticket, &to, subject, event, rows);
        let mail = QueuedMail {
            ticket: Some(ticket),
            template: event.template(),
            to: std::slice::from_ref(&to),
            answering: parent.as_ref().map(|(parent, references)| Thread {
                parent,
                references: references.iter().map(String::as_str).collect(),
            }),
            auto_submitted: event.auto_submitted(),
            context: &context,
            locale: row.locale.as_deref(),
        };
        if let Some(id) = queue_mail(ctx, tx, offer, mail).await? {
            queued.mails.push((row.contact_id, id));
        }
    }
    Ok(queued)
}

/// The notice of a message taken into `ticket` by ingest: [`Event::NewTicket`] when it
/// opened it (`created`), else [`Event::RequesterReply`]. `author` is the sender's contact
/// and institution as ingest resolved them. Machine mail (`automatic`: an out-of-office, a
/// bounce) is nobody's news.
///
/// The audience is read first: the name of the author's institution, which only the mails
/// show, is read only when someone is to get one (on a backlog with nobody to tell, a read
/// less a message; issue 7).
#[expect(
    clippy::too_many_arguments,
    reason = "the ticket, the message and what ingest knows of them, each needed"
)]
pub async fn inbound(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    ticket: &TicketRow,
    email: &InboundEmail,
    author: (ContactId, Option<InstitutionId>),
    created: bool,
    automatic: bool,
) -> Result<(), ServiceError> {
    if automatic {
        return Ok(());
    }
    // `parse` guarantees a sender to mail a person wrote; without one there is nobody to name.
    let Some(sender) = email.from.as_ref().or(email.sender.as_ref()) else {
        return Ok(());
    };
    let (contact, institution) = author;
    let notice = if created {
        Notice::NewTicket
    } else {
        Notice::RequesterReply
    };
    let audience = audience_of(ctx, tx, ticket, (notice, &[]), Some(contact)).await?;
    if audience.chosen.is_empty() {
        return Ok(());
    }
    let institution = match institution {
        Some(id) => tx.institution(id).await?.map(|i| i.name),
        None => None,
    };
    let author = json!({
        "name": sender.name,
        "address": sender.address,
        "institution": institution,
    });
    let event = if created {
        Event::NewTicket { email, author }
    } else {
        Event::RequesterReply { email, author }
    };
    queue_notices(ctx, tx, offer, ticket, &event, &audience).await?;
    Ok(())
}

/// What the rule knows of a person: reachable when they have an address that is not
/// bouncing ([`Tx::audience`] left those out) and not one of our own support addresses.
fn person(ctx: &Context, row: &AudienceRow) -> Person {
    Person {
        contact: row.contact_id,
        agent: row.agent,
        governance: row.governance,
        participant: row.participant,
        institution: row.institution_id,
        reachable: row
            .email
            .as_deref()
            .is_some_and(|a| !ctx.own_addresses().contains(a)),
    }
}

/// The message the notice answers (its Message-ID and References, oldest first) and the
/// subject it answers (see the module doc for which).
fn answered<'a>(
    event: &'a Event<'_>,
    ticket: &'a TicketRow,
    articles: &'a [ArticleRow],
) -> (Option<(String, Vec<String>)>, &'a str) {
    if let Event::NewTicket { email, .. } | Event::RequesterReply { email, .. } = event {
        let references = email.references.iter().map(|m| m.to_string()).collect();
        return (
            Some((email.message_id.to_string(), references)),
            &email.subject,
        );
    }
    let wanted = |a: &&ArticleRow| match event {
        Event::AgentReply { .. } => a.direction == Direction::In,
        _ => a.direction != Direction::Internal,
    };
    // A person's message: not an out-of-office or a bounce that answered ours.
    let last = articles
        .iter()
        .rev()
        .filter(|a| a.auto_reason.is_none() && a.message_id.is_some())
        .find(wanted);
    let Some(article) = last else {
        return (None, &ticket.title);
    };
    let references = article
        .references_ids
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let subject = article.subject.as_deref().unwrap_or(&ticket.title);
    (
        article.message_id.clone().map(|id| (id, references)),
        subject,
    )
}

/// The template context of `event` for `to`: [`mail_context`] and the event's own fields
/// (see `notify`'s module doc for their shapes).
fn context(
    offer: &OfferConfig,
    ticket: &TicketRow,
    to: &Mailbox,
    subject: &str,
    event: &Event<'_>,
    people: &[AudienceRow],
) -> serde_json::Value {
    let body = match event {
        Event::AgentReply { body, .. } => Some(*body),
        _ => None,
    };
    let mut ctx = mail_context(offer, Some(ticket), to, subject, body);
    match event {
        Event::NewTicket { email, author } => {
            ctx["author"] = author.clone();
            ctx["new_text"] = json!(beginning(&email.new_text));
        }
        Event::RequesterReply { email, author } => {
            ctx["author"] = author.clone();
            ctx["new_text"] = json!(email.new_text);
        }
        Event::StatusChanged { from, to } => {
            ctx["status"] = json!({ "from": from.as_str(), "to": to.as_str() });
            ctx["reopen_days"] = json!(offer.reopen_window.num_days());
        }
        Event::Assigned => {
            let assignee = people
                .iter()
                .find(|p| Some(p.contact_id) == ticket.assignee_id);
            let name = assignee.and_then(|p| p.name.clone().or_else(|| p.email.clone()));
            ctx["assignee"] = json!({ "name": name });
        }
        Event::Sla { sla, .. } => ctx["sla"] = sla.clone(),
        Event::AgentReply { files, .. } => {
            ctx["attachments"] = super::attachments::context_of(files);
        }
    }
    ctx
}

/// The first [`NEW_TICKET_LINES`] lines of `text`, at most [`NEW_TICKET_CHARS`] characters,
/// with `[…]` after a cut.
fn beginning(text: &str) -> String {
    let text = text.trim();
    let mut out = String::new();
    let mut cut = false;
    for (i, line) in text.lines().enumerate() {
        if i == NEW_TICKET_LINES {
            cut = true;
            break;
        }
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
    }
    if let Some((at, _)) = out.char_indices().nth(NEW_TICKET_CHARS) {
        out.truncate(at);
        cut = true;
    }
    if cut {
        out.push_str(" […]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_ticket_notice_shows_the_beginning_of_the_text() {
        let long_line = "é".repeat(NEW_TICKET_CHARS + 10);
        let many_lines: String = (1..=20).map(|i| format!("ligne {i}\n")).collect();
        let first_15: Vec<String> = (1..=15).map(|i| format!("ligne {i}")).collect();
        // (text, shown)
        let table = [
            (
                "Bonjour,\n\nÇa ne marche pas.\n",
                "Bonjour,\n\nÇa ne marche pas.".to_owned(),
            ),
            ("", String::new()),
            (many_lines.as_str(), format!("{} […]", first_15.join("\n"))),
            (
                long_line.as_str(),
                format!("{} […]", "é".repeat(NEW_TICKET_CHARS)),
            ),
        ];
        for (text, shown) in table {
            assert_eq!(beginning(text), shown, "{text:?}");
        }
    }
}
