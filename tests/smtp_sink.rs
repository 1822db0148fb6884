//! The SMTP sink of the mail-out tests (tests/common/smtp_sink.rs), checked with a plain lettre
//! client: what it receives, the replies it gives (550, 451, 530, 535), STARTTLS and SMTPS with
//! its test CA, XOAUTH2, and a stop and a start again. If these pass, a failing mail-out test
//! is about guichet, not about its server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed step is a failed test"
)]

mod common;

use std::time::Duration;

use common::smtp_sink::SmtpSink;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

const MESSAGE: &[u8] = b"From: support@example.test\r\nTo: alice@example.org\r\n\
Subject: sink check\r\nMessage-ID: <sink-check@example.test>\r\n\r\nHello from the test.\r\n";

/// [`MESSAGE`] as the sink stores it: lettre's `send_raw` ends DATA with `\r\n.\r\n` whatever
/// the message ends with, and the sink keeps every byte before the final dot.
fn as_received() -> Vec<u8> {
    [MESSAGE, b"\r\n"].concat()
}

fn envelope(from: &str, to: &[&str]) -> Envelope {
    Envelope::new(
        Some(from.parse().unwrap()),
        to.iter().map(|t| t.parse().unwrap()).collect(),
    )
    .unwrap()
}

/// TLS that trusts only the sink's test CA (the server is named by its IP, as guichet will).
fn tls_params(sink: &SmtpSink) -> TlsParameters {
    let ca = std::fs::read(&sink.ca_file).unwrap();
    TlsParameters::builder("127.0.0.1".into())
        .add_root_certificate(Certificate::from_pem(&ca).unwrap())
        .build_rustls()
        .unwrap()
}

/// A client on the plain port, no TLS, no AUTH.
fn plain(sink: &SmtpSink) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(sink.port)
        .timeout(Some(Duration::from_secs(10)))
        .build()
}

/// A client that must do STARTTLS and then logs in with `password` (PLAIN).
fn starttls_login(sink: &SmtpSink, password: &str) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(sink.port)
        .tls(Tls::Required(tls_params(sink)))
        .credentials(Credentials::new("guichet".into(), password.into()))
        .authentication(vec![Mechanism::Plain])
        .timeout(Some(Duration::from_secs(10)))
        .build()
}

/// A client on the plain port that logs in with XOAUTH2 and `token`.
fn xoauth2(sink: &SmtpSink, token: &str) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(sink.port)
        .credentials(Credentials::new(
            "support@example.test".into(),
            token.into(),
        ))
        .authentication(vec![Mechanism::Xoauth2])
        .timeout(Some(Duration::from_secs(10)))
        .build()
}

#[tokio::test]
async fn message_sent_arrives_with_its_envelope_and_bytes() {
    let sink = SmtpSink::start();
    let env = envelope(
        "bounce@example.test",
        &["alice@example.org", "bob@example.org"],
    );
    plain(&sink).send_raw(&env, MESSAGE).await.unwrap();

    let got = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].mail_from, "bounce@example.test");
    assert_eq!(got[0].rcpt_tos, ["alice@example.org", "bob@example.org"]);
    assert_eq!(got[0].auth, None);
    assert_eq!(
        got[0].raw,
        as_received(),
        "the message as sent, no X-Sink-* lines"
    );
}

#[tokio::test]
async fn refuse_recipient_gets_a_permanent_550() {
    let sink = SmtpSink::start();
    let env = envelope("bounce@example.test", &["refuse-me@example.org"]);
    let err = plain(&sink).send_raw(&env, MESSAGE).await.unwrap_err();
    assert!(err.is_permanent(), "550 is permanent: {err}");
    assert_eq!(err.status().map(|c| c.to_string()), Some("550".into()));
    assert!(sink.messages().is_empty(), "nothing accepted");
}

