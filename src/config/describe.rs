//! What would run: the summary `guichet check-config` prints. Secrets show as set or not set;
//! a password inside a PostgreSQL DSN is masked.

use super::checks::mask_dsn;
use super::{Config, Dsn, Role, Secret};
use crate::domain::TicketKind;
use crate::domain::routing::{KindRules, UnknownSenderPolicy};

impl Config {
    /// A human summary of what would run, for `guichet check-config`. Secrets show as set or
    /// not set; a password inside a PostgreSQL DSN is masked.
    pub fn describe(&self) -> String {
        let set = |s: &Option<Secret>| if s.is_some() { "set" } else { "not set" };
        let (d, s, m) = (&self.daemon, &self.storage, &self.mail);
        let mut out = String::new();
        let mut line = |text: String| {
            out.push_str(&text);
            out.push('\n');
        };
        line(format!("data dir: {}", d.data_dir.display()));
        match &s.dsn {
            Dsn::Sqlite(_) => {
                let file = self.sqlite_path().unwrap_or_default();
                line(format!("storage: SQLite, {}", file.display()));
                line(
                    if s.sqlite_one_cpu {
                        "  the daemon's threads kept on one CPU, the parser's aside (storage.sqlite_one_cpu)"
                    } else {
                        "  the daemon's threads on any CPU (storage.sqlite_one_cpu = false)"
                    }
                    .to_owned(),
                );
            }
            Dsn::Postgres(url) => line(format!(
                "storage: PostgreSQL, {} (storage.password: {})",
                mask_dsn(url),
                set(&s.password)
            )),
        }
        line(format!(
            "  {} connection(s) at most, connect timeout {}s",
            s.max_connections,
            s.connect_timeout.as_secs()
        ));
        line(format!(
            "logs: {}, filter {:?}",
            d.log_format.as_str(),
            d.log_level
        ));
        line(format!(
            "shutdown grace {}s; messages over {} bytes are quarantined",
            d.shutdown_grace.as_secs(),
            d.max_message_bytes
        ));
        line(format!(
            "maildir scan every {} ms; outbox scan every {} ms",
            d.maildir_poll.as_millis(),
            d.outbox_poll.as_millis()
        ));
        line(describe_transport(m));
        line(format!("message-id domain: {}", m.message_id_domain));
        line(format!(
            "reply-token key (mail.hmac_key): {}",
            set(&m.hmac_key)
        ));
        line(match &m.hmac_key {
            Some(_) => "reply tokens on: Reply-To plus-addresses and signed Message-IDs".to_owned(),
            // Said in words, not only as "not set": replies then thread by header and tag
            // only, and a forged Message-ID on our domain passes for one of ours.
            None => "reply tokens off: mail.hmac_key not set".to_owned(),
        });
        match &m.templates_dir {
            Some(dir) => line(format!(
                "templates: {} over the built-in ones",
                dir.display()
            )),
            None => line("templates: built-in".to_owned()),
        }
        line(describe_throttle(&m.throttle));
        line(format!(
            "institutions: {}; contacts: {}",
            self.institutions.len(),
            self.contacts.len()
        ));
        line(format!("offers: {}", self.offers.len()));
        for offer in &self.offers {
            line(format!(
                "  {} {:?}, provided by {}, locale {}",
                offer.code, offer.name, offer.provider, offer.locale
            ));
            line(format!(
                "    addresses: {}",
                offer.support_addresses.join(", ")
            ));
            line(format!("    maildir: {}", offer.maildir.display()));
            if let Some(dir) = &offer.templates_dir {
                line(format!(
                    "    templates: {} over the global ones",
                    dir.display()
                ));
            }
            for m in &offer.mailboxes {
                line(describe_mailbox(m));
            }
            line(describe_kinds(&offer.kinds));
            line(format!(
                "    calendar {}: {}",
                offer.calendar_name,
                offer.calendar.describe()
            ));
            for l in describe_sla(&offer.sla) {
                line(l);
            }
            let job = |s: &Option<crate::domain::schedule::JobSchedule>| {
                s.as_ref()
                    .map_or("off".to_owned(), |s| s.as_str().to_owned())
            };
            line(format!(
                "    daily digest: {}; weekly report: {}",
                job(&offer.jobs.daily_digest),
                job(&offer.jobs.weekly_report)
            ));
            let policy = policy_name(offer.unknown_sender);
            line(format!(
                "    reopen window {} days; unknown senders: {policy}; messages up to {} bytes",
                offer.reopen_window.num_days(),
                offer.max_message_bytes
            ));
            let count = |role: Role| {
                let holders = self.contacts.iter().filter(|c| {
                    c.roles
                        .iter()
                        .any(|(code, roles)| *code == offer.code && roles.contains(&role))
                });
                holders.count()
            };
            let mut institutions: Vec<&str> = self
                .contacts
                .iter()
                .filter(|c| c.roles.iter().any(|(code, _)| *code == offer.code))
                .filter_map(|c| c.institution.as_deref())
                .collect();
            institutions.sort_unstable();
            institutions.dedup();
            line(format!(
                "    contacts with a role: {} agent(s), {} requester(s), {} governance, \
                 from {} institution(s)",
                count(Role::Agent),
                count(Role::Requester),
                count(Role::Governance),
                institutions.len()
            ));
        }
        out
    }
}

