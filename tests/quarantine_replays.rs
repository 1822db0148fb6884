//! Every replay of a quarantined message is kept with its outcome: a second replay does not
//! overwrite what the first one did (`quarantine list --json` shows them all, oldest first).

mod common;

use common::{SMSU_ADDRESS, TestEnv, mail};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn replay(env: &TestEnv) -> String {
    let out = env.run(&["quarantine", "replay", "1", "--offer", "SMSU"], b"");
    assert!(out.status.success(), "replay: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn replays_are_kept(storage: &str) {
    let env = TestEnv::new("max_message_bytes = 2000", storage);
    let big = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Trop gros",
        "big@univ-lorraine.example",
        &format!("X-Padding: {}\r\n", "x".repeat(3000)),
    );
    let out = env.deliver("SMSU", &big);
    assert!(stderr(&out).contains("quarantined #1"), "{}", stderr(&out));

    // Replayed under the same limit: quarantined again. Then the limit is raised: taken in.
    assert!(replay(&env).contains("quarantined #1"));
    let config = std::fs::read_to_string(&env.config).expect("read config");
    std::fs::write(
        &env.config,
        config.replace("max_message_bytes = 2000", "max_message_bytes = 100000"),
    )
    .expect("raise the limit");
    assert!(replay(&env).contains("I-000001"));

    let listed = env.json(&["quarantine", "list", "--offer", "SMSU", "--json"]);
    let replays: Vec<&str> = listed[0]["replays"]
        .as_array()
        .unwrap_or_else(|| panic!("no replays in {listed}"))
        .iter()
        .map(|r| r["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        replays,
        ["quarantined again as 1", "created I-000001"],
        "{listed}"
    );
    assert_eq!(listed[0]["replay_outcome"], "created I-000001");
    let shown = env.run(&["quarantine", "show", "1", "--offer", "SMSU"], b"");
    let shown = String::from_utf8_lossy(&shown.stdout);
    let lines: Vec<&str> = shown
        .lines()
        .filter(|l| l.starts_with("replayed "))
        .collect();
    assert_eq!(lines.len(), 2, "{shown}");
    assert!(lines[0].ends_with("quarantined again as 1"), "{shown}");
    assert!(lines[1].ends_with("created I-000001"), "{shown}");
}

#[test]
fn a_second_replay_keeps_the_first_outcome_on_sqlite() {
    replays_are_kept("");
}

#[test]
fn a_second_replay_keeps_the_first_outcome_on_postgres() {
    let dsn = common::fresh_pg_database();
    replays_are_kept(&format!("[storage]\ndsn = \"{dsn}\""));
}
