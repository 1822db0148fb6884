//! A real SMTP server per test (tests/env/start-smtp-sink.sh: aiosmtpd on free loopback ports,
//! its state in a temporary directory) that keeps every message it accepts, for the mail-out
//! tests to read back with its envelope. Stopped by its pid file when dropped.
//!
//! It answers as a relay would: `550 5.1.1` to a recipient whose local part starts with
//! `refuse`, `451 4.3.0` to one starting with `later`; AUTH PLAIN/LOGIN with [`PASSWORD`]
//! (any user), XOAUTH2 with the token set in `SINK_OAUTH2_TOKEN`; `SINK_REQUIRE_AUTH=1` refuses
//! MAIL FROM before AUTH (530). STARTTLS on `port`, implicit TLS on `tls_port`, both with a
//! certificate signed by the test CA in `ca_file` (for `localhost` and `127.0.0.1`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// The AUTH PLAIN/LOGIN password unless the test set `SINK_PASSWORD`.
pub const PASSWORD: &str = "secret";

pub struct SmtpSink {
    /// The state directory (script, certificates, maildir, messages.jsonl, sink.log).
    pub state: PathBuf,
    /// SMTP with STARTTLS offered.
    pub port: u16,
    /// SMTPS (TLS from the first byte).
    pub tls_port: u16,
    /// The test CA that signed the server's certificate: what a client must trust.
    pub ca_file: PathBuf,
    /// The password AUTH PLAIN/LOGIN accepts.
    pub password: String,
    /// What the test set, again at [`SmtpSink::start_again`].
    settings: Vec<(String, String)>,
    /// Keeps the state directory alive as long as the sink.
    _dir: tempfile::TempDir,
}

/// One message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The envelope sender (MAIL FROM), empty for a bounce.
    pub mail_from: String,
    /// The envelope recipients the sink accepted (RCPT TO), in order.
    pub rcpt_tos: Vec<String>,
    /// The user that authenticated (PLAIN/LOGIN login, XOAUTH2 `user=`), if any.
    pub auth: Option<String>,
    /// The DATA as received, every byte before the final dot (the sink's own `X-Sink-*` lines
    /// taken off).
    pub raw: Vec<u8>,
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Two distinct free ports: the probes are held open together, since a port given back may
/// be handed out again at once.
fn free_ports() -> (u16, u16) {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = |l: &std::net::TcpListener| l.local_addr().expect("local addr").port();
    let (a, b) = (bind(), bind());
    (port(&a), port(&b))
}

impl SmtpSink {
    /// Starts a sink on two free ports (a port taken between our probe and its start makes the
    /// script exit 75: another pair is tried).
    pub fn start() -> SmtpSink {
        Self::start_with(&[])
    }

    /// [`SmtpSink::start`] with settings of tests/env/start-smtp-sink.sh (`SINK_REQUIRE_AUTH`,
    /// `SINK_PASSWORD`, `SINK_OAUTH2_TOKEN`, `SINK_LOG_LEVEL`).
    pub fn start_with(settings: &[(&str, &str)]) -> SmtpSink {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("sink");
        let settings: Vec<(String, String)> = settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        for _ in 0..5 {
            let (port, tls_port) = free_ports();
            let status = Self::script(&state, (port, tls_port), &settings);
            match status.code() {
                Some(0) => {
                    let password = settings
                        .iter()
                        .find(|(k, _)| k == "SINK_PASSWORD")
                        .map_or_else(|| PASSWORD.to_owned(), |(_, v)| v.clone());
                    return SmtpSink {
                        ca_file: state.join("tls/ca.pem"),
                        state,
                        port,
                        tls_port,
                        password,
                        settings,
                        _dir: dir,
                    };
                }
                Some(75) => continue,
                _ => panic!(
                    "tests/env/start-smtp-sink.sh failed ({status}); is aiosmtpd installed? \
                     (tests/run.sh installs it, as root)"
                ),
            }
        }
        panic!("no free ports for the SMTP sink after 5 tries");
    }

    fn script(
        state: &Path,
        (port, tls_port): (u16, u16),
        settings: &[(String, String)],
    ) -> ExitStatus {
        Command::new(repo().join("tests/env/start-smtp-sink.sh"))
            .arg(state)
            .envs(settings.iter().map(|(k, v)| (k, v)))
            .env("SINK_PORT", port.to_string())
            .env("SINK_TLS_PORT", tls_port.to_string())
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run start-smtp-sink.sh")
    }

    /// Stops the server (by its pid file) and waits until it is gone: connections are refused
    /// until [`SmtpSink::start_again`].
    pub fn stop(&self) {
        let status = Command::new(repo().join("tests/env/stop-smtp-sink.sh"))
            .arg(&self.state)
            .status()
            .expect("run stop-smtp-sink.sh");
        assert!(status.success(), "stopping the SMTP sink failed: {status}");
    }

    /// Starts the server again after [`SmtpSink::stop`]: same ports, same settings, the mail
    /// it received before still listed (a relay that was down for a while).
    pub fn start_again(&self) {
        let status = Self::script(&self.state, (self.port, self.tls_port), &self.settings);
        assert!(
            status.success(),
            "starting the SMTP sink again on ports {} and {} failed: {status}",
            self.port,
            self.tls_port
        );
    }

    /// Every message accepted so far, in the order accepted (messages.jsonl + the maildir).
    pub fn messages(&self) -> Vec<Received> {
        let lines = std::fs::read_to_string(self.state.join("messages.jsonl"))
            .expect("read the sink's messages.jsonl");
        lines
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| self.received(line))
            .collect()
    }

    fn received(&self, line: &str) -> Received {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("messages.jsonl: bad line {line:?}: {e}"));
        let text = |key: &str| v[key].as_str().map(str::to_owned);
        let file = self.state.join("maildir").join(text("file").expect("file"));
        let stored =
            std::fs::read(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        Received {
            mail_from: text("mail_from").unwrap_or_default(),
            rcpt_tos: v["rcpt_tos"]
                .as_array()
                .expect("rcpt_tos")
                .iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect(),
            auth: text("auth"),
            raw: without_sink_lines(&stored).to_vec(),
        }
    }

    /// The messages once there are at least `n`, polling every 20 ms; panics after `deadline`
    /// saying how many came. Async, so that a daemon on the test's runtime keeps sending.
    pub async fn wait_for(&self, n: usize, deadline: Duration) -> Vec<Received> {
        let start = tokio::time::Instant::now();
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < deadline,
                "timed out after {deadline:?} waiting for {n} messages at the SMTP sink, got {}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The server's log (aiosmtpd's warnings; the dialogue with `SINK_LOG_LEVEL=DEBUG`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state.join("sink.log")).unwrap_or_default()
    }
}

/// `stored` without the sink's leading `X-Sink-Mail-From:` / `X-Sink-Rcpt-To:` lines.
fn without_sink_lines(mut stored: &[u8]) -> &[u8] {
    while stored.starts_with(b"X-Sink-") {
        let end = stored
            .iter()
            .position(|&b| b == b'\n')
            .map_or(stored.len(), |i| i + 1);
        stored = &stored[end..];
    }
    stored
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("tests/env/stop-smtp-sink.sh"))
            .arg(&self.state)
            .status();
    }
}
