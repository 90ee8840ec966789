//! The producer's one task: it routes each user record to the shard its hash key predicts,
//! aggregates per shard, collects Kinesis records into PutRecords calls within each shard's
//! budget, and answers each user record when its call comes back — retrying what failed until
//! its time to live runs out.
//!
//! ```text
//! submit ──► route (shard map) ──► shard: open aggregate ──close──► ready ──► PutRecords
//!                 ▲                                                   ▲            │
//!                 └────────── re-routed (new map, or a retry) ────────┴── failed ◄─┘
//! ```
//!
//! An aggregate closes when the next record would not fit (`aggregation_max_size`, `…_count`)
//! or its oldest record has waited `linger`; a call goes out when it is full (500 records or
//! 5 MiB) or its oldest record has waited `linger`, or at once while a flush waits. With
//! `ordering`, a shard has one call in flight at most and a failed record goes back to the
//! front of its shard's queue, so records of one shard are placed in submit order.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_sdk_kinesis::Client;
use rand::Rng;
use shardline_wire::aggregation::{hash_key, Aggregate};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};

use crate::limiter::ShardLimiter;
use crate::metrics::Metrics;
use crate::shard_map::ShardMap;
use crate::{Command, Placed, ProduceError, ProducerConfig, Submitted, UserRecord};

/// A user record inside the pipeline.
struct Waiting {
    record: UserRecord,
    hash: u128,
    answer: oneshot::Sender<Result<Placed, ProduceError>>,
    /// Its share of the buffer, given back when it is answered.
    permit: Option<OwnedSemaphorePermit>,
    arrived: Instant,
    deadline: Instant,
    /// The flush epoch it arrived in.
    epoch: u64,
    attempts: u32,
    last_error: Option<String>,
}

/// A Kinesis record on its way: one user record, or an aggregate of several.
struct KinesisRecord {
    members: Vec<Waiting>,
    /// The data to send (taken when the call is made).
    data: Vec<u8>,
    partition_key: String,
    explicit_hash_key: String,
    /// Data plus partition key: what counts against limits.
    size: usize,
    /// The shard it is meant for.
    shard: String,
    /// Not before this (a retry's backoff).
    not_before: Instant,
}

impl KinesisRecord {
    /// When its first (oldest) user record arrived.
    fn oldest(&self, now: Instant) -> Instant {
        self.members.first().map_or(now, |m| m.arrived)
    }
}

/// The Kinesis record carrying `members`, packed in `aggregate`; `None` when there are none.
fn kinesis_record(
    shard: &str,
    aggregate: &Aggregate,
    members: Vec<Waiting>,
    now: Instant,
) -> Option<KinesisRecord> {
    let first = members.first()?.hash;
    Some(KinesisRecord {
        data: aggregate.encode(),
        partition_key: aggregate.partition_key().to_string(),
        explicit_hash_key: first.to_string(),
        size: aggregate.size(),
        members,
        shard: shard.to_string(),
        not_before: now,
    })
}

/// Packs `members` again (to send them once more: the data went with the failed call).
fn repack(shard: &str, members: Vec<Waiting>, now: Instant) -> Option<KinesisRecord> {
    let mut aggregate = Aggregate::new();
    for m in &members {
        aggregate.push(&m.record);
    }
    kinesis_record(shard, &aggregate, members, now)
}

/// One shard's queues.
struct ShardQueue {
    open: Option<Open>,
    ready: VecDeque<KinesisRecord>,
    in_flight: usize,
    limiter: ShardLimiter,
}

/// An aggregate being filled.
struct Open {
    aggregate: Aggregate,
    members: Vec<Waiting>,
    opened: Instant,
}

/// A PutRecords call's outcome.
enum Event {
    Done {
        records: Vec<KinesisRecord>,
        outcome: Result<Vec<EntryOutcome>, CallError>,
        took: Duration,
    },
    Map(Result<ShardMap, String>),
}

enum EntryOutcome {
    Placed { shard: String, sequence: String },
    Failed { code: String, message: String },
}

struct CallError {
    code: String,
    message: String,
}

