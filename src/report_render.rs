//! The four shapes of `guichet report` (issue 9 item 6): a table for a terminal, CSV for a
//! spreadsheet, JSON for a program, and one self-contained HTML page with charts for a
//! governance meeting.
//!
//! Pure functions from a [`Report`] to text; no IO (the command line writes the file). In a
//! library module rather than in `cli/` so that the tests render the very page the command
//! writes and check its numbers against the JSON.
//!
//! The HTML page loads nothing: styles are inline, charts are inline SVG drawn by plotters
//! (its SVG backend alone: no font file, no bitmap), no script. Every text that comes from
//! the database or the configuration (institution and offer names) is escaped; plotters
//! escapes the chart labels itself.
//!
//! CSV: a header row `section,group,name,value`, then one row per figure:
//! `opened,total,,12`; `opened,kind,incident,7`; `opened,priority,high,2`;
//! `opened,institution,Université de Rennes,4` (likewise `resolved` and `closed`);
//! `first_response,count,,9`, `first_response,median_seconds,,5400`,
//! `first_response,p90_seconds,,16200` (likewise `resolution`; empty value when there is no
//! time); `backlog,total,,4`; `resolved_not_closed,total,,1`; `sla,<target>,total|met|compliance,…`;
//! `breaches,level,<level>,<count>`.

use std::fmt::Write as _;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::domain::report::{Breakdown, Count, Durations, Report};

/// A chart plotters could not draw (an error of its SVG backend, which writes to a string:
/// in practice a bug, said with the chart's name).
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart {chart:?}: {detail}")]
pub struct ChartError {
    /// The chart's title.
    pub chart: String,
    /// plotters' error.
    pub detail: String,
}

/// JSON: the report as it is, pretty-printed (field names are the [`Report`]'s).
pub fn json(report: &Report) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}

/// A business-time duration for people: `45 min`, `2 h 05 min`, `31 h 00 min` (business
/// hours, not days: a day is whatever the calendar opens); `–` for none.
pub fn duration_text(seconds: Option<i64>) -> String {
    match seconds {
        None => "–".to_owned(),
        Some(s) => {
            let minutes = s.max(0) / 60;
            if minutes < 60 {
                format!("{minutes} min")
            } else {
                format!("{} h {:02} min", minutes / 60, minutes % 60)
            }
        }
    }
}

/// SLA compliance for people: `97.5 %`, or `–` when nothing was due.
pub fn compliance_text(compliance: Option<f64>) -> String {
    compliance.map_or("–".to_owned(), |c| format!("{:.1} %", c * 100.0))
}

/// One way of breaking the counts down.
struct Group {
    /// Its field in [`Breakdown`], and in the JSON.
    key: &'static str,
    /// Its name in the terminal table.
    label: &'static str,
    /// Its heading in the HTML page.
    heading: &'static str,
    /// Its lines in a breakdown.
    lines: fn(&Breakdown) -> &[Count],
}

const GROUPS: [Group; 3] = [
    Group {
        key: "by_kind",
        label: "kind",
        heading: "Kind",
        lines: |b| &b.by_kind,
    },
    Group {
        key: "by_priority",
        label: "priority",
        heading: "Priority",
        lines: |b| &b.by_priority,
    },
    Group {
        key: "by_institution",
        label: "institution",
        heading: "Requesting institution",
        lines: |b| &b.by_institution,
    },
];

impl Group {
    /// The names of this group's lines in any of the three sets, each once, in order of
    /// first appearance.
    fn names<'r>(&self, report: &'r Report) -> Vec<&'r str> {
        let mut names: Vec<&str> = Vec::new();
        for (_, b) in breakdowns(report) {
            for c in (self.lines)(b) {
                if !names.contains(&c.name.as_str()) {
                    names.push(&c.name);
                }
            }
        }
        names
    }

    /// The count of line `name` in `b`; zero when `b` lacks it (an institution with no
    /// ticket in that set).
    fn count(&self, b: &Breakdown, name: &str) -> u64 {
        (self.lines)(b)
            .iter()
            .find(|c| c.name == name)
            .map_or(0, |c| c.count)
    }
}

