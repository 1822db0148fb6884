//! Reading and validating the configuration (written by the config helper).

use std::path::Path;

use super::Config;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path, e.g. `offers[1].support_addresses[0]`.
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} configuration error(s)", .0.len())]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// Loads `path` (or the built-in defaults when `None`) and applies `GUICHET_` overrides from
/// `env` (pairs of name and value, e.g. from `std::env::vars()`).
pub fn load(path: Option<&Path>, env: &[(String, String)]) -> Result<Config, ConfigErrors> {
    let _ = (path, env);
    todo!()
}

pub fn load_from_str(text: &str, env: &[(String, String)]) -> Result<Config, ConfigErrors> {
    let _ = (text, env);
    todo!()
}
