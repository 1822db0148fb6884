//! Raw bytes -> [`InboundEmail`], with mail-parser. Pure: no IO, never panics on input.
//!
//! Owns the translation from MIME to our plain value: which headers we keep and how (addresses
//! lower-cased, groups flattened, Message-IDs without brackets), what the body and the
//! attachments are, and when bytes are not a message at all. It decides nothing: the loop guard
//! reads the machine headers gathered here, routing reads the recipients, threading the ids.
//! An `Err` is a quarantine reason, so each one says what was wrong with the bytes.

use std::borrow::Cow;
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::html::text_to_html;
use mail_parser::parsers::MessageStream;
use mail_parser::{
    Encoding, HeaderName, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};
use sha2::{Digest, Sha256};

use crate::domain::loop_guard;
use crate::domain::message::digest_parts;
use crate::domain::{Attachment, AutoHeaders, InboundEmail, Mailbox, MessageId, reply};

pub mod html;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty message")]
    Empty,
    #[error("not an email message: {0}")]
    NotAMessage(String),
    #[error("no sender address (From)")]
    NoSender,
    /// mail-parser panicked (see [`parse`]): a parser bug met on this input, not a verdict on
    /// the message, so the quarantine reason says so.
    #[error("the MIME parser failed on this input")]
    ParserFailed,
}

/// Domain of the Message-IDs we derive for messages that have none. `.invalid` (RFC 2606)
/// can never collide with a real sender's domain, nor with our own outbound ids.
const GENERATED_ID_DOMAIN: &str = "generated.guichet.invalid";

/// Hex digits of the SHA-256 kept in a derived Message-ID: 128 bits, enough to never collide
/// between two different messages of one offer.
const GENERATED_ID_HEX_LEN: usize = 32;

// Bounds on what is read from a header list. A hostile message can carry hundreds of thousands
// of ids or headers; everything downstream (loop guard, routing, threading lookups, the ticket's
// participants) is sized by these, so one message cannot stall the others. mail-parser itself
// reads such messages in linear time (see `hostile_header_lists_parse_in_linear_time`), so its
// input is not cut.

/// References ids kept: the first (the thread's root) and the last 99, the newest ones, which
/// name the message answered and its recent ancestors. Netnews trims the same way (RFC 5537
/// section 3.4.4, after son-of-RFC-1036: ids go from the second on, the first never), at 21
/// ids; a hundred keeps any real mail thread whole.
const MAX_REFERENCES: usize = 100;

/// In-Reply-To ids kept, the first ones. RFC 5322 section 3.6.4: the parent's id, several only
/// when a message answers several; ten is more than any client writes.
const MAX_IN_REPLY_TO: usize = 10;

/// Distinct Delivered-To / X-Original-To addresses kept, the first (topmost, newest) ones: each
/// MTA hop adds one, and Postfix bounces a message after 50 hops (`hopcount_limit`), so a real
/// message has far fewer. Also the bound on X-Loop values, added once per list or forwarder.
const MAX_TRACE_VALUES: usize = 100;

/// Mailboxes kept per header kind (To, Cc, Reply-To), the first ones. They become the ticket's
/// participants and route mail that has no envelope header; a message to more people than this
/// is a mass mailing, not a support request, and is still routed by its envelope recipient.
const MAX_MAILBOXES: usize = 100;

/// Parses one message. `Err` means quarantine, with the error as the reason.
///
/// The same message always gives the same value, so re-delivering it is recognised as a
/// duplicate. A missing Message-ID is derived from what the sender wrote (From, Date, subject,
/// bodies, attachments), not from the bytes: the same message delivered by two paths (MTA pipe
/// and Maildir, each adding its own `Received`, `Delivered-To`, `Return-Path`) gets one id.
///
/// No string in the value holds U+0000: PostgreSQL text refuses it (error 22021), and a decoded
/// `=00` or a NUL in a base64 body would otherwise make the message impossible to store.
pub fn parse(raw: &[u8]) -> Result<InboundEmail, ParseError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    // mail-parser is written not to panic, but its recovery paths for broken MIME hold
    // `debug_assert!`s and unchecked arithmetic that do panic in debug and test builds. One
    // hostile message must not stop a mailbox's ingest loop: it goes to the quarantine instead.
    let raw = lf_for_lone_cr(raw);
    std::panic::catch_unwind(|| parse_message(skip_blank_lines(&raw)))
        .unwrap_or(Err(ParseError::ParserFailed))
}

