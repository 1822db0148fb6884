//! Tests of mail parsing, by theme: `headers` (fields, ids, addresses, charsets, long
//! lists), `bodies` (parts, attachments, reports, line endings) and `hostile` (what is not
//! a message, hostile sizes, parser failures, fuzzing). The shared messages and helpers are
//! here.

use super::*;
use proptest::prelude::*;

/// A message written with `\n`, sent with CRLF as on the wire.
fn eml(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

fn ok(text: &str) -> InboundEmail {
    match parse(&eml(text)) {
        Ok(email) => email,
        Err(e) => panic!("expected a message, got {e}:\n{text}"),
    }
}

fn id(s: &str) -> MessageId {
    MessageId::new(s).unwrap()
}

const SIMPLE: &str = "\
Return-Path: <Alice@Univ-Rennes.example>
Delivered-To: Support-SMSU@esup-portail.example
X-Original-To: support-smsu@esup-portail.example
Message-ID: <abc.123@univ-rennes.example>
Date: Tue, 04 Mar 2025 10:15:00 +0100
From: Alice Martin <Alice.Martin@Univ-Rennes.example>
To: Support SMSU <support-smsu@esup-portail.example>
Cc: bob@univ-rennes.example, \"Carol\" <carol@univ-rennes.example>
Reply-To: alice.perso@example.org
Subject: Envoi SMS en panne
Content-Type: text/plain; charset=utf-8

Bonjour,
les SMS ne partent plus.
";

/// The derived id, computed the documented way.
fn derived_id(from: &str, date: &str, subject: &str, e: &InboundEmail) -> String {
    let mut lf = e.clone();
    lf.text_body = lf.text_body.replace("\r\n", "\n");
    lf.html_body = lf.html_body.map(|h| h.replace("\r\n", "\n"));
    let mut h = Sha256::new();
    for field in [from, date, subject, lf.content_digest().as_str()] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    let hex = hex::encode(h.finalize());
    format!("{}@generated.guichet.invalid", &hex[..32])
}

const WITH_ATTACHMENTS: &str = "\
From: a@x.example
Subject: pieces jointes
Content-Type: multipart/mixed; boundary=\"sep\"

--sep
Content-Type: text/plain; charset=utf-8

Voir les pièces jointes.
--sep
Content-Type: application/pdf; name=\"ignored.pdf\"
Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20sign%C3%A9.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--sep
Content-Type: text/plain; charset=iso-8859-1; name=\"=?iso-8859-1?Q?notes_=E9t=E9.txt?=\"
Content-Disposition: attachment
Content-Transfer-Encoding: quoted-printable

caf=E9
--sep
Content-Type: image/png
Content-Disposition: attachment; filename=\"../../etc/passwd\"
Content-Transfer-Encoding: base64

iVBORw0K
--sep
Content-Type: message/rfc822

From: b@y.example
Subject: forwarded
Content-Type: multipart/mixed; boundary=inner

--inner
Content-Type: text/plain

inner text
--inner
Content-Type: application/zip; name=inner.zip
Content-Transfer-Encoding: base64

UEsDBA==
--inner--
--sep--
";

/// `n` ids `<r{i}@x.example>`, folded one per line.
fn reference_list(n: usize) -> String {
    (0..n)
        .map(|i| format!("<r{i}@x.example>"))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

fn ids_of(list: &[MessageId]) -> Vec<&str> {
    list.iter().map(MessageId::as_str).collect()
}

mod bodies;
mod headers;
mod hostile;
