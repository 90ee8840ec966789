"""Resharding through boto3: SplitShard, MergeShards and UpdateShardCount, their lineage and hash ranges, and
their error cases with AWS's codes and texts.

Servers run with conftest's TEST_ARGS (`--create-delay-ms 0 --delete-delay-ms 0 --limits off`), so new streams
and consumers are ACTIVE at once and throughput limits stay out of the way; tests that need otherwise pass
their own flags (a later flag wins). Every wait is bounded.
"""

from __future__ import annotations

from conftest import ACCOUNT, create_stream, make_client
from support import MAX_HASH, SHARD, TWO_128, all_shards, assert_error, assert_full_cover, client_error, hash_range, open_shards, put, read_shard, stream_arn, strip_meta, summary, wait_active


# --- SplitShard -------------------------------------------------------------------------------------


def test_split_shard_closes_the_parent_and_divides_its_range(kinesis):
    create_stream(kinesis, "split", 1)
    before = put(kinesis, "split", b"before", ExplicitHashKey="5")
    key = 2**127
    kinesis.split_shard(StreamName="split", ShardToSplit=SHARD(0), NewStartingHashKey=str(key))
    wait_active(kinesis, "split")

    shards = {s["ShardId"]: s for s in all_shards(kinesis, "split")}
    assert sorted(shards) == [SHARD(0), SHARD(1), SHARD(2)]
    assert "EndingSequenceNumber" in shards[SHARD(0)]["SequenceNumberRange"]
    assert hash_range(shards[SHARD(1)]) == (0, key - 1)
    assert hash_range(shards[SHARD(2)]) == (key, MAX_HASH)
    for child in (SHARD(1), SHARD(2)):
        assert shards[child]["ParentShardId"] == SHARD(0)
        assert "AdjacentParentShardId" not in shards[child]
        assert "EndingSequenceNumber" not in shards[child]["SequenceNumberRange"]
    assert summary(kinesis, "split")["OpenShardCount"] == 2

    # New records go to the children; the parent's records stay readable.
    assert put(kinesis, "split", b"low", ExplicitHashKey="5")["ShardId"] == SHARD(1)
    assert put(kinesis, "split", b"high", ExplicitHashKey=str(key))["ShardId"] == SHARD(2)
    parent = read_shard(kinesis, "split", SHARD(0))
    assert [r["SequenceNumber"] for r in parent] == [before["SequenceNumber"]]


def test_split_shard_with_a_key_outside_the_shard_is_an_invalid_argument(kinesis):
    create_stream(kinesis, "split-bad", 2)
    lo, hi = 0, TWO_128 // 2 - 1  # shard 0 of 2
    # In shard 1's range; the shard's own end; start + 1 (must be greater than one plus the start); past 2^128-1.
    for key in (hi + 10, hi, lo + 1, TWO_128):
        message = assert_error(
            client_error(
                kinesis.split_shard, StreamName="split-bad", ShardToSplit=SHARD(0), NewStartingHashKey=str(key)
            ),
            "InvalidArgumentException",
        )
        assert message == (
            f"NewStartingHashKey {key} used in SplitShard() on shard {SHARD(0)} in stream split-bad under account "
            f"{ACCOUNT} is not both greater than one plus the shard's StartingHashKey {lo} and less than the "
            f"shard's EndingHashKey {hi}."
        )
    assert len(open_shards(kinesis, "split-bad")) == 2
    # The smallest and largest keys allowed.
    kinesis.split_shard(StreamName="split-bad", ShardToSplit=SHARD(0), NewStartingHashKey=str(lo + 2))
    wait_active(kinesis, "split-bad")
    kinesis.split_shard(StreamName="split-bad", ShardToSplit=SHARD(1), NewStartingHashKey=str(MAX_HASH - 1))
    wait_active(kinesis, "split-bad")
    assert_full_cover(open_shards(kinesis, "split-bad"))
    assert len(open_shards(kinesis, "split-bad")) == 4


