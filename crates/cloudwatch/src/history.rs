//! The metrics history: for every series (account, namespace, metric name, dimensions), the
//! statistics CloudWatch keeps (sample count, sum, minimum, maximum) per second for the last
//! [`SECONDS_KEPT`] seconds and per minute for a configured number of minutes. Buckets exist
//! only for seconds and minutes that saw a sample, so an idle series costs next to nothing and a
//! busy one at most `SECONDS_KEPT + minutes` buckets of 40 bytes.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

/// How long per-second buckets are kept (periods under a minute look only this far back).
pub const SECONDS_KEPT: i64 = 300;

/// Series kept at most, over all accounts; samples of further series are dropped.
pub const MAX_SERIES: usize = 100_000;

/// What names a series. Dimensions are sorted by name, as CloudWatch compares them.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeriesKey {
    pub account: String,
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<(String, String)>,
}

impl SeriesKey {
    /// A key with its dimensions put in order.
    #[must_use]
    pub fn new(
        account: &str,
        namespace: &str,
        name: &str,
        mut dimensions: Vec<(String, String)>,
    ) -> Self {
        dimensions.sort();
        SeriesKey {
            account: account.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            dimensions,
        }
    }
}

/// CloudWatch's statistics of a set of samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    /// One sample.
    #[must_use]
    pub fn one(v: f64) -> Self {
        Stats {
            count: 1.0,
            sum: v,
            min: v,
            max: v,
        }
    }

    fn fold(&mut self, o: &Stats) {
        self.count += o.count;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    #[must_use]
    pub fn average(&self) -> f64 {
        if self.count > 0.0 {
            self.sum / self.count
        } else {
            0.0
        }
    }
}

/// One series' buckets.
#[derive(Debug, Default)]
struct Buckets {
    /// The unit of the latest sample (`None` until one said otherwise).
    unit: Option<String>,
    /// (second, stats), oldest first.
    seconds: VecDeque<(i64, Stats)>,
    /// (minute start in seconds, stats), oldest first.
    minutes: VecDeque<(i64, Stats)>,
    /// When the latest sample arrived (for ListMetrics' RecentlyActive).
    last_sample: i64,
}

/// Merges `s` into the bucket `at` of a deque kept in time order (samples almost always land
/// in the newest bucket; late PutMetricData timestamps search).
fn merge(q: &mut VecDeque<(i64, Stats)>, at: i64, s: &Stats) {
    match q.back_mut() {
        Some((t, b)) if *t == at => return b.fold(s),
        Some((t, _)) if *t < at => return q.push_back((at, *s)),
        None => return q.push_back((at, *s)),
        _ => {}
    }
    match q.binary_search_by_key(&at, |(t, _)| *t) {
        Ok(i) => q[i].1.fold(s),
        Err(i) => q.insert(i, (at, *s)),
    }
}

/// A series; handles recording into it are kept by the recorder, so it is never removed.
#[derive(Debug, Default)]
pub struct Series {
    buckets: Mutex<Buckets>,
}

impl Series {
    /// Adds samples taken at `at` (seconds since the epoch) to the series, given `now` and how
    /// many minutes are kept.
    pub fn add(&self, at: f64, s: &Stats, unit: Option<&str>, now: i64, minutes_kept: i64) {
        let sec = at.floor() as i64;
        let mut b = self.buckets.lock();
        if let Some(u) = unit {
            if b.unit.as_deref() != Some(u) {
                b.unit = Some(u.to_owned());
            }
        }
        b.last_sample = b.last_sample.max(now);
        if sec > now - SECONDS_KEPT {
            merge(&mut b.seconds, sec, s);
        }
        let minute = sec.div_euclid(60) * 60;
        if minute > now - minutes_kept * 60 {
            merge(&mut b.minutes, minute, s);
        }
        while b
            .seconds
            .front()
            .is_some_and(|(t, _)| *t <= now - SECONDS_KEPT)
        {
            b.seconds.pop_front();
        }
        while b
            .minutes
            .front()
            .is_some_and(|(t, _)| *t <= now - minutes_kept * 60)
        {
            b.minutes.pop_front();
        }
    }

    /// The statistics per period over `[start, end)`: `(period start, stats)` for every period
    /// that saw a sample, oldest first. Periods under a minute read the per-second buckets.
    #[must_use]
    pub fn query(&self, start: i64, end: i64, period: i64) -> Vec<(i64, Stats)> {
        let b = self.buckets.lock();
        let q = if period < 60 { &b.seconds } else { &b.minutes };
        let mut out: Vec<(i64, Stats)> = Vec::new();
        let from = q.partition_point(|(t, _)| *t < start);
        for (t, s) in q.iter().skip(from) {
            if *t >= end {
                break;
            }
            let slot = start + (t - start) / period * period;
            match out.last_mut() {
                Some((at, acc)) if *at == slot => acc.fold(s),
                _ => out.push((slot, *s)),
            }
        }
        out
    }

