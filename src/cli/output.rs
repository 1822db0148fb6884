//! Text for a person's terminal: mail-borne text made safe to print, and cut to fit.
//! Pure functions; JSON output does not go through here (serde_json escapes, a program reads it).

use std::borrow::Cow;

/// `text` in at most `max` characters, cut on a character boundary with `...` when longer.
pub(super) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(3)).collect();
    format!("{kept}...")
}

/// Text that came from mail, made safe to print on an operator's terminal: control
/// characters (ESC starts terminal escape sequences, C1 controls too) and the bidi
/// embedding, override and isolate characters (which reorder what is shown, as in "Trojan
/// Source") become visible escapes like `\x1b` or `\u{202e}`. With `multiline` (bodies), line
/// breaks and tabs stay as they are and CRLF reads as a line break. JSON output needs none of
/// this: serde_json escapes control characters, and a program reads it, not a person.
pub(super) fn printable(text: &str, multiline: bool) -> Cow<'_, str> {
    let kept = |c: char| multiline && matches!(c, '\n' | '\t');
    let unsafe_char = |c: char| (c.is_control() && !kept(c)) || is_bidi_control(c);
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' if multiline => out.push(c),
            '\r' if multiline && chars.peek() == Some(&'\n') => {}
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if is_bidi_control(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Unicode's explicit directional embeddings, overrides and isolates (UAX #9).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// [`printable`] on one line.
pub(super) fn line(text: &str) -> Cow<'_, str> {
    printable(text, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_and_bidi_overrides_are_shown_not_obeyed() {
        let table = [
            ("Panne SMS", "Panne SMS"),
            ("\u{1b}[2J\u{1b}]0;pwned\u{7}", "\\x1b[2J\\x1b]0;pwned\\x07"),
            ("a\u{9b}31mb", "a\\x9b31mb"),
            ("fichier\u{202e}fdp.exe", "fichier\\u{202e}fdp.exe"),
            ("\u{2066}x\u{2069}", "\\u{2066}x\\u{2069}"),
            ("ligne 1\r\nligne 2\tfin", "ligne 1\\r\\nligne 2\\tfin"),
            ("NUL\0DEL\u{7f}", "NUL\\x00DEL\\x7f"),
            ("accents é ü 漢字 \u{200f}", "accents é ü 漢字 \u{200f}"),
        ];
        for (input, shown) in table {
            assert_eq!(printable(input, false), shown, "{input:?}");
        }
    }

    #[test]
    fn bodies_keep_their_lines_and_tabs_but_not_escapes() {
        let table = [
            ("Bonjour,\n\tça marche.\n", "Bonjour,\n\tça marche.\n"),
            ("CRLF\r\nlines\r\n", "CRLF\nlines\n"),
            ("bare\rCR", "bare\\rCR"),
            (
                "red \u{1b}[31malert\u{1b}[0m\nok",
                "red \\x1b[31malert\\x1b[0m\nok",
            ),
            ("\u{202e}evil\n", "\\u{202e}evil\n"),
        ];
        for (input, shown) in table {
            assert_eq!(printable(input, true), shown, "{input:?}");
        }
    }
}
