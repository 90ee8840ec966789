//! `shardline bench get`: read a stream back with GetRecords from every shard at once.
//!
//! Per shard: GetShardIterator TRIM_HORIZON, then GetRecords back to back on one connection
//! until the shard is caught up (an empty answer with MillisBehindLatest 0, or the end of a
//! closed shard), bounded by `--duration`. Throttling is backed off from and counted apart.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use clap::Args;
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use super::client::{CallError, Client, Conn};
use super::control;
use super::report::{self, Ceiling, GetReport};
use super::stats::{bump, load, Counters, ReadResult};
use super::{mock, parse_duration, Common, Progress};

#[derive(Args, Debug)]
pub struct GetArgs {
    #[command(flatten)]
    pub common: Common,
    /// Longest the read may take.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub duration: Duration,
    /// Records per GetRecords call.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
    /// How long to measure the client's own ceiling against an in-process mock after the run
    /// ("0" skips it).
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub measure_client: Duration,
}

#[derive(Deserialize)]
struct GetRecordsOut<'a> {
    #[serde(rename = "Records", borrow, default)]
    records: Vec<DataOnly<'a>>,
    #[serde(rename = "NextShardIterator")]
    next: Option<String>,
    #[serde(rename = "MillisBehindLatest", default)]
    behind: u64,
}

#[derive(Deserialize)]
struct DataOnly<'a> {
    #[serde(rename = "Data", borrow)]
    data: Cow<'a, str>,
}

/// The decoded length of standard base64 text, without decoding it.
fn decoded_len(b64: &str) -> u64 {
    let pad = b64.bytes().rev().take(2).filter(|&b| b == b'=').count();
    ((b64.len() / 4 * 3).saturating_sub(pad)) as u64
}

/// (records, data bytes, NextShardIterator, MillisBehindLatest) read off a compact GetRecords
/// answer without parsing it: a full parse cost the client about as much CPU per record as
/// the server spent answering. `None` (parse it properly) unless the answer has the
/// expected keys with no whitespace. Key patterns cannot match inside a string value,
/// where every `"` follows a backslash.
fn scan(body: &[u8]) -> Option<(u64, u64, Option<String>, u64)> {
    use memchr::memmem;
    let after = |key: &[u8]| memmem::find(body, key).map(|at| at + key.len());
    after(b"\"Records\":[")?;
    let (mut records, mut bytes) = (0u64, 0u64);
    for start in memmem::find_iter(body, b"\"Data\":\"") {
        let data = &body[start + 8..];
        let len = memchr::memchr(b'"', data)?;
        records += 1;
        bytes += decoded_len(std::str::from_utf8(&data[..len]).ok()?);
    }
    let next = match after(b"\"NextShardIterator\":") {
        None => None,
        Some(at) if body[at..].starts_with(b"null") => None,
        Some(at) => {
            let value = body[at..].strip_prefix(b"\"")?;
            let len = memchr::memchr(b'"', value)?;
            let text = std::str::from_utf8(&value[..len]).ok()?;
            if text.contains('\\') {
                return None;
            }
            Some(text.to_owned())
        }
    };
    let behind = match after(b"\"MillisBehindLatest\":") {
        None => 0,
        Some(at) => {
            let digits = body[at..].iter().take_while(|b| b.is_ascii_digit()).count();
            std::str::from_utf8(&body[at..at + digits])
                .ok()?
                .parse()
                .ok()?
        }
    };
    Some((records, bytes, next, behind))
}

