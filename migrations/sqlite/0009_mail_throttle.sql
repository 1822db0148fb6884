-- guichet 0009, SQLite flavour: no mail storms (issue 8 item 6).
--
-- One row per recipient of each mail queued: what the per-recipient and per-ticket rate
-- limits (mail.recipient_limit, mail.ticket_limit) count. A notification merged into a mail
-- still pending adds no row: it adds no mail. Addresses are lower-cased.
CREATE TABLE mail_deliveries (
    tenant_id  TEXT NOT NULL,
    address    TEXT NOT NULL,
    ticket_id  INTEGER,                -- the ticket the mail is about, if any
    outbox_id  INTEGER NOT NULL,
    queued_at  TEXT NOT NULL
);
CREATE INDEX mail_deliveries_by_address ON mail_deliveries (tenant_id, address, queued_at);
CREATE INDEX mail_deliveries_by_ticket ON mail_deliveries (tenant_id, ticket_id, queued_at);

-- A notification waits mail.coalesce_minutes before it is due; meanwhile the next ones about
-- the same ticket to the same recipients are merged into it. The key names the ticket and
-- the recipients; NULL on mail that is never merged (acknowledgements, agents' replies).
ALTER TABLE outbox ADD COLUMN coalesce_key TEXT;
CREATE INDEX outbox_coalescing ON outbox (tenant_id, coalesce_key, status);
