//! `guichet run` as a process: Maildir intake, outbox, graceful stop on SIGTERM.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{SMSU_ADDRESS, TestEnv, mail, wait_for};

struct Daemon(Child);

impl Daemon {
    fn start(env: &TestEnv) -> Self {
        let child = env
            .command(&["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn daemon");
        Daemon(child)
    }

    /// SIGTERM by pid (never by name), then waits for the exit within `deadline`.
    fn terminate(mut self, deadline: Duration) -> (std::process::ExitStatus, String) {
        let pid = self.0.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let status = wait_for(deadline, "the daemon to exit after SIGTERM", || {
            self.0.try_wait().ok().flatten()
        });
        let mut log = String::new();
        if let Some(mut err) = self.0.stderr.take() {
            use std::io::Read;
            let _ = err.read_to_string(&mut log);
        }
        (status, log)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A failed assertion must not leave the daemon running.
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The threads of process `pid` by id: each one's name and the CPUs it may run on
/// (`/proc/PID/task/TID/status`, `Cpus_allowed_list`).
fn threads_of(pid: u32) -> std::collections::BTreeMap<String, (String, String)> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|entry| {
            let dir = entry.ok()?.path();
            let tid = dir.file_name()?.to_str()?.to_owned();
            let name = std::fs::read_to_string(dir.join("comm")).ok()?;
            let status = std::fs::read_to_string(dir.join("status")).ok()?;
            let cpus = status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?;
            Some((tid, (name.trim().to_owned(), cpus.trim().to_owned())))
        })
        .collect()
}

#[test]
fn a_mail_dropped_in_the_maildir_becomes_a_ticket_and_an_acknowledgement() {
    // The agent's notice leaves at once (on the real clock, the coalescing window is minutes).
    let env = TestEnv::with(common::Setup {
        mail: "coalesce_minutes = 0".into(),
        geforp_refuses_strangers: true,
        ..common::Setup::default()
    });
    let daemon = Daemon::start(&env);
    let maildir = env.data().join("maildir").join("SMSU");
    let new = maildir.join("new");
    wait_for(
        Duration::from_secs(30),
        "the daemon to create the maildir",
        || new.is_dir().then_some(()),
    );

    let m = mail(
        "Jeanne <jeanne@univ-lorraine.example>",
        SMSU_ADDRESS,
        "Panne SMS",
        "d1@univ-lorraine.example",
        "",
    );
    std::fs::write(maildir.join("tmp").join("1700000000.d1.host"), &m).unwrap();
    std::fs::rename(
        maildir.join("tmp").join("1700000000.d1.host"),
        new.join("1700000000.d1.host"),
    )
    .unwrap();

    let done = maildir.join("cur").join("1700000000.d1.host:2,S");
    wait_for(
        Duration::from_secs(20),
        "the message to move to cur/",
        || done.is_file().then_some(()),
    );
    let list = env.json(&["tickets", "list", "--offer", "SMSU", "--json"]);
    assert_eq!(list[0]["ref"], "I-000001");
    // On SQLite the daemon keeps its threads on one CPU (src/affinity.rs): the main thread and
    // the database's worker threads on the same single one.
    if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
        let threads = threads_of(daemon.0.id());
        let main = &threads[&daemon.0.id().to_string()];
        assert!(
            main.1.parse::<usize>().is_ok(),
            "the main thread on one CPU: {threads:?}"
        );
        let database: Vec<_> = threads
            .values()
            .filter(|(name, _)| name.starts_with("sqlx-sqlite"))
            .collect();
        assert!(!database.is_empty(), "{threads:?}");
        assert!(
            database.iter().all(|(_, cpus)| cpus == &main.1),
            "the database's threads on the main thread's CPU: {threads:?}"
        );
    } else {
        eprintln!("SKIPPED (one part): a single CPU here, the daemon's affinity is not checked");
    }
    assert_eq!(list[0]["title"], "Panne SMS");
    // The acknowledgement and the agent's notice of the new ticket.
    let sent = wait_for(Duration::from_secs(20), "two mails in the outbox", || {
        let files = env.outbox_files();
        (files.len() == 2).then_some(files)
    });
    assert!(
        sent.iter()
            .all(|f| common::read(f).contains("[SMSU I-000001]"))
    );

