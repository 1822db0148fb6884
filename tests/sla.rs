//! Service levels (issue 9): clocks in business hours (8h-18h Monday to Friday, Europe/Paris,
//! French holidays), paused while the ticket waits for its requester, and the escalator firing
//! each rung (warning, breach, L1, L2) once and only once: across passes run together, a
//! restart, and the clock stepping back. In process, on SQLite and on PostgreSQL, on the
//! manual clock; the escalator's passes are called as the worker calls them.
//!
//! Instants are written in UTC with their Paris time beside them (UTC+1 in winter, UTC+2 in
//! summer).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::app::{App, Backend, created, operator, recipients};
use common::{AGENT, SMSU_ADDRESS as SMSU, Setup, mail};
use guichet::domain::{EventKind, Priority, Status};
use guichet::service::operator as op;
use guichet::service::{jobs, report, sla};
use guichet::store::DeadlineRow;

const JEANNE: &str = "jeanne@univ-lorraine.example";
/// A governance contact of SMSU: told at L2.
const GOUV: &str = "gouvernance@univ-rennes.example";

/// SMSU's policy in these tests: 2 h first response and 8 h resolution for every ticket,
/// a warning at 75 %, L1 (the agents) 1 h after a breach and L2 (governance) 2 h after.
fn setup() -> Setup {
    Setup {
        smsu_tables: r#"
[offers.sla]
warning_percent = 75
[[offers.sla.targets]]
first_response = "2h"
resolution = "8h"
[[offers.sla.targets]]
priority = "critical"
first_response = "30m"
resolution = "4h"
[[offers.sla.levels]]
after = "1h"
notify = ["agents"]
[[offers.sla.levels]]
after = "2h"
notify = ["governance"]
"#
        .into(),
        extra_tables: format!(
            r#"
[[contacts]]
name = "Gouvernance ESUP"
emails = ["{GOUV}"]
institution = "univ-rennes"
roles = {{ SMSU = ["governance"] }}
"#
        ),
        mail: "coalesce_minutes = 0".into(),
        ..Setup::default()
    }
}

on_both_backends!(
    setup = setup;
    a_ticket_of_friday_1730_breaches_on_monday_at_0930,
    easter_and_whit_monday_2027_are_skipped,
    the_last_sundays_of_march_and_october_give_the_right_instants,
    time_waiting_for_the_requester_does_not_count,
    every_level_fires_once_and_only_once,
    two_passes_at_the_same_instant_fire_nothing_twice,
    the_clock_stepping_back_fires_nothing_twice,
    a_restarted_daemon_still_fires_a_pending_deadline_on_time,
    a_changed_policy_moves_the_pending_deadlines_at_restart,
    a_raised_priority_brings_the_deadlines_forward,
    the_first_answer_stops_the_first_response_clock,
    the_daily_digest_runs_once_per_scheduled_instant,
    the_daily_digest_runs_at_its_instant_and_once_after_a_gap,
    the_report_counts_compliance_and_breaches_by_level,
    the_weekly_report_tells_governance_last_weeks_figures,
);

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// Jeanne writes at `at`: a new SMSU ticket; returns its ref.
async fn open(app: &App, at: DateTime<Utc>, id: &str) -> String {
    app.clock.set(at);
    let raw = mail(JEANNE, SMSU, "Panne", id, "");
    created(&app.ingest("SMSU", &raw).await)
}

/// One escalator pass for SMSU at `at`; returns how many rungs fired.
async fn pass_at(app: &App, at: DateTime<Utc>) -> usize {
    app.clock.set(at);
    sla::fire_due(&app.ctx, app.offer("SMSU")).await.unwrap()
}

/// The ticket's deadlines, pending and fired.
async fn deadlines(app: &App, reference: &str) -> Vec<DeadlineRow> {
    let id = app.show("SMSU", reference).await.ticket.id;
    let mut tx = app.ctx.store.begin(&app.offer("SMSU").code).await.unwrap();
    let rows = tx.sla_deadlines(id).await.unwrap();
    tx.rollback().await.unwrap();
    rows
}

