//! Helpers shared by the disk storage tests.
#![allow(dead_code)]

use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};

use shardline_log::{DiskOptions, DiskStorage, Entry, LogError, PartitionId, Storage};

/// Bytes before the first record of a segment file.
pub const SEGMENT_HEADER: u64 = 32;

pub fn options(dir: &Path, segment_bytes: u64) -> DiskOptions {
    let mut o = DiskOptions::new(dir);
    o.segment_bytes = segment_bytes;
    o.index_interval_bytes = 64;
    o
}

pub fn open(dir: &Path, segment_bytes: u64) -> DiskStorage {
    DiskStorage::open(options(dir, segment_bytes)).expect("open storage")
}

pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

/// A payload that identifies its entry and varies in length.
pub fn payload(i: u64) -> Vec<u8> {
    let mut p = format!("entry-{i}:").into_bytes();
    p.resize(p.len() + (i * 7 % 61) as usize + 12, b'a' + (i % 26) as u8);
    p
}

/// Appends one payload per offset in `range` (in batches of up to 5) and waits for
/// durability. Returns `(offset, timestamp)` of each entry.
pub fn fill(
    s: &DiskStorage,
    id: PartitionId,
    range: std::ops::Range<u64>,
    mut now: impl FnMut(u64) -> u64,
) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut i = range.start;
    while i < range.end {
        let n = ((i % 5) + 1).min(range.end - i);
        let payloads: Vec<Vec<u8>> = (i..i + n).map(payload).collect();
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        let appended = s.append(id, now(i), &refs).expect("append");
        assert_eq!(appended.first_offset, i, "offsets are dense");
        block_on(appended.durable).expect("durable");
        for k in 0..n {
            out.push((i + k, appended.timestamp_ms));
        }
        i += n;
    }
    out
}

pub fn read_all(s: &DiskStorage, id: PartitionId) -> Result<Vec<Entry>, LogError> {
    s.read(id, 0, usize::MAX, usize::MAX)
}

/// Checks entries are exactly `range`, with the payloads [`payload`] gives.
pub fn assert_entries(entries: &[Entry], range: std::ops::Range<u64>) {
    let offsets: Vec<u64> = entries.iter().map(|e| e.offset).collect();
    assert_eq!(offsets, range.clone().collect::<Vec<_>>());
    for e in entries {
        assert_eq!(e.payload, payload(e.offset), "payload of {}", e.offset);
    }
    assert!(entries
        .windows(2)
        .all(|w| w[0].timestamp_ms <= w[1].timestamp_ms));
}

pub fn partition_dir(dir: &Path, id: PartitionId) -> PathBuf {
    dir.join("partitions").join(id.to_string())
}

/// Files in a partition directory with the given extension, sorted.
pub fn files(dir: &Path, id: PartitionId, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(partition_dir(dir, id))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

pub fn base_of(path: &Path) -> u64 {
    path.file_stem().unwrap().to_str().unwrap().parse().unwrap()
}

/// File positions of the records in a segment file (parsing only the length fields).
pub fn record_starts(path: &Path) -> Vec<u64> {
    let bytes = fs::read(path).unwrap();
    let mut pos = SEGMENT_HEADER as usize;
    let mut starts = Vec::new();
    while pos + 8 <= bytes.len() {
        starts.push(pos as u64);
        let body_len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 8 + body_len;
    }
    assert_eq!(pos, bytes.len(), "record_starts expects an intact file");
    starts
}

/// Offset stored in the record at `pos` of a segment file.
pub fn offset_at(path: &Path, pos: u64) -> u64 {
    let bytes = fs::read(path).unwrap();
    let p = pos as usize + 8;
    u64::from_le_bytes(bytes[p..p + 8].try_into().unwrap())
}

pub fn flip_byte(path: &Path, pos: u64) {
    let mut bytes = fs::read(path).unwrap();
    bytes[pos as usize] ^= 0x5a;
    fs::write(path, bytes).unwrap();
}

pub fn is_corrupt<T: std::fmt::Debug>(r: Result<T, LogError>) -> bool {
    matches!(r, Err(LogError::Corrupt { .. }))
}
