//! A `metrics` recorder that keeps the history of the engine's Kinesis series: every key with
//! an `AccountId` and a `StreamName` label becomes a series of namespace `AWS/Kinesis`, its other
//! labels its dimensions (`StreamName`, `ShardId`, …), as CloudWatch names them. Each counter
//! increment, gauge value or histogram value is one sample, so `Sum` of `IncomingRecords` is the
//! records put and `Maximum` of `GetRecords.IteratorAgeMilliseconds` the oldest read, as on AWS.
//! Series published through PutMetricData carry a `Namespace` label and are left out (the API
//! records those itself). Installed next to the Prometheus recorder by a fan-out.

use std::sync::Arc;

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

use crate::history::{now_f64, History, Series, Stats};

/// The namespace of the engine's series.
pub const KINESIS_NAMESPACE: &str = "AWS/Kinesis";

/// CloudWatch's unit of a Kinesis metric, by its name.
#[must_use]
pub fn kinesis_unit(name: &str) -> &'static str {
    if name.ends_with("Bytes") {
        "Bytes"
    } else if name.ends_with("Latency")
        || name.ends_with("Milliseconds")
        || name.ends_with("MillisBehindLatest")
    {
        "Milliseconds"
    } else {
        "Count"
    }
}

/// Records the engine's series into a [`History`].
#[derive(Debug, Clone)]
pub struct HistoryRecorder {
    history: Arc<History>,
}

impl HistoryRecorder {
    #[must_use]
    pub fn new(history: Arc<History>) -> Self {
        HistoryRecorder { history }
    }

    fn handle(&self, key: &Key) -> Option<Arc<Handle>> {
        let mut account = None;
        let mut stream = false;
        let mut dimensions = Vec::new();
        for l in key.labels() {
            match l.key() {
                "AccountId" => account = Some(l.value().to_owned()),
                "Namespace" => return None,
                k => {
                    stream |= k == "StreamName";
                    dimensions.push((k.to_owned(), l.value().to_owned()));
                }
            }
        }
        let account = account.filter(|_| stream)?;
        let name = key.name();
        let k = crate::history::SeriesKey::new(&account, KINESIS_NAMESPACE, name, dimensions);
        let series = self.history.series(&k)?;
        Some(Arc::new(Handle {
            series,
            unit: kinesis_unit(name),
            minutes_kept: self.history.minutes_kept(),
        }))
    }
}

/// One series as the engine records into it.
#[derive(Debug)]
struct Handle {
    series: Arc<Series>,
    unit: &'static str,
    minutes_kept: i64,
}

impl Handle {
    fn sample(&self, v: f64) {
        let now = now_f64();
        self.series.add(
            now,
            &Stats::one(v),
            Some(self.unit),
            now as i64,
            self.minutes_kept,
        );
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        self.sample(value as f64);
    }

    fn absolute(&self, _value: u64) {}
}

impl GaugeFn for Handle {
    fn increment(&self, _value: f64) {}

    fn decrement(&self, _value: f64) {}

    fn set(&self, value: f64) {
        self.sample(value);
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        self.sample(value);
    }
}

impl Recorder for HistoryRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.handle(key)
            .map_or_else(Counter::noop, Counter::from_arc)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.handle(key).map_or_else(Gauge::noop, Gauge::from_arc)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.handle(key)
            .map_or_else(Histogram::noop, Histogram::from_arc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{now_secs, SeriesKey};

    #[test]
    fn stream_series_are_kept_and_others_left_out() {
        let history = Arc::new(History::new(60));
        let r = HistoryRecorder::new(history.clone());
        let meta = Metadata::new("t", metrics::Level::INFO, None);
        let key = Key::from_parts(
            "IncomingRecords",
            vec![
                metrics::Label::new("StreamName", "s"),
                metrics::Label::new("AccountId", "123456789012"),
            ],
        );
        let c = r.register_counter(&key, &meta);
        c.increment(3);
        c.increment(4);
        let other = Key::from_parts("process_open_fds", Vec::<metrics::Label>::new());
        r.register_gauge(&other, &meta).set(7.0);
        let custom = Key::from_parts(
            "Latency",
            vec![
                metrics::Label::new("Namespace", "App"),
                metrics::Label::new("AccountId", "123456789012"),
                metrics::Label::new("StreamName", "s"),
            ],
        );
        r.register_histogram(&custom, &meta).record(1.0);
        let all = history.of_account("123456789012");
        assert_eq!(all.len(), 1);
        let k = SeriesKey::new(
            "123456789012",
            KINESIS_NAMESPACE,
            "IncomingRecords",
            vec![("StreamName".into(), "s".into())],
        );
        assert_eq!(all[0].0, k);
        let now = now_secs();
        let got = all[0].1.query(now - 120, now + 60, 60);
        let sum: f64 = got.iter().map(|(_, s)| s.sum).sum();
        let count: f64 = got.iter().map(|(_, s)| s.count).sum();
        assert_eq!((sum, count), (7.0, 2.0));
        assert_eq!(all[0].1.unit().as_deref(), Some("Count"));
    }
}
