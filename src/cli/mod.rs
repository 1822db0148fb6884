//! Command line: parses arguments, loads the configuration, calls the app or a service and
//! prints the result. No business logic. Errors are one line on stderr and a non-zero exit.
//!
//! This file parses, loads and dispatches, and owns the exit codes; `args.rs` is the command
//! line's shape, one file per family of commands runs them (`deliver.rs`, `ticket.rs`,
//! `quarantine.rs`, `inspect.rs`, `report.rs`), `output.rs` makes text safe for a terminal and
//! `owner.rs` gives files back when a command ran as root.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::anyhow;
use clap::Parser;

use crate::app;
use crate::config::{self, Config, OfferConfig};
use crate::notify::Notifier;
use crate::service::sync;

use args::{Cli, Command, TicketsCommand};
use output::printable;
use owner::give_back_to_data_dir_owner;

/// sysexits.h: the MTA keeps the message and retries later.
pub const EX_TEMPFAIL: u8 = 75;
/// sysexits.h: no such user; the MTA bounces (no offer has this address).
pub const EX_NOUSER: u8 = 67;
/// sysexits.h: an input file did not exist or was not readable (`inspect FILE`).
pub const EX_NOINPUT: u8 = 66;

mod args;
mod deliver;
mod inspect;
mod outbox;
mod output;
mod owner;
mod quarantine;
mod render;
mod report;
mod ticket;

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

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error line's text: [`crate::error::chain`], made safe for a terminal (a cause may
/// quote mail).
fn error_text(e: &anyhow::Error) -> String {
    printable(&crate::error::chain(e.as_ref()), false).into_owned()
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
        // A preview needs the configuration and the templates, not the store.
        Command::Render {
            event,
            offer,
            locale,
            format,
        } => render::render(&config, &event, &offer, locale.as_deref(), format),
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
            if let Err(e) = Notifier::from_config(&config) {
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
            deliver::deliver(&ctx, offer.as_deref(), recipient.as_deref()).await
        }
        Command::Inspect { file, offer, json } => {
            inspect::inspect(&ctx, &file, offer.as_deref(), json).await
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
        } => ticket::list_tickets(&ctx, offer.as_deref(), status.as_deref(), json).await,
        Command::Ticket { command } => ticket::ticket(&ctx, command).await,
        Command::Quarantine { command } => quarantine::quarantine(&ctx, command).await,
        Command::Outbox { command } => outbox::outbox(&ctx, command).await,
        Command::Report { r } => report::report(&ctx, &r).await,
        Command::Run | Command::CheckConfig | Command::Render { .. } => Ok(ExitCode::SUCCESS),
    };
    ctx.store.close().await;
    give_back_to_data_dir_owner(&ctx.config);
    result
}

/// Who an operator command acts as (recorded in the event log): `--as NAME`, else `$USER`.
fn operator_named(name: Option<&str>) -> crate::service::operator::Operator {
    let name = name
        .map(str::to_owned)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".into());
    crate::service::operator::Operator(name)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
