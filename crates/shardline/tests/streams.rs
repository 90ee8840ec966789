//! Control plane through aws-sdk-kinesis: creating, describing, listing and deleting streams,
//! every pagination parameter and every ShardFilter type.

use std::time::Duration;

use crate::common::{create_stream, error_code, error_message, Server};
use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::{ShardFilter, ShardFilterType, StreamMode, StreamStatus};

const MAX: &str = "340282366920938463463374607431768211455";

#[tokio::test]
async fn create_describe_and_summarise() {
    let server = Server::memory(&[]);
    let c = server.client();
    create_stream(&c, "orders", 3).await;

    let d = c
        .describe_stream()
        .stream_name("orders")
        .send()
        .await
        .unwrap();
    let s = d.stream_description().unwrap();
    assert_eq!(s.stream_name(), "orders");
    assert_eq!(
        s.stream_arn(),
        "arn:aws:kinesis:us-east-1:000000000000:stream/orders"
    );
    assert_eq!(s.stream_status(), &StreamStatus::Active);
    assert_eq!(s.retention_period_hours(), 24);
    assert!(!s.has_more_shards());
    let ids: Vec<_> = s.shards().iter().map(|sh| sh.shard_id()).collect();
    assert_eq!(
        ids,
        [
            "shardId-000000000000",
            "shardId-000000000001",
            "shardId-000000000002"
        ]
    );
    // AWS's exact ranges for three shards: shard i of N starts at i·⌊2^128/N⌋ (the AWS CLI
    // documentation shows these three).
    let ranges: Vec<(&str, &str)> = s
        .shards()
        .iter()
        .map(|sh| {
            let r = sh.hash_key_range().unwrap();
            (r.starting_hash_key(), r.ending_hash_key())
        })
        .collect();
    assert_eq!(
        ranges,
        [
            ("0", "113427455640312821154458202477256070484"),
            (
                "113427455640312821154458202477256070485",
                "226854911280625642308916404954512140969"
            ),
            ("226854911280625642308916404954512140970", MAX),
        ]
    );
    for sh in s.shards() {
        let seq = sh.sequence_number_range().unwrap();
        assert_eq!(seq.starting_sequence_number().len(), 56);
        assert!(seq.ending_sequence_number().is_none());
    }

    // By ARN as well as by name.
    let summary = c
        .describe_stream_summary()
        .stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/orders")
        .send()
        .await
        .unwrap();
    let sum = summary.stream_description_summary().unwrap();
    assert_eq!(sum.open_shard_count(), 3);
    assert_eq!(
        sum.stream_mode_details().unwrap().stream_mode(),
        &StreamMode::Provisioned
    );
    // A well-formed StreamId (20 characters, a dash, 3 more) would make the SDKs' endpoint rules
    // send the call to <id>.<suffix>.data-kinesis.<region>.amazonaws.com even with a custom
    // endpoint configured.
    assert!(sum.stream_id().is_none());

    let err = c
        .describe_stream()
        .stream_name("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    assert_eq!(
        error_message(&err),
        "Stream missing under account 000000000000 not found."
    );
    let err = c
        .create_stream()
        .stream_name("orders")
        .shard_count(1)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceInUseException");
    assert_eq!(
        error_message(&err),
        "Stream orders under account 000000000000 already exists."
    );
}

#[tokio::test]
async fn on_demand_streams_start_with_four_shards() {
    let server = Server::memory(&[]);
    let c = server.client();
    crate::common::create_on_demand_stream(&c, "od").await;
    let sum = c
        .describe_stream_summary()
        .stream_name("od")
        .send()
        .await
        .unwrap();
    let sum = sum.stream_description_summary().unwrap();
    assert_eq!(sum.open_shard_count(), 4);
    assert_eq!(
        sum.stream_mode_details().unwrap().stream_mode(),
        &StreamMode::OnDemand
    );
}

