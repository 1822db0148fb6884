//! The threading sets of the corpus (dovecot-imaptest-threads, fedora-devel-2010-01-threads)
//! taken in through the real ingest path (`service::ingest::ingest`, on a fresh SQLite store
//! each), then compared with their expected threads: which messages share a ticket against
//! which share a thread.
//!
//! What is measured, per set family (the test prints it, `--nocapture`):
//! - messages placed: a message whose ticket holds exactly the messages of its expected
//!   thread, no more, no fewer;
//! - threads rebuilt: an expected thread whose messages are exactly one ticket's;
//! - for fedora, parent links kept: an expected (parent, reply) pair in one ticket.
//!
//! Who may thread: the corpus senders are strangers to any offer, and a stranger's reply
//! opens a linked ticket rather than joining someone else's (`domain::threading::entitled`).
//! A mailing list is the opposite case: everyone writes into everyone's threads. The test
//! offer is set up as if the list were one institution whose members the configuration
//! lists (a configured contact per sender address, all in institution `corpus-list`), which
//! makes each of them entitled to the others' tickets, the way configured colleagues are.
//! That is what a real deployment would not do for a public list, and is the most a sender
//! can be granted: what is left is our threading rules themselves.
//!
//! The corpus must be present, else the test is skipped with a `SKIPPED` line
//! ([`common::corpus_dir`]).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::Read as _;
use std::path::Path;

use common::Setup;
use common::app::{App, Backend};
use guichet::channels::mail::parse;
use guichet::service::ingest::IngestOutcome;
use serde_json::Value;

/// Measured on dovecot-imaptest-threads: 14 of the 21 messages of the REFERENCES sets (the
/// algorithm of RFC 5256 that threads by headers, as we do) are placed exactly; the floor is
/// one under. The 7 misses are expected, each a rule of ours:
/// - `thread` (3): message 2 names both 1 and 3 in References; RFC 5256 takes the last as
///   its parent and breaks the loop with 3, leaving 1 alone; we join the ticket of a parent
///   we know (1), so all three share one ticket;
/// - `thread2` (2): the same message twice, byte for byte: exactly-once intake keeps one
///   copy, where IMAP shows two messages;
/// - `thread4` (2): a `Re: foo` whose References name no stored message is grouped with
///   `foo` by subject in RFC 5256; we never thread by subject alone (a stranger could join
///   any ticket by copying a subject).
///
/// `thread3` and `thread6` come out right for another reason than threading: their two
/// messages share a Message-ID (or have none) and a body, so the second is taken as a
/// duplicate of the first (the content digest covers the parts, not the subject).
const IMAPTEST_REFERENCES_FLOOR: usize = 13;

/// Measured on the ORDEREDSUBJECT sets: 6 of 23, the messages alone in their thread. Those
/// sets thread by base subject only (`Re: [FWD: c]` with `C`), which we deliberately do not
/// do: every message opens its own ticket, and only the singletons are right. Exactly 6,
/// then: more would mean subjects started threading mail.
const IMAPTEST_SUBJECT_PLACED: usize = 6;

/// Measured on fedora-devel-list 2010-01 (292 messages, 60 threads, 232 parent links):
/// 227 links kept, 261 messages placed, 58 threads rebuilt. The 5 links missed are the 5 the
/// corpus README says the headers do not give: the thread `Re: ABRT considered painful`
/// (idx 3) answers a December message that is not in this month's archive, and its replies
/// (6, 11, 12) name other December messages, so they open four tickets where the archive
/// shows one; idx 153 (`Re:` with no In-Reply-To) and 285 (answering a message missing from
/// the archive) join `Common Lisp apps in Fedora` by subject only. The messages missed are
/// those two threads' members. Floors: two links and one thread under the measure.
const FEDORA_LINKS_FLOOR: usize = 225;
const FEDORA_THREADS_FLOOR: usize = 57;

