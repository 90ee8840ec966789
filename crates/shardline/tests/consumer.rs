//! The consumer library (`shardline-consumer`) and `shardline consume` against the real binary:
//! every record once and in order per shard, by polling and by fan-out; a restart resuming from
//! the checkpoints; children after their parents through a split and a merge; two workers
//! sharing a stream and one taking over when the other stops.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use shardline_consumer::{
    Batch, Checkpointer, ConsumerConfig, FileStore, InitialPosition, LeaseStore, MemoryStore,
    RecordProcessor, Retrieval, Scheduler,
};
use shardline_producer::{Producer, ProducerConfig, UserRecord};

use crate::common::{create_stream, Server};

/// A record as a processor saw it, and when.
#[derive(Clone, Debug)]
struct Seen {
    shard: String,
    sequence: String,
    sub: Option<u64>,
    data: String,
    at: Instant,
}

#[derive(Default)]
struct Log {
    seen: Vec<Seen>,
    /// When each shard's processor was told its shard ended.
    ended: HashMap<String, Instant>,
    /// When each shard's processor was initialised.
    started: HashMap<String, Instant>,
}

type SharedLog = Arc<Mutex<Log>>;

struct Collect {
    log: SharedLog,
}

impl RecordProcessor for Collect {
    async fn initialize(&mut self, init: shardline_consumer::Initialization) {
        self.log
            .lock()
            .unwrap()
            .started
            .insert(init.shard_id, Instant::now());
    }

    async fn process_records(&mut self, batch: Batch, checkpointer: &mut Checkpointer) {
        {
            let mut log = self.log.lock().unwrap();
            let now = Instant::now();
            for r in &batch.records {
                log.seen.push(Seen {
                    shard: batch.shard_id.clone(),
                    sequence: r.sequence_number.clone(),
                    sub: r.sub_sequence_number,
                    data: String::from_utf8_lossy(&r.data).into_owned(),
                    at: now,
                });
            }
        }
        // A lease taken by another worker fails the checkpoint: the new owner goes on from
        // the last checkpoint (at least once), this processor is about to be stopped.
        let _ = checkpointer.checkpoint().await;
    }
}

/// A processor that knows its shard (for shard-end times).
struct CollectShard {
    inner: Collect,
    shard: String,
}

impl RecordProcessor for CollectShard {
    async fn initialize(&mut self, init: shardline_consumer::Initialization) {
        self.inner.initialize(init).await;
    }
    async fn process_records(&mut self, batch: Batch, checkpointer: &mut Checkpointer) {
        self.inner.process_records(batch, checkpointer).await;
    }
    async fn shard_ended(&mut self, checkpointer: &mut Checkpointer) {
        checkpointer.checkpoint().await.expect("SHARD_END");
        self.inner
            .log
            .lock()
            .unwrap()
            .ended
            .insert(self.shard.clone(), Instant::now());
    }
}

fn config(stream: &str, worker: &str) -> ConsumerConfig {
    let mut c =
        ConsumerConfig::new(stream, "app", worker).with_failover_time(Duration::from_secs(1));
    c.initial_position = InitialPosition::TrimHorizon;
    c.retrieval = Retrieval::Polling {
        max_records: 10_000,
        idle_between_reads: Duration::from_millis(100),
    };
    c.parent_poll_interval = Duration::from_millis(200);
    c.shard_sync_interval = Duration::from_millis(500);
    c
}

/// Puts `n` records `"{tag}-{i}"` with keys spread over the shards, aggregated.
async fn produce(client: &Client, stream: &str, tag: &str, n: usize) {
    let mut c = ProducerConfig::new(stream);
    c.linger = Duration::from_millis(10);
    c.rate_limit_percent = 100_000;
    let p = Producer::start(client.clone(), c).await.expect("producer");
    let mut tickets = Vec::new();
    for i in 0..n {
        tickets.push(
            p.submit(UserRecord::new(
                format!("k{}", i % 97),
                format!("{tag}-{i}"),
            ))
            .await
            .expect("submit"),
        );
    }
    p.flush().await;
    for t in tickets {
        t.await.expect("placed");
    }
    p.shutdown().await;
}

