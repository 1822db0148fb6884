//! Is this message written by a machine? Then it is stored but never answered.
//!
//! Follows RFC 3834 (`Auto-Submitted`), the de-facto headers of Exchange, Sendmail vacation and
//! mailing lists, DSNs (RFC 3464, `multipart/report`) and the null reverse path, plus our own
//! outbound Message-IDs coming back. Bounces that are not `multipart/report` (qmail, Exim,
//! Yahoo, Zoho, old Sendmail, Domino, ...) are known by their sender: the mail system's own
//! mailbox (`MAILER-DAEMON`, `postmaster`) in From, Sender or Return-Path, which RFC 3834
//! section 2 names as never to be answered.

use super::message::InboundEmail;
use super::token::OurIds;

/// Why a message must not be answered automatically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoReason {
    /// `Auto-Submitted` with a value other than `no` (RFC 3834); holds that value.
    AutoSubmitted(String),
    /// `Precedence: bulk`, `list`, `junk` or `auto_reply`; holds it lower-cased.
    Precedence(String),
    /// A non-empty `X-Auto-Response-Suppress` (Exchange).
    AutoResponseSuppress,
    /// `X-Autoreply` or `X-Autorespond`: a vacation program's answer.
    XAutoreply,
    /// An `X-Loop` naming one of our support addresses: our own mail came back.
    XLoop,
    /// A `multipart/report`: a delivery status notification (RFC 3464), a read receipt or a
    /// feedback report.
    DeliveryReport,
    /// The null reverse path `Return-Path: <>`, which bounces and automatic replies carry
    /// (RFC 5321 section 4.5.5).
    NullReturnPath,
    /// A `List-Id` (RFC 2919): mailing-list traffic.
    MailingList,
    /// `X-Failed-Recipients`: a bounce.
    FailedRecipients,
    /// The Message-ID is one we generate ([`OurIds::is_ours`]: it verifies): our own mail came
    /// back.
    OurOwnMessage,
    /// From or Sender is a mail system's own mailbox (`mailer-daemon@`, `postmaster@`, ...);
    /// holds that address.
    MailSystemSender(String),
    /// The Return-Path is `<MAILER-DAEMON>` or `<MAILER-DAEMON@host>`; holds it as written.
    MailSystemReturnPath(String),
    /// The subject starts with the prefix a mail client's automatic answer writes
    /// (`Automatic reply:`, `Réponse automatique :`, ...); holds that prefix.
    AutoReplySubject(String),
}

/// Local parts of the mailboxes an MTA writes its bounces from (RFC 3834 section 2, RFC 2142
/// `postmaster`, and the spellings sisimai meets in the wild), compared ignoring case.
const MAIL_SYSTEM_SENDERS: &[&str] = &[
    "mailer-daemon",
    "postmaster",
    "mail-daemon",
    "mailer_daemon",
    // Apache James signs its bounces so.
    "post_master",
];

/// Subject prefixes (compared ignoring case, up to the colon) that mail clients and servers put
/// on their automatic answers: Outlook/Exchange in the languages of ESUP's members and their
/// neighbours, Apple Mail, Mimecast, Zimbra. A person answering one writes `Re: ` first, so the
/// prefix is no longer at the start.
const AUTO_REPLY_SUBJECTS: &[&str] = &[
    "auto reply",
    "auto-reply",
    "autoreply",
    "automatic reply",
    "auto response",
    "auto-response",
    "autorespons",
    "autoresponse",
    "out of office",
    "out of office reply",
    "out of office autoreply",
    "out of the office",
    "réponse automatique",
    "reponse automatique",
    "absence du bureau",
    "automatische antwort",
    "abwesenheitsnotiz",
    "respuesta automática",
    "risposta automatica",
    "resposta automática",
    "automatisch antwoord",
    "automatyczna odpowiedź",
    "automatiskt svar",
    "automatisk svar",
    "automaattinen vastaus",
    "automatická odpověď",
    "מענה אוטומטי",
    "מענה 'אני לא נמצא'",
];

