//! Configuration: one TOML file plus `GUICHET_` environment overrides, validated into one
//! [`Config`] value. Every bad key is reported at once, with its path.
//!
//! This module owns reading and validating the file and the secrets it points to; it does not
//! touch the database or the network. Relative paths: `daemon.data_dir` is relative to the
//! working directory; every other path is relative to `data_dir`.

mod calendars;
mod checks;
mod cursor;
pub mod defaults;
mod describe;
mod env;
mod load;
mod mailboxes;
mod schema;
pub mod sla;
mod smtp;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::domain::TenantId;
use crate::domain::calendar::Calendar;
use crate::domain::routing::{KindRules, OfferAddresses, UnknownSenderPolicy};

pub use load::{ConfigError, ConfigErrors, load, load_from_str};

/// The smallest configuration the crate's own unit tests run on: one institution and offer
/// SMSU (`support-smsu@esup-portail.example`), data in `data_dir`, `daemon` lines added to
/// `[daemon]`. Integration tests have theirs in `tests/common`.
#[cfg(test)]
pub(crate) fn for_unit_tests(data_dir: &std::path::Path, daemon: &str) -> Config {
    let text = format!(
        r#"
[daemon]
data_dir = "{data}"
{daemon}

[[institutions]]
key = "univ-rennes"
name = "Université de Rennes"
domains = ["univ-rennes.example"]

[[offers]]
code = "SMSU"
name = "SMS Universitaire"
provider = "univ-rennes"
support_addresses = ["support-smsu@esup-portail.example"]
"#,
        data = data_dir.display()
    );
    load_from_str(&text, &[]).unwrap_or_else(|e| panic!("unit test configuration: {e}"))
}

