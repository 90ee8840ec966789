//! An engine over `MemoryStorage`, with its clock moved by the tests, and the calls the tests
//! make through it. No HTTP: these tests pin the engine's own behaviour.

#![allow(dead_code)]

use std::sync::Arc;

use bytes::Bytes;
use shardline_engine::{Caller, Engine, EngineConfig, EngineError, Limits};
use shardline_log::MemoryStorage;
use shardline_wire::shapes::*;
use shardline_wire::{ApiError, Blob, Operation};

pub const ACCOUNT: &str = "000000000000";

/// An engine with no creation delays and no throughput or control-plane limits.
pub fn engine() -> Engine {
    engine_with(EngineConfig {
        create_delay_ms: 0,
        delete_delay_ms: 0,
        limits: Limits::off(),
        ..EngineConfig::default()
    })
}

pub fn engine_with(config: EngineConfig) -> Engine {
    Engine::open(Arc::new(MemoryStorage::new()), config).expect("open engine")
}

pub fn caller(operation: Operation) -> Caller {
    Caller {
        account_id: ACCOUNT.into(),
        operation,
    }
}

/// Runs an engine future to its end (appends resolve at once in memory).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// The Kinesis error an engine call failed with.
pub fn api_error(e: EngineError) -> ApiError {
    e.into_api_error()
}

pub fn create(engine: &Engine, name: &str, shards: i64) {
    engine
        .create_stream(
            &caller(Operation::CreateStream),
            CreateStreamInput {
                stream_name: Some(name.into()),
                shard_count: Some(shards),
                ..CreateStreamInput::default()
            },
        )
        .expect("create stream");
}

pub fn entry(key: &str, data: &[u8]) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry {
        data: Some(Blob(Bytes::copy_from_slice(data))),
        explicit_hash_key: None,
        partition_key: Some(key.into()),
    }
}

pub fn put_records(
    engine: &Engine,
    stream: &str,
    entries: Vec<PutRecordsRequestEntry>,
) -> Result<PutRecordsOutput, EngineError> {
    block_on(engine.put_records(
        &caller(Operation::PutRecords),
        PutRecordsInput {
            stream_name: Some(stream.into()),
            records: Some(entries),
            ..PutRecordsInput::default()
        },
    ))
}

/// Every shard of the stream, open and closed, in index order.
pub fn shards(engine: &Engine, stream: &str) -> Vec<Shard> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = engine
            .list_shards(
                &caller(Operation::ListShards),
                ListShardsInput {
                    stream_name: token.is_none().then(|| stream.to_string()),
                    next_token: token.clone(),
                    ..ListShardsInput::default()
                },
            )
            .expect("list shards");
        out.extend(page.shards);
        match page.next_token {
            Some(t) => token = Some(t),
            None => return out,
        }
    }
}

pub fn iterator(engine: &Engine, stream: &str, shard: &str, kind: &str) -> String {
    engine
        .get_shard_iterator(
            &caller(Operation::GetShardIterator),
            GetShardIteratorInput {
                stream_name: Some(stream.into()),
                shard_id: Some(shard.into()),
                shard_iterator_type: Some(kind.into()),
                ..GetShardIteratorInput::default()
            },
        )
        .expect("get shard iterator")
        .shard_iterator
}

pub fn get_records(engine: &Engine, iterator: &str) -> Result<GetRecordsOutput, EngineError> {
    engine.get_records(
        &caller(Operation::GetRecords),
        GetRecordsInput {
            shard_iterator: Some(iterator.into()),
            ..GetRecordsInput::default()
        },
    )
}

/// Everything a shard holds, from TRIM_HORIZON to its end (a closed shard) or its tip.
pub fn read_shard(engine: &Engine, stream: &str, shard: &str) -> (Vec<Record>, GetRecordsOutput) {
    let mut it = iterator(engine, stream, shard, "TRIM_HORIZON");
    let mut records = Vec::new();
    loop {
        let out = get_records(engine, &it).expect("get records");
        let empty = out.records.is_empty();
        records.extend(out.records.iter().cloned());
        match &out.next_shard_iterator {
            Some(next) if !empty => it = next.clone(),
            _ => return (records, out),
        }
    }
}
