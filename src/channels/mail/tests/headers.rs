//! Header fields: addresses, ids (kept, derived), subjects, machine headers, dates,
//! charsets of 8-bit headers, and long id and address lists.

use super::*;

#[test]
fn simple_message_is_read_field_by_field() {
    let e = ok(SIMPLE);
    assert_eq!(e.message_id, id("abc.123@univ-rennes.example"));
    assert!(!e.message_id_generated);
    assert_eq!(
        e.from,
        Some(Mailbox::new(
            Some("Alice Martin"),
            "alice.martin@univ-rennes.example"
        ))
    );
    assert_eq!(e.sender, None);
    assert_eq!(
        e.to,
        vec![Mailbox::new(
            Some("Support SMSU"),
            "support-smsu@esup-portail.example"
        )]
    );
    let cc: Vec<&str> = e.cc.iter().map(|m| m.address.as_str()).collect();
    assert_eq!(cc, ["bob@univ-rennes.example", "carol@univ-rennes.example"]);
    assert_eq!(
        e.reply_to,
        vec![Mailbox::new(None, "alice.perso@example.org")]
    );
    assert_eq!(e.delivered_to, ["support-smsu@esup-portail.example"]);
    assert_eq!(e.subject, "Envoi SMS en panne");
    assert_eq!(
        e.date.map(|d| d.to_rfc3339()).as_deref(),
        Some("2025-03-04T09:15:00+00:00")
    );
    assert_eq!(e.text_body, "Bonjour,\r\nles SMS ne partent plus.\r\n");
    assert_eq!(e.html_body, None);
    assert!(e.attachments.is_empty());
    assert!(e.in_reply_to.is_empty() && e.references.is_empty());
    assert_eq!(
        e.auto.return_path.as_deref(),
        Some("<Alice@Univ-Rennes.example>")
    );
    assert!(!e.auto.is_report);
}

#[test]
fn reply_ids_are_kept_in_order_without_brackets() {
    let table: &[(&str, &[&str], &[&str])] = &[
        (
            "In-Reply-To: <p2@x.example>\nReferences: <p1@x.example>\n <p2@x.example>\n",
            &["p2@x.example"],
            &["p1@x.example", "p2@x.example"],
        ),
        (
            "References: <a@x> <b@x> <c@x>\n",
            &[],
            &["a@x", "b@x", "c@x"],
        ),
        (
            "In-Reply-To: <p@x> (Alice's message of Monday)\n",
            &["p@x"],
            &[],
        ),
        ("In-Reply-To: your message of Monday\n", &[], &[]),
        ("In-Reply-To:\nReferences: <>\n", &[], &[]),
    ];
    for (headers, in_reply_to, references) in table {
        let e = ok(&format!(
            "From: a@x.example\nSubject: Re: x\n{headers}\nbody\n"
        ));
        let got: Vec<&str> = e.in_reply_to.iter().map(MessageId::as_str).collect();
        assert_eq!(&got, in_reply_to, "{headers}");
        let got: Vec<&str> = e.references.iter().map(MessageId::as_str).collect();
        assert_eq!(&got, references, "{headers}");
    }
}

#[test]
fn missing_message_id_is_derived_from_what_the_sender_wrote() {
    let text = "From: A <A@X.example>\nDate: Tue, 04 Mar 2025 10:15:00 +0100\n\
                    Subject: =?utf-8?q?no_id?=\n\nbody\n";
    let first = ok(text);
    assert!(first.message_id_generated);
    assert_eq!(
        first.message_id.as_str(),
        derived_id(
            "a@x.example",
            "Tue, 04 Mar 2025 10:15:00 +0100",
            "no id",
            &first
        )
    );
    // Delivered again by another path: the MTA pipe and Maildir add their own trace and
    // envelope headers on top, and one of them may rewrite line endings.
    let traced = format!(
        "Return-Path: <a@x.example>\nDelivered-To: support-smsu@esup-portail.example\n\
             Received: from mx.x.example by mx.esup-portail.example with ESMTPS id 42;\n\
             \tTue, 04 Mar 2025 10:15:02 +0100\n{text}"
    );
    for again in [ok(text), ok(&traced), parse(traced.as_bytes()).unwrap()] {
        assert_eq!(
            first.message_id, again.message_id,
            "{:?}",
            again.delivered_to
        );
        assert!(again.message_id_generated);
    }
    // Anything the sender wrote changes it.
    for other in [
        text.replace("body", "another body"),
        text.replace("A@X", "b@x"),
        text.replace("10:15:00", "10:16:00"),
        text.replace("no_id", "other"),
        text.replace("Date: ", "X-Date: "),
    ] {
        assert_ne!(first.message_id, ok(&other).message_id, "{other}");
    }
    // A Sender alone stands in for the From.
    let sender_only = ok("Sender: S@y.example\n\nbody\n");
    assert_eq!(
        sender_only.message_id.as_str(),
        derived_id("s@y.example", "", "", &sender_only)
    );
    // An id that is not one (spaces) is treated as missing.
    let broken = ok("From: a@x.example\nMessage-ID: <not an id>\n\nbody\n");
    assert!(broken.message_id_generated);
}

