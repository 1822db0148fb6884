//! The configuration's behaviour: defaults, every error message with its path, environment
//! overrides, secrets and what `check-config` prints.

use std::path::{Path, PathBuf};

use super::checks::mask_dsn;
use super::*;

const EXAMPLE: &str = include_str!("../../deploy/guichet.example.toml");

/// Environment variables of a case, as name and value.
type Vars = &'static [(&'static str, &'static str)];

/// One institution and one offer: the valid start the single-error cases add to.
const BASE: &str = r#"
[[institutions]]
key = "univ-rennes"
name = "Université de Rennes"
domains = ["univ-rennes.example"]

[[offers]]
code = "SMSU"
name = "SMS Universitaire"
provider = "univ-rennes"
support_addresses = ["Support-SMSU@esup-portail.example"]
"#;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn ok(text: &str, vars: &[(&str, &str)]) -> Config {
    load_from_str(text, &env(vars))
        .unwrap_or_else(|e| panic!("expected a valid config: {:#?}", e.0))
}

fn errors(text: &str, vars: &[(&str, &str)]) -> Vec<ConfigError> {
    match load_from_str(text, &env(vars)) {
        Ok(_) => panic!("expected errors for:\n{text}\nenv {vars:?}"),
        Err(e) => e.0,
    }
}

fn toml_path(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

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
        let table: [(&str, String, &str); 16] = [
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
    use super::defaults::*;
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
        (
            "message_id_domain",
            format!("{FALLBACK_MESSAGE_ID_DOMAIN:?} when no"),
        ),
    ];
    for (key, says) in sections {
        let comment = section_comment(key);
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
                super::describe::policy_name(UNKNOWN_SENDER)
            ),
        ),
        ("maildir", format!("Default \"{MAILDIR_DIR}/CODE\"")),
    ];
    for (key, says) in offers {
        let comment = offer_key_comment(key);
        assert!(comment.contains(&says), "{key}: {says:?} not in\n{comment}");
    }
    let postfix = include_str!("../../deploy/postfix.md");
    let maildir = format!("default\n`DATA_DIR/{MAILDIR_DIR}/CODE`");
    assert!(postfix.contains(&maildir), "deploy/postfix.md: {maildir:?}");
    let readme = include_str!("../../README.md");
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
}

