-- guichet 0002, SQLite flavour: outbox claims name their instance, every quarantine replay
-- is kept, and tickets can be linked to tickets of other offers.
--
-- ticket_links.relation (0001) takes 'follows_up' / 'followed_by' (a new ticket opened by a
-- reply to a closed one, and the other direction) and 'possibly_related' (both ways).
--
-- Long values: SQLite indexes text of any length, so a 5 KB Message-ID or a 3 KB address
-- needs nothing here (PostgreSQL's B-tree rows are limited, see its 0002).

-- The instance (hostname and data directory) whose claim `claimed_until` is: after a crash,
-- the restarted instance releases its own claims instead of waiting for the lease to end.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;

-- One row per replay of a quarantined message, in order. quarantine.replayed_at and
-- replay_outcome stay as the latest replay's.
CREATE TABLE quarantine_replays (
    tenant_id      TEXT NOT NULL,
    quarantine_id  INTEGER NOT NULL,
    seq            INTEGER NOT NULL,       -- 1, 2, ... per quarantined message
    replayed_at    TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, quarantine_id, seq)
);
INSERT INTO quarantine_replays (tenant_id, quarantine_id, seq, replayed_at, outcome)
SELECT tenant_id, id, 1, replayed_at, replay_outcome FROM quarantine
WHERE replayed_at IS NOT NULL AND replay_outcome IS NOT NULL;

-- A ticket's link to a ticket of another offer (one mail sent to two offers' addresses).
-- The other side is named by offer code and ref, not by id: each offer only ever reads its
-- own rows, and each side records its own link.
CREATE TABLE offer_links (
    tenant_id     TEXT NOT NULL,
    ticket_id     INTEGER NOT NULL,
    other_tenant  TEXT NOT NULL,
    other_ref     TEXT NOT NULL,           -- 'I-000042'
    relation      TEXT NOT NULL,           -- 'same_message'
    created_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, ticket_id, other_tenant, other_ref)
);