def test_split_or_merge_of_a_closed_or_unknown_shard_is_refused(kinesis):
    create_stream(kinesis, "closed", 1)
    kinesis.split_shard(StreamName="closed", ShardToSplit=SHARD(0), NewStartingHashKey=str(2**127))
    wait_active(kinesis, "closed")
    closed = (
        f"Shard {SHARD(0)} in stream closed under account {ACCOUNT} has already been merged or split, and thus is "
        "not eligible for merging or splitting."
    )
    assert_error(
        client_error(kinesis.split_shard, StreamName="closed", ShardToSplit=SHARD(0), NewStartingHashKey="100"),
        "InvalidArgumentException",
        closed,
    )
    assert_error(
        client_error(kinesis.merge_shards, StreamName="closed", ShardToMerge=SHARD(0), AdjacentShardToMerge=SHARD(1)),
        "InvalidArgumentException",
        closed,
    )
    # A valid id is named in its normal form; one that cannot be a shard is named as given, even when the
    # stream does not exist.
    assert_error(
        client_error(kinesis.split_shard, StreamName="closed", ShardToSplit="shardId-9", NewStartingHashKey="100"),
        "ResourceNotFoundException",
        f"Could not find shard {SHARD(9)} in stream closed under account {ACCOUNT}.",
    )
    for bad in ("shardId-1e3", "ABKLFD8", "shardId-002147483648"):
        for stream in ("closed", "no-such-stream"):
            assert_error(
                client_error(kinesis.split_shard, StreamName=stream, ShardToSplit=bad, NewStartingHashKey="100"),
                "ResourceNotFoundException",
                f"Could not find shard {bad} in stream {stream} under account {ACCOUNT}.",
            )
            assert_error(
                client_error(kinesis.merge_shards, StreamName=stream, ShardToMerge=SHARD(1), AdjacentShardToMerge=bad),
                "ResourceNotFoundException",
                f"Could not find shard {bad} in stream {stream} under account {ACCOUNT}.",
            )
    assert_error(
        client_error(kinesis.split_shard, StreamName="no-such-stream", ShardToSplit=SHARD(0), NewStartingHashKey="1"),
        "ResourceNotFoundException",
        f"Stream no-such-stream under account {ACCOUNT} not found.",
    )


# --- MergeShards ------------------------------------------------------------------------------------


def test_merge_shards_joins_two_adjacent_shards(kinesis):
    create_stream(kinesis, "merge", 3)
    kinesis.merge_shards(StreamName="merge", ShardToMerge=SHARD(1), AdjacentShardToMerge=SHARD(2))
    wait_active(kinesis, "merge")
    shards = {s["ShardId"]: s for s in all_shards(kinesis, "merge")}
    child = shards[SHARD(3)]
    assert child["ParentShardId"] == SHARD(1)
    assert child["AdjacentParentShardId"] == SHARD(2)
    assert hash_range(child) == (hash_range(shards[SHARD(1)])[0], MAX_HASH)
    for parent in (SHARD(1), SHARD(2)):
        assert "EndingSequenceNumber" in shards[parent]["SequenceNumberRange"]
    assert [s["ShardId"] for s in open_shards(kinesis, "merge")] == [SHARD(0), SHARD(3)]
    assert_full_cover(open_shards(kinesis, "merge"))


def test_merge_of_non_adjacent_shards_is_an_invalid_argument(kinesis):
    create_stream(kinesis, "merge-bad", 3)
    # The shard to merge must be the lower one: the pair in inverted order is not adjacent, as AWS has it.
    for a, b in ((0, 2), (2, 0), (1, 1), (1, 0), (2, 1)):
        assert_error(
            client_error(
                kinesis.merge_shards, StreamName="merge-bad", ShardToMerge=SHARD(a), AdjacentShardToMerge=SHARD(b)
            ),
            "InvalidArgumentException",
            f"Shards {SHARD(a)} and {SHARD(b)} in stream merge-bad under account {ACCOUNT} are not an adjacent "
            "pair of shards eligible for merging",
        )
    assert len(open_shards(kinesis, "merge-bad")) == 3


# --- UpdateShardCount -------------------------------------------------------------------------------


