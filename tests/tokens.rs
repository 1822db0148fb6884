//! Signed reply tokens through the real ingest and outbox paths, on both backends: the
//! `Reply-To: support-smsu+TOKEN@…` we send, the reply that comes back to it (joining its
//! ticket whatever its subject and headers), and every way a token must fail: altered,
//! another offer's, used by someone it was not sent to. Also our signed Message-IDs: a forged
//! `…@our-domain` id is no longer taken for an echo of ours. The token itself is
//! `domain::token` (table and property tests there).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use common::app::{App, created};
use common::{GEFORP_ADDRESS as GEFORP, SMSU_ADDRESS as SMSU, mail};
use guichet::channels::mail::parse;
use guichet::domain::token::{Token, TokenKey};
use guichet::domain::{InboundEmail, TenantId, TicketId};
use guichet::service::ingest::IngestOutcome;

const KEY: &str = "test-reply-token-key-0123456789abcdef";
const JEANNE: &str = "jeanne@univ-lorraine.example";
const SECRETARY: &str = "secretariat@univ-lorraine.example";
const MALLORY: &str = "mallory@univ-rennes.example";
/// Our Message-IDs end so (`mail.message_id_domain` defaults to the first support address's
/// domain).
const OUR_SUFFIX: &str = ".guichet@esup-portail.example";

/// The app with `mail.hmac_key` set: reply tokens on.
async fn with_key(mut app: App) -> App {
    app.reconfigure(|s| s.mail = format!("hmac_key = \"{KEY}\""))
        .await;
    app
}

/// The ticket the message was added to.
fn appended(outcome: &IngestOutcome) -> String {
    match outcome {
        IngestOutcome::Appended { ticket, .. } => ticket.to_string(),
        other => panic!("expected an article in an existing ticket, got {other:?}"),
    }
}

/// Sends the offer's outbox and parses the acknowledgement queued last, found by its
/// Message-ID among the files written.
async fn last_sent(app: &App, code: &str) -> InboundEmail {
    app.send_outbox(code).await;
    let row = app.acks(code).await.pop().expect("a queued mail");
    app.sent_files()
        .iter()
        .map(|p| parse(&std::fs::read(p).unwrap()).expect("our mail parses"))
        .find(|m| m.message_id.as_str() == row.message_id)
        .expect("the queued mail was written")
}

/// The Reply-To address of the acknowledgement `code` sent last.
async fn reply_address(app: &App, code: &str) -> String {
    let sent = last_sent(app, code).await;
    assert_eq!(sent.reply_to.len(), 1, "one Reply-To");
    sent.reply_to[0].address.clone()
}

/// Opens Jeanne's ticket in `code` (`to` its support address) and returns the Reply-To of its
/// acknowledgement.
async fn jeanne_opens(app: &App, code: &str, to: &str, id: &str) -> String {
    let first = mail(JEANNE, to, "Les SMS ne partent plus", id, "");
    created(&app.ingest(code, &first).await);
    reply_address(app, code).await
}

fn articles_of(view: &guichet::service::operator::TicketView) -> usize {
    view.articles.len()
}

fn links(view: &guichet::service::operator::TicketView) -> Vec<(String, TicketId)> {
    view.links
        .iter()
        .map(|l| (l.relation.to_string(), l.other_id))
        .collect()
}

async fn a_reply_with_its_token_joins_with_another_subject_and_no_references(app: App) {
    let app = with_key(app).await;
    let reply_to = jeanne_opens(&app, "SMSU", SMSU, "t1@univ-lorraine.example").await;
    assert!(reply_to.starts_with("support-smsu+"), "{reply_to}");
    // A new subject, no In-Reply-To, no References, no tag: only the address carries it,
    // lower-cased on the way as some MTAs do.
    let reply = mail(
        JEANNE,
        &reply_to.to_lowercase(),
        "autre chose",
        "t2@univ-lorraine.example",
        "",
    );
    assert_eq!(appended(&app.ingest("SMSU", &reply).await), "I-000001");
    assert_eq!(articles_of(&app.show("SMSU", "I-000001").await), 2);
    assert_eq!(app.tickets("SMSU").await.len(), 1);
}

