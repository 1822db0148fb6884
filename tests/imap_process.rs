//! `guichet run` reading a real Dovecot, as a process: what its log says about a wrong
//! password, and exactly-once storage when it is killed (SIGKILL) at random points.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::dovecot::Dovecot;
use common::{SMSU_ADDRESS, Setup, TestEnv, mail, wait_for};
use guichet::domain::TenantId;
use guichet::store::{MailboxStateRow, Store};

const USER: &str = "support-smsu";
const MAILBOX: &str = "smsu-inbox";

/// The daemon as a process; its log goes to a file (a pipe nobody reads would fill up and
/// stop it mid-backlog).
struct Running(Child, std::path::PathBuf);

impl Running {
    fn start(env: &TestEnv) -> Running {
        let log = env
            .dir
            .path()
            .join(format!("run-{}.log", uuid::Uuid::new_v4().simple()));
        let file = std::fs::File::create(&log).unwrap();
        let child = env
            .command(&["run"])
            .env("GUICHET_LOG", "guichet=info")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn guichet run");
        Running(child, log)
    }

    fn signal(&self, signal: &str) {
        let pid = self.0.id().to_string();
        let sent = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(sent.success(), "kill {signal} {pid}");
    }

    /// SIGTERM by pid, then the log it wrote.
    fn stop(mut self) -> String {
        self.signal("-TERM");
        let status = wait_for(Duration::from_secs(30), "the daemon to stop", || {
            self.0.try_wait().ok().flatten()
        });
        let log = std::fs::read_to_string(&self.1).unwrap_or_default();
        assert!(status.success(), "daemon exit: {status}\n{log}");
        log
    }

    /// SIGKILL by pid: no drain, no goodbye.
    fn kill(mut self) {
        self.signal("-KILL");
        wait_for(Duration::from_secs(10), "the daemon to die", || {
            self.0.try_wait().ok().flatten()
        });
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn env_reading(dovecot: &Dovecot, extra: &str) -> TestEnv {
    TestEnv::with(Setup {
        smsu_tables: dovecot.mailbox_toml(USER, &format!("name = \"{MAILBOX}\"\n{extra}")),
        ..Setup::default()
    })
}

async fn state(env: &TestEnv) -> Option<MailboxStateRow> {
    let store = Store::connect(&guichet::store::Options {
        database: guichet::store::Database::Sqlite {
            path: env.data().join("guichet.db"),
        },
        max_connections: 1,
        connect_timeout: Duration::from_secs(5),
    })
    .await
    .ok()?;
    let mut tx = store.begin(&TenantId::parse("SMSU").unwrap()).await.ok()?;
    let row = tx.mailbox_state(MAILBOX).await.ok().flatten();
    let _ = tx.rollback().await;
    store.close().await;
    row
}

#[test]
fn a_wrong_password_gives_one_clear_log_line_and_is_retried_with_backoff() {
    let dovecot = Dovecot::start();
    let env = TestEnv::with(Setup {
        smsu_tables: dovecot
            .mailbox_toml(USER, &format!("name = \"{MAILBOX}\""))
            .replace("password = \"secret\"", "password = \"not-the-password\""),
        ..Setup::default()
    });
    let daemon = Running::start(&env);
    let refusals = || dovecot.log().matches("auth failed").count();
    wait_for(Duration::from_secs(30), "three refused logins", || {
        (refusals() >= 3).then_some(())
    });
    let log = daemon.stop();
    let failing: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("mailbox failing"))
        .collect();
    assert_eq!(failing.len(), 1, "one line for the state change:\n{log}");
    assert!(
        failing[0].contains("authentication refused") && failing[0].contains(MAILBOX),
        "{}",
        failing[0]
    );
    assert!(
        !log.contains("not-the-password"),
        "the password never logged:\n{log}"
    );
    eprintln!("{} refused logins, log line: {}", refusals(), failing[0]);
}

#[test]
fn a_backlog_is_stored_exactly_once_through_sigkills_at_random_points() {
    let total: u32 = 1000;
    let dovecot = Dovecot::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut s = dovecot.client(USER).await;
        for i in 0..total {
            let m = mail(
                &format!("user{}@univ-rennes.example", i % 37),
                SMSU_ADDRESS,
                &format!("Demande {i}"),
                &format!("backlog-{i}@univ-rennes.example"),
                "",
            );
            s.append("INBOX", None, None, &m).await.unwrap();
        }
        let _ = s.logout().await;
    });
    let env = env_reading(&dovecot, "batch = 50");

    // Killed three times, each after a random while (printed, to replay a failure).
    for round in 0..3 {
        let pause = Duration::from_millis(300 + (uuid::Uuid::new_v4().as_u128() % 2500) as u64);
        let daemon = Running::start(&env);
        std::thread::sleep(pause);
        daemon.kill();
        let at = runtime.block_on(state(&env));
        eprintln!(
            "kill {round} after {pause:?}: last_uid {:?}, acked {:?}",
            at.as_ref().map(|s| s.last_uid),
            at.as_ref().map(|s| s.acked_uid)
        );
    }
    let daemon = Running::start(&env);
    let started = Instant::now();
    let done = wait_for(Duration::from_secs(120), "the whole backlog", || {
        // Not every 50 ms: each look is a write transaction on SQLite.
        std::thread::sleep(Duration::from_millis(250));
        runtime
            .block_on(state(&env))
            .filter(|s| s.last_uid == i64::from(total) && s.acked_uid == i64::from(total))
    });
    eprintln!(
        "backlog finished {:?} after the last start: {done:?}",
        started.elapsed()
    );
    daemon.stop();

    let tickets = env.json(&["tickets", "list", "--offer", "SMSU", "--json"]);
    let tickets = tickets.as_array().expect("a list");
    assert_eq!(tickets.len(), total as usize, "one ticket per message");
    let flags = runtime.block_on(dovecot.flags(USER, "INBOX"));
    let unseen = flags
        .iter()
        .filter(|(_, f)| !f.iter().any(|x| x.contains("Seen")))
        .count();
    assert_eq!(
        (flags.len(), unseen),
        (total as usize, 0),
        "every message flagged"
    );
    // Each message's UID is recorded in the transaction that stores it: a kill never leaves
    // one stored and unrecorded, so none is even read twice into a duplicate.
    assert_eq!((done.ingested, done.duplicates), (i64::from(total), 0));
}
