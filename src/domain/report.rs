//! The arithmetic of `guichet report` (issue 9 item 6): which tickets a period counts as
//! opened, resolved and closed, broken down by kind, priority and requesting institution; the
//! median and 90th percentile of first-response and resolution times in business hours; the
//! backlog at the end of the period.
//!
//! Pure: the service hands in the tickets' facts as the store keeps them and a
//! [`BusinessTime`] (the offer's calendar), and gets a [`Report`] back. Rendering it (table,
//! CSV, JSON, HTML) is `crate::report_render`'s; SQL is `store/reports.rs`'s.
//!
//! What counts, and from which data:
//! - **opened**: `created_at` in the period.
//! - **resolved**, **closed**: `resolved_at` / `closed_at` in the period. These columns keep
//!   the *latest* resolution and closing only (a reopening clears them), so a ticket resolved,
//!   reopened and resolved again counts once, in the period of its latest resolution, and a
//!   ticket reopened and still open counts as resolved nowhere. A ticket closed without being
//!   resolved first was stamped resolved at its closing ([`super::finish_times`]), so it counts
//!   in both.
//! - **first-response time**: business time from opening to the first reply to the contacts,
//!   over the tickets whose first response falls in the period.
//! - **resolution time**: business time from opening to the latest resolution, over the
//!   tickets resolved in the period. Time spent in `waiting_customer` is not taken out here:
//!   that is the SLA clocks' business (their pauses are events, issue 9 item 3), reported in
//!   [`Report::sla`].
//! - **backlog**: tickets opened before the end of the period and still needing work at that
//!   instant (new, assigned, in progress, waiting for the customer). The columns only tell
//!   the status *now*, so the status at the end of a past period comes from the event log
//!   (the last `status_changed` or `reopened` event before the end, see [`status_at`]);
//!   tickets resolved but not yet closed at that instant are counted apart
//!   ([`Report::resolved_not_closed`]): backlog + resolved-not-closed is "not closed".
//!
//! Percentiles are **nearest-rank**: the p-th percentile of n sorted values is the value of
//! rank ⌈p·n/100⌉, always one of the values (the median of an even count is the lower middle).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use serde::Serialize;

use super::{Priority, Status, TicketId, TicketKind};

/// Business time between two instants: the offer's calendar (8h-18h on weekdays, holidays
/// closed) implements it; the report does not need to know how. Kept as a trait so that the
/// report's arithmetic is tested with simple calendars and the real one plugs in unchanged.
pub trait BusinessTime: Send + Sync {
    /// The open time between `from` and `to` (zero when `to` is not after `from`).
    fn business_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta;
}

/// The offer's business-hours calendar (issue 9 item 1): what `guichet report` counts in.
impl BusinessTime for super::calendar::Calendar {
    fn business_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        super::calendar::Calendar::business_time(self, from, to)
    }
}

/// Every instant counts: for an offer served around the clock, and for tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct WallClock;

impl BusinessTime for WallClock {
    fn business_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        (to - from).max(TimeDelta::zero())
    }
}

/// A report's period: from `from` included to `to` excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    /// First instant in the period.
    pub from: DateTime<Utc>,
    /// First instant after the period.
    pub to: DateTime<Utc>,
}

/// A period given by days that [`Period::of_days`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// The end is not after the start.
    #[error("the period is empty: --to {to} is not after --from {from}")]
    Empty {
        /// The first day asked for.
        from: NaiveDate,
        /// The day after the last, as asked for.
        to: NaiveDate,
    },
    /// Midnight of a day does not exist in the zone (no zone in use does this).
    #[error("midnight of {0} does not exist in the offer's time zone")]
    NoMidnight(NaiveDate),
}

