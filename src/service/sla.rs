//! Service levels over a ticket's life: each change of a ticket moves its clocks
//! ([`on_ticket`], in the caller's transaction, with `sla_*` events in the log), and the
//! escalator fires the deadlines that came due ([`fire_due`]): warnings, breaches and
//! escalation levels, each once, with their notices.
//!
//! The rules are `domain::sla`'s; the offer's policy is `offers[].sla`, its calendar
//! [`calendar`]. Each clock has at most one pending deadline row, its next rung: firing it
//! writes the next, a pause deletes it, a resume or a new budget writes it again.
//!
//! Exactly once: a rung fires in the transaction that marks its row fired, and only when the
//! domain, computing the clock again, agrees that this rung is due now ([`sla::decide`]). A
//! second pass finds the row fired; a second daemon on PostgreSQL skips the rows the first
//! has locked; a clock stepped back finds the rung not due (it waits) and nothing fired twice.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::notices::{self, Event};
use super::{Context, ServiceError};
use crate::config::OfferConfig;
use crate::domain::audience::Notice;
use crate::domain::calendar::Calendar;
use crate::domain::sla::{
    self, Clock, ClockChange, Decision, Level, Recipient, Target, TicketChange,
};
use crate::domain::{ContactId, EventKind, TicketId};
use crate::store::{AddressKind, ClockRow, DeadlineRow, NewEvent, TicketRow, Tx};

/// Deadlines fired per transaction: a backlog (after downtime) is worked through in batches.
const FIRE_BATCH: i64 = 50;
/// Batches per [`fire_due`] call at most, so one offer's backlog cannot hold the others.
const FIRE_BATCHES: usize = 20;

/// The offer's business calendar (`offers[].calendar`).
pub fn calendar(offer: &OfferConfig) -> &Calendar {
    &offer.calendar
}

/// An instant as people of the offer read it: `2026-12-04 14:00 (Europe/Paris)`.
fn local(offer: &OfferConfig, t: DateTime<Utc>) -> String {
    let zone = offer.calendar.time_zone();
    format!(
        "{} ({zone})",
        t.with_timezone(&zone).format("%Y-%m-%d %H:%M")
    )
}

/// The offer's day of an instant: `2026-12-04`.
pub fn local_date(offer: &OfferConfig, t: DateTime<Utc>) -> String {
    t.with_timezone(&offer.calendar.time_zone())
        .format("%Y-%m-%d")
        .to_string()
}

/// Moves the ticket's clocks for `change` (the ticket as it is after it), saves them with
/// their next deadlines, and logs each clock's change as an `sla_*` event by `actor`.
pub async fn on_ticket(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    ticket: &TicketRow,
    change: TicketChange,
    actor: &str,
) -> Result<(), ServiceError> {
    let now = ctx.clock.now();
    let cal = calendar(offer);
    let opened = change == TicketChange::Opened;
    // A new ticket has no clocks nor deadlines yet: two reads spared on the hot path.
    let mut clocks: Vec<Clock> = if opened {
        Vec::new()
    } else {
        tx.sla_clocks(ticket.id)
            .await?
            .iter()
            .map(ClockRow::clock)
            .collect()
    };
    let before = clocks.clone();
    let budgets = offer.sla.budgets(ticket.kind, ticket.priority);
    let changes = sla::apply(
        &mut clocks,
        change,
        (&offer.sla, budgets, ticket.status),
        now,
        cal,
    );
    if changes.is_empty() {
        return Ok(());
    }
    let deadlines = if opened {
        Vec::new()
    } else {
        tx.sla_deadlines(ticket.id).await?
    };
    for clock in clocks.iter().filter(|c| !before.contains(c)) {
        tx.save_sla_clock(ticket.id, clock).await?;
        let fired = fired_levels(&deadlines, clock);
        let rungs = sla::ladder(&offer.sla, clock.budget);
        let next = sla::next_deadline(clock, &rungs, &fired, cal);
        if next.is_some_and(|(_, due)| ctx.deadlines.is_earlier(due)) {
            tx.wake_on_commit(&ctx.deadlines.notify);
        }
        if opened {
            tx.add_deadline(ticket.id, clock, next).await?;
        } else {
            tx.set_pending_deadline(ticket.id, clock, next).await?;
        }
    }
    for (target, what) in changes {
        let Some(clock) = clocks.iter().find(|c| c.target == target) else {
            continue;
        };
        let data = json!({
            "target": target,
            "budget_secs": clock.budget.num_seconds(),
            "used_secs": clock.used_at(now, cal).num_seconds(),
            "round": clock.round,
            "due_at": clock.breach_at(cal),
        });
        tx.insert_event(&NewEvent {
            ticket: Some(ticket.id),
            actor,
            kind: event_kind(what),
            data: &data,
            now,
        })
        .await?;
    }
    Ok(())
}

