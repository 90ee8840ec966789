//! `shardline bench queue`: a queue's receive + acknowledge throughput. An on-demand stream
//! gets `--records` records (PutRecords), then a queue on it (TRIM_HORIZON) is drained by
//! `--consumers` workers, each looping ReceiveQueueRecords (10 records) → AcknowledgeQueueRecords
//! on its own connection, until every record is acknowledged. Reports records/s from the first
//! receive to the last acknowledgement, and the latency of both calls.
//!
//! The AWS SDK for Rust has no queue operations yet, so this speaks JSON 1.1 directly through
//! the bench's own client.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use base64::Engine as _;
use clap::Args;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::client::Client;
use super::control::call;
use super::report::{emit, thousands};
use super::stats::{round3, Latency, LatencySummary};
use super::Common;

#[derive(Args, Debug)]
pub struct QueueArgs {
    #[command(flatten)]
    pub common: Common,
    /// Records put, then received and acknowledged.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub records: u64,
    /// Bytes of data per record.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub record_size: u32,
    /// Workers receiving and acknowledging, each on its own connection.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub consumers: u32,
}

#[derive(Serialize)]
struct QueueReport {
    endpoint: String,
    records: u64,
    record_size: u32,
    consumers: u32,
    seconds: f64,
    records_per_sec: f64,
    mib_per_sec: f64,
    receives: u64,
    empty_receives: u64,
    redeliveries: u64,
    receive_ms: LatencySummary,
    acknowledge_ms: LatencySummary,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Received {
    queue_records: Vec<QueueRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueueRecord {
    receipt_handle: String,
    receive_count: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Acknowledged {
    successful: Vec<serde_json::Value>,
}

pub async fn run(args: QueueArgs) -> anyhow::Result<()> {
    let common = &args.common;
    let client = Client::new(&common.client_options())?;
    let stream = &common.stream;
    // Queues need an on-demand stream.
    match call::<serde_json::Value>(
        &client,
        "CreateStream",
        json!({ "StreamName": stream, "StreamModeDetails": { "StreamMode": "ON_DEMAND" } }),
    )
    .await
    {
        Ok(_) => {}
        Err(e) if e.is("ResourceInUseException") => {}
        Err(e) => return Err(anyhow!(e)).context("creating the on-demand stream"),
    }
    let (summary, _) = super::control::ensure_stream(&client, stream, false, 0).await?;
    put_all(&client, stream, args.records, args.record_size).await?;

    let name = format!("bench-{}", std::process::id());
    let created: serde_json::Value = call(
        &client,
        "CreateQueue",
        json!({
            "QueueName": name,
            "StreamConfigurationList": [{
                "StreamARN": summary.stream_arn,
                "StartingPosition": { "Type": "TRIM_HORIZON" },
            }],
            "QueueAttributes": { "VisibilityTimeoutSeconds": 60 },
        }),
    )
    .await
    .map_err(|e| anyhow!(e))
    .context("creating the queue")?;
    let queue = created["QueueDescription"]["QueueARN"]
        .as_str()
        .ok_or_else(|| anyhow!("CreateQueue answered no QueueARN"))?
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d: serde_json::Value = call(&client, "DescribeQueue", json!({ "QueueARN": queue }))
            .await
            .map_err(|e| anyhow!(e))?;
        if d["QueueDescription"]["QueueStatus"] == "ACTIVE" {
            break;
        }
        if Instant::now() > deadline {
            bail!("queue {queue} did not become ACTIVE");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let acked = Arc::new(AtomicU64::new(0));
    let receives = Arc::new(AtomicU64::new(0));
    let empty = Arc::new(AtomicU64::new(0));
    let redeliveries = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new((Latency::default(), Latency::default())));
    let progress = super::Progress::start(args.records, common.json, {
        let acked = acked.clone();
        move |_| (acked.load(Ordering::Relaxed), "acknowledged".to_string())
    });
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.consumers {
        let client = client.clone();
        let queue = queue.clone();
        let (acked, receives, empty, redeliveries, latencies) = (
            acked.clone(),
            receives.clone(),
            empty.clone(),
            redeliveries.clone(),
            latencies.clone(),
        );
        let total = args.records;
        workers.push(tokio::spawn(async move {
            let mut conn = client.connect().await.map_err(|e| anyhow!(e))?;
            let (mut rx_ms, mut ack_ms) = (Latency::default(), Latency::default());
            let mut idle_since: Option<Instant> = None;
            while acked.load(Ordering::Relaxed) < total {
                let t = Instant::now();
                let body = serde_json::to_vec(&json!({ "QueueARN": queue, "WaitTimeSeconds": 1 }))?;
                let reply = conn
                    .call(&client.prepare("ReceiveQueueRecords", body))
                    .await
                    .map_err(|e| anyhow!(e))?;
                let got: Received = reply.json().map_err(|e| anyhow!(e))?;
                rx_ms.record(t.elapsed());
                receives.fetch_add(1, Ordering::Relaxed);
                if got.queue_records.is_empty() {
                    empty.fetch_add(1, Ordering::Relaxed);
                    // Others hold the last records: stop once nothing came for a while.
                    let since = *idle_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > Duration::from_secs(5) {
                        break;
                    }
                    continue;
                }
                idle_since = None;
                let again = got
                    .queue_records
                    .iter()
                    .filter(|r| r.receive_count > 1)
                    .count();
                redeliveries.fetch_add(again as u64, Ordering::Relaxed);
                let entries: Vec<_> = got
                    .queue_records
                    .iter()
                    .map(|r| json!({ "ReceiptHandle": r.receipt_handle }))
                    .collect();
                let t = Instant::now();
                let body = serde_json::to_vec(&json!({ "QueueARN": queue, "Entries": entries }))?;
                let reply = conn
                    .call(&client.prepare("AcknowledgeQueueRecords", body))
                    .await
                    .map_err(|e| anyhow!(e))?;
                let out: Acknowledged = reply.json().map_err(|e| anyhow!(e))?;
                ack_ms.record(t.elapsed());
                acked.fetch_add(out.successful.len() as u64, Ordering::Relaxed);
            }
            let mut l = latencies.lock();
            l.0.merge(&rx_ms);
            l.1.merge(&ack_ms);
            anyhow::Ok(())
        }));
    }
    for w in workers {
        w.await.context("a consumer task")??;
    }
    let seconds = started.elapsed().as_secs_f64();
    progress.finish();
    let done = acked.load(Ordering::Relaxed);
    if done < args.records {
        bail!("only {done} of {} records were acknowledged", args.records);
    }
    let _ = call::<serde_json::Value>(&client, "DeleteQueue", json!({ "QueueARN": queue })).await;
    let (rx, ack) = {
        let l = latencies.lock();
        (l.0.summary(), l.1.summary())
    };
    let report = QueueReport {
        endpoint: common.endpoint.clone(),
        records: args.records,
        record_size: args.record_size,
        consumers: args.consumers,
        seconds: round3(seconds),
        records_per_sec: round3(args.records as f64 / seconds),
        mib_per_sec: round3(
            args.records as f64 * f64::from(args.record_size) / seconds / 1048576.0,
        ),
        receives: receives.load(Ordering::Relaxed),
        empty_receives: empty.load(Ordering::Relaxed),
        redeliveries: redeliveries.load(Ordering::Relaxed),
        receive_ms: rx,
        acknowledge_ms: ack,
    };
    emit(&report, common.json, |r| {
        format!(
            "queue: {} records of {} B by {} consumers in {:.1} s: {} records/s ({:.1} MiB/s); \
             ReceiveQueueRecords p50 {} ms p99 {} ms, AcknowledgeQueueRecords p50 {} ms p99 {} ms; \
             {} receives ({} empty), {} redeliveries",
            thousands(r.records),
            r.record_size,
            r.consumers,
            r.seconds,
            thousands(r.records_per_sec as u64),
            r.mib_per_sec,
            r.receive_ms.p50,
            r.receive_ms.p99,
            r.acknowledge_ms.p50,
            r.acknowledge_ms.p99,
            thousands(r.receives),
            thousands(r.empty_receives),
            thousands(r.redeliveries),
        )
    })
}

/// Puts `records` records of `size` bytes with PutRecords (500 a call, 4 calls at a time).
async fn put_all(client: &Client, stream: &str, records: u64, size: u32) -> anyhow::Result<()> {
    let data = base64::engine::general_purpose::STANDARD.encode(vec![b'q'; size as usize]);
    let mut next = 0u64;
    while next < records {
        let mut calls = Vec::new();
        for _ in 0..4 {
            if next >= records {
                break;
            }
            let n = (records - next).min(500);
            let entries: Vec<_> = (next..next + n)
                .map(|i| json!({ "Data": data, "PartitionKey": format!("k{i}") }))
                .collect();
            next += n;
            let client = client.clone();
            let stream = stream.to_string();
            calls.push(tokio::spawn(async move {
                let out: serde_json::Value = call(
                    &client,
                    "PutRecords",
                    json!({ "StreamName": stream, "Records": entries }),
                )
                .await
                .map_err(|e| anyhow!(e))?;
                if out["FailedRecordCount"].as_u64() != Some(0) {
                    bail!(
                        "PutRecords failed some records: {}",
                        out["FailedRecordCount"]
                    );
                }
                anyhow::Ok(())
            }));
        }
        for c in calls {
            c.await.context("a put task")??;
        }
    }
    Ok(())
}
