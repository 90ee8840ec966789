//! Control-plane operations: creating, deleting, describing and listing streams and shards.

use shardline_wire::shapes::*;
use shardline_wire::{ApiError, ErrorCode, Timestamp};

use crate::catalog::Stream;
use crate::error::Result;
use crate::hashkey::uniform_ranges;
use crate::model::{parse_shard_id, Distribution, ShardMeta, StreamMeta, StreamMode};
use crate::next_token::{self, ListShardsToken, ListStreamsToken, ShardFilterSpec};
use crate::resolve::{auto_needs_on_demand, not_found, not_readable};
use crate::{Caller, Engine};

/// DescribeStream returns at most this many shards a call.
const DESCRIBE_STREAM_MAX: usize = 100;
/// ListShards returns at most this many shards a call.
const LIST_SHARDS_MAX: usize = 1000;
/// ListStreams returns at most this many streams a call by default.
const LIST_STREAMS_DEFAULT: usize = 100;
const DEFAULT_MAX_RECORD_KIB: u32 = 1024;
/// On-demand streams allowed per account (AWS default).
pub(crate) const ON_DEMAND_STREAM_LIMIT: i64 = 50;
/// Streams an account may have in CREATING state at once (AWS: 5).
const MAX_CREATING: usize = 5;

impl Engine {
    pub fn create_stream(&self, caller: &Caller, input: CreateStreamInput) -> Result<Empty> {
        let name = input.stream_name.unwrap_or_default();
        let account = caller.account_id.clone();
        let mode = StreamMode::from_details(input.stream_mode_details.as_ref());
        if mode == StreamMode::OnDemand && input.shard_count.is_some() {
            return Err(ApiError::invalid_argument(
                "ShardCount is not expected when StreamMode=ON_DEMAND",
            )
            .into());
        }
        let distribution = Distribution::parse(input.record_distribution_strategy.as_deref());
        if distribution == Distribution::Auto && mode != StreamMode::OnDemand {
            return Err(auto_needs_on_demand(&account, &name).into());
        }
        let shard_count = match input.shard_count {
            Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
            None => self.config.on_demand_shards,
        };
        self.check_shard_limit(&account, shard_count)?;
        if mode == StreamMode::OnDemand {
            self.check_on_demand_limit(&account)?;
        }
        let mut tags = std::collections::BTreeMap::new();
        crate::tags::merge_tags(
            &mut tags,
            input.tags.clone().unwrap_or_default(),
            &format!("stream {name} under account {account}"),
        )?;
        if self.catalog.get(&account, &name).is_some() {
            return Err(already_exists(&account, &name).into());
        }
        let now = self.clock.now_ms();
        let creating = self
            .catalog
            .list(&account, None)
            .iter()
            .filter(|s| s.read().meta.status(now) == crate::model::StreamStatus::Creating)
            .count();
        if self.config.limits.control_plane && creating >= MAX_CREATING {
            return Err(ApiError::new(
                ErrorCode::LimitExceeded,
                format!(
                    "The account {account} has {creating} streams in CREATING state; at most \
                     {MAX_CREATING} may be created at once."
                ),
            )
            .into());
        }

        let shards: Vec<ShardMeta> = uniform_ranges(shard_count)
            .into_iter()
            .enumerate()
            .map(|(i, (start, end))| ShardMeta {
                index: i as u32,
                partition: self.catalog.allocate_partition(),
                start_hash: start.to_string(),
                end_hash: end.to_string(),
                parent: None,
                adjacent_parent: None,
                created_ms: now,
                closed: None,
                pruned: false,
            })
            .collect();
        // Partitions first: a crash before the manifest is written leaves only orphans,
        // which the next start removes.
        for shard in &shards {
            self.storage.create_partition(shard.partition)?;
        }
        let meta = StreamMeta {
            account: account.clone(),
            name: name.clone(),
            created_ms: now,
            active_at_ms: now + self.config.create_delay_ms,
            deleted_at_ms: None,
            mode,
            retention_hours: self.config.default_retention_hours,
            max_record_size_kib: input
                .max_record_size_in_kib
                .map_or(DEFAULT_MAX_RECORD_KIB, |k| k as u32),
            tags,
            shards,
            consumers: Vec::new(),
            policy: None,
            updating_until_ms: None,
            pending_reshard: None,
            scaling_history: Vec::new(),
            shard_level_metrics: Vec::new(),
            warm_throughput_mibps: input.warm_throughput_mi_bps,
            on_demand_peak_bytes: 0,
            encryption: None,
            data_keys: Vec::new(),
            distribution,
            queues: Vec::new(),
            channels: Vec::new(),
        };
        let partitions: Vec<u64> = meta.shards.iter().map(|s| s.partition).collect();
        // In the manifest before it is in the catalog: nothing can be written to a stream a
        // crash could forget.
        let persisting = self.catalog.begin_persist();
        let stored = if self.catalog.get(&account, &name).is_some() {
            Err(already_exists(&account, &name).into())
        } else {
            persisting.store_new(&meta, |d| self.write_manifest(d))
        };
        if let Err(e) = stored {
            drop(persisting);
            for p in partitions {
                self.storage.remove_partition(p)?;
            }
            return Err(e);
        }
        self.catalog.insert(meta);
        Ok(Empty {})
    }

