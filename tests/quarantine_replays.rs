//! Every replay of a quarantined message is kept with its outcome: a second replay does not
//! overwrite what the first one did. In process on both backends; `quarantine show` through
//! the binary, which prints them all, oldest first.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use common::app::App;
use common::{SMSU_ADDRESS, TestEnv, mail};
use guichet::domain::QuarantineId;
use guichet::service::ingest::IngestOutcome;

/// Over a 2000-byte limit by its header alone, with no body: such a message is kept whole in
/// the quarantine, so raising the limit and replaying takes it in. (A message over the limit
/// by its body keeps only its header and cannot be replayed: tests/attachments.rs.)
fn big() -> Vec<u8> {
    let mut m = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Trop gros",
        "big@univ-lorraine.example",
        &format!("X-Padding: {}\r\n", "x".repeat(3000)),
    );
    let end = m
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header")
        + 4;
    m.truncate(end);
    m
}

async fn a_second_replay_keeps_the_first_outcome(mut app: App) {
    app.reconfigure(|s| s.daemon = "max_message_bytes = 2000".into())
        .await;
    let outcome = app.ingest("SMSU", &big()).await;
    assert!(
        matches!(
            outcome,
            IngestOutcome::Quarantined {
                id: QuarantineId(1),
                ..
            }
        ),
        "{outcome:?}"
    );
    // Replayed under the same limit: quarantined again. Then the limit is raised: taken in.
    let outcome = app.replay("SMSU", QuarantineId(1)).await;
    assert!(
        matches!(
            outcome,
            IngestOutcome::Quarantined {
                id: QuarantineId(1),
                ..
            }
        ),
        "{outcome:?}"
    );
    app.reconfigure(|s| s.daemon = "max_message_bytes = 100000".into())
        .await;
    let outcome = app.replay("SMSU", QuarantineId(1)).await;
    assert!(
        matches!(&outcome, IngestOutcome::Created { ticket, .. } if ticket.to_string() == "I-000001"),
        "{outcome:?}"
    );

    let listed = app.quarantine("SMSU").await;
    assert_eq!(listed.len(), 1);
    let replays: Vec<&str> = listed[0]
        .replays
        .iter()
        .map(|r| r.outcome.as_str())
        .collect();
    assert_eq!(replays, ["quarantined again as 1", "created I-000001"]);
    assert_eq!(
        listed[0].replay_outcome.as_deref(),
        Some("created I-000001")
    );
}

on_both_backends!(a_second_replay_keeps_the_first_outcome);

#[test]
fn quarantine_show_lists_every_replay_oldest_first() {
    let env = TestEnv::new("max_message_bytes = 2000", "");
    let out = env.deliver("SMSU", &big());
    assert!(out.status.success());
    let replay = || {
        let out = env.run(&["quarantine", "replay", "1", "--offer", "SMSU"], b"");
        assert!(
            out.status.success(),
            "replay: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(replay().contains("quarantined #1"));
    let config = std::fs::read_to_string(&env.config).expect("read config");
    std::fs::write(
        &env.config,
        config.replace("max_message_bytes = 2000", "max_message_bytes = 100000"),
    )
    .expect("raise the limit");
    assert!(replay().contains("I-000001"));
    let shown = env.run(&["quarantine", "show", "1", "--offer", "SMSU"], b"");
    let shown = String::from_utf8_lossy(&shown.stdout);
    let lines: Vec<&str> = shown
        .lines()
        .filter(|l| l.starts_with("replayed "))
        .collect();
    assert_eq!(lines.len(), 2, "{shown}");
    assert!(lines[0].ends_with("quarantined again as 1"), "{shown}");
    assert!(lines[1].ends_with("created I-000001"), "{shown}");
    let listed = env.json(&["quarantine", "list", "--offer", "SMSU", "--json"]);
    assert_eq!(
        listed[0]["replays"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
}
