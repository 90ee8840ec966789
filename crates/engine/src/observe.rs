//! Metrics under the names of CloudWatch's Kinesis metrics, recorded through the `metrics`
//! facade (the server exports them for Prometheus). Stream-level series carry a `StreamName`
//! label; shard-level series, recorded only for the metric names a stream enabled with
//! EnableEnhancedMonitoring, carry `StreamName` and `ShardId`, as CloudWatch's dimensions do.

use std::time::Duration;

use metrics::{counter, gauge, histogram};

/// The shard-level metrics a stream has enabled, looked up once per call.
#[derive(Clone, Copy, Default)]
pub struct Enhanced {
    incoming_bytes: bool,
    incoming_records: bool,
    outgoing_bytes: bool,
    outgoing_records: bool,
    write_exceeded: bool,
    read_exceeded: bool,
    iterator_age: bool,
}

impl Enhanced {
    pub fn of(names: &[String]) -> Self {
        let has = |n: &str| names.iter().any(|m| m == n);
        Enhanced {
            incoming_bytes: has("IncomingBytes"),
            incoming_records: has("IncomingRecords"),
            outgoing_bytes: has("OutgoingBytes"),
            outgoing_records: has("OutgoingRecords"),
            write_exceeded: has("WriteProvisionedThroughputExceeded"),
            read_exceeded: has("ReadProvisionedThroughputExceeded"),
            iterator_age: has("IteratorAgeMilliseconds"),
        }
    }
}

fn stream_label(stream: &str) -> [(&'static str, String); 1] {
    [("StreamName", stream.to_string())]
}

fn shard_labels(stream: &str, shard: &str) -> [(&'static str, String); 2] {
    [
        ("StreamName", stream.to_string()),
        ("ShardId", shard.to_string()),
    ]
}

/// Records accepted into a shard.
pub fn incoming(stream: &str, shard: &str, records: u64, bytes: u64, enhanced: Enhanced) {
    counter!("IncomingRecords", &stream_label(stream)).increment(records);
    counter!("IncomingBytes", &stream_label(stream)).increment(bytes);
    if enhanced.incoming_records {
        counter!("IncomingRecords", &shard_labels(stream, shard)).increment(records);
    }
    if enhanced.incoming_bytes {
        counter!("IncomingBytes", &shard_labels(stream, shard)).increment(bytes);
    }
}

/// Writes refused by a shard's throughput limit.
pub fn write_exceeded(stream: &str, shard: &str, records: u64, enhanced: Enhanced) {
    counter!("WriteProvisionedThroughputExceeded", &stream_label(stream)).increment(records);
    if enhanced.write_exceeded {
        counter!(
            "WriteProvisionedThroughputExceeded",
            &shard_labels(stream, shard)
        )
        .increment(records);
    }
}

/// Reads refused by a shard's throughput limit.
pub fn read_exceeded(stream: &str, shard: &str, enhanced: Enhanced) {
    counter!("ReadProvisionedThroughputExceeded", &stream_label(stream)).increment(1);
    if enhanced.read_exceeded {
        counter!(
            "ReadProvisionedThroughputExceeded",
            &shard_labels(stream, shard)
        )
        .increment(1);
    }
}

pub fn put_record(stream: &str, bytes: u64, latency: Duration, success: bool) {
    let l = stream_label(stream);
    counter!("PutRecord.Success", &l).increment(u64::from(success));
    if success {
        counter!("PutRecord.Bytes", &l).increment(bytes);
    }
    histogram!("PutRecord.Latency", &l).record(latency.as_secs_f64() * 1000.0);
}

pub fn put_records(
    stream: &str,
    total: u64,
    successful: u64,
    throttled: u64,
    bytes: u64,
    latency: Duration,
) {
    let l = stream_label(stream);
    counter!("PutRecords.Success", &l).increment(1);
    counter!("PutRecords.TotalRecords", &l).increment(total);
    counter!("PutRecords.SuccessfulRecords", &l).increment(successful);
    counter!("PutRecords.FailedRecords", &l).increment(total - successful - throttled);
    counter!("PutRecords.ThrottledRecords", &l).increment(throttled);
    counter!("PutRecords.Bytes", &l).increment(bytes);
    histogram!("PutRecords.Latency", &l).record(latency.as_secs_f64() * 1000.0);
}

/// A GetRecords call that returned `records` of `bytes`, `age_ms` behind the tip.
#[allow(clippy::too_many_arguments)]
pub fn get_records(
    stream: &str,
    shard: &str,
    records: u64,
    bytes: u64,
    age_ms: i64,
    latency: Duration,
    enhanced: Enhanced,
) {
    let l = stream_label(stream);
    counter!("GetRecords.Success", &l).increment(1);
    counter!("GetRecords.Records", &l).increment(records);
    counter!("GetRecords.Bytes", &l).increment(bytes);
    gauge!("GetRecords.IteratorAgeMilliseconds", &l).set(age_ms as f64);
    histogram!("GetRecords.Latency", &l).record(latency.as_secs_f64() * 1000.0);
    outgoing(stream, shard, records, bytes, age_ms, enhanced);
}

/// A SubscribeToShard event pushed to a consumer.
pub fn subscribe_event(
    stream: &str,
    shard: &str,
    records: u64,
    bytes: u64,
    behind_ms: i64,
    enhanced: Enhanced,
) {
    let l = stream_label(stream);
    counter!("SubscribeToShardEvent.Success", &l).increment(1);
    counter!("SubscribeToShardEvent.Records", &l).increment(records);
    counter!("SubscribeToShardEvent.Bytes", &l).increment(bytes);
    gauge!("SubscribeToShardEvent.MillisBehindLatest", &l).set(behind_ms as f64);
    outgoing(stream, shard, records, bytes, behind_ms, enhanced);
}

pub fn subscribe(stream: &str, success: bool, rate_exceeded: bool) {
    let l = stream_label(stream);
    counter!("SubscribeToShard.Success", &l).increment(u64::from(success));
    counter!("SubscribeToShard.RateExceeded", &l).increment(u64::from(rate_exceeded));
}

fn outgoing(stream: &str, shard: &str, records: u64, bytes: u64, age_ms: i64, enhanced: Enhanced) {
    if enhanced.outgoing_records {
        counter!("OutgoingRecords", &shard_labels(stream, shard)).increment(records);
    }
    if enhanced.outgoing_bytes {
        counter!("OutgoingBytes", &shard_labels(stream, shard)).increment(bytes);
    }
    if enhanced.iterator_age {
        gauge!("IteratorAgeMilliseconds", &shard_labels(stream, shard)).set(age_ms as f64);
    }
}
