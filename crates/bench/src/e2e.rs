//! `shardline bench e2e`: how long a record takes from PutRecord to a reader.
//!
//! One writer puts single records at `--rate`; each record's data carries the run's id, its
//! number and its send time (nanoseconds since a local epoch), so a reader's latency is its
//! receive time minus the send time on the same clock. Two paths are measured at once:
//! - put → visible: per shard, a GetRecords loop from LATEST polling back to back (or with
//!   `--poll-interval` between empty answers);
//! - put → SubscribeToShard: a registered consumer subscribed (LATEST) to every shard, the
//!   event stream read and decoded as it arrives.
//!
//! The writer starts only once every reader is in place. After the last put, readers get
//! `--drain` to receive what is still on its way; what never arrives is reported missing.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use base64::Engine as _;
use clap::{Args, ValueEnum};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use super::client::{CallError, Client, Conn};
use super::control;
use super::report::{self, E2eReport, E2eSettings, PathReport};
use super::stats::{load, ErrorTally, Latency};
use super::{parse_duration, Common, Progress};
use shardline_wire::eventstream::{Decoder, Message};

const MAGIC: &[u8; 8] = b"SLBENCH1";
/// Magic, run id, sequence, send time.
const HEADER: usize = 32;

#[derive(Args, Debug)]
pub struct E2eArgs {
    #[command(flatten)]
    pub common: Common,
    /// Records per second the writer puts (PutRecord, one call at a time).
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// How long the writer writes.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub duration: Duration,
    /// Bytes of data per record (at least 32: the timestamp header).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(32..=1_048_576))]
    pub record_size: u32,
    /// Name of the enhanced fan-out consumer to register (or reuse) for SubscribeToShard.
    #[arg(long, default_value = "bench-e2e")]
    pub consumer: String,
    /// Which read paths to measure.
    #[arg(long, value_enum, default_value_t = Paths::Both)]
    pub paths: Paths,
    /// Pause after a GetRecords poll that returned nothing ("0": poll continuously).
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub poll_interval: Duration,
    /// After the last put, how long readers get to receive the records still on their way.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub drain: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Paths {
    Both,
    Poll,
    Subscribe,
}

/// What one read path saw.
pub struct PathState {
    pub name: &'static str,
    pub received: AtomicU64,
    inner: Mutex<PathInner>,
}

#[derive(Default)]
struct PathInner {
    latency: Latency,
    seen: Vec<bool>,
    duplicates: u64,
    throttled: u64,
    errors: ErrorTally,
}

impl PathState {
    fn new(name: &'static str) -> Self {
        PathState {
            name,
            received: AtomicU64::new(0),
            inner: Mutex::new(PathInner::default()),
        }
    }

    fn throttled(&self) {
        self.inner.lock().expect("not poisoned").throttled += 1;
    }

    fn error(&self, kind: String) {
        self.inner.lock().expect("not poisoned").errors.add(kind, 1);
    }

    /// Accounts one record's data received at `now_ns`; data of other runs is ignored.
    fn record(&self, run_id: u64, data: &[u8], now_ns: u64) {
        let Some((seq, sent_ns)) = parse_data(run_id, data) else {
            return;
        };
        let mut inner = self.inner.lock().expect("not poisoned");
        let seq = seq as usize;
        if inner.seen.len() <= seq {
            inner.seen.resize(seq + 1, false);
        }
        if inner.seen[seq] {
            inner.duplicates += 1;
            return;
        }
        inner.seen[seq] = true;
        inner.latency.record_nanos(now_ns.saturating_sub(sent_ns));
        self.received.fetch_add(1, Ordering::Relaxed);
    }

    fn report(&self, sent: u64) -> PathReport {
        let inner = self.inner.lock().expect("not poisoned");
        let received = load(&self.received);
        PathReport {
            received,
            missing: sent.saturating_sub(received),
            duplicates: inner.duplicates,
            throttled: inner.throttled,
            errors: inner.errors.total(),
            error_codes: inner.errors.clone(),
            latency_ms: inner.latency.summary(),
        }
    }
}

