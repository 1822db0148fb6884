//! Adapters between bytes and values: mail parsing (pure), outbound mail building and the
//! `.eml` file transport, the Maildir drop folder and the MTA pipe. They know nothing of
//! tickets; each says whether its failures are transient (retry) or permanent (quarantine).

pub mod mail;
pub mod maildir;
pub mod outbound;
