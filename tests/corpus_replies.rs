//! `domain::reply::new_text` over the four quoted-reply sets of the corpus
//! (github-email_reply_parser, crisp-email-reply-parser, willdurand-EmailReplyParser, talon).
//!
//! Each set's expected file states, per fixture, what the upstream library returns. The checks
//! read here are the ones the corpus READMEs call robust, the text a ticket system keeps:
//! - `reply`, `visible_text`, `visible_text_trimmed`, `first_fragment_trimmed`: the new text,
//!   compared whole (line-end whitespace and surrounding blank lines are not content);
//! - the regexes (`fragment_match`) of the first fragment when it is not quoted: the new text
//!   must match them; those of quoted fragments must not match it (the quote is gone);
//! - `contains` / `not_contains` (substrings of the first fragment);
//! - talon: the exact `extract_from_plain` outputs of `inline_text_cases/`, the replies of
//!   `standard_replies/` read through `channels::mail::parse` (first text part, as upstream),
//!   and the HTML replies turned into text the way the parser does it, compared without
//!   whitespace.
//!
//! Fragment counts and per-fragment flags are the libraries' own model (they disagree on
//! whether `-Abhishek Kona` is a signature) and are not compared. A fixture with no check left
//! is listed as unchecked, never counted as passed. The rate of each set is printed
//! (`--nocapture`) and must stay at or above [`FLOOR`].
//!
//! The corpus must be present: when it is missing the test fails and says where it looked.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use guichet::channels::mail::{html, parse};
use guichet::domain::reply::new_text;
use regex::Regex;
use serde_json::Value;

/// The threshold (issue 7, item 7): every set at 90 % of its checked cases or better.
///
/// Measured (the table this test prints):
///
/// | set | checked | passed | unchecked | rate |
/// | --- | --- | --- | --- | --- |
/// | github-email_reply_parser | 16 | 16 | 6 | 100.0% |
/// | crisp-email-reply-parser | 74 | 74 | 16 | 100.0% |
/// | willdurand-EmailReplyParser | 26 | 26 | 8 | 100.0% |
/// | talon | 75 | 70 | 0 | 93.3% |
///
/// The talon misses: `standard_replies/iphone.eml` and `sparrow.eml` expect the signature
/// kept (talon's `extract_from_plain` leaves signatures; we remove them, on purpose);
/// `inline_text_cases/003` (Polymail's header folded over blank lines) and `036` (a `>>>`
/// banner line taken for a quote) are not handled; `reply-separated-by-hr.html` keeps the
/// sender's name under the `<hr>`, which talon cuts at.
const FLOOR: f64 = 0.90;

/// One fixture and what its expected file says about it.
struct Case {
    name: String,
    /// The new text `new_text` gave (what the checks compare).
    got: String,
    checks: Vec<Check>,
    elapsed: Duration,
}

enum Check {
    /// The whole new text, normalised by [`normalise`].
    Text(String),
    /// The new text with every whitespace character removed.
    TextWithoutWhitespace(String),
    Matches(Regex),
    DoesNotMatch(Regex),
    Contains(String),
    DoesNotContain(String),
    /// Talon's `reply-quotations-share-block.eml`: something is left, and no quoted `From`.
    NonEmptyWithout(String),
}

impl Check {
    fn passes(&self, got: &str) -> bool {
        match self {
            Check::Text(expected) => normalise(got) == normalise(expected),
            Check::TextWithoutWhitespace(expected) => {
                without_whitespace(got) == without_whitespace(expected)
            }
            Check::Matches(re) => re.is_match(got),
            Check::DoesNotMatch(re) => !re.is_match(got),
            Check::Contains(s) => got.contains(s.as_str()),
            Check::DoesNotContain(s) => !got.contains(s.as_str()),
            Check::NonEmptyWithout(s) => !got.trim().is_empty() && !got.contains(s.as_str()),
        }
    }
}

impl Case {
    fn new(name: impl Into<String>, body: &str, checks: Vec<Check>) -> Case {
        let start = Instant::now();
        let got = new_text(body);
        Case {
            name: name.into(),
            got,
            checks,
            elapsed: start.elapsed(),
        }
    }

    fn passes(&self) -> bool {
        self.checks.iter().all(|c| c.passes(&self.got))
    }
}

