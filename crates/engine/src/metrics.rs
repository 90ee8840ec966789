//! Metrics under the names of CloudWatch's Kinesis metrics, recorded through the `metrics`
//! facade (the server exports them for Prometheus). Stream-level series carry `StreamName` and
//! `AccountId` labels; shard-level series, recorded only for the metric names a stream enabled
//! with EnableEnhancedMonitoring, carry `ShardId` too, as CloudWatch's dimensions do (the
//! account is CloudWatch's implicit dimension; here it keeps each account's series apart, so
//! `/metrics` can show an account only its own).

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};
use parking_lot::RwLock;

/// Stream-level handles, made once per (stream, metric): `counter!` with a label builds and
/// hashes a key and allocates its labels on every call, a cost the PutRecord profile showed
/// (~5% of the server's CPU). Handles are made on first use, which is always a request, so
/// after the server installed its recorder. Per-shard series (opt-in) are not cached.
struct Handles<T> {
    /// By account, then stream name, then metric name.
    by_stream: RwLock<HashMap<String, ByStream<T>>>,
}

/// One account's handles: by stream name, then metric name.
type ByStream<T> = HashMap<String, HashMap<&'static str, T>>;

impl<T> Handles<T> {
    fn new() -> Self {
        Handles {
            by_stream: RwLock::new(HashMap::new()),
        }
    }

    fn with(
        &self,
        stream: Of<'_>,
        name: &'static str,
        make: impl FnOnce(&'static str, [(&'static str, String); 2]) -> T,
        f: impl FnOnce(&T),
    ) {
        if let Some(h) = self
            .by_stream
            .read()
            .get(stream.account)
            .and_then(|m| m.get(stream.name))
            .and_then(|m| m.get(name))
        {
            f(h);
            return;
        }
        let mut all = self.by_stream.write();
        let h = all
            .entry(stream.account.to_string())
            .or_default()
            .entry(stream.name.to_string())
            .or_default()
            .entry(name)
            .or_insert_with(|| make(name, stream_labels(stream)));
        f(h);
    }
}

/// The stream a metric is about: its account and name.
#[derive(Clone, Copy)]
pub struct Of<'a> {
    pub account: &'a str,
    pub name: &'a str,
}

/// The series of the stream `name` of `account`.
pub fn of<'a>(account: &'a str, name: &'a str) -> Of<'a> {
    Of { account, name }
}

static COUNTERS: LazyLock<Handles<Counter>> = LazyLock::new(Handles::new);
static GAUGES: LazyLock<Handles<Gauge>> = LazyLock::new(Handles::new);
static HISTOGRAMS: LazyLock<Handles<Histogram>> = LazyLock::new(Handles::new);

fn count(stream: Of<'_>, name: &'static str, n: u64) {
    COUNTERS.with(stream, name, |k, l| counter!(k, &l), |c| c.increment(n));
}

fn set(stream: Of<'_>, name: &'static str, v: f64) {
    GAUGES.with(stream, name, |k, l| gauge!(k, &l), |g| g.set(v));
}

fn record(stream: Of<'_>, name: &'static str, v: f64) {
    HISTOGRAMS.with(stream, name, |k, l| histogram!(k, &l), |h| h.record(v));
}

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

fn stream_labels(stream: Of<'_>) -> [(&'static str, String); 2] {
    [
        ("StreamName", stream.name.to_string()),
        ("AccountId", stream.account.to_string()),
    ]
}

fn shard_labels(stream: Of<'_>, shard: &str) -> [(&'static str, String); 3] {
    [
        ("StreamName", stream.name.to_string()),
        ("AccountId", stream.account.to_string()),
        ("ShardId", shard.to_string()),
    ]
}

