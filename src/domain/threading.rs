//! Which ticket an inbound message belongs to: the first rule set.
//!
//! Precedence: (0) a reply token that verifies for this offer and this sender
//! ([`super::token`]), or a parent Message-ID of ours sent to this very sender: the token
//! *is* the entitlement, since only that recipient was given it;
//! (1) In-Reply-To/References naming a Message-ID stored in the same offer,
//! (2) the offer's subject tag `[SMSU I-000042]`, each only when the sender is entitled to
//! that ticket ([`entitled`]: a participant, an agent of the offer, or a contact of its
//! institution that the configuration lists), otherwise (3) a new ticket, linked as "possibly
//! related" to the ticket it pointed at: knowing a Message-ID or a ref is not a key, both leak
//! through forwards and archives, so neither lets a stranger into someone else's ticket.
//! Machine-written mail (a bounce, an out-of-office) answering one of *our* messages is the
//! exception: it threads by header whoever sent it ([`may_thread_by_header`]),
//! since it can neither reopen the ticket nor join it nor be answered. A forwarded mail never
//! threads by its tag ([`may_thread_by_tag`]): the tag is that of the mail forwarded.
//!
//! Who else joins the ticket: the addresses a person's message is copied to that are contacts
//! entitled to it ([`copied_addresses`] says which addresses to look up).
//!
//! The service looks the candidates up (always inside the offer, so no other offer's ticket
//! can be one) and this module decides, including what happens to a reply on a resolved or
//! closed ticket: reopened within the offer's reopen window, else a new ticket linked to the
//! old one. Machine-written mail never reopens anything.

use chrono::{DateTime, Duration, Utc};

use std::collections::HashSet;

use super::ids::{InstitutionId, TicketId};
use super::message::Mailbox;
use super::recipients::OwnAddresses;
use super::ticket::Status;
use super::vocab::LinkRelation;

/// A ticket found for the message, with what the decision needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The ticket found.
    pub ticket: TicketId,
    /// Its status now, which decides between appending, reopening and a follow-up ticket.
    pub status: Status,
    /// When it was resolved or closed, if it is.
    pub finished_at: Option<DateTime<Utc>>,
    /// Whether the sender may write into this ticket, see [`entitled`].
    pub sender_entitled: bool,
}

/// The tickets a message points at, one per rule, each looked up inside the offer; `None` when
/// the rule finds none.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    /// The ticket a verified reply token names (or one of our Message-IDs sent to this
    /// sender); the service only sets it when the token verifies for the sender.
    pub by_token: Option<Candidate>,
    /// The ticket owning the first parent Message-ID found in the offer.
    pub by_header: Option<Candidate>,
    /// The ticket named by the offer's subject tag.
    pub by_subject_tag: Option<Candidate>,
}

/// Which rule found the ticket a message joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A reply token issued to the sender named it.
    Token,
    /// In-Reply-To or References named one of its messages.
    Header,
    /// The subject carried its tag.
    SubjectTag,
}

/// How a new ticket relates to an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// A reply to a ticket finished longer ago than the reopen window.
    FollowsUp,
    /// Named (by header or tag) a ticket its sender is not entitled to.
    PossiblyRelated,
}

impl Relation {
    /// The link's name on the new ticket, and on the existing one.
    pub fn names(self) -> (LinkRelation, LinkRelation) {
        match self {
            Relation::FollowsUp => (LinkRelation::FollowsUp, LinkRelation::FollowedBy),
            Relation::PossiblyRelated => {
                (LinkRelation::PossiblyRelated, LinkRelation::PossiblyRelated)
            }
        }
    }
}

/// Where an inbound message goes: into a ticket it names, or into a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadDecision {
    /// Add the message to this ticket; `reopen` when it was resolved or closed.
    Append {
        /// The ticket the message joins.
        ticket: TicketId,
        /// The rule that found it: token, then header, then tag.
        via: Via,
        /// Put the ticket back in progress: it was resolved or closed, and a person answered
        /// within the reopen window.
        reopen: bool,
    },
    /// Open a ticket, linked to an existing one when there is a reason to.
    New {
        /// The ticket the message pointed at and how the new one relates to it; `None` when
        /// it pointed at none.
        related: Option<(TicketId, Relation)>,
    },
}

