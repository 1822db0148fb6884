//! The IMAP adapter: connects (implicit TLS, STARTTLS, or plain to a server on this machine),
//! logs in (LOGIN, AUTHENTICATE PLAIN or XOAUTH2), selects a folder, lists and fetches the
//! messages above a UID in batches, acknowledges them (flag `\Seen` or move), and waits for new
//! mail (IDLE, or a poll interval when the server has no IDLE).
//!
//! It hands over `(uid, raw bytes)` and knows nothing of tickets or of the store: the worker
//! (`workers::imap`) decides what to fetch and when to acknowledge. Its failures are
//! classified here, once ([`ImapError::Transient`]: reconnect with backoff;
//! [`ImapError::Permanent`]: an operator has to act, retried slowly). Every command runs under
//! a deadline: a server that stops answering is a transient failure, not a hung worker.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_imap::error::Error as ImapProtoError;
use async_imap::extensions::idle::IdleResponse;
use async_imap::{Client, Session};
use futures_util::{StreamExt as _, TryStreamExt as _};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::config::{AfterCommit, MailboxConfig, ServerAuth, TlsMode};
use crate::shutdown::Shutdown;

/// Connecting, logging in, and every command but a fetch: a server that takes longer is
/// treated as gone (transient).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// One batch of `UID FETCH`: up to 64 MiB over a slow link.
const FETCH_TIMEOUT: Duration = Duration::from_secs(600);
/// IDLE that hears nothing for this long is ended and sent again: a connection a firewall
/// dropped without a word is found out then (DONE fails) instead of at the next renewal.
/// Servers that send keep-alives during IDLE (Dovecot every 2 minutes) never reach it.
const IDLE_SILENCE: Duration = Duration::from_secs(5 * 60);
/// The most a batch fetches (the sizes come from `RFC822.SIZE` first): bounds the memory a
/// backlog takes, whatever `batch` says.
pub const MAX_BATCH_BYTES: u64 = 64 * 1024 * 1024;

/// A failure of the adapter, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImapError {
    /// The server or the network is away, or said something we could not follow: reconnect
    /// after a backoff.
    #[error("{reason}")]
    Transient { reason: String },
    /// The server refuses what the configuration asks (wrong password, unknown folder,
    /// untrusted certificate): nothing changes until an operator acts; retried slowly.
    #[error("{reason}")]
    Permanent { reason: String },
}

impl ImapError {
    fn transient(reason: impl Into<String>) -> Self {
        ImapError::Transient {
            reason: reason.into(),
        }
    }

    fn permanent(reason: impl Into<String>) -> Self {
        ImapError::Permanent {
            reason: reason.into(),
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, ImapError::Transient { .. })
    }
}

/// What was being done when an error came: the same server answer means different things at
/// different steps (a NO to LOGIN is a wrong password, a NO to FETCH a busy server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Connect,
    Login,
    Select,
    Fetch,
    Acknowledge,
    Idle,
}

impl Step {
    fn describe(self) -> &'static str {
        match self {
            Step::Connect => "connect",
            Step::Login => "login",
            Step::Select => "select",
            Step::Fetch => "fetch",
            Step::Acknowledge => "acknowledge",
            Step::Idle => "idle",
        }
    }
}

