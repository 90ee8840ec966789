//! The producer library (`shardline-producer`) and `shardline produce` against the real binary:
//! aggregated records read back and taken apart, once each and in order per key; AWS's
//! per-shard limits throttling a producer that loses nothing and stays inside its buffer; a
//! split while records flow.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_kinesis::Client;
use shardline_producer::{unpack, Producer, ProducerConfig, Unpacked, UserRecord};

use crate::common::{create_stream, read_shard, Server};

/// One user record as read back: its shard, Kinesis sequence number, sub-sequence number.
struct Seen {
    shard: String,
    sequence: String,
    sub: Option<u64>,
    record: UserRecord,
}

/// Reads every shard of `stream` (closed ones included) from TRIM_HORIZON and takes the
/// aggregates apart as a consumer does: an aggregate holding a user record outside the
/// shard's hash-key range is dropped whole. Returns the user records and how many Kinesis
/// records were dropped that way.
async fn read_user_records(client: &Client, stream: &str) -> (Vec<Seen>, usize) {
    let shards = client
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .expect("ListShards");
    let mut out = Vec::new();
    let mut foreign = 0;
    for shard in shards.shards() {
        let range = shard.hash_key_range().expect("a hash-key range");
        let range = (
            range.starting_hash_key().parse::<u128>().expect("a number"),
            range.ending_hash_key().parse::<u128>().expect("a number"),
        );
        let read = read_shard(client, stream, shard.shard_id()).await;
        for r in read.records {
            match unpack(r.data().as_ref(), Some(range)) {
                Unpacked::Plain => out.push(Seen {
                    shard: shard.shard_id().to_string(),
                    sequence: r.sequence_number().to_string(),
                    sub: None,
                    record: UserRecord {
                        partition_key: r.partition_key().unwrap_or_default().to_string(),
                        explicit_hash_key: None,
                        data: bytes::Bytes::copy_from_slice(r.data().as_ref()),
                    },
                }),
                Unpacked::Aggregate(users) => {
                    for (i, u) in users.into_iter().enumerate() {
                        out.push(Seen {
                            shard: shard.shard_id().to_string(),
                            sequence: r.sequence_number().to_string(),
                            sub: Some(i as u64),
                            record: u,
                        });
                    }
                }
                Unpacked::Foreign { .. } => foreign += 1,
            }
        }
    }
    (out, foreign)
}

/// `key:counter[:padding]` data, so order per key and exactly-once can be checked.
fn parse(data: &[u8]) -> (String, u64) {
    let text = std::str::from_utf8(data).expect("UTF-8");
    let mut parts = text.splitn(3, ':');
    let key = parts.next().expect("a key");
    let n = parts.next().expect("key:counter");
    (key.to_string(), n.parse().expect("a counter"))
}

/// Every key's counters are exactly 0..n, once each (and, with `ordered`, in that order
/// within the shard they were read from, which is sequence order).
fn check_once_each(seen: &[Seen], keys: u64, per_key: u64, ordered: bool) {
    let mut next: HashMap<String, u64> = HashMap::new();
    let mut counts: HashMap<String, Vec<u64>> = HashMap::new();
    for s in seen {
        let (key, n) = parse(&s.record.data);
        assert_eq!(key, s.record.partition_key, "the user record kept its key");
        if ordered {
            let want = next.entry(key.clone()).or_insert(0);
            assert_eq!(
                n, *want,
                "key {key}: counter {n} came where {want} was due (shard {}, seq {}, sub {:?})",
                s.shard, s.sequence, s.sub
            );
            *want += 1;
        }
        counts.entry(key).or_default().push(n);
    }
    assert_eq!(counts.len() as u64, keys, "every key came back");
    for (key, mut ns) in counts {
        ns.sort_unstable();
        let want: Vec<u64> = (0..per_key).collect();
        assert!(
            ns == want,
            "key {key}: {} records, not 0..{per_key} once each",
            ns.len()
        );
    }
}