fn record_data(run_id: u64, seq: u64, sent_ns: u64, size: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(size.max(HEADER));
    data.extend_from_slice(MAGIC);
    data.extend_from_slice(&run_id.to_be_bytes());
    data.extend_from_slice(&seq.to_be_bytes());
    data.extend_from_slice(&sent_ns.to_be_bytes());
    data.resize(size.max(HEADER), 0);
    data
}

fn parse_data(run_id: u64, data: &[u8]) -> Option<(u64, u64)> {
    if data.len() < HEADER || &data[..8] != MAGIC {
        return None;
    }
    let word = |i: usize| u64::from_be_bytes(data[i..i + 8].try_into().expect("8 bytes"));
    (word(8) == run_id).then(|| (word(16), word(24)))
}

/// Nanoseconds since `epoch`.
fn nanos(epoch: std::time::Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

#[derive(Deserialize)]
struct RecordsOnly<'a> {
    #[serde(rename = "Records", borrow, default)]
    records: Vec<DataOnly<'a>>,
    #[serde(rename = "NextShardIterator")]
    next: Option<String>,
    #[serde(rename = "ContinuationSequenceNumber")]
    continuation: Option<String>,
}

#[derive(Deserialize)]
struct DataOnly<'a> {
    #[serde(rename = "Data", borrow)]
    data: Cow<'a, str>,
}

/// Everything the reader tasks share.
struct Readers {
    client: Client,
    run_id: u64,
    epoch: std::time::Instant,
    stop: watch::Receiver<bool>,
}

pub async fn run(args: E2eArgs) -> anyhow::Result<()> {
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate must be a positive number of records per second");
    }
    let common = &args.common;
    let target = super::setup(common).await?;
    let client = target.client.clone();
    let shards: Vec<_> = control::list_shards(&client, &common.stream)
        .await?
        .into_iter()
        .filter(|s| s.open)
        .collect();
    let consumer_arn = match args.paths {
        Paths::Poll => None,
        _ => Some(
            control::ensure_consumer(&client, &target.stream_arn, &args.consumer)
                .await
                .context("setting up the SubscribeToShard consumer")?,
        ),
    };

    let run_id: u64 = rand::random();
    let epoch = std::time::Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let readers = Arc::new(Readers {
        client: client.clone(),
        run_id,
        epoch,
        stop: stop_rx,
    });
    let poll = (args.paths != Paths::Subscribe).then(|| Arc::new(PathState::new("poll")));
    let subscribe = consumer_arn
        .as_ref()
        .map(|_| Arc::new(PathState::new("subscribe")));

    let mut tasks = Vec::new();
    let mut ready = Vec::new();
    for shard in &shards {
        if let Some(path) = &poll {
            let (tx, rx) = oneshot::channel();
            ready.push(rx);
            let it = control::shard_iterator(&client, &common.stream, &shard.id, "LATEST").await?;
            tasks.push(tokio::spawn(poll_shard(
                readers.clone(),
                it,
                path.clone(),
                args.poll_interval,
                tx,
            )));
        }
        if let (Some(path), Some(arn)) = (&subscribe, &consumer_arn) {
            let (tx, rx) = oneshot::channel();
            ready.push(rx);
            tasks.push(tokio::spawn(subscribe_shard(
                readers.clone(),
                arn.clone(),
                shard.id.clone(),
                path.clone(),
                tx,
            )));
        }
    }
    let setup = async {
        for rx in ready {
            match rx.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => bail!("a reader could not start: {e}"),
                Err(_) => bail!("a reader ended before it started"),
            }
        }
        Ok(())
    };
    let started = tokio::time::timeout(Duration::from_secs(60), setup).await;
    if !matches!(started, Ok(Ok(()))) {
        let _ = stop_tx.send(true);
        return match started {
            Ok(Err(e)) => Err(e),
            _ => bail!("readers did not start within 60 s"),
        };
    }

    let sent = Arc::new(AtomicU64::new(0));
    let progress = {
        let (sent, poll, subscribe) = (sent.clone(), poll.clone(), subscribe.clone());
        let total = args.duration + args.drain;
        Progress::start(total.as_millis() as u64, common.json, move |elapsed| {
            let mut msg = format!("sent {}", load(&sent));
            for p in poll.iter().chain(subscribe.iter()) {
                msg.push_str(&format!(", {} {}", p.name, load(&p.received)));
            }
            (elapsed.as_millis() as u64, msg)
        })
    };
    let conn = client.connect().await?;
    let writer = write(
        conn,
        &client,
        &common.stream,
        &args,
        run_id,
        epoch,
        sent.clone(),
    )
    .await;

    // Let the readers catch up with everything acknowledged, within --drain.
    let drain_until = Instant::now() + args.drain;
    let paths: Vec<Arc<PathState>> = poll.iter().chain(subscribe.iter()).cloned().collect();
    while Instant::now() < drain_until && paths.iter().any(|p| load(&p.received) < writer.sent) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    progress.finish();

    let report = E2eReport {
        command: "e2e",
        settings: E2eSettings {
            endpoint: common.endpoint.clone(),
            stream: common.stream.clone(),
            shards: shards.len() as u64,
            rate: args.rate,
            duration_secs: args.duration.as_secs_f64(),
            record_size: u64::from(args.record_size),
            consumer: consumer_arn.as_ref().map(|_| args.consumer.clone()),
            poll_interval_ms: args.poll_interval.as_secs_f64() * 1000.0,
            signed: client.signs(),
            http2: common.http2,
        },
        elapsed_secs: super::stats::round3(writer.elapsed.as_secs_f64()),
        sent: writer.sent,
        put_errors: writer.errors.total(),
        put_error_codes: writer.errors.clone(),
        put_latency_ms: writer.latency.summary(),
        poll: poll.as_ref().map(|p| p.report(writer.sent)),
        subscribe: subscribe.as_ref().map(|p| p.report(writer.sent)),
    };
    super::finish(common, &target).await?;
    report::emit(&report, common.json, E2eReport::print_human)
}

