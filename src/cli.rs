//! Command line: parses arguments, loads the configuration, calls the app or a service and
//! prints the result. No business logic. Errors are one line on stderr and a non-zero exit.

use std::borrow::Cow;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Parser, Subcommand};

use crate::app;
use crate::config::{self, Config, OfferConfig};
use crate::domain::QuarantineId;
use crate::domain::{Priority, Status, TenantId};
use crate::notify::Notifier;
use crate::service::deliver::{DeliverError, Route};
use crate::service::ingest::IngestOutcome;
use crate::service::operator::{self, Operator};
use crate::service::outbox::send_due;
use crate::service::{self, Context, sync};

/// sysexits.h: the MTA keeps the message and retries later.
pub const EX_TEMPFAIL: u8 = 75;
/// sysexits.h: no such user; the MTA bounces (no offer has this address).
pub const EX_NOUSER: u8 = 67;

#[derive(Parser)]
#[command(
    name = "guichet",
    version,
    about = "Support mail and chat into tickets for hosted software offers"
)]
struct Cli {
    /// Configuration file (default: $GUICHET_CONFIG, ./guichet.toml, /etc/guichet/guichet.toml,
    /// else built-in defaults)
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    /// Log filter for this run instead of daemon.log_level ("warn", "debug",
    /// "guichet=debug,sqlx=warn"); GUICHET_LOG still wins over both
    #[arg(long, global = true, value_name = "FILTER")]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (Maildir intake, outbox) until SIGTERM/SIGINT
    Run,
    /// Take one message from stdin, as an MTA pipe transport (exit 75 = try again later)
    Deliver {
        /// Offer code; without it or --recipient, the offer is found from the message's
        /// recipients
        #[arg(long, conflicts_with = "recipient")]
        offer: Option<String>,
        /// The envelope recipient (Postfix: --recipient=${recipient}): the offer this is a
        /// support address of (plus-addresses included) takes the message, and no header is
        /// consulted; an address of no offer exits 67 (the MTA bounces)
        #[arg(long, value_name = "ADDRESS")]
        recipient: Option<String>,
    },
    /// Apply database migrations and write the configuration into the store
    Migrate,
    /// Validate the configuration, report every bad key, print what would run
    CheckConfig,
    /// List tickets
    Tickets {
        #[command(subcommand)]
        command: TicketsCommand,
    },
    /// Show or change one ticket
    Ticket {
        #[command(subcommand)]
        command: TicketCommand,
    },
    /// Mail that could not be taken in
    Quarantine {
        #[command(subcommand)]
        command: QuarantineCommand,
    },
}

#[derive(Subcommand)]
enum TicketsCommand {
    List {
        /// Only this offer (default: all)
        #[arg(long)]
        offer: Option<String>,
        /// Only this status (new, assigned, in_progress, waiting_customer, resolved, closed)
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct TicketArgs {
    /// Ticket ref, like I-000042
    reference: String,
    #[arg(long)]
    offer: String,
    /// Operator name recorded in the event log (default: $USER)
    #[arg(long = "as")]
    operator: Option<String>,
}

#[derive(Subcommand)]
enum TicketCommand {
    /// Articles in order, participants, events, queued mail
    Show {
        #[command(flatten)]
        t: TicketArgs,
        #[arg(long)]
        json: bool,
    },
    /// Answer the requester (queued as mail); text from --message or stdin
    Reply {
        #[command(flatten)]
        t: TicketArgs,
        #[arg(long, short)]
        message: Option<String>,
    },
    /// Add an internal note (never mailed); text from --message or stdin
    Note {
        #[command(flatten)]
        t: TicketArgs,
        #[arg(long, short)]
        message: Option<String>,
    },
    /// Assign to an agent of the offer, by email address
    Assign {
        #[command(flatten)]
        t: TicketArgs,
        #[arg(long)]
        to: String,
    },
    /// Change the status
    Status {
        #[command(flatten)]
        t: TicketArgs,
        status: String,
    },
    /// Change the priority (low, normal, high, critical)
    Priority {
        #[command(flatten)]
        t: TicketArgs,
        priority: String,
    },
}

#[derive(Subcommand)]
enum QuarantineCommand {
    List {
        #[arg(long)]
        offer: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print a quarantined message's reason, or its raw bytes with --raw
    Show {
        id: i64,
        #[arg(long)]
        offer: String,
        #[arg(long)]
        raw: bool,
    },
    /// Take a quarantined message in again
    Replay {
        id: i64,
        #[arg(long)]
        offer: String,
    },
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let is_deliver = matches!(cli.command, Command::Deliver { .. });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "guichet: error: cannot start the async runtime: {e}"
            );
            return failure(is_deliver);
        }
    };
    runtime.block_on(dispatch(cli))
}

