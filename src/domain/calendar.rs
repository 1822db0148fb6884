//! Business-hours calendars: when an offer's team works, in its own time zone, and the
//! business time between instants. SLA deadlines, warnings that may not fire at night and the
//! reports' business-hour figures are all computed here.
//!
//! A calendar is a time zone, a weekly schedule (any number of open intervals per weekday, in
//! local wall-clock time), holidays (fixed dates and, as an option, the French public holidays
//! computed per year) and one-off closures. A holiday or a closure closes the whole local day.
//!
//! Pure: no IO, no clock reading; instants come in and go out as `DateTime<Utc>`.
//!
//! **Daylight saving.** An open interval of a local day is mapped to one span of real time:
//! its start to the *earliest* instant showing that wall-clock time, its end to the *latest*.
//! A wall-clock time that does not exist (02:30 on the last Sunday of March in Paris) maps to
//! the first instant after the gap (03:00 CEST). A repeated one (02:30 on the last Sunday of
//! October) counts its real elapsed time: 00:00-24:00 on that day is 25 hours long, 02:30-04:00
//! is 2 h 30. [`Calendar::is_open`] is membership in these spans, so it always agrees with
//! [`Calendar::business_time`] and [`Calendar::add_business`].
//!
//! **Cost.** The functions walk open spans day by day, never minute by minute: a two-week
//! target costs a few dozen spans. Searches forward stop after [`SEARCH_DAYS`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How far forward `next_open` and `add_business` look before giving up: ten years of days.
/// Only a calendar closed for ten years in a row (a closure that long) reaches it; a calendar
/// without any open interval is refused by [`Calendar::new`].
pub const SEARCH_DAYS: u64 = 3653;

const SECONDS_PER_DAY: u32 = 86_400;

/// The weekday names of `CalendarSpec::week`, Monday first (index = days from Monday).
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A calendar as written in the configuration (`[calendars.NAME]`), before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarSpec {
    /// An IANA zone name, e.g. `Europe/Paris`: the open intervals are wall-clock times there.
    pub time_zone: String,
    /// Open intervals per weekday (`monday` … `sunday`), each `"HH:MM-HH:MM"`; `24:00` ends a
    /// day. A day not listed is closed.
    pub week: BTreeMap<String, Vec<String>>,
    /// Close on the French public holidays (computed per year, Easter by computus).
    pub french_holidays: bool,
    /// With `french_holidays`: also Good Friday and 26 December (Alsace-Moselle).
    pub alsace_moselle: bool,
    /// Further closed days (e.g. the university's bridge days).
    pub holidays: Vec<NaiveDate>,
    /// Closed periods, first and last day included (e.g. the winter closure).
    pub closures: Vec<(NaiveDate, NaiveDate)>,
}

/// One thing wrong in a [`CalendarSpec`], with the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarProblem {
    /// The key inside the spec: `time_zone`, `week`, `week.monday`, `week.monday[1]`,
    /// `closures[0]`. The configuration prefixes it with the calendar's path.
    pub key: String,
    /// What is wrong, e.g. `"25:00" is not a time (HH:MM, 00:00 to 24:00)`.
    pub message: String,
}

/// Why a [`CalendarSpec`] was refused: every problem found, not only the first, so that
/// `check-config` names each bad key in one run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe_problems(.problems))]
pub struct CalendarError {
    /// At least one.
    pub problems: Vec<CalendarProblem>,
}

fn describe_problems(problems: &[CalendarProblem]) -> String {
    let parts: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {}", p.key, p.message))
        .collect();
    parts.join("; ")
}

/// Open intervals of one weekday, in seconds after local midnight, sorted, disjoint,
/// `start < end <= 86_400`.
type DaySchedule = Vec<(u32, u32)>;

/// A validated business-hours calendar. Cheap to query; clone or share it (`Arc`) as needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// The zone the weekly schedule, holidays and closures are read in.
    tz: Tz,
    /// Index 0 is Monday. At least one day has an interval.
    week: [DaySchedule; 7],
    /// Close on the French public holidays; `Some(true)` adds Alsace-Moselle's two.
    french: Option<bool>,
    /// Fixed closed days.
    holidays: BTreeSet<NaiveDate>,
    /// Closed periods, both ends included.
    closures: Vec<(NaiveDate, NaiveDate)>,
}

/// One stretch of open time, `[start, end)`.
type Span = (DateTime<Utc>, DateTime<Utc>);

