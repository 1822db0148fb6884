//! The test harness every integration test shares: one configuration ([`config_text`]), run
//! in process ([`app::App`]: the real services on a fresh store and a manual clock)
//! or through the binary ([`TestEnv`]: exit codes, output lines, the daemon); the PostgreSQL
//! of the test environment, mail builders, the corpus, polling with a deadline. (Model:
//! zero-to-production's `spawn_app`.)
#![allow(
    dead_code,
    reason = "each test crate uses a different part of the harness"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use guichet::domain::TenantId;

pub mod app;
pub mod chromium;
pub mod dovecot;
pub mod mail_loop;
pub mod smtp_sink;

/// The PostgreSQL the suite runs against. `tests/run.sh` starts one and sets the variable;
/// running `cargo test` without it fails here, loudly, rather than skipping.
pub fn pg_url() -> String {
    std::env::var("GUICHET_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "GUICHET_TEST_PG_URL is not set: run the suite with tests/run.sh, which starts a \
             throwaway PostgreSQL, or point the variable at a database of your own"
        )
    })
}

/// A fresh offer code, so tests sharing one database never see each other's rows.
pub fn unique_tenant() -> TenantId {
    let n = uuid::Uuid::new_v4().as_u128();
    let letters: String = (0..10)
        .map(|i| (b'A' + ((n >> (i * 5)) % 26) as u8) as char)
        .collect();
    TenantId::parse(&format!("T{letters}")).expect("generated codes are valid")
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after `deadline` with `what`.
pub fn wait_for<T>(deadline: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A configured support address: SMSU takes unknown senders in (a contact in the institution
/// their domain matches), GEFORP refuses them when [`Setup::geforp_refuses_strangers`].
pub const SMSU_ADDRESS: &str = "support-smsu@esup-portail.example";
pub const GEFORP_ADDRESS: &str = "support-geforp@esup-portail.example";
/// An agent of both offers (univ-rennes).
pub const AGENT: &str = "paul.agent@univ-rennes.example";
/// A contact the configuration lists in univ-lorraine (known before any mail of theirs).
pub const COLLEAGUE: &str = "marie.colleague@univ-lorraine.example";

/// What a test changes in the one configuration every test runs with, in process
/// ([`app::App`]) or through the binary ([`TestEnv`]).
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// Lines added to the `[daemon]` table (`max_message_bytes = 2000`, ...).
    pub daemon: String,
    /// A `[storage]` table; empty for SQLite in the data directory.
    pub storage: String,
    /// GEFORP answers senders it does not know with a polite refusal instead of a ticket.
    pub geforp_refuses_strangers: bool,
    /// Lines added to SMSU's `[[offers]]` table (`default_kind = "request"`, ...).
    pub smsu: String,
    /// Tables added to the SMSU offer, after its keys: its `[[offers.mailboxes]]`.
    pub smsu_tables: String,
    /// The same for GEFORP.
    pub geforp_tables: String,
    /// Tables added at the end of the file (more `[[institutions]]`, `[[contacts]]`).
    pub extra_tables: String,
    /// Lines of a `[mail]` table (`hmac_key = "..."`); no table when empty.
    pub mail: String,
}

/// The configuration text of every test: institutions univ-rennes and univ-lorraine, offers
/// SMSU and GEFORP, agent [`AGENT`] and colleague [`COLLEAGUE`], data in `data`.
pub fn config_text(data: &Path, setup: &Setup) -> String {
    let geforp_policy = if setup.geforp_refuses_strangers {
        "unknown_sender = \"refuse\""
    } else {
        ""
    };
    format!(
        r#"
[daemon]
data_dir = "{data}"
maildir_poll_ms = 100
outbox_poll_ms = 100
shutdown_grace_secs = 10
{daemon}

{storage}
{mail}

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
support_addresses = ["{SMSU_ADDRESS}"]
{smsu}
{smsu_tables}

[[offers]]
code = "GEFORP"
name = "Catalogue de formation"
provider = "univ-rennes"
support_addresses = ["{GEFORP_ADDRESS}"]
{geforp_policy}
{geforp_tables}

[[contacts]]
name = "Paul Agent"
emails = ["{AGENT}"]
institution = "univ-rennes"
roles = {{ SMSU = ["agent"], GEFORP = ["agent"] }}

[[contacts]]
name = "Marie Colleague"
emails = ["{COLLEAGUE}"]
institution = "univ-lorraine"

{extra_tables}
"#,
        data = data.display(),
        daemon = setup.daemon,
        storage = setup.storage,
        mail = if setup.mail.is_empty() {
            String::new()
        } else {
            format!("[mail]\n{}", setup.mail)
        },
        smsu = setup.smsu,
        smsu_tables = setup.smsu_tables,
        geforp_tables = setup.geforp_tables,
        extra_tables = setup.extra_tables,
    )
}

/// A data directory and a configuration file for the binary, with offers SMSU and GEFORP
/// (which refuses unknown senders).
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl TestEnv {
    /// `extra_daemon` is added to the `[daemon]` table; `storage` replaces the default SQLite.
    pub fn new(extra_daemon: &str, storage: &str) -> Self {
        Self::with(Setup {
            daemon: extra_daemon.to_owned(),
            storage: storage.to_owned(),
            geforp_refuses_strangers: true,
            ..Setup::default()
        })
    }

    /// The configuration changed by `setup`.
    pub fn with(setup: Setup) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("guichet.toml");
        std::fs::write(&config, config_text(&dir.path().join("data"), &setup))
            .expect("write config");
        Self { dir, config }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn outbox_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.data().join("outbox"))
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_guichet"));
        cmd.arg("--config").arg(&self.config).args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("GUICHET_") {
                cmd.env_remove(k);
            }
        }
        cmd
    }

    /// Runs a subcommand with `stdin` as input.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn guichet");
        {
            use std::io::Write;
            let mut input = child.stdin.take().expect("stdin");
            // A refused write (the child quit early) shows in its exit status.
            let _ = input.write_all(stdin);
        }
        child.wait_with_output().expect("wait guichet")
    }

    pub fn deliver(&self, offer: &str, mail: &[u8]) -> Output {
        self.run(&["deliver", "--offer", offer], mail)
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args, b"");
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json output")
    }
}