/// The three counted sets, by name.
fn breakdowns(report: &Report) -> [(&'static str, &Breakdown); 3] {
    [
        ("opened", &report.opened),
        ("resolved", &report.resolved),
        ("closed", &report.closed),
    ]
}

/// The two measured times, by name.
fn durations(report: &Report) -> [(&'static str, &Durations); 2] {
    [
        ("first_response", &report.first_response),
        ("resolution", &report.resolution),
    ]
}

/// The table for a terminal.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "{} ({}): {}",
        cell(&report.offer_name, 60),
        report.offer,
        report.period_label
    );
    let _ = writeln!(w, "business hours: {}", report.hours);
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "{:<28} {:>8} {:>8} {:>8}",
        "tickets", "opened", "resolved", "closed"
    );
    let _ = writeln!(
        w,
        "{:<28} {:>8} {:>8} {:>8}",
        "all", report.opened.total, report.resolved.total, report.closed.total
    );
    for group in GROUPS {
        let _ = writeln!(w, "by {}", group.label);
        for name in group.names(report) {
            let [opened, resolved, closed] = breakdowns(report).map(|(_, b)| group.count(b, name));
            let label = cell(name, 26);
            let _ = writeln!(w, "  {label:<26} {opened:>8} {resolved:>8} {closed:>8}");
        }
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "{:<28} {:>8} {:>14} {:>14}",
        "times (business hours)", "tickets", "median", "p90"
    );
    for (name, d) in durations(report) {
        let _ = writeln!(
            w,
            "{:<28} {:>8} {:>14} {:>14}",
            name.replace('_', " "),
            d.count,
            duration_text(d.median_seconds),
            duration_text(d.p90_seconds)
        );
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "backlog at the end: {}", report.backlog);
    let _ = writeln!(
        w,
        "resolved, not closed at the end: {}",
        report.resolved_not_closed
    );
    let _ = writeln!(w);
    if report.sla.is_empty() {
        let _ = writeln!(w, "SLA compliance: no SLA figures for this period");
    } else {
        let _ = writeln!(
            w,
            "{:<28} {:>8} {:>8} {:>10}",
            "SLA target", "due", "met", "compliance"
        );
        for l in &report.sla {
            let _ = writeln!(
                w,
                "{:<28} {:>8} {:>8} {:>10}",
                cell(&l.target, 28),
                l.total,
                l.met,
                compliance_text(l.compliance)
            );
        }
    }
    for b in &report.breaches {
        let _ = writeln!(w, "breaches at {}: {}", cell(&b.level, 20), b.count);
    }
    out
}

/// A name for one cell of the terminal table, cut to `max` characters: control and bidi
/// characters (terminal escapes, reordering) become `?`, so a name cannot drive the terminal.
fn cell(text: &str, max: usize) -> String {
    let safe: String = text
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
                '?'
            } else {
                c
            }
        })
        .collect();
    if safe.chars().count() <= max {
        safe
    } else {
        let kept: String = safe.chars().take(max.saturating_sub(3)).collect();
        format!("{kept}...")
    }
}

/// CSV: see the module's documentation for the shape.
pub fn csv(report: &Report) -> String {
    let mut out = String::from("section,group,name,value\n");
    let mut row = |section: &str, group: &str, name: &str, value: String| {
        let cells = [section, group, name, &value].map(csv_cell);
        out.push_str(&cells.join(","));
        out.push('\n');
    };
    for (section, b) in breakdowns(report) {
        row(section, "total", "", b.total.to_string());
        for (group, counts) in [
            ("kind", &b.by_kind),
            ("priority", &b.by_priority),
            ("institution", &b.by_institution),
        ] {
            for c in counts {
                row(section, group, &c.name, c.count.to_string());
            }
        }
    }
    let seconds = |s: Option<i64>| s.map(|s| s.to_string()).unwrap_or_default();
    for (section, d) in durations(report) {
        row(section, "count", "", d.count.to_string());
        row(section, "median_seconds", "", seconds(d.median_seconds));
        row(section, "p90_seconds", "", seconds(d.p90_seconds));
    }
    row("backlog", "total", "", report.backlog.to_string());
    row(
        "resolved_not_closed",
        "total",
        "",
        report.resolved_not_closed.to_string(),
    );
    for l in &report.sla {
        row("sla", &l.target, "total", l.total.to_string());
        row("sla", &l.target, "met", l.met.to_string());
        let c = l.compliance.map(|c| c.to_string()).unwrap_or_default();
        row("sla", &l.target, "compliance", c);
    }
    for b in &report.breaches {
        row("breaches", "level", &b.level, b.count.to_string());
    }
    out
}