/// What is known of a sender with respect to one ticket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderFacts {
    /// The sender is a participant of the ticket (requester, cc, agent).
    pub participant: bool,
    /// The sender is an agent of the offer.
    pub agent: bool,
    /// The sender's contact belongs to the ticket's institution.
    pub same_institution: bool,
    /// The sender's contact comes from the configuration, not from mail: a contact created on
    /// the fly by a domain match (by this message or an earlier one of the same sender) is
    /// only an address someone wrote from, and anyone can write from a new address.
    pub configured: bool,
}

/// Whether a contact of institution `sender` belongs to the institution of a ticket
/// (`ticket`): both must have one, the same. Two "no institution" are not a shared one.
pub fn same_institution(sender: Option<InstitutionId>, ticket: Option<InstitutionId>) -> bool {
    sender.is_some() && sender == ticket
}

/// May this sender write into this ticket by naming it (a header or a tag)? A participant or
/// an agent of the offer; a contact of the ticket's institution only when the configuration
/// lists it.
pub fn entitled(f: SenderFacts) -> bool {
    f.participant || f.agent || (f.same_institution && f.configured)
}

/// May a header hit thread this message? When its sender is [`entitled`], or when it is
/// machine mail (`automatic`) answering one of our own Message-IDs (`answers_ours`): a bounce
/// or an out-of-office reply to our acknowledgement. Headers that say "automatic" are the
/// sender's to write, so that alone lets no stranger in.
pub fn may_thread_by_header(facts: SenderFacts, automatic: bool, answers_ours: bool) -> bool {
    entitled(facts) || (automatic && answers_ours)
}

/// May the subject tag thread this message? When its sender is [`entitled`] and the message
/// is not a forward (`forward`: [`super::subject::is_forward`]): a forwarded mail carries the
/// subject of the mail forwarded, tag included, so it is someone else's ticket being shown,
/// at most a "possibly related" one. Its headers may still thread it.
pub fn may_thread_by_tag(facts: SenderFacts, forward: bool) -> bool {
    entitled(facts) && !forward
}

/// How many copied addresses of one message are looked up: a mail copied to a whole
/// department must not turn into thousands of queries in the ingest transaction. Fifty is
/// more than any real help-desk exchange copies; the rest are ignored.
pub const MAX_COPIED: usize = 50;

/// The addresses of a message's To and Cc that may become participants of its ticket, each
/// once (lower-cased), in order, at most [`MAX_COPIED`]: neither the sender (already one) nor
/// our own support addresses (never people). Whether each is a contact entitled to the
/// ticket is for the caller to look up; contacts are never created from a copy.
pub fn copied_addresses(
    to: &[Mailbox],
    cc: &[Mailbox],
    sender: &str,
    own: &OwnAddresses,
) -> Vec<String> {
    let sender = sender.to_lowercase();
    let mut seen = HashSet::new();
    to.iter()
        .chain(cc)
        .map(|m| m.address.to_lowercase())
        .filter(|a| !a.is_empty() && *a != sender && !own.contains(a))
        .filter(|a| seen.insert(a.clone()))
        .take(MAX_COPIED)
        .collect()
}

