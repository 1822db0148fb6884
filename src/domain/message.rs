//! An inbound email as a plain value: what the adapters hand to the decisions.
//!
//! `channels::mail` builds it from raw bytes; nothing here parses MIME. Addresses are kept as
//! written but compared lower-cased (`Mailbox::address` is already lower-cased).

use chrono::{DateTime, Utc};

use super::ids::MessageId;

/// One mailbox of an address header: who a message is from or to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name, trimmed; `None` when there is none or it is blank.
    pub name: Option<String>,
    /// Lower-cased `local@domain`.
    pub address: String,
}

impl Mailbox {
    /// A mailbox from a header's parts: the name trimmed (blank reads as none), the address
    /// trimmed and lower-cased, so that comparing addresses needs no case folding.
    pub fn new(name: Option<&str>, address: &str) -> Self {
        Self {
            name: name
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            address: address.trim().to_ascii_lowercase(),
        }
    }

    /// The domain part of the address, lower-cased; empty when there is no `@`.
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

/// Headers that say a message was written by a machine, kept verbatim for the loop guard.
///
/// A single value is the first such header, unfolded and trimmed but not decoded; `None` when
/// the message has none. What the values mean is the business of
/// [`loop_guard::classify`](super::loop_guard::classify).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoHeaders {
    /// `Auto-Submitted` (RFC 3834): any value but `no` marks machine mail.
    pub auto_submitted: Option<String>,
    /// `Precedence`, the de-facto header older than RFC 3834 (`bulk`, `list`, `junk`, ...).
    pub precedence: Option<String>,
    /// `X-Auto-Response-Suppress`: Exchange's request that no automatic reply answer the
    /// message, which it writes on the mail it generates.
    pub x_auto_response_suppress: Option<String>,
    /// `X-Autoreply`, written by vacation programs; present is enough, the value is not read.
    pub x_autoreply: Option<String>,
    /// `X-Autorespond`, the same as `X-Autoreply` under another name.
    pub x_autorespond: Option<String>,
    /// Every `X-Loop` value, in header order (one per list or forwarder the message went
    /// through; the parser keeps the first 100). One naming us means our mail came back.
    pub x_loop: Vec<String>,
    /// `List-Id` (RFC 2919): the message came through a mailing list.
    pub list_id: Option<String>,
    /// `X-Failed-Recipients`, written on bounces (Exim and others).
    pub x_failed_recipients: Option<String>,
    /// `Return-Path` as written; `Some("")` for the null sender `<>`.
    pub return_path: Option<String>,
    /// The top-level content type is `multipart/report` (a DSN, MDN or feedback report), or a
    /// bare report body (`message/delivery-status`, `message/disposition-notification`,
    /// `message/feedback-report`) that lost its envelope.
    pub is_report: bool,
    /// The From header (else Sender) as written, kept only when neither holds a usable
    /// address: mail systems sign their bounces `MAILER-DAEMON <>` or a bare `MAILER-DAEMON`,
    /// which no [`Mailbox`] can hold.
    pub unusable_from: Option<String>,
}

/// A part of a message that is not its body: a file, an inline picture, a forwarded message,
/// or a text part that names a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The name the sender gave it, decoded: a label, never a path. `None` when it has none.
    pub filename: Option<String>,
    /// `type/subtype`, lower-cased, without parameters; `text/plain` when the part declares
    /// none (RFC 2045 section 5.2).
    pub content_type: String,
    /// The bytes as the sender's file held them (transfer encoding undone, charset kept); a
    /// forwarded message whole, as its raw text.
    pub data: Vec<u8>,
    /// Its `Content-ID`, without the angle brackets: what an HTML body's `cid:` URLs name (an
    /// inline image). `None` when it has none.
    pub content_id: Option<String>,
}