/// `raw` with LF line ends when it has CR ones only (classic Mac OS, some old gateways), which
/// mail-parser does not read as line ends: the whole message would be one header line. Any
/// message holding an LF is left as it is.
fn lf_for_lone_cr(raw: &[u8]) -> Cow<'_, [u8]> {
    if raw.contains(&b'\r') && !raw.contains(&b'\n') {
        Cow::Owned(
            raw.iter()
                .map(|&b| if b == b'\r' { b'\n' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(raw)
    }
}

/// Lines of nothing but whitespace before the first header. mail-parser reads the first one as
/// the end of an empty header block, which would make the whole message a body without a
/// sender; mangled deliveries (a padding line, a stray blank line) are still mail to us.
fn skip_blank_lines(raw: &[u8]) -> &[u8] {
    let blank = raw.iter().take_while(|b| b.is_ascii_whitespace()).count();
    raw.get(..blank)
        .and_then(|prefix| prefix.iter().rposition(|&b| b == b'\n'))
        .and_then(|last_newline| raw.get(last_newline + 1..))
        .unwrap_or(raw)
}

/// `raw` is the message without leading blank lines.
fn parse_message(raw: &[u8]) -> Result<InboundEmail, ParseError> {
    let message = parse_mime(raw)?;
    match headers_as_utf8(&message, raw) {
        // Offsets of the second parse point into the converted copy, which is therefore the
        // `raw` of everything that reads bytes by offset. The stored message stays the
        // original: the caller keeps it.
        Some(converted) => read_message(&parse_mime(&converted)?, &converted),
        None => read_message(&message, raw),
    }
}

fn parse_mime(raw: &[u8]) -> Result<Message<'_>, ParseError> {
    MessageParser::default()
        .parse(raw)
        .ok_or_else(|| ParseError::NotAMessage("no header field found".to_owned()))
}

/// A copy of `raw` whose top-level header lines are all UTF-8, or `None` when they already
/// are (nearly always: then nothing is copied).
///
/// Old clients write Latin-1 or Windows-1252 in Subject and From without RFC 2047 encoded
/// words; mail-parser reads header bytes as UTF-8, so every accent became U+FFFD in the
/// ticket, the contact's name and the acknowledgement. Each line that is not UTF-8 is decoded
/// with the charset the body declares (the sender's mailer used one charset for both), else
/// Windows-1252, the superset of Latin-1 that such mailers actually wrote (`œ`, `€`, curly
/// quotes). Raw UTF-8 headers are RFC 6532 mail and stay as they are, line by line: a valid
/// UTF-8 line is not re-read. Part headers inside the body are left alone; their 8-bit names
/// follow the part's own charset.
fn headers_as_utf8(message: &Message<'_>, raw: &[u8]) -> Option<Vec<u8>> {
    let end = message
        .parts
        .first()
        .map_or(raw.len(), |root| root.offset_body as usize);
    let (headers, body) = raw.split_at_checked(end)?;
    if std::str::from_utf8(headers).is_ok() {
        return None;
    }
    let charset = header_charset(message);
    let mut converted = Vec::with_capacity(raw.len() + raw.len() / 8);
    for line in headers.split_inclusive(|&b| b == b'\n') {
        if std::str::from_utf8(line).is_ok() {
            converted.extend_from_slice(line);
        } else if mostly_utf8(line) {
            converted.extend_from_slice(String::from_utf8_lossy(line).as_bytes());
        } else {
            let (text, _) = charset.decode_without_bom_handling(line);
            converted.extend_from_slice(text.as_bytes());
        }
    }
    converted.extend_from_slice(body);
    Some(converted)
}

/// A line of UTF-8 with a few broken sequences (a name cut in the middle of a character) rather
/// than text in a legacy charset: more continuation bytes in well-formed multi-byte characters
/// than broken sequences. Latin-1 text almost never forms a well-formed sequence (`Ã©`), so it is not
/// mistaken for this, and this is not turned into mojibake by reading it as Windows-1252.
fn mostly_utf8(line: &[u8]) -> bool {
    // Continuation bytes are length minus characters, which std counts fast even in a debug
    // build of this crate (a 25 MiB header block is read here).
    let (mut wide, mut broken) = (0usize, 0usize);
    for chunk in line.utf8_chunks() {
        wide += chunk.valid().len() - chunk.valid().chars().count();
        broken += usize::from(!chunk.invalid().is_empty());
    }
    wide > broken
}

/// The charset 8-bit header bytes are read in: the body's declared charset (the top-level
/// Content-Type's, else that of the first text part of a multipart body), when it is one that
/// keeps ASCII as ASCII and is not UTF-8 (the bytes are not UTF-8); else Windows-1252.
/// `encoding_rs` follows the WHATWG labels, where `iso-8859-1` and `us-ascii` also name
/// Windows-1252.
fn header_charset(message: &Message<'_>) -> &'static encoding_rs::Encoding {
    let declared = |part: &MessagePart<'_>| {
        part.content_type()
            .and_then(|ct| ct.attribute("charset"))
            .and_then(|label| encoding_rs::Encoding::for_label(label.trim().as_bytes()))
    };
    let first_text = message
        .text_body
        .first()
        .and_then(|&id| message.part(id))
        .filter(|part| part.is_text());
    message
        .parts
        .first()
        .and_then(declared)
        .or_else(|| first_text.and_then(declared))
        .filter(|charset| charset.is_ascii_compatible() && *charset != encoding_rs::UTF_8)
        .unwrap_or(encoding_rs::WINDOWS_1252)
}

/// Reads the parsed message; every offset in `message` points into `raw`.
fn read_message(message: &Message<'_>, raw: &[u8]) -> Result<InboundEmail, ParseError> {
    // mail-parser reads any `word: text` line as a header, so binary or prose input still
    // comes back as a "message". A real one has at least one header field we know by name.
    let known_header = message
        .headers()
        .iter()
        .any(|h| !matches!(h.name, HeaderName::Other(_)));
    if !known_header {
        return Err(ParseError::NotAMessage(
            "no standard header field (From, Date, Subject, ...) in the header block".to_owned(),
        ));
    }

    let from = mailboxes(message, &HeaderName::From, 1).into_iter().next();
    let sender = mailboxes(message, &HeaderName::Sender, 1)
        .into_iter()
        .next();
    let auto = auto_headers(message, raw, from.is_none() && sender.is_none());
    // A bounce signed by the mail system without an address (`MAILER-DAEMON <>`), or a report
    // with no usable sender, is still machine mail the loop guard must see: the bounce it
    // carries is matched to our outbound mail instead of being quarantined.
    let mail_system = auto
        .unusable_from
        .as_deref()
        .is_some_and(loop_guard::names_mail_system);
    if from.is_none() && sender.is_none() && !auto.is_report && !mail_system {
        return Err(ParseError::NoSender);
    }

    let read_id = message
        .message_id()
        .and_then(|id| MessageId::new(&without_nul(id)));
    let message_id_generated = read_id.is_none();

    let mut email = InboundEmail {
        // A missing id is derived below from the finished value; `ours` cannot fail and never
        // survives as the placeholder.
        message_id: read_id.unwrap_or_else(|| MessageId::ours("pending", GENERATED_ID_DOMAIN)),
        message_id_generated,
        from,
        sender,
        reply_to: mailboxes(message, &HeaderName::ReplyTo, MAX_MAILBOXES),
        to: mailboxes(message, &HeaderName::To, MAX_MAILBOXES),
        cc: mailboxes(message, &HeaderName::Cc, MAX_MAILBOXES),
        delivered_to: delivered_to(message, raw),
        subject: message
            .subject()
            .map(str::trim)
            .unwrap_or_default()
            .to_owned(),
        date: message
            .date()
            .filter(|d| d.is_valid())
            .and_then(|d| DateTime::<Utc>::from_timestamp(d.to_timestamp(), 0)),
        in_reply_to: message_ids(message, HeaderName::InReplyTo)
            .filter_map(message_id)
            .take(MAX_IN_REPLY_TO)
            .collect(),
        references: references(message),
        auto,
        text_body: text_body(message, raw),
        // Read from the text body once it is clean, below.
        new_text: String::new(),
        html_body: html_body(message, raw),
        attachments: attachments(message, raw),
        language: language(message, raw),
        source_digest: None,
    };
    email.source_digest = Some(source_digest(message, raw, &email.attachments));
    remove_nul(&mut email);
    email.new_text = reply::new_text(&email.text_body);
    if message_id_generated {
        let date = raw_values(message, raw, &["Date"])
            .next()
            .unwrap_or_default();
        email.message_id = generated_message_id(&email, &date)?;
    }
    Ok(email)
}

/// `<first 32 hex digits of a sha256>@generated.guichet.invalid`, over what stays the same
/// whatever path delivered the message: the From address (Sender when there is no From),
/// lower-cased; the Date header as written (`date`, empty when missing); the decoded subject;
/// and [`InboundEmail::content_digest`] (bodies and attachments, normalised: a Maildir file
/// and an IMAP fetch of one message differ in line ends). Each is length-prefixed.
fn generated_message_id(email: &InboundEmail, date: &str) -> Result<MessageId, ParseError> {
    let from = email
        .from
        .as_ref()
        .or(email.sender.as_ref())
        .map(|m| m.address.to_lowercase())
        .unwrap_or_default();
    let content = email.content_digest();
    let mut hasher = Sha256::new();
    for field in [
        from.as_str(),
        date,
        email.subject.as_str(),
        content.as_str(),
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    let hex = hex::encode(hasher.finalize());
    let short = hex.get(..GENERATED_ID_HEX_LEN).unwrap_or(&hex);
    // Hex digits and a domain never make an invalid id; the error keeps this total anyway.
    MessageId::new(&format!("{short}@{GENERATED_ID_DOMAIN}"))
        .ok_or_else(|| ParseError::NotAMessage("cannot derive a Message-ID".to_owned()))
}

/// `text` without U+0000, borrowed when it has none.
fn without_nul(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', ""))
    } else {
        Cow::Borrowed(text)
    }
}

/// Removes U+0000 from every string of `email` that is stored as text: PostgreSQL refuses it
/// (error 22021), and RFC 2047 (`=00`), quoted-printable and base64 all decode to it. Message-IDs
/// are cleaned where they are read; attachment data is bytes and stays as sent. Strings left
/// empty by the removal are treated like empty ones at parse time (no name, no address).
fn remove_nul(email: &mut InboundEmail) {
    fn clean(text: &mut String) {
        if text.contains('\0') {
            text.retain(|c| c != '\0');
        }
    }
    fn clean_trimmed(text: &mut String) {
        if text.contains('\0') {
            *text = text.replace('\0', "").trim().to_owned();
        }
    }
    fn clean_option(text: &mut Option<String>) {
        if let Some(t) = text.as_mut() {
            clean_trimmed(t);
        }
        if text.as_deref().is_some_and(str::is_empty) {
            *text = None;
        }
    }
    fn clean_mailbox(mailbox: &mut Mailbox) {
        clean_option(&mut mailbox.name);
        clean(&mut mailbox.address);
    }
    // Destructured in full, so that a new field cannot be added without deciding about it here.
    let InboundEmail {
        message_id: _,
        message_id_generated: _,
        from,
        sender,
        reply_to,
        to,
        cc,
        // Cleaned where read, before de-duplication: see `delivered_to`.
        delivered_to: _,
        subject,
        date: _,
        in_reply_to: _,
        references: _,
        auto,
        text_body,
        // Read from the cleaned text body, after this.
        new_text: _,
        html_body,
        attachments,
        // One of two fixed strings.
        language: _,
        // A digest: hex digits only.
        source_digest: _,
    } = email;
    from.iter_mut()
        .chain(sender.iter_mut())
        .chain(reply_to.iter_mut())
        .chain(to.iter_mut())
        .chain(cc.iter_mut())
        .for_each(clean_mailbox);
    clean_trimmed(subject);
    clean(text_body);
    if let Some(html) = html_body.as_mut() {
        clean(html);
    }
    let AutoHeaders {
        auto_submitted,
        precedence,
        x_auto_response_suppress,
        x_autoreply,
        x_autorespond,
        x_loop,
        list_id,
        x_failed_recipients,
        return_path,
        is_report: _,
        unusable_from,
    } = auto;
    // Not `clean_option`: `Some("")` is meaningful here (`Return-Path: <>`).
    for value in [
        auto_submitted,
        precedence,
        x_auto_response_suppress,
        x_autoreply,
        x_autorespond,
        list_id,
        x_failed_recipients,
        return_path,
        unusable_from,
    ]
    .into_iter()
    .flatten()
    {
        clean(value);
    }
    x_loop.iter_mut().for_each(clean);
    for attachment in attachments {
        clean_option(&mut attachment.filename);
        clean(&mut attachment.content_type);
        clean_option(&mut attachment.content_id);
    }
}

/// The first `limit` usable addresses of the `name` headers, in order, groups flattened.
fn mailboxes(message: &Message<'_>, name: &HeaderName<'_>, limit: usize) -> Vec<Mailbox> {
    message
        .headers()
        .iter()
        .filter(|h| &h.name == name)
        .filter_map(|h| h.value.as_address())
        .flat_map(|address| address.iter())
        .flat_map(|addr| mailboxes_of(addr.name(), addr.address().unwrap_or_default()))
        .take(limit)
        .collect()
}

/// The mailboxes in one parsed address. Broken headers leave spaces in what mail-parser reads
/// as the address: `Big Bug bb@bug.com` (no angle brackets), `a@x.example b@x.example` (no
/// comma), `jdoe@machine.  example` (RFC 5322 obsolete spacing around dots). People's mailers
/// wrote those, so the addresses in them are recovered rather than the message refused.
fn mailboxes_of(name: Option<&str>, address: &str) -> Vec<Mailbox> {
    if is_usable_address(address) {
        return vec![Mailbox::new(name, address)];
    }
    // Rejoin the pieces that spacing split around `.` and `@`, then sort words from addresses.
    let mut tokens: Vec<String> = Vec::new();
    for word in address.split_whitespace() {
        match tokens.last_mut() {
            Some(last) if last.ends_with(['.', '@']) || word.starts_with(['.', '@']) => {
                last.push_str(word)
            }
            _ => tokens.push(word.to_owned()),
        }
    }
    let (addresses, words): (Vec<String>, Vec<String>) =
        tokens.into_iter().partition(|t| t.contains('@'));
    let addresses: Vec<&String> = addresses.iter().filter(|a| is_usable_address(a)).collect();
    let words = words.join(" ");
    let name = match (name, addresses.len()) {
        (Some(name), _) => Some(name),
        (None, 1) if !words.is_empty() => Some(words.as_str()),
        _ => None,
    };
    addresses
        .into_iter()
        .map(|a| Mailbox::new(name, a))
        .collect()
}

/// `local@domain` with both parts present and nothing a broken header leaves behind (spaces,
/// brackets). Display names alone ("undisclosed-recipients") and bare local parts
/// (`MAILER-DAEMON`) cannot be answered, so they are not addresses for us.
fn is_usable_address(address: &str) -> bool {
    let address = address.trim();
    let clean = !address.contains(|c: char| {
        c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';')
    });
    clean
        && address
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
}

