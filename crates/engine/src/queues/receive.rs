//! ReceiveQueueRecords and ReceiveDeadLetterQueueRecords: up to `Limit` records, waiting up to
//! `WaitTimeSeconds` for one to become visible (woken by appends to the stream's shards, by
//! restores and visibility changes, and by in-flight records timing out).
//!
//! A normal receive first redelivers records whose visibility ran out (turning those received
//! `MaxReceiveCount` times into dead letters instead), then takes new records from the
//! stream's shards, in turns, from each shard's cursor. Records are not returned in the order
//! they were written (AWS makes no promise either).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use shardline_log::Durable;
use shardline_wire::shapes::*;
use shardline_wire::{ApiError, Timestamp};

use super::state::{Pos, Unsettled};
use super::{Handle, QueueRuntime};
use crate::catalog::StreamRef;
use crate::error::Result;
use crate::model::QueueMeta;
use crate::{Caller, Engine};

/// Longest wait between looks at the queue while long polling (resharding, deletion).
const MAX_NAP: Duration = Duration::from_secs(1);
/// Bytes read from a shard per look.
const READ_BYTES: usize = 16 << 20;

struct Attempt {
    records: Vec<QueueRecord>,
    durable: Option<Durable>,
    /// When an invisible record becomes visible next.
    next_visible_ms: Option<u64>,
}

