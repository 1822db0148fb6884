-- guichet schema, PostgreSQL flavour. Every table leads its primary key with tenant_id (the
-- offer's code), so the schema can be distributed by tenant (Citus). Ids come from one
-- sequence per table. Row-level security (at the end) enforces the tenant again.

CREATE TABLE offers (
    tenant_id        TEXT NOT NULL PRIMARY KEY,
    name             TEXT NOT NULL,
    provider         TEXT NOT NULL,
    locale           TEXT NOT NULL,
    support_address  TEXT NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE institutions (
    tenant_id  TEXT NOT NULL,
    id         BIGINT NOT NULL,
    key        TEXT NOT NULL,
    name       TEXT NOT NULL,
    domains    TEXT NOT NULL,              -- lower-case mail domains, space-separated
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, key)
);

CREATE TABLE contacts (
    tenant_id       TEXT NOT NULL,
    id              BIGINT NOT NULL,
    name            TEXT,
    institution_id  BIGINT,
    origin          TEXT NOT NULL,         -- 'config' or 'inbound' (created from a sender)
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE contact_addresses (
    tenant_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,             -- 'email' or 'matrix'
    address     TEXT NOT NULL,             -- lower-case
    contact_id  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind, address)
);

CREATE TABLE contact_roles (
    tenant_id   TEXT NOT NULL,
    contact_id  BIGINT NOT NULL,
    role        TEXT NOT NULL,             -- 'requester', 'agent', 'governance'
    PRIMARY KEY (tenant_id, contact_id, role)
);

CREATE TABLE ticket_counters (
    tenant_id    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    last_number  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind)
);

CREATE TABLE tickets (
    tenant_id          TEXT NOT NULL,
    id                 BIGINT NOT NULL,
    kind               TEXT NOT NULL,
    number             BIGINT NOT NULL,
    title              TEXT NOT NULL,
    status             TEXT NOT NULL,
    priority           TEXT NOT NULL,
    requester_id       BIGINT,
    institution_id     BIGINT,
    assignee_id        BIGINT,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    first_response_at  TIMESTAMPTZ,
    resolved_at        TIMESTAMPTZ,
    closed_at          TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, kind, number)
);
CREATE INDEX tickets_by_status ON tickets (tenant_id, status, id);

CREATE TABLE ticket_links (
    tenant_id  TEXT NOT NULL,
    ticket_id  BIGINT NOT NULL,
    other_id   BIGINT NOT NULL,
    relation   TEXT NOT NULL,              -- 'follows_up', 'possibly_related'
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, ticket_id, other_id)
);

CREATE TABLE participants (
    tenant_id   TEXT NOT NULL,
    ticket_id   BIGINT NOT NULL,
    contact_id  BIGINT NOT NULL,
    role        TEXT NOT NULL,             -- 'requester', 'cc', 'agent'
    PRIMARY KEY (tenant_id, ticket_id, contact_id)
);

-- Raw messages as received, content-addressed: the same bytes are stored once per offer.
CREATE TABLE raw_messages (
    tenant_id    TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    data         BYTEA NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
);

CREATE TABLE articles (
    tenant_id          TEXT NOT NULL,
    id                 BIGINT NOT NULL,
    ticket_id          BIGINT NOT NULL,
    channel            TEXT NOT NULL,      -- 'pipe', 'maildir', 'imap', 'cli', ...
    direction          TEXT NOT NULL,      -- 'in', 'out', 'internal'
    author_contact_id  BIGINT,
    author_label       TEXT,               -- operator name for CLI articles
    message_id         TEXT,
    in_reply_to        TEXT,
    references_ids     TEXT,               -- space-separated, oldest first
    subject            TEXT,
    body_text          TEXT NOT NULL,
    body_html          TEXT,
    raw_sha256         TEXT,
    auto_reason        TEXT,               -- why the loop guard kept us from answering
    created_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX articles_by_ticket ON articles (tenant_id, ticket_id, id);
CREATE INDEX articles_by_message_id ON articles (tenant_id, message_id);

-- Attachment contents, content-addressed, and where they appear.
CREATE TABLE attachment_blobs (
    tenant_id  TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    size       BIGINT NOT NULL,
    data       BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
);

CREATE TABLE article_attachments (
    tenant_id     TEXT NOT NULL,
    article_id    BIGINT NOT NULL,
    position      BIGINT NOT NULL,
    filename      TEXT,
    content_type  TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, article_id, position)
);

