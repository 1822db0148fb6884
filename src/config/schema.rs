//! The schema: which keys each table has, their types, their defaults (from
//! [`super::defaults`]) and the references between tables (offers and contacts name
//! institutions, roles name offers, addresses and Maildirs are unique). Every problem goes to
//! the [`Report`] and reading carries on, so later keys are still checked.
//!
//! It reads the secret files the configuration names; nothing else (no database, no network).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use toml::Table;

use super::calendars::{Calendars, read_calendars};
use super::checks::{
    declared, institution_ref, non_empty, parse_domain, parse_dsn, parse_email, parse_key,
    parse_log_level, parse_matrix_id, parse_role, parse_support_address,
};
use super::cursor::{Fields, Node, Report, Unique, child};
use super::defaults;
use super::mailboxes::read_mailboxes;
use super::sla::{read_jobs, read_sla};
use super::{
    Config, ContactConfig, DaemonConfig, Dsn, InstitutionConfig, LogFormat, MailConfig,
    MailTransport, OfferConfig, Role, Secret, StorageConfig,
};
use crate::domain::TenantId;
use crate::domain::TicketKind;
use crate::domain::recipients::OwnAddresses;
use crate::domain::routing::{KindRules, UnknownSenderPolicy};

/// An HMAC-SHA256 key shorter than its 32-byte output lets reply tokens be forged by brute
/// force offline; `openssl rand -hex 32` gives 64 characters.
const MIN_HMAC_KEY_BYTES: usize = 32;

pub(super) fn read_config(root: &Table, credentials: Option<&Path>, r: &mut Report) -> Config {
    let mut top = Fields::root(root);
    let daemon = read_daemon(top.table("daemon", r), r);
    let storage = read_storage(top.table("storage", r), credentials, r);
    let mail_fields = top.table("mail", r);
    let (institutions, institution_keys) = read_institutions(top.tables("institutions", r), r);
    let calendars = read_calendars(top.get("calendars"), r);
    let (offers, offer_codes) = read_offers(
        top.tables("offers", r),
        (&institution_keys, &calendars),
        (&daemon.data_dir, daemon.max_message_bytes, credentials),
        r,
    );
    let own = OwnAddresses::new(
        offers
            .iter()
            .flat_map(|o| o.support_addresses.iter().map(String::as_str)),
    );
    let contacts = read_contacts(
        top.tables("contacts", r),
        &institution_keys,
        &offer_codes,
        &own,
        r,
    );
    super::sla::check_recipients(&offers, &contacts, r);
    let mail = read_mail(mail_fields, &daemon.data_dir, &offers, credentials, r);
    top.finish(r);
    Config {
        daemon,
        storage,
        mail,
        offers,
        institutions,
        contacts,
        calendars: calendars.valid,
    }
}

fn read_daemon(mut t: Fields<'_>, r: &mut Report) -> DaemonConfig {
    let data_dir = t.get("data_dir").and_then(|n| n.path_buf(r));
    let log_format = t.get("log_format").and_then(|n| {
        n.parse(r, |s| match s {
            "human" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("unknown log format {s:?} (expected human or json)")),
        })
    });
    let log_level = t.get("log_level").and_then(|n| n.parse(r, parse_log_level));
    let shutdown_grace = t.get("shutdown_grace_secs").and_then(|n| n.positive(r));
    let max_message_bytes = t.get("max_message_bytes").and_then(|n| n.positive_as(r));
    let maildir_poll = t.get("maildir_poll_ms").and_then(|n| n.positive(r));
    let outbox_poll = t.get("outbox_poll_ms").and_then(|n| n.positive(r));
    t.finish(r);
    DaemonConfig {
        data_dir: data_dir.unwrap_or_else(|| PathBuf::from(defaults::DATA_DIR)),
        log_format: log_format.unwrap_or(defaults::LOG_FORMAT),
        log_level: log_level.unwrap_or_else(|| defaults::LOG_LEVEL.to_owned()),
        shutdown_grace: Duration::from_secs(
            shutdown_grace.unwrap_or(defaults::SHUTDOWN_GRACE_SECS),
        ),
        max_message_bytes: max_message_bytes.unwrap_or(defaults::MAX_MESSAGE_BYTES),
        maildir_poll: Duration::from_millis(maildir_poll.unwrap_or(defaults::MAILDIR_POLL_MS)),
        outbox_poll: Duration::from_millis(outbox_poll.unwrap_or(defaults::OUTBOX_POLL_MS)),
    }
}

