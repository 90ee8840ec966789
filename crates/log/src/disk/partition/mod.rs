//! One partition: its segments, its append/read/trim logic and its visibility bookkeeping.
//!
//! All mutable state sits behind one mutex per partition. Appends hold it while they write
//! (so offsets and file positions are assigned in order); readers hold it only long enough to
//! copy a small [`View`] (a file handle, positions and bounds) and then read the file with
//! `pread` without the lock. Segment files are opened on demand through the storage's bounded
//! handle cache (`handles.rs`).
//!
//! Journal replay, which restores a partition's tail at open, is in `replay.rs`.

mod replay;

pub(super) use replay::replay_journal;

use std::fs::{self, File};
use std::io;
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use tokio::sync::{oneshot, watch};

use bytes::Bytes;

use super::checkpoint::SegmentHealth;
use super::commit::{CommitRequest, CommitTarget, Committer};
use super::files::{remove_if_exists, sync_dir};
use super::handles::Handles;
use super::record::{self, Record, RecordReader, Scan, MAX_ENTRY_BYTES, RECORD_OVERHEAD};
use super::recovery::Recovered;
use super::segment::Segment;
use super::segment_file::{index_path, segment_path};
use super::{DiskOptions, Durability};
use crate::{Appended, Bounds, Durable, Entry, LogError, PartitionId};

/// An active segment's data is written back early every this many bytes, so sealing it (an
/// fsync under the partition lock) never has a whole segment's worth to write: that stalled
/// every append to the partition for up to a few hundred milliseconds.
const FLUSH_AHEAD_BYTES: u64 = 8 << 20;
/// Largest single append (all its records framed), so it fits one journal frame.
const MAX_APPEND_BYTES: usize = 1 << 31;
/// Smallest read issued against a segment file.
const MIN_READ_CHUNK: usize = 64 << 10;
/// Largest read issued up front (a single bigger record still gets read whole). Kept well
/// below a GetRecords call's 10 MiB: a chunk is zero-filled and copied in whole, and a call of
/// 10,000 small records needs about 1 MiB.
const MAX_READ_CHUNK: usize = 1 << 20;

pub(super) struct Partition {
    id: PartitionId,
    /// See `journal.rs`: frames of another incarnation of this id are not replayed here.
    incarnation: u64,
    dir: PathBuf,
    /// The storage's open segment files.
    handles: Arc<Handles>,
    state: Mutex<State>,
    /// Visible end offset, for watchers. Only changed together with `State::visible_end`.
    visible: watch::Sender<u64>,
}

struct State {
    /// Ordered by base offset, contiguous; never empty (the last one is the active segment)
    /// until the partition is removed.
    segments: Vec<Segment>,
    /// Timestamp of the newest entry ever appended (or the floor recovered from disk).
    last_ts: Option<u64>,
    /// Readers see offsets below this.
    visible_end: u64,
    /// Timestamp of the entry at `visible_end - 1`.
    visible_ts: Option<u64>,
    /// Set when an fsync (or an undo after a failed write) failed; appends then fail.
    failed: Option<LogError>,
    /// Set when a *segment* fsync failed: its pages may never reach the disk, so the journal
    /// that holds them must be kept (see `journal.rs`).
    segment_in_doubt: bool,
    removed: bool,
}

impl State {
    fn active(&self) -> &Segment {
        self.segments
            .last()
            .expect("a live partition has an active segment")
    }

    fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .last_mut()
            .expect("a live partition has an active segment")
    }

    fn next_offset(&self) -> u64 {
        self.active().next
    }

    fn start(&self) -> u64 {
        self.segments[0].base
    }
}

/// How [`Partition::scan`] stopped.
enum Scanned {
    /// The visitor had what it wanted.
    Stopped,
    /// The next record is not visible yet.
    VisibleEnd,
    /// The segment ended; the next one starts at this offset.
    SegmentEnd(u64),
}

/// What a reader needs from under the lock to read one segment.
pub(super) struct View {
    file: Arc<File>,
    base: u64,
    seg_next: u64,
    seg_len: u64,
    /// Where to start reading, and the offset of the record there.
    pos: u64,
    offset: u64,
    /// First offset wanted (records before it are skipped).
    target: u64,
    visible_end: u64,
}

