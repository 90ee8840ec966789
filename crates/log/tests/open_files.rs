//! Segment files are opened on demand through a bounded cache: however many partitions are
//! written, read, checkpointed and recovered, the storage holds no more than its limit open.
//! (Its own test binary, so no other test's files are counted.)

use shardline_log::{DiskOptions, DiskStorage, Storage};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[test]
fn many_partitions_stay_within_the_open_file_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = DiskOptions::new(dir.path());
    options.max_open_files = 8;
    let before = open_fds();
    // The storage's own files besides segments: the directory lock, the journal file, and a
    // spare being made, plus a few transient ones (directory fsyncs, an uncached open).
    let allowance = 8 + 8;
    let partitions = 200u64;
    {
        let s = DiskStorage::open(options.clone()).unwrap();
        for p in 1..=partitions {
            s.create_partition(p).unwrap();
            assert!(open_fds() - before <= allowance, "after creating {p}");
        }
        for round in 0..3u64 {
            for p in 1..=partitions {
                let a = s
                    .append(p, 1_000 + round, &[format!("{p}-{round}").as_bytes()])
                    .unwrap();
                block_on(a.durable).unwrap();
            }
            assert!(
                open_fds() - before <= allowance,
                "after writing round {round}"
            );
        }
        for p in 1..=partitions {
            let got = s.read(p, 0, 10, usize::MAX).unwrap();
            assert_eq!(got.len(), 3, "partition {p}");
            assert_eq!(&got[2].payload[..], format!("{p}-2").as_bytes());
        }
        assert!(open_fds() - before <= allowance, "after reading");
    }
    // Recovery of every partition, and reading again, within the same bound.
    let s = DiskStorage::open(options).unwrap();
    assert!(open_fds() - before <= allowance, "after reopening");
    for p in (1..=partitions).rev() {
        assert_eq!(s.read(p, 0, 10, usize::MAX).unwrap().len(), 3);
    }
    assert!(open_fds() - before <= allowance, "after reading again");
    for p in 1..=partitions / 2 {
        s.remove_partition(p).unwrap();
    }
    assert_eq!(s.partitions().len(), (partitions / 2) as usize);
}

/// Waits for a `Durable` without an async runtime of the test's own.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
