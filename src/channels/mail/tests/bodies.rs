//! Bodies and parts: delivery reports, HTML and alternatives, inline parts, attachments,
//! line endings and NUL characters.

use super::*;

const DSN: &str = "\
From: Mail Delivery System <MAILER-DAEMON@mx.univ-rennes.example>
To: alice@univ-rennes.example
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
Message-ID: <20250304.dsn@mx.univ-rennes.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary=\"DSN-BOUNDARY\"

This is a MIME-encapsulated message.

--DSN-BOUNDARY
Content-Type: text/plain; charset=us-ascii

I could not deliver your message to gone@x.example.

--DSN-BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.univ-rennes.example

Final-Recipient: rfc822; gone@x.example
Action: failed
Status: 5.1.1

--DSN-BOUNDARY
Content-Type: message/rfc822

From: alice@univ-rennes.example
To: gone@x.example
Subject: hello
Message-ID: <orig@univ-rennes.example>

original body
--DSN-BOUNDARY--
";

#[test]
fn delivery_reports_are_flagged_and_keep_their_parts() {
    let e = ok(DSN);
    assert!(e.auto.is_report);
    assert_eq!(e.auto.auto_submitted.as_deref(), Some("auto-replied"));
    assert!(
        e.text_body.starts_with("I could not deliver"),
        "{:?}",
        e.text_body
    );
    let types: Vec<&str> = e
        .attachments
        .iter()
        .map(|a| a.content_type.as_str())
        .collect();
    assert_eq!(types, ["message/delivery-status", "message/rfc822"]);
    // The returned message is one attachment holding its raw text.
    let original = String::from_utf8_lossy(&e.attachments[1].data);
    assert!(
        original.starts_with("From: alice@univ-rennes.example\r\n"),
        "{original:?}"
    );
    assert!(
        original.trim_end().ends_with("original body"),
        "{original:?}"
    );
    let status = String::from_utf8_lossy(&e.attachments[0].data);
    assert!(status.contains("Status: 5.1.1"), "{status:?}");
}

#[test]
fn html_only_mail_gets_a_text_body_too() {
    let e = ok(
        "From: a@x.example\nContent-Type: text/html; charset=utf-8\n\n\
                    <html><body><p>Bonjour <b>le support</b></p><p>Merci&nbsp;!</p></body></html>\n",
    );
    assert_eq!(
        e.html_body.as_deref().map(str::trim),
        Some("<html><body><p>Bonjour <b>le support</b></p><p>Merci&nbsp;!</p></body></html>")
    );
    assert!(
        e.text_body.contains("Bonjour le support"),
        "{:?}",
        e.text_body
    );
    assert!(!e.text_body.contains('<'), "{:?}", e.text_body);
    // Text-only mail has no HTML body, although mail-parser offers the text as one.
    assert_eq!(ok(SIMPLE).html_body, None);
}

#[test]
fn alternative_mail_keeps_both_bodies() {
    let e = ok(
        "From: a@x.example\nContent-Type: multipart/alternative; boundary=b\n\n\
                    --b\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n\
                    Caf=E9 cass=E9\n--b\nContent-Type: text/html\n\n<p>Caf&eacute; cass&eacute;</p>\n--b--\n",
    );
    assert_eq!(e.text_body.trim_end(), "Café cassé");
    // The stored HTML is sanitised, which writes the entities as the characters they are.
    assert_eq!(
        e.html_body.as_deref().map(str::trim_end),
        Some("<p>Café cassé</p>")
    );
    assert!(e.attachments.is_empty());
}

#[test]
fn text_after_an_inline_picture_is_kept() {
    let e = ok(
        "From: a@x.example\nContent-Type: multipart/mixed; boundary=m\n\n\
                    --m\nContent-Type: text/plain\n\nVoici la capture :\n--m\n\
                    Content-Type: image/png\nContent-Disposition: inline; filename=capture.png\n\
                    Content-Transfer-Encoding: base64\n\niVBORw0K\n--m\n\
                    Content-Type: text/plain\n\net la suite du message.\n--m--\n",
    );
    assert_eq!(e.text_body, "Voici la capture :\net la suite du message.");
    assert_eq!(e.html_body, None);
    let names: Vec<Option<&str>> = e
        .attachments
        .iter()
        .map(|a| a.filename.as_deref())
        .collect();
    assert_eq!(names, [Some("capture.png")]);
}

