//! What a bounce says: which recipients failed and how badly, and which message it returns.
//!
//! Reads an [`InboundEmail`] the loop guard already called machine mail. RFC 3464 DSNs are
//! read from their `message/delivery-status` part (one block per recipient: `Final-Recipient`,
//! `Action`, `Status`); the non-standard bounces (qmail, Exim, Exchange 2003, Yahoo, Domino,
//! Gmail's plain text, ...) from `X-Failed-Recipients` and from the notice the mail system
//! wrote above the copy of the returned message. The returned message (a `message/rfc822` or
//! `text/rfc822-headers` part, or the copy pasted below the notice) gives the Message-ID and
//! the addresses of the original, which is how the service finds the outbound mail it reports
//! on. Pure: no IO, no decision about tickets.

use super::ids::MessageId;
use super::loop_guard::names_mail_system;
use super::message::InboundEmail;

/// How a recipient failed: for good (RFC 3463 class 5) or for now (class 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The mail system gave up: unknown user, refused, rejected (`5.x.x`).
    Permanent,
    /// Delivery is delayed or failed for a reason that may pass (`4.x.x`, mailbox full).
    Transient,
}

impl Severity {
    /// `permanent` or `transient`, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Permanent => "permanent",
            Severity::Transient => "transient",
        }
    }
}

/// One recipient the bounce reports as failed or delayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecipient {
    /// Lower-cased `local@domain`.
    pub address: String,
    /// How the recipient failed.
    pub severity: Severity,
    /// The RFC 3463 status (`5.1.1`) when the bounce gives one.
    pub status: Option<String>,
}

/// What a bounce reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BounceReport {
    /// The failed (or delayed) recipients, in the order the bounce names them, without repeats.
    pub recipients: Vec<FailedRecipient>,
    /// The Message-ID of the returned message, when its headers came back.
    pub original_message_id: Option<MessageId>,
    /// Lower-cased addresses of the returned message's From, Reply-To, To and Cc: our signed
    /// `+token` Reply-To shows there when the Message-ID did not come back.
    pub original_addresses: Vec<String>,
}

/// Content types of the parts that carry the returned message or its headers.
const RETURNED_TYPES: &[&str] = &[
    "message/rfc822",
    "text/rfc822-headers",
    "message/rfc822-headers",
    "message/global",
    "message/global-headers",
];

/// Content types of the machine-readable delivery report (RFC 3464, RFC 6533).
const STATUS_TYPES: &[&str] = &["message/delivery-status", "message/global-delivery-status"];

/// Phrases (lower-case) of the line a mail system writes between its notice and the copy of
/// the returned message: qmail, Exim, Postfix, Sendmail, Exchange, Domino, Yahoo, Courier,
/// among the bounces of sisimai's collection.
const COPY_MARKERS: &[&str] = &[
    "below this line is a copy of the message",
    "this is a copy of the message",
    "original message follows",
    "original message header",
    "header of the original message",
    "headers of the original message",
    "original message headers",
    "----- original message -----",
    "-- original message --",
    "message header follows",
    "unsent message below",
    "unsent message follows",
    "message headers follow",
    "the text of your message was",
    "your message reads (in part)",
    "------ this is a copy of",
    "content-type: message/rfc822",
];

/// Headers of a returned message's copy, read for its addresses.
const ADDRESS_HEADERS: &[&str] = &["from", "reply-to", "to", "cc"];

