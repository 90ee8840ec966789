//! One place that maps each operation to its input shape, its checks, and its engine call.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::Serialize;
use shardline_engine::{Caller, EngineError, EntryOp, Subscription};
use shardline_wire::shapes::*;
use shardline_wire::{ApiError, Codec, Operation, Validate};

use crate::Shared;

/// A successful call's answer.
pub enum Reply {
    /// An encoded output shape.
    Body(Vec<u8>),
    /// 200 with an empty body (operations without an output shape).
    Empty,
    /// A SubscribeToShard session, answered as an event stream.
    Subscription(Subscription),
}

/// Runs one call.
pub async fn call(
    shared: &Shared,
    c: &Caller,
    codec: Codec,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let e = &*shared.engine;
    e.admit(c)
        .map_err(|err| err.into_api_error_for(c.operation))?;
    let body = (codec, body, c.operation);
    match c.operation {
        Operation::CreateStream => empty(body, |i| e.create_stream(c, i)),
        Operation::DeleteStream => empty(body, |i| e.delete_stream(c, i)),
        Operation::DescribeStream => sync(body, |i| e.describe_stream(c, i)),
        Operation::DescribeStreamSummary => sync(body, |i: DescribeStreamSummaryInput| {
            e.describe_stream_summary(c, i)
        }),
        Operation::ListStreams => sync(body, |i| e.list_streams(c, i)),
        Operation::ListShards => sync(body, |i| e.list_shards(c, i)),
        Operation::PutRecord => run(body, |i| e.put_record(c, i)).await,
        Operation::PutRecords => {
            let input = body.0.decode_put_records(body.1)?;
            input.validate()?;
            let out = e
                .put_records(c, input)
                .await
                .map_err(|err| err.into_api_error_for(c.operation))?;
            Ok(Reply::Body(body.0.encode_put_records(&out)))
        }
        Operation::GetShardIterator => sync(body, |i| e.get_shard_iterator(c, i)),
        Operation::GetRecords => {
            let out = e
                .get_records(c, decode(body)?)
                .map_err(|err| err.into_api_error_for(c.operation))?;
            Ok(Reply::Body(body.0.encode_get_records(&out)))
        }
        Operation::RegisterStreamConsumer => sync(body, |i| e.register_stream_consumer(c, i)),
        Operation::DescribeStreamConsumer => sync(body, |i: DescribeStreamConsumerInput| {
            e.describe_stream_consumer(c, i)
        }),
        Operation::ListStreamConsumers => sync(body, |i| e.list_stream_consumers(c, i)),
        Operation::DeregisterStreamConsumer => empty(body, |i: DeregisterStreamConsumerInput| {
            e.deregister_stream_consumer(c, i)
        }),
        Operation::AddTagsToStream => empty(body, |i| e.add_tags_to_stream(c, i)),
        Operation::RemoveTagsFromStream => empty(body, |i| e.remove_tags_from_stream(c, i)),
        Operation::ListTagsForStream => sync(body, |i| e.list_tags_for_stream(c, i)),
        Operation::TagResource => empty(body, |i| e.tag_resource(c, i)),
        Operation::UntagResource => empty(body, |i| e.untag_resource(c, i)),
        Operation::ListTagsForResource => sync(body, |i: ListTagsForResourceInput| {
            e.list_tags_for_resource(c, i)
        }),
        Operation::IncreaseStreamRetentionPeriod => {
            empty(body, |i| e.increase_stream_retention_period(c, i))
        }
        Operation::DecreaseStreamRetentionPeriod => {
            empty(body, |i| e.decrease_stream_retention_period(c, i))
        }
        Operation::UpdateStreamMode => empty(body, |i| e.update_stream_mode(c, i)),
        Operation::EnableEnhancedMonitoring => sync(body, |i| e.enable_enhanced_monitoring(c, i)),
        Operation::DisableEnhancedMonitoring => sync(body, |i| e.disable_enhanced_monitoring(c, i)),
        Operation::DescribeLimits => sync(body, |i| e.describe_limits(c, i)),
        Operation::DescribeAccountSettings => sync(body, |i| e.describe_account_settings(c, i)),
        Operation::UpdateAccountSettings => sync(body, |i| e.update_account_settings(c, i)),
        Operation::UpdateMaxRecordSize => empty(body, |i| e.update_max_record_size(c, i)),
        Operation::UpdateStreamRecordDistributionStrategy => {
            empty(body, |i| e.update_stream_record_distribution_strategy(c, i))
        }
        Operation::UpdateStreamWarmThroughput => {
            sync(body, |i| e.update_stream_warm_throughput(c, i))
        }
        Operation::StartStreamEncryption => empty(body, |i| e.start_stream_encryption(c, i)),
        Operation::StopStreamEncryption => empty(body, |i| e.stop_stream_encryption(c, i)),
        Operation::SplitShard => empty(body, |i| e.split_shard(c, i)),
        Operation::MergeShards => empty(body, |i| e.merge_shards(c, i)),
        Operation::UpdateShardCount => sync(body, |i| e.update_shard_count(c, i)),
        Operation::PutResourcePolicy => empty(body, |i| e.put_resource_policy(c, i)),
        Operation::GetResourcePolicy => sync(body, |i: GetResourcePolicyInput| {
            e.get_resource_policy(c, i)
        }),
        Operation::DeleteResourcePolicy => empty(body, |i: DeleteResourcePolicyInput| {
            e.delete_resource_policy(c, i)
        }),
        Operation::CreateQueue => sync(body, |i| e.create_queue(c, i)),
        Operation::DescribeQueue => sync(body, |i: DescribeQueueInput| e.describe_queue(c, i)),
        Operation::ListQueues => sync(body, |i| e.list_queues(c, i)),
        Operation::UpdateQueue => sync(body, |i| e.update_queue(c, i)),
        Operation::DeleteQueue => empty(body, |i: DeleteQueueInput| e.delete_queue(c, i)),
        Operation::ReceiveQueueRecords => run(body, |i| e.receive_queue_records(c, i, false)).await,
        Operation::ReceiveDeadLetterQueueRecords => {
            run(body, |i| e.receive_queue_records(c, i, true)).await
        }
        Operation::AcknowledgeQueueRecords => {
            entries(e, c, body, EntryOp::Acknowledge { dead: false }).await
        }
        Operation::AcknowledgeDeadLetterQueueRecords => {
            entries(e, c, body, EntryOp::Acknowledge { dead: true }).await
        }
        Operation::UpdateQueueRecordsVisibility => {
            entries(e, c, body, EntryOp::Visibility { dead: false }).await
        }
        Operation::UpdateDeadLetterQueueRecordsVisibility => {
            entries(e, c, body, EntryOp::Visibility { dead: true }).await
        }
        Operation::RestoreDeadLetterQueueRecords => entries(e, c, body, EntryOp::Restore).await,
        Operation::CreateChannel => sync(body, |i| e.create_channel(c, i)),
        Operation::DescribeChannel => {
            sync(body, |i: DescribeChannelInput| e.describe_channel(c, i))
        }
        Operation::ListChannels => sync(body, |i| e.list_channels(c, i)),
        Operation::UpdateChannel => sync(body, |i| e.update_channel(c, i)),
        Operation::DeleteChannel => empty(body, |i: DeleteChannelInput| e.delete_channel(c, i)),
        Operation::SubscribeToShard => {
            // Always JSON, even for clients that speak CBOR otherwise: the Java SDK v2 special-
            // cases SubscribeToShard to JSON (request, initial-response and events alike).
            let input: SubscribeToShardInput = decode(body)?;
            let sub = e
                .subscribe_to_shard(c, input)
                .map_err(|err| err.into_api_error_for(c.operation))?;
            Ok(Reply::Subscription(sub))
        }
    }
}

