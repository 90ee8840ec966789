//! Per-shard throughput limits, as AWS enforces them (`--limits aws`, the default) or not at
//! all (`--limits off`).
//!
//! Each limit is a token bucket: tokens accrue at the limit's rate and the bucket holds at
//! most one second of them, so a quiet shard may burst up to one second's worth at once and a
//! busy one is held to the rate. The write-bytes bucket holds 10 MiB, so a quiet shard takes
//! one record of the largest size AWS allows, as AWS documents for large records. Reads may overdraw the byte bucket: a GetRecords call that
//! returned 10 MiB (5 seconds of a 2 MiB/s allowance) leaves the bucket 4 seconds in debt, and
//! calls in those seconds are refused, as AWS documents.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

/// The limits in force; `None` fields are not enforced.
#[derive(Clone, Debug)]
pub struct Limits {
    pub write_bytes_per_sec: Option<u64>,
    pub write_records_per_sec: Option<u64>,
    pub read_calls_per_sec: Option<u64>,
    pub read_bytes_per_sec: Option<u64>,
    pub iterator_calls_per_sec: Option<u64>,
    /// Control-plane call rates per account (the model documents e.g. 5 a second for
    /// CreateStream and SplitShard, 10 for DescribeStream), the CREATING cap, and one
    /// SubscribeToShard call a second per consumer and shard.
    pub control_plane: bool,
    /// SubscribeToShard push throughput per consumer and shard.
    pub subscribe_bytes_per_sec: Option<u64>,
}

impl Limits {
    /// AWS's per-shard limits.
    pub fn aws() -> Self {
        Limits {
            write_bytes_per_sec: Some(1024 * 1024),
            write_records_per_sec: Some(1000),
            read_calls_per_sec: Some(5),
            read_bytes_per_sec: Some(2 * 1024 * 1024),
            iterator_calls_per_sec: Some(5),
            control_plane: true,
            subscribe_bytes_per_sec: Some(2 * 1024 * 1024),
        }
    }

    pub fn off() -> Self {
        Limits {
            write_bytes_per_sec: None,
            write_records_per_sec: None,
            read_calls_per_sec: None,
            read_bytes_per_sec: None,
            iterator_calls_per_sec: None,
            control_plane: false,
            subscribe_bytes_per_sec: None,
        }
    }
}

/// A token bucket holding at most one second of its rate; `tokens` may go negative (debt).
#[derive(Debug)]
struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: u64) -> Self {
        Self::with_capacity(rate, rate)
    }

    fn with_capacity(rate: u64, capacity: u64) -> Self {
        Bucket {
            rate: rate as f64,
            capacity: capacity as f64,
            tokens: capacity as f64,
            last: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = now;
    }
}

/// A shard may take one record as large as AWS allows (10 MiB) in a burst while averaging
/// its byte rate, as AWS documents for large records.
const WRITE_BURST_BYTES: u64 = 10 * 1024 * 1024;

/// The buckets of one shard, and what it took in since on-demand scaling last looked.
#[derive(Debug, Default)]
pub struct ShardLimiter {
    state: Mutex<Buckets>,
    /// False when neither write bucket exists (`--limits off`): writes then skip the lock.
    writes_limited: bool,
    written_bytes: AtomicU64,
    written_records: AtomicU64,
}

#[derive(Debug, Default)]
struct Buckets {
    write_bytes: Option<Bucket>,
    write_records: Option<Bucket>,
    read_calls: Option<Bucket>,
    read_bytes: Option<Bucket>,
    iterator_calls: Option<Bucket>,
}

impl ShardLimiter {
    pub fn new(limits: &Limits) -> Self {
        ShardLimiter {
            writes_limited: limits.write_bytes_per_sec.is_some()
                || limits.write_records_per_sec.is_some(),
            written_bytes: AtomicU64::new(0),
            written_records: AtomicU64::new(0),
            state: Mutex::new(Buckets {
                write_bytes: limits
                    .write_bytes_per_sec
                    .map(|r| Bucket::with_capacity(r, r.max(WRITE_BURST_BYTES))),
                write_records: limits.write_records_per_sec.map(Bucket::new),
                read_calls: limits.read_calls_per_sec.map(Bucket::new),
                read_bytes: limits.read_bytes_per_sec.map(Bucket::new),
                iterator_calls: limits.iterator_calls_per_sec.map(Bucket::new),
            }),
        }
    }

    /// Counts a write that was let in (by this limiter or the stream's on-demand capacity).
    pub fn count_write(&self, bytes: u64) {
        self.written_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.written_records.fetch_add(1, Ordering::Relaxed);
    }

    /// (bytes, records) written since the last call.
    pub fn take_written(&self) -> (u64, u64) {
        (
            self.written_bytes.swap(0, Ordering::Relaxed),
            self.written_records.swap(0, Ordering::Relaxed),
        )
    }

