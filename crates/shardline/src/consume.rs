//! `shardline consume --stream S --app NAME`: prints a stream's records as they arrive, through
//! the consumer library (`shardline-consumer`), checkpointing after every batch under the
//! application's name — in a local lease file by default, or in a DynamoDB lease table (the
//! KCL's schema) shared with other workers, `shardline consume` or the Java KCL alike.
//! Ctrl-C (or SIGTERM) stops it gracefully: what was printed is checkpointed, the leases are
//! given up.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use base64::Engine as _;
use clap::{Args, ValueEnum};
use shardline_consumer::{
    AnyStore, Batch, Checkpointer, ConsumerConfig, DynamoDbStore, FileStore, InitialPosition,
    Record, RecordProcessor, Retrieval, Scheduler, ShutdownHandle,
};

use crate::credentials::CredentialArgs;

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    /// The Kinesis endpoint
    #[arg(
        long,
        env = "SHARDLINE_ENDPOINT",
        default_value = "http://127.0.0.1:4567"
    )]
    endpoint: String,
    /// The stream to read
    #[arg(long)]
    stream: String,
    /// The application: names the checkpoints (the lease table or file) and, with --fan-out,
    /// the stream consumer
    #[arg(long)]
    app: String,
    /// Read through enhanced fan-out (SubscribeToShard) instead of GetRecords
    #[arg(long)]
    fan_out: bool,
    /// Where shards without a checkpoint start: trim-horizon, latest, or a time (RFC 3339, or
    /// seconds since the epoch)
    #[arg(long, default_value = "latest")]
    from: String,
    /// Keep leases in this DynamoDB table (created if missing) instead of a local file
    #[arg(long)]
    lease_table: Option<String>,
    /// The DynamoDB endpoint for --lease-table (default: AWS's for the region)
    #[arg(long, requires = "lease_table")]
    dynamodb_endpoint: Option<String>,
    /// The local lease file (default: ~/.shardline/consumers/<app>.json)
    #[arg(long, conflicts_with = "lease_table")]
    lease_file: Option<PathBuf>,
    /// How each record is printed
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// This worker's name in the lease table (default: host, process id and a random suffix)
    #[arg(long)]
    worker_id: Option<String>,
    /// Stop (checkpointing, giving the leases up) after printing this many records
    #[arg(long)]
    max_records: Option<u64>,
    /// Pause between GetRecords calls that reached the tip of a shard, in milliseconds
    #[arg(long, default_value_t = 1000)]
    idle_ms: u64,
    /// A lease whose owner stopped renewing it is taken after this long, in milliseconds;
    /// renewals and takes are timed from it as the KCL does
    #[arg(long, default_value_t = 10_000)]
    failover_ms: u64,
    /// How often a child shard checks whether its parents are finished, in milliseconds
    #[arg(long, default_value_t = 10_000)]
    parent_poll_ms: u64,
    /// How often the stream's shards are compared with the leases, in milliseconds
    #[arg(long, default_value_t = 60_000)]
    shard_sync_ms: u64,
    #[command(flatten)]
    credentials: CredentialArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// The data as text, one record a line
    Text,
    /// One JSON object a line: when it was printed (`at`), shard, sequence and sub-sequence
    /// number, partition key, data (text, or base64 in `data_base64` when it is not UTF-8),
    /// arrival time
    Json,
    /// Shard, sequence number and the data in hex
    Hex,
}

fn initial_position(from: &str) -> anyhow::Result<InitialPosition> {
    Ok(match from {
        "trim-horizon" | "TRIM_HORIZON" => InitialPosition::TrimHorizon,
        "latest" | "LATEST" => InitialPosition::Latest,
        other => {
            if let Ok(secs) = other.parse::<f64>() {
                InitialPosition::AtTimestamp(UNIX_EPOCH + Duration::from_secs_f64(secs.max(0.0)))
            } else {
                let t = aws_sdk_kinesis::primitives::DateTime::from_str(
                    other,
                    aws_sdk_kinesis::primitives::DateTimeFormat::DateTime,
                )
                .with_context(|| {
                    format!("--from {other}: not trim-horizon, latest, RFC 3339 or epoch seconds")
                })?;
                InitialPosition::AtTimestamp(
                    SystemTime::try_from(t).context("--from: a time before 1970")?,
                )
            }
        }
    })
}

/// Prints records and checkpoints after each batch, within a shared budget of records.
struct Printer {
    format: Format,
    /// Records still to print (`i64::MAX` without --max-records).
    budget: Arc<AtomicI64>,
    /// Stops the whole worker when the budget is spent or stdout is gone.
    stop: Option<ShutdownHandle>,
}

