//! Who our mail goes to, and what it may carry: our own support addresses are never people,
//! answers go to the sender, and every header we write stays within what an SMTP server
//! accepts.
//!
//! Our own addresses (the support addresses of *every* offer, plus-addresses included) are
//! never a contact, a participant or a recipient: a Reply-To or Cc naming another offer's
//! address would otherwise mail one offer's private replies into another offer's ticket, and
//! an acknowledgement coming back would make us write to ourselves.

use std::collections::HashSet;

use super::message::Mailbox;
use super::routing::split_plus;

/// Outgoing subjects are cut to this many characters: RFC 5322 limits a header line to 998
/// octets, and an attacker's 10 kB subject must not be echoed back whole in our
/// acknowledgement. 200 characters is longer than any subject a person writes.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// References ids kept in the mail we send: the thread's root and the newest ones, as mail
/// clients trim them (a reference chain grows by one id per message of a thread).
pub const MAX_REFERENCES: usize = 20;

/// The support addresses of every offer, lower-cased, compared on their base address
/// (`support-smsu+I-000042@x.fr` is `support-smsu@x.fr`).
#[derive(Debug, Clone, Default)]
pub struct OwnAddresses(HashSet<String>);

impl OwnAddresses {
    /// The support addresses of every offer, each kept as its lower-cased base address.
    pub fn new<'a>(addresses: impl IntoIterator<Item = &'a str>) -> Self {
        Self(addresses.into_iter().map(|a| split_plus(a).0).collect())
    }

    /// Whether `address` is one of ours, plus-address or not.
    pub fn contains(&self, address: &str) -> bool {
        self.0.contains(&split_plus(address).0)
    }
}

/// Where an answer to a message goes: its sender (From, else Sender). A Reply-To is followed
/// only when it stays in the sender's domain (a person's own other address, a team list of
/// the same university); one naming another domain could make us mail an attacker's text to
/// any third party. `None` when the sender is one of our own addresses.
pub fn reply_target(sender: &Mailbox, reply_to: &[Mailbox], own: &OwnAddresses) -> Option<Mailbox> {
    if own.contains(&sender.address) {
        return None;
    }
    let same_domain = |m: &&Mailbox| {
        let (a, b) = (m.domain(), sender.domain());
        !a.is_empty() && (a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}")))
    };
    reply_to
        .iter()
        .filter(|m| !own.contains(&m.address))
        .find(same_domain)
        .cloned()
        .or_else(|| Some(sender.clone()))
}

/// The recipients of a mail we queue: without our own addresses and without repeats, in order.
pub fn outbound_recipients(to: &[Mailbox], own: &OwnAddresses) -> Vec<Mailbox> {
    let mut seen = HashSet::new();
    to.iter()
        .filter(|m| !own.contains(&m.address) && seen.insert(m.address.clone()))
        .cloned()
        .collect()
}

/// The References to send, oldest first: at most [`MAX_REFERENCES`], the first id (the
/// thread's root) and the newest ones.
pub fn trim_references<T: Clone>(ids: &[T]) -> Vec<T> {
    if ids.len() <= MAX_REFERENCES {
        return ids.to_vec();
    }
    let mut out = Vec::with_capacity(MAX_REFERENCES);
    out.push(ids[0].clone());
    out.extend_from_slice(&ids[ids.len() - (MAX_REFERENCES - 1)..]);
    out
}

