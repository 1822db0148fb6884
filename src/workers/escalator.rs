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
        let offers = &self.ctx.config.offers;
        // The calendar or the policy may have changed since the deadlines were written.
        for offer in offers {
            match recompute(&self.ctx, offer).await {
                Ok(n) => {
                    tracing::debug!(tenant = %offer.code, clocks = n, "SLA deadlines recomputed")
                }
                Err(e) => {
                    let e = anyhow::Error::from(e);
                    tracing::warn!(tenant = %offer.code, error = %format!("{e:#}"), "cannot recompute SLA deadlines");
                }
            }
        }
        let started = self.ctx.clock.now();
        let mut failures = 0u32;
        loop {
            self.ctx.deadlines.looking();
            let wait = match self.pass(started).await {
                Ok(earliest) => {
                    failures = 0;
                    let now = self.ctx.clock.now();
                    let wait = until(earliest, now);
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

    /// Fires what is due in every offer and runs its jobs that came due; returns the
    /// earliest deadline or scheduled instant left.
    async fn pass(&self, started: DateTime<Utc>) -> anyhow::Result<Option<DateTime<Utc>>> {
        let mut earliest: Option<DateTime<Utc>> = None;
        for offer in &self.ctx.config.offers {
            if let Some(next) = run_due(&self.ctx, offer, started).await? {
                earliest = Some(earliest.map_or(next, |e| e.min(next)));
            }
            let fired = fire_due(&self.ctx, offer).await?;
            if fired > 0 {
                tracing::info!(tenant = %offer.code, fired, "SLA deadlines fired");
            }
            if let Some(due) = next_due(&self.ctx, offer).await? {
                earliest = Some(earliest.map_or(due, |e| e.min(due)));
            }
        }
        Ok(earliest)
    }
}

/// After a pass, a deadline still due is one the pass left (a backlog past its batches, a
/// row it could not decide): the next pass waits this long, so the loop never spins.
const STILL_DUE: Duration = Duration::from_secs(1);

/// How long to sleep from `now` until `earliest`: not past [`RECHECK`], and [`STILL_DUE`]
/// when it is due already.
fn until(earliest: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Duration {
    earliest
        .map(|due| {
            (due - now)
                .to_std()
                .unwrap_or(STILL_DUE)
                .clamp(Duration::from_millis(1), RECHECK)
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
            (None, RECHECK),
            (Some(now - TimeDelta::seconds(5)), STILL_DUE),
            (Some(now), Duration::from_millis(1)),
            (
                Some(now + TimeDelta::milliseconds(1500)),
                Duration::from_millis(1500),
            ),
            (Some(now + TimeDelta::hours(3)), RECHECK),
        ];
        for (earliest, wait) in table {
            assert_eq!(until(earliest, now), wait, "{earliest:?}");
        }
    }
}
