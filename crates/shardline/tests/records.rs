//! Data path through aws-sdk-kinesis: PutRecord(s) across shards, every iterator type,
//! GetRecords limits, iterator expiry, retention, and data surviving a restart.

use std::collections::BTreeMap;

use crate::common::{create_stream, error_code, error_message, read_from, Server};
use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use aws_sdk_kinesis::Client;

/// (shard id, sequence number, partition key, data) of every acknowledged put.
type Acked = Vec<(String, String, String, Vec<u8>)>;

async fn put_many(c: &Client, stream: &str, n: usize) -> Acked {
    let mut acked = Vec::new();
    for i in 0..n {
        let key = format!("key-{i}");
        let data = format!("record {i}").into_bytes();
        let out = c
            .put_record()
            .stream_name(stream)
            .partition_key(&key)
            .data(Blob::new(data.clone()))
            .send()
            .await
            .unwrap();
        acked.push((
            out.shard_id().to_owned(),
            out.sequence_number().to_owned(),
            key,
            data,
        ));
    }
    acked
}

async fn iterator(c: &Client, stream: &str, shard: &str, kind: ShardIteratorType) -> String {
    c.get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(kind)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_owned()
}

fn by_shard(acked: &Acked) -> BTreeMap<String, Vec<(String, String, Vec<u8>)>> {
    let mut m: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for (shard, seq, key, data) in acked {
        m.entry(shard.clone())
            .or_default()
            .push((seq.clone(), key.clone(), data.clone()));
    }
    m
}

fn assert_increasing(records: &[(String, String, Vec<u8>)]) {
    for w in records.windows(2) {
        let (a, b) = (&w[0].0, &w[1].0);
        assert!(
            a.len() < b.len() || (a.len() == b.len() && a < b),
            "{a} !< {b}"
        );
    }
}

#[tokio::test]
async fn put_and_get_across_shards() {
    let server = Server::memory(&[]);
    let c = server.client();
    create_stream(&c, "data", 4).await;
    let acked = put_many(&c, "data", 60).await;
    let expected = by_shard(&acked);
    assert_eq!(expected.len(), 4, "60 keys should spread over all 4 shards");
    for (shard, records) in &expected {
        let it = iterator(&c, "data", shard, ShardIteratorType::TrimHorizon).await;
        let got = drain(&c, it, Some(7)).await;
        assert_eq!(&got, records, "shard {shard}");
        assert_increasing(&got);
    }

    // PutRecords: 500 entries, with ExplicitHashKey pinning some to the last shard.
    let entries: Vec<_> = (0..500)
        .map(|i| {
            let b = PutRecordsRequestEntry::builder()
                .partition_key(format!("pk{i}"))
                .data(Blob::new(vec![(i % 256) as u8; 100]));
            if i % 5 == 0 {
                b.explicit_hash_key("340282366920938463463374607431768211455")
            } else {
                b
            }
            .build()
            .unwrap()
        })
        .collect();
    let out = c
        .put_records()
        .stream_name("data")
        .set_records(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_record_count(), Some(0));
    assert_eq!(out.records().len(), 500);
    for (i, r) in out.records().iter().enumerate() {
        if i % 5 == 0 {
            assert_eq!(r.shard_id(), Some("shardId-000000000003"));
        }
        assert_eq!(r.sequence_number().unwrap().len(), 56);
    }
    let mut total = 0;
    for shard in expected.keys() {
        let it = iterator(&c, "data", shard, ShardIteratorType::TrimHorizon).await;
        let got = drain(&c, it, None).await;
        assert_increasing(&got);
        total += got.len();
    }
    assert_eq!(total, 560);
}