#[test]
fn attachments_have_names_types_and_decoded_bytes() {
    let e = ok(WITH_ATTACHMENTS);
    assert_eq!(e.text_body.trim_end(), "Voir les pièces jointes.");
    let table: [(Option<&str>, &str, &[u8]); 3] = [
        // RFC 2231 filename in Content-Disposition wins over the Content-Type name.
        (Some("résumé signé.pdf"), "application/pdf", b"%PDF-1.4\n"),
        // RFC 2047 name; the bytes stay in the file's own charset (Latin-1 é = 0xE9).
        (Some("notes été.txt"), "text/plain", b"caf\xe9"),
        // A name is never a path.
        (Some(".._.._etc_passwd"), "image/png", b"\x89PNG\r\n"),
    ];
    assert_eq!(e.attachments.len(), 4, "{:?}", e.attachments);
    for (a, (name, content_type, data)) in e.attachments.iter().zip(table) {
        assert_eq!(a.filename.as_deref(), name);
        assert_eq!(a.content_type, content_type);
        assert_eq!(a.data, data, "{name:?}");
    }
    // The forwarded message is one attachment, not its own parts.
    let nested = &e.attachments[3];
    assert_eq!(
        (nested.filename.as_deref(), nested.content_type.as_str()),
        (None, "message/rfc822")
    );
    let text = String::from_utf8_lossy(&nested.data);
    assert!(
        text.starts_with("From: b@y.example\r\nSubject: forwarded\r\n"),
        "{text:?}"
    );
    assert!(
        text.contains("UEsDBA==") && text.trim_end().ends_with("--inner--"),
        "{text:?}"
    );
}

#[test]
fn lf_only_and_crlf_mail_read_the_same() {
    let crlf = ok(WITH_ATTACHMENTS);
    let lf = parse(WITH_ATTACHMENTS.as_bytes()).unwrap();
    assert_eq!(lf.subject, crlf.subject);
    assert_eq!(lf.attachments.len(), crlf.attachments.len());
    for (a, b) in lf.attachments.iter().zip(&crlf.attachments).take(3) {
        assert_eq!((&a.filename, &a.data), (&b.filename, &b.data));
    }
}

#[test]
fn nul_characters_never_reach_a_string() {
    // "bonjour\0le support\n" in base64, and NULs every way a header can carry one.
    let e = ok(
        "From: =?utf-8?q?Al=00ice?= <a@x.example>\nTo: =?utf-8?q?=00?= <s@y.example>\n\
             Cc: =?utf-8?q?C=00?= <c@y.example>\nReply-To: r@x.example\n\
             Subject: =?utf-8?q?a=00b?=\nMessage-ID: <id@x.example>\n\
             In-Reply-To: <p\0@x.example>\nX-Loop: l\0@y.example\n\
             Delivered-To: s\0@y.example\nAuto-Submitted: no\0\n\
             Content-Type: multipart/mixed; boundary=s\n\n\
             --s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n\
             Ym9uam91cgBsZSBzdXBwb3J0Cg==\n\
             --s\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n\
             <p>x=00y</p>\n\
             --s\nContent-Type: application/octet-stream\n\
             Content-Disposition: attachment; filename=\"=?utf-8?q?f=00.bin?=\"\n\
             Content-Transfer-Encoding: base64\n\nAAEA\n--s--\n",
    );
    assert_eq!(e.subject, "ab");
    assert!(
        e.text_body.starts_with("bonjourle support"),
        "{:?}",
        e.text_body
    );
    assert!(
        e.html_body
            .as_deref()
            .is_some_and(|h| h.contains("<p>xy</p>"))
    );
    assert_eq!(e.from, Some(Mailbox::new(Some("Alice"), "a@x.example")));
    assert_eq!(e.to, [Mailbox::new(None, "s@y.example")]);
    assert_eq!(e.cc, [Mailbox::new(Some("C"), "c@y.example")]);
    assert_eq!(e.in_reply_to, [id("p@x.example")]);
    assert_eq!(e.delivered_to, ["s@y.example"]);
    assert_eq!(e.auto.auto_submitted.as_deref(), Some("no"));
    assert_eq!(e.auto.x_loop, ["l@y.example"]);
    assert_eq!(e.attachments.len(), 1);
    // File bytes stay as sent.
    assert_eq!(e.attachments[0].data, b"\0\x01\0");
    // And nowhere else: every string field, through the Debug form of the whole value
    // (which would show a NUL as `\0`).
    let strings = format!(
        "{:?}",
        InboundEmail {
            attachments: vec![],
            ..e.clone()
        }
    );
    assert!(!strings.contains("\\0"), "{strings}");
    let names: Vec<String> = e
        .attachments
        .iter()
        .map(|a| format!("{:?} {}", a.filename, a.content_type))
        .collect();
    assert!(!names.concat().contains('\0'), "{names:?}");

    // Without a Message-ID, the derived id is computed from the cleaned value.
    let e = ok(
        "From: a@x.example\nSubject: =?utf-8?q?a=00b?=\nContent-Transfer-Encoding: base64\n\n\
                    Ym9uam91cgBsZSBzdXBwb3J0Cg==\n",
    );
    assert_eq!(
        (e.subject.as_str(), e.text_body.as_str()),
        ("ab", "bonjourle support\n")
    );
    assert_eq!(
        e.message_id.as_str(),
        derived_id("a@x.example", "", "ab", &e)
    );
}

