-- guichet 0010, SQLite flavour: service levels (issue 9).
--
-- One clock per ticket and target ('first_response', 'resolution', 'update'): the business
-- time it may use and has used before its current run, since when it runs (NULL while paused
-- or met), when it was met and when it ran out. The event log keeps its history (sla_*).
CREATE TABLE sla_clocks (
    tenant_id      TEXT NOT NULL,
    ticket_id      INTEGER NOT NULL,
    target         TEXT NOT NULL,
    budget_secs    INTEGER NOT NULL,
    used_micros    INTEGER NOT NULL,
    running_since  TEXT,
    round          INTEGER NOT NULL,        -- the update clock's period: it starts again at each answer
    met_at         TEXT,
    breached_at    TEXT,
    PRIMARY KEY (tenant_id, ticket_id, target)
);

-- The deadlines: each clock's next rung ('warning', 'breach', 'L1'...) pending, and those
-- fired. The escalator sleeps until the earliest pending due_at; the partial index makes
-- finding it cost O(due), not O(open tickets).
CREATE TABLE sla_deadlines (
    tenant_id  TEXT NOT NULL,
    ticket_id  INTEGER NOT NULL,
    target     TEXT NOT NULL,
    round      INTEGER NOT NULL,
    level      TEXT NOT NULL,
    due_at     TEXT NOT NULL,
    fired_at   TEXT,
    PRIMARY KEY (tenant_id, ticket_id, target, round, level)
);
CREATE INDEX sla_deadlines_pending ON sla_deadlines (tenant_id, due_at) WHERE fired_at IS NULL;

-- Scheduled jobs (the daily digest, the weekly report): one row per job and scheduled
-- instant, inserted by the daemon that runs it. The key makes each instant run once, across
-- daemons and across the repeated hour of the change to winter time.
CREATE TABLE job_runs (
    tenant_id     TEXT NOT NULL,
    job           TEXT NOT NULL,
    scheduled_at  TEXT NOT NULL,
    ran_at        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, job, scheduled_at)
);