fn config(stream: &str) -> ProducerConfig {
    let mut c = ProducerConfig::new(stream);
    c.linger = Duration::from_millis(20);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_aggregated_records_come_back_once_each_in_order_per_key() {
    let server = Server::memory(&[]);
    let client = server.client();
    create_stream(&client, "many", 4).await;
    let mut c = config("many");
    c.ordering = true;
    // The server runs --limits off; the producer's own budget need not hold it back.
    c.rate_limit_percent = 100_000;
    let producer = Producer::start(client.clone(), c).await.expect("start");
    let (keys, per_key) = (1_000u64, 1_000u64);
    let mut tickets = Vec::with_capacity((keys * per_key) as usize);
    for n in 0..per_key {
        for k in 0..keys {
            let key = format!("key-{k}");
            let data = format!("{key}:{n}");
            tickets.push(
                producer
                    .submit(UserRecord::new(key, data))
                    .await
                    .expect("submit"),
            );
        }
    }
    producer.flush().await;
    let mut aggregated = 0;
    for t in tickets {
        let placed = t.await.expect("placed");
        assert!(placed.sequence_number.len() > 20 && placed.shard_id.starts_with("shardId-"));
        aggregated += usize::from(placed.sub_sequence_number.is_some());
    }
    producer.shutdown().await;
    // A record alone in its shard's aggregator when the linger time or the final flush comes
    // goes out as itself (as the KPL sends it): a few may, depending on timing.
    assert!(
        aggregated >= 1_000_000 - 16,
        "user records travel in aggregates: only {aggregated} of 1,000,000 did"
    );
    let (seen, foreign) = read_user_records(&client, "many").await;
    assert_eq!(foreign, 0);
    assert_eq!(seen.len(), 1_000_000);
    let kinesis_records = {
        let mut s: Vec<_> = seen.iter().map(|s| (&s.shard, &s.sequence)).collect();
        s.sort_unstable();
        s.dedup();
        s.len()
    };
    assert!(
        kinesis_records < 5_000,
        "1,000,000 user records of ~12 bytes fill few aggregates, not {kinesis_records}"
    );
    check_once_each(&seen, keys, per_key, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_aws_limits_a_throttled_producer_loses_nothing_and_keeps_to_its_buffer() {
    let server = Server::memory(&["--limits", "aws"]);
    let client = server.client();
    create_stream(&client, "narrow", 1).await;
    let mut c = config("narrow");
    c.aggregation = false;
    // Three times what a shard takes: the server throttles, the producer retries.
    c.rate_limit_percent = 300;
    c.max_buffered_bytes = 256 * 1024;
    c.max_buffered_records = 1_000;
    c.retry_base_delay = Duration::from_millis(50);
    c.retry_max_delay = Duration::from_millis(500);
    c.record_ttl = Duration::from_secs(120);
    let producer = Producer::start(client.clone(), c).await.expect("start");
    let max_seen = Arc::new(AtomicUsize::new(0));
    let watch = {
        let (p, m) = (producer.clone(), Arc::clone(&max_seen));
        tokio::spawn(async move {
            loop {
                m.fetch_max(p.buffered_bytes(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    // 2 MiB in 2 KiB records: two seconds of the shard's 1 MiB/s, and 2,048 records (two
    // seconds of its 1,000 records/s) sent as fast as the buffer lets them in.
    let n = 2_048u64;
    let mut tickets = Vec::new();
    for i in 0..n {
        let data = format!("k:{i}:{}", "p".repeat(2040));
        tickets.push(
            producer
                .submit(UserRecord::new("k", data))
                .await
                .expect("submit"),
        );
    }
    producer.flush().await;
    let mut retried = 0;
    for t in tickets {
        let placed = t.await.expect("placed despite throttling");
        retried += usize::from(placed.attempts > 1);
    }
    watch.abort();
    producer.shutdown().await;
    assert!(retried > 0, "the server throttled some calls");
    let max = max_seen.load(Ordering::Relaxed);
    assert!(
        max <= 256 * 1024,
        "the buffer held {max} bytes, more than its 256 KiB budget"
    );
    // Reading 4 MiB back runs into the shard's 2 MiB/s read limit too: retry more.
    let reader = crate::common::client(&server.endpoint, 20);
    let (seen, _) = read_user_records(&reader, "narrow").await;
    assert_eq!(seen.len() as u64, n, "nothing lost, nothing twice");
    check_once_each(&seen, 1, n, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_while_producing_loses_nothing_and_consumers_see_each_record_once() {
    let server = Server::memory(&[]);
    let client = server.client();
    create_stream(&client, "splitting", 2).await;
    let mut c = config("splitting");
    c.rate_limit_percent = 100_000;
    c.shard_map_refresh = Duration::from_secs(3600);
    let producer = Producer::start(client.clone(), c).await.expect("start");
    let (keys, per_key) = (500u64, 400u64);
    let mut tickets = Vec::new();
    for n in 0..per_key {
        if n == per_key / 2 {
            // Halfway: split the first shard in the middle of its range.
            let shards = client
                .list_shards()
                .stream_name("splitting")
                .send()
                .await
                .expect("ListShards");
            let first = &shards.shards()[0];
            let range = first.hash_key_range().expect("a range");
            let start: u128 = range.starting_hash_key().parse().expect("a number");
            let end: u128 = range.ending_hash_key().parse().expect("a number");
            client
                .split_shard()
                .stream_name("splitting")
                .shard_to_split(first.shard_id())
                .new_starting_hash_key((start + (end - start) / 2).to_string())
                .send()
                .await
                .expect("SplitShard");
        }
        for k in 0..keys {
            let key = format!("key-{k}");
            let data = format!("{key}:{n}");
            tickets.push(
                producer
                    .submit(UserRecord::new(key, data))
                    .await
                    .expect("submit"),
            );
        }
    }
    producer.flush().await;
    let mut shards_used = std::collections::BTreeSet::new();
    for t in tickets {
        shards_used.insert(t.await.expect("placed").shard_id.to_string());
    }
    producer.shutdown().await;
    assert!(
        shards_used.len() >= 3,
        "records went to the children after the split: {shards_used:?}"
    );
    let (seen, foreign) = read_user_records(&client, "splitting").await;
    check_once_each(&seen, keys, per_key, false);
    eprintln!("split: aggregates dropped as foreign by the reader: {foreign}");
}

#[test]
fn shardline_produce_puts_each_line_with_its_key() {
    let server = Server::memory(&[]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let client = server.client();
    runtime.block_on(create_stream(&client, "lines", 2));
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardline"))
        .args(["produce", "--stream", "lines", "--aggregate", "--endpoint"])
        .arg(&server.endpoint)
        .args(["--partition-key", "field:user.id", "--linger-ms", "10"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start shardline produce");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for i in 0..10_000 {
            writeln!(stdin, r#"{{"user":{{"id":"u{}"}},"n":{i}}}"#, i % 7).expect("write");
        }
    }
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "shardline produce failed: {stderr}");
    assert!(stderr.contains("10000 placed"), "{stderr}");
    let (seen, _) = runtime.block_on(read_user_records(&client, "lines"));
    assert_eq!(seen.len(), 10_000);
    let mut ns: Vec<u64> = seen
        .iter()
        .map(|s| {
            let v: serde_json::Value = serde_json::from_slice(&s.record.data).expect("JSON");
            let n = v["n"].as_u64().expect("n");
            assert_eq!(s.record.partition_key, format!("u{}", n % 7));
            n
        })
        .collect();
    ns.sort_unstable();
    assert_eq!(ns, (0..10_000).collect::<Vec<_>>());

    // A line without the field is an error, and the command says so.
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardline"))
        .args(["produce", "--stream", "lines", "--endpoint"])
        .arg(&server.endpoint)
        .args(["--partition-key", "field:user.id"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start shardline produce");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"{\"user\":{}}\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 1 has no field user.id"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// On an AUTO stream the producer does what the KPL does: no aggregation, and each record
/// counts as placed wherever the service put it (not "misplaced" and put again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_an_auto_stream_records_are_placed_by_the_service_once_each() {
    use aws_sdk_kinesis::types::{RecordDistributionStrategy, StreamMode, StreamModeDetails};
    let server = Server::memory(&[]);
    let client = server.client();
    client
        .create_stream()
        .stream_name("auto")
        .stream_mode_details(
            StreamModeDetails::builder()
                .stream_mode(StreamMode::OnDemand)
                .build()
                .expect("mode"),
        )
        .record_distribution_strategy(RecordDistributionStrategy::Auto)
        .send()
        .await
        .expect("create");
    let producer = Producer::start(client.clone(), config("auto"))
        .await
        .expect("start");
    let n = 4_000u64;
    let mut tickets = Vec::new();
    for i in 0..n {
        // One key for all: under AUTO it places nothing.
        let t = producer
            .submit(UserRecord::new("same-key", format!("same-key:{i}")))
            .await
            .expect("submit");
        tickets.push(t);
    }
    producer.flush().await;
    let mut shards = HashMap::<String, u64>::new();
    for t in tickets {
        let placed = t.await.expect("placed");
        assert_eq!(placed.sub_sequence_number, None, "nothing aggregated");
        assert_eq!(
            placed.attempts, 1,
            "placed where the service put it, first time"
        );
        *shards.entry(placed.shard_id.to_string()).or_default() += 1;
    }
    producer.shutdown().await;
    assert!(
        shards.len() >= 2,
        "one key, yet spread by the service: {shards:?}"
    );
    let (seen, foreign) = read_user_records(&client, "auto").await;
    assert_eq!((seen.len() as u64, foreign), (n, 0));
    let mut numbers: Vec<u64> = seen.iter().map(|s| parse(&s.record.data).1).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len() as u64, n, "each record once");
}
