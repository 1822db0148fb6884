//! `[mail]`'s `transport` and `[mail.smtp]`: how outbound mail leaves. Each key is checked
//! here and every problem goes to the [`Report`] like the rest of the file; a password file
//! is read now, an OAuth2 token file only when sending (a refresher rewrites it).
//!
//! Plain-text SMTP is refused unless the relay is on the machine itself (a local Postfix),
//! as for IMAP: credentials never cross a network in clear.

use std::path::Path;
use std::time::Duration;

use super::checks::non_empty;
use super::cursor::{Fields, Node, Report};
use super::defaults;
use super::mailboxes::{parse_host, read_auth, read_tls};
use super::{MailTransport, SmtpConfig, TlsMode};

/// `mail.transport` and, for `smtp`, the `[mail.smtp]` table `smtp` (read either way, so
/// that its keys are checked, and reported when the transport does not use them).
pub(super) fn read_transport(
    transport: Option<Node<'_>>,
    smtp: Fields<'_>,
    credentials: Option<&Path>,
    r: &mut Report,
) -> Option<MailTransport> {
    let word = match &transport {
        Some(n) => n.parse(r, |s| match s {
            "file" | "smtp" => Ok(s.to_owned()),
            _ => Err(format!("unknown transport {s:?} (expected file or smtp)")),
        })?,
        None => defaults::MAIL_TRANSPORT.to_owned(),
    };
    match (word.as_str(), smtp.table.is_some()) {
        ("smtp", true) => read_smtp(smtp, credentials, r).map(MailTransport::Smtp),
        ("smtp", false) => {
            r.error(
                &smtp.path,
                "transport = \"smtp\" needs a [mail.smtp] table with at least host",
            );
            None
        }
        (_, true) => {
            r.error(
                &smtp.path,
                "only used with transport = \"smtp\" (the transport is \"file\")",
            );
            None
        }
        _ => Some(MailTransport::File),
    }
}

fn read_smtp(mut t: Fields<'_>, credentials: Option<&Path>, r: &mut Report) -> Option<SmtpConfig> {
    let host = t.need("host", r).and_then(|n| n.parse(r, parse_host));
    let tls = read_tls(&mut t, (host.as_deref(), defaults::SMTP_TLS), "SMTP", r);
    let port = match t.get("port") {
        Some(n) => n.positive_as::<u16>(r),
        None => tls.map(|tls| match tls {
            TlsMode::Implicit => defaults::SMTPS_PORT,
            TlsMode::StartTls => defaults::SUBMISSION_PORT,
            TlsMode::Plain => defaults::SMTP_PORT,
        }),
    };
    let user = t.get("user").map(|n| n.parse(r, non_empty));
    let login = match user {
        // Without a user, the relay takes mail without a login (a Postfix on this machine, or
        // one that trusts our address): no secret may be given then.
        None => {
            for key in [
                "auth",
                "password",
                "password_file",
                "oauth2_token_file",
                "oauth2_token_command",
            ] {
                if let Some(n) = t.get(key) {
                    r.error(&n.path, "only used with user (the login name)");
                }
            }
            Some(None)
        }
        Some(user) => {
            let auth = read_auth(&mut t, credentials, r);
            user.zip(auth).map(Some)
        }
    };
    let ca_file = t.get("ca_file").and_then(|n| n.path_buf(r));
    let timeout = t
        .get("timeout_secs")
        .map_or(Some(defaults::SMTP_TIMEOUT_SECS), |n| n.positive(r));
    let pool_size = t
        .get("pool_size")
        .map_or(Some(defaults::SMTP_POOL_SIZE), |n| n.positive_as::<u32>(r));
    t.finish(r);
    Some(SmtpConfig {
        host: host?,
        port: port?,
        tls: tls?,
        login: login?,
        ca_file,
        timeout: Duration::from_secs(timeout?),
        pool_size: pool_size?,
    })
}
