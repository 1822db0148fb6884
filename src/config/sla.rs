//! `[offers.sla]`: an offer's service levels. Absent, the offer keeps ESUP's usual policy
//! ([`Policy::esup_default`]); each key given replaces that part of it (`targets` all the
//! rules, `levels` all the levels). Every problem goes to the [`Report`].
//!
//! ```toml
//! [offers.sla]
//! warning_percent = 75                  # 0: no warning
//! pause = ["waiting_customer"]          # statuses that stop the clocks
//! first_response = "reply"              # or "reply_or_assignment"
//! [[offers.sla.targets]]                # the most specific matching entry wins
//! priority = "critical"                 # optional; kind = "incident" too
//! first_response = "1h"                 # business time: "90m", "1h30m", "2h"
//! resolution = "4h"
//! update = "2h"                         # optional
//! [[offers.sla.levels]]                 # L1, L2... in order
//! after = "1h"                          # after the breach, in business time...
//! notify = ["agents"]                   # agents, assignee, governance or an address
//! outside_hours = false                 # ...or wall-clock time, firing day and night
//! ```

use chrono::TimeDelta;

use super::cursor::{Fields, Node, Report};
use super::{ContactConfig, OfferConfig, Role, defaults};
use crate::domain::schedule::JobSchedule;
use crate::domain::sla::{
    Budgets, EscalationLevel, FirstResponseBy, Policy, Recipient, TargetRule,
};
use crate::domain::{Priority, Status, TicketKind};

/// Reads an offer's `sla` table (absent: the default policy).
pub(super) fn read_sla(mut t: Fields<'_>, r: &mut Report) -> Option<Policy> {
    let mut policy = Policy::esup_default();
    let mut ok = true;
    if let Some(n) = t.get("warning_percent") {
        match n.value.as_integer() {
            Some(0) => policy.warning_percent = None,
            Some(p @ 1..=99) => policy.warning_percent = u8::try_from(p).ok(),
            _ => {
                r.error(&n.path, "expected a percentage from 0 (no warning) to 99");
                ok = false;
            }
        }
    }
    if let Some(n) = t.get("pause") {
        match n.array(r) {
            Some(items) => {
                let statuses: Vec<Option<Status>> =
                    items.iter().map(|i| i.parse(r, |s| s.parse())).collect();
                ok &= statuses.iter().all(Option::is_some);
                policy.pause = statuses.into_iter().flatten().collect();
            }
            None => ok = false,
        }
    }
    if let Some(n) = t.get("first_response") {
        match n.parse(r, |s| match s {
            "reply" => Ok(FirstResponseBy::Reply),
            "reply_or_assignment" => Ok(FirstResponseBy::ReplyOrAssignment),
            _ => Err(format!(
                "unknown rule {s:?} (expected reply or reply_or_assignment)"
            )),
        }) {
            Some(rule) => policy.first_response_by = rule,
            None => ok = false,
        }
    }
    let present = |t: &Fields<'_>, key| t.table.is_some_and(|table| table.contains_key(key));
    let (has_targets, has_levels) = (present(&t, "targets"), present(&t, "levels"));
    let (targets, levels) = (t.tables("targets", r), t.tables("levels", r));
    if has_targets {
        let rules: Vec<Option<TargetRule>> =
            targets.into_iter().map(|f| read_target(f, r)).collect();
        ok &= rules.iter().all(Option::is_some);
        policy.rules = rules.into_iter().flatten().collect();
    }
    if has_levels {
        let levels: Vec<Option<EscalationLevel>> =
            levels.into_iter().map(|f| read_level(f, r)).collect();
        ok &= levels.iter().all(Option::is_some);
        policy.levels = levels.into_iter().flatten().collect();
    }
    t.finish(r);
    ok.then_some(policy)
}

fn read_target(mut t: Fields<'_>, r: &mut Report) -> Option<TargetRule> {
    let kind = t
        .get("kind")
        .map(|n| n.parse(r, |s| s.parse::<TicketKind>()));
    let priority = t
        .get("priority")
        .map(|n| n.parse(r, |s| s.parse::<Priority>()));
    let mut duration = |key| t.get(key).map(|n| business_duration(&n, r));
    let (first, resolution, update) = (
        duration("first_response"),
        duration("resolution"),
        duration("update"),
    );
    if first.is_none() && resolution.is_none() && update.is_none() && t.table.is_some() {
        r.error(
            &t.path,
            "a target entry needs first_response, resolution or update",
        );
        t.finish(r);
        return None;
    }
    t.finish(r);
    let all_read = [&first, &resolution, &update]
        .iter()
        .all(|d| !matches!(d, Some(None)));
    if !all_read || matches!(kind, Some(None)) || matches!(priority, Some(None)) {
        return None;
    }
    Some(TargetRule {
        kind: kind.flatten(),
        priority: priority.flatten(),
        budgets: Budgets {
            first_response: first.flatten(),
            resolution: resolution.flatten(),
            update: update.flatten(),
        },
    })
}

