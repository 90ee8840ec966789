//! Journal replay at open: what a crash took from the segments' ends comes back.
//!
//! After the partitions are recovered from their segments (`recovery.rs`), every journal file
//! is replayed in order: a frame's records that are missing from the end of their partition
//! (their page-cache copy in the segment was lost in a machine crash) are written back, and
//! those the segment holds are written again in place, byte for byte the same (after a killed
//! process or a failed writeback the page cache may hold them without the disk having them;
//! rewriting makes the fsync that follows write them). A frame that is torn or unreadable ends
//! its file; it was never acknowledged, though records of it that did reach a segment, or are
//! intact in the torn frame, may be kept (as a torn segment tail's whole records are). Every
//! written segment is then fsynced and only then are the journal files recycled, so a running
//! server always starts with an empty journal.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::super::files::sync_dir;
use super::super::handles::{Handles, SegmentKey};
use super::super::journal::{journal_files, read_frame_header};
use super::super::record::{self, RecordReader, Scan};
use super::super::spares::Spares;
use super::{Partition, State, MIN_READ_CHUNK};
use crate::{LogError, PartitionId};

/// Replays every journal file in `dir` into `partitions` (see the module doc), makes the result
/// durable and recycles the files. Returns the highest journal number seen, for
/// `Journal::create`.
pub(in crate::disk) fn replay_journal(
    dir: &Path,
    partitions: &HashMap<PartitionId, Arc<Partition>>,
    index_interval: u64,
    spares: &Spares,
    handles: &Handles,
) -> Result<u64, LogError> {
    let files = journal_files(dir)?;
    let mut restored: HashMap<PartitionId, u64> = HashMap::new();
    let mut written: HashMap<SegmentKey, Arc<Path>> = HashMap::new();
    for (seq, path) in &files {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let mut pos = 0u64;
        while let Some(frame) = read_frame_header(&file, pos, len)? {
            if frame.seq != *seq {
                break; // an older use of a recycled file
            }
            let end = frame.records.end;
            let frame_ok = match partitions.get(&frame.partition) {
                Some(p) if p.incarnation == frame.incarnation => {
                    let mut reader = RecordReader::new(
                        &file,
                        frame.records.start,
                        end,
                        frame.first_offset,
                        1 << 20,
                    );
                    let replayed = p.replay(&mut reader, index_interval)?;
                    *restored.entry(frame.partition).or_default() += replayed.restored;
                    written.extend(replayed.files);
                    // Records that stop short of the frame's end mean a torn frame.
                    reader.pos() == end
                }
                _ => true,
            };
            if !frame_ok {
                break;
            }
            pos = end;
        }
        if pos < len {
            tracing::info!(
                file = %path.display(),
                at = pos,
                "journal ends with a torn or unreadable frame (never acknowledged)"
            );
        }
    }
    // Only once every journaled record is durable in its segment may the journal go.
    for (key, path) in &written {
        handles.get(*key, path)?.sync_data()?;
    }
    for (id, count) in restored.iter().filter(|(_, n)| **n > 0) {
        tracing::info!(partition = id, records = count, "restored from the journal");
    }
    for (_, path) in &files {
        spares.recycle(path)?;
    }
    sync_dir(dir)?;
    Ok(files.last().map_or(0, |(seq, _)| *seq))
}

/// What [`Partition::replay`] did.
#[derive(Default)]
struct Replayed {
    /// Records written back at the end of the partition.
    pub restored: u64,
    /// Segments written (to be fsynced), with their files.
    pub files: Vec<(SegmentKey, Arc<Path>)>,
}

impl Partition {
    /// Applies one journal frame at open, before anything else uses the partition: records
    /// missing from the partition's end are written back, and records it already holds are
    /// written again in place (the same bytes: a page whose writeback failed, or that a
    /// killed process left dirty, is then written by the fsync that follows). Returns the
    /// files written, which the caller fsyncs before the journal may go.
    fn replay(&self, reader: &mut RecordReader<'_>, interval: u64) -> Result<Replayed, LogError> {
        let mut st = self.lock()?;
        let start = st.start();
        let end = st.next_offset();
        let mut present = Vec::new();
        let mut present_from = None;
        let mut missing = Vec::new();
        let mut missing_meta = Vec::new();
        // The frame's records end where the reader stops (`End`, or `Bad` for a torn frame).
        while let Scan::Record(r) = reader.next()? {
            if r.offset < start {
                continue; // trimmed since
            }
            if r.offset < end {
                present_from.get_or_insert(r.offset);
                record::encode(&mut present, r.offset, r.timestamp_ms, &r.payload);
            } else {
                record::encode(&mut missing, r.offset, r.timestamp_ms, &r.payload);
                missing_meta.push((r.offset, r.timestamp_ms, r.payload.len()));
            }
        }
        let mut done = Replayed::default();
        if let Some(from) = present_from {
            if let Some(file) = self.rewrite(&st, from, &present)? {
                done.files.push(file);
            }
        }
        let Some(&(from, _, _)) = missing_meta.first() else {
            return Ok(done);
        };
        if from != end {
            tracing::error!(
                partition = self.id,
                end,
                frame_continues_at = from,
                "journal frame does not continue the partition; not replayed"
            );
            return Ok(done);
        }
        let file = self.file(st.active())?;
        let active = st.active_mut();
        file.write_all_at(&missing, active.len)?;
        let mut last = (end, 0);
        for &(offset, timestamp_ms, len) in &missing_meta {
            active.push_record(offset, timestamp_ms, record::encoded_len(len), interval);
            last = (offset + 1, timestamp_ms);
        }
        done.files
            .push(((self.id, active.base), Arc::clone(&active.path)));
        done.restored = missing_meta.len() as u64;
        st.last_ts = Some(st.last_ts.map_or(last.1, |t| t.max(last.1)));
        self.advance_visible(&mut st, last.0, last.1);
        Ok(done)
    }

    /// Writes `bytes` (encoded records from offset `from`) over the same records in the
    /// segment holding them. An append never spans segments, so neither does a frame.
    fn rewrite(
        &self,
        st: &State,
        from: u64,
        bytes: &[u8],
    ) -> Result<Option<(SegmentKey, Arc<Path>)>, LogError> {
        let i = st.segments.partition_point(|s| s.base <= from) - 1;
        let seg = &st.segments[i];
        let (pos, offset) = seg.read_start(from);
        let file = self.file(seg)?;
        let mut reader = RecordReader::new(&file, pos, seg.len, offset, MIN_READ_CHUNK);
        loop {
            let at = reader.pos();
            match reader.next().map_err(|e| self.read_error(seg.base, e))? {
                Scan::Record(r) if r.offset == from => {
                    if at + bytes.len() as u64 > seg.len {
                        tracing::warn!(
                            partition = self.id,
                            from,
                            "journal frame runs past its segment; not rewritten"
                        );
                        return Ok(None);
                    }
                    file.write_all_at(bytes, at)?;
                    return Ok(Some(((self.id, seg.base), Arc::clone(&seg.path))));
                }
                Scan::Record(_) => {}
                Scan::End | Scan::Bad { .. } => {
                    tracing::warn!(
                        partition = self.id,
                        from,
                        "records of a journal frame not found in their segment; not rewritten"
                    );
                    return Ok(None);
                }
            }
        }
    }
}
