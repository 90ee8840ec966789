//! Group commit: one thread fsyncs on behalf of every appender.
//!
//! An append writes its records (under the partition lock) and then [`Committer::register`]s
//! the file it wrote, the partition, the new end offset and, in strict mode, a oneshot sender.
//! The committer thread takes *everything* pending, calls `sync_data` once per distinct file,
//! and then, in registration order:
//!
//! * on success advances the partition's visible end (readers and watchers see the entries)
//!   and completes the waiter with `Ok`;
//! * on failure completes the waiter with the error and *poisons* the partition: after a
//!   failed fsync the kernel may have dropped the dirty pages, and a later fsync can succeed
//!   without them ever reaching the disk, so every later append to that partition fails until
//!   the storage is reopened (recovery then rescans what really is on disk).
//!
//! While the thread is inside `sync_data`, new appends pile up and share the next fsync, so
//! the fsync rate adapts to load with no timer. Registration happens under the partition lock,
//! so a partition's requests are queued in offset order.

use std::collections::HashMap;
use std::fs::File;
use std::mem;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

use super::partition::Partition;
use crate::LogError;

/// Something to make durable.
pub(super) struct CommitRequest {
    /// The segment file the append wrote to.
    pub file: Arc<File>,
    pub partition: Arc<Partition>,
    /// One past the last offset written by the append.
    pub end: u64,
    /// Timestamp of the append's entries.
    pub timestamp_ms: u64,
    /// Completed once the entries are durable (strict mode only).
    pub waiter: Option<oneshot::Sender<Result<(), LogError>>>,
}

#[derive(Default)]
struct Queue {
    pending: Vec<CommitRequest>,
    /// Set on shutdown, or when the thread ended unexpectedly.
    closed: bool,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

/// Handle to the committer thread; dropping it drains the queue and joins the thread.
pub(super) struct Committer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    pub fn start() -> Result<Committer, LogError> {
        let shared = Arc::new(Shared::default());
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("shardline-log-commit".into())
            .spawn(move || run(&for_thread))?;
        Ok(Committer {
            shared,
            thread: Some(thread),
        })
    }

    /// A committer without a thread: requests wait until [`Committer::run_pending`].
    #[cfg(test)]
    pub fn manual() -> Committer {
        Committer {
            shared: Arc::new(Shared::default()),
            thread: None,
        }
    }

    /// Commits everything pending on the calling thread (for [`Committer::manual`]).
    #[cfg(test)]
    pub fn run_pending(&self) {
        let batch = mem::take(&mut self.shared.queue.lock().pending);
        commit(batch);
    }

    /// Queues a request for the next group commit.
    pub fn register(&self, request: CommitRequest) {
        let mut queue = self.shared.queue.lock();
        if queue.closed {
            drop(queue);
            if let Some(tx) = request.waiter {
                let _ = tx.send(Err(LogError::Closed));
            }
            return;
        }
        queue.pending.push(request);
        drop(queue);
        self.shared.wake.notify_one();
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.shared.queue.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("group commit thread panicked");
            }
        }
    }
}

/// Marks the queue closed if the thread ends (normally or by panic), failing whatever is
/// still queued so no waiter hangs.
struct CloseOnExit<'a>(&'a Shared);

impl Drop for CloseOnExit<'_> {
    fn drop(&mut self) {
        let pending = {
            let mut queue = self.0.queue.lock();
            queue.closed = true;
            mem::take(&mut queue.pending)
        };
        for request in pending {
            if let Some(tx) = request.waiter {
                let _ = tx.send(Err(LogError::Closed));
            }
        }
    }
}

fn run(shared: &Shared) {
    let _close = CloseOnExit(shared);
    loop {
        let batch = {
            let mut queue = shared.queue.lock();
            while queue.pending.is_empty() && !queue.closed {
                shared.wake.wait(&mut queue);
            }
            if queue.pending.is_empty() {
                return;
            }
            mem::take(&mut queue.pending)
        };
        commit(batch);
    }
}

fn commit(batch: Vec<CommitRequest>) {
    let mut synced: HashMap<*const File, Result<(), LogError>> = HashMap::new();
    for request in &batch {
        synced
            .entry(Arc::as_ptr(&request.file))
            .or_insert_with(|| request.file.sync_data().map_err(LogError::from));
    }
    for request in batch {
        let result = synced[&Arc::as_ptr(&request.file)].clone();
        let result = request
            .partition
            .committed(request.end, request.timestamp_ms, result);
        if let Some(tx) = request.waiter {
            let _ = tx.send(result);
        }
    }
}