-- Dedupe keys of everything taken in ('mid:<message-id>', later 'imap:<box>:<validity>:<uid>').
CREATE TABLE inbound_receipts (
    tenant_id    TEXT NOT NULL,
    dedupe_key   TEXT NOT NULL,
    channel      TEXT NOT NULL,
    outcome      TEXT NOT NULL,            -- 'article', 'refused'
    content_sha256 TEXT NOT NULL,          -- digest of bodies and attachments (see InboundEmail)
    ticket_id    BIGINT,
    article_id   BIGINT,
    received_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, dedupe_key)
);

CREATE TABLE quarantine (
    tenant_id       TEXT NOT NULL,
    id              BIGINT NOT NULL,
    channel         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    sha256          TEXT NOT NULL,         -- of data: the same bytes are quarantined once
    size            BIGINT NOT NULL,
    data            BYTEA NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL,
    replayed_at     TIMESTAMPTZ,
    replay_outcome  TEXT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, sha256)
);

CREATE TABLE outbox (
    tenant_id        TEXT NOT NULL,
    id               BIGINT NOT NULL,
    ticket_id        BIGINT,
    template         TEXT NOT NULL,
    locale           TEXT NOT NULL,
    context          JSONB NOT NULL,       -- JSON given to the template
    from_address     TEXT NOT NULL,
    recipients       TEXT NOT NULL,        -- JSON array of {name, address}
    message_id       TEXT NOT NULL,
    in_reply_to      TEXT,
    references_ids   TEXT,
    auto_submitted   TEXT,
    status           TEXT NOT NULL,        -- 'pending', 'sent', 'failed'
    attempts         BIGINT NOT NULL,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    claimed_until    TIMESTAMPTZ,
    last_error       TEXT,
    sent_at          TIMESTAMPTZ,
    sent_ref         TEXT,                 -- where it went (file path, SMTP queue id)
    created_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX outbox_due ON outbox (tenant_id, status, next_attempt_at);
CREATE INDEX outbox_by_message_id ON outbox (tenant_id, message_id);

-- Append-only: who changed what, when.
CREATE TABLE events (
    tenant_id  TEXT NOT NULL,
    id         BIGINT NOT NULL,
    ticket_id  BIGINT,
    at         TIMESTAMPTZ NOT NULL,
    actor      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    data       JSONB NOT NULL,             -- JSON
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX events_by_ticket ON events (tenant_id, ticket_id, id);

CREATE FUNCTION guichet_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION guichet_events_append_only();

-- One id sequence per table that has ids (the store calls nextval).
CREATE SEQUENCE institutions_id_seq;
CREATE SEQUENCE contacts_id_seq;
CREATE SEQUENCE tickets_id_seq;
CREATE SEQUENCE articles_id_seq;
CREATE SEQUENCE quarantine_id_seq;
CREATE SEQUENCE outbox_id_seq;
CREATE SEQUENCE events_id_seq;

-- Row-level security: a transaction sees and writes only the offer named by
-- `SET LOCAL guichet.tenant` (set_config(..., true)); without it, nothing. FORCE makes the
-- policies apply to the table owner too; the daemon's role must be neither superuser nor
-- BYPASSRLS, which skip every policy.
ALTER TABLE offers ENABLE ROW LEVEL SECURITY;
ALTER TABLE offers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON offers
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE institutions ENABLE ROW LEVEL SECURITY;
ALTER TABLE institutions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON institutions
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE contacts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON contacts
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE contact_addresses ENABLE ROW LEVEL SECURITY;
ALTER TABLE contact_addresses FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON contact_addresses
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE contact_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE contact_roles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON contact_roles
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE ticket_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE ticket_counters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ticket_counters
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE tickets ENABLE ROW LEVEL SECURITY;
ALTER TABLE tickets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tickets
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE ticket_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE ticket_links FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ticket_links
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE participants ENABLE ROW LEVEL SECURITY;
ALTER TABLE participants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON participants
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE raw_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE raw_messages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON raw_messages
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE articles ENABLE ROW LEVEL SECURITY;
ALTER TABLE articles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON articles
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE attachment_blobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE attachment_blobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON attachment_blobs
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE article_attachments ENABLE ROW LEVEL SECURITY;
ALTER TABLE article_attachments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON article_attachments
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE inbound_receipts ENABLE ROW LEVEL SECURITY;
ALTER TABLE inbound_receipts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON inbound_receipts
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE quarantine ENABLE ROW LEVEL SECURITY;
ALTER TABLE quarantine FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON quarantine
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbox
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON events
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
