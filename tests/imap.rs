//! IMAP intake against a real Dovecot (one per test, tests/common/dovecot.rs): the daemon in
//! process on the system clock, mail put in with an IMAP client of our own, tickets read back
//! from the store. The crash test runs the binary and kills it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed step is a failed test"
)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::dovecot::{Dovecot, poll};
use common::{SMSU_ADDRESS, Setup, config_text, mail};
use guichet::app::Daemon;
use guichet::clock::SystemClock;
use guichet::config::Config;
use guichet::domain::TenantId;
use guichet::shutdown::Shutdown;
use guichet::store::{MailboxStateRow, Store, TicketRow};

const MAILBOX: &str = "smsu-inbox";
const USER: &str = "support-smsu";

/// A guichet daemon running in process on a data directory of its own.
struct Guichet {
    dir: tempfile::TempDir,
    config: Config,
    store: Store,
    running: Option<(Shutdown, tokio::task::JoinHandle<anyhow::Result<()>>)>,
}

fn configuration(data: &Path, mailboxes: &str) -> Config {
    configuration_with(data, mailboxes, ("", ""))
}

/// [`configuration`] with lines in the `[mail]` table (`hmac_key = ...`) and a `[storage]`
/// table (empty: SQLite in the data directory).
fn configuration_with(data: &Path, mailboxes: &str, (mail, storage): (&str, &str)) -> Config {
    // `---` splits SMSU's tables from GEFORP's.
    let (smsu, geforp) = mailboxes.split_once("---").unwrap_or((mailboxes, ""));
    let setup = Setup {
        smsu_tables: smsu.to_owned(),
        geforp_tables: geforp.to_owned(),
        mail: mail.to_owned(),
        storage: storage.to_owned(),
        ..Setup::default()
    };
    guichet::config::load_from_str(&config_text(data, &setup), &[])
        .unwrap_or_else(|e| panic!("test configuration: {e}"))
}

impl Guichet {
    /// Starts the daemon with SMSU reading `mailboxes` (`[[offers.mailboxes]]` tables).
    async fn start(mailboxes: &str) -> Guichet {
        Guichet::start_with(mailboxes, ("", "")).await
    }

    /// [`Guichet::start`] on the database a `[storage]` table names.
    async fn start_on(mailboxes: &str, storage: &str) -> Guichet {
        Guichet::start_with(mailboxes, ("", storage)).await
    }

    /// [`Guichet::start`] with lines in the `[mail]` table and a `[storage]` table.
    async fn start_with(mailboxes: &str, mail_and_storage: (&str, &str)) -> Guichet {
        // Silent unless GUICHET_LOG asks (`GUICHET_LOG=guichet=debug cargo test --test imap`).
        guichet::app::init_logging(guichet::config::LogFormat::Human, "off", false);
        let dir = tempfile::tempdir().unwrap();
        let config = configuration_with(&dir.path().join("data"), mailboxes, mail_and_storage);
        let mut g = Guichet {
            store: guichet::app::open_store(&config).await.unwrap(),
            dir,
            config,
            running: None,
        };
        g.run().await;
        g
    }

    async fn run(&mut self) {
        let daemon = Daemon::build_on(self.config.clone(), Arc::new(SystemClock))
            .await
            .unwrap();
        let shutdown = Shutdown::new();
        let task = tokio::spawn(daemon.run_until(shutdown.clone()));
        self.running = Some((shutdown, task));
    }

    async fn stop(&mut self) {
        let (shutdown, task) = self.running.take().expect("running");
        shutdown.cancel();
        task.await.unwrap().unwrap();
    }

    /// Starts again, stopped, on the same data with these mailbox tables.
    async fn start_again(&mut self, mailboxes: &str) {
        self.config = configuration(&self.dir.path().join("data"), mailboxes);
        self.run().await;
    }

    async fn tickets(&self) -> Vec<TicketRow> {
        self.tickets_of("SMSU").await
    }

