//! Reading and validating the configuration, in three steps, so that one run reports every
//! bad key with its path:
//!
//! 1. the TOML text becomes a `toml::Table` (a syntax error stops here: one error, with its
//!    line and column);
//! 2. `GUICHET_SECTION__KEY` environment variables are written onto that tree, and the paths
//!    they set are remembered so that an error about one names the variable;
//! 3. one walk reads every key through a small cursor ([`Fields`] for a table, [`Node`] for a
//!    value) that records each problem (unknown key, wrong type, bad value, dangling reference,
//!    duplicate) and carries on with a default, so later keys are still checked.
//!
//! This is done by hand rather than with `#[serde(deny_unknown_fields)]` because serde stops
//! at the first error. It reads the configuration file and the secret files it names; nothing
//! else (no database, no network).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use toml::{Table, Value};

use super::{
    Config, ContactConfig, DaemonConfig, Dsn, InstitutionConfig, LogFormat, MailConfig,
    OfferConfig, Role, Secret, StorageConfig,
};
use crate::domain::TenantId;
use crate::domain::recipients::OwnAddresses;
use crate::domain::routing::UnknownSenderPolicy;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path, e.g. `offers[1].support_addresses[0]`; `env GUICHET_…` when the value
    /// came from that environment variable; `FILE:LINE:COLUMN` for a TOML syntax error.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} configuration error(s)", .0.len())]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// Where the built-in configuration keeps its data, relative to the working directory.
const DEFAULT_DATA_DIR: &str = "./data";
/// The SQLite file, relative to `data_dir`.
const DEFAULT_SQLITE_FILE: &str = "guichet.db";
/// 25 MiB: the message size limit of the large mail providers (Gmail, Outlook), so anything
/// a contact could send through them is taken in.
const DEFAULT_MAX_MESSAGE_BYTES: usize = 25 * 1024 * 1024;
/// `.invalid` is reserved by RFC 2606: Message-IDs built on it can never collide with a real
/// domain's. Only used when no offer is configured (nothing is sent then anyway).
const FALLBACK_MESSAGE_ID_DOMAIN: &str = "guichet.invalid";
/// An HMAC-SHA256 key shorter than its 32-byte output lets reply tokens be forged by brute
/// force offline; `openssl rand -hex 32` gives 64 characters.
const MIN_HMAC_KEY_BYTES: usize = 32;

/// The tables an environment override can address (`GUICHET_<SECTION>__<KEY>`).
const SECTIONS: [&str; 3] = ["daemon", "storage", "mail"];
/// Secrets and their `_file` forms: an environment override of one form replaces the other
/// form given in the file (the environment wins), rather than making both set.
const SECRET_PAIRS: [(&str, &str); 2] = [
    ("storage.password", "storage.password_file"),
    ("mail.hmac_key", "mail.hmac_key_file"),
];

/// Loads `path` (or the built-in defaults when `None`) and applies `GUICHET_` overrides from
/// `env` (pairs of name and value, e.g. from `std::env::vars()`).
pub fn load(path: Option<&Path>, env: &[(String, String)]) -> Result<Config, ConfigErrors> {
    let Some(path) = path else {
        return load_text("", None, env);
    };
    match std::fs::read_to_string(path) {
        Ok(text) => load_text(&text, Some(path), env),
        Err(e) => Err(ConfigErrors(vec![ConfigError {
            path: path.display().to_string(),
            message: format!("cannot read the configuration file: {e}"),
        }])),
    }
}

pub fn load_from_str(text: &str, env: &[(String, String)]) -> Result<Config, ConfigErrors> {
    load_text(text, None, env)
}

fn load_text(
    text: &str,
    source: Option<&Path>,
    env: &[(String, String)],
) -> Result<Config, ConfigErrors> {
    let mut root = match text.parse::<Table>() {
        Ok(root) => root,
        Err(e) => return Err(ConfigErrors(vec![syntax_error(text, source, &e)])),
    };
    let mut report = Report::default();
    apply_env(&mut root, env, &mut report);
    let credentials = env
        .iter()
        .find(|(name, _)| name == "CREDENTIALS_DIRECTORY")
        .map(|(_, dir)| PathBuf::from(dir));
    let config = read_config(&root, credentials.as_deref(), &mut report);
    if report.errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(report.errors))
    }
}

