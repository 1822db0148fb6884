//! An inbound article's attachments: stored with their Content-ID (inline images) and, when
//! [`domain::attachment::danger`](crate::domain::attachment::danger) finds one, why opening
//! them is dangerous. Flagged, never dropped: an agent may need the file.

use crate::domain::attachment::danger;
use crate::domain::{ArticleId, Attachment};
use crate::store::Tx;

use super::ServiceError;

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
