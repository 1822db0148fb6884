//! `[[offers.mailboxes]]`: the IMAP mailboxes an offer reads. Each key is checked here, and
//! every problem goes to the [`Report`] like the rest of the file; the secrets named are read
//! (a password file, an OAuth2 token file is only checked at connect: a refresher rewrites it).
//!
//! Plain-text IMAP is refused unless the server is on the machine itself: a password or a
//! token must never cross a network in clear.

use std::path::Path;
use std::time::Duration;

use super::checks::non_empty;
use super::cursor::{Fields, Report, Unique, child};
use super::defaults;
use super::schema::read_secret;
use super::{AfterCommit, MailboxConfig, ServerAuth, TlsMode, TokenSource};

/// IMAP servers may drop an idle client after 30 minutes (RFC 3501 section 5.4); RFC 2177 asks
/// clients to re-issue IDLE at least every 29.
const MAX_IDLE_RENEW_SECS: u64 = 29 * 60;

/// Reads the mailboxes of one offer. `names` and `sources` are shared by all offers: a name
/// is unique in the whole file, and two offers reading one mailbox would take each other's
/// mail.
pub(super) fn read_mailboxes(
    tables: Vec<Fields<'_>>,
    credentials: Option<&Path>,
    (names, sources): (&mut Unique, &mut Unique),
    r: &mut Report,
) -> Vec<MailboxConfig> {
    let mut mailboxes = Vec::new();
    for mut t in tables {
        let host = t.need("host", r).and_then(|n| n.parse(r, parse_host));
        let tls = read_tls(&mut t, (host.as_deref(), defaults::IMAP_TLS), "IMAP", r);
        let port = match t.get("port") {
            Some(n) => n.positive_as::<u16>(r),
            None => Some(match tls {
                Some(TlsMode::Implicit) => defaults::IMAPS_PORT,
                _ => defaults::IMAP_PORT,
            }),
        };
        let user = t.need("user", r).and_then(|n| n.parse(r, non_empty));
        let auth = read_auth(&mut t, credentials, r);
        let ca_file = t.get("ca_file").and_then(|n| n.path_buf(r));
        let folder = t
            .get("folder")
            .map_or(Some(defaults::IMAP_FOLDER.to_owned()), |n| {
                n.parse(r, non_empty)
            });
        let after = read_after(&mut t, r);
        let poll = t
            .get("poll_secs")
            .map_or(Some(defaults::IMAP_POLL_SECS), |n| n.positive(r));
        let idle_renew =
            t.get("idle_renew_secs")
                .map_or(Some(defaults::IMAP_IDLE_RENEW_SECS), |n| {
                    let secs = n.positive(r)?;
                    if secs >= MAX_IDLE_RENEW_SECS {
                        r.error(
                            &n.path,
                            format!(
                                "{secs} s is too long: servers may log an idle client out after 30 \
                             minutes, so IDLE is re-issued before {MAX_IDLE_RENEW_SECS} s"
                            ),
                        );
                        return None;
                    }
                    Some(secs)
                });
        let batch = t
            .get("batch")
            .map_or(Some(defaults::IMAP_BATCH), |n| n.positive_as::<usize>(r));
        let name_node = t.get("name");
        let name = match (&name_node, &host, &user, &folder) {
            (Some(n), ..) => n.parse(r, non_empty),
            (None, Some(host), Some(user), Some(folder)) => Some(format!("{user}@{host}/{folder}")),
            _ => None,
        };
        // The same mailbox twice is one error, not also a clash of their default names.
        let source_ok = match (&host, port, &user, &folder) {
            (Some(host), Some(port), Some(user), Some(folder)) => {
                sources.claim(&format!("{user}@{host}:{port}/{folder}"), &t.path, r)
            }
            _ => true,
        };
        if let Some(name) = name.as_ref().filter(|_| source_ok) {
            let path = name_node
                .as_ref()
                .map_or_else(|| child(&t.path, "name"), |n| n.path.clone());
            names.claim(name, &path, r);
        }
        t.finish(r);
        let (
            Some(name),
            Some(host),
            Some(port),
            Some(tls),
            Some(user),
            Some(auth),
            Some(folder),
            Some(after),
            Some(poll),
            Some(idle_renew),
            Some(batch),
        ) = (
            name, host, port, tls, user, auth, folder, after, poll, idle_renew, batch,
        )
        else {
            continue;
        };
        mailboxes.push(MailboxConfig {
            name,
            host,
            port,
            tls,
            user,
            auth,
            ca_file,
            folder,
            after,
            poll: Duration::from_secs(poll),
            idle_renew: Duration::from_secs(idle_renew),
            batch,
        });
    }
    mailboxes
}

