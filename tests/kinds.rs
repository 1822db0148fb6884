//! Ticket kinds by address, through the real ingest path on both backends: the plus-suffix or
//! address a mail was sent to picks incident, request or change (each numbered on its own),
//! the offer's default otherwise; an operator's reclassification gives the next ref of the
//! new kind, and the old ref still finds the ticket and still threads a reply. The rule itself
//! is `domain::routing::kind_for`, with its table tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use common::app::{App, Backend, created, operator};
use common::{Setup, mail};
use guichet::domain::{EventKind, TicketKind};
use guichet::service::ingest::IngestOutcome;
use guichet::service::operator::set_kind;

const JEANNE: &str = "jeanne@univ-lorraine.example";

/// SMSU's support address with a plus-suffix: `support-smsu+demande@esup-portail.example`.
fn smsu_plus(suffix: &str) -> String {
    common::SMSU_ADDRESS.replacen('@', &format!("+{suffix}@"), 1)
}

/// SMSU with `lines` added to its `[[offers]]` table.
async fn app_with(backend: Backend, lines: &str) -> App {
    let setup = Setup {
        smsu: lines.to_owned(),
        ..Setup::default()
    };
    App::with(backend, setup).await
}

// ----- the kind a mail opens -----

async fn each_suffix_opens_its_kind_numbered_on_its_own(backend: Backend) {
    let app = App::new(backend).await;
    let cases = [
        ("demande", "R-000001"),
        ("changement", "C-000001"),
        ("request", "R-000002"),
        ("CHANGE", "C-000002"),
        ("incident", "I-000001"),
    ];
    for (i, (suffix, want)) in cases.into_iter().enumerate() {
        let to = smsu_plus(suffix);
        let m = mail(
            JEANNE,
            &to,
            "Besoin",
            &format!("s{i}@univ-lorraine.example"),
            "",
        );
        // Routed on the headers, as `guichet deliver` without --offer: the plus-address is
        // SMSU's.
        let delivered = app.deliver(&m).await.expect("deliver");
        assert_eq!(delivered.outcomes.len(), 1, "{to}");
        assert_eq!(created(&delivered.outcomes[0].1), want, "{to}");
    }
    let plain = mail(
        JEANNE,
        common::SMSU_ADDRESS,
        "Panne",
        "p@univ-lorraine.example",
        "",
    );
    assert_eq!(created(&app.ingest("SMSU", &plain).await), "I-000002");
}

async fn the_plain_address_opens_the_offers_default_kind(backend: Backend) {
    let app = app_with(backend, "default_kind = \"request\"").await;
    let plain = mail(
        JEANNE,
        common::SMSU_ADDRESS,
        "Accès",
        "d1@univ-lorraine.example",
        "",
    );
    assert_eq!(created(&app.ingest("SMSU", &plain).await), "R-000001");
    // A ref or token after the `+` is no kind: the default still.
    let tagged = mail(
        JEANNE,
        &smsu_plus("I-000009"),
        "Accès",
        "d2@univ-lorraine.example",
        "",
    );
    assert_eq!(created(&app.ingest("SMSU", &tagged).await), "R-000002");
    let incident = mail(
        JEANNE,
        &smsu_plus("incident"),
        "Panne",
        "d3@univ-lorraine.example",
        "",
    );
    assert_eq!(created(&app.ingest("SMSU", &incident).await), "I-000001");
}

async fn a_configured_address_or_suffix_opens_its_kind(backend: Backend) {
    let lines = format!(
        "kind_by_address = {{ \"{}\" = \"change\", \"+evolution\" = \"change\", \
         \"+demande\" = \"incident\" }}",
        common::SMSU_ADDRESS
    );
    let app = app_with(backend, &lines).await;
    let cases = [
        (common::SMSU_ADDRESS.to_owned(), "C-000001"),
        (smsu_plus("evolution"), "C-000002"),
        (smsu_plus("demande"), "I-000001"),
        (smsu_plus("request"), "R-000001"),
    ];
    for (i, (to, want)) in cases.into_iter().enumerate() {
        let m = mail(
            JEANNE,
            &to,
            "Sujet",
            &format!("c{i}@univ-lorraine.example"),
            "",
        );
        assert_eq!(created(&app.ingest("SMSU", &m).await), want, "{to}");
    }
}

async fn the_envelope_recipient_decides_before_to_and_cc(backend: Backend) {
    let app = App::new(backend).await;
    // Delivered to the change address (an alias, a Bcc), written to the plain one.
    let delivered_to = format!("Delivered-To: {}\r\n", smsu_plus("changement"));
    let m = mail(
        JEANNE,
        common::SMSU_ADDRESS,
        "Nouvelle option",
        "e1@univ-lorraine.example",
        &delivered_to,
    );
    assert_eq!(created(&app.ingest("SMSU", &m).await), "C-000001");
    // And the other way round: delivered to the plain address, the To's suffix counts not.
    let plain = format!("Delivered-To: {}\r\n", common::SMSU_ADDRESS);
    let m = mail(
        JEANNE,
        &smsu_plus("demande"),
        "Autre",
        "e2@univ-lorraine.example",
        &plain,
    );
    assert_eq!(created(&app.ingest("SMSU", &m).await), "I-000001");
}

// ----- reclassification -----

