//! The sparse offset/time index of a segment, in memory and as a `.idx` file.
//!
//! In memory a segment keeps one [`IndexEntry`] for its first record and then one for the
//! first record that starts at least `index_interval_bytes` after the previous indexed record.
//! That bounds memory by the data size divided by the interval (24 bytes per entry), no matter
//! how many entries the segment holds. A lookup finds the nearest indexed record at or before
//! the target and reads forward from there.
//!
//! When a segment is sealed its index is written next to it as `{base:020}.idx` so recovery
//! need not rescan sealed segments. Layout (integers little-endian):
//!
//! ```text
//!  0      4        6        8         16        24          32          40
//!  +------+--------+--------+---------+---------+-----------+-----------+
//!  | SLIX | ver u16| 0 u16  | base u64| next u64| seg_len u64| last_ts u64|
//!  +------+--------+--------+---------+---------+-----------+-----------+
//!  40           44         48
//!  +------------+----------+-------------------------------------------+----------+
//!  | count u32  | 0 u32    | count x (offset u64, pos u64, ts u64)     | crc32 u32 |
//!  +------------+----------+-------------------------------------------+----------+
//! ```
//!
//! `crc32` covers every byte before it. `next` is one past the segment's last offset and
//! `seg_len` the segment file's length in bytes; an index whose checksum, base, length or
//! entries do not match the segment file is ignored and rebuilt by scanning the segment.
//! The file is written in place without fsync: losing or tearing it only costs a rescan.

use std::fs;
use std::io;
use std::path::Path;

use super::checked::Checked;
use super::segment_file::SEGMENT_HEADER_LEN;

const FORMAT: Checked = Checked {
    magic: b"SLIX",
    version: 1,
    version_len: 2,
};
const HEADER_LEN: usize = 48;
const ENTRY_LEN: usize = 24;

/// One indexed record: where it is and when it was appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct IndexEntry {
    pub offset: u64,
    pub pos: u64,
    pub timestamp_ms: u64,
}

/// The sparse index of one segment.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct SparseIndex {
    entries: Vec<IndexEntry>,
}

impl SparseIndex {
    pub fn from_entries(entries: Vec<IndexEntry>) -> Self {
        SparseIndex { entries }
    }

    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    /// Records a newly written record, indexing it if it is the segment's first or starts at
    /// least `interval` bytes after the last indexed one.
    pub fn observe(&mut self, entry: IndexEntry, interval: u64) {
        let due = match self.entries.last() {
            None => true,
            Some(last) => entry.pos - last.pos >= interval,
        };
        if due {
            self.entries.push(entry);
        }
    }

    /// The last indexed record with an offset `<= offset`.
    pub fn floor_offset(&self, offset: u64) -> Option<IndexEntry> {
        let i = self.entries.partition_point(|e| e.offset <= offset);
        i.checked_sub(1).map(|i| self.entries[i])
    }

    /// An indexed record at or before the first record with a timestamp `>= timestamp_ms`:
    /// the last indexed record whose timestamp is still below it (or the first one).
    pub fn start_for_time(&self, timestamp_ms: u64) -> Option<IndexEntry> {
        let i = self
            .entries
            .partition_point(|e| e.timestamp_ms < timestamp_ms);
        self.entries.get(i.saturating_sub(1)).copied()
    }
}

/// What a `.idx` file says about its sealed segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IndexFile {
    pub base: u64,
    pub next: u64,
    pub seg_len: u64,
    /// Meaningful only when `next > base`.
    pub last_ts: u64,
    pub index: SparseIndex,
}

impl IndexFile {
    pub fn encode(&self) -> Vec<u8> {
        let entries = self.index.entries();
        let mut buf = FORMAT.begin(HEADER_LEN + entries.len() * ENTRY_LEN + 4);
        buf.extend_from_slice(&0u16.to_le_bytes());
        buf.extend_from_slice(&self.base.to_le_bytes());
        buf.extend_from_slice(&self.next.to_le_bytes());
        buf.extend_from_slice(&self.seg_len.to_le_bytes());
        buf.extend_from_slice(&self.last_ts.to_le_bytes());
        buf.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        for e in entries {
            buf.extend_from_slice(&e.offset.to_le_bytes());
            buf.extend_from_slice(&e.pos.to_le_bytes());
            buf.extend_from_slice(&e.timestamp_ms.to_le_bytes());
        }
        Checked::finish(&mut buf);
        buf
    }

