//! The new text of a reply: what its writer typed, without the message they answered.
//!
//! Owns the rules that tell a person's words from what their mail client added: `>` quoting,
//! the header line that introduces a quote ("On … wrote:", "Le … a écrit :", "Am … schrieb",
//! "El … escribió:", "Il … ha scritto:" and their cousins), Outlook's header block ("From: …
//! Sent: …", "De : … Envoyé : … À : … Objet :") and `-----Original Message-----` separators,
//! the `-- ` signature and "Sent from my iPhone" / "Envoyé de mon iPhone" lines. Pure: text in,
//! text out; the full body is stored beside the result, so a wrong cut loses nothing.
//!
//! The approach is that of GitHub's email_reply_parser and Mailgun's talon, whose test sets
//! (`tests/corpus_replies.rs`) measure it: walk the lines once; a quote header followed by
//! quoted lines removes only those (an inline answer below them is kept), a header followed by
//! unquoted text (Outlook, Gmail's HTML turned into text) ends the reply. A forwarded message is
//! content the writer chose to send, so nothing below its marker is removed.

use std::sync::LazyLock;

use regex::Regex;

/// The text the writer added to `body`: quoted blocks, the headers that introduce them and the
/// trailing signature removed, each line's end whitespace dropped, blank lines around trimmed.
///
/// Returns the whole body (trimmed) when nothing in it looks quoted. Runs in time linear in
/// the body's length, so a 750 KB quote costs what reading it costs.
pub fn new_text(body: &str) -> String {
    let body = body.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = body.split('\n').map(str::trim_end).collect();
    let split = split_reply(&lines);
    let mut reply = split.reply;
    strip_signature(&mut reply);
    if !reply.is_empty() && !split.forwarded.is_empty() {
        reply.push("");
    }
    reply.extend_from_slice(split.forwarded);
    reply.join("\n").trim_matches('\n').to_owned()
}

/// The lines of a body, cut in two.
struct Split<'l, 'a> {
    /// What the writer wrote above (and between) the quotes, signature still in place.
    reply: Vec<&'a str>,
    /// A forwarded message and everything below its marker, kept as it is.
    forwarded: &'l [&'a str],
}

