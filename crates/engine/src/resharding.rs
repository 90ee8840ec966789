//! Resharding: SplitShard, MergeShards, UpdateShardCount. All three are built from two steps
//! on the stream's metadata, done under the stream's write lock so no write can land in a
//! shard after it closes:
//!
//! - split: close an open shard at its current end; two children divide its hash range,
//!   each with `ParentShardId` = the parent;
//! - merge: close two adjacent open shards; one child covers both ranges, with
//!   `ParentShardId` and `AdjacentParentShardId`.
//!
//! UpdateShardCount (uniform scaling) splits every open shard at each boundary of the target
//! layout (`i·⌊2^128/N⌋`) that falls inside it, then merges the pieces inside each target range,
//! so the result is exactly N equal shards and every step has a valid lineage. As on AWS, the
//! short-lived shards in between count towards the shard limit and close at once.

use shardline_wire::shapes::{
    Empty, MergeShardsInput, SplitShardInput, UpdateShardCountInput, UpdateShardCountOutput,
};
use shardline_wire::{ApiError, ErrorCode};

use crate::catalog::{Stream, StreamRef};
use crate::error::Result;
use crate::hashkey::uniform_ranges;
use crate::model::{
    parse_shard_id, shard_id, ClosedShard, PendingReshard, ShardMeta, StreamMode, StreamStatus,
};
use crate::resolve::{not_active, StreamName};
use crate::{Caller, Engine};

/// UpdateShardCount calls allowed per stream in a rolling 24 hours (AWS default).
const SCALINGS_PER_DAY: usize = 10;
const MAX_SHARDS_PER_STREAM: u32 = 10_000;
const DAY_MS: u64 = 86_400_000;

impl Engine {
    pub fn split_shard(&self, caller: &Caller, input: SplitShardInput) -> Result<Empty> {
        let given = input.shard_to_split.clone().unwrap_or_default();
        // A shard id that cannot name a shard is refused before the stream is looked up.
        self.shard_index(caller, &input, &given)?;
        let (n, stream) = self.reshardable(caller, &input, "SplitShard")?;
        let key_text = input.new_starting_hash_key.unwrap_or_default();
        // The limit is checked before taking the stream's write lock: it reads every stream.
        self.check_shard_limit(&n.account, 1)?;
        self.change_durably(&stream, |s| {
            let pos = open_shard(s, &n, &given)?;
            let (start, end) = s.meta.shards[pos].hash_range();
            let key: u128 = key_text.parse().unwrap_or(u128::MAX);
            if !(key > start.saturating_add(1) && key < end) {
                return Err(ApiError::invalid_argument(format!(
                    "NewStartingHashKey {key_text} used in SplitShard() on shard {} in stream {} under account {} is not both greater than one plus the shard's StartingHashKey {start} and less than the shard's EndingHashKey {end}.",
                    s.meta.shards[pos].id(), n.name, n.account
                ))
                .into());
            }
            let now = self.clock.now_ms();
            if self.defer_reshard(s, now, PendingReshard::Split { shard: s.meta.shards[pos].index, key: key.to_string() }) {
                return Ok(());
            }
            self.split(s, pos, key, now)?;
            self.finish_reshard(s, now);
            Ok(())
        })?;
        Ok(Empty {})
    }

    pub fn merge_shards(&self, caller: &Caller, input: MergeShardsInput) -> Result<Empty> {
        let a_id = input.shard_to_merge.clone().unwrap_or_default();
        let b_id = input.adjacent_shard_to_merge.clone().unwrap_or_default();
        self.shard_index(caller, &input, &a_id)?;
        self.shard_index(caller, &input, &b_id)?;
        let (n, stream) = self.reshardable(caller, &input, "MergeShards")?;
        self.change_durably(&stream, |s| {
            let a = open_shard(s, &n, &a_id)?;
            let b = open_shard(s, &n, &b_id)?;
            let (ra, rb) = (s.meta.shards[a].hash_range(), s.meta.shards[b].hash_range());
            // Order matters: the shard to merge must end just below the adjacent one.
            let adjacent = ra.1.checked_add(1) == Some(rb.0);
            if a == b || !adjacent {
                return Err(ApiError::invalid_argument(format!(
                    "Shards {} and {} in stream {} under account {} are not an adjacent pair of shards eligible for merging",
                    s.meta.shards[a].id(), s.meta.shards[b].id(), n.name, n.account
                ))
                .into());
            }
            let now = self.clock.now_ms();
            let pending = PendingReshard::Merge {
                shard: s.meta.shards[a].index,
                adjacent: s.meta.shards[b].index,
            };
            if self.defer_reshard(s, now, pending) {
                return Ok(());
            }
            self.merge(s, a, b, now)?;
            self.finish_reshard(s, now);
            Ok(())
        })?;
        Ok(Empty {})
    }

