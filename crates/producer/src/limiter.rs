//! A shard's write budget as the producer keeps it: Kinesis allows 1,000 records and 1 MiB a
//! second per shard, and the producer aims at a percentage of that (the KPL's `RateLimit`,
//! 150 by default: a little over, since Kinesis lets short bursts through).

use std::time::Instant;

/// Two token buckets (records and bytes) refilled continuously, holding one second's worth.
#[derive(Debug)]
pub struct ShardLimiter {
    records: f64,
    bytes: f64,
    records_per_sec: f64,
    bytes_per_sec: f64,
    at: Instant,
}

impl ShardLimiter {
    pub fn new(percent: u32, now: Instant) -> ShardLimiter {
        let scale = f64::from(percent.max(1)) / 100.0;
        let records_per_sec = 1000.0 * scale;
        let bytes_per_sec = 1024.0 * 1024.0 * scale;
        ShardLimiter {
            records: records_per_sec,
            bytes: bytes_per_sec,
            records_per_sec,
            bytes_per_sec,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let secs = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.records = (self.records + secs * self.records_per_sec).min(self.records_per_sec);
        self.bytes = (self.bytes + secs * self.bytes_per_sec).min(self.bytes_per_sec);
    }

    /// Takes one record of `bytes` if the budget allows it now.
    pub fn take(&mut self, bytes: usize, now: Instant) -> bool {
        self.refill(now);
        // A record larger than a second's budget still goes once the bucket is full.
        let bytes = (bytes as f64).min(self.bytes_per_sec);
        if self.records >= 1.0 && self.bytes >= bytes {
            self.records -= 1.0;
            self.bytes -= bytes;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_second_holds_the_percentage_of_kinesiss_limits() {
        let t0 = Instant::now();
        let mut l = ShardLimiter::new(100, t0);
        assert_eq!((0..2000).filter(|_| l.take(10, t0)).count(), 1000);
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!((0..2000).filter(|_| l.take(10, t1)).count(), 500);
        let mut big = ShardLimiter::new(150, t0);
        assert!(big.take(1024 * 1024, t0));
        assert!(
            !big.take(1024 * 1024, t0),
            "1.5 MiB a second: one MiB, then wait"
        );
    }
}