#[test]
fn sender_stands_in_for_a_missing_from() {
    let e = ok("Sender: Robot <Robot@X.example>\nSubject: s\n\nbody\n");
    assert_eq!(e.from, None);
    assert_eq!(
        e.sender,
        Some(Mailbox::new(Some("Robot"), "robot@x.example"))
    );
    // The first usable From wins when there are several.
    let e = ok("From: nobody\nFrom: First <first@x.example>\nFrom: second@x.example\n\nbody\n");
    assert_eq!(
        e.from.map(|m| m.address).as_deref(),
        Some("first@x.example")
    );
}

#[test]
fn groups_are_flattened_and_names_decoded() {
    let e = ok("From: =?UTF-8?Q?Ren=C3=A9e?= <renee@x.example>\n\
                    To: Équipe: A <A@x.example>, b@x.example;, c@x.example\n\
                    Cc: undisclosed-recipients:;\n\nbody\n");
    assert_eq!(e.from.and_then(|m| m.name).as_deref(), Some("Renée"));
    let to: Vec<&str> = e.to.iter().map(|m| m.address.as_str()).collect();
    assert_eq!(to, ["a@x.example", "b@x.example", "c@x.example"]);
    assert!(e.cc.is_empty());
}

#[test]
fn encoded_subjects_are_decoded() {
    let table = [
        ("=?UTF-8?Q?Probl=C3=A8me_d'acc=C3=A8s?=", "Problème d'accès"),
        ("=?ISO-8859-1?B?UHJvYmzobWU=?= urgent", "Problème urgent"),
        (
            "=?utf-8?b?W1NNU1UgSS0wMDAwNDJdIMOpdMOp?=",
            "[SMSU I-000042] été",
        ),
        ("Re: plain\n folded", "Re: plain folded"),
    ];
    for (header, want) in table {
        let e = ok(&format!("From: a@x.example\nSubject: {header}\n\nbody\n"));
        assert_eq!(e.subject, want, "{header}");
    }
    assert_eq!(ok("From: a@x.example\n\nbody\n").subject, "");
}

#[test]
fn machine_headers_are_kept_as_written() {
    let e = ok("From: a@x.example\n\
                    Return-Path: <>\n\
                    Return-Path: <older@x.example>\n\
                    Auto-Submitted: auto-replied (vacation)\n\
                    Precedence: bulk\n\
                    X-Auto-Response-Suppress: All\n\
                    X-Autoreply: yes\n\
                    X-Autorespond: Out of office\n\
                    X-Loop: support-smsu@esup-portail.example\n\
                    X-Loop: other@x.example\n\
                    List-Id: SMS users <sms-users.lists.example>\n\
                    X-Failed-Recipients: gone@x.example,\n other@x.example\n\nbody\n");
    let want = AutoHeaders {
        auto_submitted: Some("auto-replied (vacation)".into()),
        precedence: Some("bulk".into()),
        x_auto_response_suppress: Some("All".into()),
        x_autoreply: Some("yes".into()),
        x_autorespond: Some("Out of office".into()),
        x_loop: vec![
            "support-smsu@esup-portail.example".into(),
            "other@x.example".into(),
        ],
        list_id: Some("SMS users <sms-users.lists.example>".into()),
        x_failed_recipients: Some("gone@x.example, other@x.example".into()),
        return_path: Some(String::new()),
        is_report: false,
        unusable_from: None,
    };
    assert_eq!(e.auto, want);
    assert_eq!(
        ok("From: a@x.example\n\nbody\n").auto,
        AutoHeaders::default()
    );
}

