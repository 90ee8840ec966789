//! The journal: one file that every partition's appends are also written to, so that a group
//! commit costs one `fdatasync` however many partitions it touched.
//!
//! A flush of a file costs the device a cache flush (about 0.3 ms on the virtio disks this
//! project is measured on), and flushes of different files do not overlap, so fsyncing each
//! touched segment made a commit of a 4-shard PutRecords cost four flushes. Instead, each
//! group commit appends a frame per append to the journal and fsyncs only the journal; the
//! segment files are written at append time as before but fsynced only at a **checkpoint**
//! (and when sealed). This is the journal / entry-log split of Apache BookKeeper.
//!
//! ```text
//! <dir>/journal/{seq:020}.wal    frames, written by the committer thread
//!
//!  0          4          8        16          24            32             40
//!  +----------+----------+--------+-----------+-------------+--------------+-----------------+
//!  | body_len | hdr_crc  | seq    | partition | incarnation | first_offset | records ...     |
//!  |   u32    |   u32    | u64    |    u64    |    u64      |     u64      | (segment format)|
//!  +----------+----------+--------+-----------+-------------+--------------+-----------------+
//! ```
//!
//! * `body_len` counts everything after the first 8 bytes; `hdr_crc` is the CRC-32 of
//!   `body_len` and the four u64s. The records carry their own checksums and offsets.
//! * `seq` is the number of the journal file the frame was written to. Journal files are
//!   mostly pre-written spares (see `spares.rs`) whose old contents remain past the newest
//!   frame; a frame of another number ends the file at replay.
//! * `incarnation` is the partition's (see `recovery::create`): a frame of a removed partition
//!   never lands in a new partition that reused its id.
//!
//! **Checkpoint** (`checkpoint.rs`): once the segments a journal file covers are fsynced, the
//! file is recycled. **Replay** (`partition/replay.rs`): at open, the journal's frames restore
//! what a crash took from the segments' ends.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use super::checkpoint::{Checkpoint, SegmentHealth, CHECKPOINT_BYTES, CHECKPOINT_INTERVAL};
use super::files::{create_rw, sync_dir};
use super::handles::{Handles, SegmentKey};
use super::spares::{parse_numbered_name, Spares, FILE_BYTES};
use crate::{LogError, PartitionId};

const FRAME_HEADER_LEN: usize = 40;
/// While writing to a file that is not pre-written, prepare a spare once this much was written
/// (servers that see little traffic never pay for one).
const PREPARE_SPARE_AFTER: u64 = 1 << 20;

pub(super) fn journal_dir(root: &Path) -> PathBuf {
    root.join("journal")
}

pub(super) fn journal_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.wal"))
}

/// Journal files in `dir`, oldest first.
pub(super) fn journal_files(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        match name.to_str().and_then(parse_numbered_name) {
            Some((seq, "wal")) => files.push((seq, entry.path())),
            Some((_, "spare" | "tmp")) => {}
            _ => {
                tracing::warn!(file = %entry.path().display(), "ignoring unexpected file in journal/")
            }
        }
    }
    files.sort_unstable();
    Ok(files)
}

/// One append, as the committer journals it.
pub(super) struct Frame<'a> {
    pub partition: PartitionId,
    pub incarnation: u64,
    pub first_offset: u64,
    /// The append's records, exactly as written to the segment.
    pub records: &'a [u8],
}

fn header(frame: &Frame<'_>, seq: u64) -> [u8; FRAME_HEADER_LEN] {
    let body_len = (FRAME_HEADER_LEN - 8 + frame.records.len()) as u32;
    let mut h = [0u8; FRAME_HEADER_LEN];
    h[0..4].copy_from_slice(&body_len.to_le_bytes());
    h[8..16].copy_from_slice(&seq.to_le_bytes());
    h[16..24].copy_from_slice(&frame.partition.to_le_bytes());
    h[24..32].copy_from_slice(&frame.incarnation.to_le_bytes());
    h[32..40].copy_from_slice(&frame.first_offset.to_le_bytes());
    let crc = header_crc(&h);
    h[4..8].copy_from_slice(&crc.to_le_bytes());
    h
}

