//! Bounces through the real ingest path on both backends: a bounce of our mail becomes an
//! internal note in that mail's ticket (never a ticket of its own, never a quarantine entry,
//! even signed `MAILER-DAEMON` without an address), and a recipient that failed for good gets
//! no mail until `mail.bounce_suppress_days` have passed. What a bounce says is
//! `domain::bounce`; these check the service applies it. Also the other brake on loops: the
//! per-sender limit on acknowledgements.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use common::app::{App, created, recipients};
use common::{COLLEAGUE, SMSU_ADDRESS as SMSU, mail};
use guichet::domain::Direction;
use guichet::service::ingest::IngestOutcome;

const JEANNE: &str = "jeanne@univ-lorraine.example";

/// An RFC 3464 DSN, signed by a mail system without an address, for `recipient` with
/// `status`, returning the headers of our mail `original`.
fn dsn(recipient: &str, status: &str, original: &str, id: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON <>\r\nTo: {SMSU}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Message-ID: <{id}>\r\nDate: Mon, 23 Nov 2026 09:05:00 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nI could not deliver your message.\r\n\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.univ-lorraine.example\r\n\r\n\
         Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n\r\n\
         --b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {SMSU}\r\nTo: {recipient}\r\n\
         Message-ID: <{original}>\r\nSubject: [SMSU I-000001] Panne\r\n\r\n--b--\r\n"
    )
    .into_bytes()
}

fn appended(outcome: &IngestOutcome) -> String {
    match outcome {
        IngestOutcome::Appended {
            ticket,
            reopened: false,
            ..
        } => ticket.to_string(),
        other => panic!("expected a note in an existing ticket, got {other:?}"),
    }
}

