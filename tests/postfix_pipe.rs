//! deploy/postfix.md, run: a real Postfix built from the recipe's own main.cf, master.cf and
//! map blocks (tests/env/start-postfix.sh, started by tests/run.sh as root) takes mail over
//! SMTP and pipes it to `guichet deliver` as the `guichet` user. The tests read what an
//! administrator would: the tickets, and the mail log's `status=` with our outcome line.
//!
//! Without the Postfix of tests/run.sh these tests fail, loudly: they never skip.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use common::{GEFORP_ADDRESS, SMSU_ADDRESS, TestEnv, mail, wait_for};

/// The tests share one Postfix, and its pipe reads one configuration: one test at a time.
static POSTFIX: Mutex<()> = Mutex::new(());

/// Mail goes through Postfix's queue manager and a pipe process: seconds, not minutes.
const DELIVERY: Duration = Duration::from_secs(30);

struct Postfix {
    dir: PathBuf,
    port: u16,
}

fn postfix() -> Postfix {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: run the suite with tests/run.sh as root, which starts the \
                 Postfix of deploy/postfix.md (tests/env/start-postfix.sh), or start it \
                 yourself and source its env file"
            )
        })
    };
    Postfix {
        dir: PathBuf::from(var("GUICHET_TEST_POSTFIX_DIR")),
        port: var("GUICHET_TEST_SMTP_PORT")
            .parse()
            .expect("GUICHET_TEST_SMTP_PORT is a port number"),
    }
}

/// uid and gid of a system user, from /etc/passwd.
fn user(name: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f[0] == name)
        .map(|f| (f[2].parse().expect("uid"), f[3].parse().expect("gid")))
        .unwrap_or_else(|| panic!("no user {name}: tests/env/start-postfix.sh creates it"))
}

fn replace_link(link: &Path, target: &Path) {
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link).expect("symlink");
}

/// A fresh guichet for the Postfix pipe, set up as the recipe says: a data directory owned
/// by `guichet`, the database made by `guichet migrate` run as root, the binary and the
/// configuration where the recipe's master.cf line looks for them.
fn guichet_behind(pf: &Postfix) -> TestEnv {
    // Mail an earlier, failed test left deferred would be retried into this test's database.
    let purge = std::process::Command::new("/usr/sbin/postsuper")
        .arg("-c")
        .arg(pf.dir.join("etc"))
        .args(["-d", "ALL"])
        .output()
        .expect("run postsuper");
    assert!(
        purge.status.success(),
        "postsuper -d ALL: {}",
        String::from_utf8_lossy(&purge.stderr)
    );
    let env = TestEnv::new("", "");
    let (uid, gid) = user("guichet");
    std::fs::set_permissions(
        env.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    std::fs::create_dir_all(env.data()).expect("data dir");
    std::os::unix::fs::chown(env.data(), Some(uid), Some(gid)).expect("chown data dir");
    let out = env.run(&["migrate"], b"");
    assert!(
        out.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::place_binary(&pf.dir.join("bin/guichet"));
    replace_link(&pf.dir.join("guichet.toml"), &env.config);
    env
}

/// A minimal SMTP client: what the server answered at each step.
struct Sent {
    rcpt: Vec<u16>,
    /// The queue id from `250 2.0.0 Ok: queued as ID`, when the message was accepted.
    queue_id: Option<String>,
}

struct Smtp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Smtp {
    fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("read reply");
            assert!(line.len() >= 4, "short SMTP reply {line:?}");
            text.push_str(&line);
            if line.as_bytes()[3] == b' ' {
                return (line[..3].parse().expect("reply code"), text);
            }
        }
    }

    fn command(&mut self, line: &str) -> (u16, String) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("write");
        self.reply()
    }
}