/// `    imap NAME: USER@HOST:PORT (TLS), AUTH, folder F, then ACTION`: what a mailbox will do,
/// never its secret.
fn describe_mailbox(m: &super::MailboxConfig) -> String {
    use super::{AfterCommit, ServerAuth};
    let tls = tls_words(m.tls);
    let auth = match &m.auth {
        ServerAuth::Login(_) => "LOGIN".to_owned(),
        ServerAuth::Plain(_) => "AUTHENTICATE PLAIN".to_owned(),
        ServerAuth::XOAuth2(source) => format!("XOAUTH2, {}", token_words(source)),
    };
    let after = match &m.after {
        AfterCommit::Seen => "flag \\Seen".to_owned(),
        AfterCommit::Move(folder) => format!("move to {folder}"),
        AfterCommit::Leave => "leave as is".to_owned(),
    };
    format!(
        "    imap {}: {}@{}:{} ({tls}), {auth}, folder {}, then {after}",
        m.name, m.user, m.host, m.port, m.folder
    )
}

/// `mail out: ...`: where outbound mail goes, and how, never a secret.
fn describe_transport(m: &super::MailConfig) -> String {
    use super::{MailTransport, ServerAuth};
    let smtp = match &m.transport {
        MailTransport::File => {
            return format!(
                "mail out: .eml files in {} (mail.transport \"file\": nobody receives them)",
                m.outbox_dir.display()
            );
        }
        MailTransport::Smtp(smtp) => smtp,
    };
    let login = match &smtp.login {
        None => "no login".to_owned(),
        Some((user, ServerAuth::Login(_))) => format!("AUTH LOGIN as {user}"),
        Some((user, ServerAuth::Plain(_))) => format!("AUTH PLAIN as {user}"),
        Some((user, ServerAuth::XOAuth2(source))) => {
            format!("AUTH XOAUTH2 as {user}, {}", token_words(source))
        }
    };
    format!(
        "mail out: SMTP {}:{} ({}), {login}, {} connection(s), timeout {}s",
        smtp.host,
        smtp.port,
        tls_words(smtp.tls),
        smtp.pool_size,
        smtp.timeout.as_secs()
    )
}

/// `mail brakes: ...`: the rate limits and the coalescing window (issue 8 item 6).
fn describe_throttle(p: &crate::domain::throttle::Policy) -> String {
    let coalesce = match p.coalesce.num_minutes() {
        0 => "notifications sent at once".to_owned(),
        n => format!("notifications on one ticket within {n} min make one mail"),
    };
    format!(
        "mail brakes: {} per recipient per {} min, {} per ticket per {} min; {coalesce}",
        p.per_recipient.count,
        p.per_recipient.window.num_minutes(),
        p.per_ticket.count,
        p.per_ticket.window.num_minutes()
    )
}