fn event_kind(change: ClockChange) -> EventKind {
    match change {
        ClockChange::Started => EventKind::SlaStarted,
        ClockChange::Paused => EventKind::SlaPaused,
        ClockChange::Resumed => EventKind::SlaResumed,
        ClockChange::FirstResponse => EventKind::SlaFirstResponse,
        ClockChange::Resolved => EventKind::SlaResolved,
        ClockChange::Reopened => EventKind::SlaReopened,
        ClockChange::Retargeted => EventKind::SlaRetargeted,
    }
}

/// The rungs of `clock`'s current period that fired.
fn fired_levels(deadlines: &[DeadlineRow], clock: &Clock) -> Vec<Level> {
    deadlines
        .iter()
        .filter(|d| d.target == clock.target && d.round == i64::from(clock.round))
        .filter(|d| d.fired_at.is_some())
        .filter_map(DeadlineRow::level)
        .collect()
}

/// The offer's earliest pending deadline.
pub async fn next_due(
    ctx: &Context,
    offer: &OfferConfig,
) -> Result<Option<DateTime<Utc>>, ServiceError> {
    let mut tx = ctx.store.begin(&offer.code).await?;
    let due = tx.earliest_deadline().await?;
    tx.commit().await?;
    Ok(due)
}

/// Fires the offer's deadlines due at the clock's `now`; returns how many fired. Each batch
/// is one transaction: the rows, the clocks, the events and the notices together.
pub async fn fire_due(ctx: &Context, offer: &OfferConfig) -> Result<usize, ServiceError> {
    let mut fired = 0;
    for _ in 0..FIRE_BATCHES {
        let now = ctx.clock.now();
        let mut tx = ctx.store.begin(&offer.code).await?;
        let due = tx.claim_due_deadlines(now, FIRE_BATCH).await?;
        if due.is_empty() {
            tx.commit().await?;
            break;
        }
        for row in &due {
            if fire_one(ctx, &mut tx, offer, row, now).await? {
                fired += 1;
            }
        }
        tx.commit().await?;
    }
    Ok(fired)
}

