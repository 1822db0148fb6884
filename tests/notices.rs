//! Notifications (issue 8 item 3): each event on a ticket queues one mail per person entitled
//! to hear of it, and nobody else: agents of the ticket's offer only, participants of the
//! ticket's institution only. Every queued notice renders in strict mode with its real
//! context. In process, on SQLite and on PostgreSQL, with a manual clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use common::app::{App, Backend, created, operator, recipients};
use common::{AGENT, COLLEAGUE, SMSU_ADDRESS as SMSU, Setup, mail};
use guichet::domain::Status;
use guichet::notify::{Notifier, Template};
use guichet::service::operator as op;
use guichet::store::OutboxRow;

/// The requester: an unknown sender of univ-lorraine, taken in as its contact.
const JEANNE: &str = "jeanne@univ-lorraine.example";
/// A configured colleague of Jeanne's (univ-lorraine), copied on her mail.
const LUCIE: &str = "lucie@univ-lorraine.example";
/// A configured user of univ-rennes (not an agent).
const REMI: &str = "remi@univ-rennes.example";
/// A second agent of SMSU only.
const BRUNO: &str = "bruno.agent@univ-rennes.example";
/// An agent of GEFORP only.
const GINA: &str = "gina.agent@univ-rennes.example";
/// A governance contact of SMSU: escalations, not day-to-day notices.
const GOUV: &str = "gouvernance@univ-rennes.example";

/// The contacts of these tests, Lucie in `lucie_institution`.
fn contacts(lucie_institution: &str) -> String {
    format!(
        r#"
[[contacts]]
name = "Bruno Second"
emails = ["{BRUNO}"]
institution = "univ-rennes"
roles = {{ SMSU = ["agent"] }}

[[contacts]]
name = "Gina Geforp"
emails = ["{GINA}"]
institution = "univ-rennes"
roles = {{ GEFORP = ["agent"] }}

[[contacts]]
name = "Gouvernance ESUP"
emails = ["{GOUV}"]
institution = "univ-rennes"
roles = {{ SMSU = ["governance"] }}

[[contacts]]
name = "Rémi Rennes"
emails = ["{REMI}"]
institution = "univ-rennes"

[[contacts]]
name = "Lucie Lorraine"
emails = ["{LUCIE}"]
institution = "{lucie_institution}"
"#
    )
}

/// Coalescing off (`mail.coalesce_minutes = 0`): these tests count each event's own mail;
/// tests/storms.rs tells how notices within the window become one.
fn setup() -> Setup {
    Setup {
        extra_tables: contacts("univ-lorraine"),
        mail: "coalesce_minutes = 0".into(),
        ..Setup::default()
    }
}

on_both_backends!(
    setup = setup;
    a_new_ticket_tells_the_agents_of_its_offer_and_no_other,
    a_requester_reply_goes_to_the_agents_then_to_the_assignee_alone,
    an_agent_reply_reaches_the_requester_and_copied_colleagues_each_apart,
    a_participant_of_another_institution_never_hears_of_the_ticket,
    the_end_of_the_work_is_told_to_the_requester_and_participants,
    assignment_tells_the_new_assignee,
    a_bouncing_agent_is_skipped,
    machine_mail_into_a_ticket_tells_nobody,
    every_notice_renders_with_its_real_context,
    an_english_agent_gets_the_english_notice_and_a_french_one_the_french,
    a_mail_in_english_is_acknowledged_and_answered_in_english,
);

/// The rows of `template`, oldest first, and to whom each went (one address per row).
fn sent(outbox: &[OutboxRow], template: Template) -> Vec<String> {
    outbox
        .iter()
        .filter(|r| r.template == template.name())
        .map(|r| {
            let to = recipients(r);
            assert_eq!(to.len(), 1, "one recipient per notice: {to:?}");
            to[0].clone()
        })
        .collect()
}

