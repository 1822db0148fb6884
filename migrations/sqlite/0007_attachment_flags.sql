-- guichet 0007, SQLite flavour: what is known of an attachment beyond its bytes.
--
-- content_id: its Content-ID without angle brackets, which the HTML body's cid: URLs name
-- (an inline image); NULL when it has none.
-- danger: why opening it is dangerous (domain::attachment: an executable, a script, a
-- macro-enabled document, a shortcut, an archive holding one, with the evidence), NULL when
-- nothing was found. The attachment is kept either way: an agent may need it.
ALTER TABLE article_attachments ADD COLUMN content_id TEXT;
ALTER TABLE article_attachments ADD COLUMN danger TEXT;

-- A message over the size limit is quarantined with its header only (its size in `size`):
-- such an entry cannot be replayed, the body was never kept.
ALTER TABLE quarantine ADD COLUMN header_only BOOLEAN NOT NULL DEFAULT FALSE;
