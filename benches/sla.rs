//! The escalator on a large SQLite store (issue 9, Acceptance): `GUICHET_BENCH_TICKETS` open
//! tickets (default 1,000,000), each with a met first-response clock and a running
//! resolution clock whose warning is pending days ahead, then, in the same run:
//!
//! - the start-up recompute of every running clock (the daemon does it at each start, so that
//!   a changed calendar moves the deadlines): its time, and that it moved none;
//! - the delay between a deadline and its event: the real daemon (in process, system clock)
//!   takes in `GUICHET_BENCH_DEADLINES` new tickets (default 200) from its Maildir over 20 s,
//!   each with a 10-second first-response target on a calendar open round the clock, and each
//!   warning and breach records how late it fired (`late_ms`): p50, p99, max;
//! - the CPU the whole daemon uses over `GUICHET_BENCH_IDLE_SECS` (default 60) while nothing
//!   is due, as a share of one core (from /proc/self/stat);
//! - one escalator pass ([`guichet::workers::escalator::pass`]) with nothing due, and one that
//!   fires 50 due warnings, each next to the bare indexed query for due deadlines (the
//!   partial index on `due_at`) on the same data.
//!
//! `cargo bench --bench sla` runs it in release. Under `cargo test` (no `--bench` argument) it
//! is a smoke run: 10,000 tickets, 10 deadlines, 2 idle seconds, the counts checked.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark program: an unexpected error ends the run, loudly"
)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use guichet::app::Daemon;
use guichet::clock::{Clock as _, SystemClock};
use guichet::service::sla;
use guichet::shutdown::Shutdown;
use guichet::workers::escalator;
use sqlx::{Connection as _, SqliteConnection};

const OFFER: &str = "SMSU";
/// The resolution target of every ticket: its warning (75 %) is 22.5 days after its start.
const RESOLUTION_SECS: i64 = 30 * 86_400;
const WARNING_SECS: i64 = RESOLUTION_SECS * 3 / 4;
/// Deadlines fired per transaction by the escalator (service::sla's `FIRE_BATCH`).
const FIRED_PER_PASS: usize = 50;

fn config(data: &Path) -> guichet::config::Config {
    let day = "[\"00:00-24:00\"]";
    let week: String = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .iter()
    .map(|d| format!("{d} = {day}\n"))
    .collect();
    // The daily digest and weekly report are off: they are scheduled jobs, not deadlines, and
    // one falling inside the idle minute would be something due.
    let text = format!(
        "[daemon]\ndata_dir = \"{data}\"\n\
         [calendars.always]\nfrench_holidays = false\n[calendars.always.week]\n{week}\
         [[institutions]]\nkey = \"ul\"\nname = \"UL\"\ndomains = [\"univ-lorraine.example\"]\n\
         [[offers]]\ncode = \"{OFFER}\"\nname = \"SMS\"\nprovider = \"ul\"\ncalendar = \"always\"\n\
         support_addresses = [\"support-smsu@esup-portail.example\"]\n\
         [offers.jobs]\ndaily_digest = \"\"\nweekly_report = \"\"\n\
         [offers.sla]\nwarning_percent = 75\n\
         [[offers.sla.targets]]\nfirst_response = \"10s\"\nresolution = \"720h\"\n",
        data = data.display(),
    );
    guichet::config::load_from_str(&text, &[]).expect("bench config")
}

