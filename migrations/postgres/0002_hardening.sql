-- guichet 0002, PostgreSQL flavour: long Message-IDs and addresses are stored as on SQLite,
-- outbox claims name their instance, every quarantine replay is kept, and tickets can be
-- linked to tickets of other offers.
--
-- ticket_links.relation (0001) takes 'follows_up' / 'followed_by' (a new ticket opened by a
-- reply to a closed one, and the other direction) and 'possibly_related' (both ways).

-- ----- long values -----
-- A B-tree index row holds at most ~2.7 KB: a longer Message-ID, dedupe key or address made
-- the insert fail, and the message was quarantined where SQLite stores it. Indexes and keys
-- now hold the SHA-256 of the value (32 bytes) instead of the value. Lookups compare the key
-- and then the value itself, and uniqueness is on the SHA-256: exact, unlike md5, whose
-- collisions can be made on purpose.
--
-- The text's UTF-8 bytes, without convert_to() (only STABLE, so not allowed in an index or a
-- generated column): text -> bytea goes through bytea's input syntax, where a backslash is
-- the only special character once doubled (a doubled one can never start the \x hex form).
-- chr(92) is the backslash: a '\' literal would read differently in a session with
-- standard_conforming_strings off.
CREATE FUNCTION guichet_key(value text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT sha256(replace(value, chr(92), chr(92) || chr(92))::bytea) $$;

DROP INDEX articles_by_message_id;
CREATE INDEX articles_by_message_key ON articles (tenant_id, guichet_key(message_id));
DROP INDEX outbox_by_message_id;
CREATE INDEX outbox_by_message_key ON outbox (tenant_id, guichet_key(message_id));

ALTER TABLE inbound_receipts
    ADD COLUMN dedupe_key_sha256 BYTEA GENERATED ALWAYS AS (guichet_key(dedupe_key)) STORED;
ALTER TABLE inbound_receipts DROP CONSTRAINT inbound_receipts_pkey;
ALTER TABLE inbound_receipts ADD PRIMARY KEY (tenant_id, dedupe_key_sha256);

ALTER TABLE contact_addresses
    ADD COLUMN address_sha256 BYTEA GENERATED ALWAYS AS (guichet_key(address)) STORED;
ALTER TABLE contact_addresses DROP CONSTRAINT contact_addresses_pkey;
ALTER TABLE contact_addresses ADD PRIMARY KEY (tenant_id, kind, address_sha256);

-- ----- outbox claims -----
-- The instance (hostname and data directory) whose claim `claimed_until` is: after a crash,
-- the restarted instance releases its own claims instead of waiting for the lease to end.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;

-- ----- quarantine replays -----
-- One row per replay of a quarantined message, in order. quarantine.replayed_at and
-- replay_outcome stay as the latest replay's.
CREATE TABLE quarantine_replays (
    tenant_id      TEXT NOT NULL,
    quarantine_id  BIGINT NOT NULL,
    seq            BIGINT NOT NULL,        -- 1, 2, ... per quarantined message
    replayed_at    TIMESTAMPTZ NOT NULL,
    outcome        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, quarantine_id, seq)
);
INSERT INTO quarantine_replays (tenant_id, quarantine_id, seq, replayed_at, outcome)
SELECT tenant_id, id, 1, replayed_at, replay_outcome FROM quarantine
WHERE replayed_at IS NOT NULL AND replay_outcome IS NOT NULL;

-- ----- cross-offer links -----
-- A ticket's link to a ticket of another offer (one mail sent to two offers' addresses).
-- The other side is named by offer code and ref, not by id: each offer only ever reads its
-- own rows (row-level security), and each side records its own link.
CREATE TABLE offer_links (
    tenant_id     TEXT NOT NULL,
    ticket_id     BIGINT NOT NULL,
    other_tenant  TEXT NOT NULL,
    other_ref     TEXT NOT NULL,           -- 'I-000042'
    relation      TEXT NOT NULL,           -- 'same_message'
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, ticket_id, other_tenant, other_ref)
);

ALTER TABLE quarantine_replays ENABLE ROW LEVEL SECURITY;
ALTER TABLE quarantine_replays FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON quarantine_replays
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE offer_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE offer_links FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON offer_links
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