    /// Takes room for one record of `bytes` (data plus partition key) if there is room at
    /// `now` (read once per call by the caller: a clock read per record showed in profiles).
    pub fn admit_write(&self, bytes: u64, now: Instant) -> bool {
        if !self.writes_limited {
            self.count_write(bytes);
            return true;
        }
        let mut b = self.state.lock();
        let Buckets {
            write_bytes,
            write_records,
            ..
        } = &mut *b;
        for bucket in [write_bytes.as_mut(), write_records.as_mut()]
            .into_iter()
            .flatten()
        {
            bucket.refill(now);
        }
        let fits = write_bytes
            .as_ref()
            .is_none_or(|w| w.tokens >= bytes as f64)
            && write_records.as_ref().is_none_or(|w| w.tokens >= 1.0);
        if fits {
            if let Some(w) = write_bytes {
                w.tokens -= bytes as f64;
            }
            if let Some(w) = write_records {
                w.tokens -= 1.0;
            }
            drop(b);
            self.count_write(bytes);
        }
        fits
    }

    /// Admits a GetRecords call: one call token, and no outstanding byte debt.
    pub fn admit_read(&self) -> bool {
        let now = Instant::now();
        let mut b = self.state.lock();
        let Buckets {
            read_calls,
            read_bytes,
            ..
        } = &mut *b;
        for bucket in [read_calls.as_mut(), read_bytes.as_mut()]
            .into_iter()
            .flatten()
        {
            bucket.refill(now);
        }
        let fits = read_calls.as_ref().is_none_or(|c| c.tokens >= 1.0)
            && read_bytes.as_ref().is_none_or(|r| r.tokens > 0.0);
        if fits {
            if let Some(c) = read_calls {
                c.tokens -= 1.0;
            }
        }
        fits
    }

    /// Charges what a GetRecords call returned; may leave the byte bucket in debt.
    pub fn charge_read(&self, bytes: u64) {
        if let Some(r) = self.state.lock().read_bytes.as_mut() {
            r.refill(Instant::now());
            r.tokens -= bytes as f64;
        }
    }