#[test]
fn null_return_path_reads_as_empty() {
    let table = [
        ("Return-Path: <>", Some("")),
        ("Return-Path:   < >  ", Some("")),
        (
            "Return-Path: <bounce@x.example>",
            Some("<bounce@x.example>"),
        ),
        ("X-Other: 1", None),
    ];
    for (header, want) in table {
        let e = ok(&format!("{header}\nFrom: a@x.example\n\nbody\n"));
        assert_eq!(e.auto.return_path.as_deref(), want, "{header}");
    }
}

#[test]
fn invalid_dates_are_dropped() {
    let table = [
        (
            "Date: Tue, 04 Mar 2025 10:15:00 -0230",
            Some("2025-03-04T12:45:00+00:00"),
        ),
        ("Date: yesterday", None),
        ("Date: Tue, 31 Feb 2025 99:99:99 +0000", None),
    ];
    for (header, want) in table {
        let e = ok(&format!("From: a@x.example\n{header}\n\nbody\n"));
        assert_eq!(e.date.map(|d| d.to_rfc3339()).as_deref(), want, "{header}");
    }
}

#[test]
fn broken_address_headers_still_give_their_addresses() {
    type Mailboxes = &'static [(Option<&'static str>, &'static str)];
    let table: &[(&str, Mailboxes)] = &[
        // No angle brackets around the address.
        (
            "Big Bug bb@Bug.example",
            &[(Some("Big Bug"), "bb@bug.example")],
        ),
        // No comma between two addresses.
        (
            "tim@x.example concierge@x.example",
            &[(None, "tim@x.example"), (None, "concierge@x.example")],
        ),
        // RFC 5322 obsolete syntax: comments and spaces around the dots.
        (
            "John Doe <jdoe@machine(comment).  example>",
            &[(Some("John Doe (comment)"), "jdoe@machine.example")],
        ),
        ("Mary Smith", &[]),
        ("<>", &[]),
    ];
    for (header, want) in table {
        let e = ok(&format!("From: a@x.example\nTo: {header}\n\nbody\n"));
        let want: Vec<Mailbox> = want.iter().map(|(n, a)| Mailbox::new(*n, a)).collect();
        assert_eq!(e.to, want, "{header}");
    }
}

#[test]
fn blank_lines_before_the_headers_are_skipped() {
    let padded = format!(
        "{}\r\n\r\nFrom: a@x.example\r\nSubject: padded\r\n\r\nbody\r\n",
        " ".repeat(255)
    );
    let e = parse(padded.as_bytes()).unwrap();
    assert_eq!(
        (e.subject.as_str(), e.text_body.as_str()),
        ("padded", "body\r\n")
    );
    // The padding is not part of the message: the derived id is the one without it.
    let unpadded = parse(b"From: a@x.example\r\nSubject: padded\r\n\r\nbody\r\n").unwrap();
    assert_eq!(e.message_id, unpadded.message_id);
    assert!(e.message_id_generated);
}

/// A message written with `\n`, sent with CRLF, every character in `charset`.
fn eml_in(charset: &'static encoding_rs::Encoding, text: &str) -> Vec<u8> {
    let text = text.replace('\n', "\r\n");
    let (bytes, _, unmappable) = charset.encode(&text);
    assert!(!unmappable, "{text} in {}", charset.name());
    bytes.into_owned()
}

fn subject_and_name(raw: &[u8]) -> (String, Option<String>) {
    let e = parse(raw).unwrap();
    (e.subject, e.from.and_then(|m| m.name))
}

#[test]
fn eight_bit_headers_are_read_in_the_body_charset() {
    let table = [
        ("iso-8859-1", "Problème d'accès à l'ENT", "Hélène Dupré"),
        // Not Windows-1252: 0xA4 is `€` here, `¤` there.
        ("ISO-8859-15", "Facture de 10 € réglée", "Åsa Œhlenschläger"),
        ("koi8-r", "Не работает отправка SMS", "Ирина Петрова"),
    ];
    for (label, subject, name) in table {
        let charset = encoding_rs::Encoding::for_label(label.as_bytes()).unwrap();
        let raw = eml_in(
            charset,
            &format!(
                "From: {name} <h@x.example>\nSubject: {subject}\n\
                     Content-Type: text/plain; charset=\"{label}\"\n\n{subject}\n"
            ),
        );
        let e = parse(&raw).unwrap();
        assert_eq!(
            (e.subject.as_str(), e.from.and_then(|m| m.name).as_deref()),
            (subject, Some(name)),
            "{label}"
        );
        assert_eq!(e.text_body.trim_end(), subject, "{label}");
    }
}

