//! The cursor the schema reads through: [`Fields`] for a table, [`Node`] for a value, and the
//! [`Report`] that collects every problem with its path (naming the environment variable when
//! the value came from one) so that one run reports every bad key.
//!
//! It knows the shape of a TOML tree, not the keys guichet expects (that is `schema.rs`).

use std::collections::HashMap;
use std::path::PathBuf;

use toml::{Table, Value};

use super::ConfigError;

/// The errors found so far, and which paths of the tree the environment set.
#[derive(Default)]
pub(super) struct Report {
    pub(super) errors: Vec<ConfigError>,
    pub(super) from_env: HashMap<String, EnvOrigin>,
}

pub(super) struct EnvOrigin {
    pub(super) var: String,
    /// The variable's text, for keys that want a string: `GUICHET_STORAGE__PASSWORD=1234`
    /// is a password, not an integer. `None` for the tables an override had to create.
    pub(super) raw: Option<String>,
}

impl Report {
    pub(super) fn error(&mut self, path: &str, message: impl Into<String>) {
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
pub(super) struct Node<'v> {
    pub(super) path: String,
    pub(super) value: &'v Value,
}

impl<'v> Node<'v> {
    pub(super) fn mismatch(&self, expected: &str, r: &mut Report) {
        r.error(
            &self.path,
            format!("expected {expected}, found {}", a_type(self.value)),
        );
    }

    pub(super) fn table(&self, r: &mut Report) -> Option<&'v Table> {
        match self.value {
            Value::Table(t) => Some(t),
            _ => {
                self.mismatch("a table", r);
                None
            }
        }
    }

    pub(super) fn array(&self, r: &mut Report) -> Option<Vec<Node<'v>>> {
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

    pub(super) fn boolean(&self, r: &mut Report) -> Option<bool> {
        match self.value {
            Value::Boolean(b) => Some(*b),
            _ => {
                self.mismatch("true or false", r);
                None
            }
        }
    }

    pub(super) fn str(&self, r: &mut Report) -> Option<String> {
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
    pub(super) fn parse<T>(
        &self,
        r: &mut Report,
        check: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let s = self.str(r)?;
        match check(&s) {
            Ok(v) => Some(v),
            Err(message) => {
                r.error(&self.path, message);
                None
            }
        }
    }

    pub(super) fn positive(&self, r: &mut Report) -> Option<u64> {
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
    pub(super) fn positive_as<T: TryFrom<u64>>(&self, r: &mut Report) -> Option<T> {
        let n = self.positive(r)?;
        match T::try_from(n) {
            Ok(v) => Some(v),
            Err(_) => {
                r.error(&self.path, format!("{n} is too large"));
                None
            }
        }
    }

    pub(super) fn path_buf(&self, r: &mut Report) -> Option<PathBuf> {
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
pub(super) struct Fields<'v> {
    pub(super) path: String,
    pub(super) table: Option<&'v Table>,
    pub(super) known: Vec<&'static str>,
}

impl<'v> Fields<'v> {
    pub(super) fn root(table: &'v Table) -> Self {
        Self {
            path: String::new(),
            table: Some(table),
            known: Vec::new(),
        }
    }

    pub(super) fn get(&mut self, key: &'static str) -> Option<Node<'v>> {
        self.known.push(key);
        let value = self.table?.get(key)?;
        Some(Node {
            path: child(&self.path, key),
            value,
        })
    }

    pub(super) fn need(&mut self, key: &'static str, r: &mut Report) -> Option<Node<'v>> {
        let node = self.get(key);
        if node.is_none() && self.table.is_some() {
            r.error(&child(&self.path, key), "missing required key");
        }
        node
    }

    /// An optional sub-table: absent (or of the wrong type, reported) reads as empty.
    pub(super) fn table(&mut self, key: &'static str, r: &mut Report) -> Fields<'v> {
        let table = self.get(key).and_then(|n| n.table(r));
        Fields {
            path: child(&self.path, key),
            table,
            known: Vec::new(),
        }
    }

    /// An optional array of tables (`[[offers]]`); entries of another type are reported.
    pub(super) fn tables(&mut self, key: &'static str, r: &mut Report) -> Vec<Fields<'v>> {
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

    pub(super) fn finish(self, r: &mut Report) {
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

pub(super) fn child(path: &str, key: &str) -> String {
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

pub(super) fn a_type(value: &Value) -> &'static str {
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
pub(super) struct Unique(HashMap<String, String>);

impl Unique {
    /// Records `value` at `path`; reports it when it was already seen elsewhere.
    pub(super) fn claim(&mut self, value: &str, path: &str, r: &mut Report) -> bool {
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
