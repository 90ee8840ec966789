//! Record framing inside a segment file, and a verifying forward reader.
//!
//! After the segment header (see [`super::segment`]) a segment file is a plain sequence of
//! records, each framed like this (all integers little-endian):
//!
//! ```text
//!  0          4          8                  16                 24
//!  +----------+----------+------------------+------------------+---------------------+
//!  | body_len |   crc    |      offset      |   timestamp_ms   | payload ...         |
//!  |   u32    |   u32    |       u64        |       u64        | (body_len - 16) B   |
//!  +----------+----------+------------------+------------------+---------------------+
//!                        |<------------- body: crc = crc32(body) ------------------->|
//! ```
//!
//! * `body_len` counts the body only (offset + timestamp + payload), so it is at least 16 and
//!   at most `16 + MAX_ENTRY_BYTES`; anything else is a torn or garbage record.
//! * `crc` is the CRC-32 (IEEE, as computed by `crc32fast`) of the body bytes.
//! * `offset` must be exactly one more than the previous record's (the first record of a
//!   segment carries the segment's base offset). A record whose offset breaks the sequence is
//!   treated exactly like one whose checksum fails.
//!
//! A record is therefore `24 + payload_len` bytes long. There is no padding and no trailer;
//! the file ends right after the last record.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use bytes::Bytes;

/// Bytes of framing before the body: `body_len` and `crc`.
pub(super) const FRAME_LEN: usize = 8;
/// Bytes of the body before the payload: `offset` and `timestamp_ms`.
pub(super) const BODY_PREFIX_LEN: usize = 16;
/// Total bytes a record adds on top of its payload.
pub(super) const RECORD_OVERHEAD: usize = FRAME_LEN + BODY_PREFIX_LEN;
/// Largest payload a single entry may carry.
pub(super) const MAX_ENTRY_BYTES: usize = 16 << 20;

/// Appends the framed record to `buf`.
pub(super) fn encode(buf: &mut Vec<u8>, offset: u64, timestamp_ms: u64, payload: &[u8]) {
    debug_assert!(payload.len() <= MAX_ENTRY_BYTES);
    let offset_bytes = offset.to_le_bytes();
    let ts_bytes = timestamp_ms.to_le_bytes();
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&offset_bytes);
    hasher.update(&ts_bytes);
    hasher.update(payload);
    let body_len = (BODY_PREFIX_LEN + payload.len()) as u32;
    buf.reserve(RECORD_OVERHEAD + payload.len());
    buf.extend_from_slice(&body_len.to_le_bytes());
    buf.extend_from_slice(&hasher.finalize().to_le_bytes());
    buf.extend_from_slice(&offset_bytes);
    buf.extend_from_slice(&ts_bytes);
    buf.extend_from_slice(payload);
}

/// Size of the framed record for a payload of `payload_len` bytes.
pub(super) fn encoded_len(payload_len: usize) -> u64 {
    (RECORD_OVERHEAD + payload_len) as u64
}

/// One record as read back and verified.
#[derive(Debug)]
pub(super) struct Record {
    pub offset: u64,
    pub timestamp_ms: u64,
    /// A slice of the reader's buffer (no copy).
    pub payload: Bytes,
    /// File position of the record's first byte.
    pub pos: u64,
}

/// Outcome of [`RecordReader::next`].
#[derive(Debug)]
pub(super) enum Scan {
    Record(Record),
    /// The reader reached its end position exactly at a record boundary.
    End,
    /// The bytes at `pos` are not a valid next record (torn, garbage, bad checksum, offset
    /// out of sequence). The reader does not advance past it.
    Bad {
        pos: u64,
        reason: String,
    },
}

/// Reads records forward from a file position, verifying framing, checksums and offset
/// contiguity. Reads the file in chunks with `pread`, so it needs no lock and no seek
/// position; payloads are slices of the chunk they were read in.
pub(super) struct RecordReader<'f> {
    file: &'f File,
    /// Position of the next record.
    pos: u64,
    /// Reading stops here (exclusive).
    end: u64,
    /// Offset the next record must carry.
    expected: u64,
    /// Preferred read size.
    chunk: usize,
    buf: Bytes,
    /// File position of `buf[0]`.
    buf_start: u64,
}

impl<'f> RecordReader<'f> {
    /// A reader for records in `[pos, end)` of `file`, the first of which must carry offset
    /// `expected`.
    pub fn new(file: &'f File, pos: u64, end: u64, expected: u64, chunk: usize) -> Self {
        RecordReader {
            file,
            pos,
            end,
            expected,
            chunk: chunk.max(FRAME_LEN),
            buf: Bytes::new(),
            buf_start: pos,
        }
    }

    /// Offset the next record must carry (one past the last record returned).
    pub fn expected(&self) -> u64 {
        self.expected
    }

