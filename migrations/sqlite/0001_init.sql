-- guichet schema, SQLite flavour. Every table leads its primary key with tenant_id (the
-- offer's code). Times are RFC 3339 text in UTC; ids are allocated per table by the store
-- (MAX+1 under SQLite's single writer, see store/sqlite.rs).

CREATE TABLE offers (
    tenant_id        TEXT NOT NULL PRIMARY KEY,
    name             TEXT NOT NULL,
    provider         TEXT NOT NULL,
    locale           TEXT NOT NULL,
    support_address  TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

CREATE TABLE institutions (
    tenant_id  TEXT NOT NULL,
    id         INTEGER NOT NULL,
    key        TEXT NOT NULL,
    name       TEXT NOT NULL,
    domains    TEXT NOT NULL,              -- lower-case mail domains, space-separated
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, key)
);

CREATE TABLE contacts (
    tenant_id       TEXT NOT NULL,
    id              INTEGER NOT NULL,
    name            TEXT,
    institution_id  INTEGER,
    origin          TEXT NOT NULL,         -- 'config' or 'inbound' (created from a sender)
    created_at      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE contact_addresses (
    tenant_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,             -- 'email' or 'matrix'
    address     TEXT NOT NULL,             -- lower-case
    contact_id  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind, address)
);

CREATE TABLE contact_roles (
    tenant_id   TEXT NOT NULL,
    contact_id  INTEGER NOT NULL,
    role        TEXT NOT NULL,             -- 'requester', 'agent', 'governance'
    PRIMARY KEY (tenant_id, contact_id, role)
);

CREATE TABLE ticket_counters (
    tenant_id    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    last_number  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind)
);

CREATE TABLE tickets (
    tenant_id          TEXT NOT NULL,
    id                 INTEGER NOT NULL,
    kind               TEXT NOT NULL,
    number             INTEGER NOT NULL,
    title              TEXT NOT NULL,
    status             TEXT NOT NULL,
    priority           TEXT NOT NULL,
    requester_id       INTEGER,
    institution_id     INTEGER,
    assignee_id        INTEGER,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    first_response_at  TEXT,
    resolved_at        TEXT,
    closed_at          TEXT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, kind, number)
);
CREATE INDEX tickets_by_status ON tickets (tenant_id, status, id);

CREATE TABLE ticket_links (
    tenant_id  TEXT NOT NULL,
    ticket_id  INTEGER NOT NULL,
    other_id   INTEGER NOT NULL,
    relation   TEXT NOT NULL,              -- 'follows_up', 'possibly_related'
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, ticket_id, other_id)
);

CREATE TABLE participants (
    tenant_id   TEXT NOT NULL,
    ticket_id   INTEGER NOT NULL,
    contact_id  INTEGER NOT NULL,
    role        TEXT NOT NULL,             -- 'requester', 'cc', 'agent'
    PRIMARY KEY (tenant_id, ticket_id, contact_id)
);

-- Raw messages as received, content-addressed: the same bytes are stored once per offer.
CREATE TABLE raw_messages (
    tenant_id    TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    data         BLOB NOT NULL,
    received_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
);

CREATE TABLE articles (
    tenant_id          TEXT NOT NULL,
    id                 INTEGER NOT NULL,
    ticket_id          INTEGER NOT NULL,
    channel            TEXT NOT NULL,      -- 'pipe', 'maildir', 'imap', 'cli', ...
    direction          TEXT NOT NULL,      -- 'in', 'out', 'internal'
    author_contact_id  INTEGER,
    author_label       TEXT,               -- operator name for CLI articles
    message_id         TEXT,
    in_reply_to        TEXT,
    references_ids     TEXT,               -- space-separated, oldest first
    subject            TEXT,
    body_text          TEXT NOT NULL,
    body_html          TEXT,
    raw_sha256         TEXT,
    auto_reason        TEXT,               -- why the loop guard kept us from answering
    created_at         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX articles_by_ticket ON articles (tenant_id, ticket_id, id);
CREATE INDEX articles_by_message_id ON articles (tenant_id, message_id);

-- Attachment contents, content-addressed, and where they appear.
CREATE TABLE attachment_blobs (
    tenant_id  TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
);

CREATE TABLE article_attachments (
    tenant_id     TEXT NOT NULL,
    article_id    INTEGER NOT NULL,
    position      INTEGER NOT NULL,
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
    ticket_id    INTEGER,
    article_id   INTEGER,
    received_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, dedupe_key)
);

CREATE TABLE quarantine (
    tenant_id       TEXT NOT NULL,
    id              INTEGER NOT NULL,
    channel         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    sha256          TEXT NOT NULL,         -- of data: the same bytes are quarantined once
    size            INTEGER NOT NULL,
    data            BLOB NOT NULL,
    received_at     TEXT NOT NULL,
    replayed_at     TEXT,
    replay_outcome  TEXT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, sha256)
);

CREATE TABLE outbox (
    tenant_id        TEXT NOT NULL,
    id               INTEGER NOT NULL,
    ticket_id        INTEGER,
    template         TEXT NOT NULL,
    locale           TEXT NOT NULL,
    context          TEXT NOT NULL,        -- JSON given to the template
    from_address     TEXT NOT NULL,
    recipients       TEXT NOT NULL,        -- JSON array of {name, address}
    message_id       TEXT NOT NULL,
    in_reply_to      TEXT,
    references_ids   TEXT,
    auto_submitted   TEXT,
    status           TEXT NOT NULL,        -- 'pending', 'sent', 'failed'
    attempts         INTEGER NOT NULL,
    next_attempt_at  TEXT NOT NULL,
    claimed_until    TEXT,
    last_error       TEXT,
    sent_at          TEXT,
    sent_ref         TEXT,                 -- where it went (file path, SMTP queue id)
    created_at       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX outbox_due ON outbox (tenant_id, status, next_attempt_at);
CREATE INDEX outbox_by_message_id ON outbox (tenant_id, message_id);

-- Append-only: who changed what, when.
CREATE TABLE events (
    tenant_id  TEXT NOT NULL,
    id         INTEGER NOT NULL,
    ticket_id  INTEGER,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    data       TEXT NOT NULL,              -- JSON
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX events_by_ticket ON events (tenant_id, ticket_id, id);

CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
