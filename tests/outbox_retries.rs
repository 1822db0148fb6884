//! The outbox when mail cannot go out, on both backends and the manual clock: retried with
//! backoff while it is younger than `mail.retry_for_hours`, then a dead letter noted on its
//! ticket, never retried again. The transport is the `.eml` one with its directory made
//! unwritable (a full disk, to it); SMTP's own failures are tests/smtp.rs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use common::app::{App, created};
use common::{SMSU_ADDRESS as SMSU, mail};
use guichet::clock::Clock as _;
use guichet::domain::{Direction, OutboxState};
use guichet::service::outbox::PassReport;

const JEANNE: &str = "jeanne@univ-lorraine.example";

async fn a_mail_undeliverable_for_a_day_becomes_a_dead_letter_noted_on_its_ticket(app: App) {
    let first = mail(JEANNE, SMSU, "Panne", "dead1@univ-lorraine.example", "");
    let r = created(&app.ingest("SMSU", &first).await);
    // One mail at a time here: the agent's notice of the new ticket is given up by hand.
    let notice = app.outbox("SMSU").await.pop().expect("the agent's notice");
    assert_eq!(notice.template, "new_ticket");
    let paul = guichet::service::operator::Operator("paul".into());
    guichet::service::operator::drop_outbox(&app.ctx, app.offer("SMSU"), notice.id, &paul)
        .await
        .expect("drop");
    // A file where the outbox directory should be: every write fails, for now.
    std::fs::create_dir_all(app.outbox_dir.parent().unwrap()).unwrap();
    std::fs::write(&app.outbox_dir, b"").unwrap();
    let start = app.clock.now();
    let mut attempts = 0;
    let given_up = loop {
        let report = app.send_outbox("SMSU").await;
        attempts += report.retried + report.failed;
        if report.failed == 1 {
            break app.clock.now() - start;
        }
        assert_eq!(report.sent, 0);
        assert!(attempts < 50, "still retried after {attempts} attempts");
        app.advance(chrono::Duration::minutes(30));
    };
    // Waits of 1, 2, 4 ... minutes, then 8 hours: given up once the next would fall past a
    // day after the mail was queued.
    assert!(
        given_up >= chrono::Duration::hours(16) && given_up <= chrono::Duration::hours(24),
        "given up after {given_up}"
    );
    assert!(attempts >= 10, "{attempts} attempts");
    let row = app.acks("SMSU").await.pop().expect("the row");
    assert_eq!(row.status, OutboxState::Failed);
    let note = app.show("SMSU", &r).await.articles.pop().expect("a note");
    assert_eq!(note.direction, Direction::Internal);
    assert!(
        note.body_text.starts_with(&format!(
            "Mail not delivered to {JEANNE}: cannot write message"
        )),
        "{}",
        note.body_text
    );
    // A dead letter stays dead, even once the disk is back.
    std::fs::remove_file(&app.outbox_dir).unwrap();
    app.advance(chrono::Duration::days(2));
    assert_eq!(app.send_outbox("SMSU").await, PassReport::default());
}

on_both_backends!(a_mail_undeliverable_for_a_day_becomes_a_dead_letter_noted_on_its_ticket);
