//! `[calendars.NAME]` and `offers[].calendar`: what they read into, the built-in `esup`
//! calendar, and each bad key named by its path.

use chrono::{NaiveDate, TimeZone, Utc};

use super::*;
use crate::domain::calendar::{Calendar, CalendarSpec};

/// BASE's offer with `offer_lines` added, then `tables` (`[calendars.…]`).
fn with(offer_lines: &str, tables: &str) -> String {
    format!("{BASE}{offer_lines}\n{tables}\n")
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// ESUP's hours (the defaults of a `[calendars.NAME]` table) with these holidays and
/// closures.
fn esup_spec(holidays: Vec<NaiveDate>, closures: Vec<(NaiveDate, NaiveDate)>) -> CalendarSpec {
    CalendarSpec {
        time_zone: "Europe/Paris".to_owned(),
        week: ["monday", "tuesday", "wednesday", "thursday", "friday"]
            .iter()
            .map(|d| ((*d).to_owned(), vec!["08:00-18:00".to_owned()]))
            .collect(),
        french_holidays: true,
        alsace_moselle: false,
        holidays,
        closures,
    }
}

#[test]
fn offers_use_the_built_in_esup_calendar_by_default() {
    let config = ok(BASE, &[]);
    let offer = &config.offers[0];
    assert_eq!(offer.calendar_name, "esup");
    assert_eq!(*offer.calendar, Calendar::esup_default());
    let names: Vec<&str> = config.calendars.keys().map(String::as_str).collect();
    assert_eq!(names, ["esup"]);
    assert!(
        config.describe().contains(
            "    calendar esup: Europe/Paris; mon 08:00-18:00, tue 08:00-18:00, \
             wed 08:00-18:00, thu 08:00-18:00, fri 08:00-18:00; French public holidays; \
             0 other holiday(s); 0 closure(s)"
        ),
        "{}",
        config.describe()
    );
}

#[test]
fn an_empty_calendar_table_is_the_built_in_one() {
    let config = ok(&with("calendar = \"copy\"", "[calendars.copy]"), &[]);
    assert_eq!(*config.offers[0].calendar, Calendar::esup_default());
}

#[test]
fn a_calendar_table_is_read_and_named_by_an_offer() {
    let config = ok(
        &with(
            "calendar = \"lunch\"",
            r#"
[calendars.lunch]
time_zone = "America/Guadeloupe"
french_holidays = true
alsace_moselle = true
holidays = ["2026-12-24", 2026-12-31]
closures = [["2026-08-01", "2026-08-23"]]
[calendars.lunch.week]
monday = ["13:30-18:00", "08:00-12:00"]
saturday = ["09:00-12:00"]
"#,
        ),
        &[],
    );
    let expected = Calendar::new(&CalendarSpec {
        time_zone: "America/Guadeloupe".to_owned(),
        week: [
            ("monday", vec!["13:30-18:00", "08:00-12:00"]),
            ("saturday", vec!["09:00-12:00"]),
        ]
        .into_iter()
        .map(|(d, i)| (d.to_owned(), i.into_iter().map(str::to_owned).collect()))
        .collect(),
        french_holidays: true,
        alsace_moselle: true,
        holidays: vec![day(2026, 12, 24), day(2026, 12, 31)],
        closures: vec![(day(2026, 8, 1), day(2026, 8, 23))],
    })
    .unwrap();
    let offer = &config.offers[0];
    assert_eq!(offer.calendar_name, "lunch");
    assert_eq!(*offer.calendar, expected);
    assert_eq!(offer.calendar.time_zone(), chrono_tz::America::Guadeloupe);
    // Shared with the map, not copied.
    assert!(std::sync::Arc::ptr_eq(
        &offer.calendar,
        &config.calendars["lunch"]
    ));
}

#[test]
fn a_calendars_esup_table_replaces_the_built_in_one() {
    let config = ok(
        &with(
            "",
            "[calendars.esup]\nclosures = [[\"2026-12-21\", \"2027-01-01\"]]",
        ),
        &[],
    );
    let expected = Calendar::new(&esup_spec(
        vec![],
        vec![(day(2026, 12, 21), day(2027, 1, 1))],
    ))
    .unwrap();
    assert_eq!(*config.offers[0].calendar, expected);
    let monday_in_the_closure = Utc.with_ymd_and_hms(2026, 12, 21, 10, 0, 0).unwrap();
    assert!(!config.offers[0].calendar.is_open(monday_in_the_closure));
}

#[test]
fn bad_calendars_are_reported_at_their_keys() {
    // (offer lines, calendar tables, path, part of the message): one error each.
    let cases = [
        (
            "calendar = \"x\"",
            "[calendars.x]\ntime_zone = \"Europe/Pariss\"",
            "calendars.x.time_zone",
            "unknown time zone \"Europe/Pariss\"",
        ),
        (
            "",
            "[calendars.x.week]\nmonday = [\"08:00-25:00\"]",
            "calendars.x.week.monday[0]",
            "\"25:00\" is not a time",
        ),
        (
            "",
            "[calendars.x.week]\nmonday = [\"08:00-12:00\", \"11:00-14:00\"]",
            "calendars.x.week.monday[1]",
            "\"11:00-14:00\" overlaps \"08:00-12:00\"",
        ),
        (
            "",
            "[calendars.x.week]\nmonday = [\"12:00-12:00\"]",
            "calendars.x.week.monday[0]",
            "is empty",
        ),
        (
            "",
            "[calendars.x.week]\nlundi = [\"08:00-12:00\"]",
            "calendars.x.week.lundi",
            "unknown weekday",
        ),
        (
            "",
            "[calendars.x]\nweek = {}",
            "calendars.x.week",
            "never opens",
        ),
        (
            "",
            "[calendars.x.week]\nmonday = \"08:00-12:00\"",
            "calendars.x.week.monday",
            "expected an array",
        ),
        (
            "",
            "[calendars.x]\nfrench_holidays = \"yes\"",
            "calendars.x.french_holidays",
            "expected true or false",
        ),
        (
            "",
            "[calendars.x]\nholidays = [\"24/12/2026\"]",
            "calendars.x.holidays[0]",
            "\"24/12/2026\" is not a date (YYYY-MM-DD)",
        ),
        (
            "",
            "[calendars.x]\nclosures = [[\"2027-01-01\", \"2026-12-21\"]]",
            "calendars.x.closures[0]",
            "ends on 2026-12-21 before it starts on 2027-01-01",
        ),
        (
            "",
            "[calendars.x]\nclosures = [[\"2026-12-21\"]]",
            "calendars.x.closures[0]",
            "expected a pair of dates",
        ),
        (
            "",
            "[calendars.x]\nalsace_moselle = true\nfrench_holidays = false",
            "calendars.x.alsace_moselle",
            "needs french_holidays = true",
        ),
        (
            "",
            "[calendars.x]\ntime_zon = \"Europe/Paris\"",
            "calendars.x.time_zon",
            "unknown key (did you mean time_zone?)",
        ),
        (
            "",
            "[calendars.\"x y\"]",
            "calendars.\"x y\"",
            "calendar name \"x y\" must be",
        ),
        ("", "[calendars]\nx = 3", "calendars.x", "expected a table"),
        (
            "calendar = \"nope\"",
            "[calendars.x]",
            "offers[0].calendar",
            "unknown calendar \"nope\" (declared: esup, x)",
        ),
    ];
    for (offer_lines, tables, path, message) in cases {
        let errors = errors(&with(offer_lines, tables), &[]);
        assert_eq!(errors.len(), 1, "{tables}: {errors:#?}");
        assert_eq!(errors[0].path, path, "{tables}");
        assert!(
            errors[0].message.contains(message),
            "{path}: {:?} should contain {message:?}",
            errors[0].message
        );
    }
}

#[test]
fn every_bad_calendar_key_is_reported_in_one_run() {
    let text = with(
        "calendar = \"x\"",
        r#"
[calendars.x]
time_zone = "Paris"
holidays = ["2026-13-01"]
[calendars.x.week]
monday = ["08:00-12:00", "8:30-9:00"]
tuesday = ["09:00-08:00"]
"#,
    );
    let paths: Vec<String> = errors(&text, &[]).into_iter().map(|e| e.path).collect();
    assert_eq!(
        paths,
        [
            "calendars.x.holidays[0]",
            "calendars.x.time_zone",
            "calendars.x.week.monday[1]",
            "calendars.x.week.tuesday[0]",
        ]
    );
}

/// The example file's calendar section, uncommented, with SMSU on `lunch-break`.
fn example_with_calendars() -> String {
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    let first = lines
        .iter()
        .position(|l| *l == "# [calendars.esup]")
        .expect("the example has a calendar section");
    let mut out = Vec::new();
    let mut in_section = false;
    for (i, line) in lines.iter().enumerate() {
        if i == first {
            in_section = true;
        }
        if in_section && line.is_empty() {
            in_section = false;
        }
        let uncomment = in_section || *line == "# calendar = \"lunch-break\"";
        out.push(match line.strip_prefix("# ") {
            Some(rest) if uncomment => rest.to_owned(),
            _ if uncomment => String::new(),
            _ => (*line).to_owned(),
        });
    }
    out.join("\n")
}

#[test]
fn the_example_calendars_are_valid_when_uncommented() {
    let config = ok(&example_with_calendars(), &[]);
    let names: Vec<&str> = config.calendars.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["esup", "lunch-break", "round-the-clock", "strasbourg"]
    );
    let smsu = &config.offers[0];
    assert_eq!(smsu.calendar_name, "lunch-break");
    // Monday 7 December 2026, 12:30 in Paris: the lunch break.
    let lunch = Utc.with_ymd_and_hms(2026, 12, 7, 11, 30, 0).unwrap();
    assert!(!smsu.calendar.is_open(lunch));
    assert!(config.calendars["round-the-clock"].is_open(lunch));
    assert_eq!(config.offers[1].calendar_name, "esup");
    assert_eq!(
        *config.offers[1].calendar,
        Calendar::new(&esup_spec(
            vec![day(2027, 5, 7)],
            vec![(day(2026, 12, 21), day(2027, 1, 1))]
        ))
        .unwrap()
    );
    // As shipped (commented out), both offers are on the built-in calendar.
    let shipped = ok(EXAMPLE, &[]);
    assert!(shipped.offers.iter().all(|o| o.calendar_name == "esup"));
}

#[test]
fn the_example_states_the_calendar_defaults() {
    use crate::config::defaults::*;
    let row = |key: &str| {
        let lines: Vec<&str> = EXAMPLE.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with(&format!("# {key} ")))
            .unwrap_or_else(|| panic!("{key} has no row in the example file"));
        let end = lines[at + 1..]
            .iter()
            .position(|l| !l.starts_with("#    "))
            .map_or(lines.len(), |i| at + 1 + i);
        lines[at..end].join("\n")
    };
    let days = CALENDAR_DAYS.join(", ");
    let days = days.replacen(", friday", " and friday", 1);
    let rows = [
        ("time_zone", format!("Default {CALENDAR_TIME_ZONE:?}.")),
        (
            "week",
            format!("Default\n#                  {CALENDAR_HOURS:?} on {days}."),
        ),
        (
            "french_holidays",
            format!("Default {CALENDAR_FRENCH_HOLIDAYS}."),
        ),
        ("alsace_moselle", "Default false.".to_owned()),
        ("calendar", format!("{CALENDAR:?} (default")),
    ];
    for (key, says) in rows {
        let comment = row(key);
        assert!(comment.contains(&says), "{key}: {says:?} not in\n{comment}");
    }
}
