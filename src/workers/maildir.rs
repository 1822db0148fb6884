//! The Maildir ingestor of one offer: scans `new/`, takes each message in, moves it to `cur/`
//! only after its transaction committed.

use std::path::Path;
use std::time::Duration;

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
            match Maildir::open(&self.offer.maildir) {
                Ok(m) => break m,
                Err(e) => {
                    tracing::error!(tenant = %tenant, path = %self.offer.maildir.display(), error = %e, "cannot open maildir");
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
                    tracing::warn!(tenant = %tenant, error = %e, failures, "maildir pass failed, backing off");
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
        for path in maildir.pending()? {
            if self.shutdown.is_cancelled() {
                break;
            }
            let Some(data) = read(&path)? else { continue };
            ingest(
                &self.ctx,
                &self.offer,
                crate::domain::Channel::Maildir,
                &data,
            )
            .await?;
            maildir.mark_done(&path)?;
            done += 1;
        }
        Ok(done)
    }
}

/// Reads a message; `None` when it vanished meanwhile (another instance took it).
fn read(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(data) => Ok(Some(data)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
