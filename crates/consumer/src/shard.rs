//! One leased shard's life on this worker: wait until every parent shard is finished, hand the
//! processor its batches, and at the shard's end create its children's leases, record them on
//! its own, and have the processor checkpoint SHARD_END — or stop when the lease is lost or the
//! worker shuts down.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::context::Context;
use crate::lease::{Checkpoint, Lease};
use crate::processor::{Batch, Checkpointer, Initialization, RecordProcessor, SharedHeld};
use crate::retrieval::{Child, Fetched, ReadTarget, ShardReader};
use crate::store::LeaseStore;

/// Why a shard task asks it to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Run,
    LeaseLost,
    Shutdown,
}

/// How a shard task ended.
#[derive(Debug)]
pub enum Outcome {
    /// SHARD_END is checkpointed: the lease can go.
    Finished,
    /// Another worker holds the lease now.
    Lost,
    /// This worker is stopping; the processor checkpointed what it finished.
    Shutdown,
    /// Reading failed for good (the stream is gone, access denied).
    Failed(String),
}

/// Waits `d`, or less if told to stop; returns the stop request, if any.
async fn wait(d: Duration, stop: &mut watch::Receiver<Stop>) -> Option<Stop> {
    let current = *stop.borrow();
    if current != Stop::Run {
        return Some(current);
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => None,
        _ = stop.changed() => Some(*stop.borrow()),
    }
}

pub async fn run<S: LeaseStore, P: RecordProcessor>(
    ctx: Arc<Context<S>>,
    lease: Lease,
    held: SharedHeld,
    mut stop: watch::Receiver<Stop>,
    mut processor: P,
) -> Outcome {
    // Parents first: a child starts once each parent that still has a lease finished.
    let mut blocked_for = Duration::ZERO;
    loop {
        let mut blocked = None;
        for parent in &lease.parents {
            match ctx.store.get(parent).await {
                Ok(Some(p)) if !p.is_finished() => blocked = Some(parent.clone()),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "reading a parent lease");
                    blocked = Some(parent.clone());
                }
            }
        }
        let Some(parent) = blocked else { break };
        if blocked_for.is_zero() {
            tracing::debug!(shard = %lease.key, %parent, "waiting for the parent shard to finish");
        }
        let step = ctx.config.parent_poll_interval;
        blocked_for += step;
        match wait(step, &mut stop).await {
            Some(Stop::LeaseLost) => return Outcome::Lost,
            Some(Stop::Shutdown) => return Outcome::Shutdown,
            _ => {}
        }
        if held.lock().await.lost {
            return Outcome::Lost;
        }
    }

    let start = held.lock().await.checkpoint.clone();
    processor
        .initialize(Initialization {
            shard_id: lease.key.clone(),
            checkpoint: start.clone(),
        })
        .await;
    let mut checkpointer = Checkpointer {
        held: Arc::clone(&held),
        store: ctx.store.clone(),
        last: None,
        at_shard_end: false,
    };
    let mut reader = ShardReader::new(
        ReadTarget {
            client: ctx.client.clone(),
            stream: ctx.config.stream.clone(),
            shard: lease.key.clone(),
            range: lease.hash_range,
        },
        &ctx.config.retrieval,
        ctx.consumer_arn.as_deref(),
        ctx.config.initial_position,
        start,
    );
    let shard_label = lease.key.clone();
    loop {
        let next = tokio::select! {
            biased;
            _ = stop.changed() => None,
            fetched = reader.next() => Some(fetched),
        };
        let request = *stop.borrow();
        if request == Stop::LeaseLost || held.lock().await.lost {
            processor.lease_lost().await;
            return Outcome::Lost;
        }
        if request == Stop::Shutdown {
            processor.shutdown_requested(&mut checkpointer).await;
            return Outcome::Shutdown;
        }
        let Some(fetched) = next else { continue };
        match fetched {
            Err(e) => return Outcome::Failed(e.to_string()),
            Ok(Fetched::Records {
                records,
                millis_behind_latest,
            }) => {
                if let Some(ms) = millis_behind_latest {
                    metrics::gauge!("MillisBehindLatest", "ShardId" => shard_label.clone())
                        .set(ms as f64);
                }
                if records.is_empty() {
                    continue;
                }
                checkpointer.last = records.last().map(|r| r.checkpoint());
                let n = records.len() as u64;
                processor
                    .process_records(
                        Batch {
                            shard_id: lease.key.clone(),
                            records,
                            millis_behind_latest,
                        },
                        &mut checkpointer,
                    )
                    .await;
                metrics::counter!("RecordsProcessed").increment(n);
            }
            Ok(Fetched::End { children }) => {
                return shard_end(
                    &ctx,
                    &lease,
                    &held,
                    &mut checkpointer,
                    &mut processor,
                    children,
                    &mut stop,
                )
                .await;
            }
        }
    }
}

/// The shard is read to its end: children's leases, the parent's record of them, SHARD_END.
async fn shard_end<S: LeaseStore, P: RecordProcessor>(
    ctx: &Context<S>,
    lease: &Lease,
    held: &SharedHeld,
    checkpointer: &mut Checkpointer,
    processor: &mut P,
    children: Vec<Child>,
    stop: &mut watch::Receiver<Stop>,
) -> Outcome {
    for c in &children {
        let mut child = Lease::new(&c.shard_id, Checkpoint::TrimHorizon);
        child.parents = c.parents.clone();
        child.hash_range = c.hash_range;
        if let Err(e) = ctx.store.create_if_absent(&child).await {
            tracing::warn!(error = %e, child = %c.shard_id, "creating a child lease");
        }
    }
    let ids: Vec<String> = children.iter().map(|c| c.shard_id.clone()).collect();
    if let Err(e) = ctx.store.set_children(&lease.key, &ids).await {
        tracing::warn!(error = %e, "recording child shards");
    }
    checkpointer.at_shard_end = true;
    for attempt in 0u32..60 {
        processor.shard_ended(checkpointer).await;
        let h = held.lock().await;
        if h.checkpoint == Checkpoint::ShardEnd {
            metrics::counter!("ShardsCompleted").increment(1);
            return Outcome::Finished;
        }
        if h.lost {
            drop(h);
            processor.lease_lost().await;
            return Outcome::Lost;
        }
        drop(h);
        if attempt == 0 {
            tracing::warn!(shard = %lease.key, "the processor did not checkpoint SHARD_END; asking again");
        }
        if let Some(request) = wait(Duration::from_secs(1), stop).await {
            return match request {
                Stop::LeaseLost => Outcome::Lost,
                _ => Outcome::Shutdown,
            };
        }
    }
    Outcome::Failed(format!(
        "{}: the processor never checkpointed SHARD_END",
        lease.key
    ))
}