/// The one place protocol errors are classified.
///
/// - Lost connections, I/O, answers we cannot parse: transient (a new connection cures them).
/// - A NO to LOGIN/AUTHENTICATE: the credentials are refused, permanent; unless the server
///   says `[UNAVAILABLE]` (its authentication backend is down, RFC 5530), transient.
/// - A NO to SELECT: the folder is missing or forbidden, permanent.
/// - A NO to a fetch, flag or move: the server is busy or the message went meanwhile,
///   transient.
/// - BAD: the server does not accept our command (an extension it lacks), permanent.
/// - A value that cannot be sent (a line break in the user name): permanent.
pub fn classify(step: Step, error: &ImapProtoError) -> ImapError {
    let at = step.describe();
    match error {
        ImapProtoError::Io(e) => ImapError::transient(format!("{at}: {e}")),
        ImapProtoError::ConnectionLost => ImapError::transient(format!("{at}: connection lost")),
        ImapProtoError::Parse(e) => {
            ImapError::transient(format!("{at}: unreadable server answer: {e}"))
        }
        ImapProtoError::No(text) => match step {
            Step::Login if text.to_ascii_uppercase().contains("UNAVAILABLE") => {
                ImapError::transient(format!(
                    "login: the server cannot check credentials now: {text}"
                ))
            }
            Step::Login => ImapError::permanent(format!("login: authentication refused: {text}")),
            Step::Select => ImapError::permanent(format!("select: the folder is refused: {text}")),
            _ => ImapError::transient(format!("{at}: the server said no: {text}")),
        },
        ImapProtoError::Bad(text) => {
            ImapError::permanent(format!("{at}: the server rejected the command: {text}"))
        }
        ImapProtoError::Validate(e) => {
            ImapError::permanent(format!("{at}: a configured value cannot be sent: {e}"))
        }
        other => ImapError::transient(format!("{at}: {other}")),
    }
}

/// The byte stream under the IMAP session: TLS over TCP, or TCP alone (loopback only).
trait Io: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Io for T {}
type Stream = Box<dyn Io>;

/// A selected folder, as the server describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected {
    pub uidvalidity: u32,
    /// The number of messages in the folder.
    pub exists: u32,
}

/// A message listed for fetching: its UID and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    pub uid: u32,
    pub size: u64,
}

/// A fetched message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub uid: u32,
    pub body: Body,
}

/// What was fetched of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// The whole message.
    Whole(Vec<u8>),
    /// A message over the size limit: its header only, and its size.
    Oversized { header: Vec<u8>, size: u64 },
}

/// Why [`Connection::wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    /// The server announced a change (IDLE), or the poll interval passed.
    Changed,
    /// IDLE ran for `idle_renew` without news: it is re-issued.
    Renew,
    /// Shutdown was asked for.
    Shutdown,
}

/// A logged-in session with one folder selected.
pub struct Connection {
    session: Session<Stream>,
    /// The server announced IDLE (RFC 2177).
    pub idle: bool,
    /// The server announced MOVE (RFC 6851).
    move_command: bool,
    /// The server announced UIDPLUS (RFC 4315): `UID EXPUNGE` after a copy.
    uidplus: bool,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("idle", &self.idle)
            .field("move_command", &self.move_command)
            .finish_non_exhaustive()
    }
}

/// Runs `work` under `limit`; past it, the server is treated as gone.
async fn deadline<T>(
    step: Step,
    limit: Duration,
    work: impl Future<Output = Result<T, ImapError>>,
) -> Result<T, ImapError> {
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(ImapError::transient(format!(
            "{}: no answer within {} s",
            step.describe(),
            limit.as_secs()
        ))),
    }
}

impl Connection {
    /// Connects, logs in and reads the capabilities.
    pub async fn open(config: &MailboxConfig) -> Result<Connection, ImapError> {
        deadline(Step::Login, COMMAND_TIMEOUT, Self::open_inner(config)).await
    }

    async fn open_inner(config: &MailboxConfig) -> Result<Connection, ImapError> {
        let tcp = TcpStream::connect((config.host.as_str(), config.port))
            .await
            .map_err(|e| {
                ImapError::transient(format!(
                    "connect: cannot reach {}:{}: {e}",
                    config.host, config.port
                ))
            })?;
        let _ = tcp.set_nodelay(true);
        let stream: Stream = match config.tls {
            TlsMode::Implicit => Box::new(tls(config, tcp).await?),
            TlsMode::Plain => Box::new(tcp),
            TlsMode::StartTls => {
                let mut client = Client::new(tcp);
                greeting(&mut client).await?;
                client
                    .run_command_and_check_ok("STARTTLS", None)
                    .await
                    .map_err(|e| classify(Step::Connect, &e))?;
                Box::new(tls(config, client.into_inner()).await?)
            }
        };
        let mut client = Client::new(stream);
        if config.tls != TlsMode::StartTls {
            greeting(&mut client).await?;
        }
        let mut session = login(client, config).await?;
        let capabilities = session
            .capabilities()
            .await
            .map_err(|e| classify(Step::Login, &e))?;
        Ok(Connection {
            idle: capabilities.has_str("IDLE"),
            move_command: capabilities.has_str("MOVE"),
            uidplus: capabilities.has_str("UIDPLUS"),
            session,
        })
    }

