//! SMTP: the [`Sender`] that hands outbound mail to the relay of `[mail.smtp]`, with lettre's
//! pooled async transport on tokio (rustls on aws-lc-rs; implicit TLS, STARTTLS, or plain to
//! a relay on this machine; AUTH LOGIN, PLAIN or XOAUTH2).
//!
//! The envelope sender is the mail's From, the offer's support address: bounces come back to
//! the offer's mailbox, where ingest notes them on the ticket. The message is the one
//! [`outbound::build`] makes for every transport, so what the file transport writes is what
//! SMTP sends.
//!
//! Errors are classified here, once ([`classify`], table-tested): the relay's 4xx and any
//! failure to reach it are transient; its 5xx are permanent, except those refusing our login
//! (530, 534, 535, 538, or a challenge answering our XOAUTH2 token), which are the operator's
//! to fix and must not turn every queued mail into a dead letter meanwhile. Reasons keep the relay's reply code and text with any address
//! in it masked: they are logged and stored on the outbox row.
//!
//! XOAUTH2: the token is read again at most every [`TOKEN_TTL`], and at once after the relay
//! refused a login; a new token builds a new pool (lettre's pool logs in with the credentials
//! it was built with).

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::{Error as SmtpError, PoolConfig};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::outbound::{self, OutboundMail};
use super::sender::{SendError, SendFuture, Sender, Sent};
use crate::config::{ServerAuth, SmtpConfig, TlsMode};

/// How long an XOAUTH2 token read is used before it is read again (a refresher rewrites the
/// file some minutes before the token expires, usually after 60 to 90 minutes).
pub const TOKEN_TTL: Duration = Duration::from_secs(60);

/// Reply codes that refuse the login rather than the message (RFC 4954 section 6): 530
/// authentication required, 534 mechanism too weak, 535 credentials invalid, 538 encryption
/// required. 454 (temporary authentication failure) is a 4xx, transient anyway.
const LOGIN_REFUSED: &[u16] = &[530, 534, 535, 538];

/// The relay of `[mail.smtp]`.
pub struct SmtpSender {
    config: SmtpConfig,
    /// `None` for a plain connection to a relay on this machine.
    tls: Option<TlsParameters>,
    current: tokio::sync::Mutex<Option<Pool>>,
}

/// The transport in use, with the XOAUTH2 token it logs in with and when that was read.
struct Pool {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    token: Option<String>,
    read_at: Instant,
}

impl SmtpSender {
    /// Checks what can be checked before the first mail: the CA file is read and the TLS
    /// parameters built. The relay is not contacted (it may be down at start: mail waits in
    /// the outbox). The error names the key at fault.
    pub fn new(config: &SmtpConfig) -> Result<Self, String> {
        let tls = match config.tls {
            TlsMode::Plain => None,
            TlsMode::Implicit | TlsMode::StartTls => Some(tls_parameters(config)?),
        };
        Ok(Self {
            config: config.clone(),
            tls,
            current: tokio::sync::Mutex::new(None),
        })
    }