impl Calendar {
    /// Validated construction; the error names what is wrong (bad zone, "25:00",
    /// overlapping/empty interval), every problem at once.
    pub fn new(spec: &CalendarSpec) -> Result<Calendar, CalendarError> {
        let mut problems = Vec::new();
        let mut problem = |key: String, message: String| {
            problems.push(CalendarProblem { key, message });
        };
        let tz = match spec.time_zone.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                problem(
                    "time_zone".to_owned(),
                    format!(
                        "unknown time zone {:?} (an IANA name such as Europe/Paris)",
                        spec.time_zone
                    ),
                );
                None
            }
        };
        let mut week: [DaySchedule; 7] = Default::default();
        let mut week_ok = true;
        for (day, intervals) in &spec.week {
            let key = format!("week.{day}");
            let Some(index) = WEEKDAYS.iter().position(|d| d == day) else {
                problem(
                    key,
                    format!("unknown weekday {day:?} (expected monday … sunday, lower-case)"),
                );
                week_ok = false;
                continue;
            };
            match parse_day(intervals) {
                Ok(schedule) => week[index] = schedule,
                Err((at, message)) => {
                    problem(at.map_or(key.clone(), |i| format!("{key}[{i}]")), message);
                    week_ok = false;
                }
            }
        }
        if week_ok && week.iter().all(Vec::is_empty) {
            problem(
                "week".to_owned(),
                "no open interval on any day: such a calendar never opens".to_owned(),
            );
        }
        for (i, (first, last)) in spec.closures.iter().enumerate() {
            if last < first {
                problem(
                    format!("closures[{i}]"),
                    format!("ends on {last} before it starts on {first}"),
                );
            }
        }
        if spec.alsace_moselle && !spec.french_holidays {
            problem(
                "alsace_moselle".to_owned(),
                "needs french_holidays = true (it adds two days to them)".to_owned(),
            );
        }
        match tz {
            Some(tz) if problems.is_empty() => Ok(Calendar {
                tz,
                week,
                french: spec.french_holidays.then_some(spec.alsace_moselle),
                holidays: spec.holidays.iter().copied().collect(),
                closures: spec.closures.clone(),
            }),
            _ => Err(CalendarError { problems }),
        }
    }

    /// 8h-18h Monday-Friday, Europe/Paris, French public holidays: ESUP's default.
    pub fn esup_default() -> Calendar {
        let day = vec![(8 * 3600, 18 * 3600)];
        Calendar {
            tz: chrono_tz::Europe::Paris,
            week: [
                day.clone(),
                day.clone(),
                day.clone(),
                day.clone(),
                day,
                Vec::new(),
                Vec::new(),
            ],
            french: Some(false),
            holidays: BTreeSet::new(),
            closures: Vec::new(),
        }
    }

    /// 24/7, no holidays (policies whose levels fire at any time; tests).
    pub fn always_open() -> Calendar {
        Calendar {
            tz: chrono_tz::UTC,
            week: std::array::from_fn(|_| vec![(0, SECONDS_PER_DAY)]),
            french: None,
            holidays: BTreeSet::new(),
            closures: Vec::new(),
        }
    }

    /// Whether the team works at `at`.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.spans_from(at)
            .take_while(|(start, _)| *start <= at)
            .any(|(start, end)| start <= at && at < end)
    }

    /// Business time in [from, to) (zero when to <= from).
    pub fn business_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        let mut total = TimeDelta::zero();
        if to <= from {
            return total;
        }
        // Spans come sorted by start and may overlap at a DST fold: count from `covered` on.
        let mut covered = from;
        for (start, end) in self.spans_from(from) {
            if start >= to {
                break;
            }
            let (start, end) = (start.max(covered), end.min(to));
            if end > start {
                total += end - start;
                covered = end;
            }
        }
        total
    }

    /// The instant at which `d` of business time has elapsed since `from` (d >= 0).
    /// With d == 0 returns next_open(from). `None` when that is more than [`SEARCH_DAYS`]
    /// ahead (or `d` is negative).
    pub fn add_business(&self, from: DateTime<Utc>, d: TimeDelta) -> Option<DateTime<Utc>> {
        if d < TimeDelta::zero() {
            return None;
        }
        if d.is_zero() {
            return self.next_open(from);
        }
        let mut left = d;
        let mut covered = from;
        for (start, end) in self.spans_from(from) {
            let start = start.max(covered);
            if end <= start {
                continue;
            }
            let here = end - start;
            if left <= here {
                return Some(start + left);
            }
            left -= here;
            covered = end;
        }
        None
    }

    /// `at` itself when open, else the start of the next open interval (None: none within
    /// [`SEARCH_DAYS`]).
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.spans_from(at)
            .find(|(_, end)| *end > at)
            .map(|(start, _)| start.max(at))
    }

    /// The zone the calendar is read in (schedules and reports show local times in it).
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// One line for `check-config`: `Europe/Paris; mon 08:00-18:00, …; French public
    /// holidays; 1 holiday(s); 1 closure(s)`.
    pub fn describe(&self) -> String {
        let mut days = Vec::new();
        for (name, schedule) in WEEKDAYS.iter().zip(&self.week) {
            if schedule.is_empty() {
                continue;
            }
            let intervals: Vec<String> = schedule
                .iter()
                .map(|(s, e)| format!("{}-{}", clock_text(*s), clock_text(*e)))
                .collect();
            days.push(format!("{} {}", &name[..3], intervals.join(",")));
        }
        let holidays = match self.french {
            None => "no public holidays",
            Some(false) => "French public holidays",
            Some(true) => "French public holidays with Alsace-Moselle's",
        };
        format!(
            "{}; {}; {holidays}; {} other holiday(s); {} closure(s)",
            self.tz.name(),
            days.join(", "),
            self.holidays.len(),
            self.closures.len()
        )
    }

    /// Whether the whole local day is closed (holiday or closure), whatever its weekday.
    fn is_closed_day(&self, date: NaiveDate) -> bool {
        self.holidays.contains(&date)
            || self
                .closures
                .iter()
                .any(|(first, last)| *first <= date && date <= *last)
            || self
                .french
                .is_some_and(|alsace| is_french_holiday(date, alsace))
    }

    /// The open spans of one local day, sorted by start.
    fn day_spans(&self, date: NaiveDate) -> Vec<Span> {
        let schedule = &self.week[date.weekday().num_days_from_monday() as usize];
        if schedule.is_empty() || self.is_closed_day(date) {
            return Vec::new();
        }
        let mut spans: Vec<Span> = schedule
            .iter()
            .filter_map(|(start, end)| {
                let start = instant(self.tz, local(date, *start)?, Fold::Earliest);
                let end = instant(self.tz, local(date, *end)?, Fold::Latest);
                (start < end).then_some((start, end))
            })
            .collect();
        spans.sort();
        spans
    }

    /// The open spans that may contain or follow `from`, in order of start, day by day for
    /// [`SEARCH_DAYS`]. Starts at the day before `from`'s local day: a span of that day may
    /// reach past midnight after a DST fold.
    fn spans_from(&self, from: DateTime<Utc>) -> impl Iterator<Item = Span> + '_ {
        let today = from.with_timezone(&self.tz).date_naive();
        let first = today.pred_opt().unwrap_or(today);
        (0..=SEARCH_DAYS + 1)
            .map_while(move |n| first.checked_add_days(Days::new(n)))
            .flat_map(|date| self.day_spans(date))
    }
}

