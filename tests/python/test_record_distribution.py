"""The AUTO record distribution strategy (UpdateStreamRecordDistributionStrategy, CreateStream's
RecordDistributionStrategy), through boto3 against the real binary (the newest AWS CLI v1, 1.46.3,
vendors a model without it; aws-sdk-rust covers it in crates/shardline/tests).

AWS's documentation: AUTO is for on-demand streams only (InvalidArgumentException on a provisioned
one); under AUTO a partition key is optional and ignored for placement, as is ExplicitHashKey, records
spread evenly over the shards, SequenceNumberForOrdering is refused; records written without a key come
back without a PartitionKey; USER_PARTITION_KEY (the default) requires a key. DescribeStreamSummary
reports the strategy for on-demand streams only.
"""

from __future__ import annotations

from collections import Counter

from support import assert_error, client_error, open_shards, read_shard, stream_arn, summary, wait_active

ON_DEMAND = {"StreamMode": "ON_DEMAND"}
MISSING_KEY = (
    "1 validation error detected: Value null at 'partitionKey' failed to satisfy constraint: Member must not be null"
)


def shard_counts(client, name: str) -> Counter:
    counts = Counter()
    for shard in open_shards(client, name):
        counts[shard["ShardId"]] = len(read_shard(client, name, shard["ShardId"], max_calls=200))
    return counts


def test_auto_spreads_evenly_without_keys_and_returns_records_without_one(kinesis):
    client = kinesis
    client.create_stream(StreamName="auto", StreamModeDetails=ON_DEMAND, RecordDistributionStrategy="AUTO")
    wait_active(client, "auto")
    s = summary(client, "auto")
    assert s["RecordDistributionStrategy"] == "AUTO"
    shards = [x["ShardId"] for x in open_shards(client, "auto")]
    assert len(shards) >= 2, "an on-demand stream starts with several shards"

    # 20 batches of 500 entries, no partition key at all; then some with one key and one hash key
    # (ignored for placement).
    for batch in range(20):
        out = client.put_records(StreamName="auto", Records=[{"Data": b"%d-%d" % (batch, i)} for i in range(500)])
        assert out["FailedRecordCount"] == 0
    keyed = client.put_records(
        StreamName="auto",
        Records=[{"Data": b"k%d" % i, "PartitionKey": "same", "ExplicitHashKey": "0"} for i in range(len(shards) * 25)],
    )
    assert keyed["FailedRecordCount"] == 0
    assert len({r["ShardId"] for r in keyed["Records"]}) == len(shards), "one key, one hash key, yet every shard"
    single = [client.put_record(StreamName="auto", Data=b"single-%d" % i)["ShardId"] for i in range(len(shards) * 4)]
    assert Counter(single) == {shard: 4 for shard in shards}

    counts = shard_counts(client, "auto")
    total = 10_000 + len(shards) * 25 + len(shards) * 4
    assert sum(counts.values()) == total
    # Even spread: every shard within 1% of its share (turns: at most one apart per call).
    share = total / len(shards)
    assert all(abs(c - share) <= share * 0.01 for c in counts.values()), counts

    records = read_shard(client, "auto", shards[0], max_calls=200)
    without = [r for r in records if r["Data"].startswith(b"0-")]
    assert without and all("PartitionKey" not in r for r in without)
    # A key given under AUTO is kept and returned, though it placed nothing.
    with_key = [r for r in records if r["Data"].startswith(b"k")]
    assert with_key and all(r["PartitionKey"] == "same" for r in with_key)


def test_switching_strategies_on_demand_and_the_key_rules(kinesis):
    client = kinesis
    client.create_stream(StreamName="od", StreamModeDetails=ON_DEMAND)
    arn = wait_active(client, "od")["StreamARN"]
    assert summary(client, "od")["RecordDistributionStrategy"] == "USER_PARTITION_KEY"

    # USER_PARTITION_KEY: a key is required (the model made it optional for AUTO's sake).
    assert_error(client_error(client.put_record, StreamName="od", Data=b"x"), "ValidationException", MISSING_KEY)
    assert_error(
        client_error(client.put_records, StreamName="od", Records=[{"Data": b"x", "PartitionKey": "k"}, {"Data": b"y"}]),
        "ValidationException",
        "1 validation error detected: Value null at 'records.2.member.partitionKey' failed to satisfy constraint: "
        "Member must not be null",
    )

    client.update_stream_record_distribution_strategy(StreamARN=arn, RecordDistributionStrategy="AUTO")
    assert summary(client, "od")["RecordDistributionStrategy"] == "AUTO"
    assert summary(client, "od")["StreamStatus"] == "ACTIVE", "the change is immediate"
    assert client.put_record(StreamName="od", Data=b"keyless")["SequenceNumber"]
    assert_error(
        client_error(client.put_record, StreamName="od", Data=b"x", SequenceNumberForOrdering="1"),
        "InvalidArgumentException",
    )
    # Setting it again is accepted.
    client.update_stream_record_distribution_strategy(StreamARN=arn, RecordDistributionStrategy="AUTO")

    # No way back to PROVISIONED while AUTO (where AUTO is not supported).
    assert_error(
        client_error(client.update_stream_mode, StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"}),
        "InvalidArgumentException",
    )
    client.update_stream_record_distribution_strategy(StreamARN=arn, RecordDistributionStrategy="USER_PARTITION_KEY")
    assert_error(client_error(client.put_record, StreamName="od", Data=b"x"), "ValidationException", MISSING_KEY)
    # Keys route by MD5 again: the same key, the same shard.
    assert len({client.put_record(StreamName="od", Data=b"x", PartitionKey="same")["ShardId"] for _ in range(8)}) == 1
    client.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"})
    wait_active(client, "od")
    assert "RecordDistributionStrategy" not in summary(client, "od"), "only on-demand streams report it"


def test_auto_is_for_on_demand_streams_only(kinesis):
    client = kinesis
    assert_error(
        client_error(client.create_stream, StreamName="p", ShardCount=2, RecordDistributionStrategy="AUTO"),
        "InvalidArgumentException",
    )
    client.create_stream(StreamName="p", ShardCount=2, RecordDistributionStrategy="USER_PARTITION_KEY")
    wait_active(client, "p")
    assert "RecordDistributionStrategy" not in summary(client, "p")
    assert_error(
        client_error(
            client.update_stream_record_distribution_strategy, StreamARN=stream_arn("p"), RecordDistributionStrategy="AUTO"
        ),
        "InvalidArgumentException",
    )
    client.update_stream_record_distribution_strategy(StreamARN=stream_arn("p"), RecordDistributionStrategy="USER_PARTITION_KEY")
    assert_error(
        client_error(
            client.update_stream_record_distribution_strategy,
            StreamARN=stream_arn("nope"),
            RecordDistributionStrategy="AUTO",
        ),
        "ResourceNotFoundException",
        "Stream nope under account 000000000000 not found.",
    )