struct WriterResult {
    sent: u64,
    elapsed: Duration,
    errors: ErrorTally,
    latency: Latency,
}

/// Puts one record at a time at `--rate` for `--duration`; a late put is sent at once (no
/// burst to catch up beyond that).
async fn write(
    mut conn: Conn,
    client: &Client,
    stream: &str,
    args: &E2eArgs,
    run_id: u64,
    epoch: std::time::Instant,
    sent: Arc<AtomicU64>,
) -> WriterResult {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = WriterResult {
        sent: 0,
        elapsed: Duration::ZERO,
        errors: ErrorTally::default(),
        latency: Latency::default(),
    };
    let start = Instant::now();
    let end = start + args.duration;
    for seq in 0u64.. {
        let at = start + Duration::from_secs_f64(seq as f64 / args.rate);
        if at >= end {
            break;
        }
        tokio::time::sleep_until(at).await;
        let sent_ns = nanos(epoch);
        let data = record_data(run_id, seq, sent_ns, args.record_size as usize);
        let body = json!({
            "StreamName": stream,
            "Data": b64.encode(&data),
            "PartitionKey": seq.to_string(),
        });
        let req = client.prepare("PutRecord", serde_json::to_vec(&body).expect("serialises"));
        let t0 = Instant::now();
        let reply = conn.call(&req).await;
        let rtt = t0.elapsed();
        match reply.map(|r| r.error()) {
            Ok(None) => {
                out.latency.record(rtt);
                out.sent += 1;
                sent.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Some(e)) | Err(e) => out.errors.add(e.kind(), 1),
        }
    }
    out.elapsed = start.elapsed();
    out
}

