//! The ticket model: kinds, statuses and the transitions allowed between them, priorities.
//!
//! Names are the ones stored in the database and typed on the command line (`in_progress`),
//! so `FromStr` and `as_str` are the one mapping between text and values.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            #[doc = concat!("Every ", $what, ", in the order error messages list them.")]
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            #[doc = concat!(
                "The ", $what, "'s name as stored in text columns."
            )]
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
                Self::ALL.iter().copied().find(|v| v.as_str() == wanted).ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} {s:?} (expected one of: {})", $what, names.join(", "))
                })
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, NameError> {
                s.parse().map_err(NameError)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

/// A stored or typed name that is none of an enum's names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(pub String);

/// What a ticket asks for, chosen by the support address (or plus-suffix) it was sent to;
/// each kind has its own letter and numbering in a ref (`I-000042`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketKind {
    /// Something is broken (`I`).
    Incident,
    /// A service is asked for (`R`).
    Request,
    /// A change to the service is asked for (`C`).
    Change,
}

text_enum!(TicketKind, "ticket kind", { Incident => "incident", Request => "request", Change => "change" });

impl TicketKind {
    /// The letter that opens the kind's refs: `I`, `R` or `C`.
    pub fn letter(self) -> char {
        match self {
            TicketKind::Incident => 'I',
            TicketKind::Request => 'R',
            TicketKind::Change => 'C',
        }
    }

    /// The kind a ref's letter stands for, in either case; `None` for any other letter.
    pub fn from_letter(c: char) -> Option<Self> {
        match c.to_ascii_uppercase() {
            'I' => Some(TicketKind::Incident),
            'R' => Some(TicketKind::Request),
            'C' => Some(TicketKind::Change),
            _ => None,
        }
    }
}

/// Where a ticket stands; [`Status::transition`] says which changes are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Opened and not yet taken by an agent.
    New,
    /// Taken by an agent (`guichet ticket assign`), not yet worked on.
    Assigned,
    /// Being worked on; also where a reopened ticket goes.
    InProgress,
    /// Waiting for an answer from the requester.
    WaitingCustomer,
    /// The work is done; a reply within the offer's reopen window reopens it.
    Resolved,
    /// Done for good, and always stamped as resolved too; a reply within the offer's reopen
    /// window still reopens it, a later one opens a linked follow-up ticket.
    Closed,
}

text_enum!(Status, "status", {
    New => "new",
    Assigned => "assigned",
    InProgress => "in_progress",
    WaitingCustomer => "waiting_customer",
    Resolved => "resolved",
    Closed => "closed",
});

/// A status change [`Status::transition`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a ticket cannot go from {from} to {to}")]
pub struct TransitionError {
    /// The ticket's current status.
    pub from: Status,
    /// The status asked for.
    pub to: Status,
}

impl Status {
    /// Whether the ticket still needs work (its SLA clocks may run).
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Resolved | Status::Closed)
    }

    /// Checks one status change. A change to the same status is refused too: a command that
    /// does nothing is more likely a mistake than an intent.
    ///
    /// Resolved and closed tickets can be reopened (to `in_progress`); whether a reopening is
    /// still allowed in time (the offer's reopen window) is the threading rules' decision.
    pub fn transition(self, to: Status) -> Result<Status, TransitionError> {
        use Status::*;
        let allowed = match self {
            New => matches!(
                to,
                Assigned | InProgress | WaitingCustomer | Resolved | Closed
            ),
            Assigned => matches!(to, New | InProgress | WaitingCustomer | Resolved | Closed),
            InProgress => matches!(to, Assigned | WaitingCustomer | Resolved | Closed),
            WaitingCustomer => matches!(to, InProgress | Resolved | Closed),
            Resolved => matches!(to, InProgress | Closed),
            Closed => matches!(to, InProgress),
        };
        if allowed {
            Ok(to)
        } else {
            Err(TransitionError { from: self, to })
        }
    }
}

/// When a ticket was resolved and when it was closed, as its row keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FinishTimes {
    /// When the ticket was last resolved; `None` while it is open (a reopening clears it).
    pub resolved_at: Option<DateTime<Utc>>,
    /// When the ticket was last closed; `None` unless its status is `closed`.
    pub closed_at: Option<DateTime<Utc>>,
}