/// The pending deadline of `target`: its level and instant.
async fn pending(app: &App, reference: &str, target: &str) -> Option<(String, DateTime<Utc>)> {
    deadlines(app, reference)
        .await
        .into_iter()
        .find(|d| d.target.as_str() == target && d.fired_at.is_none())
        .map(|d| (d.level, d.due_at))
}

/// The rungs fired, as `target:level`, in order of firing.
async fn fired(app: &App, reference: &str) -> Vec<String> {
    let mut rows: Vec<DeadlineRow> = deadlines(app, reference)
        .await
        .into_iter()
        .filter(|d| d.fired_at.is_some())
        .collect();
    rows.sort_by_key(|d| (d.fired_at, d.due_at));
    rows.iter()
        .map(|d| format!("{}:{}", d.target, d.level))
        .collect()
}

/// How many events of `kind` the ticket's log holds.
async fn events(app: &App, reference: &str, kind: EventKind) -> usize {
    let view = app.show("SMSU", reference).await;
    view.events.iter().filter(|e| e.kind == kind).count()
}

/// Friday 27 November 2026, 17:30 in Paris, a 2 h first-response target: half an hour on
/// Friday, the rest from Monday 8:00, so the breach is at Monday 9:30; the 1 h 30 warning
/// waits for Monday 9:00.
async fn a_ticket_of_friday_1730_breaches_on_monday_at_0930(app: App) {
    let r = open(&app, utc(2026, 11, 27, 16, 30), "fri@x").await; // Fri 17:30
    let monday = |h, m| utc(2026, 11, 30, h, m); // UTC: Paris minus one hour
    assert_eq!(
        pending(&app, &r, "first_response").await,
        Some(("warning".into(), monday(8, 0)))
    );
    assert_eq!(pass_at(&app, monday(7, 59)).await, 0);
    assert_eq!(pass_at(&app, monday(8, 0)).await, 1);
    assert_eq!(
        pending(&app, &r, "first_response").await,
        Some(("breach".into(), monday(8, 30)))
    );
    assert_eq!(pass_at(&app, monday(8, 29)).await, 0);
    assert_eq!(pass_at(&app, monday(8, 30)).await, 1);
    assert_eq!(
        fired(&app, &r).await,
        ["first_response:warning", "first_response:breach"]
    );
    // The breach is the Monday instant, recorded as such.
    let view = app.show("SMSU", &r).await;
    let breach = view
        .events
        .iter()
        .find(|e| e.kind == EventKind::SlaBreached)
        .expect("breach event");
    assert_eq!(breach.data.0["due_at"], serde_json::json!(monday(8, 30)));
}

/// Easter Monday (29 March 2027, the day after the change to summer time) and Whit Monday
/// (17 May 2027) are holidays: a ticket of the Friday before, 17:00, with 2 h to answer,
/// breaches on the Tuesday at 9:00.
async fn easter_and_whit_monday_2027_are_skipped(app: App) {
    let easter = open(&app, utc(2027, 3, 26, 16, 0), "easter@x").await; // Fri 17:00, UTC+1
    let whit = open(&app, utc(2027, 5, 14, 15, 0), "whit@x").await; // Fri 17:00, UTC+2
    let breach = |r: String| {
        let app = &app;
        async move {
            let mut rows = deadlines(app, &r).await;
            rows.retain(|d| d.target.as_str() == "first_response");
            // Fire the warning to see the breach's row.
            let warning = rows[0].due_at;
            pass_at(app, warning).await;
            pending(app, &r, "first_response").await.unwrap()
        }
    };
    assert_eq!(
        breach(easter).await,
        ("breach".into(), utc(2027, 3, 30, 7, 0))
    );
    assert_eq!(
        breach(whit).await,
        ("breach".into(), utc(2027, 5, 18, 7, 0))
    );
}