/// The ids written in every `name` header (In-Reply-To, References), in order, unchecked.
fn message_ids<'m>(
    message: &'m Message<'_>,
    name: HeaderName<'static>,
) -> impl DoubleEndedIterator<Item = &'m str> {
    // Collected per header (a few), so that the ids can be walked from either end.
    let lists: Vec<&'m [Cow<'m, str>]> = message
        .header_values(name)
        .filter_map(|value| value.as_text_list())
        .collect();
    lists.into_iter().flatten().map(Cow::as_ref)
}

/// A usable id, without NULs; `None` for what is not one.
fn message_id(text: &str) -> Option<MessageId> {
    MessageId::new(&without_nul(text))
}

/// The References ids, in order, bounded to [`MAX_REFERENCES`]: all of them when there are no
/// more, else the first usable one and the last usable ones.
fn references(message: &Message<'_>) -> Vec<MessageId> {
    let ids = || message_ids(message, HeaderName::References).filter_map(message_id);
    let mut from_newest = ids().rev();
    let mut kept: Vec<MessageId> = from_newest.by_ref().take(MAX_REFERENCES).collect();
    // One more usable id further back: the list is cut, and the root replaces the oldest kept.
    if from_newest.next().is_some()
        && let (Some(oldest), Some(root)) = (kept.last_mut(), ids().next())
    {
        *oldest = root;
    }
    kept.reverse();
    kept
}

