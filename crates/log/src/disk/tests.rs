//! Tests that need to see or steer the internals (the public behaviour is tested under
//! `crates/log/tests/`).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use super::checkpoint::SegmentHealth;
use super::commit::{CommitTarget, Committer};
use super::segment_file::segment_path;
use super::*;

fn options(dir: &Path, segment_bytes: u64) -> DiskOptions {
    let mut o = DiskOptions::new(dir);
    o.segment_bytes = segment_bytes;
    o.index_interval_bytes = 64;
    o
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn fill(s: &DiskStorage, id: PartitionId, n: u64) {
    for i in 0..n {
        let payload = format!("payload number {i}");
        let a = s.append(id, 1_000 + i, &[payload.as_bytes()]).unwrap();
        block_on(a.durable).unwrap();
    }
}

#[test]
fn options_defaults() {
    let o = DiskOptions::new("/data");
    assert_eq!(o.dir, Path::new("/data"));
    assert_eq!(o.segment_bytes, 64 << 20);
    assert_eq!(o.index_interval_bytes, 4 << 10);
    assert_eq!(o.durability, Durability::Strict);
}

#[test]
fn strict_entries_are_invisible_until_fsynced() {
    let dir = tempfile::tempdir().unwrap();
    let s =
        DiskStorage::open_with(options(dir.path(), 1 << 20), |j| Ok(Committer::manual(j))).unwrap();
    s.create_partition(1).unwrap();
    let watcher = s.watch(1).unwrap();
    let a = s.append(1, 10, &[b"a", b"b"]).unwrap();
    let b = s.append(1, 11, &[b"c"]).unwrap();
    assert_eq!((a.first_offset, b.first_offset), (0, 2));
    // Written, but not fsynced: nobody sees it.
    let bounds = s.bounds(1).unwrap();
    assert_eq!(
        (bounds.start, bounds.end, bounds.last_timestamp_ms),
        (0, 0, None)
    );
    assert!(s.read(1, 0, 10, usize::MAX).unwrap().is_empty());
    assert_eq!(s.offset_at_time(1, 0).unwrap(), 0);
    assert_eq!(*watcher.borrow(), 0);

    s.committer.run_pending();
    block_on(a.durable).unwrap();
    block_on(b.durable).unwrap();
    let bounds = s.bounds(1).unwrap();
    assert_eq!(
        (bounds.start, bounds.end, bounds.last_timestamp_ms),
        (0, 3, Some(11))
    );
    assert_eq!(s.read(1, 0, 10, usize::MAX).unwrap().len(), 3);
    assert_eq!(*watcher.borrow(), 3);

    // Reads that start among visible entries stop at the invisible ones.
    let c = s.append(1, 50, &[b"d", b"e"]).unwrap();
    let got = s.read(1, 1, 10, usize::MAX).unwrap();
    assert_eq!(got.iter().map(|e| e.offset).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(s.offset_at_time(1, 11).unwrap(), 2);
    assert_eq!(s.offset_at_time(1, 50).unwrap(), 3);
    assert_eq!(s.bounds(1).unwrap().last_timestamp_ms, Some(11));
    s.committer.run_pending();
    block_on(c.durable).unwrap();
    assert_eq!(s.read(1, 1, 10, usize::MAX).unwrap().len(), 4);
    assert_eq!(s.offset_at_time(1, 50).unwrap(), 3);
}

/// Polls once, with a waker that does nothing.
fn poll_once<F: std::future::Future + Unpin>(f: &mut F) -> std::task::Poll<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::Pin::new(f).poll(&mut cx)
}

#[test]
fn an_idle_server_commits_on_the_thread_that_waits() {
    let dir = tempfile::tempdir().unwrap();
    let s = DiskStorage::open(options(dir.path(), 1 << 20)).unwrap();
    s.create_partition(1).unwrap();
    s.create_partition(2).unwrap();
    for i in 0..3 {
        // Longer than IDLE_AFTER: the committer thread has nothing to do and sleeps.
        std::thread::sleep(std::time::Duration::from_millis(3));
        let mut a = s.append(1, 10 + i, &[b"x"]).unwrap().durable;
        let mut b = s.append(2, 10 + i, &[b"y"]).unwrap().durable;
        // Queued, not started: a caller's appends (one per shard) wait for one commit.
        assert_eq!(s.bounds(1).unwrap().end, i);
        // The first wait commits both on this thread, without the committer thread.
        assert!(matches!(poll_once(&mut a), std::task::Poll::Ready(Ok(()))));
        assert!(matches!(poll_once(&mut b), std::task::Poll::Ready(Ok(()))));
        assert_eq!(s.bounds(2).unwrap().end, i + 1);
    }
}

#[test]
fn an_append_nobody_waits_for_is_committed_anyway() {
    let dir = tempfile::tempdir().unwrap();
    let s = DiskStorage::open(options(dir.path(), 1 << 20)).unwrap();
    s.create_partition(1).unwrap();
    drop(s.append(1, 10, &[b"x"]).unwrap());
    // Well inside the committer thread's own wake-up interval (CHECKPOINT_INTERVAL).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while s.bounds(1).unwrap().end == 0 {
        assert!(std::time::Instant::now() < deadline, "never committed");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn commits_on_appending_threads_and_the_committer_keep_each_partition_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(DiskStorage::open(options(dir.path(), 4 << 10)).unwrap());
    for id in 1..=2 {
        s.create_partition(id).unwrap();
    }
    // Pauses around IDLE_AFTER, so that appends are likely to commit both ways: on the
    // waiting thread, and queued behind a commit under way.
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                for i in 0..150u64 {
                    let id = 1 + (w + i) % 2;
                    let payload = format!("{w}:{i}");
                    let a = s.append(id, 1_000 + i, &[payload.as_bytes()]).unwrap();
                    block_on(a.durable).unwrap();
                    std::thread::sleep(std::time::Duration::from_micros(
                        (w * 350 + i * 97) % 1_600,
                    ));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let check = |s: &DiskStorage| {
        let mut total = 0;
        for id in 1..=2 {
            let entries = s.read(id, 0, 1_000, usize::MAX).unwrap();
            assert!(entries
                .iter()
                .enumerate()
                .all(|(n, e)| e.offset == n as u64));
            // Each writer's own records keep their order within a partition.
            for w in 0..4 {
                let mine: Vec<u64> = entries
                    .iter()
                    .filter_map(|e| {
                        let text = std::str::from_utf8(&e.payload).unwrap();
                        let (who, i) = text.split_once(':').unwrap();
                        (who == w.to_string()).then(|| i.parse().unwrap())
                    })
                    .collect();
                assert!(mine.windows(2).all(|p| p[0] < p[1]), "writer {w}: {mine:?}");
            }
            total += entries.len();
        }
        assert_eq!(total, 600);
    };
    check(&s);
    drop(Arc::into_inner(s).unwrap());
    check(&DiskStorage::open(options(dir.path(), 4 << 10)).unwrap());
}

#[test]
fn failed_fsync_fails_waiters_and_poisons_appends() {
    let dir = tempfile::tempdir().unwrap();
    let s =
        DiskStorage::open_with(options(dir.path(), 1 << 20), |j| Ok(Committer::manual(j))).unwrap();
    s.create_partition(1).unwrap();
    let a = s.append(1, 10, &[b"a"]).unwrap();
    s.committer.run_pending();
    block_on(a.durable).unwrap();

    let b = s.append(1, 11, &[b"b"]).unwrap();
    let partition = s.partition(1).unwrap();
    // What the committer does when sync_data fails.
    let io = std::io::Error::other("injected fsync failure");
    let result = partition.committed(2, 11, Err(LogError::Io(io)));
    assert!(matches!(result, Err(LogError::Io(_))));
    // A later, successful fsync must not make the doubtful entry visible.
    assert!(partition.committed(2, 11, Ok(())).is_err());
    assert_eq!(s.bounds(1).unwrap().end, 1);
    assert!(matches!(s.append(1, 12, &[b"c"]), Err(LogError::Io(_))));
    drop(b);

    // Reopening rescans what is on disk and accepts appends again.
    drop(partition);
    drop(s);
    let s = DiskStorage::open(options(dir.path(), 1 << 20)).unwrap();
    assert_eq!(s.bounds(1).unwrap().end, 2);
    assert_eq!(s.append(1, 13, &[b"c"]).unwrap().first_offset, 2);
}

#[test]
fn failed_write_leaves_the_partition_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let s = DiskStorage::open(options(dir.path(), 1 << 20)).unwrap();
    s.create_partition(1).unwrap();
    fill(&s, 1, 3);
    let partition = s.partition(1).unwrap();
    let path = segment_path(partition.dir(), 0);
    let len = std::fs::metadata(&path).unwrap().len();
    // Swap in a read-only handle: the write fails (and so does the undo, which poisons).
    partition.set_active_file_for_test(File::open(&path).unwrap());
    assert!(matches!(
        s.append(1, 10, &[b"x", b"y"]),
        Err(LogError::Io(_))
    ));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
    assert_eq!(s.bounds(1).unwrap().end, 3);
    assert_eq!(s.read(1, 0, 10, usize::MAX).unwrap().len(), 3);
    assert!(s.append(1, 10, &[b"x"]).is_err());
    drop(partition);
    drop(s);
    let s = DiskStorage::open(options(dir.path(), 1 << 20)).unwrap();
    assert_eq!(s.append(1, 10, &[b"x"]).unwrap().first_offset, 3);
}

#[test]
fn sealed_index_is_loaded_not_rescanned() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = DiskStorage::open(options(dir.path(), 1500)).unwrap();
        s.create_partition(1).unwrap();
        fill(&s, 1, 100);
    }
    let pdir = dir.path().join("partitions/1");
    // Recover with a huge interval: a rescanned segment gets a single index entry, while one
    // loaded from its `.idx` keeps the entries written with the 64-byte interval.
    let interval = 1 << 30;
    let r = recovery::recover(&pdir, 1, interval).unwrap();
    assert!(r.segments.len() >= 3);
    let sealed = &r.segments[..r.segments.len() - 1];
    assert!(sealed.iter().all(|s| s.index.entries().len() > 5));
    let active = r.segments.last().unwrap();
    assert!(
        active.is_empty() || active.index.entries().len() == 1,
        "always rescanned"
    );
    drop(r);

    std::fs::remove_file(segment_file::index_path(&pdir, 0)).unwrap();
    let r = recovery::recover(&pdir, 1, interval).unwrap();
    assert_eq!(r.segments[0].index.entries().len(), 1);
    assert!(r.segments[1].index.entries().len() > 5);
    // The rebuilt index was written back.
    assert!(segment_file::index_path(&pdir, 0).exists());
}