/// Across the last Sundays of March and October: Friday 17:00 plus 2 h is Monday 9:00 in
/// Paris, whose offset to UTC changed over the weekend.
async fn the_last_sundays_of_march_and_october_give_the_right_instants(app: App) {
    let march = open(&app, utc(2026, 3, 27, 16, 0), "march@x").await; // UTC+1 -> UTC+2
    let october = open(&app, utc(2026, 10, 23, 15, 0), "october@x").await; // UTC+2 -> UTC+1
    let view = app.show("SMSU", &march).await;
    let started = view
        .events
        .iter()
        .filter(|e| e.kind == EventKind::SlaStarted)
        .count();
    assert_eq!(started, 2, "first response and resolution");
    let clocks = |r: String| {
        let app = &app;
        async move {
            let view = app.show("SMSU", &r).await;
            view.sla
                .iter()
                .find(|c| c.target.as_str() == "first_response")
                .and_then(|c| c.due_at)
        }
    };
    assert_eq!(clocks(march).await, Some(utc(2026, 3, 30, 7, 0)));
    assert_eq!(clocks(october).await, Some(utc(2026, 10, 26, 8, 0)));
}

/// The resolution clock (8 h) counts 10:00-11:00 on Monday, stops while the ticket waits for
/// Jeanne, and runs again from her answer on Thursday at 10:00: 7 h left, so it runs out on
/// Thursday at 17:00, with the warning (6 h used) at 15:00.
async fn time_waiting_for_the_requester_does_not_count(app: App) {
    let r = open(&app, utc(2026, 11, 23, 9, 0), "wait@x").await; // Mon 10:00
    app.clock.set(utc(2026, 11, 23, 10, 0)); // Mon 11:00
    op::reply(
        &app.ctx,
        app.offer("SMSU"),
        &r,
        &operator(),
        "Quel navigateur ?",
    )
    .await
    .unwrap();
    app.set_status("SMSU", &r, Status::WaitingCustomer)
        .await
        .unwrap();
    assert_eq!(pending(&app, &r, "resolution").await, None, "paused");
    // Nothing fires while it waits, even long after the 8 h.
    assert_eq!(pass_at(&app, utc(2026, 11, 25, 16, 0)).await, 0);
    // Jeanne answers on Thursday 26, 10:00: back in progress.
    app.clock.set(utc(2026, 11, 26, 9, 0));
    let raw = mail(
        JEANNE,
        SMSU,
        &format!("Re: [{r}] Panne"),
        "answer@x",
        "In-Reply-To: <wait@x>\r\n",
    );
    app.ingest("SMSU", &raw).await;
    let view = app.show("SMSU", &r).await;
    assert_eq!(view.ticket.status, Status::InProgress);
    assert_eq!(
        pending(&app, &r, "resolution").await,
        Some(("warning".into(), utc(2026, 11, 26, 14, 0)))
    );
    assert_eq!(events(&app, &r, EventKind::SlaPaused).await, 1);
    assert_eq!(events(&app, &r, EventKind::SlaResumed).await, 1);
    let clock = view
        .sla
        .iter()
        .find(|c| c.target.as_str() == "resolution")
        .unwrap();
    assert_eq!(clock.due_at, Some(utc(2026, 11, 26, 16, 0)));
    assert_eq!(clock.left_secs, 7 * 3600);
}

/// Jumping far past every rung: each fires once, in order, with its notice to the right
/// people; a second pass fires nothing.
async fn every_level_fires_once_and_only_once(app: App) {
    let r = open(&app, utc(2026, 11, 23, 9, 0), "levels@x").await; // Mon 10:00
    let later = utc(2026, 11, 24, 17, 0);
    // Each pass fires what is due; the next rung of a clock comes due at once after a jump.
    let mut total = 0;
    for _ in 0..10 {
        total += pass_at(&app, later).await;
    }
    assert_eq!(
        fired(&app, &r).await,
        [
            "first_response:warning",
            "first_response:breach",
            "first_response:L1",
            "first_response:L2",
            "resolution:warning",
            "resolution:breach",
            "resolution:L1",
            "resolution:L2",
        ]
    );
    assert_eq!(total, 8);
    assert_eq!(pass_at(&app, later + TimeDelta::days(30)).await, 0);
    assert_eq!(events(&app, &r, EventKind::SlaWarned).await, 2);
    assert_eq!(events(&app, &r, EventKind::SlaBreached).await, 2);
    assert_eq!(events(&app, &r, EventKind::SlaEscalated).await, 4);
    let outbox = app.outbox("SMSU").await;
    let to = |template: &str| -> Vec<Vec<String>> {
        outbox
            .iter()
            .filter(|o| o.template == template)
            .map(recipients)
            .collect()
    };
    assert_eq!(to("sla_warning"), vec![vec![AGENT.to_owned()]; 2]);
    assert_eq!(to("sla_breach"), vec![vec![AGENT.to_owned()]; 2]);
    assert_eq!(
        to("escalated"),
        // Firing goes rung by rung across clocks: both L1s (the agents), then both L2s.
        [
            vec![AGENT.to_owned()],
            vec![AGENT.to_owned()],
            vec![GOUV.to_owned()],
            vec![GOUV.to_owned()]
        ]
    );
}

