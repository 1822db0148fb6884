//! Which offer a message is for (by recipient address), which kind of ticket it opens there
//! (by address or plus-suffix), and who sent it (by sender address).
//!
//! Plus-addresses (`support-smsu+I-000042@univ.fr`) route like their base address. The sender
//! decision applies the offer's unknown-sender policy; creating the contact is the service's job.

use serde::{Deserialize, Serialize};

use super::ids::{ContactId, InstitutionId, TenantId};
use super::ticket::TicketKind;

/// What to do with mail from an address no contact of the offer has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownSenderPolicy {
    /// Create the contact in the institution whose mail domain matches the sender's; when none
    /// matches, refuse.
    CreateInInstitution,
    /// Create the contact in the matching institution, or without one.
    CreateUnaffiliated,
    /// Open no ticket and answer with a polite automatic reply.
    Refuse,
}

impl std::str::FromStr for UnknownSenderPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "create_in_institution" => Ok(Self::CreateInInstitution),
            "create_unaffiliated" => Ok(Self::CreateUnaffiliated),
            "refuse" => Ok(Self::Refuse),
            _ => Err(format!(
                "unknown sender policy {s:?} (expected create_in_institution, create_unaffiliated or refuse)"
            )),
        }
    }
}

/// An offer's support addresses, for recipient routing.
#[derive(Debug, Clone)]
pub struct OfferAddresses<'a> {
    /// The offer's code.
    pub offer: &'a TenantId,
    /// Its support addresses as configured: lower-case, never plus-addresses.
    pub addresses: &'a [String],
}

/// Splits `local+tag@domain` into `(local@domain, Some(tag))`, lower-cased.
pub fn split_plus(address: &str) -> (String, Option<String>) {
    let address = address.trim().to_ascii_lowercase();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return (address, None);
    };
    match local.split_once('+') {
        Some((base, tag)) => (format!("{base}@{domain}"), Some(tag.to_owned())),
        None => (address.clone(), None),
    }
}

/// The offers a message is addressed to, in the order of its recipients, each once.
pub fn route_recipients(recipients: &[&str], offers: &[OfferAddresses<'_>]) -> Vec<TenantId> {
    let mut out = Vec::new();
    for r in recipients {
        let (base, _) = split_plus(r);
        for o in offers {
            let hit = o.addresses.iter().any(|a| a.eq_ignore_ascii_case(&base));
            if hit && !out.contains(o.offer) {
                out.push(o.offer.clone());
            }
        }
    }
    out
}

/// The offer a message that does not parse is for: the one whose support address (or a
/// plus-address of it) comes first in its raw bytes, case-insensitively. The first one only:
/// the others may just be quoted in the body, and a message that cannot be read must not land
/// in the quarantine of offers it never went to. Empty when no address is found.
pub fn route_unparsed(raw: &[u8], offers: &[OfferAddresses<'_>]) -> Vec<TenantId> {
    let text = String::from_utf8_lossy(raw).to_ascii_lowercase();
    let position = |address: &str| {
        let (local, domain) = address.split_once('@')?;
        let plus = text
            .find(&format!("{local}+"))
            .filter(|p| text[*p..].contains(&format!("@{domain}")));
        [text.find(address), plus].into_iter().flatten().min()
    };
    offers
        .iter()
        .filter_map(|o| {
            o.addresses
                .iter()
                .filter_map(|a| position(a))
                .min()
                .map(|p| (p, o.offer))
        })
        // `min_by_key` keeps the first of equal positions, as the stable sort it replaces did.
        .min_by_key(|(p, _)| *p)
        .map(|(_, code)| code.clone())
        .into_iter()
        .collect()
}

/// How an offer's mail picks the kind of the tickets it opens (`offers[].default_kind`,
/// `offers[].kind_by_address`): ESUP's catalogue has three entries per service (report an
/// incident, request a service, request a change), each a support address or a plus-suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindRules {
    /// The kind when no rule names the address the message was sent to.
    pub default: TicketKind,
    /// `(key, kind)`, keys lower-case: a plus-suffix with its `+` (`+demande`, on any of the
    /// offer's addresses) or one of the offer's support addresses (`demandes-smsu@univ.fr`).
    pub rules: Vec<(String, TicketKind)>,
}

impl KindRules {
    /// The kind a rule gives this key, if one does (keys compare case-insensitively).
    fn rule(&self, key: &str) -> Option<TicketKind> {
        self.rules
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, kind)| *kind)
    }
}

