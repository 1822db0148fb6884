//! Wiring: builds the store, the services and the workers from a [`Config`] ([`Daemon::build`]),
//! and runs the daemon until its shutdown token fires ([`Daemon::run_until`]; [`run`] fires it
//! on SIGTERM/SIGINT). No rules and no SQL here.

use std::io::{IsTerminal as _, Write};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;

use crate::channels::Sender;
use crate::channels::outbound::FileSender;
use crate::channels::smtp::SmtpSender;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Dsn, LogFormat, MailTransport};
use crate::notify::Notifier;
use crate::service::{Context, sync};
use crate::shutdown::Shutdown;
use crate::store::{self, Store};
use crate::workers::escalator::Escalator;
use crate::workers::imap::MailboxIngestor;
use crate::workers::maildir::MaildirIngestor;
use crate::workers::outbox::OutboxWorker;

/// Sets up logging: human-readable or JSON lines on stderr, without colour codes unless
/// stderr is a terminal (an MTA or journald would store them raw). `GUICHET_LOG` (a tracing
/// filter) wins over `level`. With `hold`, lines are kept back until [`LogHold::release`], so
/// that a command's result line comes first on stderr.
pub fn init_logging(format: LogFormat, level: &str, hold: bool) -> LogHold {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GUICHET_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = LogHold(Arc::new(Mutex::new(hold.then(Held::default))));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(logs.clone());
    // A second initialisation (tests) is harmless: keep the first subscriber.
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    logs
}

/// Log lines kept back while a one-shot command runs, written to stderr on release. Holding
/// is bounded: past `HELD_BYTES` lines are counted, not kept (a command that logs more than
/// that is not one an MTA runs).
#[derive(Clone)]
pub struct LogHold(Arc<Mutex<Option<Held>>>);

/// `deliver` logs a few lines per message; this leaves room for a debug run.
const HELD_BYTES: usize = 1 << 20;

#[derive(Default)]
struct Held {
    lines: Vec<u8>,
    dropped: usize,
}