/// The auto-reply prefix `subject` starts with, as listed in [`AUTO_REPLY_SUBJECTS`].
fn auto_reply_prefix(subject: &str) -> Option<&'static str> {
    let (head, _) = subject.split_once(':')?;
    let head = head.trim().to_lowercase();
    AUTO_REPLY_SUBJECTS.iter().copied().find(|p| *p == head)
}

/// Whether a From or Sender value as written (`MAILER-DAEMON <>`, `Mail Delivery Subsystem
/// <MAILER-DAEMON>`, a bare `mailer-daemon`, `MAILER DAEMON <>`) names a mail system's own
/// mailbox: the address in angle brackets when there is one, else the whole value, read with
/// spaces and separators ignored.
pub fn names_mail_system(written: &str) -> bool {
    let inner = written
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(inner, _)| inner.trim())
        .filter(|inner| !inner.is_empty());
    let mailbox = inner.unwrap_or(written);
    let local = mailbox.rsplit_once('@').map_or(mailbox, |(local, _)| local);
    let squashed: String = local
        .chars()
        .filter(|c| c.is_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    matches!(
        squashed.as_str(),
        "mailerdaemon" | "maildaemon" | "postmaster"
    )
}

/// The same, for the envelope sender. `postmaster` is left out: unlike `MAILER-DAEMON`, it is
/// a mailbox people write from, and a bounce has a null or daemon reverse path anyway.
const MAIL_SYSTEM_RETURN_PATHS: &[&str] = &["mailer-daemon", "mail-daemon", "mailer_daemon"];

/// Whether `address` (`local@domain`, or a bare local part, with or without angle brackets or
/// quotes) has one of `locals` as its local part, ignoring case.
fn local_part_is(address: &str, locals: &[&str]) -> bool {
    let bare = address.trim().trim_matches(['<', '>']).trim();
    let local = bare.rsplit_once('@').map_or(bare, |(local, _)| local);
    let local = local.trim_matches('"');
    locals.iter().any(|l| local.eq_ignore_ascii_case(l))
}

impl AutoReason {
    /// A short English phrase naming what gave the message away, stored with the message and
    /// in the ticket event as the reason it was not answered.
    pub fn describe(&self) -> String {
        match self {
            AutoReason::AutoSubmitted(v) => format!("Auto-Submitted: {v}"),
            AutoReason::Precedence(v) => format!("Precedence: {v}"),
            AutoReason::AutoResponseSuppress => "X-Auto-Response-Suppress".into(),
            AutoReason::XAutoreply => "X-Autoreply/X-Autorespond".into(),
            AutoReason::XLoop => "X-Loop names us".into(),
            AutoReason::DeliveryReport => {
                "multipart/report (delivery or disposition report)".into()
            }
            AutoReason::NullReturnPath => "null Return-Path".into(),
            AutoReason::MailingList => "List-Id (mailing list)".into(),
            AutoReason::FailedRecipients => "X-Failed-Recipients (bounce)".into(),
            AutoReason::OurOwnMessage => "one of our own messages".into(),
            AutoReason::MailSystemSender(a) => {
                format!("sent by the mail system ({a}): a bounce or delivery notice")
            }
            AutoReason::MailSystemReturnPath(r) => {
                format!("Return-Path {r} (mail system): a bounce or delivery notice")
            }
            AutoReason::AutoReplySubject(p) => format!("subject starts with \"{p}:\""),
        }
    }
}

