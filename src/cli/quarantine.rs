//! `guichet quarantine ...`: list, show and replay the mail that could not be taken in.

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;

use super::args::QuarantineCommand;
use super::deliver::outcome_line;
use super::output::line;
use super::{offer, offers};
use crate::domain::QuarantineId;
use crate::service::Context;
use crate::service::operator;

pub(super) async fn quarantine(
    ctx: &Context,
    command: QuarantineCommand,
) -> anyhow::Result<ExitCode> {
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
