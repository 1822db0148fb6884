//! `guichet inspect FILE`: what guichet sees in one message and would decide for it, printed
//! as aligned `key: value` lines or as JSON. Storing nothing; the decision is
//! `service::inspect`'s. A message that does not parse is a report ("quarantine: REASON"),
//! not a failure: only a file that cannot be read fails, with EX_NOINPUT.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::output::{line, printable};
use super::{EX_NOINPUT, offer};
use crate::service::Context;
use crate::service::inspect::{self, Decision, Inspection};

/// Width of the key column, so values line up (`classification:` is the longest key).
const KEY_WIDTH: usize = 17;

pub(super) async fn inspect(
    ctx: &Context,
    file: &Path,
    code: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let offer = code.map(|c| offer(&ctx.config, c)).transpose()?;
    let raw = match std::fs::read(file) {
        Ok(raw) => raw,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "guichet: error: cannot read {}: {e}",
                line(&file.display().to_string())
            );
            return Ok(ExitCode::from(EX_NOINPUT));
        }
    };
    let seen = inspect::inspect(ctx, offer, &raw).await?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&seen)?)?;
    } else {
        print(&mut out, file, &seen)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The inspection for a person: every text that came from mail goes through [`printable`].
fn print(out: &mut impl Write, file: &Path, seen: &Inspection) -> std::io::Result<()> {
    let mut field = |key: &str, value: &str| -> std::io::Result<()> {
        writeln!(out, "{:<KEY_WIDTH$}{}", format!("{key}:"), line(value))
    };
    field("file", &file.display().to_string())?;
    if let Some(h) = &seen.headers {
        field("from", h.from.as_deref().unwrap_or("-"))?;
        if let Some(sender) = &h.sender {
            field("sender", sender)?;
        }
        field("to", &joined(&h.to))?;
        field("cc", &joined(&h.cc))?;
        if !h.reply_to.is_empty() {
            field("reply-to", &joined(&h.reply_to))?;
        }
        if !h.delivered_to.is_empty() {
            field("delivered-to", &joined(&h.delivered_to))?;
        }
        field("subject", &h.subject)?;
        let generated = if h.message_id_generated {
            " (none in the message: derived)"
        } else {
            ""
        };
        field("message-id", &format!("<{}>{generated}", h.message_id))?;
        field("in-reply-to", &joined(&h.in_reply_to))?;
        field("references", &joined(&h.references))?;
        let date = h.date.map(|d| d.to_rfc3339());
        field("date", date.as_deref().unwrap_or("-"))?;
        for (name, value) in &h.auto {
            field(name, value)?;
        }
    }
    field("classification", seen.classification.as_str())?;
    field("rule", seen.rule.as_deref().unwrap_or("-"))?;
    field("offer", seen.offer.as_deref().unwrap_or("-"))?;
    field("kind", seen.kind.map_or("-", |k| k.as_str()))?;
    let t = &seen.threading;
    if t.decision == Decision::Quarantine {
        field("decision", &format!("quarantine: {}", t.reason))?;
    } else {
        field("decision", t.decision.as_str())?;
        if let Some(ticket) = &t.ticket {
            field("ticket", ticket)?;
        }
        if let Some(via) = t.via {
            field("via", via)?;
        }
        field("reason", &t.reason)?;
    }
    if let Some(text) = &seen.new_text {
        writeln!(out, "new text:")?;
        for l in printable(text.trim_end(), true).lines() {
            writeln!(out, "    {l}")?;
        }
    }
    Ok(())
}

/// A list on one line, `-` when empty.
fn joined(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}
