//! Taking mail in and acting on tickets, in process on both backends: what the services decide
//! (outcomes, rows, queued and sent mail), not how the command line words it
//! (tests/cli_deliver.rs and tests/cli_output.rs keep what only a process shows).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use common::app::{App, created, operator, recipients};
use common::{AGENT, GEFORP_ADDRESS as GEFORP, SMSU_ADDRESS as SMSU, mail, read};
use guichet::domain::{Priority, QuarantineId, Status};
use guichet::service::deliver::DeliverError;
use guichet::service::ingest::IngestOutcome;
use guichet::service::operator;

const JEANNE: &str = "jeanne@univ-lorraine.example";

/// The reference of the ticket `outcome` added the message to.
fn appended(outcome: &IngestOutcome) -> String {
    match outcome {
        IngestOutcome::Appended { ticket, .. } => ticket.to_string(),
        other => panic!("expected an article in an existing ticket, got {other:?}"),
    }
}

fn duplicate_of(outcome: &IngestOutcome) -> Option<String> {
    match outcome {
        IngestOutcome::Duplicate { ticket } => ticket.map(|t| t.to_string()),
        other => panic!("expected a duplicate, got {other:?}"),
    }
}

fn quarantined(outcome: &IngestOutcome) -> (QuarantineId, String) {
    match outcome {
        IngestOutcome::Quarantined { id, reason } => (*id, reason.clone()),
        other => panic!("expected a quarantine entry, got {other:?}"),
    }
}

/// A header of a written `.eml` file, unfolded lines only.
fn header<'a>(eml: &'a str, name: &str) -> Option<&'a str> {
    let head = eml.split("\r\n\r\n").next().unwrap_or(eml);
    head.lines()
        .find(|l| {
            l.len() > name.len()
                && l[..name.len()].eq_ignore_ascii_case(name)
                && l[name.len()..].starts_with(':')
        })
        .map(|l| l[name.len() + 1..].trim())
}

// ----- a new ticket and its acknowledgement -----

async fn a_first_mail_opens_a_ticket_and_is_acknowledged(app: App) {
    let m = mail(
        "Jeanne <jeanne@univ-lorraine.example>",
        SMSU,
        "Panne SMS",
        "m1@univ-lorraine.example",
        "",
    );
    let outcome = app.ingest("SMSU", &m).await;
    assert!(
        matches!(&outcome, IngestOutcome::Created { ticket, acknowledged: true, .. }
            if ticket.to_string() == "I-000001"),
        "{outcome:?}"
    );
    let list = app.tickets("SMSU").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].reference().to_string(), "I-000001");
    assert_eq!(list[0].title, "Panne SMS");
    assert_eq!(list[0].status, Status::New);

    // The agent's notice waits `mail.coalesce_minutes` for the next events of the ticket.
    assert_eq!(
        app.send_outbox("SMSU").await.sent,
        1,
        "the acknowledgement, at once"
    );
    app.advance(chrono::Duration::minutes(2));
    let sent = app.send_outbox("SMSU").await.sent;
    assert_eq!(sent, 1, "the agent's notice");
    let files = app.sent_files();
    assert_eq!(files.len(), 2);
    let ack_id = app.acks("SMSU").await[0].message_id.clone();
    let ack = files
        .iter()
        .map(|f| read(f))
        .find(|m| m.contains(&ack_id))
        .expect("the acknowledgement written");
    assert_eq!(
        header(&ack, "To").map(|t| t.contains(JEANNE)),
        Some(true),
        "{ack}"
    );
    assert_eq!(
        header(&ack, "In-Reply-To"),
        Some("<m1@univ-lorraine.example>")
    );
    assert_eq!(
        header(&ack, "References"),
        Some("<m1@univ-lorraine.example>")
    );
    assert_eq!(header(&ack, "Auto-Submitted"), Some("auto-replied"));
    assert!(
        header(&ack, "Subject").is_some_and(|s| s.contains("[SMSU I-000001]")),
        "{ack}"
    );
    let ours = header(&ack, "Message-ID").expect("our Message-ID");
    assert!(ours.ends_with(".guichet@esup-portail.example>"), "{ours}");
    assert!(header(&ack, "From").is_some_and(|f| f.contains(SMSU)));

    let view = app.show("SMSU", "I-000001").await;
    assert_eq!(view.outbox[0].status.to_string(), "sent");
    assert_eq!(view.participants[0].email.as_deref(), Some(JEANNE));
    assert_eq!(view.participants[0].role.to_string(), "requester");
}

