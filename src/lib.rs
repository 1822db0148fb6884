//! guichet turns support mail (and, later, Matrix chat) into tickets for hosted software
//! offers, threads every reply into its ticket, and tells people what happened.
//!
//! Layout, from the inside out:
//! - [`domain`]: pure values and decisions (ids, tickets, threading, loop guard, routing);
//! - [`store`]: the tenant-partitioned database (SQLite or PostgreSQL), SQL only;
//! - [`channels`]: adapters that turn bytes into values and values into bytes (mail parsing,
//!   Maildir, MTA pipe), and the `Sender` seam every outbound message goes through (`.eml`
//!   files first);
//! - [`notify`] renders the templates, [`report_render`] `guichet report`'s four formats;
//! - [`service`]: use cases, one transaction each (ingest, operator commands, quarantine);
//! - [`workers`]: supervised loops (Maildir watcher, outbox sender);
//! - [`config`], [`clock`], [`shutdown`], [`app`], [`cli`]: wiring; [`affinity`] keeps the
//!   daemon's threads on one CPU on SQLite;
//! - [`error`]: one way to print an error and its causes on one line.

pub mod affinity;
pub mod app;
pub mod channels;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod notify;
pub mod report_render;
pub mod service;
pub mod shutdown;
pub mod store;
pub mod workers;