#[tokio::test]
async fn stream_states_follow_the_configured_delays() {
    let server = Server::memory(&["--create-delay-ms", "400", "--delete-delay-ms", "400"]);
    let c = server.client();
    create_stream(&c, "slow", 1).await;
    let status = |c: aws_sdk_kinesis::Client| async move {
        c.describe_stream_summary()
            .stream_name("slow")
            .send()
            .await
            .map(|o| {
                o.stream_description_summary()
                    .unwrap()
                    .stream_status()
                    .clone()
            })
    };
    assert_eq!(status(c.clone()).await.unwrap(), StreamStatus::Creating);
    // Writes to a CREATING stream are refused as AWS refuses them.
    let err = c
        .put_record()
        .stream_name("slow")
        .partition_key("k")
        .data(aws_sdk_kinesis::primitives::Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    // ListShards wants ACTIVE or UPDATING, and says so (aws/aws-sdk-java-v2#5949 quotes AWS).
    let err = c
        .list_shards()
        .stream_name("slow")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceInUseException");
    assert_eq!(
        error_message(&err),
        "Stream slow under account 000000000000 not ACTIVE or UPDATING, instead in state CREATING"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(status(c.clone()).await.unwrap(), StreamStatus::Active);

    c.delete_stream().stream_name("slow").send().await.unwrap();
    assert_eq!(status(c.clone()).await.unwrap(), StreamStatus::Deleting);
    let mut gone = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Err(e) = status(c.clone()).await {
            assert_eq!(error_code(&e), "ResourceNotFoundException");
            gone = true;
            break;
        }
    }
    assert!(
        gone,
        "a deleted stream must disappear after its DELETING time"
    );
}

#[tokio::test]
async fn list_streams_paginates_every_way() {
    let server = Server::memory(&[]);
    let c = server.client();
    let names: Vec<String> = (0..7).map(|i| format!("s{i}")).collect();
    for n in &names {
        create_stream(&c, n, 1).await;
    }
    let all = c.list_streams().send().await.unwrap();
    assert_eq!(all.stream_names(), names.as_slice());
    assert!(!all.has_more_streams());
    assert_eq!(all.stream_summaries().len(), 7);

    // Limit + NextToken.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..10 {
        let page = match &token {
            Some(t) => c
                .list_streams()
                .limit(3)
                .next_token(t)
                .send()
                .await
                .unwrap(),
            None => c.list_streams().limit(3).send().await.unwrap(),
        };
        assert!(page.stream_names().len() <= 3);
        seen.extend(page.stream_names().iter().cloned());
        token = page.next_token().map(str::to_owned);
        assert_eq!(token.is_some(), page.has_more_streams());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, names);

    // Limit + ExclusiveStartStreamName.
    let page = c
        .list_streams()
        .limit(2)
        .exclusive_start_stream_name("s2")
        .send()
        .await
        .unwrap();
    assert_eq!(page.stream_names(), ["s3", "s4"]);
    assert!(page.has_more_streams());

    let err = c
        .list_streams()
        .next_token("garbage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidArgumentException");
}

#[tokio::test]
async fn describe_stream_paginates_shards() {
    let server = Server::memory(&[]);
    let c = server.client();
    create_stream(&c, "wide", 5).await;
    let first = c
        .describe_stream()
        .stream_name("wide")
        .limit(2)
        .send()
        .await
        .unwrap();
    let d = first.stream_description().unwrap();
    assert_eq!(d.shards().len(), 2);
    assert!(d.has_more_shards());
    let next = c
        .describe_stream()
        .stream_name("wide")
        .limit(2)
        .exclusive_start_shard_id(d.shards()[1].shard_id())
        .send()
        .await
        .unwrap();
    let d2 = next.stream_description().unwrap();
    let ids: Vec<_> = d2.shards().iter().map(|s| s.shard_id()).collect();
    assert_eq!(ids, ["shardId-000000000002", "shardId-000000000003"]);
    assert!(d2.has_more_shards());
    let last = c
        .describe_stream()
        .stream_name("wide")
        .exclusive_start_shard_id("shardId-000000000003")
        .send()
        .await
        .unwrap();
    let d3 = last.stream_description().unwrap();
    assert_eq!(d3.shards().len(), 1);
    assert!(!d3.has_more_shards());
}