/// The report of `email`, a message the loop guard called machine mail; `None` when a mail
/// system did not write it (an out-of-office, a read receipt, an abuse report: see
/// `from_mail_system`) or it names neither a failed recipient nor a returned message.
pub fn extract(email: &InboundEmail) -> Option<BounceReport> {
    let mut report = BounceReport::default();
    let excluded: Vec<&str> = email
        .from
        .iter()
        .chain(&email.sender)
        .chain(&email.to)
        .chain(&email.cc)
        .map(|m| m.address.as_str())
        .collect();

    for part in &email.attachments {
        if STATUS_TYPES.contains(&part.content_type.as_str()) {
            for r in delivery_status(&String::from_utf8_lossy(&part.data)) {
                push_recipient(&mut report.recipients, r);
            }
        }
    }
    let returned: Vec<String> = email
        .attachments
        .iter()
        .filter(|p| RETURNED_TYPES.contains(&p.content_type.as_str()))
        .map(|p| String::from_utf8_lossy(&p.data).into_owned())
        .collect();
    let (notice, pasted) = split_at_copy(&email.text_body);

    if report.recipients.is_empty()
        && let Some(failed) = &email.auto.x_failed_recipients
    {
        let severity = severity_of(notice).unwrap_or(Severity::Permanent);
        for address in addresses_in(failed) {
            push_recipient(
                &mut report.recipients,
                FailedRecipient {
                    address,
                    severity,
                    status: enhanced_status(notice).map(str::to_owned),
                },
            );
        }
    }
    // Reading addresses out of prose is for the mail system's own notices only: an
    // out-of-office naming a colleague to write to must not mark that colleague as failed.
    let mail_system = from_mail_system(email);
    if report.recipients.is_empty() && mail_system {
        // A report whose MIME structure is broken: its status fields ended up in the text,
        // or in a part mail-parser could not split.
        let texts = std::iter::once(email.text_body.clone()).chain(
            email
                .attachments
                .iter()
                .filter(|p| p.content_type.starts_with("multipart/"))
                .map(|p| String::from_utf8_lossy(&p.data).into_owned()),
        );
        for text in texts {
            for r in delivery_status(&text) {
                push_recipient(&mut report.recipients, r);
            }
        }
    }
    if report.recipients.is_empty() && mail_system {
        let severity = severity_of(notice).unwrap_or(Severity::Permanent);
        let status = enhanced_status(notice).map(str::to_owned);
        for address in notice_addresses(notice) {
            if excluded.contains(&address.as_str()) || names_mail_system(&address) {
                continue;
            }
            push_recipient(
                &mut report.recipients,
                FailedRecipient {
                    address,
                    severity,
                    status: status.clone(),
                },
            );
        }
    }

    // The returned message: its parts first, else the copy pasted below the notice, else
    // anything in the body that looks like its header lines.
    let sources = returned
        .iter()
        .map(String::as_str)
        .chain(pasted)
        .chain([email.text_body.as_str()]);
    for text in sources {
        let headers = header_lines(text);
        if report.original_message_id.is_none() {
            report.original_message_id = headers
                .iter()
                .filter(|(name, _)| name == "message-id")
                .find_map(|(_, value)| MessageId::new(value));
        }
        if report.original_addresses.is_empty() {
            for (_, value) in headers
                .iter()
                .filter(|(name, _)| ADDRESS_HEADERS.contains(&name.as_str()))
            {
                for a in addresses_in(value) {
                    if !report.original_addresses.contains(&a) {
                        report.original_addresses.push(a);
                    }
                }
            }
        }
    }
    // Last resort for a mail system's notice that names nobody (old Sendmail's "Deferred:
    // Connection timed out"): the returned message's own recipients.
    if report.recipients.is_empty() && mail_system {
        let severity = severity_of(notice).unwrap_or(Severity::Permanent);
        let returned_to = returned
            .iter()
            .map(String::as_str)
            .chain(pasted)
            .flat_map(header_lines)
            .filter(|(name, _)| name == "to" || name == "cc")
            .flat_map(|(_, value)| addresses_in(&value));
        for address in returned_to {
            if !excluded.contains(&address.as_str()) && !names_mail_system(&address) {
                push_recipient(
                    &mut report.recipients,
                    FailedRecipient {
                        address,
                        severity,
                        status: enhanced_status(notice).map(str::to_owned),
                    },
                );
            }
        }
    }
    // A read receipt or an abuse report also returns our message: only a mail system's notice
    // is a bounce.
    let found = !report.recipients.is_empty() || report.original_message_id.is_some();
    (mail_system && found).then_some(report)
}

/// Whether a mail system wrote `email`: its From, Sender or Return-Path is a mail system's own
/// mailbox (`MAILER-DAEMON`, `postmaster`), or it carries a delivery report or
/// `X-Failed-Recipients`.
fn from_mail_system(email: &InboundEmail) -> bool {
    let a = &email.auto;
    let report = email
        .attachments
        .iter()
        .any(|p| STATUS_TYPES.contains(&p.content_type.as_str()));
    report
        || a.x_failed_recipients.is_some()
        || email
            .from
            .iter()
            .chain(&email.sender)
            .any(|m| names_mail_system(&m.address))
        || [&a.unusable_from, &a.return_path]
            .into_iter()
            .flatten()
            .any(|w| names_mail_system(w))
}

fn push_recipient(list: &mut Vec<FailedRecipient>, r: FailedRecipient) {
    if !list.iter().any(|x| x.address == r.address) {
        list.push(r);
    }
}

