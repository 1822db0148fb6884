//! Statements both databases accept as written: `$n` placeholders, `ON CONFLICT`,
//! `RETURNING`, no vendor functions. Each backend module re-exports them and adds its own.
//! Every statement filters or writes `tenant_id = $1`.

macro_rules! ticket_columns {
    () => {
        "id, kind, number, title, status, priority, requester_id, institution_id, assignee_id, \
         created_at, updated_at, first_response_at, resolved_at, closed_at"
    };
}

macro_rules! outbox_columns {
    () => {
        "id, ticket_id, template, locale, context, from_address, recipients, message_id, \
         in_reply_to, references_ids, auto_submitted, status, attempts, next_attempt_at, \
         last_error, sent_at, sent_ref, created_at"
    };
}
pub(super) use outbox_columns;
pub(super) use ticket_columns;

pub const UPSERT_OFFER: &str = "INSERT INTO offers (tenant_id, name, provider, locale, support_address, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (tenant_id) DO UPDATE SET name = excluded.name, provider = excluded.provider,
         locale = excluded.locale, support_address = excluded.support_address, updated_at = excluded.updated_at";
pub const SELECT_OFFER: &str =
    "SELECT name, provider, locale, support_address, updated_at FROM offers WHERE tenant_id = $1";

pub const SELECT_INSTITUTION_ID: &str =
    "SELECT id FROM institutions WHERE tenant_id = $1 AND key = $2";
pub const UPSERT_INSTITUTION: &str = "INSERT INTO institutions (tenant_id, id, key, name, domains)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (tenant_id, id) DO UPDATE SET key = excluded.key, name = excluded.name, domains = excluded.domains";
pub const SELECT_INSTITUTIONS: &str =
    "SELECT id, key, name, domains FROM institutions WHERE tenant_id = $1 ORDER BY id";
pub const SELECT_INSTITUTION: &str =
    "SELECT id, key, name, domains FROM institutions WHERE tenant_id = $1 AND id = $2";

pub const SELECT_CONTACT: &str = "SELECT id, name, institution_id, origin, created_at FROM contacts WHERE tenant_id = $1 AND id = $2";
pub const INSERT_CONTACT: &str =
    "INSERT INTO contacts (tenant_id, id, name, institution_id, origin, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)";
pub const UPDATE_CONTACT: &str =
    "UPDATE contacts SET name = $3, institution_id = $4 WHERE tenant_id = $1 AND id = $2";
/// For contacts created from inbound mail: never takes an address from another contact.
pub const INSERT_CONTACT_ADDRESS_IF_ABSENT: &str =
    "INSERT INTO contact_addresses (tenant_id, kind, address, contact_id)
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
pub const SELECT_CONTACT_EMAILS: &str = "SELECT address FROM contact_addresses
     WHERE tenant_id = $1 AND contact_id = $2 AND kind = 'email' ORDER BY address";
pub const DELETE_CONTACT_ROLES: &str =
    "DELETE FROM contact_roles WHERE tenant_id = $1 AND contact_id = $2";
pub const INSERT_CONTACT_ROLE: &str =
    "INSERT INTO contact_roles (tenant_id, contact_id, role) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING";
pub const SELECT_CONTACT_ROLES: &str =
    "SELECT role FROM contact_roles WHERE tenant_id = $1 AND contact_id = $2 ORDER BY role";

/// Takes the next number of a kind; the row lock serialises concurrent creations.
pub const NEXT_TICKET_NUMBER: &str =
    "INSERT INTO ticket_counters (tenant_id, kind, last_number) VALUES ($1, $2, 1)
     ON CONFLICT (tenant_id, kind) DO UPDATE SET last_number = ticket_counters.last_number + 1
     RETURNING last_number";
/// [`NEXT_TICKET_NUMBER`] for [`INSERT_TICKET`], which reads the number it leaves: no
/// result to wait for between the two.
pub const BUMP_TICKET_NUMBER: &str =
    "INSERT INTO ticket_counters (tenant_id, kind, last_number) VALUES ($1, $2, 1)
     ON CONFLICT (tenant_id, kind) DO UPDATE SET last_number = ticket_counters.last_number + 1";
