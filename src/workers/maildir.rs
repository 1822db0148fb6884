//! The Maildir ingestor of one offer: scans `new/`, takes each message in, moves it to `cur/`
//! only after its transaction committed. The file work runs on the blocking pool (see
//! `channels::maildir`).

use std::time::Duration;

use crate::domain::Channel;
use anyhow::Context as _;

use crate::channels::maildir::Maildir;
use crate::config::OfferConfig;
use crate::service::Context;
use crate::service::ingest::ingest;
use crate::shutdown::Shutdown;

pub struct MaildirIngestor {
    pub ctx: Context,
    pub offer: OfferConfig,
    pub shutdown: Shutdown,
}

impl MaildirIngestor {
    pub async fn run(self) {
        let tenant = self.offer.code.clone();
        let poll = self.ctx.config.daemon.maildir_poll;
        let mut failures = 0u32;
        let maildir = loop {
            match Maildir::open(&self.offer.maildir).await {
                Ok(m) => break m,
                Err(e) => {
                    tracing::error!(tenant = %tenant, path = %self.offer.maildir.display(), error = %format!("{e:#}"), "cannot open maildir");
                    if self.pause(super::backoff(failures)).await {
                        return;
                    }
                    failures += 1;
                }
            }
        };
        tracing::info!(tenant = %tenant, path = %maildir.root().display(), "watching maildir");
        loop {
            let wait = match self.pass(&maildir).await {
                Ok(_) => {
                    failures = 0;
                    poll
                }
                Err(e) => {
                    failures += 1;
                    // Logged here, once: `pass` and the service below it return their errors.
                    tracing::warn!(tenant = %tenant, error = %format!("{e:#}"), failures, "maildir pass failed, backing off");
                    super::backoff(failures)
                }
            };
            if self.pause(wait).await {
                return;
            }
        }
    }

    /// Waits, or returns true as soon as shutdown is asked for.
    async fn pause(&self, wait: Duration) -> bool {
        tokio::select! {
            _ = self.shutdown.cancelled() => true,
            _ = tokio::time::sleep(wait) => false,
        }
    }

    /// Takes in every pending message; stops at the first store failure (the message stays in
    /// `new/` for the next pass) and between messages when shutdown is asked for.
    pub async fn pass(&self, maildir: &Maildir) -> anyhow::Result<usize> {
        let mut done = 0;
        let pending = maildir.pending().await.context("cannot list new/")?;
        for path in pending {
            if self.shutdown.is_cancelled() {
                break;
            }
            // The file name (the MTA's unique part) names the message without its content.
            let name = || path.file_name().unwrap_or_default().to_string_lossy();
            let Some(data) = (maildir.read(&path).await)
                .with_context(|| format!("cannot read message {}", name()))?
            else {
                continue;
            };
            ingest(&self.ctx, &self.offer, Channel::Maildir, &data)
                .await
                .with_context(|| format!("message {} not taken in", name()))?;
            maildir
                .mark_done(&path)
                .await
                .with_context(|| format!("message {} taken in but not moved to cur/", name()))?;
            done += 1;
        }
        Ok(done)
    }
}