impl View {
    /// Reading `seg` from `start` (a file position and the offset of the record there) for
    /// records from offset `target` on.
    fn new(
        file: Arc<File>,
        seg: &Segment,
        start: (u64, u64),
        target: u64,
        visible_end: u64,
    ) -> View {
        View {
            file,
            base: seg.base,
            seg_next: seg.next,
            seg_len: seg.len,
            pos: start.0,
            offset: start.1,
            target,
            visible_end,
        }
    }
}

impl Partition {
    /// A partition over recovered (or freshly created) segments; all of them are visible.
    pub fn new(
        id: PartitionId,
        dir: PathBuf,
        recovered: Recovered,
        handles: Arc<Handles>,
    ) -> Partition {
        let Recovered {
            segments,
            last_ts,
            incarnation,
        } = recovered;
        assert!(!segments.is_empty());
        let end = segments.last().map_or(0, |s| s.next);
        let visible_ts = segments.iter().rev().find_map(|s| s.last_ts);
        let (visible, _) = watch::channel(end);
        Partition {
            id,
            incarnation,
            dir,
            handles,
            state: Mutex::new(State {
                segments,
                last_ts,
                visible_end: end,
                visible_ts,
                failed: None,
                segment_in_doubt: false,
                removed: false,
            }),
            visible,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Locks the state, failing if the partition was removed.
    fn lock(&self) -> Result<MutexGuard<'_, State>, LogError> {
        let st = self.state.lock();
        if st.removed {
            return Err(LogError::NoSuchPartition(self.id));
        }
        Ok(st)
    }

    /// The open file of one of this partition's segments.
    fn file(&self, seg: &Segment) -> Result<Arc<File>, LogError> {
        self.handles.get((self.id, seg.base), &seg.path)
    }

    #[cfg(test)]
    pub fn set_active_file_for_test(&self, file: File) {
        let base = self.state.lock().active().base;
        self.handles.insert((self.id, base), file);
    }

    /// Number of sparse index entries and bytes of the active segment.
    #[cfg(test)]
    pub fn active_index_stats_for_test(&self) -> (usize, u64) {
        let st = self.state.lock();
        (st.active().index.entries().len(), st.active().len)
    }

    /// Marks the partition removed and closes its files (pending commits keep theirs open).
    pub fn mark_removed(&self) {
        let mut st = self.state.lock();
        st.removed = true;
        st.segments.clear();
        self.handles.forget_partition(self.id);
    }

    fn advance_visible(&self, st: &mut State, end: u64, timestamp_ms: u64) {
        if end > st.visible_end {
            st.visible_end = end;
            st.visible_ts = Some(timestamp_ms);
            self.visible.send_replace(end);
        }
    }

    fn poison(&self, st: &mut State, err: &LogError) {
        if st.failed.is_none() {
            tracing::error!(
                partition = self.id,
                error = %err,
                "durability of partition {} is in doubt; appends will fail until reopened",
                self.id
            );
            st.failed = Some(err.clone());
        }
    }

    fn segment_failed(&self, st: &mut State, err: &LogError) {
        st.segment_in_doubt = true;
        self.poison(st, err);
    }

    pub fn append(
        self: &Arc<Self>,
        now_ms: u64,
        payloads: &[&[u8]],
        options: &DiskOptions,
        committer: &Committer,
    ) -> Result<Appended, LogError> {
        if let Some(p) = payloads.iter().find(|p| p.len() > MAX_ENTRY_BYTES) {
            return Err(LogError::EntryTooLarge {
                size: p.len(),
                limit: MAX_ENTRY_BYTES,
            });
        }
        let mut st = self.lock()?;
        if let Some(err) = &st.failed {
            return Err(err.clone());
        }
        let timestamp_ms = st.last_ts.map_or(now_ms, |t| t.max(now_ms));
        let first_offset = st.next_offset();
        if payloads.is_empty() {
            return Ok(Appended {
                first_offset,
                timestamp_ms,
                durable: Durable::ready(),
            });
        }
        // A segment left full by a failed roll (or by recovery) is rolled before writing.
        if st.active().len >= options.segment_bytes && !st.active().is_empty() {
            self.roll(&mut st)?;
        }

        let total: usize = payloads.iter().map(|p| RECORD_OVERHEAD + p.len()).sum();
        if total > MAX_APPEND_BYTES {
            // A journal frame's length is a u32.
            return Err(LogError::EntryTooLarge {
                size: total,
                limit: MAX_APPEND_BYTES,
            });
        }
        let mut buf = Vec::with_capacity(total);
        for (offset, payload) in (first_offset..).zip(payloads) {
            record::encode(&mut buf, offset, timestamp_ms, payload);
        }
        let file = self.file(st.active())?;
        let active = st.active_mut();
        let pos = active.len;
        if let Err(err) = file.write_all_at(&buf, pos) {
            // Undo a partial write so the file ends at the last whole record again.
            if let Err(undo) = file.set_len(pos) {
                let undo = LogError::Io(undo);
                self.poison(&mut st, &undo);
            }
            tracing::warn!(partition = self.id, error = %err, "append failed; nothing written");
            return Err(err.into());
        }
        for (offset, payload) in (first_offset..).zip(payloads) {
            let size = record::encoded_len(payload.len());
            active.push_record(offset, timestamp_ms, size, options.index_interval_bytes);
        }
        active.unflushed += buf.len() as u64;
        if active.unflushed >= FLUSH_AHEAD_BYTES {
            active.unflushed = 0;
            let health: Arc<dyn SegmentHealth> = Arc::clone(self) as _;
            committer.flush_in_background(file, health);
        }
        let segment = (self.id, active.base);
        let path = Arc::clone(&active.path);
        let records = Bytes::from(buf);
        st.last_ts = Some(timestamp_ms);
        let end = first_offset + payloads.len() as u64;

        let (waiter, durable) = match options.durability {
            Durability::Strict => {
                let (tx, rx) = oneshot::channel();
                (Some(tx), Durable::waiting(rx, committer.starter()))
            }
            Durability::Relaxed => {
                self.advance_visible(&mut st, end, timestamp_ms);
                (None, Durable::ready())
            }
        };
        committer.register(CommitRequest {
            segment,
            path,
            partition: Arc::clone(self) as Arc<dyn CommitTarget>,
            first_offset,
            records,
            end,
            timestamp_ms,
            waiter,
        });

        if st.active().len >= options.segment_bytes {
            if let Err(err) = self.roll(&mut st) {
                // The append itself is done; the next append retries the roll.
                tracing::warn!(partition = self.id, error = %err, "could not roll segment");
            }
        }
        Ok(Appended {
            first_offset,
            timestamp_ms,
            durable,
        })
    }

    /// Seals the active segment (fsync, write its `.idx`) and starts a new one.
    fn roll(&self, st: &mut State) -> Result<(), LogError> {
        let active = st.active();
        if let Err(err) = self.file(active)?.sync_data() {
            let err = LogError::Io(err);
            self.segment_failed(st, &err);
            return Err(err);
        }
        let idx = index_path(&self.dir, active.base);
        if let Err(err) = active.index_file().write(&idx) {
            // Only costs a rescan at the next open.
            tracing::warn!(path = %idx.display(), error = %err, "could not write segment index");
            let _ = fs::remove_file(&idx);
        }
        self.start_segment(st)
    }

    /// Adds a new empty active segment at the next offset.
    fn start_segment(&self, st: &mut State) -> Result<(), LogError> {
        let base = st.next_offset();
        let (segment, file) = Segment::create(&self.dir, base, st.last_ts.unwrap_or(0))?;
        // The header's floor timestamp must survive a crash even if no append follows.
        if let Err(err) = file.sync_data().and_then(|()| sync_dir(&self.dir)) {
            drop(file);
            let _ = fs::remove_file(segment_path(&self.dir, base));
            return Err(err.into());
        }
        self.handles.insert((self.id, base), file);
        tracing::debug!(partition = self.id, base, "started segment");
        st.segments.push(segment);
        Ok(())
    }

    /// Copies what is needed to read from `target` (clamped up to the oldest stored entry
    /// if `clamp`, else `None` if it was trimmed). `None` when nothing visible is there.
    fn view(&self, target: u64, clamp: bool) -> Result<Option<View>, LogError> {
        let st = self.lock()?;
        let start = st.start();
        if target < start && !clamp {
            return Ok(None);
        }
        let target = target.max(start);
        if target >= st.visible_end {
            return Ok(None);
        }
        let i = st.segments.partition_point(|s| s.base <= target) - 1;
        let seg = &st.segments[i];
        if target >= seg.next {
            return Err(self.corrupt(seg.base, format!("offset {target} missing")));
        }
        Ok(Some(View::new(
            self.file(seg)?,
            seg,
            seg.read_start(target),
            target,
            st.visible_end,
        )))
    }

    fn corrupt(&self, base: u64, detail: String) -> LogError {
        let what = segment_path(&self.dir, base).display().to_string();
        tracing::error!(partition = self.id, segment = %what, %detail, "corrupt segment");
        LogError::Corrupt { what, detail }
    }

    /// I/O errors while reading: a file shorter than recorded is corruption.
    fn read_error(&self, base: u64, err: io::Error) -> LogError {
        if err.kind() == io::ErrorKind::UnexpectedEof {
            self.corrupt(base, "segment file is shorter than recorded".into())
        } else {
            LogError::Io(err)
        }
    }

    pub fn read(
        &self,
        from: u64,
        max_entries: usize,
        max_bytes: usize,
        options: &DiskOptions,
    ) -> Result<Vec<Entry>, LogError> {
        let mut out = Vec::new();
        if max_entries == 0 {
            drop(self.lock()?);
            return Ok(out);
        }
        let chunk = max_bytes
            .saturating_add(max_entries.min(1 << 16).saturating_mul(RECORD_OVERHEAD))
            .saturating_add(usize::try_from(options.index_interval_bytes).unwrap_or(usize::MAX))
            .clamp(MIN_READ_CHUNK, MAX_READ_CHUNK);
        let mut bytes = 0usize;
        let mut target = from;
        let mut first = true;
        while let Some(view) = self.view(target, first)? {
            first = false;
            let scanned = self.scan(&view, chunk, |r| {
                if !out.is_empty() && bytes.saturating_add(r.payload.len()) > max_bytes {
                    return ControlFlow::Break(());
                }
                bytes += r.payload.len();
                out.push(Entry {
                    offset: r.offset,
                    timestamp_ms: r.timestamp_ms,
                    payload: r.payload,
                });
                if out.len() >= max_entries {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?;
            match scanned {
                Scanned::SegmentEnd(next) => target = next,
                Scanned::Stopped | Scanned::VisibleEnd => break,
            }
        }
        Ok(out)
    }

    /// Reads `view`'s segment forward from its start position, handing every record at or
    /// after its target to `visit`, until `visit` breaks, the visible end is reached, or the
    /// segment ends (checked against where it should end). The one loop over a segment's
    /// records that reads (`read`) and searches (`offset_at_time`) share.
    fn scan(
        &self,
        view: &View,
        chunk: usize,
        mut visit: impl FnMut(Record) -> ControlFlow<()>,
    ) -> Result<Scanned, LogError> {
        let mut reader = RecordReader::new(&view.file, view.pos, view.seg_len, view.offset, chunk);
        loop {
            if reader.expected() >= view.visible_end {
                return Ok(Scanned::VisibleEnd);
            }
            match reader.next().map_err(|e| self.read_error(view.base, e))? {
                Scan::Record(r) => {
                    if r.offset >= view.target && visit(r).is_break() {
                        return Ok(Scanned::Stopped);
                    }
                }
                Scan::End => {
                    let reached = reader.expected();
                    if reached != view.seg_next {
                        return Err(self.corrupt(
                            view.base,
                            format!(
                                "records end at offset {reached} but the segment should hold \
                                 offsets up to {}",
                                view.seg_next
                            ),
                        ));
                    }
                    return Ok(Scanned::SegmentEnd(reached));
                }
                Scan::Bad { pos, reason } => {
                    return Err(self.corrupt(view.base, format!("at byte {pos}: {reason}")));
                }
            }
        }
    }

    pub fn offset_at_time(
        &self,
        timestamp_ms: u64,
        options: &DiskOptions,
    ) -> Result<u64, LogError> {
        let chunk = usize::try_from(options.index_interval_bytes.saturating_mul(2))
            .unwrap_or(usize::MAX)
            .clamp(MIN_READ_CHUNK, MAX_READ_CHUNK);
        let mut from = 0;
        loop {
            let view = {
                let st = self.lock()?;
                let from_here = from.max(st.start());
                if from_here >= st.visible_end {
                    return Ok(st.visible_end);
                }
                // Timestamps never decrease, so the answer is in the first segment (at or
                // after `from_here`) whose last timestamp reaches the target.
                let i0 = st.segments.partition_point(|s| s.base <= from_here) - 1;
                let found = st.segments[i0..]
                    .iter()
                    .find(|s| matches!(s.last_ts, Some(t) if t >= timestamp_ms));
                let Some(seg) = found else {
                    return Ok(st.visible_end);
                };
                if seg.base >= st.visible_end {
                    return Ok(st.visible_end);
                }
                View::new(
                    self.file(seg)?,
                    seg,
                    seg.time_start(timestamp_ms),
                    from_here,
                    st.visible_end,
                )
            };
            let mut found = None;
            let scanned = self.scan(&view, chunk, |r| {
                if r.timestamp_ms >= timestamp_ms {
                    found = Some(r.offset);
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?;
            match (scanned, found) {
                (Scanned::Stopped, Some(offset)) => return Ok(offset),
                (Scanned::SegmentEnd(next), _) => from = next,
                _ => return Ok(view.visible_end),
            }
        }
    }

    pub fn bounds(&self) -> Result<Bounds, LogError> {
        let st = self.lock()?;
        let end = st.visible_end;
        let start = st.start().min(end);
        Ok(Bounds {
            start,
            end,
            last_timestamp_ms: if start < end { st.visible_ts } else { None },
            appended_end: st.next_offset(),
        })
    }

    pub fn watch(&self) -> Result<watch::Receiver<u64>, LogError> {
        let _st = self.lock()?;
        Ok(self.visible.subscribe())
    }

    /// Deletes every leading segment whose last entry is older than `timestamp_ms`. If that is
    /// all of them, a new empty active segment is created first, so the partition's offsets
    /// continue and the directory never lacks a segment.
    pub fn trim_before(&self, timestamp_ms: u64) -> Result<(), LogError> {
        let mut st = self.lock()?;
        let doomed = st
            .segments
            .iter()
            .take_while(|s| matches!(s.last_ts, Some(t) if t < timestamp_ms))
            .count();
        if doomed == 0 {
            return Ok(());
        }
        if doomed == st.segments.len() {
            // The active segment becomes a sealed one: durable first, as `roll` makes it.
            if let Err(err) = self.file(st.active())?.sync_data() {
                let err = LogError::Io(err);
                self.segment_failed(&mut st, &err);
                return Err(err);
            }
            self.start_segment(&mut st)?;
        }
        // Oldest first, so what remains on disk is always a contiguous suffix.
        let mut deleted = 0;
        let mut result = Ok(());
        for seg in &st.segments[..doomed] {
            self.handles.forget((self.id, seg.base));
            let removed = remove_if_exists(&segment_path(&self.dir, seg.base))
                .and_then(|()| remove_if_exists(&index_path(&self.dir, seg.base)));
            if let Err(err) = removed {
                result = Err(err.into());
                break;
            }
            deleted += 1;
        }
        let gone: Vec<Segment> = st.segments.drain(..deleted).collect();
        if let (Some(first), Some(last)) = (gone.first(), gone.last()) {
            tracing::debug!(
                partition = self.id,
                from = first.base,
                to = last.next,
                "trimmed {} segment(s)",
                gone.len()
            );
        }
        drop(st);
        sync_dir(&self.dir)?;
        result
    }
}

impl SegmentHealth for Partition {
    /// A segment fsync failed (at a checkpoint, a roll or a trim): appends fail from now on
    /// and the journal is kept.
    fn segment_sync_failed(&self, err: &LogError) {
        let mut st = self.state.lock();
        self.segment_failed(&mut st, err);
    }

    /// A removed partition's data no longer matters.
    fn segment_in_doubt(&self) -> bool {
        let st = self.state.lock();
        st.segment_in_doubt && !st.removed
    }
}

impl CommitTarget for Partition {
    fn id(&self) -> PartitionId {
        self.id
    }

    fn incarnation(&self) -> u64 {
        self.incarnation
    }

    fn committed(
        &self,
        end: u64,
        timestamp_ms: u64,
        synced: Result<(), LogError>,
    ) -> Result<(), LogError> {
        let mut st = self.state.lock();
        if let Err(err) = synced {
            // Only a failed fsync leaves the partition's durability in doubt.
            if !matches!(err, LogError::Unwritten(_)) {
                self.poison(&mut st, &err);
            }
            return Err(err);
        }
        if let Some(err) = &st.failed {
            return Err(err.clone());
        }
        self.advance_visible(&mut st, end, timestamp_ms);
        Ok(())
    }
}
