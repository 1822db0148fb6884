//! Issue 8's full loop, on real servers and the real daemon binary: a contact's mail goes
//! through Postfix into Dovecot, `guichet run` opens the ticket from IMAP, the
//! acknowledgement goes out through that Postfix and is read back from the contact's mailbox
//! over IMAP; the contact answers it as a mail client does (tests/env/mail-contact.py:
//! Python's `email`, `smtplib` and `imaplib`, none of our code), the answer joins the ticket;
//! an agent's reply from the command line reaches the contact, threaded on the contact's last
//! message.
//!
//! The servers are started by the project's own scripts (tests/env/start-dovecot.sh,
//! tests/env/start-postfix-lmtp.sh), one set per test. Postfix needs root: without it the test
//! fails, saying which script starts it; it never skips.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::dovecot::Dovecot;
use common::mail_loop::{Contact, Postfix, header};
use common::{AGENT, SMSU_ADDRESS, Setup, TestEnv, wait_for};

/// A contact of univ-lorraine, unknown to the configuration until her first mail.
const JEANNE: &str = "jeanne@univ-lorraine.example";
/// Each hop is Postfix -> LMTP -> Dovecot (under a second) and IMAP IDLE or an outbox poll
/// (100 ms here): seconds, not minutes, even on a loaded machine.
const HOP: Duration = Duration::from_secs(60);

/// The daemon as a process, its log in a file (a pipe nobody reads would fill up and stop it).
struct Daemon(Child, std::path::PathBuf);

