//! Group commit under concurrency.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::*;
use shardline_log::{DiskStorage, Storage};

const WRITERS: u64 = 12;
const PER_WRITER: u64 = 150;

fn writer_payload(w: u64, i: u64) -> Vec<u8> {
    format!("w{w}:{i}:{}", "x".repeat((i % 17) as usize)).into_bytes()
}

fn parse(payload: &[u8]) -> (u64, u64) {
    let s = std::str::from_utf8(payload).unwrap();
    let mut parts = s.split(':');
    let w = parts.next().unwrap()[1..].parse().unwrap();
    let i = parts.next().unwrap().parse().unwrap();
    (w, i)
}

/// Every writer's entries are present, each exactly once and in the writer's order.
fn check_per_writer_order(s: &DiskStorage, partitions: &[u64], writers: u64, per_writer: u64) {
    let mut next: HashMap<u64, u64> = HashMap::new();
    for &p in partitions {
        let entries = read_all(s, p).unwrap();
        for (k, e) in entries.iter().enumerate() {
            assert_eq!(e.offset, k as u64, "dense offsets");
            let (w, i) = parse(&e.payload);
            let expected = next.entry(w).or_insert(0);
            assert_eq!(i, *expected, "writer {w} in order");
            *expected += 1;
        }
        assert!(entries
            .windows(2)
            .all(|w| w[0].timestamp_ms <= w[1].timestamp_ms));
    }
    assert_eq!(next.len() as u64, writers);
    assert!(next.values().all(|&n| n == per_writer));
}

#[test]
fn concurrent_threads_share_group_commits() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(open(dir.path(), 4096));
    s.create_partition(0).unwrap();
    s.create_partition(1).unwrap();
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            let s = Arc::clone(&s);
            scope.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                // Writers spread over two partitions; every append waits for durability.
                let p = w % 2;
                for i in 0..PER_WRITER {
                    let payload = writer_payload(w, i);
                    let a = s.append(p, 1_000 + i, &[&payload]).unwrap();
                    rt.block_on(a.durable).unwrap();
                    // Durable implies visible.
                    assert!(s.bounds(p).unwrap().end > a.first_offset);
                    let got = s.read(p, a.first_offset, 1, usize::MAX).unwrap();
                    assert_eq!(got[0].payload, payload);
                }
            });
        }
    });
    check_per_writer_order(&s, &[0, 1], WRITERS, PER_WRITER);
    assert!(files(dir.path(), 0, "seg").len() > 1);
    let total: u64 = [0, 1].iter().map(|&p| s.bounds(p).unwrap().end).sum();
    assert_eq!(total, WRITERS * PER_WRITER);

    drop(s);
    let s = open(dir.path(), 4096);
    check_per_writer_order(&s, &[0, 1], WRITERS, PER_WRITER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tasks_with_batches() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(open(dir.path(), 8192));
    s.create_partition(3).unwrap();
    let mut watcher = s.watch(3).unwrap();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while i < PER_WRITER {
                let n = (i % 4 + 1).min(PER_WRITER - i);
                let payloads: Vec<Vec<u8>> = (i..i + n).map(|k| writer_payload(w, k)).collect();
                let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
                let a = s.append(3, 50, &refs).unwrap();
                a.durable.await.unwrap();
                assert!(s.bounds(3).unwrap().end >= a.first_offset + n);
                i += n;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let end = WRITERS * PER_WRITER;
    assert_eq!(s.bounds(3).unwrap().end, end);
    watcher.wait_for(|&v| v == end).await.unwrap();
    check_per_writer_order(&s, &[3], WRITERS, PER_WRITER);
}
