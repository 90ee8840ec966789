//! Where leases live: the [`LeaseStore`] trait, with the KCL's conditional writes (every change
//! but creation and meta-data is conditional on the `leaseCounter` last seen, and bumps it), and
//! three stores: DynamoDB (the KCL's table: real DynamoDB or any compatible server), a local
//! file (one process, nothing else needed) and memory (tests).

mod dynamodb;
mod file;
mod memory;

use std::future::Future;

pub use dynamodb::DynamoDbStore;
pub use file::FileStore;
pub use memory::MemoryStore;

use crate::lease::{Checkpoint, Lease};

/// A store failed in a way that is not a lost condition.
#[derive(Debug, thiserror::Error)]
#[error("lease store: {0}")]
pub struct StoreError(pub String);

/// The outcome of a conditional write: `Ok(true)` done, `Ok(false)` its condition failed (the
/// lease changed since it was read: another worker holds it now, or it is gone).
pub type Conditional = Result<bool, StoreError>;

/// The lease table's operations. Every write that takes `counter` succeeds only while the
/// lease's `leaseCounter` still equals it, and leaves it one higher.
pub trait LeaseStore: Send + Sync + 'static {
    /// Creates the table if there is none (and waits until it can be used).
    fn prepare(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every lease (other items of a KCL 3.5 table are skipped).
    fn list(&self) -> impl Future<Output = Result<Vec<Lease>, StoreError>> + Send;

    /// One lease, read consistently.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Lease>, StoreError>> + Send;

    /// Writes `lease` unless one with its key exists.
    fn create_if_absent(&self, lease: &Lease) -> impl Future<Output = Conditional> + Send;

    /// Bumps the counter: the owner is alive.
    fn renew(&self, key: &str, counter: u64) -> impl Future<Output = Conditional> + Send;

    /// Makes `owner` the owner (counting an owner switch when it changes) and ends any hand-off.
    fn take(
        &self,
        key: &str,
        counter: u64,
        owner: &str,
        switch: bool,
    ) -> impl Future<Output = Conditional> + Send;

    /// Gives the lease up: no owner, so any worker may take it at once.
    fn release(&self, key: &str, counter: u64) -> impl Future<Output = Conditional> + Send;

    /// Records a checkpoint (and clears a pending one and the owner-switch count).
    fn checkpoint(
        &self,
        key: &str,
        counter: u64,
        checkpoint: &Checkpoint,
    ) -> impl Future<Output = Conditional> + Send;

    /// Records a finished shard's children (unconditionally, as long as the lease exists).
    fn set_children(
        &self,
        key: &str,
        children: &[String],
    ) -> impl Future<Output = Conditional> + Send;

    /// Deletes a lease.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// One of the three stores, chosen at run time (`shardline consume` picks by its flags).
pub enum AnyStore {
    DynamoDb(DynamoDbStore),
    File(FileStore),
    Memory(MemoryStore),
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::DynamoDb($s) => $e,
            AnyStore::File($s) => $e,
            AnyStore::Memory($s) => $e,
        }
    };
}

impl LeaseStore for AnyStore {
    async fn prepare(&self) -> Result<(), StoreError> {
        each!(self, s => s.prepare().await)
    }
    async fn list(&self) -> Result<Vec<Lease>, StoreError> {
        each!(self, s => s.list().await)
    }
    async fn get(&self, key: &str) -> Result<Option<Lease>, StoreError> {
        each!(self, s => s.get(key).await)
    }
    async fn create_if_absent(&self, lease: &Lease) -> Conditional {
        each!(self, s => s.create_if_absent(lease).await)
    }
    async fn renew(&self, key: &str, counter: u64) -> Conditional {
        each!(self, s => s.renew(key, counter).await)
    }
    async fn take(&self, key: &str, counter: u64, owner: &str, switch: bool) -> Conditional {
        each!(self, s => s.take(key, counter, owner, switch).await)
    }
    async fn release(&self, key: &str, counter: u64) -> Conditional {
        each!(self, s => s.release(key, counter).await)
    }
    async fn checkpoint(&self, key: &str, counter: u64, checkpoint: &Checkpoint) -> Conditional {
        each!(self, s => s.checkpoint(key, counter, checkpoint).await)
    }
    async fn set_children(&self, key: &str, children: &[String]) -> Conditional {
        each!(self, s => s.set_children(key, children).await)
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        each!(self, s => s.delete(key).await)
    }
}
