//! Graceful shutdown: one cancellation token, one task tracker, a drain deadline.
//!
//! SIGTERM or SIGINT cancels the token; workers notice it between two units of work (never
//! inside a transaction), finish what they hold and return. [`Shutdown::drain`] waits for them
//! up to the configured grace period and names every task still running after it.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tracker: TaskTracker,
    running: Arc<Mutex<BTreeSet<String>>>,
    /// Tasks that panicked: the daemon stops and exits non-zero, so systemd restarts it.
    panicked: Arc<Mutex<Vec<String>>>,
}

/// Removes a task's name from the running set when the task ends, however it ends.
struct Running {
    name: String,
    running: Arc<Mutex<BTreeSet<String>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.name);
    }
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Asks for shutdown, as a signal would (tests stop an in-process daemon this way).
    pub fn cancel(&self) {
        self.token.cancel()
    }

    /// Resolves when shutdown was asked for.
    pub async fn cancelled(&self) {
        self.token.cancelled().await
    }

    /// Spawns a named task that shutdown will wait for. A task that panics is logged and
    /// stops the daemon: a worker silently gone would leave its mailbox unread.
    pub fn spawn<F>(&self, name: impl Into<String>, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let name = name.into();
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.clone());
        let guard = Running {
            name: name.clone(),
            running: self.running.clone(),
        };
        let (token, panicked) = (self.token.clone(), self.panicked.clone());
        self.tracker.spawn(async move {
            let _guard = guard;
            if let Err(e) = tokio::spawn(fut).await
                && e.is_panic()
            {
                tracing::error!(task = %name, "task panicked, stopping the daemon");
                panicked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(name);
                token.cancel();
            }
        });
    }

    /// The names of the tasks that panicked.
    pub fn panicked(&self) -> Vec<String> {
        self.panicked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Cancels on the first SIGTERM or SIGINT.
    pub fn listen_for_signals(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let token = self.token.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutdown requested"),
                _ = int.recv() => tracing::info!(signal = "SIGINT", "shutdown requested"),
                _ = token.cancelled() => return,
            }
            token.cancel();
        });
        Ok(())
    }

    /// Cancels, then waits for the tasks up to `grace`. Returns the names of the tasks that
    /// had not stopped by then (empty when all stopped).
    pub async fn drain(&self, grace: Duration) -> Vec<String> {
        self.token.cancel();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
        {
            return Vec::new();
        }
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_waits_for_cooperative_tasks_and_names_the_others() {
        let shutdown = Shutdown::new();
        let token = shutdown.token();
        shutdown.spawn("polite", async move { token.cancelled().await });
        shutdown.spawn("stubborn", std::future::pending());
        let left = shutdown.drain(Duration::from_millis(200)).await;
        assert_eq!(left, vec!["stubborn".to_owned()]);
    }

    #[tokio::test]
    async fn a_panicking_task_stops_everything_and_is_named() {
        let shutdown = Shutdown::new();
        let token = shutdown.token();
        shutdown.spawn("worker", async move { token.cancelled().await });
        shutdown.spawn("broken", async { panic!("bug") });
        shutdown.cancelled().await;
        assert!(shutdown.drain(Duration::from_secs(5)).await.is_empty());
        assert_eq!(shutdown.panicked(), vec!["broken".to_owned()]);
    }

    #[tokio::test]
    async fn drain_returns_nothing_when_all_stop() {
        let shutdown = Shutdown::new();
        let token = shutdown.token();
        shutdown.spawn("worker", async move { token.cancelled().await });
        assert!(shutdown.drain(Duration::from_secs(5)).await.is_empty());
    }
}