/// Records accepted into a shard.
pub fn incoming(stream: Of<'_>, shard: &str, records: u64, bytes: u64, enhanced: Enhanced) {
    count(stream, "IncomingRecords", records);
    count(stream, "IncomingBytes", bytes);
    if enhanced.incoming_records {
        counter!("IncomingRecords", &shard_labels(stream, shard)).increment(records);
    }
    if enhanced.incoming_bytes {
        counter!("IncomingBytes", &shard_labels(stream, shard)).increment(bytes);
    }
}

/// Writes refused by a shard's throughput limit.
pub fn write_exceeded(stream: Of<'_>, shard: &str, records: u64, enhanced: Enhanced) {
    count(stream, "WriteProvisionedThroughputExceeded", records);
    if enhanced.write_exceeded {
        counter!(
            "WriteProvisionedThroughputExceeded",
            &shard_labels(stream, shard)
        )
        .increment(records);
    }
}

/// Reads refused by a shard's throughput limit.
pub fn read_exceeded(stream: Of<'_>, shard: &str, enhanced: Enhanced) {
    count(stream, "ReadProvisionedThroughputExceeded", 1);
    if enhanced.read_exceeded {
        counter!(
            "ReadProvisionedThroughputExceeded",
            &shard_labels(stream, shard)
        )
        .increment(1);
    }
}

pub fn put_record(stream: Of<'_>, bytes: u64, latency: Duration, success: bool) {
    count(stream, "PutRecord.Success", u64::from(success));
    if success {
        count(stream, "PutRecord.Bytes", bytes);
    }
    record(stream, "PutRecord.Latency", latency.as_secs_f64() * 1000.0);
}

pub fn put_records(
    stream: Of<'_>,
    total: u64,
    successful: u64,
    throttled: u64,
    bytes: u64,
    latency: Duration,
) {
    count(stream, "PutRecords.Success", 1);
    count(stream, "PutRecords.TotalRecords", total);
    count(stream, "PutRecords.SuccessfulRecords", successful);
    count(
        stream,
        "PutRecords.FailedRecords",
        total - successful - throttled,
    );
    count(stream, "PutRecords.ThrottledRecords", throttled);
    count(stream, "PutRecords.Bytes", bytes);
    record(stream, "PutRecords.Latency", latency.as_secs_f64() * 1000.0);
}

/// A GetRecords call that returned `records` of `bytes`, `age_ms` behind the tip.
#[allow(clippy::too_many_arguments)]
pub fn get_records(
    stream: Of<'_>,
    shard: &str,
    records: u64,
    bytes: u64,
    age_ms: i64,
    latency: Duration,
    enhanced: Enhanced,
) {
    count(stream, "GetRecords.Success", 1);
    count(stream, "GetRecords.Records", records);
    count(stream, "GetRecords.Bytes", bytes);
    set(stream, "GetRecords.IteratorAgeMilliseconds", age_ms as f64);
    record(stream, "GetRecords.Latency", latency.as_secs_f64() * 1000.0);
    outgoing(stream, shard, records, bytes, age_ms, enhanced);
}

/// A SubscribeToShard event pushed to a consumer.
pub fn subscribe_event(
    stream: Of<'_>,
    shard: &str,
    records: u64,
    bytes: u64,
    behind_ms: i64,
    enhanced: Enhanced,
) {
    count(stream, "SubscribeToShardEvent.Success", 1);
    count(stream, "SubscribeToShardEvent.Records", records);
    count(stream, "SubscribeToShardEvent.Bytes", bytes);
    set(
        stream,
        "SubscribeToShardEvent.MillisBehindLatest",
        behind_ms as f64,
    );
    outgoing(stream, shard, records, bytes, behind_ms, enhanced);
}

pub fn subscribe(stream: Of<'_>, success: bool, rate_exceeded: bool) {
    count(stream, "SubscribeToShard.Success", u64::from(success));
    count(
        stream,
        "SubscribeToShard.RateExceeded",
        u64::from(rate_exceeded),
    );
}

fn outgoing(
    stream: Of<'_>,
    shard: &str,
    records: u64,
    bytes: u64,
    age_ms: i64,
    enhanced: Enhanced,
) {
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
