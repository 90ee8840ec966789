//! `kill -9` in the middle of every operation that changes a stream's layout or its data at
//! rest, under a write load: SplitShard, MergeShards, UpdateShardCount, retention trimming,
//! DeleteStream, StartStreamEncryption, StopStreamEncryption, and segment rolls with their
//! fsyncs (small segments). After each restart: the open shards cover the hash-key space
//! exactly, every acknowledged record is read back exactly once (encrypted ones too), and no
//! record lies in a closed shard past its end.
//!
//! `SHARDLINE_CRASH_POINTS` sets the kills per operation (default 4; `scripts/crash-matrix` runs
//! more and reports the count).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::common::{advance_clock_at, create_stream, read_shard, Server};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{EncryptionType, PutRecordsRequestEntry, ScalingType, Shard};
use aws_sdk_kinesis::Client;
use tokio::sync::Mutex;

const STREAM: &str = "matrix";
const MAX_HASH: u128 = u128::MAX;

#[derive(Clone, Copy, Debug)]
enum Op {
    Split,
    Merge,
    Scale,
    Retention,
    Delete,
    Encrypt,
    Decrypt,
    Roll,
}

const OPS: [Op; 8] = [
    Op::Split,
    Op::Merge,
    Op::Scale,
    Op::Retention,
    Op::Delete,
    Op::Encrypt,
    Op::Decrypt,
    Op::Roll,
];

/// Data of acknowledged records, and those acknowledged after a retention cut.
#[derive(Default)]
struct Acked {
    all: Vec<Vec<u8>>,
    /// Index into `all` from which records must survive a retention cut.
    after_cut: usize,
}

type Shared = Arc<Mutex<Acked>>;

async fn produce(c: Client, producer: usize, round: usize, acked: Shared) {
    for batch in 0..10_000usize {
        let data: Vec<Vec<u8>> = (0..20)
            .map(|i| format!("r{round}-p{producer}-b{batch}-i{i}").into_bytes())
            .collect();
        let entries: Vec<_> = data
            .iter()
            .enumerate()
            .map(|(i, d)| {
                PutRecordsRequestEntry::builder()
                    .partition_key(format!("k{producer}-{batch}-{i}"))
                    .data(Blob::new(d.clone()))
                    .build()
                    .expect("entry")
            })
            .collect();
        let Ok(out) = c
            .put_records()
            .stream_name(STREAM)
            .set_records(Some(entries))
            .send()
            .await
        else {
            return;
        };
        let mut a = acked.lock().await;
        for (r, d) in out.records().iter().zip(data) {
            if r.sequence_number().is_some() {
                a.all.push(d);
            }
        }
    }
}

/// Every shard, or `None` if the server is gone (killed meanwhile).
async fn every_shard_quietly(c: &Client) -> Option<Vec<Shard>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..100 {
        let page = match &token {
            Some(t) => c.list_shards().next_token(t).send().await,
            None => c.list_shards().stream_name(STREAM).send().await,
        }
        .ok()?;
        out.extend(page.shards().iter().cloned());
        match page.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => return Some(out),
        }
    }
    None
}

async fn every_shard(c: &Client) -> Vec<Shard> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..100 {
        let page = match &token {
            Some(t) => c.list_shards().next_token(t).send().await,
            None => c.list_shards().stream_name(STREAM).send().await,
        }
        .expect("ListShards");
        out.extend(page.shards().iter().cloned());
        match page.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => return out,
        }
    }
    panic!("ListShards did not end");
}

fn range(s: &Shard) -> (u128, u128) {
    let r = s.hash_key_range().expect("a range");
    (
        r.starting_hash_key().parse().expect("a number"),
        r.ending_hash_key().parse().expect("a number"),
    )
}

/// Starts the operation (it may or may not finish before the kill).
async fn run_op(op: Op, endpoint: String, c: Client, acked: Shared) {
    let c = &c;
    let Ok(shards) = tokio::time::timeout(Duration::from_secs(5), every_shard_quietly(c)).await
    else {
        return;
    };
    let Some(shards) = shards else { return };
    let mut open: Vec<&Shard> = shards
        .iter()
        .filter(|s| {
            s.sequence_number_range()
                .is_some_and(|r| r.ending_sequence_number().is_none())
        })
        .collect();
    open.sort_by_key(|s| range(s).0);
    let _ = match op {
        Op::Split => {
            let (start, end) = range(open[0]);
            c.split_shard()
                .stream_name(STREAM)
                .shard_to_split(open[0].shard_id())
                .new_starting_hash_key((start + (end - start) / 2).to_string())
                .send()
                .await
                .is_ok()
        }
        Op::Merge => c
            .merge_shards()
            .stream_name(STREAM)
            .shard_to_merge(open[0].shard_id())
            .adjacent_shard_to_merge(open[1].shard_id())
            .send()
            .await
            .is_ok(),
        Op::Scale => c
            .update_shard_count()
            .stream_name(STREAM)
            .target_shard_count(if open.len() > 2 { 2 } else { 4 })
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await
            .is_ok(),
        Op::Retention => {
            // Everything written so far passes retention; housekeeping trims it. Records
            // acknowledged a while after the clock moved were written after it: they stay.
            let moved =
                tokio::task::spawn_blocking(move || advance_clock_at(&endpoint, 25 * 3_600_000))
                    .await
                    .is_ok_and(|status| status == 200);
            if moved {
                tokio::time::sleep(Duration::from_millis(30)).await;
                let mut a = acked.lock().await;
                a.after_cut = a.all.len();
            }
            true
        }
        Op::Delete => c.delete_stream().stream_name(STREAM).send().await.is_ok(),
        Op::Encrypt => c
            .start_stream_encryption()
            .stream_name(STREAM)
            .encryption_type(EncryptionType::Kms)
            .key_id("alias/aws/kinesis")
            .send()
            .await
            .is_ok(),
        Op::Decrypt => c
            .stop_stream_encryption()
            .stream_name(STREAM)
            .encryption_type(EncryptionType::Kms)
            .key_id("alias/aws/kinesis")
            .send()
            .await
            .is_ok(),
        // The load itself rolls 16 KiB segments (a seal is an fsync and an index).
        Op::Roll => true,
    };
}