/// The batch operations on receipt handles (the visibility ones also check every entry's
/// timeout).
async fn entries(
    e: &shardline_engine::Engine,
    c: &Caller,
    (codec, body, op): Request<'_>,
    which: EntryOp,
) -> Result<Reply, ApiError> {
    let input: ReceiptEntriesInput = codec.decode(body)?;
    match which {
        EntryOp::Visibility { .. } => {
            shardline_wire::constraints::validate_visibility_entries(&input)?
        }
        _ => input.validate()?,
    }
    let out = e
        .queue_entries(c, input, which)
        .await
        .map_err(|err| err.into_api_error_for(op))?;
    Ok(Reply::Body(codec.encode(&out)))
}

/// A request body and the codec it is written in.
/// A call's codec, body and operation (the operation picks the error a failure is answered
/// with).
type Request<'a> = (Codec, &'a [u8], Operation);

fn decode<I: DeserializeOwned + Validate>((codec, body, _): Request<'_>) -> Result<I, ApiError> {
    let input: I = codec.decode(body)?;
    input.validate()?;
    Ok(input)
}

fn sync<I, O>(
    body: Request<'_>,
    f: impl FnOnce(I) -> Result<O, EngineError>,
) -> Result<Reply, ApiError>
where
    I: DeserializeOwned + Validate,
    O: Serialize,
{
    let out = f(decode(body)?).map_err(|err| err.into_api_error_for(body.2))?;
    Ok(Reply::Body(body.0.encode(&out)))
}

fn empty<I>(
    body: Request<'_>,
    f: impl FnOnce(I) -> Result<Empty, EngineError>,
) -> Result<Reply, ApiError>
where
    I: DeserializeOwned + Validate,
{
    f(decode(body)?).map_err(|err| err.into_api_error_for(body.2))?;
    Ok(Reply::Empty)
}

async fn run<I, O, F>(body: Request<'_>, f: impl FnOnce(I) -> F) -> Result<Reply, ApiError>
where
    I: DeserializeOwned + Validate,
    O: Serialize,
    F: Future<Output = Result<O, EngineError>>,
{
    let out = f(decode(body)?)
        .await
        .map_err(|err| err.into_api_error_for(body.2))?;
    Ok(Reply::Body(body.0.encode(&out)))
}
