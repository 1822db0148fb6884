//! Which ticket an inbound message belongs to: the first rule set.
//!
//! Precedence: (1) In-Reply-To/References naming a Message-ID stored in the same offer,
//! (2) the offer's subject tag `[SMSU I-000042]`, otherwise (3) a new ticket. The service looks
//! the candidates up (always inside the offer, so no other offer's ticket can be one) and this
//! module decides, including what happens to a reply on a resolved or closed ticket: reopened
//! within the offer's reopen window, else a new ticket linked to the old one.

use chrono::{DateTime, Duration, Utc};

use super::ids::TicketId;
use super::ticket::Status;

/// A ticket found for the message, with what the decision needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub ticket: TicketId,
    pub status: Status,
    /// When it was resolved or closed, if it is.
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default)]
pub struct Candidates {
    /// The ticket owning the first parent Message-ID found in the offer.
    pub by_header: Option<Candidate>,
    /// The ticket named by the offer's subject tag.
    pub by_subject_tag: Option<Candidate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Header,
    SubjectTag,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadDecision {
    /// Add the message to this ticket; `reopen` when it was resolved or closed.
    Append {
        ticket: TicketId,
        via: Via,
        reopen: bool,
    },
    /// Open a ticket; `related` is the finished ticket it follows up, when there is one.
    New { related: Option<TicketId> },
}

pub fn decide(
    candidates: &Candidates,
    now: DateTime<Utc>,
    reopen_window: Duration,
) -> ThreadDecision {
    let hit = candidates
        .by_header
        .as_ref()
        .map(|c| (c, Via::Header))
        .or_else(|| {
            candidates
                .by_subject_tag
                .as_ref()
                .map(|c| (c, Via::SubjectTag))
        });
    let Some((c, via)) = hit else {
        return ThreadDecision::New { related: None };
    };
    if c.status.is_open() {
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
            related: Some(c.ticket),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 10, 0, 0).unwrap()
    }

    fn cand(id: i64, status: Status, finished_day: Option<u32>) -> Option<Candidate> {
        Some(Candidate {
            ticket: TicketId(id),
            status,
            finished_at: finished_day.map(at),
        })
    }

    #[test]
    fn decisions_follow_precedence_and_reopen_window() {
        use Status::*;
        let window = Duration::days(10);
        let now = at(20);
        let append = |id, via, reopen| ThreadDecision::Append {
            ticket: TicketId(id),
            via,
            reopen,
        };
        let table = [
            (
                "nothing found",
                None,
                None,
                ThreadDecision::New { related: None },
            ),
            (
                "header hit",
                cand(1, New, None),
                None,
                append(1, Via::Header, false),
            ),
            (
                "tag hit",
                None,
                cand(2, InProgress, None),
                append(2, Via::SubjectTag, false),
            ),
            (
                "header wins over tag",
                cand(1, Assigned, None),
                cand(2, New, None),
                append(1, Via::Header, false),
            ),
            (
                "resolved in window",
                cand(1, Resolved, Some(15)),
                None,
                append(1, Via::Header, true),
            ),
            (
                "closed at window edge",
                None,
                cand(2, Closed, Some(10)),
                append(2, Via::SubjectTag, true),
            ),
            (
                "closed past window",
                cand(1, Closed, Some(9)),
                None,
                ThreadDecision::New {
                    related: Some(TicketId(1)),
                },
            ),
            (
                "closed without time",
                cand(1, Closed, None),
                None,
                append(1, Via::Header, true),
            ),
        ];
        for (name, by_header, by_subject_tag, want) in table {
            let c = Candidates {
                by_header,
                by_subject_tag,
            };
            assert_eq!(decide(&c, now, window), want, "{name}");
        }
    }
}