fn read_storage(mut t: Fields<'_>, credentials: Option<&Path>, r: &mut Report) -> StorageConfig {
    let dsn = t.get("dsn").and_then(|n| n.parse(r, parse_dsn));
    let password = read_secret(&mut t, ("password", "password_file"), credentials, 1, r);
    let max_connections = t.get("max_connections").and_then(|n| n.positive_as(r));
    let connect_timeout = t.get("connect_timeout_secs").and_then(|n| n.positive(r));
    let sqlite_one_cpu = t.get("sqlite_one_cpu").and_then(|n| n.boolean(r));
    t.finish(r);
    StorageConfig {
        dsn: dsn.unwrap_or_else(|| Dsn::Sqlite(PathBuf::from(defaults::SQLITE_FILE))),
        password,
        max_connections: max_connections.unwrap_or(defaults::MAX_CONNECTIONS),
        connect_timeout: Duration::from_secs(
            connect_timeout.unwrap_or(defaults::CONNECT_TIMEOUT_SECS),
        ),
        sqlite_one_cpu: sqlite_one_cpu.unwrap_or(true),
    }
}

fn read_mail(
    mut t: Fields<'_>,
    data_dir: &Path,
    offers: &[OfferConfig],
    credentials: Option<&Path>,
    r: &mut Report,
) -> MailConfig {
    let transport = t.get("transport");
    let smtp = t.table("smtp", r);
    let transport = super::smtp::read_transport(transport, smtp, credentials, r);
    let outbox_dir = t.get("outbox_dir").and_then(|n| n.path_buf(r));
    let message_id_domain = t
        .get("message_id_domain")
        .and_then(|n| n.parse(r, parse_domain));
    let hmac_key = read_secret(
        &mut t,
        ("hmac_key", "hmac_key_file"),
        credentials,
        MIN_HMAC_KEY_BYTES,
        r,
    );
    let templates_dir = t.get("templates_dir").and_then(|n| n.path_buf(r));
    let retry_for = t
        .get("retry_for_hours")
        .map_or(Some(defaults::RETRY_FOR_HOURS), |n| n.positive(r))
        .and_then(|hours| {
            let hours = i64::try_from(hours)
                .ok()
                .and_then(chrono::Duration::try_hours);
            if hours.is_none() {
                r.error("mail.retry_for_hours", "is too large");
            }
            hours
        });
    let bounce_suppress = t
        .get("bounce_suppress_days")
        .map_or(Some(defaults::BOUNCE_SUPPRESS_DAYS), |n| n.positive(r))
        .and_then(|days| {
            let days = i64::try_from(days)
                .ok()
                .and_then(chrono::Duration::try_days);
            if days.is_none() {
                r.error("mail.bounce_suppress_days", "is too large");
            }
            days
        });
    let ack_count = t
        .get("ack_limit")
        .map_or(Some(defaults::ACK_LIMIT), |n| n.positive(r));
    let ack_window = t
        .get("ack_limit_window_minutes")
        .map_or(Some(defaults::ACK_LIMIT_WINDOW_MINUTES), |n| n.positive(r))
        .and_then(|minutes| {
            let window = i64::try_from(minutes)
                .ok()
                .and_then(chrono::Duration::try_minutes);
            if window.is_none() {
                r.error("mail.ack_limit_window_minutes", "is too large");
            }
            window
        });
    let throttle = read_throttle(&mut t, r);
    let max_attachment_bytes = t
        .get("max_attachment_bytes")
        .map_or(Some(defaults::MAX_ATTACHMENT_BYTES), |n| n.positive_as(r));
    t.finish(r);
    let default_domain = || {
        offers
            .first()
            .and_then(|o| o.support_addresses.first())
            .and_then(|a| a.rsplit_once('@'))
            .map_or_else(
                || defaults::FALLBACK_MESSAGE_ID_DOMAIN.to_owned(),
                |(_, d)| d.to_owned(),
            )
    };
    MailConfig {
        transport: transport.unwrap_or(MailTransport::File),
        outbox_dir: data_dir
            .join(outbox_dir.unwrap_or_else(|| PathBuf::from(defaults::OUTBOX_DIR))),
        message_id_domain: message_id_domain.unwrap_or_else(default_domain),
        hmac_key,
        templates_dir: templates_dir.map(|p| data_dir.join(p)),
        retry_for: retry_for.unwrap_or(chrono::Duration::hours(defaults::RETRY_FOR_HOURS as i64)),
        bounce_suppress: bounce_suppress.unwrap_or(chrono::Duration::days(
            defaults::BOUNCE_SUPPRESS_DAYS as i64,
        )),
        ack_limit: crate::domain::loop_guard::AckLimit {
            count: ack_count.unwrap_or(defaults::ACK_LIMIT),
            window: ack_window.unwrap_or(chrono::Duration::minutes(
                defaults::ACK_LIMIT_WINDOW_MINUTES as i64,
            )),
        },
        throttle,
        max_attachment_bytes: max_attachment_bytes.unwrap_or(defaults::MAX_ATTACHMENT_BYTES),
    }
}