/// Line ends as `\n`, no whitespace at line ends, no blank lines around.
fn normalise(text: &str) -> String {
    text.replace("\r\n", "\n")
        .split('\n')
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim_matches('\n')
        .to_owned()
}

fn without_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn read_text(path: &Path) -> String {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    String::from_utf8_lossy(&bytes).into_owned()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&read_text(path))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The fixtures of an expected file: every key not starting with `_`.
fn entries(expected: &Value) -> impl Iterator<Item = (&String, &Value)> {
    expected
        .as_object()
        .expect("an expected file is an object")
        .iter()
        .filter(|(key, _)| !key.starts_with('_'))
}

/// Whether fragment `index` is flagged quoted, in either of the sets' two shapes
/// (`quoted: [..]` / `quoted: {"i": ..}` and `quoted_all: [..]`).
fn fragment_quoted(entry: &Value, index: usize) -> bool {
    let flag = |v: &Value| match v {
        Value::Array(items) => items.get(index).and_then(Value::as_bool),
        Value::Object(map) => map.get(&index.to_string()).and_then(Value::as_bool),
        _ => None,
    };
    entry
        .get("quoted")
        .and_then(flag)
        .or_else(|| entry.get("quoted_all").and_then(flag))
        .unwrap_or(false)
}

/// The checks shared by the three email_reply_parser sets. `multiline` is Ruby's regex
/// semantics (`^` = start of a line); the JavaScript and PHP sets anchor at the start.
fn parser_checks(entry: &Value, multiline: bool) -> Vec<Check> {
    let mut checks = Vec::new();
    for key in [
        "reply",
        "visible_text",
        "visible_text_trimmed",
        "first_fragment_trimmed",
    ] {
        if let Some(text) = entry.get(key).and_then(Value::as_str) {
            checks.push(Check::Text(text.to_owned()));
        }
    }
    if let Some(matches) = entry.get("fragment_match").and_then(Value::as_object) {
        for (key, patterns) in matches {
            // Keys are fragment indexes, `1b` being a second pattern for fragment 1.
            let digits: String = key.chars().take_while(char::is_ascii_digit).collect();
            let index: usize = digits.parse().expect("a fragment index");
            let patterns: Vec<&str> = match patterns {
                Value::String(p) => vec![p.as_str()],
                Value::Array(ps) => ps.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for p in patterns {
                let source = if multiline {
                    format!("(?m){p}")
                } else {
                    p.to_owned()
                };
                let re = Regex::new(&source).expect("an upstream regex the regex crate reads");
                if index == 0 && !fragment_quoted(entry, 0) {
                    checks.push(Check::Matches(re));
                } else if fragment_quoted(entry, index) {
                    checks.push(Check::DoesNotMatch(re));
                }
            }
        }
    }
    for (key, make) in [
        ("contains", Check::Contains as fn(String) -> Check),
        ("not_contains", Check::DoesNotContain),
    ] {
        for s in entry
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            checks.push(make(s.to_owned()));
        }
    }
    checks
}

fn github(dir: &Path) -> Vec<Case> {
    let expected = read_json(&dir.join("expected.json"));
    entries(&expected)
        .map(|(file, entry)| {
            let body = read_text(&dir.join("emails").join(file));
            Case::new(file, &body, parser_checks(entry, true))
        })
        .collect()
}

fn crisp(dir: &Path) -> Vec<Case> {
    let expected = read_json(&dir.join("expected.json"));
    entries(&expected)
        .map(|(file, entry)| {
            let body = read_text(&dir.join("fixtures").join(file));
            Case::new(file, &body, parser_checks(entry, false))
        })
        .collect()
}

fn willdurand(dir: &Path) -> Vec<Case> {
    let expected = read_json(&dir.join("expected.json"));
    entries(&expected)
        .map(|(file, entry)| {
            let body = read_text(&dir.join(file));
            Case::new(file, &body, parser_checks(entry, false))
        })
        .collect()
}