    async fn tickets_of(&self, code: &str) -> Vec<TicketRow> {
        let mut tx = self
            .store
            .begin(&TenantId::parse(code).unwrap())
            .await
            .unwrap();
        let rows = tx.list_tickets(None).await.unwrap();
        tx.rollback().await.unwrap();
        rows
    }

    async fn articles(&self, ticket: &TicketRow) -> usize {
        let mut tx = self.store.begin(&smsu()).await.unwrap();
        let n = tx.articles(ticket.id).await.unwrap().len();
        tx.rollback().await.unwrap();
        n
    }

    async fn state(&self) -> Option<MailboxStateRow> {
        let mut tx = self.store.begin(&smsu()).await.unwrap();
        let row = tx.mailbox_state(MAILBOX).await.unwrap();
        tx.rollback().await.unwrap();
        row
    }

    /// Waits until the mailbox was drained at least once after `since` connections.
    async fn synced(&self) -> MailboxStateRow {
        poll(
            Duration::from_secs(20),
            "the mailbox's first sync",
            || async { self.state().await.filter(|s| s.last_sync_at.is_some()) },
        )
        .await
    }

    async fn ticket_count(&self, n: usize, what: &str) -> Vec<TicketRow> {
        poll(Duration::from_secs(20), what, || async {
            let t = self.tickets().await;
            (t.len() >= n).then_some(t)
        })
        .await
    }
}

impl Drop for Guichet {
    fn drop(&mut self) {
        if let Some((shutdown, _)) = &self.running {
            shutdown.cancel();
        }
    }
}

fn smsu() -> TenantId {
    TenantId::parse("SMSU").unwrap()
}

fn named(extra: &str) -> String {
    format!("name = \"{MAILBOX}\"\n{extra}")
}

#[tokio::test]
async fn a_new_mail_becomes_a_ticket_within_two_seconds_while_idle() {
    let dovecot = Dovecot::start();
    // Polling an hour apart: only IDLE can bring the mail in time.
    let g = Guichet::start(&dovecot.mailbox_toml(USER, &named("poll_secs = 3600"))).await;
    let state = g.synced().await;
    assert_eq!(state.mode.as_deref(), Some("idle"));

    let appended = Instant::now();
    let m = mail(
        "alice@univ-rennes.example",
        SMSU_ADDRESS,
        "Panne",
        "idle-1@univ-rennes.example",
        "",
    );
    dovecot.append(USER, "INBOX", &m).await;
    let tickets = g.ticket_count(1, "the ticket of the new mail").await;
    let took = appended.elapsed();
    eprintln!("time to ticket under IDLE: {took:?}");
    assert_eq!(tickets[0].reference().to_string(), "I-000001");
    assert!(took < Duration::from_secs(2), "took {took:?}");

    // Flagged \Seen once stored, and the UID recorded.
    let flags = poll(Duration::from_secs(5), "the \\Seen flag", || async {
        let f = dovecot.flags(USER, "INBOX").await;
        f.iter()
            .all(|(_, fl)| fl.iter().any(|x| x.contains("Seen")))
            .then_some(f)
    })
    .await;
    assert_eq!(flags.len(), 1);
    let state = g.state().await.unwrap();
    assert_eq!((state.last_uid, state.acked_uid, state.ingested), (1, 1, 1));
}

#[tokio::test]
async fn a_reply_joins_its_ticket_and_a_backlog_is_taken_in_at_start() {
    let dovecot = Dovecot::start();
    // Mail waiting before the daemon starts.
    let first = mail(
        "alice@univ-rennes.example",
        SMSU_ADDRESS,
        "Panne",
        "first@univ-rennes.example",
        "",
    );
    let other = mail(
        "bob@univ-rennes.example",
        SMSU_ADDRESS,
        "Autre",
        "other@univ-rennes.example",
        "",
    );
    dovecot.append(USER, "INBOX", &first).await;
    dovecot.append(USER, "INBOX", &other).await;
    let g = Guichet::start(&dovecot.mailbox_toml(USER, &named(""))).await;
    let tickets = g.ticket_count(2, "the backlog's two tickets").await;
    assert_eq!(tickets.len(), 2);

    let reply = mail(
        "alice@univ-rennes.example",
        SMSU_ADDRESS,
        "Re: Panne",
        "reply@univ-rennes.example",
        "In-Reply-To: <first@univ-rennes.example>\r\n",
    );
    dovecot.append(USER, "INBOX", &reply).await;
    let first_ticket = tickets
        .iter()
        .find(|t| t.title == "Panne")
        .expect("the first ticket")
        .clone();
    poll(
        Duration::from_secs(10),
        "the reply in its ticket",
        || async { (g.articles(&first_ticket).await == 2).then_some(()) },
    )
    .await;
    assert_eq!(g.tickets().await.len(), 2, "no new ticket for the reply");
}

