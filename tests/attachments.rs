//! Attachments and size limits (issue 7 item 8), in process on both backends: inline images
//! keep their Content-ID, dangerous files are flagged (by content as well as by name) and kept,
//! and each offer has its own size limit, over which only the header and the size are kept.
//! `deliver` reading no more than the limit is in tests/cli_deliver.rs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use common::app::{App, created};
use common::{GEFORP_ADDRESS, SMSU_ADDRESS};
use guichet::domain::message::header_block;
use guichet::service::ingest::IngestOutcome;
use guichet::service::operator;

const JEANNE: &str = "jeanne@univ-lorraine.example";

/// A minimal Windows PE image: `MZ`, the PE header's offset at 0x3C, `PE\0\0` there.
fn pe_image() -> Vec<u8> {
    let mut d = vec![0u8; 0x80];
    d[..2].copy_from_slice(b"MZ");
    d[0x3C..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    d[0x40..0x44].copy_from_slice(b"PE\0\0");
    d
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from_be_bytes([0, b[0], b[1], b[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An HTML mail with an inline image (multipart/related, Content-ID) and two attached files:
/// a program named like a PDF, and a macro-enabled Word document.
fn mail_with_attachments() -> Vec<u8> {
    let png = base64(b"\x89PNG\r\n\x1a\n fake image");
    let exe = base64(&pe_image());
    let docm = base64(b"PK\x03\x04 not really a zip");
    format!(
        "From: Jeanne <{JEANNE}>\r\nTo: {SMSU_ADDRESS}\r\nSubject: Capture et fichiers\r\n\
         Message-ID: <pj@univ-lorraine.example>\r\nDate: Mon, 23 Nov 2026 09:00:00 +0100\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"mixed\"\r\n\r\n\
         --mixed\r\nContent-Type: multipart/related; boundary=\"rel\"\r\n\r\n\
         --rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <p>Voir la capture&nbsp;:</p><img src=\"cid:capture.1@univ-lorraine.example\">\r\n\
         --rel\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\
         Content-ID: <capture.1@univ-lorraine.example>\r\n\
         Content-Disposition: inline; filename=\"capture.png\"\r\n\r\n{png}\r\n--rel--\r\n\
         --mixed\r\nContent-Type: application/pdf; name=\"facture.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"facture.pdf\"\r\n\r\n{exe}\r\n\
         --mixed\r\nContent-Type: application/octet-stream; name=\"rapport.docm\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"rapport.docm\"\r\n\r\n{docm}\r\n\
         --mixed--\r\n"
    )
    .into_bytes()
}

async fn inline_images_keep_their_content_id_and_dangerous_files_are_flagged(app: App) {
    let reference = created(&app.ingest("SMSU", &mail_with_attachments()).await);
    let view = app.show("SMSU", &reference).await;
    let found: Vec<(Option<&str>, Option<&str>, Option<&str>)> = view
        .attachments
        .iter()
        .map(|a| {
            (
                a.filename.as_deref(),
                a.content_id.as_deref(),
                a.danger.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                Some("capture.png"),
                Some("capture.1@univ-lorraine.example"),
                None
            ),
            (
                Some("facture.pdf"),
                None,
                Some("executable (content: Windows PE)")
            ),
            (
                Some("rapport.docm"),
                None,
                Some("macro-enabled document (name: .docm)")
            ),
        ],
        "{:?}",
        view.attachments
    );
    // Flagged, not dropped: the bytes are there for an agent who needs them.
    assert_eq!(view.attachments[1].size, pe_image().len() as i64);
    // The sanitised HTML keeps the cid: reference the Content-ID resolves.
    let html = view.articles[0].body_html.as_deref().unwrap_or_default();
    assert!(
        html.contains("cid:capture.1@univ-lorraine.example"),
        "{html}"
    );
}

/// `size` bytes of mail from Jeanne to both offers, its body padding.
fn big_mail(size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Jeanne <{JEANNE}>\r\nTo: {SMSU_ADDRESS}, {GEFORP_ADDRESS}\r\n\
         Subject: Journaux\r\nMessage-ID: <logs@univ-lorraine.example>\r\n\
         Date: Mon, 23 Nov 2026 09:00:00 +0100\r\n\r\n"
    )
    .into_bytes();
    m.resize(size, b'l');
    m
}

async fn each_offer_has_its_size_limit_and_keeps_only_the_header_beyond_it(mut app: App) {
    app.reconfigure(|s| s.smsu = "max_message_bytes = 2000".into())
        .await;
    let mail = big_mail(5000);
    let delivered = app.deliver(&mail).await.expect("delivered");
    let outcomes: Vec<(String, &IngestOutcome)> = delivered
        .outcomes
        .iter()
        .map(|(code, o)| (code.to_string(), o))
        .collect();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    // SMSU's limit is 2000 bytes: quarantined, with the header and the size only.
    let (_, smsu) = outcomes.iter().find(|(c, _)| c == "SMSU").unwrap();
    let IngestOutcome::Quarantined { id, reason } = smsu else {
        panic!("SMSU: {smsu:?}");
    };
    assert!(
        reason.contains("message of 5000 bytes is over the limit of 2000 bytes"),
        "{reason}"
    );
    assert_eq!(
        app.quarantined_message("SMSU", *id).await,
        header_block(&mail)
    );
    let listed = app.quarantine("SMSU").await;
    assert_eq!((listed[0].size, listed[0].header_only), (5000, true));
    // Its body was never kept: a replay says so rather than open a ticket without it.
    let offer = app.offer("SMSU").clone();
    let replay = operator::replay_quarantine(&app.ctx, &offer, *id).await;
    let refused = replay.expect_err("a header-only entry cannot be replayed");
    assert!(
        refused.to_string().contains("only its header was kept"),
        "{refused}"
    );
    assert!(app.tickets("SMSU").await.is_empty());
    // GEFORP keeps the daemon's default limit: the same message opens a ticket there.
    let (_, geforp) = outcomes.iter().find(|(c, _)| c == "GEFORP").unwrap();
    assert!(
        matches!(geforp, IngestOutcome::Created { .. }),
        "{geforp:?}"
    );
}

on_both_backends!(
    inline_images_keep_their_content_id_and_dangerous_files_are_flagged,
    each_offer_has_its_size_limit_and_keeps_only_the_header_beyond_it,
);