/// Jeanne opens an SMSU ticket (Lucie and Rémi copied); returns its ref.
async fn jeanne_opens(app: &App) -> String {
    let m = mail(
        JEANNE,
        SMSU,
        "Les SMS ne partent plus",
        "j1@univ-lorraine.example",
        &format!("Cc: {LUCIE}, {REMI}\r\n"),
    );
    created(&app.ingest("SMSU", &m).await)
}

/// A follow-up from `from`, answering Jeanne's first message.
fn follow_up(from: &str, id: &str, extra: &str) -> Vec<u8> {
    mail(
        from,
        SMSU,
        "Re: Les SMS ne partent plus",
        id,
        &format!("In-Reply-To: <j1@univ-lorraine.example>\r\n{extra}"),
    )
}

async fn a_new_ticket_tells_the_agents_of_its_offer_and_no_other(app: App) {
    jeanne_opens(&app).await;
    let smsu = app.outbox("SMSU").await;
    assert_eq!(sent(&smsu, Template::TicketCreated), [JEANNE]);
    assert_eq!(sent(&smsu, Template::NewTicket), [AGENT, BRUNO]);
    let notice = smsu
        .iter()
        .find(|r| r.template == "new_ticket")
        .expect("notice");
    assert_eq!(
        notice.in_reply_to.as_deref(),
        Some("j1@univ-lorraine.example"),
        "the notice threads under the message it reports"
    );
    assert_eq!(notice.auto_submitted.as_deref(), Some("auto-generated"));

    let m = mail(
        JEANNE,
        common::GEFORP_ADDRESS,
        "Inscription",
        "j2@univ-lorraine.example",
        "",
    );
    created(&app.ingest("GEFORP", &m).await);
    let geforp = app.outbox("GEFORP").await;
    assert_eq!(sent(&geforp, Template::NewTicket), [AGENT, GINA]);
    assert_eq!(
        app.outbox("SMSU").await.len(),
        smsu.len(),
        "GEFORP's ticket queued nothing for SMSU's people"
    );
}

async fn a_requester_reply_goes_to_the_agents_then_to_the_assignee_alone(app: App) {
    let r = jeanne_opens(&app).await;
    app.ingest("SMSU", &follow_up(JEANNE, "j3@univ-lorraine.example", ""))
        .await;
    let outbox = app.outbox("SMSU").await;
    assert_eq!(sent(&outbox, Template::RequesterReply), [AGENT, BRUNO]);

    op::assign(&app.ctx, app.offer("SMSU"), &r, &operator(), BRUNO)
        .await
        .expect("assign");
    // Lucie, copied and of Jeanne's institution, is a participant: her words go to Bruno.
    app.ingest("SMSU", &follow_up(LUCIE, "l1@univ-lorraine.example", ""))
        .await;
    let outbox = app.outbox("SMSU").await;
    assert_eq!(
        sent(&outbox, Template::RequesterReply),
        [AGENT, BRUNO, BRUNO],
        "once assigned, the assignee alone"
    );
    let last = outbox.last().unwrap();
    assert_eq!(
        last.in_reply_to.as_deref(),
        Some("l1@univ-lorraine.example")
    );
    assert_eq!(last.context.0["author"]["address"], LUCIE);
    assert_eq!(
        last.context.0["author"]["institution"],
        "Université de Lorraine"
    );
}

