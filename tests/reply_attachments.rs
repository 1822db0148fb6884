//! Files on an agent's reply (issue 8 item 2): `guichet ticket reply --attach FILE` stores
//! them as the article's attachments, types them by extension, and the reply's mail carries
//! them byte for byte after its body (`multipart/mixed`). The outbox row names them by
//! SHA-256, never holds their bytes. A reply whose files weigh more than
//! `mail.max_attachment_bytes` is refused with nothing queued. Through the binary, and in
//! process on SQLite and PostgreSQL to the `.eml` file transport; through a real relay, with a
//! retry, in tests/smtp.rs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use common::app::{App, Backend, created, operator};
use common::{SMSU_ADDRESS as SMSU, Setup, TestEnv, mail};
use guichet::channels::mail::parse;
use guichet::domain::{Attachment, InboundEmail};
use guichet::service::operator as op;

const JEANNE: &str = "jeanne@univ-lorraine.example";

/// A small PDF-shaped file with the bytes that break careless encoders: NUL, 0xFF, bare CR,
/// a long line.
fn pdf() -> Vec<u8> {
    let mut data = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\r<< >>\rendobj\n".to_vec();
    data.extend((0..=255u8).cycle().take(3000));
    data.extend_from_slice(b"\n%%EOF\n");
    data
}

/// A text file in UTF-8 without a final line break.
fn txt() -> Vec<u8> {
    "Journal du relais\nligne 2 : état «ok»\nfin"
        .as_bytes()
        .to_vec()
}

fn file(name: &str, content_type: &str, data: Vec<u8>) -> Attachment {
    Attachment {
        filename: Some(name.to_owned()),
        content_type: content_type.to_owned(),
        data,
        content_id: None,
    }
}

/// The files of a sent mail, as `(name, type, bytes)` in order.
fn files_of(email: &InboundEmail) -> Vec<(String, String, Vec<u8>)> {
    email
        .attachments
        .iter()
        .map(|a| {
            (
                a.filename.clone().unwrap_or_default(),
                a.content_type.clone(),
                a.data.clone(),
            )
        })
        .collect()
}

