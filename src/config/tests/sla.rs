//! `[offers.sla]`: the default policy, what each key reads into, and each bad key or value
//! named by its path.

use chrono::TimeDelta;

use super::*;
use crate::domain::sla::{FirstResponseBy, Policy, Recipient};
use crate::domain::{Priority, Status, TicketKind};

fn policy(tables: &str) -> Policy {
    ok(&format!("{BASE}{tables}\n"), &[]).offers[0].sla.clone()
}

#[test]
fn an_offer_without_sla_keeps_the_esup_policy() {
    assert_eq!(policy(""), Policy::esup_default());
}

#[test]
fn each_key_replaces_its_part_of_the_policy() {
    let p = policy(
        r#"
[offers.sla]
warning_percent = 0
pause = ["waiting_customer", "assigned"]
first_response = "reply_or_assignment"
[[offers.sla.targets]]
first_response = "4h"
resolution = "1h30m"
[[offers.sla.targets]]
kind = "incident"
priority = "critical"
first_response = "15m"
[[offers.sla.levels]]
after = "0m"
notify = ["assignee", "governance"]
outside_hours = true
"#,
    );
    assert_eq!(p.warning_percent, None);
    assert_eq!(p.pause, [Status::WaitingCustomer, Status::Assigned]);
    assert_eq!(p.first_response_by, FirstResponseBy::ReplyOrAssignment);
    let normal = p.budgets(TicketKind::Request, Priority::Normal);
    assert_eq!(normal.first_response, Some(TimeDelta::hours(4)));
    assert_eq!(normal.resolution, Some(TimeDelta::minutes(90)));
    let critical = p.budgets(TicketKind::Incident, Priority::Critical);
    assert_eq!(critical.first_response, Some(TimeDelta::minutes(15)));
    assert_eq!(
        critical.resolution, None,
        "the most specific entry wins whole"
    );
    assert_eq!(p.levels.len(), 1);
    assert_eq!(
        p.levels[0].notify,
        [Recipient::Assignee, Recipient::Governance]
    );
    assert!(p.levels[0].outside_hours);
}

#[test]
fn bad_sla_keys_and_values_are_named_by_path() {
    let cases = [
        (
            "[offers.sla]\nwarning_percent = 100",
            "offers[0].sla.warning_percent",
            "expected a percentage from 0 (no warning) to 99",
        ),
        (
            "[offers.sla]\npause = [\"sleeping\"]",
            "offers[0].sla.pause[0]",
            "unknown status \"sleeping\"",
        ),
        (
            "[offers.sla]\nfirst_response = \"soon\"",
            "offers[0].sla.first_response",
            "unknown rule \"soon\"",
        ),
        (
            "[offers.sla]\nwarning_percnt = 75",
            "offers[0].sla.warning_percnt",
            "unknown key (did you mean warning_percent?)",
        ),
        (
            "[[offers.sla.targets]]\nfirst_response = \"2d\"",
            "offers[0].sla.targets[0].first_response",
            "\"2d\" is not a duration",
        ),
        (
            "[[offers.sla.targets]]\nresolution = \"0m\"",
            "offers[0].sla.targets[0].resolution",
            "must be longer than zero",
        ),
        (
            "[[offers.sla.targets]]\npriority = \"urgent\"\nresolution = \"4h\"",
            "offers[0].sla.targets[0].priority",
            "unknown priority \"urgent\"",
        ),
        (
            "[[offers.sla.targets]]\npriority = \"high\"",
            "offers[0].sla.targets[0]",
            "a target entry needs first_response, resolution or update",
        ),
        (
            "[[offers.sla.levels]]\nnotify = [\"agents\"]",
            "offers[0].sla.levels[0].after",
            "missing required key",
        ),
        (
            "[[offers.sla.levels]]\nafter = \"1h\"\nnotify = [\"managers\"]",
            "offers[0].sla.levels[0].notify[0]",
            "\"managers\" is none of agents, assignee, governance or a contact's address",
        ),
        (
            "[[offers.sla.levels]]\nafter = \"1h\"\nnotify = [\"boss@univ-rennes.example\"]",
            "offers.sla.levels[0].notify",
            "boss@univ-rennes.example is no agent or governance contact of offer SMSU",
        ),
        (
            "[[offers.sla.levels]]\nafter = \"1h\"\nnotify = [\"agents\"]\noutside_hours = \"yes\"",
            "offers[0].sla.levels[0].outside_hours",
            "expected a boolean, found a string",
        ),
    ];
    for (tables, path, message) in cases {
        let found = errors(&format!("{BASE}{tables}\n"), &[]);
        assert_eq!(found.len(), 1, "{tables}: {found:#?}");
        assert_eq!(found[0].path, path, "{tables}");
        assert!(
            found[0].message.starts_with(message),
            "{tables}: {}",
            found[0].message
        );
    }
}