/// `Delivered-To` and `X-Original-To`, in header order, lower-cased, without repeats, at most
/// [`MAX_TRACE_VALUES`]. NULs are removed before comparing, so `a\0@x` and `a@x` are one.
fn delivered_to(message: &Message<'_>, raw: &[u8]) -> Vec<String> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut out: Vec<String> = Vec::new();
    for value in raw_values(message, raw, &["Delivered-To", "X-Original-To"]) {
        let address = without_nul(&value)
            .trim_matches(|c: char| c == '<' || c == '>' || c.is_whitespace())
            .to_ascii_lowercase();
        if !address.is_empty() && seen.insert(address.clone()) {
            out.push(address);
            if out.len() == MAX_TRACE_VALUES {
                break;
            }
        }
    }
    out
}

/// `no_usable_sender`: neither From nor Sender held a usable address, see
/// [`AutoHeaders::unusable_from`].
fn auto_headers(message: &Message<'_>, raw: &[u8], no_usable_sender: bool) -> AutoHeaders {
    let first = |name: &str| raw_values(message, raw, &[name]).next();
    AutoHeaders {
        auto_submitted: first("Auto-Submitted"),
        precedence: first("Precedence"),
        x_auto_response_suppress: first("X-Auto-Response-Suppress"),
        x_autoreply: first("X-Autoreply"),
        x_autorespond: first("X-Autorespond"),
        x_loop: raw_values(message, raw, &["X-Loop"])
            .take(MAX_TRACE_VALUES)
            .collect(),
        list_id: first("List-Id"),
        x_failed_recipients: first("X-Failed-Recipients"),
        // The topmost Return-Path is the one the last MTA wrote.
        return_path: first("Return-Path").map(|path| {
            let bare = path.trim_matches(|c: char| c == '<' || c == '>' || c.is_whitespace());
            if bare.is_empty() { String::new() } else { path }
        }),
        is_report: message.content_type().is_some_and(|ct| {
            let subtype = ct.subtype().unwrap_or_default();
            let is = |t: &str, s: &str| {
                ct.ctype().eq_ignore_ascii_case(t) && subtype.eq_ignore_ascii_case(s)
            };
            is("multipart", "report")
                || is("message", "delivery-status")
                || is("message", "disposition-notification")
                || is("message", "feedback-report")
        }),
        unusable_from: if no_usable_sender {
            first("From").or_else(|| first("Sender"))
        } else {
            None
        },
    }
}

