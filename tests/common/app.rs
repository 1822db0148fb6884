//! The in-process guichet: the real services on a fresh store (SQLite in a temporary
//! directory, or a new PostgreSQL database), a manual clock, and helpers to take mail in,
//! move the clock, run the outbox and read tickets back. No binary and no stderr wording:
//! tests assert on outcomes, rows and outbox contents. The configuration is the one the
//! binary tests run with ([`super::config_text`]).

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use guichet::channels::outbound::FileSender;
use guichet::clock::ManualClock;
use guichet::config::OfferConfig;
use guichet::domain::{QuarantineId, Status, TicketRef};
use guichet::notify::Notifier;
use guichet::service::deliver::{self, DeliverError, Delivered};
use guichet::service::ingest::{self, IngestOutcome};
use guichet::service::operator::{self, Operator, TicketView};
use guichet::service::outbox::{PassReport, send_due};
use guichet::service::{Context, ServiceError, sync};
use guichet::store::{OutboxRow, QuarantineRow, Store, TicketRow};

use super::{Setup, config_text, create_pg_database};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct App {
    pub ctx: Context,
    pub clock: Arc<ManualClock>,
    pub outbox_dir: PathBuf,
    setup: Setup,
    dir: tempfile::TempDir,
}

impl App {
    /// The test configuration as it is ([`Setup::default`]) on `backend`.
    pub async fn new(backend: Backend) -> App {
        App::with(backend, Setup::default()).await
    }

    /// The test configuration changed by `setup` (its `storage` is the backend's).
    pub async fn with(backend: Backend, mut setup: Setup) -> App {
        let dir = tempfile::tempdir().expect("tempdir");
        setup.storage = match backend {
            Backend::Sqlite => String::new(),
            Backend::Postgres => format!("[storage]\ndsn = \"{}\"", create_pg_database().await),
        };
        let config = load(&dir, &setup);
        let store = Store::connect(&guichet::app::store_options(&config))
            .await
            .expect("open store");
        store.migrate().await.expect("migrate");
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        ));
        let ctx = Context::new(store, Arc::new(config), clock.clone());
        sync::sync_all(&ctx).await.expect("sync configuration");
        App {
            outbox_dir: ctx.config.mail.outbox_dir.clone(),
            ctx,
            clock,
            setup,
            dir,
        }
    }

    /// Restarts on the same store and clock with the configuration changed by `change` (a
    /// raised size limit, another unknown-sender policy), as an operator editing the file.
    pub async fn reconfigure(&mut self, change: impl FnOnce(&mut Setup)) {
        change(&mut self.setup);
        let config = load(&self.dir, &self.setup);
        self.ctx = Context::new(self.ctx.store.clone(), Arc::new(config), self.clock.clone());
        sync::sync_all(&self.ctx).await.expect("sync configuration");
    }

    /// Moves the manual clock on.
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }

    pub fn offer(&self, code: &str) -> &OfferConfig {
        self.ctx.config.offer(code).expect("configured offer")
    }

    /// As the MTA pipe does without `--offer` or `--recipient`: routed on the headers.
    pub async fn deliver(&self, raw: &[u8]) -> Result<Delivered, DeliverError> {
        deliver::deliver(&self.ctx, deliver::Route::Headers, raw).await
    }

    /// Takes `raw` in for one offer, through the Maildir channel's use case.
    pub async fn ingest(&self, code: &str, raw: &[u8]) -> IngestOutcome {
        ingest::ingest(
            &self.ctx,
            self.offer(code),
            guichet::domain::Channel::Maildir,
            raw,
        )
        .await
        .expect("ingest")
    }

    pub async fn tickets(&self, code: &str) -> Vec<TicketRow> {
        operator::list_tickets(&self.ctx, self.offer(code), None)
            .await
            .expect("list tickets")
    }

    pub async fn show(&self, code: &str, reference: &str) -> TicketView {
        operator::show(&self.ctx, self.offer(code), reference)
            .await
            .expect("show ticket")
    }

    /// Every queued mail of the offer, sent or not.
    pub async fn outbox(&self, code: &str) -> Vec<OutboxRow> {
        let mut tx = self.ctx.store.begin(&self.offer(code).code).await.unwrap();
        let rows = tx.list_outbox(None).await.unwrap();
        tx.rollback().await.unwrap();
        rows
    }

    /// The acknowledgements the offer queued (`ticket_created` rows), oldest first: what
    /// tests of taking mail in count, apart from the notices to agents (`tests/notices.rs`).
    pub async fn acks(&self, code: &str) -> Vec<OutboxRow> {
        let mut rows = self.outbox(code).await;
        rows.retain(|r| r.template == "ticket_created");
        rows
    }

    pub async fn quarantine(&self, code: &str) -> Vec<QuarantineRow> {
        operator::list_quarantine(&self.ctx, self.offer(code))
            .await
            .expect("list quarantine")
    }

    /// The bytes a quarantine entry keeps.
    pub async fn quarantined_message(&self, code: &str, id: QuarantineId) -> Vec<u8> {
        operator::quarantined_message(&self.ctx, self.offer(code), id)
            .await
            .expect("quarantined message")
    }

    /// `guichet quarantine replay`.
    pub async fn replay(&self, code: &str, id: QuarantineId) -> IngestOutcome {
        operator::replay_quarantine(&self.ctx, self.offer(code), id)
            .await
            .expect("replay")
    }

    /// `guichet ticket status` by operator `paul`.
    pub async fn set_status(
        &self,
        code: &str,
        reference: &str,
        to: Status,
    ) -> Result<TicketRef, ServiceError> {
        operator::set_status(&self.ctx, self.offer(code), reference, &operator(), to).await
    }

    /// One pass of the outbox worker for `code`, writing `.eml` files in `outbox_dir`.
    pub async fn send_outbox(&self, code: &str) -> PassReport {
        self.send_outbox_as(&self.ctx, code).await
    }

    /// [`App::send_outbox`] as `ctx` (the daemon's context, say).
    pub async fn send_outbox_as(&self, ctx: &Context, code: &str) -> PassReport {
        let sender = FileSender::new(&self.outbox_dir);
        self.send_outbox_with(ctx, &sender, code).await
    }

    /// One outbox pass through `sender` (the one `mail.transport` names: see
    /// [`guichet::app::sender`]).
    pub async fn send_outbox_with(
        &self,
        ctx: &Context,
        sender: &dyn guichet::channels::Sender,
        code: &str,
    ) -> PassReport {
        let notifier = Notifier::new(None).expect("templates");
        send_due(ctx, &notifier, sender, self.offer(code))
            .await
            .expect("outbox pass")
    }

    /// The `.eml` files the outbox wrote, by name (their Message-IDs).
    pub fn sent_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.outbox_dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }
}