#[tokio::test]
async fn a_stranger_with_the_tag_opens_a_new_linked_ticket() {
    let dovecot = Dovecot::start();
    let g = Guichet::start(&dovecot.mailbox_toml(USER, &named(""))).await;
    g.synced().await;
    let first = mail(
        "alice@univ-rennes.example",
        SMSU_ADDRESS,
        "Panne",
        "tagged-first@univ-rennes.example",
        "",
    );
    dovecot.append(USER, "INBOX", &first).await;
    let tickets = g.ticket_count(1, "Alice's ticket").await;
    let alices = tickets[0].clone();
    assert_eq!(alices.reference().to_string(), "I-000001");
    // Someone of another institution writes with Alice's tag (a leaked or guessed ref): not a
    // participant, not entitled, so not into her ticket.
    let stranger = mail(
        "eve@univ-lorraine.example",
        SMSU_ADDRESS,
        "Re: [SMSU I-000001] Panne",
        "tagged-stranger@univ-lorraine.example",
        "",
    );
    dovecot.append(USER, "INBOX", &stranger).await;
    let tickets = g.ticket_count(2, "the stranger's own ticket").await;
    assert_eq!(
        g.articles(&alices).await,
        1,
        "nothing added to Alice's ticket"
    );
    let new = tickets.iter().find(|t| t.id != alices.id).unwrap();
    let mut tx = g.store.begin(&smsu()).await.unwrap();
    let links = tx.ticket_links(new.id).await.unwrap();
    tx.rollback().await.unwrap();
    let links: Vec<_> = links
        .iter()
        .map(|l| (l.other_id, l.relation.as_str()))
        .collect();
    assert_eq!(links, [(alices.id, "possibly_related")]);
}

/// Who holds the mailbox's lease now (asking for one that ends at once changes nothing).
async fn lease_holder(g: &Guichet) -> Option<String> {
    let now = guichet::clock::Clock::now(&SystemClock);
    let mut tx = g.store.begin(&smsu()).await.unwrap();
    let asked = tx
        .claim_mailbox(MAILBOX, "observer", now, now)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    asked.err()
}

#[tokio::test]
async fn two_instances_on_one_database_read_a_mailbox_one_at_a_time() {
    let dovecot = Dovecot::start();
    let storage = format!(
        "[storage]\ndsn = \"{}\"",
        common::create_pg_database().await
    );
    let mailbox = dovecot.mailbox_toml(USER, &named(""));
    let mut first = Guichet::start_on(&mailbox, &storage).await;
    first.synced().await;
    let second = Guichet::start_on(&mailbox, &storage).await;
    let first_id = guichet::service::instance_id(&first.config);
    let second_id = guichet::service::instance_id(&second.config);
    assert_eq!(lease_holder(&first).await.as_deref(), Some(&*first_id));
    for i in 0..20 {
        let m = mail(
            "alice@univ-rennes.example",
            SMSU_ADDRESS,
            &format!("Panne {i}"),
            &format!("lease-{i}@univ-rennes.example"),
            "",
        );
        dovecot.append(USER, "INBOX", &m).await;
    }
    first.ticket_count(20, "the 20 tickets").await;
    // One reader: nothing was fetched twice (a second reader's copies would count as
    // duplicates), and the lease is still the first instance's.
    let state = first.state().await.unwrap();
    assert_eq!((state.ingested, state.duplicates), (20, 0), "{state:?}");
    assert_eq!(lease_holder(&first).await.as_deref(), Some(&*first_id));

    // The first one stops and gives the lease back: the second takes the mailbox over.
    first.stop().await;
    // The second instance asks every 5 s (LEASE_RETRY); on a loaded machine 15 s were
    // not always enough. Still under the lease's 60 s: taken over within this, the lease was
    // given back, not left to run out.
    poll(
        Duration::from_secs(45),
        "the second instance holding the lease",
        || async { (lease_holder(&second).await.as_deref() == Some(&*second_id)).then_some(()) },
    )
    .await;
    let m = mail(
        "alice@univ-rennes.example",
        SMSU_ADDRESS,
        "Après la relève",
        "lease-after@univ-rennes.example",
        "",
    );
    dovecot.append(USER, "INBOX", &m).await;
    second
        .ticket_count(21, "the ticket taken in by the second instance")
        .await;
    let state = second.state().await.unwrap();
    assert_eq!((state.ingested, state.duplicates), (21, 0), "{state:?}");
}

