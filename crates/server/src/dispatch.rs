//! One place that maps each operation to its input shape, its checks, and its engine call.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::Serialize;
use shardline_engine::EngineError;
use shardline_wire::shapes::*;
use shardline_wire::{json, ApiError, ErrorCode, Operation, Validate};

use crate::Shared;

/// Runs one call; `Ok(None)` means a successful call with an empty body.
pub async fn call(
    shared: &Shared,
    op: Operation,
    body: &[u8],
) -> Result<Option<Vec<u8>>, ApiError> {
    let e = &*shared.engine;
    let c = &shared.caller;
    match op {
        Operation::CreateStream => empty(body, |i| e.create_stream(c, i)),
        Operation::DeleteStream => empty(body, |i| e.delete_stream(c, i)),
        Operation::DescribeStream => sync(body, |i| e.describe_stream(c, i)),
        Operation::DescribeStreamSummary => sync(body, |i: DescribeStreamSummaryInput| {
            e.describe_stream_summary(c, i)
        }),
        Operation::ListStreams => sync(body, |i| e.list_streams(c, i)),
        Operation::ListShards => sync(body, |i| e.list_shards(c, i)),
        Operation::PutRecord => run(body, |i| e.put_record(c, i)).await,
        Operation::PutRecords => run(body, |i| e.put_records(c, i)).await,
        Operation::GetShardIterator => sync(body, |i| e.get_shard_iterator(c, i)),
        Operation::GetRecords => sync(body, |i| e.get_records(c, i)),
        other => Err(ApiError::new(
            ErrorCode::UnknownOperation,
            format!(
                "Operation {} is not supported by this version of shardline yet.",
                other.name()
            ),
        )),
    }
}

fn decode<I: DeserializeOwned + Validate>(body: &[u8]) -> Result<I, ApiError> {
    let input: I = json::decode(body)?;
    input.validate()?;
    Ok(input)
}

fn sync<I, O>(
    body: &[u8],
    f: impl FnOnce(I) -> Result<O, EngineError>,
) -> Result<Option<Vec<u8>>, ApiError>
where
    I: DeserializeOwned + Validate,
    O: Serialize,
{
    let out = f(decode(body)?).map_err(EngineError::into_api_error)?;
    Ok(Some(json::encode(&out)))
}

fn empty<I>(
    body: &[u8],
    f: impl FnOnce(I) -> Result<Empty, EngineError>,
) -> Result<Option<Vec<u8>>, ApiError>
where
    I: DeserializeOwned + Validate,
{
    f(decode(body)?).map_err(EngineError::into_api_error)?;
    Ok(None)
}

async fn run<I, O, F>(body: &[u8], f: impl FnOnce(I) -> F) -> Result<Option<Vec<u8>>, ApiError>
where
    I: DeserializeOwned + Validate,
    O: Serialize,
    F: Future<Output = Result<O, EngineError>>,
{
    let out = f(decode(body)?)
        .await
        .map_err(EngineError::into_api_error)?;
    Ok(Some(json::encode(&out)))
}
