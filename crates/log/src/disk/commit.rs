//! Group commit: one thread fsyncs on behalf of every appender.
//!
//! An append writes its records (under the partition lock) and then [`Committer::register`]s
//! the records, the file it wrote, the partition, the new end offset and, in strict mode, a
//! oneshot sender. The committer thread takes *everything* pending, writes it to the journal
//! with one write and one `fdatasync` (see `journal.rs`), and then, in registration order:
//!
//! * on success advances the partition's visible end (readers and watchers see the entries)
//!   and completes the waiter with `Ok`;
//! * on failure completes the waiter with the error and *poisons* the partition: after a
//!   failed fsync the kernel may have dropped the dirty pages, and a later fsync can succeed
//!   without them ever reaching the disk, so every later append to that partition fails until
//!   the storage is reopened (recovery then rescans what really is on disk).
//!
//! While the thread is inside `fdatasync`, new appends pile up and share the next one, so the
//! fsync rate adapts to load with no timer. Registration happens under the partition lock, so
//! a partition's requests are queued (and journaled) in offset order. Between commits the
//! thread also runs the journal's checkpoints.
//!
//! A strict append's commit starts when its caller first waits on the append's
//! [`Durable`](crate::Durable) (so a PutRecords queues every shard's append first and they share
//! one commit). When no commit has ended for [`IDLE_AFTER`] the thread is asleep, and waking it
//! and being woken back would cost a light-load append two thread hand-offs on top of its
//! fdatasync: the waiting thread then commits the queue itself. Either way a batch is taken
//! from the queue only with the journal locked, so batches are journaled, and completed, in
//! the order they were queued.

use std::fs::File;
use std::mem;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

use std::sync::mpsc::Sender;

use super::checkpoint::{self, Background, SegmentHealth, CHECKPOINT_INTERVAL};
use super::handles::SegmentKey;
use super::journal::{Frame, Journal};
use crate::{LogError, PartitionId, StartCommit};

/// What the committer needs of the partition an append wrote to (the partition implements it;
/// a request holds nothing more of it).
pub(super) trait CommitTarget: SegmentHealth {
    fn id(&self) -> PartitionId;
    /// See `journal.rs`: frames of another incarnation of this id are not replayed into it.
    fn incarnation(&self) -> u64;
    /// The file holding entries up to `end` was fsynced (or failed to be): returns what the
    /// append's waiter should see.
    fn committed(
        &self,
        end: u64,
        timestamp_ms: u64,
        synced: Result<(), LogError>,
    ) -> Result<(), LogError>;
}

/// Something to make durable.
pub(super) struct CommitRequest {
    /// The segment the append wrote to, and its file.
    pub segment: SegmentKey,
    pub path: Arc<Path>,
    pub partition: Arc<dyn CommitTarget>,
    pub first_offset: u64,
    /// The append's records as written to the segment.
    pub records: Bytes,
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

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Used by the committer thread only (and by `Drop` after it ended).
    journal: Mutex<Journal>,
    /// When the last commit ended, in nanoseconds since `epoch`.
    last_commit: AtomicU64,
    epoch: Instant,
    /// Whether a committer thread runs (a manual committer's tests commit when they choose).
    threaded: bool,
}

/// Commits this far apart mean the committer thread has gone to sleep, so waking it would
/// cost more than committing on the appending thread.
const IDLE_AFTER: Duration = Duration::from_millis(1);

impl Shared {
    fn committed(&self) {
        let now = self.epoch.elapsed().as_nanos() as u64;
        self.last_commit.store(now, Ordering::Relaxed);
    }

    fn idle(&self) -> bool {
        let now = self.epoch.elapsed().as_nanos() as u64;
        now.saturating_sub(self.last_commit.load(Ordering::Relaxed)) >= IDLE_AFTER.as_nanos() as u64
    }

    /// Commits everything queued; the caller holds the journal, so batches are taken (and
    /// journaled, and completed) in queue order whichever thread commits them.
    fn commit_queue(&self, journal: &mut Journal) {
        let batch = mem::take(&mut self.queue.lock().pending);
        if !batch.is_empty() {
            commit(batch, journal);
            self.committed();
        }
    }

    fn new(journal: Journal, threaded: bool) -> Arc<Shared> {
        Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            journal: Mutex::new(journal),
            last_commit: AtomicU64::new(0),
            epoch: Instant::now(),
            threaded,
        })
    }
}

/// Handle to the committer thread; dropping it drains the queue and joins the thread.
pub(super) struct Committer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// Runs checkpoints and early segment flushes; ends when both senders are gone.
    checkpointer: Option<JoinHandle<()>>,
    background: Option<Sender<Background>>,
}

