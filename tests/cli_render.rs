//! `guichet render`, through the binary: an operator previews any notification in either
//! language with the offer's real name and address, as text, HTML or the whole message, and
//! a mistyped event or locale is told which ones exist.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use common::{GEFORP_ADDRESS, SMSU_ADDRESS, Setup, TestEnv};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `guichet render ARGS`, which must succeed, and returns what it printed.
fn render(env: &TestEnv, args: &[&str]) -> String {
    let mut all = vec!["render"];
    all.extend_from_slice(args);
    let out = env.run(&all, b"");
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn every_event_renders_in_both_languages_with_the_offers_name() {
    let env = TestEnv::new("", "");
    let events = [
        "ticket_created",
        "new_ticket",
        "agent_reply",
        "requester_reply",
        "status_changed",
        "assigned",
        "sla_warning",
        "sla_breach",
        "escalated",
        "daily_digest",
        "sender_refused",
    ];
    for event in events {
        for locale in ["fr", "en"] {
            let text = render(&env, &[event, "--offer", "GEFORP", "--locale", locale]);
            assert!(text.starts_with("Subject: "), "{event} {locale}: {text}");
            assert!(
                text.contains("Catalogue de formation")
                    || text.contains("[GEFORP")
                    || event == "agent_reply",
                "{event} {locale}: {text}"
            );
            assert!(!text.contains("SMSU"), "{event} {locale}: {text}");
            let html = render(
                &env,
                &[
                    event, "--offer", "GEFORP", "--locale", locale, "--format", "html",
                ],
            );
            assert!(html.starts_with("<!DOCTYPE html>"), "{event} {locale}");
            assert!(
                html.contains(&format!("<html lang=\"{locale}\">")),
                "{event}"
            );
        }
    }
}

#[test]
fn text_preview_shows_the_subject_then_the_text_part() {
    let env = TestEnv::new("", "");
    let text = render(&env, &["new_ticket", "--offer", "SMSU", "--locale", "en"]);
    assert!(
        text.starts_with(
            "Subject: [SMSU I-000042] New request: Les SMS ne partent plus\n\nHello Bruno Lefèvre,\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!("SMS Universitaire support - {SMSU_ADDRESS}\n")),
        "{text}"
    );
}

#[test]
fn locale_defaults_to_the_offers() {
    let env = TestEnv::with(Setup {
        smsu: "locale = \"en\"".to_owned(),
        ..Setup::default()
    });
    let text = render(&env, &["assigned", "--offer", "SMSU"]);
    assert!(text.contains("Request assigned to you"), "{text}");
    let text = render(&env, &["assigned", "--offer", "GEFORP"]);
    assert!(text.contains("Demande qui vous est attribuée"), "{text}");
}

#[test]
fn eml_is_the_whole_message_with_our_headers() {
    let env = TestEnv::new("", "");
    let eml = render(
        &env,
        &[
            "sla_warning",
            "--offer",
            "GEFORP",
            "--locale",
            "fr",
            "--format",
            "eml",
        ],
    );
    let (headers, _) = eml.split_once("\r\n\r\n").expect("headers and body");
    for header in [
        format!("From: \"Catalogue de formation\" <{GEFORP_ADDRESS}>"),
        "Auto-Submitted: auto-generated".to_owned(),
        "Message-ID: <".to_owned(),
        "Content-Type: multipart/alternative".to_owned(),
        "Subject: [GEFORP I-000042] =?utf-8?".to_owned(),
        "To: =?utf-8?b?QnJ1bm8gTGVmw6h2cmU=?= <bruno.lefevre@esup-portail.org>".to_owned(),
    ] {
        assert!(headers.contains(&header), "{header:?} in {headers}");
    }
    assert!(eml.contains("Content-Type: text/plain"), "{eml}");
    assert!(eml.contains("Content-Type: text/html"), "{eml}");

    let eml = render(&env, &["agent_reply", "--offer", "SMSU", "--format", "eml"]);
    assert!(!eml.contains("Auto-Submitted"), "{eml}");
}

#[test]
fn unknown_event_or_locale_lists_the_valid_ones() {
    let env = TestEnv::new("", "");
    let out = env.run(&["render", "ticket_closed", "--offer", "SMSU"], b"");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("unknown event \"ticket_closed\" (events: ticket_created, new_ticket,"),
        "{err}"
    );
    assert!(err.contains("daily_digest"), "{err}");

    let out = env.run(
        &["render", "assigned", "--offer", "SMSU", "--locale", "de"],
        b"",
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unknown locale \"de\" (locales: fr, en)"),
        "{}",
        stderr(&out)
    );

    let out = env.run(&["render", "assigned", "--offer", "NOPE"], b"");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unknown offer \"NOPE\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn preview_uses_the_override_directory() {
    let dir = tempfile::tempdir().unwrap();
    let partial = dir.path().join("partials/en/signature.txt.hbs");
    std::fs::create_dir_all(partial.parent().unwrap()).unwrap();
    std::fs::write(&partial, "-- \nThe {{offer.code}} desk\n").unwrap();
    let env = TestEnv::with(Setup {
        mail: format!("templates_dir = \"{}\"\n", dir.path().display()),
        ..Setup::default()
    });
    let text = render(&env, &["escalated", "--offer", "SMSU", "--locale", "en"]);
    assert!(text.ends_with("-- \nThe SMSU desk\n"), "{text}");
}