def test_update_shard_count_gives_uniform_shards(kinesis):
    create_stream(kinesis, "scale", 2)
    out = kinesis.update_shard_count(StreamName="scale", TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    assert strip_meta(out) == {
        "StreamName": "scale",
        "CurrentShardCount": 2,
        "TargetShardCount": 4,
        "StreamARN": stream_arn("scale"),
    }
    wait_active(kinesis, "scale")
    width = TWO_128 // 4
    shards = open_shards(kinesis, "scale")
    assert [hash_range(s) for s in shards] == [
        (i * width, (i + 1) * width - 1 if i < 3 else MAX_HASH) for i in range(4)
    ]
    for s in shards:
        assert s.get("ParentShardId"), s  # every new shard has a lineage
    out = kinesis.update_shard_count(StreamName="scale", TargetShardCount=3, ScalingType="UNIFORM_SCALING")
    assert (out["CurrentShardCount"], out["TargetShardCount"]) == (4, 3)
    wait_active(kinesis, "scale")
    width = TWO_128 // 3
    assert [hash_range(s) for s in open_shards(kinesis, "scale")] == [
        (0, width - 1),
        (width, 2 * width - 1),
        (2 * width, MAX_HASH),
    ]
    assert summary(kinesis, "scale")["OpenShardCount"] == 3


def test_update_shard_count_from_uneven_shards(kinesis):
    """After a split the shards are uneven; uniform scaling still ends in N equal shards covering every key."""
    create_stream(kinesis, "uneven", 2)
    kinesis.split_shard(StreamName="uneven", ShardToSplit=SHARD(0), NewStartingHashKey=str(2**126 + 12345))
    wait_active(kinesis, "uneven")
    for target in (4, 7, 5):
        current = len(open_shards(kinesis, "uneven"))
        out = kinesis.update_shard_count(StreamName="uneven", TargetShardCount=target, ScalingType="UNIFORM_SCALING")
        assert (out["CurrentShardCount"], out["TargetShardCount"]) == (current, target)
        wait_active(kinesis, "uneven")
        shards = open_shards(kinesis, "uneven")
        width = TWO_128 // target
        assert [hash_range(s)[0] for s in shards] == [i * width for i in range(target)]
        assert_full_cover(shards)
        assert summary(kinesis, "uneven")["OpenShardCount"] == target
    # Every shard ever made is listed with a consistent lineage.
    ids = {s["ShardId"] for s in all_shards(kinesis, "uneven")}
    for s in all_shards(kinesis, "uneven"):
        for parent in (s.get("ParentShardId"), s.get("AdjacentParentShardId")):
            assert parent is None or parent in ids, s


def test_update_shard_count_beyond_double_or_below_half_is_an_invalid_argument(kinesis):
    create_stream(kinesis, "scale-bad", 4)
    assert_error(
        client_error(
            kinesis.update_shard_count, StreamName="scale-bad", TargetShardCount=9, ScalingType="UNIFORM_SCALING"
        ),
        "InvalidArgumentException",
        "UpdateShardCount cannot scale up over double your current open shard count. "
        "Current open shard count: 4 Target shard count: 9",
    )
    assert_error(
        client_error(
            kinesis.update_shard_count, StreamName="scale-bad", TargetShardCount=1, ScalingType="UNIFORM_SCALING"
        ),
        "InvalidArgumentException",
        "UpdateShardCount cannot scale down below half your current open shard count. "
        "Current open shard count: 4 Target shard count: 1",
    )
    assert len(open_shards(kinesis, "scale-bad")) == 4
    # Exactly double and exactly half are allowed.
    kinesis.update_shard_count(StreamName="scale-bad", TargetShardCount=8, ScalingType="UNIFORM_SCALING")
    wait_active(kinesis, "scale-bad")
    kinesis.update_shard_count(StreamName="scale-bad", TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    wait_active(kinesis, "scale-bad")
    assert len(open_shards(kinesis, "scale-bad")) == 4


def test_update_shard_count_is_limited_to_ten_a_day(kinesis):
    create_stream(kinesis, "scale-often", 1)
    for i in range(10):
        target = 2 if i % 2 == 0 else 1
        kinesis.update_shard_count(StreamName="scale-often", TargetShardCount=target, ScalingType="UNIFORM_SCALING")
        wait_active(kinesis, "scale-often")
    assert_error(
        client_error(
            kinesis.update_shard_count, StreamName="scale-often", TargetShardCount=2, ScalingType="UNIFORM_SCALING"
        ),
        "LimitExceededException",
    )


def test_settings_are_refused_while_the_stream_is_updating(start_shardline):
    """A reshard leaves the stream UPDATING (for the create delay here); other changes wait for ACTIVE."""
    kinesis = make_client(start_shardline("--create-delay-ms", "2500"))
    kinesis.create_stream(StreamName="busy", ShardCount=2)
    wait_active(kinesis, "busy")
    kinesis.split_shard(StreamName="busy", ShardToSplit=SHARD(0), NewStartingHashKey=str(2**126))
    assert summary(kinesis, "busy")["StreamStatus"] == "UPDATING"
    not_active = f"Stream busy under account {ACCOUNT} not ACTIVE, instead in state UPDATING"
    arn = stream_arn("busy")
    refused = [
        (kinesis.split_shard, {"StreamName": "busy", "ShardToSplit": SHARD(1), "NewStartingHashKey": str(2**127 + 1)}),
        (kinesis.merge_shards, {"StreamName": "busy", "ShardToMerge": SHARD(2), "AdjacentShardToMerge": SHARD(3)}),
        (kinesis.update_shard_count, {"StreamName": "busy", "TargetShardCount": 4, "ScalingType": "UNIFORM_SCALING"}),
        (kinesis.increase_stream_retention_period, {"StreamName": "busy", "RetentionPeriodHours": 48}),
        (kinesis.enable_enhanced_monitoring, {"StreamName": "busy", "ShardLevelMetrics": ["ALL"]}),
        (kinesis.update_stream_mode, {"StreamARN": arn, "StreamModeDetails": {"StreamMode": "ON_DEMAND"}}),
        (kinesis.update_max_record_size, {"StreamARN": arn, "MaxRecordSizeInKiB": 2048}),
        (
            kinesis.start_stream_encryption,
            {"StreamName": "busy", "EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
        ),
    ]
    for call, kwargs in refused:
        assert_error(client_error(call, **kwargs), "ResourceInUseException", not_active)
    # Reads, writes and tags go on while UPDATING.
    kinesis.add_tags_to_stream(StreamName="busy", Tags={"during": "update"})
    put(kinesis, "busy", b"while updating")
    assert wait_active(kinesis, "busy")["RetentionPeriodHours"] == 24
    kinesis.increase_stream_retention_period(StreamName="busy", RetentionPeriodHours=48)
