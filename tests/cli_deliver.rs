//! `guichet deliver`, driven as Postfix's pipe transport drives it: the message on stdin,
//! the answer in the exit code. Then the operator commands on what it stored.

mod common;

use common::{GEFORP_ADDRESS, SMSU_ADDRESS, TestEnv, mail, read};

const EX_TEMPFAIL: i32 = 75;

fn sqlite_env() -> TestEnv {
    TestEnv::new("max_message_bytes = 20000", "")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn tickets(env: &TestEnv, offer: &str) -> Vec<serde_json::Value> {
    env.json(&["tickets", "list", "--offer", offer, "--json"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn show(env: &TestEnv, offer: &str, reference: &str) -> serde_json::Value {
    env.json(&["ticket", "show", reference, "--offer", offer, "--json"])
}

fn header<'a>(eml: &'a str, name: &str) -> Option<&'a str> {
    let head = eml.split("\r\n\r\n").next().unwrap_or(eml);
    head.lines()
        .find(|l| {
            l.len() > name.len()
                && l[..name.len()].eq_ignore_ascii_case(name)
                && l[name.len()..].starts_with(':')
        })
        .map(|l| l[name.len() + 1..].trim())
}

#[test]
fn a_first_mail_opens_a_ticket_and_is_acknowledged() {
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

    let list = tickets(&env, "SMSU");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["ref"], "I-000001");
    assert_eq!(list[0]["title"], "Panne SMS");
    assert_eq!(list[0]["status"], "new");

    let files = env.outbox_files();
    assert_eq!(files.len(), 1, "one acknowledgement written");
    let ack = read(&files[0]);
    assert_eq!(
        header(&ack, "To").map(|t| t.contains("jeanne@univ-lorraine.example")),
        Some(true),
        "{ack}"
    );
    assert_eq!(
        header(&ack, "In-Reply-To"),
        Some("<m1@univ-lorraine.example>")
    );
    assert_eq!(
        header(&ack, "References"),
        Some("<m1@univ-lorraine.example>")
    );
    assert_eq!(header(&ack, "Auto-Submitted"), Some("auto-replied"));
    assert!(
        header(&ack, "Subject").is_some_and(|s| s.contains("[SMSU I-000001]")),
        "{ack}"
    );
    let ours = header(&ack, "Message-ID").expect("our Message-ID");
    assert!(ours.ends_with(".guichet@esup-portail.example>"), "{ours}");
    assert!(header(&ack, "From").is_some_and(|f| f.contains(SMSU_ADDRESS)));

    let view = show(&env, "SMSU", "I-000001");
    assert_eq!(view["outbox"][0]["status"], "sent");
    assert_eq!(
        view["participants"][0]["email"],
        "jeanne@univ-lorraine.example"
    );
    assert_eq!(view["participants"][0]["role"], "requester");
}

#[test]
fn the_same_message_twice_gives_one_article() {
    let env = sqlite_env();
    let m = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Panne",
        "twice@univ-lorraine.example",
        "",
    );
    assert!(env.deliver("SMSU", &m).status.success());
    let again = env.deliver("SMSU", &m);
    assert!(again.status.success());
    assert!(
        stderr(&again).contains("guichet: SMSU duplicate (I-000001)"),
        "{}",
        stderr(&again)
    );
    assert_eq!(tickets(&env, "SMSU").len(), 1);
    assert_eq!(
        show(&env, "SMSU", "I-000001")["articles"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(env.outbox_files().len(), 1, "acknowledged once");
}

#[test]
fn a_reused_message_id_with_other_content_is_not_lost() {
    let env = sqlite_env();
    let first = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Panne",
        "reused@script.example",
        "",
    );
    let mut second = first.clone();
    second.extend_from_slice(b"Autre chose encore.\r\n");
    assert!(env.deliver("SMSU", &first).status.success());
    let out = env.deliver("SMSU", &second);
    // Not a copy (other content), not a reply either: a ticket of its own, nothing lost.
    assert!(
        stderr(&out).contains("guichet: SMSU I-000002 created"),
        "{}",
        stderr(&out)
    );
    let again = env.deliver("SMSU", &second);
    assert!(
        stderr(&again).contains("guichet: SMSU duplicate (I-000002)"),
        "{}",
        stderr(&again)
    );
    assert_eq!(tickets(&env, "SMSU").len(), 2);
}

#[test]
fn a_message_without_message_id_gets_a_stable_one() {
    let env = sqlite_env();
    let m = b"From: jeanne@univ-lorraine.example\r\nTo: support-smsu@esup-portail.example\r\nSubject: sans id\r\n\r\nBonjour\r\n";
    assert!(env.deliver("SMSU", m).status.success());
    assert!(env.deliver("SMSU", m).status.success());
    let view = show(&env, "SMSU", "I-000001");
    let articles = view["articles"].as_array().unwrap();
    assert_eq!(
        articles.len(),
        1,
        "the derived id deduplicates the second delivery"
    );
    assert!(
        articles[0]["message_id"]
            .as_str()
            .unwrap()
            .ends_with("@generated.guichet.invalid")
    );
}

#[test]
fn replies_thread_by_header_and_by_tag() {
    let env = sqlite_env();
    let first = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Panne",
        "q1@univ-lorraine.example",
        "",
    );
    assert!(env.deliver("SMSU", &first).status.success());
    let ack = read(&env.outbox_files()[0]);
    let ours = header(&ack, "Message-ID").unwrap().to_owned();

    let by_header = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Re: Accusé",
        "q2@univ-lorraine.example",
        &format!("In-Reply-To: {ours}\r\nReferences: <q1@univ-lorraine.example> {ours}\r\n"),
    );
    let out = env.deliver("SMSU", &by_header);
    assert!(
        stderr(&out).contains("guichet: SMSU I-000001 added"),
        "{}",
        stderr(&out)
    );
    let by_tag = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "RE: [smsu i-1] encore",
        "q3@univ-lorraine.example",
        "",
    );
    let out = env.deliver("SMSU", &by_tag);
    assert!(
        stderr(&out).contains("guichet: SMSU I-000001 added"),
        "{}",
        stderr(&out)
    );
    assert_eq!(tickets(&env, "SMSU").len(), 1);
    assert_eq!(
        show(&env, "SMSU", "I-000001")["articles"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        env.outbox_files().len(),
        1,
        "follow-ups are not acknowledged again"
    );
}

