//! On-disk storage: segment files with checksummed records, group commit, crash recovery.
//!
//! # Layout
//!
//! ```text
//! <dir>/
//!   manifest                        the engine's metadata blob (see `manifest.rs`)
//!   journal/
//!     00000000000000000007.wal      the write-ahead journal (see `journal.rs`)
//!     00000000000000000012.spare    a pre-written file for it (see `spares.rs`)
//!   partitions/
//!     <id>/                         one directory per partition, named by its decimal id
//!       incarnation                 tells it apart from an earlier partition with this id
//!       00000000000000000000.seg    segment holding offsets 0.., named by its base offset
//!       00000000000000000000.idx    its sparse index, written when the segment was sealed
//!       00000000000000081920.seg    the active (last) segment: appends go here
//! ```
//!
//! * A **segment** (`segment.rs`) is a 32-byte header followed by records; a **record**
//!   (`record.rs`) is `[u32 body_len][u32 crc32(body)][u64 offset][u64 timestamp_ms][payload]`,
//!   all little-endian. Offsets are dense and consecutive across a partition's segments.
//! * In memory each segment keeps only its bounds and a **sparse index** (`index.rs`): one
//!   `(offset, file position, timestamp)` for its first record and then roughly one every
//!   [`DiskOptions::index_interval_bytes`]. A lookup binary-searches the segments by base
//!   offset, then the index, then reads forward with `pread`.
//! * When the active segment reaches [`DiskOptions::segment_bytes`] it is **sealed**:
//!   fsynced, its index written to `.idx`, and a new active segment created (directory
//!   fsynced).
//!
//! # Durability (`commit.rs`, `journal.rs`, `checkpoint.rs`)
//!
//! An append writes all its records with one `pwrite` under the partition lock and queues them
//! for a group commit, which appends everything queued to the shared journal with one write
//! and one `fdatasync` (segments are fsynced when sealed and at journal checkpoints). A strict
//! append's commit starts when its caller first waits on its [`Durable`](crate::Durable): on
//! the committer thread, or on the waiting thread itself when no commit ended in the last
//! millisecond. With [`Durability::Strict`] entries become visible to readers, and the
//! append's `Durable` resolves, only after that fsync. With [`Durability::Relaxed`] they are
//! visible immediately and the fsync happens in the background. A failed write is undone
//! (file truncated back), so e.g. a full disk fails the append cleanly. A failed fsync fails
//! the waiting appends and makes the partition refuse further appends until reopened.
//!
//! # Recovery (`recovery.rs`)
//!
//! At [`DiskStorage::open`], for each partition:
//!
//! * sealed segments load their `.idx` if its checksum is valid and it matches the segment;
//!   otherwise they are scanned and the `.idx` rewritten;
//! * the last segment is always scanned, verifying every record's checksum and offset; the
//!   file is **truncated at the first torn or corrupt record** (a crash mid-write leaves a cut
//!   or zero-filled tail; those entries were never acknowledged in strict mode);
//! * the journal is replayed (`partition/replay.rs`): records it holds that are missing from a
//!   partition's end (lost from the page cache in a machine crash) are written back, then made
//!   durable;
//! * everything that remains is visible;
//! * damage inside a sealed segment (which was fsynced before its successor existed) is not
//!   truncated: it is logged, and reads touching it return [`LogError::Corrupt`].
//!
//! Trimming deletes whole segments, oldest first, creating a fresh empty active segment first
//! when every segment goes, so a directory always holds a contiguous run of segments.
//! Removing a partition renames its directory to `<id>.<n>.deleting` before deleting it; such
//! leftovers are deleted at open.

mod checked;
mod checkpoint;
mod commit;
mod files;
mod handles;
mod index;
mod journal;
mod manifest;
mod partition;
mod record;
mod recovery;
mod segment;
mod segment_file;
mod spares;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use self::checkpoint::SPARES_KEPT;
use self::commit::Committer;
use self::files::{remove_dir_if_exists, sync_dir};
use self::handles::Handles;
use self::journal::Journal;
use self::manifest::Manifest;
use self::partition::Partition;
use self::spares::Spares;
use crate::{Appended, Bounds, Entry, LogError, PartitionId, Storage};