    /// Decodes and validates an index for the segment with base offset `base` whose file is
    /// `seg_len` bytes long. `Err` explains why the index cannot be used.
    pub fn decode(bytes: &[u8], base: u64, seg_len: u64) -> Result<IndexFile, String> {
        let body = FORMAT.open(bytes, HEADER_LEN + 4)?;
        let u64_at = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().expect("8"));
        let file = IndexFile {
            base: u64_at(8),
            next: u64_at(16),
            seg_len: u64_at(24),
            last_ts: u64_at(32),
            index: SparseIndex::default(),
        };
        let count = u32::from_le_bytes(body[40..44].try_into().expect("4 bytes")) as usize;
        if body.len() != HEADER_LEN + count * ENTRY_LEN {
            return Err(format!("{count} entries do not fit {} bytes", body.len()));
        }
        if file.base != base {
            return Err(format!("base {} does not match segment {base}", file.base));
        }
        if file.seg_len != seg_len {
            return Err(format!(
                "describes {} bytes but the segment has {seg_len}",
                file.seg_len
            ));
        }
        if file.next < file.base || (file.next == file.base) != (count == 0) {
            return Err("entry count does not match offset range".into());
        }
        let entries: Vec<IndexEntry> = body[HEADER_LEN..]
            .chunks_exact(ENTRY_LEN)
            .map(|c| IndexEntry {
                offset: u64::from_le_bytes(c[0..8].try_into().expect("8")),
                pos: u64::from_le_bytes(c[8..16].try_into().expect("8")),
                timestamp_ms: u64::from_le_bytes(c[16..24].try_into().expect("8")),
            })
            .collect();
        if let Some(first) = entries.first() {
            if first.offset != base || first.pos != SEGMENT_HEADER_LEN {
                return Err("first entry is not the segment's first record".into());
            }
        }
        let ordered = entries.windows(2).all(|w| {
            w[0].offset < w[1].offset
                && w[0].pos < w[1].pos
                && w[0].timestamp_ms <= w[1].timestamp_ms
        });
        let in_range = entries
            .iter()
            .all(|e| e.offset < file.next && e.pos < seg_len && e.timestamp_ms <= file.last_ts);
        if !ordered || !in_range {
            return Err("entries out of order or out of range".into());
        }
        Ok(IndexFile {
            index: SparseIndex::from_entries(entries),
            ..file
        })
    }

    /// Writes the index to `path` (no fsync; see the module doc).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        fs::write(path, self.encode())
    }

    /// Reads and validates the index at `path`. `Ok(Err(reason))` if it exists but is unusable.
    pub fn read(path: &Path, base: u64, seg_len: u64) -> io::Result<Result<IndexFile, String>> {
        let bytes = fs::read(path)?;
        Ok(Self::decode(&bytes, base, seg_len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> IndexFile {
        let mut index = SparseIndex::default();
        let mut pos = SEGMENT_HEADER_LEN;
        for i in 0..100u64 {
            index.observe(
                IndexEntry {
                    offset: 10 + i,
                    pos,
                    timestamp_ms: 1000 + i / 10,
                },
                100,
            );
            pos += 30;
        }
        IndexFile {
            base: 10,
            next: 110,
            seg_len: pos,
            last_ts: 1009,
            index,
        }
    }

    #[test]
    fn sparse_by_interval() {
        let f = sample();
        let e = f.index.entries();
        // First record plus one every ceil(100 / 30) = 4 records.
        assert_eq!(e[0].offset, 10);
        assert_eq!(e[1].offset, 14);
        assert_eq!(e.len(), 25);
        assert_eq!(f.index.floor_offset(9), None);
        assert_eq!(f.index.floor_offset(10).unwrap().offset, 10);
        assert_eq!(f.index.floor_offset(17).unwrap().offset, 14);
        assert_eq!(f.index.floor_offset(500).unwrap().offset, 106);
        // ts 1003 first appears at offset 40; the last indexed entry with ts < 1003 is 38.
        assert_eq!(f.index.start_for_time(1003).unwrap().offset, 38);
        assert_eq!(f.index.start_for_time(0).unwrap().offset, 10);
    }

    #[test]
    fn roundtrip_and_rejects_damage() {
        let f = sample();
        let bytes = f.encode();
        assert_eq!(IndexFile::decode(&bytes, 10, f.seg_len).unwrap(), f);
        assert!(IndexFile::decode(&bytes, 11, f.seg_len).is_err());
        assert!(IndexFile::decode(&bytes, 10, f.seg_len + 1).is_err());
        for i in [0, 9, 45, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(IndexFile::decode(&bad, 10, f.seg_len).is_err(), "byte {i}");
        }
        assert!(IndexFile::decode(&bytes[..bytes.len() - 5], 10, f.seg_len).is_err());
    }
}