async fn an_agent_reply_reaches_the_requester_and_copied_colleagues_each_apart(app: App) {
    let r = jeanne_opens(&app).await;
    op::reply(
        &app.ctx,
        app.offer("SMSU"),
        &r,
        &operator(),
        "C'est réparé.",
    )
    .await
    .expect("reply");
    let outbox = app.outbox("SMSU").await;
    // Rémi (univ-rennes) was copied on a univ-lorraine ticket: never let in, never told.
    assert_eq!(sent(&outbox, Template::AgentReply), [JEANNE, LUCIE]);
    let replies: Vec<&OutboxRow> = outbox
        .iter()
        .filter(|r| r.template == "agent_reply")
        .collect();
    assert_ne!(replies[0].message_id, replies[1].message_id);
    for row in &replies {
        assert_eq!(row.in_reply_to.as_deref(), Some("j1@univ-lorraine.example"));
        assert_eq!(row.auto_submitted, None, "a person's reply");
        assert_eq!(row.context.0["body"], "C'est réparé.");
    }
    let view = app.show("SMSU", &r).await;
    let answer = view.articles.last().unwrap();
    assert_eq!(
        answer.message_id.as_deref(),
        Some(replies[0].message_id.as_str())
    );
}

/// THE acceptance test of issue 8 item 3: a participant from institution A never receives a
/// notification about a ticket of institution B, whatever happens to the ticket.
async fn a_participant_of_another_institution_never_hears_of_the_ticket(mut app: App) {
    // A univ-rennes ticket, Jeanne's colleague Lucie (univ-lorraine) and Marie copied.
    let m = mail(
        REMI,
        SMSU,
        "Quota atteint",
        "r1@univ-rennes.example",
        &format!("Cc: {LUCIE}, {COLLEAGUE}\r\n"),
    );
    let rennes = created(&app.ingest("SMSU", &m).await);
    // Jeanne's univ-lorraine ticket, Lucie copied: she is a participant of it...
    let lorraine = jeanne_opens(&app).await;
    // ... until she moves to univ-rennes.
    app.reconfigure(|s| s.extra_tables = contacts("univ-rennes"))
        .await;
    let offer = app.offer("SMSU").clone();
    let ctx = app.ctx.clone();
    for r in [&rennes, &lorraine] {
        op::assign(&ctx, &offer, r, &operator(), BRUNO)
            .await
            .expect("assign");
        op::reply(&ctx, &offer, r, &operator(), "Nous regardons.")
            .await
            .expect("reply");
        for status in [Status::InProgress, Status::Resolved, Status::Closed] {
            app.set_status("SMSU", r, status).await.expect("status");
        }
    }
    app.ingest(
        "SMSU",
        &mail(
            REMI,
            SMSU,
            "Re: Quota atteint",
            "r2@univ-rennes.example",
            "In-Reply-To: <r1@univ-rennes.example>\r\n",
        ),
    )
    .await;
    let outbox = app.outbox("SMSU").await;
    let rennes_id = app.show("SMSU", &rennes).await.ticket.id;
    for row in outbox.iter().filter(|r| r.ticket_id == Some(rennes_id)) {
        for to in recipients(row) {
            assert!(
                !to.ends_with("@univ-lorraine.example"),
                "{to} told of a univ-rennes ticket by {}",
                row.template
            );
        }
    }
    let lorraine_id = app.show("SMSU", &lorraine).await.ticket.id;
    let to_lucie: Vec<&str> = outbox
        .iter()
        .filter(|r| r.ticket_id == Some(lorraine_id) && recipients(r) == [LUCIE])
        .map(|r| r.template.as_str())
        .collect();
    assert_eq!(
        to_lucie,
        Vec::<&str>::new(),
        "Lucie left univ-lorraine: nothing more of its ticket"
    );
    // The requester of each heard of every step meant for requesters.
    for (r, requester) in [(&rennes, REMI), (&lorraine, JEANNE)] {
        let id = app.show("SMSU", r).await.ticket.id;
        let theirs: Vec<&str> = outbox
            .iter()
            .filter(|row| row.ticket_id == Some(id) && recipients(row) == [requester])
            .map(|row| row.template.as_str())
            .collect();
        assert_eq!(
            theirs,
            [
                "ticket_created",
                "agent_reply",
                "status_changed",
                "status_changed"
            ],
            "{r}"
        );
    }
}

