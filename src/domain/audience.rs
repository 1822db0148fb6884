//! Who hears of what: the recipients of each notification about a ticket, decided from the
//! ticket, its participants and the people's roles in the offer, and nothing else.
//!
//! The one rule above all: nobody outside the people entitled to a ticket ever receives mail
//! about it. The people given are those of the ticket's own offer (an agent of another offer
//! is not among them), and a participant counts only when entitled: the requester, an agent
//! of the offer, or someone of the ticket's own institution (a participant from another
//! institution, copied once, hears nothing more). Nobody is told of their own action, except
//! the requester's acknowledgement; nobody unreachable (no address, bouncing) is listed.

use super::ids::{ContactId, InstitutionId};
use super::threading::same_institution;
use super::vocab::ParticipantRole;

/// What happened, as far as choosing recipients goes (issue 8's events; one event may be
/// several notices, as a new ticket is an acknowledgement and a notice to the team).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// A ticket was opened: its requester is acknowledged.
    Acknowledgement,
    /// A ticket was opened: the offer's agents hear of it.
    NewTicket,
    /// An agent answered: the requester and the other participants.
    AgentReply,
    /// The requester or a participant wrote: the assignee, or the agents when nobody is.
    RequesterReply,
    /// The ticket was resolved or closed: the requester and the other participants.
    StatusChanged,
    /// The ticket was assigned: the new assignee.
    Assigned,
    /// A service level nears its deadline: the assignee, or the agents.
    SlaWarning,
    /// A service level is past its deadline: the assignee, or the agents.
    SlaBreach,
    /// An escalation level fired: the people its policy names, among the offer's agents and
    /// governance contacts.
    Escalated,
    /// The daily digest of open tickets: the offer's agents.
    DailyDigest,
}

/// One person of the offer who may be told, as the store knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Who they are.
    pub contact: ContactId,
    /// An agent of this offer (the provider's team).
    pub agent: bool,
    /// A governance contact of this offer (escalations, reports).
    pub governance: bool,
    /// Their part in the ticket, if they have one.
    pub participant: Option<ParticipantRole>,
    /// Their institution, if known.
    pub institution: Option<InstitutionId>,
    /// Has an address that is not marked bouncing.
    pub reachable: bool,
}

/// What the choice needs of the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TicketFacts {
    /// The ticket's institution (its requester's).
    pub institution: Option<InstitutionId>,
    /// The agent it is assigned to.
    pub assignee: Option<ContactId>,
    /// Who caused the notice (the agent who replied, the requester who wrote), if a person.
    pub actor: Option<ContactId>,
}

/// The recipients of `notice` among `people` (the offer's team and the ticket's
/// participants), in the order given, each once. `named` are the contacts the escalation
/// policy names ([`Notice::Escalated`] only).
pub fn recipients(
    notice: Notice,
    ticket: &TicketFacts,
    people: &[Person],
    named: &[ContactId],
) -> Vec<ContactId> {
    let assignee = |p: &Person| ticket.assignee == Some(p.contact) && p.agent;
    let assigned = people.iter().any(assignee);
    let chosen = |p: &Person| match notice {
        Notice::Acknowledgement => p.participant == Some(ParticipantRole::Requester),
        Notice::NewTicket | Notice::DailyDigest => p.agent,
        Notice::AgentReply | Notice::StatusChanged => {
            matches!(
                p.participant,
                Some(ParticipantRole::Requester | ParticipantRole::Cc)
            ) && entitled(p, ticket)
        }
        Notice::RequesterReply | Notice::SlaWarning | Notice::SlaBreach => {
            if assigned {
                assignee(p)
            } else {
                p.agent
            }
        }
        Notice::Assigned => assignee(p),
        Notice::Escalated => named.contains(&p.contact) && (p.agent || p.governance),
    };
    let own_action =
        |p: &Person| notice != Notice::Acknowledgement && ticket.actor == Some(p.contact);
    let mut out: Vec<ContactId> = Vec::new();
    for p in people {
        if p.reachable && chosen(p) && !own_action(p) && !out.contains(&p.contact) {
            out.push(p.contact);
        }
    }
    out
}