/// How the finish times follow a status change to `new` at `now`, from the ticket's `old`
/// ones. Resolving stamps the resolution and clears any closing; closing stamps the closing
/// and keeps the resolution time (or takes `now` when the ticket was never resolved, so a
/// closed ticket always has both); any other status (a reopening) clears both, so the SLA and
/// the reopen window count from the latest finish only.
pub fn finish_times(new: Status, old: FinishTimes, now: DateTime<Utc>) -> FinishTimes {
    match new {
        Status::Resolved => FinishTimes {
            resolved_at: Some(now),
            closed_at: None,
        },
        Status::Closed => FinishTimes {
            resolved_at: Some(old.resolved_at.unwrap_or(now)),
            closed_at: Some(now),
        },
        Status::New | Status::Assigned | Status::InProgress | Status::WaitingCustomer => {
            FinishTimes::default()
        }
    }
}

/// How urgent a ticket is, lowest first (the order `Ord` follows). New tickets start at
/// `normal`; an operator changes it (`guichet ticket priority`). The design keys an offer's
/// SLA targets by priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Below the usual urgency.
    Low,
    /// The usual urgency, and every new ticket's.
    Normal,
    /// Above the usual urgency.
    High,
    /// The most urgent.
    Critical,
}

text_enum!(Priority, "priority", { Low => "low", Normal => "normal", High => "high", Critical => "critical" });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_the_table() {
        use Status::*;
        // (from, to, allowed)
        let table = [
            (New, Assigned, true),
            (New, InProgress, true),
            (New, Resolved, true),
            (New, New, false),
            (Assigned, New, true),
            (Assigned, WaitingCustomer, true),
            (InProgress, New, false),
            (InProgress, Resolved, true),
            (WaitingCustomer, InProgress, true),
            (WaitingCustomer, Assigned, false),
            (Resolved, InProgress, true),
            (Resolved, Closed, true),
            (Resolved, New, false),
            (Closed, InProgress, true),
            (Closed, Resolved, false),
            (Closed, Closed, false),
        ];
        for (from, to, allowed) in table {
            assert_eq!(from.transition(to).is_ok(), allowed, "{from} -> {to}");
        }
    }

    #[test]
    fn finish_times_follow_the_status() {
        use Status::*;
        let at =
            |h: u32| Some(chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 3, 2, h, 0, 0).unwrap());
        let now = at(12).unwrap();
        let times = |resolved_at, closed_at| FinishTimes {
            resolved_at,
            closed_at,
        };
        let open = times(None, None);
        let resolved = times(at(9), None);
        let closed = times(at(9), at(10));
        let closed_unresolved = times(None, at(10));
        // (new status, old times, expected times)
        let table = [
            (Resolved, open, times(Some(now), None)),
            (Resolved, resolved, times(Some(now), None)),
            (Resolved, closed, times(Some(now), None)),
            (Closed, open, times(Some(now), Some(now))),
            (Closed, resolved, times(at(9), Some(now))),
            (Closed, closed, times(at(9), Some(now))),
            (Closed, closed_unresolved, times(Some(now), Some(now))),
            (InProgress, resolved, open),
            (InProgress, closed, open),
            (New, open, open),
            (Assigned, open, open),
            (WaitingCustomer, resolved, open),
        ];
        for (new, old, expected) in table {
            assert_eq!(finish_times(new, old, now), expected, "{new} from {old:?}");
        }
    }

    #[test]
    fn refused_transition_names_both_states() {
        let err = Status::Closed.transition(Status::Resolved).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a ticket cannot go from closed to resolved"
        );
    }

    #[test]
    fn names_round_trip_and_bad_names_list_the_choices() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>(), Ok(*s));
        }
        assert_eq!("In-Progress".parse::<Status>(), Ok(Status::InProgress));
        let err = "done".parse::<Status>().unwrap_err();
        assert!(err.contains("waiting_customer"), "{err}");
        assert_eq!("CRITICAL".parse::<Priority>(), Ok(Priority::Critical));
        assert_eq!(TicketKind::from_letter('c'), Some(TicketKind::Change));
    }
}