    /// The unit of the latest sample.
    #[must_use]
    pub fn unit(&self) -> Option<String> {
        self.buckets.lock().unit.clone()
    }

    /// When the latest sample arrived, in seconds since the epoch (0: never).
    #[must_use]
    pub fn last_sample(&self) -> i64 {
        self.buckets.lock().last_sample
    }
}

/// Every series, by key.
#[derive(Debug)]
pub struct History {
    series: RwLock<HashMap<SeriesKey, Arc<Series>>>,
    minutes_kept: i64,
}

impl History {
    /// A history keeping `minutes` of one-minute buckets (and [`SECONDS_KEPT`] of one-second).
    #[must_use]
    pub fn new(minutes: u32) -> Self {
        History {
            series: RwLock::new(HashMap::new()),
            minutes_kept: i64::from(minutes.max(1)),
        }
    }

    /// How many minutes of one-minute buckets are kept.
    #[must_use]
    pub fn minutes_kept(&self) -> i64 {
        self.minutes_kept
    }

    /// The series `key`, made if new; `None` once [`MAX_SERIES`] exist.
    #[must_use]
    pub fn series(&self, key: &SeriesKey) -> Option<Arc<Series>> {
        if let Some(s) = self.series.read().get(key) {
            return Some(s.clone());
        }
        let mut all = self.series.write();
        if let Some(s) = all.get(key) {
            return Some(s.clone());
        }
        if all.len() >= MAX_SERIES {
            return None;
        }
        let s = Arc::new(Series::default());
        all.insert(key.clone(), s.clone());
        Some(s)
    }

    /// The series `key` if it exists.
    #[must_use]
    pub fn get(&self, key: &SeriesKey) -> Option<Arc<Series>> {
        self.series.read().get(key).cloned()
    }

    /// Records samples into `key` at `at` (seconds since the epoch). False when the series could
    /// not be made (too many series).
    pub fn record(&self, key: &SeriesKey, at: f64, s: &Stats, unit: Option<&str>) -> bool {
        match self.series(key) {
            Some(series) => {
                series.add(at, s, unit, now_secs(), self.minutes_kept);
                true
            }
            None => false,
        }
    }

    /// Every series of `account`, sorted by key.
    #[must_use]
    pub fn of_account(&self, account: &str) -> Vec<(SeriesKey, Arc<Series>)> {
        let mut v: Vec<(SeriesKey, Arc<Series>)> = self
            .series
            .read()
            .iter()
            .filter(|(k, _)| k.account == account)
            .map(|(k, s)| (k.clone(), s.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// Seconds since the epoch, now.
#[must_use]
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Seconds since the epoch, now, with the fraction.
#[must_use]
pub fn now_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_fold_into_seconds_and_minutes_and_periods_add_them_up() {
        let s = Series::default();
        let now = 1_000_030;
        for (at, v) in [(999_990.5, 1.0), (999_991.0, 5.0), (1_000_025.0, 3.0)] {
            s.add(at, &Stats::one(v), Some("Count"), now, 60);
        }
        // Seconds: three buckets; one period of 60 s from 999,960 holds the first two.
        let per_second = s.query(now - 100, now + 1, 1);
        assert_eq!(per_second.len(), 3);
        let minute = s.query(999_960, 1_000_080, 60);
        assert_eq!(minute.len(), 2);
        assert_eq!(minute[0].0, 999_960);
        assert_eq!(minute[0].1.count, 2.0);
        assert_eq!(minute[0].1.sum, 6.0);
        assert_eq!(minute[0].1.min, 1.0);
        assert_eq!(minute[0].1.max, 5.0);
        assert_eq!(minute[1].1.sum, 3.0);
        // A 120 s period holds everything.
        let two = s.query(999_960, 1_000_080, 120);
        assert_eq!(two.len(), 1);
        assert_eq!(two[0].1.count, 3.0);
        assert_eq!(s.unit().as_deref(), Some("Count"));
    }

    #[test]
    fn old_buckets_go_and_late_samples_land_in_order() {
        let s = Series::default();
        let now = 10_000_000;
        s.add(now as f64 - 30.0, &Stats::one(1.0), None, now, 2);
        // Older than the kept minutes: dropped.
        s.add(now as f64 - 600.0, &Stats::one(9.0), None, now, 2);
        // Late but kept: lands before the newest minute.
        s.add(now as f64 - 90.0, &Stats::one(2.0), None, now, 2);
        let all = s.query(0, now + 60, 60);
        let sums: Vec<f64> = all.iter().map(|(_, st)| st.sum).collect();
        assert_eq!(sums, vec![2.0, 1.0]);
        assert!(s
            .query(0, now + 1, 1)
            .iter()
            .all(|(t, _)| *t > now - SECONDS_KEPT));
    }
}
