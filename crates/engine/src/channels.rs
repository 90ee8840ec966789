//! Channels (CreateChannel, DescribeChannel, ListChannels, UpdateChannel, DeleteChannel), and
//! what the delivery worker (`shardline-delivery`) reads and records through the engine.
//!
//! AWS's documented rules: a channel reads one on-demand stream and delivers to a
//! general-purpose S3 bucket (or S3 Tables, which shardline does not serve: a clear
//! InvalidArgumentException); only records that arrive once the channel is ACTIVE are
//! delivered; DataFreshnessInSeconds 300–900, default 300; one general-purpose S3 channel per
//! stream; a stream with channels cannot be deleted; only the freshness and the logging
//! settings can be updated; the control calls are limited to 5 a second per account. The
//! dead-letter location defaults to the destination bucket under
//! `kinesis-channel/errors/<name>/<id>/`; the log group to `/aws/kinesis/<name>/<id>`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shardline_wire::shapes::*;
use shardline_wire::{ApiError, ErrorCode, Timestamp};

use crate::by_stream::page;
use crate::catalog::StreamRef;
use crate::error::Result;
use crate::model::{ChannelMeta, StreamMeta, StreamMode};
use crate::next_token;
use crate::resolve::{not_readable, parse_stream_arn};
use crate::{Caller, Engine};

const DEFAULT_FRESHNESS_SECS: i64 = 300;
const MIN_FRESHNESS_SECS: i64 = 300;
const MAX_FRESHNESS_SECS: i64 = 900;
const LIST_MAX: usize = 100;
const TOKEN_TTL_MS: u64 = 300_000;
/// The default key template (AWS's documented default).
pub const DEFAULT_KEY_TEMPLATE: &str = "kinesis-channel/!{channel-name}/!{channel-id}/!{yyyy}/!{MM}/!{dd}/!{HH}/!{channel-name}-!{channel-id}-!{yyyy}-!{MM}-!{dd}-!{HH}-!{mm}!{extension}";

#[derive(Serialize, Deserialize)]
struct ListChannelsToken {
    created_ms: u64,
    account: String,
    after: (String, String),
}

fn channel_not_found(arn: &str) -> ApiError {
    ApiError::resource_not_found(format!("Channel {arn} not found."))
}

/// `…:channel/<id>` → (account, id).
fn parse_channel_arn(arn: &str) -> Option<(&str, &str)> {
    let (head, id) = arn.split_once(":channel/")?;
    let account = head.rsplit(':').next()?;
    (!id.is_empty() && account.len() == 12).then_some((account, id))
}

/// A UUID-style id, as AWS's channel ARNs carry.
fn new_channel_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn freshness(secs: i64) -> Result<i64> {
    if !(MIN_FRESHNESS_SECS..=MAX_FRESHNESS_SECS).contains(&secs) {
        return Err(ApiError::invalid_argument(format!(
            "DataFreshnessInSeconds must be between {MIN_FRESHNESS_SECS} and {MAX_FRESHNESS_SECS}, not {secs}."
        ))
        .into());
    }
    Ok(secs)
}

/// One channel's delivery work, as the delivery worker sees it.
#[derive(Clone, Debug)]
pub struct ChannelTask {
    pub account: String,
    pub stream: String,
    pub meta: ChannelMeta,
    /// Shards to read: index and the offset to continue from (`None`: from the channel's
    /// start).
    pub shards: Vec<(u32, Option<u64>)>,
}

/// Records read for delivery.
pub struct ChannelRead {
    /// (offset, record) in shard order.
    pub records: Vec<(u64, Record)>,
    /// Where the next read starts.
    pub next: u64,
    /// The shard's end is reached (a closed shard read to its end).
    pub at_end: bool,
}

impl Engine {
    pub(crate) fn find_channel(
        &self,
        caller: &Caller,
        arn: &str,
    ) -> Result<(StreamRef, ChannelMeta)> {
        let (account, id) = parse_channel_arn(arn).ok_or_else(|| channel_not_found(arn))?;
        if account != caller.account_id {
            return Err(channel_not_found(arn).into());
        }
        for stream in self.catalog.list(account, None) {
            let found = stream
                .read()
                .meta
                .channels
                .iter()
                .find(|c| c.id == id)
                .cloned();
            if let Some(c) = found {
                return Ok((stream, c));
            }
        }
        Err(channel_not_found(arn).into())
    }

