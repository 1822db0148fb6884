//! `guichet report` (issue 9 item 6): tickets built through the real services on a manual
//! clock, then the JSON report's numbers checked exactly, and the HTML report of the same
//! period checked against the JSON, figure by figure, with a chart that has data in each
//! `<svg>`. In process, on SQLite and on PostgreSQL; the command line once, on SQLite. The same
//! page opened in headless Chromium, once, on SQLite: its charts found on the screenshot.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Timelike, Utc, Weekday};
use common::app::{App, created, operator};
use common::chromium::{self, Screenshot};
use common::{COLLEAGUE, GEFORP_ADDRESS, SMSU_ADDRESS as SMSU, TestEnv, mail};
use guichet::domain::report::BusinessTime;
use guichet::domain::{Priority, Status, TicketKind};
use guichet::report_render;
use guichet::service::operator as op;
use guichet::service::report::{self, Hours, Span};
use serde_json::Value;

/// An unknown sender of univ-lorraine, taken in as its contact.
const JEANNE: &str = "jeanne@univ-lorraine.example";
/// An unknown sender of univ-rennes.
const REMI: &str = "remi@univ-rennes.example";

/// The tests' business hours: 8h-18h UTC, Monday to Friday, counted minute by minute (the
/// offer's real calendar is `domain::calendar`'s, and has its own tests).
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

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_json_report_counts_a_month_of_tickets_exactly() {
        let app = super::App::new(super::common::app::Backend::Sqlite).await;
        super::the_json_report_counts_a_month_of_tickets_exactly(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_html_report_shows_the_numbers_of_the_json_report() {
        let app = super::App::new(super::common::app::Backend::Sqlite).await;
        super::the_html_report_shows_the_numbers_of_the_json_report(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_html_report_shows_its_charts_in_chromium() {
        let app = super::App::new(super::common::app::Backend::Sqlite).await;
        super::the_html_report_shows_its_charts_in_chromium(app).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_json_report_counts_a_month_of_tickets_exactly() {
        let app = super::App::new(super::common::app::Backend::Postgres).await;
        super::the_json_report_counts_a_month_of_tickets_exactly(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_html_report_shows_the_numbers_of_the_json_report() {
        let app = super::App::new(super::common::app::Backend::Postgres).await;
        super::the_html_report_shows_the_numbers_of_the_json_report(app).await;
    }
}

fn at(month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, hour, 0, 0).unwrap()
}

/// A new mail (not a reply) from `from` to `to`.
fn opening(from: &str, to: &str, id: &str) -> Vec<u8> {
    mail(from, to, &format!("Demande {id}"), id, "")
}

/// Builds a month of SMSU tickets through the services, in order on the manual clock:
///
/// | ticket | opened | first response | resolved | closed | at the end of November |
/// | --- | --- | --- | --- | --- | --- |
/// | T4 Jeanne, incident | Tue 20 Oct 09:00 | 20 Oct 12:00 | Mon 9 Nov 09:00 | - | resolved |
/// | T1 Jeanne, incident | Mon 2 Nov 09:00 | 10:00 | Tue 3 Nov 09:00 | Wed 4 Nov | closed |
/// | T2 Marie, incident, high | Thu 5 Nov 09:00 | 11:00 | 10 Nov, reopened 11 Nov, again 2 Dec | - | in progress |
/// | T3 Rémi, request | Fri 20 Nov 09:00 | - | - | - | new |
/// | T5 Rémi | Tue 1 Dec 09:00 | | | | not yet opened |
///
/// and a GEFORP ticket in November, which SMSU's report never sees.
async fn a_month_of_tickets(app: &App) {
    let smsu = app.offer("SMSU");
    let set = |t| app.clock.set(t);
    let reply = |r: String| async move {
        op::reply(&app.ctx, smsu, &r, &operator(), "C'est noté.")
            .await
            .expect("reply");
    };

    set(at(10, 20, 9));
    let t4 = created(
        &app.ingest("SMSU", &opening(JEANNE, SMSU, "t4@x.example"))
            .await,
    );
    set(at(10, 20, 12));
    reply(t4.clone()).await;

    set(at(11, 2, 9));
    let t1 = created(
        &app.ingest("SMSU", &opening(JEANNE, SMSU, "t1@x.example"))
            .await,
    );
    set(at(11, 2, 10));
    reply(t1.clone()).await;
    set(at(11, 3, 9));
    app.set_status("SMSU", &t1, Status::Resolved).await.unwrap();
    set(at(11, 4, 9));
    app.set_status("SMSU", &t1, Status::Closed).await.unwrap();

    set(at(11, 5, 9));
    let t2 = created(
        &app.ingest("SMSU", &opening(COLLEAGUE, SMSU, "t2@x.example"))
            .await,
    );
    set(at(11, 5, 10));
    op::set_priority(&app.ctx, smsu, &t2, &operator(), Priority::High)
        .await
        .unwrap();
    set(at(11, 5, 11));
    reply(t2.clone()).await;

    set(at(11, 9, 9));
    app.set_status("SMSU", &t4, Status::Resolved).await.unwrap();
    set(at(11, 10, 9));
    app.set_status("SMSU", &t2, Status::Resolved).await.unwrap();
    set(at(11, 11, 9));
    let again = mail(
        COLLEAGUE,
        SMSU,
        "Re: Demande t2@x.example",
        "t2-again@x.example",
        "In-Reply-To: <t2@x.example>\r\n",
    );
    app.ingest("SMSU", &again).await;
    assert_eq!(
        app.show("SMSU", &t2).await.ticket.status,
        Status::InProgress,
        "Marie's answer reopened T2"
    );

    set(at(11, 12, 9));
    created(
        &app.ingest("GEFORP", &opening(REMI, GEFORP_ADDRESS, "g1@x.example"))
            .await,
    );

    set(at(11, 20, 9));
    let t3 = created(
        &app.ingest("SMSU", &opening(REMI, SMSU, "t3@x.example"))
            .await,
    );
    op::set_kind(&app.ctx, smsu, &t3, &operator(), TicketKind::Request)
        .await
        .unwrap();

    set(at(12, 1, 9));
    created(
        &app.ingest("SMSU", &opening(REMI, SMSU, "t5@x.example"))
            .await,
    );
    set(at(12, 2, 9));
    app.set_status("SMSU", &t2, Status::Resolved).await.unwrap();
}

/// November 2026 in Paris, as `--from 2026-11-01 --to 2026-12-01` reads it.
fn november() -> Span {
    let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
    Span::of_days(chrono_tz::Europe::Paris, day(11, 1), day(12, 1)).unwrap()
}

/// SMSU's November report in JSON, times in [`OfficeHours`].
async fn november_json(app: &App) -> Value {
    let hours = Hours {
        calendar: &OfficeHours,
        label: "8h-18h UTC, Monday to Friday",
    };
    let figures = report::build(&app.ctx, app.offer("SMSU"), &november(), hours)
        .await
        .expect("report");
    let text = report_render::json(&figures).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A breakdown as `(name, count)` pairs.
fn counts(v: &Value) -> Vec<(String, u64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, u64)]) -> Vec<(String, u64)> {
    items.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
}

const HOUR: i64 = 3600;

async fn the_json_report_counts_a_month_of_tickets_exactly(app: App) {
    a_month_of_tickets(&app).await;
    let r = november_json(&app).await;

    assert_eq!(r["offer"], "SMSU");
    assert_eq!(r["period"]["from"], "2026-10-31T23:00:00Z");
    assert_eq!(r["period"]["to"], "2026-11-30T23:00:00Z");
    assert_eq!(r["period_label"], "2026-11-01 to 2026-11-30, Europe/Paris");

    // Opened: T1, T2, T3 (T4 in October, T5 in December, GEFORP's elsewhere).
    assert_eq!(r["opened"]["total"], 3);
    assert_eq!(
        counts(&r["opened"]["by_kind"]),
        pairs(&[("incident", 2), ("request", 1), ("change", 0)])
    );
    assert_eq!(
        counts(&r["opened"]["by_priority"]),
        pairs(&[("low", 0), ("normal", 2), ("high", 1), ("critical", 0)])
    );
    assert_eq!(
        counts(&r["opened"]["by_institution"]),
        pairs(&[("Université de Lorraine", 2), ("Université de Rennes", 1)])
    );
    // Resolved: T1 and T4; T2's latest resolution is in December (the columns keep the
    // latest). Closed: T1.
    assert_eq!(r["resolved"]["total"], 2);
    assert_eq!(
        counts(&r["resolved"]["by_kind"]),
        pairs(&[("incident", 2), ("request", 0), ("change", 0)])
    );
    assert_eq!(r["closed"]["total"], 1);

    // First responses in November: T1 after 1 h, T2 after 2 h (T4's was in October).
    assert_eq!(r["first_response"]["count"], 2);
    assert_eq!(r["first_response"]["median_seconds"], HOUR);
    assert_eq!(r["first_response"]["p90_seconds"], 2 * HOUR);
    // Resolutions in November: T1 Mon 9:00 -> Tue 9:00 is 10 business hours; T4 Tue 20 Oct
    // 9:00 -> Mon 9 Nov 9:00 is 9 + 3 x 10 + 5 x 10 + 5 x 10 + 1 = 140.
    assert_eq!(r["resolution"]["count"], 2);
    assert_eq!(r["resolution"]["median_seconds"], 10 * HOUR);
    assert_eq!(r["resolution"]["p90_seconds"], 140 * HOUR);

    // At the end: T2 in progress (resolved since, which the columns alone would miss) and T3
    // new; T4 resolved, not closed.
    assert_eq!(r["backlog"], 2);
    assert_eq!(r["resolved_not_closed"], 1);

    // Service levels (ESUP's default policy, in the offer's calendar): first responses T1
    // (1 h) and T2 (2 h, when it had become high: exactly its 2 h) in time; resolutions T1 in
    // time (10 h of 40) and T4 late (140 h of 40), although no escalator ran to see it.
    // Nothing fired, so no breach is listed (tests/sla.rs has them).
    assert_eq!(
        r["sla"],
        serde_json::json!([
            { "target": "first_response", "total": 2, "met": 2, "compliance": 1.0 },
            { "target": "resolution", "total": 2, "met": 1, "compliance": 0.5 },
        ])
    );
    assert_eq!(r["breaches"], serde_json::json!([]));
}

/// `text` with the HTML escapes of `report_render::escape` undone.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// What the JSON report says the element with `data-key` `key` must show.
fn expected(json: &Value, key: &str) -> String {
    let parts: Vec<&str> = key.splitn(3, '.').collect();
    match parts.as_slice() {
        [figure] => json[*figure].to_string(),
        [set, field] if field.ends_with("_seconds") => {
            report_render::duration_text(json[*set][*field].as_i64())
        }
        ["breaches", level] => {
            let line = json["breaches"].as_array().unwrap().iter();
            line.clone()
                .find(|l| l["level"] == *level)
                .map(|l| l["count"].to_string())
                .unwrap_or_else(|| panic!("{key}: no such level in the JSON report"))
        }
        [set, field] => json[*set][*field].to_string(),
        ["sla", target, field] => {
            let line = json["sla"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["target"] == *target)
                .unwrap_or_else(|| panic!("{key}: no such target in the JSON report"));
            match *field {
                "compliance" => report_render::compliance_text(line["compliance"].as_f64()),
                _ => line[*field].to_string(),
            }
        }
        [set, group, name] => {
            let found = json[*set][*group]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == *name);
            match found {
                Some(line) => line["count"].to_string(),
                // The JSON lists the institutions with tickets in that set; the page's table
                // has a line per institution of any set.
                None if *group == "by_institution" => "0".to_owned(),
                None => panic!("{key}: no such line in the JSON report"),
            }
        }
        _ => panic!("unexpected key {key}"),
    }
}

async fn the_html_report_shows_the_numbers_of_the_json_report(app: App) {
    a_month_of_tickets(&app).await;
    let json = november_json(&app).await;
    let hours = Hours {
        calendar: &OfficeHours,
        label: "8h-18h UTC, Monday to Friday",
    };
    let figures = report::build(&app.ctx, app.offer("SMSU"), &november(), hours)
        .await
        .unwrap();
    let page = report_render::html(&figures).unwrap();

    let shown = regex::Regex::new(r#"data-key="([^"]+)">([^<]+)<"#).unwrap();
    let mut checked = Vec::new();
    for c in shown.captures_iter(&page) {
        let key = unescape(&c[1]);
        assert_eq!(unescape(&c[2]), expected(&json, &key), "{key}");
        checked.push(key);
    }
    for key in [
        "opened.total",
        "resolved.total",
        "closed.total",
        "backlog",
        "resolved_not_closed",
        "first_response.median_seconds",
        "first_response.p90_seconds",
        "resolution.median_seconds",
        "resolution.p90_seconds",
        "opened.by_kind.request",
        "opened.by_priority.high",
        "opened.by_institution.Université de Lorraine",
        "closed.by_institution.Université de Lorraine",
        "sla.resolution.compliance",
    ] {
        assert!(checked.iter().any(|k| k == key), "the page shows {key}");
    }
    // 3 sets x (3 kinds + 4 priorities + 2 institutions) + 4 totals + 4 times + 2 at the end,
    // and 2 SLA targets x (decided, met, compliance).
    assert_eq!(checked.len(), 27 + 4 + 4 + 2 + 6, "{checked:?}");

    // Each chart has data: its bars (the one fill colour of bars) and its labels.
    let svgs: Vec<&str> = page.split("<svg").skip(1).collect();
    assert_eq!(svgs.len(), 3, "by kind, by institution, times");
    for (svg, labels) in svgs.iter().zip([
        &["incident", "request"][..],
        &["Université de Lorraine", "Université de Rennes"][..],
        &["first response, median", "resolution, p90"][..],
    ]) {
        let svg = &svg[..svg.find("</svg>").expect("closed svg")];
        let bars = svg.to_ascii_lowercase().matches("fill=\"#2f6db5\"").count();
        assert!(bars >= 2, "bars drawn: {bars}");
        for label in labels {
            assert!(svg.contains(label), "label {label}");
        }
    }
    for attr in ["src=", "href=", "<script", "url("] {
        assert!(!page.contains(attr), "the page loads nothing: {attr}");
    }
}

/// The bar colour of the charts (`report_render::bar_chart`).
const BAR: [u8; 3] = [0x2f, 0x6d, 0xb5];

/// The bar charts of a screenshot, top to bottom: for each, the height in pixels of its bars,
/// left to right. A chart is a band of rows with bar pixels (its bars stand on one baseline);
/// a bar, a run of bar pixels on the band's last row, as tall as its tallest column of bar
/// pixels (a label drawn over a column would shorten that one). Only pixels of exactly the
/// bar colour count: a bar's edges, blended by antialiasing, do not.
fn bar_charts(shot: &Screenshot) -> Vec<Vec<usize>> {
    let has_bar = |y: usize| shot.row(y).contains(&BAR);
    let mut charts = Vec::new();
    let mut y = 0;
    while y < shot.height {
        if !has_bar(y) {
            y += 1;
            continue;
        }
        while y + 1 < shot.height && has_bar(y + 1) {
            y += 1;
        }
        let baseline = y;
        let row = shot.row(baseline);
        let mut heights = Vec::new();
        let mut x = 0;
        while x < shot.width {
            if row[x] != BAR {
                x += 1;
                continue;
            }
            let left = x;
            while x < shot.width && row[x] == BAR {
                x += 1;
            }
            let column = |x: usize| {
                (0..=baseline)
                    .rev()
                    .take_while(|&y| shot.pixel(x, y) == BAR)
                    .count()
            };
            heights.push((left..x).map(column).max().unwrap_or(0));
        }
        charts.push(heights);
        y += 1;
    }
    charts
}

/// The values a chart draws bars for: those above zero (a zero draws no bar).
fn drawn(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|v| *v > 0.0).collect()
}

/// Issue 9's acceptance: the page, opened in headless Chromium, shows its three charts, each
/// with a bar per value drawn to scale, loads nothing remote and runs no script. No golden
/// image: the bars are found by their colour, wherever the layout puts them.
async fn the_html_report_shows_its_charts_in_chromium(app: App) {
    a_month_of_tickets(&app).await;
    let json = november_json(&app).await;
    let hours = Hours {
        calendar: &OfficeHours,
        label: "8h-18h UTC, Monday to Friday",
    };
    let figures = report::build(&app.ctx, app.offer("SMSU"), &november(), hours)
        .await
        .unwrap();
    let page = report_render::html(&figures).unwrap();

    // Nothing to fetch: the only addresses are XML namespaces (never loaded), and nothing
    // names a resource, local or remote.
    let address = regex::Regex::new(r#"(?i)(xmlns(:\w+)?=")?https?://[^\s"'<>)]*"#).unwrap();
    for c in address.captures_iter(&page) {
        assert!(c.get(1).is_some(), "the page names an address: {}", &c[0]);
    }
    let loads = regex::Regex::new(
        r"(?i)\b(src|srcset|href|poster|action|data)\s*=|<(script|link|iframe|object|embed)\b|url\(|@import",
    )
    .unwrap();
    assert_eq!(
        loads.find(&page).map(|m| m.as_str()),
        None,
        "the page loads nothing"
    );

    let counts = |set: &str, group: &str| -> Vec<f64> {
        json[set][group]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["count"].as_f64().unwrap())
            .collect()
    };
    let times: Vec<f64> = [
        ("first_response", "median_seconds"),
        ("first_response", "p90_seconds"),
        ("resolution", "median_seconds"),
        ("resolution", "p90_seconds"),
    ]
    .iter()
    .map(|(set, field)| json[*set][*field].as_f64().unwrap())
    .collect();
    let expected = [
        (
            "tickets opened by kind",
            drawn(&counts("opened", "by_kind")),
        ),
        (
            "tickets opened by institution",
            drawn(&counts("opened", "by_institution")),
        ),
        (
            "business hours to first response and to resolution",
            drawn(&times),
        ),
    ];
    // What the fixture builds (a_month_of_tickets): 2 incidents and a request; 2 tickets of
    // Lorraine and 1 of Rennes; 1 h, 2 h, 10 h, 140 h.
    assert_eq!(
        expected.iter().map(|(_, v)| v.len()).collect::<Vec<_>>(),
        [2, 2, 4]
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.html");
    std::fs::write(&file, &page).unwrap();
    let (shot, dom, png) = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || {
            // Tall enough for the whole page: about 2,250 px at this width (checked below).
            let (shot, png) = chromium::screenshot(&file, 3200, &dir);
            (shot, chromium::dom(&file, &dir), png)
        }
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    // GUICHET_REPORT_SCREENSHOT=FILE keeps the screenshot, to look at.
    if let Ok(keep) = std::env::var("GUICHET_REPORT_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }

    // The page Chromium built is the page written: the charts and the figures are there, and
    // no script made or changed any of it.
    assert_eq!(dom.matches("<svg").count(), 3, "three charts in the DOM");
    assert!(dom.contains("data-key=\"opened.total\">3<"), "{dom}");
    assert!(!dom.contains("<script"), "no script");

    assert_eq!(shot.width, chromium::WIDTH as usize);
    let white = |y: usize| shot.row(y).iter().all(|p| *p == [0xff; 3]);
    // Cut by the window, the page would run into its last rows: no gap of the page is this
    // tall.
    assert!(
        (shot.height - 200..shot.height).all(white),
        "the page fits in the window: its last 200 rows are blank"
    );
    let bar_pixels: usize = (0..shot.height)
        .map(|y| shot.row(y).iter().filter(|p| **p == BAR).count())
        .sum();
    assert!(bar_pixels > 5000, "bars drawn: {bar_pixels} pixels");

    let charts = bar_charts(&shot);
    assert_eq!(
        charts.len(),
        expected.len(),
        "a band of bars per chart: {charts:?}"
    );
    for ((title, values), heights) in expected.iter().zip(&charts) {
        assert_eq!(
            heights.len(),
            values.len(),
            "{title}: a bar per value: {heights:?}"
        );
        // To scale: each bar's height is the tallest's times its share of the largest value.
        // plotters puts shapes on whole pixels, so even 1 h of 140 (under 2 px) is drawn, in
        // the exact colour.
        let top = values.iter().copied().fold(0.0, f64::max);
        let tallest = *heights.iter().max().unwrap() as f64;
        assert!(tallest > 100.0, "{title}: the tallest bar is {tallest} px");
        for (value, height) in values.iter().zip(heights) {
            let scaled = tallest * value / top;
            assert!(
                (*height as f64 - scaled).abs() <= 2.0,
                "{title}: a bar of {value} is {height} px, not about {scaled:.1}: {heights:?}"
            );
        }
    }
}

/// The command line, end to end: figures of the store `deliver` writes, as JSON, CSV and a
/// table on stdout, and as an HTML file.
#[test]
fn the_command_writes_each_format_and_an_html_file() {
    let env = TestEnv::new("", "");
    let out = env.deliver("SMSU", &opening(JEANNE, SMSU, "cli@x.example"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Any day the test runs on is inside.
    let period = [
        "--offer",
        "SMSU",
        "--from",
        "2000-01-01",
        "--to",
        "2100-01-01",
    ];
    let json = env.json(&[&["report"][..], &period, &["--format", "json"]].concat());
    assert_eq!(json["opened"]["total"], 1);
    assert_eq!(json["backlog"], 1);

    let text = |format: &str| {
        let out = env.run(
            &[&["report"][..], &period, &["--format", format]].concat(),
            b"",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let csv = text("csv");
    assert_eq!(csv.lines().next(), Some("section,group,name,value"));
    assert!(
        csv.lines()
            .any(|l| l == "opened,institution,Université de Lorraine,1"),
        "{csv}"
    );
    assert!(csv.lines().any(|l| l == "backlog,total,,1"), "{csv}");
    let table = text("table");
    assert!(table.contains("backlog at the end: 1"), "{table}");

    let file = env.dir.path().join("smsu.html");
    let file_arg = file.to_str().unwrap();
    let args = [
        &["report"][..],
        &period,
        &["--format", "html", "--output", file_arg],
    ]
    .concat();
    let out = env.run(&args, b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "the page went to the file");
    let page = std::fs::read_to_string(&file).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("data-key=\"opened.total\">1<"));

    let out = env.run(
        &[
            "report",
            "--offer",
            "SMSU",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-01",
        ],
        b"",
    );
    assert!(!out.status.success(), "an empty period is refused");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the period is empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
