//! A PostgreSQL outage in the middle of a delivery is a reason to retry, never to quarantine:
//! `guichet deliver` exits 75 (EX_TEMPFAIL) so the MTA keeps the message, and the redelivery
//! after the outage stores it exactly once.
//!
//! Each test runs its own throwaway cluster (tests/env/start-postgres.sh on a free port), since
//! it restarts or disturbs it: the suite's shared server must not feel it. The test holds an
//! exclusive lock on `ticket_counters`, so the delivery waits inside its transaction (after
//! its receipt lookup and raw message insert, before numbering the ticket); it finds the
//! delivery's backend in `pg_stat_activity` (application_name `guichet`, waiting on a lock),
//! then cuts it off.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{SMSU_ADDRESS, TestEnv, mail};
use sqlx::{Connection, PgConnection};

const EX_TEMPFAIL: i32 = 75;
const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// A cluster of our own; stopped (by its pid file) when dropped, even when the test fails.
struct Cluster {
    _dir: tempfile::TempDir,
    state: PathBuf,
    port: u16,
    /// The application role's URL (not superuser: row-level security applies).
    url: String,
    /// The superuser, on the same database.
    admin_url: String,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        // The server runs as the postgres user, which must traverse the state directory.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod state dir");
        let state = dir.path().join("pg");
        for _ in 0..5 {
            let port = free_port();
            let status = script("start-postgres.sh", &state, port);
            match status.code() {
                Some(0) => {
                    let env = std::fs::read_to_string(state.join("env")).expect("read env");
                    let var = |name: &str| {
                        env.lines()
                            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                            .unwrap_or_else(|| panic!("{name} missing from {env}"))
                            .to_owned()
                    };
                    let url = var("GUICHET_TEST_PG_URL");
                    let admin = var("GUICHET_TEST_PG_ADMIN_URL");
                    let (base, _) = admin.rsplit_once('/').expect("admin url");
                    return Cluster {
                        admin_url: format!("{base}/guichet_test"),
                        _dir: dir,
                        state,
                        port,
                        url,
                    };
                }
                // The port was taken between our probe and the server's start: another one.
                Some(75) => continue,
                other => panic!("start-postgres.sh failed with {other:?}"),
            }
        }
        panic!("no free port for a PostgreSQL cluster after 5 tries");
    }

    /// `pg_ctl stop -m fast` then start again on the same port: every backend is terminated
    /// (SQLSTATE 57P01), as in a restart or a failover.
    fn restart(&self) {
        let stopped = script("stop-postgres.sh", &self.state, self.port);
        assert!(stopped.success(), "stop-postgres.sh: {stopped}");
        let started = script("start-postgres.sh", &self.state, self.port);
        assert!(started.success(), "start-postgres.sh: {started}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let stopped = script("stop-postgres.sh", &self.state, self.port);
        if !stopped.success() {
            eprintln!(
                "could not stop the cluster in {} ({stopped})",
                self.state.display()
            );
        }
    }
}

