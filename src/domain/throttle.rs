//! No mail storms (issue 8 item 6): whether one more mail may go to a recipient, when it is
//! due, and whether a notification is merged into one still waiting for the same people
//! about the same ticket.
//!
//! Pure: the caller counts the mails queued within each window and finds the mail still open
//! to merging; this decides. It knows nothing of templates, the store or the clock.
//!
//! The three brakes, in the order they apply:
//! - **coalescing**: a notification waits [`Policy::coalesce`] before it is due; one more
//!   about the same ticket to the same recipients meanwhile joins it, so a burst of changes
//!   (status, assignment, a reply) makes one mail. Merging adds no mail, so it is never
//!   limited.
//! - **per-recipient limit**: nobody gets more than [`Policy::per_recipient`] mails within its
//!   window, whatever they are about: the backstop of the loop guard for acknowledgements.
//! - **per-ticket limit**: one ticket makes at most [`Policy::per_ticket`] mails within its
//!   window, all recipients together: a ticket caught in a loop stops mailing the team.
//!
//! An agent's own reply is never held back nor suppressed: a person wrote it for someone,
//! and an answer that silently never leaves is worse than one mail too many. It still counts
//! towards the limits, as it lands in the same mailbox.

use chrono::{DateTime, Duration, Utc};

/// The most events one coalesced mail tells: past that, the next event starts a new mail
/// (itself limited). Keeps a mail readable and its row small when a ticket goes mad.
pub const MAX_MERGED: usize = 50;

/// What kind of mail it is, as far as the brakes are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// An automatic answer to someone who wrote (acknowledgement, refusal): leaves at once and
    /// is never merged (it is the answer they wait for), but is limited.
    Acknowledgement,
    /// A person's own words (an agent's reply): leaves at once, never merged, never
    /// suppressed; counted.
    Personal,
    /// A notice of an event on a ticket: waits to be merged, and is limited.
    Notification,
    /// A service level nearing or past its deadline, an escalation: leaves at once (its
    /// point is to be on time), never merged, and is limited.
    Alert,
}

/// At most `count` mails within any sliding `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Mails allowed within `window`.
    pub count: u64,
    /// The sliding window.
    pub window: Duration,
}

impl Limit {
    /// The start of the window ending at `now`: mails queued after it count.
    pub fn since(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.window
    }

    /// Whether one more mail may go when `queued` went within the window.
    pub fn allows(&self, queued: u64) -> bool {
        queued < self.count
    }
}

/// The brakes of one deployment (`[mail]` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `mail.recipient_limit` per `mail.recipient_limit_window_minutes`.
    pub per_recipient: Limit,
    /// `mail.ticket_limit` per `mail.ticket_limit_window_minutes`.
    pub per_ticket: Limit,
    /// `mail.coalesce_minutes`: how long a notification waits for the next ones; zero sends
    /// each at once.
    pub coalesce: Duration,
}

/// The mails queued before this one within each window of the [`Policy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recent {
    /// To this recipient, within the per-recipient window.
    pub to_recipient: u64,
    /// About this ticket, to anyone, within the per-ticket window; `None` when the mail is
    /// about no ticket.
    pub about_ticket: Option<u64>,
}

/// Which limit held a mail back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// The recipient had their share within the window.
    Recipient,
    /// The ticket had made its share of mail within the window.
    Ticket,
}

impl Limited {
    /// The word recorded with the suppression.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recipient => "recipient_limit",
            Self::Ticket => "ticket_limit",
        }
    }
}

/// Whether a new mail of `class` may go to one recipient, given what `recent` counted.
pub fn admit(policy: &Policy, class: Class, recent: Recent) -> Result<(), Limited> {
    if class == Class::Personal {
        return Ok(());
    }
    if !policy.per_recipient.allows(recent.to_recipient) {
        return Err(Limited::Recipient);
    }
    match recent.about_ticket {
        Some(n) if !policy.per_ticket.allows(n) => Err(Limited::Ticket),
        _ => Ok(()),
    }
}

/// Whether mail of `class` is merged with others at all (and so gets a coalescing key).
pub fn coalesces(policy: &Policy, class: Class) -> bool {
    class == Class::Notification && policy.coalesce > Duration::zero()
}

/// Whether a notification joins the mail still waiting for the same people about the same
/// ticket, which tells `merged` events so far.
pub fn merges(policy: &Policy, class: Class, merged: Option<usize>) -> bool {
    coalesces(policy, class) && merged.is_some_and(|n| n < MAX_MERGED)
}

/// When a new mail of `class`, queued at `now`, is first due.
pub fn due_at(policy: &Policy, class: Class, now: DateTime<Utc>) -> DateTime<Utc> {
    if coalesces(policy, class) {
        now + policy.coalesce
    } else {
        now
    }
}