#[tokio::test]
async fn a_reply_with_a_verified_token_joins_and_an_altered_one_opens_a_ticket() {
    use guichet::domain::token::{TokenKey, reply_address};
    let key = "imap-test-reply-token-key-0123456789abcdef";
    let dovecot = Dovecot::start();
    let g = Guichet::start_with(
        &dovecot.mailbox_toml(USER, &named("")),
        (&format!("hmac_key = \"{key}\""), ""),
    )
    .await;
    let alice = "alice@univ-rennes.example";
    let first = mail(
        alice,
        SMSU_ADDRESS,
        "Panne",
        "tok-1@univ-rennes.example",
        "",
    );
    dovecot.append(USER, "INBOX", &first).await;
    let ticket = g.ticket_count(1, "the first ticket").await[0].clone();

    // The token our acknowledgement's Reply-To carries (tests/tokens.rs checks the header).
    let token = TokenKey::new(key).unwrap().sign(&smsu(), ticket.id, alice);
    let to = reply_address(SMSU_ADDRESS, &token);
    // Another subject, no In-Reply-To, no References: only the token can join it.
    let reply = mail(alice, &to, "autre chose", "tok-2@univ-rennes.example", "");
    dovecot.append(USER, "INBOX", &reply).await;
    poll(
        Duration::from_secs(10),
        "the reply in its ticket",
        || async { (g.articles(&ticket).await == 2).then_some(()) },
    )
    .await;

    // One character of the MAC changed: unknown, so a new ticket.
    let mut altered = token.as_str().to_owned();
    let last = if altered.ends_with('a') { "b" } else { "a" };
    altered.replace_range(altered.len() - 1.., last);
    let to = SMSU_ADDRESS.replace('@', &format!("+{altered}@"));
    let forged = mail(alice, &to, "encore", "tok-3@univ-rennes.example", "");
    dovecot.append(USER, "INBOX", &forged).await;
    let tickets = g
        .ticket_count(2, "a new ticket for the altered token")
        .await;
    assert_eq!(tickets.len(), 2);
    assert_eq!(
        g.articles(&ticket).await,
        2,
        "nothing more in the first ticket"
    );
}

#[tokio::test]
async fn a_uidvalidity_change_doubles_nothing() {
    let dovecot = Dovecot::start();
    for i in 0..3 {
        let m = mail(
            "alice@univ-rennes.example",
            SMSU_ADDRESS,
            &format!("Panne {i}"),
            &format!("uv-{i}@univ-rennes.example"),
            "",
        );
        dovecot.append(USER, "INBOX", &m).await;
    }
    let mut g = Guichet::start(&dovecot.mailbox_toml(USER, &named(""))).await;
    g.ticket_count(3, "three tickets").await;
    let before = poll(Duration::from_secs(10), "three acknowledged", || async {
        g.state().await.filter(|s| s.acked_uid == 3)
    })
    .await;

    g.stop().await;
    let new_validity = u32::try_from(before.uidvalidity).unwrap() + 1000;
    dovecot.set_uidvalidity(USER, "INBOX", new_validity);
    g.start_again(&dovecot.mailbox_toml(USER, &named(""))).await;
    let after = poll(
        Duration::from_secs(20),
        "the mailbox read again",
        || async {
            g.state()
                .await
                .filter(|s| s.uidvalidity == i64::from(new_validity) && s.last_uid == 3)
        },
    )
    .await;
    assert_eq!(g.tickets().await.len(), 3, "nothing doubled");
    assert_eq!((after.ingested, after.duplicates), (3, 3));
}