fn tls_words(tls: super::TlsMode) -> &'static str {
    match tls {
        super::TlsMode::Implicit => "implicit TLS",
        super::TlsMode::StartTls => "STARTTLS",
        super::TlsMode::Plain => "no TLS, loopback",
    }
}

fn token_words(source: &super::TokenSource) -> String {
    match source {
        super::TokenSource::File(p) => format!("token from {}", p.display()),
        super::TokenSource::Command(_) => "token from a command".to_owned(),
    }
}

/// The word of `offers[].unknown_sender` for a policy.
pub(super) fn policy_name(policy: UnknownSenderPolicy) -> &'static str {
    match policy {
        UnknownSenderPolicy::CreateInInstitution => "create_in_institution",
        UnknownSenderPolicy::CreateUnaffiliated => "create_unaffiliated",
        UnknownSenderPolicy::Refuse => "refuse",
    }
}

/// The service levels: `    sla: critical 1h/4h, high 2h/16h...; warning 75 %; paused in
/// waiting_customer` and one line per escalation level.
fn describe_sla(p: &crate::domain::sla::Policy) -> Vec<String> {
    let d = |t: Option<chrono::TimeDelta>| {
        t.map_or("-".to_owned(), crate::domain::sla::format_duration)
    };
    let rules: Vec<String> = p
        .rules
        .iter()
        .map(|r| {
            let scope = [
                r.kind.map(|k| k.to_string()),
                r.priority.map(|p| p.to_string()),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            let scope = if scope.is_empty() {
                "any".to_owned()
            } else {
                scope
            };
            let update = r
                .budgets
                .update
                .map(|u| format!(", update {}", crate::domain::sla::format_duration(u)))
                .unwrap_or_default();
            format!(
                "{scope} {} / {}{update}",
                d(r.budgets.first_response),
                d(r.budgets.resolution)
            )
        })
        .collect();
    let pause: Vec<&str> = p.pause.iter().map(|s| s.as_str()).collect();
    let mut out = vec![format!(
        "    sla (first response / resolution): {}; warning {}; paused in {}",
        if rules.is_empty() {
            "none".to_owned()
        } else {
            rules.join(", ")
        },
        p.warning_percent
            .map_or("none".to_owned(), |w| format!("{w} %")),
        if pause.is_empty() {
            "none".to_owned()
        } else {
            pause.join(", ")
        },
    )];
    for (i, level) in p.levels.iter().enumerate() {
        let notify: Vec<String> = level
            .notify
            .iter()
            .map(|r| match r {
                crate::domain::sla::Recipient::Agents => "agents".to_owned(),
                crate::domain::sla::Recipient::Assignee => "assignee".to_owned(),
                crate::domain::sla::Recipient::Governance => "governance".to_owned(),
                crate::domain::sla::Recipient::Contact(a) => a.clone(),
            })
            .collect();
        out.push(format!(
            "    L{}: {} after the breach{}, to {}",
            i + 1,
            crate::domain::sla::format_duration(level.after),
            if level.outside_hours {
                " (wall-clock, day and night)"
            } else {
                ""
            },
            notify.join(", ")
        ));
    }
    out
}

/// `    kinds: incident (default, +incident), request (+demande, +request), change (...)`.
fn describe_kinds(kinds: &KindRules) -> String {
    let mut parts = Vec::new();
    for kind in TicketKind::ALL {
        let mut keys: Vec<&str> = kinds
            .rules
            .iter()
            .filter(|(_, k)| k == kind)
            .map(|(key, _)| key.as_str())
            .collect();
        if *kind == kinds.default {
            keys.insert(0, "default");
        }
        if !keys.is_empty() {
            parts.push(format!("{kind} ({})", keys.join(", ")));
        }
    }
    format!("    kinds: {}", parts.join(", "))
}