#[test]
fn index_memory_is_sparse() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(dir.path(), 1 << 20);
    o.index_interval_bytes = 4096;
    let s = DiskStorage::open(o).unwrap();
    s.create_partition(1).unwrap();
    let payload = [7u8; 40];
    for _ in 0..100 {
        let batch = [&payload[..]; 20];
        s.append(1, 1, &batch).unwrap();
    }
    let partition = s.partition(1).unwrap();
    let (entries, bytes) = partition.active_index_stats_for_test();
    // 2000 records of 64 bytes = 128000 bytes: about one entry per 4 KiB.
    assert!(bytes > 120_000);
    assert!((30..=33).contains(&entries), "{entries} index entries");
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = DiskStorage::open(DiskOptions::new(dir.path().to_path_buf())).unwrap();
    let err = DiskStorage::open(DiskOptions::new(dir.path().to_path_buf()))
        .err()
        .expect("second open must fail");
    assert!(err.to_string().contains("in use"), "{err}");
    drop(first);
    DiskStorage::open(DiskOptions::new(dir.path().to_path_buf())).unwrap();
}

/// Copies every file of `from` into `to` (created), for crash images.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Replaces the journal directory with a saved copy, as if the machine had crashed when the
/// copy was taken (the clean shutdown in between checkpointed and emptied it).
fn restore_journal(root: &Path, saved: &Path) {
    let journal = journal::journal_dir(root);
    std::fs::remove_dir_all(&journal).unwrap();
    copy_dir(saved, &journal);
}