fn syntax_error(text: &str, source: Option<&Path>, e: &toml::de::Error) -> ConfigError {
    let message = format!("invalid TOML: {}", e.message().trim());
    let Some(start) = e.span().map(|span| span.start) else {
        let path = source.map_or_else(|| "(toml)".to_owned(), |p| p.display().to_string());
        return ConfigError { path, message };
    };
    let before = text.get(..start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    let path = match source {
        Some(file) => format!("{}:{line}:{column}", file.display()),
        None => format!("line {line}, column {column}"),
    };
    ConfigError { path, message }
}

// ---------------------------------------------------------------------------------------------
// The cursor

/// The errors found so far, and which paths of the tree the environment set.
#[derive(Default)]
struct Report {
    errors: Vec<ConfigError>,
    from_env: HashMap<String, EnvOrigin>,
}

struct EnvOrigin {
    var: String,
    /// The variable's text, for keys that want a string: `GUICHET_STORAGE__PASSWORD=1234`
    /// is a password, not an integer. `None` for the tables an override had to create.
    raw: Option<String>,
}

impl Report {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        let path = match self.from_env.get(path) {
            Some(origin) => format!("env {}", origin.var),
            None => path.to_owned(),
        };
        self.errors.push(ConfigError {
            path,
            message: message.into(),
        });
    }
}

/// One value of the tree, with its path.
struct Node<'v> {
    path: String,
    value: &'v Value,
}

impl<'v> Node<'v> {
    fn mismatch(&self, expected: &str, r: &mut Report) {
        r.error(
            &self.path,
            format!("expected {expected}, found {}", a_type(self.value)),
        );
    }

    fn table(&self, r: &mut Report) -> Option<&'v Table> {
        match self.value {
            Value::Table(t) => Some(t),
            _ => {
                self.mismatch("a table", r);
                None
            }
        }
    }

    fn array(&self, r: &mut Report) -> Option<Vec<Node<'v>>> {
        match self.value {
            Value::Array(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, value)| Node {
                        path: format!("{}[{i}]", self.path),
                        value,
                    })
                    .collect(),
            ),
            _ => {
                self.mismatch("an array", r);
                None
            }
        }
    }

    fn str(&self, r: &mut Report) -> Option<String> {
        match self.value {
            Value::String(s) => Some(s.clone()),
            Value::Table(_) | Value::Array(_) => {
                self.mismatch("a string", r);
                None
            }
            _ => match r.from_env.get(&self.path).and_then(|o| o.raw.clone()) {
                Some(raw) => Some(raw),
                None => {
                    self.mismatch("a string", r);
                    None
                }
            },
        }
    }

    /// A string checked (and possibly converted) by `check`, whose error is reported here.
    fn parse<T>(&self, r: &mut Report, check: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let s = self.str(r)?;
        match check(&s) {
            Ok(v) => Some(v),
            Err(message) => {
                r.error(&self.path, message);
                None
            }
        }
    }

    fn positive(&self, r: &mut Report) -> Option<u64> {
        let Value::Integer(i) = self.value else {
            self.mismatch("an integer", r);
            return None;
        };
        match u64::try_from(*i) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                r.error(&self.path, format!("must be positive, found {i}"));
                None
            }
        }
    }

    /// A positive integer that fits `T`.
    fn positive_as<T: TryFrom<u64>>(&self, r: &mut Report) -> Option<T> {
        let n = self.positive(r)?;
        match T::try_from(n) {
            Ok(v) => Some(v),
            Err(_) => {
                r.error(&self.path, format!("{n} is too large"));
                None
            }
        }
    }

    fn path_buf(&self, r: &mut Report) -> Option<PathBuf> {
        self.parse(r, |s| {
            if s.is_empty() {
                Err("must not be empty".to_owned())
            } else {
                Ok(PathBuf::from(s))
            }
        })
    }
}

/// A table being read. Every key asked for is remembered, present or not, so that
/// [`Fields::finish`] can report the others as unknown (and suggest a near known one).
struct Fields<'v> {
    path: String,
    table: Option<&'v Table>,
    known: Vec<&'static str>,
}