/// When an append counts as done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// Entries become visible, and [`Appended::durable`] resolves, once fsynced.
    #[default]
    Strict,
    /// Entries are visible as soon as written; fsync follows in the background, so a crash
    /// can lose the most recent entries even though readers saw them.
    Relaxed,
}

/// How to open a [`DiskStorage`]. Start from [`DiskOptions::new`].
#[derive(Clone, Debug)]
pub struct DiskOptions {
    /// Root directory; created if missing.
    pub dir: PathBuf,
    pub durability: Durability,
    /// A segment is sealed, and a new one started, once it reaches this size.
    pub segment_bytes: u64,
    /// The sparse index holds an entry at least every this many bytes of a segment.
    pub index_interval_bytes: u64,
    /// Segment files kept open at most (least recently used closed first; see `handles.rs`).
    /// The binary sizes it from the process's descriptor limit.
    pub max_open_files: usize,
}

impl DiskOptions {
    /// Defaults: 64 MiB segments, an index entry every 4 KiB, strict durability, 512 open
    /// segment files.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DiskOptions {
            dir: dir.into(),
            durability: Durability::Strict,
            segment_bytes: 64 << 20,
            index_interval_bytes: 4 << 10,
            max_open_files: 512,
        }
    }
}

/// Partitions stored as checksummed segment files under one directory, with group commit and
/// crash recovery. The on-disk layout and recovery rules are described in `src/disk/mod.rs`.
///
/// Only one `DiskStorage` may use a directory at a time: it holds an exclusive lock on
/// `<dir>/LOCK` while open, so a second one (in this process or another) fails to open.
/// Dropping it waits for pending fsyncs and stops the group-commit thread.
pub struct DiskStorage {
    options: DiskOptions,
    partitions_dir: PathBuf,
    partitions: RwLock<HashMap<PartitionId, Arc<Partition>>>,
    manifest: Manifest,
    /// Open segment files, bounded.
    handles: Arc<Handles>,
    /// Numbers removed partition directories, so their temporary names never collide.
    removals: AtomicU64,
    /// Dropped last: drains pending commits and joins the thread.
    committer: Committer,
    /// Held for the storage's life so no second storage can open the same directory.
    _lock: File,
}

const DELETING_SUFFIX: &str = ".deleting";

/// Takes an exclusive advisory lock on `<dir>/LOCK` (released when the process exits).
fn lock_dir(dir: &Path) -> Result<File, LogError> {
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("LOCK"))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(LogError::Io(io::Error::new(
            io::ErrorKind::WouldBlock,
            format!("{} is in use by another shardline process", dir.display()),
        ))),
        Err(fs::TryLockError::Error(e)) => Err(LogError::Io(e)),
    }
}

impl DiskStorage {
    /// Opens (creating if needed) the storage in `options.dir`, recovering every partition.
    ///
    /// # Errors
    /// I/O failure, or [`LogError::Corrupt`] if a partition's segments overlap.
    pub fn open(options: DiskOptions) -> Result<Self, LogError> {
        Self::open_with(options, Committer::start)
    }

    fn open_with(
        options: DiskOptions,
        committer: impl FnOnce(Journal) -> Result<Committer, LogError>,
    ) -> Result<Self, LogError> {
        let partitions_dir = options.dir.join("partitions");
        fs::create_dir_all(&partitions_dir)?;
        sync_dir(&options.dir)?;
        let lock = lock_dir(&options.dir)?;
        let manifest = Manifest::open(&options.dir)?;
        let handles = Arc::new(Handles::new(options.max_open_files));

        let mut partitions = HashMap::new();
        for entry in fs::read_dir(&partitions_dir)? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(DELETING_SUFFIX) {
                tracing::info!(dir = %path.display(), "finishing removal of partition");
                if entry.file_type()?.is_dir() {
                    fs::remove_dir_all(&path)?;
                } else {
                    fs::remove_file(&path)?;
                }
                continue;
            }
            let id = match name.parse::<PartitionId>() {
                Ok(id) if id.to_string() == name && entry.file_type()?.is_dir() => id,
                _ => {
                    tracing::warn!(path = %path.display(), "ignoring unexpected entry in partitions/");
                    continue;
                }
            };
            let recovered = recovery::recover(&path, id, options.index_interval_bytes)?;
            let partition = Partition::new(id, path, recovered, Arc::clone(&handles));
            partitions.insert(id, Arc::new(partition));
        }
        let journal_dir = journal::journal_dir(&options.dir);
        fs::create_dir_all(&journal_dir)?;
        let spares = Spares::open(&journal_dir, SPARES_KEPT)?;
        let last_seq = partition::replay_journal(
            &journal_dir,
            &partitions,
            options.index_interval_bytes,
            &spares,
            &handles,
        )?;
        let journal = Journal::create(&journal_dir, last_seq, spares, Arc::clone(&handles))?;
        tracing::info!(
            dir = %options.dir.display(),
            partitions = partitions.len(),
            "opened disk storage"
        );
        Ok(DiskStorage {
            committer: committer(journal)?,
            options,
            partitions_dir,
            partitions: RwLock::new(partitions),
            manifest,
            handles,
            removals: AtomicU64::new(0),
            _lock: lock,
        })
    }

    fn partition(&self, id: PartitionId) -> Result<Arc<Partition>, LogError> {
        self.partitions
            .read()
            .get(&id)
            .cloned()
            .ok_or(LogError::NoSuchPartition(id))
    }

    fn partition_dir(&self, id: PartitionId) -> PathBuf {
        self.partitions_dir.join(id.to_string())
    }
}

