//! SQLite: writes held back and sent with the next statement that returns something.
//!
//! A statement on sqlx's SQLite driver is a round trip to the connection's worker thread,
//! which costs more than SQLite's own work on a small insert (measured for issue 7: 30-55 µs a
//! round trip, against 13 µs an insert when ten share one). Most of a message's writes return
//! nothing the caller needs (an article whose id was counted in the transaction, an event,
//! a participant), so they wait here and go as one multi-statement query with the next read,
//! savepoint or commit: a message taken in costs a few round trips instead of one a statement.
//!
//! Each statement keeps its own text; its `$n` parameters are renumbered after those already
//! held (sqlx's SQLite driver binds `$n` to the n-th argument of the whole query), and its
//! arguments are added in order. The texts of one kind of message repeat, so sqlx's statement
//! cache keeps them prepared.
//!
//! What this changes for callers: an error of a held-back write is reported by the statement
//! that sends it (a read, a savepoint, the commit), with [`HELD_BACK`] as its operation. The
//! statements run in order and stop at the first error, as they would have one by one.

use sqlx::Arguments as _;
use sqlx::sqlite::SqliteArguments;

/// The operation a failure of held-back writes is reported under.
pub(super) const HELD_BACK: &str = "held-back writes";

/// Statements waiting to be sent, and their arguments.
#[derive(Default)]
pub(super) struct Pending {
    sql: String,
    args: SqliteArguments,
    /// An argument could not be encoded (our arguments are integers, text, times and JSON
    /// values, whose encoding does not fail): what was held is dropped, and the transaction
    /// refuses to go on, so that nothing half-written is committed.
    broken: Option<String>,
}

impl Pending {
    /// Nothing is waiting.
    pub(super) fn is_empty(&self) -> bool {
        self.sql.is_empty() && self.broken.is_none()
    }

    /// Adds `statement` (its `$n` renumbered after the arguments held); its arguments
    /// follow with [`Pending::bind`], in the order of its `$1`, `$2`...
    pub(super) fn push(&mut self, statement: &str) {
        if !self.sql.is_empty() {
            // On a line of its own: a statement may end in a comment.
            self.sql.push_str("\n;\n");
        }
        renumber(statement, self.args.len(), &mut self.sql);
    }

    /// Adds one argument of the statement last pushed.
    pub(super) fn bind<'q, T>(&mut self, value: T)
    where
        T: sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    {
        if let Err(e) = self.args.add(value) {
            self.broken = Some(e.to_string());
        }
    }

    /// Everything held, to be sent as one query; leaves nothing behind. Fails, now and after,
    /// once an argument could not be encoded.
    pub(super) fn take(&mut self) -> Result<(String, SqliteArguments), sqlx::Error> {
        let held = (
            std::mem::take(&mut self.sql),
            std::mem::take(&mut self.args),
        );
        match &self.broken {
            Some(e) => Err(sqlx::Error::Encode(e.clone().into())),
            None => Ok(held),
        }
    }
}

/// Appends `statement` to `out` with each `$n` made `$(n + offset)`.
fn renumber(statement: &str, offset: usize, out: &mut String) {
    let mut rest = statement;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            continue;
        }
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            // Not one of ours: no statement has that many parameters.
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_after_those_held() {
        let cases = [
            ("SELECT $1", 0, "SELECT $1"),
            ("SELECT $1, $2, $10, $1", 3, "SELECT $4, $5, $13, $4"),
            (
                "INSERT INTO t VALUES ($9,$10)",
                91,
                "INSERT INTO t VALUES ($100,$101)",
            ),
            ("SELECT 'a$' || $2", 1, "SELECT 'a$' || $3"),
            ("SELECT 1", 7, "SELECT 1"),
        ];
        for (statement, offset, expected) in cases {
            let mut out = String::new();
            renumber(statement, offset, &mut out);
            assert_eq!(out, expected, "{statement} after {offset}");
        }
    }

    #[tokio::test]
    async fn held_back_writes_go_with_the_read_that_follows_in_order() {
        use sqlx::{Connection as _, SqliteConnection};
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        let mut pending = Pending::default();
        for (k, v) in [(1, "un"), (2, "deux")] {
            pending.push("INSERT INTO t (k, v) VALUES ($1, $2)");
            pending.bind(k);
            pending.bind(v);
        }
        pending.push("SELECT group_concat(v, ',') FROM t WHERE k <= $1");
        pending.bind(2);
        let (sql, args) = pending.take().unwrap();
        assert!(pending.is_empty());
        let read: String = sqlx::query_scalar_with(sqlx::AssertSqlSafe(sql), args)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(read, "un,deux");
    }

    #[tokio::test]
    async fn the_statements_stop_at_the_first_error() {
        use sqlx::{Connection as _, SqliteConnection};
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (k INTEGER PRIMARY KEY)")
            .execute(&mut conn)
            .await
            .unwrap();
        let mut pending = Pending::default();
        for k in [1, 1, 2] {
            pending.push("INSERT INTO t (k) VALUES ($1)");
            pending.bind(k);
        }
        let (sql, args) = pending.take().unwrap();
        let failed = sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
            .execute(&mut conn)
            .await;
        assert!(failed.is_err(), "the second insert clashes");
        let kept: Vec<i64> = sqlx::query_scalar("SELECT k FROM t")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert_eq!(kept, [1], "the first ran, the third did not");
    }
}
