//! Housekeeping: a closed shard whose records all passed retention gives its partition back,
//! and the stream goes on as if the shard had simply expired.

mod common;

use std::sync::Arc;

use common::*;
use shardline_engine::{Engine, EngineConfig, Limits};
use shardline_log::{MemoryStorage, Storage};
use shardline_wire::shapes::*;
use shardline_wire::{ErrorCode, Operation};

#[test]
fn closed_shards_past_retention_are_pruned() {
    let storage = Arc::new(MemoryStorage::new());
    let engine = Engine::open(
        storage.clone(),
        EngineConfig {
            create_delay_ms: 0,
            limits: Limits::off(),
            ..EngineConfig::default()
        },
    )
    .unwrap();
    create(&engine, "s", 1);
    put_records(&engine, "s", vec![entry("k", b"before the split")]).unwrap();
    engine
        .split_shard(
            &caller(Operation::SplitShard),
            SplitShardInput {
                stream_name: Some("s".into()),
                shard_to_split: Some("shardId-000000000000".into()),
                new_starting_hash_key: Some((1u128 << 127).to_string()),
                ..SplitShardInput::default()
            },
        )
        .unwrap();
    assert_eq!(storage.partitions().len(), 3);
    // Within retention the parent stays, readable.
    engine.clock().advance(23 * 3_600_000);
    engine.tick().unwrap();
    assert_eq!(storage.partitions().len(), 3);
    assert_eq!(read_shard(&engine, "s", "shardId-000000000000").0.len(), 1);
    // Past it, its partition goes; the children remain and take writes.
    engine.clock().advance(2 * 3_600_000);
    engine.tick().unwrap();
    assert_eq!(storage.partitions().len(), 2);
    let listed: Vec<String> = shards(&engine, "s")
        .into_iter()
        .map(|s| s.shard_id)
        .collect();
    assert_eq!(listed, ["shardId-000000000001", "shardId-000000000002"]);
    let err = engine
        .get_shard_iterator(
            &caller(Operation::GetShardIterator),
            GetShardIteratorInput {
                stream_name: Some("s".into()),
                shard_id: Some("shardId-000000000000".into()),
                shard_iterator_type: Some("TRIM_HORIZON".into()),
                ..GetShardIteratorInput::default()
            },
        )
        .unwrap_err()
        .into_api_error();
    assert_eq!(err.code, ErrorCode::ResourceNotFound);
    let out = put_records(&engine, "s", vec![entry("a", b"1"), entry("b", b"2")]).unwrap();
    assert_eq!(out.failed_record_count, 0);
    // Reopening over the same storage keeps the pruned shard pruned (no partition recreated).
    drop(engine);
    let engine = Engine::open(storage.clone(), EngineConfig::default()).unwrap();
    assert_eq!(storage.partitions().len(), 2);
    drop(engine);
}
