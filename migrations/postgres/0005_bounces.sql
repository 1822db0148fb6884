-- guichet 0005, PostgreSQL flavour: addresses that bounce, and acknowledgements sent (rate limit).
--
-- One row per offer and address: the latest bounce that reported it. While
-- suppressed_until is ahead, the outbox queues no mail to it (a hard bounce: unknown user,
-- domain gone). A soft bounce (mailbox full, delayed) is recorded with suppressed_until
-- equal to bounced_at: noted, never suppressed.
CREATE TABLE bouncing_addresses (
    tenant_id         TEXT NOT NULL,
    address           TEXT NOT NULL,           -- lower-cased local@domain
    severity          TEXT NOT NULL,           -- 'permanent' | 'transient'
    status            TEXT,                    -- RFC 3463 status, '5.1.1', when given
    ticket_id         BIGINT,                  -- the ticket the bounce was noted in
    bounced_at        TIMESTAMPTZ NOT NULL,
    suppressed_until  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, address)
);

ALTER TABLE bouncing_addresses ENABLE ROW LEVEL SECURITY;
ALTER TABLE bouncing_addresses FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON bouncing_addresses
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));

-- Acknowledgements sent, per offer and address, for the per-sender rate limit
-- (mail.ack_limit per mail.ack_limit_window_minutes). Addresses are at most 254 characters
-- (RFC 5321), which the service checks before writing.
CREATE TABLE acknowledgements (
    tenant_id  TEXT NOT NULL,
    address    TEXT NOT NULL,
    sent_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX acknowledgements_by_address ON acknowledgements (tenant_id, address, sent_at);

ALTER TABLE acknowledgements ENABLE ROW LEVEL SECURITY;
ALTER TABLE acknowledgements FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON acknowledgements
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
