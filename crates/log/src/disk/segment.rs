//! The in-memory description of one segment: its bounds, its sparse index and where its file
//! is (the file itself is opened on demand through `handles.rs`).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::files::create_rw;
use super::index::{IndexEntry, IndexFile, SparseIndex};
use super::segment_file::{segment_path, SegmentHeader, SEGMENT_HEADER_LEN};

/// In-memory description of one segment. Memory is bounded by the sparse index.
#[derive(Debug)]
pub(super) struct Segment {
    pub base: u64,
    /// One past the last offset stored in the segment (`base` when empty).
    pub next: u64,
    /// Bytes of the file that hold the header and whole records.
    pub len: u64,
    /// Timestamp of the segment's last record (`None` when empty). For a segment found damaged
    /// at recovery this is an upper bound.
    pub last_ts: Option<u64>,
    pub index: SparseIndex,
    /// The segment's file.
    pub path: Arc<Path>,
    /// Bytes appended since the last early flush was asked for (see `Partition::append`).
    pub unflushed: u64,
}

impl Segment {
    /// Creates (or truncates) the file for an empty segment and writes its header; returns the
    /// segment and its open file. The caller fsyncs the directory; the header itself becomes
    /// durable with the first group commit.
    pub fn create(dir: &Path, base: u64, floor_ts: u64) -> io::Result<(Segment, File)> {
        let path = segment_path(dir, base);
        let file = create_rw(&path)?;
        let header = SegmentHeader { base, floor_ts }.encode();
        if let Err(e) = file.write_all_at(&header, 0) {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        let segment = Segment {
            base,
            next: base,
            len: SEGMENT_HEADER_LEN,
            last_ts: None,
            index: SparseIndex::default(),
            path: Arc::from(path),
            unflushed: 0,
        };
        Ok((segment, file))
    }

    pub fn is_empty(&self) -> bool {
        self.next == self.base
    }

    /// Accounts for a record of `size` bytes written at the end of the segment.
    pub fn push_record(&mut self, offset: u64, timestamp_ms: u64, size: u64, interval: u64) {
        debug_assert_eq!(offset, self.next);
        self.index.observe(
            IndexEntry {
                offset,
                pos: self.len,
                timestamp_ms,
            },
            interval,
        );
        self.next = offset + 1;
        self.len += size;
        self.last_ts = Some(timestamp_ms);
    }

    /// Where to start reading to reach `offset`: `(file position, offset of the record there)`.
    pub fn read_start(&self, offset: u64) -> (u64, u64) {
        self.index
            .floor_offset(offset)
            .map_or((SEGMENT_HEADER_LEN, self.base), |e| (e.pos, e.offset))
    }

    /// Where to start reading to find the first record with a timestamp `>= timestamp_ms`.
    pub fn time_start(&self, timestamp_ms: u64) -> (u64, u64) {
        self.index
            .start_for_time(timestamp_ms)
            .map_or((SEGMENT_HEADER_LEN, self.base), |e| (e.pos, e.offset))
    }

    /// The `.idx` contents describing this segment as it is now.
    pub fn index_file(&self) -> IndexFile {
        IndexFile {
            base: self.base,
            next: self.next,
            seg_len: self.len,
            last_ts: self.last_ts.unwrap_or(0),
            index: self.index.clone(),
        }
    }
}