    // Dropping the same message again (a crash before the move) adds nothing.
    std::fs::write(new.join("1700000001.d1again.host"), &m).unwrap();
    let again = maildir.join("cur").join("1700000001.d1again.host:2,S");
    wait_for(
        Duration::from_secs(20),
        "the duplicate to move to cur/",
        || again.is_file().then_some(()),
    );
    let view = env.json(&["ticket", "show", "I-000001", "--offer", "SMSU", "--json"]);
    assert_eq!(view["articles"].as_array().unwrap().len(), 1);

    let (status, log) = daemon.terminate(Duration::from_secs(15));
    assert!(status.success(), "daemon exit {status:?}\n{log}");
    assert!(
        log.contains("shutdown requested") && log.contains("guichet stopped"),
        "{log}"
    );
    assert!(
        !log.contains("Panne SMS") && !log.contains("jeanne@"),
        "logs carry no subjects or addresses:\n{log}"
    );
}

#[test]
fn a_second_daemon_on_the_same_data_directory_refuses_to_start() {
    let env = TestEnv::new("", "");
    let first = Daemon::start(&env);
    // The first one is up once its Maildir folders exist.
    wait_for(Duration::from_secs(30), "the first daemon to start", || {
        env.data().join("maildir/SMSU/new").is_dir().then_some(())
    });
    let second = env.command(&["run"]).output().expect("run a second daemon");
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{err}");
    assert!(err.contains("another guichet daemon is running"), "{err}");
    let (status, log) = first.terminate(Duration::from_secs(30));
    assert!(status.success(), "{log}");
}

/// The escalator sleeps until the earliest deadline and fires it on time: a ticket with 3 s to
/// answer (on a calendar open round the clock) is recorded breached within a second of its
/// deadline, by the running daemon, with no scan interval to wait for.
#[test]
fn a_breach_fires_within_a_second_of_its_deadline() {
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
    let env = TestEnv::with(common::Setup {
        smsu: "calendar = \"always\"".into(),
        smsu_tables: "[offers.sla]\nwarning_percent = 0\n[[offers.sla.targets]]\n\
                      first_response = \"3s\"\nresolution = \"1h\"\n"
            .into(),
        extra_tables: format!(
            "[calendars.always]\nfrench_holidays = false\n[calendars.always.week]\n{week}"
        ),
        ..common::Setup::default()
    });
    let daemon = Daemon::start(&env);
    let maildir = env.data().join("maildir").join("SMSU");
    wait_for(Duration::from_secs(30), "the daemon's maildir", || {
        maildir.join("new").is_dir().then_some(())
    });
    let m = mail(
        "Jeanne <jeanne@univ-lorraine.example>",
        SMSU_ADDRESS,
        "Panne",
        "rt1@univ-lorraine.example",
        "",
    );
    std::fs::write(maildir.join("tmp").join("1.rt1.host"), &m).unwrap();
    std::fs::rename(
        maildir.join("tmp").join("1.rt1.host"),
        maildir.join("new").join("1.rt1.host"),
    )
    .unwrap();
    let breach = wait_for(Duration::from_secs(30), "the breach event", || {
        let out = env.run(
            &["ticket", "show", "I-000001", "--offer", "SMSU", "--json"],
            b"",
        );
        let view: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        view["events"]
            .as_array()?
            .iter()
            .find(|e| e["kind"] == "sla_breached")
            .cloned()
    });
    let late_ms = breach["data"]["late_ms"].as_i64().expect("late_ms");
    eprintln!("escalator: breach recorded {late_ms} ms after its deadline");
    assert!(
        (0..1000).contains(&late_ms),
        "fired {late_ms} ms after its deadline: {breach}"
    );
    let (status, log) = daemon.terminate(Duration::from_secs(15));
    assert!(status.success(), "daemon exit {status:?}\n{log}");
}
