//! SubscribeToShard sessions (enhanced fan-out): starting a session with AWS's takeover rule,
//! and building its events. The server owns the clock of a session (heartbeats, its 5-minute
//! life) and writes the events; the engine decides what they contain.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use shardline_wire::shapes::{ChildShard, SubscribeToShardEvent, SubscribeToShardInput};
use shardline_wire::{ApiError, ErrorCode};
use tokio::sync::{watch, Notify};

use crate::error::Result;
use crate::get_records::children_of;
use crate::metrics;
use crate::model::{parse_shard_id, shard_id, ShardMeta};
use crate::resolve::{parse_consumer_arn, StreamName};
use crate::{Caller, Engine};

/// A second subscription for the same consumer and shard within this time is refused;
/// after it, the new one takes over (AWS: 5 seconds).
const TAKEOVER_AFTER_MS: u64 = 5_000;
const EVENT_MAX_RECORDS: usize = 10_000;
const EVENT_MAX_BYTES: usize = 2 * 1024 * 1024;

/// (consumer ARN, shard index)
type SlotKey = (String, u32);

struct Slot {
    id: u64,
    consumer: String,
    /// (account, stream name) of the subscribed shard.
    stream: (String, String),
    started_ms: u64,
    end: watch::Sender<Option<ApiError>>,
    wake: Arc<Notify>,
}

/// The live sessions, so a new subscription can find (and end) the one it replaces.
#[derive(Default)]
pub struct Subscriptions {
    slots: Mutex<HashMap<SlotKey, Slot>>,
    /// When each consumer last subscribed to each shard (for the 1 call/s limit).
    last_call: Mutex<HashMap<SlotKey, u64>>,
    next_id: AtomicU64,
}

/// One live SubscribeToShard session.
pub struct Subscription {
    registry: Arc<Subscriptions>,
    key: SlotKey,
    id: u64,
    stream: StreamName,
    shard_index: u32,
    partition: u64,
    next_offset: u64,
    /// Wakes when new records become visible in the shard.
    pub visible: watch::Receiver<u64>,
    /// Becomes `Some(error)` when the session must end with that error event.
    pub ended: watch::Receiver<Option<ApiError>>,
    /// Notified when the shard closes (resharding), so its last event goes out at once.
    pub woken: Arc<Notify>,
    /// The last step left records behind it (the event was full): the next one is due at
    /// once, not at the next append or heartbeat.
    pub backlog: bool,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut slots = self.registry.slots.lock();
        if slots.get(&self.key).is_some_and(|s| s.id == self.id) {
            slots.remove(&self.key);
        }
    }
}

/// What a session sends next.
pub enum Step {
    /// Records (possibly none, as a heartbeat) and the position to resume after.
    Event(SubscribeToShardEvent),
    /// The last event: the end of a closed shard, with its children.
    End(SubscribeToShardEvent),
}

impl Engine {
    pub fn subscribe_to_shard(
        &self,
        caller: &Caller,
        input: SubscribeToShardInput,
    ) -> Result<Subscription> {
        let now = self.clock.now_ms();
        let consumer_arn = input.consumer_arn.unwrap_or_default();
        let missing_consumer =
            || ApiError::resource_not_found(format!("Consumer {consumer_arn} not found."));
        let (stream_arn, consumer_name, created) =
            parse_consumer_arn(&consumer_arn).ok_or_else(missing_consumer)?;
        let (n, stream) = self
            .find_stream(caller, &StreamArnOnly(stream_arn))
            .map_err(|_| missing_consumer())?;
        let given_id = input.shard_id.unwrap_or_default();
        let index = parse_shard_id(&given_id);
        let (shard, retention_ms) = {
            let s = stream.read();
            let consumer = s
                .meta
                .consumers
                .iter()
                .find(|c| c.name == consumer_name && c.created_ms / 1000 == created)
                .ok_or_else(missing_consumer)?;
            if consumer.status(now) != "ACTIVE" {
                return Err(ApiError::resource_in_use(format!(
                    "Consumer {consumer_arn} is not ACTIVE, instead in state {}.",
                    consumer.status(now)
                ))
                .into());
            }
            let shard = index.and_then(|i| s.shard(i)).cloned().ok_or_else(|| {
                ApiError::resource_not_found(format!(
                    "Shard {given_id} in stream {} under account {} does not exist",
                    n.name, n.account
                ))
            })?;
            (shard, s.meta.retention_ms())
        };
        let position = input.starting_position.unwrap_or_default();
        let next_offset = self.starting_offset(
            &n,
            &shard,
            retention_ms,
            position.position_type.as_deref().unwrap_or_default(),
            position.sequence_number.as_deref(),
            position.timestamp,
            now,
        )?;
        if input.dry_run == Some(true) {
            return Err(ApiError::dry_run().into());
        }
        let visible = self.storage.watch(shard.partition)?;

        let key = (consumer_arn.clone(), shard.index);
        let registry = self.subscriptions.clone();
        let id = registry.next_id.fetch_add(1, Ordering::Relaxed);
        let (end, ended) = watch::channel(None);
        let woken = Arc::new(Notify::new());
        {
            let mut slots = registry.slots.lock();
            if let Some(old) = slots.get(&key) {
                if now.saturating_sub(old.started_ms) < TAKEOVER_AFTER_MS {
                    return Err(ApiError::resource_in_use(format!(
                        "Another active subscription exists for consumer {consumer_arn} on shard {}.",
                        shard.id()
                    ))
                    .into());
                }
            }
            // AWS's rate of one call a second per consumer and shard, checked after the
            // 5-second rule so a live session is reported as in use.
            if self.config.limits.control_plane {
                let mut last = self.subscriptions.last_call.lock();
                if last
                    .get(&key)
                    .is_some_and(|t| now.saturating_sub(*t) < 1000)
                {
                    return Err(ApiError::new(
                        ErrorCode::LimitExceeded,
                        format!(
                            "Rate exceeded for consumer {consumer_arn} and shard {}: at most one SubscribeToShard call a second.",
                            shard.id()
                        ),
                    )
                    .into());
                }
                last.insert(key.clone(), now);
            }
            if let Some(old) = slots.get(&key) {
                // The newcomer takes over; the old session ends with an exception event.
                old.end.send_replace(Some(ApiError::resource_in_use(format!(
                    "Another subscription for consumer {consumer_arn} on shard {} took over this one.",
                    shard.id()
                ))));
            }
            slots.insert(
                key.clone(),
                Slot {
                    id,
                    consumer: consumer_name.to_string(),
                    stream: (n.account.clone(), n.name.clone()),
                    started_ms: now,
                    end,
                    wake: woken.clone(),
                },
            );
        }
        metrics::subscribe(metrics::of(&n.account, &n.name), true, false);
        Ok(Subscription {
            registry,
            key,
            id,
            stream: n,
            shard_index: shard.index,
            partition: shard.partition,
            next_offset,
            visible,
            ended,
            woken,
            backlog: false,
        })
    }

