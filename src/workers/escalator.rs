//! The escalator: fires each offer's SLA deadlines as they come due, runs its scheduled jobs
//! (the daily digest), and otherwise sleeps until the earliest of them. No fixed-interval scan: a transaction of this process that writes a
//! deadline wakes it on commit (`Context::deadlines`), so an earlier deadline is never
//! overslept. Deadlines written by another process (a CLI command, a second daemon) are seen
//! at the next wake-up, at most [`RECHECK`] later; a second daemon on the same PostgreSQL
//! fires its own anyway.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::service::Context;
use crate::service::jobs::run_due;
use crate::service::sla::{fire_due, next_due, recompute};
use crate::shutdown::Shutdown;

/// The longest sleep: bounds how late a deadline another process wrote can be seen, and how
/// long a forward step of the system clock can keep a deadline waiting.
pub const RECHECK: Duration = Duration::from_secs(30);

pub struct Escalator {
    pub ctx: Context,
    pub shutdown: Shutdown,
}

impl Escalator {
    pub async fn run(self) {
        // The calendar or the policy may have changed since the deadlines were written: the
        // deadlines are recomputed beside the passes, not before them (a million open tickets
        // take seconds), so what is due fires meanwhile. A pass only fires a rung the domain
        // finds due with the calendar loaded now: a stale row never fires early.
        let ctx = self.ctx.clone();
        let shutdown = self.shutdown.clone();
        self.shutdown.spawn("sla-recompute", async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = recompute_all(&ctx) => {}
            }
        });
        let started = self.ctx.clock.now();
        let mut failures = 0u32;
        loop {
            self.ctx.deadlines.looking();
            let wait = match pass(&self.ctx, started).await {
                Ok(Pass { earliest, fired }) => {
                    failures = 0;
                    let now = self.ctx.clock.now();
                    let wait = until(earliest, now, fired > 0);
                    let look =
                        chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::zero());
                    self.ctx.deadlines.planned(now + look);
                    wait
                }
                Err(e) => {
                    failures += 1;
                    let wait = super::backoff(failures);
                    // It looks again after the backoff; a deadline before that must not wake it.
                    let look =
                        chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::zero());
                    self.ctx.deadlines.planned(self.ctx.clock.now() + look);
                    tracing::warn!(error = %format!("{e:#}"), failures, "escalator pass failed, backing off");
                    wait
                }
            };
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = self.ctx.deadlines.notify.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// Recomputes every offer's pending deadlines ([`recompute`]), logging what it moved.
async fn recompute_all(ctx: &Context) {
    for offer in &ctx.config.offers {
        match recompute(ctx, offer).await {
            Ok(n) => {
                tracing::debug!(tenant = %offer.code, clocks = n, "SLA deadlines recomputed")
            }
            Err(e) => {
                let e = anyhow::Error::from(e);
                tracing::warn!(tenant = %offer.code, error = %format!("{e:#}"), "cannot recompute SLA deadlines");
            }
        }
    }
}

/// What a pass did and left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// The earliest deadline or scheduled instant left.
    pub earliest: Option<DateTime<Utc>>,
    /// How many rungs it fired.
    pub fired: usize,
}

/// One pass of the escalator: fires what is due in every offer and runs its jobs that came
/// due (scheduled since `started`, the daemon's start, or their last run). Public for the
/// benchmark (benches/sla.rs).
pub async fn pass(ctx: &Context, started: DateTime<Utc>) -> anyhow::Result<Pass> {
    let mut earliest: Option<DateTime<Utc>> = None;
    let mut fired = 0;
    for offer in &ctx.config.offers {
        if let Some(next) = run_due(ctx, offer, started).await? {
            earliest = Some(earliest.map_or(next, |e| e.min(next)));
        }
        let n = fire_due(ctx, offer).await?;
        if n > 0 {
            tracing::info!(tenant = %offer.code, fired = n, "SLA deadlines fired");
        }
        fired += n;
        if let Some(due) = next_due(ctx, offer).await? {
            earliest = Some(earliest.map_or(due, |e| e.min(due)));
        }
    }
    Ok(Pass { earliest, fired })
}

/// After a pass that fired nothing, a deadline still due is one the pass could not decide
/// (a level of a later version): the next pass waits this long, so the loop never spins on it.
const STILL_DUE: Duration = Duration::from_secs(1);

/// How long to sleep from `now` until `earliest`: not past [`RECHECK`]. When it is due
/// already: none after a pass that fired (deadlines that came due while it ran, or past its
/// batches), [`STILL_DUE`] after one that fired nothing.
fn until(earliest: Option<DateTime<Utc>>, now: DateTime<Utc>, fired: bool) -> Duration {
    earliest
        .map(|due| match (due - now).to_std() {
            Ok(wait) => wait.clamp(Duration::from_millis(1), RECHECK),
            Err(_) if fired => Duration::ZERO,
            Err(_) => STILL_DUE,
        })
        .unwrap_or(RECHECK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};

    #[test]
    fn sleeps_until_the_earliest_deadline_within_the_recheck() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap();
        let table = [
            (None, false, RECHECK),
            (None, true, RECHECK),
            (Some(now - TimeDelta::seconds(5)), false, STILL_DUE),
            (Some(now - TimeDelta::milliseconds(3)), true, Duration::ZERO),
            (Some(now), false, Duration::from_millis(1)),
            (
                Some(now + TimeDelta::milliseconds(1500)),
                true,
                Duration::from_millis(1500),
            ),
            (Some(now + TimeDelta::hours(3)), false, RECHECK),
        ];
        for (earliest, fired, wait) in table {
            assert_eq!(until(earliest, now, fired), wait, "{earliest:?} {fired}");
        }
    }
}