#[test]
fn a_tag_of_another_offer_never_crosses_over() {
    let env = sqlite_env();
    let smsu = mail(
        "paul.agent@univ-rennes.example",
        SMSU_ADDRESS,
        "Panne",
        "x1@univ-rennes.example",
        "",
    );
    assert!(env.deliver("SMSU", &smsu).status.success());
    // Same ref, sent to GEFORP: GEFORP has no I-000001 and must not reach SMSU's.
    let geforp = mail(
        "paul.agent@univ-rennes.example",
        GEFORP_ADDRESS,
        "Re: [SMSU I-000001] Panne",
        "x2@univ-rennes.example",
        "In-Reply-To: <x1@univ-rennes.example>\r\n",
    );
    let out = env.deliver("GEFORP", &geforp);
    assert!(
        stderr(&out).contains("guichet: GEFORP I-000001 created"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        show(&env, "SMSU", "I-000001")["articles"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(tickets(&env, "GEFORP").len(), 1);
}

#[test]
fn automatic_mail_is_stored_but_not_answered() {
    let env = sqlite_env();
    let m = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Absence",
        "auto1@univ-lorraine.example",
        "Auto-Submitted: auto-replied\r\n",
    );
    let out = env.deliver("SMSU", &m);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("guichet: SMSU I-000001 created"),
        "{}",
        stderr(&out)
    );
    assert!(env.outbox_files().is_empty());
    let view = show(&env, "SMSU", "I-000001");
    assert_eq!(
        view["articles"][0]["auto_reason"],
        "Auto-Submitted: auto-replied"
    );
}

#[test]
fn unknown_senders_are_refused_politely_where_the_offer_says_so() {
    let env = sqlite_env();
    let m = mail(
        "someone@gmail.example",
        GEFORP_ADDRESS,
        "Question",
        "u1@gmail.example",
        "",
    );
    let out = env.deliver("GEFORP", &m);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("guichet: GEFORP refused unknown sender"),
        "{}",
        stderr(&out)
    );
    assert!(tickets(&env, "GEFORP").is_empty());
    let files = env.outbox_files();
    assert_eq!(files.len(), 1);
    let reply = read(&files[0]);
    assert_eq!(header(&reply, "Auto-Submitted"), Some("auto-replied"));
    assert_eq!(header(&reply, "In-Reply-To"), Some("<u1@gmail.example>"));
    // SMSU's policy creates the contact in the institution its domain matches.
    let out = env.deliver(
        "SMSU",
        &mail(
            "new.person@univ-lorraine.example",
            SMSU_ADDRESS,
            "Q",
            "u2@univ-lorraine.example",
            "",
        ),
    );
    assert!(
        stderr(&out).contains("guichet: SMSU I-000001 created"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_input_goes_to_quarantine_with_its_reason() {
    let env = sqlite_env();
    let random: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut big = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Gros",
        "big@univ-lorraine.example",
        "",
    );
    big.extend(std::iter::repeat_n(b'x', 30_000));
    let cases: [(&str, &[u8], &str); 3] = [
        ("random bytes", &random, "not an email message"),
        ("empty stdin", b"", "empty message"),
        ("over the size limit", &big, "over the limit of 20000 bytes"),
    ];
    for (name, input, _) in &cases {
        let out = env.deliver("SMSU", input);
        assert!(
            out.status.success(),
            "{name}: exit {:?}: {}",
            out.status.code(),
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("guichet: SMSU quarantined #"),
            "{name}: {}",
            stderr(&out)
        );
    }
    let listed = env.json(&["quarantine", "list", "--offer", "SMSU", "--json"]);
    let reasons: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 3);
    for ((name, input, reason), got) in cases.iter().zip(&reasons) {
        assert!(
            got.contains(reason),
            "{name}: reason {got:?} should say {reason:?}"
        );
        let id = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["reason"] == *got)
            .unwrap()["id"]
            .to_string();
        let raw = env.run(
            &["quarantine", "show", &id, "--offer", "SMSU", "--raw"],
            b"",
        );
        assert_eq!(&raw.stdout, input, "{name}: the exact bytes are kept");
    }
    assert!(tickets(&env, "SMSU").is_empty());
    // The daemon's store is unaffected: a good message still goes through.
    let ok = env.deliver(
        "SMSU",
        &mail(
            "jeanne@univ-lorraine.example",
            SMSU_ADDRESS,
            "OK",
            "ok@univ-lorraine.example",
            "",
        ),
    );
    assert!(
        ok.status.success() && stderr(&ok).contains("guichet: SMSU I-000001 created"),
        "{}",
        stderr(&ok)
    );
}