/// May `p` hear of the ticket at all: an agent or governance contact of the offer, its
/// requester, or a participant of its institution.
pub fn entitled(p: &Person, ticket: &TicketFacts) -> bool {
    p.agent
        || p.governance
        || p.participant == Some(ParticipantRole::Requester)
        || (p.participant.is_some() && same_institution(p.institution, ticket.institution))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: Option<InstitutionId> = Some(InstitutionId(1));
    const B: Option<InstitutionId> = Some(InstitutionId(2));

    fn person(id: i64, agent: bool, participant: Option<ParticipantRole>) -> Person {
        Person {
            contact: ContactId(id),
            agent,
            governance: false,
            participant,
            institution: A,
            reachable: true,
        }
    }

    /// 1 requester, 2 colleague (cc, institution A), 3 stranger (cc, institution B), 4 and 5
    /// agents, 6 governance, 7 requester's colleague who bounces.
    fn people() -> Vec<Person> {
        use ParticipantRole::{Cc, Requester};
        vec![
            person(1, false, Some(Requester)),
            person(2, false, Some(Cc)),
            Person {
                institution: B,
                ..person(3, false, Some(Cc))
            },
            Person {
                institution: B,
                ..person(4, true, None)
            },
            person(5, true, Some(ParticipantRole::Agent)),
            Person {
                governance: true,
                ..person(6, false, None)
            },
            Person {
                reachable: false,
                ..person(7, false, Some(Cc))
            },
        ]
    }

    fn ids(list: &[i64]) -> Vec<ContactId> {
        list.iter().map(|&i| ContactId(i)).collect()
    }

    #[test]
    fn each_notice_goes_to_its_people() {
        let unassigned = TicketFacts {
            institution: A,
            ..TicketFacts::default()
        };
        let assigned = TicketFacts {
            assignee: Some(ContactId(5)),
            ..unassigned
        };
        let by = |actor: i64, t: TicketFacts| TicketFacts {
            actor: Some(ContactId(actor)),
            ..t
        };
        // (notice, ticket, named, recipients)
        let table: Vec<(Notice, TicketFacts, Vec<i64>, Vec<i64>)> = vec![
            (Notice::Acknowledgement, by(1, unassigned), vec![], vec![1]),
            (Notice::NewTicket, by(1, unassigned), vec![], vec![4, 5]),
            (Notice::AgentReply, by(5, assigned), vec![], vec![1, 2]),
            (Notice::AgentReply, by(4, unassigned), vec![], vec![1, 2]),
            (
                Notice::RequesterReply,
                by(1, unassigned),
                vec![],
                vec![4, 5],
            ),
            (Notice::RequesterReply, by(2, assigned), vec![], vec![5]),
            (Notice::StatusChanged, by(5, assigned), vec![], vec![1, 2]),
            (Notice::Assigned, by(4, assigned), vec![], vec![5]),
            (Notice::Assigned, by(5, assigned), vec![], vec![]),
            (Notice::SlaWarning, assigned, vec![], vec![5]),
            (Notice::SlaBreach, unassigned, vec![], vec![4, 5]),
            (Notice::Escalated, unassigned, vec![6, 4, 1], vec![4, 6]),
            (Notice::DailyDigest, unassigned, vec![], vec![4, 5]),
        ];
        for (notice, ticket, named, want) in table {
            assert_eq!(
                recipients(notice, &ticket, &people(), &ids(&named)),
                ids(&want),
                "{notice:?} {ticket:?}"
            );
        }
    }

    #[test]
    fn an_assignee_who_left_the_team_leaves_the_team_to_answer() {
        let ticket = TicketFacts {
            institution: A,
            assignee: Some(ContactId(2)),
            actor: Some(ContactId(1)),
        };
        assert_eq!(
            recipients(Notice::RequesterReply, &ticket, &people(), &[]),
            ids(&[4, 5])
        );
    }

    fn any_person() -> impl Strategy<Value = Person> {
        let role = prop_oneof![
            Just(None),
            Just(Some(ParticipantRole::Requester)),
            Just(Some(ParticipantRole::Cc)),
            Just(Some(ParticipantRole::Agent)),
        ];
        let institution = prop_oneof![Just(None), Just(A), Just(B)];
        (
            1i64..12,
            any::<bool>(),
            any::<bool>(),
            role,
            institution,
            any::<bool>(),
        )
            .prop_map(
                |(id, agent, governance, participant, institution, reachable)| Person {
                    contact: ContactId(id),
                    agent,
                    governance,
                    participant,
                    institution,
                    reachable,
                },
            )
    }

    fn any_notice() -> impl Strategy<Value = Notice> {
        prop_oneof![
            Just(Notice::Acknowledgement),
            Just(Notice::NewTicket),
            Just(Notice::AgentReply),
            Just(Notice::RequesterReply),
            Just(Notice::StatusChanged),
            Just(Notice::Assigned),
            Just(Notice::SlaWarning),
            Just(Notice::SlaBreach),
            Just(Notice::Escalated),
            Just(Notice::DailyDigest),
        ]
    }

    proptest! {
        /// Whatever the people, the notice and the ticket: every recipient is one of the
        /// people, reachable, entitled to the ticket (by each of their entries), listed once,
        /// and not the actor (but for the acknowledgement).
        #[test]
        fn nobody_outside_the_entitled_is_ever_told(
            people in prop::collection::vec(any_person(), 0..10),
            notice in any_notice(),
            institution in prop_oneof![Just(None), Just(A), Just(B)],
            assignee in prop::option::of(1i64..12),
            actor in prop::option::of(1i64..12),
            named in prop::collection::vec(1i64..12, 0..4),
        ) {
            let ticket = TicketFacts {
                institution,
                assignee: assignee.map(ContactId),
                actor: actor.map(ContactId),
            };
            let got = recipients(notice, &ticket, &people, &ids(&named));
            for (i, c) in got.iter().enumerate() {
                prop_assert!(!got[..i].contains(c), "listed twice: {c:?}");
                let entries: Vec<&Person> = people.iter().filter(|p| p.contact == *c).collect();
                prop_assert!(
                    entries.iter().any(|p| p.reachable && entitled(p, &ticket)),
                    "{c:?} is not entitled: {entries:?}"
                );
                if notice != Notice::Acknowledgement {
                    prop_assert!(ticket.actor != Some(*c), "told of their own action");
                }
            }
        }
    }
}