fn talon(dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();

    let inline = dir.join("inline_text_cases");
    let index = read_json(&inline.join("index.json"));
    for case in index["cases"].as_array().expect("index.json lists cases") {
        // Case 001 ran upstream with a patched line limit: not the library's behaviour.
        if case["config_patched"].as_bool() == Some(true) {
            continue;
        }
        let input = case["input"].as_str().expect("an input file");
        let expected = read_text(&inline.join(case["expected"].as_str().expect("a file")));
        let body = read_text(&inline.join(input));
        cases.push(Case::new(
            format!("inline_text_cases/{input}"),
            &body,
            vec![Check::Text(expected)],
        ));
    }

    let standard = dir.join("standard_replies");
    let mut emls: Vec<_> = std::fs::read_dir(&standard)
        .expect("standard_replies/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    emls.sort();
    for eml in emls {
        let stem = eml.file_stem().unwrap().to_string_lossy().into_owned();
        let reply_file = standard.join(format!("{stem}_reply_text"));
        let expected = if reply_file.is_file() {
            read_text(&reply_file).trim().to_owned()
        } else {
            "Hello".to_owned()
        };
        let email = parse(&std::fs::read(&eml).unwrap())
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", eml.display()));
        cases.push(Case::new(
            format!("standard_replies/{stem}.eml"),
            &email.text_body,
            vec![Check::Text(expected)],
        ));
    }

    let html_replies = dir.join("html_replies");
    let mut pages: Vec<_> = std::fs::read_dir(&html_replies)
        .expect("html_replies/")
        .flatten()
        .map(|e| e.path())
        .collect();
    pages.sort();
    for page in pages {
        let text = html::to_text(&read_text(&page));
        cases.push(Case::new(
            format!(
                "html_replies/{}",
                page.file_name().unwrap().to_string_lossy()
            ),
            &text,
            vec![Check::TextWithoutWhitespace(
                "Hi.Iamfine.Thanks,Alex".to_owned(),
            )],
        ));
    }

    // The two HTML fixtures whose expected output is HTML: the text of that HTML.
    for (file, expected) in [
        ("OLK_SRC_BODY_SECTION.html", "Reply"),
        ("reply-separated-by-hr.html", "Hithere"),
    ] {
        let text = html::to_text(&read_text(&dir.join(file)));
        cases.push(Case::new(
            file,
            &text,
            vec![Check::TextWithoutWhitespace(expected.to_owned())],
        ));
    }

    let share_block = read_text(&dir.join("reply-quotations-share-block.eml"));
    cases.push(Case::new(
        "reply-quotations-share-block.eml",
        &share_block,
        vec![Check::NonEmptyWithout("From".to_owned())],
    ));
    cases
}

/// Reads one set's fixtures and expectations.
type Loader = fn(&Path) -> Vec<Case>;

#[test]
fn quoted_replies_are_stripped_in_every_set() {
    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    let sets: [(&str, Loader); 4] = [
        ("github-email_reply_parser", github),
        ("crisp-email-reply-parser", crisp),
        ("willdurand-EmailReplyParser", willdurand),
        ("talon", talon),
    ];

    let mut rows = Vec::new();
    let mut below = Vec::new();
    for (set, load) in sets {
        let cases = load(&corpus.join(set));
        let (checked, unchecked): (Vec<&Case>, Vec<&Case>) =
            cases.iter().partition(|c| !c.checks.is_empty());
        let failed: Vec<&&Case> = checked.iter().filter(|c| !c.passes()).collect();
        let passed = checked.len() - failed.len();
        let rate = passed as f64 / checked.len().max(1) as f64;
        let slowest = cases.iter().max_by_key(|c| c.elapsed);
        println!("\n{set}:");
        for case in &failed {
            println!("  FAILED {}: got {:?}", case.name, case.got);
        }
        for case in &unchecked {
            println!("  unchecked (no text expectation) {}", case.name);
        }
        if let Some(slow) = slowest {
            println!("  slowest: {} in {:?}", slow.name, slow.elapsed);
        }
        rows.push((set, checked.len(), passed, unchecked.len(), rate));
        if rate < FLOOR {
            below.push(format!("{set}: {:.1}%", rate * 100.0));
        }
    }

    println!("\n| set | checked | passed | unchecked | rate |");
    println!("| --- | --- | --- | --- | --- |");
    for (set, checked, passed, unchecked, rate) in &rows {
        println!(
            "| {set} | {checked} | {passed} | {unchecked} | {:.1}% |",
            rate * 100.0
        );
    }
    assert!(
        below.is_empty(),
        "sets below {:.0}%: {}",
        FLOOR * 100.0,
        below.join(", ")
    );
}
