//! `guichet report` (issue 9 item 6): one offer's figures over one period, read in one
//! transaction (so every number is of the same instant) and computed by `domain::report`.
//!
//! Reads only: the transaction is rolled back. Rendering the report is `crate::report_render`'s.

use std::str::FromStr;

use chrono::NaiveDate;

use super::{Context, ServiceError};
use crate::config::OfferConfig;
use crate::domain::Status;
use crate::domain::report::{
    self, BusinessTime, Period, PeriodError, Report, Scope, StatusChange, TicketFacts,
};
use crate::store::{ReportTicketRow, StatusEventRow};

/// The calendar a report counts business time in, and how the report names it.
#[derive(Clone, Copy)]
pub struct Hours<'a> {
    /// The offer's calendar.
    pub calendar: &'a dyn BusinessTime,
    /// Its description, printed with the figures (`8h-18h Mon-Fri, Europe/Paris`).
    pub label: &'a str,
}

/// The period of a report, and how to say it (`2026-10-01 to 2026-10-31, Europe/Paris`).
#[derive(Debug, Clone)]
pub struct Span {
    /// The instants.
    pub period: Period,
    /// The days as asked for.
    pub label: String,
}

impl Span {
    /// The days from `from` to `to` (excluded) in `zone`: see [`Period::of_days`].
    pub fn of_days(
        zone: chrono_tz::Tz,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Span, PeriodError> {
        let period = Period::of_days(&zone, from, to)?;
        let last = to.pred_opt().unwrap_or(to);
        Ok(Span {
            period,
            label: format!("{from} to {last}, {}", zone.name()),
        })
    }
}

/// The report of `offer` over `span`, times in `hours`.
pub async fn build(
    ctx: &Context,
    offer: &OfferConfig,
    span: &Span,
    hours: Hours<'_>,
) -> Result<Report, ServiceError> {
    let period = span.period;
    let mut tx = ctx.store.begin(&offer.code).await?;
    let tickets = tx.report_tickets(period.from, period.to).await?;
    let events = tx.status_events_before(period.to).await?;
    let sla = tx.report_sla(period.from, period.to).await?;
    tx.rollback().await?;

    let tickets: Vec<TicketFacts> = tickets.into_iter().map(facts).collect();
    let changes: Vec<StatusChange> = events.iter().filter_map(|e| change(offer, e)).collect();
    let scope = Scope {
        offer: offer.code.as_str(),
        offer_name: &offer.name,
        period,
        period_label: &span.label,
        hours: hours.calendar,
        hours_label: hours.label,
    };
    Ok(report::compute(&scope, &tickets, &changes, sla))
}

fn facts(row: ReportTicketRow) -> TicketFacts {
    TicketFacts {
        id: row.id,
        kind: row.kind,
        priority: row.priority,
        institution: row.institution,
        created_at: row.created_at,
        first_response_at: row.first_response_at,
        resolved_at: row.resolved_at,
        closed_at: row.closed_at,
    }
}

/// The status an event moved its ticket to (its data's `to`). An event without one cannot be
/// counted: it is logged and left out, so one bad row does not stop the report.
fn change(offer: &OfferConfig, e: &StatusEventRow) -> Option<StatusChange> {
    let to = e
        .data
        .0
        .get("to")
        .and_then(|v| v.as_str())
        .map(Status::from_str);
    match to {
        Some(Ok(to)) => Some(StatusChange {
            ticket: e.ticket_id,
            at: e.at,
            to,
        }),
        _ => {
            tracing::warn!(
                tenant = %offer.code,
                ticket = e.ticket_id.0,
                kind = e.kind.as_str(),
                "report: a status event without a known `to` status, left out"
            );
            None
        }
    }
}
