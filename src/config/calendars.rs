//! `[calendars.NAME]`: the business-hours calendars offers refer to with
//! `offers[].calendar`. Each key is read here with its path; the calendar itself is validated
//! by [`Calendar::new`], whose problems are reported at `calendars.NAME.KEY`.
//!
//! A calendar `esup` is built in ([`Calendar::esup_default`]); a `[calendars.esup]` table
//! replaces it. Keys left out take the built-in calendar's values ([`defaults`]), so
//! `[calendars.esup]` with only `closures` adds the winter closure to ESUP's hours.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use toml::Value;

use super::cursor::{Fields, Node, Report, child};
use super::defaults;
use crate::domain::calendar::{Calendar, CalendarSpec};

/// The calendars offers may name, by name (valid ones only, `esup` always among them), and
/// every name declared (valid or not), so that an offer naming a calendar with its own error
/// is not reported a second time.
pub(super) struct Calendars {
    pub(super) valid: BTreeMap<String, Arc<Calendar>>,
    pub(super) declared: Vec<String>,
}

pub(super) fn read_calendars(node: Option<Node<'_>>, r: &mut Report) -> Calendars {
    let mut calendars = Calendars {
        valid: BTreeMap::from([(
            defaults::CALENDAR.to_owned(),
            Arc::new(Calendar::esup_default()),
        )]),
        declared: vec![defaults::CALENDAR.to_owned()],
    };
    let Some(table) = node.as_ref().and_then(|n| n.table(r)) else {
        return calendars;
    };
    let path = node.map(|n| n.path).unwrap_or_default();
    for (name, value) in table {
        let entry = Node {
            path: child(&path, name),
            value,
        };
        if let Err(message) = parse_name(name) {
            r.error(&entry.path, message);
            continue;
        }
        if !calendars.declared.contains(name) {
            calendars.declared.push(name.clone());
        }
        // A table replacing the built-in one must not leave it in place when it is wrong.
        calendars.valid.remove(name);
        let Some(table) = entry.table(r) else {
            continue;
        };
        let fields = Fields {
            path: entry.path.clone(),
            table: Some(table),
            known: Vec::new(),
        };
        if let Some(calendar) = read_calendar(fields, r) {
            calendars.valid.insert(name.clone(), Arc::new(calendar));
        }
    }
    calendars
}

/// One `[calendars.NAME]` table.
fn read_calendar(mut t: Fields<'_>, r: &mut Report) -> Option<Calendar> {
    let time_zone = match t.get("time_zone") {
        None => Some(defaults::CALENDAR_TIME_ZONE.to_owned()),
        Some(n) => n.str(r),
    };
    let week = match t.get("week") {
        None => Some(
            defaults::CALENDAR_DAYS
                .iter()
                .map(|day| ((*day).to_owned(), vec![defaults::CALENDAR_HOURS.to_owned()]))
                .collect(),
        ),
        Some(n) => read_week(&n, r),
    };
    let mut flag = |key, default| match t.get(key) {
        None => Some(default),
        Some(n) => n.boolean(r),
    };
    let french_holidays = flag("french_holidays", defaults::CALENDAR_FRENCH_HOLIDAYS);
    let alsace_moselle = flag("alsace_moselle", false);
    let holidays = t.get("holidays").map_or(Some(Vec::new()), |n| {
        let mut days = Vec::new();
        for item in n.array(r)? {
            days.push(date(&item, r));
        }
        days.into_iter().collect()
    });
    let closures = t
        .get("closures")
        .map_or(Some(Vec::new()), |n| read_closures(&n, r));
    let path = t.path.clone();
    t.finish(r);
    // The spec's own checks run even when a key above was bad (it then reads as empty), so
    // that one run names every problem; those that only follow from a bad key are dropped.
    let (week_bad, french_bad) = (week.is_none(), french_holidays.is_none());
    let complete = time_zone.is_some()
        && !week_bad
        && !french_bad
        && alsace_moselle.is_some()
        && holidays.is_some()
        && closures.is_some();
    let spec = CalendarSpec {
        time_zone: time_zone.unwrap_or_else(|| defaults::CALENDAR_TIME_ZONE.to_owned()),
        week: week.unwrap_or_default(),
        french_holidays: french_holidays.unwrap_or(defaults::CALENDAR_FRENCH_HOLIDAYS),
        alsace_moselle: alsace_moselle.unwrap_or(false),
        holidays: holidays.unwrap_or_default(),
        closures: closures.unwrap_or_default(),
    };
    match Calendar::new(&spec) {
        Ok(calendar) => complete.then_some(calendar),
        Err(e) => {
            for problem in e.problems {
                let follows = match problem.key.as_str() {
                    "week" => week_bad,
                    "alsace_moselle" => french_bad,
                    _ => false,
                };
                if !follows {
                    r.error(&format!("{path}.{}", problem.key), problem.message);
                }
            }
            None
        }
    }
}

/// `week = { monday = ["08:00-12:00", "13:30-18:00"], ... }`: strings only here; the weekday
/// names and the intervals are checked by [`Calendar::new`].
fn read_week(node: &Node<'_>, r: &mut Report) -> Option<BTreeMap<String, Vec<String>>> {
    let table = node.table(r)?;
    let mut week = BTreeMap::new();
    let mut ok = true;
    for (day, value) in table {
        let entry = Node {
            path: child(&node.path, day),
            value,
        };
        let Some(items) = entry.array(r) else {
            ok = false;
            continue;
        };
        let intervals: Option<Vec<String>> = items.iter().map(|i| i.str(r)).collect();
        match intervals {
            Some(intervals) => {
                week.insert(day.clone(), intervals);
            }
            None => ok = false,
        }
    }
    ok.then_some(week)
}

/// `closures = [["2026-12-21", "2027-01-01"]]`: pairs of first and last closed day.
fn read_closures(node: &Node<'_>, r: &mut Report) -> Option<Vec<(NaiveDate, NaiveDate)>> {
    let mut closures = Vec::new();
    let mut ok = true;
    for item in node.array(r)? {
        let pair = item.array(r);
        match pair.as_deref() {
            Some([first, last]) => match (date(first, r), date(last, r)) {
                (Some(first), Some(last)) => closures.push((first, last)),
                _ => ok = false,
            },
            Some(_) => {
                r.error(
                    &item.path,
                    "expected a pair of dates [first, last], e.g. [\"2026-12-21\", \"2027-01-01\"]",
                );
                ok = false;
            }
            None => ok = false,
        }
    }
    ok.then_some(closures)
}

/// A day, as `"2026-12-24"` or a TOML local date (`2026-12-24`).
fn date(node: &Node<'_>, r: &mut Report) -> Option<NaiveDate> {
    if let Value::Datetime(dt) = node.value
        && let (Some(d), None, None) = (dt.date, dt.time, dt.offset)
    {
        return NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day));
    }
    node.parse(r, |s| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD)"))
    })
}

/// Calendar names are referenced from offers and shown by `check-config`.
fn parse_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "calendar name {s:?} must be ASCII letters, digits, '-' or '_'"
        ))
    }
}
