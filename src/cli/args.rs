//! The command line's shape, as clap reads it: commands, their arguments and their help
//! text. No behaviour here: `mod.rs` dispatches, the other files run the commands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "guichet",
    version,
    about = "Support mail and chat into tickets for hosted software offers"
)]
pub(super) struct Cli {
    /// Configuration file (default: $GUICHET_CONFIG, ./guichet.toml, /etc/guichet/guichet.toml,
    /// else built-in defaults)
    #[arg(long, short, global = true)]
    pub(super) config: Option<PathBuf>,
    /// Log filter for this run instead of daemon.log_level ("warn", "debug",
    /// "guichet=debug,sqlx=warn"); GUICHET_LOG still wins over both
    #[arg(long, global = true, value_name = "FILTER")]
    pub(super) log_level: Option<String>,
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Subcommand)]
pub(super) enum Command {
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
    /// Show what guichet sees in one message and what it would do with it, storing nothing
    /// (headers, machine or person, new text, offer and kind, threading decision and why)
    Inspect {
        /// The message, as a file (.eml)
        file: PathBuf,
        /// Offer code; without it, the offer the message's recipients name
        #[arg(long)]
        offer: Option<String>,
        /// The fields as JSON (shape documented in the README)
        #[arg(long)]
        json: bool,
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
    /// Outgoing mail: what waits, what was sent, what was given up on
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// One offer's figures over a period: tickets opened, resolved and closed (by kind,
    /// priority, institution), response and resolution times in business hours, backlog, SLA
    Report {
        #[command(flatten)]
        r: ReportArgs,
    },
    /// Preview a notification with sample data and the offer's name and address (no store,
    /// nothing sent)
    Render {
        /// The event: ticket_created, new_ticket, agent_reply, requester_reply,
        /// status_changed, assigned, sla_warning, sla_breach, escalated, daily_digest,
        /// sender_refused
        event: String,
        /// Offer code
        #[arg(long)]
        offer: String,
        /// fr or en (default: the offer's locale)
        #[arg(long)]
        locale: Option<String>,
        /// text (subject and text part), html (HTML part) or eml (the whole message)
        #[arg(long, value_enum, default_value_t = RenderFormat::Text)]
        format: RenderFormat,
    },
}

/// `guichet report`'s arguments.
#[derive(Args)]
pub(super) struct ReportArgs {
    /// Offer code
    #[arg(long)]
    pub(super) offer: String,
    /// First day of the period (YYYY-MM-DD, in the offer's time zone)
    #[arg(long)]
    pub(super) from: chrono::NaiveDate,
    /// Day after the period's last (excluded): --from 2026-10-01 --to 2026-11-01 is October
    #[arg(long)]
    pub(super) to: chrono::NaiveDate,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub(super) format: ReportFormat,
    /// Write the report to this file instead of stdout
    #[arg(long, short)]
    pub(super) output: Option<PathBuf>,
}

/// What `guichet report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum ReportFormat {
    /// Aligned text for a terminal.
    Table,
    /// A header row, then one row per figure: section,group,name,value.
    Csv,
    /// The figures by name: opened, resolved and closed with their breakdowns,
    /// first_response, resolution, backlog, sla, breaches (`domain::report::Report`).
    Json,
    /// One self-contained page with charts, nothing loaded from elsewhere.
    Html,
}

/// What `guichet render` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum RenderFormat {
    /// The subject, then the text part.
    Text,
    /// The HTML part.
    Html,
    /// The whole message as the outbox would send it.
    Eml,
}

#[derive(Subcommand)]
pub(super) enum TicketsCommand {
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
pub(super) struct TicketArgs {
    /// Ticket ref, like I-000042
    pub(super) reference: String,
    #[arg(long)]
    pub(super) offer: String,
    /// Operator name recorded in the event log (default: $USER)
    #[arg(long = "as")]
    pub(super) operator: Option<String>,
}

#[derive(Subcommand)]
pub(super) enum TicketCommand {
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
        /// A file sent with the reply (repeatable); all together at most
        /// mail.max_attachment_bytes
        #[arg(long, value_name = "FILE")]
        attach: Vec<PathBuf>,
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
    /// Change the kind (incident, request, change): the ticket takes the next ref of that
    /// kind, and its old ref still finds it (here, and in a reply's subject tag)
    Kind {
        #[command(flatten)]
        t: TicketArgs,
        kind: String,
    },
}

#[derive(Subcommand)]
pub(super) enum QuarantineCommand {
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

#[derive(Subcommand)]
pub(super) enum OutboxCommand {
    /// Outgoing mail, oldest first
    List {
        /// Only this offer (default: all)
        #[arg(long)]
        offer: Option<String>,
        /// Only this state (pending, sent, failed)
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One outgoing mail: its recipients, attempts, last error, where it went
    Show {
        id: i64,
        #[arg(long)]
        offer: String,
        #[arg(long)]
        json: bool,
    },
    /// Try a mail not sent once more, now (a dead letter too)
    Retry {
        #[command(flatten)]
        m: OutboxArgs,
    },
    /// Give up on a mail waiting to be sent
    Drop {
        #[command(flatten)]
        m: OutboxArgs,
    },
}

#[derive(Args)]
pub(super) struct OutboxArgs {
    pub(super) id: i64,
    #[arg(long)]
    pub(super) offer: String,
    /// Operator name recorded in the event log (default: $USER)
    #[arg(long = "as")]
    pub(super) operator: Option<String>,
}
