//! An append-only partition log: the storage under shardline.
//!
//! A *partition* is an ordered sequence of opaque entries. The log assigns each entry a dense
//! offset (0, 1, 2, … per partition) and an arrival timestamp that never decreases within the
//! partition. Entries are read back by offset or found by time; whole old segments are dropped
//! by [`Storage::trim_before`]. The crate knows nothing about Kinesis: the engine maps shards
//! to partitions and encodes its records into entry payloads.
//!
//! Besides partitions, a storage keeps one *manifest*: a small blob replaced atomically, in
//! which the engine keeps its metadata (streams, shards, settings).
//!
//! Two implementations: [`DiskStorage`] (segments on disk, checksums, group commit, crash
//! recovery) and [`MemoryStorage`] (for `--in-memory` test runs). A distributed backend would
//! be a third.

mod disk;
mod error;
mod memory;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

pub use disk::{DiskOptions, DiskStorage, Durability};
pub use error::LogError;
pub use memory::MemoryStorage;

/// Identifies a partition; chosen by the caller, unique for the life of the storage.
pub type PartitionId = u64;

/// One stored entry, as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub offset: u64,
    pub timestamp_ms: u64,
    pub payload: Bytes,
}

/// Where a partition's readable entries begin and end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Offset of the oldest entry still stored (equals `end` when empty).
    pub start: u64,
    /// One past the newest entry visible to readers (durable, unless durability is relaxed).
    pub end: u64,
    /// Timestamp of the newest visible entry, if any.
    pub last_timestamp_ms: Option<u64>,
    /// One past the newest entry appended, visible yet or not: where the partition ends if
    /// no more appends come (with strict durability, `end` catches up once fsynced).
    pub appended_end: u64,
}

/// Result of an append: the offsets and timestamp assigned, and a future that resolves once
/// the entries are durable (per the storage's durability setting).
pub struct Appended {
    pub first_offset: u64,
    pub timestamp_ms: u64,
    pub durable: Durable,
}

/// Resolves when an append is durable. Dropping it does not undo the append.
pub struct Durable(DurableInner);

enum DurableInner {
    Ready(Option<Result<(), LogError>>),
    Waiting {
        rx: tokio::sync::oneshot::Receiver<Result<(), LogError>>,
        /// Not yet told to commit: done at the first poll, or at drop if never polled.
        commit: Option<Arc<dyn StartCommit>>,
    },
}

/// Gets queued appends committed. `inline`: the calling thread may do it itself (it is about
/// to wait for the result anyway).
pub(crate) trait StartCommit: Send + Sync {
    fn start_commit(&self, inline: bool);
}

impl Durable {
    pub fn ready() -> Self {
        Durable(DurableInner::Ready(Some(Ok(()))))
    }

    /// Resolves with what `rx` receives; the commit that sends it is started through
    /// `commit` when this is first polled, so every append a caller makes before it waits
    /// (one per shard for a PutRecords) shares one commit.
    pub(crate) fn waiting(
        rx: tokio::sync::oneshot::Receiver<Result<(), LogError>>,
        commit: Arc<dyn StartCommit>,
    ) -> Self {
        Durable(DurableInner::Waiting {
            rx,
            commit: Some(commit),
        })
    }
}

impl Future for Durable {
    type Output = Result<(), LogError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            DurableInner::Ready(result) => Poll::Ready(result.take().unwrap_or(Ok(()))),
            DurableInner::Waiting { rx, commit } => {
                if let Some(commit) = commit.take() {
                    commit.start_commit(true);
                }
                Pin::new(rx)
                    .poll(cx)
                    .map(|r| r.unwrap_or(Err(LogError::Closed)))
            }
        }
    }
}

impl Drop for Durable {
    fn drop(&mut self) {
        if let DurableInner::Waiting {
            commit: Some(commit),
            ..
        } = &mut self.0
        {
            commit.start_commit(false);
        }
    }
}

/// The storage interface the engine is written against.
///
/// Every method is safe to call concurrently. Appends to one partition are ordered: offsets
/// are assigned in call order, and an entry becomes visible only after every entry before it.
pub trait Storage: Send + Sync + 'static {
    /// Creates an empty partition. Creating one that exists is an error.
    ///
    /// # Errors
    /// [`LogError::PartitionExists`], or I/O failure.
    fn create_partition(&self, id: PartitionId) -> Result<(), LogError>;

    /// Removes a partition and all its entries. Removing a missing partition succeeds.
    ///
    /// # Errors
    /// I/O failure.
    fn remove_partition(&self, id: PartitionId) -> Result<(), LogError>;

    /// Ids of every partition present (used at start to reconcile with the manifest).
    fn partitions(&self) -> Vec<PartitionId>;

    /// Appends entries, all with the timestamp `max(now_ms, last timestamp of the partition)`.
    ///
    /// # Errors
    /// [`LogError::NoSuchPartition`], [`LogError::EntryTooLarge`], or I/O failure (the
    /// partition is left as it was before the call).
    fn append(
        &self,
        id: PartitionId,
        now_ms: u64,
        payloads: &[&[u8]],
    ) -> Result<Appended, LogError>;

    /// Reads visible entries starting at `from` (or at the oldest stored entry, if `from` is
    /// older), at most `max_entries` of them and stopping before exceeding `max_bytes` of
    /// payload (at least one entry is returned if any is available).
    ///
    /// # Errors
    /// [`LogError::NoSuchPartition`], [`LogError::Corrupt`], or I/O failure.
    fn read(
        &self,
        id: PartitionId,
        from: u64,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Vec<Entry>, LogError>;

    /// The partition's visible range.
    ///
    /// # Errors
    /// [`LogError::NoSuchPartition`].
    fn bounds(&self, id: PartitionId) -> Result<Bounds, LogError>;

    /// Offset of the first visible entry whose timestamp is `>= timestamp_ms`, or `end` if none.
    ///
    /// # Errors
    /// [`LogError::NoSuchPartition`], [`LogError::Corrupt`], or I/O failure.
    fn offset_at_time(&self, id: PartitionId, timestamp_ms: u64) -> Result<u64, LogError>;

    /// Drops stored data whose every entry is older than `timestamp_ms`, in whole units
    /// (segments), so some older entries may remain; readers filter those themselves.
    ///
    /// # Errors
    /// [`LogError::NoSuchPartition`], or I/O failure.
    fn trim_before(&self, id: PartitionId, timestamp_ms: u64) -> Result<(), LogError>;

    /// Subscribes to appends becoming visible on a partition.
    ///
    /// # Errors
    /// [`LogError::NoSuchPartition`].
    fn watch(&self, id: PartitionId) -> Result<tokio::sync::watch::Receiver<u64>, LogError>;

    /// The manifest last written, if any.
    ///
    /// # Errors
    /// I/O failure or a corrupt manifest.
    fn load_manifest(&self) -> Result<Option<Vec<u8>>, LogError>;

    /// Replaces the manifest atomically and durably.
    ///
    /// # Errors
    /// I/O failure.
    fn store_manifest(&self, bytes: &[u8]) -> Result<(), LogError>;
}
