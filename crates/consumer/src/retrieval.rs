//! Reading one shard: polling (GetRecords in a loop, with back-off on empty reads and on
//! throttling) or enhanced fan-out (SubscribeToShard, resubscribed from the continuation
//! sequence number when a subscription ends). Either gives batches of records with KPL
//! aggregates taken apart (an aggregate holding a user record outside the shard's range is
//! dropped, as the KCL drops it), records at or before the starting checkpoint skipped, and,
//! at the shard's end, its children.

use std::time::{Duration, SystemTime};

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::{
    ChildShard, ShardIteratorType, StartingPosition, SubscribeToShardEventStream,
};
use aws_sdk_kinesis::Client;
use bytes::Bytes;
use shardline_wire::aggregation::{unpack, Unpacked};

use crate::config::{InitialPosition, Retrieval};
use crate::lease::{covered, Checkpoint};
use crate::processor::Record;

/// What a read gave.
pub enum Fetched {
    Records {
        records: Vec<Record>,
        millis_behind_latest: Option<i64>,
    },
    /// The shard is closed and read to its end.
    End { children: Vec<Child> },
}

/// A child shard, as a shard's end names it.
#[derive(Clone, Debug)]
pub struct Child {
    pub shard_id: String,
    pub parents: Vec<String>,
    pub hash_range: Option<(u128, u128)>,
}

fn child(c: &ChildShard) -> Child {
    Child {
        shard_id: c.shard_id().to_string(),
        parents: c.parent_shards().to_vec(),
        hash_range: c.hash_key_range().and_then(|r| {
            Some((
                r.starting_hash_key().parse().ok()?,
                r.ending_hash_key().parse().ok()?,
            ))
        }),
    }
}

/// Turns Kinesis records into the processor's records: aggregates taken apart, records at or
/// before `after` skipped.
fn records(
    raw: &[aws_sdk_kinesis::types::Record],
    range: Option<(u128, u128)>,
    after: &Checkpoint,
) -> Vec<Record> {
    let mut out = Vec::with_capacity(raw.len());
    for r in raw {
        let sequence = r.sequence_number();
        let arrival = r
            .approximate_arrival_timestamp()
            .and_then(|t| SystemTime::try_from(*t).ok());
        match unpack(r.data().as_ref(), range) {
            Unpacked::Plain => {
                if !covered(after, sequence, 0) {
                    out.push(Record {
                        sequence_number: sequence.to_string(),
                        sub_sequence_number: None,
                        partition_key: r.partition_key().unwrap_or_default().to_string(),
                        explicit_hash_key: None,
                        data: Bytes::copy_from_slice(r.data().as_ref()),
                        approximate_arrival: arrival,
                    });
                }
            }
            Unpacked::Aggregate(users) => {
                for (i, u) in users.into_iter().enumerate() {
                    let sub = i as u64;
                    if covered(after, sequence, sub) {
                        continue;
                    }
                    out.push(Record {
                        sequence_number: sequence.to_string(),
                        sub_sequence_number: Some(sub),
                        partition_key: u.partition_key,
                        explicit_hash_key: u.explicit_hash_key,
                        data: u.data,
                        approximate_arrival: arrival,
                    });
                }
            }
            Unpacked::Foreign { records } => {
                metrics::counter!("UserRecordsDroppedOutsideShard").increment(records as u64);
            }
        }
    }
    out
}

/// Where to start reading, from a checkpoint.
enum Start {
    Trim,
    Latest,
    Timestamp(SystemTime),
    At(String),
    After(String),
}

fn start_of(checkpoint: &Checkpoint, initial: InitialPosition) -> Option<Start> {
    Some(match checkpoint {
        Checkpoint::TrimHorizon => Start::Trim,
        Checkpoint::Latest => Start::Latest,
        Checkpoint::AtTimestamp => match initial {
            InitialPosition::AtTimestamp(t) => Start::Timestamp(t),
            // AT_TIMESTAMP in the table without a timestamp here: from the start.
            _ => Start::Trim,
        },
        // At the checkpointed record: an aggregate may hold user records after it.
        Checkpoint::At { sequence, .. } => Start::At(sequence.clone()),
        Checkpoint::ShardEnd => return None,
    })
}

