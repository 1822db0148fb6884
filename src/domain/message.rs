//! An inbound email as a plain value: what the adapters hand to the decisions.
//!
//! `channels::mail` builds it from raw bytes; nothing here parses MIME. Addresses are kept as
//! written but compared lower-cased (`Mailbox::address` is already lower-cased).

use chrono::{DateTime, Utc};

use super::ids::MessageId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    /// Lower-cased `local@domain`.
    pub address: String,
}

impl Mailbox {
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoHeaders {
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub x_auto_response_suppress: Option<String>,
    pub x_autoreply: Option<String>,
    pub x_autorespond: Option<String>,
    pub x_loop: Vec<String>,
    pub list_id: Option<String>,
    pub x_failed_recipients: Option<String>,
    /// `Return-Path` as written; `Some("")` for the null sender `<>`.
    pub return_path: Option<String>,
    /// The top-level content type is `multipart/report` (a DSN, MDN or feedback report).
    pub is_report: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: Option<String>,
    pub content_type: String,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEmail {
    /// The Message-ID header, or, when it is missing, one derived from what does not change
    /// between delivery paths (sender, Date, subject, content), so each copy gets the same id.
    pub message_id: MessageId,
    /// True when `message_id` was derived, not read.
    pub message_id_generated: bool,
    pub from: Option<Mailbox>,
    pub sender: Option<Mailbox>,
    pub reply_to: Vec<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    /// `Delivered-To` and `X-Original-To`, lower-cased: the envelope recipients an MTA saw.
    pub delivered_to: Vec<String>,
    pub subject: String,
    pub date: Option<DateTime<Utc>>,
    pub in_reply_to: Vec<MessageId>,
    pub references: Vec<MessageId>,
    pub auto: AutoHeaders,
    pub text_body: String,
    pub html_body: Option<String>,
    pub attachments: Vec<Attachment>,
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
    pub fn content_digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let mut part = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        };
        part(&normalise_text(self.text_body.as_bytes()));
        part(&normalise_text(
            self.html_body.as_deref().unwrap_or_default().as_bytes(),
        ));
        for a in &self.attachments {
            part(a.filename.as_deref().unwrap_or_default().as_bytes());
            if a.content_type.to_ascii_lowercase().starts_with("text/") {
                part(&normalise_text(&a.data));
            } else {
                part(&a.data);
            }
        }
        hex::encode(h.finalize())
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
            html_body: None,
            attachments: vec![],
        }
    }
}
