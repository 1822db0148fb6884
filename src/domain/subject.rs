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

/// Words mail clients put before a colon when forwarding, lower-case: English (`Fwd:`, `Fw:`),
/// French (`TR:`, `Transf:`), German (`WG:`, weitergeleitet), Spanish (`RV:`, reenviado),
/// Portuguese (`Enc:`), Dutch (`Doorst:`), Nordic (`VS:`, `VB:`, `VL:`).
const FORWARD_WORDS: [&str; 11] = [
    "fwd", "fw", "tr", "transf", "trans", "wg", "rv", "enc", "doorst", "vb", "vl",
];

/// Words mail clients put before a colon when replying, lower-case, which may stand in front
/// of a forward's word (`Re: TR: …`): English, French, German (`AW:`, `Antw:`), Nordic (`SV:`),
/// Italian (`R:`, `Rif:`), Spanish and Portuguese (`Res:`), Polish (`Odp:`).
const REPLY_WORDS: [&str; 10] = [
    "re", "ref", "réf", "rép", "aw", "antw", "sv", "r", "rif", "res",
];

/// Whether `subject` is that of a forwarded mail: a forward prefix (`Fwd:`, `TR :`, `WG:`,
/// [`FORWARD_WORDS`]) among the prefixes it opens with, reply prefixes and bracketed tags
/// (`[SMSU I-000042]`, an old-style `[Fwd: …]`) mixed in, ignoring case. A forward carries the
/// subject, and so the ticket tag, of someone else's mail: threading must not trust its tag.
pub fn is_forward(subject: &str) -> bool {
    let mut s = subject.trim_start();
    loop {
        if let Some(inner) = s.strip_prefix('[') {
            // A tag, or a whole forwarded subject in brackets (`[Fwd: c]`).
            if leading_word(inner).is_some_and(|(w, _)| FORWARD_WORDS.contains(&w.as_str())) {
                return true;
            }
            let Some(end) = inner.find(']') else {
                return false;
            };
            s = inner[end + 1..].trim_start();
            continue;
        }
        match leading_word(s) {
            Some((w, _)) if FORWARD_WORDS.contains(&w.as_str()) => return true,
            Some((w, rest)) if REPLY_WORDS.contains(&w.as_str()) => s = rest.trim_start(),
            _ => return false,
        }
    }
}

/// The prefix word `s` opens with, lower-cased, and what follows its colon: letters, then
/// optionally a counter (`Re[2]:`, `Re(2):`) and spaces (the French `TR :`), then `:`.
fn leading_word(s: &str) -> Option<(String, &str)> {
    let word_end = s
        .char_indices()
        .find(|(_, c)| !c.is_alphabetic())
        .map_or(s.len(), |(i, _)| i);
    // The longest word of the lists is six letters; a longer one is the subject's own text.
    if word_end == 0 || s[..word_end].chars().count() > 6 {
        return None;
    }
    let mut rest = &s[word_end..];
    for (open, close) in [('[', ']'), ('(', ')')] {
        if let Some(inner) = rest.strip_prefix(open)
            && let Some(end) = inner.find(close)
            && inner[..end].chars().all(|c| c.is_ascii_digit())
        {
            rest = &inner[end + 1..];
        }
    }
    let rest = rest.trim_start_matches(' ').strip_prefix(':')?;
    Some((s[..word_end].to_lowercase(), rest))
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

    #[test]
    fn forwards_are_recognised_behind_reply_prefixes_and_tags() {
        // (subject, is a forward)
        let table = [
            ("Fwd: Panne", true),
            ("FW: Panne", true),
            ("fw: Panne", true),
            ("TR: Panne", true),
            ("TR : Panne", true),
            ("Transf: Panne", true),
            ("WG: Störung", true),
            ("RV: Averia", true),
            ("Enc: Problema", true),
            ("Re: Fwd: Panne", true),
            ("RE: re: TR: Panne", true),
            ("Re[2]: Fwd: Panne", true),
            ("AW: WG: Störung", true),
            ("Fwd: [SMSU I-000042] Panne", true),
            ("TR: Re: [SMSU I-000042] Panne", true),
            ("[SMSU I-000042] Fwd: Panne", true),
            ("Re: [FWD: c]", true),
            ("re: [fwd: [fwd: re: [fwd: babylon]]]", true),
            ("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", true),
            ("Re: [SMSU I-000042] Panne", false),
            ("Re: Panne", false),
            ("RE: AW: Panne", false),
            ("Panne", false),
            ("", false),
            ("Fwd", false),
            ("Forward: Panne", false),
            ("Transfert de fichiers: lent", false),
            ("Tr des données: lent", false),
            ("Panne TR: imprimante", false),
            ("Re: Panne (fwd)", false),
            ("[xyz]", false),
            ("[SMSU I-000042", false),
            ("Re: tr:", true),
        ];
        for (subject, want) in table {
            assert_eq!(is_forward(subject), want, "{subject:?}");
        }
    }
}
