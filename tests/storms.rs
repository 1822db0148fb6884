//! No mail storms (issue 8 item 6), through the real ingest and outbox paths on both backends
//! and the manual clock: notifications about one ticket to one person within
//! `mail.coalesce_minutes` make one mail naming every event; the per-recipient and
//! per-ticket limits hold back the rest, each one recorded on the ticket as a
//! `mail_suppressed` event; acknowledgements never wait but are limited; an agent's reply is
//! neither. The rules themselves are `domain::throttle` (table and property tests there).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use chrono::Duration;
use common::app::{App, created, recipients};
use common::{AGENT, SMSU_ADDRESS as SMSU, mail};
use guichet::channels::mail::parse;
use guichet::clock::Clock as _;
use guichet::domain::{EventKind, InboundEmail, Mailbox, MessageId, OutboxState};
use guichet::notify::Template;
use guichet::service::outbox::{QueuedMail, mail_context, queue_mail};
use guichet::store::OutboxRow;

const JEANNE: &str = "jeanne@univ-lorraine.example";

/// Opens a ticket from Jeanne; returns its ref once its mail has left (the acknowledgement
/// at once, any notice to the agents after the coalescing window), so that the tests' own
/// notifications start afresh.
async fn ticket(app: &App, n: u32) -> String {
    let m = mail(
        JEANNE,
        SMSU,
        &format!("Panne {n}"),
        &format!("storm{n}@univ-lorraine.example"),
        "",
    );
    let r = created(&app.ingest("SMSU", &m).await);
    app.advance(Duration::minutes(3));
    app.send_outbox("SMSU").await;
    r
}

/// Mails queued so far, one per recipient: what the limits have counted.
async fn deliveries(app: &App) -> usize {
    app.outbox("SMSU")
        .await
        .iter()
        .map(|o| recipients(o).len())
        .sum()
}

/// Queues the notification `template` about ticket `r` to `to`, as an event would: the
/// ticket's real context with the event's own fields (from the template's sample, so every
/// field the template needs is there), `new_text` set to `text` when given.
async fn notify(
    app: &App,
    r: &str,
    template: Template,
    to: &str,
    text: Option<&str>,
) -> Option<MessageId> {
    let offer = app.offer("SMSU");
    let ticket = app.show("SMSU", r).await.ticket;
    let recipient = Mailbox::new(None, to);
    let mut context = template.sample_context();
    let real = mail_context(offer, Some(&ticket), &recipient, &ticket.title, None);
    for key in ["offer", "ticket", "recipient", "original_subject"] {
        context[key] = real[key].clone();
    }
    if let Some(text) = text {
        context["new_text"] = serde_json::json!(text);
    }
    let mut tx = app.ctx.store.begin(&offer.code).await.unwrap();
    let queued = queue_mail(
        &app.ctx,
        &mut tx,
        offer,
        QueuedMail {
            ticket: Some(&ticket),
            template,
            to: &[recipient],
            answering: None,
            auto_submitted: Some("auto-generated"),
            context: &context,
            locale: None,
        },
    )
    .await
    .expect("queue");
    tx.commit().await.unwrap();
    queued
}

/// The outbox rows of the offer to `to`, other than those of a ticket's opening (the
/// acknowledgement, the notice to the agents).
async fn notifications_to(app: &App, to: &str) -> Vec<OutboxRow> {
    app.outbox("SMSU")
        .await
        .into_iter()
        .filter(|o| {
            !["ticket_created", "new_ticket"].contains(&o.template.as_str())
                && recipients(o) == [to]
        })
        .collect()
}

/// The `mail_suppressed` events of ticket `r`.
async fn suppressed(app: &App, r: &str) -> Vec<serde_json::Value> {
    app.show("SMSU", r)
        .await
        .events
        .into_iter()
        .filter(|e| e.kind == EventKind::MailSuppressed)
        .map(|e| e.data.0)
        .collect()
}

/// The mails the file transport wrote, parsed.
fn sent(app: &App) -> Vec<InboundEmail> {
    app.sent_files()
        .iter()
        .map(|p| parse(&std::fs::read(p).unwrap()).expect("our mail parses"))
        .collect()
}

