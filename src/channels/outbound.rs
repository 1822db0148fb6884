//! Outbound mail: [`OutboundMail`] values -> RFC 5322 messages (lettre), and the first
//! [`Sender`]: [`FileSender`], which writes them as `.eml` files named by their Message-ID.
//! Owns the mapping to headers (our Message-ID, threading headers, `Auto-Submitted`) and the
//! MIME layout; knows nothing of tickets or templates, and never decides whom to write to.
//!
//! Errors say whether a retry can help (`classify`, the one place that decides it for the
//! file transport): a message that cannot be built (bad address, no recipient) is permanent;
//! a write failure (disk full, permissions) is transient. Error texts name no address or
//! subject, since they are logged.

use std::path::{Path, PathBuf};

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox as LettreMailbox, MultiPart, SinglePart};
use lettre::{Address, Message};

use super::sender::{SendError, SendFuture, Sender, Sent};
use crate::domain::{Mailbox, MessageId};

/// One message to send, fully decided: rendering and addressing happened before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMail {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub message_id: MessageId,
    pub in_reply_to: Option<MessageId>,
    pub references: Vec<MessageId>,
    /// `Reply-To`: the support address with the recipient's reply token
    /// (`support-smsu+TOKEN@…`), so that the answer finds its ticket; `None` when tokens are
    /// off or the mail concerns no ticket.
    pub reply_to: Option<Mailbox>,
    /// `Auto-Submitted` value (`auto-replied`, `auto-generated`), or none for human replies.
    pub auto_submitted: Option<String>,
    /// The `Date` header: taken from our clock, so lettre does not read the system time.
    pub date: chrono::DateTime<chrono::Utc>,
    /// Files sent with it (an agent's reply), in order; none for generated mail.
    pub attachments: Vec<OutboundAttachment>,
}

/// A file sent with a mail: what the agent attached, as stored with their article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundAttachment {
    /// The name the recipient's client shows and saves it under.
    pub filename: String,
    /// `type/subtype`; a value lettre cannot read goes as `application/octet-stream`.
    pub content_type: String,
    /// The bytes, sent as they are (base64 unless they are short-lined ASCII).
    pub data: Vec<u8>,
}

/// The `Auto-Submitted` header of RFC 3834, which lettre has no type for. Its value is a
/// keyword (`no`, `auto-generated`, `auto-replied`, or an extension) optionally followed by
/// `;` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoSubmitted(String);

impl AutoSubmitted {
    /// Checks the value: a keyword of letters, digits and `-`, then optional parameters, all
    /// printable ASCII on one line (no way to smuggle in another header).
    pub fn new(value: &str) -> Option<Self> {
        let value = value.trim();
        let keyword = value.split(';').next().unwrap_or_default().trim();
        let keyword_ok = !keyword.is_empty()
            && keyword
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let printable = value.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
        (keyword_ok && printable).then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Self::new(s).ok_or_else(|| format!("invalid Auto-Submitted value {s:?}").into())
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `X-Auto-Response-Suppress: All`, on automatic mail only (with `Auto-Submitted`): an
/// agent's personal reply may get an out-of-office answer like any mail a person writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoResponseSuppress;

impl Header for AutoResponseSuppress {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Auto-Response-Suppress")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        if s.trim().eq_ignore_ascii_case("all") {
            Ok(Self)
        } else {
            Err(format!("unexpected X-Auto-Response-Suppress value {s:?}").into())
        }
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "All".to_owned())
    }
}