/// The kind of the ticket a message opens in an offer whose support addresses are `addresses`.
///
/// Only recipients that are the offer's addresses (plus-addresses included) count, and the
/// envelope ones (`envelope`: `Delivered-To`, `X-Original-To`) alone when there are any, since
/// they say where this copy was delivered; else those of To and Cc (`listed`). The first of
/// them that a rule names decides: its plus-suffix (`+demande`), else its address; when none
/// does (the plain address, a ref or a token after the `+`), `rules.default`.
pub fn kind_for(
    envelope: &[&str],
    listed: &[&str],
    addresses: &[String],
    rules: &KindRules,
) -> TicketKind {
    let ours = |list: &[&str]| -> Vec<(String, Option<String>)> {
        list.iter()
            .map(|r| split_plus(r))
            .filter(|(base, _)| addresses.iter().any(|a| a.eq_ignore_ascii_case(base)))
            .collect()
    };
    let mut recipients = ours(envelope);
    if recipients.is_empty() {
        recipients = ours(listed);
    }
    recipients
        .iter()
        .find_map(|(base, tag)| {
            let by_suffix = tag.as_ref().and_then(|t| rules.rule(&format!("+{t}")));
            by_suffix.or_else(|| rules.rule(base))
        })
        .unwrap_or(rules.default)
}

/// An institution as routing sees it: its store id and mail domains (lower-case).
#[derive(Debug, Clone)]
pub struct InstitutionDomains<'a> {
    /// The institution's row id in the store.
    pub id: InstitutionId,
    /// Its mail domains, lower-case (`univ.fr`); their sub-domains match too.
    pub domains: &'a [String],
}

/// Who a sender is for this offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderDecision {
    /// The offer has a contact for this address already: this one.
    Known(ContactId),
    /// Create a contact, in this institution when there is one.
    Create {
        /// The institution whose domain matches the sender's (see [`institution_for_domain`]);
        /// `None` to create the contact without one.
        institution: Option<InstitutionId>,
    },
    /// Take nothing in: no contact, no ticket. The service answers with a polite refusal,
    /// unless the message is machine-written.
    Refuse,
}