async fn a_reclassified_ticket_takes_the_next_ref_of_its_new_kind(backend: Backend) {
    let app = App::new(backend).await;
    let request = mail(
        JEANNE,
        &smsu_plus("demande"),
        "Compte",
        "r1@univ-lorraine.example",
        "",
    );
    assert_eq!(created(&app.ingest("SMSU", &request).await), "R-000001");
    let first = mail(
        JEANNE,
        common::SMSU_ADDRESS,
        "Accès",
        "r2@univ-lorraine.example",
        "",
    );
    assert_eq!(created(&app.ingest("SMSU", &first).await), "I-000001");

    let (old, new) = set_kind(
        &app.ctx,
        app.offer("SMSU"),
        "i-1",
        &operator(),
        TicketKind::Request,
    )
    .await
    .expect("reclassify");
    assert_eq!(
        (old.to_string(), new.to_string()),
        ("I-000001".into(), "R-000002".into())
    );

    // Found by either ref, with its history.
    for reference in ["R-000002", "I-000001"] {
        let view = app.show("SMSU", reference).await;
        assert_eq!(view.reference, "R-000002", "{reference}");
        assert_eq!(view.ticket.kind, TicketKind::Request);
        assert_eq!(view.former_refs, ["I-000001"], "{reference}");
    }
    let view = app.show("SMSU", "R-000002").await;
    let event = view
        .events
        .iter()
        .find(|e| e.kind == EventKind::Reclassified)
        .expect("a reclassified event");
    assert_eq!(event.actor, "cli:paul");
    assert_eq!(event.data.0["old_ref"], "I-000001");
    assert_eq!(event.data.0["new_ref"], "R-000002");
    assert_eq!(event.data.0["from"], "incident");
    assert_eq!(event.data.0["to"], "request");

    // A ref is never given twice: the next incident is I-000002.
    let next = mail(
        JEANNE,
        common::SMSU_ADDRESS,
        "Autre",
        "r3@univ-lorraine.example",
        "",
    );
    assert_eq!(created(&app.ingest("SMSU", &next).await), "I-000002");
    assert_eq!(app.show("SMSU", "I-000002").await.ticket.title, "Autre");
}

async fn a_reply_tagged_with_the_old_ref_joins_the_reclassified_ticket(backend: Backend) {
    let app = App::new(backend).await;
    let first = mail(
        JEANNE,
        common::SMSU_ADDRESS,
        "Accès",
        "t1@univ-lorraine.example",
        "",
    );
    assert_eq!(created(&app.ingest("SMSU", &first).await), "I-000001");
    let offer = app.offer("SMSU");
    set_kind(
        &app.ctx,
        offer,
        "I-000001",
        &operator(),
        TicketKind::Request,
    )
    .await
    .expect("to request");
    // Twice: every former ref keeps finding it.
    let (old, new) = set_kind(&app.ctx, offer, "I-000001", &operator(), TicketKind::Change)
        .await
        .expect("to change");
    assert_eq!(
        (old.to_string(), new.to_string()),
        ("R-000001".into(), "C-000001".into())
    );

    // A reply written before the changes: the old tag only, no References.
    for (i, tag) in ["I-000001", "R-000001"].into_iter().enumerate() {
        let reply = mail(
            JEANNE,
            common::SMSU_ADDRESS,
            &format!("Re: [SMSU {tag}] Accès"),
            &format!("t-reply{i}@univ-lorraine.example"),
            "",
        );
        match app.ingest("SMSU", &reply).await {
            IngestOutcome::Appended { ticket, .. } => {
                assert_eq!(ticket.to_string(), "C-000001", "{tag}");
            }
            other => panic!("{tag}: expected the reply in C-000001, got {other:?}"),
        }
    }
    let view = app.show("SMSU", "C-000001").await;
    assert_eq!(view.former_refs, ["I-000001", "R-000001"]);
    assert_eq!(view.articles.len(), 3);
    assert_eq!(app.tickets("SMSU").await.len(), 1);
}

async fn reclassifying_to_the_same_kind_is_refused(backend: Backend) {
    let app = App::new(backend).await;
    let first = mail(
        JEANNE,
        common::SMSU_ADDRESS,
        "Accès",
        "n1@univ-lorraine.example",
        "",
    );
    assert_eq!(created(&app.ingest("SMSU", &first).await), "I-000001");
    let err = set_kind(
        &app.ctx,
        app.offer("SMSU"),
        "I-000001",
        &operator(),
        TicketKind::Incident,
    )
    .await
    .expect_err("no change");
    assert_eq!(err.to_string(), "I-000001: kind is already incident");
    let view = app.show("SMSU", "I-000001").await;
    assert!(view.former_refs.is_empty());
    assert!(
        !view
            .events
            .iter()
            .any(|e| e.kind == EventKind::Reclassified)
    );
}

/// Runs each named `async fn(Backend)` on SQLite and on PostgreSQL (the cases that need a
/// configuration of their own build their [`App`]).
macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both!(
    each_suffix_opens_its_kind_numbered_on_its_own,
    the_plain_address_opens_the_offers_default_kind,
    a_configured_address_or_suffix_opens_its_kind,
    the_envelope_recipient_decides_before_to_and_cc,
    a_reclassified_ticket_takes_the_next_ref_of_its_new_kind,
    a_reply_tagged_with_the_old_ref_joins_the_reclassified_ticket,
    reclassifying_to_the_same_kind_is_refused,
);
