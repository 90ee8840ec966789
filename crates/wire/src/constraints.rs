//! Model constraints of each input shape (min/max/pattern/enum/required), in member order.

use std::collections::BTreeMap;
use std::fmt::{self, Display};

use crate::shapes::*;
use crate::validate::{
    Pattern, Shown, Violations, HASH_KEY, NAME, QUEUE_ARN, SEQUENCE_NUMBER, STREAM_ARN, STREAM_ID,
};
use crate::ApiError;

/// Largest `Data` blob the model allows (10 MiB).
pub const MAX_DATA_BYTES: usize = 10_485_760;

/// In the order AWS prints them in its enum violation message.
pub const SHARD_ITERATOR_TYPES: &[&str] = &[
    "AFTER_SEQUENCE_NUMBER",
    "LATEST",
    "AT_TIMESTAMP",
    "AT_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
];
pub const SHARD_FILTER_TYPES: &[&str] = &[
    "AFTER_SHARD_ID",
    "AT_TRIM_HORIZON",
    "FROM_TRIM_HORIZON",
    "AT_LATEST",
    "AT_TIMESTAMP",
    "FROM_TIMESTAMP",
];
pub const STREAM_MODES: &[&str] = &["PROVISIONED", "ON_DEMAND"];
pub const RECORD_DISTRIBUTION_STRATEGIES: &[&str] = &["AUTO", "USER_PARTITION_KEY"];

/// `<list>.<index>.member.<member>`, the path AWS prints for a member of a list element.
struct MemberPath {
    list: &'static str,
    index: usize,
    member: &'static str,
}

impl Display for MemberPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.member.{}", self.list, self.index, self.member)
    }
}

/// Checks an input against the model's member constraints.
pub trait Validate {
    /// # Errors
    /// `ValidationException` listing every violated constraint.
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Violations::new();
        self.check(&mut v);
        v.into_error().map_or(Ok(()), Err)
    }

    fn check(&self, v: &mut Violations);
}

fn name(v: &mut Violations, path: &str, value: Option<&str>) {
    v.string(path, value, 1, 128, Some(NAME));
}

fn stream_arn(v: &mut Violations, value: Option<&str>) {
    v.string("streamARN", value, 1, 2048, Some(STREAM_ARN));
}

fn pattern_only(v: &mut Violations, path: impl Display, value: Option<&str>, pattern: Pattern) {
    v.string(path, value, 0, usize::MAX, Some(pattern));
}

fn data(v: &mut Violations, path: impl Display, data: Option<&crate::Blob>) {
    v.required(&path, data);
    if let Some(d) = data.filter(|d| d.len() > MAX_DATA_BYTES) {
        v.push(
            Shown::Raw(format!(
                "java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]",
                d.len()
            )),
            path,
            &format!("have length less than or equal to {MAX_DATA_BYTES}"),
        );
    }
}

impl Validate for CreateStreamInput {
    fn check(&self, v: &mut Violations) {
        v.required("streamName", self.stream_name.as_ref());
        name(v, "streamName", self.stream_name.as_deref());
        v.int("shardCount", self.shard_count, Some(1), None);
        if let Some(details) = &self.stream_mode_details {
            v.required("streamModeDetails.streamMode", details.stream_mode.as_ref());
            v.one_of(
                "streamModeDetails.streamMode",
                details.stream_mode.as_deref(),
                STREAM_MODES,
            );
        }
        tag_map(v, self.tags.as_ref());
        v.int(
            "warmThroughputMiBps",
            self.warm_throughput_mi_bps,
            Some(0),
            None,
        );
        v.int(
            "maxRecordSizeInKiB",
            self.max_record_size_in_kib,
            Some(1024),
            Some(10240),
        );
        v.one_of(
            "recordDistributionStrategy",
            self.record_distribution_strategy.as_deref(),
            RECORD_DISTRIBUTION_STRATEGIES,
        );
    }
}

impl Validate for StreamRef {
    fn check(&self, v: &mut Violations) {
        name(v, "streamName", self.stream_name.as_deref());
        stream_arn(v, self.stream_arn.as_deref());
    }
}

impl Validate for DeleteStreamInput {
    fn check(&self, v: &mut Violations) {
        name(v, "streamName", self.stream_name.as_deref());
        stream_arn(v, self.stream_arn.as_deref());
    }
}

impl Validate for DescribeStreamInput {
    fn check(&self, v: &mut Violations) {
        name(v, "streamName", self.stream_name.as_deref());
        v.int("limit", self.limit, Some(1), Some(10000));
        name(
            v,
            "exclusiveStartShardId",
            self.exclusive_start_shard_id.as_deref(),
        );
        stream_arn(v, self.stream_arn.as_deref());
    }
}

impl Validate for ListStreamsInput {
    fn check(&self, v: &mut Violations) {
        v.int("limit", self.limit, Some(1), Some(10000));
        name(
            v,
            "exclusiveStartStreamName",
            self.exclusive_start_stream_name.as_deref(),
        );
        v.string("nextToken", self.next_token.as_deref(), 1, 1_048_576, None);
    }
}

