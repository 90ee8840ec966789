//! Checkpoints: the segment fsyncs that let journal files go, off the commit path.
//!
//! A group commit makes appends durable by fsyncing the journal only (see `journal.rs`); the
//! segment files they also went to are fsynced later, at a **checkpoint**: when the journal
//! passes [`CHECKPOINT_BYTES`], or [`CHECKPOINT_INTERVAL`] after the last one if segments
//! were written since. The committer starts a new journal file and hands the older ones, with
//! every segment file written since the last checkpoint, to the checkpoint thread, which
//! fsyncs those segments and only then recycles the older journal files. If a segment fsync
//! fails, its partition is poisoned and journal files are kept from then on, for recovery to
//! replay. The same thread writes active segments back early ([`Background::Flush`]), so the
//! fsync that seals a segment, under its partition's lock, has little left to write.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::files::sync_dir;
use super::handles::{Handles, SegmentKey};
use super::spares::{Spares, FILE_BYTES};
use crate::LogError;

/// Start a new journal file, and checkpoint, once the current one is this big.
pub(super) const CHECKPOINT_BYTES: u64 = 128 << 20;
/// Checkpoint anyway this long after the last one if segments were written since.
pub(super) const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(10);
/// Spare journal files kept ready: a whole checkpoint's worth of files taken back, and two
/// more, so a steady load never waits for zero-filling.
pub(super) const SPARES_KEPT: usize = (CHECKPOINT_BYTES / FILE_BYTES) as usize + 2;

/// What a checkpoint needs of the partition a segment file belongs to (the partition is the
/// one to implement it; a checkpoint holds nothing more of it).
pub(super) trait SegmentHealth: Send + Sync {
    /// A segment fsync failed: the partition's appends fail from now on and the journal is
    /// kept.
    fn segment_sync_failed(&self, err: &LogError);
    /// Whether some of the partition's segment data may not be on disk although an fsync was
    /// attempted.
    fn segment_in_doubt(&self) -> bool;
}

/// The second half of a checkpoint, which may run on another thread while commits go on:
/// fsync the segment files the older journal files cover, then delete those files.
pub(super) struct Checkpoint {
    pub failed: Arc<AtomicBool>,
    pub dir: PathBuf,
    pub spares: Arc<Spares>,
    pub handles: Arc<Handles>,
    pub dirty: Vec<(SegmentKey, Arc<Path>, Arc<dyn SegmentHealth>)>,
    pub older: Vec<PathBuf>,
}

impl Checkpoint {
    /// Fsyncs the segments, then deletes the older journal files unless some partition's
    /// durability is in doubt: a failed fsync here, or an earlier failure of its own (Linux
    /// reports a writeback error once, so a later fsync of the same file can succeed without
    /// the lost pages). Then the journal is kept, now and from then on, for the next open.
    pub fn run(self) {
        let mut ok = !self.failed.load(Ordering::SeqCst);
        for (segment, path, partition) in &self.dirty {
            match self.open(*segment, path) {
                Ok(Some(file)) => {
                    if let Err(err) = file.sync_data() {
                        partition.segment_sync_failed(&LogError::Io(err));
                    }
                }
                // Trimmed, or its partition removed: nothing of it needs to be durable.
                Ok(None) => {}
                Err(err) => {
                    tracing::error!(path = %path.display(), error = %err, "cannot open a segment to fsync it");
                    ok = false;
                }
            }
            if partition.segment_in_doubt() {
                ok = false;
            }
        }
        if !ok {
            if !self.failed.swap(true, Ordering::SeqCst) {
                tracing::error!(
                    "a segment's durability is in doubt; keeping the journal for the next open"
                );
            }
            return;
        }
        if self.older.is_empty() {
            return;
        }
        for path in &self.older {
            if let Err(err) = self.spares.recycle(path) {
                tracing::warn!(path = %path.display(), error = %err, "could not recycle journal file");
            }
        }
        if let Err(err) = sync_dir(&self.dir) {
            tracing::warn!(error = %err, "could not sync the journal directory");
        }
    }

    /// A dirty segment's file to fsync: its cached handle, or the file opened for this once;
    /// `None` if the file is gone. Running out of descriptors is waited out (for up to five
    /// seconds: this thread holds up no request).
    fn open(&self, segment: SegmentKey, path: &Path) -> Result<Option<Arc<File>>, LogError> {
        for _ in 0..50 {
            match self.handles.transient(segment, path) {
                Ok(file) => return Ok(Some(file)),
                Err(LogError::Io(e)) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(LogError::OutOfFiles) => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => return Err(e),
            }
        }
        Err(LogError::OutOfFiles)
    }
}

/// Segment fsyncs that are off the commit path.
pub(super) enum Background {
    Checkpoint(Checkpoint),
    /// Write back an active segment's data early, so the fsync that seals it (under the
    /// partition's lock, holding up its appends) has little left to write.
    Flush(Arc<File>, Arc<dyn SegmentHealth>),
}

impl Background {
    pub fn run(self) {
        match self {
            Background::Checkpoint(checkpoint) => checkpoint.run(),
            Background::Flush(file, partition) => {
                if let Err(err) = file.sync_data() {
                    // The error is reported once: later fsyncs of this file may "succeed".
                    partition.segment_sync_failed(&LogError::Io(err));
                }
            }
        }
    }
}

/// Runs background work in order on its own thread, so a slow segment fsync never holds up a
/// group commit.
pub(super) fn run_background(queue: std::sync::mpsc::Receiver<Background>) {
    for work in queue {
        work.run();
    }
}
