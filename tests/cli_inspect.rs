//! `guichet inspect FILE [--offer CODE] [--json]`: what guichet sees in one message and would
//! decide for it, storing nothing. Through the binary: the printed fields, the JSON shape the
//! README documents, the exit codes (0 even for a message that does not parse, 66 for a file
//! that cannot be read), and a store left exactly as it was. In process, on both backends: the
//! read-only threading decision leaves nothing behind that a later delivery would see. And the
//! whole corpus: every message gives the documented fields.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::app::{App, Backend, created};
use common::{AGENT, COLLEAGUE, GEFORP_ADDRESS, SMSU_ADDRESS, Setup, TestEnv, mail};
use guichet::service::inspect::inspect;
use serde_json::Value;

const EX_NOINPUT: i32 = 66;
const JEANNE: &str = "Jeanne <jeanne@univ-lorraine.example>";
/// A sender of Jeanne's institution that the configuration does not list: not entitled to her
/// tickets, and unknown until it writes.
const STRANGER: &str = "inconnu@univ-lorraine.example";

/// The fields the README documents, at the top level of `inspect --json`.
const TOP_LEVEL: &[&str] = &[
    "headers",
    "classification",
    "rule",
    "new_text",
    "offer",
    "kind",
    "threading",
];

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Writes `raw` as a file in the test's directory.
fn file(env: &TestEnv, name: &str, raw: &[u8]) -> PathBuf {
    let path = env.dir.path().join(name);
    std::fs::write(&path, raw).unwrap();
    path
}

/// `guichet inspect PATH --json [extra]`, which must exit 0, as JSON.
fn inspect_json(env: &TestEnv, path: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["inspect", path.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let out = env.run(&args, b"");
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("inspect --json prints JSON")
}

/// The threading decision's reason, in words.
fn reason(v: &Value) -> &str {
    v["threading"]["reason"].as_str().expect("a reason")
}

fn deliver(env: &TestEnv, raw: &[u8]) {
    let out = env.deliver("SMSU", raw);
    assert!(out.status.success(), "deliver: {}", stderr(&out));
}

/// Rows in the tables a delivery writes, read straight from the SQLite file.
fn row_counts(env: &TestEnv) -> Vec<(&'static str, i64)> {
    use sqlx::Connection;
    const TABLES: &[&str] = &[
        "tickets",
        "inbound_receipts",
        "articles",
        "contacts",
        "contact_addresses",
        "participants",
        "events",
        "outbox",
        "quarantine",
        "raw_messages",
        "ticket_links",
        "bouncing_addresses",
    ];
    let url = format!(
        "sqlite://{}?mode=ro",
        env.data().join("guichet.db").display()
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let mut counts = Vec::new();
            for table in TABLES {
                let sql = format!("SELECT count(*) FROM {table}");
                let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                counts.push((*table, n));
            }
            counts
        })
}