    pub fn update_shard_count(
        &self,
        caller: &Caller,
        input: UpdateShardCountInput,
    ) -> Result<UpdateShardCountOutput> {
        let (n, stream) = self.reshardable(caller, &input, "UpdateShardCount")?;
        let target = u32::try_from(input.target_shard_count.unwrap_or(1)).unwrap_or(u32::MAX);
        let now = self.clock.now_ms();
        let planned = uniform_plan(&stream.read(), target).new_shards;
        self.check_shard_limit(&n.account, planned)?;
        let (current, arn) = self.change_durably(&stream, |s| {
            let current = s.meta.open_shards().count() as u32;
            let refuse =
                |why: String| -> Result<()> { Err(ApiError::invalid_argument(why).into()) };
            if target > current.saturating_mul(2) {
                refuse(format!("UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: {current} Target shard count: {target}"))?;
            }
            if target.saturating_mul(2) < current {
                refuse(format!("UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: {current} Target shard count: {target}"))?;
            }
            if target > MAX_SHARDS_PER_STREAM {
                refuse(format!("UpdateShardCount cannot scale up to more than {MAX_SHARDS_PER_STREAM} shards in a stream. Target shard count: {target}"))?;
            }
            s.meta
                .scaling_history
                .retain(|t| now.saturating_sub(*t) < DAY_MS);
            if s.meta.scaling_history.len() >= SCALINGS_PER_DAY {
                return Err(ApiError::new(
                    ErrorCode::LimitExceeded,
                    format!("Stream {} under account {} has already been scaled {SCALINGS_PER_DAY} times in the last 24 hours.", n.name, n.account),
                )
                .into());
            }
            let plan = uniform_plan(s, target);
            if target != current || !plan.splits.is_empty() {
                s.meta.scaling_history.push(now);
                if self.defer_reshard(s, now, PendingReshard::Scale { target }) {
                    return Ok((current, s.meta.arn(&self.config.region)));
                }
                self.scale(s, target, now)?;
                self.finish_reshard(s, now);
            }
            Ok((current, s.meta.arn(&self.config.region)))
        })?;
        Ok(UpdateShardCountOutput {
            stream_name: n.name,
            current_shard_count: i64::from(current),
            target_shard_count: i64::from(target),
            stream_arn: arn,
        })
    }

    /// With a non-zero update time, records `pending` to apply when it ends (the stream shows
    /// UPDATING and keeps its shards until then) and returns true; with none, false: the
    /// caller applies the change at once.
    fn defer_reshard(&self, s: &mut Stream, now: u64, pending: PendingReshard) -> bool {
        if self.config.create_delay_ms == 0 {
            return false;
        }
        s.meta.pending_reshard = Some(pending);
        s.meta.updating_until_ms = Some(now + self.config.create_delay_ms);
        true
    }

    /// Applies the reshards whose UPDATING time is over (housekeeping calls this).
    pub(crate) fn apply_pending_reshards(&self) -> Result<()> {
        let now = self.clock.now_ms();
        for stream in self.catalog.all() {
            let due = {
                let s = stream.read();
                s.meta.pending_reshard.is_some()
                    && s.meta.deleted_at_ms.is_none()
                    && s.meta.updating_until_ms.is_none_or(|t| t <= now)
            };
            if !due {
                continue;
            }
            self.change_durably(&stream, |s| {
                let Some(pending) = s.meta.pending_reshard.take() else {
                    return Ok(());
                };
                let open = |s: &Stream, index: u32| {
                    s.meta
                        .shards
                        .iter()
                        .position(|sh| sh.index == index && sh.closed.is_none())
                };
                // Nothing else reshards an UPDATING stream, so the shards named are still
                // open; a change that no longer fits is dropped rather than half applied.
                match pending {
                    PendingReshard::Split { shard, key } => {
                        if let (Some(pos), Ok(key)) = (open(s, shard), key.parse::<u128>()) {
                            self.split(s, pos, key, now)?;
                        }
                    }
                    PendingReshard::Merge { shard, adjacent } => {
                        if let (Some(a), Some(b)) = (open(s, shard), open(s, adjacent)) {
                            self.merge(s, a, b, now)?;
                        }
                    }
                    PendingReshard::Scale { target } => self.scale(s, target, now)?,
                }
                s.meta.updating_until_ms = None;
                s.rebuild_routes();
                Ok(())
            })?;
        }
        Ok(())
    }

