//! Service levels, decided from values: an offer's policy (targets per kind and priority, a
//! warning threshold, escalation levels), a ticket's clocks (the business time each target has
//! used, paused, met) and the ladder of deadlines each clock climbs (warning, breach, L1, L2…).
//!
//! A clock counts business time only, through the offer's calendar ([`BusinessCalendar`]).
//! It keeps what it used before its current run (`used`) and since when it runs
//! (`running_since`), so pausing and resuming never lose or double a second, and a change of
//! budget (a priority raised) or of calendar recomputes its deadlines from the same facts.
//!
//! The ladder is positions on the clock's own time: the warning at a share of the budget, the
//! breach at the budget, each escalation level at the budget plus its delay. A level allowed to
//! fire outside business hours counts its delay in wall-clock time from the breach instead, so
//! that "the on-call manager after one hour, night or day" means one hour. Only the next rung
//! of each clock is a deadline row at a time ([`next_deadline`]); firing it writes the next one.
//! A rung that may not fire while the calendar is closed (every warning) waits for the next
//! open instant.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::ticket::{NameError, Priority, Status, TicketKind, text_enum};

/// What the SLA rules need of a calendar: business time between instants, an instant plus a
/// business duration, and the next open instant. `None` when the calendar never opens again
/// within its search horizon (a misconfiguration the calendar refuses at load).
pub trait BusinessCalendar: Send + Sync {
    /// Business time in `[from, to)`, zero when `to <= from`.
    fn business_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta;
    /// The instant at which `d` of business time has passed since `from`.
    fn add_business(&self, from: DateTime<Utc>, d: TimeDelta) -> Option<DateTime<Utc>>;
    /// `at` when open, else the start of the next open interval.
    fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>>;
}

/// A calendar open at every instant: wall-clock time.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysOpen;

impl BusinessCalendar for AlwaysOpen {
    fn business_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        (to - from).max(TimeDelta::zero())
    }
    fn add_business(&self, from: DateTime<Utc>, d: TimeDelta) -> Option<DateTime<Utc>> {
        from.checked_add_signed(d.max(TimeDelta::zero()))
    }
    fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        Some(at)
    }
}

impl BusinessCalendar for super::calendar::Calendar {
    fn business_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        super::calendar::Calendar::business_time(self, from, to)
    }
    fn add_business(&self, from: DateTime<Utc>, d: TimeDelta) -> Option<DateTime<Utc>> {
        super::calendar::Calendar::add_business(self, from, d)
    }
    fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        super::calendar::Calendar::next_open(self, at)
    }
}

/// What a clock measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// From the ticket's opening to the first answer of an agent.
    FirstResponse,
    /// From the ticket's opening to its resolution.
    Resolution,
    /// From each answer of an agent to the next one, until the resolution.
    Update,
}

text_enum!(Target, "SLA target", {
    FirstResponse => "first_response",
    Resolution => "resolution",
    Update => "update",
});

/// A policy's budgets for one ticket: each target's business time, if it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Budgets {
    /// First response.
    pub first_response: Option<TimeDelta>,
    /// Resolution.
    pub resolution: Option<TimeDelta>,
    /// Time between agents' updates.
    pub update: Option<TimeDelta>,
}

impl Budgets {
    /// The budget of `target`.
    pub fn of(&self, target: Target) -> Option<TimeDelta> {
        match target {
            Target::FirstResponse => self.first_response,
            Target::Resolution => self.resolution,
            Target::Update => self.update,
        }
    }
}

/// Budgets for the tickets of a kind and/or a priority (`None`: any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRule {
    /// The kind it applies to, or every kind.
    pub kind: Option<TicketKind>,
    /// The priority it applies to, or every priority.
    pub priority: Option<Priority>,
    /// Its budgets.
    pub budgets: Budgets,
}

/// Who an escalation level tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// Every agent of the offer.
    Agents,
    /// The agent the ticket is assigned to (the agents when nobody is).
    Assignee,
    /// The offer's governance contacts.
    Governance,
    /// One contact of the offer (an agent or a governance contact), by address.
    Contact(String),
}