/// The messages of an mbox, split on their `From ` separator lines (`From sender date`,
/// told from a body line by its `hh:mm:ss` time), without the separator and the blank line
/// before the next one.
fn split_mbox(text: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for line in text.split_inclusive(|b| *b == b'\n') {
        let l = String::from_utf8_lossy(line);
        if l.starts_with("From ") && l.split_whitespace().any(is_time) {
            let sender = l.split_whitespace().nth(1).unwrap_or_default().to_owned();
            out.push((sender, Vec::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.extend_from_slice(line);
        }
    }
    for (_, body) in &mut out {
        if body.ends_with(b"\n\n") {
            body.pop();
        }
    }
    out
}

fn is_time(token: &str) -> bool {
    let b = token.as_bytes();
    b.len() == 8
        && b[2] == b':'
        && b[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| b[i].is_ascii_digit())
}

/// A message as an MTA would hand it over: imaptest's messages have no `From:` (only the
/// mbox separator names a sender, `user@domain`) and no `To:`; both are added, from the
/// separator (its domain made a real one, `user@domain.example`: the configuration takes
/// no address without a dot in its domain) and for the test offer. Nothing else is touched.
fn as_delivered(sender: &str, raw: &[u8]) -> Vec<u8> {
    let sender = match sender.rsplit_once('@') {
        Some((_, domain)) if !domain.contains('.') => format!("{sender}.example"),
        _ => sender.to_owned(),
    };
    let head = raw
        .split(|b| *b == b'\n')
        .take_while(|l| !l.trim_ascii().is_empty());
    let has = |name: &str| {
        head.clone()
            .any(|l| l.to_ascii_lowercase().starts_with(name.as_bytes()))
    };
    let mut out = Vec::new();
    if !has("from:") {
        out.extend_from_slice(format!("From: {sender}\n").as_bytes());
    }
    if !has("to:") {
        out.extend_from_slice(format!("To: {}\n", common::SMSU_ADDRESS).as_bytes());
    }
    out.extend_from_slice(raw);
    out
}

/// The configuration tables that make every sender of `messages` a configured member of one
/// institution (see the module documentation).
fn list_members(messages: &[Vec<u8>]) -> String {
    let senders: BTreeSet<String> = messages
        .iter()
        .filter_map(|raw| parse(raw).ok()?.from.map(|m| m.address))
        .collect();
    let mut tables = String::from(
        "[[institutions]]\nkey = \"corpus-list\"\nname = \"A mailing list of the corpus\"\n",
    );
    for (n, address) in senders.iter().enumerate() {
        assert!(
            !address.contains(['"', '\\']),
            "{address:?} would need escaping in the configuration"
        );
        tables.push_str(&format!(
            "\n[[contacts]]\nname = \"list member {n}\"\nemails = [\"{address}\"]\n\
             institution = \"corpus-list\"\n"
        ));
    }
    tables
}

/// Takes `messages` in, in order, into SMSU of a fresh store whose configuration lists their
/// senders; returns the ticket of each (`None`: refused or quarantined, its own group).
async fn ingest_all(messages: &[Vec<u8>]) -> Vec<Option<String>> {
    let setup = Setup {
        extra_tables: list_members(messages),
        ..Setup::default()
    };
    let app = App::with(Backend::Sqlite, setup).await;
    let mut tickets = Vec::new();
    for (i, raw) in messages.iter().enumerate() {
        let ticket = match app.ingest("SMSU", raw).await {
            IngestOutcome::Created { ticket, .. } | IngestOutcome::Appended { ticket, .. } => {
                Some(ticket.to_string())
            }
            IngestOutcome::Duplicate { ticket } => ticket.map(|t| t.to_string()),
            other => {
                println!("message {i} not taken into a ticket: {other:?}");
                None
            }
        };
        tickets.push(ticket);
    }
    tickets
}

/// How the tickets of `tickets` compare with `expected` (the thread of each message, by any
/// label): (messages placed, threads rebuilt, threads).
fn compare(tickets: &[Option<String>], expected: &[usize]) -> (usize, usize, usize) {
    let group = |labels: &dyn Fn(usize) -> Option<String>| {
        let mut by: HashMap<String, BTreeSet<usize>> = HashMap::new();
        for i in 0..expected.len() {
            let label = labels(i).unwrap_or_else(|| format!("alone {i}"));
            by.entry(label).or_default().insert(i);
        }
        let of: Vec<BTreeSet<usize>> = (0..expected.len())
            .map(|i| by[&labels(i).unwrap_or_else(|| format!("alone {i}"))].clone())
            .collect();
        (by, of)
    };
    let (_, got) = group(&|i| tickets[i].clone());
    let (threads, want) = group(&|i| Some(expected[i].to_string()));
    let placed = (0..expected.len()).filter(|&i| got[i] == want[i]).count();
    let rebuilt = threads
        .values()
        .filter(|t| t.iter().all(|&i| got[i] == **t))
        .count();
    (placed, rebuilt, threads.len())
}

// ----- dovecot-imaptest-threads -----

/// The top-level groups of an imaptest `* THREAD` answer (`(3 2)(1)`, `((1)(2))`), as the
/// 1-based message numbers of each.
fn thread_groups(answer: &str) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let (mut depth, mut number) = (0usize, String::new());
    for c in answer.chars().chain([' ']) {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        if !number.is_empty() {
            groups
                .last_mut()
                .expect("a number inside a group")
                .push(number.parse().unwrap());
            number.clear();
        }
        match c {
            '(' => {
                if depth == 0 {
                    groups.push(Vec::new());
                }
                depth += 1;
            }
            ')' => depth -= 1,
            _ => {}
        }
    }
    groups
}

/// One imaptest case: its messages as delivered, and the thread of each (the first THREAD
/// answer of its script, before any expunge; it covers the messages appended by then).
fn imaptest_case(dir: &Path, name: &str) -> (Vec<Vec<u8>>, Vec<usize>) {
    let script = common::read(&dir.join(name));
    let answer = script
        .lines()
        .find_map(|l| {
            let l = l.trim();
            l.to_ascii_lowercase()
                .starts_with("* thread")
                .then(|| l["* thread".len()..].to_owned())
        })
        .unwrap_or_else(|| panic!("{name}: no THREAD answer"));
    let groups = thread_groups(&answer);
    let count = groups.iter().map(Vec::len).sum::<usize>();
    let mut expected = vec![usize::MAX; count];
    for (g, members) in groups.iter().enumerate() {
        for &m in members {
            expected[m - 1] = g;
        }
    }
    assert!(
        !expected.contains(&usize::MAX),
        "{name}: numbers 1..={count}"
    );
    let mbox = std::fs::read(dir.join(format!("{name}.mbox"))).unwrap();
    let messages: Vec<Vec<u8>> = split_mbox(&mbox)
        .iter()
        .take(count)
        .map(|(sender, raw)| as_delivered(sender, raw))
        .collect();
    assert_eq!(messages.len(), count, "{name}: messages in the mbox");
    (messages, expected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imaptest_threads_are_rebuilt_by_headers_never_by_subject() {
    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    let dir = corpus.join("dovecot-imaptest-threads");
    // (family, cases)
    let families = [
        (
            "references",
            &[
                "thread", "thread2", "thread3", "thread4", "thread5", "thread6", "thread7",
                "thread8",
            ][..],
        ),
        (
            "orderedsubject",
            &["thread-orderedsubject", "thread-orderedsubject2"][..],
        ),
    ];
    let mut placed = HashMap::new();
    for (family, cases) in families {
        let (mut right, mut total) = (0, 0);
        for name in cases {
            let (messages, expected) = imaptest_case(&dir, name);
            let tickets = ingest_all(&messages).await;
            let (p, rebuilt, threads) = compare(&tickets, &expected);
            println!(
                "imaptest {name}: {p}/{} messages placed, {rebuilt}/{threads} threads",
                expected.len()
            );
            right += p;
            total += expected.len();
        }
        println!("imaptest {family}: {right}/{total} messages placed");
        placed.insert(family, right);
    }
    assert!(
        placed["references"] >= IMAPTEST_REFERENCES_FLOOR,
        "references sets: {} messages placed, floor {IMAPTEST_REFERENCES_FLOOR}",
        placed["references"]
    );
    assert_eq!(
        placed["orderedsubject"], IMAPTEST_SUBJECT_PLACED,
        "orderedsubject sets: only the messages alone in their thread are placed, since a \
         subject alone threads nothing"
    );
}

// ----- fedora-devel-2010-01-threads -----

/// Walks one expected thread: the thread of each message (its root's idx) and each
/// (parent, reply) pair.
fn walk(
    node: &Value,
    root: usize,
    thread: &mut HashMap<usize, usize>,
    links: &mut Vec<(usize, usize)>,
) {
    let idx = node["idx"].as_u64().unwrap() as usize;
    thread.insert(idx, root);
    for child in node["children"].as_array().into_iter().flatten() {
        links.push((idx, child["idx"].as_u64().unwrap() as usize));
        walk(child, root, thread, links);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fedora_list_threads_are_rebuilt_by_headers() {
    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    let dir = corpus.join("fedora-devel-2010-01-threads");
    let mut mbox = Vec::new();
    flate2::read::MultiGzDecoder::new(
        std::fs::File::open(dir.join("2010-January.txt.gz")).unwrap(),
    )
    .read_to_end(&mut mbox)
    .unwrap();
    let truth: Value =
        serde_json::from_str(&common::read(&dir.join("expected_threads.json"))).unwrap();
    let messages: Vec<Vec<u8>> = split_mbox(&mbox).into_iter().map(|(_, raw)| raw).collect();
    assert_eq!(
        messages.len(),
        truth["message_count"].as_u64().unwrap() as usize
    );

    let (mut thread, mut links) = (HashMap::new(), Vec::new());
    for root in truth["threads"].as_array().unwrap() {
        walk(
            root,
            root["idx"].as_u64().unwrap() as usize,
            &mut thread,
            &mut links,
        );
    }
    let expected: Vec<usize> = (0..messages.len()).map(|i| thread[&i]).collect();

    let tickets = ingest_all(&messages).await;
    let (placed, rebuilt, threads) = compare(&tickets, &expected);
    let kept = links
        .iter()
        .filter(|(a, b)| tickets[*a].is_some() && tickets[*a] == tickets[*b])
        .count();
    println!(
        "fedora: {kept}/{} parent links kept, {placed}/{} messages placed, {rebuilt}/{threads} \
         threads rebuilt",
        links.len(),
        messages.len()
    );
    assert!(
        kept >= FEDORA_LINKS_FLOOR,
        "{kept} links kept, floor {FEDORA_LINKS_FLOOR}"
    );
    assert!(
        rebuilt >= FEDORA_THREADS_FLOOR,
        "{rebuilt} threads rebuilt, floor {FEDORA_THREADS_FLOOR}"
    );
}
