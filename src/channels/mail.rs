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
use mail_parser::decoders::html::{html_to_text, text_to_html};
use mail_parser::parsers::MessageStream;
use mail_parser::{
    Encoding, HeaderName, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};
use sha2::{Digest, Sha256};

use crate::domain::{Attachment, AutoHeaders, InboundEmail, Mailbox, MessageId};

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
    std::panic::catch_unwind(|| parse_message(skip_blank_lines(raw)))
        .unwrap_or(Err(ParseError::ParserFailed))
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
    if from.is_none() && sender.is_none() {
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
        auto: auto_headers(message, raw),
        text_body: text_body(message, raw),
        html_body: html_body(message, raw),
        attachments: attachments(message, raw),
    };
    remove_nul(&mut email);
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
        html_body,
        attachments,
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

fn auto_headers(message: &Message<'_>, raw: &[u8]) -> AutoHeaders {
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
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        }),
    }
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
            (PartType::Html(_), Some(html)) => Cow::Owned(html_to_text(&html)),
            _ => continue,
        };
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&text);
    }
    out
}

/// The HTML body, only when the message has an HTML part: mail-parser also offers the text of
/// a text-only message as its HTML body, which is not HTML anyone wrote. Several inline parts
/// are joined like the text body, plain ones turned into HTML.
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
    Some(out)
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
    }
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A message written with `\n`, sent with CRLF as on the wire.
    fn eml(text: &str) -> Vec<u8> {
        text.replace('\n', "\r\n").into_bytes()
    }

    fn ok(text: &str) -> InboundEmail {
        match parse(&eml(text)) {
            Ok(email) => email,
            Err(e) => panic!("expected a message, got {e}:\n{text}"),
        }
    }

    fn id(s: &str) -> MessageId {
        MessageId::new(s).unwrap()
    }

    const SIMPLE: &str = "\
Return-Path: <Alice@Univ-Rennes.example>
Delivered-To: Support-SMSU@esup-portail.example
X-Original-To: support-smsu@esup-portail.example
Message-ID: <abc.123@univ-rennes.example>
Date: Tue, 04 Mar 2025 10:15:00 +0100
From: Alice Martin <Alice.Martin@Univ-Rennes.example>
To: Support SMSU <support-smsu@esup-portail.example>
Cc: bob@univ-rennes.example, \"Carol\" <carol@univ-rennes.example>
Reply-To: alice.perso@example.org
Subject: Envoi SMS en panne
Content-Type: text/plain; charset=utf-8

Bonjour,
les SMS ne partent plus.
";

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

    /// The derived id, computed the documented way.
    fn derived_id(from: &str, date: &str, subject: &str, e: &InboundEmail) -> String {
        let mut lf = e.clone();
        lf.text_body = lf.text_body.replace("\r\n", "\n");
        lf.html_body = lf.html_body.map(|h| h.replace("\r\n", "\n"));
        let mut h = Sha256::new();
        for field in [from, date, subject, lf.content_digest().as_str()] {
            h.update((field.len() as u64).to_be_bytes());
            h.update(field.as_bytes());
        }
        let hex = hex::encode(h.finalize());
        format!("{}@generated.guichet.invalid", &hex[..32])
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
                "from without domain",
                b"From: MAILER-DAEMON\nSubject: hi\n\nbody\n",
                "no sender",
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
        assert_eq!(
            e.html_body.as_deref().map(str::trim_end),
            Some("<p>Caf&eacute; cass&eacute;</p>")
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

    const WITH_ATTACHMENTS: &str = "\
From: a@x.example
Subject: pieces jointes
Content-Type: multipart/mixed; boundary=\"sep\"

--sep
Content-Type: text/plain; charset=utf-8

Voir les pièces jointes.
--sep
Content-Type: application/pdf; name=\"ignored.pdf\"
Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20sign%C3%A9.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--sep
Content-Type: text/plain; charset=iso-8859-1; name=\"=?iso-8859-1?Q?notes_=E9t=E9.txt?=\"
Content-Disposition: attachment
Content-Transfer-Encoding: quoted-printable

caf=E9
--sep
Content-Type: image/png
Content-Disposition: attachment; filename=\"../../etc/passwd\"
Content-Transfer-Encoding: base64

iVBORw0K
--sep
Content-Type: message/rfc822

From: b@y.example
Subject: forwarded
Content-Type: multipart/mixed; boundary=inner

--inner
Content-Type: text/plain

inner text
--inner
Content-Type: application/zip; name=inner.zip
Content-Transfer-Encoding: base64

UEsDBA==
--inner--
--sep--
";

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

    /// `n` ids `<r{i}@x.example>`, folded one per line.
    fn reference_list(n: usize) -> String {
        (0..n)
            .map(|i| format!("<r{i}@x.example>"))
            .collect::<Vec<_>>()
            .join("\r\n ")
    }

    fn ids_of(list: &[MessageId]) -> Vec<&str> {
        list.iter().map(MessageId::as_str).collect()
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
        /// never panic, and whatever parses has a sender and an id.
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
                prop_assert!(e.from.is_some() || e.sender.is_some());
                prop_assert!(!e.message_id.as_str().is_empty());
            }
        }
    }
}