    pub fn delete_stream(&self, caller: &Caller, input: DeleteStreamInput) -> Result<Empty> {
        let (n, stream) = self.find_stream(caller, &input)?;
        let now = self.clock.now_ms();
        {
            let mut s = stream.write();
            if s.meta.deleted_at_ms.is_some() {
                return Ok(Empty {});
            }
            let consumers = s
                .meta
                .consumers
                .iter()
                .filter(|c| c.deleted_at_ms.is_none())
                .count();
            if consumers > 0 && input.enforce_consumer_deletion != Some(true) {
                return Err(ApiError::resource_in_use(format!(
                    "Stream {} under account {} has {consumers} registered consumers. Deregister \
                     them first or set EnforceConsumerDeletion.",
                    n.name, n.account
                ))
                .into());
            }
            let queues = s
                .meta
                .queues
                .iter()
                .filter(|q| q.deleted_at_ms.is_none())
                .count();
            if s.meta.channels.iter().any(|c| c.deleted_at_ms.is_none()) {
                // AWS: "A stream cannot be deleted while it has active channels."
                return Err(ApiError::resource_in_use(format!(
                    "Stream {} under account {} has channels. Delete them first.",
                    n.name, n.account
                ))
                .into());
            }
            if queues > 0 {
                // AWS: every queue must be deleted first; EnforceConsumerDeletion does not
                // apply to queues.
                return Err(ApiError::resource_in_use(format!(
                    "Stream {} under account {} has {queues} queues. Delete them first.",
                    n.name, n.account
                ))
                .into());
            }
            s.meta.deleted_at_ms = Some(now + self.config.delete_delay_ms);
        }
        tracing::debug!(stream = n.name, "stream deleting");
        self.persist()?;
        if self.config.delete_delay_ms == 0 {
            self.tick()?;
        }
        Ok(Empty {})
    }

    pub fn describe_stream(
        &self,
        caller: &Caller,
        input: DescribeStreamInput,
    ) -> Result<DescribeStreamOutput> {
        let (_, stream) = self.find_stream(caller, &input)?;
        let now = self.clock.now_ms();
        let s = stream.read();
        let limit = input
            .limit
            .map_or(DESCRIBE_STREAM_MAX, |l| l as usize)
            .min(DESCRIBE_STREAM_MAX);
        let after = input.exclusive_start_shard_id.as_deref();
        // A stream being created or deleted shows no shards, as AWS's does.
        let status = s.meta.status(now);
        let visible = status.is_readable();
        let mut shards: Vec<Shard> = self
            .listed_shards(&s, now)
            .filter(|_| visible)
            .filter(|sh| after.is_none_or(|a| after_shard(sh, a)))
            .map(shard_shape)
            .take(limit + 1)
            .collect();
        let has_more_shards = shards.len() > limit;
        shards.truncate(limit);
        let m = &s.meta;
        Ok(DescribeStreamOutput {
            stream_description: StreamDescription {
                stream_name: m.name.clone(),
                stream_arn: m.arn(&self.config.region),
                stream_status: status.as_str().into(),
                stream_mode_details: mode_details(m.mode),
                shards,
                has_more_shards,
                retention_period_hours: i64::from(m.retention_hours),
                stream_creation_timestamp: Timestamp::from_millis(m.created_ms as i64),
                enhanced_monitoring: vec![EnhancedMetrics {
                    shard_level_metrics: m.shard_level_metrics.clone(),
                }],
                encryption_type: m.encryption_type().into(),
                key_id: m.encryption.as_ref().map(|e| e.key_id.clone()),
            },
        })
    }

