//! Channels' delivery (the Firehose role): each ACTIVE channel's stream records, buffered in
//! memory, written to S3 as objects when the oldest buffered record is `DataFreshnessInSeconds`
//! old or the buffer reaches the object size; then, and only then, the positions are recorded
//! through the engine (in the manifest), so a crash redelivers at most the objects in flight
//! (at-least-once, no gaps). Records that fail the channel's format go to a dead-letter object.
//! A destination that refuses (no such bucket, access denied) puts the channel in FAILED.
//!
//! - `object.rs`: formatting, validation, compression, the key template.
//! - `s3.rs`: PutObject on an S3-compatible endpoint, SigV4-signed.

mod object;
mod s3;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shardline_engine::{ChannelTask, Engine, DEFAULT_KEY_TEMPLATE};

pub use object::{expand, KeyParts};
pub use s3::S3Config;

use object::Item;
use s3::{bucket_of, put_object, PutError};

/// How delivery runs.
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    pub s3: S3Config,
    /// An object is written once this many bytes of records are buffered (or the freshness
    /// interval passes).
    pub object_bytes: usize,
    /// How often channels are looked at.
    pub poll: Duration,
    /// Caps every channel's DataFreshnessInSeconds (AWS's minimum is 300 s): for tests and
    /// demonstrations that cannot wait five minutes.
    pub max_wait: Option<Duration>,
}

/// What one channel has buffered and not yet written.
#[derive(Default)]
struct Pending {
    items: Vec<Item>,
    bytes: usize,
    /// When the oldest buffered record was read.
    since: Option<Instant>,
    /// Per shard, where reading continues (past the buffered records).
    next: BTreeMap<u32, u64>,
    /// Failed writes in a row, for back-off.
    failures: u32,
    retry_at: Option<Instant>,
}

/// Runs delivery until the task is dropped.
pub async fn run(engine: Arc<Engine>, config: DeliveryConfig) {
    let mut pending: HashMap<String, Pending> = HashMap::new();
    let mut ticker = tokio::time::interval(config.poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let tasks = engine.channel_tasks();
        pending.retain(|id, _| tasks.iter().any(|t| &t.meta.id == id));
        for task in tasks {
            let p = pending.entry(task.meta.id.clone()).or_default();
            if let Err(e) = step(&engine, &config, &task, p).await {
                tracing::warn!(channel = task.meta.name, error = %e, "channel delivery");
            }
        }
    }
}

