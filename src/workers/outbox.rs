//! The outbox sender: every poll interval, sends what is due for each offer.

use std::sync::Arc;

use crate::channels::Sender;
use crate::notify::Notifier;
use crate::service::Context;
use crate::service::outbox::{release_own_claims, send_due};
use crate::shutdown::Shutdown;

pub struct OutboxWorker {
    pub ctx: Context,
    pub notifier: Arc<Notifier>,
    pub sender: Arc<dyn Sender>,
    pub shutdown: Shutdown,
}

impl OutboxWorker {
    pub async fn run(self) {
        let poll = self.ctx.config.daemon.outbox_poll;
        // One failure count per offer: an offer whose pass fails backs off alone.
        let offers = &self.ctx.config.offers;
        let mut failures = vec![0u32; offers.len()];
        let mut next_try = vec![tokio::time::Instant::now(); offers.len()];
        for offer in offers {
            match release_own_claims(&self.ctx, offer).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(tenant = %offer.code, released = n, "outbox rows claimed before a restart taken back")
                }
                // Not fatal: those rows come back when their lease ends.
                Err(e) => {
                    let e = anyhow::Error::from(e);
                    tracing::warn!(tenant = %offer.code, error = %format!("{e:#}"), "cannot take back earlier outbox claims")
                }
            }
        }
        loop {
            for (i, offer) in offers.iter().enumerate() {
                if tokio::time::Instant::now() < next_try[i] {
                    continue;
                }
                match send_due(&self.ctx, &self.notifier, self.sender.as_ref(), offer).await {
                    Ok(_) => failures[i] = 0,
                    // Logged here, once: the pass returns store errors without logging them
                    // (send errors are recorded and logged on their row by the pass).
                    Err(e) => {
                        failures[i] += 1;
                        let wait = super::backoff(failures[i]);
                        let e = anyhow::Error::from(e);
                        tracing::warn!(tenant = %offer.code, error = %format!("{e:#}"), failures = failures[i], "outbox pass failed, backing off");
                        next_try[i] = tokio::time::Instant::now() + wait;
                    }
                }
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }
}
