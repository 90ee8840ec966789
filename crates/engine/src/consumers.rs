//! Enhanced fan-out consumers: RegisterStreamConsumer, DescribeStreamConsumer,
//! ListStreamConsumers, DeregisterStreamConsumer.

use serde::{Deserialize, Serialize};
use shardline_wire::shapes::*;
use shardline_wire::{ApiError, ErrorCode, Timestamp};

use crate::catalog::StreamRef;
use crate::error::Result;
use crate::model::{ConsumerMeta, StreamMeta};
use crate::next_token;
use crate::resolve::{not_readable, parse_consumer_arn, parse_stream_arn, StreamName};
use crate::{Caller, Engine};

/// Consumers a stream may have (AWS default).
const MAX_CONSUMERS: usize = 20;
/// Consumers that may be CREATING at once on a stream.
const MAX_CREATING: usize = 5;
const LIST_CONSUMERS_DEFAULT: usize = 100;

#[derive(Serialize, Deserialize)]
struct ListConsumersToken {
    created_ms: u64,
    account: String,
    stream: String,
    after: String,
    max_results: usize,
}

impl Engine {
    fn stream_by_arn(&self, caller: &Caller, arn: Option<&str>) -> Result<(StreamName, StreamRef)> {
        struct ByArn<'a>(Option<&'a str>);
        impl NamesStream for ByArn<'_> {
            fn stream_name(&self) -> Option<&str> {
                None
            }
            fn stream_arn(&self) -> Option<&str> {
                self.0
            }
        }
        self.find_stream(caller, &ByArn(arn))
    }

    pub fn register_stream_consumer(
        &self,
        caller: &Caller,
        input: RegisterStreamConsumerInput,
    ) -> Result<RegisterStreamConsumerOutput> {
        let (n, stream) = self.stream_by_arn(caller, input.stream_arn.as_deref())?;
        let name = input.consumer_name.unwrap_or_default();
        let now = self.clock.now_ms();
        let consumer = {
            let mut s = stream.write();
            if !s.meta.status(now).is_readable() {
                return Err(not_readable(&n.account, &n.name, s.meta.status(now)).into());
            }
            let live: Vec<&ConsumerMeta> = s
                .meta
                .consumers
                .iter()
                .filter(|c| c.deleted_at_ms.is_none())
                .collect();
            if live.iter().any(|c| c.name == name) {
                return Err(ApiError::resource_in_use(format!(
                    "Consumer {name} under stream {} already exists for account {}.",
                    n.name, n.account
                ))
                .into());
            }
            if crate::queues::registered(&s.meta) >= MAX_CONSUMERS {
                return Err(ApiError::new(
                    ErrorCode::LimitExceeded,
                    format!(
                        "Stream {} under account {} has reached the limit of {MAX_CONSUMERS} registered consumers (enhanced fan-out consumers and queues together).",
                        n.name, n.account
                    ),
                )
                .into());
            }
            if live.iter().filter(|c| c.status(now) == "CREATING").count() >= MAX_CREATING {
                return Err(ApiError::new(
                    ErrorCode::LimitExceeded,
                    format!("Too many consumers of stream {} are in CREATING state; at most {MAX_CREATING} at once.", n.name),
                )
                .into());
            }
            let mut tags = std::collections::BTreeMap::new();
            crate::tags::merge_tags(
                &mut tags,
                input.tags.unwrap_or_default(),
                &format!("consumer {name}"),
            )?;
            let consumer = ConsumerMeta {
                name,
                created_ms: now,
                active_at_ms: now + self.config.create_delay_ms,
                deleted_at_ms: None,
                tags,
            };
            // Drop a DELETING namesake for good: the name is being reused.
            s.meta.consumers.retain(|c| c.name != consumer.name);
            s.meta.consumers.push(consumer.clone());
            consumer
        };
        self.persist()?;
        let s = stream.read();
        Ok(RegisterStreamConsumerOutput {
            consumer: self.consumer_shape(&s.meta, &consumer, now),
        })
    }

    /// The stream and consumer a request names, by consumer ARN or stream ARN + name.
    fn find_consumer(&self, caller: &Caller, r: &ConsumerRef) -> Result<(StreamRef, ConsumerMeta)> {
        let now = self.clock.now_ms();
        let (stream_arn, name, created) = match (&r.consumer_arn, &r.stream_arn, &r.consumer_name) {
            (Some(arn), _, _) => {
                let (s, n, c) = parse_consumer_arn(arn).ok_or_else(|| {
                    ApiError::invalid_argument(format!("Invalid ConsumerARN: {arn}"))
                })?;
                (s.to_string(), n.to_string(), Some(c))
            }
            (None, Some(s), Some(n)) => (s.clone(), n.clone(), None),
            _ => {
                return Err(ApiError::invalid_argument(
                    "Either ConsumerARN or both StreamARN and ConsumerName must be provided.",
                )
                .into())
            }
        };
        let missing = || {
            ApiError::resource_not_found(format!("Consumer {name}, stream {stream_arn} not found."))
        };
        if parse_stream_arn(&stream_arn).is_none() {
            return Err(missing().into());
        }
        let (_, stream) = self
            .stream_by_arn(caller, Some(&stream_arn))
            .map_err(|_| missing())?;
        let consumer = stream
            .read()
            .meta
            .consumers
            .iter()
            .find(|c| c.name == name && created.is_none_or(|t| t == c.created_ms / 1000))
            .filter(|c| c.deleted_at_ms.is_none_or(|t| t > now))
            .cloned()
            .ok_or_else(missing)?;
        Ok((stream, consumer))
    }

    pub fn describe_stream_consumer(
        &self,
        caller: &Caller,
        input: DescribeStreamConsumerInput,
    ) -> Result<DescribeStreamConsumerOutput> {
        let (stream, consumer) = self.find_consumer(caller, &input)?;
        self.admit_stream_of(caller, &stream)?;
        let now = self.clock.now_ms();
        let s = stream.read();
        let stream_arn = s.meta.arn(&self.config.region);
        Ok(DescribeStreamConsumerOutput {
            consumer_description: ConsumerDescription {
                consumer_name: consumer.name.clone(),
                consumer_arn: consumer.arn(&stream_arn),
                consumer_status: consumer.status(now).into(),
                consumer_creation_timestamp: Timestamp::from_millis(consumer.created_ms as i64),
                stream_arn,
            },
        })
    }

    pub fn list_stream_consumers(
        &self,
        caller: &Caller,
        input: ListStreamConsumersInput,
    ) -> Result<ListStreamConsumersOutput> {
        let now = self.clock.now_ms();
        let (n, stream) = self.stream_by_arn(caller, input.stream_arn.as_deref())?;
        self.admit_stream(caller, &n.account, &n.name)?;
        let (after, max_results) = match &input.next_token {
            Some(t) => {
                let token: ListConsumersToken = next_token::open(
                    &self.sealer,
                    t,
                    now,
                    self.config.next_token_ttl_ms,
                    |t: &ListConsumersToken| t.created_ms,
                )?;
                if token.account != n.account || token.stream != n.name {
                    return Err(ApiError::invalid_argument("Invalid NextToken.").into());
                }
                (
                    Some(token.after),
                    input.max_results.map_or(token.max_results, |m| m as usize),
                )
            }
            None => (
                None,
                input
                    .max_results
                    .map_or(LIST_CONSUMERS_DEFAULT, |m| m as usize),
            ),
        };
        let s = stream.read();
        let mut live: Vec<&ConsumerMeta> = s
            .meta
            .consumers
            .iter()
            .filter(|c| c.deleted_at_ms.is_none_or(|t| t > now))
            .collect();
        live.sort_by(|a, b| a.name.cmp(&b.name));
        let rest: Vec<&ConsumerMeta> = live
            .into_iter()
            .filter(|c| after.as_deref().is_none_or(|a| c.name.as_str() > a))
            .collect();
        let page: Vec<Consumer> = rest
            .iter()
            .take(max_results)
            .map(|c| self.consumer_shape(&s.meta, c, now))
            .collect();
        let next_token = (rest.len() > max_results).then(|| {
            next_token::seal(
                &self.sealer,
                &ListConsumersToken {
                    created_ms: now,
                    account: n.account.clone(),
                    stream: n.name.clone(),
                    after: rest[max_results - 1].name.clone(),
                    max_results,
                },
            )
        });
        Ok(ListStreamConsumersOutput {
            consumers: page,
            next_token,
        })
    }

    pub fn deregister_stream_consumer(
        &self,
        caller: &Caller,
        input: DeregisterStreamConsumerInput,
    ) -> Result<Empty> {
        let (stream, consumer) = self.find_consumer(caller, &input)?;
        self.admit_stream_of(caller, &stream)?;
        let now = self.clock.now_ms();
        {
            let mut s = stream.write();
            if let Some(c) = s
                .meta
                .consumers
                .iter_mut()
                .find(|c| c.name == consumer.name && c.created_ms == consumer.created_ms)
            {
                c.deleted_at_ms
                    .get_or_insert(now + self.config.delete_delay_ms);
            }
        }
        {
            let s = stream.read();
            self.end_subscriptions_of(&s.meta.account, &s.meta.name, &consumer.name);
        }
        self.persist()?;
        Ok(Empty {})
    }

    fn consumer_shape(&self, stream: &StreamMeta, c: &ConsumerMeta, now: u64) -> Consumer {
        Consumer {
            consumer_name: c.name.clone(),
            consumer_arn: c.arn(&stream.arn(&self.config.region)),
            consumer_status: c.status(now).into(),
            consumer_creation_timestamp: Timestamp::from_millis(c.created_ms as i64),
        }
    }
}