#[test]
fn a_persons_mail_is_shown_field_by_field_with_its_decision() {
    let env = TestEnv::new("", "");
    // Another message first, so the offer's configuration is in the store.
    deliver(
        &env,
        &mail(
            COLLEAGUE,
            SMSU_ADDRESS,
            "Autre",
            "p0@univ-lorraine.example",
            "",
        ),
    );
    let path = file(
        &env,
        "panne.eml",
        &mail(
            JEANNE,
            "support-smsu+demande@esup-portail.example",
            "Panne SMS",
            "p1@univ-lorraine.example",
            "Cc: Paul <paul.agent@univ-rennes.example>\r\n",
        ),
    );
    let out = env.run(&["inspect", path.to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "from:            Jeanne <jeanne@univ-lorraine.example>",
        "to:              support-smsu+demande@esup-portail.example",
        "cc:              Paul <paul.agent@univ-rennes.example>",
        "subject:         Panne SMS",
        "message-id:      <p1@univ-lorraine.example>",
        "date:            2026-11-23T08:00:00+00:00",
        "classification:  human",
        "rule:            -",
        "offer:           SMSU",
        "kind:            request",
        "decision:        new\n",
        "new text:\n    Bonjour,\n    ça ne marche pas.",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
    }
    let v = inspect_json(&env, &path, &[]);
    for field in TOP_LEVEL {
        assert!(v.get(field).is_some(), "{field} missing: {v}");
    }
    assert_eq!(v["classification"], "human");
    assert_eq!(v["rule"], Value::Null);
    assert_eq!(v["offer"], "SMSU");
    assert_eq!(
        v["kind"], "request",
        "the +demande address asks for a service"
    );
    assert_eq!(v["new_text"], "Bonjour,\nça ne marche pas.");
    assert_eq!(
        v["headers"]["from"],
        "Jeanne <jeanne@univ-lorraine.example>"
    );
    assert_eq!(v["headers"]["message_id"], "p1@univ-lorraine.example");
    assert_eq!(v["headers"]["subject"], "Panne SMS");
    assert_eq!(v["threading"]["decision"], "new");
    assert!(v["threading"].get("ticket").is_none(), "{v}");
    assert!(reason(&v).contains("a new contact would be created"), "{v}");
}

#[test]
fn an_auto_reply_is_classified_with_the_rule_that_gave_it_away() {
    let env = TestEnv::new("", "");
    let path = file(
        &env,
        "absent.eml",
        &mail(
            JEANNE,
            SMSU_ADDRESS,
            "Absent du bureau",
            "ooo@univ-lorraine.example",
            "Auto-Submitted: auto-replied\r\n",
        ),
    );
    let v = inspect_json(&env, &path, &[]);
    assert_eq!(v["classification"], "auto-reply");
    assert_eq!(v["rule"], "Auto-Submitted: auto-replied");
    assert_eq!(v["headers"]["auto"]["auto-submitted"], "auto-replied");
    let subject = file(
        &env,
        "subject.eml",
        &mail(
            JEANNE,
            SMSU_ADDRESS,
            "Réponse automatique : Panne",
            "ooo2@univ-lorraine.example",
            "",
        ),
    );
    let v = inspect_json(&env, &subject, &[]);
    assert_eq!(v["classification"], "auto-reply");
    assert_eq!(v["rule"], "subject starts with \"réponse automatique:\"");
}

#[test]
fn a_bounce_of_our_acknowledgement_would_be_a_note_in_its_ticket() {
    let env = TestEnv::new("", "");
    deliver(
        &env,
        &mail(
            JEANNE,
            SMSU_ADDRESS,
            "Panne",
            "b1@univ-lorraine.example",
            "",
        ),
    );
    let view = env.json(&["ticket", "show", "I-000001", "--offer", "SMSU", "--json"]);
    let ack = view["outbox"][0]["message_id"].as_str().unwrap().to_owned();
    let dsn = format!(
        "From: MAILER-DAEMON <>\r\nTo: {SMSU_ADDRESS}\r\nSubject: Undelivered Mail Returned to \
         Sender\r\nMessage-ID: <dsn1@mx.univ-lorraine.example>\r\nDate: Mon, 23 Nov 2026 \
         09:05:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; \
         report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: \
         text/plain\r\n\r\nI could not deliver your message.\r\n\r\n--b\r\nContent-Type: \
         message/delivery-status\r\n\r\nReporting-MTA: dns; mx.univ-lorraine.example\r\n\r\n\
         Final-Recipient: rfc822; jeanne@univ-lorraine.example\r\nAction: failed\r\nStatus: \
         5.1.1\r\n\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {SMSU_ADDRESS}\r\n\
         To: jeanne@univ-lorraine.example\r\nMessage-ID: <{ack}>\r\nSubject: [SMSU I-000001] \
         Panne\r\n\r\n--b--\r\n"
    );
    let path = file(&env, "dsn.eml", dsn.as_bytes());
    let v = inspect_json(&env, &path, &[]);
    assert_eq!(v["classification"], "bounce");
    assert_eq!(
        v["rule"],
        "multipart/report (delivery or disposition report)"
    );
    assert_eq!(v["threading"]["decision"], "append");
    assert_eq!(v["threading"]["ticket"], "I-000001");
    assert_eq!(v["threading"]["via"], "bounce");
}

#[test]
fn a_reply_would_join_its_ticket_and_a_copy_is_a_duplicate() {
    let env = TestEnv::new("", "");
    let first = mail(
        JEANNE,
        SMSU_ADDRESS,
        "Panne",
        "t1@univ-lorraine.example",
        "",
    );
    deliver(&env, &first);
    let reply = mail(
        JEANNE,
        SMSU_ADDRESS,
        "Re: Panne",
        "t2@univ-lorraine.example",
        "In-Reply-To: <t1@univ-lorraine.example>\r\n",
    );
    let path = file(&env, "reply.eml", &reply);
    let v = inspect_json(&env, &path, &[]);
    assert_eq!(v["threading"]["decision"], "append");
    assert_eq!(v["threading"]["ticket"], "I-000001");
    assert_eq!(v["threading"]["via"], "header");
    assert_eq!(v["headers"]["in_reply_to"][0], "t1@univ-lorraine.example");
    let text = stdout(&env.run(&["inspect", path.to_str().unwrap()], b""));
    assert!(text.contains("ticket:          I-000001\n"), "{text}");
    assert!(text.contains("via:             header\n"), "{text}");

    let copy = file(&env, "copy.eml", &first);
    let v = inspect_json(&env, &copy, &[]);
    assert_eq!(v["threading"]["decision"], "duplicate");
    assert_eq!(v["threading"]["ticket"], "I-000001");
    assert!(reason(&v).starts_with("duplicate of I-000001"), "{v}");
}

#[test]
fn a_stranger_with_the_tag_would_open_a_new_linked_ticket() {
    let env = TestEnv::new("", "");
    deliver(
        &env,
        &mail(
            JEANNE,
            SMSU_ADDRESS,
            "Panne",
            "s1@univ-lorraine.example",
            "",
        ),
    );
    let path = file(
        &env,
        "stranger.eml",
        &mail(
            STRANGER,
            SMSU_ADDRESS,
            "Re: [SMSU I-000001] Panne",
            "s2@univ-lorraine.example",
            "",
        ),
    );
    let v = inspect_json(&env, &path, &[]);
    assert_eq!(v["classification"], "human");
    assert_eq!(v["threading"]["decision"], "new-linked");
    assert_eq!(v["threading"]["ticket"], "I-000001");
    assert_eq!(v["threading"]["via"], "subject-tag");
    let reason = reason(&v);
    assert!(reason.contains("possibly related to I-000001"), "{reason}");
    assert!(
        reason.contains("a new contact would be created"),
        "{reason}"
    );
    // The agent of the offer may write into it by the tag.
    let agent = file(
        &env,
        "agent.eml",
        &mail(
            AGENT,
            SMSU_ADDRESS,
            "Re: [SMSU I-000001] Panne",
            "s3@univ-rennes.example",
            "",
        ),
    );
    let v = inspect_json(&env, &agent, &[]);
    assert_eq!(v["threading"]["decision"], "append");
    assert_eq!(v["threading"]["via"], "subject-tag");
}

#[test]
fn an_offer_that_refuses_strangers_says_so() {
    let env = TestEnv::new("", "");
    let path = file(
        &env,
        "geforp.eml",
        &mail(STRANGER, GEFORP_ADDRESS, "Inscription", "g1@x.example", ""),
    );
    let v = inspect_json(&env, &path, &[]);
    assert_eq!(v["offer"], "GEFORP");
    assert_eq!(v["threading"]["decision"], "refused");
    assert!(
        reason(&v).contains(
            "the offer takes no unknown senders: no ticket, answered with a polite refusal"
        ),
        "{v}"
    );
    // `--offer` decides the offer, whatever the recipients say (SMSU takes strangers of a
    // known institution in, once its configuration is in the store).
    deliver(
        &env,
        &mail(
            JEANNE,
            SMSU_ADDRESS,
            "Panne",
            "g0@univ-lorraine.example",
            "",
        ),
    );
    let v = inspect_json(&env, &path, &["--offer", "SMSU"]);
    assert_eq!(v["offer"], "SMSU");
    assert_eq!(v["threading"]["decision"], "new");
}

#[test]
fn inspect_stores_nothing() {
    let env = TestEnv::new("", "");
    deliver(
        &env,
        &mail(
            JEANNE,
            SMSU_ADDRESS,
            "Panne",
            "n1@univ-lorraine.example",
            "",
        ),
    );
    let before = row_counts(&env);
    let messages = [
        mail(
            STRANGER,
            SMSU_ADDRESS,
            "Nouveau",
            "n2@univ-lorraine.example",
            "",
        ),
        mail(
            STRANGER,
            SMSU_ADDRESS,
            "Re: [SMSU I-000001] Panne",
            "n3@univ-lorraine.example",
            "",
        ),
        mail(
            JEANNE,
            SMSU_ADDRESS,
            "Re: Panne",
            "n4@univ-lorraine.example",
            "In-Reply-To: <n1@univ-lorraine.example>\r\n",
        ),
        mail(
            JEANNE,
            SMSU_ADDRESS,
            "Panne",
            "n1@univ-lorraine.example",
            "",
        ),
        mail(SMSU_ADDRESS, SMSU_ADDRESS, "Écho", "n5@x.example", ""),
        b"\x00\x01 not a message".to_vec(),
    ];
    for (n, m) in messages.iter().enumerate() {
        let path = file(&env, &format!("m{n}.eml"), m);
        let out = env.run(&["inspect", path.to_str().unwrap(), "--offer", "SMSU"], b"");
        assert!(out.status.success(), "message {n}: {}", stderr(&out));
    }
    assert_eq!(row_counts(&env), before, "inspect wrote into the store");
    // And a stranger inspected twice is still unknown.
    let path = file(&env, "again.eml", &messages[0]);
    let v = inspect_json(&env, &path, &[]);
    assert_eq!(v["threading"]["decision"], "new");
    assert!(reason(&v).contains("a new contact would be created"), "{v}");
}

#[test]
fn mail_from_our_own_address_is_an_echo_for_the_quarantine() {
    let env = TestEnv::new("", "");
    let path = file(
        &env,
        "echo.eml",
        &mail(SMSU_ADDRESS, SMSU_ADDRESS, "Écho", "e1@x.example", ""),
    );
    let v = inspect_json(&env, &path, &[]);
    assert_eq!(v["classification"], "own-echo");
    assert_eq!(v["threading"]["decision"], "quarantine");
}

#[test]
fn a_message_that_does_not_parse_is_reported_as_a_quarantine_and_exits_0() {
    let env = TestEnv::new("max_message_bytes = 2000", "");
    let random: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = file(&env, "random.bin", &random);
    let out = env.run(&["inspect", path.to_str().unwrap(), "--offer", "SMSU"], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("decision:        quarantine: message of 4000 bytes is over the limit"),
        "{text}"
    );
    assert!(text.contains("classification:  unparsed"), "{text}");
    let empty = file(&env, "empty.eml", b"");
    let v = inspect_json(&env, &empty, &["--offer", "SMSU"]);
    for field in TOP_LEVEL {
        assert!(v.get(field).is_some(), "{field} missing: {v}");
    }
    assert_eq!(v["classification"], "unparsed");
    assert_eq!(v["headers"], Value::Null);
    assert_eq!(v["threading"]["decision"], "quarantine");
    assert!(!reason(&v).is_empty(), "{v}");
    // Without --offer, nothing in it names an offer.
    let v = inspect_json(&env, &empty, &[]);
    assert_eq!(v["offer"], Value::Null);
    assert_eq!(v["threading"]["decision"], "quarantine");
}

#[test]
fn a_file_that_cannot_be_read_exits_66() {
    let env = TestEnv::new("", "");
    let missing = env.dir.path().join("no-such-message.eml");
    let out = env.run(&["inspect", missing.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(EX_NOINPUT), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("guichet: error: cannot read ") && err.contains("no-such-message.eml"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
}

/// In process: after inspecting, delivering the same messages goes exactly as if inspect had
/// never run (no receipt, no contact, no ticket number taken).
async fn inspecting_leaves_nothing_a_delivery_would_see(app: App) {
    let first = mail(
        JEANNE,
        SMSU_ADDRESS,
        "Panne",
        "i1@univ-lorraine.example",
        "",
    );
    let reply = mail(
        JEANNE,
        SMSU_ADDRESS,
        "Re: Panne",
        "i2@univ-lorraine.example",
        "In-Reply-To: <i1@univ-lorraine.example>\r\n",
    );
    let stranger = mail(
        STRANGER,
        SMSU_ADDRESS,
        "Re: [SMSU I-000001] Panne",
        "i3@univ-lorraine.example",
        "",
    );
    let seen = inspect(&app.ctx, None, &first).await.unwrap();
    assert_eq!(seen.threading.decision.as_str(), "new");
    assert_eq!(created(&app.ingest("SMSU", &first).await), "I-000001");
    let seen = inspect(&app.ctx, None, &reply).await.unwrap();
    assert_eq!(seen.threading.decision.as_str(), "append");
    assert_eq!(seen.threading.ticket.as_deref(), Some("I-000001"));
    let seen = inspect(&app.ctx, None, &stranger).await.unwrap();
    assert_eq!(seen.threading.decision.as_str(), "new-linked");
    assert_eq!(seen.threading.ticket.as_deref(), Some("I-000001"));
    // The stranger's ticket is the second: inspect took no number, no receipt.
    assert_eq!(created(&app.ingest("SMSU", &stranger).await), "I-000002");
    assert_eq!(app.tickets("SMSU").await.len(), 2);
}

on_both_backends!(inspecting_leaves_nothing_a_delivery_would_see);

/// The acceptance: `inspect --json` on any corpus file exits 0 with the documented
/// fields. In process (the function the command prints), each file as it is, taken for SMSU
/// (`--offer SMSU`) so that every message goes the whole way through the threading lookup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_message_is_inspected_with_the_documented_fields() {
    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    // Strangers from any domain are taken in, so that every message that parses goes as far
    // as the threading lookup.
    let setup = Setup {
        smsu: "unknown_sender = \"create_unaffiliated\"".to_owned(),
        ..Setup::default()
    };
    let app = App::with(Backend::Sqlite, setup).await;
    let started = Instant::now();
    let files = common::message_files(&corpus);
    assert!(!files.is_empty(), "no message in {}", corpus.display());
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for path in &files {
        let raw = std::fs::read(path).unwrap();
        let seen = inspect(&app.ctx, Some(app.offer("SMSU")), &raw)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let v = serde_json::to_value(&seen).unwrap();
        for field in TOP_LEVEL {
            assert!(
                v.get(field).is_some(),
                "{}: {field} missing",
                path.display()
            );
        }
        for field in ["decision", "reason"] {
            assert!(
                v["threading"][field].is_string(),
                "{}: threading.{field} missing",
                path.display()
            );
        }
        *counts
            .entry(format!(
                "{}/{}",
                seen.classification.as_str(),
                seen.threading.decision.as_str()
            ))
            .or_default() += 1;
    }
    let elapsed = started.elapsed();
    println!(
        "inspected {} corpus files in {elapsed:?}: {counts:?}",
        files.len()
    );
    assert!(
        elapsed < Duration::from_secs(30),
        "inspecting the corpus took {elapsed:?}"
    );
}