#[test]
fn an_escalation_may_name_a_governance_contact_of_the_offer() {
    let text = format!(
        "{BASE}[[offers.sla.levels]]\nafter = \"1h\"\nnotify = [\"Chef@univ-rennes.example\"]\n\
         [[contacts]]\nname = \"Chef\"\nemails = [\"chef@univ-rennes.example\"]\n\
         roles = {{ SMSU = [\"governance\"] }}\n"
    );
    let config = ok(&text, &[]);
    assert_eq!(
        config.offers[0].sla.levels[0].notify,
        [Recipient::Contact("chef@univ-rennes.example".into())]
    );
}

#[test]
fn the_example_sla_is_valid_when_uncommented() {
    let mut in_section = false;
    let text: Vec<String> = EXAMPLE
        .lines()
        .map(|line| {
            if line == "# [offers.sla]" {
                in_section = true;
            }
            if line.is_empty() {
                in_section = false;
            }
            match line.strip_prefix("# ") {
                Some(rest) if in_section => rest.to_owned(),
                _ => line.to_owned(),
            }
        })
        .collect();
    let config = ok(&text.join("\n"), &[]);
    let p = &config.offers[0].sla;
    assert_eq!(p.warning_percent, Some(80));
    assert_eq!(p.rules.len(), 2);
    assert_eq!(p.levels.len(), 2);
    assert!(p.levels[1].outside_hours);
    assert_eq!(
        config.offers[1].sla,
        Policy::esup_default(),
        "GEFORP keeps it"
    );
}

#[test]
fn jobs_read_crontab_lines_and_may_be_turned_off() {
    let shipped = ok(BASE, &[]);
    let digest = shipped.offers[0].jobs.daily_digest.as_ref().unwrap();
    assert_eq!(digest.as_str(), crate::config::defaults::DAILY_DIGEST);
    let six = ok(
        &format!("{BASE}[offers.jobs]\ndaily_digest = \"0 30 7 * * Mon-Fri\"\n"),
        &[],
    );
    assert_eq!(
        six.offers[0].jobs.daily_digest.as_ref().unwrap().as_str(),
        "0 30 7 * * Mon-Fri"
    );
    let weekly = shipped.offers[0].jobs.weekly_report.as_ref().unwrap();
    assert_eq!(weekly.as_str(), crate::config::defaults::WEEKLY_REPORT);
    let off = ok(
        &format!("{BASE}[offers.jobs]\ndaily_digest = \"\"\nweekly_report = \" \"\n"),
        &[],
    );
    assert!(off.offers[0].jobs.daily_digest.is_none());
    assert!(off.offers[0].jobs.weekly_report.is_none());
    let found = errors(
        &format!("{BASE}[offers.jobs]\ndaily_digest = \"0 8 * * 1-5\"\n"),
        &[],
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].path, "offers[0].jobs.daily_digest");
    assert!(
        found[0].message.contains("write weekdays by name"),
        "{}",
        found[0].message
    );
}
