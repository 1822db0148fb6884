//! An in-process guichet for behaviour tests: the real services on a fresh store (SQLite in a
//! temporary directory, or a new PostgreSQL database), a manual clock, and helpers to take
//! mail in, run the outbox and read tickets back. No binary, no stderr wording: tests assert
//! on values. (Model: zero-to-production's `spawn_app`.)
#![allow(
    dead_code,
    reason = "each test crate uses a different part of the harness"
)]

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use guichet::channels::outbound::FileSender;
use guichet::clock::ManualClock;
use guichet::config::OfferConfig;
use guichet::notify::Notifier;
use guichet::service::deliver::{self, DeliverError, Delivered};
use guichet::service::ingest::{self, IngestOutcome};
use guichet::service::operator::{self, TicketView};
use guichet::service::outbox::{PassReport, Transport, send_due};
use guichet::service::{Context, sync};
use guichet::store::{OutboxRow, QuarantineRow, Store, TicketRow};

pub const SMSU: &str = "support-smsu@esup-portail.example";
pub const GEFORP: &str = "support-geforp@esup-portail.example";
/// A contact configured in univ-lorraine (known before any mail).
pub const COLLEAGUE: &str = "marie.colleague@univ-lorraine.example";
pub const AGENT: &str = "paul.agent@univ-rennes.example";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct App {
    pub ctx: Context,
    pub clock: Arc<ManualClock>,
    pub outbox_dir: PathBuf,
    _dir: tempfile::TempDir,
}

fn config_text(data: &std::path::Path, storage: &str) -> String {
    format!(
        r#"
[daemon]
data_dir = "{data}"

{storage}

[[institutions]]
key = "univ-rennes"
name = "Université de Rennes"
domains = ["univ-rennes.example"]

[[institutions]]
key = "univ-lorraine"
name = "Université de Lorraine"
domains = ["univ-lorraine.example"]

[[offers]]
code = "SMSU"
name = "SMS Universitaire"
provider = "univ-rennes"
support_addresses = ["{SMSU}"]

[[offers]]
code = "GEFORP"
name = "Catalogue de formation"
provider = "univ-rennes"
support_addresses = ["{GEFORP}"]

[[contacts]]
name = "Paul Agent"
emails = ["{AGENT}"]
institution = "univ-rennes"
roles = {{ SMSU = ["agent"], GEFORP = ["agent"] }}

[[contacts]]
name = "Marie Colleague"
emails = ["{COLLEAGUE}"]
institution = "univ-lorraine"
"#,
        data = data.display()
    )
}

/// A new, empty database on the test PostgreSQL (`GUICHET_TEST_PG_URL`, set by tests/run.sh).
async fn fresh_pg_database() -> String {
    use sqlx::Connection;
    let url = std::env::var("GUICHET_TEST_PG_URL").unwrap_or_else(|_| {
        panic!("GUICHET_TEST_PG_URL is not set: run the suite with tests/run.sh")
    });
    let name = format!("guichet_h_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .expect("connect postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create database");
    let (base, _) = url.rsplit_once('/').expect("database url");
    format!("{base}/{name}")
}

impl App {
    pub async fn new(backend: Backend) -> App {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let storage = match backend {
            Backend::Sqlite => String::new(),
            Backend::Postgres => format!("[storage]\ndsn = \"{}\"", fresh_pg_database().await),
        };
        let config = guichet::config::load_from_str(&config_text(&data, &storage), &[])
            .unwrap_or_else(|e| panic!("test configuration: {e:?}"));
        let outbox_dir = config.mail.outbox_dir.clone();
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
            ctx,
            clock,
            outbox_dir,
            _dir: dir,
        }
    }

    pub fn offer(&self, code: &str) -> &OfferConfig {
        self.ctx.config.offer(code).expect("configured offer")
    }

    /// As the MTA pipe does without `--offer`: routed on the recipients.
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

    pub async fn quarantine(&self, code: &str) -> Vec<QuarantineRow> {
        operator::list_quarantine(&self.ctx, self.offer(code))
            .await
            .expect("list quarantine")
    }

    /// One pass of the outbox worker for `code`, writing `.eml` files in `outbox_dir`.
    pub async fn send_outbox(&self, code: &str) -> PassReport {
        self.send_outbox_as(&self.ctx, code).await
    }

    /// [`App::send_outbox`] as `ctx` (the daemon's context, say).
    pub async fn send_outbox_as(&self, ctx: &Context, code: &str) -> PassReport {
        let notifier = Notifier::new(None).expect("templates");
        let transport = Transport {
            files: FileSender::new(&self.outbox_dir),
        };
        send_due(ctx, &notifier, &transport, self.offer(code))
            .await
            .expect("outbox pass")
    }
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

/// A plain message; `headers` go before the MIME headers, each line ending in CRLF.
pub fn mail(from: &str, to: &str, subject: &str, message_id: &str, headers: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
         Date: Mon, 23 Nov 2026 09:00:00 +0100\r\n{headers}MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour,\r\nça ne marche pas.\r\n"
    )
    .into_bytes()
}

/// Runs each named `async fn(App)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::harness::App::new(super::harness::Backend::Sqlite).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::harness::App::new(super::harness::Backend::Postgres).await).await;
                }
            )*
        }
    };
}