impl Validate for ListShardsInput {
    fn check(&self, v: &mut Violations) {
        name(v, "streamName", self.stream_name.as_deref());
        v.string("nextToken", self.next_token.as_deref(), 1, 1_048_576, None);
        name(
            v,
            "exclusiveStartShardId",
            self.exclusive_start_shard_id.as_deref(),
        );
        v.int("maxResults", self.max_results, Some(1), Some(10000));
        if let Some(filter) = &self.shard_filter {
            v.required("shardFilter.type", filter.filter_type.as_ref());
            v.one_of(
                "shardFilter.type",
                filter.filter_type.as_deref(),
                SHARD_FILTER_TYPES,
            );
            name(v, "shardFilter.shardId", filter.shard_id.as_deref());
        }
        stream_arn(v, self.stream_arn.as_deref());
    }
}

impl Validate for PutRecordInput {
    fn check(&self, v: &mut Violations) {
        name(v, "streamName", self.stream_name.as_deref());
        data(v, "data", self.data.as_ref());
        // Optional in the model since AUTO distribution: the engine requires it of streams
        // that route by partition key (`missing_partition_keys`).
        v.string("partitionKey", self.partition_key.as_deref(), 1, 256, None);
        pattern_only(
            v,
            "explicitHashKey",
            self.explicit_hash_key.as_deref(),
            HASH_KEY,
        );
        pattern_only(
            v,
            "sequenceNumberForOrdering",
            self.sequence_number_for_ordering.as_deref(),
            SEQUENCE_NUMBER,
        );
        stream_arn(v, self.stream_arn.as_deref());
    }
}

impl Validate for PutRecordsInput {
    fn check(&self, v: &mut Violations) {
        v.required("records", self.records.as_ref());
        if let Some(records) = &self.records {
            // AWS renders each entry with Java's default toString.
            let shown = || {
                format!(
                    "[{}]",
                    vec![
                        "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310";
                        records.len()
                    ]
                    .join(", ")
                )
            };
            v.list_len("records", shown, records.len(), 1, 500);
            for (i, r) in records.iter().enumerate() {
                // Formatted only if a violation is reported: this runs for every record.
                let at = |member| MemberPath {
                    list: "records",
                    index: i + 1,
                    member,
                };
                data(v, at("data"), r.data.as_ref());
                pattern_only(
                    v,
                    at("explicitHashKey"),
                    r.explicit_hash_key.as_deref(),
                    HASH_KEY,
                );
                v.string(at("partitionKey"), r.partition_key.as_deref(), 1, 256, None);
            }
        }
        name(v, "streamName", self.stream_name.as_deref());
        stream_arn(v, self.stream_arn.as_deref());
    }
}

impl Validate for GetShardIteratorInput {
    fn check(&self, v: &mut Violations) {
        name(v, "streamName", self.stream_name.as_deref());
        v.required("shardId", self.shard_id.as_ref());
        name(v, "shardId", self.shard_id.as_deref());
        v.required("shardIteratorType", self.shard_iterator_type.as_ref());
        v.one_of(
            "shardIteratorType",
            self.shard_iterator_type.as_deref(),
            SHARD_ITERATOR_TYPES,
        );
        pattern_only(
            v,
            "startingSequenceNumber",
            self.starting_sequence_number.as_deref(),
            SEQUENCE_NUMBER,
        );
        stream_arn(v, self.stream_arn.as_deref());
    }
}

impl Validate for GetRecordsInput {
    fn check(&self, v: &mut Violations) {
        v.required("shardIterator", self.shard_iterator.as_ref());
        v.string(
            "shardIterator",
            self.shard_iterator.as_deref(),
            1,
            512,
            None,
        );
        v.int("limit", self.limit, Some(1), Some(10000));
        stream_arn(v, self.stream_arn.as_deref());
    }
}

