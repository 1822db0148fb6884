//! `guichet deliver` and the operator commands as a process: what only a process shows, the
//! exit code Postfix's pipe transport acts on (0, 67, 75), mail written at once, one-line
//! errors, the arguments. What the services decide is tested in process (tests/ingest.rs).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use common::{GEFORP_ADDRESS, SMSU_ADDRESS, TestEnv, mail, read};

const EX_NOUSER: i32 = 67;
const EX_TEMPFAIL: i32 = 75;

fn sqlite_env() -> TestEnv {
    TestEnv::new("max_message_bytes = 20000", "")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_delivered_mail_is_stored_and_acknowledged_before_deliver_exits() {
    let env = sqlite_env();
    let out = env.deliver(
        "SMSU",
        &mail(
            "Jeanne <jeanne@univ-lorraine.example>",
            SMSU_ADDRESS,
            "Panne SMS",
            "m1@univ-lorraine.example",
            "",
        ),
    );
    assert!(out.status.success(), "deliver failed: {}", stderr(&out));
    let list = env.json(&["tickets", "list", "--offer", "SMSU", "--json"]);
    assert_eq!(list[0]["ref"], "I-000001");
    assert_eq!(list[0]["title"], "Panne SMS");
    // `deliver` runs an outbox pass before it exits: no daemon needed for the acknowledgement.
    let files = env.outbox_files();
    // The agent's notice waits `mail.coalesce_minutes` for the daemon (or a later deliver).
    assert_eq!(files.len(), 1, "the acknowledgement written");
    assert!(files.iter().all(|f| read(f).contains("[SMSU I-000001]")));
    let view = env.json(&["ticket", "show", "I-000001", "--offer", "SMSU", "--json"]);
    assert_eq!(view["outbox"][0]["status"], "sent");
    // The JSON an operator's scripts read: names as stored, ids as bare numbers.
    assert_eq!(view["ticket"]["id"], 1);
    assert_eq!(view["ticket"]["status"], "new");
    assert_eq!(view["participants"][0]["role"], "requester");
    assert_eq!(view["articles"][0]["direction"], "in");
    assert_eq!(view["articles"][0]["channel"], "pipe");
    assert_eq!(view["events"][0]["kind"], "created");
}

#[test]
fn unusable_input_exits_0_and_its_bytes_are_shown_raw() {
    let env = sqlite_env();
    let random: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cases: [(&str, &[u8]); 2] = [("random bytes", &random), ("empty stdin", b"")];
    for (n, (name, input)) in cases.iter().enumerate() {
        let out = env.deliver("SMSU", input);
        assert!(
            out.status.success(),
            "{name}: exit {:?}: {}",
            out.status.code(),
            stderr(&out)
        );
        let id = (n + 1).to_string();
        let raw = env.run(
            &["quarantine", "show", &id, "--offer", "SMSU", "--raw"],
            b"",
        );
        assert_eq!(&raw.stdout, input, "{name}: the exact bytes are kept");
    }
    // `quarantine replay` says what became of the message, like `deliver`.
    let out = env.run(&["quarantine", "replay", "1", "--offer", "SMSU"], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("SMSU quarantined #1"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn an_oversized_message_is_read_to_its_end_and_only_its_header_is_kept() {
    let env = sqlite_env();
    let mut big = mail(
        "Jeanne <jeanne@univ-lorraine.example>",
        SMSU_ADDRESS,
        "Journaux",
        "big@univ-lorraine.example",
        "",
    );
    let header_end = big.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    // Far over the 20000-byte limit: deliver reads (and drops) the rest, so that the MTA sees
    // the whole message consumed, and keeps the header.
    big.resize(8 * 1024 * 1024, b'l');
    let out = env.deliver("SMSU", &big);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(&format!(
            "guichet: SMSU quarantined #1: message of {} bytes is over the limit",
            big.len()
        )),
        "{}",
        stderr(&out)
    );
    let raw = env.run(
        &["quarantine", "show", "1", "--offer", "SMSU", "--raw"],
        b"",
    );
    assert_eq!(raw.stdout, big[..header_end], "the header, and only it");
    let listed = env.json(&["quarantine", "list", "--offer", "SMSU", "--json"]);
    assert_eq!(listed[0]["size"], big.len(), "{listed}");
    assert_eq!(listed[0]["header_only"], true, "{listed}");
    let replay = env.run(&["quarantine", "replay", "1", "--offer", "SMSU"], b"");
    assert!(!replay.status.success(), "a header cannot be replayed");
    assert!(
        stderr(&replay).contains("only its header was kept"),
        "{}",
        stderr(&replay)
    );
}

#[test]
fn an_unreachable_store_makes_the_mta_retry() {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    let env = TestEnv::new(
        "",
        "[storage]\ndsn = \"postgres://guichet@127.0.0.1:9/guichet\"\nconnect_timeout_secs = 2",
    );
    let out = env.deliver(
        "SMSU",
        &mail(
            "jeanne@univ-lorraine.example",
            SMSU_ADDRESS,
            "Panne",
            "down@x.example",
            "",
        ),
    );
    assert_eq!(out.status.code(), Some(EX_TEMPFAIL), "{}", stderr(&out));
    assert!(stderr(&out).contains("guichet: error:"), "{}", stderr(&out));
    let unwritable = TestEnv::new(
        "",
        "[storage]\ndsn = \"sqlite:///proc/guichet-cannot-be-here/g.db\"",
    );
    let out = unwritable.deliver(
        "SMSU",
        &mail(
            "jeanne@univ-lorraine.example",
            SMSU_ADDRESS,
            "Panne",
            "down2@x.example",
            "",
        ),
    );
    assert_eq!(out.status.code(), Some(EX_TEMPFAIL), "{}", stderr(&out));
}

#[test]
fn deliver_without_offer_routes_and_bounces_what_no_offer_takes() {
    let env = sqlite_env();
    let m = mail(
        "jeanne@univ-lorraine.example",
        "Support <support-smsu+urgent@esup-portail.example>",
        "Panne",
        "r1@x.example",
        "",
    );
    let out = env.run(&["deliver"], &m);
    assert!(
        out.status.success() && stderr(&out).contains("guichet: SMSU I-000001 created"),
        "{}",
        stderr(&out)
    );
    let nobody = mail(
        "jeanne@univ-lorraine.example",
        "someone@esup-portail.example",
        "Panne",
        "r2@x.example",
        "",
    );
    assert_eq!(
        env.run(&["deliver"], &nobody).status.code(),
        Some(EX_NOUSER),
        "EX_NOUSER: the MTA bounces"
    );
    // `--recipient` (the envelope recipient) decides, whatever the headers say.
    let named = mail(
        "paul.agent@univ-rennes.example",
        SMSU_ADDRESS,
        "Par l'enveloppe",
        "r3@x.example",
        "",
    );
    let out = env.run(&["deliver", "--recipient", GEFORP_ADDRESS], &named);
    assert!(
        out.status.success() && stderr(&out).contains("guichet: GEFORP I-000001 created"),
        "{}",
        stderr(&out)
    );
    let out = env.run(
        &["deliver", "--recipient", "someone@esup-portail.example"],
        &named,
    );
    assert_eq!(out.status.code(), Some(EX_NOUSER), "{}", stderr(&out));
}

#[test]
fn operator_commands_act_as_named_and_fail_on_one_line() {
    let env = sqlite_env();
    assert!(
        env.deliver(
            "SMSU",
            &mail(
                "Jeanne Durand <jeanne@univ-lorraine.example>",
                SMSU_ADDRESS,
                "Panne",
                "o1@x.example",
                ""
            )
        )
        .status
        .success()
    );
    let op = |args: &[&str]| {
        let mut full = vec!["ticket"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["--offer", "SMSU", "--as", "paul"]);
        env.run(&full, b"")
    };
    assert!(
        op(&[
            "assign",
            "I-000001",
            "--to",
            "paul.agent@univ-rennes.example"
        ])
        .status
        .success()
    );
    assert!(
        !op(&["assign", "I-000001", "--to", "jeanne@univ-lorraine.example"])
            .status
            .success(),
        "a requester is no agent"
    );
    assert!(
        op(&["note", "I-000001", "-m", "vu avec l'opérateur"])
            .status
            .success()
    );
    assert!(
        op(&["reply", "I-000001", "-m", "Le relais SMS est reparti."])
            .status
            .success()
    );
    assert!(op(&["status", "I-000001", "resolved"]).status.success());
    let refused = op(&["status", "I-000001", "new"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("cannot go from resolved to new"),
        "{}",
        stderr(&refused)
    );
    assert!(op(&["priority", "I-000001", "high"]).status.success());

    let view = env.json(&["ticket", "show", "I-000001", "--offer", "SMSU", "--json"]);
    assert_eq!(view["ticket"]["status"], "resolved");
    assert_eq!(view["ticket"]["priority"], "high");
    assert!(
        view["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| !e["actor"].as_str().unwrap().starts_with("mail:"))
            .all(|e| e["actor"] == "cli:paul"),
        "--as names the actor: {}",
        view["events"]
    );

    let human = env.run(&["ticket", "show", "I-000001", "--offer", "SMSU"], b"");
    let text = stdout(&human);
    assert!(
        text.contains("[SMSU I-000001] Panne") && text.contains("Le relais SMS est reparti."),
        "{text}"
    );
    let wrong = env.run(&["ticket", "show", "I-000042", "--offer", "SMSU"], b"");
    assert_eq!(
        stderr(&wrong).trim(),
        "guichet: error: offer SMSU: no ticket I-000042"
    );
}

#[test]
fn deliver_on_postgres_answers_the_mta_and_never_blocks_on_a_bad_value() {
    let dsn = common::fresh_pg_database();
    let env = TestEnv::new("", &format!("[storage]\ndsn = \"{dsn}\""));
    let m = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Panne",
        "pg1@univ-lorraine.example",
        "",
    );
    let out = env.deliver("SMSU", &m);
    assert!(
        out.status.success() && stderr(&out).contains("guichet: SMSU I-000001 created"),
        "{}",
        stderr(&out)
    );
    let again = env.deliver("SMSU", &m);
    assert!(again.status.success());
    assert!(stderr(&again).contains("guichet: SMSU duplicate (I-000001)"));
    assert_eq!(
        env.outbox_files().len(),
        1,
        "the acknowledgement (the agent's notice waits `mail.coalesce_minutes`)"
    );
    // NUL in a decoded subject and body: PostgreSQL text cannot hold it. Exit 0, never 75
    // again and again (tests/ingest.rs checks what is stored).
    let nul = b"From: jeanne@univ-lorraine.example\r\nTo: support-smsu@esup-portail.example\r\n\
Subject: =?utf-8?q?a=00b?=\r\nMessage-ID: <pgnul@univ-lorraine.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: base64\r\n\r\nYQBi\r\n";
    let out = env.deliver("SMSU", nul);
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        stderr(&out)
    );
}