fn expected() -> Vec<(String, String, Vec<u8>)> {
    vec![
        ("rapport.pdf".into(), "application/pdf".into(), pdf()),
        ("journal.txt".into(), "text/plain".into(), txt()),
    ]
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reply_with_a_pdf_and_a_text_reaches_the_file_transport_with_both() {
        super::reply_reaches_the_file_transport(super::Backend::Sqlite).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reply_with_a_pdf_and_a_text_reaches_the_file_transport_with_both() {
        super::reply_reaches_the_file_transport(super::Backend::Postgres).await;
    }
}

async fn reply_reaches_the_file_transport(backend: Backend) {
    let app = App::with(backend, Setup::default()).await;
    let first = mail(JEANNE, SMSU, "Panne", "a1@univ-lorraine.example", "");
    let r = created(&app.ingest("SMSU", &first).await);
    app.send_outbox("SMSU").await;
    let files = [
        file("rapport.pdf", "application/pdf", pdf()),
        file("journal.txt", "text/plain", txt()),
    ];
    op::reply_with_files(
        &app.ctx,
        app.offer("SMSU"),
        &r,
        &operator(),
        "Voici le rapport.",
        &files,
    )
    .await
    .expect("reply");

    let view = app.show("SMSU", &r).await;
    let reply = view.articles.last().expect("the reply's article");
    let stored: Vec<(Option<&str>, &str, i64)> = view
        .attachments
        .iter()
        .filter(|a| a.article_id == reply.id)
        .map(|a| (a.filename.as_deref(), a.content_type.as_str(), a.size))
        .collect();
    assert_eq!(
        stored,
        [
            (Some("rapport.pdf"), "application/pdf", pdf().len() as i64),
            (Some("journal.txt"), "text/plain", txt().len() as i64),
        ],
        "the article keeps the files"
    );
    let row = app
        .outbox("SMSU")
        .await
        .into_iter()
        .find(|row| row.template == "agent_reply")
        .expect("the reply's row");
    let named = row.context.0["attachments"].to_string();
    assert!(
        named.contains(&guichet::store::sha256_hex(&pdf())) && !named.contains("data"),
        "the row names the files by digest, without their bytes: {named}"
    );

    let report = app.send_outbox("SMSU").await;
    assert_eq!((report.sent, report.failed), (1, 0), "{report:?}");
    let (raw, sent) = app
        .sent_files()
        .into_iter()
        .map(|path| std::fs::read(path).unwrap())
        .map(|raw| {
            let sent = parse(&raw).expect("our mail parses");
            (raw, sent)
        })
        .find(|(_, sent)| sent.message_id.as_str() == row.message_id)
        .expect("the reply's .eml file");
    assert!(
        sent.text_body.contains("Voici le rapport."),
        "{}",
        sent.text_body
    );
    assert_eq!(files_of(&sent), expected(), "both files, byte for byte");
    let head = String::from_utf8_lossy(&raw[..raw.len().min(2000)]).to_ascii_lowercase();
    assert!(head.contains("multipart/mixed"), "{head}");
}

/// Runs `guichet ticket reply` on SMSU's I-000001 with `args` after it.
fn reply(env: &TestEnv, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "ticket", "reply", "I-000001", "--offer", "SMSU", "--as", "paul", "-m", "Voici.",
    ];
    all.extend_from_slice(args);
    env.run(&all, b"")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_cli_attaches_files_typed_by_their_extension() {
    let env = TestEnv::with(Setup::default());
    let first = mail(JEANNE, SMSU, "Panne", "c1@univ-lorraine.example", "");
    assert!(env.deliver("SMSU", &first).status.success());
    let dir = tempfile::tempdir().unwrap();
    let (pdf_path, txt_path, odd_path) = (
        dir.path().join("rapport.pdf"),
        dir.path().join("journal.txt"),
        dir.path().join("trace.zzz9"),
    );
    std::fs::write(&pdf_path, pdf()).unwrap();
    std::fs::write(&txt_path, txt()).unwrap();
    std::fs::write(&odd_path, b"?").unwrap();
    let out = reply(
        &env,
        &[
            "--attach",
            &pdf_path.display().to_string(),
            "--attach",
            &txt_path.display().to_string(),
            "--attach",
            &odd_path.display().to_string(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let view = env.json(&["ticket", "show", "I-000001", "--offer", "SMSU", "--json"]);
    let types: Vec<(String, String)> = view["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["filename"].as_str().unwrap_or_default().to_owned(),
                a["content_type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            ("rapport.pdf".to_owned(), "application/pdf".to_owned()),
            ("journal.txt".to_owned(), "text/plain".to_owned()),
            (
                "trace.zzz9".to_owned(),
                "application/octet-stream".to_owned()
            ),
        ]
    );

    let missing = reply(&env, &["--attach", "/nonexistent/plan.pdf"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("cannot attach /nonexistent/plan.pdf"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn files_over_the_limit_are_refused_and_nothing_is_queued() {
    let env = TestEnv::with(Setup {
        mail: "max_attachment_bytes = 3000\n".into(),
        ..Setup::default()
    });
    let first = mail(JEANNE, SMSU, "Panne", "c2@univ-lorraine.example", "");
    assert!(env.deliver("SMSU", &first).status.success());
    let dir = tempfile::tempdir().unwrap();
    let (big, small) = (dir.path().join("a.pdf"), dir.path().join("b.txt"));
    std::fs::write(&big, vec![b'x'; 2500]).unwrap();
    std::fs::write(&small, vec![b'y'; 501]).unwrap();
    let show = || env.json(&["ticket", "show", "I-000001", "--offer", "SMSU", "--json"]);
    let before = show();

    let out = reply(
        &env,
        &[
            "--attach",
            &big.display().to_string(),
            "--attach",
            &small.display().to_string(),
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "attachments weigh 3001 bytes together, over mail.max_attachment_bytes (3000)"
        ),
        "{}",
        stderr(&out)
    );
    let after = show();
    assert_eq!(after["outbox"], before["outbox"], "nothing queued");
    assert_eq!(after["articles"], before["articles"], "no article");

    std::fs::write(&small, vec![b'y'; 500]).unwrap();
    let out = reply(
        &env,
        &[
            "--attach",
            &big.display().to_string(),
            "--attach",
            &small.display().to_string(),
        ],
    );
    assert!(out.status.success(), "at the limit: {}", stderr(&out));
}
