//! Service levels: each ticket's clocks, and their deadlines (the next rung of each clock
//! pending, the rungs fired).
//!
//! SQL only, like the rest of the store: which rung comes next, and when, is
//! `domain::sla`'s decision. Writes whose result nobody needs are held back ([`defer!`]).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::FromRow;

use super::{Result, Tx};
use crate::domain::TicketId;
use crate::domain::sla::{Clock, Level, Target};

/// A clock as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ClockRow {
    /// Its ticket.
    pub ticket_id: TicketId,
    /// What it measures.
    pub target: Target,
    /// The business time allowed, in seconds.
    pub budget_secs: i64,
    /// Business time used before `running_since`, in microseconds.
    pub used_micros: i64,
    /// Since when it counts, `None` while paused or met.
    pub running_since: Option<DateTime<Utc>>,
    /// The update clock's period.
    pub round: i64,
    /// When its target was reached.
    pub met_at: Option<DateTime<Utc>>,
    /// When it ran out.
    pub breached_at: Option<DateTime<Utc>>,
}

impl ClockRow {
    /// The domain's clock.
    pub fn clock(&self) -> Clock {
        Clock {
            target: self.target,
            budget: TimeDelta::seconds(self.budget_secs),
            used: TimeDelta::microseconds(self.used_micros),
            running_since: self.running_since,
            round: i32::try_from(self.round).unwrap_or(i32::MAX),
            met_at: self.met_at,
            breached_at: self.breached_at,
        }
    }
}

/// A deadline: a clock's rung, pending (`fired_at` empty) or fired.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct DeadlineRow {
    /// Its ticket.
    pub ticket_id: TicketId,
    /// The clock's target.
    pub target: Target,
    /// The clock's period.
    pub round: i64,
    /// `warning`, `breach`, `L1`...
    pub level: String,
    /// When it is (or was) due.
    pub due_at: DateTime<Utc>,
    /// When it fired.
    pub fired_at: Option<DateTime<Utc>>,
}

impl DeadlineRow {
    /// Its level, `None` for a name this version does not know.
    pub fn level(&self) -> Option<Level> {
        self.level.parse().ok()
    }
}

const CLOCK_COLUMNS: &str =
    "ticket_id, target, budget_secs, used_micros, running_since, round, met_at, breached_at";
const DEADLINE_COLUMNS: &str = "ticket_id, target, round, level, due_at, fired_at";

/// Both databases accept these as written (see `sql.rs`).
mod stmt {
    pub const UPSERT_CLOCK: &str = "INSERT INTO sla_clocks (tenant_id, ticket_id, target,
         budget_secs, used_micros, running_since, round, met_at, breached_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, ticket_id, target) DO UPDATE SET
             budget_secs = excluded.budget_secs, used_micros = excluded.used_micros,
             running_since = excluded.running_since, round = excluded.round,
             met_at = excluded.met_at, breached_at = excluded.breached_at";
    pub const DELETE_PENDING: &str = "DELETE FROM sla_deadlines
         WHERE tenant_id = $1 AND ticket_id = $2 AND target = $3 AND fired_at IS NULL";
    /// A rung already fired stays fired: only a pending one takes the new instant.
    pub const INSERT_DEADLINE: &str = "INSERT INTO sla_deadlines
         (tenant_id, ticket_id, target, round, level, due_at, fired_at)
         VALUES ($1, $2, $3, $4, $5, $6, NULL)
         ON CONFLICT (tenant_id, ticket_id, target, round, level)
         DO UPDATE SET due_at = excluded.due_at WHERE sla_deadlines.fired_at IS NULL";
    pub const MARK_FIRED: &str = "UPDATE sla_deadlines SET fired_at = $6
         WHERE tenant_id = $1 AND ticket_id = $2 AND target = $3 AND round = $4 AND level = $5
           AND fired_at IS NULL RETURNING 1";
    pub const CLAIM_JOB_RUN: &str = "INSERT INTO job_runs (tenant_id, job, scheduled_at, ran_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1";
    pub const LAST_JOB_RUN: &str =
        "SELECT MAX(scheduled_at) FROM job_runs WHERE tenant_id = $1 AND job = $2";
    pub const RUNNING_TICKETS: &str = "SELECT DISTINCT ticket_id FROM sla_clocks
         WHERE tenant_id = $1 AND ticket_id > $2 AND running_since IS NOT NULL
         ORDER BY ticket_id LIMIT $3";
    pub const EARLIEST: &str =
        "SELECT MIN(due_at) FROM sla_deadlines WHERE tenant_id = $1 AND fired_at IS NULL";
}

