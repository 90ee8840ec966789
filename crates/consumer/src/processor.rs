//! What an application writes: a [`RecordProcessor`] for one shard at a time, and what it is
//! handed — the records (user records of KPL aggregates already taken apart) and a
//! [`Checkpointer`] to record how far it got.

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;

use crate::lease::Checkpoint;
use crate::store::LeaseStore;

/// One record as the processor gets it: a Kinesis record, or one user record of an aggregate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub sequence_number: String,
    /// The user record's index in its aggregate; `None` for a record that was not aggregated.
    pub sub_sequence_number: Option<u64>,
    pub partition_key: String,
    /// Only aggregated user records carry theirs (Kinesis does not store a record's own).
    pub explicit_hash_key: Option<String>,
    pub data: Bytes,
    pub approximate_arrival: Option<SystemTime>,
}

impl Record {
    /// The checkpoint that marks this record processed.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint::At {
            sequence: self.sequence_number.clone(),
            sub: self.sub_sequence_number.unwrap_or(0),
        }
    }
}

/// Handed to [`RecordProcessor::initialize`].
#[derive(Clone, Debug)]
pub struct Initialization {
    pub shard_id: String,
    /// Where processing resumes: the lease's checkpoint.
    pub checkpoint: Checkpoint,
}

/// A batch of records from one shard, in order.
#[derive(Clone, Debug)]
pub struct Batch {
    pub shard_id: String,
    pub records: Vec<Record>,
    /// How far behind the tip of the shard this batch is, when Kinesis said.
    pub millis_behind_latest: Option<i64>,
}

/// Why a checkpoint was not written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The lease went to another worker (or was released): stop processing this shard.
    #[error("the lease on {0} is no longer held")]
    LeaseLost(String),
    /// The store could not be reached; the checkpoint may be tried again.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A checkpoint behind the last one, or a sequence number of another shard's form.
    #[error("invalid checkpoint: {0}")]
    Invalid(String),
}

/// The lease a shard consumer holds: its counter changes with every write, under this lock.
pub(crate) struct Held {
    pub key: String,
    pub counter: u64,
    pub checkpoint: Checkpoint,
    pub lost: bool,
}

pub(crate) type SharedHeld = Arc<tokio::sync::Mutex<Held>>;

/// Records checkpoints for one shard in the lease table.
pub struct Checkpointer {
    pub(crate) held: SharedHeld,
    pub(crate) store: Arc<dyn CheckpointStore>,
    /// The last record handed to the processor (what `checkpoint()` marks).
    pub(crate) last: Option<Checkpoint>,
    /// Set at the shard's end: `checkpoint()` then writes SHARD_END.
    pub(crate) at_shard_end: bool,
}

/// The one store call a checkpointer makes, object-safe so `Checkpointer` needs no type
/// parameter.
pub(crate) trait CheckpointStore: Send + Sync {
    fn write<'a>(
        &'a self,
        key: &'a str,
        counter: u64,
        checkpoint: &'a Checkpoint,
    ) -> std::pin::Pin<Box<dyn Future<Output = crate::store::Conditional> + Send + 'a>>;
}

impl<S: LeaseStore> CheckpointStore for S {
    fn write<'a>(
        &'a self,
        key: &'a str,
        counter: u64,
        checkpoint: &'a Checkpoint,
    ) -> std::pin::Pin<Box<dyn Future<Output = crate::store::Conditional> + Send + 'a>> {
        Box::pin(self.checkpoint(key, counter, checkpoint))
    }
}

impl Checkpointer {
    /// Marks everything handed over so far processed (at the shard's end: the shard done).
    ///
    /// # Errors
    /// The lease is gone, or the store failed.
    pub async fn checkpoint(&mut self) -> Result<(), CheckpointError> {
        let at = if self.at_shard_end {
            Checkpoint::ShardEnd
        } else {
            match &self.last {
                Some(c) => c.clone(),
                None => return Ok(()),
            }
        };
        self.checkpoint_to(at).await
    }

    /// Marks `record` (and everything before it) processed.
    ///
    /// # Errors
    /// As [`Checkpointer::checkpoint`].
    pub async fn checkpoint_at(&mut self, record: &Record) -> Result<(), CheckpointError> {
        self.checkpoint_to(record.checkpoint()).await
    }

    /// Writes `checkpoint` for the shard.
    ///
    /// # Errors
    /// As [`Checkpointer::checkpoint`].
    pub async fn checkpoint_to(&mut self, checkpoint: Checkpoint) -> Result<(), CheckpointError> {
        if checkpoint == Checkpoint::ShardEnd && !self.at_shard_end {
            return Err(CheckpointError::Invalid(
                "SHARD_END before the shard's end".into(),
            ));
        }
        let mut held = self.held.lock().await;
        if held.lost {
            return Err(CheckpointError::LeaseLost(held.key.clone()));
        }
        if held.checkpoint == checkpoint {
            return Ok(());
        }
        if self
            .store
            .write(&held.key, held.counter, &checkpoint)
            .await?
        {
            held.counter += 1;
            held.checkpoint = checkpoint;
            metrics::counter!("CheckpointsWritten").increment(1);
            Ok(())
        } else {
            held.lost = true;
            Err(CheckpointError::LeaseLost(held.key.clone()))
        }
    }

    /// The last checkpoint written (or the lease's starting position).
    pub async fn current(&self) -> Checkpoint {
        self.held.lock().await.checkpoint.clone()
    }
}

/// One shard's processing. The scheduler makes one per lease it holds and calls, in order:
/// `initialize`, `process_records` for each batch, then one of `shard_ended` (the shard was read
/// to its end: checkpoint it, or it is handed to the processor again), `lease_lost` (another
/// worker has it now: do not checkpoint) or `shutdown_requested` (this worker is stopping:
/// checkpoint what is done).
///
/// Delivery is at least once: records after the last checkpoint are processed again by the
/// next owner of the shard.
pub trait RecordProcessor: Send + 'static {
    fn initialize(&mut self, init: Initialization) -> impl Future<Output = ()> + Send {
        let _ = init;
        async {}
    }

    fn process_records(
        &mut self,
        batch: Batch,
        checkpointer: &mut Checkpointer,
    ) -> impl Future<Output = ()> + Send;

    fn lease_lost(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// The shard is finished; checkpointing now records SHARD_END, which lets its children
    /// start. The default does just that.
    fn shard_ended(&mut self, checkpointer: &mut Checkpointer) -> impl Future<Output = ()> + Send {
        async move {
            if let Err(e) = checkpointer.checkpoint().await {
                tracing::warn!(error = %e, "could not checkpoint the shard's end");
            }
        }
    }

    /// The worker is shutting down. The default checkpoints everything handed over.
    fn shutdown_requested(
        &mut self,
        checkpointer: &mut Checkpointer,
    ) -> impl Future<Output = ()> + Send {
        async move {
            if let Err(e) = checkpointer.checkpoint().await {
                tracing::warn!(error = %e, "could not checkpoint at shutdown");
            }
        }
    }
}
