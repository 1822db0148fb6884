//! The store contract: the same cases, run on SQLite (a temporary file) and on PostgreSQL
//! (the test environment's server, as the non-superuser application role). Each case uses
//! fresh offer codes, so cases share the PostgreSQL database without seeing each other.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use guichet::domain::{ArticleId, Attachment, InstitutionId, TicketId, finish_times};
use guichet::domain::{
    Channel, ContactOrigin, Direction, EventKind, LinkRelation, ParticipantRole, ReceiptOutcome,
};
use guichet::domain::{ContactId, Priority, Status, TenantId, TicketKind, TicketRef};
use guichet::store::{
    AddressKind, Database, IdTable, NewArticle, NewContact, NewEvent, NewOutbox, NewTicket,
    Options, ReceiptRow, Store, TicketRow, Tx,
};

struct Backend {
    store: Store,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = Options {
        database: Database::Sqlite {
            path: dir.path().join("guichet.db"),
        },
        max_connections: 4,
        connect_timeout: std::time::Duration::from_secs(5),
    };
    let store = Store::connect(&options).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    Backend {
        store,
        _dir: Some(dir),
    }
}

async fn postgres() -> Backend {
    let store = Store::connect_postgres(&common::pg_url(), 4)
        .await
        .expect("connect postgres");
    store.migrate().await.expect("migrate postgres");
    Backend { store, _dir: None }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 15).unwrap() + Duration::microseconds(123_456)
}

async fn new_ticket(tx: &mut Tx, kind: TicketKind, title: &str) -> TicketRow {
    let new = NewTicket {
        kind,
        title,
        priority: Priority::Normal,
        requester: None,
        institution_id: None,
        now: t0(),
    };
    tx.create_ticket(&new).await.expect("create ticket")
}

fn article<'a>(ticket: &TicketRow, message_id: Option<&'a str>) -> NewArticle<'a> {
    NewArticle {
        ticket: ticket.id,
        channel: Channel::Pipe,
        direction: Direction::In,
        author: None,
        author_label: None,
        message_id,
        in_reply_to: None,
        references: None,
        subject: Some("Objet"),
        body_text: "Bonjour",
        new_text: Some("Bonjour"),
        body_html: None,
        raw_sha256: None,
        auto_reason: None,
        now: t0(),
    }
}

/// Runs every listed case once per backend, as separate tests.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            $( #[tokio::test] async fn $case() { let b = super::sqlite().await; super::$case(&b.store).await; } )*
        }
        mod on_postgres {
            $( #[tokio::test] async fn $case() { let b = super::postgres().await; super::$case(&b.store).await; } )*
        }
    };
}

contract!(
    ticket_numbers_count_per_offer_and_kind,
    tickets_read_back_as_written,
    status_times_follow_the_status,
    message_ids_are_found_only_inside_their_offer,
    a_long_list_of_message_ids_finds_the_first_known_one_in_order,
    receipts_refuse_a_second_copy,
    raw_messages_and_attachments_are_stored_once,
    outbox_rows_are_claimed_once_until_their_lease_ends,
    a_mailbox_is_leased_to_one_instance_at_a_time,
    events_are_append_only,
    rolled_back_work_leaves_nothing,
    contact_addresses_are_case_insensitive_and_movable,
    quarantine_keeps_the_exact_bytes,
    a_transaction_sees_only_its_offer,
    links_to_other_offers_are_recorded_once_per_side,
    a_restarted_instance_takes_back_its_own_claims_only,
    every_quarantine_replay_is_kept,
    long_message_ids_and_addresses_are_stored_and_found,
    a_status_change_waits_for_a_concurrent_one,
    what_a_batch_reads_ahead_answers_as_the_database_would,
);

async fn ticket_numbers_count_per_offer_and_kind(store: &Store) {
    let (a, b) = (common::unique_tenant(), common::unique_tenant());
    let mut tx = store.begin(&a).await.unwrap();
    let i1 = new_ticket(&mut tx, TicketKind::Incident, "one").await;
    let i2 = new_ticket(&mut tx, TicketKind::Incident, "two").await;
    let r1 = new_ticket(&mut tx, TicketKind::Request, "three").await;
    tx.commit().await.unwrap();
    let mut tx = store.begin(&b).await.unwrap();
    let other = new_ticket(&mut tx, TicketKind::Incident, "elsewhere").await;
    tx.commit().await.unwrap();
    let refs: Vec<String> = [&i1, &i2, &r1, &other]
        .iter()
        .map(|t| t.reference().to_string())
        .collect();
    assert_eq!(refs, ["I-000001", "I-000002", "R-000001", "I-000001"]);
}

