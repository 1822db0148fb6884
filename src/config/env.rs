//! The environment layer: `GUICHET_SECTION__KEY` variables written onto the TOML tree before
//! it is read, remembering which paths they set so that an error about one names the variable.
//!
//! It only edits the tree; checking the values is the schema's job.

use toml::{Table, Value};

use super::cursor::{EnvOrigin, Report, a_type, child};

/// The tables an environment override can address (`GUICHET_<SECTION>__<KEY>`).
const SECTIONS: [&str; 3] = ["daemon", "storage", "mail"];
/// Secrets and their `_file` forms: an environment override of one form replaces the other
/// form given in the file (the environment wins), rather than making both set.
const SECRET_PAIRS: [(&str, &str); 2] = [
    ("storage.password", "storage.password_file"),
    ("mail.hmac_key", "mail.hmac_key_file"),
];

pub(super) fn apply_env(root: &mut Table, env: &[(String, String)], r: &mut Report) {
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
