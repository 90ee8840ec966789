/// Settings of the engine. Defaults mirror AWS where AWS has a number.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub region: String,
    /// How long a new stream stays CREATING.
    pub create_delay_ms: u64,
    /// How long a deleted stream stays DELETING.
    pub delete_delay_ms: u64,
    /// Shard iterators expire this long after they are issued (AWS: 5 minutes).
    pub iterator_ttl_ms: u64,
    /// NextTokens expire this long after they are issued (AWS: 300 s).
    pub next_token_ttl_ms: u64,
    /// Open shards an account may have.
    pub shard_limit: u32,
    /// Shards of a new on-demand stream (AWS: 4).
    pub on_demand_shards: u32,
    /// Retention of new streams, in hours (AWS: 24).
    pub default_retention_hours: u32,
    /// Wraps the per-stream data keys of encrypted streams.
    pub master_key: [u8; 32],
    /// KMS key ids accepted besides `alias/aws/kinesis`.
    pub kms_keys: Vec<String>,
    /// Per-shard throughput limits.
    pub limits: crate::Limits,
    /// How long two adjacent shards of an on-demand stream stay cold before they are merged.
    pub on_demand_cooldown_ms: u64,
    /// Channels can be created: an S3 endpoint to deliver to is configured.
    pub channels: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            region: "us-east-1".into(),
            create_delay_ms: 500,
            delete_delay_ms: 500,
            iterator_ttl_ms: 300_000,
            next_token_ttl_ms: 300_000,
            shard_limit: 20_000,
            on_demand_shards: 4,
            default_retention_hours: 24,
            master_key: [0; 32],
            kms_keys: Vec::new(),
            limits: crate::Limits::aws(),
            on_demand_cooldown_ms: 3_600_000,
            channels: false,
        }
    }
}

/// Who is calling and what for: the account whose streams a request sees, and the
/// operation (checked against resource policies when reaching into another account).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub account_id: String,
    pub operation: shardline_wire::Operation,
}