/// A reader of one shard.
pub struct ShardReader {
    client: Client,
    stream: String,
    shard: String,
    range: Option<(u128, u128)>,
    initial: InitialPosition,
    mode: Mode,
    /// The last record handed out (or the starting checkpoint): what later reads skip to.
    after: Checkpoint,
    backoff: Duration,
    /// The shard's end, seen with the last records: given out by the next call.
    end: Option<Vec<Child>>,
}

enum Mode {
    Polling {
        max_records: i32,
        idle: Duration,
        iterator: Option<String>,
        /// Idle before the next read (the last one was empty or at the tip).
        rest: bool,
    },
    FanOut {
        consumer_arn: String,
        events: Option<Box<Events>>,
        /// Where a new subscription starts: after this sequence number (the continuation).
        continuation: Option<String>,
        /// What the subscription gave after a batch was coalesced that could not join it (a
        /// shard's end, an error, the end of the session): handled by the next call.
        stashed: Option<Received>,
    },
}

/// One `recv` of a subscription.
type Received = Result<
    Option<SubscribeToShardEventStream>,
    aws_sdk_kinesis::error::SdkError<
        aws_sdk_kinesis::types::error::SubscribeToShardEventStreamError,
        aws_smithy_types::event_stream::RawMessage,
    >,
>;

/// Events already received are handed to the processor together, up to this many records:
/// one processor call and one checkpoint for a backlog, as the KCL's prefetch does.
const COALESCE_RECORDS: usize = 10_000;

type Events = aws_sdk_kinesis::primitives::event_stream::EventReceiver<
    SubscribeToShardEventStream,
    aws_sdk_kinesis::types::error::SubscribeToShardEventStreamError,
>;

/// The shard a reader reads.
pub struct ReadTarget {
    pub client: Client,
    pub stream: String,
    pub shard: String,
    pub range: Option<(u128, u128)>,
}

/// Why reading stopped for good.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReadError(pub String);

fn position(start: Start) -> Result<StartingPosition, ReadError> {
    let b = StartingPosition::builder();
    let b = match start {
        Start::Trim => b.r#type(ShardIteratorType::TrimHorizon),
        Start::Latest => b.r#type(ShardIteratorType::Latest),
        Start::Timestamp(t) => b
            .r#type(ShardIteratorType::AtTimestamp)
            .timestamp(aws_sdk_kinesis::primitives::DateTime::from(t)),
        Start::At(s) => b
            .r#type(ShardIteratorType::AtSequenceNumber)
            .sequence_number(s),
        Start::After(s) => b
            .r#type(ShardIteratorType::AfterSequenceNumber)
            .sequence_number(s),
    };
    b.build().map_err(|e| ReadError(e.to_string()))
}

/// Errors worth another try after a pause.
fn transient(code: Option<&str>) -> bool {
    !matches!(
        code,
        Some("ResourceNotFoundException")
            | Some("AccessDeniedException")
            | Some("ValidationException")
            | Some("KMSAccessDeniedException")
            | Some("UnrecognizedClientException")
    )
}