impl Period {
    /// The period from midnight of `from` to midnight of `to` (excluded) in the offer's zone:
    /// the days a person means (`--from 2026-10-01 --to 2026-11-01` is October in Paris, not
    /// in UTC). Where a zone repeats midnight, the first one is taken.
    pub fn of_days<Tz: TimeZone>(
        zone: &Tz,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Period, PeriodError> {
        if to <= from {
            return Err(PeriodError::Empty { from, to });
        }
        let midnight = |d: NaiveDate| {
            zone.from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .ok_or(PeriodError::NoMidnight(d))
        };
        Ok(Period {
            from: midnight(from)?,
            to: midnight(to)?,
        })
    }

    /// Whether `t` falls in the period.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t < self.to
    }
}

/// What the report needs of one ticket, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketFacts {
    /// The ticket, to match its status changes.
    pub id: TicketId,
    /// Its kind now.
    pub kind: TicketKind,
    /// Its priority now.
    pub priority: Priority,
    /// The requester's institution's name; `None` when it had none.
    pub institution: Option<String>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// The first reply to the contacts, if any.
    pub first_response_at: Option<DateTime<Utc>>,
    /// The latest resolution, if it is resolved or closed now.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The latest closing, if it is closed now.
    pub closed_at: Option<DateTime<Utc>>,
}

/// A status change from the event log: the ticket went to `to` at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    /// The ticket.
    pub ticket: TicketId,
    /// When.
    pub at: DateTime<Utc>,
    /// The status it went to.
    pub to: Status,
}

/// The status of `ticket` at `instant`: the last change before it (changes in the log's
/// order), else `new` (a ticket opens `new`). A ticket whose latest finish (closing, else
/// resolution) is before `instant` is finished there whatever the log says: the columns are
/// enough for it.
pub fn status_at(ticket: &TicketFacts, changes: &[StatusChange], instant: DateTime<Utc>) -> Status {
    if ticket.closed_at.is_some_and(|t| t < instant) {
        return Status::Closed;
    }
    if ticket.closed_at.is_none() && ticket.resolved_at.is_some_and(|t| t < instant) {
        return Status::Resolved;
    }
    changes
        .iter()
        .filter(|c| c.ticket == ticket.id && c.at < instant)
        .max_by_key(|c| c.at)
        .map_or(Status::New, |c| c.to)
}

/// One line of a breakdown: a kind, priority or institution, and its count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    /// The kind or priority's name, or the institution's name (`(none)` for no institution).
    pub name: String,
    /// How many tickets.
    pub count: u64,
}

/// A count of tickets and its breakdowns. Every kind and priority is listed, zero included,
/// in their own order; institutions are those with at least one ticket, most first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breakdown {
    /// All of them.
    pub total: u64,
    /// By kind (incident, request, change).
    pub by_kind: Vec<Count>,
    /// By priority (low to critical).
    pub by_priority: Vec<Count>,
    /// By requesting institution.
    pub by_institution: Vec<Count>,
}

/// The name a ticket without an institution is counted under.
pub const NO_INSTITUTION: &str = "(none)";

impl Breakdown {
    /// Counts `tickets`.
    pub fn of<'a>(tickets: impl IntoIterator<Item = &'a TicketFacts>) -> Breakdown {
        let mut kinds: HashMap<TicketKind, u64> = HashMap::new();
        let mut priorities: HashMap<Priority, u64> = HashMap::new();
        let mut institutions: HashMap<&str, u64> = HashMap::new();
        let mut total = 0;
        for t in tickets {
            total += 1;
            *kinds.entry(t.kind).or_default() += 1;
            *priorities.entry(t.priority).or_default() += 1;
            let name = t.institution.as_deref().unwrap_or(NO_INSTITUTION);
            *institutions.entry(name).or_default() += 1;
        }
        let mut by_institution: Vec<Count> = institutions
            .into_iter()
            .map(|(name, count)| Count {
                name: name.to_owned(),
                count,
            })
            .collect();
        by_institution.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
        Breakdown {
            total,
            by_kind: every(TicketKind::ALL, &kinds, |k| k.as_str()),
            by_priority: every(Priority::ALL, &priorities, |p| p.as_str()),
            by_institution,
        }
    }
}

