//! Control-plane calls the benchmarks need: make sure the stream exists and is ACTIVE, list
//! its shards, register the enhanced fan-out consumer, delete at the end. Throttled control
//! calls (AWS allows a few per second) are retried with a back-off.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::client::{CallError, Client};

/// How long to wait for a stream or consumer to become ACTIVE.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// Calls `operation`, retrying throttling and transport errors a few times.
pub async fn call<T: DeserializeOwned>(
    client: &Client,
    operation: &str,
    input: serde_json::Value,
) -> Result<T, CallError> {
    let mut delay = Duration::from_millis(100);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match client.call(operation, &input).await {
            Err(e)
                if attempt < 8 && (e.is_throttling() || matches!(e, CallError::Transport(_))) =>
            {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSummary {
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
    pub stream_status: String,
    #[serde(default)]
    pub open_shard_count: u64,
}

async fn describe(client: &Client, stream: &str) -> Result<StreamSummary, CallError> {
    #[derive(Deserialize)]
    struct Out {
        #[serde(rename = "StreamDescriptionSummary")]
        summary: StreamSummary,
    }
    let out: Out = call(
        client,
        "DescribeStreamSummary",
        json!({ "StreamName": stream }),
    )
    .await?;
    Ok(out.summary)
}

/// Makes sure `stream` exists (creating it with `shards` shards when `create` is set) and is
/// ACTIVE. Returns its summary and whether this call created it.
pub async fn ensure_stream(
    client: &Client,
    stream: &str,
    create: bool,
    shards: u32,
) -> anyhow::Result<(StreamSummary, bool)> {
    let mut created = false;
    let deadline = tokio::time::Instant::now() + ACTIVE_TIMEOUT;
    loop {
        match describe(client, stream).await {
            Ok(s) if s.stream_status == "ACTIVE" => return Ok((s, created)),
            Ok(s) if s.stream_status == "DELETING" => {
                bail!("stream {stream} is being deleted; try again when it is gone")
            }
            Ok(_) => {}
            Err(e) if e.is("ResourceNotFoundException") && create && !created => {
                match call::<serde_json::Value>(
                    client,
                    "CreateStream",
                    json!({ "StreamName": stream, "ShardCount": shards }),
                )
                .await
                {
                    Ok(_) => created = true,
                    // Someone else created it meanwhile: wait for it like any other.
                    Err(e) if e.is("ResourceInUseException") => {}
                    Err(e) => return Err(anyhow!(e)).context(format!("creating stream {stream}")),
                }
            }
            Err(e) if e.is("ResourceNotFoundException") && !created => {
                bail!("stream {stream} does not exist (pass --create to create it)")
            }
            Err(e) if e.is("ResourceNotFoundException") => {}
            Err(e) => return Err(anyhow!(e)).context(format!("describing stream {stream}")),
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("stream {stream} did not become ACTIVE within {ACTIVE_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Deletes the stream (and its consumers); does not wait.
pub async fn delete_stream(client: &Client, stream: &str) -> anyhow::Result<()> {
    call::<serde_json::Value>(
        client,
        "DeleteStream",
        json!({ "StreamName": stream, "EnforceConsumerDeletion": true }),
    )
    .await
    .map(|_| ())
    .map_err(|e| anyhow!(e))
    .with_context(|| format!("deleting stream {stream}"))
}

/// A shard, and whether it is still open (takes writes).
#[derive(Clone, Debug)]
pub struct ShardInfo {
    pub id: String,
    pub open: bool,
}

/// Every shard of the stream, open and closed.
pub async fn list_shards(client: &Client, stream: &str) -> anyhow::Result<Vec<ShardInfo>> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Range {
        ending_sequence_number: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Shard {
        shard_id: String,
        sequence_number_range: Range,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Out {
        #[serde(default)]
        shards: Vec<Shard>,
        next_token: Option<String>,
    }
    let mut out = Vec::new();
    let mut input = json!({ "StreamName": stream });
    loop {
        let page: Out = call(client, "ListShards", input)
            .await
            .map_err(|e| anyhow!(e))
            .with_context(|| format!("listing the shards of {stream}"))?;
        out.extend(page.shards.into_iter().map(|s| ShardInfo {
            open: s.sequence_number_range.ending_sequence_number.is_none(),
            id: s.shard_id,
        }));
        match page.next_token {
            Some(token) => input = json!({ "NextToken": token }),
            None => return Ok(out),
        }
    }
}

/// Registers the consumer `name` (or finds it registered) and waits until it is ACTIVE;
/// returns its ARN.
pub async fn ensure_consumer(
    client: &Client,
    stream_arn: &str,
    name: &str,
) -> anyhow::Result<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Consumer {
        #[serde(rename = "ConsumerARN")]
        consumer_arn: String,
        consumer_status: String,
    }
    #[derive(Deserialize)]
    struct Registered {
        #[serde(rename = "Consumer")]
        consumer: Consumer,
    }
    #[derive(Deserialize)]
    struct Described {
        #[serde(rename = "ConsumerDescription")]
        consumer: Consumer,
    }
    let registered: Result<Registered, _> = call(
        client,
        "RegisterStreamConsumer",
        json!({ "StreamARN": stream_arn, "ConsumerName": name }),
    )
    .await;
    match registered {
        Ok(r) if r.consumer.consumer_status == "ACTIVE" => return Ok(r.consumer.consumer_arn),
        Ok(_) => {}
        Err(e) if e.is("ResourceInUseException") => {}
        Err(e) => return Err(anyhow!(e)).context(format!("registering consumer {name}")),
    }
    let deadline = tokio::time::Instant::now() + ACTIVE_TIMEOUT;
    loop {
        let d: Described = call(
            client,
            "DescribeStreamConsumer",
            json!({ "StreamARN": stream_arn, "ConsumerName": name }),
        )
        .await
        .map_err(|e| anyhow!(e))
        .with_context(|| format!("describing consumer {name}"))?;
        match d.consumer.consumer_status.as_str() {
            "ACTIVE" => return Ok(d.consumer.consumer_arn),
            "DELETING" => bail!("consumer {name} is being deregistered; try again shortly"),
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("consumer {name} did not become ACTIVE within {ACTIVE_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A shard iterator of the given type (`LATEST`, `TRIM_HORIZON`, …).
pub async fn shard_iterator(
    client: &Client,
    stream: &str,
    shard: &str,
    kind: &str,
) -> anyhow::Result<String> {
    #[derive(Deserialize)]
    struct Out {
        #[serde(rename = "ShardIterator")]
        it: String,
    }
    let out: Out = call(
        client,
        "GetShardIterator",
        json!({ "StreamName": stream, "ShardId": shard, "ShardIteratorType": kind }),
    )
    .await
    .map_err(|e| anyhow::anyhow!("GetShardIterator for {shard}: {e}"))?;
    Ok(out.it)
}
