//! Signed reply tokens and signed Message-IDs: what lets a reply find its ticket without
//! trusting anything the sender could have copied from a forward or an archive.
//!
//! A reply token names one ticket of one offer *for one recipient*: every mail we send about a
//! ticket carries `Reply-To: support-smsu+TOKEN@…`, with `TOKEN = <ticket id in base36>-<mac>`
//! and `mac` the first 80 bits of HMAC-SHA256 (key `mail.hmac_key`) over the offer code, the
//! ticket id and the recipient's address, in lower-case base32 (16 characters). The ticket id
//! is in clear so that a token verifies without a lookup; the MAC is what makes it a key.
//! MTAs lower-case local parts, so the alphabet is case-insensitive; the `-` in the middle is
//! what no ticket-kind suffix (`+incident`, `+demande`, `+change`...) has, so the two can never
//! be confused.
//!
//! Our own Message-IDs are signed the same way: `<uuid>.<sig>.guichet@<domain>`, `sig` over the
//! uuid part. [`OurIds::is_ours`] then means "verifies", so a forged `…@our-domain` id is not
//! taken for an echo of ours. Without a key, tokens are off and ids are recognised by their
//! domain alone, as before keys existed.
//!
//! Pure: no IO, no clock. What to do with a token that does not verify is the service's call.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ids::{MessageId, TenantId, TicketId};
use super::routing::split_plus;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the MAC kept in a token or a signed id: 80 bits, 16 base32 characters. Enough that
/// guessing one for a given ticket and address takes 2^79 tries on average, short enough for
/// a local part (64 characters at most, RFC 5321) next to `support-xxxx+`.
const MAC_BYTES: usize = 10;
/// Base32 characters of [`MAC_BYTES`].
const MAC_CHARS: usize = MAC_BYTES * 8 / 5;
/// RFC 4648 base32, lower-cased: no `0/o` or `1/l` pairs to mistype, and case-insensitive.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// Base36 digits of the largest ticket id (`i64::MAX`).
const MAX_ID_CHARS: usize = 13;
/// Domain separation: a token's MAC can never be replayed as a Message-ID signature.
const TOKEN_CONTEXT: &[u8] = b"guichet reply token v1";
const ID_CONTEXT: &[u8] = b"guichet message id v1";

/// The key reply tokens and our Message-IDs are signed with (`mail.hmac_key`). Printed as
/// `[redacted]`.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl TokenKey {
    /// The key from its configured secret; `None` for an empty one (no key is better than a
    /// key everyone knows).
    pub fn new(secret: &str) -> Option<Self> {
        (!secret.is_empty()).then(|| Self(secret.as_bytes().to_vec()))
    }

    fn mac(&self, context: &[u8], parts: &[&[u8]]) -> HmacSha256 {
        // HMAC takes keys of any length: this cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(context);
        for part in parts {
            // Lengths first, so that ("ab", "c") and ("a", "bc") sign differently.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    fn token_mac(&self, offer: &TenantId, ticket: TicketId, recipient: &str) -> HmacSha256 {
        let recipient = recipient.trim().to_ascii_lowercase();
        let ticket = ticket.0.to_be_bytes();
        self.mac(
            TOKEN_CONTEXT,
            &[offer.as_str().as_bytes(), &ticket, recipient.as_bytes()],
        )
    }

    /// The token for `recipient` of mail about `ticket` in `offer`.
    pub fn sign(&self, offer: &TenantId, ticket: TicketId, recipient: &str) -> Token {
        let mac = self
            .token_mac(offer, ticket, recipient)
            .finalize()
            .into_bytes();
        Token(format!(
            "{}-{}",
            base36(ticket.0.unsigned_abs()),
            base32(&mac[..MAC_BYTES])
        ))
    }

    /// The ticket `token` names, when it was signed by this key for this offer and this
    /// recipient (the sender of the reply): `None` for a changed bit, another offer's token,
    /// or a token sent to someone else.
    pub fn verify(&self, token: &Token, offer: &TenantId, recipient: &str) -> Option<TicketId> {
        let (id, mac) = token.0.split_once('-')?;
        let ticket = TicketId(i64::try_from(unbase36(id)?).ok()?);
        // The full length only (`Token::parse` ensures it; a token made otherwise must not
        // get away with a shorter, guessable MAC).
        let given = unbase32(mac).filter(|g| g.len() == MAC_BYTES)?;
        self.token_mac(offer, ticket, recipient)
            .verify_truncated_left(&given)
            .ok()
            .map(|()| ticket)
    }

    fn id_signature(&self, unique: &str) -> String {
        let mac = self.mac(ID_CONTEXT, &[unique.as_bytes()]);
        base32(&mac.finalize().into_bytes()[..MAC_BYTES])
    }

    fn id_verifies(&self, unique: &str, signature: &str) -> bool {
        // The full length only: a one-byte signature would verify once in 256 tries.
        signature.len() == MAC_CHARS
            && unbase32(signature).is_some_and(|given| {
                self.mac(ID_CONTEXT, &[unique.as_bytes()])
                    .verify_truncated_left(&given)
                    .is_ok()
            })
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey([redacted])")
    }
}