/// `tls` (`default` when absent), refused as `plain` unless `host` is this machine: a
/// password or a token must never cross a network in clear. `protocol` names the server in
/// the message.
pub(super) fn read_tls(
    t: &mut Fields<'_>,
    (host, default): (Option<&str>, TlsMode),
    protocol: &str,
    r: &mut Report,
) -> Option<TlsMode> {
    let tls = t.get("tls").map_or(Some(default), |n| {
        n.parse(r, |s| match s {
            "implicit" => Ok(TlsMode::Implicit),
            "starttls" => Ok(TlsMode::StartTls),
            "plain" => Ok(TlsMode::Plain),
            _ => Err(format!(
                "unknown tls mode {s:?} (expected implicit, starttls or plain)"
            )),
        })
    });
    if let (Some(host), Some(TlsMode::Plain)) = (host, tls)
        && !is_loopback(host)
    {
        r.error(
            &child(&t.path, "tls"),
            format!(
                "plain {protocol} would send the password in clear to {host}: only a server on \
                 this machine (127.0.0.1, ::1, localhost) may be reached without TLS"
            ),
        );
    }
    tls
}

/// `auth` and the secret it needs: a password for `login` and `plain`, a token file or
/// command for `xoauth2`, and nothing else.
pub(super) fn read_auth(
    t: &mut Fields<'_>,
    credentials: Option<&Path>,
    r: &mut Report,
) -> Option<ServerAuth> {
    let mechanism = t.get("auth").map_or(Some("login".to_owned()), |n| {
        n.parse(r, |s| match s {
            "login" | "plain" | "xoauth2" => Ok(s.to_owned()),
            _ => Err(format!(
                "unknown auth mechanism {s:?} (expected login, plain or xoauth2)"
            )),
        })
    });
    // Every key is asked for before a bad mechanism ends the reading: none is reported
    // unknown for it.
    let password = read_secret(t, ("password", "password_file"), credentials, 1, r);
    let token_file = t.get("oauth2_token_file");
    let token_command = t.get("oauth2_token_command");
    let mechanism = mechanism?;
    let path = t.path.clone();
    if mechanism == "xoauth2" {
        if password.is_some() {
            r.error(
                &child(&path, "password"),
                "auth = \"xoauth2\" takes a token, not a password: remove the password",
            );
        }
        let source = match (token_file, token_command) {
            (Some(file), None) => file.path_buf(r).map(|p| {
                TokenSource::File(match credentials {
                    Some(dir) if p.is_relative() => dir.join(p),
                    _ => p,
                })
            }),
            (None, Some(command)) => command.parse(r, non_empty).map(TokenSource::Command),
            (Some(_), Some(command)) => {
                r.error(
                    &command.path,
                    "oauth2_token_file is also set: keep one of the two",
                );
                None
            }
            (None, None) => {
                r.error(
                    &child(&path, "oauth2_token_file"),
                    "auth = \"xoauth2\" needs oauth2_token_file or oauth2_token_command",
                );
                None
            }
        };
        return source.map(ServerAuth::XOAuth2);
    }
    for node in [token_file, token_command].into_iter().flatten() {
        r.error(
            &node.path,
            format!("only used with auth = \"xoauth2\" (auth is {mechanism:?})"),
        );
    }
    let Some(password) = password else {
        r.error(
            &child(&path, "password"),
            format!("auth = {mechanism:?} needs password or password_file"),
        );
        return None;
    };
    Some(if mechanism == "plain" {
        ServerAuth::Plain(password)
    } else {
        ServerAuth::Login(password)
    })
}

/// `after` and, for `move`, `move_to`.
fn read_after(t: &mut Fields<'_>, r: &mut Report) -> Option<AfterCommit> {
    let after = t.get("after");
    let move_to = t.get("move_to");
    let word = match &after {
        Some(n) => n.parse(r, |s| match s {
            "seen" | "move" | "leave" => Ok(s.to_owned()),
            _ => Err(format!(
                "unknown action {s:?} (expected seen, move or leave)"
            )),
        })?,
        None => "seen".to_owned(),
    };
    match (word.as_str(), move_to) {
        ("move", Some(n)) => n.parse(r, non_empty).map(AfterCommit::Move),
        ("move", None) => {
            r.error(
                &child(&t.path, "move_to"),
                "after = \"move\" needs the folder to move to",
            );
            None
        }
        (_, Some(n)) => {
            r.error(&n.path, "only used with after = \"move\"");
            None
        }
        ("leave", None) => Some(AfterCommit::Leave),
        _ => Some(AfterCommit::Seen),
    }
}

pub(super) fn parse_host(s: &str) -> Result<String, String> {
    let host = s.trim();
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(format!("{s:?} is not a host name or address"));
    }
    Ok(host.to_ascii_lowercase())
}

/// The server runs on this machine: traffic to it never leaves the host.
pub(super) fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn only_this_machine_counts_as_loopback() {
        let table = [
            ("127.0.0.1", true),
            ("127.1.2.3", true),
            ("::1", true),
            ("[::1]", true),
            ("localhost", true),
            ("LOCALHOST", true),
            ("10.0.0.1", false),
            ("imap.univ-rennes.example", false),
            ("localhost.example", false),
        ];
        for (host, expected) in table {
            assert_eq!(is_loopback(host), expected, "{host}");
        }
    }
}