/// One CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line break. A name
/// starting like a formula (`=`, `+`, `-`, `@`) gets a leading `'`, so that a spreadsheet
/// shows it instead of running it (an institution's name comes from the configuration, not
/// from mail, but a report is opened by people who did not write that file).
fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) && text.parse::<f64>().is_err() {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// `text` escaped for HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Styles of the page: inline, system fonts only (nothing to load), printable on A4.
const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
color:#1d2733;max-width:1000px;margin:2em auto;padding:0 1em}\
h1{margin-bottom:.2em}p.period{color:#4a5a6a;margin-top:0}\
.figures{display:flex;flex-wrap:wrap;gap:12px;margin:1.5em 0}\
.figure{border:1px solid #d0d7de;border-radius:8px;padding:12px 16px;min-width:130px}\
.figure .value{display:block;font-size:1.8em;font-weight:600}\
.figure .label{color:#4a5a6a;font-size:.9em}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border-bottom:1px solid #e1e4e8;\
padding:4px 12px;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}\
figure{margin:1em 0}svg{max-width:100%;height:auto}\
@media print{body{margin:0}.figure{break-inside:avoid}figure{break-inside:avoid}}";

/// The HTML page: title, period, key figures, charts (tickets by kind and by institution,
/// time percentiles), the breakdown tables and the SLA sections. Each figure's element carries
/// `data-key` (`opened.total`, `opened.by_kind.incident`, `first_response.median_seconds`...)
/// naming the JSON field it shows.
pub fn html(report: &Report) -> Result<String, ChartError> {
    let title = format!(
        "{} ({}): support report",
        escape(&report.offer_name),
        escape(&report.offer)
    );
    let mut page = String::new();
    let p = &mut page;
    let _ = write!(
        p,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n\
         <p class=\"period\">{} · times in business hours: {}</p>\n",
        escape(&report.period_label),
        escape(&report.hours)
    );
    key_figures(p, report);
    let _ = writeln!(p, "<h2>Tickets opened</h2>");
    let kinds = bars(&report.opened.by_kind);
    figure(p, "Tickets opened by kind", &kinds, "tickets", false)?;
    let institutions = bars(&report.opened.by_institution);
    figure(
        p,
        "Tickets opened by institution",
        &institutions,
        "tickets",
        false,
    )?;
    let _ = writeln!(p, "<h2>Response and resolution times</h2>");
    let hours = |s: Option<i64>| s.map_or(0.0, |s| s as f64 / 3600.0);
    let times = [
        (
            "first response, median",
            hours(report.first_response.median_seconds),
        ),
        (
            "first response, p90",
            hours(report.first_response.p90_seconds),
        ),
        (
            "resolution, median",
            hours(report.resolution.median_seconds),
        ),
        ("resolution, p90", hours(report.resolution.p90_seconds)),
    ]
    .map(|(l, v)| (l.to_owned(), v));
    figure(
        p,
        "Business hours to first response and to resolution",
        &times,
        "business hours",
        true,
    )?;
    breakdown_tables(p, report);
    sla_tables(p, report);
    let _ = writeln!(p, "</body>\n</html>");
    Ok(page)
}

/// The key figures, as cards.
fn key_figures(p: &mut String, report: &Report) {
    let _ = writeln!(p, "<section class=\"figures\">");
    let mut card = |key: &str, value: String, label: &str| {
        let _ = writeln!(
            p,
            "<div class=\"figure\"><span class=\"value\" data-key=\"{key}\">{value}</span>\
             <span class=\"label\">{label}</span></div>"
        );
    };
    card("opened.total", report.opened.total.to_string(), "opened");
    card(
        "resolved.total",
        report.resolved.total.to_string(),
        "resolved",
    );
    card("closed.total", report.closed.total.to_string(), "closed");
    card("backlog", report.backlog.to_string(), "open at the end");
    for (name, label, d) in [
        ("first_response", "first response", &report.first_response),
        ("resolution", "resolution", &report.resolution),
    ] {
        card(
            &format!("{name}.median_seconds"),
            duration_text(d.median_seconds),
            &format!("{label}, median"),
        );
        card(
            &format!("{name}.p90_seconds"),
            duration_text(d.p90_seconds),
            &format!("{label}, 90th percentile"),
        );
    }
    let _ = writeln!(p, "</section>");
}

/// A breakdown's lines as chart bars.
fn bars(counts: &[Count]) -> Vec<(String, f64)> {
    counts
        .iter()
        .map(|c| (c.name.clone(), c.count as f64))
        .collect()
}

/// One chart in a `<figure>`, or a line saying there is nothing to draw.
fn figure(
    p: &mut String,
    title: &str,
    bars: &[(String, f64)],
    unit: &str,
    decimals: bool,
) -> Result<(), ChartError> {
    if bars.iter().all(|(_, v)| *v <= 0.0) {
        let _ = writeln!(p, "<p>{}: none in this period.</p>", escape(title));
        return Ok(());
    }
    let svg = bar_chart(title, bars, unit, decimals).map_err(|detail| ChartError {
        chart: title.to_owned(),
        detail,
    })?;
    let _ = writeln!(p, "<figure>\n{svg}\n</figure>");
    Ok(())
}

/// A vertical bar chart as an SVG string, each bar labelled with its value.
fn bar_chart(
    title: &str,
    bars: &[(String, f64)],
    unit: &str,
    decimals: bool,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let n = bars.len().max(1);
        let top = bars.iter().map(|b| b.1).fold(0.0, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 24))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..top.max(1.0))
            .map_err(|e| e.to_string())?;
        let name = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                bars.get(*i).map(|b| b.0.clone()).unwrap_or_default()
            }
            SegmentValue::Last => String::new(),
        };
        // Counts are whole: ticks on whole numbers only (at most 10), not at 0.5.
        let y_ticks = if decimals {
            10
        } else {
            (top as usize + 1).clamp(2, 10)
        };
        let y_value = |v: &f64| {
            if decimals {
                format!("{v:.1}")
            } else {
                format!("{v:.0}")
            }
        };
        // plotters' SVG text is its size / 1.24 in CSS pixels: 16 reads as about 13 px, its
        // default (12) as under 10, too small on a projected page. No light lines between the
        // ticks: on counts they only fill the chart with stripes.
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 16))
            .x_labels(n)
            .x_label_formatter(&name)
            .y_labels(y_ticks)
            .y_label_formatter(&y_value)
            .y_desc(unit)
            .draw()
            .map_err(|e| e.to_string())?;
        let fill = RGBColor(0x2f, 0x6d, 0xb5).filled();
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .style(fill)
                    .margin(24)
                    .data(bars.iter().enumerate().map(|(i, b)| (i, b.1))),
            )
            .map_err(|e| e.to_string())?;
        // Each value centred just above its bar, not over the bar's top edge, where it was
        // black on blue.
        let value_style = ("sans-serif", 16)
            .into_font()
            .into_text_style(&root)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| {
                EmptyElement::at((SegmentValue::CenterOf(i), b.1))
                    + Text::new(y_value(&b.1), (0, -3), value_style.clone())
            }))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// The breakdowns as tables: one per group, a column per counted set.