    /// The transport to send with: the one built before, unless an XOAUTH2 token is due to
    /// be read again and has changed.
    async fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let mut current = self.current.lock().await;
        let source = match &self.config.login {
            Some((_, ServerAuth::XOAuth2(source))) => Some(source),
            _ => None,
        };
        if let Some(pool) = current.as_ref()
            && (source.is_none() || pool.read_at.elapsed() < TOKEN_TTL)
        {
            return Ok(pool.transport.clone());
        }
        let token = match source {
            // The relay cannot be logged in to until the operator fixes the token source:
            // transient, so that the queued mail waits for it.
            Some(source) => Some(
                super::oauth2::read_token(source)
                    .await
                    .map_err(|e| SendError::transient(format!("smtp: cannot log in: {e}")))?,
            ),
            None => None,
        };
        if let Some(pool) = current.as_mut()
            && pool.token == token
        {
            pool.read_at = Instant::now();
            return Ok(pool.transport.clone());
        }
        let transport = self.build(token.as_deref());
        *current = Some(Pool {
            transport: transport.clone(),
            token,
            read_at: Instant::now(),
        });
        Ok(transport)
    }

    /// After the relay refused our login: the next mail reads the token again.
    async fn forget_token(&self) {
        if let Some(pool) = self.current.lock().await.as_mut() {
            pool.read_at = Instant::now() - TOKEN_TTL;
        }
    }

    fn build(&self, token: Option<&str>) -> AsyncSmtpTransport<Tokio1Executor> {
        let c = &self.config;
        let tls = match (&self.tls, c.tls) {
            (Some(p), TlsMode::Implicit) => Tls::Wrapper(p.clone()),
            (Some(p), _) => Tls::Required(p.clone()),
            (None, _) => Tls::None,
        };
        // `builder_dangerous` only means "no TLS chosen for you": it is chosen just above.
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host)
            .port(c.port)
            .tls(tls)
            .timeout(Some(c.timeout))
            .pool_config(PoolConfig::new().max_size(c.pool_size));
        if let Some((user, auth)) = &c.login {
            let (secret, mechanism) = match auth {
                ServerAuth::Login(password) => (password.expose().to_owned(), Mechanism::Login),
                ServerAuth::Plain(password) => (password.expose().to_owned(), Mechanism::Plain),
                ServerAuth::XOAuth2(_) => {
                    (token.unwrap_or_default().to_owned(), Mechanism::Xoauth2)
                }
            };
            builder = builder
                .credentials(Credentials::new(user.clone(), secret))
                .authentication(vec![mechanism]);
        }
        builder.build()
    }

    async fn deliver(&self, mail: &OutboundMail) -> Result<Sent, SendError> {
        let message = outbound::build(mail)?;
        let envelope = envelope(mail)?;
        let transport = self.transport().await?;
        match transport.send_raw(&envelope, &message.formatted()).await {
            Ok(response) => {
                let text = response.message().next().unwrap_or_default();
                let reference = format!("smtp {} {}", u16::from(response.code()), mask(text));
                Ok(Sent {
                    reference: cut(&reference, 200),
                })
            }
            Err(e) => {
                let failure = failure_of(&e);
                let refused = match &failure {
                    Failure::Reply(code, _) => LOGIN_REFUSED.contains(code),
                    Failure::Login(_) => true,
                    _ => false,
                };
                if refused {
                    self.forget_token().await;
                }
                Err(classify(failure))
            }
        }
    }
}

impl Sender for SmtpSender {
    fn send<'a>(&'a self, mail: &'a OutboundMail) -> SendFuture<'a> {
        Box::pin(self.deliver(mail))
    }
}

/// The TLS parameters for the relay's name: the public CAs, and those of `ca_file`.
fn tls_parameters(config: &SmtpConfig) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(config.host.clone());
    if let Some(path) = &config.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("mail.smtp.ca_file: cannot read {}: {e}", path.display()))?;
        let certificate = Certificate::from_pem(&pem).map_err(|e| {
            format!(
                "mail.smtp.ca_file: {} holds no usable certificate: {e}",
                path.display()
            )
        })?;
        builder = builder.add_root_certificate(certificate);
    }
    builder
        .build_rustls()
        .map_err(|e| format!("mail.smtp: cannot set up TLS: {e}"))
}

/// From the support address to every recipient: a bounce goes back to the offer.
fn envelope(mail: &OutboundMail) -> Result<Envelope, SendError> {
    let address = |a: &str, what: &str| {
        a.parse::<Address>()
            .map_err(|e| SendError::permanent(format!("cannot build message: bad {what}: {e}")))
    };
    let from = address(&mail.from.address, "sender")?;
    let to = mail
        .to
        .iter()
        .map(|m| address(&m.address, "recipient"))
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(Some(from), to)
        .map_err(|e| SendError::permanent(format!("cannot build message: {e}")))
}

/// What went wrong, in the terms [`classify`] decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// The relay answered with this reply code and text.
    Reply(u16, String),
    /// No usable answer: the relay could not be reached, TLS failed, a timeout, a dropped
    /// connection, a reply that does not parse.
    Connection(String),
    /// The login could not be done: no mechanism in common, or the relay answered our
    /// XOAUTH2 token with a challenge (how Microsoft 365 and Gmail refuse one).
    Login(String),
    /// lettre refused the message before the relay saw it.
    Message(String),
}