async fn a_token_in_the_envelope_alone_joins_too(app: App) {
    let app = with_key(app).await;
    let reply_to = jeanne_opens(&app, "SMSU", SMSU, "e1@univ-lorraine.example").await;
    // The MTA saw the plus-address; the headers name the bare one.
    let delivered = format!("Delivered-To: {reply_to}\r\n");
    let reply = mail(
        JEANNE,
        SMSU,
        "suite",
        "e2@univ-lorraine.example",
        &delivered,
    );
    assert_eq!(appended(&app.ingest("SMSU", &reply).await), "I-000001");
}

async fn another_offers_token_crosses_nothing(app: App) {
    let app = with_key(app).await;
    // Jeanne has ticket id 1 in both offers; GEFORP's token names its own ticket 1.
    jeanne_opens(&app, "SMSU", SMSU, "o1@univ-lorraine.example").await;
    let geforp_reply_to = jeanne_opens(&app, "GEFORP", GEFORP, "o2@univ-lorraine.example").await;
    let token = geforp_reply_to
        .split_once('+')
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(t, _)| t.to_owned())
        .expect("token in the address");
    let pasted = format!("support-smsu+{token}@esup-portail.example");
    let reply = mail(JEANNE, &pasted, "autre", "o3@univ-lorraine.example", "");
    assert_eq!(created(&app.ingest("SMSU", &reply).await), "I-000002");
    let new = app.show("SMSU", "I-000002").await;
    assert!(links(&new).is_empty(), "no link: {:?}", links(&new));
    assert_eq!(articles_of(&app.show("SMSU", "I-000001").await), 1);
    assert_eq!(articles_of(&app.show("GEFORP", "I-000001").await), 1);
}

async fn a_token_with_one_character_changed_is_unknown(app: App) {
    let app = with_key(app).await;
    let reply_to = jeanne_opens(&app, "SMSU", SMSU, "f1@univ-lorraine.example").await;
    let at = reply_to.find('@').expect("address");
    let mut chars: Vec<char> = reply_to.chars().collect();
    // The MAC's last character, changed to another base32 letter.
    chars[at - 1] = if chars[at - 1] == 'a' { 'b' } else { 'a' };
    let altered: String = chars.into_iter().collect();
    let reply = mail(JEANNE, &altered, "suite", "f2@univ-lorraine.example", "");
    assert_eq!(created(&app.ingest("SMSU", &reply).await), "I-000002");
    assert_eq!(articles_of(&app.show("SMSU", "I-000001").await), 1);
}

async fn a_token_used_by_someone_else_entitles_nobody(app: App) {
    let app = with_key(app).await;
    let reply_to = jeanne_opens(&app, "SMSU", SMSU, "s1@univ-lorraine.example").await;
    // Mallory got Jeanne's acknowledgement forwarded and answers it, tag and all.
    let reply = mail(
        MALLORY,
        &reply_to,
        "Re: [SMSU I-000001] moi aussi",
        "s2@univ-rennes.example",
        "",
    );
    assert_eq!(created(&app.ingest("SMSU", &reply).await), "I-000002");
    let jeanne = app.show("SMSU", "I-000001").await;
    let mallory = app.show("SMSU", "I-000002").await;
    assert_eq!(
        articles_of(&jeanne),
        1,
        "nothing of Mallory's in Jeanne's ticket"
    );
    assert_eq!(
        links(&mallory),
        [("possibly_related".to_owned(), jeanne.ticket.id)]
    );
}