async fn the_end_of_the_work_is_told_to_the_requester_and_participants(app: App) {
    let r = jeanne_opens(&app).await;
    app.set_status("SMSU", &r, Status::InProgress)
        .await
        .unwrap();
    assert_eq!(
        sent(&app.outbox("SMSU").await, Template::StatusChanged),
        Vec::<String>::new(),
        "work starting is nobody's news"
    );
    app.set_status("SMSU", &r, Status::Resolved).await.unwrap();
    app.set_status("SMSU", &r, Status::Closed).await.unwrap();
    let outbox = app.outbox("SMSU").await;
    assert_eq!(
        sent(&outbox, Template::StatusChanged),
        [JEANNE, LUCIE, JEANNE, LUCIE]
    );
    let changes: Vec<&OutboxRow> = outbox
        .iter()
        .filter(|r| r.template == "status_changed")
        .collect();
    let resolved = &changes[0].context.0;
    assert_eq!(resolved["status"]["from"], "in_progress");
    assert_eq!(resolved["status"]["to"], "resolved");
    assert_eq!(resolved["ticket"]["status"], "resolved");
    let window = app.offer("SMSU").reopen_window.num_days();
    assert_eq!(resolved["reopen_days"], window, "the offer's reopen window");
    assert_eq!(changes[2].context.0["status"]["to"], "closed");
    assert_eq!(
        changes[0].in_reply_to.as_deref(),
        Some("j1@univ-lorraine.example"),
        "threads under the ticket's latest message"
    );
}

async fn assignment_tells_the_new_assignee(app: App) {
    let r = jeanne_opens(&app).await;
    op::assign(&app.ctx, app.offer("SMSU"), &r, &operator(), BRUNO)
        .await
        .unwrap();
    op::assign(&app.ctx, app.offer("SMSU"), &r, &operator(), AGENT)
        .await
        .unwrap();
    let outbox = app.outbox("SMSU").await;
    assert_eq!(sent(&outbox, Template::Assigned), [BRUNO, AGENT]);
    let first = outbox.iter().find(|r| r.template == "assigned").unwrap();
    assert_eq!(first.context.0["assignee"]["name"], "Bruno Second");
    assert_eq!(first.context.0["ticket"]["status"], "assigned");
}

