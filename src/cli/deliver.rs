//! `guichet deliver`: one message from stdin, as an MTA pipe transport. Maps the service's
//! outcome to the exit codes the MTA understands (0, 67 bounce, 75 retry later) and prints
//! one short line per offer that fits in Postfix's log excerpt.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;

use super::EX_NOUSER;
use super::output::{cut, line, printable};
use crate::app;
use crate::domain::TenantId;
use crate::notify::Notifier;
use crate::service::deliver::{DeliverError, Input, Route};
use crate::service::ingest::IngestOutcome;
use crate::service::outbox::send_due;
use crate::service::{self, Context};

pub(super) async fn deliver(
    ctx: &Context,
    code: Option<&str>,
    recipient: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let route = match (code, recipient) {
        (Some(code), _) => Route::Offer(code),
        (None, Some(address)) => Route::Recipient(address),
        (None, None) => Route::Headers,
    };
    let limit = ctx.config.largest_message_bytes();
    let input = Input::read_from(std::io::stdin().lock(), limit)
        .context("cannot read the message from stdin")?;
    let delivered = match service::deliver::deliver_input(ctx, route, &input).await {
        Ok(delivered) => delivered,
        Err(e @ (DeliverError::NoOffer | DeliverError::UnknownRecipient { .. })) => {
            let _ = writeln!(
                std::io::stderr(),
                "guichet: error: {}",
                line(&e.to_string())
            );
            return Ok(ExitCode::from(EX_NOUSER));
        }
        Err(e) => return Err(e.into()),
    };
    {
        // The message is stored: nothing printed here may fail the delivery.
        let mut err = std::io::stderr().lock();
        for (offer, outcome) in &delivered.outcomes {
            let _ = writeln!(err, "guichet: {}", outcome_line(offer, outcome));
        }
    }
    // The message is safe. Send its acknowledgements now if we can; the daemon's outbox
    // worker sends whatever is left.
    if let (Ok(notifier), Ok(sender)) =
        (Notifier::from_config(&ctx.config), app::sender(&ctx.config))
    {
        for (code, _) in &delivered.outcomes {
            let Some(offer) = ctx.config.offer(code.as_str()) else {
                continue;
            };
            if let Err(e) = send_due(ctx, &notifier, sender.as_ref(), offer).await {
                tracing::warn!(tenant = %offer.code, error = %e.detail(), "outbox not sent now, the daemon will");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Postfix's `pipe(8)` keeps the first 100 characters of a command's output in its log line
/// (`status=sent (delivered via guichet service (...))`): the line `deliver` prints per
/// offer, `guichet: ` included, fits in them.
const MTA_LOG_EXCERPT: usize = 100;

/// What became of a message in one offer, in a few words: `SMSU I-000042 created`,
/// `SMSU duplicate (I-000042)`, `SMSU quarantined #7: <reason, cut>`.
pub(super) fn outcome_line(offer: &TenantId, outcome: &IngestOutcome) -> String {
    match outcome {
        IngestOutcome::Created { ticket, .. } => format!("{offer} {ticket} created"),
        IngestOutcome::Appended {
            ticket, reopened, ..
        } => format!(
            "{offer} {ticket} added{}",
            if *reopened { ", reopened" } else { "" }
        ),
        IngestOutcome::Duplicate { ticket: Some(t) } => format!("{offer} duplicate ({t})"),
        IngestOutcome::Duplicate { ticket: None } => format!("{offer} duplicate"),
        IngestOutcome::Refused { .. } => format!("{offer} refused unknown sender"),
        IngestOutcome::Quarantined { id, reason } => {
            let head = format!("{offer} quarantined #{id}: ");
            let room = MTA_LOG_EXCERPT.saturating_sub("guichet: ".len() + head.len());
            format!("{head}{}", cut(&printable(reason, false), room))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::QuarantineId;

    #[test]
    fn quarantine_lines_fit_the_mta_log_excerpt() {
        let offer = TenantId::parse("SMSU").unwrap();
        let long = IngestOutcome::Quarantined {
            id: QuarantineId(7),
            reason: "message of 30000000 bytes is over the limit of 26214400 bytes, and then \
                     some more words that nobody will read in a mail log"
                .to_owned(),
        };
        let shown = format!("guichet: {}", outcome_line(&offer, &long));
        assert!(shown.chars().count() <= MTA_LOG_EXCERPT, "{shown}");
        assert!(
            shown.starts_with("guichet: SMSU quarantined #7: message of 30000000 bytes"),
            "{shown}"
        );
        assert!(shown.ends_with("..."), "{shown}");
        let short = IngestOutcome::Quarantined {
            id: QuarantineId(7),
            reason: "no sender address".to_owned(),
        };
        assert_eq!(
            outcome_line(&offer, &short),
            "SMSU quarantined #7: no sender address"
        );
    }
}