    /// Admits a GetShardIterator call.
    pub fn admit_iterator(&self) -> bool {
        let mut b = self.state.lock();
        let Some(c) = b.iterator_calls.as_mut() else {
            return true;
        };
        c.refill(Instant::now());
        if c.tokens >= 1.0 {
            c.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The write capacity of an on-demand stream, which replaces its shards' own write limits:
/// 4 MiB/s and 4,000 records/s to start, and twice the highest rate seen since (AWS:
/// "up to double its previous peak").
#[derive(Debug)]
pub struct OnDemandCapacity {
    state: Mutex<(Bucket, Bucket)>,
}

pub const ON_DEMAND_START_BYTES: u64 = 4 * 1024 * 1024;
const BYTES_PER_RECORD_RATE: u64 = 1024;

impl OnDemandCapacity {
    pub fn new(peak_bytes_per_sec: u64) -> Self {
        let bytes = ON_DEMAND_START_BYTES.max(2 * peak_bytes_per_sec);
        OnDemandCapacity {
            state: Mutex::new((
                Bucket::new(bytes),
                Bucket::new(bytes / BYTES_PER_RECORD_RATE),
            )),
        }
    }

    pub fn admit(&self, bytes: u64, now: Instant) -> bool {
        let mut st = self.state.lock();
        let (b, r) = &mut *st;
        b.refill(now);
        r.refill(now);
        let fits = b.tokens >= bytes as f64 && r.tokens >= 1.0;
        if fits {
            b.tokens -= bytes as f64;
            r.tokens -= 1.0;
        }
        fits
    }

    /// Raises the capacity to twice a newly observed peak.
    pub fn observe_peak(&self, bytes_per_sec: u64) {
        let want = (2 * bytes_per_sec) as f64;
        let mut st = self.state.lock();
        if want > st.0.rate {
            st.0.rate = want;
            st.0.capacity = want;
            st.1.rate = want / BYTES_PER_RECORD_RATE as f64;
            st.1.capacity = st.1.rate;
        }
    }
}

/// AWS's control-plane rate for an operation, in calls per second per account; `None` for
/// data-plane operations, whose limits are per shard.
/// AWS's throttling message, for PutRecord(s) entries and read calls alike.
pub fn rate_exceeded(shard: &crate::model::ShardMeta, stream: &str, account: &str) -> String {
    format!(
        "Rate exceeded for shard {} in stream {stream} under account {account}.",
        shard.id()
    )
}

pub fn control_rate(op: shardline_wire::Operation) -> Option<u64> {
    use shardline_wire::Operation::*;
    Some(match op {
        CreateStream
        | DeleteStream
        | AddTagsToStream
        | RemoveTagsFromStream
        | ListStreams
        | ListTagsForStream
        | MergeShards
        | SplitShard
        | RegisterStreamConsumer
        | ListStreamConsumers
        | DeregisterStreamConsumer
        | DescribeAccountSettings
        | UpdateAccountSettings
        | UpdateStreamWarmThroughput
        | IncreaseStreamRetentionPeriod
        | DecreaseStreamRetentionPeriod
        | EnableEnhancedMonitoring
        | DisableEnhancedMonitoring
        | StartStreamEncryption
        | StopStreamEncryption
        | UpdateStreamMode
        | UpdateMaxRecordSize
        | TagResource
        | UntagResource
        | ListTagsForResource
        | PutResourcePolicy
        | GetResourcePolicy
        | DeleteResourcePolicy
        | UpdateStreamRecordDistributionStrategy => 5,
        // AWS states no rates for queue control calls; like the stream ones.
        CreateQueue | UpdateQueue | DeleteQueue | ListQueues => 5,
        // AWS: 5 TPS per account for each channel control call.
        CreateChannel | DescribeChannel | ListChannels | UpdateChannel | DeleteChannel => 5,
        DescribeQueue => 20,
        DescribeStream | UpdateShardCount => 10,
        DescribeStreamSummary | DescribeStreamConsumer => 20,
        DescribeLimits => 1,
        ListShards => 1000,
        PutRecord | PutRecords | GetRecords | GetShardIterator | SubscribeToShard => return None,
        // Queue data calls: "virtually unlimited" (AWS's queue quotas).
        ReceiveQueueRecords
        | AcknowledgeQueueRecords
        | UpdateQueueRecordsVisibility
        | ReceiveDeadLetterQueueRecords
        | AcknowledgeDeadLetterQueueRecords
        | UpdateDeadLetterQueueRecordsVisibility
        | RestoreDeadLetterQueueRecords => return None,
    })
}

/// The control-plane calls AWS limits per stream rather than per account.
pub fn per_stream(op: shardline_wire::Operation) -> bool {
    use shardline_wire::Operation::*;
    matches!(
        op,
        ListShards | DescribeStreamConsumer | ListStreamConsumers | DeregisterStreamConsumer
    )
}

/// Buckets for control-plane calls: per account, or per stream for the calls AWS counts so.
#[derive(Default)]
pub struct ControlLimiter {
    /// Keyed by the account, or `account/stream` for per-stream calls, and the operation.
    buckets: Mutex<std::collections::HashMap<(String, shardline_wire::Operation), Bucket>>,
}

impl ControlLimiter {
    /// Takes one call of `op` for `account`; false when over AWS's rate. Per-stream calls
    /// pass here and are counted by [`ControlLimiter::admit_stream`].
    pub fn admit(&self, account: &str, op: shardline_wire::Operation) -> bool {
        per_stream(op) || self.take(account.to_string(), op)
    }

    /// Takes one call of a per-stream `op` on a stream of `account`.
    pub fn admit_stream(&self, account: &str, stream: &str, op: shardline_wire::Operation) -> bool {
        !per_stream(op) || self.take(format!("{account}/{stream}"), op)
    }

    fn take(&self, scope: String, op: shardline_wire::Operation) -> bool {
        let Some(rate) = control_rate(op) else {
            return true;
        };
        let mut buckets = self.buckets.lock();
        let bucket = buckets
            .entry((scope, op))
            .or_insert_with(|| Bucket::new(rate));
        bucket.refill(Instant::now());
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_held_to_the_rate_after_a_one_second_burst() {
        let l = ShardLimiter::new(&Limits::aws());
        let admitted = (0..2000)
            .filter(|_| l.admit_write(10, Instant::now()))
            .count();
        assert_eq!(
            admitted, 1000,
            "a full bucket holds one second: 1000 records"
        );
        let l = ShardLimiter::new(&Limits::aws());
        assert!(
            l.admit_write(10 * 1024 * 1024, Instant::now()),
            "a 10 MiB record may burst"
        );
        assert!(
            !l.admit_write(1024, Instant::now()),
            "then the byte rate holds"
        );
    }

    #[test]
    fn a_big_read_leaves_debt() {
        let l = ShardLimiter::new(&Limits::aws());
        assert!(l.admit_read());
        l.charge_read(10 * 1024 * 1024);
        assert!(!l.admit_read(), "calls after a 10 MiB read are refused");
        let calls = ShardLimiter::new(&Limits::aws());
        assert_eq!((0..6).filter(|_| calls.admit_read()).count(), 5);
    }

    #[test]
    fn control_plane_rates() {
        let c = ControlLimiter::default();
        let ok = (0..10)
            .filter(|_| c.admit("a", shardline_wire::Operation::CreateStream))
            .count();
        assert_eq!(ok, 5);
        assert!(
            c.admit("b", shardline_wire::Operation::CreateStream),
            "per account"
        );
        assert!((0..100).all(|_| c.admit("a", shardline_wire::Operation::PutRecord)));
    }

    #[test]
    fn off_admits_everything() {
        let l = ShardLimiter::new(&Limits::off());
        assert!((0..100_000).all(|_| l.admit_write(1_000_000, Instant::now())));
        assert!((0..100).all(|_| l.admit_read() && l.admit_iterator()));
    }
}
