//! What the binary prints, as the MTA's log and an operator's terminal receive it: one short
//! outcome line per offer before any log line, logs as configured, an error said once, no
//! panic on a closed pipe, and no raw control characters from mail on the terminal.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use std::process::Stdio;

use common::{GEFORP_ADDRESS, SMSU_ADDRESS, TestEnv, mail};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[test]
fn deliver_prints_its_outcome_line_before_any_log_line() {
    let env = TestEnv::new("log_level = \"info\"", "");
    let m = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Panne",
        "first@univ-lorraine.example",
        "",
    );
    let out = env.deliver("SMSU", &m);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(first_line(&err), "guichet: SMSU I-000001 created", "{err}");
    // log_level = info is honoured: the ingest log line is there, after the outcome.
    assert!(
        err.lines().skip(1).any(|l| l.contains("message taken in")),
        "{err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "no colour codes when stderr is not a terminal: {err:?}"
    );
}

#[test]
fn deliver_outcome_lines_say_what_happened_in_a_few_words() {
    let env = TestEnv::new("max_message_bytes = 20000", "");
    let first = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Panne",
        "o1@univ-lorraine.example",
        "",
    );
    let reply = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Re: [SMSU I-000001] Panne",
        "o2@univ-lorraine.example",
        "",
    );
    let stranger = mail(
        "someone@gmail.example",
        GEFORP_ADDRESS,
        "Question",
        "o3@gmail.example",
        "",
    );
    let mut big = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Gros",
        "o4@univ-lorraine.example",
        "",
    );
    big.extend(std::iter::repeat_n(b'x', 30_000));
    // Cut to Postfix's 100 characters, as `deliver` does.
    let quarantined = format!(
        "guichet: SMSU quarantined #1: message of {} bytes is over the limit of 20000 bytes \
         (only its header is kept)",
        big.len()
    );
    let quarantined = format!("{}...", quarantined.chars().take(97).collect::<String>());
    let cases: [(&str, &[u8], &str); 5] = [
        ("SMSU", &first, "guichet: SMSU I-000001 created"),
        ("SMSU", &reply, "guichet: SMSU I-000001 added"),
        ("SMSU", &first, "guichet: SMSU duplicate (I-000001)"),
        (
            "GEFORP",
            &stranger,
            "guichet: GEFORP refused unknown sender",
        ),
        ("SMSU", &big, &quarantined),
    ];
    for (offer, message, line) in cases {
        let out = env.deliver(offer, message);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(first_line(&stderr(&out)), line);
        // Postfix's pipe(8) keeps the first 100 characters of the output in its log.
        assert!(line.chars().count() <= 100, "{line}");
    }
}

#[test]
fn one_shot_commands_log_as_the_configuration_says() {
    let env = TestEnv::new("log_format = \"json\"\nlog_level = \"debug\"", "");
    let out = env.deliver(
        "SMSU",
        &mail(
            "jeanne@univ-lorraine.example",
            SMSU_ADDRESS,
            "Panne",
            "j1@univ-lorraine.example",
            "",
        ),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let mut lines = err.lines();
    assert_eq!(
        lines.next(),
        Some("guichet: SMSU I-000001 created"),
        "{err}"
    );
    let logs: Vec<&str> = lines.collect();
    assert!(
        !logs.is_empty(),
        "debug logs expected after the outcome: {err}"
    );
    for l in &logs {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"));
        assert!(v["level"].is_string(), "{l}");
    }

    let out = env.run(&["tickets", "list"], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.lines().count() > 0, "debug logs expected: {err}");
    for l in err.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(l).is_ok(),
            "not a JSON log line: {l}"
        );
    }
}

#[test]
fn a_failed_delivery_says_its_error_once() {
    let env = TestEnv::new("", "");
    let m = |id: &str| {
        mail(
            "jeanne@univ-lorraine.example",
            SMSU_ADDRESS,
            "Panne",
            id,
            "",
        )
    };
    assert!(env.deliver("SMSU", &m("e0@x.example")).status.success());
    // Another writer holds the database past guichet's busy timeout (10 s): SQLITE_BUSY, a
    // store error wrapped by the service and the deliver layers.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let out = rt.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", env.data().join("guichet.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("open the database");
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut conn)
            .await
            .expect("lock");
        let out = env.deliver("SMSU", &m("e1@x.example"));
        let _ = conn.close().await;
        out
    });
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(lines[0].starts_with("guichet: error: "), "{err}");
    assert_eq!(lines[0].matches("database is locked").count(), 1, "{err}");
}

