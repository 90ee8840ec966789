//! Functional tests of `DiskStorage`: appends, reads, rolls, reopen, time lookup, trimming,
//! manifest, partitions, durability modes.

mod common;

use std::fs;
use std::time::Duration;

use common::*;
use shardline_log::{DiskStorage, Durability, LogError, Storage};

#[test]
fn roundtrip_across_segment_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), 1024);
    s.create_partition(7).unwrap();
    // The clock sometimes steps back; timestamps must not.
    let written = fill(&s, 7, 0..300, |i| 1_000 + i - (i % 3) * 20);
    assert!(written.windows(2).all(|w| w[0].1 <= w[1].1));
    assert!(
        files(dir.path(), 7, "seg").len() >= 10,
        "several rolls happened"
    );

    let all = read_all(&s, 7).unwrap();
    assert_entries(&all, 0..300);
    for (e, (offset, ts)) in all.iter().zip(&written) {
        assert_eq!((e.offset, e.timestamp_ms), (*offset, *ts));
    }
    let b = s.bounds(7).unwrap();
    assert_eq!((b.start, b.end), (0, 300));
    assert_eq!(b.last_timestamp_ms, Some(written[299].1));

    // From the middle, and across every segment boundary.
    assert_entries(&s.read(7, 137, 10, usize::MAX).unwrap(), 137..147);
    for seg in files(dir.path(), 7, "seg").iter().skip(1) {
        let base = base_of(seg);
        if base < 299 {
            assert_entries(
                &s.read(7, base - 1, 3, usize::MAX).unwrap(),
                base - 1..base + 2,
            );
        }
    }
    // Past the end.
    assert!(s.read(7, 300, 10, usize::MAX).unwrap().is_empty());
    assert!(s.read(7, 10_000, 10, usize::MAX).unwrap().is_empty());
    assert!(s.read(7, 0, 0, usize::MAX).unwrap().is_empty());

    // max_bytes: stop before exceeding it, but always return one entry.
    let limit = 500;
    let got = s.read(7, 20, usize::MAX, limit).unwrap();
    let sum: usize = got.iter().map(|e| e.payload.len()).sum();
    assert!(sum <= limit);
    let next = got.last().unwrap().offset + 1;
    assert_eq!(got[0].offset, 20);
    assert!(sum + payload(next).len() > limit, "stopped early");
    assert_entries(&got, 20..next);
    assert_entries(&s.read(7, 5, 10, 0).unwrap(), 5..6);
    assert_entries(&s.read(7, 299, 10, 1).unwrap(), 299..300);
}

#[test]
fn entry_limits_and_empty_appends() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), 1 << 20);
    s.create_partition(1).unwrap();
    fill(&s, 1, 0..3, |_| 5);
    let big = vec![0u8; (16 << 20) + 1];
    let err = s.append(1, 6, &[b"ok", &big]).err().unwrap();
    assert!(matches!(err, LogError::EntryTooLarge { size, .. } if size == big.len()));
    let empty = s.append(1, 7, &[]).unwrap();
    assert_eq!(empty.first_offset, 3);
    assert_entries(&read_all(&s, 1).unwrap(), 0..3);
    let a = s.append(1, 8, &[&payload(3)]).unwrap();
    assert_eq!(a.first_offset, 3);
    block_on(a.durable).unwrap();
    // An entry bigger than a whole segment and than the default read chunk.
    let huge = vec![7u8; 3 << 20];
    let a = s.append(1, 9, &[&huge]).unwrap();
    block_on(a.durable).unwrap();
    let got = s.read(1, 4, 10, 10).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload, huge);
}