// ----- copies and reused ids -----

async fn the_same_message_twice_gives_one_article(app: App) {
    let m = mail(JEANNE, SMSU, "Panne", "twice@univ-lorraine.example", "");
    created(&app.ingest("SMSU", &m).await);
    let again = app.ingest("SMSU", &m).await;
    assert_eq!(duplicate_of(&again).as_deref(), Some("I-000001"));
    assert_eq!(app.tickets("SMSU").await.len(), 1);
    assert_eq!(app.show("SMSU", "I-000001").await.articles.len(), 1);
    assert_eq!(app.acks("SMSU").await.len(), 1, "acknowledged once");
}

async fn a_reused_message_id_with_other_content_is_not_lost(app: App) {
    let first = mail(JEANNE, SMSU, "Panne", "reused@script.example", "");
    let mut second = first.clone();
    second.extend_from_slice(b"Autre chose encore.\r\n");
    assert_eq!(created(&app.ingest("SMSU", &first).await), "I-000001");
    // Not a copy (other content), not a reply either: a ticket of its own, nothing lost.
    assert_eq!(created(&app.ingest("SMSU", &second).await), "I-000002");
    let again = app.ingest("SMSU", &second).await;
    assert_eq!(duplicate_of(&again).as_deref(), Some("I-000002"));
    assert_eq!(app.tickets("SMSU").await.len(), 2);
}

async fn a_message_without_message_id_gets_a_stable_one(app: App) {
    let m = b"From: jeanne@univ-lorraine.example\r\nTo: support-smsu@esup-portail.example\r\nSubject: sans id\r\n\r\nBonjour\r\n";
    created(&app.ingest("SMSU", m).await);
    duplicate_of(&app.ingest("SMSU", m).await);
    let articles = app.show("SMSU", "I-000001").await.articles;
    assert_eq!(
        articles.len(),
        1,
        "the derived id deduplicates the second delivery"
    );
    let id = articles[0].message_id.as_deref().unwrap_or_default();
    assert!(id.ends_with("@generated.guichet.invalid"), "{id}");
}

// ----- threading -----

async fn replies_thread_by_header_and_by_tag(app: App) {
    let first = mail(JEANNE, SMSU, "Panne", "q1@univ-lorraine.example", "");
    created(&app.ingest("SMSU", &first).await);
    let ours = app.outbox("SMSU").await[0].message_id.clone();
    let by_header = mail(
        JEANNE,
        SMSU,
        "Re: Accusé",
        "q2@univ-lorraine.example",
        &format!("In-Reply-To: <{ours}>\r\nReferences: <q1@univ-lorraine.example> <{ours}>\r\n"),
    );
    assert_eq!(appended(&app.ingest("SMSU", &by_header).await), "I-000001");
    let by_tag = mail(
        JEANNE,
        SMSU,
        "RE: [smsu i-1] encore",
        "q3@univ-lorraine.example",
        "",
    );
    assert_eq!(appended(&app.ingest("SMSU", &by_tag).await), "I-000001");
    assert_eq!(app.tickets("SMSU").await.len(), 1);
    assert_eq!(app.show("SMSU", "I-000001").await.articles.len(), 3);
    assert_eq!(
        app.acks("SMSU").await.len(),
        1,
        "follow-ups are not acknowledged again"
    );
}

async fn a_tag_of_another_offer_never_crosses_over(app: App) {
    let smsu = mail(AGENT, SMSU, "Panne", "x1@univ-rennes.example", "");
    created(&app.ingest("SMSU", &smsu).await);
    // Same ref, sent to GEFORP: GEFORP has no I-000001 and must not reach SMSU's.
    let geforp = mail(
        AGENT,
        GEFORP,
        "Re: [SMSU I-000001] Panne",
        "x2@univ-rennes.example",
        "In-Reply-To: <x1@univ-rennes.example>\r\n",
    );
    assert_eq!(created(&app.ingest("GEFORP", &geforp).await), "I-000001");
    assert_eq!(app.show("SMSU", "I-000001").await.articles.len(), 1);
    assert_eq!(app.tickets("GEFORP").await.len(), 1);
}

// ----- machine mail, unknown senders -----

