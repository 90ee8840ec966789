//! `shardline bench put`: write load with PutRecords or PutRecord.
//!
//! Request bodies are built (and base64-encoded, and hashed when signing) once before the
//! clock starts; workers, one connection each, send them round-robin. Requests are numbered
//! from one shared counter, which both ends a `--records` run and paces a `--rate` run
//! (request *k* is sent no earlier than `start + k · batch / rate`). Latency is the round
//! trip of a request that got a 200; failed records of a 200 PutRecords are counted apart.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use base64::Engine as _;
use bytes::Bytes;
use clap::{Args, ValueEnum};
use rand::RngCore;
use serde::Deserialize;
use tokio::time::Instant;

use super::client::{Client, Prepared};
use super::report::{self, Ceiling, PutReport, PutSettings};
use super::stats::{bump, load, Counters, LoadResult};
use super::{mock, parse_duration, Common, Progress};

/// Longest a prepared set of bodies may take in memory.
const MAX_PREPARED_BYTES: usize = 256 * 1024 * 1024;

#[derive(Args, Debug)]
pub struct PutArgs {
    #[command(flatten)]
    pub common: Common,
    /// Which call writes: PutRecords (batches of --batch) or PutRecord (one record a call).
    #[arg(long, value_enum, default_value_t = Api::PutRecords)]
    pub api: Api,
    /// Bytes of data per record.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub record_size: u32,
    /// Records per PutRecords call.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub batch: u32,
    /// Distinct partition keys, spread over the shards by their MD5 hash.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub keys: u32,
    /// Requests in flight (one connection each).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// How long to write (default 10s unless --records is given).
    #[arg(long, value_parser = parse_duration, conflicts_with = "records")]
    pub duration: Option<Duration>,
    /// Write exactly this many records, then stop.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub records: Option<u64>,
    /// Pace the writes to this many records per second (default: as fast as possible).
    #[arg(long)]
    pub rate: Option<f64>,
    /// How long to measure the client's own ceiling against an in-process mock server before
    /// the run ("0" skips it).
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub measure_client: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Api {
    #[value(name = "putrecords")]
    PutRecords,
    #[value(name = "putrecord")]
    PutRecord,
}

impl Api {
    pub fn name(self) -> &'static str {
        match self {
            Api::PutRecords => "PutRecords",
            Api::PutRecord => "PutRecord",
        }
    }
}

/// What to send: prepared bodies, each carrying `per_request` records.
pub struct Workload {
    api: Api,
    bodies: Vec<Prepared>,
    per_request: u64,
    record_size: u64,
    /// In a `--records` run whose count is not a multiple of the batch: the last, smaller one.
    last: Option<(Prepared, u64)>,
}

/// When a load run stops.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    After(Duration),
    Requests(u64),
}

pub async fn run(args: PutArgs) -> anyhow::Result<()> {
    if let Some(rate) = args.rate {
        if !(rate.is_finite() && rate > 0.0) {
            bail!("--rate must be a positive number of records per second");
        }
    }
    let common = &args.common;
    let target = super::setup(common).await?;
    let per_request = match args.api {
        Api::PutRecords => u64::from(args.batch),
        Api::PutRecord => 1,
    };
    let work = Arc::new(build_workload(
        &target.client,
        &common.stream,
        args.api,
        per_request,
        u64::from(args.record_size),
        u64::from(args.keys),
        args.records,
    ));
    let stop = match args.records {
        Some(n) => Stop::Requests(n.div_ceil(per_request)),
        None => Stop::After(args.duration.unwrap_or(Duration::from_secs(10))),
    };
    let concurrency = args.concurrency as usize;

    let ceiling = if args.measure_client.is_zero() {
        None
    } else {
        Some(measure_ceiling(common, &work, concurrency, args.measure_client).await?)
    };

    let counters = Arc::new(Counters::default());
    let progress = {
        let c = counters.clone();
        let (len, by_records) = match stop {
            Stop::After(d) => (d.as_millis() as u64, false),
            Stop::Requests(_) => (args.records.unwrap_or_default(), true),
        };
        Progress::start(len, common.json, move |elapsed| {
            let records = load(&c.records);
            let secs = elapsed.as_secs_f64().max(1e-9);
            let pos = if by_records {
                records
            } else {
                elapsed.as_millis() as u64
            };
            let msg = format!(
                "{records} records, {:.0} records/s, {} errors",
                records as f64 / secs,
                load(&c.errors) + load(&c.failed_records)
            );
            (pos, msg)
        })
    };
    let result = run_load(
        &target.client,
        work.clone(),
        concurrency,
        stop,
        args.rate,
        counters,
    )
    .await;
    progress.finish();
    let result = result?;

    let report = PutReport::new(
        PutSettings {
            endpoint: common.endpoint.clone(),
            stream: common.stream.clone(),
            shards: target.open_shards,
            api: args.api.name(),
            record_size: u64::from(args.record_size),
            batch: per_request,
            keys: u64::from(args.keys),
            concurrency: u64::from(args.concurrency),
            rate: args.rate,
            signed: target.client.signs(),
            http2: common.http2,
        },
        &result,
        ceiling.map(|c| Ceiling::from_load(&c, target.client.is_tls())),
    );
    super::finish(common, &target).await?;
    report::emit(&report, common.json, PutReport::print_human)
}