/// The coalescing key of a notification about ticket `ticket` (its row id) to `addresses`:
/// the same whatever the order or case of the addresses, different for any other ticket or
/// set of recipients.
pub fn coalesce_key<'a>(ticket: i64, addresses: impl IntoIterator<Item = &'a str>) -> String {
    let mut addresses: Vec<String> = addresses.into_iter().map(str::to_ascii_lowercase).collect();
    addresses.sort();
    addresses.dedup();
    format!("{ticket}:{}", addresses.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            per_recipient: Limit {
                count: 3,
                window: Duration::minutes(60),
            },
            per_ticket: Limit {
                count: 5,
                window: Duration::minutes(10),
            },
            coalesce: Duration::minutes(2),
        }
    }

    fn recent(to_recipient: u64, about_ticket: Option<u64>) -> Recent {
        Recent {
            to_recipient,
            about_ticket,
        }
    }

    #[test]
    fn limits_hold_back_automatic_mail_but_never_a_persons_reply() {
        use Class::*;
        let table = [
            (Notification, recent(0, Some(0)), Ok(())),
            (Notification, recent(2, Some(4)), Ok(())),
            (Notification, recent(3, Some(0)), Err(Limited::Recipient)),
            (Notification, recent(0, Some(5)), Err(Limited::Ticket)),
            (Notification, recent(9, Some(9)), Err(Limited::Recipient)),
            (Acknowledgement, recent(3, Some(0)), Err(Limited::Recipient)),
            (Acknowledgement, recent(2, None), Ok(())),
            (Acknowledgement, recent(0, Some(5)), Err(Limited::Ticket)),
            (Personal, recent(100, Some(100)), Ok(())),
        ];
        for (class, recent, want) in table {
            assert_eq!(
                admit(&policy(), class, recent),
                want,
                "{class:?} {recent:?}"
            );
        }
    }

    #[test]
    fn only_notifications_wait_and_merge() {
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(1);
        let off = Policy {
            coalesce: Duration::zero(),
            ..policy()
        };
        use Class::*;
        // (policy, class, events already merged in a pending mail, merges, due after)
        let table = [
            (policy(), Notification, Some(1), true, 2),
            (policy(), Notification, Some(MAX_MERGED - 1), true, 2),
            (policy(), Notification, Some(MAX_MERGED), false, 2),
            (policy(), Notification, None, false, 2),
            (policy(), Acknowledgement, Some(1), false, 0),
            (policy(), Personal, Some(1), false, 0),
            (off, Notification, Some(1), false, 0),
        ];
        for (p, class, merged, merge, minutes) in table {
            assert_eq!(merges(&p, class, merged), merge, "{class:?} {merged:?}");
            assert_eq!(
                due_at(&p, class, now),
                now + Duration::minutes(minutes),
                "{class:?}"
            );
        }
    }

    #[test]
    fn the_coalescing_key_names_the_ticket_and_the_set_of_recipients() {
        let key = coalesce_key(7, ["B@x.fr", "a@x.fr"]);
        assert_eq!(key, "7:a@x.fr,b@x.fr");
        assert_eq!(key, coalesce_key(7, ["a@x.fr", "b@x.fr", "A@X.fr"]));
        assert_ne!(key, coalesce_key(8, ["a@x.fr", "b@x.fr"]));
        assert_ne!(key, coalesce_key(7, ["a@x.fr"]));
    }

    #[test]
    fn a_limit_counts_a_sliding_window() {
        let limit = policy().per_recipient;
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(1);
        assert_eq!(limit.since(now), now - Duration::hours(1));
        for (queued, allowed) in [(0, true), (2, true), (3, false), (40, false)] {
            assert_eq!(limit.allows(queued), allowed, "{queued}");
        }
    }

    /// Replays arrivals (seconds) against one recipient's limit the way the outbox does:
    /// counts the mails queued in `(t - window, t]`, asks [`admit`], keeps those admitted.
    fn replay(arrivals: &[i64], limit: Limit) -> Vec<i64> {
        let p = Policy {
            per_recipient: limit,
            ..policy()
        };
        let window = limit.window.num_seconds();
        let mut sent: Vec<i64> = Vec::new();
        for &t in arrivals {
            let queued = sent.iter().filter(|&&s| s > t - window).count() as u64;
            if admit(&p, Class::Notification, recent(queued, None)).is_ok() {
                sent.push(t);
            }
        }
        sent
    }

    proptest::proptest! {
        /// Whatever the arrival times, no window of `window` seconds holds more than `count`
        /// mails, and a mail is only held back when the window before it is full.
        #[test]
        fn never_more_than_the_limit_in_any_window(
            mut arrivals in proptest::collection::vec(0i64..20_000, 0..300),
            count in 1u64..12,
            window in 1i64..4_000,
        ) {
            arrivals.sort_unstable();
            let limit = Limit { count, window: Duration::seconds(window) };
            let sent = replay(&arrivals, limit);
            for &end in &sent {
                let within = sent.iter().filter(|&&s| s > end - window && s <= end).count();
                proptest::prop_assert!(within as u64 <= count, "{within} mails in the window ending at {end}");
            }
            for &t in &arrivals {
                let held_back = arrivals.iter().filter(|&&a| a == t).count()
                    > sent.iter().filter(|&&s| s == t).count();
                if held_back {
                    let within = sent.iter().filter(|&&s| s > t - window && s <= t).count();
                    proptest::prop_assert_eq!(within as u64, count, "held back at {} with room", t);
                }
            }
        }
    }
}