    pub fn create_channel(
        &self,
        caller: &Caller,
        input: CreateChannelInput,
    ) -> Result<CreateChannelOutput> {
        let name = input.channel_name.unwrap_or_default();
        let account = caller.account_id.clone();
        if !self.config.channels {
            return Err(ApiError::invalid_argument(
                "This shardline has no S3 endpoint to deliver channels to: start it with --s3-endpoint.",
            )
            .into());
        }
        let configs = input.stream_configuration_list.unwrap_or_default();
        if configs.len() != 1 {
            return Err(ApiError::invalid_argument(format!(
                "A channel reads exactly one stream; StreamConfigurationList has {} entries.",
                configs.len()
            ))
            .into());
        }
        let config = configs.into_iter().next().unwrap_or_default();
        let record = config.record_configuration.unwrap_or_default();
        let destination = match (input.s3_destination_configuration, input.s3_tables_destination_configuration) {
            (Some(d), None) => d,
            (None, Some(_)) => {
                return Err(ApiError::invalid_argument(
                    "shardline does not deliver to streaming tables (S3 Tables / Apache Iceberg); use S3DestinationConfiguration.",
                )
                .into())
            }
            _ => {
                return Err(ApiError::invalid_argument(
                    "Exactly one of S3DestinationConfiguration and S3TablesDestinationConfiguration must be specified.",
                )
                .into())
            }
        };
        if record.record_format_type.as_deref() == Some("GSR_JSON") {
            return Err(ApiError::invalid_argument(
                "RecordFormatType GSR_JSON is supported only for streaming table destinations.",
            )
            .into());
        }
        if let Some(e) = &input.encryption_configuration {
            if matches!(e.key_id.as_deref(), Some("alias/aws/kinesis")) {
                return Err(ApiError::invalid_argument(
                    "The Amazon Kinesis Data Streams service key (alias/aws/kinesis) cannot encrypt channel deliveries; use a customer managed key.",
                )
                .into());
            }
        }
        let mut tags = BTreeMap::new();
        crate::tags::merge_tags(
            &mut tags,
            input.tags.unwrap_or_default(),
            &format!("channel {name}"),
        )?;
        let stream_arn = config.stream_arn.unwrap_or_default();
        let (stream_account, stream_name) = parse_stream_arn(&stream_arn).ok_or_else(|| {
            ApiError::invalid_argument(format!("Invalid StreamARN: {stream_arn}"))
        })?;
        if stream_account != account {
            return Err(crate::resolve::not_found(stream_account, stream_name).into());
        }
        let stream = self
            .catalog
            .get(&account, stream_name)
            .ok_or_else(|| crate::resolve::not_found(&account, stream_name))?;
        let in_use = self
            .catalog
            .list(&account, None)
            .iter()
            .any(|s| s.read().meta.channels.iter().any(|c| c.name == name));
        if in_use {
            return Err(ApiError::resource_in_use(format!(
                "Channel {name} under account {account} already exists."
            ))
            .into());
        }
        let now = self.clock.now_ms();
        let id = new_channel_id();
        let mut destination = destination;
        destination.data_freshness_in_seconds = Some(freshness(
            destination
                .data_freshness_in_seconds
                .unwrap_or(DEFAULT_FRESHNESS_SECS),
        )?);
        let storage = destination
            .storage_configuration
            .clone()
            .unwrap_or_default();
        if destination.dead_letter_queue_s3_configuration.is_none() {
            destination.dead_letter_queue_s3_configuration = Some(DeadLetterQueueS3Configuration {
                bucket_arn: storage.bucket_arn.clone(),
                expected_bucket_owner: storage.expected_bucket_owner.clone(),
                error_output_prefix: None,
            });
        }
        if let Some(dlq) = destination.dead_letter_queue_s3_configuration.as_mut() {
            if dlq.error_output_prefix.is_none() {
                dlq.error_output_prefix = Some(format!("kinesis-channel/errors/{name}/{id}/"));
            }
        }
        let mut logging = input.logging_configuration.unwrap_or_default();
        let logs = logging
            .cloud_watch_logs
            .get_or_insert_with(Default::default);
        logs.enabled = Some(logs.enabled.unwrap_or(false));
        if logs.enabled == Some(true) {
            logs.log_group_name
                .get_or_insert_with(|| format!("/aws/kinesis/{name}/{id}"));
            logs.log_stream_name
                .get_or_insert_with(|| "DestinationDelivery".to_string());
        }
        let channel = ChannelMeta {
            name,
            id,
            created_ms: now,
            active_at_ms: now + self.config.create_delay_ms,
            deleted_at_ms: None,
            updating_until_ms: None,
            failed: None,
            role_arn: input.service_execution_role_arn.unwrap_or_default(),
            record,
            destination,
            encryption: input.encryption_configuration,
            logging,
            tags,
            delivered: BTreeMap::new(),
        };
        {
            let mut s = stream.write();
            check_stream_takes_channel(&s.meta, now)?;
            s.meta.channels.push(channel.clone());
        }
        if let Err(e) = self.persist() {
            stream.write().meta.channels.retain(|c| c.id != channel.id);
            return Err(e);
        }
        let s = stream.read();
        Ok(ChannelDescriptionOutput {
            channel_description: self.channel_description(&s.meta, &channel, now),
        })
    }