fn script(name: &str, state: &Path, port: u16) -> ExitStatus {
    Command::new(Path::new(REPO).join("tests/env").join(name))
        .arg(state)
        .env("PG_PORT", port.to_string())
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("run {name}: {e}"))
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Starts `guichet deliver` with `raw` on stdin, without waiting for it.
fn spawn_deliver(env: &TestEnv, raw: &[u8]) -> Child {
    use std::io::Write;
    let mut child = env
        .command(&["deliver", "--offer", "SMSU"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn guichet deliver");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(raw).expect("write the message");
    drop(stdin);
    child
}

/// Waits for `child` to exit, polling; kills it (by its own handle) if the deadline passes.
fn wait_exit(mut child: Child, deadline: Duration) -> std::process::Output {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "deliver still running after {deadline:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Takes the exclusive lock the delivery will wait on, in an open transaction.
async fn hold_ticket_counters(admin_url: &str) -> PgConnection {
    let mut conn = PgConnection::connect(admin_url)
        .await
        .expect("admin connect");
    sqlx::query("BEGIN")
        .execute(&mut conn)
        .await
        .expect("begin");
    sqlx::query("LOCK TABLE ticket_counters IN ACCESS EXCLUSIVE MODE")
        .execute(&mut conn)
        .await
        .expect("lock ticket_counters");
    conn
}

/// The pid of guichet's backend once it waits for a lock, polling with a deadline.
async fn waiting_delivery_backend(admin_url: &str) -> i32 {
    let mut conn = PgConnection::connect(admin_url)
        .await
        .expect("admin connect");
    let start = Instant::now();
    loop {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity
             WHERE application_name = 'guichet' AND wait_event_type = 'Lock'",
        )
        .fetch_optional(&mut conn)
        .await
        .expect("pg_stat_activity");
        if let Some(pid) = pid {
            return pid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the delivery never waited on the lock"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn env_on(cluster: &Cluster) -> TestEnv {
    let env = TestEnv::new("", &format!("[storage]\ndsn = \"{}\"", cluster.url));
    let out = env.run(&["migrate"], b"");
    assert!(
        out.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    env
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// After the outage: nothing was quarantined, and delivering again stores the message once.
fn assert_redelivery_stores_it_once(env: &TestEnv, raw: &[u8]) {
    let quarantined = env.json(&["quarantine", "list", "--offer", "SMSU", "--json"]);
    assert_eq!(
        quarantined.as_array().map(Vec::len),
        Some(0),
        "an outage must not quarantine: {quarantined}"
    );
    let again = env.deliver("SMSU", raw);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("SMSU I-000001 created"),
        "{}",
        stderr(&again)
    );
    let third = env.deliver("SMSU", raw);
    assert_eq!(third.status.code(), Some(0), "{}", stderr(&third));
    let tickets = env.json(&["tickets", "list", "--offer", "SMSU", "--json"]);
    assert_eq!(
        tickets.as_array().map(Vec::len),
        Some(1),
        "stored exactly once: {tickets}"
    );
}

#[test]
fn a_postgres_restart_during_a_delivery_makes_the_mta_retry() {
    let cluster = Cluster::start();
    let env = env_on(&cluster);
    let raw = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Panne pendant le redémarrage",
        "restart@univ-lorraine.example",
        "",
    );
    let rt = runtime();
    let lock = rt.block_on(hold_ticket_counters(&cluster.admin_url));
    let child = spawn_deliver(&env, &raw);
    rt.block_on(waiting_delivery_backend(&cluster.admin_url));
    cluster.restart();
    drop(lock);
    let out = wait_exit(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(EX_TEMPFAIL), "{}", stderr(&out));
    assert_redelivery_stores_it_once(&env, &raw);
}

#[test]
fn a_terminated_backend_during_a_delivery_makes_the_mta_retry() {
    let cluster = Cluster::start();
    let env = env_on(&cluster);
    let raw = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Panne pendant la livraison",
        "terminated@univ-lorraine.example",
        "",
    );
    let rt = runtime();
    let mut lock = rt.block_on(hold_ticket_counters(&cluster.admin_url));
    let child = spawn_deliver(&env, &raw);
    let pid = rt.block_on(waiting_delivery_backend(&cluster.admin_url));
    // SQLSTATE 57P01 (admin_shutdown) for the delivery's backend only.
    let terminated: bool = rt
        .block_on(
            sqlx::query_scalar("SELECT pg_terminate_backend($1)")
                .bind(pid)
                .fetch_one(&mut lock),
        )
        .expect("pg_terminate_backend");
    assert!(terminated);
    let out = wait_exit(child, Duration::from_secs(60));
    rt.block_on(sqlx::query("ROLLBACK").execute(&mut lock))
        .expect("release the lock");
    assert_eq!(out.status.code(), Some(EX_TEMPFAIL), "{}", stderr(&out));
    assert_redelivery_stores_it_once(&env, &raw);
}