impl Storage for DiskStorage {
    fn create_partition(&self, id: PartitionId) -> Result<(), LogError> {
        let mut map = self.partitions.write();
        if map.contains_key(&id) {
            return Err(LogError::PartitionExists(id));
        }
        let dir = self.partition_dir(id);
        // Not in the map, so anything there is an unfinished removal.
        remove_dir_if_exists(&dir)?;
        let recovered = recovery::create(&dir)?;
        let partition = Partition::new(id, dir, recovered, Arc::clone(&self.handles));
        map.insert(id, Arc::new(partition));
        Ok(())
    }

    fn remove_partition(&self, id: PartitionId) -> Result<(), LogError> {
        // Renamed away under the lock (atomic: the partition is either whole or gone), then
        // deleted without blocking other partitions.
        let doomed = {
            let mut map = self.partitions.write();
            let dir = match map.remove(&id) {
                Some(partition) => {
                    partition.mark_removed();
                    partition.dir().to_path_buf()
                }
                None => self.partition_dir(id),
            };
            let seq = self.removals.fetch_add(1, Ordering::Relaxed);
            let doomed = self
                .partitions_dir
                .join(format!("{id}.{seq}{DELETING_SUFFIX}"));
            match fs::rename(&dir, &doomed) {
                Ok(()) => sync_dir(&self.partitions_dir)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            doomed
        };
        remove_dir_if_exists(&doomed)?;
        Ok(())
    }

    fn partitions(&self) -> Vec<PartitionId> {
        let mut ids: Vec<_> = self.partitions.read().keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    fn append(
        &self,
        id: PartitionId,
        now_ms: u64,
        payloads: &[&[u8]],
    ) -> Result<Appended, LogError> {
        let appended = self
            .partition(id)?
            .append(now_ms, payloads, &self.options, &self.committer);
        // A strict append's commit starts when its caller waits for it (see `Durable`).
        if self.options.durability == Durability::Relaxed {
            self.committer.wake();
        }
        appended
    }

    fn read(
        &self,
        id: PartitionId,
        from: u64,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Vec<Entry>, LogError> {
        self.partition(id)?
            .read(from, max_entries, max_bytes, &self.options)
    }

    fn bounds(&self, id: PartitionId) -> Result<Bounds, LogError> {
        self.partition(id)?.bounds()
    }

    fn offset_at_time(&self, id: PartitionId, timestamp_ms: u64) -> Result<u64, LogError> {
        self.partition(id)?
            .offset_at_time(timestamp_ms, &self.options)
    }

    fn trim_before(&self, id: PartitionId, timestamp_ms: u64) -> Result<(), LogError> {
        self.partition(id)?.trim_before(timestamp_ms)
    }

    fn watch(&self, id: PartitionId) -> Result<tokio::sync::watch::Receiver<u64>, LogError> {
        self.partition(id)?.watch()
    }

    fn load_manifest(&self) -> Result<Option<Vec<u8>>, LogError> {
        self.manifest.load()
    }

    fn store_manifest(&self, bytes: &[u8]) -> Result<(), LogError> {
        self.manifest.store(bytes)
    }
}