fn split_reply<'l, 'a>(lines: &'l [&'a str]) -> Split<'l, 'a> {
    let mut reply: Vec<&'a str> = Vec::new();
    let mut i = 0;
    while let Some(&line) = lines.get(i) {
        if FORWARD_MARKER.is_match(line) {
            return Split {
                reply,
                forwarded: lines.get(i..).unwrap_or_default(),
            };
        }
        if is_quoted(line) {
            i = after_quoted_block(lines, i);
            continue;
        }
        if MOBILE_SIGNATURE.is_match(line) {
            // The client appends it below what was typed: what follows is the quote.
            break;
        }
        if let Some(header) = quote_header(lines, i) {
            if !header.prefix.is_empty() {
                reply.push(header.prefix);
            }
            let next = after_blank_lines(lines, header.end);
            if lines.get(next).is_some_and(|l| is_quoted(l)) {
                // Bottom-posting or inline answers: drop the quote, keep reading.
                i = next;
                continue;
            }
            break;
        }
        if ORIGINAL_MESSAGE.is_match(line) || starts_header_block(lines, i) {
            // The rule Outlook draws above its header block belongs to the quote.
            while reply
                .last()
                .is_some_and(|l| l.trim().is_empty() || RULE.is_match(l))
            {
                reply.pop();
            }
            break;
        }
        reply.push(line);
        i += 1;
    }
    Split {
        reply,
        forwarded: &[],
    }
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn after_blank_lines(lines: &[&str], mut i: usize) -> usize {
    while lines.get(i).is_some_and(|l| is_blank(l)) {
        i += 1;
    }
    i
}

/// The index after the quoted block starting at `start` and the blank lines that follow it.
///
/// A quoted block may hold a line the client wrapped without its `>` (a long link cut in two, a
/// long line re-wrapped after quoting): an unquoted line right below a quoted line, when the
/// line above was long enough to have been wrapped, or when it is a link or a single word
/// between two quoted lines.
fn after_quoted_block(lines: &[&str], start: usize) -> usize {
    let mut i = start;
    while let Some(&line) = lines.get(i) {
        let above = i.checked_sub(1).and_then(|a| lines.get(a));
        let below_quote = i > start && above.is_some_and(|l| is_quoted(l));
        let wrapped = below_quote
            && (above.is_some_and(|l| l.chars().count() >= WRAPPED_QUOTE_CHARS)
                || lines.get(i + 1).is_some_and(|l| is_quoted(l))
                    && (line.contains("://") || !line.trim().contains(char::is_whitespace)));
        if is_quoted(line) || is_blank(line) || wrapped {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// A quoted line this long was probably re-wrapped by the client, so an unquoted line right
/// below it is its end, not an answer. Clients wrap at 72 to 80 characters; the `> ` prefix
/// and the word carried over leave the cut line at 60 or more (crisp's `email_7`).
const WRAPPED_QUOTE_CHARS: usize = 60;

/// A quote header found at some line: where it ends and what the writer typed before it on
/// its first line (`reply On Wed, … wrote:` keeps `reply`).
struct QuoteHeader<'a> {
    prefix: &'a str,
    /// Index of the first line after the header.
    end: usize,
}

/// Lines a quote header may be wrapped over: clients fold long "On <date>, <name> <address>
/// wrote:" lines, at most twice in the corpus sets (address alone on the second line, `wrote:`
/// on the third).
const MAX_HEADER_LINES: usize = 3;

/// Longer lines are prose, never a header; bounding them keeps the work linear.
const MAX_HEADER_CHARS: usize = 400;

fn quote_header<'a>(lines: &[&'a str], start: usize) -> Option<QuoteHeader<'a>> {
    let first = *lines.get(start)?;
    if is_blank(first) || first.len() > MAX_HEADER_CHARS {
        return None;
    }
    let mut joined = String::new();
    for (offset, line) in lines.iter().skip(start).take(MAX_HEADER_LINES).enumerate() {
        if offset > 0 {
            // A folded header continues on the next line, never after a blank one, and only
            // when its first line already looks like the start of one.
            let folds =
                HEADER_START.is_match(first) || first.contains(|c: char| c.is_ascii_digit());
            // `>:` or `> wrote:` ends some folded headers, and is not a quote.
            let quoted_end = is_quoted(line) && line.trim().chars().count() <= 12;
            if is_blank(line) || is_quoted(line) && !quoted_end || !folds {
                return None;
            }
            joined.push(' ');
        }
        joined.push_str(line.trim());
        let end = start + offset + 1;
        if let Some(found) = ON_WROTE.captures(&joined) {
            let prefix = found.name("prefix").map_or("", |m| m.as_str());
            let prefix = prefix.trim_end_matches(['-', ' ']);
            // Only the first line can carry a prefix; a longer one is not a header's.
            if let Some(prefix) = first.trim().get(..prefix.len()) {
                return Some(QuoteHeader { prefix, end });
            }
            return None;
        }
        if WROTE.is_match(&joined) && looks_like_header(&joined) || DATE_ADDRESS.is_match(&joined) {
            return Some(QuoteHeader { prefix: "", end });
        }
    }
    None
}

/// "Something wrote:" in a sentence is not a header: a real one names a date, an address, or
/// opens with one of the words clients start it with.
fn looks_like_header(text: &str) -> bool {
    text.contains(|c: char| c.is_ascii_digit() || c == '@')
        || HEADER_START.is_match(text)
        || text.starts_with("--")
}

/// The Outlook block: a From (or Date/Sent) field line followed, before any blank line, by
/// another field of a different kind (Sent, To, Subject…). One field alone is prose ("From: the
/// team" in a letter); "Date: … Time: … Address: …" in an invitation is not a header block.
fn starts_header_block(lines: &[&str], start: usize) -> bool {
    let Some(first) = lines.get(start).and_then(|l| field_kind(l)) else {
        return false;
    };
    if !matches!(first, FieldKind::From | FieldKind::Date) {
        return false;
    }
    lines
        .iter()
        .skip(start + 1)
        .take(6)
        .take_while(|l| !is_blank(l))
        .filter_map(|l| field_kind(l))
        .any(|kind| kind != first)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    From,
    Date,
    To,
    Subject,
}

