//! Which ticket a reply lands in, through the real ingest path on both backends: the reopen
//! window of a finished ticket (on the manual clock), a stranger naming someone else's ticket,
//! machine mail that must never bring a ticket back. The rules themselves are
//! `domain::threading`; these check the service applies them and records their links.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use common::app::{App, created, recipients};
use common::{AGENT, COLLEAGUE, GEFORP_ADDRESS as GEFORP, SMSU_ADDRESS as SMSU, mail};
use guichet::domain::{ParticipantRole, Status, TicketId};
use guichet::service::ingest::IngestOutcome;

const JEANNE: &str = "jeanne@univ-lorraine.example";

/// The ticket the message was added to, and whether that reopened it.
fn appended(outcome: &IngestOutcome) -> (String, bool) {
    match outcome {
        IngestOutcome::Appended {
            ticket, reopened, ..
        } => (ticket.to_string(), *reopened),
        other => panic!("expected an article in an existing ticket, got {other:?}"),
    }
}

fn participant_emails(view: &guichet::service::operator::TicketView) -> Vec<String> {
    view.participants
        .iter()
        .filter_map(|p| p.email.clone())
        .collect()
}

/// (relation, other ticket id) of each link of a ticket.
fn links(view: &guichet::service::operator::TicketView) -> Vec<(String, TicketId)> {
    view.links
        .iter()
        .map(|l| (l.relation.to_string(), l.other_id))
        .collect()
}

/// The ticket's events but its service-level clocks' (`sla_*`, tests/sla.rs).
fn event_kinds(view: &guichet::service::operator::TicketView) -> Vec<String> {
    view.events
        .iter()
        .map(|e| e.kind.to_string())
        .filter(|k| !k.starts_with("sla_"))
        .collect()
}

// ----- a stranger naming someone else's ticket -----

async fn a_strangers_guessed_tag_opens_a_linked_ticket_instead(app: App) {
    let first = mail(JEANNE, SMSU, "Mot de passe", "g1@univ-lorraine.example", "");
    assert_eq!(created(&app.ingest("SMSU", &first).await), "I-000001");
    // Someone of another institution writes with Jeanne's ticket ref in the subject.
    let guess = mail(
        "mallory@univ-rennes.example",
        SMSU,
        "Re: [SMSU I-000001] moi aussi",
        "g2@univ-rennes.example",
        "",
    );
    assert_eq!(created(&app.ingest("SMSU", &guess).await), "I-000002");
    let jeanne = app.show("SMSU", "I-000001").await;
    let mallory = app.show("SMSU", "I-000002").await;
    assert_eq!(
        jeanne.articles.len(),
        1,
        "nothing of Mallory's in Jeanne's ticket"
    );
    assert_eq!(
        participant_emails(&jeanne),
        [JEANNE],
        "so replies never reach Mallory"
    );
    assert_eq!(jeanne.ticket.status, Status::New, "nothing changed there");
    assert_eq!(event_kinds(&jeanne), ["created"]);
    // Linked both ways as "possibly related", for an agent to judge.
    assert_eq!(
        links(&mallory),
        [("possibly_related".to_owned(), jeanne.ticket.id)]
    );
    assert_eq!(
        links(&jeanne),
        [("possibly_related".to_owned(), mallory.ticket.id)]
    );
    assert_eq!(
        participant_emails(&mallory),
        ["mallory@univ-rennes.example"]
    );
    assert_eq!(mallory.articles.len(), 1);
    // Mallory is acknowledged on her own ticket, under its own ref; Jeanne's gets no mail.
    let outbox = app.acks("SMSU").await;
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox[1].ticket_id, Some(mallory.ticket.id));
    assert_eq!(recipients(&outbox[1]), ["mallory@univ-rennes.example"]);
    let templates: Vec<&str> = jeanne.outbox.iter().map(|o| o.template.as_str()).collect();
    assert_eq!(
        templates,
        ["ticket_created", "new_ticket"],
        "only Jeanne's own acknowledgement, and the agent's notice of her ticket"
    );

    // Someone of Jeanne's domain whom guichet knows only from an earlier mail of theirs is
    // still no colleague: anyone can write from a new address of a university's domain. An
    // agent may use the tag. (Configured colleagues may too: tests/hardening.rs.)
    let earlier = mail(
        "paul@univ-lorraine.example",
        SMSU,
        "Autre chose",
        "g0@univ-lorraine.example",
        "",
    );
    assert_eq!(created(&app.ingest("SMSU", &earlier).await), "I-000003");
    let colleague = mail(
        "paul@univ-lorraine.example",
        SMSU,
        "RE: [SMSU I-000001] idem",
        "g3@univ-lorraine.example",
        "",
    );
    assert_eq!(created(&app.ingest("SMSU", &colleague).await), "I-000004");
    let fourth = app.show("SMSU", "I-000004").await;
    assert_eq!(
        links(&fourth),
        [("possibly_related".to_owned(), jeanne.ticket.id)]
    );
    let agent = mail(
        AGENT,
        SMSU,
        "RE: [SMSU I-000001] vu",
        "g4@univ-rennes.example",
        "",
    );
    assert_eq!(
        appended(&app.ingest("SMSU", &agent).await),
        ("I-000001".to_owned(), false)
    );
    let jeanne = app.show("SMSU", "I-000001").await;
    assert_eq!(jeanne.articles.len(), 2);
    assert!(
        jeanne.ticket.first_response_at.is_some(),
        "an agent's mail answers the ticket"
    );
    let mut emails = participant_emails(&jeanne);
    emails.sort();
    assert_eq!(emails, [JEANNE, AGENT], "the agent joined");
}