#[tokio::test]
async fn list_shards_paginates_and_filters() {
    let server = Server::memory(&["--test-clock"]);
    let c = server.client();
    create_stream(&c, "ls", 5).await;

    // MaxResults + NextToken, following the token alone as KCL does.
    let mut ids = Vec::new();
    let first = c
        .list_shards()
        .stream_name("ls")
        .max_results(2)
        .send()
        .await
        .unwrap();
    ids.extend(first.shards().iter().map(|s| s.shard_id().to_owned()));
    let mut token = first.next_token().map(str::to_owned);
    for _ in 0..10 {
        let Some(t) = token.take() else { break };
        let page = c
            .list_shards()
            .next_token(t)
            .max_results(2)
            .send()
            .await
            .unwrap();
        ids.extend(page.shards().iter().map(|s| s.shard_id().to_owned()));
        token = page.next_token().map(str::to_owned);
    }
    assert_eq!(ids.len(), 5);
    assert_eq!(ids[4], "shardId-000000000004");

    // ExclusiveStartShardId.
    let page = c
        .list_shards()
        .stream_name("ls")
        .exclusive_start_shard_id("shardId-000000000002")
        .send()
        .await
        .unwrap();
    assert_eq!(page.shards().len(), 2);
    assert!(page.next_token().is_none());

    // Every filter type: with no resharding all five shards are open at every time.
    let now = DateTime::from_secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    for (kind, ts, shard, expect) in [
        (ShardFilterType::AtLatest, None, None, 5),
        (ShardFilterType::AtTrimHorizon, None, None, 5),
        (ShardFilterType::FromTrimHorizon, None, None, 5),
        (ShardFilterType::AtTimestamp, Some(now), None, 5),
        (ShardFilterType::FromTimestamp, Some(now), None, 5),
        (
            ShardFilterType::AfterShardId,
            None,
            Some("shardId-000000000001"),
            3,
        ),
    ] {
        let filter = ShardFilter::builder()
            .r#type(kind.clone())
            .set_timestamp(ts)
            .set_shard_id(shard.map(str::to_owned))
            .build()
            .unwrap();
        let out = c
            .list_shards()
            .stream_name("ls")
            .shard_filter(filter)
            .send()
            .await
            .unwrap();
        assert_eq!(out.shards().len(), expect, "{kind:?}");
        if expect == 5 {
            // A cover of the hash space with no gap or overlap, as KCL checks.
            let shards = out.shards();
            assert_eq!(shards[0].hash_key_range().unwrap().starting_hash_key(), "0");
            assert_eq!(shards[4].hash_key_range().unwrap().ending_hash_key(), MAX);
            for w in shards.windows(2) {
                let end: u128 = w[0]
                    .hash_key_range()
                    .unwrap()
                    .ending_hash_key()
                    .parse()
                    .unwrap();
                let start: u128 = w[1]
                    .hash_key_range()
                    .unwrap()
                    .starting_hash_key()
                    .parse()
                    .unwrap();
                assert_eq!(end + 1, start);
            }
        }
    }

    // Filters that lack what they need.
    let err = c
        .list_shards()
        .stream_name("ls")
        .shard_filter(
            ShardFilter::builder()
                .r#type(ShardFilterType::AtTimestamp)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidArgumentException");

    // Tokens and stream names don't mix; a token expires after 300 s.
    let token = c
        .list_shards()
        .stream_name("ls")
        .max_results(1)
        .send()
        .await
        .unwrap()
        .next_token()
        .unwrap()
        .to_owned();
    let err = c
        .list_shards()
        .stream_name("ls")
        .next_token(&token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&err),
        "NextToken and StreamName cannot be provided together."
    );
    server.advance_clock(301_000);
    let err = c.list_shards().next_token(&token).send().await.unwrap_err();
    assert_eq!(error_code(&err), "ExpiredNextTokenException");
    let err = c
        .list_shards()
        .next_token("not-a-token")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidArgumentException");
}

