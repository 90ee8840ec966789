//! How a consumer works. [`ConsumerConfig::new`] starts from the KCL's defaults.

use std::time::{Duration, SystemTime};

/// Where a shard without a checkpoint starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialPosition {
    TrimHorizon,
    Latest,
    AtTimestamp(SystemTime),
}

/// How records are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Retrieval {
    /// GetRecords in a loop per shard.
    Polling {
        /// Records per GetRecords call (KCL: 10,000).
        max_records: i32,
        /// Pause after an empty read or one that reached the tip (KCL: 1.5 s).
        idle_between_reads: Duration,
    },
    /// Enhanced fan-out: SubscribeToShard through a registered consumer (named after the
    /// application unless given), renewed before its 5 minutes run out.
    FanOut { consumer_name: Option<String> },
}

#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    pub stream: String,
    /// Names the lease table's owner and, for fan-out, the stream consumer.
    pub application: String,
    /// This worker's name in `leaseOwner`; unique per process.
    pub worker_id: String,
    pub initial_position: InitialPosition,
    pub retrieval: Retrieval,
    /// A lease whose counter did not move for this long is free to take (KCL: 10 s).
    pub failover_time: Duration,
    /// How often held leases are renewed (KCL: a third of the failover time, less 25 ms).
    pub renew_interval: Duration,
    /// How often the lease table is read to take free leases and balance (KCL: 20 s).
    pub take_interval: Duration,
    /// Most leases one worker holds (KCL: unbounded).
    pub max_leases_for_worker: usize,
    /// Most leases taken from busier workers in one round (KCL: 1).
    pub max_leases_to_steal: usize,
    /// How often the stream's shards are compared with the leases (KCL: 60 s).
    pub shard_sync_interval: Duration,
    /// How often a child shard checks whether its parents are finished (KCL: 10 s).
    pub parent_poll_interval: Duration,
}

impl ConsumerConfig {
    pub fn new(
        stream: impl Into<String>,
        application: impl Into<String>,
        worker_id: impl Into<String>,
    ) -> ConsumerConfig {
        let failover_time = Duration::from_secs(10);
        ConsumerConfig {
            stream: stream.into(),
            application: application.into(),
            worker_id: worker_id.into(),
            initial_position: InitialPosition::Latest,
            retrieval: Retrieval::Polling {
                max_records: 10_000,
                idle_between_reads: Duration::from_millis(1500),
            },
            failover_time,
            renew_interval: failover_time / 3 - Duration::from_millis(25),
            take_interval: Duration::from_millis(20_050),
            max_leases_for_worker: usize::MAX,
            max_leases_to_steal: 1,
            shard_sync_interval: Duration::from_secs(60),
            parent_poll_interval: Duration::from_secs(10),
        }
    }

    /// Scales every lease timing from one failover time, the KCL's way (renewals at a third
    /// of it, taking at twice it); handy for tests and quick hand-overs.
    pub fn with_failover_time(mut self, failover_time: Duration) -> ConsumerConfig {
        self.failover_time = failover_time;
        self.renew_interval = (failover_time / 3).saturating_sub(Duration::from_millis(25));
        self.take_interval = failover_time * 2;
        self
    }
}
