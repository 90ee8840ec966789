//! `shardline bench produce`: user records a second through the producer library
//! (`shardline-producer`), with aggregation on or off, and the memory the producing process
//! takes meanwhile.
//!
//! Records are made as they are submitted (a random partition key each, data sliced from one
//! shared random buffer), so the figures are the producer's and not a pre-built backlog's.
//! The clock runs from the first submit until every record is answered. Latency is submit →
//! placed for each record, answers being collected in submit order. RSS is this process's
//! resident memory: before the producer starts, at its peak (`VmHWM`), and at the end.

use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use rand::{Rng, RngCore};
use serde::Serialize;
use shardline_producer::{Producer, ProducerConfig, Ticket, UserRecord};
use tokio::time::Instant;

use super::report::{emit, thousands};
use super::stats::{bump, load, round3, Latency, LatencySummary};
use super::{Common, Progress};

#[derive(Args, Debug)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub common: Common,
    /// User records to put.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub records: u64,
    /// Bytes of data per user record.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub record_size: u32,
    /// Send each user record as its own Kinesis record instead of aggregating.
    #[arg(long)]
    pub no_aggregation: bool,
    /// Per-shard budget as a percentage of 1,000 records and 1 MiB a second (the KPL's
    /// RateLimit). The default lets a server running `--limits off` set the pace.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit: u32,
    /// How long a record may wait to be sent with others, in milliseconds.
    #[arg(long, default_value_t = 100)]
    pub linger_ms: u64,
    /// PutRecords calls in flight at once.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight: u32,
    /// Bytes of Kinesis records in flight at once, in MiB (default: the library's).
    #[arg(long)]
    pub max_in_flight_mib: Option<usize>,
    /// User records buffered at most (default: the library's).
    #[arg(long)]
    pub max_buffered_records: Option<usize>,
    /// Largest PutRecords call in MiB (default: the library's, 5).
    #[arg(long)]
    pub collection_mib: Option<usize>,
}

#[derive(Serialize)]
struct ProduceReport {
    endpoint: String,
    stream: String,
    shards: u64,
    records: u64,
    record_size: u32,
    aggregation: bool,
    placed: u64,
    failed: u64,
    /// Kinesis records the user records travelled in.
    kinesis_records: u64,
    seconds: f64,
    records_per_sec: f64,
    mib_per_sec: f64,
    /// Submit → placed, milliseconds.
    latency_ms: LatencySummary,
    /// Resident memory of this process before the producer started, its peak, and at the end.
    rss_start_mib: f64,
    rss_peak_mib: f64,
    rss_end_mib: f64,
}

fn print_human(r: &ProduceReport) -> String {
    format!(
        "produce: {} user records of {} bytes, aggregation {}, stream {} ({} shards)\n  \
         {} placed, {} failed in {:.3} s: {} records/s ({:.1} MiB/s), in {} Kinesis records\n  \
         submit → placed ms: p50 {:.3}  p99 {:.3}  max {:.3}\n  \
         RSS MiB: {:.1} at start, peak {:.1}, {:.1} at the end\n",
        thousands(r.records),
        r.record_size,
        if r.aggregation { "on" } else { "off" },
        r.stream,
        r.shards,
        thousands(r.placed),
        thousands(r.failed),
        r.seconds,
        thousands(r.records_per_sec as u64),
        r.mib_per_sec,
        thousands(r.kinesis_records),
        r.latency_ms.p50,
        r.latency_ms.p99,
        r.latency_ms.max,
        r.rss_start_mib,
        r.rss_peak_mib,
        r.rss_end_mib,
    )
}

/// A field of /proc/self/status in MiB (0 where there is no /proc).
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