/// Decides one due row and acts on it; true when it fired.
async fn fire_one(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    row: &DeadlineRow,
    now: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    let cal = calendar(offer);
    let Some(level) = row.level() else {
        // A name of a later version: leave it to that version.
        return Ok(false);
    };
    let Some(ticket) = tx.ticket(row.ticket_id).await? else {
        return Ok(false);
    };
    let clock = tx
        .sla_clocks(ticket.id)
        .await?
        .iter()
        .find(|c| c.target == row.target)
        .map(ClockRow::clock);
    let deadlines = tx.sla_deadlines(ticket.id).await?;
    let rungs = clock
        .as_ref()
        .map(|c| sla::ladder(&offer.sla, c.budget))
        .unwrap_or_default();
    let fired = clock
        .as_ref()
        .map(|c| fired_levels(&deadlines, c))
        .unwrap_or_default();
    let round = i32::try_from(row.round).unwrap_or(i32::MAX);
    let decision = sla::decide(clock.as_ref(), (level, round), &rungs, &fired, now, cal);
    let Some(mut clock) = clock else {
        // No clock for this row any more: nothing will ever make it due.
        tx.set_pending_deadline(
            ticket.id,
            &Clock::start(row.target, chrono::TimeDelta::zero(), now, true),
            None,
        )
        .await?;
        return Ok(false);
    };
    match decision {
        Decision::Postpone(due) => {
            tx.set_pending_deadline(ticket.id, &clock, Some((level, due)))
                .await?;
            return Ok(false);
        }
        Decision::Replace => {
            let next = sla::next_deadline(&clock, &rungs, &fired, cal);
            tx.set_pending_deadline(ticket.id, &clock, next).await?;
            return Ok(false);
        }
        Decision::Fire => {}
    }
    if !tx.mark_deadline_fired(row, now).await? {
        return Ok(false);
    }
    if level == Level::Breach {
        clock.breached_at = Some(row.due_at);
        tx.save_sla_clock(ticket.id, &clock).await?;
    }
    let mut fired = fired;
    fired.push(level);
    let next = sla::next_deadline(&clock, &rungs, &fired, cal);
    tx.set_pending_deadline(ticket.id, &clock, next).await?;

    let (kind, notice) = match level {
        Level::Warning => (EventKind::SlaWarned, Notice::SlaWarning),
        Level::Breach => (EventKind::SlaBreached, Notice::SlaBreach),
        Level::Escalation(_) => (EventKind::SlaEscalated, Notice::Escalated),
    };
    let named = match level {
        Level::Escalation(n) => named(tx, offer, &ticket, n, now).await?,
        _ => Vec::new(),
    };
    let left = clock.left_at(now, cal);
    let data = json!({
        "target": row.target,
        "level": level.name(),
        "round": row.round,
        "due_at": row.due_at,
        "late_ms": (now - row.due_at).num_milliseconds(),
        "left_secs": left.num_seconds(),
        "notified": named,
    });
    tx.insert_event(&NewEvent {
        ticket: Some(ticket.id),
        actor: "system:escalator",
        kind,
        data: &data,
        now,
    })
    .await?;
    let sla = json!({
        "target": row.target,
        "due_at": local(offer, clock.breach_at(cal).unwrap_or(row.due_at)),
        "left": sla::format_duration(left),
        "level": match level { Level::Escalation(n) => n, _ => 0 },
    });
    let event = Event::Sla { notice, sla, named };
    notices::notify(ctx, tx, offer, &ticket, &event, None).await?;
    Ok(true)
}