async fn three_events_within_the_window_make_one_mail_naming_all_three(app: App) {
    let r = ticket(&app, 1).await;
    let before = app.sent_files().len();
    let first = notify(&app, &r, Template::Assigned, AGENT, None).await;
    app.advance(Duration::seconds(40));
    let second = notify(
        &app,
        &r,
        Template::RequesterReply,
        AGENT,
        Some("Toujours rien."),
    )
    .await;
    app.advance(Duration::seconds(40));
    let third = notify(&app, &r, Template::StatusChanged, AGENT, None).await;
    assert!(first.is_some());
    assert_eq!(second, first, "merged: the same mail, the same Message-ID");
    assert_eq!(third, first);
    assert_eq!(notifications_to(&app, AGENT).await.len(), 1, "one row");

    // Not due before the window has passed since the first event.
    assert_eq!(app.send_outbox("SMSU").await.sent, 0);
    app.advance(Duration::seconds(41));
    assert_eq!(app.send_outbox("SMSU").await.sent, 1);
    assert_eq!(app.sent_files().len(), before + 1);

    let mail = sent(&app)
        .into_iter()
        .find(|m| Some(m.message_id.clone()) == first)
        .expect("the coalesced mail was written");
    assert!(mail.subject.contains("3 changements"), "{}", mail.subject);
    // Each event's own subject, and the new text of the reply.
    for line in [
        "- Demande qui vous est attribuée : Panne 1",
        "- Re: Panne 1",
        "- Demande résolue : Panne 1",
    ] {
        assert!(
            mail.text_body.contains(line),
            "{line:?} in\n{}",
            mail.text_body
        );
    }
    assert!(
        mail.text_body.contains("Toujours rien."),
        "{}",
        mail.text_body
    );
    assert!(suppressed(&app, &r).await.is_empty());
}

async fn events_further_apart_than_the_window_make_separate_mails(app: App) {
    let r = ticket(&app, 2).await;
    let first = notify(&app, &r, Template::Assigned, AGENT, None).await;
    app.advance(Duration::minutes(3));
    app.send_outbox("SMSU").await;
    let second = notify(&app, &r, Template::StatusChanged, AGENT, None).await;
    app.advance(Duration::minutes(3));
    app.send_outbox("SMSU").await;
    assert_ne!(first, second);
    let rows = notifications_to(&app, AGENT).await;
    let templates: Vec<&str> = rows.iter().map(|o| o.template.as_str()).collect();
    assert_eq!(
        templates,
        ["assigned", "status_changed"],
        "each its own mail"
    );
    // A mail already sent is never merged into: a third event starts a new one.
    let third = notify(&app, &r, Template::Assigned, AGENT, None).await;
    assert!(third.is_some() && third != second);
}

async fn a_notification_never_joins_a_mail_a_worker_has_claimed(app: App) {
    let r = ticket(&app, 7).await;
    let first = notify(&app, &r, Template::Assigned, AGENT, None).await;
    app.advance(Duration::minutes(2));
    // A worker claims it (and is sending it) when the next event comes.
    let now = app.clock.now();
    let mut tx = app.ctx.store.begin(&app.offer("SMSU").code).await.unwrap();
    let claimed = tx
        .claim_outbox("other-daemon", now, Duration::minutes(5), 50)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(claimed.len(), 1);
    let second = notify(&app, &r, Template::StatusChanged, AGENT, None).await;
    assert!(second.is_some() && second != first, "a mail of its own");
    let rows = notifications_to(&app, AGENT).await;
    let templates: Vec<&str> = rows.iter().map(|o| o.template.as_str()).collect();
    assert_eq!(
        templates,
        ["assigned", "status_changed"],
        "the claimed one unchanged"
    );
}

async fn an_event_for_someone_else_is_not_merged(app: App) {
    let r = ticket(&app, 3).await;
    let agent = notify(&app, &r, Template::Assigned, AGENT, None).await;
    let jeanne = notify(&app, &r, Template::StatusChanged, JEANNE, None).await;
    assert_ne!(agent, jeanne);
    assert_eq!(notifications_to(&app, AGENT).await.len(), 1);
    assert_eq!(notifications_to(&app, JEANNE).await.len(), 1);
}

async fn a_burst_of_fifty_events_mails_up_to_the_recipient_limit_and_records_the_rest(
    mut app: App,
) {
    // Each event its own mail, so that the limit shows.
    app.reconfigure(|s| s.mail = "coalesce_minutes = 0".into())
        .await;
    let r = ticket(&app, 4).await;
    let mut queued = 0;
    for _ in 0..50 {
        queued += usize::from(
            notify(&app, &r, Template::StatusChanged, JEANNE, None)
                .await
                .is_some(),
        );
        app.advance(Duration::seconds(5));
    }
    // 20 an hour (the default), and Jeanne's acknowledgement was one of them.
    assert_eq!(queued, 19);
    assert_eq!(notifications_to(&app, JEANNE).await.len(), 19);
    let held = suppressed(&app, &r).await;
    assert_eq!(held.len(), 31, "every one held back is on the ticket");
    assert!(
        held.iter().all(|e| e["limit"] == "recipient_limit"
            && e["to"] == JEANNE
            && e["mail"] == "status_changed"),
        "{held:?}"
    );
    // An hour later she may get mail again.
    app.advance(Duration::minutes(60));
    assert!(
        notify(&app, &r, Template::StatusChanged, JEANNE, None)
            .await
            .is_some()
    );
}

