//! Per-shard throughput limits, as AWS enforces them (`--limits aws`, the default) or not at
//! all (`--limits off`).
//!
//! Each limit is a token bucket: tokens accrue at the limit's rate and the bucket holds at
//! most one second of them, so a quiet shard may burst up to one second's worth at once and a
//! busy one is held to the rate. Reads may overdraw the byte bucket: a GetRecords call that
//! returned 10 MiB (5 seconds of a 2 MiB/s allowance) leaves the bucket 4 seconds in debt, and
//! calls in those seconds are refused, as AWS documents.

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
        }
    }

    pub fn off() -> Self {
        Limits {
            write_bytes_per_sec: None,
            write_records_per_sec: None,
            read_calls_per_sec: None,
            read_bytes_per_sec: None,
            iterator_calls_per_sec: None,
        }
    }
}

/// A token bucket holding at most one second of its rate; `tokens` may go negative (debt).
#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: u64) -> Self {
        Bucket {
            rate: rate as f64,
            tokens: rate as f64,
            last: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        self.last = now;
    }
}

/// The buckets of one shard.
#[derive(Debug, Default)]
pub struct ShardLimiter {
    state: Mutex<Buckets>,
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
            state: Mutex::new(Buckets {
                write_bytes: limits.write_bytes_per_sec.map(Bucket::new),
                write_records: limits.write_records_per_sec.map(Bucket::new),
                read_calls: limits.read_calls_per_sec.map(Bucket::new),
                read_bytes: limits.read_bytes_per_sec.map(Bucket::new),
                iterator_calls: limits.iterator_calls_per_sec.map(Bucket::new),
            }),
        }
    }

    /// Takes room for one record of `bytes` (data plus partition key) if there is room.
    pub fn admit_write(&self, bytes: u64) -> bool {
        let now = Instant::now();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_held_to_the_rate_after_a_one_second_burst() {
        let l = ShardLimiter::new(&Limits::aws());
        let admitted = (0..2000).filter(|_| l.admit_write(10)).count();
        assert_eq!(
            admitted, 1000,
            "a full bucket holds one second: 1000 records"
        );
        let l = ShardLimiter::new(&Limits::aws());
        assert!(l.admit_write(1024 * 1024));
        assert!(!l.admit_write(1), "1 MiB/s spent");
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
    fn off_admits_everything() {
        let l = ShardLimiter::new(&Limits::off());
        assert!((0..100_000).all(|_| l.admit_write(1_000_000)));
        assert!((0..100).all(|_| l.admit_read() && l.admit_iterator()));
    }
}