    pub fn describe_stream_summary(
        &self,
        caller: &Caller,
        input: DescribeStreamSummaryInput,
    ) -> Result<DescribeStreamSummaryOutput> {
        let (_, stream) = self.find_stream(caller, &input)?;
        let now = self.clock.now_ms();
        let s = stream.read();
        let m = &s.meta;
        Ok(DescribeStreamSummaryOutput {
            stream_description_summary: StreamDescriptionSummary {
                stream_name: m.name.clone(),
                stream_arn: m.arn(&self.config.region),
                stream_status: m.status(now).as_str().into(),
                stream_mode_details: mode_details(m.mode),
                retention_period_hours: i64::from(m.retention_hours),
                stream_creation_timestamp: Timestamp::from_millis(m.created_ms as i64),
                enhanced_monitoring: vec![EnhancedMetrics {
                    shard_level_metrics: m.shard_level_metrics.clone(),
                }],
                encryption_type: m.encryption_type().into(),
                key_id: m.encryption.as_ref().map(|e| e.key_id.clone()),
                open_shard_count: m.open_shards().count() as i64,
                consumer_count: m
                    .consumers
                    .iter()
                    .filter(|c| c.deleted_at_ms.is_none())
                    .count() as i64,
                max_record_size_in_kib: i64::from(m.max_record_size_kib),
                warm_throughput: m.warm_throughput_mibps.map(|w| WarmThroughputObject {
                    target_mi_bps: Some(w),
                    current_mi_bps: Some(w),
                }),
                record_distribution_strategy: (m.mode == StreamMode::OnDemand)
                    .then(|| m.distribution.as_str()),
                channel_count: Some(
                    m.channels
                        .iter()
                        .filter(|c| c.deleted_at_ms.is_none())
                        .count() as i64,
                ),
                queue_count: Some(
                    m.queues
                        .iter()
                        .filter(|q| q.deleted_at_ms.is_none())
                        .count() as i64,
                ),
            },
        })
    }

    pub fn list_streams(
        &self,
        caller: &Caller,
        input: ListStreamsInput,
    ) -> Result<ListStreamsOutput> {
        let now = self.clock.now_ms();
        let account = &caller.account_id;
        let after = match &input.next_token {
            Some(t) => {
                let token: ListStreamsToken = next_token::open(
                    &self.sealer,
                    t,
                    now,
                    self.config.next_token_ttl_ms,
                    |t: &ListStreamsToken| t.created_ms,
                )?;
                if &token.account != account {
                    return Err(ApiError::invalid_argument("Invalid NextToken.").into());
                }
                Some(token.after)
            }
            None => input.exclusive_start_stream_name.clone(),
        };
        let limit = input.limit.map_or(LIST_STREAMS_DEFAULT, |l| l as usize);
        let streams = self.catalog.list(account, after.as_deref());
        let has_more_streams = streams.len() > limit;
        let summaries: Vec<StreamSummary> = streams
            .iter()
            .take(limit)
            .map(|s| {
                let s = s.read();
                let m = &s.meta;
                StreamSummary {
                    stream_name: m.name.clone(),
                    stream_arn: m.arn(&self.config.region),
                    stream_status: m.status(now).as_str().into(),
                    stream_mode_details: mode_details(m.mode),
                    stream_creation_timestamp: Timestamp::from_millis(m.created_ms as i64),
                }
            })
            .collect();
        let next_token = match summaries.last() {
            Some(last) if has_more_streams => Some(next_token::seal(
                &self.sealer,
                &ListStreamsToken {
                    created_ms: now,
                    account: account.clone(),
                    after: last.stream_name.clone(),
                },
            )),
            _ => None,
        };
        Ok(ListStreamsOutput {
            stream_names: summaries.iter().map(|s| s.stream_name.clone()).collect(),
            has_more_streams,
            next_token,
            stream_summaries: summaries,
        })
    }