async fn a_ticket_mails_everyone_together_up_to_the_ticket_limit(mut app: App) {
    app.reconfigure(|s| s.mail = "coalesce_minutes = 0".into())
        .await;
    let r = ticket(&app, 5).await;
    // The acknowledgement (and any notice of the new ticket) counts, within 10 minutes.
    let before = deliveries(&app).await;
    let mut queued = 0;
    for n in 0..50 {
        let to = format!("agent{n}@univ-rennes.example");
        queued += usize::from(
            notify(&app, &r, Template::Assigned, &to, None)
                .await
                .is_some(),
        );
    }
    // 30 per 10 minutes (the default), every recipient together.
    assert_eq!(queued, 30 - before);
    let held = suppressed(&app, &r).await;
    assert_eq!(held.len(), 50 - queued);
    assert!(
        held.iter().all(|e| e["limit"] == "ticket_limit"),
        "{held:?}"
    );
    app.advance(Duration::minutes(10));
    assert!(
        notify(&app, &r, Template::Assigned, AGENT, None)
            .await
            .is_some()
    );
}

async fn a_sender_mailing_a_hundred_times_gets_at_most_the_recipient_limit_of_acknowledgements(
    mut app: App,
) {
    // The acknowledgement limit of the loop guard set out of the way: this is its backstop.
    app.reconfigure(|s| s.mail = "ack_limit = 1000".into())
        .await;
    for n in 0..100 {
        let m = mail(
            JEANNE,
            SMSU,
            &format!("Boucle {n}"),
            &format!("loop{n}@univ-lorraine.example"),
            "",
        );
        created(&app.ingest("SMSU", &m).await);
        app.advance(Duration::seconds(10));
    }
    let acks = app
        .outbox("SMSU")
        .await
        .into_iter()
        .filter(|o| o.template == "ticket_created")
        .count();
    assert_eq!(acks, 20, "the default recipient limit");
    // Acknowledgements leave at once: all twenty are sent by one pass now.
    app.send_outbox("SMSU").await;
    let sent = app
        .outbox("SMSU")
        .await
        .into_iter()
        .filter(|o| o.template == "ticket_created" && o.status == OutboxState::Sent)
        .count();
    assert_eq!(sent, 20);
    // Every ticket is there, and the ones not acknowledged say so.
    let tickets = app.tickets("SMSU").await;
    assert_eq!(tickets.len(), 100);
    let last = tickets.iter().max_by_key(|t| t.id).unwrap().reference();
    let held: Vec<_> = suppressed(&app, &last.to_string())
        .await
        .into_iter()
        .filter(|e| e["mail"] == "ticket_created")
        .collect();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["to"], JEANNE);
}

async fn an_agents_reply_is_neither_delayed_nor_limited(mut app: App) {
    app.reconfigure(|s| s.mail = "recipient_limit = 1".into())
        .await;
    let r = ticket(&app, 6).await;
    // The acknowledgement used Jeanne's one mail of the hour.
    assert!(
        notify(&app, &r, Template::StatusChanged, JEANNE, None)
            .await
            .is_none()
    );
    let op = common::app::operator();
    let offer = app.offer("SMSU");
    guichet::service::operator::reply(&app.ctx, offer, &r, &op, "Voici la réponse.")
        .await
        .expect("the reply is queued");
    assert_eq!(
        app.send_outbox("SMSU").await.sent,
        1,
        "sent at once, over the limit"
    );
}

on_both_backends!(
    three_events_within_the_window_make_one_mail_naming_all_three,
    events_further_apart_than_the_window_make_separate_mails,
    an_event_for_someone_else_is_not_merged,
    a_notification_never_joins_a_mail_a_worker_has_claimed,
    a_burst_of_fifty_events_mails_up_to_the_recipient_limit_and_records_the_rest,
    a_ticket_mails_everyone_together_up_to_the_ticket_limit,
    a_sender_mailing_a_hundred_times_gets_at_most_the_recipient_limit_of_acknowledgements,
    an_agents_reply_is_neither_delayed_nor_limited,
);