// ----- machine mail -----

async fn machine_mail_never_reopens_a_resolved_ticket_nor_gets_an_answer(app: App) {
    let first = mail(JEANNE, SMSU, "Panne", "a1@univ-lorraine.example", "");
    let r = created(&app.ingest("SMSU", &first).await);
    app.set_status("SMSU", &r, Status::Resolved)
        .await
        .expect("resolve");
    let ack = app.outbox("SMSU").await[0].message_id.clone();
    // An out-of-office reply from the requester, by header and tag, within the window...
    let ooo = mail(
        JEANNE,
        SMSU,
        "Absente : [SMSU I-000001] Panne",
        "a2@univ-lorraine.example",
        "Auto-Submitted: auto-replied\r\nIn-Reply-To: <a1@univ-lorraine.example>\r\n",
    );
    // ...a bounce of our acknowledgement from a mailer daemon...
    let bounce = mail(
        "mailer-daemon@univ-lorraine.example",
        SMSU,
        "Undelivered Mail Returned to Sender",
        "a3@mx.univ-lorraine.example",
        &format!("In-Reply-To: <{ack}>\r\nAuto-Submitted: auto-replied\r\n"),
    );
    // ...and, long past the window, a list robot answering by tag (Precedence: bulk).
    let robot = mail(
        JEANNE,
        SMSU,
        "Re: [SMSU I-000001] Panne",
        "a4@univ-lorraine.example",
        "Precedence: bulk\r\n",
    );
    let window = app.offer("SMSU").reopen_window;
    for (name, m, later) in [
        ("out-of-office", &ooo, chrono::Duration::zero()),
        ("bounce", &bounce, chrono::Duration::zero()),
        (
            "past the window",
            &robot,
            window + chrono::Duration::days(1),
        ),
    ] {
        app.advance(later);
        let outcome = app.ingest("SMSU", m).await;
        assert_eq!(
            appended(&outcome),
            (r.clone(), false),
            "{name}: kept with its ticket, never reopening it nor opening a follow-up"
        );
    }
    let view = app.show("SMSU", &r).await;
    assert_eq!(view.ticket.status, Status::Resolved);
    assert_eq!(view.articles.len(), 4);
    assert!(
        !event_kinds(&view).iter().any(|k| k == "reopened"),
        "{:?}",
        event_kinds(&view)
    );
    assert_eq!(app.tickets("SMSU").await.len(), 1, "no follow-up ticket");
    assert!(view.links.is_empty());
    assert_eq!(participant_emails(&view), [JEANNE], "no robot joins");
    // Machine mail naming no ticket opens one, unanswered: an answer could start a loop.
    let lost = mail(
        "mailer-daemon@univ-lorraine.example",
        SMSU,
        "Delivery Status Notification",
        "a5@mx.univ-lorraine.example",
        "Auto-Submitted: auto-replied\r\n",
    );
    let outcome = app.ingest("SMSU", &lost).await;
    assert!(
        matches!(
            &outcome,
            IngestOutcome::Created {
                acknowledged: false,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(
        app.acks("SMSU").await.len(),
        1,
        "machine mail is never answered: only the first acknowledgement"
    );
}

// ----- forwards -----

async fn a_forward_with_a_tag_opens_a_new_linked_ticket(app: App) {
    let first = mail(JEANNE, SMSU, "Mot de passe", "f1@univ-lorraine.example", "");
    assert_eq!(created(&app.ingest("SMSU", &first).await), "I-000001");
    // Jeanne herself, a participant, forwards a mail that carried her ticket's tag: what she
    // forwards is another matter, shown with the ticket's subject, not an answer in it.
    let forward = mail(
        JEANNE,
        SMSU,
        "TR: Re: [SMSU I-000001] Mot de passe",
        "f2@univ-lorraine.example",
        "",
    );
    assert_eq!(created(&app.ingest("SMSU", &forward).await), "I-000002");
    let old = app.show("SMSU", "I-000001").await;
    let new = app.show("SMSU", "I-000002").await;
    assert_eq!(old.articles.len(), 1, "nothing appended by the tag");
    assert_eq!(
        links(&new),
        [("possibly_related".to_owned(), old.ticket.id)]
    );
    assert_eq!(
        links(&old),
        [("possibly_related".to_owned(), new.ticket.id)]
    );
    // The same forward answering one of the ticket's messages does join it: headers are not
    // the forwarded mail's.
    let answering = mail(
        JEANNE,
        SMSU,
        "Fwd: [SMSU I-000001] Mot de passe",
        "f3@univ-lorraine.example",
        "In-Reply-To: <f1@univ-lorraine.example>\r\n",
    );
    assert_eq!(
        appended(&app.ingest("SMSU", &answering).await),
        ("I-000001".to_owned(), false)
    );
}

// ----- copied addresses -----

/// The role each participant of a ticket has, by address, sorted.
fn roles(view: &guichet::service::operator::TicketView) -> Vec<(String, ParticipantRole)> {
    let mut out: Vec<(String, ParticipantRole)> = view
        .participants
        .iter()
        .map(|p| (p.email.clone().unwrap_or_default(), p.role))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

async fn a_copied_entitled_contact_becomes_a_participant(app: App) {
    // Marie is a configured contact of Jeanne's institution: a colleague copied in.
    let first = mail(
        JEANNE,
        SMSU,
        "Imprimante",
        "c1@univ-lorraine.example",
        &format!("Cc: Marie <{COLLEAGUE}>\r\n"),
    );
    let r = created(&app.ingest("SMSU", &first).await);
    assert_eq!(
        roles(&app.show("SMSU", &r).await),
        [
            (JEANNE.to_owned(), ParticipantRole::Requester),
            (COLLEAGUE.to_owned(), ParticipantRole::Cc),
        ]
    );
    // A reply copying the offer's agent (of another institution) brings the agent in too.
    let reply = mail(
        JEANNE,
        SMSU,
        "Re: Imprimante",
        "c2@univ-lorraine.example",
        &format!("In-Reply-To: <c1@univ-lorraine.example>\r\nCc: {AGENT}, {COLLEAGUE}\r\n"),
    );
    appended(&app.ingest("SMSU", &reply).await);
    assert_eq!(
        roles(&app.show("SMSU", &r).await),
        [
            (JEANNE.to_owned(), ParticipantRole::Requester),
            (COLLEAGUE.to_owned(), ParticipantRole::Cc),
            (AGENT.to_owned(), ParticipantRole::Cc),
        ]
    );
    // Machine mail brings no one in, whoever it copies (here it opens a ticket of its own).
    let robot = mail(
        JEANNE,
        SMSU,
        "Absente",
        "c3@univ-lorraine.example",
        &format!("Auto-Submitted: auto-replied\r\nCc: {COLLEAGUE}\r\n"),
    );
    let robot_ticket = created(&app.ingest("SMSU", &robot).await);
    assert_eq!(
        participant_emails(&app.show("SMSU", &robot_ticket).await),
        [JEANNE]
    );
}

async fn a_copied_stranger_does_not_become_a_participant(app: App) {
    // Paul is known only from an earlier mail of his (same institution, not configured):
    // anyone can write from a new address, so he is no colleague; Mallory is not known at all.
    let earlier = mail(
        "paul@univ-lorraine.example",
        SMSU,
        "Autre chose",
        "s0@univ-lorraine.example",
        "",
    );
    created(&app.ingest("SMSU", &earlier).await);
    let first = mail(
        JEANNE,
        SMSU,
        "Imprimante",
        "s1@univ-lorraine.example",
        "Cc: paul@univ-lorraine.example, mallory@univ-rennes.example\r\n",
    );
    let r = created(&app.ingest("SMSU", &first).await);
    assert_eq!(participant_emails(&app.show("SMSU", &r).await), [JEANNE]);
    // Copying creates no contact: Mallory is still unknown to the offer.
    let mut tx = app.ctx.store.begin(&app.offer("SMSU").code).await.unwrap();
    let mallory = tx
        .contact_by_address(
            guichet::store::AddressKind::Email,
            "mallory@univ-rennes.example",
        )
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(mallory.is_none(), "{mallory:?}");
}

async fn a_copy_to_our_own_address_is_ignored(app: App) {
    // Copied to another offer's address (and to herself): no participant but Jeanne, once.
    let first = mail(
        JEANNE,
        SMSU,
        "Imprimante",
        "o1@univ-lorraine.example",
        &format!("Cc: {GEFORP}, support-smsu+incident@esup-portail.example, {JEANNE}\r\n"),
    );
    let r = created(&app.ingest("SMSU", &first).await);
    assert_eq!(
        roles(&app.show("SMSU", &r).await),
        [(JEANNE.to_owned(), ParticipantRole::Requester)]
    );
}

// ----- one mail to two offers -----

/// Checks, through the pipe, what `service::links` does (Maildir copies: tests/hardening.rs).
async fn a_mail_to_two_offers_through_the_pipe_is_linked_with_one_ack_each(app: App) {
    let m = mail(
        JEANNE,
        SMSU,
        "Les deux",
        "t1@univ-lorraine.example",
        &format!("Cc: {GEFORP}\r\n"),
    );
    let delivered = app.deliver(&m).await.expect("deliver");
    assert_eq!(delivered.outcomes.len(), 2);
    for (code, other) in [("SMSU", "GEFORP"), ("GEFORP", "SMSU")] {
        let view = app.show(code, "I-000001").await;
        let linked: Vec<(String, String)> = view
            .offer_links
            .iter()
            .map(|l| (l.other_tenant.to_string(), l.other_ref.to_string()))
            .collect();
        assert_eq!(
            linked,
            [(other.to_owned(), "I-000001".to_owned())],
            "{code}"
        );
        assert_eq!(app.acks(code).await.len(), 1, "{code}: one acknowledgement");
    }
}

// ----- the reopen window -----

async fn a_reply_reopens_within_the_window_and_follows_up_past_it(app: App) {
    let window = app.offer("SMSU").reopen_window;
    let first = mail(JEANNE, SMSU, "Panne", "w1@univ-lorraine.example", "");
    let r = created(&app.ingest("SMSU", &first).await);
    app.set_status("SMSU", &r, Status::Resolved)
        .await
        .expect("resolve");
    // At the very end of the window (inclusive): the reply reopens the ticket.
    app.advance(window);
    let within = mail(
        JEANNE,
        SMSU,
        "Re: Panne",
        "w2@univ-lorraine.example",
        "In-Reply-To: <w1@univ-lorraine.example>\r\n",
    );
    assert_eq!(
        appended(&app.ingest("SMSU", &within).await),
        (r.clone(), true)
    );
    let view = app.show("SMSU", &r).await;
    assert_eq!(view.ticket.status, Status::InProgress);
    assert_eq!(view.articles.len(), 2);
    assert_eq!(
        event_kinds(&view),
        ["created", "status_changed", "reopened", "article_added"]
    );
    let reopened = view
        .events
        .iter()
        .find(|e| e.kind == guichet::domain::EventKind::Reopened)
        .expect("reopened");
    assert_eq!(reopened.data.0["from"], "resolved");
    assert_eq!(reopened.data.0["to"], "in_progress");
    assert_eq!(
        app.acks("SMSU").await.len(),
        1,
        "a reply is not acknowledged"
    );

    // Resolved again; a reply one minute past the window opens a follow-up ticket instead.
    app.set_status("SMSU", &r, Status::Resolved)
        .await
        .expect("resolve again");
    app.advance(window + chrono::Duration::minutes(1));
    let past = mail(
        JEANNE,
        SMSU,
        "Re: Panne",
        "w3@univ-lorraine.example",
        "In-Reply-To: <w2@univ-lorraine.example>\r\n",
    );
    let outcome = app.ingest("SMSU", &past).await;
    assert!(
        matches!(&outcome, IngestOutcome::Created { ticket, acknowledged: true, .. }
            if ticket.to_string() == "I-000002"),
        "{outcome:?}"
    );
    let old = app.show("SMSU", &r).await;
    let new = app.show("SMSU", "I-000002").await;
    assert_eq!(
        old.ticket.status,
        Status::Resolved,
        "the old ticket stays resolved"
    );
    assert_eq!(old.articles.len(), 2, "the reply is not in the old ticket");
    assert_eq!(links(&new), [("follows_up".to_owned(), old.ticket.id)]);
    assert_eq!(links(&old), [("followed_by".to_owned(), new.ticket.id)]);
    assert_eq!(participant_emails(&new), [JEANNE]);
    assert_eq!(new.articles.len(), 1);
}

on_both_backends!(
    a_strangers_guessed_tag_opens_a_linked_ticket_instead,
    machine_mail_never_reopens_a_resolved_ticket_nor_gets_an_answer,
    a_reply_reopens_within_the_window_and_follows_up_past_it,
    a_forward_with_a_tag_opens_a_new_linked_ticket,
    a_copied_entitled_contact_becomes_a_participant,
    a_copied_stranger_does_not_become_a_participant,
    a_copy_to_our_own_address_is_ignored,
    a_mail_to_two_offers_through_the_pipe_is_linked_with_one_ack_each,
);