#[tokio::test]
async fn a_dovecot_restart_while_idle_is_survived() {
    let dovecot = Dovecot::start();
    let g = Guichet::start(&dovecot.mailbox_toml(USER, &named("poll_secs = 3600"))).await;
    g.synced().await;
    dovecot.restart();
    let m = mail(
        "alice@univ-rennes.example",
        SMSU_ADDRESS,
        "Après redémarrage",
        "restart@univ-rennes.example",
        "",
    );
    dovecot.append(USER, "INBOX", &m).await;
    let tickets = g.ticket_count(1, "the mail sent after the restart").await;
    assert_eq!(tickets.len(), 1);
}

#[tokio::test]
async fn stored_mail_is_moved_or_left_as_configured() {
    let dovecot = Dovecot::start();
    let m = mail(
        "alice@univ-rennes.example",
        SMSU_ADDRESS,
        "Panne",
        "move-1@univ-rennes.example",
        "",
    );
    dovecot.append(USER, "INBOX", &m).await;
    let g = Guichet::start(
        &dovecot.mailbox_toml(USER, &named("after = \"move\"\nmove_to = \"Traités\"")),
    )
    .await;
    g.ticket_count(1, "the ticket").await;
    poll(Duration::from_secs(10), "the message moved", || async {
        (dovecot.count(USER, "INBOX").await == 0).then_some(())
    })
    .await;
    assert_eq!(dovecot.count(USER, "Traités").await, 1);

    let dovecot = Dovecot::start();
    dovecot.append(USER, "INBOX", &m).await;
    let g = Guichet::start(&dovecot.mailbox_toml(USER, &named("after = \"leave\""))).await;
    g.ticket_count(1, "the ticket").await;
    poll(
        Duration::from_secs(10),
        "the message acknowledged",
        || async { g.state().await.filter(|s| s.acked_uid == 1) },
    )
    .await;
    let flags = dovecot.flags(USER, "INBOX").await;
    assert_eq!(flags.len(), 1);
    assert!(
        !flags[0].1.iter().any(|f| f.contains("Seen")),
        "left unseen: {flags:?}"
    );
}

#[tokio::test]
async fn a_message_over_the_limit_is_quarantined_with_its_header_only() {
    let dovecot = Dovecot::start();
    let mut big = mail(
        "alice@univ-rennes.example",
        SMSU_ADDRESS,
        "Énorme",
        "big@univ-rennes.example",
        "",
    );
    big.extend(std::iter::repeat_n(b'x', 50_000));
    big.extend_from_slice(b"\r\n");
    dovecot.append(USER, "INBOX", &big).await;
    let small = mail(
        "bob@univ-rennes.example",
        SMSU_ADDRESS,
        "Petit",
        "small@univ-rennes.example",
        "",
    );
    dovecot.append(USER, "INBOX", &small).await;

    let dir = tempfile::tempdir().unwrap();
    let setup = Setup {
        daemon: "max_message_bytes = 20000".to_owned(),
        smsu_tables: dovecot.mailbox_toml(USER, &named("")),
        ..Setup::default()
    };
    let config =
        guichet::config::load_from_str(&config_text(&dir.path().join("data"), &setup), &[])
            .unwrap();
    let mut g = Guichet {
        store: guichet::app::open_store(&config).await.unwrap(),
        dir,
        config,
        running: None,
    };
    g.run().await;
    // The small one behind it is not held up.
    g.ticket_count(1, "the small message's ticket").await;
    let state = poll(Duration::from_secs(10), "both dealt with", || async {
        g.state().await.filter(|s| s.last_uid == 2)
    })
    .await;
    assert_eq!((state.ingested, state.quarantined), (1, 1));
    let mut tx = g.store.begin(&smsu()).await.unwrap();
    let q = tx.list_quarantine().await.unwrap();
    let kept = tx.quarantine_data(q[0].id).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(q.len(), 1);
    assert!(q[0].reason.contains("over the limit"), "{}", q[0].reason);
    // The size is the message's; the bytes kept, its header only.
    assert_eq!((q[0].size, q[0].header_only), (big.len() as i64, true));
    assert!(kept.len() < 2000, "the header only: {} bytes", kept.len());
}

