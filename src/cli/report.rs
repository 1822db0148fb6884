//! `guichet report --offer CODE --from DAY --to DAY --format table|csv|json|html [--output FILE]`:
//! the days read in the offer's time zone, the figures from `service::report`, the shape from
//! `report_render`, written to stdout or to the file.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;

use super::args::{ReportArgs, ReportFormat};
use super::offer;
use crate::domain::report::WallClock;
use crate::report_render;
use crate::service::Context;
use crate::service::report::{self, Hours, Span};

/// The zone the days of `--from` and `--to` are read in. Every offer is served in Paris for
/// now; the offer's calendar (issue 9 item 1) will carry its own zone.
const ZONE: chrono_tz::Tz = chrono_tz::Europe::Paris;

pub(super) async fn report(ctx: &Context, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let o = offer(&ctx.config, &args.offer)?;
    let span = Span::of_days(ZONE, args.from, args.to)?;
    // The lead plugs the offer's calendar here once `domain::calendar::Calendar` implements
    // `BusinessTime` (issue 9 item 1); until then, times are wall-clock time, and the report
    // says so.
    let hours = Hours {
        calendar: &WallClock,
        label: "wall clock (no business-hours calendar yet)",
    };
    let figures = report::build(ctx, o, &span, hours)
        .await
        .with_context(|| format!("offer {}: cannot read the report's figures", o.code))?;
    let text = match args.format {
        ReportFormat::Table => report_render::table(&figures),
        ReportFormat::Csv => report_render::csv(&figures),
        ReportFormat::Json => report_render::json(&figures)? + "\n",
        ReportFormat::Html => report_render::html(&figures)?,
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write the report to {}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}
