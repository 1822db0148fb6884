//! `mail.transport` and `[mail.smtp]`: what they read into, their defaults, and each bad key
//! named by its path.

use super::*;

fn transport(mail: &str) -> MailTransport {
    ok(&format!("{BASE}{mail}\n"), &[]).mail.transport
}

fn smtp(mail: &str) -> SmtpConfig {
    match transport(mail) {
        MailTransport::Smtp(smtp) => smtp,
        MailTransport::File => panic!("expected smtp for {mail}"),
    }
}

#[test]
fn the_file_transport_is_the_default() {
    assert!(matches!(transport(""), MailTransport::File));
    assert!(matches!(
        transport("[mail]\ntransport = \"file\""),
        MailTransport::File
    ));
}

#[test]
fn a_minimal_relay_gets_the_documented_defaults() {
    let s = smtp("[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"SMTP.Univ-Rennes.example\"");
    assert_eq!(s.host, "smtp.univ-rennes.example");
    assert_eq!((s.port, s.tls), (587, TlsMode::StartTls));
    assert!(s.login.is_none());
    assert_eq!(s.ca_file, None);
    assert_eq!((s.timeout, s.pool_size), (Duration::from_secs(30), 4));
}

#[test]
fn every_key_reads_into_the_relay() {
    let s = smtp(
        "[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"smtp.office365.com\"\n\
         user = \"support-smsu@esup-portail.example\"\nauth = \"xoauth2\"\n\
         oauth2_token_file = \"/run/guichet/token\"\nca_file = \"ca.pem\"\ntimeout_secs = 10\n\
         pool_size = 2\n",
    );
    assert_eq!((s.port, s.tls), (587, TlsMode::StartTls));
    assert!(matches!(
        &s.login,
        Some((user, ServerAuth::XOAuth2(TokenSource::File(p))))
            if user == "support-smsu@esup-portail.example" && p == Path::new("/run/guichet/token")
    ));
    assert_eq!(s.ca_file.as_deref(), Some(Path::new("ca.pem")));
    assert_eq!((s.timeout, s.pool_size), (Duration::from_secs(10), 2));
    let implicit = smtp(
        "[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"smtp.example\"\ntls = \"implicit\"\n\
         user = \"u\"\nauth = \"plain\"\npassword = \"s3cret\"",
    );
    assert_eq!((implicit.port, implicit.tls), (465, TlsMode::Implicit));
    assert!(matches!(&implicit.login, Some((_, ServerAuth::Plain(p))) if p.expose() == "s3cret"));
    let local =
        smtp("[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"127.0.0.1\"\ntls = \"plain\"");
    assert_eq!((local.port, local.tls), (25, TlsMode::Plain));
}

#[test]
fn bad_relay_keys_are_named_by_path() {
    let smtp = "[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"smtp.example\"\n";
    let cases = [
        (
            "[mail]\ntransport = \"sendmail\"".to_owned(),
            "mail.transport",
            "unknown transport \"sendmail\"",
        ),
        (
            "[mail]\ntransport = \"smtp\"".to_owned(),
            "mail.smtp",
            "transport = \"smtp\" needs a [mail.smtp] table",
        ),
        (
            "[mail.smtp]\nhost = \"smtp.example\"".to_owned(),
            "mail.smtp",
            "only used with transport = \"smtp\"",
        ),
        (
            format!("{smtp}tls = \"plain\""),
            "mail.smtp.tls",
            "plain SMTP would send the password in clear to smtp.example",
        ),
        (
            format!("{smtp}password = \"p\""),
            "mail.smtp.password",
            "only used with user",
        ),
        (
            format!("{smtp}user = \"u\""),
            "mail.smtp.password",
            "auth = \"login\" needs password or password_file",
        ),
        (
            format!("{smtp}user = \"u\"\nauth = \"xoauth2\""),
            "mail.smtp.oauth2_token_file",
            "auth = \"xoauth2\" needs oauth2_token_file or oauth2_token_command",
        ),
        (
            format!("{smtp}pool_size = 0"),
            "mail.smtp.pool_size",
            "must be positive",
        ),
        (
            format!("{smtp}port = 70000"),
            "mail.smtp.port",
            "70000 is too large",
        ),
        (
            format!("{smtp}hots = \"x\""),
            "mail.smtp.hots",
            "unknown key (did you mean host?)",
        ),
        (
            "[mail]\ntransport = \"smtp\"\n[mail.smtp]\nport = 25".to_owned(),
            "mail.smtp.host",
            "missing required key",
        ),
    ];
    for (mail, path, message) in cases {
        let found = errors(&format!("{BASE}{mail}\n"), &[]);
        assert_eq!(found.len(), 1, "{mail}: {found:#?}");
        assert_eq!(found[0].path, path, "{mail}");
        assert!(
            found[0].message.starts_with(message),
            "{mail}: {:?}",
            found[0].message
        );
    }
}

#[test]
fn check_config_describes_the_relay_without_its_secret() {
    let config = ok(
        &format!(
            "{BASE}[mail]\ntransport = \"smtp\"\n[mail.smtp]\nhost = \"smtp.example\"\n\
             user = \"u\"\npassword = \"s3cret\"\n"
        ),
        &[],
    );
    let described = config.describe();
    assert!(
        described.contains(
            "mail out: SMTP smtp.example:587 (STARTTLS), AUTH LOGIN as u, 4 connection(s), \
             timeout 30s\n"
        ),
        "{described}"
    );
    assert!(!described.contains("s3cret"), "{described}");
}