impl<'v> Fields<'v> {
    fn root(table: &'v Table) -> Self {
        Self {
            path: String::new(),
            table: Some(table),
            known: Vec::new(),
        }
    }

    fn get(&mut self, key: &'static str) -> Option<Node<'v>> {
        self.known.push(key);
        let value = self.table?.get(key)?;
        Some(Node {
            path: child(&self.path, key),
            value,
        })
    }

    fn need(&mut self, key: &'static str, r: &mut Report) -> Option<Node<'v>> {
        let node = self.get(key);
        if node.is_none() && self.table.is_some() {
            r.error(&child(&self.path, key), "missing required key");
        }
        node
    }

    /// An optional sub-table: absent (or of the wrong type, reported) reads as empty.
    fn table(&mut self, key: &'static str, r: &mut Report) -> Fields<'v> {
        let table = self.get(key).and_then(|n| n.table(r));
        Fields {
            path: child(&self.path, key),
            table,
            known: Vec::new(),
        }
    }

    /// An optional array of tables (`[[offers]]`); entries of another type are reported.
    fn tables(&mut self, key: &'static str, r: &mut Report) -> Vec<Fields<'v>> {
        let nodes = self.get(key).and_then(|n| n.array(r)).unwrap_or_default();
        let mut tables = Vec::with_capacity(nodes.len());
        for node in nodes {
            if let Some(table) = node.table(r) {
                tables.push(Fields {
                    path: node.path,
                    table: Some(table),
                    known: Vec::new(),
                });
            }
        }
        tables
    }

    fn finish(self, r: &mut Report) {
        let Some(table) = self.table else { return };
        for key in table.keys() {
            if self.known.contains(&key.as_str()) {
                continue;
            }
            let message = match closest(key, &self.known) {
                Some(near) => format!("unknown key (did you mean {near}?)"),
                None => "unknown key".to_owned(),
            };
            r.error(&child(&self.path, key), message);
        }
    }
}

fn child(path: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

fn a_type(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// The known key nearest to a misspelt one, if it is a slip of at most two letters.
fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Remembers where each value was first seen, to report a duplicate with both places.
#[derive(Default)]
struct Unique(HashMap<String, String>);

impl Unique {
    /// Records `value` at `path`; reports it when it was already seen elsewhere.
    fn claim(&mut self, value: &str, path: &str, r: &mut Report) -> bool {
        match self.0.get(value) {
            Some(first) => {
                r.error(path, format!("{value:?} is already listed at {first}"));
                false
            }
            None => {
                self.0.insert(value.to_owned(), path.to_owned());
                true
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Environment overrides

fn apply_env(root: &mut Table, env: &[(String, String)], r: &mut Report) {
    let mut vars: Vec<&(String, String)> = env.iter().collect();
    vars.sort();
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix("GUICHET_") else {
            continue;
        };
        // GUICHET_CONFIG is the CLI's file path, GUICHET_TEST_* belong to the test suite.
        if name == "GUICHET_CONFIG" || rest.starts_with("TEST_") {
            continue;
        }
        if !rest.contains("__") {
            // Not an override (GUICHET_LOG is a tracing filter read by the app), unless it
            // is one with a single underscore, which would otherwise be silently ignored.
            let lower = rest.to_ascii_lowercase();
            if let Some((section, key)) = SECTIONS
                .iter()
                .find_map(|s| Some((*s, lower.strip_prefix(s)?.strip_prefix('_')?)))
            {
                let fixed = format!("GUICHET_{}__{}", section, key).to_ascii_uppercase();
                r.error(
                    &format!("env {name}"),
                    format!("not an override: did you mean {fixed} (two underscores)?"),
                );
            }
            continue;
        }
        let segments: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if segments.iter().any(String::is_empty) {
            r.error(
                &format!("env {name}"),
                "malformed override: expected GUICHET_SECTION__KEY",
            );
            continue;
        }
        set_override(root, &segments, name, raw, r);
    }
}

fn set_override(root: &mut Table, segments: &[String], name: &str, raw: &str, r: &mut Report) {
    let Some((key, parents)) = segments.split_last() else {
        return;
    };
    let mut table = root;
    let mut path = String::new();
    for segment in parents {
        path = child(&path, segment);
        if !table.contains_key(segment) {
            let origin = EnvOrigin {
                var: name.to_owned(),
                raw: None,
            };
            r.from_env.entry(path.clone()).or_insert(origin);
        }
        table = match table
            .entry(segment.clone())
            .or_insert_with(|| Value::Table(Table::new()))
        {
            Value::Table(t) => t,
            other => {
                let found = a_type(other);
                r.error(
                    &format!("env {name}"),
                    format!("cannot override a key inside {path}: it is {found}, not a table"),
                );
                return;
            }
        };
    }
    let full = child(&path, key);
    for (secret, file) in SECRET_PAIRS {
        let sibling = if full == secret {
            file
        } else if full == file {
            secret
        } else {
            continue;
        };
        // The environment wins over the file: drop the file's other form of this secret, but
        // keep one set by another variable, so that two variables are reported as both set.
        if !r.from_env.contains_key(sibling)
            && let Some(sibling_key) = sibling.rsplit('.').next()
        {
            table.remove(sibling_key);
        }
    }
    table.insert(key.clone(), scalar(raw));
    r.from_env.insert(
        full,
        EnvOrigin {
            var: name.to_owned(),
            raw: Some(raw.to_owned()),
        },
    );
}

/// An override's value: an integer, boolean or float when it reads as that TOML literal, else
/// the text itself (quotes included: a shell already removed the ones meant as quoting).
fn scalar(raw: &str) -> Value {
    match raw.parse::<Value>() {
        Ok(v @ (Value::Integer(_) | Value::Boolean(_) | Value::Float(_))) => v,
        _ => Value::String(raw.to_owned()),
    }
}

// ---------------------------------------------------------------------------------------------
// The schema

fn read_config(root: &Table, credentials: Option<&Path>, r: &mut Report) -> Config {
    let mut top = Fields::root(root);
    let daemon = read_daemon(top.table("daemon", r), r);
    let storage = read_storage(top.table("storage", r), credentials, r);
    let mail_fields = top.table("mail", r);
    let (institutions, institution_keys) = read_institutions(top.tables("institutions", r), r);
    let (offers, offer_codes) = read_offers(
        top.tables("offers", r),
        &institution_keys,
        &daemon.data_dir,
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
    let mail = read_mail(mail_fields, &daemon.data_dir, &offers, credentials, r);
    top.finish(r);
    Config {
        daemon,
        storage,
        mail,
        offers,
        institutions,
        contacts,
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
        data_dir: data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        log_format: log_format.unwrap_or(LogFormat::Human),
        log_level: log_level.unwrap_or_else(|| "info".to_owned()),
        shutdown_grace: Duration::from_secs(shutdown_grace.unwrap_or(20)),
        max_message_bytes: max_message_bytes.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES),
        maildir_poll: Duration::from_millis(maildir_poll.unwrap_or(1000)),
        outbox_poll: Duration::from_millis(outbox_poll.unwrap_or(1000)),
    }
}

fn read_storage(mut t: Fields<'_>, credentials: Option<&Path>, r: &mut Report) -> StorageConfig {
    let dsn = t.get("dsn").and_then(|n| n.parse(r, parse_dsn));
    let password = read_secret(&mut t, ("password", "password_file"), credentials, 1, r);
    let max_connections = t.get("max_connections").and_then(|n| n.positive_as(r));
    let connect_timeout = t.get("connect_timeout_secs").and_then(|n| n.positive(r));
    t.finish(r);
    StorageConfig {
        dsn: dsn.unwrap_or_else(|| Dsn::Sqlite(PathBuf::from(DEFAULT_SQLITE_FILE))),
        password,
        max_connections: max_connections.unwrap_or(8),
        connect_timeout: Duration::from_secs(connect_timeout.unwrap_or(5)),
    }
}

fn read_mail(
    mut t: Fields<'_>,
    data_dir: &Path,
    offers: &[OfferConfig],
    credentials: Option<&Path>,
    r: &mut Report,
) -> MailConfig {
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
    t.finish(r);
    let default_domain = || {
        offers
            .first()
            .and_then(|o| o.support_addresses.first())
            .and_then(|a| a.rsplit_once('@'))
            .map_or_else(
                || FALLBACK_MESSAGE_ID_DOMAIN.to_owned(),
                |(_, d)| d.to_owned(),
            )
    };
    MailConfig {
        outbox_dir: data_dir.join(outbox_dir.unwrap_or_else(|| PathBuf::from("outbox"))),
        message_id_domain: message_id_domain.unwrap_or_else(default_domain),
        hmac_key,
        templates_dir: templates_dir.map(|p| data_dir.join(p)),
    }
}

/// A secret given inline (or by environment) or as a file to read. A relative file path is
/// resolved against `$CREDENTIALS_DIRECTORY` when set (systemd `LoadCredential=`), else against
/// the working directory. Errors name the key and the file, never the content.
fn read_secret(
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
    institutions: &[String],
    data_dir: &Path,
    r: &mut Report,
) -> (Vec<OfferConfig>, Vec<String>) {
    let mut offers = Vec::new();
    let mut declared = Vec::new();
    let mut codes = Unique::default();
    let mut addresses = Unique::default();
    let mut maildirs = Unique::default();
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
        let locale = t.get("locale").map_or(Some("fr".to_owned()), |n| {
            n.parse(r, |s| match s {
                "fr" | "en" => Ok(s.to_owned()),
                _ => Err(format!("unknown locale {s:?} (expected fr or en)")),
            })
        });
        let reopen_window = t
            .get("reopen_window_days")
            .map_or(Some(10), |n| n.positive(r));
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
            .map_or(Some(UnknownSenderPolicy::CreateInInstitution), |n| {
                n.parse(r, UnknownSenderPolicy::from_str)
            });
        let maildir_node = t.get("maildir");
        let maildir = match (&maildir_node, &code) {
            (Some(n), _) => n.path_buf(r).map(|p| data_dir.join(p)),
            (None, Some(code)) => Some(data_dir.join("maildir").join(code.as_str())),
            (None, None) => None,
        };
        if let Some(dir) = &maildir {
            let path = maildir_node.map_or_else(|| child(&t.path, "maildir"), |n| n.path);
            // Two offers reading one Maildir would take each other's mail.
            maildirs.claim(&dir.display().to_string(), &path, r);
        }
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
        ) = (
            code,
            name,
            provider,
            support_addresses,
            locale,
            reopen_window,
            unknown_sender,
            maildir,
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
            reopen_window,
            unknown_sender,
            maildir,
        });
    }
    (offers, declared)
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
        if let (Some(name), Some(emails), Some(matrix_ids), Some(institution), Some(roles)) =
            (name, emails, matrix_ids, institution, roles)
        {
            contacts.push(ContactConfig {
                name,
                emails,
                matrix_ids,
                institution,
                roles,
            });
        }
    }
    contacts
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

// ---------------------------------------------------------------------------------------------
// Value checks: each returns the normalised value or a message (the path is added by the caller)

fn non_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(s.to_owned())
    }
}

fn parse_log_level(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("must not be empty (e.g. info, or guichet=debug)".to_owned());
    }
    tracing_subscriber::EnvFilter::try_new(s)
        .map(|_| s.to_owned())
        .map_err(|e| format!("invalid log filter {s:?}: {e}"))
}

fn parse_dsn(s: &str) -> Result<Dsn, String> {
    if let Some(path) = s.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(
                "sqlite DSN without a path: write sqlite://guichet.db (in data_dir) \
                        or sqlite:///absolute/path.db"
                    .to_owned(),
            );
        }
        if path.contains(['?', '#']) {
            return Err("a sqlite DSN is a path only, without ?options".to_owned());
        }
        return Ok(Dsn::Sqlite(PathBuf::from(path)));
    }
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        // Parsed here so that check-config finds a malformed DSN, not the first delivery.
        return match sqlx::postgres::PgConnectOptions::from_str(s) {
            Ok(_) => Ok(Dsn::Postgres(s.to_owned())),
            Err(e) => Err(format!("invalid PostgreSQL DSN {}: {e}", mask_dsn(s))),
        };
    }
    // Not echoed: a value in the wrong place may well be a password.
    Err("must start with sqlite://, postgres:// or postgresql://".to_owned())
}