    /// Selects the folder (read-write: flags and moves need it). A move target that does not
    /// exist yet is created, so that acknowledging never fails on it.
    pub async fn select(&mut self, config: &MailboxConfig) -> Result<Selected, ImapError> {
        deadline(Step::Select, COMMAND_TIMEOUT, async {
            if let AfterCommit::Move(target) = &config.after {
                self.ensure_folder(target).await?;
            }
            let mailbox = self
                .session
                .select(mailbox_name(&config.folder))
                .await
                .map_err(|e| classify(Step::Select, &e))?;
            let Some(uidvalidity) = mailbox.uid_validity else {
                return Err(ImapError::permanent(
                    "select: the server gave no UIDVALIDITY (required by IMAP4rev1)",
                ));
            };
            Ok(Selected {
                uidvalidity,
                exists: mailbox.exists,
            })
        })
        .await
    }

    async fn ensure_folder(&mut self, folder: &str) -> Result<(), ImapError> {
        let folder = mailbox_name(folder);
        let names: Vec<_> = self
            .session
            .list(Some(""), Some(&folder))
            .await
            .map_err(|e| classify(Step::Select, &e))?
            .try_collect()
            .await
            .map_err(|e| classify(Step::Select, &e))?;
        if names.iter().any(|n| n.name() == folder) {
            return Ok(());
        }
        self.session.create(&folder).await.map_err(|e| {
            ImapError::permanent(format!(
                "select: the folder to move messages to cannot be created: {}",
                classify(Step::Select, &e)
            ))
        })
    }

    /// The messages above `after`, in UID order, with their sizes.
    pub async fn list_after(&mut self, after: u32) -> Result<Vec<Listed>, ImapError> {
        let Some(first) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        deadline(Step::Fetch, COMMAND_TIMEOUT, async {
            let fetches: Vec<_> = self
                .session
                .uid_fetch(format!("{first}:*"), "(UID RFC822.SIZE)")
                .await
                .map_err(|e| classify(Step::Fetch, &e))?
                .try_collect()
                .await
                .map_err(|e| classify(Step::Fetch, &e))?;
            let mut listed: Vec<Listed> = fetches
                .iter()
                .filter_map(|f| {
                    // `N:*` names the last message even when its UID is below N (RFC 3501
                    // section 6.4.8): only UIDs above `after` are new.
                    let uid = f.uid.filter(|&u| u > after)?;
                    Some(Listed {
                        uid,
                        size: u64::from(f.size.unwrap_or(0)),
                    })
                })
                .collect();
            listed.sort_by_key(|l| l.uid);
            listed.dedup_by_key(|l| l.uid);
            Ok(listed)
        })
        .await
    }