#[tokio::test]
async fn every_iterator_type() {
    let server = Server::memory(&[]);
    let c = server.client();
    create_stream(&c, "it", 1).await;
    let first = put_many(&c, "it", 5).await;
    let shard = "shardId-000000000000";

    // LATEST: only what is written after the iterator.
    let latest = iterator(&c, "it", shard, ShardIteratorType::Latest).await;
    let r = c
        .get_records()
        .shard_iterator(&latest)
        .send()
        .await
        .unwrap();
    assert!(r.records().is_empty());
    assert_eq!(r.millis_behind_latest(), Some(0));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let later = put_many(&c, "it", 3).await;
    let got = drain(&c, latest, None).await;
    assert_eq!(
        got.iter().map(|g| &g.0).collect::<Vec<_>>(),
        later.iter().map(|l| &l.1).collect::<Vec<_>>()
    );

    // TRIM_HORIZON: everything.
    let all = drain(
        &c,
        iterator(&c, "it", shard, ShardIteratorType::TrimHorizon).await,
        None,
    )
    .await;
    assert_eq!(all.len(), 8);

    // AT_ / AFTER_SEQUENCE_NUMBER.
    let third = &first[2].1;
    let at = c
        .get_shard_iterator()
        .stream_name("it")
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(third)
        .send()
        .await
        .unwrap();
    let got = drain(&c, at.shard_iterator().unwrap().to_owned(), None).await;
    assert_eq!(&got[0].0, third);
    assert_eq!(got.len(), 6);
    let after = c
        .get_shard_iterator()
        .stream_name("it")
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
        .starting_sequence_number(third)
        .send()
        .await
        .unwrap();
    let got = drain(&c, after.shard_iterator().unwrap().to_owned(), None).await;
    assert_eq!(&got[0].0, &first[3].1);
    assert_eq!(got.len(), 5);

    // AT_TIMESTAMP: from the first record at or after the time.
    let r = c
        .get_records()
        .shard_iterator(iterator(&c, "it", shard, ShardIteratorType::TrimHorizon).await)
        .send()
        .await
        .unwrap();
    let ts_of_6th = *r.records()[5].approximate_arrival_timestamp().unwrap();
    let at_ts = c
        .get_shard_iterator()
        .stream_name("it")
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(ts_of_6th)
        .send()
        .await
        .unwrap();
    let got = drain(&c, at_ts.shard_iterator().unwrap().to_owned(), None).await;
    assert_eq!(got.first().map(|g| &g.0), Some(&later[0].1));
    let future = DateTime::from_secs(4_000_000_000);
    let err = c
        .get_shard_iterator()
        .stream_name("it")
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(future)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidArgumentException");
    assert!(error_message(&err).starts_with(
        "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis."
    ));

    // Sequence-number rules.
    let err = c
        .get_shard_iterator()
        .stream_name("it")
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&err),
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber."
    );
    create_stream(&c, "two", 2).await;
    let other = c
        .put_record()
        .stream_name("two")
        .partition_key("k")
        .explicit_hash_key("340282366920938463463374607431768211455")
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap();
    let err = c
        .get_shard_iterator()
        .stream_name("two")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(other.sequence_number())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&err),
        "Invalid StartingSequenceNumber. It encodes shardId-000000000001, while it was used in a call to a shard with shardId-000000000000"
    );
    let err = c
        .get_shard_iterator()
        .stream_name("it")
        .shard_id("shardId-000000000009")
        .shard_iterator_type(ShardIteratorType::Latest)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&err),
        "Shard shardId-000000000009 in stream it under account 000000000000 does not exist"
    );
}

#[tokio::test]
async fn get_records_limit_and_lag() {
    let server = Server::memory(&[]);
    let c = server.client();
    create_stream(&c, "lim", 1).await;
    put_many(&c, "lim", 25).await;
    let it = iterator(
        &c,
        "lim",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
    )
    .await;
    let r = c
        .get_records()
        .shard_iterator(&it)
        .limit(10)
        .send()
        .await
        .unwrap();
    assert_eq!(r.records().len(), 10);
    assert!(r.millis_behind_latest().is_some());
    let r2 = c
        .get_records()
        .shard_iterator(r.next_shard_iterator().unwrap())
        .limit(100)
        .send()
        .await
        .unwrap();
    assert_eq!(r2.records().len(), 15);
    assert_eq!(r2.millis_behind_latest(), Some(0));
    let err = c
        .get_records()
        .shard_iterator(&it)
        .limit(10_001)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    let err = c
        .get_records()
        .shard_iterator("AAAAAAAAAAAAAAAAAAAAAAAA")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidArgumentException");
    assert_eq!(error_message(&err), "Invalid ShardIterator.");
}