#[tokio::test]
async fn later_recipient_gets_a_transient_451() {
    let sink = SmtpSink::start();
    let env = envelope("bounce@example.test", &["later-please@example.org"]);
    let err = plain(&sink).send_raw(&env, MESSAGE).await.unwrap_err();
    assert!(err.is_transient(), "451 is transient: {err}");
    assert_eq!(err.status().map(|c| c.to_string()), Some("451".into()));
    assert!(sink.messages().is_empty(), "nothing accepted");
}

#[tokio::test]
async fn required_auth_refuses_anonymous_and_wrong_password_and_takes_the_right_one_over_starttls()
{
    let sink = SmtpSink::start_with(&[("SINK_REQUIRE_AUTH", "1")]);
    let env = envelope("support@example.test", &["alice@example.org"]);

    let anonymous = plain(&sink).send_raw(&env, MESSAGE).await.unwrap_err();
    assert_eq!(
        anonymous.status().map(|c| c.to_string()),
        Some("530".into()),
        "MAIL FROM before AUTH: {anonymous}"
    );
    let wrong = starttls_login(&sink, "not-the-password")
        .send_raw(&env, MESSAGE)
        .await
        .unwrap_err();
    assert_eq!(
        wrong.status().map(|c| c.to_string()),
        Some("535".into()),
        "wrong password: {wrong}"
    );
    assert!(
        sink.messages().is_empty(),
        "nothing accepted before a login"
    );

    starttls_login(&sink, &sink.password)
        .send_raw(&env, MESSAGE)
        .await
        .unwrap();
    let got = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].auth.as_deref(), Some("guichet"));
    assert_eq!(got[0].rcpt_tos, ["alice@example.org"]);
}

#[tokio::test]
async fn smtps_port_takes_mail_over_implicit_tls() {
    let sink = SmtpSink::start();
    let client = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(sink.tls_port)
        .tls(Tls::Wrapper(tls_params(&sink)))
        .credentials(Credentials::new("guichet".into(), sink.password.clone()))
        .timeout(Some(Duration::from_secs(10)))
        .build();
    let env = envelope("support@example.test", &["alice@example.org"]);
    client.send_raw(&env, MESSAGE).await.unwrap();
    let got = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].auth.as_deref(), Some("guichet"));
}

#[tokio::test]
async fn xoauth2_takes_the_right_token_and_refuses_another_with_535() {
    let sink = SmtpSink::start_with(&[
        ("SINK_REQUIRE_AUTH", "1"),
        ("SINK_OAUTH2_TOKEN", "ya29.test-token"),
    ]);
    let env = envelope("support@example.test", &["alice@example.org"]);

    let err = xoauth2(&sink, "ya29.expired")
        .send_raw(&env, MESSAGE)
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "a refused token is permanent: {err}");
    assert_eq!(err.status().map(|c| c.to_string()), Some("535".into()));

    xoauth2(&sink, "ya29.test-token")
        .send_raw(&env, MESSAGE)
        .await
        .unwrap();
    let got = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].auth.as_deref(), Some("support@example.test"));
}

#[tokio::test]
async fn stopped_sink_refuses_connections_and_started_again_keeps_earlier_mail() {
    let sink = SmtpSink::start();
    let env = envelope("support@example.test", &["alice@example.org"]);
    plain(&sink).send_raw(&env, MESSAGE).await.unwrap();

    sink.stop();
    let down = plain(&sink).send_raw(&env, MESSAGE).await.unwrap_err();
    assert!(
        down.to_string().to_lowercase().contains("refused"),
        "a stopped server refuses the connection: {down}"
    );
    assert!(
        down.status().is_none(),
        "no SMTP reply from a server that is down"
    );

    sink.start_again();
    plain(&sink).send_raw(&env, MESSAGE).await.unwrap();
    let got = sink.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(
        got.len(),
        2,
        "the message from before the stop is still listed"
    );
    assert!(got.iter().all(|m| m.raw == as_received()));
}
