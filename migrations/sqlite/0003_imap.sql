-- guichet 0003, SQLite flavour: the IMAP mailboxes' place and counters.
--
-- One row per mailbox (its name in the configuration). `last_uid` is the highest UID whose
-- message is stored: it is written in the same transaction as the message, so a message is
-- taken in once whatever happens between its commit and the acknowledgement to the server.
-- `acked_uid` is the highest UID acknowledged to the server (flag or move), so that after a
-- crash the messages stored but not yet acknowledged are acknowledged at the next connection.
-- A new UIDVALIDITY starts both over at 0; Message-ID dedupe keeps the re-read from doubling.
CREATE TABLE mailbox_state (
    tenant_id        TEXT NOT NULL,
    mailbox          TEXT NOT NULL,
    uidvalidity      INTEGER NOT NULL,
    last_uid         INTEGER NOT NULL DEFAULT 0,
    acked_uid        INTEGER NOT NULL DEFAULT 0,
    -- counters since the row was created, for metrics
    ingested         INTEGER NOT NULL DEFAULT 0,   -- stored (new ticket, reply, refused)
    duplicates       INTEGER NOT NULL DEFAULT 0,   -- taken in before: nothing done
    quarantined      INTEGER NOT NULL DEFAULT 0,
    loop_suppressed  INTEGER NOT NULL DEFAULT 0,   -- machine mail: stored, never answered
    mode             TEXT,                         -- 'idle' or 'polling', at the last sync
    last_sync_at     TEXT,                         -- the last time the mailbox was drained
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, mailbox)
);