pub async fn run(args: GetArgs) -> anyhow::Result<()> {
    let common = &args.common;
    let target = super::setup(common).await?;
    let shards = control::list_shards(&target.client, &common.stream).await?;
    let counters = Arc::new(Counters::default());
    let progress = {
        let c = counters.clone();
        Progress::start(
            args.duration.as_millis() as u64,
            common.json,
            move |elapsed| {
                let records = load(&c.records);
                let secs = elapsed.as_secs_f64().max(1e-9);
                let msg = format!(
                    "{records} records, {:.0} records/s, {:.1} MiB/s",
                    records as f64 / secs,
                    load(&c.bytes) as f64 / secs / 1048576.0
                );
                (elapsed.as_millis() as u64, msg)
            },
        )
    };
    let result = read_all(
        &target.client,
        &common.stream,
        &shards,
        args.duration,
        args.limit,
        counters,
    )
    .await;
    progress.finish();
    let result = result?;

    let ceiling = if args.measure_client.is_zero() || result.non_empty == 0 {
        None
    } else {
        Some(
            measure_ceiling(
                common,
                &result,
                shards.len(),
                args.limit,
                args.measure_client,
            )
            .await?,
        )
    };
    let report = GetReport::new(
        common,
        shards.len() as u64,
        args.limit,
        target.client.signs(),
        &result,
        ceiling.map(|c| Ceiling::from_read(&c, target.client.is_tls())),
    );
    super::finish(common, &target).await?;
    report::emit(&report, common.json, GetReport::print_human)
}

async fn read_all(
    client: &Client,
    stream: &str,
    shards: &[control::ShardInfo],
    bound: Duration,
    limit: u32,
    counters: Arc<Counters>,
) -> anyhow::Result<ReadResult> {
    // Iterators and connections first, so the clock measures reading.
    let mut starts = Vec::with_capacity(shards.len());
    for shard in shards {
        let it = control::shard_iterator(client, stream, &shard.id, "TRIM_HORIZON").await?;
        starts.push((client.connect().await?, it));
    }
    let start = Instant::now();
    let deadline = start + bound;
    let tasks: Vec<_> = starts
        .into_iter()
        .map(|(conn, it)| {
            tokio::spawn(read_shard(
                client.clone(),
                conn,
                it,
                deadline,
                limit,
                counters.clone(),
            ))
        })
        .collect();
    let mut total = ReadResult::default();
    for t in tasks {
        total.merge(t.await?);
    }
    total.elapsed = start.elapsed();
    Ok(total)
}

async fn read_shard(
    client: Client,
    mut conn: Conn,
    mut iterator: String,
    deadline: Instant,
    limit: u32,
    counters: Arc<Counters>,
) -> ReadResult {
    let mut out = ReadResult::default();
    let mut transport_failures = 0;
    while Instant::now() < deadline {
        let input = json!({ "ShardIterator": iterator, "Limit": limit });
        let body = serde_json::to_vec(&input).expect("a JSON value serialises");
        let req = client.prepare("GetRecords", body);
        let t0 = Instant::now();
        let reply = conn.call(&req).await;
        let rtt = t0.elapsed();
        out.requests += 1;
        bump(&counters.requests, 1);
        let parsed = reply.and_then(|r| match r.error() {
            Some(e) => Err(e),
            None => {
                if let Some(scanned) = scan(&r.body) {
                    return Ok(scanned);
                }
                let o: GetRecordsOut<'_> = serde_json::from_slice(&r.body).map_err(|e| {
                    CallError::Transport(format!("undecodable GetRecords response: {e}"))
                })?;
                let bytes: u64 = o.records.iter().map(|d| decoded_len(&d.data)).sum();
                Ok((o.records.len() as u64, bytes, o.next, o.behind))
            }
        });
        match parsed {
            Ok((n, bytes, next, behind)) => {
                out.latency.record(rtt);
                out.records += n;
                out.bytes += bytes;
                out.non_empty += u64::from(n > 0);
                bump(&counters.records, n);
                bump(&counters.bytes, bytes);
                match next {
                    None => {
                        out.caught_up += 1; // the end of a closed shard
                        break;
                    }
                    Some(next) => iterator = next,
                }
                if n == 0 && behind == 0 {
                    out.caught_up += 1;
                    break;
                }
            }
            Err(e) if e.is_throttling() => {
                out.throttled += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(CallError::Transport(_)) if transport_failures < 3 => {
                transport_failures += 1;
                out.errors.add("transport", 1);
                bump(&counters.errors, 1);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                // The iterator is not usable any more (expired, stream gone, ...).
                out.errors.add(e.kind(), 1);
                bump(&counters.errors, 1);
                eprintln!("GetRecords failed: {e}");
                break;
            }
        }
    }
    out
}