    pub fn list_shards(&self, caller: &Caller, input: ListShardsInput) -> Result<ListShardsOutput> {
        let now = self.clock.now_ms();
        let (account, name, after, max_results, filter) = match &input.next_token {
            Some(text) => {
                for (given, member) in [
                    (input.stream_name.is_some(), "StreamName"),
                    (input.stream_arn.is_some(), "StreamARN"),
                    (
                        input.exclusive_start_shard_id.is_some(),
                        "ExclusiveStartShardId",
                    ),
                    (input.shard_filter.is_some(), "ShardFilter"),
                    (
                        input.stream_creation_timestamp.is_some(),
                        "StreamCreationTimestamp",
                    ),
                ] {
                    if given {
                        return Err(ApiError::invalid_argument(format!(
                            "NextToken and {member} cannot be provided together."
                        ))
                        .into());
                    }
                }
                let token: ListShardsToken = next_token::open(
                    &self.sealer,
                    text,
                    now,
                    self.config.next_token_ttl_ms,
                    |t: &ListShardsToken| t.created_ms,
                )?;
                if token.account != caller.account_id {
                    return Err(ApiError::invalid_argument("Invalid NextToken.").into());
                }
                let max = input.max_results.map_or(token.max_results, |m| m as usize);
                (
                    token.account,
                    token.stream,
                    Some(token.after),
                    max,
                    token.filter,
                )
            }
            None => {
                if input.stream_name.is_none() && input.stream_arn.is_none() {
                    return Err(ApiError::invalid_argument(
                        "Either NextToken or StreamName should be provided.",
                    )
                    .into());
                }
                let n = self.stream_name(caller, &input)?;
                let filter = shard_filter(input.shard_filter.as_ref())?;
                let after = input
                    .exclusive_start_shard_id
                    .as_deref()
                    .map(|id| parse_shard_id(id).unwrap_or(0));
                let max = input.max_results.map_or(LIST_SHARDS_MAX, |m| m as usize);
                (n.account, n.name, after, max, filter)
            }
        };
        let limit = max_results.min(LIST_SHARDS_MAX);
        let stream = self
            .catalog
            .get(&account, &name)
            .ok_or_else(|| not_found(&account, &name))?;
        self.admit_stream(caller, &account, &name)?;
        let s = stream.read();
        let status = s.meta.status(now);
        if !status.is_readable() {
            return Err(not_readable(&account, &name, status).into());
        }
        let trim_ms = now
            .saturating_sub(s.meta.retention_ms())
            .max(s.meta.created_ms);
        let mut shards: Vec<&ShardMeta> = self
            .listed_shards(&s, now)
            .filter(|sh| after.is_none_or(|a| sh.index > a))
            .filter(|sh| filter_matches(&filter, sh, trim_ms, s.meta.created_ms))
            .take(limit + 1)
            .collect();
        let more = shards.len() > limit;
        shards.truncate(limit);
        let next_token = match shards.last() {
            Some(last) if more => Some(next_token::seal(
                &self.sealer,
                &ListShardsToken {
                    created_ms: now,
                    account: account.clone(),
                    stream: name.clone(),
                    after: last.index,
                    max_results,
                    filter,
                },
            )),
            _ => None,
        };
        Ok(ListShardsOutput {
            shards: shards.into_iter().map(shard_shape).collect(),
            next_token,
        })
    }

    /// Shards still listed: open ones, and closed ones whose data is within retention.
    fn listed_shards<'a>(&self, s: &'a Stream, now: u64) -> impl Iterator<Item = &'a ShardMeta> {
        let cutoff = now.saturating_sub(s.meta.retention_ms());
        s.meta
            .shards
            .iter()
            .filter(move |sh| sh.closed.as_ref().is_none_or(|c| c.closed_ms >= cutoff))
    }
}

impl Engine {
    /// Refuses a request that would give the account more on-demand streams than allowed.
    pub(crate) fn check_on_demand_limit(&self, account: &str) -> Result<()> {
        let on_demand = self
            .catalog
            .list(account, None)
            .iter()
            .filter(|s| s.read().meta.mode == StreamMode::OnDemand)
            .count() as i64;
        if on_demand >= ON_DEMAND_STREAM_LIMIT {
            return Err(ApiError::new(
                ErrorCode::LimitExceeded,
                format!(
                    "This request would exceed the limit of {ON_DEMAND_STREAM_LIMIT} on-demand streams for the account {account} in {}.",
                    self.config.region
                ),
            )
            .into());
        }
        Ok(())
    }

