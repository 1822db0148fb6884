-- guichet 0006, SQLite flavour: a ticket's kind can change (an operator reclassifies an
-- incident as a request, say). It then takes the next number of its new kind, and the refs
-- it had before are kept here, so that they still find it: `guichet ticket show OLD-REF` and
-- the subject tag of a reply (`[SMSU I-000001]`) written before the change.
--
-- A ref belongs to one ticket for good: numbers come from ticket_counters, which never go
-- back, so a former ref is never given to another ticket.
CREATE TABLE ticket_former_refs (
    tenant_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,            -- 'incident', 'request', 'change'
    number      INTEGER NOT NULL,
    ticket_id   INTEGER NOT NULL,
    changed_at  TEXT NOT NULL,            -- when the ticket left this ref
    PRIMARY KEY (tenant_id, kind, number)
);
CREATE INDEX ticket_former_refs_by_ticket ON ticket_former_refs (tenant_id, ticket_id);