/// The kind of a header field line (`*From:* …`, `De : …`, `Envoyé : …`, `发件人: …`), in the
/// languages of the corpus and of ESUP's members' clients.
fn field_kind(line: &str) -> Option<FieldKind> {
    let name = FIELD.captures(line)?.name("name")?.as_str().trim();
    let name = name.to_lowercase();
    let kind = match name.as_str() {
        "from" | "de" | "von" | "van" | "da" | "fra" | "från" | "od" | "от" | "mittente"
        | "remitente" | "lähettäjä" | "发件人" | "寄件者" | "보낸 사람" | "差出人" => {
            FieldKind::From
        }
        "sent"
        | "date"
        | "envoyé"
        | "envoyé le"
        | "date d'envoi"
        | "gesendet"
        | "datum"
        | "verzonden"
        | "inviato"
        | "enviado"
        | "enviada"
        | "enviado el"
        | "data"
        | "sendt"
        | "skickat"
        | "wysłano"
        | "отправлено"
        | "дата"
        | "fecha"
        | "lähetetty"
        | "发送时间"
        | "日期"
        | "送信日時"
        | "보낸 날짜"
        | "message du" => FieldKind::Date,
        "to" | "à" | "a" | "an" | "aan" | "para" | "per" | "til" | "till" | "do" | "кому"
        | "vastaanottaja" | "收件人" | "宛先" | "받는 사람" | "cc" | "cci" | "copie à"
        | "kopie" => FieldKind::To,
        "subject" | "objet" | "sujet" | "betreff" | "onderwerp" | "oggetto" | "asunto"
        | "assunto" | "emne" | "ämne" | "temat" | "тема" | "aihe" | "主题" | "件名" | "제목" => {
            FieldKind::Subject
        }
        _ => return None,
    };
    Some(kind)
}

/// Removes the signature from the end of `reply`: a `-- ` (or `--`, `__…`) delimiter line and
/// everything below it, and the "Sent from my iPhone" lines mobile clients append.
fn strip_signature(reply: &mut Vec<&str>) {
    trim_blank_end(reply);
    while reply.last().is_some_and(|l| MOBILE_SIGNATURE.is_match(l)) {
        reply.pop();
        trim_blank_end(reply);
    }
    if let Some(delimiter) = reply.iter().position(|l| SIGNATURE_DELIMITER.is_match(l)) {
        reply.truncate(delimiter);
    }
    trim_blank_end(reply);
}

fn trim_blank_end(reply: &mut Vec<&str>) {
    while reply.last().is_some_and(|l| is_blank(l)) {
        reply.pop();
    }
}

/// Compiles one of the patterns below.
#[expect(
    clippy::expect_used,
    reason = "the patterns are literals, each compiled by the unit tests"
)]
fn pattern(source: &str) -> Regex {
    Regex::new(source).expect("a valid literal pattern")
}

/// Words a quote header ends with, before its colon, in the languages clients write them:
/// English, French, Spanish, Catalan, Portuguese, German, Dutch, the Scandinavian languages,
/// Polish, Czech, Hungarian, Finnish, Russian, Ukrainian, Turkish, Greek, Vietnamese, Chinese,
/// Korean, Japanese.
const WROTE_WORDS: &str = "wrote|sent|a [ée]crit|escribi[óo]|ha escrit|escreveu|schrieb|\
    schreef|geschreven|skrev|napisa[łl](?:a|\\(a\\))?|pisze|napsal|ha scritto|scrisse|írta|kirjoitti|\
    написал[аи]?|написав|пишет|yazdı|έγραψε|đã viết|写道|작성|のメッセージ";

