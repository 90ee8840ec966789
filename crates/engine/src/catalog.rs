//! The streams the engine knows, in memory, and their persistence in the storage manifest.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

use crate::limits::{Limits, OnDemandCapacity, ShardLimiter};
use crate::model::{AccountSettings, CatalogData, ShardMeta, StreamMeta, MANIFEST_VERSION};

/// (account id, stream name)
pub type StreamKey = (String, String);

/// A stream, its routing table (open shards sorted by starting hash key), and the
/// throughput limiter of each shard (by position, like `meta.shards`).
pub struct Stream {
    pub meta: StreamMeta,
    routes: Vec<(u128, u128, usize)>,
    limits: Limits,
    limiters: Vec<ShardLimiter>,
    /// On-demand streams (with limits on): the stream-wide write capacity.
    on_demand: Option<OnDemandCapacity>,
    /// On-demand scaling's view of each shard (by position).
    pub heat: Vec<Heat>,
    /// When on-demand scaling last looked at this stream.
    pub last_scale_check: Option<std::time::Instant>,
    /// AUTO distribution: the next record's turn in the round over the open shards.
    auto_turn: AtomicU64,
}

/// How long a shard has been hot or cold, for on-demand scaling.
#[derive(Clone, Copy, Debug, Default)]
pub struct Heat {
    pub hot_checks: u32,
    pub cold_since_ms: Option<u64>,
}

impl Stream {
    pub fn new(meta: StreamMeta, limits: Limits) -> Self {
        let mut stream = Stream {
            meta,
            routes: Vec::new(),
            limits,
            limiters: Vec::new(),
            on_demand: None,
            heat: Vec::new(),
            last_scale_check: None,
            auto_turn: AtomicU64::new(0),
        };
        stream.rebuild_routes();
        stream
    }

    /// The limiter of the shard at `pos` in `meta.shards`.
    pub fn limiter(&self, pos: usize) -> &ShardLimiter {
        &self.limiters[pos]
    }

    /// Lets a write of `bytes` into the shard at `pos` if the limits allow it: an on-demand
    /// stream's own capacity, else the shard's.
    pub fn admit_write(&self, pos: usize, bytes: u64, now: Instant) -> bool {
        match &self.on_demand {
            Some(capacity) => {
                let ok = capacity.admit(bytes, now);
                if ok {
                    self.limiters[pos].count_write(bytes);
                }
                ok
            }
            None => self.limiters[pos].admit_write(bytes, now),
        }
    }

    pub fn on_demand_capacity(&self) -> Option<&OnDemandCapacity> {
        self.on_demand.as_ref()
    }

    /// Recomputes routing after the shard list or mode changed (new shards get a limiter).
    pub fn rebuild_routes(&mut self) {
        while self.limiters.len() < self.meta.shards.len() {
            self.limiters.push(ShardLimiter::new(&self.limits));
        }
        self.heat.resize(self.meta.shards.len(), Heat::default());
        let on_demand = self.meta.mode == crate::model::StreamMode::OnDemand
            && self.limits.write_bytes_per_sec.is_some();
        match (on_demand, self.on_demand.is_some()) {
            (true, false) => {
                self.on_demand = Some(OnDemandCapacity::new(self.meta.on_demand_peak_bytes));
            }
            (false, true) => self.on_demand = None,
            _ => {}
        }
        self.routes = self
            .meta
            .shards
            .iter()
            .enumerate()
            .filter(|(_, s)| s.closed.is_none())
            .map(|(i, s)| {
                let (start, end) = s.hash_range();
                (start, end, i)
            })
            .collect();
        self.routes.sort_unstable_by_key(|r| r.0);
    }

    /// The open shard whose hash range holds `hash_key`, and its position in `meta.shards`.
    pub fn route(&self, hash_key: u128) -> Option<(usize, &ShardMeta)> {
        let i = self.routes.partition_point(|r| r.0 <= hash_key);
        let (_, end, pos) = *self.routes.get(i.checked_sub(1)?)?;
        (hash_key <= end).then(|| (pos, &self.meta.shards[pos]))
    }

    /// AUTO distribution: positions (in `meta.shards`) for `count` records, taking turns over
    /// the open shards so every shard gets the same number of records, give or take one, also
    /// across concurrent calls. With the hash key each is stored under (its shard's first).
    pub fn auto_routes(&self, count: usize) -> impl Iterator<Item = (usize, u128)> + '_ {
        let first = self.auto_turn.fetch_add(count as u64, Ordering::Relaxed);
        let open = self.routes.len().max(1) as u64;
        (0..count as u64).filter_map(move |k| {
            let (start, _, pos) = *self.routes.get(((first + k) % open) as usize)?;
            Some((pos, start))
        })
    }

    pub fn shard(&self, index: u32) -> Option<&ShardMeta> {
        // Shards are stored in index order, index == position.
        self.meta
            .shards
            .get(index as usize)
            .filter(|s| s.index == index && !s.pruned)
    }
}

pub type StreamRef = Arc<RwLock<Stream>>;

pub struct Catalog {
    streams: RwLock<BTreeMap<StreamKey, StreamRef>>,
    limits: Limits,
    pub accounts: RwLock<BTreeMap<String, AccountSettings>>,
    next_partition: AtomicU64,
    pub token_key: [u8; 32],
    /// Serialises manifest writes so a later snapshot is never overwritten by an earlier one.
    persist_lock: Mutex<()>,
}