/// Errors retrying cannot change.
fn permanent(code: &str) -> bool {
    matches!(
        code,
        "ResourceNotFoundException"
            | "AccessDeniedException"
            | "ValidationException"
            | "InvalidArgumentException"
            | "KMSAccessDeniedException"
            | "KMSDisabledException"
            | "KMSNotFoundException"
            | "KMSInvalidStateException"
            | "KMSOptInRequired"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
    )
}

struct Pipeline {
    client: Client,
    config: Arc<ProducerConfig>,
    map: ShardMap,
    shards: HashMap<String, ShardQueue, foldhash::fast::RandomState>,
    /// Shards with ready records, in the order calls visit them.
    turn: VecDeque<String>,
    /// Records with no shard yet (a gap in the map): routed after the next refresh.
    unrouted: Vec<Waiting>,
    /// Failed records waiting out their backoff before they are routed again.
    retries: Vec<(Instant, Waiting)>,
    /// Records placed on a shard other than the predicted one, whose range the map does not
    /// know yet: settled when the refreshed map comes (see [`Pipeline::placed`]).
    misplaced: Vec<(KinesisRecord, String, String)>,
    ready_records: usize,
    ready_bytes: usize,
    in_flight: usize,
    in_flight_bytes: usize,
    pending: usize,
    refreshing: bool,
    refresh_due: Instant,
    /// Unanswered records per flush epoch, from `epoch_base` on.
    epochs: VecDeque<usize>,
    epoch_base: u64,
    flushes: Vec<(u64, oneshot::Sender<()>)>,
    events: mpsc::UnboundedSender<Event>,
    metrics: Metrics,
    /// The time, read once per turn of the loop.
    now: Instant,
}

pub async fn run(
    client: Client,
    config: Arc<ProducerConfig>,
    map: ShardMap,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let (events, mut done) = mpsc::unbounded_channel();
    let now = Instant::now();
    let config_stream = config.stream.clone();
    let mut p = Pipeline {
        client,
        refresh_due: now + config.shard_map_refresh,
        config,
        map,
        shards: HashMap::default(),
        turn: VecDeque::new(),
        unrouted: Vec::new(),
        retries: Vec::new(),
        misplaced: Vec::new(),
        ready_records: 0,
        ready_bytes: 0,
        in_flight: 0,
        in_flight_bytes: 0,
        pending: 0,
        refreshing: false,
        epochs: VecDeque::from([0]),
        epoch_base: 0,
        flushes: Vec::new(),
        events,
        metrics: Metrics::new(&config_stream),
        now,
    };
    let tick = (p.config.linger / 2).clamp(Duration::from_millis(1), Duration::from_millis(20));
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut open = true;
    loop {
        tokio::select! {
            command = commands.recv(), if open => match command {
                Some(c) => {
                    p.now = Instant::now();
                    p.command(c);
                    // Take what else is queued in one go.
                    for _ in 0..4096 {
                        match commands.try_recv() {
                            Ok(c) => p.command(c),
                            Err(_) => break,
                        }
                    }
                    p.drive(false);
                }
                None => open = false,
            },
            Some(event) = done.recv() => {
                p.now = Instant::now();
                p.event(event);
                p.drive(false);
            }
            _ = ticker.tick() => {
                p.now = Instant::now();
                p.drive(true);
            }
        }
        if !open && p.pending == 0 && p.in_flight == 0 {
            return;
        }
    }
}