/// A reply token as found in an address or made by [`TokenKey::sign`]: well-formed
/// (`<base36>-<16 base32>`), lower-case, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    /// Reads a plus-suffix as a token; `None` when it does not have a token's shape (a ticket
    /// kind suffix such as `incident`, a person's own `+tag`).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        let (id, mac) = s.split_once('-')?;
        let id_ok = (1..=MAX_ID_CHARS).contains(&id.len()) && unbase36(id).is_some();
        let mac_ok = mac.len() == MAC_CHARS && unbase32(mac).is_some();
        (id_ok && mac_ok).then_some(Self(s))
    }

    /// The token as written in an address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `support+TOKEN@domain`: the Reply-To address carrying `token` on a support address.
pub fn reply_address(support_address: &str, token: &Token) -> String {
    match support_address.rsplit_once('@') {
        Some((local, domain)) => format!("{local}+{}@{domain}", token.0),
        None => support_address.to_owned(),
    }
}

/// The first token carried as a plus-suffix of one of `support_addresses` among `recipients`
/// (envelope recipients first, then To and Cc: the caller orders them). Suffixes of other
/// addresses are someone else's business, and kind suffixes are not tokens.
pub fn find(recipients: &[&str], support_addresses: &[String]) -> Option<Token> {
    recipients.iter().find_map(|r| {
        let (base, suffix) = split_plus(r);
        let ours = support_addresses
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&base));
        suffix.filter(|_| ours).and_then(|s| Token::parse(&s))
    })
}

/// How our own Message-IDs are made and recognised: the one place that decides, so that the
/// loop guard, bounce matching and threading agree. With a key, ours are those that verify;
/// without, those with our suffix and domain.
#[derive(Debug, Clone)]
pub struct OurIds {
    domain: String,
    key: Option<TokenKey>,
}

impl OurIds {
    /// Ids on `domain` (`mail.message_id_domain`), signed when there is a `key`.
    pub fn new(domain: &str, key: Option<TokenKey>) -> Self {
        Self {
            domain: domain.to_owned(),
            key,
        }
    }

    /// The key, when reply tokens are on.
    pub fn key(&self) -> Option<&TokenKey> {
        self.key.as_ref()
    }

    /// One of our ids for `unique` (a fresh uuid): `<unique>.<sig>.guichet@domain`, or
    /// without `.<sig>` when there is no key. `unique` must not contain `.`: the signature is
    /// what follows its last one.
    pub fn make(&self, unique: &str) -> MessageId {
        let unique: String = unique.chars().filter(|c| *c != '.').collect();
        match &self.key {
            Some(key) => {
                let sig = key.id_signature(&unique);
                MessageId::ours(&format!("{unique}.{sig}"), &self.domain)
            }
            None => MessageId::ours(&unique, &self.domain),
        }
    }

