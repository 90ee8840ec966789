//! SubscribeToShard through aws-sdk-kinesis over plain HTTP/1.1 (chunked event stream):
//! records pushed as they are written, continuation numbers, the 5-second rule and takeover,
//! the session's end, and consumer registration around it.

use std::time::Duration;

use crate::common::{create_stream, error_code, Server};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{
    ConsumerStatus, ShardIteratorType, StartingPosition, SubscribeToShardEventStream,
};
use aws_sdk_kinesis::Client;

const ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/fan";

async fn register(c: &Client, name: &str) -> String {
    let out = c
        .register_stream_consumer()
        .stream_arn(ARN)
        .consumer_name(name)
        .send()
        .await
        .unwrap();
    out.consumer().unwrap().consumer_arn().to_owned()
}

fn position(kind: ShardIteratorType, seq: Option<&str>) -> StartingPosition {
    StartingPosition::builder()
        .r#type(kind)
        .set_sequence_number(seq.map(str::to_owned))
        .build()
        .unwrap()
}

type Receiver = aws_sdk_kinesis::primitives::event_stream::EventReceiver<
    SubscribeToShardEventStream,
    aws_sdk_kinesis::types::error::SubscribeToShardEventStreamError,
>;

/// Receives events until `want` records arrived (bounded in time).
async fn collect(rx: &mut Receiver, want: usize) -> (Vec<(String, Vec<u8>)>, Option<String>) {
    let mut got = Vec::new();
    let mut continuation = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while got.len() < want {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("records arrive in time")
            .expect("stream ok")
            .expect("stream still open");
        if let SubscribeToShardEventStream::SubscribeToShardEvent(e) = ev {
            for r in e.records() {
                got.push((r.sequence_number().to_owned(), r.data().as_ref().to_vec()));
            }
            let c = e.continuation_sequence_number();
            continuation = (!c.is_empty()).then(|| c.to_owned());
        }
    }
    (got, continuation)
}

#[tokio::test]
async fn records_written_after_subscribing_are_pushed() {
    let server = Server::memory(&["--test-clock"]);
    let c = server.client();
    create_stream(&c, "fan", 1).await;
    let consumer = register(&c, "app").await;
    let d = c
        .describe_stream_consumer()
        .consumer_arn(&consumer)
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.consumer_description().unwrap().consumer_status(),
        &ConsumerStatus::Active
    );

    let out = c
        .subscribe_to_shard()
        .consumer_arn(&consumer)
        .shard_id("shardId-000000000000")
        .starting_position(position(ShardIteratorType::Latest, None))
        .send()
        .await
        .unwrap();
    let mut rx = out.event_stream;

    let mut sent = Vec::new();
    for i in 0..5 {
        let r = c
            .put_record()
            .stream_name("fan")
            .partition_key("k")
            .data(Blob::new(format!("event {i}")))
            .send()
            .await
            .unwrap();
        sent.push((
            r.sequence_number().to_owned(),
            format!("event {i}").into_bytes(),
        ));
    }
    let (got, continuation) = collect(&mut rx, 5).await;
    assert_eq!(got, sent);
    // The continuation resumes after the last delivered record.
    let continuation = continuation.expect("open shards carry a continuation");

    // A second subscription within 5 s is refused.
    let err = c
        .subscribe_to_shard()
        .consumer_arn(&consumer)
        .shard_id("shardId-000000000000")
        .starting_position(position(ShardIteratorType::TrimHorizon, None))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceInUseException");

    // After 5 s it takes over: the old session ends with ResourceInUseException.
    server.advance_clock(6_000);
    let put = c
        .put_record()
        .stream_name("fan")
        .partition_key("k")
        .data(Blob::new("after"))
        .send()
        .await
        .unwrap();
    let out = c
        .subscribe_to_shard()
        .consumer_arn(&consumer)
        .shard_id("shardId-000000000000")
        .starting_position(position(
            ShardIteratorType::AfterSequenceNumber,
            Some(&continuation),
        ))
        .send()
        .await
        .unwrap();
    let mut rx2 = out.event_stream;
    let (got, _) = collect(&mut rx2, 1).await;
    assert_eq!(
        got[0].0,
        put.sequence_number(),
        "resumed right after the continuation"
    );

    let mut old_ended_with = None;
    for _ in 0..100 {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Err(e)) => {
                old_ended_with = Some(format!("{e:?}"));
                break;
            }
            Ok(Ok(None)) => {
                old_ended_with = Some("end of stream".into());
                break;
            }
            Err(_) => break,
        }
    }
    let ended = old_ended_with.expect("the replaced session must end");
    assert!(ended.contains("ResourceInUseException"), "{ended}");
}

