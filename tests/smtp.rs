//! Mail out through a real SMTP server (the aiosmtpd sink of tests/env/start-smtp-sink.sh,
//! tests/common/smtp_sink.rs) with the real outbox on the manual clock: what the relay
//! receives (envelope and headers), a relay down for a while (nothing lost, nothing doubled),
//! a recipient refused for good (noted on the ticket, marked bouncing, never retried), a
//! temporary refusal (retried later), logins over STARTTLS and XOAUTH2. The reply-code
//! classification itself is table-tested in `channels::smtp`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::app::{App, Backend, created};
use common::smtp_sink::SmtpSink;
use common::{SMSU_ADDRESS as SMSU, Setup, mail};
use guichet::channels::Sender;
use guichet::channels::mail::parse;
use guichet::domain::{Direction, OutboxState};
use guichet::service::ingest::IngestOutcome;
use guichet::service::outbox::PassReport;

const JEANNE: &str = "jeanne@univ-lorraine.example";
/// The sink answers `550 5.1.1` to a recipient whose local part starts with `refuse`.
const REFUSED: &str = "refuse-me@univ-lorraine.example";
/// ... and `451 4.3.0` to one starting with `later`.
const LATER: &str = "later-please@univ-lorraine.example";

/// `[mail]` lines sending through the sink in plain SMTP (it is on loopback), `extra` added
/// to `[mail.smtp]`. The acknowledgement and per-recipient limits are raised: these tests
/// send many to one person.
fn relay(sink: &SmtpSink, tls: &str, extra: &str) -> String {
    format!(
        "transport = \"smtp\"\nack_limit = 1000\nrecipient_limit = 1000\n[mail.smtp]\nhost = \"127.0.0.1\"\n\
         port = {}\ntls = \"{tls}\"\ntimeout_secs = 5\n{extra}",
        sink.port
    )
}

async fn app_with(mail: String) -> App {
    App::with(
        Backend::Sqlite,
        Setup {
            mail,
            ..Setup::default()
        },
    )
    .await
}

/// The sender `mail.transport` names, as the daemon builds it.
fn sender(app: &App) -> Arc<dyn Sender> {
    guichet::app::sender(&app.ctx.config).expect("the configured sender")
}

/// Gives up the agents' notices of the new tickets (`new_ticket` rows): these tests follow
/// the acknowledgements alone through the relay (tests/notices.rs covers the notices).
async fn acknowledgements_only(app: &App) {
    let paul = guichet::service::operator::Operator("paul".into());
    for row in app.outbox("SMSU").await {
        if row.template == "new_ticket" && row.status == OutboxState::Pending {
            guichet::service::operator::drop_outbox(&app.ctx, app.offer("SMSU"), row.id, &paul)
                .await
                .expect("drop the notice");
        }
    }
}

