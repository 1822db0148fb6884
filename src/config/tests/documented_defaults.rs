//! The defaults: what an empty file gives, and that the example file and the docs state the
//! values the reader uses (`config/defaults.rs`).

use std::path::{Path, PathBuf};

use super::*;

#[test]
fn example_file_is_valid_and_declares_two_offers() {
    let config = ok(EXAMPLE, &[]);
    let codes: Vec<&str> = config.offers.iter().map(|o| o.code.as_str()).collect();
    assert_eq!(codes, ["SMSU", "GEFORP"]);
    let smsu = &config.offers[0];
    assert_eq!(smsu.name, "SMS Universitaire");
    assert_eq!(smsu.provider, "univ-rennes");
    assert_eq!(
        smsu.support_addresses,
        ["support-smsu@esup-portail.example"]
    );
    assert_eq!(smsu.maildir, Path::new("./data/maildir/SMSU"));
    assert_eq!(
        config.offers[1].support_addresses,
        ["support-geforp@esup-portail.example"]
    );
    assert_eq!(config.institutions.len(), 4);
    assert_eq!(config.contacts.len(), 4);
    assert_eq!(
        config.sqlite_path(),
        Some(PathBuf::from("./data/guichet.db"))
    );
    assert_eq!(config.mail.message_id_domain, "esup-portail.example");
}

#[test]
fn empty_file_gives_the_documented_defaults() {
    for config in [
        ok("", &[]),
        load(None, &[]).unwrap_or_else(|e| panic!("{:#?}", e.0)),
    ] {
        let (d, s, m) = (&config.daemon, &config.storage, &config.mail);
        let table: [(&str, String, &str); 25] = [
            ("data_dir", d.data_dir.display().to_string(), "./data"),
            ("log_format", format!("{:?}", d.log_format), "Human"),
            ("log_level", d.log_level.clone(), "info"),
            ("shutdown_grace", format!("{:?}", d.shutdown_grace), "20s"),
            (
                "max_message_bytes",
                d.max_message_bytes.to_string(),
                "26214400",
            ),
            ("maildir_poll", format!("{:?}", d.maildir_poll), "1s"),
            ("outbox_poll", format!("{:?}", d.outbox_poll), "1s"),
            ("dsn", format!("{:?}", s.dsn), "Sqlite(\"guichet.db\")"),
            ("password", format!("{:?}", s.password), "None"),
            ("max_connections", s.max_connections.to_string(), "8"),
            ("connect_timeout", format!("{:?}", s.connect_timeout), "5s"),
            (
                "outbox_dir",
                m.outbox_dir.display().to_string(),
                "./data/outbox",
            ),
            (
                "message_id_domain",
                m.message_id_domain.clone(),
                "guichet.invalid",
            ),
            ("hmac_key", format!("{:?}", m.hmac_key), "None"),
            ("templates_dir", format!("{:?}", m.templates_dir), "None"),
            (
                "max_attachment_bytes",
                m.max_attachment_bytes.to_string(),
                "10485760",
            ),
            (
                "bounce_suppress_days",
                m.bounce_suppress.num_days().to_string(),
                "30",
            ),
            ("ack_limit", m.ack_limit.count.to_string(), "5"),
            (
                "ack_limit_window_minutes",
                m.ack_limit.window.num_minutes().to_string(),
                "60",
            ),
            (
                "recipient_limit",
                m.throttle.per_recipient.count.to_string(),
                "20",
            ),
            (
                "recipient_limit_window_minutes",
                m.throttle.per_recipient.window.num_minutes().to_string(),
                "60",
            ),
            (
                "ticket_limit",
                m.throttle.per_ticket.count.to_string(),
                "30",
            ),
            (
                "ticket_limit_window_minutes",
                m.throttle.per_ticket.window.num_minutes().to_string(),
                "10",
            ),
            (
                "coalesce_minutes",
                m.throttle.coalesce.num_minutes().to_string(),
                "2",
            ),
            ("offers", config.offers.len().to_string(), "0"),
        ];
        for (key, actual, expected) in table {
            assert_eq!(actual, expected, "{key}");
        }
    }
}

/// What the example file says about a key of [daemon], [storage] or [mail]: the comment
/// block just above its line (set or commented out).
fn section_comment(key: &str) -> String {
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    let (set, commented) = (format!("{key} = "), format!("# {key} = "));
    let at = lines
        .iter()
        .position(|l| l.starts_with(&set) || l.starts_with(&commented))
        .unwrap_or_else(|| panic!("{key} is not in the example file"));
    let start = lines[..at]
        .iter()
        .rposition(|l| !l.starts_with('#'))
        .map_or(0, |i| i + 1);
    lines[start..at].join("\n")
}

/// What the example file says about a key of `[[offers]]`: its row in the table of keys,
/// with the rows that continue it.
fn offer_key_comment(key: &str) -> String {
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    let row = format!("# {key} ");
    let at = lines
        .iter()
        .position(|l| l.starts_with(&row))
        .unwrap_or_else(|| panic!("{key} has no row in the example file"));
    let end = lines[at + 1..]
        .iter()
        .position(|l| !l.starts_with("#    "))
        .map_or(lines.len(), |i| at + 1 + i);
    lines[at..end].join("\n")
}