#[test]
fn every_bad_key_is_reported_in_one_run() {
    let text = r#"
[daemon]
log_formt = "json"

[storage]
max_connections = "eight"

[[institutions]]
key = "univ-rennes"
name = "Rennes"

[[offers]]
code = "smsu"
name = "SMS"
provider = "univ-rennes"
support_addresses = ["support-smsu@esup-portail.example"]

[[offers]]
code = "GEFORP"
name = "Formation"
provider = "univ-nowhere"
support_addresses = ["foo"]
colour = "blue"
"#;
    let found = errors(
        text,
        &[("GUICHET_MAIL__OUTBOX_DIRR", "x"), ("PATH", "/usr/bin")],
    );
    let expected = [
        ("daemon.log_formt", "unknown key (did you mean log_format?)"),
        (
            "storage.max_connections",
            "expected an integer, found a string",
        ),
        (
            "offers[0].code",
            "offer code \"smsu\" must be 2 to 16 upper-case letters",
        ),
        (
            "offers[1].provider",
            "unknown institution \"univ-nowhere\" (declared: univ-rennes)",
        ),
        (
            "offers[1].support_addresses[0]",
            "\"foo\" is not an email address",
        ),
        ("offers[1].colour", "unknown key"),
        (
            "env GUICHET_MAIL__OUTBOX_DIRR",
            "unknown key (did you mean outbox_dir?)",
        ),
    ];
    for (path, message) in expected {
        assert!(
            found
                .iter()
                .any(|e| e.path == path && e.message.starts_with(message)),
            "missing {path}: {message}\nfound: {found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}

/// Each case adds one mistake to BASE (and the environment) and expects exactly one error.
#[test]
fn each_bad_value_is_reported_at_its_path() {
    let cases: &[(&str, Vars, &str, &str)] = &[
        // Offers.
        (
            "[[offers]]\ncode = \"SMSU\"\nname = \"Again\"\nprovider = \"univ-rennes\"\nsupport_addresses = [\"other@esup-portail.example\"]",
            &[],
            "offers[1].code",
            "\"SMSU\" is already listed at offers[0].code",
        ),
        (
            "[[offers]]\ncode = \"GEFORP\"\nname = \"F\"\nprovider = \"univ-rennes\"\nsupport_addresses = [\"support-smsu@esup-portail.example\"]",
            &[],
            "offers[1].support_addresses[0]",
            "\"support-smsu@esup-portail.example\" is already listed at offers[0].support_addresses[0]",
        ),
        (
            "[[offers]]\ncode = \"GEFORP\"\nname = \"F\"\nprovider = \"univ-rennes\"\nsupport_addresses = []",
            &[],
            "offers[1].support_addresses",
            "an offer needs at least one support address",
        ),
        (
            "[[offers]]\ncode = \"GEFORP\"\nname = \"F\"\nprovider = \"univ-rennes\"\nsupport_addresses = [\"support+geforp@esup-portail.example\"]",
            &[],
            "offers[1].support_addresses[0]",
            "support address \"support+geforp@esup-portail.example\" must not contain '+'",
        ),
        (
            "[[offers]]\ncode = \"GEFORP\"\nname = \"F\"\nsupport_addresses = [\"g@esup-portail.example\"]",
            &[],
            "offers[1].provider",
            "missing required key",
        ),
        (
            "[[offers]]\ncode = \"GEFORP\"\nname = \"F\"\nprovider = \"univ-rennes\"\nsupport_addresses = [\"g@esup-portail.example\"]\nlocale = \"de\"",
            &[],
            "offers[1].locale",
            "unknown locale \"de\"",
        ),
        (
            "[[offers]]\ncode = \"GEFORP\"\nname = \"F\"\nprovider = \"univ-rennes\"\nsupport_addresses = [\"g@esup-portail.example\"]\nunknown_sender = \"ignore\"",
            &[],
            "offers[1].unknown_sender",
            "unknown sender policy \"ignore\"",
        ),
        (
            "[[offers]]\ncode = \"GEFORP\"\nname = \"F\"\nprovider = \"univ-rennes\"\nsupport_addresses = [\"g@esup-portail.example\"]\nreopen_window_days = 0",
            &[],
            "offers[1].reopen_window_days",
            "must be positive, found 0",
        ),
        (
            "[[offers]]\ncode = \"GEFORP\"\nname = \"F\"\nprovider = \"univ-rennes\"\nsupport_addresses = [\"g@esup-portail.example\"]\nmaildir = \"maildir/SMSU\"",
            &[],
            "offers[1].maildir",
            "\"./data/maildir/SMSU\" is already listed at offers[0].maildir",
        ),
        // Daemon, storage, mail.
        (
            "[daemon]\nshutdown_grace_secs = -5",
            &[],
            "daemon.shutdown_grace_secs",
            "must be positive, found -5",
        ),
        (
            "[daemon]\nlog_format = \"xml\"",
            &[],
            "daemon.log_format",
            "unknown log format \"xml\"",
        ),
        (
            "[daemon]\nlog_level = \"guichet=loud\"",
            &[],
            "daemon.log_level",
            "invalid log filter",
        ),
        (
            "[daemon]\nmaildir_poll_ms = 0.5",
            &[],
            "daemon.maildir_poll_ms",
            "expected an integer, found a float",
        ),
        (
            "[storage]\ndsn = \"mysql://db/guichet\"",
            &[],
            "storage.dsn",
            "must start with sqlite://, postgres://",
        ),
        (
            "[storage]\ndsn = \"sqlite://\"",
            &[],
            "storage.dsn",
            "sqlite DSN without a path",
        ),
        (
            "[storage]\ndsn = \"postgres://u:hunter2@db:notaport/g\"",
            &[],
            "storage.dsn",
            "invalid PostgreSQL DSN postgres://u:****@db:notaport/g",
        ),
        (
            "[mail]\nmessage_id_domain = \"not a domain\"",
            &[],
            "mail.message_id_domain",
            "\"not a domain\" is not a mail domain",
        ),
        (
            "",
            &[("GUICHET_MAIL__HMAC_KEY", "short")],
            "env GUICHET_MAIL__HMAC_KEY",
            "the secret is too short",
        ),
        ("[smtp]\nhost = \"localhost\"", &[], "smtp", "unknown key"),
        ("[daemon.extra]\nx = 1", &[], "daemon.extra", "unknown key"),
        // Institutions.
        (
            "[[institutions]]\nkey = \"univ-rennes\"\nname = \"Again\"",
            &[],
            "institutions[1].key",
            "\"univ-rennes\" is already listed at institutions[0].key",
        ),
        (
            "[[institutions]]\nkey = \"other\"\nname = \"O\"\ndomains = [\"Univ-Rennes.example\"]",
            &[],
            "institutions[1].domains[0]",
            "\"univ-rennes.example\" is already listed at institutions[0].domains[0]",
        ),
        (
            "[[institutions]]\nkey = \"univ rennes\"\nname = \"O\"",
            &[],
            "institutions[1].key",
            "institution key \"univ rennes\" must be",
        ),
        // Contacts.
        (
            "[[contacts]]\nname = \"A\"\nemails = [\"a@univ-rennes.example\"]\ninstitution = \"nowhere\"",
            &[],
            "contacts[0].institution",
            "unknown institution \"nowhere\"",
        ),
        (
            "[[contacts]]\nname = \"A\"\nemails = [\"a@univ-rennes.example\"]\nroles = { NOPE = [\"agent\"] }",
            &[],
            "contacts[0].roles.NOPE",
            "unknown offer \"NOPE\" (declared: SMSU)",
        ),
        (
            "[[contacts]]\nname = \"A\"\nemails = [\"a@univ-rennes.example\"]\nroles = { SMSU = [\"boss\"] }",
            &[],
            "contacts[0].roles.SMSU[0]",
            "unknown role \"boss\"",
        ),
        (
            "[[contacts]]\nname = \"A\"\nemails = [\"a@univ-rennes.example\"]\n[[contacts]]\nname = \"B\"\nemails = [\"A@univ-rennes.example\"]",
            &[],
            "contacts[1].emails[0]",
            "\"a@univ-rennes.example\" is already listed at contacts[0].emails[0]",
        ),
        (
            "[[contacts]]\nname = \"A\"\nemails = [\"Support-SMSU+x@esup-portail.example\"]",
            &[],
            "contacts[0].emails[0]",
            "\"support-smsu+x@esup-portail.example\" is a support address of an offer: a contact cannot have it",
        ),
        (
            "[[contacts]]\nname = \"A\"\nemails = [\"a@\"]",
            &[],
            "contacts[0].emails[0]",
            "\"a@\" is not an email address",
        ),
        (
            "[[contacts]]\nname = \"A\"\nmatrix_ids = [\"alice\"]",
            &[],
            "contacts[0].matrix_ids[0]",
            "\"alice\" is not a Matrix id",
        ),
        (
            "[[contacts]]\nname = \"A\"",
            &[],
            "contacts[0]",
            "a contact needs at least one email address or Matrix id",
        ),
        // Environment.
        (
            "",
            &[("GUICHET_STORAGE__MAX_CONNECTIONS", "many")],
            "env GUICHET_STORAGE__MAX_CONNECTIONS",
            "expected an integer, found a string",
        ),
        (
            "",
            &[("GUICHET_OFFERS__CODE", "X")],
            "env GUICHET_OFFERS__CODE",
            "cannot override a key inside offers: it is an array",
        ),
        (
            "",
            &[("GUICHET_STORAGE_DSN", "sqlite://x.db")],
            "env GUICHET_STORAGE_DSN",
            "not an override: did you mean GUICHET_STORAGE__DSN",
        ),
        (
            "",
            &[("GUICHET_NOPE__KEY", "1")],
            "env GUICHET_NOPE__KEY",
            "unknown key",
        ),
        (
            "",
            &[("GUICHET_DAEMON__", "1")],
            "env GUICHET_DAEMON__",
            "malformed override",
        ),
    ];
    for (snippet, vars, path, message) in cases {
        let text = format!("{BASE}\n{snippet}\n");
        let found = errors(&text, vars);
        assert!(
            found.len() == 1 && found[0].path == *path && found[0].message.starts_with(message),
            "case {snippet:?} {vars:?}: expected only {path}: {message}\nfound: {found:#?}"
        );
    }
}

#[test]
fn environment_overrides_win_over_the_file() {
    let text = format!(
        "{BASE}\n[daemon]\nlog_level = \"info\"\nlog_format = \"human\"\n[storage]\ndsn = \"sqlite://a.db\"\n\
             max_connections = 2\npassword_file = \"/nonexistent/ignored-because-the-env-wins\"\n"
    );
    let config = ok(
        &text,
        &[
            ("GUICHET_DAEMON__LOG_LEVEL", "guichet=debug"),
            ("GUICHET_DAEMON__LOG_FORMAT", "json"),
            (
                "GUICHET_STORAGE__DSN",
                "postgres://guichet@db.example/guichet",
            ),
            ("GUICHET_STORAGE__MAX_CONNECTIONS", "20"),
            // Reads as a TOML integer, but a password is a string.
            ("GUICHET_STORAGE__PASSWORD", "12345678"),
            ("GUICHET_MAIL__MESSAGE_ID_DOMAIN", "Mail.Example"),
            // Not overrides.
            ("GUICHET_CONFIG", "/etc/guichet/guichet.toml"),
            ("GUICHET_TEST_PG_URL", "postgres://x@127.0.0.1/y"),
            ("GUICHET_LOG", "trace"),
            ("HOME", "/root"),
        ],
    );
    let table: [(&str, String, &str); 6] = [
        (
            "log_level",
            config.daemon.log_level.clone(),
            "guichet=debug",
        ),
        (
            "log_format",
            format!("{:?}", config.daemon.log_format),
            "Json",
        ),
        (
            "dsn",
            format!("{:?}", config.storage.dsn),
            "Postgres(\"postgres://guichet@db.example/guichet\")",
        ),
        (
            "max_connections",
            config.storage.max_connections.to_string(),
            "20",
        ),
        (
            "password",
            config
                .storage
                .password
                .as_ref()
                .map_or("", |s| s.expose())
                .to_owned(),
            "12345678",
        ),
        (
            "message_id_domain",
            config.mail.message_id_domain.clone(),
            "mail.example",
        ),
    ];
    for (key, actual, expected) in table {
        assert_eq!(actual, expected, "{key}");
    }
}

#[test]
fn secret_files_are_read_and_never_printed() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let password = "pg-password-from-a-credential-file";
    let key = "0123456789abcdef0123456789abcdef-hmac-key";
    std::fs::write(dir.path().join("db-password"), format!("{password}\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    let key_file = dir.path().join("keys").join("hmac");
    std::fs::create_dir(dir.path().join("keys")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&key_file, format!("{key}\r\n")).unwrap_or_else(|e| panic!("{e}"));
    let text = format!(
        "{BASE}\n[storage]\ndsn = \"postgres://guichet:inline-secret@db.example/guichet\"\n\
             password_file = \"db-password\"\n[mail]\nhmac_key_file = {}\n",
        toml_path(&key_file)
    );
    let credentials = dir.path().display().to_string();
    let config = ok(&text, &[("CREDENTIALS_DIRECTORY", &credentials)]);
    assert_eq!(
        config.storage.password.as_ref().map(Secret::expose),
        Some(password),
        "relative to $CREDENTIALS_DIRECTORY"
    );
    assert_eq!(
        config.mail.hmac_key.as_ref().map(Secret::expose),
        Some(key),
        "absolute, trailing newline trimmed"
    );
    let debug = format!("{config:?}");
    let described = config.describe();
    for secret in [password, key] {
        assert!(!debug.contains(secret), "Debug shows a secret: {debug}");
        assert!(
            !described.contains(secret),
            "describe shows a secret: {described}"
        );
    }
    assert!(!described.contains("inline-secret"), "{described}");
    assert!(
        described.contains("postgres://guichet:****@db.example/guichet (storage.password: set)"),
        "{described}"
    );
    assert!(
        described.contains("reply-token key (mail.hmac_key): set"),
        "{described}"
    );
}

#[test]
fn unreadable_secret_file_is_named_without_its_content() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let missing = dir.path().join("absent");
    let text = format!("[storage]\npassword_file = {}\n", toml_path(&missing));
    let found = errors(&text, &[]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].path, "storage.password_file");
    assert!(
        found[0]
            .message
            .starts_with(&format!("cannot read {}", missing.display())),
        "{found:#?}"
    );

    std::fs::write(&missing, "\n").unwrap_or_else(|e| panic!("{e}"));
    let found = errors(&text, &[]);
    assert_eq!(
        (found[0].path.as_str(), found[0].message.as_str()),
        ("storage.password_file", "the secret is empty")
    );
}

#[test]
fn a_secret_given_twice_is_an_error() {
    let cases: &[(&str, Vars, &str)] = &[
        (
            "[storage]\npassword = \"a\"\npassword_file = \"b\"",
            &[],
            "storage.password_file",
        ),
        (
            "[mail]\nhmac_key = \"a\"\nhmac_key_file = \"b\"",
            &[],
            "mail.hmac_key_file",
        ),
        (
            "",
            &[
                ("GUICHET_MAIL__HMAC_KEY", "a"),
                ("GUICHET_MAIL__HMAC_KEY_FILE", "b"),
            ],
            "env GUICHET_MAIL__HMAC_KEY_FILE",
        ),
    ];
    for (text, vars, path) in cases {
        let found = errors(text, vars);
        assert!(
            found.len() == 1
                && found[0].path == *path
                && found[0]
                    .message
                    .ends_with("is also set: keep one of the two"),
            "{text:?} {vars:?}: {found:#?}"
        );
    }
}

#[test]
fn syntax_error_is_one_error_with_line_and_column() {
    let found = errors("[daemon]\nlog_level = \"info\"\nlog_format = human\n", &[]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].path, "line 3, column 14");
    assert!(found[0].message.starts_with("invalid TOML: "), "{found:#?}");
}

#[test]
fn config_file_is_read_or_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let file = dir.path().join("guichet.toml");
    std::fs::write(&file, BASE).unwrap_or_else(|e| panic!("{e}"));
    let config = load(Some(&file), &[]).unwrap_or_else(|e| panic!("{:#?}", e.0));
    assert_eq!(config.offers.len(), 1);

    std::fs::write(&file, "[daemon\n").unwrap_or_else(|e| panic!("{e}"));
    let Err(ConfigErrors(found)) = load(Some(&file), &[]) else {
        panic!("syntax error accepted")
    };
    assert_eq!(
        found[0].path,
        format!("{}:1:8", file.display()),
        "{found:#?}"
    );

    let missing = dir.path().join("absent.toml");
    let Err(ConfigErrors(found)) = load(Some(&missing), &[]) else {
        panic!("missing file accepted")
    };
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].path, missing.display().to_string());
    assert!(
        found[0]
            .message
            .starts_with("cannot read the configuration file"),
        "{found:#?}"
    );
}

