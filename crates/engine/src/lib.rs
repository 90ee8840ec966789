//! The Kinesis engine: streams, shards, hash-key routing, sequence numbers, iterators,
//! retention. It speaks in the wire crate's shapes and reaches storage only through the
//! [`shardline_log::Storage`] trait.
//!
//! Start reading at [`Engine`]; control-plane operations are in `control.rs`, the data path
//! in `put.rs` (PutRecord, PutRecords), `shard_iterator.rs` (GetShardIterator) and
//! `get_records.rs` (GetRecords); periodic work (retention, deletions, scaling) in
//! `housekeeping.rs`.

mod by_stream;
mod catalog;
mod channels;
mod clock;
mod config;
mod consumers;
mod control;
mod decode_records;
mod encryption;
mod error;
mod get_records;
mod hashkey;
mod housekeeping;
mod iterator_token;
mod limits;
mod md5_lanes;
mod metrics;
mod model;
mod next_token;
mod payload;
mod policy;
mod put;
mod queues;
mod resharding;
mod resolve;
mod seal;
mod seqnum;
mod settings;
mod shard_iterator;
mod subscription;
mod tags;

use std::sync::Arc;

use rand::RngCore;
use shardline_log::Storage;

pub use channels::{ChannelRead, ChannelTask, DEFAULT_KEY_TEMPLATE};
pub use clock::Clock;
pub use config::{Caller, EngineConfig};
pub use error::EngineError;
pub use limits::Limits;
pub use queues::EntryOp;
pub use subscription::{Step, Subscription};

use catalog::{parse_key_hex, Catalog};
use error::Result;
use model::{CatalogData, MANIFEST_VERSION};
use seal::Sealer;

/// The Kinesis service logic over one storage.
pub struct Engine {
    storage: Arc<dyn Storage>,
    config: EngineConfig,
    clock: Clock,
    catalog: Catalog,
    sealer: Sealer,
    subscriptions: Arc<subscription::Subscriptions>,
    keyring: encryption::Keyring,
    control_limiter: limits::ControlLimiter,
    queues: queues::Registry,
}

impl Engine {
    /// Opens the engine over a storage, loading and reconciling its manifest.
    ///
    /// # Errors
    /// A storage failure, or a manifest this version cannot read.
    pub fn open(storage: Arc<dyn Storage>, config: EngineConfig) -> Result<Engine> {
        let data = match storage.load_manifest()? {
            Some(bytes) => serde_json::from_slice::<CatalogData>(&bytes)
                .map_err(|e| EngineError::Metadata(format!("unreadable manifest: {e}")))?,
            None => {
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                CatalogData {
                    version: MANIFEST_VERSION,
                    token_key: key.iter().map(|b| format!("{b:02x}")).collect(),
                    next_partition: 1,
                    streams: Vec::new(),
                    accounts: Default::default(),
                }
            }
        };
        if data.version != MANIFEST_VERSION {
            return Err(EngineError::Metadata(format!(
                "manifest version {} is not supported",
                data.version
            )));
        }
        let key = parse_key_hex(&data.token_key)
            .ok_or_else(|| EngineError::Metadata("bad token key in manifest".into()))?;
        let engine = Engine {
            storage,
            clock: Clock::default(),
            catalog: Catalog::from_data(data, key, config.limits.clone()),
            sealer: Sealer::new(key),
            subscriptions: Arc::default(),
            keyring: encryption::Keyring::new(&config.master_key),
            control_limiter: limits::ControlLimiter::default(),
            queues: queues::Registry::default(),
            config,
        };
        engine.reconcile()?;
        engine.persist()?;
        Ok(engine)
    }