    pub fn describe_channel(
        &self,
        caller: &Caller,
        input: DescribeChannelInput,
    ) -> Result<DescribeChannelOutput> {
        let (stream, c) =
            self.find_channel(caller, input.channel_arn.as_deref().unwrap_or_default())?;
        let s = stream.read();
        Ok(ChannelDescriptionOutput {
            channel_description: self.channel_description(&s.meta, &c, self.clock.now_ms()),
        })
    }

    pub fn update_channel(
        &self,
        caller: &Caller,
        input: UpdateChannelInput,
    ) -> Result<UpdateChannelOutput> {
        let arn = input.channel_arn.unwrap_or_default();
        let (stream, c) = self.find_channel(caller, &arn)?;
        let now = self.clock.now_ms();
        let status = c.status(now);
        if status != "ACTIVE" {
            return Err(ApiError::resource_in_use(format!(
                "Channel {arn} is {status}; it can be updated only while ACTIVE."
            ))
            .into());
        }
        if input.s3_tables_destination_configuration.is_some() {
            return Err(ApiError::invalid_argument(
                "The channel delivers to a general purpose S3 bucket; update S3DestinationConfiguration.",
            )
            .into());
        }
        if input.s3_destination_configuration.is_none() && input.logging_configuration.is_none() {
            return Err(ApiError::invalid_argument(
                "Nothing to update: specify S3DestinationConfiguration or LoggingConfiguration.",
            )
            .into());
        }
        let fresh = input
            .s3_destination_configuration
            .and_then(|d| d.data_freshness_in_seconds)
            .map(freshness)
            .transpose()?;
        let updated = {
            let mut s = stream.write();
            let ch = s
                .meta
                .channels
                .iter_mut()
                .find(|x| x.id == c.id)
                .ok_or_else(|| channel_not_found(&arn))?;
            if let Some(f) = fresh {
                ch.destination.data_freshness_in_seconds = Some(f);
            }
            if let Some(mut l) = input.logging_configuration {
                if let Some(logs) = l.cloud_watch_logs.as_mut() {
                    if logs.enabled == Some(true) {
                        logs.log_group_name
                            .get_or_insert_with(|| format!("/aws/kinesis/{}/{}", ch.name, ch.id));
                        logs.log_stream_name
                            .get_or_insert_with(|| "DestinationDelivery".to_string());
                    }
                }
                ch.logging = l;
            }
            ch.updating_until_ms = Some(now + self.config.create_delay_ms);
            ch.clone()
        };
        self.persist()?;
        let s = stream.read();
        Ok(ChannelDescriptionOutput {
            channel_description: self.channel_description(&s.meta, &updated, now),
        })
    }