/// The first instant showing the wall-clock time `local` in `tz`, or, when daylight saving
/// skips it (02:30 on the last Sunday of March in Paris), the first instant after the gap
/// (03:00 CEST). Scheduled jobs fire at this instant: once per wall-clock time.
pub fn earliest_instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    instant(tz, local, Fold::Earliest)
}

/// The real instant of a local wall-clock time; see the module's note on daylight saving.
fn instant(tz: Tz, local: NaiveDateTime, fold: Fold) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
            match fold {
                Fold::Earliest => a.min(b),
                Fold::Latest => a.max(b),
            }
        }
        LocalResult::None => end_of_gap(tz, local),
    }
}

/// The first instant after the DST gap `local` falls in: the transition itself. Between
/// reading `local` with the offset after the change and with the one before, the offset
/// changes once; found by bisection on seconds (a gap is at most hours long).
fn end_of_gap(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let offset_at = |t: NaiveDateTime| -> i64 {
        i64::from(tz.offset_from_utc_datetime(&t).fix().local_minus_utc())
    };
    let as_utc = local.and_utc().timestamp();
    let before = offset_at(local - TimeDelta::days(1));
    let after = offset_at(local + TimeDelta::days(1));
    // Invariant: `lo` still has the old offset, `hi` the new one.
    let (mut lo, mut hi) = (as_utc - after, as_utc - before);
    let offset_of = |ts: i64| DateTime::from_timestamp(ts, 0).map(|t| offset_at(t.naive_utc()));
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset_of(mid) == Some(after) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0).unwrap_or_else(|| local.and_utc())
}

/// Which instant a repeated wall-clock time stands for.
#[derive(Debug, Clone, Copy)]
enum Fold {
    /// The first time it is shown (an interval's start).
    Earliest,
    /// The second time it is shown (an interval's end).
    Latest,
}

/// `date` at `seconds` after midnight; 86 400 is the next day's midnight.
fn local(date: NaiveDate, seconds: u32) -> Option<NaiveDateTime> {
    if seconds >= SECONDS_PER_DAY {
        return date
            .checked_add_days(Days::new(1))
            .map(|d| d.and_time(NaiveTime::MIN));
    }
    NaiveTime::from_num_seconds_from_midnight_opt(seconds, 0).map(|t| date.and_time(t))
}

fn clock_text(seconds: u32) -> String {
    format!("{:02}:{:02}", seconds / 3600, seconds % 3600 / 60)
}

/// One weekday's intervals, sorted and checked for overlaps. The error is the index of the
/// bad interval (none when it is about two of them) and the message.
fn parse_day(intervals: &[String]) -> Result<DaySchedule, (Option<usize>, String)> {
    let mut schedule = Vec::with_capacity(intervals.len());
    for (i, text) in intervals.iter().enumerate() {
        let (start, end) = parse_interval(text).map_err(|m| (Some(i), m))?;
        schedule.push((start, end, i));
    }
    schedule.sort_unstable();
    for pair in schedule.windows(2) {
        let ((_, end, a), (start, _, b)) = (pair[0], pair[1]);
        if start < end {
            return Err((
                Some(a.max(b)),
                format!(
                    "{:?} overlaps {:?}: merge them into one interval",
                    intervals[b], intervals[a]
                ),
            ));
        }
    }
    Ok(schedule.into_iter().map(|(s, e, _)| (s, e)).collect())
}

/// `"08:00-12:00"` as seconds after midnight; `24:00` only as an end.
fn parse_interval(text: &str) -> Result<(u32, u32), String> {
    let Some((start, end)) = text.split_once('-') else {
        return Err(format!(
            "{text:?} is not an interval (HH:MM-HH:MM, e.g. \"08:00-12:00\")"
        ));
    };
    let (start, end) = (parse_clock(start.trim())?, parse_clock(end.trim())?);
    if start == SECONDS_PER_DAY {
        return Err(format!(
            "{text:?} starts at 24:00: write 00:00 of the next day"
        ));
    }
    if end == start {
        return Err(format!("{text:?} is empty"));
    }
    if end < start {
        return Err(format!(
            "{text:?} ends before it starts (to cross midnight, end one day at 24:00 and \
             start the next at 00:00)"
        ));
    }
    Ok((start, end))
}

/// `"HH:MM"`, 00:00 to 24:00, as seconds after midnight.
fn parse_clock(text: &str) -> Result<u32, String> {
    let bad = || format!("{text:?} is not a time (HH:MM, 00:00 to 24:00)");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    match (h, m) {
        (24, 0) => Ok(SECONDS_PER_DAY),
        (0..=23, 0..=59) => Ok(h * 3600 + m * 60),
        _ => Err(bad()),
    }
}

