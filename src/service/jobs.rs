//! Scheduled jobs of an offer (`[offers.jobs]`, cron expressions read in the offer's time
//! zone): the daily digest of open tickets to its agents, and the weekly report of last
//! week's figures to its governance contacts. Each run is
//! taken in the store for its scheduled instant ([`Tx::claim_job_run`]) in the transaction
//! that queues its mail: one run per instant, whichever daemon gets there first, and none
//! again after a restart.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::outbox::{QueuedMail, mail_context, queue_mail};
use super::report::{Hours, Span};
use super::sla::calendar;
use super::{Context, ServiceError};
use crate::config::OfferConfig;
use crate::domain::Mailbox;
use crate::domain::ids::subject_tag;
use crate::domain::schedule::JobSchedule;
use crate::domain::sla::{ClockState, Level};
use crate::notify::Template;
use crate::store::{AudienceRow, ClockRow, TicketRow, Tx};

/// The job names runs are stored under.
pub const DAILY_DIGEST: &str = "daily_digest";
/// See [`DAILY_DIGEST`].
pub const WEEKLY_REPORT: &str = "weekly_report";

/// Most scheduled instants walked through at once: a job every minute missed for a week.
const MAX_INSTANTS: usize = 20_000;

/// Runs the offer's jobs whose scheduled instant has come: each once, and only the latest
/// instant of a job missed several times (a daemon stopped over a weekend sends one digest,
/// not three). `started` is when this daemon started: instants before it, of a job that
/// never ran, are not run. Returns the next instant a job is scheduled at.
pub async fn run_due(
    ctx: &Context,
    offer: &OfferConfig,
    started: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ServiceError> {
    let jobs = [
        (DAILY_DIGEST, offer.jobs.daily_digest.as_ref()),
        (WEEKLY_REPORT, offer.jobs.weekly_report.as_ref()),
    ];
    let mut earliest: Option<DateTime<Utc>> = None;
    for (job, schedule) in jobs {
        let Some(schedule) = schedule else { continue };
        let now = ctx.clock.now();
        let mut tx = ctx.store.begin(&offer.code).await?;
        let last = tx.last_job_run(job).await?;
        tx.rollback().await?;
        let (due, next) = latest_due(schedule, last.unwrap_or(started), now, offer);
        if let Some(at) = due {
            let queued = match job {
                DAILY_DIGEST => daily_digest(ctx, offer, at).await?,
                _ => weekly_report(ctx, offer, at).await?,
            };
            tracing::info!(tenant = %offer.code, job, scheduled = %at, queued, "scheduled job ran");
        }
        if let Some(next) = next {
            earliest = Some(earliest.map_or(next, |e| e.min(next)));
        }
    }
    Ok(earliest)
}

/// The latest instant of `schedule` after `from` and at most `now`, if any, and the first
/// one after `now`.
fn latest_due(
    schedule: &JobSchedule,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
    offer: &OfferConfig,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let zone = offer.calendar.time_zone();
    let mut due = None;
    let mut next = schedule.next_after(from, zone);
    for _ in 0..MAX_INSTANTS {
        match next {
            Some(at) if at <= now => {
                due = Some(at);
                next = schedule.next_after(at, zone);
            }
            _ => return (due, next),
        }
    }
    // So many missed instants: run the latest seen, and look again from now.
    (due, schedule.next_after(now, zone))
}

/// Runs the daily digest scheduled at `scheduled`, unless it ran already; returns how many
/// mails it queued (none when it had run, or when nothing is open: an empty digest tells
/// nothing).
pub async fn daily_digest(
    ctx: &Context,
    offer: &OfferConfig,
    scheduled: DateTime<Utc>,
) -> Result<usize, ServiceError> {
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin(&offer.code).await?;
    if !tx.claim_job_run(DAILY_DIGEST, scheduled, now).await? {
        tx.rollback().await?;
        return Ok(0);
    }
    let mut tickets = Vec::new();
    for ticket in tx.list_tickets(None).await? {
        if ticket.status.is_open() {
            let sla = sla_state(&mut tx, offer, &ticket, now).await?;
            tickets.push(json!({
                "ref": ticket.reference().to_string(),
                "tag": subject_tag(&offer.code, ticket.reference()),
                "title": ticket.title,
                "status": ticket.status.as_str(),
                "priority": ticket.priority.as_str(),
                "sla": sla,
            }));
        }
    }
    let mut queued = 0;
    if !tickets.is_empty() {
        let date = super::sla::local_date(offer, scheduled);
        let fields = json!({ "date": date, "tickets": tickets });
        let agents = |p: &AudienceRow| p.agent;
        queued = mail_team(
            ctx,
            &mut tx,
            offer,
            (Template::DailyDigest, &fields),
            agents,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(queued)
}

/// Queues `template` to each member of the offer's team that `chosen` picks (the agents, the
/// governance contacts), in their own language, the fields of `fields` added to the usual
/// context; returns how many mails were queued.
async fn mail_team(
    ctx: &Context,
    tx: &mut Tx,
    offer: &OfferConfig,
    (template, fields): (Template, &serde_json::Value),
    chosen: impl Fn(&AudienceRow) -> bool,
) -> Result<usize, ServiceError> {
    let mut queued = 0;
    for person in tx.team(ctx.clock.now()).await?.iter().filter(|p| chosen(p)) {
        let Some(address) = person.email.as_deref() else {
            continue;
        };
        let to = Mailbox::new(person.name.as_deref(), address);
        let mut context = mail_context(offer, None, &to, "", None);
        if let (Some(context), Some(fields)) = (context.as_object_mut(), fields.as_object()) {
            context.extend(fields.clone());
        }
        let mail = QueuedMail {
            ticket: None,
            template,
            to: std::slice::from_ref(&to),
            answering: None,
            auto_submitted: Some("auto-generated"),
            context: &context,
            locale: person.locale.as_deref(),
        };
        if queue_mail(ctx, tx, offer, mail).await?.is_some() {
            queued += 1;
        }
    }
    Ok(queued)
}

/// Runs the weekly report scheduled at `scheduled`, unless it ran already: the figures of
/// the seven days before the scheduled one (Monday to Sunday for a Monday run), in the offer's
/// calendar, to its governance contacts. Returns how many mails it queued.
pub async fn weekly_report(
    ctx: &Context,
    offer: &OfferConfig,
    scheduled: DateTime<Utc>,
) -> Result<usize, ServiceError> {
    let zone = offer.calendar.time_zone();
    let day = scheduled.with_timezone(&zone).date_naive();
    let from = day - chrono::Days::new(7);
    let span = Span::of_days(zone, from, day)
        .map_err(|e| ServiceError::Refused(format!("weekly report: {e}")))?;
    let label = offer.calendar.describe();
    let hours = Hours {
        calendar: offer.calendar.as_ref(),
        label: &label,
    };
    // Built before the run is claimed: its reads have their own transaction, which on
    // SQLite could not start while the claiming one holds the database's write lock.
    let report = super::report::build(ctx, offer, &span, hours).await?;
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin(&offer.code).await?;
    if !tx.claim_job_run(WEEKLY_REPORT, scheduled, now).await? {
        tx.rollback().await?;
        return Ok(0);
    }
    let last = day.pred_opt().unwrap_or(day);
    let duration = |s: Option<i64>| crate::report_render::duration_text(s);
    let figures = json!({
        "opened": report.opened.total,
        "resolved": report.resolved.total,
        "closed": report.closed.total,
        "backlog": report.backlog,
        "first_response_p50": duration(report.first_response.median_seconds),
        "first_response_p90": duration(report.first_response.p90_seconds),
        "resolution_p50": duration(report.resolution.median_seconds),
        "resolution_p90": duration(report.resolution.p90_seconds),
    });
    let sla: Vec<_> = report
        .sla
        .iter()
        .map(|l| {
            json!({
                "target": l.target,
                "total": l.total,
                "met": l.met,
                "compliance": crate::report_render::compliance_text(l.compliance),
            })
        })
        .collect();
    let breaches: Vec<_> = report
        .breaches
        .iter()
        .map(|b| json!({ "level": b.level, "count": b.count }))
        .collect();
    let fields = json!({
        "period": { "from": from.to_string(), "to": last.to_string() },
        "figures": figures,
        "sla": sla,
        "breaches": breaches,
    });
    let governance = |p: &AudienceRow| p.governance;
    let queued = mail_team(
        ctx,
        &mut tx,
        offer,
        (Template::WeeklyReport, &fields),
        governance,
    )
    .await?;
    tx.commit().await?;
    Ok(queued)
}

/// A ticket's service level in one word, as the digest shows it: `breached` when a clock ran
/// out, `warning` when one passed its warning, `ok` when clocks run within their budget,
/// `none` without clocks.
async fn sla_state(
    tx: &mut Tx,
    offer: &OfferConfig,
    ticket: &TicketRow,
    now: DateTime<Utc>,
) -> Result<&'static str, ServiceError> {
    let cal = calendar(offer);
    let clocks: Vec<_> = tx
        .sla_clocks(ticket.id)
        .await?
        .iter()
        .map(ClockRow::clock)
        .filter(|c| c.state() != ClockState::Met)
        .collect();
    if clocks.is_empty() {
        return Ok("none");
    }
    if clocks.iter().any(|c| c.is_breached(now, cal)) {
        return Ok("breached");
    }
    let warned = tx.sla_deadlines(ticket.id).await?.iter().any(|d| {
        d.fired_at.is_some()
            && d.level() == Some(Level::Warning)
            && clocks
                .iter()
                .any(|c| c.target == d.target && i64::from(c.round) == d.round)
    });
    Ok(if warned { "warning" } else { "ok" })
}