async fn tickets_read_back_as_written(store: &Store) {
    let tenant = common::unique_tenant();
    let mut tx = store.begin(&tenant).await.unwrap();
    let contact = tx
        .create_contact(&NewContact {
            name: Some("Jeanne"),
            institution_id: Some(InstitutionId(7)),
            origin: ContactOrigin::Inbound,
            now: t0(),
        })
        .await
        .unwrap();
    let new = NewTicket {
        kind: TicketKind::Change,
        title: "Changer l'expéditeur « SMSU »",
        priority: Priority::High,
        requester: Some(contact),
        institution_id: Some(InstitutionId(7)),
        now: t0(),
    };
    let created = tx.create_ticket(&new).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(&tenant).await.unwrap();
    let read = tx
        .ticket_by_ref(TicketRef {
            kind: TicketKind::Change,
            number: 1,
        })
        .await
        .unwrap();
    assert_eq!(read.as_ref(), Some(&created));
    let read = read.unwrap();
    assert_eq!(read.title, "Changer l'expéditeur « SMSU »");
    assert_eq!((read.status, read.priority), (Status::New, Priority::High));
    assert_eq!(read.requester_id, Some(contact));
    assert_eq!(read.created_at, t0(), "times keep their microseconds");
    assert_eq!(tx.list_tickets(Some(Status::New)).await.unwrap().len(), 1);
    assert!(
        tx.list_tickets(Some(Status::Closed))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn status_times_follow_the_status(store: &Store) {
    let tenant = common::unique_tenant();
    let mut tx = store.begin(&tenant).await.unwrap();
    let t = new_ticket(&mut tx, TicketKind::Incident, "x").await;
    let later = t0() + Duration::hours(2);
    let times = finish_times(Status::Resolved, t.finish_times(), later);
    tx.set_status(t.id, Status::Resolved, times, later)
        .await
        .unwrap();
    let r = tx.ticket(t.id).await.unwrap().unwrap();
    assert_eq!(
        (r.status, r.resolved_at, r.closed_at),
        (Status::Resolved, Some(later), None)
    );
    let closing = later + Duration::days(1);
    let times = finish_times(Status::Closed, r.finish_times(), closing);
    tx.set_status(t.id, Status::Closed, times, closing)
        .await
        .unwrap();
    let r = tx.ticket(t.id).await.unwrap().unwrap();
    assert_eq!(
        (r.resolved_at, r.closed_at),
        (Some(later), Some(closing)),
        "closing keeps the resolution time"
    );
    let times = finish_times(Status::InProgress, r.finish_times(), closing);
    tx.set_status(t.id, Status::InProgress, times, closing)
        .await
        .unwrap();
    let r = tx.ticket(t.id).await.unwrap().unwrap();
    assert_eq!(
        (r.status, r.resolved_at, r.closed_at),
        (Status::InProgress, None, None),
        "reopening clears them"
    );
    tx.mark_first_response(t.id, later).await.unwrap();
    tx.mark_first_response(t.id, closing).await.unwrap();
    let r = tx.ticket(t.id).await.unwrap().unwrap();
    assert_eq!(
        r.first_response_at,
        Some(later),
        "the first response is recorded once"
    );
}

async fn message_ids_are_found_only_inside_their_offer(store: &Store) {
    let (a, b) = (common::unique_tenant(), common::unique_tenant());
    let mut tx = store.begin(&a).await.unwrap();
    let ta = new_ticket(&mut tx, TicketKind::Incident, "a").await;
    tx.insert_article(&article(&ta, Some("shared@univ.example")))
        .await
        .unwrap();
    let ctx = serde_json::json!({});
    let out = NewOutbox {
        ticket: Some(ta.id),
        template: "ticket_created",
        locale: "fr",
        context: &ctx,
        from_address: "support@x.example",
        recipients: "[]",
        message_id: "ours.guichet@x.example",
        in_reply_to: None,
        references: None,
        auto_submitted: Some("auto-replied"),
        now: t0(),
        due_at: t0(),
        coalesce_key: None,
    };
    tx.enqueue_outbox(&out).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(&a).await.unwrap();
    let found = tx
        .ticket_by_message_ids(&["unknown@x", "shared@univ.example"])
        .await
        .unwrap();
    assert_eq!(
        found.map(|t| t.id),
        Some(ta.id),
        "inbound Message-IDs are found"
    );
    let found = tx
        .ticket_by_message_ids(&["ours.guichet@x.example"])
        .await
        .unwrap();
    assert_eq!(
        found.map(|t| t.id),
        Some(ta.id),
        "our outbound Message-IDs are found"
    );
    tx.rollback().await.unwrap();

    let mut tx = store.begin(&b).await.unwrap();
    let tb = new_ticket(&mut tx, TicketKind::Incident, "b").await;
    for mid in ["shared@univ.example", "ours.guichet@x.example"] {
        assert_eq!(
            tx.ticket_by_message_ids(&[mid]).await.unwrap(),
            None,
            "{mid} must not cross offers"
        );
    }
    assert_eq!(
        tx.ticket_by_ref(ta.reference())
            .await
            .unwrap()
            .map(|t| t.id),
        Some(tb.id),
        "same ref, own ticket"
    );
}

async fn receipts_refuse_a_second_copy(store: &Store) {
    let tenant = common::unique_tenant();
    let receipt = ReceiptRow {
        dedupe_key: "mid:m1@x".into(),
        channel: Channel::Pipe,
        outcome: ReceiptOutcome::Article,
        content_sha256: "ab".repeat(32),
        ticket_id: Some(TicketId(1)),
        article_id: Some(ArticleId(1)),
        received_at: t0(),
    };
    let mut tx = store.begin(&tenant).await.unwrap();
    assert!(tx.insert_receipt(&receipt).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = store.begin(&tenant).await.unwrap();
    assert!(
        !tx.insert_receipt(&receipt).await.unwrap(),
        "the same key twice is refused"
    );
    assert_eq!(tx.receipt("mid:m1@x").await.unwrap(), Some(receipt.clone()));
    tx.rollback().await.unwrap();
    let mut tx = store.begin(&common::unique_tenant()).await.unwrap();
    assert!(
        tx.insert_receipt(&receipt).await.unwrap(),
        "another offer has its own keys"
    );
}

/// `read_receipts_ahead` and `read_contacts_ahead` (SQLite: one statement for a batch, then
/// answers from memory; PostgreSQL: nothing) change no answer: what the transaction writes
/// afterwards, and what a rollback to a savepoint undoes, are seen as without them.
async fn what_a_batch_reads_ahead_answers_as_the_database_would(store: &Store) {
    let tenant = common::unique_tenant();
    let receipt = |key: &str| ReceiptRow {
        dedupe_key: key.into(),
        channel: Channel::Imap,
        outcome: ReceiptOutcome::Article,
        content_sha256: "cd".repeat(32),
        ticket_id: Some(TicketId(1)),
        article_id: Some(ArticleId(1)),
        received_at: t0(),
    };
    let mut tx = store.begin(&tenant).await.unwrap();
    assert!(tx.insert_receipt(&receipt("mid:old@x")).await.unwrap());
    let jeanne = NewContact {
        name: Some("Jeanne"),
        institution_id: None,
        origin: ContactOrigin::Inbound,
        now: t0(),
    };
    let known = tx.create_contact(&jeanne).await.unwrap();
    tx.set_contact_address(known, AddressKind::Email, "jeanne@univ.example")
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(&tenant).await.unwrap();
    tx.read_receipts_ahead(&["mid:old@x", "mid:new@x", "mid:later@x"])
        .await
        .unwrap();
    tx.read_contacts_ahead(
        AddressKind::Email,
        &["Jeanne@Univ.example", "paul@univ.example"],
    )
    .await
    .unwrap();
    assert_eq!(
        tx.receipt("mid:old@x").await.unwrap(),
        Some(receipt("mid:old@x"))
    );
    assert_eq!(tx.receipt("mid:new@x").await.unwrap(), None);
    let found = tx
        .contact_by_address(AddressKind::Email, "JEANNE@univ.example")
        .await
        .unwrap();
    assert_eq!(found.map(|c| c.id), Some(known));
    // Written in this transaction after the read ahead: seen.
    assert!(tx.hold_receipt(&receipt("mid:new@x")).await.unwrap());
    assert_eq!(
        tx.receipt("mid:new@x").await.unwrap(),
        Some(receipt("mid:new@x"))
    );
    let paul = tx
        .create_contact(&NewContact {
            name: Some("Paul"),
            ..jeanne
        })
        .await
        .unwrap();
    assert!(
        tx.add_contact_address_if_absent(paul, AddressKind::Email, "paul@univ.example")
            .await
            .unwrap()
    );
    let found = tx
        .contact_by_address(AddressKind::Email, "paul@univ.example")
        .await
        .unwrap();
    assert_eq!(found.map(|c| c.id), Some(paul));
    // Written under a savepoint, then rolled back: gone again.
    tx.savepoint("message").await.unwrap();
    assert!(tx.hold_receipt(&receipt("mid:later@x")).await.unwrap());
    assert!(tx.receipt("mid:later@x").await.unwrap().is_some());
    tx.rollback_to("message").await.unwrap();
    tx.release("message").await.unwrap();
    assert_eq!(tx.receipt("mid:later@x").await.unwrap(), None);
    assert_eq!(
        tx.receipt("mid:old@x").await.unwrap(),
        Some(receipt("mid:old@x")),
        "what was read ahead stays right after the rollback"
    );
    tx.commit().await.unwrap();
}

async fn raw_messages_and_attachments_are_stored_once(store: &Store) {
    let tenant = common::unique_tenant();
    let mut tx = store.begin(&tenant).await.unwrap();
    let raw = b"From: a@b\r\n\r\nhello\xff";
    let sha1 = tx.put_raw_message(raw, t0()).await.unwrap();
    let sha2 = tx.put_raw_message(raw, t0()).await.unwrap();
    assert_eq!(sha1, sha2);
    assert_eq!(
        tx.raw_message(&sha1).await.unwrap().as_deref(),
        Some(&raw[..])
    );
    let t = new_ticket(&mut tx, TicketKind::Incident, "pj").await;
    let a1 = tx.insert_article(&article(&t, Some("1@x"))).await.unwrap();
    let a2 = tx.insert_article(&article(&t, Some("2@x"))).await.unwrap();
    let pdf = |name: &str, content_id: Option<&str>| Attachment {
        filename: Some(name.to_owned()),
        content_type: "application/pdf".to_owned(),
        data: vec![0x25u8; 3000],
        content_id: content_id.map(str::to_owned),
    };
    let s1 = tx
        .add_attachment(a1, 0, &pdf("devis.pdf", None), None)
        .await
        .unwrap();
    let s2 = tx
        .add_attachment(
            a2,
            0,
            &pdf("devis (1).pdf", Some("part1@x")),
            Some("executable (content: Windows PE)"),
        )
        .await
        .unwrap();
    assert_eq!(s1, s2, "same bytes, same blob");
    let listed = tx.attachments(t.id).await.unwrap();
    let names: Vec<_> = listed
        .iter()
        .map(|a| (a.article_id, a.filename.clone().unwrap(), a.size))
        .collect();
    assert_eq!(
        names,
        [
            (a1, "devis.pdf".to_owned(), 3000),
            (a2, "devis (1).pdf".to_owned(), 3000)
        ]
    );
    let flags: Vec<_> = listed
        .iter()
        .map(|a| (a.content_id.as_deref(), a.danger.as_deref()))
        .collect();
    assert_eq!(
        flags,
        [
            (None, None),
            (Some("part1@x"), Some("executable (content: Windows PE)"))
        ]
    );
    let articles = tx.articles(t.id).await.unwrap();
    assert_eq!(
        articles.iter().map(|a| a.id).collect::<Vec<_>>(),
        [a1, a2],
        "articles in order"
    );
    assert_eq!(
        articles[0].new_text.as_deref(),
        Some("Bonjour"),
        "new text kept"
    );
}

async fn a_mailbox_is_leased_to_one_instance_at_a_time(store: &Store) {
    let tenant = common::unique_tenant();
    let minute = Duration::minutes(1);
    let mut tx = store.begin(&tenant).await.unwrap();
    let mut claim = async |holder: &str, now: DateTime<Utc>| {
        tx.claim_mailbox("inbox", holder, now, now + minute)
            .await
            .unwrap()
    };
    let cases = [
        ("a first claim is granted", "a", t0(), Ok(())),
        ("another instance waits", "b", t0(), Err("a".to_owned())),
        (
            "the holder renews",
            "a",
            t0() + Duration::seconds(50),
            Ok(()),
        ),
        (
            "still renewed, not run out",
            "b",
            t0() + Duration::seconds(100),
            Err("a".to_owned()),
        ),
        (
            "run out: taken over",
            "b",
            t0() + Duration::seconds(111),
            Ok(()),
        ),
        (
            "the former holder waits",
            "a",
            t0() + Duration::seconds(112),
            Err("b".to_owned()),
        ),
    ];
    for (case, holder, now, want) in cases {
        assert_eq!(claim(holder, now).await, want, "{case}");
    }
    // Given back by its holder only; then anyone may take it at once.
    tx.release_mailbox("inbox", "a").await.unwrap();
    let later = t0() + Duration::seconds(113);
    assert_eq!(
        tx.claim_mailbox("inbox", "a", later, later + minute)
            .await
            .unwrap(),
        Err("b".to_owned()),
        "a stranger cannot give it back"
    );
    tx.release_mailbox("inbox", "b").await.unwrap();
    assert_eq!(
        tx.claim_mailbox("inbox", "a", later, later + minute)
            .await
            .unwrap(),
        Ok(()),
        "given back: taken at once"
    );
    // Another mailbox is another lease.
    assert_eq!(
        tx.claim_mailbox("other", "b", later, later + minute)
            .await
            .unwrap(),
        Ok(())
    );
    tx.commit().await.unwrap();
}

async fn outbox_rows_are_claimed_once_until_their_lease_ends(store: &Store) {
    let tenant = common::unique_tenant();
    let ctx = serde_json::json!({ "k": "v" });
    let mut tx = store.begin(&tenant).await.unwrap();
    for n in 0..3 {
        let mid = format!("{n}.guichet@x.example");
        let out = NewOutbox {
            ticket: None,
            template: "ticket_created",
            locale: "fr",
            context: &ctx,
            from_address: "support@x.example",
            recipients: r#"[{"name":null,"address":"a@b.example"}]"#,
            message_id: &mid,
            in_reply_to: Some("m@x"),
            references: Some("r@x m@x"),
            auto_submitted: Some("auto-replied"),
            now: t0(),
            due_at: t0(),
            coalesce_key: None,
        };
        tx.enqueue_outbox(&out).await.unwrap();
    }
    tx.commit().await.unwrap();
    let lease = Duration::minutes(5);
    let claim = |at: DateTime<Utc>| {
        let tenant = tenant.clone();
        async move {
            let mut tx = store.begin(&tenant).await.unwrap();
            let rows = tx.claim_outbox("host:/data", at, lease, 10).await.unwrap();
            tx.commit().await.unwrap();
            rows
        }
    };
    let first = claim(t0()).await;
    assert_eq!(first.len(), 3);
    assert!(first.iter().all(|r| r.attempts == 1 && r.context.0 == ctx));
    assert!(
        claim(t0() + Duration::minutes(1)).await.is_empty(),
        "claimed rows are not handed out twice"
    );

    let mut tx = store.begin(&tenant).await.unwrap();
    tx.outbox_sent(first[0].id, "/tmp/a.eml", t0())
        .await
        .unwrap();
    tx.outbox_failed(first[1].id, "disk full", Some(t0() + Duration::minutes(10)))
        .await
        .unwrap();
    tx.outbox_failed(first[2].id, "bad address", None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(
        claim(t0() + Duration::minutes(6)).await.is_empty(),
        "a retry waits for its time"
    );
    let retried = claim(t0() + Duration::minutes(10)).await;
    assert_eq!(
        retried
            .iter()
            .map(|r| (r.id, r.attempts))
            .collect::<Vec<_>>(),
        [(first[1].id, 2)]
    );

    let mut tx = store.begin(&tenant).await.unwrap();
    let statuses: Vec<String> = tx
        .list_outbox(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.status.to_string())
        .collect();
    assert_eq!(statuses, ["sent", "pending", "failed"]);
}

async fn events_are_append_only(store: &Store) {
    let tenant = common::unique_tenant();
    let mut tx = store.begin(&tenant).await.unwrap();
    let t = new_ticket(&mut tx, TicketKind::Incident, "x").await;
    let data = serde_json::json!({ "from": "new", "to": "assigned" });
    let id = tx
        .insert_event(&NewEvent {
            ticket: Some(t.id),
            actor: "cli:paul",
            kind: EventKind::StatusChanged,
            data: &data,
            now: t0(),
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(&tenant).await.unwrap();
    assert!(
        tx.tamper_event_for_tests(id).await.is_err(),
        "an event cannot be changed"
    );
    tx.rollback().await.unwrap();
    let mut tx = store.begin(&tenant).await.unwrap();
    let events = tx.events(t.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].kind.as_str(), &events[0].data.0, events[0].at),
        ("status_changed", &data, t0())
    );
}

async fn rolled_back_work_leaves_nothing(store: &Store) {
    let tenant = common::unique_tenant();
    let mut tx = store.begin(&tenant).await.unwrap();
    new_ticket(&mut tx, TicketKind::Incident, "x").await;
    tx.rollback().await.unwrap();
    let mut tx = store.begin(&tenant).await.unwrap();
    {
        let t = new_ticket(&mut tx, TicketKind::Incident, "dropped").await;
        assert_eq!(t.number, 1, "the counter rolled back too");
    }
    drop(tx);
    let mut tx = store.begin(&tenant).await.unwrap();
    assert!(
        tx.list_tickets(None).await.unwrap().is_empty(),
        "a dropped transaction rolls back"
    );
}

async fn contact_addresses_are_case_insensitive_and_movable(store: &Store) {
    let tenant = common::unique_tenant();
    let mut tx = store.begin(&tenant).await.unwrap();
    let new = |name| NewContact {
        name: Some(name),
        institution_id: None,
        origin: ContactOrigin::Config,
        now: t0(),
    };
    let a = tx.create_contact(&new("A")).await.unwrap();
    let b = tx.create_contact(&new("B")).await.unwrap();
    tx.set_contact_address(a, AddressKind::Email, "Jeanne.Durand@Univ.example")
        .await
        .unwrap();
    let found = tx
        .contact_by_address(AddressKind::Email, "jeanne.durand@univ.example")
        .await
        .unwrap();
    assert_eq!(found.map(|c| c.id), Some(a));
    assert_eq!(
        tx.contact_by_address(AddressKind::Matrix, "jeanne.durand@univ.example")
            .await
            .unwrap(),
        None
    );
    tx.set_contact_address(b, AddressKind::Email, "jeanne.durand@univ.example")
        .await
        .unwrap();
    let found = tx
        .contact_by_address(AddressKind::Email, "JEANNE.DURAND@univ.example")
        .await
        .unwrap();
    assert_eq!(
        found.map(|c| c.id),
        Some(b),
        "an address belongs to one contact"
    );
    tx.set_contact_roles(b, &["agent", "requester"])
        .await
        .unwrap();
    tx.set_contact_roles(b, &["agent"]).await.unwrap();
    assert_eq!(tx.contact_roles(b).await.unwrap(), ["agent"]);
    assert_eq!(tx.contact_emails(a).await.unwrap(), Vec::<String>::new());
    assert_eq!(tx.contact(ContactId(999_999)).await.unwrap(), None);
}

async fn quarantine_keeps_the_exact_bytes(store: &Store) {
    let tenant = common::unique_tenant();
    let junk: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let mut tx = store.begin(&tenant).await.unwrap();
    let id = tx
        .insert_quarantine(Channel::Pipe, "not an email message", &junk, t0())
        .await
        .unwrap();
    let again = tx
        .insert_quarantine(Channel::Maildir, "still not an email message", &junk, t0())
        .await
        .unwrap();
    assert_eq!(again, id, "the same bytes are quarantined once");
    tx.mark_quarantine_replayed(id, "quarantined again as 2", t0())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(&tenant).await.unwrap();
    assert_eq!(tx.quarantine_data(id).await.unwrap(), Some(junk));
    let rows = tx.list_quarantine().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].size, rows[0].reason.as_str()),
        (5000, "still not an email message")
    );
    assert_eq!(
        rows[0].replay_outcome.as_deref(),
        Some("quarantined again as 2")
    );
}

async fn a_transaction_sees_only_its_offer(store: &Store) {
    // Statements filter on tenant_id; on PostgreSQL row-level security also hides other offers
    // from a statement that does not (see tests/postgres_rls.rs for the unfiltered case).
    let (a, b): (TenantId, TenantId) = (common::unique_tenant(), common::unique_tenant());
    for (tenant, n) in [(&a, 2), (&b, 3)] {
        let mut tx = store.begin(tenant).await.unwrap();
        for _ in 0..n {
            new_ticket(&mut tx, TicketKind::Incident, "x").await;
        }
        tx.commit().await.unwrap();
    }
    let mut tx = store.begin(&a).await.unwrap();
    assert_eq!(tx.list_tickets(None).await.unwrap().len(), 2);
    if store.backend() == guichet::store::Backend::Postgres {
        assert_eq!(
            tx.count_visible_for_tests(IdTable::Tickets).await.unwrap(),
            2,
            "RLS hides the other offer"
        );
    }
}

async fn a_long_list_of_message_ids_finds_the_first_known_one_in_order(store: &Store) {
    let tenant = common::unique_tenant();
    let mut tx = store.begin(&tenant).await.unwrap();
    let early = new_ticket(&mut tx, TicketKind::Incident, "early").await;
    let late = new_ticket(&mut tx, TicketKind::Incident, "late").await;
    let ours = new_ticket(&mut tx, TicketKind::Incident, "ours").await;
    tx.insert_article(&article(&early, Some("early@univ.example")))
        .await
        .unwrap();
    tx.insert_article(&article(&late, Some("late@univ.example")))
        .await
        .unwrap();
    let ctx = serde_json::json!({});
    tx.enqueue_outbox(&NewOutbox {
        ticket: Some(ours.id),
        template: "ticket_created",
        locale: "fr",
        context: &ctx,
        from_address: "support@x.example",
        recipients: "[]",
        message_id: "ours.guichet@x.example",
        in_reply_to: None,
        references: None,
        auto_submitted: Some("auto-replied"),
        now: t0(),
        due_at: t0(),
        coalesce_key: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // A hostile References header: 100,000 ids nobody stored, with three known ones inside,
    // "late" listed before "early" (the order of the list decides, not the order of storage).
    let unknown: Vec<String> = (0..100_000)
        .map(|n| format!("{n}.junk@x.example"))
        .collect();
    let mut ids: Vec<&str> = unknown.iter().map(String::as_str).collect();
    ids.insert(60_000, "early@univ.example");
    ids.insert(40_000, "late@univ.example");
    ids.insert(90_000, "ours.guichet@x.example");
    let mut tx = store.begin(&tenant).await.unwrap();
    let started = std::time::Instant::now();
    let found = tx.ticket_by_message_ids(&ids).await.unwrap();
    println!(
        "{:?}: {} ids looked up in {:?}",
        store.backend(),
        ids.len(),
        started.elapsed()
    );
    assert_eq!(
        found.map(|t| t.id),
        Some(late.id),
        "the first known id wins"
    );
    let found = tx
        .ticket_by_message_ids(&[&ids[..30_000], &["ours.guichet@x.example"]].concat())
        .await
        .unwrap();
    assert_eq!(found.map(|t| t.id), Some(ours.id), "outbound ids are found");
    assert_eq!(
        tx.ticket_by_message_ids(&ids[..30_000]).await.unwrap(),
        None
    );
    assert_eq!(tx.ticket_by_message_ids(&[]).await.unwrap(), None);
    tx.rollback().await.unwrap();
    let mut tx = store.begin(&common::unique_tenant()).await.unwrap();
    assert_eq!(
        tx.ticket_by_message_ids(&ids).await.unwrap(),
        None,
        "another offer finds nothing"
    );
}

async fn links_to_other_offers_are_recorded_once_per_side(store: &Store) {
    let (a, b) = (common::unique_tenant(), common::unique_tenant());
    let mut tx = store.begin(&a).await.unwrap();
    let ta = new_ticket(&mut tx, TicketKind::Incident, "a").await;
    tx.commit().await.unwrap();
    let mut tx = store.begin(&b).await.unwrap();
    let tb = new_ticket(&mut tx, TicketKind::Request, "b").await;
    tx.link_other_offer(tb.id, &a, ta.reference(), LinkRelation::SameMessage, t0())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(&a).await.unwrap();
    for _ in 0..2 {
        tx.link_other_offer(ta.id, &b, tb.reference(), LinkRelation::SameMessage, t0())
            .await
            .unwrap();
    }
    let links = tx.other_offer_links(ta.id).await.unwrap();
    assert_eq!(links.len(), 1, "a second identical link is a no-op");
    assert_eq!(
        (
            links[0].other_tenant.as_str(),
            links[0].other_ref.as_str(),
            links[0].relation.as_str(),
            links[0].created_at
        ),
        (b.as_str(), "R-000001", "same_message", t0())
    );
    tx.commit().await.unwrap();

    let mut tx = store.begin(&b).await.unwrap();
    let links = tx.other_offer_links(tb.id).await.unwrap();
    assert_eq!(
        links
            .iter()
            .map(|l| (l.other_tenant.as_str(), l.other_ref.as_str()))
            .collect::<Vec<_>>(),
        [(a.as_str(), "I-000001")],
        "each offer sees its own side"
    );
    tx.rollback().await.unwrap();
    let mut tx = store.begin(&common::unique_tenant()).await.unwrap();
    assert!(
        tx.other_offer_links(ta.id).await.unwrap().is_empty(),
        "a third offer sees no link"
    );
}

async fn a_restarted_instance_takes_back_its_own_claims_only(store: &Store) {
    let tenant = common::unique_tenant();
    let ctx = serde_json::json!({});
    let mut tx = store.begin(&tenant).await.unwrap();
    for n in 0..2 {
        let mid = format!("{n}.claims.guichet@x.example");
        tx.enqueue_outbox(&NewOutbox {
            ticket: None,
            template: "ticket_created",
            locale: "fr",
            context: &ctx,
            from_address: "support@x.example",
            recipients: "[]",
            message_id: &mid,
            in_reply_to: None,
            references: None,
            auto_submitted: Some("auto-replied"),
            now: t0(),
            due_at: t0(),
            coalesce_key: None,
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let lease = Duration::minutes(5);
    let mut tx = store.begin(&tenant).await.unwrap();
    let crashed = tx
        .claim_outbox("host-a:/data", t0(), lease, 1)
        .await
        .unwrap();
    let alive = tx
        .claim_outbox("host-b:/data", t0(), lease, 1)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((crashed.len(), alive.len()), (1, 1));

    // host-a restarts a minute later, long before its lease ends.
    let later = t0() + Duration::minutes(1);
    let mut tx = store.begin(&tenant).await.unwrap();
    assert_eq!(tx.release_claims_of("host-a:/data").await.unwrap(), 1);
    assert_eq!(
        tx.release_claims_of("host-c:/data").await.unwrap(),
        0,
        "another instance has nothing to release"
    );
    let again = tx
        .claim_outbox("host-a:/data", later, lease, 10)
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|r| r.id).collect::<Vec<_>>(),
        [crashed[0].id],
        "its own claim is due again at once, the other instance's is not"
    );
    tx.outbox_sent(again[0].id, "/tmp/x.eml", later)
        .await
        .unwrap();
    assert_eq!(
        tx.release_claims_of("host-a:/data").await.unwrap(),
        0,
        "a sent row is never released"
    );
}

async fn every_quarantine_replay_is_kept(store: &Store) {
    let tenant = common::unique_tenant();
    let mut tx = store.begin(&tenant).await.unwrap();
    let id = tx
        .insert_quarantine(Channel::Pipe, "too big", b"junk", t0())
        .await
        .unwrap();
    let other = tx
        .insert_quarantine(Channel::Pipe, "not mail", b"other junk", t0())
        .await
        .unwrap();
    tx.mark_quarantine_replayed(id, "quarantined again as 1", t0())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(&tenant).await.unwrap();
    let later = t0() + Duration::hours(1);
    tx.mark_quarantine_replayed(id, "created I-000001", later)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(&tenant).await.unwrap();
    let rows = tx.list_quarantine().await.unwrap();
    let row = rows.iter().find(|r| r.id == id).unwrap();
    let replays: Vec<(i64, DateTime<Utc>, &str)> = row
        .replays
        .iter()
        .map(|r| (r.seq, r.replayed_at, r.outcome.as_str()))
        .collect();
    assert_eq!(
        replays,
        [
            (1, t0(), "quarantined again as 1"),
            (2, later, "created I-000001")
        ],
        "the second replay does not overwrite the first"
    );
    assert_eq!(
        (row.replay_outcome.as_deref(), row.replayed_at),
        (Some("created I-000001"), Some(later)),
        "the latest replay is at hand"
    );
    let untouched = rows.iter().find(|r| r.id == other).unwrap();
    assert!(untouched.replays.is_empty() && untouched.replay_outcome.is_none());
}

async fn long_message_ids_and_addresses_are_stored_and_found(store: &Store) {
    // PostgreSQL's B-tree rows hold ~2.7 KB: longer keys must still be stored, found and
    // deduplicated exactly as on SQLite.
    let tenant = common::unique_tenant();
    // Incompressible (PostgreSQL compresses index entries: "mmm..." would fit), with
    // backslashes too: PostgreSQL's key reads the text through bytea's escape syntax.
    let noise = |len: usize, seed: &str| -> String {
        (0..)
            .flat_map(|n| guichet::store::sha256_hex(format!("{seed}{n}").as_bytes()).into_bytes())
            .take(len)
            .map(char::from)
            .collect()
    };
    let long_mid = format!(r"\x41\\{}@univ.example", noise(5 * 1024, "mid"));
    let similar_mid = format!(r"\x41\{}@univ.example", noise(5 * 1024, "mid"));
    let long_address = format!("{}@univ-lorraine.example", noise(3 * 1024, "address"));
    let mut tx = store.begin(&tenant).await.unwrap();
    let t = new_ticket(&mut tx, TicketKind::Incident, "long").await;
    tx.insert_article(&article(&t, Some(&long_mid)))
        .await
        .unwrap();
    let contact = tx
        .create_contact(&NewContact {
            name: None,
            institution_id: None,
            origin: ContactOrigin::Inbound,
            now: t0(),
        })
        .await
        .unwrap();
    tx.set_contact_address(contact, AddressKind::Email, &long_address)
        .await
        .unwrap();
    assert!(
        !tx.add_contact_address_if_absent(contact, AddressKind::Email, &long_address)
            .await
            .unwrap(),
        "the same long address is not added twice"
    );
    let receipt = ReceiptRow {
        dedupe_key: format!("mid:{long_mid}"),
        channel: Channel::Pipe,
        outcome: ReceiptOutcome::Article,
        content_sha256: "cd".repeat(32),
        ticket_id: Some(t.id),
        article_id: Some(ArticleId(1)),
        received_at: t0(),
    };
    assert!(tx.insert_receipt(&receipt).await.unwrap());
    assert!(
        !tx.insert_receipt(&receipt).await.unwrap(),
        "a long dedupe key still refuses a second copy"
    );
    tx.commit().await.unwrap();

    let mut tx = store.begin(&tenant).await.unwrap();
    assert_eq!(
        tx.ticket_by_message_ids(&[&long_mid])
            .await
            .unwrap()
            .map(|t| t.id),
        Some(t.id)
    );
    assert_eq!(
        tx.ticket_by_message_ids(&[&similar_mid]).await.unwrap(),
        None
    );
    assert_eq!(
        tx.contact_by_address(AddressKind::Email, &long_address.to_uppercase())
            .await
            .unwrap()
            .map(|c| c.id),
        Some(contact)
    );
    assert_eq!(
        tx.contact_emails(contact).await.unwrap(),
        std::slice::from_ref(&long_address)
    );
    assert_eq!(
        tx.receipt(&receipt.dedupe_key).await.unwrap(),
        Some(receipt.clone())
    );
    assert_eq!(
        tx.receipt(&format!("mid:{similar_mid}")).await.unwrap(),
        None
    );
}

/// A row holding a name the vocabulary does not know (written by hand, or by a newer version)
/// fails to decode, and the error names the value and the names expected.
#[tokio::test]
async fn a_stored_name_outside_the_vocabulary_is_a_clear_decode_error() {
    let b = sqlite().await;
    let tenant = common::unique_tenant();
    let mut tx = b.store.begin(&tenant).await.unwrap();
    let t = new_ticket(&mut tx, TicketKind::Incident, "x").await;
    let contact = tx
        .create_contact(&NewContact {
            name: None,
            institution_id: None,
            origin: ContactOrigin::Inbound,
            now: t0(),
        })
        .await
        .unwrap();
    tx.add_participant(t.id, contact, ParticipantRole::Cc)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let file = b
        ._dir
        .as_ref()
        .expect("sqlite dir")
        .path()
        .join("guichet.db");
    let raw =
        sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&file))
            .await
            .expect("open the file directly");
    sqlx::query("UPDATE participants SET role = 'boss' WHERE tenant_id = $1")
        .bind(tenant.as_str())
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;

    let mut tx = b.store.begin(&tenant).await.unwrap();
    let err = tx.participants(t.id).await.unwrap_err();
    assert!(!err.is_transient(), "{}", err.detail());
    assert!(
        err.detail()
            .contains(r#"unknown participant role "boss" (expected one of: requester, cc, agent)"#),
        "{}",
        err.detail()
    );
}

/// Two status changes at once: the second reads the ticket only once the first committed, so
/// closing keeps the resolution time the first one wrote (the times are decided in Rust from
/// what was read, no longer in the UPDATE itself).
async fn a_status_change_waits_for_a_concurrent_one(store: &Store) {
    let tenant = common::unique_tenant();
    let mut tx = store.begin(&tenant).await.unwrap();
    let id = new_ticket(&mut tx, TicketKind::Incident, "x").await.id;
    tx.commit().await.unwrap();

    let resolved = t0() + Duration::hours(1);
    let closed = t0() + Duration::hours(2);
    let mut first = store.begin(&tenant).await.unwrap();
    let read = first.ticket_for_update(id).await.unwrap().unwrap();
    let second = {
        let (store, tenant) = (store.clone(), tenant.clone());
        tokio::spawn(async move {
            let mut tx = store.begin(&tenant).await.unwrap();
            let read = tx.ticket_for_update(id).await.unwrap().unwrap();
            let times = finish_times(Status::Closed, read.finish_times(), closed);
            tx.set_status(id, Status::Closed, times, closed)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            read.status
        })
    };
    if store.backend() == guichet::store::Backend::Postgres {
        // The second change must be waiting on the row lock before the first one writes (on
        // SQLite it waits in `BEGIN IMMEDIATE`, which needs no check).
        use sqlx::Connection as _;
        let mut watch = sqlx::PgConnection::connect(&common::pg_url())
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'
                   AND query LIKE '%FOR UPDATE%'",
            )
            .fetch_one(&mut watch)
            .await
            .unwrap();
            if waiting > 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the second status change never waited for the first one's row lock"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    let times = finish_times(Status::Resolved, read.finish_times(), resolved);
    first
        .set_status(id, Status::Resolved, times, resolved)
        .await
        .unwrap();
    first.commit().await.unwrap();
    assert_eq!(
        second.await.unwrap(),
        Status::Resolved,
        "the second change read the first one's result"
    );
    let mut tx = store.begin(&tenant).await.unwrap();
    let row = tx.ticket(id).await.unwrap().unwrap();
    assert_eq!(
        (row.status, row.resolved_at, row.closed_at),
        (Status::Closed, Some(resolved), Some(closed))
    );
}
