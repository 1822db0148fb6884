#!/usr/bin/env python3
"""tests/env/mail-contact.py: a contact's mail client, for the full-loop test (tests/full_loop.rs).

Python's standard library only (email, smtplib, imaplib), and none of guichet's code: what it
writes is what a mail client of the contact would write, and what it reads it reads over IMAP
as that client would. Each command prints one JSON object on stdout; errors go to stderr with
a non-zero exit status.

  send   --smtp-port P --from A --to B --subject S --body TEXT
         a new message; prints {"message_id": ...}
  find   --imap-port P --user U [--password PW] --match NAME=TEXT ... [--timeout SECS]
         polls U's INBOX until a message matches every --match (NAME a header, or "body" for
         the text part; TEXT found in it), prints {"headers": {name: [values]}, "body": ...}
  reply  the options of find, and --smtp-port P --from A --body TEXT
         finds a message as `find` does and answers it as a client's Reply button does:
         To its Reply-To (else its From), "Re: " before its subject, In-Reply-To its
         Message-ID, References its References and its Message-ID, its text quoted below
         ours; prints {"found": <as find>, "sent": <the reply's headers, as find>}
"""

import argparse
import email
import email.policy
import email.utils
import imaplib
import json
import smtplib
import sys
import time
from email.message import EmailMessage

HOST = "127.0.0.1"
# How often the INBOX is looked at while waiting: Postfix -> LMTP -> Dovecot takes 50-800 ms.
POLL_SECS = 0.1


def headers_of(msg):
    """Every header, by lower-case name, each value as the client shows it (decoded)."""
    out = {}
    for name, value in msg.items():
        out.setdefault(name.lower(), []).append(str(value))
    return out


def text_of(msg):
    """The text/plain part, as a client displays it; empty when there is none."""
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def described(msg):
    return {"headers": headers_of(msg), "body": text_of(msg)}


def matches(msg, wanted):
    for name, text in wanted:
        if name == "body":
            if text not in text_of(msg):
                return False
        elif not any(text in str(v) for v in msg.get_all(name, [])):
            return False
    return True


def find(args):
    """Polls the INBOX until a message matches, or exits 1 at the deadline saying what it saw."""
    wanted = []
    for m in args.match:
        name, sep, text = m.partition("=")
        if not sep:
            sys.exit(f"--match {m!r}: expected NAME=TEXT")
        wanted.append((name.lower(), text))
    deadline = time.monotonic() + args.timeout
    imap = imaplib.IMAP4(HOST, args.imap_port)
    imap.login(args.user, args.password)
    seen = {}
    while True:
        imap.select("INBOX", readonly=True)
        _, data = imap.uid("SEARCH", None, "ALL")
        for uid in data[0].split():
            if uid not in seen:
                _, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next(p[1] for p in parts if isinstance(p, tuple))
                seen[uid] = email.message_from_bytes(raw, policy=email.policy.default)
            if matches(seen[uid], wanted):
                imap.logout()
                return seen[uid]
        if time.monotonic() > deadline:
            subjects = [str(m["Subject"]) for m in seen.values()]
            imap.logout()
            sys.exit(
                f"no message matching {wanted} in {args.user}'s INBOX after {args.timeout} s; "
                f"it holds {len(seen)}: {subjects}"
            )
        time.sleep(POLL_SECS)


def submit(smtp_port, msg):
    """Hands the message to the SMTP server, as the client's outgoing server."""
    with smtplib.SMTP(HOST, smtp_port, timeout=30) as smtp:
        refused = smtp.send_message(msg)
    if refused:
        sys.exit(f"the SMTP server refused {refused}")


def new_message(sender, to, subject):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain=sender.rpartition("@")[2])
    msg["User-Agent"] = "mail-contact.py (guichet tests)"
    return msg


def send(args):
    msg = new_message(args.sender, args.to, args.subject)
    msg.set_content(args.body)
    submit(args.smtp_port, msg)
    print(json.dumps({"message_id": msg["Message-ID"]}))


def reply(args):
    original = find(args)
    msg = new_message(
        args.sender,
        str(original["Reply-To"] or original["From"]),
        "Re: " + subject_without_re(str(original["Subject"])),
    )
    parent = original["Message-ID"]
    msg["In-Reply-To"] = parent
    msg["References"] = " ".join(
        x for x in [original["References"] or original["In-Reply-To"], parent] if x
    )
    quoted = "\n".join("> " + line if line else ">" for line in text_of(original).splitlines())
    author = str(original["From"])
    msg.set_content(f"{args.body}\n\nLe {original['Date']}, {author} a écrit :\n{quoted}\n")
    submit(args.smtp_port, msg)
    print(json.dumps({"found": described(original), "sent": described(msg)}))


def subject_without_re(subject):
    """A client adds one "Re: ", never a second one."""
    while subject[:3].lower() == "re:":
        subject = subject[3:].lstrip()
    return subject


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("send")
    s.add_argument("--smtp-port", type=int, required=True)
    s.add_argument("--from", dest="sender", required=True)
    s.add_argument("--to", required=True)
    s.add_argument("--subject", required=True)
    s.add_argument("--body", required=True)

    for name in ("find", "reply"):
        f = sub.add_parser(name)
        f.add_argument("--imap-port", type=int, required=True)
        f.add_argument("--user", required=True)
        f.add_argument("--password", default="secret")
        f.add_argument("--match", action="append", default=[])
        f.add_argument("--timeout", type=float, default=60)
        if name == "reply":
            f.add_argument("--smtp-port", type=int, required=True)
            f.add_argument("--from", dest="sender", required=True)
            f.add_argument("--body", required=True)

    args = p.parse_args()
    if args.command == "send":
        send(args)
    elif args.command == "find":
        print(json.dumps(described(find(args))))
    else:
        reply(args)


if __name__ == "__main__":
    main()