    /// Refuses a request that would take the account past its open-shard limit.
    pub(crate) fn check_shard_limit(&self, account: &str, additional: u32) -> Result<()> {
        let open: u32 = self
            .catalog
            .list(account, None)
            .iter()
            .map(|s| s.read().meta.open_shards().count() as u32)
            .sum();
        if u64::from(open) + u64::from(additional) > u64::from(self.config.shard_limit) {
            return Err(ApiError::new(
                ErrorCode::LimitExceeded,
                format!(
                    "This request would exceed the shard limit for the account {account} in {}. \
                     Current shard count for the account: {open}. Limit: {}. Number of \
                     additional shards that would have resulted from this request: {additional}. \
                     Refer to the AWS Service Limits page \
                     (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for \
                     current limits and how to request higher limits.",
                    self.config.region, self.config.shard_limit
                ),
            )
            .into());
        }
        Ok(())
    }
}

fn already_exists(account: &str, name: &str) -> ApiError {
    ApiError::resource_in_use(format!(
        "Stream {name} under account {account} already exists."
    ))
}

fn mode_details(mode: StreamMode) -> StreamModeDetails {
    StreamModeDetails {
        stream_mode: Some(mode.as_str().into()),
    }
}

fn after_shard(shard: &ShardMeta, exclusive_start: &str) -> bool {
    match parse_shard_id(exclusive_start) {
        Some(i) => shard.index > i,
        None => shard.id().as_str() > exclusive_start,
    }
}

pub(crate) fn shard_shape(sh: &ShardMeta) -> Shard {
    Shard {
        shard_id: sh.id(),
        parent_shard_id: sh.parent.map(crate::model::shard_id),
        adjacent_parent_shard_id: sh.adjacent_parent.map(crate::model::shard_id),
        hash_key_range: HashKeyRange {
            starting_hash_key: sh.start_hash.clone(),
            ending_hash_key: sh.end_hash.clone(),
        },
        sequence_number_range: SequenceNumberRange {
            starting_sequence_number: sh.starting_sequence_number(),
            ending_sequence_number: sh.ending_sequence_number(),
        },
    }
}

fn shard_filter(filter: Option<&ShardFilter>) -> Result<ShardFilterSpec> {
    let Some(f) = filter else {
        return Ok(ShardFilterSpec::FromTrimHorizon);
    };
    let timestamp = |kind: &str| {
        f.timestamp.map(|t| t.millis.max(0) as u64).ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "Timestamp must be supplied in a ShardFilter with a Type of {kind}"
            ))
        })
    };
    Ok(match f.filter_type.as_deref().unwrap_or_default() {
        "AFTER_SHARD_ID" => {
            let id = f.shard_id.as_deref().ok_or_else(|| {
                ApiError::invalid_argument(
                    "ShardId must be supplied in a ShardFilter with a Type of AFTER_SHARD_ID",
                )
            })?;
            ShardFilterSpec::AfterShardId(parse_shard_id(id).unwrap_or(0))
        }
        "AT_TRIM_HORIZON" => ShardFilterSpec::AtTrimHorizon,
        "AT_LATEST" => ShardFilterSpec::AtLatest,
        "AT_TIMESTAMP" => ShardFilterSpec::AtTimestamp(timestamp("AT_TIMESTAMP")?),
        "FROM_TIMESTAMP" => ShardFilterSpec::FromTimestamp(timestamp("FROM_TIMESTAMP")?),
        _ => ShardFilterSpec::FromTrimHorizon,
    })
}

/// Whether a shard belongs in a filtered ListShards answer. As the model defines the filters:
/// AT_TRIM_HORIZON shards open at the trim horizon, FROM_TRIM_HORIZON every shard in retention
/// (the default), AT_LATEST the open ones, AT_TIMESTAMP those open at the time, FROM_TIMESTAMP
/// those closed at or after it plus the open ones, AFTER_SHARD_ID those after the given id. The
/// AT_* answers cover the hash-key space exactly (the KCL checks it).
fn filter_matches(filter: &ShardFilterSpec, sh: &ShardMeta, trim_ms: u64, created_ms: u64) -> bool {
    let open_at = |t: u64| sh.created_ms <= t && sh.closed.as_ref().is_none_or(|c| c.closed_ms > t);
    match *filter {
        ShardFilterSpec::FromTrimHorizon => true,
        ShardFilterSpec::AtTrimHorizon => open_at(trim_ms),
        ShardFilterSpec::AtLatest => sh.closed.is_none(),
        ShardFilterSpec::AtTimestamp(t) => open_at(t.max(trim_ms).max(created_ms)),
        ShardFilterSpec::FromTimestamp(t) => {
            let t = t.max(trim_ms);
            sh.closed.as_ref().is_none_or(|c| c.closed_ms >= t)
        }
        ShardFilterSpec::AfterShardId(i) => sh.index > i,
    }
}
