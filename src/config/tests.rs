//! The configuration's behaviour: every error message with its path, environment overrides,
//! secrets and what `check-config` prints. The defaults are tested in
//! `tests/documented_defaults.rs`.

use std::path::{Path, PathBuf};

use super::checks::mask_dsn;
use super::*;

mod calendars;
mod documented_defaults;
mod kinds;
mod mailboxes;
mod sla;
mod smtp;

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
            "[storage]\nsqlite_one_cpu = \"yes\"",
            &[],
            "storage.sqlite_one_cpu",
            "expected true or false, found a string",
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
            "[mail]\nrecipient_limit = 0",
            &[],
            "mail.recipient_limit",
            "must be positive, found 0",
        ),
        (
            "[mail]\nticket_limit_window_minutes = 0",
            &[],
            "mail.ticket_limit_window_minutes",
            "must be positive, found 0",
        ),
        (
            "[mail]\ncoalesce_minutes = -1",
            &[],
            "mail.coalesce_minutes",
            "must be zero or positive, found -1",
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
            "[[contacts]]\nname = \"A\"\nemails = [\"a@univ-rennes.example\"]\nlocale = \"de\"",
            &[],
            "contacts[0].locale",
            "unknown locale \"de\"",
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
    assert!(described.contains("reply tokens on"), "{described}");
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
        "mail out: .eml files in ./data/outbox (mail.transport \"file\": nobody receives them)",
        "reply-token key (mail.hmac_key): not set",
        "reply tokens off: mail.hmac_key not set",
        "mail brakes: 20 per recipient per 60 min, 30 per ticket per 10 min; \
         notifications on one ticket within 2 min make one mail",
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
