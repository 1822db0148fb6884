//! The loop guard over the real-world corpus (`../shared/corpus`): machine-written mail
//! (bounces, auto-replies, feedback reports, read receipts) must be recognised, mail a person
//! wrote must not be.
//!
//! Which file is which comes from each set's own labels, never from what `classify` answers:
//! - sisimai-set-of-emails: `labels.json`, `auto_generated` (bounces, RFC 3834 auto-replies,
//!   ARF reports; the two `not-bounce` files are the human ones);
//! - flanker: `expected.json`, `auto_generated` where the file has one (bounces, complaints,
//!   the MDN; `signed`, `text-only`, `torture`, `enclosed-endless` are human);
//! - php-mime-mail-parser: `expected.json`, whose `auto_generated` marks the machine mail
//!   ("only where the message is clearly an auto-reply/NDR"); every other message it
//!   describes is a real bug-report mail, written by a person;
//! - mikel-mail: its README labels all of `multipart_report_emails/` as auto-generated DSNs;
//!   `plain_emails/`, `attachment_emails/` and `rfc2822/` are ordinary mail by the set's own
//!   layout (`error_emails/` holds spam and newsletters, `mime_emails/` a DSN: neither is
//!   labelled, so neither is counted);
//! - cpython-test-email: its README names the four DSNs (`msg_05`, `msg_16`, `msg_25`,
//!   `msg_43`); it labels nothing as human, so it gives no negatives.
//!
//! Each set prints machine recognised / total and humans flagged / total, with the misses. The
//! issue's thresholds are asserted: on sisimai and flanker at least 98 % of machine mail is
//! recognised, and in every set no human mail is flagged. The other sets' machine mail is
//! counted and printed only (three, five and four files).
//!
//! Measured when this was written (misses listed by the test):
//!
//! | set | machine found | humans flagged |
//! | --- | --- | --- |
//! | sisimai-set-of-emails | 134 / 136 (98.5 %) | 0 / 2 |
//! | flanker | 12 / 12 | 0 / 4 |
//! | php-mime-mail-parser | 2 / 3 | 0 / 39 |
//! | mikel-mail | 5 / 5 | 0 / 48 |
//! | cpython-test-email | 4 / 4 | - |
//!
//! The misses: sisimai `lhost-fml-02` (an fml list server's "you are not a member", whose
//! headers are those of any post of that list) and `lhost-kddi-01` (a Japanese carrier's notice
//! from `no-reply@`, a sender people's newsletters use too); php `issue212`, an auto-reply with
//! no From at all, which `parse` refuses (quarantined, so never answered either).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use std::path::{Path, PathBuf};

use guichet::channels::mail::parse;
use guichet::domain::bounce::Severity;
use guichet::domain::loop_guard::{AutoReason, classify};
use guichet::domain::token::OurIds;
use serde_json::Value;

/// Issue 7 item 6: at least 98 % of machine-written mail recognised, per set, on these sets.
const MACHINE_FLOOR: f64 = 0.98;
const FLOOR_SETS: [&str; 2] = ["sisimai-set-of-emails", "flanker"];

/// Our Message-ID domain and support address, as the daemon passes them: no corpus file uses
/// them, so no recognition here comes from "our own mail came back".
const OUR_ID_DOMAIN: &str = "guichet.test";
const OUR_ADDRESS: &str = "support-smsu@esup-portail.example";

