//! The data path at the engine layer: what PutRecords refuses, how much GetRecords returns,
//! where reading starts once records pass retention, what a closed shard's end says, and that an
//! iterator does not outlive its stream.

mod common;

use common::*;
use shardline_engine::EngineConfig;
use shardline_wire::shapes::*;
use shardline_wire::{ErrorCode, Operation};

#[test]
fn one_bad_entry_fails_the_whole_put_records_call_and_nothing_is_written() {
    let engine = engine();
    create(&engine, "s", 2);
    let mut out_of_range = entry("k", b"never stored");
    out_of_range.explicit_hash_key = Some("340282366920938463463374607431768211456".into()); // 2^128
    let too_big = entry("k", &vec![7u8; 1024 * 1024 + 1]);
    for bad in [out_of_range, too_big] {
        let calls = vec![entry("a", b"first"), bad, entry("c", b"third")];
        let err = api_error(put_records(&engine, "s", calls).unwrap_err());
        assert!(
            matches!(err.code, ErrorCode::InvalidArgument | ErrorCode::Validation),
            "{err:?}"
        );
    }
    for shard in shards(&engine, "s") {
        assert!(read_shard(&engine, "s", &shard.shard_id).0.is_empty());
    }
    // The same entries without the bad one go in.
    let ok = put_records(
        &engine,
        "s",
        vec![entry("a", b"first"), entry("c", b"third")],
    )
    .unwrap();
    assert_eq!(ok.failed_record_count, 0);
}

#[test]
fn get_records_returns_at_most_10_mib_a_call() {
    let engine = engine();
    create(&engine, "s", 1);
    let data = vec![1u8; 1_000_000];
    for _ in 0..3 {
        let batch = (0..4).map(|_| entry("k", &data)).collect();
        assert_eq!(
            put_records(&engine, "s", batch)
                .unwrap()
                .failed_record_count,
            0
        );
    }
    let it = iterator(&engine, "s", "shardId-000000000000", "TRIM_HORIZON");
    let first = get_records(&engine, &it).unwrap();
    // Ten records of 1,000,000 bytes fit in 10 MiB (10,485,760); an eleventh would not.
    assert_eq!(first.records.len(), 10);
    let rest = get_records(&engine, first.next_shard_iterator.as_deref().unwrap()).unwrap();
    assert_eq!(rest.records.len(), 2);
}

#[test]
fn reading_starts_at_the_retention_horizon_before_housekeeping_trims() {
    let engine = engine();
    create(&engine, "s", 1);
    let shard = "shardId-000000000000";
    let old = put_records(&engine, "s", vec![entry("k", b"old")]).unwrap();
    let old_seq = old.records[0].sequence_number.unwrap().to_string();
    let early = iterator(&engine, "s", shard, "TRIM_HORIZON");
    let hour = 3_600_000;
    engine.clock().advance(23 * hour);
    put_records(&engine, "s", vec![entry("k", b"young")]).unwrap();
    engine.clock().advance(2 * hour); // "old" is now 25 h old, past the 24 h retention
    let (records, _) = read_shard(&engine, "s", shard);
    let data: Vec<&[u8]> = records.iter().map(|r| &r.data.0[..]).collect();
    assert_eq!(data, vec![&b"young"[..]]);
    // A fresh iterator AT the expired record's number skips to the horizon too.
    let at_old = engine
        .get_shard_iterator(
            &caller(Operation::GetShardIterator),
            GetShardIteratorInput {
                stream_name: Some("s".into()),
                shard_id: Some(shard.into()),
                shard_iterator_type: Some("AT_SEQUENCE_NUMBER".into()),
                starting_sequence_number: Some(old_seq),
                ..GetShardIteratorInput::default()
            },
        )
        .unwrap()
        .shard_iterator;
    let out = get_records(&engine, &at_old).unwrap();
    let data: Vec<&[u8]> = out.records.iter().map(|r| &r.data.0[..]).collect();
    assert_eq!(data, vec![&b"young"[..]]);
    // The iterator taken 25 h ago expired long since.
    let expired = api_error(get_records(&engine, &early).unwrap_err());
    assert_eq!(expired.code, ErrorCode::ExpiredIterator);
}

#[test]
fn a_closed_shard_ends_with_no_iterator_and_its_children() {
    let engine = engine();
    create(&engine, "s", 1);
    put_records(&engine, "s", vec![entry("a", b"1"), entry("b", b"2")]).unwrap();
    let parent = "shardId-000000000000";
    engine
        .split_shard(
            &caller(Operation::SplitShard),
            SplitShardInput {
                stream_name: Some("s".into()),
                shard_to_split: Some(parent.into()),
                new_starting_hash_key: Some((1u128 << 127).to_string()),
                ..SplitShardInput::default()
            },
        )
        .unwrap();
    let (records, last) = read_shard(&engine, "s", parent);
    assert_eq!(records.len(), 2);
    assert_eq!(last.next_shard_iterator, None);
    let children = last.child_shards.expect("ChildShards at the end");
    let ids: Vec<&str> = children.iter().map(|c| c.shard_id.as_str()).collect();
    assert_eq!(ids, ["shardId-000000000001", "shardId-000000000002"]);
    for child in &children {
        assert_eq!(child.parent_shards, [parent]);
    }
    assert_eq!(children[0].hash_key_range.starting_hash_key, "0");
    assert_eq!(
        children[1].hash_key_range.starting_hash_key,
        (1u128 << 127).to_string()
    );
}

#[test]
fn an_iterator_of_a_deleted_stream_does_not_read_its_namesake() {
    let engine = engine();
    create(&engine, "s", 1);
    let shard = "shardId-000000000000";
    put_records(&engine, "s", vec![entry("k", b"first life")]).unwrap();
    let old = iterator(&engine, "s", shard, "TRIM_HORIZON");
    engine
        .delete_stream(
            &caller(Operation::DeleteStream),
            DeleteStreamInput {
                stream_name: Some("s".into()),
                ..DeleteStreamInput::default()
            },
        )
        .unwrap();
    engine.clock().advance(1);
    engine.tick().unwrap();
    create(&engine, "s", 1);
    put_records(&engine, "s", vec![entry("k", b"second life")]).unwrap();
    let err = api_error(get_records(&engine, &old).unwrap_err());
    assert_eq!(err.code, ErrorCode::ResourceNotFound, "{err:?}");
    let (records, _) = read_shard(&engine, "s", shard);
    assert_eq!(records.len(), 1);
    assert_eq!(&records[0].data.0[..], b"second life");
}

#[test]
fn an_iterator_past_its_lifetime_is_expired() {
    let engine = engine_with(EngineConfig {
        create_delay_ms: 0,
        iterator_ttl_ms: 1_000,
        limits: shardline_engine::Limits::off(),
        ..EngineConfig::default()
    });
    create(&engine, "s", 1);
    let it = iterator(&engine, "s", "shardId-000000000000", "LATEST");
    engine.clock().advance(999);
    assert!(get_records(&engine, &it).is_ok());
    engine.clock().advance(2);
    let err = api_error(get_records(&engine, &it).unwrap_err());
    assert_eq!(err.code, ErrorCode::ExpiredIterator);
}