fn failure_of(e: &SmtpError) -> Failure {
    match e.status() {
        Some(code) if e.is_transient() || e.is_permanent() => {
            let text = std::error::Error::source(e).map_or_else(String::new, |s| s.to_string());
            Failure::Reply(u16::from(code), text)
        }
        _ if e.is_client() => {
            let text = e.to_string();
            if text.contains("authentication mechanism") || text.contains("challenge") {
                Failure::Login(text)
            } else {
                Failure::Message(text)
            }
        }
        _ if e.is_timeout() => Failure::Connection("timed out".to_owned()),
        _ => Failure::Connection(chain(e)),
    }
}

/// The classification, the one place it is decided (see the module's doc).
fn classify(failure: Failure) -> SendError {
    match failure {
        Failure::Reply(code, text) => {
            let reason = format!("smtp: the relay answered {code} {}", mask(&text));
            let reason = cut(reason.trim_end(), 300);
            if LOGIN_REFUSED.contains(&code) {
                SendError::transient(format!("{reason} (login refused: check [mail.smtp])"))
            } else if refuses_recipient(code, &text) {
                SendError::recipient_refused(reason)
            } else if (500..600).contains(&code) {
                SendError::permanent(reason)
            } else {
                SendError::transient(reason)
            }
        }
        Failure::Login(reason) => SendError::transient(cut(
            &format!("smtp: login refused: {reason} (check [mail.smtp])"),
            300,
        )),
        Failure::Connection(reason) => {
            SendError::transient(cut(&format!("smtp: relay not reached: {reason}"), 300))
        }
        Failure::Message(reason) => SendError::permanent(cut(
            &format!("smtp: cannot send this message: {}", mask(&reason)),
            300,
        )),
    }
}

/// Whether a permanent reply puts the failure down to the recipient (so that it is marked
/// bouncing): by its enhanced status code (RFC 3463) when it has one, 5.1.x addressing
/// (except 5.1.7 and 5.1.8, the sender's address) and 5.2.x mailbox status; else by the
/// basic codes that name a recipient, 550 mailbox unavailable, 551 user not local, 553
/// mailbox name not allowed. A policy refusal (5.7.x: spam, relay denied) is not the
/// recipient's: the mail is given up on, the address kept.
fn refuses_recipient(code: u16, text: &str) -> bool {
    if !(500..600).contains(&code) {
        return false;
    }
    let enhanced = text.split_whitespace().next().and_then(|first| {
        let mut parts = first.split('.').map(|p| p.parse::<u16>().ok());
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(Some(5)), Some(Some(subject)), Some(Some(detail)), None) => {
                Some((subject, detail))
            }
            _ => None,
        }
    });
    match enhanced {
        Some((1, 7 | 8)) => false,
        Some((subject, _)) => subject == 1 || subject == 2,
        None => matches!(code, 550 | 551 | 553),
    }
}

/// The error and its causes on one line.
fn chain(e: &SmtpError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Anything in a relay's text that looks like an address (`<a@b>`, `a@b`) becomes
/// `<address>`: reasons are logged and stored, and name no one.
fn mask(text: &str) -> String {
    static ADDRESS: LazyLock<regex::Regex> = LazyLock::new(|| {
        #[allow(
            clippy::expect_used,
            reason = "a constant pattern, checked by the tests"
        )]
        regex::Regex::new(r"<[^<>\s]*@[^<>\s]*>|[^\s<>()\[\],;:]+@[^\s<>()\[\],;:]+")
            .expect("a valid pattern")
    });
    ADDRESS.replace_all(text, "<address>").into_owned()
}