/// `n` open tickets written straight into the store, in one transaction: created over the
/// ten days before `now`, first response met a minute after, resolution clock running since
/// creation with its warning pending, exactly as the service would have written them (the
/// start-up recompute finds nothing to move: checked).
async fn fill(db: &Path, n: i64, now: DateTime<Utc>) {
    let mut c = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    // The instants are written by SQLite's strftime: check that they read as sqlx writes them.
    let probe = DateTime::from_timestamp(now.timestamp(), 0).unwrap();
    let (by_sqlx, by_sql): (String, String) =
        sqlx::query_as("SELECT $1, strftime('%Y-%m-%dT%H:%M:%S', $2, 'unixepoch') || '+00:00'")
            .bind(probe)
            .bind(probe.timestamp())
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert_eq!(by_sqlx, by_sql, "instants written as sqlx writes them");
    let base = now.timestamp() - 10 * 86_400;
    // Ticket i was created at `base + i * 864 ms`, to the second.
    let at = |offset: &str| {
        format!(
            "strftime('%Y-%m-%dT%H:%M:%S', {base} + (i * 864) / 1000 + {offset}, 'unixepoch') || '+00:00'"
        )
    };
    let seq = format!(
        "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n})"
    );
    let statements = [
        format!(
            "INSERT INTO tickets (tenant_id, id, kind, number, title, status, priority, \
             created_at, updated_at, first_response_at) {seq} \
             SELECT '{OFFER}', i, 'incident', i, 'Panne ' || i, 'in_progress', 'normal', {c}, {c}, {m} FROM seq",
            c = at("0"),
            m = at("60"),
        ),
        format!(
            "INSERT INTO ticket_counters (tenant_id, kind, last_number) VALUES ('{OFFER}', 'incident', {n})"
        ),
        format!(
            "INSERT INTO sla_clocks (tenant_id, ticket_id, target, budget_secs, used_micros, \
             running_since, round, met_at, breached_at) {seq} \
             SELECT '{OFFER}', i, 'first_response', 10, 0, NULL, 0, {m}, NULL FROM seq",
            m = at("60"),
        ),
        format!(
            "INSERT INTO sla_clocks (tenant_id, ticket_id, target, budget_secs, used_micros, \
             running_since, round, met_at, breached_at) {seq} \
             SELECT '{OFFER}', i, 'resolution', {RESOLUTION_SECS}, 0, {c}, 0, NULL, NULL FROM seq",
            c = at("0"),
        ),
        format!(
            "INSERT INTO sla_deadlines (tenant_id, ticket_id, target, round, level, due_at, fired_at) \
             {seq} SELECT '{OFFER}', i, 'resolution', 0, 'warning', {w}, NULL FROM seq",
            w = at(&WARNING_SECS.to_string()),
        ),
    ];
    let mut tx = c.begin().await.unwrap();
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

/// A new ticket's mail, from its own sender.
fn message(i: usize) -> Vec<u8> {
    format!(
        "From: Contact {i} <contact-{i}@univ-lorraine.example>\r\nTo: support-smsu@esup-portail.example\r\n\
         Subject: Panne {i}\r\nMessage-ID: <sla-bench-{i}@univ-lorraine.example>\r\n\
         Date: Mon, 23 Nov 2026 09:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Les SMS ne partent plus.\r\n"
    )
    .into_bytes()
}

/// Delivers a message into the offer's Maildir as an MTA does (tmp, then new).
fn drop_in(maildir: &Path, i: usize) {
    let name = format!("{}.{i}.bench", std::process::id());
    let tmp = maildir.join("tmp").join(&name);
    std::fs::write(&tmp, message(i)).unwrap();
    std::fs::rename(&tmp, maildir.join("new").join(&name)).unwrap();
}

/// The `late_ms` of every warning and breach fired for tickets after `after`.
async fn lateness(c: &mut SqliteConnection, after: i64) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT json_extract(data, '$.late_ms') FROM events WHERE tenant_id = $1 \
         AND ticket_id > $2 AND kind IN ('sla_warned', 'sla_breached')",
    )
    .bind(OFFER)
    .bind(after)
    .fetch_all(c)
    .await
    .unwrap()
}