async fn automatic_mail_is_stored_but_not_answered(app: App) {
    let m = mail(
        JEANNE,
        SMSU,
        "Absence",
        "auto1@univ-lorraine.example",
        "Auto-Submitted: auto-replied\r\n",
    );
    let outcome = app.ingest("SMSU", &m).await;
    assert!(
        matches!(&outcome, IngestOutcome::Created { ticket, acknowledged: false, .. }
            if ticket.to_string() == "I-000001"),
        "{outcome:?}"
    );
    assert!(app.outbox("SMSU").await.is_empty());
    let view = app.show("SMSU", "I-000001").await;
    assert_eq!(
        view.articles[0].auto_reason.as_deref(),
        Some("Auto-Submitted: auto-replied")
    );
}

async fn unknown_senders_are_refused_politely_where_the_offer_says_so(mut app: App) {
    app.reconfigure(|s| s.geforp_refuses_strangers = true).await;
    let m = mail(
        "someone@gmail.example",
        GEFORP,
        "Question",
        "u1@gmail.example",
        "",
    );
    let outcome = app.ingest("GEFORP", &m).await;
    assert_eq!(outcome, IngestOutcome::Refused { answered: true });
    assert!(app.tickets("GEFORP").await.is_empty());
    let outbox = app.outbox("GEFORP").await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(recipients(&outbox[0]), ["someone@gmail.example"]);
    assert_eq!(app.send_outbox("GEFORP").await.sent, 1);
    let files = app.sent_files();
    assert_eq!(files.len(), 1);
    let reply = read(&files[0]);
    assert_eq!(header(&reply, "Auto-Submitted"), Some("auto-replied"));
    assert_eq!(header(&reply, "In-Reply-To"), Some("<u1@gmail.example>"));
    // SMSU's policy creates the contact in the institution its domain matches.
    let m = mail(
        "new.person@univ-lorraine.example",
        SMSU,
        "Q",
        "u2@univ-lorraine.example",
        "",
    );
    assert_eq!(created(&app.ingest("SMSU", &m).await), "I-000001");
    let ticket = &app.tickets("SMSU").await[0];
    assert!(ticket.institution_id.is_some(), "{ticket:?}");
}

// ----- the quarantine -----

async fn bad_input_goes_to_quarantine_with_its_reason(mut app: App) {
    app.reconfigure(|s| s.daemon = "max_message_bytes = 20000".into())
        .await;
    let random: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut big = mail(JEANNE, SMSU, "Gros", "big@univ-lorraine.example", "");
    big.extend(std::iter::repeat_n(b'x', 30_000));
    let cases: [(&str, &[u8], &str); 3] = [
        ("random bytes", &random, "not an email message"),
        ("empty input", b"", "empty message"),
        ("over the size limit", &big, "over the limit of 20000 bytes"),
    ];
    for (name, input, reason) in &cases {
        let (id, got) = quarantined(&app.ingest("SMSU", input).await);
        assert!(
            got.contains(reason),
            "{name}: reason {got:?} should say {reason:?}"
        );
        // The exact bytes are kept; of a message over the size limit, only its header.
        let kept: &[u8] = if name.contains("size limit") {
            guichet::domain::message::header_block(input)
        } else {
            input
        };
        assert_eq!(
            &app.quarantined_message("SMSU", id).await,
            kept,
            "{name}: the exact bytes are kept"
        );
    }
    let listed = app.quarantine("SMSU").await;
    assert_eq!(listed.len(), 3);
    for ((name, input, reason), row) in cases.iter().zip(&listed) {
        assert!(row.reason.contains(reason), "{name}: {row:?}");
        assert_eq!(row.size, input.len() as i64, "{name}: the whole size");
        assert_eq!(row.header_only, name.contains("size limit"), "{name}");
    }
    assert!(app.tickets("SMSU").await.is_empty());
    // The store is unaffected: a good message still goes through.
    let ok = mail(JEANNE, SMSU, "OK", "ok@univ-lorraine.example", "");
    assert_eq!(created(&app.ingest("SMSU", &ok).await), "I-000001");
}