    /// File position of the next record (just past the last record returned).
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// Makes `buf` hold `[pos, pos + n)`. Returns `false` if that range extends past `end`.
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        let want_end = self.pos + n as u64;
        if want_end > self.end {
            return Ok(false);
        }
        let buf_end = self.buf_start + self.buf.len() as u64;
        if self.pos >= self.buf_start && want_end <= buf_end {
            return Ok(true);
        }
        let remaining = self.end - self.pos;
        let size = (n.max(self.chunk) as u64).min(remaining) as usize;
        let mut v = vec![0u8; size];
        self.file.read_exact_at(&mut v, self.pos)?;
        self.buf = Bytes::from(v);
        self.buf_start = self.pos;
        Ok(true)
    }

    fn bad(&self, reason: impl Into<String>) -> Scan {
        Scan::Bad {
            pos: self.pos,
            reason: reason.into(),
        }
    }

    /// Reads the next record.
    ///
    /// # Errors
    /// I/O failure, including the file being shorter than `end`.
    pub fn next(&mut self) -> io::Result<Scan> {
        if self.pos >= self.end {
            return Ok(Scan::End);
        }
        if !self.fill(FRAME_LEN)? {
            return Ok(self.bad(format!(
                "torn record header ({} bytes left)",
                self.end - self.pos
            )));
        }
        let at = (self.pos - self.buf_start) as usize;
        let frame = &self.buf[at..at + FRAME_LEN];
        let body_len = u32::from_le_bytes(frame[0..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(frame[4..8].try_into().expect("4 bytes"));
        if !(BODY_PREFIX_LEN..=BODY_PREFIX_LEN + MAX_ENTRY_BYTES).contains(&body_len) {
            return Ok(self.bad(format!("impossible record length {body_len}")));
        }
        if !self.fill(FRAME_LEN + body_len)? {
            return Ok(self.bad(format!(
                "torn record body ({body_len} bytes declared, {} left)",
                self.end - self.pos - FRAME_LEN as u64
            )));
        }
        let at = (self.pos - self.buf_start) as usize;
        let body = self.buf.slice(at + FRAME_LEN..at + FRAME_LEN + body_len);
        let actual = crc32fast::hash(&body);
        if actual != crc {
            return Ok(self.bad(format!(
                "checksum mismatch (stored {crc:#010x}, computed {actual:#010x})"
            )));
        }
        let offset = u64::from_le_bytes(body[0..8].try_into().expect("8 bytes"));
        let timestamp_ms = u64::from_le_bytes(body[8..16].try_into().expect("8 bytes"));
        if offset != self.expected {
            return Ok(self.bad(format!(
                "offset {offset} where {} was expected",
                self.expected
            )));
        }
        let record = Record {
            offset,
            timestamp_ms,
            payload: body.slice(BODY_PREFIX_LEN..),
            pos: self.pos,
        };
        self.pos += (FRAME_LEN + body_len) as u64;
        self.expected += 1;
        Ok(Scan::Record(record))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file_with(bytes: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn encode_layout_matches_doc() {
        let mut buf = Vec::new();
        encode(&mut buf, 7, 99, b"abc");
        assert_eq!(buf.len() as u64, encoded_len(3));
        assert_eq!(&buf[0..4], &19u32.to_le_bytes());
        assert_eq!(&buf[4..8], &crc32fast::hash(&buf[8..]).to_le_bytes());
        assert_eq!(&buf[8..16], &7u64.to_le_bytes());
        assert_eq!(&buf[16..24], &99u64.to_le_bytes());
        assert_eq!(&buf[24..], b"abc");
    }

    #[test]
    fn reads_back_and_stops_at_bad_records() {
        let mut buf = Vec::new();
        encode(&mut buf, 5, 1, b"one");
        encode(&mut buf, 6, 2, b"");
        let good_end = buf.len() as u64;
        encode(&mut buf, 8, 3, b"gap"); // offset out of sequence
        let f = file_with(&buf);
        // A tiny chunk forces refills across record boundaries.
        let mut r = RecordReader::new(&f, 0, buf.len() as u64, 5, 3);
        let Scan::Record(a) = r.next().unwrap() else {
            panic!()
        };
        assert_eq!(
            (a.offset, a.timestamp_ms, &a.payload[..]),
            (5, 1, &b"one"[..])
        );
        let Scan::Record(b) = r.next().unwrap() else {
            panic!()
        };
        assert_eq!((b.offset, b.payload.len()), (6, 0));
        match r.next().unwrap() {
            Scan::Bad { pos, reason } => {
                assert_eq!(pos, good_end);
                assert!(reason.contains("offset"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r.pos(), good_end);
        assert_eq!(r.expected(), 7);

        let mut r = RecordReader::new(&f, 0, good_end, 5, 1 << 16);
        assert!(matches!(r.next().unwrap(), Scan::Record(_)));
        assert!(matches!(r.next().unwrap(), Scan::Record(_)));
        assert!(matches!(r.next().unwrap(), Scan::End));
    }
}