    pub fn delete_channel(&self, caller: &Caller, input: DeleteChannelInput) -> Result<Empty> {
        let arn = input.channel_arn.unwrap_or_default();
        let (stream, c) = self.find_channel(caller, &arn)?;
        if c.deleted_at_ms.is_some() {
            return Err(channel_not_found(&arn).into());
        }
        let now = self.clock.now_ms();
        if let Some(ch) = stream
            .write()
            .meta
            .channels
            .iter_mut()
            .find(|x| x.id == c.id)
        {
            ch.deleted_at_ms = Some(now + self.config.delete_delay_ms);
        }
        self.persist()?;
        Ok(Empty {})
    }

    pub fn list_channels(
        &self,
        caller: &Caller,
        input: ListChannelsInput,
    ) -> Result<ListChannelsOutput> {
        let now = self.clock.now_ms();
        let account = caller.account_id.clone();
        let after = match &input.next_token {
            Some(text) => {
                let t: ListChannelsToken = next_token::open(
                    &self.sealer,
                    text,
                    now,
                    TOKEN_TTL_MS,
                    |t: &ListChannelsToken| t.created_ms,
                )?;
                if t.account != account {
                    return Err(ApiError::invalid_argument("Invalid NextToken.").into());
                }
                Some(t.after)
            }
            None => None,
        };
        // AWS: default 100, and at most 100 however many are asked for.
        let max = input
            .max_results
            .map_or(LIST_MAX, |m| (m as usize).min(LIST_MAX));
        let mut all = Vec::new();
        for stream in self.filtered_streams(&account, input.stream_filter) {
            let s = stream.read();
            for c in &s.meta.channels {
                all.push((
                    (s.meta.name.clone(), c.name.clone()),
                    ChannelSummary {
                        channel_name: c.name.clone(),
                        channel_arn: c.arn(&self.config.region, &account),
                        channel_id: c.id.clone(),
                        channel_status: c.status(now),
                        channel_status_reason: c.failed.clone(),
                        channel_creation_timestamp: Timestamp::from_millis(c.created_ms as i64),
                        channel_destination_type: "S3",
                        streams: vec![self.stream_identifier(&s.meta)],
                    },
                ));
            }
        }
        let (page, more) = page(all, after.as_ref(), max);
        let next_token = match (more, page.last()) {
            (true, Some((k, _))) => Some(next_token::seal(
                &self.sealer,
                &ListChannelsToken {
                    created_ms: now,
                    account,
                    after: k.clone(),
                },
            )),
            _ => None,
        };
        Ok(ListChannelsOutput {
            channel_summaries: page.into_iter().map(|(_, c)| c).collect(),
            next_token,
        })
    }

    fn channel_description(
        &self,
        stream: &StreamMeta,
        c: &ChannelMeta,
        now: u64,
    ) -> ChannelDescription {
        ChannelDescription {
            channel_name: c.name.clone(),
            channel_arn: c.arn(&self.config.region, &stream.account),
            channel_id: c.id.clone(),
            channel_status: c.status(now),
            channel_status_reason: c.failed.clone(),
            channel_creation_timestamp: Timestamp::from_millis(c.created_ms as i64),
            service_execution_role_arn: c.role_arn.clone(),
            stream_configuration_list: vec![ChannelStreamDescription {
                stream_arn: stream.arn(&self.config.region),
                stream_creation_timestamp: Timestamp::from_millis(stream.created_ms as i64),
                record_configuration: c.record.clone(),
            }],
            s3_destination_configuration: c.destination.clone(),
            encryption_configuration: c.encryption.clone(),
            logging_configuration: c.logging.clone(),
        }
    }

    // ------------------------------------------------------------ for the delivery worker

    /// Channels with records to deliver: ACTIVE or UPDATING ones.
    pub fn channel_tasks(&self) -> Vec<ChannelTask> {
        let now = self.clock.now_ms();
        let mut out = Vec::new();
        for stream in self.catalog.all() {
            let s = stream.read();
            for c in &s.meta.channels {
                if !matches!(c.status(now), "ACTIVE" | "UPDATING") {
                    continue;
                }
                out.push(ChannelTask {
                    account: s.meta.account.clone(),
                    stream: s.meta.name.clone(),
                    meta: c.clone(),
                    shards: s
                        .meta
                        .shards
                        .iter()
                        .filter(|sh| !sh.pruned)
                        .map(|sh| (sh.index, c.delivered.get(&sh.index).copied()))
                        .collect(),
                });
            }
        }
        out
    }