/// Help and version go to stdout with 0; a usage error is said on stderr. For `deliver` it
/// exits 75, not clap's 2: Postfix bounces mail on an exit status it does not know, and a
/// mistyped master.cf line must keep the mail queued until it is fixed, not return it all.
fn usage_error(e: &clap::Error) -> ExitCode {
    let _ = e.print();
    if !e.use_stderr() {
        return ExitCode::SUCCESS;
    }
    let deliver = std::env::args_os().skip(1).any(|a| a == "deliver");
    if deliver {
        ExitCode::from(EX_TEMPFAIL)
    } else {
        ExitCode::from(2)
    }
}

/// The exit code of a command that failed. An MTA must keep the message whatever went wrong
/// on our side, so `deliver` says "try again later".
fn failure(is_deliver: bool) -> ExitCode {
    ExitCode::from(if is_deliver { EX_TEMPFAIL } else { 1 })
}

/// The error line, printed once: `guichet: error: <what went wrong>`. A reader closing our
/// stdout early (`guichet tickets list | head`) is not an error: exit quietly, as `ripgrep`
/// does, rather than panic or complain.
fn finish(result: anyhow::Result<ExitCode>, is_deliver: bool) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let text = error_text(&e);
            let _ = writeln!(std::io::stderr(), "guichet: error: {text}");
            failure(is_deliver)
        }
    }
}

/// The effective uid, from the owner of `/proc/self` (proc(5): the process's effective user),
/// which needs neither `unsafe` nor a libc binding.
fn effective_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// An error and its causes on one line, each said once. Many error types print their source
/// in their own message too (`database error: {0}` over the sqlx error, which repeats its
/// driver error): a cause already contained in the message before it is skipped, else the
/// same words came out two or three times.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    let mut previous = String::new();
    for cause in e.chain() {
        let message = cause.to_string();
        if message.is_empty() || previous.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
        previous = message;
    }
    printable(&text, false).into_owned()
}

fn config_path(explicit: Option<PathBuf>) -> Option<PathBuf> {
    explicit
        .or_else(|| std::env::var_os("GUICHET_CONFIG").map(PathBuf::from))
        .or_else(|| {
            ["guichet.toml", "/etc/guichet/guichet.toml"]
                .map(PathBuf::from)
                .into_iter()
                .find(|p| p.exists())
        })
}

fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    config::load(path, &env).map_err(|errors| {
        let lines: Vec<String> = errors
            .0
            .iter()
            .map(|e| format!("  {}: {}", e.path, e.message))
            .collect();
        anyhow!(
            "invalid configuration ({} errors):\n{}",
            errors.0.len(),
            lines.join("\n")
        )
    })
}

fn offer<'a>(config: &'a Config, code: &str) -> anyhow::Result<&'a OfferConfig> {
    config.offer(code).ok_or_else(|| {
        let known: Vec<&str> = config.offers.iter().map(|o| o.code.as_str()).collect();
        anyhow!(
            "unknown offer {code:?} (configured: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )
    })
}

fn offers<'a>(config: &'a Config, code: Option<&str>) -> anyhow::Result<Vec<&'a OfferConfig>> {
    match code {
        Some(code) => Ok(vec![offer(config, code)?]),
        None => Ok(config.offers.iter().collect()),
    }
}

async fn dispatch(cli: Cli) -> ExitCode {
    let is_deliver = matches!(cli.command, Command::Deliver { .. });
    let path = config_path(cli.config);
    if let Command::CheckConfig = cli.command {
        return finish(check_config(path.as_deref()), is_deliver);
    }
    let mut config = match load_config(path.as_deref()) {
        Ok(config) => config,
        Err(e) => return finish(Err(e), is_deliver),
    };
    if let Some(level) = cli.log_level {
        config.daemon.log_level = level;
    }
    // `deliver`'s outcome line must come first: Postfix keeps only the first 100 characters
    // of a pipe command's output in its log. Its log lines wait until that line is out.
    let logs = app::init_logging(
        config.daemon.log_format,
        &config.daemon.log_level,
        is_deliver,
    );
    let result = match cli.command {
        Command::Run => app::run(config).await.map(|()| ExitCode::SUCCESS),
        command => one_shot(config, command).await,
    };
    let code = finish(result, is_deliver);
    logs.release();
    code
}

