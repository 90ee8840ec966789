//! Queues: SQS-style consumption of a stream (CreateQueue … RestoreDeadLetterQueueRecords).
//!
//! A queue's configuration is part of its stream's metadata ([`crate::model::QueueMeta`], in
//! the manifest). Its delivery state ([`state::DeliveryState`]: per-shard cursors and the
//! unsettled records) lives in memory and is journaled, change by change, to a partition of
//! its own in the same storage as the stream; every reply waits until its changes are durable,
//! so acknowledgements and receipt handles survive a crash. The journal is compacted with
//! snapshots: every [`SNAPSHOT_EVERY`] journal entries the whole state is written again and the
//! journal before the previous snapshot is trimmed.
//!
//! - `control.rs`: CreateQueue, DescribeQueue, ListQueues, UpdateQueue, DeleteQueue.
//! - `receive.rs`: ReceiveQueueRecords and ReceiveDeadLetterQueueRecords (long polling).
//! - `entries.rs`: acknowledging, visibility changes and restores by receipt handle.

mod control;
mod entries;
mod receive;
pub(crate) mod state;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use shardline_log::{Durable, Storage};
use shardline_wire::ApiError;

use crate::catalog::StreamRef;
use crate::error::Result;
use crate::model::QueueMeta;
use crate::seal::Sealer;
use crate::{Caller, Engine};
use state::{Change, DeliveryState};

pub(crate) use control::registered;
pub use entries::EntryOp;

/// Journal entries between snapshots.
const SNAPSHOT_EVERY: u64 = 20_000;
/// Changes per snapshot entry.
const SNAPSHOT_CHUNK: usize = 10_000;

/// One journal entry: changes, or one part of a snapshot.
#[derive(Serialize, Deserialize)]
struct JournalEntry {
    /// `(epoch, part, parts)` for snapshot entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snap: Option<(u64, u32, u32)>,
    changes: Vec<Change>,
}

/// A queue's delivery state in memory, and what wakes its long polls.
pub(crate) struct QueueRuntime {
    journal: u64,
    inner: Mutex<Inner>,
    /// Notified when records become visible other than by arriving in the stream (restores,
    /// visibility set to 0).
    wake: tokio::sync::Notify,
}

struct Inner {
    state: DeliveryState,
    /// Journal entries written since the last snapshot.
    since_snapshot: u64,
    epoch: u64,
    /// Timestamp of the last snapshot: the journal before it may go at the next one.
    last_snapshot_ms: Option<u64>,
    last_expiry_ms: u64,
    /// Rotates the shard new records are first looked for on.
    turn: usize,
}

/// The queues' runtimes, by queue id, loaded from their journals on first use.
#[derive(Default)]
pub(crate) struct Registry {
    queues: Mutex<HashMap<String, Arc<QueueRuntime>>>,
}

impl Registry {
    pub(crate) fn forget(&self, id: &str) {
        self.queues.lock().remove(id);
    }
}

/// What a receipt handle carries (sealed, so clients cannot forge one).
#[derive(Serialize, Deserialize)]
struct Handle {
    q: String,
    s: u32,
    o: u64,
    g: u64,
    d: bool,
}

impl Handle {
    fn seal(&self, sealer: &Sealer) -> String {
        sealer.seal(&serde_json::to_vec(self).unwrap_or_default())
    }

    fn open(sealer: &Sealer, text: &str) -> Option<Handle> {
        sealer
            .open(text)
            .and_then(|b| serde_json::from_slice(&b).ok())
    }
}

/// `arn:aws…:kinesis:<region>:<account>:queue/<id>` → (account, id).
fn parse_queue_arn(arn: &str) -> Option<(&str, &str)> {
    let (head, id) = arn.split_once(":queue/")?;
    let account = head.rsplit(':').next()?;
    (!id.is_empty() && account.len() == 12).then_some((account, id))
}

fn queue_not_found(arn: &str) -> ApiError {
    ApiError::resource_not_found(format!("Queue {arn} not found."))
}

impl Engine {
    /// The stream and queue a queue ARN names (DELETING queues included).
    pub(crate) fn find_queue(&self, caller: &Caller, arn: &str) -> Result<(StreamRef, QueueMeta)> {
        let (account, id) = parse_queue_arn(arn).ok_or_else(|| queue_not_found(arn))?;
        if account != caller.account_id {
            return Err(queue_not_found(arn).into());
        }
        for stream in self.catalog.list(account, None) {
            let found = stream
                .read()
                .meta
                .queues
                .iter()
                .find(|q| q.id == id)
                .cloned();
            if let Some(q) = found {
                return Ok((stream, q));
            }
        }
        Err(queue_not_found(arn).into())
    }