/// The language the sender reads, from `Content-Language` or `Accept-Language`
/// ([`crate::domain::language::of_headers`]).
fn language(message: &Message<'_>, raw: &[u8]) -> Option<&'static str> {
    let first = |name: &str| raw_values(message, raw, &[name]).next();
    crate::domain::language::of_headers(
        first("Content-Language").as_deref(),
        first("Accept-Language").as_deref(),
    )
}

/// The values of the top-level headers named `names` (any case), in header order, as written:
/// unfolded and trimmed, not decoded. mail-parser's parsed forms lose what the loop guard needs
/// (`Return-Path: <>` parses to nothing, `List-Id` to an address).
/// Lazy, so that a caller taking the first few does not copy all of them.
fn raw_values<'a>(
    message: &'a Message<'_>,
    raw: &'a [u8],
    names: &'a [&str],
) -> impl Iterator<Item = String> + 'a {
    message
        .headers()
        .iter()
        .filter(|h| {
            names
                .iter()
                .any(|n| h.name.as_str().eq_ignore_ascii_case(n))
        })
        .filter_map(|h| raw.get(h.offset_start as usize..h.offset_end as usize))
        .map(|bytes| {
            // RFC 5322 unfolding: remove the line breaks, keep the whitespace after them.
            let text = String::from_utf8_lossy(bytes);
            text.chars()
                .filter(|c| !matches!(c, '\r' | '\n'))
                .collect::<String>()
                .trim()
                .to_owned()
        })
}

