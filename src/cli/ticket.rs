//! `guichet tickets list` and `guichet ticket ...`: the operator's commands on tickets,
//! printed for a person or as JSON. The rules are in `service::operator`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};

use super::args::{TicketArgs, TicketCommand};
use super::output::{line, printable};
use super::{offer, offers};
use crate::domain::sla;
use crate::domain::{Attachment, Priority, Status, TicketKind};
use crate::service::operator::{self, Operator};
use crate::service::{Context, attachments};

pub(super) async fn list_tickets(
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

/// The files of `--attach`, each named by its file name and typed by its extension
/// (`application/octet-stream` when unknown). Their sizes are checked against `limit` before
/// any is read: a mistaken path to a disk image fails at once.
fn read_files(paths: &[PathBuf], limit: usize) -> anyhow::Result<Vec<Attachment>> {
    let mut sizes = Vec::with_capacity(paths.len());
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot attach {}", path.display()))?;
        if !meta.is_file() {
            return Err(anyhow!("cannot attach {}: not a file", path.display()));
        }
        sizes.push(meta.len());
    }
    attachments::within_limit(sizes, limit)?;
    paths
        .iter()
        .map(|path| {
            let data =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let filename = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| anyhow!("cannot attach {}: no file name", path.display()))?;
            Ok(Attachment {
                filename: Some(filename),
                content_type: mime_guess::from_path(path)
                    .first_or_octet_stream()
                    .essence_str()
                    .to_owned(),
                data,
                content_id: None,
            })
        })
        .collect()
}

fn operator_of(t: &TicketArgs) -> Operator {
    super::operator_named(t.operator.as_deref())
}

pub(super) async fn ticket(ctx: &Context, command: TicketCommand) -> anyhow::Result<ExitCode> {
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
        TicketCommand::Reply { t, message, attach } => {
            let text = text_arg(message)?;
            let files = read_files(&attach, ctx.config.mail.max_attachment_bytes)?;
            operator::reply_with_files(
                ctx,
                offer(&ctx.config, &t.offer)?,
                &t.reference,
                &operator_of(&t),
                &text,
                &files,
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
        TicketCommand::Kind { t, kind } => {
            let kind: TicketKind = kind.parse().map_err(|e: String| anyhow!(e))?;
            let (old, new) = operator::set_kind(
                ctx,
                offer(&ctx.config, &t.offer)?,
                &t.reference,
                &operator_of(&t),
                kind,
            )
            .await?;
            writeln!(out, "kind changed: {old} is now {new}")?;
            return Ok(ExitCode::SUCCESS);
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
    if !v.former_refs.is_empty() {
        writeln!(out, "formerly {}", v.former_refs.join(", "))?;
    }
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
    for c in &v.sla {
        let left = business_duration(c.left_secs);
        let due = c.due_local.as_deref().unwrap_or("-");
        let flag = if c.breached { " BREACHED" } else { "" };
        let next = c
            .next
            .as_ref()
            .map(|(level, at)| format!(" · next {} at {}", line(level), at.to_rfc3339()))
            .unwrap_or_default();
        writeln!(
            out,
            "sla: {} {} · due {} · {} {}{flag}{next}",
            c.target,
            line(state_name(c.state)),
            line(due),
            if c.left_secs < 0 { "overdue" } else { "left" },
            left,
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
        // What the writer added; the quote it answers is the article above, and the whole
        // body is in `--json` (`body_text`) and the raw message.
        let new_text = a.new_text.as_deref().filter(|t| !t.trim().is_empty());
        writeln!(
            out,
            "{}",
            printable(new_text.unwrap_or(&a.body_text).trim_end(), true)
        )?;
        if new_text.is_some_and(|t| t.trim_end() != a.body_text.trim_end()) {
            writeln!(
                out,
                "(quoted text and signature hidden: --json has the whole body)"
            )?;
        }
        for att in v.attachments.iter().filter(|x| x.article_id == a.id) {
            // `inline` names the image the HTML body shows (`cid:`), `DANGEROUS` why not to
            // open it.
            let inline = att
                .content_id
                .as_deref()
                .map(|id| format!(" inline cid:{}", line(id)))
                .unwrap_or_default();
            let danger = att
                .danger
                .as_deref()
                .map(|d| format!(" DANGEROUS: {}", line(d)))
                .unwrap_or_default();
            writeln!(
                out,
                "[attachment: {} {} {} bytes{inline}{danger}]",
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

/// A clock's state as `ticket show` prints it.
fn state_name(state: sla::ClockState) -> &'static str {
    match state {
        sla::ClockState::Running => "running",
        sla::ClockState::Paused => "paused",
        sla::ClockState::Met => "met",
    }
}

/// Business seconds as hours and minutes.
fn business_duration(secs: i64) -> String {
    sla::format_duration(chrono::TimeDelta::seconds(secs))
}