    /// UpdateShardCount's uniform scaling to `target` open shards.
    fn scale(&self, s: &mut Stream, target: u32, now: u64) -> Result<()> {
        let plan = uniform_plan(s, target);
        {
            {
                for (index, key) in plan.splits {
                    let pos = s
                        .meta
                        .shards
                        .iter()
                        .position(|sh| sh.index == index)
                        .unwrap_or(0);
                    self.split(s, pos, key, now)?;
                }
                for group in plan_merges(s, target) {
                    let mut acc = group[0];
                    for &next in &group[1..] {
                        let a = s
                            .meta
                            .shards
                            .iter()
                            .position(|sh| sh.index == acc)
                            .unwrap_or(0);
                        let b = s
                            .meta
                            .shards
                            .iter()
                            .position(|sh| sh.index == next)
                            .unwrap_or(0);
                        let child = self.merge(s, a, b, now)?;
                        acc = s
                            .meta
                            .shards
                            .iter()
                            .find(|sh| sh.partition == child)
                            .map_or(acc, |sh| sh.index);
                    }
                }
            }
        }
        Ok(())
    }

    /// The stream of a resharding request: ACTIVE and provisioned.
    /// The index a SplitShard or MergeShards shard id names, or AWS's "Could not find shard"
    /// with the id as given (before, and whether or not, the stream exists).
    fn shard_index(
        &self,
        caller: &Caller,
        input: &impl shardline_wire::shapes::NamesStream,
        given: &str,
    ) -> Result<u32> {
        match parse_shard_id(given) {
            Some(index) => Ok(index),
            None => {
                let n = self.stream_name(caller, input)?;
                Err(ApiError::resource_not_found(format!(
                    "Could not find shard {given} in stream {} under account {}.",
                    n.name, n.account
                ))
                .into())
            }
        }
    }

    fn reshardable(
        &self,
        caller: &Caller,
        input: &impl shardline_wire::shapes::NamesStream,
        op: &str,
    ) -> Result<(StreamName, StreamRef)> {
        let (n, stream) = self.find_stream(caller, input)?;
        let now = self.clock.now_ms();
        {
            let s = stream.read();
            let status = s.meta.status(now);
            if status != StreamStatus::Active {
                return Err(not_active(&n.account, &n.name, status).into());
            }
            if s.meta.mode == StreamMode::OnDemand {
                return Err(ApiError::new(
                    ErrorCode::Validation,
                    format!("{op} is not supported for stream {} under account {} because it is in ON_DEMAND mode.", n.name, n.account),
                )
                .into());
            }
        }
        Ok((n, stream))
    }

    /// Closes the shard at `pos` where its writes end now.
    fn close(&self, s: &mut Stream, pos: usize, now: u64) -> Result<()> {
        let end_offset = self
            .storage
            .bounds(s.meta.shards[pos].partition)?
            .appended_end;
        s.meta.shards[pos].closed = Some(ClosedShard {
            end_offset,
            closed_ms: now,
        });
        self.wake_subscriptions(&s.meta.account, &s.meta.name, s.meta.shards[pos].index);
        Ok(())
    }

    /// A new open shard; its partition is created at once, because a later step of the same
    /// UpdateShardCount may close it again. (A crash before the manifest is written leaves
    /// only orphan partitions, removed at the next start.)
    fn new_shard(
        &self,
        s: &Stream,
        range: (u128, u128),
        parent: u32,
        adjacent: Option<u32>,
        now: u64,
    ) -> Result<ShardMeta> {
        let partition = self.catalog.allocate_partition();
        self.storage.create_partition(partition)?;
        Ok(ShardMeta {
            index: s.meta.shards.len() as u32,
            partition,
            start_hash: range.0.to_string(),
            end_hash: range.1.to_string(),
            parent: Some(parent),
            adjacent_parent: adjacent,
            created_ms: now,
            closed: None,
            pruned: false,
        })
    }

    /// Splits the open shard at `pos` so the second child starts at `key`.
    fn split(&self, s: &mut Stream, pos: usize, key: u128, now: u64) -> Result<()> {
        let (start, end) = s.meta.shards[pos].hash_range();
        let parent = s.meta.shards[pos].index;
        self.close(s, pos, now)?;
        let a = self.new_shard(s, (start, key - 1), parent, None, now)?;
        s.meta.shards.push(a);
        let b = self.new_shard(s, (key, end), parent, None, now)?;
        s.meta.shards.push(b);
        Ok(())
    }