    /// Fetches the listed messages, in UID order: whole when at most `limit` bytes, else their
    /// header only. `BODY.PEEK` leaves `\Seen` alone: acknowledging is a separate step.
    pub async fn fetch(
        &mut self,
        batch: &[Listed],
        limit: usize,
    ) -> Result<Vec<Fetched>, ImapError> {
        let limit = limit as u64;
        let (whole, oversized): (Vec<Listed>, Vec<Listed>) =
            batch.iter().partition(|l| l.size <= limit);
        let mut fetched = Vec::with_capacity(batch.len());
        if !whole.is_empty() {
            let set = uid_set(whole.iter().map(|l| l.uid));
            let bodies = self.fetch_section(&set, "BODY.PEEK[]").await?;
            for (uid, data) in bodies {
                if data.len() as u64 > limit {
                    // The size announced was wrong: the limit holds anyway.
                    let header = header_of(&data).to_vec();
                    fetched.push(Fetched {
                        uid,
                        body: Body::Oversized {
                            header,
                            size: data.len() as u64,
                        },
                    });
                } else {
                    fetched.push(Fetched {
                        uid,
                        body: Body::Whole(data),
                    });
                }
            }
        }
        if !oversized.is_empty() {
            let set = uid_set(oversized.iter().map(|l| l.uid));
            let headers = self.fetch_section(&set, "BODY.PEEK[HEADER]").await?;
            for (uid, header) in headers {
                let size = oversized
                    .iter()
                    .find(|l| l.uid == uid)
                    .map_or(0, |l| l.size);
                fetched.push(Fetched {
                    uid,
                    body: Body::Oversized { header, size },
                });
            }
        }
        fetched.sort_by_key(|f| f.uid);
        Ok(fetched)
    }

    async fn fetch_section(
        &mut self,
        set: &str,
        section: &str,
    ) -> Result<Vec<(u32, Vec<u8>)>, ImapError> {
        deadline(Step::Fetch, FETCH_TIMEOUT, async {
            let mut stream = self
                .session
                .uid_fetch(set, format!("(UID {section})"))
                .await
                .map_err(|e| classify(Step::Fetch, &e))?;
            let mut out = Vec::new();
            while let Some(fetch) = stream.next().await {
                let fetch = fetch.map_err(|e| classify(Step::Fetch, &e))?;
                let Some(uid) = fetch.uid else { continue };
                let data = if section.ends_with("[HEADER]") {
                    fetch.header()
                } else {
                    fetch.body()
                };
                // A FETCH without the section is a flag change the server reports on its own.
                if let Some(data) = data {
                    out.push((uid, data.to_vec()));
                }
            }
            Ok(out)
        })
        .await
    }

    /// Acknowledges the messages `first..=last` (UIDs) as the configuration says: flag them
    /// `\Seen`, move them, or nothing. UIDs no longer in the folder are ignored by the server.
    pub async fn acknowledge(
        &mut self,
        after: &AfterCommit,
        (first, last): (u32, u32),
    ) -> Result<(), ImapError> {
        if first > last || *after == AfterCommit::Leave {
            return Ok(());
        }
        let set = format!("{first}:{last}");
        deadline(Step::Acknowledge, COMMAND_TIMEOUT, async {
            let step = Step::Acknowledge;
            match after {
                AfterCommit::Leave => Ok(()),
                AfterCommit::Seen => self.store_flags(&set, "+FLAGS.SILENT (\\Seen)").await,
                AfterCommit::Move(target) if self.move_command => self
                    .session
                    .uid_mv(&set, mailbox_name(target))
                    .await
                    .map_err(|e| classify(step, &e)),
                AfterCommit::Move(target) => {
                    // No MOVE: copy, then flag the original deleted, and expunge only these
                    // UIDs (UIDPLUS); without UIDPLUS an EXPUNGE would also remove what a
                    // person flagged deleted, so the originals stay, flagged.
                    self.session
                        .uid_copy(&set, mailbox_name(target))
                        .await
                        .map_err(|e| classify(step, &e))?;
                    self.store_flags(&set, "+FLAGS.SILENT (\\Seen \\Deleted)")
                        .await?;
                    if self.uidplus {
                        let expunged: Vec<_> = self
                            .session
                            .uid_expunge(&set)
                            .await
                            .map_err(|e| classify(step, &e))?
                            .try_collect()
                            .await
                            .map_err(|e| classify(step, &e))?;
                        drop(expunged);
                    }
                    Ok(())
                }
            }
        })
        .await
    }