impl FromStr for Recipient {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "agents" => Ok(Self::Agents),
            "assignee" => Ok(Self::Assignee),
            "governance" => Ok(Self::Governance),
            a if a.contains('@') && !a.contains(char::is_whitespace) => {
                Ok(Self::Contact(a.to_ascii_lowercase()))
            }
            other => Err(format!(
                "{other:?} is none of agents, assignee, governance or a contact's address"
            )),
        }
    }
}

/// One escalation level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationLevel {
    /// How long after the breach it fires: business time, or wall-clock time when
    /// `outside_hours`.
    pub after: TimeDelta,
    /// Who it tells.
    pub notify: Vec<Recipient>,
    /// May fire while the calendar is closed (its delay is then wall-clock time).
    pub outside_hours: bool,
}

/// What stops the first-response clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstResponseBy {
    /// An agent's answer (mail, chat or CLI).
    Reply,
    /// An agent's answer, or the ticket's assignment.
    ReplyOrAssignment,
}

/// An offer's service levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Budgets by kind and priority; the most specific rule that matches wins.
    pub rules: Vec<TargetRule>,
    /// The warning, as a percentage of the budget (1 to 99), if any.
    pub warning_percent: Option<u8>,
    /// The escalation levels, L1 first.
    pub levels: Vec<EscalationLevel>,
    /// The statuses that stop the clocks (the requester's turn).
    pub pause: Vec<Status>,
    /// What counts as the first response.
    pub first_response_by: FirstResponseBy,
}

impl Policy {
    /// ESUP's usual commitments, in business time: critical 1 h / 4 h, high 2 h / 16 h
    /// (two days), normal 4 h / 40 h (a week), low 8 h / 80 h; a warning at 75 %; L1 the
    /// agents 1 h after a breach, L2 the governance contacts 8 h after; paused while waiting
    /// for the requester; the first answer of an agent is the first response.
    pub fn esup_default() -> Self {
        let rule = |priority, first: i64, resolution: i64| TargetRule {
            kind: None,
            priority: Some(priority),
            budgets: Budgets {
                first_response: Some(TimeDelta::hours(first)),
                resolution: Some(TimeDelta::hours(resolution)),
                update: None,
            },
        };
        Self {
            rules: vec![
                rule(Priority::Critical, 1, 4),
                rule(Priority::High, 2, 16),
                rule(Priority::Normal, 4, 40),
                rule(Priority::Low, 8, 80),
            ],
            warning_percent: Some(75),
            levels: vec![
                EscalationLevel {
                    after: TimeDelta::hours(1),
                    notify: vec![Recipient::Agents],
                    outside_hours: false,
                },
                EscalationLevel {
                    after: TimeDelta::hours(8),
                    notify: vec![Recipient::Governance],
                    outside_hours: false,
                },
            ],
            pause: vec![Status::WaitingCustomer],
            first_response_by: FirstResponseBy::Reply,
        }
    }

    /// The budgets of a ticket of this kind and priority: those of the matching rule that
    /// names the most (kind and priority, then priority, then kind, then neither); the first
    /// listed among equals.
    pub fn budgets(&self, kind: TicketKind, priority: Priority) -> Budgets {
        self.rules
            .iter()
            .filter(|r| r.kind.is_none_or(|k| k == kind))
            .filter(|r| r.priority.is_none_or(|p| p == priority))
            .min_by_key(|r| match (r.kind.is_some(), r.priority.is_some()) {
                (true, true) => 0,
                (false, true) => 1,
                (true, false) => 2,
                (false, false) => 3,
            })
            .map(|r| r.budgets)
            .unwrap_or_default()
    }

    /// Does `status` stop the clocks.
    pub fn pauses(&self, status: Status) -> bool {
        self.pause.contains(&status)
    }
}

/// A rung of a clock's ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// The budget is nearly used.
    Warning,
    /// The budget is used.
    Breach,
    /// Escalation level `n` (1 = L1).
    Escalation(u8),
}

impl Level {
    /// Its name in the store and the event log: `warning`, `breach`, `L1`, `L2`…
    pub fn name(self) -> String {
        match self {
            Level::Warning => "warning".to_owned(),
            Level::Breach => "breach".to_owned(),
            Level::Escalation(n) => format!("L{n}"),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.name())
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "warning" => Ok(Self::Warning),
            "breach" => Ok(Self::Breach),
            _ => s
                .strip_prefix('L')
                .and_then(|n| n.parse::<u8>().ok())
                .filter(|n| *n > 0)
                .map(Self::Escalation)
                .ok_or_else(|| format!("unknown SLA level {s:?}")),
        }
    }
}

