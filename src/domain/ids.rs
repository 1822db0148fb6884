//! Typed identifiers: offers (tenants), tickets and their public refs, contacts, Message-IDs.
//!
//! Parsing is tolerant where people type (refs in subjects: case, spacing, missing zeros) and
//! strict where machines write (offer codes). A ref parsed from a subject is always paired with
//! the offer code found next to it, so a tag of one offer can never be read as another's.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ticket::TicketKind;

/// An offer's code, which is also its tenant id: every row carries it in its key.
/// Upper-case ASCII letters and digits, 2 to 16 characters, starting with a letter
/// (`SMSU`, `GEFORP`), so it can stand in a subject tag and in a PostgreSQL setting unquoted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    /// Checks an offer code as written in the configuration; the error says what a code must
    /// look like.
    pub fn parse(code: &str) -> Result<Self, String> {
        let ok_len = (2..=16).contains(&code.len());
        let mut chars = code.chars();
        let first_letter = chars.next().is_some_and(|c| c.is_ascii_uppercase());
        let rest_ok = code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if ok_len && first_letter && rest_ok {
            Ok(Self(code.to_owned()))
        } else {
            Err(format!(
                "offer code {code:?} must be 2 to 16 upper-case letters or digits, starting with a letter"
            ))
        }
    }

    /// The code as stored in every row's `tenant_id`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<TenantId> for String {
    fn from(t: TenantId) -> String {
        t.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// Declares a row id: an `i64` the store allocates per offer and table, given its own type so
/// that an article id can never be passed where a quarantine id is expected. Serialised as the
/// bare number (JSON output stays `"id": 3`). The store maps them to SQL integers.
macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

row_id!(
    /// Internal row id of a ticket inside its offer (never shown to people: they see the ref).
    TicketId
);
row_id!(
    /// Internal row id of a contact inside an offer.
    ContactId
);
row_id!(
    /// Row id of an institution (a member university) inside an offer.
    InstitutionId
);
row_id!(
    /// Row id of an article (a message in a ticket) inside an offer.
    ArticleId
);
row_id!(
    /// Number of a quarantined message inside an offer, as operators type it
    /// (`guichet quarantine replay 3`).
    QuarantineId
);
row_id!(
    /// Row id of an outgoing message inside an offer.
    OutboxId
);
row_id!(
    /// Row id of an entry in an offer's event log.
    EventId
);

/// The public reference of a ticket inside its offer: kind letter and number, `I-000042`.
/// Numbers have at least six digits when printed, more once they pass 999 999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TicketRef {
    /// The kind, written as the ref's letter.
    pub kind: TicketKind,
    /// The ticket's number, counted per offer and kind from 1.
    pub number: i64,
}

impl TicketRef {
    /// Parses `I-000042`, `i-42`, `I 42`, `I-  000042` (people retype refs by hand).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let mut chars = s.chars();
        let kind = TicketKind::from_letter(chars.next()?)?;
        let rest = chars.as_str().trim_start();
        let rest = rest.strip_prefix('-').unwrap_or(rest).trim_start();
        if rest.is_empty() || rest.len() > 12 || !rest.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let number: i64 = rest.parse().ok()?;
        (number > 0).then_some(Self { kind, number })
    }
}