/// Builds the RFC 5322 message: our Message-ID, `In-Reply-To` and the whole `References`
/// chain in order, `Reply-To` and `Auto-Submitted` when set, and a `multipart/alternative` body (text, then
/// HTML) or a UTF-8 `text/plain` one. With attachments, that body is the first part of a
/// `multipart/mixed`, each file a part after it. lettre adds `MIME-Version` and encodes
/// non-ASCII subjects and names (RFC 2047).
pub fn build(mail: &OutboundMail) -> Result<Message, SendError> {
    let mut builder = Message::builder()
        .from(mailbox(&mail.from, "sender")?)
        .subject(cut_subject(&one_line(&mail.subject)))
        // lettre would make up `<uuid@hostname>` if asked, and nothing if not: threading
        // and loop detection need ours.
        .message_id(Some(mail.message_id.bracketed()))
        .date(std::time::SystemTime::from(mail.date));
    for (i, to) in mail.to.iter().enumerate() {
        builder = builder.to(mailbox(to, &format!("recipient {}", i + 1))?);
    }
    if let Some(reply_to) = &mail.reply_to {
        builder = builder.reply_to(mailbox(reply_to, "reply-to")?);
    }
    if let Some(id) = &mail.in_reply_to {
        builder = builder.in_reply_to(id.bracketed());
    }
    if !mail.references.is_empty() {
        // `references()` replaces the header: the whole chain goes in one value.
        let chain: Vec<String> = mail.references.iter().map(MessageId::bracketed).collect();
        builder = builder.references(chain.join(" "));
    }
    if let Some(value) = &mail.auto_submitted {
        let header = AutoSubmitted::new(value).ok_or_else(|| {
            classify(Failure::Build(format!(
                "invalid Auto-Submitted value {value:?}"
            )))
        })?;
        builder = builder
            .header(header)
            // Exchange and Outlook honour this one, not Auto-Submitted: no out-of-office
            // reply, no read receipt to our automatic mail (RFC 3834's aim, Microsoft's way).
            .header(AutoResponseSuppress);
    }
    let built = match (&mail.html, mail.attachments.is_empty()) {
        (Some(html), true) => builder.multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            html.clone(),
        )),
        (None, true) => builder.singlepart(SinglePart::plain(mail.text.clone())),
        (Some(html), false) => builder.multipart(with_files(
            MultiPart::mixed().multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                html.clone(),
            )),
            &mail.attachments,
        )?),
        (None, false) => builder.multipart(with_files(
            MultiPart::mixed().singlepart(SinglePart::plain(mail.text.clone())),
            &mail.attachments,
        )?),
    };
    built.map_err(|e| classify(Failure::Build(e.to_string())))
}

/// `mixed` (holding the body already) with a part for each of `files` after it, in order.
fn with_files(mut mixed: MultiPart, files: &[OutboundAttachment]) -> Result<MultiPart, SendError> {
    for (i, file) in files.iter().enumerate() {
        let content_type = ContentType::parse(&file.content_type).map_err(|e| {
            classify(Failure::Build(format!(
                "attachment {}: invalid content type ({e})",
                i + 1
            )))
        })?;
        let part = Attachment::new(file.filename.clone()).body(file.data.clone(), content_type);
        mixed = mixed.singlepart(part);
    }
    Ok(mixed)
}

/// The formatted message, as it would be written or sent.
pub fn to_bytes(mail: &OutboundMail) -> Result<Vec<u8>, SendError> {
    build(mail).map(|m| m.formatted())
}

/// Writes messages as `.eml` files into a directory: the transport of a test or staging
/// setup, and the first [`Sender`].
#[derive(Debug, Clone)]
pub struct FileSender {
    dir: PathBuf,
}

impl FileSender {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
        }
    }

    /// Writes the message as `<its Message-ID>.eml` in the directory (created if missing),
    /// through a temporary file renamed into place: a retry of the same outbox row (same
    /// Message-ID) replaces the file, so a crash between the write and its record never
    /// leaves two. Returns the file's path. Blocking: [`Sender::send`] runs it on the
    /// blocking pool.
    pub fn write(&self, mail: &OutboundMail) -> Result<PathBuf, SendError> {
        let message = build(mail)?.formatted();
        let dir = self.dir.display();
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| classify(Failure::CreateDir(format!("{dir}: {e}"))))?;
        let name = file_name(&mail.message_id);
        let path = self.dir.join(format!("{name}.eml"));
        let temporary = self.dir.join(format!(".{name}.tmp"));
        let written = std::fs::File::create(&temporary)
            .and_then(|mut f| {
                std::io::Write::write_all(&mut f, &message)?;
                f.sync_all()
            })
            .and_then(|()| std::fs::rename(&temporary, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(classify(Failure::Write(format!("{dir}: {e}"))));
        }
        Ok(path)
    }
}

