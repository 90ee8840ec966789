"""The classic first Kinesis lab, through the AWS CLI (v1) only: create a stream, put records one by one,
read one shard back from TRIM_HORIZON, and look at the stream with the list/describe commands."""

from __future__ import annotations

import base64
import hashlib

STREAM = "lab"
RECORDS = 99
MAX_HASH_KEY = 2**128 - 1
# AWS's hash ranges for a two-shard stream.
EXPECTED_RANGES = [
    ("shardId-000000000000", "0", "170141183460469231731687303715884105727"),
    (
        "shardId-000000000001",
        "170141183460469231731687303715884105728",
        "340282366920938463463374607431768211455",
    ),
]


def shard_of(partition_key: str) -> str:
    """The shard AWS routes a partition key to in a two-shard stream (MD5 of the key as a 128-bit number)."""
    hash_key = int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")
    return "shardId-000000000001" if hash_key >= 2**127 else "shardId-000000000000"


def read_shard(aws, shard_id: str, expected: int) -> tuple[list[dict], dict]:
    """Follows NextShardIterator from TRIM_HORIZON with --limit 10 until `expected` records are read.

    Returns the records and the last get-records output. Bounded in calls.
    """
    iterator = aws(
        "kinesis", "get-shard-iterator",
        "--stream-name", STREAM,
        "--shard-id", shard_id,
        "--shard-iterator-type", "TRIM_HORIZON",
    )["ShardIterator"]
    records: list[dict] = []
    last: dict = {}
    max_calls = expected // 10 + 10
    for _ in range(max_calls):
        last = aws("kinesis", "get-records", "--shard-iterator", iterator, "--limit", "10")
        assert len(last["Records"]) <= 10
        records.extend(last["Records"])
        iterator = last.get("NextShardIterator")
        assert iterator, f"open shard {shard_id} returned no NextShardIterator"
        if len(records) >= expected:
            break
    else:
        raise AssertionError(f"read {len(records)} of {expected} records from {shard_id} in {max_calls} calls")
    return records, last


def test_first_lab_through_the_cli(aws):
    assert aws("kinesis", "create-stream", "--stream-name", STREAM, "--shard-count", "2") is None
    # The waiter polls describe-stream (every 10 s); with --create-delay-ms 0 its first call sees ACTIVE.
    assert aws("kinesis", "wait", "stream-exists", "--stream-name", STREAM, timeout=30) is None

    puts = []
    for i in range(RECORDS):
        key = f"user-{i * 7919 % 1000}-{i}"
        data = f"lab record {i:02d}: temperature={20 + i % 7} ✓"
        out = aws("kinesis", "put-record", "--stream-name", STREAM, "--partition-key", key, "--data", data)
        assert out["ShardId"] in ("shardId-000000000000", "shardId-000000000001")
        assert out["ShardId"] == shard_of(key), f"{key!r} routed to {out['ShardId']}"
        assert out["SequenceNumber"].isdigit()
        puts.append({"key": key, "data": data, **out})

    on_shard_1 = [p for p in puts if p["ShardId"] == "shardId-000000000001"]
    # 99 keys split by MD5: both shards must have been used or the lab proves little.
    assert 0 < len(on_shard_1) < RECORDS

    records, last = read_shard(aws, "shardId-000000000001", len(on_shard_1))
    assert len(records) == len(on_shard_1), "more records on shard 1 than put-record reported"
    for got, put in zip(records, on_shard_1):
        # AWS CLI v1 sends --data text as its UTF-8 bytes (base64 on the wire) and prints Data as base64.
        assert base64.b64decode(got["Data"]).decode("utf-8") == put["data"]
        assert got["PartitionKey"] == put["key"]
        assert got["SequenceNumber"] == put["SequenceNumber"]
        assert isinstance(got["ApproximateArrivalTimestamp"], (int, float))
    seqs = [int(r["SequenceNumber"]) for r in records]
    assert all(a < b for a, b in zip(seqs, seqs[1:])), "sequence numbers not strictly increasing"

    # Caught up: one more call from the last NextShardIterator returns nothing new.
    tail = aws("kinesis", "get-records", "--shard-iterator", last["NextShardIterator"], "--limit", "10")
    assert tail["Records"] == []
    assert tail["MillisBehindLatest"] == 0
    assert tail["NextShardIterator"]

    listed = aws("kinesis", "list-streams")
    assert listed["StreamNames"] == [STREAM]
    assert listed.get("HasMoreStreams", False) is False
    summaries = listed.get("StreamSummaries", [])
    assert [s["StreamName"] for s in summaries] == [STREAM]
    assert summaries[0]["StreamStatus"] == "ACTIVE"

    summary = aws("kinesis", "describe-stream-summary", "--stream-name", STREAM)["StreamDescriptionSummary"]
    assert summary["StreamName"] == STREAM
    assert summary["StreamARN"] == f"arn:aws:kinesis:us-east-1:000000000000:stream/{STREAM}"
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["OpenShardCount"] == 2
    assert summary["RetentionPeriodHours"] == 24
    assert summary["EncryptionType"] == "NONE"
    assert summary["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}

    shards = aws("kinesis", "list-shards", "--stream-name", STREAM)["Shards"]
    assert [(s["ShardId"], s["HashKeyRange"]["StartingHashKey"], s["HashKeyRange"]["EndingHashKey"])
            for s in shards] == EXPECTED_RANGES
    # The ranges tile 0..2^128-1 with no gap and no overlap.
    ranges = [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"])) for s in shards]
    assert ranges[0][0] == 0 and ranges[-1][1] == MAX_HASH_KEY
    assert all(prev_end + 1 == start for (_, prev_end), (start, _) in zip(ranges, ranges[1:]))
    for s in shards:
        seq_range = s["SequenceNumberRange"]
        assert seq_range["StartingSequenceNumber"].isdigit()
        assert "EndingSequenceNumber" not in seq_range  # open shards
        assert "ParentShardId" not in s

    # Every record put to shard 1 carries a sequence number at or after the shard's starting one.
    shard1_start = int(shards[1]["SequenceNumberRange"]["StartingSequenceNumber"])
    assert all(seq >= shard1_start for seq in seqs)