#[tokio::test]
async fn implicit_tls_starttls_and_authenticate_plain_reach_the_mailbox() {
    let dovecot = Dovecot::start();
    let ca = dovecot.ca_file.display().to_string();
    // `host = "localhost"`, the name in the server's certificate.
    let table = [
        format!(
            "tls = \"implicit\"\nport = {}\nca_file = \"{ca}\"",
            dovecot.imaps_port
        ),
        format!(
            "tls = \"starttls\"\nport = {}\nca_file = \"{ca}\"",
            dovecot.imap_port
        ),
        format!(
            "tls = \"plain\"\nport = {}\nauth = \"plain\"",
            dovecot.imap_port
        ),
    ];
    for (i, keys) in table.iter().enumerate() {
        let m = mail(
            "alice@univ-rennes.example",
            SMSU_ADDRESS,
            &format!("Panne {i}"),
            &format!("tls-{i}@univ-rennes.example"),
            "",
        );
        dovecot.append(USER, "INBOX", &m).await;
        let mailbox = format!(
            "[[offers.mailboxes]]\nname = \"{MAILBOX}\"\nhost = \"localhost\"\n\
             user = \"{USER}@example.test\"\npassword = \"secret\"\n{keys}\n"
        );
        let mut g = Guichet::start(&mailbox).await;
        g.ticket_count(1, &format!("a ticket through {keys}")).await;
        g.stop().await;
    }
}

