//! Ingest throughput on the embedded default (SQLite, WAL), next to its baseline measured in
//! the same run: a bare SQLite insert of the same raw bytes, one transaction per message, same
//! pragmas. The ratio is the figure to read; these machines are shared and noisy.
//!
//! `cargo bench --bench ingest` (optionally `-- N` messages, default 2000).
//! Figures go to stdout; run it on an otherwise idle machine and read the ratio.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark program: an unexpected error ends the run, loudly"
)]

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use guichet::clock::SystemClock;
use guichet::domain::Channel;
use guichet::service::Context;
use guichet::service::ingest::ingest;
use guichet::store::Store;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

fn message(n: usize, thread_of: Option<usize>) -> Vec<u8> {
    let reply = thread_of
        .map(|t| format!("In-Reply-To: <bench-{t}@univ-lorraine.example>\r\n"))
        .unwrap_or_default();
    let body = "Bonjour, les SMS de rappel ne partent plus depuis ce matin. ".repeat(20);
    format!(
        "From: Jeanne Durand <jeanne.durand@univ-lorraine.example>\r\nTo: support-smsu@esup-portail.example\r\n\
         Subject: Panne numero {n}\r\nMessage-ID: <bench-{n}@univ-lorraine.example>\r\n{reply}\
         Date: Mon, 23 Nov 2026 09:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

async fn bare_sqlite(dir: &std::path::Path, messages: &[Vec<u8>]) -> Duration {
    let options = SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(dir.join("bare.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE bare (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let start = Instant::now();
    for m in messages {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        sqlx::query("INSERT INTO bare (data) VALUES ($1)")
            .bind(m)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    start.elapsed()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this too, without it: then a
    // short run checks that the benchmark still works.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let default = if args.iter().any(|a| a == "--bench") {
        2000
    } else {
        50
    };
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(default);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        // Half new tickets, half replies threading into them by In-Reply-To.
        let messages: Vec<Vec<u8>> =
            (0..n).map(|i| message(i, (i % 2 == 1).then(|| i - 1))).collect();

        let bare = bare_sqlite(dir.path(), &messages).await;

        let text = format!(
            "[daemon]\ndata_dir = \"{}\"\n[[institutions]]\nkey = \"ul\"\nname = \"UL\"\ndomains = [\"univ-lorraine.example\"]\n\
             [[offers]]\ncode = \"SMSU\"\nname = \"SMS\"\nprovider = \"ul\"\nsupport_addresses = [\"support-smsu@esup-portail.example\"]\n",
            dir.path().join("data").display()
        );
        let config = guichet::config::load_from_str(&text, &[]).expect("bench config");
        let store = Store::connect(&guichet::app::store_options(&config)).await.unwrap();
        store.migrate().await.unwrap();
        let ctx = Context::new(store, Arc::new(config), Arc::new(SystemClock));
        guichet::service::sync::sync_all(&ctx).await.unwrap();
        let offer = ctx.config.offers[0].clone();
        let start = Instant::now();
        for m in &messages {
            ingest(&ctx, &offer, Channel::Pipe, m).await.unwrap();
        }
        let full = start.elapsed();
        let dup_start = Instant::now();
        for m in messages.iter().take(n / 4) {
            ingest(&ctx, &offer, Channel::Pipe, m).await.unwrap();
        }
        let dup = dup_start.elapsed();

        let rate = |count: usize, d: Duration| count as f64 / d.as_secs_f64();
        println!("messages: {n} (half new tickets, half replies), SQLite WAL, one transaction each");
        println!("baseline  bare INSERT of the raw bytes   {:>8.0} msg/s", rate(n, bare));
        println!("guichet   full ingest (parse..commit)    {:>8.0} msg/s   {:.2}x the baseline's time", rate(n, full), full.as_secs_f64() / bare.as_secs_f64());
        println!("guichet   duplicate re-delivery          {:>8.0} msg/s", rate(n / 4, dup));
    });
}