fn read_level(mut t: Fields<'_>, r: &mut Report) -> Option<EscalationLevel> {
    let after = t
        .need("after", r)
        .and_then(|n| business_duration_or_zero(&n, r));
    let notify = t.need("notify", r).and_then(|n| {
        let items = n.array(r)?;
        if items.is_empty() {
            r.error(&n.path, "a level needs at least one recipient");
            return None;
        }
        let parsed: Vec<Option<Recipient>> =
            items.iter().map(|i| i.parse(r, |s| s.parse())).collect();
        parsed.into_iter().collect::<Option<Vec<_>>>()
    });
    let outside_hours = match t.get("outside_hours") {
        None => Some(false),
        Some(n) => match n.value.as_bool() {
            Some(b) => Some(b),
            None => {
                n.mismatch("a boolean", r);
                None
            }
        },
    };
    t.finish(r);
    Some(EscalationLevel {
        after: after?,
        notify: notify?,
        outside_hours: outside_hours?,
    })
}

/// A positive duration such as `90m`, `1h30m`, `2h`, `45s`.
fn business_duration(n: &Node<'_>, r: &mut Report) -> Option<TimeDelta> {
    let d = business_duration_or_zero(n, r)?;
    if d <= TimeDelta::zero() {
        r.error(&n.path, "must be longer than zero");
        return None;
    }
    Some(d)
}

fn business_duration_or_zero(n: &Node<'_>, r: &mut Report) -> Option<TimeDelta> {
    n.parse(r, parse_duration)
}

/// An offer's scheduled jobs (`[offers.jobs]`); `None`: the job is off.
#[derive(Debug, Clone)]
pub struct Jobs {
    /// `daily_digest` (default [`defaults::DAILY_DIGEST`]; `""` turns it off): the open
    /// tickets with their SLA state, to the offer's agents.
    pub daily_digest: Option<JobSchedule>,
    /// `weekly_report` (default [`defaults::WEEKLY_REPORT`]; `""` turns it off): last week's
    /// figures, to the offer's governance contacts.
    pub weekly_report: Option<JobSchedule>,
}

/// Reads an offer's `jobs` table: cron expressions, five fields (crontab) or six and seven
/// (seconds first), in the offer's calendar's time zone.
pub(super) fn read_jobs(mut t: Fields<'_>, r: &mut Report) -> Option<Jobs> {
    let mut job = |key, default: &str| match t.get(key) {
        None => Some(JobSchedule::parse(default).ok()),
        Some(n) => n.parse(r, |s| match s.trim() {
            "" => Ok(None),
            s => JobSchedule::parse(s).map(Some).map_err(|e| e.to_string()),
        }),
    };
    let daily_digest = job("daily_digest", defaults::DAILY_DIGEST);
    let weekly_report = job("weekly_report", defaults::WEEKLY_REPORT);
    t.finish(r);
    Some(Jobs {
        daily_digest: daily_digest?,
        weekly_report: weekly_report?,
    })
}

/// Every address an escalation level names must be an agent or a governance contact of its
/// offer: nobody else may hear of a ticket (`domain::audience`), so another address would be
/// a level that tells nobody.
pub(super) fn check_recipients(offers: &[OfferConfig], contacts: &[ContactConfig], r: &mut Report) {
    for offer in offers {
        for (i, level) in offer.sla.levels.iter().enumerate() {
            for recipient in &level.notify {
                let Recipient::Contact(address) = recipient else {
                    continue;
                };
                let entitled = contacts.iter().any(|c| {
                    c.emails.contains(address)
                        && c.roles.iter().any(|(code, roles)| {
                            *code == offer.code
                                && roles
                                    .iter()
                                    .any(|r| matches!(r, Role::Agent | Role::Governance))
                        })
                });
                if !entitled {
                    r.error(
                        &format!("offers.sla.levels[{i}].notify"),
                        format!(
                            "{address} is no agent or governance contact of offer {}: an \
                             escalation may only tell the offer's own people",
                            offer.code
                        ),
                    );
                }
            }
        }
    }
}

/// `1h30m`, `90m`, `2h`, `45s`, `0m`: hours, minutes and seconds, each at most once, in that
/// order. Days are refused: whether a business day is 10 or 24 hours is for the reader to
/// get wrong.
pub(super) fn parse_duration(s: &str) -> Result<TimeDelta, String> {
    let bad = || {
        format!(
            "{s:?} is not a duration (write it as 4h, 90m, 1h30m or 45s; days are ambiguous in business time)"
        )
    };
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = TimeDelta::zero();
    let mut units = ['h', 'm', 's'].iter();
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        let unit = rest[digits..].chars().next().ok_or_else(bad)?;
        if !units.any(|u| *u == unit) {
            return Err(bad());
        }
        let part = match unit {
            'h' => TimeDelta::try_hours(n),
            'm' => TimeDelta::try_minutes(n),
            _ => TimeDelta::try_seconds(n),
        }
        .ok_or_else(bad)?;
        total = total.checked_add(&part).ok_or_else(bad)?;
        rest = rest[digits + unit.len_utf8()..].trim_start();
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_hours_minutes_seconds_in_order() {
        let ok = [
            ("2h", 120 * 60),
            ("90m", 90 * 60),
            ("1h30m", 90 * 60),
            ("1h 30m", 90 * 60),
            ("45s", 45),
            ("0m", 0),
        ];
        for (text, secs) in ok {
            assert_eq!(parse_duration(text), Ok(TimeDelta::seconds(secs)), "{text}");
        }
        for bad in ["", "2", "1d", "30m1h", "1h1h", "h", "-1h", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