#[test]
fn eight_bit_headers_without_a_charset_are_windows_1252() {
    let subject = "Cœur de cible – « test » “ouvert” à 10 €";
    let text = format!("From: Zoë L’Hôte <z@x.example>\nSubject: {subject}\n\nbody\n");
    // No charset at all, or a body that says UTF-8 (the headers are not, whatever it says),
    // or a multipart body whose text says UTF-8.
    let messages = [
        eml_in(encoding_rs::WINDOWS_1252, &text),
        eml_in(
            encoding_rs::WINDOWS_1252,
            &text.replace("\n\n", "\nContent-Type: text/plain; charset=utf-8\n\n"),
        ),
        eml_in(
            encoding_rs::WINDOWS_1252,
            &text.replace(
                "\n\nbody\n",
                "\nContent-Type: multipart/alternative; boundary=b\n\n--b\n\
                     Content-Type: text/plain; charset=utf-8\n\nbody\n--b--\n",
            ),
        ),
    ];
    for raw in messages {
        assert_eq!(
            subject_and_name(&raw),
            (subject.to_owned(), Some("Zoë L’Hôte".to_owned()))
        );
    }
}

#[test]
fn a_multipart_body_lends_its_text_charset_to_the_headers() {
    let text = "From: Åsa <a@x.example>\nSubject: 5 € de frais\n\
                    Content-Type: multipart/mixed; boundary=b\n\n\
                    --b\nContent-Type: text/plain; charset=iso-8859-15\n\
                    Content-Transfer-Encoding: 8bit\n\nPayé 5 €\n\
                    --b\nContent-Type: application/octet-stream\n\
                    Content-Disposition: attachment; filename=x.bin\n\
                    Content-Transfer-Encoding: base64\n\nAAEC\n--b--\n";
    let e = parse(&eml_in(encoding_rs::ISO_8859_15, text)).unwrap();
    assert_eq!(e.subject, "5 € de frais");
    assert_eq!(e.from.and_then(|m| m.name).as_deref(), Some("Åsa"));
    // The body and attachments are read from the converted copy, at its own offsets.
    assert_eq!(e.text_body.trim_end(), "Payé 5 €");
    assert_eq!(e.attachments.len(), 1);
    assert_eq!(e.attachments[0].data, b"\0\x01\x02");
}