#[test]
fn dsn_forms_and_paths_relative_to_data_dir() {
    let cases = [
        (
            "sqlite://guichet.db",
            Dsn::Sqlite(PathBuf::from("guichet.db")),
            Some("/srv/g/guichet.db"),
        ),
        (
            "sqlite://db/g.db",
            Dsn::Sqlite(PathBuf::from("db/g.db")),
            Some("/srv/g/db/g.db"),
        ),
        (
            "sqlite:///var/lib/g.db",
            Dsn::Sqlite(PathBuf::from("/var/lib/g.db")),
            Some("/var/lib/g.db"),
        ),
        (
            "postgres://g@db/g",
            Dsn::Postgres("postgres://g@db/g".to_owned()),
            None,
        ),
        (
            "postgresql://g@db:5433/g?sslmode=require",
            Dsn::Postgres("postgresql://g@db:5433/g?sslmode=require".to_owned()),
            None,
        ),
    ];
    for (dsn, expected, file) in cases {
        let text = format!(
            "[daemon]\ndata_dir = \"/srv/g\"\n[storage]\ndsn = \"{dsn}\"\n[mail]\ntemplates_dir = \"tpl\"\noutbox_dir = \"/var/spool/g\"\n"
        );
        let config = ok(&text, &[]);
        assert_eq!(config.storage.dsn, expected, "{dsn}");
        assert_eq!(config.sqlite_path(), file.map(PathBuf::from), "{dsn}");
        assert_eq!(config.mail.templates_dir, Some(PathBuf::from("/srv/g/tpl")));
        assert_eq!(config.mail.outbox_dir, PathBuf::from("/var/spool/g"));
    }
}