#[test]
fn example_file_and_docs_state_the_defaults_the_reader_uses() {
    use crate::config::defaults::*;
    let sections = [
        ("data_dir", format!("Default {DATA_DIR:?}.")),
        ("log_format", format!("{:?} (default)", LOG_FORMAT.as_str())),
        ("log_level", format!("{LOG_LEVEL:?} (default)")),
        (
            "shutdown_grace_secs",
            format!("Default {SHUTDOWN_GRACE_SECS}."),
        ),
        ("max_message_bytes", format!("Default {MAX_MESSAGE_BYTES} ")),
        ("maildir_poll_ms", format!("Default {MAILDIR_POLL_MS}.")),
        ("outbox_poll_ms", format!("Default {OUTBOX_POLL_MS}.")),
        ("dsn", format!("Default \"sqlite://{SQLITE_FILE}\"")),
        ("max_connections", format!("Default {MAX_CONNECTIONS}.")),
        (
            "connect_timeout_secs",
            format!("Default {CONNECT_TIMEOUT_SECS}."),
        ),
        ("outbox_dir", format!("Default {OUTBOX_DIR:?}")),
        ("transport", format!("{MAIL_TRANSPORT:?} (default")),
        ("retry_for_hours", format!("Default {RETRY_FOR_HOURS}.")),
        (
            "message_id_domain",
            format!("{FALLBACK_MESSAGE_ID_DOMAIN:?} when no"),
        ),
        (
            "bounce_suppress_days",
            format!("Default {BOUNCE_SUPPRESS_DAYS}."),
        ),
        (
            "ack_limit",
            format!("Default {ACK_LIMIT} per {ACK_LIMIT_WINDOW_MINUTES}."),
        ),
        (
            "recipient_limit",
            format!("Default {RECIPIENT_LIMIT} per {RECIPIENT_LIMIT_WINDOW_MINUTES}."),
        ),
        (
            "ticket_limit",
            format!("Default {TICKET_LIMIT} per {TICKET_LIMIT_WINDOW_MINUTES}."),
        ),
        ("coalesce_minutes", format!("Default {COALESCE_MINUTES}.")),
        (
            "max_attachment_bytes",
            format!("Default {MAX_ATTACHMENT_BYTES} "),
        ),
    ];
    for (key, says) in sections {
        let comment = section_comment(key);
        assert!(comment.contains(&says), "{key}: {says:?} not in\n{comment}");
    }
    // [mail.smtp]'s table of keys comes first in the file: its rows are found before the
    // mailboxes' rows of the same names.
    let tls_word = |tls| match tls {
        crate::config::TlsMode::Implicit => "implicit",
        crate::config::TlsMode::StartTls => "starttls",
        crate::config::TlsMode::Plain => "plain",
    };
    let smtp = [
        ("tls", format!("{:?} (default)", tls_word(SMTP_TLS))),
        (
            "port",
            format!(
                "default {SUBMISSION_PORT} with STARTTLS, {SMTPS_PORT} with implicit TLS, \
                 {SMTP_PORT} plain"
            ),
        ),
        ("timeout_secs", format!("Default {SMTP_TIMEOUT_SECS}.")),
        ("pool_size", format!("Default {SMTP_POOL_SIZE}.")),
    ];
    for (key, says) in smtp {
        let comment = offer_key_comment(key).replace("\n#              ", "");
        assert!(comment.contains(&says), "{key}: {says:?} not in\n{comment}");
    }
    let offers = [
        ("locale", format!("{LOCALE:?} (default)")),
        (
            "reopen_window_days",
            format!("Default {REOPEN_WINDOW_DAYS}."),
        ),
        (
            "unknown_sender",
            format!(
                "{:?} (default)",
                crate::config::describe::policy_name(UNKNOWN_SENDER)
            ),
        ),
        ("maildir", format!("Default \"{MAILDIR_DIR}/CODE\"")),
        (
            "default_kind",
            format!("{:?} (default)", DEFAULT_KIND.as_str()),
        ),
        (
            "max_message_bytes",
            "Default daemon.max_message_bytes.".to_owned(),
        ),
    ];
    for (key, says) in offers {
        let comment = offer_key_comment(key);
        assert!(comment.contains(&says), "{key}: {says:?} not in\n{comment}");
    }
    // Every built-in suffix and the kind it opens, as `"+demande"` ... `= "request"`.
    let comment = offer_key_comment("kind_by_address").replace("\n#", "");
    for (suffix, kind) in KIND_SUFFIXES {
        let (suffix, kind) = (format!("{suffix:?}"), format!("= {:?}", kind.as_str()));
        let at = comment.find(&suffix);
        assert!(
            at.is_some_and(|at| comment[at..].contains(&kind)),
            "kind_by_address: {suffix} {kind} not in\n{comment}"
        );
    }
    let postfix = include_str!("../../../deploy/postfix.md");
    let maildir = format!("default\n`DATA_DIR/{MAILDIR_DIR}/CODE`");
    assert!(postfix.contains(&maildir), "deploy/postfix.md: {maildir:?}");
    let readme = include_str!("../../../README.md");
    let maildir = format!("(default `DATA_DIR/{MAILDIR_DIR}/CODE`)");
    assert!(readme.contains(&maildir), "README.md: {maildir:?}");
}

#[test]
fn offer_keys_have_their_defaults() {
    let config = ok(BASE, &[]);
    let offer = &config.offers[0];
    assert_eq!(
        offer.support_addresses,
        ["support-smsu@esup-portail.example"],
        "lower-cased"
    );
    assert_eq!(offer.locale, "fr");
    assert_eq!(offer.reopen_window, chrono::Duration::days(10));
    assert_eq!(
        offer.unknown_sender,
        UnknownSenderPolicy::CreateInInstitution
    );
    assert_eq!(offer.maildir, Path::new("./data/maildir/SMSU"));
    assert_eq!(config.mail.message_id_domain, "esup-portail.example");
    assert_eq!(offer.kinds.default, crate::domain::TicketKind::Incident);
    let suffixes: Vec<(&str, crate::domain::TicketKind)> = offer
        .kinds
        .rules
        .iter()
        .map(|(key, kind)| (key.as_str(), *kind))
        .collect();
    assert_eq!(suffixes, crate::config::defaults::KIND_SUFFIXES);
}
