//! Housekeeping, run on a timer by the server: deletions whose DELETING time is over are
//! finished, data past each stream's retention is trimmed, deregistered consumers are dropped,
//! and on-demand streams are scaled.

use crate::error::Result;
use crate::Engine;

impl Engine {
    /// Housekeeping, called periodically: finishes deletions whose DELETING time is over and
    /// trims data past each stream's retention.
    ///
    /// # Errors
    /// A storage failure (the next tick retries).
    pub fn tick(&self) -> Result<()> {
        let now = self.clock.now_ms();
        let mut deleted = false;
        let mut deregistered = false;
        for stream in self.catalog.all() {
            let (account, name, partitions, delete_due, cutoff) = {
                let s = stream.read();
                (
                    s.meta.account.clone(),
                    s.meta.name.clone(),
                    s.meta
                        .shards
                        .iter()
                        .map(|sh| sh.partition)
                        .collect::<Vec<_>>(),
                    s.meta.deleted_at_ms.is_some_and(|t| t <= now),
                    now.saturating_sub(s.meta.retention_ms()),
                )
            };
            if delete_due {
                self.catalog.remove(&account, &name);
                deleted = true;
                self.persist()?;
                for p in partitions {
                    self.storage.remove_partition(p)?;
                }
                continue;
            }
            for p in partitions {
                self.storage.trim_before(p, cutoff)?;
            }
            let mut s = stream.write();
            let before = s.meta.consumers.len();
            s.meta
                .consumers
                .retain(|c| c.deleted_at_ms.is_none_or(|t| t > now));
            deregistered |= s.meta.consumers.len() != before;
        }
        if deregistered {
            self.persist()?;
        }
        self.autoscale()?;
        if deleted {
            tracing::debug!("finished stream deletions");
        }
        Ok(())
    }
}
