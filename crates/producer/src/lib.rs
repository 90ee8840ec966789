//! A Kinesis producer library in the manner of the KPL, on `aws-sdk-kinesis`: user records are
//! aggregated in the KPL's format (so the KCL, and `shardline-consumer`, take them apart
//! again), collected into PutRecords calls, kept within each shard's write limits, retried
//! with backoff and jitter until their time to live runs out, and answered one by one — with
//! bounded memory: a full buffer makes [`Producer::submit`] wait and [`Producer::try_submit`]
//! refuse, instead of growing.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use shardline_producer::{Producer, ProducerConfig, UserRecord};
//!
//! let config = aws_sdk_kinesis::Config::builder()
//!     .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
//!     .region(aws_sdk_kinesis::config::Region::new("us-east-1"))
//!     .endpoint_url("http://127.0.0.1:4567")
//!     .credentials_provider(aws_sdk_kinesis::config::Credentials::new("x", "x", None, None, "doc"))
//!     .build();
//! let client = aws_sdk_kinesis::Client::from_conf(config);
//! let producer = Producer::start(client, ProducerConfig::new("orders")).await?;
//!
//! // One record, waiting for where it landed:
//! let placed = producer.send(UserRecord::new("customer-42", "order 1001")).await?;
//! println!("{} {}", placed.shard_id, placed.sequence_number);
//!
//! // Many, without waiting for each (a ticket resolves when its record is placed):
//! let mut tickets = Vec::new();
//! for i in 0..10_000 {
//!     tickets.push(producer.submit(UserRecord::new(format!("k{i}"), format!("event {i}"))).await?);
//! }
//! for t in tickets {
//!     t.await?;
//! }
//! producer.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Metrics go through the `metrics` facade under the KPL's names (`UserRecordsReceived`,
//! `UserRecordsPut`, `UserRecordsPending`, `KinesisRecordsPut`, `BufferingTime`,
//! `RetriesPerRecord`, `ErrorsByCode`, `UserRecordExpired`, …), labelled `StreamName`.
//! Delivery is at least once: a record whose answer was lost may be put twice.

mod limiter;
mod metrics;
mod pipeline;
mod shard_map;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

pub use shard_map::{ShardMap, ShardRange};
pub use shardline_wire::aggregation::{
    deaggregate, hash_key, unpack, Aggregate, Unpacked, UserRecord,
};

/// Where a record landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    /// Shared by every user record of the same Kinesis record.
    pub shard_id: Arc<str>,
    /// The sequence number of the Kinesis record that carries it.
    pub sequence_number: Arc<str>,
    /// Its position in that Kinesis record when it was aggregated with others.
    pub sub_sequence_number: Option<u64>,
    /// PutRecords calls it took (1 when the first one placed it).
    pub attempts: u32,
}

/// Why a record was not placed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProduceError {
    /// Its time to live ran out before a PutRecords call placed it.
    #[error("record expired after {attempts} attempts (last error: {last_error})")]
    Expired { attempts: u32, last_error: String },
    /// Kinesis refused it in a way retrying cannot change.
    #[error("record refused: {code}: {message}")]
    Refused { code: String, message: String },
    /// The record can never fit a Kinesis record (data plus partition key).
    #[error("record of {size} bytes is larger than the maximum of {max}")]
    TooLarge { size: usize, max: usize },
    /// The partition key is empty or longer than 256 characters, or the explicit hash key
    /// is not a number in 0..2^128.
    #[error("invalid record: {0}")]
    Invalid(String),
    /// The buffer is full ([`Producer::try_submit`] only).
    #[error("the producer's buffer is full")]
    Full,
    /// The producer was shut down.
    #[error("the producer is shut down")]
    Closed,
}

