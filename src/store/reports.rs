//! What `guichet report` reads: the tickets that can count in a period, their status changes
//! before its end, and the period's SLA figures.
//!
//! SQL only, like the rest of the store: which ticket counts where is `domain::report`'s
//! decision. The statements are the same on both databases (`$n` placeholders, no vendor
//! function; time columns compare as instants on PostgreSQL and as uniformly written
//! RFC 3339 text on SQLite, as the outbox's `next_attempt_at <= $2` does), so they live here
//! rather than in each backend's module.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use sqlx::types::Json;

use super::{Result, Tx};
use crate::domain::report::{BreachLine, SlaFigures, SlaLine};
use crate::domain::sla::{Level, Target};
use crate::domain::{EventKind, Priority, TicketId, TicketKind};

/// A ticket as the report reads it: [`crate::domain::report::TicketFacts`]' columns, the
/// institution by name.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ReportTicketRow {
    /// Row id inside the offer.
    pub id: TicketId,
    /// Its kind now.
    pub kind: TicketKind,
    /// Its priority now.
    pub priority: Priority,
    /// The requester's institution's display name, if it had one.
    pub institution: Option<String>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// First reply to the contacts.
    pub first_response_at: Option<DateTime<Utc>>,
    /// Latest resolution.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Latest closing.
    pub closed_at: Option<DateTime<Utc>>,
}

/// A `status_changed` or `reopened` event: its data's `to` is the status the ticket went to.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct StatusEventRow {
    /// The ticket.
    pub ticket_id: TicketId,
    /// When.
    pub at: DateTime<Utc>,
    /// `status_changed` or `reopened`.
    pub kind: EventKind,
    /// The event's details (`{"from": ..., "to": ...}`).
    pub data: Json<serde_json::Value>,
}

/// Tickets opened before the end (`$3`) that can count in the period starting at `$2`: all
/// but those closed for good before it, unless first answered in it (an answer after the
/// closing is rare, and still a first response of the period).
const REPORT_TICKETS: &str = "SELECT t.id, t.kind, t.priority, i.name AS institution,
         t.created_at, t.first_response_at, t.resolved_at, t.closed_at
     FROM tickets t
     LEFT JOIN institutions i ON i.tenant_id = t.tenant_id AND i.id = t.institution_id
     WHERE t.tenant_id = $1 AND t.created_at < $3
         AND (t.closed_at IS NULL OR t.closed_at >= $2 OR t.first_response_at >= $2)
     ORDER BY t.id";

/// Status changes before the end (`$2`) of the tickets whose status there the columns cannot
/// tell: opened before it and not finished (closed, else resolved) before it. In the log's
/// order.
const STATUS_EVENTS_BEFORE: &str = "SELECT e.ticket_id, e.at, e.kind, e.data
     FROM events e
     JOIN tickets t ON t.tenant_id = e.tenant_id AND t.id = e.ticket_id
     WHERE e.tenant_id = $1 AND e.kind IN ('status_changed', 'reopened') AND e.at < $2
         AND t.created_at < $2
         AND (COALESCE(t.closed_at, t.resolved_at) IS NULL OR COALESCE(t.closed_at, t.resolved_at) >= $2)
     ORDER BY e.id";

impl Tx {
    /// The offer's tickets that can count in the period `[from, to)`, by id.
    pub async fn report_tickets(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ReportTicketRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "report_tickets", |c| sqlx::query_as(
            REPORT_TICKETS
        )
        .bind(t)
        .bind(from)
        .bind(to)
        .fetch_all(c)
        .await?))
    }

    /// The status changes before `end` of the tickets whose status at `end` only the event
    /// log knows (see `STATUS_EVENTS_BEFORE`), in order of appending.
    pub async fn status_events_before(
        &mut self,
        end: DateTime<Utc>,
    ) -> Result<Vec<StatusEventRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "status_events_before", |c| sqlx::query_as(
            STATUS_EVENTS_BEFORE
        )
        .bind(t)
        .bind(end)
        .fetch_all(c)
        .await?))
    }

    /// SLA compliance per target and breaches by level over `[from, to)`.
    ///
    /// A clock counts once, in the period it was decided: the one it ran out in when the
    /// escalator saw it run out, else the one its target was reached in; met when it was
    /// reached within its budget (a clock that ran out while no escalator ran counts as
    /// missed, in the period it was reached). The update clock keeps only
    /// its current period (each answer starts it again), so its line counts those. Breaches
    /// are the rungs fired that came due in the period, the breach itself and each
    /// escalation level; warnings are not breaches.
    pub async fn report_sla(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<SlaFigures> {
        let t = self.tenant.as_str();
        let targets: Vec<(Target, i64, i64)> =
            on!(self, "report_sla", |c| sqlx::query_as(REPORT_SLA_TARGETS)
                .bind(t)
                .bind(from)
                .bind(to)
                .fetch_all(c)
                .await?);
        let levels: Vec<(String, i64)> =
            on!(self, "report_sla", |c| sqlx::query_as(REPORT_SLA_BREACHES)
                .bind(t)
                .bind(from)
                .bind(to)
                .fetch_all(c)
                .await?);
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let sla = targets
            .into_iter()
            .map(|(target, total, met)| SlaLine {
                target: target.to_string(),
                total: count(total),
                met: count(met),
                compliance: (total > 0).then(|| met as f64 / total as f64),
            })
            .collect();
        let mut breaches: Vec<(Option<Level>, BreachLine)> = levels
            .into_iter()
            .map(|(level, n)| {
                let order = level.parse::<Level>().ok();
                (
                    order,
                    BreachLine {
                        level,
                        count: count(n),
                    },
                )
            })
            .collect();
        breaches.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.level.cmp(&b.1.level)));
        Ok(SlaFigures {
            sla,
            breaches: breaches.into_iter().map(|(_, line)| line).collect(),
        })
    }
}

/// Per target: the clocks decided in `[$2, $3)` (see [`Tx::report_sla`]), and those met.
const REPORT_SLA_TARGETS: &str = "SELECT target, COUNT(*) AS total,
         SUM(CASE WHEN breached_at IS NULL AND used_micros <= budget_secs * 1000000
             THEN 1 ELSE 0 END) AS met
     FROM sla_clocks
     WHERE tenant_id = $1
       AND ((breached_at >= $2 AND breached_at < $3)
         OR (breached_at IS NULL AND met_at >= $2 AND met_at < $3))
     GROUP BY target ORDER BY target";

/// Per level: the rungs past the warning that fired, and came due in `[$2, $3)` (a rung
/// fired late, after the daemon was down, belongs to the period of its instant).
const REPORT_SLA_BREACHES: &str = "SELECT level, COUNT(*) AS fired FROM sla_deadlines
     WHERE tenant_id = $1 AND fired_at IS NOT NULL AND due_at >= $2 AND due_at < $3
       AND level <> 'warning'
     GROUP BY level";