/// Two passes at the breach instant (two workers, two daemons): each rung fires once.
async fn two_passes_at_the_same_instant_fire_nothing_twice(app: App) {
    let mut refs = Vec::new();
    for i in 0..5 {
        refs.push(open(&app, utc(2026, 11, 23, 9, 0), &format!("twice{i}@x")).await);
    }
    app.clock.set(utc(2026, 11, 23, 10, 30)); // Mon 11:30: every first-response warning
    let offer = app.offer("SMSU");
    let (a, b) = tokio::join!(
        sla::fire_due(&app.ctx, offer),
        sla::fire_due(&app.ctx, offer)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 5);
    for r in &refs {
        assert_eq!(fired(&app, r).await, ["first_response:warning"]);
        assert_eq!(events(&app, r, EventKind::SlaWarned).await, 1);
    }
    let warnings = app
        .outbox("SMSU")
        .await
        .iter()
        .filter(|o| o.template == "sla_warning")
        .count();
    assert_eq!(warnings, 5);
}

/// The breach fired at 11:00 (Paris 12:00); the clock steps back an hour and forward again:
/// nothing fires twice, and L1 waits for its own instant.
async fn the_clock_stepping_back_fires_nothing_twice(app: App) {
    let r = open(&app, utc(2026, 11, 23, 9, 0), "back@x").await; // Mon 10:00
    assert_eq!(pass_at(&app, utc(2026, 11, 23, 10, 30)).await, 1); // warning
    assert_eq!(pass_at(&app, utc(2026, 11, 23, 11, 0)).await, 1); // breach
    assert_eq!(pass_at(&app, utc(2026, 11, 23, 10, 0)).await, 0); // stepped back
    assert_eq!(pass_at(&app, utc(2026, 11, 23, 11, 0)).await, 0);
    assert_eq!(pass_at(&app, utc(2026, 11, 23, 11, 59)).await, 0);
    assert_eq!(pass_at(&app, utc(2026, 11, 23, 12, 0)).await, 1); // L1
    assert_eq!(
        fired(&app, &r).await,
        [
            "first_response:warning",
            "first_response:breach",
            "first_response:L1"
        ]
    );
}

/// The daemon stops with a deadline pending and starts again: the new process (a new
/// context on the same store, its deadlines recomputed at start) fires it at its instant.
async fn a_restarted_daemon_still_fires_a_pending_deadline_on_time(mut app: App) {
    let r = open(&app, utc(2026, 11, 23, 9, 0), "restart@x").await; // Mon 10:00
    app.reconfigure(|_| {}).await;
    let offer = app.offer("SMSU").clone();
    // Same calendar, same policy: nothing to write.
    assert_eq!(sla::recompute(&app.ctx, &offer).await.unwrap(), 0);
    assert_eq!(
        sla::next_due(&app.ctx, &offer).await.unwrap(),
        Some(utc(2026, 11, 23, 10, 30))
    );
    assert_eq!(pass_at(&app, utc(2026, 11, 23, 10, 29)).await, 0);
    assert_eq!(pass_at(&app, utc(2026, 11, 23, 10, 30)).await, 1);
    assert_eq!(fired(&app, &r).await, ["first_response:warning"]);
}