fn check_config(path: Option<&Path>) -> anyhow::Result<ExitCode> {
    match load_config(path) {
        Ok(config) => {
            // Templates too: a broken override would otherwise only show when mail is sent.
            if let Err(e) = Notifier::new(config.mail.templates_dir.as_deref()) {
                let _ = writeln!(std::io::stderr(), "guichet: invalid templates: {e}");
                return Ok(ExitCode::FAILURE);
            }
            let source = path.map_or("built-in defaults".to_owned(), |p| p.display().to_string());
            writeln!(
                std::io::stdout().lock(),
                "configuration OK ({source})\n{}",
                config.describe()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "guichet: {e:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn one_shot(config: Config, command: Command) -> anyhow::Result<ExitCode> {
    let ctx = match app::context(config.clone()).await {
        Ok(ctx) => ctx,
        Err(e) => {
            give_back_to_data_dir_owner(&config);
            return Err(e);
        }
    };
    let result = match command {
        Command::Deliver { offer, recipient } => {
            deliver(&ctx, offer.as_deref(), recipient.as_deref()).await
        }
        Command::Migrate => match sync::sync_all(&ctx).await {
            Ok(()) => writeln!(
                std::io::stdout().lock(),
                "store migrated; {} offer(s) written",
                ctx.config.offers.len()
            )
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
            Err(e) => Err(e.into()),
        },
        Command::Tickets {
            command:
                TicketsCommand::List {
                    offer,
                    status,
                    json,
                },
        } => list_tickets(&ctx, offer.as_deref(), status.as_deref(), json).await,
        Command::Ticket { command } => ticket(&ctx, command).await,
        Command::Quarantine { command } => quarantine(&ctx, command).await,
        Command::Run | Command::CheckConfig => Ok(ExitCode::SUCCESS),
    };
    ctx.store.close().await;
    give_back_to_data_dir_owner(&ctx.config);
    result
}

/// An administrator who runs `guichet migrate` (or any command) as root on a data directory
/// that belongs to the service user would leave root's files in it: a new SQLite database,
/// its `-wal`/`-shm`, the outbox and Maildir folders, which the daemon and the MTA's pipe (user
/// `guichet`) then cannot write, so every delivery fails. Give what root owns among the files
/// guichet manages back to the directory's owner, and say so. Nothing else is touched: not
/// the templates, not what the administrator put there; nothing at all when the data
/// directory itself is root's (guichet then runs as root, or the directory is not set up
/// yet: deploy/postfix.md says to create it first).
fn give_back_to_data_dir_owner(config: &Config) {
    use std::os::unix::fs::MetadataExt as _;
    if effective_uid() != Some(0) {
        return;
    }
    let data_dir = &config.daemon.data_dir;
    let Ok(meta) = std::fs::metadata(data_dir) else {
        return;
    };
    let (uid, gid) = (meta.uid(), meta.gid());
    if uid == 0 {
        return;
    }
    let mut managed: Vec<PathBuf> = Vec::new();
    // A path inside the data directory, and the folders between them.
    let with_parents = |path: &Path| -> Vec<PathBuf> {
        let Ok(inside) = path.strip_prefix(data_dir) else {
            return Vec::new();
        };
        let mut p = data_dir.clone();
        inside
            .components()
            .map(|part| {
                p.push(part);
                p.clone()
            })
            .collect()
    };
    if let Some(db) = config.sqlite_path() {
        managed.extend(with_parents(&db));
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            managed.push(PathBuf::from(name));
        }
    }
    // The outbox folder, not the files in it: listing a folder the service user controls
    // could follow a link it planted there (`outbox -> /etc`), and root would then give away
    // what the link points to. The daemon only needs to write new files in it.
    managed.extend(with_parents(&config.mail.outbox_dir));
    for offer in config
        .offers
        .iter()
        .filter(|o| o.maildir.starts_with(data_dir))
    {
        managed.extend(with_parents(&offer.maildir));
        for sub in ["new", "cur", "tmp"] {
            managed.push(offer.maildir.join(sub));
        }
    }
    managed.sort();
    managed.dedup();
    let mut given = Vec::new();
    // Every name is fixed (no listing), and none is reached through a symbolic link: a link
    // the service user put in place of a folder could otherwise make root's chown land
    // outside the data directory.
    let through_link = |path: &Path| {
        path.strip_prefix(data_dir).is_ok_and(|inside| {
            let mut p = data_dir.clone();
            let parts: Vec<_> = inside.components().collect();
            parts[..parts.len().saturating_sub(1)].iter().any(|part| {
                p.push(part);
                std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink())
            })
        })
    };
    for path in managed {
        let ours = std::fs::symlink_metadata(&path).is_ok_and(|m| m.uid() == 0);
        if !ours || through_link(&path) {
            continue;
        }
        match std::os::unix::fs::lchown(&path, Some(uid), Some(gid)) {
            Ok(()) => given.push(path),
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "guichet: warning: ran as root, cannot give {} to uid {uid}: {e}",
                    path.display()
                );
            }
        }
    }
    if given.is_empty() {
        return;
    }
    let names: Vec<String> = given
        .iter()
        .take(5)
        .map(|p| p.strip_prefix(data_dir).unwrap_or(p).display().to_string())
        .collect();
    let more = given.len().saturating_sub(names.len());
    let _ = writeln!(
        std::io::stderr(),
        "guichet: ran as root: gave {}{} in {} to its owner (uid {uid}, gid {gid}) so that \
         guichet can write them",
        names.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        },
        data_dir.display()
    );
}

