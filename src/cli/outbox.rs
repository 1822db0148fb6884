//! `guichet outbox ...`: list and show outgoing mail, retry one now or give one up.

use std::io::Write;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::anyhow;

use super::args::{OutboxArgs, OutboxCommand};
use super::output::line;
use super::{offer, offers};
use crate::domain::{OutboxId, OutboxState};
use crate::service::Context;
use crate::service::operator::{self, Operator};
use crate::service::outbox::recipients_of;
use crate::store::OutboxRow;

pub(super) async fn outbox(ctx: &Context, command: OutboxCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        OutboxCommand::List {
            offer: code,
            state,
            json,
        } => {
            let state = state
                .as_deref()
                .map(OutboxState::from_str)
                .transpose()
                .map_err(|e| anyhow!("{e} (expected pending, sent or failed)"))?;
            let mut all = Vec::new();
            for o in offers(&ctx.config, code.as_deref())? {
                for row in operator::list_outbox(ctx, o, state).await? {
                    all.push((o.code.to_string(), row));
                }
            }
            if json {
                let items: Vec<serde_json::Value> =
                    all.iter().map(|(o, row)| with_offer(o, row)).collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
            } else if all.is_empty() {
                writeln!(out, "outbox is empty")?;
            } else {
                for (o, row) in &all {
                    writeln!(out, "{}", summary(o, row))?;
                }
            }
        }
        OutboxCommand::Show {
            id,
            offer: code,
            json,
        } => {
            let o = offer(&ctx.config, &code)?;
            let row = operator::outbox_row(ctx, o, OutboxId(id)).await?;
            if json {
                let item = with_offer(o.code.as_str(), &row);
                writeln!(out, "{}", serde_json::to_string_pretty(&item)?)?;
            } else {
                writeln!(out, "{}", details(&row))?;
            }
        }
        OutboxCommand::Retry { m } => {
            let o = offer(&ctx.config, &m.offer)?;
            operator::retry_outbox(ctx, o, OutboxId(m.id), &operator_of(&m)).await?;
            writeln!(out, "{} mail {}: due now", o.code, m.id)?;
        }
        OutboxCommand::Drop { m } => {
            let o = offer(&ctx.config, &m.offer)?;
            operator::drop_outbox(ctx, o, OutboxId(m.id), &operator_of(&m)).await?;
            writeln!(out, "{} mail {}: dropped", o.code, m.id)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn operator_of(m: &OutboxArgs) -> Operator {
    super::operator_named(m.operator.as_deref())
}

fn with_offer(offer: &str, row: &OutboxRow) -> serde_json::Value {
    let mut v = serde_json::to_value(row).unwrap_or_default();
    v["offer"] = offer.into();
    v
}

/// The addresses of a row's recipients, comma-separated.
fn recipients(row: &OutboxRow) -> String {
    recipients_of(row)
        .unwrap_or_default()
        .iter()
        .map(|m| m.address.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `SMSU     3 2026-11-23 09:00 failed  ticket_created  to a@b  (1 attempt) last error`.
fn summary(offer: &str, row: &OutboxRow) -> String {
    let when = match row.status {
        OutboxState::Pending => format!(" next {}", row.next_attempt_at.format("%Y-%m-%d %H:%M")),
        OutboxState::Sent | OutboxState::Failed => String::new(),
    };
    let error = row
        .last_error
        .as_deref()
        .map(|e| format!(" last error: {}", line(e)))
        .unwrap_or_default();
    format!(
        "{offer} {:>5} {} {:<7} {} to {} ({} attempt(s)){when}{error}",
        row.id,
        row.created_at.format("%Y-%m-%d %H:%M"),
        row.status.as_str(),
        line(&row.template),
        line(&recipients(row)),
        row.attempts
    )
}

fn details(row: &OutboxRow) -> String {
    let mut text = format!(
        "id {}\nstate {}\ntemplate {}\nto {}\nmessage-id <{}>\nqueued {}\nattempts {}\nnext attempt {}",
        row.id,
        row.status.as_str(),
        line(&row.template),
        line(&recipients(row)),
        line(&row.message_id),
        row.created_at.to_rfc3339(),
        row.attempts,
        row.next_attempt_at.to_rfc3339(),
    );
    if let Some(e) = &row.last_error {
        text.push_str(&format!("\nlast error {}", line(e)));
    }
    if let Some(r) = &row.sent_ref {
        text.push_str(&format!("\nsent {}", line(r)));
    }
    text
}
