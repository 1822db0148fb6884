//! Value checks: each takes the text of one key and returns the normalised value or a message
//! (the caller adds the path). Pure functions, no IO.

use std::path::PathBuf;
use std::str::FromStr;

use super::{Dsn, Role, defaults};

pub(super) fn non_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(s.to_owned())
    }
}

pub(super) fn parse_log_level(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("must not be empty (e.g. info, or guichet=debug)".to_owned());
    }
    tracing_subscriber::EnvFilter::try_new(s)
        .map(|_| s.to_owned())
        .map_err(|e| format!("invalid log filter {s:?}: {e}"))
}

pub(super) fn parse_dsn(s: &str) -> Result<Dsn, String> {
    if let Some(path) = s.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(format!(
                "sqlite DSN without a path: write sqlite://{} (in data_dir) \
                 or sqlite:///absolute/path.db",
                defaults::SQLITE_FILE
            ));
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
pub(super) fn parse_key(s: &str) -> Result<String, String> {
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

pub(super) fn institution_ref(s: &str, institutions: &[String]) -> Result<String, String> {
    if institutions.iter().any(|k| k == s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "unknown institution {s:?} ({})",
            declared(institutions)
        ))
    }
}

pub(super) fn declared(names: &[String]) -> String {
    if names.is_empty() {
        "none is declared".to_owned()
    } else {
        format!("declared: {}", names.join(", "))
    }
}

pub(super) fn parse_domain(s: &str) -> Result<String, String> {
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

pub(super) fn parse_email(s: &str) -> Result<String, String> {
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

pub(super) fn parse_support_address(s: &str) -> Result<String, String> {
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

pub(super) fn parse_matrix_id(s: &str) -> Result<String, String> {
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

pub(super) fn parse_role(s: &str) -> Result<Role, String> {
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