/// Polls one shard with GetRecords from LATEST until told to stop.
async fn poll_shard(
    readers: Arc<Readers>,
    mut iterator: String,
    path: Arc<PathState>,
    interval: Duration,
    ready: oneshot::Sender<Result<(), String>>,
) {
    let mut stop = readers.stop.clone();
    let mut conn = match readers.client.connect().await {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut buf = Vec::new();
    while !*stop.borrow() {
        let input = json!({ "ShardIterator": iterator, "Limit": 10_000 });
        let req = readers.client.prepare(
            "GetRecords",
            serde_json::to_vec(&input).expect("serialises"),
        );
        let reply = tokio::select! {
            r = conn.call(&req) => r,
            _ = stop.changed() => return,
        };
        let now = nanos(readers.epoch);
        let parsed = reply.and_then(|r| {
            if let Some(e) = r.error() {
                return Err(e);
            }
            let o: RecordsOnly<'_> = serde_json::from_slice(&r.body)
                .map_err(|e| CallError::Transport(format!("undecodable GetRecords: {e}")))?;
            for rec in &o.records {
                buf.clear();
                if b64.decode_vec(rec.data.as_bytes(), &mut buf).is_ok() {
                    path.record(readers.run_id, &buf, now);
                }
            }
            Ok((o.records.len(), o.next))
        });
        let pause = match parsed {
            Ok((n, Some(next))) => {
                iterator = next;
                (n == 0 && !interval.is_zero()).then_some(interval)
            }
            Ok((_, None)) => return, // the shard was closed and read to its end
            Err(e) if e.is_throttling() => {
                path.throttled();
                Some(Duration::from_millis(200))
            }
            Err(e @ CallError::Transport(_)) => {
                path.error(e.kind());
                Some(Duration::from_millis(100))
            }
            Err(e) => {
                path.error(e.kind());
                eprintln!("GetRecords poller stopped: {e}");
                return;
            }
        };
        if let Some(pause) = pause {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// Subscribes to one shard from LATEST and reads its event stream until told to stop;
/// resubscribes after the continuation number if a session ends early.
async fn subscribe_shard(
    readers: Arc<Readers>,
    consumer_arn: String,
    shard: String,
    path: Arc<PathState>,
    ready: oneshot::Sender<Result<(), String>>,
) {
    let mut stop = readers.stop.clone();
    let mut ready = Some(ready);
    let mut position = json!({ "Type": "LATEST" });
    let mut failures = 0;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut buf = Vec::new();
    while !*stop.borrow() {
        let input = json!({
            "ConsumerARN": consumer_arn,
            "ShardId": shard,
            "StartingPosition": position,
        });
        let req = readers.client.prepare(
            "SubscribeToShard",
            serde_json::to_vec(&input).expect("serialises"),
        );
        let mut conn = readers.client.lazy();
        let response = tokio::select! {
            r = conn.send(&req) => r,
            _ = stop.changed() => return,
        };
        let session: Result<(), CallError> = async {
            let response = response?;
            let status = response.status().as_u16();
            if status != 200 {
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let reply = super::client::Reply { status, body };
                return Err(reply.error().unwrap_or(CallError::Transport(format!(
                    "SubscribeToShard answered HTTP {status}"
                ))));
            }
            let mut body = response.into_body();
            let mut decoder = Decoder::default();
            loop {
                let frame = tokio::select! {
                    f = body.frame() => f,
                    _ = stop.changed() => return Ok(()),
                };
                let now = nanos(readers.epoch);
                let chunk = match frame {
                    None => return Ok(()), // the session ended
                    Some(Err(e)) => return Err(CallError::Transport(e.to_string())),
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) => data,
                        Err(_) => continue, // trailers
                    },
                };
                decoder.push(&chunk);
                while let Some(msg) = decoder.next_message().map_err(CallError::Transport)? {
                    let event = read_event(&msg)?;
                    if starts_session(&event, ready.is_none()) {
                        if matches!(event, Event::Records(_)) {
                            eprintln!(
                                "SubscribeToShard on {shard}: no initial-response before the first event"
                            );
                        }
                        if let Some(tx) = ready.take() {
                            let _ = tx.send(Ok(()));
                        }
                    }
                    if let Event::Records(event) = event {
                        for rec in &event.records {
                            buf.clear();
                            if b64.decode_vec(rec.data.as_bytes(), &mut buf).is_ok() {
                                path.record(readers.run_id, &buf, now);
                            }
                        }
                        if let Some(c) = event.continuation {
                            position =
                                json!({ "Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": c });
                        }
                    }
                }
            }
        }
        .await;
        if let Err(e) = session {
            path.error(e.kind());
            failures += 1;
            if let Some(tx) = ready.take() {
                let _ = tx.send(Err(format!("SubscribeToShard on {shard}: {e}")));
                return;
            }
            if failures > 5 {
                eprintln!("SubscribeToShard on {shard} gave up: {e}");
                return;
            }
            // AWS allows one subscription per shard and consumer every 5 seconds.
            let backoff = if e.is("ResourceInUseException") {
                Duration::from_secs(5)
            } else {
                Duration::from_millis(500)
            };
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// One message of a SubscribeToShard event stream, as the reader sees it.
enum Event<'a> {
    InitialResponse,
    Records(RecordsOnly<'a>),
    Other,
}

/// Reads a message; an exception or error message ends the session with that error.
fn read_event(msg: &Message) -> Result<Event<'_>, CallError> {
    match (msg.header(":message-type"), msg.header(":event-type")) {
        (Some("event"), Some("initial-response")) => Ok(Event::InitialResponse),
        (Some("event"), Some("SubscribeToShardEvent")) => serde_json::from_slice(&msg.payload)
            .map(Event::Records)
            .map_err(|e| CallError::Transport(format!("undecodable event: {e}"))),
        (Some("exception"), _) | (Some("error"), _) => Err(CallError::Api {
            status: 200,
            code: msg
                .header(":exception-type")
                .or(msg.header(":error-code"))
                .unwrap_or("exception")
                .to_owned(),
            message: String::from_utf8_lossy(&msg.payload).into_owned(),
        }),
        _ => Ok(Event::Other),
    }
}

/// Whether `event` shows the subscription is live: AWS sends initial-response first; a server
/// that skips it (kinesis-mock does) is taken as live at its first event, as aws-sdk-rust does.
fn starts_session(event: &Event<'_>, started: bool) -> bool {
    match event {
        Event::InitialResponse => true,
        Event::Records(_) => !started,
        Event::Other => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_data_round_trips_and_other_runs_are_ignored() {
        let d = record_data(7, 42, 123_456, 100);
        assert_eq!(d.len(), 100);
        assert_eq!(parse_data(7, &d), Some((42, 123_456)));
        assert_eq!(parse_data(8, &d), None);
        assert_eq!(parse_data(7, b"short"), None);
    }

    #[test]
    fn a_subscription_starts_at_initial_response_or_else_at_its_first_event() {
        use shardline_wire::eventstream;
        let decode = |frame: Vec<u8>| {
            let mut d = Decoder::default();
            d.push(&frame);
            d.next_message().unwrap().unwrap()
        };
        let initial = decode(eventstream::event("initial-response", b"{}"));
        let records = decode(eventstream::event(
            "SubscribeToShardEvent",
            br#"{"Records":[],"ContinuationSequenceNumber":"1"}"#,
        ));
        let initial = read_event(&initial).unwrap();
        let records = read_event(&records).unwrap();
        assert!(matches!(initial, Event::InitialResponse));
        assert!(matches!(&records, Event::Records(r) if r.continuation.as_deref() == Some("1")));
        assert!(starts_session(&initial, false));
        assert!(
            starts_session(&records, false),
            "a server without initial-response"
        );
        assert!(!starts_session(&records, true));
        let refused = decode(eventstream::exception("ResourceInUseException", "taken"));
        assert!(read_event(&refused).is_err_and(|e| e.is("ResourceInUseException")));
    }

    #[test]
    fn a_path_counts_each_record_once() {
        let p = PathState::new("t");
        p.record(1, &record_data(1, 3, 1_000, 32), 3_000);
        p.record(1, &record_data(1, 3, 1_000, 32), 4_000);
        p.record(1, &record_data(2, 0, 1_000, 32), 4_000);
        let r = p.report(2);
        assert_eq!(r.received, 1);
        assert_eq!(r.duplicates, 1);
        assert_eq!(r.missing, 1);
        assert_eq!(r.latency_ms.count, 1);
    }
}