/// One [`Count`] per value of `all`, in that order, zero when `counts` lacks it.
fn every<T: Copy + Eq + std::hash::Hash>(
    all: &[T],
    counts: &HashMap<T, u64>,
    name: fn(T) -> &'static str,
) -> Vec<Count> {
    all.iter()
        .map(|v| Count {
            name: name(*v).to_owned(),
            count: counts.get(v).copied().unwrap_or(0),
        })
        .collect()
}

/// The value of nearest rank ⌈`percent`·n/100⌉ among `sorted` (ascending); `None` when
/// there is none. `percent` is taken in 1..=100.
pub fn percentile<T: Copy>(sorted: &[T], percent: u32) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let p = u64::from(percent.clamp(1, 100));
    let n = sorted.len() as u64;
    let rank = (p * n).div_ceil(100).max(1);
    sorted.get(usize::try_from(rank - 1).ok()?).copied()
}

/// Durations in business time, in whole seconds: how many, the median and the 90th
/// percentile (nearest-rank; `None` when there are none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Durations {
    /// How many tickets were measured.
    pub count: u64,
    /// The median, in seconds.
    pub median_seconds: Option<i64>,
    /// The 90th percentile, in seconds.
    pub p90_seconds: Option<i64>,
}

impl Durations {
    /// The figures of `seconds`, in any order.
    pub fn of(mut seconds: Vec<i64>) -> Durations {
        seconds.sort_unstable();
        Durations {
            count: seconds.len() as u64,
            median_seconds: percentile(&seconds, 50),
            p90_seconds: percentile(&seconds, 90),
        }
    }
}

/// Compliance with one SLA target over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaLine {
    /// The target (`first_response`, `resolution`, `update`), with its kind and priority
    /// when the policy sets it apart.
    pub target: String,
    /// Clocks of that target decided in the period: run out, or met (`store::reports`).
    pub total: u64,
    /// Of those, met in time.
    pub met: u64,
    /// `met / total`, from 0 to 1; `None` when `total` is zero.
    pub compliance: Option<f64>,
}

/// The breaches of the period at one escalation level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreachLine {
    /// The level (`L1`, `L2`...).
    pub level: String,
    /// How many deadlines breached at that level.
    pub count: u64,
}

/// The SLA part of a report, from the clocks and deadlines of `domain::sla`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SlaFigures {
    /// One line per target.
    pub sla: Vec<SlaLine>,
    /// One line per escalation level.
    pub breaches: Vec<BreachLine>,
}

/// One offer's report over one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The offer's code.
    pub offer: String,
    /// The offer's display name.
    pub offer_name: String,
    /// The period, in UTC.
    pub period: Period,
    /// The period as asked for (`2026-10-01 to 2026-10-31, Europe/Paris`).
    pub period_label: String,
    /// What business time means here (the calendar's description).
    pub hours: String,
    /// Tickets opened in the period.
    pub opened: Breakdown,
    /// Tickets whose latest resolution is in the period.
    pub resolved: Breakdown,
    /// Tickets whose latest closing is in the period.
    pub closed: Breakdown,
    /// First-response times of the tickets first answered in the period.
    pub first_response: Durations,
    /// Resolution times of the tickets resolved in the period.
    pub resolution: Durations,
    /// Tickets needing work at the end of the period.
    pub backlog: u64,
    /// Tickets resolved and not closed at the end of the period.
    pub resolved_not_closed: u64,
    /// SLA compliance per target: see [`SlaFigures`].
    pub sla: Vec<SlaLine>,
    /// Breaches by escalation level: see [`SlaFigures`].
    pub breaches: Vec<BreachLine>,
}

/// What [`compute`] needs besides the tickets.
pub struct Scope<'a> {
    /// The offer's code.
    pub offer: &'a str,
    /// The offer's display name.
    pub offer_name: &'a str,
    /// The period.
    pub period: Period,
    /// The period as asked for, for people.
    pub period_label: &'a str,
    /// The offer's calendar.
    pub hours: &'a dyn BusinessTime,
    /// How to describe the calendar in the report.
    pub hours_label: &'a str,
}

