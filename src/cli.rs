//! Command line: parses arguments, loads the configuration, calls the app or a service and
//! prints the result. No business logic. Errors are one line on stderr and a non-zero exit.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Parser, Subcommand};

use crate::app;
use crate::config::{self, Config, LogFormat, OfferConfig};
use crate::domain::{Priority, Status};
use crate::notify::Notifier;
use crate::service::deliver::DeliverError;
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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (Maildir intake, outbox) until SIGTERM/SIGINT
    Run,
    /// Take one message from stdin, as an MTA pipe transport (exit 75 = try again later)
    Deliver {
        /// Offer code; without it, the offer is found from the recipients
        #[arg(long)]
        offer: Option<String>,
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
    let cli = Cli::parse();
    let is_deliver = matches!(cli.command, Command::Deliver { .. });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("guichet: error: cannot start the async runtime: {e}");
            return ExitCode::from(if is_deliver { EX_TEMPFAIL } else { 1 });
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("guichet: error: {e:#}");
            // An MTA must keep the message whatever went wrong on our side.
            ExitCode::from(if is_deliver { EX_TEMPFAIL } else { 1 })
        }
    }
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

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let path = config_path(cli.config);
    if let Command::CheckConfig = cli.command {
        return check_config(path.as_deref());
    }
    let config = load_config(path.as_deref())?;
    match cli.command {
        Command::Run => {
            app::init_logging(config.daemon.log_format, &config.daemon.log_level);
            app::run(config).await?;
        }
        command => {
            app::init_logging(LogFormat::Human, "warn");
            one_shot(config, command).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check_config(path: Option<&Path>) -> anyhow::Result<ExitCode> {
    match load_config(path) {
        Ok(config) => {
            // Templates too: a broken override would otherwise only show when mail is sent.
            if let Err(e) = Notifier::new(config.mail.templates_dir.as_deref()) {
                eprintln!("guichet: invalid templates: {e}");
                return Ok(ExitCode::FAILURE);
            }
            let source = path.map_or("built-in defaults".to_owned(), |p| p.display().to_string());
            println!("configuration OK ({source})\n{}", config.describe());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("guichet: {e:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn one_shot(config: Config, command: Command) -> anyhow::Result<()> {
    let ctx = app::context(config).await?;
    let result = match command {
        Command::Deliver { offer } => deliver(&ctx, offer.as_deref()).await,
        Command::Migrate => sync::sync_all(&ctx).await.map_err(Into::into).map(|()| {
            println!(
                "store migrated; {} offer(s) written",
                ctx.config.offers.len()
            );
        }),
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
        Command::Run | Command::CheckConfig => Ok(()),
    };
    ctx.store.close().await;
    result
}

async fn deliver(ctx: &Context, code: Option<&str>) -> anyhow::Result<()> {
    let mut raw = Vec::new();
    std::io::stdin()
        .read_to_end(&mut raw)
        .context("cannot read the message from stdin")?;
    let delivered = match service::deliver::deliver(ctx, code, &raw).await {
        Ok(delivered) => delivered,
        Err(DeliverError::NoOffer) => {
            eprintln!("guichet: {}", DeliverError::NoOffer);
            std::process::exit(EX_NOUSER.into());
        }
        Err(e) => return Err(e.into()),
    };
    for (offer, outcome) in &delivered.outcomes {
        eprintln!("guichet: {offer} {}", describe(outcome));
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
    Ok(())
}

fn describe(outcome: &IngestOutcome) -> String {
    match outcome {
        IngestOutcome::Created {
            ticket,
            acknowledged,
            ..
        } => {
            format!(
                "created ticket {ticket}{}",
                if *acknowledged {
                    ", acknowledgement queued"
                } else {
                    ""
                }
            )
        }
        IngestOutcome::Appended {
            ticket, reopened, ..
        } => {
            format!(
                "added to ticket {ticket}{}",
                if *reopened { " (reopened)" } else { "" }
            )
        }
        IngestOutcome::Duplicate { ticket: Some(t) } => {
            format!("already taken in (ticket {t}), nothing to do")
        }
        IngestOutcome::Duplicate { ticket: None } => "already taken in, nothing to do".to_owned(),
        IngestOutcome::Refused { answered } => {
            format!(
                "unknown sender refused{}",
                if *answered {
                    ", polite reply queued"
                } else {
                    ""
                }
            )
        }
        IngestOutcome::Quarantined { id, reason } => format!("quarantined as {id}: {reason}"),
    }
}

async fn list_tickets(
    ctx: &Context,
    code: Option<&str>,
    status: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
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
        return Ok(());
    }
    if all.is_empty() {
        writeln!(out, "no tickets")?;
        return Ok(());
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
            t.title
        )?;
    }
    Ok(())
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

async fn ticket(ctx: &Context, command: TicketCommand) -> anyhow::Result<()> {
    let done = match command {
        TicketCommand::Show { t, json } => {
            let view = operator::show(ctx, offer(&ctx.config, &t.offer)?, &t.reference).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&view)?);
            } else {
                print_ticket(&view);
            }
            return Ok(());
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
    println!("{done}");
    Ok(())
}

fn print_ticket(v: &operator::TicketView) {
    let t = &v.ticket;
    println!("[{} {}] {}", v.offer, v.reference, t.title);
    println!(
        "kind {}  status {}  priority {}",
        t.kind, t.status, t.priority
    );
    println!(
        "created {}  updated {}",
        t.created_at.to_rfc3339(),
        t.updated_at.to_rfc3339()
    );
    for p in &v.participants {
        println!(
            "participant: {} <{}> ({})",
            p.name.as_deref().unwrap_or("-"),
            p.email.as_deref().unwrap_or("-"),
            p.role
        );
    }
    for l in &v.links {
        println!("link: {} ticket id {}", l.relation, l.other_id);
    }
    for a in &v.articles {
        let who = a
            .author_name
            .as_deref()
            .or(a.author_label.as_deref())
            .unwrap_or("-");
        println!(
            "\n--- article {} · {} · {} · {} · {}",
            a.id,
            a.created_at.to_rfc3339(),
            a.direction,
            a.channel,
            who
        );
        if let Some(reason) = &a.auto_reason {
            println!("(automatic message: {reason})");
        }
        if let Some(s) = &a.subject {
            println!("Subject: {s}");
        }
        println!("{}", a.body_text.trim_end());
        for att in v.attachments.iter().filter(|x| x.article_id == a.id) {
            println!(
                "[attachment: {} {} {} bytes]",
                att.filename.as_deref().unwrap_or("(unnamed)"),
                att.content_type,
                att.size
            );
        }
    }
    println!("\n--- events");
    for e in &v.events {
        println!("{} {} {} {}", e.at.to_rfc3339(), e.actor, e.kind, e.data.0);
    }
    if !v.outbox.is_empty() {
        println!("\n--- mail");
        for o in &v.outbox {
            println!(
                "{} {} {} {}",
                o.created_at.to_rfc3339(),
                o.template,
                o.status,
                o.sent_ref.as_deref().unwrap_or("")
            );
        }
    }
}

async fn quarantine(ctx: &Context, command: QuarantineCommand) -> anyhow::Result<()> {
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
                println!("{}", serde_json::to_string_pretty(&items)?);
            } else if all.is_empty() {
                println!("quarantine is empty");
            } else {
                for (offer, q) in &all {
                    let replay = q
                        .replay_outcome
                        .as_deref()
                        .map(|o| format!(" [replayed: {o}]"))
                        .unwrap_or_default();
                    println!(
                        "{offer} {:>5} {} {:>9} bytes {} {}{replay}",
                        q.id,
                        q.received_at.format("%Y-%m-%d %H:%M"),
                        q.size,
                        q.channel,
                        q.reason
                    );
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
                let data = operator::quarantined_message(ctx, o, id).await?;
                std::io::stdout().lock().write_all(&data)?;
            } else {
                let rows = operator::list_quarantine(ctx, o).await?;
                let Some(q) = rows.iter().find(|q| q.id == id) else {
                    bail!("offer {code}: no quarantined message {id}");
                };
                println!(
                    "id {}\nchannel {}\nreceived {}\nsize {} bytes\nreason {}",
                    q.id,
                    q.channel,
                    q.received_at.to_rfc3339(),
                    q.size,
                    q.reason
                );
                if let Some(o) = &q.replay_outcome {
                    println!(
                        "replayed {}: {o}",
                        q.replayed_at.map(|t| t.to_rfc3339()).unwrap_or_default()
                    );
                }
            }
        }
        QuarantineCommand::Replay { id, offer: code } => {
            let outcome = operator::replay_quarantine(ctx, offer(&ctx.config, &code)?, id).await?;
            println!("{}", describe(&outcome));
        }
    }
    Ok(())
}