    /// Reads records of a shard for a channel: from `from` (or the first record that arrived
    /// once the channel was ACTIVE), up to `max_records` / `max_bytes`; records past the
    /// stream's retention are skipped.
    pub fn channel_read(
        &self,
        task: &ChannelTask,
        shard_index: u32,
        from: Option<u64>,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<ChannelRead> {
        let stream = self
            .catalog
            .get(&task.account, &task.stream)
            .ok_or_else(|| crate::resolve::not_found(&task.account, &task.stream))?;
        let s = stream.read();
        let shard = s
            .shard(shard_index)
            .cloned()
            .ok_or_else(ApiError::internal)?;
        let bounds = self.storage.bounds(shard.partition)?;
        let start = match from {
            Some(o) => o,
            None => self
                .storage
                .offset_at_time(shard.partition, task.meta.active_at_ms)?,
        }
        .max(bounds.start);
        let horizon = self.clock.now_ms().saturating_sub(s.meta.retention_ms());
        let mut next = start;
        let mut records = Vec::new();
        if start < bounds.end {
            let entries = self
                .storage
                .read(shard.partition, start, max_records, max_bytes)?;
            if let Some(last) = entries.last() {
                next = last.offset + 1;
            }
            let fresh: Vec<_> = entries
                .into_iter()
                .filter(|e| e.timestamp_ms >= horizon && e.timestamp_ms >= task.meta.active_at_ms)
                .collect();
            let decoded = self.to_records(&shard, &s.meta.data_keys, &fresh)?;
            records = fresh.iter().map(|e| e.offset).zip(decoded).collect();
        }
        let at_end = shard.closed.is_some() && next >= bounds.end;
        Ok(ChannelRead {
            records,
            next,
            at_end,
        })
    }

    /// Records that delivery got this far on each shard (after the objects holding everything
    /// before were written): durable in the manifest.
    pub fn channel_delivered(
        &self,
        task: &ChannelTask,
        positions: &BTreeMap<u32, u64>,
    ) -> Result<()> {
        let Some(stream) = self.catalog.get(&task.account, &task.stream) else {
            return Ok(());
        };
        {
            let mut s = stream.write();
            let Some(c) = s.meta.channels.iter_mut().find(|c| c.id == task.meta.id) else {
                return Ok(());
            };
            for (shard, next) in positions {
                let at = c.delivered.entry(*shard).or_insert(*next);
                *at = (*at).max(*next);
            }
        }
        self.persist()
    }

    /// Puts a channel in FAILED, with the reason (a destination that cannot be written).
    pub fn channel_failed(&self, task: &ChannelTask, reason: String) -> Result<()> {
        let Some(stream) = self.catalog.get(&task.account, &task.stream) else {
            return Ok(());
        };
        if let Some(c) = stream
            .write()
            .meta
            .channels
            .iter_mut()
            .find(|c| c.id == task.meta.id)
        {
            c.failed = Some(reason);
        }
        self.persist()
    }
}

/// A stream can take a channel: ACTIVE or UPDATING, on-demand, without a general-purpose S3
/// channel already.
fn check_stream_takes_channel(m: &StreamMeta, now: u64) -> Result<()> {
    let status = m.status(now);
    if !status.is_readable() {
        return Err(not_readable(&m.account, &m.name, status).into());
    }
    if m.mode != StreamMode::OnDemand {
        return Err(ApiError::new(
            ErrorCode::Validation,
            format!(
                "Channels are supported only on ON_DEMAND streams; stream {} under account {} is PROVISIONED.",
                m.name, m.account
            ),
        )
        .into());
    }
    if m.channels.iter().any(|c| c.deleted_at_ms.is_none()) {
        return Err(ApiError::new(
            ErrorCode::LimitExceeded,
            format!(
                "Stream {} under account {} already has a channel to a general purpose S3 bucket; a stream takes one.",
                m.name, m.account
            ),
        )
        .into());
    }
    Ok(())
}