fn header_crc(h: &[u8; FRAME_HEADER_LEN]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&h[0..4]);
    hasher.update(&h[8..FRAME_HEADER_LEN]);
    hasher.finalize()
}

/// The journal file being written, and what the next checkpoint must make durable.
pub(super) struct Journal {
    dir: PathBuf,
    seq: u64,
    file: File,
    len: u64,
    /// Whether `file` is a pre-written spare (overwrites need no size update).
    prewritten: bool,
    /// Bytes journaled since the last checkpoint.
    since_checkpoint: u64,
    spares: Arc<Spares>,
    /// Earlier journal files, handed to the next checkpoint.
    older: Vec<PathBuf>,
    /// Segments written since the last checkpoint, with their files and partitions. Their
    /// files are not held open: a checkpoint opens the ones the handle cache no longer has.
    dirty: HashMap<SegmentKey, (Arc<Path>, Arc<dyn SegmentHealth>)>,
    /// The storage's open segment files.
    handles: Arc<Handles>,
    /// Set once a checkpoint found a segment whose durability is in doubt: from then on no
    /// journal file is deleted, so the next open replays (and rewrites) everything.
    failed: Arc<AtomicBool>,
    last_checkpoint: Instant,
    buf: Vec<u8>,
}

impl Journal {
    /// Starts a fresh journal file in `dir` numbered after `seq_floor`.
    pub fn create(
        dir: &Path,
        seq_floor: u64,
        spares: Arc<Spares>,
        handles: Arc<Handles>,
    ) -> Result<Journal, LogError> {
        let seq = seq_floor + 1;
        let (file, prewritten) = open_file(dir, seq, &spares)?;
        Ok(Journal {
            dir: dir.to_path_buf(),
            seq,
            file,
            len: 0,
            prewritten,
            since_checkpoint: 0,
            spares,
            older: Vec::new(),
            dirty: HashMap::new(),
            handles,
            failed: Arc::new(AtomicBool::new(false)),
            last_checkpoint: Instant::now(),
            buf: Vec::new(),
        })
    }