impl TryFrom<String> for Level {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        s.parse().map_err(NameError)
    }
}

/// Where a rung sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// When the clock has used this much business time.
    Used(TimeDelta),
    /// This long (wall-clock time) after the breach.
    AfterBreach(TimeDelta),
}

/// One rung of a clock's ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rung {
    /// Which.
    pub level: Level,
    /// Where.
    pub position: Position,
    /// May fire while the calendar is closed; otherwise it waits for the next open instant.
    pub outside_hours: bool,
}

/// The rungs of a clock with this budget under `policy`, in the order they fire.
pub fn ladder(policy: &Policy, budget: TimeDelta) -> Vec<Rung> {
    let mut rungs = Vec::with_capacity(2 + policy.levels.len());
    if let Some(percent) = policy.warning_percent.filter(|p| (1..100).contains(p)) {
        rungs.push(Rung {
            level: Level::Warning,
            position: Position::Used(budget * i32::from(percent) / 100),
            outside_hours: false,
        });
    }
    rungs.push(Rung {
        level: Level::Breach,
        position: Position::Used(budget),
        outside_hours: true,
    });
    for (i, level) in policy.levels.iter().enumerate() {
        let n = u8::try_from(i + 1).unwrap_or(u8::MAX);
        rungs.push(Rung {
            level: Level::Escalation(n),
            position: if level.outside_hours {
                Position::AfterBreach(level.after)
            } else {
                Position::Used(budget + level.after)
            },
            outside_hours: level.outside_hours,
        });
    }
    rungs
}

/// Where a clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Counting.
    Running,
    /// Stopped for now (the requester's turn).
    Paused,
    /// Stopped for good: the target was reached (in time or not).
    Met,
}

/// One target's clock on one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    /// What it measures.
    pub target: Target,
    /// The business time allowed.
    pub budget: TimeDelta,
    /// Business time used before `running_since`.
    pub used: TimeDelta,
    /// Since when it counts; `None` while paused or met.
    pub running_since: Option<DateTime<Utc>>,
    /// The update clock's period (it starts again at each answer); 0 for the others.
    pub round: i32,
    /// When its target was reached.
    pub met_at: Option<DateTime<Utc>>,
    /// When it ran out (the breach's instant, not when it was noticed).
    pub breached_at: Option<DateTime<Utc>>,
}

impl Clock {
    /// A clock starting at `now`, running unless `paused`.
    pub fn start(target: Target, budget: TimeDelta, now: DateTime<Utc>, paused: bool) -> Self {
        Self {
            target,
            budget,
            used: TimeDelta::zero(),
            running_since: (!paused).then_some(now),
            round: 0,
            met_at: None,
            breached_at: None,
        }
    }

    /// Running, paused or met.
    pub fn state(&self) -> ClockState {
        match (self.met_at, self.running_since) {
            (Some(_), _) => ClockState::Met,
            (None, Some(_)) => ClockState::Running,
            (None, None) => ClockState::Paused,
        }
    }

    /// Business time used at `now`.
    pub fn used_at(&self, now: DateTime<Utc>, cal: &dyn BusinessCalendar) -> TimeDelta {
        match self.running_since {
            Some(since) => self.used + cal.business_time(since, now),
            None => self.used,
        }
    }

    /// Business time left at `now` (negative once overdue).
    pub fn left_at(&self, now: DateTime<Utc>, cal: &dyn BusinessCalendar) -> TimeDelta {
        self.budget - self.used_at(now, cal)
    }

    /// The instant it runs out: when it did, or when it will if it keeps running; `None` while
    /// paused or met before running out.
    pub fn breach_at(&self, cal: &dyn BusinessCalendar) -> Option<DateTime<Utc>> {
        if self.breached_at.is_some() {
            return self.breached_at;
        }
        self.instant_of_used(self.budget, cal)
    }

    /// The instant it will have used `used` of business time, when running.
    fn instant_of_used(
        &self,
        used: TimeDelta,
        cal: &dyn BusinessCalendar,
    ) -> Option<DateTime<Utc>> {
        let since = self.running_since?;
        if used <= self.used {
            return Some(since);
        }
        cal.add_business(since, used - self.used)
    }