/// The brakes against mail storms (`mail.recipient_limit`, `mail.ticket_limit`, each with
/// its `_window_minutes`, and `mail.coalesce_minutes`). A bad key falls back to its default
/// here, after it is reported: the report fails the load anyway.
fn read_throttle(t: &mut Fields<'_>, r: &mut Report) -> crate::domain::throttle::Policy {
    use crate::domain::throttle::{Limit, Policy};
    let mut limit = |count_key, window_key, count: u64, minutes: u64| Limit {
        count: t
            .get(count_key)
            .and_then(|n| n.positive(r))
            .unwrap_or(count),
        window: read_minutes(t.get(window_key), false, r).unwrap_or(whole_minutes(minutes)),
    };
    let per_recipient = limit(
        "recipient_limit",
        "recipient_limit_window_minutes",
        defaults::RECIPIENT_LIMIT,
        defaults::RECIPIENT_LIMIT_WINDOW_MINUTES,
    );
    let per_ticket = limit(
        "ticket_limit",
        "ticket_limit_window_minutes",
        defaults::TICKET_LIMIT,
        defaults::TICKET_LIMIT_WINDOW_MINUTES,
    );
    // Zero is allowed: each notification leaves at once.
    let coalesce = read_minutes(t.get("coalesce_minutes"), true, r)
        .unwrap_or(whole_minutes(defaults::COALESCE_MINUTES));
    Policy {
        per_recipient,
        per_ticket,
        coalesce,
    }
}

/// A number of minutes, positive (or zero when `zero_ok`); `None` when absent or bad (and
/// then reported).
fn read_minutes(node: Option<Node<'_>>, zero_ok: bool, r: &mut Report) -> Option<chrono::Duration> {
    let node = node?;
    let minutes = match node.value {
        toml::Value::Integer(n) if zero_ok => match u64::try_from(*n) {
            Ok(n) => n,
            Err(_) => {
                r.error(&node.path, format!("must be zero or positive, found {n}"));
                return None;
            }
        },
        _ => node.positive(r)?,
    };
    let window = i64::try_from(minutes)
        .ok()
        .and_then(chrono::Duration::try_minutes);
    if window.is_none() {
        r.error(&node.path, "is too large");
    }
    window
}

