//! `[[offers.mailboxes]]`: what a table reads into, its defaults, and each bad key named by
//! its path.

use super::*;

fn mailboxes(tables: &str) -> Vec<MailboxConfig> {
    ok(&format!("{BASE}{tables}\n"), &[]).offers[0]
        .mailboxes
        .clone()
}

const MINIMAL: &str = "[[offers.mailboxes]]\nhost = \"IMAP.Univ-Rennes.example\"\n\
                       user = \"support-smsu\"\npassword = \"s3cret\"\n";

#[test]
fn a_minimal_mailbox_gets_the_documented_defaults() {
    let m = &mailboxes(MINIMAL)[0];
    assert_eq!(m.name, "support-smsu@imap.univ-rennes.example/INBOX");
    assert_eq!(m.host, "imap.univ-rennes.example");
    assert_eq!((m.port, m.tls), (993, TlsMode::Implicit));
    assert!(matches!(&m.auth, ServerAuth::Login(p) if p.expose() == "s3cret"));
    assert_eq!(m.folder, "INBOX");
    assert_eq!(m.after, AfterCommit::Seen);
    assert_eq!(m.poll, Duration::from_secs(60));
    assert_eq!(m.idle_renew, Duration::from_secs(1500));
    assert_eq!(m.batch, 100);
    assert_eq!(m.ca_file, None);
    assert!(
        !format!("{m:?}").contains("s3cret"),
        "the password is redacted"
    );
}

#[test]
fn every_key_reads_into_the_mailbox() {
    let both = mailboxes(
        "[[offers.mailboxes]]\nname = \"smsu\"\nhost = \"127.0.0.1\"\nport = 10143\n\
         tls = \"plain\"\nuser = \"u\"\nauth = \"plain\"\npassword = \"p\"\nfolder = \"Support\"\n\
         after = \"move\"\nmove_to = \"Traités\"\npoll_secs = 5\nidle_renew_secs = 600\nbatch = 7\n\
         ca_file = \"ca.pem\"\n\
         [[offers.mailboxes]]\nhost = \"outlook.office365.com\"\ntls = \"starttls\"\nuser = \"v\"\n\
         auth = \"xoauth2\"\noauth2_token_command = \"cat /run/token\"\nafter = \"leave\"\n",
    );
    let (m, o) = (&both[0], &both[1]);
    assert_eq!(m.name, "smsu");
    assert_eq!((m.port, m.tls), (10143, TlsMode::Plain));
    assert!(matches!(&m.auth, ServerAuth::Plain(p) if p.expose() == "p"));
    assert_eq!(m.after, AfterCommit::Move("Traités".to_owned()));
    assert_eq!(
        (m.poll, m.idle_renew, m.batch),
        (Duration::from_secs(5), Duration::from_secs(600), 7)
    );
    assert_eq!(m.ca_file.as_deref(), Some(Path::new("ca.pem")));
    assert_eq!((o.port, o.tls), (143, TlsMode::StartTls));
    assert!(
        matches!(&o.auth, ServerAuth::XOAuth2(TokenSource::Command(c)) if c == "cat /run/token")
    );
    assert_eq!(o.after, AfterCommit::Leave);
}

#[test]
fn bad_mailbox_keys_are_named_by_path() {
    let m = "[[offers.mailboxes]]\nhost = \"imap.example\"\nuser = \"u\"\n";
    let cases = [
        (
            format!("{m}password = \"p\"\ntls = \"ssl\""),
            "offers[0].mailboxes[0].tls",
            "unknown tls mode \"ssl\"",
        ),
        (
            format!("{m}password = \"p\"\ntls = \"plain\""),
            "offers[0].mailboxes[0].tls",
            "plain IMAP would send the password in clear to imap.example",
        ),
        (
            m.to_owned(),
            "offers[0].mailboxes[0].password",
            "auth = \"login\" needs password or password_file",
        ),
        (
            format!("{m}auth = \"xoauth2\""),
            "offers[0].mailboxes[0].oauth2_token_file",
            "auth = \"xoauth2\" needs oauth2_token_file or oauth2_token_command",
        ),
        (
            format!("{m}auth = \"xoauth2\"\npassword = \"p\"\noauth2_token_file = \"t\""),
            "offers[0].mailboxes[0].password",
            "auth = \"xoauth2\" takes a token, not a password",
        ),
        (
            format!("{m}password = \"p\"\noauth2_token_file = \"t\""),
            "offers[0].mailboxes[0].oauth2_token_file",
            "only used with auth = \"xoauth2\"",
        ),
        (
            format!("{m}password = \"p\"\nauth = \"cram-md5\""),
            "offers[0].mailboxes[0].auth",
            "unknown auth mechanism \"cram-md5\"",
        ),
        (
            format!("{m}password = \"p\"\nafter = \"move\""),
            "offers[0].mailboxes[0].move_to",
            "after = \"move\" needs the folder to move to",
        ),
        (
            format!("{m}password = \"p\"\nmove_to = \"Archive\""),
            "offers[0].mailboxes[0].move_to",
            "only used with after = \"move\"",
        ),
        (
            format!("{m}password = \"p\"\nafter = \"delete\""),
            "offers[0].mailboxes[0].after",
            "unknown action \"delete\"",
        ),
        (
            format!("{m}password = \"p\"\nidle_renew_secs = 1800"),
            "offers[0].mailboxes[0].idle_renew_secs",
            "1800 s is too long",
        ),
        (
            format!("{m}password = \"p\"\nport = 70000"),
            "offers[0].mailboxes[0].port",
            "70000 is too large",
        ),
        (
            format!("{m}password = \"p\"\nbatch = 0"),
            "offers[0].mailboxes[0].batch",
            "must be positive",
        ),
        (
            format!("{m}password = \"p\"\nfolder = \"\""),
            "offers[0].mailboxes[0].folder",
            "must not be empty",
        ),
        (
            format!("{m}password = \"p\"\nhots = \"x\""),
            "offers[0].mailboxes[0].hots",
            "unknown key (did you mean host?)",
        ),
        (
            "[[offers.mailboxes]]\npassword = \"p\"\nuser = \"u\"".to_owned(),
            "offers[0].mailboxes[0].host",
            "missing required key",
        ),
        (
            format!("{m}password = \"p\"\n{m}password = \"q\""),
            "offers[0].mailboxes[1]",
            "\"u@imap.example:993/INBOX\" is already listed at offers[0].mailboxes[0]",
        ),
    ];
    for (tables, path, message) in cases {
        let found = errors(&format!("{BASE}{tables}\n"), &[]);
        assert_eq!(found.len(), 1, "{tables}: {found:#?}");
        assert_eq!(found[0].path, path, "{tables}");
        assert!(
            found[0].message.starts_with(message),
            "{tables}: {:?}",
            found[0].message
        );
    }
}

#[test]
fn check_config_describes_each_mailbox_without_its_secret() {
    let config = ok(
        &format!("{BASE}{MINIMAL}after = \"move\"\nmove_to = \"Traités\"\n"),
        &[],
    );
    let described = config.describe();
    assert!(
        described.contains(
            "    imap support-smsu@imap.univ-rennes.example/INBOX: \
             support-smsu@imap.univ-rennes.example:993 (implicit TLS), LOGIN, folder INBOX, \
             then move to Traités\n"
        ),
        "{described}"
    );
    assert!(!described.contains("s3cret"), "{described}");
}