async fn a_replayed_quarantine_entry_is_taken_in_again(app: App) {
    let no_from = b"To: support-smsu@esup-portail.example\r\nSubject: sans expediteur\r\nMessage-ID: <nf@x.example>\r\n\r\nbody\r\n";
    let (id, reason) = quarantined(&app.ingest("SMSU", no_from).await);
    assert_eq!(id, QuarantineId(1));
    assert!(reason.contains("no sender address"), "{reason}");
    // Still unusable: the same entry, not a second copy.
    assert_eq!(quarantined(&app.replay("SMSU", id).await).0, id);
    assert_eq!(
        quarantined(&app.ingest("SMSU", no_from).await).0,
        id,
        "a redelivery keeps its entry"
    );
    let listed = app.quarantine("SMSU").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].replay_outcome.as_deref(),
        Some("quarantined again as 1")
    );
}

// ----- routing a delivered message -----

async fn deliver_without_offer_routes_by_recipient(app: App) {
    let m = mail(
        JEANNE,
        "Support <support-smsu+urgent@esup-portail.example>",
        "Panne",
        "r1@x.example",
        "",
    );
    let delivered = app.deliver(&m).await.expect("deliver");
    assert_eq!(delivered.outcomes.len(), 1);
    assert_eq!(delivered.outcomes[0].0.as_str(), "SMSU");
    assert_eq!(created(&delivered.outcomes[0].1), "I-000001");
    let nobody = mail(
        JEANNE,
        "someone@esup-portail.example",
        "Panne",
        "r2@x.example",
        "",
    );
    let refused = app.deliver(&nobody).await;
    assert!(
        matches!(refused, Err(DeliverError::NoOffer)),
        "the MTA bounces: {refused:?}"
    );
}

async fn deliver_without_offer_follows_the_envelope_recipient(mut app: App) {
    app.reconfigure(|s| s.geforp_refuses_strangers = true).await;
    // One mail to both offers; Postfix delivers one copy per recipient, each with its
    // Delivered-To. Each offer must get its own copy.
    let base = |delivered: &str| {
        mail(
            JEANNE,
            &format!("{SMSU}, {GEFORP}"),
            "Pour les deux",
            "both@univ-lorraine.example",
            &format!("Delivered-To: {delivered}\r\n"),
        )
    };
    let to_smsu = app.deliver(&base(SMSU)).await.expect("deliver");
    assert_eq!(to_smsu.outcomes.len(), 1);
    assert_eq!(to_smsu.outcomes[0].0.as_str(), "SMSU");
    assert_eq!(created(&to_smsu.outcomes[0].1), "I-000001");
    let to_geforp = app.deliver(&base(GEFORP)).await.expect("deliver");
    assert_eq!(app.tickets("SMSU").await.len(), 1);
    // GEFORP refuses unknown senders: the copy reached GEFORP and was handled there.
    assert_eq!(to_geforp.outcomes.len(), 1);
    assert_eq!(to_geforp.outcomes[0].0.as_str(), "GEFORP");
    assert!(
        matches!(to_geforp.outcomes[0].1, IngestOutcome::Refused { .. }),
        "{to_geforp:?}"
    );
    // Garbage addressed to an offer is quarantined there rather than bounced.
    let garbage = format!("\u{1}\u{2} to {GEFORP} \u{3}");
    let out = app.deliver(garbage.as_bytes()).await.expect("deliver");
    assert_eq!(out.outcomes.len(), 1);
    assert_eq!(out.outcomes[0].0.as_str(), "GEFORP");
    quarantined(&out.outcomes[0].1);
    assert_eq!(app.quarantine("GEFORP").await.len(), 1);
}

async fn a_nul_in_subject_or_body_never_blocks_a_message(app: App) {
    // NUL in a decoded subject and body: PostgreSQL text cannot hold it. The message must be
    // stored (without the NUL) or quarantined, never fail (the MTA would retry forever).
    let nul = b"From: jeanne@univ-lorraine.example\r\nTo: support-smsu@esup-portail.example\r\n\
Subject: =?utf-8?q?a=00b?=\r\nMessage-ID: <pgnul@univ-lorraine.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: base64\r\n\r\nYQBi\r\n";
    let outcome = app.ingest("SMSU", nul).await;
    let acknowledged = match &outcome {
        IngestOutcome::Created { acknowledged, .. } => usize::from(*acknowledged),
        IngestOutcome::Quarantined { .. } => 0,
        other => panic!("{other:?}"),
    };
    assert_eq!(app.acks("SMSU").await.len(), acknowledged);
    let queued = app.outbox("SMSU").await.len();
    // Past the coalescing window: the agents' notice is due too.
    app.advance(chrono::Duration::minutes(2));
    assert_eq!(app.send_outbox("SMSU").await.sent, queued);
    assert_eq!(app.sent_files().len(), queued);
}

