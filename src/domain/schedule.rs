//! Scheduled jobs' times (the daily digest, the weekly report): a cron expression read in an
//! offer's time zone, and the next instant it fires.
//!
//! Pure: no IO, no clock reading; the caller passes the instant the job last fired (or now)
//! and gets the next one back.
//!
//! **Forms.** Six or seven fields, seconds first, as the `cron` crate reads them
//! (`0 0 8 * * Mon-Fri`, an optional year last), or a five-field crontab line
//! (`0 8 * * Mon-Fri`), read as the six-field one with `0` seconds. Weekdays are written by
//! name: crontab counts 0 = Sunday, 1 = Monday while the `cron` crate counts 1 = Sunday, so a
//! number there would silently shift the day, and is refused.
//!
//! **Daylight saving.** The expression lists wall-clock times; each fires once:
//! - a time repeated when clocks go back (02:30 on the last Sunday of October in Paris) fires
//!   at its first occurrence only, so a job every 15 minutes is silent during the repeated
//!   hour;
//! - a time skipped when clocks go forward (02:30 on the last Sunday of March) is *moved* to
//!   the first instant after the gap (03:00 CEST) rather than dropped, so a daily job still
//!   runs that day; several skipped times fire once, together.
//!
//! (The `cron` crate alone, iterating in the zone, fires a repeated time twice and a skipped
//! one never, CRATES.md.) To get this, the expression is iterated over wall-clock times with
//! no zone (as if UTC, where no time repeats or is missing), and each is mapped to its
//! instant with [`earliest_instant`].

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::calendar::earliest_instant;

/// A job's validated cron expression.
#[derive(Debug, Clone)]
pub struct JobSchedule {
    /// As written, for `check-config` and logs.
    text: String,
    /// The six- or seven-field form.
    schedule: cron::Schedule,
}

/// Why an expression was refused: the message names what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(String);