const CONSUMER_ARN: Pattern = Pattern {
    regex: "^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+",
    matches: |s| {
        s.starts_with("arn:aws")
            && s.contains(":kinesis:")
            && s.contains("/consumer/")
            && s.rsplit_once(':').is_some_and(|(_, t)| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
    },
};

fn consumer_arn(v: &mut Violations, value: Option<&str>) {
    v.string("consumerARN", value, 1, 2048, Some(CONSUMER_ARN));
}

impl Validate for RegisterStreamConsumerInput {
    fn check(&self, v: &mut Violations) {
        v.required("streamARN", self.stream_arn.as_ref());
        stream_arn(v, self.stream_arn.as_deref());
        v.required("consumerName", self.consumer_name.as_ref());
        name(v, "consumerName", self.consumer_name.as_deref());
        tag_map(v, self.tags.as_ref());
    }
}

impl Validate for ConsumerRef {
    fn check(&self, v: &mut Violations) {
        stream_arn(v, self.stream_arn.as_deref());
        name(v, "consumerName", self.consumer_name.as_deref());
        consumer_arn(v, self.consumer_arn.as_deref());
    }
}

impl Validate for ListStreamConsumersInput {
    fn check(&self, v: &mut Violations) {
        v.required("streamARN", self.stream_arn.as_ref());
        stream_arn(v, self.stream_arn.as_deref());
        v.string("nextToken", self.next_token.as_deref(), 1, 1_048_576, None);
        v.int("maxResults", self.max_results, Some(1), Some(10000));
    }
}

impl Validate for SubscribeToShardInput {
    fn check(&self, v: &mut Violations) {
        v.required("consumerARN", self.consumer_arn.as_ref());
        consumer_arn(v, self.consumer_arn.as_deref());
        v.required("shardId", self.shard_id.as_ref());
        name(v, "shardId", self.shard_id.as_deref());
        v.required("startingPosition", self.starting_position.as_ref());
        if let Some(p) = &self.starting_position {
            v.required("startingPosition.type", p.position_type.as_ref());
            v.one_of(
                "startingPosition.type",
                p.position_type.as_deref(),
                SHARD_ITERATOR_TYPES,
            );
            pattern_only(
                v,
                "startingPosition.sequenceNumber",
                p.sequence_number.as_deref(),
                SEQUENCE_NUMBER,
            );
        }
    }
}

const RESOURCE_ARN: Pattern = Pattern {
    regex: "arn:aws.*:kinesis:.*:\\d{12}:.*(stream|channel|queue)/\\S+",
    matches: |s| {
        s.starts_with("arn:aws")
            && s.contains(":kinesis:")
            && ["stream/", "channel/", "queue/"]
                .iter()
                .any(|k| s.contains(k))
    },
};

impl Validate for PutResourcePolicyInput {
    fn check(&self, v: &mut Violations) {
        v.required("resourceARN", self.resource_arn.as_ref());
        v.string(
            "resourceARN",
            self.resource_arn.as_deref(),
            1,
            2048,
            Some(RESOURCE_ARN),
        );
        v.required("policy", self.policy.as_ref());
    }
}

impl Validate for ResourceRef {
    fn check(&self, v: &mut Violations) {
        v.required("resourceARN", self.resource_arn.as_ref());
        v.string(
            "resourceARN",
            self.resource_arn.as_deref(),
            1,
            2048,
            Some(RESOURCE_ARN),
        );
    }
}

impl Validate for SplitShardInput {
    fn check(&self, v: &mut Violations) {
        name(v, "streamName", self.stream_name.as_deref());
        v.required("shardToSplit", self.shard_to_split.as_ref());
        name(v, "shardToSplit", self.shard_to_split.as_deref());
        v.required("newStartingHashKey", self.new_starting_hash_key.as_ref());
        pattern_only(
            v,
            "newStartingHashKey",
            self.new_starting_hash_key.as_deref(),
            HASH_KEY,
        );
        stream_arn(v, self.stream_arn.as_deref());
    }
}

impl Validate for MergeShardsInput {
    fn check(&self, v: &mut Violations) {
        name(v, "streamName", self.stream_name.as_deref());
        v.required("shardToMerge", self.shard_to_merge.as_ref());
        name(v, "shardToMerge", self.shard_to_merge.as_deref());
        v.required(
            "adjacentShardToMerge",
            self.adjacent_shard_to_merge.as_ref(),
        );
        name(
            v,
            "adjacentShardToMerge",
            self.adjacent_shard_to_merge.as_deref(),
        );
        stream_arn(v, self.stream_arn.as_deref());
    }
}

impl Validate for UpdateShardCountInput {
    fn check(&self, v: &mut Violations) {
        name(v, "streamName", self.stream_name.as_deref());
        v.required("targetShardCount", self.target_shard_count.as_ref());
        v.int("targetShardCount", self.target_shard_count, Some(1), None);
        v.required("scalingType", self.scaling_type.as_ref());
        v.one_of(
            "scalingType",
            self.scaling_type.as_deref(),
            &["UNIFORM_SCALING"],
        );
        stream_arn(v, self.stream_arn.as_deref());
    }
}

pub const METRIC_NAMES: &[&str] = &[
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
    "ALL",
];

/// A tag map as AWS's Java front end prints one in its messages: `{k=v, k2=v2}`.
fn java_map(tags: &BTreeMap<String, String>) -> String {
    let entries: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", entries.join(", "))
}

/// A tag map's constraints, checked as AWS checks them: the map's size, then its keys and its
/// values each as a whole (one violation for all keys, one for all values, at `tags`).
fn tag_map(v: &mut Violations, tags: Option<&BTreeMap<String, String>>) {
    if let Some(tags) = tags {
        v.list_len("tags", || java_map(tags), tags.len(), 1, 200);
        if tags.keys().any(|k| !(1..=128).contains(&utf16_len(k))) {
            v.push_constraint(
                Shown::Raw(java_map(tags)),
                "tags",
                "Map keys must satisfy constraint: [Member must have length less than or equal \
                 to 128, Member must have length greater than or equal to 1]",
            );
        }
        if tags.values().any(|val| utf16_len(val) > 256) {
            v.push_constraint(
                Shown::Raw(java_map(tags)),
                "tags",
                "Map value must satisfy constraint: [Member must have length less than or equal \
                 to 256, Member must have length greater than or equal to 0]",
            );
        }
    }
}

/// A list of tag keys: its size, then its members as a whole (one violation, at `tagKeys`).
fn tag_keys(v: &mut Violations, keys: Option<&Vec<String>>) {
    v.required("tagKeys", keys);
    if let Some(keys) = keys {
        let shown = || format!("[{}]", keys.join(", "));
        v.list_len("tagKeys", shown, keys.len(), 1, 50);
        if keys.iter().any(|k| !(1..=128).contains(&utf16_len(k))) {
            v.push_constraint(
                Shown::Raw(shown()),
                "tagKeys",
                "Member must satisfy constraint: [Member must have length less than or equal \
                 to 128, Member must have length greater than or equal to 1]",
            );
        }
    }
}

/// A string's length as AWS counts it (UTF-16 code units).
fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

impl Validate for AddTagsToStreamInput {
    fn check(&self, v: &mut Violations) {
        name(v, "streamName", self.stream_name.as_deref());
        v.required("tags", self.tags.as_ref());
        tag_map(v, self.tags.as_ref());
        stream_arn(v, self.stream_arn.as_deref());
    }
}

impl Validate for RemoveTagsFromStreamInput {
    fn check(&self, v: &mut Violations) {
        name(v, "streamName", self.stream_name.as_deref());
        tag_keys(v, self.tag_keys.as_ref());
        stream_arn(v, self.stream_arn.as_deref());
    }
}

impl Validate for ListTagsForStreamInput {
    fn check(&self, v: &mut Violations) {
        name(v, "streamName", self.stream_name.as_deref());
        v.string(
            "exclusiveStartTagKey",
            self.exclusive_start_tag_key.as_deref(),
            1,
            128,
            None,
        );
        v.int("limit", self.limit, Some(1), Some(50));
        stream_arn(v, self.stream_arn.as_deref());
    }
}

impl Validate for TagResourceInput {
    fn check(&self, v: &mut Violations) {
        v.required("tags", self.tags.as_ref());
        tag_map(v, self.tags.as_ref());
        v.required("resourceARN", self.resource_arn.as_ref());
        v.string(
            "resourceARN",
            self.resource_arn.as_deref(),
            1,
            2048,
            Some(RESOURCE_ARN),
        );
    }
}

impl Validate for UntagResourceInput {
    fn check(&self, v: &mut Violations) {
        tag_keys(v, self.tag_keys.as_ref());
        v.required("resourceARN", self.resource_arn.as_ref());
        v.string(
            "resourceARN",
            self.resource_arn.as_deref(),
            1,
            2048,
            Some(RESOURCE_ARN),
        );
    }
}

impl Validate for RetentionPeriodInput {
    fn check(&self, v: &mut Violations) {
        name(v, "streamName", self.stream_name.as_deref());
        v.required("retentionPeriodHours", self.retention_period_hours.as_ref());
        stream_arn(v, self.stream_arn.as_deref());
    }
}

impl Validate for UpdateStreamModeInput {
    fn check(&self, v: &mut Violations) {
        v.required("streamARN", self.stream_arn.as_ref());
        stream_arn(v, self.stream_arn.as_deref());
        v.required("streamModeDetails", self.stream_mode_details.as_ref());
        if let Some(d) = &self.stream_mode_details {
            v.required("streamModeDetails.streamMode", d.stream_mode.as_ref());
            v.one_of(
                "streamModeDetails.streamMode",
                d.stream_mode.as_deref(),
                STREAM_MODES,
            );
        }
        v.int(
            "warmThroughputMiBps",
            self.warm_throughput_mi_bps,
            Some(0),
            None,
        );
    }
}

impl Validate for EnhancedMonitoringInput {
    fn check(&self, v: &mut Violations) {
        name(v, "streamName", self.stream_name.as_deref());
        v.required("shardLevelMetrics", self.shard_level_metrics.as_ref());
        if let Some(m) = &self.shard_level_metrics {
            v.list_len(
                "shardLevelMetrics",
                || format!("[{}]", m.join(", ")),
                m.len(),
                1,
                7,
            );
            for (i, name) in m.iter().enumerate() {
                v.one_of(
                    format!("shardLevelMetrics.{}.member", i + 1),
                    Some(name),
                    METRIC_NAMES,
                );
            }
        }
        stream_arn(v, self.stream_arn.as_deref());
    }
}

impl Validate for DescribeLimitsInput {
    fn check(&self, _: &mut Violations) {}
}

impl Validate for DescribeAccountSettingsInput {
    fn check(&self, _: &mut Violations) {}
}

impl Validate for UpdateAccountSettingsInput {
    fn check(&self, v: &mut Violations) {
        v.required(
            "minimumThroughputBillingCommitment",
            self.minimum_throughput_billing_commitment.as_ref(),
        );
        if let Some(c) = &self.minimum_throughput_billing_commitment {
            v.required(
                "minimumThroughputBillingCommitment.status",
                c.status.as_ref(),
            );
            v.one_of(
                "minimumThroughputBillingCommitment.status",
                c.status.as_deref(),
                &["ENABLED", "DISABLED"],
            );
        }
    }
}

impl Validate for UpdateStreamRecordDistributionStrategyInput {
    fn check(&self, v: &mut Violations) {
        v.required("streamARN", self.stream_arn.as_ref());
        stream_arn(v, self.stream_arn.as_deref());
        v.string(
            "streamId",
            self.stream_id.as_deref(),
            1,
            24,
            Some(STREAM_ID),
        );
        v.required(
            "recordDistributionStrategy",
            self.record_distribution_strategy.as_ref(),
        );
        v.one_of(
            "recordDistributionStrategy",
            self.record_distribution_strategy.as_deref(),
            RECORD_DISTRIBUTION_STRATEGIES,
        );
    }
}

/// The `ValidationException` AWS answers for records without a partition key on a stream that
/// routes by partition key: what the model's `required` said before AUTO distribution made the
/// member optional. `missing` holds the 1-based positions of PutRecords entries, or is `None`
/// for PutRecord.
pub fn missing_partition_keys(missing: Option<&[usize]>) -> ApiError {
    let mut v = Violations::new();
    match missing {
        None => v.required("partitionKey", None::<&String>),
        Some(entries) => {
            for &index in entries {
                v.required(
                    MemberPath {
                        list: "records",
                        index,
                        member: "partitionKey",
                    },
                    None::<&String>,
                );
            }
        }
    }
    v.into_error().unwrap_or_else(ApiError::internal)
}

impl Validate for UpdateMaxRecordSizeInput {
    fn check(&self, v: &mut Violations) {
        stream_arn(v, self.stream_arn.as_deref());
        v.required("maxRecordSizeInKiB", self.max_record_size_in_kib.as_ref());
        v.int(
            "maxRecordSizeInKiB",
            self.max_record_size_in_kib,
            Some(1024),
            Some(10240),
        );
    }
}

impl Validate for UpdateStreamWarmThroughputInput {
    fn check(&self, v: &mut Violations) {
        stream_arn(v, self.stream_arn.as_deref());
        name(v, "streamName", self.stream_name.as_deref());
        v.required("warmThroughputMiBps", self.warm_throughput_mi_bps.as_ref());
        v.int(
            "warmThroughputMiBps",
            self.warm_throughput_mi_bps,
            Some(0),
            None,
        );
    }
}

impl Validate for StreamEncryptionInput {
    fn check(&self, v: &mut Violations) {
        name(v, "streamName", self.stream_name.as_deref());
        v.required("encryptionType", self.encryption_type.as_ref());
        v.one_of(
            "encryptionType",
            self.encryption_type.as_deref(),
            &["NONE", "KMS"],
        );
        v.required("keyId", self.key_id.as_ref());
        v.string("keyId", self.key_id.as_deref(), 1, 2048, None);
        stream_arn(v, self.stream_arn.as_deref());
    }
}

// ---------------------------------------------------------------- queues

pub const QUEUE_STARTING_POSITIONS: &[&str] = &["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"];
pub const DEAD_LETTER_TARGETS: &[&str] = &["BUILT_IN", "NONE"];

/// CreateQueue's and CreateChannel's `StreamConfigurationList`: required, 1 to 10,000 entries,
/// each with a stream ARN, then what `rest` checks of the entry (in member order). `shape` is how
/// AWS prints an entry in a length violation.
fn stream_configurations<T>(
    v: &mut Violations,
    list: Option<&[T]>,
    shape: &str,
    arn: impl Fn(&T) -> Option<&String>,
    mut rest: impl FnMut(&mut Violations, &T, &dyn Fn(&'static str) -> MemberPath),
) {
    v.required("streamConfigurationList", list.as_ref());
    let Some(list) = list else { return };
    v.list_len(
        "streamConfigurationList",
        || format!("[{}]", vec![shape; list.len()].join(", ")),
        list.len(),
        1,
        10000,
    );
    for (i, c) in list.iter().enumerate() {
        let at = |member| MemberPath {
            list: "streamConfigurationList",
            index: i + 1,
            member,
        };
        v.required(at("streamARN"), arn(c));
        v.string(
            at("streamARN"),
            arn(c).map(String::as_str),
            1,
            2048,
            Some(STREAM_ARN),
        );
        rest(v, c, &at);
    }
}

/// ListQueues' and ListChannels' `StreamFilter`: 1 to 10,000 entries, each with a stream ARN.
/// `shape` is how AWS prints an entry in a length violation.
fn stream_filter(v: &mut Violations, filters: Option<&[QueueStreamFilter]>, shape: &str) {
    let Some(filters) = filters else { return };
    v.list_len(
        "streamFilter",
        || format!("[{}]", vec![shape; filters.len()].join(", ")),
        filters.len(),
        1,
        10000,
    );
    for (i, f) in filters.iter().enumerate() {
        let at = MemberPath {
            list: "streamFilter",
            index: i + 1,
            member: "streamARN",
        };
        v.required(&at, f.stream_arn.as_ref());
        v.string(&at, f.stream_arn.as_deref(), 1, 2048, Some(STREAM_ARN));
    }
}

fn queue_arn(v: &mut Violations, value: Option<&str>) {
    v.required("queueARN", value.as_ref());
    v.string("queueARN", value, 1, 2048, Some(QUEUE_ARN));
}

fn queue_attributes(v: &mut Violations, path: &str, a: &QueueAttributes) {
    v.int(
        format!("{path}.visibilityTimeoutSeconds"),
        a.visibility_timeout_seconds,
        Some(0),
        Some(43200),
    );
    if let Some(d) = &a.dead_letter_configuration {
        let at = format!("{path}.deadLetterConfiguration");
        v.required(format!("{at}.targetType"), d.target_type.as_ref());
        v.one_of(
            format!("{at}.targetType"),
            d.target_type.as_deref(),
            DEAD_LETTER_TARGETS,
        );
        v.int(
            format!("{at}.maxReceiveCount"),
            d.max_receive_count,
            Some(1),
            Some(1000),
        );
    }
}

impl Validate for CreateQueueInput {
    fn check(&self, v: &mut Violations) {
        v.required("queueName", self.queue_name.as_ref());
        name(v, "queueName", self.queue_name.as_deref());
        stream_configurations(
            v,
            self.stream_configuration_list.as_deref(),
            "QueueStreamConfiguration",
            |c| c.stream_arn.as_ref(),
            |v, c, at| {
                if let Some(p) = &c.starting_position {
                    v.required(at("startingPosition.type"), p.position_type.as_ref());
                    v.one_of(
                        at("startingPosition.type"),
                        p.position_type.as_deref(),
                        QUEUE_STARTING_POSITIONS,
                    );
                }
            },
        );
        if let Some(a) = &self.queue_attributes {
            queue_attributes(v, "queueAttributes", a);
        }
        tag_map(v, self.tags.as_ref());
    }
}

impl Validate for QueueRef {
    fn check(&self, v: &mut Violations) {
        queue_arn(v, self.queue_arn.as_deref());
    }
}

impl Validate for UpdateQueueInput {
    fn check(&self, v: &mut Violations) {
        queue_arn(v, self.queue_arn.as_deref());
        v.required("queueAttributes", self.queue_attributes.as_ref());
        if let Some(a) = &self.queue_attributes {
            queue_attributes(v, "queueAttributes", a);
        }
    }
}

impl Validate for ListQueuesInput {
    fn check(&self, v: &mut Violations) {
        v.int("maxResults", self.max_results, Some(1), Some(10000));
        v.string("nextToken", self.next_token.as_deref(), 1, 1_048_576, None);
        stream_filter(v, self.stream_filter.as_deref(), "QueueStreamFilter");
    }
}

impl Validate for ReceiveQueueRecordsInput {
    fn check(&self, v: &mut Violations) {
        queue_arn(v, self.queue_arn.as_deref());
        v.int("limit", self.limit, Some(1), Some(10));
        v.int("waitTimeSeconds", self.wait_time_seconds, Some(1), Some(20));
        v.int(
            "visibilityTimeoutSeconds",
            self.visibility_timeout_seconds,
            Some(0),
            Some(43200),
        );
    }
}

/// The batch operations' entries: 1 to 10, each with a receipt handle (and, for the visibility
/// operations, a timeout).
pub fn check_receipt_entries(v: &mut Violations, input: &ReceiptEntriesInput, timeouts: bool) {
    queue_arn(v, input.queue_arn.as_deref());
    v.required("entries", input.entries.as_ref());
    if let Some(entries) = &input.entries {
        v.list_len(
            "entries",
            || format!("[{}]", vec!["Entry"; entries.len()].join(", ")),
            entries.len(),
            1,
            10,
        );
        for (i, e) in entries.iter().enumerate() {
            let at = |member| MemberPath {
                list: "entries",
                index: i + 1,
                member,
            };
            v.required(at("receiptHandle"), e.receipt_handle.as_ref());
            v.string(
                at("receiptHandle"),
                e.receipt_handle.as_deref(),
                1,
                1024,
                None,
            );
            if timeouts {
                v.required(
                    at("visibilityTimeoutSeconds"),
                    e.visibility_timeout_seconds.as_ref(),
                );
                v.int(
                    at("visibilityTimeoutSeconds"),
                    e.visibility_timeout_seconds,
                    Some(0),
                    Some(43200),
                );
            }
        }
    }
}

/// Acknowledging and restoring: entries without timeouts.
impl Validate for ReceiptEntriesInput {
    fn check(&self, v: &mut Violations) {
        check_receipt_entries(v, self, false);
    }
}

/// The visibility operations' check: every entry carries a timeout.
///
/// # Errors
/// `ValidationException` listing every violated constraint.
pub fn validate_visibility_entries(input: &ReceiptEntriesInput) -> Result<(), ApiError> {
    let mut v = Violations::new();
    check_receipt_entries(&mut v, input, true);
    v.into_error().map_or(Ok(()), Err)
}

// ---------------------------------------------------------------- channels

pub const RECORD_FORMATS: &[&str] = &["GSR_JSON", "JSON", "STRING", "BYTE_ARRAY"];
pub const S3_STORAGE_CLASSES: &[&str] = &["STANDARD", "INTELLIGENT_TIERING", "GLACIER_IR"];
pub const S3_COMPRESSIONS: &[&str] = &["NONE", "GZIP", "ZSTD"];

fn all_chars(s: &str, ok: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(ok)
}

const CHANNEL_ARN: Pattern = Pattern {
    regex: "arn:aws.*:kinesis:.*:\\d{12}:channel/\\S+",
    matches: |s| {
        s.starts_with("arn:aws")
            && s.contains(":kinesis:")
            && s.split_once(":channel/").is_some_and(|(head, id)| {
                !id.is_empty()
                    && !id.chars().any(char::is_whitespace)
                    && head
                        .rsplit(':')
                        .next()
                        .is_some_and(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
            })
    },
};
const ROLE_ARN: Pattern = Pattern {
    regex: "arn:aws[-a-z0-9]*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+",
    matches: |s| {
        let Some(rest) = s.strip_prefix("arn:aws") else {
            return false;
        };
        let Some((partition, rest)) = rest.split_once(":iam::") else {
            return false;
        };
        let Some((account, role)) = rest.split_once(":role/") else {
            return false;
        };
        (partition.is_empty()
            || all_chars(partition, |c| {
                c == '-' || c.is_ascii_lowercase() || c.is_ascii_digit()
            }))
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && all_chars(role, |c| {
                c.is_ascii_alphanumeric() || "+=,.@-_/".contains(c)
            })
    },
};
const BUCKET_ARN: Pattern = Pattern {
    regex: "arn:aws[-a-z0-9]*:s3:::[a-z0-9._-]{3,63}",
    matches: |s| {
        s.starts_with("arn:aws")
            && s.split_once(":s3:::").is_some_and(|(_, b)| {
                (3..=63).contains(&b.len())
                    && all_chars(b, |c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c)
                    })
            })
    },
};
const ACCOUNT_ID: Pattern = Pattern {
    regex: "\\d{12}",
    matches: |s| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()),
};
const KEY_TEMPLATE: Pattern = Pattern {
    regex: "[0-9A-Za-z!\\-_'.*()\\/=:{}]+",
    matches: |s| {
        all_chars(s, |c| {
            c.is_ascii_alphanumeric() || "!-_'.*()/=:{}".contains(c)
        })
    },
};
const ERROR_PREFIX: Pattern = Pattern {
    regex: "[0-9A-Za-z!\\-_'.*()\\/]+",
    matches: |s| all_chars(s, |c| c.is_ascii_alphanumeric() || "!-_'.*()/".contains(c)),
};
const LOG_GROUP: Pattern = Pattern {
    regex: "[\\.\\-_/#A-Za-z0-9]+",
    matches: |s| all_chars(s, |c| c.is_ascii_alphanumeric() || ".-_/#".contains(c)),
};
const LOG_STREAM: Pattern = Pattern {
    regex: "[^:*]*",
    matches: |s| !s.contains([':', '*']),
};

fn channel_arn(v: &mut Violations, value: Option<&String>) {
    v.required("channelARN", value);
    v.string(
        "channelARN",
        value.map(String::as_str),
        1,
        2048,
        Some(CHANNEL_ARN),
    );
}

fn bucket(v: &mut Violations, path: &str, arn: Option<&String>, owner: Option<&String>) {
    v.required(format!("{path}.bucketARN"), arn);
    v.string(
        format!("{path}.bucketARN"),
        arn.map(String::as_str),
        1,
        2048,
        Some(BUCKET_ARN),
    );
    v.required(format!("{path}.expectedBucketOwner"), owner);
    v.string(
        format!("{path}.expectedBucketOwner"),
        owner.map(String::as_str),
        12,
        12,
        Some(ACCOUNT_ID),
    );
}

fn logging(v: &mut Violations, l: &ChannelLoggingConfiguration) {
    v.required(
        "loggingConfiguration.cloudWatchLogs",
        l.cloud_watch_logs.as_ref(),
    );
    if let Some(c) = &l.cloud_watch_logs {
        v.required(
            "loggingConfiguration.cloudWatchLogs.enabled",
            c.enabled.as_ref(),
        );
        v.string(
            "loggingConfiguration.cloudWatchLogs.logGroupName",
            c.log_group_name.as_deref(),
            1,
            512,
            Some(LOG_GROUP),
        );
        v.string(
            "loggingConfiguration.cloudWatchLogs.logStreamName",
            c.log_stream_name.as_deref(),
            1,
            512,
            Some(LOG_STREAM),
        );
    }
}

impl Validate for CreateChannelInput {
    fn check(&self, v: &mut Violations) {
        v.required("channelName", self.channel_name.as_ref());
        name(v, "channelName", self.channel_name.as_deref());
        v.required(
            "serviceExecutionRoleARN",
            self.service_execution_role_arn.as_ref(),
        );
        v.string(
            "serviceExecutionRoleARN",
            self.service_execution_role_arn.as_deref(),
            1,
            512,
            Some(ROLE_ARN),
        );
        stream_configurations(
            v,
            self.stream_configuration_list.as_deref(),
            "ChannelStreamConfiguration",
            |c| c.stream_arn.as_ref(),
            |v, c, at| {
                v.required(at("recordConfiguration"), c.record_configuration.as_ref());
                if let Some(r) = &c.record_configuration {
                    v.required(
                        at("recordConfiguration.recordFormatType"),
                        r.record_format_type.as_ref(),
                    );
                    v.one_of(
                        at("recordConfiguration.recordFormatType"),
                        r.record_format_type.as_deref(),
                        RECORD_FORMATS,
                    );
                }
            },
        );
        if let Some(d) = &self.s3_destination_configuration {
            if let Some(q) = &d.dead_letter_queue_s3_configuration {
                let at = "s3DestinationConfiguration.deadLetterQueueS3Configuration";
                bucket(
                    v,
                    at,
                    q.bucket_arn.as_ref(),
                    q.expected_bucket_owner.as_ref(),
                );
                v.string(
                    format!("{at}.errorOutputPrefix"),
                    q.error_output_prefix.as_deref(),
                    1,
                    512,
                    Some(ERROR_PREFIX),
                );
            }
            v.required(
                "s3DestinationConfiguration.storageConfiguration",
                d.storage_configuration.as_ref(),
            );
            if let Some(s) = &d.storage_configuration {
                let at = "s3DestinationConfiguration.storageConfiguration";
                bucket(
                    v,
                    at,
                    s.bucket_arn.as_ref(),
                    s.expected_bucket_owner.as_ref(),
                );
                v.string(
                    format!("{at}.outputKeyTemplate"),
                    s.output_key_template.as_deref(),
                    1,
                    1024,
                    Some(KEY_TEMPLATE),
                );
                v.one_of(
                    format!("{at}.storageClass"),
                    s.storage_class.as_deref(),
                    S3_STORAGE_CLASSES,
                );
                v.required(format!("{at}.compressionType"), s.compression_type.as_ref());
                v.one_of(
                    format!("{at}.compressionType"),
                    s.compression_type.as_deref(),
                    S3_COMPRESSIONS,
                );
            }
        }
        if let Some(e) = &self.encryption_configuration {
            v.required(
                "encryptionConfiguration.encryptionType",
                e.encryption_type.as_ref(),
            );
            v.one_of(
                "encryptionConfiguration.encryptionType",
                e.encryption_type.as_deref(),
                &["KMS"],
            );
            v.required("encryptionConfiguration.keyId", e.key_id.as_ref());
            v.string(
                "encryptionConfiguration.keyId",
                e.key_id.as_deref(),
                1,
                2048,
                None,
            );
        }
        tag_map(v, self.tags.as_ref());
        if let Some(l) = &self.logging_configuration {
            logging(v, l);
        }
    }
}

impl Validate for ChannelRef {
    fn check(&self, v: &mut Violations) {
        channel_arn(v, self.channel_arn.as_ref());
    }
}

impl Validate for UpdateChannelInput {
    fn check(&self, v: &mut Violations) {
        channel_arn(v, self.channel_arn.as_ref());
        for (path, d) in [
            (
                "s3DestinationConfiguration",
                &self.s3_destination_configuration,
            ),
            (
                "s3TablesDestinationConfiguration",
                &self.s3_tables_destination_configuration,
            ),
        ] {
            if let Some(d) = d {
                v.required(
                    format!("{path}.dataFreshnessInSeconds"),
                    d.data_freshness_in_seconds.as_ref(),
                );
            }
        }
        if let Some(l) = &self.logging_configuration {
            logging(v, l);
        }
    }
}

impl Validate for ListChannelsInput {
    fn check(&self, v: &mut Violations) {
        v.int("maxResults", self.max_results, Some(1), Some(10000));
        v.string("nextToken", self.next_token.as_deref(), 1, 1_048_576, None);
        stream_filter(v, self.stream_filter.as_deref(), "StreamFilter");
    }
}
