//! Stream metadata as persisted in the storage manifest (JSON), and what derives from it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shardline_wire::{SequenceText, ShardIdText};

use crate::seqnum::{self, SequenceNumber, END_POSITION};

pub const MANIFEST_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CatalogData {
    pub version: u32,
    /// Key for sealing iterators and NextTokens, kept so they survive a restart.
    pub token_key: String,
    pub next_partition: u64,
    pub streams: Vec<StreamMeta>,
    /// Per-account settings (UpdateAccountSettings).
    #[serde(default)]
    pub accounts: std::collections::BTreeMap<String, AccountSettings>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AccountSettings {
    /// MinimumThroughputBillingCommitment: when it was enabled, and when it ended.
    pub commitment_started_ms: Option<u64>,
    pub commitment_ended_ms: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamMode {
    #[serde(rename = "PROVISIONED")]
    Provisioned,
    #[serde(rename = "ON_DEMAND")]
    OnDemand,
}

impl StreamMode {
    /// The mode a request asks for; provisioned unless it says ON_DEMAND.
    pub fn from_details(details: Option<&shardline_wire::shapes::StreamModeDetails>) -> Self {
        match details.and_then(|d| d.stream_mode.as_deref()) {
            Some("ON_DEMAND") => StreamMode::OnDemand,
            _ => StreamMode::Provisioned,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StreamMode::Provisioned => "PROVISIONED",
            StreamMode::OnDemand => "ON_DEMAND",
        }
    }
}

/// How records are placed on shards (`RecordDistributionStrategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Distribution {
    /// By the MD5 of each record's partition key (or its ExplicitHashKey): AWS's default.
    #[default]
    #[serde(rename = "USER_PARTITION_KEY")]
    UserPartitionKey,
    /// Spread evenly over the open shards; partition keys optional and ignored for placement.
    #[serde(rename = "AUTO")]
    Auto,
}

impl Distribution {
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("AUTO") => Distribution::Auto,
            _ => Distribution::UserPartitionKey,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Distribution::UserPartitionKey => "USER_PARTITION_KEY",
            Distribution::Auto => "AUTO",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamStatus {
    Creating,
    Active,
    Updating,
    Deleting,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Updating => "UPDATING",
            StreamStatus::Deleting => "DELETING",
        }
    }

    /// Whether records can be written and read.
    pub fn is_readable(self) -> bool {
        matches!(self, StreamStatus::Active | StreamStatus::Updating)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StreamMeta {
    pub account: String,
    pub name: String,
    pub created_ms: u64,
    /// CREATING until then; statuses derive from times so no timer has to fire.
    pub active_at_ms: u64,
    /// Set by DeleteStream: DELETING until this time, then gone.
    pub deleted_at_ms: Option<u64>,
    pub mode: StreamMode,
    pub retention_hours: u32,
    pub max_record_size_kib: u32,
    pub tags: BTreeMap<String, String>,
    pub shards: Vec<ShardMeta>,
    #[serde(default)]
    pub consumers: Vec<ConsumerMeta>,
    /// Resource policy document (JSON), as given to PutResourcePolicy.
    #[serde(default)]
    pub policy: Option<String>,
    /// UPDATING until then, after a reshard.
    #[serde(default)]
    pub updating_until_ms: Option<u64>,
    /// A reshard accepted but not yet applied: as on AWS, the stream shows and routes to its
    /// shards as they were until it is ACTIVE again, when housekeeping applies it.
    #[serde(default)]
    pub pending_reshard: Option<PendingReshard>,
    /// When UpdateShardCount ran, for its limit of 10 calls a rolling day.
    #[serde(default)]
    pub scaling_history: Vec<u64>,
    /// Shard-level metrics enabled with EnableEnhancedMonitoring.
    #[serde(default)]
    pub shard_level_metrics: Vec<String>,
    #[serde(default)]
    pub warm_throughput_mibps: Option<i64>,
    /// Highest write rate (bytes/s) an on-demand stream has seen; its capacity is twice this.
    #[serde(default)]
    pub on_demand_peak_bytes: u64,
    /// Set while encryption is on: new records are sealed under `data_key`.
    #[serde(default)]
    pub encryption: Option<EncryptionState>,
    /// Every data key the stream has used, so older records still read.
    #[serde(default)]
    pub data_keys: Vec<crate::encryption::DataKey>,
    /// RecordDistributionStrategy (AUTO only on on-demand streams).
    #[serde(default)]
    pub distribution: Distribution,
    /// Queues delivering this stream's records.
    #[serde(default)]
    pub queues: Vec<QueueMeta>,
    /// Channels delivering this stream's records to object storage.
    #[serde(default)]
    pub channels: Vec<ChannelMeta>,
}

/// A reshard waiting for the end of its UPDATING time. Shards are named by index; the hash key
/// is kept as text (the manifest is JSON).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum PendingReshard {
    Split { shard: u32, key: String },
    Merge { shard: u32, adjacent: u32 },
    Scale { target: u32 },
}

/// A channel: where a stream's records are delivered (a general-purpose S3 bucket), with every
/// default filled in, and how far delivery has come.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChannelMeta {
    pub name: String,
    pub id: String,
    pub created_ms: u64,
    /// CREATING until then; records that arrive from then on are delivered.
    pub active_at_ms: u64,
    pub deleted_at_ms: Option<u64>,
    pub updating_until_ms: Option<u64>,
    /// Why the channel is FAILED (a destination that cannot be written).
    pub failed: Option<String>,
    pub role_arn: String,
    pub record: shardline_wire::shapes::RecordConfiguration,
    pub destination: shardline_wire::shapes::S3DestinationConfiguration,
    pub encryption: Option<shardline_wire::shapes::ChannelEncryptionConfiguration>,
    pub logging: shardline_wire::shapes::ChannelLoggingConfiguration,
    pub tags: BTreeMap<String, String>,
    /// Per shard index, the offset delivery continues from (everything before it is in
    /// objects that were written).
    pub delivered: BTreeMap<u32, u64>,
}