/// A default's minutes as a duration (defaults are small).
fn whole_minutes(minutes: u64) -> chrono::Duration {
    chrono::Duration::minutes(minutes as i64)
}

/// A secret given inline (or by environment) or as a file to read. A relative file path is
/// resolved against `$CREDENTIALS_DIRECTORY` when set (systemd `LoadCredential=`), else against
/// the working directory. Errors name the key and the file, never the content.
pub(super) fn read_secret(
    t: &mut Fields<'_>,
    (key, file_key): (&'static str, &'static str),
    credentials: Option<&Path>,
    min_bytes: usize,
    r: &mut Report,
) -> Option<Secret> {
    let inline = t.get(key);
    let file = t.get(file_key);
    let (node, value) = match (inline, file) {
        (None, None) => return None,
        (Some(_), Some(file)) => {
            r.error(
                &file.path,
                format!("{key} is also set: keep one of the two"),
            );
            return None;
        }
        (Some(inline), None) => {
            let value = inline.str(r)?;
            (inline, value)
        }
        (None, Some(file)) => {
            let path = file.path_buf(r)?;
            let path = match credentials {
                Some(dir) if path.is_relative() => dir.join(path),
                _ => path,
            };
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let value = text.trim_end_matches(['\n', '\r']).to_owned();
                    (file, value)
                }
                Err(e) => {
                    r.error(&file.path, format!("cannot read {}: {e}", path.display()));
                    return None;
                }
            }
        }
    };
    if value.is_empty() {
        r.error(&node.path, "the secret is empty");
        return None;
    }
    if value.len() < min_bytes {
        r.error(
            &node.path,
            format!("the secret is too short: use at least {min_bytes} bytes"),
        );
        return None;
    }
    Some(Secret::new(value))
}

/// Returns the institutions read and every key declared (valid or not), so that references
/// to an institution with another error are not reported a second time.
fn read_institutions(
    tables: Vec<Fields<'_>>,
    r: &mut Report,
) -> (Vec<InstitutionConfig>, Vec<String>) {
    let mut institutions = Vec::new();
    let mut declared = Vec::new();
    let mut keys = Unique::default();
    let mut domains_seen = Unique::default();
    for mut t in tables {
        let key = t.need("key", r).and_then(|n| {
            let key = n.parse(r, parse_key)?;
            declared.push(key.clone());
            keys.claim(&key, &n.path, r).then_some(key)
        });
        let name = t.need("name", r).and_then(|n| n.parse(r, non_empty));
        let domains = t.get("domains").map_or(Some(Vec::new()), |n| {
            let mut domains = Vec::new();
            let mut ok = true;
            for item in n.array(r)? {
                match item.parse(r, parse_domain) {
                    Some(d) if domains_seen.claim(&d, &item.path, r) => domains.push(d),
                    _ => ok = false,
                }
            }
            ok.then_some(domains)
        });
        t.finish(r);
        if let (Some(key), Some(name), Some(domains)) = (key, name, domains) {
            institutions.push(InstitutionConfig { key, name, domains });
        }
    }
    (institutions, declared)
}