    /// The session's next event: the records after its position (possibly none). At the end
    /// of a closed shard, the final event with the shard's children.
    pub fn subscription_step(&self, sub: &mut Subscription) -> Result<Step> {
        let now = self.clock.now_ms();
        let gone = || {
            ApiError::resource_not_found(format!(
                "Shard {} in stream {} under account {} does not exist",
                shard_id(sub.shard_index),
                sub.stream.name,
                sub.stream.account
            ))
        };
        let stream = self
            .catalog
            .get(&sub.stream.account, &sub.stream.name)
            .ok_or_else(gone)?;
        let (shard, children, retention_ms, keys, enhanced): (
            ShardMeta,
            Vec<ChildShard>,
            u64,
            _,
            _,
        ) = {
            let s = stream.read();
            let shard = s
                .shard(sub.shard_index)
                .filter(|sh| sh.partition == sub.partition)
                .ok_or_else(gone)?
                .clone();
            let children = children_of(&s, &shard);
            (
                shard,
                children,
                s.meta.retention_ms(),
                s.meta.data_keys.clone(),
                metrics::Enhanced::of(&s.meta.shard_level_metrics),
            )
        };
        let entries = self.read_shard(
            &shard,
            sub.next_offset,
            EVENT_MAX_RECORDS,
            EVENT_MAX_BYTES,
            retention_ms,
            now,
        )?;
        if let Some(last) = entries.last() {
            sub.next_offset = last.offset + 1;
        }
        sub.backlog = !entries.is_empty()
            && self
                .storage
                .bounds(shard.partition)
                .is_ok_and(|b| sub.next_offset < b.end);
        let millis_behind_latest = self.millis_behind(&shard, &entries, sub.next_offset, now)?;
        let records = self.to_records(&shard, &keys, &entries)?;
        let bytes: usize = records
            .iter()
            .map(|r| r.data.len() + r.partition_key.len())
            .sum();
        metrics::subscribe_event(
            metrics::of(&sub.stream.account, &sub.stream.name),
            &shard.id(),
            records.len() as u64,
            bytes as u64,
            millis_behind_latest,
            enhanced,
        );
        let at_end = shard
            .closed
            .as_ref()
            .is_some_and(|c| sub.next_offset >= c.end_offset);
        let mut event = SubscribeToShardEvent {
            records,
            continuation_sequence_number: None,
            millis_behind_latest,
            child_shards: None,
        };
        if at_end {
            event.child_shards = Some(children);
            return Ok(Step::End(event));
        }
        // Resuming AFTER this number reads the first record not yet delivered.
        event.continuation_sequence_number = Some(shard.number_before(sub.next_offset, now));
        Ok(Step::Event(event))
    }

    /// Push throughput allowed per subscription, in bytes a second (None: unlimited).
    pub fn subscription_push_rate(&self) -> Option<u64> {
        self.config.limits.subscribe_bytes_per_sec
    }

    /// Wakes the sessions reading a shard that just closed.
    pub(crate) fn wake_subscriptions(&self, account: &str, stream: &str, shard_index: u32) {
        let slots = self.subscriptions.slots.lock();
        for ((_, index), slot) in slots.iter() {
            if *index == shard_index && slot.stream.0 == account && slot.stream.1 == stream {
                // A stored permit, so a session busy elsewhere still sees it.
                slot.wake.notify_one();
            }
        }
    }

    /// Ends every session of a consumer of a stream (it was deregistered).
    pub(crate) fn end_subscriptions_of(&self, account: &str, stream: &str, consumer_name: &str) {
        let slots = self.subscriptions.slots.lock();
        for slot in slots.values().filter(|s| {
            s.consumer == consumer_name && s.stream.0 == account && s.stream.1 == stream
        }) {
            slot.end.send_replace(Some(ApiError::new(
                ErrorCode::ResourceNotFound,
                format!("Consumer {consumer_name} was deregistered."),
            )));
        }
    }
}

struct StreamArnOnly<'a>(&'a str);

impl shardline_wire::shapes::NamesStream for StreamArnOnly<'_> {
    fn stream_name(&self) -> Option<&str> {
        None
    }
    fn stream_arn(&self) -> Option<&str> {
        Some(self.0)
    }
}