#[test]
fn reopen_restores_everything_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    let written = {
        let s = open(dir.path(), 700);
        s.create_partition(3).unwrap();
        s.create_partition(4).unwrap();
        fill(&s, 4, 0..5, |_| 1);
        fill(&s, 3, 0..120, |i| 10_000 + i)
    };
    let s = open(dir.path(), 700);
    assert_eq!(s.partitions(), vec![3, 4]);
    assert_entries(&read_all(&s, 3).unwrap(), 0..120);
    assert_entries(&read_all(&s, 4).unwrap(), 0..5);
    let b = s.bounds(3).unwrap();
    assert_eq!(
        (b.start, b.end, b.last_timestamp_ms),
        (0, 120, Some(written[119].1))
    );
    // Offsets continue, and the timestamp does not go back even if the clock did.
    let a = s.append(3, 5, &[&payload(120)]).unwrap();
    assert_eq!(a.first_offset, 120);
    assert_eq!(a.timestamp_ms, written[119].1);
    block_on(a.durable).unwrap();
    fill(&s, 3, 121..200, |i| 20_000 + i);
    drop(s);
    let s = open(dir.path(), 700);
    assert_entries(&read_all(&s, 3).unwrap(), 0..200);
}

#[test]
fn sealed_index_files_are_written_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path(), 600);
        s.create_partition(1).unwrap();
        fill(&s, 1, 0..150, |i| 500 + i);
    }
    let segs = files(dir.path(), 1, "seg");
    let idxs = files(dir.path(), 1, "idx");
    assert!(segs.len() >= 4);
    // Every sealed segment has an index; the active one does not.
    assert_eq!(idxs.len(), segs.len() - 1);
    for (seg, idx) in segs.iter().zip(&idxs) {
        assert_eq!(seg.with_extension("idx"), *idx);
    }
    let originals: Vec<Vec<u8>> = idxs.iter().map(|p| fs::read(p).unwrap()).collect();

    // One index deleted, one corrupted, one cut short.
    fs::remove_file(&idxs[0]).unwrap();
    flip_byte(&idxs[1], 20);
    let len = fs::metadata(&idxs[2]).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&idxs[2])
        .unwrap()
        .set_len(len - 7)
        .unwrap();

    let s = open(dir.path(), 600);
    assert_entries(&read_all(&s, 1).unwrap(), 0..150);
    for (i, p) in idxs.iter().enumerate() {
        assert_eq!(
            fs::read(p).unwrap(),
            originals[i],
            "index {} rebuilt identically",
            i
        );
    }
    fill(&s, 1, 150..160, |i| 500 + i);
    assert_entries(&read_all(&s, 1).unwrap(), 0..160);
}

#[test]
fn offset_at_time_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), 512);
    s.create_partition(2).unwrap();
    // Runs of equal timestamps: 3 entries per 10 ms step.
    let written = fill(&s, 2, 0..200, |i| 1_000 + (i / 3) * 10);
    assert!(files(dir.path(), 2, "seg").len() > 5);
    let expect = |ts: u64| {
        written
            .iter()
            .find(|(_, t)| *t >= ts)
            .map_or(200, |(o, _)| *o)
    };
    let last = written.last().unwrap().1;
    for ts in (0..=last + 20)
        .step_by(3)
        .chain([1_000, 1_001, last, last + 1, u64::MAX])
    {
        assert_eq!(s.offset_at_time(2, ts).unwrap(), expect(ts), "ts {ts}");
    }
    s.create_partition(9).unwrap();
    assert_eq!(s.offset_at_time(9, 0).unwrap(), 0);
}