/// Polls `count` every 50 ms until it reaches `want`, or panics after `deadline`.
async fn until_count(
    c: &mut SqliteConnection,
    after: i64,
    want: usize,
    deadline: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let n = lateness(c, after).await.len();
        if n >= want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < deadline,
            "{n} of {want} deadlines fired after {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The bare indexed query the escalator's claim is: up to a pass's worth of pending
/// deadlines due now, earliest first. Returns its time and how many rows it read.
async fn due_now(c: &mut SqliteConnection) -> (Duration, usize) {
    let now = now();
    let t = Instant::now();
    let rows: Vec<(i64, String, i64, String, String)> = sqlx::query_as(
        "SELECT ticket_id, target, round, level, due_at FROM sla_deadlines \
         WHERE tenant_id = $1 AND fired_at IS NULL AND due_at <= $2 \
         ORDER BY due_at, ticket_id, target LIMIT $3",
    )
    .bind(OFFER)
    .bind(now)
    .bind(FIRED_PER_PASS as i64)
    .fetch_all(c)
    .await
    .unwrap();
    (t.elapsed(), rows.len())
}

/// The system clock, as the daemon reads it.
fn now() -> DateTime<Utc> {
    SystemClock.now()
}

/// CPU time of this whole process (every thread), from /proc/self/stat (in USER_HZ, 100 a
/// second on Linux).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of proc(5); the state, field 3, is fields[0].
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (n, samples, idle) = if full {
        (
            env_or("GUICHET_BENCH_TICKETS", 1_000_000),
            env_or("GUICHET_BENCH_DEADLINES", 200),
            env_or("GUICHET_BENCH_IDLE_SECS", 60),
        )
    } else {
        (10_000, 10, 2)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n as i64, samples, idle as u64));
}