/// Checks the stream after a restart; returns how many records were read back.
async fn verify(c: &Client, acked: &Acked, op: Op) -> usize {
    let status = c
        .describe_stream_summary()
        .stream_name(STREAM)
        .send()
        .await
        .ok()
        .and_then(|s| {
            s.stream_description_summary()
                .map(|d| d.stream_status().clone())
        });
    if matches!(op, Op::Delete) {
        // Deleted (or deleting, and gone any moment): nothing of it need be readable. Else
        // it is whole.
        if status.as_ref().is_none_or(|s| s.as_str() == "DELETING") {
            return 0;
        }
        let Some(shards) = every_shard_quietly(c).await else {
            return 0;
        };
        return check(c, &shards, acked, op).await;
    }
    assert!(status.is_some(), "{op:?}: the stream is gone");
    let shards = every_shard(c).await;
    check(c, &shards, acked, op).await
}

/// The checks of [`verify`] on a stream's shards.
async fn check(c: &Client, shards: &[Shard], acked: &Acked, op: Op) -> usize {
    let mut open: Vec<(u128, u128)> = shards
        .iter()
        .filter(|s| {
            s.sequence_number_range()
                .is_some_and(|r| r.ending_sequence_number().is_none())
        })
        .map(range)
        .collect();
    open.sort_unstable();
    let mut next = 0u128;
    for (i, (start, end)) in open.iter().enumerate() {
        assert_eq!(*start, next, "{op:?}: a gap or overlap in the open shards");
        if i + 1 == open.len() {
            assert_eq!(*end, MAX_HASH, "{op:?}: the open shards stop short");
        } else {
            next = end + 1;
        }
    }
    let mut seen: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for shard in shards {
        let read = read_shard(c, STREAM, shard.shard_id()).await;
        let end = shard
            .sequence_number_range()
            .and_then(|r| r.ending_sequence_number());
        for r in &read.records {
            if let Some(end) = end {
                let seq = r.sequence_number();
                assert!(
                    (seq.len(), seq) <= (end.len(), end),
                    "{op:?}: record {seq} past the end {end} of {}",
                    shard.shard_id()
                );
            }
            *seen.entry(r.data().as_ref().to_vec()).or_default() += 1;
        }
    }
    let must_survive = match op {
        Op::Retention => acked.all.get(acked.after_cut..).unwrap_or_default(),
        _ => &acked.all[..],
    };
    for d in must_survive {
        let n = seen.get(d).copied().unwrap_or(0);
        assert_eq!(
            n,
            1,
            "{op:?}: acknowledged record {} read {n} times",
            String::from_utf8_lossy(d)
        );
    }
    seen.values().sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_the_middle_of_every_layout_change() {
    let points: usize = std::env::var("SHARDLINE_CRASH_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let mut tried = 0;
    let mut records_checked = 0;
    for op in OPS {
        for point in 0..points {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut server = Server::disk(
                dir.path(),
                &[
                    "--segment-bytes",
                    "16384",
                    "--test-clock",
                    "--kms-key",
                    "alias/aws/kinesis",
                ],
            );
            let c = server.client();
            create_stream(&c, STREAM, 3).await;
            if matches!(op, Op::Decrypt) {
                c.start_stream_encryption()
                    .stream_name(STREAM)
                    .encryption_type(EncryptionType::Kms)
                    .key_id("alias/aws/kinesis")
                    .send()
                    .await
                    .expect("encrypt first");
            }
            let acked: Shared = Arc::default();
            let producers: Vec<_> = (0..2)
                .map(|p| tokio::spawn(produce(server.client_no_retry(), p, point, acked.clone())))
                .collect();
            // The kill lands at a different moment of the operation each time.
            let before = 40 + 37 * point as u64 % 90;
            tokio::time::sleep(Duration::from_millis(before)).await;
            if matches!(op, Op::Retention) {
                // Until the clock has moved, nothing is known to survive the cut.
                acked.lock().await.after_cut = usize::MAX;
            }
            let op_task = tokio::spawn(run_op(
                op,
                server.endpoint.clone(),
                server.client_no_retry(),
                acked.clone(),
            ));
            tokio::time::sleep(Duration::from_millis(3 + 11 * point as u64 % 40)).await;
            server.kill();
            for t in producers {
                tokio::time::timeout(Duration::from_secs(60), t)
                    .await
                    .expect("a producer stopped after the kill")
                    .expect("producer");
            }
            let _ = tokio::time::timeout(Duration::from_secs(60), op_task).await;
            server.restart();
            let acked = acked.lock().await;
            records_checked += verify(&server.client(), &acked, op).await;
            tried += 1;
        }
    }
    eprintln!("crash matrix: {tried} kill -9 points, {records_checked} records read back");
    assert_eq!(tried, OPS.len() * points);
}