#[test]
fn listing_into_a_closed_pipe_exits_quietly() {
    let env = TestEnv::new("", "");
    for n in 0..3 {
        let out = env.deliver(
            "SMSU",
            &mail(
                "jeanne@univ-lorraine.example",
                SMSU_ADDRESS,
                "Panne",
                &format!("p{n}@univ-lorraine.example"),
                "",
            ),
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    for args in [
        &["tickets", "list"][..],
        &["tickets", "list", "--json"],
        &["ticket", "show", "I-000001", "--offer", "SMSU"],
        &["quarantine", "list"],
        &["check-config"],
    ] {
        // `guichet tickets list | head -0`: the reader is gone before the first write.
        let mut child = env
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn guichet");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait guichet");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).is_empty(), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn control_characters_from_mail_never_reach_the_terminal_raw() {
    let env = TestEnv::new("", "");
    // ESC sequences (clear screen, set the window title) in an encoded subject, a C1 CSI, and
    // a right-to-left override in the body.
    let m = "From: jeanne@univ-lorraine.example\r\nTo: support-smsu@esup-portail.example\r\n\
Subject: =?utf-8?q?Panne_=1B[2J=1B]0;pwned=07_=C2=9B31m_fin?=\r\n\
Message-ID: <esc@univ-lorraine.example>\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Bonjour,\r\n\ttab=E2=80=AEexe.pdf\r\nrouge =1B[31mALERTE=1B[0m\r\n";
    let out = env.deliver("SMSU", m.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let raw = |s: &str| s.contains(['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\r']);

    let list = env.run(&["tickets", "list"], b"");
    let text = stdout(&list);
    assert!(!raw(&text), "{text:?}");
    assert!(
        text.contains("Panne \\x1b[2J\\x1b]0;pwned\\x07 \\x9b31m fin"),
        "{text}"
    );

    let show = env.run(&["ticket", "show", "I-000001", "--offer", "SMSU"], b"");
    let text = stdout(&show);
    assert!(!raw(&text), "{text:?}");
    assert!(text.contains("Subject: Panne \\x1b[2J"), "{text}");
    assert!(text.contains("Bonjour,\n\ttab\\u{202e}exe.pdf\n"), "{text}");
    assert!(text.contains("rouge \\x1b[31mALERTE\\x1b[0m"), "{text}");

    // JSON keeps the exact text (escaped the JSON way).
    let json: serde_json::Value = serde_json::from_slice(
        &env.run(
            &["ticket", "show", "I-000001", "--offer", "SMSU", "--json"],
            b"",
        )
        .stdout,
    )
    .expect("json");
    assert!(
        json["articles"][0]["subject"]
            .as_str()
            .is_some_and(|s| s.contains("\u{1b}[2J")),
        "{json}"
    );
}

#[test]
fn deliver_with_bad_arguments_keeps_the_mail_queued() {
    let env = TestEnv::new("", "");
    let m = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Panne",
        "args@univ-lorraine.example",
        "",
    );
    // A mistyped master.cf line: Postfix bounces on any status but 75 (and the sysexits).
    for args in [
        &["deliver", "--recipeint=support-smsu@esup-portail.example"][..],
        &["deliver", "--offer", "SMSU", "--recipient", SMSU_ADDRESS],
    ] {
        let out = env.run(args, &m);
        assert_eq!(out.status.code(), Some(75), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("error:"), "{}", stderr(&out));
    }
    let help = env.run(&["deliver", "--help"], b"");
    assert_eq!(help.status.code(), Some(0));
    assert!(stdout(&help).contains("--recipient"));
    let other = env.run(&["tickets", "lisst"], b"");
    assert_eq!(other.status.code(), Some(2), "{}", stderr(&other));
}

#[test]
fn ticket_kind_prints_the_old_and_the_new_ref() {
    let env = TestEnv::new("", "");
    let m = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Ouverture de compte",
        "kind@univ-lorraine.example",
        "",
    );
    assert!(env.deliver("SMSU", &m).status.success());
    let args = ["ticket", "kind", "i-1", "request", "--offer", "SMSU"];
    let out = env.run(&args, b"");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "kind changed: I-000001 is now R-000001\n");

    let show = env.run(&["ticket", "show", "I-000001", "--offer", "SMSU"], b"");
    assert!(show.status.success(), "{}", stderr(&show));
    let text = stdout(&show);
    let head: Vec<&str> = text.lines().take(3).collect();
    assert_eq!(head[0], "[SMSU R-000001] Ouverture de compte", "{text}");
    assert_eq!(
        head[1], "kind request  status new  priority normal",
        "{text}"
    );
    assert_eq!(head[2], "formerly I-000001", "{text}");

    let again = env.run(
        &["ticket", "kind", "R-000001", "request", "--offer", "SMSU"],
        b"",
    );
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("R-000001: kind is already request"),
        "{}",
        stderr(&again)
    );
    let bad = env.run(
        &["ticket", "kind", "R-000001", "question", "--offer", "SMSU"],
        b"",
    );
    assert!(
        stderr(&bad).contains(
            "unknown ticket kind \"question\" (expected one of: incident, request, change)"
        ),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn ticket_show_prints_the_new_text_and_json_keeps_the_whole_body() {
    let env = TestEnv::new("", "");
    let m = "From: jeanne@univ-lorraine.example\r\nTo: support-smsu@esup-portail.example\r\n\
Subject: Re: Panne\r\nMessage-ID: <quoted@univ-lorraine.example>\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n\
C'est reparti, merci.\r\n\r\nLe 23 nov. 2026 à 09:00, Support <support-smsu@esup-portail.example> a écrit :\r\n\
> Pouvez-vous réessayer ?\r\n\r\n-- \r\nJeanne\r\n";
    let out = env.deliver("SMSU", m.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));

    let show = env.run(&["ticket", "show", "I-000001", "--offer", "SMSU"], b"");
    let text = stdout(&show);
    assert!(text.contains("C'est reparti, merci.\n"), "{text}");
    assert!(!text.contains("réessayer"), "{text}");
    assert!(text.contains("quoted text and signature hidden"), "{text}");

    let json: serde_json::Value = serde_json::from_slice(
        &env.run(
            &["ticket", "show", "I-000001", "--offer", "SMSU", "--json"],
            b"",
        )
        .stdout,
    )
    .expect("json");
    let article = &json["articles"][0];
    assert_eq!(article["new_text"], "C'est reparti, merci.", "{json}");
    assert!(
        article["body_text"]
            .as_str()
            .is_some_and(|b| b.contains("> Pouvez-vous réessayer ?")),
        "{json}"
    );
}