#[test]
fn trim_deletes_whole_segments_and_offsets_continue() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), 512);
    s.create_partition(5).unwrap();
    let written = fill(&s, 5, 0..150, |i| 100 + i);
    let segs = files(dir.path(), 5, "seg");
    let bases: Vec<u64> = segs.iter().map(|p| base_of(p)).collect();
    assert!(bases.len() > 4);

    // Trim at the timestamp of the first entry of the third segment: exactly the first two
    // segments hold only older entries.
    let cut = written[bases[2] as usize].1;
    s.trim_before(5, cut).unwrap();
    let left: Vec<u64> = files(dir.path(), 5, "seg")
        .iter()
        .map(|p| base_of(p))
        .collect();
    assert_eq!(left, bases[2..]);
    assert_eq!(files(dir.path(), 5, "idx").len(), left.len() - 1);
    let b = s.bounds(5).unwrap();
    assert_eq!((b.start, b.end), (bases[2], 150));
    // Reading from before the start starts at the oldest stored entry.
    assert_entries(
        &s.read(5, 0, 4, usize::MAX).unwrap(),
        bases[2]..bases[2] + 4,
    );
    assert_eq!(s.offset_at_time(5, 0).unwrap(), bases[2]);
    // A timestamp equal to a segment's last one keeps that segment.
    s.trim_before(5, written[bases[4] as usize - 1].1).unwrap();
    assert_eq!(s.bounds(5).unwrap().start, bases[3]);

    // Trim everything, including the active segment.
    let last_ts = written[149].1;
    s.trim_before(5, u64::MAX).unwrap();
    let left = files(dir.path(), 5, "seg");
    assert_eq!(left.len(), 1);
    assert_eq!(base_of(&left[0]), 150);
    assert!(files(dir.path(), 5, "idx").is_empty());
    let b = s.bounds(5).unwrap();
    assert_eq!((b.start, b.end, b.last_timestamp_ms), (150, 150, None));
    assert!(read_all(&s, 5).unwrap().is_empty());
    assert_eq!(s.offset_at_time(5, 0).unwrap(), 150);
    s.trim_before(5, u64::MAX).unwrap();

    // Survives a reopen, including the newest timestamp.
    drop(s);
    let s = open(dir.path(), 512);
    let b = s.bounds(5).unwrap();
    assert_eq!((b.start, b.end, b.last_timestamp_ms), (150, 150, None));
    let a = s.append(5, 1, &[&payload(150)]).unwrap();
    assert_eq!((a.first_offset, a.timestamp_ms), (150, last_ts));
    block_on(a.durable).unwrap();
    fill(&s, 5, 151..160, |i| 1_000 + i);
    assert_entries(&read_all(&s, 5).unwrap(), 150..160);
}

#[test]
fn manifest_roundtrip_replace_and_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifest");
    {
        let s = open(dir.path(), 1 << 20);
        assert_eq!(s.load_manifest().unwrap(), None);
        s.store_manifest(b"first").unwrap();
        assert_eq!(s.load_manifest().unwrap().as_deref(), Some(&b"first"[..]));
        s.store_manifest(b"").unwrap();
        assert_eq!(s.load_manifest().unwrap().as_deref(), Some(&b""[..]));
        s.store_manifest(b"second version").unwrap();
        assert!(!dir.path().join("manifest.tmp").exists());
    }
    // A crash while writing a replacement leaves a half-written temporary file: the old
    // manifest is still the one loaded, and the leftover is cleaned up.
    fs::write(dir.path().join("manifest.tmp"), b"SLMF half").unwrap();
    let s = open(dir.path(), 1 << 20);
    assert!(!dir.path().join("manifest.tmp").exists());
    assert_eq!(
        s.load_manifest().unwrap().as_deref(),
        Some(&b"second version"[..])
    );

    flip_byte(&path, 18);
    assert!(is_corrupt(s.load_manifest()));
    s.store_manifest(b"third").unwrap();
    assert_eq!(s.load_manifest().unwrap().as_deref(), Some(&b"third"[..]));
    let len = fs::metadata(&path).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    assert!(is_corrupt(s.load_manifest()));
    fs::write(&path, b"").unwrap();
    assert!(is_corrupt(s.load_manifest()));
}

