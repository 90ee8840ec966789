//! The worker: keeps the lease table in step with the stream's shards (shard sync), renews the
//! leases it holds, takes free ones and its share of busy ones, and runs one shard task (with
//! its own processor) per lease held. A graceful shutdown asks every processor to checkpoint
//! and gives the leases up, so another worker can take them at once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::ConsumerStatus;
use aws_sdk_kinesis::Client;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::config::{ConsumerConfig, InitialPosition, Retrieval};
use crate::context::Context;
use crate::lease::{Checkpoint, Lease};
use crate::processor::{Held, RecordProcessor, SharedHeld};
use crate::shard::{self, Outcome, Stop};
use crate::store::{LeaseStore, StoreError};
use crate::taker::{Limits, Observations};

/// Why a worker stopped.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("kinesis: {0}")]
    Kinesis(String),
}

struct Running {
    held: SharedHeld,
    stop: watch::Sender<Stop>,
    last_renewed: Instant,
}

/// Stops a running [`Scheduler`] gracefully.
#[derive(Clone)]
pub struct ShutdownHandle {
    request: Arc<watch::Sender<bool>>,
    done: watch::Receiver<bool>,
}

impl ShutdownHandle {
    /// Asks every processor to checkpoint, gives the leases up, and waits until the worker
    /// stopped.
    pub async fn shutdown(&self) {
        let _ = self.request.send(true);
        let mut done = self.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }
}

/// A worker for one stream and application.
pub struct Scheduler<S, F> {
    ctx: Context<S>,
    factory: F,
    request: Arc<watch::Sender<bool>>,
    requested: watch::Receiver<bool>,
    done: watch::Sender<bool>,
}

