//! A real Dovecot per test (tests/env/start-dovecot.sh on free loopback ports, its state in a
//! temporary directory), and an IMAP client of our own to put mail in and look at it, as
//! another mail client would. Stopped by its pid file when dropped.
//!
//! Each test has its own server: restarts, UIDVALIDITY changes and wrong passwords touch no
//! other test. Users: `support-smsu`, `support-geforp`, `alice`, `bob`, `catchall` at
//! `example.test`, password `secret`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use async_imap::Session;
use futures_util::TryStreamExt as _;
use tokio::net::TcpStream;

pub const PASSWORD: &str = "secret";
pub const DOMAIN: &str = "example.test";

pub struct Dovecot {
    /// The state directory (config, mail, logs); `dir` keeps it alive.
    pub state: PathBuf,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub lmtp_port: u16,
    /// The test CA that signed the server's certificate (for `ca_file`).
    pub ca_file: PathBuf,
    /// `TEST_USERS` when the test set it (`user:password ...`), for our client's logins.
    users: String,
    /// What the test set, again at a restart.
    settings: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Three distinct free ports: the probes are held open together, since a port given back
/// may be handed out again at once (seen in CI: imap and imaps on the same port, which
/// doveconf refuses as a duplicate listener).
fn free_ports() -> (u16, u16, u16) {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = |l: &std::net::TcpListener| l.local_addr().expect("local addr").port();
    let (a, b, c) = (bind(), bind(), bind());
    (port(&a), port(&b), port(&c))
}

impl Dovecot {
    /// Starts a Dovecot on three free ports (a port taken between our probe and its start
    /// makes the script exit 75: another set is tried).
    pub fn start() -> Dovecot {
        Self::start_with(&[])
    }

    /// [`Dovecot::start`] with settings of tests/env/start-dovecot.sh (`TEST_USERS`,
    /// `AUTH_MECHANISMS`).
    pub fn start_with(settings: &[(&str, &str)]) -> Dovecot {
        let dir = tempfile::tempdir().expect("tempdir");
        // Dovecot's users (vmail, dovecot) must traverse it; tempdir makes it 0700.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod state dir");
        let state = dir.path().join("dovecot");
        for _ in 0..5 {
            let (imap_port, imaps_port, lmtp_port) = free_ports();
            let status = Self::script(&state, (imap_port, imaps_port, lmtp_port), settings);
            match status.code() {
                Some(0) => {
                    let users = settings
                        .iter()
                        .find(|(k, _)| *k == "TEST_USERS")
                        .map_or_else(String::new, |(_, v)| (*v).to_owned());
                    return Dovecot {
                        users,
                        settings: settings
                            .iter()
                            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                            .collect(),
                        ca_file: state.join("ssl/ca.pem"),
                        state,
                        imap_port,
                        imaps_port,
                        lmtp_port,
                        _dir: dir,
                    };
                }
                Some(75) => continue,
                _ => panic!(
                    "tests/env/start-dovecot.sh failed ({status}); is Dovecot installed? \
                     (tests/run.sh installs it, as root)"
                ),
            }
        }
        panic!("no free ports for Dovecot after 5 tries");
    }

    fn script(
        state: &Path,
        (imap, imaps, lmtp): (u16, u16, u16),
        settings: &[(&str, &str)],
    ) -> ExitStatus {
        Command::new(repo().join("tests/env/start-dovecot.sh"))
            .arg(state)
            .envs(settings.iter().copied())
            .env("IMAP_PORT", imap.to_string())
            .env("IMAPS_PORT", imaps.to_string())
            .env("LMTP_PORT", lmtp.to_string())
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run start-dovecot.sh")
    }

    /// Stops the server (by its pid file) and starts it again on the same ports, mail kept.
    pub fn restart(&self) {
        self.stop();
        let settings: Vec<(&str, &str)> = self
            .settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let ports = (self.imap_port, self.imaps_port, self.lmtp_port);
        let status = Self::script(&self.state, ports, &settings);
        assert!(status.success(), "restarting Dovecot failed: {status}");
    }