/// Every inline text part, in order, decoded and joined; HTML parts (an HTML-only message, or
/// HTML between texts) are turned into text. `body_text(0)` alone would drop whatever follows
/// an inline picture: Apple Mail sends "text, image, text" as three parts of one body.
fn text_body(message: &Message<'_>, raw: &[u8]) -> String {
    let mut out = String::new();
    for part in message.text_bodies() {
        let text = match (&part.body, part_text(part, raw)) {
            (PartType::Text(_), Some(text)) => text,
            (PartType::Html(_), Some(source)) => Cow::Owned(html::to_text(&source)),
            _ => continue,
        };
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&text);
    }
    out
}

/// [`digest_parts`] over the text and HTML parts as the message carries them, decoded but not
/// converted nor sanitised (see [`InboundEmail::source_digest`]).
fn source_digest(message: &Message<'_>, raw: &[u8], attachments: &[Attachment]) -> String {
    let texts: Vec<Cow<'_, str>> = message
        .text_bodies()
        .filter(|p| matches!(p.body, PartType::Text(_)))
        .filter_map(|p| part_text(p, raw))
        .collect();
    let htmls: Vec<Cow<'_, str>> = message
        .html_bodies()
        .filter(|p| matches!(p.body, PartType::Html(_)))
        .filter_map(|p| part_text(p, raw))
        .collect();
    digest_parts(
        texts.iter().map(|t| t.as_ref()),
        htmls.iter().map(|t| t.as_ref()),
        attachments,
    )
}