/// How the producer works. Start from [`ProducerConfig::new`]; the defaults are the KPL's.
#[derive(Clone, Debug)]
pub struct ProducerConfig {
    pub stream: String,
    /// Pack user records into KPL aggregates (default on).
    pub aggregation: bool,
    /// Largest aggregate, in bytes (KPL: 51,200).
    pub aggregation_max_size: usize,
    /// Most user records in one aggregate.
    pub aggregation_max_count: usize,
    /// Most Kinesis records in one PutRecords call (Kinesis: 500).
    pub collection_max_count: usize,
    /// Largest PutRecords call, in bytes of data and partition keys (Kinesis allows 5 MiB; the
    /// KPL's default is 5 MiB, this library's 1 MiB: as fast on a fast network, and a fifth
    /// of the request memory).
    pub collection_max_size: usize,
    /// How long a record may wait to be sent with others (KPL `RecordMaxBufferedTime`: 100 ms).
    pub linger: Duration,
    /// Per-shard budget as a percentage of Kinesis's 1,000 records and 1 MiB a second (KPL: 150).
    pub rate_limit_percent: u32,
    /// How long a record may go unplaced, retries included (KPL `RecordTtl`: 30 s).
    pub record_ttl: Duration,
    /// PutRecords calls in flight at once (KPL `MaxConnections`: 24).
    pub max_in_flight: usize,
    /// Bytes of Kinesis records in flight at once, over all calls: what bounds the memory the
    /// requests take (each byte is held as data, then as the request's base64 JSON).
    pub max_in_flight_bytes: usize,
    /// Largest Kinesis record the stream takes, data plus partition key (1 MiB by default).
    pub max_record_size: usize,
    /// User records buffered at most; `submit` waits past it.
    pub max_buffered_records: usize,
    /// Bytes of user records buffered at most; `submit` waits past it.
    pub max_buffered_bytes: usize,
    /// Keep records of one shard in `submit` order: one call in flight per shard, and a
    /// failed record is retried before anything after it.
    pub ordering: bool,
    /// First retry delay; doubles each attempt, with jitter, up to `retry_max_delay`.
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
    /// How often the shard map is read again even when nothing suggests it changed.
    pub shard_map_refresh: Duration,
    /// How long one PutRecords call may take before it counts as failed and its records are
    /// retried (KPL `RequestTimeout`: 6 s).
    pub request_timeout: Duration,
    /// The stream places records itself (AUTO record distribution): set by
    /// [`Producer::start`] from DescribeStreamSummary. Then nothing is aggregated (aggregates
    /// need key placement; the KPL stops aggregating too) and a record counts as placed on
    /// whichever shard the service picked.
    pub auto_distribution: bool,
}

impl ProducerConfig {
    pub fn new(stream: impl Into<String>) -> ProducerConfig {
        ProducerConfig {
            stream: stream.into(),
            aggregation: true,
            aggregation_max_size: 51_200,
            aggregation_max_count: 4_294_967_295,
            collection_max_count: 500,
            collection_max_size: 1024 * 1024,
            linger: Duration::from_millis(100),
            rate_limit_percent: 150,
            record_ttl: Duration::from_secs(30),
            max_in_flight: 24,
            max_in_flight_bytes: 16 * 1024 * 1024,
            max_record_size: 1024 * 1024,
            max_buffered_records: 100_000,
            max_buffered_bytes: 32 * 1024 * 1024,
            ordering: false,
            retry_base_delay: Duration::from_millis(100),
            retry_max_delay: Duration::from_secs(5),
            shard_map_refresh: Duration::from_secs(30),
            request_timeout: Duration::from_secs(6),
            auto_distribution: false,
        }
    }
}

/// The buffer budget's size in semaphore permits (one per byte).
fn budget_units(config: &ProducerConfig) -> usize {
    config.max_buffered_bytes.clamp(1, Semaphore::MAX_PERMITS)
}

/// What a submitted record's answer comes back through.
pub struct Ticket {
    rx: oneshot::Receiver<Result<Placed, ProduceError>>,
}

impl Ticket {
    /// The answer if it has come, without waiting; `None` while the record is on its way.
    pub fn try_answer(&mut self) -> Option<Result<Placed, ProduceError>> {
        match self.rx.try_recv() {
            Ok(answer) => Some(answer),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => Some(Err(ProduceError::Closed)),
        }
    }
}

impl Future for Ticket {
    type Output = Result<Placed, ProduceError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(ProduceError::Closed)))
    }
}

/// A record on its way, with its answer's sender and its share of the buffer.
pub(crate) struct Submitted {
    pub record: UserRecord,
    pub answer: oneshot::Sender<Result<Placed, ProduceError>>,
    pub permit: OwnedSemaphorePermit,
}

pub(crate) enum Command {
    Record(Submitted),
    /// Answers once everything submitted before it was answered.
    Flush(oneshot::Sender<()>),
}

/// A running producer for one stream. Cheap to clone; every clone feeds the same pipeline.
#[derive(Clone)]
pub struct Producer {
    commands: mpsc::UnboundedSender<Command>,
    /// Buffer budget in bytes (a record takes its data and keys, and at least one per record
    /// so the record count is bounded too).
    budget: Arc<Semaphore>,
    config: Arc<ProducerConfig>,
}

