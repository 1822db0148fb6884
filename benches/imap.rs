//! IMAP intake throughput and latency against a real Dovecot (tests/common/dovecot.rs), next
//! to baselines measured in the same run on the same messages (issue 7, Acceptance):
//!
//! - (a) a plain async-imap client fetching every message (`UID FETCH` in batches of 100);
//! - (b) the same fetch, each message parsed by guichet's parser, and its bytes inserted into
//!   a bare SQLite table, one transaction per fetched batch, same pragmas as the store (WAL,
//!   `synchronous = FULL`);
//! - (c) guichet's own ingestor (the daemon, in process) draining the folder into SQLite,
//!   timed from its start to the last UID acknowledged; like `guichet run`, it keeps the
//!   process's threads on one CPU first (`guichet::affinity`);
//! - (d) time to ticket under IDLE: messages appended one at a time while the ingestor IDLEs,
//!   from APPEND to the ticket committed, next to Dovecot's own IDLE wake-up (a second client
//!   IDLEs on the folder and times APPEND -> `* n EXISTS`).
//!
//! `cargo bench --bench imap` runs it in release on `GUICHET_BENCH_MESSAGES` messages
//! (default 50,000) and `GUICHET_BENCH_IDLE` appends (default 200). Under `cargo test` (no
//! `--bench` argument) it is a smoke run: 200 messages, 10 appends, the figures printed and
//! the counts checked. The folder is filled by writing a Maildir straight into Dovecot's
//! mail location (the fastest way in), owned by Dovecot's mail user, before the first SELECT.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark program: an unexpected error ends the run, loudly"
)]

#[path = "../tests/common/dovecot.rs"]
#[allow(dead_code, reason = "the bench uses part of the test fixture")]
mod dovecot;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{MailboxDatum, Response};
use dovecot::{DOMAIN, Dovecot, PASSWORD};
use futures_util::TryStreamExt as _;
use guichet::app::Daemon;
use guichet::clock::SystemClock;
use guichet::shutdown::Shutdown;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection as _, SqliteConnection, SqlitePool};
use tokio::net::TcpStream;

const USER: &str = "support-smsu";
const MAILBOX: &str = "bench";
/// The ingestor's default `batch` (config::defaults::IMAP_BATCH): the baselines fetch alike.
const BATCH: usize = 100;

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

/// Half new tickets, half replies threading into the message before them.
fn backlog_message(i: usize) -> Vec<u8> {
    message(i, (i % 2 == 1).then(|| i - 1))
}