impl Catalog {
    pub fn from_data(mut data: CatalogData, token_key: [u8; 32], limits: Limits) -> Self {
        let accounts = std::mem::take(&mut data.accounts);
        let streams = data
            .streams
            .into_iter()
            .map(|m| {
                (
                    (m.account.clone(), m.name.clone()),
                    Arc::new(RwLock::new(Stream::new(m, limits.clone()))),
                )
            })
            .collect();
        Catalog {
            streams: RwLock::new(streams),
            limits,
            accounts: RwLock::new(accounts),
            next_partition: AtomicU64::new(data.next_partition),
            token_key,
            persist_lock: Mutex::new(()),
        }
    }

    pub fn get(&self, account: &str, name: &str) -> Option<StreamRef> {
        self.streams
            .read()
            .get(&(account.to_string(), name.to_string()))
            .cloned()
    }

    /// Inserts a stream unless one of that name exists; returns whether it was inserted.
    pub fn insert(&self, meta: StreamMeta) -> bool {
        let key = (meta.account.clone(), meta.name.clone());
        let mut streams = self.streams.write();
        if streams.contains_key(&key) {
            return false;
        }
        streams.insert(
            key,
            Arc::new(RwLock::new(Stream::new(meta, self.limits.clone()))),
        );
        true
    }

    pub fn remove(&self, account: &str, name: &str) -> Option<StreamRef> {
        self.streams
            .write()
            .remove(&(account.to_string(), name.to_string()))
    }

    /// Every stream of an account, in name order, from just after `after` if given.
    pub fn list(&self, account: &str, after: Option<&str>) -> Vec<StreamRef> {
        let streams = self.streams.read();
        streams
            .iter()
            .filter(|((a, n), _)| a == account && after.is_none_or(|x| n.as_str() > x))
            .map(|(_, s)| s.clone())
            .collect()
    }

    pub fn all(&self) -> Vec<StreamRef> {
        self.streams.read().values().cloned().collect()
    }

    pub fn allocate_partition(&self) -> u64 {
        self.next_partition.fetch_add(1, Ordering::Relaxed)
    }

    /// Serialises the catalog for the manifest, with `pending` in place of what the catalog
    /// holds (for a stream whose write lock the caller holds, or one not yet inserted). Call
    /// under the persist lock.
    fn snapshot(&self, pending: Option<Pending<'_>>) -> CatalogData {
        let streams = self.streams.read();
        let mut metas: Vec<StreamMeta> = streams
            .values()
            .filter_map(|s| match pending {
                Some(Pending::Changed(stream, _)) if Arc::ptr_eq(stream, s) => None,
                _ => Some(s.read().meta.clone()),
            })
            .collect();
        match pending {
            Some(Pending::Changed(_, meta)) | Some(Pending::New(meta)) => metas.push(meta.clone()),
            None => {}
        }
        CatalogData {
            version: MANIFEST_VERSION,
            token_key: self.token_key.iter().map(|b| format!("{b:02x}")).collect(),
            next_partition: self.next_partition.load(Ordering::Relaxed),
            streams: metas,
            accounts: self.accounts.read().clone(),
        }
    }

    /// Takes a snapshot and hands it to `write`, one writer at a time.
    pub fn persist_with<E>(
        &self,
        write: impl FnOnce(&CatalogData) -> Result<(), E>,
    ) -> Result<(), E> {
        let _guard = self.persist_lock.lock();
        write(&self.snapshot(None))
    }

    /// Takes the persist lock ahead of a change that must be in the manifest before anyone
    /// can act on it (a new layout of shards, a new data key, a new stream): the caller takes
    /// the stream's write lock after this, never before (the lock order is persist, then
    /// streams), changes the stream, and stores it with [`Persisting::store`] before letting
    /// the stream go.
    pub fn begin_persist(&self) -> Persisting<'_> {
        Persisting {
            catalog: self,
            _guard: self.persist_lock.lock(),
        }
    }
}

/// A stream's state not (yet) visible through the catalog's locks.
#[derive(Clone, Copy)]
enum Pending<'a> {
    /// A stream whose write lock the caller holds, as changed.
    Changed(&'a StreamRef, &'a StreamMeta),
    /// A stream about to be inserted.
    New(&'a StreamMeta),
}

/// The persist lock, held for a change that must reach the manifest first.
pub struct Persisting<'a> {
    catalog: &'a Catalog,
    _guard: parking_lot::MutexGuard<'a, ()>,
}

impl Persisting<'_> {
    /// Stores the manifest with `meta` as `stream`'s metadata (the caller holds its write lock).
    pub fn store_changed<E>(
        &self,
        stream: &StreamRef,
        meta: &StreamMeta,
        write: impl FnOnce(&CatalogData) -> Result<(), E>,
    ) -> Result<(), E> {
        write(&self.catalog.snapshot(Some(Pending::Changed(stream, meta))))
    }

    /// Stores the manifest with a stream that is not in the catalog yet.
    pub fn store_new<E>(
        &self,
        meta: &StreamMeta,
        write: impl FnOnce(&CatalogData) -> Result<(), E>,
    ) -> Result<(), E> {
        write(&self.catalog.snapshot(Some(Pending::New(meta))))
    }
}

pub fn parse_key_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}