impl Producer {
    /// Reads the stream's shard map and starts the pipeline on the current tokio runtime.
    ///
    /// # Errors
    /// The shard map cannot be read (the stream does not exist, say).
    pub async fn start(
        client: aws_sdk_kinesis::Client,
        mut config: ProducerConfig,
    ) -> Result<Producer, String> {
        let map = ShardMap::load(&client, &config.stream).await?;
        let strategy = client
            .describe_stream_summary()
            .stream_name(&config.stream)
            .send()
            .await
            .ok()
            .and_then(|o| {
                o.stream_description_summary()
                    .and_then(|s| s.record_distribution_strategy().cloned())
            });
        if strategy == Some(aws_sdk_kinesis::types::RecordDistributionStrategy::Auto) {
            tracing::info!(
                stream = config.stream,
                "the stream uses AUTO record distribution: not aggregating"
            );
            config.auto_distribution = true;
            config.aggregation = false;
        }
        // The producer retries PutRecords itself, record by record; the SDK's retries of a
        // whole call would only hide throttling from it.
        let client = aws_sdk_kinesis::Client::from_conf(
            client
                .config()
                .to_builder()
                .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled())
                .timeout_config(
                    aws_sdk_kinesis::config::timeout::TimeoutConfig::builder()
                        .operation_attempt_timeout(config.request_timeout)
                        .build(),
                )
                .build(),
        );
        let (commands, rx) = mpsc::unbounded_channel();
        let units = budget_units(&config);
        let config = Arc::new(config);
        tokio::spawn(pipeline::run(client, Arc::clone(&config), map, rx));
        Ok(Producer {
            commands,
            budget: Arc::new(Semaphore::new(units)),
            config,
        })
    }

    /// What a record costs of the buffer budget.
    fn cost(&self, record: &UserRecord) -> u32 {
        let bytes = record.data.len()
            + record.partition_key.len()
            + record.explicit_hash_key.as_ref().map_or(0, String::len);
        // The budget counts records too: each costs at least max_bytes / max_records.
        let floor =
            (self.config.max_buffered_bytes / self.config.max_buffered_records.max(1)).max(1);
        u32::try_from(bytes.max(floor).min(self.config.max_buffered_bytes)).unwrap_or(u32::MAX)
    }

    fn check(&self, record: &UserRecord) -> Result<(), ProduceError> {
        let pk_chars = record.partition_key.chars().count();
        if pk_chars == 0 || pk_chars > 256 {
            return Err(ProduceError::Invalid(format!(
                "a partition key has 1 to 256 characters, not {pk_chars}"
            )));
        }
        if let Some(ehk) = &record.explicit_hash_key {
            if ehk.parse::<u128>().is_err() {
                return Err(ProduceError::Invalid(format!(
                    "explicit hash key {ehk} is not a number in 0..2^128"
                )));
            }
        }
        let size = record.data.len() + record.partition_key.len();
        if size > self.config.max_record_size {
            return Err(ProduceError::TooLarge {
                size,
                max: self.config.max_record_size,
            });
        }
        Ok(())
    }

    fn enqueue(
        &self,
        record: UserRecord,
        permit: OwnedSemaphorePermit,
    ) -> Result<Ticket, ProduceError> {
        let (answer, rx) = oneshot::channel();
        self.commands
            .send(Command::Record(Submitted {
                record,
                answer,
                permit,
            }))
            .map_err(|_| ProduceError::Closed)?;
        Ok(Ticket { rx })
    }

    /// Hands a record to the producer, waiting while its buffer is full; the ticket resolves
    /// once the record is placed (or failed).
    ///
    /// # Errors
    /// The record is invalid or too large, or the producer was shut down.
    pub async fn submit(&self, record: UserRecord) -> Result<Ticket, ProduceError> {
        self.check(&record)?;
        let permit = Arc::clone(&self.budget)
            .acquire_many_owned(self.cost(&record))
            .await
            .map_err(|_| ProduceError::Closed)?;
        self.enqueue(record, permit)
    }

    /// [`Producer::submit`] without waiting: refuses with [`ProduceError::Full`] when the
    /// buffer is full.
    ///
    /// # Errors
    /// As [`Producer::submit`], and `Full`.
    pub fn try_submit(&self, record: UserRecord) -> Result<Ticket, ProduceError> {
        self.check(&record)?;
        let permit = Arc::clone(&self.budget)
            .try_acquire_many_owned(self.cost(&record))
            .map_err(|e| match e {
                tokio::sync::TryAcquireError::NoPermits => ProduceError::Full,
                tokio::sync::TryAcquireError::Closed => ProduceError::Closed,
            })?;
        self.enqueue(record, permit)
    }

    /// Sends a record and waits until it is placed.
    ///
    /// # Errors
    /// Why it was not placed.
    pub async fn send(&self, record: UserRecord) -> Result<Placed, ProduceError> {
        self.submit(record).await?.await
    }

    /// Waits until every record submitted before the call is answered (sent at once, without
    /// waiting for the linger time).
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Flushes, then stops taking records.
    pub async fn shutdown(self) {
        self.flush().await;
        self.budget.close();
    }

    /// Records and bytes buffered now, as the budget sees them.
    pub fn buffered_bytes(&self) -> usize {
        budget_units(&self.config) - self.budget.available_permits()
    }
}