/// Builds the bodies: each record has random data; partition keys cycle through `keys` so
/// every key appears across the prepared set (as far as memory allows).
pub fn build_workload(
    client: &Client,
    stream: &str,
    api: Api,
    per_request: u64,
    record_size: u64,
    keys: u64,
    records: Option<u64>,
) -> Workload {
    let mut rng = rand::thread_rng();
    let b64 = base64::engine::general_purpose::STANDARD;
    let stream_json = serde_json::to_string(stream).expect("a string serialises");
    let mut data = vec![0u8; record_size as usize];
    let mut key_index = 0u64;
    let mut record = |out: &mut String, rng: &mut rand::rngs::ThreadRng| {
        rng.fill_bytes(&mut data);
        out.push_str(r#""Data":""#);
        b64.encode_string(&data, out);
        out.push_str(r#"","PartitionKey":"pk-"#);
        out.push_str(&(key_index % keys).to_string());
        out.push('"');
        key_index += 1;
    };
    let mut body = |n: u64, rng: &mut rand::rngs::ThreadRng| -> Vec<u8> {
        let mut s = String::with_capacity((n * (record_size * 4 / 3 + 48)) as usize + 64);
        s.push_str(r#"{"StreamName":"#);
        s.push_str(&stream_json);
        match api {
            Api::PutRecords => {
                s.push_str(r#","Records":["#);
                for i in 0..n {
                    if i > 0 {
                        s.push(',');
                    }
                    s.push('{');
                    record(&mut s, rng);
                    s.push('}');
                }
                s.push_str("]}");
            }
            Api::PutRecord => {
                s.push(',');
                record(&mut s, rng);
                s.push('}');
            }
        }
        s.into_bytes()
    };
    let body_bytes = (per_request * (record_size * 4 / 3 + 32)).max(1) as usize;
    let wanted = keys.div_ceil(per_request).max(1) as usize;
    let count = wanted.min((MAX_PREPARED_BYTES / body_bytes).max(1));
    let op = api.name();
    let bodies = (0..count)
        .map(|_| client.prepare(op, body(per_request, &mut rng)))
        .collect();
    let last = records
        .map(|n| n % per_request)
        .filter(|&rest| rest > 0)
        .map(|rest| (client.prepare(op, body(rest, &mut rng)), rest));
    Workload {
        api,
        bodies,
        per_request,
        record_size,
        last,
    }
}

/// Runs `concurrency` workers until `stop`, optionally paced to `rate` records/s.
pub async fn run_load(
    client: &Client,
    work: Arc<Workload>,
    concurrency: usize,
    stop: Stop,
    rate: Option<f64>,
    counters: Arc<Counters>,
) -> anyhow::Result<LoadResult> {
    // Connect first, so the clock measures requests, not handshakes.
    let mut conns = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        conns.push(client.connect().await?);
    }
    let start = Instant::now();
    let shared = Arc::new(Shared {
        next: AtomicU64::new(0),
        start,
        deadline: match stop {
            Stop::After(d) => Some(start + d),
            Stop::Requests(_) => None,
        },
        total: match stop {
            Stop::After(_) => None,
            Stop::Requests(n) => Some(n),
        },
        secs_per_request: rate.map(|r| work.per_request as f64 / r),
    });
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|conn| tokio::spawn(worker(conn, work.clone(), shared.clone(), counters.clone())))
        .collect();
    let mut total = LoadResult::default();
    for t in tasks {
        total.merge(t.await?);
    }
    total.elapsed = start.elapsed();
    Ok(total)
}

struct Shared {
    next: AtomicU64,
    start: Instant,
    deadline: Option<Instant>,
    total: Option<u64>,
    secs_per_request: Option<f64>,
}

async fn worker(
    mut conn: super::client::Conn,
    work: Arc<Workload>,
    shared: Arc<Shared>,
    counters: Arc<Counters>,
) -> LoadResult {
    #[derive(Deserialize)]
    struct PutRecordsOut {
        #[serde(rename = "FailedRecordCount", default)]
        failed: u64,
    }
    #[derive(Deserialize)]
    struct Entry {
        #[serde(rename = "ErrorCode")]
        code: Option<String>,
    }
    #[derive(Deserialize)]
    struct Entries {
        #[serde(rename = "Records", default)]
        records: Vec<Entry>,
    }

    let mut out = LoadResult::default();
    loop {
        let k = shared.next.fetch_add(1, Ordering::Relaxed);
        let (body, n) = match shared.total {
            Some(total) if k >= total => break,
            Some(total) if k + 1 == total && work.last.is_some() => {
                let (body, n) = work.last.as_ref().expect("checked");
                (body, *n)
            }
            _ => (
                &work.bodies[(k % work.bodies.len() as u64) as usize],
                work.per_request,
            ),
        };
        if let Some(spr) = shared.secs_per_request {
            let at = shared.start + Duration::from_secs_f64(k as f64 * spr);
            if shared.deadline.is_some_and(|d| at >= d) {
                break;
            }
            tokio::time::sleep_until(at).await;
        }
        if shared.deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let t0 = Instant::now();
        let reply = conn.call(body).await;
        let rtt = t0.elapsed();
        out.requests += 1;
        bump(&counters.requests, 1);
        let error = match reply {
            Ok(r) => match r.error() {
                None => {
                    out.latency.record(rtt);
                    let failed = match work.api {
                        Api::PutRecord => 0,
                        Api::PutRecords => match failed_record_count(&r.body) {
                            Some(failed) => failed.min(n),
                            None => match serde_json::from_slice::<PutRecordsOut>(&r.body) {
                                Ok(o) => o.failed.min(n),
                                Err(_) => n,
                            },
                        },
                    };
                    if failed > 0 {
                        out.failed_records += failed;
                        bump(&counters.failed_records, failed);
                        match serde_json::from_slice::<Entries>(&r.body) {
                            Ok(e) => e
                                .records
                                .into_iter()
                                .filter_map(|e| e.code)
                                .for_each(|c| out.failed_codes.add(c, 1)),
                            Err(_) => out.failed_codes.add("undecodable response", failed),
                        }
                    }
                    let ok = n - failed;
                    out.records += ok;
                    out.bytes += ok * work.record_size;
                    bump(&counters.records, ok);
                    bump(&counters.bytes, ok * work.record_size);
                    None
                }
                Some(e) => Some(e),
            },
            Err(e) => Some(e),
        };
        if let Some(e) = error {
            out.errors.add(e.kind(), 1);
            bump(&counters.errors, 1);
            if !matches!(e, super::client::CallError::Api { .. }) {
                // A broken connection: do not spin on it.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    out
}

/// `FailedRecordCount` read straight off a PutRecords answer: parsing the whole 500-entry
/// answer took a tenth of the client's time, and a load generator only needs this number
/// (and the entries' error codes when it is not 0).
fn failed_record_count(body: &[u8]) -> Option<u64> {
    let key = b"\"FailedRecordCount\"";
    let at = memchr::memmem::find(body, key)? + key.len();
    let rest = body[at..]
        .trim_ascii_start()
        .strip_prefix(b":")?
        .trim_ascii_start();
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// Runs the same workload against an in-process mock that answers instantly.
async fn measure_ceiling(
    common: &Common,
    work: &Arc<Workload>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    let answer = canned_put_answer(work.api, work.per_request);
    let mock = mock::start(HashMap::from([(work.api.name().to_owned(), answer)])).await?;
    let mut opts = common.client_options();
    opts.endpoint = mock.endpoint.clone();
    let client = Client::new(&opts)?;
    if !common.json {
        eprintln!(
            "measuring the client's ceiling for {} against an in-process mock...",
            super::fmt_duration(duration)
        );
    }
    let result = run_load(
        &client,
        work.clone(),
        concurrency,
        Stop::After(duration),
        None,
        Arc::new(Counters::default()),
    )
    .await?;
    drop(mock);
    if result.errors.total() > 0 {
        bail!(
            "the client-ceiling measurement failed: {:?}",
            result.errors.0
        );
    }
    Ok(result)
}

/// A response shaped like the real one (so parsing costs the same).
fn canned_put_answer(api: Api, n: u64) -> Bytes {
    let entry = r#"{"SequenceNumber":"49659840263549373425591836459851129962458532123456789010","ShardId":"shardId-000000000000"}"#;
    match api {
        Api::PutRecord => Bytes::from(entry.to_string()),
        Api::PutRecords => {
            let entries = vec![entry; n as usize].join(",");
            Bytes::from(format!(
                r#"{{"FailedRecordCount":0,"Records":[{entries}]}}"#
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Options;

    fn client() -> Client {
        Client::new(&Options {
            endpoint: "http://127.0.0.1:1".into(),
            region: "us-east-1".into(),
            credentials: None,
            http2: false,
            ca_cert: None,
        })
        .unwrap()
    }

    #[test]
    fn bodies_are_valid_put_records_input() {
        let w = build_workload(&client(), "s\"x", Api::PutRecords, 3, 10, 7, Some(10));
        assert_eq!(w.bodies.len(), 3); // ceil(7 keys / 3 per body)
        let v: serde_json::Value = serde_json::from_slice(w.bodies[0].body_bytes()).unwrap();
        assert_eq!(v["StreamName"], "s\"x");
        let recs = v["Records"].as_array().unwrap();
        assert_eq!(recs.len(), 3);
        let data = base64::engine::general_purpose::STANDARD
            .decode(recs[0]["Data"].as_str().unwrap())
            .unwrap();
        assert_eq!(data.len(), 10);
        assert_eq!(recs[2]["PartitionKey"], "pk-2");
        let (last, n) = w.last.as_ref().unwrap();
        assert_eq!(*n, 1);
        let v: serde_json::Value = serde_json::from_slice(last.body_bytes()).unwrap();
        assert_eq!(v["Records"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn put_record_bodies_carry_one_record() {
        let w = build_workload(&client(), "s", Api::PutRecord, 1, 5, 2, None);
        assert_eq!(w.bodies.len(), 2);
        let v: serde_json::Value = serde_json::from_slice(w.bodies[1].body_bytes()).unwrap();
        assert_eq!(v["PartitionKey"], "pk-1");
        assert!(v["Data"].is_string());
        assert!(w.last.is_none());
    }

    #[test]
    fn failed_record_count_is_read_off_the_answer() {
        assert_eq!(
            failed_record_count(&canned_put_answer(Api::PutRecords, 4)),
            Some(0)
        );
        let spaced = br#"{"Records": [{"ErrorCode": "X"}], "FailedRecordCount" : 12}"#;
        assert_eq!(failed_record_count(spaced), Some(12));
        assert_eq!(failed_record_count(br#"{"Records":[]}"#), None);
        assert_eq!(failed_record_count(br#"{"FailedRecordCount":null}"#), None);
    }

    #[test]
    fn canned_answers_parse() {
        let v: serde_json::Value =
            serde_json::from_slice(&canned_put_answer(Api::PutRecords, 4)).unwrap();
        assert_eq!(v["Records"].as_array().unwrap().len(), 4);
        assert_eq!(v["FailedRecordCount"], 0);
    }
}
