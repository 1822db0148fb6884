//! Inbound receipts: the dedupe keys of the messages taken in.
//!
//! SQL only, like the rest of the store: the decisions are the caller's.

use super::{MailboxTally, ReceiptRow, Result, StoreError, Tx, TxInner, sqlite};

impl Tx {
    /// The receipt of a dedupe key, if a message with that key was already taken in.
    pub async fn receipt(&mut self, key: &str) -> Result<Option<ReceiptRow>> {
        if let Some(known) = self.known_receipts.get(key) {
            return Ok(known.clone());
        }
        let t = self.tenant.as_str();
        Ok(fetch!(
            self,
            "receipt",
            query_as_with,
            sql::SELECT_RECEIPT,
            [t, key],
            fetch_optional
        ))
    }

    /// SQLite: reads the receipts of `keys` in one statement, so that [`Tx::receipt`] answers
    /// for them without a round trip to sqlx's worker thread each (a batch of mail reads its
    /// messages' keys at once: issue 7's drain). On PostgreSQL, nothing: each key is read
    /// when asked for.
    pub async fn read_receipts_ahead(&mut self, keys: &[&str]) -> Result<()> {
        let TxInner::Sqlite(c) = &mut self.inner else {
            return Ok(());
        };
        if keys.is_empty() {
            return Ok(());
        }
        let t = self.tenant.as_str();
        let listed = serde_json::Value::from(keys.to_vec()).to_string();
        let statement = sqlite::SELECT_RECEIPTS;
        let found: Vec<ReceiptRow> = fetch_held!(
            self.held,
            c,
            query_as_with,
            statement,
            [t, listed],
            fetch_all
        )
        .map_err(|e| StoreError::query("read_receipts_ahead", e))?;
        for key in keys {
            self.known_receipts.insert((*key).to_owned(), None);
        }
        for row in found {
            self.known_receipts
                .insert(row.dedupe_key.clone(), Some(row));
        }
        Ok(())
    }

    /// Records a dedupe key. Returns false when the key was already there (someone else took
    /// the same message in meanwhile): the caller rolls back.
    pub async fn insert_receipt(&mut self, r: &ReceiptRow) -> Result<bool> {
        self.known_receipts.remove(&r.dedupe_key);
        let t = self.tenant.as_str();
        let done: Option<i32> = fetch!(
            self,
            "insert_receipt",
            query_scalar_with,
            sql::INSERT_RECEIPT,
            [
                t,
                &r.dedupe_key,
                r.channel.as_str(),
                r.outcome.as_str(),
                &r.content_sha256,
                r.ticket_id,
                r.article_id,
                r.received_at,
            ],
            fetch_optional
        );
        Ok(done.is_some())
    }
}

/// SQLite: a receipt held back with the writes ([`Tx::hold_receipt`]). No `ON CONFLICT`: a
/// key already there fails the statement, and with it the transaction's next round trip.
const INSERT_RECEIPT_HELD: &str =
    "INSERT INTO inbound_receipts (tenant_id, dedupe_key, channel, outcome, content_sha256,
         ticket_id, article_id, received_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

impl Tx {
    /// Records a dedupe key read absent in this transaction, as [`Tx::insert_receipt`] does,
    /// for a caller that treats any failure of the transaction's next statement as this
    /// message's (an IMAP batch taken in under one savepoint): on SQLite held back with the
    /// writes, which spares a round trip a message. `BEGIN IMMEDIATE` holds the write lock
    /// from the dedupe read on, so no one else can record the key meanwhile; were it there
    /// all the same, the insert fails (no `ON CONFLICT`) and the caller hears of it as an
    /// error of its next statement. On PostgreSQL, [`Tx::insert_receipt`] itself: another
    /// transaction may record the key meanwhile, and false says so.
    pub async fn hold_receipt(&mut self, r: &ReceiptRow) -> Result<bool> {
        if !matches!(self.inner, TxInner::Sqlite(_)) {
            return self.insert_receipt(r).await;
        }
        self.known_receipts.remove(&r.dedupe_key);
        let held = &mut self.held;
        held.push(INSERT_RECEIPT_HELD);
        held.bind(self.tenant.as_str());
        held.bind(&r.dedupe_key);
        held.bind(r.channel.as_str());
        held.bind(r.outcome.as_str());
        held.bind(&r.content_sha256);
        held.bind(r.ticket_id);
        held.bind(r.article_id);
        held.bind(r.received_at);
        Ok(true)
    }

    /// [`Tx::insert_receipt`] then [`Tx::advance_mailbox`], for a message read from an IMAP
    /// mailbox: on SQLite in one round trip with the writes held back. Returns whether the
    /// receipt was recorded and whether the mailbox was at `uidvalidity`; when either is false
    /// the caller rolls back what the message did.
    pub async fn insert_receipt_and_advance(
        &mut self,
        r: &ReceiptRow,
        mailbox: &str,
        (uidvalidity, uid): (u32, u32),
        tally: MailboxTally,
    ) -> Result<(bool, bool)> {
        self.known_receipts.remove(&r.dedupe_key);
        let TxInner::Sqlite(c) = &mut self.inner else {
            let recorded = self.insert_receipt(r).await?;
            let advanced = self
                .advance_mailbox(mailbox, (uidvalidity, uid), tally, r.received_at)
                .await?;
            return Ok((recorded, advanced));
        };
        let held = &mut self.held;
        let t = self.tenant.as_str();
        held.push(sqlite::INSERT_RECEIPT);
        held.bind(t);
        held.bind(&r.dedupe_key);
        held.bind(r.channel.as_str());
        held.bind(r.outcome.as_str());
        held.bind(&r.content_sha256);
        held.bind(r.ticket_id);
        held.bind(r.article_id);
        held.bind(r.received_at);
        let [ingested, duplicates, quarantined, loop_suppressed] = tally.increments();
        held.push(sqlite::ADVANCE_MAILBOX);
        held.bind(t);
        held.bind(mailbox);
        held.bind(i64::from(uidvalidity));
        held.bind(i64::from(uid));
        held.bind(ingested);
        held.bind(duplicates);
        held.bind(quarantined);
        held.bind(loop_suppressed);
        held.bind(r.received_at);
        // The receipt answers 1 when recorded, the mark 2 when the mailbox moved.
        let answers: Vec<i32> = match held.take() {
            Ok((text, args)) => {
                sqlx::query_scalar_with(sqlx::AssertSqlSafe(text), args)
                    .fetch_all(&mut **c)
                    .await
            }
            Err(e) => Err(e),
        }
        .map_err(|e| StoreError::query("insert_receipt_and_advance", e))?;
        Ok((answers.contains(&1), answers.contains(&2)))
    }
}