/// The HTML body, only when the message has an HTML part: mail-parser also offers the text of
/// a text-only message as its HTML body, which is not HTML anyone wrote. Several inline parts
/// are joined like the text body, plain ones turned into HTML. What is returned, and so
/// stored, is [`html::sanitise`]d: the sender's HTML as written is in the raw message.
fn html_body(message: &Message<'_>, raw: &[u8]) -> Option<String> {
    if !message
        .html_bodies()
        .any(|part| matches!(part.body, PartType::Html(_)))
    {
        return None;
    }
    let mut out = String::new();
    for part in message.html_bodies() {
        match (&part.body, part_text(part, raw)) {
            (PartType::Html(_), Some(html)) => out.push_str(&html),
            (PartType::Text(_), Some(text)) => out.push_str(&text_to_html(&text)),
            _ => {}
        }
    }
    Some(html::sanitise(&out))
}

/// The decoded text of a text or HTML part.
///
/// A part that runs to the end of the message without its closing boundary (a truncated
/// delivery, a DSN cut short) is kept by mail-parser as its encoded source, `=E9t=E9` and
/// all; it is decoded here from the source, with the declared transfer encoding and charset.
fn part_text<'a>(part: &'a MessagePart<'_>, raw: &[u8]) -> Option<Cow<'a, str>> {
    let (PartType::Text(text) | PartType::Html(text)) = &part.body else {
        return None;
    };
    let encoding = source_encoding(part);
    if !part.is_encoding_problem || encoding == Encoding::None {
        return Some(Cow::Borrowed(text.as_ref()));
    }
    let source = raw.get(part.offset_body as usize..part.offset_end as usize)?;
    let decoded = transfer_decode(source, encoding);
    if decoded.is_empty() && !source.trim_ascii().is_empty() {
        // Not decodable after all (base64 with stray characters): keep what mail-parser kept.
        return Some(Cow::Borrowed(text.as_ref()));
    }
    let charset = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .and_then(|name| charset_decoder(name.as_bytes()));
    Some(Cow::Owned(match charset {
        Some(decode) => decode(&decoded),
        None => String::from_utf8_lossy(&decoded).into_owned(),
    }))
}

/// The transfer encoding a part declares. mail-parser resets `MessagePart::encoding` to
/// `None` when it could not find the end of the part, although the source is still encoded.
fn source_encoding(part: &MessagePart<'_>) -> Encoding {
    if !part.is_encoding_problem {
        return part.encoding;
    }
    match part.content_transfer_encoding().map(str::trim) {
        Some(e) if e.eq_ignore_ascii_case("base64") => Encoding::Base64,
        Some(e) if e.eq_ignore_ascii_case("quoted-printable") => Encoding::QuotedPrintable,
        _ => Encoding::None,
    }
}

/// mail-parser's attachments, plus the inline text parts that carry a filename, in message
/// order. Those are shown in the body too, but a named `log.txt` that Apple Mail or Outlook
/// sent `inline` is a file the sender attached, and the agent must be able to save it as one.
fn attachments(message: &Message<'_>, raw: &[u8]) -> Vec<Attachment> {
    let mut ids: Vec<u32> = message.attachments.clone();
    let mut listed: HashSet<u32> = ids.iter().copied().collect();
    for &id in message.text_body.iter().chain(&message.html_body) {
        let named_text = message
            .part(id)
            .is_some_and(|p| p.is_text() && attachment_name(p, raw).is_some());
        if named_text && listed.insert(id) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    ids.iter()
        .filter_map(|&id| message.part(id))
        .map(|part| attachment(part, raw))
        .collect()
}

fn attachment(part: &MessagePart<'_>, raw: &[u8]) -> Attachment {
    let content_type = match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None if ct.ctype().eq_ignore_ascii_case("text") => "text/plain".to_owned(),
            None => "application/octet-stream".to_owned(),
        },
        None if part.is_message() => "message/rfc822".to_owned(),
        // RFC 2045 section 5.2: no Content-Type means text/plain.
        None => "text/plain".to_owned(),
    };
    Attachment {
        filename: attachment_name(part, raw),
        content_type,
        data: attachment_data(part, raw).into_owned(),
        content_id: content_id(part),
    }
}