/// Why `email` must not be answered automatically, the first reason found; `None` for mail a
/// person wrote.
///
/// `our_ids` recognises the Message-IDs we generate and `our_addresses` are the offer's
/// support addresses (lower-case): an `X-Loop` naming one of them, or a Message-ID of ours,
/// means the message is our own coming back.
pub fn classify(
    email: &InboundEmail,
    our_ids: &OurIds,
    our_addresses: &[String],
) -> Option<AutoReason> {
    let a = &email.auto;
    if let Some(v) = &a.auto_submitted {
        let v = v.trim();
        if !v.is_empty() && !v.eq_ignore_ascii_case("no") {
            return Some(AutoReason::AutoSubmitted(v.to_owned()));
        }
    }
    if our_ids.is_ours(&email.message_id) {
        return Some(AutoReason::OurOwnMessage);
    }
    if a.is_report {
        return Some(AutoReason::DeliveryReport);
    }
    if a.return_path
        .as_deref()
        .is_some_and(|r| r.trim().trim_matches(['<', '>']).is_empty())
    {
        return Some(AutoReason::NullReturnPath);
    }
    if let Some(r) = a
        .return_path
        .as_deref()
        .filter(|r| local_part_is(r, MAIL_SYSTEM_RETURN_PATHS))
    {
        return Some(AutoReason::MailSystemReturnPath(r.trim().to_owned()));
    }
    if let Some(m) = [&email.from, &email.sender]
        .into_iter()
        .flatten()
        .find(|m| local_part_is(&m.address, MAIL_SYSTEM_SENDERS))
    {
        return Some(AutoReason::MailSystemSender(m.address.clone()));
    }
    if let Some(written) = a.unusable_from.as_deref().filter(|w| names_mail_system(w)) {
        return Some(AutoReason::MailSystemSender(written.trim().to_owned()));
    }
    if let Some(p) = &a.precedence {
        let p = p.trim().to_ascii_lowercase();
        if matches!(p.as_str(), "bulk" | "list" | "junk" | "auto_reply") {
            return Some(AutoReason::Precedence(p));
        }
    }
    if a.x_auto_response_suppress
        .as_deref()
        .is_some_and(|v| !v.trim().is_empty())
    {
        return Some(AutoReason::AutoResponseSuppress);
    }
    if a.x_autoreply.is_some() || a.x_autorespond.is_some() {
        return Some(AutoReason::XAutoreply);
    }
    if a.x_failed_recipients.is_some() {
        return Some(AutoReason::FailedRecipients);
    }
    let names_us = |v: &String| {
        let v = v.to_ascii_lowercase();
        our_addresses.iter().any(|o| v.contains(o.as_str()))
    };
    if a.x_loop.iter().any(names_us) {
        return Some(AutoReason::XLoop);
    }
    if a.list_id.is_some() {
        return Some(AutoReason::MailingList);
    }
    if let Some(prefix) = auto_reply_prefix(&email.subject) {
        return Some(AutoReason::AutoReplySubject(prefix.to_owned()));
    }
    None
}

/// How many acknowledgements one sender gets at most within a sliding window: the last
/// brake on a loop with an autoresponder that [`classify`] did not recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckLimit {
    /// Acknowledgements allowed within `window`.
    pub count: u64,
    /// The sliding window.
    pub window: chrono::Duration,
}

impl AckLimit {
    /// The start of the window ending at `now`: acknowledgements sent since count.
    pub fn since(&self, now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        now - self.window
    }