#[test]
fn a_replayed_quarantine_entry_is_taken_in_again() {
    let env = sqlite_env();
    let no_from = b"To: support-smsu@esup-portail.example\r\nSubject: sans expediteur\r\nMessage-ID: <nf@x.example>\r\n\r\nbody\r\n";
    let out = env.deliver("SMSU", no_from);
    assert!(
        stderr(&out).contains("guichet: SMSU quarantined #1: no sender address"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["quarantine", "replay", "1", "--offer", "SMSU"], b"");
    assert!(out.status.success());
    // Still unusable: the same entry, not a second copy.
    assert!(String::from_utf8_lossy(&out.stdout).contains("SMSU quarantined #1"));
    let again = env.deliver("SMSU", no_from);
    assert!(
        stderr(&again).contains("guichet: SMSU quarantined #1"),
        "a redelivery keeps its entry"
    );
    let listed = env.json(&["quarantine", "list", "--offer", "SMSU", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["replay_outcome"], "quarantined again as 1");
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
fn deliver_without_offer_routes_by_recipient() {
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
        Some(67),
        "EX_NOUSER: the MTA bounces"
    );
}

#[test]
fn operators_reply_note_assign_and_change_status() {
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

    let view = show(&env, "SMSU", "I-000001");
    assert_eq!(view["ticket"]["status"], "resolved");
    assert_eq!(view["ticket"]["priority"], "high");
    assert!(view["ticket"]["first_response_at"].is_string());
    let kinds: Vec<&str> = view["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "assigned",
            "noted",
            "replied",
            "status_changed",
            "priority_changed"
        ]
    );
    assert!(
        view["events"].as_array().unwrap()[1..]
            .iter()
            .all(|e| e["actor"] == "cli:paul")
    );
    let directions: Vec<&str> = view["articles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["direction"].as_str().unwrap())
        .collect();
    assert_eq!(directions, ["in", "internal", "out"]);
    // The reply is queued as mail (sent by the daemon's outbox worker, or the next deliver).
    let outbox: Vec<&str> = view["outbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["template"].as_str().unwrap())
        .collect();
    assert_eq!(outbox, ["ticket_created", "agent_reply"]);
    assert_eq!(
        view["outbox"][1]["in_reply_to"], "o1@x.example",
        "the reply threads under the requester's mail"
    );
    assert_eq!(view["outbox"][1]["references_ids"], "o1@x.example");

    let human = env.run(&["ticket", "show", "I-000001", "--offer", "SMSU"], b"");
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("[SMSU I-000001] Panne") && text.contains("Le relais SMS est reparti."),
        "{text}"
    );
    let wrong = env.run(&["ticket", "show", "I-000042", "--offer", "SMSU"], b"");
    assert_eq!(
        String::from_utf8_lossy(&wrong.stderr).trim(),
        "guichet: error: offer SMSU: no ticket I-000042"
    );
}

#[test]
fn a_strangers_guessed_tag_opens_a_linked_ticket_instead() {
    let env = sqlite_env();
    let first = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Mot de passe",
        "g1@univ-lorraine.example",
        "",
    );
    assert!(env.deliver("SMSU", &first).status.success());
    // Someone of another institution writes with Jeanne's ticket ref in the subject.
    let guess = mail(
        "mallory@univ-rennes.example",
        SMSU_ADDRESS,
        "Re: [SMSU I-000001] moi aussi",
        "g2@univ-rennes.example",
        "",
    );
    let out = env.deliver("SMSU", &guess);
    assert!(
        stderr(&out).contains("guichet: SMSU I-000002 created"),
        "{}",
        stderr(&out)
    );
    let view = show(&env, "SMSU", "I-000001");
    assert_eq!(
        view["articles"].as_array().unwrap().len(),
        1,
        "nothing of Mallory's in Jeanne's ticket"
    );
    let emails: Vec<&str> = view["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["email"].as_str())
        .collect();
    assert_eq!(
        emails,
        ["jeanne@univ-lorraine.example"],
        "so replies never reach Mallory"
    );
    assert_eq!(view["links"][0]["relation"], "possibly_related");
    // Someone of Jeanne's domain whom guichet knows only from an earlier mail of theirs is
    // still no colleague: anyone can write from a new address of a university's domain. An
    // agent may use the tag. (Configured colleagues may too: tests/hardening.rs.)
    let earlier = mail(
        "paul@univ-lorraine.example",
        SMSU_ADDRESS,
        "Autre chose",
        "g0@univ-lorraine.example",
        "",
    );
    assert!(env.deliver("SMSU", &earlier).status.success());
    let colleague = mail(
        "paul@univ-lorraine.example",
        SMSU_ADDRESS,
        "RE: [SMSU I-000001] idem",
        "g3@univ-lorraine.example",
        "",
    );
    let out = stderr(&env.deliver("SMSU", &colleague));
    assert!(out.contains("guichet: SMSU I-000004 created"), "{out}");
    let agent = mail(
        "paul.agent@univ-rennes.example",
        SMSU_ADDRESS,
        "RE: [SMSU I-000001] vu",
        "g4@univ-rennes.example",
        "",
    );
    assert!(stderr(&env.deliver("SMSU", &agent)).contains("guichet: SMSU I-000001 added"));
}

#[test]
fn an_auto_reply_never_reopens_a_resolved_ticket() {
    let env = sqlite_env();
    assert!(
        env.deliver(
            "SMSU",
            &mail(
                "jeanne@univ-lorraine.example",
                SMSU_ADDRESS,
                "Panne",
                "a1@univ-lorraine.example",
                ""
            )
        )
        .status
        .success()
    );
    let resolved = env.run(
        &[
            "ticket", "status", "I-000001", "resolved", "--offer", "SMSU",
        ],
        b"",
    );
    assert!(resolved.status.success());
    let ooo = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Absente : [SMSU I-000001] Panne",
        "a2@univ-lorraine.example",
        "Auto-Submitted: auto-replied\r\nIn-Reply-To: <a1@univ-lorraine.example>\r\n",
    );
    let out = env.deliver("SMSU", &ooo);
    assert!(
        stderr(&out).contains("guichet: SMSU I-000001 added") && !stderr(&out).contains("reopened"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        show(&env, "SMSU", "I-000001")["ticket"]["status"],
        "resolved"
    );
}

#[test]
fn deliver_without_offer_follows_the_envelope_recipient() {
    let env = sqlite_env();
    // One mail to both offers; Postfix delivers one copy per recipient, each with its
    // Delivered-To. Each offer must get its own ticket.
    let base = |delivered: &str| {
        mail(
            "jeanne@univ-lorraine.example",
            &format!("{SMSU_ADDRESS}, {GEFORP_ADDRESS}"),
            "Pour les deux",
            "both@univ-lorraine.example",
            &format!("Delivered-To: {delivered}\r\n"),
        )
    };
    let to_smsu = env.run(&["deliver"], &base(SMSU_ADDRESS));
    assert!(
        stderr(&to_smsu).contains("guichet: SMSU I-000001 created"),
        "{}",
        stderr(&to_smsu)
    );
    let to_geforp = env.run(&["deliver"], &base(GEFORP_ADDRESS));
    assert!(to_geforp.status.success(), "{}", stderr(&to_geforp));
    assert_eq!(tickets(&env, "SMSU").len(), 1);
    // GEFORP refuses unknown senders: the copy reached GEFORP and was handled there.
    assert!(
        stderr(&to_geforp).contains("guichet: GEFORP refused unknown sender"),
        "{}",
        stderr(&to_geforp)
    );
    // Garbage addressed to an offer is quarantined there rather than bounced.
    let garbage = format!("\u{1}\u{2} to {GEFORP_ADDRESS} \u{3}");
    let out = env.run(&["deliver"], garbage.as_bytes());
    assert!(
        out.status.success() && stderr(&out).contains("quarantined #"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        env.json(&["quarantine", "list", "--offer", "GEFORP", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn deliver_on_postgres_stores_dedupes_and_never_blocks_on_a_bad_value() {
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
        stderr(&out).contains("guichet: SMSU I-000001 created"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&env.deliver("SMSU", &m)).contains("guichet: SMSU duplicate (I-000001)"));
    // NUL in a decoded subject and body: PostgreSQL text cannot hold it. The message must be
    // stored (without the NUL) or quarantined, never refused with 75 again and again.
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
    assert_eq!(
        env.outbox_files().len(),
        1 + usize::from(stderr(&out).contains(" created"))
    );
}