fn send(port: u16, from: &str, to: &[&str], message: &[u8]) -> Sent {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to postfix");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut smtp = Smtp {
        writer: stream.try_clone().expect("clone"),
        reader: BufReader::new(stream),
    };
    assert_eq!(smtp.reply().0, 220);
    assert_eq!(smtp.command("EHLO client.example").0, 250);
    assert_eq!(smtp.command(&format!("MAIL FROM:<{from}>")).0, 250);
    let rcpt: Vec<u16> = to
        .iter()
        .map(|r| smtp.command(&format!("RCPT TO:<{r}>")).0)
        .collect();
    let mut queue_id = None;
    if rcpt.contains(&250) {
        assert_eq!(smtp.command("DATA").0, 354);
        let mut data = Vec::new();
        for l in message.split_inclusive(|b| *b == b'\n') {
            if l.starts_with(b".") {
                data.push(b'.');
            }
            data.extend_from_slice(l);
        }
        data.extend_from_slice(b".\r\n");
        smtp.writer.write_all(&data).expect("write data");
        let (code, text) = smtp.reply();
        assert_eq!(code, 250, "{text}");
        queue_id = text
            .split("queued as ")
            .nth(1)
            .map(|id| id.trim().to_owned());
    }
    let _ = smtp.command("QUIT");
    Sent { rcpt, queue_id }
}

/// The mail log line of one queue id and recipient once it reached `status`.
fn log_line(pf: &Postfix, queue_id: &str, recipient: &str, status: &str) -> String {
    let log = pf.dir.join("postfix.log");
    wait_for(
        DELIVERY,
        &format!("{queue_id} to=<{recipient}> {status} in {}", log.display()),
        || {
            let text = std::fs::read_to_string(&log).ok()?;
            text.lines()
                .find(|l| {
                    l.contains(&format!("{queue_id}: to=<{recipient}>"))
                        && l.contains(&format!("status={status} "))
                })
                .map(str::to_owned)
        },
    )
}