/// The part's `Content-ID` without its angle brackets and blanks (`cid:` URLs name it so,
/// RFC 2392); `None` when absent or empty.
fn content_id(part: &MessagePart<'_>) -> Option<String> {
    let id = part.content_id()?.trim();
    let id = id.strip_prefix('<').unwrap_or(id);
    let id = id.strip_suffix('>').unwrap_or(id).trim();
    (!id.is_empty()).then(|| id.to_owned())
}

/// The filename (Content-Disposition `filename`, else Content-Type `name`), decoded, as a
/// label that is never a path.
///
/// The two headers are read again from the source, unfolded first: mail-parser loses a
/// parameter folded right after its `=`, which is how Outlook writes long encoded names
/// (`name=\r\n\t"=?iso-8859-1?Q?...?=\r\n =?iso-8859-1?Q?pdf?="`). Whitespace between two
/// encoded words is dropped too, as RFC 2047 section 6.2 asks, so that name ends in `.pdf`,
/// not `. pdf`. mail-parser's own reading is the fallback.
fn attachment_name(part: &MessagePart<'_>, raw: &[u8]) -> Option<String> {
    let reread = |name: HeaderName<'static>, attribute: &str| -> Option<String> {
        let header = part.headers.iter().rev().find(|h| h.name == name)?;
        let value = raw.get(header.offset_start as usize..header.offset_end as usize)?;
        let unfolded: Vec<u8> = value
            .iter()
            .copied()
            .filter(|b| !matches!(b, b'\r' | b'\n'))
            .collect();
        // 8-bit names (raw Latin-1, say) go to mail-parser as they are, for its charset rules.
        let mut unfolded = match String::from_utf8(unfolded) {
            Ok(text) => join_encoded_words(&text).into_bytes(),
            Err(e) => e.into_bytes(),
        };
        unfolded.push(b'\n');
        let parsed = MessageStream::new(&unfolded).parse_content_type();
        parsed
            .as_content_type()?
            .attribute(attribute)
            .map(str::to_owned)
    };
    reread(HeaderName::ContentDisposition, "filename")
        .or_else(|| reread(HeaderName::ContentType, "name"))
        .and_then(|name| clean_filename(&name))
        .or_else(|| part.attachment_name().and_then(clean_filename))
}

/// Removes the whitespace between adjacent RFC 2047 encoded words (`?= =?` -> `?==?`).
fn join_encoded_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(end) = rest.find("?=") {
        let (head, tail) = rest.split_at(end + 2);
        out.push_str(head);
        let after_space = tail.trim_start_matches([' ', '\t']);
        rest = if after_space.len() < tail.len() && after_space.starts_with("=?") {
            after_space
        } else {
            tail
        };
    }
    out.push_str(rest);
    out
}

/// The attachment's bytes as the sender's file held them: transfer encoding undone, nothing
/// else. A nested message is kept whole, as its raw text.
fn attachment_data<'a>(part: &'a MessagePart<'_>, raw: &'a [u8]) -> Cow<'a, [u8]> {
    match &part.body {
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => Cow::Borrowed(bytes.as_ref()),
        PartType::Multipart(_) => Cow::Borrowed(&[]),
        // mail-parser converted text parts to UTF-8 and parsed nested messages; a file keeps
        // its own charset and a forwarded message its own bytes, so read them from the source.
        // Attachments listed by `Message::attachments` are top-level parts, whose offsets
        // point into `raw`.
        PartType::Text(_) | PartType::Html(_) | PartType::Message(_) => {
            match raw.get(part.offset_body as usize..part.offset_end as usize) {
                Some(source) => transfer_decode(source, source_encoding(part)),
                None => Cow::Borrowed(part.contents()),
            }
        }
    }
}

fn transfer_decode(source: &[u8], encoding: Encoding) -> Cow<'_, [u8]> {
    // An empty boundary makes the decoders read to the end of `source`.
    match encoding {
        Encoding::None => Cow::Borrowed(source),
        Encoding::Base64 => MessageStream::new(source).decode_base64_mime(b"").1,
        Encoding::QuotedPrintable => {
            MessageStream::new(source)
                .decode_quoted_printable_mime(b"")
                .1
        }
    }
}

/// A filename is a label, never a path: separators become `_` (`../../x` cannot climb out of
/// a folder it is saved to) and control characters go.
fn clean_filename(name: &str) -> Option<String> {
    let cleaned: String = name
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if matches!(c, '/' | '\\') { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty()).then(|| cleaned.to_owned())
}

#[cfg(test)]
mod tests;