#[test]
fn dsn_passwords_are_masked() {
    let cases = [
        ("postgres://g:s3cret@db/g", "postgres://g:****@db/g"),
        (
            "postgres://g:pa/ss@db:5432/g?sslmode=require",
            "postgres://g:****@db:5432/g?sslmode=require",
        ),
        (
            "postgres://g@db/g?sslmode=require&password=s3cret",
            "postgres://g@db/g?sslmode=require&password=****",
        ),
        (
            "postgres://db/g?password=s3cret",
            "postgres://db/g?password=****",
        ),
        ("postgres://g@db/g", "postgres://g@db/g"),
    ];
    for (dsn, masked) in cases {
        assert_eq!(mask_dsn(dsn), masked);
    }
}

#[test]
fn describe_says_what_would_run() {
    let text = EXAMPLE.replace("# password = \"...\"", "password = \"do-not-print-me\"");
    let config = ok(&text, &[]);
    let described = config.describe();
    for expected in [
        "data dir: ./data",
        "storage: SQLite, ./data/guichet.db",
        "outbox dir: ./data/outbox",
        "reply-token key (mail.hmac_key): not set",
        "institutions: 4; contacts: 4",
        "  SMSU \"SMS Universitaire\", provided by univ-rennes, locale fr",
        "    addresses: support-smsu@esup-portail.example",
        "    maildir: ./data/maildir/SMSU",
        "    contacts with a role: 1 agent(s), 2 requester(s), 1 governance, from 4 institution(s)",
        "  GEFORP \"Catalogue de formation des personnels\", provided by univ-lorraine",
    ] {
        assert!(
            described.contains(expected),
            "missing {expected:?} in:\n{described}"
        );
    }
    assert!(!described.contains("do-not-print-me"), "{described}");
}
