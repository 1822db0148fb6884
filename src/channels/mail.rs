//! Raw bytes -> [`InboundEmail`], with mail-parser. Pure: no IO, never panics on input.

use crate::domain::InboundEmail;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty message")]
    Empty,
    #[error("not an email message: {0}")]
    NotAMessage(String),
    #[error("no sender address (From)")]
    NoSender,
}

/// Parses one message. `Err` means quarantine, with the error as the reason.
pub fn parse(raw: &[u8]) -> Result<InboundEmail, ParseError> {
    let _ = raw;
    todo!("written by the mail-parsing helper")
}