/// AUTO record distribution through the Rust SDK: created on demand with AUTO, records without
/// partition keys spread in turns over the shards, switched back, and refused on provisioned
/// streams.
#[tokio::test]
async fn auto_record_distribution() {
    use aws_sdk_kinesis::primitives::Blob;
    use aws_sdk_kinesis::types::{
        PutRecordsRequestEntry, RecordDistributionStrategy, StreamModeDetails,
    };
    let server = Server::memory(&[]);
    let c = server.client();
    let on_demand = StreamModeDetails::builder()
        .stream_mode(StreamMode::OnDemand)
        .build()
        .unwrap();
    c.create_stream()
        .stream_name("auto")
        .stream_mode_details(on_demand)
        .record_distribution_strategy(RecordDistributionStrategy::Auto)
        .send()
        .await
        .unwrap();
    let summary = c
        .describe_stream_summary()
        .stream_name("auto")
        .send()
        .await
        .unwrap();
    let s = summary.stream_description_summary().unwrap();
    assert_eq!(
        s.record_distribution_strategy(),
        Some(&RecordDistributionStrategy::Auto)
    );
    let shards = s.open_shard_count() as usize;
    assert!(shards >= 2);
    let arn = s.stream_arn().to_string();

    let entries: Vec<_> = (0..shards * 100)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .data(Blob::new(format!("r{i}")))
                .build()
                .unwrap()
        })
        .collect();
    let out = c
        .put_records()
        .stream_name("auto")
        .set_records(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_record_count(), Some(0));
    let mut per_shard = std::collections::BTreeMap::<String, usize>::new();
    for r in out.records() {
        *per_shard
            .entry(r.shard_id().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per_shard.len(), shards);
    assert!(per_shard.values().all(|&n| n == 100), "{per_shard:?}");

    // Read back: no PartitionKey on records written without one.
    let it = c
        .get_shard_iterator()
        .stream_name("auto")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let got = c
        .get_records()
        .shard_iterator(it.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(got.records().len(), 100);
    assert!(got.records().iter().all(|r| r.partition_key().is_none()));

    c.update_stream_record_distribution_strategy()
        .stream_arn(&arn)
        .record_distribution_strategy(RecordDistributionStrategy::UserPartitionKey)
        .send()
        .await
        .unwrap();
    let err = c
        .put_record()
        .stream_name("auto")
        .data(Blob::new("no key"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");

    create_stream(&c, "provisioned", 2).await;
    let err = c
        .update_stream_record_distribution_strategy()
        .stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/provisioned")
        .record_distribution_strategy(RecordDistributionStrategy::Auto)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidArgumentException");
}

/// Channels through the Rust SDK: created on an on-demand stream (the server has an S3 endpoint;
/// no records are put, so nothing is delivered), described with AWS's defaults, listed, updated
/// and deleted; a provisioned stream is refused.
#[tokio::test]
async fn channels_control_plane() {
    use aws_sdk_kinesis::types::{
        ChannelStatus, ChannelStreamConfiguration, RecordConfiguration, RecordFormatType,
        S3CompressionType, S3DestinationConfiguration, S3DestinationUpdateInput,
        S3StorageConfiguration, StreamModeDetails,
    };
    let server = Server::memory(&["--s3-endpoint", "http://127.0.0.1:9"]);
    let c = server.client();
    c.create_stream()
        .stream_name("ch")
        .stream_mode_details(
            StreamModeDetails::builder()
                .stream_mode(StreamMode::OnDemand)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    create_stream(&c, "prov", 1).await;
    let destination = S3DestinationConfiguration::builder()
        .storage_configuration(
            S3StorageConfiguration::builder()
                .bucket_arn("arn:aws:s3:::rust-bucket")
                .expected_bucket_owner("000000000000")
                .compression_type(S3CompressionType::Zstd)
                .build()
                .unwrap(),
        )
        .build();
    let config = |stream: &str| {
        ChannelStreamConfiguration::builder()
            .stream_arn(format!(
                "arn:aws:kinesis:us-east-1:000000000000:stream/{stream}"
            ))
            .record_configuration(
                RecordConfiguration::builder()
                    .record_format_type(RecordFormatType::String)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    let created = c
        .create_channel()
        .channel_name("rust")
        .service_execution_role_arn("arn:aws:iam::000000000000:role/delivery")
        .stream_configuration_list(config("ch"))
        .s3_destination_configuration(destination.clone())
        .send()
        .await
        .unwrap();
    let d = created.channel_description().unwrap();
    let arn = d.channel_arn().to_string();
    assert!(arn.starts_with("arn:aws:kinesis:us-east-1:000000000000:channel/"));
    let described = c.describe_channel().channel_arn(&arn).send().await.unwrap();
    let d = described.channel_description().unwrap();
    assert_eq!(d.channel_status(), &ChannelStatus::Active);
    let dest = d.s3_destination_configuration().unwrap();
    assert_eq!(dest.data_freshness_in_seconds(), 300);
    assert_eq!(
        dest.dead_letter_queue_s3_configuration()
            .unwrap()
            .error_output_prefix(),
        Some(format!("kinesis-channel/errors/rust/{}/", d.channel_id()).as_str())
    );
    let err = c
        .create_channel()
        .channel_name("prov")
        .service_execution_role_arn("arn:aws:iam::000000000000:role/delivery")
        .stream_configuration_list(config("prov"))
        .s3_destination_configuration(destination)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ValidationException");
    let listed = c.list_channels().send().await.unwrap();
    assert_eq!(listed.channel_summaries().len(), 1);
    let updated = c
        .update_channel()
        .channel_arn(&arn)
        .s3_destination_configuration(
            S3DestinationUpdateInput::builder()
                .data_freshness_in_seconds(900)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        updated
            .channel_description()
            .unwrap()
            .s3_destination_configuration()
            .unwrap()
            .data_freshness_in_seconds(),
        900
    );
    c.delete_channel().channel_arn(&arn).send().await.unwrap();
}