async fn answering_our_mail_sent_to_that_very_address_is_entitlement(app: App) {
    let app = with_key(app).await;
    // Jeanne asks for answers to go to her secretariat (same university): the
    // acknowledgement is sent there.
    let first = mail(
        JEANNE,
        SMSU,
        "Les SMS ne partent plus",
        "m1@univ-lorraine.example",
        &format!("Reply-To: {SECRETARY}\r\n"),
    );
    created(&app.ingest("SMSU", &first).await);
    let ack = last_sent(&app, "SMSU").await;
    assert_eq!(ack.to[0].address, SECRETARY);
    // The secretariat is no participant, and answers our mail to the bare address with
    // another subject: its answering our Message-ID, sent to it, is enough.
    let parent = format!("In-Reply-To: {}\r\n", ack.message_id.bracketed());
    let reply = mail(
        SECRETARY,
        SMSU,
        "précision",
        "m2@univ-lorraine.example",
        &parent,
    );
    assert_eq!(appended(&app.ingest("SMSU", &reply).await), "I-000001");
    // Someone else citing the same id is not entitled by it.
    let other = mail(
        MALLORY,
        SMSU,
        "précision",
        "m3@univ-rennes.example",
        &parent,
    );
    assert_eq!(created(&app.ingest("SMSU", &other).await), "I-000002");
    assert_eq!(articles_of(&app.show("SMSU", "I-000001").await), 2);
}

