//! The sender seam: every outbound delivery goes through [`Sender`], whatever the channel.
//! The `.eml` file transport ([`FileSender`](super::outbound::FileSender)) is the first
//! implementation; SMTP and Matrix come next, each in its own adapter module.
//!
//! A sender takes a fully decided [`OutboundMail`] and says where it went, or why not in the
//! two words the outbox acts on: [`SendError::Transient`] (retry later, not before
//! `retry_after` when the channel names a time) or [`SendError::Permanent`] (give up). Each
//! adapter classifies its own failures in one place, with a table test next to it (the model
//! is lettre's `is_transient` / `is_permanent`). Senders know nothing of tickets, templates
//! or the outbox table.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::outbound::OutboundMail;

/// What [`Sender::send`] returns: boxed, so that `dyn Sender` works (senders are chosen by
/// configuration at start and held as `Arc<dyn Sender>`).
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Sent, SendError>> + Send + 'a>>;

/// One outbound channel.
pub trait Sender: Send + Sync {
    /// Delivers one message. IO runs off the runtime's async threads (on the blocking pool
    /// for file and other blocking IO).
    fn send<'a>(&'a self, mail: &'a OutboundMail) -> SendFuture<'a>;
}

/// A delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Where it went, recorded on the outbox row: a file path, later an SMTP queue id or a
    /// Matrix event id.
    pub reference: String,
}

/// Why a message was not delivered, in the terms the outbox acts on. Reasons name no address
/// or subject, since they are logged and stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The message cannot go out as it is (bad address, unknown template, refused by the
    /// server): retrying will not help. `recipient_refused` when the server said the
    /// recipient is at fault (no such mailbox, mailbox disabled): the outbox marks it bouncing.
    #[error("{reason}")]
    Permanent {
        reason: String,
        recipient_refused: bool,
    },
    /// The channel failed (disk full, server away): retry later, not before `retry_after`
    /// when the channel names a time.
    #[error("{reason}")]
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
}

impl SendError {
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent {
            reason: reason.into(),
            recipient_refused: false,
        }
    }

    /// A permanent failure the server put down to the recipient.
    pub fn recipient_refused(reason: impl Into<String>) -> Self {
        Self::Permanent {
            reason: reason.into(),
            recipient_refused: true,
        }
    }

    /// Whether the server refused the recipient for good (see [`SendError::Permanent`]).
    pub fn is_recipient_refused(&self) -> bool {
        matches!(
            self,
            Self::Permanent {
                recipient_refused: true,
                ..
            }
        )
    }

    /// A transient failure with no time named by the channel (the outbox's backoff applies).
    pub fn transient(reason: impl Into<String>) -> Self {
        Self::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent { .. })
    }

    /// The earliest retry the channel asked for, if it named one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Transient { retry_after, .. } => *retry_after,
            Self::Permanent { .. } => None,
        }
    }
}
