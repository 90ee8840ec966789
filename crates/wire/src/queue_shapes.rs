//! Shapes of the queue operations (CreateQueue … RestoreDeadLetterQueueRecords), named and laid
//! out as in the Kinesis model (botocore 1.44.5). Re-exported from [`crate::shapes`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Blob, Timestamp};

// ---------------------------------------------------------------- configuration

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct QueueStartingPosition {
    #[serde(rename = "Type")]
    pub position_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct QueueStreamConfiguration {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::maps_only::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub starting_position: Option<QueueStartingPosition>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfiguration {
    pub target_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_receive_count: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct QueueAttributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility_timeout_seconds: Option<i64>,
    #[serde(
        default,
        deserialize_with = "crate::maps_only::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub dead_letter_configuration: Option<DeadLetterConfiguration>,
}

// ---------------------------------------------------------------- control plane

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateQueueInput {
    pub queue_name: Option<String>,
    #[serde(default, deserialize_with = "crate::maps_only::optional_list")]
    pub stream_configuration_list: Option<Vec<QueueStreamConfiguration>>,
    #[serde(default, deserialize_with = "crate::maps_only::optional")]
    pub queue_attributes: Option<QueueAttributes>,
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueDescription {
    pub queue_name: String,
    #[serde(rename = "QueueARN")]
    pub queue_arn: String,
    pub queue_status: &'static str,
    pub queue_creation_timestamp: Timestamp,
    pub stream_configuration_list: Vec<QueueStreamConfiguration>,
    pub queue_attributes: QueueAttributes,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueDescriptionOutput {
    pub queue_description: QueueDescription,
}

pub type CreateQueueOutput = QueueDescriptionOutput;
pub type DescribeQueueOutput = QueueDescriptionOutput;
pub type UpdateQueueOutput = QueueDescriptionOutput;

/// Inputs that name only a queue: DescribeQueue, DeleteQueue.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueRef {
    #[serde(rename = "QueueARN")]
    pub queue_arn: Option<String>,
}

pub type DescribeQueueInput = QueueRef;
pub type DeleteQueueInput = QueueRef;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateQueueInput {
    #[serde(rename = "QueueARN")]
    pub queue_arn: Option<String>,
    #[serde(default, deserialize_with = "crate::maps_only::optional")]
    pub queue_attributes: Option<QueueAttributes>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueStreamFilter {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub stream_creation_timestamp: Option<Timestamp>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueuesInput {
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    #[serde(default, deserialize_with = "crate::maps_only::optional_list")]
    pub stream_filter: Option<Vec<QueueStreamFilter>>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueStreamIdentifier {
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
    pub stream_creation_timestamp: Timestamp,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueSummary {
    pub queue_name: String,
    #[serde(rename = "QueueARN")]
    pub queue_arn: String,
    pub queue_status: &'static str,
    pub queue_creation_timestamp: Timestamp,
    pub streams: Vec<QueueStreamIdentifier>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueuesOutput {
    pub queue_summaries: Vec<QueueSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

// ---------------------------------------------------------------- data plane

/// ReceiveQueueRecords and ReceiveDeadLetterQueueRecords.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveQueueRecordsInput {
    #[serde(rename = "QueueARN")]
    pub queue_arn: Option<String>,
    pub limit: Option<i64>,
    pub wait_time_seconds: Option<i64>,
    pub visibility_timeout_seconds: Option<i64>,
}

pub type ReceiveDeadLetterQueueRecordsInput = ReceiveQueueRecordsInput;

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct QueueRecord {
    pub receipt_handle: String,
    pub record_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition_key: String,
    pub data: Blob,
    pub approximate_arrival_timestamp: Timestamp,
    pub first_receive_timestamp: Timestamp,
    pub receive_count: i64,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveQueueRecordsOutput {
    pub queue_records: Vec<QueueRecord>,
}

pub type ReceiveDeadLetterQueueRecordsOutput = ReceiveQueueRecordsOutput;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiptEntry {
    pub receipt_handle: Option<String>,
    /// Only in the visibility operations' entries.
    pub visibility_timeout_seconds: Option<i64>,
}

/// The batch operations on receipt handles: acknowledging, changing visibility and restoring
/// (normal and dead-letter records alike).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiptEntriesInput {
    #[serde(rename = "QueueARN")]
    pub queue_arn: Option<String>,
    #[serde(default, deserialize_with = "crate::maps_only::optional_list")]
    pub entries: Option<Vec<ReceiptEntry>>,
}

pub type AcknowledgeQueueRecordsInput = ReceiptEntriesInput;
pub type UpdateQueueRecordsVisibilityInput = ReceiptEntriesInput;
pub type AcknowledgeDeadLetterQueueRecordsInput = ReceiptEntriesInput;
pub type UpdateDeadLetterQueueRecordsVisibilityInput = ReceiptEntriesInput;
pub type RestoreDeadLetterQueueRecordsInput = ReceiptEntriesInput;

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiptResultEntry {
    pub receipt_handle: String,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiptErrorEntry {
    pub receipt_handle: String,
    pub error_code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// What every batch operation on receipt handles answers (HTTP 200 even when entries failed).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiptEntriesOutput {
    pub successful: Vec<ReceiptResultEntry>,
    pub failed: Vec<ReceiptErrorEntry>,
}
