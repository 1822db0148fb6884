//! The mail servers of a full loop: a Postfix of its own per test
//! (tests/env/start-postfix-lmtp.sh, on a free loopback port, its state in a temporary
//! directory) that is the mail server of the support address and of the contacts' addresses
//! alike and delivers all of it into a [`Dovecot`] over LMTP; and the contact's mail client
//! (tests/env/mail-contact.py, Python's `email`, `smtplib` and `imaplib`, none of our code).
//! The Postfix is stopped by its pid file when dropped.
//!
//! Postfix needs root: without it [`Postfix::start`] fails, saying so, and never skips.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::dovecot::{Dovecot, PASSWORD};

pub struct Postfix {
    /// The state directory (config, queue, postfix.log); `_dir` keeps it alive.
    pub state: PathBuf,
    /// Its smtpd on 127.0.0.1, taking mail without a login (loopback).
    pub port: u16,
    _dir: tempfile::TempDir,
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

impl Postfix {
    /// Starts a Postfix delivering each `(address, dovecot user)` of `aliases` into that
    /// user's INBOX of `dovecot` (plus-addresses too); it refuses every other recipient. A
    /// port taken between our probe and its start makes the script exit 75: another is tried.
    pub fn start(dovecot: &Dovecot, aliases: &[(&str, &str)]) -> Postfix {
        let dir = tempfile::tempdir().expect("tempdir");
        // The postfix user must traverse it; tempdir makes it 0700.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod state dir");
        let state = dir.path().join("postfix");
        let aliases: Vec<String> = aliases.iter().map(|(a, u)| format!("{a}={u}")).collect();
        for _ in 0..5 {
            let port = free_port();
            let out = Command::new(repo().join("tests/env/start-postfix-lmtp.sh"))
                .arg(&state)
                .arg(&dovecot.state)
                .env("SMTP_PORT", port.to_string())
                .env("ALIASES", aliases.join(" "))
                .output()
                .expect("run start-postfix-lmtp.sh");
            match out.status.code() {
                Some(0) => {
                    return Postfix {
                        state,
                        port,
                        _dir: dir,
                    };
                }
                Some(75) => continue,
                _ => panic!(
                    "tests/env/start-postfix-lmtp.sh failed ({}): {}\nit needs root and \
                     Postfix installed (tests/run.sh, as root, installs it with \
                     tests/env/start-postfix.sh)",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ),
            }
        }
        panic!("no free port for Postfix after 5 tries");
    }

    /// The mail log (`status=sent`, `orig_to=`, refusals).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state.join("postfix.log")).unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("tests/env/stop-postfix.sh"))
            .arg(&self.state)
            .status();
    }
}

/// The contact's mail client: tests/env/mail-contact.py, sending through `postfix` and reading
/// `user`'s INBOX on `dovecot`, as `address`.
pub struct Contact<'a> {
    pub address: &'a str,
    pub user: &'a str,
    pub postfix: &'a Postfix,
    pub dovecot: &'a Dovecot,
}

impl Contact<'_> {
    /// Runs mail-contact.py with `args`; its JSON answer. A failure shows its stderr (what it
    /// waited for and what the INBOX held).
    fn client(&self, args: &[&str]) -> serde_json::Value {
        let out = Command::new("python3")
            .arg(repo().join("tests/env/mail-contact.py"))
            .args(args)
            .output()
            .expect("run python3 tests/env/mail-contact.py");
        assert!(
            out.status.success(),
            "mail-contact.py {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("mail-contact.py prints JSON")
    }

    /// Sends a new message to `to`; its Message-ID, with brackets.
    pub fn send(&self, to: &str, subject: &str, body: &str) -> String {
        let port = self.postfix.port.to_string();
        let sent = self.client(&[
            "send",
            "--smtp-port",
            &port,
            "--from",
            self.address,
            "--to",
            to,
            "--subject",
            subject,
            "--body",
            body,
        ]);
        sent["message_id"].as_str().expect("message_id").to_owned()
    }

    fn inbox_args(&self, matching: &[(&str, &str)]) -> Vec<String> {
        let mut args = vec![
            "--imap-port".to_owned(),
            self.dovecot.imap_port.to_string(),
            "--user".to_owned(),
            self.user.to_owned(),
            "--password".to_owned(),
            PASSWORD.to_owned(),
            "--timeout".to_owned(),
            "60".to_owned(),
        ];
        for (name, text) in matching {
            args.push("--match".to_owned());
            args.push(format!("{name}={text}"));
        }
        args
    }

    /// Waits (60 s at most) for a message in the contact's INBOX whose header `name` (or
    /// `body`) contains the text, for each pair; `{headers: {name: [values]}, body}`.
    pub fn find(&self, matching: &[(&str, &str)]) -> serde_json::Value {
        let mut args = vec!["find".to_owned()];
        args.extend(self.inbox_args(matching));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.client(&args)
    }

    /// Finds a message as [`Contact::find`] does and answers it with `body` as a mail client's
    /// Reply button does; `{found, sent}`, each as [`Contact::find`] describes a message.
    pub fn reply(&self, matching: &[(&str, &str)], body: &str) -> serde_json::Value {
        let mut args = vec!["reply".to_owned()];
        args.extend(self.inbox_args(matching));
        args.extend(
            [
                "--smtp-port",
                &self.postfix.port.to_string(),
                "--from",
                self.address,
                "--body",
                body,
            ]
            .map(str::to_owned),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.client(&args)
    }
}

/// The one value of header `name` (lower-case) in a message as [`Contact::find`] describes it.
pub fn header<'v>(message: &'v serde_json::Value, name: &str) -> &'v str {
    let values = message["headers"][name]
        .as_array()
        .unwrap_or_else(|| panic!("no {name} header in {message:#}"));
    assert_eq!(values.len(), 1, "one {name} header in {message:#}");
    values[0].as_str().expect("a header value")
}