/// Numbered by [`BUMP_TICKET_NUMBER`], just before in the transaction. Returns the row as
/// [`SELECT_TICKET`] reads it: no second statement to read it back.
pub const INSERT_TICKET: &str = concat!(
    "INSERT INTO tickets (tenant_id, id, kind, number, title, status, priority,
         requester_id, institution_id, created_at, updated_at)
     VALUES ($1, $2, $3,
         (SELECT last_number FROM ticket_counters WHERE tenant_id = $1 AND kind = $3),
         $4, $5, $6, $7, $8, $9, $9) RETURNING ",
    ticket_columns!()
);
pub const SELECT_TICKET: &str = concat!(
    "SELECT ",
    ticket_columns!(),
    " FROM tickets WHERE tenant_id = $1 AND id = $2"
);
/// By its ref, or by a ref it had before a change of kind (`ticket_former_refs`).
pub const SELECT_TICKET_BY_REF: &str = concat!(
    "SELECT ",
    ticket_columns!(),
    " FROM tickets WHERE tenant_id = $1 AND kind = $2 AND number = $3
     UNION ALL SELECT ",
    ticket_columns!(),
    " FROM tickets WHERE tenant_id = $1 AND id = (SELECT ticket_id FROM ticket_former_refs
         WHERE tenant_id = $1 AND kind = $2 AND number = $3)"
);
/// Keeps the ref a ticket leaves when its kind changes.
pub const INSERT_FORMER_REF: &str =
    "INSERT INTO ticket_former_refs (tenant_id, kind, number, ticket_id, changed_at)
     VALUES ($1, $2, $3, $4, $5)";
pub const SELECT_FORMER_REFS: &str = "SELECT kind, number FROM ticket_former_refs
     WHERE tenant_id = $1 AND ticket_id = $2 ORDER BY changed_at, kind, number";
pub const UPDATE_TICKET_KIND: &str = "UPDATE tickets SET kind = $3, number = $4, updated_at = $5
     WHERE tenant_id = $1 AND id = $2";
pub const LIST_TICKETS: &str = concat!(
    "SELECT ",
    ticket_columns!(),
    " FROM tickets WHERE tenant_id = $1 AND ($2 IS NULL OR status = $2) ORDER BY id"
);
/// The finish times are the caller's ([`crate::domain::finish_times`] decides them).
pub const UPDATE_TICKET_STATUS: &str = "UPDATE tickets SET status = $3, updated_at = $4,
         resolved_at = $5, closed_at = $6
     WHERE tenant_id = $1 AND id = $2";
pub const UPDATE_TICKET_PRIORITY: &str =
    "UPDATE tickets SET priority = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2";
pub const UPDATE_TICKET_ASSIGNEE: &str =
    "UPDATE tickets SET assignee_id = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2";
pub const UPDATE_TICKET_FIRST_RESPONSE: &str =
    "UPDATE tickets SET first_response_at = COALESCE(first_response_at, $3), updated_at = $3
     WHERE tenant_id = $1 AND id = $2";
pub const TOUCH_TICKET: &str =
    "UPDATE tickets SET updated_at = $3 WHERE tenant_id = $1 AND id = $2";

pub const INSERT_TICKET_LINK: &str =
    "INSERT INTO ticket_links (tenant_id, ticket_id, other_id, relation, created_at)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
pub const SELECT_TICKET_LINKS: &str = "SELECT other_id, relation, created_at FROM ticket_links
     WHERE tenant_id = $1 AND ticket_id = $2 ORDER BY other_id";

/// A second identical link is a no-op (the first one's relation and time stay).
pub const INSERT_OFFER_LINK: &str =
    "INSERT INTO offer_links (tenant_id, ticket_id, other_tenant, other_ref, relation, created_at)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";
pub const SELECT_OFFER_LINKS: &str =
    "SELECT other_tenant, other_ref, relation, created_at FROM offer_links
     WHERE tenant_id = $1 AND ticket_id = $2 ORDER BY other_tenant, other_ref";

pub const INSERT_PARTICIPANT: &str =
    "INSERT INTO participants (tenant_id, ticket_id, contact_id, role)
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
/// Whether `$3` is a participant of the ticket `$2`, and whether it has the role `$4` on the
/// offer: what an entitlement is decided on, in one statement.
pub const SELECT_STANDING: &str = "SELECT EXISTS (SELECT 1 FROM participants
                    WHERE tenant_id = $1 AND ticket_id = $2 AND contact_id = $3),
            EXISTS (SELECT 1 FROM contact_roles
                    WHERE tenant_id = $1 AND contact_id = $3 AND role = $4)";
pub const SELECT_PARTICIPANTS: &str = "SELECT p.contact_id, p.role, c.name,
         (SELECT MIN(a.address) FROM contact_addresses a
           WHERE a.tenant_id = p.tenant_id AND a.contact_id = p.contact_id AND a.kind = 'email') AS email
     FROM participants p JOIN contacts c ON c.tenant_id = p.tenant_id AND c.id = p.contact_id
     WHERE p.tenant_id = $1 AND p.ticket_id = $2 ORDER BY p.contact_id";

pub const INSERT_RAW_MESSAGE: &str =
    "INSERT INTO raw_messages (tenant_id, sha256, size, data, received_at)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