async fn a_bouncing_agent_is_skipped(app: App) {
    let offer = app.offer("SMSU");
    let mut tx = app.ctx.store.begin(&offer.code).await.unwrap();
    let now = guichet::clock::Clock::now(app.clock.as_ref());
    tx.record_bounce(&guichet::store::NewBounce {
        address: BRUNO,
        severity: "permanent",
        status: Some("5.1.1"),
        ticket: None,
        now,
        suppressed_until: now + chrono::Duration::days(7),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    jeanne_opens(&app).await;
    assert_eq!(
        sent(&app.outbox("SMSU").await, Template::NewTicket),
        [AGENT]
    );
}

async fn machine_mail_into_a_ticket_tells_nobody(app: App) {
    jeanne_opens(&app).await;
    let before = app.outbox("SMSU").await.len();
    let out_of_office = follow_up(
        JEANNE,
        "ooo@univ-lorraine.example",
        "Auto-Submitted: auto-replied\r\n",
    );
    app.ingest("SMSU", &out_of_office).await;
    assert_eq!(app.outbox("SMSU").await.len(), before);
}

/// Every event once, then each queued row rendered by the templates (strict mode: a field
/// the context lacks fails), then sent through the file transport.
async fn every_notice_renders_with_its_real_context(app: App) {
    let r = jeanne_opens(&app).await;
    app.ingest("SMSU", &follow_up(JEANNE, "j3@univ-lorraine.example", ""))
        .await;
    let offer = app.offer("SMSU");
    op::assign(&app.ctx, offer, &r, &operator(), BRUNO)
        .await
        .unwrap();
    op::reply(&app.ctx, offer, &r, &operator(), "C'est réparé.")
        .await
        .unwrap();
    app.set_status("SMSU", &r, Status::Resolved).await.unwrap();
    app.set_status("SMSU", &r, Status::Closed).await.unwrap();

    let outbox = app.outbox("SMSU").await;
    let notifier = Notifier::new(None).expect("templates");
    let mut seen = Vec::new();
    let reopen = format!("dans les\n{} jours", offer.reopen_window.num_days());
    for row in &outbox {
        let template = Template::from_name(&row.template).unwrap();
        let rendered = notifier
            .render(template, &row.locale, &row.context.0)
            .unwrap_or_else(|e| panic!("{}: {e}", row.template));
        assert!(rendered.subject.contains("[SMSU I-000001]"), "{rendered:?}");
        let expected = match template {
            Template::NewTicket | Template::RequesterReply => "ça ne marche pas.",
            Template::Assigned => "Bonjour Bruno Second,",
            Template::AgentReply => "C'est réparé.",
            Template::StatusChanged if row.context.0["status"]["to"] == "closed" => {
                "maintenant fermée"
            }
            Template::StatusChanged => reopen.as_str(),
            _ => "",
        };
        assert!(
            rendered.text.contains(expected),
            "{}: {:?} not in {}",
            row.template,
            expected,
            rendered.text
        );
        if !seen.contains(&template) {
            seen.push(template);
        }
    }
    assert_eq!(
        seen,
        [
            Template::TicketCreated,
            Template::NewTicket,
            Template::RequesterReply,
            Template::Assigned,
            Template::AgentReply,
            Template::StatusChanged
        ]
    );
    let report = app.send_outbox("SMSU").await;
    assert_eq!(
        (report.sent, report.failed, report.retried),
        (outbox.len(), 0, 0)
    );
    assert_eq!(app.sent_files().len(), outbox.len());
}

/// The subject of `row` as the outbox renders it (in the row's locale).
fn subject(row: &OutboxRow) -> String {
    let template = Template::from_name(&row.template).unwrap();
    Notifier::new(None)
        .unwrap()
        .render(template, &row.locale, &row.context.0)
        .unwrap_or_else(|e| panic!("{}: {e}", row.template))
        .subject
}

/// The row of `template` to `to`, the only one.
fn row_to<'a>(outbox: &'a [OutboxRow], template: Template, to: &str) -> &'a OutboxRow {
    let rows: Vec<&OutboxRow> = outbox
        .iter()
        .filter(|r| r.template == template.name() && recipients(r) == [to])
        .collect();
    assert_eq!(rows.len(), 1, "{template} to {to}: {rows:?}");
    rows[0]
}

/// Bruno reads English (`contacts[].locale`), the offer and Paul French: each notice of one
/// event goes in its reader's language.
async fn an_english_agent_gets_the_english_notice_and_a_french_one_the_french(mut app: App) {
    app.reconfigure(|s| {
        s.extra_tables = s.extra_tables.replacen(
            "roles = { SMSU = [\"agent\"] }",
            "roles = { SMSU = [\"agent\"] }\nlocale = \"en\"",
            1,
        );
    })
    .await;
    jeanne_opens(&app).await;
    let smsu = app.outbox("SMSU").await;
    let bruno = row_to(&smsu, Template::NewTicket, BRUNO);
    let paul = row_to(&smsu, Template::NewTicket, AGENT);
    assert_eq!((bruno.locale.as_str(), paul.locale.as_str()), ("en", "fr"));
    assert_eq!(
        subject(bruno),
        "[SMSU I-000001] New request: Les SMS ne partent plus"
    );
    assert_eq!(
        subject(paul),
        "[SMSU I-000001] Nouvelle demande : Les SMS ne partent plus"
    );
    let report = app.send_outbox("SMSU").await;
    assert_eq!(report.failed, 0, "{report:?}");
}