/// Returns the offers read and every offer code declared (valid or not).
fn read_offers(
    tables: Vec<Fields<'_>>,
    (institutions, calendars): (&[String], &Calendars),
    (data_dir, daemon_max_bytes, credentials): (&Path, usize, Option<&Path>),
    r: &mut Report,
) -> (Vec<OfferConfig>, Vec<String>) {
    let mut offers = Vec::new();
    let mut declared = Vec::new();
    let mut codes = Unique::default();
    let mut addresses = Unique::default();
    let mut maildirs = Unique::default();
    let (mut mailbox_names, mut mailbox_sources) = (Unique::default(), Unique::default());
    for mut t in tables {
        let code = t.need("code", r).and_then(|n| {
            let code = n.parse(r, TenantId::parse)?;
            declared.push(code.as_str().to_owned());
            codes.claim(code.as_str(), &n.path, r).then_some(code)
        });
        let name = t.need("name", r).and_then(|n| n.parse(r, non_empty));
        let provider = t
            .need("provider", r)
            .and_then(|n| n.parse(r, |s| institution_ref(s, institutions)));
        let support_addresses = t.need("support_addresses", r).and_then(|n| {
            let items = n.array(r)?;
            if items.is_empty() {
                r.error(&n.path, "an offer needs at least one support address");
                return None;
            }
            let mut list = Vec::new();
            let mut ok = true;
            for item in items {
                match item.parse(r, parse_support_address) {
                    Some(a) if addresses.claim(&a, &item.path, r) => list.push(a),
                    _ => ok = false,
                }
            }
            ok.then_some(list)
        });
        let locale = t
            .get("locale")
            .map_or(Some(defaults::LOCALE.to_owned()), |n| {
                n.parse(r, parse_locale)
            });
        let templates_dir = t
            .get("templates_dir")
            .and_then(|n| n.path_buf(r))
            .map(|p| data_dir.join(p));
        let reopen_window = t
            .get("reopen_window_days")
            .map_or(Some(defaults::REOPEN_WINDOW_DAYS), |n| n.positive(r));
        let reopen_window = reopen_window.and_then(|days| {
            let days = i64::try_from(days)
                .ok()
                .and_then(chrono::Duration::try_days);
            if days.is_none() {
                r.error(&child(&t.path, "reopen_window_days"), "is too large");
            }
            days
        });
        let unknown_sender = t
            .get("unknown_sender")
            .map_or(Some(defaults::UNKNOWN_SENDER), |n| {
                n.parse(r, UnknownSenderPolicy::from_str)
            });
        let kinds = read_kinds(&mut t, support_addresses.as_deref(), r);
        let max_message_bytes = t
            .get("max_message_bytes")
            .map_or(Some(daemon_max_bytes), |n| n.positive_as(r));
        let calendar = read_offer_calendar(&mut t, calendars, r);
        let maildir_node = t.get("maildir");
        let maildir = match (&maildir_node, &code) {
            (Some(n), _) => n.path_buf(r).map(|p| data_dir.join(p)),
            (None, Some(code)) => Some(data_dir.join(defaults::MAILDIR_DIR).join(code.as_str())),
            (None, None) => None,
        };
        if let Some(dir) = &maildir {
            let path = maildir_node.map_or_else(|| child(&t.path, "maildir"), |n| n.path);
            // Two offers reading one Maildir would take each other's mail.
            maildirs.claim(&dir.display().to_string(), &path, r);
        }
        let mailboxes = read_mailboxes(
            t.tables("mailboxes", r),
            credentials,
            (&mut mailbox_names, &mut mailbox_sources),
            r,
        );
        let sla = read_sla(t.table("sla", r), r);
        let jobs = read_jobs(t.table("jobs", r), r);
        t.finish(r);
        let (
            Some(code),
            Some(name),
            Some(provider),
            Some(support_addresses),
            Some(locale),
            Some(reopen_window),
            Some(unknown_sender),
            Some(maildir),
            Some(max_message_bytes),
            Some(sla),
            Some(jobs),
            Some((calendar_name, calendar)),
        ) = (
            code,
            name,
            provider,
            support_addresses,
            locale,
            reopen_window,
            unknown_sender,
            maildir,
            max_message_bytes,
            sla,
            jobs,
            calendar,
        )
        else {
            continue;
        };
        offers.push(OfferConfig {
            code,
            name,
            provider,
            support_addresses,
            locale,
            templates_dir,
            reopen_window,
            unknown_sender,
            maildir,
            mailboxes,
            kinds,
            max_message_bytes,
            sla,
            jobs,
            calendar_name,
            calendar,
        });
    }
    (offers, declared)
}

