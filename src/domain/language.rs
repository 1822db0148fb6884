//! The language a sender reads, from what their mail says: `Content-Language` (the language
//! the mail is written in) first, then `Accept-Language` (what their client asks for, sent by
//! some clients with mail too). Only the languages guichet has templates for count (`fr`,
//! `en`): anything else tells nothing, and the offer's locale applies.
//!
//! Must not: read the store or decide whose locale wins (`service::acks` and
//! `service::notices` do: the contact's, then the offer's).

/// The languages that have templates (`notify::LOCALES`, repeated here so the core does not
/// depend on the template layer).
const KNOWN: [&str; 2] = ["fr", "en"];

/// The language of a mail with these headers (their raw values), if one guichet writes in:
/// the first known language of `Content-Language` (`en`, `en-GB`, `de, en`), else the known
/// language `Accept-Language` ranks highest (`de;q=1, en;q=0.8, fr;q=0.5` gives `en`; equal
/// weights keep the order given).
pub fn of_headers(
    content_language: Option<&str>,
    accept_language: Option<&str>,
) -> Option<&'static str> {
    content_language
        .and_then(|value| value.split(',').find_map(known))
        .or_else(|| accept_language.and_then(preferred))
}

/// The known language of one language tag (`en-GB`, `FR_fr`, ` en `), if any.
fn known(tag: &str) -> Option<&'static str> {
    let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
    KNOWN.into_iter().find(|k| k.eq_ignore_ascii_case(primary))
}

/// The known language `Accept-Language` weighs most (RFC 9110 section 12.5.4): `q` defaults
/// to 1, a `q=0` refuses the language, an unreadable weight counts as 0.
fn preferred(value: &str) -> Option<&'static str> {
    let mut best: Option<(&'static str, f32)> = None;
    for range in value.split(',') {
        let mut params = range.split(';');
        let Some(language) = params.next().and_then(known) else {
            continue;
        };
        let weight = params
            .find_map(|p| p.trim().strip_prefix("q="))
            .map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0));
        if weight > 0.0 && best.is_none_or(|(_, w)| weight > w) {
            best = Some((language, weight));
        }
    }
    best.map(|(language, _)| language)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_comes_from_the_headers_when_guichet_writes_it() {
        // (Content-Language, Accept-Language, language)
        let table: [(Option<&str>, Option<&str>, Option<&str>); 16] = [
            (None, None, None),
            (Some("en"), None, Some("en")),
            (Some("fr"), None, Some("fr")),
            (Some("en-GB"), None, Some("en")),
            (Some(" FR_fr "), None, Some("fr")),
            (Some("de"), None, None),
            (Some("de, en"), None, Some("en")),
            (Some(""), None, None),
            (Some("english"), None, None),
            (Some("en"), Some("fr"), Some("en")),
            (Some("de"), Some("fr-FR,fr;q=0.9"), Some("fr")),
            (None, Some("de;q=1, en;q=0.8, fr;q=0.5"), Some("en")),
            (None, Some("fr;q=0.5, en;q=0.5"), Some("fr")),
            (None, Some("en;q=0, fr;q=0.1"), Some("fr")),
            (None, Some("en;q=oops"), None),
            (None, Some("*"), None),
        ];
        for (content, accept, language) in table {
            assert_eq!(
                of_headers(content, accept),
                language,
                "{content:?} {accept:?}"
            );
        }
    }
}
