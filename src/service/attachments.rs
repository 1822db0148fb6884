//! An article's attachments: stored with their Content-ID (inline images) and, when
//! [`domain::attachment::danger`](crate::domain::attachment::danger) finds one, why opening
//! them is dangerous. Flagged, never dropped: an agent may need the file.
//!
//! The files of an agent's reply also leave with its mail: the outbox rows name them in
//! their context (`attachments`: name, type, SHA-256, size; never the bytes), and
//! [`of_row`] reads them back from the store when a row is sent, so a retry sends the very
//! same bytes.

use serde_json::json;

use crate::channels::SendError;
use crate::channels::outbound::OutboundAttachment;
use crate::domain::attachment::danger;
use crate::domain::{ArticleId, Attachment, TenantId};
use crate::store::{OutboxRow, StoreError, Tx, sha256_hex};

use super::{Context, ServiceError};

/// Stores `attachments` in MIME order under `article`; returns how many were flagged.
pub(super) async fn store(
    tx: &mut Tx,
    article: ArticleId,
    attachments: &[Attachment],
) -> Result<usize, ServiceError> {
    let mut flagged = 0;
    for (position, a) in attachments.iter().enumerate() {
        let found = danger(a.filename.as_deref(), &a.content_type, &a.data);
        if let Some(d) = &found {
            flagged += 1;
            // The kind and evidence only: the file name is the sender's text.
            tracing::info!(tenant = %tx.tenant(), article = article.0, position, danger = %d, "dangerous attachment flagged");
        }
        let reason = found.map(|d| d.to_string());
        tx.add_attachment(article, position as i64, a, reason.as_deref())
            .await?;
    }
    Ok(flagged)
}

/// Refuses files that weigh more than `limit` bytes together (`mail.max_attachment_bytes`):
/// a relay would refuse the mail, or worse accept it for some recipients only.
pub fn within_limit(
    sizes: impl IntoIterator<Item = u64>,
    limit: usize,
) -> Result<(), ServiceError> {
    let total: u64 = sizes.into_iter().sum();
    if total > limit as u64 {
        return Err(ServiceError::Refused(format!(
            "attachments weigh {total} bytes together, over mail.max_attachment_bytes \
             ({limit}): nothing was sent"
        )));
    }
    Ok(())
}

/// What a mail's context says of its `files` (its `attachments` key): enough to find the
/// bytes again ([`of_row`]) and for a template to name them.
pub(super) fn context_of(files: &[Attachment]) -> serde_json::Value {
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|f| {
            json!({
                "filename": f.filename,
                "content_type": f.content_type,
                "sha256": sha256_hex(&f.data),
                "size": f.data.len(),
            })
        })
        .collect();
    serde_json::Value::Array(files)
}

/// The files an outbox row sends: those its context names, read from the store. A file the
/// store no longer has, or a context it cannot read, is a permanent failure of the row (the
/// inner error); a store that fails ends the pass (the outer one).
pub(super) async fn of_row(
    ctx: &Context,
    tenant: &TenantId,
    row: &OutboxRow,
) -> Result<Result<Vec<OutboundAttachment>, SendError>, StoreError> {
    let Some(named) = row.context.0.get("attachments").and_then(|a| a.as_array()) else {
        return Ok(Ok(Vec::new()));
    };
    if named.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let mut tx = ctx.store.begin(tenant).await?;
    let mut files = Vec::with_capacity(named.len());
    for (i, file) in named.iter().enumerate() {
        let field = |k: &str| file.get(k).and_then(|v| v.as_str());
        let (Some(sha), Some(content_type)) = (field("sha256"), field("content_type")) else {
            tx.rollback().await?;
            return Ok(Err(SendError::permanent(format!(
                "attachment {}: no sha256 or content type in the row's context",
                i + 1
            ))));
        };
        let Some(data) = tx.attachment_blob(sha).await? else {
            tx.rollback().await?;
            return Ok(Err(SendError::permanent(format!(
                "attachment {}: no stored file {sha}",
                i + 1
            ))));
        };
        files.push(OutboundAttachment {
            filename: field("filename")
                .map_or_else(|| format!("attachment-{}", i + 1), str::to_owned),
            content_type: content_type.to_owned(),
            data,
        });
    }
    tx.rollback().await?;
    Ok(Ok(files))
}