/// A plain message from `from` to `to`.
pub fn mail(from: &str, to: &str, subject: &str, message_id: &str, extra_headers: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
         Date: Mon, 23 Nov 2026 09:00:00 +0100\r\n{extra_headers}MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour,\r\nça ne marche pas.\r\n"
    )
    .into_bytes()
}

pub fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).expect("read file")).into_owned()
}

/// The real-world mail corpus (`../shared/corpus`, or `GUICHET_CORPUS_DIR`), or `None` when it
/// is missing: a fresh clone has no `../shared/`, and its test suite must still pass. Every
/// corpus test opens with this one line, and returns (is skipped) when the corpus is absent:
///
/// ```ignore
/// let Some(corpus) = common::corpus_dir() else { return };
/// ```
///
/// A skip is never silent: this prints `SKIPPED: corpus not found at DIR (TEST)` straight to
/// stderr (past libtest's capture, so it shows for a passing test too), and `tests/run.sh`
/// counts those lines and says how many corpus tests were skipped. With
/// `GUICHET_REQUIRE_CORPUS=1` (set by `.ci/run`) a missing corpus fails the test instead.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("GUICHET_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if dir.join("README.md").is_file() {
        return Some(dir);
    }
    let required = std::env::var("GUICHET_REQUIRE_CORPUS").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "the mail corpus is missing: looked for README.md in {} (set GUICHET_CORPUS_DIR to the \
         corpus directory); GUICHET_REQUIRE_CORPUS=1 makes it mandatory",
        dir.display()
    );
    let test = std::thread::current()
        .name()
        .unwrap_or("a corpus test")
        .to_owned();
    // `std::io::stderr()` rather than `eprintln!`: libtest captures the macros' output and
    // shows it only for a failing test, and a skip must show.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: corpus not found at {} ({test}); set GUICHET_CORPUS_DIR to run it",
        dir.display()
    );
    None
}

/// Message files of a set: everything but documentation, licences, expected outputs and
/// dotfiles (`.gitattributes`).
pub fn message_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot read {}: {e}", d.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_lowercase();
            if path.is_dir() {
                stack.push(path);
            } else if !(name.starts_with('.')
                || name.ends_with(".json")
                || name.ends_with(".md")
                || name.starts_with("license")
                || name.starts_with("copying"))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A new, empty database on the test PostgreSQL, owned by the test role (which has CREATEDB):
/// for tests that run the binary with fixed offer codes and must not see other tests' rows.
pub fn fresh_pg_database() -> String {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(create_pg_database())
}

/// [`fresh_pg_database`] from async code (the in-process [`app::App`]).
pub async fn create_pg_database() -> String {
    use sqlx::Connection;
    let url = pg_url();
    let name = format!("guichet_t_{}", uuid::Uuid::new_v4().simple());
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

/// Puts the test binary at `at` for another user to run (a pipe transport's user, `nobody`),
/// as a hard link, or a copy on another file system, rather than the build path: that user may
/// not traverse the directories of a checkout (CI clones into a 0700 temporary folder).
pub fn place_binary(at: &Path) {
    let binary = Path::new(env!("CARGO_BIN_EXE_guichet"));
    let _ = std::fs::remove_file(at);
    std::fs::hard_link(binary, at)
        .or_else(|_| std::fs::copy(binary, at).map(|_| ()))
        .expect("place the guichet binary for another user");
}