/// Institution keys are referenced from offers and contacts and stored as they are.
fn parse_key(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "institution key {s:?} must be ASCII letters, digits, '-', '_' or '.'"
        ))
    }
}

fn institution_ref(s: &str, institutions: &[String]) -> Result<String, String> {
    if institutions.iter().any(|k| k == s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "unknown institution {s:?} ({})",
            declared(institutions)
        ))
    }
}

fn declared(names: &[String]) -> String {
    if names.is_empty() {
        "none is declared".to_owned()
    } else {
        format!("declared: {}", names.join(", "))
    }
}

fn parse_domain(s: &str) -> Result<String, String> {
    let domain = s.to_lowercase();
    let ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if ok {
        Ok(domain)
    } else {
        Err(format!("{s:?} is not a mail domain"))
    }
}

fn parse_email(s: &str) -> Result<String, String> {
    let address = s.to_lowercase();
    let not_email = || format!("{s:?} is not an email address");
    let (local, domain) = address.split_once('@').ok_or_else(not_email)?;
    let local_ok = !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\@".contains(c));
    if local_ok && parse_domain(domain).is_ok() {
        Ok(address)
    } else {
        Err(not_email())
    }
}

fn parse_support_address(s: &str) -> Result<String, String> {
    let address = parse_email(s)?;
    if address
        .split_once('@')
        .is_some_and(|(local, _)| local.contains('+'))
    {
        // Routing reads `local+tag@domain` as `local@domain` (plus-addressing).
        return Err(format!("support address {s:?} must not contain '+'"));
    }
    Ok(address)
}