const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl ShardReader {
    pub fn new(
        target: ReadTarget,
        retrieval: &Retrieval,
        consumer_arn: Option<&str>,
        initial: InitialPosition,
        checkpoint: Checkpoint,
    ) -> ShardReader {
        let mode = match (retrieval, consumer_arn) {
            (Retrieval::FanOut { .. }, Some(arn)) => Mode::FanOut {
                consumer_arn: arn.to_string(),
                events: None,
                continuation: None,
                stashed: None,
            },
            (
                Retrieval::Polling {
                    max_records,
                    idle_between_reads,
                },
                _,
            ) => Mode::Polling {
                max_records: *max_records,
                idle: *idle_between_reads,
                iterator: None,
                rest: false,
            },
            (Retrieval::FanOut { .. }, None) => Mode::Polling {
                max_records: 10_000,
                idle: Duration::from_millis(1500),
                iterator: None,
                rest: false,
            },
        };
        ShardReader {
            client: target.client,
            stream: target.stream,
            shard: target.shard,
            range: target.range,
            initial,
            mode,
            after: checkpoint,
            backoff: Duration::ZERO,
            end: None,
        }
    }

    async fn pause(&mut self, failed: bool) {
        if failed {
            self.backoff = (self.backoff * 2).clamp(Duration::from_millis(200), MAX_BACKOFF);
            let jitter = rand::Rng::gen_range(&mut rand::thread_rng(), 0.5..=1.0);
            tokio::time::sleep(self.backoff.mul_f64(jitter)).await;
        } else {
            self.backoff = Duration::ZERO;
        }
    }

    /// The next batch (maybe empty), or the shard's end.
    ///
    /// # Errors
    /// The stream or shard is gone, or access is denied.
    pub async fn next(&mut self) -> Result<Fetched, ReadError> {
        if let Some(children) = self.end.take() {
            return Ok(Fetched::End { children });
        }
        let fetched = match self.mode {
            Mode::Polling { .. } => self.poll().await?,
            Mode::FanOut { .. } => self.subscribed().await?,
        };
        if let Fetched::Records { records, .. } = &fetched {
            if let Some(last) = records.last() {
                self.after = last.checkpoint();
            }
            metrics::counter!("RecordsRead").increment(records.len() as u64);
        }
        Ok(fetched)
    }

    async fn poll(&mut self) -> Result<Fetched, ReadError> {
        let Mode::Polling {
            max_records,
            idle,
            iterator,
            rest,
        } = &mut self.mode
        else {
            return Err(ReadError("not polling".into()));
        };
        if *rest {
            tokio::time::sleep(*idle).await;
            *rest = false;
        }
        let max_records = *max_records;
        if iterator.is_none() {
            let Some(start) = start_of(&self.after, self.initial) else {
                return Ok(Fetched::End {
                    children: Vec::new(),
                });
            };
            let call = self
                .client
                .get_shard_iterator()
                .stream_name(&self.stream)
                .shard_id(&self.shard);
            let call = match start {
                Start::Trim => call.shard_iterator_type(ShardIteratorType::TrimHorizon),
                Start::Latest => call.shard_iterator_type(ShardIteratorType::Latest),
                Start::Timestamp(t) => call
                    .shard_iterator_type(ShardIteratorType::AtTimestamp)
                    .timestamp(aws_sdk_kinesis::primitives::DateTime::from(t)),
                Start::At(s) => call
                    .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                    .starting_sequence_number(s),
                Start::After(s) => call
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .starting_sequence_number(s),
            };
            match call.send().await {
                Ok(out) => {
                    let it = out.shard_iterator().map(str::to_owned);
                    if let Mode::Polling { iterator, .. } = &mut self.mode {
                        *iterator = it;
                    }
                    self.pause(false).await;
                }
                Err(e) => {
                    let code = e.code().map(str::to_owned);
                    if !transient(code.as_deref()) {
                        return Err(ReadError(format!("GetShardIterator: {e:?}")));
                    }
                    self.pause(true).await;
                    return Ok(Fetched::Records {
                        records: Vec::new(),
                        millis_behind_latest: None,
                    });
                }
            }
        }
        let Mode::Polling { iterator, .. } = &mut self.mode else {
            return Err(ReadError("not polling".into()));
        };
        let Some(it) = iterator.clone() else {
            return Ok(Fetched::End {
                children: Vec::new(),
            });
        };
        match self
            .client
            .get_records()
            .shard_iterator(it)
            .limit(max_records)
            .send()
            .await
        {
            Ok(out) => {
                let records = records(out.records(), self.range, &self.after);
                let behind = out.millis_behind_latest();
                let next = out.next_shard_iterator().map(str::to_owned);
                let at_tip = out.records().is_empty() || behind == Some(0);
                if let Mode::Polling { iterator, rest, .. } = &mut self.mode {
                    *iterator = next.clone();
                    *rest = at_tip;
                }
                self.pause(false).await;
                if next.is_none() {
                    if !records.is_empty() {
                        // Hand these over first; the end comes with the next call.
                        self.end = Some(out.child_shards().iter().map(child).collect());
                        return Ok(Fetched::Records {
                            records,
                            millis_behind_latest: behind,
                        });
                    }
                    return Ok(Fetched::End {
                        children: out.child_shards().iter().map(child).collect(),
                    });
                }
                Ok(Fetched::Records {
                    records,
                    millis_behind_latest: behind,
                })
            }
            Err(e) => {
                let code = e.code().map(str::to_owned);
                match code.as_deref() {
                    Some("ExpiredIteratorException") => {
                        // Read again from the last record handed out.
                        if let Mode::Polling { iterator, .. } = &mut self.mode {
                            *iterator = None;
                        }
                    }
                    c if !transient(c) => {
                        return Err(ReadError(format!("GetRecords: {e:?}")));
                    }
                    _ => self.pause(true).await,
                }
                Ok(Fetched::Records {
                    records: Vec::new(),
                    millis_behind_latest: None,
                })
            }
        }
    }

    async fn subscribed(&mut self) -> Result<Fetched, ReadError> {
        let Mode::FanOut {
            consumer_arn,
            events,
            continuation,
            ..
        } = &mut self.mode
        else {
            return Err(ReadError("not subscribed".into()));
        };
        if events.is_none() {
            let start = match continuation.clone() {
                Some(c) => Start::After(c),
                None => match start_of(&self.after, self.initial) {
                    Some(s) => s,
                    None => {
                        return Ok(Fetched::End {
                            children: Vec::new(),
                        })
                    }
                },
            };
            let subscribed = self
                .client
                .subscribe_to_shard()
                .consumer_arn(consumer_arn.as_str())
                .shard_id(&self.shard)
                .starting_position(position(start)?)
                .send()
                .await;
            match subscribed {
                Ok(out) => {
                    *events = Some(Box::new(out.event_stream));
                    self.backoff = Duration::ZERO;
                }
                Err(e) => {
                    let code = e.code().map(str::to_owned);
                    if !transient(code.as_deref()) {
                        return Err(ReadError(format!("SubscribeToShard: {e:?}")));
                    }
                    self.pause(true).await;
                    return Ok(Fetched::Records {
                        records: Vec::new(),
                        millis_behind_latest: None,
                    });
                }
            }
        }
        let Mode::FanOut {
            events,
            continuation,
            stashed,
            ..
        } = &mut self.mode
        else {
            return Err(ReadError("not subscribed".into()));
        };
        let Some(rx) = events.as_mut() else {
            return Ok(Fetched::Records {
                records: Vec::new(),
                millis_behind_latest: None,
            });
        };
        let received = match stashed.take() {
            Some(r) => r,
            None => rx.recv().await,
        };
        match received {
            Ok(Some(SubscribeToShardEventStream::SubscribeToShardEvent(event))) => {
                let records = records(event.records(), self.range, &self.after);
                // At the shard's end the continuation is empty (null on the wire).
                let next = Some(event.continuation_sequence_number())
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned);
                let children: Vec<Child> = event.child_shards().iter().map(child).collect();
                if next.is_none() && !children.is_empty() {
                    *events = None;
                    if !records.is_empty() {
                        *continuation = None;
                        self.end = Some(children);
                        return Ok(Fetched::Records {
                            records,
                            millis_behind_latest: Some(event.millis_behind_latest()),
                        });
                    }
                    return Ok(Fetched::End { children });
                }
                *continuation = next;
                let mut records = records;
                let mut millis = event.millis_behind_latest();
                // Events that already arrived join this batch (`recv` is cancel-safe: a
                // partly read message stays buffered in the receiver).
                while records.len() < COALESCE_RECORDS {
                    let Ok(ready) = tokio::time::timeout(Duration::ZERO, rx.recv()).await else {
                        break;
                    };
                    match ready {
                        Ok(Some(SubscribeToShardEventStream::SubscribeToShardEvent(more)))
                            if more.child_shards().is_empty()
                                && !more.continuation_sequence_number().is_empty() =>
                        {
                            records.extend(self::records(more.records(), self.range, &self.after));
                            *continuation = Some(more.continuation_sequence_number().to_owned());
                            millis = more.millis_behind_latest();
                        }
                        other => {
                            *stashed = Some(other);
                            break;
                        }
                    }
                }
                Ok(Fetched::Records {
                    records,
                    millis_behind_latest: Some(millis),
                })
            }
            Ok(Some(_)) => Ok(Fetched::Records {
                records: Vec::new(),
                millis_behind_latest: None,
            }),
            Ok(None) => {
                // The subscription's five minutes are up (or the server ended it): again,
                // from the continuation.
                *events = None;
                Ok(Fetched::Records {
                    records: Vec::new(),
                    millis_behind_latest: None,
                })
            }
            Err(e) => {
                *events = None;
                tracing::debug!(shard = %self.shard, error = ?e, "subscription ended with an error");
                self.pause(true).await;
                Ok(Fetched::Records {
                    records: Vec::new(),
                    millis_behind_latest: None,
                })
            }
        }
    }
}
