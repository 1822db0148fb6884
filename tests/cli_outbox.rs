//! `guichet outbox list|show|retry|drop`, through the binary: an operator sees the mail that
//! waits and why, gives one up, or asks for one more attempt now, and the event log says who
//! did. The file transport's directory is a file here, so the acknowledgement cannot be
//! written and waits in the outbox.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use common::{SMSU_ADDRESS, TestEnv, mail};

const JEANNE: &str = "jeanne@univ-lorraine.example";

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Jeanne's mail taken in, its acknowledgement left waiting (the outbox cannot be written).
fn waiting_acknowledgement() -> TestEnv {
    let env = TestEnv::new("", "");
    std::fs::create_dir_all(env.data()).unwrap();
    std::fs::write(env.data().join("outbox"), b"").unwrap();
    let m = mail(
        JEANNE,
        SMSU_ADDRESS,
        "Panne",
        "o1@univ-lorraine.example",
        "",
    );
    let out = env.deliver("SMSU", &m);
    assert!(out.status.success(), "{}", stderr(&out));
    env
}

#[test]
fn a_waiting_mail_is_listed_with_its_error_and_shown_whole() {
    let env = waiting_acknowledgement();
    let rows = env.json(&["outbox", "list", "--state", "pending", "--json"]);
    let rows = rows.as_array().unwrap();
    // The acknowledgement, then the agent's notice of the new ticket.
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1]["template"], "new_ticket");
    assert_eq!(rows[0]["offer"], "SMSU");
    assert_eq!(rows[0]["template"], "ticket_created");
    let error = rows[0]["last_error"].as_str().unwrap();
    assert!(error.starts_with("cannot write message"), "{error}");

    let out = env.run(&["outbox", "list"], b"");
    let listed = stdout(&out);
    assert!(
        listed.starts_with("SMSU     1 ") && listed.contains(&format!("to {JEANNE}")),
        "{listed}"
    );
    assert!(
        listed.contains("last error: cannot write message"),
        "{listed}"
    );
    assert_eq!(
        env.json(&["outbox", "list", "--state", "sent", "--json"]),
        serde_json::json!([])
    );

    let out = env.run(&["outbox", "show", "1", "--offer", "SMSU"], b"");
    let shown = stdout(&out);
    for line in [
        "id 1\n",
        "state pending\n",
        "template ticket_created\n",
        "attempts 1\n",
    ] {
        assert!(shown.contains(line), "{line:?} in {shown}");
    }
    let out = env.run(&["outbox", "list", "--state", "lost"], b"");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("expected pending, sent or failed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_operator_drops_a_mail_then_asks_for_it_again() {
    let env = waiting_acknowledgement();
    let out = env.run(
        &["outbox", "drop", "1", "--offer", "SMSU", "--as", "paul"],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "SMSU mail 1: dropped\n");
    let row = &env.json(&["outbox", "show", "1", "--offer", "SMSU", "--json"]);
    assert_eq!(row["status"], "failed");
    assert_eq!(row["last_error"], "dropped by paul");
    // Dropped once is not waiting any more.
    let again = env.run(&["outbox", "drop", "1", "--offer", "SMSU"], b"");
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("is not waiting to be sent (it is failed)"),
        "{}",
        stderr(&again)
    );

    let out = env.run(
        &["outbox", "retry", "1", "--offer", "SMSU", "--as", "paul"],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "SMSU mail 1: due now\n");
    let row = &env.json(&["outbox", "show", "1", "--offer", "SMSU", "--json"]);
    assert_eq!(row["status"], "pending");

    // Both actions are in the ticket's event log, with who did them.
    let view = env.json(&["ticket", "show", "I-000001", "--offer", "SMSU", "--json"]);
    let events: Vec<(String, String)> = view["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for kind in ["outbox_dropped", "outbox_retried"] {
        assert!(
            events.contains(&(kind.to_owned(), "cli:paul".to_owned())),
            "{kind}: {events:?}"
        );
    }
    let missing = env.run(&["outbox", "retry", "9", "--offer", "SMSU"], b"");
    assert!(
        stderr(&missing).contains("no outgoing mail 9"),
        "{}",
        stderr(&missing)
    );
}
