//! What the scheduler and its shard tasks share.

use std::sync::Arc;

use aws_sdk_kinesis::Client;

use crate::config::ConsumerConfig;

pub struct Context<S> {
    pub client: Client,
    pub store: Arc<S>,
    pub config: Arc<ConsumerConfig>,
    /// The registered stream consumer, for enhanced fan-out.
    pub consumer_arn: Option<String>,
}