    /// Stops counting at `now`; false when it was not running.
    pub fn pause(&mut self, now: DateTime<Utc>, cal: &dyn BusinessCalendar) -> bool {
        if self.running_since.is_none() {
            return false;
        }
        self.used = self.used_at(now, cal);
        self.running_since = None;
        true
    }

    /// Counts again from `now`; false when it was not paused.
    pub fn resume(&mut self, now: DateTime<Utc>) -> bool {
        if self.state() != ClockState::Paused {
            return false;
        }
        self.running_since = Some(now);
        true
    }

    /// Its target is reached at `now`; false when it already was.
    pub fn meet(&mut self, now: DateTime<Utc>, cal: &dyn BusinessCalendar) -> bool {
        if self.met_at.is_some() {
            return false;
        }
        self.pause(now, cal);
        self.met_at = Some(now);
        true
    }

    /// A met clock counts again from `now`, with the time it had used (a reopened ticket's
    /// resolution); unless `paused`. False when it was not met.
    pub fn reopen(&mut self, now: DateTime<Utc>, paused: bool) -> bool {
        if self.met_at.take().is_none() {
            return false;
        }
        self.running_since = (!paused).then_some(now);
        true
    }

    /// A new period from `now` with a fresh budget (the update clock, at each answer).
    pub fn restart(&mut self, now: DateTime<Utc>, paused: bool) {
        *self = Self {
            round: self.round + 1,
            ..Self::start(self.target, self.budget, now, paused)
        };
    }

    /// Did it run out before it was met (or by `now`, when it still runs).
    pub fn is_breached(&self, now: DateTime<Utc>, cal: &dyn BusinessCalendar) -> bool {
        self.breached_at.is_some() || self.used_at(self.met_at.unwrap_or(now), cal) > self.budget
    }
}

/// The clock's next rung not yet fired, and the instant it is due; `None` when the clock does
/// not run or every rung fired.
pub fn next_deadline(
    clock: &Clock,
    rungs: &[Rung],
    fired: &[Level],
    cal: &dyn BusinessCalendar,
) -> Option<(Level, DateTime<Utc>)> {
    let since = clock.running_since?;
    if clock.met_at.is_some() {
        return None;
    }
    let rung = rungs.iter().find(|r| !fired.contains(&r.level))?;
    let due = match rung.position {
        Position::Used(used) => clock.instant_of_used(used, cal)?,
        Position::AfterBreach(after) => {
            let breach = clock.breach_at(cal)?;
            breach.checked_add_signed(after)?.max(since)
        }
    };
    let due = if rung.outside_hours {
        due
    } else {
        cal.next_open(due)?
    };
    Some((rung.level, due))
}

/// What to do with a deadline row that came due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Fire it now.
    Fire,
    /// It is not due after all (the calendar changed, the clock was stepped back): keep it
    /// for this instant.
    Postpone(DateTime<Utc>),
    /// It no longer stands (the clock paused, met, or moved on): replace it with the clock's
    /// next deadline, if any.
    Replace,
}

/// Decides a deadline row (`level`, of the clock's `round`) found due at `now`, by computing
/// again what the clock's next deadline is: a row fires only when it is still that deadline
/// and its instant has come. That makes firing idempotent and immune to stale rows.
pub fn decide(
    clock: Option<&Clock>,
    (level, round): (Level, i32),
    rungs: &[Rung],
    fired: &[Level],
    now: DateTime<Utc>,
    cal: &dyn BusinessCalendar,
) -> Decision {
    let Some(clock) = clock.filter(|c| c.round == round) else {
        return Decision::Replace;
    };
    match next_deadline(clock, rungs, fired, cal) {
        Some((next, due)) if next == level && due <= now => Decision::Fire,
        Some((next, due)) if next == level => Decision::Postpone(due),
        _ => Decision::Replace,
    }
}

/// A change of a clock, as the event log records it (`sla_<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockChange {
    /// It started counting.
    Started,
    /// It stopped for now.
    Paused,
    /// It counts again.
    Resumed,
    /// The first response was given.
    FirstResponse,
    /// The ticket was resolved: the clock is met.
    Resolved,
    /// The ticket was reopened: the resolution clock counts again.
    Reopened,
    /// Its budget changed (priority or kind).
    Retargeted,
}