    /// Makes storage match the manifest: partitions left by an interrupted create or delete
    /// are removed; a missing partition of a known shard is recreated empty.
    fn reconcile(&self) -> Result<()> {
        let mut known = std::collections::HashSet::new();
        for stream in self.catalog.all() {
            let s = stream.read();
            for shard in s.meta.shards.iter().filter(|sh| !sh.pruned) {
                known.insert(shard.partition);
            }
            for q in &s.meta.queues {
                known.insert(q.journal);
            }
        }
        let present: std::collections::HashSet<u64> =
            self.storage.partitions().into_iter().collect();
        for orphan in present.difference(&known) {
            tracing::info!(partition = orphan, "removing partition not in the manifest");
            self.storage.remove_partition(*orphan)?;
        }
        for missing in known.difference(&present) {
            tracing::warn!(
                partition = missing,
                "partition missing on disk; recreating it empty"
            );
            self.storage.create_partition(*missing)?;
        }
        Ok(())
    }

    fn persist(&self) -> Result<()> {
        self.catalog.persist_with(|data| self.write_manifest(data))
    }

    fn write_manifest(&self, data: &CatalogData) -> Result<()> {
        let bytes = serde_json::to_vec(data).map_err(|e| EngineError::Metadata(e.to_string()))?;
        self.storage
            .store_manifest(&bytes)
            .map_err(EngineError::from)
    }

    /// Changes a stream in a way nothing may act on before it is in the manifest (a new layout
    /// of shards that writes will route to, a new data key records will be sealed with): the
    /// stream stays write-locked from the change until the manifest holding it is stored, so a
    /// write acknowledged under the new state is never lost with it in a crash. If the change
    /// or the store fails, the stream goes back to what it was.
    ///
    /// # Errors
    /// The change's error, or the manifest's store failing.
    pub(crate) fn change_durably<T>(
        &self,
        stream: &catalog::StreamRef,
        change: impl FnOnce(&mut catalog::Stream) -> Result<T>,
    ) -> Result<T> {
        let persisting = self.catalog.begin_persist();
        let mut s = stream.write();
        let before = s.meta.clone();
        let out = change(&mut s).and_then(|out| {
            persisting.store_changed(stream, &s.meta, |d| self.write_manifest(d))?;
            Ok(out)
        });
        if out.is_err() {
            s.meta = before;
            s.rebuild_routes();
        }
        out
    }

    /// Admits a call under AWS's control-plane rate limits (when limits are on).
    ///
    /// # Errors
    /// `LimitExceededException` when the caller's account is over the operation's rate.
    pub fn admit(&self, caller: &Caller) -> Result<()> {
        if self.config.limits.control_plane
            && !self
                .control_limiter
                .admit(&caller.account_id, caller.operation)
        {
            return Err(shardline_wire::ApiError::new(
                shardline_wire::ErrorCode::LimitExceeded,
                format!(
                    "Rate exceeded for {} calls under account {}.",
                    caller.operation.name(),
                    caller.account_id
                ),
            )
            .into());
        }
        Ok(())
    }

    /// Admits a per-stream control-plane call (ListShards, DescribeStreamConsumer,
    /// ListStreamConsumers, DeregisterStreamConsumer) under AWS's rate for the stream.
    ///
    /// # Errors
    /// `LimitExceededException` when the stream is over the operation's rate.
    pub(crate) fn admit_stream(&self, caller: &Caller, account: &str, stream: &str) -> Result<()> {
        if self.config.limits.control_plane
            && !self
                .control_limiter
                .admit_stream(account, stream, caller.operation)
        {
            return Err(shardline_wire::ApiError::new(
                shardline_wire::ErrorCode::LimitExceeded,
                format!("Rate exceeded for stream {stream} under account {account}."),
            )
            .into());
        }
        Ok(())
    }

    /// [`Engine::admit_stream`] for a stream already found.
    pub(crate) fn admit_stream_of(
        &self,
        caller: &Caller,
        stream: &catalog::StreamRef,
    ) -> Result<()> {
        let (account, name) = {
            let s = stream.read();
            (s.meta.account.clone(), s.meta.name.clone())
        };
        self.admit_stream(caller, &account, &name)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}