fn acknowledged(outcome: &IngestOutcome) -> bool {
    match outcome {
        IngestOutcome::Created { acknowledged, .. } => *acknowledged,
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

async fn a_hard_bounce_of_our_mail_is_a_note_and_suppresses_its_recipient(app: App) {
    let first = mail(JEANNE, SMSU, "Panne", "b1@univ-lorraine.example", "");
    let r = created(&app.ingest("SMSU", &first).await);
    let ack = app.outbox("SMSU").await[0].message_id.clone();

    let bounce = dsn(JEANNE, "5.1.1", &ack, "dsn1@mx.univ-lorraine.example");
    assert_eq!(appended(&app.ingest("SMSU", &bounce).await), r);
    assert_eq!(app.tickets("SMSU").await.len(), 1, "no ticket of its own");
    assert!(app.quarantine("SMSU").await.is_empty(), "not quarantined");
    let view = app.show("SMSU", &r).await;
    let note = view.articles.last().expect("the note");
    assert_eq!(note.direction, Direction::Internal);
    assert!(
        note.author_contact_id.is_none(),
        "the mail system is no contact"
    );
    assert!(
        note.body_text
            .contains(&format!("{JEANNE}: permanent (5.1.1)")),
        "{}",
        note.body_text
    );

    // Jeanne writes again: a ticket, but no acknowledgement to an address that bounces.
    let second = mail(JEANNE, SMSU, "Autre panne", "b2@univ-lorraine.example", "");
    assert!(!acknowledged(&app.ingest("SMSU", &second).await));
    assert_eq!(app.acks("SMSU").await.len(), 1);

    // Once the suppression (`mail.bounce_suppress_days`, 30 by default) is over, she gets
    // mail again.
    app.advance(chrono::Duration::days(31));
    let third = mail(JEANNE, SMSU, "Encore", "b3@univ-lorraine.example", "");
    assert!(acknowledged(&app.ingest("SMSU", &third).await));
    let outbox = app.acks("SMSU").await;
    assert_eq!(recipients(outbox.last().expect("a row")), [JEANNE]);
}

async fn a_soft_bounce_is_a_note_and_suppresses_nothing(app: App) {
    let first = mail(JEANNE, SMSU, "Panne", "s1@univ-lorraine.example", "");
    let r = created(&app.ingest("SMSU", &first).await);
    let ack = app.outbox("SMSU").await[0].message_id.clone();
    let bounce = dsn(JEANNE, "4.2.2", &ack, "dsn2@mx.univ-lorraine.example");
    assert_eq!(appended(&app.ingest("SMSU", &bounce).await), r);
    let second = mail(JEANNE, SMSU, "Autre panne", "s2@univ-lorraine.example", "");
    assert!(acknowledged(&app.ingest("SMSU", &second).await));
}

async fn a_plain_text_bounce_is_matched_by_the_copy_it_returns(app: App) {
    let first = mail(JEANNE, SMSU, "Panne", "q1@univ-lorraine.example", "");
    let r = created(&app.ingest("SMSU", &first).await);
    let ack = app.outbox("SMSU").await[0].message_id.clone();
    // qmail: no MIME structure, a bare MAILER-DAEMON, the original pasted below a marker.
    let bounce = format!(
        "From: MAILER-DAEMON\r\nTo: {SMSU}\r\nSubject: failure notice\r\n\
         Message-ID: <q2@mx.univ-lorraine.example>\r\nDate: Mon, 23 Nov 2026 09:05:00 +0100\r\n\r\n\
         Hi. This is the qmail-send program at mx.univ-lorraine.example.\r\n\
         I'm afraid I wasn't able to deliver your message to the following addresses.\r\n\
         This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n\
         <{JEANNE}>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n\r\n\
         --- Below this line is a copy of the message.\r\n\r\n\
         From: {SMSU}\r\nTo: {JEANNE}\r\nMessage-ID: <{ack}>\r\nSubject: [SMSU I-000001] Panne\r\n\r\n\
         Bonjour\r\n"
    );
    assert_eq!(appended(&app.ingest("SMSU", bounce.as_bytes()).await), r);
    let second = mail(JEANNE, SMSU, "Autre panne", "q3@univ-lorraine.example", "");
    assert!(!acknowledged(&app.ingest("SMSU", &second).await));
}

async fn a_bounce_of_mail_we_never_sent_is_no_note(app: App) {
    let first = mail(JEANNE, SMSU, "Panne", "u1@univ-lorraine.example", "");
    created(&app.ingest("SMSU", &first).await);
    // It names Jeanne's own (inbound) Message-ID, not one of ours: not ours to note.
    let bounce = dsn(
        JEANNE,
        "5.1.1",
        "u1@univ-lorraine.example",
        "dsn3@mx.univ-lorraine.example",
    );
    let outcome = app.ingest("SMSU", &bounce).await;
    assert!(
        !matches!(outcome, IngestOutcome::Appended { .. }),
        "{outcome:?}"
    );
    let second = mail(JEANNE, SMSU, "Autre panne", "u2@univ-lorraine.example", "");
    assert!(
        acknowledged(&app.ingest("SMSU", &second).await),
        "nothing suppressed"
    );
}

// ----- the acknowledgement rate limit -----

async fn acknowledgements_to_one_sender_stop_at_the_limit_until_the_window_passes(app: App) {
    // The defaults: 5 per 60 minutes.
    for n in 1..=5 {
        let m = mail(
            JEANNE,
            SMSU,
            "Panne",
            &format!("r{n}@univ-lorraine.example"),
            "",
        );
        assert!(acknowledged(&app.ingest("SMSU", &m).await), "mail {n}");
    }
    let sixth = mail(JEANNE, SMSU, "Panne", "r6@univ-lorraine.example", "");
    assert!(
        !acknowledged(&app.ingest("SMSU", &sixth).await),
        "a ticket, but no sixth acknowledgement within the hour"
    );
    // Someone else is not held back by Jeanne's count.
    let other = mail(COLLEAGUE, SMSU, "Panne", "r7@univ-lorraine.example", "");
    assert!(acknowledged(&app.ingest("SMSU", &other).await));
    app.advance(chrono::Duration::minutes(61));
    let later = mail(JEANNE, SMSU, "Panne", "r8@univ-lorraine.example", "");
    assert!(acknowledged(&app.ingest("SMSU", &later).await));
    assert_eq!(
        app.tickets("SMSU").await.len(),
        8,
        "every mail opened its ticket"
    );
}

on_both_backends!(
    acknowledgements_to_one_sender_stop_at_the_limit_until_the_window_passes,
    a_hard_bounce_of_our_mail_is_a_note_and_suppresses_its_recipient,
    a_soft_bounce_is_a_note_and_suppresses_nothing,
    a_plain_text_bounce_is_matched_by_the_copy_it_returns,
    a_bounce_of_mail_we_never_sent_is_no_note,
);
