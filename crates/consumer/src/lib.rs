//! A Kinesis consumer library in the manner of the KCL, on `aws-sdk-kinesis`: a [`Scheduler`]
//! per worker runs one [`RecordProcessor`] per shard it leases; workers share the shards through
//! a lease table with the KCL's schema (so an application can move between the Java KCL and
//! this library without losing its place), checkpoint progress in it, follow resharding
//! (children start once their parents are finished), fail over when a worker dies, balance
//! when one joins, and take KPL aggregates apart.
//!
//! ```no_run
//! use shardline_consumer::{
//!     Batch, Checkpointer, ConsumerConfig, InitialPosition, MemoryStore, RecordProcessor,
//!     Scheduler,
//! };
//!
//! struct Print;
//!
//! impl RecordProcessor for Print {
//!     async fn process_records(&mut self, batch: Batch, checkpointer: &mut Checkpointer) {
//!         for r in &batch.records {
//!             println!("{} {}", batch.shard_id, String::from_utf8_lossy(&r.data));
//!         }
//!         // At least once: what is not checkpointed is processed again after a failover.
//!         let _ = checkpointer.checkpoint().await;
//!     }
//! }
//!
//! # async fn run(client: aws_sdk_kinesis::Client) -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = ConsumerConfig::new("orders", "order-audit", "worker-1");
//! config.initial_position = InitialPosition::TrimHorizon;
//! let scheduler = Scheduler::new(client, MemoryStore::new(), config, |_shard: &str| Print);
//! let stop = scheduler.shutdown_handle();
//! tokio::spawn(async move {
//!     let _ = tokio::signal::ctrl_c().await;
//!     stop.shutdown().await; // processors checkpoint, leases are given up
//! });
//! scheduler.run().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Lease stores: [`DynamoDbStore`] (the KCL's table, on DynamoDB or a compatible server; many
//! workers), [`FileStore`] (a local file; one process), [`MemoryStore`] (tests). Retrieval:
//! polling (GetRecords) or enhanced fan-out (SubscribeToShard), see [`Retrieval`].
//!
//! Metrics go through the `metrics` facade: `RecordsRead`, `RecordsProcessed`,
//! `MillisBehindLatest` (per `ShardId`), `LeasesHeld`, `LeasesTaken`, `LeasesStolen`,
//! `LeasesLost`, `CheckpointsWritten`, `ShardsCompleted`, `UserRecordsDroppedOutsideShard`.

mod config;
mod context;
mod lease;
mod processor;
mod retrieval;
mod scheduler;
mod shard;
mod store;
mod taker;

pub use config::{ConsumerConfig, InitialPosition, Retrieval};
pub use lease::{compare_sequence, covered, Checkpoint, Lease};
pub use processor::{
    Batch, CheckpointError, Checkpointer, Initialization, Record, RecordProcessor,
};
pub use scheduler::{ConsumerError, Scheduler, ShutdownHandle};
pub use store::{
    AnyStore, Conditional, DynamoDbStore, FileStore, LeaseStore, MemoryStore, StoreError,
};
pub use taker::{Limits, Observations, Take};