impl JobSchedule {
    /// Reads a five-field crontab line or a six/seven-field `cron` expression.
    pub fn parse(text: &str) -> Result<JobSchedule, ScheduleError> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let weekday = match fields.len() {
            5 => fields[4],
            6 | 7 => fields[5],
            n => {
                return Err(ScheduleError(format!(
                    "{text:?} has {n} field(s): expected a crontab line (5: minute hour day \
                     month weekday, e.g. \"0 8 * * Mon-Fri\") or 6-7 with seconds first \
                     (\"0 0 8 * * Mon-Fri\")"
                )));
            }
        };
        if weekday.bytes().any(|b| b.is_ascii_digit()) {
            return Err(ScheduleError(format!(
                "{text:?}: write weekdays by name (Mon-Fri, Sun): crontab counts 0 = Sunday \
                 and the cron crate 1 = Sunday, so a number is ambiguous"
            )));
        }
        let full = if fields.len() == 5 {
            format!("0 {}", fields.join(" "))
        } else {
            fields.join(" ")
        };
        let schedule = cron::Schedule::from_str(&full)
            .map_err(|e| ScheduleError(format!("{text:?} is not a cron expression: {e}")))?;
        Ok(JobSchedule {
            text: text.to_owned(),
            schedule,
        })
    }

    /// The first instant strictly after `after` at which the job fires, the expression read
    /// in `tz` (see the module's note on daylight saving). `None` when the expression has no
    /// time left (a year field in the past).
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        // Wall-clock times up to `after`'s own never map past it (the mapping keeps order),
        // so the search starts there; those just after it that map before it (inside a
        // repeated hour, already fired in its first pass) are skipped.
        let wall_clock = after.with_timezone(&tz).naive_local().and_utc();
        self.schedule
            .after(&wall_clock)
            .map(|time| earliest_instant(tz, time.naive_utc()))
            .find(|at| *at > after)
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for JobSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Europe::Paris;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap()
    }

    fn paris(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Paris
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    /// The next `n` firings after `from`, each from the previous one.
    fn firings(expr: &str, from: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let schedule = JobSchedule::parse(expr).unwrap();
        let mut out = Vec::new();
        let mut at = from;
        for _ in 0..n {
            at = schedule.next_after(at, Paris).unwrap();
            out.push(at);
        }
        out
    }

    #[test]
    fn crontab_and_six_and_seven_field_forms_give_the_same_times() {
        let friday_nine = paris(2026, 12, 4, 9, 0);
        let monday_eight = paris(2026, 12, 7, 8, 0);
        for expr in [
            "0 8 * * Mon-Fri",
            "0 0 8 * * Mon-Fri",
            "0 0 8 * * Mon-Fri 2026-2030",
            "  0 8 * *   MON-FRI ",
        ] {
            assert_eq!(firings(expr, friday_nine, 1), [monday_eight], "{expr}");
        }
    }

    #[test]
    fn times_are_read_in_the_given_zone() {
        let schedule = JobSchedule::parse("0 8 * * *").unwrap();
        let from = utc(2026, 12, 4, 12, 0);
        assert_eq!(
            schedule.next_after(from, Paris),
            Some(utc(2026, 12, 5, 7, 0))
        );
        assert_eq!(
            schedule.next_after(from, chrono_tz::America::Guadeloupe),
            Some(utc(2026, 12, 5, 12, 0))
        );
        // Strictly after: the firing instant itself gives the next day's.
        assert_eq!(
            schedule.next_after(utc(2026, 12, 5, 7, 0), Paris),
            Some(utc(2026, 12, 6, 7, 0))
        );
    }

    #[test]
    fn a_time_repeated_in_october_fires_once() {
        // 02:30 daily, from Saturday 24 October 2026 03:00: Sunday's first 02:30 (CEST,
        // 00:30 UTC), not its second (CET, 01:30 UTC), then Monday's (CET).
        let got = firings("0 30 2 * * *", paris(2026, 10, 24, 3, 0), 2);
        assert_eq!(got, [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]);
        // Asked from inside the repeated hour, after the first 02:30 fired.
        let schedule = JobSchedule::parse("30 2 * * *").unwrap();
        assert_eq!(
            schedule.next_after(utc(2026, 10, 25, 1, 10), Paris),
            Some(utc(2026, 10, 26, 1, 30))
        );
        // Every 15 minutes: 02:45 CEST, then 03:00 CET; the second pass of 02:xx is silent.
        let got = firings("*/15 * * * *", utc(2026, 10, 25, 0, 40), 3);
        assert_eq!(
            got,
            [
                utc(2026, 10, 25, 0, 45),
                utc(2026, 10, 25, 2, 0),
                utc(2026, 10, 25, 2, 15)
            ]
        );
    }

    #[test]
    fn a_time_skipped_in_march_is_moved_to_the_end_of_the_gap() {
        // 02:30 daily: on Sunday 29 March 2026 at 03:00 CEST (01:00 UTC), then Monday's.
        let got = firings("30 2 * * *", paris(2026, 3, 28, 3, 0), 3);
        assert_eq!(
            got,
            [
                utc(2026, 3, 29, 1, 0),
                utc(2026, 3, 30, 0, 30),
                utc(2026, 3, 31, 0, 30)
            ]
        );
        // Every 15 minutes: 01:45 CET, then 02:00 to 02:45 fire once together at 03:00
        // CEST, then 03:15 CEST.
        let got = firings("*/15 * * * *", utc(2026, 3, 29, 0, 40), 3);
        assert_eq!(
            got,
            [
                utc(2026, 3, 29, 0, 45),
                utc(2026, 3, 29, 1, 0),
                utc(2026, 3, 29, 1, 15)
            ]
        );
    }

    #[test]
    fn the_weekly_report_keeps_its_local_time_across_the_change() {
        // Mondays 07:00 Paris: 06:00 UTC before the March change, 05:00 UTC after.
        let got = firings("0 7 * * Mon", paris(2027, 3, 20, 12, 0), 2);
        assert_eq!(got, [utc(2027, 3, 22, 6, 0), utc(2027, 3, 29, 5, 0)]);
    }

    #[test]
    fn an_expression_with_no_time_left_gives_none() {
        let schedule = JobSchedule::parse("0 0 8 * * Mon 2020").unwrap();
        assert_eq!(schedule.next_after(utc(2026, 1, 1, 0, 0), Paris), None);
    }

    #[test]
    fn bad_expressions_are_refused_with_what_to_write() {
        let cases = [
            ("0 8 * *", "has 4 field(s): expected a crontab line"),
            ("", "has 0 field(s)"),
            ("0 0 0 8 * * * Mon", "has 8 field(s)"),
            ("0 8 * * 1-5", "write weekdays by name"),
            ("0 0 8 * * 2", "write weekdays by name"),
            ("0 61 * * * *", "\"0 61 * * * *\" is not a cron expression"),
            (
                "0 8 * * Lundi",
                "\"0 8 * * Lundi\" is not a cron expression",
            ),
        ];
        for (expr, message) in cases {
            let err = JobSchedule::parse(expr).unwrap_err().to_string();
            assert!(err.contains(message), "{expr}: {err:?}");
        }
        assert_eq!(
            JobSchedule::parse("0 8 * * Mon-Fri").unwrap().to_string(),
            "0 8 * * Mon-Fri"
        );
    }
}
