//! Mail out through a local SMTP server (the aiosmtpd sink of tests/env/start-smtp-sink.sh),
//! next to a baseline measured in the same run on the same messages (issue 8, Acceptance):
//!
//! - (a) lettre alone, one connection reused, sending the messages already rendered and
//!   built (what any SMTP client costs against this server);
//! - (b) guichet's outbox: the same number of rows queued in SQLite, then outbox passes
//!   (claim, render from the template, build, send through the `SmtpSender`, mark sent with
//!   its own commit) until every row is sent.
//!
//! `cargo bench --bench smtp` runs it in release on `GUICHET_BENCH_MAILS` messages (default
//! 10,000). Under `cargo test` (no `--bench` argument) it is a smoke run of 100 messages, the
//! figures printed and the counts checked at the server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark program: an unexpected error ends the run, loudly"
)]

#[path = "../tests/common/smtp_sink.rs"]
#[allow(dead_code, reason = "the bench uses part of the test fixture")]
mod smtp_sink;

use std::time::{Duration, Instant};

use guichet::channels::outbound;
use guichet::channels::smtp::SmtpSender;
use guichet::clock::{Clock as _, SystemClock};
use guichet::config::MailTransport;
use guichet::notify::{Notifier, Template};
use guichet::service::outbox::{PassReport, send_due};
use guichet::service::sync;
use guichet::store::NewOutbox;
use lettre::address::Envelope;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use smtp_sink::SmtpSink;

const SUPPORT: &str = "support-smsu@esup-portail.example";

fn config_text(data: &std::path::Path, port: u16) -> String {
    format!(
        r#"
[daemon]
data_dir = "{}"

[mail]
transport = "smtp"
[mail.smtp]
host = "127.0.0.1"
port = {port}
tls = "plain"

[[institutions]]
key = "univ-rennes"
name = "Université de Rennes"
domains = ["univ-rennes.example"]

[[offers]]
code = "SMSU"
name = "SMS Universitaire"
provider = "univ-rennes"
support_addresses = ["{SUPPORT}"]
"#,
        data.display()
    )
}

/// The acknowledgement of ticket `n` to its own recipient: the template's sample context.
fn context(n: usize) -> serde_json::Value {
    let mut ctx = Template::TicketCreated.sample_context();
    ctx["recipient"]["address"] = format!("person{n}@univ-rennes.example").into();
    ctx["ticket"]["ref"] = format!("I-{n:06}").into();
    ctx["ticket"]["tag"] = format!("[SMSU I-{n:06}]").into();
    ctx
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full {
        env_or("GUICHET_BENCH_MAILS", 10_000)
    } else {
        100
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n));
}

async fn run(n: usize) {
    guichet::app::init_logging(guichet::config::LogFormat::Human, "off", false);
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(&dir.path().join("data"), sink.port);
    let config = guichet::config::load_from_str(&text, &[]).expect("bench config");
    let MailTransport::Smtp(smtp) = config.mail.transport.clone() else {
        panic!("smtp transport expected");
    };
    let ctx = guichet::app::context(config).await.expect("context");
    sync::sync_all(&ctx).await.expect("sync");
    let offer = ctx.config.offer("SMSU").expect("offer").clone();
    let notifier = Notifier::new(None).expect("templates");

    // The same messages for both: rendered and built here for (a); (b) renders its own.
    let now = SystemClock.now();
    let rows: Vec<(serde_json::Value, String, String)> = (0..n)
        .map(|i| {
            let to = format!("person{i}@univ-rennes.example");
            let id = format!("bench-{i}.guichet@esup-portail.example");
            (context(i), to, id)
        })
        .collect();
    let built: Vec<(Envelope, Vec<u8>)> = rows
        .iter()
        .map(|(ctx, to, id)| {
            let r = notifier.render(Template::TicketCreated, "fr", ctx).unwrap();
            let mail = outbound::OutboundMail {
                from: guichet::domain::Mailbox::new(Some("SMS Universitaire"), SUPPORT),
                to: vec![guichet::domain::Mailbox::new(None, to)],
                subject: r.subject,
                text: r.text,
                html: Some(r.html),
                message_id: guichet::domain::MessageId::new(id).unwrap(),
                in_reply_to: None,
                references: Vec::new(),
                reply_to: None,
                auto_submitted: Some("auto-replied".into()),
                date: now,
                attachments: Vec::new(),
            };
            let envelope =
                Envelope::new(Some(SUPPORT.parse().unwrap()), vec![to.parse().unwrap()]).unwrap();
            (envelope, outbound::to_bytes(&mail).unwrap())
        })
        .collect();

    // (a) lettre alone, one connection reused.
    let plain = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(sink.port)
        .pool_config(PoolConfig::new().max_size(1))
        .build();
    let start = Instant::now();
    for (envelope, bytes) in &built {
        plain.send_raw(envelope, bytes).await.unwrap();
    }
    let baseline = start.elapsed();
    assert_eq!(sink.wait_for(n, Duration::from_secs(600)).await.len(), n);

    // (b) guichet's outbox.
    let tenant = offer.code.clone();
    let mut tx = ctx.store.begin(&tenant).await.unwrap();
    for (context, to, id) in &rows {
        let recipients = serde_json::json!([{ "name": null, "address": to }]).to_string();
        tx.enqueue_outbox(&NewOutbox {
            ticket: None,
            template: Template::TicketCreated.name(),
            locale: "fr",
            context,
            from_address: SUPPORT,
            recipients: &recipients,
            message_id: id,
            in_reply_to: None,
            references: None,
            auto_submitted: Some("auto-replied"),
            now,
            due_at: now,
            coalesce_key: None,
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let sender = SmtpSender::new(&smtp).expect("smtp sender");
    let start = Instant::now();
    let mut total = PassReport::default();
    while total.sent < n {
        let r = send_due(&ctx, &notifier, &sender, &offer).await.unwrap();
        assert_eq!((r.retried, r.failed), (0, 0), "{r:?}");
        assert!(r.sent > 0, "a pass sent nothing: {total:?}");
        total.sent += r.sent;
    }
    let ours = start.elapsed();
    assert_eq!(
        sink.wait_for(2 * n, Duration::from_secs(600)).await.len(),
        2 * n
    );

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    println!(
        "SMTP out, {n} acknowledgements to a local aiosmtpd sink, SQLite WAL synchronous=FULL, {cores} cores"
    );
    println!("{:<52} {:>10} {:>12}", "", "msg/s", "seconds");
    println!(
        "{:<52} {:>10.0} {:>12.2}",
        "(a) lettre alone, one connection, prebuilt",
        rate(baseline),
        baseline.as_secs_f64()
    );
    println!(
        "{:<52} {:>10.0} {:>12.2}",
        "(b) guichet outbox (claim, render, send, mark)",
        rate(ours),
        ours.as_secs_f64()
    );
    println!("    (b)/(a) = {:.0} %", 100.0 * rate(ours) / rate(baseline));
}