async fn run(n: i64, samples: usize, idle_secs: u64) {
    guichet::app::init_logging(guichet::config::LogFormat::Human, "off", false);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let db = data.join("guichet.db");
    let daemon = Daemon::build_on(config(&data), Arc::new(SystemClock))
        .await
        .unwrap();

    let start = Instant::now();
    fill(&db, n, now()).await;
    let filled = start.elapsed();
    let size = std::fs::metadata(&db).map_or(0, |m| m.len());

    // The recompute a start does, on a context of its own.
    let ctx = guichet::app::context(config(&data)).await.unwrap();
    let offer = ctx.config.offer(OFFER).unwrap().clone();
    let start = Instant::now();
    let moved = sla::recompute(&ctx, &offer).await.unwrap();
    let recompute = start.elapsed();
    assert_eq!(
        moved, 0,
        "the filled deadlines are those the service computes"
    );

    // The daemon, with its Maildir intake.
    let shutdown = Shutdown::new();
    let started = Instant::now();
    let task = tokio::spawn(daemon.run_until(shutdown.clone()));
    let maildir = data.join("maildir").join(OFFER);
    while !maildir.join("new").is_dir() {
        assert!(started.elapsed() < Duration::from_secs(60), "no Maildir");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut watch = SqliteConnection::connect(&format!("sqlite://{}?mode=ro", db.display()))
        .await
        .unwrap();
    // A first ticket: its warning and breach fired tell that the escalator is past its
    // start-up recompute and sleeping on its deadlines.
    drop_in(&maildir, 0);
    let ready = until_count(&mut watch, n, 2, Duration::from_secs(600)).await;
    let probe = n + 1;

    // New tickets over 20 s, two rungs each (the warning at 7.5 s, the breach at 10 s).
    let every = Duration::from_secs(20) / samples as u32;
    for i in 1..=samples {
        drop_in(&maildir, i);
        tokio::time::sleep(every).await;
    }
    until_count(&mut watch, probe, 2 * samples, Duration::from_secs(120)).await;
    let mut late = lateness(&mut watch, probe).await;
    late.sort_unstable();
    assert!(late.iter().all(|&ms| ms >= 0), "nothing fired early");

    // Nothing due now for days: the daemon idles.
    let before = cpu_time();
    let wall = Instant::now();
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let idle_cpu = cpu_time() - before;
    let idle_share = idle_cpu.as_secs_f64() / wall.elapsed().as_secs_f64();

    shutdown.cancel();
    task.await.unwrap().unwrap();

    // One pass with nothing due, next to the bare query the escalator's claim is.
    let mut bare = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let rounds = 200;
    let (mut pass_idle, mut bare_idle) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        let pass = escalator::pass(&ctx, now()).await.unwrap();
        pass_idle.push(t.elapsed());
        assert_eq!(pass.fired, 0);
        let (d, rows) = due_now(&mut bare).await;
        assert_eq!(rows, 0);
        bare_idle.push(d);
    }

    // Passes that fire: 50 tickets' resolution clocks moved back so that their warning is
    // due, then the bare query reads them, then a pass fires them.
    let (mut pass_firing, mut bare_firing) = (Vec::new(), Vec::new());
    for round in 0..10i64 {
        let started_at = now() - TimeDelta::seconds(WARNING_SECS + 60);
        let due = started_at + TimeDelta::seconds(WARNING_SECS);
        let (first, last) = (round * 50 + 1, round * 50 + 50);
        let mut tx = bare.begin().await.unwrap();
        sqlx::query(
            "UPDATE sla_clocks SET running_since = $1 WHERE tenant_id = $2 \
             AND target = 'resolution' AND ticket_id BETWEEN $3 AND $4",
        )
        .bind(started_at)
        .bind(OFFER)
        .bind(first)
        .bind(last)
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "UPDATE sla_deadlines SET due_at = $1 WHERE tenant_id = $2 \
             AND target = 'resolution' AND fired_at IS NULL AND ticket_id BETWEEN $3 AND $4",
        )
        .bind(due)
        .bind(OFFER)
        .bind(first)
        .bind(last)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let (d, rows) = due_now(&mut bare).await;
        assert_eq!(rows, FIRED_PER_PASS);
        bare_firing.push(d);
        let t = Instant::now();
        let pass = escalator::pass(&ctx, now()).await.unwrap();
        pass_firing.push(t.elapsed());
        assert_eq!(pass.fired, FIRED_PER_PASS);
        let (_, rows) = due_now(&mut bare).await;
        assert_eq!(rows, 0, "the pass fired every due warning");
    }
    let warned: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM events WHERE tenant_id = $1 AND kind = 'sla_warned' AND ticket_id <= $2",
    )
    .bind(OFFER)
    .bind(n)
    .fetch_one(&mut bare)
    .await
    .unwrap();
    assert_eq!(warned, 500, "each due warning fired once");

    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    println!(
        "Escalator, {n} open tickets in SQLite (WAL, synchronous=FULL), {cores} cores; \
         store filled in {filled:.1?} ({:.0} MiB)",
        size as f64 / 1_048_576.0
    );
    println!(
        "start-up recompute of {n} running clocks: {recompute:.2?} (moved {moved}); \
         first rungs fired {ready:.1?} after the daemon's start"
    );
    println!(
        "deadline -> event, {} rungs of {samples} tickets: p50 {} ms, p99 {} ms, max {} ms (goal p99 < 1000 ms)",
        late.len(),
        percentile(&late, 0.5),
        percentile(&late, 0.99),
        late.last().copied().unwrap_or(0),
    );
    println!(
        "CPU while nothing is due: {idle_cpu:.2?} over {idle_secs} s = {:.3} % of one core (goal < 1 %)",
        100.0 * idle_share
    );
    let (pi, bi) = (median(pass_idle), median(bare_idle));
    let (pf, bf) = (median(pass_firing), median(bare_firing));
    println!(
        "escalator pass, nothing due (median of {rounds}): {:.0} µs; bare indexed query: {:.0} µs ({:.1}x)",
        us(pi),
        us(bi),
        pi.as_secs_f64() / bi.as_secs_f64()
    );
    println!(
        "escalator pass firing {FIRED_PER_PASS} warnings (median of 10): {:.0} µs ({:.0} µs a deadline); \
         bare indexed query reading them: {:.0} µs",
        us(pf),
        us(pf) / FIRED_PER_PASS as f64,
        us(bf)
    );
}
