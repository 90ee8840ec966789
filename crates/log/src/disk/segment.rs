//! Segment files: naming, the fixed file header, and the in-memory description of a segment.
//!
//! A segment holds a contiguous run of a partition's offsets, starting at its *base offset*,
//! which also names it: `{base:020}.seg` (zero-padded so names sort like offsets). Each file
//! starts with a 32-byte header (integers little-endian), followed by records (see
//! [`super::record`]):
//!
//! ```text
//!  0      4         6         8            16               24         28          32
//!  +------+---------+---------+------------+----------------+----------+-----------+
//!  | SLSG | ver u16 | 0 u16   | base u64   | floor_ts u64   | 0 u32    | crc32 u32 |
//!  +------+---------+---------+------------+----------------+----------+-----------+
//! ```
//!
//! * `base` repeats the base offset from the file name.
//! * `floor_ts` is the partition's last timestamp when the segment was created, so that
//!   timestamps keep never decreasing across a restart even if every entry was trimmed.
//! * `crc32` covers bytes 0..28.
//!
//! The header is an aid, not a source of truth: records carry their own offsets and checksums.
//! A damaged header is rewritten (active segment) or reported and ignored (sealed segment).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::create_rw;
use super::index::{IndexEntry, IndexFile, SparseIndex};

/// Length of the segment file header; the first record starts here.
pub(super) const SEGMENT_HEADER_LEN: u64 = 32;
const MAGIC: &[u8; 4] = b"SLSG";
const VERSION: u16 = 1;

pub(super) fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.seg"))
}

pub(super) fn index_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.idx"))
}

/// Kinds of files found in a partition directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FileKind {
    Segment,
    Index,
}

/// Parses `{base:020}.seg` / `{base:020}.idx`.
pub(super) fn parse_file_name(name: &str) -> Option<(u64, FileKind)> {
    let (stem, kind) = if let Some(stem) = name.strip_suffix(".seg") {
        (stem, FileKind::Segment)
    } else if let Some(stem) = name.strip_suffix(".idx") {
        (stem, FileKind::Index)
    } else {
        return None;
    };
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok().map(|base| (base, kind))
}

/// The fixed header at the start of every segment file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SegmentHeader {
    pub base: u64,
    pub floor_ts: u64,
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN as usize] {
        let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
        h[0..4].copy_from_slice(MAGIC);
        h[4..6].copy_from_slice(&VERSION.to_le_bytes());
        h[8..16].copy_from_slice(&self.base.to_le_bytes());
        h[16..24].copy_from_slice(&self.floor_ts.to_le_bytes());
        let crc = crc32fast::hash(&h[..28]);
        h[28..32].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// Decodes a header; `Err` says what is wrong with it.
    pub fn decode(bytes: &[u8]) -> Result<SegmentHeader, String> {
        if bytes.len() < SEGMENT_HEADER_LEN as usize {
            return Err(format!(
                "file too short for a header ({} bytes)",
                bytes.len()
            ));
        }
        let crc = u32::from_le_bytes(bytes[28..32].try_into().expect("4 bytes"));
        if crc32fast::hash(&bytes[..28]) != crc {
            return Err("header checksum mismatch".into());
        }
        if &bytes[0..4] != MAGIC {
            return Err("bad magic".into());
        }
        let version = u16::from_le_bytes(bytes[4..6].try_into().expect("2 bytes"));
        if version != VERSION {
            return Err(format!("unknown segment version {version}"));
        }
        Ok(SegmentHeader {
            base: u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")),
            floor_ts: u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")),
        })
    }

    /// Reads the header of an open segment file.
    pub fn read(file: &File) -> io::Result<Result<SegmentHeader, String>> {
        let mut buf = [0u8; SEGMENT_HEADER_LEN as usize];
        let len = file.metadata()?.len();
        if len < SEGMENT_HEADER_LEN {
            return Ok(Err(format!("file too short for a header ({len} bytes)")));
        }
        file.read_exact_at(&mut buf, 0)?;
        Ok(Self::decode(&buf))
    }
}

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
    pub file: Arc<File>,
    /// Bytes appended since the last early flush was asked for (see `Partition::append`).
    pub unflushed: u64,
}

impl Segment {
    /// Creates (or truncates) the file for an empty segment and writes its header. The caller
    /// fsyncs the directory; the header itself becomes durable with the first group commit.
    pub fn create(dir: &Path, base: u64, floor_ts: u64) -> io::Result<Segment> {
        let path = segment_path(dir, base);
        let file = create_rw(&path)?;
        let header = SegmentHeader { base, floor_ts }.encode();
        if let Err(e) = file.write_all_at(&header, 0) {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        Ok(Segment {
            base,
            next: base,
            len: SEGMENT_HEADER_LEN,
            last_ts: None,
            index: SparseIndex::default(),
            file: Arc::new(file),
            unflushed: 0,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip() {
        let dir = Path::new("/x");
        let p = segment_path(dir, 42);
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, "00000000000000000042.seg");
        assert_eq!(parse_file_name(name), Some((42, FileKind::Segment)));
        assert_eq!(
            parse_file_name("18446744073709551615.idx"),
            Some((u64::MAX, FileKind::Index))
        );
        assert_eq!(parse_file_name("42.seg"), None);
        assert_eq!(parse_file_name("0000000000000000004x.seg"), None);
        assert_eq!(parse_file_name("00000000000000000042.tmp"), None);
    }

    #[test]
    fn header_roundtrip_and_checksum() {
        let h = SegmentHeader {
            base: 7,
            floor_ts: 1234,
        };
        let bytes = h.encode();
        assert_eq!(SegmentHeader::decode(&bytes), Ok(h));
        for i in 0..bytes.len() {
            let mut bad = bytes;
            bad[i] ^= 1;
            assert!(SegmentHeader::decode(&bad).is_err(), "byte {i}");
        }
        assert!(SegmentHeader::decode(&[0u8; 32]).is_err());
        assert!(SegmentHeader::decode(&bytes[..31]).is_err());
    }
}
