-- guichet 0008, SQLite flavour: which instance reads a mailbox.
--
-- Several instances may share one PostgreSQL database and one configuration; each IMAP
-- mailbox is then read by one of them at a time: the holder renews its lease well before
-- held_until, and another instance takes the mailbox over only once the lease has run out
-- (the holder died) or was given back (it stopped). Exactly-once does not depend on this
-- (the UID and the dedupe keys are recorded with each message); the lease spares the
-- duplicate work and the competing flags and moves. With SQLite, one daemon owns the data
-- directory, and the lease is always its own.
CREATE TABLE mailbox_leases (
    tenant_id   TEXT NOT NULL,
    mailbox     TEXT NOT NULL,
    holder      TEXT NOT NULL,            -- the instance id, as outbox claims name it
    held_until  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, mailbox)
);