    /// Whether `id` is one [`OurIds::make`] made: with a key, its signature verifies.
    pub fn is_ours(&self, id: &MessageId) -> bool {
        let Some(unique) = id.our_unique(&self.domain) else {
            return false;
        };
        match &self.key {
            Some(key) => unique
                .rsplit_once('.')
                .is_some_and(|(u, sig)| key.id_verifies(u, sig)),
            None => true,
        }
    }
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes whole bytes of lower-case base32 (upper case is accepted); `None` on any other
/// character. Trailing bits that make no whole byte are dropped.
fn unbase32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let c = c.to_ascii_lowercase();
        let v = BASE32.iter().position(|&d| d == c)? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

fn unbase36(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > MAX_ID_CHARS {
        return None;
    }
    s.chars().try_fold(0u64, |n, c| {
        n.checked_mul(36)?.checked_add(u64::from(c.to_digit(36)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> TokenKey {
        TokenKey::new("correct horse battery staple").unwrap()
    }

    fn offer(code: &str) -> TenantId {
        TenantId::parse(code).unwrap()
    }

    fn flip(token: &Token, at: usize) -> Token {
        let mut chars: Vec<char> = token.as_str().chars().collect();
        chars[at] = if chars[at] == 'a' { 'b' } else { 'a' };
        Token(chars.into_iter().collect())
    }

    #[test]
    fn tokens_have_a_fixed_shape_and_verify_only_where_they_were_issued() {
        let (k, smsu) = (key(), offer("SMSU"));
        let t = k.sign(&smsu, TicketId(42), "Alice@Univ.fr");
        assert_eq!(t.as_str().len(), "16-".len() + MAC_CHARS, "{t:?}");
        assert!(t.as_str().starts_with("16-"));
        let other_key = TokenKey::new("another key").unwrap();
        let last = t.as_str().len() - 1;
        // (case, key, token, offer, recipient, ticket found)
        let table = [
            ("issued", &k, t.clone(), "SMSU", "alice@univ.fr", Some(42)),
            (
                "recipient case",
                &k,
                t.clone(),
                "SMSU",
                " ALICE@univ.FR",
                Some(42),
            ),
            (
                "other offer",
                &k,
                t.clone(),
                "GEFORP",
                "alice@univ.fr",
                None,
            ),
            ("other sender", &k, t.clone(), "SMSU", "bob@univ.fr", None),
            (
                "other key",
                &other_key,
                t.clone(),
                "SMSU",
                "alice@univ.fr",
                None,
            ),
            (
                "flipped mac",
                &k,
                flip(&t, last),
                "SMSU",
                "alice@univ.fr",
                None,
            ),
            (
                "other ticket",
                &k,
                flip(&t, 0),
                "SMSU",
                "alice@univ.fr",
                None,
            ),
        ];
        for (case, key, token, code, recipient, want) in table {
            assert_eq!(
                key.verify(&token, &offer(code), recipient),
                want.map(TicketId),
                "{case}"
            );
        }
    }

    #[test]
    fn only_token_shaped_suffixes_parse() {
        let t = key().sign(&offer("SMSU"), TicketId(7), "a@b.fr");
        assert_eq!(Token::parse(&t.as_str().to_uppercase()), Some(t.clone()));
        for bad in [
            "incident",
            "demande",
            "request",
            "changement",
            "change",
            "I-000042",
            "7",
            "7-",
            "-abcdefghijklmnop",
            "7-abcdefghijklmno",
            "7-abcdefghijklmnopq",
            "7-abcdefghijklmn01",
            "7_abcdefghijklmnop",
            "00000000000000-abcdefghijklmnop",
            "",
        ] {
            assert_eq!(Token::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn tokens_are_found_only_on_our_support_addresses() {
        let t = key().sign(&offer("SMSU"), TicketId(3), "a@b.fr");
        let ours = vec!["support-smsu@univ.fr".to_owned()];
        let on_ours = reply_address("support-smsu@univ.fr", &t);
        let shouting = on_ours.to_uppercase();
        let elsewhere = format!("someone+{}@univ.fr", t.as_str());
        // (case, recipients, found)
        let table: [(&str, Vec<&str>, bool); 6] = [
            ("reply-to address", vec![on_ours.as_str()], true),
            ("upper-cased by an MTA", vec![shouting.as_str()], true),
            (
                "after a plain recipient",
                vec!["x@y.fr", on_ours.as_str()],
                true,
            ),
            ("kind suffix", vec!["support-smsu+incident@univ.fr"], false),
            ("another address's suffix", vec![elsewhere.as_str()], false),
            ("no suffix", vec!["support-smsu@univ.fr"], false),
        ];
        for (case, recipients, found) in table {
            let got = find(&recipients, &ours);
            assert_eq!(got.as_ref(), found.then_some(&t), "{case}");
        }
        assert_eq!(
            on_ours,
            format!("support-smsu+{}@univ.fr", t.as_str()),
            "the token goes after a plus"
        );
    }

    #[test]
    fn our_ids_verify_with_a_key_and_go_by_domain_without() {
        let signed = OurIds::new("esup.fr", Some(key()));
        let unsigned = OurIds::new("esup.fr", None);
        let id = signed.make("0f3c9a");
        assert!(id.as_str().ends_with(".guichet@esup.fr"), "{id}");
        let forged = MessageId::new("0f3c9a.guichet@esup.fr").unwrap();
        let tampered = MessageId::new(&id.as_str().replacen("0f3c9a", "0f3c9b", 1)).unwrap();
        let other_key = OurIds::new("esup.fr", TokenKey::new("another key")).make("0f3c9a");
        let (unique, _) = id.as_str().split_once(".guichet@").unwrap();
        let (uuid, sig) = unique.split_once('.').unwrap();
        let short_sig = MessageId::new(&format!("{uuid}.{}.guichet@esup.fr", &sig[..2])).unwrap();
        // (case, ids, id, ours)
        let table = [
            ("signed by us", &signed, id.clone(), true),
            ("forged on our domain", &signed, forged.clone(), false),
            ("uuid changed", &signed, tampered, false),
            ("another key", &signed, other_key, false),
            ("shortened signature", &signed, short_sig, false),
            ("no key: domain is enough", &unsigned, forged, true),
            (
                "no key, other domain",
                &unsigned,
                MessageId::new("a.guichet@x.fr").unwrap(),
                false,
            ),
            (
                "no key, made unsigned",
                &unsigned,
                unsigned.make("u1"),
                true,
            ),
        ];
        for (case, ids, id, want) in table {
            assert_eq!(ids.is_ours(&id), want, "{case}: {id}");
        }
    }

    #[test]
    fn empty_secrets_make_no_key() {
        assert!(TokenKey::new("").is_none());
        assert_eq!(format!("{:?}", key()), "TokenKey([redacted])");
    }

    proptest! {
        #[test]
        fn every_token_verifies_for_its_ticket_and_no_single_change_does(
            ticket in 1i64..i64::MAX,
            recipient in "[a-z0-9.]{1,20}@[a-z]{1,10}\\.fr",
            at in 0usize..64,
        ) {
            let (k, smsu) = (key(), offer("SMSU"));
            let t = k.sign(&smsu, TicketId(ticket), &recipient);
            prop_assert_eq!(Token::parse(t.as_str()), Some(t.clone()));
            prop_assert_eq!(k.verify(&t, &smsu, &recipient), Some(TicketId(ticket)));
            let changed = flip(&t, at % t.as_str().len());
            if changed != t {
                prop_assert_eq!(k.verify(&changed, &smsu, &recipient), None);
            }
        }

        #[test]
        fn base32_and_base36_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..32), n in any::<u64>()) {
            prop_assert_eq!(unbase32(&base32(&bytes)), Some(bytes));
            prop_assert_eq!(unbase36(&base36(n)), Some(n));
        }

        #[test]
        fn parsing_and_finding_never_panic(s in "\\PC{0,80}") {
            let _ = Token::parse(&s);
            let _ = find(&[s.as_str()], &["support@x.fr".to_owned()]);
        }
    }
}