impl fmt::Display for TicketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` so that widths in tables (`{:<10}`) apply.
        f.pad(&format!("{}-{:06}", self.kind.letter(), self.number))
    }
}

/// The subject tag of a ticket: `[SMSU I-000042]`.
pub fn subject_tag(offer: &TenantId, r: TicketRef) -> String {
    format!("[{offer} {r}]")
}

/// Finds the refs tagged with `offer`'s code in a subject, in order of appearance.
///
/// Tolerates case and spacing (`[smsu i-42]`, `[ SMSU  I-000042 ]`) but requires the code to be
/// exactly this offer's: `[SMSUX I-1]` or `[GEFORP I-1]` never match `SMSU`.
pub fn find_subject_refs(subject: &str, offer: &TenantId) -> Vec<TicketRef> {
    let mut found = Vec::new();
    let mut rest = subject;
    // Each `]` closes the nearest `[` before it, so a tag inside another bracket
    // (`[Fwd: [SMSU I-000042] Panne]`, `[URGENT [SMSU I-1]`) is still found.
    while let Some(close) = rest.find(']') {
        if let Some(open) = rest[..close].rfind('[') {
            let inner = rest[open + 1..close].trim();
            if let Some(r) = parse_tag_inner(inner, offer)
                && !found.contains(&r)
            {
                found.push(r);
            }
        }
        rest = &rest[close + 1..];
    }
    found
}

fn parse_tag_inner(inner: &str, offer: &TenantId) -> Option<TicketRef> {
    let code = offer.as_str();
    let head = inner.get(..code.len())?;
    if !head.eq_ignore_ascii_case(code) {
        return None;
    }
    let tail = &inner[code.len()..];
    // The code must end here: `SMSUX I-1` is not `SMSU`'s.
    if !tail.starts_with(|c: char| c.is_whitespace() || c == '#' || c == ':') {
        return None;
    }
    let tail = tail.trim_start_matches(|c: char| c.is_whitespace() || c == '#' || c == ':');
    TicketRef::parse(tail)
}

/// A Message-ID without its angle brackets, as mail-parser gives it and as we store it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageId(String);

impl MessageId {
    /// Normalises a header value: strips spaces and angle brackets. Empty ids are refused.
    pub fn new(raw: &str) -> Option<Self> {
        let id = raw
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim();
        (!id.is_empty() && !id.contains(char::is_whitespace)).then(|| Self(id.to_owned()))
    }

    /// One of our own ids: `UNIQUE.guichet@DOMAIN`. Characters a Message-ID cannot hold are
    /// dropped, so this cannot fail.
    pub fn ours(unique: &str, domain: &str) -> Self {
        let keep = |c: &char| !c.is_whitespace() && !matches!(c, '<' | '>' | '@');
        let unique: String = unique.chars().filter(keep).collect();
        let domain: String = domain.chars().filter(keep).collect();
        Self(format!("{unique}.guichet@{domain}"))
    }

    /// The `UNIQUE` part of an id shaped like [`MessageId::ours`] for `domain`. The shape
    /// alone proves nothing (anyone can write it): whether an id is ours is
    /// [`OurIds::is_ours`](super::token::OurIds::is_ours)'s call, which verifies its signature.
    pub fn our_unique(&self, domain: &str) -> Option<&str> {
        self.0.strip_suffix(domain)?.strip_suffix(".guichet@")
    }

    /// The id without brackets, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id with angle brackets, as it is written in a header.
    pub fn bracketed(&self) -> String {
        format!("<{}>", self.0)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn smsu() -> TenantId {
        TenantId::parse("SMSU").unwrap()
    }

    #[test]
    fn offer_codes_are_validated() {
        for ok in ["SMSU", "GEFORP", "A1", "ESUP2024"] {
            assert!(TenantId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "S",
            "smsu",
            "1SMSU",
            "SM SU",
            "SMSU-X",
            "ABCDEFGHIJKLMNOPQ",
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refs_print_with_six_digits() {
        let cases = [
            (TicketKind::Incident, 42, "I-000042"),
            (TicketKind::Request, 1, "R-000001"),
            (TicketKind::Change, 1_234_567, "C-1234567"),
        ];
        for (kind, number, text) in cases {
            assert_eq!(TicketRef { kind, number }.to_string(), text);
        }
    }

    #[test]
    fn refs_and_codes_honour_table_widths() {
        let r = TicketRef {
            kind: TicketKind::Incident,
            number: 42,
        };
        assert_eq!(format!("[{r:<10}]"), "[I-000042  ]");
        assert_eq!(format!("[{:>6}]", smsu()), "[  SMSU]");
        assert_eq!(format!("[{:<8}]", crate::domain::Status::New), "[new     ]");
    }

    #[test]
    fn refs_parse_tolerantly() {
        let i42 = TicketRef {
            kind: TicketKind::Incident,
            number: 42,
        };
        for text in [
            "I-000042",
            "i-000042",
            "I-42",
            "I 42",
            " I - 000042 ",
            "I42",
        ] {
            assert_eq!(TicketRef::parse(text), Some(i42), "{text}");
        }
        for bad in ["X-000042", "I-", "I-0", "I-abc", "I--42", "", "I-4 2"] {
            assert_eq!(TicketRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn subject_tags_match_only_their_offer() {
        let smsu = smsu();
        let i42 = TicketRef {
            kind: TicketKind::Incident,
            number: 42,
        };
        let table: &[(&str, &[TicketRef])] = &[
            ("Re: [SMSU I-000042] panne", &[i42]),
            ("RE: [smsu i-42] panne", &[i42]),
            ("TR: [ SMSU   I-000042 ] panne", &[i42]),
            ("[SMSU #I-000042]", &[i42]),
            ("[SMSUX I-000042] other offer", &[]),
            ("[GEFORP I-000042] other offer", &[]),
            ("[XSMSU I-000042]", &[]),
            ("[SMSU] no ref", &[]),
            ("[SMSU I-000042] and [SMSU I-42] again", &[i42]),
            ("broken [SMSU I-000042", &[]),
            ("Re: [Fwd: [SMSU I-000042] Panne]", &[i42]),
            ("[URGENT [SMSU I-42] ]", &[i42]),
            ("] stray [SMSU I-42]", &[i42]),
            ("", &[]),
        ];
        for (subject, want) in table {
            assert_eq!(&find_subject_refs(subject, &smsu), want, "{subject}");
        }
    }

    #[test]
    fn our_ids_are_recognised_and_always_valid() {
        let id = MessageId::ours("abc <x>", "esup.fr");
        assert_eq!(id.as_str(), "abcx.guichet@esup.fr");
        assert_eq!(id.our_unique("esup.fr"), Some("abcx"));
        assert_eq!(id.our_unique("other.fr"), None);
        assert_eq!(
            MessageId::new("abc@esup.fr").unwrap().our_unique("esup.fr"),
            None
        );
        assert_eq!(MessageId::new(&id.bracketed()), Some(id));
    }

    #[test]
    fn message_ids_lose_their_brackets() {
        assert_eq!(MessageId::new(" <a@b> ").unwrap().as_str(), "a@b");
        assert_eq!(MessageId::new("a@b").unwrap().bracketed(), "<a@b>");
        assert!(MessageId::new("<>").is_none());
        assert!(MessageId::new("a b@c").is_none());
    }

    proptest! {
        #[test]
        fn printed_refs_parse_back(number in 1i64..100_000_000, k in 0usize..3) {
            let kind = [TicketKind::Incident, TicketKind::Request, TicketKind::Change][k];
            let r = TicketRef { kind, number };
            prop_assert_eq!(TicketRef::parse(&r.to_string()), Some(r));
            let subject = format!("Re: {} something", subject_tag(&smsu(), r));
            prop_assert_eq!(find_subject_refs(&subject, &smsu()), vec![r]);
        }

        #[test]
        fn subject_parsing_never_panics(s in "\\PC{0,80}") {
            let _ = find_subject_refs(&s, &smsu());
        }
    }
}