impl Engine {
    pub async fn receive_queue_records(
        &self,
        caller: &Caller,
        input: ReceiveQueueRecordsInput,
        dead: bool,
    ) -> Result<ReceiveQueueRecordsOutput> {
        let arn = input.queue_arn.clone().unwrap_or_default();
        let limit = input.limit.unwrap_or(10).clamp(1, 10) as usize;
        let wait = Duration::from_secs(input.wait_time_seconds.unwrap_or(9).clamp(1, 20) as u64);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let (stream, q) = self.find_queue(caller, &arn)?;
            let status = q.status(self.clock.now_ms());
            if status != "ACTIVE" && status != "UPDATING" {
                return Err(ApiError::resource_not_found(format!(
                    "Queue {arn} is {status}; records are delivered only while it is ACTIVE."
                ))
                .into());
            }
            let rt = self.queue_runtime(&q)?;
            // Listen before looking, so nothing that happens after the look is missed.
            let woken = rt.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let mut watches = self.shard_watches(&stream);
            let visibility_ms = 1000
                * input
                    .visibility_timeout_seconds
                    .map_or(u64::from(q.visibility_timeout_secs), |v| v.max(0) as u64);
            let attempt = self.attempt(&stream, &q, &rt, limit, visibility_ms, dead)?;
            if !attempt.records.is_empty() {
                if let Some(d) = attempt.durable {
                    d.await?;
                }
                return Ok(ReceiveQueueRecordsOutput {
                    queue_records: attempt.records,
                });
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                if let Some(d) = attempt.durable {
                    d.await?;
                }
                return Ok(ReceiveQueueRecordsOutput {
                    queue_records: Vec::new(),
                });
            }
            let mut nap = (deadline - now).min(MAX_NAP);
            if let Some(t) = attempt.next_visible_ms {
                nap = nap.min(Duration::from_millis(
                    t.saturating_sub(self.clock.now_ms()).max(1),
                ));
            }
            let appended = any_changed(&mut watches);
            tokio::select! {
                _ = tokio::time::sleep(nap) => {}
                _ = woken => {}
                _ = appended => {}
            }
        }
    }

    /// Subscriptions to appends on the stream's shards (dead letters wake by time only, but
    /// listening costs little).
    fn shard_watches(&self, stream: &StreamRef) -> Vec<tokio::sync::watch::Receiver<u64>> {
        let s = stream.read();
        s.meta
            .shards
            .iter()
            .filter(|sh| !sh.pruned && sh.closed.is_none())
            .filter_map(|sh| self.storage.watch(sh.partition).ok())
            .collect()
    }

    /// One look at the queue: what can be delivered now, delivered.
    fn attempt(
        &self,
        stream: &StreamRef,
        q: &QueueMeta,
        rt: &Arc<QueueRuntime>,
        limit: usize,
        visibility_ms: u64,
        dead: bool,
    ) -> Result<Attempt> {
        let now = self.clock.now_ms();
        let s = stream.read();
        let horizon = now.saturating_sub(s.meta.retention_ms());
        let mut inner = rt.inner.lock();
        let mut changes = Vec::new();
        if now.saturating_sub(inner.last_expiry_ms) >= 60_000 {
            inner.state.expire(&mut changes, horizon);
            inner.last_expiry_ms = now;
        }
        let mut records = Vec::new();
        let again = if dead {
            // Records received MaxReceiveCount times become dead letters when their visibility
            // runs out, whether or not a normal receive looks.
            if let Some(max) = q.max_receive_count {
                inner.state.visible_normal(&mut changes, now, 0, Some(max));
            }
            inner.state.visible_dead(now, limit)
        } else {
            let max = q.max_receive_count;
            inner.state.visible_normal(&mut changes, now, limit, max)
        };
        for pos in again {
            let Some((shard, keys)) = s
                .shard(pos.0)
                .map(|sh| (sh.clone(), s.meta.data_keys.clone()))
            else {
                inner.state.expire_one(&mut changes, pos);
                continue;
            };
            let entries = self.storage.read(shard.partition, pos.1, 1, usize::MAX)?;
            let Some(entry) = entries.into_iter().next().filter(|e| e.offset == pos.1) else {
                // Trimmed: past retention.
                inner.state.expire_one(&mut changes, pos);
                continue;
            };
            let record = self
                .to_records(&shard, &keys, std::slice::from_ref(&entry))?
                .into_iter()
                .next()
                .ok_or_else(ApiError::internal)?;
            let u = inner
                .state
                .deliver(&mut changes, pos, entry.timestamp_ms, now, visibility_ms);
            records.push(self.queue_record(q, pos, dead, record, u));
        }
        if !dead && records.len() < limit && inner.state.has_room(now) {
            let start_ms = q.start_ms();
            let shards: Vec<_> = s.meta.shards.iter().filter(|sh| !sh.pruned).collect();
            let n = shards.len().max(1);
            inner.turn = inner.turn.wrapping_add(1);
            let first = inner.turn % n;
            for k in 0..shards.len() {
                if records.len() >= limit {
                    break;
                }
                let shard = shards[(first + k) % n];
                let bounds = self.storage.bounds(shard.partition)?;
                let mut cursor = match inner.state.cursor(shard.index) {
                    Some(c) => c,
                    None => self.storage.offset_at_time(shard.partition, start_ms)?,
                }
                .max(bounds.start);
                while records.len() < limit && cursor < bounds.end {
                    let entries = self.storage.read(
                        shard.partition,
                        cursor,
                        limit - records.len(),
                        READ_BYTES,
                    )?;
                    let Some(last) = entries.last() else { break };
                    cursor = last.offset + 1;
                    let fresh: Vec<_> = entries
                        .into_iter()
                        .filter(|e| e.timestamp_ms >= horizon && e.timestamp_ms >= start_ms)
                        .collect();
                    let decoded = self.to_records(shard, &s.meta.data_keys, &fresh)?;
                    for (e, record) in fresh.iter().zip(decoded) {
                        let pos = (shard.index, e.offset);
                        let u = inner.state.deliver(
                            &mut changes,
                            pos,
                            e.timestamp_ms,
                            now,
                            visibility_ms,
                        );
                        records.push(self.queue_record(q, pos, false, record, u));
                    }
                }
                inner.state.advance(&mut changes, shard.index, cursor);
            }
        }
        let next_visible_ms = inner.state.next_visible(dead, now);
        let durable = self.journal(rt, &mut inner, changes)?;
        Ok(Attempt {
            records,
            durable,
            next_visible_ms,
        })
    }

    fn queue_record(
        &self,
        q: &QueueMeta,
        pos: Pos,
        dead: bool,
        record: Record,
        u: Unsettled,
    ) -> QueueRecord {
        QueueRecord {
            receipt_handle: Handle {
                q: q.id.clone(),
                s: pos.0,
                o: pos.1,
                g: u.generation,
                d: dead,
            }
            .seal(&self.sealer),
            record_id: record.sequence_number.to_string(),
            partition_key: record.partition_key.to_string(),
            data: record.data,
            approximate_arrival_timestamp: record.approximate_arrival_timestamp,
            first_receive_timestamp: Timestamp::from_millis(u.first_receive_ms as i64),
            receive_count: i64::from(u.receive_count),
        }
    }
}

/// Resolves when any of the receivers sees a new value (never, if there are none).
fn any_changed(watches: &mut [tokio::sync::watch::Receiver<u64>]) -> impl Future<Output = ()> + '_ {
    let mut pending: Vec<Option<Pin<Box<dyn Future<Output = bool> + Send + '_>>>> = watches
        .iter_mut()
        .map(|w| Some(Box::pin(async move { w.changed().await.is_ok() }) as Pin<Box<_>>))
        .collect();
    std::future::poll_fn(move |cx| {
        for slot in &mut pending {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(true) => return Poll::Ready(()),
                    // The partition went away: nothing more from it.
                    Poll::Ready(false) => *slot = None,
                    Poll::Pending => {}
                }
            }
        }
        Poll::Pending
    })
}
