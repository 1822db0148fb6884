//! One way to say an error on one line: [`chain`]. The store's and the service's `detail()`
//! (quarantine reasons, log fields) and the command line's error line all go through it, so an
//! error reads the same wherever it is shown.
//!
//! It only formats; classifying errors (transient or permanent) stays with each adapter.

use std::error::Error;

/// An error and its causes on one line, `outer: cause: root`, each said once.
///
/// Many error types print their source in their own message too (`database error: {0}` over
/// an sqlx error, which repeats its driver's message): a cause whose text the line before it
/// already contains is skipped, as is a cause with no text, else the same words would come
/// out two or three times.
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut text = String::new();
    let mut previous = String::new();
    let mut cause = Some(error);
    while let Some(e) = cause {
        let message = e.to_string();
        if !message.is_empty() && !previous.contains(&message) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&message);
            previous = message;
        }
        cause = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use super::*;

    /// An error with a message and an optional source, to build chains of any shape.
    #[derive(Debug)]
    struct Link(&'static str, Option<Box<Link>>);

    impl fmt::Display for Link {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Link {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    fn link(messages: &[&'static str]) -> Link {
        let (first, rest) = messages.split_first().expect("at least one message");
        Link(first, (!rest.is_empty()).then(|| Box::new(link(rest))))
    }

    #[test]
    fn each_cause_is_said_once_in_order() {
        let table: [(&[&str], &str); 7] = [
            (&["alone"], "alone"),
            (&["outer", "inner"], "outer: inner"),
            (&["a", "b", "c"], "a: b: c"),
            // The outer message repeats its source's: said once.
            (
                &["database error: disk full", "disk full"],
                "database error: disk full",
            ),
            // Repeated down the chain (sqlx over its driver's error).
            (
                &["cannot open the store", "error: locked (5)", "locked (5)"],
                "cannot open the store: error: locked (5)",
            ),
            // A cause without text adds nothing, and the next one is compared with the last
            // line said.
            (&["outer", "", "outer"], "outer"),
            // Only the line just before counts: a cause said two lines earlier is said again.
            (&["a x", "b", "x"], "a x: b: x"),
        ];
        for (messages, expected) in table {
            assert_eq!(chain(&link(messages)), expected, "{messages:?}");
        }
    }

    #[test]
    fn an_anyhow_context_chain_reads_the_same() {
        let e = anyhow::Error::new(link(&["database error: unable to open", "unable to open"]))
            .context("cannot open the store");
        assert_eq!(
            chain(e.as_ref()),
            "cannot open the store: database error: unable to open"
        );
    }
}
