//! Crash recovery: every way a segment file can be cut or damaged.
//!
//! The last segment is repaired by truncating at the first bad record; damage in a sealed
//! segment is reported by reads as `LogError::Corrupt`.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;
use shardline_log::{DiskStorage, LogError, Storage};

const SEG: u64 = 600;
const ID: u64 = 1;

/// Writes a partition with several sealed segments and at least 3 records in the last one.
/// Returns the number of entries.
fn setup(dir: &Path) -> u64 {
    let s = open(dir, SEG);
    s.create_partition(ID).unwrap();
    let mut n = 100;
    fill(&s, ID, 0..n, |i| 1_000 + i);
    while record_starts(files(dir, ID, "seg").last().unwrap()).len() < 3 {
        fill(&s, ID, n..n + 1, |i| 1_000 + i);
        n += 1;
    }
    assert!(files(dir, ID, "seg").len() >= 4);
    n
}

fn last_segment(dir: &Path) -> PathBuf {
    files(dir, ID, "seg").pop().unwrap()
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

fn set_len(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

/// Damages the last segment with `mutate`, which gets the file and its record positions and
/// returns the index of the first record recovery must drop (`None`: nothing is lost). Then
/// checks reopening truncates exactly there, keeps everything before, and appends continue.
fn tail_case(mutate: impl FnOnce(&Path, &[u64]) -> Option<usize>) {
    let dir = tempfile::tempdir().unwrap();
    let n = setup(dir.path());
    let last = last_segment(dir.path());
    let starts = record_starts(&last);
    let offsets: Vec<u64> = starts.iter().map(|&p| offset_at(&last, p)).collect();
    let original_len = file_len(&last);
    let original_segments = files(dir.path(), ID, "seg");

    let (want_len, want_end) = match mutate(&last, &starts) {
        Some(k) => (starts[k], offsets[k]),
        None => (original_len, n),
    };

    let s = open(dir.path(), SEG);
    assert_eq!(
        file_len(&last),
        want_len,
        "truncated exactly at the last good record"
    );
    assert_eq!(files(dir.path(), ID, "seg"), original_segments);
    assert_entries(&read_all(&s, ID).unwrap(), 0..want_end);
    let b = s.bounds(ID).unwrap();
    assert_eq!((b.start, b.end), (0, want_end));
    fill(&s, ID, want_end..want_end + 10, |i| 5_000 + i);
    assert_entries(&read_all(&s, ID).unwrap(), 0..want_end + 10);
    drop(s);
    let s = open(dir.path(), SEG);
    assert_entries(&read_all(&s, ID).unwrap(), 0..want_end + 10);
}

#[test]
fn tail_cut_mid_header() {
    for cut in [1, 4, 7] {
        tail_case(|path, starts| {
            let k = starts.len() - 1;
            set_len(path, starts[k] + cut);
            Some(k)
        });
    }
}

#[test]
fn tail_cut_mid_body() {
    for cut in [8, 9, 16, 24, 30] {
        tail_case(|path, starts| {
            let k = starts.len() - 1;
            set_len(path, starts[k] + cut);
            Some(k)
        });
    }
    // One byte short of complete.
    tail_case(|path, starts| {
        set_len(path, file_len(path) - 1);
        Some(starts.len() - 1)
    });
}

#[test]
fn tail_flipped_byte_in_last_body() {
    // In the payload, in the offset field and in the timestamp field.
    for at in [30, 10, 20] {
        tail_case(|path, starts| {
            let k = starts.len() - 1;
            flip_byte(path, starts[k] + at);
            Some(k)
        });
    }
}

#[test]
fn tail_flipped_byte_in_crc() {
    for at in [4, 7] {
        tail_case(|path, starts| {
            let k = starts.len() - 1;
            flip_byte(path, starts[k] + at);
            Some(k)
        });
    }
}

#[test]
fn tail_flipped_byte_in_length() {
    for at in [0, 1, 3] {
        tail_case(|path, starts| {
            let k = starts.len() - 1;
            flip_byte(path, starts[k] + at);
            Some(k)
        });
    }
}

#[test]
fn tail_garbage_after_last_record() {
    let mut x = 0x1234_5678u32;
    let garbage: Vec<u8> = (0..1000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    tail_case(|path, _| {
        append_bytes(path, &garbage);
        None
    });
    tail_case(|path, _| {
        append_bytes(path, b"\x01\x02\x03");
        None
    });
    // A valid record replayed after the last one: its offset breaks the sequence.
    tail_case(|path, starts| {
        let bytes = fs::read(path).unwrap();
        append_bytes(path, &bytes[starts[starts.len() - 1] as usize..]);
        None
    });
    // A plausible-looking frame whose body never made it.
    tail_case(|path, _| {
        append_bytes(path, &[40, 0, 0, 0, 1, 2, 3, 4, 9, 9]);
        None
    });
}

#[test]
fn tail_zero_filled() {
    // The file grew but the data never landed: zeros after the last record...
    tail_case(|path, _| {
        append_bytes(path, &[0u8; 4096]);
        None
    });
    // ...or zeros in place of the last records.
    tail_case(|path, starts| {
        let k = starts.len() - 2;
        let len = file_len(path);
        set_len(path, starts[k]);
        set_len(path, len);
        Some(k)
    });
}

#[test]
fn damage_in_the_middle_of_the_last_segment_truncates_there() {
    tail_case(|path, starts| {
        flip_byte(path, starts[1] + 26);
        Some(1)
    });
    // The first record: the segment is left empty, offsets continue at its base.
    tail_case(|path, starts| {
        flip_byte(path, starts[0] + 5);
        Some(0)
    });
}

#[test]
fn damaged_header_of_last_segment_is_rewritten() {
    tail_case(|path, _| {
        let mut bytes = fs::read(path).unwrap();
        bytes[..SEGMENT_HEADER as usize].fill(0);
        fs::write(path, bytes).unwrap();
        None
    });
}

#[test]
fn crash_between_sealing_and_creating_the_next_segment() {
    let dir = tempfile::tempdir().unwrap();
    let n = {
        let s = open(dir.path(), SEG);
        s.create_partition(ID).unwrap();
        let mut n = 0;
        // Stop right after a roll: the newest segment is empty.
        while n < 20 || !record_starts(&last_segment(dir.path())).is_empty() {
            fill(&s, ID, n..n + 1, |i| 1_000 + i);
            n += 1;
        }
        n
    };
    let empty = last_segment(dir.path());
    fs::remove_file(&empty).unwrap();
    let sealed = last_segment(dir.path());
    assert!(sealed.with_extension("idx").exists());
    let s = open(dir.path(), SEG);
    // The sealed segment is active again; its index would go stale, so it is deleted.
    assert!(!sealed.with_extension("idx").exists());
    assert_entries(&read_all(&s, ID).unwrap(), 0..n);
    // It is full, so the next append rolls first.
    fill(&s, ID, n..n + 1, |i| 1_000 + i);
    assert!(empty.exists());
    assert!(sealed.with_extension("idx").exists());
    assert_eq!(record_starts(&empty).len(), 1);
    drop(s);
    let s = open(dir.path(), SEG);
    assert_entries(&read_all(&s, ID).unwrap(), 0..n + 1);
}

#[test]
fn last_segment_empty_or_headerless() {
    for len in [0, 5, SEGMENT_HEADER] {
        let dir = tempfile::tempdir().unwrap();
        setup(dir.path());
        let last = last_segment(dir.path());
        let base = base_of(&last);
        set_len(&last, len);
        let s = open(dir.path(), SEG);
        assert_eq!(file_len(&last), SEGMENT_HEADER);
        assert_entries(&read_all(&s, ID).unwrap(), 0..base);
        fill(&s, ID, base..base + 5, |i| 9_000 + i);
        drop(s);
        let s = open(dir.path(), SEG);
        assert_entries(&read_all(&s, ID).unwrap(), 0..base + 5);
    }
}

/// Flips a payload byte of the third record of the first (sealed) segment.
fn damage_sealed(dir: &Path) -> (PathBuf, u64) {
    let seg = files(dir, ID, "seg").remove(0);
    let starts = record_starts(&seg);
    let damaged_offset = offset_at(&seg, starts[2]);
    flip_byte(&seg, starts[2] + 30);
    (seg, damaged_offset)
}

fn check_sealed_damage_reported(s: &DiskStorage, dir: &Path, n: u64, damaged: u64) {
    // Reads run into it and say so, without panicking.
    assert!(is_corrupt(read_all(s, ID)));
    assert!(is_corrupt(s.read(ID, damaged, 1, usize::MAX)));
    // Before it and after it, all is well.
    assert_entries(
        &s.read(ID, 0, damaged as usize, usize::MAX).unwrap(),
        0..damaged,
    );
    let second = base_of(&files(dir, ID, "seg")[1]);
    assert_entries(
        &s.read(ID, second, usize::MAX, usize::MAX).unwrap(),
        second..n,
    );
    let b = s.bounds(ID).unwrap();
    assert_eq!((b.start, b.end), (0, n));
    // (Timestamps at the damaged segment's edge may legitimately report the damage.)
    let third = base_of(&files(dir, ID, "seg")[2]);
    assert_eq!(s.offset_at_time(ID, 1_000 + third).unwrap(), third);
    assert!(is_corrupt(s.offset_at_time(ID, 1_000 + damaged)));
    fill(s, ID, n..n + 3, |i| 1_000 + i);
}

#[test]
fn sealed_segment_damage_is_reported_by_reads() {
    let dir = tempfile::tempdir().unwrap();
    let n = setup(dir.path());
    let (seg, damaged) = damage_sealed(dir.path());
    // With a valid index the sealed segment is not rescanned at open.
    let s = open(dir.path(), SEG);
    check_sealed_damage_reported(&s, dir.path(), n, damaged);
    assert!(seg.with_extension("idx").exists());
}

#[test]
fn sealed_segment_damage_found_while_rebuilding_index() {
    let dir = tempfile::tempdir().unwrap();
    let n = setup(dir.path());
    let (seg, damaged) = damage_sealed(dir.path());
    let original_len = file_len(&seg);
    fs::remove_file(seg.with_extension("idx")).unwrap();
    let s = open(dir.path(), SEG);
    check_sealed_damage_reported(&s, dir.path(), n, damaged);
    // Nothing was truncated, and no index claims the segment is fine.
    assert_eq!(file_len(&seg), original_len);
    assert!(!seg.with_extension("idx").exists());
    drop(s);
    let s = open(dir.path(), SEG);
    assert!(is_corrupt(read_all(&s, ID)));
}

#[test]
fn garbage_after_a_sealed_segment_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let n = setup(dir.path());
    let seg = files(dir.path(), ID, "seg").remove(1);
    let len = file_len(&seg);
    let idx = fs::read(seg.with_extension("idx")).unwrap();
    append_bytes(&seg, &[0xAB; 100]);
    let s = open(dir.path(), SEG);
    assert_eq!(file_len(&seg), len);
    assert_eq!(fs::read(seg.with_extension("idx")).unwrap(), idx);
    assert_entries(&read_all(&s, ID).unwrap(), 0..n);
}

#[test]
fn missing_sealed_segment_reads_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let n = setup(dir.path());
    let segs = files(dir.path(), ID, "seg");
    let (lost_from, lost_to) = (base_of(&segs[1]), base_of(&segs[2]));
    fs::remove_file(&segs[1]).unwrap();
    fs::remove_file(segs[1].with_extension("idx")).unwrap();
    let s = open(dir.path(), SEG);
    assert!(is_corrupt(read_all(&s, ID)));
    assert!(is_corrupt(s.read(ID, lost_from, 1, usize::MAX)));
    assert!(is_corrupt(s.read(ID, lost_to - 1, 1, usize::MAX)));
    assert_entries(
        &s.read(ID, 0, lost_from as usize, usize::MAX).unwrap(),
        0..lost_from,
    );
    assert_entries(
        &s.read(ID, lost_to, usize::MAX, usize::MAX).unwrap(),
        lost_to..n,
    );
    fill(&s, ID, n..n + 3, |i| 1_000 + i);
}

#[test]
fn overlapping_segments_refuse_to_open() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let segs = files(dir.path(), ID, "seg");
    let base = base_of(&segs[1]);
    let bogus = segs[1].with_file_name(format!("{:020}.seg", base + 1));
    fs::copy(&segs[1], bogus).unwrap();
    let err = DiskStorage::open(options(dir.path(), SEG)).err().unwrap();
    assert!(matches!(err, LogError::Corrupt { .. }), "{err}");
}
