//! What is not a message, or is built to hurt: refused bytes with their reasons, hostile
//! header lists (linear time), parser panics, and fuzzing (proptest).

use super::*;

#[test]
fn bytes_that_are_not_a_message_are_refused_with_a_reason() {
    let kind = |r: Result<InboundEmail, ParseError>| match r {
        Ok(_) => "a message",
        Err(ParseError::Empty) => "empty",
        Err(ParseError::NotAMessage(_)) => "not a message",
        Err(ParseError::NoSender) => "no sender",
        Err(ParseError::ParserFailed) => "parser failed",
    };
    let table: &[(&str, &[u8], &str)] = &[
        ("empty", b"", "empty"),
        ("blank lines", b"\r\n\r\n  \n", "empty"),
        (
            "prose",
            b"hello there, this is not mail\nat all\n",
            "not a message",
        ),
        (
            "garbage headers",
            b"foo bar: baz\nqux: 1\nx-y: z\n\nbody\n",
            "not a message",
        ),
        (
            "body without headers",
            b"\n\njust a body\n",
            "not a message",
        ),
        (
            "binary",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00:\x01",
            "not a message",
        ),
        (
            "no from",
            b"To: a@x.example\nSubject: hi\n\nbody\n",
            "no sender",
        ),
        (
            "from a person without domain",
            b"From: alice\nSubject: hi\n\nbody\n",
            "no sender",
        ),
        // Machine mail without a usable sender is still read: the loop guard recognises it
        // and its bounce is matched to our mail instead of being quarantined.
        (
            "from the mail system without domain",
            b"From: MAILER-DAEMON\nSubject: hi\n\nbody\n",
            "a message",
        ),
        (
            "a report without a sender",
            b"Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@x.example\n",
            "a message",
        ),
        (
            "from with a name only",
            b"From: Alice\nSubject: hi\n\nbody\n",
            "no sender",
        ),
        (
            "null from",
            b"From: Mail Delivery System <>\n\nbody\n",
            "no sender",
        ),
    ];
    for (what, raw, want) in table {
        assert_eq!(kind(parse(raw)), *want, "{what}");
    }
    if let Err(e) = parse(b"foo bar: baz\n") {
        assert!(e.to_string().starts_with("not an email message: "), "{e}");
    }
}

#[test]
fn random_bytes_are_refused() {
    // A fixed xorshift stream: the same "random" inputs on every run.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for len in [1usize, 7, 64, 500, 4096, 65_536] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        assert!(parse(&bytes).is_err(), "{len} random bytes gave a message");
    }
}

/// Hostile messages from issue 5: parse times printed (`--nocapture`), mail-parser alone
/// and the whole of `parse`. The bound only catches a quadratic blow-up: 60,000
/// Delivered-To headers took 26 s when they were de-duplicated by a list scan.
#[test]
fn hostile_header_lists_parse_in_linear_time() {
    const SANITY: std::time::Duration = std::time::Duration::from_secs(10);
    let tail = "From: a@x.example\r\nMessage-ID: <m@x.example>\r\nSubject: s\r\n\r\nbody\r\n";
    let references = format!("References: {}\r\n{tail}", reference_list(100_000));
    let delivered_to: String = (0..60_000)
        .map(|i| format!("Delivered-To: user{i}@x.example\r\n"))
        .chain([tail.to_owned()])
        .collect();
    // 25 MiB of short header lines of every kind parsed differently.
    let kinds = [
        "Received: from h{i}.x.example by mx.x.example; Tue, 4 Mar 2025 10:15:00 +0100",
        "To: u{i}@x.example, Someone <s{i}@x.example>",
        "References: <r{i}@x.example> <q{i}@x.example>",
        "X-Original-To: o{i}@x.example",
        "X-Header-{i}: some value that is just long enough to fill the line",
        "Subject: =?utf-8?q?caf=C3=A9_{i}?=",
    ];
    let mut hostile = String::new();
    let mut i = 0usize;
    while hostile.len() < 25 * 1024 * 1024 - tail.len() - 200 {
        hostile.push_str(&kinds[i % kinds.len()].replace("{i}", &i.to_string()));
        hostile.push_str("\r\n");
        i += 1;
    }
    hostile.push_str(tail);
    // The same with a Latin-1 `é` on every line: the header block is converted and parsed
    // a second time.
    let latin1 = hostile
        .replace("\r\n", "\u{1}\r\n")
        .replace("\u{1}", "\u{e9}");
    let latin1 = encoding_rs::WINDOWS_1252.encode(&latin1).0.into_owned();
    let cases = [
        (
            "one References header of 100,000 ids",
            references.into_bytes(),
        ),
        ("60,000 Delivered-To headers", delivered_to.into_bytes()),
        (
            &*format!("{} MiB of {i} hostile header lines", hostile.len() >> 20),
            hostile.into_bytes(),
        ),
        ("the same in Latin-1", latin1),
    ];
    for (what, raw) in cases {
        let start = std::time::Instant::now();
        let parsed = MessageParser::default().parse(&raw).is_some();
        let parser = start.elapsed();
        let start = std::time::Instant::now();
        let e = parse(&raw).unwrap();
        let whole = start.elapsed();
        println!("{what}: mail-parser {parser:?}, parse {whole:?}");
        assert!(parsed && e.subject.starts_with('s'), "{what}");
        assert!(e.references.len() <= MAX_REFERENCES, "{what}");
        assert!(e.delivered_to.len() <= MAX_TRACE_VALUES, "{what}");
        assert!(e.to.len() <= MAX_MAILBOXES, "{what}");
        assert!(whole < SANITY && parser < SANITY, "{what}: {whole:?}");
    }
}