/// The warning goes from 75 % to 50 % while the daemon is stopped: at its start, the pending
/// warnings of both clocks of the open ticket move (2 h first response: 11:00 Paris; 8 h
/// resolution: 14:00), and a second start finds nothing to move.
async fn a_changed_policy_moves_the_pending_deadlines_at_restart(mut app: App) {
    let r = open(&app, utc(2026, 11, 23, 9, 0), "moved@x").await; // Mon 10:00
    let other = open(&app, utc(2026, 11, 23, 9, 5), "moved2@x").await;
    op::set_status(
        &app.ctx,
        app.offer("SMSU"),
        &other,
        &operator(),
        Status::Resolved,
    )
    .await
    .unwrap();
    app.reconfigure(|s| {
        s.smsu_tables = s
            .smsu_tables
            .replace("warning_percent = 75", "warning_percent = 50")
    })
    .await;
    let offer = app.offer("SMSU").clone();
    assert_eq!(sla::recompute(&app.ctx, &offer).await.unwrap(), 2);
    assert_eq!(
        pending(&app, &r, "first_response").await,
        Some(("warning".into(), utc(2026, 11, 23, 10, 0)))
    );
    assert_eq!(
        pending(&app, &r, "resolution").await,
        Some(("warning".into(), utc(2026, 11, 23, 13, 0)))
    );
    assert_eq!(pending(&app, &other, "resolution").await, None);
    assert_eq!(sla::recompute(&app.ctx, &offer).await.unwrap(), 0);
    assert_eq!(pass_at(&app, utc(2026, 11, 23, 10, 0)).await, 1);
}

/// Normal to critical at 10:10: 10 minutes of 30 used, the breach moves to 10:30.
async fn a_raised_priority_brings_the_deadlines_forward(app: App) {
    let r = open(&app, utc(2026, 11, 23, 9, 0), "prio@x").await; // Mon 10:00
    app.clock.set(utc(2026, 11, 23, 9, 10));
    op::set_priority(
        &app.ctx,
        app.offer("SMSU"),
        &r,
        &operator(),
        Priority::Critical,
    )
    .await
    .unwrap();
    // 75 % of 30 min is 22 min 30 s: the warning at 10:22:30 Paris.
    assert_eq!(
        pending(&app, &r, "first_response").await,
        Some((
            "warning".into(),
            utc(2026, 11, 23, 9, 22) + TimeDelta::seconds(30)
        ))
    );
    assert_eq!(events(&app, &r, EventKind::SlaRetargeted).await, 2);
    assert_eq!(pass_at(&app, utc(2026, 11, 23, 9, 30)).await, 2); // warning, breach
}

/// An agent's answer meets the first-response clock: its deadlines go, the resolution's stay.
async fn the_first_answer_stops_the_first_response_clock(app: App) {
    let r = open(&app, utc(2026, 11, 23, 9, 0), "answer@x").await;
    app.clock.set(utc(2026, 11, 23, 9, 45));
    op::reply(&app.ctx, app.offer("SMSU"), &r, &operator(), "Je regarde.")
        .await
        .unwrap();
    assert_eq!(pending(&app, &r, "first_response").await, None);
    assert!(pending(&app, &r, "resolution").await.is_some());
    assert_eq!(events(&app, &r, EventKind::SlaFirstResponse).await, 1);
    let view = app.show("SMSU", &r).await;
    let first = view
        .sla
        .iter()
        .find(|c| c.target.as_str() == "first_response")
        .unwrap();
    assert!(!first.breached);
    assert_eq!(first.left_secs, 75 * 60);
    // Far later: only the resolution's rungs fire.
    pass_at(&app, utc(2026, 12, 31, 12, 0)).await;
    assert!(
        fired(&app, &r)
            .await
            .iter()
            .all(|f| f.starts_with("resolution:"))
    );
}