/// At most `max` bytes, cut on a character boundary.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_reply_decides_whether_a_retry_can_help() {
        // (failure, transient, what the reason says)
        let table = [
            (
                Failure::Reply(
                    550,
                    "5.1.1 <jeanne@univ-lorraine.example>: Recipient address rejected".into(),
                ),
                false,
                "smtp: the relay answered 550 5.1.1 <address>: Recipient address rejected",
            ),
            (
                Failure::Reply(554, "5.7.1 Relay access denied".into()),
                false,
                "smtp: the relay answered 554 5.7.1 Relay access denied",
            ),
            (
                Failure::Reply(451, "4.3.0 Try again later".into()),
                true,
                "smtp: the relay answered 451 4.3.0 Try again later",
            ),
            (
                Failure::Reply(421, "4.7.0 Too many connections".into()),
                true,
                "smtp: the relay answered 421",
            ),
            (
                Failure::Reply(452, "4.2.2 Mailbox full".into()),
                true,
                "smtp: the relay answered 452",
            ),
            (
                Failure::Reply(535, "5.7.8 Authentication credentials invalid".into()),
                true,
                "(login refused: check [mail.smtp])",
            ),
            (
                Failure::Reply(530, "5.7.0 Authentication required".into()),
                true,
                "(login refused: check [mail.smtp])",
            ),
            (
                Failure::Connection("Connection refused (os error 111)".into()),
                true,
                "smtp: relay not reached: Connection refused",
            ),
            (
                Failure::Login("This mechanism does not expect a challenge".into()),
                true,
                "smtp: login refused: This mechanism does not expect a challenge",
            ),
            (
                Failure::Connection("timed out".into()),
                true,
                "smtp: relay not reached: timed out",
            ),
            (
                Failure::Message("missing destination address".into()),
                false,
                "smtp: cannot send this message: missing destination address",
            ),
        ];
        for (failure, transient, says) in table {
            let e = classify(failure.clone());
            assert_eq!(e.is_transient(), transient, "{failure:?}: {e}");
            assert_eq!(e.is_permanent(), !transient, "{failure:?}: {e}");
            assert!(e.to_string().contains(says), "{failure:?}: {e}");
            assert!(!e.to_string().contains('@'), "no address in {e}");
        }
    }

    #[test]
    fn a_recipient_is_at_fault_for_addressing_and_mailbox_replies_only() {
        // (code, text, the recipient is refused)
        let table = [
            (
                550,
                "5.1.1 <x@y>: Recipient address rejected: User unknown",
                true,
            ),
            (550, "5.2.1 Mailbox disabled", true),
            (552, "5.2.2 Mailbox full", true),
            (553, "5.1.3 Bad recipient address syntax", true),
            (550, "5.1.8 Bad sender address", false),
            (553, "5.1.7 Sender address rejected", false),
            (554, "5.7.1 Relay access denied", false),
            (550, "5.7.1 Message rejected as spam", false),
            (552, "5.3.4 Message too big", false),
            (550, "Requested action not taken: mailbox unavailable", true),
            (551, "User not local", true),
            (554, "Transaction failed", false),
            (451, "4.1.1 Try again", false),
            (535, "5.7.8 Authentication failed", false),
        ];
        for (code, text, refused) in table {
            assert_eq!(refuses_recipient(code, text), refused, "{code} {text}");
        }
        assert!(classify(Failure::Reply(550, "5.1.1 No such user".into())).is_recipient_refused());
        assert!(!classify(Failure::Reply(554, "5.7.1 Spam".into())).is_recipient_refused());
        assert!(!classify(Failure::Message("bad".into())).is_recipient_refused());
    }

    #[test]
    fn addresses_in_a_relay_text_are_masked() {
        let table = [
            (
                "<jeanne@univ-lorraine.example>: rejected",
                "<address>: rejected",
            ),
            (
                "user jeanne@univ-lorraine.example unknown",
                "user <address> unknown",
            ),
            ("(a@b, c@d)", "(<address>, <address>)"),
            ("<> sender", "<> sender"),
            ("2.0.0 Ok: queued as 4FxZ3", "2.0.0 Ok: queued as 4FxZ3"),
        ];
        for (text, masked) in table {
            assert_eq!(mask(text), masked, "{text}");
        }
    }

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "abc…");
        assert_eq!(cut("aé", 2), "a…");
    }
}