/// The contacts escalation level `n` names, among the offer's agents and governance contacts
/// (`audience` keeps anyone else out anyway).
async fn named(
    tx: &mut Tx,
    offer: &OfferConfig,
    ticket: &TicketRow,
    n: u8,
    now: DateTime<Utc>,
) -> Result<Vec<ContactId>, ServiceError> {
    let Some(level) = offer.sla.levels.get(usize::from(n).saturating_sub(1)) else {
        return Ok(Vec::new());
    };
    let people = tx.audience(ticket.id, now).await?;
    let mut out = Vec::new();
    for recipient in &level.notify {
        let ids: Vec<ContactId> = match recipient {
            Recipient::Agents => people
                .iter()
                .filter(|p| p.agent)
                .map(|p| p.contact_id)
                .collect(),
            Recipient::Governance => people
                .iter()
                .filter(|p| p.governance)
                .map(|p| p.contact_id)
                .collect(),
            Recipient::Assignee => match ticket.assignee_id {
                Some(id) => vec![id],
                None => people
                    .iter()
                    .filter(|p| p.agent)
                    .map(|p| p.contact_id)
                    .collect(),
            },
            Recipient::Contact(address) => tx
                .contact_by_address(AddressKind::Email, address)
                .await?
                .map(|c| c.id)
                .into_iter()
                .collect(),
        };
        for id in ids {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

/// Writes again the pending deadline of every running clock of the offer whose next rung,
/// from the calendar and policy loaded now, is not the one stored (at start: a changed
/// calendar or policy moves them). A share of [`RECOMPUTE_SHARE`] tickets at a time, read in
/// three statements in a transaction that takes no write lock; only a share with a deadline
/// to move is read again and written under the write lock. So a start with nothing changed
/// holds up no one, and a million open tickets are looked at in seconds. Returns how many
/// clocks got a new deadline.
pub async fn recompute(ctx: &Context, offer: &OfferConfig) -> Result<usize, ServiceError> {
    let mut moved = 0;
    let mut after = TicketId(0);
    loop {
        let mut read = ctx.store.begin_read(&offer.code).await?;
        let tickets = read
            .tickets_with_running_clocks(after, RECOMPUTE_SHARE)
            .await?;
        let (Some(&first), Some(&last)) = (tickets.first(), tickets.last()) else {
            read.rollback().await?;
            break;
        };
        let stale = moves(&mut read, offer, (first, last)).await?;
        read.rollback().await?;
        if !stale.is_empty() {
            // Read again under the write lock: a ticket may have changed meanwhile.
            let mut tx = ctx.store.begin(&offer.code).await?;
            let moves = moves(&mut tx, offer, (first, last)).await?;
            for (ticket, clock, next) in &moves {
                tx.set_pending_deadline(*ticket, clock, *next).await?;
            }
            if !moves.is_empty() {
                tx.wake_on_commit(&ctx.deadlines.notify);
            }
            tx.commit().await?;
            moved += moves.len();
        }
        after = last;
    }
    Ok(moved)
}

/// A clock whose pending deadline is not its next rung: its ticket, itself, and that rung.
type Move = (TicketId, Clock, Option<(Level, DateTime<Utc>)>);

/// The running clocks of the tickets from `first` to `last` whose pending deadline is not
/// the next rung computed now.
async fn moves(
    tx: &mut Tx,
    offer: &OfferConfig,
    range: (TicketId, TicketId),
) -> Result<Vec<Move>, ServiceError> {
    let cal = calendar(offer);
    let clocks = tx.running_sla_clocks(range).await?;
    let deadlines = tx.sla_deadlines_between(range).await?;
    let mut out = Vec::new();
    for row in &clocks {
        let clock = row.clock();
        let of_ticket = of_ticket(&deadlines, row.ticket_id);
        let fired = fired_levels(of_ticket, &clock);
        let rungs = sla::ladder(&offer.sla, clock.budget);
        let next = sla::next_deadline(&clock, &rungs, &fired, cal);
        if !is_pending(of_ticket, &clock, next) {
            out.push((row.ticket_id, clock, next));
        }
    }
    Ok(out)
}

/// Tickets looked at per transaction by [`recompute`].
const RECOMPUTE_SHARE: i64 = 5_000;

/// The rows of `ticket` among `rows`, which are sorted by ticket.
fn of_ticket(rows: &[DeadlineRow], ticket: TicketId) -> &[DeadlineRow] {
    let start = rows.partition_point(|d| d.ticket_id < ticket);
    let end = rows.partition_point(|d| d.ticket_id <= ticket);
    rows.get(start..end).unwrap_or_default()
}

/// Whether `next` is exactly what is stored pending for the clock (nothing to write).
fn is_pending(rows: &[DeadlineRow], clock: &Clock, next: Option<(Level, DateTime<Utc>)>) -> bool {
    let mut pending = rows
        .iter()
        .filter(|d| d.target == clock.target && d.fired_at.is_none());
    match (pending.next(), pending.next(), next) {
        (None, None, None) => true,
        (Some(d), None, Some((level, due))) => {
            d.round == i64::from(clock.round) && d.level == level.name() && d.due_at == due
        }
        _ => false,
    }
}

/// A clock's state for `ticket show`: its target, state, due instant and business time left.
#[derive(Debug, serde::Serialize)]
pub struct ClockView {
    pub target: Target,
    pub state: sla::ClockState,
    pub budget_secs: i64,
    /// When it runs out (or ran out), `None` while paused.
    pub due_at: Option<DateTime<Utc>>,
    /// The same in the offer's time zone, as people read it.
    pub due_local: Option<String>,
    /// Business time left now (negative: overdue).
    pub left_secs: i64,
    pub breached: bool,
    /// The next pending rung, if any.
    pub next: Option<(String, DateTime<Utc>)>,
}

/// The ticket's clocks as of now.
pub async fn clocks(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    ticket: &TicketRow,
) -> Result<Vec<ClockView>, ServiceError> {
    let now = ctx.clock.now();
    let cal = calendar(offer);
    let deadlines = tx.sla_deadlines(ticket.id).await?;
    Ok(tx
        .sla_clocks(ticket.id)
        .await?
        .iter()
        .map(|row| {
            let clock = row.clock();
            let next = deadlines
                .iter()
                .find(|d| d.target == clock.target && d.fired_at.is_none())
                .map(|d| (d.level.clone(), d.due_at));
            ClockView {
                target: clock.target,
                state: clock.state(),
                budget_secs: clock.budget.num_seconds(),
                due_at: clock.breach_at(cal),
                due_local: clock.breach_at(cal).map(|t| local(offer, t)),
                left_secs: clock.left_at(now, cal).num_seconds(),
                breached: clock.is_breached(now, cal),
                next,
            }
        })
        .collect())
}
