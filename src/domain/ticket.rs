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
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketKind {
    Incident,
    Request,
    Change,
}

text_enum!(TicketKind, "ticket kind", { Incident => "incident", Request => "request", Change => "change" });

impl TicketKind {
    pub fn letter(self) -> char {
        match self {
            TicketKind::Incident => 'I',
            TicketKind::Request => 'R',
            TicketKind::Change => 'C',
        }
    }

    pub fn from_letter(c: char) -> Option<Self> {
        match c.to_ascii_uppercase() {
            'I' => Some(TicketKind::Incident),
            'R' => Some(TicketKind::Request),
            'C' => Some(TicketKind::Change),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    Assigned,
    InProgress,
    WaitingCustomer,
    Resolved,
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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a ticket cannot go from {from} to {to}")]
pub struct TransitionError {
    pub from: Status,
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
    pub resolved_at: Option<DateTime<Utc>>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
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