/// `offers[].calendar`: a name from `[calendars]` or the built-in `esup`. A calendar declared
/// with errors of its own is not reported again here.
fn read_offer_calendar(
    t: &mut Fields<'_>,
    calendars: &Calendars,
    r: &mut Report,
) -> Option<(String, std::sync::Arc<crate::domain::calendar::Calendar>)> {
    let name = match t.get("calendar") {
        None => defaults::CALENDAR.to_owned(),
        Some(n) => {
            let name = n.str(r)?;
            if !calendars.declared.contains(&name) {
                r.error(
                    &n.path,
                    format!(
                        "unknown calendar {name:?} ({})",
                        declared(&calendars.declared)
                    ),
                );
                return None;
            }
            name
        }
    };
    let calendar = calendars.valid.get(&name)?;
    Some((name, calendar.clone()))
}

/// `default_kind = "incident"` and `kind_by_address = { "+demande" = "request",
/// "demandes-smsu@univ.fr" = "request" }` of one offer, over the built-in suffixes
/// ([`defaults::KIND_SUFFIXES`]). An address key must be one of the offer's `addresses`
/// (unchecked when those did not read). A bad key or value is reported; the rest still apply.
fn read_kinds(t: &mut Fields<'_>, addresses: Option<&[String]>, r: &mut Report) -> KindRules {
    let default = t
        .get("default_kind")
        .and_then(|n| n.parse(r, TicketKind::from_str))
        .unwrap_or(defaults::DEFAULT_KIND);
    let mut rules: Vec<(String, TicketKind)> = defaults::KIND_SUFFIXES
        .iter()
        .map(|(key, kind)| ((*key).to_owned(), *kind))
        .collect();
    let Some(node) = t.get("kind_by_address") else {
        return KindRules { default, rules };
    };
    let Some(table) = node.table(r) else {
        return KindRules { default, rules };
    };
    let mut seen = Unique::default();
    for (key, value) in table {
        let entry = Node {
            path: child(&node.path, key),
            value,
        };
        let key = match parse_kind_key(key, addresses) {
            Ok(key) if seen.claim(&key, &entry.path, r) => key,
            Ok(_) => continue,
            Err(message) => {
                r.error(&entry.path, message);
                continue;
            }
        };
        let Some(kind) = entry.parse(r, TicketKind::from_str) else {
            continue;
        };
        rules.retain(|(k, _)| *k != key);
        rules.push((key, kind));
    }
    KindRules { default, rules }
}

/// A key of `kind_by_address`: `+suffix`, or one of the offer's support addresses.
fn parse_kind_key(key: &str, addresses: Option<&[String]>) -> Result<String, String> {
    if let Some(suffix) = key.strip_prefix('+') {
        let ok = !suffix.is_empty()
            && suffix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        return if ok {
            Ok(key.to_ascii_lowercase())
        } else {
            Err(format!(
                "{key:?} is not a plus-suffix: '+' then ASCII letters, digits, '-', '_' or '.'"
            ))
        };
    }
    let address = parse_email(key)
        .map_err(|_| format!("{key:?} is neither a plus-suffix (\"+demande\") nor an address"))?;
    match addresses {
        Some(list) if !list.contains(&address) => Err(format!(
            "{address:?} is not one of this offer's support_addresses (for a plus-address, \
             write its suffix: \"+demande\")"
        )),
        _ => Ok(address),
    }
}