async fn wait_for(log: &SharedLog, n: usize, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if log.lock().unwrap().seen.len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "only {} of {n} records processed in {secs} s",
        log.lock().unwrap().seen.len()
    );
}

async fn wait_for_distinct(log: &SharedLog, n: usize, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let distinct = {
            let log = log.lock().unwrap();
            log.seen
                .iter()
                .map(|s| s.data.as_str())
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        if distinct >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {distinct} of {n} records processed in {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every expected record exactly once, and within each shard in sequence order.
fn check_once_in_order(seen: &[Seen], expected: &[String]) {
    assert_eq!(check_in_order(seen, expected), 0, "duplicates");
}

/// Every expected record at least once and nothing else; within each shard (and each run of
/// one worker on it) in sequence order. Returns the duplicates.
fn check_in_order(seen: &[Seen], expected: &[String]) -> usize {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for s in seen {
        *counts.entry(s.data.as_str()).or_default() += 1;
    }
    for e in expected {
        assert!(
            counts.get(e.as_str()).is_some_and(|n| *n >= 1),
            "{e}: never processed"
        );
    }
    assert_eq!(counts.len(), expected.len(), "nothing else");
    // Sequence numbers are decimal strings without leading zeros: longer is larger.
    let mut last: BTreeMap<&str, (usize, &str, u64)> = BTreeMap::new();
    for s in seen {
        let key = (s.sequence.len(), s.sequence.as_str(), s.sub.unwrap_or(0));
        if let Some(prev) = last.insert(&s.shard, key) {
            // A record processed again after a hand-over starts a new run.
            assert!(
                prev < key || counts[s.data.as_str()] > 1,
                "{}: {prev:?} then {key:?}",
                s.shard
            );
        }
    }
    seen.len() - counts.len()
}

fn names(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{tag}-{i}")).collect()
}

async fn run_until<S: LeaseStore>(
    client: &Client,
    store: S,
    config: ConsumerConfig,
    log: &SharedLog,
    n: usize,
) {
    let log2 = Arc::clone(log);
    let scheduler = Scheduler::new(client.clone(), store, config, move |shard: &str| {
        CollectShard {
            inner: Collect {
                log: Arc::clone(&log2),
            },
            shard: shard.to_string(),
        }
    });
    let stop = scheduler.shutdown_handle();
    let run = tokio::spawn(scheduler.run());
    wait_for(log, n, 60).await;
    stop.shutdown().await;
    run.await.expect("join").expect("scheduler");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_reads_every_record_once_in_order_and_resumes_from_checkpoints() {
    let server = Server::memory(&[]);
    let client = server.client();
    create_stream(&client, "poll", 4).await;
    produce(&client, "poll", "a", 20_000).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("leases.json");

    let log: SharedLog = Arc::default();
    run_until(
        &client,
        FileStore::open(&file).unwrap(),
        config("poll", "w1"),
        &log,
        20_000,
    )
    .await;
    check_once_in_order(&log.lock().unwrap().seen, &names("a", 20_000));

    // More records; a new worker on the same lease file resumes where the first stopped.
    produce(&client, "poll", "b", 5_000).await;
    let log2: SharedLog = Arc::default();
    run_until(
        &client,
        FileStore::open(&file).unwrap(),
        config("poll", "w2"),
        &log2,
        5_000,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    check_once_in_order(&log2.lock().unwrap().seen, &names("b", 5_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_delivers_every_record_once_in_order() {
    let server = Server::memory(&[]);
    let client = server.client();
    create_stream(&client, "efo", 4).await;
    produce(&client, "efo", "a", 10_000).await;
    let mut c = config("efo", "w1");
    c.retrieval = Retrieval::FanOut {
        consumer_name: None,
    };
    let log: SharedLog = Arc::default();
    run_until(&client, MemoryStore::new(), c, &log, 10_000).await;
    check_once_in_order(&log.lock().unwrap().seen, &names("a", 10_000));
    let consumers = client
        .list_stream_consumers()
        .stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/efo")
        .send()
        .await
        .expect("ListStreamConsumers");
    assert_eq!(
        consumers.consumers().len(),
        1,
        "registered as the application"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_start_after_their_parents_through_a_split_and_a_merge() {
    let server = Server::memory(&[]);
    let client = server.client();
    create_stream(&client, "reshard", 2).await;
    produce(&client, "reshard", "a", 3_000).await;
    let log: SharedLog = Arc::default();
    let log2 = Arc::clone(&log);
    let store = MemoryStore::new();
    let scheduler = Scheduler::new(
        client.clone(),
        store.clone(),
        config("reshard", "w1"),
        move |shard: &str| CollectShard {
            inner: Collect {
                log: Arc::clone(&log2),
            },
            shard: shard.to_string(),
        },
    );
    let stop = scheduler.shutdown_handle();
    let run = tokio::spawn(scheduler.run());
    // Split shard 0 in the middle of its range, then merge shard 1 with the split's upper child.
    let first = client
        .list_shards()
        .stream_name("reshard")
        .send()
        .await
        .expect("ListShards")
        .shards()[0]
        .clone();
    let range = first.hash_key_range().expect("range");
    let start: u128 = range.starting_hash_key().parse().unwrap();
    let end: u128 = range.ending_hash_key().parse().unwrap();
    client
        .split_shard()
        .stream_name("reshard")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key((start + (end - start) / 2).to_string())
        .send()
        .await
        .expect("SplitShard");
    produce(&client, "reshard", "b", 3_000).await;
    client
        .merge_shards()
        .stream_name("reshard")
        .shard_to_merge("shardId-000000000003")
        .adjacent_shard_to_merge("shardId-000000000001")
        .send()
        .await
        .expect("MergeShards");
    produce(&client, "reshard", "c", 3_000).await;
    wait_for(&log, 9_000, 60).await;
    stop.shutdown().await;
    run.await.expect("join").expect("scheduler");

    let log = log.lock().unwrap();
    let mut expected = names("a", 3_000);
    expected.extend(names("b", 3_000));
    expected.extend(names("c", 3_000));
    check_once_in_order(&log.seen, &expected);
    // Lineage: 0 → 2, 3; 1 + 3 → 4.
    let leases: HashMap<String, shardline_consumer::Lease> = store
        .snapshot()
        .into_iter()
        .map(|l| (l.key.clone(), l))
        .collect();
    for (child, parents) in [
        ("shardId-000000000002", vec!["shardId-000000000000"]),
        ("shardId-000000000003", vec!["shardId-000000000000"]),
        (
            "shardId-000000000004",
            vec!["shardId-000000000001", "shardId-000000000003"],
        ),
    ] {
        let started = log
            .started
            .get(child)
            .unwrap_or_else(|| panic!("{child} never started"));
        for p in &parents {
            let p = *p;
            let ended = log
                .ended
                .get(p)
                .unwrap_or_else(|| panic!("{p} never ended"));
            assert!(
                started >= ended,
                "{child} started before its parent {p} ended"
            );
            assert!(leases[p].is_finished(), "{p} checkpointed SHARD_END");
            assert!(
                leases[p].children.iter().any(|c| c == child),
                "{p} names {child}"
            );
        }
        let mut got: Vec<&str> = leases[child].parents.iter().map(String::as_str).collect();
        got.sort_unstable();
        assert_eq!(got, parents, "{child}'s parentShardId");
        // Each child's records came after its parents ended.
        let first_child = log
            .seen
            .iter()
            .filter(|s| s.shard == child)
            .map(|s| s.at)
            .min();
        if let Some(first_child) = first_child {
            for p in &parents {
                assert!(
                    first_child >= log.ended[*p],
                    "{child} processed before {p} ended"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_the_shards_and_one_takes_over_when_the_other_stops() {
    let server = Server::memory(&[]);
    let client = server.client();
    create_stream(&client, "shared", 4).await;
    let store = MemoryStore::new();
    let log: SharedLog = Arc::default();
    let start = |worker: &str| {
        let log = Arc::clone(&log);
        let scheduler = Scheduler::new(
            client.clone(),
            store.clone(),
            config("shared", worker),
            move |shard: &str| CollectShard {
                inner: Collect {
                    log: Arc::clone(&log),
                },
                shard: shard.to_string(),
            },
        );
        let stop = scheduler.shutdown_handle();
        (stop, tokio::spawn(scheduler.run()))
    };
    let (stop_a, run_a) = start("a");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (stop_b, run_b) = start("b");
    // Within a few take rounds (2 s each), 2 and 2.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let owners: Vec<Option<String>> = store.snapshot().into_iter().map(|l| l.owner).collect();
        let a = owners.iter().filter(|o| o.as_deref() == Some("a")).count();
        let b = owners.iter().filter(|o| o.as_deref() == Some("b")).count();
        if a == 2 && b == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no even spread: a {a}, b {b}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    produce(&client, "shared", "x", 4_000).await;
    wait_for_distinct(&log, 4_000, 30).await;
    // a stops gracefully: its leases are given up, and b takes them at its next round.
    stop_a.shutdown().await;
    run_a.await.expect("join").expect("a");
    produce(&client, "shared", "y", 4_000).await;
    wait_for_distinct(&log, 8_000, 30).await;
    let owners: Vec<Option<String>> = store.snapshot().into_iter().map(|l| l.owner).collect();
    assert!(
        owners.iter().all(|o| o.as_deref() == Some("b")),
        "{owners:?}"
    );
    stop_b.shutdown().await;
    run_b.await.expect("join").expect("b");
    let mut expected = names("x", 4_000);
    expected.extend(names("y", 4_000));
    // A stolen lease's old owner may process a batch before its next renewal tells it the
    // lease is gone: at least once, with few duplicates.
    let duplicates = check_in_order(&log.lock().unwrap().seen, &expected);
    assert!(duplicates < 4_000, "{duplicates} duplicates");
    eprintln!("two workers: {duplicates} records processed twice");
}

#[test]
fn shardline_consume_prints_records_and_resumes_from_its_lease_file() {
    let server = Server::memory(&[]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let client = server.client();
    runtime.block_on(async {
        create_stream(&client, "cli", 2).await;
        produce(&client, "cli", "r", 1_000).await;
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cli.json");
    let consume = |max: &str| {
        // Bounded: `timeout` ends a run that would wait for records forever.
        let mut child = Command::new("timeout")
            .arg("60")
            .arg(env!("CARGO_BIN_EXE_shardline"))
            .args([
                "consume",
                "--stream",
                "cli",
                "--app",
                "cli-app",
                "--from",
                "trim-horizon",
            ])
            .args([
                "--format",
                "json",
                "--idle-ms",
                "100",
                "--failover-ms",
                "1000",
            ])
            .args(["--max-records", max, "--endpoint", &server.endpoint])
            .arg("--lease-file")
            .arg(&file)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start shardline consume");
        let lines: Vec<serde_json::Value> = BufReader::new(child.stdout.take().expect("stdout"))
            .lines()
            .map(|l| serde_json::from_str(&l.expect("a line")).expect("JSON"))
            .collect();
        assert!(
            child.wait().expect("wait").success(),
            "shardline consume failed"
        );
        lines
    };
    let first = consume("400");
    assert_eq!(first.len(), 400);
    let second = consume("600");
    assert_eq!(second.len(), 600);
    let mut all: Vec<String> = first
        .iter()
        .chain(second.iter())
        .map(|v| v["data"].as_str().expect("data").to_string())
        .collect();
    all.sort();
    let mut want = names("r", 1_000);
    want.sort();
    assert_eq!(all, want, "the second run went on where the first stopped");
    assert!(first[0]["shard"].as_str().unwrap().starts_with("shardId-"));
    assert!(first[0]["partition_key"].as_str().unwrap().starts_with('k'));
}