    /// Merges two adjacent open shards; returns the child's partition.
    fn merge(&self, s: &mut Stream, a: usize, b: usize, now: u64) -> Result<u64> {
        let (ra, rb) = (s.meta.shards[a].hash_range(), s.meta.shards[b].hash_range());
        let range = (ra.0.min(rb.0), ra.1.max(rb.1));
        let (pa, pb) = (s.meta.shards[a].index, s.meta.shards[b].index);
        self.close(s, a, now)?;
        self.close(s, b, now)?;
        let child = self.new_shard(s, range, pa, Some(pb), now)?;
        let partition = child.partition;
        s.meta.shards.push(child);
        Ok(partition)
    }

    fn finish_reshard(&self, s: &mut Stream, now: u64) {
        s.meta.updating_until_ms = Some(now + self.config.create_delay_ms);
        s.rebuild_routes();
    }
}

/// Finds an open shard of the stream by id, with AWS's messages when it is missing or closed.
fn open_shard(s: &Stream, n: &StreamName, given: &str) -> Result<usize> {
    let missing = |id: &str| {
        ApiError::resource_not_found(format!(
            "Could not find shard {id} in stream {} under account {}.",
            n.name, n.account
        ))
    };
    let index = parse_shard_id(given).ok_or_else(|| missing(given))?;
    // A valid id is named in AWS's normal form, `shardId-5` as `shardId-000000000005`.
    let pos = s
        .meta
        .shards
        .iter()
        .position(|sh| sh.index == index)
        .ok_or_else(|| missing(&shard_id(index)))?;
    if s.meta.shards[pos].closed.is_some() {
        return Err(ApiError::invalid_argument(format!(
            "Shard {} in stream {} under account {} has already been merged or split, and thus is not eligible for merging or splitting.",
            s.meta.shards[pos].id(),
            n.name,
            n.account
        ))
        .into());
    }
    Ok(pos)
}

struct UniformPlan {
    /// (shard index, split key) for every target boundary strictly inside an open shard.
    splits: Vec<(u32, u128)>,
    /// Shards that will be created, short-lived ones included.
    new_shards: u32,
}

fn uniform_plan(s: &Stream, target: u32) -> UniformPlan {
    let boundaries: Vec<u128> = uniform_ranges(target).iter().skip(1).map(|r| r.0).collect();
    let mut splits = Vec::new();
    let mut pieces = 0u32;
    for sh in s.meta.open_shards() {
        let (start, end) = sh.hash_range();
        let inside: Vec<u128> = boundaries
            .iter()
            .copied()
            .filter(|b| *b > start && *b <= end)
            .collect();
        pieces += inside.len() as u32 + 1;
        // Splitting one shard at several keys: split at the first, then the upper child at
        // the next, and so on; recorded as (index of the shard split, key).
        let mut index = sh.index;
        let mut next_index = s.meta.shards.len() as u32 + 2 * splits.len() as u32;
        for key in inside {
            splits.push((index, key));
            index = next_index + 1; // the upper child
            next_index += 2;
        }
    }
    let merges = pieces.saturating_sub(target);
    UniformPlan {
        new_shards: 2 * splits.len() as u32 + merges,
        splits,
    }
}

/// After the splits, the open shards inside each target range, in hash order, to merge.
fn plan_merges(s: &Stream, target: u32) -> Vec<Vec<u32>> {
    let mut open: Vec<&ShardMeta> = s.meta.open_shards().collect();
    open.sort_by_key(|sh| sh.hash_range().0);
    uniform_ranges(target)
        .into_iter()
        .map(|(start, end)| {
            open.iter()
                .filter(|sh| {
                    let (a, b) = sh.hash_range();
                    a >= start && b <= end
                })
                .map(|sh| sh.index)
                .collect::<Vec<u32>>()
        })
        .filter(|group| group.len() > 1)
        .collect()
}

/// A shard writing this much (per second) counts as hot: 80% of a shard's write limits.
const HOT_BYTES_PER_SEC: f64 = 0.8 * 1024.0 * 1024.0;
const HOT_RECORDS_PER_SEC: f64 = 800.0;
/// A shard hot this many checks in a row is split.
const HOT_CHECKS: u32 = 2;
/// Below this (5% of the limits) a shard counts as cold.
const COLD_BYTES_PER_SEC: f64 = 0.05 * 1024.0 * 1024.0;
const COLD_RECORDS_PER_SEC: f64 = 50.0;