impl Daemon {
    fn start(env: &TestEnv) -> Daemon {
        let log = env.dir.path().join("run.log");
        let child = env
            .command(&["run"])
            .env("GUICHET_LOG", "guichet=info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn guichet run");
        Daemon(child, log)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.1).unwrap_or_default()
    }

    /// SIGTERM by pid; it must stop cleanly.
    fn stop(mut self) {
        let pid = self.0.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        let status = wait_for(Duration::from_secs(30), "the daemon to stop", || {
            self.0.try_wait().ok().flatten()
        });
        assert!(status.success(), "daemon exit: {status}\n{}", self.log());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// guichet reading support-smsu's INBOX on `dovecot` and sending through `postfix`, without
/// TLS or login (both on loopback), with reply tokens on and notices sent at once (the real
/// clock: no waiting out `mail.coalesce_minutes`); `storage` a `[storage]` table, or
/// empty for SQLite.
fn guichet_between(dovecot: &Dovecot, postfix: &Postfix, storage: &str) -> TestEnv {
    TestEnv::with(Setup {
        storage: storage.to_owned(),
        smsu_tables: dovecot.mailbox_toml("support-smsu", "name = \"smsu-inbox\""),
        mail: format!(
            "transport = \"smtp\"\nhmac_key = \"{key}\"\ncoalesce_minutes = 0\n[mail.smtp]\nhost = \"127.0.0.1\"\n\
             port = {port}\ntls = \"plain\"\ntimeout_secs = 10\n",
            key = "full-loop-test-key-0123456789abcdef0123456789",
            port = postfix.port
        ),
        ..Setup::default()
    })
}

/// An id as a header carries it, without its brackets, as the store keeps it.
fn bare(id: &str) -> &str {
    id.trim().trim_start_matches('<').trim_end_matches('>')
}

/// The address of a `Name <address>` header value (or the value, when it is a bare address).
fn address(value: &str) -> &str {
    value
        .rsplit_once('<')
        .map_or(value, |(_, a)| a.trim_end_matches('>'))
}

/// The ticket's articles from `ticket show --json`.
fn articles(env: &TestEnv, reference: &str) -> Vec<serde_json::Value> {
    let view = env.json(&["ticket", "show", reference, "--offer", "SMSU", "--json"]);
    view["articles"].as_array().expect("articles").clone()
}

#[test]
fn a_contact_and_an_agent_talk_through_postfix_and_dovecot_in_one_thread() {
    full_loop("");
}

#[test]
fn the_full_loop_on_postgres() {
    let dsn = common::fresh_pg_database();
    full_loop(&format!("[storage]\ndsn = \"{dsn}\""));
}

/// The loop, on the store `storage` names (see [`guichet_between`]).
fn full_loop(storage: &str) {
    let started = Instant::now();
    let dovecot = Dovecot::start();
    // The agent has a mailbox too: a notice guichet sends the offer's agents is delivered,
    // not refused.
    let postfix = Postfix::start(
        &dovecot,
        &[
            (SMSU_ADDRESS, "support-smsu"),
            (JEANNE, "alice"),
            (AGENT, "bob"),
        ],
    );
    let servers_up = started.elapsed();
    let env = guichet_between(&dovecot, &postfix, storage);
    let daemon = Daemon::start(&env);
    let jeanne = Contact {
        address: JEANNE,
        user: "alice",
        postfix: &postfix,
        dovecot: &dovecot,
    };
    let fail = |what: &str| -> String {
        format!(
            "{what}\n--- guichet run ---\n{}\n--- postfix ---\n{}",
            daemon.log(),
            postfix.log()
        )
    };

    // 1. Her first mail: through Postfix into the support mailbox, a ticket from IMAP.
    let leg = Instant::now();
    let first = jeanne.send(
        SMSU_ADDRESS,
        "Envoi de SMS en panne",
        "Bonjour,\n\nplus aucun SMS ne part depuis ce matin.\n\nJeanne",
    );
    let tickets = wait_for(HOP, "the ticket opened from IMAP", || {
        let list = env.json(&["tickets", "list", "--offer", "SMSU", "--json"]);
        let list = list.as_array().expect("a list").clone();
        (!list.is_empty()).then_some(list)
    });
    assert_eq!(tickets.len(), 1, "{}", fail("one ticket"));
    let reference = tickets[0]["ref"].as_str().expect("ref").to_owned();
    let opened = leg.elapsed();

    // 2. The acknowledgement, through Postfix into her mailbox, answering her mail.
    let leg = Instant::now();
    let ack = jeanne.find(&[("in-reply-to", bare(&first))]);
    let acknowledged = leg.elapsed();
    assert_eq!(header(&ack, "to"), JEANNE, "{ack:#}");
    assert_eq!(header(&ack, "auto-submitted"), "auto-replied", "{ack:#}");
    assert!(
        header(&ack, "subject").contains(&reference),
        "the subject names the ticket: {ack:#}"
    );
    let reply_to = header(&ack, "reply-to");
    assert!(
        address(reply_to).starts_with("support-smsu+")
            && address(reply_to).ends_with("@esup-portail.example"),
        "a reply token in the Reply-To: {ack:#}"
    );

    // 3. She answers it with her client's Reply button: to the Reply-To, "Re: ", threaded.
    let leg = Instant::now();
    let answer = jeanne.reply(
        &[("in-reply-to", bare(&first))],
        "Merci. Toujours rien ce midi, et nos étudiants attendent leurs codes.",
    );
    let sent = &answer["sent"];
    let answer_id = header(sent, "message-id").to_owned();
    assert_eq!(header(sent, "to"), reply_to, "{sent:#}");
    assert_eq!(
        header(sent, "in-reply-to"),
        header(&ack, "message-id"),
        "{sent:#}"
    );
    let joined = wait_for(HOP, "her answer in the ticket", || {
        articles(&env, &reference)
            .into_iter()
            .find(|a| a["message_id"].as_str() == Some(bare(&answer_id)))
    });
    let answered = leg.elapsed();
    assert_eq!(joined["direction"], "in", "{joined:#}");
    assert!(
        postfix
            .log()
            .contains(&format!("orig_to=<{}>", address(reply_to))),
        "{}",
        fail("her answer went through Postfix to the tokened Reply-To address")
    );
    let tickets = env.json(&["tickets", "list", "--offer", "SMSU", "--json"]);
    assert_eq!(
        tickets.as_array().expect("a list").len(),
        1,
        "{}",
        fail("her answer joined the ticket, it opened no other")
    );

    // 4. The agent answers from the command line; the mail reaches her, threaded on her answer.
    let leg = Instant::now();
    let out = env.run(
        &[
            "ticket",
            "reply",
            &reference,
            "--offer",
            "SMSU",
            "-m",
            "Bonjour Jeanne,\n\nla passerelle est relancée, les SMS repartent.",
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "ticket reply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let agent = jeanne.find(&[("body", "la passerelle est relanc")]);
    let replied = leg.elapsed();
    assert_eq!(header(&agent, "to"), JEANNE, "{agent:#}");
    assert_eq!(
        header(&agent, "in-reply-to"),
        answer_id,
        "threaded on her last message: {agent:#}"
    );
    let references = header(&agent, "references");
    for id in [&first, &answer_id] {
        assert!(
            references.contains(id.as_str()),
            "References names {id}: {agent:#}"
        );
    }
    assert!(
        header(&agent, "subject").contains(&reference),
        "the subject names the ticket: {agent:#}"
    );
    assert!(
        agent["headers"].get("auto-submitted").is_none(),
        "an agent's reply is personal mail: {agent:#}"
    );

    // Every mail of the ticket was accepted by the relay, none refused or left waiting; and
    // she received each mail once: the acknowledgement and the agent's reply.
    let outbox = wait_for(HOP, "every outbox row sent", || {
        let view = env.json(&["ticket", "show", &reference, "--offer", "SMSU", "--json"]);
        let rows = view["outbox"].as_array().expect("outbox").clone();
        rows.iter()
            .all(|r| r["status"] != "pending")
            .then_some(rows)
    });
    for row in &outbox {
        assert_eq!(row["status"], "sent", "{}", fail(&format!("{row:#}")));
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(runtime.block_on(dovecot.count("alice", "INBOX")), 2);

    daemon.stop();
    eprintln!(
        "full loop on {}: servers up {servers_up:?}; ticket opened {opened:?} after her mail, \
         acknowledgement in her INBOX {acknowledged:?} later; her answer in the ticket after \
         {answered:?}; the agent's reply in her INBOX after {replied:?}; {:?} in all",
        if storage.is_empty() {
            "SQLite"
        } else {
            "PostgreSQL"
        },
        started.elapsed()
    );
}
