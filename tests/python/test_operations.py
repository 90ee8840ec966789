"""The operations added with resharding and "every operation served", through boto3: resharding (SplitShard,
MergeShards, UpdateShardCount), retention, tags on streams and consumers, consumers, encryption, stream mode,
enhanced monitoring, limits, account settings and warm throughput, maximum record size, resource policies; their
error cases with AWS's error codes (and texts where AWS's are known); and that every setting survives a restart
(graceful or kill -9) on the same data directory.

Servers run with conftest's TEST_ARGS (`--create-delay-ms 0 --delete-delay-ms 0 --limits off`), so new streams
and consumers are ACTIVE at once and throughput limits stay out of the way; the two tests that need otherwise pass
`--create-delay-ms 2500` or `--limits aws` (a later flag wins). Every wait is bounded.
"""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError, EventStreamError

from conftest import ACCOUNT, REGION, create_stream, make_client

TWO_128 = 2**128
MAX_HASH = TWO_128 - 1
SHARD = "shardId-{:012d}".format
ALL_METRICS = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
]
MiB = 1024 * 1024


# --- helpers ----------------------------------------------------------------------------------------


def client_error(call, **kwargs) -> dict:
    """Runs a boto3 call that must fail; returns botocore's parsed error response."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response


def assert_error(response: dict, code: str, message: str | None = None) -> str:
    error = response["Error"]
    assert (error["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (code, 400), response
    if message is not None:
        assert error["Message"] == message
    return error["Message"]


def stream_arn(name: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


def summary(client, name: str) -> dict:
    return client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]


def wait_active(client, name: str, timeout_s: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        s = summary(client, name)
        if s["StreamStatus"] == "ACTIVE":
            return s
        assert time.monotonic() < deadline, f"{name} still {s['StreamStatus']} after {timeout_s}s"
        time.sleep(0.05)


def wait_until(predicate, what: str, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout_s}s: {what}"
        time.sleep(0.05)


def all_shards(client, name: str) -> list[dict]:
    shards, kwargs = [], {"StreamName": name}
    for _ in range(100):
        page = client.list_shards(**kwargs)
        shards.extend(page["Shards"])
        if not page.get("NextToken"):
            return shards
        kwargs = {"NextToken": page["NextToken"]}
    raise AssertionError("ListShards did not finish in 100 pages")


def open_shards(client, name: str) -> list[dict]:
    shards = [s for s in all_shards(client, name) if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    return sorted(shards, key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))


def hash_range(shard: dict) -> tuple[int, int]:
    r = shard["HashKeyRange"]
    return int(r["StartingHashKey"]), int(r["EndingHashKey"])


def assert_full_cover(shards: list[dict]) -> None:
    """Open shards cover 0..2^128-1 with no gap or overlap."""
    ranges = sorted(hash_range(s) for s in shards)
    assert ranges[0][0] == 0 and ranges[-1][1] == MAX_HASH, ranges
    for (_, end), (start, _) in zip(ranges, ranges[1:]):
        assert end + 1 == start, ranges


def read_shard(client, name: str, shard_id: str, max_calls: int = 20) -> list[dict]:
    """Every record of a shard from TRIM_HORIZON, until the tip (or the end of a closed shard)."""
    it = client.get_shard_iterator(StreamName=name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records = []
    for _ in range(max_calls):
        page = client.get_records(ShardIterator=it, Limit=10000)
        records.extend(page["Records"])
        it = page.get("NextShardIterator")
        if it is None or (not page["Records"] and page.get("MillisBehindLatest", 0) == 0):
            return records
    return records


def put(client, name: str, data: bytes, key: str = "pk", **kwargs) -> dict:
    return client.put_record(StreamName=name, Data=data, PartitionKey=key, **kwargs)


def strip_meta(response: dict) -> dict:
    response = dict(response)
    response.pop("ResponseMetadata", None)
    return response


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
    assert_error(
        client_error(kinesis.split_shard, StreamName="closed", ShardToSplit=SHARD(0), NewStartingHashKey="100"),
        "ResourceInUseException",
    )
    assert_error(
        client_error(kinesis.merge_shards, StreamName="closed", ShardToMerge=SHARD(0), AdjacentShardToMerge=SHARD(1)),
        "ResourceInUseException",
    )
    assert_error(
        client_error(kinesis.split_shard, StreamName="closed", ShardToSplit=SHARD(9), NewStartingHashKey="100"),
        "ResourceNotFoundException",
        f"Could not find shard {SHARD(9)} in stream closed under account {ACCOUNT}.",
    )


# --- MergeShards ------------------------------------------------------------------------------------


def test_merge_shards_joins_two_adjacent_shards(kinesis):
    create_stream(kinesis, "merge", 3)
    # Either order of the pair is accepted.
    kinesis.merge_shards(StreamName="merge", ShardToMerge=SHARD(2), AdjacentShardToMerge=SHARD(1))
    wait_active(kinesis, "merge")
    shards = {s["ShardId"]: s for s in all_shards(kinesis, "merge")}
    child = shards[SHARD(3)]
    assert child["ParentShardId"] == SHARD(2)
    assert child["AdjacentParentShardId"] == SHARD(1)
    assert hash_range(child) == (hash_range(shards[SHARD(1)])[0], MAX_HASH)
    for parent in (SHARD(1), SHARD(2)):
        assert "EndingSequenceNumber" in shards[parent]["SequenceNumberRange"]
    assert [s["ShardId"] for s in open_shards(kinesis, "merge")] == [SHARD(0), SHARD(3)]
    assert_full_cover(open_shards(kinesis, "merge"))


def test_merge_of_non_adjacent_shards_is_an_invalid_argument(kinesis):
    create_stream(kinesis, "merge-bad", 3)
    for a, b in ((0, 2), (2, 0), (1, 1)):
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


# --- retention --------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["increase_stream_retention_period", "decrease_stream_retention_period"])
@pytest.mark.parametrize("hours", [23, 1, 0, -5])
def test_retention_below_24_hours_is_too_short(kinesis_raw, operation, hours):
    create_stream(kinesis_raw, "ret-short", 1)
    assert_error(
        client_error(getattr(kinesis_raw, operation), StreamName="ret-short", RetentionPeriodHours=hours),
        "InvalidArgumentException",
        f"Minimum allowed retention period is 24 hours. Requested retention period ({hours} hours) is too short.",
    )
    assert summary(kinesis_raw, "ret-short")["RetentionPeriodHours"] == 24


@pytest.mark.parametrize("operation", ["increase_stream_retention_period", "decrease_stream_retention_period"])
@pytest.mark.parametrize("hours", [8761, 100000])
def test_retention_above_8760_hours_is_too_long(kinesis, operation, hours):
    create_stream(kinesis, "ret-long", 1)
    message = assert_error(
        client_error(getattr(kinesis, operation), StreamName="ret-long", RetentionPeriodHours=hours),
        "InvalidArgumentException",
    )
    assert "8760 hours" in message and f"({hours} hours)" in message, message
    assert summary(kinesis, "ret-long")["RetentionPeriodHours"] == 24


def test_retention_up_and_down(kinesis):
    create_stream(kinesis, "ret", 1)
    kinesis.increase_stream_retention_period(StreamName="ret", RetentionPeriodHours=8760)
    assert wait_active(kinesis, "ret")["RetentionPeriodHours"] == 8760
    kinesis.decrease_stream_retention_period(StreamName="ret", RetentionPeriodHours=48)
    assert wait_active(kinesis, "ret")["RetentionPeriodHours"] == 48
    # By StreamARN too.
    kinesis.decrease_stream_retention_period(StreamARN=stream_arn("ret"), RetentionPeriodHours=24)
    assert wait_active(kinesis, "ret")["RetentionPeriodHours"] == 24
    assert kinesis.describe_stream(StreamName="ret")["StreamDescription"]["RetentionPeriodHours"] == 24


def test_increase_to_a_lower_or_decrease_to_a_higher_retention_is_refused(kinesis):
    create_stream(kinesis, "ret-dir", 1)
    kinesis.increase_stream_retention_period(StreamName="ret-dir", RetentionPeriodHours=48)
    wait_active(kinesis, "ret-dir")
    assert_error(
        client_error(kinesis.increase_stream_retention_period, StreamName="ret-dir", RetentionPeriodHours=24),
        "InvalidArgumentException",
        "Requested retention period (24 hours) for stream ret-dir can not be shorter than existing retention "
        "period (48 hours). Use DecreaseRetentionPeriod API.",
    )
    assert_error(
        client_error(kinesis.decrease_stream_retention_period, StreamName="ret-dir", RetentionPeriodHours=72),
        "InvalidArgumentException",
        "Requested retention period (72 hours) for stream ret-dir can not be longer than existing retention "
        "period (48 hours). Use IncreaseRetentionPeriod API.",
    )
    assert summary(kinesis, "ret-dir")["RetentionPeriodHours"] == 48


def test_retention_of_an_unknown_stream(kinesis):
    assert_error(
        client_error(kinesis.increase_stream_retention_period, StreamName="nope", RetentionPeriodHours=48),
        "ResourceNotFoundException",
        f"Stream nope under account {ACCOUNT} not found.",
    )


# --- tags on streams ---------------------------------------------------------------------------------


def test_more_than_50_tags_is_an_invalid_argument(kinesis):
    create_stream(kinesis, "tags-limit", 1)
    too_many = {f"key-{i:02d}": "v" for i in range(51)}
    assert_error(
        client_error(kinesis.add_tags_to_stream, StreamName="tags-limit", Tags=too_many),
        "InvalidArgumentException",
    )
    assert kinesis.list_tags_for_stream(StreamName="tags-limit")["Tags"] == []
    fifty = {f"key-{i:02d}": "v" for i in range(50)}
    kinesis.add_tags_to_stream(StreamName="tags-limit", Tags=fifty)
    # A 51st key is refused, overwriting one of the 50 is not.
    assert_error(
        client_error(kinesis.add_tags_to_stream, StreamName="tags-limit", Tags={"one-more": "v"}),
        "InvalidArgumentException",
    )
    assert_error(
        client_error(kinesis.tag_resource, ResourceARN=stream_arn("tags-limit"), Tags={"one-more": "v"}),
        "InvalidArgumentException",
    )
    kinesis.add_tags_to_stream(StreamName="tags-limit", Tags={"key-00": "new"})
    kinesis.remove_tags_from_stream(StreamName="tags-limit", TagKeys=["key-49"])
    kinesis.add_tags_to_stream(StreamName="tags-limit", Tags={"one-more": "v"})
    tags = kinesis.list_tags_for_resource(ResourceARN=stream_arn("tags-limit"))["Tags"]
    assert len(tags) == 50
    assert {"Key": "key-00", "Value": "new"} in tags and {"Key": "one-more", "Value": "v"} in tags


def test_tag_keys_and_values_are_validated(kinesis_raw):
    create_stream(kinesis_raw, "tag-shapes", 1)
    for tags in ({"k" * 129: "v"}, {"k": "v" * 257}, {"": "v"}):
        add = client_error(kinesis_raw.add_tags_to_stream, StreamName="tag-shapes", Tags=tags)
        assert_error(add, "ValidationException")
        tag = client_error(kinesis_raw.tag_resource, ResourceARN=stream_arn("tag-shapes"), Tags=tags)
        assert_error(tag, "ValidationException")
    for limit in (0, 51):
        listed = client_error(kinesis_raw.list_tags_for_stream, StreamName="tag-shapes", Limit=limit)
        assert_error(listed, "ValidationException")
    kinesis_raw.add_tags_to_stream(StreamName="tag-shapes", Tags={"k" * 128: "v" * 256, "empty": ""})
    assert len(kinesis_raw.list_tags_for_stream(StreamName="tag-shapes")["Tags"]) == 2


def test_create_stream_with_more_than_50_tags_is_an_invalid_argument(kinesis):
    assert_error(
        client_error(kinesis.create_stream, StreamName="t51", ShardCount=1, Tags={f"k{i}": "v" for i in range(51)}),
        "InvalidArgumentException",
    )


def test_list_tags_for_stream_pages(kinesis):
    create_stream(kinesis, "tags-pages", 1)
    tags = {f"tag-{i:02d}": f"value-{i}" for i in range(25)}
    kinesis.add_tags_to_stream(StreamName="tags-pages", Tags=tags)

    pages, kwargs = [], {"StreamName": "tags-pages", "Limit": 10}
    for _ in range(10):
        page = kinesis.list_tags_for_stream(**kwargs)
        pages.append(page)
        if not page["HasMoreTags"]:
            break
        kwargs["ExclusiveStartTagKey"] = page["Tags"][-1]["Key"]
    assert [len(p["Tags"]) for p in pages] == [10, 10, 5]
    assert [p["HasMoreTags"] for p in pages] == [True, True, False]
    seen = [t["Key"] for p in pages for t in p["Tags"]]
    assert len(seen) == len(set(seen)) == 25
    assert {t["Key"]: t["Value"] for p in pages for t in p["Tags"]} == tags

    # Exactly Limit tags left: no more.
    last = kinesis.list_tags_for_stream(StreamName="tags-pages", Limit=5, ExclusiveStartTagKey=seen[19])
    assert (len(last["Tags"]), last["HasMoreTags"]) == (5, False)
    end = kinesis.list_tags_for_stream(StreamName="tags-pages", ExclusiveStartTagKey=seen[-1])
    assert (end["Tags"], end["HasMoreTags"]) == ([], False)

    # Without a Limit, following HasMoreTags still gives every tag once.
    everything, kwargs = [], {"StreamName": "tags-pages"}
    for _ in range(30):
        page = kinesis.list_tags_for_stream(**kwargs)
        assert page["Tags"] or not page["HasMoreTags"], page
        everything.extend(t["Key"] for t in page["Tags"])
        if not page["HasMoreTags"]:
            break
        kwargs["ExclusiveStartTagKey"] = page["Tags"][-1]["Key"]
    assert sorted(everything) == sorted(tags)


def test_add_and_remove_tags_and_tag_resource_see_the_same_tags(kinesis):
    create_stream(kinesis, "tags", 1)
    arn = stream_arn("tags")
    kinesis.add_tags_to_stream(StreamName="tags", Tags={"a": "1", "b": ""})
    kinesis.tag_resource(ResourceARN=arn, Tags={"c": "3", "a": "updated"})
    assert sorted(kinesis.list_tags_for_stream(StreamName="tags")["Tags"], key=lambda t: t["Key"]) == [
        {"Key": "a", "Value": "updated"},
        {"Key": "b", "Value": ""},
        {"Key": "c", "Value": "3"},
    ]
    kinesis.untag_resource(ResourceARN=arn, TagKeys=["a", "not-there"])
    kinesis.remove_tags_from_stream(StreamName="tags", TagKeys=["b"])
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "c", "Value": "3"}]
    assert kinesis.list_tags_for_stream(StreamARN=arn)["Tags"] == [{"Key": "c", "Value": "3"}]


# --- tags on consumers ----------------------------------------------------------------------------------


def test_tag_resource_on_a_consumer_is_separate_from_the_stream(kinesis):
    create_stream(kinesis, "ctags", 1)
    arn = stream_arn("ctags")
    kinesis.add_tags_to_stream(StreamName="ctags", Tags={"stream-tag": "s"})
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c", Tags={"born": "with"})["Consumer"]
    carn = consumer["ConsumerARN"]
    assert kinesis.list_tags_for_resource(ResourceARN=carn)["Tags"] == [{"Key": "born", "Value": "with"}]

    kinesis.tag_resource(ResourceARN=carn, Tags={"team": "x", "env": "dev"})
    kinesis.untag_resource(ResourceARN=carn, TagKeys=["born"])
    assert sorted(kinesis.list_tags_for_resource(ResourceARN=carn)["Tags"], key=lambda t: t["Key"]) == [
        {"Key": "env", "Value": "dev"},
        {"Key": "team", "Value": "x"},
    ]
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "stream-tag", "Value": "s"}]
    assert kinesis.list_tags_for_stream(StreamName="ctags")["Tags"] == [{"Key": "stream-tag", "Value": "s"}]

    assert_error(
        client_error(kinesis.tag_resource, ResourceARN=carn, Tags={f"k{i}": "v" for i in range(49)}),
        "InvalidArgumentException",
    )
    assert len(kinesis.list_tags_for_resource(ResourceARN=carn)["Tags"]) == 2


def test_tagging_unknown_resources_is_resource_not_found(kinesis):
    create_stream(kinesis, "known", 1)
    unknown_consumer = stream_arn("known") + "/consumer/nobody:1700000000"
    for arn in (stream_arn("unknown"), unknown_consumer, stream_arn("unknown") + "/consumer/c:1700000000"):
        assert_error(client_error(kinesis.tag_resource, ResourceARN=arn, Tags={"a": "b"}), "ResourceNotFoundException")
        assert_error(client_error(kinesis.untag_resource, ResourceARN=arn, TagKeys=["a"]), "ResourceNotFoundException")
        assert_error(client_error(kinesis.list_tags_for_resource, ResourceARN=arn), "ResourceNotFoundException")


def test_a_deregistered_consumer_has_no_tags(kinesis):
    create_stream(kinesis, "ctags-gone", 1)
    carn = kinesis.register_stream_consumer(StreamARN=stream_arn("ctags-gone"), ConsumerName="c", Tags={"a": "b"})[
        "Consumer"
    ]["ConsumerARN"]
    kinesis.deregister_stream_consumer(ConsumerARN=carn)
    wait_until(
        lambda: _code(lambda: kinesis.describe_stream_consumer(ConsumerARN=carn)) == "ResourceNotFoundException",
        "consumer gone",
    )
    assert_error(client_error(kinesis.list_tags_for_resource, ResourceARN=carn), "ResourceNotFoundException")
    # A new consumer of the same name starts without the old one's tags.
    new = kinesis.register_stream_consumer(StreamARN=stream_arn("ctags-gone"), ConsumerName="c")["Consumer"]
    assert kinesis.list_tags_for_resource(ResourceARN=new["ConsumerARN"])["Tags"] == []


def test_register_consumer_with_more_than_50_tags_is_an_invalid_argument(kinesis):
    create_stream(kinesis, "c51", 1)
    assert_error(
        client_error(
            kinesis.register_stream_consumer,
            StreamARN=stream_arn("c51"),
            ConsumerName="c51",
            Tags={f"k{i}": "v" for i in range(51)},
        ),
        "InvalidArgumentException",
    )


def _code(call) -> str | None:
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


# --- consumers --------------------------------------------------------------------------------------


def test_unknown_consumer_is_resource_not_found(kinesis):
    create_stream(kinesis, "consumers", 1)
    arn = stream_arn("consumers")
    kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="real")
    cases = [
        {"ConsumerARN": arn + "/consumer/ghost:1700000000"},
        {"StreamARN": arn, "ConsumerName": "ghost"},
        {"StreamARN": stream_arn("no-stream"), "ConsumerName": "real"},
        {"ConsumerARN": stream_arn("no-stream") + "/consumer/real:1700000000"},
    ]
    for kwargs in cases:
        assert_error(client_error(kinesis.describe_stream_consumer, **kwargs), "ResourceNotFoundException")
        assert_error(client_error(kinesis.deregister_stream_consumer, **kwargs), "ResourceNotFoundException")
    # The real consumer, by a wrong creation time in its ARN.
    real = kinesis.describe_stream_consumer(StreamARN=arn, ConsumerName="real")["ConsumerDescription"]
    wrong_time = real["ConsumerARN"].rsplit(":", 1)[0] + ":1"
    assert_error(client_error(kinesis.describe_stream_consumer, ConsumerARN=wrong_time), "ResourceNotFoundException")
    assert [c["ConsumerName"] for c in kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]] == ["real"]


def test_deregistered_consumer_disappears(kinesis):
    create_stream(kinesis, "dereg", 1)
    arn = stream_arn("dereg")
    carn = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]["ConsumerARN"]
    assert summary(kinesis, "dereg")["ConsumerCount"] == 1
    kinesis.deregister_stream_consumer(StreamARN=arn, ConsumerName="c")
    wait_until(
        lambda: _code(lambda: kinesis.describe_stream_consumer(ConsumerARN=carn)) == "ResourceNotFoundException",
        "consumer gone",
    )
    assert kinesis.list_stream_consumers(StreamARN=arn)["Consumers"] == []
    assert summary(kinesis, "dereg")["ConsumerCount"] == 0
    assert_error(client_error(kinesis.deregister_stream_consumer, ConsumerARN=carn), "ResourceNotFoundException")


def test_register_stream_consumer_limit_is_20_per_stream(kinesis):
    """With `--create-delay-ms 0` (conftest) consumers are ACTIVE at once, so only the limit of 20 applies."""
    create_stream(kinesis, "many-consumers", 1)
    create_stream(kinesis, "other", 1)
    arn = stream_arn("many-consumers")
    for i in range(20):
        c = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName=f"c{i:02d}")["Consumer"]
        assert c["ConsumerStatus"] in ("CREATING", "ACTIVE"), c
    assert_error(
        client_error(kinesis.register_stream_consumer, StreamARN=arn, ConsumerName="c20"),
        "LimitExceededException",
    )
    names = []
    kwargs = {"StreamARN": arn, "MaxResults": 7}
    for _ in range(10):
        page = kinesis.list_stream_consumers(**kwargs)
        names.extend(c["ConsumerName"] for c in page["Consumers"])
        if not page.get("NextToken"):
            break
        kwargs = {"StreamARN": arn, "NextToken": page["NextToken"]}
    assert sorted(names) == [f"c{i:02d}" for i in range(20)]
    assert summary(kinesis, "many-consumers")["ConsumerCount"] == 20
    # The limit is per stream.
    kinesis.register_stream_consumer(StreamARN=stream_arn("other"), ConsumerName="c20")
    # Deregistering one makes room again.
    kinesis.deregister_stream_consumer(StreamARN=arn, ConsumerName="c00")
    wait_until(
        lambda: _code(lambda: kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c20")) is None,
        "a 20th consumer after one was deregistered",
    )
    assert_error(
        client_error(kinesis.register_stream_consumer, StreamARN=arn, ConsumerName="c21"),
        "LimitExceededException",
    )


def test_delete_stream_with_consumers_needs_enforce_consumer_deletion(kinesis):
    create_stream(kinesis, "with-consumers", 1)
    carn = kinesis.register_stream_consumer(StreamARN=stream_arn("with-consumers"), ConsumerName="c")["Consumer"][
        "ConsumerARN"
    ]
    assert_error(client_error(kinesis.delete_stream, StreamName="with-consumers"), "ResourceInUseException")
    kinesis.delete_stream(StreamName="with-consumers", EnforceConsumerDeletion=True)
    wait_until(
        lambda: _code(lambda: summary(kinesis, "with-consumers")) == "ResourceNotFoundException",
        "stream deleted",
    )
    assert_error(client_error(kinesis.describe_stream_consumer, ConsumerARN=carn), "ResourceNotFoundException")


def test_deregistering_a_consumer_leaves_same_named_consumers_of_other_streams_alone(kinesis):
    for name in ("one", "two"):
        create_stream(kinesis, name, 1)
    one = kinesis.register_stream_consumer(StreamARN=stream_arn("one"), ConsumerName="fan")["Consumer"]
    two = kinesis.register_stream_consumer(StreamARN=stream_arn("two"), ConsumerName="fan")["Consumer"]
    for c in (one, two):
        wait_until(
            lambda c=c: kinesis.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])["ConsumerDescription"][
                "ConsumerStatus"
            ]
            == "ACTIVE",
            "consumer active",
        )
    resp = kinesis.subscribe_to_shard(
        ConsumerARN=two["ConsumerARN"], ShardId=SHARD(0), StartingPosition={"Type": "LATEST"}
    )
    stream = resp["EventStream"]
    try:
        events = iter(stream)
        assert "SubscribeToShardEvent" in next(events)
        kinesis.deregister_stream_consumer(ConsumerARN=one["ConsumerARN"])
        put(kinesis, "two", b"still subscribed")
        # Heartbeats come every second; within a few events the record must arrive, with no error.
        got = []
        for _ in range(5):
            event = next(events)["SubscribeToShardEvent"]
            got.extend(r["Data"] for r in event["Records"])
            if got:
                break
        assert got == [b"still subscribed"]
    except EventStreamError as e:
        pytest.fail(f"the subscription of stream two's consumer ended: {e}")
    finally:
        stream.close()


# --- encryption -------------------------------------------------------------------------------------


def test_unknown_kms_key_is_kms_not_found(kinesis):
    create_stream(kinesis, "kms-unknown", 1)
    for key in ("alias/no-such-key", "arn:aws:kms:us-east-1:000000000000:key/12345678-1234-1234-1234-123456789012"):
        assert_error(
            client_error(kinesis.start_stream_encryption, StreamName="kms-unknown", EncryptionType="KMS", KeyId=key),
            "KMSNotFoundException",
        )
    s = summary(kinesis, "kms-unknown")
    assert s["EncryptionType"] == "NONE" and "KeyId" not in s


def test_start_and_stop_encryption(kinesis):
    create_stream(kinesis, "kms", 1)
    plain = put(kinesis, "kms", b"plain")
    assert plain["EncryptionType"] == "NONE"
    kinesis.start_stream_encryption(StreamName="kms", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    s = wait_active(kinesis, "kms")
    assert (s["EncryptionType"], s["KeyId"]) == ("KMS", "alias/aws/kinesis")
    d = kinesis.describe_stream(StreamName="kms")["StreamDescription"]
    assert (d["EncryptionType"], d["KeyId"]) == ("KMS", "alias/aws/kinesis")
    sealed = put(kinesis, "kms", b"secret")
    assert sealed["EncryptionType"] == "KMS"
    batch = kinesis.put_records(StreamName="kms", Records=[{"Data": b"batch", "PartitionKey": "pk"}])
    assert batch["EncryptionType"] == "KMS"

    kinesis.stop_stream_encryption(StreamName="kms", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    s = wait_active(kinesis, "kms")
    assert s["EncryptionType"] == "NONE" and "KeyId" not in s
    after = put(kinesis, "kms", b"plain again")
    assert after["EncryptionType"] == "NONE"
    records = read_shard(kinesis, "kms", SHARD(0))
    assert [(r["Data"], r.get("EncryptionType")) for r in records] == [
        (b"plain", "NONE"),
        (b"secret", "KMS"),
        (b"batch", "KMS"),
        (b"plain again", "NONE"),
    ]


def test_configured_kms_keys_and_key_arns_are_accepted(start_shardline):
    kinesis = make_client(start_shardline("--kms-key", "alias/team-key"))
    create_stream(kinesis, "kms-custom", 1)
    kinesis.start_stream_encryption(StreamName="kms-custom", EncryptionType="KMS", KeyId="alias/team-key")
    assert wait_active(kinesis, "kms-custom")["KeyId"] == "alias/team-key"
    arn_key = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/kinesis"
    kinesis.start_stream_encryption(StreamName="kms-custom", EncryptionType="KMS", KeyId=arn_key)
    assert wait_active(kinesis, "kms-custom")["KeyId"] == arn_key
    assert_error(
        client_error(
            kinesis.start_stream_encryption, StreamName="kms-custom", EncryptionType="KMS", KeyId="alias/other"
        ),
        "KMSNotFoundException",
    )


# --- stream mode ------------------------------------------------------------------------------------


def test_update_stream_mode_both_ways(kinesis):
    create_stream(kinesis, "mode", 2)
    arn = stream_arn("mode")
    kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    s = wait_active(kinesis, "mode")
    assert s["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert kinesis.describe_stream(StreamName="mode")["StreamDescription"]["StreamModeDetails"] == {
        "StreamMode": "ON_DEMAND"
    }
    listed = kinesis.list_streams()["StreamSummaries"]
    assert [x["StreamModeDetails"] for x in listed if x["StreamName"] == "mode"] == [{"StreamMode": "ON_DEMAND"}]
    assert kinesis.describe_limits()["OnDemandStreamCount"] == 1

    # Resharding by hand is for provisioned streams only.
    assert_error(
        client_error(kinesis.split_shard, StreamName="mode", ShardToSplit=SHARD(0), NewStartingHashKey=str(2**126)),
        "ValidationException",
    )
    assert_error(
        client_error(kinesis.merge_shards, StreamName="mode", ShardToMerge=SHARD(0), AdjacentShardToMerge=SHARD(1)),
        "ValidationException",
    )
    assert_error(
        client_error(kinesis.update_shard_count, StreamName="mode", TargetShardCount=3, ScalingType="UNIFORM_SCALING"),
        "ValidationException",
    )
    assert len(open_shards(kinesis, "mode")) == 2
    # Writes go on in either mode.
    put(kinesis, "mode", b"on demand")

    kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"})
    assert wait_active(kinesis, "mode")["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert kinesis.describe_limits()["OnDemandStreamCount"] == 0
    kinesis.split_shard(StreamName="mode", ShardToSplit=SHARD(0), NewStartingHashKey=str(2**126))
    wait_active(kinesis, "mode")
    assert len(open_shards(kinesis, "mode")) == 3


def test_update_stream_mode_errors(kinesis):
    create_stream(kinesis, "mode-errors", 1)
    arn = stream_arn("mode-errors")
    allowed = {"InvalidArgumentException", "ResourceInUseException", "ValidationException"}
    same = client_error(kinesis.update_stream_mode, StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"})
    assert same["Error"]["Code"] in allowed, same
    assert_error(
        client_error(
            kinesis.update_stream_mode, StreamARN=stream_arn("nope"), StreamModeDetails={"StreamMode": "ON_DEMAND"}
        ),
        "ResourceNotFoundException",
    )


def test_on_demand_stream_created_directly(kinesis):
    kinesis.create_stream(StreamName="od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    s = wait_active(kinesis, "od")
    assert s["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert s["OpenShardCount"] >= 1
    assert_full_cover(open_shards(kinesis, "od"))
    assert_error(
        client_error(kinesis.split_shard, StreamName="od", ShardToSplit=SHARD(0), NewStartingHashKey=str(2**125)),
        "ValidationException",
    )


def test_on_demand_stream_count_limit_is_enforced(kinesis):
    limit = kinesis.describe_limits()["OnDemandStreamCountLimit"]
    assert limit == 50
    for i in range(limit):
        kinesis.create_stream(StreamName=f"od-{i:02d}", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    assert_error(
        client_error(kinesis.create_stream, StreamName=f"od-{limit}", StreamModeDetails={"StreamMode": "ON_DEMAND"}),
        "LimitExceededException",
    )


# --- enhanced monitoring ----------------------------------------------------------------------------


def test_enable_and_disable_enhanced_monitoring(kinesis):
    create_stream(kinesis, "mon", 1)
    out = kinesis.enable_enhanced_monitoring(StreamName="mon", ShardLevelMetrics=["OutgoingBytes", "IncomingBytes"])
    assert strip_meta(out) == {
        "StreamName": "mon",
        "StreamARN": stream_arn("mon"),
        "CurrentShardLevelMetrics": [],
        "DesiredShardLevelMetrics": ["IncomingBytes", "OutgoingBytes"],
    }
    wait_active(kinesis, "mon")
    # Enabling again is idempotent; ALL expands to every metric.
    out = kinesis.enable_enhanced_monitoring(StreamName="mon", ShardLevelMetrics=["IncomingBytes"])
    assert out["CurrentShardLevelMetrics"] == out["DesiredShardLevelMetrics"] == ["IncomingBytes", "OutgoingBytes"]
    wait_active(kinesis, "mon")
    out = kinesis.enable_enhanced_monitoring(StreamARN=stream_arn("mon"), ShardLevelMetrics=["ALL"])
    assert out["CurrentShardLevelMetrics"] == ["IncomingBytes", "OutgoingBytes"]
    assert sorted(out["DesiredShardLevelMetrics"]) == sorted(ALL_METRICS)
    wait_active(kinesis, "mon")
    assert sorted(summary(kinesis, "mon")["EnhancedMonitoring"][0]["ShardLevelMetrics"]) == sorted(ALL_METRICS)
    described = kinesis.describe_stream(StreamName="mon")["StreamDescription"]["EnhancedMonitoring"]
    assert sorted(described[0]["ShardLevelMetrics"]) == sorted(ALL_METRICS)

    out = kinesis.disable_enhanced_monitoring(
        StreamName="mon", ShardLevelMetrics=["IncomingBytes", "IteratorAgeMilliseconds"]
    )
    assert sorted(out["CurrentShardLevelMetrics"]) == sorted(ALL_METRICS)
    assert sorted(out["DesiredShardLevelMetrics"]) == sorted(
        set(ALL_METRICS) - {"IncomingBytes", "IteratorAgeMilliseconds"}
    )
    wait_active(kinesis, "mon")
    out = kinesis.disable_enhanced_monitoring(StreamName="mon", ShardLevelMetrics=["ALL"])
    assert out["DesiredShardLevelMetrics"] == []
    wait_active(kinesis, "mon")
    assert summary(kinesis, "mon")["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]


def test_enhanced_monitoring_errors(kinesis_raw):
    create_stream(kinesis_raw, "mon-bad", 1)
    assert_error(
        client_error(kinesis_raw.enable_enhanced_monitoring, StreamName="mon-bad", ShardLevelMetrics=["NotAMetric"]),
        "ValidationException",
    )
    assert_error(
        client_error(kinesis_raw.enable_enhanced_monitoring, StreamName="nope", ShardLevelMetrics=["ALL"]),
        "ResourceNotFoundException",
    )
    assert summary(kinesis_raw, "mon-bad")["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]


# --- DescribeLimits ---------------------------------------------------------------------------------


def test_describe_limits_counts_open_shards(start_shardline):
    kinesis = make_client(start_shardline("--shard-limit", "12"))
    assert strip_meta(kinesis.describe_limits()) == {
        "ShardLimit": 12,
        "OpenShardCount": 0,
        "OnDemandStreamCount": 0,
        "OnDemandStreamCountLimit": 50,
    }
    create_stream(kinesis, "a", 3)
    create_stream(kinesis, "b", 2)
    assert kinesis.describe_limits()["OpenShardCount"] == 5
    kinesis.split_shard(StreamName="a", ShardToSplit=SHARD(0), NewStartingHashKey=str(2**120))
    wait_active(kinesis, "a")
    assert kinesis.describe_limits()["OpenShardCount"] == 6
    kinesis.merge_shards(StreamName="b", ShardToMerge=SHARD(0), AdjacentShardToMerge=SHARD(1))
    wait_active(kinesis, "b")
    assert kinesis.describe_limits()["OpenShardCount"] == 5
    kinesis.create_stream(StreamName="c", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    c_shards = wait_active(kinesis, "c")["OpenShardCount"]
    limits = kinesis.describe_limits()
    assert (limits["OpenShardCount"], limits["OnDemandStreamCount"]) == (5 + c_shards, 1)
    total = sum(summary(kinesis, n)["OpenShardCount"] for n in ("a", "b", "c"))
    assert limits["OpenShardCount"] == total

    # Going past the shard limit is refused.
    room = 12 - total
    assert_error(
        client_error(kinesis.create_stream, StreamName="too-big", ShardCount=room + 1),
        "LimitExceededException",
    )
    kinesis.delete_stream(StreamName="b")
    wait_until(lambda: kinesis.describe_limits()["OpenShardCount"] == total - 1, "deleted stream's shards released")


# --- account settings and warm throughput -------------------------------------------------------------


def test_account_settings_and_warm_throughput(kinesis):
    assert kinesis.describe_account_settings()["MinimumThroughputBillingCommitment"] == {"Status": "DISABLED"}
    kinesis.create_stream(StreamName="warm", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    create_stream(kinesis, "provisioned", 1)
    wait_active(kinesis, "warm")
    no_commitment = client_error(kinesis.update_stream_warm_throughput, StreamName="warm", WarmThroughputMiBps=10)
    assert no_commitment["Error"]["Code"] in {"ValidationException", "InvalidArgumentException"}, no_commitment

    out = kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    commitment = out["MinimumThroughputBillingCommitment"]
    assert commitment["Status"] == "ENABLED"
    assert (commitment["EarliestAllowedEndAt"] - commitment["StartedAt"]).days == 365
    assert kinesis.describe_account_settings()["MinimumThroughputBillingCommitment"] == commitment

    out = kinesis.update_stream_warm_throughput(StreamName="warm", WarmThroughputMiBps=25)
    assert out["StreamName"] == "warm" and out["StreamARN"] == stream_arn("warm")
    assert out["WarmThroughput"]["TargetMiBps"] == 25
    wait_active(kinesis, "warm")
    provisioned = client_error(kinesis.update_stream_warm_throughput, StreamName="provisioned", WarmThroughputMiBps=10)
    assert provisioned["Error"]["Code"] in {"ValidationException", "InvalidArgumentException"}, provisioned

    # Disabling runs until the earliest allowed end.
    out = kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "DISABLED"})
    ending = out["MinimumThroughputBillingCommitment"]
    assert ending["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
    assert ending["EndedAt"] == commitment["EarliestAllowedEndAt"]


def test_describe_stream_summary_reports_warm_throughput(kinesis):
    kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    kinesis.create_stream(StreamName="warm", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    wait_active(kinesis, "warm")
    kinesis.update_stream_warm_throughput(StreamName="warm", WarmThroughputMiBps=25)
    assert wait_active(kinesis, "warm")["WarmThroughput"]["TargetMiBps"] == 25


# --- UpdateMaxRecordSize ----------------------------------------------------------------------------


def test_update_max_record_size(kinesis):
    """Record sizes only: per-shard throughput limits are off (see the next test for a large record under them)."""
    create_stream(kinesis, "big", 1)
    arn = stream_arn("big")
    assert summary(kinesis, "big")["MaxRecordSizeInKiB"] == 1024
    record = b"r" * (3 * MiB // 2)  # 1.5 MiB
    too_big = client_error(kinesis.put_record, StreamName="big", Data=record, PartitionKey="pk")
    assert too_big["Error"]["Code"] in {"ValidationException", "InvalidArgumentException"}, too_big

    kinesis.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=2048)
    assert wait_active(kinesis, "big")["MaxRecordSizeInKiB"] == 2048
    ok = kinesis.put_record(StreamName="big", Data=record, PartitionKey="pk")
    batch = kinesis.put_records(StreamName="big", Records=[{"Data": record, "PartitionKey": "pk2"}])
    assert batch["FailedRecordCount"] == 0
    # Data plus partition key up to exactly 2 MiB.
    exact = kinesis.put_record(StreamName="big", Data=b"e" * (2 * MiB - 2), PartitionKey="pk")

    # Over 2 MiB: data alone, or data plus partition key.
    assert_error(
        client_error(kinesis.put_record, StreamName="big", Data=b"x" * (2 * MiB + 1), PartitionKey="pk"),
        "ValidationException",
    )
    assert_error(
        client_error(kinesis.put_record, StreamName="big", Data=b"x" * (2 * MiB), PartitionKey="pk"),
        "InvalidArgumentException",
        f"Record size {2 * MiB + 2} exceeds the maximum record size of {2 * MiB} bytes, including the partition key.",
    )
    over = client_error(
        kinesis.put_records, StreamName="big", Records=[{"Data": b"x" * (2 * MiB + 1), "PartitionKey": "pk"}]
    )
    assert over["Error"]["Code"] in {"ValidationException", "InvalidArgumentException"}, over

    records = read_shard(kinesis, "big", SHARD(0))
    assert [r["SequenceNumber"] for r in records] == [
        ok["SequenceNumber"],
        batch["Records"][0]["SequenceNumber"],
        exact["SequenceNumber"],
    ]
    assert records[0]["Data"] == record and len(records[2]["Data"]) == 2 * MiB - 2


def test_a_large_record_is_accepted_under_default_throughput_limits(start_shardline):
    kinesis = make_client(start_shardline("--limits", "aws"))
    create_stream(kinesis, "big-default", 1)
    kinesis.update_max_record_size(StreamARN=stream_arn("big-default"), MaxRecordSizeInKiB=2048)
    wait_active(kinesis, "big-default")
    record = b"r" * (3 * MiB // 2)
    out = kinesis.put_record(StreamName="big-default", Data=record, PartitionKey="pk")
    assert out["ShardId"] == SHARD(0)


def test_update_max_record_size_out_of_range(kinesis_raw):
    create_stream(kinesis_raw, "size-bad", 1)
    for kib in (1023, 10241, 0):
        assert_error(
            client_error(kinesis_raw.update_max_record_size, StreamARN=stream_arn("size-bad"), MaxRecordSizeInKiB=kib),
            "ValidationException",
        )
    assert_error(
        client_error(kinesis_raw.update_max_record_size, StreamARN=stream_arn("nope"), MaxRecordSizeInKiB=2048),
        "ResourceNotFoundException",
    )
    assert summary(kinesis_raw, "size-bad")["MaxRecordSizeInKiB"] == 1024
    kinesis_raw.update_max_record_size(StreamARN=stream_arn("size-bad"), MaxRecordSizeInKiB=10240)
    assert wait_active(kinesis_raw, "size-bad")["MaxRecordSizeInKiB"] == 10240


# --- resource policies ------------------------------------------------------------------------------


def test_resource_policy_put_get_delete(kinesis):
    create_stream(kinesis, "policy", 1)
    arn = stream_arn("policy")
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "111122223333"},
                    "Action": "kinesis:GetRecords",
                    "Resource": arn,
                }
            ],
        }
    )
    kinesis.put_resource_policy(ResourceARN=arn, Policy=policy)
    assert json.loads(kinesis.get_resource_policy(ResourceARN=arn)["Policy"]) == json.loads(policy)
    kinesis.delete_resource_policy(ResourceARN=arn)
    assert_error(client_error(kinesis.delete_resource_policy, ResourceARN=arn), "ResourceNotFoundException")
    bad = client_error(kinesis.put_resource_policy, ResourceARN=arn, Policy="not json")
    assert bad["Error"]["Code"] in {"InvalidArgumentException", "ValidationException"}, bad
    assert_error(
        client_error(kinesis.put_resource_policy, ResourceARN=stream_arn("nope"), Policy=policy),
        "ResourceNotFoundException",
    )


# --- persistence across restarts ----------------------------------------------------------------------


def _snapshot(kinesis) -> dict:
    """Everything the settings tests change, as the API shows it."""
    out: dict = {}
    for name in ("persist", "persist-od"):
        out[f"{name}/summary"] = strip_meta(kinesis.describe_stream_summary(StreamName=name))
        out[f"{name}/shards"] = all_shards(kinesis, name)
        out[f"{name}/tags"] = strip_meta(kinesis.list_tags_for_stream(StreamName=name))
    out["policy"] = strip_meta(kinesis.get_resource_policy(ResourceARN=stream_arn("persist")))
    consumers = kinesis.list_stream_consumers(StreamARN=stream_arn("persist"))["Consumers"]
    out["consumers"] = consumers
    out["consumer-tags"] = [
        kinesis.list_tags_for_resource(ResourceARN=c["ConsumerARN"])["Tags"] for c in consumers
    ]
    out["account"] = strip_meta(kinesis.describe_account_settings())
    out["limits"] = strip_meta(kinesis.describe_limits())
    out["records"] = {
        s["ShardId"]: [
            (r["SequenceNumber"], r["Data"], r.get("EncryptionType"))
            for r in read_shard(kinesis, "persist", s["ShardId"])
        ]
        for s in all_shards(kinesis, "persist")
    }
    return out


@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
def test_settings_survive_a_restart(restartable_shardline, how):
    kinesis = make_client(restartable_shardline.start())
    create_stream(kinesis, "persist", 2)
    arn = stream_arn("persist")
    put(kinesis, "persist", b"before everything", ExplicitHashKey="1")
    kinesis.add_tags_to_stream(StreamName="persist", Tags={"team": "data", "env": "prod"})
    kinesis.tag_resource(ResourceARN=arn, Tags={"via": "tag-resource"})
    kinesis.remove_tags_from_stream(StreamName="persist", TagKeys=["env"])
    kinesis.increase_stream_retention_period(StreamName="persist", RetentionPeriodHours=72)
    wait_active(kinesis, "persist")
    kinesis.enable_enhanced_monitoring(StreamName="persist", ShardLevelMetrics=["IncomingBytes", "OutgoingRecords"])
    wait_active(kinesis, "persist")
    kinesis.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=2048)
    wait_active(kinesis, "persist")
    kinesis.put_resource_policy(
        ResourceARN=arn,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kinesis:*", "Resource": arn}
                ],
            }
        ),
    )
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="fan", Tags={"born": "yes"})["Consumer"]
    kinesis.tag_resource(ResourceARN=consumer["ConsumerARN"], Tags={"later": "too"})
    kinesis.split_shard(StreamName="persist", ShardToSplit=SHARD(0), NewStartingHashKey=str(2**126))
    wait_active(kinesis, "persist")
    kinesis.start_stream_encryption(StreamName="persist", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    wait_active(kinesis, "persist")
    put(kinesis, "persist", b"sealed after the split", ExplicitHashKey="1")
    put(kinesis, "persist", b"a big one " * (150 * 1024), ExplicitHashKey=str(2**127))  # 1.5 MiB

    create_stream(kinesis, "persist-od", 2)
    kinesis.update_stream_mode(StreamARN=stream_arn("persist-od"), StreamModeDetails={"StreamMode": "ON_DEMAND"})
    wait_active(kinesis, "persist-od")
    kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    kinesis.update_stream_warm_throughput(StreamName="persist-od", WarmThroughputMiBps=30)
    wait_active(kinesis, "persist-od")

    before = _snapshot(kinesis)
    s = before["persist/summary"]["StreamDescriptionSummary"]
    assert (s["RetentionPeriodHours"], s["MaxRecordSizeInKiB"], s["EncryptionType"], s["ConsumerCount"]) == (
        72,
        2048,
        "KMS",
        1,
    )
    od = before["persist-od/summary"]["StreamDescriptionSummary"]
    assert od["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    # Warm throughput is not checked here: no API reads it back (test_describe_stream_summary_reports_warm_throughput).

    if how == "kill -9":
        restartable_shardline.kill()
    else:
        restartable_shardline.stop()
    kinesis = make_client(restartable_shardline.start())
    after = _snapshot(kinesis)
    for key in before:
        assert after[key] == before[key], f"{key} changed across the restart ({how})"

    # And the restarted server goes on from there.
    kinesis.stop_stream_encryption(StreamName="persist", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    wait_active(kinesis, "persist")
    assert put(kinesis, "persist", b"after restart", ExplicitHashKey="1")["EncryptionType"] == "NONE"
    kinesis.decrease_stream_retention_period(StreamName="persist", RetentionPeriodHours=48)
    assert_error(
        client_error(kinesis.register_stream_consumer, StreamARN=arn, ConsumerName="fan"),
        "ResourceInUseException",
    )
    kinesis.update_stream_mode(StreamARN=stream_arn("persist-od"), StreamModeDetails={"StreamMode": "PROVISIONED"})
    assert wait_active(kinesis, "persist-od")["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
