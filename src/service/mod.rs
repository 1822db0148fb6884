//! Use cases, one transaction each: take mail in, act on tickets as an operator, replay the
//! quarantine, send the outbox, mirror the configuration into the store, report on a period.
//!
//! Services fetch what the pure decisions need from the store, call `domain`, and commit the
//! outcome together with its dedupe key, events and outbox rows. They hold no SQL and no
//! protocol code.

pub mod acks;
pub mod attachments;
pub mod bounces;
pub mod deliver;
pub mod ingest;
pub mod inspect;
pub mod jobs;
pub mod links;
pub mod notices;
pub mod operator;
pub mod outbox;
pub mod report;
pub mod sla;
pub mod sync;

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{Config, OfferConfig};
use crate::domain::recipients::OwnAddresses;
use crate::domain::token::{OurIds, TokenKey};
use crate::domain::{Mailbox, MessageId};
use crate::store::Store;

/// What every use case needs: the store, the configuration and the clock.
#[derive(Clone)]
pub struct Context {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    /// Who claims outbox rows, see [`instance_id`]: a one-shot command by default, the
    /// daemon once [`Context::as_daemon`] made it so.
    pub instance: Arc<str>,
    /// Every offer's support addresses, built once from the configuration.
    own: Arc<OwnAddresses>,
    /// How our Message-IDs are made and recognised, signed with `mail.hmac_key` when set.
    our_ids: Arc<OurIds>,
    /// Told after a transaction that wrote an SLA deadline earlier than the escalator's next
    /// look commits: the escalator of this process sleeps until its earliest deadline.
    pub deadlines: Arc<DeadlineWatch>,
}

/// How the escalator of this process is woken: it says when it will look next
/// ([`DeadlineWatch::planned`]), and a transaction writing an earlier deadline wakes it on
/// commit. Most deadlines (a new ticket's, hours away) wake nobody: taking mail in does not
/// set the escalator running after every message.
#[derive(Debug)]
pub struct DeadlineWatch {
    pub notify: Arc<tokio::sync::Notify>,
    /// When the escalator looks next, in microseconds since the epoch; `i64::MAX` while it
    /// does not say (no escalator in this process: every deadline counts as earlier).
    planned: std::sync::atomic::AtomicI64,
}

impl Default for DeadlineWatch {
    fn default() -> Self {
        Self {
            notify: Arc::default(),
            planned: std::sync::atomic::AtomicI64::new(i64::MAX),
        }
    }
}

impl DeadlineWatch {
    /// The escalator will look again at `at`.
    pub fn planned(&self, at: chrono::DateTime<chrono::Utc>) {
        self.planned
            .store(at.timestamp_micros(), std::sync::atomic::Ordering::Release);
    }

    /// The escalator is looking now: a deadline written meanwhile may be one it has missed,
    /// so every one wakes it for another look.
    pub fn looking(&self) {
        self.planned
            .store(i64::MAX, std::sync::atomic::Ordering::Release);
    }

    /// Does a deadline due at `due` need the escalator before its planned look.
    pub fn is_earlier(&self, due: chrono::DateTime<chrono::Utc>) -> bool {
        due.timestamp_micros() < self.planned.load(std::sync::atomic::Ordering::Acquire)
    }
}

impl Context {
    pub fn new(store: Store, config: Arc<Config>, clock: Arc<dyn Clock>) -> Self {
        let instance = format!("{}:pid{}", instance_id(&config), std::process::id()).into();
        let own = Arc::new(OwnAddresses::new(
            config
                .offers
                .iter()
                .flat_map(|o| o.support_addresses.iter().map(String::as_str)),
        ));
        let key = config
            .mail
            .hmac_key
            .as_ref()
            .and_then(|k| TokenKey::new(k.expose()));
        let our_ids = Arc::new(OurIds::new(&config.mail.message_id_domain, key));
        Self {
            store,
            config,
            clock,
            instance,
            own,
            our_ids,
            deadlines: Arc::default(),
        }
    }

    /// The daemon's context: its claims carry [`instance_id`] alone, the same after a
    /// restart, so a restarted daemon takes back the outbox rows it held when it stopped
    /// instead of waiting for their lease to end. One-shot commands (`deliver`) running beside
    /// it keep their own ids: the daemon never takes back a claim of a live `deliver`.
    pub fn as_daemon(mut self) -> Self {
        self.instance = instance_id(&self.config).into();
        self
    }

    /// A fresh Message-ID for mail we send, recognisable by [`OurIds::is_ours`].
    pub fn new_message_id(&self) -> MessageId {
        self.our_ids
            .make(&uuid::Uuid::new_v4().simple().to_string())
    }

    /// Recognises our own Message-IDs (by signature when a key is set): the loop guard,
    /// bounce matching and threading all ask this.
    pub fn our_ids(&self) -> &OurIds {
        &self.our_ids
    }

    /// The reply-token key; `None` when `mail.hmac_key` is not set (tokens off).
    pub fn token_key(&self) -> Option<&TokenKey> {
        self.our_ids.key()
    }

    /// The support addresses of every offer: never a contact, a participant or a recipient.
    pub fn own_addresses(&self) -> &OwnAddresses {
        &self.own
    }

    /// The mailbox outbound mail of an offer comes from.
    pub fn offer_mailbox(offer: &OfferConfig) -> Mailbox {
        let address = offer
            .support_addresses
            .first()
            .map(String::as_str)
            .unwrap_or_default();
        Mailbox::new(Some(&offer.name), address)
    }
}

/// A use-case failure: either the store (maybe transient) or a refusal to report as is.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Refused(String),
    /// The source moved under the use case (an IMAP mailbox started over by another instance):
    /// nothing was stored, and trying again later is right.
    #[error("{0}")]
    Retry(String),
}

impl ServiceError {
    pub fn is_transient(&self) -> bool {
        match self {
            ServiceError::Store(e) => e.is_transient(),
            ServiceError::Refused(_) => false,
            ServiceError::Retry(_) => true,
        }
    }

    /// The error and its causes on one line, each once (see [`crate::error::chain`]; a
    /// store error is transparent, so this is the store's own detail).
    pub fn detail(&self) -> String {
        crate::error::chain(self)
    }
}

/// The host and the data directory: one daemon's identity, stable across its restarts.
pub fn instance_id(config: &Config) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", config.daemon.data_dir.display())
}