#[derive(Debug, Clone)]
pub struct Config {
    pub daemon: DaemonConfig,
    pub storage: StorageConfig,
    pub mail: MailConfig,
    pub offers: Vec<OfferConfig>,
    pub institutions: Vec<InstitutionConfig>,
    pub contacts: Vec<ContactConfig>,
    /// `[calendars.NAME]` by name, with the built-in `esup` (replaced by a `[calendars.esup]`
    /// table): every calendar an offer may name, used or not.
    pub calendars: BTreeMap<String, Arc<Calendar>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

impl LogFormat {
    /// The word of `daemon.log_format`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Human => "human",
            LogFormat::Json => "json",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// `daemon.data_dir`, default [`defaults::DATA_DIR`].
    pub data_dir: PathBuf,
    /// `daemon.log_format`: `human` or `json` (default [`defaults::LOG_FORMAT`]).
    pub log_format: LogFormat,
    /// `daemon.log_level`: a tracing filter such as `info` or `guichet=debug` (default
    /// [`defaults::LOG_LEVEL`]).
    pub log_level: String,
    /// `daemon.shutdown_grace_secs` (default [`defaults::SHUTDOWN_GRACE_SECS`]): how long SIGTERM waits for work in flight.
    pub shutdown_grace: Duration,
    /// `daemon.max_message_bytes` (default [`defaults::MAX_MESSAGE_BYTES`]): larger mail goes to quarantine.
    pub max_message_bytes: usize,
    /// `daemon.maildir_poll_ms` (default [`defaults::MAILDIR_POLL_MS`]): how often Maildir `new/` folders are scanned.
    pub maildir_poll: Duration,
    /// `daemon.outbox_poll_ms` (default [`defaults::OUTBOX_POLL_MS`]): how often the outbox is scanned for due mail.
    pub outbox_poll: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dsn {
    /// `sqlite://PATH` (relative to data_dir); default `sqlite://` + [`defaults::SQLITE_FILE`].
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, as given (the password may come separately).
    Postgres(String),
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// `storage.dsn`.
    pub dsn: Dsn,
    /// `storage.password` / `storage.password_file` / `GUICHET_STORAGE__PASSWORD`: the
    /// PostgreSQL password, kept out of the DSN so the DSN can be printed.
    pub password: Option<Secret>,
    /// `storage.max_connections` (default [`defaults::MAX_CONNECTIONS`]).
    pub max_connections: u32,
    /// `storage.connect_timeout_secs` (default [`defaults::CONNECT_TIMEOUT_SECS`]): how long to wait for the database before
    /// `deliver` gives up with EX_TEMPFAIL.
    pub connect_timeout: Duration,
    /// `storage.sqlite_one_cpu` (default true): on SQLite, `guichet run` keeps its threads
    /// on one CPU, the parser's aside ([`crate::affinity`]).
    pub sqlite_one_cpu: bool,
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `mail.transport` (default [`defaults::MAIL_TRANSPORT`]) with `[mail.smtp]`: how mail
    /// leaves.
    pub transport: MailTransport,
    /// `mail.outbox_dir` (default [`defaults::OUTBOX_DIR`], in data_dir): where `.eml` files are written.
    pub outbox_dir: PathBuf,
    /// `mail.message_id_domain`: the right-hand side of our Message-IDs (default: the domain of
    /// the first offer's first support address, else [`defaults::FALLBACK_MESSAGE_ID_DOMAIN`]).
    pub message_id_domain: String,
    /// `mail.hmac_key` / `mail.hmac_key_file` / `GUICHET_MAIL__HMAC_KEY`: signs reply tokens.
    pub hmac_key: Option<Secret>,
    /// `mail.templates_dir` (optional): templates here override the built-in ones.
    pub templates_dir: Option<PathBuf>,
    /// `mail.retry_for_hours` (default [`defaults::RETRY_FOR_HOURS`]): how long a mail that
    /// cannot be delivered for now is tried again before it is given up (a dead letter).
    pub retry_for: chrono::Duration,
    /// `mail.bounce_suppress_days` (default [`defaults::BOUNCE_SUPPRESS_DAYS`]): how long an
    /// address that hard-bounced gets no mail from us.
    pub bounce_suppress: chrono::Duration,
    /// `mail.ack_limit` and `mail.ack_limit_window_minutes` (defaults
    /// [`defaults::ACK_LIMIT`] per [`defaults::ACK_LIMIT_WINDOW_MINUTES`]): acknowledgements
    /// one sender gets at most within the window.
    pub ack_limit: crate::domain::loop_guard::AckLimit,
    /// `mail.recipient_limit`, `mail.ticket_limit` (each with its `_window_minutes`) and
    /// `mail.coalesce_minutes` (defaults [`defaults::RECIPIENT_LIMIT`],
    /// [`defaults::TICKET_LIMIT`], [`defaults::COALESCE_MINUTES`]): the brakes against mail
    /// storms.
    pub throttle: crate::domain::throttle::Policy,
    /// `mail.max_attachment_bytes` (default [`defaults::MAX_ATTACHMENT_BYTES`]): the files
    /// of one agent's reply together, at most; a larger reply is refused before anything is
    /// queued.
    pub max_attachment_bytes: usize,
}

#[derive(Debug, Clone)]
pub struct OfferConfig {
    /// `offers[].code`: the tenant id, e.g. `SMSU`.
    pub code: TenantId,
    /// `offers[].name`.
    pub name: String,
    /// `offers[].provider`: key of the providing institution (must exist in `institutions`).
    pub provider: String,
    /// `offers[].support_addresses`: at least one; the first is the From of outbound mail.
    pub support_addresses: Vec<String>,
    /// `offers[].locale`: `fr` or `en` (default [`defaults::LOCALE`]).
    pub locale: String,
    /// `offers[].templates_dir` (optional, in data_dir): templates here override, for this
    /// offer's mail only, the global ones (`mail.templates_dir`) and the built-in ones.
    pub templates_dir: Option<PathBuf>,
    /// `offers[].reopen_window_days` (default [`defaults::REOPEN_WINDOW_DAYS`]).
    pub reopen_window: chrono::Duration,
    /// `offers[].unknown_sender`: `create_in_institution`, `create_unaffiliated` or `refuse`
    /// (default [`defaults::UNKNOWN_SENDER`]).
    pub unknown_sender: UnknownSenderPolicy,
    /// `offers[].maildir` (default [`defaults::MAILDIR_DIR`]`/CODE` in data_dir).
    pub maildir: PathBuf,
    /// `[[offers.mailboxes]]`: the IMAP mailboxes the offer reads (default none).
    pub mailboxes: Vec<MailboxConfig>,
    /// `offers[].default_kind` (default [`defaults::DEFAULT_KIND`]) and
    /// `offers[].kind_by_address` over [`defaults::KIND_SUFFIXES`]: the kind of the tickets
    /// its mail opens ([`crate::domain::routing::kind_for`]).
    pub kinds: KindRules,
    /// `offers[].max_message_bytes` (default `daemon.max_message_bytes`): larger mail to this
    /// offer goes to its quarantine, with its header and size only.
    pub max_message_bytes: usize,
    /// `[offers.sla]`: the offer's service levels (default
    /// [`crate::domain::sla::Policy::esup_default`]).
    pub sla: crate::domain::sla::Policy,
    /// `[offers.jobs]`: the offer's scheduled jobs.
    pub jobs: sla::Jobs,
    /// `offers[].calendar` (default [`defaults::CALENDAR`]): the name of the calendar below.
    pub calendar_name: String,
    /// The business hours the offer's SLA deadlines, reminders and reports count in: the
    /// calendar `calendar_name` names in `Config::calendars` (shared with it).
    pub calendar: Arc<Calendar>,
}

/// One IMAP mailbox an offer reads (`[[offers.mailboxes]]`).
#[derive(Debug, Clone)]
pub struct MailboxConfig {
    /// `name` (default `USER@HOST/FOLDER`): names the mailbox in logs, metrics and the store,
    /// where its UIDVALIDITY and last UID are kept. Unique in the file.
    pub name: String,
    /// `host`, lower-cased.
    pub host: String,
    /// `port` (default [`defaults::IMAPS_PORT`] with implicit TLS, else
    /// [`defaults::IMAP_PORT`]).
    pub port: u16,
    /// `tls`: `implicit`, `starttls` or `plain` (default [`defaults::IMAP_TLS`]); `plain` only
    /// for a server on this machine.
    pub tls: TlsMode,
    /// `user`: the login name.
    pub user: String,
    /// `auth` (`login` by default, `plain` or `xoauth2`) with its secret.
    pub auth: ServerAuth,
    /// `ca_file` (optional): a PEM file of CAs trusted besides the public ones (a university's
    /// own CA, a test server's self-signed certificate).
    pub ca_file: Option<PathBuf>,
    /// `folder` (default [`defaults::IMAP_FOLDER`]).
    pub folder: String,
    /// `after` (`seen` by default, `move` with `move_to`, or `leave`): what is done to a
    /// message on the server once it is safely stored.
    pub after: AfterCommit,
    /// `poll_secs` (default [`defaults::IMAP_POLL_SECS`]): how often a server without IDLE is
    /// asked for new mail.
    pub poll: Duration,
    /// `idle_renew_secs` (default [`defaults::IMAP_IDLE_RENEW_SECS`]): IDLE is ended and sent
    /// again after this long, under the 29 minutes of RFC 2177.
    pub idle_renew: Duration,
    /// `batch` (default [`defaults::IMAP_BATCH`]): messages asked for in one `UID FETCH`.
    pub batch: usize,
}

/// How outbound mail leaves.
#[derive(Debug, Clone)]
pub enum MailTransport {
    /// `file`: written as `.eml` files into `mail.outbox_dir`, for a demo, a test or a
    /// staging setup: nobody receives them.
    File,
    /// `smtp`: handed to the relay of `[mail.smtp]`.
    Smtp(SmtpConfig),
}

/// `[mail.smtp]`: the relay outbound mail is handed to (the university's submission server,
/// Microsoft 365, a Postfix on this machine).
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// `host`, lower-cased.
    pub host: String,
    /// `port` (default [`defaults::SMTPS_PORT`] with implicit TLS,
    /// [`defaults::SUBMISSION_PORT`] with STARTTLS, [`defaults::SMTP_PORT`] plain).
    pub port: u16,
    /// `tls`: `implicit`, `starttls` or `plain` (default [`defaults::SMTP_TLS`]); `plain`
    /// only for a relay on this machine.
    pub tls: TlsMode,
    /// `user` with `auth` and its secret (as a mailbox's); `None`: the relay takes mail
    /// without a login.
    pub login: Option<(String, ServerAuth)>,
    /// `ca_file` (optional): a PEM file of CAs trusted besides the public ones.
    pub ca_file: Option<PathBuf>,
    /// `timeout_secs` (default [`defaults::SMTP_TIMEOUT_SECS`]): to connect, and for each
    /// command.
    pub timeout: Duration,
    /// `pool_size` (default [`defaults::SMTP_POOL_SIZE`]): connections kept open to the
    /// relay.
    pub pool_size: u32,
}

/// How the connection to a mail server (IMAP or SMTP) is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (IMAPS, port 993).
    Implicit,
    /// Plain connection upgraded with STARTTLS before logging in (port 143).
    StartTls,
    /// No TLS: only for a server on this machine.
    Plain,
}