#[test]
fn utf8_header_lines_are_left_as_they_are() {
    // A UTF-8 Subject next to a Latin-1 From, in a Latin-1 message: only the From is read
    // in Latin-1. A whole UTF-8 header block is not touched at all.
    let mut raw = b"From: Ren\xe9e <r@x.example>\r\n".to_vec();
    raw.extend_from_slice("Subject: Déjà vu\r\n".as_bytes());
    raw.extend_from_slice(b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9\r\n");
    assert_eq!(
        subject_and_name(&raw),
        ("Déjà vu".to_owned(), Some("Renée".to_owned()))
    );
    let e = parse(&eml_in(
        encoding_rs::UTF_8,
        "From: Renée <r@x.example>\nSubject: Déjà vu\n\
             Content-Type: text/plain; charset=iso-8859-1\n\nbody\n",
    ))
    .unwrap();
    assert_eq!(
        (e.subject.as_str(), e.from.and_then(|m| m.name).as_deref()),
        ("Déjà vu", Some("Renée"))
    );
    // UTF-8 cut in the middle of a character is still UTF-8, not Windows-1252 mojibake.
    let mut raw = "From: Юникод запрещен".as_bytes().to_vec();
    raw.extend_from_slice(b"\xd1 <u@x.example>\r\nSubject: caf\xe9\r\n\r\nbody\r\n");
    assert_eq!(
        subject_and_name(&raw),
        (
            "café".to_owned(),
            Some("Юникод запрещен\u{fffd}".to_owned())
        )
    );
}

#[test]
fn long_references_keep_the_root_and_the_newest_ids() {
    let e = ok(&format!(
        "From: a@x.example\nReferences: {}\n\nbody\n",
        reference_list(250)
    ));
    let mut want = vec!["r0@x.example".to_owned()];
    want.extend((151..250).map(|i| format!("r{i}@x.example")));
    assert_eq!(ids_of(&e.references), want);

    // Up to the bound nothing is cut; unusable ids do not count, and the list runs across
    // several References headers.
    let e = ok(&format!(
        "From: a@x.example\nReferences: <not an id> {}\nReferences: <> <last@x.example>\n\nbody\n",
        reference_list(99)
    ));
    let mut want: Vec<String> = (0..99).map(|i| format!("r{i}@x.example")).collect();
    want.push("last@x.example".to_owned());
    assert_eq!(ids_of(&e.references), want);

    // One more: the root stays, the oldest of the others goes.
    let e = ok(&format!(
        "From: a@x.example\nReferences: {}\n <last@x.example>\n\nbody\n",
        reference_list(100)
    ));
    assert_eq!(e.references.len(), MAX_REFERENCES);
    assert_eq!(ids_of(&e.references[..2]), ["r0@x.example", "r2@x.example"]);
    assert_eq!(
        e.references.last().map(MessageId::as_str),
        Some("last@x.example")
    );
}

#[test]
fn in_reply_to_keeps_its_first_ids() {
    let e = ok(&format!(
        "From: a@x.example\nIn-Reply-To: <>\n {}\n\nbody\n",
        reference_list(50)
    ));
    let want: Vec<String> = (0..MAX_IN_REPLY_TO)
        .map(|i| format!("r{i}@x.example"))
        .collect();
    assert_eq!(ids_of(&e.in_reply_to), want);
}

#[test]
fn envelope_headers_keep_the_first_distinct_addresses() {
    let mut headers = String::new();
    for i in 0..300 {
        // Each address twice, in both headers and cases: repeats do not use up the bound.
        headers.push_str(&format!(
            "Delivered-To: User{i}@x.example\nX-Original-To: <user{i}@x.example>\n"
        ));
    }
    let e = ok(&format!("{headers}From: a@x.example\n\nbody\n"));
    let want: Vec<String> = (0..MAX_TRACE_VALUES)
        .map(|i| format!("user{i}@x.example"))
        .collect();
    assert_eq!(e.delivered_to, want);
}

#[test]
fn recipient_lists_keep_their_first_mailboxes() {
    let list = |prefix: &str| {
        (0..150)
            .map(|i| format!("{prefix}{i}@x.example"))
            .collect::<Vec<_>>()
            .join(",\n ")
    };
    let e = ok(&format!(
        "From: a@x.example, b@x.example\nTo: {}\nCc: {}\nReply-To: {}\nX-Loop: {}\n\nbody\n",
        list("t"),
        list("c"),
        list("r"),
        list("l").replace(",\n ", "\nX-Loop: ")
    ));
    assert_eq!(e.from, Some(Mailbox::new(None, "a@x.example")));
    for (what, got, prefix) in [
        ("to", &e.to, "t"),
        ("cc", &e.cc, "c"),
        ("reply-to", &e.reply_to, "r"),
    ] {
        let got: Vec<&str> = got.iter().map(|m| m.address.as_str()).collect();
        let want: Vec<String> = (0..MAX_MAILBOXES)
            .map(|i| format!("{prefix}{i}@x.example"))
            .collect();
        assert_eq!(got, want, "{what}");
    }
    assert_eq!(e.auto.x_loop.len(), MAX_TRACE_VALUES);
    assert_eq!(
        e.auto.x_loop.last().map(String::as_str),
        Some("l99@x.example")
    );
}

#[test]
fn cr_only_line_ends_are_line_ends() {
    let e = ok("From: a@x.example\rSubject: old mac\rTo: b@y.example\r\rbody\rline two\r");
    assert_eq!(e.subject, "old mac");
    assert_eq!(e.to, [Mailbox::new(None, "b@y.example")]);
    assert!(e.text_body.contains("line two"), "{:?}", e.text_body);
}