/// The failed and delayed recipients of an RFC 3464 `message/delivery-status` body: each
/// per-recipient block with an address, skipping those delivered, relayed or expanded.
fn delivery_status(text: &str) -> Vec<FailedRecipient> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let fields = header_lines(block);
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let Some(recipient) = field("final-recipient").or_else(|| field("original-recipient"))
        else {
            continue;
        };
        // `rfc822; a@b`: the address type comes first.
        let address = recipient.split_once(';').map_or(recipient, |(_, a)| a);
        let Some(address) = addresses_in(address).into_iter().next() else {
            continue;
        };
        let action = field("action").unwrap_or_default().to_ascii_lowercase();
        if ["delivered", "relayed", "expanded"]
            .iter()
            .any(|a| action.starts_with(a))
        {
            continue;
        }
        let status = field("status").and_then(enhanced_status).map(str::to_owned);
        let severity = match status.as_deref().and_then(|s| s.chars().next()) {
            Some('4') => Severity::Transient,
            Some('5') => Severity::Permanent,
            _ if action.starts_with("delayed") => Severity::Transient,
            _ => field("diagnostic-code")
                .and_then(severity_of)
                .unwrap_or(Severity::Permanent),
        };
        out.push(FailedRecipient {
            address,
            severity,
            status,
        });
    }
    out
}

/// The notice (the mail system's own words) and, when a marker line or a pasted header block
/// shows where it starts, the copy of the returned message.
fn split_at_copy(body: &str) -> (&str, Option<&str>) {
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        let lower = line.trim().to_lowercase();
        let is_header_start = ["received:", "return-path:"]
            .iter()
            .any(|h| lower.starts_with(h))
            && !line.starts_with([' ', '\t']);
        if is_header_start || COPY_MARKERS.iter().any(|m| lower.contains(m)) {
            return (body.get(..offset).unwrap_or(body), body.get(offset..));
        }
        offset += line.len();
    }
    (body, None)
}

/// The header fields found in `text`, names lower-cased, values unfolded and trimmed: every
/// line `Name: value` (a name of letters, digits and dashes at the start of a line) with its
/// continuation lines. Lines in between that are not fields are skipped, so a header block
/// pasted into a notice is read too.
fn header_lines(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if open && let Some((_, value)) = out.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        open = false;
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let is_name =
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if is_name {
            out.push((name.to_ascii_lowercase(), value.trim().to_owned()));
            open = true;
        }
    }
    out
}

/// The addresses (`local@domain`, lower-cased, without repeats) written in `text`, in order,
/// wherever they stand: in angle brackets, after `rfc822;`, in prose.
fn addresses_in(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let separators = |c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '<' | '>' | '(' | ')' | '[' | ']' | '"' | '\'' | ',' | ';' | ':' | '{' | '}'
            )
    };
    for token in text.split(separators) {
        let token = token.trim_matches(['.', '!', '?']);
        let Some((local, domain)) = token.rsplit_once('@') else {
            continue;
        };
        let usable = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-'));
        let address = token.to_lowercase();
        if usable && !out.contains(&address) {
            out.push(address);
        }
    }
    out
}