pub async fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let common = &args.common;
    let target = super::setup(common).await?;
    let client = common.sdk_client()?;
    let mut config = ProducerConfig::new(&common.stream);
    config.aggregation = !args.no_aggregation;
    config.rate_limit_percent = args.rate_limit;
    config.linger = Duration::from_millis(args.linger_ms);
    config.max_in_flight = args.max_in_flight as usize;
    if let Some(mib) = args.max_in_flight_mib {
        config.max_in_flight_bytes = mib.max(1) * 1024 * 1024;
    }
    if let Some(n) = args.max_buffered_records {
        config.max_buffered_records = n.max(1);
    }
    if let Some(mib) = args.collection_mib {
        config.collection_max_size = mib.clamp(1, 5) * 1024 * 1024;
    }
    let rss_start = status_mib("VmRSS:");
    let producer = Producer::start(client, config)
        .await
        .map_err(anyhow::Error::msg)
        .context("starting the producer")?;

    let size = args.record_size as usize;
    let mut pool = vec![0u8; size * 64 + 4096];
    rand::thread_rng().fill_bytes(&mut pool);
    let pool = Bytes::from(pool);

    let submitted = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let progress = {
        let (s, a) = (Arc::clone(&submitted), Arc::clone(&answered));
        let total = args.records;
        Progress::start(total, common.json, move |elapsed| {
            let done = load(&a);
            let rate = done as f64 / elapsed.as_secs_f64().max(1e-3);
            (
                done,
                format!(
                    "{} submitted, {} placed, {} records/s",
                    thousands(load(&s)),
                    thousands(done),
                    thousands(rate as u64)
                ),
            )
        })
    };
    let mut rng = rand::thread_rng();
    let mut waiting: VecDeque<(Instant, Ticket)> = VecDeque::new();
    let (mut placed, mut failed, mut kinesis_records) = (0u64, 0u64, 0u64);
    let mut latency = Latency::default();
    let mut first_error = None;
    let mut settle = |at: Instant, answer: Result<shardline_producer::Placed, _>| match answer {
        Ok(p) => {
            placed += 1;
            if p.sub_sequence_number.unwrap_or(0) == 0 {
                kinesis_records += 1;
            }
            latency.record(at.elapsed());
        }
        Err(e) => {
            failed += 1;
            first_error.get_or_insert_with(|| format!("{e}"));
        }
    };
    let started = Instant::now();
    for _ in 0..args.records {
        let key = format!("{:032x}", rng.gen::<u128>());
        let offset = rng.gen_range(0..pool.len() - size);
        let record = UserRecord::new(key, pool.slice(offset..offset + size));
        let at = Instant::now();
        let ticket = producer
            .submit(record)
            .await
            .map_err(|e| anyhow::anyhow!("submit: {e}"))?;
        bump(&submitted, 1);
        waiting.push_back((at, ticket));
        // Take the answers that came (in submit order), so none waits here holding memory.
        while let Some((at, t)) = waiting.front_mut() {
            let Some(answer) = t.try_answer() else {
                break;
            };
            settle(*at, answer);
            bump(&answered, 1);
            waiting.pop_front();
        }
    }
    producer.flush().await;
    for (at, t) in waiting {
        settle(at, t.await);
        bump(&answered, 1);
    }
    let took = started.elapsed();
    producer.shutdown().await;
    progress.finish();
    let rss_end = status_mib("VmRSS:");
    let rss_peak = status_mib("VmHWM:").max(rss_end);

    let secs = took.as_secs_f64();
    let report = ProduceReport {
        endpoint: common.endpoint.clone(),
        stream: common.stream.clone(),
        shards: target.open_shards,
        records: args.records,
        record_size: args.record_size,
        aggregation: !args.no_aggregation,
        placed,
        failed,
        kinesis_records,
        seconds: round3(secs),
        records_per_sec: round3(placed as f64 / secs),
        mib_per_sec: round3(placed as f64 * f64::from(args.record_size) / secs / 1048576.0),
        latency_ms: latency.summary(),
        rss_start_mib: round3(rss_start),
        rss_peak_mib: round3(rss_peak),
        rss_end_mib: round3(rss_end),
    };
    emit(&report, common.json, print_human)?;
    super::finish(common, &target).await?;
    if let Some(e) = first_error {
        anyhow::bail!("{failed} records were not placed; the first: {e}");
    }
    Ok(())
}