/// Writes `n` messages into the user's INBOX as Maildir files, owned by Dovecot's mail user.
fn fill(dovecot: &Dovecot, n: usize) {
    let maildir = dovecot.state.join(format!("mail/{DOMAIN}/{USER}/Maildir"));
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    for i in 0..n {
        // Maildir's unique name; `:2,` = no flags yet, so Dovecot need not rename it.
        let name = format!("{}.M{i}P1.bench:2,", 1_700_000_000 + i);
        std::fs::write(maildir.join("cur").join(name), backlog_message(i)).unwrap();
    }
    // Running as root, the mail belongs to Dovecot's `vmail` (tests/env/start-dovecot.sh).
    if is_root() {
        let home = dovecot.state.join("mail");
        let status = std::process::Command::new("chown")
            .args(["-R", "vmail:vmail"])
            .arg(&home)
            .status()
            .unwrap();
        assert!(status.success(), "chown the Maildir");
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

async fn login(dovecot: &Dovecot) -> async_imap::Session<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", dovecot.imap_port))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap();
    client
        .login(format!("{USER}@{DOMAIN}"), PASSWORD)
        .await
        .map_err(|(e, _)| e)
        .unwrap()
}

/// Fetches every message of INBOX in batches of [`BATCH`] UIDs, handing each batch's bodies
/// to `each`; returns the number of messages.
async fn fetch_all(dovecot: &Dovecot, mut each: impl AsyncFnMut(Vec<Vec<u8>>)) -> usize {
    let mut s = login(dovecot).await;
    s.examine("INBOX").await.unwrap();
    let uids: Vec<u32> = {
        let mut u: Vec<u32> = s.uid_search("ALL").await.unwrap().into_iter().collect();
        u.sort_unstable();
        u
    };
    for chunk in uids.chunks(BATCH) {
        let set = format!("{}:{}", chunk[0], chunk[chunk.len() - 1]);
        let fetches: Vec<_> = s
            .uid_fetch(&set, "(UID BODY.PEEK[])")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let bodies = fetches
            .iter()
            .filter_map(|f| f.body().map(<[u8]>::to_vec))
            .collect();
        each(bodies).await;
    }
    let _ = s.logout().await;
    uids.len()
}

async fn sqlite_pool(path: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap()
}

/// Baseline 2: fetch, parse on the blocking pool, bare insert, one commit per batch.
async fn fetch_parse_insert(dovecot: &Dovecot, dir: &Path) -> usize {
    let pool = sqlite_pool(&dir.join("bare.db")).await;
    sqlx::query(
        "CREATE TABLE bare (id INTEGER PRIMARY KEY, message_id TEXT, subject TEXT, data BLOB NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let n = fetch_all(dovecot, async |bodies| {
        let parsed = tokio::task::spawn_blocking(move || {
            bodies
                .into_iter()
                .map(|raw| {
                    let email = guichet::channels::mail::parse(&raw).unwrap();
                    (email.message_id.as_str().to_owned(), email.subject, raw)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        for (id, subject, raw) in &parsed {
            sqlx::query("INSERT INTO bare (message_id, subject, data) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(subject)
                .bind(raw)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    })
    .await;
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bare")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored as usize, n, "baseline 2 stored every message");
    n
}

/// guichet's daemon on a data directory of its own, reading the INBOX.
struct Guichet {
    db: PathBuf,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Guichet {
    async fn start(dovecot: &Dovecot, data: &Path) -> Guichet {
        let text = format!(
            "[daemon]\ndata_dir = \"{data}\"\n\
             [[institutions]]\nkey = \"ul\"\nname = \"UL\"\ndomains = [\"univ-lorraine.example\"]\n\
             [[offers]]\ncode = \"SMSU\"\nname = \"SMS\"\nprovider = \"ul\"\n\
             support_addresses = [\"support-smsu@esup-portail.example\"]\n{mailbox}",
            data = data.display(),
            mailbox = dovecot.mailbox_toml(USER, &format!("name = \"{MAILBOX}\"")),
        );
        let config = guichet::config::load_from_str(&text, &[]).expect("bench config");
        // As `guichet run` does before it builds the daemon: on SQLite, the process's threads
        // on one CPU from here on, the parser's aside (the baselines ran before, free).
        guichet::app::keep_to_one_cpu(&config);
        let daemon = Daemon::build_on(config, Arc::new(SystemClock))
            .await
            .unwrap();
        let shutdown = Shutdown::new();
        let task = tokio::spawn(daemon.run_until(shutdown.clone()));
        Guichet {
            db: data.join("guichet.db"),
            shutdown,
            task,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// A read-only look at the mailbox's row (a deferred read: WAL lets it run beside the
/// ingestor's writes without taking the write lock).
struct Watch(SqliteConnection);

impl Watch {
    async fn open(db: &Path) -> Watch {
        let url = format!("sqlite://{}?mode=ro", db.display());
        Watch(SqliteConnection::connect(&url).await.unwrap())
    }

    /// `(last_uid, acked_uid, ingested)`, zeros before the first connection.
    async fn state(&mut self) -> (i64, i64, i64) {
        sqlx::query_as("SELECT last_uid, acked_uid, ingested FROM mailbox_state WHERE mailbox = $1")
            .bind(MAILBOX)
            .fetch_optional(&mut self.0)
            .await
            .ok()
            .flatten()
            .unwrap_or((0, 0, 0))
    }

    /// Polls every `every` until `done` holds, or panics after `deadline`.
    async fn until(
        &mut self,
        (every, deadline): (Duration, Duration),
        done: impl Fn((i64, i64, i64)) -> bool,
    ) -> Instant {
        let start = Instant::now();
        loop {
            if done(self.state().await) {
                return Instant::now();
            }
            assert!(start.elapsed() < deadline, "timed out waiting for guichet");
            tokio::time::sleep(every).await;
        }
    }
}

/// A second client IDLEs on INBOX and sends the instant of each `* n EXISTS`.
fn observe_idle(
    session: async_imap::Session<TcpStream>,
) -> (
    tokio::sync::mpsc::UnboundedReceiver<Instant>,
    tokio::task::JoinHandle<String>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut session = session;
        session.select("INBOX").await.unwrap();
        let mut handle = session.idle();
        handle.init().await.unwrap();
        loop {
            let (answer, _stop) = handle.wait();
            match answer.await {
                Ok(IdleResponse::NewData(data)) => {
                    if let Response::MailboxData(MailboxDatum::Exists(_)) = data.parsed() {
                        let _ = tx.send(Instant::now());
                    }
                }
                Ok(IdleResponse::Timeout) => {}
                Ok(IdleResponse::ManualInterrupt) => return "idle interrupted".to_owned(),
                Err(e) => return format!("idle: {e}"),
            }
        }
    });
    (rx, task)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// (d) polls the database every millisecond (the figure is in milliseconds), for 30 s at most.
const POLL_IDLE: (Duration, Duration) = (Duration::from_millis(1), Duration::from_secs(30));

/// How long the mailbox stays untouched before each append of (d): longer than Dovecot's
/// change-notification delay (500 ms, `NOTIFY_DELAY_MSECS` in its mailbox watch).
const QUIET: Duration = Duration::from_millis(700);

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` / `--all-targets` runs this without
    // it: then a short run checks that the benchmark still works.
    let full = std::env::args().any(|a| a == "--bench");
    let (n, appends) = if full {
        (
            env_or("GUICHET_BENCH_MESSAGES", 50_000),
            env_or("GUICHET_BENCH_IDLE", 200),
        )
    } else {
        (200, 10)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n, appends));
}

async fn run(n: usize, appends: usize) {
    // Silent unless GUICHET_LOG asks (`GUICHET_LOG=sqlx::query=debug` counts statements).
    guichet::app::init_logging(guichet::config::LogFormat::Human, "off", false);
    let dovecot = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let filled = Instant::now();
    fill(&dovecot, n);
    // Dovecot indexes the new Maildir at the first SELECT: not part of any figure.
    let mut s = login(&dovecot).await;
    let exists = s.select("INBOX").await.unwrap().exists;
    let _ = s.logout().await;
    assert_eq!(exists as usize, n, "Dovecot sees every message");
    let filled = filled.elapsed();

    let start = Instant::now();
    let fetched = fetch_all(&dovecot, async |_| {}).await;
    let raw_fetch = start.elapsed();
    assert_eq!(fetched, n);

    let start = Instant::now();
    let stored = fetch_parse_insert(&dovecot, dir.path()).await;
    let bare = start.elapsed();
    assert_eq!(stored, n);

    let start = Instant::now();
    let g = Guichet::start(&dovecot, &dir.path().join("data")).await;
    let mut watch = loop {
        // The daemon creates the database as it starts.
        if g.db.exists() {
            break Watch::open(&g.db).await;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    // Every 20 ms (an error of 0.1 % over a drain of 20 s): polling each millisecond would
    // take from the ingestor a share of the two cores it is measured on.
    let every = Duration::from_millis(20);
    watch
        .until((every, Duration::from_secs(3600)), |(_, acked, _)| {
            acked as usize >= n
        })
        .await;
    let ingestor = start.elapsed();
    let (_, _, ingested) = watch.state().await;
    assert_eq!(ingested as usize, n, "guichet took every message in once");

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let (a, b, c) = (rate(raw_fetch), rate(bare), rate(ingestor));
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    println!(
        "IMAP intake, {n} messages (half new tickets, half replies), Dovecot on loopback, SQLite WAL synchronous=FULL, {cores} cores"
    );
    println!("(Maildir written and indexed by Dovecot in {filled:.1?}, not counted)");
    println!("{:<52} {:>10} {:>12}", "", "msg/s", "seconds");
    println!(
        "{:<52} {a:>10.0} {:>12.2}",
        "(a) plain IMAP fetch",
        raw_fetch.as_secs_f64()
    );
    println!(
        "{:<52} {b:>10.0} {:>12.2}",
        "(b) fetch + parse + bare insert (commit/100)",
        bare.as_secs_f64()
    );
    println!(
        "{:<52} {c:>10.0} {:>12.2}",
        "(c) guichet ingestor (drain, acknowledged)",
        ingestor.as_secs_f64()
    );
    println!(
        "    (c)/(a) = {:.0} %   (c)/(b) = {:.0} %",
        100.0 * c / a,
        100.0 * c / b
    );
    // (d) Time to ticket under IDLE, one message at a time.
    let (mut exists_at, observer) = observe_idle(login(&dovecot).await);
    let mut appender = login(&dovecot).await;
    // Both IDLE sessions settle (the ingestor went back to IDLE after its drain).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut to_ticket, mut to_exists) = (Vec::new(), Vec::new());
    for k in 0..appends {
        let raw = message(n + k, None);
        let appended = Instant::now();
        appender.append("INBOX", None, None, &raw).await.unwrap();
        let target = (n + k + 1) as i64;
        let committed = watch.until(POLL_IDLE, |(last, _, _)| last >= target).await;
        to_ticket.push(committed - appended);
        let woke = tokio::time::timeout(Duration::from_secs(30), exists_at.recv())
            .await
            .expect("Dovecot's IDLE wake-up");
        let Some(woke) = woke else {
            panic!("the IDLE observer stopped: {}", observer.await.unwrap());
        };
        to_exists.push(woke.saturating_duration_since(appended));
        // Let the ingestor acknowledge and go back to IDLE before the next one, then let the
        // mailbox be quiet: Dovecot tells an IDLE session of a change only once a delay
        // (500 ms) after the first change it noticed, and our flag update is such a change.
        // Appended sooner, the observer's delay would already be running when the message
        // arrives, and its wake-up would look faster than Dovecot's own.
        watch
            .until(POLL_IDLE, |(_, acked, _)| acked >= target)
            .await;
        tokio::time::sleep(QUIET).await;
    }
    observer.abort();
    let _ = appender.logout().await;
    g.stop().await;

    to_ticket.sort();
    to_exists.sort();
    let (tp50, tp99) = (percentile(&to_ticket, 0.5), percentile(&to_ticket, 0.99));
    let (ep50, ep99) = (percentile(&to_exists, 0.5), percentile(&to_exists, 0.99));
    println!("time to ticket under IDLE, {appends} appends one at a time:");
    println!("{:<52} {:>10} {:>12}", "", "p50 ms", "p99 ms");
    println!(
        "{:<52} {:>10.1} {:>12.1}",
        "Dovecot IDLE wake-up (APPEND -> EXISTS)",
        ms(ep50),
        ms(ep99)
    );
    println!(
        "{:<52} {:>10.1} {:>12.1}",
        "guichet (APPEND -> ticket committed)",
        ms(tp50),
        ms(tp99)
    );
    println!(
        "    p50 ratio = {:.2}x",
        tp50.as_secs_f64() / ep50.as_secs_f64().max(1e-6)
    );
    assert!(a > 0.0 && b > 0.0 && c > 0.0, "the figures are measured");
}