impl Sender for FileSender {
    fn send<'a>(&'a self, mail: &'a OutboundMail) -> SendFuture<'a> {
        let files = self.clone();
        let mail = mail.clone();
        Box::pin(async move {
            // File IO off the async threads.
            let written = tokio::task::spawn_blocking(move || files.write(&mail))
                .await
                .map_err(|e| classify(Failure::Task(e.to_string())))??;
            Ok(Sent {
                reference: written.display().to_string(),
            })
        })
    }
}

/// A file name for the message `id`: our ids are `uuid.signature.guichet@domain`, kept as
/// they are; any character a file name should not hold becomes `_`, and the name stays short.
fn file_name(id: &MessageId) -> String {
    id.as_str()
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' | '@' | '+' => c,
            _ => '_',
        })
        .take(200)
        .collect::<String>()
        .trim_start_matches('.')
        .to_owned()
}

/// What failed on the way to a written file, before [`classify`] says what a retry can do.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// The message could not be built (bad address, invalid header value, no recipient).
    Build(String),
    /// The directory could not be created.
    CreateDir(String),
    /// The file could not be written.
    Write(String),
    /// The blocking task that writes died (a panic, or the runtime shutting down).
    Task(String),
}

/// The file transport's classification, the one place it is decided. A message that cannot
/// be built will not build on a retry; everything that goes wrong on the disk (full, wrong
/// permissions, a file where the directory should be) is the machine's and is fixed without
/// touching the message, so a retry may succeed.
fn classify(failure: Failure) -> SendError {
    match failure {
        Failure::Build(reason) => SendError::permanent(format!("cannot build message: {reason}")),
        Failure::CreateDir(reason) | Failure::Write(reason) => {
            SendError::transient(format!("cannot write message: {reason}"))
        }
        Failure::Task(reason) => SendError::transient(format!(
            "cannot write message: writer task failed: {reason}"
        )),
    }
}

fn mailbox(m: &Mailbox, role: &str) -> Result<LettreMailbox, SendError> {
    let address: Address = m
        .address
        .parse()
        .map_err(|e| classify(Failure::Build(format!("{role}: invalid address ({e})"))))?;
    Ok(LettreMailbox::new(m.name.as_deref().map(one_line), address))
}

