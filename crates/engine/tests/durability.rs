//! A change that writes act on (a new layout of shards, a new data key, a new stream) is in the
//! manifest before any write can use it: otherwise a write acknowledged under it could be lost
//! with it in a crash. A storage whose manifest stores are slow (or failing) shows it.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use parking_lot::Mutex;
use shardline_engine::{Engine, EngineConfig, Limits};
use shardline_log::{Appended, Bounds, Entry, LogError, MemoryStorage, PartitionId, Storage};
use shardline_wire::shapes::*;
use shardline_wire::Operation;

/// Memory storage whose manifest stores can be made slow or failing, and which remembers the
/// last manifest stored.
#[derive(Default)]
struct Watched {
    inner: MemoryStorage,
    slow: AtomicBool,
    failing: AtomicBool,
    stores: AtomicUsize,
    last: Mutex<Vec<u8>>,
}

impl Storage for Watched {
    fn create_partition(&self, id: PartitionId) -> Result<(), LogError> {
        self.inner.create_partition(id)
    }
    fn remove_partition(&self, id: PartitionId) -> Result<(), LogError> {
        self.inner.remove_partition(id)
    }
    fn partitions(&self) -> Vec<PartitionId> {
        self.inner.partitions()
    }
    fn append(&self, id: PartitionId, now_ms: u64, p: &[&[u8]]) -> Result<Appended, LogError> {
        self.inner.append(id, now_ms, p)
    }
    fn read(&self, id: PartitionId, from: u64, n: usize, b: usize) -> Result<Vec<Entry>, LogError> {
        self.inner.read(id, from, n, b)
    }
    fn bounds(&self, id: PartitionId) -> Result<Bounds, LogError> {
        self.inner.bounds(id)
    }
    fn offset_at_time(&self, id: PartitionId, t: u64) -> Result<u64, LogError> {
        self.inner.offset_at_time(id, t)
    }
    fn trim_before(&self, id: PartitionId, t: u64) -> Result<(), LogError> {
        self.inner.trim_before(id, t)
    }
    fn watch(&self, id: PartitionId) -> Result<tokio::sync::watch::Receiver<u64>, LogError> {
        self.inner.watch(id)
    }
    fn load_manifest(&self) -> Result<Option<Vec<u8>>, LogError> {
        self.inner.load_manifest()
    }
    fn store_manifest(&self, bytes: &[u8]) -> Result<(), LogError> {
        if self.slow.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(300));
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(LogError::Io(std::io::Error::other("injected: disk full")));
        }
        *self.last.lock() = bytes.to_vec();
        self.stores.fetch_add(1, Ordering::SeqCst);
        self.inner.store_manifest(bytes)
    }
}

fn shards_in_last_manifest(storage: &Watched) -> usize {
    let last = storage.last.lock().clone();
    let manifest: serde_json::Value = serde_json::from_slice(&last).expect("a JSON manifest");
    manifest["streams"][0]["shards"]
        .as_array()
        .map_or(0, Vec::len)
}

fn split(engine: &Engine) -> Result<(), shardline_engine::EngineError> {
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
        .map(|_| ())
}

fn engine_on(storage: Arc<Watched>) -> Engine {
    Engine::open(
        storage,
        EngineConfig {
            create_delay_ms: 0,
            limits: Limits::off(),
            ..EngineConfig::default()
        },
    )
    .expect("open engine")
}

#[test]
fn a_write_routed_to_a_new_shard_finds_it_in_the_manifest() {
    let storage = Arc::new(Watched::default());
    let engine = Arc::new(engine_on(storage.clone()));
    create(&engine, "s", 1);
    storage.slow.store(true, Ordering::SeqCst);
    let splitting = {
        let engine = engine.clone();
        std::thread::spawn(move || split(&engine))
    };
    std::thread::sleep(Duration::from_millis(50));
    // This write goes to a child of the split: it cannot be acknowledged before the manifest
    // that names the child is stored.
    let mut e = entry("k", b"to a child");
    e.explicit_hash_key = Some("1".into());
    let out = put_records(&engine, "s", vec![e]).expect("put");
    assert_eq!(
        out.records[0].shard_id.as_deref(),
        Some("shardId-000000000001")
    );
    assert_eq!(shards_in_last_manifest(&storage), 3);
    splitting.join().expect("split thread").expect("split");
}

#[test]
fn a_change_the_manifest_refuses_is_undone() {
    let storage = Arc::new(Watched::default());
    let engine = engine_on(storage.clone());
    create(&engine, "s", 1);
    storage.failing.store(true, Ordering::SeqCst);
    assert!(split(&engine).is_err());
    // The stream still has its one shard, and writes still go to it.
    assert_eq!(shards(&engine, "s").len(), 1);
    storage.failing.store(false, Ordering::SeqCst);
    let out = put_records(&engine, "s", vec![entry("k", b"x")]).expect("put");
    assert_eq!(
        out.records[0].shard_id.as_deref(),
        Some("shardId-000000000000")
    );
    // And the split works once the manifest can be stored.
    split(&engine).expect("split");
    assert_eq!(shards_in_last_manifest(&storage), 3);
}