impl Committer {
    pub fn start(journal: Journal) -> Result<Committer, LogError> {
        let shared = Shared::new(journal, true);
        let (background, queue) = std::sync::mpsc::channel();
        let checkpointer = std::thread::Builder::new()
            .name("shardline-log-checkpoint".into())
            .spawn(move || checkpoint::run_background(queue))?;
        let for_thread = Arc::clone(&shared);
        let checkpoints = background.clone();
        let thread = std::thread::Builder::new()
            .name("shardline-log-commit".into())
            .spawn(move || run(&for_thread, &checkpoints))?;
        Ok(Committer {
            shared,
            thread: Some(thread),
            checkpointer: Some(checkpointer),
            background: Some(background),
        })
    }

    /// A committer without a thread: requests wait until [`Committer::run_pending`].
    #[cfg(test)]
    pub fn manual(journal: Journal) -> Committer {
        Committer {
            shared: Shared::new(journal, false),
            thread: None,
            checkpointer: None,
            background: None,
        }
    }

    /// Commits everything pending on the calling thread (for [`Committer::manual`]).
    #[cfg(test)]
    pub fn run_pending(&self) {
        self.shared.commit_queue(&mut self.shared.journal.lock());
    }

    /// Runs a checkpoint now (see `journal.rs`).
    #[cfg(test)]
    pub fn checkpoint(&self) {
        self.shared.journal.lock().checkpoint();
    }

    /// Makes a spare journal file now (see `spares.rs`).
    #[cfg(test)]
    pub fn prepare_spare(&self) {
        self.shared.journal.lock().prepare_spare_for_test();
    }

    /// Has a segment's data written back early, off the commit path (not with a manual
    /// committer).
    pub fn flush_in_background(&self, file: Arc<File>, partition: Arc<dyn SegmentHealth>) {
        if let Some(background) = &self.background {
            let _ = background.send(Background::Flush(file, partition));
        }
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
    }

    /// Gets what is queued committed by the committer thread (relaxed appends, which do not wait).
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// What a strict append's [`Durable`](crate::Durable) starts its commit through.
    pub fn starter(&self) -> Arc<dyn StartCommit> {
        self.shared.clone()
    }
}

impl StartCommit for Shared {
    /// Commits the queue on the calling thread when `inline` is allowed and no commit ended
    /// for [`IDLE_AFTER`] (a lone append then skips two thread hand-offs), else wakes the
    /// committer thread.
    fn start_commit(&self, inline: bool) {
        if inline && self.threaded && self.idle() {
            if let Some(mut journal) = self.journal.try_lock() {
                self.commit_queue(&mut journal);
                return;
            }
        }
        self.wake.notify_one();
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
        drop(self.background.take());
        if let Some(thread) = self.checkpointer.take() {
            if thread.join().is_err() {
                tracing::error!("checkpoint thread panicked");
            }
        }
        // A clean shutdown leaves nothing to replay.
        self.shared.journal.lock().checkpoint();
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

fn run(shared: &Shared, checkpoints: &Sender<Background>) {
    let _close = CloseOnExit(shared);
    loop {
        {
            let mut queue = shared.queue.lock();
            if queue.pending.is_empty() && !queue.closed {
                shared.wake.wait_for(&mut queue, CHECKPOINT_INTERVAL);
            }
            if queue.pending.is_empty() && queue.closed {
                return;
            }
        }
        let mut journal = shared.journal.lock();
        shared.commit_queue(&mut journal);
        if journal.checkpoint_due() {
            if let Some(checkpoint) = journal.begin_checkpoint() {
                if let Err(unsent) = checkpoints.send(Background::Checkpoint(checkpoint)) {
                    unsent.0.run();
                }
            }
        }
    }
}

fn commit(batch: Vec<CommitRequest>, journal: &mut Journal) {
    let frames: Vec<Frame<'_>> = batch
        .iter()
        .map(|r| Frame {
            partition: r.partition.id(),
            incarnation: r.partition.incarnation(),
            first_offset: r.first_offset,
            records: &r.records,
        })
        .collect();
    let written = journal.write(&frames);
    drop(frames);
    if written.is_ok() {
        for request in &batch {
            journal.mark_dirty(request.segment, &request.path, || request.partition.clone());
        }
    }
    for request in batch {
        let result =
            request
                .partition
                .committed(request.end, request.timestamp_ms, written.clone());
        if let Some(tx) = request.waiter {
            let _ = tx.send(result);
        }
    }
}