/// One labelled file: `machine` is the set's label, `name` its path inside the set.
struct Sample {
    name: String,
    path: PathBuf,
    machine: bool,
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The entries of a labels file that carry an `auto_generated` flag.
fn labelled(dir: &Path, labels: &str) -> Vec<Sample> {
    let json = read_json(&dir.join(labels));
    let map = json.as_object().expect("labels are an object");
    map.iter()
        .filter(|(name, _)| !name.starts_with('_'))
        .filter_map(|(name, v)| {
            let machine = v.get("auto_generated")?.as_bool()?;
            Some(Sample {
                name: name.clone(),
                path: dir.join(name),
                machine,
            })
        })
        .collect()
}

fn sisimai(dir: &Path) -> Vec<Sample> {
    labelled(dir, "labels.json")
}

fn flanker(dir: &Path) -> Vec<Sample> {
    labelled(dir, "expected.json")
}

/// Every message `expected.json` describes; `auto_generated: true` marks the machine ones and
/// the others are people's mail (see the module doc).
fn php(dir: &Path) -> Vec<Sample> {
    let json = read_json(&dir.join("expected.json"));
    let map = json.as_object().expect("expected.json is an object");
    map.iter()
        .filter(|(name, _)| !name.starts_with('_'))
        .map(|(name, v)| Sample {
            name: name.clone(),
            path: dir.join("mails").join(name),
            machine: [v.get("auto_generated"), v.pointer("/extra/auto_generated")]
                .into_iter()
                .flatten()
                .any(|flag| flag.as_bool() == Some(true)),
        })
        .filter(|s| s.path.is_file())
        .collect()
}

fn files_under(dir: &Path, sub: &str, machine: bool) -> Vec<Sample> {
    common::message_files(&dir.join(sub))
        .into_iter()
        .map(|path| Sample {
            name: path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string(),
            path,
            machine,
        })
        .collect()
}

fn mikel(dir: &Path) -> Vec<Sample> {
    let mut out = files_under(dir, "multipart_report_emails", true);
    for human in ["plain_emails", "attachment_emails", "rfc2822"] {
        out.extend(files_under(dir, human, false));
    }
    out
}

/// The four DSNs the set's README names.
fn cpython(dir: &Path) -> Vec<Sample> {
    ["msg_05.txt", "msg_16.txt", "msg_25.txt", "msg_43.txt"]
        .into_iter()
        .map(|name| Sample {
            name: name.to_owned(),
            path: dir.join(name),
            machine: true,
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    machine: usize,
    recognised: usize,
    humans: usize,
    flagged: usize,
    misses: Vec<String>,
}

impl Tally {
    fn machine_rate(&self) -> f64 {
        if self.machine == 0 {
            1.0
        } else {
            self.recognised as f64 / self.machine as f64
        }
    }
}

fn run(samples: &[Sample]) -> Tally {
    let us = vec![OUR_ADDRESS.to_owned()];
    let mut t = Tally::default();
    for s in samples {
        let raw = std::fs::read(&s.path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", s.path.display()));
        let reason: Result<Option<AutoReason>, String> = parse(&raw)
            .map(|email| classify(&email, &OurIds::new(OUR_ID_DOMAIN, None), &us))
            .map_err(|e| e.to_string());
        if s.machine {
            t.machine += 1;
            match reason {
                Ok(Some(_)) => t.recognised += 1,
                Ok(None) => t
                    .misses
                    .push(format!("{}: machine mail not recognised", s.name)),
                Err(e) => t
                    .misses
                    .push(format!("{}: machine mail refused by parse ({e})", s.name)),
            }
        } else {
            t.humans += 1;
            if let Ok(Some(r)) = reason {
                t.flagged += 1;
                t.misses
                    .push(format!("{}: human mail flagged ({})", s.name, r.describe()));
            }
        }
    }
    t
}

#[test]
fn machine_mail_is_recognised_and_human_mail_is_not() {
    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    type Reader = fn(&Path) -> Vec<Sample>;
    let sets: [(&str, Reader); 5] = [
        ("sisimai-set-of-emails", sisimai),
        ("flanker", flanker),
        ("php-mime-mail-parser", php),
        ("mikel-mail", mikel),
        ("cpython-test-email", cpython),
    ];
    let mut tallies = Vec::new();
    for (set, read) in sets {
        let dir = corpus.join(set);
        assert!(
            dir.is_dir(),
            "corpus set {set} is missing: looked in {}",
            dir.display()
        );
        let samples = read(&dir);
        assert!(!samples.is_empty(), "{set}: no labelled message found");
        for s in &samples {
            assert!(
                s.path.is_file(),
                "{set}: labelled file {} is missing",
                s.name
            );
        }
        tallies.push((set, run(&samples)));
    }

    println!(
        "\n{:<24} {:>10} {:>8} {:>8} {:>8}",
        "set", "machine", "found", "rate", "humans flagged"
    );
    for (set, t) in &tallies {
        println!(
            "{set:<24} {:>10} {:>8} {:>7.1}% {:>5} / {}",
            t.machine,
            t.recognised,
            t.machine_rate() * 100.0,
            t.flagged,
            t.humans
        );
    }
    for (set, t) in &tallies {
        for m in &t.misses {
            println!("  {set}/{m}");
        }
    }

    for (set, t) in &tallies {
        assert!(t.machine > 0, "{set}: no machine mail labelled");
        assert!(
            !FLOOR_SETS.contains(set) || t.machine_rate() >= MACHINE_FLOOR,
            "{set}: {:.1}% of machine mail recognised, under {:.0}% (misses above)",
            t.machine_rate() * 100.0,
            MACHINE_FLOOR * 100.0
        );
        assert_eq!(
            t.flagged, 0,
            "{set}: human mail flagged as machine mail (above)"
        );
    }
    let humans: usize = tallies.iter().map(|(_, t)| t.humans).sum();
    assert!(humans > 0, "no human mail labelled in any set");
}

// ----- bounce reports -----

/// At least this share of the labelled bounces must name a failed recipient (issue 7 item 6:
/// suppressing an address needs one), per set, and this share of the recipients whose label
/// gives a status class must agree on it (permanent for `5.x.x`, transient for `4.x.x`). Set
/// just below what was measured when this was written:
///
/// | set | bounces | recipient found | original Message-ID found | hard/soft agree | address agrees |
/// | --- | --- | --- | --- | --- | --- |
/// | sisimai-set-of-emails | 125 | 120 (96.0 %) | 98 (78.4 %) | 113 / 121 (93.4 %) | - |
/// | flanker | 9 | 9 | 5 | 2 / 2 | - |
/// | mikel-mail | 5 | 5 | 5 | 2 / 2 | 2 / 2 |
///
/// The bounces without a recipient: Apache James and Verizon MMS notices naming none, a
/// Japanese carrier's (KDDI) and Biglobe's notices, and an fml list server's refusal. The
/// severity misses are an Exim "retry time not reached" read from its 5xx transcript, and the
/// second recipient of two multi-recipient bounces that only name one. Raise the floors when
/// `domain::bounce` gets better; never lower them to let a change through.
const RECIPIENT_FLOOR: f64 = 0.95;
const SEVERITY_FLOOR: f64 = 0.92;

/// What a set's labels say about one bounce: how many recipients failed, and for those where
/// it is known, whether each failure is permanent (`Some(true)`) and its address.
struct LabelledBounce {
    name: String,
    path: PathBuf,
    /// Per failed recipient, in order: (permanent?, address), each when the label says.
    recipients: Vec<(Option<bool>, Option<String>)>,
}

fn sisimai_bounces(dir: &Path) -> Vec<LabelledBounce> {
    let json = read_json(&dir.join("labels.json"));
    json.as_object()
        .expect("labels are an object")
        .iter()
        .filter(|(_, v)| v.get("class").and_then(Value::as_str) == Some("bounce"))
        .map(|(name, v)| {
            let recipients = v
                .get("sisimai_expected")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .map(|r| {
                            let status = r.get("status").and_then(Value::as_str).unwrap_or("");
                            let permanent = match status.chars().next() {
                                Some('5') => Some(true),
                                Some('4') => Some(false),
                                _ => None,
                            };
                            (permanent, None)
                        })
                        .collect()
                })
                .unwrap_or_default();
            LabelledBounce {
                name: name.clone(),
                path: dir.join(name),
                recipients,
            }
        })
        .collect()
}

fn mikel_bounces(dir: &Path) -> Vec<LabelledBounce> {
    let json = read_json(&dir.join("expected.json"));
    json.as_object()
        .expect("expected.json is an object")
        .iter()
        .filter(|(name, _)| name.starts_with("multipart_report_emails/"))
        .map(|(name, v)| {
            let address = v
                .get("final_recipient")
                .and_then(Value::as_str)
                .and_then(|r| r.split_once(';'))
                .map(|(_, a)| a.trim().to_lowercase());
            let permanent = v
                .get("retryable")
                .and_then(Value::as_bool)
                .map(|retry| !retry);
            LabelledBounce {
                name: name.clone(),
                path: dir.join(name),
                recipients: vec![(permanent, address)],
            }
        })
        .collect()
}

fn flanker_bounces(dir: &Path) -> Vec<LabelledBounce> {
    let json = read_json(&dir.join("expected.json"));
    json.as_object()
        .expect("expected.json is an object")
        .iter()
        .filter(|(name, _)| name.starts_with("bounce/"))
        .map(|(name, v)| {
            let permanent = v
                .get("flanker:bounce.status")
                .and_then(Value::as_str)
                .and_then(|s| s.chars().next())
                .map(|c| c == '5');
            LabelledBounce {
                name: name.clone(),
                path: dir.join(name),
                recipients: vec![(permanent, None)],
            }
        })
        .collect()
}

#[derive(Default)]
struct BounceTally {
    bounces: usize,
    with_recipient: usize,
    with_original_id: usize,
    severity_checks: usize,
    severity_matches: usize,
    address_checks: usize,
    address_matches: usize,
    misses: Vec<String>,
}

fn rate(n: usize, d: usize) -> f64 {
    if d == 0 { 1.0 } else { n as f64 / d as f64 }
}

fn run_bounces(bounces: &[LabelledBounce]) -> BounceTally {
    let mut t = BounceTally::default();
    for b in bounces {
        t.bounces += 1;
        let raw = std::fs::read(&b.path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", b.path.display()));
        let report = parse(&raw)
            .ok()
            .and_then(|email| guichet::domain::bounce::extract(&email))
            .unwrap_or_default();
        if report.recipients.is_empty() {
            t.misses.push(format!("{}: no recipient found", b.name));
        } else {
            t.with_recipient += 1;
        }
        t.with_original_id += usize::from(report.original_message_id.is_some());
        for (i, (permanent, address)) in b.recipients.iter().enumerate() {
            let got = report.recipients.get(i);
            if let Some(permanent) = permanent {
                t.severity_checks += 1;
                let want = if *permanent {
                    Severity::Permanent
                } else {
                    Severity::Transient
                };
                if got.map(|r| r.severity) == Some(want) {
                    t.severity_matches += 1;
                } else {
                    t.misses.push(format!(
                        "{}: recipient {i}: want {}, got {:?}",
                        b.name,
                        want.as_str(),
                        got.map(|r| r.severity.as_str())
                    ));
                }
            }
            if let Some(address) = address {
                t.address_checks += 1;
                if got.map(|r| r.address.as_str()) == Some(address.as_str()) {
                    t.address_matches += 1;
                } else {
                    t.misses.push(format!(
                        "{}: recipient {i}: want {address}, got {:?}",
                        b.name,
                        got.map(|r| r.address.as_str())
                    ));
                }
            }
        }
    }
    t
}

#[test]
fn bounces_name_their_failed_recipients() {
    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    type Reader = fn(&Path) -> Vec<LabelledBounce>;
    let sets: [(&str, Reader); 3] = [
        ("sisimai-set-of-emails", sisimai_bounces),
        ("flanker", flanker_bounces),
        ("mikel-mail", mikel_bounces),
    ];
    let mut tallies = Vec::new();
    for (set, read) in sets {
        let dir = corpus.join(set);
        assert!(
            dir.is_dir(),
            "corpus set {set} is missing: looked in {}",
            dir.display()
        );
        let bounces = read(&dir);
        assert!(!bounces.is_empty(), "{set}: no labelled bounce found");
        tallies.push((set, run_bounces(&bounces)));
    }
    println!(
        "\n{:<24} {:>8} {:>16} {:>16} {:>16} {:>16}",
        "set", "bounces", "recipient found", "original id", "hard/soft agree", "address agrees"
    );
    for (set, t) in &tallies {
        println!(
            "{set:<24} {:>8} {:>8} {:>6.1}% {:>8} {:>6.1}% {:>5}/{:<4} {:>5.1}% {:>5}/{:<4} {:>5.1}%",
            t.bounces,
            t.with_recipient,
            rate(t.with_recipient, t.bounces) * 100.0,
            t.with_original_id,
            rate(t.with_original_id, t.bounces) * 100.0,
            t.severity_matches,
            t.severity_checks,
            rate(t.severity_matches, t.severity_checks) * 100.0,
            t.address_matches,
            t.address_checks,
            rate(t.address_matches, t.address_checks) * 100.0,
        );
    }
    for (set, t) in &tallies {
        for m in &t.misses {
            println!("  {set}/{m}");
        }
    }
    for (set, t) in &tallies {
        assert!(
            rate(t.severity_matches, t.severity_checks) >= SEVERITY_FLOOR,
            "{set}: hard/soft agrees on {:.1}% of the labelled recipients, under {:.0}%",
            rate(t.severity_matches, t.severity_checks) * 100.0,
            SEVERITY_FLOOR * 100.0
        );
        assert!(
            t.address_matches == t.address_checks,
            "{set}: a labelled recipient address was not found (above)"
        );
        assert!(
            rate(t.with_recipient, t.bounces) >= RECIPIENT_FLOOR,
            "{set}: a recipient found in {:.1}% of the bounces, under {:.0}%",
            rate(t.with_recipient, t.bounces) * 100.0,
            RECIPIENT_FLOOR * 100.0
        );
    }
}
