//! Outbound mail: [`OutboundMail`] values -> RFC 5322 messages (lettre), written as `.eml`
//! files by lettre's file transport.

use std::path::{Path, PathBuf};

use crate::domain::{Mailbox, MessageId};

/// One message to send, fully decided: rendering and addressing happened before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMail {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub message_id: MessageId,
    pub in_reply_to: Option<MessageId>,
    pub references: Vec<MessageId>,
    /// `Auto-Submitted` value (`auto-replied`, `auto-generated`), or none for human replies.
    pub auto_submitted: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The message itself is wrong (bad address...): retrying will not help.
    #[error("cannot build message: {0}")]
    Permanent(String),
    /// The transport failed (disk full, permissions): retry later.
    #[error("cannot write message: {0}")]
    Transient(String),
}

/// Writes messages as `.eml` files into a directory.
pub struct FileSender {
    dir: PathBuf,
}

impl FileSender {
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_owned() }
    }

    /// Writes the message; returns the file's path.
    pub fn send(&self, mail: &OutboundMail) -> Result<PathBuf, SendError> {
        let _ = (mail, &self.dir);
        todo!("written by the notify helper")
    }
}
