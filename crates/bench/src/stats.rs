//! Counters shared with the progress bar, and latency histograms (HdrHistogram, nanoseconds,
//! 3 significant digits: ±0.1% at any magnitude).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The longest latency a histogram holds (larger values are clamped to it).
const MAX_NANOS: u64 = 3_600_000_000_000;

/// A latency histogram.
#[derive(Clone)]
pub struct Latency {
    hist: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            hist: Histogram::new_with_bounds(1, MAX_NANOS, 3).expect("valid histogram bounds"),
        }
    }
}

impl Latency {
    pub fn record(&mut self, d: Duration) {
        self.record_nanos(d.as_nanos().min(u128::from(MAX_NANOS)) as u64);
    }

    pub fn record_nanos(&mut self, nanos: u64) {
        self.hist.saturating_record(nanos.clamp(1, MAX_NANOS));
    }

    pub fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
    }

    pub fn summary(&self) -> LatencySummary {
        let ms = |nanos: u64| round3(nanos as f64 / 1e6);
        if self.hist.is_empty() {
            return LatencySummary::default();
        }
        let q = |q: f64| ms(self.hist.value_at_quantile(q));
        LatencySummary {
            count: self.hist.len(),
            min: ms(self.hist.min()),
            mean: round3(self.hist.mean() / 1e6),
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            p999: q(0.999),
            max: ms(self.hist.max()),
        }
    }
}

/// Latency percentiles in milliseconds (3 decimals).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    #[serde(rename = "p99.9")]
    pub p999: f64,
    pub max: f64,
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Running totals, updated by the workers and read by the progress bar.
#[derive(Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    pub failed_records: AtomicU64,
    pub errors: AtomicU64,
}

/// Adds `n` to a counter.
pub fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Reads a counter.
pub fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Errors counted by kind (`ProvisionedThroughputExceededException`, `transport`, …).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(transparent)]
pub struct ErrorTally(pub BTreeMap<String, u64>);

impl ErrorTally {
    pub fn add(&mut self, kind: impl Into<String>, n: u64) {
        *self.0.entry(kind.into()).or_default() += n;
    }

    pub fn merge(&mut self, other: &ErrorTally) {
        for (k, v) in &other.0 {
            self.add(k.clone(), *v);
        }
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// The totals of a load run.
#[derive(Default)]
pub struct LoadResult {
    pub elapsed: Duration,
    pub requests: u64,
    pub records: u64,
    pub bytes: u64,
    pub failed_records: u64,
    pub failed_codes: ErrorTally,
    pub errors: ErrorTally,
    pub latency: Latency,
}

impl LoadResult {
    pub fn merge(&mut self, o: LoadResult) {
        self.requests += o.requests;
        self.records += o.records;
        self.bytes += o.bytes;
        self.failed_records += o.failed_records;
        self.failed_codes.merge(&o.failed_codes);
        self.errors.merge(&o.errors);
        self.latency.merge(&o.latency);
    }
}

/// The totals of reading.
#[derive(Default)]
pub struct ReadResult {
    pub elapsed: Duration,
    pub requests: u64,
    /// Answers that carried at least one record.
    pub non_empty: u64,
    pub records: u64,
    pub bytes: u64,
    pub throttled: u64,
    pub errors: ErrorTally,
    pub latency: Latency,
    /// Shards read to their end within the time bound.
    pub caught_up: u64,
}

impl ReadResult {
    pub fn merge(&mut self, o: ReadResult) {
        self.requests += o.requests;
        self.non_empty += o.non_empty;
        self.records += o.records;
        self.bytes += o.bytes;
        self.throttled += o.throttled;
        self.errors.merge(&o.errors);
        self.latency.merge(&o.latency);
        self.caught_up += o.caught_up;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_in_milliseconds_and_ordered() {
        let mut l = Latency::default();
        for us in 1..=1000u64 {
            l.record(Duration::from_micros(us));
        }
        let s = l.summary();
        assert_eq!(s.count, 1000);
        assert!((s.p50 - 0.5).abs() < 0.002, "{s:?}");
        assert!((s.p99 - 0.99).abs() < 0.002, "{s:?}");
        assert!(s.min <= s.p50 && s.p50 <= s.p90 && s.p90 <= s.p99 && s.p99 <= s.p999);
        assert!(s.p999 <= s.max);
        let mut other = Latency::default();
        other.record(Duration::from_secs(2));
        l.merge(&other);
        assert_eq!(l.summary().count, 1001);
        assert!((l.summary().max - 2000.0).abs() < 2.0);
    }

    #[test]
    fn an_empty_histogram_summarises_to_zeros() {
        let s = Latency::default().summary();
        assert_eq!(s.count, 0);
        assert_eq!(s.p50, 0.0);
    }
}
