-- guichet 0008, PostgreSQL flavour: which instance reads a mailbox.
--
-- Several instances may share one PostgreSQL database and one configuration; each IMAP
-- mailbox is then read by one of them at a time: the holder renews its lease well before
-- held_until, and another instance takes the mailbox over only once the lease has run out
-- (the holder died) or was given back (it stopped). Exactly-once does not depend on this
-- (the UID and the dedupe keys are recorded with each message); the lease spares the
-- duplicate work and the competing flags and moves.
CREATE TABLE mailbox_leases (
    tenant_id   TEXT NOT NULL,
    mailbox     TEXT NOT NULL,
    holder      TEXT NOT NULL,            -- the instance id, as outbox claims name it
    held_until  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, mailbox)
);

ALTER TABLE mailbox_leases ENABLE ROW LEVEL SECURITY;
ALTER TABLE mailbox_leases FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON mailbox_leases
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