async fn deliver(
    ctx: &Context,
    code: Option<&str>,
    recipient: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let route = match (code, recipient) {
        (Some(code), _) => Route::Offer(code),
        (None, Some(address)) => Route::Recipient(address),
        (None, None) => Route::Headers,
    };
    let mut raw = Vec::new();
    std::io::stdin()
        .read_to_end(&mut raw)
        .context("cannot read the message from stdin")?;
    let delivered = match service::deliver::deliver(ctx, route, &raw).await {
        Ok(delivered) => delivered,
        Err(e @ (DeliverError::NoOffer | DeliverError::UnknownRecipient { .. })) => {
            let _ = writeln!(
                std::io::stderr(),
                "guichet: error: {}",
                line(&e.to_string())
            );
            return Ok(ExitCode::from(EX_NOUSER));
        }
        Err(e) => return Err(e.into()),
    };
    {
        // The message is stored: nothing printed here may fail the delivery.
        let mut err = std::io::stderr().lock();
        for (offer, outcome) in &delivered.outcomes {
            let _ = writeln!(err, "guichet: {}", outcome_line(offer, outcome));
        }
    }
    // The message is safe. Send its acknowledgements now if we can; the daemon's outbox
    // worker sends whatever is left.
    if let Ok(notifier) = Notifier::new(ctx.config.mail.templates_dir.as_deref()) {
        let transport = app::transport(&ctx.config);
        for (code, _) in &delivered.outcomes {
            let Some(offer) = ctx.config.offer(code.as_str()) else {
                continue;
            };
            if let Err(e) = send_due(ctx, &notifier, &transport, offer).await {
                tracing::warn!(tenant = %offer.code, error = %e, "outbox not sent now, the daemon will");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Postfix's `pipe(8)` keeps the first 100 characters of a command's output in its log line
/// (`status=sent (delivered via guichet service (...))`): the line `deliver` prints per
/// offer, `guichet: ` included, fits in them.
const MTA_LOG_EXCERPT: usize = 100;

/// What became of a message in one offer, in a few words: `SMSU I-000042 created`,
/// `SMSU duplicate (I-000042)`, `SMSU quarantined #7: <reason, cut>`.
fn outcome_line(offer: &TenantId, outcome: &IngestOutcome) -> String {
    match outcome {
        IngestOutcome::Created { ticket, .. } => format!("{offer} {ticket} created"),
        IngestOutcome::Appended {
            ticket, reopened, ..
        } => format!(
            "{offer} {ticket} added{}",
            if *reopened { ", reopened" } else { "" }
        ),
        IngestOutcome::Duplicate { ticket: Some(t) } => format!("{offer} duplicate ({t})"),
        IngestOutcome::Duplicate { ticket: None } => format!("{offer} duplicate"),
        IngestOutcome::Refused { .. } => format!("{offer} refused unknown sender"),
        IngestOutcome::Quarantined { id, reason } => {
            let head = format!("{offer} quarantined #{id}: ");
            let room = MTA_LOG_EXCERPT.saturating_sub("guichet: ".len() + head.len());
            format!("{head}{}", cut(&printable(reason, false), room))
        }
    }
}

/// `text` in at most `max` characters, cut on a character boundary with `...` when longer.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(3)).collect();
    format!("{kept}...")
}

/// Text that came from mail, made safe to print on an operator's terminal: control
/// characters (ESC starts terminal escape sequences, C1 controls too) and the bidi
/// embedding, override and isolate characters (which reorder what is shown, as in "Trojan
/// Source") become visible escapes like `\x1b` or `\u{202e}`. With `multiline` (bodies), line
/// breaks and tabs stay as they are and CRLF reads as a line break. JSON output needs none of
/// this: serde_json escapes control characters, and a program reads it, not a person.
fn printable(text: &str, multiline: bool) -> Cow<'_, str> {
    let kept = |c: char| multiline && matches!(c, '\n' | '\t');
    let unsafe_char = |c: char| (c.is_control() && !kept(c)) || is_bidi_control(c);
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' if multiline => out.push(c),
            '\r' if multiline && chars.peek() == Some(&'\n') => {}
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if is_bidi_control(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Unicode's explicit directional embeddings, overrides and isolates (UAX #9).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// [`printable`] on one line.
fn line(text: &str) -> Cow<'_, str> {
    printable(text, false)
}

async fn list_tickets(
    ctx: &Context,
    code: Option<&str>,
    status: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let status = status
        .map(str::parse::<Status>)
        .transpose()
        .map_err(|e| anyhow!(e))?;
    let mut all = Vec::new();
    for offer in offers(&ctx.config, code)? {
        for row in operator::list_tickets(ctx, offer, status).await? {
            all.push((offer.code.to_string(), row));
        }
    }
    let mut out = std::io::stdout().lock();
    if json {
        let items: Vec<serde_json::Value> = all
            .iter()
            .map(|(offer, t)| {
                let mut v = serde_json::to_value(t).unwrap_or_default();
                v["offer"] = offer.clone().into();
                v["ref"] = t.reference().to_string().into();
                v
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        writeln!(out, "no tickets")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<8} {:<10} {:<17} {:<9} {:<17} TITLE",
        "OFFER", "REF", "STATUS", "PRIORITY", "UPDATED"
    )?;
    for (offer, t) in &all {
        writeln!(
            out,
            "{:<8} {:<10} {:<17} {:<9} {:<17} {}",
            offer,
            t.reference(),
            t.status,
            t.priority,
            t.updated_at.format("%Y-%m-%d %H:%M"),
            line(&t.title)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn text_arg(message: Option<String>) -> anyhow::Result<String> {
    match message {
        Some(m) => Ok(m),
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the text from stdin")?;
            Ok(s)
        }
    }
}

fn operator_of(t: &TicketArgs) -> Operator {
    let name = t
        .operator
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".into());
    Operator(name)
}

async fn ticket(ctx: &Context, command: TicketCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let done = match command {
        TicketCommand::Show { t, json } => {
            let view = operator::show(ctx, offer(&ctx.config, &t.offer)?, &t.reference).await?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&view)?)?;
            } else {
                print_ticket(&mut out, &view)?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        TicketCommand::Reply { t, message } => {
            let text = text_arg(message)?;
            operator::reply(
                ctx,
                offer(&ctx.config, &t.offer)?,
                &t.reference,
                &operator_of(&t),
                &text,
            )
            .await?;
            "reply queued"
        }
        TicketCommand::Note { t, message } => {
            let text = text_arg(message)?;
            operator::note(
                ctx,
                offer(&ctx.config, &t.offer)?,
                &t.reference,
                &operator_of(&t),
                &text,
            )
            .await?;
            "note added"
        }
        TicketCommand::Assign { t, to } => {
            operator::assign(
                ctx,
                offer(&ctx.config, &t.offer)?,
                &t.reference,
                &operator_of(&t),
                &to,
            )
            .await?;
            "assigned"
        }
        TicketCommand::Status { t, status } => {
            let status: Status = status.parse().map_err(|e: String| anyhow!(e))?;
            operator::set_status(
                ctx,
                offer(&ctx.config, &t.offer)?,
                &t.reference,
                &operator_of(&t),
                status,
            )
            .await?;
            "status changed"
        }
        TicketCommand::Priority { t, priority } => {
            let priority: Priority = priority.parse().map_err(|e: String| anyhow!(e))?;
            operator::set_priority(
                ctx,
                offer(&ctx.config, &t.offer)?,
                &t.reference,
                &operator_of(&t),
                priority,
            )
            .await?;
            "priority changed"
        }
    };
    writeln!(out, "{done}")?;
    Ok(ExitCode::SUCCESS)
}

/// A ticket for a person: every text that came from mail goes through [`printable`].
fn print_ticket(out: &mut impl Write, v: &operator::TicketView) -> std::io::Result<()> {
    let t = &v.ticket;
    writeln!(out, "[{} {}] {}", v.offer, v.reference, line(&t.title))?;
    writeln!(
        out,
        "kind {}  status {}  priority {}",
        t.kind, t.status, t.priority
    )?;
    writeln!(
        out,
        "created {}  updated {}",
        t.created_at.to_rfc3339(),
        t.updated_at.to_rfc3339()
    )?;
    for p in &v.participants {
        writeln!(
            out,
            "participant: {} <{}> ({})",
            line(p.name.as_deref().unwrap_or("-")),
            line(p.email.as_deref().unwrap_or("-")),
            line(p.role.as_str())
        )?;
    }
    for l in &v.links {
        writeln!(
            out,
            "link: {} ticket id {}",
            line(l.relation.as_str()),
            l.other_id
        )?;
    }
    for l in &v.offer_links {
        writeln!(
            out,
            "link: {} {} {}",
            line(l.relation.as_str()),
            line(&l.other_tenant),
            line(&l.other_ref)
        )?;
    }
    for a in &v.articles {
        let who = a
            .author_name
            .as_deref()
            .or(a.author_label.as_deref())
            .unwrap_or("-");
        writeln!(
            out,
            "\n--- article {} · {} · {} · {} · {}",
            a.id,
            a.created_at.to_rfc3339(),
            line(a.direction.as_str()),
            line(a.channel.as_str()),
            line(who)
        )?;
        if let Some(reason) = &a.auto_reason {
            writeln!(out, "(automatic message: {})", line(reason))?;
        }
        if let Some(s) = &a.subject {
            writeln!(out, "Subject: {}", line(s))?;
        }
        writeln!(out, "{}", printable(a.body_text.trim_end(), true))?;
        for att in v.attachments.iter().filter(|x| x.article_id == a.id) {
            writeln!(
                out,
                "[attachment: {} {} {} bytes]",
                line(att.filename.as_deref().unwrap_or("(unnamed)")),
                line(&att.content_type),
                att.size
            )?;
        }
    }
    writeln!(out, "\n--- events")?;
    for e in &v.events {
        writeln!(
            out,
            "{} {} {} {}",
            e.at.to_rfc3339(),
            line(&e.actor),
            line(e.kind.as_str()),
            line(&e.data.0.to_string())
        )?;
    }
    if !v.outbox.is_empty() {
        writeln!(out, "\n--- mail")?;
        for o in &v.outbox {
            writeln!(
                out,
                "{} {} {} {}",
                o.created_at.to_rfc3339(),
                line(&o.template),
                line(o.status.as_str()),
                line(o.sent_ref.as_deref().unwrap_or(""))
            )?;
        }
    }
    Ok(())
}

async fn quarantine(ctx: &Context, command: QuarantineCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        QuarantineCommand::List { offer, json } => {
            let mut all = Vec::new();
            for o in offers(&ctx.config, offer.as_deref())? {
                for row in operator::list_quarantine(ctx, o).await? {
                    all.push((o.code.to_string(), row));
                }
            }
            if json {
                let items: Vec<serde_json::Value> = all
                    .iter()
                    .map(|(offer, q)| {
                        let mut v = serde_json::to_value(q).unwrap_or_default();
                        v["offer"] = offer.clone().into();
                        v
                    })
                    .collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
            } else if all.is_empty() {
                writeln!(out, "quarantine is empty")?;
            } else {
                for (offer, q) in &all {
                    let replay = q
                        .replay_outcome
                        .as_deref()
                        .map(|o| format!(" [replayed: {}]", line(o)))
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "{offer} {:>5} {} {:>9} bytes {} {}{replay}",
                        q.id,
                        q.received_at.format("%Y-%m-%d %H:%M"),
                        q.size,
                        line(q.channel.as_str()),
                        line(&q.reason)
                    )?;
                }
            }
        }
        QuarantineCommand::Show {
            id,
            offer: code,
            raw,
        } => {
            let o = offer(&ctx.config, &code)?;
            if raw {
                // Asked for: the exact bytes, for a file or a pipe.
                let data = operator::quarantined_message(ctx, o, QuarantineId(id)).await?;
                out.write_all(&data)?;
            } else {
                let rows = operator::list_quarantine(ctx, o).await?;
                let Some(q) = rows.iter().find(|q| q.id == QuarantineId(id)) else {
                    bail!("offer {code}: no quarantined message {id}");
                };
                writeln!(
                    out,
                    "id {}\nchannel {}\nreceived {}\nsize {} bytes\nreason {}",
                    q.id,
                    line(q.channel.as_str()),
                    q.received_at.to_rfc3339(),
                    q.size,
                    line(&q.reason)
                )?;
                // Every replay, oldest first (a later one never hides an earlier outcome).
                for r in &q.replays {
                    writeln!(
                        out,
                        "replayed {}: {}",
                        r.replayed_at.to_rfc3339(),
                        line(&r.outcome)
                    )?;
                }
            }
        }
        QuarantineCommand::Replay { id, offer: code } => {
            let o = offer(&ctx.config, &code)?;
            let outcome = operator::replay_quarantine(ctx, o, QuarantineId(id)).await?;
            writeln!(out, "{}", outcome_line(&o.code, &outcome))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_and_bidi_overrides_are_shown_not_obeyed() {
        let table = [
            ("Panne SMS", "Panne SMS"),
            ("\u{1b}[2J\u{1b}]0;pwned\u{7}", "\\x1b[2J\\x1b]0;pwned\\x07"),
            ("a\u{9b}31mb", "a\\x9b31mb"),
            ("fichier\u{202e}fdp.exe", "fichier\\u{202e}fdp.exe"),
            ("\u{2066}x\u{2069}", "\\u{2066}x\\u{2069}"),
            ("ligne 1\r\nligne 2\tfin", "ligne 1\\r\\nligne 2\\tfin"),
            ("NUL\0DEL\u{7f}", "NUL\\x00DEL\\x7f"),
            ("accents é ü 漢字 \u{200f}", "accents é ü 漢字 \u{200f}"),
        ];
        for (input, shown) in table {
            assert_eq!(printable(input, false), shown, "{input:?}");
        }
    }

    #[test]
    fn bodies_keep_their_lines_and_tabs_but_not_escapes() {
        let table = [
            ("Bonjour,\n\tça marche.\n", "Bonjour,\n\tça marche.\n"),
            ("CRLF\r\nlines\r\n", "CRLF\nlines\n"),
            ("bare\rCR", "bare\\rCR"),
            (
                "red \u{1b}[31malert\u{1b}[0m\nok",
                "red \\x1b[31malert\\x1b[0m\nok",
            ),
            ("\u{202e}evil\n", "\\u{202e}evil\n"),
        ];
        for (input, shown) in table {
            assert_eq!(printable(input, true), shown, "{input:?}");
        }
    }

    #[test]
    fn repeated_causes_are_said_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("database error: {0}")]
        struct Outer(#[source] std::io::Error);
        let e = anyhow::Error::new(Outer(std::io::Error::other("unable to open database file")))
            .context("cannot open the store");
        assert_eq!(
            error_text(&e),
            "cannot open the store: database error: unable to open database file"
        );
    }

    #[test]
    fn quarantine_lines_fit_the_mta_log_excerpt() {
        let offer = TenantId::parse("SMSU").unwrap();
        let long = IngestOutcome::Quarantined {
            id: QuarantineId(7),
            reason: "message of 30000000 bytes is over the limit of 26214400 bytes, and then \
                     some more words that nobody will read in a mail log"
                .to_owned(),
        };
        let shown = format!("guichet: {}", outcome_line(&offer, &long));
        assert!(shown.chars().count() <= MTA_LOG_EXCERPT, "{shown}");
        assert!(
            shown.starts_with("guichet: SMSU quarantined #7: message of 30000000 bytes"),
            "{shown}"
        );
        assert!(shown.ends_with("..."), "{shown}");
        let short = IngestOutcome::Quarantined {
            id: QuarantineId(7),
            reason: "no sender address".to_owned(),
        };
        assert_eq!(
            outcome_line(&offer, &short),
            "SMSU quarantined #7: no sender address"
        );
    }
}
