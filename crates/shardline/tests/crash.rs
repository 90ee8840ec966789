//! Acknowledged writes survive SIGKILL: producers write with PutRecords while the server is
//! killed and restarted several times; afterwards every acknowledged record is read back with
//! its sequence number, in order per shard.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crate::common::{create_stream, read_shard, Server};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_sdk_kinesis::Client;
use tokio::sync::Mutex;

const PRODUCERS: usize = 4;
const BATCH: usize = 50;
/// How long producers run before each kill; varied so kills land at different moments.
const ROUNDS_MS: [u64; 5] = [150, 420, 90, 700, 260];

/// (shard id, sequence number, data)
type Acked = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

async fn produce(c: Client, producer: usize, round: usize, acked: Acked) {
    // Bounded: at most 10,000 batches, and the server's death ends the loop much sooner.
    for batch in 0..10_000usize {
        let entries: Vec<_> = (0..BATCH)
            .map(|i| {
                PutRecordsRequestEntry::builder()
                    .partition_key(format!("p{producer}-{i}"))
                    .data(Blob::new(format!("r{round}-p{producer}-b{batch}-i{i}")))
                    .build()
                    .unwrap()
            })
            .collect();
        let Ok(out) = c
            .put_records()
            .stream_name("crash")
            .set_records(Some(entries))
            .send()
            .await
        else {
            return;
        };
        let mut a = acked.lock().await;
        for (i, r) in out.records().iter().enumerate() {
            if let (Some(shard), Some(seq)) = (r.shard_id(), r.sequence_number()) {
                let data = format!("r{round}-p{producer}-b{batch}-i{i}").into_bytes();
                a.push((shard.to_owned(), seq.to_owned(), data));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    // Small segments so kills also land around segment rolls.
    let mut server = Server::disk(dir.path(), &["--segment-bytes", "65536"]);
    create_stream(&server.client(), "crash", 4).await;
    let acked: Acked = Arc::default();

    for (round, ms) in ROUNDS_MS.iter().enumerate() {
        let mut tasks = Vec::new();
        for p in 0..PRODUCERS {
            tasks.push(tokio::spawn(produce(
                server.client_no_retry(),
                p,
                round,
                acked.clone(),
            )));
        }
        tokio::time::sleep(Duration::from_millis(*ms)).await;
        server.kill();
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(60), t)
                .await
                .expect("producer stopped after the kill")
                .unwrap();
        }
        server.restart();
    }

    let acked = acked.lock().await.clone();
    assert!(
        acked.len() > 500,
        "too few acknowledged records ({}) to mean anything",
        acked.len()
    );
    let c = server.client();
    let mut per_shard: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    for shard in [
        "shardId-000000000000",
        "shardId-000000000001",
        "shardId-000000000002",
        "shardId-000000000003",
    ] {
        let got: Vec<(String, Vec<u8>)> = read_shard(&c, "crash", shard)
            .await
            .records
            .iter()
            .map(|r| (r.sequence_number().to_owned(), r.data().as_ref().to_vec()))
            .collect();
        // Strictly increasing sequence numbers (same length, so string order is numeric order).
        for w in got.windows(2) {
            assert!(
                w[0].0.len() == w[1].0.len() && w[0].0 < w[1].0,
                "order broken in {shard}"
            );
        }
        per_shard.insert(shard.to_owned(), got);
    }

    for (shard, seq, data) in &acked {
        let got = &per_shard[shard];
        let found = got.binary_search_by(|(s, _)| s.as_str().cmp(seq));
        let i = found.unwrap_or_else(|_| panic!("acknowledged record {seq} in {shard} was lost"));
        assert_eq!(
            &got[i].1, data,
            "record {seq} in {shard} came back with other data"
        );
    }
    // Records acknowledged in one batch kept their relative order.
    let distinct: HashSet<_> = acked.iter().map(|a| &a.1).collect();
    assert_eq!(
        distinct.len(),
        acked.len(),
        "a sequence number was given twice"
    );
    eprintln!(
        "{} acknowledged records across {} kills all read back",
        acked.len(),
        ROUNDS_MS.len()
    );
}