fn breakdown_tables(p: &mut String, report: &Report) {
    let _ = writeln!(p, "<h2>Breakdown</h2>");
    for group in GROUPS {
        let _ = writeln!(
            p,
            "<table>\n<tr><th>{}</th><th>opened</th><th>resolved</th><th>closed</th></tr>",
            group.heading
        );
        for name in group.names(report) {
            let shown = escape(name);
            let _ = write!(p, "<tr><td>{shown}</td>");
            for (section, b) in breakdowns(report) {
                let count = group.count(b, name);
                let key = group.key;
                let _ = write!(
                    p,
                    "<td class=\"n\" data-key=\"{section}.{key}.{shown}\">{count}</td>"
                );
            }
            let _ = writeln!(p, "</tr>");
        }
        let _ = writeln!(p, "</table>");
    }
    let _ = writeln!(
        p,
        "<p>Open at the end of the period: <strong data-key=\"backlog\">{}</strong>; resolved \
         and not yet closed: <strong data-key=\"resolved_not_closed\">{}</strong>.</p>",
        report.backlog, report.resolved_not_closed
    );
}

/// SLA compliance per target and breaches per level, or a line saying there are none.
fn sla_tables(p: &mut String, report: &Report) {
    let _ = writeln!(p, "<h2>Service levels</h2>");
    if report.sla.is_empty() {
        let _ = writeln!(p, "<p>No SLA figures for this period.</p>");
    } else {
        let _ = writeln!(
            p,
            "<table>\n<tr><th>Target</th><th>decided</th><th>met in time</th><th>compliance</th></tr>"
        );
        for l in &report.sla {
            let t = escape(&l.target);
            let _ = writeln!(
                p,
                "<tr><td>{t}</td><td class=\"n\" data-key=\"sla.{t}.total\">{}</td>\
                 <td class=\"n\" data-key=\"sla.{t}.met\">{}</td>\
                 <td class=\"n\" data-key=\"sla.{t}.compliance\">{}</td></tr>",
                l.total,
                l.met,
                compliance_text(l.compliance)
            );
        }
        let _ = writeln!(p, "</table>");
    }
    if !report.breaches.is_empty() {
        let _ = writeln!(
            p,
            "<table>\n<tr><th>Escalation level</th><th>breaches</th></tr>"
        );
        for b in &report.breaches {
            let l = escape(&b.level);
            let _ = writeln!(
                p,
                "<tr><td>{l}</td><td class=\"n\" data-key=\"breaches.{l}\">{}</td></tr>",
                b.count
            );
        }
        let _ = writeln!(p, "</table>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::report::{Period, SlaLine};
    use chrono::{TimeZone, Utc};

    fn sample() -> Report {
        let count = |name: &str, count| Count {
            name: name.into(),
            count,
        };
        let opened = Breakdown {
            total: 3,
            by_kind: vec![
                count("incident", 2),
                count("request", 1),
                count("change", 0),
            ],
            by_priority: vec![
                count("low", 0),
                count("normal", 3),
                count("high", 0),
                count("critical", 0),
            ],
            by_institution: vec![
                count("<script>alert(1)</script> & \"Co\"", 2),
                count("=cmd|' /C calc'!A0", 1),
            ],
        };
        Report {
            offer: "SMSU".into(),
            offer_name: "SMS <Universitaire>".into(),
            period: Period {
                from: Utc.with_ymd_and_hms(2026, 9, 30, 22, 0, 0).unwrap(),
                to: Utc.with_ymd_and_hms(2026, 10, 31, 23, 0, 0).unwrap(),
            },
            period_label: "2026-10-01 to 2026-10-31, Europe/Paris".into(),
            hours: "wall clock".into(),
            resolved: opened.clone(),
            closed: opened.clone(),
            opened,
            first_response: Durations {
                count: 3,
                median_seconds: Some(2700),
                p90_seconds: Some(7500),
            },
            resolution: Durations {
                count: 0,
                median_seconds: None,
                p90_seconds: None,
            },
            backlog: 1,
            resolved_not_closed: 0,
            sla: vec![SlaLine {
                target: "first_response".into(),
                total: 4,
                met: 3,
                compliance: Some(0.75),
            }],
            breaches: vec![],
        }
    }

    #[test]
    fn durations_read_in_business_hours_and_minutes() {
        let table = [
            (None, "–"),
            (Some(0), "0 min"),
            (Some(59), "0 min"),
            (Some(2700), "45 min"),
            (Some(7500), "2 h 05 min"),
            (Some(31 * 3600), "31 h 00 min"),
        ];
        for (seconds, text) in table {
            assert_eq!(duration_text(seconds), text, "{seconds:?}");
        }
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        let table = [
            ("incident", "incident"),
            ("Université de Rennes", "Université de Rennes"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("=1+1", "'=1+1"),
            ("-3", "-3"),
            ("@SUM(A1)", "'@SUM(A1)"),
        ];
        for (text, cell) in table {
            assert_eq!(csv_cell(text), cell, "{text:?}");
        }
    }

    #[test]
    fn csv_has_a_header_and_one_row_per_figure() {
        let text = csv(&sample());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "section,group,name,value");
        assert!(lines.contains(&"opened,total,,3"));
        assert!(lines.contains(&"opened,kind,incident,2"));
        assert!(lines.contains(&"first_response,median_seconds,,2700"));
        assert!(lines.contains(&"resolution,median_seconds,,"));
        assert!(lines.contains(&"sla,first_response,compliance,0.75"));
        // 3 sets x (1 total + 3 kinds + 4 priorities + 2 institutions) + 2 x 3 times + 2 + 3.
        assert_eq!(lines.len(), 1 + 3 * 10 + 6 + 2 + 3);
    }

    #[test]
    fn the_page_escapes_names_and_loads_nothing() {
        let page = html(&sample()).unwrap();
        assert!(!page.contains("<script>"), "a name is text, never markup");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;"));
        assert!(page.contains("SMS &lt;Universitaire&gt;"));
        for attr in ["src=", "href=", "url(", "@import"] {
            assert!(!page.contains(attr), "nothing loaded: {attr}");
        }
        assert_eq!(
            page.matches("<svg").count(),
            3,
            "kind, institution and times charts"
        );
        assert!(page.contains("data-key=\"sla.first_response.compliance\">75.0 %"));
    }

    #[test]
    fn the_table_names_every_set_and_says_when_sla_figures_are_missing() {
        let mut report = sample();
        let text = table(&report);
        assert!(text.contains("backlog at the end: 1"));
        assert!(text.contains("first response"));
        report.sla.clear();
        assert!(table(&report).contains("SLA compliance: no SLA figures for this period"));
    }
}