impl Printer {
    fn line(&self, shard: &str, r: &Record) -> String {
        match self.format {
            Format::Text => String::from_utf8_lossy(&r.data).into_owned(),
            Format::Hex => {
                let hex: String = r.data.iter().map(|b| format!("{b:02x}")).collect();
                format!("{shard} {} {hex}", r.sequence_number)
            }
            Format::Json => {
                let mut v = serde_json::json!({
                    "at": SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64()),
                    "shard": shard,
                    "sequence": r.sequence_number,
                    "sub": r.sub_sequence_number,
                    "partition_key": r.partition_key,
                    "arrival": r.approximate_arrival
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .map(|d| d.as_secs_f64()),
                });
                match std::str::from_utf8(&r.data) {
                    Ok(text) => v["data"] = text.into(),
                    Err(_) => {
                        v["data_base64"] = base64::engine::general_purpose::STANDARD
                            .encode(&r.data)
                            .into()
                    }
                }
                v.to_string()
            }
        }
    }
}

impl RecordProcessor for Printer {
    async fn process_records(&mut self, batch: Batch, checkpointer: &mut Checkpointer) {
        let n = batch.records.len() as i64;
        let before = self.budget.fetch_sub(n, Ordering::SeqCst);
        let take = before.clamp(0, n) as usize;
        if take == 0 {
            return;
        }
        let mut out = String::new();
        for r in &batch.records[..take] {
            out.push_str(&self.line(&batch.shard_id, r));
            out.push('\n');
        }
        {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            // A closed pipe (| head) ends the run.
            if lock
                .write_all(out.as_bytes())
                .and_then(|_| lock.flush())
                .is_err()
            {
                self.stop_worker();
                return;
            }
        }
        // Printed, then checkpointed: a crash in between prints these again (at least once).
        let last = &batch.records[take - 1];
        if let Err(e) = checkpointer.checkpoint_at(last).await {
            tracing::warn!(shard = %batch.shard_id, error = %e, "checkpoint");
        }
        if before - n <= 0 {
            self.stop_worker();
        }
    }

    async fn shutdown_requested(&mut self, _checkpointer: &mut Checkpointer) {}
}

impl Printer {
    /// Checkpoints are written after each batch printed; nothing more at shutdown (the last
    /// batch handed over may hold records past --max-records that were not printed).
    fn stop_worker(&self) {
        if let Some(stop) = self.stop.clone() {
            tokio::spawn(async move { stop.shutdown().await });
        }
    }
}

pub fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(consume(args))
}

fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into());
    format!(
        "{host}-{}-{:06x}",
        std::process::id(),
        rand::random::<u32>() & 0xff_ffff
    )
}

async fn consume(args: ConsumeArgs) -> anyhow::Result<()> {
    let client = args.credentials.kinesis_client(&args.endpoint)?;
    let store = match &args.lease_table {
        Some(table) => {
            let dynamo = args
                .credentials
                .dynamodb_client(args.dynamodb_endpoint.as_deref())?;
            AnyStore::DynamoDb(DynamoDbStore::new(dynamo, table))
        }
        None => {
            let path = match &args.lease_file {
                Some(p) => p.clone(),
                None => {
                    let home = std::env::var_os("HOME")
                        .map(PathBuf::from)
                        .context("no HOME for the default lease file; give --lease-file")?;
                    home.join(".shardline/consumers")
                        .join(format!("{}.json", args.app))
                }
            };
            AnyStore::File(FileStore::open(&path).map_err(anyhow::Error::msg)?)
        }
    };
    let failover = Duration::from_millis(args.failover_ms.max(300));
    let mut config = ConsumerConfig::new(
        &args.stream,
        &args.app,
        args.worker_id.clone().unwrap_or_else(default_worker_id),
    )
    .with_failover_time(failover);
    config.initial_position = initial_position(&args.from)?;
    config.parent_poll_interval = Duration::from_millis(args.parent_poll_ms.max(50));
    config.shard_sync_interval = Duration::from_millis(args.shard_sync_ms.max(100));
    config.retrieval = if args.fan_out {
        Retrieval::FanOut {
            consumer_name: None,
        }
    } else {
        Retrieval::Polling {
            max_records: 10_000,
            idle_between_reads: Duration::from_millis(args.idle_ms),
        }
    };
    let budget = Arc::new(AtomicI64::new(
        args.max_records
            .map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX)),
    ));
    // The scheduler exists before its processors, which need its shutdown handle.
    let handle_slot: Arc<std::sync::OnceLock<ShutdownHandle>> =
        Arc::new(std::sync::OnceLock::new());
    let format = args.format;
    let slot = Arc::clone(&handle_slot);
    let factory_budget = Arc::clone(&budget);
    let scheduler = Scheduler::new(client, store, config, move |_shard: &str| Printer {
        format,
        budget: Arc::clone(&factory_budget),
        stop: slot.get().cloned(),
    });
    let handle = scheduler.shutdown_handle();
    let _ = handle_slot.set(handle.clone());
    if args.max_records == Some(0) {
        return Ok(());
    }
    let signals = handle.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        signals.shutdown().await;
    });
    scheduler.run().await.map_err(anyhow::Error::msg)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