fn journal_files(root: &Path) -> Vec<(String, u64)> {
    let mut files: Vec<_> = std::fs::read_dir(journal::journal_dir(root))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let len = e.metadata().unwrap().len();
            (e.file_name().to_string_lossy().into_owned(), len)
        })
        .collect();
    files.sort();
    files
}

fn payloads(s: &DiskStorage, id: PartitionId) -> Vec<(u64, u64, Vec<u8>)> {
    s.read(id, 0, 1000, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|e| (e.offset, e.timestamp_ms, e.payload.to_vec()))
        .collect()
}

#[test]
fn journal_restores_records_a_crash_took_from_the_segments() {
    let dir = tempfile::tempdir().unwrap();
    let saved = tempfile::tempdir().unwrap();
    let (before_1, before_2) = {
        let s = DiskStorage::open_with(options(dir.path(), 1 << 20), |j| Ok(Committer::manual(j)))
            .unwrap();
        s.create_partition(1).unwrap();
        s.create_partition(2).unwrap();
        for round in 0..3u64 {
            let one = format!("one-{round}");
            let two = format!("two-{round}");
            s.append(1, 100 + round, &[one.as_bytes(), b"x"]).unwrap();
            s.append(2, 200 + round, &[two.as_bytes()]).unwrap();
            s.committer.run_pending();
        }
        // Written to the segment, never journaled: not acknowledged, may be lost.
        s.append(2, 300, &[b"unacknowledged"]).unwrap();
        copy_dir(&journal::journal_dir(dir.path()), saved.path());
        s.committer.run_pending();
        (payloads(&s, 1), payloads(&s, 2))
    };
    assert_eq!(before_1.len(), 6);
    assert_eq!(before_2.len(), 4);

    // The crash lost partition 1's records entirely and partition 2's from its third on.
    let seg1 = segment_path(&dir.path().join("partitions/1"), 0);
    let seg2 = segment_path(&dir.path().join("partitions/2"), 0);
    let header = segment_file::SEGMENT_HEADER_LEN;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg1)
        .unwrap()
        .set_len(header)
        .unwrap();
    let two_records = header + 2 * record::encoded_len(5);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg2)
        .unwrap()
        .set_len(two_records + 3)
        .unwrap();
    restore_journal(dir.path(), saved.path());

    let s = DiskStorage::open(options(dir.path(), 1 << 20)).unwrap();
    assert_eq!(payloads(&s, 1), before_1);
    assert_eq!(payloads(&s, 2), before_2[..3].to_vec());
    assert_eq!(s.bounds(2).unwrap().last_timestamp_ms, Some(202));
    // Replayed, made durable, and the journal emptied; appends continue where it ended.
    let files = journal_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].1, 0);
    assert_eq!(s.append(1, 400, &[b"next"]).unwrap().first_offset, 6);
    assert_eq!(s.append(2, 400, &[b"next"]).unwrap().first_offset, 3);
}