/// Outbox passes until one finds nothing due; their counts added up.
async fn drain(app: &App, sender: &dyn Sender) -> PassReport {
    let mut total = PassReport::default();
    loop {
        let r = app.send_outbox_with(&app.ctx, sender, "SMSU").await;
        if r == PassReport::default() {
            return total;
        }
        total.sent += r.sent;
        total.retried += r.retried;
        total.failed += r.failed;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_leaves_through_the_relay_with_our_headers() {
    let sink = SmtpSink::start();
    let app = app_with(relay(&sink, "plain", "")).await;
    let first = mail(
        JEANNE,
        SMSU,
        "Les SMS ne partent plus",
        "s1@univ-lorraine.example",
        "",
    );
    created(&app.ingest("SMSU", &first).await);
    acknowledgements_only(&app).await;
    let report = drain(&app, sender(&app).as_ref()).await;
    assert_eq!(report.sent, 1, "{report:?}");

    let got = sink.wait_for(1, Duration::from_secs(10)).await;
    let received = &got[0];
    // The envelope sender is the offer's address: a bounce comes back to its mailbox.
    assert_eq!(received.mail_from, SMSU);
    assert_eq!(received.rcpt_tos, [JEANNE]);
    let sent = parse(&received.raw).expect("our mail parses");
    let row = app.acks("SMSU").await.pop().expect("the row");
    assert_eq!(sent.message_id.as_str(), row.message_id, "the row's own id");
    assert_eq!(sent.in_reply_to[0].as_str(), "s1@univ-lorraine.example");
    assert_eq!(sent.auto.auto_submitted.as_deref(), Some("auto-replied"));
    assert_eq!(row.status, OutboxState::Sent);
    let reference = row.sent_ref.unwrap_or_default();
    assert!(reference.starts_with("smtp 250"), "{reference}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_down_for_a_while_loses_and_doubles_nothing() {
    let sink = SmtpSink::start();
    let app = app_with(relay(&sink, "plain", "")).await;
    sink.stop();
    for n in 0..100 {
        let m = mail(
            JEANNE,
            SMSU,
            &format!("Panne {n}"),
            &format!("down{n}@univ-lorraine.example"),
            "",
        );
        created(&app.ingest("SMSU", &m).await);
    }
    acknowledgements_only(&app).await;
    let sender = sender(&app);
    let down = drain(&app, sender.as_ref()).await;
    assert_eq!((down.sent, down.retried, down.failed), (0, 100, 0));
    for row in app.acks("SMSU").await {
        assert_eq!((row.status, row.attempts), (OutboxState::Pending, 1));
        let error = row.last_error.unwrap_or_default();
        assert!(error.contains("relay not reached"), "{error}");
    }

    sink.start_again();
    // Past the first backoff (one minute).
    app.advance(chrono::Duration::minutes(2));
    let back = drain(&app, sender.as_ref()).await;
    assert_eq!((back.sent, back.retried, back.failed), (100, 0, 0));
    let received = sink.wait_for(100, Duration::from_secs(30)).await;
    let ids: BTreeSet<String> = received
        .iter()
        .map(|r| {
            parse(&r.raw)
                .expect("parses")
                .message_id
                .as_str()
                .to_owned()
        })
        .collect();
    assert_eq!(received.len(), 100, "none doubled");
    let queued: BTreeSet<String> = app
        .acks("SMSU")
        .await
        .into_iter()
        .map(|r| r.message_id)
        .collect();
    assert_eq!(ids, queued, "each row's own Message-ID, none lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_refused_for_good_is_noted_marked_and_not_retried() {
    let sink = SmtpSink::start();
    let app = app_with(relay(&sink, "plain", "")).await;
    let first = mail(REFUSED, SMSU, "Panne", "r1@univ-lorraine.example", "");
    let r = created(&app.ingest("SMSU", &first).await);
    acknowledgements_only(&app).await;
    let sender = sender(&app);
    let report = drain(&app, sender.as_ref()).await;
    assert_eq!((report.sent, report.failed), (0, 1), "{report:?}");

    let row = app.acks("SMSU").await.pop().expect("the row");
    assert_eq!((row.status, row.attempts), (OutboxState::Failed, 1));
    let error = row.last_error.unwrap_or_default();
    assert!(error.contains("550 5.1.1"), "{error}");
    assert!(
        !error.contains('@'),
        "no address in the stored reason: {error}"
    );
    let view = app.show("SMSU", &r).await;
    let note = view.articles.last().expect("the note");
    assert_eq!(note.direction, Direction::Internal);
    assert!(
        note.body_text
            .starts_with(&format!("Mail not delivered to {REFUSED}:")),
        "{}",
        note.body_text
    );

    // Marked bouncing: the next mail opens its ticket and nothing is queued to the address.
    let second = mail(REFUSED, SMSU, "Encore", "r2@univ-lorraine.example", "");
    assert!(matches!(
        app.ingest("SMSU", &second).await,
        IngestOutcome::Created {
            acknowledged: false,
            ..
        }
    ));
    acknowledgements_only(&app).await;
    app.advance(chrono::Duration::hours(1));
    assert_eq!(drain(&app, sender.as_ref()).await, PassReport::default());
    assert!(
        sink.messages().is_empty(),
        "nothing reached the relay's mailboxes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_refusal_is_retried_later() {
    let sink = SmtpSink::start();
    let app = app_with(relay(&sink, "plain", "")).await;
    let first = mail(LATER, SMSU, "Panne", "l1@univ-lorraine.example", "");
    created(&app.ingest("SMSU", &first).await);
    acknowledgements_only(&app).await;
    let report = drain(&app, sender(&app).as_ref()).await;
    assert_eq!((report.sent, report.retried), (0, 1), "{report:?}");
    let row = app.acks("SMSU").await.pop().expect("the row");
    assert_eq!(row.status, OutboxState::Pending);
    let now = guichet::clock::Clock::now(app.clock.as_ref());
    assert!(row.next_attempt_at > now, "not before its backoff");
    let error = row.last_error.unwrap_or_default();
    assert!(error.contains("451"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_waits_for_the_right_password_over_starttls() {
    let sink = SmtpSink::start_with(&[("SINK_REQUIRE_AUTH", "1")]);
    let ca = sink.ca_file.display().to_string();
    let login = |password: &str| {
        format!("ca_file = \"{ca}\"\nuser = \"guichet\"\npassword = \"{password}\"\n")
    };
    let mut app = app_with(relay(&sink, "starttls", &login("wrong"))).await;
    let first = mail(JEANNE, SMSU, "Panne", "a1@univ-lorraine.example", "");
    created(&app.ingest("SMSU", &first).await);
    acknowledgements_only(&app).await;
    let report = drain(&app, sender(&app).as_ref()).await;
    assert_eq!((report.sent, report.retried), (0, 1), "{report:?}");
    let row = app.acks("SMSU").await.pop().expect("the row");
    let error = row.last_error.unwrap_or_default();
    assert!(error.contains("login refused"), "{error}");

    let right = login(&sink.password);
    app.reconfigure(|s| s.mail = relay(&sink, "starttls", &right))
        .await;
    app.advance(chrono::Duration::minutes(2));
    let report = drain(&app, sender(&app).as_ref()).await;
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xoauth2_token_is_read_again_after_the_relay_refused_it() {
    const TOKEN: &str = "ya29.a0-right-token";
    let sink = SmtpSink::start_with(&[("SINK_REQUIRE_AUTH", "1"), ("SINK_OAUTH2_TOKEN", TOKEN)]);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "expired-token\n").unwrap();
    let oauth = format!(
        "ca_file = \"{}\"\nuser = \"support-smsu@esup-portail.example\"\nauth = \"xoauth2\"\n\
         oauth2_token_file = \"{}\"\n",
        sink.ca_file.display(),
        token_file.display()
    );
    let app = app_with(relay(&sink, "starttls", &oauth)).await;
    let first = mail(JEANNE, SMSU, "Panne", "x1@univ-lorraine.example", "");
    created(&app.ingest("SMSU", &first).await);
    acknowledgements_only(&app).await;
    // One sender throughout, as in the daemon: it must notice the new token by itself.
    let sender = sender(&app);
    let report = drain(&app, sender.as_ref()).await;
    assert_eq!((report.sent, report.retried), (0, 1), "{report:?}");

    // The operator's refresher writes a new token.
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    app.advance(chrono::Duration::minutes(2));
    let report = drain(&app, sender.as_ref()).await;
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).await.len(), 1);
}

/// An agent's reply with two files, the relay down at its first attempt: the retry reads the
/// files again from the store and the relay gets both, byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_reply_carries_its_files_through_the_relay_after_a_retry() {
    let sink = SmtpSink::start();
    let app = app_with(relay(&sink, "plain", "")).await;
    let first = mail(JEANNE, SMSU, "Panne", "f1@univ-lorraine.example", "");
    let r = created(&app.ingest("SMSU", &first).await);
    acknowledgements_only(&app).await;
    let sender = sender(&app);
    drain(&app, sender.as_ref()).await;
    let before = sink.messages().len();

    let pdf: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let txt = "relevé : 3 SMS perdus\n".as_bytes().to_vec();
    let file = |name: &str, content_type: &str, data: &[u8]| guichet::domain::Attachment {
        filename: Some(name.to_owned()),
        content_type: content_type.to_owned(),
        data: data.to_vec(),
        content_id: None,
    };
    let files = [
        file("rapport.pdf", "application/pdf", &pdf),
        file("releve.txt", "text/plain", &txt),
    ];
    let paul = guichet::service::operator::Operator("paul".into());
    guichet::service::operator::reply_with_files(
        &app.ctx,
        app.offer("SMSU"),
        &r,
        &paul,
        "Ci-joint le rapport.",
        &files,
    )
    .await
    .expect("reply");

    sink.stop();
    let down = drain(&app, sender.as_ref()).await;
    assert_eq!((down.sent, down.retried), (0, 1), "{down:?}");
    sink.start_again();
    app.advance(chrono::Duration::minutes(2));
    let back = drain(&app, sender.as_ref()).await;
    assert_eq!((back.sent, back.failed), (1, 0), "{back:?}");

    let received = sink.wait_for(before + 1, Duration::from_secs(10)).await;
    let sent = parse(&received.last().expect("the reply").raw).expect("parses");
    assert!(
        sent.text_body.contains("Ci-joint le rapport."),
        "{}",
        sent.text_body
    );
    let got: Vec<(Option<&str>, &str, &[u8])> = sent
        .attachments
        .iter()
        .map(|a| {
            (
                a.filename.as_deref(),
                a.content_type.as_str(),
                a.data.as_slice(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Some("rapport.pdf"), "application/pdf", pdf.as_slice()),
            (Some("releve.txt"), "text/plain", txt.as_slice()),
        ]
    );
}