#[tokio::test]
async fn sessions_end_after_their_lifetime_and_start_from_any_position() {
    let server = Server::memory(&["--subscription-secs", "2"]);
    let c = server.client();
    create_stream(&c, "fan", 1).await;
    let consumer = register(&c, "app").await;
    let mut written = Vec::new();
    for i in 0..3 {
        let r = c
            .put_record()
            .stream_name("fan")
            .partition_key("k")
            .data(Blob::new(format!("old {i}")))
            .send()
            .await
            .unwrap();
        written.push(r.sequence_number().to_owned());
    }
    let out = c
        .subscribe_to_shard()
        .consumer_arn(&consumer)
        .shard_id("shardId-000000000000")
        .starting_position(position(
            ShardIteratorType::AtSequenceNumber,
            Some(&written[1]),
        ))
        .send()
        .await
        .unwrap();
    let mut rx = out.event_stream;
    let (got, _) = collect(&mut rx, 2).await;
    assert_eq!(
        got.iter().map(|g| g.0.clone()).collect::<Vec<_>>(),
        written[1..].to_vec()
    );
    // Heartbeats keep coming while idle, then the stream ends after ~2 s.
    let start = std::time::Instant::now();
    let mut events = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Ok(Some(_))) => events += 1,
            Ok(Ok(None)) => break,
            other => panic!("expected the session to end cleanly, got {other:?}"),
        }
    }
    assert!(events >= 1, "idle sessions send heartbeat events");
    assert!(start.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn consumers_register_list_and_deregister() {
    let server = Server::memory(&["--create-delay-ms", "300"]);
    let c = server.client();
    create_stream(&c, "fan", 2).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let a = register(&c, "a").await;
    let d = c
        .describe_stream_consumer()
        .stream_arn(ARN)
        .consumer_name("a")
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.consumer_description().unwrap().consumer_status(),
        &ConsumerStatus::Creating
    );
    // A CREATING consumer cannot read.
    let err = c
        .subscribe_to_shard()
        .consumer_arn(&a)
        .shard_id("shardId-000000000000")
        .starting_position(position(ShardIteratorType::Latest, None))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceInUseException");
    let err = c
        .register_stream_consumer()
        .stream_arn(ARN)
        .consumer_name("a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceInUseException");
    for n in ["b", "c"] {
        register(&c, n).await;
    }
    let page = c
        .list_stream_consumers()
        .stream_arn(ARN)
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(page.consumers().len(), 2);
    let rest = c
        .list_stream_consumers()
        .stream_arn(ARN)
        .next_token(page.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.consumers().len(), 1);
    assert!(rest.next_token().is_none());

    let err = c
        .delete_stream()
        .stream_name("fan")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceInUseException");
    c.deregister_stream_consumer()
        .consumer_arn(&a)
        .send()
        .await
        .unwrap();
    let err = c
        .describe_stream_consumer()
        .consumer_arn("arn:aws:kinesis:us-east-1:000000000000:stream/fan/consumer/zzz:1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    c.delete_stream()
        .stream_name("fan")
        .enforce_consumer_deletion(true)
        .send()
        .await
        .unwrap();
}
