//! `guichet render EVENT --offer CODE [--locale fr|en] [--format text|html|eml]`: shows what
//! a notification looks like before anyone receives one. The template is rendered with
//! [`Template::sample_context`], its offer replaced by the configured one (name, code in the
//! tags, first support address), through the same templates the daemon uses (the offer's
//! and the global override directories included). `eml` builds the whole message with our headers, as the outbox would
//! send it. No store, no mail sent.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use serde_json::json;

use super::args::RenderFormat;
use super::offer;
use crate::channels::outbound::{OutboundMail, build};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, OfferConfig};
use crate::domain::{Mailbox, MessageId};
use crate::notify::{LOCALES, Notifier, Template};

pub(super) fn render(
    config: &Config,
    event: &str,
    code: &str,
    locale: Option<&str>,
    format: RenderFormat,
) -> anyhow::Result<ExitCode> {
    let template = template(event)?;
    let offer = offer(config, code)?;
    let locale = locale_of(locale.unwrap_or(&offer.locale))?;
    let notifier = Notifier::from_config(config).context("invalid templates")?;
    let ctx = sample_context(template, offer);
    let rendered = notifier
        .for_offer(offer.code.as_str())
        .render(template, locale, &ctx)?;
    let mut out = std::io::stdout().lock();
    match format {
        RenderFormat::Text => write!(out, "Subject: {}\n\n{}", rendered.subject, rendered.text)?,
        RenderFormat::Html => write!(out, "{}", rendered.html)?,
        RenderFormat::Eml => {
            let mail = preview_mail(template, offer, &ctx, rendered)?;
            let message = build(&mail).map_err(|e| anyhow!("cannot build the message: {e}"))?;
            out.write_all(&message.formatted())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The event named `name`, or an error listing them all.
fn template(name: &str) -> anyhow::Result<Template> {
    Template::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Template::ALL.iter().map(|t| t.name()).collect();
        anyhow!("unknown event {name:?} (events: {})", names.join(", "))
    })
}

/// `asked` if templates exist for it. Unlike mail, which falls back to French for a contact's
/// odd locale, a preview asked in a locale that has none is an error: the operator mistyped.
fn locale_of(asked: &str) -> anyhow::Result<&'static str> {
    LOCALES
        .into_iter()
        .find(|l| l.eq_ignore_ascii_case(asked))
        .ok_or_else(|| anyhow!("unknown locale {asked:?} (locales: {})", LOCALES.join(", ")))
}

/// The event's sample context, with the configured offer instead of the made-up one.
fn sample_context(template: Template, offer: &OfferConfig) -> serde_json::Value {
    let mut ctx = template.sample_context();
    let code = offer.code.as_str();
    ctx["offer"] = json!({
        "code": code,
        "name": offer.name,
        "support_address": offer.support_addresses.first(),
    });
    let retag = |ticket: &mut serde_json::Value| {
        if let Some(r) = ticket["ref"].as_str() {
            ticket["tag"] = json!(format!("[{code} {r}]"));
        }
    };
    if ctx.get("ticket").is_some() {
        retag(&mut ctx["ticket"]);
    }
    if let Some(tickets) = ctx.get_mut("tickets").and_then(|t| t.as_array_mut()) {
        tickets.iter_mut().for_each(retag);
    }
    ctx
}

/// The message the outbox would send to the sample recipient: from the offer's first
/// support address, with our Message-ID shape and `Auto-Submitted` as issue 8 sets it (none
/// on an agent's personal reply). No Reply-To: its token is signed when a real row is sent.
fn preview_mail(
    template: Template,
    offer: &OfferConfig,
    ctx: &serde_json::Value,
    rendered: crate::notify::Rendered,
) -> anyhow::Result<OutboundMail> {
    let from = offer
        .support_addresses
        .first()
        .ok_or_else(|| anyhow!("offer {} has no support address", offer.code.as_str()))?;
    let from = Mailbox::new(Some(&offer.name), from);
    let to = Mailbox::new(
        ctx["recipient"]["name"].as_str(),
        ctx["recipient"]["address"].as_str().unwrap_or_default(),
    );
    let auto_submitted = match template {
        Template::AgentReply => None,
        Template::TicketCreated | Template::SenderRefused => Some("auto-replied"),
        _ => Some("auto-generated"),
    };
    Ok(OutboundMail {
        message_id: MessageId::ours(&format!("preview-{}", template.name()), from.domain()),
        from,
        to: vec![to],
        subject: rendered.subject,
        text: rendered.text,
        html: Some(rendered.html),
        in_reply_to: None,
        references: Vec::new(),
        reply_to: None,
        auto_submitted: auto_submitted.map(str::to_owned),
        date: SystemClock.now(),
        attachments: Vec::new(),
    })
}
