//! `offers[].default_kind` and `offers[].kind_by_address`: what they read into, and each bad
//! key or value named by its path.

use super::*;
use crate::domain::TicketKind::{self, *};

fn kinds(lines: &str) -> crate::domain::routing::KindRules {
    ok(&format!("{BASE}{lines}\n"), &[]).offers[0].kinds.clone()
}

fn rule(rules: &crate::domain::routing::KindRules, key: &str) -> Option<TicketKind> {
    rules.rules.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

#[test]
fn kind_by_address_adds_to_the_built_in_suffixes_and_may_change_one() {
    let k = kinds(
        "default_kind = \"Request\"\nkind_by_address = { \"+Evolution\" = \"change\", \
         \"SUPPORT-smsu@esup-portail.example\" = \"incident\", \"+demande\" = \"change\" }",
    );
    assert_eq!(k.default, Request);
    assert_eq!(rule(&k, "+evolution"), Some(Change), "lower-cased");
    assert_eq!(
        rule(&k, "support-smsu@esup-portail.example"),
        Some(Incident)
    );
    assert_eq!(rule(&k, "+demande"), Some(Change), "changed");
    assert_eq!(rule(&k, "+request"), Some(Request), "kept");
    assert_eq!(
        k.rules.iter().filter(|(key, _)| key == "+demande").count(),
        1
    );
}

#[test]
fn describe_lists_the_kinds() {
    let config = ok(&format!("{BASE}default_kind = \"change\"\n"), &[]);
    let described = config.describe();
    assert!(
        described.contains(
            "    kinds: incident (+incident), request (+demande, +request), \
             change (default, +changement, +change)\n"
        ),
        "{described}"
    );
}

#[test]
fn bad_kind_keys_and_values_are_named_by_path() {
    let cases = [
        (
            "default_kind = \"question\"",
            "offers[0].default_kind",
            "unknown ticket kind \"question\" (expected one of: incident, request, change)",
        ),
        (
            "kind_by_address = { \"+demande\" = \"demande\" }",
            "offers[0].kind_by_address.\"+demande\"",
            "unknown ticket kind \"demande\"",
        ),
        (
            "kind_by_address = { \"+\" = \"request\" }",
            "offers[0].kind_by_address.\"+\"",
            "\"+\" is not a plus-suffix",
        ),
        (
            "kind_by_address = { \"+dé mande\" = \"request\" }",
            "offers[0].kind_by_address.\"+dé mande\"",
            "\"+dé mande\" is not a plus-suffix",
        ),
        (
            "kind_by_address = { demande = \"request\" }",
            "offers[0].kind_by_address.demande",
            "\"demande\" is neither a plus-suffix (\"+demande\") nor an address",
        ),
        (
            "kind_by_address = { \"other@esup-portail.example\" = \"request\" }",
            "offers[0].kind_by_address.\"other@esup-portail.example\"",
            "\"other@esup-portail.example\" is not one of this offer's support_addresses",
        ),
        (
            "kind_by_address = { \"support-smsu+demande@esup-portail.example\" = \"request\" }",
            "offers[0].kind_by_address.\"support-smsu+demande@esup-portail.example\"",
            "\"support-smsu+demande@esup-portail.example\" is not one of this offer's \
             support_addresses (for a plus-address, write its suffix: \"+demande\")",
        ),
        (
            "kind_by_address = { \"+Demande\" = \"request\", \"+demande\" = \"change\" }",
            "offers[0].kind_by_address.\"+demande\"",
            "\"+demande\" is already listed at offers[0].kind_by_address.\"+Demande\"",
        ),
        (
            "kind_by_address = \"+demande\"",
            "offers[0].kind_by_address",
            "expected a table, found a string",
        ),
    ];
    for (lines, path, message) in cases {
        let found = errors(&format!("{BASE}{lines}\n"), &[]);
        assert_eq!(found.len(), 1, "{lines}: {found:#?}");
        assert_eq!(found[0].path, path, "{lines}");
        assert!(
            found[0].message.starts_with(message),
            "{lines}: {:?}",
            found[0].message
        );
    }
}