impl ChannelMeta {
    pub fn status(&self, now_ms: u64) -> &'static str {
        if self.deleted_at_ms.is_some() {
            "DELETING"
        } else if self.failed.is_some() {
            "FAILED"
        } else if now_ms < self.active_at_ms {
            "CREATING"
        } else if self.updating_until_ms.is_some_and(|t| now_ms < t) {
            "UPDATING"
        } else {
            "ACTIVE"
        }
    }

    /// `arn:aws:kinesis:<region>:<account>:channel/<id>`
    pub fn arn(&self, region: &str, account: &str) -> String {
        format!("arn:aws:kinesis:{region}:{account}:channel/{}", self.id)
    }
}

/// Where a queue starts delivering (`QueueStartingPosition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueueStart {
    #[serde(rename = "TRIM_HORIZON")]
    TrimHorizon,
    #[serde(rename = "LATEST")]
    Latest,
    #[serde(rename = "AT_TIMESTAMP")]
    AtTimestamp(u64),
}

/// A queue on a stream: its configuration; its delivery state lives in its journal partition.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueueMeta {
    pub name: String,
    /// The generated resource id of its ARN.
    pub id: String,
    pub created_ms: u64,
    /// CREATING until then.
    pub active_at_ms: u64,
    /// Set by DeleteQueue: DELETING until then, then gone.
    pub deleted_at_ms: Option<u64>,
    /// UPDATING until then, after UpdateQueue.
    pub updating_until_ms: Option<u64>,
    pub visibility_timeout_secs: u32,
    /// Dead-lettering after this many receives; `None` for TargetType NONE.
    pub max_receive_count: Option<u32>,
    pub start: QueueStart,
    /// The partition journaling its delivery state.
    pub journal: u64,
    pub tags: BTreeMap<String, String>,
}