/// What happened to a ticket, as far as its clocks go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketChange {
    /// It was opened, in this status, with these budgets.
    Opened,
    /// Its status went from one to another.
    Status(Status, Status),
    /// An agent answered (mail, chat or CLI).
    AgentAnswered,
    /// It was assigned.
    Assigned,
    /// Its kind or priority changed: these are the new budgets.
    Retargeted(Budgets),
}

/// Applies `change` at `now` to a ticket's `clocks` (in `status` after the change), starting
/// the clocks the budgets call for. Returns each clock's change, in order.
pub fn apply(
    clocks: &mut Vec<Clock>,
    change: TicketChange,
    (policy, budgets, status): (&Policy, Budgets, Status),
    now: DateTime<Utc>,
    cal: &dyn BusinessCalendar,
) -> Vec<(Target, ClockChange)> {
    let paused = policy.pauses(status);
    let mut out = Vec::new();
    let start = |clocks: &mut Vec<Clock>, target: Target, out: &mut Vec<_>| {
        if let Some(budget) = budgets.of(target) {
            clocks.push(Clock::start(target, budget, now, paused));
            out.push((target, ClockChange::Started));
        }
    };
    let has = |clocks: &[Clock], target| clocks.iter().any(|c| c.target == target);
    match change {
        TicketChange::Opened => {
            start(clocks, Target::FirstResponse, &mut out);
            start(clocks, Target::Resolution, &mut out);
        }
        TicketChange::AgentAnswered | TicketChange::Assigned => {
            let answers = change == TicketChange::AgentAnswered
                || policy.first_response_by == FirstResponseBy::ReplyOrAssignment;
            if !answers || !status.is_open() {
                return out;
            }
            for c in clocks
                .iter_mut()
                .filter(|c| c.target == Target::FirstResponse)
            {
                if c.meet(now, cal) {
                    out.push((c.target, ClockChange::FirstResponse));
                }
            }
            if change == TicketChange::AgentAnswered {
                match clocks.iter_mut().find(|c| c.target == Target::Update) {
                    Some(c) => {
                        c.restart(now, paused);
                        out.push((c.target, ClockChange::Started));
                    }
                    None => start(clocks, Target::Update, &mut out),
                }
            }
        }
        TicketChange::Status(from, to) => {
            let (was_open, is_open) = (from.is_open(), to.is_open());
            for c in clocks.iter_mut() {
                let changed = match (was_open, is_open) {
                    (true, false) => c.meet(now, cal).then_some(match c.target {
                        Target::FirstResponse => ClockChange::FirstResponse,
                        _ => ClockChange::Resolved,
                    }),
                    (false, true) => (c.target == Target::Resolution && c.reopen(now, paused))
                        .then_some(ClockChange::Reopened),
                    (true, true) if paused => c.pause(now, cal).then_some(ClockChange::Paused),
                    (true, true) => c.resume(now).then_some(ClockChange::Resumed),
                    (false, false) => None,
                };
                if let Some(changed) = changed {
                    out.push((c.target, changed));
                }
            }
            if !was_open && is_open && !has(clocks, Target::Resolution) {
                start(clocks, Target::Resolution, &mut out);
            }
        }
        TicketChange::Retargeted(new) => {
            // A met clock's budget is history: its target was reached, or missed, under it.
            for c in clocks.iter_mut().filter(|c| c.met_at.is_none()) {
                if let Some(budget) = new.of(c.target).filter(|b| *b != c.budget) {
                    c.budget = budget;
                    out.push((c.target, ClockChange::Retargeted));
                }
            }
        }
    }
    out
}

