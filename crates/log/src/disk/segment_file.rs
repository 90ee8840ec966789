//! Segment files: their names, and the fixed header each starts with.
//!
//! A segment holds a contiguous run of a partition's offsets, starting at its *base offset*,
//! which also names it: `{base:020}.seg` (zero-padded so names sort like offsets); its sparse
//! index, once sealed, is `{base:020}.idx`. Each segment file starts with a 32-byte header
//! (integers little-endian; the framing of `checked.rs`), followed by records (see
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

use super::checked::Checked;

/// Length of the segment file header; the first record starts here.
pub(super) const SEGMENT_HEADER_LEN: u64 = 32;
const FORMAT: Checked = Checked {
    magic: b"SLSG",
    version: 1,
    version_len: 2,
};

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
        let mut buf = FORMAT.begin(SEGMENT_HEADER_LEN as usize);
        buf.extend_from_slice(&0u16.to_le_bytes());
        buf.extend_from_slice(&self.base.to_le_bytes());
        buf.extend_from_slice(&self.floor_ts.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        Checked::finish(&mut buf);
        let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
        h.copy_from_slice(&buf);
        h
    }

    /// Decodes a header; `Err` says what is wrong with it.
    pub fn decode(bytes: &[u8]) -> Result<SegmentHeader, String> {
        let header = bytes
            .get(..SEGMENT_HEADER_LEN as usize)
            .ok_or_else(|| format!("file too short for a header ({} bytes)", bytes.len()))?;
        let bytes = FORMAT
            .open(header, SEGMENT_HEADER_LEN as usize)
            .map_err(|e| format!("segment header: {e}"))?;
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