/// A header value on one line: line breaks (and the spaces around them) become one space.
use crate::domain::recipients::cut_subject;

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use mail_parser::{HeaderValue as ParsedValue, MessageParser, MimeHeaders};

    use super::*;

    fn id(s: &str) -> MessageId {
        MessageId::new(s).unwrap()
    }

    fn mail() -> OutboundMail {
        OutboundMail {
            date: chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000),
            from: Mailbox::new(Some("SMS Universitaire"), "support-smsu@esup-portail.org"),
            to: vec![Mailbox::new(
                Some("Élodie Müller"),
                "elodie.muller@univ-exemple.fr",
            )],
            subject: "[SMSU I-000042] Accusé de réception : Les SMS ne partent plus".to_owned(),
            text: "Bonjour,\n\nNous avons bien reçu votre demande.\n".to_owned(),
            html: Some("<!DOCTYPE html>\n<p>Nous avons bien reçu votre demande.</p>\n".to_owned()),
            message_id: id("1a2b.guichet@esup-portail.org"),
            in_reply_to: Some(id("c@univ-exemple.fr")),
            references: vec![
                id("a@univ-exemple.fr"),
                id("b.guichet@esup-portail.org"),
                id("c@univ-exemple.fr"),
            ],
            reply_to: None,
            auto_submitted: Some("auto-replied".to_owned()),
            attachments: Vec::new(),
        }
    }

    /// A decoded part without the wire's CRLF line ends and the trailing line break.
    fn unwire(part: Option<std::borrow::Cow<'_, str>>) -> Option<String> {
        part.map(|p| p.replace("\r\n", "\n").trim_end().to_owned())
    }

    /// The ids of a parsed `In-Reply-To` or `References`: `Text` for one, `TextList` for more.
    fn ids(value: &ParsedValue<'_>) -> Vec<String> {
        match value {
            ParsedValue::Text(t) => vec![t.to_string()],
            ParsedValue::TextList(list) => list.iter().map(ToString::to_string).collect(),
            ParsedValue::Empty => Vec::new(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn written_eml_parses_back_with_our_headers() {
        let dir = tempfile::tempdir().unwrap();
        let path = FileSender::new(dir.path()).write(&mail()).unwrap();
        assert_eq!(path.parent(), Some(dir.path()));
        assert_eq!(path.extension().and_then(|e| e.to_str()), Some("eml"));
        let raw = std::fs::read(&path).unwrap();
        let parsed = MessageParser::default().parse(&raw).unwrap();

        assert_eq!(parsed.message_id(), Some("1a2b.guichet@esup-portail.org"));
        assert_eq!(ids(parsed.in_reply_to()), ["c@univ-exemple.fr"]);
        assert_eq!(
            ids(parsed.references()),
            [
                "a@univ-exemple.fr",
                "b.guichet@esup-portail.org",
                "c@univ-exemple.fr"
            ]
        );
        assert_eq!(
            parsed
                .header("Auto-Submitted")
                .and_then(|v| v.as_text())
                .map(str::trim),
            Some("auto-replied")
        );
        assert!(parsed.date().is_some(), "lettre adds a Date");

        let from = parsed.from().and_then(|a| a.first()).unwrap();
        assert_eq!(from.address(), Some("support-smsu@esup-portail.org"));
        assert_eq!(from.name(), Some("SMS Universitaire"));
        let to = parsed.to().and_then(|a| a.first()).unwrap();
        assert_eq!(to.address(), Some("elodie.muller@univ-exemple.fr"));
        assert_eq!(to.name(), Some("Élodie Müller"));

        assert_eq!(
            parsed.subject(),
            Some("[SMSU I-000042] Accusé de réception : Les SMS ne partent plus")
        );
        assert_eq!(
            unwire(parsed.body_text(0)).as_deref(),
            Some("Bonjour,\n\nNous avons bien reçu votre demande.")
        );
        assert_eq!(
            unwire(parsed.body_html(0)).as_deref(),
            Some("<!DOCTYPE html>\n<p>Nous avons bien reçu votre demande.</p>")
        );
        assert_eq!(parsed.text_body.len(), 1);
        assert_eq!(parsed.html_body.len(), 1);
        let content_type = parsed.content_type().unwrap();
        assert_eq!(
            (content_type.ctype(), content_type.subtype()),
            ("multipart", Some("alternative"))
        );
    }

    #[test]
    fn attachments_follow_the_body_in_a_mixed_part_with_their_bytes() {
        let pdf = b"%PDF-1.4\n\x00\xff binary \x80\x81\n%%EOF\n".to_vec();
        let txt = "journal du 3 décembre\nligne 2\n".as_bytes().to_vec();
        let with = OutboundMail {
            attachments: vec![
                OutboundAttachment {
                    filename: "rapport.pdf".to_owned(),
                    content_type: "application/pdf".to_owned(),
                    data: pdf.clone(),
                },
                OutboundAttachment {
                    filename: "journal é.txt".to_owned(),
                    content_type: "text/plain".to_owned(),
                    data: txt.clone(),
                },
            ],
            ..mail()
        };
        let raw = to_bytes(&with).unwrap();
        let parsed = MessageParser::default().parse(&raw).unwrap();
        let top = parsed.content_type().unwrap();
        assert_eq!((top.ctype(), top.subtype()), ("multipart", Some("mixed")));
        assert_eq!(
            unwire(parsed.body_text(0)),
            Some(mail().text.trim_end().to_owned()),
            "the text body is still the text body"
        );
        assert!(parsed.body_html(0).is_some(), "and the HTML one is kept");
        let files: Vec<(Option<&str>, &[u8])> = parsed
            .attachments()
            .map(|a| (a.attachment_name(), a.contents()))
            .collect();
        assert_eq!(
            files,
            [
                (Some("rapport.pdf"), pdf.as_slice()),
                (Some("journal é.txt"), txt.as_slice())
            ]
        );
        let bad = OutboundMail {
            attachments: vec![OutboundAttachment {
                content_type: "not a type".to_owned(),
                ..with.attachments[0].clone()
            }],
            ..mail()
        };
        assert!(to_bytes(&bad).unwrap_err().is_permanent());
    }

    #[test]
    fn a_reply_to_is_written_when_set_and_only_then() {
        let plain = MessageParser::default()
            .parse(&to_bytes(&mail()).unwrap())
            .map(|p| p.reply_to().is_none());
        assert_eq!(plain, Some(true), "no Reply-To unless asked");
        let address = "support-smsu+16-abcdefghijklmnop@esup-portail.org";
        let with = OutboundMail {
            reply_to: Some(Mailbox::new(Some("SMS Universitaire"), address)),
            ..mail()
        };
        let raw = to_bytes(&with).unwrap();
        let parsed = MessageParser::default().parse(&raw).unwrap();
        let reply_to = parsed.reply_to().and_then(|a| a.first()).unwrap();
        assert_eq!(reply_to.address(), Some(address));
    }

    #[test]
    fn rendered_acknowledgement_survives_the_wire() {
        use crate::notify::{Notifier, Template};
        let rendered = Notifier::new(None)
            .unwrap()
            .render(
                Template::TicketCreated,
                "fr",
                &Template::TicketCreated.sample_context(),
            )
            .unwrap();
        let mail = OutboundMail {
            date: chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000),
            subject: rendered.subject.clone(),
            text: rendered.text.clone(),
            html: Some(rendered.html.clone()),
            ..mail()
        };
        let raw = to_bytes(&mail).unwrap();
        let parsed = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(parsed.subject(), Some(rendered.subject.as_str()));
        assert_eq!(
            unwire(parsed.body_text(0)),
            Some(rendered.text.trim_end().to_owned())
        );
        assert_eq!(
            unwire(parsed.body_html(0)),
            Some(rendered.html.trim_end().to_owned())
        );
    }

    #[test]
    fn subject_stays_ascii_on_the_wire() {
        let raw = to_bytes(&mail()).unwrap();
        let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        assert!(raw[..head_end].is_ascii(), "headers are RFC 2047-encoded");
        let head = String::from_utf8_lossy(&raw[..head_end]);
        let subject = head
            .split("\r\n")
            .skip_while(|l| !l.starts_with("Subject: "))
            .take_while(|l| l.starts_with("Subject: ") || l.starts_with(' '))
            .collect::<String>();
        assert!(subject.contains("=?utf-8?b?"), "{head}");
        assert!(!subject.contains("réception"), "{head}");
    }

    #[test]
    fn human_reply_has_no_auto_submitted_header() {
        let mail = OutboundMail {
            date: chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000),
            auto_submitted: None,
            ..mail()
        };
        let raw = to_bytes(&mail).unwrap();
        let parsed = MessageParser::default().parse(&raw).unwrap();
        assert!(parsed.header("Auto-Submitted").is_none());
        let text = String::from_utf8_lossy(&raw).to_ascii_lowercase();
        assert!(!text.contains("auto-submitted"), "{text}");
        assert!(!text.contains("x-auto-response-suppress"), "{text}");
    }

    #[test]
    fn automatic_mail_asks_for_no_auto_response() {
        let raw = to_bytes(&mail()).unwrap();
        let parsed = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            parsed
                .header("X-Auto-Response-Suppress")
                .and_then(|v| v.as_text())
                .map(str::trim),
            Some("All")
        );
    }

    #[test]
    fn text_only_mail_is_plain_utf8() {
        let mail = OutboundMail {
            date: chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000),
            html: None,
            ..mail()
        };
        let raw = to_bytes(&mail).unwrap();
        let parsed = MessageParser::default().parse(&raw).unwrap();
        let content_type = parsed.content_type().unwrap();
        assert_eq!(
            (content_type.ctype(), content_type.subtype()),
            ("text", Some("plain"))
        );
        assert_eq!(
            content_type
                .attribute("charset")
                .map(str::to_ascii_lowercase),
            Some("utf-8".to_owned())
        );
        assert_eq!(
            parsed.html_body.len(),
            1,
            "mail-parser points html at the text part"
        );
        assert_eq!(
            unwire(parsed.body_text(0)).as_deref(),
            Some("Bonjour,\n\nNous avons bien reçu votre demande.")
        );
    }

    #[test]
    fn new_thread_has_no_threading_headers() {
        let mail = OutboundMail {
            date: chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000),
            in_reply_to: None,
            references: Vec::new(),
            ..mail()
        };
        let raw = to_bytes(&mail).unwrap();
        let parsed = MessageParser::default().parse(&raw).unwrap();
        assert!(parsed.header("In-Reply-To").is_none());
        assert!(parsed.header("References").is_none());
        assert_eq!(parsed.message_id(), Some("1a2b.guichet@esup-portail.org"));
    }

    #[test]
    fn long_reference_chains_keep_every_id_in_order() {
        let chain: Vec<MessageId> = (0..40)
            .map(|i| id(&format!("msg-{i:03}.some-long-unique-part@univ-exemple.fr")))
            .collect();
        let mail = OutboundMail {
            date: chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000),
            references: chain.clone(),
            ..mail()
        };
        let raw = to_bytes(&mail).unwrap();
        let parsed = MessageParser::default().parse(&raw).unwrap();
        let want: Vec<String> = chain.iter().map(|m| m.as_str().to_owned()).collect();
        assert_eq!(ids(parsed.references()), want);
        let longest = raw.split(|&b| b == b'\n').map(<[u8]>::len).max().unwrap();
        assert!(longest <= 998, "RFC 5322 line limit, got {longest}");
    }

    #[test]
    fn several_recipients_are_all_addressed() {
        let mail = OutboundMail {
            date: chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000),
            to: vec![
                Mailbox::new(None, "a@univ-exemple.fr"),
                Mailbox::new(Some("Martin, Bob"), "b@univ-exemple.fr"),
            ],
            ..mail()
        };
        let message = build(&mail).unwrap();
        let to: Vec<String> = message
            .envelope()
            .to()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(to, ["a@univ-exemple.fr", "b@univ-exemple.fr"]);
        let parsed_raw = message.formatted();
        let parsed = MessageParser::default().parse(&parsed_raw).unwrap();
        let names: Vec<Option<&str>> = parsed.to().unwrap().iter().map(|a| a.name()).collect();
        assert_eq!(names, [None, Some("Martin, Bob")]);
    }

    #[test]
    fn header_injection_is_neutralised() {
        let mail = OutboundMail {
            date: chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000),
            subject: "Panne\r\nBcc: victim@example.org".to_owned(),
            to: vec![Mailbox::new(
                Some("Alice\r\nBcc: victim@example.org"),
                "alice@univ-exemple.fr",
            )],
            ..mail()
        };
        let raw = to_bytes(&mail).unwrap();
        let parsed = MessageParser::default().parse(&raw).unwrap();
        assert!(parsed.bcc().is_none());
        assert_eq!(parsed.subject(), Some("Panne Bcc: victim@example.org"));
    }

    #[test]
    fn bad_messages_are_permanent_errors() {
        let cases = [
            OutboundMail {
                date: chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000),
                to: vec![Mailbox::new(None, "not an address")],
                ..mail()
            },
            OutboundMail {
                date: chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000),
                from: Mailbox::new(None, "nobody"),
                ..mail()
            },
            OutboundMail {
                date: chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000),
                to: Vec::new(),
                ..mail()
            },
            OutboundMail {
                date: chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000),
                auto_submitted: Some("auto-replied\r\nBcc: x@example.org".to_owned()),
                ..mail()
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let sender = FileSender::new(dir.path());
        for case in cases {
            let err = sender.write(&case).unwrap_err();
            assert!(err.is_permanent(), "{err}");
            assert!(
                !err.to_string().contains("not an address"),
                "no address in {err}"
            );
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing written"
        );
    }

    #[test]
    fn a_retry_of_the_same_mail_replaces_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let sender = FileSender::new(dir.path());
        let first = sender.write(&mail()).unwrap();
        let again = sender.write(&mail()).unwrap();
        assert_eq!(first, again);
        assert_eq!(
            first.file_name().and_then(|n| n.to_str()),
            Some("1a2b.guichet@esup-portail.org.eml")
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "one file, no temporary left: {names:?}");
    }

    #[test]
    fn file_names_keep_to_safe_characters() {
        let table = [
            (
                "1a2b.guichet@esup-portail.org",
                "1a2b.guichet@esup-portail.org",
            ),
            ("../../etc/passwd@x", "_.._etc_passwd@x"),
            ("a/b\\c%d@x", "a_b_c_d@x"),
        ];
        for (id, name) in table {
            let id = MessageId::new(id).unwrap();
            assert_eq!(file_name(&id), name, "{id:?}");
        }
    }

    #[test]
    fn missing_directory_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("outbox/new");
        let path = FileSender::new(&nested).write(&mail()).unwrap();
        assert!(path.starts_with(&nested) && path.is_file());
    }

    #[test]
    fn unwritable_directory_is_a_transient_error() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the directory should be: creating it fails, as a full disk would.
        let blocked = dir.path().join("outbox");
        std::fs::write(&blocked, b"").unwrap();
        let err = FileSender::new(&blocked).write(&mail()).unwrap_err();
        assert!(err.is_transient(), "{err}");
    }

    #[test]
    fn failures_are_classified_permanent_for_the_message_transient_for_the_disk() {
        let r = || "x".to_owned();
        // (failure, transient, text)
        let table = [
            (Failure::Build(r()), false, "cannot build message: x"),
            (Failure::CreateDir(r()), true, "cannot write message: x"),
            (Failure::Write(r()), true, "cannot write message: x"),
            (
                Failure::Task(r()),
                true,
                "cannot write message: writer task failed: x",
            ),
        ];
        for (failure, transient, text) in table {
            let err = classify(failure.clone());
            assert_eq!(err.is_transient(), transient, "{failure:?}");
            assert_eq!(err.is_permanent(), !transient, "{failure:?}");
            assert_eq!(
                err.retry_after(),
                None,
                "{failure:?}: the outbox backoff applies"
            );
            assert_eq!(err.to_string(), text);
        }
    }

    #[tokio::test]
    async fn file_sender_sends_through_the_seam() {
        let dir = tempfile::tempdir().unwrap();
        let sender: std::sync::Arc<dyn Sender> = std::sync::Arc::new(FileSender::new(dir.path()));
        let sent = sender.send(&mail()).await.unwrap();
        let path = PathBuf::from(&sent.reference);
        assert!(path.starts_with(dir.path()) && path.is_file(), "{sent:?}");
    }

    #[test]
    fn auto_submitted_values_are_checked() {
        for ok in [
            "auto-replied",
            "auto-generated",
            "no",
            " auto-replied ",
            "auto-notified; owner-email=\"a@b\"",
        ] {
            assert!(AutoSubmitted::new(ok).is_some(), "{ok:?}");
        }
        for bad in ["", "auto replied", "auto-replied\r\nX: y", "é", "; x"] {
            assert!(AutoSubmitted::new(bad).is_none(), "{bad:?}");
        }
    }
}