/// One inbound message, parsed once by the adapter and then only read: routing, dedupe, the
/// loop guard and threading all decide on this value.
///
/// Address lists keep their first 100 mailboxes (a bound the parser sets); no string holds
/// U+0000, which PostgreSQL text refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEmail {
    /// The Message-ID header, or, when it is missing, one derived from what does not change
    /// between delivery paths (sender, Date, subject, content), so each copy gets the same id.
    pub message_id: MessageId,
    /// True when `message_id` was derived, not read.
    pub message_id_generated: bool,
    /// The first usable From mailbox. `None` when `sender` is there, or for machine mail
    /// without a usable address (a report, a `MAILER-DAEMON <>` bounce, see
    /// [`AutoHeaders::unusable_from`]): the parser refuses any other message that has neither.
    pub from: Option<Mailbox>,
    /// The Sender mailbox (who sent it on behalf of From); stands for the author when From is
    /// missing.
    pub sender: Option<Mailbox>,
    /// Reply-To mailboxes. Answers follow one only within the sender's domain, see
    /// [`reply_target`](super::recipients::reply_target).
    pub reply_to: Vec<Mailbox>,
    /// To mailboxes, in order.
    pub to: Vec<Mailbox>,
    /// Cc mailboxes, in order.
    pub cc: Vec<Mailbox>,
    /// `Delivered-To` and `X-Original-To`, lower-cased: the envelope recipients an MTA saw.
    pub delivered_to: Vec<String>,
    /// The decoded subject, trimmed; empty when there is none.
    pub subject: String,
    /// The Date header: when the sender's client says it was written, not when we received it.
    /// `None` when missing or not a valid date.
    pub date: Option<DateTime<Utc>>,
    /// In-Reply-To ids, in order: the parent's, several only when it answers several (the
    /// parser keeps the first 10).
    pub in_reply_to: Vec<MessageId>,
    /// References ids, oldest first. A long chain is cut to its root and its newest ids (the
    /// parser keeps 100).
    pub references: Vec<MessageId>,
    /// The headers the loop guard reads.
    pub auto: AutoHeaders,
    /// The inline text parts, decoded and joined in order, HTML ones turned into text; empty
    /// when there is none.
    pub text_body: String,
    /// What the writer added to `text_body`: quoted messages, their headers and the signature
    /// removed ([`reply::new_text`](super::reply::new_text)). What agents read first; the
    /// full body stays beside it.
    pub new_text: String,
    /// The inline HTML parts, joined like the text, sanitised for display; `None` when the
    /// message has no HTML part.
    pub html_body: Option<String>,
    /// The parts that are not the body, in MIME order.
    pub attachments: Vec<Attachment>,
    /// The language the sender reads, when the mail says one guichet writes (`fr`, `en`):
    /// see [`language::of_headers`](super::language::of_headers). What a new contact's
    /// locale, and an answer to an unknown sender, follow.
    pub language: Option<&'static str>,
    /// Set by the parser: [`digest_parts`] over the text parts and HTML parts as decoded from
    /// the message, before our HTML-to-text conversion and sanitising. A later version of those
    /// must not make a copy taken in before it look like other content (it would be stored
    /// again, see `domain::dedupe`). `None` for values built by hand.
    pub source_digest: Option<String>,
}

/// SHA-256 (hex) of bodies and attachments, each length-prefixed, text normalised (see
/// [`InboundEmail::content_digest`]). The text parts come first, then the HTML parts, each
/// group counted: a text and an HTML part with the same content are two different things.
pub fn digest_parts<'a>(
    texts: impl Iterator<Item = &'a str>,
    htmls: impl Iterator<Item = &'a str>,
    attachments: &[Attachment],
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut part = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    for group in [texts.collect::<Vec<_>>(), htmls.collect()] {
        part(&(group.len() as u64).to_be_bytes());
        for text in group {
            part(&normalise_text(text.as_bytes()));
        }
    }
    for a in attachments {
        part(a.filename.as_deref().unwrap_or_default().as_bytes());
        if a.content_type.to_ascii_lowercase().starts_with("text/") {
            part(&normalise_text(&a.data));
        } else {
            part(&a.data);
        }
    }
    hex::encode(h.finalize())
}

impl InboundEmail {
    /// The addresses the message names in To and Cc, lower-cased, without repeats: who its
    /// writer meant it for, whatever copy this is.
    pub fn listed_recipients(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        self.to
            .iter()
            .chain(&self.cc)
            .map(|m| m.address.as_str())
            .filter(|a| seen.insert(*a))
            .collect()
    }

    /// SHA-256 (hex) of what the message says: text and HTML bodies and attachments, each
    /// length-prefixed. Headers are left out: they change from one delivery path to another
    /// (Received, Delivered-To), the content does not. Text (the bodies, `text/*`
    /// attachments) is normalised first, see [`normalise_text`]: an MTA pipe hands over LF
    /// line ends, IMAP and SMTP CRLF, and some paths add or strip trailing blanks, yet each is
    /// the same message.
    ///
    /// A parsed message carries [`InboundEmail::source_digest`], taken over its parts as
    /// decoded, before any conversion of ours; a value built by hand is digested from its
    /// bodies.
    pub fn content_digest(&self) -> String {
        if let Some(digest) = &self.source_digest {
            return digest.clone();
        }
        let html = self.html_body.as_deref();
        digest_parts(
            std::iter::once(self.text_body.as_str()),
            html.into_iter(),
            &self.attachments,
        )
    }

    /// Ids this message answers: In-Reply-To first, then References from the newest.
    pub fn parent_ids(&self) -> Vec<&MessageId> {
        let mut seen = std::collections::HashSet::new();
        self.in_reply_to
            .iter()
            .chain(self.references.iter().rev())
            .filter(|id| seen.insert(id.as_str()))
            .collect()
    }
}

/// How much of a message without an empty line [`header_block`] keeps.
pub const MAX_HEADER_BLOCK: usize = 256 * 1024;

