//! Per-shard throughput limits as AWS enforces them: PutRecords entries past 1,000 records/s
//! fail on their own with AWS's code and message; a sixth GetRecords in a second is throttled;
//! a 10 MiB read makes the following calls fail; `--limits off` removes all of it.

use std::time::{Duration, Instant};

use crate::common::{create_stream, error_code, error_message, Server};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use aws_sdk_kinesis::Client;

fn batch(n: usize, size: usize) -> Vec<PutRecordsRequestEntry> {
    (0..n)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .partition_key(format!("k{i}"))
                .data(Blob::new(vec![b'x'; size]))
                .build()
                .unwrap()
        })
        .collect()
}

async fn iterator(c: &Client) -> String {
    c.get_shard_iterator()
        .stream_name("lim")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn writes_over_1000_records_a_second_fail_per_entry() {
    let server = Server::memory(&["--limits", "aws"]);
    let c = server.client_no_retry();
    create_stream(&c, "lim", 1).await;
    // Far more than 1,000 records/s: 8,000 records as fast as the client can send them.
    let (mut ok, mut failed) = (0usize, 0usize);
    let start = Instant::now();
    for _ in 0..16 {
        let out = c
            .put_records()
            .stream_name("lim")
            .set_records(Some(batch(500, 10)))
            .send()
            .await
            .unwrap();
        for r in out.records() {
            match r.error_code() {
                None => ok += 1,
                Some(code) => {
                    assert_eq!(code, "ProvisionedThroughputExceededException");
                    assert_eq!(
                        r.error_message(),
                        Some("Rate exceeded for shard shardId-000000000000 in stream lim under account 000000000000.")
                    );
                    failed += 1;
                }
            }
        }
        let counted = out
            .records()
            .iter()
            .filter(|r| r.error_code().is_some())
            .count();
        assert_eq!(out.failed_record_count(), Some(counted as i32));
    }
    let secs = start.elapsed().as_secs_f64();
    // One second of burst, then 1,000 records/s: never more than that gets in, and the
    // burst always does. (Bounds only, so a slow machine cannot make this flaky.)
    assert!(ok >= 1000, "the one-second burst gets in, got {ok}");
    assert!(
        (ok as f64) <= 1000.0 + 1000.0 * secs + 50.0,
        "{ok} records in {secs:.2}s is past the limit"
    );
    assert!(
        failed > 0 || secs > 7.0,
        "8,000 records this fast must be throttled"
    );

    // A single PutRecord over the limit is refused whole.
    let mut refused = None;
    for _ in 0..2000 {
        if let Err(e) = c
            .put_record()
            .stream_name("lim")
            .partition_key("k")
            .data(Blob::new("x"))
            .send()
            .await
        {
            refused = Some(e);
            break;
        }
    }
    let e = refused.expect("PutRecord past the limit is refused");
    assert_eq!(error_code(&e), "ProvisionedThroughputExceededException");
}

#[tokio::test]
async fn six_reads_a_second_and_the_10_mib_rule() {
    // Writes unlimited here so 10 MiB can be loaded quickly; reads keep AWS's limits.
    let server = Server::memory(&[
        "--limits",
        "aws",
        "--limit-write-bytes",
        "0",
        "--limit-write-records",
        "0",
    ]);
    let c = server.client_no_retry();
    create_stream(&c, "lim", 1).await;
    let mut it = iterator(&c).await;
    // The bucket holds five calls: the first five pass, and calls right after are refused
    // (ten back to back leave room only for the refill of the time they took).
    let mut outcomes = Vec::new();
    for _ in 0..10 {
        match c.get_records().shard_iterator(&it).send().await {
            Ok(r) => {
                it = r.next_shard_iterator().unwrap().to_owned();
                outcomes.push(true);
            }
            Err(e) => {
                assert_eq!(error_code(&e), "ProvisionedThroughputExceededException");
                outcomes.push(false);
            }
        }
    }
    assert!(
        outcomes[..5].iter().all(|ok| *ok),
        "the first five calls of a second pass: {outcomes:?}"
    );
    assert!(
        outcomes[5..].iter().any(|ok| !ok),
        "more than five GetRecords a second are throttled: {outcomes:?}"
    );

    // Load 10 MiB, then read it in one call: the next calls fail for a few seconds.
    for _ in 0..21 {
        c.put_records()
            .stream_name("lim")
            .set_records(Some(batch(10, 50_000)))
            .send()
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = c
        .get_records()
        .shard_iterator(iterator(&c).await)
        .send()
        .await
        .unwrap();
    let bytes: usize = r.records().iter().map(|x| x.data().as_ref().len()).sum();
    assert!(
        bytes >= 9 * 1024 * 1024,
        "one call returns up to 10 MiB, got {bytes}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let e = c
        .get_records()
        .shard_iterator(r.next_shard_iterator().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ProvisionedThroughputExceededException");
    assert!(error_message(&e).starts_with("Rate exceeded for shard shardId-000000000000"));
}

#[tokio::test]
async fn limits_off_removes_all_of_it() {
    let server = Server::memory(&["--limits", "off"]);
    let c = server.client_no_retry();
    create_stream(&c, "lim", 1).await;
    for _ in 0..10 {
        let out = c
            .put_records()
            .stream_name("lim")
            .set_records(Some(batch(500, 10)))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_record_count(), Some(0));
    }
    let it = iterator(&c).await;
    for _ in 0..20 {
        c.get_records()
            .shard_iterator(&it)
            .limit(1)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn control_plane_rates_and_the_creating_cap() {
    let server = Server::memory(&["--limits", "aws", "--create-delay-ms", "3000"]);
    let c = server.client_no_retry();
    // CreateStream: 5 calls a second per account; a burst meets LimitExceededException.
    let mut refused = None;
    for i in 0..10 {
        if let Err(e) = c
            .create_stream()
            .stream_name(format!("burst{i}"))
            .shard_count(1)
            .send()
            .await
        {
            refused = Some((i, e));
            break;
        }
    }
    let (i, e) = refused.expect("a burst of CreateStream calls is refused");
    assert_eq!(error_code(&e), "LimitExceededException");
    assert!(
        i >= 5,
        "the first five calls of a second are allowed, refused at {i}"
    );

    // Those five are CREATING (3 s); once the rate allows again, a sixth is refused anyway.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let e = c
        .create_stream()
        .stream_name("sixth")
        .shard_count(1)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "LimitExceededException");
    assert!(
        error_message(&e).contains("CREATING"),
        "{}",
        error_message(&e)
    );

    // DescribeLimits allows one call a second.
    c.describe_limits().send().await.unwrap();
    let e = c.describe_limits().send().await.unwrap_err();
    assert_eq!(error_code(&e), "LimitExceededException");
}

#[tokio::test]
async fn some_control_plane_rates_count_per_stream() {
    let server = Server::memory(&["--limits", "aws", "--create-delay-ms", "0"]);
    let c = server.client_no_retry();
    for name in ["one", "two"] {
        create_stream(&c, name, 1).await;
    }
    let arn = |name: &str| format!("arn:aws:kinesis:us-east-1:000000000000:stream/{name}");
    // ListStreamConsumers: 5 calls a second per stream, not per account.
    let mut results = Vec::new();
    for _ in 0..6 {
        results.push(
            c.list_stream_consumers()
                .stream_arn(arn("one"))
                .send()
                .await,
        );
    }
    assert!(results[..5].iter().all(Result::is_ok));
    let e = results.pop().unwrap().unwrap_err();
    assert_eq!(error_code(&e), "LimitExceededException");
    assert_eq!(
        error_message(&e),
        "Rate exceeded for stream one under account 000000000000."
    );
    c.list_stream_consumers()
        .stream_arn(arn("two"))
        .send()
        .await
        .expect("another stream has its own rate");
}

#[tokio::test]
async fn on_demand_streams_scale_under_sustained_load() {
    use aws_sdk_kinesis::types::{ShardFilter, ShardFilterType};
    let server = Server::memory(&[
        "--limits",
        "aws",
        "--housekeeping-ms",
        "200",
        "--on-demand-cooldown-secs",
        "1",
    ]);
    let c = server.client_no_retry();
    crate::common::create_on_demand_stream(&c, "od").await;
    let open = |c: Client| async move {
        let out = c
            .list_shards()
            .stream_name("od")
            .shard_filter(
                ShardFilter::builder()
                    .r#type(ShardFilterType::AtLatest)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let mut ranges: Vec<(u128, u128)> = out
            .shards()
            .iter()
            .map(|s| {
                let r = s.hash_key_range().unwrap();
                (
                    r.starting_hash_key().parse().unwrap(),
                    r.ending_hash_key().parse().unwrap(),
                )
            })
            .collect();
        ranges.sort();
        assert_eq!(ranges[0].0, 0);
        assert_eq!(ranges.last().unwrap().1, u128::MAX);
        for w in ranges.windows(2) {
            assert_eq!(w[0].1 + 1, w[1].0, "ListShards must stay a gap-free cover");
        }
        ranges.len()
    };
    assert_eq!(open(c.clone()).await, 4);

    // Sustained writes into the first shard's range, well past one shard's 1,000 records/s.
    let entries = || {
        (0..500)
            .map(|i| {
                PutRecordsRequestEntry::builder()
                    .partition_key(format!("k{i}"))
                    .explicit_hash_key("7")
                    .data(Blob::new(vec![b'x'; 10]))
                    .build()
                    .unwrap()
            })
            .collect::<Vec<_>>()
    };
    let start = Instant::now();
    let (mut ok, mut grew) = (0usize, false);
    while start.elapsed() < Duration::from_secs(10) {
        let out = c
            .put_records()
            .stream_name("od")
            .set_records(Some(entries()))
            .send()
            .await
            .unwrap();
        ok += out
            .records()
            .iter()
            .filter(|r| r.error_code().is_none())
            .count();
        if start.elapsed() > Duration::from_millis(1500) && open(c.clone()).await > 4 {
            grew = true;
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    assert!(
        grew,
        "an on-demand stream under sustained load gains shards"
    );
    // On-demand writes are held to the stream's capacity, not to one shard's limit.
    assert!(
        (ok as f64) > 1000.0 + 1000.0 * secs,
        "{ok} records in {secs:.1}s: throttled like a provisioned shard"
    );

    // Once the load stops, cold shards are merged back after the cool-down.
    let mut back = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if open(c.clone()).await == 4 {
            back = true;
            break;
        }
    }
    assert!(back, "cold shards merge back to the starting count");
}

#[tokio::test]
async fn one_limit_can_be_lifted_on_its_own() {
    // AWS's limits, but without the control-plane rates: a burst of CreateStream passes,
    // while the per-shard write limit still holds.
    let server = Server::memory(&["--limits", "aws", "--limit-control-plane", "false"]);
    let c = server.client_no_retry();
    for i in 0..10 {
        create_stream(&c, &format!("free{i}"), 1).await;
    }
    let out = c
        .put_records()
        .stream_name("free0")
        .set_records(Some(batch(500, 10)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.failed_record_count(),
        Some(0),
        "the one-second burst fits"
    );
    let out = c
        .put_records()
        .stream_name("free0")
        .set_records(Some(batch(500, 10)))
        .send()
        .await
        .unwrap();
    let out2 = c
        .put_records()
        .stream_name("free0")
        .set_records(Some(batch(500, 10)))
        .send()
        .await
        .unwrap();
    assert!(
        out.failed_record_count().unwrap_or(0) + out2.failed_record_count().unwrap_or(0) > 0,
        "1,500 records at once exceed a shard's 1,000 records/s"
    );
}