#[test]
fn a_parser_panic_becomes_a_quarantine_reason() {
    // Found by `mime_fragments_never_panic`: mail-parser 0.11.9 hits a `debug_assert!`
    // ("Invalid part ID, could not find multipart") on this nesting. Whatever the build,
    // `parse` returns; in debug builds the reason names the parser.
    let raw = "Content-Type: multipart/alternative; boundary=c\r\n\n--c\r\n\
                   From: a@x.example\r\nContent-Type: message/rfc822\r\n\n\
                   Content-Type: message/rfc822\r\n\r\n\n--c--\r\n";
    let result = parse(raw.as_bytes());
    if let Err(e) = &result {
        assert!(
            matches!(e, ParseError::ParserFailed | ParseError::NoSender),
            "{e}"
        );
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_are_never_a_message(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        prop_assert!(parse(&bytes).is_err());
    }

    /// Messages stitched from MIME fragments (boundaries, encodings, nesting, truncation)
    /// never panic, and whatever parses has a sender (or is a report) and an id.
    #[test]
    fn mime_fragments_never_panic(pieces in prop::collection::vec(prop::sample::select(vec![
        "From: a@x.example\r\n", "Sender: <s@y.example>\r\n", "Message-ID: <m@x>\r\n",
        "Content-Type: multipart/mixed; boundary=b\r\n", "Content-Type: message/rfc822\r\n",
        "Content-Type: multipart/report; boundary=b\r\n", "Content-Type: text/html\r\n",
        "Content-Transfer-Encoding: base64\r\n", "Content-Transfer-Encoding: quoted-printable\r\n",
        "Content-Disposition: attachment; filename*=UTF-8''%E9\r\n", "Subject: =?utf-8?B?w6k=?=\r\n",
        "References: <a@x> <b\r\n", "Return-Path: <>\r\n", "\r\n", "--b\r\n", "--b--\r\n",
        "=E9=\r\n", "SGVsbG8=\r\n", "<p>x</p>", " folded\r\n", "\u{e9}\u{0}", "-", ":",
        "Content-Type: multipart/alternative; boundary=c\r\n", "--c\r\n", "--c--\r\n",
        "Content-Type: multipart/digest; boundary=b\r\n", "Content-Type: image/png; name=x\r\n",
        "Content-Disposition: inline; filename=\r\n \"=?utf-8?Q?a?=\r\n =?utf-8?Q?b?=\"\r\n",
        "From: Big Bug bb@bug.example\r\n", "\n", "\r",
    ]), 0..60)) {
        let raw = pieces.concat();
        if let Ok(e) = parse(raw.as_bytes()) {
            prop_assert!(
                e.from.is_some() || e.sender.is_some() || e.auto.is_report
                    || e.auto.unusable_from.is_some()
            );
            prop_assert!(!e.message_id.as_str().is_empty());
        }
    }
}
