//! Raw messages, articles and their attachments (stored once per offer, by SHA-256).
//!
//! SQL only, like the rest of the store: the decisions are the caller's.

use chrono::{DateTime, Utc};

use super::{ArticleRow, AttachmentRow, IdTable, NewArticle, Result, Tx, sha256_hex};
use crate::domain::{ArticleId, Attachment, TicketId};

impl Tx {
    /// Stores raw bytes under their SHA-256 (once per offer); returns the hex digest.
    pub async fn put_raw_message(&mut self, data: &[u8], now: DateTime<Utc>) -> Result<String> {
        let sha = sha256_hex(data);
        let t = self.tenant.as_str();
        let size = data.len() as i64;
        defer!(
            self,
            "put_raw_message",
            sql::INSERT_RAW_MESSAGE,
            [t, &sha, size, data, now]
        );
        Ok(sha)
    }

    /// The raw message stored under `sha256` (hex), if this offer has it.
    pub async fn raw_message(&mut self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "raw_message", |c| sqlx::query_scalar(
            sql::SELECT_RAW_MESSAGE
        )
        .bind(t)
        .bind(sha256)
        .fetch_optional(c)
        .await?))
    }

    /// Adds an article to its ticket; returns its id.
    pub async fn insert_article(&mut self, a: &NewArticle<'_>) -> Result<ArticleId> {
        let id = self.next_id(IdTable::Articles).await?;
        let t = self.tenant.as_str();
        defer!(
            self,
            "insert_article",
            sql::INSERT_ARTICLE,
            [
                t,
                id,
                a.ticket.0,
                a.channel.as_str(),
                a.direction.as_str(),
                a.author.map(|x| x.0),
                a.author_label,
                a.message_id,
                a.in_reply_to,
                a.references,
                a.subject,
                a.body_text,
                a.new_text,
                a.body_html,
                a.raw_sha256,
                a.auto_reason,
                a.now,
            ]
        );
        Ok(ArticleId(id))
    }

    /// The ticket's articles, oldest first, with their authors' names.
    pub async fn articles(&mut self, ticket: TicketId) -> Result<Vec<ArticleRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "articles", |c| sqlx::query_as(
            sql::SELECT_ARTICLES
        )
        .bind(t)
        .bind(ticket.0)
        .fetch_all(c)
        .await?))
    }

    /// Stores an attachment's bytes once per offer and records where it appears, with its
    /// Content-ID and `danger`: why opening it is dangerous, as the caller found.
    pub async fn add_attachment(
        &mut self,
        article: ArticleId,
        position: i64,
        attachment: &Attachment,
        danger: Option<&str>,
    ) -> Result<String> {
        let data = &attachment.data;
        let sha = sha256_hex(data);
        let t = self.tenant.as_str().to_owned();
        let size = data.len() as i64;
        exec!(self, "add_attachment", |c| {
            sqlx::query(sql::INSERT_ATTACHMENT_BLOB)
                .bind(&t)
                .bind(&sha)
                .bind(size)
                .bind(data)
                .execute(&mut *c)
                .await?;
            sqlx::query(sql::INSERT_ARTICLE_ATTACHMENT)
                .bind(&t)
                .bind(article)
                .bind(position)
                .bind(attachment.filename.as_deref())
                .bind(&attachment.content_type)
                .bind(&sha)
                .bind(attachment.content_id.as_deref())
                .bind(danger)
                .execute(&mut *c)
                .await?
        });
        Ok(sha)
    }

    /// The stored bytes of the attachment whose SHA-256 (hex) is `sha256`, if the offer has
    /// them: what an agent's reply sends, read again at each attempt.
    pub async fn attachment_blob(&mut self, sha256: &str) -> Result<Option<Vec<u8>>> {
        const SELECT_BLOB: &str =
            "SELECT data FROM attachment_blobs WHERE tenant_id = $1 AND sha256 = $2";
        let t = self.tenant.as_str();
        Ok(on!(self, "attachment_blob", |c| {
            sqlx::query_scalar(SELECT_BLOB)
                .bind(t)
                .bind(sha256)
                .fetch_optional(c)
                .await?
        }))
    }

    /// Where attachments appear in the ticket's articles (not their bytes), in article and position
    /// order.
    pub async fn attachments(&mut self, ticket: TicketId) -> Result<Vec<AttachmentRow>> {
        let t = self.tenant.as_str();
        Ok(on!(self, "attachments", |c| sqlx::query_as(
            sql::SELECT_ATTACHMENTS
        )
        .bind(t)
        .bind(ticket.0)
        .fetch_all(c)
        .await?))
    }
}
