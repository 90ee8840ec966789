//! GetRecords: a sealed iterator is opened (and checked: MAC, age, account, that the shard is
//! still the one it was issued for), the shard's partition read from its offset up to AWS's
//! limits, and the entries decoded into records with the next iterator, or the children at the
//! end of a closed shard.

use std::time::Instant;

use shardline_log::{Entry, LogError};
use shardline_wire::shapes::*;
use shardline_wire::{ApiError, ErrorCode};

use crate::catalog::Stream;
use crate::clock::java_date;
use crate::error::{EngineError, Result};
use crate::iterator_token::ShardIterator;
use crate::limits::rate_exceeded;
use crate::metrics::{self, Enhanced};
use crate::model::{shard_id, ShardMeta};
use crate::{Caller, Engine};

/// GetRecords returns at most this much data a call (AWS: 10 MiB).
pub(crate) const GET_RECORDS_MAX_BYTES: usize = 10 * 1024 * 1024;
const GET_RECORDS_MAX_COUNT: usize = 10_000;

impl Engine {
    /// The stream and shard a shard iterator reads (for fault rules scoped to them); `None`
    /// for a token that is not one of this server's iterators.
    pub fn iterator_target(&self, token: &str) -> Option<(String, String)> {
        let it = ShardIterator::open(&self.sealer, token)?;
        Some((it.stream, shard_id(it.shard_index)))
    }

    pub fn get_records(&self, caller: &Caller, input: GetRecordsInput) -> Result<GetRecordsOutput> {
        let started = Instant::now();
        let now = self.clock.now_ms();
        let token = input.shard_iterator.as_deref().unwrap_or_default();
        let it = ShardIterator::open(&self.sealer, token)
            .filter(|it| it.created_ms <= now + 1000)
            .ok_or_else(|| ApiError::invalid_argument("Invalid ShardIterator."))?;
        if it.account != caller.account_id {
            self.authorize_cross_account(caller, &it.account, &it.stream)?;
        }
        if now - it.created_ms.min(now) > self.config.iterator_ttl_ms {
            return Err(ApiError::new(
                ErrorCode::ExpiredIterator,
                format!(
                    "Iterator expired. The iterator was created at time {} while right now it is {} \
                     which is further in the future than the tolerated delay of {} milliseconds.",
                    java_date(it.created_ms),
                    java_date(now),
                    self.config.iterator_ttl_ms
                ),
            )
            .into());
        }
        let missing = || {
            ApiError::resource_not_found(format!(
                "Shard {} in stream {} under account {} does not exist",
                shard_id(it.shard_index),
                it.stream,
                it.account
            ))
        };
        let stream = self
            .catalog
            .get(&it.account, &it.stream)
            .ok_or_else(missing)?;
        let (shard, children, retention_ms, keys, enhanced) = {
            let s = stream.read();
            let shard = s
                .shard(it.shard_index)
                .filter(|sh| sh.partition == it.partition)
                .ok_or_else(missing)?
                .clone();
            if input.dry_run == Some(true) {
                return Err(ApiError::dry_run().into());
            }
            let enhanced = Enhanced::of(&s.meta.shard_level_metrics);
            if !s.limiter(it.shard_index as usize).admit_read() {
                metrics::read_exceeded(metrics::of(&it.account, &it.stream), &shard.id(), enhanced);
                return Err(ApiError::new(
                    ErrorCode::ProvisionedThroughputExceeded,
                    rate_exceeded(&shard, &it.stream, &it.account),
                )
                .into());
            }
            (
                shard.clone(),
                children_of(&s, &shard),
                s.meta.retention_ms(),
                s.meta.data_keys.clone(),
                enhanced,
            )
        };
        let limit = input.limit.map_or(GET_RECORDS_MAX_COUNT, |l| l as usize);
        // A stream deleted while the call ran loses its partitions under it: the shard is gone.
        let entries = self
            .read_shard(
                &shard,
                it.offset,
                limit,
                GET_RECORDS_MAX_BYTES,
                retention_ms,
                now,
            )
            .map_err(|e| match e {
                EngineError::Storage(LogError::NoSuchPartition(_)) => missing().into(),
                e => e,
            })?;
        let returned: usize = entries.iter().map(|e| e.payload.len()).sum();
        if let Some(s) = self.catalog.get(&it.account, &it.stream) {
            s.read()
                .limiter(it.shard_index as usize)
                .charge_read(returned as u64);
        }
        let next_offset = entries.last().map_or(it.offset, |e| e.offset + 1);
        let millis_behind_latest = self.millis_behind(&shard, &entries, next_offset, now)?;
        let records = self.to_records(&shard, &keys, &entries)?;
        let data_bytes: usize = records
            .iter()
            .map(|r| r.data.len() + r.partition_key.len())
            .sum();
        metrics::get_records(
            metrics::of(&it.account, &it.stream),
            &shard.id(),
            records.len() as u64,
            data_bytes as u64,
            millis_behind_latest,
            started.elapsed(),
            enhanced,
        );
        // At the end of a closed shard: no next iterator, and the children to go on with.
        let at_end = shard
            .closed
            .as_ref()
            .is_some_and(|c| next_offset >= c.end_offset);
        Ok(GetRecordsOutput {
            records,
            next_shard_iterator: (!at_end)
                .then(|| self.iterator(&it.account, &it.stream, &shard, next_offset, now)),
            millis_behind_latest,
            child_shards: at_end.then_some(children),
        })
    }

    /// Reads a shard's records from `from`, skipping any past retention not yet trimmed.
    pub(crate) fn read_shard(
        &self,
        shard: &ShardMeta,
        from: u64,
        limit: usize,
        max_bytes: usize,
        retention_ms: u64,
        now: u64,
    ) -> Result<Vec<Entry>> {
        let cutoff = now.saturating_sub(retention_ms);
        let mut entries = self.storage.read(shard.partition, from, limit, max_bytes)?;
        if entries.first().is_some_and(|e| e.timestamp_ms < cutoff) {
            let from = self.storage.offset_at_time(shard.partition, cutoff)?;
            entries = self.storage.read(shard.partition, from, limit, max_bytes)?;
        }
        Ok(entries)
    }

    /// How far behind the newest record a reader is once it has read up to `next_offset`.
    pub(crate) fn millis_behind(
        &self,
        shard: &ShardMeta,
        entries: &[Entry],
        next_offset: u64,
        now: u64,
    ) -> Result<i64> {
        let bounds = self.storage.bounds(shard.partition)?;
        Ok(match entries.last() {
            Some(last) if next_offset < bounds.end => now.saturating_sub(last.timestamp_ms) as i64,
            _ => 0,
        })
    }
}

pub(crate) fn children_of(s: &Stream, shard: &ShardMeta) -> Vec<ChildShard> {
    s.meta
        .shards
        .iter()
        .filter(|c| c.parent == Some(shard.index) || c.adjacent_parent == Some(shard.index))
        .map(|c| ChildShard {
            shard_id: c.id(),
            parent_shards: c
                .parent
                .into_iter()
                .chain(c.adjacent_parent)
                .map(shard_id)
                .collect(),
            hash_key_range: HashKeyRange {
                starting_hash_key: c.start_hash.clone(),
                ending_hash_key: c.end_hash.clone(),
            },
        })
        .collect()
}