/// Reads what is new for a channel and writes an object when one is due.
async fn step(
    engine: &Arc<Engine>,
    config: &DeliveryConfig,
    task: &ChannelTask,
    p: &mut Pending,
) -> Result<(), String> {
    // Read while the buffer has room.
    for &(shard, delivered) in &task.shards {
        let mut from = p.next.get(&shard).copied().or(delivered);
        while p.bytes < config.object_bytes {
            let e = engine.clone();
            let t = task.clone();
            let read = tokio::task::spawn_blocking(move || {
                e.channel_read(&t, shard, from, 10_000, 8 << 20)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
            let moved = Some(read.next) != from;
            from = Some(read.next);
            p.next.insert(shard, read.next);
            for (_, record) in read.records {
                p.bytes += record.data.0.len() + record.partition_key.len();
                p.since.get_or_insert_with(Instant::now);
                p.items.push(Item { shard, record });
            }
            if !moved || read.at_end {
                break;
            }
        }
    }
    let mut freshness = Duration::from_secs(
        task.meta
            .destination
            .data_freshness_in_seconds
            .unwrap_or(300)
            .max(0) as u64,
    );
    if let Some(cap) = config.max_wait {
        freshness = freshness.min(cap);
    }
    let due = p.bytes >= config.object_bytes || p.since.is_some_and(|s| s.elapsed() >= freshness);
    let backing_off = p.retry_at.is_some_and(|t| Instant::now() < t);
    if !due || backing_off {
        return Ok(());
    }
    if p.items.is_empty() {
        return Ok(());
    }
    match write(config, task, &p.items).await {
        Ok(()) => {
            engine
                .channel_delivered(task, &p.next)
                .map_err(|e| e.to_string())?;
            metrics(task, p.items.len(), p.bytes);
            p.items.clear();
            p.bytes = 0;
            p.since = None;
            p.failures = 0;
            p.retry_at = None;
            Ok(())
        }
        Err(PutError::Permanent(reason)) => {
            tracing::warn!(channel = task.meta.name, reason, "channel FAILED");
            engine
                .channel_failed(task, reason)
                .map_err(|e| e.to_string())?;
            Ok(())
        }
        Err(PutError::Transient(reason)) => {
            p.failures += 1;
            let wait = Duration::from_millis(200 << p.failures.min(8));
            p.retry_at = Some(Instant::now() + wait);
            Err(format!("will retry in {wait:?}: {reason}"))
        }
    }
}

fn metrics(task: &ChannelTask, records: usize, bytes: usize) {
    tracing::debug!(channel = task.meta.name, records, bytes, "object delivered");
}

/// Writes a batch: its object (and a dead-letter object for records that failed validation).
async fn write(
    config: &DeliveryConfig,
    task: &ChannelTask,
    items: &[Item],
) -> Result<(), PutError> {
    let meta = &task.meta;
    let storage = meta
        .destination
        .storage_configuration
        .clone()
        .unwrap_or_default();
    let format = meta
        .record
        .record_format_type
        .clone()
        .unwrap_or_else(|| "BYTE_ARRAY".into());
    let compression = storage
        .compression_type
        .clone()
        .unwrap_or_else(|| "NONE".into());
    let stream_arn = format!(
        "arn:aws:kinesis:{}:{}:stream/{}",
        config.s3.region, task.account, task.stream
    );
    let formatted = object::format(&format, &stream_arn, items);
    let first = &items[0];
    // The batch's first position: the same batch gets the same key if written again.
    let suffix = format!("-{}-{}", first.shard, first.record.sequence_number);
    let time_ms = first.record.approximate_arrival_timestamp.millis.max(0) as u64;
    let extension = object::extension(&format, &compression);
    let parts = KeyParts {
        channel_name: &meta.name,
        channel_id: &meta.id,
        stream_name: &task.stream,
        time_ms,
        extension: &extension,
        suffix: &suffix,
    };
    let template = storage
        .output_key_template
        .clone()
        .unwrap_or_else(|| DEFAULT_KEY_TEMPLATE.to_string());
    let bucket_arn = storage.bucket_arn.clone().unwrap_or_default();
    let bucket = bucket_of(&bucket_arn)
        .ok_or_else(|| PutError::Permanent(format!("no bucket in {bucket_arn}")))?;
    let mut headers = vec![(
        "x-amz-storage-class",
        storage
            .storage_class
            .clone()
            .unwrap_or_else(|| "STANDARD".into()),
    )];
    if let Some(owner) = &storage.expected_bucket_owner {
        headers.push(("x-amz-expected-bucket-owner", owner.clone()));
    }
    if formatted.delivered > 0 {
        let body = object::compress(&compression, formatted.body)
            .map_err(|e| PutError::Transient(e.to_string()))?;
        let key = expand(&template, &parts);
        put_object(&config.s3, bucket, &key, body, &headers).await?;
    }
    if formatted.failed > 0 {
        let dlq = meta
            .destination
            .dead_letter_queue_s3_configuration
            .clone()
            .unwrap_or_default();
        let dlq_bucket_arn = dlq.bucket_arn.clone().unwrap_or(bucket_arn.clone());
        let dlq_bucket = bucket_of(&dlq_bucket_arn)
            .ok_or_else(|| PutError::Permanent(format!("no bucket in {dlq_bucket_arn}")))?;
        let prefix = dlq.error_output_prefix.clone().unwrap_or_default();
        let key = format!(
            "{prefix}{}",
            expand(
                "!{yyyy}/!{MM}/!{dd}/!{HH}/errors-!{yyyy}-!{MM}-!{dd}-!{HH}-!{mm}!{extension:.json}",
                &parts
            )
        );
        let mut headers = Vec::new();
        if let Some(owner) = &dlq.expected_bucket_owner {
            headers.push(("x-amz-expected-bucket-owner", owner.clone()));
        }
        put_object(&config.s3, dlq_bucket, &key, formatted.errors, &headers).await?;
    }
    Ok(())
}