/// The digest of Tuesday 10:00 lists the open tickets with their service level, to the
/// agents, once: a second run for the same instant (another daemon, a restart) queues nothing.
async fn the_daily_digest_runs_once_per_scheduled_instant(app: App) {
    let late = open(&app, utc(2026, 11, 23, 9, 0), "late@x").await; // Mon 10:00
    let fresh = open(&app, utc(2026, 11, 24, 9, 0), "fresh@x").await; // Tue 10:00
    let done = open(&app, utc(2026, 11, 24, 9, 0), "done@x").await;
    app.set_status("SMSU", &done, Status::Resolved)
        .await
        .unwrap();
    pass_at(&app, utc(2026, 11, 24, 9, 0)).await;
    let scheduled = utc(2026, 11, 24, 9, 0);
    let offer = app.offer("SMSU");
    let (a, b) = tokio::join!(
        jobs::daily_digest(&app.ctx, offer, scheduled),
        jobs::daily_digest(&app.ctx, offer, scheduled)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(
        jobs::daily_digest(&app.ctx, offer, scheduled)
            .await
            .unwrap(),
        0
    );
    let digests: Vec<_> = app
        .outbox("SMSU")
        .await
        .into_iter()
        .filter(|o| o.template == "daily_digest")
        .collect();
    assert_eq!(digests.len(), 1);
    assert_eq!(recipients(&digests[0]), [AGENT]);
    let listed: Vec<(String, String)> = digests[0].context.0["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let field = |k: &str| t[k].as_str().unwrap().to_owned();
            (field("ref"), field("sla"))
        })
        .collect();
    assert_eq!(
        listed,
        [(late, "breached".to_owned()), (fresh, "ok".to_owned())]
    );
}

/// SMSU on a calendar with a lunch break (8h-12h and 13h30-18h): a ticket of Monday 11:00
/// with 2 h to answer has one hour before lunch and one after it: the breach is at 14:30,
/// the 1 h 30 warning at 14:00.
async fn a_lunch_break_is_not_business_time(app: App) {
    let r = open(&app, utc(2026, 11, 23, 10, 0), "lunch@x").await; // Mon 11:00
    assert_eq!(
        pending(&app, &r, "first_response").await,
        Some(("warning".into(), utc(2026, 11, 23, 13, 0)))
    );
    let view = app.show("SMSU", &r).await;
    let first = view
        .sla
        .iter()
        .find(|c| c.target.as_str() == "first_response")
        .unwrap();
    assert_eq!(first.due_at, Some(utc(2026, 11, 23, 13, 30)));
    assert_eq!(
        first.due_local.as_deref(),
        Some("2026-11-23 14:30 (Europe/Paris)")
    );
}

