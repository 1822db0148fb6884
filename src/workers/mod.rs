//! Supervised loops: one Maildir ingestor per offer, one IMAP ingestor per mailbox, the
//! outbox sender, and the escalator that fires SLA deadlines. Each loop does a
//! unit of work, checks for shutdown between units (never inside a transaction), and backs
//! off (capped, jittered) when the store is away.

pub mod escalator;
pub mod imap;
pub mod maildir;
pub mod outbox;

use std::time::Duration;

/// The wait after `failures` consecutive failures: 1 s doubling to 60 s, plus up to 25 %.
pub fn backoff(failures: u32) -> Duration {
    let base = Duration::from_secs(1u64 << failures.min(6)).min(Duration::from_secs(60));
    // Jitter from a random uuid: spreads several daemons' retries without another crate.
    let jitter = (uuid::Uuid::new_v4().as_u128() % 1000) as u64;
    base + base.mul_f64(jitter as f64 / 4000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_cap_with_bounded_jitter() {
        let table = [(0, 1), (1, 2), (3, 8), (6, 60), (20, 60)];
        for (failures, secs) in table {
            let base = Duration::from_secs(secs);
            let got = backoff(failures);
            assert!(
                got >= base && got <= base.mul_f64(1.25),
                "{failures}: {got:?}"
            );
        }
    }
}
