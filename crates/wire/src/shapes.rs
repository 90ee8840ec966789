//! Request and response shapes, named and laid out as in the Kinesis model.
//!
//! Inputs keep enum-typed members as strings so that a bad value is answered with AWS's
//! ValidationException (see [`crate::validate`]) rather than a parse failure. Outputs omit
//! absent optional members.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use arrayvec::ArrayString;
use bytestring::ByteString;

use crate::{Blob, Timestamp};

pub use crate::channel_shapes::*;
pub use crate::queue_shapes::*;

// ---------------------------------------------------------------- shared

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct StreamModeDetails {
    pub stream_mode: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct HashKeyRange {
    pub starting_hash_key: String,
    pub ending_hash_key: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct SequenceNumberRange {
    pub starting_sequence_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ending_sequence_number: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Shard {
    pub shard_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_shard_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjacent_parent_shard_id: Option<String>,
    pub hash_key_range: HashKeyRange,
    pub sequence_number_range: SequenceNumberRange,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ChildShard {
    pub shard_id: String,
    pub parent_shards: Vec<String>,
    pub hash_key_range: HashKeyRange,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct EnhancedMetrics {
    pub shard_level_metrics: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct WarmThroughputObject {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_mi_bps: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_mi_bps: Option<i64>,
}

// ---------------------------------------------------------------- control plane

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateStreamInput {
    pub stream_name: Option<String>,
    pub shard_count: Option<i64>,
    #[serde(default, deserialize_with = "crate::maps_only::optional")]
    pub stream_mode_details: Option<StreamModeDetails>,
    pub tags: Option<BTreeMap<String, String>>,
    pub warm_throughput_mi_bps: Option<i64>,
    #[serde(rename = "MaxRecordSizeInKiB")]
    pub max_record_size_in_kib: Option<i64>,
    pub record_distribution_strategy: Option<String>,
}

/// Inputs that name one stream by name and/or ARN.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamRef {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteStreamInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub enforce_consumer_deletion: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub limit: Option<i64>,
    pub exclusive_start_shard_id: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamOutput {
    pub stream_description: StreamDescription,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDescription {
    pub stream_name: String,
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
    pub stream_status: String,
    pub stream_mode_details: StreamModeDetails,
    pub shards: Vec<Shard>,
    pub has_more_shards: bool,
    pub retention_period_hours: i64,
    pub stream_creation_timestamp: Timestamp,
    pub enhanced_monitoring: Vec<EnhancedMetrics>,
    pub encryption_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

pub type DescribeStreamSummaryInput = StreamRef;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamSummaryOutput {
    pub stream_description_summary: StreamDescriptionSummary,
}

/// Never carries `StreamId`: a well-formed one makes SDK endpoint rules route to AWS.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDescriptionSummary {
    pub stream_name: String,
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
    pub stream_status: String,
    pub stream_mode_details: StreamModeDetails,
    pub retention_period_hours: i64,
    pub stream_creation_timestamp: Timestamp,
    pub enhanced_monitoring: Vec<EnhancedMetrics>,
    pub encryption_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub open_shard_count: i64,
    pub consumer_count: i64,
    #[serde(rename = "MaxRecordSizeInKiB")]
    pub max_record_size_in_kib: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warm_throughput: Option<WarmThroughputObject>,
    /// Only on on-demand streams (AWS: "only present for streams that use the on-demand
    /// capacity mode").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_distribution_strategy: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_count: Option<i64>,
    /// Queues on the stream (not counted in ConsumerCount, though they share its limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_count: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsInput {
    pub limit: Option<i64>,
    pub exclusive_start_stream_name: Option<String>,
    pub next_token: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsOutput {
    pub stream_names: Vec<String>,
    pub has_more_streams: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    pub stream_summaries: Vec<StreamSummary>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSummary {
    pub stream_name: String,
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
    pub stream_status: String,
    pub stream_mode_details: StreamModeDetails,
    pub stream_creation_timestamp: Timestamp,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ShardFilter {
    #[serde(rename = "Type")]
    pub filter_type: Option<String>,
    pub shard_id: Option<String>,
    pub timestamp: Option<Timestamp>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListShardsInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub next_token: Option<String>,
    pub exclusive_start_shard_id: Option<String>,
    pub max_results: Option<i64>,
    pub stream_creation_timestamp: Option<Timestamp>,
    #[serde(default, deserialize_with = "crate::maps_only::optional")]
    pub shard_filter: Option<ShardFilter>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListShardsOutput {
    pub shards: Vec<Shard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

// ---------------------------------------------------------------- data plane

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub data: Option<Blob>,
    pub partition_key: Option<String>,
    pub explicit_hash_key: Option<String>,
    pub sequence_number_for_ordering: Option<String>,
    /// DryRun: check the request, then answer DryRunOperationException instead of doing it.
    pub dry_run: Option<bool>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordOutput {
    pub shard_id: String,
    pub sequence_number: String,
    /// `KMS` for an encrypted stream; absent otherwise, as AWS answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_type: Option<&'static str>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsRequestEntry {
    pub data: Option<Blob>,
    pub explicit_hash_key: Option<String>,
    pub partition_key: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    #[serde(default, deserialize_with = "crate::maps_only::optional_list")]
    pub records: Option<Vec<PutRecordsRequestEntry>>,
    /// DryRun: check the request, then answer DryRunOperationException instead of doing it.
    pub dry_run: Option<bool>,
}

// Record-carrying answers hold these per record: inline (or shared with the stored payload,
// for partition keys) rather than a heap string each.

/// A sequence number's digits (shardline's always have 56).
pub type SequenceText = ArrayString<56>;

/// A shard id (`shardId-` and 12 digits for the shards shardline makes).
pub type ShardIdText = ArrayString<32>;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsOutput {
    pub failed_record_count: i64,
    pub records: Vec<PutRecordsResultEntry>,
    /// `KMS` for an encrypted stream; absent otherwise, as AWS answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_type: Option<&'static str>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsResultEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<SequenceText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard_id: Option<ShardIdText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub shard_id: Option<String>,
    pub shard_iterator_type: Option<String>,
    pub starting_sequence_number: Option<String>,
    pub timestamp: Option<Timestamp>,
    /// DryRun: check the request, then answer DryRunOperationException instead of doing it.
    pub dry_run: Option<bool>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorOutput {
    pub shard_iterator: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsInput {
    pub shard_iterator: Option<String>,
    pub limit: Option<i64>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    /// DryRun: check the request, then answer DryRunOperationException instead of doing it.
    pub dry_run: Option<bool>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsOutput {
    pub records: Vec<Record>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_shard_iterator: Option<String>,
    pub millis_behind_latest: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_shards: Option<Vec<ChildShard>>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Record {
    pub sequence_number: SequenceText,
    pub approximate_arrival_timestamp: Timestamp,
    pub data: Blob,
    /// Empty for a record written without one (AUTO distribution): then absent on the wire.
    #[serde(skip_serializing_if = "no_key")]
    pub partition_key: ByteString,
    /// `KMS` for a record stored sealed; absent otherwise, as AWS answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_type: Option<&'static str>,
}

fn no_key(key: &ByteString) -> bool {
    key.is_empty()
}

/// Inputs that name a stream by `StreamName` and/or `StreamARN`.
pub trait NamesStream {
    fn stream_name(&self) -> Option<&str>;
    fn stream_arn(&self) -> Option<&str>;
}

macro_rules! names_stream {
    ($($t:ty),*) => {$(
        impl NamesStream for $t {
            fn stream_name(&self) -> Option<&str> { self.stream_name.as_deref() }
            fn stream_arn(&self) -> Option<&str> { self.stream_arn.as_deref() }
        }
    )*};
}

names_stream!(
    StreamRef,
    DeleteStreamInput,
    DescribeStreamInput,
    ListShardsInput,
    PutRecordInput,
    PutRecordsInput,
    GetShardIteratorInput
);

/// The empty output of operations whose model has no output shape.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Empty {}

// ---------------------------------------------------------------- enhanced fan-out

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterStreamConsumerInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub consumer_name: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterStreamConsumerOutput {
    pub consumer: Consumer,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Consumer {
    pub consumer_name: String,
    #[serde(rename = "ConsumerARN")]
    pub consumer_arn: String,
    pub consumer_status: String,
    pub consumer_creation_timestamp: Timestamp,
}

/// Names a consumer by ARN, or by stream ARN and consumer name.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConsumerRef {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub consumer_name: Option<String>,
    #[serde(rename = "ConsumerARN")]
    pub consumer_arn: Option<String>,
}

pub type DescribeStreamConsumerInput = ConsumerRef;
pub type DeregisterStreamConsumerInput = ConsumerRef;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamConsumerOutput {
    pub consumer_description: ConsumerDescription,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConsumerDescription {
    pub consumer_name: String,
    #[serde(rename = "ConsumerARN")]
    pub consumer_arn: String,
    pub consumer_status: String,
    pub consumer_creation_timestamp: Timestamp,
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamConsumersInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
    pub stream_creation_timestamp: Option<Timestamp>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamConsumersOutput {
    pub consumers: Vec<Consumer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartingPosition {
    #[serde(rename = "Type")]
    pub position_type: Option<String>,
    pub sequence_number: Option<String>,
    pub timestamp: Option<Timestamp>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscribeToShardInput {
    #[serde(rename = "ConsumerARN")]
    pub consumer_arn: Option<String>,
    pub shard_id: Option<String>,
    #[serde(default, deserialize_with = "crate::maps_only::optional")]
    pub starting_position: Option<StartingPosition>,
    /// DryRun: check the request, then answer DryRunOperationException instead of doing it.
    pub dry_run: Option<bool>,
}

/// One event of a SubscribeToShard stream. At the end of a closed shard
/// `ContinuationSequenceNumber` is absent and `ChildShards` is set (the KCL accepts an event as a
/// shard's end only in that pairing).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscribeToShardEvent {
    pub records: Vec<Record>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation_sequence_number: Option<String>,
    pub millis_behind_latest: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_shards: Option<Vec<ChildShard>>,
}

// ---------------------------------------------------------------- resource policies

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutResourcePolicyInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    pub policy: Option<String>,
}

/// Inputs naming one resource by ARN.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceRef {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
}

pub type GetResourcePolicyInput = ResourceRef;
pub type DeleteResourcePolicyInput = ResourceRef;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetResourcePolicyOutput {
    pub policy: String,
}

// ---------------------------------------------------------------- resharding

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SplitShardInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub shard_to_split: Option<String>,
    pub new_starting_hash_key: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MergeShardsInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub shard_to_merge: Option<String>,
    pub adjacent_shard_to_merge: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateShardCountInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub target_shard_count: Option<i64>,
    pub scaling_type: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateShardCountOutput {
    pub stream_name: String,
    pub current_shard_count: i64,
    pub target_shard_count: i64,
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
}

names_stream!(SplitShardInput, MergeShardsInput, UpdateShardCountInput);

// ---------------------------------------------------------------- tags

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddTagsToStreamInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveTagsFromStreamInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForStreamInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub exclusive_start_tag_key: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForStreamOutput {
    pub tags: Vec<Tag>,
    pub has_more_tags: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    pub tag_keys: Option<Vec<String>>,
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
}

pub type ListTagsForResourceInput = ResourceRef;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceOutput {
    pub tags: Vec<Tag>,
}

// ---------------------------------------------------------------- stream settings

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetentionPeriodInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub retention_period_hours: Option<i64>,
}

pub type IncreaseStreamRetentionPeriodInput = RetentionPeriodInput;
pub type DecreaseStreamRetentionPeriodInput = RetentionPeriodInput;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateStreamModeInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    #[serde(default, deserialize_with = "crate::maps_only::optional")]
    pub stream_mode_details: Option<StreamModeDetails>,
    pub warm_throughput_mi_bps: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnhancedMonitoringInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub shard_level_metrics: Option<Vec<String>>,
}

pub type EnableEnhancedMonitoringInput = EnhancedMonitoringInput;
pub type DisableEnhancedMonitoringInput = EnhancedMonitoringInput;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnhancedMonitoringOutput {
    pub stream_name: String,
    pub current_shard_level_metrics: Vec<String>,
    pub desired_shard_level_metrics: Vec<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct DescribeLimitsInput {}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeLimitsOutput {
    pub shard_limit: i64,
    pub open_shard_count: i64,
    pub on_demand_stream_count: i64,
    pub on_demand_stream_count_limit: i64,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct DescribeAccountSettingsInput {}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MinimumThroughputBillingCommitmentInput {
    pub status: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAccountSettingsInput {
    #[serde(default, deserialize_with = "crate::maps_only::optional")]
    pub minimum_throughput_billing_commitment: Option<MinimumThroughputBillingCommitmentInput>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MinimumThroughputBillingCommitmentOutput {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earliest_allowed_end_at: Option<Timestamp>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountSettingsOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_throughput_billing_commitment: Option<MinimumThroughputBillingCommitmentOutput>,
}

pub type DescribeAccountSettingsOutput = AccountSettingsOutput;
pub type UpdateAccountSettingsOutput = AccountSettingsOutput;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateStreamRecordDistributionStrategyInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    /// Reserved by AWS ("Not Implemented"); checked against its pattern, otherwise unused.
    pub stream_id: Option<String>,
    pub record_distribution_strategy: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateMaxRecordSizeInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    #[serde(rename = "MaxRecordSizeInKiB")]
    pub max_record_size_in_kib: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateStreamWarmThroughputInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub stream_name: Option<String>,
    pub warm_throughput_mi_bps: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateStreamWarmThroughputOutput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
    pub stream_name: String,
    pub warm_throughput: WarmThroughputObject,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamEncryptionInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub encryption_type: Option<String>,
    pub key_id: Option<String>,
}

pub type StartStreamEncryptionInput = StreamEncryptionInput;
pub type StopStreamEncryptionInput = StreamEncryptionInput;

names_stream!(
    AddTagsToStreamInput,
    RemoveTagsFromStreamInput,
    ListTagsForStreamInput,
    RetentionPeriodInput,
    EnhancedMonitoringInput,
    UpdateStreamWarmThroughputInput,
    StreamEncryptionInput
);
