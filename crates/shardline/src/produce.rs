//! `shardline produce --stream S [--aggregate] < lines`: one record per line of standard input,
//! put through the producer library (`shardline-producer`): collected into PutRecords, kept
//! within each shard's limits, retried until placed or expired, aggregated in the KPL's format
//! with `--aggregate`. The partition key is random, a JSON field of the line, or a template.
//! A progress line goes to stderr on a terminal; a summary goes to stderr at the end. Exits
//! non-zero when a record could not be placed.

use std::collections::VecDeque;
use std::io::{BufRead, IsTerminal};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Args;
use shardline_producer::{Producer, ProducerConfig, Ticket, UserRecord};

use crate::credentials::CredentialArgs;

#[derive(Args, Debug)]
pub struct ProduceArgs {
    /// The Kinesis endpoint
    #[arg(
        long,
        env = "SHARDLINE_ENDPOINT",
        default_value = "http://127.0.0.1:4567"
    )]
    endpoint: String,
    /// The stream to put to
    #[arg(long)]
    stream: String,
    /// Pack lines into KPL aggregated records (the KCL and `shardline consume` unpack them)
    #[arg(long)]
    aggregate: bool,
    /// The partition key: `random`, `field:NAME` (a field of the line read as JSON; dots
    /// reach into objects), or a template where `{n}` is the line's number and `{NAME}` a
    /// JSON field, e.g. `user-{user.id}`
    #[arg(long, default_value = "random")]
    partition_key: KeySpec,
    /// Keep the lines of each shard in order (one PutRecords call in flight per shard)
    #[arg(long)]
    ordering: bool,
    /// How long a record may wait to be sent with others, in milliseconds
    #[arg(long, default_value_t = 100)]
    linger_ms: u64,
    /// Per-shard budget as a percentage of 1,000 records and 1 MiB a second
    #[arg(long, default_value_t = 150, value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit: u32,
    /// How long a record may go unplaced, retries included, in seconds
    #[arg(long, default_value_t = 30)]
    ttl_secs: u64,
    /// PutRecords calls in flight at once
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..))]
    max_in_flight: u32,
    /// No progress line and no summary
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    credentials: CredentialArgs,
}

/// Where a line's partition key comes from.
#[derive(Clone, Debug)]
enum KeySpec {
    Random,
    Field(String),
    Template(Vec<Part>),
}

#[derive(Clone, Debug)]
enum Part {
    Text(String),
    Number,
    Field(String),
}

impl std::str::FromStr for KeySpec {
    type Err = String;

    fn from_str(s: &str) -> Result<KeySpec, String> {
        if s == "random" {
            return Ok(KeySpec::Random);
        }
        if let Some(name) = s.strip_prefix("field:") {
            if name.is_empty() {
                return Err("field: needs a field name".into());
            }
            return Ok(KeySpec::Field(name.to_string()));
        }
        let mut parts = Vec::new();
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let Some(close) = rest[open..].find('}') else {
                return Err(format!("unclosed {{ in the template {s}"));
            };
            let name = &rest[open + 1..open + close];
            parts.push(match name {
                "n" => Part::Number,
                "" => return Err(format!("empty {{}} in the template {s}")),
                field => Part::Field(field.to_string()),
            });
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        if parts.is_empty() {
            return Err("the partition key template is empty".into());
        }
        Ok(KeySpec::Template(parts))
    }
}

