//! The producer's metrics under the KPL's names, labelled `StreamName`, through the `metrics`
//! facade (an application installs whatever recorder it likes; without one they cost little).
//! The handles are made once per producer, so a record costs no label allocation.

use std::time::Duration;

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};

pub struct Metrics {
    stream: String,
    received: Counter,
    pending: Gauge,
    kinesis_records_put: Counter,
    kinesis_records_data_put: Counter,
    user_records_put: Counter,
    buffering_time: Histogram,
    retries_per_record: Histogram,
    all_errors: Counter,
    expired: Counter,
    request_time: Histogram,
}

impl Metrics {
    pub fn new(stream: &str) -> Metrics {
        let label = || ("StreamName", stream.to_string());
        Metrics {
            stream: stream.to_string(),
            received: counter!("UserRecordsReceived", &[label()]),
            pending: gauge!("UserRecordsPending", &[label()]),
            kinesis_records_put: counter!("KinesisRecordsPut", &[label()]),
            kinesis_records_data_put: counter!("KinesisRecordsDataPut", &[label()]),
            user_records_put: counter!("UserRecordsPut", &[label()]),
            buffering_time: histogram!("BufferingTime", &[label()]),
            retries_per_record: histogram!("RetriesPerRecord", &[label()]),
            all_errors: counter!("AllErrors", &[label()]),
            expired: counter!("UserRecordExpired", &[label()]),
            request_time: histogram!("RequestTime", &[label()]),
        }
    }

    pub fn received(&self, n: u64) {
        self.received.increment(n);
    }

    pub fn pending(&self, n: usize) {
        self.pending.set(n as f64);
    }

    /// A Kinesis record placed, with its user records.
    pub fn put(&self, user_records: u64, bytes: u64) {
        self.kinesis_records_put.increment(1);
        self.kinesis_records_data_put.increment(bytes);
        self.user_records_put.increment(user_records);
    }

    /// How long a user record waited, and how many attempts it took, once placed.
    pub fn placed(&self, waited: Duration, attempts: u32) {
        self.buffering_time.record(waited.as_secs_f64() * 1000.0);
        self.retries_per_record
            .record(f64::from(attempts.saturating_sub(1)));
    }

    pub fn error(&self, code: &str) {
        counter!("ErrorsByCode", "StreamName" => self.stream.clone(), "ErrorCode" => code.to_string())
            .increment(1);
        self.all_errors.increment(1);
    }

    pub fn expired(&self, n: u64) {
        self.expired.increment(n);
    }

    pub fn request(&self, took: Duration) {
        self.request_time.record(took.as_secs_f64() * 1000.0);
    }
}