#[test]
fn outlook_folded_encoded_filenames_are_read_whole() {
    let e = ok(
        "From: a@x.example\nContent-Type: multipart/mixed; boundary=s\n\n--s\n\
                    Content-Type: text/plain\n\nci-joint\n--s\n\
                    Content-Type: application/pdf; name=\n\t\"=?iso-8859-1?Q?Fiche_d=E9cl?=\n =?iso-8859-1?Q?aration.pdf?=\"\n\
                    Content-Disposition: attachment; filename=\n\t\"=?iso-8859-1?Q?Fiche_d=E9cl?=\n =?iso-8859-1?Q?aration.pdf?=\"; size=4\n\
                    Content-Transfer-Encoding: base64\n\nJVBERg==\n--s--\n",
    );
    let names: Vec<Option<&str>> = e
        .attachments
        .iter()
        .map(|a| a.filename.as_deref())
        .collect();
    assert_eq!(names, [Some("Fiche déclaration.pdf")]);
    assert_eq!(e.attachments[0].data, b"%PDF");
}

#[test]
fn named_inline_text_parts_are_attachments_too() {
    let journal = "Content-Type: text/plain; charset=iso-8859-1\nContent-Disposition: inline; filename=journal.txt\n\
                       Content-Transfer-Encoding: quoted-printable\n\nerreur =E0 10h\n";
    let first = "--s\nContent-Type: text/plain\n\nVoici le journal.\n";
    // (parts, text body): a named text part is shown in the body when it is inline, and is
    // always an attachment, with its bytes in its own charset.
    let table = [
        (
            format!("{first}--s\n{journal}--s--\n"),
            "Voici le journal.\nerreur à 10h",
        ),
        (format!("--s\n{journal}--s--\n"), "erreur à 10h"),
        (
            format!(
                "{first}--s\n{}--s--\n",
                journal.replace("; charset", "; name=journal.txt; charset")
            ),
            "Voici le journal.",
        ),
    ];
    for (parts, text) in table {
        let e = ok(&format!(
            "From: a@x.example\nContent-Type: multipart/mixed; boundary=s\n\n{parts}"
        ));
        assert_eq!(e.text_body, text, "{parts}");
        assert_eq!(e.attachments.len(), 1, "{parts}");
        let a = &e.attachments[0];
        assert_eq!(
            (a.filename.as_deref(), a.content_type.as_str()),
            (Some("journal.txt"), "text/plain")
        );
        assert_eq!(a.data, b"erreur \xe0 10h");
    }
}

#[test]
fn a_truncated_part_is_still_decoded() {
    // The closing boundary never comes (a delivery cut short): mail-parser keeps the part
    // encoded, `parse` decodes it.
    let e = ok(
        "From: a@x.example\nContent-Type: multipart/alternative; boundary=s\n\n--s\n\
                    Content-Type: text/plain; charset=iso-8859-1\n\
                    Content-Transfer-Encoding: quoted-printable\n\nL'envoi a =E9chou=E9 pour =\nun destinataire.\n",
    );
    assert_eq!(
        e.text_body.trim_end(),
        "L'envoi a échoué pour un destinataire."
    );
}