/// The report of `tickets` (every ticket opened before the end of the period that could count
/// in it; others are ignored) with their status `changes`, and the SLA figures as given.
pub fn compute(
    scope: &Scope<'_>,
    tickets: &[TicketFacts],
    changes: &[StatusChange],
    sla: SlaFigures,
) -> Report {
    let period = scope.period;
    let before_end: Vec<&TicketFacts> = tickets
        .iter()
        .filter(|t| t.created_at < period.to)
        .collect();
    let within = |at: Option<DateTime<Utc>>| at.is_some_and(|t| period.contains(t));
    let business = |t: &TicketFacts, end: DateTime<Utc>| {
        scope.hours.business_time(t.created_at, end).num_seconds()
    };
    let first_responses = before_end
        .iter()
        .filter_map(|t| {
            t.first_response_at
                .filter(|at| period.contains(*at))
                .map(|at| business(t, at))
        })
        .collect();
    let resolutions = before_end
        .iter()
        .filter_map(|t| {
            t.resolved_at
                .filter(|at| period.contains(*at))
                .map(|at| business(t, at))
        })
        .collect();
    let at_end: Vec<Status> = before_end
        .iter()
        .map(|t| status_at(t, changes, period.to))
        .collect();
    Report {
        offer: scope.offer.to_owned(),
        offer_name: scope.offer_name.to_owned(),
        period,
        period_label: scope.period_label.to_owned(),
        hours: scope.hours_label.to_owned(),
        opened: Breakdown::of(
            before_end
                .iter()
                .copied()
                .filter(|t| period.contains(t.created_at)),
        ),
        resolved: Breakdown::of(before_end.iter().copied().filter(|t| within(t.resolved_at))),
        closed: Breakdown::of(before_end.iter().copied().filter(|t| within(t.closed_at))),
        first_response: Durations::of(first_responses),
        resolution: Durations::of(resolutions),
        backlog: at_end.iter().filter(|s| s.is_open()).count() as u64,
        resolved_not_closed: at_end.iter().filter(|s| **s == Status::Resolved).count() as u64,
        sla: sla.sla,
        breaches: sla.breaches,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Timelike, Weekday};
    use proptest::prelude::*;

    fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        // November 2026: the 2nd is a Monday.
        Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0)
            .unwrap()
    }

    /// The tests' calendar: 8h-18h UTC, Monday to Friday, counted minute by minute.
    struct OfficeHours;

    impl BusinessTime for OfficeHours {
        fn business_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
            let mut t = from;
            let mut open = 0;
            while t < to {
                let weekday = !matches!(t.weekday(), Weekday::Sat | Weekday::Sun);
                if weekday && (8..18).contains(&t.hour()) {
                    open += 1;
                }
                t += TimeDelta::minutes(1);
            }
            TimeDelta::minutes(open)
        }
    }

    fn ticket(id: i64, created_at: DateTime<Utc>) -> TicketFacts {
        TicketFacts {
            id: TicketId(id),
            kind: TicketKind::Incident,
            priority: Priority::Normal,
            institution: Some("Université de Rennes".into()),
            created_at,
            first_response_at: None,
            resolved_at: None,
            closed_at: None,
        }
    }

    fn november() -> Period {
        Period {
            from: at(1, 0, 0),
            to: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
        }
    }

    fn scope(hours: &dyn BusinessTime) -> Scope<'_> {
        Scope {
            offer: "SMSU",
            offer_name: "SMS Universitaire",
            period: november(),
            period_label: "November 2026",
            hours,
            hours_label: "test",
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let table: [(&[i64], u32, Option<i64>); 9] = [
            (&[], 50, None),
            (&[7], 50, Some(7)),
            (&[7], 90, Some(7)),
            (&[1, 2], 50, Some(1)),
            (&[1, 2], 90, Some(2)),
            (&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50, Some(5)),
            (&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, Some(9)),
            (&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90, Some(10)),
            (&[1, 2, 3], 100, Some(3)),
        ];
        for (values, p, expected) in table {
            assert_eq!(percentile(values, p), expected, "p{p} of {values:?}");
        }
    }

    proptest! {
        #[test]
        fn a_percentile_is_one_of_the_values_and_p50_is_at_most_p90(
            mut values in proptest::collection::vec(-1_000_000i64..1_000_000, 1..200),
        ) {
            values.sort_unstable();
            let p50 = percentile(&values, 50).unwrap();
            let p90 = percentile(&values, 90).unwrap();
            prop_assert!(values.contains(&p50));
            prop_assert!(values.contains(&p90));
            prop_assert!(p50 <= p90);
            // Nearest rank: at least p % of the values are at or below it, and fewer below.
            let n = values.len();
            let at_or_below = values.iter().filter(|v| **v <= p90).count();
            let below = values.iter().filter(|v| **v < p90).count();
            prop_assert!(at_or_below * 100 >= 90 * n);
            prop_assert!(below * 100 < 90 * n);
        }
    }

    #[test]
    fn the_days_of_a_period_are_the_zones_days() {
        let paris = chrono_tz::Europe::Paris;
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let october = Period::of_days(&paris, day(2026, 10, 1), day(2026, 11, 1)).unwrap();
        // Summer time at the start (UTC+2), winter time at the end (UTC+1).
        assert_eq!(
            october.from,
            Utc.with_ymd_and_hms(2026, 9, 30, 22, 0, 0).unwrap()
        );
        assert_eq!(
            october.to,
            Utc.with_ymd_and_hms(2026, 10, 31, 23, 0, 0).unwrap()
        );
        assert_eq!(
            Period::of_days(&paris, day(2026, 11, 1), day(2026, 11, 1)),
            Err(PeriodError::Empty {
                from: day(2026, 11, 1),
                to: day(2026, 11, 1)
            })
        );
    }

    #[test]
    fn opened_resolved_and_closed_count_by_their_own_column() {
        let mut before = ticket(1, at(1, 0, 0) - TimeDelta::days(3));
        before.resolved_at = Some(at(2, 9, 0));
        let mut closed = ticket(2, at(3, 9, 0));
        closed.kind = TicketKind::Change;
        closed.priority = Priority::High;
        closed.institution = None;
        closed.resolved_at = Some(at(3, 10, 0));
        closed.closed_at = Some(at(4, 10, 0));
        let mut after = ticket(3, at(5, 9, 0));
        after.resolved_at = Some(at(1, 0, 0) + TimeDelta::days(30));
        let report = compute(
            &scope(&WallClock),
            &[before, closed, after],
            &[],
            SlaFigures::default(),
        );
        assert_eq!(report.opened.total, 2);
        assert_eq!(
            report.resolved.total, 2,
            "tickets 1 and 2; 3 is resolved in December"
        );
        assert_eq!(report.closed.total, 1);
        let counts = |b: &[Count]| {
            b.iter()
                .map(|c| (c.name.clone(), c.count))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            counts(&report.opened.by_kind),
            [
                ("incident".into(), 1),
                ("request".into(), 0),
                ("change".into(), 1)
            ]
        );
        assert_eq!(
            counts(&report.opened.by_priority),
            [
                ("low".into(), 0),
                ("normal".into(), 1),
                ("high".into(), 1),
                ("critical".into(), 0)
            ]
        );
        assert_eq!(
            counts(&report.opened.by_institution),
            [("(none)".into(), 1), ("Université de Rennes".into(), 1)]
        );
    }

    #[test]
    fn times_are_business_time_from_opening() {
        // Friday 17:30 -> Monday 9:30: two business hours, 64 wall-clock hours.
        let mut weekend = ticket(1, at(6, 17, 30));
        weekend.first_response_at = Some(at(9, 9, 30));
        weekend.resolved_at = Some(at(9, 12, 0));
        let mut quick = ticket(2, at(10, 10, 0));
        quick.first_response_at = Some(at(10, 10, 15));
        let mut other = ticket(3, at(10, 11, 0));
        other.first_response_at = Some(at(10, 12, 0));
        other.resolved_at = Some(at(11, 11, 0));
        let tickets = [weekend, quick, other];
        let report = compute(&scope(&OfficeHours), &tickets, &[], SlaFigures::default());
        assert_eq!(
            report.first_response,
            Durations {
                count: 3,
                median_seconds: Some(3600),
                p90_seconds: Some(2 * 3600)
            }
        );
        assert_eq!(
            report.resolution,
            Durations {
                count: 2,
                median_seconds: Some(4 * 3600 + 30 * 60),
                p90_seconds: Some(10 * 3600)
            }
        );
        let wall = compute(&scope(&WallClock), &tickets, &[], SlaFigures::default());
        assert_eq!(wall.first_response.p90_seconds, Some(64 * 3600));
    }

    #[test]
    fn the_backlog_is_the_status_at_the_end_of_the_period() {
        let end = november().to;
        let change = |id, at, to| StatusChange {
            ticket: TicketId(id),
            at,
            to,
        };
        // Never changed: new at the end.
        let untouched = ticket(1, at(2, 9, 0));
        // Resolved in November, reopened in December and open now: finished at the end.
        let reopened_later = ticket(2, at(2, 9, 0));
        // Resolved in November and still resolved now (the column says so).
        let mut resolved = ticket(3, at(2, 9, 0));
        resolved.resolved_at = Some(at(20, 9, 0));
        // Closed in December, in progress at the end.
        let mut closed_later = ticket(4, at(2, 9, 0));
        closed_later.resolved_at = Some(end + TimeDelta::days(2));
        closed_later.closed_at = Some(end + TimeDelta::days(2));
        // Opened after the end: not counted.
        let later = ticket(5, end + TimeDelta::hours(1));
        // Closed in November.
        let mut closed = ticket(6, at(2, 9, 0));
        closed.resolved_at = Some(at(3, 9, 0));
        closed.closed_at = Some(at(4, 9, 0));
        let changes = [
            change(2, at(10, 9, 0), Status::InProgress),
            change(2, at(11, 9, 0), Status::Resolved),
            change(2, end + TimeDelta::days(1), Status::InProgress),
            change(3, at(20, 9, 0), Status::Resolved),
            change(4, at(3, 9, 0), Status::InProgress),
            change(4, end + TimeDelta::days(2), Status::Closed),
            change(6, at(3, 9, 0), Status::Resolved),
            change(6, at(4, 9, 0), Status::Closed),
        ];
        let tickets = [
            untouched,
            reopened_later,
            resolved,
            closed_later,
            later,
            closed,
        ];
        let report = compute(
            &scope(&WallClock),
            &tickets,
            &changes,
            SlaFigures::default(),
        );
        assert_eq!(report.backlog, 2, "tickets 1 and 4");
        assert_eq!(report.resolved_not_closed, 2, "tickets 2 and 3");
        assert_eq!(report.opened.total, 5, "ticket 5 opened in December");
    }

    #[test]
    fn the_offers_calendar_is_a_business_time() {
        // Friday 6 November 17:30 in Paris to Monday 9:30: 30 min + 1 h 30 of 8h-18h.
        let esup = crate::domain::calendar::Calendar::esup_default();
        let hours: &dyn BusinessTime = &esup;
        assert_eq!(
            hours.business_time(at(6, 16, 30), at(9, 8, 30)),
            TimeDelta::hours(2)
        );
    }

    #[test]
    fn wall_clock_time_is_never_negative() {
        assert_eq!(
            WallClock.business_time(at(2, 10, 0), at(2, 9, 0)),
            TimeDelta::zero()
        );
    }
}