/// The institution whose domain matches, the longest match first (`dsi.univ.fr` before
/// `univ.fr`); sub-domains of a listed domain match it.
pub fn institution_for_domain(
    domain: &str,
    institutions: &[InstitutionDomains<'_>],
) -> Option<InstitutionId> {
    let domain = domain.to_ascii_lowercase();
    institutions
        .iter()
        .flat_map(|i| i.domains.iter().map(move |d| (i.id, d)))
        .filter(|(_, d)| domain == **d || domain.ends_with(&format!(".{d}")))
        .max_by_key(|(_, d)| d.len())
        .map(|(id, _)| id)
}

/// Who the sender of a message is for the offer: `known` is the offer's contact for the
/// sender's address when it has one; otherwise the offer's unknown-sender `policy` decides,
/// with the institution matching `sender_domain` (the domain of the sender's address).
pub fn decide_sender(
    known: Option<ContactId>,
    sender_domain: &str,
    policy: UnknownSenderPolicy,
    institutions: &[InstitutionDomains<'_>],
) -> SenderDecision {
    if let Some(id) = known {
        return SenderDecision::Known(id);
    }
    let institution = institution_for_domain(sender_domain, institutions);
    match (policy, institution) {
        (UnknownSenderPolicy::Refuse, _) => SenderDecision::Refuse,
        (UnknownSenderPolicy::CreateInInstitution, None) => SenderDecision::Refuse,
        (_, institution) => SenderDecision::Create { institution },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_addresses_split() {
        let table = [
            ("support-smsu@univ.fr", ("support-smsu@univ.fr", None)),
            (
                "Support-SMSU+I-000042@Univ.FR",
                ("support-smsu@univ.fr", Some("i-000042")),
            ),
            ("a+b+c@x.fr", ("a@x.fr", Some("b+c"))),
            ("no-at-sign", ("no-at-sign", None)),
        ];
        for (input, (base, tag)) in table {
            assert_eq!(
                split_plus(input),
                (base.to_owned(), tag.map(str::to_owned)),
                "{input}"
            );
        }
    }

    #[test]
    fn recipients_route_to_offers_once_each() {
        let smsu = TenantId::parse("SMSU").unwrap();
        let geforp = TenantId::parse("GEFORP").unwrap();
        let smsu_addr = vec!["support-smsu@esup.fr".to_owned()];
        let geforp_addr = vec![
            "support-geforp@esup.fr".to_owned(),
            "geforp@univ.fr".to_owned(),
        ];
        let offers = [
            OfferAddresses {
                offer: &smsu,
                addresses: &smsu_addr,
            },
            OfferAddresses {
                offer: &geforp,
                addresses: &geforp_addr,
            },
        ];
        let table: &[(&[&str], &[&TenantId])] = &[
            (&["support-smsu@esup.fr"], &[&smsu]),
            (&["SUPPORT-SMSU+x@esup.fr"], &[&smsu]),
            (
                &["geforp@univ.fr", "support-smsu@esup.fr"],
                &[&geforp, &smsu],
            ),
            (
                &["support-smsu@esup.fr", "support-smsu+2@esup.fr"],
                &[&smsu],
            ),
            (&["someone@esup.fr"], &[]),
            (&["support-smsu@other.fr"], &[]),
        ];
        for (recipients, want) in table {
            let got = route_recipients(recipients, &offers);
            let want: Vec<TenantId> = want.iter().map(|t| (*t).clone()).collect();
            assert_eq!(got, want, "{recipients:?}");
        }
    }

    #[test]
    fn the_address_or_plus_suffix_picks_the_kind() {
        use TicketKind::*;
        let addresses = vec![
            "support-smsu@esup.fr".to_owned(),
            "demandes-smsu@esup.fr".to_owned(),
        ];
        let rule = |k: &str, kind| (k.to_owned(), kind);
        // The built-in suffixes (config::defaults::KIND_SUFFIXES) and one configured address.
        let rules = KindRules {
            default: Incident,
            rules: vec![
                rule("+incident", Incident),
                rule("+demande", Request),
                rule("+request", Request),
                rule("+changement", Change),
                rule("+change", Change),
                rule("demandes-smsu@esup.fr", Request),
            ],
        };
        // (name, envelope, To/Cc, kind)
        let table: &[(&str, &[&str], &[&str], TicketKind)] = &[
            (
                "plain address: the default",
                &[],
                &["support-smsu@esup.fr"],
                Incident,
            ),
            (
                "French request",
                &[],
                &["support-smsu+demande@esup.fr"],
                Request,
            ),
            (
                "English request",
                &[],
                &["support-smsu+request@esup.fr"],
                Request,
            ),
            (
                "French change",
                &[],
                &["support-smsu+changement@esup.fr"],
                Change,
            ),
            (
                "English change",
                &[],
                &["support-smsu+change@esup.fr"],
                Change,
            ),
            (
                "incident",
                &[],
                &["support-smsu+incident@esup.fr"],
                Incident,
            ),
            ("any case", &[], &["Support-SMSU+DEMANDE@ESUP.FR"], Request),
            (
                "configured address",
                &[],
                &["demandes-smsu@esup.fr"],
                Request,
            ),
            (
                "suffix before address",
                &[],
                &["demandes-smsu+change@esup.fr"],
                Change,
            ),
            (
                "unknown suffix: the address",
                &[],
                &["demandes-smsu+x@esup.fr"],
                Request,
            ),
            (
                "a ref after the +",
                &[],
                &["support-smsu+I-000042@esup.fr"],
                Incident,
            ),
            ("nothing of ours", &[], &["someone@esup.fr"], Incident),
            (
                "another offer's suffix",
                &[],
                &["support-geforp+change@esup.fr", "support-smsu@esup.fr"],
                Incident,
            ),
            (
                "other domain",
                &[],
                &["support-smsu+change@other.fr"],
                Incident,
            ),
            (
                "the first named by a rule",
                &[],
                &["support-smsu@esup.fr", "support-smsu+change@esup.fr"],
                Change,
            ),
            (
                "envelope before To",
                &["support-smsu+demande@esup.fr"],
                &["support-smsu+change@esup.fr"],
                Request,
            ),
            (
                "plain envelope: the default, whatever To says",
                &["support-smsu@esup.fr"],
                &["support-smsu+change@esup.fr"],
                Incident,
            ),
            (
                "envelope of another offer: To decides",
                &["support-geforp@esup.fr"],
                &["support-smsu+change@esup.fr"],
                Change,
            ),
        ];
        for (name, envelope, listed, want) in table {
            assert_eq!(
                kind_for(envelope, listed, &addresses, &rules),
                *want,
                "{name}"
            );
        }
    }

    #[test]
    fn an_offer_without_rules_opens_its_default_kind() {
        let addresses = vec!["support-smsu@esup.fr".to_owned()];
        for default in TicketKind::ALL {
            let rules = KindRules {
                default: *default,
                rules: vec![],
            };
            for to in ["support-smsu@esup.fr", "support-smsu+demande@esup.fr"] {
                assert_eq!(kind_for(&[], &[to], &addresses, &rules), *default, "{to}");
            }
        }
    }

    #[test]
    fn unparsed_messages_route_on_the_first_support_address_in_their_bytes() {
        let smsu = TenantId::parse("SMSU").unwrap();
        let geforp = TenantId::parse("GEFORP").unwrap();
        let smsu_addr = vec!["support-smsu@esup.fr".to_owned()];
        let geforp_addr = vec!["support-geforp@esup.fr".to_owned()];
        let offers = [
            OfferAddresses {
                offer: &smsu,
                addresses: &smsu_addr,
            },
            OfferAddresses {
                offer: &geforp,
                addresses: &geforp_addr,
            },
        ];
        // (name, raw bytes, offers)
        let table: &[(&str, &[u8], &[&TenantId])] = &[
            (
                "one address",
                b"To: support-smsu@esup.fr\r\n\xff\xfe",
                &[&smsu],
            ),
            ("upper case", b"To: SUPPORT-GEFORP@ESUP.FR\r\n", &[&geforp]),
            (
                "plus-address",
                b"To: support-geforp+I-000001@esup.fr\r\n",
                &[&geforp],
            ),
            (
                "the first of two, quoted one ignored",
                b"To: support-geforp@esup.fr\r\n\r\n> support-smsu@esup.fr",
                &[&geforp],
            ),
            ("no support address", b"To: someone@esup.fr\r\n", &[]),
            ("plus on another domain", b"support-smsu+x@other.fr", &[]),
            ("nothing at all", b"", &[]),
        ];
        for (name, raw, want) in table {
            let want: Vec<TenantId> = want.iter().map(|t| (*t).clone()).collect();
            assert_eq!(route_unparsed(raw, &offers), want, "{name}");
        }
    }

    #[test]
    fn unknown_senders_follow_the_policy() {
        use UnknownSenderPolicy::*;
        let univ = vec!["univ.fr".to_owned()];
        let dsi = vec!["dsi.univ.fr".to_owned()];
        let inst = [
            InstitutionDomains {
                id: InstitutionId(1),
                domains: &univ,
            },
            InstitutionDomains {
                id: InstitutionId(2),
                domains: &dsi,
            },
        ];
        let table = [
            (
                Some(ContactId(9)),
                "x.org",
                Refuse,
                SenderDecision::Known(ContactId(9)),
            ),
            (
                None,
                "univ.fr",
                CreateInInstitution,
                SenderDecision::Create {
                    institution: Some(InstitutionId(1)),
                },
            ),
            (
                None,
                "lab.univ.fr",
                CreateInInstitution,
                SenderDecision::Create {
                    institution: Some(InstitutionId(1)),
                },
            ),
            (
                None,
                "dsi.univ.fr",
                CreateInInstitution,
                SenderDecision::Create {
                    institution: Some(InstitutionId(2)),
                },
            ),
            (
                None,
                "notuniv.fr",
                CreateInInstitution,
                SenderDecision::Refuse,
            ),
            (
                None,
                "gmail.com",
                CreateUnaffiliated,
                SenderDecision::Create { institution: None },
            ),
            (
                None,
                "univ.fr",
                CreateUnaffiliated,
                SenderDecision::Create {
                    institution: Some(InstitutionId(1)),
                },
            ),
            (None, "univ.fr", Refuse, SenderDecision::Refuse),
        ];
        for (known, domain, policy, want) in table {
            assert_eq!(
                decide_sender(known, domain, policy, &inst),
                want,
                "{domain} {policy:?}"
            );
        }
    }
}