/// `subject` on one line, cut to [`MAX_SUBJECT_CHARS`] characters (never inside a
/// character), with `…` marking a cut.
pub fn cut_subject(subject: &str) -> String {
    let one_line: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one_line = one_line.trim();
    if one_line.chars().nth(MAX_SUBJECT_CHARS).is_none() {
        return one_line.to_owned();
    }
    let at = one_line
        .char_indices()
        .nth(MAX_SUBJECT_CHARS - 1)
        .map_or(one_line.len(), |(at, _)| at);
    format!("{}…", &one_line[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own() -> OwnAddresses {
        OwnAddresses::new(["support-smsu@esup.fr", "Support-GEFORP@esup.fr"])
    }

    fn m(address: &str) -> Mailbox {
        Mailbox::new(None, address)
    }

    #[test]
    fn own_addresses_match_whatever_the_case_and_plus_part() {
        let table = [
            ("support-smsu@esup.fr", true),
            ("SUPPORT-SMSU@ESUP.FR", true),
            ("support-smsu+I-000042@esup.fr", true),
            ("support-geforp+r@esup.fr", true),
            ("support-smsu@esup.fr.evil.org", false),
            ("alice@univ.fr", false),
            ("support@esup.fr", false),
        ];
        for (address, ours) in table {
            assert_eq!(own().contains(address), ours, "{address}");
        }
    }

    #[test]
    fn answers_go_to_the_sender_or_a_reply_to_of_its_domain() {
        let alice = m("alice@univ-rennes.fr");
        let table: [(&Mailbox, &[&str], Option<&str>); 7] = [
            (&alice, &[], Some("alice@univ-rennes.fr")),
            (
                &alice,
                &["a.martin@univ-rennes.fr"],
                Some("a.martin@univ-rennes.fr"),
            ),
            (
                &alice,
                &["equipe@dsi.univ-rennes.fr"],
                Some("equipe@dsi.univ-rennes.fr"),
            ),
            (&alice, &["victim@other.org"], Some("alice@univ-rennes.fr")),
            (
                &alice,
                &["support-geforp@esup.fr"],
                Some("alice@univ-rennes.fr"),
            ),
            (
                &alice,
                &["victim@other.org", "alice2@univ-rennes.fr"],
                Some("alice2@univ-rennes.fr"),
            ),
            (&m("support-smsu+x@esup.fr"), &["bob@univ.fr"], None),
        ];
        for (sender, reply_to, want) in table {
            let reply_to: Vec<Mailbox> = reply_to.iter().map(|a| m(a)).collect();
            let got = reply_target(sender, &reply_to, &own());
            assert_eq!(
                got.map(|g| g.address),
                want.map(str::to_owned),
                "{sender:?} {reply_to:?}"
            );
        }
    }

    #[test]
    fn our_addresses_and_repeats_are_never_recipients() {
        let to = [
            m("alice@univ.fr"),
            m("support-smsu@esup.fr"),
            m("ALICE@univ.fr"),
            m("support-geforp+c@esup.fr"),
            m("bob@univ.fr"),
        ];
        let got: Vec<String> = outbound_recipients(&to, &own())
            .into_iter()
            .map(|m| m.address)
            .collect();
        assert_eq!(got, ["alice@univ.fr", "bob@univ.fr"]);
    }

    #[test]
    fn references_keep_the_root_and_the_newest() {
        let ids: Vec<u32> = (0..100).collect();
        let kept = trim_references(&ids);
        assert_eq!(kept.len(), MAX_REFERENCES);
        assert_eq!(kept[0], 0);
        assert_eq!(kept[1], 100 - (MAX_REFERENCES as u32 - 1));
        assert_eq!(*kept.last().unwrap(), 99);
        let few: Vec<u32> = (0..5).collect();
        assert_eq!(trim_references(&few), few);
    }

    #[test]
    fn subjects_are_cut_on_a_character_boundary() {
        let long = "é".repeat(5000);
        let cut = cut_subject(&long);
        assert_eq!(cut.chars().count(), MAX_SUBJECT_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(cut_subject("  Panne\r\nBcc: x  "), "Panne  Bcc: x");
        let exact = "a".repeat(MAX_SUBJECT_CHARS);
        assert_eq!(cut_subject(&exact), exact);
        let over = "a".repeat(MAX_SUBJECT_CHARS + 1);
        assert_eq!(cut_subject(&over).chars().count(), MAX_SUBJECT_CHARS);
    }
}
