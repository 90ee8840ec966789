//! Leases in memory, for tests (and under the file store): the same conditional writes as the
//! DynamoDB table, on a map behind a lock.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Conditional, LeaseStore, StoreError};
use crate::lease::{Checkpoint, Lease};

/// Leases in a map; clones share it.
#[derive(Clone, Default)]
pub struct MemoryStore {
    leases: Arc<Mutex<BTreeMap<String, Lease>>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// A store holding `leases` (the file store starts from what it read).
    pub fn with(leases: Vec<Lease>) -> MemoryStore {
        let store = MemoryStore::new();
        {
            let mut map = store.leases.lock();
            for l in leases {
                map.insert(l.key.clone(), l);
            }
        }
        store
    }

    /// Every lease, in key order (what the file store writes).
    pub fn snapshot(&self) -> Vec<Lease> {
        self.leases.lock().values().cloned().collect()
    }

    /// Applies `change` to the lease `key` if its counter is `counter`, then bumps the counter.
    fn conditional(&self, key: &str, counter: u64, change: impl FnOnce(&mut Lease)) -> bool {
        let mut map = self.leases.lock();
        match map.get_mut(key) {
            Some(l) if l.counter == counter => {
                change(l);
                l.counter += 1;
                true
            }
            _ => false,
        }
    }

    /// Synchronous versions, shared with the file store.
    pub(crate) fn create_now(&self, lease: &Lease) -> bool {
        let mut map = self.leases.lock();
        if map.contains_key(&lease.key) {
            return false;
        }
        map.insert(lease.key.clone(), lease.clone());
        true
    }

    pub(crate) fn renew_now(&self, key: &str, counter: u64) -> bool {
        self.conditional(key, counter, |_| {})
    }

    pub(crate) fn take_now(&self, key: &str, counter: u64, owner: &str, switch: bool) -> bool {
        self.conditional(key, counter, |l| {
            l.owner = Some(owner.to_string());
            l.checkpoint_owner = None;
            if switch {
                l.owner_switches_since_checkpoint += 1;
            }
        })
    }

    pub(crate) fn release_now(&self, key: &str, counter: u64) -> bool {
        self.conditional(key, counter, |l| l.owner = None)
    }

    pub(crate) fn checkpoint_now(&self, key: &str, counter: u64, checkpoint: &Checkpoint) -> bool {
        self.conditional(key, counter, |l| {
            l.checkpoint = checkpoint.clone();
            l.pending_checkpoint = None;
            l.owner_switches_since_checkpoint = 0;
        })
    }

    pub(crate) fn set_children_now(&self, key: &str, children: &[String]) -> bool {
        let mut map = self.leases.lock();
        match map.get_mut(key) {
            Some(l) => {
                l.children = children.to_vec();
                true
            }
            None => false,
        }
    }

    pub(crate) fn delete_now(&self, key: &str) {
        self.leases.lock().remove(key);
    }

    pub(crate) fn get_now(&self, key: &str) -> Option<Lease> {
        self.leases.lock().get(key).cloned()
    }
}

impl LeaseStore for MemoryStore {
    async fn prepare(&self) -> Result<(), StoreError> {
        Ok(())
    }
    async fn list(&self) -> Result<Vec<Lease>, StoreError> {
        Ok(self.snapshot())
    }
    async fn get(&self, key: &str) -> Result<Option<Lease>, StoreError> {
        Ok(self.get_now(key))
    }
    async fn create_if_absent(&self, lease: &Lease) -> Conditional {
        Ok(self.create_now(lease))
    }
    async fn renew(&self, key: &str, counter: u64) -> Conditional {
        Ok(self.renew_now(key, counter))
    }
    async fn take(&self, key: &str, counter: u64, owner: &str, switch: bool) -> Conditional {
        Ok(self.take_now(key, counter, owner, switch))
    }
    async fn release(&self, key: &str, counter: u64) -> Conditional {
        Ok(self.release_now(key, counter))
    }
    async fn checkpoint(&self, key: &str, counter: u64, checkpoint: &Checkpoint) -> Conditional {
        Ok(self.checkpoint_now(key, counter, checkpoint))
    }
    async fn set_children(&self, key: &str, children: &[String]) -> Conditional {
        Ok(self.set_children_now(key, children))
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.delete_now(key);
        Ok(())
    }
}