/// XOAUTH2 against Dovecot's own check of the bearer token (its XOAUTH2 mechanism compares
/// the token with the user's password: a local token check, no mock of IMAP). The token is
/// read anew at each connection, from a file or a command's output.
#[tokio::test]
async fn xoauth2_logs_in_with_a_token_from_a_file_or_a_command() {
    let token = "ya29.test-token-123";
    let users = format!("{USER}:{token}");
    let dovecot = Dovecot::start_with(&[
        ("AUTH_MECHANISMS", "plain login xoauth2"),
        ("TEST_USERS", &users),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let table = [
        format!("oauth2_token_file = \"{}\"", token_file.display()),
        format!("oauth2_token_command = \"printf %s {token}\""),
    ];
    for (i, keys) in table.iter().enumerate() {
        let m = mail(
            "alice@univ-rennes.example",
            SMSU_ADDRESS,
            &format!("Jeton {i}"),
            &format!("oauth-{i}@univ-rennes.example"),
            "",
        );
        dovecot.append(USER, "INBOX", &m).await;
        let mailbox = dovecot
            .mailbox_toml(USER, &named(&format!("auth = \"xoauth2\"\n{keys}")))
            .replace(
                &format!("password = \"{}\"\n", common::dovecot::PASSWORD),
                "",
            );
        let mut g = Guichet::start(&mailbox).await;
        g.ticket_count(1, &format!("a ticket through {keys}")).await;
        g.stop().await;
    }
    assert!(
        dovecot.log().contains("method=XOAUTH2"),
        "{}",
        dovecot.log()
    );
}

/// One mail to two offers, delivered into both offers' mailboxes: a ticket in each, linked
/// across the offers, one acknowledgement each.
#[tokio::test]
async fn one_mail_to_two_offers_through_their_mailboxes_opens_a_linked_ticket_in_each() {
    let dovecot = Dovecot::start();
    let both = format!(
        "{}---{}",
        dovecot.mailbox_toml(USER, &named("")),
        dovecot.mailbox_toml("support-geforp", "name = \"geforp-inbox\"")
    );
    let m = mail(
        "alice@univ-rennes.example",
        SMSU_ADDRESS,
        "Panne commune",
        "two-offers@univ-rennes.example",
        &format!("Cc: {}\r\n", common::GEFORP_ADDRESS),
    );
    dovecot.append(USER, "INBOX", &m).await;
    dovecot.append("support-geforp", "INBOX", &m).await;
    let g = Guichet::start(&both).await;
    let smsu = g.ticket_count(1, "the SMSU ticket").await;
    let geforp = poll(Duration::from_secs(20), "the GEFORP ticket", || async {
        let t = g.tickets_of("GEFORP").await;
        (!t.is_empty()).then_some(t)
    })
    .await;
    assert_eq!((smsu.len(), geforp.len()), (1, 1));
    for (code, ticket, other) in [("SMSU", &smsu[0], "GEFORP"), ("GEFORP", &geforp[0], "SMSU")] {
        let tenant = TenantId::parse(code).unwrap();
        // The second ticket links both ways after its own commit: wait for it.
        let (links, outbox) = poll(
            Duration::from_secs(20),
            "the link across offers",
            || async {
                let mut tx = g.store.begin(&tenant).await.unwrap();
                let links = tx.other_offer_links(ticket.id).await.unwrap();
                let outbox = tx.list_outbox(None).await.unwrap();
                tx.rollback().await.unwrap();
                (!links.is_empty()).then_some((links, outbox))
            },
        )
        .await;
        assert_eq!(links.len(), 1, "{code}: {links:?}");
        assert_eq!(links[0].other_tenant, other, "{code}");
        let acks = outbox.iter().filter(|o| o.template == "ticket_created");
        assert_eq!(acks.count(), 1, "{code}: one acknowledgement");
    }
}

/// One fetched batch is one transaction; with a message the database refuses in it, each
/// message in a savepoint of its own: the refused one is rolled back alone and quarantined,
/// one that is not a mail is quarantined, a duplicate is counted and changes nothing, and the
/// messages around them are stored; all of them are acknowledged once the batch commits.
#[tokio::test]
async fn a_batch_stores_its_good_messages_around_a_refused_an_unparsable_and_a_duplicate_one() {
    let dovecot = Dovecot::start();
    let good = |n: u32| {
        let id = format!("batch-{n}@univ-rennes.example");
        mail(
            "alice@univ-rennes.example",
            SMSU_ADDRESS,
            &format!("Panne {n}"),
            &id,
            "",
        )
    };
    let refused = mail(
        "bob@univ-rennes.example",
        SMSU_ADDRESS,
        "Refusé par la base",
        "refused@univ-rennes.example",
        "",
    );
    let no_sender = format!(
        "To: {SMSU_ADDRESS}\r\nSubject: Sans expediteur\r\nMessage-ID: <nofrom@univ-rennes.example>\r\n\r\nbonjour\r\n"
    );
    for m in [
        &good(1),
        &refused,
        no_sender.as_bytes(),
        &good(2),
        &good(1),
        &good(3),
    ] {
        dovecot.append(USER, "INBOX", m).await;
    }

    let dir = tempfile::tempdir().unwrap();
    let config = configuration(
        &dir.path().join("data"),
        &dovecot.mailbox_toml(USER, &named("")),
    );
    let store = guichet::app::open_store(&config).await.unwrap();
    // The database refuses one message: a rule of its own, as a CHECK or a value it cannot
    // hold would be (a constraint error, not transient).
    {
        use sqlx::Connection;
        let url = format!("sqlite://{}", dir.path().join("data/guichet.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query(
            "CREATE TRIGGER refuse_one BEFORE INSERT ON articles \
             WHEN NEW.subject = 'Refusé par la base' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    let mut g = Guichet {
        store,
        dir,
        config,
        running: None,
    };
    g.run().await;

    let state = poll(Duration::from_secs(20), "the batch dealt with", || async {
        g.state().await.filter(|s| s.acked_uid == 6)
    })
    .await;
    assert_eq!(state.last_uid, 6);
    assert_eq!(
        (state.ingested, state.duplicates, state.quarantined),
        (3, 1, 2)
    );
    let mut titles: Vec<String> = g.tickets().await.into_iter().map(|t| t.title).collect();
    titles.sort();
    assert_eq!(titles, ["Panne 1", "Panne 2", "Panne 3"]);
    let mut tx = g.store.begin(&smsu()).await.unwrap();
    let q = tx.list_quarantine().await.unwrap();
    tx.rollback().await.unwrap();
    let mut reasons: Vec<&str> = q.iter().map(|q| q.reason.as_str()).collect();
    reasons.sort();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].contains("cannot be stored") && reasons[0].contains("refused by the test"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("no sender"), "{reasons:?}");
    // All acknowledged (the server may show another session's flags a moment later).
    let flags = poll(Duration::from_secs(5), "six \\Seen flags", || async {
        let f = dovecot.flags(USER, "INBOX").await;
        f.iter()
            .all(|(_, fl)| fl.iter().any(|x| x.contains("Seen")))
            .then_some(f)
    })
    .await;
    assert_eq!(flags.len(), 6);
}

/// A batch where nothing is refused is taken in under one savepoint, its place recorded once
/// at its end: a reply threads into the ticket opened earlier in the same batch, a copy of a
/// message of the batch is counted a duplicate, and the counts and the last UID come out as
/// if each message had been taken in alone.
async fn a_batch_without_refusals_threads_and_dedupes_within_itself(storage: &str) {
    let dovecot = Dovecot::start();
    let first = mail(
        "alice@univ-rennes.example",
        SMSU_ADDRESS,
        "Panne",
        "together-1@univ-rennes.example",
        "",
    );
    let reply = mail(
        "alice@univ-rennes.example",
        SMSU_ADDRESS,
        "Re: Panne",
        "together-2@univ-rennes.example",
        "In-Reply-To: <together-1@univ-rennes.example>\r\n",
    );
    let other = mail(
        "bob@univ-rennes.example",
        SMSU_ADDRESS,
        "Autre panne",
        "together-3@univ-rennes.example",
        "",
    );
    // Waiting before the daemon starts: one fetch, one batch.
    for m in [&first, &reply, &first, &other] {
        dovecot.append(USER, "INBOX", m).await;
    }
    let g = Guichet::start_on(&dovecot.mailbox_toml(USER, &named("")), storage).await;

    let state = poll(
        Duration::from_secs(20),
        "the batch acknowledged",
        || async { g.state().await.filter(|s| s.acked_uid == 4) },
    )
    .await;
    assert_eq!(state.last_uid, 4);
    assert_eq!(
        (
            state.ingested,
            state.duplicates,
            state.quarantined,
            state.loop_suppressed
        ),
        (3, 1, 0, 0)
    );
    let tickets = g.tickets().await;
    let mut titles: Vec<&str> = tickets.iter().map(|t| t.title.as_str()).collect();
    titles.sort();
    assert_eq!(titles, ["Autre panne", "Panne"]);
    let panne = tickets.iter().find(|t| t.title == "Panne").unwrap();
    assert_eq!(g.articles(panne).await, 2, "the reply joined its ticket");
}

#[tokio::test]
async fn a_batch_without_refusals_threads_and_dedupes_within_itself_on_sqlite() {
    a_batch_without_refusals_threads_and_dedupes_within_itself("").await;
}

#[tokio::test]
async fn a_batch_without_refusals_threads_and_dedupes_within_itself_on_postgres() {
    let storage = format!(
        "[storage]\ndsn = \"{}\"",
        common::create_pg_database().await
    );
    a_batch_without_refusals_threads_and_dedupes_within_itself(&storage).await;
}
