//! The outbox sender: every poll interval, sends what is due for each offer.

use std::sync::Arc;

use crate::notify::Notifier;
use crate::service::Context;
use crate::service::outbox::{Transport, send_due};
use crate::shutdown::Shutdown;

pub struct OutboxWorker {
    pub ctx: Context,
    pub notifier: Arc<Notifier>,
    pub transport: Arc<Transport>,
    pub shutdown: Shutdown,
}

impl OutboxWorker {
    pub async fn run(self) {
        let poll = self.ctx.config.daemon.outbox_poll;
        let mut failures = 0u32;
        loop {
            let mut wait = poll;
            for offer in &self.ctx.config.offers {
                if let Err(e) = send_due(&self.ctx, &self.notifier, &self.transport, offer).await {
                    failures += 1;
                    tracing::warn!(tenant = %offer.code, error = %e, failures, "outbox pass failed, backing off");
                    wait = super::backoff(failures);
                    break;
                }
                failures = 0;
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