fn lunch_setup() -> Setup {
    let mut setup = setup();
    setup.smsu = "calendar = \"lunch\"".into();
    let day = "[\"08:00-12:00\", \"13:30-18:00\"]";
    setup.extra_tables.push_str(&format!(
        "\n[calendars.lunch.week]\nmonday = {day}\ntuesday = {day}\nwednesday = {day}\n\
         thursday = {day}\nfriday = {day}\n"
    ));
    setup
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lunch_break_is_not_business_time_sqlite() {
    a_lunch_break_is_not_business_time(App::with(Backend::Sqlite, lunch_setup()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lunch_break_is_not_business_time_postgres() {
    a_lunch_break_is_not_business_time(App::with(Backend::Postgres, lunch_setup()).await).await;
}

/// The daily digest (8:00 on weekdays in Paris by default) runs at its instant, once; after
/// days without a daemon, only the latest missed instant runs.
async fn the_daily_digest_runs_at_its_instant_and_once_after_a_gap(app: App) {
    open(&app, utc(2026, 11, 23, 9, 0), "digest@x").await; // Mon 10:00
    let offer = app.offer("SMSU");
    let started = utc(2026, 11, 23, 9, 0);
    let run_at = |at| {
        app.clock.set(at);
        jobs::run_due(&app.ctx, offer, started)
    };
    let tuesday_8 = utc(2026, 11, 24, 7, 0);
    assert_eq!(
        run_at(utc(2026, 11, 23, 9, 30)).await.unwrap(),
        Some(tuesday_8)
    );
    assert_eq!(
        run_at(tuesday_8).await.unwrap(),
        Some(utc(2026, 11, 25, 7, 0))
    );
    run_at(tuesday_8).await.unwrap();
    // Wednesday to Friday missed; Saturday and Sunday are not scheduled.
    assert_eq!(
        run_at(utc(2026, 11, 30, 10, 0)).await.unwrap(),
        Some(utc(2026, 12, 1, 7, 0))
    );
    let dates: Vec<String> = app
        .outbox("SMSU")
        .await
        .iter()
        .filter(|o| o.template == "daily_digest")
        .map(|o| o.context.0["date"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(dates, ["2026-11-24", "2026-11-30"]);
}

/// The month's report counts what the escalator recorded: both clocks decided late, and the
/// breach, L1 and L2 of each.
async fn the_report_counts_compliance_and_breaches_by_level(app: App) {
    let r = open(&app, utc(2026, 11, 23, 9, 0), "report@x").await; // Mon 10:00
    pass_at(&app, utc(2026, 11, 24, 17, 0)).await;
    app.set_status("SMSU", &r, Status::Resolved).await.unwrap();
    let offer = app.offer("SMSU");
    let day = |m, d| chrono::NaiveDate::from_ymd_opt(2026, m, d).unwrap();
    let span = report::Span::of_days(chrono_tz::Europe::Paris, day(11, 1), day(12, 1)).unwrap();
    let hours = report::Hours {
        calendar: offer.calendar.as_ref(),
        label: "esup",
    };
    let figures = report::build(&app.ctx, offer, &span, hours).await.unwrap();
    let sla: Vec<(String, u64, u64)> = figures
        .sla
        .iter()
        .map(|l| (l.target.clone(), l.total, l.met))
        .collect();
    assert_eq!(
        sla,
        [
            ("first_response".to_owned(), 1, 0),
            ("resolution".to_owned(), 1, 0)
        ]
    );
    let breaches: Vec<(String, u64)> = figures
        .breaches
        .iter()
        .map(|b| (b.level.clone(), b.count))
        .collect();
    assert_eq!(
        breaches,
        [
            ("breach".to_owned(), 2),
            ("L1".to_owned(), 2),
            ("L2".to_owned(), 2)
        ]
    );
}

/// Monday 9:00 in Paris: last week's figures go to the governance contacts, once.
async fn the_weekly_report_tells_governance_last_weeks_figures(app: App) {
    let r = open(&app, utc(2026, 11, 23, 9, 0), "week@x").await; // Mon 23, 10:00
    app.clock.set(utc(2026, 11, 23, 10, 0));
    op::reply(&app.ctx, app.offer("SMSU"), &r, &operator(), "Je regarde.")
        .await
        .unwrap();
    app.set_status("SMSU", &r, Status::Resolved).await.unwrap();
    open(&app, utc(2026, 11, 30, 7, 30), "next-week@x").await; // Mon 30, 8:30: not last week
    let offer = app.offer("SMSU");
    let monday_9 = utc(2026, 11, 30, 8, 0);
    app.clock.set(monday_9);
    assert_eq!(
        jobs::weekly_report(&app.ctx, offer, monday_9)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        jobs::weekly_report(&app.ctx, offer, monday_9)
            .await
            .unwrap(),
        0
    );
    let reports: Vec<_> = app
        .outbox("SMSU")
        .await
        .into_iter()
        .filter(|o| o.template == "weekly_report")
        .collect();
    assert_eq!(reports.len(), 1);
    assert_eq!(recipients(&reports[0]), [GOUV]);
    let ctx = &reports[0].context.0;
    assert_eq!(ctx["period"]["from"], "2026-11-23");
    assert_eq!(ctx["period"]["to"], "2026-11-29");
    assert_eq!(ctx["figures"]["opened"], 1);
    assert_eq!(ctx["figures"]["resolved"], 1);
    assert_eq!(ctx["figures"]["first_response_p50"], "1 h 00 min");
    assert_eq!(
        ctx["sla"][0],
        serde_json::json!({
            "target": "first_response", "total": 1, "met": 1, "compliance": "100.0 %"
        })
    );
}
