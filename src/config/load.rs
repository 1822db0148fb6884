//! Reading and validating the configuration, in three steps, so that one run reports every
//! bad key with its path:
//!
//! 1. the TOML text becomes a `toml::Table` (a syntax error stops here: one error, with its
//!    line and column);
//! 2. `GUICHET_SECTION__KEY` environment variables are written onto that tree, and the paths
//!    they set are remembered so that an error about one names the variable;
//! 3. one walk reads every key through a small cursor (`Fields` for a table, `Node` for a
//!    value) that records each problem (unknown key, wrong type, bad value, dangling reference,
//!    duplicate) and carries on with a default, so later keys are still checked.
//!
//! This is done by hand rather than with `#[serde(deny_unknown_fields)]` because serde stops
//! at the first error. It reads the configuration file and the secret files it names; nothing
//! else (no database, no network).
//!
//! This file holds the entry points and the error type; the steps live next to it: the cursor
//! in `cursor.rs`, the environment layer in `env.rs`, the keys in `schema.rs`, the value
//! checks in `checks.rs`, and the defaults in `defaults.rs`.

use std::fmt;
use std::path::{Path, PathBuf};

use toml::Table;

use super::Config;
use super::cursor::Report;
use super::env::apply_env;
use super::schema::read_config;

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