fn parse_matrix_id(s: &str) -> Result<String, String> {
    let ok = s
        .strip_prefix('@')
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(local, server)| {
            !local.is_empty() && !server.is_empty() && !s.chars().any(char::is_whitespace)
        });
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!("{s:?} is not a Matrix id (@user:server)"))
    }
}

fn parse_role(s: &str) -> Result<Role, String> {
    match s {
        "requester" => Ok(Role::Requester),
        "agent" => Ok(Role::Agent),
        "governance" => Ok(Role::Governance),
        _ => Err(format!(
            "unknown role {s:?} (expected requester, agent or governance)"
        )),
    }
}

/// The DSN with any password replaced by `****` (in the user-info or a `password=` option).
pub(super) fn mask_dsn(dsn: &str) -> String {
    let Some((scheme, rest)) = dsn.split_once("://") else {
        return dsn.to_owned();
    };
    let (before_query, query) = match rest.find(['?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    // The last '@' before the options ends the user-info, even when an unencoded password
    // holds a '/'.
    let main = match before_query.rfind('@') {
        Some(at) => {
            let (userinfo, host) = before_query.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:****{host}"),
                None => before_query.to_owned(),
            }
        }
        None => before_query.to_owned(),
    };
    let query: Vec<String> = query
        .split('&')
        .map(|part| {
            let (lead, name) = match part.strip_prefix('?') {
                Some(name) => ("?", name),
                None => ("", part),
            };
            match name.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                    format!("{lead}{key}=****")
                }
                _ => part.to_owned(),
            }
        })
        .collect();
    format!("{scheme}://{main}{}", query.join("&"))
}

// ---------------------------------------------------------------------------------------------
// What would run

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
        let format = match d.log_format {
            LogFormat::Human => "human",
            LogFormat::Json => "json",
        };
        line(format!("logs: {format}, filter {:?}", d.log_level));
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
        line(format!("outbox dir: {}", m.outbox_dir.display()));
        line(format!("message-id domain: {}", m.message_id_domain));
        line(format!(
            "reply-token key (mail.hmac_key): {}",
            set(&m.hmac_key)
        ));
        match &m.templates_dir {
            Some(dir) => line(format!(
                "templates: {} over the built-in ones",
                dir.display()
            )),
            None => line("templates: built-in".to_owned()),
        }
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
            let policy = match offer.unknown_sender {
                UnknownSenderPolicy::CreateInInstitution => "create_in_institution",
                UnknownSenderPolicy::CreateUnaffiliated => "create_unaffiliated",
                UnknownSenderPolicy::Refuse => "refuse",
            };
            line(format!(
                "    reopen window {} days; unknown senders: {policy}",
                offer.reopen_window.num_days()
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

#[cfg(test)]
mod tests {
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
            described
                .contains("postgres://guichet:****@db.example/guichet (storage.password: set)"),
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
}