/// How guichet logs in to a mail server: an IMAP mailbox, or the SMTP relay.
#[derive(Debug, Clone)]
pub enum ServerAuth {
    /// The LOGIN command with a password.
    Login(Secret),
    /// AUTHENTICATE PLAIN (RFC 4616) with a password.
    Plain(Secret),
    /// AUTHENTICATE XOAUTH2 (Microsoft 365, Google) with an access token read anew at each
    /// connection, so that an operator's refresher can keep it current.
    XOAuth2(TokenSource),
}

/// Where an OAuth2 access token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `oauth2_token_file`: the token is the file's content (trailing newline removed).
    File(PathBuf),
    /// `oauth2_token_command`: run with `sh -c`, the token is what it prints.
    Command(String),
}

/// What happens to a message on the server once it is stored. The UID bookkeeping never
/// depends on it: guichet remembers the last UID it stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterCommit {
    /// Flag it `\Seen`.
    Seen,
    /// Move it to this folder.
    Move(String),
    /// Leave it as it is.
    Leave,
}

#[derive(Debug, Clone)]
pub struct InstitutionConfig {
    /// `institutions[].key`: a short stable name, referenced by offers and contacts.
    pub key: String,
    /// `institutions[].name`.
    pub name: String,
    /// `institutions[].domains`: mail domains, lower-cased.
    pub domains: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Requester,
    Agent,
    Governance,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Agent => "agent",
            Role::Governance => "governance",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ContactConfig {
    /// `contacts[].name`.
    pub name: String,
    /// `contacts[].emails`, lower-cased.
    pub emails: Vec<String>,
    /// `contacts[].matrix_ids` (`@user:server`).
    pub matrix_ids: Vec<String>,
    /// `contacts[].institution`: an institution key, or none.
    pub institution: Option<String>,
    /// `contacts[].roles`: `{ SMSU = ["agent"], GEFORP = ["requester"] }`.
    pub roles: Vec<(TenantId, Vec<Role>)>,
    /// `contacts[].locale`: `fr` or `en`, the language of the mail they get, whatever the
    /// offer's. `None`: the language their own mail declares, else the offer's.
    pub locale: Option<String>,
}

impl Config {
    /// The largest message any offer takes in (`offers[].max_message_bytes`, which default to
    /// `daemon.max_message_bytes`): how much of a message is read before the offer is known.
    pub fn largest_message_bytes(&self) -> usize {
        self.offers
            .iter()
            .map(|o| o.max_message_bytes)
            .fold(self.daemon.max_message_bytes, usize::max)
    }

    pub fn offer(&self, code: &str) -> Option<&OfferConfig> {
        self.offers
            .iter()
            .find(|o| o.code.as_str().eq_ignore_ascii_case(code))
    }

    /// Every offer's support addresses, for recipient routing.
    pub fn offer_addresses(&self) -> Vec<OfferAddresses<'_>> {
        self.offers
            .iter()
            .map(|o| OfferAddresses {
                offer: &o.code,
                addresses: &o.support_addresses,
            })
            .collect()
    }

    /// The SQLite database file (its DSN path joined onto `data_dir`), or `None` on PostgreSQL.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.storage.dsn {
            Dsn::Sqlite(path) => Some(self.daemon.data_dir.join(path)),
            Dsn::Postgres(_) => None,
        }
    }
}

/// A secret value: printed and logged as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