    /// Appends the frames of one group commit and fsyncs the journal.
    ///
    /// # Errors
    /// [`LogError::Unwritten`] when the write failed (the next write goes over it), or the
    /// fsync's error: then none of the frames may be counted on, and the journal moves on to a
    /// new file, so later frames never follow a torn one.
    pub fn write(&mut self, frames: &[Frame<'_>]) -> Result<(), LogError> {
        let size: u64 = frames
            .iter()
            .map(|f| (FRAME_HEADER_LEN + f.records.len()) as u64)
            .sum();
        let full = self.len + size > FILE_BYTES;
        if self.len > 0 && (full || (!self.prewritten && self.spares.available())) {
            // Not fatal: the frames then go on growing the current file.
            if let Err(err) = self.rotate() {
                tracing::warn!(error = %err, "could not start a new journal file");
            }
        }
        if !self.prewritten && self.len + size >= PREPARE_SPARE_AFTER {
            self.spares.prepare_in_background();
        }
        self.buf.clear();
        for frame in frames {
            self.buf.extend_from_slice(&header(frame, self.seq));
            self.buf.extend_from_slice(frame.records);
        }
        // A write that fails (a full disk, say) leaves nothing in doubt: the next frames go over
        // whatever part of it landed. A failed fsync does leave durability in doubt.
        if let Err(err) = self.file.write_all_at(&self.buf, self.len) {
            tracing::warn!(error = %err, "journal write failed; nothing of it counts");
            return Err(LogError::Unwritten(err));
        }
        let result = self.file.sync_data();
        match result {
            Ok(()) => {
                self.len += self.buf.len() as u64;
                self.since_checkpoint += self.buf.len() as u64;
                if self.buf.capacity() > 4 << 20 {
                    self.buf = Vec::new();
                }
                Ok(())
            }
            Err(err) => {
                tracing::error!(error = %err, "journal write failed; starting a new journal file");
                if let Err(e) = self.rotate() {
                    tracing::error!(error = %e, "could not start a new journal file");
                }
                Err(err.into())
            }
        }
    }

    /// Notes a segment written by a journaled append (`partition` is asked for only the first
    /// time the segment is noted).
    pub fn mark_dirty(
        &mut self,
        segment: SegmentKey,
        path: &Arc<Path>,
        partition: impl FnOnce() -> Arc<dyn SegmentHealth>,
    ) {
        self.dirty
            .entry(segment)
            .or_insert_with(|| (Arc::clone(path), partition()));
    }

    pub fn checkpoint_due(&self) -> bool {
        self.since_checkpoint >= CHECKPOINT_BYTES
            || (!self.dirty.is_empty() && self.last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL)
    }

    /// Starts a checkpoint: moves on to a new journal file and hands over what the older
    /// files cover. `None` if the new file could not be created (retried next time).
    pub fn begin_checkpoint(&mut self) -> Option<Checkpoint> {
        self.last_checkpoint = Instant::now();
        self.since_checkpoint = 0;
        if self.len > 0 {
            if let Err(err) = self.rotate() {
                tracing::error!(error = %err, "could not start a new journal file");
                return None;
            }
        }
        Some(Checkpoint {
            failed: Arc::clone(&self.failed),
            dir: self.dir.clone(),
            spares: Arc::clone(&self.spares),
            handles: Arc::clone(&self.handles),
            dirty: self.dirty.drain().map(|(k, (p, h))| (k, p, h)).collect(),
            older: std::mem::take(&mut self.older),
        })
    }

    #[cfg(test)]
    pub fn prepare_spare_for_test(&self) {
        self.spares.prepare().unwrap();
    }

    /// A whole checkpoint on the calling thread.
    pub fn checkpoint(&mut self) {
        if let Some(checkpoint) = self.begin_checkpoint() {
            checkpoint.run();
        }
    }

    fn rotate(&mut self) -> Result<(), LogError> {
        let (file, prewritten) = open_file(&self.dir, self.seq + 1, &self.spares)?;
        self.older.push(journal_path(&self.dir, self.seq));
        self.seq += 1;
        self.file = file;
        self.len = 0;
        self.prewritten = prewritten;
        Ok(())
    }
}

/// Opens journal file `seq`: a spare renamed into place if one is ready, else a new file.
/// Returns whether it is pre-written.
fn open_file(dir: &Path, seq: u64, spares: &Spares) -> Result<(File, bool), LogError> {
    let path = journal_path(dir, seq);
    let (file, prewritten) = match spares.take(&path)? {
        Some(file) => (file, true),
        None => (create_rw(&path)?, false),
    };
    sync_dir(dir)?;
    Ok((file, prewritten))
}

/// A frame's header, as replay reads it back.
pub(super) struct FrameHeader {
    /// The number of the journal file the frame was written to.
    pub seq: u64,
    pub partition: PartitionId,
    pub incarnation: u64,
    pub first_offset: u64,
    /// Where the frame's records start and end in the file.
    pub records: std::ops::Range<u64>,
}

/// The header of the frame at `pos` in a journal file `len` bytes long; `None` if no whole,
/// intact header is there (a file's frames end at the first such place).
pub(super) fn read_frame_header(
    file: &File,
    pos: u64,
    len: u64,
) -> io::Result<Option<FrameHeader>> {
    if pos + FRAME_HEADER_LEN as u64 > len {
        return Ok(None);
    }
    let mut h = [0u8; FRAME_HEADER_LEN];
    file.read_exact_at(&mut h, pos)?;
    let body_len = u64::from(u32_at(&h, 0));
    if u32_at(&h, 4) != header_crc(&h)
        || body_len < (FRAME_HEADER_LEN - 8) as u64
        || pos + 8 + body_len > len
    {
        return Ok(None);
    }
    Ok(Some(FrameHeader {
        seq: u64_at(&h, 8),
        partition: u64_at(&h, 16),
        incarnation: u64_at(&h, 24),
        first_offset: u64_at(&h, 32),
        records: pos + FRAME_HEADER_LEN as u64..pos + 8 + body_len,
    }))
}

fn u32_at(h: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&h[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(h: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[at..at + 8]);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::super::commit::Committer;
    use super::super::record;
    use super::super::segment_file::{segment_path, SEGMENT_HEADER_LEN};
    use super::super::{DiskOptions, DiskStorage};
    use super::*;
    use crate::Storage;

    fn open_manual(dir: &Path) -> DiskStorage {
        DiskStorage::open_with(DiskOptions::new(dir), |j| Ok(Committer::manual(j))).unwrap()
    }

    fn frame_bytes(
        seq: u64,
        partition: u64,
        incarnation: u64,
        offset: u64,
        data: &[u8],
    ) -> Vec<u8> {
        let mut records = Vec::new();
        record::encode(&mut records, offset, 1_000 + offset, data);
        let frame = Frame {
            partition,
            incarnation,
            first_offset: offset,
            records: &records,
        };
        let mut out = header(&frame, seq).to_vec();
        out.extend_from_slice(&records);
        out
    }

    #[test]
    fn replay_stops_at_a_frame_written_for_another_file() {
        let dir = tempfile::tempdir().unwrap();
        drop({
            let s = open_manual(dir.path());
            s.create_partition(1).unwrap();
            s
        });
        let pdir = dir.path().join("partitions/1");
        let incarnation = u64::from_le_bytes(
            fs::read(pdir.join("incarnation")).unwrap()[..8]
                .try_into()
                .unwrap(),
        );
        // File 5 holds a frame of its own, then one left from its use as file 4 that would
        // continue the partition if it were believed.
        let mut bytes = frame_bytes(5, 1, incarnation, 0, b"current");
        bytes.extend(frame_bytes(4, 1, incarnation, 1, b"stale"));
        let jdir = journal_dir(dir.path());
        for entry in fs::read_dir(&jdir).unwrap() {
            fs::remove_file(entry.unwrap().path()).unwrap();
        }
        fs::write(journal_path(&jdir, 5), &bytes).unwrap();
        let s = DiskStorage::open(DiskOptions::new(dir.path())).unwrap();
        let got: Vec<Vec<u8>> = s
            .read(1, 0, 10, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|e| e.payload.to_vec())
            .collect();
        assert_eq!(got, vec![b"current".to_vec()]);
        assert_eq!(
            fs::metadata(segment_path(&pdir, 0)).unwrap().len(),
            SEGMENT_HEADER_LEN + record::encoded_len(7)
        );
    }

    fn names(dir: &Path, ext: &str) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(journal_dir(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(ext))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn spares_are_used_recycled_and_kept_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        let s = open_manual(dir.path());
        s.create_partition(1).unwrap();
        s.append(1, 10, &[b"first"]).unwrap();
        s.committer.run_pending();
        s.committer.prepare_spare();
        assert_eq!(names(dir.path(), ".spare").len(), 1);
        // The next commit moves to the pre-written spare.
        s.append(1, 11, &[b"second"]).unwrap();
        s.committer.run_pending();
        assert!(names(dir.path(), ".spare").is_empty());
        let wal = names(dir.path(), ".wal");
        assert_eq!(wal.len(), 2, "{wal:?}");
        let current = journal_dir(dir.path()).join(&wal[1]);
        assert_eq!(fs::metadata(&current).unwrap().len(), FILE_BYTES);
        // A checkpoint recycles the full-size file and deletes the small one.
        s.committer.checkpoint();
        assert_eq!(names(dir.path(), ".spare").len(), 1);
        assert_eq!(names(dir.path(), ".wal").len(), 1);
        s.append(1, 12, &[b"third"]).unwrap();
        s.committer.run_pending();
        drop(s);
        // Reopening replays, then writes on into a recycled full-size file.
        let s = open_manual(dir.path());
        assert_eq!(s.read(1, 0, 10, usize::MAX).unwrap().len(), 3);
        let wal = names(dir.path(), ".wal");
        assert_eq!(wal.len(), 1);
        let current = journal_dir(dir.path()).join(&wal[0]);
        assert_eq!(fs::metadata(&current).unwrap().len(), FILE_BYTES);
        s.append(1, 13, &[b"fourth"]).unwrap();
        s.committer.run_pending();
        assert_eq!(s.read(1, 0, 10, usize::MAX).unwrap().len(), 4);
    }
}
