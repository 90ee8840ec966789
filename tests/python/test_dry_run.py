"""DryRun on the data-plane calls (PutRecord, PutRecords, GetShardIterator, GetRecords, SubscribeToShard), as
botocore 1.44's model has it: a request that would succeed is answered DryRunOperationException ("The request
was rejected because the DryRun parameter was specified.") and does nothing; one that would fail gets its own
error; DryRun false is an ordinary call.
"""

from __future__ import annotations

from support import assert_error, client_error, read_shard, stream_arn, wait_active

DRY = "The request was rejected because the DryRun parameter was specified."
SHARD0 = "shardId-000000000000"


def test_dry_run_checks_everything_and_does_nothing(kinesis):
    kinesis.create_stream(StreamName="d", ShardCount=1)
    wait_active(kinesis, "d")
    assert_error(client_error(kinesis.put_record, StreamName="d", Data=b"x", PartitionKey="k", DryRun=True),
                 "DryRunOperationException", DRY)
    assert_error(
        client_error(kinesis.put_records, StreamName="d", Records=[{"Data": b"x", "PartitionKey": "k"}], DryRun=True),
        "DryRunOperationException",
        DRY,
    )
    assert read_shard(kinesis, "d", SHARD0) == [], "a dry run writes nothing"
    # A request that would fail fails as it would without DryRun.
    assert_error(client_error(kinesis.put_record, StreamName="nope", Data=b"x", PartitionKey="k", DryRun=True),
                 "ResourceNotFoundException")
    assert_error(
        client_error(kinesis.put_record, StreamName="d", Data=b"x" * (1024 * 1024 + 1), PartitionKey="k", DryRun=True),
        "ValidationException",
    )
    assert_error(
        client_error(kinesis.get_shard_iterator, StreamName="d", ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON",
                     DryRun=True),
        "DryRunOperationException",
        DRY,
    )
    assert_error(
        client_error(kinesis.get_shard_iterator, StreamName="d", ShardId="shardId-000000000009",
                     ShardIteratorType="TRIM_HORIZON", DryRun=True),
        "ResourceNotFoundException",
    )
    kinesis.put_record(StreamName="d", Data=b"real", PartitionKey="k", DryRun=False)
    it = kinesis.get_shard_iterator(StreamName="d", ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert_error(client_error(kinesis.get_records, ShardIterator=it, DryRun=True), "DryRunOperationException", DRY)
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=it)["Records"]] == [b"real"]

    consumer = kinesis.register_stream_consumer(StreamARN=stream_arn("d"), ConsumerName="c")["Consumer"]
    assert_error(
        client_error(
            kinesis.subscribe_to_shard,
            ConsumerARN=consumer["ConsumerARN"],
            ShardId=SHARD0,
            StartingPosition={"Type": "TRIM_HORIZON"},
            DryRun=True,
        ),
        "DryRunOperationException",
        DRY,
    )
