//! When the store cannot be opened, the error says what to fix: the SQLite file or directory
//! that is not writable, whose it is and who we run as; the PostgreSQL address that refused
//! the connection, at once rather than "pool timed out" after the acquire timeout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: an unexpected error fails the test, loudly"
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{SMSU_ADDRESS, TestEnv, mail};
use guichet::store::{Database, Options, Store};

const EX_TEMPFAIL: i32 = 75;

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// A store made by root (`guichet migrate` run as root, as the sysadmin did), used by
/// an unprivileged pipe user: `nobody`.
fn root_made_store() -> TestEnv {
    let uid = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .expect("our uid");
    assert_eq!(
        uid, 0,
        "this test runs guichet as another user (runuser -u nobody), which needs root"
    );
    let env = TestEnv::new("", "");
    let out = env.run(&["migrate"], b"");
    assert!(
        out.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // nobody may read the configuration and traverse to the data directory, no more.
    chmod(env.dir.path(), 0o755);
    chmod(&env.config, 0o644);
    env
}

fn deliver_as_nobody(env: &TestEnv) -> Output {
    use std::io::Write;
    let binary = env.dir.path().join("guichet");
    common::place_binary(&binary);
    let mut child = Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(&binary)
        .arg("--config")
        .arg(&env.config)
        .args(["deliver", "--offer", "SMSU"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn runuser");
    let raw = mail(
        "jeanne@univ-lorraine.example",
        SMSU_ADDRESS,
        "Panne",
        "readonly@univ-lorraine.example",
        "",
    );
    let mut stdin = child.stdin.take().expect("stdin");
    // A refused write (the child quit early) shows in its exit status.
    let _ = stdin.write_all(&raw);
    drop(stdin);
    child.wait_with_output().expect("wait guichet")
}

#[test]
fn a_read_only_sqlite_file_is_named_with_its_owner() {
    let env = root_made_store();
    let db = env.data().join("guichet.db");
    assert!(db.is_file(), "migrate made {}", db.display());
    let out = deliver_as_nobody(&env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EX_TEMPFAIL), "{stderr}");
    for expected in [
        format!("the database file {} is not writable", db.display()),
        "by uid 65534 (nobody)".to_owned(),
        "belongs to uid 0 (root) with mode 644".to_owned(),
    ] {
        assert!(stderr.contains(&expected), "{expected:?} missing: {stderr}");
    }
}

#[test]
fn a_read_only_sqlite_directory_is_named_with_its_owner() {
    let env = root_made_store();
    // The file itself is writable; its directory, where SQLite makes -wal and -shm, is not.
    for entry in std::fs::read_dir(env.data()).expect("data dir").flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("guichet.db")
        {
            chmod(&entry.path(), 0o666);
        }
    }
    let out = deliver_as_nobody(&env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EX_TEMPFAIL), "{stderr}");
    let expected = format!(
        "the database directory {} is not writable by uid 65534 (nobody): it belongs to uid 0 (root)",
        env.data().display()
    );
    assert!(stderr.contains(&expected), "{expected:?} missing: {stderr}");
}

#[test]
fn a_wal_file_left_by_root_is_named_with_its_owner() {
    let env = root_made_store();
    // The database and its directory are writable by all; a `-wal` file root left is not.
    chmod(&env.data(), 0o777);
    let db = env.data().join("guichet.db");
    chmod(&db, 0o666);
    let wal = env.data().join("guichet.db-wal");
    std::fs::write(&wal, b"").expect("write -wal");
    chmod(&wal, 0o644);
    let out = deliver_as_nobody(&env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EX_TEMPFAIL), "{stderr}");
    let expected = format!(
        "the database's WAL file {} is not writable by uid 65534 (nobody): it belongs to uid 0 (root)",
        wal.display()
    );
    assert!(stderr.contains(&expected), "{expected:?} missing: {stderr}");
}

#[tokio::test]
async fn a_refused_postgres_connection_says_so_at_once() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let options = Options {
        database: Database::Postgres {
            url: format!("postgres://guichet@127.0.0.1:{port}/guichet"),
            password: None,
        },
        max_connections: 2,
        connect_timeout: Duration::from_secs(5),
    };
    let started = Instant::now();
    let err = match Store::connect(&options).await {
        Ok(_) => panic!("connected to a closed port"),
        Err(e) => e,
    };
    println!("refused in {:?}: {}", started.elapsed(), err.detail());
    assert!(err.is_transient());
    assert!(
        err.to_string()
            .contains(&format!("connection refused to 127.0.0.1:{port}")),
        "{}",
        err.detail()
    );
    assert!(!err.detail().contains("pool timed out"), "{}", err.detail());
}