impl Tx {
    /// The ticket's clocks.
    pub async fn sla_clocks(&mut self, ticket: TicketId) -> Result<Vec<ClockRow>> {
        let t = self.tenant.as_str();
        let q = format!(
            "SELECT {CLOCK_COLUMNS} FROM sla_clocks WHERE tenant_id = $1 AND ticket_id = $2 \
             ORDER BY target"
        );
        Ok(on!(self, "sla_clocks", |c| sqlx::query_as(
            sqlx::AssertSqlSafe(q)
        )
        .bind(t)
        .bind(ticket)
        .fetch_all(c)
        .await?))
    }

    /// Up to `limit` tickets of the offer with a running clock, after `after` in id order: a
    /// calendar reloaded moves their deadlines, looked at a share at a time.
    pub async fn tickets_with_running_clocks(
        &mut self,
        after: TicketId,
        limit: i64,
    ) -> Result<Vec<TicketId>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "tickets_with_running_clocks", |c| {
            sqlx::query_scalar(stmt::RUNNING_TICKETS)
                .bind(t)
                .bind(after)
                .bind(limit)
                .fetch_all(c)
                .await?
        }))
    }

    /// The running clocks of the tickets from `first` to `last`, by ticket.
    pub async fn running_sla_clocks(
        &mut self,
        (first, last): (TicketId, TicketId),
    ) -> Result<Vec<ClockRow>> {
        let t = self.tenant.as_str();
        let q = format!(
            "SELECT {CLOCK_COLUMNS} FROM sla_clocks WHERE tenant_id = $1 \
             AND ticket_id BETWEEN $2 AND $3 AND running_since IS NOT NULL \
             ORDER BY ticket_id, target"
        );
        Ok(on!(self, "running_sla_clocks", |c| sqlx::query_as(
            sqlx::AssertSqlSafe(q)
        )
        .bind(t)
        .bind(first)
        .bind(last)
        .fetch_all(c)
        .await?))
    }

    /// The deadlines, pending and fired, of the tickets from `first` to `last`, by ticket.
    pub async fn sla_deadlines_between(
        &mut self,
        (first, last): (TicketId, TicketId),
    ) -> Result<Vec<DeadlineRow>> {
        let t = self.tenant.as_str();
        let q = format!(
            "SELECT {DEADLINE_COLUMNS} FROM sla_deadlines WHERE tenant_id = $1 \
             AND ticket_id BETWEEN $2 AND $3 ORDER BY ticket_id, due_at, target, level"
        );
        Ok(on!(self, "sla_deadlines_between", |c| sqlx::query_as(
            sqlx::AssertSqlSafe(q)
        )
        .bind(t)
        .bind(first)
        .bind(last)
        .fetch_all(c)
        .await?))
    }

    /// Writes a ticket's clock as it now is.
    pub async fn save_sla_clock(&mut self, ticket: TicketId, clock: &Clock) -> Result<()> {
        let t = self.tenant.as_str();
        let used = clock.used.num_microseconds().unwrap_or(i64::MAX);
        defer!(
            self,
            "save_sla_clock",
            stmt::UPSERT_CLOCK,
            [
                t,
                ticket,
                clock.target,
                clock.budget.num_seconds(),
                used,
                clock.running_since,
                i64::from(clock.round),
                clock.met_at,
                clock.breached_at,
            ]
        );
        Ok(())
    }

    /// The ticket's deadlines, pending and fired, by due time.
    pub async fn sla_deadlines(&mut self, ticket: TicketId) -> Result<Vec<DeadlineRow>> {
        let t = self.tenant.as_str();
        let q = format!(
            "SELECT {DEADLINE_COLUMNS} FROM sla_deadlines WHERE tenant_id = $1 \
             AND ticket_id = $2 ORDER BY due_at, target, level"
        );
        Ok(on!(self, "sla_deadlines", |c| sqlx::query_as(
            sqlx::AssertSqlSafe(q)
        )
        .bind(t)
        .bind(ticket)
        .fetch_all(c)
        .await?))
    }

    /// Makes `next` the clock's only pending deadline (none when `None`).
    pub async fn set_pending_deadline(
        &mut self,
        ticket: TicketId,
        clock: &Clock,
        next: Option<(Level, DateTime<Utc>)>,
    ) -> Result<()> {
        let t = self.tenant.as_str();
        defer!(
            self,
            "set_pending_deadline",
            stmt::DELETE_PENDING,
            [t, ticket, clock.target]
        );
        self.add_deadline(ticket, clock, next).await
    }

    /// Writes `next` as a pending deadline of a clock that has none (a new ticket's).
    pub async fn add_deadline(
        &mut self,
        ticket: TicketId,
        clock: &Clock,
        next: Option<(Level, DateTime<Utc>)>,
    ) -> Result<()> {
        if let Some((level, due)) = next {
            let t = self.tenant.as_str();
            defer!(
                self,
                "set_pending_deadline",
                stmt::INSERT_DEADLINE,
                [
                    t,
                    ticket,
                    clock.target,
                    i64::from(clock.round),
                    level.name(),
                    due
                ]
            );
        }
        Ok(())
    }

    /// Up to `limit` pending deadlines due at `now`, earliest first. On PostgreSQL they are
    /// locked until the transaction ends, and those another daemon holds are skipped: each
    /// fires in one transaction of one daemon.
    pub async fn claim_due_deadlines(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DeadlineRow>> {
        let t = self.tenant.as_str();
        let base = format!(
            "SELECT {DEADLINE_COLUMNS} FROM sla_deadlines WHERE tenant_id = $1 \
             AND fired_at IS NULL AND due_at <= $2 ORDER BY due_at, ticket_id, target LIMIT $3"
        );
        let postgres = matches!(self.inner, super::TxInner::Postgres(_));
        let q = if postgres {
            format!("{base} FOR UPDATE SKIP LOCKED")
        } else {
            base
        };
        Ok(on!(self, "claim_due_deadlines", |c| sqlx::query_as(
            sqlx::AssertSqlSafe(q)
        )
        .bind(t)
        .bind(now)
        .bind(limit)
        .fetch_all(c)
        .await?))
    }

    /// Records that the deadline fired at `now`. Returns false when it had already fired (a
    /// second pass that read it before the first committed, on SQLite's single writer).
    pub async fn mark_deadline_fired(
        &mut self,
        row: &DeadlineRow,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let t = self.tenant.as_str();
        let done: Option<i32> = on!(self, "mark_deadline_fired", |c| sqlx::query_scalar(
            stmt::MARK_FIRED
        )
        .bind(t)
        .bind(row.ticket_id)
        .bind(row.target)
        .bind(row.round)
        .bind(&row.level)
        .bind(now)
        .fetch_optional(c)
        .await?);
        Ok(done.is_some())
    }

    /// The earliest pending deadline of the offer.
    pub async fn earliest_deadline(&mut self) -> Result<Option<DateTime<Utc>>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "earliest_deadline", |c| sqlx::query_scalar(
            stmt::EARLIEST
        )
        .bind(t)
        .fetch_one(c)
        .await?))
    }

    /// Takes the run of `job` scheduled at `scheduled` for this transaction: false when it was
    /// taken already (by another daemon, or before a restart). On PostgreSQL a second daemon
    /// waits for the first one's transaction, then finds the row.
    pub async fn claim_job_run(
        &mut self,
        job: &str,
        scheduled: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let t = self.tenant.as_str();
        let won: Option<i32> = on!(self, "claim_job_run", |c| sqlx::query_scalar(
            stmt::CLAIM_JOB_RUN
        )
        .bind(t)
        .bind(job)
        .bind(scheduled)
        .bind(now)
        .fetch_optional(c)
        .await?);
        Ok(won.is_some())
    }

    /// The latest scheduled instant of `job` that ran.
    pub async fn last_job_run(&mut self, job: &str) -> Result<Option<DateTime<Utc>>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "last_job_run", |c| sqlx::query_scalar(
            stmt::LAST_JOB_RUN
        )
        .bind(t)
        .bind(job)
        .fetch_one(c)
        .await?))
    }
}