/// A business duration for people: `1 h 30 min`, `45 min`, `2 j 3 h` is left to templates;
/// this gives hours and minutes, rounded down to the minute (`0 min` under one).
pub fn format_duration(d: TimeDelta) -> String {
    let minutes = d.num_minutes().abs();
    let (h, m) = (minutes / 60, minutes % 60);
    match (h, m) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, h, m, 0).unwrap()
    }

    /// Open 8h-18h UTC every day: enough to see business time differ from wall time.
    struct Day;
    impl BusinessCalendar for Day {
        fn business_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
            let mut t = from;
            let mut total = TimeDelta::zero();
            while t < to {
                if self.next_open(t) == Some(t) {
                    total += TimeDelta::minutes(1);
                }
                t += TimeDelta::minutes(1);
            }
            total
        }
        fn add_business(&self, from: DateTime<Utc>, d: TimeDelta) -> Option<DateTime<Utc>> {
            let mut t = self.next_open(from)?;
            let mut left = d;
            while left > TimeDelta::zero() {
                t += TimeDelta::minutes(1);
                left -= TimeDelta::minutes(1);
                t = if left > TimeDelta::zero() {
                    self.next_open(t)?
                } else {
                    t
                };
            }
            Some(t)
        }
        fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
            use chrono::Timelike;
            let day = at.date_naive();
            let open = Utc.from_utc_datetime(&day.and_hms_opt(8, 0, 0)?);
            match at.hour() {
                h if h < 8 => Some(open),
                h if h >= 18 => Some(open + TimeDelta::days(1)),
                _ => Some(at),
            }
        }
    }

    fn policy(warning: Option<u8>, levels: &[(i64, bool)]) -> Policy {
        Policy {
            warning_percent: warning,
            levels: levels
                .iter()
                .map(|&(hours, outside_hours)| EscalationLevel {
                    after: TimeDelta::hours(hours),
                    notify: vec![Recipient::Agents],
                    outside_hours,
                })
                .collect(),
            ..Policy::esup_default()
        }
    }

    #[test]
    fn the_most_specific_rule_gives_the_budgets() {
        let b = |h| Budgets {
            first_response: Some(TimeDelta::hours(h)),
            ..Budgets::default()
        };
        let rule = |kind, priority, h| TargetRule {
            kind,
            priority,
            budgets: b(h),
        };
        let p = Policy {
            rules: vec![
                rule(None, None, 9),
                rule(Some(TicketKind::Change), None, 7),
                rule(None, Some(Priority::High), 2),
                rule(Some(TicketKind::Incident), Some(Priority::High), 1),
            ],
            ..Policy::esup_default()
        };
        let table = [
            (TicketKind::Incident, Priority::High, 1),
            (TicketKind::Request, Priority::High, 2),
            (TicketKind::Change, Priority::High, 2),
            (TicketKind::Change, Priority::Low, 7),
            (TicketKind::Request, Priority::Low, 9),
        ];
        for (kind, priority, hours) in table {
            assert_eq!(p.budgets(kind, priority), b(hours), "{kind} {priority}");
        }
        let none = Policy {
            rules: vec![],
            ..Policy::esup_default()
        };
        assert_eq!(
            none.budgets(TicketKind::Incident, Priority::Low),
            Budgets::default()
        );
    }

    #[test]
    fn levels_read_back_their_names() {
        for level in [
            Level::Warning,
            Level::Breach,
            Level::Escalation(1),
            Level::Escalation(12),
        ] {
            assert_eq!(level.name().parse::<Level>(), Ok(level));
        }
        for bad in ["L0", "L", "Lx", "breached", ""] {
            assert!(bad.parse::<Level>().is_err(), "{bad}");
        }
    }

    #[test]
    fn recipients_parse_roles_and_addresses() {
        assert_eq!("agents".parse(), Ok(Recipient::Agents));
        assert_eq!(
            "Chef@Univ.fr".parse(),
            Ok(Recipient::Contact("chef@univ.fr".into()))
        );
        assert!("managers".parse::<Recipient>().is_err());
    }

    #[test]
    fn the_ladder_climbs_in_business_time_then_wall_time_for_night_levels() {
        // Opened 16:00 with a 4 h budget, 2 h used by closing time: the 3 h warning at 09:00
        // next day, the breach at 10:00, L1 (2 h of business time later) at 12:00; L2 (one hour
        // of wall time after the breach) is due at 11:00, and fires once L1 has: levels
        // climb in order.
        let p = policy(Some(75), &[(2, false), (1, true)]);
        let clock = Clock::start(Target::Resolution, TimeDelta::hours(4), at(16, 0), false);
        let rungs = ladder(&p, clock.budget);
        let next_day = |h| at(h, 0) + TimeDelta::days(1);
        let mut fired = vec![];
        let expected = [
            (Level::Warning, next_day(9)),
            (Level::Breach, next_day(10)),
            (Level::Escalation(1), next_day(12)),
            (Level::Escalation(2), next_day(11)),
        ];
        for (level, due) in expected {
            assert_eq!(
                next_deadline(&clock, &rungs, &fired, &Day),
                Some((level, due))
            );
            fired.push(level);
        }
        assert_eq!(next_deadline(&clock, &rungs, &fired, &Day), None);
    }

    #[test]
    fn a_warning_due_at_closing_waits_for_the_morning() {
        // An 8 h budget from 14:00 with a warning at 50 %: 4 h, due at 18:00 sharp, when the
        // calendar closes: it waits for 08:00 next morning.
        let p = policy(Some(50), &[]);
        let clock = Clock::start(Target::Resolution, TimeDelta::hours(8), at(14, 0), false);
        let rungs = ladder(&p, clock.budget);
        assert_eq!(
            next_deadline(&clock, &rungs, &[], &Day),
            Some((Level::Warning, at(8, 0) + TimeDelta::days(1)))
        );
    }

    #[test]
    fn a_pause_keeps_the_used_time_and_moves_the_deadline() {
        let mut clock = Clock::start(Target::Resolution, TimeDelta::hours(2), at(9, 0), false);
        assert!(clock.pause(at(10, 0), &Day));
        assert!(!clock.pause(at(10, 30), &Day));
        assert_eq!(clock.used, TimeDelta::hours(1));
        assert_eq!(clock.state(), ClockState::Paused);
        let rungs = ladder(&policy(None, &[]), clock.budget);
        assert_eq!(next_deadline(&clock, &rungs, &[], &Day), None);
        assert!(clock.resume(at(15, 0)));
        assert_eq!(
            next_deadline(&clock, &rungs, &[], &Day),
            Some((Level::Breach, at(16, 0)))
        );
        assert!(clock.meet(at(15, 30), &Day));
        assert_eq!(clock.used, TimeDelta::minutes(90));
        assert!(!clock.is_breached(at(23, 0), &Day));
        assert_eq!(next_deadline(&clock, &rungs, &[], &Day), None);
    }

    #[test]
    fn decisions_fire_only_the_current_due_rung() {
        let p = policy(Some(75), &[]);
        let clock = Clock::start(Target::FirstResponse, TimeDelta::hours(4), at(9, 0), false);
        let rungs = ladder(&p, clock.budget);
        let table = [
            // (row level, round, fired, now, decision)
            (Level::Warning, 0, vec![], at(12, 0), Decision::Fire),
            (
                Level::Warning,
                0,
                vec![],
                at(11, 59),
                Decision::Postpone(at(12, 0)),
            ),
            (
                Level::Warning,
                0,
                vec![Level::Warning],
                at(12, 0),
                Decision::Replace,
            ),
            (Level::Breach, 0, vec![], at(13, 0), Decision::Replace),
            (
                Level::Breach,
                0,
                vec![Level::Warning],
                at(13, 0),
                Decision::Fire,
            ),
            (Level::Warning, 1, vec![], at(12, 0), Decision::Replace),
        ];
        for (level, round, fired, now, expected) in table {
            assert_eq!(
                decide(Some(&clock), (level, round), &rungs, &fired, now, &Day),
                expected,
                "{level} round {round} fired {fired:?} at {now}"
            );
        }
        assert_eq!(
            decide(None, (Level::Breach, 0), &rungs, &[], at(13, 0), &Day),
            Decision::Replace
        );
    }

    #[test]
    fn ticket_changes_drive_the_clocks() {
        let p = Policy {
            rules: vec![TargetRule {
                kind: None,
                priority: None,
                budgets: Budgets {
                    first_response: Some(TimeDelta::hours(2)),
                    resolution: Some(TimeDelta::hours(8)),
                    update: Some(TimeDelta::hours(4)),
                },
            }],
            ..Policy::esup_default()
        };
        let budgets = p.budgets(TicketKind::Incident, Priority::Normal);
        let mut clocks = vec![];
        let mut step = |change, status, now| {
            apply(&mut clocks, change, (&p, budgets, status), now, &Day)
                .into_iter()
                .map(|(t, c)| format!("{t}:{c:?}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        use Status::*;
        let table = [
            (
                TicketChange::Opened,
                New,
                at(9, 0),
                "first_response:Started resolution:Started",
            ),
            (TicketChange::Assigned, Assigned, at(9, 10), ""),
            (
                TicketChange::AgentAnswered,
                Assigned,
                at(9, 30),
                "first_response:FirstResponse update:Started",
            ),
            (
                TicketChange::Status(Assigned, WaitingCustomer),
                WaitingCustomer,
                at(10, 0),
                "resolution:Paused update:Paused",
            ),
            (
                TicketChange::Status(WaitingCustomer, InProgress),
                InProgress,
                at(11, 0),
                "resolution:Resumed update:Resumed",
            ),
            (
                TicketChange::AgentAnswered,
                InProgress,
                at(11, 30),
                "update:Started",
            ),
            (
                TicketChange::Status(InProgress, Resolved),
                Resolved,
                at(12, 0),
                "resolution:Resolved update:Resolved",
            ),
            (
                TicketChange::Status(Resolved, InProgress),
                InProgress,
                at(13, 0),
                "resolution:Reopened",
            ),
            (
                TicketChange::Status(InProgress, Closed),
                Closed,
                at(14, 0),
                "resolution:Resolved",
            ),
        ];
        for (change, status, now, expected) in table {
            assert_eq!(step(change, status, now), expected, "{change:?}");
        }
        let resolution = clocks
            .iter()
            .find(|c| c.target == Target::Resolution)
            .unwrap();
        // 9-10, 11-12, 13-14.
        assert_eq!(resolution.used, TimeDelta::hours(3));
        let update = clocks.iter().find(|c| c.target == Target::Update).unwrap();
        assert_eq!(update.round, 1);
    }

    #[test]
    fn retargeting_changes_only_what_differs() {
        let p = Policy::esup_default();
        let mut clocks = vec![];
        let normal = p.budgets(TicketKind::Incident, Priority::Normal);
        apply(
            &mut clocks,
            TicketChange::Opened,
            (&p, normal, Status::New),
            at(9, 0),
            &Day,
        );
        let critical = p.budgets(TicketKind::Incident, Priority::Critical);
        let changes = apply(
            &mut clocks,
            TicketChange::Retargeted(critical),
            (&p, critical, Status::New),
            at(9, 30),
            &Day,
        );
        assert_eq!(changes.len(), 2);
        assert_eq!(clocks[0].budget, TimeDelta::hours(1));
        // Already half used: the breach is at 10:00.
        let rungs = ladder(&p, clocks[0].budget);
        assert_eq!(
            next_deadline(&clocks[0], &rungs, &[Level::Warning], &Day),
            Some((Level::Breach, at(10, 0)))
        );
    }

    #[test]
    fn durations_read_as_people_write_them() {
        let table = [
            (0, "0 min"),
            (45, "45 min"),
            (60, "1 h"),
            (90, "1 h 30 min"),
            (-90, "1 h 30 min"),
        ];
        for (minutes, text) in table {
            assert_eq!(format_duration(TimeDelta::minutes(minutes)), text);
        }
    }

    proptest! {
        /// However a clock is paused and resumed, what it used is the business time of its
        /// running spans, and its breach instant is where that reaches the budget.
        #[test]
        fn pauses_never_lose_or_double_time(
            spans in proptest::collection::vec((0i64..600, 0i64..600), 1..6),
            budget in 1i64..2000,
        ) {
            let start = at(0, 0);
            let mut clock = Clock::start(Target::Resolution, TimeDelta::minutes(budget), start, false);
            let mut t = start;
            let mut expected = TimeDelta::zero();
            for (run, rest) in spans {
                let end = t + TimeDelta::minutes(run);
                expected += Day.business_time(t, end);
                clock.pause(end, &Day);
                t = end + TimeDelta::minutes(rest);
                clock.resume(t);
            }
            prop_assert_eq!(clock.used, expected);
            let breach = clock.breach_at(&Day).unwrap();
            let left = TimeDelta::minutes(budget) - expected;
            if left > TimeDelta::zero() {
                prop_assert_eq!(Day.business_time(t, breach), left);
            } else {
                prop_assert_eq!(breach, t);
            }
        }
    }
}