/// The operator the helpers act as (`--as paul`).
pub fn operator() -> Operator {
    Operator("paul".into())
}

fn load(dir: &tempfile::TempDir, setup: &Setup) -> guichet::config::Config {
    let text = config_text(&dir.path().join("data"), setup);
    guichet::config::load_from_str(&text, &[])
        .unwrap_or_else(|e| panic!("test configuration: {e:?}"))
}

/// The addresses of an outbox row's recipients.
pub fn recipients(row: &OutboxRow) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(&row.recipients).expect("recipients json");
    v.as_array()
        .expect("array")
        .iter()
        .map(|m| m["address"].as_str().expect("address").to_owned())
        .collect()
}

/// Runs each named `async fn(App)` once on SQLite and once on PostgreSQL (in modules `sqlite`
/// and `postgres`), each on a fresh store with the default [`Setup`], or with the one the
/// test file's `fn NAME() -> Setup` gives (`on_both_backends!(setup = NAME; case, ...)`).
#[macro_export]
macro_rules! on_both_backends {
    (setup = $setup:ident; $($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let app = $crate::common::app::App::with(
                        $crate::common::app::Backend::Sqlite,
                        super::$setup(),
                    );
                    super::$case(app.await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let app = $crate::common::app::App::with(
                        $crate::common::app::Backend::Postgres,
                        super::$setup(),
                    );
                    super::$case(app.await).await;
                }
            )*
        }
    };
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::common::app::App::new($crate::common::app::Backend::Sqlite).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::common::app::App::new($crate::common::app::Backend::Postgres).await).await;
                }
            )*
        }
    };
}

/// The reference of the ticket `outcome` opened; panics on any other outcome.
pub fn created(outcome: &IngestOutcome) -> String {
    match outcome {
        IngestOutcome::Created { ticket, .. } => ticket.to_string(),
        other => panic!("expected a new ticket, got {other:?}"),
    }
}
