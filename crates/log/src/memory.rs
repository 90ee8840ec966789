//! In-memory storage for throwaway runs (`--in-memory`): same semantics, nothing on disk.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use crate::{Appended, Bounds, Durable, Entry, LogError, PartitionId, Storage};

#[derive(Default)]
pub struct MemoryStorage {
    partitions: RwLock<HashMap<PartitionId, Arc<Mutex<Partition>>>>,
    manifest: Mutex<Option<Vec<u8>>>,
}

struct Partition {
    /// Offset of `entries[0]`.
    start: u64,
    entries: VecDeque<(u64, Bytes)>,
    last_timestamp_ms: Option<u64>,
    visible: watch::Sender<u64>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    fn partition(&self, id: PartitionId) -> Result<Arc<Mutex<Partition>>, LogError> {
        self.partitions
            .read()
            .get(&id)
            .cloned()
            .ok_or(LogError::NoSuchPartition(id))
    }
}

impl Partition {
    fn end(&self) -> u64 {
        self.start + self.entries.len() as u64
    }
}

impl Storage for MemoryStorage {
    fn create_partition(&self, id: PartitionId) -> Result<(), LogError> {
        let mut map = self.partitions.write();
        if map.contains_key(&id) {
            return Err(LogError::PartitionExists(id));
        }
        let (visible, _) = watch::channel(0);
        map.insert(
            id,
            Arc::new(Mutex::new(Partition {
                start: 0,
                entries: VecDeque::new(),
                last_timestamp_ms: None,
                visible,
            })),
        );
        Ok(())
    }

    fn remove_partition(&self, id: PartitionId) -> Result<(), LogError> {
        self.partitions.write().remove(&id);
        Ok(())
    }

    fn partitions(&self) -> Vec<PartitionId> {
        self.partitions.read().keys().copied().collect()
    }

    fn append(
        &self,
        id: PartitionId,
        now_ms: u64,
        payloads: &[&[u8]],
    ) -> Result<Appended, LogError> {
        let partition = self.partition(id)?;
        let mut p = partition.lock();
        let timestamp_ms = p.last_timestamp_ms.map_or(now_ms, |t| t.max(now_ms));
        let first_offset = p.end();
        for payload in payloads {
            p.entries
                .push_back((timestamp_ms, Bytes::copy_from_slice(payload)));
        }
        if !payloads.is_empty() {
            p.last_timestamp_ms = Some(timestamp_ms);
        }
        let end = p.end();
        p.visible.send_replace(end);
        Ok(Appended {
            first_offset,
            timestamp_ms,
            durable: Durable::ready(),
        })
    }

    fn read(
        &self,
        id: PartitionId,
        from: u64,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Vec<Entry>, LogError> {
        let partition = self.partition(id)?;
        let p = partition.lock();
        let first = from.max(p.start);
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let skip = usize::try_from(first - p.start).unwrap_or(usize::MAX);
        for (i, (ts, payload)) in p.entries.iter().enumerate().skip(skip) {
            if out.len() >= max_entries || (!out.is_empty() && bytes + payload.len() > max_bytes) {
                break;
            }
            bytes += payload.len();
            out.push(Entry {
                offset: p.start + i as u64,
                timestamp_ms: *ts,
                payload: payload.clone(),
            });
        }
        Ok(out)
    }

    fn bounds(&self, id: PartitionId) -> Result<Bounds, LogError> {
        let partition = self.partition(id)?;
        let p = partition.lock();
        Ok(Bounds {
            start: p.start,
            end: p.end(),
            last_timestamp_ms: p.entries.back().map(|(ts, _)| *ts),
            appended_end: p.end(),
        })
    }

    fn offset_at_time(&self, id: PartitionId, timestamp_ms: u64) -> Result<u64, LogError> {
        let partition = self.partition(id)?;
        let p = partition.lock();
        let idx = p.entries.partition_point(|(ts, _)| *ts < timestamp_ms);
        Ok(p.start + idx as u64)
    }

    fn trim_before(&self, id: PartitionId, timestamp_ms: u64) -> Result<(), LogError> {
        let partition = self.partition(id)?;
        let mut p = partition.lock();
        while p.entries.front().is_some_and(|(ts, _)| *ts < timestamp_ms) {
            p.entries.pop_front();
            p.start += 1;
        }
        Ok(())
    }

    fn watch(&self, id: PartitionId) -> Result<watch::Receiver<u64>, LogError> {
        Ok(self.partition(id)?.lock().visible.subscribe())
    }

    fn load_manifest(&self) -> Result<Option<Vec<u8>>, LogError> {
        Ok(self.manifest.lock().clone())
    }

    fn store_manifest(&self, bytes: &[u8]) -> Result<(), LogError> {
        *self.manifest.lock() = Some(bytes.to_vec());
        Ok(())
    }
}