/// Where a message goes, from the tickets it points at (`candidates`); a finished ticket is
/// reopened when `now` is within `reopen_window` of its finish.
///
/// `automatic`: the loop guard found the message machine-written. It is kept with its ticket
/// but never reopens it nor opens a follow-up (an out-of-office answer to our closing mail
/// must not bring the ticket back).
pub fn decide(
    candidates: &Candidates,
    now: DateTime<Utc>,
    reopen_window: Duration,
    automatic: bool,
) -> ThreadDecision {
    let header = candidates.by_header.as_ref().filter(|c| c.sender_entitled);
    let tag = candidates
        .by_subject_tag
        .as_ref()
        .filter(|c| c.sender_entitled);
    let token = candidates.by_token.as_ref().filter(|c| c.sender_entitled);
    let (c, via) = match (token, header, tag) {
        (Some(c), _, _) => (c, Via::Token),
        (None, Some(c), _) => (c, Via::Header),
        (None, None, Some(c)) => (c, Via::SubjectTag),
        (None, None, None) => {
            let pointed = candidates
                .by_header
                .as_ref()
                .or(candidates.by_subject_tag.as_ref());
            return ThreadDecision::New {
                related: pointed.map(|c| (c.ticket, Relation::PossiblyRelated)),
            };
        }
    };
    if c.status.is_open() || automatic {
        return ThreadDecision::Append {
            ticket: c.ticket,
            via,
            reopen: false,
        };
    }
    // A finished ticket with no finish time (imported, or set by hand) counts as just finished.
    let finished = c.finished_at.unwrap_or(now);
    if now - finished <= reopen_window {
        ThreadDecision::Append {
            ticket: c.ticket,
            via,
            reopen: true,
        }
    } else {
        ThreadDecision::New {
            related: Some((c.ticket, Relation::FollowsUp)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn same_institution_needs_one_on_both_sides() {
        // (sender's institution, ticket's institution, same)
        let table = [
            (Some(InstitutionId(1)), Some(InstitutionId(1)), true),
            (Some(InstitutionId(1)), Some(InstitutionId(2)), false),
            (Some(InstitutionId(1)), None, false),
            (None, Some(InstitutionId(1)), false),
            (None, None, false),
        ];
        for (sender, ticket, want) in table {
            assert_eq!(
                same_institution(sender, ticket),
                want,
                "{sender:?} {ticket:?}"
            );
        }
    }

    #[test]
    fn entitlement_needs_a_part_in_the_ticket_not_a_domain() {
        let f = |participant, agent, same_institution, configured| SenderFacts {
            participant,
            agent,
            same_institution,
            configured,
        };
        // (name, facts, entitled)
        let table = [
            ("participant", f(true, false, false, false), true),
            ("agent", f(false, true, false, true), true),
            (
                "agent created from mail",
                f(false, true, false, false),
                true,
            ),
            ("configured colleague", f(false, false, true, true), true),
            (
                "colleague created from mail",
                f(false, false, true, false),
                false,
            ),
            (
                "configured contact elsewhere",
                f(false, false, false, true),
                false,
            ),
            ("new stranger", f(false, false, false, false), false),
        ];
        for (name, facts, want) in table {
            assert_eq!(entitled(facts), want, "{name}");
        }
        // (name, facts, automatic, answers ours, may thread by header)
        let stranger = f(false, false, false, false);
        let header_table = [
            ("bounce of our mail", stranger, true, true, true),
            (
                "'automatic' stranger citing an id",
                stranger,
                true,
                false,
                false,
            ),
            ("human stranger citing our id", stranger, false, true, false),
            (
                "participant",
                f(true, false, false, false),
                false,
                false,
                true,
            ),
        ];
        for (name, facts, automatic, ours, want) in header_table {
            assert_eq!(may_thread_by_header(facts, automatic, ours), want, "{name}");
        }
    }

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 10, 0, 0).unwrap()
    }

    fn cand(id: i64, status: Status, finished_day: Option<u32>) -> Option<Candidate> {
        let finished_at = finished_day.map(at);
        Some(Candidate {
            ticket: TicketId(id),
            status,
            finished_at,
            sender_entitled: true,
        })
    }

    fn stranger(id: i64) -> Option<Candidate> {
        cand(id, Status::InProgress, None).map(|c| Candidate {
            sender_entitled: false,
            ..c
        })
    }

    #[test]
    fn decisions_follow_precedence_entitlement_and_reopen_window() {
        use Status::*;
        let window = Duration::days(10);
        let now = at(20);
        let append = |id, via, reopen| ThreadDecision::Append {
            ticket: TicketId(id),
            via,
            reopen,
        };
        let new = |related: Option<(i64, Relation)>| ThreadDecision::New {
            related: related.map(|(id, r)| (TicketId(id), r)),
        };
        // (name, header hit, tag hit, automatic, decision)
        let table = [
            ("nothing found", None, None, false, new(None)),
            (
                "header hit",
                cand(1, New, None),
                None,
                false,
                append(1, Via::Header, false),
            ),
            (
                "tag hit",
                None,
                cand(2, InProgress, None),
                false,
                append(2, Via::SubjectTag, false),
            ),
            (
                "header wins over tag",
                cand(1, Assigned, None),
                cand(2, New, None),
                false,
                append(1, Via::Header, false),
            ),
            (
                "stranger's tag",
                None,
                stranger(2),
                false,
                new(Some((2, Relation::PossiblyRelated))),
            ),
            (
                "header wins over a stranger's tag",
                cand(1, New, None),
                stranger(2),
                false,
                append(1, Via::Header, false),
            ),
            (
                "resolved in window",
                cand(1, Resolved, Some(15)),
                None,
                false,
                append(1, Via::Header, true),
            ),
            (
                "closed at window edge",
                None,
                cand(2, Closed, Some(10)),
                false,
                append(2, Via::SubjectTag, true),
            ),
            (
                "closed past window",
                cand(1, Closed, Some(9)),
                None,
                false,
                new(Some((1, Relation::FollowsUp))),
            ),
            (
                "closed without time",
                cand(1, Closed, None),
                None,
                false,
                append(1, Via::Header, true),
            ),
            (
                "auto-reply on resolved",
                cand(1, Resolved, Some(15)),
                None,
                true,
                append(1, Via::Header, false),
            ),
            (
                "auto-reply past window",
                cand(1, Closed, Some(1)),
                None,
                true,
                append(1, Via::Header, false),
            ),
            ("auto-reply, nothing found", None, None, true, new(None)),
            (
                "stranger with a header",
                stranger(1),
                None,
                false,
                new(Some((1, Relation::PossiblyRelated))),
            ),
            (
                "stranger with a header and a tag",
                stranger(1),
                stranger(2),
                false,
                new(Some((1, Relation::PossiblyRelated))),
            ),
            (
                "stranger's header, entitled tag",
                stranger(1),
                cand(2, New, None),
                false,
                append(2, Via::SubjectTag, false),
            ),
            (
                "automatic mail whose header hit is not entitled",
                stranger(1),
                None,
                true,
                new(Some((1, Relation::PossiblyRelated))),
            ),
            (
                "bounce from a stranger with only a tag",
                None,
                stranger(2),
                true,
                new(Some((2, Relation::PossiblyRelated))),
            ),
        ];
        for (name, by_header, by_subject_tag, automatic, want) in table {
            let c = Candidates {
                by_token: None,
                by_header,
                by_subject_tag,
            };
            assert_eq!(decide(&c, now, window, automatic), want, "{name}");
        }
    }

    #[test]
    fn a_forward_never_threads_by_its_tag() {
        let participant = SenderFacts {
            participant: true,
            ..SenderFacts::default()
        };
        let agent = SenderFacts {
            agent: true,
            ..SenderFacts::default()
        };
        // (name, facts, forward, may thread by tag)
        let table = [
            ("participant's reply", participant, false, true),
            ("participant's forward", participant, true, false),
            ("agent's forward", agent, true, false),
            ("stranger's reply", SenderFacts::default(), false, false),
            ("stranger's forward", SenderFacts::default(), true, false),
        ];
        for (name, facts, forward, want) in table {
            assert_eq!(may_thread_by_tag(facts, forward), want, "{name}");
        }
        // What `decide` makes of a forward's tag, found but not allowed: a new ticket, possibly
        // related, never an append.
        let tag = cand(7, Status::InProgress, None).map(|c| Candidate {
            sender_entitled: may_thread_by_tag(participant, true),
            ..c
        });
        let c = Candidates {
            by_token: None,
            by_header: None,
            by_subject_tag: tag,
        };
        assert_eq!(
            decide(&c, at(20), Duration::days(10), false),
            ThreadDecision::New {
                related: Some((TicketId(7), Relation::PossiblyRelated))
            }
        );
    }

    #[test]
    fn copied_addresses_leave_out_the_sender_ours_and_repeats() {
        let own = OwnAddresses::new(["support-smsu@esup.fr"]);
        let boxes = |addresses: &[&str]| -> Vec<Mailbox> {
            addresses.iter().map(|a| Mailbox::new(None, a)).collect()
        };
        // (name, to, cc, addresses to look up)
        type Case<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a [&'a str]);
        let table: [Case<'_>; 6] = [
            (
                "a colleague in cc",
                &["support-smsu@esup.fr"],
                &["marie@univ.fr"],
                &["marie@univ.fr"],
            ),
            (
                "our plus-address and the sender",
                &["Support-SMSU+incident@esup.fr", "Jeanne@univ.fr"],
                &["paul@univ.fr"],
                &["paul@univ.fr"],
            ),
            (
                "repeats across to and cc, any case",
                &["marie@univ.fr", "paul@univ.fr"],
                &["MARIE@univ.fr"],
                &["marie@univ.fr", "paul@univ.fr"],
            ),
            ("nobody copied", &["support-smsu@esup.fr"], &[], &[]),
            (
                "an empty address",
                &[""],
                &["paul@univ.fr"],
                &["paul@univ.fr"],
            ),
            (
                "only the sender",
                &["jeanne@univ.fr"],
                &["jeanne@UNIV.fr"],
                &[],
            ),
        ];
        for (name, to, cc, want) in table {
            let got = copied_addresses(&boxes(to), &boxes(cc), "jeanne@univ.fr", &own);
            assert_eq!(got, want, "{name}");
        }
        // A department copied whole: the first MAX_COPIED only.
        let many: Vec<String> = (0..3 * MAX_COPIED)
            .map(|i| format!("p{i}@univ.fr"))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let got = copied_addresses(&boxes(&many), &[], "jeanne@univ.fr", &own);
        assert_eq!(got.len(), MAX_COPIED);
        assert_eq!(got[0], "p0@univ.fr");
    }

    #[test]
    fn a_verified_token_wins_over_header_and_tag() {
        let window = Duration::days(10);
        let now = at(20);
        let append = |id, reopen| ThreadDecision::Append {
            ticket: TicketId(id),
            via: Via::Token,
            reopen,
        };
        // (name, token hit, header hit, tag hit, decision)
        let table = [
            (
                "token alone",
                cand(3, Status::New, None),
                None,
                None,
                append(3, false),
            ),
            (
                "token over header and tag",
                cand(3, Status::InProgress, None),
                cand(1, Status::New, None),
                cand(2, Status::New, None),
                append(3, false),
            ),
            (
                "token reopens in window",
                cand(3, Status::Resolved, Some(15)),
                cand(1, Status::New, None),
                None,
                append(3, true),
            ),
            (
                "token past the window follows up",
                cand(3, Status::Closed, Some(1)),
                None,
                None,
                ThreadDecision::New {
                    related: Some((TicketId(3), Relation::FollowsUp)),
                },
            ),
            (
                "no token: header as before",
                None,
                cand(1, Status::New, None),
                cand(2, Status::New, None),
                ThreadDecision::Append {
                    ticket: TicketId(1),
                    via: Via::Header,
                    reopen: false,
                },
            ),
        ];
        for (name, by_token, by_header, by_subject_tag, want) in table {
            let c = Candidates {
                by_token,
                by_header,
                by_subject_tag,
            };
            assert_eq!(decide(&c, now, window, false), want, "{name}");
        }
    }
}