#[tokio::test]
async fn iterators_expire_after_five_minutes() {
    let server = Server::memory(&["--test-clock"]);
    let c = server.client();
    create_stream(&c, "exp", 1).await;
    put_many(&c, "exp", 2).await;
    let it = iterator(
        &c,
        "exp",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
    )
    .await;
    // Still fine at 4 minutes; NextShardIterator is fresh each call.
    server.advance_clock(240_000);
    let r = c.get_records().shard_iterator(&it).send().await.unwrap();
    assert_eq!(r.records().len(), 2);
    let next = r.next_shard_iterator().unwrap().to_owned();
    server.advance_clock(70_000);
    let err = c
        .get_records()
        .shard_iterator(&it)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ExpiredIteratorException");
    let msg = error_message(&err);
    assert!(
        msg.starts_with("Iterator expired. The iterator was created at time "),
        "{msg}"
    );
    assert!(
        msg.ends_with(
            "which is further in the future than the tolerated delay of 300000 milliseconds."
        ),
        "{msg}"
    );
    // The iterator GetRecords handed out at minute 4 is still young.
    c.get_records().shard_iterator(&next).send().await.unwrap();
}

#[tokio::test]
async fn retention_hides_and_reclaims_old_records() {
    let dir = tempfile::tempdir().unwrap();
    // Small segments so old data sits in segments of its own that can be deleted.
    let server = Server::disk(
        dir.path(),
        &[
            "--test-clock",
            "--segment-bytes",
            "4096",
            "--housekeeping-ms",
            "50",
        ],
    );
    let c = server.client();
    create_stream(&c, "ret", 1).await;
    let old = put_many(&c, "ret", 200).await;
    // Segments only: the journal holds a copy of recent appends until its next checkpoint.
    let segments = dir.path().join("partitions");
    let before = dir_bytes(&segments);

    // 25 hours later, past the default 24-hour retention.
    server.advance_clock(25 * 3_600_000);
    let fresh = put_many(&c, "ret", 3).await;
    let got = drain(
        &c,
        iterator(
            &c,
            "ret",
            "shardId-000000000000",
            ShardIteratorType::TrimHorizon,
        )
        .await,
        None,
    )
    .await;
    let got_seqs: Vec<_> = got.iter().map(|g| g.0.clone()).collect();
    let fresh_seqs: Vec<_> = fresh.iter().map(|f| f.1.clone()).collect();
    assert_eq!(
        got_seqs, fresh_seqs,
        "only records within retention are returned"
    );

    // An iterator taken before at an old sequence number also skips expired data.
    let at_old = c
        .get_shard_iterator()
        .stream_name("ret")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(&old[0].1)
        .send()
        .await
        .unwrap();
    let got = drain(&c, at_old.shard_iterator().unwrap().to_owned(), None).await;
    assert_eq!(got.len(), 3);

    // The space is given back: the old segments are deleted.
    let mut after = dir_bytes(&segments);
    for _ in 0..100 {
        if after < before / 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        after = dir_bytes(&segments);
    }
    assert!(
        after < before / 2,
        "retention should reclaim space: {before} bytes before, {after} after"
    );
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.len();
            }
        }
    }
    total
}

#[tokio::test]
async fn restart_keeps_streams_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::disk(dir.path(), &["--segment-bytes", "8192"]);
    let c = server.client();
    create_stream(&c, "keep", 3).await;
    let acked = put_many(&c, "keep", 120).await;
    let it_before = iterator(
        &c,
        "keep",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
    )
    .await;

    server.restart();
    let c = server.client();
    let names = c.list_streams().send().await.unwrap();
    assert_eq!(names.stream_names(), ["keep"]);
    for (shard, records) in by_shard(&acked) {
        let got = drain(
            &c,
            iterator(&c, "keep", &shard, ShardIteratorType::TrimHorizon).await,
            None,
        )
        .await;
        assert_eq!(got, records, "shard {shard} after restart");
    }
    // Iterators issued before the restart still work: the sealing key is persisted.
    c.get_records()
        .shard_iterator(it_before)
        .send()
        .await
        .unwrap();
    // Writes continue with higher sequence numbers.
    let more = put_many(&c, "keep", 30).await;
    for (shard, records) in by_shard(&more) {
        let got = drain(
            &c,
            iterator(&c, "keep", &shard, ShardIteratorType::TrimHorizon).await,
            None,
        )
        .await;
        assert_eq!(got.last(), records.last());
        assert_increasing(&got);
    }
}

/// Reads a shard from `it` until a call returns nothing, returning (seq, key, data).
async fn drain(c: &Client, it: String, limit: Option<i32>) -> Vec<(String, String, Vec<u8>)> {
    read_from(c, it, limit)
        .await
        .records
        .iter()
        .map(|r| {
            (
                r.sequence_number().to_owned(),
                r.partition_key().unwrap_or_default().to_owned(),
                r.data().as_ref().to_vec(),
            )
        })
        .collect()
}