pub const SELECT_RAW_MESSAGE: &str =
    "SELECT data FROM raw_messages WHERE tenant_id = $1 AND sha256 = $2";

pub const INSERT_ARTICLE: &str =
    "INSERT INTO articles (tenant_id, id, ticket_id, channel, direction, author_contact_id,
         author_label, message_id, in_reply_to, references_ids, subject, body_text, new_text,
         body_html, raw_sha256, auto_reason, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)";
pub const SELECT_ARTICLES: &str = "SELECT a.id, a.ticket_id, a.channel, a.direction, a.author_contact_id, a.author_label,
         c.name AS author_name, a.message_id, a.in_reply_to, a.references_ids, a.subject,
         a.body_text, a.new_text, a.body_html, a.raw_sha256, a.auto_reason, a.created_at
     FROM articles a LEFT JOIN contacts c ON c.tenant_id = a.tenant_id AND c.id = a.author_contact_id
     WHERE a.tenant_id = $1 AND a.ticket_id = $2 ORDER BY a.id";

pub const INSERT_ATTACHMENT_BLOB: &str =
    "INSERT INTO attachment_blobs (tenant_id, sha256, size, data)
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
pub const INSERT_ARTICLE_ATTACHMENT: &str = "INSERT INTO article_attachments (tenant_id, article_id, position, filename, content_type, sha256,
                                      content_id, danger)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
pub const SELECT_ATTACHMENTS: &str =
    "SELECT aa.article_id, aa.position, aa.filename, aa.content_type, aa.sha256, b.size,
            aa.content_id, aa.danger
     FROM article_attachments aa
     JOIN articles a ON a.tenant_id = aa.tenant_id AND a.id = aa.article_id
     JOIN attachment_blobs b ON b.tenant_id = aa.tenant_id AND b.sha256 = aa.sha256
     WHERE aa.tenant_id = $1 AND a.ticket_id = $2 ORDER BY aa.article_id, aa.position";

pub const INSERT_RECEIPT: &str =
    "INSERT INTO inbound_receipts (tenant_id, dedupe_key, channel, outcome, content_sha256,
         ticket_id, article_id, received_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING 1";

/// The same bytes again (a redelivery, a re-read after a crash) keep their entry, with the
/// latest reason; the id returned is the entry's.
pub const INSERT_QUARANTINE: &str =
    "INSERT INTO quarantine (tenant_id, id, channel, reason, sha256, size, data, received_at,
                             header_only)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (tenant_id, sha256) DO UPDATE SET reason = excluded.reason
     RETURNING id";
pub const LIST_QUARANTINE: &str =
    "SELECT id, channel, reason, size, header_only, received_at, replayed_at, replay_outcome
     FROM quarantine WHERE tenant_id = $1 ORDER BY id";
pub const SELECT_QUARANTINE_DATA: &str =
    "SELECT data FROM quarantine WHERE tenant_id = $1 AND id = $2";
pub const SELECT_QUARANTINE_HEADER_ONLY: &str =
    "SELECT header_only FROM quarantine WHERE tenant_id = $1 AND id = $2";
pub const UPDATE_QUARANTINE_REPLAYED: &str =
    "UPDATE quarantine SET replay_outcome = $3, replayed_at = $4
     WHERE tenant_id = $1 AND id = $2";
/// Every replay is kept, numbered in order; quarantine.replay_outcome is the latest.
pub const INSERT_QUARANTINE_REPLAY: &str =
    "INSERT INTO quarantine_replays (tenant_id, quarantine_id, seq, replayed_at, outcome)
     SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $4, $3 FROM quarantine_replays
     WHERE tenant_id = $1 AND quarantine_id = $2";
pub const LIST_QUARANTINE_REPLAYS: &str =
    "SELECT quarantine_id, seq, replayed_at, outcome FROM quarantine_replays
     WHERE tenant_id = $1 ORDER BY quarantine_id, seq";

pub const INSERT_OUTBOX: &str =
    "INSERT INTO outbox (tenant_id, id, ticket_id, template, locale, context, from_address,
         recipients, message_id, in_reply_to, references_ids, auto_submitted, status, attempts,
         next_attempt_at, created_at, coalesce_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending', 0, $14, $13, $15)";
/// A restarted instance takes back what it had claimed before it stopped: those sends were
/// cut short, and nobody else may claim them until the lease ends.
pub const RELEASE_CLAIMS_OF: &str = "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL
     WHERE tenant_id = $1 AND claimed_by = $2 AND status = 'pending'";
pub const UPDATE_OUTBOX_SENT: &str =
    "UPDATE outbox SET status = 'sent', sent_ref = $3, sent_at = $4, claimed_until = NULL,
         claimed_by = NULL, last_error = NULL
     WHERE tenant_id = $1 AND id = $2";