impl QueueMeta {
    pub fn status(&self, now_ms: u64) -> &'static str {
        if self.deleted_at_ms.is_some() {
            "DELETING"
        } else if now_ms < self.active_at_ms {
            "CREATING"
        } else if self.updating_until_ms.is_some_and(|t| now_ms < t) {
            "UPDATING"
        } else {
            "ACTIVE"
        }
    }

    /// `arn:aws:kinesis:<region>:<account>:queue/<id>`
    pub fn arn(&self, region: &str, account: &str) -> String {
        format!("arn:aws:kinesis:{region}:{account}:queue/{}", self.id)
    }

    /// Records that arrived before this time are not delivered.
    pub fn start_ms(&self) -> u64 {
        match self.start {
            QueueStart::TrimHorizon => 0,
            QueueStart::Latest => self.created_ms,
            QueueStart::AtTimestamp(t) => t,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EncryptionState {
    /// The KMS key id as the client gave it.
    pub key_id: String,
    pub data_key: u64,
}

/// An enhanced fan-out consumer registered on a stream.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConsumerMeta {
    pub name: String,
    pub created_ms: u64,
    /// CREATING until then.
    pub active_at_ms: u64,
    /// Set by DeregisterStreamConsumer: DELETING until then, then gone.
    pub deleted_at_ms: Option<u64>,
    pub tags: BTreeMap<String, String>,
}

impl ConsumerMeta {
    pub fn status(&self, now_ms: u64) -> &'static str {
        if self.deleted_at_ms.is_some() {
            "DELETING"
        } else if now_ms < self.active_at_ms {
            "CREATING"
        } else {
            "ACTIVE"
        }
    }

    /// `<stream ARN>/consumer/<name>:<creation epoch seconds>`
    pub fn arn(&self, stream_arn: &str) -> String {
        format!(
            "{stream_arn}/consumer/{}:{}",
            self.name,
            self.created_ms / 1000
        )
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardMeta {
    pub index: u32,
    pub partition: u64,
    /// Decimal strings: JSON numbers cannot carry 128-bit values portably.
    pub start_hash: String,
    pub end_hash: String,
    pub parent: Option<u32>,
    pub adjacent_parent: Option<u32>,
    pub created_ms: u64,
    pub closed: Option<ClosedShard>,
    /// A closed shard whose records all passed retention: its partition is gone, and the shard
    /// is kept only for its index and its children's lineage.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pruned: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClosedShard {
    /// One past the last offset written to the shard.
    pub end_offset: u64,
    pub closed_ms: u64,
}

impl StreamMeta {
    /// `KMS` while records are sealed on write, else `NONE`.
    pub fn encryption_type(&self) -> &'static str {
        if self.encryption.is_some() {
            "KMS"
        } else {
            "NONE"
        }
    }

    pub fn status(&self, now_ms: u64) -> StreamStatus {
        if self.deleted_at_ms.is_some() {
            StreamStatus::Deleting
        } else if now_ms < self.active_at_ms {
            StreamStatus::Creating
        } else if self.pending_reshard.is_some()
            || self.updating_until_ms.is_some_and(|t| now_ms < t)
        {
            StreamStatus::Updating
        } else {
            StreamStatus::Active
        }
    }

    pub fn arn(&self, region: &str) -> String {
        format!(
            "arn:aws:kinesis:{region}:{}:stream/{}",
            self.account, self.name
        )
    }

    pub fn retention_ms(&self) -> u64 {
        u64::from(self.retention_hours) * 3_600_000
    }

    pub fn open_shards(&self) -> impl Iterator<Item = &ShardMeta> {
        self.shards.iter().filter(|s| s.closed.is_none())
    }
}

impl ShardMeta {
    pub fn id(&self) -> String {
        shard_id(self.index)
    }

    /// [`ShardMeta::id`] inline, for answers that carry it per record.
    pub fn id_text(&self) -> ShardIdText {
        ShardIdText::from(&self.id()).expect("a u32 shard index makes an id of at most 20 bytes")
    }

    pub fn hash_range(&self) -> (u128, u128) {
        (
            self.start_hash.parse().unwrap_or(0),
            self.end_hash.parse().unwrap_or(u128::MAX),
        )
    }

    pub fn starting_sequence_number(&self) -> String {
        SequenceNumber {
            shard_create_secs: self.created_ms / 1000,
            shard_index: self.index,
            position: 0,
            record_secs: self.created_ms / 1000,
        }
        .to_decimal()
    }

    pub fn ending_sequence_number(&self) -> Option<String> {
        self.closed.as_ref().map(|c| {
            SequenceNumber {
                shard_create_secs: self.created_ms / 1000,
                shard_index: self.index,
                position: END_POSITION,
                record_secs: c.closed_ms / 1000,
            }
            .to_decimal()
        })
    }

    /// The sequence number of the record at `offset`. Positions are offsets + 1: position 0
    /// is the shard's starting number, so `AFTER_SEQUENCE_NUMBER` on it reads the first record.
    pub fn sequence_number(&self, offset: u64, timestamp_ms: u64) -> String {
        self.position_number(offset + 1, timestamp_ms)
    }

    /// The number just before the record at `offset`: resuming AFTER it reads that record
    /// (a SubscribeToShard continuation when nothing has been delivered yet).
    pub fn number_before(&self, offset: u64, timestamp_ms: u64) -> String {
        self.position_number(offset, timestamp_ms)
    }

    /// [`ShardMeta::sequence_number`] for runs of records: consecutive records format cheaply.
    pub fn sequence_number_with(
        &self,
        formatter: &mut seqnum::Formatter,
        offset: u64,
        timestamp_ms: u64,
    ) -> SequenceText {
        formatter.format(self.number_at(offset + 1, timestamp_ms))
    }

    fn position_number(&self, position: u64, timestamp_ms: u64) -> String {
        self.number_at(position, timestamp_ms).to_decimal()
    }

    fn number_at(&self, position: u64, timestamp_ms: u64) -> SequenceNumber {
        SequenceNumber {
            shard_create_secs: self.created_ms / 1000,
            shard_index: self.index,
            position,
            record_secs: timestamp_ms / 1000,
        }
    }
}

pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// Reads a shard id as AWS does: the digits after the first `-` (or the whole id), 0..2^31-1.
pub fn parse_shard_id(id: &str) -> Option<u32> {
    let digits = id.split_once('-').map_or(id, |(_, rest)| rest);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok().filter(|i| *i <= i32::MAX as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_ids() {
        assert_eq!(shard_id(1), "shardId-000000000001");
        assert_eq!(parse_shard_id("shardId-000000000001"), Some(1));
        assert_eq!(parse_shard_id("1"), Some(1));
        assert_eq!(parse_shard_id("shard-7"), Some(7));
        assert_eq!(parse_shard_id("shardId-002147483648"), None);
        assert_eq!(parse_shard_id("ABKLFD8"), None);
    }
}
