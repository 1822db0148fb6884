//! HTML bodies: the text an agent reads, and the HTML kept for display.
//!
//! Owns how HTML mail becomes text (the parser and the corpus tests share it) and what of its
//! HTML is safe to store and show.

use mail_parser::decoders::html::html_to_text;

/// Elements that start a new line when HTML is read as text. mail-parser's converter breaks
/// lines at `<br>` and `<p>` only, so a Gmail or Outlook reply, laid out in `<div>`s, came out
/// as one line and its quote header ran into the reply.
const BLOCK_ELEMENTS: &[&str] = &[
    "div",
    "blockquote",
    "hr",
    "table",
    "tr",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
];

/// The text of an HTML body: tags dropped, block elements and `<br>` as line breaks, entities
/// decoded.
pub fn to_text(html: &str) -> String {
    html_to_text(&with_block_breaks(html))
}

/// `html` with a `<br>` before every opening tag of a [`BLOCK_ELEMENTS`] element.
fn with_block_breaks(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 16);
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        let (before, tag) = rest.split_at(open);
        out.push_str(before);
        if opens_block(tag) {
            out.push_str("<br>");
        }
        out.push('<');
        rest = tag.get(1..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// Whether `tag` (text starting at a `<`) opens a block element.
fn opens_block(tag: &str) -> bool {
    let name: String = tag
        .chars()
        .skip(1)
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    BLOCK_ELEMENTS
        .iter()
        .any(|block| name.eq_ignore_ascii_case(block))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_elements_start_new_lines() {
        let text = to_text("<div>Reply</div><div>From: Bob</div><blockquote>old</blockquote>");
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines, ["Reply", "From: Bob", "old"]);
    }

    #[test]
    fn inline_elements_do_not_break_lines() {
        assert_eq!(
            to_text("<p>a <b>bold</b> <span>word</span></p>").trim(),
            "a bold word"
        );
    }
}