fn read_contacts(
    tables: Vec<Fields<'_>>,
    institutions: &[String],
    offer_codes: &[String],
    own: &OwnAddresses,
    r: &mut Report,
) -> Vec<ContactConfig> {
    // Our own addresses are never people: a contact holding one would be mailed our own
    // notifications, or let any mail "from" that address act as that contact.
    let contact_email = |s: &str| {
        let address = parse_email(s)?;
        if own.contains(&address) {
            return Err(format!(
                "{address:?} is a support address of an offer: a contact cannot have it"
            ));
        }
        Ok(address)
    };
    let mut contacts = Vec::new();
    let mut emails_seen = Unique::default();
    let mut matrix_seen = Unique::default();
    for mut t in tables {
        let name = t.need("name", r).and_then(|n| n.parse(r, non_empty));
        let emails = read_list(t.get("emails"), contact_email, &mut emails_seen, r);
        let matrix_ids = read_list(t.get("matrix_ids"), parse_matrix_id, &mut matrix_seen, r);
        let institution = match t.get("institution") {
            None => Some(None),
            Some(n) => n.parse(r, |s| institution_ref(s, institutions)).map(Some),
        };
        let roles = t
            .get("roles")
            .map_or(Some(Vec::new()), |n| read_roles(&n, offer_codes, r));
        let locale = match t.get("locale") {
            None => Some(None),
            Some(n) => n.parse(r, parse_locale).map(Some),
        };
        if let (Some(e), Some(m)) = (&emails, &matrix_ids)
            && e.is_empty()
            && m.is_empty()
        {
            r.error(
                &t.path,
                "a contact needs at least one email address or Matrix id",
            );
        }
        t.finish(r);
        if let (
            Some(name),
            Some(emails),
            Some(matrix_ids),
            Some(institution),
            Some(roles),
            Some(locale),
        ) = (name, emails, matrix_ids, institution, roles, locale)
        {
            contacts.push(ContactConfig {
                name,
                emails,
                matrix_ids,
                institution,
                roles,
                locale,
            });
        }
    }
    contacts
}

/// `fr` or `en`: the languages that have templates (`offers[].locale`, `contacts[].locale`).
fn parse_locale(s: &str) -> Result<String, String> {
    match s {
        "fr" | "en" => Ok(s.to_owned()),
        _ => Err(format!("unknown locale {s:?} (expected fr or en)")),
    }
}

/// An optional list of strings, each checked by `parse` and unique across all contacts.
fn read_list(
    node: Option<Node<'_>>,
    parse: impl Fn(&str) -> Result<String, String>,
    seen: &mut Unique,
    r: &mut Report,
) -> Option<Vec<String>> {
    let Some(node) = node else {
        return Some(Vec::new());
    };
    let mut list = Vec::new();
    let mut ok = true;
    for item in node.array(r)? {
        match item.parse(r, &parse) {
            Some(v) if seen.claim(&v, &item.path, r) => list.push(v),
            _ => ok = false,
        }
    }
    ok.then_some(list)
}

/// `roles = { SMSU = ["agent"], GEFORP = ["requester", "governance"] }`.
fn read_roles(
    node: &Node<'_>,
    offer_codes: &[String],
    r: &mut Report,
) -> Option<Vec<(TenantId, Vec<Role>)>> {
    let table = node.table(r)?;
    let mut roles = Vec::new();
    let mut ok = true;
    for (code, value) in table {
        let entry = Node {
            path: child(&node.path, code),
            value,
        };
        let tenant = if offer_codes.iter().any(|c| c == code) {
            TenantId::parse(code).ok()
        } else {
            r.error(
                &entry.path,
                format!("unknown offer {code:?} ({})", declared(offer_codes)),
            );
            None
        };
        let mut list = Vec::new();
        if let Some(items) = entry.array(r) {
            if items.is_empty() {
                r.error(&entry.path, "expected at least one role");
                ok = false;
            }
            for item in items {
                match item.parse(r, parse_role) {
                    Some(role) => list.push(role),
                    None => ok = false,
                }
            }
        } else {
            ok = false;
        }
        list.sort();
        list.dedup();
        match tenant {
            Some(tenant) => roles.push((tenant, list)),
            None => ok = false,
        }
    }
    ok.then_some(roles)
}
