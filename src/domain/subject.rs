//! Subjects of the mail we write: what is left of the subject a person wrote once the reply
//! and forward prefixes their clients added, and our own ticket tag, are taken off.
//!
//! Pure string work; which tag belongs to which ticket is `ids::subject_tag`'s business.

/// Prefixes mail clients put in front of a subject when replying or forwarding, in the
/// languages our users write in (English, French, German), compared ignoring ASCII case
/// (`RÉF :` is matched only as written here).
const REPLY_PREFIXES: [&str; 7] = ["re:", "tr:", "fw:", "fwd:", "réf :", "ref:", "aw:"];

/// `Re: [SMSU I-000042] Panne` -> `Panne`, so that templates can add their own prefix and
/// tag. `tag` is the ticket's tag (`[SMSU I-000042]`), when the mail is about a ticket.
pub fn strip_reply_prefixes(subject: &str, tag: Option<&str>) -> String {
    let mut s = subject.trim().to_owned();
    loop {
        let before = s.clone();
        for prefix in REPLY_PREFIXES.into_iter().chain(tag) {
            if let Some(rest) = strip_prefix_ignore_case(&s, prefix) {
                s = rest.trim_start().to_owned();
            }
        }
        if s == before {
            return s;
        }
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_prefixes_and_our_tag_are_stripped() {
        const TAG: Option<&str> = Some("[SMSU I-000042]");
        // (subject, tag, stripped)
        let table = [
            ("Re: Panne", None, "Panne"),
            ("RE: TR: Fwd: Panne", None, "Panne"),
            ("Panne", None, "Panne"),
            ("Re:", None, ""),
            ("Réunion", None, "Réunion"),
            ("  AW: Panne  ", None, "Panne"),
            ("Réf : Panne", None, "Panne"),
            ("RÉF : Panne", None, "RÉF : Panne"),
            ("Re: [SMSU I-000042] Panne", TAG, "Panne"),
            ("[smsu i-000042] Re: Panne", TAG, "Panne"),
            ("Re: [SMSU I-000042] Panne", None, "[SMSU I-000042] Panne"),
            ("Re: [SMSU I-000043] Panne", TAG, "[SMSU I-000043] Panne"),
            ("Panne [SMSU I-000042]", TAG, "Panne [SMSU I-000042]"),
        ];
        for (subject, tag, want) in table {
            assert_eq!(strip_reply_prefixes(subject, tag), want, "{subject}");
        }
    }
}