/// Jeanne writes with `Content-Language: en` to a French offer: her acknowledgement is in
/// English, and so, once she is known to read it, is the agent's reply. The agents still get
/// theirs in French, and a mail in a language guichet does not write changes nothing.
async fn a_mail_in_english_is_acknowledged_and_answered_in_english(app: App) {
    let m = mail(
        JEANNE,
        SMSU,
        "SMS are not sent",
        "j1@univ-lorraine.example",
        "Content-Language: en\r\n",
    );
    let r = created(&app.ingest("SMSU", &m).await);
    let smsu = app.outbox("SMSU").await;
    let ack = row_to(&smsu, Template::TicketCreated, JEANNE);
    assert_eq!(ack.locale, "en");
    assert_eq!(
        subject(ack),
        "[SMSU I-000001] Acknowledgement: SMS are not sent"
    );
    assert_eq!(row_to(&smsu, Template::NewTicket, AGENT).locale, "fr");

    let again = mail(
        JEANNE,
        SMSU,
        "Re: SMS are not sent",
        "j2@univ-lorraine.example",
        "In-Reply-To: <j1@univ-lorraine.example>\r\nContent-Language: de\r\n",
    );
    app.ingest("SMSU", &again).await;
    op::reply(&app.ctx, app.offer("SMSU"), &r, &operator(), "Fixed.")
        .await
        .unwrap();
    let smsu = app.outbox("SMSU").await;
    assert_eq!(row_to(&smsu, Template::AgentReply, JEANNE).locale, "en");

    let other = mail(
        LUCIE,
        SMSU,
        "Ein Problem",
        "l1@univ-lorraine.example",
        "Content-Language: de\r\n",
    );
    created(&app.ingest("SMSU", &other).await);
    let smsu = app.outbox("SMSU").await;
    assert_eq!(row_to(&smsu, Template::TicketCreated, LUCIE).locale, "fr");
}

/// SMSU has its own templates (`offers[].templates_dir`): the outbox renders SMSU's notices
/// with them and GEFORP's with the built-in ones, through the daemon's own
/// [`Notifier::from_config`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_renders_each_offers_mail_with_its_own_templates() {
    let dir = tempfile::tempdir().unwrap();
    let subject = dir.path().join("new_ticket/fr/subject.txt.hbs");
    std::fs::create_dir_all(subject.parent().unwrap()).unwrap();
    std::fs::write(&subject, "{{ticket.tag}} À trier : {{ticket.title}}\n").unwrap();
    let mut setup = setup();
    setup.smsu = format!("templates_dir = \"{}\"\n", dir.path().display());
    let app = App::with(Backend::Sqlite, setup).await;
    jeanne_opens(&app).await;
    let m = mail(
        JEANNE,
        common::GEFORP_ADDRESS,
        "Inscription",
        "j2@univ-lorraine.example",
        "",
    );
    created(&app.ingest("GEFORP", &m).await);

    let notifier = Notifier::from_config(&app.ctx.config).expect("templates");
    let sender = guichet::channels::outbound::FileSender::new(&app.ctx.config.mail.outbox_dir);
    for code in ["SMSU", "GEFORP"] {
        let report =
            guichet::service::outbox::send_due(&app.ctx, &notifier, &sender, app.offer(code))
                .await
                .unwrap();
        assert_eq!(report.failed, 0, "{code}: {report:?}");
    }
    let subjects: Vec<String> = app
        .sent_files()
        .iter()
        .map(|p| guichet::channels::mail::parse(&std::fs::read(p).unwrap()).unwrap())
        .filter(|m| m.to.iter().any(|t| t.address == AGENT))
        .map(|m| m.subject)
        .collect();
    assert!(
        subjects.contains(&"[SMSU I-000001] À trier : Les SMS ne partent plus".to_owned()),
        "{subjects:?}"
    );
    assert!(
        subjects.contains(&"[GEFORP I-000001] Nouvelle demande : Inscription".to_owned()),
        "{subjects:?}"
    );
}