/// The English header, which may share its line with the end of the reply (`reply On …`).
static ON_WROTE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"(?i)^(?P<prefix>.*?)(?:^|[\s-])(?-i:On)\s.*\d.*\s(?:wrote|sent)\s*:\s*$|^On\s.*\s(?:wrote|sent)\s*:\s*$|^On\s.*\d.*@.*\swrote\s*$",
    )
});

/// Any header ending in a "wrote" word and a colon (or dashes: `---- John wrote ----`); German
/// Dutch and the Scandinavian languages put the name after it (`Am … schrieb Test user:`).
static WROTE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(&format!(
        r"(?i)(?:{WROTE_WORDS})\s*(?:[:：]|-{{2,}})\s*$|(?:schrieb|schreef|skrev)\s[^:：]{{1,80}}[:：]\s*$"
    ))
});

/// Words a folded quote header starts with ("On", "Le", "El", "Am", "W dniu", …), or a date.
static HEADER_START: LazyLock<Regex> = LazyLock::new(|| {
    pattern(r"(?i)^\s*[-*]*\s*(?:on|le|el|em|am|op|il|w dniu|dnia|den|på|d\.|vào|在|\d)(?:\s|\d|$)")
});

/// The headers that name a date and an address but no "wrote" word, in any language: Gmail's
/// `2014-03-20 8:48 GMT+01:00 Name <a@b>:`, Yandex's `26.06.2014, 14:41, "Name" <a@b>:`,
/// Mail.ru's `Thu, 26 Jun 2014 14:00:51 +0400 от Name <a@b>:`.
static DATE_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"^\s*\d{4}[-/.]\s*\d{1,2}[-/.]\s*\d{1,2}\b.*@.*[>:：]\s*$|\d{1,2}[:.]\d{2}\b.*<[^<>\s]+@[^<>\s]+>\s*[:：]\s*$",
    )
});

/// Outlook's and Zimbra's separators: `-----Original Message-----`, `----- Mail original -----`,
/// `-----Message d'origine-----`, `-----Ursprüngliche Nachricht-----`, …
static ORIGINAL_MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"(?i)^\s*[-=_*]{2,}\s*(?:original message|reply message|message d'origine|message original|mail original|ursprüngliche nachricht|original-nachricht|antwort nachricht|oprindelig meddelelse|oprindelig besked|opprinnelig melding|originalt meddelande|mensaje original|messaggio originale|mensagem original|oorspronkelijk bericht|alkuperäinen viesti|wiadomość oryginalna|původní zpráva|исходное сообщение|原始邮件)\s*[-=_*]*\s*$",
    )
});

/// The marker of a forwarded message, whose content is kept.
static FORWARD_MARKER: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"(?i)^\s*[-=_*]*\s*(?:forwarded message|begin forwarded message|message transféré|début du message (?:réexpédié|transféré)|weitergeleitete nachricht|mensaje reenviado|messaggio inoltrato|mensagem encaminhada)\s*:?\s*[-=_*]*\s*$",
    )
});

/// A header field line: a short name, then a colon (`*From:*`, `De :`, `发件人：`).
static FIELD: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"^\s*\**\s*(?P<name>[\p{L}' ]{1,20}?)\s*\**\s*[:：]"));

/// A horizontal rule of dashes, underscores or equals signs, alone on its line.
static RULE: LazyLock<Regex> = LazyLock::new(|| pattern(r"^\s*(?:-{3,}|_{3,}|={3,})\s*$"));

/// The signature delimiter of RFC 3676 section 4.3 (`-- `, often sent as `--`) and the
/// underscore line mailing lists put above their footer.
static SIGNATURE_DELIMITER: LazyLock<Regex> = LazyLock::new(|| pattern(r"^(?:--\s*|_{2,})$"));

