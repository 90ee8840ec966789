//! Open segment files, bounded: a least-recently-used cache of file handles, so the number of
//! descriptors the storage holds does not grow with the number of partitions.
//!
//! A segment file is opened when something needs it (an append, a read, a checkpoint's fsync)
//! and kept open while it is among the `capacity` most recently used; a partition written
//! continuously keeps its active segment's handle. A handle is an `Arc<File>`: one evicted while
//! an operation still holds it stays open until that operation ends, so the descriptors in use
//! exceed the capacity by at most the operations in flight. Every handle of a file goes before
//! the file does (trimmed segments, removed partitions), so deleted files never linger open.
//!
//! When the process runs out of descriptors anyway (client connections count against the same
//! limit), an open evicts half of the cache and tries again before it gives up with
//! [`LogError::OutOfFiles`].

use std::fs::File;
use std::io;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

use lru::LruCache;
use parking_lot::Mutex;

use super::files::open_rw;
use crate::{LogError, PartitionId};

/// Which segment a handle is of: its partition and base offset.
pub(super) type SegmentKey = (PartitionId, u64);

/// The storage's open segment files.
pub(super) struct Handles {
    open: Mutex<LruCache<SegmentKey, Arc<File>>>,
}

/// `EMFILE` / `ENFILE`: the process's (or the system's) descriptors are all in use.
fn out_of_descriptors(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(24 | 23))
}

impl Handles {
    pub fn new(capacity: usize) -> Handles {
        let capacity = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Handles {
            open: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The handle of segment `key`, whose file is `path`: the cached one, or the file opened
    /// now (read and write) and cached.
    ///
    /// # Errors
    /// The file cannot be opened: [`LogError::OutOfFiles`] when descriptors ran out even after
    /// half the cache was closed, else the I/O error.
    pub fn get(&self, key: SegmentKey, path: &Path) -> Result<Arc<File>, LogError> {
        if let Some(file) = self.open.lock().get(&key) {
            return Ok(Arc::clone(file));
        }
        Ok(self.insert(key, self.open_file(path)?))
    }

    /// The cached handle of segment `key`, or its file opened for the caller alone (not
    /// cached, and not counted as a use): for work that touches many files once, such as a
    /// checkpoint's fsyncs.
    ///
    /// # Errors
    /// As [`Handles::get`].
    pub fn transient(&self, key: SegmentKey, path: &Path) -> Result<Arc<File>, LogError> {
        if let Some(file) = self.open.lock().peek(&key) {
            return Ok(Arc::clone(file));
        }
        Ok(Arc::new(self.open_file(path)?))
    }

    /// Opens a segment file, closing half the cache once if descriptors ran out.
    fn open_file(&self, path: &Path) -> Result<File, LogError> {
        match open_rw(path) {
            Ok(f) => Ok(f),
            Err(e) if out_of_descriptors(&e) => {
                self.shrink();
                open_rw(path).map_err(|e| {
                    if out_of_descriptors(&e) {
                        LogError::OutOfFiles
                    } else {
                        LogError::Io(e)
                    }
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Caches a file just created or opened for segment `key` and returns its handle.
    pub fn insert(&self, key: SegmentKey, file: File) -> Arc<File> {
        let file = Arc::new(file);
        let mut open = self.open.lock();
        // Another thread may have opened it meanwhile; either handle is as good.
        open.put(key, Arc::clone(&file));
        file
    }

    /// Closes the cached handle of one segment (its file is about to go).
    pub fn forget(&self, key: SegmentKey) {
        self.open.lock().pop(&key);
    }

    /// Closes every cached handle of a partition (it is being removed).
    pub fn forget_partition(&self, id: PartitionId) {
        let mut open = self.open.lock();
        let doomed: Vec<SegmentKey> = open
            .iter()
            .filter(|((p, _), _)| *p == id)
            .map(|(k, _)| *k)
            .collect();
        for key in doomed {
            open.pop(&key);
        }
    }

    /// Closes the least recently used half of the cache.
    fn shrink(&self) {
        let mut open = self.open.lock();
        let keep = open.len() / 2;
        while open.len() > keep {
            open.pop_lru();
        }
        tracing::warn!(
            kept = keep,
            "out of file descriptors: closed half of the cached segment files"
        );
    }

    /// Handles cached now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.open.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_recently_used_and_closes_what_goes() {
        let dir = tempfile::tempdir().unwrap();
        let path = |i: u64| dir.path().join(format!("{i}.seg"));
        for i in 0..4 {
            std::fs::write(path(i), b"x").unwrap();
        }
        let handles = Handles::new(2);
        let a = handles.get((1, 0), &path(0)).unwrap();
        handles.get((1, 1), &path(1)).unwrap();
        // Using segment 0 again makes segment 1 the least recently used.
        assert!(Arc::ptr_eq(&a, &handles.get((1, 0), &path(0)).unwrap()));
        handles.get((2, 2), &path(2)).unwrap();
        assert_eq!(handles.len(), 2);
        assert!(Arc::ptr_eq(&a, &handles.get((1, 0), &path(0)).unwrap()));
        // Forgetting a partition closes its handles only.
        handles.forget_partition(1);
        assert_eq!(handles.len(), 1);
        handles.forget((2, 2));
        assert_eq!(handles.len(), 0);
        // A file that is gone is an I/O error, not a cached handle.
        assert!(handles.get((3, 9), &dir.path().join("missing")).is_err());
        assert_eq!(handles.len(), 0);
    }
}
