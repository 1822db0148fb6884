//! HTML bodies: the text an agent reads, and the HTML kept for display.
//!
//! Owns how HTML mail becomes text (the parser and the corpus tests share it) and what of its
//! HTML is safe to store and show: the parser stores only [`sanitise`]d HTML, so no reader of
//! an article (the JSON API, a web view, a notification) can run a sender's script or load a
//! sender's tracking pixel.

use ammonia::{Builder, UrlRelative};
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

/// `html` reduced to what is safe to show, by ammonia's allow-list: formatting, links, tables
/// and images stay; scripts, styles, forms, frames, event handlers (`onclick`) and
/// `javascript:` URLs go. Nothing may load from elsewhere when the HTML is displayed (a remote
/// image tells the sender who read the mail, when, and from where), so an image keeps its
/// `src` only when it is a `cid:` reference to a part of the message, and relative URLs,
/// which a viewer would resolve against its own origin, are removed.
///
/// ammonia cleans fragments; a whole document (`<html>…`) comes back as a document again,
/// `<html><body>` around the cleaned body, so a viewer can show it as the page it was.
pub fn sanitise(html: &str) -> String {
    let clean = Builder::default()
        .add_url_schemes(["cid"])
        // The writing direction of Hebrew and Arabic mail; Gmail sets it on every block.
        .add_generic_attributes(["dir"])
        // A document's title is not part of what it shows.
        .add_clean_content_tags(["title"])
        .url_relative(UrlRelative::Deny)
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            ("img", "src") if !is_cid(value) => None,
            _ => Some(value.into()),
        })
        .clean(html)
        .to_string();
    if is_document(html) {
        format!("<html><body>{}</body></html>", clean.trim())
    } else {
        clean
    }
}

/// Whether `html` is a whole document: an `<html` tag before any text.
fn is_document(html: &str) -> bool {
    let start = html.trim_start();
    let start = if start
        .get(..9)
        .is_some_and(|d| d.eq_ignore_ascii_case("<!doctype"))
    {
        start
            .split_once('>')
            .map_or("", |(_, rest)| rest)
            .trim_start()
    } else {
        start
    };
    start
        .get(..5)
        .is_some_and(|tag| tag.eq_ignore_ascii_case("<html"))
}

fn is_cid(url: &str) -> bool {
    url.trim()
        .get(..4)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("cid:"))
}

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

    /// (what the case shows, HTML, what must be in the result, what must not)
    const SANITISED: &[(&str, &str, &[&str], &[&str])] = &[
        (
            "script removed",
            "<p>Bonjour</p><script>alert(1)</script>",
            &["<p>Bonjour</p>"],
            &["script", "alert"],
        ),
        (
            "event handler removed",
            r#"<a href="https://esup-portail.org" onclick="steal()">lien</a>"#,
            &["https://esup-portail.org", ">lien</a>"],
            &["onclick", "steal"],
        ),
        (
            "javascript url removed",
            r#"<a href="javascript:steal()">cliquer</a>"#,
            &["cliquer"],
            &["javascript"],
        ),
        (
            "remote image source removed",
            r#"<img src="https://tracker.example/pixel.gif" alt="logo">"#,
            &[r#"alt="logo""#],
            &["tracker.example", "src="],
        ),
        (
            "relative image source removed",
            r#"<img src="/api/tickets?delete=1">"#,
            &["<img"],
            &["src=", "delete"],
        ),
        (
            "cid image kept",
            r#"<img src="cid:part1.0a1b@univ.example" alt="capture">"#,
            &[r#"src="cid:part1.0a1b@univ.example""#],
            &[],
        ),
        (
            "style and remote css removed",
            r#"<style>body{background:url(https://t.example/x)}</style><p style="background:url(https://t.example/y)">x</p>"#,
            &["<p>x</p>"],
            &["t.example", "style"],
        ),
        (
            "iframe and form removed",
            r#"<iframe src="https://evil.example"></iframe><form action="https://evil.example"><input></form>ok"#,
            &["ok"],
            &["evil.example", "iframe", "form", "input"],
        ),
        (
            "a document stays a document",
            "<!DOCTYPE html><HTML><head><title>t</title><script>x()</script></head><body><p>ok</p></body></HTML>",
            &["<html><body><p>ok</p></body></html>"],
            &["script", "title"],
        ),
        (
            "plain formatting kept",
            "<p>Le <b>service</b> est <i>en panne</i> :<br></p><ul><li>un</li></ul><table><tr><td>a</td></tr></table><blockquote>cité</blockquote>",
            &[
                "<b>service</b>",
                "<i>en panne</i>",
                "<br>",
                "<li>un</li>",
                "<td>a</td>",
                "<blockquote>cité</blockquote>",
            ],
            &[],
        ),
    ];

    #[test]
    fn sanitise_keeps_formatting_and_removes_what_runs_or_loads() {
        let mut failures = Vec::new();
        for (name, html, kept, removed) in SANITISED {
            let clean = sanitise(html);
            for k in *kept {
                if !clean.contains(k) {
                    failures.push(format!("{name}: {k:?} missing from {clean:?}"));
                }
            }
            for r in *removed {
                if clean.contains(r) {
                    failures.push(format!("{name}: {r:?} left in {clean:?}"));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

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