    async fn store_flags(&mut self, set: &str, change: &str) -> Result<(), ImapError> {
        let step = Step::Acknowledge;
        let answers: Vec<_> = self
            .session
            .uid_store(set, change)
            .await
            .map_err(|e| classify(step, &e))?
            .try_collect()
            .await
            .map_err(|e| classify(step, &e))?;
        drop(answers);
        Ok(())
    }

    /// Waits for news: IDLE for at most `renew` when the server has it, else `poll`. Returns
    /// at once when `shutdown` fires.
    pub async fn wait(
        self,
        (renew, poll): (Duration, Duration),
        shutdown: &Shutdown,
    ) -> Result<(Connection, Woke), ImapError> {
        if !self.idle {
            return tokio::select! {
                _ = shutdown.cancelled() => Ok((self, Woke::Shutdown)),
                _ = tokio::time::sleep(poll) => Ok((self, Woke::Changed)),
            };
        }
        let Connection {
            session,
            idle,
            move_command,
            uidplus,
        } = self;
        let mut handle = session.idle();
        deadline(Step::Idle, COMMAND_TIMEOUT, async {
            handle.init().await.map_err(|e| classify(Step::Idle, &e))
        })
        .await?;
        let woke = {
            // async-imap's timeout counts silence, and servers send keep-alives (Dovecot's
            // "* OK Still here" every 2 minutes): the renewal needs a clock of its own.
            let (answer, stop) = handle.wait_with_timeout(IDLE_SILENCE.min(renew));
            tokio::pin!(answer);
            tokio::select! {
                r = &mut answer => match r.map_err(|e| classify(Step::Idle, &e))? {
                    IdleResponse::NewData(_) => Woke::Changed,
                    IdleResponse::Timeout => Woke::Renew,
                    // Not interrupted by us: the server closed the stream.
                    IdleResponse::ManualInterrupt => {
                        return Err(ImapError::transient("idle: connection closed by the server"));
                    }
                },
                _ = tokio::time::sleep(renew) => {
                    drop(stop);
                    let _ = answer.await;
                    Woke::Renew
                }
                _ = shutdown.cancelled() => {
                    drop(stop);
                    let _ = answer.await;
                    Woke::Shutdown
                }
            }
        };
        let session = deadline(Step::Idle, COMMAND_TIMEOUT, async {
            handle.done().await.map_err(|e| classify(Step::Idle, &e))
        })
        .await?;
        Ok((
            Connection {
                session,
                idle,
                move_command,
                uidplus,
            },
            woke,
        ))
    }

    /// Says goodbye; errors do not matter any more.
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.session.logout()).await;
    }
}

/// Splits the listed messages into batches of at most `count` messages and
/// [`MAX_BATCH_BYTES`] (a message larger than that alone makes a batch of one).
pub fn batches(listed: &[Listed], count: usize) -> Vec<&[Listed]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (i, l) in listed.iter().enumerate() {
        let len = i - start;
        if len > 0 && (len >= count.max(1) || bytes + l.size > MAX_BATCH_BYTES) {
            out.push(&listed[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += l.size;
    }
    if start < listed.len() {
        out.push(&listed[start..]);
    }
    out
}

/// `1,2,5,9` — UIDs written out; runs of consecutive ones as `a:b`.
fn uid_set(uids: impl Iterator<Item = u32>) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for uid in uids {
        match runs.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(uid) => *end = uid,
            _ => runs.push((uid, uid)),
        }
    }
    runs.iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}:{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A folder name as IMAP writes it: modified UTF-7 (RFC 3501 section 5.1.3), so that
/// `Traités` or `Archivé/2026` reach an IMAP4rev1 server. Printable ASCII stands for itself
/// (`&` as `&-`); other runs are UTF-16 in base64 with `,` for `/`, between `&` and `-`.
/// (The `utf7-imap` crate does this with a regex engine and an old base64; it is 20 lines.)
pub fn mailbox_name(name: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    fn flush(units: &mut Vec<u16>, out: &mut String) {
        if units.is_empty() {
            return;
        }
        let bytes: Vec<u8> = units.drain(..).flat_map(u16::to_be_bytes).collect();
        out.push('&');
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            }
        }
        out.push('-');
    }
    let mut out = String::with_capacity(name.len());
    let mut units = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut units, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            units.extend(c.encode_utf16(&mut [0; 2]).iter().copied());
        }
    }
    flush(&mut units, &mut out);
    out
}