impl<S, F, P> Scheduler<S, F>
where
    S: LeaseStore,
    F: FnMut(&str) -> P + Send,
    P: RecordProcessor,
{
    /// A worker reading `config.stream` with `client`, keeping leases in `store`, making a
    /// processor per shard with `factory` (given the shard id).
    pub fn new(client: Client, store: S, config: ConsumerConfig, factory: F) -> Self {
        let (request, requested) = watch::channel(false);
        let (done, _) = watch::channel(false);
        Scheduler {
            ctx: Context {
                client,
                store: Arc::new(store),
                config: Arc::new(config),
                consumer_arn: None,
            },
            factory,
            request: Arc::new(request),
            requested,
            done,
        }
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            request: Arc::clone(&self.request),
            done: self.done.subscribe(),
        }
    }

    /// Runs until shut down (through a [`ShutdownHandle`]).
    ///
    /// # Errors
    /// The lease table cannot be prepared, or (fan-out) the stream consumer registered.
    pub async fn run(mut self) -> Result<(), ConsumerError> {
        let result = self.work().await;
        let _ = self.done.send(true);
        result
    }

    async fn work(&mut self) -> Result<(), ConsumerError> {
        self.ctx.store.prepare().await?;
        if let Retrieval::FanOut { consumer_name } = &self.ctx.config.retrieval {
            let name = consumer_name
                .clone()
                .unwrap_or_else(|| self.ctx.config.application.clone());
            self.ctx.consumer_arn = Some(self.register(&name).await?);
        }
        let ctx = Arc::new(Context {
            client: self.ctx.client.clone(),
            store: Arc::clone(&self.ctx.store),
            config: Arc::clone(&self.ctx.config),
            consumer_arn: self.ctx.consumer_arn.clone(),
        });
        let config = Arc::clone(&ctx.config);
        let me = config.worker_id.clone();
        let limits = Limits {
            failover_time: config.failover_time,
            max_leases_for_worker: config.max_leases_for_worker,
            max_leases_to_steal: config.max_leases_to_steal,
        };
        if let Err(e) = self.shard_sync().await {
            tracing::warn!(error = %e, "shard sync");
        }
        let wake = Arc::new(Notify::new());
        let mut running: HashMap<String, Running> = HashMap::new();
        let mut tasks: JoinSet<(String, Outcome)> = JoinSet::new();
        let mut observations = Observations::default();
        let mut renew = tokio::time::interval(config.renew_interval);
        let mut take = tokio::time::interval(config.take_interval);
        let mut sync = tokio::time::interval(config.shard_sync_interval);
        for t in [&mut renew, &mut take, &mut sync] {
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        sync.reset();
        let mut requested = self.requested.clone();
        loop {
            tokio::select! {
                _ = renew.tick() => self.renew_all(&mut running).await,
                _ = take.tick() => {
                    self.take_round(&ctx, &me, &limits, &mut observations, &mut running, &mut tasks).await;
                }
                _ = wake.notified() => {
                    self.take_round(&ctx, &me, &limits, &mut observations, &mut running, &mut tasks).await;
                }
                _ = sync.tick() => {
                    if let Err(e) = self.shard_sync().await {
                        tracing::warn!(error = %e, "shard sync");
                    }
                }
                Some(joined) = tasks.join_next() => {
                    let Ok((key, outcome)) = joined else { continue };
                    self.ended(&key, outcome, &mut running, &wake).await;
                }
                _ = requested.changed() => {
                    if *requested.borrow() {
                        break;
                    }
                }
            }
            metrics::gauge!("LeasesHeld").set(running.len() as f64);
        }
        // Graceful shutdown: every processor checkpoints, then the leases go.
        for r in running.values() {
            let _ = r.stop.send(Stop::Shutdown);
        }
        while let Some(joined) = tasks.join_next().await {
            if let Ok((key, outcome)) = joined {
                self.ended(&key, outcome, &mut running, &wake).await;
            }
        }
        metrics::gauge!("LeasesHeld").set(0.0);
        Ok(())
    }

    /// A shard task ended: give the lease up unless it was lost.
    async fn ended(
        &self,
        key: &str,
        outcome: Outcome,
        running: &mut HashMap<String, Running>,
        wake: &Notify,
    ) {
        let Some(r) = running.remove(key) else { return };
        match &outcome {
            Outcome::Lost => {
                metrics::counter!("LeasesLost").increment(1);
                tracing::info!(shard = key, "lease lost");
                return;
            }
            Outcome::Failed(e) => {
                tracing::warn!(shard = key, error = %e, "shard processing failed")
            }
            Outcome::Finished => tracing::info!(shard = key, "shard finished"),
            Outcome::Shutdown => {}
        }
        let mut held = r.held.lock().await;
        if !held.lost {
            match self.ctx.store.release(key, held.counter).await {
                Ok(true) => held.counter += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(shard = key, error = %e, "releasing the lease"),
            }
        }
        held.lost = true;
        if matches!(outcome, Outcome::Finished) {
            // Its children may be free to take now.
            wake.notify_one();
        }
    }

    async fn renew_all(&self, running: &mut HashMap<String, Running>) {
        let now = Instant::now();
        for (key, r) in running.iter_mut() {
            let mut held = r.held.lock().await;
            if held.lost {
                continue;
            }
            let renewed = match self.ctx.store.renew(key, held.counter).await {
                Ok(true) => true,
                Ok(false) => {
                    // A write can land and its answer be lost: is the lease still ours, one on?
                    match self.ctx.store.get(key).await {
                        Ok(Some(l))
                            if l.owner.as_deref() == Some(self.ctx.config.worker_id.as_str())
                                && l.counter == held.counter + 1 =>
                        {
                            true
                        }
                        _ => {
                            held.lost = true;
                            let _ = r.stop.send(Stop::LeaseLost);
                            continue;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(shard = %key, error = %e, "renewing a lease");
                    if now.duration_since(r.last_renewed) > self.ctx.config.failover_time {
                        held.lost = true;
                        let _ = r.stop.send(Stop::LeaseLost);
                    }
                    continue;
                }
            };
            if renewed {
                held.counter += 1;
                r.last_renewed = now;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn take_round(
        &mut self,
        ctx: &Arc<Context<S>>,
        me: &str,
        limits: &Limits,
        observations: &mut Observations,
        running: &mut HashMap<String, Running>,
        tasks: &mut JoinSet<(String, Outcome)>,
    ) {
        let leases = match self.ctx.store.list().await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "listing leases");
                return;
            }
        };
        let now = Instant::now();
        observations.update(&leases, now);
        let held: HashSet<String> = running.keys().cloned().collect();
        for take in observations.plan(&leases, me, &held, now, limits) {
            let Some(lease) = leases.iter().find(|l| l.key == take.key) else {
                continue;
            };
            match self
                .ctx
                .store
                .take(&take.key, take.counter, me, take.switch)
                .await
            {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(shard = %take.key, error = %e, "taking a lease");
                    continue;
                }
            }
            metrics::counter!(if take.steal {
                "LeasesStolen"
            } else {
                "LeasesTaken"
            })
            .increment(1);
            tracing::info!(shard = %take.key, steal = take.steal, "lease taken");
            let mut lease = lease.clone();
            lease.owner = Some(me.to_string());
            lease.counter = take.counter + 1;
            let held: SharedHeld = Arc::new(tokio::sync::Mutex::new(Held {
                key: lease.key.clone(),
                counter: lease.counter,
                checkpoint: lease.checkpoint.clone(),
                lost: false,
            }));
            let (stop, stop_rx) = watch::channel(Stop::Run);
            let processor = (self.factory)(&lease.key);
            let key = lease.key.clone();
            let task_ctx = Arc::clone(ctx);
            let task_held = Arc::clone(&held);
            tasks.spawn(async move {
                let outcome = shard::run(task_ctx, lease, task_held, stop_rx, processor).await;
                (key, outcome)
            });
            running.insert(
                take.key.clone(),
                Running {
                    held,
                    stop,
                    last_renewed: now,
                },
            );
        }
    }

    /// Creates leases for shards that have none: descendants of leased shards from
    /// TRIM_HORIZON, others from the initial position (closed ones skipped at LATEST).
    async fn shard_sync(&self) -> Result<(), ConsumerError> {
        let shards = list_shards(&self.ctx.client, &self.ctx.config.stream).await?;
        let existing: HashSet<String> = self
            .ctx
            .store
            .list()
            .await?
            .into_iter()
            .map(|l| l.key)
            .collect();
        let mut leased = existing.clone();
        for shard in &shards {
            if existing.contains(shard.shard_id()) {
                continue;
            }
            let parents: Vec<String> = [shard.parent_shard_id(), shard.adjacent_parent_shard_id()]
                .into_iter()
                .flatten()
                .map(str::to_owned)
                .collect();
            let open = shard
                .sequence_number_range()
                .is_some_and(|r| r.ending_sequence_number().is_none());
            let checkpoint = if parents.iter().any(|p| leased.contains(p)) {
                Checkpoint::TrimHorizon
            } else {
                match self.ctx.config.initial_position {
                    InitialPosition::TrimHorizon => Checkpoint::TrimHorizon,
                    InitialPosition::AtTimestamp(_) => Checkpoint::AtTimestamp,
                    InitialPosition::Latest if open => Checkpoint::Latest,
                    InitialPosition::Latest => continue,
                }
            };
            let mut lease = Lease::new(shard.shard_id(), checkpoint);
            lease.parents = parents;
            lease.hash_range = shard.hash_key_range().and_then(|r| {
                Some((
                    r.starting_hash_key().parse().ok()?,
                    r.ending_hash_key().parse().ok()?,
                ))
            });
            if self.ctx.store.create_if_absent(&lease).await? {
                tracing::debug!(shard = shard.shard_id(), checkpoint = %lease.checkpoint, "lease created");
            }
            leased.insert(shard.shard_id().to_string());
        }
        Ok(())
    }

    /// Registers (or finds) the stream consumer for fan-out and waits until it is ACTIVE.
    async fn register(&self, name: &str) -> Result<String, ConsumerError> {
        let client = &self.ctx.client;
        let stream = client
            .describe_stream_summary()
            .stream_name(&self.ctx.config.stream)
            .send()
            .await
            .map_err(|e| ConsumerError::Kinesis(format!("DescribeStreamSummary: {e:?}")))?;
        let stream_arn = stream
            .stream_description_summary()
            .map(|s| s.stream_arn().to_string())
            .ok_or_else(|| ConsumerError::Kinesis("no stream ARN".into()))?;
        match client
            .register_stream_consumer()
            .stream_arn(&stream_arn)
            .consumer_name(name)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => {}
            Err(e) => {
                return Err(ConsumerError::Kinesis(format!(
                    "RegisterStreamConsumer: {e:?}"
                )))
            }
        }
        for _ in 0..600 {
            let described = client
                .describe_stream_consumer()
                .stream_arn(&stream_arn)
                .consumer_name(name)
                .send()
                .await
                .map_err(|e| ConsumerError::Kinesis(format!("DescribeStreamConsumer: {e:?}")))?;
            if let Some(c) = described.consumer_description() {
                if *c.consumer_status() == ConsumerStatus::Active {
                    return Ok(c.consumer_arn().to_string());
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        Err(ConsumerError::Kinesis(format!(
            "consumer {name} did not become ACTIVE"
        )))
    }
}

/// Every shard of the stream (closed ones within retention too).
async fn list_shards(
    client: &Client,
    stream: &str,
) -> Result<Vec<aws_sdk_kinesis::types::Shard>, ConsumerError> {
    let mut shards = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..10_000 {
        let call = match &token {
            Some(t) => client.list_shards().next_token(t),
            None => client.list_shards().stream_name(stream).max_results(1000),
        };
        let page = call
            .send()
            .await
            .map_err(|e| ConsumerError::Kinesis(format!("ListShards: {e:?}")))?;
        shards.extend(page.shards().iter().cloned());
        match page.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => return Ok(shards),
        }
    }
    Err(ConsumerError::Kinesis("ListShards did not end".into()))
}
