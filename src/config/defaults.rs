//! Every default of the configuration, written once: the reader (`schema.rs`) falls back to
//! these, the field docs in `mod.rs` link to them, and a test checks that
//! `deploy/guichet.example.toml` (the reference of every key) states the same values.
//!
//! Each constant says where its value comes from. Changing one changes what runs: update the
//! example file's comment in the same commit (the test fails until then).

use crate::domain::TicketKind;
use crate::domain::routing::UnknownSenderPolicy;

use super::{LogFormat, TlsMode};

/// `daemon.data_dir`: a folder next to where guichet is started, so the demo in the README
/// runs without any setup (production sets an absolute path).
pub const DATA_DIR: &str = "./data";
/// `daemon.log_format`: people read the logs of a first run; journald or Loki ask for `json`.
pub const LOG_FORMAT: LogFormat = LogFormat::Human;
/// `daemon.log_level`: the usual tracing default, one line per message handled.
pub const LOG_LEVEL: &str = "info";
/// `daemon.shutdown_grace_secs`: below systemd's default `TimeoutStopSec` (90 s) with room to
/// spare, and far above the time one message takes to store.
pub const SHUTDOWN_GRACE_SECS: u64 = 20;
/// `daemon.max_message_bytes`: 25 MiB, the message size limit of the large mail providers
/// (Gmail, Outlook), so anything a contact could send through them is taken in.
pub const MAX_MESSAGE_BYTES: usize = 25 * 1024 * 1024;
/// `daemon.maildir_poll_ms`: a second keeps a mail's wait short for the price of one
/// directory listing per offer and second.
pub const MAILDIR_POLL_MS: u64 = 1000;
/// `daemon.outbox_poll_ms`: as the Maildir scan, one cheap indexed query a second.
pub const OUTBOX_POLL_MS: u64 = 1000;
/// `storage.dsn` is `sqlite://` followed by this file, relative to `data_dir`: SQLite needs no
/// server, so the default configuration runs as it is.
pub const SQLITE_FILE: &str = "guichet.db";
/// `storage.max_connections`: sqlx's own pool default is 10; 8 stays under a small
/// PostgreSQL's `max_connections` (100) with several daemons and one-shot commands.
pub const MAX_CONNECTIONS: u32 = 8;
/// `storage.connect_timeout_secs`: `guichet deliver` gives up (EX_TEMPFAIL, the MTA retries)
/// well before Postfix's pipe command timeout (`command_time_limit`, 1000 s).
pub const CONNECT_TIMEOUT_SECS: u64 = 5;
/// `mail.outbox_dir`, relative to `data_dir`: next to the database it belongs with.
pub const OUTBOX_DIR: &str = "outbox";
/// `mail.message_id_domain` when no offer is configured (else the first offer's first support
/// address's domain): `.invalid` is reserved by RFC 2606, so Message-IDs built on it can never
/// collide with a real domain's. Nothing is sent then anyway.
pub const FALLBACK_MESSAGE_ID_DOMAIN: &str = "guichet.invalid";
/// `mail.retry_for_hours`: a notification more than a day late is news nobody needs any
/// more (the ticket has moved on), while a relay down for a night is still waited for.
pub const RETRY_FOR_HOURS: u64 = 24;
/// `mail.bounce_suppress_days`: an address that hard-bounced (unknown user, domain gone) gets no
/// mail for a month; a mailbox recreated after a move is tried again after that.
pub const BOUNCE_SUPPRESS_DAYS: u64 = 30;
/// `mail.ack_limit` per `mail.ack_limit_window_minutes`: a person rarely opens more than a
/// few tickets in an hour, while a loop with an autoresponder that slipped past the loop guard
/// sends one mail a second; it is stopped after five answers.
pub const ACK_LIMIT: u64 = 5;
/// See [`ACK_LIMIT`].
pub const ACK_LIMIT_WINDOW_MINUTES: u64 = 60;
/// `mail.recipient_limit` per `mail.recipient_limit_window_minutes`: one person following a
/// few busy tickets gets a dozen mails in a busy hour (coalescing makes a burst on one ticket
/// one mail); twenty leaves room for that, and stops a loop or a script gone wrong at a
/// number a mailbox survives.
pub const RECIPIENT_LIMIT: u64 = 20;
/// See [`RECIPIENT_LIMIT`].
pub const RECIPIENT_LIMIT_WINDOW_MINUTES: u64 = 60;
/// `mail.ticket_limit` per `mail.ticket_limit_window_minutes`, every recipient together: a
/// lively ticket makes a few exchanges in ten minutes, each to its requester and at most a
/// team of ten agents; thirty lets three such rounds through, and holds back a ticket that
/// mails the team in a loop.
pub const TICKET_LIMIT: u64 = 30;
/// See [`TICKET_LIMIT`].
pub const TICKET_LIMIT_WINDOW_MINUTES: u64 = 10;
/// `mail.coalesce_minutes`: a person's changes to a ticket come in bursts (assign, set the
/// priority, answer) within a minute or two; waiting two minutes makes that one mail, and is
/// nothing next to the hours a help desk answers in.
pub const COALESCE_MINUTES: u64 = 2;
/// `mail.transport`: `.eml` files need no server, so the default configuration runs as it is
/// (and sends nothing: production sets `smtp`).
pub const MAIL_TRANSPORT: &str = "file";
/// `mail.smtp.tls`: STARTTLS on the submission port is what university relays and Microsoft
/// 365 (`smtp.office365.com:587`) offer for authenticated clients.
pub const SMTP_TLS: TlsMode = TlsMode::StartTls;
/// `mail.smtp.port` with implicit TLS: submissions (RFC 8314).
pub const SMTPS_PORT: u16 = 465;
/// `mail.smtp.port` with STARTTLS: submission (RFC 6409).
pub const SUBMISSION_PORT: u16 = 587;
/// `mail.smtp.port` plain: a relay on this machine listens on SMTP's own port.
pub const SMTP_PORT: u16 = 25;
/// `mail.smtp.timeout_secs`: RFC 5321 section 4.5.3.2 lets a server take minutes per command,
/// but a relay that has not answered in half a minute is better tried again later: the
/// outbox retries and nothing else waits meanwhile.
pub const SMTP_TIMEOUT_SECS: u64 = 30;
/// `mail.smtp.pool_size`: a few connections kept open spare a TLS handshake and a login per
/// mail, and stay under the per-client connection limits of hosted relays.
pub const SMTP_POOL_SIZE: u32 = 4;
/// `mail.max_attachment_bytes`: 10 MiB of files in one agent's reply. Common relays take
/// 20 to 35 MiB per message (Microsoft 365 35 MB, Gmail 25 MB) and base64 adds a third:
/// 10 MiB of files stays under every one of them.
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;
/// `offers[].locale`: the consortium's members are French universities.
pub const LOCALE: &str = "fr";
/// `offers[].reopen_window_days`: a reply within ten days ("it happens again") most likely
/// continues the resolved ticket; later, it opens a new ticket linked to it.
pub const REOPEN_WINDOW_DAYS: u64 = 10;
/// `offers[].unknown_sender`: a first message from someone not yet configured is taken in,
/// attached to the institution its domain belongs to.
pub const UNKNOWN_SENDER: UnknownSenderPolicy = UnknownSenderPolicy::CreateInInstitution;
/// `offers[].maildir` is this folder, relative to `data_dir`, then the offer's code.
pub const MAILDIR_DIR: &str = "maildir";
/// `offers[].mailboxes[].tls`: mail servers of the members offer IMAPS; a password never
/// travels in clear by default.
pub const IMAP_TLS: TlsMode = TlsMode::Implicit;
/// `offers[].mailboxes[].port` with implicit TLS: IMAPS (RFC 8314).
pub const IMAPS_PORT: u16 = 993;
/// `offers[].mailboxes[].port` with STARTTLS or plain: IMAP (RFC 3501).
pub const IMAP_PORT: u16 = 143;
/// `offers[].mailboxes[].folder`: where servers deliver.
pub const IMAP_FOLDER: &str = "INBOX";
/// `offers[].mailboxes[].poll_secs`: only for servers without IDLE; a minute matches the
/// quickest of the peers' polling (FreeScout) at the cost of one command a minute.
pub const IMAP_POLL_SECS: u64 = 60;
/// `offers[].mailboxes[].idle_renew_secs`: 25 minutes, under the 29 of RFC 2177 with room
/// for a slow answer.
pub const IMAP_IDLE_RENEW_SECS: u64 = 25 * 60;
/// `offers[].mailboxes[].batch`: a hundred messages per `UID FETCH` keeps a backlog's round
/// trips few; a batch also stops at 64 MiB of mail (the IMAP adapter's own bound).
pub const IMAP_BATCH: usize = 100;
/// `offers[].default_kind`: mail to a plain support address most often reports something
/// broken, and the ITIL desks ESUP's members know (iTop, GLPI) open incidents by default too.
pub const DEFAULT_KIND: TicketKind = TicketKind::Incident;
/// The plus-suffixes every offer understands, before its own `offers[].kind_by_address`
/// (which may add to them or give one another kind): ESUP's catalogue entries (report an
/// incident, request a service, request a change), in French and English.
pub const KIND_SUFFIXES: &[(&str, TicketKind)] = &[
    ("+incident", TicketKind::Incident),
    ("+demande", TicketKind::Request),
    ("+request", TicketKind::Request),
    ("+changement", TicketKind::Change),
    ("+change", TicketKind::Change),
];
/// `offers[].calendar`: the built-in calendar of ESUP's hosted offers,
/// [`crate::domain::calendar::Calendar::esup_default`], which a `[calendars.esup]` table
/// replaces. Its keys are the defaults of every `[calendars.NAME]` table below.
pub const CALENDAR: &str = "esup";
/// `calendars.NAME.time_zone`: the consortium's members are French universities.
pub const CALENDAR_TIME_ZONE: &str = "Europe/Paris";
/// `calendars.NAME.week` when absent: these days, each open [`CALENDAR_HOURS`]. ESUP's hosted
/// offers promise service 8h-18h, Monday to Friday.
pub const CALENDAR_DAYS: [&str; 5] = ["monday", "tuesday", "wednesday", "thursday", "friday"];
/// See [`CALENDAR_DAYS`].
pub const CALENDAR_HOURS: &str = "08:00-18:00";
/// `calendars.NAME.french_holidays`: French universities close on public holidays.
pub const CALENDAR_FRENCH_HOLIDAYS: bool = true;

/// `offers[].jobs.daily_digest`: 8:00 on weekdays, in the offer's time zone (crontab form).
pub const DAILY_DIGEST: &str = "0 8 * * Mon-Fri";

/// `offers[].jobs.weekly_report`: Monday 9:00, in the offer's time zone (crontab form).
pub const WEEKLY_REPORT: &str = "0 9 * * Mon";
