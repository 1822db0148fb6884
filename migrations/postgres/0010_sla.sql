-- guichet 0010, PostgreSQL flavour: service levels (issue 9).
--
-- One clock per ticket and target ('first_response', 'resolution', 'update'): the business
-- time it may use and has used before its current run, since when it runs (NULL while paused
-- or met), when it was met and when it ran out. The event log keeps its history (sla_*).
CREATE TABLE sla_clocks (
    tenant_id      TEXT NOT NULL,
    ticket_id      BIGINT NOT NULL,
    target         TEXT NOT NULL,
    budget_secs    BIGINT NOT NULL,
    used_micros    BIGINT NOT NULL,
    running_since  TIMESTAMPTZ,
    round          BIGINT NOT NULL,        -- the update clock's period: it starts again at each answer
    met_at         TIMESTAMPTZ,
    breached_at    TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, ticket_id, target)
);

-- The deadlines: each clock's next rung ('warning', 'breach', 'L1'...) pending, and those
-- fired. The escalator sleeps until the earliest pending due_at; the partial index makes
-- finding it cost O(due), not O(open tickets).
CREATE TABLE sla_deadlines (
    tenant_id  TEXT NOT NULL,
    ticket_id  BIGINT NOT NULL,
    target     TEXT NOT NULL,
    round      BIGINT NOT NULL,
    level      TEXT NOT NULL,
    due_at     TIMESTAMPTZ NOT NULL,
    fired_at   TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, ticket_id, target, round, level)
);
CREATE INDEX sla_deadlines_pending ON sla_deadlines (tenant_id, due_at) WHERE fired_at IS NULL;

-- Scheduled jobs (the daily digest, the weekly report): one row per job and scheduled
-- instant, inserted by the daemon that runs it. The key makes each instant run once, across
-- daemons and across the repeated hour of the change to winter time.
CREATE TABLE job_runs (
    tenant_id     TEXT NOT NULL,
    job           TEXT NOT NULL,
    scheduled_at  TIMESTAMPTZ NOT NULL,
    ran_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, job, scheduled_at)
);

ALTER TABLE sla_clocks ENABLE ROW LEVEL SECURITY;
ALTER TABLE sla_clocks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sla_clocks
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE sla_deadlines ENABLE ROW LEVEL SECURITY;
ALTER TABLE sla_deadlines FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sla_deadlines
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
ALTER TABLE job_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON job_runs
    USING (tenant_id = current_setting('guichet.tenant', true))
    WITH CHECK (tenant_id = current_setting('guichet.tenant', true));
