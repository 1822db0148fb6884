-- guichet 0003, PostgreSQL flavour: the IMAP mailboxes' place and counters.
--
-- One row per mailbox (its name in the configuration). `last_uid` is the highest UID whose
-- message is stored: it is written in the same transaction as the message, so a message is
-- taken in once whatever happens between its commit and the acknowledgement to the server.
-- `acked_uid` is the highest UID acknowledged to the server (flag or move), so that after a
-- crash the messages stored but not yet acknowledged are acknowledged at the next connection.
-- A new UIDVALIDITY starts both over at 0; Message-ID dedupe keeps the re-read from doubling.
-- UIDs and UIDVALIDITY are 32-bit unsigned in IMAP: BIGINT holds them.
CREATE TABLE mailbox_state (
    tenant_id        TEXT NOT NULL,
    mailbox          TEXT NOT NULL,
    uidvalidity      BIGINT NOT NULL,
    last_uid         BIGINT NOT NULL DEFAULT 0,
    acked_uid        BIGINT NOT NULL DEFAULT 0,
    -- counters since the row was created, for metrics
    ingested         BIGINT NOT NULL DEFAULT 0,   -- stored (new ticket, reply, refused)
    duplicates       BIGINT NOT NULL DEFAULT 0,   -- taken in before: nothing done
    quarantined      BIGINT NOT NULL DEFAULT 0,
    loop_suppressed  BIGINT NOT NULL DEFAULT 0,   -- machine mail: stored, never answered
    mode             TEXT,                        -- 'idle' or 'polling', at the last sync
    last_sync_at     TIMESTAMPTZ,                 -- the last time the mailbox was drained
    updated_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, mailbox)
);

ALTER TABLE mailbox_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE mailbox_state FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON mailbox_state
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