/// The line mobile clients append: "Sent from my iPhone", "Envoyé de mon iPhone", "Get Outlook
/// for iOS", … A sentence ("Sent from my desk, is much easier …") has punctuation and stays.
static MOBILE_SIGNATURE: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"(?i)^\s*(?:sent (?:from|with|via) [^,.;:!?<]{1,50}|get outlook for (?:ios|android)|envoyé (?:de|depuis|à partir de) [^,.;:!?<]{1,50}|obtenir outlook pour (?:ios|android)|von meinem [^,.;:!?]{1,50} gesendet|gesendet (?:von|mit) [^,.;:!?<]{1,50}|enviado desde [^,.;:!?]{1,50}|inviato da [^,.;:!?]{1,50}|verzonden (?:met|vanaf) [^,.;:!?<]{1,50})(?:\s*<\S*>)?\s*$",
    )
});

#[cfg(test)]
mod tests {
    use super::*;

    /// (what the case shows, body, expected new text)
    const CASES: &[(&str, &str, &str)] = &[
        (
            "plain text is kept whole",
            "Bonjour,\n\nmerci.\n",
            "Bonjour,\n\nmerci.",
        ),
        (
            "gmail english header and quote",
            "Thanks!\n\nOn Tue, Mar 1, 2011 at 6:02 PM, Bob <bob@example.com> wrote:\n> hi\n",
            "Thanks!",
        ),
        (
            "gmail french header",
            "Merci, c'est réglé.\n\nLe 19 mars 2014 10:37, Cédric <cedric@example.fr> a écrit :\n> Bonjour\n",
            "Merci, c'est réglé.",
        ),
        (
            "thunderbird french header without quote marks",
            "Ça marche.\n\nLe 19/03/2014 11:34, Georges du chemin a écrit :\nBonjour, le service est en panne.\n",
            "Ça marche.",
        ),
        (
            "outlook french header block",
            "Voici le fichier.\n\nDe : Jean Dupont [mailto:jean@univ.example]\nEnvoyé : vendredi 23 janvier 2015 16:39\nÀ : Support\nObjet : Panne\n\nBonjour\n",
            "Voici le fichier.",
        ),
        (
            "outlook english block under a rule",
            "Done.\n\n________________________________\nFrom: Ann <ann@example.com>\nSent: Monday\nTo: Bob\nSubject: x\n\nold text\n",
            "Done.",
        ),
        (
            "outlook french separator",
            "Vu.\n\n-----Message d'origine-----\nDe : X\nancien texte\n",
            "Vu.",
        ),
        (
            "zimbra french separator",
            "D'accord.\n\n----- Mail original -----\nDe: X\n",
            "D'accord.",
        ),
        (
            "german header",
            "Danke.\n\nAm 25.06.2015 um 10:55 schrieb Test user:\n> Hallo\n",
            "Danke.",
        ),
        (
            "spanish header",
            "Gracias.\n\nEl 19/03/2014 11:34, Juan <juan@example.com> escribió:\n> Hola\n",
            "Gracias.",
        ),
        (
            "italian header",
            "Grazie.\n\nIl giorno 19/03/2014 11:34, Mario <mario@example.it> ha scritto:\n> Ciao\n",
            "Grazie.",
        ),
        (
            "header folded over two lines",
            "Ok\n\nOn Fri, May 6, 2011 at 6:03 PM, Roman from Hacker News\n<roman@example.com> wrote:\n\n> Test.\n",
            "Ok",
        ),
        (
            "header sharing its line with the reply",
            "reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:\n> Hi\n",
            "reply",
        ),
        (
            "inline answers between quotes are kept",
            "On Tue, Mar 1, 2011 at 6:02 PM, Bob wrote:\n> question one\n\nanswer one\n\n> question two\n\nanswer two\n",
            "answer one\n\nanswer two",
        ),
        (
            "rfc 3676 signature",
            "Merci.\n\n-- \nJean Dupont\nUniversité\n",
            "Merci.",
        ),
        (
            "envoyé de mon iphone",
            "Oui.\n\nEnvoyé de mon iPhone\n",
            "Oui.",
        ),
        (
            "sent from my iphone above a quote",
            "Yes.\n\nSent from my iPhone\n\nOn Mar 1, 2011, at 6:02 PM, Bob <b@example.com> wrote:\n\n> hi\n",
            "Yes.",
        ),
        (
            "a sentence starting with sent from stays",
            "Hi\n\nSent from my desk, is much easier then my mobile phone.",
            "Hi\n\nSent from my desk, is much easier then my mobile phone.",
        ),
        (
            "something wrote in prose is not a header",
            "Something wrote:\nhello\n",
            "Something wrote:\nhello",
        ),
        (
            "a line starting with on is not a header",
            "Blah\nOn blah-blah-blah",
            "Blah\nOn blah-blah-blah",
        ),
        (
            "an invitation's date and time are not a header block",
            "Invitation:\n\nDate: Wednesday 3, October 2011\nTime: 7 : 00am\n\nBring your ID.",
            "Invitation:\n\nDate: Wednesday 3, October 2011\nTime: 7 : 00am\n\nBring your ID.",
        ),
        (
            "a forwarded message is kept",
            "FYI\n\n---------- Forwarded message ----------\nFrom: bob@example.com\nDate: Tue\nTo: rob@example.com\n\nText",
            "FYI\n\n---------- Forwarded message ----------\nFrom: bob@example.com\nDate: Tue\nTo: rob@example.com\n\nText",
        ),
        (
            "french forwarded message is kept",
            "Pour info\n\n-------- Message transféré --------\nSujet : x\n\nTexte",
            "Pour info\n\n-------- Message transféré --------\nSujet : x\n\nTexte",
        ),
        (
            "crlf line ends",
            "Hi\r\n\r\nOn Tue, Mar 1, 2011, Bob <b@example.com> wrote:\r\n> x\r\n",
            "Hi",
        ),
        (
            "zimbra french header after a dash",
            "Bonjour,\n\nMichel\n\n- Le 2021-04-09 23:25, Toby a écrit :\n> Bonjour\n",
            "Bonjour,\n\nMichel",
        ),
        (
            "french header block opened by message du",
            "Merci.\n\n====\n\nMessage du : 12/12/2016 13:20\nDe : \"Support\" <s@example.fr>\nA : moi@example.fr\nSujet : x\n\nold",
            "Merci.",
        ),
        (
            "polish header with napisał(a)",
            "Dzięki.\n\nDnia 27 grudnia 2016 12:08 Firma <q@example.com> napisał(a):\n\nstary tekst\n",
            "Dzięki.",
        ),
        (
            "russian date and address header without a wrote word",
            "Да.\n\nср, 30 апр. 2025 г. в 15:19, John Doe <doe@example.com>:\n\nпривет\n",
            "Да.",
        ),
        (
            "outlook mobile signature with its link, quote below unmarked",
            "Ok pour moi.\n\nEnvoyé à partir de Outlook pour iOS<https://aka.ms/o0ukef>\n\nancien message\n",
            "Ok pour moi.",
        ),
        (
            "a quoted line the client re-wrapped stays in the quote",
            "Oui.\n\nOn Thu, Dec 8, 2016, Bob <b@example.com> wrote:\n> Lorem ipsum dolor sit amet, consectetur adipiscing elit, pharetra d\nignissim odio?\n>\n",
            "Oui.",
        ),
        (
            "danish separator",
            "Tak.\n\n-------- Oprindelig besked --------\nFra: x\n",
            "Tak.",
        ),
        (
            "from in a sentence is not a header block",
            "The data comes From: our database, not From: external sources.",
            "The data comes From: our database, not From: external sources.",
        ),
        ("empty body", "", ""),
    ];

    #[test]
    fn new_text_keeps_only_what_the_writer_added() {
        let failures: Vec<String> = CASES
            .iter()
            .filter(|(_, body, expected)| new_text(body) != *expected)
            .map(|(name, body, expected)| {
                format!("{name}: expected {expected:?}, got {:?}", new_text(body))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn every_pattern_compiles() {
        for regex in [
            &ON_WROTE,
            &WROTE,
            &HEADER_START,
            &DATE_ADDRESS,
            &ORIGINAL_MESSAGE,
            &FORWARD_MARKER,
            &FIELD,
            &RULE,
            &SIGNATURE_DELIMITER,
            &MOBILE_SIGNATURE,
        ] {
            LazyLock::force(regex);
        }
    }
}
