//! `guichet report --offer CODE --from DAY --to DAY --format table|csv|json|html [--output FILE]`:
//! the days read in the time zone of the offer's calendar, times counted in that calendar, the
//! figures from `service::report`, the shape from `report_render`, written to stdout or to the
//! file.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;

use super::args::{ReportArgs, ReportFormat};
use super::offer;
use crate::report_render;
use crate::service::Context;
use crate::service::report::{self, Hours, Span};

pub(super) async fn report(ctx: &Context, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let o = offer(&ctx.config, &args.offer)?;
    let span = Span::of_days(o.calendar.time_zone(), args.from, args.to)?;
    let label = format!("calendar {}: {}", o.calendar_name, o.calendar.describe());
    let hours = Hours {
        calendar: o.calendar.as_ref(),
        label: &label,
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