/// Reads from an in-process mock answering GetRecords with the run's average answer (records
/// per non-empty answer, record size), one connection per shard as in the run.
async fn measure_ceiling(
    common: &Common,
    run: &ReadResult,
    shards: usize,
    limit: u32,
    duration: Duration,
) -> anyhow::Result<ReadResult> {
    let per_answer = (run.records / run.non_empty.max(1)).clamp(1, u64::from(limit));
    let record_size = (run.bytes / run.records.max(1)).max(1);
    let answer = canned_get_answer(per_answer, record_size);
    let mock = mock::start(HashMap::from([("GetRecords".to_owned(), answer)])).await?;
    let mut opts = common.client_options();
    opts.endpoint = mock.endpoint.clone();
    let client = Client::new(&opts)?;
    if !common.json {
        eprintln!(
            "measuring the client's ceiling for {} against an in-process mock...",
            super::fmt_duration(duration)
        );
    }
    let mut conns = Vec::new();
    for _ in 0..shards.max(1) {
        conns.push(client.connect().await?);
    }
    let start = Instant::now();
    let deadline = start + duration;
    let counters = Arc::new(Counters::default());
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|conn| {
            // The mock always answers with a next iterator and is always "behind", so each
            // loop runs until the deadline.
            tokio::spawn(read_shard(
                client.clone(),
                conn,
                "mock-iterator".into(),
                deadline,
                limit,
                counters.clone(),
            ))
        })
        .collect();
    let mut total = ReadResult::default();
    for t in tasks {
        total.merge(t.await?);
    }
    total.elapsed = start.elapsed();
    drop(mock);
    if total.errors.total() > 0 {
        anyhow::bail!(
            "the client-ceiling measurement failed: {:?}",
            total.errors.0
        );
    }
    Ok(total)
}

/// A GetRecords answer shaped like shardline's, with `n` records of `size` bytes.
fn canned_get_answer(n: u64, size: u64) -> Bytes {
    let data = base64::engine::general_purpose::STANDARD.encode(vec![0x5au8; size as usize]);
    let record = format!(
        r#"{{"SequenceNumber":"49659840263549373425591836459851129962458532123456789010","ApproximateArrivalTimestamp":1750000000.123,"Data":"{data}","PartitionKey":"pk-123"}}"#
    );
    let records = vec![record.as_str(); n as usize].join(",");
    let iterator = "A".repeat(200);
    Bytes::from(format!(
        r#"{{"Records":[{records}],"NextShardIterator":"{iterator}","MillisBehindLatest":1000}}"#
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoded_length_of_base64() {
        let b64 = base64::engine::general_purpose::STANDARD;
        for n in 0..10 {
            assert_eq!(decoded_len(&b64.encode(vec![1u8; n])), n as u64);
        }
    }

    #[test]
    fn scan_agrees_with_a_full_parse() {
        let spaced = br#"{"Records": [{"Data": "AAA="}], "NextShardIterator": "i", "MillisBehindLatest": 0}"#;
        assert_eq!(scan(spaced), None, "whitespace: parsed properly instead");
        let tricky = br#"{"Records":[{"SequenceNumber":"1","Data":"AAECAw==","PartitionKey":"\"Data\":\"xx"},{"Data":""}],"NextShardIterator":null,"MillisBehindLatest":7}"#;
        for body in [
            &canned_get_answer(3, 10)[..],
            &tricky[..],
            br#"{"Records":[],"NextShardIterator":"abc","MillisBehindLatest":0}"#,
        ] {
            let o: GetRecordsOut<'_> = serde_json::from_slice(body).unwrap();
            let bytes: u64 = o.records.iter().map(|d| decoded_len(&d.data)).sum();
            assert_eq!(
                scan(body),
                Some((o.records.len() as u64, bytes, o.next.clone(), o.behind)),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn canned_answer_parses_as_get_records() {
        let body = canned_get_answer(3, 10);
        let o: GetRecordsOut<'_> = serde_json::from_slice(&body).unwrap();
        assert_eq!(o.records.len(), 3);
        assert_eq!(decoded_len(&o.records[0].data), 10);
        assert!(o.next.is_some());
        assert_eq!(o.behind, 1000);
    }
}