impl LogHold {
    /// Writes what was held to stderr; later lines go straight there.
    pub fn release(&self) {
        let held = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(held) = held {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(&held.lines);
            if held.dropped > 0 {
                let _ = writeln!(err, "guichet: {} bytes of log lines left out", held.dropped);
            }
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogHold {
    type Writer = LogHold;
    fn make_writer(&'a self) -> LogHold {
        self.clone()
    }
}

impl Write for LogHold {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match held.as_mut() {
            Some(held) if held.lines.len() + buf.len() <= HELD_BYTES => {
                held.lines.extend_from_slice(buf)
            }
            Some(held) => held.dropped += buf.len(),
            None => return std::io::stderr().write(buf),
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The store's connection options from the configuration: a SQLite path is relative to the
/// data directory; the PostgreSQL password travels apart from the URL.
pub fn store_options(config: &Config) -> store::Options {
    let storage = &config.storage;
    let database = match &storage.dsn {
        Dsn::Sqlite(path) => store::Database::Sqlite {
            path: config.daemon.data_dir.join(path),
        },
        Dsn::Postgres(url) => store::Database::Postgres {
            url: url.clone(),
            password: storage.password.as_ref().map(|p| p.expose().to_owned()),
        },
    };
    store::Options {
        database,
        max_connections: storage.max_connections,
        connect_timeout: storage.connect_timeout,
    }
}

/// Connects to the store and applies pending migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&store_options(config))
        .await
        .context("cannot open the store")?;
    store.migrate().await.context("cannot migrate the store")?;
    Ok(store)
}

/// A service context on the system clock, with the store migrated.
pub async fn context(config: Config) -> anyhow::Result<Context> {
    let store = open_store(&config).await?;
    Ok(Context::new(store, Arc::new(config), Arc::new(SystemClock)))
}

/// The outbound channel `mail.transport` names: `.eml` files in `mail.outbox_dir`, or the
/// SMTP relay of `[mail.smtp]` (Matrix will be chosen here too). Fails when the relay's
/// settings cannot be used (an unreadable `ca_file`), naming the key.
pub fn sender(config: &Config) -> anyhow::Result<Arc<dyn Sender>> {
    Ok(match &config.mail.transport {
        MailTransport::File => Arc::new(FileSender::new(&config.mail.outbox_dir)),
        MailTransport::Smtp(smtp) => Arc::new(SmtpSender::new(smtp).map_err(anyhow::Error::msg)?),
    })
}

/// Holds `DATA_DIR/guichet.lock` for as long as the returned file lives (the lock goes with
/// the process, even on a crash); fails when another daemon holds it.
fn lock_data_dir(data_dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let path = data_dir.join("guichet.lock");
    // A lock works on a file opened for reading too (one left by root, say).
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .or_else(|_| std::fs::File::open(&path))
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another guichet daemon is running on {} (it holds {}): stop it first",
            data_dir.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// The daemon, built and not yet running: its store opened and migrated, the configuration
/// written into it, the data directory locked, its templates and sender ready. Tests build
/// one in process and stop it with their own [`Shutdown`]; [`run`] stops it on a signal.
pub struct Daemon {
    ctx: Context,
    notifier: Arc<Notifier>,
    sender: Arc<dyn Sender>,
    /// How long [`Daemon::run_until`] waits for its workers once shutdown is asked for.
    grace: std::time::Duration,
    /// `DATA_DIR/guichet.lock`, held for as long as the daemon lives (see [`lock_data_dir`]).
    _lock: std::fs::File,
}

impl Daemon {
    /// Builds the daemon on the system clock.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_on(config, Arc::new(SystemClock)).await
    }

    /// Builds the daemon on `clock` (a manual clock in tests).
    pub async fn build_on(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let grace = config.daemon.shutdown_grace;
        let notifier = Arc::new(Notifier::from_config(&config).context("cannot load templates")?);
        let sender = sender(&config)?;
        // One daemon per identity (host and data directory): the outbox worker takes back the
        // claims of that identity at start, which must never be those of a daemon still
        // running.
        let lock = lock_data_dir(&config.daemon.data_dir)?;
        let store = open_store(&config).await?;
        let ctx = Context::new(store, Arc::new(config), clock).as_daemon();
        sync::sync_all(&ctx)
            .await
            .context("cannot write the configuration into the store")?;
        Ok(Self {
            ctx,
            notifier,
            sender,
            grace,
            _lock: lock,
        })
    }

    /// Starts the workers, runs until `shutdown` is cancelled, then drains within the
    /// configured grace period. Fails when a worker panicked or did not stop in time.
    pub async fn run_until(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let Self {
            ctx,
            notifier,
            sender,
            grace,
            _lock,
        } = self;
        for offer in &ctx.config.offers {
            let worker = MaildirIngestor {
                ctx: ctx.clone(),
                offer: offer.clone(),
                shutdown: shutdown.clone(),
            };
            shutdown.spawn(format!("maildir:{}", offer.code), worker.run());
            for mailbox in &offer.mailboxes {
                let worker = MailboxIngestor {
                    ctx: ctx.clone(),
                    offer: offer.clone(),
                    mailbox: mailbox.clone(),
                    shutdown: shutdown.clone(),
                };
                shutdown.spawn(format!("imap:{}", mailbox.name), worker.run());
            }
        }
        let outbox = OutboxWorker {
            ctx: ctx.clone(),
            notifier,
            sender,
            shutdown: shutdown.clone(),
        };
        shutdown.spawn("outbox", outbox.run());
        let escalator = Escalator {
            ctx: ctx.clone(),
            shutdown: shutdown.clone(),
        };
        shutdown.spawn("escalator", escalator.run());
        tracing::info!(offers = ctx.config.offers.len(), backend = ?ctx.store.backend(), "guichet running");

        shutdown.cancelled().await;
        let left = shutdown.drain(grace).await;
        if left.is_empty() {
            ctx.store.close().await;
        }
        // With tasks still running, closing would wait for their connections: exit instead,
        // the database rolls back whatever they had not committed.
        let panicked = shutdown.panicked();
        if !panicked.is_empty() {
            anyhow::bail!("stopped because tasks panicked: {}", panicked.join(", "))
        }
        if left.is_empty() {
            tracing::info!("guichet stopped");
            Ok(())
        } else {
            anyhow::bail!(
                "tasks still running after {}s: {}",
                grace.as_secs(),
                left.join(", ")
            )
        }
    }
}

/// Runs the daemon until SIGTERM or SIGINT, then drains within the configured grace period.
pub async fn run(config: Config) -> anyhow::Result<()> {
    keep_to_one_cpu(&config);
    let daemon = Daemon::build(config).await?;
    let shutdown = Shutdown::new();
    shutdown
        .listen_for_signals()
        .context("cannot listen for signals")?;
    daemon.run_until(shutdown).await
}

/// On SQLite (and unless `storage.sqlite_one_cpu = false`), keeps the daemon's threads on
/// one CPU before the store opens its connections ([`crate::affinity`]). `guichet run` does
/// it; a daemon built in process by a test or a benchmark does it only when asked to.
pub fn keep_to_one_cpu(config: &Config) {
    if !(config.storage.sqlite_one_cpu && config.sqlite_path().is_some()) {
        return;
    }
    match crate::affinity::gather() {
        Some(cpu) => tracing::info!(cpu, "threads kept on one CPU, parsing on all (SQLite)"),
        None => tracing::debug!("threads left on every CPU (one CPU only, or refused)"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::clock::ManualClock;

    fn config(dir: &Path) -> Config {
        crate::config::for_unit_tests(dir, "maildir_poll_ms = 20\noutbox_poll_ms = 20")
    }

    /// The files in `dir`, none when it does not exist yet.
    fn files(dir: &Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |d| d.count())
    }

    #[tokio::test]
    async fn daemon_built_in_process_takes_mail_in_and_stops_on_its_token() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let (maildir, outbox) = (
            config.offers[0].maildir.clone(),
            config.mail.outbox_dir.clone(),
        );
        let start = Utc.with_ymd_and_hms(2025, 3, 4, 9, 0, 0).unwrap();
        let daemon = Daemon::build_on(config.clone(), Arc::new(ManualClock::new(start)))
            .await
            .unwrap();
        let again = Daemon::build(config).await.err().unwrap();
        assert!(
            format!("{again:#}").contains("another guichet daemon"),
            "{again:#}"
        );

        let shutdown = Shutdown::new();
        let running = tokio::spawn(daemon.run_until(shutdown.clone()));
        // Through tmp/ as an MTA does: the worker never sees a half-written file.
        crate::channels::maildir::Maildir::open(&maildir)
            .await
            .unwrap()
            .deliver(
                "1.eml",
                b"From: Alice <alice@univ-rennes.example>\r\nTo: support-smsu@esup-portail.example\r\n\
                  Subject: Panne\r\nMessage-ID: <1@univ-rennes.example>\r\n\r\nBonjour\r\n",
            )
            .unwrap();
        // Taken in (moved to cur/) and acknowledged (an .eml in the outbox directory).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while files(&maildir.join("cur")) == 0 || files(&outbox) == 0 {
            assert!(tokio::time::Instant::now() < deadline, "nothing happened");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        shutdown.cancel();
        running.await.unwrap().unwrap();
    }
}
