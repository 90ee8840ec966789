//! `shardline bench consume`: the consumer library (`shardline-consumer`) end to end, with a
//! processor that only counts (and checkpoints after each batch).
//!
//! 1. Throughput: `--records` records are put first (PutRecords, not aggregated, random keys);
//!    a worker then starts from TRIM_HORIZON and the clock runs until it processed them all.
//! 2. Latency: on a second stream, records are put one at a time with PutRecord at `--rate` a
//!    second for `--latency-duration`, each carrying the time it was sent; the processor notes
//!    sent → processed for each.
//!
//! Leases live in memory, or in a DynamoDB table (`--dynamodb-endpoint`, e.g. a local
//! DynamoDB-compatible server), as the KCL keeps them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use rand::{Rng, RngCore};
use serde::Serialize;
use shardline_consumer::{
    AnyStore, Batch, Checkpointer, ConsumerConfig, DynamoDbStore, InitialPosition, MemoryStore,
    RecordProcessor, Retrieval, Scheduler,
};
use tokio::time::Instant;

use super::report::{emit, thousands};
use super::stats::{bump, load, round3, Latency, LatencySummary};
use super::{control, parse_duration, Common, Progress};

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub common: Common,
    /// Records put before the throughput run.
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub records: u64,
    /// Bytes of data per record.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(16..=1_048_576))]
    pub record_size: u32,
    /// Read through enhanced fan-out (SubscribeToShard) instead of polling.
    #[arg(long)]
    pub fan_out: bool,
    /// Records a second put (one PutRecord each) during the latency run.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// How long the latency run puts records.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub latency_duration: Duration,
    /// Pause between GetRecords calls that reached the tip (polling), in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub idle_ms: u64,
    /// Keep leases in DynamoDB at this endpoint (table named after the run) instead of memory.
    #[arg(long)]
    pub dynamodb_endpoint: Option<String>,
}

#[derive(Serialize)]
struct ConsumeReport {
    endpoint: String,
    mode: &'static str,
    shards: u64,
    records: u64,
    record_size: u32,
    /// From the worker's start to its first record (lease table, leases, readers).
    startup_seconds: f64,
    /// From the first record processed to the last.
    seconds: f64,
    records_per_sec: f64,
    latency_records: u64,
    /// Sent (just before PutRecord) → processed, milliseconds.
    latency_ms: LatencySummary,
    lease_store: &'static str,
}

fn print_human(r: &ConsumeReport) -> String {
    format!(
        "consume ({}; leases in {}): {} records of {} bytes on {} shards processed in {:.3} s: {} records/s \
         (first record {:.3} s after the start)\n  \
         put → processed ms ({} records at a steady rate): p50 {:.3}  p99 {:.3}  max {:.3}\n",
        r.mode,
        r.lease_store,
        thousands(r.records),
        r.record_size,
        r.shards,
        r.seconds,
        thousands(r.records_per_sec as u64),
        r.startup_seconds,
        r.latency_records,
        r.latency_ms.p50,
        r.latency_ms.p99,
        r.latency_ms.max,
    )
}

/// Counts records (and the shards it started on); for the latency run, reads each record's
/// send time from its first 8 bytes. Notes when the first record was processed.
struct Count {
    processed: Arc<AtomicU64>,
    started: Arc<AtomicU64>,
    first: Arc<Mutex<Option<Instant>>>,
    latency: Option<Arc<Mutex<Latency>>>,
}

impl RecordProcessor for Count {
    async fn initialize(&mut self, _init: shardline_consumer::Initialization) {
        bump(&self.started, 1);
    }

    async fn process_records(&mut self, batch: Batch, checkpointer: &mut Checkpointer) {
        if let Some(latency) = &self.latency {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            if let Ok(mut l) = latency.lock() {
                for r in &batch.records {
                    if let Some(sent) = r.data.get(..8) {
                        let sent = u64::from_be_bytes(sent.try_into().unwrap_or([0; 8]));
                        l.record_nanos(now.saturating_sub(sent));
                    }
                }
            }
        }
        if let Ok(mut first) = self.first.lock() {
            first.get_or_insert_with(Instant::now);
        }
        bump(&self.processed, batch.records.len() as u64);
        let _ = checkpointer.checkpoint().await;
    }
}

fn store(args: &ConsumeArgs, app: &str) -> AnyStore {
    match &args.dynamodb_endpoint {
        Some(endpoint) => {
            use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
            let config = aws_sdk_dynamodb::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(args.common.region.clone()))
                .endpoint_url(endpoint)
                .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
                .build();
            AnyStore::DynamoDb(DynamoDbStore::new(
                aws_sdk_dynamodb::Client::from_conf(config),
                app,
            ))
        }
        None => AnyStore::Memory(MemoryStore::new()),
    }
}

fn consumer_config(args: &ConsumeArgs, stream: &str, app: &str) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(stream, app, format!("{app}-worker"))
        .with_failover_time(Duration::from_secs(10));
    c.initial_position = InitialPosition::TrimHorizon;
    c.take_interval = Duration::from_secs(1);
    c.retrieval = if args.fan_out {
        Retrieval::FanOut {
            consumer_name: None,
        }
    } else {
        Retrieval::Polling {
            max_records: 10_000,
            idle_between_reads: Duration::from_millis(args.idle_ms),
        }
    };
    c
}

