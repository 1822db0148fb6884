//! The store's vocabulary: the closed lists of names written in text columns (participant
//! roles, article directions, link relations, event kinds, receipt outcomes, outbox states,
//! channels, contact origins).
//!
//! Each name is written here, with [`text_enum!`](super::ticket) (serde's names for the JSON
//! output follow `rename_all`; a round-trip test checks they agree): writers take the enum,
//! so a typo is a compile error, and rows decode with a checked conversion, so a bad row is a
//! clear decode error naming the expected values. Nothing here does IO.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ticket::{NameError, text_enum};

/// A contact's part in one ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantRole {
    /// Opened the ticket.
    Requester,
    /// Wrote into the ticket after it was opened.
    Cc,
    /// Took the ticket (`guichet ticket assign`).
    Agent,
}

text_enum!(ParticipantRole, "participant role", {
    Requester => "requester",
    Cc => "cc",
    Agent => "agent",
});

/// Which way an article went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Received from a contact.
    In,
    /// Sent to the ticket's contacts.
    Out,
    /// A note the contacts never see.
    Internal,
}

text_enum!(Direction, "article direction", { In => "in", Out => "out", Internal => "internal" });

/// How two tickets are related. Links come in pairs, one name on each ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkRelation {
    /// This ticket was opened by a reply to the other, finished too long ago to reopen.
    FollowsUp,
    /// The other direction of [`LinkRelation::FollowsUp`].
    FollowedBy,
    /// A message carried the other ticket's tag without its sender being entitled to it.
    PossiblyRelated,
    /// Both tickets (of two offers) were opened by the same message.
    SameMessage,
}

text_enum!(LinkRelation, "link relation", {
    FollowsUp => "follows_up",
    FollowedBy => "followed_by",
    PossiblyRelated => "possibly_related",
    SameMessage => "same_message",
});

/// What an event in a ticket's journal records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An inbound message opened the ticket.
    Created,
    /// An inbound message was added to an existing ticket.
    ArticleAdded,
    /// A reply reopened a resolved or closed ticket (to `in_progress`).
    Reopened,
    /// A message from a sender not entitled to open a ticket was refused; the event belongs
    /// to no ticket.
    SenderRefused,
    /// An operator replied to the ticket's contacts.
    Replied,
    /// An operator added an internal note.
    Noted,
    /// An operator changed the status.
    StatusChanged,
    /// An operator changed the priority.
    PriorityChanged,
    /// An operator assigned the ticket to an agent (a `new` ticket becomes `assigned`).
    Assigned,
    /// An operator changed the ticket's kind: it took the next ref of the new kind, and its
    /// old ref still finds it.
    Reclassified,
    /// An operator asked for one more attempt of a mail (`guichet outbox retry`).
    OutboxRetried,
    /// An operator gave up on a queued mail (`guichet outbox drop`).
    OutboxDropped,
    /// A mail was not queued: a rate limit held it back (`domain::throttle`).
    MailSuppressed,
    /// A service-level clock started (`domain::sla`; data: its target and budget).
    SlaStarted,
    /// A clock stopped for now (a status that pauses it).
    SlaPaused,
    /// A clock counts again.
    SlaResumed,
    /// The first response was given: the first-response clock is met.
    SlaFirstResponse,
    /// The ticket was resolved: its clock is met.
    SlaResolved,
    /// The ticket was reopened: its resolution clock counts again.
    SlaReopened,
    /// A clock's budget changed with the ticket's priority or kind.
    SlaRetargeted,
    /// A clock's warning fired.
    SlaWarned,
    /// A clock ran out.
    SlaBreached,
    /// An escalation level fired.
    SlaEscalated,
}

text_enum!(EventKind, "event kind", {
    Created => "created",
    ArticleAdded => "article_added",
    Reopened => "reopened",
    SenderRefused => "sender_refused",
    Replied => "replied",
    Noted => "noted",
    StatusChanged => "status_changed",
    PriorityChanged => "priority_changed",
    Assigned => "assigned",
    Reclassified => "reclassified",
    OutboxRetried => "outbox_retried",
    OutboxDropped => "outbox_dropped",
    MailSuppressed => "mail_suppressed",
    SlaStarted => "sla_started",
    SlaPaused => "sla_paused",
    SlaResumed => "sla_resumed",
    SlaFirstResponse => "sla_first_response",
    SlaResolved => "sla_resolved",
    SlaReopened => "sla_reopened",
    SlaRetargeted => "sla_retargeted",
    SlaWarned => "sla_warned",
    SlaBreached => "sla_breached",
    SlaEscalated => "sla_escalated",
});

/// What became of a received message, as its dedupe receipt remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptOutcome {
    /// Stored as an article of a ticket.
    Article,
    /// Refused (unknown sender, answered politely).
    Refused,
}

text_enum!(ReceiptOutcome, "receipt outcome", { Article => "article", Refused => "refused" });

/// Where an outgoing message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for its (next) attempt.
    Pending,
    /// Accepted by the transport; never sent again.
    Sent,
    /// Given up on: a permanent failure, or too many attempts.
    Failed,
}

text_enum!(OutboxState, "outbox state", { Pending => "pending", Sent => "sent", Failed => "failed" });

/// How a message reached guichet (or, for articles, was written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// `guichet deliver`, run by the MTA.
    Pipe,
    /// A Maildir folder the daemon watches.
    Maildir,
    /// An IMAP mailbox the daemon reads.
    Imap,
    /// An operator on the command line.
    Cli,
    /// A quarantined message replayed by an operator.
    Replay,
    /// The outbox, noting on a ticket a mail it could not deliver.
    Outbox,
}

text_enum!(Channel, "channel", { Pipe => "pipe", Maildir => "maildir", Imap => "imap", Cli => "cli", Replay => "replay", Outbox => "outbox" });

/// Where a contact comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactOrigin {
    /// Listed in the configuration (synchronised at start): entitled by the operator.
    Config,
    /// Created from an inbound message's sender.
    Inbound,
}

text_enum!(ContactOrigin, "contact origin", { Config => "config", Inbound => "inbound" });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_through_text() {
        macro_rules! check {
            ($($t:ty),+) => {$(
                for v in <$t>::ALL {
                    assert_eq!(v.as_str().parse::<$t>(), Ok(*v));
                    assert_eq!(<$t>::try_from(v.as_str().to_owned()), Ok(*v));
                    assert_eq!(
                        serde_json::to_value(v).unwrap(),
                        serde_json::Value::from(v.as_str()),
                        "serialised as stored"
                    );
                }
            )+};
        }
        check!(
            ContactOrigin,
            ParticipantRole,
            Direction,
            LinkRelation,
            EventKind,
            ReceiptOutcome,
            OutboxState,
            Channel
        );
    }

    #[test]
    fn a_bad_stored_name_says_what_was_expected() {
        let err = LinkRelation::try_from("folows_up".to_owned()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown link relation \"folows_up\" (expected one of: follows_up, followed_by, possibly_related, same_message)"
        );
    }
}