    pub fn stop(&self) {
        let status = Command::new(repo().join("tests/env/stop-dovecot.sh"))
            .arg(&self.state)
            .status()
            .expect("run stop-dovecot.sh");
        assert!(status.success(), "stopping Dovecot failed: {status}");
    }

    /// `doveadm` on this instance.
    pub fn doveadm(&self, args: &[&str]) {
        let out = Command::new(self.state.join("doveadm"))
            .args(args)
            .output()
            .expect("run doveadm");
        assert!(
            out.status.success(),
            "doveadm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Gives `folder` of `user` a new UIDVALIDITY, as a server migration or a restored backup
    /// would.
    pub fn set_uidvalidity(&self, user: &str, folder: &str, value: u32) {
        let value = value.to_string();
        let user = format!("{user}@{DOMAIN}");
        self.doveadm(&[
            "mailbox",
            "update",
            "--uid-validity",
            &value,
            "-u",
            &user,
            folder,
        ]);
    }

    /// The server's log (authentication failures, logins).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state.join("dovecot.log")).unwrap_or_default()
    }

    /// A `[[offers.mailboxes]]` table for `user` on the plain loopback port; `extra` adds keys.
    pub fn mailbox_toml(&self, user: &str, extra: &str) -> String {
        format!(
            "[[offers.mailboxes]]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"plain\"\n\
             user = \"{user}@{DOMAIN}\"\npassword = \"{PASSWORD}\"\n{extra}\n",
            port = self.imap_port
        )
    }

    /// The password of `user`: its own in `TEST_USERS`, else [`PASSWORD`].
    fn password(&self, user: &str) -> String {
        self.users
            .split_whitespace()
            .find_map(|u| u.strip_prefix(user)?.strip_prefix(':'))
            .unwrap_or(PASSWORD)
            .to_owned()
    }

    /// A session of our own test client, logged in as `user` (plain, loopback).
    pub async fn client(&self, user: &str) -> Session<TcpStream> {
        let tcp = TcpStream::connect(("127.0.0.1", self.imap_port))
            .await
            .expect("connect to Dovecot");
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.expect("greeting");
        client
            .login(format!("{user}@{DOMAIN}"), self.password(user))
            .await
            .map_err(|(e, _)| e)
            .expect("test client login")
    }

    /// Appends `raw` to `folder` of `user`, as a delivery would.
    pub async fn append(&self, user: &str, folder: &str, raw: &[u8]) {
        let mut s = self.client(user).await;
        s.append(folder, None, None, raw).await.expect("append");
        let _ = s.logout().await;
    }

    /// The UIDs in `folder` of `user` with their flags.
    pub async fn flags(&self, user: &str, folder: &str) -> Vec<(u32, Vec<String>)> {
        let mut s = self.client(user).await;
        let mailbox = s
            .examine(guichet::channels::imap::mailbox_name(folder))
            .await
            .expect("examine");
        let mut out = Vec::new();
        if mailbox.exists > 0 {
            let fetches: Vec<_> = s
                .uid_fetch("1:*", "(UID FLAGS)")
                .await
                .expect("fetch flags")
                .try_collect()
                .await
                .expect("fetch flags");
            for f in &fetches {
                let flags = f.flags().map(|fl| format!("{fl:?}")).collect();
                out.push((f.uid.unwrap_or(0), flags));
            }
        }
        let _ = s.logout().await;
        out.sort();
        out
    }

    /// The number of messages in `folder` of `user`.
    pub async fn count(&self, user: &str, folder: &str) -> u32 {
        let mut s = self.client(user).await;
        let n = s
            .examine(guichet::channels::imap::mailbox_name(folder))
            .await
            .expect("examine")
            .exists;
        let _ = s.logout().await;
        n
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("tests/env/stop-dovecot.sh"))
            .arg(&self.state)
            .status();
    }
}

/// Polls `check` every 20 ms until it returns `Some`, or panics after `deadline` with `what`.
pub async fn poll<T, F>(deadline: Duration, what: &str, mut check: impl FnMut() -> F) -> T
where
    F: Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