/// A JSON field of `line` (dotted path), as text: strings as they are, other values as JSON.
fn field(line: &[u8], path: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(line).ok()?;
    let mut at = &value;
    for name in path.split('.') {
        at = at.get(name)?;
    }
    match at {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

impl KeySpec {
    fn key(&self, line: &[u8], n: u64, random: &mut u64) -> Result<String, String> {
        let key = match self {
            KeySpec::Random => {
                // xorshift: distinct keys spread over the hash range.
                *random ^= *random << 13;
                *random ^= *random >> 7;
                *random ^= *random << 17;
                format!("{:016x}", *random)
            }
            KeySpec::Field(name) => {
                field(line, name).ok_or_else(|| format!("line {n} has no field {name}"))?
            }
            KeySpec::Template(parts) => {
                let mut key = String::new();
                for part in parts {
                    match part {
                        Part::Text(t) => key.push_str(t),
                        Part::Number => key.push_str(&n.to_string()),
                        Part::Field(name) => key.push_str(
                            &field(line, name)
                                .ok_or_else(|| format!("line {n} has no field {name}"))?,
                        ),
                    }
                }
                key
            }
        };
        if key.is_empty() {
            return Err(format!("line {n}: the partition key is empty"));
        }
        Ok(key)
    }
}

pub fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(produce(args))
}

/// Tallies of a run.
#[derive(Default)]
struct Tally {
    read: u64,
    placed: u64,
    failed: u64,
}

async fn produce(args: ProduceArgs) -> anyhow::Result<()> {
    let client = args.credentials.kinesis_client(&args.endpoint)?;
    let mut config = ProducerConfig::new(&args.stream);
    config.aggregation = args.aggregate;
    config.ordering = args.ordering;
    config.linger = Duration::from_millis(args.linger_ms);
    config.rate_limit_percent = args.rate_limit;
    config.record_ttl = Duration::from_secs(args.ttl_secs);
    config.max_in_flight = args.max_in_flight as usize;
    let producer = Producer::start(client, config)
        .await
        .map_err(anyhow::Error::msg)?;

    // Lines are read on a blocking thread, a batch at a time.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<Bytes>>>(4);
    let reader = tokio::task::spawn_blocking(move || {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut batch = Vec::with_capacity(1024);
        let mut line = Vec::new();
        loop {
            line.clear();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                    }
                    batch.push(Bytes::copy_from_slice(&line));
                    if batch.len() == 1024
                        && tx.blocking_send(Ok(std::mem::take(&mut batch))).is_err()
                    {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok(batch));
        }
    });

    let progress = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut first_error: Option<String> = None;
    let mut tickets: VecDeque<Ticket> = VecDeque::new();
    let mut random = 0x9E37_79B9_7F4A_7C15_u64 ^ u64::from(std::process::id());
    let mut last_shown = Instant::now();
    while let Some(batch) = rx.recv().await {
        let batch = batch.context("reading standard input")?;
        for data in batch {
            tally.read += 1;
            let key = match args.partition_key.key(&data, tally.read, &mut random) {
                Ok(k) => k,
                Err(e) => {
                    tally.failed += 1;
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            match producer.submit(UserRecord::new(key, data)).await {
                Ok(t) => tickets.push_back(t),
                Err(e) => {
                    tally.failed += 1;
                    first_error.get_or_insert_with(|| format!("line {}: {e}", tally.read));
                }
            }
            // Take the answers that came (in submit order), so none waits holding memory.
            while let Some(t) = tickets.front_mut() {
                let Some(answer) = t.try_answer() else {
                    break;
                };
                settle(answer, &mut tally, &mut first_error);
                tickets.pop_front();
            }
        }
        if let Some(bar) = &progress {
            if last_shown.elapsed() >= Duration::from_millis(200) {
                last_shown = Instant::now();
                bar.set_message(summary(&tally, started.elapsed(), "read"));
            }
        }
    }
    let _ = reader.await;
    producer.flush().await;
    for t in tickets {
        settle(t.await, &mut tally, &mut first_error);
    }
    producer.shutdown().await;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if !args.quiet {
        eprintln!(
            "shardline produce: {}",
            summary(&tally, started.elapsed(), "lines")
        );
    }
    if tally.failed > 0 {
        bail!(
            "{} of {} records not placed; the first: {}",
            tally.failed,
            tally.read,
            first_error.unwrap_or_default()
        );
    }
    Ok(())
}

fn settle(
    answer: Result<shardline_producer::Placed, shardline_producer::ProduceError>,
    tally: &mut Tally,
    first_error: &mut Option<String>,
) {
    match answer {
        Ok(_) => tally.placed += 1,
        Err(e) => {
            tally.failed += 1;
            first_error.get_or_insert_with(|| e.to_string());
        }
    }
}

fn summary(tally: &Tally, took: Duration, read: &str) -> String {
    let secs = took.as_secs_f64().max(1e-9);
    format!(
        "{} {read}, {} placed, {} failed in {:.1} s ({:.0} records/s)",
        tally.read,
        tally.placed,
        tally.failed,
        secs,
        tally.placed as f64 / secs
    )
}