/// Easter Sunday of `year` (Gregorian calendar), by the anonymous Gregorian computus
/// (Meeus/Jones/Butcher).
fn easter(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// Fixed-date French public holidays (Code du travail, L3133-1), month and day.
const FRENCH_FIXED: [(u32, u32, &str); 8] = [
    (1, 1, "Jour de l'an"),
    (5, 1, "Fête du Travail"),
    (5, 8, "Victoire 1945"),
    (7, 14, "Fête nationale"),
    (8, 15, "Assomption"),
    (11, 1, "Toussaint"),
    (11, 11, "Armistice 1918"),
    (12, 25, "Noël"),
];

/// Easter-based holidays, in days after Easter Sunday.
const FRENCH_MOVABLE: [(i64, &str); 3] = [
    (1, "Lundi de Pâques"),
    (39, "Ascension"),
    (50, "Lundi de Pentecôte"),
];

/// Alsace-Moselle's two more (local law): Good Friday, in days after Easter, and 26 December.
const GOOD_FRIDAY: (i64, &str) = (-2, "Vendredi saint");
const SAINT_STEPHEN: (u32, u32, &str) = (12, 26, "Saint-Étienne");

/// The French public holidays of `year`, sorted by date, with their French names; with
/// `alsace_moselle`, also Good Friday and 26 December.
pub fn french_holidays(year: i32, alsace_moselle: bool) -> Vec<(NaiveDate, &'static str)> {
    let mut days = Vec::new();
    let mut fixed = FRENCH_FIXED.to_vec();
    if alsace_moselle {
        fixed.push(SAINT_STEPHEN);
    }
    for (month, day, name) in fixed {
        if let Some(date) = NaiveDate::from_ymd_opt(year, month, day) {
            days.push((date, name));
        }
    }
    let mut movable = FRENCH_MOVABLE.to_vec();
    if alsace_moselle {
        movable.push(GOOD_FRIDAY);
    }
    if let Some(easter) = easter(year) {
        for (offset, name) in movable {
            if let Some(date) = easter.checked_add_signed(TimeDelta::days(offset)) {
                days.push((date, name));
            }
        }
    }
    days.sort_unstable();
    days
}

/// Whether `date` is a French public holiday, without building the year's list (called for
/// every day a search walks through).
fn is_french_holiday(date: NaiveDate, alsace_moselle: bool) -> bool {
    let (month, day) = (date.month(), date.day());
    let fixed = FRENCH_FIXED
        .iter()
        .any(|(m, d, _)| (*m, *d) == (month, day))
        || (alsace_moselle && (SAINT_STEPHEN.0, SAINT_STEPHEN.1) == (month, day));
    if fixed {
        return true;
    }
    // Movable feasts fall between 20 March (Good Friday) and 14 June (Whit Monday).
    if !(3..=6).contains(&month) {
        return false;
    }
    let Some(easter) = easter(date.year()) else {
        return false;
    };
    let after = (date - easter).num_days();
    FRENCH_MOVABLE.iter().any(|(offset, _)| *offset == after)
        || (alsace_moselle && after == GOOD_FRIDAY.0)
}

/// The weekday of a [`CalendarSpec::week`] key, for callers that build specs.
pub fn weekday_key(day: Weekday) -> &'static str {
    WEEKDAYS[day.num_days_from_monday() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Paris;
    use proptest::prelude::*;

    /// A wall-clock time in Paris as an instant (never a DST-ambiguous one in these tests).
    fn paris(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Paris
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn hours(h: i64) -> TimeDelta {
        TimeDelta::hours(h)
    }

    /// A Europe/Paris spec without holidays, with these days' intervals.
    fn spec(days: &[&str], intervals: &[&str]) -> CalendarSpec {
        CalendarSpec {
            time_zone: "Europe/Paris".to_owned(),
            week: days
                .iter()
                .map(|d| {
                    (
                        (*d).to_owned(),
                        intervals.iter().map(|i| (*i).to_owned()).collect(),
                    )
                })
                .collect(),
            french_holidays: false,
            alsace_moselle: false,
            holidays: Vec::new(),
            closures: Vec::new(),
        }
    }

    const WORKDAYS: [&str; 5] = ["monday", "tuesday", "wednesday", "thursday", "friday"];

    fn every_day() -> Vec<&'static str> {
        WEEKDAYS.to_vec()
    }

    #[test]
    fn friday_evening_plus_two_business_hours_is_monday_half_past_nine() {
        let cal = Calendar::esup_default();
        let due = cal.add_business(paris(2026, 12, 4, 17, 30), hours(2));
        assert_eq!(due, Some(paris(2026, 12, 7, 9, 30)));
        assert_eq!(
            cal.business_time(paris(2026, 12, 4, 17, 30), paris(2026, 12, 7, 9, 30)),
            hours(2)
        );
    }

    #[test]
    fn french_holidays_are_skipped_by_deadlines() {
        let alsace = Calendar::new(&CalendarSpec {
            french_holidays: true,
            alsace_moselle: true,
            ..spec(&WORKDAYS, &["08:00-18:00"])
        })
        .unwrap();
        let esup = Calendar::esup_default();
        // (calendar, opened at, target, due): the due time is Paris wall-clock time.
        let cases = [
            // Easter Monday 2027-03-29 (and the DST change the day before).
            (&esup, paris(2027, 3, 26, 17, 30), paris(2027, 3, 30, 9, 30)),
            // Whit Monday 2027-05-17.
            (&esup, paris(2027, 5, 14, 17, 30), paris(2027, 5, 18, 9, 30)),
            // Ascension 2027-05-06, a Thursday.
            (&esup, paris(2027, 5, 5, 17, 30), paris(2027, 5, 7, 9, 30)),
            // 11 November 2026, a Wednesday.
            (
                &esup,
                paris(2026, 11, 10, 17, 30),
                paris(2026, 11, 12, 9, 30),
            ),
            // Good Friday counts only in Alsace-Moselle.
            (
                &alsace,
                paris(2027, 3, 25, 17, 30),
                paris(2027, 3, 30, 9, 30),
            ),
            (
                &alsace,
                paris(2026, 12, 24, 17, 30),
                paris(2026, 12, 28, 9, 30),
            ),
            (
                &esup,
                paris(2026, 12, 24, 17, 30),
                paris(2026, 12, 28, 9, 30),
            ),
        ];
        for (cal, opened, due) in cases {
            assert_eq!(cal.add_business(opened, hours(2)), Some(due), "{opened}");
            assert_eq!(cal.business_time(opened, due), hours(2), "{opened}");
        }
        assert!(!esup.is_open(paris(2027, 3, 29, 10, 0)));
        assert!(esup.is_open(paris(2027, 3, 26, 10, 0)));
        assert!(!alsace.is_open(paris(2027, 3, 26, 10, 0)));
        assert!(!alsace.is_open(paris(2026, 12, 28 - 2, 10, 0)));
    }

    #[test]
    fn lunch_break_is_not_business_time() {
        let cal = Calendar::new(&spec(&WORKDAYS, &["13:30-18:00", "08:00-12:00"])).unwrap();
        let monday = |h, m| paris(2026, 12, 7, h, m);
        let adds = [
            (monday(11, 30), TimeDelta::minutes(30), monday(12, 0)),
            (monday(11, 30), hours(1), monday(14, 0)),
            (monday(12, 15), TimeDelta::zero(), monday(13, 30)),
            (monday(12, 15), TimeDelta::minutes(1), monday(13, 31)),
            (
                monday(7, 0),
                hours(8) + TimeDelta::minutes(30),
                monday(18, 0),
            ),
            (monday(7, 0), hours(9), paris(2026, 12, 8, 8, 30)),
        ];
        for (from, d, due) in adds {
            assert_eq!(cal.add_business(from, d), Some(due), "{from} + {d}");
        }
        assert_eq!(
            cal.business_time(monday(11, 0), monday(14, 0)),
            TimeDelta::minutes(90)
        );
        let open = [
            (monday(7, 59), false),
            (monday(8, 0), true),
            (monday(11, 59), true),
            (monday(12, 0), false),
            (monday(13, 29), false),
            (monday(13, 30), true),
            (monday(18, 0), false),
        ];
        for (at, expected) in open {
            assert_eq!(cal.is_open(at), expected, "{at}");
        }
    }

    /// The last Sundays of March and October 2026 and 2027, and whether the day is 23 h
    /// (March) or 25 h (October) long.
    const DST_SUNDAYS: [(i32, u32, u32, i64); 4] = [
        (2026, 3, 29, 23),
        (2026, 10, 25, 25),
        (2027, 3, 28, 23),
        (2027, 10, 31, 25),
    ];

    #[test]
    fn a_24_7_calendar_counts_the_real_length_of_dst_days() {
        let cal = Calendar::new(&spec(&every_day(), &["00:00-24:00"])).unwrap();
        for (y, m, d, day_hours) in DST_SUNDAYS {
            let next = date(y, m, d).succ_opt().unwrap();
            let (sunday, monday) = (
                paris(y, m, d, 0, 0),
                paris(y, next.month(), next.day(), 0, 0),
            );
            assert_eq!(
                cal.business_time(sunday, monday),
                hours(day_hours),
                "{y}-{m}-{d}"
            );
            assert_eq!(cal.add_business(sunday, hours(day_hours)), Some(monday));
            // Saturday noon plus 24 business hours is 24 real hours later.
            let saturday_noon = paris(y, m, d - 1, 12, 0);
            assert_eq!(
                cal.add_business(saturday_noon, hours(24)),
                Some(saturday_noon + hours(24))
            );
            assert!(cal.is_open(paris(y, m, d, 4, 0)));
        }
    }

    #[test]
    fn a_night_calendar_follows_dst_changes() {
        let cal = Calendar::new(&spec(&every_day(), &["00:00-08:00", "20:00-24:00"])).unwrap();
        // (Sunday, hours from Saturday 20:00 to Sunday 08:00, Sunday 20:00 + 7 business hours
        // as a UTC instant)
        let cases = [
            (DST_SUNDAYS[0], 11, utc(2026, 3, 29, 2, 0)), // 04:00 CEST
            (DST_SUNDAYS[1], 13, utc(2026, 10, 25, 1, 0)), // 02:00 CET, the second one
            (DST_SUNDAYS[2], 11, utc(2027, 3, 28, 2, 0)),
            (DST_SUNDAYS[3], 13, utc(2027, 10, 31, 1, 0)),
        ];
        for ((y, m, d, _), night, due) in cases {
            let saturday_evening = paris(y, m, d - 1, 20, 0);
            let sunday_morning = paris(y, m, d, 8, 0);
            assert_eq!(
                cal.business_time(saturday_evening, sunday_morning),
                hours(night)
            );
            assert_eq!(
                cal.business_time(paris(y, m, d - 1, 12, 0), paris(y, m, d, 12, 0)),
                hours(night)
            );
            assert_eq!(cal.add_business(saturday_evening, hours(7)), Some(due));
            assert_eq!(
                cal.next_open(paris(y, m, d, 12, 0)),
                Some(paris(y, m, d, 20, 0))
            );
        }
    }

    #[test]
    fn an_interval_starting_in_the_dst_hour_starts_at_its_real_instant() {
        let cal = Calendar::new(&spec(&["sunday"], &["02:30-04:00"])).unwrap();
        // March: 02:30 does not exist; the interval opens at 03:00 CEST (01:00 UTC), 1 h.
        let march = paris(2026, 3, 29, 0, 0);
        assert_eq!(cal.next_open(march), Some(utc(2026, 3, 29, 1, 0)));
        assert_eq!(cal.business_time(march, march + hours(24)), hours(1));
        assert!(!cal.is_open(utc(2026, 3, 29, 0, 59)));
        // October: the first 02:30 (CEST, 00:30 UTC) to 04:00 CET (03:00 UTC), 2 h 30.
        let october = paris(2026, 10, 25, 0, 0);
        assert_eq!(cal.next_open(october), Some(utc(2026, 10, 25, 0, 30)));
        assert_eq!(
            cal.business_time(october, october + hours(24)),
            TimeDelta::minutes(150)
        );
        assert!(cal.is_open(utc(2026, 10, 25, 1, 15))); // 02:15 CET, inside the span
        // An interval ending in the DST hour: in March at 03:00 CEST (2 h from midnight), in
        // October at the second 02:30 (CET, 01:30 UTC: 3 h 30 from midnight).
        let cal = Calendar::new(&spec(&["sunday"], &["00:00-02:30"])).unwrap();
        assert_eq!(cal.business_time(march, march + hours(24)), hours(2));
        assert!(!cal.is_open(utc(2026, 3, 29, 1, 0)));
        assert_eq!(
            cal.business_time(october, october + hours(24)),
            TimeDelta::minutes(210)
        );
        assert!(cal.is_open(utc(2026, 10, 25, 1, 29)));
        assert!(!cal.is_open(utc(2026, 10, 25, 1, 30)));
        // A working week across the March change: Friday 17:30 + 2 h is Monday 09:30 CEST.
        let esup = Calendar::esup_default();
        assert_eq!(
            esup.add_business(paris(2026, 3, 27, 17, 30), hours(2)),
            Some(utc(2026, 3, 30, 7, 30))
        );
        assert_eq!(
            esup.add_business(paris(2026, 10, 23, 17, 30), hours(2)),
            Some(utc(2026, 10, 26, 8, 30))
        );
    }

    #[test]
    fn holidays_and_closures_close_whole_days() {
        let cal = Calendar::new(&CalendarSpec {
            french_holidays: true,
            holidays: vec![date(2026, 12, 18)],
            closures: vec![(date(2026, 12, 21), date(2027, 1, 1))],
            ..spec(&WORKDAYS, &["08:00-18:00"])
        })
        .unwrap();
        assert!(!cal.is_open(paris(2026, 12, 18, 10, 0)));
        assert!(!cal.is_open(paris(2026, 12, 21, 10, 0)));
        assert!(!cal.is_open(paris(2027, 1, 1, 10, 0)));
        assert_eq!(
            cal.next_open(paris(2026, 12, 17, 18, 0)),
            Some(paris(2027, 1, 4, 8, 0))
        );
        assert_eq!(
            cal.business_time(paris(2026, 12, 17, 17, 0), paris(2027, 1, 4, 9, 0)),
            hours(2)
        );
    }

    #[test]
    fn always_open_counts_real_time() {
        let cal = Calendar::always_open();
        let from = utc(2026, 3, 29, 0, 45);
        assert_eq!(cal.business_time(from, from + hours(50)), hours(50));
        assert_eq!(cal.add_business(from, hours(50)), Some(from + hours(50)));
        assert_eq!(cal.next_open(from), Some(from));
        assert!(cal.is_open(from));
        assert_eq!(cal.time_zone(), chrono_tz::UTC);
    }

    #[test]
    fn empty_or_backward_ranges_and_negative_durations() {
        let cal = Calendar::esup_default();
        let at = paris(2026, 12, 7, 10, 0);
        assert_eq!(cal.business_time(at, at), TimeDelta::zero());
        assert_eq!(cal.business_time(at, at - hours(1)), TimeDelta::zero());
        assert_eq!(cal.add_business(at, TimeDelta::zero()), Some(at));
        assert_eq!(cal.add_business(at, -hours(1)), None);
    }

    #[test]
    fn a_search_past_ten_years_gives_none() {
        let cal = Calendar::new(&CalendarSpec {
            closures: vec![(date(2026, 1, 1), date(2037, 1, 1))],
            ..spec(&WORKDAYS, &["08:00-18:00"])
        })
        .unwrap();
        let at = paris(2026, 6, 1, 10, 0);
        assert_eq!(cal.next_open(at), None);
        assert_eq!(cal.add_business(at, hours(1)), None);
        assert!(!cal.is_open(at));
    }

    #[test]
    fn esup_default_is_the_spec_it_documents() {
        let built = Calendar::new(&CalendarSpec {
            french_holidays: true,
            ..spec(&WORKDAYS, &["08:00-18:00"])
        })
        .unwrap();
        assert_eq!(Calendar::esup_default(), built);
        assert_eq!(
            built.describe(),
            "Europe/Paris; mon 08:00-18:00, tue 08:00-18:00, wed 08:00-18:00, \
             thu 08:00-18:00, fri 08:00-18:00; French public holidays; 0 other holiday(s); \
             0 closure(s)"
        );
    }

    #[test]
    fn french_holidays_of_2026_and_2027() {
        let list = |year, alsace| -> Vec<String> {
            french_holidays(year, alsace)
                .into_iter()
                .map(|(d, name)| format!("{d} {name}"))
                .collect()
        };
        assert_eq!(
            list(2026, false),
            [
                "2026-01-01 Jour de l'an",
                "2026-04-06 Lundi de Pâques",
                "2026-05-01 Fête du Travail",
                "2026-05-08 Victoire 1945",
                "2026-05-14 Ascension",
                "2026-05-25 Lundi de Pentecôte",
                "2026-07-14 Fête nationale",
                "2026-08-15 Assomption",
                "2026-11-01 Toussaint",
                "2026-11-11 Armistice 1918",
                "2026-12-25 Noël",
            ]
        );
        assert_eq!(
            list(2027, false),
            [
                "2027-01-01 Jour de l'an",
                "2027-03-29 Lundi de Pâques",
                "2027-05-01 Fête du Travail",
                "2027-05-06 Ascension",
                "2027-05-08 Victoire 1945",
                "2027-05-17 Lundi de Pentecôte",
                "2027-07-14 Fête nationale",
                "2027-08-15 Assomption",
                "2027-11-01 Toussaint",
                "2027-11-11 Armistice 1918",
                "2027-12-25 Noël",
            ]
        );
        let alsace_2027 = list(2027, true);
        assert_eq!(alsace_2027.len(), 13);
        assert!(alsace_2027.contains(&"2027-03-26 Vendredi saint".to_owned()));
        assert!(alsace_2027.contains(&"2027-12-26 Saint-Étienne".to_owned()));
        assert!(list(2026, true).contains(&"2026-04-03 Vendredi saint".to_owned()));
    }

    #[test]
    fn easter_by_computus_matches_the_published_dates() {
        let known = [
            (2000, 4, 23),
            (2008, 3, 23),
            (2011, 4, 24),
            (2019, 4, 21),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2038, 4, 25),
        ];
        for (y, m, d) in known {
            assert_eq!(easter(y), Some(date(y, m, d)), "{y}");
        }
    }

    #[test]
    fn the_per_day_holiday_test_agrees_with_the_yearly_list() {
        for year in 2000..2060 {
            for alsace in [false, true] {
                let listed: BTreeSet<NaiveDate> = french_holidays(year, alsace)
                    .into_iter()
                    .map(|(d, _)| d)
                    .collect();
                let mut day = date(year, 1, 1);
                while day.year() == year {
                    assert_eq!(
                        is_french_holiday(day, alsace),
                        listed.contains(&day),
                        "{day} alsace={alsace}"
                    );
                    day = day.succ_opt().unwrap();
                }
            }
        }
    }

    #[test]
    fn bad_specs_are_refused_naming_the_key() {
        let good = || spec(&WORKDAYS, &["08:00-18:00"]);
        let with_monday = |intervals: &[&str]| spec(&["monday"], intervals);
        // (spec, key, part of the message)
        let cases = [
            (
                CalendarSpec {
                    time_zone: "Europe/Pariss".to_owned(),
                    ..good()
                },
                "time_zone",
                "unknown time zone \"Europe/Pariss\"",
            ),
            (
                with_monday(&["08:00-12:00", "25:00-26:00"]),
                "week.monday[1]",
                "\"25:00\" is not a time",
            ),
            (
                with_monday(&["8:00-12:00"]),
                "week.monday[0]",
                "\"8:00\" is not a time",
            ),
            (
                with_monday(&["08:60-12:00"]),
                "week.monday[0]",
                "not a time",
            ),
            (
                with_monday(&["08:00"]),
                "week.monday[0]",
                "is not an interval",
            ),
            (with_monday(&["08:00-08:00"]), "week.monday[0]", "is empty"),
            (
                with_monday(&["12:00-08:00"]),
                "week.monday[0]",
                "ends before it starts",
            ),
            (
                with_monday(&["24:00-24:00"]),
                "week.monday[0]",
                "starts at 24:00",
            ),
            (
                with_monday(&["13:00-18:00", "08:00-13:30"]),
                "week.monday[1]",
                "\"13:00-18:00\" overlaps \"08:00-13:30\"",
            ),
            (
                spec(&["mon"], &["08:00-12:00"]),
                "week.mon",
                "unknown weekday",
            ),
            (spec(&[], &[]), "week", "never opens"),
            (spec(&["monday"], &[]), "week", "never opens"),
            (
                CalendarSpec {
                    closures: vec![(date(2027, 1, 1), date(2026, 12, 21))],
                    ..good()
                },
                "closures[0]",
                "ends on 2026-12-21 before it starts on 2027-01-01",
            ),
            (
                CalendarSpec {
                    alsace_moselle: true,
                    ..good()
                },
                "alsace_moselle",
                "needs french_holidays",
            ),
        ];
        for (bad, key, message) in cases {
            let problems = Calendar::new(&bad).unwrap_err().problems;
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert_eq!(problems[0].key, key);
            assert!(
                problems[0].message.contains(message),
                "{key}: {:?} should contain {message:?}",
                problems[0].message
            );
        }
    }

    #[test]
    fn every_problem_of_a_spec_is_reported_at_once() {
        let bad = CalendarSpec {
            time_zone: "Mars/Olympus".to_owned(),
            ..spec(&["monday", "friday"], &["08:00-25:00"])
        };
        let err = Calendar::new(&bad).unwrap_err();
        let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["time_zone", "week.friday[0]", "week.monday[0]"]);
        assert!(err.to_string().starts_with("time_zone: unknown time zone"));
    }

    // The oracle: `is_open` sampled every minute over a window, against which the span
    // arithmetic of `business_time`, `add_business` and `next_open` is checked.

    /// Zones with DST in either hemisphere (Lord Howe moves by 30 minutes), and none.
    const ZONES: [&str; 4] = [
        "Europe/Paris",
        "America/New_York",
        "Australia/Lord_Howe",
        "UTC",
    ];

    /// Days around which the window is placed: DST changes of those zones in 2026-2027.
    const ANCHORS: [(i32, u32, u32); 10] = [
        (2026, 3, 29),
        (2026, 10, 25),
        (2027, 3, 28),
        (2027, 10, 31),
        (2026, 3, 8),
        (2026, 11, 1),
        (2026, 4, 5),
        (2026, 10, 4),
        (2027, 5, 17),
        (2026, 12, 25),
    ];

    /// The window the oracle samples: two weeks of minutes.
    const WINDOW_MINUTES: usize = 14 * 24 * 60;

    /// A boundary in quarter hours (0..=96), often in the DST hours.
    fn boundary() -> impl Strategy<Value = u32> {
        prop_oneof![
            0..=96u32,
            prop::sample::select(vec![0u32, 8, 9, 10, 11, 12, 96])
        ]
    }

    fn day_intervals() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(boundary(), 0..=6).prop_map(|mut b| {
            b.sort_unstable();
            b.dedup();
            b.chunks_exact(2)
                .map(|pair| {
                    format!(
                        "{}-{}",
                        clock_text(pair[0] * 900),
                        clock_text(pair[1] * 900)
                    )
                })
                .collect()
        })
    }

    fn any_spec() -> impl Strategy<Value = CalendarSpec> {
        (
            prop::sample::select(ZONES.to_vec()),
            prop::collection::vec(day_intervals(), 7),
            any::<bool>(),
            any::<bool>(),
            prop::option::of((0..40u64, 0..5u64)),
        )
            .prop_map(|(zone, days, french, alsace, closure)| {
                let mut week: BTreeMap<String, Vec<String>> = WEEKDAYS
                    .iter()
                    .zip(days)
                    .filter(|(_, intervals)| !intervals.is_empty())
                    .map(|(day, intervals)| ((*day).to_owned(), intervals))
                    .collect();
                if week.is_empty() {
                    week.insert("wednesday".to_owned(), vec!["10:00-11:00".to_owned()]);
                }
                let closures = closure
                    .map(|(start, len)| {
                        let first = date(2026, 3, 1) + Days::new(start * 7);
                        (first, first + Days::new(len))
                    })
                    .into_iter()
                    .collect();
                CalendarSpec {
                    time_zone: zone.to_owned(),
                    week,
                    french_holidays: french,
                    alsace_moselle: french && alsace,
                    holidays: vec![date(2026, 3, 27), date(2026, 10, 26)],
                    closures,
                }
            })
    }

    /// The window's first minute: a few days before an anchor, at any minute.
    fn window_start() -> impl Strategy<Value = DateTime<Utc>> {
        (prop::sample::select(ANCHORS.to_vec()), 0..10u32, 0..1440u32).prop_map(
            |((y, m, d), before, minute)| {
                utc(y, m, d, 0, 0) - TimeDelta::days(i64::from(before))
                    + TimeDelta::minutes(i64::from(minute))
            },
        )
    }

    /// `open[i]`: the calendar is open at minute `i` of the window; `before[i]`: open minutes
    /// before minute `i` (`before[WINDOW_MINUTES]` is the total).
    struct Oracle {
        start: DateTime<Utc>,
        open: Vec<bool>,
        before: Vec<i64>,
    }

    impl Oracle {
        fn sample(cal: &Calendar, start: DateTime<Utc>) -> Oracle {
            let open: Vec<bool> = (0..WINDOW_MINUTES)
                .map(|i| cal.is_open(start + TimeDelta::minutes(i as i64)))
                .collect();
            let mut before = Vec::with_capacity(open.len() + 1);
            let mut count = 0;
            before.push(0);
            for o in &open {
                count += i64::from(*o);
                before.push(count);
            }
            Oracle {
                start,
                open,
                before,
            }
        }

        fn at(&self, minute: usize) -> DateTime<Utc> {
            self.start + TimeDelta::minutes(minute as i64)
        }

        fn end(&self) -> DateTime<Utc> {
            self.at(WINDOW_MINUTES)
        }

        /// The first open minute at or after `from`, if within the window.
        fn next_open(&self, from: usize) -> Option<usize> {
            (from..WINDOW_MINUTES).find(|i| self.open[*i])
        }

        /// The end of the `d`-th open minute from `from` (d > 0), if within the window.
        fn add(&self, from: usize, d: i64) -> Option<usize> {
            let target = self.before[from] + d;
            (from + 1..=WINDOW_MINUTES).find(|i| self.before[*i] == target)
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// 64 calendars and windows, 200 queries of each function on each: 12,800 random
        /// cases per function, DST weekends of three zones included.
        #[test]
        fn span_arithmetic_agrees_with_the_minute_oracle(
            spec in any_spec(),
            start in window_start(),
            queries in prop::collection::vec(
                (0..WINDOW_MINUTES, 0..WINDOW_MINUTES, 0..3000i64), 200),
        ) {
            let cal = Calendar::new(&spec).unwrap();
            let oracle = Oracle::sample(&cal, start);
            for (a, b, d) in queries {
                let expected = TimeDelta::minutes((oracle.before[b.max(a)] - oracle.before[a]).max(0));
                let (from, to) = (oracle.at(a), oracle.at(b));
                prop_assert_eq!(cal.business_time(from, to), expected, "business_time({}, {})", from, to);

                let next = cal.next_open(from);
                match oracle.next_open(a) {
                    Some(i) => prop_assert_eq!(next, Some(oracle.at(i)), "next_open({})", from),
                    None => prop_assert!(next.is_none_or(|t| t >= oracle.end()), "next_open({})", from),
                }

                let d = d % 1200; // up to 20 business hours
                let due = cal.add_business(from, TimeDelta::minutes(d));
                let expected = if d == 0 { oracle.next_open(a) } else { oracle.add(a, d) };
                match expected {
                    Some(i) => prop_assert_eq!(due, Some(oracle.at(i)), "add_business({}, {}min)", from, d),
                    None => prop_assert!(due.is_none_or(|t| t >= oracle.end()), "add_business({}, {}min)", from, d),
                }
                if let Some(due) = due {
                    // The inverse, and minimality: a minute earlier, d has not elapsed yet.
                    prop_assert_eq!(cal.business_time(from, due), TimeDelta::minutes(d));
                    if d > 0 {
                        prop_assert!(cal.business_time(from, due - TimeDelta::minutes(1)) < TimeDelta::minutes(d));
                    }
                }
            }
        }
    }
}
