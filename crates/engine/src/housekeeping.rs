//! Housekeeping, run on a timer by the server: deletions whose DELETING time is over are
//! finished, data past each stream's retention is trimmed, deregistered consumers are dropped,
//! and on-demand streams are scaled.

use crate::catalog::StreamRef;
use crate::error::Result;
use crate::Engine;

impl Engine {
    /// Housekeeping, called periodically: finishes deletions whose DELETING time is over and
    /// trims data past each stream's retention.
    ///
    /// # Errors
    /// A storage failure (the next tick retries).
    pub fn tick(&self) -> Result<()> {
        self.apply_pending_reshards()?;
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
                        .filter(|sh| !sh.pruned)
                        .map(|sh| sh.partition)
                        .chain(s.meta.queues.iter().map(|q| q.journal))
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
            let journals: Vec<u64> = stream
                .read()
                .meta
                .queues
                .iter()
                .map(|q| q.journal)
                .collect();
            for p in partitions.into_iter().filter(|p| !journals.contains(p)) {
                self.storage.trim_before(p, cutoff)?;
            }
            self.prune_closed_shards(&stream, cutoff)?;
            let mut s = stream.write();
            let before = s.meta.consumers.len();
            s.meta
                .consumers
                .retain(|c| c.deleted_at_ms.is_none_or(|t| t > now));
            deregistered |= s.meta.consumers.len() != before;
            let channels_before = s.meta.channels.len();
            s.meta
                .channels
                .retain(|c| c.deleted_at_ms.is_none_or(|t| t > now));
            deregistered |= s.meta.channels.len() != channels_before;
            let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut s.meta.queues)
                .into_iter()
                .partition(|q| q.deleted_at_ms.is_some_and(|t| t <= now));
            s.meta.queues = kept;
            drop(s);
            if !gone.is_empty() {
                // Out of the manifest first, then the journals: a crash in between leaves
                // orphans the next start removes.
                self.persist()?;
                for q in gone {
                    self.queues.forget(&q.id);
                    self.storage.remove_partition(q.journal)?;
                }
            }
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

    /// Drops the partitions of closed shards whose every record passed retention (closed
    /// before `cutoff`): the manifest marks them pruned first, then the partitions go, so a
    /// crash in between leaves only orphans that the next start removes.
    fn prune_closed_shards(&self, stream: &StreamRef, cutoff: u64) -> Result<()> {
        let doomed: Vec<u64> = {
            let mut s = stream.write();
            s.meta
                .shards
                .iter_mut()
                .filter(|sh| !sh.pruned && sh.closed.as_ref().is_some_and(|c| c.closed_ms < cutoff))
                .map(|sh| {
                    sh.pruned = true;
                    sh.partition
                })
                .collect()
        };
        if doomed.is_empty() {
            return Ok(());
        }
        self.persist()?;
        for p in doomed {
            self.storage.remove_partition(p)?;
        }
        Ok(())
    }
}