/// The header of a raw message: up to the first empty line.
fn header_of(data: &[u8]) -> &[u8] {
    for end in [&b"\r\n\r\n"[..], b"\n\n"] {
        if let Some(at) = data.windows(end.len()).position(|w| w == end) {
            return &data[..at + end.len()];
        }
    }
    &data[..data.len().min(64 * 1024)]
}

/// Reads the server's greeting, which `Client::new` does not.
async fn greeting<T>(client: &mut Client<T>) -> Result<(), ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug,
{
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(ImapError::transient(
            "connect: the server closed the connection before its greeting",
        )),
        Err(e) => Err(ImapError::transient(format!("connect: {e}"))),
    }
}

async fn tls(
    config: &MailboxConfig,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ImapError> {
    let connector = tls_connector(config.ca_file.as_deref())?;
    let name = ServerName::try_from(config.host.clone()).map_err(|e| {
        ImapError::permanent(format!(
            "connect: {:?} is not a server name: {e}",
            config.host
        ))
    })?;
    connector.connect(name, tcp).await.map_err(|e| {
        // rustls reports a certificate it does not trust as InvalidData: the configuration
        // (ca_file) or the server's certificate has to change.
        if e.kind() == std::io::ErrorKind::InvalidData {
            ImapError::permanent(format!("connect: TLS refused: {e}"))
        } else {
            ImapError::transient(format!("connect: TLS handshake failed: {e}"))
        }
    })
}

/// The TLS client: the public CAs, plus those of `ca_file`, on the aws-lc-rs provider (named
/// here: with no default set, rustls would pick one at run time and fail if two were built).
fn tls_connector(ca_file: Option<&Path>) -> Result<TlsConnector, ImapError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                ImapError::permanent(format!(
                    "connect: cannot read ca_file {}: {e}",
                    path.display()
                ))
            })?;
        for cert in certs {
            roots.add(cert).map_err(|e| {
                ImapError::permanent(format!(
                    "connect: a certificate of ca_file {} is not usable: {e}",
                    path.display()
                ))
            })?;
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ImapError::permanent(format!("connect: TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

async fn login(
    client: Client<Stream>,
    config: &MailboxConfig,
) -> Result<Session<Stream>, ImapError> {
    let refused = |(e, _client): (ImapProtoError, Client<Stream>)| classify(Step::Login, &e);
    match &config.auth {
        ServerAuth::Login(password) => client
            .login(&config.user, password.expose())
            .await
            .map_err(refused),
        ServerAuth::Plain(password) => {
            let auth = SaslOnce(Some(
                format!("\0{}\0{}", config.user, password.expose()).into_bytes(),
            ));
            client.authenticate("PLAIN", auth).await.map_err(refused)
        }
        ServerAuth::XOAuth2(source) => {
            // Read anew for each connection, so that a refresher can rotate it.
            let token = super::oauth2::read_token(source)
                .await
                .map_err(|e| ImapError::permanent(format!("login: {e}")))?;
            let auth = SaslOnce(Some(
                format!("user={}\x01auth=Bearer {token}\x01\x01", config.user).into_bytes(),
            ));
            client.authenticate("XOAUTH2", auth).await.map_err(refused)
        }
    }
}

/// A SASL mechanism with one message: the credentials first, then empty answers. XOAUTH2
/// servers answer a refused token with a challenge holding the error, which the client must
/// answer empty to get the final NO.
struct SaslOnce(Option<Vec<u8>>);

impl async_imap::Authenticator for SaslOnce {
    type Response = Vec<u8>;
    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        self.0.take().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(sizes: &[u64]) -> Vec<Listed> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| Listed {
                uid: i as u32 + 1,
                size,
            })
            .collect()
    }

    #[test]
    fn batches_stop_at_their_count_and_their_bytes() {
        let mib = 1024 * 1024;
        let table: [(&[u64], usize, &[usize]); 6] = [
            (&[], 10, &[]),
            (&[1, 1, 1], 10, &[3]),
            (&[1, 1, 1, 1, 1], 2, &[2, 2, 1]),
            (&[40 * mib, 40 * mib, 10], 10, &[1, 2]),
            (&[100 * mib, 1, 1], 10, &[1, 2]),
            (&[1, 1], 0, &[1, 1]),
        ];
        for (sizes, count, expected) in table {
            let all = listed(sizes);
            let got: Vec<usize> = batches(&all, count).iter().map(|b| b.len()).collect();
            assert_eq!(got, expected, "{sizes:?} by {count}");
        }
    }

    #[test]
    fn uid_sets_join_runs() {
        let table: [(&[u32], &str); 4] = [
            (&[7], "7"),
            (&[1, 2, 3], "1:3"),
            (&[1, 2, 5, 7, 8, 9], "1:2,5,7:9"),
            (&[u32::MAX - 1, u32::MAX], "4294967294:4294967295"),
        ];
        for (uids, expected) in table {
            assert_eq!(uid_set(uids.iter().copied()), expected);
        }
    }

    #[test]
    fn folder_names_are_written_in_modified_utf7() {
        let table = [
            ("INBOX", "INBOX"),
            ("Traités", "Trait&AOk-s"),
            ("A&B", "A&-B"),
            // RFC 3501 section 5.1.3's example.
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("Archivé/2026", "Archiv&AOk-/2026"),
            ("😀", "&2D3eAA-"),
        ];
        for (name, expected) in table {
            assert_eq!(mailbox_name(name), expected, "{name}");
        }
    }

    #[test]
    fn the_header_ends_at_the_first_empty_line() {
        assert_eq!(
            header_of(b"A: 1\r\nB: 2\r\n\r\nbody"),
            b"A: 1\r\nB: 2\r\n\r\n"
        );
        assert_eq!(header_of(b"A: 1\n\nbody\n\nmore"), b"A: 1\n\n");
        assert_eq!(header_of(b"A: 1\r\n"), b"A: 1\r\n");
    }

    #[test]
    fn errors_are_classified_by_the_step_they_come_from() {
        use std::io;
        let no = |text: &str| ImapProtoError::No(text.to_owned());
        let table: Vec<(Step, ImapProtoError, bool)> = vec![
            (
                Step::Connect,
                ImapProtoError::Io(io::Error::from(io::ErrorKind::ConnectionRefused)),
                true,
            ),
            (Step::Idle, ImapProtoError::ConnectionLost, true),
            (
                Step::Login,
                no("code: None, info: Some(\"[AUTHENTICATIONFAILED] Authentication failed.\")"),
                false,
            ),
            (
                Step::Login,
                no("code: None, info: Some(\"[UNAVAILABLE] Temporary authentication failure.\")"),
                true,
            ),
            (Step::Select, no("Mailbox doesn't exist: Support"), false),
            (Step::Fetch, no("Some messages could not be FETCHed"), true),
            (Step::Acknowledge, no("[SERVERBUG] Internal error"), true),
            (
                Step::Fetch,
                ImapProtoError::Bad("Unknown command".to_owned()),
                false,
            ),
        ];
        for (step, error, transient) in table {
            let got = classify(step, &error);
            assert_eq!(got.is_transient(), transient, "{step:?} {error}: {got}");
            assert!(got.to_string().starts_with(step.describe()), "{got}");
        }
    }
}