#[test]
fn partitions_are_created_listed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), 1 << 20);
    assert!(s.partitions().is_empty());
    s.create_partition(10).unwrap();
    s.create_partition(2).unwrap();
    assert!(matches!(
        s.create_partition(10),
        Err(LogError::PartitionExists(10))
    ));
    assert_eq!(s.partitions(), vec![2, 10]);
    fill(&s, 10, 0..20, |_| 1);
    let watcher = s.watch(10).unwrap();

    s.remove_partition(10).unwrap();
    s.remove_partition(10).unwrap();
    s.remove_partition(99).unwrap();
    assert!(!partition_dir(dir.path(), 10).exists());
    assert_eq!(s.partitions(), vec![2]);
    assert!(matches!(s.bounds(10), Err(LogError::NoSuchPartition(10))));
    assert!(matches!(
        s.read(10, 0, 1, 1),
        Err(LogError::NoSuchPartition(10))
    ));
    assert!(matches!(
        s.append(10, 1, &[b"x"]),
        Err(LogError::NoSuchPartition(10))
    ));
    assert!(matches!(s.watch(10), Err(LogError::NoSuchPartition(10))));
    drop(watcher);

    // Re-created from scratch.
    s.create_partition(10).unwrap();
    assert_eq!(s.bounds(10).unwrap().end, 0);
    drop(s);

    // An interrupted removal is finished at open; strays are ignored.
    fs::create_dir_all(dir.path().join("partitions/7.0.deleting")).unwrap();
    fs::write(dir.path().join("partitions/7.0.deleting/x.seg"), b"junk").unwrap();
    fs::write(dir.path().join("partitions/README"), b"hi").unwrap();
    let s = open(dir.path(), 1 << 20);
    assert_eq!(s.partitions(), vec![2, 10]);
    assert!(!dir.path().join("partitions/7.0.deleting").exists());

    // A partition directory whose segments are all gone starts empty.
    fs::create_dir(partition_dir(dir.path(), 11)).unwrap();
    drop(s);
    let s = open(dir.path(), 1 << 20);
    assert_eq!(s.partitions(), vec![2, 10, 11]);
    assert_eq!(s.bounds(11).unwrap().end, 0);
    assert_eq!(files(dir.path(), 11, "seg").len(), 1);
}

#[test]
fn relaxed_durability_is_visible_immediately() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(dir.path(), 300);
    o.durability = Durability::Relaxed;
    let s = DiskStorage::open(o.clone()).unwrap();
    s.create_partition(1).unwrap();
    let mut watcher = s.watch(1).unwrap();
    let mut durables = Vec::new();
    for i in 0..40u64 {
        let a = s.append(1, 100 + i, &[&payload(i)]).unwrap();
        assert_eq!(a.first_offset, i);
        // Visible right after the call, before any fsync was awaited.
        assert_eq!(s.bounds(1).unwrap().end, i + 1);
        assert_eq!(*watcher.borrow_and_update(), i + 1);
        assert_entries(&s.read(1, i, 1, usize::MAX).unwrap(), i..i + 1);
        durables.push(a.durable);
    }
    // Ready without waiting for the committer.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    for d in durables {
        rt.block_on(async { tokio::time::timeout(Duration::ZERO, d).await })
            .expect("durable is ready immediately")
            .unwrap();
    }
    drop(s);
    let s = DiskStorage::open(o).unwrap();
    assert_entries(&read_all(&s, 1).unwrap(), 0..40);
}

#[test]
fn strict_durability_is_visible_after_durable() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), 400);
    s.create_partition(1).unwrap();
    let mut watcher = s.watch(1).unwrap();
    for i in 0..30u64 {
        let a = s.append(1, 100 + i, &[&payload(i)]).unwrap();
        assert!(s.bounds(1).unwrap().end <= i + 1);
        block_on(a.durable).unwrap();
        assert_eq!(s.bounds(1).unwrap().end, i + 1);
        assert_eq!(*watcher.borrow_and_update(), i + 1);
    }
    // Dropping the storage completes pending durables rather than abandoning them.
    let pending: Vec<_> = (30..60u64)
        .map(|i| s.append(1, 200, &[&payload(i)]).unwrap().durable)
        .collect();
    drop(s);
    for d in pending {
        block_on(d).unwrap();
    }
    let s = open(dir.path(), 400);
    assert_entries(&read_all(&s, 1).unwrap(), 0..60);
}
