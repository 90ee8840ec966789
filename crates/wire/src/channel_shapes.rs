//! Shapes of the channel operations (CreateChannel, DescribeChannel, ListChannels,
//! UpdateChannel, DeleteChannel), named and laid out as in the Kinesis model (botocore 1.44.5).
//! Structures that requests and descriptions share are one type here, with every member
//! optional on the way in. Re-exported from [`crate::shapes`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Timestamp;

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RecordConfiguration {
    pub record_format_type: Option<String>,
    #[serde(rename = "GSRSchemaARN", skip_serializing_if = "Option::is_none")]
    pub gsr_schema_arn: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelStreamConfiguration {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    #[serde(default, deserialize_with = "crate::maps_only::optional")]
    pub record_configuration: Option<RecordConfiguration>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterQueueS3Configuration {
    #[serde(rename = "BucketARN")]
    pub bucket_arn: Option<String>,
    pub expected_bucket_owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_output_prefix: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct S3StorageConfiguration {
    #[serde(rename = "BucketARN")]
    pub bucket_arn: Option<String>,
    pub expected_bucket_owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_key_template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    pub compression_type: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct S3DestinationConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_freshness_in_seconds: Option<i64>,
    #[serde(
        default,
        deserialize_with = "crate::maps_only::optional",
        rename = "DeadLetterQueueS3Configuration",
        skip_serializing_if = "Option::is_none"
    )]
    pub dead_letter_queue_s3_configuration: Option<DeadLetterQueueS3Configuration>,
    #[serde(
        default,
        deserialize_with = "crate::maps_only::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub storage_configuration: Option<S3StorageConfiguration>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelEncryptionConfiguration {
    pub encryption_type: Option<String>,
    pub key_id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct CloudWatchLogs {
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_stream_name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelLoggingConfiguration {
    #[serde(default, deserialize_with = "crate::maps_only::optional")]
    pub cloud_watch_logs: Option<CloudWatchLogs>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateChannelInput {
    pub channel_name: Option<String>,
    #[serde(rename = "ServiceExecutionRoleARN")]
    pub service_execution_role_arn: Option<String>,
    #[serde(default, deserialize_with = "crate::maps_only::optional_list")]
    pub stream_configuration_list: Option<Vec<ChannelStreamConfiguration>>,
    #[serde(default, deserialize_with = "crate::maps_only::optional")]
    pub s3_destination_configuration: Option<S3DestinationConfiguration>,
    /// Streaming tables (S3 Tables / Iceberg): read only to be refused.
    pub s3_tables_destination_configuration: Option<serde::de::IgnoredAny>,
    #[serde(default, deserialize_with = "crate::maps_only::optional")]
    pub encryption_configuration: Option<ChannelEncryptionConfiguration>,
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "crate::maps_only::optional")]
    pub logging_configuration: Option<ChannelLoggingConfiguration>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelStreamDescription {
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
    pub stream_creation_timestamp: Timestamp,
    pub record_configuration: RecordConfiguration,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelDescription {
    pub channel_name: String,
    #[serde(rename = "ChannelARN")]
    pub channel_arn: String,
    pub channel_id: String,
    pub channel_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_status_reason: Option<String>,
    pub channel_creation_timestamp: Timestamp,
    #[serde(rename = "ServiceExecutionRoleARN")]
    pub service_execution_role_arn: String,
    pub stream_configuration_list: Vec<ChannelStreamDescription>,
    pub s3_destination_configuration: S3DestinationConfiguration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_configuration: Option<ChannelEncryptionConfiguration>,
    pub logging_configuration: ChannelLoggingConfiguration,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelDescriptionOutput {
    pub channel_description: ChannelDescription,
}

pub type CreateChannelOutput = ChannelDescriptionOutput;
pub type DescribeChannelOutput = ChannelDescriptionOutput;
pub type UpdateChannelOutput = ChannelDescriptionOutput;

/// Inputs that name only a channel: DescribeChannel, DeleteChannel.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelRef {
    #[serde(rename = "ChannelARN")]
    pub channel_arn: Option<String>,
}

pub type DescribeChannelInput = ChannelRef;
pub type DeleteChannelInput = ChannelRef;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FreshnessUpdate {
    pub data_freshness_in_seconds: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateChannelInput {
    #[serde(rename = "ChannelARN")]
    pub channel_arn: Option<String>,
    #[serde(default, deserialize_with = "crate::maps_only::optional")]
    pub s3_destination_configuration: Option<FreshnessUpdate>,
    #[serde(default, deserialize_with = "crate::maps_only::optional")]
    pub s3_tables_destination_configuration: Option<FreshnessUpdate>,
    #[serde(default, deserialize_with = "crate::maps_only::optional")]
    pub logging_configuration: Option<ChannelLoggingConfiguration>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListChannelsInput {
    #[serde(default, deserialize_with = "crate::maps_only::optional_list")]
    pub stream_filter: Option<Vec<QueueStreamFilter>>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

use crate::queue_shapes::{QueueStreamFilter, QueueStreamIdentifier};

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelSummary {
    pub channel_name: String,
    #[serde(rename = "ChannelARN")]
    pub channel_arn: String,
    pub channel_id: String,
    pub channel_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_status_reason: Option<String>,
    pub channel_creation_timestamp: Timestamp,
    pub channel_destination_type: &'static str,
    pub streams: Vec<QueueStreamIdentifier>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListChannelsOutput {
    pub channel_summaries: Vec<ChannelSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}