/// The header of a raw message: up to and including the empty line that ends it (CRLF or LF),
/// at most [`MAX_HEADER_BLOCK`] bytes. What is kept of a message too large to take in.
pub fn header_block(raw: &[u8]) -> &[u8] {
    let end = [&b"\r\n\r\n"[..], b"\n\n"]
        .iter()
        .filter_map(|sep| memchr::memmem::find(raw, sep).map(|at| at + sep.len()))
        .min()
        .unwrap_or(raw.len());
    &raw[..end.min(MAX_HEADER_BLOCK)]
}

/// Text as delivery paths leave it alike: CR LF and lone CR read as LF, blanks (spaces, tabs)
/// at the end of each line dropped, and line ends at the end of the text dropped.
pub fn normalise_text(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut line_start = 0;
    let mut bytes = text.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        let newline = match b {
            b'\n' => true,
            b'\r' => {
                if bytes.peek() == Some(&b'\n') {
                    bytes.next();
                }
                true
            }
            _ => false,
        };
        if newline {
            while out.len() > line_start && matches!(out.last(), Some(b' ' | b'\t')) {
                out.pop();
            }
            out.push(b'\n');
            line_start = out.len();
        } else {
            out.push(b);
        }
    }
    while matches!(out.last(), Some(b' ' | b'\t' | b'\n')) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalise_text;
    use super::sample::email;

    #[test]
    fn text_normalises_line_ends_and_trailing_blanks() {
        let table: [(&str, &str); 7] = [
            ("a\r\nb\r\n", "a\nb"),
            ("a\nb\n\n\n", "a\nb"),
            ("a \t\r\nb  ", "a\nb"),
            ("a\rb", "a\nb"),
            ("  indented\n", "  indented"),
            ("", ""),
            ("\r\n\r\n", ""),
        ];
        for (input, want) in table {
            assert_eq!(
                normalise_text(input.as_bytes()),
                want.as_bytes(),
                "{input:?}"
            );
        }
    }

    #[test]
    fn copies_with_other_line_ends_have_one_digest() {
        let mut lf = email("a@x.fr", "s@y.fr", "one");
        lf.text_body = "Bonjour,\nça ne marche pas.\n".into();
        lf.html_body = Some("<p>Bonjour</p>\n".into());
        let mut crlf = lf.clone();
        crlf.text_body = "Bonjour,\r\nça ne marche pas. \r\n\r\n".into();
        crlf.html_body = Some("<p>Bonjour</p>\r\n".into());
        assert_eq!(lf.content_digest(), crlf.content_digest());
        crlf.text_body = "Bonjour,\r\nça marche.\r\n".into();
        assert_ne!(lf.content_digest(), crlf.content_digest());
    }

    #[test]
    fn content_digest_ignores_headers_but_not_content() {
        let a = email("a@x.fr", "s@y.fr", "one");
        let mut b = email("other@x.fr", "s@y.fr", "two");
        b.delivered_to.push("s@y.fr".into());
        assert_eq!(
            a.content_digest(),
            b.content_digest(),
            "headers do not count"
        );
        b.text_body.push('!');
        assert_ne!(a.content_digest(), b.content_digest());
        let (mut c, mut d) = (a.clone(), a.clone());
        c.text_body = "ab".into();
        c.html_body = Some("c".into());
        d.text_body = "a".into();
        d.html_body = Some("bc".into());
        assert_ne!(
            c.content_digest(),
            d.content_digest(),
            "parts are length-prefixed"
        );
    }
}

#[cfg(test)]
pub(crate) mod sample {
    //! A plain email to build test cases from.
    use super::*;

    pub fn email(from: &str, to: &str, subject: &str) -> InboundEmail {
        InboundEmail {
            message_id: MessageId::new("m1@example.org").unwrap(),
            message_id_generated: false,
            from: Some(Mailbox::new(None, from)),
            sender: None,
            reply_to: vec![],
            to: vec![Mailbox::new(None, to)],
            cc: vec![],
            delivered_to: vec![],
            subject: subject.to_owned(),
            date: None,
            in_reply_to: vec![],
            references: vec![],
            auto: AutoHeaders::default(),
            text_body: "Bonjour".to_owned(),
            new_text: "Bonjour".to_owned(),
            html_body: None,
            attachments: vec![],
            language: None,
            source_digest: None,
        }
    }
}

#[cfg(test)]
mod header_tests {
    use super::*;

    #[test]
    fn the_header_block_ends_at_the_first_empty_line() {
        let long = vec![b'a'; MAX_HEADER_BLOCK + 10];
        let cases: [(&str, &[u8], &[u8]); 5] = [
            (
                "CRLF",
                b"A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore",
                b"A: 1\r\nB: 2\r\n\r\n",
            ),
            ("LF", b"A: 1\n\nbody\n\n", b"A: 1\n\n"),
            (
                "LF blank line first, CRLF later",
                b"A: 1\n\nb\r\n\r\n",
                b"A: 1\n\n",
            ),
            ("no body", b"A: 1\r\n", b"A: 1\r\n"),
            ("no empty line: capped", &long, &long[..MAX_HEADER_BLOCK]),
        ];
        for (case, raw, want) in cases {
            assert_eq!(header_block(raw), want, "{case}");
        }
    }
}