    /// Whether one more acknowledgement may go to a sender who got `sent` within the window.
    pub fn allows(&self, sent: u64) -> bool {
        sent < self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::MessageId;
    use crate::domain::message::Mailbox;
    use crate::domain::message::sample::email;

    const DOMAIN: &str = "esup.fr";

    fn ours() -> OurIds {
        OurIds::new(DOMAIN, None)
    }

    #[test]
    fn machine_mail_is_recognised() {
        let us = vec!["support-smsu@esup.fr".to_owned()];
        type Edit = fn(&mut InboundEmail);
        let table: &[(&str, Edit, bool)] = &[
            ("plain mail", |_| {}, false),
            (
                "auto-submitted no",
                |e| e.auto.auto_submitted = Some("no".into()),
                false,
            ),
            (
                "auto-replied",
                |e| e.auto.auto_submitted = Some("auto-replied".into()),
                true,
            ),
            (
                "auto-generated",
                |e| e.auto.auto_submitted = Some("Auto-Generated; x=1".into()),
                true,
            ),
            (
                "precedence bulk",
                |e| e.auto.precedence = Some("Bulk".into()),
                true,
            ),
            (
                "precedence junk",
                |e| e.auto.precedence = Some("junk".into()),
                true,
            ),
            (
                "precedence auto_reply",
                |e| e.auto.precedence = Some("auto_reply".into()),
                true,
            ),
            (
                "precedence first-class",
                |e| e.auto.precedence = Some("first-class".into()),
                false,
            ),
            (
                "exchange suppress",
                |e| e.auto.x_auto_response_suppress = Some("All".into()),
                true,
            ),
            (
                "x-autoreply",
                |e| e.auto.x_autoreply = Some("yes".into()),
                true,
            ),
            (
                "x-autorespond",
                |e| e.auto.x_autorespond = Some("x".into()),
                true,
            ),
            ("dsn", |e| e.auto.is_report = true, true),
            (
                "null return-path",
                |e| e.auto.return_path = Some("<>".into()),
                true,
            ),
            (
                "real return-path",
                |e| e.auto.return_path = Some("<a@b.fr>".into()),
                false,
            ),
            (
                "x-loop us",
                |e| e.auto.x_loop = vec!["Support-SMSU@esup.fr".into()],
                true,
            ),
            (
                "x-loop other",
                |e| e.auto.x_loop = vec!["list@other.org".into()],
                false,
            ),
            (
                "list-id",
                |e| e.auto.list_id = Some("<l.example.org>".into()),
                true,
            ),
            (
                "failed recipients",
                |e| e.auto.x_failed_recipients = Some("x@y".into()),
                true,
            ),
            (
                "our message back",
                |e| e.message_id = MessageId::new("abc.guichet@esup.fr").unwrap(),
                true,
            ),
            (
                "from mailer-daemon",
                |e| e.from = Some(Mailbox::new(None, "MAILER-DAEMON@mx.univ.fr")),
                true,
            ),
            (
                "from postmaster",
                |e| e.from = Some(Mailbox::new(Some("Postmaster"), "postmaster@univ.fr")),
                true,
            ),
            (
                "from mail-daemon",
                |e| e.from = Some(Mailbox::new(None, "Mail-Daemon@x.org")),
                true,
            ),
            (
                "from mailer_daemon",
                |e| e.from = Some(Mailbox::new(None, "mailer_daemon@x.org")),
                true,
            ),
            (
                "sender postmaster, from absent",
                |e| {
                    e.from = None;
                    e.sender = Some(Mailbox::new(None, "postmaster@univ.fr"));
                },
                true,
            ),
            (
                "sender mailer-daemon, from a person",
                |e| e.sender = Some(Mailbox::new(None, "mailer-daemon@univ.fr")),
                true,
            ),
            (
                "daemon in the domain only",
                |e| e.from = Some(Mailbox::new(None, "alice@mailer-daemon.example")),
                false,
            ),
            (
                "daemon as a part of the local part",
                |e| e.from = Some(Mailbox::new(None, "postmaster-team@univ.fr")),
                false,
            ),
            (
                "daemon as a display name only",
                |e| e.from = Some(Mailbox::new(Some("MAILER-DAEMON"), "alice@univ.fr")),
                false,
            ),
            (
                "return-path bare MAILER-DAEMON",
                |e| e.auto.return_path = Some("<MAILER-DAEMON>".into()),
                true,
            ),
            (
                "return-path mailer-daemon at a host",
                |e| e.auto.return_path = Some(" <Mailer-Daemon@mx.example.com> ".into()),
                true,
            ),
            (
                "return-path postmaster is a person",
                |e| e.auto.return_path = Some("<postmaster@univ.fr>".into()),
                false,
            ),
            (
                "from post_master (apache james)",
                |e| e.from = Some(Mailbox::new(None, "post_master@vtext.example.com")),
                true,
            ),
            (
                "unusable from MAILER-DAEMON <>",
                |e| {
                    e.from = None;
                    e.auto.unusable_from = Some("MAILER-DAEMON <>".into());
                },
                true,
            ),
            (
                "unusable from bare mailer-daemon",
                |e| {
                    e.from = None;
                    e.auto.unusable_from = Some("mailer-daemon".into());
                },
                true,
            ),
            (
                "unusable from of a person",
                |e| {
                    e.from = None;
                    e.auto.unusable_from = Some("Moderator-Address <moderator>".into());
                },
                false,
            ),
            (
                "subject automatic reply",
                |e| e.subject = "Automatic reply: Nyaan".into(),
                true,
            ),
            (
                "subject auto reply",
                |e| e.subject = "Auto reply: panne".into(),
                true,
            ),
            (
                "subject french outlook",
                |e| e.subject = "Réponse automatique : votre demande".into(),
                true,
            ),
            (
                "subject mimecast autorespons",
                |e| e.subject = "AutoRespons :Nyaan".into(),
                true,
            ),
            (
                "subject polish",
                |e| e.subject = "Automatyczna odpowiedź: test".into(),
                true,
            ),
            (
                "subject out of office",
                |e| e.subject = "Out of Office: back on Monday".into(),
                true,
            ),
            (
                "a person answers an auto-reply",
                |e| e.subject = "Re: Automatic reply: Nyaan".into(),
                false,
            ),
            (
                "auto reply in the middle of a subject",
                |e| e.subject = "question about the automatic reply: it is in English".into(),
                false,
            ),
            (
                "subject without a colon",
                |e| e.subject = "Automatic reply".into(),
                false,
            ),
        ];
        for (name, edit, machine) in table {
            let mut e = email("alice@univ.fr", "support-smsu@esup.fr", "x");
            edit(&mut e);
            assert_eq!(classify(&e, &ours(), &us).is_some(), *machine, "{name}");
        }
    }

    #[test]
    fn acknowledgements_stop_at_the_limit_within_the_window() {
        let limit = AckLimit {
            count: 3,
            window: chrono::Duration::minutes(60),
        };
        for (sent, allowed) in [(0, true), (2, true), (3, false), (40, false)] {
            assert_eq!(limit.allows(sent), allowed, "{sent} sent");
        }
        let now = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH + chrono::Duration::days(1);
        assert_eq!(limit.since(now), now - chrono::Duration::hours(1));
    }

    #[test]
    fn mail_system_names_are_read_from_written_headers() {
        let table = [
            ("MAILER-DAEMON <>", true),
            ("MAILER DAEMON <>", true),
            ("mailer-daemon", true),
            ("Mail Delivery Subsystem <MAILER-DAEMON>", true),
            ("Mail Delivery System <Mailer-Daemon@mx.example.com>", true),
            ("postmaster", true),
            ("\"Postmaster\" <>", true),
            ("foo", false),
            ("Moderator-Address <moderator>", false),
            ("MAILER-DAEMON <alice@univ.fr>", false),
            ("", false),
            ("<>", false),
        ];
        for (written, want) in table {
            assert_eq!(names_mail_system(written), want, "{written:?}");
        }
    }

    #[test]
    fn mail_system_reasons_name_what_was_seen() {
        let mut e = email("Mailer-Daemon@mx.univ.fr", "support-smsu@esup.fr", "x");
        let reason = classify(&e, &ours(), &[]);
        assert_eq!(
            reason,
            Some(AutoReason::MailSystemSender(
                "mailer-daemon@mx.univ.fr".into()
            ))
        );
        assert!(reason.is_some_and(|r| r.describe().contains("mailer-daemon@mx.univ.fr")));
        e.auto.return_path = Some("<MAILER-DAEMON>".into());
        let reason = classify(&e, &ours(), &[]);
        assert_eq!(
            reason,
            Some(AutoReason::MailSystemReturnPath("<MAILER-DAEMON>".into()))
        );
        assert!(reason.is_some_and(|r| r.describe().contains("<MAILER-DAEMON>")));
    }
}