fn tickets(env: &TestEnv, offer: &str) -> Vec<serde_json::Value> {
    env.json(&["tickets", "list", "--offer", offer, "--json"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn mail_through_the_recipe_becomes_a_ticket_and_the_mail_log_says_so() {
    let _one = POSTFIX.lock().unwrap_or_else(|e| e.into_inner());
    let pf = postfix();
    let env = guichet_behind(&pf);
    let to = "support-smsu+urgent@esup-portail.example";
    let sent = send(
        pf.port,
        "jeanne@univ-lorraine.example",
        &[to],
        &mail(
            "Jeanne <jeanne@univ-lorraine.example>",
            to,
            "Panne SMS",
            &format!("{}@univ-lorraine.example", uuid::Uuid::new_v4()),
            "",
        ),
    );
    assert_eq!(sent.rcpt, [250]);
    let queue_id = sent.queue_id.expect("queued");

    let line = log_line(&pf, &queue_id, to, "sent");
    assert!(
        line.ends_with(
            "status=sent (delivered via guichet service (guichet: SMSU I-000001 created))"
        ),
        "{line}"
    );
    let list = wait_for(DELIVERY, "the ticket", || {
        Some(tickets(&env, "SMSU")).filter(|l| !l.is_empty())
    });
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["ref"], "I-000001");
    assert_eq!(list[0]["title"], "Panne SMS");
    // Taken in through the pipe transport of the recipe, not another path.
    let view = env.json(&["ticket", "show", "I-000001", "--offer", "SMSU", "--json"]);
    assert_eq!(view["articles"][0]["channel"], "pipe");
}

#[test]
fn a_mail_to_two_offers_through_postfix_reaches_each_once() {
    let _one = POSTFIX.lock().unwrap_or_else(|e| e.into_inner());
    let pf = postfix();
    let env = guichet_behind(&pf);
    let both = format!("{SMSU_ADDRESS}, {GEFORP_ADDRESS}");
    let sent = send(
        pf.port,
        "paul.agent@univ-rennes.example",
        &[SMSU_ADDRESS, GEFORP_ADDRESS],
        &mail(
            "paul.agent@univ-rennes.example",
            &both,
            "Pour les deux",
            &format!("{}@univ-rennes.example", uuid::Uuid::new_v4()),
            "",
        ),
    );
    assert_eq!(sent.rcpt, [250, 250]);
    let queue_id = sent.queue_id.expect("queued");
    let smsu = log_line(&pf, &queue_id, SMSU_ADDRESS, "sent");
    let geforp = log_line(&pf, &queue_id, GEFORP_ADDRESS, "sent");
    assert!(smsu.contains("(guichet: SMSU I-000001 created)"), "{smsu}");
    assert!(
        geforp.contains("(guichet: GEFORP I-000001 created)"),
        "{geforp}"
    );
    assert_eq!(tickets(&env, "SMSU").len(), 1);
    assert_eq!(tickets(&env, "GEFORP").len(), 1);
}

#[test]
fn an_address_of_no_offer_is_refused_at_rcpt_time() {
    let _one = POSTFIX.lock().unwrap_or_else(|e| e.into_inner());
    let pf = postfix();
    let sent = send(
        pf.port,
        "jeanne@univ-lorraine.example",
        &[
            "support-nothing@esup-portail.example",
            "someone@elsewhere.example",
        ],
        b"Subject: x\r\n\r\nx\r\n",
    );
    // Not a listed address (relay_recipient_maps), not our domain (relay_domains).
    assert_eq!(sent.rcpt, [550, 554]);
    assert!(sent.queue_id.is_none());
}

#[test]
fn an_unwritable_database_is_deferred_with_the_file_named_then_delivered_once() {
    let _one = POSTFIX.lock().unwrap_or_else(|e| e.into_inner());
    let pf = postfix();
    let env = guichet_behind(&pf);
    let db = env.data().join("guichet.db");
    let (uid, gid) = user("guichet");
    // What an administrator's root command used to leave behind.
    std::os::unix::fs::chown(&db, Some(0), Some(0)).expect("chown to root");
    let sent = send(
        pf.port,
        "jeanne@univ-lorraine.example",
        &[SMSU_ADDRESS],
        &mail(
            "jeanne@univ-lorraine.example",
            SMSU_ADDRESS,
            "Panne",
            &format!("{}@univ-lorraine.example", uuid::Uuid::new_v4()),
            "",
        ),
    );
    let queue_id = sent.queue_id.expect("queued");
    let deferred = log_line(&pf, &queue_id, SMSU_ADDRESS, "deferred");
    assert!(
        deferred.contains("guichet: error: ")
            && deferred.contains("guichet.db is not writable by uid")
            && deferred.contains("belongs to uid 0"),
        "{deferred}"
    );
    std::os::unix::fs::chown(&db, Some(uid), Some(gid)).expect("chown back");
    // Postfix retries on its own (minimal_backoff_time = 1s in the test instance).
    let sent_line = log_line(&pf, &queue_id, SMSU_ADDRESS, "sent");
    assert!(
        sent_line.contains("(guichet: SMSU I-000001 created)"),
        "{sent_line}"
    );
    assert_eq!(tickets(&env, "SMSU").len(), 1);
}

#[test]
fn migrate_as_root_gives_the_new_database_to_the_data_directory_owner() {
    let env = TestEnv::new("", "");
    let (uid, gid) = user("nobody");
    std::fs::create_dir_all(env.data()).expect("data dir");
    std::os::unix::fs::chown(env.data(), Some(uid), Some(gid)).expect("chown data dir");
    let out = env.run(&["migrate"], b"");
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ran as root: gave guichet.db") && err.contains(&format!("uid {uid}")),
        "{err}"
    );
    for entry in std::fs::read_dir(env.data())
        .expect("read data dir")
        .flatten()
    {
        let meta = entry.metadata().expect("metadata");
        assert_eq!(
            (meta.uid(), meta.gid()),
            (uid, gid),
            "{} still belongs to root",
            entry.path().display()
        );
    }
}

#[test]
fn a_root_command_never_follows_a_link_planted_in_the_data_directory() {
    let env = TestEnv::new("", "");
    let (uid, gid) = user("nobody");
    std::fs::create_dir_all(env.data()).expect("data dir");
    std::os::unix::fs::chown(env.data(), Some(uid), Some(gid)).expect("chown data dir");
    // The service user replaced its maildir and outbox folders with links to root's files.
    let root_owned = tempfile::tempdir().expect("tempdir");
    for sub in ["SMSU/new", "SMSU/cur", "SMSU/tmp", "GEFORP/new", "victim"] {
        std::fs::create_dir_all(root_owned.path().join(sub)).expect("root dirs");
    }
    std::fs::write(root_owned.path().join("victim/shadow"), b"x").expect("root file");
    std::os::unix::fs::symlink(root_owned.path(), env.data().join("maildir")).expect("link");
    std::os::unix::fs::symlink(root_owned.path().join("victim"), env.data().join("outbox"))
        .expect("link");
    let out = env.run(&["migrate"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut checked = 0;
    let mut stack = vec![root_owned.path().to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read").flatten() {
            let meta = std::fs::symlink_metadata(entry.path()).expect("metadata");
            assert_eq!(meta.uid(), 0, "{} was given away", entry.path().display());
            checked += 1;
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    assert!(checked >= 6, "{checked}");
}
