//! Adapters between bytes and values: mail parsing (pure), outbound mail building, the `.eml`
//! file transport and SMTP, IMAP, the Maildir drop folder and the MTA pipe. They know nothing of
//! tickets; each says whether its failures are transient (retry) or permanent (quarantine).
//! All outbound delivery goes through the [`Sender`] seam ([`sender`]).

pub mod imap;
pub mod mail;
pub mod maildir;
pub mod oauth2;
pub mod outbound;
pub mod sender;
pub mod smtp;

pub use sender::{SendError, SendFuture, Sender, Sent};