#[test]
fn journal_ignores_torn_frames_and_other_incarnations() {
    let dir = tempfile::tempdir().unwrap();
    let saved = tempfile::tempdir().unwrap();
    {
        let s = DiskStorage::open_with(options(dir.path(), 1 << 20), |j| Ok(Committer::manual(j)))
            .unwrap();
        s.create_partition(1).unwrap();
        s.create_partition(2).unwrap();
        s.append(1, 10, &[b"old incarnation"]).unwrap();
        s.append(2, 10, &[b"first"]).unwrap();
        s.committer.run_pending();
        s.append(2, 11, &[b"second, torn in the journal"]).unwrap();
        s.committer.run_pending();
        copy_dir(&journal::journal_dir(dir.path()), saved.path());
        // Partition 1 is removed and created again under the same id.
        s.remove_partition(1).unwrap();
        s.create_partition(1).unwrap();
    }
    // Cut the last frame short, and lose partition 2's segment contents.
    let wal = std::fs::read_dir(saved.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let len = std::fs::metadata(&wal).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(segment_path(&dir.path().join("partitions/2"), 0))
        .unwrap()
        .set_len(segment_file::SEGMENT_HEADER_LEN)
        .unwrap();
    restore_journal(dir.path(), saved.path());

    let s = DiskStorage::open(options(dir.path(), 1 << 20)).unwrap();
    assert!(payloads(&s, 1).is_empty(), "a new incarnation starts empty");
    let two: Vec<Vec<u8>> = payloads(&s, 2).into_iter().map(|p| p.2).collect();
    assert_eq!(two, vec![b"first".to_vec()]);
}

#[test]
fn checkpoint_makes_segments_durable_and_drops_old_journal_files() {
    let dir = tempfile::tempdir().unwrap();
    let s =
        DiskStorage::open_with(options(dir.path(), 1 << 20), |j| Ok(Committer::manual(j))).unwrap();
    s.create_partition(1).unwrap();
    s.append(1, 10, &[b"a", b"b"]).unwrap();
    s.committer.run_pending();
    let before = journal_files(dir.path());
    assert_eq!(before.len(), 1);
    assert!(before[0].1 > 0, "the commit was journaled");
    s.committer.checkpoint();
    let after = journal_files(dir.path());
    assert_eq!(after.len(), 1);
    assert_ne!(after[0].0, before[0].0, "a new journal file was started");
    assert_eq!(after[0].1, 0);
    // Appends keep working into the new journal file.
    s.append(1, 11, &[b"c"]).unwrap();
    s.committer.run_pending();
    assert!(journal_files(dir.path())[0].1 > 0);
    assert_eq!(payloads(&s, 1).len(), 3);
}

#[test]
fn a_segment_in_doubt_keeps_the_journal_for_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let s =
        DiskStorage::open_with(options(dir.path(), 1 << 20), |j| Ok(Committer::manual(j))).unwrap();
    s.create_partition(1).unwrap();
    s.create_partition(2).unwrap();
    s.append(1, 10, &[b"a"]).unwrap();
    s.append(2, 10, &[b"b"]).unwrap();
    s.committer.run_pending();
    // What a checkpoint (or a roll) does when the segment's fsync fails.
    let io = std::io::Error::other("injected fsync failure");
    s.partition(1)
        .unwrap()
        .segment_sync_failed(&LogError::Io(io));
    s.committer.checkpoint();
    let files = journal_files(dir.path());
    assert_eq!(files.len(), 2, "the journal is kept: {files:?}");
    // Later checkpoints keep theirs too, even for partitions that are fine.
    s.append(2, 11, &[b"c"]).unwrap();
    s.committer.run_pending();
    s.committer.checkpoint();
    assert_eq!(journal_files(dir.path()).len(), 3);
    assert!(matches!(s.append(1, 12, &[b"x"]), Err(LogError::Io(_))));
    drop(s);
    // The next open replays it all and starts clean.
    let s = DiskStorage::open(options(dir.path(), 1 << 20)).unwrap();
    assert_eq!(payloads(&s, 1).len(), 1);
    assert_eq!(payloads(&s, 2).len(), 2);
    assert_eq!(journal_files(dir.path()).len(), 1);
}