/// What on-demand scaling decided for a stream (shard positions).
#[derive(Clone, Copy)]
enum Scaling {
    /// Split the shard at this key.
    Split(usize, u128),
    /// Merge these two adjacent shards.
    Merge(usize, usize),
}

impl Engine {
    /// On-demand scaling, run by housekeeping: a shard of an on-demand stream that stays near
    /// its write limits is split in two; two adjacent shards that have both been cold for the
    /// cool-down are merged back, never below the starting shard count. At most one reshard
    /// per stream per check. The stream's write capacity follows its observed peak.
    pub(crate) fn autoscale(&self) -> Result<()> {
        let now = self.clock.now_ms();
        let mut changed = false;
        for stream in self.catalog.all() {
            let mut s = stream.write();
            let checked = std::time::Instant::now();
            let last = s.last_scale_check.replace(checked);
            let mut open: Vec<usize> = (0..s.meta.shards.len())
                .filter(|&p| s.meta.shards[p].closed.is_none())
                .collect();
            open.sort_by_key(|&p| s.meta.shards[p].hash_range().0);
            let taken: Vec<(usize, u64, u64)> = open
                .iter()
                .map(|&p| {
                    let (bytes, records) = s.limiter(p).take_written();
                    (p, bytes, records)
                })
                .collect();
            if s.meta.mode != StreamMode::OnDemand || s.meta.status(now) != StreamStatus::Active {
                continue;
            }
            let Some(last) = last else { continue };
            let secs = checked.duration_since(last).as_secs_f64();
            if secs < 0.05 {
                continue;
            }
            let total: u64 = taken.iter().map(|t| t.1).sum();
            let peak = (total as f64 / secs) as u64;
            if peak > s.meta.on_demand_peak_bytes {
                s.meta.on_demand_peak_bytes = peak;
                if let Some(c) = s.on_demand_capacity() {
                    c.observe_peak(peak);
                }
                changed = true;
            }
            let mut hot = None;
            for &(pos, bytes, records) in &taken {
                let (b, r) = (bytes as f64 / secs, records as f64 / secs);
                let heat = &mut s.heat[pos];
                if b >= HOT_BYTES_PER_SEC || r >= HOT_RECORDS_PER_SEC {
                    heat.hot_checks += 1;
                    heat.cold_since_ms = None;
                } else {
                    heat.hot_checks = 0;
                    if b < COLD_BYTES_PER_SEC && r < COLD_RECORDS_PER_SEC {
                        heat.cold_since_ms.get_or_insert(now);
                    } else {
                        heat.cold_since_ms = None;
                    }
                }
                if heat.hot_checks >= HOT_CHECKS && hot.is_none() {
                    hot = Some(pos);
                }
            }
            let action = if let Some(pos) = hot {
                let (start, end) = s.meta.shards[pos].hash_range();
                (end > start).then(|| Scaling::Split(pos, start + (end - start) / 2 + 1))
            } else if open.len() > self.config.on_demand_shards as usize {
                let cooled = |p: usize| {
                    s.heat[p]
                        .cold_since_ms
                        .is_some_and(|t| now.saturating_sub(t) >= self.config.on_demand_cooldown_ms)
                };
                open.windows(2)
                    .find(|w| cooled(w[0]) && cooled(w[1]))
                    .map(|pair| Scaling::Merge(pair[0], pair[1]))
            } else {
                None
            };
            drop(s);
            // The new layout is in the manifest before any write can reach it.
            if let Some(action) = action {
                self.change_durably(&stream, |s| {
                    let still_open =
                        |p: usize| s.meta.shards.get(p).is_some_and(|sh| sh.closed.is_none());
                    match action {
                        Scaling::Split(pos, key) if still_open(pos) => {
                            tracing::info!(
                                stream = s.meta.name,
                                shard = s.meta.shards[pos].id(),
                                "on-demand scaling splits a hot shard"
                            );
                            self.split(s, pos, key, now)?;
                        }
                        Scaling::Merge(a, b) if still_open(a) && still_open(b) => {
                            tracing::info!(
                                stream = s.meta.name,
                                "on-demand scaling merges two cold shards"
                            );
                            self.merge(s, a, b, now)?;
                        }
                        _ => return Ok(()),
                    }
                    self.finish_reshard(s, now);
                    Ok(())
                })?;
            }
        }
        if changed {
            self.persist()?;
        }
        Ok(())
    }
}
