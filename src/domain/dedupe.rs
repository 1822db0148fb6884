//! The dedupe rule: which key a message is recorded under inside its offer, and whether it is
//! a copy of a message taken in before.
//!
//! The key is the Message-ID, whatever the channel (the same mail delivered by the pipe and
//! found in the Maildir is one message). A Message-ID seen before with other content is not a
//! copy: some clients and scripts reuse ids, so such a message gets its own key (the id plus
//! the first 16 hex digits of its content digest) and is stored rather than lost.
//!
//! Pure: the service looks the receipts up and records the outcome.

use super::{MessageId, TicketId};

/// Hex digits of the content digest appended to a reused Message-ID: 64 bits, enough to tell
/// the few messages that share one id apart.
const SUFFIX_DIGITS: usize = 16;

/// An earlier receipt, as the rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen<'a> {
    /// The content digest of the message recorded under that key.
    pub content_sha256: &'a str,
    /// The ticket it went into, if any (a refused message has none).
    pub ticket: Option<TicketId>,
}

/// What to do with a message, given the receipts under its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A new message: record it under `key`. `id_reused` when its Message-ID was taken by a
    /// message with other content (worth a warning: the sender reuses ids).
    Record {
        /// The key to record it under: [`key_for`] its id, or the [`suffixed_key`] when the
        /// id was taken.
        key: String,
        /// Its Message-ID is already recorded with other content.
        id_reused: bool,
    },
    /// A copy of a message taken in before, into `ticket` if it went into one.
    Duplicate {
        /// The ticket the first copy went into; `None` when it went into none (it was
        /// refused).
        ticket: Option<TicketId>,
    },
}

/// The key of a message inside its offer: `mid:` and its Message-ID.
pub fn key_for(message_id: &MessageId) -> String {
    format!("mid:{message_id}")
}

/// The key of a message whose Message-ID was reused with other content.
pub fn suffixed_key(key: &str, digest: &str) -> String {
    // A digest is 64 hex digits; `get` keeps this total should it ever be shorter.
    let suffix = digest.get(..SUFFIX_DIGITS).unwrap_or(digest);
    format!("{key}#{suffix}")
}

/// Decides on a message with Message-ID key `key` and content `digest`, from the receipt under
/// that key (`by_id`) and the one under its [`suffixed_key`] (`by_suffixed`, only looked at
/// when the id was taken by other content).
pub fn decide(key: &str, digest: &str, by_id: Option<Seen>, by_suffixed: Option<Seen>) -> Decision {
    let Some(seen) = by_id else {
        return Decision::Record {
            key: key.to_owned(),
            id_reused: false,
        };
    };
    if seen.content_sha256 == digest {
        return Decision::Duplicate {
            ticket: seen.ticket,
        };
    }
    // The suffix is the digest itself: a receipt under it is this content again.
    match by_suffixed {
        Some(seen) => Decision::Duplicate {
            ticket: seen.ticket,
        },
        None => Decision::Record {
            key: suffixed_key(key, digest),
            id_reused: true,
        },
    }
}

/// The ticket a copy of this message (same content) went into, from the receipts under its
/// two keys; the suffixed one first, since it can only hold this content.
pub fn ticket_of_copy(
    digest: &str,
    by_id: Option<Seen>,
    by_suffixed: Option<Seen>,
) -> Option<TicketId> {
    [by_suffixed, by_id]
        .into_iter()
        .flatten()
        .find(|seen| seen.content_sha256 == digest)
        .and_then(|seen| seen.ticket)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaa0123456789abcdef0123456789abcdef0123456789abcdef";
    const B: &str = "bbbbbbbbbbbbbbbb0123456789abcdef0123456789abcdef0123456789abcdef";

    fn seen(content_sha256: &str, ticket: Option<TicketId>) -> Option<Seen<'_>> {
        Some(Seen {
            content_sha256,
            ticket,
        })
    }

    #[test]
    fn key_is_the_message_id_and_a_reused_id_gets_the_digest_prefix() {
        let id = MessageId::new("<abc@univ.fr>").unwrap();
        assert_eq!(key_for(&id), "mid:abc@univ.fr");
        assert_eq!(
            suffixed_key("mid:abc@univ.fr", A),
            "mid:abc@univ.fr#aaaaaaaaaaaaaaaa"
        );
        assert_eq!(suffixed_key("mid:x", "abc"), "mid:x#abc", "short digest");
    }

    #[test]
    fn copies_are_duplicates_and_reused_ids_are_new_messages() {
        let record = |key: &str, id_reused| Decision::Record {
            key: key.to_owned(),
            id_reused,
        };
        let dup = |ticket| Decision::Duplicate { ticket };
        // (name, digest, by id, by suffixed, decision)
        let table = [
            ("first time", A, None, None, record("mid:m", false)),
            (
                "same content again",
                A,
                seen(A, Some(TicketId(7))),
                None,
                dup(Some(TicketId(7))),
            ),
            (
                "copy of a refused message",
                A,
                seen(A, None),
                None,
                dup(None),
            ),
            (
                "id reused with other content",
                B,
                seen(A, Some(TicketId(7))),
                None,
                record("mid:m#bbbbbbbbbbbbbbbb", true),
            ),
            (
                "copy of the message that reused the id",
                B,
                seen(A, Some(TicketId(7))),
                seen(B, Some(TicketId(9))),
                dup(Some(TicketId(9))),
            ),
            (
                "a suffixed receipt alone changes nothing",
                A,
                None,
                seen(A, Some(TicketId(9))),
                record("mid:m", false),
            ),
        ];
        for (name, digest, by_id, by_suffixed, want) in table {
            assert_eq!(decide("mid:m", digest, by_id, by_suffixed), want, "{name}");
        }
    }

    #[test]
    fn ticket_of_copy_needs_the_same_content() {
        // (name, digest, by id, by suffixed, ticket)
        let table = [
            ("nothing seen", A, None, None, None),
            (
                "copy under the id",
                A,
                seen(A, Some(TicketId(1))),
                None,
                Some(TicketId(1)),
            ),
            (
                "other content under the id",
                A,
                seen(B, Some(TicketId(1))),
                None,
                None,
            ),
            (
                "copy under the suffixed key",
                B,
                seen(A, Some(TicketId(1))),
                seen(B, Some(TicketId(2))),
                Some(TicketId(2)),
            ),
            ("copy without a ticket", A, seen(A, None), None, None),
        ];
        for (name, digest, by_id, by_suffixed, want) in table {
            assert_eq!(ticket_of_copy(digest, by_id, by_suffixed), want, "{name}");
        }
    }
}