pub async fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    let common = &args.common;
    let target = super::setup(common).await?;
    let client = common.sdk_client()?;
    let run_id = format!("{:08x}", rand::thread_rng().gen::<u32>());

    // 1. Throughput: put, then read it all.
    let size = args.record_size as usize;
    let mut pool = vec![0u8; size * 64 + 4096];
    rand::thread_rng().fill_bytes(&mut pool);
    let pool = bytes::Bytes::from(pool);
    {
        let mut c = shardline_producer::ProducerConfig::new(&common.stream);
        c.aggregation = false;
        c.rate_limit_percent = 100_000;
        c.linger = Duration::from_millis(20);
        let producer = shardline_producer::Producer::start(client.clone(), c)
            .await
            .map_err(anyhow::Error::msg)
            .context("starting the loader")?;
        let mut rng = rand::thread_rng();
        for _ in 0..args.records {
            let offset = rng.gen_range(0..pool.len() - size);
            producer
                .submit(shardline_producer::UserRecord::new(
                    format!("{:016x}", rng.gen::<u64>()),
                    pool.slice(offset..offset + size),
                ))
                .await
                .map_err(|e| anyhow::anyhow!("loading: {e}"))?;
        }
        producer.flush().await;
        producer.shutdown().await;
    }
    let app = format!("bench-consume-{run_id}");
    let processed = Arc::new(AtomicU64::new(0));
    let first = Arc::new(Mutex::new(None));
    let (counter, first_seen) = (Arc::clone(&processed), Arc::clone(&first));
    let scheduler = Scheduler::new(
        client.clone(),
        store(&args, &app),
        consumer_config(&args, &common.stream, &app),
        move |_shard: &str| Count {
            processed: Arc::clone(&counter),
            started: Arc::new(AtomicU64::new(0)),
            first: Arc::clone(&first_seen),
            latency: None,
        },
    );
    let stop = scheduler.shutdown_handle();
    let started = Instant::now();
    let worker = tokio::spawn(scheduler.run());
    let progress = {
        let p = Arc::clone(&processed);
        Progress::start(args.records, common.json, move |elapsed| {
            let n = load(&p);
            (
                n,
                format!(
                    "{} processed, {} records/s",
                    thousands(n),
                    thousands((n as f64 / elapsed.as_secs_f64().max(1e-3)) as u64)
                ),
            )
        })
    };
    let deadline = started + Duration::from_secs(600);
    while load(&processed) < args.records {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {} records processed in 10 minutes",
            load(&processed),
            args.records
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let done = Instant::now();
    let first_at = first.lock().ok().and_then(|f| *f).unwrap_or(started);
    // The rate is over the processing (first record to last); starting up is reported apart.
    let took = done.duration_since(first_at);
    let startup = first_at.duration_since(started);
    progress.finish();
    stop.shutdown().await;
    worker.await.context("the worker")??;

    // 2. Latency: a second stream, records put one by one at a steady rate.
    let latency_stream = format!("{}-latency", common.stream);
    control::ensure_stream(&target.client, &latency_stream, true, common.shards).await?;
    let app = format!("bench-latency-{run_id}");
    let latency = Arc::new(Mutex::new(Latency::default()));
    let seen = Arc::new(AtomicU64::new(0));
    let shards_started = Arc::new(AtomicU64::new(0));
    let (l, s, st) = (
        Arc::clone(&latency),
        Arc::clone(&seen),
        Arc::clone(&shards_started),
    );
    let scheduler = Scheduler::new(
        client.clone(),
        store(&args, &app),
        consumer_config(&args, &latency_stream, &app),
        move |_shard: &str| Count {
            processed: Arc::clone(&s),
            started: Arc::clone(&st),
            first: Arc::new(Mutex::new(None)),
            latency: Some(Arc::clone(&l)),
        },
    );
    let stop = scheduler.shutdown_handle();
    let worker = tokio::spawn(scheduler.run());
    // Every shard's processor started (its reader or subscription opening), then a moment.
    let deadline = Instant::now() + Duration::from_secs(120);
    while load(&shards_started) < u64::from(common.shards) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut sent = 0u64;
    let interval = Duration::from_secs_f64(1.0 / args.rate.max(0.1));
    let mut tick = tokio::time::interval(interval);
    let end = Instant::now() + args.latency_duration;
    let mut rng = rand::thread_rng();
    while Instant::now() < end {
        tick.tick().await;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut data = vec![0u8; size.max(8)];
        data[..8].copy_from_slice(&now.to_be_bytes());
        client
            .put_record()
            .stream_name(&latency_stream)
            .partition_key(format!("{:016x}", rng.gen::<u64>()))
            .data(aws_sdk_kinesis::primitives::Blob::new(data))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("PutRecord: {e:?}"))?;
        sent += 1;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.load(Ordering::Relaxed) < sent && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.shutdown().await;
    worker.await.context("the worker")??;
    let latency_summary = latency.lock().map(|l| l.summary()).unwrap_or_default();

    let secs = took.as_secs_f64();
    let report = ConsumeReport {
        endpoint: common.endpoint.clone(),
        mode: if args.fan_out { "fan-out" } else { "polling" },
        shards: target.open_shards,
        records: args.records,
        record_size: args.record_size,
        startup_seconds: round3(startup.as_secs_f64()),
        seconds: round3(secs),
        records_per_sec: round3(args.records as f64 / secs),
        latency_records: seen.load(Ordering::Relaxed),
        latency_ms: latency_summary,
        lease_store: if args.dynamodb_endpoint.is_some() {
            "DynamoDB"
        } else {
            "memory"
        },
    };
    emit(&report, common.json, print_human)?;
    super::finish(common, &target).await?;
    Ok(())
}