async fn a_forged_id_on_our_domain_no_longer_silences_the_acknowledgement(app: App) {
    let forged = "0123abcd.guichet@esup-portail.example";
    let first = mail(JEANNE, SMSU, "Panne", forged, "");
    // Without a key our ids are recognised by their domain: the forgery passes for our echo.
    match app.ingest("SMSU", &first).await {
        IngestOutcome::Created { acknowledged, .. } => assert!(!acknowledged),
        other => panic!("expected a new ticket, got {other:?}"),
    }
    let app = with_key(app).await;
    let second = mail(
        JEANNE,
        SMSU,
        "Panne",
        "9876fedc.guichet@esup-portail.example",
        "",
    );
    match app.ingest("SMSU", &second).await {
        IngestOutcome::Created { acknowledged, .. } => {
            assert!(acknowledged, "a person's mail, acknowledged")
        }
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

async fn our_mail_carries_the_token_of_its_first_recipient_and_a_signed_id(app: App) {
    let app = with_key(app).await;
    created(
        &app.ingest(
            "SMSU",
            &mail(JEANNE, SMSU, "Panne", "r1@univ-lorraine.example", ""),
        )
        .await,
    );
    let sent = last_sent(&app, "SMSU").await;
    let reply_to = &sent.reply_to[0].address;
    let (base, token) = guichet::domain::routing::split_plus(reply_to);
    assert_eq!(base, SMSU);
    let token = Token::parse(&token.expect("a plus-token")).expect("token shape");
    let key = TokenKey::new(KEY).unwrap();
    let ticket = app.tickets("SMSU").await[0].id;
    let smsu = TenantId::parse("SMSU").unwrap();
    assert_eq!(key.verify(&token, &smsu, JEANNE), Some(ticket));
    assert_eq!(key.verify(&token, &smsu, MALLORY), None);
    // `<uuid>.<signature>.guichet@domain`, and it verifies.
    let id = sent.message_id.as_str();
    let unique = id.strip_suffix(OUR_SUFFIX).expect("our suffix");
    assert_eq!(unique.matches('.').count(), 1, "{id}");
    assert!(app.ctx.our_ids().is_ours(&sent.message_id), "{id}");
}

async fn without_a_key_no_reply_to_and_unsigned_ids(app: App) {
    created(
        &app.ingest(
            "SMSU",
            &mail(JEANNE, SMSU, "Panne", "n1@univ-lorraine.example", ""),
        )
        .await,
    );
    let sent = last_sent(&app, "SMSU").await;
    assert!(sent.reply_to.is_empty(), "{:?}", sent.reply_to);
    let id = sent.message_id.as_str();
    let unique = id.strip_suffix(OUR_SUFFIX).expect("our suffix");
    assert!(!unique.contains('.'), "no signature: {id}");
    assert!(app.ctx.our_ids().is_ours(&sent.message_id), "{id}");
}

/// A DSN from a bare `MAILER-DAEMON` reporting `failed` for good, returning the headers of
/// our mail as a relay rewrote them: its Message-ID is the relay's, its Reply-To ours.
fn bounce_returning(failed: &str, reply_to: &str, id: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON <>\r\nTo: {SMSU}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Message-ID: <{id}>\r\nDate: Mon, 23 Nov 2026 09:05:00 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nI could not deliver your message.\r\n\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.univ-lorraine.example\r\n\r\n\
         Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
         --b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {SMSU}\r\nReply-To: {reply_to}\r\n\
         To: {failed}\r\nMessage-ID: <rewritten-{id}>\r\nSubject: Votre demande\r\n\r\n--b--\r\n"
    )
    .into_bytes()
}

async fn a_bounce_whose_message_id_was_rewritten_is_matched_by_its_returned_token(app: App) {
    let app = with_key(app).await;
    let reply_to = jeanne_opens(&app, "SMSU", SMSU, "bt1@univ-lorraine.example").await;
    let r = app.tickets("SMSU").await[0].reference().to_string();
    let bounce = bounce_returning(JEANNE, &reply_to, "bt2@mx.univ-lorraine.example");
    assert_eq!(appended(&app.ingest("SMSU", &bounce).await), r);
    assert_eq!(app.tickets("SMSU").await.len(), 1, "no ticket of its own");
    let view = app.show("SMSU", &r).await;
    let note = view.articles.last().expect("the note");
    assert_eq!(note.direction, guichet::domain::Direction::Internal);
    assert!(
        note.body_text
            .contains(&format!("{JEANNE}: permanent (5.1.1)")),
        "{}",
        note.body_text
    );
    // Jeanne is marked bouncing: her next mail opens a ticket, unacknowledged.
    let again = mail(JEANNE, SMSU, "Autre panne", "bt3@univ-lorraine.example", "");
    assert!(matches!(
        app.ingest("SMSU", &again).await,
        IngestOutcome::Created {
            acknowledged: false,
            ..
        }
    ));
}

async fn a_returned_token_issued_to_another_recipient_matches_nothing(app: App) {
    let app = with_key(app).await;
    let reply_to = jeanne_opens(&app, "SMSU", SMSU, "bm1@univ-lorraine.example").await;
    // Jeanne's token in a bounce that reports Mallory: not the mail we sent to Mallory.
    let bounce = bounce_returning(MALLORY, &reply_to, "bm2@mx.univ-rennes.example");
    let outcome = app.ingest("SMSU", &bounce).await;
    assert!(
        !matches!(outcome, IngestOutcome::Appended { .. }),
        "{outcome:?}"
    );
    let r = app.tickets("SMSU").await[0].reference().to_string();
    assert_eq!(app.show("SMSU", &r).await.articles.len(), 1, "no note");
}

on_both_backends!(
    a_reply_with_its_token_joins_with_another_subject_and_no_references,
    a_token_in_the_envelope_alone_joins_too,
    another_offers_token_crosses_nothing,
    a_token_with_one_character_changed_is_unknown,
    a_token_used_by_someone_else_entitles_nobody,
    answering_our_mail_sent_to_that_very_address_is_entitlement,
    a_forged_id_on_our_domain_no_longer_silences_the_acknowledgement,
    our_mail_carries_the_token_of_its_first_recipient_and_a_signed_id,
    without_a_key_no_reply_to_and_unsigned_ids,
    a_bounce_whose_message_id_was_rewritten_is_matched_by_its_returned_token,
    a_returned_token_issued_to_another_recipient_matches_nothing,
);