pub const UPDATE_OUTBOX_FAILED: &str = "UPDATE outbox SET last_error = $3, status = $4,
         next_attempt_at = COALESCE($5, next_attempt_at), claimed_until = NULL,
         claimed_by = NULL
     WHERE tenant_id = $1 AND id = $2";
/// One more attempt, due now, of a row not sent (an operator's retry; a dead letter too).
pub const RETRY_OUTBOX: &str = "UPDATE outbox SET status = 'pending', next_attempt_at = $3,
         claimed_until = NULL, claimed_by = NULL
     WHERE tenant_id = $1 AND id = $2 AND status <> 'sent'";
/// A pending row given up on by an operator, with the reason.
pub const DROP_OUTBOX: &str = "UPDATE outbox SET status = 'failed', last_error = $3,
         claimed_until = NULL, claimed_by = NULL
     WHERE tenant_id = $1 AND id = $2 AND status = 'pending'";
/// The outgoing message with this Message-ID (the first queued, should an id ever repeat).
pub const SELECT_OUTBOX_BY_MESSAGE_ID: &str = concat!(
    "SELECT ",
    outbox_columns!(),
    " FROM outbox WHERE tenant_id = $1 AND message_id = $2 ORDER BY id LIMIT 1"
);
pub const LIST_OUTBOX: &str = concat!(
    "SELECT ",
    outbox_columns!(),
    " FROM outbox WHERE tenant_id = $1 AND ($2 IS NULL OR ticket_id = $2) ORDER BY id"
);

pub const INSERT_EVENT: &str =
    "INSERT INTO events (tenant_id, id, ticket_id, at, actor, kind, data)
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub const SELECT_EVENTS: &str = "SELECT id, ticket_id, at, actor, kind, data FROM events
     WHERE tenant_id = $1 AND ticket_id = $2 ORDER BY id";

pub const SELECT_MAILBOX_STATE: &str = "SELECT mailbox, uidvalidity, last_uid, acked_uid,
         ingested, duplicates, quarantined, loop_suppressed, mode, last_sync_at
     FROM mailbox_state WHERE tenant_id = $1 AND mailbox = $2";
/// A new mailbox, or one whose UIDVALIDITY changed: nothing stored or acknowledged at the new
/// UIDVALIDITY yet. The counters stay.
pub const START_MAILBOX: &str =
    "INSERT INTO mailbox_state (tenant_id, mailbox, uidvalidity, last_uid, acked_uid, updated_at)
     VALUES ($1, $2, $3, 0, 0, $4)
     ON CONFLICT (tenant_id, mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity,
         last_uid = 0, acked_uid = 0, updated_at = excluded.updated_at";
/// The last UID only grows (CASE rather than MAX/GREATEST, which differ between the two).
pub const ADVANCE_MAILBOX: &str = "UPDATE mailbox_state SET
         last_uid = CASE WHEN $4 > last_uid THEN $4 ELSE last_uid END,
         ingested = ingested + $5, duplicates = duplicates + $6,
         quarantined = quarantined + $7, loop_suppressed = loop_suppressed + $8,
         updated_at = $9
     WHERE tenant_id = $1 AND mailbox = $2 AND uidvalidity = $3 RETURNING 2";
pub const ACK_MAILBOX: &str = "UPDATE mailbox_state SET
         acked_uid = CASE WHEN $4 > acked_uid THEN $4 ELSE acked_uid END, updated_at = $5
     WHERE tenant_id = $1 AND mailbox = $2 AND uidvalidity = $3";
/// Takes or renews the lease of a mailbox: granted when nobody holds it, when `$3` holds it
/// already, or when the holder's lease ran out (`held_until <= $4`, now). Returns the row only
/// when granted.
pub const CLAIM_MAILBOX: &str =
    "INSERT INTO mailbox_leases (tenant_id, mailbox, holder, held_until) VALUES ($1, $2, $3, $5)
     ON CONFLICT (tenant_id, mailbox) DO UPDATE SET holder = excluded.holder,
         held_until = excluded.held_until
     WHERE mailbox_leases.holder = excluded.holder OR mailbox_leases.held_until <= $4
     RETURNING holder";
pub const SELECT_MAILBOX_HOLDER: &str =
    "SELECT holder FROM mailbox_leases WHERE tenant_id = $1 AND mailbox = $2";
pub const RELEASE_MAILBOX: &str =
    "DELETE FROM mailbox_leases WHERE tenant_id = $1 AND mailbox = $2 AND holder = $3";
pub const MARK_MAILBOX_SYNCED: &str = "UPDATE mailbox_state SET mode = $3, last_sync_at = $4,
         updated_at = $4
     WHERE tenant_id = $1 AND mailbox = $2";