/// The addresses of a notice, leaving out those on the lines that quote the returned
/// message's own headers (`To:`, `From:`, `Subject:` of a summary) and those that are
/// Message-IDs.
fn notice_addresses(notice: &str) -> Vec<String> {
    const QUOTED: &[&str] = &[
        "from:",
        "to:",
        "cc:",
        "sender:",
        "reply-to:",
        "return-path:",
        "message-id:",
        "in-reply-to:",
        "references:",
        "received:",
        "subject:",
        "envelope-from",
    ];
    let mut out: Vec<String> = Vec::new();
    for line in notice.lines() {
        let lower = line.trim().to_ascii_lowercase();
        if QUOTED.iter().any(|q| lower.starts_with(q)) {
            continue;
        }
        for a in addresses_in(line) {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// The first RFC 3463 enhanced status code (`5.1.1`, `4.2.2`) in `text`.
pub fn enhanced_status(text: &str) -> Option<&str> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|t| t.trim_end_matches('.'))
        .find(|t| {
            let mut parts = t.split('.');
            let class = parts.next();
            let (subject, detail) = (parts.next(), parts.next());
            matches!(class, Some("2" | "4" | "5"))
                && subject.is_some_and(|s| (1..=3).contains(&s.len()))
                && detail.is_some_and(|d| (1..=3).contains(&d.len()))
                && parts.next().is_none()
        })
}

/// How a notice says delivery failed: its enhanced status code, else its SMTP reply code, else
/// the words of a delay; `None` when it says nothing of it.
fn severity_of(text: &str) -> Option<Severity> {
    let by_class = |class: Option<char>| match class {
        Some('4') => Some(Severity::Transient),
        Some('5') => Some(Severity::Permanent),
        _ => None,
    };
    if let Some(s) = enhanced_status(text).and_then(|s| by_class(s.chars().next())) {
        return Some(s);
    }
    let reply = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|t| t.len() == 3 && (t.starts_with('4') || t.starts_with('5')));
    if let Some(s) = reply.and_then(|r| by_class(r.chars().next())) {
        return Some(s);
    }
    let lower = text.to_lowercase();
    let delayed = [
        "temporar",
        "delayed",
        "will retry",
        "will be retried",
        "still trying",
        "deferred",
        "not yet been delivered",
    ];
    delayed
        .iter()
        .any(|w| lower.contains(w))
        .then_some(Severity::Transient)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::Attachment;
    use crate::domain::message::sample::email;

    fn bounce(body: &str) -> InboundEmail {
        let mut e = email(
            "mailer-daemon@mx.univ.fr",
            "support-smsu@esup.fr",
            "failure",
        );
        e.text_body = body.to_owned();
        e
    }

    fn part(content_type: &str, data: &str) -> Attachment {
        Attachment {
            filename: None,
            content_type: content_type.to_owned(),
            data: data.as_bytes().to_vec(),
            content_id: None,
        }
    }

    #[test]
    fn rfc3464_recipients_come_from_the_status_part() {
        let mut e = bounce("This is the mail system at host mx.univ.fr.");
        e.attachments = vec![
            part(
                "message/delivery-status",
                "Reporting-MTA: dns; mx.univ.fr\r\n\r\n\
                 Final-Recipient: rfc822; Gone@Univ.fr\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
                 Final-Recipient: rfc822; full@univ.fr\r\nAction: delayed\r\nStatus: 4.2.2\r\n\r\n\
                 Final-Recipient: rfc822; fine@univ.fr\r\nAction: delivered\r\nStatus: 2.0.0\r\n",
            ),
            part(
                "text/rfc822-headers",
                "From: support-smsu+tok@esup.fr\r\nTo: gone@univ.fr\r\n\
                 Message-ID: <abc.guichet@esup.fr>\r\nSubject: x\r\n",
            ),
        ];
        let r = extract(&e).unwrap();
        let got: Vec<(&str, Severity, Option<&str>)> = r
            .recipients
            .iter()
            .map(|x| (x.address.as_str(), x.severity, x.status.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("gone@univ.fr", Severity::Permanent, Some("5.1.1")),
                ("full@univ.fr", Severity::Transient, Some("4.2.2")),
            ]
        );
        assert_eq!(
            r.original_message_id.as_ref().map(MessageId::as_str),
            Some("abc.guichet@esup.fr")
        );
        assert_eq!(
            r.original_addresses,
            ["support-smsu+tok@esup.fr", "gone@univ.fr"]
        );
    }

    #[test]
    fn non_standard_notices_name_their_recipients() {
        // (case, body, expected addresses, severity)
        let table: &[(&str, &str, &[&str], Severity)] = &[
            (
                "qmail",
                "Hi. This is the qmail-send program at mx4.example.jp.\n\
                 I'm afraid I wasn't able to deliver your message to the following addresses.\n\n\
                 <kijitora@example.ne.jp>:\n\
                 remote host said: 550 Unknown user kijitora@example.ne.jp\n\n\
                 --- Below this line is a copy of the message.\n\n\
                 Return-Path: <nekochan@example.jp>\nTo: kuroneko@example.com\n",
                &["kijitora@example.ne.jp"],
                Severity::Permanent,
            ),
            (
                "exchange 2003 summary lines are the original's",
                "Your message\n\n  To:      shironeko@example.com\n  Subject: Cat\n\n\
                 did not reach the following recipient(s):\n\n\
                 kijitora@example.jp on Thu, 29 Apr 2010\n    The recipient name is not recognized\n",
                &["kijitora@example.jp"],
                Severity::Permanent,
            ),
            (
                "a delay",
                "Your message to <late@example.org> has not yet been delivered.\n\
                 The mail system will retry for 5 days.\n",
                &["late@example.org"],
                Severity::Transient,
            ),
            (
                "mailbox full with a 4xx reply",
                "Delivery to full@example.org failed: 452 mailbox full\n",
                &["full@example.org"],
                Severity::Transient,
            ),
            (
                "the bounce's own addresses are not recipients",
                "Mail from support-smsu@esup.fr to mailer-daemon@mx.univ.fr bounced:\n\
                 user gone@example.org unknown\n",
                &["gone@example.org"],
                Severity::Permanent,
            ),
        ];
        for (case, body, want, severity) in table {
            let r = extract(&bounce(body)).unwrap_or_default();
            let got: Vec<&str> = r.recipients.iter().map(|x| x.address.as_str()).collect();
            assert_eq!(got, *want, "{case}");
            assert!(
                r.recipients.iter().all(|x| x.severity == *severity),
                "{case}: {:?}",
                r.recipients
            );
        }
    }

    #[test]
    fn failed_recipients_header_is_read_when_there_is_no_status_part() {
        let mut e = bounce("Delivery to the following recipient failed permanently:\n\n");
        e.auto.x_failed_recipients = Some("A@x.example, b@y.example".into());
        let r = extract(&e).unwrap();
        let got: Vec<&str> = r.recipients.iter().map(|x| x.address.as_str()).collect();
        assert_eq!(got, ["a@x.example", "b@y.example"]);
    }

    #[test]
    fn status_fields_in_a_broken_report_are_read_from_the_text() {
        // A multipart/report whose boundary mail-parser could not find: all of it is text.
        let e = bounce(
            "--XX\nContent-Type: text/plain\n\nI could not deliver it.\n\n--XX\n\
             Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.x.example\n\n\
             Final-Recipient: rfc822; gone@x.example\nAction: failed\nStatus: 5.1.1\n",
        );
        let r = extract(&e).unwrap();
        assert_eq!(r.recipients.len(), 1);
        assert_eq!(r.recipients[0].address, "gone@x.example");
        assert_eq!(r.recipients[0].status.as_deref(), Some("5.1.1"));
    }

    #[test]
    fn a_notice_naming_nobody_falls_back_on_the_returned_recipients() {
        let e = bounce(
            "   ----- Transcript of session follows -----\n\
             421 x.example (smtp)... Deferred: Connection timed out\n\
                ----- Unsent message follows -----\n\
             Received: by mx9.x.example; Thu, 29 Apr 1995 23:34:45 +0900\n\
             From: support-smsu@esup.fr\nTo: late@x.example\nSubject: x\n\nbody\n",
        );
        let r = extract(&e).unwrap();
        let got: Vec<(&str, Severity)> = r
            .recipients
            .iter()
            .map(|x| (x.address.as_str(), x.severity))
            .collect();
        assert_eq!(got, [("late@x.example", Severity::Transient)]);
    }

    #[test]
    fn pasted_copy_gives_the_original_message_id() {
        let e = bounce(
            "I'm afraid I wasn't able to deliver to <gone@x.example>:\n\n\
             --- Below this line is a copy of the message.\n\n\
             Return-Path: <support-smsu@esup.fr>\nMessage-ID: <m1.guichet@esup.fr>\n\
             Reply-To: support-smsu+tok@esup.fr\nTo: gone@x.example\n\nbody\n",
        );
        let r = extract(&e).unwrap();
        assert_eq!(
            r.original_message_id.as_ref().map(MessageId::as_str),
            Some("m1.guichet@esup.fr")
        );
        assert!(
            r.original_addresses
                .contains(&"support-smsu+tok@esup.fr".to_owned())
        );
        assert_eq!(r.recipients.len(), 1);
    }

    #[test]
    fn a_read_receipt_returning_our_message_is_no_bounce() {
        let mut e = email("alice@univ.fr", "support-smsu@esup.fr", "Read: Panne");
        e.auto.is_report = true;
        e.attachments = vec![
            part(
                "message/disposition-notification",
                "Final-Recipient: rfc822; alice@univ.fr\nDisposition: manual-action/MDN-sent-manually; displayed\n",
            ),
            part(
                "text/rfc822-headers",
                "Message-ID: <abc.guichet@esup.fr>\nTo: alice@univ.fr\n",
            ),
        ];
        assert_eq!(extract(&e), None);
    }

    #[test]
    fn an_auto_reply_reports_nothing() {
        let e = bounce("I am away until Monday, I will answer when I am back.");
        assert_eq!(extract(&e), None);
        // A person's out-of-office naming a colleague: no failed recipient.
        let mut e = email(
            "alice@univ.fr",
            "support-smsu@esup.fr",
            "Automatic reply: x",
        );
        e.auto.return_path = Some(String::new());
        e.text_body = "I am away, please write to bob@univ.fr (550 rooms booked).".into();
        assert_eq!(extract(&e), None);
    }

    #[test]
    fn enhanced_status_codes_are_found_in_prose() {
        let table = [
            ("550 5.1.1 <a@b.c>: unknown", Some("5.1.1")),
            ("status 4.2.2 (mailbox full).", Some("4.2.2")),
            ("version 1.2.3 of the server", None),
            ("dial 5.1234.5", None),
            ("no code here", None),
        ];
        for (text, want) in table {
            assert_eq!(enhanced_status(text), want, "{text}");
        }
    }
}