/// Writes `source` at `relative` under `dir`, making its folders.
fn write_template(dir: &std::path::Path, relative: &str, source: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, source).unwrap();
}

#[test]
fn offers_own_override_wins_and_other_offers_keep_theirs() {
    let global = tempfile::tempdir().unwrap();
    let smsu = tempfile::tempdir().unwrap();
    write_template(
        global.path(),
        "partials/fr/signature.txt.hbs",
        "-- \nLe guichet {{offer.code}}\n",
    );
    write_template(
        smsu.path(),
        "assigned/fr/subject.txt.hbs",
        "{{ticket.tag}} pour vous, {{assignee.name}}\n",
    );
    let env = TestEnv::with(Setup {
        mail: format!("templates_dir = \"{}\"\n", global.path().display()),
        smsu: format!("templates_dir = \"{}\"\n", smsu.path().display()),
        ..Setup::default()
    });
    let text = render(&env, &["assigned", "--offer", "SMSU"]);
    assert!(
        text.starts_with("Subject: [SMSU I-000042] pour vous, Bruno Lefèvre\n"),
        "{text}"
    );
    assert!(
        text.ends_with("-- \nLe guichet SMSU\n"),
        "global under the offer's: {text}"
    );
    let text = render(&env, &["assigned", "--offer", "GEFORP"]);
    assert!(!text.contains("pour vous"), "{text}");
    assert!(text.ends_with("-- \nLe guichet GEFORP\n"), "{text}");
    let built_in = TestEnv::new("", "");
    let plain = render(&built_in, &["assigned", "--offer", "GEFORP"]);
    assert_eq!(
        text.lines().next(),
        plain.lines().next(),
        "GEFORP keeps the built-in subject"
    );
}

#[test]
fn broken_override_of_one_offer_refuses_start_naming_the_file() {
    let smsu = tempfile::tempdir().unwrap();
    write_template(
        smsu.path(),
        "new_ticket/en/body.txt.hbs",
        "{{author.nickname}} wrote\n",
    );
    let env = TestEnv::with(Setup {
        smsu: format!("templates_dir = \"{}\"\n", smsu.path().display()),
        ..Setup::default()
    });
    let file = smsu.path().join("new_ticket/en/body.txt.hbs");
    for args in [&["check-config"][..], &["run"]] {
        let out = env.run(args, b"");
        assert!(!out.status.success(), "{args:?} started");
        let err = stderr(&out);
        assert!(err.contains("offer SMSU"), "{args:?}: {err}");
        assert!(err.contains(&file.display().to_string()), "{args:?}: {err}");
    }
}