// ----- operators -----

async fn operators_reply_note_assign_and_change_status(app: App) {
    let m = mail(
        "Jeanne Durand <jeanne@univ-lorraine.example>",
        SMSU,
        "Panne",
        "o1@x.example",
        "",
    );
    let r = created(&app.ingest("SMSU", &m).await);
    let (ctx, offer, paul) = (&app.ctx, app.offer("SMSU"), operator());
    operator::assign(ctx, offer, &r, &paul, AGENT)
        .await
        .expect("assign an agent");
    assert!(
        operator::assign(ctx, offer, &r, &paul, JEANNE)
            .await
            .is_err(),
        "a requester is no agent"
    );
    operator::note(ctx, offer, &r, &paul, "vu avec l'opérateur")
        .await
        .expect("note");
    operator::reply(ctx, offer, &r, &paul, "Le relais SMS est reparti.")
        .await
        .expect("reply");
    app.set_status("SMSU", &r, Status::Resolved)
        .await
        .expect("resolve");
    let refused = app.set_status("SMSU", &r, Status::New).await;
    let refused = refused.expect_err("resolved to new is refused").detail();
    assert!(
        refused.contains("cannot go from resolved to new"),
        "{refused}"
    );
    operator::set_priority(ctx, offer, &r, &paul, Priority::High)
        .await
        .expect("priority");

    let view = app.show("SMSU", &r).await;
    assert_eq!(view.ticket.status, Status::Resolved);
    assert_eq!(view.ticket.priority, Priority::High);
    assert!(view.ticket.first_response_at.is_some());
    let kinds: Vec<String> = view.events.iter().map(|e| e.kind.to_string()).collect();
    assert_eq!(
        kinds,
        [
            "created",
            "sla_started",
            "sla_started",
            "assigned",
            "noted",
            "replied",
            "sla_first_response",
            "status_changed",
            "sla_resolved",
            "priority_changed"
        ]
    );
    assert!(
        view.events
            .iter()
            .filter(|e| !e.actor.starts_with("mail:"))
            .all(|e| e.actor == "cli:paul")
    );
    let directions: Vec<String> = view
        .articles
        .iter()
        .map(|a| a.direction.to_string())
        .collect();
    assert_eq!(directions, ["in", "internal", "out"]);
    // The reply is queued as mail (sent by the daemon's outbox worker, or the next deliver),
    // among the notices of each step (tests/notices.rs says who gets which). The agent's
    // notices of the new ticket and of its assignment came within `mail.coalesce_minutes`:
    // one mail telling both.
    let templates: Vec<&str> = view.outbox.iter().map(|o| o.template.as_str()).collect();
    assert_eq!(
        templates,
        [
            "ticket_created",
            "coalesced",
            "agent_reply",
            "status_changed"
        ]
    );
    let reply = &view.outbox[2];
    assert_eq!(
        reply.in_reply_to.as_deref(),
        Some("o1@x.example"),
        "the reply threads under the requester's mail"
    );
    assert_eq!(reply.references_ids.as_deref(), Some("o1@x.example"));
    assert!(
        recipients(reply).iter().any(|a| a == JEANNE),
        "the reply reaches the requester"
    );
    // A ref the offer does not have is refused, naming both.
    let wrong = operator::show(ctx, offer, "I-000042").await;
    assert_eq!(
        wrong.map(|_| ()).expect_err("no such ticket").detail(),
        "offer SMSU: no ticket I-000042"
    );
}

on_both_backends!(
    a_first_mail_opens_a_ticket_and_is_acknowledged,
    the_same_message_twice_gives_one_article,
    a_reused_message_id_with_other_content_is_not_lost,
    a_message_without_message_id_gets_a_stable_one,
    replies_thread_by_header_and_by_tag,
    a_tag_of_another_offer_never_crosses_over,
    automatic_mail_is_stored_but_not_answered,
    unknown_senders_are_refused_politely_where_the_offer_says_so,
    bad_input_goes_to_quarantine_with_its_reason,
    a_replayed_quarantine_entry_is_taken_in_again,
    deliver_without_offer_routes_by_recipient,
    deliver_without_offer_follows_the_envelope_recipient,
    a_nul_in_subject_or_body_never_blocks_a_message,
    operators_reply_note_assign_and_change_status,
);