impl Pipeline {
    fn stream(&self) -> &str {
        &self.config.stream
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Record(s) => self.ingest(s),
            Command::Flush(tx) => {
                // Everything before this point belongs to the closing epoch.
                let epoch = self.epoch_base + self.epochs.len() as u64 - 1;
                self.epochs.push_back(0);
                self.flushes.push((epoch, tx));
                self.settle_flushes();
            }
        }
    }

    fn ingest(&mut self, s: Submitted) {
        let Submitted {
            record,
            answer,
            permit,
        } = s;
        let hash = match &record.explicit_hash_key {
            Some(ehk) => ehk.parse::<u128>().unwrap_or(0),
            None => hash_key(&record.partition_key),
        };
        let now = self.now;
        let epoch = self.epoch_base + self.epochs.len() as u64 - 1;
        if let Some(count) = self.epochs.back_mut() {
            *count += 1;
        }
        self.pending += 1;
        self.metrics.received(1);
        self.route(Waiting {
            record,
            hash,
            answer,
            permit: Some(permit),
            arrived: now,
            deadline: now + self.config.record_ttl,
            epoch,
            attempts: 0,
            last_error: None,
        });
    }

    /// Puts a record in its predicted shard's open aggregate (or straight in its queue).
    fn route(&mut self, w: Waiting) {
        let now = self.now;
        let Some(id) = self.map.shard_for(w.hash).map(|s| s.id.as_str()) else {
            self.unrouted.push(w);
            self.refresh();
            return;
        };
        if !self.shards.contains_key(id) {
            let limiter = ShardLimiter::new(self.config.rate_limit_percent, now);
            self.shards.insert(
                id.to_string(),
                ShardQueue {
                    open: None,
                    ready: VecDeque::new(),
                    in_flight: 0,
                    limiter,
                },
            );
        }
        let Some(queue) = self.shards.get_mut(id) else {
            return;
        };
        let opened = |w: Waiting| {
            let mut aggregate = Aggregate::new();
            aggregate.push(&w.record);
            Open {
                aggregate,
                members: vec![w],
                opened: now,
            }
        };
        let closed = if !self.config.aggregation {
            Some(opened(w))
        } else if let Some(open) = &mut queue.open {
            let fits = open.aggregate.len() < self.config.aggregation_max_count
                && open
                    .aggregate
                    .try_push(&w.record, self.config.aggregation_max_size);
            if fits {
                open.members.push(w);
                None
            } else {
                queue.open.replace(opened(w))
            }
        } else {
            queue.open = Some(opened(w));
            None
        };
        if let Some(o) = closed {
            let id = id.to_string();
            self.close(&id, o);
        }
    }

    /// Turns a filled aggregate into a Kinesis record in its shard's queue.
    fn close(&mut self, shard: &str, open: Open) {
        let Open {
            aggregate, members, ..
        } = open;
        if let Some(record) = kinesis_record(shard, &aggregate, members, self.now) {
            self.enqueue(record, false);
        }
    }

    fn enqueue(&mut self, record: KinesisRecord, front: bool) {
        self.ready_records += 1;
        self.ready_bytes += record.size;
        let shard = record.shard.clone();
        let Some(queue) = self.shards.get_mut(&shard) else {
            return;
        };
        if queue.ready.is_empty() {
            self.turn.push_back(shard);
        }
        if front {
            queue.ready.push_front(record);
        } else {
            queue.ready.push_back(record);
        }
    }

    /// Closes what waited long enough, expires what is too old, and sends what should go.
    fn drive(&mut self, tick: bool) {
        let now = self.now;
        let force = !self.flushes.is_empty();
        if tick || force {
            let linger = self.config.linger;
            let due: Vec<String> = self
                .shards
                .iter()
                .filter(|(_, q)| {
                    q.open
                        .as_ref()
                        .is_some_and(|o| force || now.duration_since(o.opened) >= linger)
                })
                .map(|(id, _)| id.clone())
                .collect();
            for shard in due {
                if let Some(open) = self.shards.get_mut(&shard).and_then(|q| q.open.take()) {
                    self.close(&shard, open);
                }
            }
            if tick {
                let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retries)
                    .into_iter()
                    .partition(|(at, _)| *at <= now);
                self.retries = later;
                for (_, m) in due {
                    self.route(m);
                }
                self.metrics.pending(self.pending);
                if now >= self.refresh_due {
                    self.refresh();
                }
            }
        }
        while self.in_flight < self.config.max_in_flight
            && self.in_flight_bytes < self.config.max_in_flight_bytes
            && self.ready_records > 0
        {
            let full = self.ready_records >= self.config.collection_max_count
                || self.ready_bytes >= self.config.collection_max_size;
            if !(full || force || self.oldest_due(now)) {
                break;
            }
            let batch = self.collect(now);
            if batch.is_empty() {
                break;
            }
            self.send(batch);
        }
    }

    /// Whether a ready record has waited `linger` (checked on the queues' heads).
    fn oldest_due(&self, now: Instant) -> bool {
        self.turn.iter().any(|id| {
            self.shards
                .get(id)
                .and_then(|q| q.ready.front())
                .is_some_and(|r| now.duration_since(r.oldest(now)) >= self.config.linger)
        })
    }

    /// Takes records for one call, visiting shards in turn within their budgets.
    fn collect(&mut self, now: Instant) -> Vec<KinesisRecord> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        let mut visited = 0;
        let shards_in_turn = self.turn.len();
        while visited < shards_in_turn && batch.len() < self.config.collection_max_count {
            visited += 1;
            let Some(shard) = self.turn.pop_front() else {
                break;
            };
            let Some(queue) = self.shards.get_mut(&shard) else {
                continue;
            };
            let mut took_any = false;
            // With ordering, one call at a time per shard (within a call, order is kept).
            let blocked = self.config.ordering && queue.in_flight > 0;
            while !blocked && batch.len() < self.config.collection_max_count {
                let Some(front) = queue.ready.front() else {
                    break;
                };
                if front.not_before > now
                    || bytes + front.size > self.config.collection_max_size
                    || !queue.limiter.take(front.size, now)
                {
                    break;
                }
                let Some(record) = queue.ready.pop_front() else {
                    break;
                };
                bytes += record.size;
                self.ready_records -= 1;
                self.ready_bytes -= record.size;
                took_any = true;
                batch.push(record);
            }
            if took_any {
                queue.in_flight += 1;
            }
            if !queue.ready.is_empty() {
                self.turn.push_back(shard);
            }
        }
        // Expired records are answered here rather than sent.
        let (alive, expired): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|r| r.members.iter().any(|m| m.deadline > now));
        let mut emptied: Vec<String> = expired.iter().map(|r| r.shard.clone()).collect();
        emptied.sort_unstable();
        emptied.dedup();
        for shard in emptied {
            if !alive.iter().any(|r| r.shard == shard) {
                if let Some(q) = self.shards.get_mut(&shard) {
                    q.in_flight = q.in_flight.saturating_sub(1);
                }
            }
        }
        for record in expired {
            self.expire(record.members);
        }
        alive
    }

    fn send(&mut self, mut records: Vec<KinesisRecord>) {
        self.in_flight += 1;
        self.in_flight_bytes += records.iter().map(|r| r.size).sum::<usize>();
        // The data goes with the call (a retry packs the user records anew).
        let entries: Vec<PutRecordsRequestEntry> = records
            .iter_mut()
            .filter_map(|r| {
                PutRecordsRequestEntry::builder()
                    .data(aws_sdk_kinesis::primitives::Blob::new(std::mem::take(
                        &mut r.data,
                    )))
                    .partition_key(&r.partition_key)
                    .explicit_hash_key(&r.explicit_hash_key)
                    .build()
                    .ok()
            })
            .collect();
        let call = self
            .client
            .put_records()
            .stream_name(&self.config.stream)
            .set_records(Some(entries));
        let events = self.events.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let outcome = match call.send().await {
                Ok(out) => Ok(out
                    .records()
                    .iter()
                    .map(
                        |e| match (e.shard_id(), e.sequence_number(), e.error_code()) {
                            (Some(shard), Some(seq), None) => EntryOutcome::Placed {
                                shard: shard.to_string(),
                                sequence: seq.to_string(),
                            },
                            _ => EntryOutcome::Failed {
                                code: e.error_code().unwrap_or("InternalFailure").to_string(),
                                message: e.error_message().unwrap_or_default().to_string(),
                            },
                        },
                    )
                    .collect()),
                Err(e) => Err(CallError {
                    code: e.code().unwrap_or("RequestFailed").to_string(),
                    message: aws_sdk_kinesis::error::DisplayErrorContext(&e).to_string(),
                }),
            };
            let _ = events.send(Event::Done {
                records,
                outcome,
                took: started.elapsed(),
            });
        });
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Map(Ok(map)) => self.new_map(map),
            Event::Map(Err(e)) => {
                tracing::warn!(stream = self.stream(), error = %e, "could not refresh the shard map");
                self.refreshing = false;
                self.refresh_due = self.now + Duration::from_secs(1);
            }
            Event::Done {
                records,
                outcome,
                took,
            } => {
                self.in_flight -= 1;
                self.in_flight_bytes -= records.iter().map(|r| r.size).sum::<usize>();
                self.metrics.request(took);
                let mut shards_done: Vec<String> =
                    records.iter().map(|r| r.shard.clone()).collect();
                shards_done.sort_unstable();
                shards_done.dedup();
                for shard in &shards_done {
                    if let Some(q) = self.shards.get_mut(shard) {
                        q.in_flight = q.in_flight.saturating_sub(1);
                    }
                }
                match outcome {
                    Ok(entries) if entries.len() == records.len() => {
                        for (record, entry) in records.into_iter().zip(entries) {
                            match entry {
                                EntryOutcome::Placed { shard, sequence } => {
                                    self.placed(record, shard, sequence)
                                }
                                EntryOutcome::Failed { code, message } => {
                                    self.failed(record, &code, &message)
                                }
                            }
                        }
                    }
                    Ok(_) => {
                        for record in records {
                            self.failed(record, "InternalFailure", "an answer of another length");
                        }
                    }
                    Err(e) => {
                        for record in records {
                            self.failed(record, &e.code, &e.message);
                        }
                    }
                }
                // Shards the map no longer has, emptied by their last call: gone.
                self.shards.retain(|id, q| {
                    self.map.contains(id) || q.in_flight > 0 || !q.ready.is_empty()
                });
            }
        }
    }

    /// A Kinesis record placed on `shard`. When that is not the shard the map predicted (a
    /// reshard the map has not seen), the record counts as placed only if every user record
    /// in it belongs to that shard's hash-key range: a consumer drops an aggregate holding a
    /// foreign user record (the KCL does), so then all of them are put again where they
    /// belong. With the new shard's range unknown, the decision waits for the refreshed map.
    fn placed(&mut self, record: KinesisRecord, shard: String, sequence: String) {
        // Under AUTO distribution the service picks the shard: wherever it went is right.
        if shard != record.shard && !self.config.auto_distribution {
            match self.map.range_of(&shard) {
                Some(range) => {
                    let (start, end) = (range.start, range.end);
                    if !record
                        .members
                        .iter()
                        .all(|m| start <= m.hash && m.hash <= end)
                    {
                        self.refresh();
                        self.misplaced_again(record);
                        return;
                    }
                }
                None => {
                    self.refresh();
                    self.misplaced.push((record, shard, sequence));
                    return;
                }
            }
        }
        self.metrics
            .put(record.members.len() as u64, record.size as u64);
        let aggregated = record.members.len() > 1;
        let now = self.now;
        let (shard, sequence): (Arc<str>, Arc<str>) = (shard.into(), sequence.into());
        // The buffer's share of all of them comes back at once (one release, not one each).
        let mut released: Option<OwnedSemaphorePermit> = None;
        for (i, mut m) in record.members.into_iter().enumerate() {
            if let Some(permit) = m.permit.take() {
                match &mut released {
                    Some(all) => all.merge(permit),
                    None => released = Some(permit),
                }
            }
            let attempts = m.attempts + 1;
            self.metrics.placed(now.duration_since(m.arrived), attempts);
            let placed = Placed {
                shard_id: shard.clone(),
                sequence_number: sequence.clone(),
                sub_sequence_number: aggregated.then_some(i as u64),
                attempts,
            };
            self.answer(m, Ok(placed));
        }
    }

    /// Puts the user records of a misplaced Kinesis record again, each routed anew.
    fn misplaced_again(&mut self, record: KinesisRecord) {
        self.metrics.error("WrongShard");
        let now = self.now;
        let (alive, expired): (Vec<_>, Vec<_>) = record
            .members
            .into_iter()
            .map(|mut m| {
                m.attempts += 1;
                m.last_error = Some("placed on a shard the map did not predict".into());
                m
            })
            .partition(|m| m.deadline > now);
        self.expire(expired);
        for m in alive {
            self.route(m);
        }
    }

    fn failed(&mut self, mut record: KinesisRecord, code: &str, message: &str) {
        self.metrics.error(code);
        let now = self.now;
        if permanent(code) {
            for m in record.members {
                let refused = ProduceError::Refused {
                    code: code.to_string(),
                    message: message.to_string(),
                };
                self.answer(m, Err(refused));
            }
            return;
        }
        let mut members = std::mem::take(&mut record.members);
        let last_error = format!("{code}: {message}");
        for m in &mut members {
            m.attempts += 1;
            m.last_error = Some(last_error.clone());
        }
        let (alive, expired): (Vec<_>, Vec<_>) =
            members.into_iter().partition(|m| m.deadline > now);
        self.expire(expired);
        if alive.is_empty() {
            return;
        }
        let attempts = alive.iter().map(|m| m.attempts).max().unwrap_or(1);
        let backoff = self.backoff(attempts);
        if self.config.ordering && self.map.contains(&record.shard) {
            // Back to the front of its shard, ahead of everything submitted after it.
            if let Some(mut again) = repack(&record.shard, alive, now) {
                again.not_before = now + backoff;
                self.enqueue(again, true);
            }
        } else {
            // Routed again once the backoff is over (the map may have changed by then),
            // aggregated anew.
            let due = now + backoff;
            self.retries.extend(alive.into_iter().map(|m| (due, m)));
        }
    }

    /// The delay before attempt `attempts + 1`: doubling from the base, capped, with jitter.
    fn backoff(&self, attempts: u32) -> Duration {
        let base = self.config.retry_base_delay.as_secs_f64();
        let max = self.config.retry_max_delay.as_secs_f64();
        let full = (base * 2f64.powi(attempts.saturating_sub(1).min(20) as i32)).min(max);
        Duration::from_secs_f64(full * rand::thread_rng().gen_range(0.5..=1.0))
    }

    fn expire(&mut self, members: Vec<Waiting>) {
        if members.is_empty() {
            return;
        }
        self.metrics.expired(members.len() as u64);
        for m in members {
            let e = ProduceError::Expired {
                attempts: m.attempts,
                last_error: m
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "none (never sent in time)".into()),
            };
            self.answer(m, Err(e));
        }
    }

    fn answer(&mut self, m: Waiting, result: Result<Placed, ProduceError>) {
        let _ = m.answer.send(result);
        self.pending -= 1;
        let i = (m.epoch - self.epoch_base) as usize;
        if let Some(count) = self.epochs.get_mut(i) {
            *count -= 1;
            if i == 0 && *count == 0 {
                self.settle_flushes();
            }
        }
    }

    /// Forgets finished epochs and answers the flushes whose records are all answered. A flush
    /// opens a new epoch, so its own epoch settles (and is dropped) once it and every earlier
    /// one have no record left unanswered.
    fn settle_flushes(&mut self) {
        while self.epochs.len() > 1 && self.epochs.front() == Some(&0) {
            self.epochs.pop_front();
            self.epoch_base += 1;
        }
        let base = self.epoch_base;
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.flushes)
            .into_iter()
            .partition(|(epoch, _)| *epoch < base);
        self.flushes = waiting;
        for (_, tx) in done {
            let _ = tx.send(());
        }
    }

    fn refresh(&mut self) {
        if self.refreshing {
            return;
        }
        self.refreshing = true;
        let client = self.client.clone();
        let stream = self.config.stream.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            let map = ShardMap::load(&client, &stream).await;
            let _ = events.send(Event::Map(map));
        });
    }

    /// A new shard map: records queued (not in flight) for shards it lacks, and those with no
    /// shard yet, are routed again.
    fn new_map(&mut self, map: ShardMap) {
        self.refreshing = false;
        self.refresh_due = self.now + self.config.shard_map_refresh;
        self.map = map;
        let mut again: Vec<Waiting> = std::mem::take(&mut self.unrouted);
        let gone: Vec<String> = self
            .shards
            .keys()
            .filter(|id| !self.map.contains(id))
            .cloned()
            .collect();
        for id in gone {
            let Some(q) = self.shards.get_mut(&id) else {
                continue;
            };
            if let Some(open) = q.open.take() {
                again.extend(open.members);
            }
            for r in q.ready.drain(..) {
                self.ready_records -= 1;
                self.ready_bytes -= r.size;
                again.extend(r.members);
            }
            if q.in_flight == 0 {
                self.shards.remove(&id);
            }
        }
        self.turn
            .retain(|id| self.shards.get(id).is_some_and(|q| !q.ready.is_empty()));
        for w in again {
            self.route(w);
        }
        for (record, shard, sequence) in std::mem::take(&mut self.misplaced) {
            if self.map.contains(&shard) {
                self.placed(record, shard, sequence);
            } else {
                // Closed again already, or unknown: put again.
                self.misplaced_again(record);
            }
        }
    }
}