    /// A queue's runtime, replaying its journal the first time.
    pub(crate) fn queue_runtime(&self, q: &QueueMeta) -> Result<Arc<QueueRuntime>> {
        let mut queues = self.queues.queues.lock();
        if let Some(rt) = queues.get(&q.id) {
            return Ok(rt.clone());
        }
        let (state, entries) = replay(&*self.storage, q.journal)?;
        let rt = Arc::new(QueueRuntime {
            journal: q.journal,
            inner: Mutex::new(Inner {
                state,
                since_snapshot: entries,
                epoch: 0,
                last_snapshot_ms: None,
                last_expiry_ms: 0,
                turn: 0,
            }),
            wake: tokio::sync::Notify::new(),
        });
        queues.insert(q.id.clone(), rt.clone());
        Ok(rt)
    }

    /// Journals changes (and a snapshot when one is due); the returned future resolves once
    /// they are durable.
    fn journal(
        &self,
        rt: &QueueRuntime,
        inner: &mut Inner,
        changes: Vec<Change>,
    ) -> Result<Option<Durable>> {
        if changes.is_empty() {
            return Ok(None);
        }
        let now = self.clock.now_ms();
        let entry = serde_json::to_vec(&JournalEntry {
            snap: None,
            changes,
        })
        .map_err(|e| crate::EngineError::Metadata(e.to_string()))?;
        let appended = self.storage.append(rt.journal, now, &[&entry])?;
        inner.since_snapshot += 1;
        if inner.since_snapshot < SNAPSHOT_EVERY {
            return Ok(Some(appended.durable));
        }
        // Compaction: the whole state again, then the journal before the previous snapshot
        // goes (that snapshot is durable: entries after it have been awaited since).
        inner.epoch += 1;
        let chunks = inner.state.snapshot(SNAPSHOT_CHUNK);
        let parts = chunks.len() as u32;
        let encoded: Vec<Vec<u8>> = chunks
            .into_iter()
            .enumerate()
            .map(|(i, changes)| {
                serde_json::to_vec(&JournalEntry {
                    snap: Some((inner.epoch, i as u32, parts)),
                    changes,
                })
                .unwrap_or_default()
            })
            .collect();
        let refs: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        let snap = self.storage.append(rt.journal, now, &refs)?;
        if let Some(before) = inner.last_snapshot_ms.replace(snap.timestamp_ms) {
            self.storage.trim_before(rt.journal, before)?;
        }
        inner.since_snapshot = 0;
        Ok(Some(snap.durable))
    }
}

/// Rebuilds a queue's state from its journal: the last complete snapshot, then every change
/// after it. Also returns how many entries were read.
fn replay(storage: &dyn Storage, journal: u64) -> Result<(DeliveryState, u64)> {
    let bounds = storage.bounds(journal)?;
    let mut state = DeliveryState::default();
    let mut pending: Option<(u64, DeliveryState)> = None;
    let mut from = bounds.start;
    let mut count = 0u64;
    while from < bounds.end {
        let entries = storage.read(journal, from, 10_000, 64 << 20)?;
        let Some(last) = entries.last() else { break };
        from = last.offset + 1;
        for e in &entries {
            count += 1;
            let Ok(entry) = serde_json::from_slice::<JournalEntry>(&e.payload) else {
                return Err(crate::EngineError::Metadata(format!(
                    "unreadable queue journal entry {} of partition {journal}",
                    e.offset
                )));
            };
            match entry.snap {
                None => {
                    for c in &entry.changes {
                        state.apply(c);
                    }
                }
                Some((epoch, part, parts)) => {
                    if part == 0 {
                        pending = Some((epoch, DeliveryState::default()));
                    } else if pending.as_ref().is_some_and(|(e, _)| *e != epoch) {
                        // A part without its beginning: not a snapshot to rebuild from.
                        pending = None;
                    }
                    if let Some((_, building)) = pending.as_mut() {
                        for c in &entry.changes {
                            building.apply(c);
                        }
                    }
                    if part + 1 == parts {
                        if let Some((_, complete)) = pending.take() {
                            state = complete;
                        }
                    }
                }
            }
        }
    }
    Ok((state, count))
}
